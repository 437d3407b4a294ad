/* test_serve_engine: the real step backend (sim/serve/engstep) and the serving loop
 * (sim/serve/realtime). A tiny engine behind the scheduler with too few KV blocks for all its
 * sequences: every request finishes with its answer length, preemption happens and every block
 * comes back (no leak). The loop on the virtual clock with a constant step time gives the
 * hand-computed token times and latencies; the summary's percentiles are exact order
 * statistics. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/testutil.h"

#include "sim/serve/engstep.h"
#include "sim/serve/realtime.h"

static EngineConfig tiny(int experts)
{
    EngineConfig c;
    memset(&c, 0, sizeof c);
    snprintf(c.name, sizeof c.name, "tiny");
    c.shape.layers = 2;
    c.shape.d_model = 32;
    c.shape.heads = 2;
    c.shape.kv_heads = 1;
    c.shape.head_dim = 16;
    c.shape.ffn = experts ? 0 : 48;
    c.shape.experts = experts;
    c.shape.experts_active = experts ? 2 : 0;
    c.shape.expert_ffn = experts ? 24 : 0;
    c.shape.vocab = 40;
    c.max_seq = 32;
    c.rope_theta = 10000.0f;
    c.norm_eps = 1e-5f;
    return c;
}

static void serve_with_preemption(int experts)
{
    EngineConfig c = tiny(experts);
    Weights w;
    TsErr err;
    assert_int_equal(wt_alloc(&w, &c, &err), 0);
    wt_init_seeded(&w, &c, 5);
    Pool *pool;
    assert_int_equal(pool_new(1, &pool, &err), 0);
    /* 4 sequences of up to 18 positions need 20 blocks of 4; there are 10 */
    SchedConfig sc = {4, 16, 10, 4, 0, 1};
    EngStep *es;
    EngStepConfig ec = {&c, &w, NULL, PREC_FP32, pool, &sc, 64};
    assert_int_equal(engstep_new(&ec, &es, &err), 0);
    Sched *s;
    assert_int_equal(sched_new(&sc, &s, &err), 0);
    ServeRequest reqs[6];
    for (int i = 0; i < 6; i++)
        reqs[i] = (ServeRequest){.arrival_s = 0, .input_tokens = 10 - i,
                                 .output_tokens = 8, .prefix_id = -1, .session = -1};
    StepBackend b = engstep_backend(es);
    RtLog log;
    if (rt_run(s, &b, reqs, 6, 1, &log, &err)) {
        print_error("%s\n", err.msg);
        fail();
    }
    long preempted = 0;
    for (int i = 0; i < 6; i++) {
        assert_int_equal(log.req[i].n_tokens, 8);
        assert_true(log.req[i].first_token_s > log.req[i].arrival_s);
        for (int k = 1; k < 8; k++)
            assert_true(log.req[i].token_s[k] > log.req[i].token_s[k - 1]);
        preempted += log.req[i].preemptions;
    }
    assert_true(preempted > 0);
    assert_int_equal(sched_stats(s)->preemptions, preempted);
    assert_int_equal(kv_available(sched_kv(s)), 10);
    assert_true(engstep_counters(es, PHASE_DECODE)->rows > 0);
    rt_log_free(&log);
    sched_free(s);
    engstep_free(es);
    pool_free(pool);
    wt_fini(&w);
}

static void test_engine_serves_through_preemption_and_returns_every_block(void **state)
{
    (void)state;
    serve_with_preemption(0);
    serve_with_preemption(4);
}

static int fixed_step(void *ctx, const StepBatch *b, double *seconds, TsErr *err)
{
    (void)ctx;
    (void)b;
    (void)err;
    *seconds = 0.125;
    return 0;
}

static void test_virtual_clock_gives_hand_computed_times(void **state)
{
    (void)state;
    TsErr err;
    SchedConfig sc = {8, 64, 64, 16, 0, 1};
    Sched *s;
    assert_int_equal(sched_new(&sc, &s, &err), 0);
    /* request 0 at 0.5: prefill step [0.5, 0.625] emits its first token, then 2 decodes;
     * request 1 arrives at 2.0 after an idle gap: one step for its single token */
    ServeRequest reqs[2] = {
        {.arrival_s = 0.5, .input_tokens = 20, .output_tokens = 3, .prefix_id = -1,
         .session = -1},
        {.arrival_s = 2.0, .input_tokens = 5, .output_tokens = 1, .prefix_id = -1,
         .session = -1},
    };
    StepBackend b = {fixed_step, NULL};
    RtLog log;
    assert_int_equal(rt_run(s, &b, reqs, 2, 1, &log, &err), 0);
    assert_close(log.req[0].token_s[0], 0.625, 0, 1e-12);
    assert_close(log.req[0].token_s[1], 0.75, 0, 1e-12);
    assert_close(log.req[0].token_s[2], 0.875, 0, 1e-12);
    assert_close(log.req[0].finish_s, 0.875, 0, 1e-12);
    assert_close(log.req[1].first_token_s, 2.125, 0, 1e-12);
    assert_close(log.span_s, 2.125, 0, 1e-12);
    assert_int_equal(log.steps, 4);
    RtSummary sum;
    assert_int_equal(rt_summary(&log, &sum, &err), 0);
    assert_int_equal(sum.finished, 2);
    assert_int_equal(sum.output_tokens, 4);
    assert_close(sum.ttft_s.p50, 0.125, 0, 1e-12);
    assert_close(sum.tpot_s.p50, 0.125, 0, 1e-12); /* one request of 2+ tokens */
    assert_close(sum.e2e_s.p90, 0.125 + 0.9 * 0.25, 0, 1e-12); /* 0.125 and 0.375 */
    assert_close(sum.throughput_tok_s, 4 / 2.125, 1e-12, 0);
    rt_log_free(&log);
    sched_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_engine_serves_through_preemption_and_returns_every_block),
        cmocka_unit_test(test_virtual_clock_gives_hand_computed_times),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
