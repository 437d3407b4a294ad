/* harness: builds a pool and an engine for the plan, feeds deterministic token streams
 * (derived from the position and sequence, so every repeat does the same work), and times each
 * phase with CLOCK_MONOTONIC; CPU time from getrusage. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "kernels.h"

#define HX_MAX_REPEATS 1000

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double cpu_s(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec * 1e-6 +
           (double)u.ru_stime.tv_sec + (double)u.ru_stime.tv_usec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median and p10/p90 by linear interpolation between order statistics. */
static HxTimes summarise(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    double q[3] = {0.5, 0.1, 0.9}, r[3];
    for (int i = 0; i < 3; i++) {
        double pos = q[i] * (n - 1);
        int lo = (int)pos;
        int hi = lo + 1 < n ? lo + 1 : lo;
        r[i] = v[lo] + (pos - lo) * (v[hi] - v[lo]);
    }
    return (HxTimes){r[0], r[1], r[2]};
}

static int token_at(int seq, int pos, int vocab)
{
    unsigned h = (unsigned)(pos * 2654435761u) ^ (unsigned)(seq * 40503u + 17u);
    return (int)(h % (unsigned)vocab);
}

/* Adds the energy since mark to acc (when metering). */
static int meter_add(Meter *m, const MeterMark *mark, MeterEnergy *acc, TsErr *err)
{
    if (!m)
        return 0;
    MeterEnergy e;
    if (meter_since(m, mark, &e, err))
        return err->code;
    acc->joules += e.joules;
    acc->low_j += e.low_j;
    acc->high_j += e.high_j;
    acc->seconds += e.seconds;
    acc->cpu_seconds += e.cpu_seconds;
    return 0;
}

/* One repeat: prefill each sequence, then decode all together; each phase timed and, with a
 * meter, metered into pe / de. */
static int run_once(Engine *e, const EngineConfig *c, const HxPlan *p, FwdRow *rows,
                    float *logits, double *t_prefill, double *t_decode, MeterEnergy *pe,
                    MeterEnergy *de, TsErr *err)
{
    int V = (int)c->shape.vocab;
    MeterMark mark;
    if (p->meter && meter_mark(p->meter, &mark, err))
        return err->code;
    double t0 = now_s();
    for (int s = 0; s < p->batch; s++) {
        for (int i = 0; i < p->prompt_tokens; i++)
            rows[i] = (FwdRow){s, i, token_at(s, i, V), i == p->prompt_tokens - 1};
        if (eng_step(e, rows, p->prompt_tokens, logits, PHASE_PREFILL, err))
            return err->code;
    }
    double t1 = now_s();
    if (meter_add(p->meter, &mark, pe, err))
        return err->code;
    if (p->meter && meter_mark(p->meter, &mark, err))
        return err->code;
    double t2 = now_s();
    for (int g = 0; g < p->gen_tokens; g++) {
        for (int s = 0; s < p->batch; s++)
            rows[s] = (FwdRow){s, p->prompt_tokens + g, token_at(s, p->prompt_tokens + g, V), 1};
        if (eng_step(e, rows, p->batch, logits, PHASE_DECODE, err))
            return err->code;
    }
    *t_prefill = t1 - t0;
    *t_decode = now_s() - t2;
    return meter_add(p->meter, &mark, de, err);
}

static void energy_mean(MeterEnergy *e, int n)
{
    e->joules /= n;
    e->low_j /= n;
    e->high_j /= n;
    e->seconds /= n;
    e->cpu_seconds /= n;
}

int hx_run(const EngineConfig *c, const Weights *w, const HxPlan *plan, HxResult *out,
           TsErr *err)
{
    memset(out, 0, sizeof *out);
    const HxPlan *p = plan;
    if (p->prompt_tokens < 1 || p->gen_tokens < 1 || p->prompt_tokens + p->gen_tokens > c->max_seq)
        return ts_err_set(err, TS_EINPUT,
                          "prompt (%d) + generated tokens (%d) must be >= 2 and fit the model's "
                          "%d positions",
                          p->prompt_tokens, p->gen_tokens, c->max_seq);
    if (p->batch < 1 || p->batch > 1024)
        return ts_err_set(err, TS_EINPUT, "batch must be in [1, 1024], got %d", p->batch);
    if (p->repeats < 1 || p->repeats > HX_MAX_REPEATS || p->warmup < 0 ||
        p->warmup > HX_MAX_REPEATS)
        return ts_err_set(err, TS_EINPUT, "repeats must be in [1, %d]", HX_MAX_REPEATS);
    Pool *pool = NULL;
    if (pool_new(p->threads, &pool, err))
        return err->code;
    Engine *e = NULL;
    QWeights q;
    int max_rows = p->prompt_tokens > p->batch ? p->prompt_tokens : p->batch;
    int seq = p->prompt_tokens + p->gen_tokens;
    if (qw_build(&q, c, w, p->prec, NULL, err)) {
        pool_free(pool);
        return err->code;
    }
    if (eng_new_q(c, w, &q, p->kv, p->batch, seq, max_rows, pool, &e, err)) {
        qw_free(&q);
        pool_free(pool);
        return err->code;
    }
    FwdRow *rows = calloc((size_t)max_rows, sizeof *rows);
    float *logits = malloc(sizeof(float) * (size_t)p->batch * (size_t)c->shape.vocab);
    double *tp = calloc((size_t)p->repeats, sizeof *tp);
    double *td = calloc((size_t)p->repeats, sizeof *td);
    int rc = 0;
    if (!rows || !logits || !tp || !td)
        rc = ts_err_set(err, TS_ENOMEM, "out of memory");
    double a, b;
    MeterEnergy scratch_p = {0}, scratch_d = {0}, pe = {0}, de = {0};
    for (int i = 0; !rc && i < p->warmup; i++)
        rc = run_once(e, c, p, rows, logits, &a, &b, &scratch_p, &scratch_d, err);
    double cpu0 = cpu_s(), wall0 = now_s();
    for (int i = 0; !rc && i < p->repeats; i++) {
        eng_reset_counters(e);
        rc = run_once(e, c, p, rows, logits, &tp[i], &td[i], &pe, &de, err);
    }
    if (!rc) {
        out->cpu_seconds = cpu_s() - cpu0;
        out->wall_seconds = now_s() - wall0;
        out->plan = *p;
        out->prefill = summarise(tp, p->repeats);
        out->decode = summarise(td, p->repeats);
        out->prefill_cnt = *eng_counters(e, PHASE_PREFILL);
        out->decode_cnt = *eng_counters(e, PHASE_DECODE);
        if (out->decode_cnt.expert_layer_steps > 0)
            out->distinct_experts_per_layer =
                out->decode_cnt.distinct_experts_sum / out->decode_cnt.expert_layer_steps;
        out->kernel_path = p->prec == PREC_BF16   ? kern_path_bf16()
                           : p->prec == PREC_INT8 ? kern_path_int8()
                                                  : kern_path();
        energy_mean(&pe, p->repeats);
        energy_mean(&de, p->repeats);
        out->prefill_energy = pe;
        out->decode_energy = de;
    }
    free(rows);
    free(logits);
    free(tp);
    free(td);
    eng_free(e);
    qw_free(&q);
    pool_free(pool);
    return rc;
}

double hx_prefill_tok_s(const HxResult *r)
{
    return (double)r->plan.batch * r->plan.prompt_tokens / r->prefill.median;
}

double hx_decode_tok_s(const HxResult *r)
{
    return (double)r->plan.batch * r->plan.gen_tokens / r->decode.median;
}
