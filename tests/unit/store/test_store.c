/* test_store: sim/store against real SQLite files in a fresh mkdtemp folder per test.
 * Checks the schema (user_version, STRICT tables, WAL, foreign keys), refusals (newer schema,
 * not a database, missing folder), and the run lifecycle: begin, finish, a finish that fails
 * midway and leaves nothing behind, fail, out_dir, and NULL for missing or non-finite values. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/store/store.h"

typedef struct {
    char dir[64];
    char path[128]; /* dir/test.db, not created by setup */
} Tmp;

static int tmp_setup(void **state)
{
    Tmp *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    snprintf(t->dir, sizeof t->dir, "/tmp/test_store.XXXXXX");
    if (!mkdtemp(t->dir)) {
        free(t);
        return -1;
    }
    snprintf(t->path, sizeof t->path, "%s/test.db", t->dir);
    *state = t;
    return 0;
}

static int tmp_teardown(void **state)
{
    Tmp *t = *state;
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    char p[160];
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf(p, sizeof p, "%s%s", t->path, suffixes[i]);
        unlink(p); /* most of them do not exist */
    }
    snprintf(p, sizeof p, "%s/plain.txt", t->dir);
    unlink(p);
    int rc = rmdir(t->dir);
    free(t);
    return rc;
}

/* Opens t->path with store_open and fails the test with its message if that fails. */
static Store *open_ok(const Tmp *t)
{
    Store *s = NULL;
    TsErr err;
    ts_err_clear(&err);
    int rc = store_open(t->path, &s, &err);
    if (rc != 0)
        fail_msg("store_open(%s) = %d: %s", t->path, rc, err.msg);
    assert_non_null(s);
    return s;
}

/* The single integer of a query with no parameters (must return exactly one row). */
static int64_t query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("prepare %s: %s", sql, sqlite3_errmsg(db));
    if (sqlite3_step(st) != SQLITE_ROW)
        fail_msg("step %s: %s", sql, sqlite3_errmsg(db));
    int64_t v = sqlite3_column_int64(st, 0);
    assert_int_equal(sqlite3_finalize(st), SQLITE_OK);
    return v;
}

/* The text of a one-row query into buf ("<NULL>" for SQL NULL). */
static const char *query_text(sqlite3 *db, const char *sql, char *buf, size_t n)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("prepare %s: %s", sql, sqlite3_errmsg(db));
    if (sqlite3_step(st) != SQLITE_ROW)
        fail_msg("step %s: %s", sql, sqlite3_errmsg(db));
    const unsigned char *v = sqlite3_column_text(st, 0);
    snprintf(buf, n, "%s", v ? (const char *)v : "<NULL>");
    assert_int_equal(sqlite3_finalize(st), SQLITE_OK);
    return buf;
}

/* Runs raw SQL on a file through a plain sqlite3 connection (not through store). */
static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static int64_t begin_ok(Store *s, const char *name)
{
    StoreRunInfo info = {
        .kind = "scenario",
        .name = name,
        .seed = 42,
        .scenario_sha256 = "ab12",
        .scenario_text = "[scenario]\nname = x\n",
        .version = "0.1.0",
        .machine = "{\"cpu\":\"test\"}",
    };
    int64_t id = -1;
    TsErr err;
    ts_err_clear(&err);
    int rc = store_run_begin(s, &info, &id, &err);
    if (rc != 0)
        fail_msg("store_run_begin = %d: %s", rc, err.msg);
    assert_true(id > 0);
    return id;
}

