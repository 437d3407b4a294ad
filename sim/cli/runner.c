/* runner: the run lifecycle of DESIGN.md for a scenario run: runs row first (its id names the
 * output folder), report files next, then all result rows and `done` in one transaction, so a
 * run is either done with all its rows, failed with none, or (killed) running with none. */
#include "sim/cli/parts.h"
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
#include "sim/store/run.h"
#include "sim/store/store.h"
#include "sim/cli/record.h"
#include "sim/study/outcome.h"
#include "sim/study/optimize.h"
#include "sim/study/question.h"
#include "sim/render/plot.h"
#include "sim/render/html.h"
#include "sim/cli/validate.h"

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
    StoredRun run;
    int rc = store_load_run(db, run_id, &run, err);
    if (rc) {
        free(plots);
        return rc;
    }
    rc = plot_run(&run, out->out_dir, plots, err);
    store_run_free(&run);
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

/* StoreResults.then: report.md and metrics.csv rendered from the run as stored, inside the
 * results transaction (a failure rolls the rows back and the run fails). ctx: the folder. */
static int render_stored(void *ctx, Store *db, int64_t run_id, TsErr *err)
{
    StoredRun run;
    if (store_load_run(db, run_id, &run, err))
        return err->code;
    int code = report_write_run(ctx, &run, err);
    store_run_free(&run);
    return code;
}

int runner_record(Scenario *s, const FleetResult *results, const ServeFleet *serve,
                  const McResult *mc,
                  const SwpResult *sweep, const CmpResult *cmp, const RunnerOptions *opt,
                  RunnerResult *out, TsErr *err)
{
    memset(out, 0, sizeof *out);
    Outcome o;
    int rc = outcome_make(s, results, mc, sweep, cmp, &o, err);
    o.serve = serve;
    if (rc)
        return rc;
    Store *db = NULL;
    if (store_open(opt->db_path, &db, err))
        rc = err->code;
    char sha[65], machine[1024];
    StoreRunInfo info = run_info(s, sweep ? "sweep" : "scenario", opt, sha, machine);
    int64_t run_id = 0;
    if (!rc && store_run_begin(db, &info, &run_id, err))
        rc = err->code;
    int begun = !rc;
    out->run_id = run_id;
    Record rec;
    memset(&rec, 0, sizeof rec);
    if (!rc)
        rc = record_make(s, &o, sweep, cmp, opt->reproducible, &rec, err);
    if (!rc) {
        rc = runner_finish(db, run_id, s->path, s->sc[SK_NAME].text, &rec.res, opt->out_root,
                           out, err);
    } else if (begun) {
        TsErr ignored;
        store_run_fail(db, run_id, err->msg, &ignored);
    }
    if (!rc)
        snprintf(out->conclusion, sizeof out->conclusion, "%s", o.question->text);
    record_fini(&rec);
    store_close(db);
    outcome_fini(&o);
    return rc;
}

int runner_record_shard(const Scenario *s, const ShardRun *r, const RunnerOptions *opt,
                        RunnerResult *out, TsErr *err)
{
    memset(out, 0, sizeof *out);
    StoreMcBlockRow *rows = NULL;
    double *packed = NULL;
    int n = 0;
    if (parts_block_rows(r, &rows, &n, &packed, err))
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
    MsrRecord *rec = calloc(1, sizeof *rec);
    int rc = rows && val && vrows && rec ? 0 : ts_err_set(err, TS_ENOMEM, "out of memory");
    /* the closed loop: the roofline's prediction of every measured preset, from this run's own
     * ceilings, in the report and the validation table */
    ValOptions vo = {0.5, 0.7, 0.5};
    int n = rc ? 0 : msr_rows(r, rows);
    int n_val = rc ? 0 : val_predict(rows, n, r->compute.best, r->bandwidth.best, &vo, val);
    if (!rc) {
        val_store_rows(val, n_val, vrows);
        msr_record(r, configs, n_cfg, &vo, rec);
        /* report.md, metrics.csv and results.json rendered from the run as stored */
        StoreResults res = {.metrics = rec->metrics,
                            .n_metrics = rec->n_metrics,
                            .measurements = rows,
                            .n_measurements = n,
                            .validation = vrows,
                            .n_validation = n_val,
                            .inputs = rec->inputs,
                            .n_inputs = rec->n_inputs,
                            .notes = rec->notes,
                            .n_notes = rec->n_notes};
        rc = runner_finish(db, run_id, "measure", "measure", &res, opt->out_root, out, err);
    } else {
        TsErr ignored;
        store_run_fail(db, run_id, err->msg, &ignored);
    }
    free(rows);
    free(val);
    free(vrows);
    free(rec);
    store_close(db);
    return rc;
}

int runner_finish(Store *db, int64_t run_id, const char *stem, const char *title,
                  const StoreResults *res, const char *out_root, RunnerResult *out, TsErr *err)
{
    memset(out, 0, sizeof *out);
    out->run_id = run_id;
    StoreResults all = *res;
    all.then = render_stored;
    all.then_ctx = out->out_dir;
    int rc = report_make_dir(out_root, stem, run_id, out->out_dir, (int)sizeof out->out_dir, err);
    if (!rc)
        rc = store_run_set_out_dir(db, run_id, out->out_dir, err);
    if (!rc)
        rc = store_run_finish_all(db, run_id, &all, err);
    if (rc) {
        TsErr ignored;
        store_run_fail(db, run_id, err->msg, &ignored);
        return rc;
    }
    return runner_render(db, run_id, title, out, err);
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
