/* quant: conversion of a model's matrices to bf16, int8 or int4 in the kernels' packed layout
 * (one block holding every converted matrix, its scales and row sums), element access into that
 * layout, and the per-row activation conversions (AVX-512 where compiled in, the same bits as
 * the scalar code). */
#include "models/engine/quant.h"

#include <math.h>
#include <stdlib.h>
#include <strings.h>

#include "models/engine/memory.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

static const char *const PREC_NAMES[PREC_COUNT] = {"fp32", "bf16", "int8", "int4"};

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
    return ts_err_set(err, TS_EINPUT, "unknown precision '%s' (expected fp32, bf16, int8 or int4)",
                      s);
}

int prec_elt_bytes(Precision p)
{
    return p == PREC_BF16 ? 2 : p == PREC_INT8 || p == PREC_INT4 ? 1 : 4;
}

double prec_weight_bytes(Precision p)
{
    return p == PREC_INT4 ? (QT_Q4_BLOCK / 2 + 2.0) / QT_Q4_BLOCK : (double)prec_elt_bytes(p);
}

int qt_kpad(Precision p, int cols)
{
    int a = p == PREC_BF16 ? 2 : p == PREC_INT8 ? 4 : p == PREC_INT4 ? QT_Q4_BLOCK : 1;
    return (cols + a - 1) / a * a;
}

void qt_to_bf16(uint16_t *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = qt_bf16(src[i]);
}

/* max |src[i]| (a maximum does not depend on the order, so the vector path is exact). */
static float absmax(const float *src, int n)
{
    float m = 0.0f;
    int i = 0;
#if defined(__AVX512F__)
    __m512 v = _mm512_setzero_ps();
    for (; i + 16 <= n; i += 16)
        v = _mm512_max_ps(v, _mm512_abs_ps(_mm512_loadu_ps(src + i)));
    m = _mm512_reduce_max_ps(v);
#endif
    for (; i < n; i++) {
        float a = fabsf(src[i]);
        m = a > m ? a : m;
    }
    return m;
}

