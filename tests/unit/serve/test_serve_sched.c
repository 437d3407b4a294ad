/* test_serve_sched: the scheduler and the simulator keep their books: every request arrives and
 * finishes once, answer tokens out equal answer tokens asked, KV positions computed equal those
 * needed minus cache hits plus what preemption dropped, every KV block returns; preemption
 * happens when blocks run short and takes the newest; a fixed shared prefix gives the hit rate
 * counted from the traffic; the KV pool's LRU and hash; sizing and the caps refuse what they
 * must. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/testutil.h"

#include "tests/unit/serve/serve_fixture.h"

static StepTime fx_steptime(void)
{
    RoofInputs in = fx_roof();
    StepModel m;
    steptime_model_from_roof(&m, &in, 1);
    StepTime st;
    TsErr err;
    assert_int_equal(steptime_init(&st, &m, &err), 0);
    return st;
}

static void run_ok(const ServeConfig *c, const TrafficSpec *t, ServeResult *r, TsErr *err)
{
    int rc = serve_run(c, t, r, err);
    if (rc)
        print_error("serve_run: %s\n", err->msg);
    assert_int_equal(rc, 0);
}

/* ---- the KV pool ------------------------------------------------------------------------------
 */

static void test_kv_pool_lru_evicts_least_recently_freed(void **state)
{
    (void)state;
    KvPool p;
    TsErr err;
    assert_int_equal(kv_init(&p, 3, 1, &err), 0);
    int32_t a = kv_alloc(&p), b = kv_alloc(&p), c = kv_alloc(&p);
    assert_int_equal(kv_alloc(&p), -1);
    kv_register(&p, a, kv_key(KV_KEY_PREFIX, 1, 0));
    kv_register(&p, b, kv_key(KV_KEY_PREFIX, 1, 1));
    kv_release(&p, b); /* freed first: evicted first */
    kv_release(&p, a);
    kv_release(&p, c); /* no key: back on the free stack, taken before any cached block */
    assert_int_equal(kv_available(&p), 3);
    assert_int_equal(kv_alloc(&p), c);
    assert_int_equal(kv_alloc(&p), b);
    assert_int_equal(kv_lookup(&p, kv_key(KV_KEY_PREFIX, 1, 1)), -1);
    assert_int_equal(kv_lookup(&p, kv_key(KV_KEY_PREFIX, 1, 0)), a);
    assert_int_equal(p.n_used, 3);
    assert_int_equal(p.evictions, 1);
    kv_fini(&p);
}

static void test_kv_hash_survives_many_deletions(void **state)
{
    (void)state;
    KvPool p;
    TsErr err;
    enum { N = 5000 };
    assert_int_equal(kv_init(&p, N, 1, &err), 0);
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < N; i++) {
            int32_t b = kv_alloc(&p);
            assert_true(b >= 0);
            kv_register(&p, b, kv_key(KV_KEY_SESSION, round * N + i, 0));
            kv_release(&p, b);
        }
        /* the last N keys are all cached, the earlier ones all evicted */
        for (int i = 0; i < N; i += 97) {
            int32_t b = kv_lookup(&p, kv_key(KV_KEY_SESSION, round * N + i, 0));
            assert_true(b >= 0);
            kv_release(&p, b);
            if (round > 0)
                assert_int_equal(kv_lookup(&p, kv_key(KV_KEY_SESSION, (round - 1) * N + i, 0)), -1);
        }
    }
    kv_fini(&p);
}

/* ---- the scheduler alone ------------------------------------------------------------------------
 */

