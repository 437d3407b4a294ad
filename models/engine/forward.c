/* forward: one step of a decoder-only transformer over a set of rows (token, slot, position):
 * embedding, per layer RMSNorm -> Q/K/V -> RoPE -> cached attention -> output projection ->
 * residual -> RMSNorm -> SwiGLU FFN or routed experts -> residual, then the final norm and the
 * output head for the rows that want logits. Matmuls go to matjob.c (split over output
 * chunks), attention over (row, head) and per-row work over rows; every task computes the same
 * bits on any thread. Every op adds its FLOPs and the bytes it reads to the phase's counters
 * as it runs. The KV cache is a pool of blocks read
 * through each slot's block table (unpaged: one block of max_seq positions per slot); attention
 * walks a slot's blocks in order and continues each sum across them, so paging and ragged
 * batches change no bit. The closed forms of the counters are in counts.c. */
#include "models/engine/forward.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/engine/kernels.h"
#include "models/engine/matjob.h"
#include "models/engine/memory.h"
#include "models/engine/quant.h"

struct Engine {
    const EngineConfig *c; /* borrowed */
    const Weights *w;      /* borrowed: norms and routers (always float32) */
    const QWeights *qw;    /* the matrices in the engine's precision (borrowed or own_q) */
    QWeights own_q;        /* fp32 views when the caller gave none */
    Precision kv_prec;     /* KV cache elements: fp32 or bf16 */
    int kv_elt;            /* bytes per cache element */
    Pool *pool;            /* borrowed */
    int max_slots, max_seq, max_rows;
    int D, H, KVH, hd, Q, KV, F, G, E, K, S, V, L, Ld;
    int *slot_len;         /* (max_slots) positions filled per slot */
    int block_tokens;      /* positions per KV block (max_seq when not paged) */
    int n_blocks;          /* blocks in the cache (max_slots when not paged) */
    int slot_blocks;       /* entries of a slot's block table */
    int paged;             /* 1: block tables come from eng_set_blocks */
    int32_t *block_table;  /* (max_slots, slot_blocks) block of each span of positions, -1: none;
                              unpaged: slot s owns block s */
    void *kcache;          /* (n_blocks, L, block_tokens, KV) of kv_prec */
    void *vcache;          /* (n_blocks, L, block_tokens, KV) of kv_prec */
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
    int *exp_pos;          /* (max_rows, K + S) each row's place among the rows of its j-th
                              expert (j < K: by rank; then the shared ones) */
    float *exp_in;         /* (E + S, max_rows, D) gathered inputs */
    float *exp_h1;         /* (E + S, max_rows, G) */
    float *exp_h3;         /* (E + S, max_rows, G) */
    float *logit_in;       /* (max_rows, D) rows that want logits, normalised */
    MatJob *exp_jobs;      /* (2 × (E + S)) matmul jobs of the experts */
    QMat router_m;         /* the current MoE layer's router (float32) */
    unsigned char *act;    /* converted activations of one dispatch (reduced precision) */
    size_t act_cap;        /* bytes in act */
    float *act_scale;      /* int8 activation scales of one dispatch */
    size_t act_scale_cap;  /* floats in act_scale */
    const FwdRow *rows;    /* the current step's rows (borrowed during eng_step) */
    int swiglu_rows;       /* rows of the current dense FFN */
    int row_op;            /* the RowOp of the current row pass */
    int row_n, row_tasks;  /* its rows and tasks */
    int layer;
    PhaseCounters cnt[PHASE_COUNT];
    double *expert_tokens[PHASE_COUNT]; /* (L, E) */
};

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
    void *ptrs[] = {e->slot_len, e->block_table, e->kcache, e->vcache, e->rope_cos, e->rope_sin, e->x, e->xb,
                    e->xo, e->q, e->k, e->v, e->att, e->scores, e->hb, e->hb2,
                    e->router_logits, e->top_idx, e->top_w, e->exp_count, e->exp_pos,
                    e->exp_in, e->exp_h1, e->exp_h3, e->logit_in,
                    e->exp_jobs, e->act, e->act_scale,
                    e->expert_tokens[0], e->expert_tokens[1]};
    for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++)
        free(ptrs[i]);
    qw_free(&e->own_q);
    free(e);
}

