/* serving: a `throughput = simulate` fleet priced under load (issue 18). The fleet's instance
 * is the roofline's (deployment search included); its replicas are sized as the fewest whose
 * P90 (slo_percentile) TTFT and TPOT meet the SLOs over the peak hour of the [traffic] day, or
 * fixed by `replicas`; then the whole accounting window is simulated with them (sim/serve) and
 * the fleet is priced at that load: the chips are paid for all day, busy as the simulation
 * says. It stores and prints nothing. */
#ifndef TS_SIM_STUDY_SERVING_H
#define TS_SIM_STUDY_SERVING_H

#include "models/tserr.h"
#include "sim/price/evaluate.h"
#include "sim/scenario/scenario.h"
#include "sim/serve/sim.h"

typedef struct {
    int simulated;          /* 1: this fleet was simulated (the rest is meaningful) */
    int replicas, sized;    /* sized: 1 when the peak hour chose the replicas */
    int prefill_replicas;
    int chips_per_instance;
    ServeSummary peak;      /* the sizing run over the peak hour (sized only) */
    ServeResult day;        /* the accounting window at the chosen replicas */
    double *usd_per_hour;   /* (day.n_series) the fleet's cost per hour in each interval */
} ServeFleet;

/* Simulates fleet i of s (THR_SIMULATE) and prices it into r (replacing what eval_fleet
 * gives) and out (caller-owned; srv_fleet_fini it, also after an error). TS_EINPUT for an SLO
 * no replica count meets, a trace's FILE:LINE, a simulation past the caps; what eval_fleet
 * returns otherwise. */
int srv_fleet(const Scenario *s, int i, FleetResult *r, ServeFleet *out, TsErr *err);
void srv_fleet_fini(ServeFleet *f);

/* Checks fleet i (priced by eval_fleet into r) against the simulator's caps and rules without
 * running anything (a trace is not read): TS_EINPUT "FILE:LINE: fleet 'x': ...". */
int srv_check_fleet(const Scenario *s, int i, const FleetResult *r, TsErr *err);

/* Evaluates fleet i of s whatever its mode: srv_fleet (out may be NULL: results only) for a
 * simulated fleet, else eval_fleet. */
int srv_eval_fleet(const Scenario *s, int i, FleetResult *r, ServeFleet *out, TsErr *err);

/* Reprices simulated fleet i of s (f: its simulation) at the same simulated load after a price
 * changed: eval_fleet, then the load's busy share and tokens, without simulating again. What
 * eval_fleet returns. */
int srv_reprice(const Scenario *s, int i, const ServeFleet *f, FleetResult *r, TsErr *err);

/* 1 when a key path (`usd_per_kwh`, `fleet.price_usd`, `chip.tdp_w`, ...) changes only what a
 * simulated fleet pays, not what it serves, so srv_reprice prices it; 0 otherwise. */
int srv_price_only_key(const char *path);

#endif
