/* parts: a sharded Monte Carlo run in databases: the block rows a `run --shard K/N` stores, and
 * `merge`, which opens N part databases read-only, checks that they are shards 1..N of one run
 * of this build, and puts every block back into one McResult (sim/study/shard.c), so that the
 * runner stores it as a single process would have. Reads the parts; prints nothing. */
#include "sim/cli/parts.h"

#include <stdlib.h>
#include <string.h>

int parts_block_rows(const ShardRun *r, StoreMcBlockRow **rows, int *n, double **packed, TsErr *err)
{
    const McResult *mc = &r->mc;
    int nf = mc->n_fleets;
    size_t n_rows = 0, n_doubles = 0;
    for (int b = 0; b < mc->n_blocks; b++)
        if (mc->have_block[b]) {
            n_rows += (size_t)nf;
            n_doubles += (size_t)nf * MC_N_PCT * (size_t)shard_block_len(mc, b);
        }
    *rows = calloc(n_rows + 1, sizeof **rows);
    *packed = malloc(sizeof(double) * (n_doubles + 1));
    *n = 0;
    if (!*rows || !*packed) {
        free(*rows);
        free(*packed);
        *rows = NULL;
        *packed = NULL;
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    }
    size_t off = 0;
    for (int b = 0; b < mc->n_blocks; b++) {
        if (!mc->have_block[b])
            continue;
        long len = shard_block_len(mc, b);
        for (int f = 0; f < nf; f++) {
            double *dst = *packed + off; /* (MC_N_PCT, len) */
            shard_block_samples(mc, b, f, dst);
            size_t cell = ((size_t)b * (size_t)nf + (size_t)f) * MET_COUNT;
            (*rows)[(*n)++] = (StoreMcBlockRow){
                .block = b,
                .fleet = f,
                .sums = mc->block_sum + cell,
                .counts = mc->block_count + cell,
                .n_metrics = MET_COUNT,
                .samples = dst,
                .n_samples = (int)(MC_N_PCT * len),
                .failed = r->block_failed[(size_t)b * (size_t)nf + (size_t)f],
            };
            off += (size_t)MC_N_PCT * (size_t)len;
        }
    }
    return 0;
}

void parts_merge_fini(PartsMerge *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n_parts; i++) {
        if (m->dbs)
            store_close(m->dbs[i]);
        if (m->runs)
            store_shard_run_free(&m->runs[i]);
    }
    free(m->dbs);
    free(m->runs);
    memset(m, 0, sizeof *m);
}

/* Checks part i against this build and against part 0 and the parts before it. */
static int check_part(const PartsMerge *m, const char *const *paths, int i, const char *version,
                      TsErr *err)
{
    const StoreShardRun *r = &m->runs[i], *r0 = &m->runs[0];
    if (r->shard < 1 || r->shard > r->n_shards || r->n_shards > SHARD_MAX)
        return ts_err_set(err, TS_EINPUT, "%s: shard %d/%d is not a valid shard", paths[i],
                          r->shard, r->n_shards);
    if (strcmp(r->version, version) != 0)
        return ts_err_set(err, TS_EINPUT,
                          "%s: shard %d/%d was run by tokensim %s and this is tokensim %s; run "
                          "and merge every shard with the same build",
                          paths[i], r->shard, r->n_shards, r->version, version);
    if (r->block_size != MC_BLOCK)
        return ts_err_set(err, TS_EINPUT,
                          "%s: shard %d/%d has blocks of %d samples and this build's are %d",
                          paths[i], r->shard, r->n_shards, r->block_size, MC_BLOCK);
    if (i == 0)
        return 0;
    if (strcmp(r->scenario_sha256, r0->scenario_sha256) != 0 || r->seed != r0->seed)
        return ts_err_set(err, TS_EINPUT,
                          "%s is a shard of another scenario than %s ('%s', sha256 %.12s..., "
                          "seed %lld against '%s', %.12s..., seed %lld)",
                          paths[i], paths[0], r->name, r->scenario_sha256, (long long)r->seed,
                          r0->name, r0->scenario_sha256, (long long)r0->seed);
    if (r->n_shards != r0->n_shards)
        return ts_err_set(err, TS_EINPUT,
                          "%s is shard %d/%d but %s is shard %d/%d: every part must come from "
                          "the same split",
                          paths[i], r->shard, r->n_shards, paths[0], r0->shard, r0->n_shards);
    if (r->samples != r0->samples)
        return ts_err_set(err, TS_EINPUT, "%s has %lld samples in all but %s has %lld", paths[i],
                          (long long)r->samples, paths[0], (long long)r0->samples);
    for (int j = 0; j < i; j++)
        if (m->runs[j].shard == r->shard)
            return strcmp(paths[j], paths[i]) == 0
                       ? ts_err_set(err, TS_EINPUT, "%s is given twice", paths[i])
                       : ts_err_set(err, TS_EINPUT, "%s and %s are both shard %d/%d", paths[j],
                                    paths[i], r->shard, r->n_shards);
    return 0;
}

