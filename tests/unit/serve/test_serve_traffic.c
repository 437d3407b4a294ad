/* test_serve_traffic: request streams: Poisson counts and gamma burstiness against their
 * theory, a diurnal profile's hourly shares, sessions that re-send their growing context after
 * the think time, draws that depend only on the seed and the arrival's index, and trace files:
 * read in order, and every bad line refused as FILE:LINE with TS_EINPUT. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/testutil.h"

#include "sim/serve/traffic.h"

static TrafficSpec spec(double rate, double duration)
{
    TrafficSpec t;
    memset(&t, 0, sizeof t);
    t.arrivals = TRAFFIC_POISSON;
    t.rate_per_s = rate;
    t.duration_s = duration;
    t.input.value = 100;
    t.output.value = 10;
    t.seed = 42;
    return t;
}

/* Gaps of a stream: count, mean and coefficient of variation. */
static void gaps(const TrafficSpec *t, long *n, double *mean, double *cv)
{
    TrafficGen *g;
    TsErr err;
    assert_int_equal(traffic_new(t, &g, &err), 0);
    ServeRequest r;
    double prev = 0, s = 0, s2 = 0;
    *n = 0;
    while (traffic_next(g, &r)) {
        double d = r.arrival_s - prev;
        assert_true(d >= 0);
        prev = r.arrival_s;
        s += d;
        s2 += d * d;
        assert_int_equal(r.id, *n);
        (*n)++;
    }
    traffic_free(g);
    *mean = s / *n;
    *cv = sqrt(s2 / *n - *mean * *mean) / *mean;
}

static void test_poisson_count_and_gamma_cv_match_theory(void **state)
{
    (void)state;
    TrafficSpec t = spec(100, 1000);
    long n;
    double mean, cv;
    gaps(&t, &n, &mean, &cv);
    /* 10^5 expected, sd sqrt(10^5) = 316 */
    assert_true(fabs((double)n - 1e5) < 4 * 316);
    assert_close(cv, 1.0, 0.02, 0);
    t.arrivals = TRAFFIC_GAMMA;
    t.cv = 3;
    gaps(&t, &n, &mean, &cv);
    assert_close(mean, 0.01, 0.05, 0);
    assert_close(cv, 3.0, 0.05, 0);
}

/* Weights 1 in hours 0-11 and 3 in hours 12-23: three quarters of a day's arrivals come in the
 * second half; starting the clock at hour 12 puts them in the first half. */
static void test_diurnal_profile_shapes_hourly_arrivals(void **state)
{
    (void)state;
    TrafficSpec t = spec(2, 2 * 86400.0);
    for (int h = 0; h < 24; h++)
        t.hourly[h] = h < 12 ? 1 : 3;
    for (int start = 0; start <= 12; start += 12) {
        t.start_hour = start;
        TrafficGen *g;
        TsErr err;
        assert_int_equal(traffic_new(&t, &g, &err), 0);
        ServeRequest r;
        long first_half = 0, all = 0;
        while (traffic_next(g, &r)) {
            all++;
            first_half += fmod(r.arrival_s, 86400.0) < 43200.0;
        }
        traffic_free(g);
        assert_true(fabs((double)all - 2 * 2 * 86400.0) < 4 * sqrt(4 * 86400.0));
        assert_close((double)first_half / all, start == 0 ? 0.25 : 0.75, 0.02, 0);
    }
}

static void test_sessions_resend_the_growing_context(void **state)
{
    (void)state;
    TrafficSpec t = spec(1, 100);
    t.turns.value = 4;
    t.think_s.value = 5;
    t.prefix_tokens = 32;
    t.prefix_share = 1;
    TrafficGen *g;
    TsErr err;
    assert_int_equal(traffic_new(&t, &g, &err), 0);
    ServeRequest r, next;
    assert_int_equal(traffic_next(g, &r), 1);
    assert_int_equal(r.input_tokens, 132);
    assert_int_equal(r.prefix_tokens, 32);
    assert_true(r.session >= 0);
    double finish = r.arrival_s + 1;
    for (int turn = 1; turn < 4; turn++) {
        assert_int_equal(traffic_follow(g, &r, finish, &next), 1);
        assert_int_equal(next.turn, turn);
        assert_int_equal(next.history_tokens, r.input_tokens + r.output_tokens);
        assert_int_equal(next.input_tokens, next.history_tokens + 100);
        assert_close(next.arrival_s, finish + 5, 1e-15, 0);
        assert_int_equal(next.session, r.session);
        r = next;
        finish = r.arrival_s + 1;
    }
    assert_int_equal(traffic_follow(g, &r, finish, &next), 0);
    traffic_free(g);
}

