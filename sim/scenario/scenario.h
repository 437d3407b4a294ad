/* scenario: reads a scenario file (scenario-format.md) with libinih through a line reader of
 * our own (line numbers, over-long and indented lines, `:` separators), checks every section
 * and key, merges catalog rows with the file's definitions and overrides, and resolves each
 * fleet into plain numbers for sim/price/cost.c. It does not compute costs and writes nothing.
 * Distributions, [sweep] and [compare] are refused as not supported yet. */
#ifndef TS_SIM_SCENARIO_H
#define TS_SIM_SCENARIO_H

#include "models/engine/config.h"
#include "models/engine/shape.h"
#include "models/tserr.h"
#include "sim/scenario/catalog.h"
#include "sim/scenario/dist.h"

/* Where a value came from. */
typedef enum {
    ORIG_NONE = 0, ORIG_DEFAULT, ORIG_FILE, ORIG_CATALOG, ORIG_DERIVED,
    ORIG_PRESET,   /* an engine preset's shape */
    ORIG_MEASURED, /* from a measure run in the database (line = its run id) */
    ORIG_HF,       /* from the [model]'s hf_config (line = the hf_config line) */
    ORIG_CALIBRATED /* this machine's calibrated step model (line = the calibration id) */
} ScnOrigin;

typedef struct {
    ScnOrigin origin;
    int line;            /* line in the scenario (ORIG_FILE) or catalog file (ORIG_CATALOG) */
    const CatTable *cat; /* borrowed: the catalog it came from (ORIG_CATALOG) */
    int cat_row;
    double num;          /* the value; for a distribution, its median until a draw sets it */
    char *text;          /* owned; text keys only */
    int dist;            /* 1 + index into Scenario.dists when the value is a distribution */
} ScnVal;

/* Key tables: one enum per section kind; the *_KEYS arrays give names (scenario.c). */
typedef enum {
    CK_BF16_TFLOPS, CK_FP8_TFLOPS, CK_HBM_GB, CK_HBM_TB_S, CK_TDP_W, CK_ALL_IN_W, CK_IDLE_W,
    CK_PRICE_USD, CK_RENT_USD_PER_CHIP_HOUR, CK_INTERCONNECT_GB_S, CK_SCALE_UP_CHIPS, CK_COUNT
} ChipKey;

typedef enum {
    MK_PARAMS_TOTAL, MK_PARAMS_ACTIVE, MK_LAYERS, MK_D_MODEL, MK_HEADS, MK_KV_HEADS,
    MK_HEAD_DIM, MK_FFN, MK_EXPERTS, MK_EXPERTS_ACTIVE, MK_SHARED_EXPERTS, MK_EXPERT_FFN,
    MK_DENSE_LAYERS, MK_KV_LORA_RANK, MK_Q_LORA_RANK, MK_ROPE_DIM, MK_QK_NOPE_DIM,
    MK_V_HEAD_DIM, MK_VOCAB, MK_WEIGHT_BYTES, MK_KV_BYTES, MK_MTP_DEPTH, MK_MTP_ACCEPTANCE,
    /* engine extensions (docs/scenario-format.md): for models the engine runs */
    MK_MAX_SEQ, MK_ROPE_THETA, MK_NORM_EPS, MK_SHARED_CLASSIFIER, MK_HF_CONFIG,
    MK_COUNT
} ModelKey;

typedef enum {
    WK_MODEL, WK_INPUT_TOKENS_PER_DAY, WK_OUTPUT_TOKENS_PER_DAY, WK_REQUESTS_PER_DAY,
    WK_INPUT_TOKENS_PER_REQUEST, WK_OUTPUT_TOKENS_PER_REQUEST, WK_CACHE_HIT_RATE,
    WK_PROMPT_TOKENS, WK_CONTEXT_TOKENS, WK_TPOT_SLO_MS, WK_TTFT_SLO_MS, WK_COUNT
} WorkloadKey;

