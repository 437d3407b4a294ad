/* store: tokensim's SQLite database (the tables of scenario-format.md, "Results in SQLite").
 * Opens the file with WAL, foreign keys and a busy timeout, migrates it one step at a time by
 * PRAGMA user_version, and writes the run lifecycle (running -> done | failed) with prepared
 * statements only. It knows nothing of scenarios or formulas, and never prints: every failure
 * is a TS_EIO message naming the database path and sqlite3's own words. */
#include "sim/store/store.h"

#include <assert.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#define STORE_BUSY_TIMEOUT_MS 5000

/* ISO 8601 UTC with a Z, e.g. 2025-01-31T12:00:00Z, computed by SQLite in the statement. */
#define STORE_NOW_UTC "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"

struct Store {
    sqlite3 *db;
    char *path; /* as given to store_open, for messages */
};

/* STORE_MIGRATIONS[v] takes a database from user_version v to v + 1 and sets user_version
 * itself as its last statement; store_migrate checks that it did. Steps are never edited once
 * released: a schema change is a new step and a new STORE_SCHEMA_VERSION. */
static const char *const STORE_MIGRATIONS[] = {
    /* 0 -> 1: the contract's tables. */
    "CREATE TABLE runs ("
    "  id INTEGER PRIMARY KEY,"
    "  kind TEXT NOT NULL CHECK (kind IN ('measure', 'scenario', 'sweep')),"
    "  name TEXT NOT NULL,"
    "  status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),"
    "  started_at TEXT NOT NULL,"
    "  finished_at TEXT,"
    "  seed INTEGER,"
    "  scenario_sha256 TEXT,"
    "  scenario_text TEXT,"
    "  version TEXT,"
    "  machine TEXT,"
    "  out_dir TEXT,"
    "  error TEXT,"
    "  CHECK ((status = 'running') = (finished_at IS NULL))"
    ") STRICT;"
    "CREATE TABLE fleets ("
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  fleet TEXT NOT NULL,"
    "  chip TEXT,"
    "  model TEXT,"
    "  throughput_mode TEXT,"
    "  cost_mode TEXT,"
    "  energy_source TEXT,"
    "  bound TEXT,"
    "  PRIMARY KEY (run_id, fleet)"
    ") STRICT;"
    "CREATE TABLE metrics ("
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  fleet TEXT NOT NULL,"
    "  metric TEXT NOT NULL,"
    "  value REAL,"
    "  unit TEXT NOT NULL,"
    "  p5 REAL,"
    "  p50 REAL,"
    "  p95 REAL,"
    "  PRIMARY KEY (run_id, fleet, metric)"
    ") STRICT;"
    "CREATE INDEX metrics_by_metric ON metrics (metric, fleet);"
    "CREATE TABLE tornado ("
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  fleet TEXT NOT NULL,"
    "  input TEXT NOT NULL,"
    "  low_x REAL,"
    "  high_x REAL,"
    "  low_value REAL,"
    "  high_value REAL"
    ") STRICT;"
    "CREATE INDEX tornado_by_run ON tornado (run_id, fleet);"
    "CREATE TABLE histograms ("
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  fleet TEXT NOT NULL,"
    "  metric TEXT NOT NULL,"
    "  bin_low REAL NOT NULL,"
    "  bin_high REAL NOT NULL,"
    "  count INTEGER NOT NULL CHECK (count >= 0)"
    ") STRICT;"
    "CREATE INDEX histograms_by_run ON histograms (run_id, fleet, metric);"
    "CREATE TABLE comparisons ("
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  fleet TEXT NOT NULL,"
    "  baseline TEXT NOT NULL,"
    "  metric TEXT NOT NULL,"
    "  ratio REAL"
    ") STRICT;"
    "CREATE INDEX comparisons_by_run ON comparisons (run_id, fleet);"
    "CREATE TABLE sweep_points ("
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  fleet TEXT NOT NULL,"
    "  param TEXT NOT NULL,"
    "  x REAL NOT NULL,"
    "  param2 TEXT,"
    "  y REAL,"
    "  metric TEXT NOT NULL,"
    "  value REAL"
    ") STRICT;"
    "CREATE INDEX sweep_points_by_run ON sweep_points (run_id, fleet, param, metric);"
    "CREATE TABLE measurements ("
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  model TEXT NOT NULL,"
    "  precision TEXT NOT NULL,"
    "  phase TEXT NOT NULL CHECK (phase IN ('prefill', 'decode')),"
    "  batch INTEGER NOT NULL CHECK (batch > 0),"
    "  threads INTEGER NOT NULL CHECK (threads > 0),"
    "  prompt_tokens INTEGER,"
    "  tokens INTEGER NOT NULL CHECK (tokens >= 0),"
    "  seconds REAL NOT NULL CHECK (seconds >= 0),"
    "  seconds_p10 REAL,"
    "  seconds_p90 REAL,"
    "  flops REAL,"
    "  weight_bytes REAL,"
    "  kv_bytes REAL,"
    "  energy_j REAL,"
    "  energy_net_j REAL,"
    "  energy_low_j REAL,"
    "  energy_high_j REAL,"
    "  energy_source TEXT NOT NULL"
    ") STRICT;"
    "CREATE INDEX measurements_by_run ON measurements (run_id, model, phase);"
    "PRAGMA user_version = 1;",
    /* 1 -> 2: the roofline's predictions of a measure run, beside what was measured. */
    "CREATE TABLE validation ("
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  model TEXT NOT NULL,"
    "  phase TEXT NOT NULL CHECK (phase IN ('prefill', 'decode')),"
    "  batch INTEGER NOT NULL,"
    "  threads INTEGER NOT NULL,"
    "  predicted_tok_s REAL,"
    "  measured_tok_s REAL,"
    "  PRIMARY KEY (run_id, model, phase, batch, threads)"
    ") STRICT;"
    "PRAGMA user_version = 2;",
    /* 2 -> 3: the Monte Carlo blocks of a `run --shard K/N` (a part for `tokensim merge`). The
     * blobs hold doubles in the writing machine's byte order, named in mc_shards.byte_order. */
    "CREATE TABLE mc_shards ("
    "  run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,"
    "  shard INTEGER NOT NULL CHECK (shard >= 1),"
    "  n_shards INTEGER NOT NULL CHECK (n_shards >= shard),"
    "  samples INTEGER NOT NULL CHECK (samples > 0),"
    "  block_size INTEGER NOT NULL CHECK (block_size > 0),"
    "  clamped INTEGER NOT NULL CHECK (clamped >= 0),"
    "  scenario_path TEXT NOT NULL,"
    "  byte_order TEXT NOT NULL CHECK (byte_order IN ('little', 'big'))"
    ") STRICT;"
    "CREATE TABLE mc_blocks ("
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  block INTEGER NOT NULL CHECK (block >= 0),"
    "  fleet INTEGER NOT NULL CHECK (fleet >= 0),"
    "  sums BLOB NOT NULL,"
    "  counts BLOB NOT NULL,"
    "  samples BLOB NOT NULL,"
    "  failed INTEGER NOT NULL CHECK (failed >= 0),"
    "  PRIMARY KEY (run_id, block, fleet)"
    ") STRICT;"
    "PRAGMA user_version = 3;",
    /* 3 -> 4: wide views for people (README "Querying results"). v_fleet_summary: one row per
     * fleet of every run with the main metrics as columns (NULL where a run has none);
     * v_price_curve: $/M tokens against electricity price, from sweeps over usd_per_kwh (on
     * every fleet or qualified `fleet NAME.usd_per_kwh`), one row per fleet and price. */
    "CREATE VIEW v_fleet_summary AS"
    " SELECT r.id AS run_id, r.name AS run, r.kind AS kind, r.status AS status,"
    "  f.fleet AS fleet, f.chip AS chip, f.model AS model, f.bound AS bound,"
    "  f.energy_source AS energy_source,"
    "  MAX(CASE WHEN m.metric = 'chips' THEN m.value END) AS chips,"
    "  MAX(CASE WHEN m.metric = 'batch' THEN m.value END) AS batch,"
    "  MAX(CASE WHEN m.metric = 'decode_tok_s_per_chip' THEN m.value END)"
    "   AS decode_tok_s_per_chip,"
    "  MAX(CASE WHEN m.metric = 'usd_per_m_input' THEN m.value END) AS usd_per_m_input,"
    "  MAX(CASE WHEN m.metric = 'usd_per_m_output' THEN m.value END) AS usd_per_m_output,"
    "  MAX(CASE WHEN m.metric = 'usd_per_m_output' THEN m.p5 END) AS usd_per_m_output_p5,"
    "  MAX(CASE WHEN m.metric = 'usd_per_m_output' THEN m.p95 END) AS usd_per_m_output_p95,"
    "  MAX(CASE WHEN m.metric = 'usd_per_m_blended' THEN m.value END) AS usd_per_m_blended,"
    "  MAX(CASE WHEN m.metric = 'energy_usd_per_m_output' THEN m.value END)"
    "   AS energy_usd_per_m_output,"
    "  MAX(CASE WHEN m.metric = 'j_per_output_token' THEN m.value END) AS j_per_output_token,"
    "  MAX(CASE WHEN m.metric = 'usd_per_day' THEN m.value END) AS usd_per_day,"
    "  MAX(CASE WHEN m.metric = 'facility_power_kw' THEN m.value END) AS facility_power_kw,"
    "  MAX(CASE WHEN m.metric = 'utilization_needed' THEN m.value END) AS utilization_needed,"
    "  MAX(CASE WHEN m.metric = 'gross_margin' THEN m.value END) AS gross_margin"
    " FROM fleets f JOIN runs r ON r.id = f.run_id"
    " LEFT JOIN metrics m ON m.run_id = f.run_id AND m.fleet = f.fleet"
    " GROUP BY f.run_id, f.fleet;"
    "CREATE VIEW v_price_curve AS"
    " SELECT p.run_id AS run_id, r.name AS run, p.fleet AS fleet, p.x AS usd_per_kwh,"
    "  p.param2 AS param2, p.y AS y,"
    "  MAX(CASE WHEN p.metric = 'usd_per_m_output' THEN p.value END) AS usd_per_m_output,"
    "  MAX(CASE WHEN p.metric = 'usd_per_m_input' THEN p.value END) AS usd_per_m_input,"
    "  MAX(CASE WHEN p.metric = 'usd_per_m_blended' THEN p.value END) AS usd_per_m_blended,"
    "  MAX(CASE WHEN p.metric = 'energy_usd_per_m_output' THEN p.value END)"
    "   AS energy_usd_per_m_output"
    " FROM sweep_points p JOIN runs r ON r.id = p.run_id"
    " WHERE p.param = 'usd_per_kwh' OR p.param LIKE '%.usd_per_kwh'"
    " GROUP BY p.run_id, p.fleet, p.x, p.param2, p.y;"
    "PRAGMA user_version = 4;",
    /* 4 -> 5: reduced precision and multi-token prediction of a measure run (issue 9): the KV
     * cache's precision, the MTP depth, the forced acceptance rate (NULL: not forced), the
     * drafts' measured agreement with the model and the tokens each decode step produced. */
    "ALTER TABLE measurements ADD COLUMN kv_precision TEXT NOT NULL DEFAULT 'fp32';"
    "ALTER TABLE measurements ADD COLUMN mtp_depth INTEGER NOT NULL DEFAULT 0"
    "  CHECK (mtp_depth >= 0);"
    "ALTER TABLE measurements ADD COLUMN mtp_accept_forced REAL"
    "  CHECK (mtp_accept_forced BETWEEN 0 AND 1);"
    "ALTER TABLE measurements ADD COLUMN mtp_accept_measured REAL;"
    "ALTER TABLE measurements ADD COLUMN tokens_per_step REAL;"
    "PRAGMA user_version = 5;",
};

