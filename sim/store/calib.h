/* store calib: the calibration profiles of `tokensim calibrate` (tables calibrations and
 * calibration_residuals, schema 6): written in one transaction per calibrate, read back by
 * precision group for `validate` and the serving closed loop. Plain rows: the store knows
 * nothing of the fit. */
#ifndef TS_SIM_STORE_CALIB_H
#define TS_SIM_STORE_CALIB_H

#include <stdint.h>

#include "sim/store/store.h"

/* One fitted profile (strings borrowed). */
typedef struct {
    int64_t id;               /* filled when read or written */
    int64_t run_id;           /* the measure run it was fitted to */
    const char *precision, *kv_precision;
    int threads;
    double peak_gflops, bandwidth_gb_s;
    double eff_compute, eff_prefill, eff_memory, step_overhead_ms, attn_ns_per_pair, overlap;
    int n_train, n_test, converged;
    double train_median_err, test_median_err;
    int max_batch;            /* read back: the largest batch of its residuals */
} StoreCalibration;

/* One configuration's residual. */
typedef struct {
    const char *model, *phase;
    int batch, held_out;
    double measured_s, predicted_s; /* per step */
} StoreCalResidual;

/* Stores n profiles; residuals[i] (n_res[i] of them) belong to profile i. Sets each profile's
 * id. One transaction; TS_EIO. */
int store_calibrations_put(Store *s, StoreCalibration *cals, int n,
                           const StoreCalResidual *const *residuals, const int *n_res,
                           TsErr *err);

/* The newest profile for (precision, kv_precision, threads) into *out (its strings point into
 * buf of buf_size bytes). Returns 1 when found, 0 when none (or the database predates the
 * table), or a negative TS_E* code. */
int store_calibration_latest(Store *s, const char *precision, const char *kv_precision,
                             int threads, StoreCalibration *out, char *buf, int buf_size,
                             TsErr *err);

/* The profile id (id > 0), else the newest for threads, fp32 weights and KV first. Returns 1
 * found, 0 none (or no table), or a negative TS_E* code. Strings as above. */
int store_calibration_find(Store *s, int64_t id, int threads, StoreCalibration *out, char *buf,
                           int buf_size, TsErr *err);

#endif
