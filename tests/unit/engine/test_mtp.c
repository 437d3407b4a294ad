/* Unit tests of models/engine/mtp.c: drafting never changes greedy output (depth 1 and 2, dense and
 * MoE, fp32 and int8); a forced acceptance rate P keeps the expected number of drafts; counted
 * FLOPs and bytes of the modules equal the closed form; the tokens-per-step formula. */
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

#include "models/engine/mtp.h"

/* A small vocabulary, so that seeded drafts sometimes agree with the model. */
static EngineConfig small(int experts)
{
    return test_small_config(64, 16, 96, experts, 0, 48, 40, 128);
}

typedef struct {
    EngineConfig c;
    Weights w;
    QWeights q;
    Pool *pool;
    Engine *e;
    MtpModel *m;
} MFix;

static void mfix_open(MFix *f, EngineConfig c, Precision p, int depth)
{
    TsErr err;
    ts_err_clear(&err);
    f->c = c;
    assert_int_equal(wt_alloc(&f->w, &f->c, &err), 0);
    wt_init_seeded(&f->w, &f->c, 7);
    assert_int_equal(qw_build(&f->q, &f->c, &f->w, p, NULL, &err), 0);
    assert_int_equal(pool_new(2, &f->pool, &err), 0);
    if (eng_new_q(&f->c, &f->w, &f->q, PREC_FP32, 1, f->c.max_seq, 16, f->pool, &f->e, &err) ||
        mtp_new(&f->c, &f->w, &f->q, depth, 99, PREC_FP32, 1, f->c.max_seq, 16, f->pool, &f->m,
                &err)) {
        print_error("%s\n", err.msg);
        fail();
    }
}

static void mfix_close(MFix *f)
{
    mtp_free(f->m);
    eng_free(f->e);
    pool_free(f->pool);
    qw_free(&f->q);
    wt_fini(&f->w);
}

static const int PROMPT[] = {3, 17, 5, 33, 9, 1, 28, 12};
#define NP ((int)(sizeof PROMPT / sizeof PROMPT[0]))
#define NG 60

static void test_mtp_never_changes_greedy_output(void **state)
{
    (void)state;
    int total_matched = 0;
    for (int moe = 0; moe < 2; moe++)
        for (int p = 0; p < 2; p++) {
            Precision prec = p ? PREC_INT8 : PREC_FP32;
            MFix f;
            mfix_open(&f, small(moe ? 4 : 0), prec, 2);
            TsErr err;
            int plain[NG], got[NG];
            MtpStats st;
            MtpOptions o = {0, -1.0};
            assert_int_equal(mtp_generate(f.e, f.m, &o, 0, PROMPT, NP, NG, plain, &st, &err), 0);
            assert_int_equal(st.emitted, NG);
            assert_int_equal(st.steps, NG - 1);
            for (int d = 1; d <= 2; d++) {
                o.depth = d;
                assert_int_equal(mtp_generate(f.e, f.m, &o, 0, PROMPT, NP, NG, got, &st, &err),
                                 0);
                assert_memory_equal(got, plain, sizeof plain);
                assert_int_equal(st.accepted, st.matched);
                assert_int_equal(st.emitted, NG);
                /* each step emits its accepted drafts plus one token */
                assert_int_equal(st.steps + st.accepted, NG - 1);
                total_matched += st.matched;
            }
            mfix_close(&f);
        }
    /* some drafts agreed, so the accepted-draft path ran (seeded weights agree rarely) */
    assert_true(total_matched > 0);
}

static void test_forced_acceptance_keeps_the_expected_drafts(void **state)
{
    (void)state;
    MFix f;
    mfix_open(&f, small(0), PREC_FP32, 2);
    TsErr err;
    int out[120];
    double rates[] = {0.0, 0.3, 0.5, 0.8, 1.0};
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        double P = rates[i];
        MtpOptions o = {2, P};
        MtpStats st;
        assert_int_equal(mtp_generate(f.e, f.m, &o, 0, PROMPT, NP, 100, out, &st, &err), 0);
        assert_int_equal(st.emitted, 100);
        /* per step P + P^2 drafts kept (the last step may be cut short) */
        double want = (st.steps - 1) * (P + P * P);
        if (fabs(st.accepted - want) > 3.0) {
            print_error("P %.2f: %d steps kept %d drafts, expected about %.1f\n", P, st.steps,
                        st.accepted, want);
            fail();
        }
        if (P == 1.0)
            assert_int_equal(st.steps, (99 + 2) / 3);
        if (P == 0.0)
            assert_int_equal(st.steps, 99);
        /* tokens per step follow the closed form */
        assert_close((double)(st.accepted + st.steps) / st.steps, mtp_tokens_per_step(P, 2), 0,
                     0.1);
    }
    mfix_close(&f);
}

