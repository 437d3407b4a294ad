/* traffic: streams of serving requests from a traffic description: Poisson or bursty gamma
 * arrivals (optionally shaped by a 24-hour diurnal profile), or a trace CSV; prompt and answer
 * lengths fixed or from distributions; a shared prefix on a share of requests; agentic sessions
 * whose turns re-send the growing context after a think time. Deterministic from the seed: each
 * arrival's draws come from its own counter-based stream. It parses no scenario text. */
#ifndef TS_SIM_SERVE_TRAFFIC_H
#define TS_SIM_SERVE_TRAFFIC_H

#include <stdint.h>

#include "models/tserr.h"
#include "sim/scenario/dist.h"
#include "sim/serve/request.h"

#define TRAFFIC_MAX_TRACE_ROWS 10000000L

typedef enum { TRAFFIC_POISSON, TRAFFIC_GAMMA, TRAFFIC_TRACE } TrafficArrivals;

/* A length (tokens, turns or seconds): `value` when !use_dist, else draws from dist (copied by
 * traffic_new). Token counts and turns are rounded to whole numbers, at least 1. */
typedef struct {
    double value;
    int use_dist;
    Dist dist;
} TrafficLen;

typedef struct {
    TrafficArrivals arrivals;
    double rate_per_s;      /* mean arrivals per second over the day (sessions when turns > 1) */
    double cv;              /* gamma: coefficient of variation of the gaps (> 0; 1 = Poisson) */
    const char *trace_path; /* borrowed; TRAFFIC_TRACE: arrival_s,input_tokens,output_tokens
                               [,prefix_id,prefix_tokens] with a header line */
    double hourly[24];      /* diurnal weights >= 0; all 0 = flat. Rate in clock hour h:
                               rate_per_s × hourly[h] / mean(hourly) */
    double start_hour;      /* clock hour at t = 0, in [0, 24) */
    double duration_s;      /* arrivals in [0, duration_s); a trace with 0 keeps every row */
    long max_requests;      /* first turns generated at most (0: no cap) */
    TrafficLen input;       /* prompt tokens (a session: the new tokens of each turn) */
    TrafficLen output;      /* answer tokens */
    int32_t prefix_tokens;  /* shared prefix prepended to the prompt (0: none) */
    double prefix_share;    /* share of requests (sessions) that carry it, in [0, 1] */
    TrafficLen turns;       /* turns per session; value 0 or 1 without use_dist: no sessions */
    TrafficLen think_s;     /* seconds between a turn's last token and the next turn */
    uint64_t seed;
} TrafficSpec;

typedef struct TrafficGen TrafficGen;

/* Checks the description without reading any file: TS_EINPUT naming the field. */
int traffic_check(const TrafficSpec *spec, TsErr *err);

/* The expected number of requests (turns included) of a non-trace description. */
double traffic_expected_requests(const TrafficSpec *spec);

/* A generator for spec (copied; trace_path must live until traffic_new returns). A trace is read
 * here: errors "FILE:LINE: message" with TS_EINPUT, TS_EIO when it cannot be read. */
int traffic_new(const TrafficSpec *spec, TrafficGen **out, TsErr *err);
void traffic_free(TrafficGen *g);

/* The next first-turn request in arrival order into *out: 1, or 0 when the stream has ended.
 * Ids count up from 0 over every request the generator makes (follow-up turns included). */
int traffic_next(TrafficGen *g, ServeRequest *out);

/* The next turn of prev's session when prev finished at finish_s: 1 with *out (arrival after
 * the think time, prompt = prev's prompt + answer + new tokens), 0 when the session is over. */
int traffic_follow(TrafficGen *g, const ServeRequest *prev, double finish_s, ServeRequest *out);

/* The end of the offered traffic: duration_s when arrivals stopped at the duration, else (a
 * max_requests cap or a trace) the last first-turn arrival; 0 before any. */
double traffic_horizon_s(const TrafficGen *g);

/* Requests made so far (first turns and follow-ups). */
long traffic_made(const TrafficGen *g);

#endif
