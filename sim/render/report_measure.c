/* report_measure: a measure run's report.md and results.json (see report_measure.h). Rows come
 * in the order the run stored them: per measured configuration its prefill row, then its
 * decode row. A configuration's own metric rows (part "measure") are found by its
 * store_measurement_label; the models' shapes and dense twins are inputs of part "model". */
#include "sim/render/report_measure.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/render/report.h"
#include "sim/text/text.h"

static const char *input_text(const StoredRun *r, const char *fleet, const char *part,
                              const char *key)
{
    const StoredInput *in = store_run_input(r, fleet, part, key);
    return in && in->text ? in->text : NULL;
}

int report_measure_run(const StoredRun *r)
{
    return input_text(r, "-", "meter", "energy_source") != NULL;
}

static const char *num(double v, char *buf)
{
    return txt_fmt(v, buf, 32);
}

static int is_fp32(const char *prec)
{
    return strcmp(prec, "fp32") == 0;
}

/* A configuration's metric of part "measure" (NaN when absent). */
static double row_metric(const StoredRun *r, const StoredMeasurement *m, const char *name)
{
    char label[STORE_LABEL_MAX];
    store_measurement_label(label, sizeof label, m->model, m->precision, m->kv_precision, m->batch,
                            m->mtp_depth, m->mtp_accept_forced);
    return store_run_metric_num(r, label, name);
}

/* Rates of one stored row. */
typedef struct {
    double tok_s, j_per_tok, net_j_per_tok, low_j, high_j, gflops, gbs, bytes_per_tok;
    double ttft_ms, tpot_ms;
} Derived;

static Derived derive(const StoredMeasurement *m)
{
    Derived d;
    double tok = (double)m->tokens;
    d.tok_s = tok / m->seconds;
    d.j_per_tok = m->energy_j / tok;
    d.net_j_per_tok = m->energy_net_j / tok;
    d.low_j = m->energy_low_j / tok;
    d.high_j = m->energy_high_j / tok;
    d.gflops = m->flops / m->seconds / 1e9;
    d.gbs = (m->weight_bytes + m->kv_bytes) / m->seconds / 1e9;
    d.bytes_per_tok = (m->weight_bytes + m->kv_bytes) / tok;
    /* prefill: the batch's sequences in one pass; decode: tokens = batch x steps */
    d.ttft_ms = m->seconds / m->batch * 1e3;
    int64_t steps = m->batch > 0 ? m->tokens / m->batch : 0;
    d.tpot_ms = m->seconds / (double)steps * 1e3;
    return d;
}

static int is_decode(const StoredMeasurement *m)
{
    return strcmp(m->phase, "decode") == 0;
}

/* "int8", "bf16, KV bf16", "fp32, MTP 2 forced 0.50": what a configuration ran with. */
static const char *run_label(const StoredMeasurement *m, char *buf, size_t n)
{
    int len = snprintf(buf, n, "%s", m->precision);
    if (!is_fp32(m->kv_precision))
        len += snprintf(buf + len, n - (size_t)len, ", KV %s", m->kv_precision);
    if (m->mtp_depth > 0 && m->mtp_accept_forced >= 0)
        snprintf(buf + len, n - (size_t)len, ", MTP %d forced %.2f", m->mtp_depth,
                 m->mtp_accept_forced);
    else if (m->mtp_depth > 0)
        snprintf(buf + len, n - (size_t)len, ", MTP %d", m->mtp_depth);
    return buf;
}

/* The run's note of kind, after label, as a paragraph; nothing when there is none. */
static void write_note(FILE *f, const StoredRun *r, const char *kind, const char *label)
{
    const StoredNote *n = store_run_note(r, kind, "-");
    if (!n)
        return;
    fputs(label, f);
    report_md_text(f, n->text);
    fputs("\n\n", f);
}

