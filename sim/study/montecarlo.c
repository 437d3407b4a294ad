/* montecarlo: block-wise sampling. Sample i is in block i / MC_BLOCK; a shard takes the blocks
 * whose index is its number modulo the shard count. Draw j of sample i comes from the stream
 * positioned at (i, j), so the order samples run in does not matter. Means are the block sums
 * added in block order over the summed counts; percentiles interpolate between order
 * statistics found by selection, as gsl_stats_quantile_from_sorted_data does on sorted data. */
#include "sim/study/montecarlo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/study/rng.h"

const MetricId MC_PCT[MC_N_PCT] = {MET_USD_PER_M_OUTPUT,        MET_USD_PER_M_INPUT,
                                   MET_USD_PER_M_BLENDED,       MET_ENERGY_USD_PER_M_OUTPUT,
                                   MET_J_PER_OUTPUT_TOKEN,      MET_USD_PER_DAY};

int mc_check_size(const Scenario *s, long samples, TsErr *err)
{
    double bytes = (double)samples * s->n_fleets * MC_N_PCT * sizeof(double);
    if (bytes > MC_MAX_SAMPLE_BYTES)
        return ts_err_set(err, TS_EINPUT,
                          "%s:%d: samples = %ld with %d fleets would keep %.2f GB of samples for "
                          "the percentiles; at most %.1f GB: lower samples (at most %ld here)",
                          s->path, s->sc[SK_SAMPLES].line > 0 ? s->sc[SK_SAMPLES].line : 1,
                          samples, s->n_fleets, bytes / 1e9, MC_MAX_SAMPLE_BYTES / 1e9,
                          (long)(MC_MAX_SAMPLE_BYTES /
                                 ((double)s->n_fleets * MC_N_PCT * sizeof(double))));
    return 0;
}

int mc_init(McResult *r, const Scenario *s, long samples, TsErr *err)
{
    memset(r, 0, sizeof *r);
    if (mc_check_size(s, samples, err))
        return err->code;
    r->n_fleets = s->n_fleets;
    r->n_samples = samples;
    r->n_blocks = (int)((samples + MC_BLOCK - 1) / MC_BLOCK);
    size_t cells = (size_t)r->n_blocks * (size_t)r->n_fleets * MET_COUNT;
    size_t ns = (size_t)r->n_fleets * MC_N_PCT * (size_t)samples;
    r->have_block = calloc((size_t)r->n_blocks, 1);
    r->block_sum = calloc(cells, sizeof(double));
    r->block_count = calloc(cells, sizeof(double));
    /* zero pages until touched: a shard or rank touches only its own blocks (set in mc_run) */
    r->samples = calloc(ns, sizeof(double));
    r->failed = calloc((size_t)r->n_fleets, sizeof(long));
    if (!r->have_block || !r->block_sum || !r->block_count || !r->samples || !r->failed) {
        mc_fini(r);
        return ts_err_set(err, TS_ENOMEM, "out of memory for %ld samples", samples);
    }
    return 0;
}

void mc_fini(McResult *r)
{
    if (!r)
        return;
    free(r->have_block);
    free(r->block_sum);
    free(r->block_count);
    free(r->samples);
    free(r->failed);
    memset(r, 0, sizeof *r);
}

/* Prices every fleet for sample i and adds it to its block. */
static void one_sample(Scenario *s, McResult *r, long i, int b, FleetResult *fr)
{
    TsErr e;
    int ok = scn_rederive(s, &e) == 0;
    for (int f = 0; f < s->n_fleets; f++) {
        if (!ok || eval_fleet(s, &s->fleets[f], fr, &e) != 0) {
            r->failed[f]++;
            continue;
        }
        size_t cell = ((size_t)b * (size_t)r->n_fleets + (size_t)f) * MET_COUNT;
        for (int m = 0; m < MET_COUNT; m++)
            if (fr->metrics.has[m]) {
                r->block_sum[cell + (size_t)m] += fr->metrics.value[m];
                r->block_count[cell + (size_t)m] += 1;
            }
        for (int p = 0; p < MC_N_PCT; p++)
            if (fr->metrics.has[MC_PCT[p]])
                r->samples[((size_t)f * MC_N_PCT + (size_t)p) * (size_t)r->n_samples +
                           (size_t)i] = fr->metrics.value[MC_PCT[p]];
    }
}

