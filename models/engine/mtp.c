/* mtp: the modules (seeded weights, one engine each for the block's attention cache) and the
 * draft-verify-accept loop. Depth k at position j needs the hidden state of depth k - 1 at j
 * and token t(j+k); a position is final once both are (t(j+k) no longer a draft), so each
 * depth re-runs only its positions from the first one that was not final last time. */
#include "models/engine/mtp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/engine/kernels.h"
#include "models/engine/memory.h"

typedef struct {
    float *data;        /* block matrices, norms and projection (owned) */
    Weights w;          /* the block as a 1-layer model; embedding and head borrowed */
    QWeights q;         /* its matrices in the main model's precision */
    const float *proj_f32; /* (D, 2D) */
    QMat proj;
    void *proj_owned;
    const float *norm_h, *norm_e; /* (D) */
    Engine *e;
} MtpDepth;

struct MtpModel {
    EngineConfig cfg;        /* the block's: one dense layer */
    const EngineConfig *main_c;
    QWeights main_q_own;     /* float32 views when the caller gave no QWeights */
    const QWeights *main_q;
    int depth, D, V, max_seq, max_rows;
    MtpDepth d[MTP_MAX_DEPTH];
    double params_per_depth;
    float *hist;   /* (depth + 1, max_seq, D): hidden states by depth (0: main) and position */
    float *xin;    /* (max_rows, 2D) normalised pairs */
    float *xproj;  /* (max_rows, D) */
    float *hid;    /* (max_rows, D) */
    float *emb;    /* (D) one embedding row */
    float *logits; /* (max_rows, V) */
    FwdRow *rows;  /* (max_rows) */
    int done[MTP_MAX_DEPTH + 1]; /* per depth: first position not final */
    /* the generation in progress (mtp_prefill to mtp_decode) */
    MtpOptions opt;
    int slot, n_gen, N; /* T[0..N] final, T[N] not yet run by the main model */
    int *T;             /* (max_seq + MTP_MAX_DEPTH + 2) tokens */
    int *out;           /* the caller's, n_gen */
    int drafts[MTP_MAX_DEPTH + 2]; /* drafts[k]: depth k's guess at T[N + k] */
    double acc[MTP_MAX_DEPTH + 1]; /* forced acceptance accumulators */
};

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* n values uniform in [-a, a] with a = sqrt(3 / fan_in): variance 1 / fan_in. */
static void fill_uniform(float *x, size_t n, int fan_in, uint64_t *s)
{
    float a = sqrtf(3.0f / (float)fan_in);
    for (size_t i = 0; i < n; i++)
        x[i] = a * ((float)(splitmix(s) >> 40) / 8388608.0f - 1.0f);
}

static void fill_ones(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = 1.0f;
}

void mtp_free(MtpModel *m)
{
    if (!m)
        return;
    for (int k = 0; k < MTP_MAX_DEPTH; k++) {
        eng_free(m->d[k].e);
        qw_free(&m->d[k].q);
        free(m->d[k].proj_owned);
        free(m->d[k].data);
    }
    qw_free(&m->main_q_own);
    free(m->hist);
    free(m->xin);
    free(m->xproj);
    free(m->hid);
    free(m->emb);
    free(m->logits);
    free(m->rows);
    free(m->T);
    free(m);
}

/* Carves one depth's floats (layout of a 1-layer model, then projection and norms), seeds them
 * and builds its engine. */
