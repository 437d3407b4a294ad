/* bench: probes the ceilings per thread count (before and after the runs, the better kept),
 * runs the harness per (preset, precision, threads, phase, batch) with seeded weights, and
 * writes the table with the issues' targets. Percentages compare like with like: decode bytes
 * per second against the read bandwidth probed at the step's working set (cache or DRAM),
 * prefill operations per second against the compute peak of the precision, at the same thread
 * count; a share above 100% is marked and explained. */
#include "sim/cli/bench.h"

#include "sim/cli/validate.h"

#include "models/engine/kernels.h"
#include "models/engine/shape.h"
#include "models/formats/llama2c.h"

#include <gsl/gsl_statistics_double.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void say(const BenchOptions *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const BenchOptions *o, const char *fmt, ...)
{
    if (!o->progress)
        return;
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    o->progress(o->progress_ctx, buf);
}

/* The DRAM read probe's array: far above the 32 MiB L3 of this machine class. */
#define DRAM_BYTES ((size_t)256 << 20)
#define FMA_TRIALS 5

/* Merges two probe_compute_trials results: best and worst over both, the median of the two
 * medians' better (a conservative summary), trials added. */
static void keep_better_trials(ProbeResult *keep, const ProbeResult *again)
{
    double worst = keep->worst < again->worst ? keep->worst : again->worst;
    int trials = keep->trials + again->trials;
    if (again->best > keep->best)
        *keep = *again;
    keep->worst = worst;
    keep->trials = trials;
}

/* The read bandwidth a decode step can meet: probed at its own working set (weights and KV
 * bytes of one step), so weights that fit a cache are held to that cache's speed; probes within
 * 10% of the size are reused. Sizes from the DRAM probe's up use the DRAM figure. */
static int read_ceiling(const BenchOptions *o, BenchTable *t, int threads, double bytes,
                        double *gb_s, TsErr *err)
{
    if (bytes >= (double)DRAM_BYTES) {
        *gb_s = t->read[threads - 1].best;
        return 0;
    }
    for (int i = 0; i < t->n_ws; i++)
        if (t->ws[i].threads == threads && t->ws[i].bytes >= bytes &&
            t->ws[i].bytes <= 1.1 * bytes) {
            *gb_s = t->ws[i].gb_s;
            return 0;
        }
    if (t->n_ws >= BENCH_MAX_READ_CEILINGS)
        return ts_err_set(err, TS_EINPUT, "more than %d working-set probes",
                          BENCH_MAX_READ_CEILINGS);
    ProbeResult r;
    say(o, "probing read bandwidth at %.1f MB with %d thread%s", bytes / 1e6, threads,
        threads > 1 ? "s" : "");
    size_t probe_bytes = (size_t)(bytes * 1.05);
    if (probe_bytes < PROBE_MIN_BYTES)
        probe_bytes = PROBE_MIN_BYTES;
    if (probe_read_bandwidth(threads, probe_bytes, 0.3, &r, err))
        return err->code;
    /* never below DRAM: a probe disturbed by the neighbours says nothing about the cache */
    *gb_s = r.best > t->read[threads - 1].best ? r.best : t->read[threads - 1].best;
    t->ws[t->n_ws++] = (BenchReadCeiling){threads, (double)probe_bytes, *gb_s};
    return 0;
}

static double compute_peak(const BenchTable *t, const BenchRow *b);

/* Every row's ceiling: the compute peak of its precision for prefill, the read bandwidth at its
 * working set for decode. */
static int row_ceilings(const BenchOptions *o, BenchTable *t, TsErr *err)
{
    for (int i = 0; i < t->n_rows; i++) {
        BenchRow *b = &t->rows[i];
        if (b->prefill) {
            b->ceiling = compute_peak(t, b);
            continue;
        }
        const PhaseCounters *pc = &b->r.decode_cnt;
        b->ws_bytes = (pc->weight_bytes + pc->kv_read_bytes) / (pc->steps > 0 ? pc->steps : 1);
        if (read_ceiling(o, t, b->threads, b->ws_bytes, &b->ceiling, err))
            return err->code;
    }
    return 0;
}

