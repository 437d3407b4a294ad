/* kernels: register-tiled matmul (up to 4 rows × 6 outputs per tile, 16 lanes along k) and
 * the element-wise ops of the transformer. The reduction order of an output element is: lane
 * l sums k = l, l+16, l+32, ... with fused multiply-adds, then lanes fold l + 8, l + 4, l + 2,
 * l + 1. The portable path does exactly that with fmaf, so it gives the same bits. */
#include "models/engine/kernels.h"
#include "models/engine/quant.h"

#include <math.h>
#include <string.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#define KERN_AVX512 1
#else
#define KERN_AVX512 0
#endif

/* Tile shapes: 4 rows × 6 outputs while 6 weight rows fit in L1 (in <= 1024 floats), else
 * 8 rows × 3 outputs. The shape never changes an element's reduction order. */
#define MR_MAX 8
#define NR_MAX 6
#define SMALL_IN 256

/* The lanes' fixed fold (l + 8, l + 4, l + 2, l + 1) in scalar code. */
static __attribute__((unused)) float fold16(const float *l)
{
    float s8[8], s4[4], s2[2];
    for (int i = 0; i < 8; i++)
        s8[i] = l[i] + l[i + 8];
    for (int i = 0; i < 4; i++)
        s4[i] = s8[i] + s8[i + 4];
    for (int i = 0; i < 2; i++)
        s2[i] = s4[i] + s4[i + 2];
    return s2[0] + s2[1];
}

const char *kern_path(void)
{
    return KERN_AVX512 ? "avx512" : "portable";
}

#if KERN_AVX512

static inline float hsum16(__m512 v)
{
    __m256 lo = _mm512_castps512_ps256(v);
    __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
    __m256 s8 = _mm256_add_ps(lo, hi);                                    /* l + 8 */
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1)); /* l + 4 */
    __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));                    /* l + 2 */
    __m128 s1 = _mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1));                /* l + 1 */
    return _mm_cvtss_f32(s1);
}

/* One R × N tile over k in [k0, k1); R and N are compile-time constants at every call site, so
 * the loops unroll and the accumulators stay in registers. With first, the lanes start at zero,
 * else from part; with last, they fold into y, else they are saved to part (16 floats per
 * element, element (r, n) at part + (r * ldp + n) * 16). Splitting k this way keeps every
 * lane's sequence of FMAs, so the result is the same bits as one pass. Every tile prefetches
 * the next N outputs' weights at its k, so a column's tiles fetch the next column while they
 * compute: a decode step's first tile of a column no longer waits on memory (the later tiles'
 * prefetches find the lines already on their way and cost little). */
