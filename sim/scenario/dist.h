/* dist: the contract's distributions (uniform, normal, lognormal, triangular, choice): parsing
 * from scenario text, medians and quantiles (for tornado sensitivity), draws from a GSL
 * generator, and clamping of draws to a key's valid range with a count of clamped draws. It
 * knows nothing of scenarios beyond the text of one value. */
#ifndef TS_SIM_DIST_H
#define TS_SIM_DIST_H

#include <gsl/gsl_rng.h>
#include <stddef.h>

typedef enum { DIST_UNIFORM, DIST_NORMAL, DIST_LOGNORMAL, DIST_TRIANGULAR, DIST_CHOICE } DistKind;

#define DIST_MAX_CHOICES 64

typedef struct {
    DistKind kind;
    double a, b, c;          /* uniform(a, b); normal(mean a, sd b); lognormal(median a,
                                sigma b); triangular(low a, mode b, high c) */
    double choices[DIST_MAX_CHOICES];
    int n_choices;
    double lo, hi;           /* the key's valid range: draws are clamped into it */
    int lo_open, hi_open;
    long clamped;            /* draws clamped so far */
    char label[96];          /* which input, e.g. "[fleet cn] usd_per_kwh" */
} Dist;

/* Returns 1 when text looks like a distribution call ("name(" with a known name, any case),
 * else 0. */
int dist_is_call(const char *text);

/* Parses text into d. integer: only choice() of whole numbers is allowed. Returns 0, or -1 with
 * a message (bad name, wrong number of arguments, non-numbers, sigma or sd <= 0, LOW > HIGH,
 * mode outside [LOW, HIGH], lognormal median <= 0, an empty or over-long choice list). */
int dist_parse(const char *text, int integer, Dist *d, char *msg, size_t msg_size);

/* The median (the central value used for checks and for sweeps and tornado bases). */
double dist_median(const Dist *d);

/* The p-quantile, p in (0, 1). choice: the empirical quantile of the sorted list (linear
 * interpolation between order statistics). */
double dist_quantile(const Dist *d, double p);

/* One draw, clamped into [lo, hi] (counted in d->clamped). */
double dist_draw(Dist *d, gsl_rng *r);

/* x clamped into d's valid range (open bounds move one step inside). */
double dist_clamp(const Dist *d, double x, int *clamped);

#endif
