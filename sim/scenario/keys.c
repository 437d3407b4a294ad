/* keys: the key tables of every scenario section (name, type, range, choices) and the
 * catalog columns they share. Data only: parsing a value against its KeySpec is values.c. */
#include "sim/scenario/parse.h"

const KeySpec SCN_CHIP_KEYS[CK_COUNT] = {
    POS("bf16_tflops", 1e9),
    POS("fp8_tflops", 1e9),
    NUM("hbm_gb", 0, 1e9),
    NUM("hbm_tb_s", 0, 1e9),
    POS("tdp_w", 1e7),
    POS("all_in_w", 1e7),
    NUM("idle_w", 0, 1e7),
    NUM("price_usd", 0, 1e12),
    NUM("rent_usd_per_chip_hour", 0, 1e7),
    NUM("interconnect_gb_s", 0, 1e9),
    INT("scale_up_chips", 1, 1e6),
};

const KeySpec SCN_MODEL_KEYS[MK_COUNT] = {
    POS("params_total", 1e16),
    POS("params_active", 1e16),
    INT("layers", 1, 10000),
    INT("d_model", 1, 1e6),
    INT("heads", 1, 1e6),
    INT("kv_heads", 1, 1e6),
    INT("head_dim", 1, 1e6),
    INT("ffn", 0, 1e7),
    INT("experts", 0, 1e5),
    INT("experts_active", 0, 1e5),
    INT("shared_experts", 0, 1e5),
    INT("expert_ffn", 0, 1e7),
    INT("dense_layers", 0, 10000),
    INT("kv_lora_rank", 0, 1e6),
    INT("q_lora_rank", 0, 1e6),
    INT("rope_dim", 0, 1e6),
    INT("qk_nope_dim", 0, 1e6),
    INT("v_head_dim", 0, 1e6),
    INT("vocab", 1, 1e8),
    POS("weight_bytes", 8),
    POS("kv_bytes", 8),
    INT("mtp_depth", 0, 16),
    SHARE("mtp_acceptance"),
    INT("max_seq", 1, 65536),
    POS("rope_theta", 1e9),
    {"norm_eps", KT_NUM, 0, 1, 1, 0, NULL},
    {"shared_classifier", KT_BOOL, 0, 0, 0, 0, NULL},
    TEXT("hf_config"),
};

const KeySpec SCN_WORKLOAD_KEYS[WK_COUNT] = {
    TEXT("model"),
    NUM("input_tokens_per_day", 0, 1e20),
    NUM("output_tokens_per_day", 0, 1e20),
    NUM("requests_per_day", 0, 1e18),
    NUM("input_tokens_per_request", 0, 1e9),
    NUM("output_tokens_per_request", 0, 1e9),
    SHARE("cache_hit_rate"),
    NUM("prompt_tokens", 1, 1e9),
    NUM("context_tokens", 0, 1e9),
    POS("tpot_slo_ms", 1e9),
    POS("ttft_slo_ms", 1e9),
};

const KeySpec SCN_FLEET_KEYS[FK_COUNT] = {
    TEXT("chip"),
    TEXT("model"),
    TEXT("pricing"),
    INT("chips", 1, 1e8),
    INT("chips_per_instance", 1, 1e6),
    {"cost", KT_ENUM, 0, 0, 0, 0, "own|rent"},
    {"rent_includes_power", KT_BOOL, 0, 0, 0, 0, NULL},
    NUM("server_overhead", 0, 100),
    INT("years", 1, 100),
    NUM("interest_rate", 0, 10),
    NUM("hosting_usd_per_kw_month", 0, 1e9),
    NUM("usd_per_kwh", 0, 100),
    TEXT("electricity"),
    NUM("pue", 1, 10),
    SHARE_POS("utilization"),
    {"throughput", KT_ENUM, 0, 0, 0, 0, "declared|mfu|roofline|measured|simulate"},
    POS("decode_tok_s_per_chip", 1e12),
    POS("prefill_tok_s_per_chip", 1e12),
    SHARE_POS("mfu"),
    SHARE_POS("mfu_prefill"),
    SHARE_POS("eff_compute"),
    SHARE_POS("eff_memory"),
    SHARE_POS("eff_prefill"),
    SHARE_POS("hbm_usable"),
    POS("act_bytes", 8),
    NUM("step_overhead_ms", 0, 1e6),
    INT("max_batch", 1, 1e7),
    POS("power_w_per_chip", 1e7),
    SHARE("power_load"),
    NUM("idle_w_per_chip", 0, 1e7),
    NUM("grid_g_co2_per_kwh", 0, 1e4),
    INT("measurement", 1, 9e15),
    TEXT("measured_model"),
    INT("measured_threads", 1, 1e5),
    INT("max_chips_per_instance", 1, 1e6),
    {"kv_allocation", KT_ENUM, 0, 0, 0, 0, "paged|peak"},
    NUM("collective_us", 0, 1e6),
    INT("max_num_seqs", 1, 1e6),
    INT("max_batched_tokens", 1, 1e8),
    {"prefix_cache", KT_BOOL, 0, 0, 0, 0, NULL},
    {"chunked_prefill", KT_BOOL, 0, 0, 0, 0, NULL},
    {"route", KT_ENUM, 0, 0, 0, 0, "round_robin|least_outstanding"},
    INT("replicas", 1, 4096),
    INT("max_replicas", 1, 4096),
    INT("prefill_replicas", 0, 4096),
    POS("kv_transfer_gb_s", 1e9),
    {"step_model", KT_ENUM, 0, 0, 0, 0, "roofline|calibrated"},
    INT("calibration", 1, 9e15),
};

