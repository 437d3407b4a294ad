/* spread: the ranks' phases. Each phase allocates what it will need, computes its own work
 * items, agrees, then moves them to rank 0 with point-to-point messages in a fixed order (rank 0
 * keeps receiving after a bad message so that no sender is left blocked), sums the clamped
 * draws, and agrees once more; after a failed agreement every rank leaves at once. The McResult
 * is filled by block index and mc_summarise adds blocks in block order, so the result does not
 * depend on N or on timing. */
#include "sim/study/spread.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim/study/shard.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The end of a rank's own work items (begun at t0, status rc): the test hook's failure when
 * this is the rank it names, then the agreement, timed into st. Returns the agreed status. */
static int items_done(const SprOptions *so, int rc, double t0, SprStats *st, TsErr *err)
{
    if (rc == 0 && so->fail_rank == so->par->rank)
        rc = ts_err_set(err, TS_EIO,
                        "failure injected by TOKENSIM_TEST_FAIL_RANK=%d (a test hook) after "
                        "this rank's work items",
                        so->fail_rank);
    double t1 = now_s();
    st->compute_s = t1 - t0;
    rc = par_agree(so->par, rc, err);
    st->wait_s = now_s() - t1;
    return rc;
}

/* Rank 0 receives the other ranks' blocks in block order; the others send theirs, in the same
 * order. buf holds the largest block message. */
static int gather_blocks(const ParCtx *par, ShardRun *r, double *buf, SprStats *st, TsErr *err)
{
    int rc = 0;
    for (int b = 0; b < r->mc.n_blocks; b++) {
        int owner = b % par->size;
        size_t n = shard_block_doubles(&r->mc, b);
        if (par->rank == 0 && owner != 0) {
            int got = par_recv_doubles(par, owner, buf, n, err);
            if (!got && !rc)
                got = shard_unpack_block(r, b, buf, err);
            rc = rc ? rc : got;
            st->bytes += (double)(n * sizeof(double));
            st->messages++;
        } else if (owner == par->rank && par->rank != 0) {
            shard_pack_block(r, b, buf);
            int sent = par_send_doubles(par, 0, buf, n, err);
            rc = rc ? rc : sent;
        }
    }
    return rc;
}

int spr_mc_run(const SprOptions *so, Scenario *s, const McOptions *o, McResult *out,
               SprStats *st, TsErr *err)
{
    const ParCtx *par = so->par;
    memset(out, 0, sizeof *out);
    memset(st, 0, sizeof *st);
    ShardRun r;
    double *buf = NULL;
    int rc = shard_run_init(&r, s, (ShardSpec){par->rank + 1, par->size}, err);
    if (!rc && par->size > 1 && !(buf = malloc(sizeof(double) * shard_block_doubles(&r.mc, 0))))
        rc = ts_err_set(err, TS_ENOMEM, "out of memory");
    if ((rc = par_agree(par, rc, err)))
        goto done;
    double t0 = now_s();
    if (par->size == 1) {
        McOptions all = *o;
        all.samples = r.mc.n_samples;
        all.shard = 0;
        all.n_shards = 1;
        rc = mc_run(s, &all, &r.mc, err);
    } else {
        rc = shard_run(s, o, &r, err);
    }
    if ((rc = items_done(so, rc, t0, st, err)))
        goto done;
    double t1 = now_s();
    rc = gather_blocks(par, &r, buf, st, err);
    /* collective: called after a bad block too */
    int summed = par_sum_long(par, &r.mc.clamped, err);
    rc = par_agree(par, rc ? rc : summed, err);
    st->gather_s = now_s() - t1;
done:
    free(buf);
    if (!rc && par->rank == 0) {
        *out = r.mc; /* moved: the ShardRun keeps only its block_failed */
        memset(&r.mc, 0, sizeof r.mc);
    }
    shard_run_fini(&r);
    return rc;
}

int spr_sweep_run(const SprOptions *so, Scenario *s, const SwpPlan *p, SwpResult *r,
                  SprStats *st, TsErr *err)
{
    const ParCtx *par = so->par;
    memset(st, 0, sizeof *st);
    double t0 = now_s();
    int rc = swp_run_part(s, p, par->rank, par->size, r, err);
    /* part 0 has the most points: its size fits every message */
    double *buf = NULL;
    if (!rc && par->size > 1 &&
        !(buf = malloc(sizeof(double) * (size_t)(swp_part_doubles(r, 0, par->size) + 1))))
        rc = ts_err_set(err, TS_ENOMEM, "out of memory");
    if ((rc = items_done(so, rc, t0, st, err)))
        goto done;
    double t1 = now_s();
    /* rank 0 receives every part even after a bad one: no sender stays blocked */
    for (int k = 1; k < par->size; k++) {
        long n = swp_part_doubles(r, k, par->size);
        int one = 0;
        if (par->rank == 0) {
            one = par_recv_doubles(par, k, buf, (size_t)n, err);
            if (!one && !rc)
                swp_part_unpack(r, k, par->size, buf);
            st->bytes += (double)n * sizeof(double);
            st->messages++;
        } else if (par->rank == k) {
            swp_part_pack(r, k, par->size, buf);
            one = par_send_doubles(par, 0, buf, (size_t)n, err);
        }
        rc = rc ? rc : one;
    }
    rc = par_agree(par, rc, err);
    st->gather_s = now_s() - t1;
done:
    free(buf);
    return rc;
}
