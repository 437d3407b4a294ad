/* hist: a log-binned histogram of positive values (latencies in seconds): fixed bins per decade
 * between lo and hi, weighted adds, merging, and quantiles read from the bins (the geometric
 * middle of the bin the quantile falls in, so the relative error is at most half a bin). It
 * keeps no samples and does no I/O. */
#ifndef TS_SIM_SERVE_HIST_H
#define TS_SIM_SERVE_HIST_H

#include "models/tserr.h"

typedef struct {
    double lo, hi;  /* values below lo count in bin 0, above hi in the last bin */
    int per_decade; /* bins per factor of 10 */
    int n_bins;
    double *count; /* (n_bins) weights */
    double total;  /* sum of all weights */
} ServeHist;

/* Caller-owned histogram, 0 < lo < hi, 1 <= per_decade <= 1000, at most 10^6 bins. TS_EINPUT or
 * TS_ENOMEM. hist_fini frees (h may hold zeros). */
int hist_init(ServeHist *h, double lo, double hi, int per_decade, TsErr *err);
void hist_fini(ServeHist *h);

/* Adds weight (> 0) at value x (non-positive values land in bin 0). */
void hist_add(ServeHist *h, double x, double weight);

/* Adds every bin of `from`, which must have the same lo, hi and per_decade. */
void hist_merge(ServeHist *into, const ServeHist *from);

/* The p-quantile (0 <= p <= 1) of the added weights; 0 when the histogram is empty. */
double hist_quantile(const ServeHist *h, double p);

/* Edges of bin i: [*lo, *hi). */
void hist_edges(const ServeHist *h, int i, double *lo, double *hi);

#endif
