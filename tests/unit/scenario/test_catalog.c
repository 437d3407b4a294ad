/* test_catalog: sim/scenario/catalog.h on CSV files written to a fresh mkdtemp folder under /tmp
 * (removed afterwards): a good file's cells and row line numbers (quoted commas, quoted
 * newlines, doubled quotes, blank lines, CRLF), case-insensitive lookup and suggestions, every
 * content error with its TS_EINPUT code and "PATH:LINE: " prefix, TS_EIO for a missing file,
 * cat_find_dir's choice and message, and the real catalogs in data/ (tests run from the repo
 * root). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sim/scenario/catalog.h"
#include "sim/scenario/scenario.h"

#define HEADER "name,bf16_tflops,price_usd,source,as_of,confidence,notes\n"

static const char *const COLUMNS[] = {"name",  "bf16_tflops", "price_usd", "source",
                                      "as_of", "confidence",  "notes"};
static const char *const NUMERIC[] = {"bf16_tflops", "price_usd"};
static const CatSchema SCHEMA = {COLUMNS, 7, NUMERIC, 2};

/* Group state: the temporary folder every test writes into. */
typedef struct {
    char dir[64];
    int n_files; /* gives each written file a unique name */
} TmpDir;

static int group_setup(void **state)
{
    static TmpDir tmp;
    snprintf(tmp.dir, sizeof tmp.dir, "/tmp/tokensim-test-catalog-XXXXXX");
    if (!mkdtemp(tmp.dir))
        return -1;
    tmp.n_files = 0;
    *state = &tmp;
    return 0;
}

/* Removes path and, when it is a folder, everything below it. Returns 0 or -1. */
static int remove_tree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return -1;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        if (!d)
            return -1;
        struct dirent *e;
        int rc = 0;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char child[1024];
            snprintf(child, sizeof child, "%s/%s", path, e->d_name);
            if (remove_tree(child) != 0)
                rc = -1;
        }
        closedir(d);
        if (rc != 0)
            return rc;
    }
    return remove(path);
}

static int group_teardown(void **state)
{
    TmpDir *tmp = *state;
    return remove_tree(tmp->dir);
}

