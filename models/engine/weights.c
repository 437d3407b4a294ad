/* weights: tensor sizes and order, one aligned allocation, and seeded initialisation with a
 * counter-based hash (element i of tensor t depends only on seed, t and i), so initialisation
 * can be split across threads or done in any order with the same result. */
#include "models/engine/weights.h"

#include "models/engine/memory.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const NAMES[WT_COUNT] = {
    "token_embedding", "rms_att", "wq", "wk", "wv", "wo", "rms_ffn", "w1", "w2",
    "w3", "router", "ew1", "ew2", "ew3", "rms_final", "wcls",
};

const char *wt_tensor_name(WeightTensor t)
{
    return NAMES[t];
}

size_t wt_tensor_floats(const EngineConfig *c, WeightTensor t)
{
    const ModelShape *s = &c->shape;
    size_t L = (size_t)s->layers, D = (size_t)s->d_model, V = (size_t)s->vocab;
    size_t Q = (size_t)(s->heads * s->head_dim), KV = (size_t)(s->kv_heads * s->head_dim);
    size_t Lm = s->experts > 0 ? (size_t)(s->layers - s->dense_layers) : 0, Ld = L - Lm;
    size_t ES = (size_t)(s->experts + s->shared_experts), G = (size_t)s->expert_ffn;
    size_t F = (size_t)s->ffn;
    switch (t) {
    case WT_TOKEN_EMBEDDING: return V * D;
    case WT_RMS_ATT: return L * D;
    case WT_WQ: return L * Q * D;
    case WT_WK: return L * KV * D;
    case WT_WV: return L * KV * D;
    case WT_WO: return L * D * Q;
    case WT_RMS_FFN: return L * D;
    case WT_W1: return Ld * F * D;
    case WT_W2: return Ld * D * F;
    case WT_W3: return Ld * F * D;
    case WT_ROUTER: return Lm * (size_t)s->experts * D;
    case WT_EW1: return Lm * ES * G * D;
    case WT_EW2: return Lm * ES * D * G;
    case WT_EW3: return Lm * ES * G * D;
    case WT_RMS_FINAL: return D;
    case WT_WCLS: return c->shared_classifier ? 0 : V * D;
    case WT_COUNT: break;
    }
    return 0;
}

size_t wt_total_floats(const EngineConfig *c)
{
    size_t n = 0;
    for (int t = 0; t < WT_COUNT; t++)
        n += wt_tensor_floats(c, (WeightTensor)t);
    return n;
}

float *wt_tensor(const Weights *w, WeightTensor t)
{
    float *const ptrs[WT_COUNT] = {
        w->token_embedding, w->rms_att, w->wq, w->wk, w->wv, w->wo, w->rms_ffn, w->w1, w->w2,
        w->w3, w->router, w->ew1, w->ew2, w->ew3, w->rms_final, w->wcls,
    };
    return ptrs[t];
}

void wt_attach(Weights *w, const EngineConfig *c, float *data)
{
    float **dst[WT_COUNT] = {
        &w->token_embedding, &w->rms_att, &w->wq, &w->wk, &w->wv, &w->wo, &w->rms_ffn, &w->w1,
        &w->w2, &w->w3, &w->router, &w->ew1, &w->ew2, &w->ew3, &w->rms_final, &w->wcls,
    };
    size_t off = 0;
    for (int t = 0; t < WT_COUNT; t++) {
        size_t n = wt_tensor_floats(c, (WeightTensor)t);
        *dst[t] = n ? data + off : NULL;
        off += n;
    }
    if (c->shared_classifier)
        w->wcls = w->token_embedding;
    w->data = data;
    w->n_floats = off;
    w->borrowed = 1;
}

int wt_alloc(Weights *w, const EngineConfig *c, TsErr *err)
{
    memset(w, 0, sizeof *w);
    size_t n = wt_total_floats(c);
    size_t bytes = n * sizeof(float);
    float *data = mem_alloc(bytes);
    if (!data)
        return ts_err_set(err, TS_ENOMEM, "cannot allocate %.1f MB of weights",
                          (double)bytes / 1e6);
    wt_attach(w, c, data);
    w->borrowed = 0;
    return 0;
}

void wt_fini(Weights *w)
{
    if (!w)
        return;
    if (!w->borrowed)
        free(w->data);
    memset(w, 0, sizeof *w);
}

/* splitmix64 finaliser: a good 64-bit mix of a counter. */
static uint64_t mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

void wt_init_seeded(Weights *w, const EngineConfig *c, uint64_t seed)
{
    const ModelShape *s = &c->shape;
    for (int t = 0; t < WT_COUNT; t++) {
        float *p = wt_tensor(w, (WeightTensor)t);
        size_t n = wt_tensor_floats(c, (WeightTensor)t);
        if (!p || !n)
            continue;
        if (t == WT_RMS_ATT || t == WT_RMS_FFN || t == WT_RMS_FINAL) {
            for (size_t i = 0; i < n; i++)
                p[i] = 1.0f;
            continue;
        }
        long fan_in = s->d_model;
        if (t == WT_WO)
            fan_in = s->heads * s->head_dim;
        else if (t == WT_W2)
            fan_in = s->ffn;
        else if (t == WT_EW2)
            fan_in = s->expert_ffn;
        /* uniform(-a, a) has variance a^2 / 3 */
        double sd = t == WT_TOKEN_EMBEDDING ? 0.5 : 1.0 / sqrt((double)fan_in);
        float a = (float)(sd * sqrt(3.0));
        uint64_t base = mix64(seed ^ ((uint64_t)(t + 1) << 56));
        for (size_t i = 0; i < n; i++) {
            uint64_t h = mix64(base + i);
            /* 24 random bits -> [-1, 1) exactly representable in float */
            float u = (float)(int64_t)(h >> 40) * (1.0f / 8388608.0f) - 1.0f;
            p[i] = a * u;
        }
    }
}
