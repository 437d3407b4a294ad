/* test_probe: models/measure/probe.h's ceilings probes on small, short runs (8 MiB arrays, 0.05 s), so
 * the whole file takes well under a second. Machines are shared and noisy, so the figures are
 * only checked to be finite and physically plausible (0.1..2000 GB/s, 0.1..100000 GFLOP/s),
 * with median <= best; the refusals of bad arguments are checked exactly. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/testutil.h"

#include <math.h>
#include <string.h>

#include "models/measure/probe.h"

#define SMALL_BYTES ((size_t)8 << 20)
#define SHORT_S 0.05

static void assert_plausible(const ProbeResult *r, int threads, double lo, double hi)
{
    if (!(isfinite(r->best) && r->best >= lo && r->best <= hi) ||
        !(isfinite(r->median) && r->median > 0.0 && r->median <= r->best)) {
        print_error("best %.17g, median %.17g, want %g <= median <= best <= %g\n", r->best,
                    r->median, lo, hi);
        fail();
    }
    assert_int_equal(r->threads, threads);
    assert_true(r->rounds >= PROBE_MIN_ROUNDS);
    assert_true(r->elapsed_s >= SHORT_S);
    assert_true(strlen(r->method) > 0);
}

static void test_bandwidth_one_thread_gives_plausible_gbs(void **state)
{
    ProbeResult r;
    TsErr err;
    (void)state;
    ts_err_clear(&err);
    assert_int_equal(probe_bandwidth(1, SMALL_BYTES, SHORT_S, &r, &err), TS_OK);
    assert_plausible(&r, 1, 0.1, 2000.0);
    assert_true(r.bytes_per_array == SMALL_BYTES);
    assert_string_equal(r.method, "stream-triad-f32");
}

static void test_bandwidth_two_threads_gives_plausible_gbs(void **state)
{
    ProbeResult r;
    TsErr err;
    (void)state;
    ts_err_clear(&err);
    assert_int_equal(probe_bandwidth(2, SMALL_BYTES, SHORT_S, &r, &err), TS_OK);
    assert_plausible(&r, 2, 0.1, 2000.0);
}

static void test_bandwidth_rounds_arrays_down_to_whole_cache_lines(void **state)
{
    ProbeResult r;
    TsErr err;
    (void)state;
    ts_err_clear(&err);
    assert_int_equal(probe_bandwidth(3, PROBE_MIN_BYTES + 100, 0.01, &r, &err), TS_OK);
    assert_true(r.bytes_per_array == PROBE_MIN_BYTES + 64);
    assert_true(isfinite(r.best) && r.best > 0.0 && r.median <= r.best);
    assert_int_equal(r.threads, 3);
}

static void test_compute_one_thread_gives_plausible_gflops(void **state)
{
    ProbeResult r;
    TsErr err;
    (void)state;
    ts_err_clear(&err);
    assert_int_equal(probe_compute(1, SHORT_S, &r, &err), TS_OK);
    assert_plausible(&r, 1, 0.1, 100000.0);
    assert_true(r.bytes_per_array == 0);
}

static void test_compute_two_threads_gives_plausible_gflops_and_names_its_path(void **state)
{
    ProbeResult r;
    TsErr err;
    (void)state;
    ts_err_clear(&err);
    assert_int_equal(probe_compute(2, SHORT_S, &r, &err), TS_OK);
    assert_plausible(&r, 2, 0.1, 100000.0);
    assert_true(strcmp(r.method, "avx512") == 0 || strcmp(r.method, "avx2-fma") == 0 ||
                strcmp(r.method, "portable") == 0);
}

static void expect_refused(int rc, const TsErr *err, const char *needle)
{
    assert_int_equal(rc, TS_EINPUT);
    assert_int_equal(err->code, TS_EINPUT);
    if (!strstr(err->msg, needle)) {
        print_error("message \"%s\" does not mention \"%s\"\n", err->msg, needle);
        fail();
    }
}

static void test_read_bandwidth_gives_plausible_gbs_for_dram_and_cache_sizes(void **state)
{
    ProbeResult r;
    TsErr err;
    (void)state;
    ts_err_clear(&err);
    assert_int_equal(probe_read_bandwidth(2, SMALL_BYTES, SHORT_S, &r, &err), TS_OK);
    assert_plausible(&r, 2, 0.1, 2000.0);
    assert_string_equal(r.method, "read-f32");
    assert_true(r.bytes_per_array == SMALL_BYTES);
    assert_true(r.worst <= r.median);
    /* an array that fits L1 or L2: a cache ceiling, still a finite positive rate */
    assert_int_equal(probe_read_bandwidth(1, (size_t)64 << 10, SHORT_S, &r, &err), TS_OK);
    assert_plausible(&r, 1, 0.1, 100000.0);
    assert_true(r.bytes_per_array == ((size_t)64 << 10));
    ts_err_clear(&err);
    expect_refused(probe_read_bandwidth(1, PROBE_MIN_BYTES - 1, SHORT_S, &r, &err), &err,
                   "bytes");
    ts_err_clear(&err);
    expect_refused(probe_read_bandwidth(0, SMALL_BYTES, SHORT_S, &r, &err), &err, "threads");
    ts_err_clear(&err);
    assert_int_equal(probe_read_bandwidth(1, SIZE_MAX, SHORT_S, &r, &err), TS_ENOMEM);
}