static int add_row(BenchTable *t, const char *model, int threads, int prefill, const HxResult *r,
                   TsErr *err)
{
    if (t->n_rows >= BENCH_MAX_ROWS)
        return ts_err_set(err, TS_EINPUT, "more than %d benchmark rows", BENCH_MAX_ROWS);
    BenchRow *b = &t->rows[t->n_rows++];
    snprintf(b->model, sizeof b->model, "%s", model);
    b->threads = threads;
    b->prefill = prefill;
    b->r = *r;
    return 0;
}

/* One model at one precision and thread count: a prefill row and a decode row per batch. */
static int bench_one(const BenchOptions *o, BenchTable *t, const EngineConfig *c,
                     const Weights *w, Precision pr, int th, int n_batches, const int *batches,
                     TsErr *err)
{
    HxResult r;
    const char *name = c->name;
    /* lengths shrink to fit a model with a short context */
    int seq = c->max_seq;
    int prompt = o->prompt_tokens ? o->prompt_tokens : 128;
    int gen = o->gen_tokens ? o->gen_tokens : 32;
    int dprompt = o->decode_prompt ? o->decode_prompt : 64;
    int repeats = o->repeats ? o->repeats : 3;
    if (prompt > seq - 1)
        prompt = seq - 1;
    if (gen > seq / 2)
        gen = seq / 2;
    if (dprompt > seq - gen)
        dprompt = seq - gen;
    HxPlan pre = {prompt, 1, 1, th, repeats, 1, NULL, pr, PREC_FP32, 0, -1.0};
    say(o, "%s %s: prefill %d tokens, %d thread%s", name, prec_name(pr), pre.prompt_tokens, th,
        th > 1 ? "s" : "");
    if (hx_run(c, w, &pre, &r, err) || add_row(t, name, th, 1, &r, err))
        return err->code;
    for (int b = 0; b < n_batches; b++) {
        HxPlan dec = {dprompt, gen, batches[b], th, repeats, 1, NULL, pr, PREC_FP32, 0, -1.0};
        say(o, "%s %s: decode batch %d, %d thread%s", name, prec_name(pr), batches[b], th,
            th > 1 ? "s" : "");
        if (hx_run(c, w, &dec, &r, err) || add_row(t, name, th, 0, &r, err))
            return err->code;
    }
    return 0;
}

/* One model at every precision of o (fp32 at 1 to max_t threads, the others at max_t). */
static int bench_precisions(const BenchOptions *o, BenchTable *t, const EngineConfig *c,
                            const Weights *w, int max_t, TsErr *err)
{
    static const Precision default_precs[] = {PREC_FP32, PREC_BF16, PREC_INT8, PREC_INT4};
    const Precision *precs = o->precisions ? o->precisions : default_precs;
    int n_precs = o->precisions ? o->n_precisions : 4;
    static const int default_batches[] = {1, 4, 16};
    const int *batches = o->batches ? o->batches : default_batches;
    int n_batches = o->batches ? o->n_batches : 3;
    for (int pi = 0; pi < n_precs; pi++)
        for (int th = precs[pi] == PREC_FP32 ? 1 : max_t; th <= max_t; th++)
            if (bench_one(o, t, c, w, precs[pi], th, n_batches, batches, err))
                return err->code;
    return 0;
}

/* The ceilings' first probes, then every model (presets or o->models) and the checkpoint ck
 * with its weights ck_w (when not NULL). */
