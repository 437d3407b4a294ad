/* calstep: the calibrated step-time backend: a scheduler step's decode and prefill FLOPs,
 * bytes and attention pairs from the engine's closed forms (what its counters count: the
 * element-wise operations, the weights one step reads with the expected distinct experts of
 * its tokens, the KV each row reads and writes) timed by a calibration profile
 * (sim/price/calib.h), so that the simulator predicts the real engine (engstep) behind the
 * same scheduler. */
#ifndef TS_SIM_SERVE_CALSTEP_H
#define TS_SIM_SERVE_CALSTEP_H

#include "models/engine/config.h"
#include "models/engine/quant.h"
#include "models/tserr.h"
#include "sim/price/calib.h"
#include "sim/serve/sched.h"

typedef struct {
    EngineConfig cfg;
    Precision prec, kv;
    CalParams params;
    double peak_gflops, bandwidth_gb_s;
    double kv_bytes_per_token;   /* all layers, K and V */
    double pairs_per_key;        /* layers x KV heads */
    double moe_layers;
} CalStep;

/* TS_EINPUT for a bad config or ceilings. */
int calstep_init(CalStep *c, const EngineConfig *cfg, Precision prec, Precision kv,
                 const CalParams *p, double peak_gflops, double bandwidth_gb_s, TsErr *err);

/* Seconds of one step. */
double calstep_batch_s(const CalStep *c, const StepBatch *b);

/* The backend over c (borrowed). */
StepBackend calstep_backend(CalStep *c);

#endif
