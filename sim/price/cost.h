/* cost: the contract's cost and energy formulas (scenario-format.md, "Semantics") for one
 * fleet, from plain numbers: chip-hours, sizing, utilisation, power, energy with idle time and
 * PUE, capital recovery or rent, hosting, the split between prefill and decode by chip-hours,
 * per-token figures over served tokens, revenue, markup and margin, CO2.
 * It does not parse anything and does not decide throughput (sim/price/perf.c does). */
#ifndef TS_SIM_COST_H
#define TS_SIM_COST_H

#include "sim/price/metrics.h"

typedef struct {
    double hours;                   /* accounting window, h */
    double input_tokens;            /* per window, cache hits included */
    double output_tokens;           /* per window */
    double requests;                /* per window; used only when has_requests */
    int has_requests;
    double cache_hit_rate;          /* share of input tokens that skip prefill */

    double decode_tok_s_per_chip;   /* while busy; 0 when unknown (no output tokens) */
    double prefill_tok_s_per_chip;  /* while busy; 0 when unknown (nothing to prefill) */

    int fixed_chips;                /* chips given; otherwise the fleet is sized */
    double chips;                   /* when fixed_chips */
    double chips_per_instance;
    double utilization;             /* target busy share for sizing, (0, 1] */

    int rent;                       /* cost = rent, else own */
    double rent_usd_per_chip_hour;
    int rent_includes_power;
    double price_usd;               /* per chip (own) */
    double server_overhead;         /* fraction of chip price */
    double years;
    double interest_rate;
    double hosting_usd_per_kw_month;
    int has_usd_per_kwh;            /* 0: energy has no price (rent with power included) */
    double usd_per_kwh;
    double pue;

    double power_w_per_chip;        /* provisioned (all-in or board) power per chip */
    double power_load;              /* share of it drawn while busy */
    double idle_w_per_chip;
    int has_grid;
    double grid_g_co2_per_kwh;

    double chip_bf16_tflops, chip_hbm_gb, chip_hbm_tb_s; /* 0 when unknown */

    int has_pricing;                /* list prices give revenue */
    double price_usd_per_m_input_cache_hit;
    double price_usd_per_m_input;
    double price_usd_per_m_output;
} CostInputs;

/* Capital recovery factor r(1+r)^n / ((1+r)^n - 1), or 1/n when r = 0. n > 0, r >= 0. */
double cost_crf(double interest_rate, double years);

/* Computes every metric the inputs allow into out (NULL where a denominator is zero or an
 * input is missing). *over_capacity is set when a fixed fleet needs utilisation above 1 (it then
 * serves only a share of the tokens). Inputs must already be validated (scenario.c). */
void cost_compute(const CostInputs *in, MetricSet *out, int *over_capacity);

#endif
