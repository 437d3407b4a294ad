/* measure: `tokensim measure`: runs the engine's models on this machine through the timing
 * harness with a power meter, probes the machine's ceilings and idle power, and turns the
 * results into `measurements` rows and the rows the measure report is rendered from
 * (msr_record). It does not open the database itself (sim/cli/runner.c does), writes no
 * report (sim/render/report_measure.c does, from the stored run) and prints nothing. */
#ifndef TS_SIM_MEASURE_H
#define TS_SIM_MEASURE_H

#include <stdint.h>

#include "models/measure/harness.h"
#include "models/measure/meter.h"
#include "models/measure/probe.h"
#include "sim/cli/validate.h"
#include "sim/store/store.h"

#define MSR_MAX_MODELS 16
#define MSR_MAX_BATCHES 16
#define MSR_MAX_ACCEPTS 11
#define MSR_MAX_ROWS 256

typedef struct {
    EngineConfig models[MSR_MAX_MODELS]; /* what to run */
    const Weights *weights[MSR_MAX_MODELS]; /* borrowed, one per model */
    int n_models;
    int prompt_tokens;          /* default 128 (shrunk to fit a short context) */
    int gen_tokens;             /* default 32 */
    int batches[MSR_MAX_BATCHES];
    int n_batches;              /* default 1, 4, 16 */
    int threads;
    int repeats;                /* default 3 */
    double idle_seconds;        /* how long measured meters watch idle power (default 1 s) */
    Meter *meter;               /* borrowed */
    Precision precs[PREC_COUNT]; /* weight precisions to run (n_precs 0: fp32 only) */
    int n_precs;
    Precision kv;               /* KV cache precision (fp32 default) */
    int mtp_depth;              /* > 0: also MTP runs at batch 1 for each model and precision */
    double mtp_accepts[MSR_MAX_ACCEPTS]; /* forced acceptance rates; each adds a run */
    int n_accepts;
    void (*progress)(void *ctx, int done, int total, const char *what); /* may be NULL */
    void *progress_ctx;
} MsrPlan;

typedef struct {
    char model[CFG_NAME_MAX];
    HxResult r;             /* r.plan: precision, KV precision, MTP depth and forced rate */
} MsrRun;

/* Reduced precision against fp32 on one model: logits over a fixed prompt and the fp32 model's
 * greedy continuation, fed to both (teacher forcing). */
typedef struct {
    char model[CFG_NAME_MAX];
    char label[CFG_NAME_MAX + 24]; /* "MODEL PREC KV PREC": its fleet in table metrics */
    Precision prec, kv;
    double max_abs_diff, mean_abs_diff; /* logits */
    double agreement;                   /* share of positions with the same greedy token */
    int positions;
} MsrAccuracy;

typedef struct {
    MsrRun runs[MSR_MAX_ROWS];
    int n_runs;
    MsrAccuracy acc[MSR_MAX_MODELS * PREC_COUNT];
    int n_acc;
    ProbeResult bandwidth;      /* at the plan's threads */
    ProbeResult compute;
    double idle_w, idle_low_w, idle_high_w;
    char energy_source[96];
    int modeled;
    char meter_note[512];       /* why measured meters were not used */
    char cpu_power_row[640];    /* the modeled meter's coefficients and their source */
} MsrResult;

/* Fills m from data_dir/cpu_power.csv: the first row whose `match` is a case-insensitive
 * substring of cpu_model (an empty match fits any CPU). TS_EINPUT/TS_EIO from the catalog, or
 * when no row fits. */
int msr_cpu_power(const char *data_dir, const char *cpu_model, CpuPowerModel *m, TsErr *err);

/* Probes the machine, measures idle power, then runs every (model, batch) of the plan. */
int msr_run(const MsrPlan *plan, MsrResult *out, TsErr *err);

/* The measurement rows of a result (2 per run: prefill and decode); strings borrowed from r.
 * rows must hold 2 × r->n_runs. Returns the count. */
int msr_rows(const MsrResult *r, StoreMeasurementRow *rows);

/* Everything a measure run stores besides its measurement and validation rows, so that its
 * report is rendered from the stored run (sim/render/report_measure.c):
 * - inputs, fleet "-": part "meter" energy_source (text) and modeled (0 or 1); part "validate"
 *   eff_compute, eff_memory, eff_prefill (vo: what the validation rows were predicted with);
 * - inputs, fleet MODEL, part "model": layers, d_model, vocab, experts, and a MoE model's
 *   dense_twin (text: the first measured dense model of the same depth, width and vocabulary);
 * - inputs, fleet "MODEL PREC KV PREC", part "accuracy": model, precision, kv_precision (text)
 *   and positions compared;
 * - notes "meter_note" (why no hardware meter was read) and "cpu_power" (the modeled meter's
 *   catalog row), when the result has them;
 * - metrics, part "machine": fleet "-" bandwidth_gb_s, fp32_gflops, idle_w, idle_low_w,
 *   idle_high_w, measure_threads; fleet "MODEL PREC KV PREC" logit_max_abs_diff,
 *   logit_mean_abs_diff (logit), greedy_agreement (share) against fp32;
 * - metrics, part "measure", fleet store_measurement_label of a run: experts_per_layer (distinct
 *   routed experts per MoE layer and decode step) and, for MTP runs, roofline_tok_s (decode at
 *   this run's ceilings with vo).
 * Strings are borrowed from r, configs and out. */
#define MSR_MAX_METRICS (6 + 3 * MSR_MAX_MODELS * PREC_COUNT + 2 * MSR_MAX_ROWS)
#define MSR_MAX_INPUTS (5 + 5 * MSR_MAX_MODELS + 4 * MSR_MAX_MODELS * PREC_COUNT)
typedef struct {
    StoreNoteRow notes[2];
    int n_notes;
    StoreInputRow inputs[MSR_MAX_INPUTS];
    int n_inputs;
    StoreMetricRow metrics[MSR_MAX_METRICS];
    int n_metrics;
    char labels[MSR_MAX_ROWS][STORE_LABEL_MAX]; /* the fleets of the part "measure" rows */
} MsrRecord;

/* Fills out (large: allocate it) from r; configs (n_cfg): the models measured. */
void msr_record(const MsrResult *r, const EngineConfig *configs, int n_cfg,
                const ValOptions *vo, MsrRecord *out);

#endif
