/* kernels_q: matrix-matrix products on packed reduced-precision weights (bf16, int8, int4; the
 * layout is in quant.h). A tile of R activation rows × NP panels of 16 outputs keeps R × NP
 * accumulators in registers whose lanes are 16 outputs: each step loads one 64-byte vector per
 * panel and broadcasts 4 bytes of each activation row, so there is no horizontal sum. Every
 * output element is one lane's chain over its inputs in order (bf16: pairs 0, 1, 2, ...; int8:
 * an exact int32 sum; int4: exact int32 per block of 32, then blocks in order with fused
 * multiply-adds), whatever R, NP, the thread or the batch, so results never depend on them.
 * Portable twins do the same arithmetic in C (bf16 may differ from AVX512-BF16 in the last
 * bits: the instruction's own rounding; int8 and int4 give the same bits). */
#include "models/engine/kernels.h"

#include <math.h>
#include <string.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif
#if defined(__AVX512F__) && defined(__AVX512BF16__)
#define KQ_BF16 1
#else
#define KQ_BF16 0
#endif
#if defined(__AVX512F__) && defined(__AVX512VNNI__) && defined(__AVX512BW__)
#define KQ_VNNI 1
#else
#define KQ_VNNI 0
#endif

const char *kern_path_bf16(void)
{
    return KQ_BF16 ? "avx512-bf16" : "portable";
}

const char *kern_path_int8(void)
{
    return KQ_VNNI ? "avx512-vnni" : "portable";
}

const char *kern_path_int4(void)
{
    return KQ_VNNI ? "avx512-vnni" : "portable";
}

enum { K_BF16 = 0, K_I8 = 1, K_Q4 = 2 };

/* The operands of one packed matmul. */
typedef struct {
    float *y;
    int ldy;
    const unsigned char *x; /* activation rows: bf16, uint8 or int8 */
    long ldx;               /* bytes between activation rows */
    const float *xs;        /* int8, int4: scale per activation row */
    const int32_t *xsum;    /* int4: per row, the sum of each block of 32 activations */
    int ldsum;
    const QMat *w;
    int o_end; /* outputs past o_end are padding and never stored */
} PArgs;

#define R_MAX 6
#define NP_MAX 4

/* ---- portable twins ------------------------------------------------------------------------ */

static float bf16_element(const PArgs *a, int r, int o)
{
    const QMat *w = a->w;
    const uint16_t *x = (const uint16_t *)(const void *)(a->x + (long)r * a->ldx);
    size_t p = (size_t)o / QT_PANEL, n = (size_t)o % QT_PANEL, steps = (size_t)w->kpad / 2;
    const uint16_t *wp = w->bf16 + p * steps * QT_PANEL * 2 + n * 2;
    float lane = 0.0f;
    for (size_t j = 0; j < steps; j++, wp += QT_PANEL * 2) {
        lane = fmaf(qt_f32(x[2 * j + 1]), qt_f32(wp[1]), lane);
        lane = fmaf(qt_f32(x[2 * j]), qt_f32(wp[0]), lane);
    }
    return lane;
}

static float i8_element(const PArgs *a, int r, int o)
{
    const QMat *w = a->w;
    const uint8_t *x = a->x + (long)r * a->ldx;
    size_t p = (size_t)o / QT_PANEL, n = (size_t)o % QT_PANEL, steps = (size_t)w->kpad / 4;
    const int8_t *wp = w->i8 + p * steps * QT_PANEL * 4 + n * 4;
    int32_t acc = 0;
    for (size_t j = 0; j < steps; j++, wp += QT_PANEL * 4)
        for (int i = 0; i < 4; i++)
            acc += (int32_t)x[4 * j + (size_t)i] * (int32_t)wp[i];
    return (float)(acc - 128 * w->rsum[o]) * (a->xs[r] * w->scale[o]);
}

