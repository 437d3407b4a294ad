/* cost: one fleet's cost and energy from validated numbers, formula by formula as
 * scenario-format.md's "Semantics" writes them. Everything per `hours` window. A metric whose
 * denominator is zero is left NULL (met_set drops non-finite values too). */
#include "sim/price/cost.h"

#include <math.h>

double cost_crf(double interest_rate, double years)
{
    if (interest_rate == 0.0)
        return 1.0 / years;
    double g = pow(1.0 + interest_rate, years);
    return interest_rate * g / (g - 1.0);
}

static double ratio_or_nan(double num, double den)
{
    return den > 0.0 ? num / den : NAN;
}

void cost_compute(const CostInputs *in, MetricSet *out, int *over_capacity)
{
    met_clear(out);
    *over_capacity = 0;
    double h = in->hours;

    /* Busy chip-hours by phase. */
    double prefill_tokens = in->input_tokens * (1.0 - in->cache_hit_rate);
    double ch_p = prefill_tokens > 0.0 ? prefill_tokens / (in->prefill_tok_s_per_chip * 3600.0)
                                       : 0.0;
    double ch_d = in->output_tokens > 0.0
                      ? in->output_tokens / (in->decode_tok_s_per_chip * 3600.0)
                      : 0.0;
    double ch = ch_p + ch_d;

    /* Chips: sized to the target utilisation in whole instances, or fixed. */
    double cpi = in->chips_per_instance;
    double chips;
    if (in->fixed_chips) {
        chips = in->chips;
    } else {
        chips = ceil(ch / (h * in->utilization));
        chips = ceil(chips / cpi) * cpi;
        if (chips < cpi)
            chips = cpi;
    }
    double u = ch / (chips * h);
    double served = u > 1.0 ? 1.0 / u : 1.0;
    double u_busy = u > 1.0 ? 1.0 : u;
    if (u > 1.0)
        *over_capacity = 1;

    met_set(out, MET_CHIPS, chips);
    met_set(out, MET_INSTANCES, chips / cpi);
    if (in->decode_tok_s_per_chip > 0.0)
        met_set(out, MET_DECODE_TOK_S_PER_CHIP, in->decode_tok_s_per_chip);
    if (in->prefill_tok_s_per_chip > 0.0)
        met_set(out, MET_PREFILL_TOK_S_PER_CHIP, in->prefill_tok_s_per_chip);
    if (in->chip_bf16_tflops > 0.0)
        met_set(out, MET_BF16_PFLOPS, chips * in->chip_bf16_tflops / 1000.0);
    if (in->chip_hbm_gb > 0.0)
        met_set(out, MET_HBM_TB, chips * in->chip_hbm_gb / 1000.0);
    if (in->chip_hbm_tb_s > 0.0)
        met_set(out, MET_HBM_TB_S, chips * in->chip_hbm_tb_s);
    met_set(out, MET_CHIP_HOURS_PREFILL_PER_DAY, ch_p);
    met_set(out, MET_CHIP_HOURS_DECODE_PER_DAY, ch_d);
    met_set(out, MET_UTILIZATION_NEEDED, u);
    met_set(out, MET_SERVED_SHARE, served);

    /* Power and energy. */
    double p_busy_w = in->power_w_per_chip * in->power_load;
    double it_kw = chips * in->power_w_per_chip / 1000.0;
    met_set(out, MET_IT_POWER_KW, it_kw);
    met_set(out, MET_FACILITY_POWER_KW, it_kw * in->pue);
    double it_kwh = chips * h * (u_busy * p_busy_w + (1.0 - u_busy) * in->idle_w_per_chip) / 1000.0;
    double kwh = it_kwh * in->pue;
    met_set(out, MET_ENERGY_KWH_PER_DAY, kwh);
    double energy_usd = in->has_usd_per_kwh ? kwh * in->usd_per_kwh : NAN;
    met_set(out, MET_ENERGY_USD_PER_DAY, energy_usd);

    /* Money over the window. */
    double capital = 0.0, rent = 0.0, hosting = 0.0, capex = 0.0, total;
    if (in->rent) {
        rent = chips * h * in->rent_usd_per_chip_hour;
        total = rent + (in->rent_includes_power ? 0.0 : energy_usd);
        if (in->rent_includes_power)
            met_set(out, MET_ENERGY_USD_PER_DAY, NAN); /* paid inside the rent */
    } else {
        capex = chips * in->price_usd * (1.0 + in->server_overhead);
        capital = capex * h * cost_crf(in->interest_rate, in->years) / 8760.0;
        hosting = in->hosting_usd_per_kw_month * it_kw * 12.0 / 8760.0 * h;
        total = capital + energy_usd + hosting;
    }
    met_set(out, MET_CAPEX_USD, capex);
    met_set(out, MET_CAPITAL_USD_PER_DAY, capital);
    met_set(out, MET_RENT_USD_PER_DAY, rent);
    met_set(out, MET_HOSTING_USD_PER_DAY, hosting);
    met_set(out, MET_USD_PER_DAY, total);
    met_set(out, MET_USD_PER_CHIP_HOUR, total / (chips * h));

    /* Per token: split by busy chip-hour share, over the tokens actually served. */
    double share_d = ratio_or_nan(ch_d, ch), share_p = ratio_or_nan(ch_p, ch);
    double out_served = in->output_tokens * served, in_served = in->input_tokens * served;
    double energy_j = kwh * 3.6e6, it_energy_j = it_kwh * 3.6e6;
    met_set(out, MET_USD_PER_M_OUTPUT, ratio_or_nan(total * share_d, out_served) * 1e6);
    met_set(out, MET_USD_PER_M_INPUT, ratio_or_nan(total * share_p, in_served) * 1e6);
    met_set(out, MET_USD_PER_M_BLENDED, ratio_or_nan(total, out_served + in_served) * 1e6);
    if (!(in->rent && in->rent_includes_power))
        met_set(out, MET_ENERGY_USD_PER_M_OUTPUT,
                ratio_or_nan(energy_usd * share_d, out_served) * 1e6);
    double j_out = ratio_or_nan(energy_j * share_d, out_served);
    met_set(out, MET_J_PER_OUTPUT_TOKEN, j_out);
    met_set(out, MET_J_PER_INPUT_TOKEN, ratio_or_nan(energy_j * share_p, in_served));
    met_set(out, MET_IT_J_PER_OUTPUT_TOKEN, ratio_or_nan(it_energy_j * share_d, out_served));
    if (in->has_requests)
        met_set(out, MET_WH_PER_REQUEST, ratio_or_nan(kwh * 1000.0, in->requests * served));
    if (in->has_grid)
        met_set(out, MET_KG_CO2_PER_M_OUTPUT, j_out * 1e6 / 3.6e6 * in->grid_g_co2_per_kwh / 1000.0);

    /* Revenue at list prices, cache hits at their own price. */
    if (in->has_pricing) {
        double hit_price = in->price_usd_per_m_input_cache_hit;
        double revenue = (in_served * in->cache_hit_rate * hit_price +
                          in_served * (1.0 - in->cache_hit_rate) * in->price_usd_per_m_input +
                          out_served * in->price_usd_per_m_output) / 1e6;
        met_set(out, MET_REVENUE_USD_PER_DAY, revenue);
        met_set(out, MET_MARKUP, ratio_or_nan(revenue, total) - 1.0);
        met_set(out, MET_GROSS_MARGIN, 1.0 - ratio_or_nan(total, revenue));
    }
}
