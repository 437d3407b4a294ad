/* test_roofline: sim/price/roofline.h against hand-computed values (the arithmetic is in the
 * comments, worked out by hand, not by calling the code under test): expected experts, MTP
 * tokens per step, the decode step's compute, memory and communication terms on tiny shapes,
 * and roof_solve's chips, batch, bound, throughput and prefill. Then properties over dense and
 * MoE, GQA and MLA shapes (faster chips, better MTP acceptance, tighter SLOs, more usable HBM),
 * and the KV bytes per token of DeepSeek-V3 and Llama-3.1-405B. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/testutil.h"

#include <math.h>
#include <stdio.h>

#include "sim/price/roofline.h"

/* Hand values are short decimals: a tolerance for rounding in the code's order of operations. */
#define assert_hand(got, want) assert_close((got), (want), 1e-12, 1e-15)

/* ---- shapes ---------------------------------------------------------------------------- */

/* Tiny dense MHA: 1 layer, d 1000, 10 heads x 100, FFN 4000, vocab 1000.
 *   attention  2·d·h·hd + 2·d·kvh·hd = 2e6 + 2e6           = 4,000,000
 *   FFN        3·1000·4000                                  = 12,000,000
 *   embedding = head = 1000·1000                            = 1,000,000 each
 *   norms      1·2·1000 + 1000                              = 3,000
 *   non-embedding active = 16,000,000; total = 18,003,000
 *   decode FLOPs/token at context c: 2·16e6 + 2·1e6 + 4·1·10·100·c = 34e6 + 4000·c
 *   bytes read per step (1-byte weights): total − embedding = 17,003,000
 *   KV bytes/token (1-byte KV): 2·1·10·100·1 = 2,000 */
static const ModelShape DENSE = {
    .layers = 1,
    .d_model = 1000,
    .heads = 10,
    .kv_heads = 10,
    .head_dim = 100,
    .ffn = 4000,
    .vocab = 1000,
};

/* Tiny MoE: 2 layers (1 dense, 1 MoE of 8 experts, top 2, 1 shared, expert FFN 1000).
 *   attention 4e6 per layer, 8e6 in all; dense FFN 12e6; expert 3·1000·1000 = 3e6;
 *   router 1000·8 = 8,000; norms 2·2000 + 1000 = 5,000
 *   MoE active = 8,000 + 3·3e6 = 9,008,000; MoE total = 8,000 + 9·3e6 = 27,008,000
 *   non-embedding active = 8e6 + 12e6 + 9,008,000 = 29,008,000
 *   total = 2e6 + 5,000 + 20e6 + 27,008,000 = 49,013,000; routed = 1·8·3e6 = 24e6
 *   decode FLOPs/token at context 0: 2·29,008,000 + 2e6 = 60,016,000 */
static const ModelShape MOE = {
    .layers = 2,
    .d_model = 1000,
    .heads = 10,
    .kv_heads = 10,
    .head_dim = 100,
    .ffn = 4000,
    .experts = 8,
    .experts_active = 2,
    .shared_experts = 1,
    .expert_ffn = 1000,
    .dense_layers = 1,
    .vocab = 1000,
};

/* For the properties only: a dense GQA shape, an MLA MoE shape, and two published ones. */
static const ModelShape GQA = {
    .layers = 4,
    .d_model = 256,
    .heads = 8,
    .kv_heads = 2,
    .head_dim = 32,
    .ffn = 704,
    .vocab = 512,
};

static const ModelShape MLA_MOE = {
    .layers = 3,
    .d_model = 64,
    .heads = 4,
    .ffn = 128,
    .experts = 16,
    .experts_active = 4,
    .shared_experts = 1,
    .expert_ffn = 32,
    .dense_layers = 1,
    .kv_lora_rank = 16,
    .q_lora_rank = 24,
    .rope_dim = 8,
    .qk_nope_dim = 16,
    .v_head_dim = 16,
    .vocab = 100,
};

static const ModelShape DSV3 = {
    .layers = 61,
    .d_model = 7168,
    .heads = 128,
    .ffn = 18432,
    .experts = 256,
    .experts_active = 8,
    .shared_experts = 1,
    .expert_ffn = 2048,
    .dense_layers = 3,
    .kv_lora_rank = 512,
    .q_lora_rank = 1536,
    .rope_dim = 64,
    .qk_nope_dim = 128,
    .v_head_dim = 128,
    .vocab = 129280,
};

static const ModelShape LLAMA405B = {
    .layers = 126,
    .d_model = 16384,
    .heads = 128,
    .kv_heads = 8,
    .head_dim = 128,
    .ffn = 53248,
    .vocab = 128256,
};

/* Round numbers: 1-byte weights and KV, 1 TFLOPS, 1 TB/s, every efficiency 1, context 0. */
static RoofInputs round_inputs(const ModelShape *s)
{
    RoofInputs in = {0};
    in.shape = *s;
    in.weight_bytes = 1;
    in.kv_bytes = 1;
    in.peak_tflops = 1;
    in.hbm_gb = 1;
    in.hbm_tb_s = 1;
    in.eff_compute = 1;
    in.eff_memory = 1;
    in.eff_prefill = 1;
    in.hbm_usable = 1;
    in.act_bytes = 2;
    in.prompt_tokens = 1;
    return in;
}

/* ---- expected experts and tokens per step ---------------------------------------------- */

static void test_expected_experts_match_hand_values(void **state)
{
    (void)state;
    /* one token picks exactly k distinct experts */
    assert_hand(roof_expected_experts(8, 2, 1), 2.0);
    /* 8·(1 − 0.75²) = 8·0.4375 = 3.5 */
    assert_hand(roof_expected_experts(8, 2, 2), 3.5);
    /* 8·(1 − 0.75^16) = 8·(1 − 43046721/4294967296) = 4251920575/536870912 = 7.919819233939052 */
    assert_hand(roof_expected_experts(8, 2, 16), 4251920575.0 / 536870912.0);
    assert_hand(roof_expected_experts(256, 8, 1), 8.0);
    /* a dense model touches no experts */
    assert_hand(roof_expected_experts(0, 0, 1), 0.0);
    assert_hand(roof_expected_experts(0, 0, 100), 0.0);
}