typedef enum {
    FK_CHIP, FK_MODEL, FK_PRICING, FK_CHIPS, FK_CHIPS_PER_INSTANCE, FK_COST,
    FK_RENT_INCLUDES_POWER, FK_SERVER_OVERHEAD, FK_YEARS, FK_INTEREST_RATE,
    FK_HOSTING_USD_PER_KW_MONTH, FK_USD_PER_KWH, FK_ELECTRICITY, FK_PUE, FK_UTILIZATION,
    FK_THROUGHPUT, FK_DECODE_TOK_S_PER_CHIP, FK_PREFILL_TOK_S_PER_CHIP, FK_MFU, FK_MFU_PREFILL,
    FK_EFF_COMPUTE, FK_EFF_MEMORY, FK_EFF_PREFILL, FK_HBM_USABLE, FK_ACT_BYTES,
    FK_STEP_OVERHEAD_MS, FK_MAX_BATCH, FK_POWER_W_PER_CHIP, FK_POWER_LOAD, FK_IDLE_W_PER_CHIP,
    FK_GRID_G_CO2_PER_KWH, FK_MEASUREMENT, FK_MEASURED_MODEL, FK_MEASURED_THREADS,
    FK_MAX_CHIPS_PER_INSTANCE, FK_KV_ALLOCATION, FK_COLLECTIVE_US, FK_MAX_NUM_SEQS,
    FK_MAX_BATCHED_TOKENS, FK_PREFIX_CACHE, FK_CHUNKED_PREFILL, FK_ROUTE, FK_REPLICAS,
    FK_MAX_REPLICAS, FK_PREFILL_REPLICAS, FK_KV_TRANSFER_GB_S, FK_STEP_MODEL,
    FK_CALIBRATION, FK_COUNT
} FleetKey;

typedef enum {
    PK_USD_PER_M_INPUT_CACHE_HIT, PK_USD_PER_M_INPUT, PK_USD_PER_M_OUTPUT, PK_COUNT
} PricingKey;

typedef enum { SK_NAME, SK_DESCRIPTION, SK_SEED, SK_SAMPLES, SK_HOURS, SK_COUNT } ScenarioKey;

typedef enum { THR_DECLARED, THR_MFU, THR_ROOFLINE, THR_MEASURED, THR_SIMULATE } ThroughputMode;

/* The latency of one collective (a tensor-parallel all-reduce or an expert-parallel
 * all-to-all between the chips of an instance) when a roofline fleet gives none, in us: the
 * order of NCCL's small-message all-reduce within one NVLink domain (docs/scenario-format.md). */
#define SCN_DEFAULT_COLLECTIVE_US 10.0

typedef struct {
    char *name;
    int line;            /* its [chip NAME] section line, 0 when only from the catalog */
    int cat_row;         /* row in chips.csv, -1 when defined in the scenario only */
    ScnVal v[CK_COUNT];
} ScnChip;

typedef struct {
    char *name;
    int line;            /* its [model NAME] section line, 0 when only from the catalog */
    int cat_row;         /* row in models.csv, -1 when defined in the scenario only */
    ScnVal v[MK_COUNT];
    int has_shape;       /* a full shape was given: parameters come from it */
    ModelShape shape;
    ShapeParams params;  /* valid when has_shape */
    double params_active; /* from the shape when has_shape, else as given (0 when unknown) */
    double params_total;
} ScnModel;

typedef struct {
    char *name;          /* "" for the unnamed [pricing] */
    int line;
    int cat_row;         /* row in api_prices.csv, -1 for a [pricing] section */
    ScnVal v[PK_COUNT];
} ScnPricing;

/* A calibration profile of this machine (tokensim calibrate; read from the database by
 * sim/cli/measured.c): the step-time model's parameters as plain numbers, and the steady state
 * they give at the workload's lengths. */
typedef struct {
    long id, run_id;
    char model[48];          /* the engine preset it times */
    char precision[8], kv_precision[8];
    int threads, max_batch;
    double peak_gflops, bandwidth_gb_s;
    double eff_compute, eff_prefill, eff_memory, step_overhead_ms, attn_ns_per_pair, overlap;
    double test_median_err;
    int batch;               /* the steady decode batch */
    double tpot_ms, ttft_ms; /* its step time, one prompt's prefill */
} ScnCalibration;

typedef struct {
    char *name;
    int line;                 /* its [fleet NAME] line */
    ScnVal v[FK_COUNT];
    ScnVal chip_over[CK_COUNT]; /* fleet keys named like chip fields */
    ScnChip chip;             /* the chip after catalog, [chip] and fleet overrides (owned) */
    int model;                /* index into Scenario.models */
    int pricing;              /* index into Scenario.pricings, -1 for none */
    ThroughputMode throughput;
    int rent;                 /* cost = rent */
    int elec_row;             /* electricity.csv row, -1 when usd_per_kwh is given or none */
    const char *energy_source; /* "declared", "catalog:all_in_w", "catalog:tdp_w", or the
                                  measure run's source (points into measured_source) */
    int this_machine;         /* chip = this-machine: peaks come from a measure run */
    int idle_from_chip;       /* idle_w_per_chip is the chip's idle_w (rederived on change) */
    int mfu_prefill_from_mfu; /* mfu_prefill defaulted to mfu */
    int candidate;            /* an [optimize] candidate (the template with another chip) */
    int calibrated;           /* step_model = calibrated (chip = this-machine only) */
    ScnCalibration cal;       /* its profile (after msd_bind) */
    long measure_run;         /* throughput = measured: the run used (after msd_bind) */
    int measured_threads;
    char measured_source[96];
} ScnFleet;

