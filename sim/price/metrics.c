/* metrics: the table of metric names and units, in the contract's spelling.
 * Only names and NULL handling live here; formulas are in sim/price/cost.c. */
#include "sim/price/metrics.h"

#include <math.h>
#include <string.h>

static const MetricInfo METRICS[MET_COUNT] = {
    [MET_CHIPS] = {"chips", "chips"},
    [MET_INSTANCES] = {"instances", "instances"},
    [MET_DECODE_TOK_S_PER_CHIP] = {"decode_tok_s_per_chip", "tok/s/chip"},
    [MET_PREFILL_TOK_S_PER_CHIP] = {"prefill_tok_s_per_chip", "tok/s/chip"},
    [MET_BF16_PFLOPS] = {"bf16_pflops", "PFLOPS"},
    [MET_HBM_TB] = {"hbm_tb", "TB"},
    [MET_HBM_TB_S] = {"hbm_tb_s", "TB/s"},
    [MET_IT_POWER_KW] = {"it_power_kw", "kW"},
    [MET_FACILITY_POWER_KW] = {"facility_power_kw", "kW"},
    [MET_USD_PER_CHIP_HOUR] = {"usd_per_chip_hour", "USD/chip-h"},
    [MET_CAPEX_USD] = {"capex_usd", "USD"},
    [MET_USD_PER_DAY] = {"usd_per_day", "USD/window"},
    [MET_CAPITAL_USD_PER_DAY] = {"capital_usd_per_day", "USD/window"},
    [MET_RENT_USD_PER_DAY] = {"rent_usd_per_day", "USD/window"},
    [MET_HOSTING_USD_PER_DAY] = {"hosting_usd_per_day", "USD/window"},
    [MET_ENERGY_USD_PER_DAY] = {"energy_usd_per_day", "USD/window"},
    [MET_REVENUE_USD_PER_DAY] = {"revenue_usd_per_day", "USD/window"},
    [MET_ENERGY_KWH_PER_DAY] = {"energy_kwh_per_day", "kWh/window"},
    [MET_CHIP_HOURS_PREFILL_PER_DAY] = {"chip_hours_prefill_per_day", "chip-h/window"},
    [MET_CHIP_HOURS_DECODE_PER_DAY] = {"chip_hours_decode_per_day", "chip-h/window"},
    [MET_UTILIZATION_NEEDED] = {"utilization_needed", "share"},
    [MET_SERVED_SHARE] = {"served_share", "share"},
    [MET_USD_PER_M_INPUT] = {"usd_per_m_input", "USD/Mtok"},
    [MET_USD_PER_M_OUTPUT] = {"usd_per_m_output", "USD/Mtok"},
    [MET_USD_PER_M_BLENDED] = {"usd_per_m_blended", "USD/Mtok"},
    [MET_ENERGY_USD_PER_M_OUTPUT] = {"energy_usd_per_m_output", "USD/Mtok"},
    [MET_J_PER_INPUT_TOKEN] = {"j_per_input_token", "J/token"},
    [MET_J_PER_OUTPUT_TOKEN] = {"j_per_output_token", "J/token"},
    [MET_IT_J_PER_OUTPUT_TOKEN] = {"it_j_per_output_token", "J/token"},
    [MET_WH_PER_REQUEST] = {"wh_per_request", "Wh/request"},
    [MET_KG_CO2_PER_M_OUTPUT] = {"kg_co2_per_m_output", "kgCO2/Mtok"},
    [MET_MARKUP] = {"markup", "ratio"},
    [MET_GROSS_MARGIN] = {"gross_margin", "ratio"},
    [MET_FLOPS_PER_OUTPUT_TOKEN] = {"flops_per_output_token", "FLOP/token"},
    [MET_FLOPS_PER_INPUT_TOKEN] = {"flops_per_input_token", "FLOP/token"},
    [MET_BATCH] = {"batch", "sequences"},
    [MET_STEP_MS] = {"step_ms", "ms"},
    [MET_TPOT_MS] = {"tpot_ms", "ms"},
    [MET_TTFT_MS] = {"ttft_ms", "ms"},
    [MET_KV_BYTES_PER_TOKEN] = {"kv_bytes_per_token", "bytes/token"},
    [MET_WEIGHTS_GB_PER_INSTANCE] = {"weights_gb_per_instance", "GB"},
    [MET_MAX_BATCH_MEMORY] = {"max_batch_memory", "sequences"},
    [MET_CHIPS_PER_INSTANCE] = {"chips_per_instance", "chips"},
    [MET_COMPUTE_MS] = {"step_compute_ms", "ms"},
    [MET_MEMORY_MS] = {"step_memory_ms", "ms"},
    [MET_COMM_MS] = {"step_comm_ms", "ms"},
    [MET_OPTIMIZE_RANK] = {"optimize_rank", "rank"},
    [MET_OPTIMIZE_FEASIBLE] = {"optimize_feasible", "yes/no"},
};

const MetricInfo *met_info(MetricId id)
{
    return &METRICS[id];
}

int met_find(const char *name)
{
    for (int i = 0; i < MET_COUNT; i++)
        if (strcmp(METRICS[i].name, name) == 0)
            return i;
    return -1;
}

void met_clear(MetricSet *set)
{
    memset(set, 0, sizeof *set);
}

void met_set(MetricSet *set, MetricId id, double value)
{
    if (isfinite(value)) {
        set->value[id] = value;
        set->has[id] = 1;
    } else {
        set->value[id] = 0.0;
        set->has[id] = 0;
    }
}