static inline __attribute__((always_inline)) void tile(const int R, const int N, float *y,
                                                       int ldy, const float *x, int ldx,
                                                       const float *w, int ldw, int k0, int k1,
                                                       float *part, int ldp, int first,
                                                       int last)
{
    __m512 acc[MR_MAX][NR_MAX];
    for (int r = 0; r < R; r++)
        for (int n = 0; n < N; n++)
            acc[r][n] = first ? _mm512_setzero_ps()
                              : _mm512_loadu_ps(part + ((long)r * ldp + n) * 16);
    int k = k0;
    for (; k + 16 <= k1; k += 16) {
        __m512 wv[NR_MAX];
        for (int n = 0; n < N; n++) {
            wv[n] = _mm512_loadu_ps(w + (long)n * ldw + k);
            /* Keep the weights in registers: folded into each FMA as a memory operand they
             * would be loaded once per row, and the loads, not the FMAs, would set the pace. */
            __asm__("" : "+v"(wv[n]));
        }
        /* the next column's weights (a prefetch past the matrix end is harmless) */
        for (int n = 0; n < N; n++)
            _mm_prefetch((const char *)(w + (long)(N + n) * ldw + k), _MM_HINT_T0);
        for (int r = 0; r < R; r++) {
            __m512 xv = _mm512_loadu_ps(x + (long)r * ldx + k);
            __asm__("" : "+v"(xv));
            for (int n = 0; n < N; n++)
                acc[r][n] = _mm512_fmadd_ps(xv, wv[n], acc[r][n]);
        }
    }
    if (k < k1) { /* only at the end of k: blocks are multiples of 16 */
        __mmask16 m = (__mmask16)((1u << (k1 - k)) - 1u);
        __m512 wv[NR_MAX];
        for (int n = 0; n < N; n++)
            wv[n] = _mm512_maskz_loadu_ps(m, w + (long)n * ldw + k);
        for (int r = 0; r < R; r++) {
            __m512 xv = _mm512_maskz_loadu_ps(m, x + (long)r * ldx + k);
            for (int n = 0; n < N; n++)
                acc[r][n] = _mm512_fmadd_ps(xv, wv[n], acc[r][n]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int n = 0; n < N; n++) {
            if (last)
                y[(long)r * ldy + n] = hsum16(acc[r][n]);
            else
                _mm512_storeu_ps(part + ((long)r * ldp + n) * 16, acc[r][n]);
        }
}

float kern_dot(const float *a, const float *b, int n)
{
    float out;
    tile(1, 1, &out, 1, a, n, b, n, 0, n, NULL, 0, 1, 1);
    return out;
}

#else /* portable: the same arithmetic, lane by lane */

float kern_dot(const float *a, const float *b, int n)
{
    float lane[16] = {0};
    for (int k = 0; k < n; k++)
        lane[k % 16] = fmaf(a[k], b[k], lane[k % 16]);
    return fold16(lane);
}

/* The same contract as the AVX-512 tile: lanes of element (r, n) live in part between k
 * blocks. */
static void tile(const int R, const int N, float *y, int ldy, const float *x, int ldx,
                 const float *w, int ldw, int k0, int k1, float *part, int ldp, int first,
                 int last)
{
    for (int r = 0; r < R; r++)
        for (int n = 0; n < N; n++) {
            float lane[16] = {0};
            float *saved = part ? part + ((long)r * ldp + n) * 16 : NULL;
            if (!first)
                memcpy(lane, saved, sizeof lane);
            const float *a = x + (long)r * ldx, *b = w + (long)n * ldw;
            for (int k = k0; k < k1; k++)
                lane[k % 16] = fmaf(a[k], b[k], lane[k % 16]);
            if (last)
                y[(long)r * ldy + n] = fold16(lane);
            else
                memcpy(saved, lane, sizeof lane);
        }
}

#endif

/* Runs rows [0, rows) of one block of N outputs over k in [k0, k1) in tiles of up to MR rows;
 * part/ldp/first/last as for tile, with part indexed from row 0 and this block's output 0. */
static inline __attribute__((always_inline)) void column(const int MR, const int N, float *y,
                                                         int ldy, const float *x, int ldx,
                                                         const float *w, int ldw, int rows,
                                                         int k0, int k1, float *part, int ldp,
                                                         int first, int last)
{
    int r = 0;
    for (; r + MR <= rows; r += MR)
        tile(MR, N, y + (long)r * ldy, ldy, x + (long)r * ldx, ldx, w, ldw, k0, k1,
             part ? part + (long)r * ldp * 16 : NULL, ldp, first, last);
    float *yr = y + (long)r * ldy;
    const float *xr = x + (long)r * ldx;
    float *pr = part ? part + (long)r * ldp * 16 : NULL;
#define TAIL(R) tile(R, N, yr, ldy, xr, ldx, w, ldw, k0, k1, pr, ldp, first, last)
    switch (rows - r) {
    case 3: TAIL(3); break;
    case 2: TAIL(2); break;
    case 1: TAIL(1); break;
    default: break;
    }
#undef TAIL
}

static inline __attribute__((always_inline)) void matmul_shape(const int MR, const int NR,
                                                               float *y, int ldy, const float *x,
                                                               int ldx, const float *w, int ldw,
                                                               int rows, int o_begin, int o_end,
                                                               int k0, int k1, float *part,
                                                               int ldp, int first, int last)
{
    int o = o_begin;
    for (; o + NR <= o_end; o += NR)
        column(MR, NR, y + o, ldy, x, ldx, w + (long)o * ldw, ldw, rows, k0, k1,
               part ? part + (long)(o - o_begin) * 16 : NULL, ldp, first, last);
    float *yo = y + o;
    const float *wo = w + (long)o * ldw;
    float *po = part ? part + (long)(o - o_begin) * 16 : NULL;
#define TAIL(N) column(MR, N, yo, ldy, x, ldx, wo, ldw, rows, k0, k1, po, ldp, first, last)
    switch (o_end - o) {
    case 5: TAIL(5 < NR ? 5 : 1); break;
    case 4: TAIL(4 < NR ? 4 : 1); break;
    case 3: TAIL(3 < NR ? 3 : 1); break;
    case 2: TAIL(2); break;
    case 1: TAIL(1); break;
    default: break;
    }
#undef TAIL
}

/* With more rows than a decode batch and long inputs (in > SMALL_IN), a whole tile's rows do
 * not stay in L1: walk k in blocks of KB over blocks of RB rows × OB outputs, keeping the lanes
 * in a stack scratch between k blocks. */
#define KB 512
#define RB 32
#define OB 48
/* Up to a decode batch's rows, the rows' inputs stay in L2 whole: one pass over k per column,
 * the weights streamed once while the column's row tiles compute. */
#define DECODE_ROWS 16

void kern_matmul(float *y, int ldy, const float *x, int ldx, const float *w, int ldw, int rows,
                 int in, int o_begin, int o_end)
{
    if (in <= SMALL_IN || rows <= DECODE_ROWS) {
        matmul_shape(4, 6, y, ldy, x, ldx, w, ldw, rows, o_begin, o_end, 0, in, NULL, 0, 1, 1);
        return;
    }
    float part[RB * OB * 16];
    for (int r0 = 0; r0 < rows; r0 += RB) {
        int nr = rows - r0 < RB ? rows - r0 : RB;
        for (int o0 = o_begin; o0 < o_end; o0 += OB) {
            int o1 = o_end - o0 < OB ? o_end : o0 + OB;
            for (int k0 = 0; k0 < in; k0 += KB) {
                int k1 = in - k0 < KB ? in : k0 + KB;
                matmul_shape(4, 6, y + (long)r0 * ldy, ldy, x + (long)r0 * ldx, ldx, w, ldw, nr,
                             o0, o1, k0, k1, part, OB, k0 == 0, k1 == in);
            }
        }
    }
}

void kern_rmsnorm(float *out, const float *x, const float *weight, int n, float eps)
{
    float ss = kern_dot(x, x, n);
    ss = ss / (float)n + eps;
    ss = 1.0f / sqrtf(ss);
    for (int i = 0; i < n; i++)
        out[i] = weight[i] * (ss * x[i]);
}

/* exp(x) for x in [-87, 88.7] (clamped there, so results stay normal floats): x = n ln2 + r,
 * |r| <= ln2 / 2, exp(r) by a degree-7 Taylor polynomial in Horner form with FMAs, times 2^n.
 * About 1 ulp. The scalar and vector forms do the same operations, so they agree bit for bit,
 * and the vector form is several times faster than libm's expf, which SwiGLU and softmax
 * call once per element. */
#define EXP_LO -87.0f
#define EXP_HI 88.7f
#define LOG2E 1.44269504088896341f
#define LN2_HI 0.693145751953125f
#define LN2_LO 1.42860682030941723e-6f

static const float EXP_C[8] = {1.0f / 5040, 1.0f / 720, 1.0f / 120, 1.0f / 24,
                               1.0f / 6,    0.5f,       1.0f,       1.0f};

static float exp_scalar(float x)
{
    x = x < EXP_LO ? EXP_LO : x > EXP_HI ? EXP_HI : x;
    float n = nearbyintf(x * LOG2E);
    float r = fmaf(-n, LN2_HI, x);
    r = fmaf(-n, LN2_LO, r);
    float p = EXP_C[0];
    for (int i = 1; i < 8; i++)
        p = fmaf(p, r, EXP_C[i]);
    return ldexpf(p, (int)n);
}

void kern_exp(float *x, int n)
{
    int i = 0;
#if KERN_AVX512
    const __m512 lo = _mm512_set1_ps(EXP_LO), hi = _mm512_set1_ps(EXP_HI);
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_min_ps(_mm512_max_ps(_mm512_loadu_ps(x + i), lo), hi);
        __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(v, _mm512_set1_ps(LOG2E)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(LN2_HI), v);
        r = _mm512_fnmadd_ps(k, _mm512_set1_ps(LN2_LO), r);
        __m512 p = _mm512_set1_ps(EXP_C[0]);
        for (int c = 1; c < 8; c++)
            p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EXP_C[c]));
        _mm512_storeu_ps(x + i, _mm512_scalef_ps(p, k));
    }
    if (i < n) { /* the tail in one masked pass (ldexpf per element cost more than the rest) */
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        __m512 v = _mm512_min_ps(_mm512_max_ps(_mm512_maskz_loadu_ps(m, x + i), lo), hi);
        __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(v, _mm512_set1_ps(LOG2E)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(LN2_HI), v);
        r = _mm512_fnmadd_ps(k, _mm512_set1_ps(LN2_LO), r);
        __m512 p = _mm512_set1_ps(EXP_C[0]);
        for (int c = 1; c < 8; c++)
            p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EXP_C[c]));
        _mm512_mask_storeu_ps(x + i, m, _mm512_scalef_ps(p, k));
        i = n;
    }
