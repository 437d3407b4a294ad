/* test_calib: sim/price/calib.h. Synthetic measurements made by the model itself at known
 * parameters (compute-bound prefill, memory- and compute-bound decode, two model sizes) must
 * give those parameters back and predict the held-out points exactly; the attention term is
 * found when the data carry one and left out when they do not; too few points are refused
 * with TS_EINPUT; hold-out alternates within each (model, phase) series. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/testutil.h"

#include "sim/price/calib.h"

#define PEAK 200.0 /* GFLOP/s */
#define BW 20.0    /* GB/s */

/* Points of two models, prefill and decode, batches 1, 2, 4, 8, 16, timed by the model at
 * truth. Per step: decode FLOPs 2 x params x batch, bytes 4 x params + KV, prefill 128 rows. */
static int make_points(CalPoint *pts, const CalParams *truth)
{
    static const double params[2] = {15e6, 110e6};
    static const char *const names[2] = {"small", "large"};
    int n = 0;
    for (int m = 0; m < 2; m++)
        for (int ph = 0; ph < 2; ph++)
            for (int b = 1; b <= 16; b *= 2) {
                CalPoint *p = &pts[n++];
                memset(p, 0, sizeof *p);
                snprintf(p->model, sizeof p->model, "%s", names[m]);
                snprintf(p->phase, sizeof p->phase, "%s", ph ? "prefill" : "decode");
                p->prefill = ph;
                p->batch = b;
                double rows = ph ? 128.0 : b;
                p->flops = 2.0 * params[m] * rows;
                p->bytes = 4.0 * params[m] + 1e4 * rows * (ph ? 64 : 140);
                p->pairs = ph ? 128.0 * 129.0 / 2.0 * 36 : b * 140.0 * 36;
                p->measured_s = cal_step_s(truth, PEAK, BW, p);
            }
    cal_hold_out_alternate(pts, n);
    return n;
}

static void test_fit_recovers_known_efficiencies_from_the_models_own_timings(void **state)
{
    (void)state;
    CalParams truth = {0.3, 0.8, 0.9, 0.25, 0.0, 2.0};
    CalPoint pts[64];
    int n = make_points(pts, &truth);
    CalFit fit;
    TsErr err;
    assert_int_equal(cal_fit(pts, n, PEAK, BW, &fit, &err), 0);
    assert_close(fit.params.eff_compute, truth.eff_compute, 1e-3, 0);
    assert_close(fit.params.eff_prefill, truth.eff_prefill, 1e-3, 0);
    assert_close(fit.params.eff_memory, truth.eff_memory, 1e-3, 0);
    assert_close(fit.params.step_overhead_ms, truth.step_overhead_ms, 1e-3, 0);
    assert_close(fit.params.overlap, truth.overlap, 1e-2, 0);
    assert_int_equal(fit.with_attention, 0);
    assert_int_equal(fit.n_train, 12);
    assert_int_equal(fit.n_test, 8);
    assert_true(fit.test_median_err < 1e-4);
    for (int i = 0; i < n; i++)
        assert_close(pts[i].predicted_s, pts[i].measured_s, 1e-4, 0);
}

static void test_fit_keeps_the_attention_term_when_the_data_carry_one(void **state)
{
    (void)state;
    CalParams truth = {0.3, 0.8, 0.9, 0.1, 30.0, 2.0};
    CalPoint pts[64];
    int n = make_points(pts, &truth);
    CalFit fit;
    TsErr err;
    assert_int_equal(cal_fit(pts, n, PEAK, BW, &fit, &err), 0);
    assert_int_equal(fit.with_attention, 1);
    assert_close(fit.params.attn_ns_per_pair, truth.attn_ns_per_pair, 1e-2, 0);
    assert_close(fit.params.eff_memory, truth.eff_memory, 1e-2, 0);
    assert_true(fit.test_median_err < 1e-3);
}

static void test_fit_refuses_too_few_training_points(void **state)
{
    (void)state;
    CalParams truth = {0.3, 0.8, 0.9, 0.25, 0.0, 2.0};
    CalPoint pts[64];
    make_points(pts, &truth);
    CalFit fit;
    TsErr err;
    /* the first 10 points (one model): 6 train, one short of 5 parameters + 2 */
    assert_int_equal(cal_fit(pts, 10, PEAK, BW, &fit, &err), TS_EINPUT);
    assert_non_null(strstr(err.msg, "6 training points"));
    assert_int_equal(cal_fit(pts, 20, 0.0, BW, &fit, &err), TS_EINPUT);
}

static void test_hold_out_alternates_within_each_series(void **state)
{
    (void)state;
    CalParams truth = {0.3, 0.8, 0.9, 0.25, 0.0, 2.0};
    CalPoint pts[64];
    int n = make_points(pts, &truth);
    assert_int_equal(n, 20);
    for (int i = 0; i < n; i++)
        assert_int_equal(pts[i].held_out, (i % 5) % 2); /* batches 2 and 8 of each series */
}

static void test_step_time_combines_compute_and_memory_by_the_overlap(void **state)
{
    (void)state;
    CalPoint p = {.prefill = 0, .flops = 100e9, .bytes = 10e9, .pairs = 0};
    /* compute 100e9 / (200e9 x 0.5) = 1 s, memory 10e9 / (20e9 x 0.5) = 1 s */
    CalParams add = {0.5, 0.5, 0.5, 0.0, 0.0, 1.0}, mx = {0.5, 0.5, 0.5, 0.0, 0.0, 0.0};
    assert_close(cal_step_s(&add, PEAK, BW, &p), 2.0, 1e-12, 0);
    assert_close(cal_step_s(&mx, PEAK, BW, &p), 1.0, 1e-12, 0);
    CalParams two = {0.5, 0.5, 0.5, 3.0, 2.0, 2.0};
    p.pairs = 1e6; /* sqrt(2) + 3 ms + 2 ns x 1e6 */
    assert_close(cal_step_s(&two, PEAK, BW, &p), sqrt(2.0) + 0.003 + 0.002, 1e-12, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fit_recovers_known_efficiencies_from_the_models_own_timings),
        cmocka_unit_test(test_fit_keeps_the_attention_term_when_the_data_carry_one),
        cmocka_unit_test(test_fit_refuses_too_few_training_points),
        cmocka_unit_test(test_hold_out_alternates_within_each_series),
        cmocka_unit_test(test_step_time_combines_compute_and_memory_by_the_overlap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
