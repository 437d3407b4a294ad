/* published: predicting published serving measurements (see published.h). A row's deployment
 * is resolved as a roofline fleet through the scenario reader (so catalog rows, shapes and
 * defaults are the ones a user's scenario gets), at the row's chips per instance and, when
 * published, its concurrency (else the batch memory allows: benchmarks that queue every request
 * at once run full). Weights take the row's precision (fp8: 1 byte at the fp8 peak; fp4: half a
 * byte, at the fp8 peak, the catalog's highest); the KV cache stays bf16. Output tokens/s per
 * chip = output / (input / prefill tok/s + output / decode tok/s): each request is prefilled
 * once and decoded. The fit minimises the squared log ratios predicted / measured. */
#include "sim/price/published.h"

#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_statistics_double.h>
#include <gsl/gsl_vector.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/price/perf.h"
#include "sim/price/roofline.h"
#include "sim/text/text.h"

const PubParams PUB_DEFAULTS = {0.5, 0.7, 0.0, SCN_DEFAULT_COLLECTIVE_US};

static const char *const COLUMNS[] = {"name", "source", "as_of", "confidence", "notes",
                                      "chip",         "chips",         "model",
                                      "precision",    "input_tokens",  "output_tokens",
                                      "concurrency",  "output_tok_s_per_chip",
                                      "ttft_ms",      "tpot_ms",       "software",
                                      "software_version", "url"};
static const char *const NUMERIC[] = {"chips",       "input_tokens", "output_tokens",
                                      "concurrency", "output_tok_s_per_chip", "ttft_ms",
                                      "tpot_ms"};

const char *pub_family(const char *chip)
{
    static const char *const nvidia[] = {"h100", "h200", "h800", "h20", "b200", "b300",
                                         "gb200", "a100", "l40s"};
    for (size_t i = 0; i < sizeof nvidia / sizeof nvidia[0]; i++)
        if (strncmp(chip, nvidia[i], strlen(nvidia[i])) == 0)
            return "nvidia";
    if (strncmp(chip, "mi", 2) == 0)
        return "amd";
    return "other";
}

/* The roofline inputs of row r at the defaults, through a one-fleet scenario. */
static int row_inputs(const ScnCatalogs *cats, const PubRow *r, RoofInputs *in, char *why,
                      int why_size)
{
    char text[1024];
    snprintf(text, sizeof text,
             "[scenario]\nname = published\n[workload]\nmodel = %s\nrequests_per_day = 1000\n"
             "input_tokens_per_request = %.0f\noutput_tokens_per_request = %.0f\n"
             "[fleet f]\nchip = %s\nthroughput = roofline\nchips_per_instance = %d\n"
             "cost = rent\nrent_usd_per_chip_hour = 1\nusd_per_kwh = 0.1\npower_w_per_chip = 1000\n",
             r->model, r->input_tokens, r->output_tokens, r->chip, r->chips);
    Scenario s;
    TsErr e;
    ts_err_clear(&e);
    if (scn_load_text(&s, r->name, text, strlen(text), cats, &e)) {
        snprintf(why, (size_t)why_size, "%.150s", e.msg);
        return -1;
    }
    perf_roof_inputs(&s, &s.fleets[0], in);
    const ScnVal *cv = s.fleets[0].chip.v;
    double fp8 = cv[CK_FP8_TFLOPS].origin != ORIG_NONE ? cv[CK_FP8_TFLOPS].num : 0;
    if (strcmp(r->precision, "fp8") == 0 || strcmp(r->precision, "fp4") == 0) {
        in->weight_bytes = strcmp(r->precision, "fp8") == 0 ? 1.0 : 0.5;
        if (fp8 > 0)
            in->peak_tflops = fp8;
    } else if (strcmp(r->precision, "bf16") == 0) {
        in->weight_bytes = 2.0;
    }
    in->tpot_slo_ms = in->ttft_slo_ms = 0;
    scn_fini(&s);
    return 0;
}

/* Output tokens/s per chip of row r from its inputs at parameters p (NULL: as resolved); NaN
 * when it does not fit. */
static double predict_inputs(const PubRow *r, const RoofInputs *base, const PubParams *p,
                             int *batch)
{
    RoofInputs in = *base;
    if (p) { /* else the values the row's scenario resolved: catalog fit or defaults */
        in.eff_compute = p->eff_compute;
        in.eff_memory = p->eff_memory;
        in.step_overhead_ms = p->step_overhead_ms;
        in.collective_us = p->collective_us;
    }
    RoofResult res;
    if (roof_solve(&in, &res) != 0)
        return NAN;
    if (r->concurrency > 0) {
        in.fixed_batch = r->concurrency < res.max_batch_memory ? r->concurrency
                                                              : res.max_batch_memory;
        if (roof_solve(&in, &res) != 0)
            return NAN;
    }
    if (batch)
        *batch = res.batch;
    double t = r->input_tokens / res.prefill_tok_s_per_chip +
               r->output_tokens / res.decode_tok_s_per_chip;
    return t > 0 ? r->output_tokens / t : NAN;
}

