/* calibrate: measurement rows to points. A prefill row is `batch` steps of one whole prompt, a
 * decode row tokens / batch steps of `batch` rows (the harness's shape); the counters are per
 * repeat, so per step they are divided by the steps. Attention pairs per step are the KV
 * elements attention read over 2 x head_dim: (query, key) pairs per layer and KV head. */
#include "sim/cli/calibrate.h"

#include <stdlib.h>
#include <string.h>

#include "models/engine/config.h"
#include "models/engine/quant.h"
#include "sim/text/text.h"

static const char *or_fp32(const char *s)
{
    return s && s[0] ? s : "fp32";
}

int calr_groups(const StoreMeasurementRow *rows, int n, CalGroup *groups, int max)
{
    int m = 0;
    for (int i = 0; i < n; i++) {
        CalPoint p;
        if (calr_point(&rows[i], &p) != 0)
            continue;
        const char *pr = or_fp32(rows[i].precision), *kv = or_fp32(rows[i].kv_precision);
        int k = 0;
        while (k < m && !(strcmp(groups[k].precision, pr) == 0 &&
                          strcmp(groups[k].kv_precision, kv) == 0 &&
                          groups[k].threads == rows[i].threads))
            k++;
        if (k == m && m < max) {
            snprintf(groups[m].precision, sizeof groups[m].precision, "%s", pr);
            snprintf(groups[m].kv_precision, sizeof groups[m].kv_precision, "%s", kv);
            groups[m].threads = rows[i].threads;
            m++;
        }
    }
    return m;
}

int calr_point(const StoreMeasurementRow *r, CalPoint *p)
{
    EngineConfig c;
    TsErr ignored;
    Precision kv = PREC_FP32;
    memset(p, 0, sizeof *p);
    if (r->mtp_depth > 0 || r->batch < 1 || r->tokens <= 0 || !(r->seconds > 0) ||
        cfg_preset(r->model, &c, &ignored) != 0 ||
        prec_parse(or_fp32(r->kv_precision), &kv, &ignored) != 0)
        return -1;
    p->prefill = strcmp(r->phase, "prefill") == 0;
    double steps = p->prefill ? r->batch : (double)r->tokens / r->batch;
    double rows = (double)r->tokens; /* positions computed: prompts or decodes */
    double elt = prec_elt_bytes(kv);
    double kv_heads_dim = (double)c.shape.kv_heads * (double)c.shape.head_dim;
    double writes = rows * 2.0 * (double)c.shape.layers * kv_heads_dim * elt;
    double reads = r->kv_bytes - writes;
    snprintf(p->model, sizeof p->model, "%s", r->model);
    snprintf(p->phase, sizeof p->phase, "%s", r->phase);
    p->batch = r->batch;
    p->flops = r->flops / steps;
    p->bytes = (r->weight_bytes + r->kv_bytes) / steps;
    p->pairs = (reads > 0 ? reads : 0) / (2.0 * (double)c.shape.head_dim * elt) / steps;
    p->measured_s = r->seconds / steps;
    return 0;
}

static int cmp_point(const void *a, const void *b)
{
    const CalPoint *x = a, *y = b;
    int c = strcmp(x->model, y->model);
    if (!c)
        c = strcmp(x->phase, y->phase);
    return c ? c : (x->batch > y->batch) - (x->batch < y->batch);
}

int calr_points(const StoreMeasurementRow *rows, int n, const CalGroup *g, CalPoint *pts)
{
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(or_fp32(rows[i].precision), g->precision) != 0 ||
            strcmp(or_fp32(rows[i].kv_precision), g->kv_precision) != 0 ||
            rows[i].threads != g->threads)
            continue;
        if (calr_point(&rows[i], &pts[m]) == 0)
            m++;
    }
    qsort(pts, (size_t)m, sizeof *pts, cmp_point);
    return m;
}

CalParams calr_params(const StoreCalibration *c)
{
    return (CalParams){.eff_compute = c->eff_compute,
                       .eff_prefill = c->eff_prefill,
                       .eff_memory = c->eff_memory,
                       .step_overhead_ms = c->step_overhead_ms,
                       .attn_ns_per_pair = c->attn_ns_per_pair,
                       .overlap = c->overlap};
}

