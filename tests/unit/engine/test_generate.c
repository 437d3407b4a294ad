/* Unit tests of models/engine/generate.c with a tiny model and a tokenizer written here: greedy output
 * equals a plain token-by-token greedy loop on the engine, a llama2.c checkpoint written and
 * read back gives bit-identical logits, sampling is reproducible from its seed, and a tokenizer
 * of the wrong size is refused. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/testutil.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/engine/forward.h"
#include "models/engine/generate.h"
#include "models/formats/llama2c.h"

#define VOCAB 300

static char dir[] = "/tmp/tokensim-gen-XXXXXX";
static char tok_path[256];

static EngineConfig tiny(void)
{
    EngineConfig c;
    memset(&c, 0, sizeof c);
    snprintf(c.name, sizeof c.name, "tiny");
    c.shape.layers = 2;
    c.shape.d_model = 32;
    c.shape.heads = 4;
    c.shape.kv_heads = 4;
    c.shape.head_dim = 8;
    c.shape.ffn = 64;
    c.shape.vocab = VOCAB;
    c.max_seq = 40;
    c.rope_theta = 10000.0f;
    c.norm_eps = 1e-5f;
    c.shared_classifier = 1;
    return c;
}

/* llama2.c's layout: <unk>, <s>, </s>, 256 byte tokens, then pieces. */
static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    snprintf(tok_path, sizeof tok_path, "%s/tokenizer.bin", dir);
    static char storage[VOCAB][16];
    const char *pieces[VOCAB];
    float scores[VOCAB];
    snprintf(storage[0], 16, "<unk>");
    snprintf(storage[1], 16, "\n<s>\n");
    snprintf(storage[2], 16, "\n</s>\n");
    for (int b = 0; b < 256; b++)
        snprintf(storage[3 + b], 16, "<0x%02X>", b);
    const char *words[] = {" ", "a", "b", "c", "d", "e", " a", " b", "ab", "cd", " ab", " the",
                           "t", "h", "th", " t"};
    int n = 259;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        snprintf(storage[n++], 16, "%s", words[i]);
    while (n < VOCAB) {
        snprintf(storage[n], 16, "w%d", n);
        n++;
    }
    for (int i = 0; i < VOCAB; i++) {
        pieces[i] = storage[i];
        scores[i] = i >= 259 ? (float)(VOCAB - i) : 0.0f;
    }
    TsErr err;
    return tok_save(tok_path, pieces, scores, VOCAB, &err) ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof path, "%s/tokenizer.bin", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/model.bin", dir);
    unlink(path);
    rmdir(dir);
    return 0;
}

typedef struct {
    char text[4096];
} Sink;

static void collect(void *ctx, const char *piece)
{
    Sink *s = ctx;
    strncat(s->text, piece, sizeof s->text - strlen(s->text) - 1);
}

/* gen_run at precision p (KV kv) against a token-by-token greedy loop on an engine of the same
 * precision. */
static void check_greedy(Precision p, Precision kv)
{
    EngineConfig c = tiny();
    Weights w;
    TsErr err;
    assert_int_equal(wt_alloc(&w, &c, &err), 0);
    wt_init_seeded(&w, &c, 5);
    Tokenizer tok;
    assert_int_equal(tok_load(&tok, tok_path, VOCAB, &err), 0);
    GenOptions o = {"ab the", 24, 0.0f, 0.9f, 1, 2, p, kv};
    Sink got = {{0}};
    GenStats st;
    assert_int_equal(gen_run(&c, &w, &tok, &o, collect, &got, &st, &err), 0);
    assert_true(st.prompt_tokens >= 2);

    /* the same by hand: one position per step, prompt forced, then argmax */
    int ptok[32], np;
    assert_int_equal(tok_encode(&tok, "ab the", 1, 0, ptok, 32, &np, &err), 0);
    assert_int_equal(np, st.prompt_tokens);
    Pool *pool;
    Engine *e;
    QWeights q;
    assert_int_equal(pool_new(1, &pool, &err), 0);
    assert_int_equal(qw_build(&q, &c, &w, p, NULL, &err), 0);
    assert_int_equal(eng_new_q(&c, &w, &q, kv, 1, 24, 1, pool, &e, &err), 0);
    Sink want = {{0}};
    int token = ptok[0], generated = 0;
    float logits[VOCAB];
    for (int pos = 0; pos < 24; pos++) {
        FwdRow r = {0, pos, token, 1};
        assert_int_equal(eng_step(e, &r, 1, logits, PHASE_DECODE, &err), 0);
        int next;
        if (pos < np - 1) {
            next = ptok[pos + 1];
        } else {
            next = 0;
            for (int i = 1; i < VOCAB; i++)
                if (logits[i] > logits[next])
                    next = i;
            generated++;
        }
        if (next == 1)
            break;
        char buf[8];
        const char *piece = tok_decode(&tok, token, next, buf);
        /* llama2.c's safe_printf: a lone byte that is neither printable nor space is dropped */
        if (piece && piece[0] &&
            !(piece[1] == '\0' && !isprint((unsigned char)piece[0]) &&
              !isspace((unsigned char)piece[0])))
            collect(&want, piece);
        token = next;
    }
    assert_string_equal(got.text, want.text);
    assert_int_equal(st.generated, generated);
    assert_true(generated > 5);
    eng_free(e);
    qw_free(&q);
    pool_free(pool);
    tok_fini(&tok);
    wt_fini(&w);
}

