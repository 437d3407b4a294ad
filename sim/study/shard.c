/* shard: a shard runs its blocks one mc_run call per block (a block is the whole "shard" b of
 * n_blocks), which gives the failures of each block without touching montecarlo.c; draws
 * depend only on (seed, scenario, sample, input), so a block computes the same sums and samples
 * in any process. A merge copies every part's blocks into one McResult: the means are then
 * summed in block order by mc_summarise, exactly as in a single run. It stores nothing. */
#include "sim/study/shard.h"

#include <stdlib.h>
#include <string.h>

/* The samples in block b of r. */
static long block_len(const McResult *r, int b)
{
    long end = (long)(b + 1) * MC_BLOCK < r->n_samples ? (long)(b + 1) * MC_BLOCK : r->n_samples;
    return end - (long)b * MC_BLOCK;
}

/* Copies the kept samples of block b, fleet f into dst: (MC_N_PCT, block_len). */
static void samples_out(const McResult *mc, int b, int f, double *dst)
{
    size_t len = (size_t)block_len(mc, b);
    for (int p = 0; p < MC_N_PCT; p++)
        memcpy(dst + (size_t)p * len,
               mc->samples + ((size_t)f * MC_N_PCT + (size_t)p) * (size_t)mc->n_samples +
                   (size_t)b * MC_BLOCK,
               sizeof(double) * len);
}

/* Puts one block row (already checked to fit) into mc: sums, counts, samples, failures. */
static void put_block(McResult *mc, const StoreMcBlockRow *row)
{
    int b = row->block, f = row->fleet;
    long len = block_len(mc, b);
    size_t at = (size_t)b * (size_t)mc->n_fleets + (size_t)f;
    memcpy(mc->block_sum + at * MET_COUNT, row->sums, sizeof(double) * MET_COUNT);
    memcpy(mc->block_count + at * MET_COUNT, row->counts, sizeof(double) * MET_COUNT);
    for (int q = 0; q < MC_N_PCT; q++)
        memcpy(mc->samples + ((size_t)f * MC_N_PCT + (size_t)q) * (size_t)mc->n_samples +
                   (size_t)b * MC_BLOCK,
               row->samples + (size_t)q * (size_t)len, sizeof(double) * (size_t)len);
    mc->failed[f] += (long)row->failed;
}

/* A positive decimal integer of at most 9 digits filling [p, end); -1 otherwise. */
static long parse_count(const char *p, const char *end)
{
    if (p == end || end - p > 9)
        return -1;
    long v = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    return v;
}

int shard_parse(const char *text, ShardSpec *out, TsErr *err)
{
    const char *slash = strchr(text, '/');
    long k = slash ? parse_count(text, slash) : -1;
    long n = slash ? parse_count(slash + 1, slash + strlen(slash)) : -1;
    if (k < 1 || n < 1 || k > n || n > SHARD_MAX)
        return ts_err_set(err, TS_EINPUT,
                          "--shard: expected K/N with 1 <= K <= N <= %d (e.g. 2/8), got '%s'",
                          SHARD_MAX, text);
    out->k = (int)k;
    out->n = (int)n;
    return 0;
}

int shard_run_init(ShardRun *r, const Scenario *s, ShardSpec spec, TsErr *err)
{
    memset(r, 0, sizeof *r);
    r->spec = spec;
    if (mc_init(&r->mc, s, (long)s->sc[SK_SAMPLES].num, err))
        return err->code;
    r->block_failed = calloc((size_t)r->mc.n_blocks * (size_t)r->mc.n_fleets, sizeof(long));
    if (!r->block_failed) {
        shard_run_fini(r);
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    }
    return 0;
}

void shard_run_fini(ShardRun *r)
{
    if (!r)
        return;
    mc_fini(&r->mc);
    free(r->block_failed);
    memset(r, 0, sizeof *r);
}

int shard_run(Scenario *s, const McOptions *o, ShardRun *r, TsErr *err)
{
    McResult *mc = &r->mc;
    int nf = mc->n_fleets, mod = r->spec.n, rem = r->spec.k - 1;
    long *before = malloc(sizeof(long) * (size_t)nf);
    if (!before)
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    long mine = 0, done = 0;
    for (int b = 0; b < mc->n_blocks; b++)
        mine += b % mod == rem ? block_len(mc, b) : 0;
    int rc = 0;
    for (int b = rem; b < mc->n_blocks && !rc; b += mod) {
        if (o->stop && *o->stop) {
            rc = ts_err_set(err, TS_EINPUT, "interrupted after %ld of %ld samples", done, mine);
            break;
        }
        memcpy(before, mc->failed, sizeof(long) * (size_t)nf);
        /* block b alone: mc_run takes the blocks whose index is shard modulo n_shards */
        McOptions one = {mc->n_samples, b, mc->n_blocks, NULL, NULL, o->stop};
        rc = mc_run(s, &one, mc, err);
        for (int f = 0; !rc && f < nf; f++)
            r->block_failed[(size_t)b * (size_t)nf + (size_t)f] = mc->failed[f] - before[f];
        done += block_len(mc, b);
        if (!rc && o->progress)
            o->progress(o->progress_ctx, done, mine);
    }
    free(before);
    return rc;
}

