/* forward: one step of a decoder-only transformer over a set of rows (token, slot, position):
 * embedding, per layer RMSNorm -> Q/K/V -> RoPE -> cached attention -> output projection ->
 * residual -> RMSNorm -> SwiGLU FFN or routed experts -> residual, then the final norm and the
 * output head for the rows that want logits. Matmuls split over output chunks and attention
 * over rows; every task computes the same bits on any thread. Every op adds its FLOPs and the
 * bytes it reads to the phase's counters as it runs. */
#include "forward.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "memory.h"

/* One matmul of a parallel dispatch: y (rows, out) = x (rows, in) · w^T, split into tasks of
 * `chunk` outputs. */
typedef struct MatJob {
    float *y;
    int ldy;
    const float *x;
    int ldx;
    const float *w;
    int rows, in, out;
    int chunk; /* outputs per task */
    int tasks;
} MatJob;

struct Engine {
    const EngineConfig *c; /* borrowed */
    const Weights *w;      /* borrowed */
    Pool *pool;            /* borrowed */
    int max_slots, max_seq, max_rows;
    int D, H, KVH, hd, Q, KV, F, G, E, K, S, V, L, Ld;
    int *slot_len;         /* (max_slots) positions filled per slot */
    float *kcache;         /* (max_slots, L, max_seq, KV) */
    float *vcache;         /* (max_slots, L, max_seq, KV) */
    float *rope_cos;       /* (max_seq, hd / 2) */
    float *rope_sin;       /* (max_seq, hd / 2) */
    float *x;              /* (max_rows, D) residual stream */
    float *xb;             /* (max_rows, D) normalised input of a block */
    float *xo;             /* (max_rows, D) block output before the residual add */
    float *q;              /* (max_rows, Q) */
    float *k;              /* (max_rows, KV) */
    float *v;              /* (max_rows, KV) */
    float *att;            /* (max_rows, Q) attention output */
    float *scores;         /* (threads, max_seq) attention scratch per thread */
    float *hb;             /* (max_rows, F) */
    float *hb2;            /* (max_rows, F) */
    float *router_logits;  /* (max_rows, E) */
    int *top_idx;          /* (max_rows, K) chosen experts, best first */
    float *top_w;          /* (max_rows, K) their renormalised weights */
    int *exp_count;        /* (E + S) rows routed to each expert this layer */
    int *exp_rows;         /* (E + S, max_rows) which rows */
    int *exp_slot;         /* (E + S, max_rows) the row's output slot: rank, or K + shared index */
    float *exp_in;         /* (E + S, max_rows, D) gathered inputs */
    float *exp_h1;         /* (E + S, max_rows, G) */
    float *exp_h3;         /* (E + S, max_rows, G) */
    float *exp_out;        /* (max_rows, K + S, D) each expert's output per row */
    float *logit_in;       /* (max_rows, D) rows that want logits, normalised */
    MatJob *exp_jobs;      /* (2 × (E + S)) matmul jobs of the experts */
    const FwdRow *rows;    /* the current step's rows (borrowed during eng_step) */
    int swiglu_rows;       /* rows of the current dense FFN */
    int layer;
    PhaseCounters cnt[PHASE_COUNT];
    double *expert_tokens[PHASE_COUNT]; /* (L, E) */
};

/* ---- closed form --------------------------------------------------------------------------- */

static double ffn_flops(const EngineConfig *c, int moe)
{
    const ModelShape *s = &c->shape;
    double D = (double)s->d_model;
    if (!moe) {
        double F = (double)s->ffn;
        return 6.0 * D * F + 5.0 * F;
    }
    double E = (double)s->experts, K = (double)s->experts_active, S = (double)s->shared_experts;
    double G = (double)s->expert_ffn;
    return 2.0 * D * E + 3.0 * E + 2.0 * K + (K + S) * (6.0 * D * G + 5.0 * G) + 2.0 * D * K +
           D * S;
}

