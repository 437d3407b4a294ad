/* probe: this machine's own speed ceilings, measured rather than looked up, so the benchmark
 * can print achieved GB/s and GFLOP/s beside what the hardware here can actually do.
 * GB = 1e9 bytes; GFLOP = 1e9 fp32 operations, one FMA counting two. Each probe runs `threads`
 * threads (the caller's is thread 0), times rounds of fixed work until min_seconds have passed
 * and PROBE_MIN_ROUNDS rounds are done (or PROBE_MAX_ROUNDS), and reports the best and median
 * round. min_seconds 0 means PROBE_DEFAULT_SECONDS. Threads are joined and memory freed before
 * a probe returns, on success or error. Errors: TS_EINPUT for threads outside
 * 1..PROBE_MAX_THREADS, min_seconds outside 0..PROBE_MAX_SECONDS, a NULL out or arrays under
 * PROBE_MIN_BYTES; TS_ENOMEM; TS_EINTERNAL when a pthread call or the triad check fails. */
#ifndef TS_MODELS_PROBE_H
#define TS_MODELS_PROBE_H

#include <stddef.h>

#include "models/tserr.h"

#define PROBE_DEFAULT_BYTES ((size_t)64 << 20) /* per array: well above a 32 MiB L3 */
#define PROBE_DEFAULT_SECONDS 0.5
#define PROBE_MIN_ROUNDS 3
#define PROBE_MAX_ROUNDS (1 << 20)
#define PROBE_MAX_THREADS 1024
#define PROBE_MAX_SECONDS 3600.0
#define PROBE_MIN_BYTES ((size_t)4096) /* per array */

typedef struct {
    double best;            /* the fastest round: GB/s (bandwidth) or GFLOP/s (compute) */
    double median;          /* the median round, same unit */
    double worst;           /* the slowest round (or trial), same unit: best - worst is the
                             * spread */
    int trials;             /* probe_compute_trials: independent trials (else 1) */
    int threads;            /* threads that ran, the caller's included */
    int rounds;             /* timed rounds */
    double elapsed_s;       /* wall time of the whole probe: allocation, setup, rounds */
    size_t bytes_per_array; /* bandwidth: bytes of each array actually used; compute: 0 */
    char method[32];        /* "stream-triad-f32"; compute: "avx512", "avx2-fma" or "portable" */
} ProbeResult;

/* STREAM triad a[i] = b[i] + s*c[i] on three float arrays of bytes_per_array bytes (0: the
 * default; rounded down to 64-byte lines), each thread first touching its slice. GB/s counts
 * STREAM's 3 x bytes_per_array per round (not the write-allocate read of a). Returns 0 or TS_E*. */
int probe_bandwidth(int threads, size_t bytes_per_array, double min_seconds, ProbeResult *out,
                    TsErr *err);

/* Read-only bandwidth (what a decode step does: weights and KV cache are read, hardly
 * written): each thread sums its slice of one float array of bytes_total bytes (0: the default
 * PROBE_DEFAULT_BYTES), with 16-lane loads into several accumulators. A small array stays in a
 * cache, so probing at a step's working-set size gives the ceiling that step can meet (L2, L3
 * or DRAM). GB/s counts bytes_total per pass; a round makes enough passes to take about 20 ms
 * of DRAM time. method "read-f32". Returns 0 or TS_E*. */
int probe_read_bandwidth(int threads, size_t bytes_total, double min_seconds, ProbeResult *out,
                         TsErr *err);

/* probe_compute run `trials` times (1..64), each for min_seconds: best is the best trial's best
 * round (the ceiling the roofline uses), median the median of the trials' bests, worst the
 * lowest trial best, so best - worst is the spread a shared machine shows. */
int probe_compute_trials(int threads, int trials, double min_seconds, ProbeResult *out,
                         TsErr *err);

/* Peak fp32 FMA rate on register accumulators, the widest path this build has (out->method).
 * GFLOP/s = threads x iterations x accumulators x lanes x 2 / seconds / 1e9. Returns 0 or TS_E*. */
int probe_compute(int threads, double min_seconds, ProbeResult *out, TsErr *err);

/* Peak rate of the reduced-precision dot products the engine's kernels use, on register
 * accumulators: bf16 (AVX512-BF16 VDPBF16PS, 64 operations per instruction) or, with int8,
 * int8 (AVX512-VNNI VPDPBUSD, 128 operations per instruction); "GOP/s" in best/median, one
 * multiply-add counting two. Where this build lacks the instruction, method is "unavailable"
 * and best is 0 (the kernels then run their portable path). */
int probe_compute_dot(int threads, int int8, double min_seconds, ProbeResult *out, TsErr *err);

/* The number of online logical CPUs (sysconf), clamped to 1..PROBE_MAX_THREADS. */
int probe_cpu_count(void);

#endif
