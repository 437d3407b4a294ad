/* report_serving: report.md of the runs where the real engine served traffic: a `serve-bench`
 * run (its setup, latency percentiles, throughput and energy, and what its stored requests
 * say) and a `validate --serving` run (the real engine and the simulator side by side per
 * model and arrival rate, with the errors and their median). From the stored run alone; it
 * computes only what a table shows (errors of stored pairs, counts of stored requests). */
#ifndef TS_SIM_RENDER_REPORT_SERVING_H
#define TS_SIM_RENDER_REPORT_SERVING_H

#include <stdio.h>

#include "sim/store/run.h"

/* 1 when r is a serving run (stored requests or serving validation rows). */
int report_serving_run(const StoredRun *r);

/* Writes its report.md to f. */
void report_serving_md(FILE *f, const StoredRun *r);

#endif
