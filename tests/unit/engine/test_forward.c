/* Unit tests of models/engine/kernels.c and models/engine/forward.c: each kernel against a naive double
 * reference; the whole forward pass (dense and MoE, prefill and decode, batch 1 and > 1)
 * against a plain reference implementation kept here; bit-identical results across thread
 * counts, batch composition and prefill-versus-decode; counters equal to the closed form. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/engine/forward.h"
#include "models/engine/kernels.h"
#include "models/engine/quant.h"

/* ---- kernels ------------------------------------------------------------------------------ */

static float frand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) & 0xFFFFFF) / 8388608.0f - 1.0f;
}

static void test_matmul_matches_naive_for_odd_sizes(void **state)
{
    (void)state;
    uint64_t seed = 7;
    /* rows, in, out: 1 row, 2 to 3 rows, the unblocked decode shapes (to 16 rows, several row
     * tiles per column), and the blocked shapes past them (in beyond SMALL_IN) */
    int sizes[][3] = {{1, 1, 1},     {5, 37, 13},    {4, 16, 6},     {7, 33, 17},
                      {9, 300, 25},  {3, 1100, 7},   {16, 1100, 13}, {13, 4097, 8},
                      {33, 1100, 50}};
    for (size_t c = 0; c < sizeof sizes / sizeof sizes[0]; c++) {
        int rows = sizes[c][0], in = sizes[c][1], out = sizes[c][2];
        float *x = malloc(sizeof(float) * (size_t)(rows * in));
        float *w = malloc(sizeof(float) * (size_t)(out * in));
        float *y = malloc(sizeof(float) * (size_t)(rows * out));
        for (int i = 0; i < rows * in; i++)
            x[i] = frand(&seed);
        for (int i = 0; i < out * in; i++)
            w[i] = frand(&seed);
        kern_matmul(y, out, x, in, w, in, rows, in, 0, out);
        double maxdiff = 0;
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < out; o++) {
                double ref = 0;
                for (int k = 0; k < in; k++)
                    ref += (double)x[r * in + k] * w[o * in + k];
                double d = fabs(ref - y[r * out + o]);
                if (d > maxdiff)
                    maxdiff = d;
            }
        if (maxdiff > 1e-4) {
            print_error("rows %d in %d out %d: max difference %g\n", rows, in, out, maxdiff);
            fail();
        }
        /* a sub-range of outputs and a single row give the same bits as the full call */
        float one;
        kern_matmul(&one, 1, x + (rows - 1) * in, in, w + (out - 1) * in, in, 1, in, 0, 1);
        assert_memory_equal(&one, &y[(rows - 1) * out + out - 1], sizeof one);
        free(x);
        free(w);
        free(y);
    }
}

static void test_dot_rmsnorm_softmax_rope_match_naive(void **state)
{
    (void)state;
    uint64_t seed = 11;
    float a[40], b[40], out[40], wt[40];
    for (int i = 0; i < 40; i++) {
        a[i] = frand(&seed);
        b[i] = frand(&seed);
        wt[i] = frand(&seed);
    }
    double ref = 0;
    for (int i = 0; i < 40; i++)
        ref += (double)a[i] * b[i];
    assert_close(kern_dot(a, b, 40), ref, 1e-5, 1e-6);

    double ss = 0;
    for (int i = 0; i < 40; i++)
        ss += (double)a[i] * a[i];
    double inv = 1.0 / sqrt(ss / 40 + 1e-5);
    kern_rmsnorm(out, a, wt, 40, 1e-5f);
    for (int i = 0; i < 40; i++)
        assert_close(out[i], wt[i] * a[i] * inv, 1e-5, 1e-6);

    float p[5] = {1, 2, 3, 4, 5};
    kern_softmax(p, 5);
    double z = 0;
    for (int i = 0; i < 5; i++)
        z += exp(i + 1.0);
    for (int i = 0; i < 5; i++)
        assert_close(p[i], exp(i + 1.0) / z, 1e-6, 1e-7);

    float v[8] = {1, 0, 0, 1, 2, 3, 4, 5};
    float cs[2] = {0.0f, 1.0f}, sn[2] = {1.0f, 0.0f}; /* pair 0 by 90 degrees, pair 1 by 0 */
    kern_rope(v, 2, 4, cs, sn);
    float want[8] = {0, 1, 0, 1, -3, 2, 4, 5};
    for (int i = 0; i < 8; i++)
        assert_close(v[i], want[i], 0, 1e-7);
}

