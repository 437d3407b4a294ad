/* test_tokenizer: models/tokenizer against a small vocabulary written with tok_save in a fresh
 * mkdtemp folder per test: the 259 llama2.c base tokens (<unk>, <s>, </s>, <0x00>..<0xFF>)
 * plus merged pieces whose scores make the merge order observable. Checks encode token by
 * token (priority, leftmost on ties, byte fallback, whole code points, BOS/EOS, capacity),
 * decode (byte pieces, space stripped after BOS), round trips, and bad tokenizer files. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/formats/tokenizer.h"

/* Ids of the pieces after the 259 base tokens. */
enum {
    SP = 259, /* " " */
    A,        /* "a" */
    B,        /* "b" */
    C,        /* "c" */
    AB,       /* "ab"   -1 */
    SAB,      /* " ab"  -2 */
    BC,       /* "bc"   -0.5: beats "ab" */
    ABC,      /* "abc"  -3 */
    X,        /* "x" */
    Y,        /* "y" */
    XY,       /* "xy"   -5 */
    YX,       /* "yx"   -5: ties with "xy" */
    UU,       /* "ü" (C3 BC), one code point */
    SA,       /* " a"   -4 */
    Q1,       /* "q" */
    Q2,       /* "q" again: a duplicate piece */
    NV
};

#define BYTE(b) ((b) + 3)

typedef struct {
    char dir[64];
    char path[128]; /* dir/tokenizer.bin, not created by setup */
    char bytes[256][8];
    const char *pieces[NV];
    float scores[NV];
} Fx;

static int fx_setup(void **state)
{
    Fx *fx = calloc(1, sizeof *fx);
    if (!fx)
        return -1;
    snprintf(fx->dir, sizeof fx->dir, "/tmp/test_tokenizer.XXXXXX");
    if (!mkdtemp(fx->dir)) {
        free(fx);
        return -1;
    }
    snprintf(fx->path, sizeof fx->path, "%s/tokenizer.bin", fx->dir);
    fx->pieces[0] = "<unk>";
    fx->pieces[1] = "<s>";
    fx->pieces[2] = "</s>";
    for (int b = 0; b < 256; b++) {
        snprintf(fx->bytes[b], sizeof fx->bytes[b], "<0x%02X>", b);
        fx->pieces[BYTE(b)] = fx->bytes[b];
    }
    static const struct {
        int id;
        const char *s;
        float score;
    } extra[] = {
        {SP, " ", 0}, {A, "a", 0}, {B, "b", 0}, {C, "c", 0}, {AB, "ab", -1},
        {SAB, " ab", -2}, {BC, "bc", -0.5f}, {ABC, "abc", -3}, {X, "x", 0}, {Y, "y", 0},
        {XY, "xy", -5}, {YX, "yx", -5}, {UU, "\xc3\xbc", 0}, {SA, " a", -4}, {Q1, "q", 0},
        {Q2, "q", 0},
    };
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
        fx->pieces[extra[i].id] = extra[i].s;
        fx->scores[extra[i].id] = extra[i].score;
    }
    *state = fx;
    return 0;
}