double eng_flops_row(const EngineConfig *c, int pos, int want_logits)
{
    const ModelShape *s = &c->shape;
    double D = (double)s->d_model, H = (double)s->heads, hd = (double)s->head_dim;
    double Q = H * hd, KV = (double)s->kv_heads * hd, ctx = (double)pos + 1.0;
    double attn_block = 4.0 * D + 2.0 * D * (Q + 2.0 * KV) + 3.0 * (Q + KV) +
                        H * (4.0 * hd * ctx + 4.0 * ctx) + 2.0 * Q * D + D;
    long moe_layers = s->experts > 0 ? s->layers - s->dense_layers : 0;
    long dense_layers = s->layers - moe_layers;
    double total = (double)s->layers * (attn_block + 4.0 * D + D) +
                   (double)dense_layers * ffn_flops(c, 0) + (double)moe_layers * ffn_flops(c, 1);
    if (want_logits)
        total += 4.0 * D + 2.0 * (double)s->vocab * D;
    return total;
}

double eng_flops_prefill(const EngineConfig *c, int pos0, int n)
{
    double total = 0.0;
    for (int i = 0; i < n; i++)
        total += eng_flops_row(c, pos0 + i, i == n - 1);
    return total;
}

/* ---- set-up -------------------------------------------------------------------------------- */

static void *zalloc(size_t n, int *fail)
{
    if (*fail)
        return NULL;
    void *p = mem_zalloc(n);
    if (!p)
        *fail = 1;
    return p;
}

void eng_free(Engine *e)
{
    if (!e)
        return;
    void *ptrs[] = {e->slot_len, e->kcache, e->vcache, e->rope_cos, e->rope_sin, e->x, e->xb,
                    e->xo, e->q, e->k, e->v, e->att, e->scores, e->hb, e->hb2,
                    e->router_logits, e->top_idx, e->top_w, e->exp_count, e->exp_rows,
                    e->exp_slot, e->exp_in, e->exp_h1, e->exp_h3, e->exp_out, e->logit_in,
                    e->exp_jobs,
                    e->expert_tokens[0], e->expert_tokens[1]};
    for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++)
        free(ptrs[i]);
    free(e);
}

