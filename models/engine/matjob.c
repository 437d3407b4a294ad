/* matjob: the engine's matmul dispatch. A step's independent products (Q, K and V; gate and
 * up; every active expert's) go to the pool together: each reduced-precision input is
 * converted once in one parallel pass, then the outputs are split into tasks shared out by
 * each product's cost. Which task or thread computes an output never changes its bits (the
 * kernels' fixed reduction order); this file only splits and hands out the work. */
#include "models/engine/matjob.h"

#include "models/engine/kernels.h"

typedef struct {
    MatJob *jobs;
    int n_jobs;
} MatBatch;

static size_t align64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

/* Bytes of a job's converted input: the rows at kpad elements, then for int4 the block sums. */
static size_t act_bytes(const MatJob *m)
{
    size_t kp = (size_t)m->w->kpad, vals = align64((size_t)m->rows * kp *
                                                   (size_t)prec_elt_bytes(m->w->prec));
    return m->w->prec == PREC_INT4 ? vals + align64((size_t)m->rows * (kp / QT_Q4_BLOCK) * 4)
                                   : vals;
}

/* int4: the block sums stored after the converted rows. */
static int32_t *q4_sums(const MatJob *m)
{
    size_t kp = (size_t)m->w->kpad;
    return (int32_t *)(void *)((unsigned char *)m->xq + align64((size_t)m->rows * kp));
}

static void mat_task(void *ctx, int t, int thread)
{
    (void)thread;
    MatBatch *b = ctx;
    int j = 0;
    while (t >= b->jobs[j].tasks) {
        t -= b->jobs[j].tasks;
        j++;
    }
    MatJob *m = &b->jobs[j];
    int o0 = t * m->chunk;
    int o1 = o0 + m->chunk < m->out ? o0 + m->chunk : m->out;
    const QMat *w = m->w;
    switch (w->prec) {
    case PREC_BF16:
        kern_matmul_bf16(m->y, m->ldy, m->xq, w->kpad, w, m->rows, o0, o1);
        break;
    case PREC_INT8:
        kern_matmul_i8(m->y, m->ldy, m->xq, m->xs, w->kpad, w, m->rows, o0, o1);
        break;
    case PREC_INT4:
        kern_matmul_q4(m->y, m->ldy, m->xq, m->xs, q4_sums(m), w->kpad, w->kpad / QT_Q4_BLOCK, w,
                       m->rows, o0, o1);
        break;
    default:
        kern_matmul(m->y, m->ldy, m->x, m->ldx, w->f32, m->in, m->rows, m->in, o0, o1);
        break;
    }
}

/* Converts row r of a job's input for its precision. */
static void conv_row(MatJob *m, int r)
{
    size_t kp = (size_t)m->w->kpad;
    const float *x = m->x + (size_t)r * (size_t)m->ldx;
    float *xs = (float *)m->xs;
    switch (m->w->prec) {
    case PREC_BF16:
        qt_act_bf16((uint16_t *)m->xq + (size_t)r * kp, x, m->in, (int)kp);
        break;
    case PREC_INT8:
        xs[r] = qt_act_u8((uint8_t *)m->xq + (size_t)r * kp, x, m->in, (int)kp);
        break;
    default:
        xs[r] = qt_act_i8((int8_t *)m->xq + (size_t)r * kp,
                          q4_sums(m) + (size_t)r * (kp / QT_Q4_BLOCK), x, m->in, (int)kp);
        break;
    }
}

/* The inputs of one dispatch to convert: the rows of every job that owns its conversion (the
 * first of jobs sharing x), numbered one after another and split evenly over the tasks. */
typedef struct {
    MatJob *jobs;
    int n_jobs;
    int rows;  /* rows to convert in all */
    int tasks;
} ConvBatch;

static int conv_owner(const MatJob *jobs, int j)
{
    return jobs[j].w->prec != PREC_FP32 && (j == 0 || jobs[j].xq != jobs[j - 1].xq);
}