static int fx_teardown(void **state)
{
    Fx *fx = *state;
    DIR *d = opendir(fx->dir);
    if (d) {
        struct dirent *e;
        char p[400];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(p, sizeof p, "%s/%s", fx->dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    int rc = rmdir(fx->dir);
    free(fx);
    return rc;
}

/* Saves the first n pieces of fx and loads them as a vocabulary of vocab_size. */
static void save_and_load(const Fx *fx, int n, int vocab_size, Tokenizer *t)
{
    TsErr err;
    ts_err_clear(&err);
    assert_int_equal(tok_save(fx->path, fx->pieces, fx->scores, n, &err), 0);
    int rc = tok_load(t, fx->path, vocab_size, &err);
    if (rc)
        print_error("tok_load: %s\n", err.msg);
    assert_int_equal(rc, 0);
}

/* Encodes text and compares with want[0..n_want) token by token. */
static void expect_tokens(const Tokenizer *t, const char *text, int bos, int eos,
                          const int *want, int n_want)
{
    int got[64];
    int n = -1;
    TsErr err;
    ts_err_clear(&err);
    int rc = tok_encode(t, text, bos, eos, got, 64, &n, &err);
    if (rc)
        print_error("tok_encode(\"%s\"): %s\n", text, err.msg);
    assert_int_equal(rc, 0);
    if (n != n_want) {
        print_error("\"%s\": got %d tokens:", text, n);
        for (int i = 0; i < n; i++)
            print_error(" %d", got[i]);
        print_error("\n");
    }
    assert_int_equal(n, n_want);
    for (int i = 0; i < n; i++) {
        if (got[i] != want[i])
            print_error("\"%s\": token %d is %d, want %d\n", text, i, got[i], want[i]);
        assert_int_equal(got[i], want[i]);
    }
}

#define EXPECT(t, text, bos, eos, ...)                                                    \
    do {                                                                                  \
        const int want_[] = {__VA_ARGS__};                                                \
        int n_want_ = (int)(sizeof want_ / sizeof want_[0]);                              \
        expect_tokens((t), (text), (bos), (eos), want_, n_want_);                         \
    } while (0)

static void test_load_keeps_pieces_scores_and_longest_length(void **state)
{
    Fx *fx = *state;
    Tokenizer t;
    save_and_load(fx, NV, NV, &t);
    assert_int_equal(t.vocab_size, NV);
    assert_int_equal(t.max_token_length, 6); /* "<0x00>" */
    for (int i = 0; i < NV; i++)
        assert_string_equal(t.vocab[i], fx->pieces[i]);
    assert_true(t.scores[BC] == -0.5f);
    assert_true(t.scores[XY] == -5.0f);
    tok_fini(&t);
    assert_null(t.vocab);
    tok_fini(&t); /* a zeroed tokenizer frees nothing */
    tok_fini(NULL);
}

/* "ab": [" ", a, b] -> "ab" (-1) beats " a" (-4) -> [" ", ab] -> [" ab"]. */
static void test_encode_merges_down_to_one_piece(void **state)
{
    Fx *fx = *state;
    Tokenizer t;
    save_and_load(fx, NV, NV, &t);
    EXPECT(&t, "ab", 0, 0, SAB);
    tok_fini(&t);
}

/* "abc": [" ", a, b, c]; "bc" (-0.5) beats "ab" (-1), then "abc" (-3) beats " a" (-4):
 * [" ", abc]. Merging "ab" first would give [" ab", c]. */
static void test_encode_merges_the_highest_score_first(void **state)
{
    Fx *fx = *state;
    Tokenizer t;
    save_and_load(fx, NV, NV, &t);
    EXPECT(&t, "abc", 0, 0, SP, ABC);
    tok_fini(&t);
}

/* "xyx": "xy" and "yx" both score -5; the leftmost wins: [" ", xy, x], not [" ", x, yx]. */
static void test_encode_merges_the_leftmost_pair_on_ties(void **state)
{
    Fx *fx = *state;
    Tokenizer t;
    save_and_load(fx, NV, NV, &t);
    EXPECT(&t, "xyx", 0, 0, SP, XY, X);
    tok_fini(&t);
}

static void test_encode_falls_back_to_bytes_for_unknown_code_points(void **state)
{
    Fx *fx = *state;
    Tokenizer t;
    save_and_load(fx, NV, NV, &t);
    EXPECT(&t, "\xc3\xa9", 0, 0, SP, BYTE(0xC3), BYTE(0xA9));        /* é */
    EXPECT(&t, "\xe2\x82\xac", 0, 0, SP, BYTE(0xE2), BYTE(0x82), BYTE(0xAC)); /* € */
    EXPECT(&t, "z", 0, 0, SP, BYTE('z'));
    tok_fini(&t);
}

static void test_encode_looks_up_a_multibyte_code_point_whole(void **state)
{
    Fx *fx = *state;
    Tokenizer t;
    save_and_load(fx, NV, NV, &t);
    EXPECT(&t, "\xc3\xbc", 0, 0, SP, UU); /* ü, not bytes C3 BC */
    EXPECT(&t, "a\xc3\xbc" "b", 0, 0, SA, UU, B); /* " a" (-4) is the only merge */
    tok_fini(&t);
}

static void test_encode_adds_bos_and_eos_only_when_asked(void **state)
{
    Fx *fx = *state;
    Tokenizer t;
    save_and_load(fx, NV, NV, &t);
    EXPECT(&t, "ab", 1, 0, TOK_BOS, SAB);
    EXPECT(&t, "ab", 0, 1, SAB, TOK_EOS);
    EXPECT(&t, "ab", 1, 1, TOK_BOS, SAB, TOK_EOS);
    EXPECT(&t, "", 1, 1, TOK_BOS, TOK_EOS); /* no dummy prefix for empty text */
    int tok[4] = {-7, -7, -7, -7}, n = -1;
    TsErr err;
    assert_int_equal(tok_encode(&t, "", 0, 0, tok, 4, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(tok[0], -7);
    tok_fini(&t);
}

static void test_encode_resolves_duplicate_pieces_to_the_lowest_id(void **state)
{
    Fx *fx = *state;
    Tokenizer t;
    save_and_load(fx, NV, NV, &t);
    EXPECT(&t, "q", 0, 0, SP, Q1);
    tok_fini(&t);
}

/* "abc" needs 4 slots before merging (then 2): 3 is refused without writing past them. */
static void test_encode_refuses_a_too_small_token_array(void **state)
{
    Fx *fx = *state;
    Tokenizer t;
    save_and_load(fx, NV, NV, &t);
    int tok[5] = {-7, -7, -7, -7, -7}, n = -1;
    TsErr err;
    ts_err_clear(&err);
    assert_int_equal(tok_encode(&t, "abc", 0, 0, tok, 3, &n, &err), TS_EINPUT);
    assert_int_equal(n, 0);
    assert_int_equal(tok[3], -7);
    assert_non_null(strstr(err.msg, "more than 3 tokens"));
    assert_int_equal(tok_encode(&t, "abc", 0, 0, tok, 4, &n, &err), 0);
    assert_int_equal(n, 2);
    /* EOS needs its own slot after merging */
    assert_int_equal(tok_encode(&t, "ab", 0, 1, tok, 1, &n, &err), TS_EINPUT);
    tok_fini(&t);
}

static void test_encode_refuses_text_when_the_vocabulary_has_no_space(void **state)
{
    Fx *fx = *state;
    Tokenizer t;
    save_and_load(fx, 259, 259, &t); /* base tokens only */
    int tok[8], n = -1;
    TsErr err;
    ts_err_clear(&err);
    assert_int_equal(tok_encode(&t, "a", 0, 0, tok, 8, &n, &err), TS_EINPUT);
    assert_non_null(strstr(err.msg, "dummy prefix"));
    tok_fini(&t);
}

static void test_decode_turns_byte_pieces_into_bytes(void **state)
{
    Fx *fx = *state;
    Tokenizer t;
    save_and_load(fx, NV, NV, &t);
    char buf[8];
    assert_string_equal(tok_decode(&t, A, BYTE('A'), buf), "A");
    const char *s = tok_decode(&t, A, BYTE(0xC3), buf);
    assert_non_null(s);
    assert_int_equal((unsigned char)s[0], 0xC3);
    assert_int_equal(s[1], '\0');
    assert_string_equal(tok_decode(&t, A, AB, buf), "ab");
    assert_string_equal(tok_decode(&t, A, 0, buf), "<unk>");
    tok_fini(&t);
}

static void test_decode_strips_the_leading_space_only_after_bos(void **state)
{
    Fx *fx = *state;
    Tokenizer t;
    save_and_load(fx, NV, NV, &t);
    char buf[8];
    assert_string_equal(tok_decode(&t, TOK_BOS, SAB, buf), "ab");
    assert_string_equal(tok_decode(&t, A, SAB, buf), " ab");
    assert_string_equal(tok_decode(&t, TOK_EOS, SAB, buf), " ab");
    assert_string_equal(tok_decode(&t, TOK_BOS, SP, buf), "");
    assert_string_equal(tok_decode(&t, TOK_BOS, A, buf), "a");
    tok_fini(&t);
}

static void test_decode_returns_null_for_bad_ids(void **state)
{
    Fx *fx = *state;
    Tokenizer t;
    save_and_load(fx, NV, NV, &t);
    char buf[8];
    assert_null(tok_decode(&t, 0, -1, buf));
    assert_null(tok_decode(&t, 0, NV, buf));
    assert_null(tok_decode(&t, 0, 1 << 30, buf));
    assert_non_null(tok_decode(&t, -5, NV - 1, buf)); /* a bad prev_token is harmless */
    tok_fini(&t);
}

static void test_encode_then_decode_gives_the_text_back(void **state)
{
    Fx *fx = *state;
    Tokenizer t;
    save_and_load(fx, NV, NV, &t);
    static const char *const texts[] = {
        "abc ab xyx \xc3\xbc\xc3\xa9", "a", "  b a", "hello, world!\n", "q\xe2\x82\xac" "c",
    };
    for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++) {
        int tok[64], n = 0;
        TsErr err;
        ts_err_clear(&err);
        assert_int_equal(tok_encode(&t, texts[k], 1, 0, tok, 64, &n, &err), 0);
        char out[256] = "", buf[8];
        for (int i = 1; i < n; i++) {
            const char *piece = tok_decode(&t, tok[i - 1], tok[i], buf);
            assert_non_null(piece);
            strcat(out, piece);
        }
        assert_string_equal(out, texts[k]);
    }
    tok_fini(&t);
}

/* Loads path as a vocabulary of vocab_size expecting TS_EINPUT with the mismatch message and
 * the detail want, and a zeroed tokenizer. */
static void expect_mismatch(const char *path, int vocab_size, const char *want)
{
    Tokenizer t;
    TsErr err;
    ts_err_clear(&err);
    int rc = tok_load(&t, path, vocab_size, &err);
    char head[200];
    snprintf(head, sizeof head, "%s: tokenizer does not match the model (%d tokens expected)",
             path, vocab_size);
    if (rc != TS_EINPUT || !strstr(err.msg, head) || !strstr(err.msg, want))
        print_error("got %d '%s', want '%s' and '%s'\n", rc, err.msg, head, want);
    assert_int_equal(rc, TS_EINPUT);
    assert_non_null(strstr(err.msg, head));
    assert_non_null(strstr(err.msg, want));
    assert_null(t.vocab);
    assert_null(t.strings);
    assert_int_equal(t.vocab_size, 0);
}

static void test_truncated_file_is_refused(void **state)
{
    Fx *fx = *state;
    TsErr err;
    assert_int_equal(tok_save(fx->path, fx->pieces, fx->scores, NV, &err), 0);
    FILE *f = fopen(fx->path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    assert_int_equal(truncate(fx->path, size - 1), 0);
    expect_mismatch(fx->path, NV, "the file ends early (token");
}

static void test_file_with_too_few_or_too_many_tokens_is_refused(void **state)
{
    Fx *fx = *state;
    TsErr err;
    assert_int_equal(tok_save(fx->path, fx->pieces, fx->scores, NV - 1, &err), 0);
    expect_mismatch(fx->path, NV, "the file ends early (token");
    assert_int_equal(tok_save(fx->path, fx->pieces, fx->scores, NV, &err), 0);
    expect_mismatch(fx->path, NV - 1, "9 trailing bytes"); /* "q": score, length, 1 byte */
}

static void test_empty_file_is_refused(void **state)
{
    Fx *fx = *state;
    FILE *f = fopen(fx->path, "wb");
    assert_non_null(f);
    fclose(f);
    expect_mismatch(fx->path, NV, "no room for the header");
}

/* Bytes of "abcdef" actually written for a declared length (a lie when over 6). */
static size_t clamp_len(int32_t len)
{
    return len < 0 ? 0 : len > 6 ? 6 : (size_t)len;
}

/* Writes a two-token file by hand: max_len, then (score, len, bytes) records. */
static void write_two_tokens(const char *path, int32_t max_len, int32_t len0, int32_t len1)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    float score = 0;
    fwrite(&max_len, 4, 1, f);
    fwrite(&score, 4, 1, f);
    fwrite(&len0, 4, 1, f);
    fwrite("abcdef", 1, clamp_len(len0), f);
    fwrite(&score, 4, 1, f);
    fwrite(&len1, 4, 1, f);
    fwrite("abcdef", 1, clamp_len(len1), f);
    assert_int_equal(fclose(f), 0);
}

static void test_negative_or_overlong_lengths_are_refused(void **state)
{
    Fx *fx = *state;
    write_two_tokens(fx->path, 4, 2, 3);
    Tokenizer t;
    TsErr err;
    assert_int_equal(tok_load(&t, fx->path, 2, &err), 0); /* the well-formed baseline */
    assert_string_equal(t.vocab[1], "abc");
    tok_fini(&t);

    write_two_tokens(fx->path, 4, 2, -1);
    expect_mismatch(fx->path, 2, "token 1 has a negative length -1");
    write_two_tokens(fx->path, 2, 0, 3);
    expect_mismatch(fx->path, 2, "token 1 is 3 bytes long, above max_token_length 2");
    write_two_tokens(fx->path, -3, 2, 3);
    expect_mismatch(fx->path, 2, "negative max_token_length -3");
    write_two_tokens(fx->path, 100000, 2, 70000); /* claims more than the file holds */
    expect_mismatch(fx->path, 2, "token 1 is 70000 bytes long, over the limit");
}

static void test_missing_file_is_an_io_error(void **state)
{
    Fx *fx = *state;
    Tokenizer t;
    TsErr err;
    ts_err_clear(&err);
    assert_int_equal(tok_load(&t, fx->path, NV, &err), TS_EIO);
    assert_non_null(strstr(err.msg, fx->path));
    assert_null(t.vocab);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_load_keeps_pieces_scores_and_longest_length),
        T(test_encode_merges_down_to_one_piece),
        T(test_encode_merges_the_highest_score_first),
        T(test_encode_merges_the_leftmost_pair_on_ties),
        T(test_encode_falls_back_to_bytes_for_unknown_code_points),
        T(test_encode_looks_up_a_multibyte_code_point_whole),
        T(test_encode_adds_bos_and_eos_only_when_asked),
        T(test_encode_resolves_duplicate_pieces_to_the_lowest_id),
        T(test_encode_refuses_a_too_small_token_array),
        T(test_encode_refuses_text_when_the_vocabulary_has_no_space),
        T(test_decode_turns_byte_pieces_into_bytes),
        T(test_decode_strips_the_leading_space_only_after_bos),
        T(test_decode_returns_null_for_bad_ids),
        T(test_encode_then_decode_gives_the_text_back),
        T(test_truncated_file_is_refused),
        T(test_file_with_too_few_or_too_many_tokens_is_refused),
        T(test_empty_file_is_refused),
        T(test_negative_or_overlong_lengths_are_refused),
        T(test_missing_file_is_an_io_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
