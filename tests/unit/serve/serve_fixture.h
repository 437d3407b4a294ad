/* serve_fixture: a model and chip shared by the serving tests: an 8B-class dense GQA model
 * (32 layers, d 4096, 32 heads, 8 KV heads of 128, FFN 14336, vocab 128256, bf16 weights and KV)
 * on one H100-class chip (989 TFLOP/s, 3.35 TB/s, 80 GB), and a scheduler configured as vLLM's
 * defaults (16-token blocks, chunked prefill, 8192 tokens and 256 sequences per step). */
#ifndef TS_TESTS_SERVE_FIXTURE_H
#define TS_TESTS_SERVE_FIXTURE_H

#include <string.h>

#include "sim/price/roofline.h"
#include "sim/serve/sim.h"
#include "sim/serve/steptime.h"

static inline RoofInputs fx_roof(void)
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
    in.weight_bytes = 2;
    in.kv_bytes = 2;
    in.act_bytes = 2;
    in.peak_tflops = 989;
    in.hbm_gb = 80;
    in.hbm_tb_s = 3.35;
    in.interconnect_gb_s = 450;
    in.eff_compute = 0.6;
    in.eff_memory = 0.8;
    in.eff_prefill = 0.5;
    in.hbm_usable = 0.9;
    in.step_overhead_ms = 2;
    in.chips_per_instance = 1;
    in.prompt_tokens = 1;
    return in;
}

static inline SchedConfig fx_sched(int32_t kv_blocks)
{
    SchedConfig c = {.max_num_seqs = 256,
                     .max_batched_tokens = 8192,
                     .kv_blocks = kv_blocks,
                     .block_tokens = 16,
                     .prefix_cache = 1,
                     .chunked_prefill = 1};
    return c;
}

static inline ServeConfig fx_config(StepTime *st, int32_t kv_blocks)
{
    ServeConfig c;
    memset(&c, 0, sizeof c);
    c.replicas = 1;
    c.sched = fx_sched(kv_blocks);
    c.backend = steptime_backend(st);
    c.slo_percentile = 0.9;
    return c;
}

static inline TrafficSpec fx_traffic(double rate_per_s, double duration_s, double input,
                                     double output, uint64_t seed)
{
    TrafficSpec t;
    memset(&t, 0, sizeof t);
    t.arrivals = TRAFFIC_POISSON;
    t.rate_per_s = rate_per_s;
    t.duration_s = duration_s;
    t.input.value = input;
    t.output.value = output;
    t.seed = seed;
    return t;
}

#endif