static int bench_models(const BenchOptions *o, BenchTable *t, int max_t, const EngineConfig *ck,
                        const Weights *ck_w, TsErr *err)
{
    for (int th = 1; th <= max_t; th++) {
        say(o, "probing bandwidth and compute ceilings with %d thread%s", th, th > 1 ? "s" : "");
        if (probe_bandwidth(th, 0, 1.0, &t->bandwidth[th - 1], err) ||
            probe_read_bandwidth(th, DRAM_BYTES, 1.0, &t->read[th - 1], err) ||
            probe_compute_trials(th, FMA_TRIALS, 0.2, &t->compute[th - 1], err) ||
            probe_compute_dot(th, 0, 0, &t->dot_bf16[th - 1], err) ||
            probe_compute_dot(th, 1, 0, &t->dot_int8[th - 1], err))
            return err->code;
    }
    int n_models = o->models ? o->n_models : cfg_preset_count();
    for (int m = 0; m < n_models; m++) {
        EngineConfig c;
        Weights w;
        if (o->models)
            c = o->models[m];
        else if (cfg_preset(cfg_preset_name(m), &c, err))
            return err->code;
        if (wt_alloc(&w, &c, err))
            return err->code;
        wt_init_seeded(&w, &c, 1);
        int rc = bench_precisions(o, t, &c, &w, max_t, err);
        wt_fini(&w);
        if (rc)
            return rc;
    }
    if (ck) {
        int first = t->n_rows;
        if (bench_precisions(o, t, ck, ck_w, max_t, err))
            return err->code;
        for (int i = first; i < t->n_rows; i++)
            t->rows[i].checkpoint = 1;
    }
    return 0;
}

/* Parameters a decode token multiplies (embedding lookups excluded): 0 for a non-preset. */
static double active_params(const char *model)
{
    EngineConfig c;
    TsErr e;
    ts_err_clear(&e);
    if (cfg_preset(model, &c, &e))
        return 0.0;
    ShapeParams sp;
    shape_params(&c.shape, &sp);
    return sp.nonembed_active + sp.head;
}

/* A row of the given model, precision, threads, phase and batch (NULL if none ran). */
static const BenchRow *find_row(const BenchTable *t, const char *model, Precision p, int threads,
                                int prefill, int batch)
{
    for (int i = 0; i < t->n_rows; i++) {
        const BenchRow *o = &t->rows[i];
        if (o->r.plan.prec == p && o->threads == threads && o->prefill == prefill &&
            (prefill || o->r.plan.batch == batch) && strcmp(o->model, model) == 0)
            return o;
    }
    return NULL;
}

/* The reference row of a batching target's row b, and the factor its tokens/s ratio is scaled
 * by (active parameters for MoE against dense); NULL when b is no target's row. */
static const BenchRow *batch_reference(const BenchTable *t, const BenchRow *b, double *scale)
{
    Precision p = b->r.plan.prec;
    *scale = 1.0;
    if (b->prefill || b->r.plan.batch != 16 || b->checkpoint)
        return NULL;
    if (strcmp(b->model, "dense-110m") == 0 && (p == PREC_FP32 || p == PREC_INT8))
        return find_row(t, b->model, p, b->threads, 0, 1);
    if (strcmp(b->model, "moe-110m-total") == 0) {
        double am = active_params(b->model), ad = active_params("dense-110m");
        if (am <= 0 || ad <= 0)
            return NULL;
        *scale = am / ad;
        return find_row(t, "dense-110m", p, b->threads, 0, 16);
    }
    return NULL;
}

#define BENCH_PAIRS 5

/* Seeded weights of a preset, made once and kept for every pair that needs them. */
typedef struct {
    EngineConfig c;
    Weights w;
    int ready;
} PairModel;

static int pair_model(PairModel *pm, const char *name, TsErr *err)
{
    if (pm->ready)
        return 0;
    if (cfg_preset(name, &pm->c, err) || wt_alloc(&pm->w, &pm->c, err))
        return err->code;
    wt_init_seeded(&pm->w, &pm->c, 1);
    pm->ready = 1;
    return 0;
}

/* For each batching target's row, BENCH_PAIRS runs of it and its reference row one after the
 * other (one timed repeat each), and the median of their ratios: the table's rows ran minutes
 * apart, and on a shared host their ratio swings with the minute. */