static void write_header(FILE *f, const StoredRun *r)
{
    char a[32], b[32], c[32], d[32], e[32];
    fprintf(f, "# Measurements on this machine\n\n");
    if (r->id > 0)
        fprintf(f, "Measure run %lld. ", (long long)r->id);
    fputs("Machine: `", f);
    txt_inert_put(f, r->machine, 0);
    fputs("`.\n\n**Energy source: `", f);
    txt_inert_put(f, input_text(r, "-", "meter", "energy_source"), 0);
    fprintf(f, "`.** %s\n\n",
            store_run_input_num(r, "-", "meter", "modeled") == 1
                ? "Every joule figure below is *modeled* from process CPU time, not measured: "
                  "no power meter could be read on this machine."
                : "Joule figures are read from the hardware meter.");
    write_note(f, r, "meter_note", "Why not measured: ");
    write_note(f, r, "cpu_power", "Modeled CPU power: ");
    fprintf(f,
            "Ceilings at %.0f threads: STREAM triad %s GB/s, FMA peak %s GFLOP/s. Idle power "
            "%s W (band %s to %s W); net joules subtract it.\n\n",
            store_run_metric_num(r, "-", "measure_threads"),
            num(store_run_metric_num(r, "-", "bandwidth_gb_s"), a),
            num(store_run_metric_num(r, "-", "fp32_gflops"), b),
            num(store_run_metric_num(r, "-", "idle_w"), c),
            num(store_run_metric_num(r, "-", "idle_low_w"), d),
            num(store_run_metric_num(r, "-", "idle_high_w"), e));
}

static void write_table(FILE *f, const StoredRun *r)
{
    char a[32], b[32], c[32], d[32], e[32], g[32], h[32], k[32], lab[96];
    fprintf(f, "| model | run | phase | batch | threads | tokens/s | TTFT ms | TPOT ms | GFLOP/s "
               "| GB/s | J/token (band) | net J/token | experts/layer |\n"
               "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|\n");
    for (int i = 0; i < r->n_measurements; i++) {
        const StoredMeasurement *m = &r->measurements[i];
        int pf = !is_decode(m);
        Derived dv = derive(m);
        char ex[32] = "";
        double experts = pf ? NAN : row_metric(r, m, "experts_per_layer");
        if (experts > 0)
            snprintf(ex, sizeof ex, "%.2f", experts);
        fputs("| ", f);
        report_md_text(f, m->model);
        fprintf(f, " | %s | %s | %d | %d | %s | %s | %s | %s | %s | %s (%s to %s) | %s | %s |\n",
                run_label(m, lab, sizeof lab), m->phase, m->batch, m->threads, num(dv.tok_s, a),
                pf ? num(dv.ttft_ms, b) : "", pf ? "" : num(dv.tpot_ms, b), num(dv.gflops, c),
                num(dv.gbs, d), num(dv.j_per_tok, e), num(dv.low_j, g), num(dv.high_j, h),
                num(dv.net_j_per_tok, k), ex);
    }
}

/* The accuracy rows (inputs of part "accuracy", one label each) against fp32. */
static void write_accuracy(FILE *f, const StoredRun *r)
{
    char a[32], b[32];
    int header = 0;
    for (int i = 0; i < r->n_inputs; i++) {
        const StoredInput *in = &r->inputs[i];
        if (strcmp(in->part, "accuracy") != 0 || strcmp(in->key, "model") != 0)
            continue;
        const char *label = in->fleet;
        if (!header)
            fprintf(f,
                    "\nAccuracy against fp32: both read the same %.0f tokens (a fixed prompt, "
                    "then fp32's greedy continuation); logits compared at every position.\n\n"
                    "| model | precision | KV | max abs logit difference | mean abs logit "
                    "difference | greedy agreement |\n|---|---|---|---:|---:|---:|\n",
                    store_run_input_num(r, label, "accuracy", "positions"));
        header = 1;
        const char *prec = input_text(r, label, "accuracy", "precision");
        const char *kv = input_text(r, label, "accuracy", "kv_precision");
        fputs("| ", f);
        report_md_text(f, in->text);
        fputs(" | ", f);
        report_md_text(f, prec ? prec : "");
        fputs(" | ", f);
        report_md_text(f, kv ? kv : "");
        fprintf(f, " | %s | %s | %.1f%% |\n",
                num(store_run_metric_num(r, label, "logit_max_abs_diff"), a),
                num(store_run_metric_num(r, label, "logit_mean_abs_diff"), b),
                100.0 * store_run_metric_num(r, label, "greedy_agreement"));
    }
}

