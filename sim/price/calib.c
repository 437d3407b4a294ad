/* calib: least squares of the step-time model on measured steps. Parameters are fitted as
 * logarithms (every one stays positive; the overhead may shrink towards 0) by GSL's trust
 * region with a finite-difference Jacobian, from a few starting points (the max() of compute
 * and memory has a kink, so one start can stall on the wrong side); the lowest cost wins. The
 * attention term is fitted second and kept only if the training error asks for it. The
 * residuals are reweighted (Cauchy) a few rounds, so that a few steps slowed by other work on
 * a shared machine do not pull the fit. */
#include "sim/price/calib.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_statistics_double.h>
#include <gsl/gsl_vector.h>

double cal_parts_s(const CalParams *c, double peak_gflops, double bandwidth_gb_s,
                   double decode_flops, double prefill_flops, double bytes, double pairs)
{
    double flop_s = peak_gflops * 1e9;
    double compute_s = decode_flops / (flop_s * c->eff_compute) +
                       prefill_flops / (flop_s * c->eff_prefill);
    double memory_s = bytes / (bandwidth_gb_s * 1e9 * c->eff_memory);
    double hi = compute_s > memory_s ? compute_s : memory_s;
    double both = hi;
    if (c->overlap > 0 && hi > 0) {
        /* scaled by the larger term so that large k cannot overflow */
        double lo = compute_s > memory_s ? memory_s : compute_s;
        both = hi * pow(1.0 + pow(lo / hi, c->overlap), 1.0 / c->overlap);
    }
    return both + c->step_overhead_ms * 1e-3 + c->attn_ns_per_pair * 1e-9 * pairs;
}

double cal_step_s(const CalParams *c, double peak_gflops, double bandwidth_gb_s,
                  const CalPoint *p)
{
    return cal_parts_s(c, peak_gflops, bandwidth_gb_s, p->prefill ? 0 : p->flops,
                       p->prefill ? p->flops : 0, p->bytes, p->pairs);
}

void cal_hold_out_alternate(CalPoint *pts, int n)
{
    for (int i = 0; i < n; i++) {
        int before = 0;
        for (int j = 0; j < i; j++)
            before += strcmp(pts[j].model, pts[i].model) == 0 &&
                      strcmp(pts[j].phase, pts[i].phase) == 0;
        pts[i].held_out = before % 2;
    }
}

typedef struct {
    const CalPoint *pts;
    const int *train; /* indices of the training points */
    double *weight;   /* (n_train) robust weights of the residuals */
    int n_train;
    double peak, bw;
} FitData;

/* x: log of each efficiency and the overhead, log(k - 1) of the overlap, then log of the
 * attention time when fitted. */
static CalParams params_of(const gsl_vector *x)
{
    CalParams c = {.eff_compute = exp(gsl_vector_get(x, 0)),
                   .eff_prefill = exp(gsl_vector_get(x, 1)),
                   .eff_memory = exp(gsl_vector_get(x, 2)),
                   .step_overhead_ms = exp(gsl_vector_get(x, 3)),
                   .overlap = 1.0 + exp(gsl_vector_get(x, 4))};
    if (x->size > 5)
        c.attn_ns_per_pair = exp(gsl_vector_get(x, 5));
    return c;
}

static int residuals(const gsl_vector *x, void *data, gsl_vector *f)
{
    const FitData *d = data;
    CalParams c = params_of(x);
    for (int i = 0; i < d->n_train; i++) {
        const CalPoint *p = &d->pts[d->train[i]];
        double v = cal_step_s(&c, d->peak, d->bw, p);
        double r = isfinite(v) && v > 0 ? log(v / p->measured_s) : 50.0;
        gsl_vector_set(f, (size_t)i, sqrt(d->weight[i]) * r);
    }
    return GSL_SUCCESS;
}

/* The best of several starts with n_params (5 or 6) parameters; *cost the sum of squares. */
static int fit_once(const FitData *d, int n_params, CalParams *best, double *best_cost,
                    int *converged)
{
    /* eff_compute, eff_prefill, eff_memory, overhead ms, k - 1, attention ns */
    static const double starts[][6] = {
        {0.5, 0.5, 0.7, 0.05, 4.0, 0.5},
        {0.2, 0.8, 1.0, 0.01, 1.0, 0.1},
        {1.0, 1.0, 0.3, 0.2, 16.0, 2.0},
        {0.05, 0.3, 2.0, 0.002, 0.3, 0.05},
    };
    gsl_multifit_nlinear_fdf fdf = {.f = residuals,
                                    .df = NULL,
                                    .fvv = NULL,
                                    .n = (size_t)d->n_train,
                                    .p = (size_t)n_params,
                                    .params = (void *)d};
    gsl_multifit_nlinear_parameters fp = gsl_multifit_nlinear_default_parameters();
    gsl_multifit_nlinear_workspace *w = gsl_multifit_nlinear_alloc(
        gsl_multifit_nlinear_trust, &fp, (size_t)d->n_train, (size_t)n_params);
    gsl_vector *x0 = gsl_vector_alloc((size_t)n_params);
    if (!w || !x0) {
        if (w)
            gsl_multifit_nlinear_free(w);
        gsl_vector_free(x0);
        return TS_ENOMEM;
    }
    *best_cost = INFINITY;
    for (size_t s = 0; s < sizeof starts / sizeof starts[0]; s++) {
        for (int k = 0; k < n_params; k++)
            gsl_vector_set(x0, (size_t)k, log(starts[s][k]));
        if (gsl_multifit_nlinear_init(x0, &fdf, w) != GSL_SUCCESS)
            continue;
        int info = 0;
        int status = gsl_multifit_nlinear_driver(300, 1e-10, 1e-10, 1e-10, NULL, NULL, &info, w);
        gsl_vector *r = gsl_multifit_nlinear_residual(w);
        double cost = 0;
        for (size_t i = 0; i < r->size; i++)
            cost += gsl_vector_get(r, i) * gsl_vector_get(r, i);
        if (isfinite(cost) && cost < *best_cost) {
            *best_cost = cost;
            *best = params_of(gsl_multifit_nlinear_position(w));
            *converged = status == GSL_SUCCESS;
        }
    }
    gsl_vector_free(x0);
    gsl_multifit_nlinear_free(w);
    return 0;
}

