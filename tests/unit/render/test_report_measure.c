/* Unit tests for sim/render/report_measure.c: a measure run's report.md from a StoredRun built
 * by hand (no database): the precision ratio against fp32, the MTP closed form and stored
 * roofline figure, the MoE model beside the dense twin the run stored, and the median and
 * worst roofline error of the stored validation pairs; a run without the meter's input row is
 * not rendered as a measure run. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/render/report_measure.h"
#include "sim/store/run.h"

/* A decode row of tokens in seconds (energy 1 J, bytes 1e6). */
static StoredMeasurement decode_row(char *model, char *prec, int batch, int64_t tokens,
                                    double seconds)
{
    return (StoredMeasurement){.model = model,
                               .precision = prec,
                               .kv_precision = "fp32",
                               .phase = "decode",
                               .energy_source = "modeled:cpu-linear",
                               .batch = batch,
                               .threads = 2,
                               .prompt_tokens = 8,
                               .tokens = tokens,
                               .seconds = seconds,
                               .flops = 1e9,
                               .weight_bytes = 1e6,
                               .energy_j = 1,
                               .energy_net_j = 0.5,
                               .energy_low_j = 0.8,
                               .energy_high_j = 1.2,
                               .mtp_accept_forced = -1,
                               .mtp_accept_measured = -1};
}

typedef struct {
    StoredRun run;
    StoredMeasurement rows[4];
    StoredInput inputs[8];
    StoredMetric metrics[8];
    StoredValidation val[4];
    char *md; /* the rendered report */
} Fixture;

static void render(Fixture *x)
{
    size_t n = 0;
    FILE *f = open_memstream(&x->md, &n);
    assert_non_null(f);
    report_measure_md(f, &x->run);
    assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
    Fixture *x = calloc(1, sizeof *x);
    if (!x)
        return -1;
    x->rows[0] = decode_row("dense-15m", "fp32", 1, 10, 1.0);  /* 10 tok/s */
    x->rows[1] = decode_row("dense-15m", "int8", 1, 10, 0.25); /* 40 tok/s: 4x fp32 */
    x->rows[2] = decode_row("moe-15m-total", "fp32", 1, 10, 0.5); /* 20 tok/s: 2x dense */
    x->rows[3] = decode_row("dense-15m", "fp32", 1, 10, 0.4);
    x->rows[3].mtp_depth = 2;
    x->rows[3].mtp_accept_forced = 0.5;
    x->rows[3].mtp_accept_measured = 0.1;
    x->rows[3].tokens_per_step = 1.7;
    StoredInput *in = x->inputs;
    in[0] = (StoredInput){"-", "meter", "energy_source", "modeled:cpu-linear", "", "meter", 0, 0};
    in[1] = (StoredInput){"-", "meter", "modeled", NULL, "", "meter", 1, 1};
    in[2] = (StoredInput){"-", "validate", "eff_compute", NULL, "", "default", 0.5, 1};
    in[3] = (StoredInput){"-", "validate", "eff_memory", NULL, "", "default", 0.7, 1};
    in[4] = (StoredInput){"-", "validate", "eff_prefill", NULL, "", "default", 0.5, 1};
    in[5] = (StoredInput){"moe-15m-total", "model", "experts", NULL, "experts", "engine config",
                          8, 1};
    in[6] = (StoredInput){"moe-15m-total", "model", "dense_twin", "dense-15m", "", "same shape",
                          0, 0};
    StoredMetric *m = x->metrics;
    m[0] = (StoredMetric){"moe-15m-total fp32 KV fp32 batch 1", "experts_per_layer", "experts",
                          "measure", 2.5, 0, 0, 0, 1, 0};
    m[1] = (StoredMetric){"dense-15m fp32 KV fp32 batch 1 MTP 2 forced 0.5", "roofline_tok_s",
                          "tok/s", "measure", 123, 0, 0, 0, 1, 0};
    m[2] = (StoredMetric){"-", "measure_threads", "threads", "machine", 2, 0, 0, 0, 1, 0};
    /* errors +100%, +50%, 0, -50%: median |error| 50%, worst 100% */
    double pred[] = {2, 1.5, 1, 0.5};
    for (int i = 0; i < 4; i++)
        x->val[i] = (StoredValidation){"dense-15m", "decode", i + 1, 2, pred[i], 1, 1, 1};
    x->run = (StoredRun){.id = 7,
                         .kind = "measure",
                         .machine = "{\"cpu\":\"x\"}",
                         .measurements = x->rows,
                         .n_measurements = 4,
                         .inputs = x->inputs,
                         .n_inputs = 7,
                         .metrics = x->metrics,
                         .n_metrics = 3,
                         .validation = x->val,
                         .n_validation = 4};
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    Fixture *x = *state;
    free(x->md);
    free(x);
    return 0;
}

static void assert_has(const char *md, const char *want)
{
    if (!strstr(md, want))
        fail_msg("report lacks '%s':\n%s", want, md);
}

static void test_a_run_with_the_meter_input_is_a_measure_run(void **state)
{
    Fixture *x = *state;
    assert_true(report_measure_run(&x->run));
    x->run.n_inputs = 0; /* a measure run stored before its report rows */
    assert_false(report_measure_run(&x->run));
}

static void test_precision_rows_show_tokens_per_s_against_fp32(void **state)
{
    Fixture *x = *state;
    render(x);
    assert_has(x->md, "| dense-15m | int8 | 1 | 40 | 4.00 | 100,000 | 0.1 |");
    assert_has(x->md, "| dense-15m | fp32 | 1 | 10 | 1.00 |");
}

static void test_mtp_row_has_the_closed_form_and_the_stored_roofline(void **state)
{
    Fixture *x = *state;
    render(x);
    /* forced 0.5 at depth 2: 1 + 0.5 + 0.25 */
    assert_has(x->md, "| dense-15m | fp32, MTP 2 forced 0.50 | 0.50 (forced) | 0.100 | 1.700 | "
                      "1.750 | 25 | 123 |");
}

static void test_moe_beside_its_stored_dense_twin(void **state)
{
    Fixture *x = *state;
    render(x);
    assert_has(x->md, "| dense-15m | moe-15m-total | 1 | 10 / 20 | 2.00 | 0.1 / 0.1 | 1.00 | "
                      "100,000 / 100,000 | 1.00 | 2.50 of 8 |");
    /* without the stored twin there is no side-by-side table */
    x->run.n_inputs = 6;
    free(x->md);
    x->md = NULL;
    render(x);
    assert_null(strstr(x->md, "Dense against MoE"));
}

static void test_validation_summary_is_the_median_and_worst_stored_error(void **state)
{
    Fixture *x = *state;
    render(x);
    assert_has(x->md, "Median error 50%, worst 100% over 4 configurations.");
    assert_has(x->md, "| dense-15m | decode | 4 | 2 | 0.5 | 1 | -50% |");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_run_with_the_meter_input_is_a_measure_run, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_precision_rows_show_tokens_per_s_against_fp32,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_mtp_row_has_the_closed_form_and_the_stored_roofline,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_moe_beside_its_stored_dense_twin, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_validation_summary_is_the_median_and_worst_stored_error, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
