/* Unit tests of sim/price/cost.c against hand-computed cases. Expected values were worked out
 * independently (by hand and with a separate script of the same formulas from
 * scenario-format.md); the base case is:
 *   3.6e9 input tokens at 10,000 tok/s -> CH_prefill = 100 chip-h; 1.8e9 output tokens at
 *   1,000 tok/s -> CH_decode = 500 chip-h; CH = 600; sized at utilisation 0.5 in instances of 8:
 *   ceil(600 / 12) = 50 -> 56 chips; u = 600 / (56 x 24) = 0.4464...
 *   energy = 56 x 24 x (u x 800 W + (1 - u) x 200 W) x 1.25 / 1000 = 786 kWh.
 *   J per output token = 786 x 3.6e6 x 500/600 / 1.8e9 = 1.31. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/testutil.h"

#include <math.h>
#include <stdio.h>

#include "sim/price/cost.h"

#define CHECK(set, id, want) \
    do { \
        assert_true((set)->has[id]); \
        assert_close_at((set)->value[id], (want), 1e-9, 1e-12, #id, __FILE__, __LINE__); \
    } while (0)

static CostInputs base(void)
{
    CostInputs in = {0};
    in.hours = 24;
    in.input_tokens = 3.6e9;
    in.output_tokens = 1.8e9;
    in.decode_tok_s_per_chip = 1000;
    in.prefill_tok_s_per_chip = 10000;
    in.chips_per_instance = 8;
    in.utilization = 0.5;
    in.price_usd = 30000;
    in.server_overhead = 0.25;
    in.years = 4;
    in.interest_rate = 0.08;
    in.hosting_usd_per_kw_month = 100;
    in.has_usd_per_kwh = 1;
    in.usd_per_kwh = 0.1;
    in.pue = 1.25;
    in.power_w_per_chip = 1000;
    in.power_load = 0.8;
    in.idle_w_per_chip = 200;
    in.chip_bf16_tflops = 989;
    in.chip_hbm_gb = 80;
    in.chip_hbm_tb_s = 3.35;
    return in;
}

static void test_crf_with_interest_matches_closed_form(void **state)
{
    (void)state;
    /* 0.08 x 1.08^4 / (1.08^4 - 1) = 0.08 x 1.36048896 / 0.36048896 */
    assert_close(cost_crf(0.08, 4), 0.3019208044540391, 1e-12, 1e-15);
}

static void test_crf_without_interest_is_one_over_years(void **state)
{
    (void)state;
    assert_close(cost_crf(0.0, 4), 0.25, 1e-12, 1e-15);
    assert_close(cost_crf(0.0, 5), 0.2, 1e-12, 1e-15);
}

static void test_owned_fleet_sized_with_interest(void **state)
{
    (void)state;
    CostInputs in = base();
    MetricSet m;
    int over;
    cost_compute(&in, &m, &over);
    assert_int_equal(over, 0);
    CHECK(&m, MET_CHIPS, 56);
    CHECK(&m, MET_INSTANCES, 7);
    CHECK(&m, MET_CHIP_HOURS_PREFILL_PER_DAY, 100);
    CHECK(&m, MET_CHIP_HOURS_DECODE_PER_DAY, 500);
    CHECK(&m, MET_UTILIZATION_NEEDED, 600.0 / (56.0 * 24.0));
    CHECK(&m, MET_SERVED_SHARE, 1);
    CHECK(&m, MET_IT_POWER_KW, 56);
    CHECK(&m, MET_FACILITY_POWER_KW, 70);
    CHECK(&m, MET_ENERGY_KWH_PER_DAY, 786);
    CHECK(&m, MET_ENERGY_USD_PER_DAY, 78.6);
    CHECK(&m, MET_CAPEX_USD, 2100000);
    /* 2.1e6 x 24 x 0.30192080445 / 8760 */
    CHECK(&m, MET_CAPITAL_USD_PER_DAY, 1737.0786009684443);
    /* 100 $/kW-month x 56 kW x 12 / 8760 x 24 */
    CHECK(&m, MET_HOSTING_USD_PER_DAY, 184.1095890410959);
    CHECK(&m, MET_RENT_USD_PER_DAY, 0);
    CHECK(&m, MET_USD_PER_DAY, 1999.7881900095401);
    CHECK(&m, MET_USD_PER_CHIP_HOUR, 1.487937641376146);
    CHECK(&m, MET_USD_PER_M_OUTPUT, 0.9258278657451575);
    CHECK(&m, MET_USD_PER_M_INPUT, 0.09258278657451574);
    CHECK(&m, MET_USD_PER_M_BLENDED, 0.37033114629806296);
    CHECK(&m, MET_ENERGY_USD_PER_M_OUTPUT, 0.036388888888888894);
    CHECK(&m, MET_J_PER_OUTPUT_TOKEN, 1.31);
    CHECK(&m, MET_J_PER_INPUT_TOKEN, 0.131);
    CHECK(&m, MET_IT_J_PER_OUTPUT_TOKEN, 1.048);
    CHECK(&m, MET_BF16_PFLOPS, 56 * 989 / 1000.0);
    CHECK(&m, MET_HBM_TB, 56 * 80 / 1000.0);
    CHECK(&m, MET_HBM_TB_S, 56 * 3.35);
}

