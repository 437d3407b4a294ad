/* quant: reduced-precision copies of a model's matrices for the engine: bf16 (round to nearest
 * even of the float32 weights), int8 with one float32 scale per output row (symmetric,
 * absmax / 127) and int4 in blocks of 32 inputs with one bf16 scale per block (4.5 bits per
 * weight, llama.cpp's Q4_0 budget), plus the activation conversions the matching kernels take
 * (bf16; uint8 = int8 + 128 with one scale per row; int8 with per-block sums for int4).
 * Reduced-precision matrices are stored packed for matrix-matrix kernels: outputs in panels of
 * 16, and within a panel, for each step along the inputs (a pair of bf16, a quad of int8, an
 * octet of int4), the 16 outputs' values side by side (64 bytes), so one vector load feeds 16
 * output lanes and activations are broadcast (see qt_get for the exact addresses). It builds
 * and frees the copies and states their byte counts; it does not multiply anything
 * (models/engine/kernels_q.c does) or run the model. Norm weights
 * and MoE routers stay float32 in every precision (they are tiny, and routing decisions are
 * sensitive to them); the token embedding and the output head follow the precision. */
#ifndef TS_MODELS_QUANT_H
#define TS_MODELS_QUANT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "models/engine/config.h"
#include "models/tserr.h"
#include "models/engine/weights.h"

typedef enum { PREC_FP32 = 0, PREC_BF16 = 1, PREC_INT8 = 2, PREC_INT4 = 3, PREC_COUNT } Precision;

#define QT_PANEL 16    /* outputs per panel of a packed matrix */
#define QT_Q4_BLOCK 32 /* inputs per int4 scale block */

/* "fp32", "bf16", "int8", "int4". */
const char *prec_name(Precision p);

/* Parses a precision name (case-insensitive); TS_EINPUT naming the choices otherwise. */
int prec_parse(const char *s, Precision *out, TsErr *err);

/* Bytes of one stored element: 4, 2 or 1 (int4: 1, the byte of its activation form; a weight
 * takes prec_weight_bytes). */
int prec_elt_bytes(Precision p);

/* Bytes per weight including scales: 4, 2, 1 (+ the row's scale and sum, not counted here),
 * 0.5625 for int4 (half a byte + a 2-byte scale per 32). */
double prec_weight_bytes(Precision p);

/* Inputs padded for the packed layout: to 2 (bf16), 4 (int8) or 32 (int4); cols for fp32. */
int qt_kpad(Precision p, int cols);

/* bf16 <-> float32. Rounding is to nearest, ties to even; NaN stays NaN. */
static inline uint16_t qt_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u)
        return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7FFFu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static inline float qt_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* dst[i] = bf16(src[i]) for i < n. */
void qt_to_bf16(uint16_t *dst, const float *src, size_t n);

/* Quantises one row symmetrically: scale = max|src| / 127 (1 when the row is all zero),
 * dst[i] = round(src[i] / scale) in [-127, 127]. Returns scale. */
float qt_quant_i8(int8_t *dst, const float *src, int n);

/* The activation form of the int8 kernel: the row quantised as above, stored as uint8 with 128
 * added (so VNNI's unsigned × signed products apply). Returns the scale. */
float qt_quant_u8(uint8_t *dst, const float *src, int n);

/* The activation forms, one row of n floats into kpad = qt_kpad(p, n) elements (the padding
 * is zero in value): bf16; uint8 (int8 + 128, returns the scale); int8 with the sum of each
 * block of 32 quantised values in bsum (kpad / 32 of them; returns the scale). Vector and
 * scalar paths give the same bits. */
void qt_act_bf16(uint16_t *dst, const float *src, int n, int kpad);
float qt_act_u8(uint8_t *dst, const float *src, int n, int kpad);
float qt_act_i8(int8_t *dst, int32_t *bsum, const float *src, int n, int kpad);

/* One matrix (rows = outputs, cols = inputs) in one precision: fp32 row-major (stride cols),
 * the others packed in panels (QT_PANEL outputs; rows and kpad padded with zeros). bytes is what
 * a matmul over it reads (closed form, padding not counted): rows × cols × element bytes, plus
 * for int8 the 4-byte scale and 4-byte row sum of each row, for int4 rows × ceil(cols / 32) ×
 * (16 bytes of nibbles + a 2-byte scale). */
typedef struct {
    Precision prec;
    int rows, cols;
    int kpad;                 /* cols padded for the layout (qt_kpad) */
    const float *f32;         /* fp32: borrowed from the Weights */
    const uint16_t *bf16;     /* bf16: [panel][k / 2][16 outputs][2] */
    const int8_t *i8;         /* int8: [panel][k / 4][16 outputs][4] */
    const float *scale;       /* int8: (rows) */
    const int32_t *rsum;      /* int8: (rows) sum of the row's int8 values */
    const uint8_t *q4;        /* int4: [panel][block][octet][16 outputs][4 bytes]; byte j holds
                               * q + 8 of input 8 × octet + j (low nibble) and of + 4 (high) */
    const uint16_t *q4_scale; /* int4: bf16 [panel][block][16 outputs] */
    double bytes;
} QMat;

/* Element (r, k) of m as float32 (the dequantised value for int8 and int4); 0 in the padding. */
float qt_get(const QMat *m, int r, int k);

/* Bytes a matmul reads from a rows × cols matrix in precision p (as QMat.bytes). */
double qt_matrix_bytes(Precision p, double rows, double cols);

/* A float32 matrix as a QMat (borrowed). */
QMat qt_fp32(const float *w, int rows, int cols);

/* One matrix w (rows, cols) in precision p: a view for fp32 (*owned NULL), else a converted
 * copy in *owned (free() it after the QMat's last use). */
int qt_mat_new(QMat *m, Precision p, const float *w, int rows, int cols, void **owned,
               TsErr *err);

/* A model's matrices in one precision. Matrices are indexed as in Weights: wq..wo by layer,
 * w1..w3 by dense layer, ew1..ew3 by (MoE layer × (E + S) + expert). For fp32 every QMat
 * borrows the Weights' floats and nothing is copied. */
typedef struct {
    Precision prec;
    QMat *wq, *wk, *wv, *wo; /* (L) */
    QMat *w1, *w2, *w3;      /* (Ld) */
    QMat *ew1, *ew2, *ew3;   /* (Lm × (E + S)) */
    QMat emb;                /* (V, D): rows are looked up, not multiplied */
    QMat wcls;               /* (V, D) */
    QMat *mats;              /* the block the per-layer arrays point into */
    void *data;              /* the converted values, scales and sums (NULL for fp32) */
    int shared_head;         /* emb and wcls are the same copy */
} QWeights;

/* Builds q for weights w of config c in precision p. With share (may be NULL), the embedding and
 * output head are borrowed from share instead of converted again (an MTP block shares its main
 * model's). TS_ENOMEM when memory runs out. */
int qw_build(QWeights *q, const EngineConfig *c, const Weights *w, Precision p,
             const QWeights *share, TsErr *err);

/* Frees what qw_build allocated; q may be zeroed. */
void qw_free(QWeights *q);

/* Bytes of one looked-up row of cols values in precision p: the values, plus the row's 4-byte
 * scale for int8 (a lookup needs no row sum), or its block scales for int4. */
double qt_row_bytes(Precision p, double cols);

/* Row r of emb as float32 into out (d_model floats): a copy, a widening or a dequantisation.
 * Returns the bytes read. */
double qt_lookup(const QMat *emb, int r, float *out);

#endif
