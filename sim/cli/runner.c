/* runner: the run lifecycle of DESIGN.md for a scenario run: runs row first (its id names the
 * output folder), report files next, then all result rows and `done` in one transaction, so a
 * run is either done with all its rows, failed with none, or (killed) running with none. */
#include "sim/cli/runner.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/measure/machine.h"
#include "sim/price/metrics.h"
#include "sim/render/report.h"
#include "sim/store/sha256.h"
#include "sim/store/store.h"
#include "sim/study/optimize.h"
#include "sim/study/question.h"
#include "sim/render/plot.h"
#include "sim/render/html.h"
#include "sim/cli/validate.h"

/* The histogram rows of the kept samples: MC_HIST_BINS equal bins from min to max. */
static int histogram_rows(const Scenario *s, const McResult *mc, StoreHistogramRow *rows)
{
    int n = 0;
    for (int f = 0; f < s->n_fleets; f++)
        for (int p = 0; p < MC_N_PCT; p++) {
            const double *v = mc->samples + ((size_t)f * MC_N_PCT + (size_t)p) * (size_t)mc->n_samples;
            double lo = INFINITY, hi = -INFINITY;
            for (long i = 0; i < mc->n_samples; i++)
                if (!isnan(v[i])) {
                    lo = v[i] < lo ? v[i] : lo;
                    hi = v[i] > hi ? v[i] : hi;
                }
            if (!(lo <= hi))
                continue;
            int64_t count[MC_HIST_BINS] = {0};
            double width = (hi - lo) / MC_HIST_BINS;
            for (long i = 0; i < mc->n_samples; i++) {
                if (isnan(v[i]))
                    continue;
                int b = width > 0 ? (int)((v[i] - lo) / width) : 0;
                count[b >= MC_HIST_BINS ? MC_HIST_BINS - 1 : b]++;
            }
            for (int b = 0; b < MC_HIST_BINS; b++)
                rows[n++] = (StoreHistogramRow){s->fleets[f].name, met_info(MC_PCT[p])->name,
                                                lo + b * width, lo + (b + 1) * width, count[b]};
        }
    return n;
}

typedef struct {
    const SwpResult *sweep;
    const CmpResult *cmp;
} Extra;

static int extra_rows(void *ctx, struct sqlite3 *db, int64_t run_id, TsErr *err)
{
    const Extra *x = ctx;
    if (x->sweep && swp_store_rows((void *)x->sweep, db, run_id, err))
        return err->code;
    if (x->cmp && cmp_store_rows((void *)x->cmp, db, run_id, err))
        return err->code;
    return 0;
}

