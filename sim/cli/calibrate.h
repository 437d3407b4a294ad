/* calibrate: a measure run's rows as calibration points (sim/price/calib.h), grouped by
 * weight precision, KV precision and threads (each group gets its own profile: the ceilings
 * of an fp32 FMA and an int8 dot product differ), and the calibrated prediction of rows for
 * `validate`. MTP rows and models that are no engine preset are left out. Nothing printed. */
#ifndef TS_SIM_CLI_CALIBRATE_H
#define TS_SIM_CLI_CALIBRATE_H

#include <stdio.h>

#include "sim/cli/validate.h"
#include "sim/price/calib.h"
#include "sim/store/calib.h"
#include "sim/store/store.h"

#define CALR_MAX_GROUPS 16

typedef struct {
    char precision[8], kv_precision[8];
    int threads;
} CalGroup;

/* The distinct groups of rows (at most max, in order of first appearance); returns the count. */
int calr_groups(const StoreMeasurementRow *rows, int n, CalGroup *groups, int max);

/* One row as a point (per-step FLOPs, bytes and attention pairs from the row's counters, the
 * measured seconds per step); 0, or -1 when the row cannot be a point (MTP, no preset). */
int calr_point(const StoreMeasurementRow *r, CalPoint *p);

/* The points of group g, sorted by (model, phase, batch), into pts (room for n); returns the
 * count. */
int calr_points(const StoreMeasurementRow *rows, int n, const CalGroup *g, CalPoint *pts);

/* Predicts every row that has a stored calibration for its group (the newest) into out (room
 * for n), model labelled "MODEL PREC" for reduced precisions; *basis receives a line naming
 * the calibrations used. Returns the count (0: no calibration fits), or a negative TS_E*. */
int calr_predict(Store *db, const StoreMeasurementRow *rows, int n, ValRow *out, char *basis,
                 size_t basis_size, TsErr *err);

/* A stored profile's step-time parameters. */
CalParams calr_params(const StoreCalibration *c);

/* Markdown: one profile's parameters and its residuals. */
void calr_write_md(FILE *f, const CalGroup *g, const CalFit *fit, const CalPoint *pts, int n);

#endif
