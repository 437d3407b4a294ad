/* compare: the [compare] section: every fleet's metrics as ratios to the baseline fleet's, and
 * break-even values: for each listed key and each other fleet, the value of that key (varied
 * for that fleet only) at which its usd_per_m_output equals the baseline's, found with a GSL
 * root finder (Brent) inside a bracketing interval; NULL when no value in range does it. */
#ifndef TS_SIM_COMPARE_H
#define TS_SIM_COMPARE_H

#include <stdint.h>

#include "sim/price/evaluate.h"
#include "sim/scenario/scenario.h"
#include "sim/study/serving.h"


#define CMP_MAX_KEYS 8

typedef struct {
    int baseline;               /* fleet index */
    int n_keys;
    char keys[CMP_MAX_KEYS][96];
    char metric[CMP_MAX_KEYS][112]; /* "breakeven_" + the key's last part */
    double *breakeven;          /* (n_keys, fleets); NAN where none in range or baseline */
    double *lo, *hi;            /* (n_keys, fleets) the ranges searched */
    const Scenario *s;          /* borrowed */
    const FleetResult *res;     /* borrowed: the metrics the ratios divide */
} CmpResult;

/* Finds the baseline, parses the keys and range, and searches every break-even. serve (one per
 * fleet, or NULL when nothing was simulated): a simulated fleet is repriced at its simulated
 * load for keys that change only prices (srv_price_only_key); for other keys its break-even is
 * left unknown (it would need a simulation per probe). TS_EINPUT "FILE:LINE: ..." for an
 * unknown baseline, a bad key path or range. */
int cmp_run(Scenario *s, const FleetResult *res, const ServeFleet *serve, CmpResult *out,
            TsErr *err);
void cmp_fini(CmpResult *r);


#endif