int calr_predict(Store *db, const StoreMeasurementRow *rows, int n, ValRow *out, char *basis,
                 size_t basis_size, TsErr *err)
{
    CalGroup groups[CALR_MAX_GROUPS];
    int ng = calr_groups(rows, n, groups, CALR_MAX_GROUPS), m = 0;
    size_t used = 0;
    basis[0] = '\0';
    for (int gi = 0; gi < ng; gi++) {
        StoreCalibration cal;
        char buf[64];
        const CalGroup *g = &groups[gi];
        int found = store_calibration_latest(db, g->precision, g->kv_precision, g->threads,
                                             &cal, buf, sizeof buf, err);
        if (found < 0)
            return found;
        if (!found)
            continue;
        CalParams cp = calr_params(&cal);
        if (used < basis_size)
            used += (size_t)snprintf(basis + used, basis_size - used,
                                     "%scalibration %lld (%.8s, KV %.8s, %d threads: fitted to measure "
                                     "run %lld, held-out median error %.1f%%)",
                                     used ? "; " : "", (long long)cal.id, g->precision,
                                     g->kv_precision, g->threads, (long long)cal.run_id,
                                     100 * cal.test_median_err);
        for (int i = 0; i < n; i++) {
            const StoreMeasurementRow *r = &rows[i];
            CalPoint p;
            if (strcmp(or_fp32(r->precision), g->precision) != 0 ||
                strcmp(or_fp32(r->kv_precision), g->kv_precision) != 0 ||
                r->threads != g->threads || calr_point(r, &p) != 0)
                continue;
            ValRow *v = &out[m++];
            if (strcmp(g->precision, "fp32") == 0)
                snprintf(v->model, sizeof v->model, "%s", r->model);
            else
                snprintf(v->model, sizeof v->model, "%.38s %.8s", r->model, g->precision);
            snprintf(v->phase, sizeof v->phase, "%s", r->phase);
            v->batch = r->batch;
            v->threads = r->threads;
            v->measured_tok_s = (double)r->tokens / r->seconds;
            double step_s = cal_step_s(&cp, cal.peak_gflops, cal.bandwidth_gb_s, &p);
            v->predicted_tok_s = v->measured_tok_s * p.measured_s / step_s;
            v->error = v->predicted_tok_s / v->measured_tok_s - 1.0;
        }
    }
    return m;
}

void calr_write_md(FILE *f, const CalGroup *g, const CalFit *fit, const CalPoint *pts, int n)
{
    const CalParams *c = &fit->params;
    fprintf(f, "\n## %s weights, KV %s, %d threads\n\n", g->precision, g->kv_precision,
            g->threads);
    fprintf(f, "Fitted on %d configurations, %d held out; ceilings %.1f GFLOP/s (fp32 FMA), "
               "%.1f GB/s (triad). eff_compute %.3g, eff_prefill %.3g, eff_memory %.3g, "
               "step_overhead_ms %.3g, overlap k %.3g%s%s.\n",
            fit->n_train, fit->n_test, fit->peak_gflops, fit->bandwidth_gb_s, c->eff_compute,
            c->eff_prefill, c->eff_memory, c->step_overhead_ms, c->overlap,
            fit->with_attention ? "" : ", no attention term needed", fit->converged ? "" : " (GSL: not converged)");
    if (fit->with_attention)
        fprintf(f, "Attention: %.3g ns per (query, key) pair per layer and KV head.\n",
                c->attn_ns_per_pair);
    fprintf(f, "Median |error| on tokens/s: training %.1f%%, held out %.1f%%.\n\n"
               "| model | phase | batch | held out | measured ms/step | predicted ms/step | "
               "error |\n|---|---|---:|---|---:|---:|---:|\n",
            100 * fit->train_median_err, 100 * fit->test_median_err);
    for (int i = 0; i < n; i++) {
        const CalPoint *p = &pts[i];
        fprintf(f, "| %s | %s | %d | %s | %.4g | %.4g | %+.1f%% |\n", p->model, p->phase,
                p->batch, p->held_out ? "yes" : "", p->measured_s * 1e3, p->predicted_s * 1e3,
                100 * (p->measured_s / p->predicted_s - 1.0));
    }
}
