/* Unit tests of models/engine/quant.c and the reduced-precision engine: bf16 and int8 round
 * trips; the bf16 dot and weighted sum against naive references (the packed matmuls are in
 * test_kernels_q.c); single rows equal to batches; the whole engine in bf16, int8 and int4
 * against float32 (logit differences and greedy agreement); and counted bytes equal to the
 * closed form per precision. */
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

static float frand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) & 0xFFFFFF) / 8388608.0f - 1.0f;
}

static void test_bf16_rounds_to_nearest_even_and_round_trips(void **state)
{
    (void)state;
    /* exactly representable values come back unchanged */
    float exact[] = {0.0f, 1.0f, -2.5f, 0.15625f, 65536.0f, -1.0f / 1024};
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        assert_true(qt_f32(qt_bf16(exact[i])) == exact[i]);
    /* 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even one (1) */
    assert_true(qt_f32(qt_bf16(1.0f + 1.0f / 256)) == 1.0f);
    /* 1 + 3 × 2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: even is 1 + 2^-6 */
    assert_true(qt_f32(qt_bf16(1.0f + 3.0f / 256)) == 1.0f + 1.0f / 64);
    assert_true(isnan(qt_f32(qt_bf16(NAN))));
    assert_true(qt_f32(qt_bf16(INFINITY)) == INFINITY);
    /* relative error at most half a unit in the 8th bit: 2^-8 */
    uint64_t seed = 3;
    for (int i = 0; i < 10000; i++) {
        float x = frand(&seed) * 100.0f;
        float y = qt_f32(qt_bf16(x));
        assert_true(fabsf(y - x) <= fabsf(x) / 256.0f);
    }
}

static void test_int8_round_trip_is_within_half_a_step(void **state)
{
    (void)state;
    uint64_t seed = 5;
    float x[300];
    int8_t q[300];
    uint8_t u[300];
    for (int i = 0; i < 300; i++)
        x[i] = frand(&seed) * 3.0f;
    float s = qt_quant_i8(q, x, 300);
    float su = qt_quant_u8(u, x, 300);
    assert_true(s == su);
    float amax = 0;
    for (int i = 0; i < 300; i++)
        amax = fabsf(x[i]) > amax ? fabsf(x[i]) : amax;
    assert_close(s, amax / 127.0f, 1e-6, 0);
    int hit127 = 0;
    for (int i = 0; i < 300; i++) {
        assert_true(fabsf(q[i] * s - x[i]) <= 0.5f * s * 1.0001f);
        assert_int_equal((int)u[i], q[i] + 128);
        hit127 |= q[i] == 127 || q[i] == -127;
    }
    assert_true(hit127);
    /* an all-zero row gets scale 1 and zeros */
    float z[8] = {0};
    assert_true(qt_quant_i8(q, z, 8) == 1.0f);
    for (int i = 0; i < 8; i++)
        assert_int_equal(q[i], 0);
    assert_close(qt_matrix_bytes(PREC_INT8, 10, 64), 10 * 64 + 80, 0, 0);
    assert_close(qt_matrix_bytes(PREC_BF16, 10, 64), 10 * 64 * 2, 0, 0);
}

static void test_bf16_dot_and_weighted_sum_match_naive(void **state)
{
    (void)state;
    uint64_t seed = 13;
    for (int n = 1; n < 70; n += 7) {
        float a[70], p[5], out[70];
        uint16_t b[70], v[5 * 70];
        double ref = 0;
        for (int i = 0; i < n; i++) {
            a[i] = frand(&seed);
            b[i] = qt_bf16(frand(&seed));
            ref += (double)a[i] * qt_f32(b[i]);
        }
        assert_close(kern_dot_bf16(a, b, n), ref, 0, 1e-5);
        for (int t = 0; t < 5; t++) {
            p[t] = frand(&seed);
            for (int i = 0; i < n; i++)
                v[t * 70 + i] = qt_bf16(frand(&seed));
        }
        kern_weighted_sum_bf16(out, p, v, 70, 5, n);
        for (int i = 0; i < n; i++) {
            double r = 0;
            for (int t = 0; t < 5; t++)
                r += (double)p[t] * qt_f32(v[t * 70 + i]);
            assert_close(out[i], r, 0, 1e-5);
        }
    }
}

/* ---- the engine in reduced precision ------------------------------------------------------- */

static EngineConfig small(int experts)
{
    return test_small_config(96, 24, 160, experts, 1, 48, 120, 32);
}

typedef struct {
    EngineConfig c;
    Weights w;
    QWeights q;
    Pool *pool;
    Engine *e;
} QFix;