static void test_open_fresh_file_has_the_current_user_version_and_strict_tables(void **state)
{
    Tmp *t = *state;
    Store *s = open_ok(t);
    sqlite3 *db = store_db(s);
    assert_int_equal(query_int(db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    assert_int_equal(STORE_SCHEMA_VERSION, 8);
    assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'view'"
                                   " AND name IN ('v_fleet_summary', 'v_price_curve')"),
                     2);

    static const char *const tables[] = {"runs",        "fleets",       "metrics",
                                         "sweep_points", "measurements", "tornado",
                                         "histograms",  "comparisons",  "validation",
                                         "mc_shards",   "mc_blocks",    "run_inputs",
                                         "run_notes",   "run_sources",  "deployments",
                                         "published_validation", "published_fits",
                                         "calibrations", "calibration_residuals",
                                         "serving_requests", "serving_tokens",
                                         "serving_validation"};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        sqlite3_stmt *st = NULL;
        assert_int_equal(sqlite3_prepare_v2(db,
                                            "SELECT sql FROM sqlite_schema WHERE type = 'table'"
                                            " AND name = ?",
                                            -1, &st, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_bind_text(st, 1, tables[i], -1, SQLITE_STATIC), SQLITE_OK);
        if (sqlite3_step(st) != SQLITE_ROW)
            fail_msg("table %s is missing", tables[i]);
        const char *sql = (const char *)sqlite3_column_text(st, 0);
        assert_non_null(sql);
        if (!strstr(sql, "STRICT"))
            fail_msg("table %s is not STRICT: %s", tables[i], sql);
        assert_int_equal(sqlite3_finalize(st), SQLITE_OK);
    }
    assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'index'"
                                   " AND name = 'metrics_by_metric'"),
                     1);
    store_close(s);
}

static void test_open_turns_on_wal_and_foreign_keys(void **state)
{
    Tmp *t = *state;
    Store *s = open_ok(t);
    char buf[32];
    assert_string_equal(query_text(store_db(s), "PRAGMA journal_mode", buf, sizeof buf), "wal");
    assert_int_equal(query_int(store_db(s), "PRAGMA foreign_keys"), 1);
    store_close(s);
}