double pub_predict(const ScnCatalogs *cats, const PubRow *row, const PubParams *p, int *batch,
                   char *why, int why_size)
{
    RoofInputs in;
    char w[512] = "";
    if (row_inputs(cats, row, &in, w, sizeof w)) {
        if (why)
            snprintf(why, (size_t)why_size, "%s", w);
        return NAN;
    }
    double v = predict_inputs(row, &in, p, batch);
    if (isnan(v) && why)
        snprintf(why, (size_t)why_size, "the weights and one sequence do not fit %d chips",
                 row->chips);
    return v;
}

/* ---- the fit ---------------------------------------------------------------------------- */

typedef struct {
    const PubRow *rows;
    const RoofInputs *inputs;
    const int *idx; /* the training rows */
    int n;
    int n_params;   /* 4: all; 2: eff_memory and step_overhead_ms only */
} FitData;

static double logistic(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

/* Parameters from the unconstrained vector: efficiencies in (0, 1), the rest positive. */
static PubParams params_of(const gsl_vector *x, int n_params)
{
    PubParams p = PUB_DEFAULTS;
    if (n_params == 4) {
        p.eff_compute = logistic(gsl_vector_get(x, 0));
        p.eff_memory = logistic(gsl_vector_get(x, 1));
        p.step_overhead_ms = exp(gsl_vector_get(x, 2));
        p.collective_us = exp(gsl_vector_get(x, 3));
    } else {
        p.eff_memory = logistic(gsl_vector_get(x, 0));
        p.step_overhead_ms = exp(gsl_vector_get(x, 1));
    }
    return p;
}

static int residuals(const gsl_vector *x, void *data, gsl_vector *f)
{
    const FitData *d = data;
    PubParams p = params_of(x, d->n_params);
    for (int i = 0; i < d->n; i++) {
        const PubRow *r = &d->rows[d->idx[i]];
        double v = predict_inputs(r, &d->inputs[d->idx[i]], &p, NULL);
        /* a deployment that stops fitting is far off, not undefined */
        gsl_vector_set(f, (size_t)i, isfinite(v) && v > 0 ? log(v / r->measured) : 10.0);
    }
    return GSL_SUCCESS;
}

/* Median |v / measured - 1| over the rows idx (n of them), by column fitted or predicted. */
static double median_err(const PubRow *rows, const int *idx, int n, int fitted)
{
    double e[PUB_MAX_ROWS];
    int k = 0;
    for (int i = 0; i < n; i++) {
        const PubRow *r = &rows[idx[i]];
        double v = fitted ? r->fitted : r->predicted;
        if (isfinite(v))
            e[k++] = fabs(v / r->measured - 1.0);
    }
    return k > 0 ? gsl_stats_median(e, 1, (size_t)k) : NAN;
}

/* Fits family fam on its training rows; predicts all its rows with the fit. */
static void fit_family(PubResult *out, const RoofInputs *inputs, const char *fam)
{
    int train[PUB_MAX_ROWS], test[PUB_MAX_ROWS], nt = 0, ns = 0, k = 0;
    for (int i = 0; i < out->n_rows; i++) {
        PubRow *r = &out->rows[i];
        if (strcmp(r->family, fam) != 0 || !isfinite(r->predicted))
            continue;
        r->held_out = k++ % 2;
        if (r->held_out)
            test[ns++] = i;
        else
            train[nt++] = i;
    }
    int n_params = nt >= 4 ? 4 : nt >= 2 ? 2 : 0;
    if (n_params == 0 || out->n_fits >= PUB_MAX_FAMILIES)
        return;
    PubFit *fit = &out->fits[out->n_fits++];
    snprintf(fit->family, sizeof fit->family, "%s", fam);
    fit->n_train = nt;
    fit->n_test = ns;
    FitData d = {out->rows, inputs, train, nt, n_params};
    gsl_multifit_nlinear_fdf fdf = {.f = residuals, .df = NULL, .fvv = NULL,
                                    .n = (size_t)nt, .p = (size_t)n_params, .params = &d};
    gsl_multifit_nlinear_parameters fp = gsl_multifit_nlinear_default_parameters();
    gsl_multifit_nlinear_workspace *w =
        gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &fp, (size_t)nt, (size_t)n_params);
    gsl_vector *x0 = gsl_vector_alloc((size_t)n_params);
    PubParams p = PUB_DEFAULTS;
    if (w && x0) {
        /* start at the defaults (an overhead of 1 ms, as log(0) has no start) */
        if (n_params == 4) {
            gsl_vector_set(x0, 0, log(p.eff_compute / (1 - p.eff_compute)));
            gsl_vector_set(x0, 1, log(p.eff_memory / (1 - p.eff_memory)));
            gsl_vector_set(x0, 2, log(1.0));
            gsl_vector_set(x0, 3, log(p.collective_us));
        } else {
            gsl_vector_set(x0, 0, log(p.eff_memory / (1 - p.eff_memory)));
            gsl_vector_set(x0, 1, log(1.0));
        }
        int info = 0;
        gsl_multifit_nlinear_init(x0, &fdf, w);
        int status = gsl_multifit_nlinear_driver(200, 1e-8, 1e-8, 1e-8, NULL, NULL, &info, w);
        fit->converged = status == GSL_SUCCESS;
        p = params_of(gsl_multifit_nlinear_position(w), n_params);
    }
    gsl_vector_free(x0);
    if (w)
        gsl_multifit_nlinear_free(w);
    fit->params = p;
    for (int i = 0; i < out->n_rows; i++) {
        PubRow *r = &out->rows[i];
        if (strcmp(r->family, fam) == 0 && isfinite(r->predicted))
            r->fitted = predict_inputs(r, &inputs[i], &p, NULL);
    }
    fit->train_median_err = median_err(out->rows, train, nt, 1);
    fit->test_median_err = median_err(out->rows, test, ns, 1);
}

