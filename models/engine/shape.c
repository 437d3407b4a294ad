/* shape: parameter and FLOP closed forms of a transformer shape (see shape.h).
 * Pure arithmetic in doubles (counts reach 1e12, beyond int32). No allocation, no I/O. */
#include "models/engine/shape.h"

#define SHAPE_MAX_DIM 1000000L
#define SHAPE_MAX_LAYERS 10000L
#define SHAPE_MAX_EXPERTS 100000L

static int is_mla(const ModelShape *s)
{
    return s->kv_lora_rank > 0;
}

int shape_check(const ModelShape *s, TsErr *err)
{
    struct {
        const char *name;
        long v, lo, hi;
    } need[] = {
        {"layers", s->layers, 1, SHAPE_MAX_LAYERS},
        {"d_model", s->d_model, 1, SHAPE_MAX_DIM},
        {"heads", s->heads, 1, SHAPE_MAX_DIM},
        {"vocab", s->vocab, 1, 100000000L},
    };
    for (unsigned i = 0; i < sizeof need / sizeof need[0]; i++)
        if (need[i].v < need[i].lo || need[i].v > need[i].hi)
            return ts_err_set(err, TS_EINPUT, "%s must be in [%ld, %ld], got %ld", need[i].name,
                              need[i].lo, need[i].hi, need[i].v);
    if (is_mla(s)) {
        if (s->rope_dim < 1 || s->qk_nope_dim < 1 || s->v_head_dim < 1)
            return ts_err_set(err, TS_EINPUT,
                              "an MLA model (kv_lora_rank > 0) needs rope_dim, qk_nope_dim and "
                              "v_head_dim");
        if (s->kv_lora_rank > SHAPE_MAX_DIM || s->q_lora_rank > SHAPE_MAX_DIM ||
            s->rope_dim > SHAPE_MAX_DIM || s->qk_nope_dim > SHAPE_MAX_DIM ||
            s->v_head_dim > SHAPE_MAX_DIM || s->q_lora_rank < 0)
            return ts_err_set(err, TS_EINPUT, "an MLA dimension is out of range");
    } else {
        if (s->head_dim < 1 || s->head_dim > SHAPE_MAX_DIM)
            return ts_err_set(err, TS_EINPUT, "head_dim must be in [1, %ld], got %ld",
                              SHAPE_MAX_DIM, s->head_dim);
        if (s->kv_heads < 1 || s->kv_heads > s->heads)
            return ts_err_set(err, TS_EINPUT, "kv_heads must be in [1, heads = %ld], got %ld",
                              s->heads, s->kv_heads);
    }
    if (s->experts < 0 || s->experts > SHAPE_MAX_EXPERTS)
        return ts_err_set(err, TS_EINPUT, "experts must be in [0, %ld], got %ld",
                          SHAPE_MAX_EXPERTS, s->experts);
    if (s->dense_layers < 0 || s->dense_layers > s->layers)
        return ts_err_set(err, TS_EINPUT, "dense_layers must be in [0, layers = %ld], got %ld",
                          s->layers, s->dense_layers);
    if (s->experts > 0) {
        if (s->experts_active < 1 || s->experts_active > s->experts)
            return ts_err_set(err, TS_EINPUT,
                              "experts_active must be in [1, experts = %ld], got %ld", s->experts,
                              s->experts_active);
        if (s->expert_ffn < 1 || s->expert_ffn > SHAPE_MAX_DIM)
            return ts_err_set(err, TS_EINPUT, "an MoE model needs expert_ffn in [1, %ld]",
                              SHAPE_MAX_DIM);
        if (s->shared_experts < 0 || s->shared_experts > SHAPE_MAX_EXPERTS)
            return ts_err_set(err, TS_EINPUT, "shared_experts must be >= 0");
        if (s->dense_layers > 0 && (s->ffn < 1 || s->ffn > SHAPE_MAX_DIM))
            return ts_err_set(err, TS_EINPUT, "dense_layers > 0 needs ffn (the dense FFN size)");
    } else if (s->ffn < 1 || s->ffn > SHAPE_MAX_DIM) {
        return ts_err_set(err, TS_EINPUT, "a dense model needs ffn in [1, %ld], got %ld",
                          SHAPE_MAX_DIM, s->ffn);
    }
    return 0;
}

void shape_params(const ModelShape *s, ShapeParams *p)
{
    double d = (double)s->d_model, h = (double)s->heads;
    double attn, norms_per_layer = 2.0 * d;
    if (is_mla(s)) {
        double qk = (double)(s->qk_nope_dim + s->rope_dim);
        double q = s->q_lora_rank > 0
                       ? d * (double)s->q_lora_rank + (double)s->q_lora_rank * h * qk
                       : d * h * qk;
        double kv = d * (double)(s->kv_lora_rank + s->rope_dim) +
                    (double)s->kv_lora_rank * h * (double)(s->qk_nope_dim + s->v_head_dim);
        double o = h * (double)s->v_head_dim * d;
        attn = q + kv + o;
        norms_per_layer += (double)s->kv_lora_rank + (double)s->q_lora_rank;
    } else {
        double hd = (double)s->head_dim;
        attn = 2.0 * d * h * hd + 2.0 * d * (double)s->kv_heads * hd;
    }
    p->embedding = (double)s->vocab * d;
    p->head = (double)s->vocab * d;
    p->attn_per_layer = attn;
    p->dense_ffn = 3.0 * d * (double)s->ffn;
    p->moe_layers = s->experts > 0 ? s->layers - s->dense_layers : 0;
    p->dense_ffn_layers = s->layers - p->moe_layers;
    p->expert = s->experts > 0 ? 3.0 * d * (double)s->expert_ffn : 0.0;
    p->router = d * (double)s->experts;
    p->norms = (double)s->layers * norms_per_layer + d;
    double L = (double)s->layers, Lm = (double)p->moe_layers, Ld = (double)p->dense_ffn_layers;
    double moe_total = Lm * (p->router + (double)(s->experts + s->shared_experts) * p->expert);
    double moe_active =
        Lm * (p->router + (double)(s->experts_active + s->shared_experts) * p->expert);
    double common = L * attn + Ld * p->dense_ffn;
    p->nonembed_active = common + moe_active;
    p->total = p->embedding + p->head + p->norms + common + moe_total;
    p->active = p->embedding + p->head + p->norms + common + moe_active;
}

double shape_attn_flops(const ModelShape *s, double context_tokens)
{
    double L = (double)s->layers, h = (double)s->heads;
    if (is_mla(s))
        return 2.0 * L * h *
               ((double)(s->qk_nope_dim + s->rope_dim) + (double)s->v_head_dim) * context_tokens;
    return 4.0 * L * h * (double)s->head_dim * context_tokens;
}

double shape_flops_decode(const ModelShape *s, double context_tokens)
{
    ShapeParams p;
    shape_params(s, &p);
    return 2.0 * p.nonembed_active + 2.0 * p.head + shape_attn_flops(s, context_tokens);
}

double shape_flops_prompt(const ModelShape *s, double prompt_tokens)
{
    ShapeParams p;
    shape_params(s, &p);
    return 2.0 * p.nonembed_active + 2.0 * p.head / prompt_tokens +
           shape_attn_flops(s, (prompt_tokens + 1.0) / 2.0);
}

double shape_kv_bytes_per_token(const ModelShape *s, double kv_bytes)
{
    if (is_mla(s))
        return (double)s->layers * (double)(s->kv_lora_rank + s->rope_dim) * kv_bytes;
    return 2.0 * (double)s->layers * (double)s->kv_heads * (double)s->head_dim * kv_bytes;
}