static int store_results(Store *db, int64_t run_id, const Scenario *s,
                         const FleetResult *results, const double *pct,
                         const McTornadoBar *bars, const int *n_bars,
                         const StoreHistogramRow *hist, int n_hist, const SwpResult *sweep,
                         const CmpResult *cmp, const QstResult *ans, TsErr *err)
{
    int n_rows = s->n_fleets * (MET_COUNT + CMP_MAX_KEYS) + ans->n_rows;
    StoreFleetRow *fleets = calloc((size_t)s->n_fleets, sizeof *fleets);
    StoreMetricRow *rows = calloc((size_t)n_rows, sizeof *rows);
    StoreTornadoRow *torn = calloc((size_t)(s->n_fleets * (s->n_dists + 1)), sizeof *torn);
    if (!fleets || !rows || !torn) {
        free(fleets);
        free(rows);
        free(torn);
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    }
    int n = 0, nt = 0;
    for (int i = 0; i < s->n_fleets; i++) {
        const ScnFleet *f = &s->fleets[i];
        fleets[i] = (StoreFleetRow){
            .fleet = f->name,
            .chip = f->chip.name,
            .model = s->models[f->model].name,
            .throughput_mode = scn_throughput_name(f->throughput),
            .cost_mode = f->rent ? "rent" : "own",
            .energy_source = f->energy_source,
            .bound = results[i].perf.roofline ? results[i].perf.roof.bound : NULL,
        };
        for (int k = 0; k < MET_COUNT; k++) {
            const MetricInfo *mi = met_info((MetricId)k);
            StoreMetricRow *r = &rows[n++];
            *r = (StoreMetricRow){
                .fleet = f->name,
                .metric = mi->name,
                .unit = mi->unit,
                .value = results[i].metrics.value[k],
                .has_value = results[i].metrics.has[k],
            };
            for (int p = 0; pct && p < MC_N_PCT; p++)
                if ((int)MC_PCT[p] == k) {
                    const double *q = pct + ((size_t)i * MC_N_PCT + (size_t)p) * 3;
                    r->p5 = q[0];
                    r->p50 = q[1];
                    r->p95 = q[2];
                    r->has_pct = !isnan(q[0]);
                }
        }
        for (int k = 0; cmp && k < cmp->n_keys; k++) {
            double v = cmp->breakeven[(size_t)k * (size_t)s->n_fleets + (size_t)i];
            const char *key = strrchr(cmp->keys[k], '.');
            rows[n++] = (StoreMetricRow){f->name, cmp->metric[k],
                                         report_key_unit(key ? key + 1 : cmp->keys[k]), v,
                                         !isnan(v), 0, 0, 0, 0};
        }
        for (int b = 0; bars && b < n_bars[i]; b++) {
            const McTornadoBar *t = &bars[(size_t)i * (size_t)s->n_dists + (size_t)b];
            torn[nt++] = (StoreTornadoRow){f->name,  t->input,     t->low_x,
                                           t->high_x, t->low_value, t->high_value};
        }
    }
    for (int i = 0; i < ans->n_rows; i++) {
        const QstRow *r = &ans->rows[i];
        rows[n++] = (StoreMetricRow){r->fleet, r->metric, r->unit, r->value, r->has_value,
                                     0, 0, 0, 0};
    }
    Extra extra = {sweep, cmp};
    StoreResults res = {fleets, s->n_fleets, rows, n, NULL, 0, NULL, 0, torn, nt, hist, n_hist,
                        extra_rows, &extra};
    int rc = store_run_finish_all(db, run_id, &res, err);
    free(fleets);
    free(rows);
    free(torn);
    return rc;
}

/* The runs row of scenario s: its name, seed, text and SHA-256 (into sha), the version and this
 * machine's fingerprint (into machine, 1024 bytes). */
static StoreRunInfo run_info(const Scenario *s, const char *kind, const RunnerOptions *opt,
                             char sha[65], char machine[1024])
{
    sha_hex(s->text, s->text_len, sha);
    machine_fingerprint_json(machine, 1024);
    return (StoreRunInfo){
        .kind = kind,
        .name = s->sc[SK_NAME].text,
        .seed = (int64_t)s->sc[SK_SEED].num,
        .scenario_sha256 = sha,
        .scenario_text = s->text,
        .version = opt->version,
        .machine = machine,
    };
}

int runner_render(Store *db, int64_t run_id, const char *title, RunnerResult *out, TsErr *err)
{
    PlotResult *plots = calloc(1, sizeof *plots);
    if (!plots)
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    char md[4200];
    snprintf(md, sizeof md, "%s/report.md", out->out_dir);
    int rc = plot_run(store_db(db), run_id, out->out_dir, plots, err);
    if (!rc)
        rc = html_write_report(out->out_dir, access(md, R_OK) == 0 ? md : NULL, plots, title,
                               err);
    if (!rc) {
        out->n_plots = plots->n;
        out->n_images = plots->n_images;
        snprintf(out->plot_note, sizeof out->plot_note, "%s", plots->note);
    }
    free(plots);
    return rc;
}