static float q4_element(const PArgs *a, int r, int o)
{
    const QMat *w = a->w;
    const int8_t *x = (const int8_t *)(a->x + (long)r * a->ldx);
    const int32_t *xsum = a->xsum + (long)r * a->ldsum;
    size_t p = (size_t)o / QT_PANEL, n = (size_t)o % QT_PANEL, nb = (size_t)w->kpad / QT_Q4_BLOCK;
    float acc = 0.0f;
    for (size_t b = 0; b < nb; b++) {
        const uint8_t *blk = w->q4 + (p * nb + b) * 4 * QT_PANEL * 4 + n * 4;
        int32_t isum = 0;
        for (int oc = 0; oc < 4; oc++)
            for (int j = 0; j < 4; j++) {
                uint8_t byte = blk[oc * QT_PANEL * 4 + j];
                isum += (byte & 0x0F) * (int32_t)x[b * QT_Q4_BLOCK + (size_t)(8 * oc + j)];
                isum += (byte >> 4) * (int32_t)x[b * QT_Q4_BLOCK + (size_t)(8 * oc + 4 + j)];
            }
        isum -= 8 * xsum[b];
        acc = fmaf((float)isum, qt_f32(w->q4_scale[(p * nb + b) * QT_PANEL + n]), acc);
    }
    return acc * a->xs[r];
}

static __attribute__((unused)) void tile_portable(const int kind, const int R, const int NP,
                                                  const PArgs *a, int r0, int p0)
{
    for (int r = r0; r < r0 + R; r++)
        for (int o = p0 * QT_PANEL; o < (p0 + NP) * QT_PANEL && o < a->o_end; o++)
            a->y[(long)r * a->ldy + o] = kind == K_BF16 ? bf16_element(a, r, o)
                                         : kind == K_I8 ? i8_element(a, r, o)
                                                        : q4_element(a, r, o);
}

/* ---- AVX-512 ------------------------------------------------------------------------------- */

#if KQ_BF16 || KQ_VNNI
#if defined(__GNUC__) && !defined(__clang__)
/* GCC's intrinsic casts the accumulator from __m512i (8 × int64) to 16 × int32 and back at every
 * call, which defeats its register allocation: keep int32 lanes and call the builtin. */
typedef int AccI32 __attribute__((vector_size(64)));
#define DP_I8(acc, u, s) acc = __builtin_ia32_vpdpbusd_v16si(acc, (AccI32)(u), (AccI32)(s))
#else
typedef __m512i AccI32;
#define DP_I8(acc, u, s) acc = _mm512_dpbusd_epi32(acc, u, s)
#endif
#if KQ_BF16
#define DP_BF(acc, x, w) acc = _mm512_dpbf16_ps(acc, (__m512bh)(x), (__m512bh)(w))
#else
#define DP_BF(acc, x, w) (void)0
#endif

static inline __mmask16 lanes_left(const PArgs *a, int o)
{
    int left = a->o_end - o;
    return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
}

