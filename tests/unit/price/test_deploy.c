/* test_deploy: the roofline's deployment search (sim/price/perf.c, evaluate.c) and the KV
 * allocation rule (roofline.c) through real scenario text and the shipped catalogs: a set
 * chips_per_instance is never overridden; the winner is the frontier's cheapest feasible
 * point; a looser SLO never raises $/M; the search stops at the chip's scale-up domain and a
 * fleet's cap; paged capacity against peak by hand; the candidate sizes; the alpha term. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/testutil.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sim/price/evaluate.h"
#include "sim/price/roofline.h"
#include "sim/scenario/scenario.h"

/* Prices fleet 0 of a scenario made of head + fleet lines (the llama-3.3-70b day on H100). */
static int price(const char *fleet_lines, const char *workload_extra, FleetResult *r, char *msg)
{
    char text[4096];
    snprintf(text, sizeof text,
             "[scenario]\nname = deploy\n"
             "[workload]\nmodel = llama-3.3-70b\nrequests_per_day = 1e7\n"
             "input_tokens_per_request = 1000\noutput_tokens_per_request = 300\n%s"
             "[fleet a]\nchip = h100-sxm\nthroughput = roofline\nusd_per_kwh = 0.08\n%s",
             workload_extra, fleet_lines);
    ScnCatalogs cats;
    Scenario s;
    TsErr err;
    ts_err_clear(&err);
    if (scn_catalogs_load(&cats, "data", &err))
        fail_msg("catalogs: %s", err.msg);
    int rc = scn_load_text(&s, "deploy.ini", text, strlen(text), &cats, &err);
    if (!rc)
        rc = eval_fleet(&s, &s.fleets[0], r, &err);
    if (msg)
        snprintf(msg, 512, "%.500s", err.msg);
    if (!rc || s.n_fleets)
        scn_fini(&s);
    scn_catalogs_fini(&cats);
    return rc;
}

static void test_a_set_chips_per_instance_is_never_overridden(void **state)
{
    (void)state;
    static FleetResult r;
    for (int n = 2; n <= 8; n *= 2) {
        char lines[64];
        snprintf(lines, sizeof lines, "chips_per_instance = %d\n", n);
        assert_int_equal(price(lines, "", &r, NULL), 0);
        assert_int_equal(r.perf.searched, 0);
        assert_int_equal(r.perf.roof.chips_per_instance, n);
        assert_close(r.metrics.value[MET_CHIPS_PER_INSTANCE], n, 0, 0);
    }
}

static void test_the_winner_is_the_cheapest_feasible_point_of_the_frontier(void **state)
{
    (void)state;
    static FleetResult r;
    assert_int_equal(price("", "", &r, NULL), 0);
    assert_int_equal(r.perf.searched, 1);
    /* H100 holds the 70B bf16 weights on 2 chips; the HGX board joins 8: 2, 4, 8 tried */
    assert_int_equal(r.perf.n_frontier, 3);
    assert_int_equal(r.perf.frontier[0].chips_per_instance, 2);
    assert_int_equal(r.perf.frontier[2].chips_per_instance, 8);
    int best = -1;
    for (int i = 0; i < r.perf.n_frontier; i++) {
        const PerfCandidate *c = &r.perf.frontier[i];
        if (c->status == 0 &&
            (best < 0 || c->usd_per_m_blended < r.perf.frontier[best].usd_per_m_blended))
            best = i;
    }
    assert_int_equal(r.perf.chosen, best);
    assert_int_equal(r.perf.roof.chips_per_instance, r.perf.frontier[best].chips_per_instance);
    /* the priced fleet is the winner: its $/M blended is the frontier's */
    assert_close(r.metrics.value[MET_USD_PER_M_BLENDED], r.perf.frontier[best].usd_per_m_blended,
                 1e-12, 0);
    /* the fewest chips (2) is the costly one: the KV cache leaves room for a few sequences */
    assert_true(r.perf.frontier[0].roof.batch < 16);
    assert_true(r.metrics.value[MET_USD_PER_M_OUTPUT] < 0.5);
}

static void test_a_looser_slo_never_raises_the_price(void **state)
{
    (void)state;
    static FleetResult tight, loose;
    static const double TPOT[] = {25, 30, 40, 60, 100, 1000};
    double last = INFINITY;
    for (size_t i = 0; i < sizeof TPOT / sizeof TPOT[0]; i++) {
        char w[64];
        snprintf(w, sizeof w, "tpot_slo_ms = %g\n", TPOT[i]);
        FleetResult *r = i % 2 ? &loose : &tight;
        char msg[512];
        if (price("", w, r, msg) != 0)
            continue; /* an SLO no size meets: nothing to compare */
        double usd = r->metrics.value[MET_USD_PER_M_BLENDED];
        if (!(usd <= last * (1 + 1e-12)))
            fail_msg("tpot_slo_ms %g: %.6g USD/Mtok, above %.6g at a tighter SLO", TPOT[i], usd,
                     last);
        last = usd;
    }
    assert_true(isfinite(last));
}