/* Attention scores fold 16 positions' lanes together: each score must be kern_dot's bits (and
 * kern_dot_bf16's for a bf16 cache) for any count of positions, head size and row stride, near
 * the double product, and nothing past the last position is written. */
static void test_scores_are_the_dot_products_bit_for_bit_on_odd_sizes(void **state)
{
    (void)state;
    uint64_t seed = 23;
    int lens[] = {1, 7, 16, 17, 33, 4097}, ns[] = {1, 7, 33, 48, 64};
    for (size_t a = 0; a < sizeof lens / sizeof lens[0]; a++)
        for (size_t b = 0; b < sizeof ns / sizeof ns[0]; b++) {
            int len = lens[a], n = ns[b], ldk = n + 5;
            float *q = malloc(sizeof(float) * (size_t)n);
            float *k = malloc(sizeof(float) * (size_t)len * (size_t)ldk);
            uint16_t *kb = malloc(sizeof(uint16_t) * (size_t)len * (size_t)ldk);
            float *sc = malloc(sizeof(float) * (size_t)(len + 1));
            for (int i = 0; i < n; i++)
                q[i] = frand(&seed);
            for (int i = 0; i < len * ldk; i++) {
                k[i] = frand(&seed);
                kb[i] = qt_bf16(k[i]);
            }
            sc[len] = 42.0f;
            kern_scores(sc, q, k, ldk, len, n);
            for (int t = 0; t < len; t++) {
                float want = kern_dot(q, k + (size_t)t * (size_t)ldk, n);
                double ref = 0;
                for (int i = 0; i < n; i++)
                    ref += (double)q[i] * k[(size_t)t * (size_t)ldk + (size_t)i];
                if (memcmp(&sc[t], &want, sizeof want) != 0 || fabs(sc[t] - ref) > 1e-5) {
                    print_error("len %d n %d position %d: %.9g, kern_dot %.9g, double %.17g\n",
                                len, n, t, sc[t], want, ref);
                    fail();
                }
            }
            assert_true(sc[len] == 42.0f);
            kern_scores_bf16(sc, q, kb, ldk, len, n);
            for (int t = 0; t < len; t++) {
                float want = kern_dot_bf16(q, kb + (size_t)t * (size_t)ldk, n);
                if (memcmp(&sc[t], &want, sizeof want) != 0) {
                    print_error("bf16 len %d n %d position %d: %.9g, kern_dot_bf16 %.9g\n", len,
                                n, t, sc[t], want);
                    fail();
                }
            }
            assert_true(sc[len] == 42.0f);
            free(q);
            free(k);
            free(kb);
            free(sc);
        }
}

static void test_exp_is_within_2_ulp_and_the_same_bits_in_vector_and_scalar_form(void **state)
{
    (void)state;
    enum { N = 4096 };
    static float x[N + 1], y[N + 1];
    for (int i = 0; i <= N; i++)
        x[i] = -87.0f + 175.0f * (float)i / N;
    memcpy(y, x, sizeof x);
    kern_exp(y, N + 1);
    double worst = 0;
    for (int i = 0; i <= N; i++) {
        double ref = exp((double)x[i]);
        double ulp = nextafterf((float)ref, INFINITY) - (float)ref;
        double err = fabs(y[i] - ref) / ulp;
        worst = err > worst ? err : worst;
    }
    if (worst > 2.0) {
        print_error("worst error %.3f ulp\n", worst);
        fail();
    }
    /* the last element of a 17-float call goes through the tail (masked vector or scalar) */
    for (int i = 0; i < 16; i++) {
        float v[17];
        for (int j = 0; j < 17; j++)
            v[j] = x[i * 200 + 3];
        kern_exp(v, 17);
        assert_memory_equal(&v[0], &v[16], sizeof(float));
    }
    float big[2] = {-1000.0f, 1000.0f}; /* clamped: finite and positive */
    kern_exp(big, 2);
    assert_true(big[0] > 0 && isfinite(big[1]));
}

