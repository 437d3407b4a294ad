/* sched: the scheduler of one replica, iteration level as vLLM and SGLang schedule: a FCFS
 * waiting queue, steps under a token budget and a sequence cap with chunked prefill sharing steps
 * with decodes, paged KV in blocks allocated on demand, preemption by recompute (newest first)
 * when blocks run out, and an LRU prefix cache whose hits skip prefill. It does not know how long
 * a step takes: a caller plans a step, has it timed (a model or a real engine) and commits it
 * with its end time, so it runs inside a simulated event loop or in real time alike. */
#ifndef TS_SIM_SERVE_SCHED_H
#define TS_SIM_SERVE_SCHED_H

#include <stdint.h>

#include "models/tserr.h"
#include "sim/serve/hist.h"
#include "sim/serve/kv.h"
#include "sim/serve/request.h"

typedef struct {
    int32_t max_num_seqs;       /* sequences in one step, >= 1 */
    int32_t max_batched_tokens; /* tokens in one step, >= 1 */
    int32_t kv_blocks;          /* KV cache size in blocks, >= 1 */
    int32_t block_tokens;       /* tokens per block (vLLM: 16), 1 .. 1024 */
    int prefix_cache;           /* 1: full blocks stay cached (LRU) and hits skip prefill */
    int chunked_prefill;        /* 1: prompts split across steps; 0: whole prompts only */
} SchedConfig;

/* One sequence's share of a step. A decode computes 1 token at position `start` and reads
 * start + 1 keys; a prefill chunk computes `tokens` positions from `start` (causal). */
typedef struct {
    int64_t id;            /* the request's id */
    int32_t slot;          /* the scheduler's slot for it (stable while it is admitted) */
    int32_t start;         /* tokens already in the KV cache */
    int32_t tokens;        /* tokens computed in this step (1 for a decode) */
    int32_t emits;         /* 1: the step reaches the end of the known tokens: one is sampled */
    int32_t n_blocks;      /* entries of blocks */
    const int32_t *blocks; /* borrowed: the sequence's KV block table (block ids of this
                              replica's pool), valid until the next sched_plan */
} StepItem;

/* A planned step: its decodes and its prefill chunks (order within each: scheduling order). */
typedef struct {
    const StepItem *decode; /* borrowed, n_decode of them */
    int32_t n_decode;
    double decode_keys;      /* sum over decodes of start + 1: the keys their attention reads */
    const StepItem *prefill; /* borrowed, n_prefill of them */
    int32_t n_prefill;
    int64_t prefill_tokens; /* sum of the chunks' tokens */
    int64_t tokens;         /* n_decode + prefill_tokens */
} StepBatch;

/* A step-time backend: the seconds a batch takes (a model, or a real engine that runs it). */
typedef struct {
    int (*step_s)(void *ctx, const StepBatch *batch, double *seconds, TsErr *err);
    void *ctx; /* borrowed */
} StepBackend;

/* A request that finished in the last committed step. */
typedef struct {
    ServeRequest req;      /* as added */
    double first_token_s;  /* the first answer token (req.first_token_s when it came with it) */
    double finish_s;       /* the last answer token */
    int32_t cached_tokens; /* prompt tokens found in the prefix cache at first admission */
    int32_t preemptions;
} SchedDone;

typedef struct {
    long steps;
    double busy_s;       /* sum of committed step durations */
    double seq_s;        /* sum over steps of sequences in the step × its duration */
    double token_s;      /* sum over steps of tokens in the step × its duration */
    long prefill_tokens; /* prompt (and recomputed) positions computed */
    long decode_tokens;
    long emitted_tokens; /* answer tokens sampled here */
    long preemptions;
    long recomputed_tokens; /* KV positions dropped by preemption */
    long prompt_tokens;     /* prompt tokens at first admission (KV brought along excluded) */
    long cached_tokens;     /* of those, found in the prefix cache */
    long rehit_tokens;      /* found in the cache when a preempted sequence came back */
    long added, finished;
    ServeHist itl; /* gaps between consecutive answer tokens of a request, seconds */
} SchedStats;

typedef struct Sched Sched;

/* Checks a configuration: TS_EINPUT naming the field. */
int sched_config_check(const SchedConfig *c, TsErr *err);

/* A scheduler with an empty queue and cache. TS_EINPUT (bad config), TS_ENOMEM. */
int sched_new(const SchedConfig *c, Sched **out, TsErr *err);
void sched_free(Sched *s);

/* Queues a request at the back (FCFS). TS_EINPUT when it could never run here: its prompt and
 * answer need more KV blocks than the replica has, or (without chunked prefill) more tokens than
 * one step; TS_ENOMEM. The request is copied. */
int sched_add(Sched *s, const ServeRequest *r, TsErr *err);

/* Plans the next step into *out (valid until the next sched_plan): running sequences first
 * (decodes, unfinished prefills), preempting the newest when KV blocks run out; then, if nothing
 * was preempted, waiting requests in order while the budget, the sequence cap and the blocks
 * allow. Returns the number of sequences in the step (0: nothing to run, nothing planned), or
 * TS_ENOMEM (nothing planned). */
int sched_plan(Sched *s, StepBatch *out, TsErr *err);

/* Applies the planned step, which took step_s and ended at end_s (clock seconds): advances the
 * sequences, samples tokens, finishes requests (sched_done lists them), caches full blocks.
 * Does nothing when no step is planned. */
void sched_commit(Sched *s, double step_s, double end_s);

/* sched_plan, the backend's time for the step, sched_commit at now_s + time. *step_s is 0 when
 * there was nothing to run. Returns the backend's error, else 0. */
int sched_step(Sched *s, const StepBackend *b, double now_s, double *step_s, TsErr *err);

/* Requests finished by the last sched_commit (n of them), valid until the next commit. */
const SchedDone *sched_done(const Sched *s, int *n);

int32_t sched_waiting(const Sched *s);  /* queued, not admitted (preempted ones included) */
int32_t sched_running(const Sched *s);  /* admitted */
long sched_outstanding(const Sched *s); /* added and not finished */
const KvPool *sched_kv(const Sched *s);
const SchedStats *sched_stats(const Sched *s);

#endif