int eng_new(const EngineConfig *c, const Weights *w, int max_slots, int max_seq, int max_rows,
            Pool *pool, Engine **out, TsErr *err)
{
    return eng_new_q(c, w, NULL, PREC_FP32, max_slots, max_seq, max_rows, pool, out, err);
}

int eng_new_q(const EngineConfig *c, const Weights *w, const QWeights *q, Precision kv_prec,
              int max_slots, int max_seq, int max_rows, Pool *pool, Engine **out, TsErr *err)
{
    return eng_new_paged(c, w, q, kv_prec, NULL, max_slots, max_seq, max_rows, pool, out, err);
}

int eng_new_paged(const EngineConfig *c, const Weights *w, const QWeights *q, Precision kv_prec,
                  const EngPaging *pg, int max_slots, int max_seq, int max_rows, Pool *pool,
                  Engine **out, TsErr *err)
{
    *out = NULL;
    if (cfg_check(c, err))
        return err->code;
    if (kv_prec != PREC_FP32 && kv_prec != PREC_BF16)
        return ts_err_set(err, TS_EINPUT, "the KV cache holds fp32 or bf16, not %s",
                          prec_name(kv_prec));
    if (max_slots < 1 || max_slots > 4096 || max_rows < 1 || max_rows > 65536)
        return ts_err_set(err, TS_EINPUT, "slots must be in [1, 4096] and rows in [1, 65536]");
    if (max_seq < 1 || max_seq > c->max_seq)
        return ts_err_set(err, TS_EINPUT, "sequence length must be in [1, %d], got %d",
                          c->max_seq, max_seq);
    if (pg && (pg->n_blocks < 1 || pg->n_blocks > (1 << 24) || pg->block_tokens < 1 ||
               pg->block_tokens > max_seq))
        return ts_err_set(err, TS_EINPUT, "paged KV: 1 to %d blocks of 1 to %d positions",
                          1 << 24, max_seq);
    int n_blocks = pg ? pg->n_blocks : max_slots, bt = pg ? pg->block_tokens : max_seq;
    const ModelShape *s = &c->shape;
    double kv_bytes = 2.0 * n_blocks * (double)s->layers * bt *
                      (double)(s->kv_heads * s->head_dim) * prec_elt_bytes(kv_prec);
    if (kv_bytes > 16e9)
        return ts_err_set(err, TS_EINPUT, "KV cache of %.1f GB is too large; use fewer slots or "
                                          "a shorter sequence", kv_bytes / 1e9);
    Engine *e = calloc(1, sizeof *e);
    if (!e)
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    e->c = c;
    e->w = w;
    e->pool = pool;
    e->kv_prec = kv_prec;
    e->kv_elt = prec_elt_bytes(kv_prec);
    if (!q) {
        if (qw_build(&e->own_q, c, w, PREC_FP32, NULL, err)) {
            free(e);
            return err->code;
        }
        q = &e->own_q;
    }
    e->qw = q;
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
    e->paged = pg != NULL;
    e->n_blocks = n_blocks;
    e->block_tokens = bt;
    e->slot_blocks = (max_seq + bt - 1) / bt;
    size_t cache = (size_t)n_blocks * (size_t)e->L * (size_t)bt * (size_t)e->KV;
    int fail = 0;
    e->slot_len = zalloc(sizeof(int) * (size_t)max_slots, &fail);
    e->block_table = zalloc(sizeof(int32_t) * (size_t)max_slots * (size_t)e->slot_blocks, &fail);
    e->kcache = zalloc((size_t)e->kv_elt * cache, &fail);
    e->vcache = zalloc((size_t)e->kv_elt * cache, &fail);
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
        e->exp_pos = zalloc(sizeof(int) * R * (size_t)(e->K + e->S), &fail);
        e->exp_in = zalloc(sizeof(float) * ES * R * D, &fail);
        e->exp_h1 = zalloc(sizeof(float) * ES * R * G, &fail);
        e->exp_h3 = zalloc(sizeof(float) * ES * R * G, &fail);
        e->exp_jobs = zalloc(sizeof(MatJob) * 2 * ES, &fail);
        for (int p = 0; p < PHASE_COUNT; p++)
            e->expert_tokens[p] = zalloc(sizeof(double) * (size_t)e->L * (size_t)e->E, &fail);
    }
    if (q->prec != PREC_FP32) {
        /* the widest dispatch: a dense layer's down projection, or every expert's inputs */
        size_t widest = (size_t)(e->D > e->F ? e->D : e->F);
        widest = widest > (size_t)e->Q ? widest : (size_t)e->Q;
        size_t ks = (size_t)(e->K + e->S), ew = (size_t)(e->D > e->G ? e->D : e->G);
        widest = widest > ks * ew ? widest : ks * ew;
        widest = widest > 2 * D ? widest : 2 * D; /* an MTP projection's (D, 2D) input */
        /* padded to a whole int4 block, and room for int4's block sums and the alignments */
        e->act_cap = 2 * R * (widest + QT_Q4_BLOCK) * (size_t)prec_elt_bytes(q->prec) +
                     64 * (4 * ES + 16);
        e->act = zalloc(e->act_cap, &fail);
        e->act_scale_cap = R * (ks + 1);
        e->act_scale = zalloc(sizeof(float) * e->act_scale_cap, &fail);
    }
    if (fail) {
        eng_free(e);
        return ts_err_set(err, TS_ENOMEM, "cannot allocate the engine's buffers");
    }
    for (int k = 0; k < max_slots * e->slot_blocks; k++)
        e->block_table[k] = e->paged ? -1 : k;
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

