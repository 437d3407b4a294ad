/* pool: a small thread pool for data-parallel loops. pool_run hands task indices 0..n-1 to the
 * caller's thread and the workers and returns when all are done. Which thread runs a task never
 * changes what the task computes, so results do not depend on the thread count. Workers spin
 * briefly between runs (forward passes issue many short loops), then sleep. */
#ifndef TS_MODELS_POOL_H
#define TS_MODELS_POOL_H

#include "models/tserr.h"

typedef struct Pool Pool; /* opaque */

/* fn(ctx, task, thread) runs one task on thread `thread` in [0, pool_threads) (0 is the
 * caller), so tasks can use per-thread scratch; it must not call pool_run on the same pool. */
typedef void (*PoolFn)(void *ctx, int task, int thread);

/* Starts a pool of `threads` threads in all (the caller counts as one: threads - 1 workers).
 * threads must be in [1, 256]. */
int pool_new(int threads, Pool **out, TsErr *err);

/* Stops and joins the workers. p may be NULL. */
void pool_free(Pool *p);

/* Threads in the pool, the caller included. */
int pool_threads(const Pool *p);

/* Runs fn for every task in [0, n_tasks) and returns when all have finished. */
void pool_run(Pool *p, PoolFn fn, void *ctx, int n_tasks);

#endif