/* ---- a plain reference transformer --------------------------------------------------------- */

typedef struct {
    const EngineConfig *c;
    const Weights *w;
    double *kc, *vc; /* (L, seq, KV) */
} Ref;

static void ref_matvec(double *y, const double *x, const float *w, int in, int out)
{
    for (int o = 0; o < out; o++) {
        double s = 0;
        for (int k = 0; k < in; k++)
            s += x[k] * w[(size_t)o * in + k];
        y[o] = s;
    }
}

static void ref_rmsnorm(double *o, const double *x, const float *w, int n, double eps)
{
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += x[i] * x[i];
    double inv = 1.0 / sqrt(ss / n + eps);
    for (int i = 0; i < n; i++)
        o[i] = w[i] * x[i] * inv;
}

static void ref_ffn(double *out, const double *x, const float *w1, const float *w2,
                    const float *w3, int D, int F)
{
    double *a = calloc((size_t)F, sizeof *a), *b = calloc((size_t)F, sizeof *b);
    ref_matvec(a, x, w1, D, F);
    ref_matvec(b, x, w3, D, F);
    for (int i = 0; i < F; i++)
        a[i] = a[i] / (1 + exp(-a[i])) * b[i];
    ref_matvec(out, a, w2, F, D);
    free(a);
    free(b);
}

