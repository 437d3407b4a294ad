/* run: a whole run read back (see run.h): one SELECT per table, rows in the order they were
 * written (rowid, or seq where a table has one), every column copied into owned memory. A
 * database opened read-only keeps its schema: what it predates reads as defaults (a run
 * before schema 6 has no inputs or notes; its report.md is the file it wrote). */
#include "sim/store/run.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/store/internal.h"

/* Where a SELECT's rows go: an array of elem-sized elements that grows as rows come. */
typedef struct {
    void **items;
    size_t elem;
    long n, cap;
    sqlite3_stmt *st; /* borrowed: the row being read */
    int oom;
} Rows;

static char *col_text(Rows *r, int i)
{
    const char *t = (const char *)sqlite3_column_text(r->st, i);
    char *d = strdup(t ? t : "");
    r->oom |= d == NULL;
    return d;
}

/* NULL for SQL NULL (and an empty copy when out of memory is flagged). */
static char *col_text_or_null(Rows *r, int i)
{
    return sqlite3_column_type(r->st, i) == SQLITE_NULL ? NULL : col_text(r, i);
}

static double col_real(Rows *r, int i, int *present)
{
    int has = sqlite3_column_type(r->st, i) != SQLITE_NULL;
    if (present)
        *present = has;
    return has ? sqlite3_column_double(r->st, i) : 0.0;
}

static void *next_item(Rows *r)
{
    if (r->n == r->cap) {
        long cap = r->cap ? 2 * r->cap : 16;
        void *p = realloc(*r->items, (size_t)cap * r->elem);
        if (!p) {
            r->oom = 1;
            return NULL;
        }
        *r->items = p;
        r->cap = cap;
    }
    void *item = (char *)*r->items + (size_t)r->n++ * r->elem;
    memset(item, 0, r->elem);
    return item;
}

/* Runs sql (one parameter: the run id) and calls fill for every row into a new element of
 * *items; *n gets the count. */
static int load_rows(Store *s, int64_t run_id, const char *sql, const char *what, void **items,
                     size_t elem, long *n, void (*fill)(Rows *r, void *item), TsErr *err)
{
    Rows r = {items, elem, 0, 0, NULL, 0};
    *items = NULL;
    *n = 0;
    char msg[96];
    snprintf(msg, sizeof msg, "reading the run's %s", what);
    if (store_prepare(s, sql, &r.st, msg, err))
        return TS_EIO;
    int code = 0, rc = SQLITE_OK;
    if (sqlite3_bind_int64(r.st, 1, run_id) != SQLITE_OK)
        code = store_fail(s, msg, err);
    while (!code && (rc = sqlite3_step(r.st)) == SQLITE_ROW) {
        void *item = next_item(&r);
        if (!item)
            break;
        fill(&r, item);
    }
    if (!code && r.oom)
        code = ts_err_set(err, TS_ENOMEM, "out of memory reading the run's %s", what);
    else if (!code && rc != SQLITE_DONE)
        code = store_fail(s, msg, err);
    store_finalize(r.st);
    *n = r.n;
    return code;
}

static void fill_fleet(Rows *r, void *item)
{
    StoredFleet *f = item;
    f->fleet = col_text(r, 0);
    f->chip = col_text(r, 1);
    f->model = col_text(r, 2);
    f->throughput_mode = col_text(r, 3);
    f->cost_mode = col_text(r, 4);
    f->energy_source = col_text(r, 5);
    f->bound = col_text_or_null(r, 6);
    f->candidate = sqlite3_column_int(r->st, 7);
    f->over_capacity = sqlite3_column_int(r->st, 8);
    int has = 0;
    double failed = col_real(r, 9, &has);
    f->failed_samples = has ? (int64_t)failed : -1;
}

static void fill_metric(Rows *r, void *item)
{
    StoredMetric *m = item;
    m->fleet = col_text(r, 0);
    m->metric = col_text(r, 1);
    m->unit = col_text(r, 2);
    m->part = col_text(r, 3);
    m->value = col_real(r, 4, &m->has_value);
    int a = 0, b = 0, c = 0;
    m->p5 = col_real(r, 5, &a);
    m->p50 = col_real(r, 6, &b);
    m->p95 = col_real(r, 7, &c);
    m->has_pct = a && b && c;
}

