/* test_sha256: sha_hex and the incremental API against FIPS 180-4 example vectors, the
 * one-million-'a' vector, padding-boundary lengths (55, 56, 63, 64, 119, 120 bytes; expected
 * digests from coreutils sha256sum) and every split of a message over update calls. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "sim/store/sha256.h"

static void assert_hex_of(const char *msg, size_t len, const char *want)
{
    char got[65];
    sha_hex(msg, len, got);
    assert_string_equal(got, want);
}

static void test_sha_hex_empty_string_matches_fips_vector(void **state)
{
    (void)state;
    assert_hex_of("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* NULL with length 0 is allowed and is the empty message. */
    assert_hex_of(NULL, 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_sha_hex_abc_matches_fips_vector(void **state)
{
    (void)state;
    assert_hex_of("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_sha_hex_448_bit_message_matches_fips_vector(void **state)
{
    (void)state;
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    assert_int_equal(strlen(m), 56);
    assert_hex_of(m, strlen(m), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_sha_hex_896_bit_message_matches_fips_vector(void **state)
{
    (void)state;
    const char *m = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                    "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    assert_int_equal(strlen(m), 112);
    assert_hex_of(m, strlen(m), "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

static void test_sha_hex_one_million_a_matches_fips_vector(void **state)
{
    (void)state;
    size_t n = 1000000;
    char *m = malloc(n);
    assert_non_null(m);
    memset(m, 'a', n);
    assert_hex_of(m, n, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(m);
}

static void test_sha_incremental_one_million_a_in_1000_byte_chunks_matches_vector(void **state)
{
    (void)state;
    char chunk[1000];
    memset(chunk, 'a', sizeof chunk);
    ShaCtx ctx;
    sha_init(&ctx);
    for (int i = 0; i < 1000; i++)
        sha_update(&ctx, chunk, sizeof chunk);
    char got[65];
    sha_final_hex(&ctx, got);
    assert_string_equal(got, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* Lengths around the padding boundary: 55 bytes is the longest that pads within one block. */
static void test_sha_hex_padding_boundary_lengths_match_sha256sum(void **state)
{
    (void)state;
    static const struct {
        size_t len;
        const char *hex;
    } cases[] = {
        {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
        {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
        {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
        {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
        {119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
        {120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
    };
    char m[120];
    memset(m, 'a', sizeof m);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_hex_of(m, cases[i].len, cases[i].hex);
}

/* 200 bytes (i*37+11) & 0xff: expected digest from coreutils sha256sum. */
#define SPLIT_LEN 200
#define SPLIT_HEX "5e48d64839a8bff5e2471507af6a49f9990817df437857f4a2007df41266e1b5"

static void fill_split_message(uint8_t m[SPLIT_LEN])
{
    for (int i = 0; i < SPLIT_LEN; i++)
        m[i] = (uint8_t)((i * 37 + 11) & 0xff);
}

static void test_sha_incremental_every_two_way_split_gives_one_call_digest(void **state)
{
    (void)state;
    uint8_t m[SPLIT_LEN];
    fill_split_message(m);
    char whole[65];
    sha_hex(m, SPLIT_LEN, whole);
    assert_string_equal(whole, SPLIT_HEX);

    for (size_t cut = 0; cut <= SPLIT_LEN; cut++) {
        ShaCtx ctx;
        char got[65];
        sha_init(&ctx);
        sha_update(&ctx, m, cut);
        sha_update(&ctx, m + cut, SPLIT_LEN - cut);
        sha_final_hex(&ctx, got);
        if (strcmp(got, SPLIT_HEX) != 0)
            fail_msg("split at %zu: got %s, want %s", cut, got, SPLIT_HEX);
    }
}

static void test_sha_incremental_odd_chunk_sizes_give_one_call_digest(void **state)
{
    (void)state;
    uint8_t m[SPLIT_LEN];
    fill_split_message(m);
    static const size_t steps[] = {1, 3, 7, 13, 63, 65, 127};
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        ShaCtx ctx;
        char got[65];
        sha_init(&ctx);
        for (size_t off = 0; off < SPLIT_LEN; off += steps[k]) {
            size_t n = SPLIT_LEN - off < steps[k] ? SPLIT_LEN - off : steps[k];
            sha_update(&ctx, m + off, n);
            sha_update(&ctx, m + off, 0); /* empty updates change nothing */
        }
        sha_final_hex(&ctx, got);
        if (strcmp(got, SPLIT_HEX) != 0)
            fail_msg("chunks of %zu: got %s, want %s", steps[k], got, SPLIT_HEX);
    }
}

static void test_sha_final_raw_bytes_match_hex_digest(void **state)
{
    (void)state;
    ShaCtx ctx;
    uint8_t d[SHA_DIGEST_BYTES];
    sha_init(&ctx);
    sha_update(&ctx, "abc", 3);
    sha_final(&ctx, d);
    assert_int_equal(d[0], 0xba);
    assert_int_equal(d[1], 0x78);
    assert_int_equal(d[30], 0x15);
    assert_int_equal(d[31], 0xad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha_hex_empty_string_matches_fips_vector),
        cmocka_unit_test(test_sha_hex_abc_matches_fips_vector),
        cmocka_unit_test(test_sha_hex_448_bit_message_matches_fips_vector),
        cmocka_unit_test(test_sha_hex_896_bit_message_matches_fips_vector),
        cmocka_unit_test(test_sha_hex_one_million_a_matches_fips_vector),
        cmocka_unit_test(test_sha_incremental_one_million_a_in_1000_byte_chunks_matches_vector),
        cmocka_unit_test(test_sha_hex_padding_boundary_lengths_match_sha256sum),
        cmocka_unit_test(test_sha_incremental_every_two_way_split_gives_one_call_digest),
        cmocka_unit_test(test_sha_incremental_odd_chunk_sizes_give_one_call_digest),
        cmocka_unit_test(test_sha_final_raw_bytes_match_hex_digest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