_Static_assert(sizeof STORE_MIGRATIONS / sizeof STORE_MIGRATIONS[0] == STORE_SCHEMA_VERSION,
               "one migration step per schema version");

/* Sets err to "PATH: what: sqlite3's message" and returns TS_EIO. */
static int store_fail(const Store *s, const char *what, TsErr *err)
{
    return ts_err_set(err, TS_EIO, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

/* Binds parameters 1, 2, ... in order, remembering the first failure, so a row's binds read as
 * a list and are checked once. */
typedef struct {
    sqlite3_stmt *st; /* borrowed */
    int next;         /* the next parameter index */
    int rc;           /* SQLITE_OK or the first bind failure */
} StoreBind;

static void store_bind_start(StoreBind *b, sqlite3_stmt *st)
{
    b->st = st;
    b->next = 1;
    b->rc = SQLITE_OK;
}

static void store_bind_text(StoreBind *b, const char *v)
{
    int i = b->next++;
    if (b->rc != SQLITE_OK)
        return;
    b->rc = v ? sqlite3_bind_text(b->st, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(b->st, i);
}

static void store_bind_int64(StoreBind *b, int64_t v)
{
    int i = b->next++;
    if (b->rc != SQLITE_OK)
        return;
    b->rc = sqlite3_bind_int64(b->st, i, (sqlite3_int64)v);
}

/* NULL unless present; a NaN or infinity is never stored (it would read back as NULL or as a
 * huge number depending on the reader), so it becomes NULL too. */
static void store_bind_real(StoreBind *b, double v, int present)
{
    int i = b->next++;
    if (b->rc != SQLITE_OK)
        return;
    b->rc = present && isfinite(v) ? sqlite3_bind_double(b->st, i, v) : sqlite3_bind_null(b->st, i);
}

/* Finalizes st, which may be NULL. Its return repeats the last step's error, which the caller
 * has already reported, so it is deliberately not looked at. */
static void store_finalize(sqlite3_stmt *st)
{
    (void)sqlite3_finalize(st);
}

static int store_prepare(Store *s, const char *sql, sqlite3_stmt **st, const char *what, TsErr *err)
{
    *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK) {
        store_finalize(*st);
        *st = NULL;
        return store_fail(s, what, err);
    }
    return 0;
}

/* Runs constant SQL without parameters, one prepared statement after another (a migration step
 * is several). Rows that a statement returns (PRAGMA) are stepped over. */
static int store_exec(Store *s, const char *sql, const char *what, TsErr *err)
{
    const char *rest = sql;
    while (*rest) {
        sqlite3_stmt *st = NULL;
        const char *tail = NULL;
        if (sqlite3_prepare_v2(s->db, rest, -1, &st, &tail) != SQLITE_OK) {
            store_finalize(st);
            return store_fail(s, what, err);
        }
        rest = tail;
        if (!st)
            break; /* only whitespace or comments were left */
        int rc;
        do
            rc = sqlite3_step(st);
        while (rc == SQLITE_ROW);
        if (rc != SQLITE_DONE) {
            int code = store_fail(s, what, err);
            store_finalize(st);
            return code;
        }
        store_finalize(st);
    }
    return 0;
}

/* Rolls back the open transaction after a failure already in err, and returns code. sqlite3 may
 * have rolled back by itself (out of disk, I/O error); then there is nothing to do. */
static int store_rollback(Store *s, int code, TsErr *err)
{
    if (sqlite3_get_autocommit(s->db))
        return code;
    TsErr rb;
    ts_err_clear(&rb);
    if (store_exec(s, "ROLLBACK", "ROLLBACK", &rb) != 0 && err) {
        char first[TS_ERR_MSG_MAX];
        memcpy(first, err->msg, sizeof first);
        ts_err_set(err, code, "%.500s; and then %.500s", first, rb.msg);
    }
    return code;
}

/* Reads PRAGMA user_version. This is the first read of the file, so a file that is not a SQLite
 * database fails here, before anything is written to it. */
static int store_user_version(Store *s, int *version, TsErr *err)
{
    sqlite3_stmt *st;
    if (store_prepare(s, "PRAGMA user_version", &st, "reading the schema version", err))
        return TS_EIO;
    int code = 0;
    if (sqlite3_step(st) == SQLITE_ROW)
        *version = sqlite3_column_int(st, 0);
    else
        code = store_fail(s, "reading the schema version", err);
    store_finalize(st);
    return code;
}

static int store_refuse_newer(const Store *s, int version, TsErr *err)
{
    return ts_err_set(err, TS_EIO,
                      "%s: schema version %d was written by a newer tokensim (this one knows up to "
                      "version %d); use a newer tokensim or another --db file",
                      s->path, version, STORE_SCHEMA_VERSION);
}

/* Brings a database at `version` to STORE_SCHEMA_VERSION in one IMMEDIATE transaction. */
static int store_migrate(Store *s, int version, TsErr *err)
{
    if (version == STORE_SCHEMA_VERSION)
        return 0;
    if (store_exec(s, "BEGIN IMMEDIATE", "starting the schema migration", err))
        return TS_EIO;
    /* Another process may have migrated between our first read and our write lock. */
    int code = store_user_version(s, &version, err);
    if (code)
        return store_rollback(s, code, err);
    if (version > STORE_SCHEMA_VERSION)
        return store_rollback(s, store_refuse_newer(s, version, err), err);
    for (int v = version; v < STORE_SCHEMA_VERSION; v++) {
        char what[80];
        snprintf(what, sizeof what, "migrating the schema from version %d to %d", v, v + 1);
        int now = -1;
        code = store_exec(s, STORE_MIGRATIONS[v], what, err);
        if (!code)
            code = store_user_version(s, &now, err);
        if (!code && now != v + 1)
            code =
                ts_err_set(err, TS_EINTERNAL, "%s: %s left user_version at %d", s->path, what, now);
        if (code)
            return store_rollback(s, code, err);
    }
    if (store_exec(s, "COMMIT", "committing the schema migration", err))
        return store_rollback(s, TS_EIO, err);
    return 0;
}

/* Turns on foreign keys and checks that this sqlite3 honours them (a build without them would
 * accept the PRAGMA silently). */
static int store_enable_foreign_keys(Store *s, TsErr *err)
{
    if (store_exec(s, "PRAGMA foreign_keys = ON", "turning on foreign keys", err))
        return TS_EIO;
    sqlite3_stmt *st;
    if (store_prepare(s, "PRAGMA foreign_keys", &st, "reading foreign_keys", err))
        return TS_EIO;
    int code = 0;
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        code = store_fail(s, "reading foreign_keys", err);
    else if (rc == SQLITE_DONE || sqlite3_column_int(st, 0) != 1)
        code = ts_err_set(err, TS_EIO, "%s: this sqlite3 does not enforce foreign keys", s->path);
    store_finalize(st);
    return code;
}

/* Switches to WAL (persistent in the file). An in-memory database reports "memory" and stays. */
static int store_enable_wal(Store *s, TsErr *err)
{
    sqlite3_stmt *st;
    if (store_prepare(s, "PRAGMA journal_mode = WAL", &st, "turning on WAL", err))
        return TS_EIO;
    int code = 0;
    if (sqlite3_step(st) != SQLITE_ROW) {
        code = store_fail(s, "turning on WAL", err);
    } else {
        const unsigned char *mode = sqlite3_column_text(st, 0);
        const char *m = mode ? (const char *)mode : "(none)";
        if (strcmp(m, "wal") != 0 && strcmp(m, "memory") != 0)
            code =
                ts_err_set(err, TS_EIO, "%s: cannot use WAL: journal_mode stayed '%s'", s->path, m);
    }
    store_finalize(st);
    return code;
}

int store_open(const char *path, Store **out, TsErr *err)
{
    assert(path && out);
    *out = NULL;
    Store *s = calloc(1, sizeof *s);
    if (!s)
        return ts_err_set(err, TS_ENOMEM, "%s: out of memory opening the database", path);
    s->path = strdup(path);
    if (!s->path) {
        free(s);
        return ts_err_set(err, TS_ENOMEM, "%s: out of memory opening the database", path);
    }

    int code;
    /* A read-only file opens, then fails at the first write with a puzzling message: say so. */
    if (access(path, F_OK) == 0 && access(path, W_OK) != 0) {
        code = ts_err_set(err, TS_EIO,
                          "%s: the database is read-only (%s); tokensim writes each run into it: "
                          "make it writable or choose another file with --db",
                          path, strerror(errno));
        free(s->path);
        free(s);
        return code;
    }
    int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        code = s->db ? store_fail(s, "cannot open the database", err)
                     : ts_err_set(err, TS_ENOMEM, "%s: out of memory opening the database", path);
        goto fail;
    }
    if (sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS) != SQLITE_OK) {
        code = store_fail(s, "setting the busy timeout", err);
        goto fail;
    }

    /* Check the version before changing anything: a newer or foreign file is left untouched. */
    int version = 0;
    code = store_user_version(s, &version, err);
    if (code && sqlite3_errcode(s->db) == SQLITE_NOTADB)
        code = store_fail(s, "cannot read it as a SQLite database", err);
    if (code)
        goto fail;
    if (version > STORE_SCHEMA_VERSION) {
        code = store_refuse_newer(s, version, err);
        goto fail;
    }
    if (version < 0) {
        code = ts_err_set(err, TS_EIO, "%s: schema version %d is not a tokensim database", path,
                          version);
        goto fail;
    }

    code = store_enable_foreign_keys(s, err);
    if (!code)
        code = store_enable_wal(s, err);
    if (!code)
        code = store_migrate(s, version, err);
    if (code)
        goto fail;
    *out = s;
    return 0;

fail:
    store_close(s);
    return code;
}