#endif
    for (; i < n; i++)
        x[i] = exp_scalar(x[i]);
}

void kern_softmax(float *x, int n)
{
    float max = x[0];
    for (int i = 1; i < n; i++)
        if (x[i] > max)
            max = x[i];
    for (int i = 0; i < n; i++)
        x[i] -= max;
    kern_exp(x, n);
    float sum = 0.0f;
    for (int i = 0; i < n; i++)
        sum += x[i];
    for (int i = 0; i < n; i++)
        x[i] /= sum;
}

void kern_rope(float *v, int n_heads, int head_dim, const float *cos_t, const float *sin_t)
{
    for (int h = 0; h < n_heads; h++) {
        float *p = v + (long)h * head_dim;
        for (int i = 0; i < head_dim / 2; i++) {
            float v0 = p[2 * i], v1 = p[2 * i + 1];
            p[2 * i] = v0 * cos_t[i] - v1 * sin_t[i];
            p[2 * i + 1] = v0 * sin_t[i] + v1 * cos_t[i];
        }
    }
}

void kern_swiglu(float *a, const float *b, int n)
{
    /* silu(g) = g / (1 + exp(-g)), exponentials a block at a time */
    float e[256];
    for (int i0 = 0; i0 < n; i0 += 256) {
        int m = n - i0 < 256 ? n - i0 : 256;
        for (int i = 0; i < m; i++)
            e[i] = -a[i0 + i];
        kern_exp(e, m);
        for (int i = 0; i < m; i++) {
            float g = a[i0 + i];
            a[i0 + i] = g * (1.0f / (1.0f + e[i])) * b[i0 + i];
        }
    }
}

