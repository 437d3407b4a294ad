/* serving: a simulated fleet (see serving.h). The traffic's mean rate is the workload's
 * requests per window spread over the window (sessions: requests / mean turns); the peak hour
 * is the hour of the largest diurnal weight, simulated for 3600 s at its own rate. The price:
 * chips = (replicas + prefill replicas) x chips per instance, fixed; busy chip-hours = the
 * simulation's busy share x chips x hours, split between prefill and decode as the roofline's
 * steady state splits them, so that the cost model (sim/price/cost.c) pays for idle capacity
 * and draws busy power only while busy. */
#include "sim/study/serving.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/price/cost.h"
#include "sim/price/metrics.h"
#include "sim/serve/calstep.h"
#include "sim/serve/steptime.h"

/* A fleet's step-time backend: the roofline's (steptime) or this machine's calibrated one. */
typedef struct {
    StepTime st;
    CalStep cs;
} Backends;

/* The calibrated backend of a this-machine fleet (bound by msd_bind into fl->cal): KV blocks
 * for max_num_seqs sequences at the preset's full length (a CPU's memory holds them). */
static int calibrated_backend(const ScnFleet *fl, Backends *b, StepBackend *out, int32_t *blocks,
                              double *kv_bytes_per_token, TsErr *err)
{
    if (calstep_init_profile(&b->cs, &fl->cal, err))
        return err->code;
    *out = calstep_backend(&b->cs);
    *blocks = (int32_t)fl->v[FK_MAX_NUM_SEQS].num * ((b->cs.cfg.max_seq + 15) / 16);
    *kv_bytes_per_token = b->cs.kv_bytes_per_token;
    return 0;
}

static TrafficLen len_of(const ScnLength *l)
{
    TrafficLen t = {.value = l->value, .use_dist = l->is_dist};
    if (l->is_dist)
        t.dist = l->dist;
    return t;
}

/* The [traffic] day of s as the simulator's description. */
static void traffic_spec(const Scenario *s, TrafficSpec *t)
{
    const ScnTraffic *tr = &s->traffic;
    memset(t, 0, sizeof *t);
    t->arrivals = tr->arrivals == 0   ? TRAFFIC_POISSON
                  : tr->arrivals == 1 ? TRAFFIC_GAMMA
                                      : TRAFFIC_TRACE;
    t->cv = tr->v[TRK_CV].origin != ORIG_NONE ? tr->v[TRK_CV].num : 1.0;
    t->trace_path = tr->trace_path;
    memcpy(t->hourly, tr->hourly, sizeof t->hourly);
    t->start_hour = tr->v[TRK_START_HOUR].num;
    double window_s = s->sc[SK_HOURS].num * 3600.0;
    t->duration_s = t->arrivals == TRAFFIC_TRACE ? 0 : window_s;
    t->input = len_of(&tr->input);
    t->output = len_of(&tr->output);
    t->turns = len_of(&tr->turns);
    t->think_s = len_of(&tr->think_s);
    t->prefix_tokens = (int32_t)tr->v[TRK_PREFIX_TOKENS].num;
    t->prefix_share = tr->v[TRK_PREFIX_SHARE].num;
    double turns = tr->turns.value > 1 ? tr->turns.value : 1.0;
    const ScnVal *rpd = &s->wl[WK_REQUESTS_PER_DAY];
    t->rate_per_s = rpd->origin != ORIG_NONE ? rpd->num / window_s / turns : 0;
    t->seed = (uint64_t)s->sc[SK_SEED].num;
}

void srv_fleet_fini(ServeFleet *f)
{
    if (!f)
        return;
    serve_result_fini(&f->day);
    free(f->usd_per_hour);
    memset(f, 0, sizeof *f);
}

