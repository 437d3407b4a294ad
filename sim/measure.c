/* measure: the measurement run. Ceilings first (triad bandwidth and FMA peak at the plan's
 * threads), idle power next, then every (model, batch) through models/harness.c with the meter.
 * Every energy figure keeps the meter's source string; a modeled figure is never labelled
 * measured. Rows and reports are derived from the same numbers. */
#include "measure.h"

#include <ctype.h>
#include <math.h>
#include <string.h>

#include "catalog.h"
#include "report.h"
#include "text.h"

int msr_cpu_power(const char *data_dir, const char *cpu_model, CpuPowerModel *m, TsErr *err)
{
    static const char *const cols[] = {
        "name", "match", "min_w_per_vcpu", "max_w_per_vcpu", "low_min_w_per_vcpu",
        "low_max_w_per_vcpu", "high_min_w_per_vcpu", "high_max_w_per_vcpu", "source", "as_of",
        "confidence", "notes"};
    static const char *const nums[] = {"min_w_per_vcpu", "max_w_per_vcpu", "low_min_w_per_vcpu",
                                       "low_max_w_per_vcpu", "high_min_w_per_vcpu",
                                       "high_max_w_per_vcpu"};
    CatSchema sc = {cols, 12, nums, 6};
    char path[4096];
    snprintf(path, sizeof path, "%s/cpu_power.csv", data_dir);
    CatTable t;
    if (cat_table_load(&t, path, &sc, err))
        return err->code;
    int found = -1;
    for (int r = 0; r < t.n_rows && found < 0; r++) {
        if (meter_cpu_match(cpu_model, cat_cell(&t, r, "match")))
            found = r;
    }
    int rc = 0;
    if (found < 0) {
        rc = ts_err_set(err, TS_EINPUT, "%s: no row fits CPU '%s' (add a row with an empty "
                                        "match as a default)", path, cpu_model);
    } else {
        memset(m, 0, sizeof *m);
        snprintf(m->family, sizeof m->family, "%s", cat_cell(&t, found, "name"));
        double *dst[] = {&m->min_w_per_vcpu, &m->max_w_per_vcpu, &m->low_min_w_per_vcpu,
                         &m->low_max_w_per_vcpu, &m->high_min_w_per_vcpu,
                         &m->high_max_w_per_vcpu};
        for (int i = 0; i < 6 && !rc; i++)
            if (txt_parse_double(cat_cell(&t, found, nums[i]), dst[i]) != 0)
                rc = ts_err_set(err, TS_EINPUT, "%s:%d: row '%s' needs %s", path,
                                t.lines[found], m->family, nums[i]);
        snprintf(m->source, sizeof m->source, "%s (%s, %s)", cat_cell(&t, found, "source"),
                 cat_cell(&t, found, "as_of"), cat_cell(&t, found, "confidence"));
    }
    cat_table_fini(&t);
    return rc;
}

static void say(const MsrPlan *p, int done, int total, const char *what)
{
    if (p->progress)
        p->progress(p->progress_ctx, done, total, what);
}

int msr_run(const MsrPlan *plan, MsrResult *out, TsErr *err)
{
    memset(out, 0, sizeof *out);
    if (plan->n_models < 1 || plan->n_models > MSR_MAX_MODELS)
        return ts_err_set(err, TS_EINPUT, "measure 1 to %d models", MSR_MAX_MODELS);
    static const int default_batches[] = {1, 4, 16};
    const int *batches = plan->n_batches ? plan->batches : default_batches;
    int n_batches = plan->n_batches ? plan->n_batches : 3;
    int total = 3 + plan->n_models * n_batches, done = 0;
    say(plan, done++, total, "probing memory bandwidth");
    if (probe_bandwidth(plan->threads, 0, 0.5, &out->bandwidth, err))
        return err->code;
    say(plan, done++, total, "probing compute peak");
    if (probe_compute(plan->threads, 0.3, &out->compute, err))
        return err->code;
    say(plan, done++, total, "measuring idle power");
    if (meter_idle_w(plan->meter, plan->idle_seconds > 0 ? plan->idle_seconds : 1.0,
                     &out->idle_w, &out->idle_low_w, &out->idle_high_w, err))
        return err->code;
    snprintf(out->energy_source, sizeof out->energy_source, "%s", meter_source(plan->meter));
    out->modeled = meter_is_modeled(plan->meter);
    for (int m = 0; m < plan->n_models; m++) {
        const EngineConfig *c = &plan->models[m];
        for (int b = 0; b < n_batches; b++) {
            int seq = c->max_seq;
            int gen = plan->gen_tokens ? plan->gen_tokens : 32;
            int prompt = plan->prompt_tokens ? plan->prompt_tokens : 128;
            if (gen > seq / 2)
                gen = seq / 2 > 0 ? seq / 2 : 1;
            if (prompt > seq - gen)
                prompt = seq - gen;
            char what[128];
            snprintf(what, sizeof what, "%s batch %d", c->name, batches[b]);
            say(plan, done++, total, what);
            HxPlan hp = {prompt, gen, batches[b], plan->threads,
                         plan->repeats ? plan->repeats : 3, 1, plan->meter, PREC_FP32, PREC_FP32};
            MsrRun *run = &out->runs[out->n_runs];
            if (hx_run(c, plan->weights[m], &hp, &run->r, err))
                return ts_err_prefix(err, "%s, batch %d: ", c->name, batches[b]);
            snprintf(run->model, sizeof run->model, "%s", c->name);
            out->n_runs++;
        }
    }
    say(plan, done, total, "done");
    return 0;
}