static float absmax_scale(const float *src, int n)
{
    float m = absmax(src, n);
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

/* dst[i] = round(src[i] * inv) clamped to [-127, 127], plus bias (0 or 128), for i < n. The
 * vector path rounds to nearest even like nearbyintf in the default mode. */
static void quant_row(uint8_t *dst, const float *src, int n, float inv, int bias)
{
    int i = 0;
#if defined(__AVX512F__)
    const __m512 vinv = _mm512_set1_ps(inv), lo = _mm512_set1_ps(-127.0f),
                 hi = _mm512_set1_ps(127.0f);
    const __m512i vb = _mm512_set1_epi32(bias);
    for (; i + 16 <= n; i += 16) {
        __m512 q = _mm512_roundscale_ps(_mm512_mul_ps(_mm512_loadu_ps(src + i), vinv),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        q = _mm512_min_ps(_mm512_max_ps(q, lo), hi);
        __m512i qi = _mm512_add_epi32(_mm512_cvtps_epi32(q), vb);
        _mm_storeu_si128((__m128i *)(void *)(dst + i), _mm512_cvtepi32_epi8(qi));
    }
#endif
    for (; i < n; i++)
        dst[i] = (uint8_t)(quant_one(src[i], inv) + bias);
}

float qt_quant_u8(uint8_t *dst, const float *src, int n)
{
    float scale = absmax_scale(src, n), inv = 1.0f / scale;
    quant_row(dst, src, n, inv, 128);
    return scale;
}

void qt_act_bf16(uint16_t *dst, const float *src, int n, int kpad)
{
    qt_to_bf16(dst, src, (size_t)n);
    for (int i = n; i < kpad; i++)
        dst[i] = 0;
}

float qt_act_u8(uint8_t *dst, const float *src, int n, int kpad)
{
    float scale = qt_quant_u8(dst, src, n);
    for (int i = n; i < kpad; i++)
        dst[i] = 128;
    return scale;
}

float qt_act_i8(int8_t *dst, int32_t *bsum, const float *src, int n, int kpad)
{
    float scale = absmax_scale(src, n), inv = 1.0f / scale;
    quant_row((uint8_t *)dst, src, n, inv, 0);
    for (int i = n; i < kpad; i++)
        dst[i] = 0;
    for (int b = 0; b < kpad / QT_Q4_BLOCK; b++) {
        int32_t sum = 0;
        for (int j = 0; j < QT_Q4_BLOCK; j++)
            sum += dst[b * QT_Q4_BLOCK + j];
        bsum[b] = sum;
    }
    return scale;
}

double qt_matrix_bytes(Precision p, double rows, double cols)
{
    if (p == PREC_INT4)
        return rows * ceil(cols / QT_Q4_BLOCK) * (QT_Q4_BLOCK / 2 + 2.0);
    return rows * cols * prec_elt_bytes(p) + (p == PREC_INT8 ? 8.0 * rows : 0.0);
}

QMat qt_fp32(const float *w, int rows, int cols)
{
    return (QMat){.prec = PREC_FP32, .rows = rows, .cols = cols, .kpad = cols, .f32 = w,
                  .bytes = qt_matrix_bytes(PREC_FP32, rows, cols)};
}

static size_t panels(int rows)
{
    return (size_t)(rows + QT_PANEL - 1) / QT_PANEL;
}

float qt_get(const QMat *m, int r, int k)
{
    if (r < 0 || r >= m->rows || k < 0 || k >= m->cols)
        return 0.0f;
    size_t p = (size_t)r / QT_PANEL, n = (size_t)r % QT_PANEL, kp = (size_t)m->kpad;
    switch (m->prec) {
    case PREC_BF16:
        return qt_f32(m->bf16[((p * (kp / 2) + (size_t)k / 2) * QT_PANEL + n) * 2 + (size_t)k % 2]);
    case PREC_INT8:
        return (float)m->i8[((p * (kp / 4) + (size_t)k / 4) * QT_PANEL + n) * 4 + (size_t)k % 4] *
               m->scale[r];
    case PREC_INT4: {
        size_t nb = kp / QT_Q4_BLOCK, b = (size_t)k / QT_Q4_BLOCK, kk = (size_t)k % QT_Q4_BLOCK;
        size_t o = kk / 8, half = (kk % 8) / 4, j = kk % 4;
        uint8_t byte = m->q4[(((p * nb + b) * 4 + o) * QT_PANEL + n) * 4 + j];
        int q = (half ? byte >> 4 : byte & 0x0F) - 8;
        return (float)q * qt_f32(m->q4_scale[(p * nb + b) * QT_PANEL + n]);
    }
    default:
        return m->f32[(size_t)r * (size_t)m->cols + (size_t)k];
    }
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

/* Bytes of one converted matrix in the block: the packed values (whole panels, padded inputs),
 * then scales and sums for int8, block scales for int4. */
static size_t mat_block_bytes(Precision p, int rows, int cols)
{
    size_t pr = panels(rows) * QT_PANEL, kp = (size_t)qt_kpad(p, cols);
    if (p == PREC_INT4)
        return align64(pr * kp / 2) + align64(pr * (kp / QT_Q4_BLOCK) * 2);
    size_t vals = align64(pr * kp * (size_t)prec_elt_bytes(p));
    return p == PREC_INT8 ? vals + align64(8 * (size_t)rows) : vals;
}

/* One int4 block of one row: q + 8 in [0, 15] into u (32 values) with the scale d such that
 * x ≈ d q: d = (the value of largest magnitude) / -8, rounded to bf16 first so quantisation
 * uses the scale the kernels will read (llama.cpp's Q4_0 choice of d, with a bf16 scale). */
static uint16_t quant_q4_block(uint8_t *u, const float *x, int n)
{
    float m = 0.0f, am = 0.0f;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > am) {
            am = fabsf(x[i]);
            m = x[i];
        }
    uint16_t d = qt_bf16(m / -8.0f);
    float df = qt_f32(d), inv = df != 0.0f ? 1.0f / df : 0.0f;
    for (int i = 0; i < QT_Q4_BLOCK; i++) {
        float q = i < n ? nearbyintf(x[i] * inv) : 0.0f;
        q = q < -8.0f ? -8.0f : q > 7.0f ? 7.0f : q;
        u[i] = (uint8_t)((int)q + 8);
    }
    return d;
}

static void convert_q4(QMat *m, const float *src, int rows, int cols, char *block)
{
    size_t kp = (size_t)m->kpad, nb = kp / QT_Q4_BLOCK, np = panels(rows);
    uint8_t *q = (uint8_t *)block;
    uint16_t *sc = (uint16_t *)(void *)(block + align64(np * QT_PANEL * kp / 2));
    memset(q, 0x88, np * QT_PANEL * kp / 2); /* padding: q = 0 */
    memset(sc, 0, np * QT_PANEL * nb * 2);
    for (int r = 0; r < rows; r++) {
        size_t p = (size_t)r / QT_PANEL, n = (size_t)r % QT_PANEL;
        for (size_t b = 0; b < nb; b++) {
            uint8_t u[QT_Q4_BLOCK];
            int k0 = (int)(b * QT_Q4_BLOCK);
            int len = cols - k0 < QT_Q4_BLOCK ? cols - k0 : QT_Q4_BLOCK;
            sc[(p * nb + b) * QT_PANEL + n] =
                quant_q4_block(u, src + (size_t)r * (size_t)cols + (size_t)k0, len);
            for (int o = 0; o < 4; o++)
                for (int j = 0; j < 4; j++)
                    q[(((p * nb + b) * 4 + (size_t)o) * QT_PANEL + n) * 4 + (size_t)j] =
                        (uint8_t)(u[8 * o + j] | u[8 * o + 4 + j] << 4);
        }
    }
    m->q4 = q;
    m->q4_scale = sc;
}

static void convert(QMat *m, Precision p, const float *src, int rows, int cols, char *block)
{
    *m = (QMat){.prec = p, .rows = rows, .cols = cols, .kpad = qt_kpad(p, cols),
                .bytes = qt_matrix_bytes(p, rows, cols)};
    size_t kp = (size_t)m->kpad, np = panels(rows);
    if (p == PREC_INT4) {
        convert_q4(m, src, rows, cols, block);
        return;
    }
    if (p == PREC_BF16) {
        uint16_t *d = (uint16_t *)(void *)block;
        memset(d, 0, np * QT_PANEL * kp * 2);
        for (int r = 0; r < rows; r++) {
            size_t pn = (size_t)r / QT_PANEL, n = (size_t)r % QT_PANEL;
            for (int k = 0; k < cols; k++)
                d[((pn * (kp / 2) + (size_t)k / 2) * QT_PANEL + n) * 2 + (size_t)k % 2] =
                    qt_bf16(src[(size_t)r * (size_t)cols + (size_t)k]);
        }
        m->bf16 = d;
        return;
    }
    int8_t *d = (int8_t *)block;
    float *scale = (float *)(void *)(block + align64(np * QT_PANEL * kp));
    int32_t *rsum = (int32_t *)(scale + rows);
    memset(d, 0, np * QT_PANEL * kp);
    for (int r = 0; r < rows; r++) {
        size_t pn = (size_t)r / QT_PANEL, n = (size_t)r % QT_PANEL;
        const float *x = src + (size_t)r * (size_t)cols;
        scale[r] = absmax_scale(x, cols); /* as qt_quant_i8 */
        float inv = 1.0f / scale[r];
        int32_t sum = 0;
        for (int k = 0; k < cols; k++) {
            int8_t v = (int8_t)quant_one(x[k], inv);
            d[((pn * (kp / 4) + (size_t)k / 4) * QT_PANEL + n) * 4 + (size_t)k % 4] = v;
            sum += v;
        }
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
    if (p == PREC_INT4)
        return qt_matrix_bytes(p, 1.0, cols);
    return cols * prec_elt_bytes(p) + (p == PREC_INT8 ? 4.0 : 0.0);
}

double qt_lookup(const QMat *emb, int r, float *out)
{
    size_t D = (size_t)emb->cols;
    if (emb->prec == PREC_FP32)
        memcpy(out, emb->f32 + (size_t)r * D, sizeof(float) * D);
    else
        for (size_t i = 0; i < D; i++)
            out[i] = qt_get(emb, r, (int)i);
    return qt_row_bytes(emb->prec, (double)D);
}
