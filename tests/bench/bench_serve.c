/* bench_serve: speed of the serving simulator (scripts/bench-serve.sh builds and runs it; it is
 * not part of `make` or the test suite, and asserts nothing). Cases: one busy replica-day of a
 * 70B-class model on 4 H100-class chips (batch about 190), 10^6 requests over 8 replicas of an
 * 8B-class model, and the replica-day at a quarter, half and whole day (cost linear in steps).
 * Prints Markdown table rows: case, requests, steps, mean batch, wall and CPU seconds, CPU ns
 * per step (CPU time is the fairer figure on a shared machine). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sim/price/roofline.h"
#include "sim/serve/sim.h"
#include "sim/serve/steptime.h"

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* big: a 70B-class dense model (80 layers, d 8192, 64 heads, 8 KV heads, FFN 28672) on 4 chips
 * (tensor parallel over 450 GB/s links); else the 8B-class model on one chip. */
static int setup(StepTime *st, int32_t *blocks, int big)
{
    RoofInputs in;
    memset(&in, 0, sizeof in);
    in.shape = (ModelShape){.layers = 32,
                            .d_model = 4096,
                            .heads = 32,
                            .kv_heads = 8,
                            .head_dim = 128,
                            .ffn = 14336,
                            .vocab = 128256};
    if (big)
        in.shape = (ModelShape){.layers = 80,
                                .d_model = 8192,
                                .heads = 64,
                                .kv_heads = 8,
                                .head_dim = 128,
                                .ffn = 28672,
                                .vocab = 128256};
    in.interconnect_gb_s = 450;
    in.weight_bytes = in.kv_bytes = in.act_bytes = 2;
    in.peak_tflops = 989;
    in.hbm_gb = 80;
    in.hbm_tb_s = 3.35;
    in.eff_compute = 0.6;
    in.eff_memory = 0.8;
    in.eff_prefill = 0.5;
    in.hbm_usable = 0.9;
    in.step_overhead_ms = 2;
    StepModel m;
    steptime_model_from_roof(&m, &in, big ? 4 : 1);
    TsErr err;
    if (steptime_init(st, &m, &err) || steptime_kv_blocks(st, 16, blocks, &err)) {
        fprintf(stderr, "bench_serve: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int run_case(const char *name, int big, int replicas, double rate, double duration_s,
                    double input, double output, long max_requests)
{
    StepTime st;
    int32_t blocks;
    if (setup(&st, &blocks, big))
        return 1;
    ServeConfig c;
    memset(&c, 0, sizeof c);
    c.replicas = replicas;
    c.route = ROUTE_LEAST_OUTSTANDING;
    c.sched = (SchedConfig){.max_num_seqs = 256,
                            .max_batched_tokens = 8192,
                            .kv_blocks = blocks,
                            .block_tokens = 16,
                            .prefix_cache = 1,
                            .chunked_prefill = 1};
    c.backend = steptime_backend(&st);
    c.slo_percentile = 0.9;
    c.interval_s = 3600;
    TrafficSpec t;
    memset(&t, 0, sizeof t);
    t.arrivals = TRAFFIC_POISSON;
    t.rate_per_s = rate;
    t.duration_s = duration_s;
    t.input.value = input;
    t.output.value = output;
    t.max_requests = max_requests;
    t.seed = 1;
    ServeResult r;
    TsErr err;
    double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    int rc = serve_run(&c, &t, &r, &err);
    double wall = clock_s(CLOCK_MONOTONIC) - t0, cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    if (rc) {
        fprintf(stderr, "bench_serve: %s: %s\n", name, err.msg);
        serve_result_fini(&r);
        return 1;
    }
    printf("| %s | %d | %ld | %ld | %.1f | %.2f | %.2f | %.0f |\n", name, replicas, r.sum.requests,
           r.sum.steps, r.sum.mean_batch, wall, cpu, cpu / (double)r.sum.steps * 1e9);
    serve_result_fini(&r);
    return 0;
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "all";
    int all = strcmp(which, "all") == 0, rc = 0;
    printf("| case | replicas | requests | steps | mean batch | wall s | cpu s | cpu ns/step |\n");
    printf("|---|---|---|---|---|---|---|---|\n");
    /* the 70B-class replica of 4 chips with prompts of 250 and answers of 1000 tokens at 8
     * requests/s: busy at a batch near 190, about 3.7 million steps a day */
    if (all || strcmp(which, "day") == 0)
        rc |= run_case("busy replica-day", 1, 1, 8, 86400, 250, 1000, 0);
    if (all || strcmp(which, "requests") == 0)
        rc |= run_case("10^6 requests", 0, 8, 120, 86400, 200, 50, 1000000);
    if (all || strcmp(which, "linear") == 0) {
        rc |= run_case("quarter day", 1, 1, 8, 21600, 250, 1000, 0);
        rc |= run_case("half day", 1, 1, 8, 43200, 250, 1000, 0);
        rc |= run_case("whole day", 1, 1, 8, 86400, 250, 1000, 0);
    }
    return rc;
}
