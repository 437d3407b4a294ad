/* measured: queries the measurements and machine metrics of one measure run with prepared
 * statements and writes what a measured fleet needs into its values, each marked ORIG_MEASURED
 * with the run id. Selection rules are in measured.h. */
#include "sim/cli/measured.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "models/engine/config.h"
#include "sim/serve/calstep.h"
#include "sim/store/calib.h"

/* A fleet bound to the database: throughput = measured, or chip = this-machine (a simulated
 * one runs this machine's calibrated steps). */
static int binds(const ScnFleet *f)
{
    return f->throughput == THR_MEASURED || f->this_machine;
}

int msd_needed(const Scenario *s)
{
    for (int i = 0; i < s->n_fleets; i++)
        if (binds(&s->fleets[i]))
            return 1;
    return 0;
}

/* Runs sql (binding run id and optional text/int parameters) and returns the first column of
 * the first row as a double in *out; 0 found, 1 no row, TS_EIO on a database error. */
static int query_double(sqlite3 *db, const char *sql, long run, const char *text, long num,
                        double *out, TsErr *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return ts_err_set(err, TS_EIO, "reading measurements: %s", sqlite3_errmsg(db));
    int n = sqlite3_bind_parameter_count(st);
    if (n >= 1)
        sqlite3_bind_int64(st, 1, run);
    if (n >= 2)
        sqlite3_bind_text(st, 2, text, -1, SQLITE_TRANSIENT);
    if (n >= 3)
        sqlite3_bind_int64(st, 3, num);
    int rc = sqlite3_step(st);
    int found = rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL;
    if (found)
        *out = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return ts_err_set(err, TS_EIO, "reading measurements: %s", sqlite3_errmsg(db));
    return found ? 0 : 1;
}