static void qfix_open(QFix *f, EngineConfig c, Precision p, Precision kv, int threads)
{
    TsErr err;
    ts_err_clear(&err);
    f->c = c;
    assert_int_equal(wt_alloc(&f->w, &f->c, &err), 0);
    wt_init_seeded(&f->w, &f->c, 42);
    assert_int_equal(qw_build(&f->q, &f->c, &f->w, p, NULL, &err), 0);
    assert_int_equal(pool_new(threads, &f->pool, &err), 0);
    if (eng_new_q(&f->c, &f->w, &f->q, kv, 4, f->c.max_seq, 32, f->pool, &f->e, &err)) {
        print_error("%s\n", err.msg);
        fail();
    }
}

static void qfix_close(QFix *f)
{
    eng_free(f->e);
    pool_free(f->pool);
    qw_free(&f->q);
    wt_fini(&f->w);
}

#define NP 12
#define NG 12

/* Greedy decoding of NG tokens after a fixed prompt, one row per step; logits of every step. */
static void greedy(QFix *f, int *tokens, float *logits)
{
    TsErr err;
    int V = (int)f->c.shape.vocab, tok = 0;
    FwdRow rows[NP];
    for (int i = 0; i < NP; i++)
        rows[i] = (FwdRow){0, i, (i * 37 + 11) % V, i == NP - 1};
    assert_int_equal(eng_step(f->e, rows, NP, logits, PHASE_PREFILL, &err), 0);
    for (int g = 0; g < NG; g++) {
        const float *l = logits + (size_t)g * (size_t)V;
        tok = 0;
        for (int v = 1; v < V; v++)
            tok = l[v] > l[tok] ? v : tok;
        tokens[g] = tok;
        if (g + 1 < NG) {
            FwdRow d = {0, NP + g, tok, 1};
            assert_int_equal(eng_step(f->e, &d, 1, logits + (size_t)(g + 1) * V, PHASE_DECODE,
                                      &err),
                             0);
        }
    }
}

static void test_reduced_precision_engine_stays_near_fp32(void **state)
{
    (void)state;
    for (int moe = 0; moe < 2; moe++) {
        EngineConfig c = small(moe ? 4 : 0);
        int V = (int)c.shape.vocab;
        float *ref = malloc(sizeof(float) * NG * (size_t)V);
        float *got = malloc(sizeof(float) * NG * (size_t)V);
        int ref_tok[NG], tok[NG];
        QFix f;
        qfix_open(&f, c, PREC_FP32, PREC_FP32, 1);
        greedy(&f, ref_tok, ref);
        qfix_close(&f);
        double span = 0;
        for (int i = 0; i < NG * V; i++)
            span = fabs(ref[i]) > span ? fabs(ref[i]) : span;
        /* tolerances relative to the largest logit: bf16 keeps 8 bits, int8 7 */
        struct {
            Precision p, kv;
            double tol;
        } cases[] = {{PREC_BF16, PREC_FP32, 0.05}, {PREC_BF16, PREC_BF16, 0.05},
                     {PREC_INT8, PREC_FP32, 0.10}, {PREC_INT8, PREC_BF16, 0.10},
                     {PREC_INT4, PREC_FP32, 0.35}, {PREC_INT4, PREC_BF16, 0.35}};
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
            qfix_open(&f, c, cases[k].p, cases[k].kv, 2);
            greedy(&f, tok, got);
            qfix_close(&f);
            /* compare the first step only (later steps follow different tokens when greedy
             * choices differ) */
            double maxd = 0;
            for (int v = 0; v < V; v++)
                maxd = fabs(got[v] - ref[v]) > maxd ? fabs(got[v] - ref[v]) : maxd;
            if (maxd > cases[k].tol * span) {
                print_error("%s/%s moe %d: max logit difference %g of %g\n",
                            prec_name(cases[k].p), prec_name(cases[k].kv), moe, maxd, span);
                fail();
            }
            assert_true(maxd > 0); /* it really ran in reduced precision */
            if (cases[k].p != PREC_INT4) /* 4 bits may flip a near tie on random weights */
                assert_int_equal(tok[0], ref_tok[0]);
        }
        free(ref);
        free(got);
    }
}

static void test_reduced_precision_batches_equal_single_rows(void **state)
{
    (void)state;
    for (int p = PREC_BF16; p <= PREC_INT4; p++) {
        EngineConfig c = small(4);
        int V = (int)c.shape.vocab;
        QFix f;
        qfix_open(&f, c, (Precision)p, PREC_BF16, 2);
        TsErr err;
        /* prefill 6 positions in one step on slot 0, one by one on slot 1 */
        FwdRow rows[6];
        float all[6 * 120], one[120];
        for (int i = 0; i < 6; i++)
            rows[i] = (FwdRow){0, i, (i * 5 + 2) % V, 1};
        assert_int_equal(eng_step(f.e, rows, 6, all, PHASE_PREFILL, &err), 0);
        for (int i = 0; i < 6; i++) {
            FwdRow r = {1, i, (i * 5 + 2) % V, 1};
            assert_int_equal(eng_step(f.e, &r, 1, one, PHASE_DECODE, &err), 0);
            assert_memory_equal(one, all + i * V, sizeof(float) * (size_t)V);
        }
        qfix_close(&f);
    }
}

