/* write: the run lifecycle (running -> done | failed): a runs row committed first, then every
 * result row of a run and `done` in one transaction, or a shard's Monte Carlo blocks. Prepared
 * statements only; it knows nothing of scenarios or formulas. */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "sim/store/internal.h"

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
        " energy_source, bound, candidate, over_capacity, failed_samples)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
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
        store_bind_int64(&b, f->candidate != 0);
        store_bind_int64(&b, f->over_capacity != 0);
        store_bind_real(&b, (double)f->failed_samples, f->failed_samples >= 0);
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
                              " p95, part) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
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
        store_bind_text(&b, m->part);
        if (b.rc != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE || sqlite3_reset(st) != SQLITE_OK)
            code = ts_err_set(err, TS_EIO, "%s: run %lld: inserting metric '%s' of fleet '%s': %s",
                              s->path, (long long)run_id, m->metric ? m->metric : "(null)",
                              m->fleet ? m->fleet : "(null)", sqlite3_errmsg(s->db));
    }
    store_finalize(st);
    return code;
}

void store_measurement_label(char *buf, int size, const char *model, const char *precision,
                             const char *kv_precision, int batch, int mtp_depth,
                             double mtp_accept_forced)
{
    int n = snprintf(buf, (size_t)size, "%s %s KV %s batch %d", model, precision,
                     kv_precision ? kv_precision : "fp32", batch);
    if (mtp_depth > 0 && n >= 0 && n < size)
        n += snprintf(buf + n, (size_t)(size - n), " MTP %d", mtp_depth);
    if (mtp_depth > 0 && mtp_accept_forced >= 0 && n >= 0 && n < size)
        snprintf(buf + n, (size_t)(size - n), " forced %g", mtp_accept_forced);
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
        store_bind_real(&b, m->mtp_accept_measured,
                        m->mtp_depth > 0 && m->mtp_accept_measured >= 0);
        store_bind_real(&b, m->tokens_per_step, m->tokens_per_step > 0);
        if (b.rc != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE || sqlite3_reset(st) != SQLITE_OK)
            code = ts_err_set(err, TS_EIO, "%s: run %lld: inserting a measurement of '%s': %s",
                              s->path, (long long)run_id, m->model ? m->model : "(null)",
                              sqlite3_errmsg(s->db));
    }
    store_finalize(st);
    return code;
}

static int store_insert_validation(Store *s, int64_t run_id, const StoreValidationRow *rows, int n,
                                   TsErr *err)
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

static int store_insert_histograms(Store *s, int64_t run_id, const StoreHistogramRow *rows, int n,
                                   TsErr *err)
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

/* One INSERT per row of a table whose rows the caller lays out with bind_row; what names the
 * rows in messages. */
static int store_insert_each(Store *s, int64_t run_id, const char *sql, const char *what,
                             long n, void (*bind_row)(StoreBind *b, const void *rows, long i),
                             const void *rows, TsErr *err)
{
    if (n <= 0)
        return 0;
    sqlite3_stmt *st;
    char msg[96];
    snprintf(msg, sizeof msg, "preparing the %s rows", what);
    if (store_prepare(s, sql, &st, msg, err))
        return TS_EIO;
    int code = 0;
    for (long i = 0; i < n && !code; i++) {
        StoreBind b;
        store_bind_start(&b, st);
        store_bind_int64(&b, run_id);
        bind_row(&b, rows, i);
        if (b.rc != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE || sqlite3_reset(st) != SQLITE_OK)
            code = ts_err_set(err, TS_EIO, "%s: run %lld: inserting %s row %ld: %s", s->path,
                              (long long)run_id, what, i + 1, sqlite3_errmsg(s->db));
    }
    store_finalize(st);
    return code;
}

static void bind_input(StoreBind *b, const void *rows, long i)
{
    const StoreInputRow *r = (const StoreInputRow *)rows + i;
    store_bind_int64(b, i);
    store_bind_text(b, r->fleet);
    store_bind_text(b, r->part);
    store_bind_text(b, r->key);
    store_bind_real(b, r->value, r->has_value);
    store_bind_text(b, r->text);
    store_bind_text(b, r->unit ? r->unit : "");
    store_bind_text(b, r->origin ? r->origin : "");
}

static void bind_note(StoreBind *b, const void *rows, long i)
{
    const StoreNoteRow *r = (const StoreNoteRow *)rows + i;
    store_bind_int64(b, i);
    store_bind_text(b, r->kind);
    store_bind_text(b, r->fleet ? r->fleet : "-");
    store_bind_text(b, r->text ? r->text : "");
}

