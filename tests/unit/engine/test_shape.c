/* test_shape: models/engine/shape.h's closed forms against hand-computed values (the arithmetic is in
 * the comments): parameter counts and FLOPs of tiny dense GQA, MoE and MLA shapes, KV bytes per
 * token, the published sizes of DeepSeek-V3, Llama-3-70B and Mixtral 8x7B, and shape_check's
 * refusals. Counts here are integers below 2^53, so the tolerances are tight. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/testutil.h"

#include <math.h>
#include <string.h>

#include "models/engine/shape.h"


/* Exact small integers: a tolerance only for form's sake. */
#define assert_count(got, want) assert_close((got), (want), 1e-12, 1e-9)

/* L 2, d 8, 2 heads, 1 KV head of width 4, FFN 16, vocab 10. */
static const ModelShape DENSE = {
    .layers = 2,
    .d_model = 8,
    .heads = 2,
    .kv_heads = 1,
    .head_dim = 4,
    .ffn = 16,
    .vocab = 10,
};

/* DENSE with 3 layers: 1 dense, then 2 MoE layers of 4 experts (top 2) + 1 shared, width 6. */
static const ModelShape MOE = {
    .layers = 3,
    .d_model = 8,
    .heads = 2,
    .kv_heads = 1,
    .head_dim = 4,
    .ffn = 16,
    .experts = 4,
    .experts_active = 2,
    .shared_experts = 1,
    .expert_ffn = 6,
    .dense_layers = 1,
    .vocab = 10,
};

/* MLA: L 2, d 8, 2 heads, kv_lora 4, q_lora 6, rope 2, nope 3, v 5, FFN 16, vocab 10. */
static const ModelShape MLA = {
    .layers = 2,
    .d_model = 8,
    .heads = 2,
    .ffn = 16,
    .kv_lora_rank = 4,
    .q_lora_rank = 6,
    .rope_dim = 2,
    .qk_nope_dim = 3,
    .v_head_dim = 5,
    .vocab = 10,
};