typedef enum { SWK_OVER, SWK_VALUES, SWK_OVER2, SWK_VALUES2, SWK_COUNT } SweepKey;
typedef enum { CMK_BASELINE, CMK_BREAKEVEN, CMK_BREAKEVEN_RANGE, CMK_COUNT } CompareKey;

typedef struct {
    int line;               /* the section's line; 0 when absent */
    ScnVal v[SWK_COUNT];    /* text values */
} ScnSweep;

typedef struct {
    int line;
    ScnVal v[CMK_COUNT];
} ScnCompare;

typedef enum {
    OPK_FLEET, OPK_CHIPS, OPK_POWER_CAP_MW, OPK_BUDGET_USD_PER_DAY, OPK_OBJECTIVE, OPK_COUNT
} OptimizeKey;

#define OPT_MAX_CHIPS 32

typedef struct {
    int line;
    ScnVal v[OPK_COUNT];
} ScnOptimize;

/* [question]: what a shipped question computes for its conclusion (sim/study/question.c). */
typedef enum {
    QK_KIND, QK_TITLE, QK_FLEETS, QK_FACTORS, QK_POWER_CAP_KW, QK_COUNT
} QuestionKey;

typedef enum {
    QST_DECOMPOSE, QST_VERSUS, QST_BREAKEVEN, QST_DISTILL, QST_TASK, QST_DEMAND
} QuestionKind;

#define SCN_QST_MAX_FLEETS 16

typedef struct {
    int line;                           /* the section's line; 0 when absent */
    ScnVal v[QK_COUNT];
    QuestionKind kind;
    int fleets[SCN_QST_MAX_FLEETS];     /* fleet indices, in the order given */
    int n_fleets;
    char factors[SCN_QST_MAX_FLEETS][48]; /* decompose: what each step changes */
    int n_factors;
} ScnQuestion;

/* [distill]: the one-time cost of distilling a student from a teacher. */
typedef enum {
    DK_TEACHER, DK_STUDENT, DK_TEACHER_FLEET, DK_STUDENT_FLEET, DK_GENERATED_TOKENS,
    DK_TRAINING_TOKENS, DK_CHIP, DK_MFU, DK_USD_PER_CHIP_HOUR, DK_COUNT
} DistillKey;

typedef struct {
    int line;                 /* 0 when absent */
    ScnVal v[DK_COUNT];
    int teacher, student;     /* model indices */
    int teacher_fleet, student_fleet; /* fleet indices (serving costs) */
    ScnChip chip;             /* the training chip (owned) */
} ScnDistill;

/* [traffic]: the requests a `throughput = simulate` fleet serves (docs/scenario-format.md). */
typedef enum {
    TRK_ARRIVALS, TRK_CV, TRK_TRACE, TRK_HOURLY, TRK_DIURNAL, TRK_START_HOUR, TRK_INPUT_TOKENS,
    TRK_OUTPUT_TOKENS, TRK_PREFIX_TOKENS, TRK_PREFIX_SHARE, TRK_TURNS, TRK_THINK_S,
    TRK_INTERVAL_S, TRK_SLO_PERCENTILE, TRK_COUNT
} TrafficKey;

/* A per-request length: a number, or a distribution each request draws from. */
typedef struct {
    double value;
    int is_dist;
    Dist dist;
} ScnLength;

typedef struct {
    int line;              /* 0 when absent */
    ScnVal v[TRK_COUNT];
    int arrivals;          /* 0 poisson, 1 gamma, 2 trace */
    char *trace_path;      /* resolved against the scenario's folder (owned) */
    double hourly[24];     /* the diurnal weights (all 1 when flat) */
    int peak_hour;         /* the hour of the largest weight (the first) */
    ScnLength input, output, turns, think_s;
} ScnTraffic;

/* [task NAME]: a task solved with k attempts of one fleet's model. */
typedef enum {
    TK_FLEET, TK_P_SUCCESS, TK_INPUT_TOKENS, TK_OUTPUT_TOKENS, TK_ATTEMPTS, TK_TARGET_SUCCESS,
    TK_MAX_ATTEMPTS, TK_COUNT
} TaskKey;

typedef struct {
    char *name;
    int line;
    ScnVal v[TK_COUNT];
    int fleet;                /* fleet index */
} ScnTask;

/* A key's valid range, for checking values set by sweeps and break-even searches. */
typedef struct {
    const char *key;
    double lo, hi;
    int lo_open, hi_open;
    int integer;
} ScnKeyRange;

typedef struct {
    CatTable chips, models, electricity, api_prices;
    CatTable roofline_fit; /* per chip: fitted roofline efficiencies (empty when absent) */
    CatTable diurnal;      /* named 24-hour traffic profiles (empty when absent) */
    char *dir;
} ScnCatalogs;

