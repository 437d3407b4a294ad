/* schema: the tables (scenario-format.md, "Results in SQLite", and the steps this project
 * added), migrations one step at a time by PRAGMA user_version, and opening a database with WAL,
 * foreign keys and a busy timeout (read-write, or read-only without migrating). */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/store/internal.h"

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
    /* 5 -> 6: everything a report shows, so that every output is rendered from the stored run
     * (docs/architecture.md, "One path out"): the inputs a report lists with their origin, the
     * run's notes (scenario path and description, warnings, the question and its conclusion),
     * the catalog rows used; which part of a run each metric row belongs to; and per fleet
     * whether it is an optimizer candidate, is over capacity, and failed Monte Carlo samples;
     * the deployment search's frontier (every instance size a roofline fleet tried); and the
     * roofline held against published measurements (validate --published) with its fits. */
    "CREATE TABLE run_inputs ("
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  seq INTEGER NOT NULL,"
    "  fleet TEXT NOT NULL,"
    "  part TEXT NOT NULL,"
    "  key TEXT NOT NULL,"
    "  value REAL,"
    "  text TEXT,"
    "  unit TEXT NOT NULL,"
    "  origin TEXT NOT NULL,"
    "  PRIMARY KEY (run_id, seq)"
    ") STRICT;"
    "CREATE TABLE run_notes ("
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  seq INTEGER NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  fleet TEXT NOT NULL,"
    "  text TEXT NOT NULL,"
    "  PRIMARY KEY (run_id, seq)"
    ") STRICT;"
    "CREATE TABLE run_sources ("
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  seq INTEGER NOT NULL,"
    "  catalog TEXT NOT NULL,"
    "  row TEXT NOT NULL,"
    "  place TEXT NOT NULL,"
    "  source TEXT,"
    "  as_of TEXT,"
    "  confidence TEXT,"
    "  PRIMARY KEY (run_id, seq)"
    ") STRICT;"
    "CREATE TABLE deployments ("
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  fleet TEXT NOT NULL,"
    "  chips_per_instance INTEGER NOT NULL CHECK (chips_per_instance > 0),"
    "  feasible INTEGER NOT NULL CHECK (feasible IN (0, 1)),"
    "  why TEXT,"
    "  batch INTEGER,"
    "  bound TEXT,"
    "  tpot_ms REAL,"
    "  ttft_ms REAL,"
    "  decode_tok_s_per_chip REAL,"
    "  usd_per_m_output REAL,"
    "  usd_per_m_blended REAL,"
    "  chosen INTEGER NOT NULL CHECK (chosen IN (0, 1)),"
    "  PRIMARY KEY (run_id, fleet, chips_per_instance)"
    ") STRICT;"
    "CREATE TABLE published_validation ("
    "  validated_at TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  family TEXT NOT NULL,"
    "  chip TEXT NOT NULL,"
    "  model TEXT NOT NULL,"
    "  chips INTEGER NOT NULL,"
    "  concurrency INTEGER,"
    "  measured_tok_s_per_chip REAL NOT NULL,"
    "  predicted_tok_s_per_chip REAL,"
    "  fitted_tok_s_per_chip REAL,"
    "  held_out INTEGER NOT NULL CHECK (held_out IN (0, 1)),"
    "  why TEXT"
    ") STRICT;"
    "CREATE TABLE published_fits ("
    "  validated_at TEXT NOT NULL,"
    "  family TEXT NOT NULL,"
    "  eff_compute REAL NOT NULL,"
    "  eff_memory REAL NOT NULL,"
    "  step_overhead_ms REAL NOT NULL,"
    "  collective_us REAL NOT NULL,"
    "  n_train INTEGER NOT NULL,"
    "  n_test INTEGER NOT NULL,"
    "  train_median_err REAL,"
    "  test_median_err REAL"
    ") STRICT;"
    "ALTER TABLE metrics ADD COLUMN part TEXT;"
    "ALTER TABLE fleets ADD COLUMN candidate INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE fleets ADD COLUMN over_capacity INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE fleets ADD COLUMN failed_samples INTEGER;"
    "PRAGMA user_version = 6;",
    /* 6 -> 7: serving under load: a simulated fleet's day (serving_series, latency_histograms);
     * the step-time model calibrated on a measure run (calibrations, calibration_residuals);
     * the real engine serving traffic (serving_requests, serving_tokens). */
    "CREATE TABLE serving_series ("
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  fleet TEXT NOT NULL,"
    "  start_s REAL NOT NULL,"
    "  arrivals INTEGER NOT NULL,"
    "  completions INTEGER NOT NULL,"
    "  output_tokens REAL NOT NULL,"
    "  prefill_tokens REAL NOT NULL,"
    "  queue REAL NOT NULL,"
    "  batch REAL NOT NULL,"
    "  kv_occupancy REAL NOT NULL,"
    "  busy_share REAL NOT NULL,"
    "  ttft_p90_ms REAL,"
    "  e2e_p90_s REAL,"
    "  usd_per_hour REAL"
    ") STRICT;"
    "CREATE INDEX serving_series_by_run ON serving_series (run_id, fleet);"
    "CREATE TABLE latency_histograms ("
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  fleet TEXT NOT NULL,"
    "  latency TEXT NOT NULL CHECK (latency IN ('ttft', 'tpot', 'itl', 'e2e')),"
    "  bin_low_s REAL NOT NULL,"
    "  bin_high_s REAL NOT NULL,"
    "  count REAL NOT NULL"
    ") STRICT;"
    "CREATE INDEX latency_histograms_by_run ON latency_histograms (run_id, fleet);"
    /* issue 19: the step-time model fitted to a measure run (`tokensim calibrate`), one row
     * per precision group, and every configuration's residual */
    "CREATE TABLE calibrations ("
    "  id INTEGER PRIMARY KEY,"
    "  created_at TEXT NOT NULL,"
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  precision TEXT NOT NULL,"
    "  kv_precision TEXT NOT NULL,"
    "  threads INTEGER NOT NULL,"
    "  peak_gflops REAL NOT NULL,"
    "  bandwidth_gb_s REAL NOT NULL,"
    "  eff_compute REAL NOT NULL,"
    "  eff_prefill REAL NOT NULL,"
    "  eff_memory REAL NOT NULL,"
    "  step_overhead_ms REAL NOT NULL,"
    "  attn_ns_per_pair REAL NOT NULL,"
    "  overlap REAL NOT NULL,"
    "  n_train INTEGER NOT NULL,"
    "  n_test INTEGER NOT NULL,"
    "  train_median_err REAL,"
    "  test_median_err REAL,"
    "  converged INTEGER NOT NULL CHECK (converged IN (0, 1))"
    ") STRICT;"
    "CREATE TABLE calibration_residuals ("
    "  calibration_id INTEGER NOT NULL REFERENCES calibrations(id) ON DELETE CASCADE,"
    "  model TEXT NOT NULL,"
    "  phase TEXT NOT NULL,"
    "  batch INTEGER NOT NULL,"
    "  held_out INTEGER NOT NULL CHECK (held_out IN (0, 1)),"
    "  measured_s REAL NOT NULL,"
    "  predicted_s REAL NOT NULL"
    ") STRICT;"
    /* issue 19: the real engine serving traffic (`tokensim serve-bench`): each request and
     * every answer token's time */
    "CREATE TABLE serving_requests ("
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  request INTEGER NOT NULL,"
    "  arrival_s REAL NOT NULL,"
    "  first_token_s REAL,"
    "  finish_s REAL,"
    "  input_tokens INTEGER NOT NULL,"
    "  output_tokens INTEGER NOT NULL,"
    "  preemptions INTEGER NOT NULL,"
    "  PRIMARY KEY (run_id, request)"
    ") STRICT;"
    "CREATE TABLE serving_tokens ("
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  request INTEGER NOT NULL,"
    "  k INTEGER NOT NULL,"
    "  time_s REAL NOT NULL,"
    "  PRIMARY KEY (run_id, request, k)"
    ") STRICT;"
    "PRAGMA user_version = 7;",
    /* 7 -> 8: `validate --serving`: the simulator with the calibrated step model against the
     * real engine, one row per (model, arrival rate, quantity) */
    "CREATE TABLE serving_validation ("
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  model TEXT NOT NULL,"
    "  calibration_id INTEGER NOT NULL,"
    "  capacity_req_s REAL NOT NULL,"
    "  rate_req_s REAL NOT NULL,"
    "  load_share REAL NOT NULL,"
    "  requests INTEGER NOT NULL,"
    "  quantity TEXT NOT NULL,"
    "  unit TEXT NOT NULL,"
    "  measured REAL,"
    "  predicted REAL"
    ") STRICT;"
    "PRAGMA user_version = 8;",
};

_Static_assert(sizeof STORE_MIGRATIONS / sizeof STORE_MIGRATIONS[0] == STORE_SCHEMA_VERSION,
               "one migration step per schema version");
/* Reads PRAGMA user_version. This is the first read of the file, so a file that is not a SQLite
 * database fails here, before anything is written to it. */
int store_user_version(Store *s, int *version, TsErr *err)
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
            code = s->db
                       ? store_fail(s, "cannot open the database", err)
                       : ts_err_set(err, TS_ENOMEM, "%s: out of memory opening the database", path);
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

const char *store_path(const Store *s)
{
    return s ? s->path : NULL;
}
