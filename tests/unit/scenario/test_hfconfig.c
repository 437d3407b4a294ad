/* test_hfconfig: sim/scenario/hfconfig.h. The real configs in tests/data/hf/ (written from the
 * published config.json files) must give the published total and active parameter counts
 * within 1% (two rounded "active" figures within 2%, said where); every field read has a test
 * that changes it alone and checks its effect on the shape; malformed JSON gives "FILE: line L
 * column C: ", a missing, mistyped or impossible field "FILE: field X: ", all TS_EINPUT with the
 * model left zeroed. Tests run from the repository root. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "sim/scenario/hfconfig.h"
#include "tests/unit/testutil.h"

/* A minimal dense config: 2 layers, width 64, 4 heads, FFN 128, vocabulary 100. EXTRA is
 * spliced in as more keys (it must start with a comma when not empty). */
#define DENSE(EXTRA)                                                                           \
    "{\"num_hidden_layers\": 2, \"hidden_size\": 64, \"num_attention_heads\": 4, "            \
    "\"intermediate_size\": 128, \"vocab_size\": 100" EXTRA "}"

/* The same with 8 experts of width 32, top-2. */
#define MOE(EXTRA) DENSE(", \"num_local_experts\": 8, \"num_experts_per_tok\": 2, "            \
                         "\"moe_intermediate_size\": 32" EXTRA)

static int load(const char *json, HfModel *m, TsErr *err)
{
    ts_err_clear(err);
    return hf_load_text(m, "t.json", json, strlen(json), err);
}

static void load_ok(const char *json, HfModel *m)
{
    TsErr err;
    int rc = load(json, m, &err);
    if (rc != 0)
        print_error("unexpected error: %s\n", err.msg);
    assert_int_equal(rc, 0);
}

/* The load fails with TS_EINPUT, a message starting with want, and a zeroed model. */
static void load_fails(const char *json, const char *want)
{
    HfModel m;
    TsErr err;
    int rc = load(json, &m, &err);
    if (rc == 0 || strncmp(err.msg, want, strlen(want)) != 0)
        print_error("want a message starting '%s', got rc %d '%s'\n", want, rc, err.msg);
    assert_int_equal(rc, TS_EINPUT);
    assert_int_equal(strncmp(err.msg, want, strlen(want)), 0);
    assert_int_equal(m.shape.layers, 0);
    assert_true(m.params_total == 0.0);
}

/* Published counts: model card or README figure, and the convention it uses for "active". */
typedef struct {
    const char *file;
    double total;       /* published total parameters */
    double active;      /* published active parameters */
    int active_no_embed; /* the publisher counts the output head but not the input embedding */
    double active_rel;  /* tolerance on active */
} Published;

static void test_real_configs_match_published_parameter_counts(void **state)
{
    (void)state;
    static const Published pub[] = {
        /* Llama 3 paper Table 3 / model card: 8.03B, dense. */
        {"llama-3.1-8b", 8.03e9, 8.03e9, 0, 0.01},
        /* Mistral AI: 46.7B total, 12.9B used per token. */
        {"mixtral-8x7b", 46.7e9, 12.9e9, 0, 0.01},
        /* Qwen3-30B-A3B model card: 30.5B total, 3.3B activated (two significant figures: the
         * shape gives 3.35B, so 2%). */
        {"qwen3-30b-a3b", 30.5e9, 3.3e9, 0, 0.02},
        /* DeepSeek-V3 README_WEIGHTS.md: 671B total, 36.6B activated including the 0.9B output
         * head (the input embedding is a lookup, not counted). */
        {"deepseek-v3", 671e9, 36.6e9, 1, 0.01},
        /* gpt-oss model card: 116.83B total, 5.13B active (unembedding counted, embedding
         * not). */
        {"gpt-oss-120b", 116.83e9, 5.13e9, 1, 0.01},
        /* Qwen2.5-1.5B model card: 1.54B with tied embeddings. */
        {"qwen2.5-1.5b", 1.54e9, 1.54e9, 0, 0.01},
        /* Meta: Llama 4 Maverick 400B total, 17B active (two significant figures: 2%). */
        {"llama-4-maverick", 400e9, 17e9, 0, 0.02},
    };
    for (size_t i = 0; i < sizeof pub / sizeof pub[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "tests/data/hf/%s.json", pub[i].file);
        HfModel m;
        TsErr err;
        int rc = hf_load_file(&m, path, &err);
        if (rc)
            print_error("%s\n", err.msg);
        assert_int_equal(rc, 0);
        ShapeParams p;
        shape_params(&m.shape, &p);
        double active = m.params_active - (pub[i].active_no_embed ? p.embedding : 0.0);
        print_message("%-18s total %.4gB (published %.4gB), active %.4gB (published %.4gB)\n",
                      pub[i].file, m.params_total / 1e9, pub[i].total / 1e9, active / 1e9,
                      pub[i].active / 1e9);
        assert_close(m.params_total, pub[i].total, 0.01, 0.0);
        assert_close(active, pub[i].active, pub[i].active_rel, 0.0);
    }
}