const KeySpec SCN_TRAFFIC_KEYS[TRK_COUNT] = {
    {"arrivals", KT_ENUM, 0, 0, 0, 0, "poisson|gamma|trace"},
    POS("cv", 100),
    TEXT("trace"),
    TEXT("hourly"),
    TEXT("diurnal"),
    {"start_hour", KT_NUM, 0, 24, 0, 1, NULL},
    TEXT("input_tokens"),
    TEXT("output_tokens"),
    INT("prefix_tokens", 0, 1e7),
    SHARE("prefix_share"),
    TEXT("turns"),
    TEXT("think_s"),
    POS("interval_s", 1e7),
    {"slo_percentile", KT_NUM, 0, 1, 1, 1, NULL},
};

const KeySpec SCN_PRICING_KEYS[PK_COUNT] = {
    NUM("usd_per_m_input_cache_hit", 0, 1e6),
    NUM("usd_per_m_input", 0, 1e6),
    NUM("usd_per_m_output", 0, 1e6),
};

const KeySpec SCN_SCENARIO_KEYS[SK_COUNT] = {
    TEXT("name"),
    TEXT("description"),
    INT("seed", 0, 9007199254740992.0),
    INT("samples", 1, 1e8),
    {"hours", KT_NUM, 0, 1e6, 1, 0, NULL},
};

const KeySpec SCN_SWEEP_KEYS[SWK_COUNT] = {TEXT("over"), TEXT("values"), TEXT("over2"),
                                           TEXT("values2")};
const KeySpec SCN_COMPARE_KEYS[CMK_COUNT] = {TEXT("baseline"), TEXT("breakeven"),
                                             TEXT("breakeven_range")};

const KeySpec SCN_OPTIMIZE_KEYS[OPK_COUNT] = {
    TEXT("fleet"),
    TEXT("chips"),
    NUM("power_cap_mw", 0, 1e9),
    NUM("budget_usd_per_day", 0, 1e15),
    {"objective", KT_ENUM, 0, 0, 0, 0, "usd_per_m_output|usd_per_m_blended"},
};

const KeySpec SCN_QUESTION_KEYS[QK_COUNT] = {
    {"kind", KT_ENUM, 0, 0, 0, 0, "decompose|versus|breakeven|distill|task|demand"},
    TEXT("title"),
    TEXT("fleets"),
    TEXT("factors"),
    POS("power_cap_kw", 1e12),
};

const KeySpec SCN_DISTILL_KEYS[DK_COUNT] = {
    TEXT("teacher"),
    TEXT("student"),
    TEXT("teacher_fleet"),
    TEXT("student_fleet"),
    POS("generated_tokens", 1e16),
    POS("training_tokens", 1e16),
    TEXT("chip"),
    SHARE_POS("mfu"),
    NUM("usd_per_chip_hour", 0, 1e7),
};

const KeySpec SCN_TASK_KEYS[TK_COUNT] = {
    TEXT("fleet"),
    SHARE_POS("p_success"),
    NUM("input_tokens", 0, 1e9),
    NUM("output_tokens", 0, 1e9),
    INT("attempts", 1, 1e6),
    {"target_success", KT_NUM, 0, 1, 1, 1, NULL},
    INT("max_attempts", 1, 1e6),
};

static const char *const THROUGHPUT_NAMES[] = {"declared", "mfu", "roofline", "measured",
                                               "simulate"};

const char *scn_chip_key(ChipKey k)
{
    return SCN_CHIP_KEYS[k].name;
}
const char *scn_model_key(ModelKey k)
{
    return SCN_MODEL_KEYS[k].name;
}
const char *scn_workload_key(WorkloadKey k)
{
    return SCN_WORKLOAD_KEYS[k].name;
}
const char *scn_fleet_key(FleetKey k)
{
    return SCN_FLEET_KEYS[k].name;
}
const char *scn_pricing_key(PricingKey k)
{
    return SCN_PRICING_KEYS[k].name;
}
const char *scn_throughput_name(ThroughputMode m)
{
    return THROUGHPUT_NAMES[m];
}
