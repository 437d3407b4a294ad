/* evaluate: turns one resolved fleet into numbers (CostInputs), then calls perf and cost.
 * Defaults were already applied by scenario.c; this file only reads values. */
#include "sim/price/evaluate.h"

#include <math.h>

static int given(const ScnVal *v)
{
    return v->origin != ORIG_NONE;
}

void eval_cost_inputs(const Scenario *s, const ScnFleet *f, const PerfResult *perf,
                      CostInputs *in)
{
    const ScnVal *w = s->wl, *v = f->v, *cv = f->chip.v;
    *in = (CostInputs){0};
    in->hours = s->sc[SK_HOURS].num;
    if (given(&w[WK_REQUESTS_PER_DAY])) {
        in->has_requests = 1;
        in->requests = w[WK_REQUESTS_PER_DAY].num;
        in->input_tokens = in->requests * w[WK_INPUT_TOKENS_PER_REQUEST].num;
        in->output_tokens = in->requests * w[WK_OUTPUT_TOKENS_PER_REQUEST].num;
    } else {
        in->input_tokens = w[WK_INPUT_TOKENS_PER_DAY].num;
        in->output_tokens = w[WK_OUTPUT_TOKENS_PER_DAY].num;
    }
    in->cache_hit_rate = w[WK_CACHE_HIT_RATE].num;
    in->decode_tok_s_per_chip = perf->decode_tok_s_per_chip;
    in->prefill_tok_s_per_chip = perf->prefill_tok_s_per_chip;

    in->fixed_chips = given(&v[FK_CHIPS]);
    in->chips = v[FK_CHIPS].num;
    in->chips_per_instance = v[FK_CHIPS_PER_INSTANCE].num;
    in->utilization = v[FK_UTILIZATION].num;

    in->rent = f->rent;
    in->rent_usd_per_chip_hour = cv[CK_RENT_USD_PER_CHIP_HOUR].num;
    in->rent_includes_power = v[FK_RENT_INCLUDES_POWER].num != 0;
    in->price_usd = cv[CK_PRICE_USD].num;
    in->server_overhead = v[FK_SERVER_OVERHEAD].num;
    in->years = v[FK_YEARS].num;
    in->interest_rate = v[FK_INTEREST_RATE].num;
    in->hosting_usd_per_kw_month = v[FK_HOSTING_USD_PER_KW_MONTH].num;
    in->has_usd_per_kwh = given(&v[FK_USD_PER_KWH]);
    in->usd_per_kwh = v[FK_USD_PER_KWH].num;
    in->pue = v[FK_PUE].num;

    in->power_w_per_chip = v[FK_POWER_W_PER_CHIP].num;
    in->power_load = v[FK_POWER_LOAD].num;
    in->idle_w_per_chip = v[FK_IDLE_W_PER_CHIP].num;
    in->has_grid = given(&v[FK_GRID_G_CO2_PER_KWH]);
    in->grid_g_co2_per_kwh = v[FK_GRID_G_CO2_PER_KWH].num;

    in->chip_bf16_tflops = given(&cv[CK_BF16_TFLOPS]) ? cv[CK_BF16_TFLOPS].num : 0.0;
    in->chip_hbm_gb = given(&cv[CK_HBM_GB]) ? cv[CK_HBM_GB].num : 0.0;
    in->chip_hbm_tb_s = given(&cv[CK_HBM_TB_S]) ? cv[CK_HBM_TB_S].num : 0.0;

    if (f->pricing >= 0) {
        const ScnVal *p = s->pricings[f->pricing].v;
        in->has_pricing = 1;
        in->price_usd_per_m_input = p[PK_USD_PER_M_INPUT].num;
        in->price_usd_per_m_output = p[PK_USD_PER_M_OUTPUT].num;
        /* Without a cache-hit price, cache hits are billed as ordinary input. */
        in->price_usd_per_m_input_cache_hit = given(&p[PK_USD_PER_M_INPUT_CACHE_HIT])
                                                  ? p[PK_USD_PER_M_INPUT_CACHE_HIT].num
                                                  : p[PK_USD_PER_M_INPUT].num;
    }
}

/* Prices every feasible size of a deployment search at the fleet's cost and keeps the one with
 * the lowest usd_per_m_blended (usd_per_m_output when there is no blend; ties keep the smaller
 * instance). A size that does not divide a fixed fleet's chips is not a candidate. */
