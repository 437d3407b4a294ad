/* measure: the measurement run. Ceilings first (triad bandwidth and FMA peak at the plan's
 * threads), idle power next, then every (model, batch) through models/measure/harness.c with the meter.
 * Every energy figure keeps the meter's source string; a modeled figure is never labelled
 * measured. Rows and reports are derived from the same numbers. */
#include "sim/cli/measure.h"

#include "sim/cli/validate.h"

#include <ctype.h>
#include <math.h>
#include <string.h>

#include "sim/scenario/catalog.h"
#include "sim/render/report.h"
#include "sim/text/text.h"

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
    static const Precision fp32_only[] = {PREC_FP32};
    const Precision *precs = plan->n_precs ? plan->precs : fp32_only;
    int n_precs = plan->n_precs ? plan->n_precs : 1;
    int n_mtp_runs = plan->mtp_depth > 0 ? 1 + plan->n_accepts : 0;
    int total = 3 + plan->n_models * n_precs * (n_batches + n_mtp_runs + 1), done = 0;
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
        int seq = c->max_seq;
        int gen = plan->gen_tokens ? plan->gen_tokens : 32;
        int prompt = plan->prompt_tokens ? plan->prompt_tokens : 128;
        if (gen > seq / 2)
            gen = seq / 2 > 0 ? seq / 2 : 1;
        if (prompt > seq - gen)
            prompt = seq - gen;
        for (int pi = 0; pi < n_precs; pi++) {
            Precision pr = precs[pi];
            /* the batches, then MTP at batch 1: measured acceptance, then each forced rate */
            int n_mtp = plan->mtp_depth > 0 ? 1 + plan->n_accepts : 0;
            for (int k = 0; k < n_batches + n_mtp; k++) {
                int mtp = k >= n_batches;
                double accept = mtp && k > n_batches ? plan->mtp_accepts[k - n_batches - 1] : -1.0;
                HxPlan hp = {prompt, gen, mtp ? 1 : batches[k], plan->threads,
                             plan->repeats ? plan->repeats : 3, 1, plan->meter, pr, plan->kv,
                             mtp ? plan->mtp_depth : 0, accept};
                char what[160];
                if (mtp && accept >= 0)
                    snprintf(what, sizeof what, "%s %s MTP depth %d, forced acceptance %.2f",
                             c->name, prec_name(pr), plan->mtp_depth, accept);
                else if (mtp)
                    snprintf(what, sizeof what, "%s %s MTP depth %d", c->name, prec_name(pr),
                             plan->mtp_depth);
                else
                    snprintf(what, sizeof what, "%s %s batch %d", c->name, prec_name(pr),
                             batches[k]);
                say(plan, done++, total, what);
                if (out->n_runs >= MSR_MAX_ROWS)
                    return ts_err_set(err, TS_EINPUT, "more than %d measurements; measure fewer "
                                                      "models, batches or rates at once",
                                      MSR_MAX_ROWS);
                MsrRun *run = &out->runs[out->n_runs];
                if (hx_run(c, plan->weights[m], &hp, &run->r, err))
                    return ts_err_prefix(err, "%s: ", what);
                snprintf(run->model, sizeof run->model, "%s", c->name);
                out->n_runs++;
            }
            if (pr == PREC_FP32 && plan->kv == PREC_FP32)
                continue;
            char what[160];
            snprintf(what, sizeof what, "%s %s: accuracy against fp32", c->name, prec_name(pr));
            say(plan, done++, total, what);
            MsrAccuracy *a = &out->acc[out->n_acc];
            HxAccuracy ha;
            int positions = seq < 64 ? seq : 64;
            if (hx_accuracy(c, plan->weights[m], pr, plan->kv, plan->threads, positions, &ha, err))
                return ts_err_prefix(err, "%s: ", what);
            *a = (MsrAccuracy){"", "", pr, plan->kv, ha.max_abs_diff, ha.mean_abs_diff,
                               ha.agreement, ha.positions};
            snprintf(a->model, sizeof a->model, "%s", c->name);
            snprintf(a->label, sizeof a->label, "%s %s KV %s", c->name, prec_name(pr),
                     prec_name(plan->kv));
            out->n_acc++;
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
        .precision = prec_name(h->plan.prec),
        .phase = prefill ? "prefill" : "decode",
        .batch = h->plan.batch,
        .threads = h->plan.threads,
        .prompt_tokens = h->plan.prompt_tokens,
        /* decode: tokens produced (with MTP, fewer steps than tokens and more rows) */
        .tokens = prefill ? (int64_t)c->rows : (int64_t)h->plan.batch * h->plan.gen_tokens,
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
        .kv_precision = prec_name(h->plan.kv),
        .mtp_depth = h->plan.mtp_depth,
        .mtp_accept_forced = h->plan.mtp_depth > 0 ? h->plan.mtp_accept : -1.0,
        .mtp_accept_measured = h->mtp.drafted > 0 ? (double)h->mtp.matched / h->mtp.drafted
                                                  : -1.0,
        .tokens_per_step = !prefill && h->mtp.steps > 0
                               ? (double)(h->mtp.steps + h->mtp.accepted) / h->mtp.steps
                               : 0.0,
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
    rows[0] = (StoreMetricRow){"-", "bandwidth_gb_s", "GB/s", r->bandwidth.best, 1, 0, 0, 0, 0, "machine"};
    rows[1] = (StoreMetricRow){"-", "fp32_gflops", "GFLOP/s", r->compute.best, 1, 0, 0, 0, 0, "machine"};
    rows[2] = (StoreMetricRow){"-", "idle_w", "W", r->idle_w, 1, 0, 0, 0, 0, "machine"};
    rows[3] = (StoreMetricRow){"-", "idle_low_w", "W", r->idle_low_w, 1, 0, 0, 0, 0, "machine"};
    rows[4] = (StoreMetricRow){"-", "idle_high_w", "W", r->idle_high_w, 1, 0, 0, 0, 0, "machine"};
    rows[5] = (StoreMetricRow){"-", "measure_threads", "threads", threads, 1, 0, 0, 0, 0, "machine"};
    int n = MSR_MACHINE_METRICS;
    for (int i = 0; i < r->n_acc; i++) {
        const MsrAccuracy *a = &r->acc[i];
        rows[n++] = (StoreMetricRow){a->label, "logit_max_abs_diff", "logit", a->max_abs_diff,
                                      1, 0, 0, 0, 0, "machine"};
        rows[n++] = (StoreMetricRow){a->label, "logit_mean_abs_diff", "logit",
                                     a->mean_abs_diff,  1, 0, 0, 0, 0, "machine"};
        rows[n++] = (StoreMetricRow){a->label, "greedy_agreement", "share", a->agreement,  1, 0, 0, 0, 0, "machine"};
    }
    return n;
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
        if (d->r.plan.batch != moe->r.plan.batch || d->r.plan.prec != moe->r.plan.prec ||
            d->r.plan.kv != moe->r.plan.kv || d->r.plan.mtp_depth > 0 || moe->r.plan.mtp_depth > 0)
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
    return txt_fmt(v, buf, 32);
}

