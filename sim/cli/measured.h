/* measured: binds `throughput = measured` fleets of a scenario to a measure run in the
 * database: tokens/s per chip (the best measured decode throughput whose time per output token
 * meets tpot_slo_ms, and likewise prefill against ttft_slo_ms), busy and idle watts from the
 * measured joules with their source, and for chip = this-machine the peaks of the run's probes.
 * It reads the database and changes the scenario's values; it prices nothing. */
#ifndef TS_SIM_MEASURED_H
#define TS_SIM_MEASURED_H

#include "sim/scenario/scenario.h"
#include "sim/store/store.h"

/* 1 when some fleet of s uses throughput = measured. */
int msd_needed(const Scenario *s);

/* Binds every measured fleet of s to db. TS_EINPUT "FILE:LINE: fleet 'x': ..." when there is no
 * usable measure run, model, thread count or row meeting the SLOs. */
int msd_bind(Scenario *s, Store *db, TsErr *err);

#endif
