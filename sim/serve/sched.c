/* sched: sequences live in slots (reused through a free list); the waiting queue is a ring of
 * slots (preempted ones go to its front), the running list keeps admission order so the newest is
 * at its end. Each slot's block table only grows while it runs; tables are kept across reuse.
 * Answer-token gaps of sequences that emitted in the previous step too all equal the step's
 * duration and go to the histogram as one weighted add, so commit stays cheap at large batches.
 * No time model, no printing. */
#include "sim/serve/sched.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* Hot fields (read every step) first, the request's copy last. */
typedef struct {
    int32_t known;     /* tokens whose KV can be computed: prompt + answer tokens so far */
    int32_t computed;  /* tokens in the KV cache */
    int32_t generated; /* answer tokens sampled */
    int32_t output;    /* answer tokens wanted */
    int32_t n_blocks, cap_blocks;
    int32_t registered; /* leading blocks whose content key was offered to the cache */
    int32_t cacheable;  /* leading blocks that have a content key (shared prefix, session) */
    int32_t *blocks;    /* (cap_blocks) */
    double first_token_s, last_token_s;
    int32_t cached_tokens, preemptions;
    int admitted_once;
    int finished;      /* set by commit until the running list is compacted */
    int32_t next_free; /* free-list link while the slot is unused */
    ServeRequest req;
} Seq;

struct Sched {
    SchedConfig cfg;
    KvPool kv;
    Seq *seqs;
    int32_t n_slots, cap_slots, free_slot;
    int32_t *wait; /* ring of slots */
    int32_t wait_head, n_wait, cap_wait;
    int32_t *run; /* (max_num_seqs) slots in admission order */
    int32_t n_run;
    StepItem *dec, *pre; /* (max_num_seqs) each */
    StepBatch plan;
    int planned;
    double prev_end_s; /* end of the previous committed step (-1: none) */
    SchedDone *done;   /* (max_num_seqs): at most that many finish in one step */
    int n_done;
    SchedStats st;
};

int sched_config_check(const SchedConfig *c, TsErr *err)
{
    if (c->max_num_seqs < 1 || c->max_num_seqs > 1000000)
        return ts_err_set(err, TS_EINPUT, "max_num_seqs must be 1 to 1000000");
    if (c->max_batched_tokens < 1)
        return ts_err_set(err, TS_EINPUT, "max_batched_tokens must be >= 1");
    if (c->block_tokens < 1 || c->block_tokens > 1024)
        return ts_err_set(err, TS_EINPUT, "block_tokens must be 1 to 1024");
    if (c->kv_blocks < 1 || c->kv_blocks > KV_MAX_BLOCKS)
        return ts_err_set(err, TS_EINPUT, "the KV cache holds %ld blocks: expected 1 to %d",
                          (long)c->kv_blocks, KV_MAX_BLOCKS);
    return 0;
}

