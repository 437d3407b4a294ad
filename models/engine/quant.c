/* quant: conversion of a model's matrices to bf16 or int8 (one block holding every converted
 * matrix, its scales and row sums) and the per-row activation conversions. */
#include "models/engine/quant.h"

#include <math.h>
#include <stdlib.h>
#include <strings.h>

#include "models/engine/memory.h"

static const char *const PREC_NAMES[PREC_COUNT] = {"fp32", "bf16", "int8"};

const char *prec_name(Precision p)
{
    return p >= 0 && p < PREC_COUNT ? PREC_NAMES[p] : "?";
}

int prec_parse(const char *s, Precision *out, TsErr *err)
{
    for (int i = 0; i < PREC_COUNT; i++)
        if (strcasecmp(s, PREC_NAMES[i]) == 0) {
            *out = (Precision)i;
            return 0;
        }
    return ts_err_set(err, TS_EINPUT, "unknown precision '%s' (expected fp32, bf16 or int8)", s);
}

int prec_elt_bytes(Precision p)
{
    return p == PREC_BF16 ? 2 : p == PREC_INT8 ? 1 : 4;
}

void qt_to_bf16(uint16_t *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = qt_bf16(src[i]);
}

static float absmax_scale(const float *src, int n)
{
    float m = 0.0f;
    for (int i = 0; i < n; i++) {
        float a = fabsf(src[i]);
        m = a > m ? a : m;
    }
    return m > 0.0f ? m / 127.0f : 1.0f;
}

static int quant_one(float v, float inv)
{
    float q = nearbyintf(v * inv);
    return q > 127.0f ? 127 : q < -127.0f ? -127 : (int)q;
}

float qt_quant_i8(int8_t *dst, const float *src, int n)
{
    float scale = absmax_scale(src, n), inv = 1.0f / scale;
    for (int i = 0; i < n; i++)
        dst[i] = (int8_t)quant_one(src[i], inv);
    return scale;
}

float qt_quant_u8(uint8_t *dst, const float *src, int n)
{
    float scale = absmax_scale(src, n), inv = 1.0f / scale;
    for (int i = 0; i < n; i++)
        dst[i] = (uint8_t)(quant_one(src[i], inv) + 128);
    return scale;
}

double qt_matrix_bytes(Precision p, double rows, double cols)
{
    return rows * cols * prec_elt_bytes(p) + (p == PREC_INT8 ? 8.0 * rows : 0.0);
}

QMat qt_fp32(const float *w, int rows, int cols)
{
    return (QMat){PREC_FP32, rows, cols, w, NULL, NULL, NULL, NULL,
                  qt_matrix_bytes(PREC_FP32, rows, cols)};
}

/* The matrices of a config in a fixed order, with their source floats: the walk both the
 * sizing and the conversion pass take. */
typedef struct {
    QMat *dst;
    const float *src;
    int rows, cols;
} MatSpec;

static int mat_specs(QWeights *q, const EngineConfig *c, const Weights *w, int with_head,
                     MatSpec *out)
{
    const ModelShape *s = &c->shape;
    int L = (int)s->layers, D = (int)s->d_model, Q = (int)(s->heads * s->head_dim);
    int KV = (int)(s->kv_heads * s->head_dim), F = (int)s->ffn, G = (int)s->expert_ffn;
    int Ld = s->experts > 0 ? (int)s->dense_layers : L, Lm = L - Ld;
    int ES = (int)(s->experts + s->shared_experts);
    int n = 0;
#define SPEC(DST, SRC, R, C)                                                                      \
    do {                                                                                          \
        if (out)                                                                                  \
            out[n] = (MatSpec){(DST), (SRC), (R), (C)};                                           \
        n++;                                                                                      \
    } while (0)
    for (int l = 0; l < L; l++) {
        size_t lz = (size_t)l;
        SPEC(&q->wq[l], w->wq + lz * (size_t)Q * (size_t)D, Q, D);
        SPEC(&q->wk[l], w->wk + lz * (size_t)KV * (size_t)D, KV, D);
        SPEC(&q->wv[l], w->wv + lz * (size_t)KV * (size_t)D, KV, D);
        SPEC(&q->wo[l], w->wo + lz * (size_t)D * (size_t)Q, D, Q);
    }
    for (int l = 0; l < Ld; l++) {
        size_t lz = (size_t)l;
        SPEC(&q->w1[l], w->w1 + lz * (size_t)F * (size_t)D, F, D);
        SPEC(&q->w2[l], w->w2 + lz * (size_t)D * (size_t)F, D, F);
        SPEC(&q->w3[l], w->w3 + lz * (size_t)F * (size_t)D, F, D);
    }
    for (int i = 0; i < Lm * ES; i++) {
        size_t iz = (size_t)i;
        SPEC(&q->ew1[i], w->ew1 + iz * (size_t)G * (size_t)D, G, D);
        SPEC(&q->ew2[i], w->ew2 + iz * (size_t)D * (size_t)G, D, G);
        SPEC(&q->ew3[i], w->ew3 + iz * (size_t)G * (size_t)D, G, D);
    }
    if (with_head) {
        SPEC(&q->emb, w->token_embedding, (int)s->vocab, D);
        if (w->wcls != w->token_embedding)
            SPEC(&q->wcls, w->wcls, (int)s->vocab, D);
    }
#undef SPEC
    return n;
}

static size_t align64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

