/* probe: measures this machine's memory-bandwidth and fp32 compute ceilings. A small pool runs
 * the caller's thread plus threads-1 pthreads through timed rounds separated by barriers; the
 * bandwidth work is a STREAM triad, the compute work independent FMAs on register accumulators
 * (AVX-512, AVX2+FMA or portable C, chosen when this file is compiled). It does not pin threads,
 * read hardware counters or look up vendor figures; the numbers are what these loops achieve. */
#include "models/measure/probe.h"

#include "models/engine/memory.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

#define PROBE_LINE_FLOATS 16 /* floats per 64-byte cache line */
#define PROBE_FMA_ITERS 1000000L

static double probe_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- the pool: thread 0 is the caller, who times every round ---- */

typedef void (*ProbeWork)(void *ctx, int t);

enum { GATE_WAIT, GATE_GO, GATE_ABORT };

typedef struct {
    int threads;
    ProbeWork setup; /* once per thread before the first round, may be NULL */
    ProbeWork work;  /* once per thread per round */
    void *ctx;       /* borrowed */
    pthread_barrier_t barrier;
    pthread_mutex_t gate_mu;
    pthread_cond_t gate_cv;
    int gate; /* under gate_mu: workers wait at the gate until every thread exists */
    int stop; /* written by thread 0 before a barrier, read by all after it */
} ProbePool;

typedef struct {
    ProbePool *pool; /* borrowed */
    int t;
} ProbeWorker;

static void *probe_worker_main(void *arg)
{
    ProbeWorker *w = arg;
    ProbePool *p = w->pool;
    int go;

    pthread_mutex_lock(&p->gate_mu);
    while (p->gate == GATE_WAIT)
        pthread_cond_wait(&p->gate_cv, &p->gate_mu);
    go = p->gate == GATE_GO;
    pthread_mutex_unlock(&p->gate_mu);
    if (!go)
        return NULL;

    if (p->setup)
        p->setup(p->ctx, w->t);
    for (;;) {
        pthread_barrier_wait(&p->barrier);
        if (p->stop)
            break;
        p->work(p->ctx, w->t);
        pthread_barrier_wait(&p->barrier);
    }
    return NULL;
}

static void probe_open_gate(ProbePool *p, int state)
{
    pthread_mutex_lock(&p->gate_mu);
    p->gate = state;
    pthread_cond_broadcast(&p->gate_cv);
    pthread_mutex_unlock(&p->gate_mu);
}

/* Thread 0's side: rounds until min_seconds and PROBE_MIN_ROUNDS are reached, or
 * PROBE_MAX_ROUNDS. Appends each round's seconds to *secs (grown here). Always ends with every
 * worker past its last barrier. */
static int probe_rounds(ProbePool *p, double min_seconds, double **secs, int *rounds, TsErr *err)
{
    int cap = 0, done = 0, rc = TS_OK;
    double start;

    if (p->setup)
        p->setup(p->ctx, 0);
    start = probe_now_s();
    for (;;) {
        double t0, t1;

        p->stop = done;
        pthread_barrier_wait(&p->barrier);
        if (done)
            break;
        t0 = probe_now_s();
        p->work(p->ctx, 0);
        pthread_barrier_wait(&p->barrier);
        t1 = probe_now_s();

        if (*rounds == cap) {
            int ncap = cap ? 2 * cap : 64;
            double *grown = realloc(*secs, (size_t)ncap * sizeof **secs);
            if (!grown) {
                rc = ts_err_set(err, TS_ENOMEM, "probe: out of memory for %d round times", ncap);
                done = 1;
                continue;
            }
            *secs = grown;
            cap = ncap;
        }
        (*secs)[(*rounds)++] = t1 - t0;
        if ((*rounds >= PROBE_MIN_ROUNDS && t1 - start >= min_seconds) ||
            *rounds >= PROBE_MAX_ROUNDS)
            done = 1;
    }
    return rc;
}

/* Runs the pool: creates threads-1 workers, drives the rounds from this thread, joins every
 * worker. On success *secs (caller frees) holds *rounds round times in seconds. */
