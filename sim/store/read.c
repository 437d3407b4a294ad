/* read: runs read back for the commands and the renderers: the measurements of a measure run,
 * a shard run and its blocks, the list of runs and a run's metrics. Prepared statements only. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/store/internal.h"

/* Reads one machine metric of a run; 0 when found. */
static int store_machine_metric(Store *s, int64_t run_id, const char *metric, double *out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT value FROM metrics WHERE run_id = ? AND fleet = '-'"
                           " AND metric = ?",
                           -1, &st, NULL) != SQLITE_OK)
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
        if (sqlite3_prepare_v2(s->db,
                               "SELECT max(id) FROM runs WHERE kind = 'measure' AND "
                               "status = 'done' AND id IN (SELECT run_id FROM measurements)",
                               -1, &st, NULL) != SQLITE_OK)
            return ts_err_set(err, TS_EIO, "%s: %s", s->path, sqlite3_errmsg(s->db));
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
            run_id = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        if (run_id == 0)
            return ts_err_set(err, TS_EINPUT,
                              "%s has no finished measure run; run `tokensim "
                              "measure` first",
                              s->path);
    }
    *run_id_out = run_id;
    if (store_machine_metric(s, run_id, "fp32_gflops", fp32_gflops) ||
        store_machine_metric(s, run_id, "bandwidth_gb_s", bandwidth_gb_s))
        return ts_err_set(err, TS_EINPUT,
                          "%s: run %lld is not a finished measure run with probed "
                          "ceilings",
                          s->path, (long long)run_id);
    static const char sql[] =
        "SELECT model, precision, phase, batch, threads, prompt_tokens, tokens, seconds,"
        " seconds_p10, seconds_p90, flops, weight_bytes, kv_bytes, energy_j, energy_net_j,"
        " energy_low_j, energy_high_j, energy_source, kv_precision, mtp_depth FROM measurements"
        " WHERE run_id = ?"
        " ORDER BY rowid";
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return ts_err_set(err, TS_EIO, "%s: %s", s->path, sqlite3_errmsg(s->db));
    sqlite3_bind_int64(st, 1, run_id);
    int cap = 0, rc;
    size_t used = 0, scap = 0;
    /* strings go to a block as offsets first (it may move), pointers fixed at the end */
    size_t(*offs)[5] = NULL;
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
        static const int text_cols[5] = {0, 1, 2, 17, 18};
        for (int k = 0; k < 5; k++) {
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
        double *d[] = {&r->seconds,      &r->seconds_p10,  &r->seconds_p90, &r->flops,
                       &r->weight_bytes, &r->kv_bytes,     &r->energy_j,    &r->energy_net_j,
                       &r->energy_low_j, &r->energy_high_j};
        for (int k = 0; k < 10; k++)
            *d[k] = sqlite3_column_double(st, 7 + k);
        r->mtp_depth = sqlite3_column_int(st, 19);
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
        /* NULL (runs before schema 5): fp32, as the row's contract says */
        const char *kv = m->strings + offs[i][4];
        m->rows[i].kv_precision = kv[0] ? kv : NULL;
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
            code = ts_err_set(
                err, TS_EINPUT, "%s: run %lld: block %d of fleet %d has %d sums and %d counts",
                s->path, (long long)run_id, row.block, row.fleet, n_sums, row.n_metrics);
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
