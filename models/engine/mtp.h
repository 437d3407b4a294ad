/* mtp: DeepSeek-style multi-token prediction used as a self-speculative draft. Module k (1..D)
 * takes the previous depth's hidden state at position j (the main model's for k = 1) and the
 * embedding of token t(j+k), normalises both (RMSNorm), projects the pair (D, 2D) back to
 * d_model, runs one transformer block with its own KV cache and predicts t(j+k+1) through the
 * main model's final norm and output head (shared, as in DeepSeek-V3). Decoding drafts D tokens
 * this way, verifies them with the main model in one batched step, keeps the accepted prefix
 * plus the main model's next token, and cuts the rejected positions from the caches: greedy
 * output is identical to greedy decoding without MTP. Weights are seeded (no trained MTP head
 * ships here), so real drafts are almost never accepted; a forced acceptance rate replays a
 * deterministic pattern to measure speed at a given rate, and is labelled forced. It counts
 * FLOPs and bytes like the engine; it does not time anything. */
#ifndef TS_MODELS_MTP_H
#define TS_MODELS_MTP_H

#include <stdint.h>

#include "models/engine/config.h"
#include "models/engine/forward.h"
#include "models/engine/quant.h"
#include "models/tserr.h"
#include "models/engine/weights.h"

#define MTP_MAX_DEPTH 4

typedef struct MtpModel MtpModel; /* opaque */

/* The modules of depth D (1..MTP_MAX_DEPTH) for the main model (c, w, q: borrowed, they must
 * outlive it; q may be NULL for float32), seeded from seed, in q's precision, with engines like
 * the main one (slots, positions, rows, KV precision, pool). The block's FFN is dense, as wide
 * as the main model's (ffn, or experts_active × expert_ffn for an all-MoE model). */
int mtp_new(const EngineConfig *c, const Weights *w, const QWeights *q, int depth, uint64_t seed,
            Precision kv, int max_slots, int max_seq, int max_rows, Pool *pool, MtpModel **out,
            TsErr *err);
void mtp_free(MtpModel *m);

/* The block's config (one dense layer of the main model's attention shape). */
const EngineConfig *mtp_block_config(const MtpModel *m);

/* Parameters of one module (projection, two norms, the block). */
double mtp_params_per_depth(const MtpModel *m);

typedef struct {
    int depth;           /* drafts per step (<= the model's depth); 0: plain decoding */
    double force_accept; /* < 0: keep the drafts the main model agrees with; in [0, 1]: keep
                          * draft k when a per-depth accumulator of this rate crosses 1 (exactly
                          * the rate, deterministically), regardless of agreement */
} MtpOptions;

typedef struct {
    int steps;      /* main-model decode steps (each verifies up to depth drafts) */
    int drafted;    /* draft tokens verified */
    int matched;    /* of those, equal to the main model's greedy token (prefix only) */
    int accepted;   /* drafts kept: matched when not forced */
    int emitted;    /* tokens produced after the prompt */
} MtpStats;

/* Greedy generation on one slot of main (an engine of the same model, slot empty): prefills
 * prompt[0..n_prompt) (counted as PHASE_PREFILL, MTP modules included), then produces n_gen
 * tokens into out (PHASE_DECODE), drafting with m (NULL, or o->depth 0: plain decoding). The
 * prompt plus n_gen must fit the engines' positions. */
int mtp_generate(Engine *main, MtpModel *m, const MtpOptions *o, int slot, const int *prompt,
                 int n_prompt, int n_gen, int *out, MtpStats *st, TsErr *err);

/* mtp_generate in two parts, for timing each phase: the prefill (and the first drafts), then
 * the decoding; mtp_decode continues the generation mtp_prefill started (out and st kept). */
int mtp_prefill(Engine *main, MtpModel *m, const MtpOptions *o, int slot, const int *prompt,
                int n_prompt, int n_gen, int *out, MtpStats *st, TsErr *err);
int mtp_decode(Engine *main, MtpModel *m, MtpStats *st, TsErr *err);

/* Adds the MTP engines' counters of a phase to acc. */
void mtp_add_counters(const MtpModel *m, Phase phase, PhaseCounters *acc);
void mtp_reset_counters(MtpModel *m);

/* Expected tokens per decode step with D drafts each accepted (given the earlier ones were)
 * with probability a: 1 + a + a^2 + ... + a^D. */
double mtp_tokens_per_step(double a, int depth);

#endif