int eng_new(const EngineConfig *c, const Weights *w, int max_slots, int max_seq, int max_rows,
            Pool *pool, Engine **out, TsErr *err)
{
    *out = NULL;
    if (cfg_check(c, err))
        return err->code;
    if (max_slots < 1 || max_slots > 4096 || max_rows < 1 || max_rows > 65536)
        return ts_err_set(err, TS_EINPUT, "slots must be in [1, 4096] and rows in [1, 65536]");
    if (max_seq < 1 || max_seq > c->max_seq)
        return ts_err_set(err, TS_EINPUT, "sequence length must be in [1, %d], got %d",
                          c->max_seq, max_seq);
    const ModelShape *s = &c->shape;
    double kv_bytes = 2.0 * max_slots * (double)s->layers * max_seq *
                      (double)(s->kv_heads * s->head_dim) * sizeof(float);
    if (kv_bytes > 16e9)
        return ts_err_set(err, TS_EINPUT, "KV cache of %.1f GB is too large; use fewer slots or "
                                          "a shorter sequence", kv_bytes / 1e9);
    Engine *e = calloc(1, sizeof *e);
    if (!e)
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    e->c = c;
    e->w = w;
    e->pool = pool;
    e->max_slots = max_slots;
    e->max_seq = max_seq;
    e->max_rows = max_rows;
    e->D = (int)s->d_model;
    e->H = (int)s->heads;
    e->KVH = (int)s->kv_heads;
    e->hd = (int)s->head_dim;
    e->Q = e->H * e->hd;
    e->KV = e->KVH * e->hd;
    e->F = (int)s->ffn;
    e->G = (int)s->expert_ffn;
    e->E = (int)s->experts;
    e->K = (int)s->experts_active;
    e->S = (int)s->shared_experts;
    e->V = (int)s->vocab;
    e->L = (int)s->layers;
    e->Ld = e->E > 0 ? (int)s->dense_layers : e->L;
    size_t R = (size_t)max_rows, D = (size_t)e->D, ES = (size_t)(e->E + e->S);
    size_t cache = (size_t)max_slots * (size_t)e->L * (size_t)max_seq * (size_t)e->KV;
    int fail = 0;
    e->slot_len = zalloc(sizeof(int) * (size_t)max_slots, &fail);
    e->kcache = zalloc(sizeof(float) * cache, &fail);
    e->vcache = zalloc(sizeof(float) * cache, &fail);
    e->rope_cos = zalloc(sizeof(float) * (size_t)max_seq * (size_t)(e->hd / 2), &fail);
    e->rope_sin = zalloc(sizeof(float) * (size_t)max_seq * (size_t)(e->hd / 2), &fail);
    e->x = zalloc(sizeof(float) * R * D, &fail);
    e->xb = zalloc(sizeof(float) * R * D, &fail);
    e->xo = zalloc(sizeof(float) * R * D, &fail);
    e->q = zalloc(sizeof(float) * R * (size_t)e->Q, &fail);
    e->k = zalloc(sizeof(float) * R * (size_t)e->KV, &fail);
    e->v = zalloc(sizeof(float) * R * (size_t)e->KV, &fail);
    e->att = zalloc(sizeof(float) * R * (size_t)e->Q, &fail);
    e->scores = zalloc(sizeof(float) * (size_t)pool_threads(pool) * (size_t)max_seq, &fail);
    e->logit_in = zalloc(sizeof(float) * R * D, &fail);
    if (e->Ld > 0) {
        e->hb = zalloc(sizeof(float) * R * (size_t)e->F, &fail);
        e->hb2 = zalloc(sizeof(float) * R * (size_t)e->F, &fail);
    }
    if (e->E > 0) {
        size_t G = (size_t)e->G;
        e->router_logits = zalloc(sizeof(float) * R * (size_t)e->E, &fail);
        e->top_idx = zalloc(sizeof(int) * R * (size_t)e->K, &fail);
        e->top_w = zalloc(sizeof(float) * R * (size_t)e->K, &fail);
        e->exp_count = zalloc(sizeof(int) * ES, &fail);
        e->exp_rows = zalloc(sizeof(int) * ES * R, &fail);
        e->exp_slot = zalloc(sizeof(int) * ES * R, &fail);
        e->exp_in = zalloc(sizeof(float) * ES * R * D, &fail);
        e->exp_h1 = zalloc(sizeof(float) * ES * R * G, &fail);
        e->exp_h3 = zalloc(sizeof(float) * ES * R * G, &fail);
        e->exp_out = zalloc(sizeof(float) * R * (size_t)(e->K + e->S) * D, &fail);
        e->exp_jobs = zalloc(sizeof(MatJob) * 2 * ES, &fail);
        for (int p = 0; p < PHASE_COUNT; p++)
            e->expert_tokens[p] = zalloc(sizeof(double) * (size_t)e->L * (size_t)e->E, &fail);
    }
    if (fail) {
        eng_free(e);
        return ts_err_set(err, TS_ENOMEM, "cannot allocate the engine's buffers");
    }
    /* RoPE angles as llama2.c computes them, in float. */
    for (int pos = 0; pos < max_seq; pos++)
        for (int i = 0; i < e->hd / 2; i++) {
            float freq = 1.0f / powf(c->rope_theta, (float)(2 * i) / (float)e->hd);
            float val = (float)pos * freq;
            e->rope_cos[(size_t)pos * (size_t)(e->hd / 2) + (size_t)i] = cosf(val);
            e->rope_sin[(size_t)pos * (size_t)(e->hd / 2) + (size_t)i] = sinf(val);
        }
    *out = e;
    return 0;
}

