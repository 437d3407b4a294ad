/* test_serve_theory: the serving simulator against queueing theory and the steady-state
 * roofline, not against itself: batch 1 with a fixed service time under Poisson arrivals gives
 * the M/D/1 mean wait of Pollaczek-Khinchine; at vanishing load TTFT is one prefill step and TPOT
 * one batch-1 decode step (sim/price/roofline.c's own formula); at saturation throughput is the
 * roofline's steady state at its largest batch. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/testutil.h"

#include "models/engine/shape.h"
#include "tests/unit/serve/serve_fixture.h"

static void run_ok(const ServeConfig *c, const TrafficSpec *t, ServeResult *r, TsErr *err)
{
    int rc = serve_run(c, t, r, err);
    if (rc)
        print_error("serve_run: %s\n", err->msg);
    assert_int_equal(rc, 0);
}

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

/* The prefill of a whole prompt of p tokens alone, from the shape's closed forms: compute at
 * eff_prefill against the weights (all but the embedding) plus the prompt's KV written, plus the
 * overhead. */
static double prefill_alone_s(const RoofInputs *in, double p)
{
    ShapeParams sp;
    shape_params(&in->shape, &sp);
    double flops = p * shape_flops_prompt(&in->shape, p);
    double compute = flops / (in->peak_tflops * 1e12 * in->eff_prefill);
    double bytes = (sp.total - sp.embedding) * in->weight_bytes +
                   p * shape_kv_bytes_per_token(&in->shape, in->kv_bytes);
    double memory = bytes / (in->hbm_tb_s * 1e12 * in->eff_memory);
    return (compute > memory ? compute : memory) + in->step_overhead_ms * 1e-3;
}

/* M/D/1: requests of 512 prompt tokens and 1 answer token, one sequence per step, so every
 * request is served by one prefill step of fixed length D; Poisson arrivals at rate rho / D.
 * Pollaczek-Khinchine: mean wait W = rho D / (2 (1 - rho)); measured: mean TTFT - D. */
static void md1_at(double rho, long n)
{
    RoofInputs in = fx_roof();
    StepTime st = fx_steptime();
    double d = prefill_alone_s(&in, 512);
    ServeConfig c = fx_config(&st, 20000);
    c.sched.max_num_seqs = 1;
    c.sched.prefix_cache = 0;
    TrafficSpec t = fx_traffic(rho / d, 2e6, 512, 1, 7);
    t.max_requests = n;
    ServeResult r;
    TsErr err;
    run_ok(&c, &t, &r, &err);
    assert_int_equal(r.sum.requests, n);
    double want = rho * d / (2.0 * (1.0 - rho));
    double got = r.sum.ttft_s.mean - d;
    print_message("# M/D/1 rho %.1f: D %.6f s, mean wait %.6f s, Pollaczek-Khinchine %.6f s "
                  "(%+.2f%%), busy share %.4f\n",
                  rho, d, got, want, 100 * (got / want - 1), r.sum.busy_share);
    assert_close(got, want, 0.03, 0);
    assert_close(r.sum.busy_share, rho, 0.02, 0);
    serve_result_fini(&r);
}

static void test_md1_mean_wait_at_load_half(void **state)
{
    (void)state;
    md1_at(0.5, 300000);
}

static void test_md1_mean_wait_at_load_0_8(void **state)
{
    (void)state;
    md1_at(0.8, 1000000);
}

/* One request alone: TTFT is one prefill step of its prompt, TPOT the mean of its batch-1
 * decode steps; decode j (1 .. O-1) reads P + j keys, so the mean is roof_step_ms at batch 1 and
 * context P + O/2 (the step is linear in the context). */
