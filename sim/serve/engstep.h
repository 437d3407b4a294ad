/* engstep: the real step backend: a StepBackend whose step runs the engine (models/engine) on
 * the scheduler's StepBatch (decodes at their positions and prefill chunks, ragged, in one
 * eng_step) with paged KV whose block numbers are the scheduler's block ids, and returns the
 * wall seconds the step took. Tokens are synthetic ids (a hash of request and position), not
 * the sampled ones: the work of a step is the same, and a preempted request recomputes its
 * context without keeping text. Logits are computed and argmaxed for every row that emits. */
#ifndef TS_SIM_SERVE_ENGSTEP_H
#define TS_SIM_SERVE_ENGSTEP_H

#include "models/engine/config.h"
#include "models/engine/forward.h"
#include "models/engine/quant.h"
#include "models/engine/weights.h"
#include "models/tserr.h"
#include "sim/serve/sched.h"

typedef struct {
    const EngineConfig *cfg;  /* borrowed, outlive the backend */
    const Weights *w;
    const QWeights *q;        /* NULL: fp32 */
    Precision kv;             /* fp32 or bf16 */
    Pool *pool;               /* borrowed */
    const SchedConfig *sched; /* its kv_blocks, block_tokens and max_batched_tokens size the
                                 engine */
    int max_slots;            /* scheduler slots the engine serves: outstanding requests */
} EngStepConfig;

typedef struct EngStep EngStep;

/* TS_EINPUT (a configuration the engine refuses), TS_ENOMEM. */
int engstep_new(const EngStepConfig *c, EngStep **out, TsErr *err);
void engstep_free(EngStep *s);

/* The backend over s (borrowed). Its step fails with TS_EINPUT for a slot at or past
 * max_slots or a position past the model's max_seq. */
StepBackend engstep_backend(EngStep *s);

/* The synthetic token of request id at position pos. */
int engstep_token(int64_t id, int32_t pos, int vocab);

/* Counters of the steps run (phase decode: steps without prefill; prefill: the others). */
const PhaseCounters *engstep_counters(const EngStep *s, Phase phase);

#endif
