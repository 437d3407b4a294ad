/* optimize: the [optimize] section: among its candidate fleets (the template fleet with each
 * listed chip, sized for the workload), the feasible ones (facility power within
 * power_cap_mw, usd_per_day within budget_usd_per_day, priced at all) ranked by the objective
 * (usd_per_m_output or usd_per_m_blended): metrics optimize_rank (1 = best) and
 * optimize_feasible on each candidate. */
#ifndef TS_SIM_OPTIMIZE_H
#define TS_SIM_OPTIMIZE_H

#include "sim/price/evaluate.h"
#include "sim/scenario/scenario.h"

/* Ranks the candidates of s in res (metrics set in place). Returns the index of the best
 * candidate, or -1 when none is feasible (or there is no [optimize]). */
int opt_rank(const Scenario *s, FleetResult *res);

#endif