static int bench_pairs(const BenchOptions *o, BenchTable *t, TsErr *err)
{
    PairModel dense = {0}, moe = {0};
    int rc = 0;
    for (int i = 0; !rc && i < t->n_rows; i++) {
        BenchRow *b = &t->rows[i];
        double scale;
        const BenchRow *ref = batch_reference(t, b, &scale);
        if (!ref)
            continue;
        /* the reference is dense-110m's row; the target row is its own model's or MoE's */
        int is_moe = strcmp(b->model, ref->model) != 0;
        if (pair_model(&dense, ref->model, err) || (is_moe && pair_model(&moe, b->model, err))) {
            rc = err->code;
            break;
        }
        const PairModel *mb = is_moe ? &moe : &dense;
        HxPlan pa = b->r.plan, pr = ref->r.plan;
        pa.repeats = pr.repeats = 1;
        pa.meter = pr.meter = NULL;
        double ratio[BENCH_PAIRS];
        say(o, "%s %s: batch 16 against its reference, %d pairs, %d thread%s", b->model,
            prec_name(pa.prec), BENCH_PAIRS, b->threads, b->threads > 1 ? "s" : "");
        for (int k = 0; !rc && k < BENCH_PAIRS; k++) {
            HxResult ra, rr;
            rc = hx_run(&mb->c, &mb->w, &pa, &ra, err) ||
                 hx_run(&dense.c, &dense.w, &pr, &rr, err);
            if (!rc)
                ratio[k] = hx_decode_tok_s(&ra) / hx_decode_tok_s(&rr) * scale;
        }
        if (!rc) {
            b->paired_ratio = gsl_stats_median(ratio, 1, BENCH_PAIRS);
            b->pairs = BENCH_PAIRS;
        }
    }
    if (dense.ready)
        wt_fini(&dense.w);
    if (moe.ready)
        wt_fini(&moe.w);
    return rc ? (err->code ? err->code : rc) : 0;
}

int bench_run(const BenchOptions *o, BenchTable *t, TsErr *err)
{
    memset(t, 0, sizeof *t);
    int max_t = o->max_threads == 1 ? 1 : 2;
    /* the checkpoint is read first, so a bad file fails before minutes of runs */
    EngineConfig ck_cfg;
    Weights ck_w;
    if (o->checkpoint) {
        say(o, "loading the llama2.c checkpoint %s", o->checkpoint);
        if (l2c_load(o->checkpoint, &ck_cfg, &ck_w, err))
            return err->code;
    }
    int rc = bench_models(o, t, max_t, o->checkpoint ? &ck_cfg : NULL, &ck_w, err);
    if (o->checkpoint)
        wt_fini(&ck_w);
    if (rc || (rc = bench_pairs(o, t, err)))
        return rc;
    /* This machine's ceilings vary from minute to minute (a shared host): probe again after the
     * runs and keep the better figure, so shares of them are not flattered by a slow probe. */
    for (int th = 1; th <= max_t; th++) {
        ProbeResult again;
        say(o, "probing the ceilings again with %d thread%s", th, th > 1 ? "s" : "");
        if (probe_bandwidth(th, 0, 1.0, &again, err))
            return err->code;
        if (again.best > t->bandwidth[th - 1].best)
            t->bandwidth[th - 1] = again;
        if (probe_read_bandwidth(th, DRAM_BYTES, 1.0, &again, err))
            return err->code;
        if (again.best > t->read[th - 1].best)
            t->read[th - 1] = again;
        if (probe_compute_trials(th, FMA_TRIALS, 0.2, &again, err))
            return err->code;
        keep_better_trials(&t->compute[th - 1], &again);
        if (probe_compute_dot(th, 0, 0, &again, err))
            return err->code;
        if (again.best > t->dot_bf16[th - 1].best)
            t->dot_bf16[th - 1] = again;
        if (probe_compute_dot(th, 1, 0, &again, err))
            return err->code;
        if (again.best > t->dot_int8[th - 1].best)
            t->dot_int8[th - 1] = again;
    }
    return row_ceilings(o, t, err);
}

/* The compute peak a prefill row is held to: the FMA peak for fp32, the dot-product peak of
 * its precision otherwise (0 when the instruction is missing). */