int shard_block_rows(const ShardRun *r, StoreMcBlockRow **rows, int *n, double **packed, TsErr *err)
{
    const McResult *mc = &r->mc;
    int nf = mc->n_fleets;
    size_t n_rows = 0, n_doubles = 0;
    for (int b = 0; b < mc->n_blocks; b++)
        if (mc->have_block[b]) {
            n_rows += (size_t)nf;
            n_doubles += (size_t)nf * MC_N_PCT * (size_t)block_len(mc, b);
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
        long len = block_len(mc, b);
        for (int f = 0; f < nf; f++) {
            double *dst = *packed + off; /* (MC_N_PCT, len) */
            samples_out(mc, b, f, dst);
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

/* The doubles per fleet in a block message: sums, counts, failures, kept samples. */
static size_t fleet_doubles(long len)
{
    return 2 * MET_COUNT + 1 + (size_t)MC_N_PCT * (size_t)len;
}

size_t shard_block_doubles(const McResult *mc, int b)
{
    return 1 + (size_t)mc->n_fleets * fleet_doubles(block_len(mc, b));
}

void shard_pack_block(const ShardRun *r, int b, double *buf)
{
    const McResult *mc = &r->mc;
    long len = block_len(mc, b);
    buf[0] = b;
    double *p = buf + 1;
    for (int f = 0; f < mc->n_fleets; f++, p += fleet_doubles(len)) {
        size_t cell = ((size_t)b * (size_t)mc->n_fleets + (size_t)f) * MET_COUNT;
        memcpy(p, mc->block_sum + cell, sizeof(double) * MET_COUNT);
        memcpy(p + MET_COUNT, mc->block_count + cell, sizeof(double) * MET_COUNT);
        p[2 * MET_COUNT] = (double)r->block_failed[(size_t)b * (size_t)mc->n_fleets + (size_t)f];
        samples_out(mc, b, f, p + 2 * MET_COUNT + 1);
    }
}

int shard_unpack_block(ShardRun *r, int b, const double *buf, TsErr *err)
{
    McResult *mc = &r->mc;
    if (b < 0 || b >= mc->n_blocks || buf[0] != b || mc->have_block[b])
        return ts_err_set(err, TS_EINTERNAL, "block message %.0f arrived where block %d was due%s",
                          buf[0], b, b >= 0 && b < mc->n_blocks && mc->have_block[b]
                                         ? " (and that block is already here)" : "");
    long len = block_len(mc, b);
    const double *p = buf + 1;
    for (int f = 0; f < mc->n_fleets; f++, p += fleet_doubles(len)) {
        StoreMcBlockRow row = {.block = b, .fleet = f, .sums = p, .counts = p + MET_COUNT,
                               .n_metrics = MET_COUNT, .samples = p + 2 * MET_COUNT + 1,
                               .n_samples = (int)(MC_N_PCT * len),
                               .failed = (int64_t)p[2 * MET_COUNT]};
        put_block(mc, &row);
        r->block_failed[(size_t)b * (size_t)mc->n_fleets + (size_t)f] = (long)row.failed;
    }
    mc->have_block[b] = 1;
    return 0;
}

void shard_merge_fini(ShardMerge *m)
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
static int check_part(const ShardMerge *m, const char *const *paths, int i, const char *version,
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

int shard_merge_open(ShardMerge *m, const char *const *paths, int n_paths, const char *version,
                     TsErr *err)
{
    memset(m, 0, sizeof *m);
    m->dbs = calloc((size_t)n_paths + 1, sizeof *m->dbs);
    m->runs = calloc((size_t)n_paths + 1, sizeof *m->runs);
    if (!m->dbs || !m->runs) {
        shard_merge_fini(m);
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
    long len = block_len(mc, b);
    if (row->n_metrics != MET_COUNT || row->n_samples != MC_N_PCT * len || row->failed < 0)
        return ts_err_set(err, TS_EINPUT,
                          "%s: block %d of fleet %d has %d metrics and %d samples; this build "
                          "expects %d and %ld",
                          p, b, f, row->n_metrics, row->n_samples, MET_COUNT, MC_N_PCT * len);
    size_t at = (size_t)b * (size_t)mc->n_fleets + (size_t)f;
    if (c->seen[at])
        return ts_err_set(err, TS_EINPUT, "%s: block %d of fleet %d is there twice", p, b, f);
    c->seen[at] = 1;
    put_block(mc, row);
    return 0;
}

int shard_merge_blocks(const ShardMerge *m, Scenario *s, McResult *mc, TsErr *err)
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
