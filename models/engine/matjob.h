/* matjob: a dispatch of independent matmuls over the engine's thread pool (see matjob.c). */
#ifndef TS_MODELS_MATJOB_H
#define TS_MODELS_MATJOB_H

#include "models/engine/forward.h"
#include "models/engine/pool.h"
#include "models/engine/quant.h"

/* One matmul of a dispatch: y (rows, out) = x (rows, in) · w^T. The caller fills y to rows
 * (the first seven fields); mj_run fills the rest. */
typedef struct MatJob {
    float *y;
    int ldy;
    const float *x;
    int ldx;
    const QMat *w;   /* (out, in) in the engine's precision; borrowed */
    int rows, in, out;
    int chunk;       /* outputs per task */
    int tasks;
    const void *xq;  /* x converted for w's precision (kpad per row; int4: block sums after) */
    const float *xs; /* int8, int4: x's scale per row */
} MatJob;

/* Where converted inputs go: act must hold every distinct input of a dispatch at kpad elements
 * per row (64-byte aligned, plus int4's block sums), act_scale a float per row. Borrowed. */
typedef struct {
    unsigned char *act;
    float *act_scale;
} MjScratch;

/* Runs jobs[0..n_jobs) on pool and returns when all are done; adds their FLOPs and weight
 * bytes to cnt unless it is NULL. Jobs in a row with the same x, rows and in share one
 * conversion. */
void mj_run(Pool *pool, const MjScratch *s, MatJob *jobs, int n_jobs, PhaseCounters *cnt);

#endif
