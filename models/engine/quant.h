/* quant: reduced-precision copies of a model's matrices for the engine: bf16 (round to nearest
 * even of the float32 weights) and int8 with one float32 scale per output row (symmetric,
 * absmax / 127), plus the activation conversions the matching kernels take (bf16, and uint8
 * = int8 + 128 with one scale per row). It builds and frees the copies and states their byte
 * counts; it does not multiply anything (models/engine/kernels.c does) or run the model. Norm weights
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

typedef enum { PREC_FP32 = 0, PREC_BF16 = 1, PREC_INT8 = 2, PREC_COUNT } Precision;

/* "fp32", "bf16", "int8". */
const char *prec_name(Precision p);

/* Parses a precision name (case-insensitive); TS_EINPUT naming the choices otherwise. */
int prec_parse(const char *s, Precision *out, TsErr *err);

/* Bytes of one stored element: 4, 2 or 1. */
int prec_elt_bytes(Precision p);

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

/* One matrix (rows = outputs, cols = inputs, row-major, stride cols) in one precision. bytes is
 * what a matmul over it reads: rows × cols × element bytes, plus for int8 the 4-byte scale and
 * the 4-byte row sum of each row. */
typedef struct {
    Precision prec;
    int rows, cols;
    const float *f32;     /* fp32: borrowed from the Weights */
    const uint16_t *bf16; /* bf16 */
    const int8_t *i8;     /* int8 */
    const float *scale;   /* int8: (rows) */
    const int32_t *rsum;  /* int8: (rows) sum of the row's int8 values */
    double bytes;
} QMat;

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
 * scale for int8 (a lookup needs no row sum). */
double qt_row_bytes(Precision p, double cols);

/* Row r of emb as float32 into out (d_model floats): a copy, a widening or a dequantisation.
 * Returns the bytes read. */
double qt_lookup(const QMat *emb, int r, float *out);

#endif
