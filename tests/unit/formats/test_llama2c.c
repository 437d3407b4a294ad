/* test_llama2c: models/llama2c against checkpoints written by l2c_save in a fresh mkdtemp folder
 * per test (none can be downloaded here). Checks the file layout byte counts and RoPE tables
 * against hand-computed values, bit-identical save/load round trips (shared and unshared
 * classifier), and the bad-file corpus: truncated, trailing byte, empty, bad header fields,
 * absurd sizes refused before allocating, non-finite weights named by tensor, missing file. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/testutil.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/formats/llama2c.h"

typedef TestTmp Tmp;

static int tmp_setup(void **state)
{
    return test_tmp_setup(state, "test_llama2c", "tiny.bin");
}

static int tmp_teardown(void **state)
{
    return test_tmp_teardown(state);
}

static EngineConfig tiny(int shared)
{
    return test_tiny_dense("tiny", shared);
}

/* Floats of tiny: embedding 40x16 = 640, rms_att 2x16 = 32, wq 2x16x16 = 512, wk and wv
 * 2x8x16 = 256 each, wo 512, rms_ffn 32, w1, w2, w3 2x32x16 = 1024 each, rms_final 16, two RoPE
 * tables 32x2 = 64 each: 5456 floats; + wcls 640 when unshared. */
#define TINY_SHARED_BYTES (28 + 4 * 5456)
#define TINY_UNSHARED_BYTES (28 + 4 * (5456 + 640))
/* Byte offsets of tensors in the file. */
#define OFF_WK (28 + 4 * (640 + 32 + 512))
#define OFF_RMS_FINAL (28 + 4 * (640 + 32 + 512 + 256 + 256 + 512 + 32 + 3 * 1024))
#define OFF_ROPE (OFF_RMS_FINAL + 4 * 16)
#define OFF_WCLS (OFF_ROPE + 4 * 128)

/* Saves tiny(shared) with seeded weights at path; w keeps the weights. */
static EngineConfig save_tiny(const char *path, int shared, Weights *w)
{
    EngineConfig c = tiny(shared);
    TsErr err;
    ts_err_clear(&err);
    assert_int_equal(wt_alloc(w, &c, &err), 0);
    wt_init_seeded(w, &c, 42);
    int rc = l2c_save(path, &c, w, &err);
    if (rc)
        print_error("l2c_save: %s\n", err.msg);
    assert_int_equal(rc, 0);
    return c;
}

static long file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    fclose(f);
    return n;
}

static void write_bytes(const char *path, long offset, const void *p, size_t n)
{
    FILE *f = fopen(path, offset < 0 ? "wb" : "r+b");
    assert_non_null(f);
    if (offset >= 0)
        assert_int_equal(fseek(f, offset, SEEK_SET), 0);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static float read_float(const char *path, long offset)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, offset, SEEK_SET), 0);
    float v;
    assert_int_equal(fread(&v, sizeof v, 1, f), 1);
    fclose(f);
    return v;
}

/* Writes a file holding only the header h. */
static void write_header(const char *path, const int32_t h[7])
{
    write_bytes(path, -1, h, 7 * sizeof(int32_t));
}

/* Loads path expecting failure with code; checks the "PATH: " prefix, the substring want and
 * that no weights were left allocated. */
static void expect_load_error(const char *path, int code, const char *want)
{
    EngineConfig c;
    Weights w;
    TsErr err;
    ts_err_clear(&err);
    int rc = l2c_load(path, &c, &w, &err);
    if (rc != code || !strstr(err.msg, want) || strncmp(err.msg, path, strlen(path)) != 0)
        print_error("got %d '%s', want %d with '%s'\n", rc, err.msg, code, want);
    assert_int_equal(rc, code);
    assert_int_equal(err.code, code);
    assert_non_null(strstr(err.msg, want));
    assert_int_equal(strncmp(err.msg, path, strlen(path)), 0);
    assert_null(w.data);
}

static void assert_same_config(const EngineConfig *got, const EngineConfig *want)
{
    assert_string_equal(got->name, want->name);
    assert_memory_equal(&got->shape, &want->shape, sizeof got->shape);
    assert_int_equal(got->max_seq, want->max_seq);
    assert_true(got->rope_theta == want->rope_theta);
    assert_true(got->norm_eps == want->norm_eps);
    assert_int_equal(got->shared_classifier, want->shared_classifier);
}