static void fill_input(Rows *r, void *item)
{
    StoredInput *in = item;
    in->fleet = col_text(r, 0);
    in->part = col_text(r, 1);
    in->key = col_text(r, 2);
    in->value = col_real(r, 3, &in->has_value);
    in->text = col_text_or_null(r, 4);
    in->unit = col_text(r, 5);
    in->origin = col_text(r, 6);
}

static void fill_note(Rows *r, void *item)
{
    StoredNote *n = item;
    n->kind = col_text(r, 0);
    n->fleet = col_text(r, 1);
    n->text = col_text(r, 2);
}

static void fill_source(Rows *r, void *item)
{
    StoredSource *s = item;
    s->catalog = col_text(r, 0);
    s->row = col_text(r, 1);
    s->place = col_text(r, 2);
    s->source = col_text(r, 3);
    s->as_of = col_text(r, 4);
    s->confidence = col_text(r, 5);
}

static void fill_comparison(Rows *r, void *item)
{
    StoredComparison *c = item;
    c->fleet = col_text(r, 0);
    c->baseline = col_text(r, 1);
    c->metric = col_text(r, 2);
    c->ratio = col_real(r, 3, &c->has_ratio);
}

static void fill_sweep(Rows *r, void *item)
{
    StoredSweepPoint *p = item;
    p->fleet = col_text(r, 0);
    p->param = col_text(r, 1);
    p->x = col_real(r, 2, NULL);
    p->param2 = col_text_or_null(r, 3);
    p->y = col_real(r, 4, NULL);
    p->metric = col_text(r, 5);
    p->value = col_real(r, 6, &p->has_value);
}

static void fill_tornado(Rows *r, void *item)
{
    StoredTornado *t = item;
    t->fleet = col_text(r, 0);
    t->input = col_text(r, 1);
    t->low_x = col_real(r, 2, NULL);
    t->high_x = col_real(r, 3, NULL);
    t->low_value = col_real(r, 4, NULL);
    t->high_value = col_real(r, 5, NULL);
}

static void fill_histogram(Rows *r, void *item)
{
    StoredHistogram *h = item;
    h->fleet = col_text(r, 0);
    h->metric = col_text(r, 1);
    h->bin_low = col_real(r, 2, NULL);
    h->bin_high = col_real(r, 3, NULL);
    h->count = sqlite3_column_int64(r->st, 4);
}

static void fill_measurement(Rows *r, void *item)
{
    StoredMeasurement *m = item;
    int has = 0;
    m->model = col_text(r, 0);
    m->precision = col_text(r, 1);
    m->kv_precision = col_text(r, 2);
    m->phase = col_text(r, 3);
    m->batch = sqlite3_column_int(r->st, 4);
    m->threads = sqlite3_column_int(r->st, 5);
    m->prompt_tokens = sqlite3_column_int(r->st, 6);
    m->tokens = sqlite3_column_int64(r->st, 7);
    m->seconds = col_real(r, 8, NULL);
    m->seconds_p10 = col_real(r, 9, NULL);
    m->seconds_p90 = col_real(r, 10, NULL);
    m->flops = col_real(r, 11, NULL);
    m->weight_bytes = col_real(r, 12, NULL);
    m->kv_bytes = col_real(r, 13, NULL);
    m->energy_j = col_real(r, 14, NULL);
    m->energy_net_j = col_real(r, 15, NULL);
    m->energy_low_j = col_real(r, 16, NULL);
    m->energy_high_j = col_real(r, 17, NULL);
    m->energy_source = col_text(r, 18);
    m->mtp_depth = sqlite3_column_int(r->st, 19);
    m->mtp_accept_forced = col_real(r, 20, &has);
    if (!has)
        m->mtp_accept_forced = -1;
    m->mtp_accept_measured = col_real(r, 21, &has);
    if (!has)
        m->mtp_accept_measured = -1;
    m->tokens_per_step = col_real(r, 22, &has);
    if (!has)
        m->tokens_per_step = 0;
}

static void fill_validation(Rows *r, void *item)
{
    StoredValidation *v = item;
    v->model = col_text(r, 0);
    v->phase = col_text(r, 1);
    v->batch = sqlite3_column_int(r->st, 2);
    v->threads = sqlite3_column_int(r->st, 3);
    v->predicted_tok_s = col_real(r, 4, &v->has_predicted);
    v->measured_tok_s = col_real(r, 5, &v->has_measured);
}