/* "int8", "bf16, KV bf16", "fp32, MTP 2 forced 0.50": what a run ran with. */
static const char *run_label(const MsrRun *run, char *buf, size_t n)
{
    const HxPlan *p = &run->r.plan;
    int len = snprintf(buf, n, "%s", prec_name(p->prec));
    if (p->kv != PREC_FP32)
        len += snprintf(buf + len, n - (size_t)len, ", KV %s", prec_name(p->kv));
    if (p->mtp_depth > 0 && p->mtp_accept >= 0)
        snprintf(buf + len, n - (size_t)len, ", MTP %d forced %.2f", p->mtp_depth, p->mtp_accept);
    else if (p->mtp_depth > 0)
        snprintf(buf + len, n - (size_t)len, ", MTP %d", p->mtp_depth);
    return buf;
}

/* Decode tokens/s, bytes/token and J/token of each precision per model and batch, beside
 * fp32, and the accuracy of each reduced precision against fp32. */
static void write_precision_md(FILE *f, const MsrResult *r)
{
    int reduced = 0;
    for (int i = 0; i < r->n_runs; i++)
        reduced |= r->runs[i].r.plan.prec != PREC_FP32 || r->runs[i].r.plan.kv != PREC_FP32;
    if (!reduced)
        return;
    char a[32], b[32], c[32], d[32], lab[96];
    fprintf(f, "\n## Precision: fp32 against bf16 against int8, decode\n\n"
               "| model | precision | batch | tokens/s | x fp32 | bytes/token | J/token |\n"
               "|---|---|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < r->n_runs; i++) {
        const MsrRun *run = &r->runs[i];
        if (run->r.plan.mtp_depth > 0)
            continue;
        const MsrRun *ref = NULL;
        for (int k = 0; k < r->n_runs; k++) {
            const MsrRun *o = &r->runs[k];
            if (o->r.plan.prec == PREC_FP32 && o->r.plan.kv == run->r.plan.kv &&
                o->r.plan.mtp_depth == 0 && o->r.plan.batch == run->r.plan.batch &&
                strcmp(o->model, run->model) == 0)
                ref = o;
        }
        Derived dv = derive(r, run, 0);
        snprintf(d, sizeof d, "%.2f", ref ? dv.tok_s / derive(r, ref, 0).tok_s : 0.0);
        fprintf(f, "| %s | %s | %d | %s | %s | %s | %s |\n", run->model,
                run_label(run, lab, sizeof lab), run->r.plan.batch, num(dv.tok_s, a),
                ref ? d : "", num(dv.bytes_per_tok, b), num(dv.j_per_tok, c));
    }
    if (r->n_acc == 0)
        return;
    fprintf(f, "\nAccuracy against fp32: both read the same %d tokens (a fixed prompt, then "
               "fp32's greedy continuation); logits compared at every position.\n\n"
               "| model | precision | KV | max abs logit difference | mean abs logit difference "
               "| greedy agreement |\n|---|---|---|---:|---:|---:|\n",
            r->acc[0].positions);
    for (int i = 0; i < r->n_acc; i++) {
        const MsrAccuracy *x = &r->acc[i];
        fprintf(f, "| %s | %s | %s | %s | %s | %.1f%% |\n", x->model, prec_name(x->prec),
                prec_name(x->kv), num(x->max_abs_diff, a), num(x->mean_abs_diff, b),
                100.0 * x->agreement);
    }
}