int runner_record(Scenario *s, const FleetResult *results, const McResult *mc,
                  const SwpResult *sweep, const CmpResult *cmp, const RunnerOptions *opt,
                  RunnerResult *out, TsErr *err)
{
    memset(out, 0, sizeof *out);
    /* Monte Carlo: means, percentiles, tornado and histograms first (pure computation) */
    FleetResult *res = NULL;
    double *pct = NULL;
    McTornadoBar *bars = NULL;
    int *n_bars = NULL;
    StoreHistogramRow *hist = NULL;
    int n_hist = 0, rc = 0;
    ReportMc rmc = {0};
    if (mc) {
        res = malloc(sizeof *res * (size_t)s->n_fleets);
        MetricSet *means = malloc(sizeof *means * (size_t)s->n_fleets);
        pct = malloc(sizeof(double) * (size_t)s->n_fleets * MC_N_PCT * 3);
        bars = calloc((size_t)(s->n_fleets * (s->n_dists + 1)), sizeof *bars);
        n_bars = calloc((size_t)s->n_fleets, sizeof *n_bars);
        hist = calloc((size_t)s->n_fleets * MC_N_PCT * MC_HIST_BINS, sizeof *hist);
        if (!res || !means || !pct || !bars || !n_bars || !hist)
            rc = ts_err_set(err, TS_ENOMEM, "out of memory");
        if (!rc)
            rc = mc_summarise(mc, means, pct, err);
        for (int i = 0; !rc && i < s->n_fleets; i++) {
            res[i] = results[i];
            res[i].metrics = means[i];
            n_bars[i] = mc_tornado(s, i, bars + (size_t)i * (size_t)s->n_dists);
        }
        if (!rc)
            n_hist = histogram_rows(s, mc, hist);
        free(means);
        rmc = (ReportMc){mc->n_samples, mc->clamped, mc->failed, pct, bars, n_bars, s->n_dists};
    }
    Store *db = NULL;
    if (!rc && store_open(opt->db_path, &db, err))
        rc = err->code;
    char sha[65], machine[1024];
    StoreRunInfo info = run_info(s, sweep ? "sweep" : "scenario", opt, sha, machine);
    int64_t run_id = 0;
    if (!rc && store_run_begin(db, &info, &run_id, err))
        rc = err->code;
    int begun = !rc;
    out->run_id = run_id;
    /* the optimizer ranks whatever values are stored (means for a Monte Carlo run) */
    FleetResult *ranked = malloc(sizeof *ranked * (size_t)(s->n_fleets + 1));
    if (!rc && !ranked)
        rc = ts_err_set(err, TS_ENOMEM, "out of memory");
    if (!rc) {
        memcpy(ranked, mc ? res : results, sizeof *ranked * (size_t)s->n_fleets);
        opt_rank(s, ranked);
    }
    const FleetResult *use = ranked;
    QstResult *q = calloc(1, sizeof *q);
    if (!rc && !q)
        rc = ts_err_set(err, TS_ENOMEM, "out of memory");
    if (!rc)
        rc = qst_run(s, use, sweep, cmp, q, err);
    if (!rc)
        rc = report_make_dir(opt->out_root, s->path, run_id, out->out_dir,
                             (int)sizeof out->out_dir, err);
    if (!rc)
        rc = store_run_set_out_dir(db, run_id, out->out_dir, err);
    if (!rc)
        rc = report_write_scenario(out->out_dir, s, use, mc ? &rmc : NULL, cmp, sweep, q,
                                   opt->reproducible ? 0 : run_id,
                                   opt->reproducible ? 6 : 10, err);
    if (!rc)
        rc = store_results(db, run_id, s, use, pct, mc ? bars : NULL, n_bars, hist, n_hist, sweep,
                           cmp, q, err);
    if (rc && begun) {
        TsErr ignored;
        store_run_fail(db, run_id, err->msg, &ignored);
    }
    if (!rc)
        rc = runner_render(db, run_id, s->sc[SK_NAME].text, out, err);
    if (!rc)
        snprintf(out->conclusion, sizeof out->conclusion, "%s", q->text);
    store_close(db);
    free(q);
    free(ranked);
    free(res);
    free(pct);
    free(bars);
    free(n_bars);
    free(hist);
    return rc;
}

int runner_record_shard(const Scenario *s, const ShardRun *r, const RunnerOptions *opt,
                        RunnerResult *out, TsErr *err)
{
    memset(out, 0, sizeof *out);
    StoreMcBlockRow *rows = NULL;
    double *packed = NULL;
    int n = 0;
    if (shard_block_rows(r, &rows, &n, &packed, err))
        return err->code;
    Store *db = NULL;
    int rc = store_open(opt->db_path, &db, err);
    char sha[65], machine[1024];
    StoreRunInfo info = run_info(s, "scenario", opt, sha, machine);
    int64_t run_id = 0;
    if (!rc)
        rc = store_run_begin(db, &info, &run_id, err);
    out->run_id = run_id;
    if (!rc) {
        StoreShardInfo si = {r->spec.k, r->spec.n, r->mc.n_samples, MC_BLOCK, r->mc.clamped,
                             s->path};
        rc = store_run_finish_shard(db, run_id, &si, rows, n, err);
        if (rc) {
            TsErr ignored;
            store_run_fail(db, run_id, err->msg, &ignored);
        }
    }
    store_close(db);
    free(rows);
    free(packed);
    return rc;
}