static double compute_peak(const BenchTable *t, const BenchRow *b)
{
    int ti = b->threads - 1;
    switch (b->r.plan.prec) {
    case PREC_BF16: return t->dot_bf16[ti].best;
    case PREC_INT8:
    case PREC_INT4: /* int4 runs on the int8 dot product (its nibbles as the unsigned side) */
        return t->dot_int8[ti].best;
    default: return t->compute[ti].best;
    }
}

static double share_of_ceiling(const BenchTable *t, const BenchRow *b)
{
    const HxResult *r = &b->r;
    (void)t;
    if (b->ceiling <= 0)
        return 0.0;
    if (b->prefill)
        return r->prefill_cnt.flops / r->prefill.median / 1e9 / b->ceiling;
    return (r->decode_cnt.weight_bytes + r->decode_cnt.kv_read_bytes) / r->decode.median / 1e9 /
           b->ceiling;
}

/* The fp32 row of the same model, threads, phase and batch as b (NULL if none ran). */
static const BenchRow *fp32_twin(const BenchTable *t, const BenchRow *b)
{
    for (int i = 0; i < t->n_rows; i++) {
        const BenchRow *o = &t->rows[i];
        if (o->r.plan.prec == PREC_FP32 && o->threads == b->threads && o->prefill == b->prefill &&
            o->r.plan.batch == b->r.plan.batch && strcmp(o->model, b->model) == 0)
            return o;
    }
    return NULL;
}

static double row_tok_s(const BenchRow *b)
{
    return b->prefill ? hx_prefill_tok_s(&b->r) : hx_decode_tok_s(&b->r);
}

static void target_line(FILE *f, const char *what, const char *model, int threads, double got,
                        double want)
{
    fprintf(f, "| %s | %s | %d | %.2fx | %s |\n", what, model, threads, got,
            got >= want ? "yes" : "no");
}

/* Issue 9's and issue 20's precision and batching targets for row b (one line per target whose
 * rows ran; ratios within this run). */
static void write_precision_target(FILE *f, const BenchTable *t, const BenchRow *b)
{
    const BenchRow *ref = fp32_twin(t, b);
    int big = strstr(b->model, "110m") != NULL, th = b->threads;
    Precision p = b->r.plan.prec;
    double ratio = ref ? row_tok_s(b) / row_tok_s(ref) : 0.0;
    if (ref && p == PREC_INT8 && big && !b->prefill && b->r.plan.batch == 1)
        target_line(f, "int8 decode at batch 1 >= 2x fp32", b->model, th, ratio, 2.0);
    if (ref && p == PREC_BF16 && b->prefill)
        target_line(f, "bf16 prefill >= 1.5x fp32", b->model, th, ratio, 1.5);
    if (ref && p == PREC_INT8 && b->prefill && strcmp(b->model, "dense-110m") == 0)
        target_line(f, "int8 prefill >= 3x fp32", b->model, th, ratio, 3.0);
    if (ref && p == PREC_INT8 && b->prefill &&
        (strcmp(b->model, "dense-15m") == 0 || b->checkpoint))
        target_line(f, "int8 prefill >= 2x fp32", b->model, th, ratio, 2.0);
    if (p == PREC_INT4 && !b->prefill && b->r.plan.batch == 1 &&
        strcmp(b->model, "dense-110m") == 0) {
        const BenchRow *i8 = find_row(t, b->model, PREC_INT8, th, 0, 1);
        if (i8)
            target_line(f, "int4 decode at batch 1 >= 1.6x int8", b->model, th,
                         row_tok_s(b) / row_tok_s(i8), 1.6);
    }
}

/* Decode tokens/s of row b on the roofline of this run: its step's bytes (weights and KV) at
 * the row's read ceiling or its FLOPs at its precision's peak, whichever takes longer. 0 when
 * a ceiling is missing. */
static double roofline_tok_s(const BenchTable *t, const BenchRow *b)
{
    const PhaseCounters *c = &b->r.decode_cnt;
    double peak = compute_peak(t, b);
    if (b->prefill || b->ceiling <= 0 || peak <= 0)
        return 0.0;
    double mem_s = (c->weight_bytes + c->kv_read_bytes) / 1e9 / b->ceiling;
    double flop_s = c->flops / 1e9 / peak;
    return c->rows / (mem_s > flop_s ? mem_s : flop_s);
}