static void test_tokens_per_step_sums_the_acceptance_powers(void **state)
{
    (void)state;
    assert_hand(roof_tokens_per_step(0, 0.85), 1.0);  /* no MTP: 1 */
    assert_hand(roof_tokens_per_step(1, 0.85), 1.85); /* 1 + 0.85 */
    assert_hand(roof_tokens_per_step(2, 0.5), 1.75);  /* 1 + 0.5 + 0.25 */
    assert_hand(roof_tokens_per_step(3, 1.0), 4.0);   /* 1 + 1 + 1 + 1 */
}

/* ---- the decode step -------------------------------------------------------------------- */

static void test_step_ms_tiny_dense_batch_1_is_compute_bound_at_34_us(void **state)
{
    (void)state;
    RoofInputs in = round_inputs(&DENSE);
    double c = -1, m = -1, x = -1;
    /* FLOPs 1·34e6 / 1e12 FLOP/s = 34e-6 s = 0.034 ms;
     * bytes 17,003,000 / 1e12 B/s = 0.017003 ms; one chip: no communication */
    double step = roof_step_ms(&in, 1, 1, &c, &m, &x);
    assert_hand(c, 0.034);
    assert_hand(m, 0.017003);
    assert_hand(x, 0.0);
    assert_hand(step, 0.034);

    /* a fixed overhead adds straight on: 0.034 + 0.5 */
    in.step_overhead_ms = 0.5;
    assert_hand(roof_step_ms(&in, 1, 1, NULL, NULL, NULL), 0.534);
}

static void test_step_ms_tiny_dense_batch_8_with_context_is_bandwidth_bound(void **state)
{
    (void)state;
    RoofInputs in = round_inputs(&DENSE);
    in.peak_tflops = 100;
    in.context_tokens = 100;
    double c, m, x;
    /* FLOPs 8·(34e6 + 4000·100) = 8·34.4e6 = 275.2e6; / 1e14 = 2.752e-6 s = 0.002752 ms
     * bytes 17,003,000 + 8·100·2,000 = 18,603,000; / 1e12 = 0.018603 ms */
    double step = roof_step_ms(&in, 1, 8, &c, &m, &x);
    assert_hand(c, 0.002752);
    assert_hand(m, 0.018603);
    assert_hand(step, 0.018603);

    /* efficiencies divide: eff_memory 0.5 doubles the memory term to 0.037206 ms */
    in.eff_memory = 0.5;
    assert_hand(roof_step_ms(&in, 1, 8, NULL, NULL, NULL), 0.037206);
}

static void test_step_ms_moe_on_two_chips_adds_the_all_to_all_term(void **state)
{
    (void)state;
    RoofInputs in = round_inputs(&MOE);
    in.interconnect_gb_s = 100;
    in.step_overhead_ms = 0.25;
    double c, m, x;
    /* B = 4, 2 chips of 1 TFLOPS:
     *   FLOPs 4·60,016,000 = 240,064,000; / 2e12 = 0.120032 ms
     *   experts touched by 4 tokens: 8·(1 − 0.75⁴) = 8·0.68359375 = 5.46875
     *   bytes (total − embedding − routed) + 5.46875·3e6
     *       = (49,013,000 − 1e6 − 24e6) + 16,406,250 = 24,013,000 + 16,406,250 = 40,419,250
     *   / 2e12 = 0.020209625 ms
     *   all-to-all, per chip: 1 MoE layer · 2 · (B 4 / 2 chips) · k 2 · d 1000 · 2 bytes
     *   = 16,000 B / 100e9 B/s = 1.6e-7 s = 0.00016 ms
     *   step = 0.120032 + 0.00016 + 0.25 = 0.370192 ms */
    double step = roof_step_ms(&in, 2, 4, &c, &m, &x);
    assert_hand(c, 0.120032);
    assert_hand(m, 0.020209625);
    assert_hand(x, 0.00016);
    assert_hand(step, 0.370192);

    /* one chip: no all-to-all, and the compute and memory terms double */
    step = roof_step_ms(&in, 1, 4, &c, &m, &x);
    assert_hand(x, 0.0);
    assert_hand(c, 0.240064);
    assert_hand(step, 0.240064 + 0.25);

    /* no interconnect given: no communication term either */
    in.interconnect_gb_s = 0;
    roof_step_ms(&in, 2, 4, NULL, NULL, &x);
    assert_hand(x, 0.0);

    /* MTP depth 1: B·(1 + D) = 8 positions cross the interconnect: 2 · 0.00016 = 0.00032 ms */
    in.interconnect_gb_s = 100;
    in.mtp_depth = 1;
    roof_step_ms(&in, 2, 4, NULL, NULL, &x);
    assert_hand(x, 0.00032);
}

