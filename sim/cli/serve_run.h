/* serve_run: the real engine behind the scheduler on generated traffic (what `serve-bench`
 * runs and `validate --serving` holds the simulator against): loads a preset, makes the
 * requests (Poisson at a rate, or a trace), serves them in real time with the engine backend,
 * and meters the energy; or simulates the same requests with the calibrated step model.
 * Nothing printed or stored. */
#ifndef TS_SIM_CLI_SERVE_RUN_H
#define TS_SIM_CLI_SERVE_RUN_H

#include "models/engine/quant.h"
#include "models/measure/meter.h"
#include "sim/price/calib.h"
#include "sim/serve/realtime.h"
#include "sim/serve/sched.h"

typedef struct {
    const char *model;      /* a preset */
    Precision prec, kv;
    int threads;
    double rate_per_s;      /* Poisson arrivals (ignored with trace) */
    const char *trace;      /* arrival_s,input_tokens,output_tokens CSV, or NULL */
    double duration_s;      /* arrivals in [0, duration_s) */
    long max_requests;      /* 0: no cap */
    int input_tokens, output_tokens;
    uint64_t seed;
    SchedConfig sched;      /* kv_blocks 0: enough for max_num_seqs full sequences */
} SrvPlan;

typedef struct {
    RtLog log;
    RtSummary sum;
    double energy_j, energy_low_j, energy_high_j; /* the meter's, over the whole run */
    char energy_source[64];
    int max_seq;            /* the model's */
} SrvResult;

/* Fills the defaults of a plan (fp32, 1 thread, 64 + 32 tokens, 2 requests/s for 10 s, the
 * scheduler: 8 sequences, 256 tokens a step, blocks of 16, chunked prefill, no prefix cache). */
void srv_plan_defaults(SrvPlan *p, const char *model);

/* The plan's requests (owned array into *reqs). TS_EINPUT for a bad plan or trace, or requests
 * longer than the model's positions. */
int srv_requests(const SrvPlan *p, ServeRequest **reqs, int *n, TsErr *err);

/* Serves reqs on the engine in real time (meter may be NULL: no energy). */
int srv_run_real(const SrvPlan *p, ServeRequest *reqs, int n, Meter *meter, SrvResult *out,
                 TsErr *err);

/* Simulates reqs with the calibrated step model (virtual clock, same scheduler). */
int srv_run_sim(const SrvPlan *p, ServeRequest *reqs, int n, const CalParams *cal,
                double peak_gflops, double bandwidth_gb_s, SrvResult *out, TsErr *err);

void srv_result_free(SrvResult *r);

#endif
