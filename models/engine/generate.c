/* generate: llama2.c's generation loop on our engine. The prompt's positions run as one
 * prefill step (only the last position's logits are needed: earlier next tokens are forced),
 * which gives the same logits as llama2.c's token-by-token loop up to float rounding. */
#include "models/engine/generate.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "models/engine/forward.h"
#include "models/engine/pool.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int argmax(const float *v, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

/* xorshift64* in [0, 1) */
static float rand01(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (float)((*s * 0x2545F4914F6CDD1Dull) >> 40) / 16777216.0f;
}

typedef struct {
    float p;
    int i;
} ProbIndex;

static int cmp_prob_desc(const void *a, const void *b)
{
    float x = ((const ProbIndex *)a)->p, y = ((const ProbIndex *)b)->p;
    return (x < y) - (x > y);
}

/* Samples from softmax(logits / temperature) restricted to the smallest set of tokens whose
 * probability reaches top_p. */
static int sample(float *logits, int n, float temperature, float top_p, uint64_t *rng,
                  ProbIndex *scratch)
{
    float max = logits[0];
    for (int i = 1; i < n; i++)
        max = logits[i] > max ? logits[i] : max;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        logits[i] = expf((logits[i] - max) / temperature);
        sum += logits[i];
    }
    for (int i = 0; i < n; i++) {
        scratch[i].p = (float)(logits[i] / sum);
        scratch[i].i = i;
    }
    qsort(scratch, (size_t)n, sizeof *scratch, cmp_prob_desc);
    double kept = 0;
    int last = n - 1;
    for (int i = 0; i < n; i++) {
        kept += scratch[i].p;
        if (kept >= top_p) {
            last = i;
            break;
        }
    }
    float r = rand01(rng) * (float)kept, acc = 0;
    for (int i = 0; i <= last; i++) {
        acc += scratch[i].p;
        if (r < acc)
            return scratch[i].i;
    }
    return scratch[last].i;
}

static void emit_safe(GenEmit emit, void *ctx, const char *piece)
{
    if (!piece || !piece[0])
        return;
    if (piece[1] == '\0') {
        unsigned char b = (unsigned char)piece[0];
        if (!(isprint(b) || isspace(b)))
            return;
    }
    emit(ctx, piece);
}

int gen_run(const EngineConfig *c, const Weights *w, const Tokenizer *tok, const GenOptions *o,
            GenEmit emit, void *emit_ctx, GenStats *stats, TsErr *err)
{
    memset(stats, 0, sizeof *stats);
    if (tok->vocab_size != c->shape.vocab)
        return ts_err_set(err, TS_EINPUT, "the tokenizer has %d tokens but the model %ld",
                          tok->vocab_size, c->shape.vocab);
    if (!(o->temperature >= 0) || !(o->top_p > 0 && o->top_p <= 1))
        return ts_err_set(err, TS_EINPUT, "temperature must be >= 0 and top-p in (0, 1]");
    int steps = o->steps <= 0 || o->steps > c->max_seq ? c->max_seq : o->steps;
    const char *prompt = o->prompt ? o->prompt : "";
    size_t cap = strlen(prompt) + 3;
    int *ptok = malloc(sizeof(int) * cap);
    int n_prompt = 0;
    if (!ptok)
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    if (tok_encode(tok, prompt, 1, 0, ptok, (int)cap, &n_prompt, err)) {
        free(ptok);
        return err->code;
    }
    if (n_prompt > steps) {
        free(ptok);
        return ts_err_set(err, TS_EINPUT, "the prompt is %d tokens; --steps %d leaves no room",
                          n_prompt, steps);
    }
    stats->prompt_tokens = n_prompt;
    Pool *pool = NULL;
    Engine *e = NULL;
    QWeights q;
    memset(&q, 0, sizeof q);
    float *logits = malloc(sizeof(float) * (size_t)c->shape.vocab);
    ProbIndex *scratch = malloc(sizeof(ProbIndex) * (size_t)c->shape.vocab);
    FwdRow *rows = malloc(sizeof(FwdRow) * (size_t)n_prompt);
    int rc = 0;
    if (!logits || !scratch || !rows)
        rc = ts_err_set(err, TS_ENOMEM, "out of memory");
    if (!rc)
        rc = pool_new(o->threads, &pool, err);
    if (!rc)
        rc = qw_build(&q, c, w, o->prec, NULL, err);
    if (!rc)
        rc = eng_new_q(c, w, &q, o->kv, 1, steps, n_prompt, pool, &e, err);
    uint64_t rng = o->seed ? o->seed : 1;
    double start = 0;
    int token = ptok[0], pos = 0;
    if (!rc) {
        /* positions 0 .. n_prompt-1 in one step: their next tokens are the prompt's own */
        for (int i = 0; i < n_prompt; i++)
            rows[i] = (FwdRow){0, i, ptok[i], i == n_prompt - 1};
        rc = eng_step(e, rows, n_prompt, logits, PHASE_PREFILL, err);
        for (int i = 0; !rc && i + 1 < n_prompt; i++) {
            char buf[8];
            emit_safe(emit, emit_ctx, tok_decode(tok, ptok[i], ptok[i + 1], buf));
        }
        token = ptok[n_prompt - 1];
        pos = n_prompt - 1;
    }
    while (!rc && pos < steps) {
        if (pos > n_prompt - 1) {
            FwdRow r = {0, pos, token, 1};
            if ((rc = eng_step(e, &r, 1, logits, PHASE_DECODE, err)))
                break;
        }
        int next = o->temperature == 0.0f
                       ? argmax(logits, (int)c->shape.vocab)
                       : sample(logits, (int)c->shape.vocab, o->temperature, o->top_p, &rng,
                                scratch);
        pos++;
        if (next == TOK_BOS)
            break;
        char buf[8];
        emit_safe(emit, emit_ctx, tok_decode(tok, token, next, buf));
        token = next;
        stats->generated++;
        if (start == 0)
            start = now_s();
    }
    if (start > 0)
        stats->seconds = now_s() - start;
    eng_free(e);
    qw_free(&q);
    pool_free(pool);
    free(ptok);
    free(logits);
    free(scratch);
    free(rows);
    return rc;
}
