/* runner: the run lifecycle of DESIGN.md for a scenario run: runs row first (its id names the
 * output folder), report files next, then all result rows and `done` in one transaction, so a
 * run is either done with all its rows, failed with none, or (killed) running with none. */
#include "runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../models/machine.h"
#include "metrics.h"
#include "report.h"
#include "sha256.h"
#include "store.h"
#include "validate.h"

static int store_results(Store *db, int64_t run_id, const Scenario *s,
                         const FleetResult *results, TsErr *err)
{
    int n_rows = s->n_fleets * MET_COUNT;
    StoreFleetRow *fleets = calloc((size_t)s->n_fleets, sizeof *fleets);
    StoreMetricRow *rows = calloc((size_t)n_rows, sizeof *rows);
    if (!fleets || !rows) {
        free(fleets);
        free(rows);
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    }
    int n = 0;
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
            rows[n++] = (StoreMetricRow){
                .fleet = f->name,
                .metric = mi->name,
                .unit = mi->unit,
                .value = results[i].metrics.value[k],
                .has_value = results[i].metrics.has[k],
            };
        }
    }
    int rc = store_run_finish(db, run_id, fleets, s->n_fleets, rows, n, err);
    free(fleets);
    free(rows);
    return rc;
}

int runner_record(const Scenario *s, const FleetResult *results, const RunnerOptions *opt,
                  RunnerResult *out, TsErr *err)
{
    memset(out, 0, sizeof *out);
    Store *db = NULL;
    if (store_open(opt->db_path, &db, err))
        return err->code;
    char sha[65], machine[1024];
    sha_hex(s->text, s->text_len, sha);
    machine_fingerprint_json(machine, sizeof machine);
    StoreRunInfo info = {
        .kind = "scenario",
        .name = s->sc[SK_NAME].text,
        .seed = (int64_t)s->sc[SK_SEED].num,
        .scenario_sha256 = sha,
        .scenario_text = s->text,
        .version = opt->version,
        .machine = machine,
    };
    int64_t run_id = 0;
    if (store_run_begin(db, &info, &run_id, err)) {
        store_close(db);
        return err->code;
    }
    out->run_id = run_id;
    int rc = report_make_dir(opt->out_root, s->path, run_id, out->out_dir,
                             (int)sizeof out->out_dir, err);
    if (!rc)
        rc = store_run_set_out_dir(db, run_id, out->out_dir, err);
    if (!rc)
        rc = report_write_scenario(out->out_dir, s, results, run_id, err);
    if (!rc)
        rc = store_results(db, run_id, s, results, err);
    if (rc) {
        TsErr ignored;
        store_run_fail(db, run_id, err->msg, &ignored);
    }
    store_close(db);
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
    StoreMetricRow machine[MSR_MACHINE_METRICS];
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
        StoreResults res = {NULL, 0, machine, nm, rows, n, vrows, n_val};
        rc = store_run_finish_all(db, run_id, &res, err);
    }
    if (rc) {
        TsErr ignored;
        store_run_fail(db, run_id, err->msg, &ignored);
    }
    free(rows);
    free(val);
    free(vrows);
    store_close(db);
    return rc;
}