void kern_weighted_sum(float *out, const float *p, const float *v, int ldv, int n_rows, int n)
{
    kern_weighted_sum_acc(out, p, v, ldv, n_rows, n, 0);
}

#if KERN_AVX512
/* NV (a compile-time constant) 16-lane accumulators over up to 64 columns from out, the last
 * masked by `last`: with NV known the accumulators stay in registers (an array indexed by a
 * run-time count is kept on the stack, and every FMA then waits on a store and a load). */
static inline __attribute__((always_inline)) void wsum_block(const int NV, float *out,
                                                             const float *p, const float *v,
                                                             int ldv, int n_rows, __mmask16 last,
                                                             int add)
{
    __m512 acc[4];
    for (int j = 0; j < NV; j++)
        acc[j] = add ? _mm512_maskz_loadu_ps(j == NV - 1 ? last : (__mmask16)0xFFFFu,
                                             out + 16 * j)
                     : _mm512_setzero_ps();
    for (int t = 0; t < n_rows; t++) {
        __m512 pt = _mm512_set1_ps(p[t]);
        const float *vt = v + (long)t * ldv;
        for (int j = 0; j < NV; j++)
            acc[j] = _mm512_fmadd_ps(
                pt, _mm512_maskz_loadu_ps(j == NV - 1 ? last : (__mmask16)0xFFFFu, vt + 16 * j),
                acc[j]);
    }
    for (int j = 0; j < NV; j++)
        _mm512_mask_storeu_ps(out + 16 * j, j == NV - 1 ? last : (__mmask16)0xFFFFu, acc[j]);
}
#endif

void kern_weighted_sum_acc(float *out, const float *p, const float *v, int ldv, int n_rows,
                           int n, int add)
{
    for (int i0 = 0; i0 < n; i0 += 64) {
        int width = n - i0 < 64 ? n - i0 : 64;
#if KERN_AVX512
        /* up to four 16-lane accumulators; the last one masked when width is not a multiple */
        __mmask16 last = (__mmask16)(width % 16 ? (1u << (width % 16)) - 1u : 0xFFFFu);
        switch ((width + 15) / 16) {
        case 4: wsum_block(4, out + i0, p, v + i0, ldv, n_rows, last, add); break;
        case 3: wsum_block(3, out + i0, p, v + i0, ldv, n_rows, last, add); break;
        case 2: wsum_block(2, out + i0, p, v + i0, ldv, n_rows, last, add); break;
        default: wsum_block(1, out + i0, p, v + i0, ldv, n_rows, last, add); break;
        }
#else
        for (int i = i0; i < i0 + width; i++) {
            float acc = add ? out[i] : 0.0f;
            for (int t = 0; t < n_rows; t++)
                acc = fmaf(p[t], v[(long)t * ldv + i], acc);
            out[i] = acc;
        }
#endif
    }
}