static inline __attribute__((always_inline)) int32_t load4(const unsigned char *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* bf16 or int8: R rows from r0 × NP panels from p0 over all of k. */
static inline __attribute__((always_inline)) void tile_dp(const int kind, const int R,
                                                          const int NP, const PArgs *a, int r0,
                                                          int p0, int tn, int T)
{
    const QMat *w = a->w;
    const long steps = kind == K_BF16 ? w->kpad / 2 : w->kpad / 4, pstride = steps * 64;
    const char *wp = (kind == K_BF16 ? (const char *)w->bf16 : (const char *)w->i8) +
                     (long)p0 * pstride;
    const unsigned char *x = a->x + (long)r0 * a->ldx;
    __m512 accf[R_MAX][NP_MAX];
    AccI32 acci[R_MAX][NP_MAX];
    for (int r = 0; r < R; r++)
        for (int p = 0; p < NP; p++) {
            accf[r][p] = _mm512_setzero_ps();
            acci[r][p] = (AccI32)_mm512_setzero_si512();
        }
    long pf_next = 0, pf_step = tn * steps / T; /* this tile's first step of the next group */
    for (long j = 0; j < steps; j++) {
        __m512i wv[NP_MAX];
        for (int p = 0; p < NP; p++) {
            wv[p] = _mm512_load_si512((const void *)(wp + p * pstride + j * 64));
            __asm__("" : "+v"(wv[p]));
        }
        /* fetch the next group's weights as this group computes (past the matrix end a
         * prefetch is harmless): row tile tn of T takes every T-th step for the steps
         * [tn steps / T, (tn + 1) steps / T) of the next group, so the requests spread over
         * the group's time and come in the order the next group's first tile reads them */
        if (T == 1) { /* one row tile (decode at batch 1): a branch-free loop */
            for (int p = 0; p < NP; p++)
                _mm_prefetch(wp + (NP + p) * pstride + j * 64, _MM_HINT_T0);
        } else if (pf_next == j) {
            for (int p = 0; p < NP; p++)
                _mm_prefetch(wp + (NP + p) * pstride + pf_step * 64, _MM_HINT_T0);
            pf_next += T;
            pf_step++;
        }
        for (int r = 0; r < R; r++) {
            __m512i xb = _mm512_set1_epi32(load4(x + r * a->ldx + 4 * j));
            for (int p = 0; p < NP; p++) {
                if (kind == K_BF16)
                    DP_BF(accf[r][p], xb, wv[p]);
                else
                    DP_I8(acci[r][p], xb, wv[p]);
            }
        }
    }
    for (int p = 0; p < NP; p++) {
        int o = (p0 + p) * QT_PANEL;
        __mmask16 m = lanes_left(a, o);
        for (int r = 0; r < R; r++) {
            float *y = a->y + (long)(r0 + r) * a->ldy + o;
            if (kind == K_BF16) {
                _mm512_mask_storeu_ps(y, m, accf[r][p]);
                continue;
            }
            __m512i wsum = _mm512_maskz_loadu_epi32(m, w->rsum + o);
            __m512 ws = _mm512_maskz_loadu_ps(m, w->scale + o);
            __m512i t = _mm512_sub_epi32((__m512i)acci[r][p], _mm512_slli_epi32(wsum, 7));
            __m512 s = _mm512_mul_ps(_mm512_set1_ps(a->xs[r0 + r]), ws);
            _mm512_mask_storeu_ps(y, m, _mm512_mul_ps(_mm512_cvtepi32_ps(t), s));
        }
    }
}
#endif

#if KQ_VNNI
/* int4: per block of 32 inputs, exact int32 sums of nibble × int8 (unsigned q + 8 times signed
 * activations; 8 × the block's activation sum taken off), converted and added to float lanes
 * with the block's scales; the row's activation scale multiplies at the end. One row keeps two
 * int32 chains per panel (low and high nibbles) so the dot products do not wait on each
 * other; their sum is the same integer. */
static inline __attribute__((always_inline)) void tile_q4(const int R, const int NP,
                                                          const PArgs *a, int r0, int p0, int tn,
                                                          int T)
{
    const QMat *w = a->w;
    const long nb = w->kpad / QT_Q4_BLOCK, pstride = nb * 256;
    const unsigned char *wq = w->q4 + (long)p0 * pstride;
    const uint16_t *sc = w->q4_scale + (long)p0 * nb * QT_PANEL;
    const unsigned char *x = a->x + (long)r0 * a->ldx;
    const __m512i low = _mm512_set1_epi8(0x0F);
    __m512 accf[R_MAX][NP_MAX];
    for (int r = 0; r < R; r++)
        for (int p = 0; p < NP; p++)
            accf[r][p] = _mm512_setzero_ps();
    long pf_next = 0, pf_step = tn * nb * 4 / T;
    for (long b = 0; b < nb; b++) {
        AccI32 lo[R_MAX][NP_MAX], hi[R_MAX][NP_MAX];
        for (int r = 0; r < R; r++)
            for (int p = 0; p < NP; p++) {
                lo[r][p] = (AccI32)_mm512_setzero_si512();
                hi[r][p] = (AccI32)_mm512_setzero_si512();
            }
        for (int oc = 0; oc < 4; oc++) {
            __m512i wl[NP_MAX], wh[NP_MAX];
            long j = b * 4 + oc; /* one 64-byte line per panel per step, as in tile_dp */
            if (T == 1) {
                for (int p = 0; p < NP; p++)
                    _mm_prefetch((const char *)(wq + (NP + p) * pstride + j * 64), _MM_HINT_T0);
            } else if (pf_next == j) {
                for (int p = 0; p < NP; p++)
                    _mm_prefetch((const char *)(wq + (NP + p) * pstride + pf_step * 64),
                                 _MM_HINT_T0);
                pf_next += T;
                pf_step++;
            }
            for (int p = 0; p < NP; p++) {
                __m512i v = _mm512_load_si512((const void *)(wq + p * pstride + b * 256 + oc * 64));
                wl[p] = _mm512_and_si512(v, low);
                wh[p] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
            }
            for (int r = 0; r < R; r++) {
                const unsigned char *xr = x + r * a->ldx + b * QT_Q4_BLOCK + oc * 8;
                __m512i xl = _mm512_set1_epi32(load4(xr)), xh = _mm512_set1_epi32(load4(xr + 4));
                for (int p = 0; p < NP; p++) {
                    if (R == 1) {
                        DP_I8(lo[r][p], wl[p], xl);
                        DP_I8(hi[r][p], wh[p], xh);
                    } else {
                        DP_I8(lo[r][p], wl[p], xl);
                        DP_I8(lo[r][p], wh[p], xh);
                    }
                }
            }
        }
        for (int p = 0; p < NP; p++) {
            __m512 s = _mm512_castsi512_ps(_mm512_slli_epi32(
                _mm512_cvtepu16_epi32(
                    _mm256_load_si256((const void *)(sc + ((long)p * nb + b) * QT_PANEL))),
                16));
            for (int r = 0; r < R; r++) {
                __m512i corr = _mm512_set1_epi32(8 * a->xsum[(long)(r0 + r) * a->ldsum + b]);
                __m512i t = (__m512i)lo[r][p];
                if (R == 1)
                    t = _mm512_add_epi32(t, (__m512i)hi[r][p]);
                t = _mm512_sub_epi32(t, corr);
                accf[r][p] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t), s, accf[r][p]);
            }
        }
    }
    for (int p = 0; p < NP; p++) {
        int o = (p0 + p) * QT_PANEL;
        __mmask16 m = lanes_left(a, o);
        for (int r = 0; r < R; r++)
            _mm512_mask_storeu_ps(a->y + (long)(r0 + r) * a->ldy + o, m,
                                  _mm512_mul_ps(accf[r][p], _mm512_set1_ps(a->xs[r0 + r])));
    }
}
#endif

