/* record: the rows of a priced scenario (see record.h). Inputs go in report order: the
 * accounting window, the workload, then per fleet its own keys, chip, model, shape totals and
 * pricing; then the roofline's central numbers, the Monte Carlo, optimizer, sweep and compare
 * settings the report names. Only values with an origin are recorded (an unset key has none). */
#include "sim/cli/record.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/price/metrics.h"
#include "sim/render/report.h"
#include "sim/text/text.h"

enum { B_FLEETS, B_METRICS, B_INPUTS, B_NOTES, B_SOURCES, B_CMP, B_SWEEP, B_TORNADO, B_HIST, B_DEPLOY,
       B_SERIES, B_LATENCY, B_SERVE_METRICS };

/* Growing arrays of input and note rows while they are laid out. */
typedef struct {
    Record *rec;
    StoreInputRow *inputs;
    int n_inputs, cap_inputs;
    StoreNoteRow *notes;
    int n_notes, cap_notes;
    int oom;
} Builder;

/* An owned copy of a formatted string, kept in rec (NULL when out of memory). */
static const char *keep(Builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *keep(Builder *b, const char *fmt, ...)
{
    Record *r = b->rec;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (r->n_strings == r->cap_strings) {
        int cap = r->cap_strings ? 2 * r->cap_strings : 256;
        char **p = realloc(r->strings, sizeof *p * (size_t)cap);
        if (!p) {
            b->oom = 1;
            return NULL;
        }
        r->strings = p;
        r->cap_strings = cap;
    }
    char *d = strdup(buf);
    if (!d) {
        b->oom = 1;
        return NULL;
    }
    return r->strings[r->n_strings++] = d;
}

static StoreInputRow *add_input(Builder *b, const char *fleet, const char *part, const char *key,
                                const char *unit, const char *origin)
{
    if (b->n_inputs == b->cap_inputs) {
        int cap = b->cap_inputs ? 2 * b->cap_inputs : 128;
        StoreInputRow *p = realloc(b->inputs, sizeof *p * (size_t)cap);
        if (!p) {
            b->oom = 1;
            return NULL;
        }
        b->inputs = p;
        b->cap_inputs = cap;
    }
    StoreInputRow *r = &b->inputs[b->n_inputs++];
    *r = (StoreInputRow){fleet, part, key, 0.0, 0, NULL, unit ? unit : "", origin ? origin : ""};
    return r;
}

static void add_number(Builder *b, const char *fleet, const char *part, const char *key,
                       double v, const char *unit)
{
    StoreInputRow *r = add_input(b, fleet, part, key, unit, "derived");
    if (r) {
        r->value = v;
        r->has_value = 1;
    }
}

static void add_text(Builder *b, const char *fleet, const char *part, const char *key,
                     const char *text)
{
    StoreInputRow *r = add_input(b, fleet, part, key, "", "derived");
    if (r)
        r->text = text;
}

/* A scenario value with its origin; nothing when it has none. */
static void add_value(Builder *b, const char *fleet, const char *part, const char *key,
                      const ScnVal *v, const char *unit)
{
    if (v->origin == ORIG_NONE)
        return;
    char orig[300];
    StoreInputRow *r = add_input(b, fleet, part, key, unit, keep(b, "%s", scn_origin(v, orig,
                                                                                    sizeof orig)));
    if (!r)
        return;
    if (v->text) {
        r->text = v->text;
    } else {
        r->value = v->num;
        r->has_value = 1;
    }
}

static void add_note(Builder *b, const char *kind, const char *fleet, const char *text)
{
    if (b->n_notes == b->cap_notes) {
        int cap = b->cap_notes ? 2 * b->cap_notes : 16;
        StoreNoteRow *p = realloc(b->notes, sizeof *p * (size_t)cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->notes = p;
        b->cap_notes = cap;
    }
    b->notes[b->n_notes++] = (StoreNoteRow){kind, fleet, text};
}

static void fleet_inputs(Builder *b, const Scenario *s, const Outcome *o, int i)
{
    const ScnFleet *fl = &s->fleets[i];
    const ScnModel *m = &s->models[fl->model];
    const char *name = fl->name;
    for (int k = 0; k < FK_COUNT; k++) {
        if (k == FK_CHIPS_PER_INSTANCE && o->fleets[i].perf.roofline &&
            fl->v[k].origin != ORIG_FILE)
            continue; /* the roofline chose it: the report says so */
        const char *key = scn_fleet_key((FleetKey)k);
        add_value(b, name, "fleet", key, &fl->v[k], report_key_unit(key));
    }
    for (int k = 0; k < CK_COUNT; k++) {
        const char *key = scn_chip_key((ChipKey)k);
        add_value(b, name, "chip", keep(b, "chip.%s", key), &fl->chip.v[k], report_key_unit(key));
    }
    for (int k = 0; k < MK_COUNT; k++) {
        const char *key = scn_model_key((ModelKey)k);
        add_value(b, name, "model", keep(b, "model.%s", key), &m->v[k], report_key_unit(key));
    }
    if (m->has_shape) {
        add_number(b, name, "shape", "params_total", m->params_total, "parameters");
        add_number(b, name, "shape", "params_active", m->params_active, "parameters");
    }
    if (fl->pricing >= 0) {
        const ScnPricing *p = &s->pricings[fl->pricing];
        for (int k = 0; k < PK_COUNT; k++)
            add_value(b, name, "pricing", keep(b, "pricing.%s", scn_pricing_key((PricingKey)k)),
                      &p->v[k], "USD/Mtok");
    }
    if (fl->calibrated) {
        const ScnCalibration *c = &fl->cal;
        add_number(b, name, "calibration", "id", (double)c->id, "");
        add_number(b, name, "calibration", "run_id", (double)c->run_id, "");
        add_text(b, name, "calibration", "precision", c->precision);
        add_text(b, name, "calibration", "kv_precision", c->kv_precision);
        add_number(b, name, "calibration", "threads", c->threads, "threads");
        add_number(b, name, "calibration", "test_median_err", c->test_median_err, "share");
        add_number(b, name, "calibration", "max_batch", c->max_batch, "sequences");
        add_number(b, name, "calibration", "batch", c->batch, "sequences");
        add_number(b, name, "calibration", "tpot_ms", c->tpot_ms, "ms");
        add_number(b, name, "calibration", "ttft_ms", c->ttft_ms, "ms");
    }
    if (o->fleets[i].perf.roofline) {
        const RoofResult *ro = &o->fleets[i].perf.roof;
        add_number(b, name, "roofline", "chips_per_instance", ro->chips_per_instance, "chips");
        add_number(b, name, "roofline", "batch", ro->batch, "sequences");
        add_number(b, name, "roofline", "max_batch_memory", ro->max_batch_memory, "sequences");
        add_number(b, name, "roofline", "step_ms", ro->step_ms, "ms");
        add_number(b, name, "roofline", "compute_ms", ro->compute_ms, "ms");
        add_number(b, name, "roofline", "memory_ms", ro->memory_ms, "ms");
        add_number(b, name, "roofline", "comm_ms", ro->comm_ms, "ms");
    }
}

static void scenario_inputs(Builder *b, const Scenario *s, const Outcome *o,
                            const SwpResult *sweep, const CmpResult *cmp)
{
    add_note(b, "path", "-", s->path);
    if (s->sc[SK_DESCRIPTION].text)
        add_note(b, "description", "-", s->sc[SK_DESCRIPTION].text);
    if (s->question.v[QK_TITLE].text)
        add_note(b, "question", "-", s->question.v[QK_TITLE].text);
    if (o->question->text[0])
        add_note(b, "conclusion", "-", o->question->text);
    for (int i = 0; i < s->n_warnings; i++)
        add_note(b, "warning", "-", s->warnings[i]);
    add_number(b, "-", "scenario", "hours", s->sc[SK_HOURS].num, "h");
    for (int k = 0; k < WK_COUNT; k++) {
        const char *key = scn_workload_key((WorkloadKey)k);
        add_value(b, "-", "workload", key, &s->wl[k], report_key_unit(key));
    }
    for (int i = 0; i < s->n_fleets; i++)
        fleet_inputs(b, s, o, i);
    if (o->mc) {
        add_number(b, "-", "montecarlo", "samples", (double)o->mc->n_samples, "samples");
        add_number(b, "-", "montecarlo", "clamped", (double)o->mc->clamped, "draws");
        for (int p = 0; p < MC_N_PCT; p++)
            add_text(b, "-", "montecarlo", "percentile_metric", met_info(MC_PCT[p])->name);
    }
    if (s->optimize.line > 0) {
        const ScnVal *v = s->optimize.v;
        add_value(b, "-", "optimize", "fleet", &v[OPK_FLEET], "");
        add_value(b, "-", "optimize", "objective", &v[OPK_OBJECTIVE], "");
        add_value(b, "-", "optimize", "power_cap_mw", &v[OPK_POWER_CAP_MW], "MW");
        add_value(b, "-", "optimize", "budget_usd_per_day", &v[OPK_BUDGET_USD_PER_DAY],
                  "USD/window");
    }
    if (sweep)
        add_number(b, "-", "sweep", "points", (double)sweep->plan->nx * sweep->plan->ny,
                   "points");
    if (cmp) {
        add_text(b, "-", "compare", "baseline", s->fleets[cmp->baseline].name);
        for (int k = 0; k < cmp->n_keys; k++)
            add_text(b, "-", "compare", "breakeven", cmp->metric[k]);
    }
}

/* The catalog rows the fleets, models and prices used, each once, in report order. */
static int source_rows(Builder *b, const Scenario *s, StoreSourceRow *rows)
{
    int n = 0;
    const ScnCatalogs *c = s->cats;
#define SOURCE(what, table, row)                                                                   \
    do {                                                                                           \
        if ((row) >= 0) {                                                                          \
            const char *p_ = strrchr((table)->path, '/');                                          \
            rows[n++] = (StoreSourceRow){what, cat_cell(table, row, "name"),                       \
                                         keep(b, "%s:%d", p_ ? p_ + 1 : (table)->path,             \
                                              (table)->lines[row]),                                \
                                         cat_cell(table, row, "source"),                           \
                                         cat_cell(table, row, "as_of"),                            \
                                         cat_cell(table, row, "confidence")};                      \
        }                                                                                          \
    } while (0)
    for (int i = 0; i < s->n_fleets; i++) {
        const ScnFleet *fl = &s->fleets[i];
        int dup = 0;
        for (int j = 0; j < i; j++)
            dup |= s->fleets[j].chip.cat_row == fl->chip.cat_row;
        if (!dup)
            SOURCE("chips", &c->chips, fl->chip.cat_row);
        dup = 0;
        for (int j = 0; j < i; j++)
            dup |= s->fleets[j].elec_row == fl->elec_row;
        if (!dup)
            SOURCE("electricity", &c->electricity, fl->elec_row);
    }
    for (int i = 0; i < s->n_models; i++)
        SOURCE("models", &c->models, s->models[i].cat_row);
    for (int i = 0; i < s->n_pricings; i++)
        SOURCE("api_prices", &c->api_prices, s->pricings[i].cat_row);
#undef SOURCE
    return n;
}

static void metric_rows(const Scenario *s, const Outcome *o, const CmpResult *cmp,
                        StoreMetricRow *rows, int *n)
{
    for (int i = 0; i < s->n_fleets; i++) {
        const char *fleet = s->fleets[i].name;
        for (int k = 0; k < MET_COUNT; k++) {
            const MetricInfo *mi = met_info((MetricId)k);
            StoreMetricRow *r = &rows[(*n)++];
            *r = (StoreMetricRow){.fleet = fleet,
                                  .metric = mi->name,
                                  .unit = mi->unit,
                                  .value = o->fleets[i].metrics.value[k],
                                  .has_value = o->fleets[i].metrics.has[k],
                                  .part = "fleet"};
            for (int p = 0; o->pct && p < MC_N_PCT; p++)
                if ((int)MC_PCT[p] == k) {
                    const double *q = o->pct + ((size_t)i * MC_N_PCT + (size_t)p) * 3;
                    r->p5 = q[0];
                    r->p50 = q[1];
                    r->p95 = q[2];
                    r->has_pct = !isnan(q[0]);
                }
        }
        for (int k = 0; cmp && k < cmp->n_keys; k++) {
            double v = cmp->breakeven[(size_t)k * (size_t)s->n_fleets + (size_t)i];
            const char *key = strrchr(cmp->keys[k], '.');
            rows[(*n)++] = (StoreMetricRow){.fleet = fleet,
                                            .metric = cmp->metric[k],
                                            .unit = report_key_unit(key ? key + 1 : cmp->keys[k]),
                                            .value = v,
                                            .has_value = !isnan(v),
                                            .part = "compare"};
        }
    }
    for (int i = 0; i < o->question->n_rows; i++) {
        const QstRow *r = &o->question->rows[i];
        rows[(*n)++] = (StoreMetricRow){.fleet = r->fleet,
                                        .metric = r->metric,
                                        .unit = r->unit,
                                        .value = r->value,
                                        .has_value = r->has_value,
                                        .part = "question"};
    }
}

/* Why a size of a deployment search is not a candidate (NULL when it is). */
static const char *deployment_why(int status)
{
    switch (status) {
    case 0:
        return NULL;
    case -1:
        return "the weights and one sequence's KV cache do not fit";
    case -2:
        return "even batch 1 misses tpot_slo_ms";
    case -3:
        return "one prompt's prefill misses ttft_slo_ms";
    case PERF_NOT_DIVISOR:
        return "does not divide the fleet's chips";
    default:
        return "not priced";
    }
}

/* The metric rows (part "serve") of a simulated fleet's day, its sizing and its SLOs. */
static int serve_metric_rows(const char *fleet, const ServeFleet *f, StoreMetricRow *rows)
{
    const ServeSummary *d = &f->day.sum;
    int n = 0;
#define ROW(m_, u_, v_)                                                                            \
    rows[n++] = (StoreMetricRow){.fleet = fleet, .metric = (m_), .unit = (u_), .value = (v_),     \
                                 .has_value = isfinite(v_), .part = "serve"}
    ROW("replicas", "replicas", (double)f->replicas);
    ROW("prefill_replicas", "replicas", (double)f->prefill_replicas);
    ROW("sized_at_peak_hour", "yes/no", (double)f->sized);
    ROW("requests", "requests", (double)d->requests);
    const ServePct *pct[] = {&d->ttft_s, &d->tpot_s, &d->itl_s, &d->e2e_s};
    static const char *const names[4][3] = {
        {"ttft_p50_ms", "ttft_p90_ms", "ttft_p99_ms"},
        {"tpot_p50_ms", "tpot_p90_ms", "tpot_p99_ms"},
        {"itl_p50_ms", "itl_p90_ms", "itl_p99_ms"},
        {"e2e_p50_ms", "e2e_p90_ms", "e2e_p99_ms"}};
    for (int k = 0; k < 4; k++) {
        ROW(names[k][0], "ms", pct[k]->p50 * 1e3);
        ROW(names[k][1], "ms", pct[k]->p90 * 1e3);
        ROW(names[k][2], "ms", pct[k]->p99 * 1e3);
    }
    ROW("throughput_req_s", "requests/s", d->throughput_req_s);
    ROW("output_tok_s", "tok/s", d->output_tok_s);
    ROW("input_tok_s", "tok/s", d->input_tok_s);
    ROW("goodput_req_s", "requests/s", d->goodput_req_s);
    ROW("slo_attainment", "share", d->slo_attainment);
    ROW("busy_share", "share", d->busy_share);
    ROW("mean_batch", "sequences", d->mean_batch);
    ROW("kv_occupancy", "share", d->kv_occupancy);
    ROW("mean_queue", "requests", d->mean_queue);
    ROW("preemptions", "preemptions", (double)d->preemptions);
    ROW("prefix_hit_rate", "share", d->prefix_hit_rate);
    if (f->sized) {
        ROW("peak_hour_ttft_at_slo_ms", "ms", f->peak.ttft_s.at_slo * 1e3);
        ROW("peak_hour_tpot_at_slo_ms", "ms", f->peak.tpot_s.at_slo * 1e3);
        ROW("peak_hour_busy_share", "share", f->peak.busy_share);
    }
#undef ROW
    return n;
}

int record_make(const Scenario *s, const Outcome *o, const SwpResult *sweep,
                const CmpResult *cmp, int reproducible, Record *rec, TsErr *err)
{
    memset(rec, 0, sizeof *rec);
    Builder b = {.rec = rec};
    int nf = s->n_fleets;
    StoreFleetRow *fleets = calloc((size_t)nf + 1, sizeof *fleets);
    StoreMetricRow *metrics =
        calloc((size_t)(nf * (MET_COUNT + CMP_MAX_KEYS) + o->question->n_rows + 1),
               sizeof *metrics);
    StoreSourceRow *sources = calloc((size_t)(2 * nf + s->n_models + s->n_pricings + 1),
                                     sizeof *sources);
    long n_cmp = cmp ? (long)nf * MET_COUNT : 0;
    StoreComparisonRow *cmps = calloc((size_t)n_cmp + 1, sizeof *cmps);
    long n_sweep = sweep ? sweep->n_rows : 0;
    StoreSweepRow *sw = calloc((size_t)n_sweep + 1, sizeof *sw);
    int n_torn = o->tornado ? nf * (o->n_dists + 1) : 0;
    StoreTornadoRow *torn = calloc((size_t)n_torn + 1, sizeof *torn);
    StoreHistogramRow *hist = calloc((size_t)o->n_hist + 1, sizeof *hist);
    StoreDeploymentRow *deploy = calloc((size_t)nf * PERF_FRONTIER_MAX + 1, sizeof *deploy);
    void *blocks[] = {fleets, metrics, NULL, NULL, sources, cmps, sw, torn, hist, deploy};
    memcpy(rec->blocks, blocks, sizeof blocks);
    if (!fleets || !metrics || !sources || !cmps || !sw || !torn || !hist || !deploy) {
        record_fini(rec);
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    }
    StoreResults *r = &rec->res;
    for (int i = 0; i < nf; i++) {
        const ScnFleet *f = &s->fleets[i];
        const FleetResult *fr = &o->fleets[i];
        fleets[i] = (StoreFleetRow){
            .fleet = f->name,
            .chip = f->chip.name,
            .model = s->models[f->model].name,
            .throughput_mode = scn_throughput_name(f->throughput),
            .cost_mode = f->rent ? "rent" : "own",
            .energy_source = f->energy_source,
            .bound = fr->perf.roofline ? fr->perf.roof.bound : NULL,
            .candidate = f->candidate,
            .over_capacity = fr->over_capacity,
            .failed_samples = o->mc ? o->mc->failed[i] : -1,
        };
    }
    r->fleets = fleets;
    r->n_fleets = nf;
    metric_rows(s, o, cmp, metrics, &r->n_metrics);
    r->metrics = metrics;
    scenario_inputs(&b, s, o, sweep, cmp);
    /* how the run renders: with its id and 10 significant figures, or reproducibly */
    add_number(&b, "-", "render", "show_run_id", reproducible ? 0 : 1, "");
    add_number(&b, "-", "render", "csv_digits", reproducible ? 6 : 10, "digits");
    r->n_sources = source_rows(&b, s, sources);
    r->sources = sources;
    if (cmp) {
        for (int f = 0; f < nf; f++) {
            if (f == cmp->baseline)
                continue;
            /* ratios of the stored metrics (Monte Carlo means), as the report shows them */
            const MetricSet *m = &o->fleets[f].metrics;
            const MetricSet *bm = &o->fleets[cmp->baseline].metrics;
            for (int k = 0; k < MET_COUNT; k++) {
                int ok = m->has[k] && bm->has[k] && bm->value[k] != 0;
                cmps[r->n_comparisons++] = (StoreComparisonRow){
                    s->fleets[f].name, s->fleets[cmp->baseline].name, met_info((MetricId)k)->name,
                    ok ? m->value[k] / bm->value[k] : 0.0, ok};
            }
        }
    }
    r->comparisons = cmps;
    for (long i = 0; i < n_sweep; i++) {
        const SwpRow *row = &sweep->rows[i];
        sw[i] = (StoreSweepRow){s->fleets[row->fleet].name,
                                sweep->plan->param,
                                sweep->plan->ys ? sweep->plan->param2 : NULL,
                                row->name ? row->name : met_info(row->metric)->name,
                                row->x,
                                row->y,
                                row->value,
                                row->has_value && isfinite(row->value)};
    }
    r->sweep = sw;
    r->n_sweep = n_sweep;
    for (int i = 0; o->tornado && i < nf; i++)
        for (int k = 0; k < o->n_bars[i]; k++) {
            const McTornadoBar *t = &o->tornado[(size_t)i * (size_t)o->n_dists + (size_t)k];
            torn[r->n_tornado++] = (StoreTornadoRow){s->fleets[i].name, t->input, t->low_x,
                                                     t->high_x, t->low_value, t->high_value};
        }
    r->tornado = torn;
    for (int i = 0; i < o->n_hist; i++) {
        const OutHistogram *h = &o->hist[i];
        hist[i] = (StoreHistogramRow){s->fleets[h->fleet].name, met_info(h->metric)->name,
                                      h->bin_low, h->bin_high, h->count};
    }
    r->histograms = hist;
    r->n_histograms = o->n_hist;
    for (int i = 0; i < nf; i++) {
        const PerfResult *p = &o->fleets[i].perf;
        for (int k = 0; p->searched && k < p->n_frontier; k++) {
            const PerfCandidate *c = &p->frontier[k];
            deploy[r->n_deployments++] = (StoreDeploymentRow){
                .fleet = s->fleets[i].name,
                .chips_per_instance = c->chips_per_instance,
                .feasible = c->status == 0,
                .chosen = k == p->chosen,
                .why = deployment_why(c->status),
                .bound = c->roof.bound,
                .batch = c->roof.batch,
                .tpot_ms = c->roof.tpot_ms,
                .ttft_ms = c->roof.ttft_ms,
                .decode_tok_s_per_chip = c->roof.decode_tok_s_per_chip,
                .usd_per_m_output = c->usd_per_m_output,
                .usd_per_m_blended = c->usd_per_m_blended,
            };
        }
    }
    r->deployments = deploy;
    /* simulated fleets: their day's metric rows, series and latency histograms */
    long n_series = 0, n_lat = 0;
    for (int i = 0; o->serve && i < nf; i++)
        if (o->serve[i].simulated) {
            n_series += o->serve[i].day.n_series;
            const ServeHist *h[] = {&o->serve[i].day.ttft, &o->serve[i].day.tpot,
                                    &o->serve[i].day.itl, &o->serve[i].day.e2e};
            for (int k = 0; k < 4; k++)
                n_lat += h[k]->n_bins;
        }
    StoreSeriesRow *series = calloc((size_t)n_series + 1, sizeof *series);
    StoreLatencyRow *lat = calloc((size_t)n_lat + 1, sizeof *lat);
    StoreMetricRow *smet = calloc((size_t)nf * 64 + 1, sizeof *smet);
    rec->blocks[B_SERIES] = series;
    rec->blocks[B_LATENCY] = lat;
    rec->blocks[B_SERVE_METRICS] = smet;
    if (!series || !lat || !smet) {
        record_fini(rec);
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    }
    int n_smet = 0;
    for (int i = 0; o->serve && i < nf; i++) {
        const ServeFleet *sf = &o->serve[i];
        if (!sf->simulated)
            continue;
        const char *name = s->fleets[i].name;
        n_smet += serve_metric_rows(name, sf, smet + n_smet);
        for (int k = 0; k < sf->day.n_series; k++) {
            const ServeInterval *x = &sf->day.series[k];
            series[r->n_series++] = (StoreSeriesRow){
                name, x->start_s, x->arrivals, x->completions, x->output_tokens,
                x->prefill_tokens, x->queue, x->batch, x->kv_occupancy, x->busy_share,
                x->ttft_p90_s > 0 ? x->ttft_p90_s * 1e3 : NAN,
                x->e2e_p90_s > 0 ? x->e2e_p90_s : NAN, sf->usd_per_hour[k]};
        }
        const ServeHist *h[] = {&sf->day.ttft, &sf->day.tpot, &sf->day.itl, &sf->day.e2e};
        static const char *const lname[] = {"ttft", "tpot", "itl", "e2e"};
        for (int k = 0; k < 4; k++)
            for (int bin = 0; bin < h[k]->n_bins; bin++) {
                if (!(h[k]->count[bin] > 0))
                    continue;
                double lo, hi;
                hist_edges(h[k], bin, &lo, &hi);
                lat[r->n_latencies++] =
                    (StoreLatencyRow){name, lname[k], lo, hi, h[k]->count[bin]};
            }
    }
    r->series = series;
    r->latencies = lat;
    if (n_smet > 0) { /* appended after the run's other metric rows */
        StoreMetricRow *all = realloc(rec->blocks[B_METRICS],
                                      sizeof *all * (size_t)(r->n_metrics + n_smet + 1));
        if (!all) {
            record_fini(rec);
            return ts_err_set(err, TS_ENOMEM, "out of memory");
        }
        rec->blocks[B_METRICS] = all;
        memcpy(all + r->n_metrics, smet, sizeof *all * (size_t)n_smet);
        r->metrics = all;
        r->n_metrics += n_smet;
    }
    rec->blocks[B_INPUTS] = b.inputs;
    rec->blocks[B_NOTES] = b.notes;
    r->inputs = b.inputs;
    r->n_inputs = b.n_inputs;
    r->notes = b.notes;
    r->n_notes = b.n_notes;
    if (b.oom) {
        record_fini(rec);
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    }
    return 0;
}

void record_fini(Record *rec)
{
    if (!rec)
        return;
    for (int i = 0; i < rec->n_strings; i++)
        free(rec->strings[i]);
    free(rec->strings);
    for (size_t i = 0; i < sizeof rec->blocks / sizeof rec->blocks[0]; i++)
        free(rec->blocks[i]);
    memset(rec, 0, sizeof *rec);
}
