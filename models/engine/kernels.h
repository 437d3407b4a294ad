/* kernels: the engine's numeric building blocks on float32: matrix multiply against row-major
 * weights, dot product, RMSNorm, softmax, RoPE, SwiGLU. Every output element is reduced in one
 * fixed order (16 interleaved partial sums over k, then a fixed tree), whatever the number of
 * rows processed together, the tile shape or the thread, so batched and single-row results are
 * bit-identical. AVX-512 where the compiler targets it, portable C elsewhere (same order). */
#ifndef TS_MODELS_KERNELS_H
#define TS_MODELS_KERNELS_H

#include <stdint.h>

#include "models/engine/quant.h"

/* y[r][o] = sum_k x[r][k] * w[o][k] for r < rows and o in [o_begin, o_end).
 * x: (rows, in) with row stride ldx; w: (out, in) with row stride ldw (= in for a plain
 * row-major matrix); y: (rows, out) with row stride ldy. */
void kern_matmul(float *y, int ldy, const float *x, int ldx, const float *w, int ldw, int rows,
                 int in, int o_begin, int o_end);

/* sum_k a[k] * b[k], in the same order as one element of kern_matmul. */
float kern_dot(const float *a, const float *b, int n);

/* Attention scores: sc[t] = kern_dot(q, k + t * ldk, n) for t in [0, len), the same bits
 * (16 positions at a time, their lane sums folded together). */
void kern_scores(float *sc, const float *q, const float *k, int ldk, int len, int n);

/* out[i] = weight[i] * x[i] / sqrt(mean(x^2) + eps) (llama2.c's RMSNorm). out may equal x. */
void kern_rmsnorm(float *out, const float *x, const float *weight, int n, float eps);

/* In-place exp of x[0..n) (inputs clamped to [-87, 88.7]; about 1 ulp; the same bits from
 * the vector and scalar paths). */
void kern_exp(float *x, int n);

/* In-place softmax of x[0..n). */
void kern_softmax(float *x, int n);

/* Rotates adjacent pairs (v[2i], v[2i+1]) of every head of v (n_heads × head_dim) by the angles
 * of one position: cos_t, sin_t are (head_dim / 2) for that position. */
void kern_rope(float *v, int n_heads, int head_dim, const float *cos_t, const float *sin_t);

/* a[i] = silu(a[i]) * b[i], silu(x) = x / (1 + exp(-x)). */
void kern_swiglu(float *a, const float *b, int n);

/* out[i] = sum_t p[t] * v[t][i] for i < n, summed over t = 0, 1, ... in order with fused
 * multiply-adds (attention's weighted sum of values). v rows have stride ldv. */
void kern_weighted_sum(float *out, const float *p, const float *v, int ldv, int n_rows, int n);

/* kern_weighted_sum continuing out's chains when add (each element's FMAs go on from its
 * value, in the same order), so a sum over rows split in consecutive parts is bit-identical
 * to the sum in one call; add 0 is kern_weighted_sum. */
void kern_weighted_sum_acc(float *out, const float *p, const float *v, int ldv, int n_rows,
                           int n, int add);

/* y[i] += alpha * x[i]. */
void kern_axpy(float *y, float alpha, const float *x, int n);

/* Name of the code path compiled in ("avx512" or "portable"). */
const char *kern_path(void);

/* ---- reduced precision (models/engine/quant.h holds the formats and the packed layout) ----
 * y[r][o] for r < rows and o in [o_begin, o_end), o_begin a multiple of QT_PANEL, w packed by
 * quant.c; x is w's activation form (qt_act_*) with row stride ldx elements (>= w->kpad, the
 * padding zero in value). Each element is one fixed chain over k (kernels_q.c), so tiles,
 * batches and threads never change a result.
 * bf16: sum over pairs j = 0, 1, ... of x[2j+1] w[2j+1] then x[2j] w[2j], in float32 (AVX512-BF16's
 * dot product; the portable path may differ from it in the last bits, the instruction's own
 * rounding). */
void kern_matmul_bf16(float *y, int ldy, const uint16_t *x, int ldx, const QMat *w, int rows,
                      int o_begin, int o_end);

/* int8: y = (sum_k xu[k] w[k] - 128 w->rsum[o]) * (xs[r] * w->scale[o]), the sum exact in int32
 * (VNNI, or plain integers: the same bits). w->kpad must be at most 65536. */
void kern_matmul_i8(float *y, int ldy, const uint8_t *xu, const float *xs, int ldx,
                    const QMat *w, int rows, int o_begin, int o_end);

/* int4: y = xs[r] * sum over blocks b in order of fma(isum_b, scale[o][b]), isum_b the exact
 * int32 sum over the block of (q + 8) x - 8 xsum[r][b] (x: qt_act_i8's int8 values, xsum its
 * block sums with row stride ldsum). Vector and portable paths give the same bits. */
void kern_matmul_q4(float *y, int ldy, const int8_t *x, const float *xs, const int32_t *xsum,
                    int ldx, int ldsum, const QMat *w, int rows, int o_begin, int o_end);

/* kern_dot with b in bf16 (widened exactly; the same lanes and fold as kern_dot). */
float kern_dot_bf16(const float *a, const uint16_t *b, int n);

/* kern_scores with k in bf16: sc[t] = kern_dot_bf16(q, k + t * ldk, n), the same bits. */
void kern_scores_bf16(float *sc, const float *q, const uint16_t *k, int ldk, int len, int n);

/* kern_weighted_sum with v in bf16 (widened exactly). */
void kern_weighted_sum_bf16(float *out, const float *p, const uint16_t *v, int ldv, int n_rows,
                            int n);

/* kern_weighted_sum_bf16 continuing out's chains when add (see kern_weighted_sum_acc). */
void kern_weighted_sum_bf16_acc(float *out, const float *p, const uint16_t *v, int ldv,
                                int n_rows, int n, int add);

/* Code paths of the reduced-precision kernels: "avx512-bf16" or "portable", "avx512-vnni" or
 * "portable" (int8 and int4). */
const char *kern_path_bf16(void);
const char *kern_path_int8(void);
const char *kern_path_int4(void);

#endif