static const ModelShape DEEPSEEK_V3 = {
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

static const ModelShape LLAMA3_70B = {
    .layers = 80,
    .d_model = 8192,
    .heads = 64,
    .kv_heads = 8,
    .head_dim = 128,
    .ffn = 28672,
    .vocab = 128256,
};

static const ModelShape MIXTRAL_8X7B = {
    .layers = 32,
    .d_model = 4096,
    .heads = 32,
    .kv_heads = 8,
    .head_dim = 128,
    .experts = 8,
    .experts_active = 2,
    .expert_ffn = 14336,
    .vocab = 32000,
};

/* ---- tiny dense GQA ------------------------------------------------------------------------ */

static void test_dense_gqa_parameter_counts_are_exact(void **state)
{
    (void)state;
    ShapeParams p;
    shape_params(&DENSE, &p);
    assert_count(p.embedding, 80.0);       /* 10 * 8 */
    assert_count(p.head, 80.0);            /* 10 * 8, untied */
    assert_count(p.attn_per_layer, 192.0); /* 2*8*2*4 + 2*8*1*4 = 128 + 64 */
    assert_count(p.dense_ffn, 384.0);      /* 3 * 8 * 16 */
    assert_count(p.norms, 40.0);           /* 2 layers * (2*8) + 8 final = 32 + 8 */
    assert_int_equal(p.moe_layers, 0);
    assert_int_equal(p.dense_ffn_layers, 2);
    assert_count(p.expert, 0.0);
    assert_count(p.nonembed_active, 1152.0); /* 2 * (192 + 384) */
    assert_count(p.total, 1352.0);           /* 80 + 80 + 40 + 1152 */
    assert_count(p.active, 1352.0);          /* dense: everything is active */
}

static void test_dense_gqa_decode_and_prompt_flops_are_exact(void **state)
{
    (void)state;
    /* Attention: 4 * L * h * hd = 4*2*2*4 = 64 FLOPs per context token. */
    assert_count(shape_attn_flops(&DENSE, 100.0), 6400.0);
    /* Decode at 100: 2*1152 + 2*10*8 + 64*100 = 2304 + 160 + 6400. */
    assert_count(shape_flops_decode(&DENSE, 100.0), 8864.0);
    /* Prompt of 4: 2*1152 + 2*10*8/4 + 64*(4+1)/2 = 2304 + 40 + 160. */
    assert_count(shape_flops_prompt(&DENSE, 4.0), 2504.0);
    /* A one-token prompt is one decode step at context 1: 2304 + 160 + 64. */
    assert_count(shape_flops_prompt(&DENSE, 1.0), 2528.0);
    assert_count(shape_flops_decode(&DENSE, 1.0), 2528.0);
}

static void test_gqa_kv_bytes_per_token_is_2_l_kv_hd_bytes(void **state)
{
    (void)state;
    /* 2 * 2 layers * 1 KV head * 4 * 2 bytes = 32; at 1 byte, 16. */
    assert_count(shape_kv_bytes_per_token(&DENSE, 2.0), 32.0);
    assert_count(shape_kv_bytes_per_token(&DENSE, 1.0), 16.0);
    /* Llama-3-70B: 2 * 80 * 8 * 128 * 2 = 327,680 bytes. */
    assert_count(shape_kv_bytes_per_token(&LLAMA3_70B, 2.0), 327680.0);
}

/* ---- tiny MoE ------------------------------------------------------------------------------ */

static void test_moe_total_and_active_counts_include_router_and_shared_expert(void **state)
{
    (void)state;
    ShapeParams p;
    shape_params(&MOE, &p);
    assert_int_equal(p.moe_layers, 2); /* 3 layers - 1 dense */
    assert_int_equal(p.dense_ffn_layers, 1);
    assert_count(p.attn_per_layer, 192.0); /* as DENSE */
    assert_count(p.dense_ffn, 384.0);      /* 3 * 8 * 16 */
    assert_count(p.expert, 144.0);         /* 3 * 8 * 6 */
    assert_count(p.router, 32.0);          /* 8 * 4 experts */
    assert_count(p.norms, 56.0);           /* 3 * 16 + 8 */
    /* Common: 3 * 192 attention + 1 * 384 dense FFN = 960.
     * MoE total per layer: 32 + (4 + 1) * 144 = 752; 2 layers = 1504.
     * MoE active per layer: 32 + (2 + 1) * 144 = 464; 2 layers = 928. */
    assert_count(p.nonembed_active, 1888.0); /* 960 + 928 */
    assert_count(p.total, 2680.0);           /* 80 + 80 + 56 + 960 + 1504 */
    assert_count(p.active, 2104.0);          /* 80 + 80 + 56 + 960 + 928 */
    /* Decode at 10: 2*1888 + 2*80 + 4*3*2*4*10 = 3776 + 160 + 960. */
    assert_count(shape_flops_decode(&MOE, 10.0), 4896.0);
}

static void test_moe_with_every_expert_active_has_active_equal_total(void **state)
{
    (void)state;
    ModelShape s = MOE;
    s.experts_active = s.experts;
    ShapeParams p;
    shape_params(&s, &p);
    /* MoE active per layer: 32 + (4 + 1) * 144 = 752, as the total. */
    assert_count(p.total, 2680.0);
    assert_count(p.active, 2680.0);
    assert_count(p.active, p.total);
}

/* ---- tiny MLA ------------------------------------------------------------------------------ */

static void test_mla_with_q_lora_parameter_counts_are_exact(void **state)
{
    (void)state;
    ShapeParams p;
    shape_params(&MLA, &p);
    /* qk = nope + rope = 5.
     * q: d*q_lora + q_lora*h*qk = 8*6 + 6*2*5 = 48 + 60 = 108
     * kv: d*(kv_lora + rope) + kv_lora*h*(nope + v) = 8*6 + 4*2*8 = 48 + 64 = 112
     * o: h*v*d = 2*5*8 = 80 */
    assert_count(p.attn_per_layer, 300.0);
    /* Per layer 2*8 + kv_lora 4 + q_lora 6 = 26; 2 * 26 + 8 = 60. */
    assert_count(p.norms, 60.0);
    assert_count(p.nonembed_active, 1368.0); /* 2 * (300 + 384) */
    assert_count(p.total, 1588.0);           /* 80 + 80 + 60 + 1368 */
    assert_count(p.active, 1588.0);
    /* MLA attention: 2 * L * h * (qk + v) = 2*2*2*(5 + 5) = 80 per context token.
     * Decode at 3: 2*1368 + 160 + 240. */
    assert_count(shape_attn_flops(&MLA, 3.0), 240.0);
    assert_count(shape_flops_decode(&MLA, 3.0), 3136.0);
}

static void test_mla_without_q_lora_uses_full_rank_queries(void **state)
{
    (void)state;
    ModelShape s = MLA;
    s.q_lora_rank = 0;
    ShapeParams p;
    shape_params(&s, &p);
    /* q: d*h*qk = 8*2*5 = 80; + kv 112 + o 80 = 272. */
    assert_count(p.attn_per_layer, 272.0);
    /* Per layer 2*8 + 4 + 0 = 20; 2 * 20 + 8 = 48. */
    assert_count(p.norms, 48.0);
    assert_count(p.nonembed_active, 1312.0); /* 2 * (272 + 384) */
    assert_count(p.total, 1520.0);           /* 160 + 48 + 1312 */
}

static void test_mla_kv_bytes_per_token_is_l_times_kv_lora_plus_rope(void **state)
{
    (void)state;
    /* 2 layers * (4 + 2) * 2 bytes = 24. */
    assert_count(shape_kv_bytes_per_token(&MLA, 2.0), 24.0);
    /* DeepSeek-V3: 61 * (512 + 64) * 2 = 61 * 1152 = 70,272. */
    assert_count(shape_kv_bytes_per_token(&DEEPSEEK_V3, 2.0), 70272.0);
}

/* ---- published models ---------------------------------------------------------------------- */

static void test_deepseek_v3_shape_gives_671b_total_and_37b_active(void **state)
{
    (void)state;
    ShapeParams p;
    shape_params(&DEEPSEEK_V3, &p);
    /* q 7168*1536 + 1536*128*192 = 48,758,784; kv 7168*576 + 512*128*256 = 20,905,984;
     * o 128*128*7168 = 117,440,512; sum 187,105,280. */
    assert_count(p.attn_per_layer, 187105280.0);
    assert_int_equal(p.moe_layers, 58);
    assert_close(p.total, 671e9, 0.005, 0.0); /* closed form: 671,026,404,352 */
    assert_close(p.active, 37e9, 0.02, 0.0);  /* closed form: 37,552,282,624 */
}

static void test_llama3_70b_shape_gives_70_6b_total(void **state)
{
    (void)state;
    ShapeParams p;
    shape_params(&LLAMA3_70B, &p);
    /* 80 * (150,994,944 attn + 704,643,072 FFN) + 2 * 128256 * 8192 + 80*16384 + 8192
     * = 70,553,706,496. */
    assert_close(p.total, 70.6e9, 0.005, 0.0);
    assert_close(p.active, p.total, 1e-15, 0.0);
}

static void test_mixtral_8x7b_shape_gives_46_7b_total_and_12_9b_active(void **state)
{
    (void)state;
    ShapeParams p;
    shape_params(&MIXTRAL_8X7B, &p);
    assert_int_equal(p.moe_layers, 32);
    assert_int_equal(p.dense_ffn_layers, 0);
    /* Per layer: attn 41,943,040; expert 3*4096*14336 = 176,160,768; router 32,768.
     * Total 46,702,792,704; active 12,879,925,248. */
    assert_close(p.total, 46.7e9, 0.01, 0.0);
    assert_close(p.active, 12.9e9, 0.01, 0.0);
}

/* ---- shape_check --------------------------------------------------------------------------- */

static void expect_rejected(const ModelShape *s, const char *field)
{
    TsErr err;
    ts_err_clear(&err);
    int rc = shape_check(s, &err);
    if (rc != TS_EINPUT || err.code != TS_EINPUT || !strstr(err.msg, field)) {
        print_error("shape_check: rc %d, message \"%s\"; wanted TS_EINPUT naming %s\n", rc, err.msg,
                    field);
        fail();
    }
}

static void test_shape_check_accepts_the_good_shapes(void **state)
{
    (void)state;
    const ModelShape *good[] = {&DENSE, &MOE, &MLA, &DEEPSEEK_V3, &LLAMA3_70B, &MIXTRAL_8X7B};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        TsErr err;
        ts_err_clear(&err);
        int rc = shape_check(good[i], &err);
        if (rc != 0) {
            print_error("good shape %zu refused: %s\n", i, err.msg);
            fail();
        }
        assert_int_equal(err.code, TS_OK);
    }
    ModelShape s = MLA;
    s.q_lora_rank = 0;
    assert_int_equal(shape_check(&s, NULL), 0);
}