/* Logits (V) of token at pos, given the cache holds positions < pos. */
static void ref_forward(Ref *R, int token, int pos, double *logits)
{
    const EngineConfig *c = R->c;
    const ModelShape *s = &c->shape;
    const Weights *w = R->w;
    int D = (int)s->d_model, H = (int)s->heads, KVH = (int)s->kv_heads, hd = (int)s->head_dim;
    int Q = H * hd, KV = KVH * hd, L = (int)s->layers, seq = c->max_seq;
    int E = (int)s->experts, K = (int)s->experts_active, S = (int)s->shared_experts;
    int G = (int)s->expert_ffn, F = (int)s->ffn, Ld = E > 0 ? (int)s->dense_layers : L;
    double *x = calloc((size_t)D, 8), *xb = calloc((size_t)D, 8), *q = calloc((size_t)Q, 8);
    double *k = calloc((size_t)KV, 8), *v = calloc((size_t)KV, 8), *att = calloc((size_t)Q, 8);
    double *o = calloc((size_t)D, 8), *eo = calloc((size_t)D, 8), *sc = calloc((size_t)seq, 8);
    for (int i = 0; i < D; i++)
        x[i] = w->token_embedding[(size_t)token * D + i];
    for (int l = 0; l < L; l++) {
        ref_rmsnorm(xb, x, w->rms_att + (size_t)l * D, D, c->norm_eps);
        ref_matvec(q, xb, w->wq + (size_t)l * Q * D, D, Q);
        ref_matvec(k, xb, w->wk + (size_t)l * KV * D, D, KV);
        ref_matvec(v, xb, w->wv + (size_t)l * KV * D, D, KV);
        for (int i = 0; i < hd / 2; i++) {
            double freq = 1.0 / pow(c->rope_theta, 2.0 * i / hd), ang = pos * freq;
            double cs = cos(ang), sn = sin(ang);
            for (int h = 0; h < H; h++) {
                double *p = q + h * hd + 2 * i, a0 = p[0], a1 = p[1];
                p[0] = a0 * cs - a1 * sn;
                p[1] = a0 * sn + a1 * cs;
            }
            for (int h = 0; h < KVH; h++) {
                double *p = k + h * hd + 2 * i, a0 = p[0], a1 = p[1];
                p[0] = a0 * cs - a1 * sn;
                p[1] = a0 * sn + a1 * cs;
            }
        }
        memcpy(R->kc + ((size_t)l * seq + pos) * KV, k, sizeof(double) * KV);
        memcpy(R->vc + ((size_t)l * seq + pos) * KV, v, sizeof(double) * KV);
        for (int h = 0; h < H; h++) {
            int g = h / (H / KVH);
            double mx = -1e300, z = 0;
            for (int t = 0; t <= pos; t++) {
                double d = 0;
                for (int i = 0; i < hd; i++)
                    d += q[h * hd + i] * R->kc[((size_t)l * seq + t) * KV + g * hd + i];
                sc[t] = d / sqrt((double)hd);
                if (sc[t] > mx)
                    mx = sc[t];
            }
            for (int t = 0; t <= pos; t++)
                z += (sc[t] = exp(sc[t] - mx));
            for (int i = 0; i < hd; i++) {
                double a = 0;
                for (int t = 0; t <= pos; t++)
                    a += sc[t] / z * R->vc[((size_t)l * seq + t) * KV + g * hd + i];
                att[h * hd + i] = a;
            }
        }
        ref_matvec(o, att, w->wo + (size_t)l * D * Q, Q, D);
        for (int i = 0; i < D; i++)
            x[i] += o[i];
        ref_rmsnorm(xb, x, w->rms_ffn + (size_t)l * D, D, c->norm_eps);
        memset(o, 0, sizeof(double) * D);
        if (l < Ld) {
            ref_ffn(o, xb, w->w1 + (size_t)l * F * D, w->w2 + (size_t)l * D * F,
                    w->w3 + (size_t)l * F * D, D, F);
        } else {
            int m = l - Ld, ES = E + S;
            double p[64];
            ref_matvec(p, xb, w->router + (size_t)m * E * D, D, E);
            double mx = p[0], z = 0;
            for (int i = 1; i < E; i++)
                mx = p[i] > mx ? p[i] : mx;
            for (int i = 0; i < E; i++)
                z += (p[i] = exp(p[i] - mx));
            for (int i = 0; i < E; i++)
                p[i] /= z;
            double gate[64] = {0};
            if (K == E) {
                for (int i = 0; i < E; i++) /* every expert, weighted by its probability */
                    gate[i] = p[i];
            } else {
                int used[64] = {0};
                double sum = 0;
                for (int j = 0; j < K; j++) {
                    int best = -1;
                    for (int i = 0; i < E; i++)
                        if (!used[i] && (best < 0 || p[i] > p[best]))
                            best = i;
                    used[best] = 1;
                    gate[best] = p[best];
                    sum += p[best];
                }
                for (int i = 0; i < E; i++)
                    gate[i] /= sum;
            }
            for (int ex = 0; ex < ES; ex++) {
                double g = ex < E ? gate[ex] : 1.0;
                if (g == 0)
                    continue;
                size_t base = (size_t)m * ES + ex;
                ref_ffn(eo, xb, w->ew1 + base * G * D, w->ew2 + base * D * G,
                        w->ew3 + base * G * D, D, G);
                for (int i = 0; i < D; i++)
                    o[i] += g * eo[i];
            }
        }
        for (int i = 0; i < D; i++)
            x[i] += o[i];
    }
    ref_rmsnorm(xb, x, w->rms_final, D, c->norm_eps);
    ref_matvec(logits, xb, w->wcls, D, (int)s->vocab);
    free(x); free(xb); free(q); free(k); free(v); free(att); free(o); free(eo); free(sc);
}

/* ---- fixtures ----------------------------------------------------------------------------- */

static EngineConfig tiny(int experts, int top_k, int shared, int dense_layers)
{
    EngineConfig c;
    memset(&c, 0, sizeof c);
    snprintf(c.name, sizeof c.name, "tiny");
    c.shape.layers = 3;
    c.shape.d_model = 32;
    c.shape.heads = 4;
    c.shape.kv_heads = 2;
    c.shape.head_dim = 8;
    c.shape.ffn = experts ? (dense_layers ? 48 : 0) : 48;
    c.shape.experts = experts;
    c.shape.experts_active = top_k;
    c.shape.shared_experts = shared;
    c.shape.expert_ffn = experts ? 24 : 0;
    c.shape.dense_layers = dense_layers;
    c.shape.vocab = 50;
    c.max_seq = 24;
    c.rope_theta = 10000.0f;
    c.norm_eps = 1e-5f;
    c.shared_classifier = 0;
    return c;
}