/* Runs several independent matmuls in one dispatch with the engine's pool and scratch; counts
 * their FLOPs and weight bytes unless cnt is NULL (the MoE block counts its experts itself). */
static void par_matmuls(Engine *e, MatJob *jobs, int n_jobs, PhaseCounters *cnt)
{
    MjScratch scratch = {e->act, e->act_scale};
    mj_run(e->pool, &scratch, jobs, n_jobs, cnt);
}

/* ---- attention ----------------------------------------------------------------------------- */

/* The cache entry (KV elements of kv_prec) of a slot, layer and position: in the block its
 * table names for the position's span (positions of one block are consecutive rows). */
static void *cache_at(const Engine *e, void *cache, int slot, int layer, int pos)
{
    size_t blk = (size_t)e->block_table[(size_t)slot * (size_t)e->slot_blocks +
                                        (size_t)(pos / e->block_tokens)];
    size_t idx = ((blk * (size_t)e->L + (size_t)layer) * (size_t)e->block_tokens +
                  (size_t)(pos % e->block_tokens)) * (size_t)e->KV;
    return (unsigned char *)cache + idx * (size_t)e->kv_elt;
}

/* Stores one row's K or V (KV floats) into the cache in its precision. */
static void cache_put(const Engine *e, void *dst, const float *src)
{
    if (e->kv_prec == PREC_BF16)
        qt_to_bf16(dst, src, (size_t)e->KV);
    else
        memcpy(dst, src, sizeof(float) * (size_t)e->KV);
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
    float *out = e->att + (size_t)r * (size_t)e->Q + (size_t)h * (size_t)hd;
    /* scores: one row of q against the slot's keys (rows of the cache, stride KV), block by
     * block; each score is its own dot product, so the blocks do not change it */
    int bt = e->block_tokens;
    for (int t0 = 0; t0 < ctx_len; t0 += bt) {
        int len = ctx_len - t0 < bt ? ctx_len - t0 : bt;
        if (e->kv_prec == PREC_BF16) {
            const uint16_t *k0 =
                (const uint16_t *)cache_at(e, e->kcache, row->slot, e->layer, t0) +
                (size_t)kvh * hd;
            kern_scores_bf16(sc + t0, qh, k0, e->KV, len, hd);
        } else {
            const float *k0 = (const float *)cache_at(e, e->kcache, row->slot, e->layer, t0) +
                              (size_t)kvh * hd;
            kern_scores(sc + t0, qh, k0, e->KV, len, hd);
        }
    }
    for (int t = 0; t < ctx_len; t++)
        sc[t] *= scale;
    kern_softmax(sc, ctx_len);
    /* values: one chain of FMAs per element over every key in order, continued across blocks */
    for (int t0 = 0; t0 < ctx_len; t0 += bt) {
        int len = ctx_len - t0 < bt ? ctx_len - t0 : bt;
        if (e->kv_prec == PREC_BF16) {
            const uint16_t *v0 =
                (const uint16_t *)cache_at(e, e->vcache, row->slot, e->layer, t0) +
                (size_t)kvh * hd;
            kern_weighted_sum_bf16_acc(out, sc + t0, v0, e->KV, len, hd, t0 > 0);
        } else {
            const float *v0 = (const float *)cache_at(e, e->vcache, row->slot, e->layer, t0) +
                              (size_t)kvh * hd;
            kern_weighted_sum_acc(out, sc + t0, v0, e->KV, len, hd, t0 > 0);
        }
    }
}