typedef struct {
    char *path;               /* the file as named by the user */
    char *text;               /* its whole content */
    size_t text_len;
    ScnVal sc[SK_COUNT];
    ScnVal wl[WK_COUNT];
    int workload_line;
    ScnModel *models;
    int n_models;
    ScnFleet *fleets;
    int n_fleets;
    ScnPricing *pricings;
    int n_pricings;
    char **warnings;          /* "FILE:LINE: ..." messages that do not stop the run */
    int n_warnings;
    Dist *dists;              /* the distributions of the file, in order of appearance */
    int n_dists;
    ScnVal **sites;           /* every value holding a distribution (copies included) */
    int n_sites;
    ScnSweep sweep;           /* [sweep], when present */
    ScnCompare compare;       /* [compare], when present */
    ScnOptimize optimize;     /* [optimize], when present: its candidates are extra fleets */
    ScnQuestion question;     /* [question], when present */
    ScnDistill distill;       /* [distill], when present */
    ScnTraffic traffic;       /* [traffic], when present */
    ScnTask *tasks;           /* [task NAME] sections, in order */
    int n_tasks;
    const ScnCatalogs *cats;  /* borrowed */
} Scenario;

/* Loads the four catalogs from dir. TS_EINPUT/TS_EIO with PATH:LINE on failure. */
int scn_catalogs_load(ScnCatalogs *c, const char *dir, TsErr *err);
void scn_catalogs_fini(ScnCatalogs *c);

/* Reads and validates the scenario at path against cats (borrowed; must outlive s).
 * On success s is filled (release with scn_fini). On failure err starts with "PATH:LINE: ",
 * the code is TS_EINPUT (bad content) or TS_EIO (unreadable), and s is left empty. */
int scn_load(Scenario *s, const char *path, const ScnCatalogs *cats, TsErr *err);

/* Same, from text in memory; path is used only in messages. */
int scn_load_text(Scenario *s, const char *path, const char *text, size_t len,
                  const ScnCatalogs *cats, TsErr *err);

void scn_fini(Scenario *s);

/* Resolves a key path of [sweep] or [compare] (scenario-format.md): "KEY" (a fleet or chip
 * key for every fleet, else a workload key), "fleet NAME.KEY", "model NAME.KEY",
 * "workload.KEY". only_fleet >= 0 keeps that fleet's values only (model keys: its model).
 * Writes up to max value pointers into sites and the key's range into *range; returns their
 * count, or -1 with a message (unknown key, section or name). */
int scn_param_sites(Scenario *s, const char *path, int only_fleet, ScnVal **sites, int max,
                    ScnKeyRange *range, char *msg, size_t msg_size);

/* 1 when x is inside range (whole when the key is). */
int scn_in_range(const ScnKeyRange *range, double x);

/* Recomputes the values derived from others (prompt and context lengths from requests, idle
 * and busy power copied from the chip, mfu_prefill from mfu, model shapes and parameter counts)
 * after values were changed by a draw or a sweep. TS_EINPUT when a model shape stops being
 * valid (e.g. a choice() of layers below dense_layers). */
int scn_rederive(Scenario *s, TsErr *err);

/* Sets every distributed value to its draw: draws[i] for s->dists[i] (clamped already). */
void scn_apply_draws(Scenario *s, const double *draws);

/* Sets every distributed value back to its distribution's median. */
void scn_apply_medians(Scenario *s);

/* Reads a model file: only [model NAME] sections (the scenario keys, plus max_seq, rope_theta,
 * norm_eps, shared_classifier), each resolved as in a scenario (catalog rows may be
 * overridden). s->models holds them; nothing else is filled. Errors as scn_load. */
int scn_load_models(Scenario *s, const char *path, const ScnCatalogs *cats, TsErr *err);

/* The engine config of model m (a full shape is required): max_seq default 1024, rope_theta
 * 10000, norm_eps 1e-5, shared_classifier true; cfg_check must pass. TS_EINPUT "FILE:LINE: ..."
 * naming m's section otherwise. */
int scn_engine_config(const Scenario *s, const ScnModel *m, EngineConfig *out, TsErr *err);

/* Key names, for reports ("chip", "usd_per_kwh", ...). */
const char *scn_chip_key(ChipKey k);
const char *scn_model_key(ModelKey k);
const char *scn_workload_key(WorkloadKey k);
const char *scn_fleet_key(FleetKey k);
const char *scn_pricing_key(PricingKey k);
const char *scn_throughput_name(ThroughputMode m);

/* Describes where v came from: "line 12", "chips.csv:5", "default" or "derived" (into buf). */
const char *scn_origin(const ScnVal *v, char *buf, int size);

#endif