int mc_run(Scenario *s, const McOptions *o, McResult *r, TsErr *err)
{
    gsl_rng *rng = rng_new((uint64_t)s->sc[SK_SEED].num, s->sc[SK_NAME].text);
    double *draws = malloc(sizeof(double) * (size_t)(s->n_dists + 1));
    FleetResult *fr = malloc(sizeof *fr);
    if (!rng || !draws || !fr) {
        gsl_rng_free(rng);
        free(draws);
        free(fr);
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    }
    long before = 0;
    for (int j = 0; j < s->n_dists; j++)
        before += s->dists[j].clamped;
    long done = 0, mine = 0;
    for (int b = 0; b < r->n_blocks; b++)
        mine += b % o->n_shards == o->shard
                    ? (b + 1 < r->n_blocks ? MC_BLOCK : r->n_samples - (long)b * MC_BLOCK)
                    : 0;
    int rc = 0;
    for (int b = 0; b < r->n_blocks && !rc; b++) {
        if (b % o->n_shards != o->shard)
            continue;
        if (o->stop && *o->stop) {
            rc = ts_err_set(err, TS_EINPUT, "interrupted after %ld of %ld samples", done, mine);
            break;
        }
        long end = (long)(b + 1) * MC_BLOCK < r->n_samples ? (long)(b + 1) * MC_BLOCK
                                                         : r->n_samples;
        for (size_t fp = 0; fp < (size_t)r->n_fleets * MC_N_PCT; fp++) /* NAN: not priced */
            for (long i = (long)b * MC_BLOCK; i < end; i++)
                r->samples[fp * (size_t)r->n_samples + (size_t)i] = NAN;
        for (long i = (long)b * MC_BLOCK; i < end; i++) {
            for (int j = 0; j < s->n_dists; j++) {
                rng_seek(rng, (uint64_t)i, (uint32_t)j);
                draws[j] = dist_draw(&s->dists[j], rng);
            }
            scn_apply_draws(s, draws);
            one_sample(s, r, i, b, fr);
        }
        r->have_block[b] = 1;
        done += end - (long)b * MC_BLOCK;
        if (o->progress)
            o->progress(o->progress_ctx, done, mine);
    }
    long after = 0;
    for (int j = 0; j < s->n_dists; j++)
        after += s->dists[j].clamped;
    r->clamped += after - before;
    scn_apply_medians(s);
    TsErr ignored;
    scn_rederive(s, &ignored);
    gsl_rng_free(rng);
    free(draws);
    free(fr);
    return rc;
}

/* Moves the k-th smallest of a[0..n) to a[k], smaller ones before it and larger after
 * (Hoare's selection with a median-of-three pivot); O(n) on average. */
static void select_kth(double *a, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (hi > lo) {
        size_t mid = lo + (hi - lo) / 2;
        double x = a[lo], y = a[mid], z = a[hi];
        double pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        size_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot)
                i++;
            while (a[j] > pivot)
                j--;
            if (i <= j) {
                double t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return;
    }
}

/* The p-quantile of a[0..n) exactly as gsl_stats_quantile_from_sorted_data computes it on the
 * sorted data (linear interpolation between order statistics), without sorting: the two order
 * statistics come from selection. a is reordered. */
static double quantile_unsorted(double *a, size_t n, double p)
{
    double index = p * (double)(n - 1);
    size_t lhs = (size_t)index;
    double delta = index - (double)lhs;
    select_kth(a, n, lhs);
    double x = a[lhs];
    if (lhs == n - 1)
        return x;
    double y = a[lhs + 1]; /* the next order statistic: the smallest of the upper part */
    for (size_t i = lhs + 2; i < n; i++)
        if (a[i] < y)
            y = a[i];
    return (1 - delta) * x + delta * y;
}