/* ---- row passes ---------------------------------------------------------------------------- */

/* The per-row work between a layer's matmuls; each row's arithmetic is the same wherever it
 * runs. */
typedef enum {
    ROW_EMBED,          /* x = the row's token embedding */
    ROW_NORM_ATT,       /* xb = rmsnorm(x) with the layer's attention norm */
    ROW_ROPE_CACHE,     /* rotate q and k, store k and v in the cache */
    ROW_ADD_NORM_FFN,   /* x += xo, then xb = rmsnorm(x) with the layer's FFN norm */
    ROW_ADD,            /* x += xo */
    ROW_GATHER,         /* xb into each of the row's experts' inputs */
    ROW_COMBINE         /* xo = the row's experts' outputs by weight, in rank order, then the
                           shared ones */
} RowOp;

/* The input (then, after the down projection, the output) row of the row's j-th expert. */
static float *expert_row(const Engine *e, int r, int j)
{
    int KS = e->K + e->S;
    int ex = j < e->K ? e->top_idx[(size_t)r * (size_t)e->K + (size_t)j] : e->E + j - e->K;
    size_t place = (size_t)e->exp_pos[(size_t)r * (size_t)KS + (size_t)j];
    return e->exp_in + ((size_t)ex * (size_t)e->max_rows + place) * (size_t)e->D;
}

static void row_run(Engine *e, int r)
{
    size_t D = (size_t)e->D, l = (size_t)e->layer;
    float *x = e->x + (size_t)r * D, *xo = e->xo + (size_t)r * D, *xb = e->xb + (size_t)r * D;
    const FwdRow *row = &e->rows[r];
    switch ((RowOp)e->row_op) {
    case ROW_EMBED:
        qt_lookup(&e->qw->emb, row->token, x);
        break;
    case ROW_NORM_ATT:
        kern_rmsnorm(xb, x, e->w->rms_att + l * D, (int)D, e->c->norm_eps);
        break;
    case ROW_ROPE_CACHE: {
        int hd = e->hd;
        const float *cs = e->rope_cos + (size_t)row->pos * (size_t)(hd / 2);
        const float *sn = e->rope_sin + (size_t)row->pos * (size_t)(hd / 2);
        kern_rope(e->q + (size_t)r * (size_t)e->Q, e->H, hd, cs, sn);
        kern_rope(e->k + (size_t)r * (size_t)e->KV, e->KVH, hd, cs, sn);
        cache_put(e, cache_at(e, e->kcache, row->slot, e->layer, row->pos),
                  e->k + (size_t)r * (size_t)e->KV);
        cache_put(e, cache_at(e, e->vcache, row->slot, e->layer, row->pos),
                  e->v + (size_t)r * (size_t)e->KV);
        break;
    }
    case ROW_ADD_NORM_FFN:
        for (size_t i = 0; i < D; i++)
            x[i] += xo[i];
        kern_rmsnorm(xb, x, e->w->rms_ffn + l * D, (int)D, e->c->norm_eps);
        break;
    case ROW_ADD:
        for (size_t i = 0; i < D; i++)
            x[i] += xo[i];
        break;
    case ROW_GATHER:
        for (int j = 0; j < e->K + e->S; j++)
            memcpy(expert_row(e, r, j), xb, sizeof(float) * D);
        break;
    case ROW_COMBINE:
        memset(xo, 0, sizeof(float) * D);
        for (int j = 0; j < e->K; j++)
            kern_axpy(xo, e->top_w[(size_t)r * (size_t)e->K + (size_t)j], expert_row(e, r, j),
                      (int)D);
        for (int j = e->K; j < e->K + e->S; j++) {
            const float *src = expert_row(e, r, j);
            for (size_t i = 0; i < D; i++)
                xo[i] += src[i];
        }
        break;
    }
}