static void test_counted_bytes_follow_the_precision(void **state)
{
    (void)state;
    for (int moe = 0; moe < 2; moe++)
        for (int p = 0; p < PREC_COUNT; p++)
            for (int kv = 0; kv < 2; kv++) {
                EngineConfig c = small(moe ? 4 : 0);
                QFix f;
                qfix_open(&f, c, (Precision)p, kv ? PREC_BF16 : PREC_FP32, 1);
                TsErr err;
                FwdRow rows[3] = {{0, 0, 3, 0}, {0, 1, 4, 1}, {1, 0, 5, 1}};
                float lg[2 * 120];
                assert_int_equal(eng_step(f.e, rows, 3, lg, PHASE_DECODE, &err), 0);
                const PhaseCounters *pc = eng_counters(f.e, PHASE_DECODE);
                assert_close(pc->weight_bytes,
                             eng_weight_bytes_step(&f.c, (Precision)p, 3, 2,
                                                   pc->distinct_experts_sum),
                             1e-12, 0);
                double elt = kv ? 2 : 4, kvrow = 2.0 * 2 * 2 * 24 * elt;
                assert_close(pc->kv_write_bytes, 3 * kvrow, 0, 0);
                assert_close(pc->kv_read_bytes, kvrow * (1 + 2 + 1), 0, 0);
                /* FLOPs do not depend on the precision */
                assert_close(pc->flops,
                             eng_flops_row(&f.c, 0, 0) + eng_flops_row(&f.c, 1, 1) +
                                 eng_flops_row(&f.c, 0, 1),
                             1e-12, 0);
                qfix_close(&f);
            }
    /* on dense-110m, int8 reads about a quarter of fp32's weight bytes, bf16 half */
    EngineConfig c;
    TsErr err;
    assert_int_equal(cfg_preset("dense-110m", &c, &err), 0);
    double b32 = eng_weight_bytes_step(&c, PREC_FP32, 1, 1, 0);
    double b16 = eng_weight_bytes_step(&c, PREC_BF16, 1, 1, 0);
    double b8 = eng_weight_bytes_step(&c, PREC_INT8, 1, 1, 0);
    assert_true(b16 < 0.51 * b32 && b16 > 0.49 * b32);
    assert_true(b8 < 0.27 * b32 && b8 > 0.24 * b32);
    /* int4: 4.5 bits per weight, 0.5625 of int8's bytes less int8's row scales and sums */
    double b4 = eng_weight_bytes_step(&c, PREC_INT4, 1, 1, 0);
    assert_true(b4 < 0.145 * b32 && b4 > 0.135 * b32);
}

static void test_precision_names_parse(void **state)
{
    (void)state;
    TsErr err;
    Precision p;
    assert_int_equal(prec_parse("BF16", &p, &err), 0);
    assert_int_equal(p, PREC_BF16);
    assert_int_equal(prec_parse("Int4", &p, &err), 0);
    assert_int_equal(p, PREC_INT4);
    assert_int_equal(prec_parse("int3", &p, &err), TS_EINPUT);
    assert_non_null(strstr(err.msg, "fp32, bf16, int8 or int4"));
    assert_string_equal(prec_name(PREC_INT4), "int4");
    assert_string_equal(prec_name(PREC_INT8), "int8");
    assert_int_equal(prec_elt_bytes(PREC_FP32), 4);
}

static void test_kernel_paths_are_named(void **state)
{
    (void)state;
    /* tests/e2e/portable.sh reads this line to check which paths a build used */
    print_message("kernel paths: %s %s %s\n", kern_path(), kern_path_bf16(), kern_path_int8());
    assert_true(strcmp(kern_path(), "avx512") == 0 || strcmp(kern_path(), "portable") == 0);
    assert_true(strcmp(kern_path_bf16(), "avx512-bf16") == 0 ||
                strcmp(kern_path_bf16(), "portable") == 0);
    assert_true(strcmp(kern_path_int8(), "avx512-vnni") == 0 ||
                strcmp(kern_path_int8(), "portable") == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bf16_rounds_to_nearest_even_and_round_trips),
        cmocka_unit_test(test_int8_round_trip_is_within_half_a_step),
        cmocka_unit_test(test_bf16_dot_and_weighted_sum_match_naive),
        cmocka_unit_test(test_reduced_precision_engine_stays_near_fp32),
        cmocka_unit_test(test_reduced_precision_batches_equal_single_rows),
        cmocka_unit_test(test_counted_bytes_follow_the_precision),
        cmocka_unit_test(test_precision_names_parse),
        cmocka_unit_test(test_kernel_paths_are_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
