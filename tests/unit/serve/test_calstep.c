/* test_calstep: the calibrated steady state (calstep_steady) that prices a this-machine fleet
 * with step_model = calibrated: the decode batch is the fastest within the TPOT SLO (checked
 * against calstep_batch_s batch by batch), the prefill is one prompt in one step, and SLOs
 * that even batch 1 or the prompt miss, or lengths out of range, are refused. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/testutil.h"

#include "models/engine/config.h"
#include "sim/serve/calstep.h"

static const CalParams PARAMS = {.eff_compute = 0.3, .eff_prefill = 0.5, .eff_memory = 0.6,
                                 .step_overhead_ms = 0.2, .attn_ns_per_pair = 0.5,
                                 .overlap = 2.0};

static void init(CalStep *c)
{
    EngineConfig cfg;
    TsErr err;
    assert_int_equal(cfg_preset("dense-15m", &cfg, &err), 0);
    assert_int_equal(calstep_init(c, &cfg, PREC_FP32, PREC_FP32, &PARAMS, 250, 40, &err), 0);
}

/* Seconds of a decode step of b sequences at context keys, built by hand. */
static double decode_s(const CalStep *c, int b, int32_t context)
{
    StepItem items[64];
    for (int k = 0; k < b; k++)
        items[k] = (StepItem){.id = k, .slot = k, .start = context, .tokens = 1, .emits = 1};
    StepBatch sb = {.decode = items, .n_decode = b, .decode_keys = (double)b * (context + 1),
                    .tokens = b};
    return calstep_batch_s(c, &sb);
}

static void test_no_slo_takes_the_fastest_batch(void **state)
{
    (void)state;
    CalStep c;
    init(&c);
    CalSteady st;
    TsErr err;
    assert_int_equal(calstep_steady(&c, 48, 56, 16, 0, 0, &st, &err), 0);
    double best = 0;
    int best_b = 0;
    for (int b = 1; b <= 16; b++)
        if (b / decode_s(&c, b, 56) > best) {
            best = b / decode_s(&c, b, 56);
            best_b = b;
        }
    assert_int_equal(st.batch, best_b);
    assert_true(fabs(st.decode_tok_s / best - 1) < 1e-12);
    assert_true(fabs(st.tpot_ms / (1e3 * decode_s(&c, best_b, 56)) - 1) < 1e-12);
    /* batched decode reads the weights once: the fastest batch is the largest here */
    assert_int_equal(st.batch, 16);
    /* prefill: 48 tokens in one step */
    StepItem p = {.start = 0, .tokens = 48, .emits = 1};
    StepBatch pb = {.prefill = &p, .n_prefill = 1, .prefill_tokens = 48, .tokens = 48};
    double ttft = calstep_batch_s(&c, &pb);
    assert_true(fabs(st.ttft_ms / (1e3 * ttft) - 1) < 1e-12);
    assert_true(fabs(st.prefill_tok_s / (48 / ttft) - 1) < 1e-12);
}

static void test_tpot_slo_caps_the_batch(void **state)
{
    (void)state;
    CalStep c;
    init(&c);
    /* an SLO between the steps of batches 3 and 4 */
    double slo = 1e3 * 0.5 * (decode_s(&c, 3, 56) + decode_s(&c, 4, 56));
    CalSteady st;
    TsErr err;
    assert_int_equal(calstep_steady(&c, 48, 56, 16, slo, 0, &st, &err), 0);
    assert_int_equal(st.batch, 3);
    assert_true(st.tpot_ms <= slo);
}

static void test_refuses_what_cannot_be_met(void **state)
{
    (void)state;
    CalStep c;
    init(&c);
    CalSteady st;
    TsErr err;
    double step1 = 1e3 * decode_s(&c, 1, 56);
    assert_int_equal(calstep_steady(&c, 48, 56, 16, 0.5 * step1, 0, &st, &err), TS_EINPUT);
    assert_non_null(strstr(err.msg, "even batch 1 misses tpot_slo_ms"));
    assert_int_equal(calstep_steady(&c, 48, 56, 16, 0, 1e-6, &st, &err), TS_EINPUT);
    assert_non_null(strstr(err.msg, "over ttft_slo_ms"));
    assert_int_equal(calstep_steady(&c, 0, 56, 16, 0, 0, &st, &err), TS_EINPUT);
    assert_int_equal(calstep_steady(&c, 48, 56, 0, 0, 0, &st, &err), TS_EINPUT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_slo_takes_the_fastest_batch),
        cmocka_unit_test(test_tpot_slo_caps_the_batch),
        cmocka_unit_test(test_refuses_what_cannot_be_met),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
