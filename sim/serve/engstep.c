/* engstep: one engine step per scheduler step. Block tables are set from the items before the
 * step (an item's first `start` positions are in its blocks: cached prefix or earlier steps),
 * rows are the items' positions in scheduling order, and only a chunk's last row asks for
 * logits when it emits. The clock is CLOCK_MONOTONIC around table setting, the step and the
 * argmax. */
#include "sim/serve/engstep.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct EngStep {
    EngStepConfig c;
    Engine *e;
    FwdRow *rows;   /* (max_rows) */
    float *logits;  /* (max_rows, vocab) */
    int max_rows, vocab;
    long sampled;   /* argmax results, summed: keeps the sampling from being optimised away */
};

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int engstep_token(int64_t id, int32_t pos, int vocab)
{
    uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15ull ^ ((uint64_t)pos + 1) * 0xC2B2AE3D27D4EB4Full;
    h ^= h >> 29;
    return (int)(h % (uint64_t)vocab);
}

int engstep_new(const EngStepConfig *c, EngStep **out, TsErr *err)
{
    *out = NULL;
    const SchedConfig *sc = c->sched;
    if (sched_config_check(sc, err))
        return err->code;
    if (sc->block_tokens > c->cfg->max_seq)
        return ts_err_set(err, TS_EINPUT, "KV blocks of %d tokens are longer than the model's "
                                          "%d positions", sc->block_tokens, c->cfg->max_seq);
    EngStep *s = calloc(1, sizeof *s);
    if (!s)
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    s->c = *c;
    s->vocab = (int)c->cfg->shape.vocab;
    s->max_rows = sc->max_batched_tokens > sc->max_num_seqs ? sc->max_batched_tokens
                                                            : sc->max_num_seqs;
    EngPaging pg = {sc->kv_blocks, sc->block_tokens};
    int rc = eng_new_paged(c->cfg, c->w, c->q, c->kv, &pg, c->max_slots, c->cfg->max_seq,
                           s->max_rows, c->pool, &s->e, err);
    if (!rc) {
        s->rows = malloc(sizeof *s->rows * (size_t)s->max_rows);
        s->logits = malloc(sizeof(float) * (size_t)s->max_rows * (size_t)s->vocab);
        if (!s->rows || !s->logits)
            rc = ts_err_set(err, TS_ENOMEM, "out of memory");
    }
    if (rc) {
        engstep_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void engstep_free(EngStep *s)
{
    if (!s)
        return;
    eng_free(s->e);
    free(s->rows);
    free(s->logits);
    free(s);
}

/* Sets an item's table and appends its rows; *logit_rows counts rows asking for logits. */
static int add_item(EngStep *s, const StepItem *it, int *n, int *logit_rows, TsErr *err)
{
    if (it->slot >= s->c.max_slots)
        return ts_err_set(err, TS_EINPUT, "request %lld holds scheduler slot %d; the engine "
                                          "serves %d outstanding requests",
                          (long long)it->id, it->slot, s->c.max_slots);
    if (it->start + it->tokens > s->c.cfg->max_seq)
        return ts_err_set(err, TS_EINPUT, "request %lld reaches position %d past the model's %d",
                          (long long)it->id, it->start + it->tokens, s->c.cfg->max_seq);
    if (eng_set_blocks(s->e, it->slot, it->blocks, it->n_blocks, it->start, err))
        return err->code;
    for (int32_t i = 0; i < it->tokens; i++) {
        int last = i == it->tokens - 1 && it->emits;
        s->rows[(*n)++] = (FwdRow){it->slot, it->start + i,
                                   engstep_token(it->id, it->start + i, s->vocab), last};
        *logit_rows += last;
    }
    return 0;
}

static int engstep_step(void *ctx, const StepBatch *b, double *seconds, TsErr *err)
{
    EngStep *s = ctx;
    double t0 = now_s();
    int n = 0, lr = 0;
    if (b->tokens > s->max_rows)
        return ts_err_set(err, TS_EINPUT, "a step of %lld tokens is over the engine's %d rows",
                          (long long)b->tokens, s->max_rows);
    for (int32_t k = 0; k < b->n_decode; k++)
        if (add_item(s, &b->decode[k], &n, &lr, err))
            return err->code;
    for (int32_t k = 0; k < b->n_prefill; k++)
        if (add_item(s, &b->prefill[k], &n, &lr, err))
            return err->code;
    if (n > 0 && eng_step(s->e, s->rows, n, lr ? s->logits : NULL,
                          b->n_prefill > 0 ? PHASE_PREFILL : PHASE_DECODE, err))
        return err->code;
    for (int r = 0; r < lr; r++) {
        const float *x = s->logits + (size_t)r * (size_t)s->vocab;
        int best = 0;
        for (int v = 1; v < s->vocab; v++)
            best = x[v] > x[best] ? v : best;
        s->sampled += best;
    }
    *seconds = now_s() - t0;
    return 0;
}

StepBackend engstep_backend(EngStep *s)
{
    StepBackend b = {engstep_step, s};
    return b;
}

const PhaseCounters *engstep_counters(const EngStep *s, Phase phase)
{
    return eng_counters(s->e, phase);
}
