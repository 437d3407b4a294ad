/* counts: the closed forms of what the forward pass counts (models/engine/forward.h): FLOPs of
 * one row at a position with or without its logits, of a prefill chunk, and the weight bytes
 * one step reads in a precision. Pure arithmetic on the configuration; the engine's counters
 * must equal them (tests/unit/engine/test_forward.c). */
#include "models/engine/forward.h"

#include "models/engine/quant.h"

static double ffn_flops(const EngineConfig *c, int moe)
{
    const ModelShape *s = &c->shape;
    double D = (double)s->d_model;
    if (!moe) {
        double F = (double)s->ffn;
        return 6.0 * D * F + 5.0 * F;
    }
    double E = (double)s->experts, K = (double)s->experts_active, S = (double)s->shared_experts;
    double G = (double)s->expert_ffn;
    return 2.0 * D * E + 3.0 * E + 2.0 * K + (K + S) * (6.0 * D * G + 5.0 * G) + 2.0 * D * K +
           D * S;
}

double eng_flops_row(const EngineConfig *c, int pos, int want_logits)
{
    const ModelShape *s = &c->shape;
    double D = (double)s->d_model, H = (double)s->heads, hd = (double)s->head_dim;
    double Q = H * hd, KV = (double)s->kv_heads * hd, ctx = (double)pos + 1.0;
    double attn_block = 4.0 * D + 2.0 * D * (Q + 2.0 * KV) + 3.0 * (Q + KV) +
                        H * (4.0 * hd * ctx + 4.0 * ctx) + 2.0 * Q * D + D;
    long moe_layers = s->experts > 0 ? s->layers - s->dense_layers : 0;
    long dense_layers = s->layers - moe_layers;
    double total = (double)s->layers * (attn_block + 4.0 * D + D) +
                   (double)dense_layers * ffn_flops(c, 0) + (double)moe_layers * ffn_flops(c, 1);
    if (want_logits)
        total += 4.0 * D + 2.0 * (double)s->vocab * D;
    return total;
}

double eng_flops_prefill(const EngineConfig *c, int pos0, int n)
{
    double total = 0.0;
    for (int i = 0; i < n; i++)
        total += eng_flops_row(c, pos0 + i, i == n - 1);
    return total;
}

double eng_weight_bytes_step(const EngineConfig *c, Precision p, int rows, int logit_rows,
                             double distinct_experts)
{
    const ModelShape *s = &c->shape;
    double D = (double)s->d_model, Q = (double)(s->heads * s->head_dim);
    double KV = (double)(s->kv_heads * s->head_dim), F = (double)s->ffn;
    double G = (double)s->expert_ffn, E = (double)s->experts, S = (double)s->shared_experts;
    long moe_layers = s->experts > 0 ? s->layers - s->dense_layers : 0;
    double dense_layers = (double)(s->layers - moe_layers);
    double row = qt_row_bytes(p, D);
    double attn = qt_matrix_bytes(p, Q, D) + 2.0 * qt_matrix_bytes(p, KV, D) +
                  qt_matrix_bytes(p, D, Q) + 2.0 * D * 4.0;
    double total = rows * row + (double)s->layers * attn +
                   dense_layers * (2.0 * qt_matrix_bytes(p, F, D) + qt_matrix_bytes(p, D, F)) +
                   (double)moe_layers * E * D * 4.0 +
                   (distinct_experts + (double)moe_layers * S) *
                       (2.0 * qt_matrix_bytes(p, G, D) + qt_matrix_bytes(p, D, G));
    if (logit_rows > 0)
        total += D * 4.0 + qt_matrix_bytes(p, (double)s->vocab, D);
    return total;
}
