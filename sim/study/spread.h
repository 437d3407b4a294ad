/* spread: a scenario's work items over the ranks of par.h (Open MPI under `mpirun`, or the one
 * rank of a plain build). Monte Carlo: rank r runs the blocks b with b % N == r (shard r+1 of N,
 * as `run --shard`), then rank 0 receives every other block, one message per block, in block
 * order, and holds the McResult one process would have. Sweeps: rank r prices the points with
 * index % N == r and sends them to rank 0 in one message. Every phase ends with par_agree, so a
 * failing rank fails the whole run on every rank. No I/O, prints nothing. */
#ifndef TS_SIM_SPREAD_H
#define TS_SIM_SPREAD_H

#include "sim/study/montecarlo.h"
#include "sim/study/par.h"
#include "sim/scenario/scenario.h"
#include "sim/study/sweep.h"

typedef struct {
    const ParCtx *par; /* borrowed */
    int fail_rank;     /* test hook: this rank fails after its part is done (-1: none); set from
                          TOKENSIM_TEST_FAIL_RANK by main, for the tests of a failing rank */
} SprOptions;

/* What a phase moved and how long it took (rank 0's view). */
typedef struct {
    double compute_s; /* this rank's own work items */
    double wait_s;    /* then waiting until every rank has done its items */
    double gather_s;  /* then moving the items to rank 0 */
    double bytes;     /* received by rank 0 from the other ranks */
    long messages;    /* received by rank 0 */
} SprStats;

/* Collective: s's Monte Carlo run over the ranks into out (mc_fini it on every rank, also after
 * a failure). On rank 0 out holds every block, as mc_init + mc_run would make it; on the other
 * ranks out is empty. o gives progress (of this rank's samples) and stop; its shard fields are
 * not used. s's values are left at their medians. Any rank's failure is every rank's error. */
int spr_mc_run(const SprOptions *so, Scenario *s, const McOptions *o, McResult *out,
               SprStats *st, TsErr *err);

/* Collective: plan p's points over the ranks into r (swp_result_fini it on every rank). On rank 0
 * r holds every point's rows, as swp_run makes them. Errors as spr_mc_run. */
int spr_sweep_run(const SprOptions *so, Scenario *s, const SwpPlan *p, SwpResult *r,
                  SprStats *st, TsErr *err);

#endif
