/* realtime: one replica's serving loop driven by a clock: requests join the scheduler when
 * the clock passes their arrival, each step is planned, run by a StepBackend and committed at
 * its end time, and every answer token's time is recorded per request. With the wall clock
 * and the engine backend (engstep) it serves real traffic; with the virtual clock (time moves
 * by the backend's seconds, and jumps to the next arrival when idle) and a modeled backend it
 * is the simulation of the same traffic under the same scheduler. Also the latency and
 * throughput summary of a log. Nothing printed or stored. */
#ifndef TS_SIM_SERVE_REALTIME_H
#define TS_SIM_SERVE_REALTIME_H

#include "models/tserr.h"
#include "sim/serve/request.h"
#include "sim/serve/sched.h"

typedef struct {
    double arrival_s;      /* seconds from the start of the run */
    int32_t input_tokens, output_tokens;
    double first_token_s, finish_s;
    double *token_s;       /* (output_tokens) every answer token's time; owned */
    int32_t n_tokens;      /* recorded: output_tokens once finished */
    int32_t preemptions;
} RtRequest;

typedef struct {
    RtRequest *req;        /* (n) in arrival order; req[i] is request id i */
    int n;
    double span_s;         /* 0 to the last token */
    long steps;
    double busy_s;         /* sum of step seconds */
} RtLog;

typedef struct {
    double p50, p90, p99, mean;
} RtPct;

typedef struct {
    RtPct ttft_s, tpot_s, itl_s, e2e_s;
    double throughput_tok_s;   /* answer tokens / span */
    double requests_per_s;     /* finished requests / span */
    long output_tokens;
    int finished;
} RtSummary;

/* Runs reqs (n, sorted by arrival; ids are set to their index) through s with backend b.
 * virtual_clock 0: the wall clock (CLOCK_MONOTONIC; the loop sleeps until the next arrival
 * when idle); 1: simulated time. Fills out (free with rt_log_free). TS_EINPUT from the
 * scheduler or backend, TS_ENOMEM. */
int rt_run(Sched *s, const StepBackend *b, ServeRequest *reqs, int n, int virtual_clock,
           RtLog *out, TsErr *err);
void rt_log_free(RtLog *log);

/* Percentiles (linear between order statistics) of a finished log: TTFT = first token -
 * arrival, TPOT = (finish - first) / (output - 1) over requests of 2+ tokens, ITL = every gap
 * between consecutive tokens of a request, E2E = finish - arrival. TS_ENOMEM. */
int rt_summary(const RtLog *log, RtSummary *out, TsErr *err);

#endif