/* Fills one measurement row from a phase of a run. */
static void phase_row(const MsrResult *r, const MsrRun *run, int prefill, StoreMeasurementRow *row)
{
    const HxResult *h = &run->r;
    const HxTimes *t = prefill ? &h->prefill : &h->decode;
    const PhaseCounters *c = prefill ? &h->prefill_cnt : &h->decode_cnt;
    const MeterEnergy *e = prefill ? &h->prefill_energy : &h->decode_energy;
    /* the meter's energy is the mean over repeats; scale it to the median repeat's time */
    double scale = e->seconds > 0 ? t->median / e->seconds : 1.0;
    *row = (StoreMeasurementRow){
        .model = run->model,
        .precision = "fp32",
        .phase = prefill ? "prefill" : "decode",
        .batch = h->plan.batch,
        .threads = h->plan.threads,
        .prompt_tokens = h->plan.prompt_tokens,
        .tokens = (int64_t)c->rows,
        .seconds = t->median,
        .seconds_p10 = t->p10,
        .seconds_p90 = t->p90,
        .flops = c->flops,
        .weight_bytes = c->weight_bytes,
        .kv_bytes = c->kv_read_bytes + c->kv_write_bytes,
        .energy_j = e->joules * scale,
        .energy_net_j = e->joules * scale - r->idle_w * t->median,
        .energy_low_j = e->low_j * scale,
        .energy_high_j = e->high_j * scale,
        .energy_source = r->energy_source,
    };
}

int msr_rows(const MsrResult *r, StoreMeasurementRow *rows)
{
    int n = 0;
    for (int i = 0; i < r->n_runs; i++) {
        phase_row(r, &r->runs[i], 1, &rows[n++]);
        phase_row(r, &r->runs[i], 0, &rows[n++]);
    }
    return n;
}

int msr_machine_metrics(const MsrResult *r, StoreMetricRow *rows)
{
    int threads = r->bandwidth.threads;
    rows[0] = (StoreMetricRow){"-", "bandwidth_gb_s", "GB/s", r->bandwidth.best, 1, 0, 0, 0, 0};
    rows[1] = (StoreMetricRow){"-", "fp32_gflops", "GFLOP/s", r->compute.best, 1, 0, 0, 0, 0};
    rows[2] = (StoreMetricRow){"-", "idle_w", "W", r->idle_w, 1, 0, 0, 0, 0};
    rows[3] = (StoreMetricRow){"-", "idle_low_w", "W", r->idle_low_w, 1, 0, 0, 0, 0};
    rows[4] = (StoreMetricRow){"-", "idle_high_w", "W", r->idle_high_w, 1, 0, 0, 0, 0};
    rows[5] = (StoreMetricRow){"-", "measure_threads", "threads", threads, 1, 0, 0, 0, 0};
    return MSR_MACHINE_METRICS;
}

/* ---- derived figures ------------------------------------------------------------------- */

typedef struct {
    double tok_s, j_per_tok, net_j_per_tok, low_j, high_j, gflops, gbs, bytes_per_tok;
    double ttft_ms, tpot_ms;
} Derived;