const PhaseCounters *eng_counters(const Engine *e, Phase phase)
{
    return &e->cnt[phase];
}

const double *eng_expert_tokens(const Engine *e, Phase phase)
{
    return e->expert_tokens[phase];
}

void eng_reset_counters(Engine *e)
{
    memset(e->cnt, 0, sizeof e->cnt);
    for (int p = 0; p < PHASE_COUNT; p++)
        if (e->expert_tokens[p])
            memset(e->expert_tokens[p], 0, sizeof(double) * (size_t)e->L * (size_t)e->E);
}

/* ---- parallel matmul ----------------------------------------------------------------------- */


typedef struct {
    MatJob *jobs;
    int n_jobs;
} MatBatch;

static void mat_task(void *ctx, int t, int thread)
{
    (void)thread;
    MatBatch *b = ctx;
    int j = 0;
    while (t >= b->jobs[j].tasks) {
        t -= b->jobs[j].tasks;
        j++;
    }
    MatJob *m = &b->jobs[j];
    int o0 = t * m->chunk;
    int o1 = o0 + m->chunk < m->out ? o0 + m->chunk : m->out;
    kern_matmul(m->y, m->ldy, m->x, m->ldx, m->w, m->in, m->rows, m->in, o0, o1);
}

/* Runs several independent matmuls in one dispatch; counts their FLOPs and weight bytes unless
 * cnt is NULL (the MoE block counts its experts itself). */
static void par_matmuls(Engine *e, MatJob *jobs, int n_jobs, PhaseCounters *cnt)
{
    int threads = pool_threads(e->pool);
    int total = 0;
    for (int j = 0; j < n_jobs; j++) {
        MatJob *m = &jobs[j];
        int per = (m->out + threads * 4 - 1) / (threads * 4);
        per = (per + 5) / 6 * 6; /* whole 6-output tiles */
        if (per < 6)
            per = 6;
        m->chunk = per;
        m->tasks = (m->out + per - 1) / per;
        total += m->tasks;
        if (cnt) {
            cnt->flops += 2.0 * m->rows * (double)m->in * m->out;
            cnt->weight_bytes += (double)m->in * m->out * sizeof(float);
        }
    }
    MatBatch b = {jobs, n_jobs};
    pool_run(e->pool, mat_task, &b, total);
}

/* ---- attention ----------------------------------------------------------------------------- */

static float *cache_at(const Engine *e, float *cache, int slot, int layer, int pos)
{
    size_t idx = (((size_t)slot * (size_t)e->L + (size_t)layer) * (size_t)e->max_seq +
                  (size_t)pos) * (size_t)e->KV;
    return cache + idx;
}

/* One (row, head) pair: scores over the row's positions, softmax, weighted sum of values.
 * Scratch scores are per thread; the result does not depend on which thread runs it. */
static void attention_task(void *ctx, int task, int thread)
{
    Engine *e = ctx;
    int r = task / e->H, h = task % e->H;
    const FwdRow *row = &e->rows[r];
    int ctx_len = row->pos + 1, group = e->H / e->KVH, hd = e->hd;
    float scale = 1.0f / sqrtf((float)hd);
    float *sc = e->scores + (size_t)thread * (size_t)e->max_seq;
    const float *qh = e->q + (size_t)r * (size_t)e->Q + (size_t)h * (size_t)hd;
    int kvh = h / group;
    /* scores: one row of q against the slot's keys (rows of the cache, stride KV) */
    const float *k0 = cache_at(e, e->kcache, row->slot, e->layer, 0) + (size_t)kvh * hd;
    kern_matmul(sc, ctx_len, qh, hd, k0, e->KV, 1, hd, 0, ctx_len);
    for (int t = 0; t < ctx_len; t++)
        sc[t] *= scale;
    kern_softmax(sc, ctx_len);
    float *out = e->att + (size_t)r * (size_t)e->Q + (size_t)h * (size_t)hd;
    const float *v0 = cache_at(e, e->vcache, row->slot, e->layer, 0) + (size_t)kvh * hd;
    kern_weighted_sum(out, sc, v0, e->KV, ctx_len, hd);
}