static int probe_pool_run(ProbePool *p, double min_seconds, double **secs, int *rounds, TsErr *err)
{
    pthread_t *tids = NULL;
    ProbeWorker *workers = NULL;
    int made = 0, rc = TS_OK, prc;
    int have_barrier = 0, have_mu = 0, have_cv = 0;

    *secs = NULL;
    *rounds = 0;
    p->gate = GATE_WAIT;
    p->stop = 0;

    if ((prc = pthread_barrier_init(&p->barrier, NULL, (unsigned)p->threads)) != 0) {
        rc = ts_err_set(err, TS_EINTERNAL, "probe: pthread_barrier_init failed: %s", strerror(prc));
        goto done;
    }
    have_barrier = 1;
    if ((prc = pthread_mutex_init(&p->gate_mu, NULL)) != 0) {
        rc = ts_err_set(err, TS_EINTERNAL, "probe: pthread_mutex_init failed: %s", strerror(prc));
        goto done;
    }
    have_mu = 1;
    if ((prc = pthread_cond_init(&p->gate_cv, NULL)) != 0) {
        rc = ts_err_set(err, TS_EINTERNAL, "probe: pthread_cond_init failed: %s", strerror(prc));
        goto done;
    }
    have_cv = 1;

    if (p->threads > 1) {
        tids = calloc((size_t)p->threads - 1, sizeof *tids);
        workers = calloc((size_t)p->threads - 1, sizeof *workers);
        if (!tids || !workers) {
            rc = ts_err_set(err, TS_ENOMEM, "probe: out of memory for %d threads", p->threads);
            goto done;
        }
    }
    for (made = 0; made < p->threads - 1; made++) {
        workers[made].pool = p;
        workers[made].t = made + 1;
        prc = pthread_create(&tids[made], NULL, probe_worker_main, &workers[made]);
        if (prc != 0) {
            rc = ts_err_set(err, TS_EINTERNAL,
                            "probe: pthread_create failed for thread %d of %d: %s", made + 1,
                            p->threads, strerror(prc));
            break;
        }
    }
    if (rc != TS_OK) {
        /* The barrier counts every thread, so those already made must leave without it. */
        probe_open_gate(p, GATE_ABORT);
    } else {
        probe_open_gate(p, GATE_GO);
        rc = probe_rounds(p, min_seconds, secs, rounds, err);
    }
    for (int i = 0; i < made; i++)
        pthread_join(tids[i], NULL);

done:
    if (have_cv)
        pthread_cond_destroy(&p->gate_cv);
    if (have_mu)
        pthread_mutex_destroy(&p->gate_mu);
    if (have_barrier)
        pthread_barrier_destroy(&p->barrier);
    free(tids);
    free(workers);
    if (rc != TS_OK) {
        free(*secs);
        *secs = NULL;
        *rounds = 0;
    }
    return rc;
}

static int probe_cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Turns round seconds into rates (work_per_round / seconds / 1e9), then best and median. */
static void probe_summarise(double *secs, int rounds, double work_per_round, ProbeResult *out)
{
    for (int i = 0; i < rounds; i++) {
        double s = secs[i] > 1e-9 ? secs[i] : 1e-9; /* clock granularity on tiny rounds */
        secs[i] = work_per_round / s / 1e9;
    }
    qsort(secs, (size_t)rounds, sizeof *secs, probe_cmp_double);
    out->best = secs[rounds - 1];
    out->worst = secs[0];
    out->trials = 1;
    out->median = rounds % 2 ? secs[rounds / 2] : 0.5 * (secs[rounds / 2 - 1] + secs[rounds / 2]);
    out->rounds = rounds;
}

static int probe_check_args(const char *who, int threads, double *min_seconds,
                            const ProbeResult *out, TsErr *err)
{
    if (!out)
        return ts_err_set(err, TS_EINPUT, "%s: no result struct given", who);
    if (threads < 1 || threads > PROBE_MAX_THREADS)
        return ts_err_set(err, TS_EINPUT, "%s: threads must be 1..%d, got %d", who,
                          PROBE_MAX_THREADS, threads);
    if (!(*min_seconds >= 0.0 && *min_seconds <= PROBE_MAX_SECONDS))
        return ts_err_set(err, TS_EINPUT, "%s: min_seconds must be 0..%g, got %g", who,
                          PROBE_MAX_SECONDS, *min_seconds);
    if (*min_seconds == 0.0)
        *min_seconds = PROBE_DEFAULT_SECONDS;
    return TS_OK;
}

