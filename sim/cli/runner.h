/* runner: records a priced scenario: opens the database, commits a `running` runs row, writes
 * the report into a new folder named after the run, then stores every fleet and metric row and
 * `done` in one transaction. A failure after the runs row marks it `failed`. It neither parses
 * nor prices (scenario.c and evaluate.c do) and prints nothing. */
#ifndef TS_SIM_RUNNER_H
#define TS_SIM_RUNNER_H

#include <stdint.h>

#include "sim/price/evaluate.h"
#include "sim/cli/measure.h"
#include "sim/study/compare.h"
#include "sim/study/montecarlo.h"
#include "sim/study/question.h"
#include "sim/study/serving.h"
#include "sim/study/sweep.h"
#include "sim/scenario/scenario.h"
#include "sim/study/shard.h"
#include "sim/store/store.h"

typedef struct {
    const char *db_path;  /* SQLite file */
    const char *out_root; /* folder under which the run's folder is made */
    const char *version;  /* tokensim version for runs.version */
    int reproducible;     /* report text without the run id, metrics.csv to 6 significant
                             figures, so that a rerun changes no text file (make reports) */
} RunnerOptions;

typedef struct {
    int64_t run_id;
    char out_dir[4096];
    int n_plots, n_images; /* plots written (.gp + .dat) and drawn (PNG + SVG) */
    char plot_note[512];   /* "" when every plot was drawn, else why not (for a warning) */
    char conclusion[QST_TEXT_MAX]; /* the [question]'s conclusion paragraph, "" without one */
} RunnerResult;

/* Stores scenario s with its per-fleet results and writes its report; with sweep (its points)
 * the run's kind is `sweep`; with cmp, comparison ratios and breakeven_KEY metrics. With mc (a finished
 * Monte Carlo run of s, every block present), the metrics are its sample means with P5/P50/P95,
 * plus histograms and a tornado per fleet (s's values are borrowed for the tornado and left at
 * their medians). Once the run is `done`, the plots (plot.c) and report.html (html.c) go into
 * its folder; a missing gnuplot only leaves out->plot_note. TS_EIO on database or file failures
 * (the run, if created, is then `failed` with no result rows; a failure writing plots or the
 * HTML page after `done` keeps the run and its report.md). */
int runner_record(Scenario *s, const FleetResult *results, const ServeFleet *serve,
                  const McResult *mc,
                  const SwpResult *sweep, const CmpResult *cmp, const RunnerOptions *opt,
                  RunnerResult *out, TsErr *err);

/* Stores shard r of scenario s: a `scenario` runs row, `done` with its Monte Carlo blocks, its
 * mc_shards row (s->path kept for the merged run's report folder) and no metrics: it is a part
 * for `tokensim merge`. Writes no report folder. Errors as runner_record. */
int runner_record_shard(const Scenario *s, const ShardRun *r, const RunnerOptions *opt,
                        RunnerResult *out, TsErr *err);

/* Stores a measure run (its measurements, the roofline's validation rows and what msr_record
 * lays out) and `done` in one transaction, inside which report.md, metrics.csv and
 * results.json of its folder DIR/measure-<id>/ are rendered from the stored run; then the
 * plots and report.html (runner_render). configs: the models measured (their shapes and the
 * dense/MoE pairs). machine_json goes into runs.machine. A failure before `done` marks the
 * run failed. */
int runner_record_measure(const MsrResult *r, const EngineConfig *configs, int n_cfg,
                          const char *machine_json, const RunnerOptions *opt, RunnerResult *out,
                          TsErr *err);

/* Draws the plots of `done` run run_id of db and writes report.html (with report.md when it
 * is there) into out->out_dir; fills out->n_plots, n_images and plot_note (a missing gnuplot
 * is only a note). Used after every run and by `tokensim plot`. */
int runner_render(Store *db, int64_t run_id, const char *title, RunnerResult *out, TsErr *err);

/* Finishes a run whose runs row run_id is open (a scenario, a measure run, serve-bench,
 * validate --serving; rows stored beside it, such as serving requests, already in): makes its
 * folder OUT_ROOT/<stem>-<id>/ (stem: a scenario path's file stem), stores res and `done` in
 * one transaction with report.md and metrics.csv rendered from the stored run inside it, then
 * the plots and report.html (runner_render). A failure before `done` marks the run failed. */
int runner_finish(Store *db, int64_t run_id, const char *stem, const char *title,
                  const StoreResults *res, const char *out_root, RunnerResult *out, TsErr *err);

/* A run of s stopped before it had results (Ctrl-C during sampling): a runs row with status
 * `failed` and error why, and nothing else, so that the stop is visible in `tokensim runs`. */
int runner_record_interrupted(const Scenario *s, int sweep, const RunnerOptions *opt,
                              const char *why, int64_t *run_id, TsErr *err);

#endif