/* Writes one report file of a measure run through a temporary name. */
static int write_measure_file(const char *dir, const char *name, const MsrResult *r,
                              const EngineConfig *configs, int n_cfg, int64_t run_id,
                              const char *machine_json, const ValRow *val, int n_val,
                              const ValOptions *vo, TsErr *err)
{
    char tmp[4200], final[4200];
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
    snprintf(final, sizeof final, "%s/%s", dir, name);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return ts_err_set(err, TS_EIO, "cannot write %s", tmp);
    if (strcmp(name, "report.md") == 0) {
        msr_write_md(f, r, run_id, machine_json);
        msr_write_pairs_md(f, r, configs, n_cfg);
        if (n_val > 0)
            val_write_md(f, val, n_val, vo);
    } else {
        msr_write_json(f, r, run_id, machine_json);
    }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad || rename(tmp, final) != 0) {
        remove(tmp);
        return ts_err_set(err, TS_EIO, "cannot write %s (disk full?)", final);
    }
    return 0;
}

int runner_record_measure(const MsrResult *r, const EngineConfig *configs, int n_cfg,
                          const char *machine_json, const RunnerOptions *opt, RunnerResult *out,
                          TsErr *err)
{
    memset(out, 0, sizeof *out);
    Store *db = NULL;
    if (store_open(opt->db_path, &db, err))
        return err->code;
    StoreRunInfo info = {
        .kind = "measure",
        .name = "measure",
        .seed = 0,
        .version = opt->version,
        .machine = machine_json,
    };
    int64_t run_id = 0;
    if (store_run_begin(db, &info, &run_id, err)) {
        store_close(db);
        return err->code;
    }
    out->run_id = run_id;
    StoreMeasurementRow *rows = calloc((size_t)(2 * r->n_runs + 1), sizeof *rows);
    ValRow *val = calloc((size_t)(2 * r->n_runs + 1), sizeof *val);
    StoreValidationRow *vrows = calloc((size_t)(2 * r->n_runs + 1), sizeof *vrows);
    StoreMetricRow machine[MSR_MAX_METRICS];
    int rc = rows && val && vrows ? 0 : ts_err_set(err, TS_ENOMEM, "out of memory");
    /* the closed loop: the roofline's prediction of every measured preset, from this run's own
     * ceilings, in the report and the validation table */
    ValOptions vo = {0.5, 0.7, 0.5};
    int n = rc ? 0 : msr_rows(r, rows);
    int n_val = rc ? 0 : val_predict(rows, n, r->compute.best, r->bandwidth.best, &vo, val);
    if (!rc)
        val_store_rows(val, n_val, vrows);
    if (!rc)
        rc = report_make_dir(opt->out_root, "measure", run_id, out->out_dir,
                             (int)sizeof out->out_dir, err);
    if (!rc)
        rc = store_run_set_out_dir(db, run_id, out->out_dir, err);
    if (!rc)
        rc = write_measure_file(out->out_dir, "report.md", r, configs, n_cfg, run_id,
                                machine_json, val, n_val, &vo, err);
    if (!rc)
        rc = write_measure_file(out->out_dir, "results.json", r, configs, n_cfg, run_id,
                                machine_json, val, n_val, &vo, err);
    if (!rc) {
        int nm = msr_machine_metrics(r, machine);
        StoreResults res = {NULL, 0, machine, nm, rows, n, vrows, n_val, NULL, 0, NULL, 0, NULL,
                            NULL};
        rc = store_run_finish_all(db, run_id, &res, err);
    }
    if (rc) {
        TsErr ignored;
        store_run_fail(db, run_id, err->msg, &ignored);
    } else {
        rc = runner_render(db, run_id, "measure", out, err);
    }
    free(rows);
    free(val);
    free(vrows);
    store_close(db);
    return rc;
}

int runner_record_interrupted(const Scenario *s, int sweep, const RunnerOptions *opt,
                              const char *why, int64_t *run_id, TsErr *err)
{
    *run_id = 0;
    Store *db = NULL;
    if (store_open(opt->db_path, &db, err))
        return err->code;
    char sha[65], machine[1024];
    StoreRunInfo info = run_info(s, sweep ? "sweep" : "scenario", opt, sha, machine);
    int rc = store_run_begin(db, &info, run_id, err);
    if (!rc)
        rc = store_run_fail(db, *run_id, why, err);
    store_close(db);
    return rc;
}