/* ---- bandwidth: STREAM triad ---- */

typedef struct {
    float *a, *b, *c; /* (n) each, at least 64-byte aligned */
    size_t n;         /* a multiple of PROBE_LINE_FLOATS */
    int threads;
    float scalar;
} ProbeTriad;

/* Thread t's slice, in whole cache lines so no two threads write the same line. */
static void probe_triad_range(const ProbeTriad *tr, int t, size_t *lo, size_t *hi)
{
    size_t lines = tr->n / PROBE_LINE_FLOATS;
    *lo = lines * (size_t)t / (size_t)tr->threads * PROBE_LINE_FLOATS;
    *hi = lines * (size_t)(t + 1) / (size_t)tr->threads * PROBE_LINE_FLOATS;
}

static void probe_triad_setup(void *ctx, int t)
{
    ProbeTriad *tr = ctx;
    size_t lo, hi;

    probe_triad_range(tr, t, &lo, &hi);
    for (size_t i = lo; i < hi; i++) {
        tr->a[i] = 0.0f;
        tr->b[i] = 1.0f;
        tr->c[i] = 2.0f;
    }
}

static void probe_triad_kernel(float *restrict a, const float *restrict b, const float *restrict c,
                               float s, size_t lo, size_t hi)
{
    for (size_t i = lo; i < hi; i++)
        a[i] = b[i] + s * c[i];
}

static void probe_triad_work(void *ctx, int t)
{
    ProbeTriad *tr = ctx;
    size_t lo, hi;

    probe_triad_range(tr, t, &lo, &hi);
    probe_triad_kernel(tr->a, tr->b, tr->c, tr->scalar, lo, hi);
}

/* One triad array, left untouched so each thread's setup places its own slice; mem_alloc puts
 * large arrays on huge pages (the probe measures memory, not the TLB or page faults). */
static float *probe_alloc_array(size_t bytes)
{
    return mem_alloc(bytes);
}

int probe_bandwidth(int threads, size_t bytes_per_array, double min_seconds, ProbeResult *out,
                    TsErr *err)
{
    ProbeTriad tr = {0};
    ProbePool pool = {0};
    double *secs = NULL, start = probe_now_s();
    int rounds = 0, rc;
    size_t bytes;

    if ((rc = probe_check_args("probe_bandwidth", threads, &min_seconds, out, err)) != TS_OK)
        return rc;
    if (bytes_per_array == 0)
        bytes_per_array = PROBE_DEFAULT_BYTES;
    if (bytes_per_array < PROBE_MIN_BYTES)
        return ts_err_set(err, TS_EINPUT,
                          "probe_bandwidth: arrays must be at least %zu bytes, got %zu",
                          PROBE_MIN_BYTES, bytes_per_array);

    tr.n = bytes_per_array / sizeof(float) / PROBE_LINE_FLOATS * PROBE_LINE_FLOATS;
    tr.threads = threads;
    tr.scalar = 3.0f;
    bytes = tr.n * sizeof(float);
    tr.a = probe_alloc_array(bytes);
    tr.b = probe_alloc_array(bytes);
    tr.c = probe_alloc_array(bytes);
    if (!tr.a || !tr.b || !tr.c) {
        rc = ts_err_set(err, TS_ENOMEM, "probe_bandwidth: out of memory for 3 arrays of %zu bytes",
                        bytes);
        goto done;
    }

    pool.threads = threads;
    pool.setup = probe_triad_setup;
    pool.work = probe_triad_work;
    pool.ctx = &tr;
    if ((rc = probe_pool_run(&pool, min_seconds, &secs, &rounds, err)) != TS_OK)
        goto done;

    /* STREAM's check, on a sample: b + 3c = 1 + 3*2 exactly, also proving the stores happened. */
    if (tr.a[0] != 7.0f || tr.a[tr.n / 2] != 7.0f || tr.a[tr.n - 1] != 7.0f) {
        rc = ts_err_set(err, TS_EINTERNAL, "probe_bandwidth: triad result check failed (%g %g %g)",
                        (double)tr.a[0], (double)tr.a[tr.n / 2], (double)tr.a[tr.n - 1]);
        goto done;
    }

    memset(out, 0, sizeof *out);
    probe_summarise(secs, rounds, 3.0 * (double)bytes, out);
    out->threads = threads;
    out->bytes_per_array = bytes;
    snprintf(out->method, sizeof out->method, "stream-triad-f32");
    out->elapsed_s = probe_now_s() - start;

done:
    free(secs);
    free(tr.a);
    free(tr.b);
    free(tr.c);
    return rc;
}