static void fill_deployment(Rows *r, void *item)
{
    StoredDeployment *d = item;
    d->fleet = col_text(r, 0);
    d->chips_per_instance = sqlite3_column_int(r->st, 1);
    d->feasible = sqlite3_column_int(r->st, 2);
    d->why = col_text_or_null(r, 3);
    d->batch = sqlite3_column_int(r->st, 4);
    d->bound = col_text_or_null(r, 5);
    d->tpot_ms = col_real(r, 6, NULL);
    d->ttft_ms = col_real(r, 7, NULL);
    d->decode_tok_s_per_chip = col_real(r, 8, NULL);
    d->usd_per_m_output = col_real(r, 9, NULL);
    d->usd_per_m_blended = col_real(r, 10, NULL);
    d->chosen = sqlite3_column_int(r->st, 11);
}

static void fill_series(Rows *r, void *item)
{
    StoredSeries *x = item;
    x->fleet = col_text(r, 0);
    double *cols[] = {&x->start_s,      &x->arrivals,     &x->completions, &x->output_tokens,
                      &x->prefill_tokens, &x->queue,      &x->batch,       &x->kv_occupancy,
                      &x->busy_share,   &x->ttft_p90_ms, &x->e2e_p90_s,   &x->usd_per_hour};
    for (int i = 0; i < 12; i++) {
        int has = 0;
        *cols[i] = col_real(r, i + 1, &has);
        if (!has)
            *cols[i] = NAN;
    }
}

static void fill_latency(Rows *r, void *item)
{
    StoredLatency *x = item;
    x->fleet = col_text(r, 0);
    x->latency = col_text(r, 1);
    x->bin_low_s = col_real(r, 2, NULL);
    x->bin_high_s = col_real(r, 3, NULL);
    x->count = col_real(r, 4, NULL);
}

static void fill_served(Rows *r, void *item)
{
    StoredServedRequest *x = item;
    int has = 0;
    x->arrival_s = col_real(r, 0, NULL);
    x->first_token_s = col_real(r, 1, &has);
    if (!has)
        x->first_token_s = NAN;
    x->finish_s = col_real(r, 2, &has);
    if (!has)
        x->finish_s = NAN;
    x->input_tokens = sqlite3_column_int(r->st, 3);
    x->output_tokens = sqlite3_column_int(r->st, 4);
    x->preemptions = sqlite3_column_int(r->st, 5);
}

static void fill_check(Rows *r, void *item)
{
    StoredServingCheck *x = item;
    int has = 0;
    x->model = col_text(r, 0);
    x->calibration_id = sqlite3_column_int64(r->st, 1);
    x->capacity_req_s = col_real(r, 2, NULL);
    x->rate_req_s = col_real(r, 3, NULL);
    x->load_share = col_real(r, 4, NULL);
    x->requests = sqlite3_column_int(r->st, 5);
    x->quantity = col_text(r, 6);
    x->unit = col_text(r, 7);
    x->measured = col_real(r, 8, &has);
    if (!has)
        x->measured = NAN;
    x->predicted = col_real(r, 9, &has);
    if (!has)
        x->predicted = NAN;
}

static void fill_run(Rows *r, void *item)
{
    StoredRun *run = item;
    run->id = sqlite3_column_int64(r->st, 0);
    run->kind = col_text(r, 1);
    run->name = col_text(r, 2);
    run->status = col_text(r, 3);
    run->started_at = col_text(r, 4);
    run->finished_at = col_text(r, 5);
    run->seed = sqlite3_column_int64(r->st, 6);
    run->version = col_text(r, 7);
    run->machine = col_text(r, 8);
    run->out_dir = col_text(r, 9);
}

/* Loads one table into *items with *n rows (an int count). */
#define LOAD(sql, what, items, n, fill)                                                            \
    do {                                                                                           \
        long count_ = 0;                                                                           \
        if (!code)                                                                                 \
            code = load_rows(s, run_id, sql, what, (void **)&(items), sizeof *(items), &count_,   \
                             fill, err);                                                           \
        (n) = (int)count_;                                                                         \
    } while (0)

