/* outcome: everything a priced scenario run yields before it is stored, computed in one place
 * (study), so that the run's data takes one way: compute -> store -> render. For a Monte Carlo
 * run: the sample means as each fleet's metrics, P5/P50/P95 of the percentile metrics, a
 * tornado per fleet and the histograms; then the optimizer's ranking and the [question]'s rows
 * and conclusion. It neither stores nor prints. */
#ifndef TS_SIM_STUDY_OUTCOME_H
#define TS_SIM_STUDY_OUTCOME_H

#include <stdint.h>

#include "models/tserr.h"
#include "sim/price/evaluate.h"
#include "sim/scenario/scenario.h"
#include "sim/study/compare.h"
#include "sim/study/montecarlo.h"
#include "sim/study/question.h"
#include "sim/study/serving.h"
#include "sim/study/sweep.h"

/* One histogram bin of a fleet's percentile metric. */
typedef struct {
    int fleet;
    MetricId metric;
    double bin_low, bin_high;
    int64_t count;
} OutHistogram;

typedef struct {
    FleetResult *fleets;   /* (n_fleets) what is stored: Monte Carlo means, ranked */
    int n_fleets;
    const McResult *mc;    /* borrowed; NULL for a deterministic run */
    double *pct;           /* (n_fleets, MC_N_PCT, 3) p5, p50, p95; NULL without mc */
    McTornadoBar *tornado; /* (n_fleets, n_dists) sorted per fleet; NULL without mc */
    int *n_bars;           /* (n_fleets) */
    int n_dists;
    OutHistogram *hist;
    int n_hist;
    QstResult *question;   /* the [question]'s rows and conclusion (empty without one) */
    const ServeFleet *serve; /* (n_fleets) borrowed: simulated fleets' days; NULL without */
} Outcome;

/* Computes the outcome of s priced as results (central values), with its Monte Carlo run mc,
 * sweep and comparison (each may be NULL). s's values are borrowed for the tornado and left at
 * their medians. TS_ENOMEM, or what qst_run returns. */
int outcome_make(Scenario *s, const FleetResult *results, const McResult *mc,
                 const SwpResult *sweep, const CmpResult *cmp, Outcome *out, TsErr *err);

void outcome_fini(Outcome *o);

#endif