static void roundtrip(const Tmp *t, int shared)
{
    Weights w, back;
    EngineConfig c = save_tiny(t->path, shared, &w), got;
    TsErr err;
    ts_err_clear(&err);
    int rc = l2c_load(t->path, &got, &back, &err);
    if (rc)
        print_error("l2c_load: %s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_same_config(&got, &c);
    assert_int_equal(back.n_floats, w.n_floats);
    assert_memory_equal(back.data, w.data, w.n_floats * sizeof(float));
    if (shared) {
        assert_ptr_equal(back.wcls, back.token_embedding);
    } else {
        assert_ptr_not_equal(back.wcls, back.token_embedding);
        assert_memory_equal(back.wcls, w.wcls, 40 * 16 * sizeof(float));
    }
    wt_fini(&back);
    wt_fini(&w);
}

static void test_save_load_shared_classifier_gives_same_config_and_identical_bits(void **state)
{
    roundtrip(*state, 1);
}

static void test_save_load_unshared_classifier_gives_same_config_and_identical_bits(void **state)
{
    roundtrip(*state, 0);
}

static void test_saved_file_has_llama2c_size_and_vocab_sign(void **state)
{
    const Tmp *t = *state;
    Weights w;
    save_tiny(t->path, 1, &w);
    assert_int_equal(file_size(t->path), TINY_SHARED_BYTES);
    int32_t h[7];
    FILE *f = fopen(t->path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(h, sizeof h, 1, f), 1);
    fclose(f);
    const int32_t want[7] = {16, 32, 2, 4, 2, 40, 32};
    assert_memory_equal(h, want, sizeof h);
    /* the first weight after the header is token_embedding[0] */
    assert_true(read_float(t->path, 28) == w.token_embedding[0]);
    wt_fini(&w);

    save_tiny(t->path, 0, &w);
    assert_int_equal(file_size(t->path), TINY_UNSHARED_BYTES);
    f = fopen(t->path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(h, sizeof h, 1, f), 1);
    fclose(f);
    assert_int_equal(h[5], -40);
    assert_true(read_float(t->path, OFF_WCLS) == w.wcls[0]);
    assert_true(read_float(t->path, OFF_RMS_FINAL) == w.rms_final[0]);
    wt_fini(&w);
}

static void test_saved_rope_tables_hold_cos_and_sin_of_pos_times_freq(void **state)
{
    const Tmp *t = *state;
    Weights w;
    save_tiny(t->path, 1, &w);
    wt_fini(&w);
    /* head_size 4: pair i = 1 has freq 1 / 10000^(2/4) = 0.01; pos 3 -> angle 0.03.
     * Rows are (seq 32, 2 pairs); the imag table follows the real one (64 floats). */
    long row3_pair1 = 4L * (3 * 2 + 1);
    assert_close(read_float(t->path, OFF_ROPE + row3_pair1), cos(0.03), 1e-6, 1e-7);
    assert_close(read_float(t->path, OFF_ROPE + 4 * 64 + row3_pair1), sin(0.03), 1e-6, 1e-7);
    /* pair 0 has freq 1: pos 5 -> cos 5, sin 5 */
    assert_close(read_float(t->path, OFF_ROPE + 4L * 10), cos(5.0), 1e-6, 1e-7);
    assert_close(read_float(t->path, OFF_ROPE + 4 * 64 + 4L * 10), sin(5.0), 1e-6, 1e-7);
}

static void test_loaded_config_is_named_after_the_file_and_passes_cfg_check(void **state)
{
    const Tmp *t = *state;
    Weights w, back;
    save_tiny(t->path, 1, &w);
    char other[200];
    snprintf(other, sizeof other, "%s/stories.v2.bin", t->dir);
    TsErr err;
    ts_err_clear(&err);
    EngineConfig c;
    assert_int_equal(rename(t->path, other), 0);
    assert_int_equal(l2c_load(other, &c, &back, &err), 0);
    assert_string_equal(c.name, "stories.v2");
    assert_int_equal(c.shape.head_dim, 4);
    assert_int_equal(c.shape.experts, 0);
    assert_int_equal(cfg_check(&c, &err), 0);
    wt_fini(&back);
    wt_fini(&w);
}

static void test_truncated_by_one_byte_is_refused_with_both_sizes(void **state)
{
    const Tmp *t = *state;
    Weights w;
    save_tiny(t->path, 1, &w);
    wt_fini(&w);
    assert_int_equal(truncate(t->path, TINY_SHARED_BYTES - 1), 0);
    expect_load_error(t->path, TS_EINPUT, "21851 bytes");
    expect_load_error(t->path, TS_EINPUT, "implies 21852: truncated");
}

static void test_one_trailing_byte_is_refused_with_both_sizes(void **state)
{
    const Tmp *t = *state;
    Weights w;
    save_tiny(t->path, 0, &w);
    wt_fini(&w);
    FILE *f = fopen(t->path, "ab");
    assert_non_null(f);
    fputc(0, f);
    fclose(f);
    expect_load_error(t->path, TS_EINPUT, "24413 bytes");
    expect_load_error(t->path, TS_EINPUT, "implies 24412: trailing bytes");
}

static void test_zero_length_file_is_refused(void **state)
{
    const Tmp *t = *state;
    write_bytes(t->path, -1, "", 0);
    expect_load_error(t->path, TS_EINPUT, "0 bytes, too short");
}

static void test_missing_file_is_an_io_error(void **state)
{
    const Tmp *t = *state;
    expect_load_error(t->path, TS_EIO, "cannot open");
}

static void test_zero_or_negative_header_fields_are_refused_by_name(void **state)
{
    const Tmp *t = *state;
    static const char *const names[7] = {"dim", "hidden_dim", "n_layers", "n_heads",
                                         "n_kv_heads", "vocab_size", "seq_len"};
    for (int i = 0; i < 7; i++)
        for (int bad = -1; bad <= 0; bad++) {
            if (i == 5 && bad < 0)
                continue; /* a negative vocab_size is valid: unshared classifier */
            int32_t h[7] = {16, 32, 2, 4, 2, 40, 32};
            h[i] = bad;
            write_header(t->path, h);
            char want[64];
            snprintf(want, sizeof want, "header %s = %d", names[i], bad);
            expect_load_error(t->path, TS_EINPUT, want);
        }
    int32_t h[7] = {-16, 32, 2, 4, 2, 40, 32};
    write_header(t->path, h);
    expect_load_error(t->path, TS_EINPUT, "header dim = -16");
}

static void test_dim_not_divisible_by_heads_is_refused(void **state)
{
    const Tmp *t = *state;
    int32_t h[7] = {18, 32, 2, 4, 2, 40, 32};
    write_header(t->path, h);
    expect_load_error(t->path, TS_EINPUT, "dim 18 is not divisible by n_heads 4");
}

static void test_kv_heads_not_dividing_heads_is_refused(void **state)
{
    const Tmp *t = *state;
    int32_t h[7] = {24, 32, 2, 4, 3, 40, 32};
    write_header(t->path, h);
    expect_load_error(t->path, TS_EINPUT, "n_heads 4 is not divisible by n_kv_heads 3");
}

static void test_odd_head_size_is_refused(void **state)
{
    const Tmp *t = *state;
    int32_t h[7] = {12, 32, 2, 4, 2, 40, 32}; /* head size 3 */
    write_header(t->path, h);
    expect_load_error(t->path, TS_EINPUT, "must be even");
}

/* A header beyond the limits fails on the header alone; one within them but describing
 * gigabytes fails on the size check. TS_EINPUT (not TS_ENOMEM, not a read error) shows that
 * nothing was allocated or read for them. */
static void test_absurd_dims_fail_before_allocating(void **state)
{
    const Tmp *t = *state;
    int32_t huge_dim[7] = {1000000000, 32, 2, 4, 2, 40, 32};
    write_header(t->path, huge_dim);
    expect_load_error(t->path, TS_EINPUT, "header dim = 1000000000, must be in [1, 16384]");

    int32_t huge_vocab[7] = {16, 32, 2, 4, 2, -2000000000, 32};
    write_header(t->path, huge_vocab);
    expect_load_error(t->path, TS_EINPUT, "vocab_size = -2000000000");

    /* 7B-like: above CFG_MAX_PARAMS */
    int32_t seven_b[7] = {4096, 11008, 32, 32, 32, 32000, 2048};
    write_header(t->path, seven_b);
    expect_load_error(t->path, TS_EINPUT, "parameters");

    /* about 1e9 parameters: allowed, but the 28-byte file is far from its ~4 GB */
    int32_t one_b[7] = {2048, 8192, 16, 16, 16, 32000, 2048};
    write_header(t->path, one_b);
    expect_load_error(t->path, TS_EINPUT, "28 bytes, but its header");
    expect_load_error(t->path, TS_EINPUT, "truncated");
}

static void test_nan_weight_is_refused_naming_the_tensor(void **state)
{
    const Tmp *t = *state;
    Weights w;
    save_tiny(t->path, 1, &w);
    wt_fini(&w);
    float bad = NAN;
    write_bytes(t->path, OFF_WK + 4 * 5, &bad, sizeof bad);
    expect_load_error(t->path, TS_EINPUT, "tensor wk holds NaN at element 5");
}

static void test_infinite_weight_is_refused_naming_the_tensor(void **state)
{
    const Tmp *t = *state;
    Weights w;
    save_tiny(t->path, 0, &w);
    wt_fini(&w);
    float bad = -INFINITY;
    write_bytes(t->path, OFF_WCLS + 4 * 7, &bad, sizeof bad);
    expect_load_error(t->path, TS_EINPUT, "tensor wcls holds an infinity at element 7");
}

static void test_save_refuses_configs_the_format_cannot_hold(void **state)
{
    const Tmp *t = *state;
    EngineConfig c = tiny(1);
    Weights w;
    TsErr err;
    ts_err_clear(&err);
    assert_int_equal(wt_alloc(&w, &c, &err), 0);
    wt_init_seeded(&w, &c, 1);

    EngineConfig moe = c;
    moe.shape.experts = 4;
    moe.shape.experts_active = 2;
    moe.shape.expert_ffn = 8;
    assert_int_equal(l2c_save(t->path, &moe, &w, &err), TS_EINPUT);
    assert_non_null(strstr(err.msg, "dense models only"));

    EngineConfig wide = c;
    wide.shape.head_dim = 8; /* 4 heads x 8 != 16 */
    assert_int_equal(l2c_save(t->path, &wide, &w, &err), TS_EINPUT);
    assert_non_null(strstr(err.msg, "heads x head_dim = d_model"));

    EngineConfig theta = c;
    theta.rope_theta = 500000.0f;
    assert_int_equal(l2c_save(t->path, &theta, &w, &err), TS_EINPUT);
    assert_non_null(strstr(err.msg, "rope_theta"));
    assert_int_equal(access(t->path, F_OK), -1);
    wt_fini(&w);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tmp_setup, tmp_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_save_load_shared_classifier_gives_same_config_and_identical_bits),
        T(test_save_load_unshared_classifier_gives_same_config_and_identical_bits),
        T(test_saved_file_has_llama2c_size_and_vocab_sign),
        T(test_saved_rope_tables_hold_cos_and_sin_of_pos_times_freq),
        T(test_loaded_config_is_named_after_the_file_and_passes_cfg_check),
        T(test_truncated_by_one_byte_is_refused_with_both_sizes),
        T(test_one_trailing_byte_is_refused_with_both_sizes),
        T(test_zero_length_file_is_refused),
        T(test_missing_file_is_an_io_error),
        T(test_zero_or_negative_header_fields_are_refused_by_name),
        T(test_dim_not_divisible_by_heads_is_refused),
        T(test_kv_heads_not_dividing_heads_is_refused),
        T(test_odd_head_size_is_refused),
        T(test_absurd_dims_fail_before_allocating),
        T(test_nan_weight_is_refused_naming_the_tensor),
        T(test_infinite_weight_is_refused_naming_the_tensor),
        T(test_save_refuses_configs_the_format_cannot_hold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
