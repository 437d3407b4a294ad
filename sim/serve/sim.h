/* sim: the discrete-event simulation of serving: replicas (each one scheduler, sim/serve/sched.h)
 * behind a router, optionally a disaggregated prefill pool whose KV travels to the decode pool
 * over a link, driven by a traffic stream (sim/serve/traffic.h) with step times from a backend.
 * It gives per-request times, latency percentiles, throughput, goodput, utilisation, KV and
 * prefix-cache figures, a per-interval series and log-binned histograms, and sizes the fewest
 * replicas meeting TTFT and TPOT SLOs. It prices nothing and writes nothing. */
#ifndef TS_SIM_SERVE_SIM_H
#define TS_SIM_SERVE_SIM_H

#include "models/tserr.h"
#include "sim/serve/hist.h"
#include "sim/serve/sched.h"
#include "sim/serve/traffic.h"

/* Caps on one simulation (refused with TS_EINPUT by serve_check, before anything runs):
 * replicas per pool, requests (turns included; a trace's rows), and replica-seconds of traffic
 * (replicas × duration_s: 30 replica-days, about 10^8 steps at a few ms each). A run that still
 * grows past SERVE_MAX_STEPS steps (an overloaded queue draining) stops with TS_EINPUT. */
#define SERVE_MAX_REPLICAS 4096
#define SERVE_MAX_REQUESTS 20000000L
#define SERVE_MAX_REPLICA_S (30.0 * 86400.0)
#define SERVE_MAX_STEPS 400000000L

typedef enum { ROUTE_ROUND_ROBIN, ROUTE_LEAST_OUTSTANDING } ServeRoute;

typedef struct {
    int replicas;         /* unified replicas, or the decode pool when disaggregated */
    ServeRoute route;     /* sessions stick to the replica of their first turn */
    SchedConfig sched;    /* each replica's scheduler */
    StepBackend backend;  /* borrowed; times every step of the (decode) pool */
    int prefill_replicas; /* > 0: disaggregated, a prefill pool of this many */
    SchedConfig prefill_sched;
    StepBackend prefill_backend; /* step_s NULL: backend */
    double kv_transfer_gb_s;     /* link carrying a prompt's KV from prefill to decode, > 0 */
    double kv_bytes_per_token;   /* KV bytes of one prompt token (all layers) */
    double ttft_slo_s;           /* 0: none */
    double tpot_slo_s;           /* 0: none */
    double slo_percentile;       /* in (0, 1), e.g. 0.9 */
    double interval_s;           /* series interval; 0: no series */
} ServeConfig;

typedef struct {
    double mean, p50, p90, p99;
    double at_slo; /* at slo_percentile */
} ServePct;

typedef struct {
    long requests; /* arrived and completed (every arrival completes) */
    double input_tokens, output_tokens;
    double span_s; /* 0 to the last completion (at least the traffic duration) */
    ServePct ttft_s, tpot_s, itl_s, e2e_s; /* tpot over requests with >= 2 answer tokens; itl
                                              from a histogram (within half a bin, 0.6%) */
    double throughput_req_s, input_tok_s, output_tok_s;
    double goodput_req_s;    /* requests meeting both SLOs per second of span */
    double slo_attainment;   /* share of requests meeting both SLOs */
    int meets_slo;           /* TTFT and TPOT at slo_percentile within the SLOs */
    double busy_share;       /* busy replica-seconds over replicas × span (both pools) */
    double mean_batch;       /* sequences per step, weighted by step time */
    double mean_step_tokens; /* tokens per step, weighted by step time */
    double kv_occupancy;     /* referenced KV blocks over all blocks, time mean */
    double mean_queue;       /* waiting requests, time mean, all replicas */
    long preemptions, steps;
    double prefix_hit_rate; /* prompt tokens found in the prefix cache / prompt tokens */
    int replicas, prefill_replicas;
} ServeSummary;

typedef struct {
    double arrival_s, first_token_s, finish_s;
    int32_t input_tokens, output_tokens, cached_tokens, preemptions;
} ServeRecord;

typedef struct {
    double start_s;
    long arrivals, completions;
    double output_tokens;  /* answer tokens sampled by steps ending in the interval */
    double prefill_tokens; /* prompt positions computed by those steps */
    double queue;          /* waiting requests, time mean */
    double batch;          /* sequences per step while busy */
    double kv_occupancy;
    double busy_share;
    double ttft_p90_s, e2e_p90_s; /* of requests completing in the interval; 0 when none */
} ServeInterval;

typedef struct {
    ServeSummary sum;
    ServeRecord *req; /* (n_req) by request id */
    long n_req;
    ServeInterval *series; /* (n_series), empty without interval_s */
    int n_series;
    ServeHist ttft, tpot, itl, e2e; /* seconds, 1e-6 .. 1e6, 20 bins per decade */
} ServeResult;

/* Checks a configuration with its traffic against the caps and each part's rules, without
 * running or reading files. TS_EINPUT naming the limit. */
int serve_check(const ServeConfig *c, const TrafficSpec *t, TsErr *err);

/* Runs the simulation into *out (caller-owned; free with serve_result_fini, also after an
 * error). TS_EINPUT (checks, a trace's FILE:LINE, a request that cannot fit a replica, the step
 * cap), TS_ENOMEM, or the backend's error. */
int serve_run(const ServeConfig *c, const TrafficSpec *t, ServeResult *out, TsErr *err);
void serve_result_fini(ServeResult *r);

/* The fewest replicas (1 .. max_replicas; the prefill pool stays as configured) whose TTFT and
 * TPOT at slo_percentile meet the SLOs, with that run's result in *out and the count in
 * *replicas. TS_EINPUT when no count can: one request alone already misses an SLO, or
 * max_replicas still misses (the message gives the percentiles reached). Assumes latency does
 * not rise with more replicas (a search: about 2 log2(answer) runs). */
int serve_size(const ServeConfig *c, const TrafficSpec *t, int max_replicas, ServeResult *out,
               int *replicas, TsErr *err);

#endif