void store_close(Store *s)
{
    if (!s)
        return;
    /* Every statement is finalized where it was prepared, so close cannot be refused as busy,
     * and a void function has nowhere to report anything else. */
    (void)sqlite3_close(s->db);
    free(s->path);
    free(s);
}

struct sqlite3 *store_db(Store *s)
{
    return s ? s->db : NULL;
}

int store_run_begin(Store *s, const StoreRunInfo *info, int64_t *run_id, TsErr *err)
{
    assert(s && info && run_id);
    static const char sql[] =
        "INSERT INTO runs (kind, name, status, started_at, seed, scenario_sha256, scenario_text,"
        " version, machine) VALUES (?, ?, 'running', " STORE_NOW_UTC ", ?, ?, ?, ?, ?)";
    sqlite3_stmt *st;
    if (store_prepare(s, sql, &st, "preparing the runs row", err))
        return TS_EIO;
    StoreBind b;
    store_bind_start(&b, st);
    store_bind_text(&b, info->kind);
    store_bind_text(&b, info->name);
    store_bind_int64(&b, info->seed);
    store_bind_text(&b, info->scenario_sha256);
    store_bind_text(&b, info->scenario_text);
    store_bind_text(&b, info->version);
    store_bind_text(&b, info->machine);
    int code = 0;
    /* Outside a transaction the INSERT commits by itself. */
    if (b.rc != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE)
        code = store_fail(s, "inserting the runs row", err);
    else
        *run_id = (int64_t)sqlite3_last_insert_rowid(s->db);
    store_finalize(st);
    return code;
}

