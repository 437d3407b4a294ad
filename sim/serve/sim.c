/* sim: one loop over three event sources in time order: the traffic stream's next arrival, a
 * heap of delayed arrivals (sessions' next turns, KV transfers to the decode pool), and a heap of
 * busy replicas keyed by their step's end. An arrival is routed and queued (a step starts at once
 * on an idle replica); a step end commits the step, handles finished requests and plans the next
 * step. Queue, batch, KV and busy time are integrated per replica between its events, into
 * totals and the interval series. Percentiles are exact (sorted per-request values) except
 * inter-token latency, read from the schedulers' fine histograms. */
#include "sim/serve/sim.h"

#include "sim/serve/heap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- the simulation state ---------------------------------------------------------------------
 */

typedef struct {
    Sched *s;
    int pool; /* 0: unified or decode, 1: prefill */
    int busy;
    double end_s, step_s;
    int32_t batch; /* sequences in the running step */
    double last_t; /* integrals are complete up to here */
} Replica;

typedef struct {
    double queue, batch, kv, busy; /* integrals over time */
    double output_tokens, prefill_tokens;
    long arrivals, completions;
} Bin;

typedef struct {
    Replica *rep; /* decode/unified pool first (n_rep[0]), then the prefill pool */
    int n_rep[2], first[2];
    IHeap busy;           /* replicas with a step in flight, by end time */
    IHeap load[2];        /* least outstanding routing: outstanding requests per replica */
    long rr[2];           /* round-robin counters */
    int32_t *affinity[2]; /* session -> replica index within its pool, -1: none yet */
    long cap_aff[2];
    PHeap pending;
    TrafficGen *gen;
    const ServeConfig *c;
    ServeResult *out;
    long cap_req;
    Bin *bins;
    long n_bins, cap_bins;
    double tot_queue, tot_batch, tot_kv, tot_busy, tot_tokens_s;
    double total_blocks;
    long steps;
} Sim;

static int pool_of_entry(const Sim *m)
{
    return m->n_rep[1] > 0 ? 1 : 0;
}

static Bin *bin_at(Sim *m, long i)
{
    if (i >= m->cap_bins) {
        long cap = m->cap_bins ? m->cap_bins : 64;
        while (cap <= i)
            cap *= 2;
        Bin *b = realloc(m->bins, (size_t)cap * sizeof *b);
        if (!b)
            return NULL;
        memset(b + m->cap_bins, 0, (size_t)(cap - m->cap_bins) * sizeof *b);
        m->bins = b;
        m->cap_bins = cap;
    }
    if (i >= m->n_bins)
        m->n_bins = i + 1;
    return &m->bins[i];
}

/* Integrates replica r's state from its last event to t. */
static int integrate(Sim *m, Replica *r, double t)
{
    double dt = t - r->last_t;
    if (!(dt > 0))
        return 0;
    double q = sched_waiting(r->s), b = r->busy ? r->batch : 0, busy = r->busy ? 1 : 0;
    double kv = sched_kv(r->s)->n_used;
    m->tot_queue += q * dt;
    m->tot_batch += b * dt;
    m->tot_kv += kv * dt;
    m->tot_busy += busy * dt;
    double iv = m->c->interval_s;
    if (iv > 0) {
        double a = r->last_t;
        while (a < t) {
            long i = (long)(a / iv);
            double e = (double)(i + 1) * iv;
            double end = e < t ? e : t;
            Bin *bn = bin_at(m, i);
            if (!bn)
                return -1;
            double d = end - a;
            bn->queue += q * d;
            bn->batch += b * d;
            bn->kv += kv * d;
            bn->busy += busy * d;
            a = end;
        }
    }
    r->last_t = t;
    return 0;
}

static int count_event(Sim *m, double t, int arrival)
{
    if (m->c->interval_s <= 0)
        return 0;
    Bin *b = bin_at(m, (long)(t / m->c->interval_s));
    if (!b)
        return -1;
    if (arrival)
        b->arrivals++;
    else
        b->completions++;
    return 0;
}