/* Writes len bytes of text to a new file in the temporary folder; its path goes to path. */
static void write_bytes(void **state, const char *text, size_t len, char *path, size_t path_size)
{
    TmpDir *tmp = *state;
    snprintf(path, path_size, "%s/cat%d.csv", tmp->dir, tmp->n_files++);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void write_text(void **state, const char *text, char *path, size_t path_size)
{
    write_bytes(state, text, strlen(text), path, path_size);
}

/* Loads len bytes of CSV and expects TS_EINPUT with a message that starts "PATH:LINE: " and
 * contains want. */
static void expect_error_bytes_at(void **state, const char *text, size_t len, int line,
                                  const char *want, const char *file, int src_line)
{
    char path[256];
    write_bytes(state, text, len, path, sizeof path);
    CatTable t;
    TsErr err;
    ts_err_clear(&err);
    int rc = cat_table_load(&t, path, &SCHEMA, &err);
    char prefix[300];
    snprintf(prefix, sizeof prefix, "%s:%d: ", path, line);
    if (rc != TS_EINPUT || err.code != TS_EINPUT || strncmp(err.msg, prefix, strlen(prefix)) != 0 ||
        !strstr(err.msg, want)) {
        print_error("rc %d, code %d, message \"%s\"\nwanted rc %d, a message starting \"%s\" "
                    "and containing \"%s\"\n",
                    rc, err.code, err.msg, TS_EINPUT, prefix, want);
        _fail(file, src_line); /* report the calling case's line */
    }
    /* A failed load leaves nothing behind to free. */
    assert_int_equal(t.n_rows, 0);
    assert_null(t.cells);
    cat_table_fini(&t);
}

#define expect_error_bytes(state, text, len, line, want)                                           \
    expect_error_bytes_at((state), (text), (len), (line), (want), __FILE__, __LINE__)
#define expect_error(state, text, line, want)                                                      \
    expect_error_bytes_at((state), (text), strlen(text), (line), (want), __FILE__, __LINE__)

/* ---- a good file --------------------------------------------------------------------------- */

/* Line 1 header; 2 a quoted comma and doubled quotes; 3-4 one row whose notes hold a newline;
 * 5 blank (skipped); 6 a padded number. */
static const char GOOD[] =
    HEADER "h100-sxm,989,27500,\"datasheet, NVIDIA\",2025-10,E,\"say \"\"hi\"\"\"\n"
           "mi300x,1307,,vendor,2024-12,P,\"two\n"
           "lines\"\n"
           "\n"
           "b200, 2250 ,,vendor,2025-03,S,\n";

static void test_load_good_file_gives_rows_cells_and_start_lines(void **state)
{
    char path[256];
    write_text(state, GOOD, path, sizeof path);
    CatTable t;
    TsErr err;
    ts_err_clear(&err);
    int rc = cat_table_load(&t, path, &SCHEMA, &err);
    if (rc != 0)
        print_error("load failed: %s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_string_equal(t.path, path);
    assert_int_equal(t.n_cols, 7);
    assert_int_equal(t.n_rows, 3);
    assert_int_equal(cat_col(&t, "name"), 0);
    assert_int_equal(cat_col(&t, "notes"), 6);
    assert_int_equal(cat_col(&t, "fp8_tflops"), -1);
    /* Row lines: the row after the two-line cell starts on line 6, past the blank line 5. */
    assert_int_equal(t.lines[0], 2);
    assert_int_equal(t.lines[1], 3);
    assert_int_equal(t.lines[2], 6);
    assert_string_equal(cat_cell(&t, 0, "name"), "h100-sxm");
    assert_string_equal(cat_cell(&t, 0, "source"), "datasheet, NVIDIA");
    assert_string_equal(cat_cell(&t, 0, "notes"), "say \"hi\"");
    assert_string_equal(cat_cell(&t, 0, "price_usd"), "27500");
    assert_string_equal(cat_cell(&t, 1, "notes"), "two\nlines");
    assert_string_equal(cat_cell(&t, 1, "price_usd"), "");
    assert_string_equal(cat_cell(&t, 1, "confidence"), "P");
    assert_string_equal(cat_cell(&t, 2, "bf16_tflops"), "2250");
    assert_string_equal(cat_cell(&t, 2, "notes"), "");
    /* Unknown column or row: "". */
    assert_string_equal(cat_cell(&t, 0, "no_such_column"), "");
    assert_string_equal(cat_cell(&t, 3, "name"), "");
    assert_string_equal(cat_cell(&t, -1, "name"), "");
    cat_table_fini(&t);
    assert_null(t.path);
    assert_int_equal(t.n_rows, 0);
    cat_table_fini(&t); /* twice is harmless */
    cat_table_fini(NULL);
}

static void test_load_crlf_file_gives_same_cells_and_lines(void **state)
{
    char path[256];
    write_text(state,
               "name,bf16_tflops,price_usd,source,as_of,confidence,notes\r\n"
               "h100-sxm,989,27500,datasheet,2025-10,E,a\r\n"
               "b200,2250,,vendor,2025-03,S,b\r\n",
               path, sizeof path);
    CatTable t;
    TsErr err;
    ts_err_clear(&err);
    int rc = cat_table_load(&t, path, &SCHEMA, &err);
    if (rc != 0)
        print_error("load failed: %s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(t.n_rows, 2);
    assert_int_equal(t.lines[0], 2);
    assert_int_equal(t.lines[1], 3);
    assert_string_equal(cat_cell(&t, 0, "notes"), "a");
    assert_string_equal(cat_cell(&t, 1, "notes"), "b");
    cat_table_fini(&t);
}

/* Regression (fixed in sim/scenario/catalog.c): a row's line used to be taken when its first field
 * completed, so a row whose FIRST cell is a quoted cell spanning lines 2-3 was recorded as
 * starting on line 3. catalog.h promises "line number where each row starts". */
static void test_row_starting_with_multiline_quoted_cell_records_its_first_line(void **state)
{
    static const char *const cols[] = {"notes", "name", "source", "as_of", "confidence"};
    static const CatSchema notes_first = {cols, 5, NULL, 0};
    char path[256];
    write_text(state,
               "notes,name,source,as_of,confidence\n"
               "\"first\n"
               "second\",h100-sxm,vendor,2025,P\n"
               "plain,b200,vendor,2025,P\n",
               path, sizeof path);
    CatTable t;
    TsErr err;
    ts_err_clear(&err);
    int rc = cat_table_load(&t, path, &notes_first, &err);
    if (rc != 0)
        print_error("load failed: %s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(t.n_rows, 2);
    int notes_ok = strcmp(cat_cell(&t, 0, "notes"), "first\nsecond") == 0;
    int line0 = t.lines[0], line1 = t.lines[1];
    cat_table_fini(&t); /* before the asserts, so that the known failure leaks nothing */
    assert_true(notes_ok);
    assert_int_equal(line1, 4);
    assert_int_equal(line0, 2); /* fails: 3 */
}

static void test_find_row_is_case_insensitive_and_suggest_finds_near_names(void **state)
{
    char path[256];
    write_text(state, GOOD, path, sizeof path);
    CatTable t;
    TsErr err;
    assert_int_equal(cat_table_load(&t, path, &SCHEMA, &err), 0);
    assert_int_equal(cat_find_row(&t, "H100-SXM"), 0);
    assert_int_equal(cat_find_row(&t, "h100-sxm"), 0);
    assert_int_equal(cat_find_row(&t, "B200"), 2);
    assert_int_equal(cat_find_row(&t, "h100"), -1);
    const char *near = cat_suggest(&t, "h100-sx");
    assert_non_null(near);
    assert_string_equal(near, "h100-sxm");
    near = cat_suggest(&t, "MI300");
    assert_non_null(near);
    assert_string_equal(near, "mi300x");
    assert_null(cat_suggest(&t, "zzzzzzzz"));
    cat_table_fini(&t);
}

/* ---- header errors ------------------------------------------------------------------------- */

static void test_unknown_column_names_line_1_and_suggests_the_near_one(void **state)
{
    expect_error(state,
                 "name,bf16_tflop,source,as_of,confidence\n"
                 "h100-sxm,989,datasheet,2025,P\n",
                 1, "unknown column 'bf16_tflop'; did you mean 'bf16_tflops'?");
}

static void test_unknown_far_column_has_no_suggestion(void **state)
{
    char path[256];
    write_text(state, "name,qqqqqqqqqq,source,as_of,confidence\n", path, sizeof path);
    CatTable t;
    TsErr err;
    ts_err_clear(&err);
    assert_int_equal(cat_table_load(&t, path, &SCHEMA, &err), TS_EINPUT);
    assert_non_null(strstr(err.msg, ":1: unknown column 'qqqqqqqqqq'"));
    assert_null(strstr(err.msg, "did you mean"));
}

static void test_duplicated_column_is_refused_on_its_line(void **state)
{
    expect_error(state, "name,source,as_of,confidence,source\n", 1,
                 "column 'source' appears twice");
}

static void test_missing_source_column_is_refused(void **state)
{
    expect_error(state, "name,as_of,confidence\nh100-sxm,2025,P\n", 1,
                 "the header has no 'source' column");
}

static void test_header_after_blank_lines_is_reported_on_its_own_line(void **state)
{
    expect_error(state, "\n\nname,source,confidence\n", 3, "the header has no 'as_of' column");
}

/* ---- row errors ---------------------------------------------------------------------------- */

static void test_row_with_wrong_cell_count_names_its_line(void **state)
{
    expect_error(state,
                 HEADER "h100-sxm,989,27500,datasheet,2025-10,E,\n"
                        "b200,2250,vendor,2025-03,S,\n",
                 3, "6 cells, expected 7");
}

static void test_non_number_in_numeric_column_is_refused(void **state)
{
    expect_error(state, HEADER "h100-sxm,12abc,27500,datasheet,2025-10,E,\n", 2,
                 "column 'bf16_tflops': expected a number, got '12abc'");
    expect_error(state, HEADER "h100-sxm,989,inf,datasheet,2025-10,E,\n", 2, "column 'price_usd'");
}

static void test_empty_source_as_of_or_confidence_is_refused(void **state)
{
    expect_error(state, HEADER "h100-sxm,989,27500,,2025-10,E,\n", 2, "empty 'source'");
    expect_error(state, HEADER "h100-sxm,989,27500,datasheet, ,E,\n", 2, "empty 'as_of'");
    expect_error(state, HEADER "a,1,1,s,2025,P,\nh100-sxm,989,27500,datasheet,2025-10,\"\",\n", 3,
                 "empty 'confidence'");
    expect_error(state, HEADER ",989,27500,datasheet,2025-10,E,\n", 2, "empty 'name'");
}

static void test_confidence_other_than_p_s_e_d_is_refused(void **state)
{
    expect_error(state, HEADER "h100-sxm,989,27500,datasheet,2025-10,X,\n", 2,
                 "confidence must be P, S, E or D, got 'X'");
    expect_error(state, HEADER "h100-sxm,989,27500,datasheet,2025-10,PS,\n", 2, "got 'PS'");
    expect_error(state, HEADER "h100-sxm,989,27500,datasheet,2025-10,p,\n", 2, "got 'p'");
}

static void test_duplicate_name_differing_in_case_is_refused_on_second_line(void **state)
{
    expect_error(state,
                 HEADER "h100-sxm,989,27500,datasheet,2025-10,E,\n"
                        "b200,2250,,vendor,2025-03,S,\n"
                        "H100-SXM,989,27500,datasheet,2025-10,E,\n",
                 4, "name 'H100-SXM' appears twice");
}

static void test_bad_name_with_space_is_refused(void **state)
{
    expect_error(state, HEADER "h100 sxm,989,27500,datasheet,2025-10,E,\n", 2,
                 "bad name 'h100 sxm'");
}

static void test_unclosed_quote_at_end_of_file_is_refused(void **state)
{
    expect_error(state,
                 HEADER "h100-sxm,989,27500,datasheet,2025-10,E,\n"
                        "b200,2250,,\"vendor,2025-03,S,\n",
                 3, "unclosed quote");
}

/* Regression (fixed in sim/scenario/catalog.c): an unclosed quote swallows every later line, and the
 * error used to name the file's last line (5) instead of the line where the unclosed row
 * starts (3), sending the user to the wrong row. */
static void test_unclosed_quote_mid_file_names_the_line_it_opens_on(void **state)
{
    expect_error(state,
                 HEADER "h100-sxm,989,27500,datasheet,2025-10,E,\n"
                        "b200,2250,,\"vendor,2025-03,S,\n"
                        "mi300x,1307,,vendor,2024-12,P,\n"
                        "mi325x,1307,,vendor,2024-12,P,\n",
                 3, "unclosed quote"); /* fails: reported on line 5 */
}

static void test_nul_byte_is_refused_on_its_line(void **state)
{
    static const char text[] = HEADER "h100-sxm,989,27500,datasheet,2025-10,E,\n"
                                      "b200,22\0"
                                      "50,,vendor,2025-03,S,\n";
    expect_error_bytes(state, text, sizeof text - 1, 3, "NUL byte");
}

static void test_empty_file_is_refused(void **state)
{
    expect_error(state, "", 1, "empty catalog");
    expect_error(state, "\n\n", 1, "empty catalog");
}

static void test_missing_file_is_an_io_error(void **state)
{
    TmpDir *tmp = *state;
    char path[256];
    snprintf(path, sizeof path, "%s/no-such-file.csv", tmp->dir);
    CatTable t;
    TsErr err;
    ts_err_clear(&err);
    assert_int_equal(cat_table_load(&t, path, &SCHEMA, &err), TS_EIO);
    assert_int_equal(err.code, TS_EIO);
    assert_non_null(strstr(err.msg, path));
    cat_table_fini(&t);
}

/* ---- cat_find_dir -------------------------------------------------------------------------- */

static void make_dir(const char *base, const char *name, int with_chips, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", base, name);
    assert_int_equal(mkdir(out, 0700), 0);
    if (with_chips) {
        char p[300];
        snprintf(p, sizeof p, "%s/chips.csv", out);
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        assert_int_equal(fclose(f), 0);
    }
}

static void test_find_dir_picks_first_folder_with_chips_csv(void **state)
{
    TmpDir *tmp = *state;
    char empty[256], first[256], second[256];
    make_dir(tmp->dir, "dir-empty", 0, empty, sizeof empty);
    make_dir(tmp->dir, "dir-first", 1, first, sizeof first);
    make_dir(tmp->dir, "dir-second", 1, second, sizeof second);
    const char *dirs[] = {NULL, "", empty, first, second};
    char out[256] = "unchanged";
    TsErr err;
    ts_err_clear(&err);
    assert_int_equal(cat_find_dir(dirs, 5, out, (int)sizeof out, &err), 0);
    assert_string_equal(out, first);
}

static void test_find_dir_names_every_folder_tried_when_none_has_chips(void **state)
{
    TmpDir *tmp = *state;
    char empty[256];
    make_dir(tmp->dir, "dir-none", 0, empty, sizeof empty);
    const char *dirs[] = {empty, NULL, "/nonexistent/tokensim-data"};
    char out[256];
    TsErr err;
    ts_err_clear(&err);
    assert_int_equal(cat_find_dir(dirs, 3, out, (int)sizeof out, &err), TS_EINPUT);
    assert_int_equal(err.code, TS_EINPUT);
    if (!strstr(err.msg, empty) || !strstr(err.msg, "/nonexistent/tokensim-data") ||
        !strstr(err.msg, "chips.csv")) {
        print_error("message \"%s\" should name %s and /nonexistent/tokensim-data\n", err.msg,
                    empty);
        fail();
    }
}

/* ---- the shipped catalogs ------------------------------------------------------------------ */

static void assert_every_row_sourced(const CatTable *t, int min_rows)
{
    if (t->n_rows < min_rows) {
        print_error("%s: %d rows, expected at least %d\n", t->path, t->n_rows, min_rows);
        fail();
    }
    for (int r = 0; r < t->n_rows; r++) {
        const char *conf = cat_cell(t, r, "confidence");
        if (!cat_cell(t, r, "source")[0] || !cat_cell(t, r, "as_of")[0] || strlen(conf) != 1 ||
            !strchr("PSED", conf[0])) {
            print_error("%s:%d: row lacks source, as_of or a P/S/E/D confidence\n", t->path,
                        t->lines[r]);
            fail();
        }
    }
}

static void test_shipped_catalogs_load_with_sourced_rows(void **state)
{
    (void)state;
    ScnCatalogs c;
    TsErr err;
    ts_err_clear(&err);
    int rc = scn_catalogs_load(&c, "data", &err);
    if (rc != 0)
        print_error("scn_catalogs_load(\"data\"): %s (run from the repo root)\n", err.msg);
    assert_int_equal(rc, 0);
    assert_every_row_sourced(&c.chips, 8);
    assert_every_row_sourced(&c.models, 10);
    assert_every_row_sourced(&c.electricity, 10);
    assert_every_row_sourced(&c.api_prices, 10);
    assert_true(cat_find_row(&c.chips, "H100-SXM") >= 0);
    assert_true(cat_find_row(&c.models, "deepseek-v3") >= 0);
    scn_catalogs_fini(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_good_file_gives_rows_cells_and_start_lines),
        cmocka_unit_test(test_load_crlf_file_gives_same_cells_and_lines),
        cmocka_unit_test(test_row_starting_with_multiline_quoted_cell_records_its_first_line),
        cmocka_unit_test(test_find_row_is_case_insensitive_and_suggest_finds_near_names),
        cmocka_unit_test(test_unknown_column_names_line_1_and_suggests_the_near_one),
        cmocka_unit_test(test_unknown_far_column_has_no_suggestion),
        cmocka_unit_test(test_duplicated_column_is_refused_on_its_line),
        cmocka_unit_test(test_missing_source_column_is_refused),
        cmocka_unit_test(test_header_after_blank_lines_is_reported_on_its_own_line),
        cmocka_unit_test(test_row_with_wrong_cell_count_names_its_line),
        cmocka_unit_test(test_non_number_in_numeric_column_is_refused),
        cmocka_unit_test(test_empty_source_as_of_or_confidence_is_refused),
        cmocka_unit_test(test_confidence_other_than_p_s_e_d_is_refused),
        cmocka_unit_test(test_duplicate_name_differing_in_case_is_refused_on_second_line),
        cmocka_unit_test(test_bad_name_with_space_is_refused),
        cmocka_unit_test(test_unclosed_quote_at_end_of_file_is_refused),
        cmocka_unit_test(test_unclosed_quote_mid_file_names_the_line_it_opens_on),
        cmocka_unit_test(test_nul_byte_is_refused_on_its_line),
        cmocka_unit_test(test_empty_file_is_refused),
        cmocka_unit_test(test_missing_file_is_an_io_error),
        cmocka_unit_test(test_find_dir_picks_first_folder_with_chips_csv),
        cmocka_unit_test(test_find_dir_names_every_folder_tried_when_none_has_chips),
        cmocka_unit_test(test_shipped_catalogs_load_with_sourced_rows),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