/* Runs an UPDATE of one runs row with ?1 = run_id (and ?2 = text when the SQL has it); fails
 * with not_found unless exactly one row changed. */
static int store_update_run(Store *s, const char *sql, int64_t run_id, const char *text,
                            const char *what, const char *not_found, TsErr *err)
{
    sqlite3_stmt *st;
    if (store_prepare(s, sql, &st, what, err))
        return TS_EIO;
    StoreBind b;
    store_bind_start(&b, st);
    store_bind_int64(&b, run_id);
    if (sqlite3_bind_parameter_count(st) > 1)
        store_bind_text(&b, text);
    int code = 0;
    if (b.rc != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE)
        code = store_fail(s, what, err);
    else if (sqlite3_changes(s->db) != 1)
        code = ts_err_set(err, TS_EIO, "%s: %s: run %lld %s", s->path, what, (long long)run_id,
                          not_found);
    store_finalize(st);
    return code;
}

int store_run_set_out_dir(Store *s, int64_t run_id, const char *out_dir, TsErr *err)
{
    assert(s);
    return store_update_run(s, "UPDATE runs SET out_dir = ?2 WHERE id = ?1", run_id, out_dir,
                            "recording the run's output folder", "does not exist", err);
}

int store_run_fail(Store *s, int64_t run_id, const char *message, TsErr *err)
{
    assert(s);
    return store_update_run(s,
                            "UPDATE runs SET status = 'failed', finished_at = " STORE_NOW_UTC
                            ", error = ?2 WHERE id = ?1 AND status = 'running'",
                            run_id, message, "marking the run failed",
                            "is not running (missing, done or already failed)", err);
}

static int store_insert_fleets(Store *s, int64_t run_id, const StoreFleetRow *fleets, int n_fleets,
                               TsErr *err)
{
    static const char sql[] =
        "INSERT INTO fleets (run_id, fleet, chip, model, throughput_mode, cost_mode,"
        " energy_source, bound) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *st;
    if (store_prepare(s, sql, &st, "preparing the fleets rows", err))
        return TS_EIO;
    int code = 0;
    for (int i = 0; i < n_fleets && !code; i++) {
        const StoreFleetRow *f = &fleets[i];
        StoreBind b;
        store_bind_start(&b, st);
        store_bind_int64(&b, run_id);
        store_bind_text(&b, f->fleet);
        store_bind_text(&b, f->chip);
        store_bind_text(&b, f->model);
        store_bind_text(&b, f->throughput_mode);
        store_bind_text(&b, f->cost_mode);
        store_bind_text(&b, f->energy_source);
        store_bind_text(&b, f->bound);
        if (b.rc != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE || sqlite3_reset(st) != SQLITE_OK)
            code = ts_err_set(err, TS_EIO, "%s: run %lld: inserting fleet '%s': %s", s->path,
                              (long long)run_id, f->fleet ? f->fleet : "(null)",
                              sqlite3_errmsg(s->db));
    }
    store_finalize(st);
    return code;
}

static int store_insert_metrics(Store *s, int64_t run_id, const StoreMetricRow *metrics,
                                int n_metrics, TsErr *err)
{
    static const char sql[] = "INSERT INTO metrics (run_id, fleet, metric, value, unit, p5, p50,"
                              " p95) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *st;
    if (store_prepare(s, sql, &st, "preparing the metrics rows", err))
        return TS_EIO;
    int code = 0;
    for (int i = 0; i < n_metrics && !code; i++) {
        const StoreMetricRow *m = &metrics[i];
        StoreBind b;
        store_bind_start(&b, st);
        store_bind_int64(&b, run_id);
        store_bind_text(&b, m->fleet);
        store_bind_text(&b, m->metric);
        store_bind_real(&b, m->value, m->has_value);
        store_bind_text(&b, m->unit);
        store_bind_real(&b, m->p5, m->has_pct);
        store_bind_real(&b, m->p50, m->has_pct);
        store_bind_real(&b, m->p95, m->has_pct);
        if (b.rc != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE || sqlite3_reset(st) != SQLITE_OK)
            code = ts_err_set(err, TS_EIO, "%s: run %lld: inserting metric '%s' of fleet '%s': %s",
                              s->path, (long long)run_id, m->metric ? m->metric : "(null)",
                              m->fleet ? m->fleet : "(null)", sqlite3_errmsg(s->db));
    }
    store_finalize(st);
    return code;
}

static int store_insert_measurements(Store *s, int64_t run_id, const StoreMeasurementRow *rows,
                                     int n, TsErr *err)
{
    static const char sql[] =
        "INSERT INTO measurements (run_id, model, precision, phase, batch, threads, prompt_tokens,"
        " tokens, seconds, seconds_p10, seconds_p90, flops, weight_bytes, kv_bytes, energy_j,"
        " energy_net_j, energy_low_j, energy_high_j, energy_source, kv_precision, mtp_depth,"
        " mtp_accept_forced, mtp_accept_measured, tokens_per_step) VALUES (?, ?, ?, ?, ?, ?, ?,"
        " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *st;
    if (n == 0)
        return 0;
    if (store_prepare(s, sql, &st, "preparing the measurement rows", err))
        return TS_EIO;
    int code = 0;
    for (int i = 0; i < n && !code; i++) {
        const StoreMeasurementRow *m = &rows[i];
        StoreBind b;
        store_bind_start(&b, st);
        store_bind_int64(&b, run_id);
        store_bind_text(&b, m->model);
        store_bind_text(&b, m->precision);
        store_bind_text(&b, m->phase);
        store_bind_int64(&b, m->batch);
        store_bind_int64(&b, m->threads);
        store_bind_int64(&b, m->prompt_tokens);
        store_bind_int64(&b, m->tokens);
        store_bind_real(&b, m->seconds, 1);
        store_bind_real(&b, m->seconds_p10, 1);
        store_bind_real(&b, m->seconds_p90, 1);
        store_bind_real(&b, m->flops, 1);
        store_bind_real(&b, m->weight_bytes, 1);
        store_bind_real(&b, m->kv_bytes, 1);
        store_bind_real(&b, m->energy_j, 1);
        store_bind_real(&b, m->energy_net_j, 1);
        store_bind_real(&b, m->energy_low_j, 1);
        store_bind_real(&b, m->energy_high_j, 1);
        store_bind_text(&b, m->energy_source);
        store_bind_text(&b, m->kv_precision ? m->kv_precision : "fp32");
        store_bind_int64(&b, m->mtp_depth);
        store_bind_real(&b, m->mtp_accept_forced, m->mtp_depth > 0 && m->mtp_accept_forced >= 0);
        store_bind_real(&b, m->mtp_accept_measured, m->mtp_depth > 0 && m->mtp_accept_measured >= 0);
        store_bind_real(&b, m->tokens_per_step, m->tokens_per_step > 0);
        if (b.rc != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE || sqlite3_reset(st) != SQLITE_OK)
            code = ts_err_set(err, TS_EIO, "%s: run %lld: inserting a measurement of '%s': %s",
                              s->path, (long long)run_id, m->model ? m->model : "(null)",
                              sqlite3_errmsg(s->db));
    }
    store_finalize(st);
    return code;
}