static void test_real_configs_give_their_shapes(void **state)
{
    (void)state;
    HfModel m;
    TsErr err;
    assert_int_equal(hf_load_file(&m, "tests/data/hf/deepseek-v3.json", &err), 0);
    assert_int_equal(m.shape.kv_lora_rank, 512);
    assert_int_equal(m.shape.q_lora_rank, 1536);
    assert_int_equal(m.shape.rope_dim, 64);
    assert_int_equal(m.shape.dense_layers, 3);
    assert_int_equal(m.shape.shared_experts, 1);
    assert_true(m.weight_bytes == 1.0); /* quant_method fp8 */
    /* MLA: 61 x (512 + 64) x 2 bytes = 70,272 bytes per token (data-sources.md sec. 6). */
    assert_close(shape_kv_bytes_per_token(&m.shape, 2.0), 70272.0, 0.0, 0.0);
    assert_string_equal(m.model_type, "deepseek_v3");

    assert_int_equal(hf_load_file(&m, "tests/data/hf/gpt-oss-120b.json", &err), 0);
    assert_int_equal(m.shape.experts, 128);
    assert_int_equal(m.shape.expert_ffn, 2880);
    assert_int_equal(m.sliding_layers, 18);
    assert_int_equal(m.sliding_window_tokens, 128);
    assert_string_equal(m.quant_method, "mxfp4");
    /* Experts at 4.25 bits, the other 2.2B weights at 2 bytes: about 0.558 bytes each. */
    assert_close(m.weight_bytes, 0.558, 0.005, 0.0);

    assert_int_equal(hf_load_file(&m, "tests/data/hf/llama-4-maverick.json", &err), 0);
    assert_int_equal(m.shape.dense_layers, 24);   /* interleave_moe_layer_step 2 */
    assert_int_equal(m.shape.ffn, 16384);         /* intermediate_size_mlp */
    assert_int_equal(m.shape.expert_ffn, 8192);   /* intermediate_size */
    assert_int_equal(m.shape.shared_experts, 1);  /* llama4's implicit shared expert */
    assert_string_equal(m.model_type, "llama4_text");

    assert_int_equal(hf_load_file(&m, "tests/data/hf/qwen2.5-1.5b.json", &err), 0);
    assert_true(m.tied_embeddings);
    assert_int_equal(m.sliding_layers, 0); /* use_sliding_window false */
    assert_int_equal(m.shape.head_dim, 128); /* 1536 / 12 */
}

static void test_kv_heads_default_to_heads_and_are_read(void **state)
{
    (void)state;
    HfModel m;
    load_ok(DENSE(""), &m);
    assert_int_equal(m.shape.kv_heads, 4);
    load_ok(DENSE(", \"num_key_value_heads\": 2"), &m);
    assert_int_equal(m.shape.kv_heads, 2);
    assert_close(shape_kv_bytes_per_token(&m.shape, 2.0), 2.0 * 2 * 2 * 16 * 2, 0.0, 0.0);
}

static void test_head_dim_defaults_to_width_over_heads_and_is_read(void **state)
{
    (void)state;
    HfModel m;
    load_ok(DENSE(""), &m);
    assert_int_equal(m.shape.head_dim, 16);
    load_ok(DENSE(", \"head_dim\": 32"), &m);
    assert_int_equal(m.shape.head_dim, 32);
}