static void test_vanishing_load_ttft_is_one_prefill_tpot_one_step(void **state)
{
    (void)state;
    RoofInputs in = fx_roof();
    StepTime st = fx_steptime();
    ServeConfig c = fx_config(&st, 20000);
    const double p = 1000, o = 200;
    TrafficSpec t = fx_traffic(0.001, 2e6, p, o, 3);
    t.max_requests = 3; /* about 1000 s apart: each alone */
    ServeResult r;
    TsErr err;
    run_ok(&c, &t, &r, &err);
    assert_int_equal(r.sum.requests, 3);
    in.context_tokens = p + o / 2;
    double step = roof_step_ms(&in, 1, 1, NULL, NULL, NULL) * 1e-3;
    double ttft = prefill_alone_s(&in, p);
    for (int i = 0; i < 3; i++) {
        const ServeRecord *q = &r.req[i];
        assert_close(q->first_token_s - q->arrival_s, ttft, 1e-9, 0);
        assert_close((q->finish_s - q->first_token_s) / (o - 1), step, 1e-9, 0);
    }
    assert_close(r.sum.tpot_s.p50, step, 1e-9, 0);
    serve_result_fini(&r);
}

/* Saturation: prompts of 16 tokens, answers uniform on [512, 1536] (so sequences fall out of
 * step), far more requests than fit, max_num_seqs at the roofline's largest batch (set by memory
 * at the longest context). While the queue is full, answer tokens per second must be the
 * roofline's steady state at that batch within 2%, at the mean context a decode token reads:
 * P + E[(O - 1) O / 2] / E[O - 1] over the drawn answers (each request decodes keys P + 1 ..
 * P + O - 1). The prefill chunks that share steps cost the rest. */
static void test_saturation_throughput_is_roofline_steady_state(void **state)
{
    (void)state;
    RoofInputs in = fx_roof();
    const double p = 16;
    char msg[200];
    TrafficSpec t = fx_traffic(1e5, 2e6, p, 0, 11);
    assert_int_equal(dist_parse("uniform(512, 1536)", 0, &t.output.dist, msg, sizeof msg), 0);
    t.output.use_dist = 1;
    in.peak_context = p + 1536;
    in.prompt_tokens = p;
    RoofResult rr;
    assert_int_equal(roof_solve(&in, &rr), 0);
    assert_true(rr.batch > 100);
    StepTime st = fx_steptime();
    int32_t blocks;
    TsErr err;
    assert_int_equal(steptime_kv_blocks(&st, 16, &blocks, &err), 0);
    assert_true(blocks >= rr.batch * (int32_t)((p + 1536) / 16));
    ServeConfig c = fx_config(&st, blocks);
    c.sched.max_num_seqs = rr.batch;
    c.interval_s = 10;
    t.max_requests = 30L * rr.batch;
    ServeResult r;
    run_ok(&c, &t, &r, &err);
    double keys = 0, decodes = 0;
    for (long i = 0; i < r.n_req; i++) {
        double o = r.req[i].output_tokens;
        keys += (o - 1) * p + (o - 1) * o / 2;
        decodes += o - 1;
    }
    in.context_tokens = keys / decodes;
    in.fixed_batch = rr.batch;
    assert_int_equal(roof_solve(&in, &rr), 0);
    double want = rr.decode_tok_s_per_chip * rr.chips_per_instance;
    /* the saturated window: from the second interval to the last one that starts with a queue */
    double tokens = 0, seconds = 0;
    for (int i = 1; i < r.n_series && r.series[i].queue > rr.batch; i++) {
        tokens += r.series[i].output_tokens;
        seconds += c.interval_s;
        assert_close(r.series[i].batch, rr.batch, 1e-9, 0);
    }
    assert_true(seconds > 20 * c.interval_s);
    double got = tokens / seconds;
    print_message("# saturation: batch %d, context %.1f, roofline %.1f tok/s, simulated %.1f "
                  "tok/s over %.0f s (%+.2f%%)\n",
                  rr.batch, in.context_tokens, want, got, seconds, 100 * (got / want - 1));
    assert_close(got, want, 0.02, 0);
    assert_int_equal(r.sum.preemptions, 0);
    serve_result_fini(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_md1_mean_wait_at_load_half),
        cmocka_unit_test(test_md1_mean_wait_at_load_0_8),
        cmocka_unit_test(test_vanishing_load_ttft_is_one_prefill_tpot_one_step),
        cmocka_unit_test(test_saturation_throughput_is_roofline_steady_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