static int store_insert_validation(Store *s, int64_t run_id, const StoreValidationRow *rows,
                                   int n, TsErr *err)
{
    static const char sql[] = "INSERT INTO validation (run_id, model, phase, batch, threads,"
                              " predicted_tok_s, measured_tok_s) VALUES (?, ?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *st;
    if (n == 0)
        return 0;
    if (store_prepare(s, sql, &st, "preparing the validation rows", err))
        return TS_EIO;
    int code = 0;
    for (int i = 0; i < n && !code; i++) {
        const StoreValidationRow *v = &rows[i];
        StoreBind b;
        store_bind_start(&b, st);
        store_bind_int64(&b, run_id);
        store_bind_text(&b, v->model);
        store_bind_text(&b, v->phase);
        store_bind_int64(&b, v->batch);
        store_bind_int64(&b, v->threads);
        store_bind_real(&b, v->predicted_tok_s, 1);
        store_bind_real(&b, v->measured_tok_s, 1);
        if (b.rc != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE || sqlite3_reset(st) != SQLITE_OK)
            code = ts_err_set(err, TS_EIO, "%s: run %lld: inserting a validation row of '%s': %s",
                              s->path, (long long)run_id, v->model ? v->model : "(null)",
                              sqlite3_errmsg(s->db));
    }
    store_finalize(st);
    return code;
}

static int store_insert_tornado(Store *s, int64_t run_id, const StoreTornadoRow *rows, int n,
                                TsErr *err)
{
    static const char sql[] = "INSERT INTO tornado (run_id, fleet, input, low_x, high_x,"
                              " low_value, high_value) VALUES (?, ?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *st;
    if (n == 0)
        return 0;
    if (store_prepare(s, sql, &st, "preparing the tornado rows", err))
        return TS_EIO;
    int code = 0;
    for (int i = 0; i < n && !code; i++) {
        const StoreTornadoRow *t = &rows[i];
        StoreBind b;
        store_bind_start(&b, st);
        store_bind_int64(&b, run_id);
        store_bind_text(&b, t->fleet);
        store_bind_text(&b, t->input);
        store_bind_real(&b, t->low_x, 1);
        store_bind_real(&b, t->high_x, 1);
        store_bind_real(&b, t->low_value, 1);
        store_bind_real(&b, t->high_value, 1);
        if (b.rc != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE || sqlite3_reset(st) != SQLITE_OK)
            code = ts_err_set(err, TS_EIO, "%s: run %lld: inserting a tornado row: %s", s->path,
                              (long long)run_id, sqlite3_errmsg(s->db));
    }
    store_finalize(st);
    return code;
}

static int store_insert_histograms(Store *s, int64_t run_id, const StoreHistogramRow *rows,
                                   int n, TsErr *err)
{
    static const char sql[] = "INSERT INTO histograms (run_id, fleet, metric, bin_low, bin_high,"
                              " count) VALUES (?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *st;
    if (n == 0)
        return 0;
    if (store_prepare(s, sql, &st, "preparing the histogram rows", err))
        return TS_EIO;
    int code = 0;
    for (int i = 0; i < n && !code; i++) {
        const StoreHistogramRow *h = &rows[i];
        StoreBind b;
        store_bind_start(&b, st);
        store_bind_int64(&b, run_id);
        store_bind_text(&b, h->fleet);
        store_bind_text(&b, h->metric);
        store_bind_real(&b, h->bin_low, 1);
        store_bind_real(&b, h->bin_high, 1);
        store_bind_int64(&b, h->count);
        if (b.rc != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE || sqlite3_reset(st) != SQLITE_OK)
            code = ts_err_set(err, TS_EIO, "%s: run %lld: inserting a histogram row: %s", s->path,
                              (long long)run_id, sqlite3_errmsg(s->db));
    }
    store_finalize(st);
    return code;
}

int store_replace_validation(Store *s, int64_t run_id, const StoreValidationRow *rows, int n,
                             TsErr *err)
{
    if (store_exec(s, "BEGIN IMMEDIATE", "starting the validation transaction", err))
        return TS_EIO;
    sqlite3_stmt *st;
    int code = store_prepare(s, "DELETE FROM validation WHERE run_id = ?", &st,
                             "clearing the validation rows", err);
    if (!code) {
        StoreBind b;
        store_bind_start(&b, st);
        store_bind_int64(&b, run_id);
        if (b.rc != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE)
            code = ts_err_set(err, TS_EIO, "%s: clearing the validation of run %lld: %s", s->path,
                              (long long)run_id, sqlite3_errmsg(s->db));
        store_finalize(st);
    }
    if (!code)
        code = store_insert_validation(s, run_id, rows, n, err);
    if (!code && store_exec(s, "COMMIT", "committing the validation", err))
        code = TS_EIO;
    if (code)
        return store_rollback(s, code, err);
    return 0;
}

int store_run_finish_all(Store *s, int64_t run_id, const StoreResults *r, TsErr *err)
{
    assert(s && r && r->n_fleets >= 0 && r->n_metrics >= 0 && r->n_measurements >= 0);
    if (store_exec(s, "BEGIN IMMEDIATE", "starting the results transaction", err))
        return TS_EIO;
    /* Marking done first gives a clear message for a run that is not running; the rows and the
     * status commit together or not at all either way. */
    int code = store_update_run(s,
                                "UPDATE runs SET status = 'done', finished_at = " STORE_NOW_UTC
                                " WHERE id = ?1 AND status = 'running'",
                                run_id, NULL, "writing the run's results",
                                "is not running (missing, done or failed)", err);
    if (!code)
        code = store_insert_fleets(s, run_id, r->fleets, r->n_fleets, err);
    if (!code)
        code = store_insert_metrics(s, run_id, r->metrics, r->n_metrics, err);
    if (!code)
        code = store_insert_measurements(s, run_id, r->measurements, r->n_measurements, err);
    if (!code)
        code = store_insert_validation(s, run_id, r->validation, r->n_validation, err);
    if (!code)
        code = store_insert_tornado(s, run_id, r->tornado, r->n_tornado, err);
    if (!code)
        code = store_insert_histograms(s, run_id, r->histograms, r->n_histograms, err);
    if (!code && r->extra)
        code = r->extra(r->extra_ctx, s->db, run_id, err);
    if (!code && store_exec(s, "COMMIT", "committing the run's results", err))
        code = TS_EIO;
    if (code)
        return store_rollback(s, code, err);
    return 0;
}

