/* shard: a shard runs its blocks one mc_run call per block (a block is the whole "shard" b of
 * n_blocks), which gives the failures of each block without touching montecarlo.c; draws
 * depend only on (seed, scenario, sample, input), so a block computes the same sums and samples
 * in any process. Blocks put back (from ranks, or from the parts of a merge: sim/cli/parts.c) make
 * one McResult whose means mc_summarise sums in block order, exactly as in a single run. It
 * stores nothing and reads no database. */
#include "sim/study/shard.h"

#include <stdlib.h>
#include <string.h>

long shard_block_len(const McResult *r, int b)
{
    long end = (long)(b + 1) * MC_BLOCK < r->n_samples ? (long)(b + 1) * MC_BLOCK : r->n_samples;
    return end - (long)b * MC_BLOCK;
}

void shard_block_samples(const McResult *mc, int b, int f, double *dst)
{
    size_t len = (size_t)shard_block_len(mc, b);
    for (int p = 0; p < MC_N_PCT; p++)
        memcpy(dst + (size_t)p * len,
               mc->samples + ((size_t)f * MC_N_PCT + (size_t)p) * (size_t)mc->n_samples +
                   (size_t)b * MC_BLOCK,
               sizeof(double) * len);
}

void shard_put_block(McResult *mc, const ShardBlock *row)
{
    int b = row->block, f = row->fleet;
    long len = shard_block_len(mc, b);
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
        mine += b % mod == rem ? shard_block_len(mc, b) : 0;
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
        done += shard_block_len(mc, b);
        if (!rc && o->progress)
            o->progress(o->progress_ctx, done, mine);
    }
    free(before);
    return rc;
}


/* The doubles per fleet in a block message: sums, counts, failures, kept samples. */
static size_t fleet_doubles(long len)
{
    return 2 * MET_COUNT + 1 + (size_t)MC_N_PCT * (size_t)len;
}

size_t shard_block_doubles(const McResult *mc, int b)
{
    return 1 + (size_t)mc->n_fleets * fleet_doubles(shard_block_len(mc, b));
}

void shard_pack_block(const ShardRun *r, int b, double *buf)
{
    const McResult *mc = &r->mc;
    long len = shard_block_len(mc, b);
    buf[0] = b;
    double *p = buf + 1;
    for (int f = 0; f < mc->n_fleets; f++, p += fleet_doubles(len)) {
        size_t cell = ((size_t)b * (size_t)mc->n_fleets + (size_t)f) * MET_COUNT;
        memcpy(p, mc->block_sum + cell, sizeof(double) * MET_COUNT);
        memcpy(p + MET_COUNT, mc->block_count + cell, sizeof(double) * MET_COUNT);
        p[2 * MET_COUNT] = (double)r->block_failed[(size_t)b * (size_t)mc->n_fleets + (size_t)f];
        shard_block_samples(mc, b, f, p + 2 * MET_COUNT + 1);
    }
}

int shard_unpack_block(ShardRun *r, int b, const double *buf, TsErr *err)
{
    McResult *mc = &r->mc;
    if (b < 0 || b >= mc->n_blocks || buf[0] != b || mc->have_block[b])
        return ts_err_set(err, TS_EINTERNAL, "block message %.0f arrived where block %d was due%s",
                          buf[0], b, b >= 0 && b < mc->n_blocks && mc->have_block[b]
                                         ? " (and that block is already here)" : "");
    long len = shard_block_len(mc, b);
    const double *p = buf + 1;
    for (int f = 0; f < mc->n_fleets; f++, p += fleet_doubles(len)) {
        ShardBlock row = {.block = b, .fleet = f, .sums = p, .counts = p + MET_COUNT,
                               .n_metrics = MET_COUNT, .samples = p + 2 * MET_COUNT + 1,
                               .n_samples = (int)(MC_N_PCT * len),
                               .failed = (int64_t)p[2 * MET_COUNT]};
        shard_put_block(mc, &row);
        r->block_failed[(size_t)b * (size_t)mc->n_fleets + (size_t)f] = (long)row.failed;
    }
    mc->have_block[b] = 1;
    return 0;
}