/* Drives a scheduler with the modeled backend until idle; checks the books. */
static void sched_books(int prefix_cache, int32_t kv_blocks, long *preemptions)
{
    StepTime st = fx_steptime();
    StepBackend be = steptime_backend(&st);
    SchedConfig c = fx_sched(kv_blocks);
    c.prefix_cache = prefix_cache;
    c.max_batched_tokens = 512;
    Sched *s;
    TsErr err;
    assert_int_equal(sched_new(&c, &s, &err), 0);
    enum { N = 300 };
    static int seen[N];
    memset(seen, 0, sizeof seen);
    long need = 0, out = 0;
    for (int i = 0; i < N; i++) {
        ServeRequest r = {.id = i,
                          .input_tokens = 20 + (i * 37) % 300,
                          .output_tokens = 1 + (i * 53) % 200,
                          .prefix_id = i % 3 == 0 ? 7 : -1,
                          .prefix_tokens = i % 3 == 0 ? 20 : 0,
                          .session = -1,
                          .first_token_s = -1};
        need += r.input_tokens + r.output_tokens - 1;
        out += r.output_tokens;
        assert_int_equal(sched_add(s, &r, &err), 0);
    }
    double now = 0, dt;
    long finished = 0;
    while (sched_outstanding(s) > 0) {
        assert_int_equal(sched_step(s, &be, now, &dt, &err), 0);
        assert_true(dt > 0);
        now += dt;
        int n;
        const SchedDone *d = sched_done(s, &n);
        for (int k = 0; k < n; k++) {
            assert_false(seen[d[k].req.id]++);
            assert_true(d[k].first_token_s <= d[k].finish_s);
            finished++;
        }
        assert_true(sched_kv(s)->n_used <= kv_blocks);
    }
    const SchedStats *x = sched_stats(s);
    assert_int_equal(finished, N);
    assert_int_equal(x->emitted_tokens, out);
    assert_int_equal(x->prefill_tokens + x->decode_tokens,
                     need - x->cached_tokens - x->rehit_tokens + x->recomputed_tokens);
    const KvPool *kv = sched_kv(s);
    assert_int_equal(kv->n_used, 0);
    assert_int_equal(kv->n_free + kv->n_lru, kv_blocks);
    *preemptions = x->preemptions;
    sched_free(s);
}

static void test_sched_conserves_requests_tokens_and_blocks(void **state)
{
    (void)state;
    long pre;
    sched_books(0, 100000, &pre);
    assert_int_equal(pre, 0);
    sched_books(1, 100000, &pre);
    assert_int_equal(pre, 0);
}

static void test_sched_preempts_when_blocks_run_out_and_still_conserves(void **state)
{
    (void)state;
    long pre;
    sched_books(1, 60, &pre); /* 60 blocks = 960 tokens for 256 sequences: constant pressure */
    assert_true(pre > 0);
    sched_books(0, 60, &pre);
    assert_true(pre > 0);
}

/* Two requests, blocks for only one to grow: the newer one is preempted, the older finishes
 * first and without a preemption. */
static void test_sched_preempts_the_newest(void **state)
{
    (void)state;
    StepTime st = fx_steptime();
    StepBackend be = steptime_backend(&st);
    SchedConfig c = fx_sched(6); /* 96 tokens */
    c.prefix_cache = 0;
    Sched *s;
    TsErr err;
    assert_int_equal(sched_new(&c, &s, &err), 0);
    for (int i = 0; i < 2; i++) {
        ServeRequest r = {.id = i,
                          .input_tokens = 16,
                          .output_tokens = 60,
                          .prefix_id = -1,
                          .session = -1,
                          .first_token_s = -1};
        assert_int_equal(sched_add(s, &r, &err), 0);
    }
    double now = 0, dt;
    int order[2], k = 0, pre[2] = {0, 0};
    while (sched_outstanding(s) > 0) {
        assert_int_equal(sched_step(s, &be, now, &dt, &err), 0);
        now += dt;
        int n;
        const SchedDone *d = sched_done(s, &n);
        for (int j = 0; j < n; j++) {
            pre[d[j].req.id] = d[j].preemptions;
            order[k++] = (int)d[j].req.id;
        }
    }
    assert_int_equal(order[0], 0);
    assert_int_equal(pre[0], 0);
    assert_true(pre[1] > 0);
    sched_free(s);
}