static void test_step_ms_dense_mtp_depth_1_verifies_two_positions_and_runs_one_draft(void **state)
{
    (void)state;
    RoofInputs in = round_inputs(&DENSE);
    in.mtp_depth = 1;
    double c, m;
    /* the draft module holds an average layer plus its 2d×d projection:
     *   (total − embedding − head)/layers + 2·d² = 16,003,000 + 2,000,000 = 18,003,000 params
     * and computes with its active matmul weights: non-embedding active / layers + 2·d²
     *   = 16,000,000 + 2,000,000 = 18e6, so FLOPs 2·18e6 + 2·vocab·d = 36e6 + 2e6 = 38e6
     * B = 1: the main model runs 1 + D = 2 positions: 2·34e6 = 68e6 (double the D = 0 step)
     *   FLOPs 68e6 + 38e6 = 106e6; / 1e12 = 0.106 ms
     *   bytes 17,003,000 + 18,003,000 (the draft module) = 35,006,000 = 0.035006 ms */
    double step = roof_step_ms(&in, 1, 1, &c, &m, NULL);
    assert_hand(c, 0.106);
    assert_hand(m, 0.035006);
    assert_hand(step, 0.106);

    /* B = 3, D = 2: 3·3·34e6 + 3·2·38e6 = 306e6 + 228e6 = 534e6 FLOPs */
    in.mtp_depth = 2;
    roof_step_ms(&in, 1, 3, &c, NULL, NULL);
    assert_hand(c, 0.534);
}

/* Regression: a draft module's FLOPs once followed an average layer's TOTAL parameters, so an
 * MoE module multiplied every routed expert per draft token while a token runs only k of them.
 *   MOE: non-embedding active / layers = (31,013,000 − 2e6 − norms 5,000)/2 = 14,504,000
 *        module = 14,504,000 + 2·d² = 16,504,000; FLOPs 2·16,504,000 + 2e6 = 35,008,000
 *   B = 1, D = 1: 2·60,016,000 + 35,008,000 = 155,040,000 FLOPs → 0.15504 ms
 *   (the old count: 173,045,000 → 0.173045 ms, 11.6% high). */
static void test_step_ms_moe_mtp_draft_flops_follow_active_not_total_params(void **state)
{
    (void)state;
    RoofInputs in = round_inputs(&MOE);
    in.mtp_depth = 1;
    double c;
    roof_step_ms(&in, 1, 1, &c, NULL, NULL);
    assert_hand(c, 0.15504);
}

/* ---- roof_solve: chips, batch and bound ------------------------------------------------- */

/* DENSE at 1-byte weights and KV on chips of 1 TFLOPS and 1 TB/s, hbm_usable 0.9; compute
 * efficiency 0.5, memory 0.8, prefill 0.4; 0.1 ms overhead; context 500, peak context 1000,
 * prompt 100. One sequence's KV at peak: 1000·2,000 = 2e6 bytes. Weights: 18,003,000 bytes.
 * Per sequence in a step: FLOPs 34e6 + 4000·500 = 36e6 → 36e6/(0.5e12)·1e3 = 0.072 ms per
 * sequence on one chip; KV read 500·2,000 = 1e6 bytes per sequence. */
static RoofInputs solve_inputs(double hbm_gb)
{
    RoofInputs in = round_inputs(&DENSE);
    in.hbm_gb = hbm_gb;
    in.hbm_usable = 0.9;
    in.eff_compute = 0.5;
    in.eff_memory = 0.8;
    in.eff_prefill = 0.4;
    in.step_overhead_ms = 0.1;
    in.context_tokens = 500;
    in.peak_context = 1000;
    in.prompt_tokens = 100;
    return in;
}

static void test_solve_one_chip_fills_memory_to_batch_35_bound_capacity(void **state)
{
    (void)state;
    RoofInputs in = solve_inputs(0.1);
    RoofResult out;
    /* usable 0.9·0.1e9 = 90e6 ≥ 18,003,000 + 2e6: 1 chip;
     * batch floor((90e6 − 18,003,000)/2e6) = floor(35.9985) = 35
     * step: FLOPs 35·0.072 = 2.52 ms; bytes 17,003,000 + 35e6 = 52,003,000 / 0.8e12
     *       = 0.06500375 ms; step 2.52 + 0.1 = 2.62 ms
     * decode 35 / 2.62e-3 s = 13358.778625954199 tokens/s per chip
     * prefill FLOPs/token 2·16e6 + 2e6/100 + 4000·(101/2) = 32e6 + 20,000 + 202,000 = 32,222,000
     *   per chip 0.4e12 / 32,222,000 = 12413.87871640494 tokens/s
     *   TTFT 100·32,222,000 / 0.4e12 = 8.0555e-3 s = 8.0555 ms */
    assert_int_equal(roof_solve(&in, &out), 0);
    assert_int_equal(out.chips_per_instance, 1);
    assert_int_equal(out.max_batch_memory, 35);
    assert_int_equal(out.batch, 35);
    assert_int_equal(out.limit, ROOF_CAPACITY);
    assert_string_equal(out.bound, "capacity");
    assert_true(out.compute_bound);
    assert_hand(out.step_ms, 2.62);
    assert_hand(out.tokens_per_step, 1.0);
    assert_hand(out.tpot_ms, 2.62);
    assert_hand(out.decode_tok_s_per_chip, 35.0 / 2.62e-3);
    assert_hand(out.prefill_tok_s_per_chip, 0.4e12 / 32222000.0);
    assert_hand(out.ttft_ms, 8.0555);
    assert_hand(out.kv_bytes_per_token, 2000.0);
    assert_hand(out.weights_gb_per_instance, 0.018003);
    assert_hand(out.flops_per_output_token, 36e6);
    assert_hand(out.flops_per_prompt_token, 32222000.0);
    assert_hand(out.comm_ms, 0.0);
}

