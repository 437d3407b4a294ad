/* cmd_calibrate: `tokensim calibrate`: fits the step-time model to a measure run (the latest by
 * default), one profile per precision group, holding out every other batch of each (model,
 * phase) series; prints each profile with its residuals and stores them (tables calibrations,
 * calibration_residuals). Too few points is bad input (exit 2). */
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/cli/calibrate.h"
#include "sim/cli/cli.h"

const char CLI_USAGE_CALIBRATE[] =
    "usage: tokensim calibrate [--db FILE] [--run ID]\n"
    "\n"
    "Fits the step-time model (eff_compute, eff_prefill, eff_memory, step_overhead_ms, and a\n"
    "time per attention pair when the data ask for it) to the measurements of a measure run\n"
    "(default the latest) by least squares, one profile per weight precision, KV precision and\n"
    "thread count. Every other batch of each model and phase is held out and predicted. Prints\n"
    "the profiles with their residuals and stores them in tables calibrations and\n"
    "calibration_residuals; `validate` then predicts with them. Needs at least 7 training\n"
    "configurations per profile (measure with --batch 1,2,4,8,16 on two or more presets).\n";

typedef struct {
    CalGroup g;
    CalFit fit;
    CalPoint *pts;
    int n;
    StoreCalResidual *res;
} Profile;

static int fit_groups(const StoreMeasurements *ms, int64_t run_id, double peak, double bw,
                      Profile *prof, int *n_prof, TsErr *err)
{
    CalGroup groups[CALR_MAX_GROUPS];
    int ng = calr_groups(ms->rows, ms->n, groups, CALR_MAX_GROUPS);
    *n_prof = 0;
    if (ng == 0)
        return ts_err_set(err, TS_EINPUT,
                          "measure run %lld has no rows to calibrate on (engine presets without "
                          "MTP)", (long long)run_id);
    char why[512] = "";
    size_t used = 0;
    for (int gi = 0; gi < ng; gi++) {
        Profile *p = &prof[*n_prof];
        memset(p, 0, sizeof *p);
        p->g = groups[gi];
        p->pts = calloc((size_t)ms->n, sizeof *p->pts);
        if (!p->pts)
            return ts_err_set(err, TS_ENOMEM, "out of memory");
        p->n = calr_points(ms->rows, ms->n, &p->g, p->pts);
        cal_hold_out_alternate(p->pts, p->n);
        TsErr e2;
        ts_err_clear(&e2);
        int rc = cal_fit(p->pts, p->n, peak, bw, &p->fit, &e2);
        if (rc == TS_EINPUT) {
            if (used < sizeof why)
                used += (size_t)snprintf(why + used, sizeof why - used, "%s%s/KV %s/%d threads: %s",
                                         used ? "; " : "", p->g.precision, p->g.kv_precision,
                                         p->g.threads, e2.msg);
            free(p->pts);
            p->pts = NULL;
            continue;
        }
        if (rc) {
            free(p->pts);
            p->pts = NULL;
            *err = e2;
            return rc;
        }
        (*n_prof)++;
    }
    if (*n_prof == 0)
        return ts_err_set(err, TS_EINPUT, "measure run %lld: too few points to calibrate: %s",
                          (long long)run_id, why);
    return 0;
}

static int store_profiles(Store *db, int64_t run_id, Profile *prof, int n, TsErr *err)
{
    StoreCalibration cals[CALR_MAX_GROUPS];
    const StoreCalResidual *res[CALR_MAX_GROUPS];
    int n_res[CALR_MAX_GROUPS];
    for (int i = 0; i < n; i++) {
        Profile *p = &prof[i];
        const CalParams *c = &p->fit.params;
        cals[i] = (StoreCalibration){0, run_id, p->g.precision, p->g.kv_precision, p->g.threads,
                                     p->fit.peak_gflops, p->fit.bandwidth_gb_s, c->eff_compute,
                                     c->eff_prefill, c->eff_memory, c->step_overhead_ms,
                                     c->attn_ns_per_pair, c->overlap, p->fit.n_train, p->fit.n_test,
                                     p->fit.converged, p->fit.train_median_err,
                                     p->fit.test_median_err, 0};
        p->res = calloc((size_t)(p->n > 0 ? p->n : 1), sizeof *p->res);
        if (!p->res)
            return ts_err_set(err, TS_ENOMEM, "out of memory");
        for (int k = 0; k < p->n; k++)
            p->res[k] = (StoreCalResidual){p->pts[k].model, p->pts[k].phase, p->pts[k].batch,
                                           p->pts[k].held_out, p->pts[k].measured_s,
                                           p->pts[k].predicted_s};
        res[i] = p->res;
        n_res[i] = p->n;
    }
    int rc = store_calibrations_put(db, cals, n, res, n_res, err);
    for (int i = 0; !rc && i < n; i++)
        printf("%s calibration %lld: %s weights, KV %s, %d threads\n", i ? "" : "\nstored",
               (long long)cals[i].id, prof[i].g.precision, prof[i].g.kv_precision,
               prof[i].g.threads);
    return rc;
}

int cli_cmd_calibrate(int argc, char **argv)
{
    static const struct option longs[] = {
        {"db", required_argument, NULL, 'd'},
        {"run", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_path = "tokensim.db";
    long run = 0;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        switch (c) {
        case 'd':
            db_path = optarg;
            break;
        case 'r':
            if (cli_int_option("calibrate", "--run", optarg, 1, LONG_MAX, &run))
                return CLI_EXIT_USAGE;
            break;
        case 'h':
            fputs(CLI_USAGE_CALIBRATE, stdout);
            return 0;
        default:
            return cli_option_error("calibrate", c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error("calibrate", "calibrate takes no arguments besides options");
    TsErr err;
    ts_err_clear(&err);
    if (access(db_path, F_OK) != 0) {
        ts_err_set(&err, TS_EINPUT, "%s does not exist; run `tokensim measure` first", db_path);
        return cli_fail(&err);
    }
    Store *db = NULL;
    if (store_open(db_path, &db, &err))
        return cli_fail(&err);
    StoreMeasurements ms;
    int64_t run_id = 0;
    double peak = 0, bw = 0;
    Profile prof[CALR_MAX_GROUPS];
    int n_prof = 0;
    int rc = store_read_measurements(db, run, &run_id, &ms, &peak, &bw, &err);
    if (!rc) {
        rc = fit_groups(&ms, run_id, peak, bw, prof, &n_prof, &err);
        if (!rc) {
            printf("# Calibration of the step-time model on measure run %lld\n", (long long)run_id);
            for (int i = 0; i < n_prof; i++)
                calr_write_md(stdout, &prof[i].g, &prof[i].fit, prof[i].pts, prof[i].n);
            rc = store_profiles(db, run_id, prof, n_prof, &err);
        }
        store_measurements_free(&ms);
    }
    for (int i = 0; i < n_prof; i++) {
        free(prof[i].pts);
        free(prof[i].res);
    }
    store_close(db);
    return rc ? cli_fail(&err) : 0;
}
