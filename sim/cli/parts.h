/* parts: a sharded Monte Carlo run in databases (see parts.c): the rows a shard stores and the
 * merge of N parts into one McResult. */
#ifndef TS_SIM_CLI_PARTS_H
#define TS_SIM_CLI_PARTS_H

#include "sim/scenario/scenario.h"
#include "sim/store/store.h"
#include "sim/study/montecarlo.h"
#include "sim/study/shard.h"

/* The store rows of r's blocks, one per present block and fleet, in (block, fleet) order.
 * *rows and *packed (the samples they point into) are allocated: free both. */
int parts_block_rows(const ShardRun *r, StoreMcBlockRow **rows, int *n, double **packed,
                     TsErr *err);

/* The parts of a merge, opened read-only and checked to be shards 1..N of one run. */
typedef struct {
    int n_parts;
    Store **dbs;         /* (n_parts) */
    StoreShardRun *runs; /* (n_parts), in the order given */
} PartsMerge;

/* Opens every part and checks them against each other and this build (version): the same
 * scenario (sha256), seed, samples, block size and N, each shard 1..N exactly once. TS_EINPUT
 * naming the part otherwise. Release with parts_merge_fini (also after a failure). */
int parts_merge_open(PartsMerge *m, const char *const *paths, int n_paths, const char *version,
                     TsErr *err);
void parts_merge_fini(PartsMerge *m);

/* Rebuilds the whole run's McResult for s (the scenario re-read from the parts' text) from
 * every part's blocks: each block of each fleet present exactly once, in its own shard; clamped
 * and failures summed. mc is initialised here (mc_fini it, also after a failure). s's values are
 * left at their medians, as mc_run leaves them. */
int parts_merge_blocks(const PartsMerge *m, Scenario *s, McResult *mc, TsErr *err);

#endif