static void test_solve_picks_three_chips_when_two_cannot_hold_weights_and_one_sequence(void **state)
{
    (void)state;
    RoofInputs in = solve_inputs(0.01);
    RoofResult out;
    /* usable 9e6 per chip; need 20,003,000 → ceil(2.2226) = 3 chips
     * batch floor((27e6 − 18,003,000)/2e6) = floor(4.4985) = 4
     * step: FLOPs 4·36e6 = 144e6 / (3·0.5e12) = 0.096 ms; + 0.1 = 0.196 ms
     *       bytes 17,003,000 + 4e6 = 21,003,000 / (3·0.8e12) = 0.00875125 ms
     * decode 4 / 0.196e-3 / 3 = 6802.7210884353735 tokens/s per chip
     * TTFT 8.0555 ms / 3 chips = 2.6851666… ms; per-chip prefill rate unchanged */
    assert_int_equal(roof_solve(&in, &out), 0);
    assert_int_equal(out.chips_per_instance, 3);
    assert_int_equal(out.max_batch_memory, 4);
    assert_int_equal(out.batch, 4);
    assert_string_equal(out.bound, "capacity");
    assert_hand(out.step_ms, 0.196);
    assert_hand(out.decode_tok_s_per_chip, 4.0 / 0.196e-3 / 3.0);
    assert_hand(out.ttft_ms, 8.0555 / 3.0);
    assert_hand(out.prefill_tok_s_per_chip, 0.4e12 / 32222000.0);

    /* just enough for two chips: 2·0.9·11,112,800 = 20,003,040 ≥ 20,003,000, room
     * 20,003,040 − 18,003,000 = 2,000,040 → batch 1 */
    in = solve_inputs(0.0111128);
    assert_int_equal(roof_solve(&in, &out), 0);
    assert_int_equal(out.chips_per_instance, 2);
    assert_int_equal(out.max_batch_memory, 1);
    /* 100 bytes less per chip: 2·0.9·11,112,700 = 20,002,860 < 20,003,000: three chips */
    in = solve_inputs(0.0111127);
    assert_int_equal(roof_solve(&in, &out), 0);
    assert_int_equal(out.chips_per_instance, 3);
}

static void test_solve_max_batch_below_memory_reports_the_steps_own_bound(void **state)
{
    (void)state;
    RoofInputs in = solve_inputs(0.1);
    in.max_batch = 10;
    RoofResult out;
    /* batch 10: FLOPs 10·0.072 = 0.72 ms; bytes 17,003,000 + 10e6 = 27,003,000 / 0.8e12
     * = 0.03375375 ms → compute bound, step 0.82 ms */
    assert_int_equal(roof_solve(&in, &out), 0);
    assert_int_equal(out.max_batch_memory, 35);
    assert_int_equal(out.batch, 10);
    assert_int_equal(out.limit, ROOF_MAX_BATCH);
    assert_string_equal(out.bound, "compute");
    assert_hand(out.step_ms, 0.82);

    /* 1000 TFLOPS: FLOPs 0.00072 ms < bytes 0.03375375 ms → bandwidth bound */
    in.peak_tflops = 1000;
    assert_int_equal(roof_solve(&in, &out), 0);
    assert_int_equal(out.batch, 10);
    assert_string_equal(out.bound, "bandwidth");
    assert_false(out.compute_bound);
    assert_hand(out.step_ms, 0.03375375 + 0.1);

    /* max_batch above what memory holds: memory decides */
    in.max_batch = 100;
    assert_int_equal(roof_solve(&in, &out), 0);
    assert_int_equal(out.batch, 35);
    assert_string_equal(out.bound, "capacity");
}

static void test_solve_tpot_slo_of_1_ms_picks_batch_12(void **state)
{
    (void)state;
    RoofInputs in = solve_inputs(0.1);
    in.tpot_slo_ms = 1.0;
    RoofResult out;
    /* compute bound at every batch here: step(b) = 0.072·b + 0.1 ms
     * b = 12: 0.964 ≤ 1; b = 13: 1.036 > 1 */
    assert_int_equal(roof_solve(&in, &out), 0);
    assert_int_equal(out.batch, 12);
    assert_int_equal(out.limit, ROOF_SLO);
    assert_string_equal(out.bound, "slo");
    assert_hand(out.step_ms, 0.964);
    assert_hand(out.tpot_ms, 0.964);
    assert_true(roof_step_ms(&in, 1, 12, NULL, NULL, NULL) <= 1.0);
    assert_true(roof_step_ms(&in, 1, 13, NULL, NULL, NULL) > 1.0);
    assert_hand(roof_step_ms(&in, 1, 13, NULL, NULL, NULL), 1.036);
}

static void test_step_ms_dense_on_two_chips_pays_tensor_parallel_all_reduces(void **state)
{
    (void)state;
    RoofInputs in = round_inputs(&DENSE);
    in.interconnect_gb_s = 100;
    double x;
    /* 1 layer · 2 all-reduces · ring share 2·(2 − 1)/2 = 1 · B 4 · d 1000 · 2 bytes = 16,000 B
     * / 100e9 B/s = 1.6e-7 s = 0.00016 ms */
    roof_step_ms(&in, 2, 4, NULL, NULL, &x);
    assert_hand(x, 0.00016);
    /* 4 chips: ring share 2·3/4 = 1.5 → 0.00024 ms */
    roof_step_ms(&in, 4, 4, NULL, NULL, &x);
    assert_hand(x, 0.00024);
    roof_step_ms(&in, 1, 4, NULL, NULL, &x);
    assert_hand(x, 0.0);
}