/* Decode tokens/s, bytes/token and J/token of each precision per model and batch, beside
 * fp32, and the accuracy of each reduced precision against fp32. */
static void write_precision(FILE *f, const StoredRun *r)
{
    int reduced = 0;
    for (int i = 0; i < r->n_measurements; i++)
        reduced |=
            !is_fp32(r->measurements[i].precision) || !is_fp32(r->measurements[i].kv_precision);
    if (!reduced)
        return;
    char a[32], b[32], c[32], d[32], lab[96];
    fprintf(f, "\n## Precision: fp32 against bf16 against int8, decode\n\n"
               "| model | precision | batch | tokens/s | x fp32 | bytes/token | J/token |\n"
               "|---|---|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < r->n_measurements; i++) {
        const StoredMeasurement *m = &r->measurements[i];
        if (!is_decode(m) || m->mtp_depth > 0)
            continue;
        const StoredMeasurement *ref = NULL;
        for (int k = 0; k < r->n_measurements; k++) {
            const StoredMeasurement *o = &r->measurements[k];
            if (is_decode(o) && is_fp32(o->precision) &&
                strcmp(o->kv_precision, m->kv_precision) == 0 && o->mtp_depth == 0 &&
                o->batch == m->batch && strcmp(o->model, m->model) == 0)
                ref = o;
        }
        Derived dv = derive(m);
        snprintf(d, sizeof d, "%.2f", ref ? dv.tok_s / derive(ref).tok_s : 0.0);
        fputs("| ", f);
        report_md_text(f, m->model);
        fprintf(f, " | %s | %d | %s | %s | %s | %s |\n", run_label(m, lab, sizeof lab), m->batch,
                num(dv.tok_s, a), ref ? d : "", num(dv.bytes_per_tok, b), num(dv.j_per_tok, c));
    }
    write_accuracy(f, r);
}

/* MTP runs: tokens per step and tokens/s against the acceptance rate, beside the closed form
 * 1 + a + ... + a^D and the roofline's prediction stored at this machine's ceilings. */
static void write_mtp(FILE *f, const StoredRun *r)
{
    int header = 0;
    char a[32], b[32], lab[96];
    for (int i = 0; i < r->n_measurements; i++) {
        const StoredMeasurement *m = &r->measurements[i];
        if (!is_decode(m) || m->mtp_depth == 0)
            continue;
        if (!header) {
            fprintf(f, "\n## Multi-token prediction, decode at batch 1\n\n"
                       "Seeded weights: real drafts almost never agree with the model, so "
                       "*forced* rows keep drafts at a fixed rate to measure speed at that rate "
                       "(their output is not the model's greedy output). *measured* acceptance is "
                       "the share of drafts equal to the model's own token, in every row.\n\n"
                       "| model | run | acceptance used | measured acceptance | tokens/step | "
                       "1 + a + ... + a^D | tokens/s | roofline tokens/s |\n"
                       "|---|---|---|---:|---:|---:|---:|---:|\n");
            header = 1;
        }
        double measured = m->mtp_accept_measured >= 0 ? m->mtp_accept_measured : 0.0;
        int forced = m->mtp_accept_forced >= 0;
        double used = forced ? m->mtp_accept_forced : measured;
        double closed = 1.0, p = 1.0; /* 1 + a + ... + a^D, summed as models/engine/mtp.c does */
        for (int k = 0; k < m->mtp_depth; k++) {
            p *= used;
            closed += p;
        }
        double pred = row_metric(r, m, "roofline_tok_s");
        fputs("| ", f);
        report_md_text(f, m->model);
        fprintf(f, " | %s | %.2f (%s) | %.3f | %.3f | %.3f | %s | %s |\n",
                run_label(m, lab, sizeof lab), used, forced ? "forced" : "measured", measured,
                m->tokens_per_step, closed, num(derive(m).tok_s, a),
                pred > 0 ? num(pred, b) : "n/a");
    }
}