int store_load_run(Store *s, int64_t run_id, StoredRun *out, TsErr *err)
{
    assert(s && out);
    memset(out, 0, sizeof *out);
    int version = 0;
    if (store_user_version(s, &version, err))
        return err->code;
    /* a database opened read-only is not migrated: columns and tables it predates read as
     * their defaults (schema 5 added the measurements' precision columns, 6 the report rows) */
    int v5 = version >= 5, v6 = version >= 6;
    StoredRun *head = NULL;
    long found = 0;
    int code = load_rows(s, run_id,
                         "SELECT id, kind, name, status, started_at, finished_at, seed, version,"
                         " machine, out_dir FROM runs WHERE id = ?",
                         "runs row", (void **)&head, sizeof *head, &found, fill_run, err);
    if (!code && found != 1)
        code = ts_err_set(err, TS_EINPUT, "%s has no run %lld", s->path, (long long)run_id);
    if (code) {
        if (head && found == 1)
            store_run_free(head);
        free(head);
        return code;
    }
    *out = *head;
    free(head);
    LOAD(v6 ? "SELECT fleet, chip, model, throughput_mode, cost_mode, energy_source, bound,"
              " candidate, over_capacity, failed_samples FROM fleets WHERE run_id = ?"
              " ORDER BY rowid"
            : "SELECT fleet, chip, model, throughput_mode, cost_mode, energy_source, bound, 0, 0,"
              " NULL FROM fleets WHERE run_id = ? ORDER BY rowid",
         "fleets", out->fleets, out->n_fleets, fill_fleet);
    LOAD(v6 ? "SELECT fleet, metric, unit, part, value, p5, p50, p95 FROM metrics"
              " WHERE run_id = ? ORDER BY rowid"
            : "SELECT fleet, metric, unit, NULL, value, p5, p50, p95 FROM metrics"
              " WHERE run_id = ? ORDER BY rowid",
         "metrics", out->metrics, out->n_metrics, fill_metric);
    if (v6) {
        LOAD("SELECT fleet, part, key, value, text, unit, origin FROM run_inputs"
             " WHERE run_id = ? ORDER BY seq",
             "inputs", out->inputs, out->n_inputs, fill_input);
        LOAD("SELECT kind, fleet, text FROM run_notes WHERE run_id = ? ORDER BY seq", "notes",
             out->notes, out->n_notes, fill_note);
        LOAD("SELECT catalog, row, place, source, as_of, confidence FROM run_sources"
             " WHERE run_id = ? ORDER BY seq",
             "sources", out->sources, out->n_sources, fill_source);
        LOAD("SELECT fleet, chips_per_instance, feasible, why, batch, bound, tpot_ms, ttft_ms,"
             " decode_tok_s_per_chip, usd_per_m_output, usd_per_m_blended, chosen"
             " FROM deployments WHERE run_id = ? ORDER BY rowid",
             "deployments", out->deployments, out->n_deployments, fill_deployment);
    }
    if (version >= 7) {
        LOAD("SELECT fleet, start_s, arrivals, completions, output_tokens, prefill_tokens, queue,"
             " batch, kv_occupancy, busy_share, ttft_p90_ms, e2e_p90_s, usd_per_hour"
             " FROM serving_series WHERE run_id = ? ORDER BY rowid",
             "serving series", out->series, out->n_series, fill_series);
        LOAD("SELECT fleet, latency, bin_low_s, bin_high_s, count FROM latency_histograms"
             " WHERE run_id = ? ORDER BY rowid",
             "latency histograms", out->latencies, out->n_latencies, fill_latency);
        LOAD("SELECT arrival_s, first_token_s, finish_s, input_tokens, output_tokens,"
             " preemptions FROM serving_requests WHERE run_id = ? ORDER BY request",
             "served requests", out->served, out->n_served, fill_served);
    }
    if (version >= 8)
        LOAD("SELECT model, calibration_id, capacity_req_s, rate_req_s, load_share, requests,"
             " quantity, unit, measured, predicted FROM serving_validation WHERE run_id = ?"
             " ORDER BY rowid",
             "serving validation", out->checks, out->n_checks, fill_check);
    LOAD("SELECT fleet, baseline, metric, ratio FROM comparisons WHERE run_id = ? ORDER BY rowid",
         "comparisons", out->comparisons, out->n_comparisons, fill_comparison);
    long n_sweep = 0;
    if (!code)
        code = load_rows(s, run_id,
                         "SELECT fleet, param, x, param2, y, metric, value FROM sweep_points"
                         " WHERE run_id = ? ORDER BY rowid",
                         "sweep points", (void **)&out->sweep, sizeof *out->sweep, &n_sweep,
                         fill_sweep, err);
    out->n_sweep = n_sweep;
    LOAD("SELECT fleet, input, low_x, high_x, low_value, high_value FROM tornado"
         " WHERE run_id = ? ORDER BY rowid",
         "tornado", out->tornado, out->n_tornado, fill_tornado);
    LOAD("SELECT fleet, metric, bin_low, bin_high, count FROM histograms WHERE run_id = ?"
         " ORDER BY rowid",
         "histograms", out->histograms, out->n_histograms, fill_histogram);
    LOAD(v5 ? "SELECT model, precision, kv_precision, phase, batch, threads, prompt_tokens,"
              " tokens, seconds, seconds_p10, seconds_p90, flops, weight_bytes, kv_bytes,"
              " energy_j, energy_net_j, energy_low_j, energy_high_j, energy_source, mtp_depth,"
              " mtp_accept_forced, mtp_accept_measured, tokens_per_step FROM measurements"
              " WHERE run_id = ? ORDER BY rowid"
            : "SELECT model, precision, 'fp32', phase, batch, threads, prompt_tokens, tokens,"
              " seconds, seconds_p10, seconds_p90, flops, weight_bytes, kv_bytes, energy_j,"
              " energy_net_j, energy_low_j, energy_high_j, energy_source, 0, NULL, NULL, NULL"
              " FROM measurements WHERE run_id = ? ORDER BY rowid",
         "measurements", out->measurements, out->n_measurements, fill_measurement);
    if (version >= 2)
        LOAD("SELECT model, phase, batch, threads, predicted_tok_s, measured_tok_s"
             " FROM validation WHERE run_id = ? ORDER BY rowid",
             "validation", out->validation, out->n_validation, fill_validation);
    if (code)
        store_run_free(out);
    return code;
}