static void test_solve_ttft_slo_raises_chips_per_instance_or_fails_when_fixed(void **state)
{
    (void)state;
    RoofInputs in = solve_inputs(0.1);
    RoofResult out;
    /* one prompt on one chip: 8.0555 ms (see the capacity test); SLO 4 ms needs
     * ceil(8.0555 / 4) = 3 chips, TTFT 8.0555 / 3 */
    in.ttft_slo_ms = 4;
    assert_int_equal(roof_solve(&in, &out), 0);
    assert_int_equal(out.chips_per_instance, 3);
    assert_hand(out.ttft_ms, 8.0555 / 3);
    assert_true(out.ttft_ms <= 4);
    /* a fixed instance of 1 chip cannot meet it */
    in.chips_per_instance = 1;
    assert_int_equal(roof_solve(&in, &out), -3);
    /* a generous SLO changes nothing */
    in.chips_per_instance = 0;
    in.ttft_slo_ms = 100;
    assert_int_equal(roof_solve(&in, &out), 0);
    assert_int_equal(out.chips_per_instance, 1);
    /* memory already needs 3 chips (hbm 0.01 GB, see the three-chip test), TTFT 2.685 ms:
     * an SLO of 3 ms keeps 3; 2 ms needs ceil(8.0555 / 2) = 5, TTFT 1.6111 ms */
    in = solve_inputs(0.01);
    in.ttft_slo_ms = 3;
    assert_int_equal(roof_solve(&in, &out), 0);
    assert_int_equal(out.chips_per_instance, 3);
    in.ttft_slo_ms = 2;
    assert_int_equal(roof_solve(&in, &out), 0);
    assert_int_equal(out.chips_per_instance, 5);
    assert_hand(out.ttft_ms, 8.0555 / 5);
}

static void test_solve_tpot_slo_with_mtp_divides_the_step_by_tokens_per_step(void **state)
{
    (void)state;
    RoofInputs in = solve_inputs(0.1);
    in.mtp_depth = 1;
    in.mtp_acceptance = 0.5;
    in.tpot_slo_ms = 1.0;
    RoofResult out;
    /* weights + draft module (18,003,000, see the dense MTP test) = 36,006,000 bytes;
     * memory batch floor((90e6 − 36,006,000)/2e6) = floor(26.997) = 26
     * per sequence: 2 positions · 36e6 + 38e6 (the draft) = 110e6 FLOPs / 0.5e12 = 0.22 ms
     * tokens per step 1.5; TPOT ≤ 1 ⇔ step ≤ 1.5 ⇔ 0.22·b + 0.1 ≤ 1.5 ⇔ b ≤ 6.36
     * b = 6: step 1.42 ms, TPOT 0.94667; b = 7: step 1.64, TPOT 1.0933 > 1
     * decode 6·1.5 / 1.42e-3 tokens/s per chip */
    assert_int_equal(roof_solve(&in, &out), 0);
    assert_hand(out.weights_gb_per_instance, 0.036006);
    assert_int_equal(out.max_batch_memory, 26);
    assert_int_equal(out.batch, 6);
    assert_string_equal(out.bound, "slo");
    assert_hand(out.tokens_per_step, 1.5);
    assert_hand(out.step_ms, 1.42);
    assert_hand(out.tpot_ms, 1.42 / 1.5);
    assert_hand(out.decode_tok_s_per_chip, 6.0 * 1.5 / 1.42e-3);
    assert_true(roof_step_ms(&in, 1, 7, NULL, NULL, NULL) / 1.5 > 1.0);
}

static void test_solve_fails_minus_1_when_a_fixed_instance_cannot_hold_weights_and_a_sequence(
    void **state)
{
    (void)state;
    RoofResult out;
    /* 1 chip of 0.02 GB: usable 18e6 < 18,003,000 bytes of weights */
    RoofInputs in = solve_inputs(0.02);
    in.chips_per_instance = 1;
    assert_int_equal(roof_solve(&in, &out), -1);
    assert_int_equal(out.max_batch_memory, 0);
    /* 0.021 GB: usable 18.9e6 holds the weights but not a 2e6-byte sequence (room 897,000) */
    in.hbm_gb = 0.021;
    assert_int_equal(roof_solve(&in, &out), -1);
    assert_int_equal(out.max_batch_memory, 0);
    /* 2 fixed chips of 0.02 GB: floor((36e6 − 18,003,000)/2e6) = floor(8.9985) = 8 */
    in.hbm_gb = 0.02;
    in.chips_per_instance = 2;
    assert_int_equal(roof_solve(&in, &out), 0);
    assert_int_equal(out.chips_per_instance, 2);
    assert_int_equal(out.max_batch_memory, 8);
}

static void test_solve_fails_minus_2_when_batch_1_misses_the_tpot_slo(void **state)
{
    (void)state;
    RoofInputs in = solve_inputs(0.1);
    RoofResult out;
    /* batch 1: 0.072 + 0.1 = 0.172 ms > 0.15 */
    in.tpot_slo_ms = 0.15;
    assert_int_equal(roof_solve(&in, &out), -2);
    /* 0.172 itself is met, at batch 1 */
    in.tpot_slo_ms = 0.1725;
    assert_int_equal(roof_solve(&in, &out), 0);
    assert_int_equal(out.batch, 1);
    assert_string_equal(out.bound, "slo");
}

static void test_solve_fixed_batch_is_evaluated_as_given(void **state)
{
    (void)state;
    RoofInputs in = solve_inputs(0.1);
    in.fixed_batch = 5;
    in.tpot_slo_ms = 0.15; /* ignored for a fixed batch */
    RoofResult out;
    /* step 5·0.072 + 0.1 = 0.46 ms; decode 5 / 0.46e-3 = 10869.565217391304 */
    assert_int_equal(roof_solve(&in, &out), 0);
    assert_int_equal(out.batch, 5);
    assert_int_equal(out.limit, ROOF_FIXED);
    assert_string_equal(out.bound, "compute");
    assert_hand(out.step_ms, 0.46);
    assert_hand(out.decode_tok_s_per_chip, 5.0 / 0.46e-3);
}

/* ---- published shapes ------------------------------------------------------------------- */

