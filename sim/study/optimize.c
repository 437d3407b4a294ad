/* optimize: a brute-force choice over a handful of chips: every candidate is priced like any
 * fleet, then filtered by the caps and sorted by the objective (ties keep the listed order). */
#include "sim/study/optimize.h"

#include <string.h>

int opt_rank(const Scenario *s, FleetResult *res)
{
    if (s->optimize.line <= 0)
        return -1;
    const ScnVal *v = s->optimize.v;
    MetricId obj = v[OPK_OBJECTIVE].num == 1 ? MET_USD_PER_M_BLENDED : MET_USD_PER_M_OUTPUT;
    int order[OPT_MAX_CHIPS + 256], n = 0;
    for (int i = 0; i < s->n_fleets; i++) {
        if (!s->fleets[i].candidate)
            continue;
        MetricSet *m = &res[i].metrics;
        int ok = m->has[obj] && m->has[MET_USD_PER_DAY] && m->has[MET_FACILITY_POWER_KW];
        if (ok && v[OPK_POWER_CAP_MW].origin != ORIG_NONE &&
            m->value[MET_FACILITY_POWER_KW] > v[OPK_POWER_CAP_MW].num * 1000.0)
            ok = 0;
        if (ok && v[OPK_BUDGET_USD_PER_DAY].origin != ORIG_NONE &&
            m->value[MET_USD_PER_DAY] > v[OPK_BUDGET_USD_PER_DAY].num)
            ok = 0;
        met_set(m, MET_OPTIMIZE_FEASIBLE, ok);
        m->has[MET_OPTIMIZE_RANK] = 0;
        if (ok && n < (int)(sizeof order / sizeof order[0]))
            order[n++] = i;
    }
    /* insertion sort by the objective: stable, so ties keep the listed order */
    for (int a = 1; a < n; a++) {
        int x = order[a], b = a - 1;
        while (b >= 0 && res[order[b]].metrics.value[obj] > res[x].metrics.value[obj]) {
            order[b + 1] = order[b];
            b--;
        }
        order[b + 1] = x;
    }
    for (int r = 0; r < n; r++)
        met_set(&res[order[r]].metrics, MET_OPTIMIZE_RANK, r + 1);
    return n > 0 ? order[0] : -1;
}