static void rows_task(void *ctx, int t, int thread)
{
    (void)thread;
    Engine *e = ctx;
    int r0 = (int)((long)e->row_n * t / e->row_tasks);
    int r1 = (int)((long)e->row_n * (t + 1) / e->row_tasks);
    for (int r = r0; r < r1; r++)
        row_run(e, r);
}

/* Runs op over rows [0, n): in the caller when the rows are few (a hand-off to the pool costs
 * more than a decode batch's norms), else split over the threads (prefill: serial row work
 * would cap the second thread's gain). */
static void par_rows(Engine *e, int n, RowOp op)
{
    int threads = pool_threads(e->pool);
    e->row_op = op;
    e->row_n = n;
    e->row_tasks = (long)n * e->D < 16384 || threads == 1 ? 1 : n < 4 * threads ? n : 4 * threads;
    if (e->row_tasks == 1)
        rows_task(e, 0, 0);
    else
        pool_run(e->pool, rows_task, e, e->row_tasks);
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

/* The experts' FFNs over the rows gathered for them (ROW_GATHER): the gate and up projections
 * of every active expert in one dispatch (each expert's rows one matrix product), SwiGLU, the
 * down projections in a second dispatch, written over the inputs, where ROW_COMBINE reads
 * each row's results. */
static void run_experts(Engine *e)
{
    size_t D = (size_t)e->D, G = (size_t)e->G, R = (size_t)e->max_rows;
    int ES = e->E + e->S, moe_layer = e->layer - e->Ld;
    MatJob *jobs = e->exp_jobs;
    int n_jobs = 0;
    for (int ex = 0; ex < ES; ex++) {
        int m = e->exp_count[ex];
        if (m == 0)
            continue;
        float *in = e->exp_in + (size_t)ex * R * D;
        size_t base = (size_t)moe_layer * (size_t)ES + (size_t)ex;
        jobs[n_jobs++] = (MatJob){e->exp_h1 + (size_t)ex * R * G, (int)G, in, (int)D,
                                  &e->qw->ew1[base], m, (int)D, (int)G, 0, 0, NULL, NULL};
        jobs[n_jobs++] = (MatJob){e->exp_h3 + (size_t)ex * R * G, (int)G, in, (int)D,
                                  &e->qw->ew3[base], m, (int)D, (int)G, 0, 0, NULL, NULL};
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
                                  e->exp_h1 + (size_t)ex * R * G, (int)G, &e->qw->ew2[base], m,
                                  (int)G, (int)D, 0, 0, NULL, NULL};
    }
    par_matmuls(e, jobs, n_jobs, NULL);
}