typedef struct {
    EngineConfig c;
    Weights w;
    Pool *pool;
    Engine *e;
} Fix;

static void fix_open(Fix *f, EngineConfig c, int threads, int slots)
{
    TsErr err;
    ts_err_clear(&err);
    f->c = c;
    assert_int_equal(wt_alloc(&f->w, &f->c, &err), 0);
    wt_init_seeded(&f->w, &f->c, 42);
    assert_int_equal(pool_new(threads, &f->pool, &err), 0);
    if (eng_new(&f->c, &f->w, slots, f->c.max_seq, 32, f->pool, &f->e, &err)) {
        print_error("%s\n", err.msg);
        fail();
    }
}

static void fix_close(Fix *f)
{
    eng_free(f->e);
    pool_free(f->pool);
    wt_fini(&f->w);
}

static const int PROMPT[] = {3, 17, 5, 44, 9, 1, 28, 33, 12, 7};
#define NP ((int)(sizeof PROMPT / sizeof PROMPT[0]))

/* Prefill PROMPT into slot 0 with all logits, compare each position with the reference. */
static void check_against_reference(EngineConfig c)
{
    Fix f;
    fix_open(&f, c, 2, 1);
    int V = (int)c.shape.vocab;
    FwdRow rows[NP];
    for (int i = 0; i < NP; i++)
        rows[i] = (FwdRow){0, i, PROMPT[i], 1};
    float *lg = malloc(sizeof(float) * NP * (size_t)V);
    TsErr err;
    assert_int_equal(eng_step(f.e, rows, NP, lg, PHASE_PREFILL, &err), 0);
    /* then three decode steps */
    float dec[3][64];
    int next[3] = {4, 40, 2};
    for (int i = 0; i < 3; i++) {
        FwdRow r = {0, NP + i, next[i], 1};
        assert_int_equal(eng_step(f.e, &r, 1, dec[i], PHASE_DECODE, &err), 0);
    }
    Ref R = {&f.c, &f.w, NULL, NULL};
    size_t cache = (size_t)c.shape.layers * c.max_seq * (size_t)(c.shape.kv_heads * c.shape.head_dim);
    R.kc = calloc(cache, sizeof(double));
    R.vc = calloc(cache, sizeof(double));
    double ref[64], maxdiff = 0, maxabs = 0;
    for (int p = 0; p < NP + 3; p++) {
        int tok = p < NP ? PROMPT[p] : next[p - NP];
        ref_forward(&R, tok, p, ref);
        const float *got = p < NP ? lg + (size_t)p * V : dec[p - NP];
        for (int i = 0; i < V; i++) {
            double d = fabs(got[i] - ref[i]);
            maxdiff = d > maxdiff ? d : maxdiff;
            maxabs = fabs(ref[i]) > maxabs ? fabs(ref[i]) : maxabs;
        }
    }
    if (!(maxdiff <= 1e-4 * (1 + maxabs))) {
        print_error("max logit difference %g (max |logit| %g)\n", maxdiff, maxabs);
        fail();
    }
    free(R.kc);
    free(R.vc);
    free(lg);
    fix_close(&f);
}

static void test_dense_forward_matches_reference(void **state)
{
    (void)state;
    check_against_reference(tiny(0, 0, 0, 0));
}

static void test_moe_forward_matches_reference(void **state)
{
    (void)state;
    check_against_reference(tiny(4, 2, 1, 1));
}

static void test_moe_with_all_experts_is_the_weighted_sum_of_all(void **state)
{
    (void)state;
    check_against_reference(tiny(4, 4, 0, 0));
}

/* Logits of PROMPT decoded one token per step in slot `slot` of an engine with `threads`. */
static void decode_one_by_one(EngineConfig c, int threads, float *out)
{
    Fix f;
    fix_open(&f, c, threads, 2);
    TsErr err;
    int V = (int)c.shape.vocab;
    for (int i = 0; i < NP; i++) {
        FwdRow r = {1, i, PROMPT[i], 1};
        assert_int_equal(eng_step(f.e, &r, 1, out + (size_t)i * V, PHASE_DECODE, &err), 0);
    }
    fix_close(&f);
}