int mc_summarise(const McResult *r, MetricSet *means, double *pct, TsErr *err)
{
    for (int b = 0; b < r->n_blocks; b++)
        if (!r->have_block[b])
            return ts_err_set(err, TS_EINPUT, "block %d of %d is missing", b, r->n_blocks);
    double *sorted = malloc(sizeof(double) * (size_t)(r->n_samples + 1));
    if (!sorted)
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    for (int f = 0; f < r->n_fleets; f++) {
        met_clear(&means[f]);
        for (int m = 0; m < MET_COUNT; m++) {
            double sum = 0, count = 0;
            for (int b = 0; b < r->n_blocks; b++) { /* block order: any shard split agrees */
                size_t cell = ((size_t)b * (size_t)r->n_fleets + (size_t)f) * MET_COUNT;
                sum += r->block_sum[cell + (size_t)m];
                count += r->block_count[cell + (size_t)m];
            }
            if (count > 0)
                met_set(&means[f], (MetricId)m, sum / count);
        }
        for (int p = 0; p < MC_N_PCT; p++) {
            const double *v = r->samples + ((size_t)f * MC_N_PCT + (size_t)p) * (size_t)r->n_samples;
            size_t n = 0;
            for (long i = 0; i < r->n_samples; i++)
                if (!isnan(v[i]))
                    sorted[n++] = v[i];
            double *out = pct + ((size_t)f * MC_N_PCT + (size_t)p) * 3;
            if (n == 0) {
                out[0] = out[1] = out[2] = NAN;
                continue;
            }
            out[0] = quantile_unsorted(sorted, n, 0.05);
            out[1] = quantile_unsorted(sorted, n, 0.50);
            out[2] = quantile_unsorted(sorted, n, 0.95);
        }
    }
    free(sorted);
    return 0;
}

/* usd_per_m_output of fleet f at the current values, NAN when it cannot be priced. */
static double price_output(Scenario *s, int f)
{
    TsErr e;
    FleetResult fr;
    if (scn_rederive(s, &e) || eval_fleet(s, &s->fleets[f], &fr, &e) ||
        !fr.metrics.has[MET_USD_PER_M_OUTPUT])
        return NAN;
    return fr.metrics.value[MET_USD_PER_M_OUTPUT];
}

static int cmp_swing(const void *a, const void *b)
{
    const McTornadoBar *x = a, *y = b;
    double sx = fabs(x->high_value - x->low_value), sy = fabs(y->high_value - y->low_value);
    if (isnan(sx))
        sx = -1;
    if (isnan(sy))
        sy = -1;
    return (sx < sy) - (sx > sy);
}

int mc_tornado(Scenario *s, int f, McTornadoBar *bars)
{
    double *draws = malloc(sizeof(double) * (size_t)(s->n_dists + 1));
    if (!draws)
        return 0;
    int n = 0;
    for (int j = 0; j < s->n_dists; j++) {
        Dist *d = &s->dists[j];
        McTornadoBar *bar = &bars[n++];
        snprintf(bar->input, sizeof bar->input, "%s", d->label);
        int c;
        bar->low_x = dist_clamp(d, dist_quantile(d, 0.10), &c);
        bar->high_x = dist_clamp(d, dist_quantile(d, 0.90), &c);
        for (int k = 0; k < s->n_dists; k++)
            draws[k] = dist_median(&s->dists[k]);
        draws[j] = bar->low_x;
        scn_apply_draws(s, draws);
        bar->low_value = price_output(s, f);
        draws[j] = bar->high_x;
        scn_apply_draws(s, draws);
        bar->high_value = price_output(s, f);
        if (bar->low_value == bar->high_value)
            n--; /* the input does not reach this fleet */
    }
    scn_apply_medians(s);
    TsErr ignored;
    scn_rederive(s, &ignored);
    free(draws);
    qsort(bars, (size_t)n, sizeof *bars, cmp_swing);
    return n;
}
