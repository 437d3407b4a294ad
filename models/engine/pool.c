/* pool: workers wait for a new generation number, spinning for a short while and then on a
 * condition variable; tasks are claimed with an atomic counter. The caller takes tasks too and
 * then waits (spinning, then yielding its core) until every worker has checked in. */
#include "models/engine/pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define POOL_SPIN 20000

typedef struct Pool Pool;

typedef struct {
    Pool *pool;
    int thread;
} WorkerArg;

struct Pool {
    int n_threads;
    pthread_t *workers;
    WorkerArg *args;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint generation;
    atomic_int next_task;
    atomic_int done_workers;
    atomic_int stop;
    PoolFn fn;
    void *ctx;
    int n_tasks;
};

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void take_tasks(Pool *p, int thread)
{
    for (;;) {
        int t = atomic_fetch_add_explicit(&p->next_task, 1, memory_order_relaxed);
        if (t >= p->n_tasks)
            return;
        p->fn(p->ctx, t, thread);
    }
}


static void *worker_main(void *arg)
{
    WorkerArg *wa = arg;
    Pool *p = wa->pool;
    int thread = wa->thread;
    unsigned seen = 0;
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen &&
               !atomic_load_explicit(&p->stop, memory_order_relaxed)) {
            if (++spins < POOL_SPIN) {
                cpu_relax();
                continue;
            }
            pthread_mutex_lock(&p->mu);
            while (atomic_load_explicit(&p->generation, memory_order_acquire) == seen &&
                   !atomic_load_explicit(&p->stop, memory_order_relaxed))
                pthread_cond_wait(&p->cv, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load_explicit(&p->stop, memory_order_relaxed))
            return NULL;
        seen = g;
        take_tasks(p, thread);
        atomic_fetch_add_explicit(&p->done_workers, 1, memory_order_acq_rel);
    }
}

int pool_new(int threads, Pool **out, TsErr *err)
{
    *out = NULL;
    if (threads < 1 || threads > 256)
        return ts_err_set(err, TS_EINPUT, "threads must be in [1, 256], got %d", threads);
    Pool *p = calloc(1, sizeof *p);
    if (!p)
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    p->n_threads = threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    atomic_init(&p->generation, 0);
    atomic_init(&p->next_task, 0);
    atomic_init(&p->done_workers, 0);
    atomic_init(&p->stop, 0);
    if (threads > 1) {
        p->workers = calloc((size_t)threads - 1, sizeof *p->workers);
        p->args = calloc((size_t)threads - 1, sizeof *p->args);
        if (!p->workers || !p->args) {
            pool_free(p);
            return ts_err_set(err, TS_ENOMEM, "out of memory");
        }
    }
    for (int i = 0; i < threads - 1; i++) {
        p->args[i] = (WorkerArg){p, i + 1};
        if (pthread_create(&p->workers[i], NULL, worker_main, &p->args[i]) != 0) {
            p->n_threads = i + 1; /* join only those started */
            pool_free(p);
            return ts_err_set(err, TS_EIO, "cannot start thread %d of %d", i + 2, threads);
        }
    }
    *out = p;
    return 0;
}

void pool_free(Pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_threads - 1 && p->workers; i++)
        pthread_join(p->workers[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->workers);
    free(p->args);
    free(p);
}

int pool_threads(const Pool *p)
{
    return p->n_threads;
}

void pool_run(Pool *p, PoolFn fn, void *ctx, int n_tasks)
{
    if (n_tasks <= 0)
        return;
    if (p->n_threads == 1 || n_tasks == 1) {
        for (int t = 0; t < n_tasks; t++)
            fn(ctx, t, 0);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store_explicit(&p->next_task, 0, memory_order_relaxed);
    atomic_store_explicit(&p->done_workers, 0, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    take_tasks(p, 0);
    int workers = p->n_threads - 1, spins = 0;
    /* on a loaded machine a worker may be off its core for a whole time slice: after a short
     * spin, give the core away instead of burning it while that worker waits for one */
    while (atomic_load_explicit(&p->done_workers, memory_order_acquire) < workers) {
        if (++spins < POOL_SPIN)
            cpu_relax();
        else
            sched_yield();
    }
}
