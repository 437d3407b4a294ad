/* measure: the measurement run. Ceilings first (triad bandwidth and FMA peak at the plan's
 * threads), idle power next, then every (model, batch) through models/measure/harness.c with the meter.
 * Every energy figure keeps the meter's source string; a modeled figure is never labelled
 * measured. It lays the result out as rows (measurements, and msr_record's inputs, notes and
 * metrics); the report is rendered from those rows once stored (sim/render/report_measure.c). */
#include "sim/cli/measure.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sim/scenario/catalog.h"
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

/* The machine's metrics (fleet "-") and the accuracy of each reduced precision against fp32
 * (fleet "MODEL PREC KV PREC"), part "machine". Returns the count (at most MSR_MAX_METRICS). */
static int machine_metrics(const MsrResult *r, StoreMetricRow *rows)
{
    int n = 0;
    const struct {
        const char *name, *unit;
        double v;
    } m[] = {{"bandwidth_gb_s", "GB/s", r->bandwidth.best},
             {"fp32_gflops", "GFLOP/s", r->compute.best},
             {"idle_w", "W", r->idle_w},
             {"idle_low_w", "W", r->idle_low_w},
             {"idle_high_w", "W", r->idle_high_w},
             {"measure_threads", "threads", r->bandwidth.threads}};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        rows[n++] = (StoreMetricRow){"-", m[i].name, m[i].unit, m[i].v, 1, 0, 0, 0, 0, "machine"};
    for (int i = 0; i < r->n_acc; i++) {
        const MsrAccuracy *a = &r->acc[i];
        rows[n++] = (StoreMetricRow){a->label, "logit_max_abs_diff", "logit", a->max_abs_diff,
                                     1, 0, 0, 0, 0, "machine"};
        rows[n++] = (StoreMetricRow){a->label, "logit_mean_abs_diff", "logit", a->mean_abs_diff,
                                     1, 0, 0, 0, 0, "machine"};
        rows[n++] = (StoreMetricRow){a->label, "greedy_agreement", "share", a->agreement, 1, 0,
                                     0, 0, 0, "machine"};
    }
    return n;
}

/* The dense model a MoE model is compared with: the first measured dense model of the same
 * depth, width and vocabulary; NULL when there is none. */
static const EngineConfig *dense_twin(const EngineConfig *moe, const EngineConfig *configs,
                                      int n_cfg)
{
    for (int k = 0; k < n_cfg; k++)
        if (configs[k].shape.experts == 0 && configs[k].shape.d_model == moe->shape.d_model &&
            configs[k].shape.layers == moe->shape.layers &&
            configs[k].shape.vocab == moe->shape.vocab)
            return &configs[k];
    return NULL;
}

static StoreInputRow num_input(const char *fleet, const char *part, const char *key, double v,
                               const char *unit, const char *origin)
{
    return (StoreInputRow){fleet, part, key, v, 1, NULL, unit, origin};
}

static StoreInputRow text_input(const char *fleet, const char *part, const char *key,
                                const char *text, const char *origin)
{
    return (StoreInputRow){fleet, part, key, NAN, 0, text, "", origin};
}

void msr_record(const MsrResult *r, const EngineConfig *configs, int n_cfg,
                const ValOptions *vo, MsrRecord *out)
{
    memset(out, 0, sizeof *out);
    /* the meter: its source, whether it is a model, why no hardware meter was read */
    StoreInputRow *in = out->inputs;
    int ni = 0;
    in[ni++] = text_input("-", "meter", "energy_source", r->energy_source, "meter");
    in[ni++] = num_input("-", "meter", "modeled", r->modeled, "", "meter");
    if (r->meter_note[0])
        out->notes[out->n_notes++] = (StoreNoteRow){"meter_note", "-", r->meter_note};
    if (r->cpu_power_row[0])
        out->notes[out->n_notes++] = (StoreNoteRow){"cpu_power", "-", r->cpu_power_row};
    /* the efficiencies the roofline predicted the validation rows with */
    in[ni++] = num_input("-", "validate", "eff_compute", vo->eff_compute, "", "default");
    in[ni++] = num_input("-", "validate", "eff_memory", vo->eff_memory, "", "default");
    in[ni++] = num_input("-", "validate", "eff_prefill", vo->eff_prefill, "", "default");
    /* each model's shape, and a MoE model's dense twin for the side-by-side table */
    for (int k = 0; k < n_cfg && k < MSR_MAX_MODELS; k++) {
        const EngineConfig *c = &configs[k];
        in[ni++] = num_input(c->name, "model", "layers", c->shape.layers, "", "engine config");
        in[ni++] = num_input(c->name, "model", "d_model", c->shape.d_model, "", "engine config");
        in[ni++] = num_input(c->name, "model", "vocab", c->shape.vocab, "tokens",
                             "engine config");
        in[ni++] = num_input(c->name, "model", "experts", c->shape.experts, "experts",
                             "engine config");
        const EngineConfig *twin = c->shape.experts > 0 ? dense_twin(c, configs, n_cfg) : NULL;
        if (twin)
            in[ni++] = text_input(c->name, "model", "dense_twin", twin->name, "same shape");
    }
    /* what each accuracy row compared */
    for (int i = 0; i < r->n_acc; i++) {
        const MsrAccuracy *a = &r->acc[i];
        in[ni++] = text_input(a->label, "accuracy", "model", a->model, "measured");
        in[ni++] = text_input(a->label, "accuracy", "precision", prec_name(a->prec), "measured");
        in[ni++] = text_input(a->label, "accuracy", "kv_precision", prec_name(a->kv),
                              "measured");
        in[ni++] = num_input(a->label, "accuracy", "positions", a->positions, "tokens",
                             "measured");
    }
    out->n_inputs = ni;
    /* per configuration: the MoE experts each decode step touched, and for MTP runs the
     * roofline's decode tokens/s at this run's ceilings */
    int nm = machine_metrics(r, out->metrics);
    for (int i = 0; i < r->n_runs; i++) {
        const MsrRun *run = &r->runs[i];
        StoreMeasurementRow row;
        phase_row(r, run, 0, &row);
        char *label = out->labels[i];
        store_measurement_label(label, STORE_LABEL_MAX, row.model, row.precision,
                                row.kv_precision, row.batch, row.mtp_depth,
                                row.mtp_accept_forced);
        if (run->r.distinct_experts_per_layer > 0)
            out->metrics[nm++] = (StoreMetricRow){label, "experts_per_layer", "experts",
                                                  run->r.distinct_experts_per_layer, 1, 0, 0, 0,
                                                  0, "measure"};
        double pred = row.mtp_depth > 0 ? val_predict_tok_s(&row, r->compute.best,
                                                            r->bandwidth.best, vo)
                                        : 0.0;
        if (pred > 0)
            out->metrics[nm++] = (StoreMetricRow){label, "roofline_tok_s", "tok/s", pred, 1, 0,
                                                  0, 0, 0, "measure"};
    }
    out->n_metrics = nm;
}
