/* metrics: the contract's metric names and units (scenario-format.md, "Results in SQLite"),
 * and a fixed-size record of one fleet's metric values with NULL markers.
 * It does not compute anything; sim/price/cost.c fills the record, store and report read it. */
#ifndef TS_SIM_METRICS_H
#define TS_SIM_METRICS_H

typedef enum {
    MET_CHIPS,
    MET_INSTANCES,
    MET_DECODE_TOK_S_PER_CHIP,
    MET_PREFILL_TOK_S_PER_CHIP,
    MET_BF16_PFLOPS,
    MET_HBM_TB,
    MET_HBM_TB_S,
    MET_IT_POWER_KW,
    MET_FACILITY_POWER_KW,
    MET_USD_PER_CHIP_HOUR,
    MET_CAPEX_USD,
    MET_USD_PER_DAY,
    MET_CAPITAL_USD_PER_DAY,
    MET_RENT_USD_PER_DAY,
    MET_HOSTING_USD_PER_DAY,
    MET_ENERGY_USD_PER_DAY,
    MET_REVENUE_USD_PER_DAY,
    MET_ENERGY_KWH_PER_DAY,
    MET_CHIP_HOURS_PREFILL_PER_DAY,
    MET_CHIP_HOURS_DECODE_PER_DAY,
    MET_UTILIZATION_NEEDED,
    MET_SERVED_SHARE,
    MET_USD_PER_M_INPUT,
    MET_USD_PER_M_OUTPUT,
    MET_USD_PER_M_BLENDED,
    MET_ENERGY_USD_PER_M_OUTPUT,
    MET_J_PER_INPUT_TOKEN,
    MET_J_PER_OUTPUT_TOKEN,
    MET_IT_J_PER_OUTPUT_TOKEN,
    MET_WH_PER_REQUEST,
    MET_KG_CO2_PER_M_OUTPUT,
    MET_MARKUP,
    MET_GROSS_MARGIN,
    MET_FLOPS_PER_OUTPUT_TOKEN,
    MET_FLOPS_PER_INPUT_TOKEN,
    MET_BATCH,
    MET_STEP_MS,
    MET_TPOT_MS,
    MET_TTFT_MS,
    MET_KV_BYTES_PER_TOKEN,
    MET_WEIGHTS_GB_PER_INSTANCE,
    MET_MAX_BATCH_MEMORY,
    MET_CHIPS_PER_INSTANCE,
    MET_COMPUTE_MS,
    MET_MEMORY_MS,
    MET_COMM_MS,
    MET_OPTIMIZE_RANK,
    MET_OPTIMIZE_FEASIBLE,
    MET_COUNT
} MetricId;

typedef struct {
    const char *name; /* the contract's metric name, e.g. "usd_per_m_output" */
    const char *unit; /* the contract's unit string, e.g. "USD/Mtok" */
} MetricInfo;

/* One fleet's metrics: value[i] is meaningful only when has[i] is non-zero (else SQL NULL). */
typedef struct {
    double value[MET_COUNT];
    unsigned char has[MET_COUNT];
} MetricSet;

/* The name and unit of metric id; id must be in [0, MET_COUNT). */
const MetricInfo *met_info(MetricId id);

/* The id of the metric called name, or -1 when there is none. */
int met_find(const char *name);

/* Marks every metric of set as NULL. */
void met_clear(MetricSet *set);

/* Sets metric id to value; a NaN or infinite value is stored as NULL, never as a number. */
void met_set(MetricSet *set, MetricId id, double value);

#endif
