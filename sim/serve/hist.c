/* hist: bin i holds [lo·10^(i/d), lo·10^((i+1)/d)) with d bins per decade; quantiles walk the
 * cumulative weights. Everything is in the caller's struct; one allocation per histogram. */
#include "sim/serve/hist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int hist_init(ServeHist *h, double lo, double hi, int per_decade, TsErr *err)
{
    memset(h, 0, sizeof *h);
    if (!(lo > 0) || !(hi > lo) || per_decade < 1 || per_decade > 1000)
        return ts_err_set(err, TS_EINPUT,
                          "histogram: need 0 < lo < hi and 1 to 1000 bins per "
                          "decade");
    double bins = ceil(log10(hi / lo) * per_decade);
    if (bins > 1e6)
        return ts_err_set(err, TS_EINPUT, "histogram: more than 10^6 bins");
    h->n_bins = (int)bins;
    h->count = calloc((size_t)h->n_bins, sizeof *h->count);
    if (!h->count)
        return ts_err_set(err, TS_ENOMEM, "out of memory for a histogram");
    h->lo = lo;
    h->hi = hi;
    h->per_decade = per_decade;
    return 0;
}

void hist_fini(ServeHist *h)
{
    if (h)
        free(h->count);
    if (h)
        memset(h, 0, sizeof *h);
}

void hist_add(ServeHist *h, double x, double weight)
{
    int i = 0;
    if (x > h->lo) {
        double f = log10(x / h->lo) * h->per_decade;
        i = f >= h->n_bins ? h->n_bins - 1 : (int)f;
    }
    h->count[i] += weight;
    h->total += weight;
}

void hist_merge(ServeHist *into, const ServeHist *from)
{
    for (int i = 0; i < into->n_bins && i < from->n_bins; i++)
        into->count[i] += from->count[i];
    into->total += from->total;
}

void hist_edges(const ServeHist *h, int i, double *lo, double *hi)
{
    *lo = h->lo * pow(10.0, (double)i / h->per_decade);
    *hi = h->lo * pow(10.0, (double)(i + 1) / h->per_decade);
}

double hist_quantile(const ServeHist *h, double p)
{
    if (h->total <= 0)
        return 0;
    double want = p * h->total, cum = 0;
    int i = 0;
    for (; i < h->n_bins - 1; i++) {
        cum += h->count[i];
        if (cum >= want && h->count[i] > 0)
            break;
    }
    double a, b;
    hist_edges(h, i, &a, &b);
    return sqrt(a * b);
}
