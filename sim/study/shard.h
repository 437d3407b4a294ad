/* shard: the work items of DESIGN.md "Scale" for a Monte Carlo run. `run --shard K/N` runs the
 * blocks b with b % N == K - 1 and keeps, per block and fleet, the metric sums and counts, the
 * kept samples and the failures; blocks put back (sent by ranks, or read from the parts of a
 * `merge`: sim/cli/parts.c) rebuild the McResult a single process would have. No I/O. */
#ifndef TS_SIM_SHARD_H
#define TS_SIM_SHARD_H

#include "sim/study/montecarlo.h"
#include "sim/scenario/scenario.h"

#define SHARD_MAX 10000

typedef struct {
    int k, n; /* shard k of n, 1-based: 1 <= k <= n <= SHARD_MAX */
} ShardSpec;

/* Parses "K/N" (decimal, 1 <= K <= N <= SHARD_MAX). TS_EINPUT with a message naming the text. */
int shard_parse(const char *text, ShardSpec *out, TsErr *err);

/* A shard's Monte Carlo run: the McResult (only this shard's blocks present) and the failures
 * per block. */
typedef struct {
    ShardSpec spec;
    McResult mc;
    long *block_failed; /* (mc.n_blocks, mc.n_fleets) */
} ShardRun;

/* Allocates r for s's samples (mc_init's size check and errors). */
int shard_run_init(ShardRun *r, const Scenario *s, ShardSpec spec, TsErr *err);
void shard_run_fini(ShardRun *r);

/* Runs the shard's blocks of s into r, in block order. o gives progress (samples of this shard)
 * and stop; its samples and shard fields are not used. TS_EINPUT when interrupted. s's values
 * are left at their medians. */
int shard_run(Scenario *s, const McOptions *o, ShardRun *r, TsErr *err);

/* One block of one fleet as numbers (arrays borrowed): what a rank sends and a part stores. */
typedef struct {
    int block, fleet;      /* block index from 0; fleet index in the scenario's order */
    const double *sums;    /* (n_metrics) */
    const double *counts;  /* (n_metrics) */
    int n_metrics;
    const double *samples; /* (n_samples): (MC_N_PCT, block length) kept samples */
    int n_samples;
    int64_t failed;
} ShardBlock;

/* The samples in block b of mc; block b, fleet f's kept samples copied into dst (MC_N_PCT,
 * shard_block_len); a block (already checked to fit mc) put into mc with its failures. */
long shard_block_len(const McResult *mc, int b);
void shard_block_samples(const McResult *mc, int b, int f, double *dst);
void shard_put_block(McResult *mc, const ShardBlock *row);

/* The work items as messages between ranks (spread.c): block b of a run is one array of
 * shard_block_doubles(mc, b) doubles: b, then per fleet its MET_COUNT sums, MET_COUNT counts,
 * failures and kept samples (MC_N_PCT, block length). Packing copies block b (present in r);
 * unpacking puts it into r's slot b (which must be empty), adds its failures and marks it
 * present; TS_EINTERNAL when buf is not block b. */
size_t shard_block_doubles(const McResult *mc, int b);
void shard_pack_block(const ShardRun *r, int b, double *buf);
int shard_unpack_block(ShardRun *r, int b, const double *buf, TsErr *err);

#endif
