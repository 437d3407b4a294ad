/* outcome: the run's results after pricing, before storing (see outcome.h). Histograms have
 * MC_HIST_BINS equal bins from the smallest to the largest kept sample. */
#include "sim/study/outcome.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/study/optimize.h"

/* The histogram bins of the kept samples into rows; returns how many. */
static int histogram_rows(const Scenario *s, const McResult *mc, OutHistogram *rows)
{
    int n = 0;
    for (int f = 0; f < s->n_fleets; f++)
        for (int p = 0; p < MC_N_PCT; p++) {
            const double *v =
                mc->samples + ((size_t)f * MC_N_PCT + (size_t)p) * (size_t)mc->n_samples;
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
                rows[n++] = (OutHistogram){f, MC_PCT[p], lo + b * width, lo + (b + 1) * width,
                                           count[b]};
        }
    return n;
}

/* Monte Carlo: means into o->fleets, percentiles, tornado and histograms. */
static int summarise(Scenario *s, const McResult *mc, Outcome *o, TsErr *err)
{
    MetricSet *means = malloc(sizeof *means * (size_t)s->n_fleets);
    o->pct = malloc(sizeof(double) * (size_t)s->n_fleets * MC_N_PCT * 3);
    o->tornado = calloc((size_t)(s->n_fleets * (s->n_dists + 1)), sizeof *o->tornado);
    o->n_bars = calloc((size_t)s->n_fleets, sizeof *o->n_bars);
    o->hist = calloc((size_t)s->n_fleets * MC_N_PCT * MC_HIST_BINS, sizeof *o->hist);
    int rc = 0;
    if (!means || !o->pct || !o->tornado || !o->n_bars || !o->hist)
        rc = ts_err_set(err, TS_ENOMEM, "out of memory");
    if (!rc)
        rc = mc_summarise(mc, means, o->pct, err);
    for (int i = 0; !rc && i < s->n_fleets; i++) {
        o->fleets[i].metrics = means[i];
        o->n_bars[i] = mc_tornado(s, i, o->tornado + (size_t)i * (size_t)s->n_dists);
    }
    if (!rc)
        o->n_hist = histogram_rows(s, mc, o->hist);
    o->n_dists = s->n_dists;
    free(means);
    return rc;
}

int outcome_make(Scenario *s, const FleetResult *results, const McResult *mc,
                 const SwpResult *sweep, const CmpResult *cmp, Outcome *out, TsErr *err)
{
    memset(out, 0, sizeof *out);
    out->n_fleets = s->n_fleets;
    out->mc = mc;
    out->fleets = malloc(sizeof *out->fleets * (size_t)(s->n_fleets + 1));
    out->question = calloc(1, sizeof *out->question);
    int rc = out->fleets && out->question ? 0 : ts_err_set(err, TS_ENOMEM, "out of memory");
    if (!rc)
        memcpy(out->fleets, results, sizeof *out->fleets * (size_t)s->n_fleets);
    if (!rc && mc)
        rc = summarise(s, mc, out, err);
    /* the optimizer ranks whatever values are stored (means for a Monte Carlo run) */
    if (!rc)
        opt_rank(s, out->fleets);
    if (!rc)
        rc = qst_run(s, out->fleets, sweep, cmp, out->question, err);
    if (rc)
        outcome_fini(out);
    return rc;
}

void outcome_fini(Outcome *o)
{
    if (!o)
        return;
    free(o->fleets);
    free(o->pct);
    free(o->tornado);
    free(o->n_bars);
    free(o->hist);
    free(o->question);
    memset(o, 0, sizeof *o);
}
