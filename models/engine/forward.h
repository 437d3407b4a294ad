/* forward: runs a transformer (models/engine/config.h, models/engine/weights.h) over a step of rows: each
 * row is one token of one sequence (slot) at one position. A prefill is many rows of one slot;
 * a batched decode is one row per slot; both go through the same code, so a position's result
 * does not depend on how it was batched. It counts, per phase, FLOPs (a multiply-add is 2),
 * weight bytes, KV-cache bytes read and written, and the experts each MoE layer used. It does
 * not sample tokens, time anything or know about files. */
#ifndef TS_MODELS_FORWARD_H
#define TS_MODELS_FORWARD_H

#include <stdint.h>

#include "models/engine/config.h"
#include "models/engine/pool.h"
#include "models/engine/quant.h"
#include "models/tserr.h"
#include "models/engine/weights.h"

typedef enum { PHASE_PREFILL = 0, PHASE_DECODE = 1, PHASE_COUNT } Phase;

typedef struct {
    double flops;          /* counted as the ops run; equals eng_flops_row summed */
    double weight_bytes;   /* weight bytes a step reads (each matrix once per step) */
    double kv_read_bytes;  /* K and V bytes attention reads */
    double kv_write_bytes; /* K and V bytes written to the cache */
    double rows;           /* tokens processed */
    double steps;          /* calls of eng_step */
    double expert_layer_steps;     /* (MoE layer, step) pairs */
    double distinct_experts_sum;   /* distinct routed experts summed over those pairs */
} PhaseCounters;

typedef struct {
    int slot;        /* sequence, in [0, max_slots) */
    int pos;         /* position in [0, max_seq); K/V of this row are stored there */
    int token;       /* input token id in [0, vocab) */
    int want_logits; /* compute this row's logits */
} FwdRow;

typedef struct Engine Engine; /* opaque */

/* Creates an engine for config c and weights w (both borrowed; they must outlive it), with KV
 * caches for max_slots sequences of up to max_seq positions (<= c->max_seq) and room for up to
 * max_rows rows per step, running on pool (borrowed). */
int eng_new(const EngineConfig *c, const Weights *w, int max_slots, int max_seq, int max_rows,
            Pool *pool, Engine **out, TsErr *err);

/* eng_new with the matrices in q's precision (q borrowed; NULL: float32 views of w, built
 * inside) and the KV cache in kv_prec (fp32 or bf16). Counted weight bytes follow q's
 * precision (QMat.bytes), KV bytes kv_prec's element size. */
int eng_new_q(const EngineConfig *c, const Weights *w, const QWeights *q, Precision kv_prec,
              int max_slots, int max_seq, int max_rows, Pool *pool, Engine **out, TsErr *err);
void eng_free(Engine *e);

/* Paged KV (as vLLM pages it): the cache is a pool of n_blocks blocks of block_tokens
 * positions, and each slot reads and writes its positions through a block table that the
 * caller sets (eng_set_blocks), so sequences can share blocks of a common prefix. */
typedef struct {
    int n_blocks;     /* 1 .. 2^24 */
    int block_tokens; /* 1 .. max_seq */
} EngPaging;

/* eng_new_q with a paged cache (pg NULL: one block of max_seq positions per slot, which is
 * eng_new_q). Logits are bit-identical to the unpaged engine's for the same rows. */
int eng_new_paged(const EngineConfig *c, const Weights *w, const QWeights *q, Precision kv_prec,
                  const EngPaging *pg, int max_slots, int max_seq, int max_rows, Pool *pool,
                  Engine **out, TsErr *err);

/* Sets a slot's block table: blocks[k] (in [0, n_blocks)) holds its positions
 * [k × block_tokens, (k + 1) × block_tokens), and its first len positions are already in them
 * (a shared prefix, or the slot's own earlier steps). Positions past n blocks cannot be run.
 * TS_EINPUT on an unpaged engine or out-of-range values. */
int eng_set_blocks(Engine *e, int slot, const int32_t *blocks, int n, int len, TsErr *err);

/* Runs one step over rows[0..n). Rows of one slot must come in increasing position order and
 * a row's earlier positions must be in the cache already or earlier in this step. logits
 * receives (number of rows with want_logits, vocab) floats in row order; it may be NULL when no
 * row wants logits. Counts go to the phase's counters. TS_EINPUT for bad rows (slot, position or
 * token out of range, too many rows). */
int eng_step(Engine *e, const FwdRow *rows, int n, float *logits, Phase phase, TsErr *err);

/* eng_step with two extras for multi-token prediction: x_in (n, D), when not NULL, is the
 * residual stream entering layer 0 instead of the rows' token embeddings (rows' tokens are then
 * only checked); hidden (n, D), when not NULL, receives each row's residual stream after the
 * last layer (before the final norm). */
int eng_step_ex(Engine *e, const FwdRow *rows, int n, const float *x_in, float *hidden,
                float *logits, Phase phase, TsErr *err);

/* Cuts a slot back to its first len positions (len <= what it holds): the positions after them
 * are rewritten by later steps. Speculative decoding drops rejected drafts this way. */
int eng_truncate(Engine *e, int slot, int len, TsErr *err);

/* y (rows, m->rows) = x (rows, m->cols) · m^T on the engine's pool, counted in phase (FLOPs
 * 2 × rows × in × out, bytes m->bytes). For matrices outside the model (an MTP projection). */
int eng_project(Engine *e, float *y, const float *x, const QMat *m, int rows, Phase phase,
                TsErr *err);

/* Adds work done outside eng_step (an MTP module's norms) to a phase's counters. */
void eng_count(Engine *e, Phase phase, double flops, double weight_bytes);

/* Bytes of one KV-cache element (4 or 2). */
double eng_kv_elt_bytes(const Engine *e);

/* The closed form of the weight bytes one step reads in precision p: rows embedding rows,
 * every layer's matrices and norms once, each MoE layer's router (float32) and, summed over the
 * MoE layers, distinct_experts routed experts plus the shared ones; the final norm and head when
 * logit_rows > 0. */
double eng_weight_bytes_step(const EngineConfig *c, Precision p, int rows, int logit_rows,
                             double distinct_experts);

/* Counters of a phase since creation or the last reset. */
const PhaseCounters *eng_counters(const Engine *e, Phase phase);

/* Tokens each routed expert received in a phase: (layers, experts), zero rows for dense
 * layers; NULL for a dense model. */
const double *eng_expert_tokens(const Engine *e, Phase phase);

void eng_reset_counters(Engine *e);

/* The exact closed form of what eng_step counts for one row at position pos (its attention
 * covers pos + 1 keys), with or without its logits: the contract's textbook FLOPs (2 ×
 * non-embedding active parameters, 2 × vocab × d_model for the head, 4 × layers × heads ×
 * head_dim × context) plus the element-wise operations: RMSNorm 4 per element, RoPE 3 per
 * element of q and k, attention scale and softmax 4 per score, residual adds, SwiGLU 5 per
 * hidden element, router softmax 3 per expert and renormalisation 2 per chosen expert,
 * combining 2 per element per routed expert and 1 per shared expert. */
double eng_flops_row(const EngineConfig *c, int pos, int want_logits);

/* Sum of eng_flops_row over positions [pos0, pos0 + n) with logits only at the last one (a
 * prefill chunk as servers run it). */
double eng_flops_prefill(const EngineConfig *c, int pos0, int n);

#endif