static void test_reopen_keeps_rows_and_does_not_rerun_migrations(void **state)
{
    Tmp *t = *state;
    Store *s = open_ok(t);
    int64_t id = begin_ok(s, "kept");
    store_close(s);

    /* If the 0 -> 1 step ran again on reopen, the dropped table would come back (or the
     * CREATE of the existing ones would fail). */
    raw_exec(t->path, "DROP TABLE comparisons");
    s = open_ok(t);
    sqlite3 *db = store_db(s);
    assert_int_equal(query_int(db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'comparisons'"),
                     0);
    assert_int_equal(query_int(db, "SELECT count(*) FROM runs"), 1);
    assert_int_equal(query_int(db, "SELECT id FROM runs WHERE name = 'kept'"), id);
    store_close(s);
}

#define DROP_V5_COLUMNS                                                                           \
    " ALTER TABLE measurements DROP COLUMN kv_precision;"                                         \
    " ALTER TABLE measurements DROP COLUMN mtp_depth;"                                            \
    " ALTER TABLE measurements DROP COLUMN mtp_accept_forced;"                                    \
    " ALTER TABLE measurements DROP COLUMN mtp_accept_measured;"                                  \
    " ALTER TABLE measurements DROP COLUMN tokens_per_step;" DROP_V6

/* What schema 6 added (a database made fresh, then taken back to an older version). */
#define DROP_V6                                                                                   \
    " DROP TABLE run_inputs; DROP TABLE run_notes; DROP TABLE run_sources;"                       \
    " DROP TABLE deployments; DROP TABLE published_validation; DROP TABLE published_fits;"        \
    " DROP TABLE serving_series; DROP TABLE latency_histograms;"                                  \
    " DROP TABLE calibration_residuals; DROP TABLE calibrations;"                                 \
    " DROP TABLE serving_tokens; DROP TABLE serving_requests; DROP TABLE serving_validation;"     \
    " ALTER TABLE metrics DROP COLUMN part; ALTER TABLE fleets DROP COLUMN candidate;"            \
    " ALTER TABLE fleets DROP COLUMN over_capacity; ALTER TABLE fleets DROP COLUMN failed_samples;"

static void test_version_1_database_migrates_to_current_keeping_its_rows(void **state)
{
    Tmp *t = *state;
    Store *s = open_ok(t);
    begin_ok(s, "kept");
    store_close(s);
    /* make it a version-1 database: no validation table and no shard tables yet */
    raw_exec(t->path, "DROP VIEW v_fleet_summary; DROP VIEW v_price_curve; DROP TABLE validation;"
                      " DROP TABLE mc_blocks; DROP TABLE mc_shards;" DROP_V5_COLUMNS
                      " PRAGMA user_version = 1;");
    s = open_ok(t);
    sqlite3 *db = store_db(s);
    assert_int_equal(query_int(db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_schema WHERE name IN"
                                   " ('validation', 'mc_shards', 'mc_blocks', 'v_fleet_summary',"
                                   " 'v_price_curve')"),
                     5);
    assert_int_equal(query_int(db, "SELECT count(*) FROM runs WHERE name = 'kept'"), 1);
    assert_int_equal(query_int(db, "SELECT count(*) FROM pragma_table_info('measurements')"
                                   " WHERE name IN ('kv_precision', 'mtp_depth', 'tokens_per_step')"),
                     3);
    store_close(s);
}

static void test_version_2_database_migrates_to_current_keeping_its_rows(void **state)
{
    Tmp *t = *state;
    Store *s = open_ok(t);
    begin_ok(s, "kept");
    store_close(s);
    /* make it a version-2 database: no shard tables yet */
    raw_exec(t->path, "DROP VIEW v_fleet_summary; DROP VIEW v_price_curve; DROP TABLE mc_blocks;"
                      " DROP TABLE mc_shards;" DROP_V5_COLUMNS " PRAGMA user_version = 2;");
    s = open_ok(t);
    sqlite3 *db = store_db(s);
    assert_int_equal(query_int(db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_schema WHERE name IN"
                                   " ('mc_shards', 'mc_blocks', 'v_fleet_summary',"
                                   " 'v_price_curve')"),
                     4);
    assert_int_equal(query_int(db, "SELECT count(*) FROM runs WHERE name = 'kept'"), 1);
    store_close(s);
}

static void test_open_refuses_user_version_99_as_newer_tokensim(void **state)
{
    Tmp *t = *state;
    raw_exec(t->path, "CREATE TABLE other (a); PRAGMA user_version = 99;");
    Store *s = (Store *)t; /* must be reset to NULL */
    TsErr err;
    ts_err_clear(&err);
    assert_int_equal(store_open(t->path, &s, &err), TS_EIO);
    assert_null(s);
    assert_int_equal(err.code, TS_EIO);
    assert_non_null(strstr(err.msg, "newer tokensim"));
    assert_non_null(strstr(err.msg, t->path));
    assert_non_null(strstr(err.msg, "99"));

    /* Left untouched: still version 99, no tokensim table, not switched to WAL. */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(t->path, &db), SQLITE_OK);
    assert_int_equal(query_int(db, "PRAGMA user_version"), 99);
    assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'runs'"), 0);
    char buf[32];
    assert_string_equal(query_text(db, "PRAGMA journal_mode", buf, sizeof buf), "delete");
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void test_open_refuses_text_file_and_leaves_it_unchanged(void **state)
{
    Tmp *t = *state;
    char path[160];
    snprintf(path, sizeof path, "%s/plain.txt", t->dir);
    const char text[] = "this is not a SQLite database, just some text that is long enough "
                        "to have a header of a hundred bytes or so..............................\n";
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, sizeof text - 1, f), sizeof text - 1);
    assert_int_equal(fclose(f), 0);

    Store *s = NULL;
    TsErr err;
    ts_err_clear(&err);
    assert_int_equal(store_open(path, &s, &err), TS_EIO);
    assert_null(s);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "not a database"));

    char back[sizeof text] = {0};
    f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(back, 1, sizeof back, f), sizeof text - 1);
    assert_int_equal(fclose(f), 0);
    assert_string_equal(back, text);
}

