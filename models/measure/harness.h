/* harness: times the engine on one plan (prompt length, tokens to generate, decode batch,
 * threads): a warm-up, then repeats of "prefill every sequence, then decode them together",
 * with median and p10/p90 seconds per phase, the counters of one repeat and the process CPU
 * time (for modeled energy). It measures what it runs; it knows nothing of joules or prices. */
#ifndef TS_MODELS_HARNESS_H
#define TS_MODELS_HARNESS_H

#include "models/engine/config.h"
#include "models/engine/forward.h"
#include "models/measure/meter.h"
#include "models/engine/mtp.h"
#include "models/engine/quant.h"
#include "models/tserr.h"
#include "models/engine/weights.h"

typedef struct {
    int prompt_tokens; /* prefill length of each sequence (>= 1) */
    int gen_tokens;    /* decode steps after the prompt (>= 1) */
    int batch;         /* sequences decoded together */
    int threads;
    int repeats;       /* timed repeats (>= 1) */
    int warmup;        /* untimed repeats before them */
    Meter *meter;      /* borrowed; NULL: no energy figures */
    Precision prec;    /* weights: fp32 (default), bf16 or int8 (converted before timing) */
    Precision kv;      /* KV cache: fp32 (default) or bf16 */
    int mtp_depth;     /* > 0: greedy decoding with MTP drafts of this depth (batch 1 only) */
    double mtp_accept; /* with mtp_depth: < 0 keeps the drafts the model agrees with (seeded
                        * weights: almost none); in [0, 1] forces that acceptance rate */
} HxPlan;

typedef struct {
    double median, p10, p90; /* seconds */
} HxTimes;

typedef struct {
    HxPlan plan;
    HxTimes prefill;          /* prefilling all `batch` prompts, one sequence per step */
    HxTimes decode;           /* gen_tokens steps of `batch` rows */
    PhaseCounters prefill_cnt; /* of one repeat */
    PhaseCounters decode_cnt;  /* of one repeat */
    double cpu_seconds;       /* process CPU time over the timed repeats */
    double wall_seconds;      /* wall time over the timed repeats */
    double distinct_experts_per_layer; /* decode: mean distinct routed experts per MoE layer-step */
    MeterEnergy prefill_energy; /* mean over the timed repeats, one repeat's phase (with plan.meter) */
    MeterEnergy decode_energy;
    MtpStats mtp;             /* with plan.mtp_depth: the drafts of one repeat */
    const char *kernel_path;  /* the matmul path of plan.prec: "avx512", "avx512-bf16",
                               * "avx512-vnni" or "portable" */
} HxResult;

/* Runs plan on model (c, w). With plan->mtp_depth, MTP modules seeded from 1 draft during the
 * decode phase and both phases' counters include theirs. With plan->meter, each phase of each timed repeat is metered and
 * the mean per repeat is reported. TS_EINPUT for a plan the model cannot hold (prompt + gen
 * above its max_seq, batch or threads out of range). */
int hx_run(const EngineConfig *c, const Weights *w, const HxPlan *plan, HxResult *out,
           TsErr *err);

/* Tokens per second of a phase from a result: prefill counts batch × prompt_tokens, decode
 * batch × gen_tokens, over the median seconds. */
double hx_prefill_tok_s(const HxResult *r);
double hx_decode_tok_s(const HxResult *r);

/* Reduced precision against fp32: both engines read the same tokens (a fixed prompt of
 * positions / 2, then the fp32 model's greedy continuation) and their logits are compared at
 * every position. */
typedef struct {
    double max_abs_diff, mean_abs_diff; /* over every logit of every position */
    double agreement;                   /* share of positions whose greedy tokens agree */
    int positions;
} HxAccuracy;

int hx_accuracy(const EngineConfig *c, const Weights *w, Precision p, Precision kv, int threads,
                int positions, HxAccuracy *out, TsErr *err);

#endif