static void test_results_identical_for_1_and_2_threads_and_prefill_or_decode(void **state)
{
    (void)state;
    EngineConfig cs[2] = {tiny(0, 0, 0, 0), tiny(4, 2, 1, 1)};
    for (int k = 0; k < 2; k++) {
        int V = (int)cs[k].shape.vocab;
        float *a = malloc(sizeof(float) * NP * (size_t)V);
        float *b = malloc(sizeof(float) * NP * (size_t)V);
        float *p = malloc(sizeof(float) * NP * (size_t)V);
        decode_one_by_one(cs[k], 1, a);
        decode_one_by_one(cs[k], 2, b);
        assert_memory_equal(a, b, sizeof(float) * NP * (size_t)V);
        Fix f;
        fix_open(&f, cs[k], 2, 1);
        FwdRow rows[NP];
        for (int i = 0; i < NP; i++)
            rows[i] = (FwdRow){0, i, PROMPT[i], 1};
        TsErr err;
        assert_int_equal(eng_step(f.e, rows, NP, p, PHASE_PREFILL, &err), 0);
        assert_memory_equal(a, p, sizeof(float) * NP * (size_t)V);
        fix_close(&f);
        free(a);
        free(b);
        free(p);
    }
}

/* Logits of every row of one n-row prefill of c in precision p on `threads` threads. */
static void wide_prefill(const EngineConfig *c, const Weights *w, Precision p, int threads, int n,
                         float *out)
{
    TsErr err;
    ts_err_clear(&err);
    Pool *pool;
    QWeights q;
    Engine *e;
    assert_int_equal(pool_new(threads, &pool, &err), 0);
    assert_int_equal(qw_build(&q, c, w, p, NULL, &err), 0);
    assert_int_equal(eng_new_q(c, w, &q, PREC_FP32, 1, c->max_seq, n, pool, &e, &err), 0);
    FwdRow *rows = malloc(sizeof *rows * (size_t)n);
    for (int i = 0; i < n; i++)
        rows[i] = (FwdRow){0, i, (7 * i + 3) % (int)c->shape.vocab, 1};
    assert_int_equal(eng_step(e, rows, n, out, PHASE_PREFILL, &err), 0);
    free(rows);
    eng_free(e);
    qw_free(&q);
    pool_free(pool);
}

/* A prefill wide enough (rows x d_model >= 16384) that the row passes (embedding, norms, RoPE
 * and cache stores, residual adds, MoE gather and combine) and the activation conversions
 * split over the threads: 1 and 2 threads give the same bits in every precision, dense and
 * MoE with a shared expert. */
static void test_wide_prefill_row_passes_and_conversions_are_identical_for_1_and_2_threads(
    void **state)
{
    (void)state;
    enum { N = 130 };
    EngineConfig cs[2] = {test_small_config(128, 32, 256, 0, 0, 0, 64, 160),
                          test_small_config(128, 32, 0, 4, 1, 64, 64, 160)};
    assert_true(N * 128 >= 16384);
    for (int k = 0; k < 2; k++) {
        TsErr err;
        ts_err_clear(&err);
        Weights w;
        assert_int_equal(wt_alloc(&w, &cs[k], &err), 0);
        wt_init_seeded(&w, &cs[k], 5 + (uint64_t)k);
        size_t nl = (size_t)N * (size_t)cs[k].shape.vocab;
        float *a = malloc(sizeof(float) * nl), *b = malloc(sizeof(float) * nl);
        for (int p = 0; p < PREC_COUNT; p++) {
            wide_prefill(&cs[k], &w, (Precision)p, 1, N, a);
            wide_prefill(&cs[k], &w, (Precision)p, 2, N, b);
            if (memcmp(a, b, sizeof(float) * nl) != 0) {
                print_error("%s %s: 1 and 2 threads differ\n", k ? "moe" : "dense",
                            prec_name((Precision)p));
                fail();
            }
        }
        free(a);
        free(b);
        wt_fini(&w);
    }
}

