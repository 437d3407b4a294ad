/* Unit tests of sim/scenario/scenario.c: parsing, catalog merging, defaults, origins and line numbers,
 * on scenarios held in strings, against the shipped catalogs in data/ (tests run from the
 * repository root). Error cases check the FILE:LINE prefix and the message. */
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
#include "sim/scenario/scenario.h"

static ScnCatalogs CATS;

/* Absolute tolerance only (cmocka 1.1.5 has no assert_double_equal). */
#define assert_near(got, want, tol) assert_close((got), (want), 0.0, (tol))



static int setup(void **state)
{
    (void)state;
    TsErr err;
    ts_err_clear(&err);
    if (scn_catalogs_load(&CATS, "data", &err)) {
        print_error("catalogs: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    scn_catalogs_fini(&CATS);
    return 0;
}

static int load(Scenario *s, const char *text, TsErr *err)
{
    ts_err_clear(err);
    return scn_load_text(s, "t.ini", text, strlen(text), &CATS, err);
}

/* Loads text expecting failure; checks the message contains want. */
static void expect_error(const char *text, const char *want)
{
    Scenario s;
    TsErr err;
    int rc = load(&s, text, &err);
    if (rc != TS_EINPUT || !strstr(err.msg, want)) {
        print_error("rc %d, message '%s', wanted '%s'\n", rc, err.msg, want);
        if (rc == 0)
            scn_fini(&s);
        fail();
    }
}

#define HEAD "[scenario]\nname = t\n[workload]\nmodel = llama-3.1-8b\n"
#define TOKENS "input_tokens_per_day = 1e9\noutput_tokens_per_day = 1e9\n"

static void test_minimal_declared_fleet_resolves_with_defaults(void **state)
{
    (void)state;
    const char *text = HEAD TOKENS
        "[fleet a]\nchip = h100-sxm\nusd_per_kwh = 0.08\n"
        "decode_tok_s_per_chip = 1000\nprefill_tok_s_per_chip = 10000\n";
    Scenario s;
    TsErr err;
    assert_int_equal(load(&s, text, &err), 0);
    assert_int_equal(s.n_fleets, 1);
    const ScnFleet *f = &s.fleets[0];
    assert_string_equal(f->name, "a");
    assert_string_equal(f->chip.name, "h100-sxm");
    assert_int_equal(f->throughput, THR_DECLARED);
    assert_int_equal(f->rent, 0);
    assert_near(s.sc[SK_HOURS].num, 24, 0);
    assert_near(s.sc[SK_SEED].num, 1, 0);
    assert_near(s.sc[SK_SAMPLES].num, 10000, 0);
    assert_int_equal(s.sc[SK_HOURS].origin, ORIG_DEFAULT);
    assert_near(f->v[FK_YEARS].num, 4, 0);
    assert_near(f->v[FK_INTEREST_RATE].num, 0.08, 0);
    assert_near(f->v[FK_PUE].num, 1, 0);
    assert_near(f->v[FK_UTILIZATION].num, 1, 0);
    assert_near(f->v[FK_CHIPS_PER_INSTANCE].num, 1, 0);
    /* power from the catalog's all-in figure */
    assert_string_equal(f->energy_source, "catalog:all_in_w");
    assert_int_equal(f->v[FK_POWER_W_PER_CHIP].origin, ORIG_CATALOG);
    /* the value's origin names its line */
    assert_int_equal(f->v[FK_DECODE_TOK_S_PER_CHIP].origin, ORIG_FILE);
    assert_int_equal(f->v[FK_DECODE_TOK_S_PER_CHIP].line, 10);
    assert_int_equal(f->pricing, -1);
    scn_fini(&s);
}

static void test_names_are_case_insensitive_and_comments_skipped(void **state)
{
    (void)state;
    const char *text = "; a comment\n# another\n[Scenario]\nname = t ; inline comment\n"
                       "[workload]\nmodel = LLAMA-3.1-8B\n" TOKENS
                       "[fleet a]\nchip = H100-SXM\nusd_per_kwh = 0.08\n"
                       "decode_tok_s_per_chip = 1000\nprefill_tok_s_per_chip = 10000\n";
    Scenario s;
    TsErr err;
    assert_int_equal(load(&s, text, &err), 0);
    assert_string_equal(s.sc[SK_NAME].text, "t");
    assert_string_equal(s.fleets[0].chip.name, "h100-sxm");
    assert_string_equal(s.models[s.fleets[0].model].name, "llama-3.1-8b");
    scn_fini(&s);
}

static void test_crlf_and_bom_are_accepted(void **state)
{
    (void)state;
    const char *text = "\xEF\xBB\xBF[scenario]\r\nname = t\r\n[workload]\r\nmodel = llama-3.1-8b\r\n"
                       "output_tokens_per_day = 1e9\r\n[fleet a]\r\nchip = h100-sxm\r\n"
                       "usd_per_kwh = 0.08\r\ndecode_tok_s_per_chip = 1000\r\n";
    Scenario s;
    TsErr err;
    assert_int_equal(load(&s, text, &err), 0);
    assert_near(s.fleets[0].v[FK_DECODE_TOK_S_PER_CHIP].num, 1000, 0);
    scn_fini(&s);
}

static void test_chip_section_and_fleet_keys_override_the_catalog(void **state)
{
    (void)state;
    const char *text = HEAD TOKENS
        "[chip h100-sxm]\nprice_usd = 20000\nidle_w = 100\n"
        "[fleet a]\nchip = h100-sxm\nusd_per_kwh = 0.08\nidle_w = 50\n"
        "decode_tok_s_per_chip = 1000\nprefill_tok_s_per_chip = 10000\n"
        "[fleet b]\nchip = h100-sxm\nusd_per_kwh = 0.08\npower_w_per_chip = 900\n"
        "decode_tok_s_per_chip = 1000\nprefill_tok_s_per_chip = 10000\n";
    Scenario s;
    TsErr err;
    assert_int_equal(load(&s, text, &err), 0);
    const ScnFleet *a = &s.fleets[0], *b = &s.fleets[1];
    assert_near(a->chip.v[CK_PRICE_USD].num, 20000, 0);
    assert_int_equal(a->chip.v[CK_PRICE_USD].line, 8);
    assert_near(a->chip.v[CK_IDLE_W].num, 50, 0);   /* fleet beats [chip] */
    assert_near(a->v[FK_IDLE_W_PER_CHIP].num, 50, 0);
    assert_near(b->chip.v[CK_IDLE_W].num, 100, 0);  /* [chip] beats catalog */
    assert_int_equal(a->chip.v[CK_BF16_TFLOPS].origin, ORIG_CATALOG);
    assert_string_equal(b->energy_source, "declared");
    assert_near(b->v[FK_POWER_W_PER_CHIP].num, 900, 0);
    scn_fini(&s);
}

static void test_chip_with_only_tdp_uses_tdp_and_idle_default(void **state)
{
    (void)state;
    const char *text = HEAD TOKENS
        "[chip mychip]\nbf16_tflops = 100\ntdp_w = 500\nprice_usd = 1000\n"
        "[fleet a]\nchip = mychip\nusd_per_kwh = 0.08\n"
        "decode_tok_s_per_chip = 1000\nprefill_tok_s_per_chip = 10000\n";
    Scenario s;
    TsErr err;
    assert_int_equal(load(&s, text, &err), 0);
    const ScnFleet *f = &s.fleets[0];
    assert_string_equal(f->energy_source, "catalog:tdp_w");
    assert_near(f->v[FK_POWER_W_PER_CHIP].num, 500, 0);
    assert_near(f->v[FK_IDLE_W_PER_CHIP].num, 150, 1e-12); /* 0.3 x 500 */
    assert_int_equal(f->chip.cat_row, -1);
    scn_fini(&s);
}

static void test_mfu_throughput_follows_peak_over_flops(void **state)
{
    (void)state;
    const char *text =
        "[scenario]\nname = t\n[workload]\nmodel = m\noutput_tokens_per_day = 1e9\n"
        "input_tokens_per_day = 1e9\nprompt_tokens = 100\ncontext_tokens = 200\n"
        "[model m]\nlayers = 2\nd_model = 8\nheads = 2\nkv_heads = 1\nffn = 16\nvocab = 10\n"
        "[fleet a]\nchip = h100-sxm\nusd_per_kwh = 0.08\nmfu = 0.5\nmfu_prefill = 0.25\n";
    Scenario s;
    TsErr err;
    assert_int_equal(load(&s, text, &err), 0);
    const ScnFleet *f = &s.fleets[0];
    const ScnModel *m = &s.models[f->model];
    assert_int_equal(f->throughput, THR_MFU);
    assert_true(m->has_shape);
    assert_int_equal(m->shape.head_dim, 4); /* derived: 8 / 2 */
    /* non-embedding active: per layer attn 2*8*2*4 + 2*8*1*4 = 192, ffn 3*8*16 = 384; x2 = 1152
     * decode: 2*1152 + 2*10*8 + 4*2*2*4*200 = 2304 + 160 + 12800 = 15264 */
    PerfResult p;
    assert_int_equal(perf_fleet(&s, f, &p, &err), 0);
    assert_near(p.flops_per_output_token, 15264, 1e-9);
    /* prompt of 100: 2304 + 160/100 + 4*2*2*4*50.5 = 2304 + 1.6 + 3232 */
    assert_near(p.flops_per_input_token, 5537.6, 1e-9);
    assert_near(p.decode_tok_s_per_chip, 989e12 * 0.5 / 15264, 1e-3);
    assert_near(p.prefill_tok_s_per_chip, 989e12 * 0.25 / 5537.6, 1e-3);
    scn_fini(&s);
}

static void test_mfu_uses_fp8_peak_for_one_byte_weights(void **state)
{
    (void)state;
    const char *text = "[scenario]\nname = t\n[workload]\nmodel = m\noutput_tokens_per_day = 1e9\n"
                       "[model m]\nparams_active = 1e9\nweight_bytes = 1\n"
                       "[fleet a]\nchip = h100-sxm\nusd_per_kwh = 0.08\nmfu = 0.5\n";
    Scenario s;
    TsErr err;
    assert_int_equal(load(&s, text, &err), 0);
    PerfResult p;
    assert_int_equal(perf_fleet(&s, &s.fleets[0], &p, &err), 0);
    assert_near(p.peak_tflops, 1979, 0);
    assert_near(p.decode_tok_s_per_chip, 1979e12 * 0.5 / 2e9, 1e-6);
    scn_fini(&s);
}

static void test_catalog_params_far_from_shape_warn(void **state)
{
    (void)state;
    const char *text = "[scenario]\nname = t\n[workload]\nmodel = m\noutput_tokens_per_day = 1e9\n"
                       "[model m]\nlayers = 2\nd_model = 8\nheads = 2\nffn = 16\nvocab = 10\n"
                       "params_total = 99999\n"
                       "[fleet a]\nchip = h100-sxm\nusd_per_kwh = 0.08\nmfu = 0.5\n";
    Scenario s;
    TsErr err;
    assert_int_equal(load(&s, text, &err), 0);
    assert_true(s.n_warnings >= 1);
    assert_non_null(strstr(s.warnings[0], "t.ini:12: model 'm': params_total"));
    scn_fini(&s);
}

static void test_requests_derive_prompt_and_context(void **state)
{
    (void)state;
    const char *text = "[scenario]\nname = t\n[workload]\nmodel = llama-3.1-8b\n"
                       "requests_per_day = 1000\ninput_tokens_per_request = 800\n"
                       "output_tokens_per_request = 400\n"
                       "[fleet a]\nchip = h100-sxm\nusd_per_kwh = 0.08\nmfu = 0.5\n";
    Scenario s;
    TsErr err;
    assert_int_equal(load(&s, text, &err), 0);
    assert_near(s.wl[WK_PROMPT_TOKENS].num, 800, 0);
    assert_near(s.wl[WK_CONTEXT_TOKENS].num, 1000, 0); /* 800 + 400 / 2 */
    assert_int_equal(s.wl[WK_CONTEXT_TOKENS].origin, ORIG_DERIVED);
    FleetResult r;
    assert_int_equal(eval_fleet(&s, &s.fleets[0], &r, &err), 0);
    assert_near(r.inputs.input_tokens, 800000, 0);
    assert_near(r.inputs.output_tokens, 400000, 0);
    assert_true(r.inputs.has_requests);
    scn_fini(&s);
}

static void test_pricing_from_section_and_catalog(void **state)
{
    (void)state;
    const char *text = HEAD TOKENS
        "[pricing]\nusd_per_m_input = 1\nusd_per_m_output = 4\n"
        "[fleet a]\nchip = h100-sxm\nusd_per_kwh = 0.08\n"
        "decode_tok_s_per_chip = 1000\nprefill_tok_s_per_chip = 10000\n"
        "[fleet b]\nchip = h100-sxm\nusd_per_kwh = 0.08\npricing = GPT-4o\n"
        "decode_tok_s_per_chip = 1000\nprefill_tok_s_per_chip = 10000\n";
    Scenario s;
    TsErr err;
    assert_int_equal(load(&s, text, &err), 0);
    const ScnPricing *pa = &s.pricings[s.fleets[0].pricing];
    const ScnPricing *pb = &s.pricings[s.fleets[1].pricing];
    assert_near(pa->v[PK_USD_PER_M_OUTPUT].num, 4, 0);
    assert_near(pb->v[PK_USD_PER_M_OUTPUT].num, 10, 0);
    assert_int_equal(pb->v[PK_USD_PER_M_OUTPUT].origin, ORIG_CATALOG);
    FleetResult r;
    assert_int_equal(eval_fleet(&s, &s.fleets[0], &r, &err), 0);
    /* no cache-hit price: hits are billed as input */
    assert_near(r.inputs.price_usd_per_m_input_cache_hit, 1, 0);
    scn_fini(&s);
}

static void test_electricity_by_name_comes_from_catalog(void **state)
{
    (void)state;
    const char *text = HEAD TOKENS "[fleet a]\nchip = h100-sxm\nelectricity = us-industrial-2023\n"
                                   "decode_tok_s_per_chip = 1000\nprefill_tok_s_per_chip = 10000\n";
    Scenario s;
    TsErr err;
    assert_int_equal(load(&s, text, &err), 0);
    assert_near(s.fleets[0].v[FK_USD_PER_KWH].num, 0.0806, 1e-12);
    assert_true(s.fleets[0].elec_row >= 0);
    scn_fini(&s);
}

static void test_rent_with_power_needs_no_electricity(void **state)
{
    (void)state;
    const char *text = HEAD TOKENS "[fleet a]\nchip = h100-sxm\ncost = rent\n"
                                   "decode_tok_s_per_chip = 1000\nprefill_tok_s_per_chip = 10000\n";
    Scenario s;
    TsErr err;
    assert_int_equal(load(&s, text, &err), 0);
    assert_int_equal(s.fleets[0].rent, 1);
    assert_string_equal(s.fleets[0].v[FK_COST].text, "rent");
    scn_fini(&s);
    expect_error(HEAD TOKENS "[fleet a]\nchip = h100-sxm\ncost = rent\nrent_includes_power = no\n"
                             "decode_tok_s_per_chip = 1000\nprefill_tok_s_per_chip = 10000\n",
                 "t.ini:7: fleet 'a' needs an electricity price");
}

static void test_errors_name_file_and_line(void **state)
{
    (void)state;
    expect_error(HEAD TOKENS "[fleet a]\nchipz = h100-sxm\n",
                 "t.ini:8: unknown key 'chipz' in [fleet a]; did you mean 'chip'?");
    expect_error(HEAD TOKENS "[fleet a]\nchip = h100-sx\n",
                 "t.ini:8: unknown chip 'h100-sx'; did you mean 'h100-sxm'?");
    expect_error(HEAD TOKENS "[fleett a]\n", "t.ini:7: unknown section [fleett]; did you mean [fleet]?");
    expect_error(HEAD "output_tokens_per_day = 12abc\n[fleet a]\nchip = h100-sxm\n",
                 "t.ini:5: output_tokens_per_day: expected a number, got '12abc'");
    expect_error(HEAD "output_tokens_per_day = 1e9\ncache_hit_rate = 1.5\n[fleet a]\nchip = x\n",
                 "t.ini:6: cache_hit_rate must be in [0, 1], got 1.5");
    expect_error(HEAD TOKENS "[fleet a]\nchip = h100-sxm\npue = 0.9\n", "t.ini:9: pue must be in [1, 10]");
    expect_error(HEAD TOKENS "[fleet a]\nchip = h100-sxm\nyears = 2.5\n",
                 "t.ini:9: years: expected a whole number");
    expect_error(HEAD TOKENS "[fleet a]\nchip = h100-sxm\nchip = b200\n",
                 "t.ini:9: key 'chip' given twice in one section (first at line 8)");
    expect_error(HEAD TOKENS "[fleet a]\nchip: h100-sxm\n", "t.ini:8: expected 'key = value'");
    expect_error(HEAD TOKENS "[fleet a]\n  chip = h100-sxm\n", "t.ini:8: lines must not be indented");
    expect_error(HEAD TOKENS "[fleet a]\nchip = h100-sxm\nusd_per_kwh = triangular(0.1, 0.05, 0.2)\n",
                 "t.ini:9: usd_per_kwh: triangular(LOW, MODE, HIGH) needs LOW <= MODE <= HIGH");
    expect_error(HEAD TOKENS "[fleet a]\nchip = h100-sxm\nyears = uniform(3, 5)\n",
                 "t.ini:9: years: a whole-number key takes only choice(V1, V2, ...)");
    expect_error(HEAD TOKENS "[fleet a]\nchip = h100-sxm\npue = uniform(0.5, 0.9)\n",
                 "t.ini:9: pue: the median 0.7 of 'uniform(0.5, 0.9)' is outside the valid range");
    expect_error(HEAD TOKENS "[fleet a]\nchip = h100-sxm\n[FLEET A]\nchip = b200\n",
                 "t.ini:9: duplicate [fleet A] (first at line 7)");
    expect_error("name = x\n", "t.ini:1: 'name' is outside any section");
    expect_error("", "t.ini:1: empty scenario");
    expect_error(HEAD TOKENS, "no [fleet NAME] section");
    expect_error(HEAD TOKENS "[fleet a]\nchip = h100-sxm\nusd_per_kwh = 0.1\n"
                             "decode_tok_s_per_chip = 5\nprefill_tok_s_per_chip = 5\n"
                             "[sweep]\nover = usd_per_kwh\n",
                 "t.ini:12: [sweep] needs over = KEY and values");
    expect_error(HEAD TOKENS "[fleet a]\nchip = h100-sxm\nusd_per_kwh = 0.1\nthroughput = roofline\n",
                 "t.ini:3: throughput = roofline (fleet 'a') needs context_tokens");
    expect_error(HEAD TOKENS "context_tokens = 100\n[fleet a]\nchip = h100-sxm\nusd_per_kwh = 0.1\n",
                 "t.ini:3: throughput = roofline (fleet 'a') needs prompt_tokens");
    expect_error(HEAD TOKENS "[fleet a]\nchip = h100-sxm\nusd_per_kwh = 0.1\n"
                             "decode_tok_s_per_chip = 5\n",
                 "needs prefill_tok_s_per_chip");
    expect_error(HEAD TOKENS "[fleet a]\nchip = h100-sxm\nusd_per_kwh = 0.1\nelectricity = x\n",
                 "t.ini:10: fleet 'a': give usd_per_kwh or electricity, not both");
}

static void test_line_length_limit_is_199(void **state)
{
    (void)state;
    char text[1024];
    char desc[300];
    /* "description = " is 14 characters: 185 more make a 199-character line */
    memset(desc, 'x', 185);
    desc[185] = '\0';
    snprintf(text, sizeof text,
             "[scenario]\nname = t\ndescription = %s\n[workload]\nmodel = llama-3.1-8b\n"
             "output_tokens_per_day = 1\n[fleet a]\nchip = h100-sxm\nusd_per_kwh = 0.1\n"
             "decode_tok_s_per_chip = 5\n",
             desc);
    Scenario s;
    TsErr err;
    assert_int_equal(load(&s, text, &err), 0);
    assert_int_equal((int)strlen(s.sc[SK_DESCRIPTION].text), 185);
    scn_fini(&s);
    memset(desc, 'x', 186);
    desc[186] = '\0';
    snprintf(text, sizeof text, "[scenario]\nname = t\ndescription = %s\n", desc);
    expect_error(text, "t.ini:3: line is 200 characters long; at most 199 are allowed");
}

static void test_nul_byte_is_refused_as_binary(void **state)
{
    (void)state;
    const char text[] = "[scenario]\nname = t\0\n";
    Scenario s;
    TsErr err;
    ts_err_clear(&err);
    assert_int_equal(scn_load_text(&s, "t.ini", text, sizeof text - 1, &CATS, &err), TS_EINPUT);
    assert_non_null(strstr(err.msg, "t.ini:2: a NUL byte"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_declared_fleet_resolves_with_defaults),
        cmocka_unit_test(test_names_are_case_insensitive_and_comments_skipped),
        cmocka_unit_test(test_crlf_and_bom_are_accepted),
        cmocka_unit_test(test_chip_section_and_fleet_keys_override_the_catalog),
        cmocka_unit_test(test_chip_with_only_tdp_uses_tdp_and_idle_default),
        cmocka_unit_test(test_mfu_throughput_follows_peak_over_flops),
        cmocka_unit_test(test_mfu_uses_fp8_peak_for_one_byte_weights),
        cmocka_unit_test(test_catalog_params_far_from_shape_warn),
        cmocka_unit_test(test_requests_derive_prompt_and_context),
        cmocka_unit_test(test_pricing_from_section_and_catalog),
        cmocka_unit_test(test_electricity_by_name_comes_from_catalog),
        cmocka_unit_test(test_rent_with_power_needs_no_electricity),
        cmocka_unit_test(test_errors_name_file_and_line),
        cmocka_unit_test(test_line_length_limit_is_199),
        cmocka_unit_test(test_nul_byte_is_refused_as_binary),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
