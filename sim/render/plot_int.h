/* plot_int: what the plot files of the render room share and nothing else includes: the
 * context of one run's plots (the stored run, the folder, what was written) and the helpers
 * that write data files and scripts (plot.c). One file per family of plots: plot_cost.c (cost
 * and price bars, a question's answer bars), plot_sweep.c (price curves, the batch curve,
 * heatmaps, deployment searches), plot_mc.c (histograms, tornados), plot_serve.c (simulated
 * days: latency CDFs, the day's load and cost; the engine's served requests and the
 * simulator against them), plot_measure.c (a measure run's lines). */
#ifndef TS_SIM_RENDER_PLOT_INT_H
#define TS_SIM_RENDER_PLOT_INT_H

#include <stdio.h>

#include "sim/render/plot.h"
#include "sim/store/run.h"

#define PLOT_TIMEOUT_S 20.0
#define PLOT_TEXT_MAX 200 /* longest stored text put in a script or data file */

typedef struct {
    const StoredRun *run;  /* borrowed */
    const char *dir;       /* borrowed */
    const char **fleets;   /* (n_fleets) in the run's order, borrowed from run */
    int n_fleets;
    PlotResult *out;       /* borrowed */
} PlotCtx;

/* One data row being gathered before it is sorted and written: up to 3 columns, sort keys. */
typedef struct {
    double col[3];
    double key[2];
    long seq; /* the order stored, the last sort key */
} PlotRow;

/* Text: an axis label for a swept parameter with its unit; a gnuplot single-quoted string
 * (inert, ' doubled); a double-quoted data column; a number or ?; an inert title copy. */
void pl_param_label(const char *param, char *buf, int size);
void pl_gp_str(FILE *f, const char *text);
void pl_dat_str(FILE *f, const char *text);
void pl_dat_num(FILE *f, double v);
void pl_title_copy(char *dst, size_t size, const char *s);

/* Files: begin opens NAME.dat and NAME.gp (temporary names) with their headers; end writes the
 * SVG half, renames both and records the plot; drop removes a plot's temporary files; finish
 * ends a plot of data blocks (dropped when rc or !keep); series starts one series of a plot
 * command over NAME.dat; room says whether another plot fits (else counts it left out). */
int pl_begin(PlotCtx *c, const char *name, const char *what, FILE **dat, FILE **gp, TsErr *err);
int pl_end(PlotCtx *c, const char *name, const char *title, FILE *dat, FILE *gp, TsErr *err);
void pl_drop(PlotCtx *c, const char *name, FILE *dat, FILE *gp);
int pl_finish(PlotCtx *c, const char *name, const char *title, int keep, int rc, FILE *dat,
              FILE *gp, TsErr *err);
void pl_series(FILE *gp, const char *name, int first, int block);
int pl_room(PlotCtx *c);

/* Data: v[0] value, v[1..3] p5, p50, p95 of a fleet's metric (NaN where NULL or absent). */
void pl_metric(const PlotCtx *c, const char *fleet, const char *metric, double v[4]);

/* Sorts rows by key[0], key[1], then seq (the order the store holds them). */
void pl_sort(PlotRow *rows, long n);

/* Writes rows (ncol columns each) as one data block: headed by two blank lines when sep and a
 * "# WHAT NAME" comment, only when there is a row; a blank line where column 0 changes when
 * scans is set. Counts finite values of column vcol into *finite. */
void pl_dump(FILE *dat, const PlotRow *rows, long n, int ncol, int vcol, int scans,
             const char *what, const char *name, int sep, int *finite);

/* The plot families (each writes nothing when the run has no data for it). */
int pl_cost(PlotCtx *c, TsErr *err);
int pl_answers(PlotCtx *c, TsErr *err);
int pl_price_curve(PlotCtx *c, TsErr *err);
int pl_price_lines(PlotCtx *c, TsErr *err);
int pl_batch_curve(PlotCtx *c, TsErr *err);
int pl_heatmaps(PlotCtx *c, TsErr *err);
int pl_deployments(PlotCtx *c, TsErr *err);
int pl_latency_cdfs(PlotCtx *c, TsErr *err);
int pl_load_curve(PlotCtx *c, TsErr *err);
int pl_serving_days(PlotCtx *c, TsErr *err);
int pl_served_requests(PlotCtx *c, TsErr *err);
int pl_serving_validation(PlotCtx *c, TsErr *err);
int pl_histogram(PlotCtx *c, TsErr *err);
int pl_tornados(PlotCtx *c, TsErr *err);
int pl_measure(PlotCtx *c, int which, TsErr *err);

#endif
