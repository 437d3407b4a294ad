/* shape: the closed forms of a decoder-only transformer's shape (dense, MoE, GQA or MLA):
 * parameter counts and FLOPs per token, exactly as scenario-format.md's "Semantics" states
 * them. The engine's counters and the performance model both call these; nothing here runs
 * a model or knows about chips and prices. */
#ifndef TS_MODELS_SHAPE_H
#define TS_MODELS_SHAPE_H

#include "models/tserr.h"

typedef struct {
    long layers;
    long d_model;
    long heads;
    long kv_heads;       /* GQA key/value heads; = heads for MHA */
    long head_dim;       /* GQA head width; unused by MLA */
    long ffn;            /* dense FFN hidden size (dense models and the leading dense layers) */
    long experts;        /* routed experts per MoE layer; 0 = dense model */
    long experts_active; /* top-k routed experts per token */
    long shared_experts;
    long expert_ffn;     /* hidden size of one expert */
    long dense_layers;   /* leading layers that stay dense in an MoE model */
    long kv_lora_rank;   /* MLA when > 0 */
    long q_lora_rank;    /* MLA query compression; 0 = full-rank queries */
    long rope_dim;
    long qk_nope_dim;
    long v_head_dim;
    long vocab;
} ModelShape;

/* Parameter counts (counts, not bytes) of a shape. Matmul weights are what FLOPs follow;
 * norm weights are counted in the totals only. The output head is separate from the
 * embedding (untied). */
typedef struct {
    double embedding;          /* vocab × d_model */
    double head;               /* vocab × d_model */
    double attn_per_layer;     /* attention matmul weights of one layer */
    double dense_ffn;          /* one dense SwiGLU FFN: 3 × d_model × ffn */
    double expert;             /* one expert: 3 × d_model × expert_ffn */
    double router;             /* one MoE layer's router: d_model × experts */
    double norms;              /* every RMSNorm weight of the model */
    long moe_layers;
    long dense_ffn_layers;
    double total;              /* everything */
    double active;             /* what one token touches, embedding and head included */
    double nonembed_active;    /* matmul weights one token touches, embedding and head excluded */
} ShapeParams;

/* Checks that the shape is complete and consistent (positive dims, k <= E, dense_layers <=
 * layers, MLA dims when kv_lora_rank > 0, sizes below sane limits). TS_EINPUT with a message
 * naming the field otherwise. */
int shape_check(const ModelShape *s, TsErr *err);

/* Fills p from a checked shape. */
void shape_params(const ModelShape *s, ShapeParams *p);

/* Attention score and value FLOPs for one token attending over context_tokens keys:
 * GQA/MHA 4 × layers × heads × head_dim × context; MLA 2 × layers × heads ×
 * ((qk_nope_dim + rope_dim) + v_head_dim) × context (the un-absorbed form). */
double shape_attn_flops(const ModelShape *s, double context_tokens);

/* FLOPs of one decode token at the given KV length: 2 × non-embedding active parameters +
 * 2 × vocab × d_model + attention. */
double shape_flops_decode(const ModelShape *s, double context_tokens);

/* FLOPs per prompt token for a prompt of prompt_tokens: the same with the causal average
 * context (prompt_tokens + 1) / 2 and the output head divided by the prompt length (it runs at
 * the last position only). prompt_tokens must be >= 1. */
double shape_flops_prompt(const ModelShape *s, double prompt_tokens);

/* KV-cache bytes per token of context at kv_bytes per element: MHA/GQA 2 × layers × kv_heads ×
 * head_dim × kv_bytes; MLA layers × (kv_lora_rank + rope_dim) × kv_bytes. */
double shape_kv_bytes_per_token(const ModelShape *s, double kv_bytes);

#endif