int store_run_finish(Store *s, int64_t run_id, const StoreFleetRow *fleets, int n_fleets,
                     const StoreMetricRow *metrics, int n_metrics, TsErr *err)
{
    assert((fleets || n_fleets == 0) && (metrics || n_metrics == 0));
    StoreResults r = {fleets, n_fleets, metrics, n_metrics, NULL, 0, NULL, 0, NULL, 0, NULL, 0,
                      NULL, NULL};
    return store_run_finish_all(s, run_id, &r, err);
}

/* Reads one machine metric of a run; 0 when found. */
static int store_machine_metric(Store *s, int64_t run_id, const char *metric, double *out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT value FROM metrics WHERE run_id = ? AND fleet = '-'"
                                  " AND metric = ?", -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_text(st, 2, metric, -1, SQLITE_STATIC);
    int found = sqlite3_step(st) == SQLITE_ROW;
    if (found)
        *out = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return found ? 0 : -1;
}

int store_read_measurements(Store *s, int64_t run_id, int64_t *run_id_out, StoreMeasurements *m,
                            double *fp32_gflops, double *bandwidth_gb_s, TsErr *err)
{
    memset(m, 0, sizeof *m);
    sqlite3_stmt *st;
    if (run_id == 0) {
        if (sqlite3_prepare_v2(s->db, "SELECT max(id) FROM runs WHERE kind = 'measure' AND "
                                      "status = 'done'", -1, &st, NULL) != SQLITE_OK)
            return ts_err_set(err, TS_EIO, "%s: %s", s->path, sqlite3_errmsg(s->db));
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
            run_id = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        if (run_id == 0)
            return ts_err_set(err, TS_EINPUT, "%s has no finished measure run; run `tokensim "
                                              "measure` first", s->path);
    }
    *run_id_out = run_id;
    if (store_machine_metric(s, run_id, "fp32_gflops", fp32_gflops) ||
        store_machine_metric(s, run_id, "bandwidth_gb_s", bandwidth_gb_s))
        return ts_err_set(err, TS_EINPUT, "%s: run %lld is not a finished measure run with probed "
                                          "ceilings", s->path, (long long)run_id);
    static const char sql[] =
        "SELECT model, precision, phase, batch, threads, prompt_tokens, tokens, seconds,"
        " seconds_p10, seconds_p90, flops, weight_bytes, kv_bytes, energy_j, energy_net_j,"
        " energy_low_j, energy_high_j, energy_source FROM measurements WHERE run_id = ?"
        " ORDER BY rowid";
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return ts_err_set(err, TS_EIO, "%s: %s", s->path, sqlite3_errmsg(s->db));
    sqlite3_bind_int64(st, 1, run_id);
    int cap = 0, rc;
    size_t used = 0, scap = 0;
    /* strings go to a block as offsets first (it may move), pointers fixed at the end */
    size_t (*offs)[4] = NULL;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (m->n == cap) {
            cap = cap ? 2 * cap : 64;
            void *a = realloc(m->rows, sizeof *m->rows * (size_t)cap);
            void *b = realloc(offs, sizeof *offs * (size_t)cap);
            if (a)
                m->rows = a;
            if (b)
                offs = b;
            if (!a || !b)
                break;
        }
        StoreMeasurementRow *r = &m->rows[m->n];
        memset(r, 0, sizeof *r);
        static const int text_cols[4] = {0, 1, 2, 17};
        for (int k = 0; k < 4; k++) {
            const char *t = (const char *)sqlite3_column_text(st, text_cols[k]);
            size_t len = t ? strlen(t) + 1 : 1;
            if (used + len > scap) {
                scap = (used + len) * 2 + 256;
                char *p = realloc(m->strings, scap);
                if (!p) {
                    rc = SQLITE_NOMEM;
                    break;
                }
                m->strings = p;
            }
            memcpy(m->strings + used, t ? t : "", len);
            offs[m->n][k] = used;
            used += len;
        }
        if (rc == SQLITE_NOMEM)
            break;
        r->batch = sqlite3_column_int(st, 3);
        r->threads = sqlite3_column_int(st, 4);
        r->prompt_tokens = sqlite3_column_int(st, 5);
        r->tokens = sqlite3_column_int64(st, 6);
        double *d[] = {&r->seconds,  &r->seconds_p10, &r->seconds_p90,  &r->flops,
                       &r->weight_bytes, &r->kv_bytes, &r->energy_j, &r->energy_net_j,
                       &r->energy_low_j, &r->energy_high_j};
        for (int k = 0; k < 10; k++)
            *d[k] = sqlite3_column_double(st, 7 + k);
        m->n++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(offs);
        store_measurements_free(m);
        return ts_err_set(err, rc == SQLITE_NOMEM || rc == SQLITE_ROW ? TS_ENOMEM : TS_EIO,
                          "%s: reading the measurements of run %lld failed", s->path,
                          (long long)run_id);
    }
    for (int i = 0; i < m->n; i++) {
        m->rows[i].model = m->strings + offs[i][0];
        m->rows[i].precision = m->strings + offs[i][1];
        m->rows[i].phase = m->strings + offs[i][2];
        m->rows[i].energy_source = m->strings + offs[i][3];
    }
    free(offs);
    return 0;
}

void store_measurements_free(StoreMeasurements *m)
{
    if (!m)
        return;
    free(m->rows);
    free(m->strings);
    memset(m, 0, sizeof *m);
}

/* Shard runs (schema v3): a run's Monte Carlo blocks as blobs of doubles, for `tokensim merge`. */

const char *store_path(const Store *s)
{
    return s ? s->path : NULL;
}

/* The byte order of this machine's doubles, as mc_shards.byte_order names it. */
static const char *store_byte_order(void)
{
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first ? "little" : "big";
}

static void store_bind_doubles(StoreBind *b, const double *v, int n)
{
    int i = b->next++;
    if (b->rc != SQLITE_OK)
        return;
    /* a zero-length blob still binds a blob (not NULL) when the pointer is non-NULL */
    static const double none = 0;
    b->rc = sqlite3_bind_blob(b->st, i, n > 0 ? (const void *)v : (const void *)&none,
                              (int)(sizeof(double) * (size_t)n), SQLITE_STATIC);
}

static int store_insert_shard(Store *s, int64_t run_id, const StoreShardInfo *info, TsErr *err)
{
    static const char sql[] =
        "INSERT INTO mc_shards (run_id, shard, n_shards, samples, block_size, clamped,"
        " scenario_path, byte_order) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *st;
    if (store_prepare(s, sql, &st, "preparing the shard row", err))
        return TS_EIO;
    StoreBind b;
    store_bind_start(&b, st);
    store_bind_int64(&b, run_id);
    store_bind_int64(&b, info->shard);
    store_bind_int64(&b, info->n_shards);
    store_bind_int64(&b, info->samples);
    store_bind_int64(&b, info->block_size);
    store_bind_int64(&b, info->clamped);
    store_bind_text(&b, info->scenario_path);
    store_bind_text(&b, store_byte_order());
    int code = 0;
    if (b.rc != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE)
        code = ts_err_set(err, TS_EIO, "%s: run %lld: inserting shard %d/%d: %s", s->path,
                          (long long)run_id, info->shard, info->n_shards, sqlite3_errmsg(s->db));
    store_finalize(st);
    return code;
}

