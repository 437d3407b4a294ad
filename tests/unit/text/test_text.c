/* test_text: sim/text/text.h's strict number parsing (what strtod would accept but the catalogs and
 * scenarios must not: hex, inf, nan, overflow, a decimal comma, trailing junk), integer parsing,
 * ASCII case-insensitive equality and edit distance, "did you mean" suggestions with their
 * max(2, len/3) cut-off, in-place trimming and the name rule (1-40 of [A-Za-z0-9._-]). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/text/text.h"



/* ---- txt_parse_double ---------------------------------------------------------------------- */

static void test_parse_double_accepts_exponent_blanks_and_sign(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        double want;
    } ok[] = {
        {"608e9", 608e9}, {" 0.056 ", 0.056}, {"-1.5", -1.5},
        {"\t42\t", 42.0}, {"0", 0.0},         {"+3", 3.0},
        {"1e-3", 0.001},  {".5", 0.5},        {"1.7976931348623157e308", 1.7976931348623157e308},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        double v = -12345.0;
        if (txt_parse_double(ok[i].in, &v) != 0) {
            print_error("txt_parse_double(\"%s\") refused a valid number\n", ok[i].in);
            fail();
        }
        assert_close(v, ok[i].want, 1e-15, 0.0);
    }
}

static void test_parse_double_rejects_empty_junk_inf_nan_hex_overflow_and_comma(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",     "   ",   "12abc", "inf",    "-inf", "infinity", "nan", "NAN", "nan(0x1)",
        "0x10", "0X1p3", "1e999", "-1e999", "1,5",  "1.5.2",    "abc", "1 2", "e5",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double v = 777.0;
        if (txt_parse_double(bad[i], &v) != -1) {
            print_error("txt_parse_double(\"%s\") accepted it as %.17g\n", bad[i], v);
            fail();
        }
        /* A refused string leaves *out untouched. */
        assert_close(v, 777.0, 0.0, 0.0);
    }
    double v = 0.0;
    assert_int_equal(txt_parse_double(NULL, &v), -1);
}

/* ---- txt_parse_int ------------------------------------------------------------------------- */

static void test_parse_int_accepts_integers_written_as_floats(void **state)
{
    (void)state;
    long long v = -1;
    assert_int_equal(txt_parse_int("8", &v), 0);
    assert_int_equal(v, 8);
    assert_int_equal(txt_parse_int("8e0", &v), 0);
    assert_int_equal(v, 8);
    assert_int_equal(txt_parse_int(" -61 ", &v), 0);
    assert_int_equal(v, -61);
    assert_int_equal(txt_parse_int("129280", &v), 0);
    assert_int_equal(v, 129280);
    assert_int_equal(txt_parse_int("2.5e3", &v), 0);
    assert_int_equal(v, 2500);
}

static void test_parse_int_rejects_fractions_junk_and_huge_values(void **state)
{
    (void)state;
    static const char *const bad[] = {"8.5", "0.1", "", "8x", "inf", "nan", "1e999", "1e19"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        long long v = 99;
        if (txt_parse_int(bad[i], &v) != -1) {
            print_error("txt_parse_int(\"%s\") accepted it as %lld\n", bad[i], v);
            fail();
        }
        assert_int_equal(v, 99);
    }
}

/* ---- txt_eq_nocase, txt_edit_distance ------------------------------------------------------ */

static void test_eq_nocase_ignores_ascii_case_only(void **state)
{
    (void)state;
    assert_true(txt_eq_nocase("H100-SXM", "h100-sxm"));
    assert_true(txt_eq_nocase("", ""));
    assert_false(txt_eq_nocase("abc", "abcd"));
    assert_false(txt_eq_nocase("abcd", "abc"));
    assert_false(txt_eq_nocase("h100-sxm", "h100_sxm"));
    assert_false(txt_eq_nocase(NULL, "a"));
    assert_false(txt_eq_nocase("a", NULL));
}

static void test_edit_distance_kitten_sitting_is_3_and_ignores_case(void **state)
{
    (void)state;
    assert_int_equal(txt_edit_distance("kitten", "sitting"), 3);
    assert_int_equal(txt_edit_distance("sitting", "kitten"), 3);
    assert_int_equal(txt_edit_distance("KITTEN", "sitting"), 3);
    assert_int_equal(txt_edit_distance("H100-SXM", "h100-sxm"), 0);
    assert_int_equal(txt_edit_distance("", "abc"), 3);
    assert_int_equal(txt_edit_distance("abc", ""), 3);
    assert_int_equal(txt_edit_distance("flaw", "lawn"), 2);
}

static void test_edit_distance_compares_only_the_first_64_bytes(void **state)
{
    (void)state;
    char a[81], b[81];
    memset(a, 'a', 80);
    memset(b, 'a', 80);
    a[80] = b[80] = '\0';
    b[70] = 'z'; /* differs beyond byte 64: invisible */
    assert_int_equal(txt_edit_distance(a, b), 0);
    b[10] = 'z'; /* differs within the first 64 bytes */
    assert_int_equal(txt_edit_distance(a, b), 1);
}