static void test_tied_embeddings_count_the_head_once(void **state)
{
    (void)state;
    HfModel untied, tied;
    load_ok(DENSE(", \"tie_word_embeddings\": false"), &untied);
    load_ok(DENSE(", \"tie_word_embeddings\": true"), &tied);
    assert_false(untied.tied_embeddings);
    assert_true(tied.tied_embeddings);
    assert_close(untied.params_total - tied.params_total, 100.0 * 64, 0.0, 0.0);
    assert_close(untied.params_active - tied.params_active, 100.0 * 64, 0.0, 0.0);
}

static void test_dtype_sets_weight_bytes(void **state)
{
    (void)state;
    HfModel m;
    load_ok(DENSE(""), &m);
    assert_true(m.weight_bytes == 2.0); /* absent: bf16 assumed */
    load_ok(DENSE(", \"torch_dtype\": \"float32\""), &m);
    assert_true(m.weight_bytes == 4.0);
    assert_string_equal(m.dtype, "float32");
    load_ok(DENSE(", \"dtype\": \"float16\""), &m);
    assert_true(m.weight_bytes == 2.0);
    load_ok(DENSE(", \"torch_dtype\": \"complex64\""), &m);
    assert_true(m.weight_bytes == 0.0); /* unknown: the scenario must say */
    assert_true(hf_dtype_bytes("float8_e4m3fn") == 1.0);
}

static void test_quantization_config_sets_weight_bytes(void **state)
{
    (void)state;
    HfModel m;
    load_ok(DENSE(", \"quantization_config\": {\"quant_method\": \"fp8\"}"), &m);
    assert_true(m.weight_bytes == 1.0);
    load_ok(DENSE(", \"quantization_config\": {\"quant_method\": \"awq\", \"bits\": 4}"), &m);
    assert_true(m.weight_bytes == 0.5);
    load_ok(DENSE(", \"quantization_config\": {\"quant_method\": \"mystery\"}"), &m);
    assert_true(m.weight_bytes == 0.0);
    assert_string_equal(m.quant_method, "mystery");
    /* mxfp4 on an MoE: experts at 4.25/8 bytes, the rest at 2. */
    load_ok(MOE(", \"quantization_config\": {\"quant_method\": \"mxfp4\"}"), &m);
    ShapeParams p;
    shape_params(&m.shape, &p);
    double experts = 2.0 * 8 * p.expert;
    assert_close(m.weight_bytes, (experts * 4.25 / 8 + (p.total - experts) * 2) / p.total, 1e-12,
                 0.0);
}

static void test_each_experts_spelling_is_read(void **state)
{
    (void)state;
    static const char *const docs[] = {
        DENSE(", \"num_local_experts\": 8, \"num_experts_per_tok\": 2"),
        DENSE(", \"num_experts\": 8, \"num_experts_per_tok\": 2"),
        DENSE(", \"n_routed_experts\": 8, \"experts_per_token\": 2"),
    };
    for (int i = 0; i < 3; i++) {
        HfModel m;
        load_ok(docs[i], &m);
        assert_int_equal(m.shape.experts, 8);
        assert_int_equal(m.shape.experts_active, 2);
        assert_int_equal(m.shape.expert_ffn, 128); /* intermediate_size, as Mixtral */
        assert_int_equal(m.moe_layers, 2);
    }
    HfModel m;
    load_ok(DENSE(", \"num_experts\": 0"), &m); /* 0 experts is a dense model */
    assert_int_equal(m.shape.experts, 0);
}

static void test_moe_intermediate_and_shared_experts_are_read(void **state)
{
    (void)state;
    HfModel m, shared;
    load_ok(MOE(""), &m);
    assert_int_equal(m.shape.expert_ffn, 32);
    assert_int_equal(m.shape.shared_experts, 0);
    load_ok(MOE(", \"n_shared_experts\": 2"), &shared);
    assert_int_equal(shared.shape.shared_experts, 2);
    /* Two more experts of 3 x 64 x 32 weights in each of 2 layers, all active. */
    assert_close(shared.params_active - m.params_active, 2.0 * 2 * 3 * 64 * 32, 0.0, 0.0);
}