static void test_deepseek_v3_kv_cache_is_70272_bytes_per_token_at_bf16(void **state)
{
    (void)state;
    RoofInputs in = round_inputs(&DSV3);
    in.kv_bytes = 2;
    in.hbm_gb = 141;
    in.hbm_usable = 0.9;
    in.peak_context = 4096;
    in.prompt_tokens = 1000;
    RoofResult out;
    /* 61 · (512 + 64) · 2 = 70,272 */
    assert_int_equal(roof_solve(&in, &out), 0);
    assert_hand(out.kv_bytes_per_token, 70272.0);
    /* all 671,026,404,352 weights at 1 byte (the count test_shape checks): 671.026404352 GB */
    assert_hand(out.weights_gb_per_instance, 671.026404352);
    /* 1000 tokens of context add 1000·70,272 bytes to a batch-1 step: / 1e12 = 0.070272 ms */
    double m0, m1;
    roof_step_ms(&in, 1, 1, NULL, &m0, NULL);
    in.context_tokens = 1000;
    roof_step_ms(&in, 1, 1, NULL, &m1, NULL);
    assert_close(m1 - m0, 0.070272, 1e-9, 1e-15);
}

static void test_llama_405b_kv_cache_is_516096_bytes_per_token_at_bf16(void **state)
{
    (void)state;
    RoofInputs in = round_inputs(&LLAMA405B);
    in.kv_bytes = 2;
    in.hbm_gb = 80;
    in.hbm_usable = 0.9;
    in.peak_context = 4096;
    in.prompt_tokens = 1000;
    RoofResult out;
    /* 2 · 126 · 8 · 128 · 2 = 516,096 */
    assert_int_equal(roof_solve(&in, &out), 0);
    assert_hand(out.kv_bytes_per_token, 516096.0);
    double m0, m1;
    roof_step_ms(&in, 1, 1, NULL, &m0, NULL);
    in.context_tokens = 1000;
    roof_step_ms(&in, 1, 1, NULL, &m1, NULL);
    assert_close(m1 - m0, 0.516096, 1e-9, 1e-15);
}

/* ---- properties ------------------------------------------------------------------------- */

typedef struct {
    const char *name;
    const ModelShape *shape;
    double weight_bytes;
    double hbm_gb;
} Case;

/* Each case's HBM holds its weights on one to a dozen chips with a useful batch. */
static const Case CASES[] = {
    {"dense-mha", &DENSE, 2, 2},
    {"moe-gqa", &MOE, 2, 4},
    {"dense-gqa", &GQA, 2, 0.5},
    {"mla-moe", &MLA_MOE, 2, 0.05},
    {"deepseek-v3", &DSV3, 1, 141},
    {"llama-405b", &LLAMA405B, 2, 80},
};
#define N_CASES (sizeof CASES / sizeof CASES[0])

/* H200-like chips: 989 TFLOPS, 4.8 TB/s, 450 GB/s; context 2000, peak 8000, prompt 2000. */
static RoofInputs case_inputs(const Case *c)
{
    RoofInputs in = {0};
    in.shape = *c->shape;
    in.weight_bytes = c->weight_bytes;
    in.kv_bytes = 2;
    in.peak_tflops = 989;
    in.hbm_gb = c->hbm_gb;
    in.hbm_tb_s = 4.8;
    in.interconnect_gb_s = 450;
    in.eff_compute = 0.6;
    in.eff_memory = 0.8;
    in.eff_prefill = 0.5;
    in.hbm_usable = 0.9;
    in.act_bytes = 2;
    in.step_overhead_ms = 0.01;
    in.context_tokens = 2000;
    in.peak_context = 8000;
    in.prompt_tokens = 2000;
    return in;
}

static const int BATCHES[] = {1, 2, 3, 8, 64, 512, 4096};
#define N_BATCHES (sizeof BATCHES / sizeof BATCHES[0])
static const int CHIPS[] = {1, 2, 8};
#define N_CHIPS (sizeof CHIPS / sizeof CHIPS[0])
static const double SPEEDUPS[] = {1.001, 1.5, 2, 10};
#define N_SPEEDUPS (sizeof SPEEDUPS / sizeof SPEEDUPS[0])

/* Batch-1 TPOT of the case's own instance: SLOs are set as multiples of it. */
static double tpot_batch1(const RoofInputs *in)
{
    RoofResult out;
    RoofInputs one = *in;
    one.fixed_batch = 1;
    one.tpot_slo_ms = 0;
    assert_int_equal(roof_solve(&one, &out), 0);
    return out.tpot_ms;
}

static const double SLO_FACTORS[] = {0, 0.9, 1.01, 1.5, 3, 10, 100};
#define N_SLO (sizeof SLO_FACTORS / sizeof SLO_FACTORS[0])

static void test_more_bandwidth_or_peak_never_slows_a_step(void **state)
{
    (void)state;
    int faster = 0;
    for (size_t ci = 0; ci < N_CASES; ci++)
        for (int mtp = 0; mtp <= 1; mtp++)
            for (size_t ni = 0; ni < N_CHIPS; ni++)
                for (size_t bi = 0; bi < N_BATCHES; bi++)
                    for (size_t si = 0; si < N_SPEEDUPS; si++)
                        for (int which = 0; which < 2; which++) {
                            RoofInputs in = case_inputs(&CASES[ci]);
                            in.mtp_depth = mtp;
                            double c0, m0, c1, m1;
                            double t0 = roof_step_ms(&in, CHIPS[ni], BATCHES[bi], &c0, &m0, NULL);
                            if (which == 0)
                                in.hbm_tb_s *= SPEEDUPS[si];
                            else
                                in.peak_tflops *= SPEEDUPS[si];
                            double t1 = roof_step_ms(&in, CHIPS[ni], BATCHES[bi], &c1, &m1, NULL);
                            if (t1 > t0 * (1 + 1e-12)) {
                                print_error("%s mtp %d chips %d batch %d %s x%g: %.17g > %.17g\n",
                                            CASES[ci].name, mtp, CHIPS[ni], BATCHES[bi],
                                            which ? "peak" : "bandwidth", SPEEDUPS[si], t1, t0);
                                fail();
                            }
                            assert_true(c1 <= c0 * (1 + 1e-12));
                            assert_true(m1 <= m0 * (1 + 1e-12));
                            faster += t1 < t0 * (1 - 1e-9);
                        }
    /* the loop is not vacuous: both compute- and bandwidth-bound steps got faster */
    assert_true(faster > 100);
}