/* Issue 20's batching targets at the row's precision: dense-110m batch 16 >= 10x batch 1
 * (fp32, int8); moe-110m-total batch 16 within 15% of dense-110m per active parameter. The
 * achieved figure is the median of the interleaved pairs; each line also gives the ratio of the
 * table's two rows and the ratio they would have on the roofline: where that is below the
 * target, the target asks for more than these steps' bytes and FLOPs allow. */
static void write_batch_target(FILE *f, const BenchTable *t, const BenchRow *b)
{
    double scale;
    const BenchRow *ref = batch_reference(t, b, &scale);
    if (!ref)
        return;
    int moe = strcmp(b->model, "moe-110m-total") == 0;
    double rb = roofline_tok_s(t, b), rr = roofline_tok_s(t, ref);
    double rows = row_tok_s(b) / row_tok_s(ref) * scale;
    char what[256];
    snprintf(what, sizeof what, "%s %s (table rows: %.2fx; roofline: %.2fx)",
             prec_name(b->r.plan.prec),
             moe ? "batch 16: active params x tok/s >= 0.85x dense-110m's"
                 : "decode batch 16 >= 10x batch 1",
             rows, rr > 0 ? rb / rr * scale : 0.0);
    target_line(f, what, b->model, b->threads, b->pairs ? b->paired_ratio : rows,
                moe ? 0.85 : 10.0);
}

/* The targets and the reference engines' figures, checked against this table. */
static void write_targets(FILE *f, const BenchTable *t)
{
    fprintf(f, "\n## Targets, checked against this run\n\n"
               "A batching target's achieved figure is the median ratio of 5 runs of its two "
               "rows taken one right after the other (the table's rows ran minutes apart, and "
               "this host's speed swings from minute to minute); in brackets, the ratio of the "
               "table's rows and the ratio the two would have on the roofline (each step's "
               "weight and KV bytes at the row's read ceiling, or its FLOPs at the precision's "
               "peak, whichever takes longer): where that is below the target, the target asks "
               "for more than these steps' bytes allow. At batch 16 the "
               "fp32 KV cache is read whole every step (about 94 MB for dense-110m's 16 "
               "sequences of 64 to 96 tokens), so int8's weights are no longer most of the "
               "bytes; an MoE step at batch 16 touches nearly every expert (the experts/layer "
               "column), reading dense's bytes for its active share of the work.\n\n"
               "| target | model | threads | achieved | met |\n|---|---|---:|---:|---|\n");
    for (int i = 0; i < t->n_rows; i++) {
        const BenchRow *b = &t->rows[i];
        int big = strstr(b->model, "110m") != NULL;
        write_batch_target(f, t, b);
        if (b->r.plan.prec != PREC_FP32) {
            write_precision_target(f, t, b);
            continue;
        }
        if (big && !b->prefill && b->r.plan.batch == 1) {
            double sh = share_of_ceiling(t, b);
            fprintf(f, "| decode at batch 1 >= 70%% of bandwidth | %s | %d | %.0f%% | %s |\n",
                    b->model, b->threads, 100 * sh, sh >= 0.7 ? "yes" : "no");
        }
        if (big && b->prefill) {
            double sh = share_of_ceiling(t, b);
            fprintf(f, "| prefill >= 50%% of the FMA peak | %s | %d | %.0f%% | %s |\n", b->model,
                    b->threads, 100 * sh, sh >= 0.5 ? "yes" : "no");
        }
        /* Well-optimised CPU engines on this machine class, 2 threads, fp32 (issue 3): dense-15m
         * 600 decode / 8,000 prefill tok/s; an 8-expert top-2 MoE of that shape 370 / 3,000. */
        int dense15 = strcmp(b->model, "dense-15m") == 0;
        int moe15 = strncmp(b->model, "moe-15m", 7) == 0;
        if ((dense15 || moe15) && b->threads == 2 && (b->prefill || b->r.plan.batch == 1)) {
            double ref = b->prefill ? (dense15 ? 8000 : 3000) : (dense15 ? 600 : 370);
            double got = b->prefill ? hx_prefill_tok_s(&b->r) : hx_decode_tok_s(&b->r);
            fprintf(f, "| %s faster than reference engines (%.0f tok/s) | %s | 2 | %.0f tok/s | "
                       "%s |\n",
                    b->prefill ? "prefill" : "decode", ref, b->model, got,
                    got > ref ? "yes" : "no");
        }
    }
}