/* ---- read-only bandwidth: a sum over one array ---- */

typedef struct {
    float *a;     /* (n), 64-byte aligned */
    size_t n;     /* a multiple of PROBE_LINE_FLOATS */
    int threads;
    int passes;   /* passes over the array per round */
    volatile float sink[PROBE_MAX_THREADS];
} ProbeRead;

static void probe_read_setup(void *ctx, int t)
{
    ProbeRead *rd = ctx;
    size_t lines = rd->n / PROBE_LINE_FLOATS;
    size_t lo = lines * (size_t)t / (size_t)rd->threads * PROBE_LINE_FLOATS;
    size_t hi = lines * (size_t)(t + 1) / (size_t)rd->threads * PROBE_LINE_FLOATS;
    for (size_t i = lo; i < hi; i++)
        rd->a[i] = 1.0f;
}

/* Sum of a[lo, hi): four independent chains, so the adds never wait on each other and the
 * loads set the pace. */
static float probe_read_sum(const float *a, size_t lo, size_t hi)
{
#if defined(__AVX512F__)
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = lo;
    for (; i + 64 <= hi; i += 64) {
        s0 = _mm512_add_ps(s0, _mm512_load_ps(a + i));
        s1 = _mm512_add_ps(s1, _mm512_load_ps(a + i + 16));
        s2 = _mm512_add_ps(s2, _mm512_load_ps(a + i + 32));
        s3 = _mm512_add_ps(s3, _mm512_load_ps(a + i + 48));
    }
    for (; i < hi; i += 16)
        s0 = _mm512_add_ps(s0, _mm512_load_ps(a + i));
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
#else
    float s[8] = {0};
    for (size_t i = lo; i < hi; i += 8)
        for (int j = 0; j < 8; j++)
            s[j] += a[i + (size_t)j];
    return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
#endif
}

static void probe_read_work(void *ctx, int t)
{
    ProbeRead *rd = ctx;
    size_t lines = rd->n / PROBE_LINE_FLOATS;
    size_t lo = lines * (size_t)t / (size_t)rd->threads * PROBE_LINE_FLOATS;
    size_t hi = lines * (size_t)(t + 1) / (size_t)rd->threads * PROBE_LINE_FLOATS;
    float s = 0.0f;
    for (int p = 0; p < rd->passes; p++)
        s += probe_read_sum(rd->a, lo, hi);
    rd->sink[t] = s;
}