static void test_the_search_stops_at_the_fleet_cap_and_without_scale_up_tries_the_fewest(
    void **state)
{
    (void)state;
    static FleetResult r;
    assert_int_equal(price("max_chips_per_instance = 4\n", "", &r, NULL), 0);
    assert_int_equal(r.perf.n_frontier, 2);
    assert_int_equal(r.perf.frontier[1].chips_per_instance, 4);
    /* a chip without scale_up_chips (a fleet override cannot remove it, so a [chip]): no search */
    char text[2048];
    snprintf(text, sizeof text,
             "[scenario]\nname = d\n[chip c]\nbf16_tflops = 989\nhbm_gb = 80\nhbm_tb_s = 3.35\n"
             "tdp_w = 700\nprice_usd = 25000\n"
             "[workload]\nmodel = llama-3.3-70b\nrequests_per_day = 1e7\n"
             "input_tokens_per_request = 1000\noutput_tokens_per_request = 300\n"
             "[fleet a]\nchip = c\nthroughput = roofline\nusd_per_kwh = 0.08\n");
    ScnCatalogs cats;
    Scenario s;
    TsErr err;
    assert_int_equal(scn_catalogs_load(&cats, "data", &err), 0);
    if (scn_load_text(&s, "d.ini", text, strlen(text), &cats, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(eval_fleet(&s, &s.fleets[0], &r, &err), 0);
    assert_int_equal(r.perf.searched, 0);
    assert_int_equal(r.perf.roof.chips_per_instance, 2);
    scn_fini(&s);
    scn_catalogs_fini(&cats);
}

/* Tiny dense shape, 1-byte KV: 2,000 KV bytes per token (test_roofline's DENSE). */
static RoofInputs kv_inputs(int paged)
{
    RoofInputs in = {0};
    in.shape = (ModelShape){.layers = 1, .d_model = 1000, .heads = 10, .kv_heads = 10,
                            .head_dim = 100, .ffn = 4000, .vocab = 1000};
    in.weight_bytes = 1;
    in.kv_bytes = 1;
    in.kv_paged = paged;
    in.context_tokens = 600;
    in.peak_context = 2000;
    return in;
}

static void test_paged_kv_holds_the_in_flight_context_plus_one_block(void **state)
{
    (void)state;
    RoofInputs paged = kv_inputs(1), peak = kv_inputs(0);
    /* paged: (600 + 16) x 2,000 = 1,232,000 bytes; peak: 2,000 x 2,000 = 4,000,000 */
    assert_close(roof_kv_bytes_per_sequence(&paged), 1232000.0, 1e-15, 0);
    assert_close(roof_kv_bytes_per_sequence(&peak), 4000000.0, 1e-15, 0);
    /* on one chip of 0.1 GB, hbm_usable 1: weights 18,003,000 bytes (1-byte weights, total:
     * every weight is held), room 81,997,000 -> paged 66, peak 20 */
    paged.hbm_gb = peak.hbm_gb = 0.1;
    paged.hbm_usable = peak.hbm_usable = 1;
    paged.hbm_tb_s = peak.hbm_tb_s = 1;
    paged.peak_tflops = peak.peak_tflops = 100;
    paged.eff_compute = peak.eff_compute = paged.eff_memory = peak.eff_memory = 1;
    paged.eff_prefill = peak.eff_prefill = 1;
    paged.prompt_tokens = peak.prompt_tokens = 100;
    RoofResult a, b;
    assert_int_equal(roof_solve(&paged, &a), 0);
    assert_int_equal(roof_solve(&peak, &b), 0);
    assert_int_equal(a.max_batch_memory, 66);
    assert_int_equal(b.max_batch_memory, 20);
}

static void test_candidate_sizes_are_the_fewest_powers_of_two_multiples_of_8_and_the_top(
    void **state)
{
    (void)state;
    int sizes[64];
    int n = roof_candidate_sizes(3, 8, sizes, 64);
    assert_int_equal(n, 3);
    assert_int_equal(sizes[0], 3);
    assert_int_equal(sizes[1], 4);
    assert_int_equal(sizes[2], 8);
    n = roof_candidate_sizes(2, 72, sizes, 64);
    /* 2 4 8 16 24 32 40 48 56 64 72 */
    assert_int_equal(n, 11);
    assert_int_equal(sizes[n - 1], 72);
    n = roof_candidate_sizes(5, 5, sizes, 64);
    assert_int_equal(n, 1);
    assert_int_equal(sizes[0], 5);
}

static void test_each_collective_adds_its_latency(void **state)
{
    (void)state;
    RoofInputs in = kv_inputs(1);
    in.peak_tflops = 100;
    in.hbm_tb_s = 1;
    in.eff_compute = in.eff_memory = 1;
    in.act_bytes = 2;
    double base = roof_step_ms(&in, 2, 1, NULL, NULL, NULL);
    in.collective_us = 10;
    /* dense, 1 layer, 2 all-reduces per layer: 2 x 10 us = 0.02 ms more, no link given */
    assert_close(roof_step_ms(&in, 2, 1, NULL, NULL, NULL) - base, 0.02, 1e-9, 0);
    /* one chip: no collective */
    assert_close(roof_step_ms(&in, 1, 1, NULL, NULL, NULL),
                 roof_step_ms(&(RoofInputs){.shape = in.shape, .weight_bytes = 1, .kv_bytes = 1,
                                            .context_tokens = 600, .peak_tflops = 100,
                                            .hbm_tb_s = 1, .eff_compute = 1, .eff_memory = 1,
                                            .act_bytes = 2},
                              1, 1, NULL, NULL, NULL),
                 1e-15, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_set_chips_per_instance_is_never_overridden),
        cmocka_unit_test(test_the_winner_is_the_cheapest_feasible_point_of_the_frontier),
        cmocka_unit_test(test_a_looser_slo_never_raises_the_price),
        cmocka_unit_test(test_the_search_stops_at_the_fleet_cap_and_without_scale_up_tries_the_fewest),
        cmocka_unit_test(test_paged_kv_holds_the_in_flight_context_plus_one_block),
        cmocka_unit_test(test_candidate_sizes_are_the_fewest_powers_of_two_multiples_of_8_and_the_top),
        cmocka_unit_test(test_each_collective_adds_its_latency),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