static void test_sched_refuses_a_request_larger_than_the_cache(void **state)
{
    (void)state;
    SchedConfig c = fx_sched(4);
    Sched *s;
    TsErr err;
    assert_int_equal(sched_new(&c, &s, &err), 0);
    ServeRequest r = {.id = 0,
                      .input_tokens = 60,
                      .output_tokens = 6,
                      .prefix_id = -1,
                      .session = -1,
                      .first_token_s = -1};
    assert_int_equal(sched_add(s, &r, &err), TS_EINPUT);
    assert_non_null(strstr(err.msg, "needs 5 KV blocks"));
    r.output_tokens = 5; /* 64 tokens + 1 - 1: the last is never written */
    assert_int_equal(sched_add(s, &r, &err), 0);
    sched_free(s);
}

/* ---- the simulator ------------------------------------------------------------------------------
 */

/* Sessions, a shared prefix, preemption pressure, two replicas, disaggregated or not. */
static void sim_books(int disaggregated)
{
    StepTime st = fx_steptime();
    ServeConfig c = fx_config(&st, 400);
    c.replicas = 2;
    c.route = ROUTE_LEAST_OUTSTANDING;
    c.interval_s = 5;
    if (disaggregated) {
        c.prefill_replicas = 1;
        c.prefill_sched = fx_sched(2000);
        c.kv_transfer_gb_s = 50;
        c.kv_bytes_per_token = st.kv_bytes_per_token;
    }
    char msg[200];
    TrafficSpec t = fx_traffic(4, 60, 0, 0, 5);
    assert_int_equal(dist_parse("lognormal(200, 0.8)", 0, &t.input.dist, msg, sizeof msg), 0);
    assert_int_equal(dist_parse("uniform(1, 300)", 0, &t.output.dist, msg, sizeof msg), 0);
    t.input.use_dist = t.output.use_dist = 1;
    t.prefix_tokens = 100;
    t.prefix_share = 0.5;
    t.turns.value = 3;
    t.think_s.value = 2;
    ServeResult r;
    TsErr err;
    run_ok(&c, &t, &r, &err);
    TrafficGen *g;
    assert_int_equal(traffic_new(&t, &g, &err), 0);
    ServeRequest q;
    long first = 0;
    while (traffic_next(g, &q))
        first++;
    traffic_free(g);
    assert_true(first > 150);
    /* three turns each unless a session's context outgrew one sequence (not at these sizes) */
    assert_int_equal(r.n_req, 3 * first);
    double out = 0, in = 0;
    long arrivals = 0, completions = 0;
    for (long i = 0; i < r.n_req; i++) {
        const ServeRecord *x = &r.req[i];
        assert_true(x->arrival_s >= 0 && x->first_token_s > x->arrival_s);
        assert_true(x->finish_s >= x->first_token_s);
        out += x->output_tokens;
        in += x->input_tokens;
    }
    for (int i = 0; i < r.n_series; i++) {
        arrivals += r.series[i].arrivals;
        completions += r.series[i].completions;
    }
    assert_int_equal(arrivals, r.n_req);
    assert_int_equal(completions, r.n_req);
    assert_close(r.sum.output_tokens, out, 0, 0);
    assert_close(r.sum.input_tokens, in, 0, 0);
    double series_out = 0;
    for (int i = 0; i < r.n_series; i++)
        series_out += r.series[i].output_tokens;
    assert_close(series_out, out, 0, 0); /* each answer token sampled once, by one pool */
    print_message("# books: %ld requests, prefix hit rate %.3f, preemptions %ld, P90 TTFT %.3f s\n",
                  r.n_req, r.sum.prefix_hit_rate, r.sum.preemptions, r.sum.ttft_s.p90);
    assert_true(r.sum.prefix_hit_rate > 0); /* sessions re-send their context */
    assert_true(r.sum.preemptions > 0);     /* the cache is small: the books hold under pressure */
    serve_result_fini(&r);
}

static void test_sim_conserves_requests_and_tokens(void **state)
{
    (void)state;
    sim_books(0);
}

static void test_sim_disaggregated_conserves_requests_and_tokens(void **state)
{
    (void)state;
    sim_books(1);
}