static void test_greedy_generation_equals_a_token_by_token_greedy_loop(void **state)
{
    (void)state;
    check_greedy(PREC_FP32, PREC_FP32);
}

static void test_generation_runs_in_the_precision_asked(void **state)
{
    (void)state;
    check_greedy(PREC_BF16, PREC_BF16);
    check_greedy(PREC_INT8, PREC_FP32);
}

static void test_llama2c_checkpoint_round_trip_gives_identical_logits(void **state)
{
    (void)state;
    EngineConfig c = tiny(), c2;
    Weights w, w2;
    TsErr err;
    assert_int_equal(wt_alloc(&w, &c, &err), 0);
    wt_init_seeded(&w, &c, 9);
    char path[300];
    snprintf(path, sizeof path, "%s/model.bin", dir);
    assert_int_equal(l2c_save(path, &c, &w, &err), 0);
    assert_int_equal(l2c_load(path, &c2, &w2, &err), 0);
    Pool *pool;
    assert_int_equal(pool_new(2, &pool, &err), 0);
    float a[3 * VOCAB], b[3 * VOCAB];
    const EngineConfig *cs[2] = {&c, &c2};
    const Weights *ws[2] = {&w, &w2};
    float *outs[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        Engine *e;
        assert_int_equal(eng_new(cs[k], ws[k], 1, 8, 3, pool, &e, &err), 0);
        FwdRow rows[3] = {{0, 0, 1, 1}, {0, 1, 270, 1}, {0, 2, 100, 1}};
        assert_int_equal(eng_step(e, rows, 3, outs[k], PHASE_PREFILL, &err), 0);
        eng_free(e);
    }
    assert_memory_equal(a, b, sizeof a);
    pool_free(pool);
    wt_fini(&w);
    wt_fini(&w2);
}

static void test_sampling_is_reproducible_from_its_seed(void **state)
{
    (void)state;
    EngineConfig c = tiny();
    Weights w;
    TsErr err;
    assert_int_equal(wt_alloc(&w, &c, &err), 0);
    wt_init_seeded(&w, &c, 5);
    Tokenizer tok;
    assert_int_equal(tok_load(&tok, tok_path, VOCAB, &err), 0);
    Sink s1 = {{0}}, s2 = {{0}}, s3 = {{0}};
    GenStats st;
    GenOptions o = {"a", 30, 1.5f, 1.0f, 77, 2, PREC_FP32, PREC_FP32};
    assert_int_equal(gen_run(&c, &w, &tok, &o, collect, &s1, &st, &err), 0);
    assert_int_equal(gen_run(&c, &w, &tok, &o, collect, &s2, &st, &err), 0);
    o.seed = 78;
    assert_int_equal(gen_run(&c, &w, &tok, &o, collect, &s3, &st, &err), 0);
    assert_string_equal(s1.text, s2.text);
    assert_string_not_equal(s1.text, s3.text);
    tok_fini(&tok);
    wt_fini(&w);
}

static void test_tokenizer_of_another_size_is_refused(void **state)
{
    (void)state;
    Tokenizer tok;
    TsErr err;
    assert_int_equal(tok_load(&tok, tok_path, VOCAB + 1, &err), TS_EINPUT);
    assert_non_null(strstr(err.msg, "tokenizer does not match the model"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_generation_equals_a_token_by_token_greedy_loop),
        cmocka_unit_test(test_generation_runs_in_the_precision_asked),
        cmocka_unit_test(test_llama2c_checkpoint_round_trip_gives_identical_logits),
        cmocka_unit_test(test_sampling_is_reproducible_from_its_seed),
        cmocka_unit_test(test_tokenizer_of_another_size_is_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