int parts_merge_open(PartsMerge *m, const char *const *paths, int n_paths, const char *version,
                     TsErr *err)
{
    memset(m, 0, sizeof *m);
    m->dbs = calloc((size_t)n_paths + 1, sizeof *m->dbs);
    m->runs = calloc((size_t)n_paths + 1, sizeof *m->runs);
    if (!m->dbs || !m->runs) {
        parts_merge_fini(m);
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    }
    m->n_parts = n_paths;
    for (int i = 0; i < n_paths; i++) {
        if (store_open_readonly(paths[i], &m->dbs[i], err) ||
            store_read_shard_run(m->dbs[i], &m->runs[i], err) ||
            check_part(m, paths, i, version, err))
            return err->code;
    }
    int n = m->runs[0].n_shards;
    if (n_paths < n) {
        char missing[256] = "";
        size_t used = 0;
        int n_missing = 0;
        for (int k = 1; k <= n; k++) {
            int found = 0;
            for (int i = 0; i < n_paths && !found; i++)
                found = m->runs[i].shard == k;
            if (found)
                continue;
            if (n_missing++ < 8 && used < sizeof missing) {
                int w = snprintf(missing + used, sizeof missing - used, "%s%d/%d", used ? ", " : "",
                                 k, n);
                used += w > 0 ? (size_t)w : 0;
            }
        }
        return ts_err_set(err, TS_EINPUT,
                          "shard%s %s%s %s missing: merge needs all %d parts, "
                          "got %d",
                          n_missing == 1 ? "" : "s", missing, n_missing > 8 ? ", ..." : "",
                          n_missing == 1 ? "is" : "are", n, n_paths);
    }
    return 0;
}

typedef struct {
    McResult *mc;
    unsigned char *seen; /* (n_blocks, n_fleets) */
    const StoreShardRun *run;
    const char *path;
} MergeCtx;

/* Copies one block row of a part into the McResult after checking it fits. */
static int merge_block(void *ctx, const StoreMcBlockRow *row, TsErr *err)
{
    MergeCtx *c = ctx;
    McResult *mc = c->mc;
    int b = row->block, f = row->fleet;
    const char *p = c->path;
    if (b < 0 || b >= mc->n_blocks || f < 0 || f >= mc->n_fleets)
        return ts_err_set(err, TS_EINPUT,
                          "%s: block %d of fleet %d is outside the run (%d blocks, %d fleets)", p,
                          b, f, mc->n_blocks, mc->n_fleets);
    if (b % c->run->n_shards != c->run->shard - 1)
        return ts_err_set(err, TS_EINPUT, "%s: block %d belongs to shard %d/%d, not to %d/%d", p, b,
                          b % c->run->n_shards + 1, c->run->n_shards, c->run->shard,
                          c->run->n_shards);
    long len = shard_block_len(mc, b);
    if (row->n_metrics != MET_COUNT || row->n_samples != MC_N_PCT * len || row->failed < 0)
        return ts_err_set(err, TS_EINPUT,
                          "%s: block %d of fleet %d has %d metrics and %d samples; this build "
                          "expects %d and %ld",
                          p, b, f, row->n_metrics, row->n_samples, MET_COUNT, MC_N_PCT * len);
    size_t at = (size_t)b * (size_t)mc->n_fleets + (size_t)f;
    if (c->seen[at])
        return ts_err_set(err, TS_EINPUT, "%s: block %d of fleet %d is there twice", p, b, f);
    c->seen[at] = 1;
    ShardBlock block = {row->block,   row->fleet,     row->sums,   row->counts,
                        row->n_metrics, row->samples, row->n_samples, row->failed};
    shard_put_block(mc, &block);
    return 0;
}

int parts_merge_blocks(const PartsMerge *m, Scenario *s, McResult *mc, TsErr *err)
{
    memset(mc, 0, sizeof *mc);
    const StoreShardRun *r0 = &m->runs[0];
    if (m->n_parts < 1 || s->n_dists == 0 || (int64_t)s->sc[SK_SAMPLES].num != r0->samples)
        return ts_err_set(err, TS_EINPUT,
                          "%s: its scenario does not match the shard (%lld samples, %d "
                          "distributions)",
                          store_path(m->dbs[0]), (long long)r0->samples, s->n_dists);
    if (mc_init(mc, s, (long)r0->samples, err))
        return err->code;
    unsigned char *seen = calloc((size_t)mc->n_blocks * (size_t)mc->n_fleets, 1);
    if (!seen)
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    int rc = 0;
    for (int i = 0; i < m->n_parts && !rc; i++) {
        MergeCtx c = {mc, seen, &m->runs[i], store_path(m->dbs[i])};
        rc = store_each_mc_block(m->dbs[i], m->runs[i].run_id, merge_block, &c, err);
        mc->clamped += (long)m->runs[i].clamped;
    }
    for (int b = 0; b < mc->n_blocks && !rc; b++) {
        for (int f = 0; f < mc->n_fleets && !rc; f++) {
            if (seen[(size_t)b * (size_t)mc->n_fleets + (size_t)f])
                continue;
            int owner = 0, k = b % r0->n_shards + 1;
            while (owner + 1 < m->n_parts && m->runs[owner].shard != k)
                owner++;
            rc = ts_err_set(err, TS_EINPUT, "%s (shard %d/%d) lacks block %d of fleet %d",
                            store_path(m->dbs[owner]), k, r0->n_shards, b, f);
        }
        mc->have_block[b] = !rc;
    }
    free(seen);
    scn_apply_medians(s);
    TsErr ignored;
    scn_rederive(s, &ignored);
    return rc;
}