static void test_mtp_counts_equal_the_closed_form(void **state)
{
    (void)state;
    for (int p = 0; p < PREC_COUNT; p++) {
        MFix f;
        mfix_open(&f, small(0), (Precision)p, 1);
        TsErr err;
        int out[2];
        MtpStats st;
        MtpOptions o = {1, 0.0};
        eng_reset_counters(f.e);
        mtp_reset_counters(f.m);
        /* two tokens: the prefill's, then one plain step (no room for a draft) */
        assert_int_equal(mtp_generate(f.e, f.m, &o, 0, PROMPT, NP, 2, out, &st, &err), 0);
        PhaseCounters pre = *eng_counters(f.e, PHASE_PREFILL);
        mtp_add_counters(f.m, PHASE_PREFILL, &pre);
        const EngineConfig *b = mtp_block_config(f.m);
        double D = 64;
        double want = eng_flops_prefill(&f.c, 0, NP) + NP * (2.0 * D * 2 * D + 8 * D) +
                      eng_flops_prefill(b, 0, NP);
        assert_close(pre.flops, want, 1e-12, 0);
        double emb_row = p == PREC_INT8   ? D + 4
                         : p == PREC_INT4 ? 2 * 18 /* two blocks of 16 bytes + a scale */
                                          : D * prec_elt_bytes((Precision)p);
        double want_b = eng_weight_bytes_step(&f.c, (Precision)p, NP, 1, 0) + NP * emb_row +
                        2 * D * 4 + qt_matrix_bytes((Precision)p, D, 2 * D) +
                        eng_weight_bytes_step(b, (Precision)p, 0, 1, 0);
        assert_close(pre.weight_bytes, want_b, 1e-12, 0);
        PhaseCounters dec = *eng_counters(f.e, PHASE_DECODE);
        mtp_add_counters(f.m, PHASE_DECODE, &dec);
        assert_close(dec.flops, eng_flops_row(&f.c, NP, 1), 1e-12, 0);
        /* one module: projection, two norms, one block */
        double Q = 64, KV = 32, F = 96;
        assert_close(mtp_params_per_depth(f.m),
                     2 * D * Q + 2 * KV * D + 3 * F * D + 2 * D * D + 4 * D, 0, 0);
        mfix_close(&f);
    }
}

static void test_tokens_per_step_and_bad_options(void **state)
{
    (void)state;
    assert_close(mtp_tokens_per_step(0.5, 2), 1.75, 0, 0);
    assert_close(mtp_tokens_per_step(1.0, 3), 4, 0, 0);
    assert_close(mtp_tokens_per_step(0.8, 0), 1, 0, 0);
    MFix f;
    mfix_open(&f, small(0), PREC_FP32, 1);
    TsErr err;
    int out[4];
    MtpStats st;
    MtpOptions o = {2, -1};
    assert_int_equal(mtp_generate(f.e, f.m, &o, 0, PROMPT, NP, 4, out, &st, &err), TS_EINPUT);
    o = (MtpOptions){1, 1.5};
    assert_int_equal(mtp_generate(f.e, f.m, &o, 0, PROMPT, NP, 4, out, &st, &err), TS_EINPUT);
    MtpModel *m = NULL;
    assert_int_equal(mtp_new(&f.c, &f.w, NULL, 5, 1, PREC_FP32, 1, 32, 16, f.pool, &m, &err),
                     TS_EINPUT);
    assert_null(m);
    mfix_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mtp_never_changes_greedy_output),
        cmocka_unit_test(test_forced_acceptance_keeps_the_expected_drafts),
        cmocka_unit_test(test_mtp_counts_equal_the_closed_form),
        cmocka_unit_test(test_tokens_per_step_and_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
