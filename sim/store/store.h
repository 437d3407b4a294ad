/* store: tokensim's SQLite database (the contract's tables, scenario-format.md).
 * Opens or creates the file, migrates it by PRAGMA user_version, and runs the run lifecycle:
 * a `running` runs row committed first, then all results plus `done` in one transaction.
 * It knows nothing of scenarios: callers hand it plain rows. */
#ifndef TS_SIM_STORE_H
#define TS_SIM_STORE_H

#include <stdint.h>

#include "models/tserr.h"

typedef struct Store Store; /* opaque */
struct sqlite3;

/* The schema version this build writes (PRAGMA user_version after migration). */
#define STORE_SCHEMA_VERSION 8

/* Text attributes of one fleet of a run (table `fleets`). Strings are borrowed; NULL is SQL NULL. */
typedef struct {
    const char *fleet;
    const char *chip;
    const char *model;
    const char *throughput_mode;
    const char *cost_mode;
    const char *energy_source;
    const char *bound;
    int candidate;          /* an [optimize] candidate */
    int over_capacity;      /* the fleet cannot serve the workload at its utilization */
    int64_t failed_samples; /* Monte Carlo samples it could not be priced in; < 0: NULL */
} StoreFleetRow;

/* One metric row (table `metrics`). has_value 0 stores NULL; has_pct 0 stores NULL p5/p50/p95. */
typedef struct {
    const char *fleet; /* "-" for results that belong to no fleet */
    const char *metric;
    const char *unit;
    double value;
    int has_value;
    double p5, p50, p95;
    int has_pct;
    const char *part; /* "fleet" (the registry's metrics), "compare" (break-evens), "question"
                         (a conclusion's rows), "machine" (a measure run's ceilings); NULL */
} StoreMetricRow;

/* One row of table `measurements`. Strings are borrowed; has_* 0 stores NULL. */
typedef struct {
    const char *model;
    const char *precision;     /* weights: "fp32", "bf16" or "int8" */
    const char *phase;         /* "prefill" or "decode" */
    int batch, threads;
    int prompt_tokens;
    int64_t tokens;            /* tokens processed in one repeat */
    double seconds, seconds_p10, seconds_p90; /* of one repeat: median, p10, p90 */
    double flops, weight_bytes, kv_bytes;     /* of one repeat */
    double energy_j, energy_net_j, energy_low_j, energy_high_j; /* of one repeat */
    const char *energy_source;
    const char *kv_precision;  /* "fp32" or "bf16"; NULL: fp32 */
    int mtp_depth;             /* 0: no multi-token prediction */
    double mtp_accept_forced;  /* forced acceptance rate, < 0: not forced (stored NULL) */
    double mtp_accept_measured; /* drafts equal to the model's token / drafts; < 0: NULL */
    double tokens_per_step;    /* decode tokens per main-model step; <= 0: NULL */
} StoreMeasurementRow;

/* The name a measure run gives one measured configuration where a table keys by fleet (its
 * metric rows of part "measure"): "MODEL PREC KV PREC batch B", then " MTP D" and " forced A"
 * when they apply (kv_precision NULL: fp32; mtp_accept_forced < 0: not forced). The writer and
 * the report build it with this one function, so the two always agree. Into buf (size bytes). */
#define STORE_LABEL_MAX 160
void store_measurement_label(char *buf, int size, const char *model, const char *precision,
                             const char *kv_precision, int batch, int mtp_depth,
                             double mtp_accept_forced);

/* One row of table `validation`: the roofline's prediction for a measured configuration. */
typedef struct {
    const char *model;
    const char *phase;
    int batch, threads;
    double predicted_tok_s, measured_tok_s;
} StoreValidationRow;

/* Rows of tables `tornado` and `histograms` (strings borrowed). */
typedef struct {
    const char *fleet, *input;
    double low_x, high_x, low_value, high_value;
} StoreTornadoRow;

typedef struct {
    const char *fleet, *metric;
    double bin_low, bin_high;
    int64_t count;
} StoreHistogramRow;

/* One input a report lists (table run_inputs), in report order: part says where it belongs
 * ("scenario", "workload", "fleet", "chip", "model", "shape", "pricing", "montecarlo",
 * "optimize", "question"), fleet is "-" outside fleets; origin as scn_origin writes it. */
typedef struct {
    const char *fleet, *part, *key;
    double value;
    int has_value;
    const char *text; /* text keys; NULL for numbers */
    const char *unit, *origin;
} StoreInputRow;

/* A note of a run (table run_notes): kind "path", "description", "warning", "conclusion";
 * fleet "-" unless it is one fleet's. */
typedef struct {
    const char *kind, *fleet, *text;
} StoreNoteRow;

/* A catalog row a run used (table run_sources): catalog file stem, row name, FILE:LINE. */
typedef struct {
    const char *catalog, *row, *place, *source, *as_of, *confidence;
} StoreSourceRow;

/* A metric of a fleet relative to the baseline's (table comparisons); has_ratio 0: NULL. */
typedef struct {
    const char *fleet, *baseline, *metric;
    double ratio;
    int has_ratio;
} StoreComparisonRow;

