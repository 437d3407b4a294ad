/* dist: parsing "name(ARG, ARG, ...)" with strtod numbers, analytic quantiles (GSL's inverse
 * normal CDF for normal and lognormal, closed forms for uniform and triangular), and draws with
 * GSL's variates (gsl_ran_flat, gsl_ran_gaussian, gsl_ran_lognormal; triangular by inverse CDF;
 * choice by a uniform index). */
#include "sim/scenario/dist.h"

#include <ctype.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sim/text/text.h"

static const char *const NAMES[] = {"uniform", "normal", "lognormal", "triangular", "choice"};

static int name_of(const char *text, size_t *len)
{
    size_t n = 0;
    while (isalpha((unsigned char)text[n]))
        n++;
    const char *p = text + n;
    while (*p == ' ')
        p++;
    if (n == 0 || *p != '(')
        return -1;
    for (int i = 0; i < 5; i++)
        if (strlen(NAMES[i]) == n && strncasecmp(text, NAMES[i], n) == 0) {
            *len = (size_t)(p - text) + 1;
            return i;
        }
    return -1;
}

int dist_is_call(const char *text)
{
    size_t len;
    return name_of(text, &len) >= 0;
}

int dist_parse(const char *text, int integer, Dist *d, char *msg, size_t msg_size)
{
    memset(d, 0, sizeof *d);
    size_t len;
    int kind = name_of(text, &len);
    if (kind < 0) {
        snprintf(msg, msg_size, "expected uniform(), normal(), lognormal(), triangular() or "
                                "choice(), got '%s'", text);
        return -1;
    }
    d->kind = (DistKind)kind;
    const char *close = strrchr(text, ')');
    if (!close || close < text + len) {
        snprintf(msg, msg_size, "%s(...) needs a closing ')'", NAMES[kind]);
        return -1;
    }
    for (const char *p = close + 1; *p; p++)
        if (!isspace((unsigned char)*p)) {
            snprintf(msg, msg_size, "unexpected text after ')': '%s'", close + 1);
            return -1;
        }
    char args[512];
    size_t n = (size_t)(close - (text + len));
    if (n >= sizeof args) {
        snprintf(msg, msg_size, "%s(...) has too long an argument list", NAMES[kind]);
        return -1;
    }
    memcpy(args, text + len, n);
    args[n] = '\0';
    double v[DIST_MAX_CHOICES];
    int nv = 0;
    char *save = NULL;
    for (char *tok = strtok_r(args, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (nv == DIST_MAX_CHOICES) {
            snprintf(msg, msg_size, "at most %d values in %s(...)", DIST_MAX_CHOICES,
                     NAMES[kind]);
            return -1;
        }
        if (txt_parse_double(tok, &v[nv]) != 0) {
            snprintf(msg, msg_size, "%s(...): expected a number, got '%s'", NAMES[kind],
                     txt_trim(tok));
            return -1;
        }
        nv++;
    }
    static const int want[] = {2, 2, 2, 3, -1};
    static const char *const forms[] = {"uniform(LOW, HIGH)", "normal(MEAN, SD)",
                                        "lognormal(MEDIAN, SIGMA)",
                                        "triangular(LOW, MODE, HIGH)", "choice(V1, V2, ...)"};
    if ((want[kind] > 0 && nv != want[kind]) || (kind == DIST_CHOICE && nv < 1)) {
        snprintf(msg, msg_size, "expected %s with %d number%s, got %d", forms[kind],
                 want[kind] > 0 ? want[kind] : 1, want[kind] == 1 ? "" : "s", nv);
        return -1;
    }
    if (integer && kind != DIST_CHOICE) {
        snprintf(msg, msg_size, "a whole-number key takes only choice(V1, V2, ...), not %s",
                 forms[kind]);
        return -1;
    }
    switch (d->kind) {
    case DIST_UNIFORM:
        if (v[0] > v[1]) {
            snprintf(msg, msg_size, "uniform(LOW, HIGH) needs LOW <= HIGH, got %g > %g", v[0],
                     v[1]);
            return -1;
        }
        break;
    case DIST_NORMAL:
        if (!(v[1] > 0)) {
            snprintf(msg, msg_size, "normal(MEAN, SD) needs SD > 0, got %g", v[1]);
            return -1;
        }
        break;
    case DIST_LOGNORMAL:
        if (!(v[0] > 0) || !(v[1] > 0)) {
            snprintf(msg, msg_size, "lognormal(MEDIAN, SIGMA) needs MEDIAN > 0 and SIGMA > 0, "
                                    "got %g, %g", v[0], v[1]);
            return -1;
        }
        break;
    case DIST_TRIANGULAR:
        if (!(v[0] <= v[1] && v[1] <= v[2]) || v[0] == v[2]) {
            snprintf(msg, msg_size, "triangular(LOW, MODE, HIGH) needs LOW <= MODE <= HIGH and "
                                    "LOW < HIGH, got %g, %g, %g", v[0], v[1], v[2]);
            return -1;
        }
        break;
    case DIST_CHOICE:
        for (int i = 0; i < nv; i++)
            if (integer && v[i] != floor(v[i])) {
                snprintf(msg, msg_size, "choice(...) of a whole-number key needs whole numbers, "
                                        "got %g", v[i]);
                return -1;
            }
        break;
    }
    d->a = v[0];
    d->b = nv > 1 ? v[1] : 0;
    d->c = nv > 2 ? v[2] : 0;
    if (kind == DIST_CHOICE) {
        memcpy(d->choices, v, sizeof(double) * (size_t)nv);
        d->n_choices = nv;
    }
    d->lo = -HUGE_VAL;
    d->hi = HUGE_VAL;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double dist_quantile(const Dist *d, double p)
{
    switch (d->kind) {
    case DIST_UNIFORM:
        return d->a + p * (d->b - d->a);
    case DIST_NORMAL:
        return d->a + d->b * gsl_cdf_ugaussian_Pinv(p);
    case DIST_LOGNORMAL:
        return d->a * exp(d->b * gsl_cdf_ugaussian_Pinv(p));
    case DIST_TRIANGULAR: {
        double lo = d->a, mode = d->b, hi = d->c, f = (mode - lo) / (hi - lo);
        return p < f ? lo + sqrt(p * (hi - lo) * (mode - lo))
                     : hi - sqrt((1 - p) * (hi - lo) * (hi - mode));
    }
    case DIST_CHOICE: {
        double s[DIST_MAX_CHOICES];
        memcpy(s, d->choices, sizeof(double) * (size_t)d->n_choices);
        qsort(s, (size_t)d->n_choices, sizeof(double), cmp_double);
        double pos = p * (d->n_choices - 1);
        int i = (int)pos;
        return i + 1 < d->n_choices ? s[i] + (pos - i) * (s[i + 1] - s[i]) : s[i];
    }
    }
    return NAN;
}

double dist_median(const Dist *d)
{
    return dist_quantile(d, 0.5);
}

double dist_clamp(const Dist *d, double x, int *clamped)
{
    double lo = d->lo_open ? nextafter(d->lo, HUGE_VAL) : d->lo;
    double hi = d->hi_open ? nextafter(d->hi, -HUGE_VAL) : d->hi;
    *clamped = 0;
    if (x < lo) {
        *clamped = 1;
        return lo;
    }
    if (x > hi) {
        *clamped = 1;
        return hi;
    }
    return x;
}

double dist_draw(Dist *d, gsl_rng *r)
{
    double x = 0;
    switch (d->kind) {
    case DIST_UNIFORM:
        x = d->a == d->b ? d->a : gsl_ran_flat(r, d->a, d->b);
        break;
    case DIST_NORMAL:
        x = d->a + gsl_ran_gaussian(r, d->b);
        break;
    case DIST_LOGNORMAL:
        x = gsl_ran_lognormal(r, log(d->a), d->b);
        break;
    case DIST_TRIANGULAR:
        x = dist_quantile(d, gsl_rng_uniform_pos(r));
        break;
    case DIST_CHOICE:
        x = d->choices[gsl_rng_uniform_int(r, (unsigned long)d->n_choices)];
        break;
    }
    int c;
    x = dist_clamp(d, x, &c);
    d->clamped += c;
    return x;
}
