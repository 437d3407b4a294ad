/* realtime: the loop adds every request whose arrival the clock has passed, plans, runs,
 * commits at the step's end, and appends the end time to the token list of every item that
 * emitted. A wall-clock run that is idle sleeps until the next arrival (nanosleep); a virtual
 * one jumps there. Requests that the scheduler refuses (they could never fit) fail the run. */
#include "sim/serve/realtime.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double mono_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void sleep_s(double s)
{
    if (s <= 0)
        return;
    struct timespec t = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    while (nanosleep(&t, &t) != 0 && errno == EINTR)
        ;
}

void rt_log_free(RtLog *log)
{
    if (!log)
        return;
    for (int i = 0; i < log->n && log->req; i++)
        free(log->req[i].token_s);
    free(log->req);
    memset(log, 0, sizeof *log);
}

static int record(RtLog *log, const StepItem *items, int32_t n, double end_s)
{
    for (int32_t k = 0; k < n; k++) {
        if (!items[k].emits)
            continue;
        RtRequest *r = &log->req[items[k].id];
        if (r->n_tokens < r->output_tokens)
            r->token_s[r->n_tokens++] = end_s;
    }
    return 0;
}

int rt_run(Sched *s, const StepBackend *b, ServeRequest *reqs, int n, int virtual_clock,
           RtLog *out, TsErr *err)
{
    memset(out, 0, sizeof *out);
    out->req = calloc((size_t)(n > 0 ? n : 1), sizeof *out->req);
    if (!out->req)
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    out->n = n;
    for (int i = 0; i < n; i++) {
        reqs[i].id = i;
        RtRequest *r = &out->req[i];
        r->arrival_s = reqs[i].arrival_s;
        r->input_tokens = reqs[i].input_tokens;
        r->output_tokens = reqs[i].output_tokens;
        r->first_token_s = r->finish_s = NAN;
        r->token_s = malloc(sizeof(double) * (size_t)(reqs[i].output_tokens > 0
                                                          ? reqs[i].output_tokens : 1));
        if (!r->token_s) {
            rt_log_free(out);
            return ts_err_set(err, TS_ENOMEM, "out of memory");
        }
    }
    double t0 = mono_s(), now = 0;
    int next = 0, finished = 0;
    while (finished < n) {
        if (!virtual_clock)
            now = mono_s() - t0;
        for (; next < n && reqs[next].arrival_s <= now; next++)
            if (sched_add(s, &reqs[next], err))
                return err->code;
        StepBatch batch;
        int k = sched_plan(s, &batch, err);
        if (k < 0)
            return k;
        if (k == 0) {
            if (next >= n)
                return ts_err_set(err, TS_EINPUT, "%d requests are stuck: nothing can run",
                                  n - finished);
            if (virtual_clock)
                now = reqs[next].arrival_s;
            else
                sleep_s(reqs[next].arrival_s - (mono_s() - t0));
            continue;
        }
        double step_s = 0;
        if (b->step_s(b->ctx, &batch, &step_s, err))
            return err->code;
        double end = virtual_clock ? now + step_s : mono_s() - t0;
        record(out, batch.decode, batch.n_decode, end);
        record(out, batch.prefill, batch.n_prefill, end);
        sched_commit(s, step_s, end);
        out->steps++;
        out->busy_s += step_s;
        now = end;
        int nd;
        const SchedDone *d = sched_done(s, &nd);
        for (int i = 0; i < nd; i++) {
            RtRequest *r = &out->req[d[i].req.id];
            r->first_token_s = d[i].first_token_s;
            r->finish_s = d[i].finish_s;
            r->preemptions = d[i].preemptions;
            out->span_s = end > out->span_s ? end : out->span_s;
            finished++;
        }
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static RtPct pct(double *v, long n)
{
    RtPct p = {0, 0, 0, 0};
    if (n <= 0)
        return p;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    double q[3] = {0.5, 0.9, 0.99}, *dst[3] = {&p.p50, &p.p90, &p.p99};
    for (int i = 0; i < 3; i++) {
        double pos = q[i] * (double)(n - 1);
        long lo = (long)pos, hi = lo + 1 < n ? lo + 1 : lo;
        *dst[i] = v[lo] + (pos - (double)lo) * (v[hi] - v[lo]);
    }
    double sum = 0;
    for (long i = 0; i < n; i++)
        sum += v[i];
    p.mean = sum / (double)n;
    return p;
}

int rt_summary(const RtLog *log, RtSummary *out, TsErr *err)
{
    memset(out, 0, sizeof *out);
    long gaps = 0;
    for (int i = 0; i < log->n; i++)
        gaps += log->req[i].n_tokens > 1 ? log->req[i].n_tokens - 1 : 0;
    double *a = malloc(sizeof(double) * (size_t)(log->n + 1));
    double *g = malloc(sizeof(double) * (size_t)(gaps + 1));
    if (!a || !g) {
        free(a);
        free(g);
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    }
    long m = 0, k = 0;
    for (int i = 0; i < log->n; i++) {
        const RtRequest *r = &log->req[i];
        if (isnan(r->finish_s))
            continue;
        out->finished++;
        out->output_tokens += r->n_tokens;
        a[m++] = r->first_token_s - r->arrival_s;
        for (int32_t t = 1; t < r->n_tokens; t++)
            g[k++] = r->token_s[t] - r->token_s[t - 1];
    }
    out->ttft_s = pct(a, m);
    out->itl_s = pct(g, k);
    m = 0;
    for (int i = 0; i < log->n; i++) {
        const RtRequest *r = &log->req[i];
        if (!isnan(r->finish_s) && r->n_tokens > 1)
            a[m++] = (r->finish_s - r->first_token_s) / (r->n_tokens - 1);
    }
    out->tpot_s = pct(a, m);
    m = 0;
    for (int i = 0; i < log->n; i++)
        if (!isnan(log->req[i].finish_s))
            a[m++] = log->req[i].finish_s - log->req[i].arrival_s;
    out->e2e_s = pct(a, m);
    if (log->span_s > 0) {
        out->throughput_tok_s = (double)out->output_tokens / log->span_s;
        out->requests_per_s = out->finished / log->span_s;
    }
    free(a);
    free(g);
    return 0;
}