/* Arrival i's lengths depend on (seed, i) only: capping the stream changes none of them. */
static void test_draws_depend_only_on_seed_and_index(void **state)
{
    (void)state;
    TrafficSpec t = spec(10, 100);
    char msg[200];
    assert_int_equal(dist_parse("lognormal(300, 1)", 0, &t.input.dist, msg, sizeof msg), 0);
    t.input.use_dist = 1;
    TrafficGen *a, *b;
    TsErr err;
    assert_int_equal(traffic_new(&t, &a, &err), 0);
    t.max_requests = 50;
    assert_int_equal(traffic_new(&t, &b, &err), 0);
    ServeRequest x, y;
    int same = 0;
    while (traffic_next(b, &y)) {
        assert_int_equal(traffic_next(a, &x), 1);
        same += x.input_tokens == y.input_tokens && x.arrival_s == y.arrival_s;
    }
    assert_int_equal(same, 50);
    traffic_free(a);
    traffic_free(b);
}

/* ---- traces ------------------------------------------------------------------------------------
 */

static int setup(void **state)
{
    return test_tmp_setup(state, "serve-trace", "trace.csv");
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void test_trace_is_read_in_order(void **state)
{
    TestTmp *tmp = *state;
    write_file(tmp->path, "arrival_s,input_tokens,output_tokens,prefix_id,prefix_tokens\n"
                          "0.5,100,20,3,64\n"
                          "\n"
                          "1.25,40,1,,\n");
    TrafficSpec t = spec(0, 0);
    t.arrivals = TRAFFIC_TRACE;
    t.trace_path = tmp->path;
    TrafficGen *g;
    TsErr err;
    assert_int_equal(traffic_new(&t, &g, &err), 0);
    ServeRequest r;
    assert_int_equal(traffic_next(g, &r), 1);
    assert_close(r.arrival_s, 0.5, 0, 0);
    assert_int_equal(r.input_tokens, 100);
    assert_int_equal(r.output_tokens, 20);
    assert_int_equal(r.prefix_id, 3);
    assert_int_equal(r.prefix_tokens, 64);
    assert_int_equal(traffic_next(g, &r), 1);
    assert_int_equal(r.prefix_id, -1);
    assert_int_equal(r.output_tokens, 1);
    assert_int_equal(traffic_next(g, &r), 0);
    traffic_free(g);
}

static void test_trace_errors_name_file_and_line(void **state)
{
    TestTmp *tmp = *state;
    static const struct {
        const char *text;
        int line;
        const char *says;
    } cases[] = {
        {"", 1, "empty trace"},
        {"arrival_s,input_tokens\n", 1, "output_tokens: missing"},
        {"arrival_s,input_tokens,output_tokens,colour\n", 1, "unknown column"},
        {"arrival_s,input_tokens,output_tokens\n0,1,1\n1,x,1\n", 3, "input_tokens: expected"},
        {"arrival_s,input_tokens,output_tokens\n0,1,1\n\n2,1,0\n", 4, "output_tokens: expected"},
        {"arrival_s,input_tokens,output_tokens\n5,1,1\n4,1,1\n", 3, "arrival order"},
        {"arrival_s,input_tokens,output_tokens\n-1,1,1\n", 2, "arrival_s: expected seconds"},
        {"arrival_s,input_tokens,output_tokens\n1,1\n", 2, "cells"},
        {"arrival_s,input_tokens,output_tokens,prefix_id,prefix_tokens\n1,10,1,0,11\n", 2,
         "longer than input_tokens"},
        {"arrival_s,input_tokens,output_tokens\n1,2,\"3\n", 2, "unclosed quote"},
        {"arrival_s,input_tokens,output_tokens\n1,9999999999,1\n", 2, "whole number"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_file(tmp->path, cases[i].text);
        TrafficSpec t = spec(0, 0);
        t.arrivals = TRAFFIC_TRACE;
        t.trace_path = tmp->path;
        TrafficGen *g = NULL;
        TsErr err;
        assert_int_equal(traffic_new(&t, &g, &err), TS_EINPUT);
        assert_null(g);
        char want[256];
        snprintf(want, sizeof want, "%s:%d: ", tmp->path, cases[i].line);
        if (strncmp(err.msg, want, strlen(want)) != 0 || !strstr(err.msg, cases[i].says)) {
            print_error("case %zu: got '%s', want '%s...%s'\n", i, err.msg, want, cases[i].says);
            fail();
        }
    }
    TrafficSpec t = spec(0, 0);
    t.arrivals = TRAFFIC_TRACE;
    t.trace_path = "/nonexistent/trace.csv";
    TrafficGen *g;
    TsErr err;
    assert_int_equal(traffic_new(&t, &g, &err), TS_EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_poisson_count_and_gamma_cv_match_theory),
        cmocka_unit_test(test_diurnal_profile_shapes_hourly_arrivals),
        cmocka_unit_test(test_sessions_resend_the_growing_context),
        cmocka_unit_test(test_draws_depend_only_on_seed_and_index),
        cmocka_unit_test_setup_teardown(test_trace_is_read_in_order, setup, test_tmp_teardown),
        cmocka_unit_test_setup_teardown(test_trace_errors_name_file_and_line, setup,
                                        test_tmp_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