/* The metrics eval_fleet adds beside the cost's (roofline shape of the instance, FLOPs). */
static const MetricId KEPT[] = {
    MET_FLOPS_PER_OUTPUT_TOKEN, MET_FLOPS_PER_INPUT_TOKEN, MET_BATCH, MET_STEP_MS, MET_TPOT_MS,
    MET_TTFT_MS, MET_KV_BYTES_PER_TOKEN, MET_WEIGHTS_GB_PER_INSTANCE, MET_MAX_BATCH_MEMORY,
    MET_CHIPS_PER_INSTANCE, MET_COMPUTE_MS, MET_MEMORY_MS, MET_COMM_MS};

/* Prices r (as eval_fleet priced it) at the simulated load of f over the same window. */
static void price_at_load(const ServeFleet *f, FleetResult *r, double *fixed_usd_per_h,
                          double *busy_usd_h, double *idle_usd_h)
{
    const ServeSummary *d = &f->day.sum;
    CostInputs ci = r->inputs; /* eval_fleet's, for the chosen instance */
    double chips = (double)(f->replicas + f->prefill_replicas) * f->chips_per_instance;
    ci.fixed_chips = 1;
    ci.chips = chips;
    ci.chips_per_instance = f->chips_per_instance;
    ci.input_tokens = d->input_tokens;
    ci.output_tokens = d->output_tokens;
    ci.has_requests = 1;
    ci.requests = (double)d->requests;
    ci.cache_hit_rate = d->prefix_hit_rate;
    /* busy chip-hours as simulated, split as the steady state splits prefill and decode */
    double busy_ch = d->busy_share * chips * ci.hours;
    double in_new = d->input_tokens * (1.0 - d->prefix_hit_rate);
    double ch_p0 = r->perf.prefill_tok_s_per_chip > 0 ? in_new / r->perf.prefill_tok_s_per_chip
                                                       : 0;
    double ch_d0 = r->perf.decode_tok_s_per_chip > 0 ? d->output_tokens /
                                                           r->perf.decode_tok_s_per_chip
                                                     : 0;
    double fd = ch_p0 + ch_d0 > 0 ? ch_d0 / (ch_p0 + ch_d0) : 1.0;
    if (busy_ch > 0) {
        ci.decode_tok_s_per_chip = d->output_tokens / (busy_ch * fd * 3600.0);
        ci.prefill_tok_s_per_chip = fd < 1 ? in_new / (busy_ch * (1 - fd) * 3600.0) : 0;
    }
    MetricSet kept = r->metrics;
    cost_compute(&ci, &r->metrics, &r->over_capacity);
    for (size_t k = 0; k < sizeof KEPT / sizeof KEPT[0]; k++)
        if (kept.has[KEPT[k]])
            met_set(&r->metrics, KEPT[k], kept.value[KEPT[k]]);
    r->inputs = ci;
    r->perf.decode_tok_s_per_chip = ci.decode_tok_s_per_chip;
    r->perf.prefill_tok_s_per_chip = ci.prefill_tok_s_per_chip;
    /* the day's cost per hour: capacity paid every hour, energy as busy as the hour */
    const MetricSet *m = &r->metrics;
    double total = m->has[MET_USD_PER_DAY] ? m->value[MET_USD_PER_DAY] : 0;
    double energy = m->has[MET_ENERGY_USD_PER_DAY] ? m->value[MET_ENERGY_USD_PER_DAY] : 0;
    *fixed_usd_per_h = (total - energy) / ci.hours;
    double price = ci.has_usd_per_kwh ? ci.usd_per_kwh : 0;
    *busy_usd_h = chips * ci.power_w_per_chip * ci.power_load / 1000.0 * ci.pue * price;
    *idle_usd_h = chips * ci.idle_w_per_chip / 1000.0 * ci.pue * price;
}

/* The simulator's configuration of fleet i (priced by eval_fleet into r: its instance) with
 * its step-time backend in *st (which cfg's backend points to). */