/* MTP runs: tokens per step and tokens/s against the acceptance rate, beside the closed form
 * 1 + a + ... + a^D and the roofline's prediction at this machine's ceilings. */
static void write_mtp_md(FILE *f, const MsrResult *r)
{
    int header = 0;
    char a[32], b[32], lab[96];
    ValOptions vo = {0.5, 0.7, 0.5};
    for (int i = 0; i < r->n_runs; i++) {
        const MsrRun *run = &r->runs[i];
        const HxPlan *p = &run->r.plan;
        if (p->mtp_depth == 0)
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
        StoreMeasurementRow row;
        phase_row(r, run, 0, &row);
        const MtpStats *st = &run->r.mtp;
        double measured = st->drafted > 0 ? (double)st->matched / st->drafted : 0.0;
        double used = p->mtp_accept >= 0 ? p->mtp_accept : measured;
        double pred = val_predict_tok_s(&row, r->compute.best, r->bandwidth.best, &vo);
        char used_s[48];
        snprintf(used_s, sizeof used_s, "%.2f (%s)", used, p->mtp_accept >= 0 ? "forced"
                                                                             : "measured");
        fprintf(f, "| %s | %s | %s | %.3f | %.3f | %.3f | %s | %s |\n", run->model,
                run_label(run, lab, sizeof lab), used_s, measured, row.tokens_per_step,
                mtp_tokens_per_step(used, p->mtp_depth), num(derive(r, run, 0).tok_s, a),
                pred > 0 ? num(pred, b) : "n/a");
    }
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
    fprintf(f, "| model | run | phase | batch | threads | tokens/s | TTFT ms | TPOT ms | GFLOP/s "
               "| GB/s | J/token (band) | net J/token | experts/layer |\n"
               "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|\n");
    for (int i = 0; i < r->n_runs; i++) {
        const MsrRun *run = &r->runs[i];
        for (int pf = 1; pf >= 0; pf--) {
            Derived dv = derive(r, run, pf);
            char ex[32] = "";
            if (!pf && run->r.distinct_experts_per_layer > 0)
                snprintf(ex, sizeof ex, "%.2f", run->r.distinct_experts_per_layer);
            char lab[96];
            fprintf(f, "| %s | %s | %s | %d | %d | %s | %s | %s | %s | %s | %s (%s to %s) | %s "
                       "| %s |\n",
                    run->model, run_label(run, lab, sizeof lab), pf ? "prefill" : "decode",
                    run->r.plan.batch,
                    run->r.plan.threads, num(dv.tok_s, a), pf ? num(dv.ttft_ms, b) : "",
                    pf ? "" : num(dv.tpot_ms, b), num(dv.gflops, c), num(dv.gbs, d),
                    num(dv.j_per_tok, e), num(dv.low_j, g), num(dv.high_j, h),
                    num(dv.net_j_per_tok, k), ex);
        }
    }
    write_precision_md(f, r);
    write_mtp_md(f, r);
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
            fprintf(f, ",\"precision\":\"%s\",\"phase\":\"%s\",\"batch\":%d,\"threads\":%d,"
                       "\"prompt_tokens\":%d,\"tokens\":%lld",
                    row.precision, row.phase, row.batch, row.threads, row.prompt_tokens,
                    (long long)row.tokens);
            fprintf(f, ",\"kv_precision\":\"%s\",\"mtp_depth\":%d,\"mtp_accept_forced\":",
                    row.kv_precision, row.mtp_depth);
            if (row.mtp_depth > 0 && row.mtp_accept_forced >= 0)
                txt_json_num(f, row.mtp_accept_forced);
            else
                fputs("null", f);
            fputs(",\"mtp_accept_measured\":", f);
            if (row.mtp_depth > 0 && row.mtp_accept_measured >= 0)
                txt_json_num(f, row.mtp_accept_measured);
            else
                fputs("null", f);
            fputs(",\"seconds\":", f);
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