/* ---- experts ------------------------------------------------------------------------------- */

/* SwiGLU of one expert's rows (task = expert index among E + S). */
static void expert_swiglu_task(void *ctx, int ex, int thread)
{
    (void)thread;
    Engine *e = ctx;
    size_t G = (size_t)e->G, R = (size_t)e->max_rows;
    float *h1 = e->exp_h1 + (size_t)ex * R * G, *h3 = e->exp_h3 + (size_t)ex * R * G;
    for (int i = 0; i < e->exp_count[ex]; i++)
        kern_swiglu(h1 + (size_t)i * G, h3 + (size_t)i * G, (int)G);
}

/* The experts' FFNs over the rows routed to them: gather each expert's rows, then the gate and
 * up projections of every active expert in one dispatch (split over outputs, like dense
 * layers), SwiGLU, the down projections in a second dispatch, and a scatter of each row's
 * result into its output slot (rank, or K + shared index). */
static void run_experts(Engine *e)
{
    size_t D = (size_t)e->D, G = (size_t)e->G, R = (size_t)e->max_rows;
    int ES = e->E + e->S, KS = e->K + e->S, moe_layer = e->layer - e->Ld;
    MatJob *jobs = e->exp_jobs;
    int n_jobs = 0;
    for (int ex = 0; ex < ES; ex++) {
        int m = e->exp_count[ex];
        if (m == 0)
            continue;
        float *in = e->exp_in + (size_t)ex * R * D;
        for (int i = 0; i < m; i++)
            memcpy(in + (size_t)i * D,
                   e->xb + (size_t)e->exp_rows[(size_t)ex * R + (size_t)i] * D, sizeof(float) * D);
        size_t base = (size_t)moe_layer * (size_t)ES + (size_t)ex;
        jobs[n_jobs++] = (MatJob){e->exp_h1 + (size_t)ex * R * G, (int)G, in, (int)D,
                                  e->w->ew1 + base * G * D, m, (int)D, (int)G, 0, 0};
        jobs[n_jobs++] = (MatJob){e->exp_h3 + (size_t)ex * R * G, (int)G, in, (int)D,
                                  e->w->ew3 + base * G * D, m, (int)D, (int)G, 0, 0};
    }
    par_matmuls(e, jobs, n_jobs, NULL);
    pool_run(e->pool, expert_swiglu_task, e, ES);
    n_jobs = 0;
    for (int ex = 0; ex < ES; ex++) {
        int m = e->exp_count[ex];
        if (m == 0)
            continue;
        /* the gathered inputs are spent: their buffer takes the outputs */
        size_t base = (size_t)moe_layer * (size_t)ES + (size_t)ex;
        jobs[n_jobs++] = (MatJob){e->exp_in + (size_t)ex * R * D, (int)D,
                                  e->exp_h1 + (size_t)ex * R * G, (int)G,
                                  e->w->ew2 + base * D * G, m, (int)G, (int)D, 0, 0};
    }
    par_matmuls(e, jobs, n_jobs, NULL);
    for (int ex = 0; ex < ES; ex++) {
        const float *out = e->exp_in + (size_t)ex * R * D;
        for (int i = 0; i < e->exp_count[ex]; i++) {
            int r = e->exp_rows[(size_t)ex * R + (size_t)i];
            int slot = e->exp_slot[(size_t)ex * R + (size_t)i];
            memcpy(e->exp_out + ((size_t)r * (size_t)KS + (size_t)slot) * D, out + (size_t)i * D,
                   sizeof(float) * D);
        }
    }
}