static void test_open_in_missing_folder_fails_naming_the_path(void **state)
{
    Tmp *t = *state;
    char path[160];
    snprintf(path, sizeof path, "%s/no-such-folder/x.db", t->dir);
    Store *s = NULL;
    TsErr err;
    ts_err_clear(&err);
    assert_int_equal(store_open(path, &s, &err), TS_EIO);
    assert_null(s);
    assert_non_null(strstr(err.msg, path));
}

static void test_run_begin_commits_running_row_with_utc_started_at(void **state)
{
    Tmp *t = *state;
    Store *s = open_ok(t);
    int64_t a = begin_ok(s, "first");
    int64_t b = begin_ok(s, "second");
    assert_true(b > a);

    /* Committed: a second connection sees it. */
    sqlite3 *other = NULL;
    assert_int_equal(sqlite3_open(t->path, &other), SQLITE_OK);
    char buf[64];
    assert_string_equal(
        query_text(other, "SELECT status FROM runs WHERE name = 'first'", buf, sizeof buf),
        "running");
    assert_string_equal(
        query_text(other, "SELECT kind FROM runs WHERE name = 'first'", buf, sizeof buf),
        "scenario");
    assert_int_equal(query_int(other, "SELECT seed FROM runs WHERE name = 'first'"), 42);
    assert_string_equal(
        query_text(other, "SELECT finished_at FROM runs WHERE name = 'first'", buf, sizeof buf),
        "<NULL>");
    assert_string_equal(
        query_text(other, "SELECT machine FROM runs WHERE name = 'first'", buf, sizeof buf),
        "{\"cpu\":\"test\"}");

    const char *at =
        query_text(other, "SELECT started_at FROM runs WHERE name = 'first'", buf, sizeof buf);
    /* YYYY-MM-DDTHH:MM:SSZ */
    assert_int_equal(strlen(at), 20);
    for (int i = 0; i < 20; i++) {
        char want = "dddd-dd-ddTdd:dd:ddZ"[i];
        if (want == 'd')
            assert_true(at[i] >= '0' && at[i] <= '9');
        else
            assert_int_equal(at[i], want);
    }
    assert_int_equal(sqlite3_close(other), SQLITE_OK);
    store_close(s);
}

static void test_run_begin_rejects_unknown_kind_without_a_row(void **state)
{
    Tmp *t = *state;
    Store *s = open_ok(t);
    StoreRunInfo info = {.kind = "benchmark", .name = "x", .seed = 1};
    int64_t id = -1;
    TsErr err;
    ts_err_clear(&err);
    assert_int_equal(store_run_begin(s, &info, &id, &err), TS_EIO);
    assert_int_equal(id, -1);
    assert_non_null(strstr(err.msg, "CHECK constraint failed"));
    assert_non_null(strstr(err.msg, t->path));
    assert_int_equal(query_int(store_db(s), "SELECT count(*) FROM runs"), 0);
    store_close(s);
}