static void test_batched_decode_is_identical_to_single_sequences(void **state)
{
    (void)state;
    EngineConfig c = tiny(4, 2, 1, 1);
    int V = (int)c.shape.vocab;
    /* three sequences of different lengths advance together */
    int seqs[3][6] = {{1, 2, 3, 4, 5, 6}, {9, 8, 7, 6, 5, 4}, {30, 31, 32, 33, 34, 35}};
    Fix f;
    fix_open(&f, c, 2, 3);
    TsErr err;
    float batched[6][3][64];
    for (int t = 0; t < 6; t++) {
        FwdRow rows[3];
        for (int sq = 0; sq < 3; sq++)
            rows[sq] = (FwdRow){sq, t, seqs[sq][t], 1};
        float lg[3 * 64];
        assert_int_equal(eng_step(f.e, rows, 3, lg, PHASE_DECODE, &err), 0);
        for (int sq = 0; sq < 3; sq++)
            memcpy(batched[t][sq], lg + sq * V, sizeof(float) * (size_t)V);
    }
    fix_close(&f);
    for (int sq = 0; sq < 3; sq++) {
        fix_open(&f, c, 1, 1);
        for (int t = 0; t < 6; t++) {
            FwdRow r = {0, t, seqs[sq][t], 1};
            float lg[64];
            assert_int_equal(eng_step(f.e, &r, 1, lg, PHASE_DECODE, &err), 0);
            assert_memory_equal(lg, batched[t][sq], sizeof(float) * (size_t)V);
        }
        fix_close(&f);
    }
}

static void test_counted_flops_equal_the_closed_form(void **state)
{
    (void)state;
    EngineConfig cs[3] = {tiny(0, 0, 0, 0), tiny(4, 2, 1, 1), tiny(8, 2, 0, 0)};
    for (int k = 0; k < 3; k++) {
        Fix f;
        fix_open(&f, cs[k], 2, 2);
        TsErr err;
        FwdRow rows[NP];
        for (int i = 0; i < NP; i++)
            rows[i] = (FwdRow){0, i, PROMPT[i], i == NP - 1};
        float lg[64];
        assert_int_equal(eng_step(f.e, rows, NP, lg, PHASE_PREFILL, &err), 0);
        const PhaseCounters *pc = eng_counters(f.e, PHASE_PREFILL);
        assert_close(pc->flops, eng_flops_prefill(&f.c, 0, NP), 0, 0);
        /* a batch of two decode rows at different positions */
        FwdRow d[2] = {{0, NP, 5, 1}, {1, 0, 6, 1}};
        float lg2[128];
        assert_int_equal(eng_step(f.e, d, 2, lg2, PHASE_DECODE, &err), 0);
        const PhaseCounters *dc = eng_counters(f.e, PHASE_DECODE);
        double want = eng_flops_row(&f.c, NP, 1) + eng_flops_row(&f.c, 0, 1);
        assert_close(dc->flops, want, 0, 0);
        /* KV: each row writes 2 x layers x KV floats and reads them for every position so far */
        double kvrow = 2.0 * f.c.shape.layers * f.c.shape.kv_heads * f.c.shape.head_dim * 4;
        assert_close(dc->kv_write_bytes, 2 * kvrow, 0, 0);
        assert_close(dc->kv_read_bytes, kvrow * (NP + 1) + kvrow * 1, 0, 0);
        if (f.c.shape.experts > 0) {
            const double *et = eng_expert_tokens(f.e, PHASE_DECODE);
            long moe = f.c.shape.layers - f.c.shape.dense_layers;
            double sum = 0;
            for (long l = 0; l < f.c.shape.layers; l++)
                for (long x = 0; x < f.c.shape.experts; x++)
                    sum += et[l * f.c.shape.experts + x];
            assert_close(sum, 2.0 * f.c.shape.experts_active * moe, 0, 0);
            assert_true(dc->distinct_experts_sum >= f.c.shape.experts_active * (double)moe);
            assert_true(dc->distinct_experts_sum <= 2.0 * f.c.shape.experts_active * moe);
        }
        fix_close(&f);
    }
}

