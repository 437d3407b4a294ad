/* published: the roofline held against published GPU serving measurements
 * (data/gpu_measurements.csv): each row's deployment (chip, chips, model, precision, input and
 * output lengths, concurrency) is priced as a roofline fleet and its output tokens/s per chip
 * predicted; the efficiencies (eff_compute, eff_memory, step_overhead_ms, collective_us) are
 * fitted per chip family by nonlinear least squares (GSL) on half the rows, and the other half
 * says how well the fit predicts. Pure computation on the catalogs: no I/O besides reading
 * them, nothing printed or stored. */
#ifndef TS_SIM_PRICE_PUBLISHED_H
#define TS_SIM_PRICE_PUBLISHED_H

#include "models/tserr.h"
#include "sim/scenario/catalog.h"
#include "sim/scenario/scenario.h"

#define PUB_MAX_ROWS 256
#define PUB_MAX_FAMILIES 8

/* The roofline parameters a fit chooses (the rest are the scenario defaults). */
typedef struct {
    double eff_compute, eff_memory, step_overhead_ms, collective_us;
} PubParams;

/* The defaults a roofline fleet gets without a fit (resolve.c's). */
extern const PubParams PUB_DEFAULTS;

typedef struct {
    char name[96], chip[48], model[48], precision[16], family[24];
    int chips, concurrency;       /* concurrency 0: not published (a full queue) */
    double input_tokens, output_tokens;
    double measured;              /* output tokens/s per chip */
    double predicted;             /* as a scenario prices it (the chip's fit in
                                     data/roofline_fit.csv, else the defaults); NaN when the row
                                     cannot be priced */
    double fitted;                /* at its family's fit; NaN without one */
    int held_out;                 /* 1: the row checks the fit, 0: the fit was made on it */
    int batch;                    /* the batch the roofline ran at the defaults */
    char why[160];                /* why a row cannot be priced, "" when it can */
} PubRow;

typedef struct {
    char family[24];
    PubParams params;
    int n_train, n_test;
    double train_median_err, test_median_err; /* median |predicted / measured - 1| */
    int converged;                /* GSL's fit reported convergence */
} PubFit;

typedef struct {
    PubRow rows[PUB_MAX_ROWS];
    int n_rows;
    PubFit fits[PUB_MAX_FAMILIES];
    int n_fits;
    double default_median_err;    /* over every priced row, as scenarios price them */
    double test_median_err;       /* over every held-out row, at its family's fit */
} PubResult;

/* The chip family a catalog chip belongs to for the fit ("nvidia", "amd", ...), from its name. */
const char *pub_family(const char *chip);

/* Reads data_dir/gpu_measurements.csv and predicts every row at the defaults into out; then,
 * when fit is set, fits each family on its even rows (in file order) and predicts the odd ones.
 * TS_EINPUT "PATH:LINE: ..." for a bad file or a row naming an unknown chip or model; rows
 * whose deployment does not fit or lacks a length are kept with why set. */
int pub_run(const ScnCatalogs *cats, const char *data_dir, int fit, PubResult *out, TsErr *err);

/* One row's prediction (output tokens/s per chip) with parameters p, or NaN when it cannot be
 * priced (why says why, when given). */
double pub_predict(const ScnCatalogs *cats, const PubRow *row, const PubParams *p, int *batch,
                   char *why, int why_size);

#endif