static void test_owned_fleet_without_interest_uses_straight_line(void **state)
{
    (void)state;
    CostInputs in = base();
    in.interest_rate = 0;
    MetricSet m;
    int over;
    cost_compute(&in, &m, &over);
    /* 2.1e6 x 24 / 4 / 8760 */
    CHECK(&m, MET_CAPITAL_USD_PER_DAY, 1438.3561643835617);
    CHECK(&m, MET_USD_PER_DAY, 1701.0657534246575);
    CHECK(&m, MET_USD_PER_M_OUTPUT, 0.7875304414003044);
}

static void test_idle_energy_under_partial_utilisation(void **state)
{
    (void)state;
    /* A fixed fleet of 96 chips for 600 chip-h: u = 0.2604; the idle share still draws 200 W. */
    CostInputs in = base();
    in.fixed_chips = 1;
    in.chips = 96;
    MetricSet m;
    int over;
    cost_compute(&in, &m, &over);
    assert_int_equal(over, 0);
    CHECK(&m, MET_UTILIZATION_NEEDED, 600.0 / (96.0 * 24.0));
    /* 96 x 24 x (u x 800 + (1 - u) x 200) x 1.25 / 1000 */
    CHECK(&m, MET_ENERGY_KWH_PER_DAY, 1026);
    CHECK(&m, MET_J_PER_OUTPUT_TOKEN, 1.71);
    CHECK(&m, MET_USD_PER_M_OUTPUT, 1.5722525317536036);
}

static void test_fixed_fleet_over_capacity_serves_a_share(void **state)
{
    (void)state;
    CostInputs in = base();
    in.fixed_chips = 1;
    in.chips = 10;
    MetricSet m;
    int over;
    cost_compute(&in, &m, &over);
    assert_int_equal(over, 1);
    CHECK(&m, MET_UTILIZATION_NEEDED, 2.5);
    CHECK(&m, MET_SERVED_SHARE, 0.4);
    /* busy all the time: 10 x 24 x 800 x 1.25 / 1000 */
    CHECK(&m, MET_ENERGY_KWH_PER_DAY, 240);
    /* per token over served tokens (0.4 x 1.8e9) */
    CHECK(&m, MET_J_PER_OUTPUT_TOKEN, 1.0);
    CHECK(&m, MET_USD_PER_M_OUTPUT, 0.424848749588612);
}

static void test_cache_hits_skip_prefill_and_are_billed_at_their_price(void **state)
{
    (void)state;
    CostInputs in = base();
    in.cache_hit_rate = 0.75;
    in.has_pricing = 1;
    in.price_usd_per_m_input_cache_hit = 0.1;
    in.price_usd_per_m_input = 0.5;
    in.price_usd_per_m_output = 2.0;
    MetricSet m;
    int over;
    cost_compute(&in, &m, &over);
    CHECK(&m, MET_CHIP_HOURS_PREFILL_PER_DAY, 25);
    CHECK(&m, MET_CHIPS, 48);
    /* input cost spread over all 3.6e9 input tokens, hits included */
    CHECK(&m, MET_USD_PER_M_INPUT, 0.02268396473933719);
    /* 2.7e9 hits x 0.1 + 0.9e9 x 0.5 + 1.8e9 x 2.0, per million */
    CHECK(&m, MET_REVENUE_USD_PER_DAY, 4320);
    CHECK(&m, MET_MARKUP, 1.5190859622420136);
    CHECK(&m, MET_GROSS_MARGIN, 0.6030306170615991);
}

static void test_rent_with_power_included_has_no_energy_bill(void **state)
{
    (void)state;
    CostInputs in = base();
    in.rent = 1;
    in.rent_usd_per_chip_hour = 2.5;
    in.rent_includes_power = 1;
    in.has_usd_per_kwh = 0;
    MetricSet m;
    int over;
    cost_compute(&in, &m, &over);
    CHECK(&m, MET_USD_PER_DAY, 56 * 24 * 2.5);
    CHECK(&m, MET_RENT_USD_PER_DAY, 3360);
    CHECK(&m, MET_CAPITAL_USD_PER_DAY, 0);
    CHECK(&m, MET_USD_PER_CHIP_HOUR, 2.5);
    assert_false(m.has[MET_ENERGY_USD_PER_DAY]);
    assert_false(m.has[MET_ENERGY_USD_PER_M_OUTPUT]);
    CHECK(&m, MET_ENERGY_KWH_PER_DAY, 786); /* the energy is still used */
    CHECK(&m, MET_USD_PER_M_OUTPUT, 1.5555555555555556);
}