static void test_more_bandwidth_or_peak_never_lowers_decode_throughput(void **state)
{
    (void)state;
    int higher = 0, solved = 0;
    for (size_t ci = 0; ci < N_CASES; ci++)
        for (size_t fi = 0; fi < N_SLO; fi++)
            for (int mb = 0; mb <= 1; mb++)
                for (size_t si = 0; si < N_SPEEDUPS; si++)
                    for (int which = 0; which < 2; which++) {
                        RoofInputs in = case_inputs(&CASES[ci]);
                        in.max_batch = mb ? 16 : 0;
                        in.tpot_slo_ms = SLO_FACTORS[fi] * tpot_batch1(&in);
                        RoofResult a, b;
                        int rc0 = roof_solve(&in, &a);
                        if (which == 0)
                            in.hbm_tb_s *= SPEEDUPS[si];
                        else
                            in.peak_tflops *= SPEEDUPS[si];
                        int rc1 = roof_solve(&in, &b);
                        if (rc0 != 0)
                            continue; /* batch 1 missed the SLO before the speedup */
                        solved++;
                        assert_int_equal(rc1, 0);
                        assert_true(b.batch >= a.batch);
                        if (b.decode_tok_s_per_chip < a.decode_tok_s_per_chip * (1 - 1e-12)) {
                            print_error("%s slo x%g %s x%g: %.17g < %.17g tokens/s/chip\n",
                                        CASES[ci].name, SLO_FACTORS[fi],
                                        which ? "peak" : "bandwidth", SPEEDUPS[si],
                                        b.decode_tok_s_per_chip, a.decode_tok_s_per_chip);
                            fail();
                        }
                        higher += b.decode_tok_s_per_chip > a.decode_tok_s_per_chip * (1 + 1e-9);
                    }
    assert_true(solved > 100);
    assert_true(higher > 100);
}

static void test_higher_mtp_acceptance_never_lowers_decode_throughput(void **state)
{
    (void)state;
    int higher = 0;
    for (size_t ci = 0; ci < N_CASES; ci++)
        for (int depth = 1; depth <= 2; depth++)
            for (size_t fi = 0; fi < N_SLO; fi++)
                for (int fixed = 0; fixed <= 8; fixed += 8) {
                    RoofInputs in = case_inputs(&CASES[ci]);
                    in.mtp_depth = depth;
                    in.fixed_batch = fixed;
                    in.tpot_slo_ms = SLO_FACTORS[fi] * tpot_batch1(&in); /* at acceptance 0 */
                    double prev = 0, prev_cost = INFINITY;
                    int prev_rc = -2;
                    for (int i = 0; i <= 20; i++) {
                        in.mtp_acceptance = i / 20.0;
                        RoofResult out;
                        int rc = roof_solve(&in, &out);
                        if (prev_rc == 0)
                            assert_int_equal(rc, 0);
                        if (rc == 0) {
                            /* cost per token ∝ 1 / throughput: never higher */
                            double cost = 1.0 / out.decode_tok_s_per_chip;
                            if (out.decode_tok_s_per_chip < prev * (1 - 1e-12) ||
                                cost > prev_cost * (1 + 1e-12)) {
                                print_error("%s D %d slo x%g fixed %d a %g: %.17g < %.17g\n",
                                            CASES[ci].name, depth, SLO_FACTORS[fi], fixed,
                                            in.mtp_acceptance, out.decode_tok_s_per_chip, prev);
                                fail();
                            }
                            higher += prev > 0 && out.decode_tok_s_per_chip > prev * (1 + 1e-9);
                            prev = out.decode_tok_s_per_chip;
                            prev_cost = cost;
                        }
                        prev_rc = rc;
                    }
                }
    assert_true(higher > 100);
}

static void test_tighter_tpot_slo_never_raises_the_batch(void **state)
{
    (void)state;
    int lower = 0;
    for (size_t ci = 0; ci < N_CASES; ci++)
        for (int mtp = 0; mtp <= 1; mtp++)
            for (size_t ni = 0; ni < N_CHIPS; ni++) {
                RoofInputs in = case_inputs(&CASES[ci]);
                in.mtp_depth = mtp;
                in.mtp_acceptance = 0.8;
                in.chips_per_instance = 0;
                RoofResult out;
                if (roof_solve(&in, &out) != 0)
                    continue;
                /* more chips than the fewest, so the instance differs per pass */
                in.chips_per_instance = out.chips_per_instance * CHIPS[ni];
                double t1 = tpot_batch1(&in);
                int prev = 1 << 30;
                int missed = 0;
                for (double f = 1000; f >= 0.5; f /= 1.25) {
                    in.tpot_slo_ms = f * t1;
                    int rc = roof_solve(&in, &out);
                    if (rc == -2) {
                        missed = 1;
                        continue;
                    }
                    assert_int_equal(rc, 0);
                    assert_false(missed); /* once batch 1 misses, tighter SLOs miss too */
                    if (out.batch > prev) {
                        print_error("%s mtp %d slo %.17g ms: batch %d > %d\n", CASES[ci].name, mtp,
                                    in.tpot_slo_ms, out.batch, prev);
                        fail();
                    }
                    assert_true(out.tpot_ms <= in.tpot_slo_ms * (1 + 1e-12));
                    lower += out.batch < prev && prev != 1 << 30;
                    prev = out.batch;
                }
                assert_true(missed); /* 0.5 × the batch-1 TPOT must miss */
            }
    assert_true(lower > 50);
}