static inline __attribute__((always_inline)) void tile(const int kind, const int R, const int NP,
                                                       const PArgs *a, int r0, int p0, int tn,
                                                       int T)
{
    (void)tn;
    (void)T;
#if KQ_BF16
    if (kind == K_BF16) {
        tile_dp(K_BF16, R, NP, a, r0, p0, tn, T);
        return;
    }
#endif
#if KQ_VNNI
    if (kind == K_I8) {
        tile_dp(K_I8, R, NP, a, r0, p0, tn, T);
        return;
    }
    if (kind == K_Q4) {
        tile_q4(R, NP, a, r0, p0, tn, T);
        return;
    }
#endif
    tile_portable(kind, R, NP, a, r0, p0);
}

/* Every row of NP panels from p0, in tiles of R rows (R a compile-time constant), tile n of T
 * prefetching its share of the next group. */
static inline __attribute__((always_inline)) void rows_of(const int kind, const int R,
                                                          const int NP, const PArgs *a, int rows,
                                                          int p0)
{
    if (rows <= R) { /* one tile (decode at small batches): T = 1 as a constant, so the tile's
                      * loop carries no prefetch bookkeeping */
        switch (rows) {
        case 6: tile(kind, 6 <= R ? 6 : 1, NP, a, 0, p0, 0, 1); break;
        case 5: tile(kind, 5 <= R ? 5 : 1, NP, a, 0, p0, 0, 1); break;
        case 4: tile(kind, 4 <= R ? 4 : 1, NP, a, 0, p0, 0, 1); break;
        case 3: tile(kind, 3 <= R ? 3 : 1, NP, a, 0, p0, 0, 1); break;
        case 2: tile(kind, 2 <= R ? 2 : 1, NP, a, 0, p0, 0, 1); break;
        default: tile(kind, 1, NP, a, 0, p0, 0, 1); break;
        }
        return;
    }
    int r = 0, n = 0, T = (rows + R - 1) / R;
    for (; r + R <= rows; r += R, n++)
        tile(kind, R, NP, a, r, p0, n, T);
    switch (rows - r) { /* at most R - 1 rows are left */
    case 5: tile(kind, 5 < R ? 5 : 1, NP, a, r, p0, n, T); break;
    case 4: tile(kind, 4 < R ? 4 : 1, NP, a, r, p0, n, T); break;
    case 3: tile(kind, 3 < R ? 3 : 1, NP, a, r, p0, n, T); break;
    case 2: tile(kind, 2 < R ? 2 : 1, NP, a, r, p0, n, T); break;
    case 1: tile(kind, 1, NP, a, r, p0, n, T); break;
    default: break;
    }
}