static void moe_block(Engine *e, int n, PhaseCounters *cnt, double *expert_tokens)
{
    int E = e->E, K = e->K, S = e->S, D = e->D, G = e->G, moe_layer = e->layer - e->Ld;
    e->router_m = qt_fp32(e->w->router + (size_t)moe_layer * (size_t)E * (size_t)D, E, D);
    MatJob job = {e->router_logits, E, e->xb, D, &e->router_m, n, D, E, 0, 0, NULL, NULL};
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
        int *pos = e->exp_pos + (size_t)r * (size_t)(K + S);
        for (int j = 0; j < K; j++)
            pos[j] = e->exp_count[idx[j]]++;
        for (int s = 0; s < S; s++)
            pos[K + s] = e->exp_count[E + s]++;
    }
    int distinct = 0;
    for (int x = 0; x < E; x++) {
        distinct += e->exp_count[x] > 0;
        expert_tokens[(size_t)e->layer * (size_t)E + (size_t)x] += e->exp_count[x];
    }
    par_rows(e, n, ROW_GATHER);
    run_experts(e);
    par_rows(e, n, ROW_COMBINE);
    double dD = D, dG = G;
    cnt->flops += n * (3.0 * E + 2.0 * K + (K + S) * (6.0 * dD * dG + 5.0 * dG) + 2.0 * dD * K +
                       dD * S);
    size_t e0 = (size_t)moe_layer * (size_t)(E + S);
    cnt->weight_bytes += (double)(distinct + S) *
                         (e->qw->ew1[e0].bytes + e->qw->ew2[e0].bytes + e->qw->ew3[e0].bytes);
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
    int l = e->layer;
    MatJob up[2] = {{e->hb, F, e->xb, D, &e->qw->w1[l], n, D, F, 0, 0, NULL, NULL},
                    {e->hb2, F, e->xb, D, &e->qw->w3[l], n, D, F, 0, 0, NULL, NULL}};
    par_matmuls(e, up, 2, cnt);
    e->swiglu_rows = n;
    pool_run(e->pool, swiglu_task, e, n < 4 * pool_threads(e->pool) ? n : 4 * pool_threads(e->pool));
    cnt->flops += 5.0 * n * F;
    MatJob down = {e->xo, D, e->hb, F, &e->qw->w2[l], n, F, D, 0, 0, NULL, NULL};
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
        if (e->block_table[(size_t)r->slot * (size_t)e->slot_blocks +
                           (size_t)(r->pos / e->block_tokens)] < 0)
            return ts_err_set(err, TS_EINPUT, "row %d: slot %d has no KV block for position %d",
                              i, r->slot, r->pos);
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
    return eng_step_ex(e, rows, n, NULL, NULL, logits, phase, err);
}

int eng_step_ex(Engine *e, const FwdRow *rows, int n, const float *x_in, float *hidden,
                float *logits, Phase phase, TsErr *err)
{
    if (check_rows(e, rows, n, err))
        return err->code;
    PhaseCounters *cnt = &e->cnt[phase];
    const Weights *w = e->w;
    const QWeights *qw = e->qw;
    const EngineConfig *c = e->c;
    int D = e->D, Q = e->Q, KV = e->KV, hd = e->hd;
    double fsz = sizeof(float), kvsz = e->kv_elt;
    e->rows = rows;

    if (x_in) {
        memcpy(e->x, x_in, fsz * (size_t)n * (size_t)D);
    } else {
        par_rows(e, n, ROW_EMBED);
        cnt->weight_bytes += n * qt_row_bytes(qw->emb.prec, D);
    }

    for (int l = 0; l < e->L; l++) {
        e->layer = l;
        par_rows(e, n, ROW_NORM_ATT);
        cnt->flops += 4.0 * n * D;
        cnt->weight_bytes += D * fsz;

        MatJob qkv[3] = {
            {e->q, Q, e->xb, D, &qw->wq[l], n, D, Q, 0, 0, NULL, NULL},
            {e->k, KV, e->xb, D, &qw->wk[l], n, D, KV, 0, 0, NULL, NULL},
            {e->v, KV, e->xb, D, &qw->wv[l], n, D, KV, 0, 0, NULL, NULL},
        };
        par_matmuls(e, qkv, 3, cnt);
        par_rows(e, n, ROW_ROPE_CACHE);
        for (int r = 0; r < n; r++) {
            double ctx = rows[r].pos + 1.0;
            cnt->flops += 3.0 * (Q + KV) + e->H * (4.0 * hd * ctx + 4.0 * ctx);
            cnt->kv_write_bytes += 2.0 * KV * kvsz;
            cnt->kv_read_bytes += 2.0 * KV * kvsz * ctx;
        }
        pool_run(e->pool, attention_task, e, n * e->H);

        MatJob o = {e->xo, D, e->att, Q, &qw->wo[l], n, Q, D, 0, 0, NULL, NULL};
        par_matmuls(e, &o, 1, cnt);
        par_rows(e, n, ROW_ADD_NORM_FFN);
        cnt->flops += (double)n * D;
        cnt->flops += 4.0 * n * D;
        cnt->weight_bytes += D * fsz;
        if (l < e->Ld)
            dense_ffn(e, n, cnt);
        else
            moe_block(e, n, cnt, e->expert_tokens[phase]);
        par_rows(e, n, ROW_ADD);
        cnt->flops += (double)n * D;
    }
    if (hidden)
        memcpy(hidden, e->x, fsz * (size_t)n * (size_t)D);

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
        MatJob head = {logits, e->V, e->logit_in, D, &qw->wcls, m, D, e->V, 0, 0, NULL, NULL};
        par_matmuls(e, &head, 1, cnt);
    }

    for (int r = 0; r < n; r++)
        e->slot_len[rows[r].slot] = rows[r].pos + 1;
    cnt->rows += n;
    cnt->steps += 1;
    e->rows = NULL;
    return 0;
}

