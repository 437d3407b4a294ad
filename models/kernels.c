/* kernels: register-tiled matmul (up to 4 rows × 6 outputs per tile, 16 lanes along k) and
 * the element-wise ops of the transformer. The reduction order of an output element is: lane
 * l sums k = l, l+16, l+32, ... with fused multiply-adds, then lanes fold l + 8, l + 4, l + 2,
 * l + 1. The portable path does exactly that with fmaf, so it gives the same bits. */
#include "kernels.h"

#include <math.h>
#include <string.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#define KERN_AVX512 1
#else
#define KERN_AVX512 0
#endif

#define MR 4 /* rows per tile */
#define NR 6 /* outputs per tile */

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

/* One R × N tile; R and N are compile-time constants at every call site, so the loops unroll
 * and the accumulators stay in registers. */
static inline __attribute__((always_inline)) void tile(const int R, const int N, float *y,
                                                       int ldy, const float *x, int ldx,
                                                       const float *w, int in)
{
    __m512 acc[MR][NR];
    for (int r = 0; r < R; r++)
        for (int n = 0; n < N; n++)
            acc[r][n] = _mm512_setzero_ps();
    int k = 0;
    for (; k + 16 <= in; k += 16) {
        __m512 wv[NR];
        for (int n = 0; n < N; n++)
            wv[n] = _mm512_loadu_ps(w + (long)n * in + k);
        /* Single-row tiles stream weights from memory: fetch the next tile's rows while this
         * one computes (a prefetch past the matrix end is harmless). */
        if (R == 1)
            for (int n = 0; n < N; n++)
                _mm_prefetch((const char *)(w + (long)(N + n) * in + k), _MM_HINT_T0);
        for (int r = 0; r < R; r++) {
            __m512 xv = _mm512_loadu_ps(x + (long)r * ldx + k);
            for (int n = 0; n < N; n++)
                acc[r][n] = _mm512_fmadd_ps(xv, wv[n], acc[r][n]);
        }
    }
    if (k < in) {
        __mmask16 m = (__mmask16)((1u << (in - k)) - 1u);
        __m512 wv[NR];
        for (int n = 0; n < N; n++)
            wv[n] = _mm512_maskz_loadu_ps(m, w + (long)n * in + k);
        for (int r = 0; r < R; r++) {
            __m512 xv = _mm512_maskz_loadu_ps(m, x + (long)r * ldx + k);
            for (int n = 0; n < N; n++)
                acc[r][n] = _mm512_fmadd_ps(xv, wv[n], acc[r][n]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int n = 0; n < N; n++)
            y[(long)r * ldy + n] = hsum16(acc[r][n]);
}

float kern_dot(const float *a, const float *b, int n)
{
    float out;
    tile(1, 1, &out, 1, a, n, b, n);
    return out;
}

#else /* portable: the same arithmetic, lane by lane */

static float fold16(const float *l)
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

float kern_dot(const float *a, const float *b, int n)
{
    float lane[16] = {0};
    for (int k = 0; k < n; k++)
        lane[k % 16] = fmaf(a[k], b[k], lane[k % 16]);
    return fold16(lane);
}

static void tile(const int R, const int N, float *y, int ldy, const float *x, int ldx,
                 const float *w, int in)
{
    for (int r = 0; r < R; r++)
        for (int n = 0; n < N; n++)
            y[(long)r * ldy + n] = kern_dot(x + (long)r * ldx, w + (long)n * in, in);
}

#endif

/* Runs the rows of one block of N outputs in tiles of up to MR rows. */
static inline __attribute__((always_inline)) void column(const int N, float *y, int ldy,
                                                         const float *x, int ldx, const float *w,
                                                         int rows, int in)
{
    int r = 0;
    for (; r + MR <= rows; r += MR)
        tile(MR, N, y + (long)r * ldy, ldy, x + (long)r * ldx, ldx, w, in);
    switch (rows - r) {
    case 3: tile(3, N, y + (long)r * ldy, ldy, x + (long)r * ldx, ldx, w, in); break;
    case 2: tile(2, N, y + (long)r * ldy, ldy, x + (long)r * ldx, ldx, w, in); break;
    case 1: tile(1, N, y + (long)r * ldy, ldy, x + (long)r * ldx, ldx, w, in); break;
    default: break;
    }
}

void kern_matmul(float *y, int ldy, const float *x, int ldx, const float *w, int rows, int in,
                 int o_begin, int o_end)
{
    int o = o_begin;
    for (; o + NR <= o_end; o += NR)
        column(NR, y + o, ldy, x, ldx, w + (long)o * in, rows, in);
    switch (o_end - o) {
    case 5: column(5, y + o, ldy, x, ldx, w + (long)o * in, rows, in); break;
    case 4: column(4, y + o, ldy, x, ldx, w + (long)o * in, rows, in); break;
    case 3: column(3, y + o, ldy, x, ldx, w + (long)o * in, rows, in); break;
    case 2: column(2, y + o, ldy, x, ldx, w + (long)o * in, rows, in); break;
    case 1: column(1, y + o, ldy, x, ldx, w + (long)o * in, rows, in); break;
    default: break;
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

void kern_softmax(float *x, int n)
{
    float max = x[0];
    for (int i = 1; i < n; i++)
        if (x[i] > max)
            max = x[i];
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
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
    for (int i = 0; i < n; i++) {
        float g = a[i];
        g = g * (1.0f / (1.0f + expf(-g)));
        a[i] = g * b[i];
    }
}

void kern_axpy(float *y, float alpha, const float *x, int n)
{
    for (int i = 0; i < n; i++)
        y[i] += alpha * x[i];
}