/* The roofline's prediction of every benchmark row from the ceilings measured here (DESIGN.md's
 * closed loop), with its median and worst error. */
static void write_validation(FILE *f, const BenchTable *t)
{
    StoreMeasurementRow rows[BENCH_MAX_ROWS];
    ValRow val[BENCH_MAX_ROWS], all[BENCH_MAX_ROWS];
    ValOptions vo = {0.5, 0.7, 0.5};
    int n_all = 0;
    for (int th = 1; th <= 2; th++) {
        int n = 0;
        for (int i = 0; i < t->n_rows; i++) {
            const BenchRow *b = &t->rows[i];
            if (b->threads != th || b->r.plan.prec != PREC_FP32)
                continue;
            const HxResult *r = &b->r;
            rows[n++] = (StoreMeasurementRow){
                .model = b->model,
                .phase = b->prefill ? "prefill" : "decode",
                .batch = r->plan.batch,
                .threads = th,
                .prompt_tokens = r->plan.prompt_tokens,
                .tokens = (int64_t)(b->prefill ? r->prefill_cnt.rows : r->decode_cnt.rows),
                .seconds = b->prefill ? r->prefill.median : r->decode.median,
            };
        }
        if (n == 0 || t->compute[th - 1].best <= 0)
            continue;
        int m = val_predict(rows, n, t->compute[th - 1].best, t->read[th - 1].best, &vo,
                            val);
        for (int i = 0; i < m; i++)
            all[n_all++] = val[i];
    }
    if (n_all > 0)
        val_write_md(f, all, n_all, &vo);
}