static int start_step(Sim *m, int ri, double t, TsErr *err)
{
    Replica *r = &m->rep[ri];
    StepBatch b;
    int n = sched_plan(r->s, &b, err);
    if (n < 0)
        return n;
    r->busy = n > 0;
    if (n == 0)
        return 0;
    const StepBackend *be =
        r->pool == 1 && m->c->prefill_backend.step_s ? &m->c->prefill_backend : &m->c->backend;
    double dur = 0;
    int rc = be->step_s(be->ctx, &b, &dur, err);
    if (rc)
        return rc;
    if (!(dur > 0) || !isfinite(dur))
        return ts_err_set(err, TS_EINTERNAL, "a step-time backend returned %g s", dur);
    if (++m->steps > SERVE_MAX_STEPS)
        return ts_err_set(err, TS_EINPUT,
                          "the simulation passed %ld steps (an overloaded queue "
                          "draining?): fewer requests, more replicas or a lower rate",
                          SERVE_MAX_STEPS);
    r->batch = n;
    r->step_s = dur;
    r->end_s = t + dur;
    ih_set(&m->busy, ri, r->end_s);
    return 0;
}

static int32_t *affinity_slot(Sim *m, int pool, int64_t session)
{
    if (session >= m->cap_aff[pool]) {
        long cap = m->cap_aff[pool] ? m->cap_aff[pool] : 1024;
        while (cap <= session)
            cap *= 2;
        int32_t *a = realloc(m->affinity[pool], (size_t)cap * sizeof *a);
        if (!a)
            return NULL;
        for (long i = m->cap_aff[pool]; i < cap; i++)
            a[i] = -1;
        m->affinity[pool] = a;
        m->cap_aff[pool] = cap;
    }
    return &m->affinity[pool][session];
}

static int route(Sim *m, int pool, const ServeRequest *q, int *ri)
{
    int32_t *aff = NULL;
    if (q->session >= 0) {
        aff = affinity_slot(m, pool, q->session);
        if (!aff)
            return -1;
        if (*aff >= 0) {
            *ri = m->first[pool] + *aff;
            return 0;
        }
    }
    int k;
    if (m->c->route == ROUTE_LEAST_OUTSTANDING)
        k = m->load[pool].heap[0];
    else
        k = (int)(m->rr[pool]++ % m->n_rep[pool]);
    if (aff)
        *aff = k;
    *ri = m->first[pool] + k;
    return 0;
}

static void load_change(Sim *m, int ri, int delta)
{
    int pool = m->rep[ri].pool, k = ri - m->first[pool];
    if (m->c->route == ROUTE_LEAST_OUTSTANDING)
        ih_set(&m->load[pool], k, m->load[pool].key[k] + delta);
}

static int deliver(Sim *m, const ServeRequest *q, int pool, TsErr *err)
{
    double t = q->arrival_s;
    if (q->kv_ready_tokens == 0 && q->generated_tokens == 0) {
        /* a new request: record it */
        if (q->id >= SERVE_MAX_REQUESTS)
            return ts_err_set(err, TS_EINPUT, "more than %ld requests", SERVE_MAX_REQUESTS);
        if (q->id >= m->cap_req) {
            long cap = m->cap_req ? m->cap_req : 4096;
            while (cap <= q->id)
                cap *= 2;
            ServeRecord *a = realloc(m->out->req, (size_t)cap * sizeof *a);
            if (!a)
                return ts_err_set(err, TS_ENOMEM, "out of memory for request records");
            m->out->req = a;
            m->cap_req = cap;
        }
        ServeRecord *rec = &m->out->req[q->id];
        memset(rec, 0, sizeof *rec);
        rec->arrival_s = t;
        rec->first_token_s = -1;
        rec->input_tokens = q->input_tokens;
        rec->output_tokens = q->output_tokens;
        if (q->id >= m->out->n_req)
            m->out->n_req = q->id + 1;
        if (count_event(m, t, 1))
            return ts_err_set(err, TS_ENOMEM, "out of memory for the series");
    }
    ServeRequest sq = *q;
    if (pool == 1)
        sq.output_tokens = 1; /* the prefill pool computes the prompt and the first token */
    int ri;
    if (route(m, pool, q, &ri))
        return ts_err_set(err, TS_ENOMEM, "out of memory routing");
    Replica *r = &m->rep[ri];
    if (integrate(m, r, t))
        return ts_err_set(err, TS_ENOMEM, "out of memory for the series");
    int rc = sched_add(r->s, &sq, err);
    if (rc)
        return rc;
    load_change(m, ri, +1);
    return r->busy ? 0 : start_step(m, ri, t, err);
}