void kern_axpy(float *y, float alpha, const float *x, int n)
{
    for (int i = 0; i < n; i++)
        y[i] += alpha * x[i];
}

/* ---- attention scores -------------------------------------------------------------------- */

#if KERN_AVX512
/* Folds 16 accumulators at once: lane j of the result is a[j]'s lanes folded l + 8, l + 4,
 * l + 2, l + 1 (hsum16's order, so the same bits) with 15 adds and shuffles between vectors,
 * instead of 16 separate horizontal sums. */
static inline __m512 fold16x16(const __m512 a[16])
{
    __m512 c[8], d[4], f[2];
    for (int j = 0; j < 8; j++) /* l + 8: outputs 2j, 2j + 1 in lanes 0-7, 8-15 */
        c[j] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * j], a[2 * j + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_f32x4(a[2 * j], a[2 * j + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    for (int j = 0; j < 4; j++) /* l + 4: outputs 4j .. 4j + 3, one per 128-bit quarter */
        d[j] = _mm512_add_ps(_mm512_shuffle_f32x4(c[2 * j], c[2 * j + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm512_shuffle_f32x4(c[2 * j], c[2 * j + 1], _MM_SHUFFLE(3, 1, 3, 1)));
    for (int j = 0; j < 2; j++) { /* l + 2: quarter q holds outputs 8j + q and 8j + 4 + q */
        __m512d x = _mm512_castps_pd(d[2 * j]), y = _mm512_castps_pd(d[2 * j + 1]);
        f[j] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(x, y)),
                             _mm512_castpd_ps(_mm512_unpackhi_pd(x, y)));
    }
    /* l + 1: lane 4q + m holds output q + 4m */
    __m512 r = _mm512_add_ps(_mm512_shuffle_ps(f[0], f[1], _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm512_shuffle_ps(f[0], f[1], _MM_SHUFFLE(3, 1, 3, 1)));
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm512_permutexvar_ps(order, r);
}

/* 16 bf16 or float32 values from p as float32 (masked: zeros past m). */
static inline __m512 load_kv(const int bf16, const void *p, __mmask16 m)
{
    if (bf16)
        return _mm512_castsi512_ps(
            _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p)), 16));
    return _mm512_maskz_loadu_ps(m, p);
}

/* One pass of 16 positions from k (rows ldkb bytes apart) for n <= 16 NV: q stays in NV
 * registers; each position's lanes chain over q's 16-wide chunks in order (kern_dot's lanes),
 * then the 16 are folded together. The rows 16 positions on (the next pass) are prefetched
 * when `ahead`: the cache rows come from memory at a stride the prefetchers follow poorly. */
static inline __attribute__((always_inline)) void scores_pass(const int bf16, const int NV,
                                                             float *sc, const float *q,
                                                             const char *k, long ldkb, int n,
                                                             int ahead)
{
    const int eb = bf16 ? 2 : 4;
    __m512 qv[4];
    __mmask16 mk[4];
    for (int c = 0; c < NV; c++) {
        int left = n - 16 * c;
        mk[c] = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
        qv[c] = _mm512_maskz_loadu_ps(mk[c], q + 16 * c);
    }
    __m512 acc[16];
    const char *kt = k;
    for (int t = 0; t < 16; t++, kt += ldkb) {
        if (ahead)
            for (int c = 0; c < (NV * 16 * eb + 63) / 64; c++)
                _mm_prefetch(kt + 16 * ldkb + 64 * c, _MM_HINT_T0);
        __m512 a = _mm512_setzero_ps();
        for (int c = 0; c < NV; c++)
            a = _mm512_fmadd_ps(qv[c], load_kv(bf16, kt + 16 * c * eb, mk[c]), a);
        acc[t] = a;
    }
    _mm512_storeu_ps(sc, fold16x16(acc));
}