/* A 100-token prefix on half the requests, 50 fresh tokens each, at a low load (one at a time):
 * every prefixed request but the first finds floor(100 / 16) = 6 blocks = 96 tokens. */
static void test_fixed_shared_prefix_gives_the_expected_hit_rate(void **state)
{
    (void)state;
    StepTime st = fx_steptime();
    ServeConfig c = fx_config(&st, 20000);
    TrafficSpec t = fx_traffic(2, 1000, 50, 4, 9);
    t.prefix_tokens = 100;
    t.prefix_share = 0.5;
    ServeResult r;
    TsErr err;
    run_ok(&c, &t, &r, &err);
    TrafficGen *g;
    assert_int_equal(traffic_new(&t, &g, &err), 0);
    ServeRequest q;
    long n = 0, np = 0;
    while (traffic_next(g, &q)) {
        n++;
        np += q.prefix_id >= 0;
    }
    traffic_free(g);
    double sd = sqrt(n * 0.25);
    assert_true(fabs((double)np - 0.5 * (double)n) < 4 * sd);
    double want = (double)(np - 1) * 96.0 / ((double)np * 150.0 + (double)(n - np) * 50.0);
    print_message("# prefix: %ld of %ld requests prefixed, hit rate %.6f, expected %.6f\n", np, n,
                  r.sum.prefix_hit_rate, want);
    assert_close(r.sum.prefix_hit_rate, want, 1e-12, 0);
    c.sched.prefix_cache = 0;
    serve_result_fini(&r);
    run_ok(&c, &t, &r, &err);
    assert_close(r.sum.prefix_hit_rate, 0, 0, 0);
    serve_result_fini(&r);
}

