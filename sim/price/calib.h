/* calib: the step-time model fitted to one machine's measurements. A point is one measured
 * configuration (a preset, phase, batch and precision) reduced to what one engine step of it
 * does: FLOPs, bytes, attention (query, key) pairs, and the measured seconds. The model is the
 * roofline's step: FLOPs at eff_compute (decode) or eff_prefill (prefill) against bytes at
 * eff_memory, combined by a smooth maximum whose sharpness is fitted too (a CPU overlaps
 * compute and memory only partly), + step_overhead_ms, plus a time per attention pair when
 * the data ask for it.
 * Efficiencies are shares of the fp32 FMA peak and the triad bandwidth the points were
 * measured with, so a reduced precision or a cache-resident working set may exceed 1. Fits
 * are robust least squares on log(predicted / measured) (GSL; Cauchy-reweighted), on the points
 * not held out. Pure
 * computation: no I/O, nothing printed or stored. */
#ifndef TS_SIM_PRICE_CALIB_H
#define TS_SIM_PRICE_CALIB_H

#include "models/tserr.h"

/* Training points a fit needs beyond the parameters it fits. */
#define CAL_MIN_SPARE 2

typedef struct {
    double eff_compute;      /* decode FLOPs share of the peak, > 0 */
    double eff_prefill;      /* prefill FLOPs share of the peak, > 0 */
    double eff_memory;       /* bytes share of the bandwidth, > 0 */
    double step_overhead_ms; /* fixed cost per step, >= 0 */
    double attn_ns_per_pair; /* seconds x 1e9 per (query position, key) pair per layer and KV
                                head; 0: no attention term */
    double overlap;          /* k >= 1 of the smooth maximum (c^k + m^k)^(1/k) of compute and
                                memory time: 1 adds them (no overlap), large k is the roofline's
                                max(); 0 means the max() */
} CalParams;

typedef struct {
    char model[48];
    char phase[8];           /* "prefill" or "decode" */
    int batch;
    int prefill;             /* 1: a prefill point */
    double flops;            /* per step */
    double bytes;            /* per step: weights and KV read and written */
    double pairs;            /* per step: attention (query, key) pairs, all layers */
    double measured_s;       /* per step */
    int held_out;            /* 1: checks the fit; 0: the fit is made on it */
    double predicted_s;      /* filled by cal_fit */
} CalPoint;

typedef struct {
    CalParams params;
    double peak_gflops, bandwidth_gb_s; /* the ceilings the efficiencies are shares of */
    int n_train, n_test;
    int with_attention;      /* the attention term was kept */
    int converged;
    double train_median_err, test_median_err; /* median |measured / predicted - 1| (tok/s) */
    double train_rms_log;    /* root mean square of log(predicted / measured), training */
} CalFit;

/* Seconds of one step of p at ceilings (GFLOP/s, GB/s) and parameters. */
double cal_step_s(const CalParams *c, double peak_gflops, double bandwidth_gb_s,
                  const CalPoint *p);

/* The same from a step's parts: decode and prefill FLOPs, bytes and attention pairs. */
double cal_parts_s(const CalParams *c, double peak_gflops, double bandwidth_gb_s,
                   double decode_flops, double prefill_flops, double bytes, double pairs);

/* Marks every other point of each (model, phase) series held out, in the order given (callers
 * sort by batch): the first of a series trains. */
void cal_hold_out_alternate(CalPoint *pts, int n);

/* Fits the parameters to the points not held out and fills every point's predicted_s and
 * out. The attention term is tried and kept only when it lowers the training RMS log error by
 * over 10% (and 0.01). TS_EINPUT when fewer than 5 + CAL_MIN_SPARE points train or the ceilings are not
 * positive; TS_ENOMEM. */
int cal_fit(CalPoint *pts, int n, double peak_gflops, double bandwidth_gb_s, CalFit *out,
            TsErr *err);

/* Median |measured / predicted - 1| (the error on tokens/s) of the points with held_out ==
 * which (which < 0: all of them); 0 when none. */
double cal_median_err(const CalPoint *pts, int n, int which);

#endif