/* ---- txt_nearest --------------------------------------------------------------------------- */

static void test_nearest_suggests_close_names_and_null_for_far_ones(void **state)
{
    (void)state;
    static const char *const keys[] = {"model", "chip", NULL, "usd_per_kwh", "pricing", "fleet"};
    size_t n = sizeof keys / sizeof keys[0];
    const char *got = txt_nearest("chipz", keys, n);
    assert_non_null(got);
    assert_string_equal(got, "chip");
    got = txt_nearest("usd_per_kwhh", keys, n);
    assert_non_null(got);
    assert_string_equal(got, "usd_per_kwh");
    got = txt_nearest("CHIP", keys, n);
    assert_non_null(got);
    assert_string_equal(got, "chip");
    assert_null(txt_nearest("zzzzzz", keys, n));
    assert_null(txt_nearest("chip", keys, 0));
}

/* The cut-off is max(2, strlen/3) edits inclusive: "modxx" (len 5, limit 2) is 2 edits from
 * "model"; "mxdxx" is 3. The same rule at length 13 allows 4. */
static void test_nearest_cutoff_is_max_of_2_and_a_third_of_the_length(void **state)
{
    (void)state;
    static const char *const keys[] = {"model", "usd_per_kwh"};
    const char *got = txt_nearest("modxx", keys, 2);
    assert_non_null(got);
    assert_string_equal(got, "model");
    assert_null(txt_nearest("mxdxx", keys, 2));
    /* "usd_xer_kxhxx" (len 13, limit 4): 2 substitutions + 2 insertions = 4 edits: accepted. */
    got = txt_nearest("usd_xer_kxhxx", keys, 2);
    assert_non_null(got);
    assert_string_equal(got, "usd_per_kwh");
    /* "uxd_xer_kxhxx": 3 substitutions + 2 insertions = 5 edits: refused. */
    assert_null(txt_nearest("uxd_xer_kxhxx", keys, 2));
}

/* ---- txt_trim, txt_dup, txt_valid_name ----------------------------------------------------- */

static void test_trim_removes_outer_blanks_and_keeps_inner_ones(void **state)
{
    (void)state;
    char a[] = "  a b \t\n";
    assert_ptr_equal(txt_trim(a), a);
    assert_string_equal(a, "a b");
    char b[] = "   ";
    assert_string_equal(txt_trim(b), "");
    char c[] = "";
    assert_string_equal(txt_trim(c), "");
    char d[] = "x";
    assert_string_equal(txt_trim(d), "x");
    char e[] = "\tleft";
    assert_string_equal(txt_trim(e), "left");
    char f[] = "right  ";
    assert_string_equal(txt_trim(f), "right");
}

static void test_dup_copies_and_accepts_null(void **state)
{
    (void)state;
    const char *src = "h100-sxm";
    char *p = txt_dup(src);
    assert_non_null(p);
    assert_ptr_not_equal(p, src);
    assert_string_equal(p, "h100-sxm");
    free(p);
    assert_null(txt_dup(NULL));
}

static void test_valid_name_accepts_letters_digits_dash_underscore_dot_up_to_40(void **state)
{
    (void)state;
    assert_true(txt_valid_name("h100-sxm"));
    assert_true(txt_valid_name("a_b.c"));
    assert_true(txt_valid_name("DeepSeek-V3"));
    assert_true(txt_valid_name("x"));
    char forty[41], forty_one[42];
    memset(forty, 'n', 40);
    forty[40] = '\0';
    memset(forty_one, 'n', 41);
    forty_one[41] = '\0';
    assert_true(txt_valid_name(forty));
    assert_false(txt_valid_name(forty_one));
    assert_false(txt_valid_name(""));
    assert_false(txt_valid_name("a b"));
    assert_false(txt_valid_name("a/b"));
    assert_false(txt_valid_name("a,b"));
    assert_false(txt_valid_name("a\"b"));
    assert_false(txt_valid_name("caf\xc3\xa9"));
}