int eng_set_blocks(Engine *e, int slot, const int32_t *blocks, int n, int len, TsErr *err)
{
    if (!e->paged)
        return ts_err_set(err, TS_EINPUT, "the engine's KV cache is not paged");
    if (slot < 0 || slot >= e->max_slots || n < 0 || n > e->slot_blocks || len < 0 ||
        len > n * e->block_tokens)
        return ts_err_set(err, TS_EINPUT, "slot %d: %d blocks holding %d positions do not fit "
                                          "(at most %d blocks of %d)",
                          slot, n, len, e->slot_blocks, e->block_tokens);
    int32_t *t = e->block_table + (size_t)slot * (size_t)e->slot_blocks;
    for (int k = 0; k < e->slot_blocks; k++) {
        if (k < n && (blocks[k] < 0 || blocks[k] >= e->n_blocks))
            return ts_err_set(err, TS_EINPUT, "slot %d: block %d out of [0, %d)", slot,
                              blocks[k], e->n_blocks);
    }
    for (int k = 0; k < e->slot_blocks; k++)
        t[k] = k < n ? blocks[k] : -1;
    e->slot_len[slot] = len;
    return 0;
}

int eng_truncate(Engine *e, int slot, int len, TsErr *err)
{
    if (slot < 0 || slot >= e->max_slots || len < 0 || len > e->slot_len[slot])
        return ts_err_set(err, TS_EINPUT, "slot %d cannot be cut back to %d positions", slot, len);
    e->slot_len[slot] = len;
    return 0;
}

void eng_count(Engine *e, Phase phase, double flops, double weight_bytes)
{
    e->cnt[phase].flops += flops;
    e->cnt[phase].weight_bytes += weight_bytes;
}

int eng_project(Engine *e, float *y, const float *x, const QMat *m, int rows, Phase phase,
                TsErr *err)
{
    if (rows < 1 || rows > e->max_rows)
        return ts_err_set(err, TS_EINPUT, "a projection takes 1 to %d rows, got %d", e->max_rows,
                          rows);
    if (m->prec != PREC_FP32 &&
        2 * (size_t)rows * (size_t)m->kpad * (size_t)prec_elt_bytes(m->prec) + 128 > e->act_cap)
        return ts_err_set(err, TS_EINPUT, "a projection of %d inputs is wider than the engine's "
                                          "scratch", m->cols);
    MatJob job = {y, m->rows, x, m->cols, m, rows, m->cols, m->rows, 0, 0, NULL, NULL};
    par_matmuls(e, &job, 1, &e->cnt[phase]);
    return 0;
}

double eng_kv_elt_bytes(const Engine *e)
{
    return e->kv_elt;
}
