/* evaluate: prices every fleet of a validated scenario: perf (throughput) then cost (money and
 * energy) into one MetricSet per fleet, plus warnings such as an over-capacity fixed fleet.
 * It neither stores nor renders anything. */
#ifndef TS_SIM_EVALUATE_H
#define TS_SIM_EVALUATE_H

#include "sim/price/cost.h"
#include "sim/price/perf.h"
#include "sim/scenario/scenario.h"

typedef struct {
    MetricSet metrics;
    PerfResult perf;
    CostInputs inputs;
    int over_capacity; /* a fixed fleet too small for the workload */
} FleetResult;

/* Gathers the plain numbers cost_compute needs for fleet f of s. */
void eval_cost_inputs(const Scenario *s, const ScnFleet *f, const PerfResult *perf,
                      CostInputs *in);

/* Evaluates fleet f of s into r. TS_EINPUT ("FILE:LINE: ...") when the inputs are valid one by
 * one but absurd together: a fleet that would need more than EVAL_MAX_CHIPS chips. */
#define EVAL_MAX_CHIPS 1e9
int eval_fleet(const Scenario *s, const ScnFleet *f, FleetResult *r, TsErr *err);

#endif