static Derived derive(const MsrResult *r, const MsrRun *run, int prefill)
{
    StoreMeasurementRow row;
    phase_row(r, run, prefill, &row);
    Derived d;
    double tok = (double)row.tokens;
    d.tok_s = tok / row.seconds;
    d.j_per_tok = row.energy_j / tok;
    d.net_j_per_tok = row.energy_net_j / tok;
    d.low_j = row.energy_low_j / tok;
    d.high_j = row.energy_high_j / tok;
    d.gflops = row.flops / row.seconds / 1e9;
    d.gbs = (row.weight_bytes + row.kv_bytes) / row.seconds / 1e9;
    d.bytes_per_tok = (row.weight_bytes + row.kv_bytes) / tok;
    const HxPlan *p = &run->r.plan;
    d.ttft_ms = run->r.prefill.median / p->batch * 1e3;
    d.tpot_ms = run->r.decode.median / p->gen_tokens * 1e3;
    return d;
}

/* The dense model a MoE model is compared with: same depth, width and vocabulary. */
static const MsrRun *dense_twin(const MsrResult *r, const MsrRun *moe, const EngineConfig *cm,
                                const EngineConfig *configs, int n_cfg)
{
    for (int i = 0; i < r->n_runs; i++) {
        const MsrRun *d = &r->runs[i];
        if (d->r.plan.batch != moe->r.plan.batch)
            continue;
        for (int k = 0; k < n_cfg; k++)
            if (strcmp(configs[k].name, d->model) == 0 && configs[k].shape.experts == 0 &&
                configs[k].shape.d_model == cm->shape.d_model &&
                configs[k].shape.layers == cm->shape.layers &&
                configs[k].shape.vocab == cm->shape.vocab)
                return d;
    }
    return NULL;
}

static const char *num(double v, char *buf)
{
    return report_fmt(v, buf, 32);
}

void msr_write_md(FILE *f, const MsrResult *r, int64_t run_id, const char *machine_json)
{
    char a[32], b[32], c[32], d[32], e[32], g[32], h[32], k[32];
    fprintf(f, "# Measurements on this machine\n\n");
    if (run_id > 0)
        fprintf(f, "Measure run %lld. ", (long long)run_id);
    fprintf(f, "Machine: `%s`.\n\n", machine_json);
    fprintf(f, "**Energy source: `%s`.** %s\n\n", r->energy_source,
            r->modeled ? "Every joule figure below is *modeled* from process CPU time, not "
                         "measured: no power meter could be read on this machine."
                       : "Joule figures are read from the hardware meter.");
    if (r->meter_note[0])
        fprintf(f, "Why not measured: %s\n\n", r->meter_note);
    if (r->cpu_power_row[0])
        fprintf(f, "Modeled CPU power: %s\n\n", r->cpu_power_row);
    fprintf(f, "Ceilings at %d threads: STREAM triad %s GB/s, FMA peak %s GFLOP/s. Idle power "
               "%s W (band %s to %s W); net joules subtract it.\n\n",
            r->bandwidth.threads, num(r->bandwidth.best, a), num(r->compute.best, b),
            num(r->idle_w, c), num(r->idle_low_w, d), num(r->idle_high_w, e));
    fprintf(f, "| model | phase | batch | threads | tokens/s | TTFT ms | TPOT ms | GFLOP/s | GB/s "
               "| J/token (band) | net J/token | experts/layer |\n"
               "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|\n");
    for (int i = 0; i < r->n_runs; i++) {
        const MsrRun *run = &r->runs[i];
        for (int pf = 1; pf >= 0; pf--) {
            Derived dv = derive(r, run, pf);
            char ex[32] = "";
            if (!pf && run->r.distinct_experts_per_layer > 0)
                snprintf(ex, sizeof ex, "%.2f", run->r.distinct_experts_per_layer);
            fprintf(f, "| %s | %s | %d | %d | %s | %s | %s | %s | %s | %s (%s to %s) | %s | %s |\n",
                    run->model, pf ? "prefill" : "decode", run->r.plan.batch,
                    run->r.plan.threads, num(dv.tok_s, a), pf ? num(dv.ttft_ms, b) : "",
                    pf ? "" : num(dv.tpot_ms, b), num(dv.gflops, c), num(dv.gbs, d),
                    num(dv.j_per_tok, e), num(dv.low_j, g), num(dv.high_j, h),
                    num(dv.net_j_per_tok, k), ex);
        }
    }
}