int probe_read_bandwidth(int threads, size_t bytes_total, double min_seconds, ProbeResult *out,
                         TsErr *err)
{
    ProbePool pool = {0};
    double *secs = NULL, start = probe_now_s();
    int rounds = 0, rc;

    if ((rc = probe_check_args("probe_read_bandwidth", threads, &min_seconds, out, err)) != TS_OK)
        return rc;
    if (bytes_total == 0)
        bytes_total = PROBE_DEFAULT_BYTES;
    if (bytes_total < PROBE_MIN_BYTES)
        return ts_err_set(err, TS_EINPUT,
                          "probe_read_bandwidth: the array must be at least %zu bytes, got %zu",
                          PROBE_MIN_BYTES, bytes_total);
    ProbeRead *rd = calloc(1, sizeof *rd);
    if (!rd)
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    rd->n = bytes_total / sizeof(float) / PROBE_LINE_FLOATS * PROBE_LINE_FLOATS;
    rd->threads = threads;
    size_t bytes = rd->n * sizeof(float);
    /* about 1 GB per round: long enough to time, short enough for many rounds */
    size_t passes = ((size_t)1 << 30) / bytes;
    rd->passes = passes < 1 ? 1 : passes > 100000 ? 100000 : (int)passes;
    rd->a = probe_alloc_array(bytes);
    if (!rd->a) {
        rc = ts_err_set(err, TS_ENOMEM, "probe_read_bandwidth: out of memory for %zu bytes",
                        bytes);
        goto done;
    }
    pool.threads = threads;
    pool.setup = probe_read_setup;
    pool.work = probe_read_work;
    pool.ctx = rd;
    if ((rc = probe_pool_run(&pool, min_seconds, &secs, &rounds, err)) != TS_OK)
        goto done;
    memset(out, 0, sizeof *out);
    probe_summarise(secs, rounds, (double)bytes * rd->passes, out);
    out->threads = threads;
    out->bytes_per_array = bytes;
    snprintf(out->method, sizeof out->method, "read-f32");
    out->elapsed_s = probe_now_s() - start;

done:
    free(secs);
    free(rd->a);
    free(rd);
    return rc;
}

/* ---- compute: independent FMAs on registers ---- */

/* With m < 1 every chain converges to d / (1 - m): no overflow, no denormal slow paths. */
#define PROBE_ACC12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define PROBE_ACC16(X) PROBE_ACC12(X) X(12) X(13) X(14) X(15)

#if defined(__AVX512F__)

/* 16 x 16 lanes: FMA latency 4 x 2 pipes needs 8 chains; 16 leaves room for wider cores. */
#define PROBE_FMA_METHOD "avx512"
#define PROBE_FMA_LANES 16
#define PROBE_FMA_ACCS 16
static float probe_fma_loop(long iters, float mul, float add, float seed)
{
    __m512 m = _mm512_set1_ps(mul), d = _mm512_set1_ps(add), sum = _mm512_setzero_ps();
#define PROBE_DECL(k) __m512 acc##k = _mm512_set1_ps(seed + 0.01f * (k));
#define PROBE_STEP(k) acc##k = _mm512_fmadd_ps(acc##k, m, d);
#define PROBE_SUM(k) sum = _mm512_add_ps(sum, acc##k);
    PROBE_ACC16(PROBE_DECL)
    for (long i = 0; i < iters; i++) {
        PROBE_ACC16(PROBE_STEP)
    }
    PROBE_ACC16(PROBE_SUM)
    return _mm512_reduce_add_ps(sum);
}

#elif defined(__AVX2__) && defined(__FMA__)

/* 12 x 8 lanes: 12 accumulators plus m and d fit the 16 ymm registers. */
#define PROBE_FMA_METHOD "avx2-fma"
#define PROBE_FMA_LANES 8
#define PROBE_FMA_ACCS 12
static float probe_fma_loop(long iters, float mul, float add, float seed)
{
    __m256 m = _mm256_set1_ps(mul), d = _mm256_set1_ps(add), sum = _mm256_setzero_ps();
    float lanes[8], total = 0.0f;
#define PROBE_DECL(k) __m256 acc##k = _mm256_set1_ps(seed + 0.01f * (k));
#define PROBE_STEP(k) acc##k = _mm256_fmadd_ps(acc##k, m, d);
#define PROBE_SUM(k) sum = _mm256_add_ps(sum, acc##k);
    PROBE_ACC12(PROBE_DECL)
    for (long i = 0; i < iters; i++) {
        PROBE_ACC12(PROBE_STEP)
    }
    PROBE_ACC12(PROBE_SUM)
    _mm256_storeu_ps(lanes, sum);
    for (int i = 0; i < 8; i++)
        total += lanes[i];
    return total;
}

#else