static void moe_block(Engine *e, int n, PhaseCounters *cnt, double *expert_tokens)
{
    int E = e->E, K = e->K, S = e->S, D = e->D, G = e->G, moe_layer = e->layer - e->Ld;
    size_t R = (size_t)e->max_rows;
    const float *router = e->w->router + (size_t)moe_layer * (size_t)E * (size_t)D;
    MatJob job = {e->router_logits, E, e->xb, D, router, n, D, E, 0, 0};
    par_matmuls(e, &job, 1, cnt);
    memset(e->exp_count, 0, sizeof(int) * (size_t)(E + S));
    for (int r = 0; r < n; r++) {
        float *p = e->router_logits + (size_t)r * (size_t)E;
        kern_softmax(p, E);
        int *idx = e->top_idx + (size_t)r * (size_t)K;
        float *wt = e->top_w + (size_t)r * (size_t)K;
        /* top-k by probability, ties to the lower expert index */
        for (int j = 0; j < K; j++) {
            int best = -1;
            for (int x = 0; x < E; x++) {
                int taken = 0;
                for (int i = 0; i < j; i++)
                    taken |= idx[i] == x;
                if (!taken && (best < 0 || p[x] > p[best]))
                    best = x;
            }
            idx[j] = best;
            wt[j] = p[best];
        }
        float sum = 0.0f;
        for (int j = 0; j < K; j++)
            sum += wt[j];
        for (int j = 0; j < K; j++)
            wt[j] /= sum;
        for (int j = 0; j < K; j++) {
            int x = idx[j], c = e->exp_count[x]++;
            e->exp_rows[(size_t)x * R + (size_t)c] = r;
            e->exp_slot[(size_t)x * R + (size_t)c] = j;
        }
        for (int s = 0; s < S; s++) {
            int x = E + s, c = e->exp_count[x]++;
            e->exp_rows[(size_t)x * R + (size_t)c] = r;
            e->exp_slot[(size_t)x * R + (size_t)c] = K + s;
        }
    }
    int distinct = 0;
    for (int x = 0; x < E; x++) {
        distinct += e->exp_count[x] > 0;
        expert_tokens[(size_t)e->layer * (size_t)E + (size_t)x] += e->exp_count[x];
    }
    run_experts(e);

    /* Combine in rank order, then shared experts: a fixed order per row. */
    int KS = K + S;
    for (int r = 0; r < n; r++) {
        float *y = e->xo + (size_t)r * (size_t)D;
        memset(y, 0, sizeof(float) * (size_t)D);
        for (int j = 0; j < K; j++)
            kern_axpy(y, e->top_w[(size_t)r * (size_t)K + (size_t)j],
                      e->exp_out + ((size_t)r * (size_t)KS + (size_t)j) * (size_t)D, D);
        for (int s = 0; s < S; s++) {
            const float *src = e->exp_out + ((size_t)r * (size_t)KS + (size_t)(K + s)) * (size_t)D;
            for (int i = 0; i < D; i++)
                y[i] += src[i];
        }
    }
    double dD = D, dG = G;
    cnt->flops += n * (3.0 * E + 2.0 * K + (K + S) * (6.0 * dD * dG + 5.0 * dG) + 2.0 * dD * K +
                       dD * S);
    cnt->weight_bytes += (double)(distinct + S) * 3.0 * dD * dG * sizeof(float);
    cnt->expert_layer_steps += 1.0;
    cnt->distinct_experts_sum += distinct;
}

/* SwiGLU over a share of the rows (the exponentials are a visible cost in prefill). */
static void swiglu_task(void *ctx, int task, int thread)
{
    (void)thread;
    Engine *e = ctx;
    int n = e->swiglu_rows, tasks = n < 4 * pool_threads(e->pool) ? n : 4 * pool_threads(e->pool);
    int r0 = (int)((long)n * task / tasks), r1 = (int)((long)n * (task + 1) / tasks);
    for (int r = r0; r < r1; r++)
        kern_swiglu(e->hb + (size_t)r * (size_t)e->F, e->hb2 + (size_t)r * (size_t)e->F, e->F);
}