static void test_weight_bytes_count_every_matrix_once_per_step(void **state)
{
    (void)state;
    /* dense: a step reads each embedding row it looks up, every matrix and norm once, and the
     * head once when any row wants logits */
    Fix f;
    fix_open(&f, tiny(0, 0, 0, 0), 2, 2);
    TsErr err;
    FwdRow rows[2] = {{0, 0, 3, 1}, {1, 0, 4, 0}};
    float lg[64];
    assert_int_equal(eng_step(f.e, rows, 2, lg, PHASE_DECODE, &err), 0);
    double D = 32, Q = 32, KV = 16, F = 48, V = 50, L = 3;
    double floats = 2 * D + L * (2 * D + Q * D + 2 * KV * D + D * Q + 3 * F * D) + D + V * D;
    assert_close(eng_counters(f.e, PHASE_DECODE)->weight_bytes, 4 * floats, 0, 0);
    fix_close(&f);
}

static void test_engine_closed_form_extends_the_textbook_count(void **state)
{
    (void)state;
    /* engine count = the contract's textbook count + the element-wise operations, written out */
    EngineConfig c = tiny(4, 2, 1, 1);
    double D = 32, Q = 32, KV = 16, H = 4, ctx = 10, E = 4, K = 2, S = 1, G = 24, F = 48;
    double per_layer = 4 * D + 3 * (Q + KV) + H * 4 * ctx + D + 4 * D + D;
    double elementwise = 3 * per_layer + 5 * F /* 1 dense layer */ +
                         2 * (3 * E + 2 * K + (K + S) * 5 * G + 2 * D * K + D * S) + 4 * D;
    assert_close(eng_flops_row(&c, (int)ctx - 1, 1),
                 shape_flops_decode(&c.shape, ctx) + elementwise, 0, 0);
    /* on a real preset the element-wise part stays under 1% */
    EngineConfig p;
    TsErr err;
    assert_int_equal(cfg_preset("dense-110m", &p, &err), 0);
    double t = shape_flops_decode(&p.shape, 512), e = eng_flops_row(&p, 511, 1);
    assert_true(e > t);
    assert_true((e - t) / t < 0.01);
}

static void test_bad_rows_are_refused(void **state)
{
    (void)state;
    Fix f;
    fix_open(&f, tiny(0, 0, 0, 0), 1, 2);
    TsErr err;
    float lg[64];
    FwdRow bad_tok = {0, 0, 50, 1};
    assert_int_equal(eng_step(f.e, &bad_tok, 1, lg, PHASE_DECODE, &err), TS_EINPUT);
    FwdRow bad_slot = {2, 0, 1, 1};
    assert_int_equal(eng_step(f.e, &bad_slot, 1, lg, PHASE_DECODE, &err), TS_EINPUT);
    FwdRow gap = {0, 3, 1, 1}; /* positions 0..2 were never filled */
    assert_int_equal(eng_step(f.e, &gap, 1, lg, PHASE_DECODE, &err), TS_EINPUT);
    assert_non_null(strstr(err.msg, "does not follow"));
    FwdRow past = {0, 24, 1, 1};
    assert_int_equal(eng_step(f.e, &past, 1, lg, PHASE_DECODE, &err), TS_EINPUT);
    fix_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_matches_naive_for_odd_sizes),
        cmocka_unit_test(test_dot_rmsnorm_softmax_rope_match_naive),
        cmocka_unit_test(test_scores_are_the_dot_products_bit_for_bit_on_odd_sizes),
        cmocka_unit_test(test_exp_is_within_2_ulp_and_the_same_bits_in_vector_and_scalar_form),
        cmocka_unit_test(test_dense_forward_matches_reference),
        cmocka_unit_test(test_moe_forward_matches_reference),
        cmocka_unit_test(test_moe_with_all_experts_is_the_weighted_sum_of_all),
        cmocka_unit_test(test_results_identical_for_1_and_2_threads_and_prefill_or_decode),
        cmocka_unit_test(test_batched_decode_is_identical_to_single_sequences),
        cmocka_unit_test(
            test_wide_prefill_row_passes_and_conversions_are_identical_for_1_and_2_threads),
        cmocka_unit_test(test_counted_flops_equal_the_closed_form),
        cmocka_unit_test(test_weight_bytes_count_every_matrix_once_per_step),
        cmocka_unit_test(test_engine_closed_form_extends_the_textbook_count),
        cmocka_unit_test(test_bad_rows_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