int bench_write_md(const BenchTable *t, const char *path, const char *commit,
                   const char *machine, TsErr *err)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return ts_err_set(err, TS_EIO, "cannot write %s: %s", tmp, strerror(errno));
    time_t now = time(NULL);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%d", gmtime(&now));
    fprintf(f, "# Engine benchmark\n\nGenerated by `make bench` (`tokensim bench`); numbers from "
               "one run, so compare ratios within this table, not across machines.\n\n");
    fprintf(f, "- commit: `%s`, date: %s\n- machine: `%s`\n", commit, date, machine);
    fprintf(f, "- kernels: %s (fp32); seeded random weights (speed does not depend on "
               "values)\n",
            t->n_rows ? t->rows[0].r.kernel_path : "?");
    fprintf(f, "- ceilings measured here, the better of a probe before and after the runs: "
               "read-only bandwidth from DRAM (a sum over a 256 MB array) %.1f GB/s (1 thread), "
               "%.1f GB/s (2 threads); STREAM triad %.1f / %.1f GB/s (shown for reference: a "
               "triad also writes, decode only reads); FMA peak %.1f GFLOP/s (1 thread; %d "
               "trials from %.1f to %.1f, median %.1f), %.1f GFLOP/s (2 threads, %s; %d trials "
               "from %.1f to %.1f, median %.1f), the best trial used\n\n",
            t->read[0].best, t->read[1].best, t->bandwidth[0].best, t->bandwidth[1].best,
            t->compute[0].best, t->compute[0].trials, t->compute[0].worst, t->compute[0].best,
            t->compute[0].median, t->compute[1].best, t->compute[1].method, t->compute[1].trials,
            t->compute[1].worst, t->compute[1].best, t->compute[1].median);
    fprintf(f, "Prefill: one sequence of the given prompt length per step, output head at the last "
               "position only; %% of ceiling is against the compute peak of the row's precision "
               "(FMA for fp32, the bf16 or int8 dot product otherwise; int4 runs on the int8 dot "
               "product). Decode: `batch` sequences advance one token per step after a prompt; "
               "GB/s counts weight and KV-cache bytes the step reads, and %% of ceiling is "
               "against the read bandwidth probed at that step's working set (the bytes one "
               "step reads, in the ceiling column): weights that fit the 32 MB L3 are held to "
               "the L3's read speed, larger ones to DRAM's. Same thread count throughout.\n\n");
    fprintf(f, "Reduced precision: `bf16`, `int8` and `int4` are the weights' precision (int8: "
               "one scale per output row, activations quantised per row; int4: blocks of 32 "
               "weights with one bf16 scale each, 4.5 bits per weight, activations int8 per "
               "row); the KV cache stays fp32 here. Dot-product peaks: %s %.1f / %.1f GOP/s, %s "
               "%.1f / %.1f GOP/s (1 / 2 threads). Kernel paths: %s, %s, %s.\n\n",
            t->dot_bf16[1].method, t->dot_bf16[0].best, t->dot_bf16[1].best,
            t->dot_int8[1].method, t->dot_int8[0].best, t->dot_int8[1].best, kern_path_bf16(),
            kern_path_int8(), kern_path_int4());
    fprintf(f, "| model | precision | threads | phase | batch | tokens/s | ms/step | GFLOP/s | "
               "GB/s | bytes/token | ceiling | %% of ceiling | experts/layer "
               "|\n|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    int over = 0;
    for (int i = 0; i < t->n_rows; i++) {
        const BenchRow *b = &t->rows[i];
        const HxResult *r = &b->r;
        const PhaseCounters *pc = b->prefill ? &r->prefill_cnt : &r->decode_cnt;
        double s = b->prefill ? r->prefill.median : r->decode.median;
        double bytes = pc->weight_bytes + pc->kv_read_bytes;
        double gflops = pc->flops / s / 1e9, gbs = bytes / s / 1e9;
        char phase[32] = "decode", share[48] = "n/a", experts[32] = "", ceil[64] = "n/a";
        double sh = share_of_ceiling(t, b);
        if (b->prefill) {
            snprintf(phase, sizeof phase, "prefill %d", r->plan.prompt_tokens);
            if (b->ceiling > 0) {
                snprintf(ceil, sizeof ceil, "%.0f GOP/s", b->ceiling);
                snprintf(share, sizeof share, "%.0f%% of peak", 100.0 * sh);
            }
        } else {
            snprintf(ceil, sizeof ceil, "%.0f GB/s read at %.3g MB", b->ceiling,
                     b->ws_bytes / 1e6);
            snprintf(share, sizeof share, "%.0f%% of read bw%s", 100.0 * sh,
                     sh > 1.0 ? " (*)" : "");
            over |= sh > 1.0;
            if (r->distinct_experts_per_layer > 0)
                snprintf(experts, sizeof experts, "%.2f", r->distinct_experts_per_layer);
        }
        fprintf(f, "| %s | %s | %d | %s | %d | %.0f | %.2f | %.1f | %.1f | %.3g | %s | %s | %s "
                   "|\n",
                b->model, prec_name(r->plan.prec), b->threads, phase,
                b->prefill ? 1 : r->plan.batch,
                b->prefill ? hx_prefill_tok_s(r) : hx_decode_tok_s(r), s * 1e3 / pc->steps,
                gflops, gbs, bytes / pc->rows, ceil, share, experts);
    }
    if (over)
        fprintf(f, "\n(*) Above the probed read ceiling: the probe sums one array of the step's "
                   "size, while a step's working set is many matrices, some (norms, the "
                   "activations, the KV cache of early layers) read again from L1/L2 within the "
                   "step, and the bytes/token column counts every read whether it hits a cache "
                   "or not. Near a cache boundary (a working set close to 32 MB) the probe and "
                   "the step can also land on different sides of it.\n");
    write_targets(f, t);
    write_validation(f, t);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        remove(tmp);
        return ts_err_set(err, TS_EIO, "error writing %s", tmp);
    }
    if (rename(tmp, path) != 0) {
        remove(tmp);
        return ts_err_set(err, TS_EIO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    }
    return 0;
}