static void dense_ffn(Engine *e, int n, PhaseCounters *cnt)
{
    int D = e->D, F = e->F;
    size_t l = (size_t)e->layer;
    const float *w1 = e->w->w1 + l * (size_t)F * (size_t)D;
    const float *w2 = e->w->w2 + l * (size_t)D * (size_t)F;
    const float *w3 = e->w->w3 + l * (size_t)F * (size_t)D;
    MatJob up[2] = {{e->hb, F, e->xb, D, w1, n, D, F, 0, 0}, {e->hb2, F, e->xb, D, w3, n, D, F, 0, 0}};
    par_matmuls(e, up, 2, cnt);
    e->swiglu_rows = n;
    pool_run(e->pool, swiglu_task, e, n < 4 * pool_threads(e->pool) ? n : 4 * pool_threads(e->pool));
    cnt->flops += 5.0 * n * F;
    MatJob down = {e->xo, D, e->hb, F, w2, n, F, D, 0, 0};
    par_matmuls(e, &down, 1, cnt);
}

/* ---- the step -------------------------------------------------------------------------------- */

static int check_rows(Engine *e, const FwdRow *rows, int n, TsErr *err)
{
    if (n < 1 || n > e->max_rows)
        return ts_err_set(err, TS_EINPUT, "a step takes 1 to %d rows, got %d", e->max_rows, n);
    for (int i = 0; i < n; i++) {
        const FwdRow *r = &rows[i];
        if (r->slot < 0 || r->slot >= e->max_slots)
            return ts_err_set(err, TS_EINPUT, "row %d: slot %d out of [0, %d)", i, r->slot,
                              e->max_slots);
        if (r->pos < 0 || r->pos >= e->max_seq)
            return ts_err_set(err, TS_EINPUT, "row %d: position %d out of [0, %d)", i, r->pos,
                              e->max_seq);
        if (r->token < 0 || r->token >= e->V)
            return ts_err_set(err, TS_EINPUT, "row %d: token %d out of [0, %d)", i, r->token,
                              e->V);
        /* the row's earlier positions: in the cache, or the slot's previous row in this step */
        int expect = e->slot_len[r->slot];
        for (int j = i - 1; j >= 0; j--)
            if (rows[j].slot == r->slot) {
                expect = rows[j].pos + 1;
                break;
            }
        int first = 1;
        for (int j = 0; j < i; j++)
            first &= rows[j].slot != r->slot;
        if (first ? r->pos > expect : r->pos != expect)
            return ts_err_set(err, TS_EINPUT,
                              "row %d: slot %d position %d does not follow its earlier positions",
                              i, r->slot, r->pos);
    }
    return 0;
}