/* Plain C: fmaf where the hardware has it, else a multiply and an add (still two FLOPs). */
#define PROBE_FMA_METHOD "portable"
#define PROBE_FMA_LANES 1
#define PROBE_FMA_ACCS 12
#ifdef FP_FAST_FMAF
#define PROBE_FMA1(a, m, d) fmaf((a), (m), (d))
#else
#define PROBE_FMA1(a, m, d) ((a) * (m) + (d))
#endif
static float probe_fma_loop(long iters, float mul, float add, float seed)
{
    float sum = 0.0f;
#define PROBE_DECL(k) float acc##k = seed + 0.01f * (k);
#define PROBE_STEP(k) acc##k = PROBE_FMA1(acc##k, mul, add);
#define PROBE_SUM(k) sum += acc##k;
    PROBE_ACC12(PROBE_DECL)
    for (long i = 0; i < iters; i++) {
        PROBE_ACC12(PROBE_STEP)
    }
    PROBE_ACC12(PROBE_SUM)
    return sum;
}

#endif

typedef struct {
    long iters;
    float mul, add;                         /* runtime values, so nothing folds at compile time */
    volatile float sink[PROBE_MAX_THREADS]; /* keeps each thread's result alive */
} ProbeFma;

static void probe_fma_work(void *ctx, int t)
{
    ProbeFma *f = ctx;
    f->sink[t] = probe_fma_loop(f->iters, f->mul, f->add, 1.0f + 0.001f * (float)t);
}

int probe_compute(int threads, double min_seconds, ProbeResult *out, TsErr *err)
{
    ProbeFma f;
    ProbePool pool = {0};
    double *secs = NULL, start = probe_now_s(), flops;
    int rounds = 0, rc;

    if ((rc = probe_check_args("probe_compute", threads, &min_seconds, out, err)) != TS_OK)
        return rc;

    f.iters = PROBE_FMA_ITERS;
    f.mul = 0.9999f;
    f.add = 1e-4f;
    pool.threads = threads;
    pool.work = probe_fma_work;
    pool.ctx = &f;
    if ((rc = probe_pool_run(&pool, min_seconds, &secs, &rounds, err)) != TS_OK)
        return rc;

    flops = (double)threads * (double)f.iters * PROBE_FMA_ACCS * PROBE_FMA_LANES * 2.0;
    memset(out, 0, sizeof *out);
    probe_summarise(secs, rounds, flops, out);
    out->threads = threads;
    snprintf(out->method, sizeof out->method, "%s", PROBE_FMA_METHOD);
    out->elapsed_s = probe_now_s() - start;
    free(secs);
    return TS_OK;
}

int probe_compute_trials(int threads, int trials, double min_seconds, ProbeResult *out,
                         TsErr *err)
{
    if (trials < 1 || trials > 64)
        return ts_err_set(err, TS_EINPUT, "probe_compute_trials: trials must be 1..64, got %d",
                          trials);
    double best[64], elapsed = 0.0;
    ProbeResult one;
    for (int i = 0; i < trials; i++) {
        int rc = probe_compute(threads, min_seconds, &one, err);
        if (rc != TS_OK)
            return rc;
        best[i] = one.best;
        elapsed += one.elapsed_s;
    }
    qsort(best, (size_t)trials, sizeof best[0], probe_cmp_double);
    *out = one;
    out->best = best[trials - 1];
    out->worst = best[0];
    out->median = trials % 2 ? best[trials / 2] : 0.5 * (best[trials / 2 - 1] + best[trials / 2]);
    out->trials = trials;
    out->elapsed_s = elapsed;
    return TS_OK;
}

/* ---- reduced-precision compute: bf16 pair dot products and int8 quad dot products ---- */

typedef struct {
    long iters;
    int kind; /* 0: bf16, 1: int8 */
    float sink[PROBE_MAX_THREADS];
} ProbeDot;

#if defined(__AVX512BF16__)
#define PROBE_HAS_BF16 1
/* Each VDPBF16PS does 16 lanes x 2 multiply-adds = 64 operations. Chains stay finite: the
 * operands are tiny (1e-3 × 1e-3 per product, 2e6 steps). */
