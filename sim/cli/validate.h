/* validate: the closed loop of DESIGN.md. For every measured configuration of an engine preset
 * it predicts this machine's tokens/s with the roofline (sim/price/roofline.c) from the measure run's
 * own probed ceilings (FMA peak, triad bandwidth) and compares with what was measured. It reads
 * rows handed to it and writes text; storing is the caller's. */
#ifndef TS_SIM_VALIDATE_H
#define TS_SIM_VALIDATE_H

#include <stdio.h>

#include "sim/store/store.h"

typedef struct {
    double eff_compute;  /* decode FLOPs share of the peak (default 0.5, as in scenarios) */
    double eff_memory;   /* decode bytes share of the bandwidth (default 0.7) */
    double eff_prefill;  /* prefill share of the peak (default 0.5) */
} ValOptions;

typedef struct {
    char model[48];
    char phase[8];
    int batch, threads;
    double predicted_tok_s, measured_tok_s;
    double error;        /* predicted / measured - 1 */
} ValRow;

/* Predicts every row of rows (n) whose model is an engine preset, at peak_gflops and
 * bandwidth_gb_s (the run's probes). Writes up to n results into out and returns their count;
 * rows of other models are skipped. */
int val_predict(const StoreMeasurementRow *rows, int n, double peak_gflops, double bandwidth_gb_s,
                const ValOptions *o, ValRow *out);

/* The roofline's tokens/s for one measured row at these ceilings (0 when the model is no
 * preset): weight and KV bytes of the row's precisions, and for decode with MTP its depth and
 * acceptance (the forced rate, else the measured one). val_predict keeps only fp32 rows
 * without MTP. */
double val_predict_tok_s(const StoreMeasurementRow *r, double peak_gflops,
                         double bandwidth_gb_s, const ValOptions *o);

/* Median and worst absolute error of rows (0 when n is 0). */
void val_summary(const ValRow *rows, int n, double *median_abs, double *worst_abs);

/* Markdown table of the comparison with its summary. */
void val_write_md(FILE *f, const ValRow *rows, int n, const ValOptions *o);

/* val_write_md for predictions that came from basis (a line naming stored calibrations);
 * basis NULL: the efficiencies of o. */
void val_write_md_basis(FILE *f, const ValRow *rows, int n, const ValOptions *o,
                        const char *basis);

/* The store's view of rows (strings borrowed from rows). */
void val_store_rows(const ValRow *rows, int n, StoreValidationRow *out);

#endif