/* Prepares sql over measurements with ?1 the run, ?2 the model and ?3 the threads bound. */
static int prepare_rows(sqlite3 *db, const char *sql, long run, const char *model, long threads,
                        sqlite3_stmt **st, TsErr *err)
{
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
        return ts_err_set(err, TS_EIO, "reading measurements: %s", sqlite3_errmsg(db));
    sqlite3_bind_int64(*st, 1, run);
    sqlite3_bind_text(*st, 2, model, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(*st, 3, threads);
    return 0;
}

typedef struct {
    double tok_s, seconds, energy_j;
    int batch;
    char source[96];
} Pick;

/* The fastest row of a phase whose latency meets slo_ms (0: no SLO). Latency: decode, the step
 * time (seconds per token of one sequence); prefill, the time to first token of a sequence. */
static int best_row(sqlite3 *db, long run, const char *model, long threads, int prefill,
                    double slo_ms, Pick *out, int *any, TsErr *err)
{
    static const char sql[] =
        "SELECT batch, tokens, seconds, energy_j, energy_source FROM measurements"
        " WHERE run_id = ?1 AND model = ?2 AND threads = ?3 AND phase = ?4";
    sqlite3_stmt *st = NULL;
    if (prepare_rows(db, sql, run, model, threads, &st, err))
        return err->code;
    sqlite3_bind_text(st, 4, prefill ? "prefill" : "decode", -1, SQLITE_STATIC);
    int rc, found = 0;
    *any = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int batch = sqlite3_column_int(st, 0);
        double tokens = sqlite3_column_double(st, 1), seconds = sqlite3_column_double(st, 2);
        if (tokens <= 0 || seconds <= 0 || batch <= 0)
            continue;
        *any = 1;
        double tok_s = tokens / seconds;
        /* decode: tokens = batch x steps; prefill: batch sequences prefilled one by one */
        double latency_ms = prefill ? seconds / batch * 1e3 : seconds / (tokens / batch) * 1e3;
        if (slo_ms > 0 && latency_ms > slo_ms)
            continue;
        if (!found || tok_s > out->tok_s) {
            found = 1;
            out->tok_s = tok_s;
            out->seconds = seconds;
            out->energy_j = sqlite3_column_double(st, 3);
            out->batch = batch;
            const unsigned char *src = sqlite3_column_text(st, 4);
            snprintf(out->source, sizeof out->source, "%s", src ? (const char *)src : "");
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return ts_err_set(err, TS_EIO, "reading measurements: %s", sqlite3_errmsg(db));
    return found ? 0 : 1;
}

static void set_measured(ScnVal *v, double num, long run)
{
    free(v->text);
    *v = (ScnVal){.origin = ORIG_MEASURED, .line = (int)run, .num = num};
}

/* The calibrated steady state of f's model on this machine (see measured.h); sets the
 * fleet's tokens/s (ORIG_CALIBRATED), f->cal and *threads (the profile's). */
static int bind_calibrated(Scenario *s, ScnFleet *f, Store *store, const char *model,
                           long *threads, TsErr *err)
{
    ScnVal *v = f->v;
    const char *fn = f->name;
    EngineConfig cfg;
    TsErr ignored;
    if (cfg_preset(model, &cfg, &ignored))
        return ts_err_set(err, TS_EINPUT,
                          "%s:%d: fleet '%s': step_model = calibrated times the engine's own "
                          "steps: model '%s' must be an engine preset (tokensim models lists "
                          "them)",
                          s->path, f->line, fn, model);
    long id = v[FK_CALIBRATION].origin != ORIG_NONE ? (long)v[FK_CALIBRATION].num : 0;
    StoreCalibration cal;
    char buf[32];
    int found = store_calibration_find(store, id, (int)*threads, &cal, buf, sizeof buf, err);
    if (found < 0)
        return found;
    if (!found && id)
        return ts_err_set(err, TS_EINPUT, "%s:%d: fleet '%s': there is no calibration %ld in the "
                                          "database (tokensim calibrate prints their ids)",
                          s->path, v[FK_CALIBRATION].line, fn, id);
    if (!found)
        return ts_err_set(err, TS_EINPUT,
                          "%s:%d: fleet '%s': step_model = calibrated needs a calibration at %ld "
                          "threads: run `tokensim measure --threads %ld --batch 1,2,4,8,16` and "
                          "`tokensim calibrate` first",
                          s->path, f->line, fn, *threads, *threads);
    const ScnVal *w = s->wl;
    if (w[WK_PROMPT_TOKENS].origin == ORIG_NONE || w[WK_CONTEXT_TOKENS].origin == ORIG_NONE)
        return ts_err_set(err, TS_EINPUT,
                          "%s:%d: step_model = calibrated (fleet '%s') needs prompt_tokens and "
                          "context_tokens, or tokens per request",
                          s->path, s->workload_line, fn);
    double prompt = w[WK_PROMPT_TOKENS].num, context = w[WK_CONTEXT_TOKENS].num;
    if (prompt < 1 || prompt > cfg.max_seq || context + 1 > cfg.max_seq)
        return ts_err_set(err, TS_EINPUT,
                          "%s:%d: fleet '%s': a prompt of %g tokens and a context of %g do not fit "
                          "preset '%s' (%d positions)",
                          s->path, s->workload_line, fn, prompt, context, model, cfg.max_seq);
    int max_batch = v[FK_MAX_BATCH].origin != ORIG_NONE ? (int)v[FK_MAX_BATCH].num
                    : cal.max_batch > 0                 ? cal.max_batch
                                                        : 16;
    ScnCalibration *c = &f->cal;
    *c = (ScnCalibration){.id = (long)cal.id, .run_id = (long)cal.run_id, .threads = cal.threads,
                          .max_batch = max_batch, .peak_gflops = cal.peak_gflops, .bandwidth_gb_s = cal.bandwidth_gb_s,
                          .eff_compute = cal.eff_compute, .eff_prefill = cal.eff_prefill,
                          .eff_memory = cal.eff_memory, .step_overhead_ms = cal.step_overhead_ms,
                          .attn_ns_per_pair = cal.attn_ns_per_pair, .overlap = cal.overlap,
                          .test_median_err = cal.test_median_err};
    snprintf(c->model, sizeof c->model, "%s", model);
    snprintf(c->precision, sizeof c->precision, "%s", cal.precision);
    snprintf(c->kv_precision, sizeof c->kv_precision, "%s", cal.kv_precision);
    CalStep cs;
    CalSteady st;
    double tpot = w[WK_TPOT_SLO_MS].origin != ORIG_NONE ? w[WK_TPOT_SLO_MS].num : 0;
    double ttft = w[WK_TTFT_SLO_MS].origin != ORIG_NONE ? w[WK_TTFT_SLO_MS].num : 0;
    if (calstep_init_profile(&cs, c, err) ||
        calstep_steady(&cs, (int32_t)prompt, (int32_t)context, c->max_batch, tpot, ttft, &st,
                       err))
        return ts_err_prefix(err, "%s:%d: fleet '%s': calibration %lld: ", s->path, f->line, fn,
                             (long long)cal.id);
    c->batch = st.batch;
    c->tpot_ms = st.tpot_ms;
    c->ttft_ms = st.ttft_ms;
    for (int k = 0; k < 2; k++) {
        ScnVal *x = &v[k ? FK_PREFILL_TOK_S_PER_CHIP : FK_DECODE_TOK_S_PER_CHIP];
        free(x->text);
        *x = (ScnVal){.origin = ORIG_CALIBRATED, .line = (int)cal.id,
                      .num = k ? st.prefill_tok_s : st.decode_tok_s};
    }
    *threads = cal.threads;
    return 0;
}

/* Busy watts (time-weighted over the rows of model at threads, else of every model at threads)
 * and the rows' energy source: 0, 1 when there is no such row, or TS_EIO. */
static int run_power(sqlite3 *db, long run, const char *model, long threads, double *watts,
                     char *source, int size, TsErr *err)
{
    static const char sql[] =
        "SELECT sum(energy_j) / sum(seconds), min(energy_source) FROM measurements"
        " WHERE run_id = ?1 AND threads = ?3 AND seconds > 0 AND (model = ?2 OR NOT EXISTS ("
        " SELECT 1 FROM measurements WHERE run_id = ?1 AND threads = ?3 AND model = ?2))";
    sqlite3_stmt *st = NULL;
    if (prepare_rows(db, sql, run, model, threads, &st, err))
        return err->code;
    int rc = sqlite3_step(st);
    int found = rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL;
    if (found) {
        *watts = sqlite3_column_double(st, 0);
        const unsigned char *src = sqlite3_column_text(st, 1);
        snprintf(source, (size_t)size, "%s", src ? (const char *)src : "");
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return ts_err_set(err, TS_EIO, "reading measurements: %s", sqlite3_errmsg(db));
    return found ? 0 : 1;
}

static int bind_fleet(Scenario *s, ScnFleet *f, Store *store, TsErr *err)
{
    sqlite3 *db = store_db(store);
    ScnVal *v = f->v;
    const char *fn = f->name;
    double x;
    long run;
    int rc;
    if (v[FK_MEASUREMENT].origin != ORIG_NONE) {
        run = (long)v[FK_MEASUREMENT].num;
        rc = query_double(db, "SELECT id FROM runs WHERE id = ?1 AND kind = 'measure' AND status"
                              " = 'done'", run, NULL, 0, &x, err);
        if (rc == 1)
            return ts_err_set(err, TS_EINPUT,
                              "%s:%d: fleet '%s': run %ld is not a finished measure run",
                              s->path, v[FK_MEASUREMENT].line, fn, run);
    } else {
        rc = query_double(db, "SELECT max(id) FROM runs WHERE kind = 'measure' AND status = "
                              "'done' AND ?1 = ?1 AND id IN (SELECT run_id FROM measurements)",
                          0, NULL, 0, &x, err);
        if (rc == 1)
            return ts_err_set(err, TS_EINPUT,
                              "%s:%d: fleet '%s': throughput = measured needs a measure run in "
                              "the database; run `tokensim measure` first",
                              s->path, f->line, fn);
        run = (long)x;
    }
    if (rc > 1 || rc < 0)
        return rc;
    const char *model = v[FK_MEASURED_MODEL].origin != ORIG_NONE ? v[FK_MEASURED_MODEL].text
                                                               : s->models[f->model].name;
    long threads;
    if (v[FK_MEASURED_THREADS].origin != ORIG_NONE) {
        threads = (long)v[FK_MEASURED_THREADS].num;
    } else {
        /* the most measured of the model (a calibrated fleet's model need not be measured) */
        rc = query_double(db, "SELECT max(threads) FROM measurements WHERE run_id = ?1 AND model"
                              " = ?2", run, model, 0, &x, err);
        if (rc == 1 && f->calibrated)
            rc = query_double(db, "SELECT max(threads) FROM measurements WHERE run_id = ?1",
                              run, NULL, 0, &x, err);
        if (rc == 1)
            return ts_err_set(err, TS_EINPUT,
                              "%s:%d: fleet '%s': measure run %ld did not measure model '%s'",
                              s->path, f->line, fn, run, model);
        if (rc)
            return rc;
        threads = (long)x;
    }
    if (f->calibrated) {
        if ((rc = bind_calibrated(s, f, store, model, &threads, err)))
            return rc;
        if (v[FK_POWER_W_PER_CHIP].origin == ORIG_NONE) {
            double w = 0;
            rc = run_power(db, run, model, threads, &w, f->measured_source,
                           (int)sizeof f->measured_source, err);
            if (rc == 1)
                return ts_err_set(err, TS_EINPUT,
                                  "%s:%d: fleet '%s': measure run %ld has no rows at %ld threads "
                                  "to take busy watts from; set power_w_per_chip",
                                  s->path, f->line, fn, run, threads);
            if (rc)
                return rc;
            set_measured(&v[FK_POWER_W_PER_CHIP], w, run);
            f->energy_source = f->measured_source;
        }
    } else {
        Pick dec = {0}, pre = {0};
        int any;
        double tpot = s->wl[WK_TPOT_SLO_MS].origin != ORIG_NONE ? s->wl[WK_TPOT_SLO_MS].num : 0;
        double ttft = s->wl[WK_TTFT_SLO_MS].origin != ORIG_NONE ? s->wl[WK_TTFT_SLO_MS].num : 0;
        rc = best_row(db, run, model, threads, 0, tpot, &dec, &any, err);
        if (rc == 1 && any)
            return ts_err_set(err, TS_EINPUT,
                              "%s:%d: fleet '%s': no measured decode of '%s' at %ld threads "
                              "meets tpot_slo_ms (run %ld)",
                              s->path, f->line, fn, model, threads, run);
        if (rc == 1)
            return ts_err_set(err, TS_EINPUT,
                              "%s:%d: fleet '%s': run %ld has no decode rows of '%s' at %ld "
                              "threads",
                              s->path, f->line, fn, run, model, threads);
        if (rc)
            return rc;
        rc = best_row(db, run, model, threads, 1, ttft, &pre, &any, err);
        if (rc == 1)
            return ts_err_set(err, TS_EINPUT,
                              "%s:%d: fleet '%s': no measured prefill of '%s' at %ld threads "
                              "meets ttft_slo_ms (run %ld)",
                              s->path, f->line, fn, model, threads, run);
        if (rc)
            return rc;
        set_measured(&v[FK_DECODE_TOK_S_PER_CHIP], dec.tok_s, run);
        set_measured(&v[FK_PREFILL_TOK_S_PER_CHIP], pre.tok_s, run);
        if (v[FK_POWER_W_PER_CHIP].origin == ORIG_NONE) {
            /* busy watts of the chosen rows, time-weighted */
            set_measured(&v[FK_POWER_W_PER_CHIP],
                         (dec.energy_j + pre.energy_j) / (dec.seconds + pre.seconds), run);
            snprintf(f->measured_source, sizeof f->measured_source, "%s", dec.source);
            f->energy_source = f->measured_source;
        }
    }
    f->measure_run = run;
    f->measured_threads = (int)threads;
    if (v[FK_POWER_LOAD].origin == ORIG_NONE)
        v[FK_POWER_LOAD] = (ScnVal){.origin = ORIG_DEFAULT, .num = 1};
    if (v[FK_IDLE_W_PER_CHIP].origin == ORIG_NONE) {
        if (query_double(db, "SELECT value FROM metrics WHERE run_id = ?1 AND fleet = '-' AND "
                             "metric = 'idle_w'", run, NULL, 0, &x, err) == 0)
            set_measured(&v[FK_IDLE_W_PER_CHIP], x, run);
        else
            v[FK_IDLE_W_PER_CHIP] = (ScnVal){.origin = ORIG_DERIVED,
                                              .num = 0.3 * v[FK_POWER_W_PER_CHIP].num};
    }
    if (f->this_machine) {
        /* the machine's peaks from the run's probes: fp32 FMA peak stands in for bf16 (the
         * engine computes in fp32), triad bandwidth for HBM bandwidth */
        ScnVal *cv = f->chip.v;
        if (cv[CK_BF16_TFLOPS].origin == ORIG_NONE &&
            query_double(db, "SELECT value FROM metrics WHERE run_id = ?1 AND fleet = '-' AND "
                             "metric = 'fp32_gflops'", run, NULL, 0, &x, err) == 0)
            set_measured(&cv[CK_BF16_TFLOPS], x / 1000.0, run);
        if (cv[CK_HBM_TB_S].origin == ORIG_NONE &&
            query_double(db, "SELECT value FROM metrics WHERE run_id = ?1 AND fleet = '-' AND "
                             "metric = 'bandwidth_gb_s'", run, NULL, 0, &x, err) == 0)
            set_measured(&cv[CK_HBM_TB_S], x / 1000.0, run);
    }
    return 0;
}

int msd_bind(Scenario *s, Store *db, TsErr *err)
{
    for (int i = 0; i < s->n_fleets; i++) {
        ScnFleet *f = &s->fleets[i];
        if (binds(f) && bind_fleet(s, f, db, err))
            return err->code;
    }
    return 0;
}
