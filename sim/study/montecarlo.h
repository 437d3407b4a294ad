/* montecarlo: the Monte Carlo run of a scenario with distributions. Samples are grouped in
 * fixed blocks (the work items of --shard); each sample draws every distribution from its own
 * counter-based stream (seed, scenario, sample, input), rederives, and prices every fleet.
 * It keeps per-block sums and counts of every metric (summed in block order, so any split of
 * the blocks gives the same means) and the samples of the money and energy metrics (exact
 * percentiles); then histograms and a tornado of usd_per_m_output. No I/O. */
#ifndef TS_SIM_MONTECARLO_H
#define TS_SIM_MONTECARLO_H

#include <signal.h>

#include "sim/price/evaluate.h"
#include "sim/price/metrics.h"
#include "sim/scenario/scenario.h"

#define MC_BLOCK 1000
#define MC_N_PCT 6
#define MC_HIST_BINS 20
#define MC_MAX_SAMPLE_BYTES 1.6e9

/* The metrics whose samples are kept for percentiles (the contract's list). */
extern const MetricId MC_PCT[MC_N_PCT];

typedef struct {
    long samples;             /* all samples of the run (not only this shard's) */
    int shard, n_shards;      /* 0-based shard and count; 0 and 1 for a whole run */
    void (*progress)(void *ctx, long done, long total); /* may be NULL */
    void *progress_ctx;
    volatile sig_atomic_t *stop; /* set asynchronously (Ctrl-C) to stop; may be NULL */
} McOptions;

typedef struct {
    int n_fleets;
    long n_samples;
    int n_blocks;
    unsigned char *have_block; /* (n_blocks) computed by this process or merged in */
    double *block_sum;        /* (n_blocks, n_fleets, MET_COUNT) */
    double *block_count;      /* (n_blocks, n_fleets, MET_COUNT) */
    double *samples;          /* (n_fleets, MC_N_PCT, n_samples); a block's are set when it
                                 is run or merged in (NAN where a fleet was not priced) */
    long *failed;             /* (n_fleets) samples a fleet could not be priced */
    long clamped;             /* draws clamped into their keys' ranges */
} McResult;

/* Checks that samples × fleets fits the memory cap; TS_EINPUT "FILE:LINE: ..." otherwise. */
int mc_check_size(const Scenario *s, long samples, TsErr *err);

/* Allocates r for s and samples (blocks empty). */
int mc_init(McResult *r, const Scenario *s, long samples, TsErr *err);
void mc_fini(McResult *r);

/* Runs this shard's blocks into r. TS_EINPUT when interrupted (*stop set). The scenario's values
 * are left at their medians. */
int mc_run(Scenario *s, const McOptions *o, McResult *r, TsErr *err);

/* The run's metrics per fleet from all blocks (which must all be present): sample means, and
 * p5/p50/p95 of the MC_PCT metrics into pct (n_fleets × MC_N_PCT × 3). */
int mc_summarise(const McResult *r, MetricSet *means, double *pct, TsErr *err);

/* One tornado bar: an input at its P10 and P90, the others at their medians. */
typedef struct {
    char input[96];
    double low_x, high_x;
    double low_value, high_value; /* usd_per_m_output; NAN when it could not be priced */
} McTornadoBar;

/* The tornado of fleet f's usd_per_m_output over every distribution of s, sorted by swing
 * (largest first); bars must hold s->n_dists. Returns the count. */
int mc_tornado(Scenario *s, int f, McTornadoBar *bars);

#endif