static void test_run_finish_writes_fleets_metrics_and_marks_done(void **state)
{
    Tmp *t = *state;
    Store *s = open_ok(t);
    int64_t id = begin_ok(s, "ok");
    StoreFleetRow fleets[] = {
        {.fleet = "h100",
         .chip = "H100-SXM",
         .model = "llama-70b",
         .throughput_mode = "roofline",
         .cost_mode = "rent",
         .energy_source = "declared",
         .bound = "memory"},
        {.fleet = "mi300", .chip = "MI300X"},
    };
    StoreMetricRow metrics[] = {
        {.fleet = "h100",
         .metric = "usd_per_m_output",
         .unit = "USD/Mtok",
         .value = 0.125,
         .has_value = 1,
         .p5 = 0.1,
         .p50 = 0.125,
         .p95 = 0.2,
         .has_pct = 1},
        {.fleet = "h100", .metric = "chips", .unit = "chips", .value = 64, .has_value = 1},
        {.fleet = "-", .metric = "markup", .unit = "ratio", .value = 1.5, .has_value = 1},
    };
    TsErr err;
    ts_err_clear(&err);
    int rc = store_run_finish(s, id, fleets, 2, metrics, 3, &err);
    if (rc != 0)
        fail_msg("store_run_finish = %d: %s", rc, err.msg);

    sqlite3 *db = store_db(s);
    char buf[64];
    assert_string_equal(query_text(db, "SELECT status FROM runs", buf, sizeof buf), "done");
    assert_int_equal(strlen(query_text(db, "SELECT finished_at FROM runs", buf, sizeof buf)), 20);
    assert_int_equal(query_int(db, "SELECT count(*) FROM fleets WHERE run_id = 1"), 2);
    assert_int_equal(query_int(db, "SELECT count(*) FROM metrics WHERE run_id = 1"), 3);
    assert_string_equal(
        query_text(db, "SELECT bound FROM fleets WHERE fleet = 'h100'", buf, sizeof buf), "memory");
    assert_string_equal(
        query_text(db, "SELECT model FROM fleets WHERE fleet = 'mi300'", buf, sizeof buf),
        "<NULL>");
    /* Exact round trip of a double, and p50 stored as given. */
    assert_int_equal(query_int(db, "SELECT value = 0.125 AND p95 = 0.2 FROM metrics"
                                   " WHERE metric = 'usd_per_m_output'"),
                     1);
    assert_int_equal(query_int(db, "SELECT value FROM metrics WHERE metric = 'chips'"), 64);
    assert_string_equal(
        query_text(db, "SELECT unit FROM metrics WHERE fleet = '-'", buf, sizeof buf), "ratio");
    store_close(s);
}

static void test_run_finish_duplicate_metric_rolls_back_every_row(void **state)
{
    Tmp *t = *state;
    Store *s = open_ok(t);
    int64_t id = begin_ok(s, "dup");
    StoreFleetRow fleets[] = {{.fleet = "a", .chip = "H100"}, {.fleet = "b", .chip = "B200"}};
    StoreMetricRow metrics[] = {
        {.fleet = "a", .metric = "chips", .unit = "chips", .value = 8, .has_value = 1},
        {.fleet = "b", .metric = "chips", .unit = "chips", .value = 16, .has_value = 1},
        {.fleet = "a", .metric = "chips", .unit = "chips", .value = 9, .has_value = 1},
    };
    TsErr err;
    ts_err_clear(&err);
    assert_int_equal(store_run_finish(s, id, fleets, 2, metrics, 3, &err), TS_EIO);
    assert_int_equal(err.code, TS_EIO);
    assert_non_null(strstr(err.msg, t->path));
    assert_non_null(strstr(err.msg, "UNIQUE constraint failed"));
    assert_non_null(strstr(err.msg, "'chips' of fleet 'a'"));

    sqlite3 *db = store_db(s);
    assert_int_equal(sqlite3_get_autocommit(db), 1); /* no transaction left open */
    assert_int_equal(query_int(db, "SELECT count(*) FROM fleets"), 0);
    assert_int_equal(query_int(db, "SELECT count(*) FROM metrics"), 0);
    char buf[256];
    assert_string_equal(query_text(db, "SELECT status FROM runs", buf, sizeof buf), "running");
    assert_string_equal(query_text(db, "SELECT finished_at FROM runs", buf, sizeof buf), "<NULL>");

    ts_err_clear(&err);
    int rc = store_run_fail(s, id, "results could not be written", &err);
    if (rc != 0)
        fail_msg("store_run_fail = %d: %s", rc, err.msg);
    assert_string_equal(query_text(db, "SELECT status FROM runs", buf, sizeof buf), "failed");
    assert_string_equal(query_text(db, "SELECT error FROM runs", buf, sizeof buf),
                        "results could not be written");
    assert_int_equal(strlen(query_text(db, "SELECT finished_at FROM runs", buf, sizeof buf)), 20);
    store_close(s);
}