static void test_rent_without_power_adds_the_energy_bill(void **state)
{
    (void)state;
    CostInputs in = base();
    in.rent = 1;
    in.rent_usd_per_chip_hour = 2.5;
    in.rent_includes_power = 0;
    MetricSet m;
    int over;
    cost_compute(&in, &m, &over);
    CHECK(&m, MET_USD_PER_DAY, 3360 + 78.6);
    CHECK(&m, MET_ENERGY_USD_PER_DAY, 78.6);
    CHECK(&m, MET_USD_PER_M_OUTPUT, 1.5919444444444444);
}

static void test_requests_give_wh_per_request_and_grid_gives_co2(void **state)
{
    (void)state;
    CostInputs in = base();
    in.has_requests = 1;
    in.requests = 3e6;
    in.input_tokens = 3e9;
    in.output_tokens = 1.5e9;
    in.has_grid = 1;
    in.grid_g_co2_per_kwh = 400;
    MetricSet m;
    int over;
    cost_compute(&in, &m, &over);
    CHECK(&m, MET_ENERGY_KWH_PER_DAY, 663);
    CHECK(&m, MET_WH_PER_REQUEST, 0.221);
    CHECK(&m, MET_J_PER_OUTPUT_TOKEN, 1.326);
    /* 1.326 J x 1e6 / 3.6e6 kWh x 400 g / 1000 */
    CHECK(&m, MET_KG_CO2_PER_M_OUTPUT, 0.14733333333333334);
}

static void test_zero_denominators_are_null(void **state)
{
    (void)state;
    CostInputs in = base();
    in.output_tokens = 0;
    in.decode_tok_s_per_chip = 0;
    MetricSet m;
    int over;
    cost_compute(&in, &m, &over);
    assert_false(m.has[MET_USD_PER_M_OUTPUT]);
    assert_false(m.has[MET_J_PER_OUTPUT_TOKEN]);
    assert_false(m.has[MET_IT_J_PER_OUTPUT_TOKEN]);
    assert_false(m.has[MET_ENERGY_USD_PER_M_OUTPUT]);
    assert_false(m.has[MET_WH_PER_REQUEST]);    /* no requests */
    assert_false(m.has[MET_KG_CO2_PER_M_OUTPUT]); /* no grid figure */
    assert_false(m.has[MET_REVENUE_USD_PER_DAY]); /* no pricing */
    assert_false(m.has[MET_MARKUP]);
    assert_false(m.has[MET_DECODE_TOK_S_PER_CHIP]);
    assert_true(m.has[MET_USD_PER_M_INPUT]);
    /* all cost goes to input: 100 chip-h -> ceil(100/12) = 9 -> 16 chips */
    CHECK(&m, MET_CHIPS, 16);

    in = base();
    in.input_tokens = 0;
    cost_compute(&in, &m, &over);
    assert_false(m.has[MET_USD_PER_M_INPUT]);
    assert_false(m.has[MET_J_PER_INPUT_TOKEN]);
    assert_true(m.has[MET_USD_PER_M_OUTPUT]);
    for (int i = 0; i < MET_COUNT; i++)
        if (m.has[i])
            assert_true(isfinite(m.value[i]));
}

static void test_free_revenue_gives_null_margin(void **state)
{
    (void)state;
    CostInputs in = base();
    in.has_pricing = 1; /* all prices 0 */
    MetricSet m;
    int over;
    cost_compute(&in, &m, &over);
    CHECK(&m, MET_REVENUE_USD_PER_DAY, 0);
    CHECK(&m, MET_MARKUP, -1);
    assert_false(m.has[MET_GROSS_MARGIN]);
}

static void test_sized_fleet_has_at_least_one_instance(void **state)
{
    (void)state;
    CostInputs in = base();
    in.input_tokens = 0;
    in.output_tokens = 3600; /* 1 second of one chip */
    MetricSet m;
    int over;
    cost_compute(&in, &m, &over);
    CHECK(&m, MET_CHIPS, 8);
    CHECK(&m, MET_INSTANCES, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crf_with_interest_matches_closed_form),
        cmocka_unit_test(test_crf_without_interest_is_one_over_years),
        cmocka_unit_test(test_owned_fleet_sized_with_interest),
        cmocka_unit_test(test_owned_fleet_without_interest_uses_straight_line),
        cmocka_unit_test(test_idle_energy_under_partial_utilisation),
        cmocka_unit_test(test_fixed_fleet_over_capacity_serves_a_share),
        cmocka_unit_test(test_cache_hits_skip_prefill_and_are_billed_at_their_price),
        cmocka_unit_test(test_rent_with_power_included_has_no_energy_bill),
        cmocka_unit_test(test_rent_without_power_adds_the_energy_bill),
        cmocka_unit_test(test_requests_give_wh_per_request_and_grid_gives_co2),
        cmocka_unit_test(test_zero_denominators_are_null),
        cmocka_unit_test(test_free_revenue_gives_null_margin),
        cmocka_unit_test(test_sized_fleet_has_at_least_one_instance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