/* One point of a sweep for one fleet and metric (table sweep_points); param2 NULL: 1-D. */
typedef struct {
    const char *fleet, *param, *param2, *metric;
    double x, y, value;
    int has_value;
} StoreSweepRow;

/* One instance size a roofline fleet's deployment search tried (table deployments): feasible 0
 * with why ("does not fit", "misses tpot_slo_ms", ...); has_* 0 stores NULL. */
typedef struct {
    const char *fleet;
    int chips_per_instance, feasible, chosen;
    const char *why, *bound;
    int batch;
    double tpot_ms, ttft_ms, decode_tok_s_per_chip, usd_per_m_output, usd_per_m_blended;
} StoreDeploymentRow;

/* One interval of a simulated fleet's day (table serving_series); NaN stores NULL. */
typedef struct {
    const char *fleet;
    double start_s;
    int64_t arrivals, completions;
    double output_tokens, prefill_tokens, queue, batch, kv_occupancy, busy_share;
    double ttft_p90_ms, e2e_p90_s, usd_per_hour;
} StoreSeriesRow;

/* One non-empty bin of a simulated fleet's latency histogram (table latency_histograms). */
typedef struct {
    const char *fleet, *latency; /* "ttft", "tpot", "itl" or "e2e" */
    double bin_low_s, bin_high_s, count;
} StoreLatencyRow;

/* All results of a run, for store_run_finish_all. */
typedef struct {
    const StoreFleetRow *fleets;
    int n_fleets;
    const StoreMetricRow *metrics;
    int n_metrics;
    const StoreMeasurementRow *measurements;
    int n_measurements;
    const StoreValidationRow *validation;
    int n_validation;
    const StoreTornadoRow *tornado;
    int n_tornado;
    const StoreHistogramRow *histograms;
    int n_histograms;
    const StoreInputRow *inputs;
    int n_inputs;
    const StoreNoteRow *notes;
    int n_notes;
    const StoreSourceRow *sources;
    int n_sources;
    const StoreComparisonRow *comparisons;
    int n_comparisons;
    const StoreSweepRow *sweep;
    long n_sweep;
    const StoreDeploymentRow *deployments;
    int n_deployments;
    const StoreSeriesRow *series;
    long n_series;
    const StoreLatencyRow *latencies;
    long n_latencies;
    /* called inside the transaction after every row is written and before it commits (the run
     * reads back as done through s): a failure rolls everything back. May be NULL. */
    int (*then)(void *ctx, Store *s, int64_t run_id, TsErr *err);
    void *then_ctx;
} StoreResults;

/* What a new run records about itself (table `runs`). Strings are borrowed. */
typedef struct {
    const char *kind;            /* "measure", "scenario" or "sweep" */
    const char *name;            /* the scenario's name */
    int64_t seed;
    const char *scenario_sha256; /* hex digest of scenario_text, or NULL */
    const char *scenario_text;   /* the whole scenario file, or NULL */
    const char *version;         /* tokensim's version string */
    const char *machine;         /* JSON fingerprint of the machine */
} StoreRunInfo;

/* Opens (creating when absent) the database at path, turns on WAL, foreign keys and a busy
 * timeout, and migrates it to STORE_SCHEMA_VERSION. A database newer than this build is an
 * error. On failure *out is NULL and err says why (TS_EIO). */
int store_open(const char *path, Store **out, TsErr *err);

/* Closes the database. s may be NULL. */
void store_close(Store *s);

/* Inserts a runs row with status `running` and started_at now (UTC, ISO 8601), commits it, and
 * returns its id in *run_id. */
int store_run_begin(Store *s, const StoreRunInfo *info, int64_t *run_id, TsErr *err);

/* Records where the run's report folder is (runs.out_dir). */
int store_run_set_out_dir(Store *s, int64_t run_id, const char *out_dir, TsErr *err);

/* In one transaction: inserts all fleet and metric rows of run_id and sets it `done` with
 * finished_at. On any failure the transaction rolls back, no row of it stays, and the run is
 * still `running` (call store_run_fail). */
int store_run_finish(Store *s, int64_t run_id, const StoreFleetRow *fleets, int n_fleets,
                     const StoreMetricRow *metrics, int n_metrics, TsErr *err);

/* store_run_finish with measurement rows too: everything and `done` in one transaction. */
int store_run_finish_all(Store *s, int64_t run_id, const StoreResults *r, TsErr *err);

/* The measurement rows of a measure run, read back (owned: free with store_measurements_free). */
typedef struct {
    StoreMeasurementRow *rows;
    int n;
    char *strings; /* the block the rows' strings point into */
} StoreMeasurements;

/* Reads the rows of measure run run_id (0: the latest finished measure run, whose id goes to
 * *run_id_out), and the run's machine metrics fp32_gflops and bandwidth_gb_s. TS_EINPUT when
 * there is no such run. */
int store_read_measurements(Store *s, int64_t run_id, int64_t *run_id_out, StoreMeasurements *m,
                            double *fp32_gflops, double *bandwidth_gb_s, TsErr *err);

void store_measurements_free(StoreMeasurements *m);