static float probe_bf16_loop(long iters)
{
    __m512i a = _mm512_set1_epi16(0x3A83), b = _mm512_set1_epi16(0x3A83); /* ~1e-3 in bf16 */
    __m512 sum = _mm512_setzero_ps();
#define PROBE_BDECL(k) __m512 acc##k = _mm512_setzero_ps();
#define PROBE_BSTEP(k) acc##k = _mm512_dpbf16_ps(acc##k, (__m512bh)a, (__m512bh)b);
#define PROBE_BSUM(k) sum = _mm512_add_ps(sum, acc##k);
    PROBE_ACC16(PROBE_BDECL)
    for (long i = 0; i < iters; i++) {
        PROBE_ACC16(PROBE_BSTEP)
        __asm__("" : "+v"(a));
    }
    PROBE_ACC16(PROBE_BSUM)
    return _mm512_reduce_add_ps(sum);
}
#else
#define PROBE_HAS_BF16 0
#endif

#if defined(__AVX512VNNI__)
#define PROBE_HAS_VNNI 1
/* Each VPDPBUSD does 16 lanes x 4 multiply-adds = 128 operations; 1 x 1 products keep the
 * int32 chains far from overflow. */
static float probe_int8_loop(long iters)
{
    __m512i a = _mm512_set1_epi8(1), b = _mm512_set1_epi8(1), sum = _mm512_setzero_si512();
#define PROBE_IDECL(k) __m512i acc##k = _mm512_setzero_si512();
#define PROBE_ISTEP(k) acc##k = _mm512_dpbusd_epi32(acc##k, a, b);
#define PROBE_ISUM(k) sum = _mm512_add_epi32(sum, acc##k);
    PROBE_ACC16(PROBE_IDECL)
    for (long i = 0; i < iters; i++) {
        PROBE_ACC16(PROBE_ISTEP)
        __asm__("" : "+v"(a));
    }
    PROBE_ACC16(PROBE_ISUM)
    return (float)_mm512_reduce_add_epi32(sum);
}
#else
#define PROBE_HAS_VNNI 0
#endif

static void probe_dot_work(void *ctx, int t)
{
    ProbeDot *d = ctx;
#if PROBE_HAS_BF16
    if (d->kind == 0)
        d->sink[t] = probe_bf16_loop(d->iters);
#endif
#if PROBE_HAS_VNNI
    if (d->kind == 1)
        d->sink[t] = probe_int8_loop(d->iters);
#endif
    (void)d;
    (void)t;
}

int probe_compute_dot(int threads, int int8, double min_seconds, ProbeResult *out, TsErr *err)
{
    int rc;
    if ((rc = probe_check_args("probe_compute_dot", threads, &min_seconds, out, err)) != TS_OK)
        return rc;
    memset(out, 0, sizeof *out);
    out->threads = threads;
    int have = int8 ? PROBE_HAS_VNNI : PROBE_HAS_BF16;
    if (!have) {
        snprintf(out->method, sizeof out->method, "unavailable");
        return TS_OK;
    }
    ProbeDot *local = calloc(1, sizeof *local);
    if (!local)
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    local->iters = PROBE_FMA_ITERS;
    local->kind = int8;
    ProbePool pool = {0};
    double *secs = NULL, start = probe_now_s();
    int rounds = 0;
    pool.threads = threads;
    pool.work = probe_dot_work;
    pool.ctx = local;
    rc = probe_pool_run(&pool, min_seconds, &secs, &rounds, err);
    long iters = local->iters;
    free(local);
    if (rc != TS_OK)
        return rc;
    double ops = (double)threads * (double)iters * 16.0 * 16.0 * (int8 ? 8.0 : 4.0);
    probe_summarise(secs, rounds, ops, out);
    out->threads = threads;
    snprintf(out->method, sizeof out->method, "%s", int8 ? "avx512-vnni" : "avx512-bf16");
    out->elapsed_s = probe_now_s() - start;
    free(secs);
    return TS_OK;
}

int probe_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        return 1;
    return n > PROBE_MAX_THREADS ? PROBE_MAX_THREADS : (int)n;
}