static void test_dense_layer_rules_are_read(void **state)
{
    (void)state;
    HfModel m;
    load_ok(MOE(", \"first_k_dense_replace\": 1"), &m);
    assert_int_equal(m.shape.dense_layers, 1);
    assert_int_equal(m.shape.ffn, 128);
    load_ok(MOE(", \"decoder_sparse_step\": 2"), &m); /* layer 1 only */
    assert_int_equal(m.shape.dense_layers, 1);
    load_ok(MOE(", \"interleave_moe_layer_step\": 2"), &m);
    assert_int_equal(m.shape.dense_layers, 1);
    load_ok(MOE(", \"mlp_only_layers\": [0]"), &m);
    assert_int_equal(m.shape.dense_layers, 1);
    load_ok(MOE(", \"moe_layer_freq\": 2"), &m); /* layer 0 only */
    assert_int_equal(m.shape.dense_layers, 1);
    load_ok(MOE(", \"moe_layers\": [1]"), &m);
    assert_int_equal(m.shape.dense_layers, 1);
    load_ok(MOE(", \"mlp_only_layers\": []"), &m);
    assert_int_equal(m.shape.dense_layers, 0);
    load_ok(MOE(", \"first_k_dense_replace\": 1, \"intermediate_size_mlp\": 256"), &m);
    assert_int_equal(m.shape.ffn, 256);
}

static void test_mla_fields_are_read(void **state)
{
    (void)state;
    HfModel m;
    load_ok(DENSE(", \"kv_lora_rank\": 32, \"q_lora_rank\": 48, \"qk_rope_head_dim\": 8, "
                  "\"qk_nope_head_dim\": 16, \"v_head_dim\": 16"),
            &m);
    assert_int_equal(m.shape.kv_lora_rank, 32);
    assert_int_equal(m.shape.q_lora_rank, 48);
    assert_int_equal(m.shape.rope_dim, 8);
    assert_int_equal(m.shape.qk_nope_dim, 16);
    assert_int_equal(m.shape.v_head_dim, 16);
    assert_close(shape_kv_bytes_per_token(&m.shape, 2.0), 2.0 * (32 + 8) * 2, 0.0, 0.0);
    load_ok(DENSE(", \"kv_lora_rank\": 32, \"q_lora_rank\": null, \"qk_rope_head_dim\": 8, "
                  "\"qk_nope_head_dim\": 16, \"v_head_dim\": 16"),
            &m);
    assert_int_equal(m.shape.q_lora_rank, 0); /* null: full-rank queries (DeepSeek-V2-Lite) */
}

static void test_sliding_window_layers_are_counted(void **state)
{
    (void)state;
    HfModel m;
    load_ok(DENSE(", \"sliding_window\": 64"), &m);
    assert_int_equal(m.sliding_layers, 2);
    assert_int_equal(m.sliding_window_tokens, 64);
    load_ok(DENSE(", \"sliding_window\": 64, \"layer_types\": [\"sliding_attention\", "
                  "\"full_attention\"]"),
            &m);
    assert_int_equal(m.sliding_layers, 1);
    load_ok(DENSE(", \"sliding_window\": 64, \"use_sliding_window\": false"), &m);
    assert_int_equal(m.sliding_layers, 0);
    load_ok(DENSE(", \"sliding_window\": null"), &m);
    assert_int_equal(m.sliding_window_tokens, 0);
}

static void test_text_config_is_read_from_a_wrapper(void **state)
{
    (void)state;
    HfModel m;
    load_ok("{\"model_type\": \"llama4\", \"torch_dtype\": \"float32\", \"text_config\": "
            "{\"num_hidden_layers\": 2, \"hidden_size\": 64, \"num_attention_heads\": 4, "
            "\"intermediate_size\": 32, \"vocab_size\": 100, \"num_local_experts\": 4, "
            "\"num_experts_per_tok\": 1}}",
            &m);
    assert_int_equal(m.shape.experts, 4);
    assert_int_equal(m.shape.shared_experts, 1); /* llama4 */
    assert_true(m.weight_bytes == 4.0);          /* torch_dtype from the root */
    load_fails("{\"text_config\": {\"num_hidden_layers\": 2}}",
               "t.json: field text_config.hidden_size: missing");
}

static void test_malformed_json_names_line_and_column(void **state)
{
    (void)state;
    load_fails("{\n  \"hidden_size\": 64,\n  oops\n}", "t.json: line 3 column ");
    load_fails("{\"a\": 1,\n \"a\": 2}", "t.json: line 2 column ");
    load_fails("[1, 2]", "t.json: line 1 column 1: the top level must be an object");
    load_fails("", "t.json: line ");
    load_fails(DENSE("") " trailing", "t.json: line 1 column ");
}