static int finished(Sim *m, int ri, const SchedDone *d, double t, TsErr *err)
{
    Replica *r = &m->rep[ri];
    ServeRecord *rec = &m->out->req[d->req.id];
    load_change(m, ri, -1);
    if (rec->first_token_s < 0)
        rec->first_token_s = d->first_token_s;
    if (r->pool == 1) {
        rec->cached_tokens = d->cached_tokens;
        rec->preemptions = d->preemptions;
        if (rec->output_tokens > 1) {
            Pending p = {.req = d->req, .pool = 0};
            p.req.output_tokens = rec->output_tokens;
            p.req.kv_ready_tokens = d->req.input_tokens;
            p.req.generated_tokens = 1;
            p.req.first_token_s = d->first_token_s;
            p.req.arrival_s =
                t + d->req.input_tokens * m->c->kv_bytes_per_token / (m->c->kv_transfer_gb_s * 1e9);
            return ph_push(&m->pending, &p) ? ts_err_set(err, TS_ENOMEM, "out of memory") : 0;
        }
    } else if (m->n_rep[1] == 0) {
        rec->cached_tokens = d->cached_tokens;
        rec->preemptions = d->preemptions;
    } else {
        rec->preemptions += d->preemptions;
    }
    rec->finish_s = t;
    if (count_event(m, t, 0))
        return ts_err_set(err, TS_ENOMEM, "out of memory for the series");
    ServeRequest orig = d->req;
    orig.output_tokens = rec->output_tokens;
    Pending p = {.pool = pool_of_entry(m)};
    if (traffic_follow(m->gen, &orig, t, &p.req) && ph_push(&m->pending, &p))
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    return 0;
}

static int step_end(Sim *m, int ri, TsErr *err)
{
    Replica *r = &m->rep[ri];
    double t = r->end_s;
    if (integrate(m, r, t))
        return ts_err_set(err, TS_ENOMEM, "out of memory for the series");
    const SchedStats *st = sched_stats(r->s);
    long emitted = st->emitted_tokens, prefilled = st->prefill_tokens;
    sched_commit(r->s, r->step_s, t);
    r->busy = 0;
    if (m->c->interval_s > 0) {
        Bin *bn = bin_at(m, (long)(t / m->c->interval_s));
        if (!bn)
            return ts_err_set(err, TS_ENOMEM, "out of memory for the series");
        bn->output_tokens += (double)(st->emitted_tokens - emitted);
        bn->prefill_tokens += (double)(st->prefill_tokens - prefilled);
    }
    int n;
    const SchedDone *d = sched_done(r->s, &n);
    for (int i = 0; i < n; i++) {
        int rc = finished(m, ri, &d[i], t, err);
        if (rc)
            return rc;
    }
    return start_step(m, ri, t, err);
}

/* ---- checks ------------------------------------------------------------------------------------
 */