static int depth_new(MtpModel *m, MtpDepth *d, const Weights *mw, uint64_t *seed, Precision kv,
                     int max_slots, Pool *pool, TsErr *err)
{
    const ModelShape *s = &m->cfg.shape;
    size_t D = (size_t)s->d_model, Q = (size_t)(s->heads * s->head_dim);
    size_t KV = (size_t)(s->kv_heads * s->head_dim), F = (size_t)s->ffn;
    size_t sizes[] = {D, Q * D, KV * D, KV * D, D * Q, D, F * D, D * F, F * D, D * 2 * D, D, D};
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        total += sizes[i];
    d->data = mem_alloc(sizeof(float) * total);
    if (!d->data)
        return ts_err_set(err, TS_ENOMEM, "out of memory for the MTP modules");
    float *p = d->data;
    Weights *w = &d->w;
    memset(w, 0, sizeof *w);
    w->rms_att = p, p += D;
    w->wq = p, p += Q * D;
    w->wk = p, p += KV * D;
    w->wv = p, p += KV * D;
    w->wo = p, p += D * Q;
    w->rms_ffn = p, p += D;
    w->w1 = p, p += F * D;
    w->w2 = p, p += D * F;
    w->w3 = p, p += F * D;
    d->proj_f32 = p, p += 2 * D * D;
    d->norm_h = p, p += D;
    d->norm_e = p;
    w->token_embedding = mw->token_embedding;
    w->wcls = mw->wcls;
    w->rms_final = mw->rms_final;
    w->data = d->data;
    w->n_floats = total;
    w->borrowed = 1;
    fill_ones(w->rms_att, D);
    fill_uniform(w->wq, (Q + 2 * KV) * D, (int)D, seed);
    fill_uniform(w->wo, D * Q, (int)Q, seed);
    fill_ones(w->rms_ffn, D);
    fill_uniform(w->w1, F * D, (int)D, seed);
    fill_uniform(w->w2, D * F, (int)F, seed);
    fill_uniform(w->w3, F * D, (int)D, seed);
    fill_uniform((float *)d->proj_f32, 2 * D * D, (int)(2 * D), seed);
    fill_ones((float *)d->norm_h, 2 * D);
    Precision prec = m->main_q->prec;
    if (qw_build(&d->q, &m->cfg, w, prec, m->main_q, err) ||
        qt_mat_new(&d->proj, prec, d->proj_f32, (int)D, (int)(2 * D), &d->proj_owned, err))
        return err->code;
    return eng_new_q(&m->cfg, w, &d->q, kv, max_slots, m->max_seq, m->max_rows, pool, &d->e,
                     err);
}

int mtp_new(const EngineConfig *c, const Weights *w, const QWeights *q, int depth, uint64_t seed,
            Precision kv, int max_slots, int max_seq, int max_rows, Pool *pool, MtpModel **out,
            TsErr *err)
{
    *out = NULL;
    if (depth < 1 || depth > MTP_MAX_DEPTH)
        return ts_err_set(err, TS_EINPUT, "MTP depth must be in [1, %d], got %d", MTP_MAX_DEPTH,
                          depth);
    if (max_rows < 2 * depth + 1)
        return ts_err_set(err, TS_EINPUT, "MTP of depth %d needs room for %d rows per step",
                          depth, 2 * depth + 1);
    MtpModel *m = calloc(1, sizeof *m);
    if (!m)
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    m->main_c = c;
    m->depth = depth;
    m->D = (int)c->shape.d_model;
    m->V = (int)c->shape.vocab;
    m->max_seq = max_seq;
    m->max_rows = max_rows;
    m->cfg = *c;
    ModelShape *s = &m->cfg.shape;
    long width = s->ffn > 0 ? s->ffn : s->experts_active * s->expert_ffn;
    snprintf(m->cfg.name, sizeof m->cfg.name, "mtp");
    s->layers = 1;
    s->ffn = width;
    s->experts = s->experts_active = s->shared_experts = s->expert_ffn = s->dense_layers = 0;
    double Dd = (double)s->d_model, Qd = (double)(s->heads * s->head_dim);
    double KVd = (double)(s->kv_heads * s->head_dim), Fd = (double)width;
    m->params_per_depth = 2.0 * Dd * Qd + 2.0 * KVd * Dd + 3.0 * Fd * Dd + 2.0 * Dd * Dd +
                          4.0 * Dd;
    int rc = 0;
    if (!q) {
        rc = qw_build(&m->main_q_own, c, w, PREC_FP32, NULL, err);
        q = &m->main_q_own;
    }
    m->main_q = q;
    size_t D = (size_t)m->D, R = (size_t)max_rows;
    m->hist = malloc(sizeof(float) * (size_t)(depth + 1) * (size_t)max_seq * D);
    m->xin = malloc(sizeof(float) * R * 2 * D);
    m->xproj = malloc(sizeof(float) * R * D);
    m->hid = malloc(sizeof(float) * R * D);
    m->emb = malloc(sizeof(float) * D);
    m->logits = malloc(sizeof(float) * R * (size_t)m->V);
    m->rows = malloc(sizeof(FwdRow) * R);
    m->T = malloc(sizeof(int) * (size_t)(max_seq + MTP_MAX_DEPTH + 2));
    if (!rc && (!m->T || !m->hist || !m->xin || !m->xproj || !m->hid || !m->emb || !m->logits ||
                !m->rows))
        rc = ts_err_set(err, TS_ENOMEM, "out of memory for the MTP modules");
    for (int k = 0; !rc && k < depth; k++)
        rc = depth_new(m, &m->d[k], w, &seed, kv, max_slots, pool, err);
    if (rc) {
        mtp_free(m);
        return err->code ? err->code : rc;
    }
    *out = m;
    return 0;
}