static void conv_task(void *ctx, int t, int thread)
{
    (void)thread;
    ConvBatch *c = ctx;
    int g0 = (int)((long)c->rows * t / c->tasks), g1 = (int)((long)c->rows * (t + 1) / c->tasks);
    for (int j = 0, base = 0; j < c->n_jobs && base < g1; j++) {
        if (!conv_owner(c->jobs, j))
            continue;
        MatJob *m = &c->jobs[j];
        int r0 = g0 > base ? g0 - base : 0, r1 = g1 - base < m->rows ? g1 - base : m->rows;
        for (int r = r0; r < r1; r++)
            conv_row(m, r);
        base += m->rows;
    }
}

/* Gives every reduced-precision job its converted input from the engine's scratch, converting
 * each distinct input once (jobs that share x, like Q/K/V, share the conversion), all of a
 * dispatch's inputs in one parallel pass (a MoE layer converts one input per expert). */
static void convert_inputs(Pool *pool, const MjScratch *s, MatJob *jobs, int n_jobs)
{
    size_t used = 0, scales = 0;
    long elems = 0;
    ConvBatch c = {jobs, n_jobs, 0, 1};
    for (int j = 0; j < n_jobs; j++) {
        MatJob *m = &jobs[j];
        if (m->w->prec == PREC_FP32)
            continue;
        if (j > 0 && jobs[j - 1].x == m->x && jobs[j - 1].rows == m->rows &&
            jobs[j - 1].in == m->in && jobs[j - 1].w->prec == m->w->prec) {
            m->xq = jobs[j - 1].xq;
            m->xs = jobs[j - 1].xs;
            continue;
        }
        m->xq = s->act + used;
        m->xs = s->act_scale + scales;
        used += act_bytes(m);
        scales += (size_t)m->rows;
        c.rows += m->rows;
        elems += (long)m->rows * m->in;
    }
    /* a decode batch's few rows convert in the caller: a hand-off would cost more */
    int threads = pool_threads(pool);
    c.tasks = elems < 16384 || c.rows < 4 * threads ? 1 : 4 * threads;
    if (c.rows == 0)
        return;
    if (c.tasks == 1)
        conv_task(&c, 0, 0);
    else
        pool_run(pool, conv_task, &c, c.tasks);
}

void mj_run(Pool *pool, const MjScratch *s, MatJob *jobs, int n_jobs, PhaseCounters *cnt)
{
    int threads = pool_threads(pool);
    /* A dispatch is split into about 4 tasks per thread (one matmul) or 8 (several, shared by
     * their cost: a MoE layer's many small expert products are a task or two each, not 8
     * each). The cost counts each weight as a few rows of work, since every weight is read. */
    double cost = 0;
    for (int j = 0; j < n_jobs; j++)
        cost += (jobs[j].rows + 4.0) * jobs[j].in * (double)jobs[j].out;
    int want = n_jobs > 1 ? 8 * threads : 4 * threads, total = 0;
    for (int j = 0; j < n_jobs; j++) {
        MatJob *m = &jobs[j];
        int parts = (int)(want * (m->rows + 4.0) * m->in * (double)m->out / cost + 0.5);
        parts = parts < 1 ? 1 : parts;
        int per = (m->out + parts - 1) / parts;
        if (m->w->prec == PREC_FP32) {
            per = (per + 5) / 6 * 6; /* whole 6-output tiles */
            per = per < 6 ? 6 : per;
        } else {
            /* whole panels, and whole groups of 4 panels (the kernels' tile) when large */
            int unit = per >= 4 * QT_PANEL ? 4 * QT_PANEL : QT_PANEL;
            per = (per + unit - 1) / unit * unit;
        }
        m->chunk = per;
        m->tasks = (m->out + per - 1) / per;
        total += m->tasks;
        if (cnt) {
            cnt->flops += 2.0 * m->rows * (double)m->in * m->out;
            cnt->weight_bytes += m->w->bytes;
        }
    }
    convert_inputs(pool, s, jobs, n_jobs);
    MatBatch b = {jobs, n_jobs};
    pool_run(pool, mat_task, &b, total);
}