int serve_check(const ServeConfig *c, const TrafficSpec *t, TsErr *err)
{
    if (c->replicas < 1 || c->replicas > SERVE_MAX_REPLICAS || c->prefill_replicas < 0 ||
        c->prefill_replicas > SERVE_MAX_REPLICAS)
        return ts_err_set(err, TS_EINPUT, "replicas must be 1 to %d (a prefill pool 0 to %d)",
                          SERVE_MAX_REPLICAS, SERVE_MAX_REPLICAS);
    if (c->route != ROUTE_ROUND_ROBIN && c->route != ROUTE_LEAST_OUTSTANDING)
        return ts_err_set(err, TS_EINPUT, "unknown router");
    if (!c->backend.step_s)
        return ts_err_set(err, TS_EINPUT, "no step-time backend");
    int rc = sched_config_check(&c->sched, err);
    if (rc)
        return ts_err_prefix(err, "scheduler: ");
    if (c->prefill_replicas > 0) {
        if ((rc = sched_config_check(&c->prefill_sched, err)) != 0)
            return ts_err_prefix(err, "prefill scheduler: ");
        if (!(c->kv_transfer_gb_s > 0) || !(c->kv_bytes_per_token >= 0))
            return ts_err_set(err, TS_EINPUT,
                              "a disaggregated pool needs kv_transfer_gb_s > 0 "
                              "and kv_bytes_per_token >= 0");
    }
    if (!(c->ttft_slo_s >= 0) || !(c->tpot_slo_s >= 0))
        return ts_err_set(err, TS_EINPUT, "SLOs must be >= 0 seconds");
    if (!(c->slo_percentile > 0 && c->slo_percentile < 1))
        return ts_err_set(err, TS_EINPUT, "slo_percentile must be in (0, 1)");
    if (!(c->interval_s >= 0))
        return ts_err_set(err, TS_EINPUT, "interval_s must be >= 0");
    if ((rc = traffic_check(t, err)) != 0)
        return rc;
    if (t->arrivals != TRAFFIC_TRACE) {
        double n = traffic_expected_requests(t);
        if (n > (double)SERVE_MAX_REQUESTS)
            return ts_err_set(err, TS_EINPUT,
                              "about %.3g requests: more than the %ld one "
                              "simulation takes (lower the rate or the duration)",
                              n, SERVE_MAX_REQUESTS);
        double rs = (double)(c->replicas + c->prefill_replicas) * t->duration_s;
        if (rs > SERVE_MAX_REPLICA_S)
            return ts_err_set(err, TS_EINPUT,
                              "%.3g replica-seconds: more than the %.3g one "
                              "simulation takes (30 replica-days)",
                              rs, SERVE_MAX_REPLICA_S);
        if (c->interval_s > 0 && t->duration_s / c->interval_s > 1e6)
            return ts_err_set(err, TS_EINPUT, "more than 10^6 series intervals");
    }
    return 0;
}

/* ---- results -----------------------------------------------------------------------------------
 */

/* Moves the k-th smallest of v[lo, hi] to v[k], smaller ones before it and larger ones after
 * (quickselect, Hoare partition around a median of three): O(n) expected. */
static void select_k(double *v, long lo, long hi, long k)
{
    while (hi > lo) {
        long mid = lo + (hi - lo) / 2;
        double a = v[lo], b = v[mid], c = v[hi];
        double pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        long i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                double t = v[i];
                v[i++] = v[j];
                v[j--] = t;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return;
    }
}

/* The p-quantiles (ascending ps) of v (n > 0), linear between order statistics (as numpy's
 * default), without sorting: each order statistic by selection right of the previous one. */
static void quantiles(double *v, long n, const double *ps, double *out, int np)
{
    long from = 0;
    for (int q = 0; q < np; q++) {
        double h = ps[q] * (double)(n - 1);
        long i = (long)h;
        if (i >= n - 1)
            i = n - 1;
        select_k(v, from, n - 1, i);
        double x = v[i];
        if (i < n - 1 && h > (double)i) {
            double next = v[i + 1]; /* the smallest right of i */
            for (long j = i + 2; j < n; j++)
                if (v[j] < next)
                    next = v[j];
            x += (h - (double)i) * (next - x);
        }
        out[q] = x;
        from = i;
    }
}

static void pct_of(double *v, long n, double p_slo, ServePct *o)
{
    memset(o, 0, sizeof *o);
    if (n <= 0)
        return;
    double sum = 0;
    for (long i = 0; i < n; i++)
        sum += v[i];
    o->mean = sum / (double)n;
    double ps[4] = {0.5, 0.9, 0.99, p_slo}, got[4];
    /* the SLO percentile joins the three fixed ones in ascending order */
    int at = 3;
    while (at > 0 && ps[at - 1] > p_slo) {
        ps[at] = ps[at - 1];
        at--;
    }
    ps[at] = p_slo;
    quantiles(v, n, ps, got, 4);
    double fixed[3];
    for (int q = 0, k = 0; q < 4; q++)
        if (q != at)
            fixed[k++] = got[q];
    o->p50 = fixed[0];
    o->p90 = fixed[1];
    o->p99 = fixed[2];
    o->at_slo = got[at];
}