static void free_strings(char **const *fields, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(*fields[i]);
}

void store_run_free(StoredRun *r)
{
    if (!r)
        return;
    for (int i = 0; r->fleets && i < r->n_fleets; i++) {
        StoredFleet *f = &r->fleets[i];
        char **const v[] = {&f->fleet, &f->chip, &f->model, &f->throughput_mode,
                            &f->cost_mode, &f->energy_source, &f->bound};
        free_strings(v, sizeof v / sizeof v[0]);
    }
    for (int i = 0; r->metrics && i < r->n_metrics; i++) {
        StoredMetric *m = &r->metrics[i];
        char **const v[] = {&m->fleet, &m->metric, &m->unit, &m->part};
        free_strings(v, sizeof v / sizeof v[0]);
    }
    for (int i = 0; r->inputs && i < r->n_inputs; i++) {
        StoredInput *m = &r->inputs[i];
        char **const v[] = {&m->fleet, &m->part, &m->key, &m->text, &m->unit, &m->origin};
        free_strings(v, sizeof v / sizeof v[0]);
    }
    for (int i = 0; r->notes && i < r->n_notes; i++) {
        StoredNote *m = &r->notes[i];
        char **const v[] = {&m->kind, &m->fleet, &m->text};
        free_strings(v, sizeof v / sizeof v[0]);
    }
    for (int i = 0; r->sources && i < r->n_sources; i++) {
        StoredSource *m = &r->sources[i];
        char **const v[] = {&m->catalog, &m->row, &m->place, &m->source, &m->as_of,
                            &m->confidence};
        free_strings(v, sizeof v / sizeof v[0]);
    }
    for (int i = 0; r->comparisons && i < r->n_comparisons; i++) {
        StoredComparison *m = &r->comparisons[i];
        char **const v[] = {&m->fleet, &m->baseline, &m->metric};
        free_strings(v, sizeof v / sizeof v[0]);
    }
    for (long i = 0; r->sweep && i < r->n_sweep; i++) {
        StoredSweepPoint *m = &r->sweep[i];
        char **const v[] = {&m->fleet, &m->param, &m->param2, &m->metric};
        free_strings(v, sizeof v / sizeof v[0]);
    }
    for (int i = 0; r->tornado && i < r->n_tornado; i++) {
        StoredTornado *m = &r->tornado[i];
        char **const v[] = {&m->fleet, &m->input};
        free_strings(v, sizeof v / sizeof v[0]);
    }
    for (int i = 0; r->histograms && i < r->n_histograms; i++) {
        StoredHistogram *m = &r->histograms[i];
        char **const v[] = {&m->fleet, &m->metric};
        free_strings(v, sizeof v / sizeof v[0]);
    }
    for (int i = 0; r->measurements && i < r->n_measurements; i++) {
        StoredMeasurement *m = &r->measurements[i];
        char **const v[] = {&m->model, &m->precision, &m->kv_precision, &m->phase,
                            &m->energy_source};
        free_strings(v, sizeof v / sizeof v[0]);
    }
    for (int i = 0; r->validation && i < r->n_validation; i++) {
        StoredValidation *m = &r->validation[i];
        char **const v[] = {&m->model, &m->phase};
        free_strings(v, sizeof v / sizeof v[0]);
    }
    for (int i = 0; r->deployments && i < r->n_deployments; i++) {
        StoredDeployment *m = &r->deployments[i];
        char **const v[] = {&m->fleet, &m->why, &m->bound};
        free_strings(v, sizeof v / sizeof v[0]);
    }
    for (int i = 0; r->series && i < r->n_series; i++)
        free(r->series[i].fleet);
    for (int i = 0; r->latencies && i < r->n_latencies; i++) {
        free(r->latencies[i].fleet);
        free(r->latencies[i].latency);
    }
    char **const top[] = {&r->kind,        &r->name,    &r->status,  &r->started_at,
                          &r->finished_at, &r->version, &r->machine, &r->out_dir};
    free_strings(top, sizeof top / sizeof top[0]);
    free(r->fleets);
    free(r->metrics);
    free(r->inputs);
    free(r->notes);
    free(r->sources);
    free(r->comparisons);
    free(r->sweep);
    free(r->tornado);
    free(r->histograms);
    free(r->measurements);
    free(r->validation);
    free(r->deployments);
    free(r->series);
    free(r->latencies);
    for (int i = 0; r->checks && i < r->n_checks; i++) {
        char **const v[] = {&r->checks[i].model, &r->checks[i].quantity, &r->checks[i].unit};
        free_strings(v, sizeof v / sizeof v[0]);
    }
    free(r->served);
    free(r->checks);
    memset(r, 0, sizeof *r);
}