static void test_same_seed_same_run_other_seed_other_run(void **state)
{
    (void)state;
    StepTime st = fx_steptime();
    ServeConfig c = fx_config(&st, 20000);
    TrafficSpec t = fx_traffic(20, 30, 300, 100, 1);
    ServeResult a, b;
    TsErr err;
    run_ok(&c, &t, &a, &err);
    run_ok(&c, &t, &b, &err);
    assert_int_equal(a.n_req, b.n_req);
    assert_memory_equal(a.req, b.req, (size_t)a.n_req * sizeof *a.req);
    assert_memory_equal(&a.sum, &b.sum, sizeof a.sum);
    serve_result_fini(&b);
    t.seed = 2;
    run_ok(&c, &t, &b, &err);
    assert_true(a.sum.ttft_s.p50 != b.sum.ttft_s.p50);
    serve_result_fini(&a);
    serve_result_fini(&b);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double sorted_quantile(const double *v, long n, double p)
{
    double h = p * (double)(n - 1);
    long i = (long)h;
    return i >= n - 1 ? v[n - 1] : v[i] + (h - (double)i) * (v[i + 1] - v[i]);
}

/* The summary's percentiles are the sorted per-request values' order statistics, interpolated
 * linearly (checked at an odd percentile too). */
static void test_percentiles_match_sorted_records(void **state)
{
    (void)state;
    StepTime st = fx_steptime();
    ServeConfig c = fx_config(&st, 20000);
    c.slo_percentile = 0.37;
    TrafficSpec t = fx_traffic(30, 60, 0, 0, 8);
    char msg[200];
    assert_int_equal(dist_parse("lognormal(400, 1)", 0, &t.input.dist, msg, sizeof msg), 0);
    assert_int_equal(dist_parse("uniform(2, 400)", 0, &t.output.dist, msg, sizeof msg), 0);
    t.input.use_dist = t.output.use_dist = 1;
    ServeResult r;
    TsErr err;
    run_ok(&c, &t, &r, &err);
    long n = r.n_req;
    double *v = malloc((size_t)n * sizeof *v);
    assert_non_null(v);
    for (long i = 0; i < n; i++)
        v[i] = r.req[i].finish_s - r.req[i].arrival_s;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    assert_close(r.sum.e2e_s.p50, sorted_quantile(v, n, 0.5), 0, 0);
    assert_close(r.sum.e2e_s.p90, sorted_quantile(v, n, 0.9), 0, 0);
    assert_close(r.sum.e2e_s.p99, sorted_quantile(v, n, 0.99), 0, 0);
    assert_close(r.sum.e2e_s.at_slo, sorted_quantile(v, n, 0.37), 0, 0);
    for (long i = 0; i < n; i++)
        v[i] = r.req[i].first_token_s - r.req[i].arrival_s;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    assert_close(r.sum.ttft_s.p99, sorted_quantile(v, n, 0.99), 0, 0);
    assert_close(r.sum.ttft_s.at_slo, sorted_quantile(v, n, 0.37), 0, 0);
    free(v);
    serve_result_fini(&r);
}

/* Sizing: the answer meets the SLOs and one replica fewer does not; an SLO below one step alone
 * is refused as unmeetable; a too-large simulation is refused before it runs. */
static void test_sizing_finds_the_fewest_replicas_and_refuses_the_impossible(void **state)
{
    (void)state;
    StepTime st = fx_steptime();
    ServeConfig c = fx_config(&st, 20000);
    c.ttft_slo_s = 0.5;
    c.tpot_slo_s = 0.030;
    TrafficSpec t = fx_traffic(40, 20, 1000, 200, 4);
    ServeResult r;
    int reps;
    TsErr err;
    int rc = serve_size(&c, &t, 64, &r, &reps, &err);
    if (rc)
        print_error("serve_size: %s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_true(reps > 1);
    assert_true(r.sum.meets_slo);
    assert_int_equal(r.sum.replicas, reps);
    serve_result_fini(&r);
    int fewest = reps;
    c.replicas = reps - 1;
    run_ok(&c, &t, &r, &err);
    assert_false(r.sum.meets_slo);
    serve_result_fini(&r);
    c.tpot_slo_s = 0.005; /* below one decode step alone (weights read: ~8 ms) */
    assert_int_equal(serve_size(&c, &t, 64, &r, &reps, &err), TS_EINPUT);
    assert_non_null(strstr(err.msg, "no replica count meets the TPOT SLO"));
    serve_result_fini(&r);
    c.tpot_slo_s = 0.030;
    assert_int_equal(serve_size(&c, &t, fewest - 1, &r, &reps, &err), TS_EINPUT);
    assert_non_null(strstr(err.msg, "no replica count up to"));
    serve_result_fini(&r);
    c.replicas = 100;
    t.duration_s = 40 * 86400.0;
    t.rate_per_s = 1;
    assert_int_equal(serve_run(&c, &t, &r, &err), TS_EINPUT);
    assert_non_null(strstr(err.msg, "replica-seconds"));
    serve_result_fini(&r);
    c.replicas = 1;
    t.rate_per_s = 1000;
    t.duration_s = 86400;
    assert_int_equal(serve_run(&c, &t, &r, &err), TS_EINPUT);
    assert_non_null(strstr(err.msg, "requests"));
    serve_result_fini(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kv_pool_lru_evicts_least_recently_freed),
        cmocka_unit_test(test_kv_hash_survives_many_deletions),
        cmocka_unit_test(test_sched_conserves_requests_tokens_and_blocks),
        cmocka_unit_test(test_sched_preempts_when_blocks_run_out_and_still_conserves),
        cmocka_unit_test(test_sched_preempts_the_newest),
        cmocka_unit_test(test_sched_refuses_a_request_larger_than_the_cache),
        cmocka_unit_test(test_sim_conserves_requests_and_tokens),
        cmocka_unit_test(test_sim_disaggregated_conserves_requests_and_tokens),
        cmocka_unit_test(test_fixed_shared_prefix_gives_the_expected_hit_rate),
        cmocka_unit_test(test_same_seed_same_run_other_seed_other_run),
        cmocka_unit_test(test_percentiles_match_sorted_records),
        cmocka_unit_test(test_sizing_finds_the_fewest_replicas_and_refuses_the_impossible),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