int sched_new(const SchedConfig *c, Sched **out, TsErr *err)
{
    *out = NULL;
    int rc = sched_config_check(c, err);
    if (rc)
        return rc;
    Sched *s = calloc(1, sizeof *s);
    if (!s)
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    s->cfg = *c;
    s->free_slot = -1;
    s->prev_end_s = -1;
    size_t m = (size_t)c->max_num_seqs;
    s->run = malloc(m * sizeof *s->run);
    s->dec = malloc(m * sizeof *s->dec);
    s->pre = malloc(m * sizeof *s->pre);
    s->done = malloc(m * sizeof *s->done);
    if (!s->run || !s->dec || !s->pre || !s->done) {
        sched_free(s);
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    }
    if ((rc = kv_init(&s->kv, c->kv_blocks, c->prefix_cache, err)) != 0 ||
        (rc = hist_init(&s->st.itl, 1e-6, 1e6, 200, err)) != 0) {
        sched_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void sched_free(Sched *s)
{
    if (!s)
        return;
    for (int32_t i = 0; i < s->n_slots; i++)
        free(s->seqs[i].blocks);
    free(s->seqs);
    free(s->wait);
    free(s->run);
    free(s->dec);
    free(s->pre);
    free(s->done);
    kv_fini(&s->kv);
    hist_fini(&s->st.itl);
    free(s);
}

static int32_t blocks_for(const Sched *s, int64_t tokens)
{
    return (int32_t)((tokens + s->cfg.block_tokens - 1) / s->cfg.block_tokens);
}

/* Grows the waiting ring to hold `want` slots. */
static int wait_reserve(Sched *s, int32_t want)
{
    if (want <= s->cap_wait)
        return 0;
    int32_t cap = s->cap_wait ? s->cap_wait : 64;
    while (cap < want)
        cap *= 2;
    int32_t *w = malloc((size_t)cap * sizeof *w);
    if (!w)
        return -1;
    for (int32_t i = 0; i < s->n_wait; i++)
        w[i] = s->wait[(s->wait_head + i) % s->cap_wait];
    free(s->wait);
    s->wait = w;
    s->wait_head = 0;
    s->cap_wait = cap;
    return 0;
}

static int32_t wait_front(const Sched *s)
{
    return s->wait[s->wait_head];
}

static void wait_pop(Sched *s)
{
    s->wait_head = (s->wait_head + 1) % s->cap_wait;
    s->n_wait--;
}

/* Room is reserved at sched_add for every slot that can ever wait, so these cannot fail. */
static void wait_push_front(Sched *s, int32_t q)
{
    s->wait_head = (s->wait_head + s->cap_wait - 1) % s->cap_wait;
    s->wait[s->wait_head] = q;
    s->n_wait++;
}

int sched_add(Sched *s, const ServeRequest *r, TsErr *err)
{
    int64_t total = (int64_t)r->input_tokens + r->output_tokens;
    if (r->input_tokens < 1 || r->output_tokens < 1 || total > SERVE_MAX_SEQ_TOKENS || r->id < 0 ||
        r->id > SERVE_MAX_REQUEST_ID || r->generated_tokens < 0 ||
        r->generated_tokens > r->output_tokens || r->kv_ready_tokens < 0 ||
        r->kv_ready_tokens > r->input_tokens + r->generated_tokens - 1)
        return ts_err_set(err, TS_EINPUT, "request %lld: bad lengths (input %ld, output %ld)",
                          (long long)r->id, (long)r->input_tokens, (long)r->output_tokens);
    int32_t need = blocks_for(s, total - 1);
    if (need > s->cfg.kv_blocks)
        return ts_err_set(err, TS_EINPUT,
                          "request %lld needs %ld KV blocks (%lld tokens); the "
                          "replica holds %ld",
                          (long long)r->id, (long)need, (long long)total, (long)s->cfg.kv_blocks);
    if (!s->cfg.chunked_prefill && total > s->cfg.max_batched_tokens)
        return ts_err_set(err, TS_EINPUT,
                          "request %lld has %lld tokens, more than "
                          "max_batched_tokens %ld without chunked prefill",
                          (long long)r->id, (long long)total, (long)s->cfg.max_batched_tokens);
    if (r->generated_tokens >= r->output_tokens)
        return ts_err_set(err, TS_EINPUT, "request %lld has nothing left to generate",
                          (long long)r->id);
    int32_t q = s->free_slot;
    if (q < 0) {
        if (s->n_slots == s->cap_slots) {
            int32_t cap = s->cap_slots ? 2 * s->cap_slots : 64;
            Seq *seqs = realloc(s->seqs, (size_t)cap * sizeof *seqs);
            if (!seqs)
                return ts_err_set(err, TS_ENOMEM, "out of memory queueing a request");
            s->seqs = seqs;
            s->cap_slots = cap;
        }
        q = s->n_slots++;
        s->seqs[q].blocks = NULL;
        s->seqs[q].cap_blocks = 0;
    } else {
        s->free_slot = s->seqs[q].next_free;
    }
    /* every slot may wait at once (preemption pushes back without failing): ring >= slots */
    if (wait_reserve(s, s->n_slots) != 0) {
        s->seqs[q].next_free = s->free_slot;
        s->free_slot = q;
        return ts_err_set(err, TS_ENOMEM, "out of memory queueing a request");
    }
    Seq *e = &s->seqs[q];
    int32_t *blocks = e->blocks, cap = e->cap_blocks;
    memset(e, 0, sizeof *e);
    e->blocks = blocks;
    e->cap_blocks = cap;
    e->req = *r;
    e->output = r->output_tokens;
    e->cacheable = !s->cfg.prefix_cache ? 0
                   : r->session >= 0    ? INT32_MAX
                   : r->prefix_id >= 0  ? r->prefix_tokens / s->cfg.block_tokens
                                        : 0;
    e->generated = r->generated_tokens;
    e->known = r->input_tokens + r->generated_tokens;
    e->computed = r->kv_ready_tokens;
    e->first_token_s = r->generated_tokens > 0 ? r->first_token_s : -1;
    e->last_token_s = e->first_token_s;
    e->next_free = -1;
    s->wait[(s->wait_head + s->n_wait) % s->cap_wait] = q;
    s->n_wait++;
    s->st.added++;
    return 0;
}

/* The content key of block j (j < e->cacheable). Blocks of a request's own tokens have none:
 * nobody else can hit them, and caching them would only cost hash work (a preempted request
 * recomputes them). */
static uint64_t block_key(const Seq *e, int32_t j, int32_t bt)
{
    const ServeRequest *r = &e->req;
    if (r->prefix_id >= 0 && (int64_t)(j + 1) * bt <= r->prefix_tokens)
        return kv_key(KV_KEY_PREFIX, r->prefix_id, j);
    return kv_key(KV_KEY_SESSION, r->session, j);
}

/* Grows e's table to hold `want` blocks (a sequence never needs more than sched_add checked). */
static int reserve_blocks(Seq *e, int32_t want)
{
    if (want <= e->cap_blocks)
        return 0;
    int32_t cap = e->cap_blocks ? e->cap_blocks : 4;
    while (cap < want)
        cap *= 2;
    int32_t *b = realloc(e->blocks, (size_t)cap * sizeof *b);
    if (!b)
        return -1;
    e->blocks = b;
    e->cap_blocks = cap;
    return 0;
}

/* Frees e's blocks, last first, so its private tail is evicted before any shared head. */
static void release_blocks(Sched *s, Seq *e)
{
    for (int32_t j = e->n_blocks - 1; j >= 0; j--)
        kv_release(&s->kv, e->blocks[j]);
    e->n_blocks = 0;
    e->registered = 0;
}

static void preempt(Sched *s, int32_t q)
{
    Seq *e = &s->seqs[q];
    s->st.recomputed_tokens += e->computed;
    release_blocks(s, e);
    e->computed = 0;
    e->preemptions++;
    s->st.preemptions++;
    wait_push_front(s, q);
}

static void add_item(Sched *s, int32_t q, int32_t n)
{
    Seq *e = &s->seqs[q];
    int decode = n == 1 && e->generated > 0 && e->computed + 1 == e->known;
    StepItem *it = decode ? &s->dec[s->plan.n_decode++] : &s->pre[s->plan.n_prefill++];
    it->id = e->req.id; /* the request's line is read once per item: fine */
    it->slot = q;
    it->start = e->computed;
    it->tokens = n;
    it->emits = e->computed + n == e->known;
    it->n_blocks = e->n_blocks;
    it->blocks = e->blocks;
    if (decode)
        s->plan.decode_keys += (double)e->computed + 1.0;
    else
        s->plan.prefill_tokens += n;
}

/* Takes `need` new blocks for e (the caller checked availability). */
static void take_blocks(Sched *s, Seq *e, int32_t need)
{
    for (int32_t k = 0; k < need; k++)
        e->blocks[e->n_blocks++] = kv_alloc(&s->kv);
}

/* Prefix cache hits for a sequence with nothing computed: its leading full blocks, at most up to
 * the last known token (which must be computed to sample from it). */
static void take_hits(Sched *s, Seq *e)
{
    int32_t bt = s->cfg.block_tokens, max_hit = (e->known - 1) / bt;
    if (max_hit > e->cacheable)
        max_hit = e->cacheable;
    while (e->n_blocks < max_hit) {
        int32_t b = kv_lookup(&s->kv, block_key(e, e->n_blocks, bt));
        if (b < 0)
            break;
        e->blocks[e->n_blocks++] = b;
    }
    e->computed = e->n_blocks * bt;
    e->registered = e->n_blocks;
}

int sched_plan(Sched *s, StepBatch *out, TsErr *err)
{
    assert(!s->planned);
    memset(&s->plan, 0, sizeof s->plan);
    s->plan.decode = s->dec;
    s->plan.prefill = s->pre;
    int32_t budget = s->cfg.max_batched_tokens;
    int preempted = 0;
    for (int32_t i = 0; i < s->n_run && budget > 0; i++) {
        int32_t q = s->run[i];
        Seq *e = &s->seqs[q];
        int32_t n = e->known - e->computed;
        if (n > budget)
            n = budget;
        int64_t end = (int64_t)e->computed + n;
        int32_t need =
            end > (int64_t)e->n_blocks * s->cfg.block_tokens ? blocks_for(s, end) - e->n_blocks : 0;
        while (need > kv_available(&s->kv)) {
            int32_t victim = s->run[--s->n_run];
            preempt(s, victim);
            preempted = 1;
            if (victim == q)
                break;
        }
        if (i >= s->n_run)
            break; /* q itself was preempted */
        if (need > 0)
            take_blocks(s, e, need);
        add_item(s, q, n);
        budget -= n;
    }
    while (!preempted && s->n_wait > 0 && s->n_run < s->cfg.max_num_seqs && budget > 0) {
        int32_t q = wait_front(s);
        Seq *e = &s->seqs[q];
        if (reserve_blocks(
                e, blocks_for(s, (int64_t)e->req.input_tokens + e->req.output_tokens - 1)) != 0)
            return ts_err_set(err, TS_ENOMEM, "out of memory for a block table");
        int fresh = e->computed == 0 && e->n_blocks == 0;
        if (fresh && s->cfg.prefix_cache)
            take_hits(s, e);
        int32_t n = e->known - e->computed;
        if (n > budget && !s->cfg.chunked_prefill) {
            if (fresh) {
                release_blocks(s, e);
                e->computed = 0;
            }
            break;
        }
        if (n > budget)
            n = budget;
        int32_t need = blocks_for(s, (int64_t)e->computed + n) - e->n_blocks;
        if (need > kv_available(&s->kv)) {
            if (fresh) {
                release_blocks(s, e);
                e->computed = 0;
            }
            break;
        }
        wait_pop(s);
        if (!e->admitted_once && e->req.kv_ready_tokens == 0) {
            e->cached_tokens = e->computed;
            s->st.prompt_tokens += e->req.input_tokens;
            s->st.cached_tokens += e->computed;
        } else if (fresh) {
            s->st.rehit_tokens += e->computed;
        }
        e->admitted_once = 1;
        if (need > 0)
            take_blocks(s, e, need);
        s->run[s->n_run++] = q;
        add_item(s, q, n);
        budget -= n;
    }
    s->plan.tokens = s->plan.n_decode + s->plan.prefill_tokens;
    int n_items = s->plan.n_decode + s->plan.n_prefill;
    s->planned = n_items > 0;
    *out = s->plan;
    return n_items;
}

static void finish(Sched *s, int32_t q, double end_s)
{
    Seq *e = &s->seqs[q];
    SchedDone *d = &s->done[s->n_done++];
    d->req = e->req;
    d->first_token_s = e->first_token_s;
    d->finish_s = end_s;
    d->cached_tokens = e->cached_tokens;
    d->preemptions = e->preemptions;
    release_blocks(s, e);
    e->finished = 1;
    e->next_free = s->free_slot;
    s->free_slot = q;
    s->st.finished++;
}

static void advance(Sched *s, const StepItem *items, int32_t n, double end_s, double *same_gap)
{
    int32_t bt = s->cfg.block_tokens;
    for (int32_t k = 0; k < n; k++) {
        Seq *e = &s->seqs[items[k].slot];
        e->computed += items[k].tokens;
        if (e->registered < e->cacheable && e->computed >= (e->registered + 1) * bt) {
            int32_t full = e->computed / bt;
            if (full > e->cacheable)
                full = e->cacheable;
            for (; e->registered < full; e->registered++)
                kv_register(&s->kv, e->blocks[e->registered], block_key(e, e->registered, bt));
        }
        if (!items[k].emits)
            continue;
        e->generated++;
        e->known++;
        if (e->first_token_s < 0)
            e->first_token_s = end_s;
        else if (e->last_token_s == s->prev_end_s)
            *same_gap += 1;
        else
            hist_add(&s->st.itl, end_s - e->last_token_s, 1);
        e->last_token_s = end_s;
        if (e->generated == e->output)
            finish(s, items[k].slot, end_s);
    }
}

void sched_commit(Sched *s, double step_s, double end_s)
{
    s->n_done = 0;
    if (!s->planned)
        return;
    s->planned = 0;
    const StepBatch *p = &s->plan;
    double same_gap = 0;
    advance(s, s->dec, p->n_decode, end_s, &same_gap);
    advance(s, s->pre, p->n_prefill, end_s, &same_gap);
    if (same_gap > 0)
        hist_add(&s->st.itl, end_s - s->prev_end_s, same_gap);
    if (s->n_done > 0) {
        int32_t m = 0;
        for (int32_t i = 0; i < s->n_run; i++)
            if (!s->seqs[s->run[i]].finished)
                s->run[m++] = s->run[i];
        s->n_run = m;
    }
    int32_t seqs = p->n_decode + p->n_prefill;
    s->st.steps++;
    s->st.busy_s += step_s;
    s->st.seq_s += seqs * step_s;
    s->st.token_s += (double)p->tokens * step_s;
    s->st.prefill_tokens += p->prefill_tokens;
    s->st.decode_tokens += p->n_decode;
    s->st.emitted_tokens += p->n_decode;
    for (int32_t k = 0; k < p->n_prefill; k++)
        s->st.emitted_tokens += s->pre[k].emits;
    s->prev_end_s = end_s;
}

int sched_step(Sched *s, const StepBackend *b, double now_s, double *step_s, TsErr *err)
{
    *step_s = 0;
    StepBatch batch;
    int n = sched_plan(s, &batch, err);
    if (n <= 0)
        return n;
    double t = 0;
    int rc = b->step_s(b->ctx, &batch, &t, err);
    if (rc) {
        s->planned = 0; /* the caller stops on an error; nothing is committed */
        return rc;
    }
    sched_commit(s, t, now_s + t);
    *step_s = t;
    return 0;
}

const SchedDone *sched_done(const Sched *s, int *n)
{
    *n = s->n_done;
    return s->done;
}

int32_t sched_waiting(const Sched *s)
{
    return s->n_wait;
}

int32_t sched_running(const Sched *s)
{
    return s->n_run;
}

long sched_outstanding(const Sched *s)
{
    return s->st.added - s->st.finished;
}

const KvPool *sched_kv(const Sched *s)
{
    return &s->kv;
}

const SchedStats *sched_stats(const Sched *s)
{
    return &s->st;
}