const StoredMetric *store_run_metric(const StoredRun *r, const char *fleet, const char *metric)
{
    for (int i = 0; i < r->n_metrics; i++)
        if (strcmp(r->metrics[i].fleet, fleet) == 0 && strcmp(r->metrics[i].metric, metric) == 0)
            return &r->metrics[i];
    return NULL;
}

double store_run_metric_num(const StoredRun *r, const char *fleet, const char *metric)
{
    const StoredMetric *m = store_run_metric(r, fleet, metric);
    return m && m->has_value ? m->value : NAN;
}

double store_run_input_num(const StoredRun *r, const char *fleet, const char *part,
                           const char *key)
{
    const StoredInput *in = store_run_input(r, fleet, part, key);
    return in && in->has_value ? in->value : NAN;
}

const StoredNote *store_run_note(const StoredRun *r, const char *kind, const char *fleet)
{
    for (int i = 0; i < r->n_notes; i++)
        if (strcmp(r->notes[i].kind, kind) == 0 && strcmp(r->notes[i].fleet, fleet) == 0)
            return &r->notes[i];
    return NULL;
}

const StoredInput *store_run_input(const StoredRun *r, const char *fleet, const char *part,
                                   const char *key)
{
    for (int i = 0; i < r->n_inputs; i++)
        if (strcmp(r->inputs[i].fleet, fleet) == 0 && strcmp(r->inputs[i].part, part) == 0 &&
            strcmp(r->inputs[i].key, key) == 0)
            return &r->inputs[i];
    return NULL;
}