/* Bytes of one converted matrix in the block: values, then scales and sums for int8. */
static size_t mat_block_bytes(Precision p, int rows, int cols)
{
    size_t vals = align64((size_t)rows * (size_t)cols * (size_t)prec_elt_bytes(p));
    return p == PREC_INT8 ? vals + align64(8 * (size_t)rows) : vals;
}

static void convert(QMat *m, Precision p, const float *src, int rows, int cols, char *block)
{
    *m = (QMat){p, rows, cols, NULL, NULL, NULL, NULL, NULL, qt_matrix_bytes(p, rows, cols)};
    size_t n = (size_t)rows * (size_t)cols;
    if (p == PREC_BF16) {
        uint16_t *d = (uint16_t *)(void *)block;
        qt_to_bf16(d, src, n);
        m->bf16 = d;
        return;
    }
    int8_t *d = (int8_t *)block;
    float *scale = (float *)(void *)(block + align64(n));
    int32_t *rsum = (int32_t *)(scale + rows);
    for (int r = 0; r < rows; r++) {
        int8_t *row = d + (size_t)r * (size_t)cols;
        scale[r] = qt_quant_i8(row, src + (size_t)r * (size_t)cols, cols);
        int32_t sum = 0;
        for (int k = 0; k < cols; k++)
            sum += row[k];
        rsum[r] = sum;
    }
    m->i8 = d;
    m->scale = scale;
    m->rsum = rsum;
}

int qw_build(QWeights *q, const EngineConfig *c, const Weights *w, Precision p,
             const QWeights *share, TsErr *err)
{
    memset(q, 0, sizeof *q);
    q->prec = p;
    const ModelShape *s = &c->shape;
    size_t L = (size_t)s->layers;
    size_t Ld = s->experts > 0 ? (size_t)s->dense_layers : L, Lm = L - Ld;
    size_t ES = (size_t)(s->experts + s->shared_experts);
    size_t n_mats = 4 * L + 3 * Ld + 3 * Lm * ES;
    q->mats = calloc(n_mats ? n_mats : 1, sizeof(QMat));
    if (!q->mats)
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    QMat *m = q->mats;
    q->wq = m, q->wk = m + L, q->wv = m + 2 * L, q->wo = m + 3 * L;
    m += 4 * L;
    q->w1 = m, q->w2 = m + Ld, q->w3 = m + 2 * Ld;
    m += 3 * Ld;
    q->ew1 = m, q->ew2 = m + Lm * ES, q->ew3 = m + 2 * Lm * ES;

    int with_head = share == NULL;
    int n = mat_specs(q, c, w, with_head, NULL);
    MatSpec *specs = malloc(sizeof(MatSpec) * (size_t)(n ? n : 1));
    if (!specs) {
        qw_free(q);
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    }
    mat_specs(q, c, w, with_head, specs);
    if (p == PREC_FP32) {
        for (int i = 0; i < n; i++)
            *specs[i].dst = qt_fp32(specs[i].src, specs[i].rows, specs[i].cols);
    } else {
        size_t total = 0;
        for (int i = 0; i < n; i++)
            total += mat_block_bytes(p, specs[i].rows, specs[i].cols);
        q->data = mem_alloc(total ? total : 64);
        if (!q->data) {
            free(specs);
            qw_free(q);
            return ts_err_set(err, TS_ENOMEM, "cannot allocate %.0f MB for %s weights",
                              (double)total / 1e6, prec_name(p));
        }
        char *at = q->data;
        for (int i = 0; i < n; i++) {
            convert(specs[i].dst, p, specs[i].src, specs[i].rows, specs[i].cols, at);
            at += mat_block_bytes(p, specs[i].rows, specs[i].cols);
        }
    }
    free(specs);
    if (share) {
        q->emb = share->emb;
        q->wcls = share->wcls;
    } else if (w->wcls == w->token_embedding) {
        q->wcls = q->emb;
    }
    q->shared_head = w->wcls == w->token_embedding;
    return 0;
}

int qt_mat_new(QMat *m, Precision p, const float *w, int rows, int cols, void **owned,
               TsErr *err)
{
    *owned = NULL;
    if (p == PREC_FP32) {
        *m = qt_fp32(w, rows, cols);
        return 0;
    }
    *owned = mem_alloc(mat_block_bytes(p, rows, cols));
    if (!*owned)
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    convert(m, p, w, rows, cols, *owned);
    return 0;
}

void qw_free(QWeights *q)
{
    if (!q)
        return;
    free(q->mats);
    free(q->data);
    memset(q, 0, sizeof *q);
}

double qt_row_bytes(Precision p, double cols)
{
    return cols * prec_elt_bytes(p) + (p == PREC_INT8 ? 4.0 : 0.0);
}

double qt_lookup(const QMat *emb, int r, float *out)
{
    size_t D = (size_t)emb->cols, off = (size_t)r * D;
    switch (emb->prec) {
    case PREC_BF16:
        for (size_t i = 0; i < D; i++)
            out[i] = qt_f32(emb->bf16[off + i]);
        break;
    case PREC_INT8:
        for (size_t i = 0; i < D; i++)
            out[i] = (float)emb->i8[off + i] * emb->scale[r];
        break;
    default:
        memcpy(out, emb->f32 + off, sizeof(float) * D);
        break;
    }
    return qt_row_bytes(emb->prec, (double)D);
}