static void test_expected_experts_stay_within_k_and_e_and_never_fall(void **state)
{
    (void)state;
    static const double E[] = {1, 2, 8, 64, 160, 256};
    for (size_t ei = 0; ei < sizeof E / sizeof E[0]; ei++)
        for (double k = 1; k <= E[ei]; k = k < 8 ? k + 1 : k * 2) {
            double prev = 0;
            for (double t = 1; t <= 100000; t = t < 64 ? t + 1 : t * 1.5) {
                double e = roof_expected_experts(E[ei], k, t);
                if (e < k * (1 - 1e-12) || e > E[ei] * (1 + 1e-12) || e < prev) {
                    print_error("E %g k %g tokens %g: %.17g (previous %.17g)\n", E[ei], k, t, e,
                                prev);
                    fail();
                }
                prev = e;
            }
            /* enough tokens touch every expert */
            assert_close(prev, E[ei], 1e-9, 1e-9);
        }
}

/* With a fixed chips_per_instance only: with chips_per_instance 0 more usable HBM can drop an
 * instance to fewer chips and so to a smaller batch (DENSE at 1-byte weights and KV, hbm 0.01 GB,
 * peak context 1000: usable 0.66 → 4 chips, batch 4; usable 0.70 → 3 chips, batch 1), which
 * follows from "the fewest chips". There the chip count never rises instead. */
static void test_more_usable_hbm_never_lowers_max_batch_memory(void **state)
{
    (void)state;
    int grew = 0;
    for (size_t ci = 0; ci < N_CASES; ci++)
        for (size_t ni = 0; ni < N_CHIPS; ni++) {
            RoofInputs in = case_inputs(&CASES[ci]);
            in.chips_per_instance = 0;
            RoofResult out;
            assert_int_equal(roof_solve(&in, &out), 0);
            int fixed = out.chips_per_instance * CHIPS[ni];
            int prev = 0, prev_chips = 1 << 30;
            for (double u = 0.30; u <= 0.99; u += 0.01) {
                in.hbm_usable = u;
                in.chips_per_instance = fixed;
                roof_solve(&in, &out); /* -1 at low usable: max_batch_memory 0 */
                if (out.max_batch_memory < prev) {
                    print_error("%s %d chips usable %g: %d < %d\n", CASES[ci].name, fixed, u,
                                out.max_batch_memory, prev);
                    fail();
                }
                grew += out.max_batch_memory > prev;
                prev = out.max_batch_memory;

                in.chips_per_instance = 0;
                roof_solve(&in, &out);
                assert_true(out.chips_per_instance <= prev_chips);
                prev_chips = out.chips_per_instance;
            }
        }
    assert_true(grew > 100);

    /* the auto-chips counterexample above, so the comment stays true */
    RoofInputs in = solve_inputs(0.01);
    RoofResult out;
    in.hbm_usable = 0.66;
    assert_int_equal(roof_solve(&in, &out), 0);
    assert_int_equal(out.chips_per_instance, 4);
    assert_int_equal(out.max_batch_memory, 4); /* floor((26.4e6 − 18,003,000)/2e6) */
    in.hbm_usable = 0.70;
    assert_int_equal(roof_solve(&in, &out), 0);
    assert_int_equal(out.chips_per_instance, 3);
    assert_int_equal(out.max_batch_memory, 1); /* floor((21e6 − 18,003,000)/2e6) */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expected_experts_match_hand_values),
        cmocka_unit_test(test_tokens_per_step_sums_the_acceptance_powers),
        cmocka_unit_test(test_step_ms_tiny_dense_batch_1_is_compute_bound_at_34_us),
        cmocka_unit_test(test_step_ms_tiny_dense_batch_8_with_context_is_bandwidth_bound),
        cmocka_unit_test(test_step_ms_moe_on_two_chips_adds_the_all_to_all_term),
        cmocka_unit_test(test_step_ms_dense_mtp_depth_1_verifies_two_positions_and_runs_one_draft),
        cmocka_unit_test(test_step_ms_moe_mtp_draft_flops_follow_active_not_total_params),
        cmocka_unit_test(test_solve_one_chip_fills_memory_to_batch_35_bound_capacity),
        cmocka_unit_test(test_solve_picks_three_chips_when_two_cannot_hold_weights_and_one_sequence),
        cmocka_unit_test(test_solve_max_batch_below_memory_reports_the_steps_own_bound),
        cmocka_unit_test(test_solve_tpot_slo_of_1_ms_picks_batch_12),
        cmocka_unit_test(test_solve_tpot_slo_with_mtp_divides_the_step_by_tokens_per_step),
        cmocka_unit_test(test_step_ms_dense_on_two_chips_pays_tensor_parallel_all_reduces),
        cmocka_unit_test(test_solve_ttft_slo_raises_chips_per_instance_or_fails_when_fixed),
        cmocka_unit_test(
            test_solve_fails_minus_1_when_a_fixed_instance_cannot_hold_weights_and_a_sequence),
        cmocka_unit_test(test_solve_fails_minus_2_when_batch_1_misses_the_tpot_slo),
        cmocka_unit_test(test_solve_fixed_batch_is_evaluated_as_given),
        cmocka_unit_test(test_deepseek_v3_kv_cache_is_70272_bytes_per_token_at_bf16),
        cmocka_unit_test(test_llama_405b_kv_cache_is_516096_bytes_per_token_at_bf16),
        cmocka_unit_test(test_more_bandwidth_or_peak_never_slows_a_step),
        cmocka_unit_test(test_more_bandwidth_or_peak_never_lowers_decode_throughput),
        cmocka_unit_test(test_higher_mtp_acceptance_never_lowers_decode_throughput),
        cmocka_unit_test(test_tighter_tpot_slo_never_raises_the_batch),
        cmocka_unit_test(test_expected_experts_stay_within_k_and_e_and_never_fall),
        cmocka_unit_test(test_more_usable_hbm_never_lowers_max_batch_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