static double tpot_of(const ServeRecord *r)
{
    return r->output_tokens > 1 ? (r->finish_s - r->first_token_s) / (r->output_tokens - 1) : 0;
}

static int series(Sim *m, TsErr *err)
{
    ServeResult *o = m->out;
    const ServeConfig *c = m->c;
    long nb = m->n_bins;
    o->series = calloc((size_t)(nb > 0 ? nb : 1), sizeof *o->series);
    long *start = calloc((size_t)nb + 2, sizeof *start);
    long *idx = malloc((size_t)(o->n_req > 0 ? o->n_req : 1) * sizeof *idx);
    double *v = malloc((size_t)(o->n_req > 0 ? o->n_req : 1) * sizeof *v);
    int rc = 0;
    if (!o->series || !start || !idx || !v) {
        rc = ts_err_set(err, TS_ENOMEM, "out of memory for the series");
        goto out;
    }
    /* requests by the interval they completed in (a counting sort) */
    for (long i = 0; i < o->n_req; i++) {
        long b = (long)(o->req[i].finish_s / c->interval_s);
        start[(b < nb ? b : nb - 1) + 1]++;
    }
    for (long b = 0; b < nb; b++)
        start[b + 1] += start[b];
    for (long i = 0; i < o->n_req; i++) {
        long b = (long)(o->req[i].finish_s / c->interval_s);
        idx[start[b < nb ? b : nb - 1]++] = i;
    }
    for (long b = nb; b > 0; b--)
        start[b] = start[b - 1];
    start[0] = 0;
    double blocks_total = m->total_blocks, p90 = 0.9;
    int reps = m->n_rep[0] + m->n_rep[1];
    for (long b = 0; b < nb; b++) {
        ServeInterval *s = &o->series[b];
        const Bin *bn = &m->bins[b];
        s->start_s = (double)b * c->interval_s;
        s->arrivals = bn->arrivals;
        s->completions = bn->completions;
        s->output_tokens = bn->output_tokens;
        s->prefill_tokens = bn->prefill_tokens;
        s->queue = bn->queue / c->interval_s;
        s->batch = bn->busy > 0 ? bn->batch / bn->busy : 0;
        s->kv_occupancy = bn->kv / (c->interval_s * blocks_total);
        s->busy_share = bn->busy / (c->interval_s * reps);
        long lo = start[b], hi = start[b + 1], k = hi - lo;
        if (k > 0) {
            for (long j = 0; j < k; j++) {
                const ServeRecord *r = &o->req[idx[lo + j]];
                v[j] = r->first_token_s - r->arrival_s;
            }
            quantiles(v, k, &p90, &s->ttft_p90_s, 1);
            for (long j = 0; j < k; j++) {
                const ServeRecord *r = &o->req[idx[lo + j]];
                v[j] = r->finish_s - r->arrival_s;
            }
            quantiles(v, k, &p90, &s->e2e_p90_s, 1);
        }
    }
    o->n_series = (int)nb;
out:
    free(start);
    free(idx);
    free(v);
    return rc;
}