int eng_step(Engine *e, const FwdRow *rows, int n, float *logits, Phase phase, TsErr *err)
{
    if (check_rows(e, rows, n, err))
        return err->code;
    PhaseCounters *cnt = &e->cnt[phase];
    const Weights *w = e->w;
    const EngineConfig *c = e->c;
    int D = e->D, Q = e->Q, KV = e->KV, hd = e->hd;
    double fsz = sizeof(float);
    e->rows = rows;

    for (int r = 0; r < n; r++)
        memcpy(e->x + (size_t)r * (size_t)D, w->token_embedding + (size_t)rows[r].token * (size_t)D,
               fsz * (size_t)D);
    cnt->weight_bytes += n * (double)D * fsz;

    for (int l = 0; l < e->L; l++) {
        e->layer = l;
        size_t lz = (size_t)l;
        const float *rms_att = w->rms_att + lz * (size_t)D;
        for (int r = 0; r < n; r++)
            kern_rmsnorm(e->xb + (size_t)r * (size_t)D, e->x + (size_t)r * (size_t)D, rms_att, D,
                         c->norm_eps);
        cnt->flops += 4.0 * n * D;
        cnt->weight_bytes += D * fsz;

        MatJob qkv[3] = {
            {e->q, Q, e->xb, D, w->wq + lz * (size_t)Q * (size_t)D, n, D, Q, 0, 0},
            {e->k, KV, e->xb, D, w->wk + lz * (size_t)KV * (size_t)D, n, D, KV, 0, 0},
            {e->v, KV, e->xb, D, w->wv + lz * (size_t)KV * (size_t)D, n, D, KV, 0, 0},
        };
        par_matmuls(e, qkv, 3, cnt);
        for (int r = 0; r < n; r++) {
            const float *cs = e->rope_cos + (size_t)rows[r].pos * (size_t)(hd / 2);
            const float *sn = e->rope_sin + (size_t)rows[r].pos * (size_t)(hd / 2);
            kern_rope(e->q + (size_t)r * (size_t)Q, e->H, hd, cs, sn);
            kern_rope(e->k + (size_t)r * (size_t)KV, e->KVH, hd, cs, sn);
            memcpy(cache_at(e, e->kcache, rows[r].slot, l, rows[r].pos),
                   e->k + (size_t)r * (size_t)KV, fsz * (size_t)KV);
            memcpy(cache_at(e, e->vcache, rows[r].slot, l, rows[r].pos),
                   e->v + (size_t)r * (size_t)KV, fsz * (size_t)KV);
            double ctx = rows[r].pos + 1.0;
            cnt->flops += 3.0 * (Q + KV) + e->H * (4.0 * hd * ctx + 4.0 * ctx);
            cnt->kv_write_bytes += 2.0 * KV * fsz;
            cnt->kv_read_bytes += 2.0 * KV * fsz * ctx;
        }
        pool_run(e->pool, attention_task, e, n * e->H);

        MatJob o = {e->xo, D, e->att, Q, w->wo + lz * (size_t)D * (size_t)Q, n, Q, D, 0, 0};
        par_matmuls(e, &o, 1, cnt);
        for (size_t i = 0; i < (size_t)n * (size_t)D; i++)
            e->x[i] += e->xo[i];
        cnt->flops += (double)n * D;

        const float *rms_ffn = w->rms_ffn + lz * (size_t)D;
        for (int r = 0; r < n; r++)
            kern_rmsnorm(e->xb + (size_t)r * (size_t)D, e->x + (size_t)r * (size_t)D, rms_ffn, D,
                         c->norm_eps);
        cnt->flops += 4.0 * n * D;
        cnt->weight_bytes += D * fsz;
        if (l < e->Ld)
            dense_ffn(e, n, cnt);
        else
            moe_block(e, n, cnt, e->expert_tokens[phase]);
        for (size_t i = 0; i < (size_t)n * (size_t)D; i++)
            e->x[i] += e->xo[i];
        cnt->flops += (double)n * D;
    }

    int m = 0;
    for (int r = 0; r < n; r++)
        if (rows[r].want_logits) {
            kern_rmsnorm(e->logit_in + (size_t)m * (size_t)D, e->x + (size_t)r * (size_t)D,
                         w->rms_final, D, c->norm_eps);
            m++;
        }
    if (m > 0) {
        if (!logits)
            return ts_err_set(err, TS_EINPUT, "rows want logits but no buffer was given");
        cnt->flops += 4.0 * m * D;
        cnt->weight_bytes += D * fsz;
        MatJob head = {logits, e->V, e->logit_in, D, w->wcls, m, D, e->V, 0, 0};
        par_matmuls(e, &head, 1, cnt);
    }

    for (int r = 0; r < n; r++)
        e->slot_len[rows[r].slot] = rows[r].pos + 1;
    cnt->rows += n;
    cnt->steps += 1;
    e->rows = NULL;
    return 0;
}