/* sc[t] = q · k_t for t < len: whole passes of 16 positions while they last, the rest (and a
 * head size over 64) one dot product at a time, the same bits either way. */
static inline __attribute__((always_inline)) void scores16(const int bf16, float *sc,
                                                          const float *q, const void *k,
                                                          int ldk, int len, int n)
{
    const long ldkb = (long)ldk * (bf16 ? 2 : 4);
    const char *kc = k;
    int t0 = 0;
    for (; n <= 64 && t0 + 16 <= len; t0 += 16, kc += 16 * ldkb) {
        int ahead = t0 + 32 <= len;
        switch ((n + 15) / 16) {
        case 1: scores_pass(bf16, 1, sc + t0, q, kc, ldkb, n, ahead); break;
        case 2: scores_pass(bf16, 2, sc + t0, q, kc, ldkb, n, ahead); break;
        case 3: scores_pass(bf16, 3, sc + t0, q, kc, ldkb, n, ahead); break;
        default: scores_pass(bf16, 4, sc + t0, q, kc, ldkb, n, ahead); break;
        }
    }
    for (; t0 < len; t0++, kc += ldkb)
        sc[t0] = bf16 ? kern_dot_bf16(q, (const uint16_t *)(const void *)kc, n)
                      : kern_dot(q, (const float *)(const void *)kc, n);
}
#endif

void kern_scores(float *sc, const float *q, const float *k, int ldk, int len, int n)
{
#if KERN_AVX512
    scores16(0, sc, q, k, ldk, len, n);
#else
    for (int t = 0; t < len; t++)
        sc[t] = kern_dot(q, k + (long)t * ldk, n);
#endif
}

void kern_scores_bf16(float *sc, const float *q, const uint16_t *k, int ldk, int len, int n)
{
#if KERN_AVX512
    scores16(1, sc, q, k, ldk, len, n);
#else
    for (int t = 0; t < len; t++)
        sc[t] = kern_dot_bf16(q, k + (long)t * ldk, n);
#endif
}

/* ---- reduced precision --------------------------------------------------------------------- */

float kern_dot_bf16(const float *a, const uint16_t *b, int n)
{
#if KERN_AVX512
    __m512 acc = _mm512_setzero_ps();
    int k = 0;
    for (; k + 16 <= n; k += 16) {
        __m512i bw = _mm512_slli_epi32(
            _mm512_cvtepu16_epi32(_mm256_loadu_si256((const void *)(b + k))), 16);
        acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + k), _mm512_castsi512_ps(bw), acc);
    }
    if (k < n) {
        __mmask16 m = (__mmask16)((1u << (n - k)) - 1u);
        __m512i bw = _mm512_slli_epi32(
            _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, b + k)), 16);
        acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + k), _mm512_castsi512_ps(bw), acc);
    }
    return hsum16(acc);
#else
    float lane[16] = {0};
    for (int k = 0; k < n; k++)
        lane[k % 16] = fmaf(a[k], qt_f32(b[k]), lane[k % 16]);
    return fold16(lane);
#endif
}

void kern_weighted_sum_bf16(float *out, const float *p, const uint16_t *v, int ldv, int n_rows,
                            int n)
{
    kern_weighted_sum_bf16_acc(out, p, v, ldv, n_rows, n, 0);
}

void kern_weighted_sum_bf16_acc(float *out, const float *p, const uint16_t *v, int ldv,
                                int n_rows, int n, int add)
{
    int i = 0;
#if KERN_AVX512
    for (; i + 16 <= n; i += 16) {
        __m512 acc = add ? _mm512_loadu_ps(out + i) : _mm512_setzero_ps();
        for (int t = 0; t < n_rows; t++) {
            __m512i vw = _mm512_slli_epi32(
                _mm512_cvtepu16_epi32(_mm256_loadu_si256((const void *)(v + (long)t * ldv + i))),
                16);
            acc = _mm512_fmadd_ps(_mm512_set1_ps(p[t]), _mm512_castsi512_ps(vw), acc);
        }
        _mm512_storeu_ps(out + i, acc);
    }
#endif
    for (; i < n; i++) {
        float acc = add ? out[i] : 0.0f;
        for (int t = 0; t < n_rows; t++)
            acc = fmaf(p[t], qt_f32(v[(long)t * ldv + i]), acc);
        out[i] = acc;
    }
}
