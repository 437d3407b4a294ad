/* report_measure: report.md and results.json of a `tokensim measure` run, from the stored run
 * alone: the meter and the machine's ceilings, every measured configuration (tokens/s, TTFT,
 * TPOT, GFLOP/s, GB/s, J/token with its band), reduced precision against fp32 with its
 * accuracy, multi-token prediction, each MoE model beside its dense twin, and the roofline's
 * predictions against the measurements. What it shows beyond the measurement rows is stored
 * by the measure run as inputs, notes and metrics (sim/cli/measure.h, msr_record); it
 * computes only rates and ratios of stored numbers, medians of stored errors and the closed
 * form 1 + a + ... + a^D. */
#ifndef TS_SIM_RENDER_REPORT_MEASURE_H
#define TS_SIM_RENDER_REPORT_MEASURE_H

#include <stdio.h>

#include "sim/store/run.h"

/* 1 when r is a measure run that stored its report rows (input energy_source of part
 * "meter"); runs stored before them keep the report.md they wrote. */
int report_measure_run(const StoredRun *r);

/* Writes its report.md to f. */
void report_measure_md(FILE *f, const StoredRun *r);

/* Writes it as one JSON object to f (results.json and `measure --json`): run id, machine,
 * energy source, ceilings, idle power and every measurement row with its derived rates. */
void report_measure_json(FILE *f, const StoredRun *r);

#endif