static void test_shape_check_rejects_inconsistent_shapes_naming_the_field(void **state)
{
    (void)state;
    ModelShape s = MOE;
    s.experts_active = 5; /* > 4 experts */
    expect_rejected(&s, "experts_active");
    s = MOE;
    s.dense_layers = 4; /* > 3 layers */
    expect_rejected(&s, "dense_layers");
    s = DENSE;
    s.kv_heads = 3; /* > 2 heads */
    expect_rejected(&s, "kv_heads");
    s = MLA;
    s.rope_dim = 0;
    expect_rejected(&s, "rope_dim");
    s = DENSE;
    s.ffn = 0;
    expect_rejected(&s, "ffn");
    s = DENSE;
    s.layers = 0;
    expect_rejected(&s, "layers");
    s = MOE;
    s.expert_ffn = 0;
    expect_rejected(&s, "expert_ffn");
    s = DENSE;
    s.head_dim = 0;
    expect_rejected(&s, "head_dim");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense_gqa_parameter_counts_are_exact),
        cmocka_unit_test(test_dense_gqa_decode_and_prompt_flops_are_exact),
        cmocka_unit_test(test_gqa_kv_bytes_per_token_is_2_l_kv_hd_bytes),
        cmocka_unit_test(test_moe_total_and_active_counts_include_router_and_shared_expert),
        cmocka_unit_test(test_moe_with_every_expert_active_has_active_equal_total),
        cmocka_unit_test(test_mla_with_q_lora_parameter_counts_are_exact),
        cmocka_unit_test(test_mla_without_q_lora_uses_full_rank_queries),
        cmocka_unit_test(test_mla_kv_bytes_per_token_is_l_times_kv_lora_plus_rope),
        cmocka_unit_test(test_deepseek_v3_shape_gives_671b_total_and_37b_active),
        cmocka_unit_test(test_llama3_70b_shape_gives_70_6b_total),
        cmocka_unit_test(test_mixtral_8x7b_shape_gives_46_7b_total_and_12_9b_active),
        cmocka_unit_test(test_shape_check_accepts_the_good_shapes),
        cmocka_unit_test(test_shape_check_rejects_inconsistent_shapes_naming_the_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