const EngineConfig *mtp_block_config(const MtpModel *m)
{
    return &m->cfg;
}

double mtp_params_per_depth(const MtpModel *m)
{
    return m->params_per_depth;
}

void mtp_add_counters(const MtpModel *m, Phase phase, PhaseCounters *acc)
{
    for (int k = 0; k < m->depth; k++) {
        const PhaseCounters *c = eng_counters(m->d[k].e, phase);
        acc->flops += c->flops;
        acc->weight_bytes += c->weight_bytes;
        acc->kv_read_bytes += c->kv_read_bytes;
        acc->kv_write_bytes += c->kv_write_bytes;
    }
}

void mtp_reset_counters(MtpModel *m)
{
    for (int k = 0; k < m->depth; k++)
        eng_reset_counters(m->d[k].e);
}

double mtp_tokens_per_step(double a, int depth)
{
    double t = 1.0, p = 1.0;
    for (int k = 0; k < depth; k++) {
        p *= a;
        t += p;
    }
    return t;
}

static int argmax(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        best = x[i] > x[best] ? i : best;
    return best;
}

static float *hist_at(const MtpModel *m, int depth, int pos)
{
    return m->hist + ((size_t)depth * (size_t)m->max_seq + (size_t)pos) * (size_t)m->D;
}

/* Depth k (1-based) over its positions from done[k] to N - 1, where T[0..N] are final and
 * drafts[1..] extend them; its last row's prediction goes to drafts[k]. */
static int depth_run(MtpModel *m, int k, int slot, const int *T, int N, int *drafts, Phase ph,
                     TsErr *err)
{
    MtpDepth *d = &m->d[k - 1];
    int D = m->D, j0 = m->done[k], n = N - j0;
    const EngineConfig *c = m->main_c;
    double emb_bytes = 0;
    for (int i = 0; i < n; i++) {
        int j = j0 + i, tok = j + k <= N ? T[j + k] : drafts[j + k - N];
        float *x = m->xin + (size_t)i * 2 * (size_t)D;
        kern_rmsnorm(x, hist_at(m, k - 1, j), d->norm_h, D, c->norm_eps);
        emb_bytes += qt_lookup(&m->main_q->emb, tok, m->emb);
        kern_rmsnorm(x + D, m->emb, d->norm_e, D, c->norm_eps);
        m->rows[i] = (FwdRow){slot, j, tok, i == n - 1};
    }
    eng_count(d->e, ph, 8.0 * D * n, emb_bytes + 2.0 * D * sizeof(float));
    if (eng_project(d->e, m->xproj, m->xin, &d->proj, n, ph, err) ||
        eng_truncate(d->e, slot, j0, err) ||
        eng_step_ex(d->e, m->rows, n, m->xproj, m->hid, m->logits, ph, err))
        return err->code;
    memcpy(hist_at(m, k, j0), m->hid, sizeof(float) * (size_t)n * (size_t)D);
    drafts[k] = argmax(m->logits, m->V);
    m->done[k] = N - k + 1 > 0 ? N - k + 1 : 0;
    return 0;
}

static int draft_all(MtpModel *m, int depth, int slot, const int *T, int N, int *drafts, Phase ph,
                     TsErr *err)
{
    for (int k = 1; k <= depth; k++)
        if (depth_run(m, k, slot, T, N, drafts, ph, err))
            return err->code;
    return 0;
}

/* How many of nd drafts to keep: the agreeing prefix, or the forced pattern. */
static int accept_count(MtpModel *m, const MtpOptions *o, const int *drafts, const int *g, int nd,
                        int *matched)
{
    int a = 0;
    while (a < nd && drafts[a + 1] == g[a])
        a++;
    *matched = a;
    if (!m || o->force_accept < 0)
        return a;
    a = 0;
    for (int k = 1; k <= nd; k++) {
        m->acc[k] += o->force_accept;
        if (m->acc[k] < 1.0 - 1e-9)
            break;
        m->acc[k] -= 1.0;
        a = k;
    }
    return a;
}

