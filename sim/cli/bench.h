/* bench: the engine benchmark behind `make bench`: this machine's ceilings (read-only bandwidth
 * from DRAM and at each decode step's working set, STREAM triad, peak FMA and dot-product rates
 * with their spread) and, for each preset, prefill and decode tokens/s with achieved
 * GFLOP/s and GB/s as shares of those ceilings; rendered as a Markdown table for
 * BENCHMARKS.md. It runs and formats; the caller prints and writes files. */
#ifndef TS_SIM_BENCH_H
#define TS_SIM_BENCH_H

#include "models/measure/harness.h"
#include "models/measure/probe.h"

#define BENCH_MAX_ROWS 256

typedef struct {
    char model[48];
    int threads;
    int prefill;      /* 1: prefill row, 0: decode row */
    HxResult r;       /* r.plan.prec: the weights' precision */
    double ceiling;   /* the ceiling this row is held to: GB/s (decode) or GFLOP/s (prefill) */
    double ws_bytes;  /* decode: bytes one step reads (weights + KV), the probed working set */
    int checkpoint;   /* 1: the model was loaded from a llama2.c checkpoint */
    /* a batching target's row: its ratio to its reference row (dense-110m batch 16 to batch 1;
     * moe-110m-total batch 16 to dense-110m's, per active parameter), the median over `pairs`
     * runs of the two taken one after the other, so a slow minute of the host hits both */
    double paired_ratio;
    int pairs;
} BenchRow;

/* One read-bandwidth probe at a working-set size (bench probes each decode row's footprint). */
typedef struct {
    int threads;
    double bytes;
    double gb_s; /* best round */
} BenchReadCeiling;

#define BENCH_MAX_READ_CEILINGS 96

typedef struct {
    ProbeResult bandwidth[2]; /* 1 and 2 threads: STREAM triad (shown, not used as a ceiling) */
    ProbeResult read[2];      /* read-only bandwidth from DRAM (256 MB array): decode's ceiling */
    ProbeResult compute[2];   /* FMA peak, best of several trials before and after the runs */
    BenchReadCeiling ws[BENCH_MAX_READ_CEILINGS]; /* read bandwidth at decode working sets */
    int n_ws;
    ProbeResult dot_bf16[2];  /* bf16 and int8 dot-product peaks (method "unavailable" when */
    ProbeResult dot_int8[2];  /* this build lacks the instructions) */
    BenchRow rows[BENCH_MAX_ROWS];
    int n_rows;
} BenchTable;

typedef struct {
    const EngineConfig *models; /* the models to run; NULL = every preset */
    int n_models;
    int max_threads;           /* 1 or 2 */
    int prompt_tokens;         /* prefill rows: prompt length (default 128) */
    int decode_prompt;         /* decode rows: context before decoding (default 64) */
    int gen_tokens;            /* decode rows: steps (default 32) */
    int repeats;               /* default 3 */
    const int *batches;        /* decode batch sizes (default 1, 4, 16) */
    const Precision *precisions; /* weight precisions (default fp32, bf16, int8, int4): fp32
                                  * at 1 and max_threads threads, the others at max_threads */
    int n_precisions;
    int n_batches;
    const char *checkpoint; /* a llama2.c checkpoint benchmarked after the models (NULL: none);
                             * its rows are named after the file */
    /* progress(ctx, message) after each measurement; may be NULL */
    void (*progress)(void *ctx, const char *message);
    void *progress_ctx;
} BenchOptions;

/* Runs the benchmark into t. */
int bench_run(const BenchOptions *o, BenchTable *t, TsErr *err);

/* Writes t as Markdown (with the commit and machine given) to path, via a temporary file. */
int bench_write_md(const BenchTable *t, const char *path, const char *commit,
                   const char *machine, TsErr *err);

#endif