static void bind_source(StoreBind *b, const void *rows, long i)
{
    const StoreSourceRow *r = (const StoreSourceRow *)rows + i;
    store_bind_int64(b, i);
    store_bind_text(b, r->catalog);
    store_bind_text(b, r->row);
    store_bind_text(b, r->place);
    store_bind_text(b, r->source);
    store_bind_text(b, r->as_of);
    store_bind_text(b, r->confidence);
}

static void bind_comparison(StoreBind *b, const void *rows, long i)
{
    const StoreComparisonRow *r = (const StoreComparisonRow *)rows + i;
    store_bind_text(b, r->fleet);
    store_bind_text(b, r->baseline);
    store_bind_text(b, r->metric);
    store_bind_real(b, r->ratio, r->has_ratio);
}

static void bind_sweep(StoreBind *b, const void *rows, long i)
{
    const StoreSweepRow *r = (const StoreSweepRow *)rows + i;
    store_bind_text(b, r->fleet);
    store_bind_text(b, r->param);
    store_bind_real(b, r->x, 1);
    store_bind_text(b, r->param2);
    store_bind_real(b, r->y, r->param2 != NULL);
    store_bind_text(b, r->metric);
    store_bind_real(b, r->value, r->has_value);
}

static void bind_deployment(StoreBind *b, const void *rows, long i)
{
    const StoreDeploymentRow *r = (const StoreDeploymentRow *)rows + i;
    store_bind_text(b, r->fleet);
    store_bind_int64(b, r->chips_per_instance);
    store_bind_int64(b, r->feasible != 0);
    store_bind_text(b, r->why);
    store_bind_real(b, r->batch, r->feasible);
    store_bind_text(b, r->feasible ? r->bound : NULL);
    store_bind_real(b, r->tpot_ms, r->feasible);
    store_bind_real(b, r->ttft_ms, r->feasible);
    store_bind_real(b, r->decode_tok_s_per_chip, r->feasible);
    store_bind_real(b, r->usd_per_m_output, r->feasible);
    store_bind_real(b, r->usd_per_m_blended, r->feasible);
    store_bind_int64(b, r->chosen != 0);
}

static void bind_series(StoreBind *b, const void *rows, long i)
{
    const StoreSeriesRow *r = (const StoreSeriesRow *)rows + i;
    store_bind_text(b, r->fleet);
    store_bind_real(b, r->start_s, 1);
    store_bind_int64(b, r->arrivals);
    store_bind_int64(b, r->completions);
    store_bind_real(b, r->output_tokens, 1);
    store_bind_real(b, r->prefill_tokens, 1);
    store_bind_real(b, r->queue, 1);
    store_bind_real(b, r->batch, 1);
    store_bind_real(b, r->kv_occupancy, 1);
    store_bind_real(b, r->busy_share, 1);
    store_bind_real(b, r->ttft_p90_ms, 1);
    store_bind_real(b, r->e2e_p90_s, 1);
    store_bind_real(b, r->usd_per_hour, 1);
}

static void bind_latency(StoreBind *b, const void *rows, long i)
{
    const StoreLatencyRow *r = (const StoreLatencyRow *)rows + i;
    store_bind_text(b, r->fleet);
    store_bind_text(b, r->latency);
    store_bind_real(b, r->bin_low_s, 1);
    store_bind_real(b, r->bin_high_s, 1);
    store_bind_real(b, r->count, 1);
}