static int store_insert_mc_blocks(Store *s, int64_t run_id, const StoreMcBlockRow *rows, int n,
                                  TsErr *err)
{
    static const char sql[] = "INSERT INTO mc_blocks (run_id, block, fleet, sums, counts, samples,"
                              " failed) VALUES (?, ?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *st;
    if (n == 0)
        return 0;
    if (store_prepare(s, sql, &st, "preparing the Monte Carlo block rows", err))
        return TS_EIO;
    int code = 0;
    for (int i = 0; i < n && !code; i++) {
        const StoreMcBlockRow *r = &rows[i];
        StoreBind b;
        store_bind_start(&b, st);
        store_bind_int64(&b, run_id);
        store_bind_int64(&b, r->block);
        store_bind_int64(&b, r->fleet);
        store_bind_doubles(&b, r->sums, r->n_metrics);
        store_bind_doubles(&b, r->counts, r->n_metrics);
        store_bind_doubles(&b, r->samples, r->n_samples);
        store_bind_int64(&b, r->failed);
        if (b.rc != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE || sqlite3_reset(st) != SQLITE_OK)
            code = ts_err_set(err, TS_EIO, "%s: run %lld: inserting block %d of fleet %d: %s",
                              s->path, (long long)run_id, r->block, r->fleet,
                              sqlite3_errmsg(s->db));
    }
    store_finalize(st);
    return code;
}

int store_run_finish_shard(Store *s, int64_t run_id, const StoreShardInfo *info,
                           const StoreMcBlockRow *rows, int n, TsErr *err)
{
    assert(s && info && (rows || n == 0));
    if (store_exec(s, "BEGIN IMMEDIATE", "starting the shard transaction", err))
        return TS_EIO;
    int code = store_update_run(s,
                                "UPDATE runs SET status = 'done', finished_at = " STORE_NOW_UTC
                                " WHERE id = ?1 AND status = 'running'",
                                run_id, NULL, "writing the shard's blocks",
                                "is not running (missing, done or failed)", err);
    if (!code)
        code = store_insert_shard(s, run_id, info, err);
    if (!code)
        code = store_insert_mc_blocks(s, run_id, rows, n, err);
    if (!code && store_exec(s, "COMMIT", "committing the shard's blocks", err))
        code = TS_EIO;
    if (code)
        return store_rollback(s, code, err);
    return 0;
}

int store_open_readonly(const char *path, Store **out, TsErr *err)
{
    assert(path && out);
    *out = NULL;
    FILE *probe = fopen(path, "rb");
    if (!probe)
        return ts_err_set(err, TS_EINPUT, "%s: cannot open it (does it exist?)", path);
    fclose(probe);
    Store *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return ts_err_set(err, TS_ENOMEM, "%s: out of memory opening the database", path);
    }
    /* Read-write with query_only, so that as the last connection it removes the -wal and -shm
     * files that a read-only connection leaves beside the part; SQLITE_OPEN_READONLY when the
     * file or its folder cannot be written. Either way no statement can change the file. */
    int code = 0, version = 0;
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        (void)sqlite3_close(s->db);
        s->db = NULL;
        if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
            code = s->db ? store_fail(s, "cannot open the database", err)
                         : ts_err_set(err, TS_ENOMEM, "%s: out of memory opening the database",
                                      path);
    }
    if (!code && sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS) != SQLITE_OK)
        code = store_fail(s, "setting the busy timeout", err);
    if (!code)
        code = store_exec(s, "PRAGMA query_only = 1", "opening it read-only", err);
    if (!code && (code = store_user_version(s, &version, err)) != 0 &&
        sqlite3_errcode(s->db) == SQLITE_NOTADB)
        code = ts_err_set(err, TS_EINPUT, "%s: cannot read it as a SQLite database: %s", path,
                          sqlite3_errmsg(s->db));
    if (!code && version > STORE_SCHEMA_VERSION)
        code = store_refuse_newer(s, version, err);
    if (code) {
        store_close(s);
        return code;
    }
    *out = s;
    return 0;
}

/* A copy of column col's text, "" for NULL; NULL only when out of memory. */
static char *store_column_dup(sqlite3_stmt *st, int col)
{
    const char *t = (const char *)sqlite3_column_text(st, col);
    return strdup(t ? t : "");
}

void store_shard_run_free(StoreShardRun *r)
{
    if (!r)
        return;
    free(r->name);
    free(r->scenario_sha256);
    free(r->scenario_text);
    free(r->version);
    free(r->scenario_path);
    memset(r, 0, sizeof *r);
}

int store_read_shard_run(Store *s, StoreShardRun *out, TsErr *err)
{
    assert(s && out);
    memset(out, 0, sizeof *out);
    int version = 0;
    if (store_user_version(s, &version, err))
        return TS_EIO;
    if (version < 3)
        return ts_err_set(err, TS_EINPUT,
                          "%s holds no shard run (schema version %d predates `run --shard`)",
                          s->path, version);
    static const char sql[] =
        "SELECT r.id, r.seed, r.name, r.scenario_sha256, r.scenario_text, r.version, m.shard,"
        " m.n_shards, m.samples, m.block_size, m.clamped, m.scenario_path, m.byte_order"
        " FROM runs r JOIN mc_shards m ON m.run_id = r.id WHERE r.status = 'done' ORDER BY r.id";
    sqlite3_stmt *st;
    if (store_prepare(s, sql, &st, "reading the shard run", err))
        return TS_EIO;
    int n = 0, rc, code = 0;
    char order[16] = "";
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && ++n == 1) {
        out->run_id = sqlite3_column_int64(st, 0);
        out->seed = sqlite3_column_int64(st, 1);
        out->name = store_column_dup(st, 2);
        out->scenario_sha256 = store_column_dup(st, 3);
        out->scenario_text = store_column_dup(st, 4);
        out->version = store_column_dup(st, 5);
        out->shard = sqlite3_column_int(st, 6);
        out->n_shards = sqlite3_column_int(st, 7);
        out->samples = sqlite3_column_int64(st, 8);
        out->block_size = sqlite3_column_int(st, 9);
        out->clamped = sqlite3_column_int64(st, 10);
        out->scenario_path = store_column_dup(st, 11);
        const char *bo = (const char *)sqlite3_column_text(st, 12);
        snprintf(order, sizeof order, "%s", bo ? bo : "");
    }
    while (rc == SQLITE_ROW) { /* count the others for the message */
        rc = sqlite3_step(st);
        n += rc == SQLITE_ROW;
    }
    if (rc != SQLITE_DONE)
        code = store_fail(s, "reading the shard run", err);
    store_finalize(st);
    if (!code && n > 0 &&
        (!out->name || !out->scenario_sha256 || !out->scenario_text || !out->version ||
         !out->scenario_path))
        code = ts_err_set(err, TS_ENOMEM, "%s: out of memory reading the shard run", s->path);
    else if (!code && n == 0)
        code = ts_err_set(err, TS_EINPUT,
                          "%s holds no finished shard run (`tokensim run --shard K/N` writes one)",
                          s->path);
    else if (!code && n > 1)
        code = ts_err_set(err, TS_EINPUT,
                          "%s holds %d finished shard runs; merge takes one per database "
                          "(give each shard its own --db)",
                          s->path, n);
    else if (!code && strcmp(order, store_byte_order()) != 0)
        code = ts_err_set(err, TS_EINPUT,
                          "%s: its blocks were written on a %s-endian machine and this one is "
                          "%s-endian; merge on a machine like the one that ran the shard",
                          s->path, order, store_byte_order());
    if (code)
        store_shard_run_free(out);
    return code;
}