static void test_run_finish_stores_null_for_missing_and_nonfinite_values(void **state)
{
    Tmp *t = *state;
    Store *s = open_ok(t);
    int64_t id = begin_ok(s, "nulls");
    StoreMetricRow metrics[] = {
        {.fleet = "f",
         .metric = "no_value",
         .unit = "u",
         .value = 3.0,
         .has_value = 0,
         .p5 = 1,
         .p50 = 2,
         .p95 = 3,
         .has_pct = 0},
        {.fleet = "f", .metric = "nan_value", .unit = "u", .value = NAN, .has_value = 1},
        {.fleet = "f", .metric = "inf_value", .unit = "u", .value = -INFINITY, .has_value = 1},
        {.fleet = "f",
         .metric = "nan_p50",
         .unit = "u",
         .value = 2.0,
         .has_value = 1,
         .p5 = 1.0,
         .p50 = NAN,
         .p95 = INFINITY,
         .has_pct = 1},
    };
    TsErr err;
    ts_err_clear(&err);
    int rc = store_run_finish(s, id, NULL, 0, metrics, 4, &err);
    if (rc != 0)
        fail_msg("store_run_finish = %d: %s", rc, err.msg);

    sqlite3 *db = store_db(s);
    assert_int_equal(query_int(db, "SELECT value IS NULL AND p5 IS NULL AND p50 IS NULL"
                                   " AND p95 IS NULL FROM metrics WHERE metric = 'no_value'"),
                     1);
    assert_int_equal(query_int(db, "SELECT value IS NULL FROM metrics WHERE metric = 'nan_value'"),
                     1);
    assert_int_equal(query_int(db, "SELECT value IS NULL FROM metrics WHERE metric = 'inf_value'"),
                     1);
    assert_int_equal(query_int(db, "SELECT value = 2.0 AND p5 = 1.0 AND p50 IS NULL"
                                   " AND p95 IS NULL FROM metrics WHERE metric = 'nan_p50'"),
                     1);
    store_close(s);
}

static void test_run_finish_refuses_run_that_is_done_or_missing(void **state)
{
    Tmp *t = *state;
    Store *s = open_ok(t);
    int64_t id = begin_ok(s, "twice");
    StoreMetricRow m = {
        .fleet = "-", .metric = "markup", .unit = "ratio", .value = 2, .has_value = 1};
    TsErr err;
    ts_err_clear(&err);
    assert_int_equal(store_run_finish(s, id, NULL, 0, &m, 1, &err), 0);

    StoreMetricRow m2 = {
        .fleet = "-", .metric = "gross_margin", .unit = "ratio", .value = 0.5, .has_value = 1};
    ts_err_clear(&err);
    assert_int_equal(store_run_finish(s, id, NULL, 0, &m2, 1, &err), TS_EIO);
    assert_non_null(strstr(err.msg, "is not running"));
    ts_err_clear(&err);
    assert_int_equal(store_run_finish(s, id + 100, NULL, 0, &m2, 1, &err), TS_EIO);
    assert_non_null(strstr(err.msg, "is not running"));

    sqlite3 *db = store_db(s);
    assert_int_equal(query_int(db, "SELECT count(*) FROM metrics"), 1);
    char buf[32];
    assert_string_equal(query_text(db, "SELECT status FROM runs", buf, sizeof buf), "done");

    /* A done run cannot be failed afterwards either. */
    ts_err_clear(&err);
    assert_int_equal(store_run_fail(s, id, "late", &err), TS_EIO);
    assert_string_equal(query_text(db, "SELECT status FROM runs", buf, sizeof buf), "done");
    store_close(s);
}

static void test_run_set_out_dir_updates_only_that_run(void **state)
{
    Tmp *t = *state;
    Store *s = open_ok(t);
    int64_t a = begin_ok(s, "a");
    int64_t b = begin_ok(s, "b");
    TsErr err;
    ts_err_clear(&err);
    assert_int_equal(store_run_set_out_dir(s, b, "out/demo-2", &err), 0);
    char buf[64];
    sqlite3 *db = store_db(s);
    assert_string_equal(
        query_text(db, "SELECT out_dir FROM runs WHERE name = 'b'", buf, sizeof buf), "out/demo-2");
    assert_string_equal(
        query_text(db, "SELECT out_dir FROM runs WHERE name = 'a'", buf, sizeof buf), "<NULL>");
    ts_err_clear(&err);
    assert_int_equal(store_run_set_out_dir(s, a + b + 10, "x", &err), TS_EIO);
    assert_non_null(strstr(err.msg, "does not exist"));
    store_close(s);
}