/* Replaces the validation rows of run_id (a finished measure run) in one transaction. */
int store_replace_validation(Store *s, int64_t run_id, const StoreValidationRow *rows, int n,
                             TsErr *err);

/* One row of `validate --published` (table published_validation); NaN stores NULL. */
typedef struct {
    const char *name, *family, *chip, *model, *why;
    int chips, concurrency, held_out; /* concurrency 0 stores NULL */
    double measured, predicted, fitted;
} StorePublishedRow;

/* One family's fit (table published_fits). */
typedef struct {
    const char *family;
    double eff_compute, eff_memory, step_overhead_ms, collective_us;
    int n_train, n_test;
    double train_median_err, test_median_err;
} StorePublishedFit;

/* Stores a `validate --published` (its rows and fits, all with one validated_at: now) in one
 * transaction. */
int store_published(Store *s, const StorePublishedRow *rows, int n_rows,
                    const StorePublishedFit *fits, int n_fits, TsErr *err);

/* Marks run_id `failed` with finished_at and the message (runs.error). Only a `running` run
 * can fail: a missing, `done` or `failed` run is an error (TS_EIO). */
int store_run_fail(Store *s, int64_t run_id, const char *message, TsErr *err);

/* Schema v3: the Monte Carlo blocks of a `run --shard K/N` (tables mc_shards and mc_blocks), the
 * parts that `tokensim merge` combines. A block's doubles are stored as blobs in the writing
 * machine's byte order (mc_shards.byte_order); reading refuses the other byte order. */
typedef struct {
    int shard, n_shards;       /* 1-based: shard K of N */
    int64_t samples;           /* all samples of the run, not only this shard's */
    int block_size;            /* samples per block of the writer (MC_BLOCK) */
    int64_t clamped;           /* draws this shard clamped into their keys' ranges */
    const char *scenario_path; /* the scenario file as named on the command line (borrowed) */
} StoreShardInfo;

/* One block of one fleet (table mc_blocks). Arrays are borrowed. */
typedef struct {
    int block, fleet;          /* block index from 0; fleet index in the scenario's order */
    const double *sums;        /* (n_metrics) the block's sum of every metric */
    const double *counts;      /* (n_metrics) how many samples had each metric */
    int n_metrics;
    const double *samples;     /* (n_samples) kept samples, (percentile metric, sample) order;
                                  NaN where absent */
    int n_samples;
    int64_t failed;            /* samples of the block the fleet could not be priced in */
} StoreMcBlockRow;

/* In one transaction: the mc_shards row and every block row of run_id, and `done` (the run
 * stores no metrics: it is a part). On failure nothing of it stays and the run is `running`. */
int store_run_finish_shard(Store *s, int64_t run_id, const StoreShardInfo *info,
                           const StoreMcBlockRow *rows, int n, TsErr *err);

/* Opens an existing database read-only, without migrating it (TS_EINPUT when path does not
 * exist; TS_EIO when it cannot be read as a tokensim database or is newer than this build). */
int store_open_readonly(const char *path, Store **out, TsErr *err);

/* The shard run of a part database, read back (strings owned: store_shard_run_free). */
typedef struct {
    int64_t run_id, seed;
    char *name, *scenario_sha256, *scenario_text, *version;
    char *scenario_path;
    int shard, n_shards, block_size;
    int64_t samples, clamped;
} StoreShardRun;

/* Reads the one finished shard run of s. TS_EINPUT when the database has none (or predates
 * schema 3), has several, or was written with the other byte order. */
int store_read_shard_run(Store *s, StoreShardRun *out, TsErr *err);
void store_shard_run_free(StoreShardRun *r);

/* One row of `runs` for listing (strings valid during the callback only; "" for NULL). */
typedef struct {
    int64_t id;
    const char *kind, *name, *status, *started_at, *finished_at, *out_dir, *error;
    int n_fleets; /* rows in fleets */
} StoreRunRow;

/* Calls fn for every run, newest first, at most limit of them (limit <= 0: all). Stops at fn's
 * first nonzero return and returns it. */
int store_each_run(Store *s, int limit, int (*fn)(void *ctx, const StoreRunRow *row, TsErr *err),
                   void *ctx, TsErr *err);

/* Calls fn for every metrics row of run_id in (fleet, metric) order (the row's strings are
 * valid during the call only). Stops at fn's first nonzero return and returns it. */
int store_each_metric(Store *s, int64_t run_id,
                      int (*fn)(void *ctx, const StoreMetricRow *row, TsErr *err), void *ctx,
                      TsErr *err);

/* Calls fn for every mc_blocks row of run_id, in (block, fleet) order; the row's arrays are
 * valid during the call only. Stops at fn's first nonzero return and returns it. */
int store_each_mc_block(Store *s, int64_t run_id,
                        int (*fn)(void *ctx, const StoreMcBlockRow *row, TsErr *err), void *ctx,
                        TsErr *err);

/* The database's path as given to store_open (borrowed; for messages). */
const char *store_path(const Store *s);

/* The underlying connection, for tests only (borrowed): every SQL statement of the program
 * lives in sim/store. */
struct sqlite3 *store_db(Store *s);

#endif