static void test_inert_len_stops_at_controls_del_c1_and_bad_utf8(void **state)
{
    (void)state;
    assert_int_equal(txt_inert_len("plain\ttab", 9), 9);
    assert_int_equal(txt_inert_len("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14), 14);
    assert_int_equal(txt_inert_len("a\x1b[2J", 5), 1);     /* ESC */
    assert_int_equal(txt_inert_len("ab\x07", 3), 2);       /* BEL */
    assert_int_equal(txt_inert_len("ab\rc", 4), 2);        /* CR */
    assert_int_equal(txt_inert_len("ab\nc", 4), 2);        /* LF */
    assert_int_equal(txt_inert_len("a\x7f", 2), 1);        /* DEL */
    assert_int_equal(txt_inert_len("a\xc2\x9b" "2J", 5), 1); /* U+009B, C1 CSI */
    assert_int_equal(txt_inert_len("a\xc2\xa0", 3), 3);   /* U+00A0 is printable */
    assert_int_equal(txt_inert_len("a\x9b", 2), 1);        /* a raw C1 byte */
    assert_int_equal(txt_inert_len("a\xc0\xaf", 3), 1);   /* overlong '/' */
    assert_int_equal(txt_inert_len("a\xed\xa0\x80", 4), 1); /* a UTF-16 surrogate */
    assert_int_equal(txt_inert_len("a\xe2\x82", 3), 1);   /* cut short */
    assert_int_equal(txt_inert_len("a\0b", 3), 1);         /* NUL */
}

static void test_inert_spells_bad_bytes_and_never_cuts_an_escape(void **state)
{
    (void)state;
    char buf[64];
    assert_string_equal(txt_inert("a\x1b[2J\x07\r\nz", buf, sizeof buf),
                        "a\\x1b[2J\\x07\\x0d\\x0az");
    assert_string_equal(txt_inert("\xc2\x9b\x9b\xc3\xa9", buf, sizeof buf),
                        "\\xc2\\x9b\\x9b\xc3\xa9");
    assert_string_equal(txt_inert("<script>'); system(\"id\")", buf, sizeof buf),
                        "<script>'); system(\"id\")");
    char small[7];
    assert_string_equal(txt_inert("ab\x1b", small, sizeof small), "ab\\x1b");
    assert_string_equal(txt_inert("abc\x1b", small, sizeof small), "abc"); /* no half escape */
    assert_string_equal(txt_inert("abcde\xc3\xa9", small, sizeof small), "abcde"); /* no half é */
    char *d = txt_inert_dup("x\x1by");
    assert_string_equal(d, "x\\x1by");
    free(d);
    assert_null(txt_inert_dup(NULL));
}

static void test_inert_stream_escapes_keeps_newlines_and_joins_cut_utf8(void **state)
{
    (void)state;
    FILE *raw = tmpfile();
    assert_non_null(raw);
    FILE *f = txt_inert_stream(raw);
    assert_non_null(f);
    setvbuf(f, NULL, _IONBF, 0); /* every fputs is its own write: sequences get cut */
    fputs("ok \x1b]0;title\x07\n", f);
    fputs("caf\xc3", f); /* é cut between two writes */
    fputs("\xa9 \xe2", f);
    fputs("\x82", f);
    fputs("\xac!\xc3", f); /* € cut twice, then a lead byte that never completes */
    fputs("x\rend\xe2", f); /* a cut sequence left at close */
    assert_int_equal(fclose(f), 0);
    rewind(raw);
    char got[128] = {0};
    size_t n = fread(got, 1, sizeof got - 1, raw);
    fclose(raw);
    const char *want = "ok \\x1b]0;title\\x07\ncaf\xc3\xa9 \xe2\x82\xac!\\xc3x\\x0dend\\xe2";
    assert_int_equal(n, strlen(want));
    assert_string_equal(got, want);
}

static void test_json_str_is_inert_and_escapes_quotes(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    txt_json_str(f, "a\"b\\c\x1b\xc2\x9b");
    rewind(f);
    char got[64] = {0};
    assert_true(fread(got, 1, sizeof got - 1, f) > 0);
    fclose(f);
    assert_string_equal(got, "\"a\\\"b\\\\c\\\\x1b\\\\xc2\\\\x9b\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_double_accepts_exponent_blanks_and_sign),
        cmocka_unit_test(test_parse_double_rejects_empty_junk_inf_nan_hex_overflow_and_comma),
        cmocka_unit_test(test_parse_int_accepts_integers_written_as_floats),
        cmocka_unit_test(test_parse_int_rejects_fractions_junk_and_huge_values),
        cmocka_unit_test(test_eq_nocase_ignores_ascii_case_only),
        cmocka_unit_test(test_edit_distance_kitten_sitting_is_3_and_ignores_case),
        cmocka_unit_test(test_edit_distance_compares_only_the_first_64_bytes),
        cmocka_unit_test(test_nearest_suggests_close_names_and_null_for_far_ones),
        cmocka_unit_test(test_nearest_cutoff_is_max_of_2_and_a_third_of_the_length),
        cmocka_unit_test(test_trim_removes_outer_blanks_and_keeps_inner_ones),
        cmocka_unit_test(test_dup_copies_and_accepts_null),
        cmocka_unit_test(test_valid_name_accepts_letters_digits_dash_underscore_dot_up_to_40),
        cmocka_unit_test(test_inert_len_stops_at_controls_del_c1_and_bad_utf8),
        cmocka_unit_test(test_inert_spells_bad_bytes_and_never_cuts_an_escape),
        cmocka_unit_test(test_inert_stream_escapes_keeps_newlines_and_joins_cut_utf8),
        cmocka_unit_test(test_json_str_is_inert_and_escapes_quotes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