static int summarize(Sim *m, double span_s, TsErr *err)
{
    ServeResult *o = m->out;
    ServeSummary *s = &o->sum;
    const ServeConfig *c = m->c;
    long n = o->n_req;
    s->requests = n;
    s->replicas = m->n_rep[0];
    s->prefill_replicas = m->n_rep[1];
    s->span_s = span_s;
    double *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    if (!v)
        return ts_err_set(err, TS_ENOMEM, "out of memory for percentiles");
    long good = 0, k = 0;
    for (long i = 0; i < n; i++) {
        const ServeRecord *r = &o->req[i];
        double ttft = r->first_token_s - r->arrival_s, tpot = tpot_of(r);
        s->input_tokens += r->input_tokens;
        s->output_tokens += r->output_tokens;
        good += (c->ttft_slo_s <= 0 || ttft <= c->ttft_slo_s) &&
                (c->tpot_slo_s <= 0 || tpot <= c->tpot_slo_s);
        hist_add(&o->ttft, ttft, 1);
        hist_add(&o->e2e, r->finish_s - r->arrival_s, 1);
        if (r->output_tokens > 1)
            hist_add(&o->tpot, tpot, 1);
    }
    for (long i = 0; i < n; i++)
        v[i] = o->req[i].first_token_s - o->req[i].arrival_s;
    pct_of(v, n, c->slo_percentile, &s->ttft_s);
    for (long i = 0; i < n; i++)
        v[i] = o->req[i].finish_s - o->req[i].arrival_s;
    pct_of(v, n, c->slo_percentile, &s->e2e_s);
    for (long i = 0; i < n; i++)
        if (o->req[i].output_tokens > 1)
            v[k++] = tpot_of(&o->req[i]);
    pct_of(v, k, c->slo_percentile, &s->tpot_s);
    free(v);
    /* inter-token latency from the schedulers' histograms */
    double itl_sum = 0, itl_n = 0, prompt = 0, cached = 0;
    int reps = m->n_rep[0] + m->n_rep[1];
    for (int i = 0; i < reps; i++) {
        const SchedStats *st = sched_stats(m->rep[i].s);
        hist_merge(&o->itl, &st->itl);
        s->preemptions += st->preemptions;
        prompt += (double)st->prompt_tokens;
        cached += (double)st->cached_tokens;
        s->steps += st->steps;
        m->tot_tokens_s += st->token_s;
    }
    for (long i = 0; i < n; i++)
        if (o->req[i].output_tokens > 1) {
            itl_sum += o->req[i].finish_s - o->req[i].first_token_s;
            itl_n += o->req[i].output_tokens - 1;
        }
    s->itl_s.mean = itl_n > 0 ? itl_sum / itl_n : 0;
    s->itl_s.p50 = hist_quantile(&o->itl, 0.5);
    s->itl_s.p90 = hist_quantile(&o->itl, 0.9);
    s->itl_s.p99 = hist_quantile(&o->itl, 0.99);
    s->itl_s.at_slo = hist_quantile(&o->itl, c->slo_percentile);
    s->throughput_req_s = n / span_s;
    s->input_tok_s = s->input_tokens / span_s;
    s->output_tok_s = s->output_tokens / span_s;
    s->goodput_req_s = good / span_s;
    s->slo_attainment = n > 0 ? (double)good / (double)n : 0;
    s->meets_slo = (c->ttft_slo_s <= 0 || s->ttft_s.at_slo <= c->ttft_slo_s) &&
                   (c->tpot_slo_s <= 0 || s->tpot_s.at_slo <= c->tpot_slo_s);
    s->busy_share = m->tot_busy / (reps * span_s);
    s->mean_batch = m->tot_busy > 0 ? m->tot_batch / m->tot_busy : 0;
    s->mean_step_tokens = m->tot_busy > 0 ? m->tot_tokens_s / m->tot_busy : 0;
    s->kv_occupancy = m->tot_kv / (m->total_blocks * span_s);
    s->mean_queue = m->tot_queue / span_s;
    s->prefix_hit_rate = prompt > 0 ? cached / prompt : 0;
    return c->interval_s > 0 ? series(m, err) : 0;
}

/* ---- the run -----------------------------------------------------------------------------------
 */

static void sim_fini(Sim *m)
{
    int reps = m->n_rep[0] + m->n_rep[1];
    for (int i = 0; i < reps && m->rep; i++)
        sched_free(m->rep[i].s);
    free(m->rep);
    ih_fini(&m->busy);
    ih_fini(&m->load[0]);
    ih_fini(&m->load[1]);
    free(m->affinity[0]);
    free(m->affinity[1]);
    free(m->pending.a);
    free(m->bins);
    traffic_free(m->gen);
}