static void test_foreign_keys_reject_metric_for_missing_run(void **state)
{
    Tmp *t = *state;
    Store *s = open_ok(t);
    sqlite3 *db = store_db(s);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT INTO metrics (run_id, fleet, metric, value, unit)"
                                        " VALUES (12345, 'f', 'chips', 1.0, 'chips')",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_CONSTRAINT);
    assert_int_equal(sqlite3_extended_errcode(db), SQLITE_CONSTRAINT_FOREIGNKEY);
    sqlite3_finalize(st);
    assert_int_equal(query_int(db, "SELECT count(*) FROM metrics"), 0);
    store_close(s);
}

static void test_strict_and_check_reject_bad_measurement_rows(void **state)
{
    Tmp *t = *state;
    Store *s = open_ok(t);
    int64_t id = begin_ok(s, "m");
    assert_int_equal(id, 1);
    sqlite3 *db = store_db(s);
    char *msg = NULL;
    /* STRICT: text in an INTEGER column is refused, not stored as text. */
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO measurements (run_id, model, precision, phase,"
                                  " batch, threads, tokens, seconds, energy_source) VALUES"
                                  " (1, 'm', 'f32', 'decode', 'eight', 4, 128, 1.5, 'x')",
                                  NULL, NULL, &msg),
                     SQLITE_CONSTRAINT);
    sqlite3_free(msg);
    msg = NULL;
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO measurements (run_id, model, precision, phase,"
                                  " batch, threads, tokens, seconds, energy_source) VALUES"
                                  " (1, 'm', 'f32', 'train', 8, 4, 128, 1.5, 'x')",
                                  NULL, NULL, &msg),
                     SQLITE_CONSTRAINT);
    sqlite3_free(msg);
    msg = NULL;
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO measurements (run_id, model, precision, phase,"
                                  " batch, threads, tokens, seconds, energy_source) VALUES"
                                  " (1, 'm', 'f32', 'decode', 8, 4, 128, 1.5, 'modeled:x')",
                                  NULL, NULL, &msg),
                     SQLITE_OK);
    assert_int_equal(query_int(db, "SELECT count(*) FROM measurements"), 1);
    store_close(s);
}

static void test_store_close_accepts_null(void **state)
{
    (void)state;
    store_close(NULL);
    assert_null(store_db(NULL));
}

#define T(f) cmocka_unit_test_setup_teardown(f, tmp_setup, tmp_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_open_fresh_file_has_the_current_user_version_and_strict_tables),
        T(test_open_turns_on_wal_and_foreign_keys),
        T(test_reopen_keeps_rows_and_does_not_rerun_migrations),
        T(test_version_1_database_migrates_to_current_keeping_its_rows),
        T(test_version_2_database_migrates_to_current_keeping_its_rows),
        T(test_open_refuses_user_version_99_as_newer_tokensim),
        T(test_open_refuses_text_file_and_leaves_it_unchanged),
        T(test_open_in_missing_folder_fails_naming_the_path),
        T(test_run_begin_commits_running_row_with_utc_started_at),
        T(test_run_begin_rejects_unknown_kind_without_a_row),
        T(test_run_finish_writes_fleets_metrics_and_marks_done),
        T(test_run_finish_duplicate_metric_rolls_back_every_row),
        T(test_run_finish_stores_null_for_missing_and_nonfinite_values),
        T(test_run_finish_refuses_run_that_is_done_or_missing),
        T(test_run_set_out_dir_updates_only_that_run),
        T(test_foreign_keys_reject_metric_for_missing_run),
        T(test_strict_and_check_reject_bad_measurement_rows),
        T(test_store_close_accepts_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