int mtp_prefill(Engine *main, MtpModel *m, const MtpOptions *o, int slot, const int *prompt,
                int n_prompt, int n_gen, int *out, MtpStats *st, TsErr *err)
{
    memset(st, 0, sizeof *st);
    m->opt = *o;
    m->slot = slot;
    m->n_gen = n_gen;
    m->out = out;
    if (o->depth < 0 || o->depth > m->depth)
        return ts_err_set(err, TS_EINPUT, "MTP depth %d is outside the model's [0, %d]",
                          o->depth, m->depth);
    if (o->force_accept > 1.0)
        return ts_err_set(err, TS_EINPUT, "a forced acceptance rate must be in [0, 1]");
    if (n_prompt < 1 || n_gen < 1 || n_prompt + n_gen > m->max_seq || n_prompt > m->max_rows)
        return ts_err_set(err, TS_EINPUT,
                          "a prompt of 1 to %d tokens and at least one more token must fit the "
                          "engine's %d positions",
                          m->max_rows, m->max_seq);
    memcpy(m->T, prompt, sizeof(int) * (size_t)n_prompt);
    int rc = eng_truncate(main, slot, 0, err);
    for (int k = 0; !rc && k < m->depth; k++)
        rc = eng_truncate(m->d[k].e, slot, 0, err);
    memset(m->done, 0, sizeof m->done);
    memset(m->acc, 0, sizeof m->acc);
    memset(m->drafts, 0, sizeof m->drafts);
    m->N = n_prompt;
    for (int i = 0; !rc && i < n_prompt; i++)
        m->rows[i] = (FwdRow){slot, i, prompt[i], i == n_prompt - 1};
    if (!rc)
        rc = eng_step_ex(main, m->rows, n_prompt, NULL, hist_at(m, 0, 0), m->logits,
                         PHASE_PREFILL, err);
    if (rc)
        return rc;
    m->T[m->N] = argmax(m->logits, m->V);
    out[st->emitted++] = m->T[m->N];
    if (st->emitted < n_gen)
        return draft_all(m, o->depth, slot, m->T, m->N, m->drafts, PHASE_PREFILL, err);
    return 0;
}

int mtp_decode(Engine *main, MtpModel *m, MtpStats *st, TsErr *err)
{
    const MtpOptions *o = &m->opt;
    int depth = o->depth, slot = m->slot, n_gen = m->n_gen, V = m->V, rc = 0;
    int *T = m->T, *drafts = m->drafts, g[MTP_MAX_DEPTH + 1];
    while (st->emitted < n_gen) {
        /* verify: the pending token and the drafts, one step */
        int N = m->N, nd = depth;
        nd = nd < n_gen - st->emitted - 1 ? nd : n_gen - st->emitted - 1;
        nd = nd < m->max_seq - 1 - N ? nd : m->max_seq - 1 - N;
        nd = nd > 0 ? nd : 0;
        for (int i = 0; i <= nd; i++)
            m->rows[i] = (FwdRow){slot, N + i, i == 0 ? T[N] : drafts[i], 1};
        if ((rc = eng_step_ex(main, m->rows, nd + 1, NULL, hist_at(m, 0, N), m->logits,
                              PHASE_DECODE, err)))
            return rc;
        for (int i = 0; i <= nd; i++)
            g[i] = argmax(m->logits + (size_t)i * (size_t)V, V);
        int matched, a = accept_count(m, o, drafts, g, nd, &matched);
        for (int i = 1; i <= a; i++)
            T[N + i] = drafts[i];
        T[N + a + 1] = g[a];
        for (int i = 1; i <= a + 1 && st->emitted < n_gen; i++)
            m->out[st->emitted++] = T[N + i];
        st->steps++;
        st->drafted += nd;
        st->matched += matched;
        st->accepted += a;
        m->N = N + a + 1;
        if ((rc = eng_truncate(main, slot, m->N, err)))
            return rc;
        if (depth > 0 && st->emitted < n_gen &&
            (rc = draft_all(m, depth, slot, T, m->N, drafts, PHASE_DECODE, err)))
            return rc;
    }
    return 0;
}

int mtp_generate(Engine *main, MtpModel *m, const MtpOptions *o, int slot, const int *prompt,
                 int n_prompt, int n_gen, int *out, MtpStats *st, TsErr *err)
{
    if (mtp_prefill(main, m, o, slot, prompt, n_prompt, n_gen, out, st, err))
        return err->code;
    return mtp_decode(main, m, st, err);
}