static int sim_init(Sim *m, const ServeConfig *c, const TrafficSpec *t, ServeResult *out,
                    TsErr *err)
{
    memset(m, 0, sizeof *m);
    m->c = c;
    m->out = out;
    m->n_rep[0] = c->replicas;
    m->n_rep[1] = c->prefill_replicas;
    m->first[0] = 0;
    m->first[1] = c->replicas;
    int reps = c->replicas + c->prefill_replicas;
    m->rep = calloc((size_t)reps, sizeof *m->rep);
    if (!m->rep || ih_init(&m->busy, reps) || ih_init(&m->load[0], c->replicas) ||
        ih_init(&m->load[1], c->prefill_replicas > 0 ? c->prefill_replicas : 1))
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    for (int i = 0; i < reps; i++) {
        Replica *r = &m->rep[i];
        r->pool = i < c->replicas ? 0 : 1;
        const SchedConfig *sc = r->pool ? &c->prefill_sched : &c->sched;
        int rc = sched_new(sc, &r->s, err);
        if (rc)
            return rc;
        m->total_blocks += sc->kv_blocks;
        if (c->route == ROUTE_LEAST_OUTSTANDING)
            ih_set(&m->load[r->pool], i - m->first[r->pool], 0);
    }
    int rc;
    if ((rc = hist_init(&out->ttft, 1e-6, 1e6, 20, err)) != 0 ||
        (rc = hist_init(&out->tpot, 1e-6, 1e6, 20, err)) != 0 ||
        (rc = hist_init(&out->e2e, 1e-6, 1e6, 20, err)) != 0 ||
        (rc = hist_init(&out->itl, 1e-6, 1e6, 200, err)) != 0)
        return rc;
    return traffic_new(t, &m->gen, err);
}

static int run_loop(Sim *m, TsErr *err)
{
    ServeRequest next;
    int have = traffic_next(m->gen, &next);
    int entry = pool_of_entry(m);
    for (;;) {
        double t_open = have ? next.arrival_s : HUGE_VAL;
        double t_pend = m->pending.n > 0 ? m->pending.a[0].req.arrival_s : HUGE_VAL;
        double t_step = m->busy.n > 0 ? m->busy.key[m->busy.heap[0]] : HUGE_VAL;
        double t_arr = t_open < t_pend ? t_open : t_pend;
        if (t_arr == HUGE_VAL && t_step == HUGE_VAL)
            return 0;
        int rc;
        if (t_arr <= t_step) {
            if (t_pend <= t_open) {
                Pending p;
                ph_pop(&m->pending, &p);
                rc = deliver(m, &p.req, p.pool, err);
            } else {
                rc = deliver(m, &next, entry, err);
                have = traffic_next(m->gen, &next);
            }
        } else {
            rc = step_end(m, ih_pop(&m->busy), err);
        }
        if (rc)
            return rc;
    }
}

void serve_result_fini(ServeResult *r)
{
    if (!r)
        return;
    free(r->req);
    free(r->series);
    hist_fini(&r->ttft);
    hist_fini(&r->tpot);
    hist_fini(&r->itl);
    hist_fini(&r->e2e);
    memset(r, 0, sizeof *r);
}

int serve_run(const ServeConfig *c, const TrafficSpec *t, ServeResult *out, TsErr *err)
{
    memset(out, 0, sizeof *out);
    int rc = serve_check(c, t, err);
    if (rc)
        return rc;
    Sim m;
    rc = sim_init(&m, c, t, out, err);
    if (!rc)
        rc = run_loop(&m, err);
    if (!rc) {
        double span = traffic_horizon_s(m.gen), last = 0;
        int reps = m.n_rep[0] + m.n_rep[1];
        for (int i = 0; i < reps; i++)
            if (m.rep[i].last_t > last)
                last = m.rep[i].last_t;
        for (long i = 0; i < out->n_req; i++)
            if (out->req[i].finish_s > last)
                last = out->req[i].finish_s;
        if (last > span)
            span = last;
        if (!(span > 0))
            span = 1e-9;
        for (int i = 0; i < reps && !rc; i++)
            if (integrate(&m, &m.rep[i], span))
                rc = ts_err_set(err, TS_ENOMEM, "out of memory for the series");
        if (!rc)
            rc = summarize(&m, span, err);
    }
    sim_fini(&m);
    return rc;
}