/* The rows of schema 6 and the comparisons and sweep points of r. */
static int store_insert_report_rows(Store *s, int64_t run_id, const StoreResults *r, TsErr *err)
{
    if (store_insert_each(s, run_id,
                          "INSERT INTO run_inputs (run_id, seq, fleet, part, key, value, text,"
                          " unit, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                          "input", r->n_inputs, bind_input, r->inputs, err) ||
        store_insert_each(s, run_id,
                          "INSERT INTO run_notes (run_id, seq, kind, fleet, text)"
                          " VALUES (?, ?, ?, ?, ?)",
                          "note", r->n_notes, bind_note, r->notes, err) ||
        store_insert_each(s, run_id,
                          "INSERT INTO run_sources (run_id, seq, catalog, row, place, source,"
                          " as_of, confidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                          "source", r->n_sources, bind_source, r->sources, err) ||
        store_insert_each(s, run_id,
                          "INSERT INTO comparisons (run_id, fleet, baseline, metric, ratio)"
                          " VALUES (?, ?, ?, ?, ?)",
                          "comparison", r->n_comparisons, bind_comparison, r->comparisons, err) ||
        store_insert_each(s, run_id,
                          "INSERT INTO sweep_points (run_id, fleet, param, x, param2, y, metric,"
                          " value) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                          "sweep", r->n_sweep, bind_sweep, r->sweep, err) ||
        store_insert_each(s, run_id,
                          "INSERT INTO deployments (run_id, fleet, chips_per_instance, feasible,"
                          " why, batch, bound, tpot_ms, ttft_ms, decode_tok_s_per_chip,"
                          " usd_per_m_output, usd_per_m_blended, chosen)"
                          " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                          "deployment", r->n_deployments, bind_deployment, r->deployments, err) ||
        store_insert_each(s, run_id,
                          "INSERT INTO serving_series (run_id, fleet, start_s, arrivals,"
                          " completions, output_tokens, prefill_tokens, queue, batch, kv_occupancy,"
                          " busy_share, ttft_p90_ms, e2e_p90_s, usd_per_hour)"
                          " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                          "serving series", r->n_series, bind_series, r->series, err) ||
        store_insert_each(s, run_id,
                          "INSERT INTO latency_histograms (run_id, fleet, latency, bin_low_s,"
                          " bin_high_s, count) VALUES (?, ?, ?, ?, ?, ?)",
                          "latency histogram", r->n_latencies, bind_latency, r->latencies, err))
        return err->code;
    return 0;
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
    if (!code)
        code = store_insert_report_rows(s, run_id, r, err);
    if (!code && r->then)
        code = r->then(r->then_ctx, s, run_id, err);
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
    StoreResults r = {.fleets = fleets, .n_fleets = n_fleets, .metrics = metrics,
                      .n_metrics = n_metrics};
    return store_run_finish_all(s, run_id, &r, err);
}

/* The byte order of this machine's doubles, as mc_shards.byte_order names it. */
const char *store_byte_order(void)
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
            code =
                ts_err_set(err, TS_EIO, "%s: run %lld: inserting block %d of fleet %d: %s", s->path,
                           (long long)run_id, r->block, r->fleet, sqlite3_errmsg(s->db));
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

static void bind_published(StoreBind *b, const void *rows, long i)
{
    const StorePublishedRow *r = (const StorePublishedRow *)rows + i;
    store_bind_text(b, r->name);
    store_bind_text(b, r->family);
    store_bind_text(b, r->chip);
    store_bind_text(b, r->model);
    store_bind_int64(b, r->chips);
    store_bind_real(b, r->concurrency, r->concurrency > 0);
    store_bind_real(b, r->measured, 1);
    store_bind_real(b, r->predicted, 1);
    store_bind_real(b, r->fitted, 1);
    store_bind_int64(b, r->held_out != 0);
    store_bind_text(b, r->why && r->why[0] ? r->why : NULL);
}

static void bind_fit(StoreBind *b, const void *rows, long i)
{
    const StorePublishedFit *f = (const StorePublishedFit *)rows + i;
    store_bind_text(b, f->family);
    store_bind_real(b, f->eff_compute, 1);
    store_bind_real(b, f->eff_memory, 1);
    store_bind_real(b, f->step_overhead_ms, 1);
    store_bind_real(b, f->collective_us, 1);
    store_bind_int64(b, f->n_train);
    store_bind_int64(b, f->n_test);
    store_bind_real(b, f->train_median_err, 1);
    store_bind_real(b, f->test_median_err, 1);
}

int store_published(Store *s, const StorePublishedRow *rows, int n_rows,
                    const StorePublishedFit *fits, int n_fits, TsErr *err)
{
    if (store_exec(s, "BEGIN IMMEDIATE", "starting the published validation", err))
        return TS_EIO;
    /* store_insert_each binds a run id first: the timestamp stands in its place */
    int code = store_insert_each(s, 0,
                                 "INSERT INTO published_validation (validated_at, name, family,"
                                 " chip, model, chips, concurrency, measured_tok_s_per_chip,"
                                 " predicted_tok_s_per_chip, fitted_tok_s_per_chip, held_out, why)"
                                 " VALUES (" STORE_NOW_UTC ", ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
                                 " ?11, ?12)",
                                 "published validation", n_rows, bind_published, rows, err);
    if (!code)
        code = store_insert_each(s, 0,
                                 "INSERT INTO published_fits (validated_at, family, eff_compute,"
                                 " eff_memory, step_overhead_ms, collective_us, n_train, n_test,"
                                 " train_median_err, test_median_err) VALUES (" STORE_NOW_UTC
                                 ", ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                                 "published fit", n_fits, bind_fit, fits, err);
    if (!code && store_exec(s, "COMMIT", "committing the published validation", err))
        code = TS_EIO;
    if (code)
        return store_rollback(s, code, err);
    return 0;
}