/* Copies a blob of whole doubles into *buf (grown as needed; the blob may not be aligned).
 * -1 when its size is not whole doubles or memory runs out. */
static int store_column_doubles(sqlite3_stmt *st, int col, double **buf, size_t *cap, int *n)
{
    int bytes = sqlite3_column_bytes(st, col);
    const void *p = sqlite3_column_blob(st, col);
    if (bytes < 0 || bytes % (int)sizeof(double) != 0 || (bytes > 0 && !p))
        return -1;
    size_t count = (size_t)bytes / sizeof(double);
    if (count > *cap) {
        double *grown = realloc(*buf, count * sizeof(double));
        if (!grown)
            return -1;
        *buf = grown;
        *cap = count;
    }
    if (count > 0)
        memcpy(*buf, p, (size_t)bytes);
    *n = (int)count;
    return 0;
}

int store_each_mc_block(Store *s, int64_t run_id,
                        int (*fn)(void *ctx, const StoreMcBlockRow *row, TsErr *err), void *ctx,
                        TsErr *err)
{
    assert(s && fn);
    static const char sql[] = "SELECT block, fleet, sums, counts, samples, failed FROM mc_blocks"
                              " WHERE run_id = ? ORDER BY block, fleet";
    sqlite3_stmt *st;
    if (store_prepare(s, sql, &st, "reading the Monte Carlo blocks", err))
        return TS_EIO;
    double *buf[3] = {NULL, NULL, NULL};
    size_t cap[3] = {0, 0, 0};
    int code = 0, rc = SQLITE_OK;
    if (sqlite3_bind_int64(st, 1, run_id) != SQLITE_OK)
        code = store_fail(s, "reading the Monte Carlo blocks", err);
    while (!code && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        StoreMcBlockRow row = {.block = sqlite3_column_int(st, 0),
                               .fleet = sqlite3_column_int(st, 1),
                               .failed = sqlite3_column_int64(st, 5)};
        int n_sums = 0;
        if (store_column_doubles(st, 2, &buf[0], &cap[0], &n_sums) ||
            store_column_doubles(st, 3, &buf[1], &cap[1], &row.n_metrics) ||
            store_column_doubles(st, 4, &buf[2], &cap[2], &row.n_samples)) {
            code = ts_err_set(err, TS_EINPUT,
                              "%s: run %lld: block %d of fleet %d is not whole doubles (or "
                              "memory ran out)",
                              s->path, (long long)run_id, row.block, row.fleet);
            break;
        }
        if (n_sums != row.n_metrics) {
            code = ts_err_set(err, TS_EINPUT,
                              "%s: run %lld: block %d of fleet %d has %d sums and %d counts",
                              s->path, (long long)run_id, row.block, row.fleet, n_sums,
                              row.n_metrics);
            break;
        }
        row.sums = buf[0];
        row.counts = buf[1];
        row.samples = buf[2];
        code = fn(ctx, &row, err);
    }
    if (!code && rc != SQLITE_DONE)
        code = store_fail(s, "reading the Monte Carlo blocks", err);
    store_finalize(st);
    for (int i = 0; i < 3; i++)
        free(buf[i]);
    return code;
}

int store_each_run(Store *s, int limit, int (*fn)(void *ctx, const StoreRunRow *row, TsErr *err),
                   void *ctx, TsErr *err)
{
    assert(s && fn);
    static const char sql[] =
        "SELECT r.id, r.kind, r.name, r.status, r.started_at, r.finished_at, r.out_dir, r.error,"
        " (SELECT count(*) FROM fleets f WHERE f.run_id = r.id)"
        " FROM runs r ORDER BY r.id DESC LIMIT ?";
    sqlite3_stmt *st;
    if (store_prepare(s, sql, &st, "listing the runs", err))
        return TS_EIO;
    int code = 0, rc = SQLITE_OK;
    if (sqlite3_bind_int64(st, 1, limit > 0 ? limit : -1) != SQLITE_OK)
        code = store_fail(s, "listing the runs", err);
    while (!code && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *text[7];
        for (int i = 0; i < 7; i++) {
            text[i] = (const char *)sqlite3_column_text(st, i + 1);
            if (!text[i])
                text[i] = "";
        }
        StoreRunRow row = {.id = sqlite3_column_int64(st, 0),
                           .kind = text[0],
                           .name = text[1],
                           .status = text[2],
                           .started_at = text[3],
                           .finished_at = text[4],
                           .out_dir = text[5],
                           .error = text[6],
                           .n_fleets = sqlite3_column_int(st, 8)};
        code = fn(ctx, &row, err);
    }
    if (!code && rc != SQLITE_DONE)
        code = store_fail(s, "listing the runs", err);
    store_finalize(st);
    return code;
}

int store_each_metric(Store *s, int64_t run_id,
                      int (*fn)(void *ctx, const StoreMetricRow *row, TsErr *err), void *ctx,
                      TsErr *err)
{
    assert(s && fn);
    static const char sql[] = "SELECT fleet, metric, unit, value, p5, p50, p95 FROM metrics"
                              " WHERE run_id = ? ORDER BY fleet, metric";
    sqlite3_stmt *st;
    if (store_prepare(s, sql, &st, "reading the metrics", err))
        return TS_EIO;
    int code = 0, rc = SQLITE_OK;
    if (sqlite3_bind_int64(st, 1, run_id) != SQLITE_OK)
        code = store_fail(s, "reading the metrics", err);
    while (!code && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *text[3];
        for (int i = 0; i < 3; i++) {
            text[i] = (const char *)sqlite3_column_text(st, i);
            if (!text[i])
                text[i] = "";
        }
        StoreMetricRow row = {
            .fleet = text[0],
            .metric = text[1],
            .unit = text[2],
            .value = sqlite3_column_double(st, 3),
            .p5 = sqlite3_column_double(st, 4),
            .p50 = sqlite3_column_double(st, 5),
            .p95 = sqlite3_column_double(st, 6),
            .has_value = sqlite3_column_type(st, 3) != SQLITE_NULL,
            .has_pct = sqlite3_column_type(st, 4) != SQLITE_NULL &&
                       sqlite3_column_type(st, 5) != SQLITE_NULL &&
                       sqlite3_column_type(st, 6) != SQLITE_NULL,
        };
        code = fn(ctx, &row, err);
    }
    if (!code && rc != SQLITE_DONE)
        code = store_fail(s, "reading the metrics", err);
    store_finalize(st);
    return code;
}