static void test_missing_and_mistyped_fields_are_named(void **state)
{
    (void)state;
    load_fails("{\"hidden_size\": 64}", "t.json: field num_hidden_layers: missing");
    load_fails("{\"num_hidden_layers\": 2, \"hidden_size\": 64, \"num_attention_heads\": 4, "
               "\"vocab_size\": 100}",
               "t.json: field intermediate_size: missing");
    load_fails(DENSE(", \"num_key_value_heads\": \"2\""),
               "t.json: field num_key_value_heads: expected an integer, got a string");
    load_fails("{\"num_hidden_layers\": 2, \"hidden_size\": 64.5}",
               "t.json: field hidden_size: expected an integer");
    load_fails("{\"num_hidden_layers\": -2}", "t.json: field num_hidden_layers: must be a "
               "positive count");
    load_fails(DENSE(", \"tie_word_embeddings\": 1"), "t.json: field tie_word_embeddings: ");
    load_fails(DENSE(", \"num_experts\": 8"), "t.json: field num_experts_per_tok: missing");
    load_fails(DENSE(", \"model_type\": \"a\\u0007b\""), "t.json: field model_type: control");
    load_fails(DENSE(", \"quantization_config\": {\"bits\": \"4\"}"),
               "t.json: field quantization_config.bits: expected an integer");
}

static void test_impossible_shapes_are_refused(void **state)
{
    (void)state;
    load_fails(DENSE(", \"num_key_value_heads\": 3"),
               "t.json: field num_key_value_heads: must divide num_attention_heads = 4");
    load_fails("{\"num_hidden_layers\": 2, \"hidden_size\": 66, \"num_attention_heads\": 4, "
               "\"intermediate_size\": 128, \"vocab_size\": 100}",
               "t.json: field head_dim: absent, and hidden_size = 66");
    load_fails(MOE(", \"num_experts\": 4"),
               "t.json: field num_experts: 4 disagrees with num_local_experts = 8");
    load_fails(DENSE(", \"num_experts\": 2, \"num_experts_per_tok\": 3"),
               "t.json: field num_experts_per_tok: more than the 2 routed experts");
    load_fails(MOE(", \"first_k_dense_replace\": 3"),
               "t.json: field first_k_dense_replace: more leading dense layers");
    load_fails(MOE(", \"decoder_sparse_step\": 3"), "t.json: field decoder_sparse_step: ");
    load_fails(MOE(", \"mlp_only_layers\": [0, 1]"), "t.json: field mlp_only_layers: an MoE");
    load_fails(MOE(", \"mlp_only_layers\": [2]"), "t.json: field mlp_only_layers: every entry");
    load_fails(DENSE(", \"kv_lora_rank\": 32, \"qk_rope_head_dim\": 8, \"qk_nope_head_dim\": 16"),
               "t.json: field v_head_dim: missing");
}

static void test_unreadable_file_is_an_io_error(void **state)
{
    (void)state;
    HfModel m;
    TsErr err;
    assert_int_equal(hf_load_file(&m, "tests/data/hf/no-such-config.json", &err), TS_EIO);
    assert_non_null(strstr(err.msg, "no-such-config.json"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_configs_match_published_parameter_counts),
        cmocka_unit_test(test_real_configs_give_their_shapes),
        cmocka_unit_test(test_kv_heads_default_to_heads_and_are_read),
        cmocka_unit_test(test_head_dim_defaults_to_width_over_heads_and_is_read),
        cmocka_unit_test(test_tied_embeddings_count_the_head_once),
        cmocka_unit_test(test_dtype_sets_weight_bytes),
        cmocka_unit_test(test_quantization_config_sets_weight_bytes),
        cmocka_unit_test(test_each_experts_spelling_is_read),
        cmocka_unit_test(test_moe_intermediate_and_shared_experts_are_read),
        cmocka_unit_test(test_dense_layer_rules_are_read),
        cmocka_unit_test(test_mla_fields_are_read),
        cmocka_unit_test(test_sliding_window_layers_are_counted),
        cmocka_unit_test(test_text_config_is_read_from_a_wrapper),
        cmocka_unit_test(test_malformed_json_names_line_and_column),
        cmocka_unit_test(test_missing_and_mistyped_fields_are_named),
        cmocka_unit_test(test_impossible_shapes_are_refused),
        cmocka_unit_test(test_unreadable_file_is_an_io_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