/* Panels [p_begin, p_end) in groups of NP: a group's weights stay in L1/L2 while every row
 * tile passes over them, so the weights are streamed from memory once per call. */
static inline __attribute__((always_inline)) void pmatmul(const int kind, const int R,
                                                          const int NP, const PArgs *a, int rows,
                                                          int p_begin, int p_end)
{
    int p = p_begin;
    for (; p + NP <= p_end; p += NP)
        rows_of(kind, R, NP, a, rows, p);
    switch (p_end - p) {
    case 3: rows_of(kind, R, 3 < NP ? 3 : 1, a, rows, p); break;
    case 2: rows_of(kind, R, 2 < NP ? 2 : 1, a, rows, p); break;
    case 1: rows_of(kind, R, 1, a, rows, p); break;
    default: break;
    }
}

static void panel_range(int o_begin, int o_end, int *p_begin, int *p_end)
{
    *p_begin = o_begin / QT_PANEL;
    *p_end = (o_end + QT_PANEL - 1) / QT_PANEL;
}

void kern_matmul_bf16(float *y, int ldy, const uint16_t *x, int ldx, const QMat *w, int rows,
                      int o_begin, int o_end)
{
    PArgs a = {y, ldy, (const unsigned char *)x, 2L * ldx, NULL, NULL, 0, w, o_end};
    int p0, p1;
    panel_range(o_begin, o_end, &p0, &p1);
    if (rows > 16)
        pmatmul(K_BF16, 6, 4, &a, rows, p0, p1);
    else
        pmatmul(K_BF16, 4, 4, &a, rows, p0, p1);
}

void kern_matmul_i8(float *y, int ldy, const uint8_t *xu, const float *xs, int ldx,
                    const QMat *w, int rows, int o_begin, int o_end)
{
    PArgs a = {y, ldy, xu, ldx, xs, NULL, 0, w, o_end};
    int p0, p1;
    panel_range(o_begin, o_end, &p0, &p1);
    /* 6-row tiles load less per product; a decode batch of up to 16 splits evenly in 4s */
    if (rows > 16)
        pmatmul(K_I8, 6, 4, &a, rows, p0, p1);
    else
        pmatmul(K_I8, 4, 4, &a, rows, p0, p1);
}

void kern_matmul_q4(float *y, int ldy, const int8_t *x, const float *xs, const int32_t *xsum,
                    int ldx, int ldsum, const QMat *w, int rows, int o_begin, int o_end)
{
    PArgs a = {y, ldy, (const unsigned char *)x, ldx, xs, xsum, ldsum, w, o_end};
    int p0, p1;
    panel_range(o_begin, o_end, &p0, &p1);
    if (rows == 1)
        pmatmul(K_Q4, 1, 4, &a, rows, p0, p1);
    else
        pmatmul(K_Q4, 2, 4, &a, rows, p0, p1);
}
