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
#include "sim/scenario/scenario.h"
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

/* The same from a scenario fleet's bound profile (its model a preset, its precisions by name):
 * TS_EINPUT for an unknown preset or precision, or as calstep_init. */
int calstep_init_profile(CalStep *c, const ScnCalibration *p, TsErr *err);

/* Seconds of one step. */
double calstep_batch_s(const CalStep *c, const StepBatch *b);

/* The steady state a measured or simulated fleet on this machine is priced at. */
typedef struct {
    int batch;            /* the decode batch chosen */
    double decode_tok_s;  /* batch / step time at that batch */
    double tpot_ms;       /* its step time */
    double prefill_tok_s; /* prompt tokens / the time of one prompt in one step */
    double ttft_ms;       /* that time */
} CalSteady;

/* Decode: `batch` sequences each reading `context` keys advance one token a step; of batches 1
 * to max_batch the fastest whose step meets tpot_slo_ms (0: none). Prefill: one prompt of
 * prompt_tokens in one step, held to ttft_slo_ms (0: none). TS_EINPUT (a message without
 * location) when even batch 1 misses the TPOT SLO, the prompt misses the TTFT SLO, or a length
 * is out of range; TS_ENOMEM. */
int calstep_steady(const CalStep *c, int32_t prompt_tokens, int32_t context, int max_batch,
                   double tpot_slo_ms, double ttft_slo_ms, CalSteady *out, TsErr *err);

/* The backend over c (borrowed). */
StepBackend calstep_backend(CalStep *c);

#endif