static int serve_config(const Scenario *s, int i, const FleetResult *r, Backends *b,
                        ServeConfig *cfg_out, TsErr *err)
{
    const ScnFleet *fl = &s->fleets[i];
    int32_t blocks = 0;
    StepBackend backend;
    double kv_bytes_per_token = 0;
    int rc;
    if (fl->calibrated) {
        rc = calibrated_backend(fl, b, &backend, &blocks, &kv_bytes_per_token, err);
    } else {
        RoofInputs in;
        perf_roof_inputs(s, fl, &in);
        StepModel model;
        steptime_model_from_roof(&model, &in, r->perf.roof.chips_per_instance);
        rc = steptime_init(&b->st, &model, err);
        if (!rc)
            rc = steptime_kv_blocks(&b->st, 16, &blocks, err);
        backend = steptime_backend(&b->st);
        kv_bytes_per_token = b->st.kv_bytes_per_token;
    }
    if (rc)
        return ts_err_prefix(err, "%s:%d: fleet '%s': ", s->path, fl->line, fl->name);
    const ScnVal *v = fl->v, *w = s->wl;
    ServeConfig cfg = {0};
    cfg.sched = (SchedConfig){.max_num_seqs = (int32_t)v[FK_MAX_NUM_SEQS].num,
                              .max_batched_tokens = (int32_t)v[FK_MAX_BATCHED_TOKENS].num,
                              .kv_blocks = blocks,
                              .block_tokens = 16,
                              .prefix_cache = v[FK_PREFIX_CACHE].num != 0,
                              .chunked_prefill = v[FK_CHUNKED_PREFILL].num != 0};
    cfg.route = v[FK_ROUTE].text && strcmp(v[FK_ROUTE].text, "round_robin") == 0
                    ? ROUTE_ROUND_ROBIN
                    : ROUTE_LEAST_OUTSTANDING;
    cfg.backend = backend;
    cfg.prefill_replicas = (int)v[FK_PREFILL_REPLICAS].num;
    cfg.prefill_sched = cfg.sched;
    cfg.kv_transfer_gb_s = v[FK_KV_TRANSFER_GB_S].origin != ORIG_NONE
                               ? v[FK_KV_TRANSFER_GB_S].num
                               : 0;
    cfg.kv_bytes_per_token = kv_bytes_per_token;
    cfg.ttft_slo_s = w[WK_TTFT_SLO_MS].origin != ORIG_NONE ? w[WK_TTFT_SLO_MS].num / 1e3 : 0;
    cfg.tpot_slo_s = w[WK_TPOT_SLO_MS].origin != ORIG_NONE ? w[WK_TPOT_SLO_MS].num / 1e3 : 0;
    cfg.slo_percentile = s->traffic.v[TRK_SLO_PERCENTILE].num;
    cfg.interval_s = s->traffic.v[TRK_INTERVAL_S].num;
    cfg.replicas = fl->v[FK_REPLICAS].origin != ORIG_NONE ? (int)fl->v[FK_REPLICAS].num : 1;
    *cfg_out = cfg;
    return 0;
}

int srv_check_fleet(const Scenario *s, int i, const FleetResult *r, TsErr *err)
{
    Backends b;
    ServeConfig cfg;
    TrafficSpec day;
    if (serve_config(s, i, r, &b, &cfg, err))
        return err->code;
    traffic_spec(s, &day);
    if (s->fleets[i].v[FK_REPLICAS].origin == ORIG_NONE) {
        /* what runs first: the peak hour, sized up to max_replicas (the window is checked when
         * it runs with the count found) */
        cfg.replicas = (int)s->fleets[i].v[FK_MAX_REPLICAS].num;
        day.duration_s = day.arrivals == TRAFFIC_TRACE ? 0 : 3600.0;
    }
    if (serve_check(&cfg, &day, err))
        return ts_err_prefix(err, "%s:%d: fleet '%s': ", s->path, s->fleets[i].line,
                             s->fleets[i].name);
    return 0;
}