/* Cauchy weights 1 / (1 + (r / c)^2) of the residuals at c: a step slowed by another process
 * (this machine is shared) must not pull the fit; c = 0.15 (15% in log) keeps ordinary noise
 * at nearly full weight. */
#define CAL_ROBUST_C 0.15
#define CAL_ROBUST_ROUNDS 4

/* fit_once with iteratively reweighted residuals; *cost is the unweighted sum of squares. */
static int fit_robust(FitData *d, int n_params, CalParams *best, double *cost, int *converged)
{
    for (int i = 0; i < d->n_train; i++)
        d->weight[i] = 1.0;
    double wcost;
    for (int round = 0; round < CAL_ROBUST_ROUNDS; round++) {
        int rc = fit_once(d, n_params, best, &wcost, converged);
        if (rc || !isfinite(wcost))
            return rc;
        *cost = 0;
        for (int i = 0; i < d->n_train; i++) {
            const CalPoint *p = &d->pts[d->train[i]];
            double r = log(cal_step_s(best, d->peak, d->bw, p) / p->measured_s);
            *cost += r * r;
            d->weight[i] = 1.0 / (1.0 + (r / CAL_ROBUST_C) * (r / CAL_ROBUST_C));
        }
    }
    return 0;
}

double cal_median_err(const CalPoint *pts, int n, int which)
{
    double *e = malloc(sizeof *e * (size_t)(n > 0 ? n : 1));
    if (!e)
        return NAN;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (which < 0 || pts[i].held_out == which)
            e[m++] = fabs(pts[i].measured_s / pts[i].predicted_s - 1.0);
    double med = m > 0 ? gsl_stats_median(e, 1, (size_t)m) : 0;
    free(e);
    return med;
}

int cal_fit(CalPoint *pts, int n, double peak_gflops, double bandwidth_gb_s, CalFit *out,
            TsErr *err)
{
    memset(out, 0, sizeof *out);
    if (!(peak_gflops > 0) || !(bandwidth_gb_s > 0))
        return ts_err_set(err, TS_EINPUT, "calibration needs the measured FMA peak and "
                                          "bandwidth (got %g GFLOP/s, %g GB/s)",
                          peak_gflops, bandwidth_gb_s);
    int *train = malloc(sizeof *train * (size_t)(n > 0 ? n : 1));
    double *weight = malloc(sizeof *weight * (size_t)(n > 0 ? n : 1));
    if (!train || !weight) {
        free(train);
        free(weight);
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    }
    int nt = 0;
    for (int i = 0; i < n; i++) {
        if (!pts[i].held_out && pts[i].measured_s > 0)
            train[nt++] = i;
        out->n_test += pts[i].held_out;
    }
    if (nt < 5 + CAL_MIN_SPARE) {
        free(train);
        free(weight);
        return ts_err_set(err, TS_EINPUT,
                          "%d training points cannot fit the step-time model's 5 parameters "
                          "(at least %d needed): measure more batches or presets",
                          nt, 5 + CAL_MIN_SPARE);
    }
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    FitData d = {pts, train, weight, nt, peak_gflops, bandwidth_gb_s};
    CalParams pb = {0}, pa = {0};
    double cb = INFINITY, ca = INFINITY;
    int convb = 0, conva = 0;
    int rc = fit_robust(&d, 5, &pb, &cb, &convb);
    if (!rc && nt >= 6 + CAL_MIN_SPARE)
        rc = fit_robust(&d, 6, &pa, &ca, &conva);
    gsl_set_error_handler(old);
    free(train);
    free(weight);
    if (rc)
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    if (!isfinite(cb))
        return ts_err_set(err, TS_EINPUT, "the step-time fit found no finite solution");
    /* attention: kept when it lowers the training RMS log error by over 10% and by over 0.01
     * (about 1%: exact synthetic data fit either way to rounding) */
    double rms_b = sqrt(cb / nt), rms_a = sqrt(ca / nt);
    int attn = isfinite(ca) && rms_a < 0.9 * rms_b && rms_b - rms_a > 0.01;
    out->params = attn ? pa : pb;
    out->with_attention = attn;
    out->converged = attn ? conva : convb;
    out->train_rms_log = sqrt((attn ? ca : cb) / nt);
    out->peak_gflops = peak_gflops;
    out->bandwidth_gb_s = bandwidth_gb_s;
    out->n_train = nt;
    for (int i = 0; i < n; i++)
        pts[i].predicted_s = cal_step_s(&out->params, peak_gflops, bandwidth_gb_s, &pts[i]);
    out->train_median_err = cal_median_err(pts, n, 0);
    out->test_median_err = cal_median_err(pts, n, 1);
    return 0;
}