/* Each MoE model's decode beside its dense twin's (input dense_twin of part "model") at the
 * same batch and precisions. */
static void write_pairs(FILE *f, const StoredRun *r)
{
    char a[32], b[32], c[32], d[32], e[32], g[32];
    int header = 0;
    for (int i = 0; i < r->n_measurements; i++) {
        const StoredMeasurement *moe = &r->measurements[i];
        const char *twin = input_text(r, moe->model, "model", "dense_twin");
        if (!twin || !is_decode(moe) || moe->mtp_depth > 0)
            continue;
        const StoredMeasurement *dn = NULL;
        for (int k = 0; k < r->n_measurements && !dn; k++) {
            const StoredMeasurement *o = &r->measurements[k];
            if (is_decode(o) && o->mtp_depth == 0 && strcmp(o->model, twin) == 0 &&
                o->batch == moe->batch && strcmp(o->precision, moe->precision) == 0 &&
                strcmp(o->kv_precision, moe->kv_precision) == 0)
                dn = o;
        }
        if (!dn)
            continue;
        if (!header) {
            fprintf(f, "\n## Dense against MoE, decode, side by side\n\n"
                       "| dense | MoE | batch | tokens/s dense / MoE | ratio | J/token dense / "
                       "MoE | ratio | bytes/token dense / MoE | ratio | experts touched per "
                       "layer |\n|---|---|---:|---|---:|---|---:|---|---:|---:|\n");
            header = 1;
        }
        Derived x = derive(dn), y = derive(moe);
        fputs("| ", f);
        report_md_text(f, dn->model);
        fputs(" | ", f);
        report_md_text(f, moe->model);
        fprintf(f, " | %d | %s / %s | %.2f | %s / %s | %.2f | %s / %s | %.2f | %.2f of %.0f |\n",
                moe->batch, num(x.tok_s, a), num(y.tok_s, b), y.tok_s / x.tok_s,
                num(x.j_per_tok, c), num(y.j_per_tok, d), y.j_per_tok / x.j_per_tok,
                num(x.bytes_per_tok, e), num(y.bytes_per_tok, g), y.bytes_per_tok / x.bytes_per_tok,
                row_metric(r, moe, "experts_per_layer"),
                store_run_input_num(r, moe->model, "model", "experts"));
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The roofline's predictions (table validation) against the measurements, with the median and
 * worst |error| of the stored pairs. */
static void write_validation(FILE *f, const StoredRun *r)
{
    int n = r->n_validation;
    if (n == 0)
        return;
    double *e = malloc(sizeof *e * (size_t)n);
    double med = NAN, worst = NAN;
    if (e) {
        for (int i = 0; i < n; i++)
            e[i] = fabs(r->validation[i].predicted_tok_s / r->validation[i].measured_tok_s - 1);
        qsort(e, (size_t)n, sizeof *e, cmp_double);
        med = n % 2 ? e[n / 2] : 0.5 * (e[n / 2 - 1] + e[n / 2]);
        worst = e[n - 1];
        free(e);
    }
    fprintf(f,
            "\n## The roofline against these measurements\n\n"
            "Predicted from this run's probed ceilings with eff_compute %.2g, eff_memory "
            "%.2g, eff_prefill %.2g (the scenario defaults). Median error %.0f%%, worst "
            "%.0f%% over %d configurations.\n\n",
            store_run_input_num(r, "-", "validate", "eff_compute"),
            store_run_input_num(r, "-", "validate", "eff_memory"),
            store_run_input_num(r, "-", "validate", "eff_prefill"), 100 * med, 100 * worst, n);
    fprintf(f, "| model | phase | batch | threads | predicted tok/s | measured tok/s | error |\n"
               "|---|---|---:|---:|---:|---:|---:|\n");
    char a[32], b[32];
    for (int i = 0; i < n; i++) {
        const StoredValidation *v = &r->validation[i];
        fputs("| ", f);
        report_md_text(f, v->model);
        fprintf(f, " | %s | %d | %d | %s | %s | %+.0f%% |\n", v->phase, v->batch, v->threads,
                num(v->predicted_tok_s, a), num(v->measured_tok_s, b),
                100 * (v->predicted_tok_s / v->measured_tok_s - 1.0));
    }
}

void report_measure_md(FILE *f, const StoredRun *r)
{
    write_header(f, r);
    write_table(f, r);
    write_precision(f, r);
    write_mtp(f, r);
    write_pairs(f, r);
    write_validation(f, r);
}

/* One stored row as a JSON object with its rates (TTFT for prefill, TPOT for decode). */
static void json_row(FILE *f, const StoredMeasurement *m)
{
    int pf = !is_decode(m);
    Derived d = derive(m);
    fputs("{\"model\":", f);
    txt_json_str(f, m->model);
    fputs(",\"precision\":", f);
    txt_json_str(f, m->precision);
    fputs(",\"phase\":", f);
    txt_json_str(f, m->phase);
    fprintf(f, ",\"batch\":%d,\"threads\":%d,\"prompt_tokens\":%d,\"tokens\":%lld", m->batch,
            m->threads, m->prompt_tokens, (long long)m->tokens);
    fputs(",\"kv_precision\":", f);
    txt_json_str(f, m->kv_precision);
    fprintf(f, ",\"mtp_depth\":%d,\"mtp_accept_forced\":", m->mtp_depth);
    txt_json_num(f, m->mtp_depth > 0 && m->mtp_accept_forced >= 0 ? m->mtp_accept_forced : NAN);
    fputs(",\"mtp_accept_measured\":", f);
    txt_json_num(f, m->mtp_depth > 0 && m->mtp_accept_measured >= 0 ? m->mtp_accept_measured : NAN);
    static const char *const keys[] = {
        "seconds",     "seconds_p10",    "seconds_p90",  "tokens_per_s", "ttft_ms",
        "tpot_ms",     "flops",          "gflops",       "weight_bytes", "kv_bytes",
        "gb_s",        "energy_j",       "energy_net_j", "energy_low_j", "energy_high_j",
        "j_per_token", "net_j_per_token"};
    double vals[] = {m->seconds,
                     m->seconds_p10,
                     m->seconds_p90,
                     d.tok_s,
                     pf ? d.ttft_ms : NAN,
                     pf ? NAN : d.tpot_ms,
                     m->flops,
                     d.gflops,
                     m->weight_bytes,
                     m->kv_bytes,
                     d.gbs,
                     m->energy_j,
                     m->energy_net_j,
                     m->energy_low_j,
                     m->energy_high_j,
                     d.j_per_tok,
                     d.net_j_per_tok};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        fprintf(f, ",\"%s\":", keys[k]);
        txt_json_num(f, vals[k]);
    }
    fputs(",\"energy_source\":", f);
    txt_json_str(f, m->energy_source);
    fputc('}', f);
}

void report_measure_json(FILE *f, const StoredRun *r)
{
    fprintf(f, "{\"run_id\":%lld,\"machine\":", (long long)r->id);
    /* runs.machine is the JSON object the measure run wrote */
    if (r->machine && r->machine[0] == '{')
        txt_inert_put(f, r->machine, 0);
    else
        fputs("null", f);
    fputs(",\"energy_source\":", f);
    txt_json_str(f, input_text(r, "-", "meter", "energy_source"));
    fprintf(f, ",\"modeled\":%s,\"bandwidth_gb_s\":",
            store_run_input_num(r, "-", "meter", "modeled") == 1 ? "true" : "false");
    txt_json_num(f, store_run_metric_num(r, "-", "bandwidth_gb_s"));
    fputs(",\"fp32_gflops\":", f);
    txt_json_num(f, store_run_metric_num(r, "-", "fp32_gflops"));
    fputs(",\"idle_w\":", f);
    txt_json_num(f, store_run_metric_num(r, "-", "idle_w"));
    fputs(",\"measurements\":[", f);
    for (int i = 0; i < r->n_measurements; i++) {
        if (i)
            fputc(',', f);
        json_row(f, &r->measurements[i]);
    }
    fputs("]}\n", f);
}
