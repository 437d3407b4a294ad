/* plot: gnuplot figures of a finished run, drawn from the run as stored (a StoredRun). For each plot it writes
 * NAME.dat (plain columns) and NAME.gp (a script a user can edit and rerun with `gnuplot NAME.gp`
 * in the folder, writing NAME.png and NAME.svg) into the run's folder, then runs gnuplot on each
 * script. Text from the database reaches a script only as an escaped single-quoted string. */
#ifndef TS_SIM_PLOT_H
#define TS_SIM_PLOT_H

#include <stdint.h>

#include "models/tserr.h"
#include "sim/store/run.h"

#define PLOT_MAX 64      /* plots one run can get; more heatmaps or tornados are left out */
#define PLOT_NAME_MAX 32 /* "heatmap_12": file names are fixed text plus a fleet index */
#define PLOT_TITLE_MAX 192

/* One plot written into the folder: NAME.dat and NAME.gp always; NAME.png and NAME.svg when
 * image is 1. title is for people (it may hold fleet names: escape it before use). */
typedef struct {
    char name[PLOT_NAME_MAX];
    char title[PLOT_TITLE_MAX];
    int image; /* 1: gnuplot wrote NAME.png and NAME.svg */
} PlotItem;

/* What plot_run wrote (caller-owned, no pointers to free). */
typedef struct {
    PlotItem items[PLOT_MAX];
    int n;
    int n_images;   /* items with image 1 */
    int left_out;   /* plots not written because PLOT_MAX was reached */
    char note[512]; /* "" when every image was produced, else why not (for a warning) */
} PlotResult;

/* Writes the plots the stored run has data for into folder dir (which must exist): cost_breakdown
 * and usd_per_m (metrics), price_curve (1-D sweep), heatmap_F (2-D sweep, fleet F from 1),
 * histogram and tornado_F (Monte Carlo). Then runs gnuplot on each script (20 s limit each).
 * A missing or failing gnuplot is not an error: images are marked not produced, out->note says
 * why, and 0 is returned. Errors (TS_EIO, TS_ENOMEM): writing a file, memory. */
int plot_run(const StoredRun *run, const char *dir, PlotResult *out, TsErr *err);

#endif
