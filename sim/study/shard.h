/* shard: the work items of DESIGN.md "Scale" for a Monte Carlo run. `run --shard K/N` runs the
 * blocks b with b % N == K - 1 and keeps, per block and fleet, the metric sums and counts, the
 * kept samples and the failures; `merge` checks that N parts belong together and rebuilds the
 * McResult a single process would have, block by block, so the same runner code stores it.
 * No I/O besides the parts it is given to read; prints nothing. */
#ifndef TS_SIM_SHARD_H
#define TS_SIM_SHARD_H

#include "sim/study/montecarlo.h"
#include "sim/scenario/scenario.h"
#include "sim/store/store.h"

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

/* The store rows of r's blocks, one per present block and fleet, in (block, fleet) order.
 * *rows and *packed (the samples they point into) are allocated: free both. */
int shard_block_rows(const ShardRun *r, StoreMcBlockRow **rows, int *n, double **packed,
                     TsErr *err);

/* The work items as messages between ranks (spread.c): block b of a run is one array of
 * shard_block_doubles(mc, b) doubles: b, then per fleet its MET_COUNT sums, MET_COUNT counts,
 * failures and kept samples (MC_N_PCT, block length). Packing copies block b (present in r);
 * unpacking puts it into r's slot b (which must be empty), adds its failures and marks it
 * present; TS_EINTERNAL when buf is not block b. */
size_t shard_block_doubles(const McResult *mc, int b);
void shard_pack_block(const ShardRun *r, int b, double *buf);
int shard_unpack_block(ShardRun *r, int b, const double *buf, TsErr *err);

/* The parts of a merge, opened read-only and checked to be shards 1..N of one run. */
typedef struct {
    int n_parts;
    Store **dbs;         /* (n_parts) */
    StoreShardRun *runs; /* (n_parts), in the order given */
} ShardMerge;

/* Opens every part and checks them against each other and this build (version): the same
 * scenario (sha256), seed, samples, block size and N, each shard 1..N exactly once. TS_EINPUT
 * naming the part otherwise. Release with shard_merge_fini (also after a failure). */
int shard_merge_open(ShardMerge *m, const char *const *paths, int n_paths, const char *version,
                     TsErr *err);
void shard_merge_fini(ShardMerge *m);

/* Rebuilds the whole run's McResult for s (the scenario re-read from the parts' text) from
 * every part's blocks: each block of each fleet present exactly once, in its own shard; clamped
 * and failures summed. mc is initialised here (mc_fini it, also after a failure). s's values are
 * left at their medians, as mc_run leaves them. */
int shard_merge_blocks(const ShardMerge *m, Scenario *s, McResult *mc, TsErr *err);

#endif