static void test_compute_trials_report_their_spread_and_keep_the_best(void **state)
{
    ProbeResult r;
    TsErr err;
    (void)state;
    ts_err_clear(&err);
    assert_int_equal(probe_compute_trials(1, 3, 0.02, &r, &err), TS_OK);
    assert_int_equal(r.trials, 3);
    assert_true(isfinite(r.best) && r.best > 0.1 && r.best < 100000.0);
    if (!(r.worst > 0.0 && r.worst <= r.median && r.median <= r.best)) {
        print_error("worst %.17g, median %.17g, best %.17g out of order\n", r.worst, r.median,
                    r.best);
        fail();
    }
    ts_err_clear(&err);
    expect_refused(probe_compute_trials(1, 0, 0.02, &r, &err), &err, "trials");
    ts_err_clear(&err);
    expect_refused(probe_compute_trials(1, 65, 0.02, &r, &err), &err, "trials");
}

static void test_probes_refuse_zero_and_too_many_threads(void **state)
{
    ProbeResult r;
    TsErr err;
    (void)state;
    ts_err_clear(&err);
    expect_refused(probe_bandwidth(0, SMALL_BYTES, SHORT_S, &r, &err), &err, "threads");
    ts_err_clear(&err);
    expect_refused(probe_compute(0, SHORT_S, &r, &err), &err, "threads");
    ts_err_clear(&err);
    expect_refused(probe_compute(-3, SHORT_S, &r, &err), &err, "threads");
    ts_err_clear(&err);
    expect_refused(probe_compute(PROBE_MAX_THREADS + 1, SHORT_S, &r, &err), &err, "threads");
}

static void test_probes_refuse_bad_seconds_tiny_arrays_and_null_out(void **state)
{
    ProbeResult r;
    TsErr err;
    (void)state;
    ts_err_clear(&err);
    expect_refused(probe_compute(1, -1.0, &r, &err), &err, "min_seconds");
    ts_err_clear(&err);
    expect_refused(probe_compute(1, NAN, &r, &err), &err, "min_seconds");
    ts_err_clear(&err);
    expect_refused(probe_bandwidth(1, SMALL_BYTES, PROBE_MAX_SECONDS * 2, &r, &err), &err,
                   "min_seconds");
    ts_err_clear(&err);
    expect_refused(probe_bandwidth(1, PROBE_MIN_BYTES - 1, SHORT_S, &r, &err), &err, "bytes");
    ts_err_clear(&err);
    expect_refused(probe_compute(1, SHORT_S, NULL, &err), &err, "result");
}

/* Rounding SIZE_MAX up to a 2 MiB multiple once wrapped to a tiny allocation. (No real
 * allocation is tried: under AddressSanitizer a failed one aborts instead of returning NULL.) */
static void test_bandwidth_reports_out_of_memory_for_absurd_arrays(void **state)
{
    ProbeResult r;
    TsErr err;
    (void)state;
    ts_err_clear(&err);
    assert_int_equal(probe_bandwidth(1, SIZE_MAX, SHORT_S, &r, &err), TS_ENOMEM);
    assert_int_equal(err.code, TS_ENOMEM);
    assert_non_null(strstr(err.msg, "out of memory"));
}

static void test_cpu_count_is_at_least_one(void **state)
{
    int n = probe_cpu_count();
    (void)state;
    assert_true(n >= 1 && n <= PROBE_MAX_THREADS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bandwidth_one_thread_gives_plausible_gbs),
        cmocka_unit_test(test_bandwidth_two_threads_gives_plausible_gbs),
        cmocka_unit_test(test_bandwidth_rounds_arrays_down_to_whole_cache_lines),
        cmocka_unit_test(test_compute_one_thread_gives_plausible_gflops),
        cmocka_unit_test(test_compute_two_threads_gives_plausible_gflops_and_names_its_path),
        cmocka_unit_test(test_read_bandwidth_gives_plausible_gbs_for_dram_and_cache_sizes),
        cmocka_unit_test(test_compute_trials_report_their_spread_and_keep_the_best),
        cmocka_unit_test(test_probes_refuse_zero_and_too_many_threads),
        cmocka_unit_test(test_probes_refuse_bad_seconds_tiny_arrays_and_null_out),
        cmocka_unit_test(test_bandwidth_reports_out_of_memory_for_absurd_arrays),
        cmocka_unit_test(test_cpu_count_is_at_least_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