int srv_fleet(const Scenario *s, int i, FleetResult *r, ServeFleet *out, TsErr *err)
{
    memset(out, 0, sizeof *out);
    const ScnFleet *fl = &s->fleets[i];
    const ScnVal *v = fl->v;
    if (eval_fleet(s, fl, r, err))
        return err->code;
    Backends b;
    ServeConfig cfg;
    int rc = serve_config(s, i, r, &b, &cfg, err);
    if (rc)
        return rc;
    /* the roofline's chosen instance, or a this-machine fleet's declared one */
    out->chips_per_instance = fl->calibrated ? (int)v[FK_CHIPS_PER_INSTANCE].num
                                             : r->perf.roof.chips_per_instance;
    out->prefill_replicas = cfg.prefill_replicas;
    TrafficSpec day;
    traffic_spec(s, &day);
    if (v[FK_REPLICAS].origin != ORIG_NONE) {
        out->replicas = (int)v[FK_REPLICAS].num;
    } else {
        TrafficSpec peak = day;
        peak.start_hour = s->traffic.peak_hour;
        peak.duration_s = 3600.0;
        /* the peak hour at its own rate: the mean rate times the peak weight over the mean */
        double mean = 0;
        for (int h = 0; h < 24; h++)
            mean += day.hourly[h] / 24.0;
        for (int h = 0; h < 24; h++)
            peak.hourly[h] = 1.0;
        peak.rate_per_s = day.rate_per_s * day.hourly[s->traffic.peak_hour] / mean;
        ServeConfig pc = cfg;
        pc.interval_s = 0;
        ServeResult pr;
        memset(&pr, 0, sizeof pr);
        rc = serve_size(&pc, &peak, (int)v[FK_MAX_REPLICAS].num, &pr, &out->replicas, err);
        out->peak = pr.sum;
        serve_result_fini(&pr);
        if (rc)
            return ts_err_prefix(err, "%s:%d: fleet '%s': at the peak hour: ", s->path, fl->line,
                                 fl->name);
        out->sized = 1;
    }
    cfg.replicas = out->replicas;
    rc = serve_run(&cfg, &day, &out->day, err);
    if (rc)
        return ts_err_prefix(err, "%s:%d: fleet '%s': ", s->path, fl->line, fl->name);
    out->simulated = 1;
    double fixed, busy_usd_h, idle_usd_h;
    price_at_load(out, r, &fixed, &busy_usd_h, &idle_usd_h);
    out->usd_per_hour = calloc((size_t)out->day.n_series + 1, sizeof *out->usd_per_hour);
    if (!out->usd_per_hour)
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    for (int k = 0; k < out->day.n_series; k++) {
        double busy = out->day.series[k].busy_share;
        out->usd_per_hour[k] = fixed + busy * busy_usd_h + (1 - busy) * idle_usd_h;
    }
    return 0;
}

int srv_reprice(const Scenario *s, int i, const ServeFleet *f, FleetResult *r, TsErr *err)
{
    if (eval_fleet(s, &s->fleets[i], r, err))
        return err->code;
    double fixed, busy_usd_h, idle_usd_h;
    price_at_load(f, r, &fixed, &busy_usd_h, &idle_usd_h);
    return 0;
}

int srv_price_only_key(const char *path)
{
    static const char *const PRICE_KEYS[] = {
        "usd_per_kwh", "pue", "years", "interest_rate", "hosting_usd_per_kw_month",
        "server_overhead", "price_usd", "rent_usd_per_chip_hour", "power_w_per_chip",
        "power_load", "idle_w_per_chip", "all_in_w", "tdp_w", "idle_w", "grid_g_co2_per_kwh"};
    const char *dot = strrchr(path, '.');
    const char *key = dot ? dot + 1 : path;
    for (size_t k = 0; k < sizeof PRICE_KEYS / sizeof PRICE_KEYS[0]; k++)
        if (strcmp(key, PRICE_KEYS[k]) == 0)
            return 1;
    return 0;
}

int srv_eval_fleet(const Scenario *s, int i, FleetResult *r, ServeFleet *out, TsErr *err)
{
    if (s->fleets[i].throughput != THR_SIMULATE)
        return eval_fleet(s, &s->fleets[i], r, err);
    ServeFleet local;
    ServeFleet *f = out ? out : &local;
    int rc = srv_fleet(s, i, r, f, err);
    if (!out)
        srv_fleet_fini(&local);
    return rc;
}
