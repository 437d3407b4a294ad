/* validate: builds roofline inputs for the engine's presets as the engine runs them (fp32
 * weights and cache, the measured batch, context = prompt + half the generated tokens, one
 * "chip" = this machine) and compares predicted with measured tokens/s. */
#include "sim/cli/validate.h"

#include "models/engine/quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/engine/config.h"
#include "sim/render/report.h"
#include "sim/price/roofline.h"
#include "sim/text/text.h"

double val_predict_tok_s(const StoreMeasurementRow *r, double peak_gflops,
                         double bandwidth_gb_s, const ValOptions *o)
{
    EngineConfig c;
    TsErr ignored;
    if (cfg_preset(r->model, &c, &ignored) != 0 || r->tokens <= 0 || r->seconds <= 0)
        return 0.0;
    int prefill = strcmp(r->phase, "prefill") == 0;
    RoofInputs in = {0};
    in.shape = c.shape;
    /* bytes per weight of the row's precision (int8's per-row scales are under 1%; int4's
     * block scales are counted: 4.5 bits) */
    Precision p = PREC_FP32, kv = PREC_FP32;
    TsErr e2;
    if (r->precision && prec_parse(r->precision, &p, &e2) != 0)
        return 0.0;
    if (r->kv_precision && prec_parse(r->kv_precision, &kv, &e2) != 0)
        return 0.0;
    in.weight_bytes = prec_weight_bytes(p);
    in.kv_bytes = prec_elt_bytes(kv);
    if (!prefill && r->mtp_depth > 0) {
        in.mtp_depth = r->mtp_depth;
        in.mtp_acceptance = r->mtp_accept_forced >= 0 ? r->mtp_accept_forced
                            : r->mtp_accept_measured >= 0 ? r->mtp_accept_measured
                                                          : 0.0;
    }
    in.peak_tflops = peak_gflops / 1000.0;
    in.hbm_tb_s = bandwidth_gb_s / 1000.0;
    in.hbm_gb = 1e6; /* the batch is the measured one: memory does not choose it */
    in.hbm_usable = 1;
    in.eff_compute = o->eff_compute;
    in.eff_memory = o->eff_memory;
    in.eff_prefill = o->eff_prefill;
    in.act_bytes = 4;
    in.chips_per_instance = 1;
    in.fixed_batch = r->batch;
    in.prompt_tokens = r->prompt_tokens > 0 ? r->prompt_tokens : 1;
    double gen = (double)r->tokens / r->batch; /* decode: steps */
    in.context_tokens = in.prompt_tokens + (prefill ? 0 : gen / 2.0);
    in.peak_context = in.prompt_tokens + (prefill ? 0 : gen);
    RoofResult res;
    if (roof_solve(&in, &res) != 0)
        return 0.0;
    return prefill ? res.prefill_tok_s_per_chip : res.decode_tok_s_per_chip;
}

int val_predict(const StoreMeasurementRow *rows, int n, double peak_gflops, double bandwidth_gb_s,
                const ValOptions *o, ValRow *out)
{
    int m = 0;
    for (int i = 0; i < n; i++) {
        const StoreMeasurementRow *r = &rows[i];
        /* the validation table holds the fp32 runs without MTP (one per model, phase, batch) */
        if ((r->precision && strcmp(r->precision, "fp32") != 0) || r->mtp_depth > 0 ||
            (r->kv_precision && strcmp(r->kv_precision, "fp32") != 0))
            continue;
        double pred = val_predict_tok_s(r, peak_gflops, bandwidth_gb_s, o);
        if (pred <= 0)
            continue;
        ValRow *v = &out[m++];
        snprintf(v->model, sizeof v->model, "%s", r->model);
        snprintf(v->phase, sizeof v->phase, "%s", r->phase);
        v->batch = r->batch;
        v->threads = r->threads;
        v->measured_tok_s = (double)r->tokens / r->seconds;
        v->predicted_tok_s = pred;
        v->error = v->predicted_tok_s / v->measured_tok_s - 1.0;
    }
    return m;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void val_summary(const ValRow *rows, int n, double *median_abs, double *worst_abs)
{
    *median_abs = *worst_abs = 0;
    if (n == 0)
        return;
    double *e = malloc(sizeof *e * (size_t)n);
    if (!e)
        return;
    for (int i = 0; i < n; i++)
        e[i] = fabs(rows[i].error);
    qsort(e, (size_t)n, sizeof *e, cmp_double);
    *median_abs = n % 2 ? e[n / 2] : 0.5 * (e[n / 2 - 1] + e[n / 2]);
    *worst_abs = e[n - 1];
    free(e);
}

void val_write_md(FILE *f, const ValRow *rows, int n, const ValOptions *o)
{
    val_write_md_basis(f, rows, n, o, NULL);
}

void val_write_md_basis(FILE *f, const ValRow *rows, int n, const ValOptions *o,
                        const char *basis)
{
    char a[32], b[32];
    double med, worst;
    val_summary(rows, n, &med, &worst);
    if (basis)
        fprintf(f, "\n## The calibrated step-time model against these measurements\n\n"
                   "Predicted with %s. Median error %.0f%%, worst %.0f%% over %d "
                   "configurations (training and held-out ones alike).\n\n",
                basis, 100 * med, 100 * worst, n);
    else
        fprintf(f, "\n## The roofline against these measurements\n\n"
                   "Predicted from this run's probed ceilings with eff_compute %.2g, eff_memory "
                   "%.2g, eff_prefill %.2g (the scenario defaults). Median error %.0f%%, worst "
                   "%.0f%% over %d configurations.\n\n",
                o->eff_compute, o->eff_memory, o->eff_prefill, 100 * med, 100 * worst, n);
    fprintf(f, "| model | phase | batch | threads | predicted tok/s | measured tok/s | error |\n"
               "|---|---|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < n; i++)
        fprintf(f, "| %s | %s | %d | %d | %s | %s | %+.0f%% |\n", rows[i].model, rows[i].phase,
                rows[i].batch, rows[i].threads, txt_fmt(rows[i].predicted_tok_s, a, 32),
                txt_fmt(rows[i].measured_tok_s, b, 32), 100 * rows[i].error);
}

void val_store_rows(const ValRow *rows, int n, StoreValidationRow *out)
{
    for (int i = 0; i < n; i++)
        out[i] = (StoreValidationRow){rows[i].model, rows[i].phase, rows[i].batch,
                                      rows[i].threads, rows[i].predicted_tok_s,
                                      rows[i].measured_tok_s};
}
