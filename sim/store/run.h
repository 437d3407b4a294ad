/* run: one stored run read back whole, for the renderers (report.md, metrics.csv, JSON, plots,
 * report.html): the renderers read nothing else, so `tokensim report N` and `tokensim plot N`
 * rebuild a run exactly as it was written. Rows come in the order they were written. Every
 * string is owned by the StoredRun (store_run_free frees all). Reads only. */
#ifndef TS_SIM_STORE_RUN_H
#define TS_SIM_STORE_RUN_H

#include <stdint.h>

#include "models/tserr.h"
#include "sim/store/store.h"

typedef struct {
    char *fleet, *chip, *model, *throughput_mode, *cost_mode, *energy_source, *bound;
    int candidate, over_capacity;
    int64_t failed_samples; /* < 0: NULL */
} StoredFleet;

typedef struct {
    char *fleet, *metric, *unit, *part; /* part "" when NULL (runs before schema 6) */
    double value, p5, p50, p95;
    int has_value, has_pct;
} StoredMetric;

typedef struct {
    char *fleet, *part, *key, *text, *unit, *origin; /* text NULL for numbers */
    double value;
    int has_value;
} StoredInput;

typedef struct {
    char *kind, *fleet, *text;
} StoredNote;

typedef struct {
    char *catalog, *row, *place, *source, *as_of, *confidence;
} StoredSource;

typedef struct {
    char *fleet, *baseline, *metric;
    double ratio;
    int has_ratio;
} StoredComparison;

typedef struct {
    char *fleet, *param, *param2, *metric; /* param2 NULL for a 1-D sweep */
    double x, y, value;
    int has_value;
} StoredSweepPoint;

typedef struct {
    char *fleet, *input;
    double low_x, high_x, low_value, high_value;
} StoredTornado;

typedef struct {
    char *fleet, *metric;
    double bin_low, bin_high;
    int64_t count;
} StoredHistogram;

typedef struct {
    char *model, *precision, *kv_precision, *phase, *energy_source;
    int batch, threads, prompt_tokens, mtp_depth;
    int64_t tokens;
    double seconds, seconds_p10, seconds_p90, flops, weight_bytes, kv_bytes;
    double energy_j, energy_net_j, energy_low_j, energy_high_j;
    double mtp_accept_forced;   /* < 0: NULL */
    double mtp_accept_measured; /* < 0: NULL */
    double tokens_per_step;     /* <= 0: NULL */
} StoredMeasurement;

typedef struct {
    char *model, *phase;
    int batch, threads;
    double predicted_tok_s, measured_tok_s;
    int has_predicted, has_measured;
} StoredValidation;

typedef struct {
    char *fleet, *why, *bound; /* why, bound NULL when absent */
    int chips_per_instance, feasible, chosen, batch;
    double tpot_ms, ttft_ms, decode_tok_s_per_chip, usd_per_m_output, usd_per_m_blended;
} StoredDeployment;

typedef struct {
    char *fleet;
    double start_s, arrivals, completions, output_tokens, prefill_tokens, queue, batch;
    double kv_occupancy, busy_share, ttft_p90_ms, e2e_p90_s, usd_per_hour;
} StoredSeries;

typedef struct {
    char *fleet, *latency;
    double bin_low_s, bin_high_s, count;
} StoredLatency;

/* A request the real engine served (serve-bench); times in seconds from the run's start, NaN
 * where NULL (never answered). */
typedef struct {
    double arrival_s, first_token_s, finish_s;
    int input_tokens, output_tokens, preemptions;
} StoredServedRequest;

/* validate --serving: one quantity at one arrival rate, measured and simulated. */
typedef struct {
    char *model, *quantity, *unit;
    int64_t calibration_id;
    double capacity_req_s, rate_req_s, load_share, measured, predicted; /* NaN where NULL */
    int requests;
} StoredServingCheck;

typedef struct {
    int64_t id, seed;
    char *kind, *name, *status, *started_at, *finished_at, *version, *machine, *out_dir;
    StoredFleet *fleets;
    int n_fleets;
    StoredMetric *metrics;
    int n_metrics;
    StoredInput *inputs;
    int n_inputs;
    StoredNote *notes;
    int n_notes;
    StoredSource *sources;
    int n_sources;
    StoredComparison *comparisons;
    int n_comparisons;
    StoredSweepPoint *sweep;
    long n_sweep;
    StoredTornado *tornado;
    int n_tornado;
    StoredHistogram *histograms;
    int n_histograms;
    StoredMeasurement *measurements;
    int n_measurements;
    StoredValidation *validation;
    int n_validation;
    StoredDeployment *deployments;
    int n_deployments;
    StoredSeries *series;
    int n_series;
    StoredLatency *latencies;
    int n_latencies;
    StoredServedRequest *served;
    int n_served;
    StoredServingCheck *checks;
    int n_checks;
} StoredRun;

/* Reads run run_id of s (any status) into out. TS_EINPUT when there is no such run; TS_EIO on
 * a database failure; on failure out holds nothing. */
int store_load_run(Store *s, int64_t run_id, StoredRun *out, TsErr *err);

/* Frees everything a StoredRun holds; r may be NULL. */
void store_run_free(StoredRun *r);

/* Lookups on a loaded run (NULL when absent): the metric row of fleet and metric; the first
 * note of kind (fleet "-" or a fleet); the input of part and key (fleet "-" or a fleet). */
const StoredMetric *store_run_metric(const StoredRun *r, const char *fleet, const char *metric);
const StoredNote *store_run_note(const StoredRun *r, const char *kind, const char *fleet);
const StoredInput *store_run_input(const StoredRun *r, const char *fleet, const char *part,
                                   const char *key);

/* The value of a metric or a numeric input, NaN when absent or NULL. */
double store_run_metric_num(const StoredRun *r, const char *fleet, const char *metric);
double store_run_input_num(const StoredRun *r, const char *fleet, const char *part,
                           const char *key);

#endif