void msr_write_pairs_md(FILE *f, const MsrResult *r, const EngineConfig *configs, int n_cfg)
{
    char a[32], b[32], c[32], d[32], e[32], g[32];
    int header = 0;
    for (int i = 0; i < r->n_runs; i++) {
        const MsrRun *moe = &r->runs[i];
        const EngineConfig *cm = NULL;
        for (int k = 0; k < n_cfg; k++)
            if (strcmp(configs[k].name, moe->model) == 0 && configs[k].shape.experts > 0)
                cm = &configs[k];
        const MsrRun *dn = cm ? dense_twin(r, moe, cm, configs, n_cfg) : NULL;
        if (!dn)
            continue;
        if (!header) {
            fprintf(f, "\n## Dense against MoE, decode, side by side\n\n"
                       "| dense | MoE | batch | tokens/s dense / MoE | ratio | J/token dense / "
                       "MoE | ratio | bytes/token dense / MoE | ratio | experts touched per "
                       "layer |\n|---|---|---:|---|---:|---|---:|---|---:|---:|\n");
            header = 1;
        }
        Derived x = derive(r, dn, 0), y = derive(r, moe, 0);
        fprintf(f, "| %s | %s | %d | %s / %s | %.2f | %s / %s | %.2f | %s / %s | %.2f | %.2f of "
                   "%ld |\n",
                dn->model, moe->model, moe->r.plan.batch, num(x.tok_s, a), num(y.tok_s, b),
                y.tok_s / x.tok_s, num(x.j_per_tok, c), num(y.j_per_tok, d),
                y.j_per_tok / x.j_per_tok, num(x.bytes_per_tok, e), num(y.bytes_per_tok, g),
                y.bytes_per_tok / x.bytes_per_tok, moe->r.distinct_experts_per_layer,
                cm->shape.experts);
    }
}

void msr_write_json(FILE *f, const MsrResult *r, int64_t run_id, const char *machine_json)
{
    fprintf(f, "{\"run_id\":%lld,\"machine\":%s,\"energy_source\":", (long long)run_id,
            machine_json);
    txt_json_str(f, r->energy_source);
    fprintf(f, ",\"modeled\":%s,\"bandwidth_gb_s\":", r->modeled ? "true" : "false");
    txt_json_num(f, r->bandwidth.best);
    fputs(",\"fp32_gflops\":", f);
    txt_json_num(f, r->compute.best);
    fputs(",\"idle_w\":", f);
    txt_json_num(f, r->idle_w);
    fputs(",\"measurements\":[", f);
    for (int i = 0; i < r->n_runs; i++)
        for (int pf = 1; pf >= 0; pf--) {
            StoreMeasurementRow row;
            phase_row(r, &r->runs[i], pf, &row);
            Derived d = derive(r, &r->runs[i], pf);
            fputs(i == 0 && pf == 1 ? "{" : ",{", f);
            fputs("\"model\":", f);
            txt_json_str(f, row.model);
            fprintf(f, ",\"precision\":\"fp32\",\"phase\":\"%s\",\"batch\":%d,\"threads\":%d,"
                       "\"prompt_tokens\":%d,\"tokens\":%lld,\"seconds\":",
                    row.phase, row.batch, row.threads, row.prompt_tokens, (long long)row.tokens);
            txt_json_num(f, row.seconds);
            const char *keys[] = {"seconds_p10", "seconds_p90", "tokens_per_s", "ttft_ms",
                                  "tpot_ms", "flops", "gflops", "weight_bytes", "kv_bytes",
                                  "gb_s", "energy_j", "energy_net_j", "energy_low_j",
                                  "energy_high_j", "j_per_token", "net_j_per_token"};
            double vals[] = {row.seconds_p10, row.seconds_p90, d.tok_s,
                             pf ? d.ttft_ms : NAN, pf ? NAN : d.tpot_ms, row.flops, d.gflops,
                             row.weight_bytes, row.kv_bytes, d.gbs, row.energy_j,
                             row.energy_net_j, row.energy_low_j, row.energy_high_j,
                             d.j_per_tok, d.net_j_per_tok};
            for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
                fprintf(f, ",\"%s\":", keys[k]);
                txt_json_num(f, vals[k]);
            }
            fputs(",\"energy_source\":", f);
            txt_json_str(f, row.energy_source);
            fputc('}', f);
        }
    fputs("]}\n", f);
}
