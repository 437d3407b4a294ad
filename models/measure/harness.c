/* harness: builds a pool and an engine for the plan, feeds deterministic token streams
 * (derived from the position and sequence, so every repeat does the same work), and times each
 * phase with CLOCK_MONOTONIC; CPU time from getrusage. */
#include "models/measure/harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "models/engine/kernels.h"

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
/* The work of one repeat and where its buffers are. */
typedef struct {
    Engine *e;
    MtpModel *mtp; /* NULL without MTP */
    FwdRow *rows;
    float *logits;
    int *tokens;   /* (prompt + gen) with MTP: the prompt, then the output */
    MtpStats st;
} HxWork;

static int run_once(HxWork *w, const EngineConfig *c, const HxPlan *p, double *t_prefill,
                    double *t_decode, MeterEnergy *pe, MeterEnergy *de, TsErr *err)
{
    Engine *e = w->e;
    FwdRow *rows = w->rows;
    float *logits = w->logits;
    int V = (int)c->shape.vocab;
    MeterMark mark;
    if (p->meter && meter_mark(p->meter, &mark, err))
        return err->code;
    double t0 = now_s();
    MtpOptions mo = {p->mtp_depth, p->mtp_accept};
    if (w->mtp) {
        for (int i = 0; i < p->prompt_tokens; i++)
            w->tokens[i] = token_at(0, i, V);
        if (mtp_prefill(e, w->mtp, &mo, 0, w->tokens, p->prompt_tokens, p->gen_tokens,
                        w->tokens + p->prompt_tokens, &w->st, err))
            return err->code;
    }
    for (int s = 0; !w->mtp && s < p->batch; s++) {
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
    if (w->mtp && mtp_decode(e, w->mtp, &w->st, err))
        return err->code;
    for (int g = 0; !w->mtp && g < p->gen_tokens; g++) {
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
    if (p->mtp_depth < 0 || p->mtp_depth > MTP_MAX_DEPTH || (p->mtp_depth > 0 && p->batch != 1) ||
        p->mtp_accept > 1.0)
        return ts_err_set(err, TS_EINPUT,
                          "MTP runs at batch 1 with a depth in [1, %d] and a forced acceptance "
                          "rate in [0, 1]",
                          MTP_MAX_DEPTH);
    if (p->repeats < 1 || p->repeats > HX_MAX_REPEATS || p->warmup < 0 ||
        p->warmup > HX_MAX_REPEATS)
        return ts_err_set(err, TS_EINPUT, "repeats must be in [1, %d]", HX_MAX_REPEATS);
    Pool *pool = NULL;
    if (pool_new(p->threads, &pool, err))
        return err->code;
    Engine *e = NULL;
    QWeights q;
    int max_rows = p->prompt_tokens > p->batch ? p->prompt_tokens : p->batch;
    max_rows = max_rows > 2 * p->mtp_depth + 1 ? max_rows : 2 * p->mtp_depth + 1;
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
    HxWork work = {e, NULL, NULL, NULL, NULL, {0}};
    if (p->mtp_depth > 0 &&
        mtp_new(c, w, &q, p->mtp_depth, 1, p->kv, 1, seq, max_rows, pool, &work.mtp, err)) {
        eng_free(e);
        qw_free(&q);
        pool_free(pool);
        return err->code;
    }
    FwdRow *rows = calloc((size_t)max_rows, sizeof *rows);
    float *logits = malloc(sizeof(float) * (size_t)p->batch * (size_t)c->shape.vocab);
    work.rows = rows;
    work.logits = logits;
    work.tokens = malloc(sizeof(int) * (size_t)seq);
    double *tp = calloc((size_t)p->repeats, sizeof *tp);
    double *td = calloc((size_t)p->repeats, sizeof *td);
    int rc = 0;
    if (!rows || !logits || !tp || !td || !work.tokens)
        rc = ts_err_set(err, TS_ENOMEM, "out of memory");
    double a, b;
    MeterEnergy scratch_p = {0}, scratch_d = {0}, pe = {0}, de = {0};
    for (int i = 0; !rc && i < p->warmup; i++)
        rc = run_once(&work, c, p, &a, &b, &scratch_p, &scratch_d, err);
    double cpu0 = cpu_s(), wall0 = now_s();
    for (int i = 0; !rc && i < p->repeats; i++) {
        eng_reset_counters(e);
        if (work.mtp)
            mtp_reset_counters(work.mtp);
        rc = run_once(&work, c, p, &tp[i], &td[i], &pe, &de, err);
    }
    if (!rc) {
        out->cpu_seconds = cpu_s() - cpu0;
        out->wall_seconds = now_s() - wall0;
        out->plan = *p;
        out->prefill = summarise(tp, p->repeats);
        out->decode = summarise(td, p->repeats);
        out->prefill_cnt = *eng_counters(e, PHASE_PREFILL);
        out->decode_cnt = *eng_counters(e, PHASE_DECODE);
        if (work.mtp) {
            mtp_add_counters(work.mtp, PHASE_PREFILL, &out->prefill_cnt);
            mtp_add_counters(work.mtp, PHASE_DECODE, &out->decode_cnt);
            out->mtp = work.st;
        }
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
    free(work.tokens);
    mtp_free(work.mtp);
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

int hx_accuracy(const EngineConfig *c, const Weights *w, Precision p, Precision kv, int threads,
                int positions, HxAccuracy *out, TsErr *err)
{
    memset(out, 0, sizeof *out);
    if (positions < 2 || positions > c->max_seq)
        return ts_err_set(err, TS_EINPUT, "accuracy needs 2 to %d positions", c->max_seq);
    Pool *pool = NULL;
    Engine *ref = NULL, *low = NULL;
    QWeights q;
    memset(&q, 0, sizeof q);
    int V = (int)c->shape.vocab, prompt = positions / 2, rc = 0;
    float *lr = malloc(sizeof(float) * (size_t)V), *ll = malloc(sizeof(float) * (size_t)V);
    if (!lr || !ll)
        rc = ts_err_set(err, TS_ENOMEM, "out of memory");
    if (!rc)
        rc = pool_new(threads, &pool, err);
    if (!rc)
        rc = eng_new(c, w, 1, positions, 1, pool, &ref, err);
    if (!rc)
        rc = qw_build(&q, c, w, p, NULL, err);
    if (!rc)
        rc = eng_new_q(c, w, &q, kv, 1, positions, 1, pool, &low, err);
    double sum = 0;
    int same = 0, tok = token_at(0, 0, V);
    for (int i = 0; !rc && i < positions; i++) {
        FwdRow r = {0, i, tok, 1};
        if ((rc = eng_step(ref, &r, 1, lr, PHASE_DECODE, err)) ||
            (rc = eng_step(low, &r, 1, ll, PHASE_DECODE, err)))
            break;
        int ar = 0, al = 0;
        for (int v = 0; v < V; v++) {
            double d = fabs((double)lr[v] - ll[v]);
            sum += d;
            out->max_abs_diff = d > out->max_abs_diff ? d : out->max_abs_diff;
            ar = lr[v] > lr[ar] ? v : ar;
            al = ll[v] > ll[al] ? v : al;
        }
        same += ar == al;
        /* the prompt, then the fp32 model's greedy continuation, fed to both */
        tok = i + 1 < prompt ? token_at(0, i + 1, V) : ar;
    }
    if (!rc) {
        out->positions = positions;
        out->mean_abs_diff = sum / ((double)positions * V);
        out->agreement = (double)same / positions;
    }
    eng_free(low);
    eng_free(ref);
    qw_free(&q);
    pool_free(pool);
    free(lr);
    free(ll);
    return rc;
}