/* ---- reading the file ------------------------------------------------------------------- */

static double cell_num(const CatTable *t, int row, const char *col)
{
    const char *s = cat_cell(t, row, col);
    double v = 0;
    return s[0] && txt_parse_double(s, &v) == 0 ? v : 0.0;
}

int pub_run(const ScnCatalogs *cats, const char *data_dir, int fit, PubResult *out, TsErr *err)
{
    memset(out, 0, sizeof *out);
    char path[4096];
    snprintf(path, sizeof path, "%s/gpu_measurements.csv", data_dir);
    CatTable t;
    CatSchema sc = {COLUMNS, (int)(sizeof COLUMNS / sizeof COLUMNS[0]), NUMERIC,
                    (int)(sizeof NUMERIC / sizeof NUMERIC[0])};
    if (cat_table_load(&t, path, &sc, err))
        return err->code;
    RoofInputs *inputs = calloc(PUB_MAX_ROWS, sizeof *inputs);
    if (!inputs) {
        cat_table_fini(&t);
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    }
    int rc = 0;
    for (int i = 0; i < t.n_rows && i < PUB_MAX_ROWS && !rc; i++) {
        PubRow *r = &out->rows[out->n_rows++];
        snprintf(r->name, sizeof r->name, "%s", cat_cell(&t, i, "name"));
        snprintf(r->chip, sizeof r->chip, "%s", cat_cell(&t, i, "chip"));
        snprintf(r->model, sizeof r->model, "%s", cat_cell(&t, i, "model"));
        snprintf(r->precision, sizeof r->precision, "%s", cat_cell(&t, i, "precision"));
        snprintf(r->family, sizeof r->family, "%s", pub_family(r->chip));
        r->chips = (int)cell_num(&t, i, "chips");
        r->concurrency = (int)cell_num(&t, i, "concurrency");
        r->input_tokens = cell_num(&t, i, "input_tokens");
        r->output_tokens = cell_num(&t, i, "output_tokens");
        r->measured = cell_num(&t, i, "output_tok_s_per_chip");
        r->predicted = r->fitted = NAN;
        if (cat_find_row(&cats->chips, r->chip) < 0 || cat_find_row(&cats->models, r->model) < 0) {
            rc = ts_err_set(err, TS_EINPUT, "%s:%d: row '%s' names %s '%s', which is not in the "
                            "catalogs", path, t.lines[i], r->name,
                            cat_find_row(&cats->chips, r->chip) < 0 ? "chip" : "model",
                            cat_find_row(&cats->chips, r->chip) < 0 ? r->chip : r->model);
            break;
        }
        if (r->chips < 1 || !(r->output_tokens > 0) || !(r->measured > 0)) {
            snprintf(r->why, sizeof r->why, "no %s published",
                     !(r->output_tokens > 0) ? "output length" : "throughput");
            continue;
        }
        if (row_inputs(cats, r, &inputs[i], r->why, sizeof r->why))
            continue;
        r->predicted = predict_inputs(r, &inputs[i], NULL, &r->batch);
        if (isnan(r->predicted))
            snprintf(r->why, sizeof r->why, "the weights and one sequence do not fit %d chips",
                     r->chips);
    }
    cat_table_fini(&t);
    int all[PUB_MAX_ROWS];
    for (int i = 0; i < out->n_rows; i++)
        all[i] = i;
    out->default_median_err = median_err(out->rows, all, out->n_rows, 0);
    if (!rc && fit) {
        static const char *const FAMILIES[] = {"nvidia", "amd", "other"};
        for (size_t f = 0; f < sizeof FAMILIES / sizeof FAMILIES[0]; f++)
            fit_family(out, inputs, FAMILIES[f]);
        int test[PUB_MAX_ROWS], ns = 0;
        for (int i = 0; i < out->n_rows; i++)
            if (out->rows[i].held_out && isfinite(out->rows[i].fitted))
                test[ns++] = i;
        out->test_median_err = median_err(out->rows, test, ns, 1);
    }
    free(inputs);
    return rc;
}