static void choose_deployment(const Scenario *s, const ScnFleet *f, PerfResult *perf)
{
    int best = -1;
    for (int i = 0; i < perf->n_frontier; i++) {
        PerfCandidate *c = &perf->frontier[i];
        if (c->status != 0)
            continue;
        PerfResult one = *perf;
        one.roof = c->roof;
        one.decode_tok_s_per_chip = c->roof.decode_tok_s_per_chip;
        one.prefill_tok_s_per_chip = c->roof.prefill_tok_s_per_chip;
        CostInputs in;
        eval_cost_inputs(s, f, &one, &in);
        in.chips_per_instance = c->chips_per_instance;
        if (in.fixed_chips && fmod(in.chips, in.chips_per_instance) != 0) {
            c->status = PERF_NOT_DIVISOR;
            continue;
        }
        MetricSet m;
        int over = 0;
        cost_compute(&in, &m, &over);
        c->usd_per_m_output = m.has[MET_USD_PER_M_OUTPUT] ? m.value[MET_USD_PER_M_OUTPUT] : NAN;
        c->usd_per_m_blended = m.has[MET_USD_PER_M_BLENDED] ? m.value[MET_USD_PER_M_BLENDED]
                                                            : c->usd_per_m_output;
        if (!isfinite(c->usd_per_m_blended))
            continue;
        if (best < 0 || c->usd_per_m_blended < perf->frontier[best].usd_per_m_blended)
            best = i;
    }
    if (best < 0)
        return; /* nothing priced: the first feasible size stays */
    perf->chosen = best;
    perf->roof = perf->frontier[best].roof;
}

int eval_fleet(const Scenario *s, const ScnFleet *f, FleetResult *r, TsErr *err)
{
    if (perf_fleet(s, f, &r->perf, err))
        return err->code;
    if (r->perf.roofline && r->perf.searched) {
        choose_deployment(s, f, &r->perf);
        r->perf.decode_tok_s_per_chip = r->perf.roof.decode_tok_s_per_chip;
        r->perf.prefill_tok_s_per_chip = r->perf.roof.prefill_tok_s_per_chip;
    }
    eval_cost_inputs(s, f, &r->perf, &r->inputs);
    if (r->perf.roofline) {
        /* the instance is the roofline's (the fewest chips that hold the weights, unless set) */
        r->inputs.chips_per_instance = r->perf.roof.chips_per_instance;
        if (r->inputs.fixed_chips &&
            fmod(r->inputs.chips, r->inputs.chips_per_instance) != 0)
            return ts_err_set(err, TS_EINPUT,
                              "%s:%d: fleet '%s': chips = %.0f is not a multiple of the %d chips "
                              "an instance needs to hold the model",
                              s->path, f->line, f->name, r->inputs.chips,
                              r->perf.roof.chips_per_instance);
    }
    cost_compute(&r->inputs, &r->metrics, &r->over_capacity);
    const MetricSet *m = &r->metrics;
    if (!m->has[MET_CHIPS] || m->value[MET_CHIPS] > EVAL_MAX_CHIPS ||
        !m->has[MET_UTILIZATION_NEEDED])
        return ts_err_set(err, TS_EINPUT,
                          "%s:%d: fleet '%s' would need more than %.0e chips (or a number too "
                          "large to compute): check its throughput, utilization and the "
                          "workload's token counts",
                          s->path, f->line, f->name, EVAL_MAX_CHIPS);
    if (r->perf.flops_per_output_token > 0)
        met_set(&r->metrics, MET_FLOPS_PER_OUTPUT_TOKEN, r->perf.flops_per_output_token);
    if (r->perf.flops_per_input_token > 0)
        met_set(&r->metrics, MET_FLOPS_PER_INPUT_TOKEN, r->perf.flops_per_input_token);
    if (f->calibrated) {
        /* this machine's calibrated steady state (bound by sim/cli/measured.c) */
        met_set(&r->metrics, MET_BATCH, f->cal.batch);
        met_set(&r->metrics, MET_STEP_MS, f->cal.tpot_ms);
        met_set(&r->metrics, MET_TPOT_MS, f->cal.tpot_ms);
        met_set(&r->metrics, MET_TTFT_MS, f->cal.ttft_ms);
        met_set(&r->metrics, MET_CHIPS_PER_INSTANCE, f->v[FK_CHIPS_PER_INSTANCE].num);
    }
    if (r->perf.roofline) {
        const RoofResult *ro = &r->perf.roof;
        met_set(&r->metrics, MET_BATCH, ro->batch);
        met_set(&r->metrics, MET_STEP_MS, ro->step_ms);
        met_set(&r->metrics, MET_TPOT_MS, ro->tpot_ms);
        met_set(&r->metrics, MET_TTFT_MS, ro->ttft_ms);
        met_set(&r->metrics, MET_KV_BYTES_PER_TOKEN, ro->kv_bytes_per_token);
        met_set(&r->metrics, MET_WEIGHTS_GB_PER_INSTANCE, ro->weights_gb_per_instance);
        met_set(&r->metrics, MET_MAX_BATCH_MEMORY, ro->max_batch_memory);
        met_set(&r->metrics, MET_CHIPS_PER_INSTANCE, ro->chips_per_instance);
        met_set(&r->metrics, MET_COMPUTE_MS, ro->compute_ms);
        met_set(&r->metrics, MET_MEMORY_MS, ro->memory_ms);
        met_set(&r->metrics, MET_COMM_MS, ro->comm_ms);
    }
    return 0;
}
