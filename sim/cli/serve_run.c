/* serve_run: requests from sim/serve/traffic (fixed lengths, Poisson or a trace), one
 * scheduler, and either the engine backend on the wall clock (sim/serve/engstep) or the
 * calibrated backend on the virtual clock (sim/serve/calstep), both through rt_run. The KV
 * pool defaults to room for every admitted sequence at the model's full length. */
#include "sim/cli/serve_run.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/cli/cli.h"
#include "sim/serve/calstep.h"
#include "sim/serve/engstep.h"
#include "sim/serve/traffic.h"

void srv_plan_defaults(SrvPlan *p, const char *model)
{
    memset(p, 0, sizeof *p);
    p->model = model;
    p->prec = PREC_FP32;
    p->kv = PREC_FP32;
    p->threads = 1;
    p->rate_per_s = 2.0;
    p->duration_s = 10.0;
    p->input_tokens = 64;
    p->output_tokens = 32;
    p->seed = 1;
    p->sched = (SchedConfig){8, 256, 0, 16, 0, 1};
}

int srv_requests(const SrvPlan *p, ServeRequest **reqs, int *n, TsErr *err)
{
    *reqs = NULL;
    *n = 0;
    TrafficSpec t;
    memset(&t, 0, sizeof t);
    t.arrivals = p->trace ? TRAFFIC_TRACE : TRAFFIC_POISSON;
    t.rate_per_s = p->rate_per_s;
    t.cv = 1.0;
    t.trace_path = p->trace;
    t.duration_s = p->trace ? 0 : p->duration_s;
    t.max_requests = p->max_requests;
    t.input.value = p->input_tokens;
    t.output.value = p->output_tokens;
    t.seed = p->seed;
    TrafficGen *g = NULL;
    if (traffic_check(&t, err) || traffic_new(&t, &g, err))
        return err->code;
    int cap = 0, rc = 0;
    ServeRequest r;
    while (traffic_next(g, &r) == 1) {
        if (*n == 1000000) {
            rc = ts_err_set(err, TS_EINPUT, "more than 1000000 requests: shorten the run");
            break;
        }
        if (*n == cap) {
            cap = cap ? 2 * cap : 256;
            ServeRequest *a = realloc(*reqs, sizeof *a * (size_t)cap);
            if (!a) {
                rc = ts_err_set(err, TS_ENOMEM, "out of memory");
                break;
            }
            *reqs = a;
        }
        (*reqs)[(*n)++] = r;
    }
    traffic_free(g);
    if (!rc && *n == 0)
        rc = ts_err_set(err, TS_EINPUT, "the traffic has no requests (raise the rate or the "
                                        "duration)");
    if (rc) {
        free(*reqs);
        *reqs = NULL;
        *n = 0;
    }
    return rc;
}

/* The scheduler of a plan for a model of max_seq positions. */
static int plan_sched(const SrvPlan *p, int max_seq, const ServeRequest *reqs, int n,
                      SchedConfig *sc, TsErr *err)
{
    *sc = p->sched;
    for (int i = 0; i < n; i++)
        if (reqs[i].input_tokens + reqs[i].output_tokens > max_seq)
            return ts_err_set(err, TS_EINPUT, "request %d needs %d positions; model '%s' has %d",
                              i, reqs[i].input_tokens + reqs[i].output_tokens, p->model,
                              max_seq);
    if (sc->kv_blocks == 0)
        sc->kv_blocks = sc->max_num_seqs * ((max_seq + sc->block_tokens - 1) / sc->block_tokens);
    return sched_config_check(sc, err);
}

int srv_run_real(const SrvPlan *p, ServeRequest *reqs, int n, Meter *meter, SrvResult *out,
                 TsErr *err)
{
    memset(out, 0, sizeof *out);
    CliModel m;
    int rc = cli_load_model(NULL, NULL, p->model, NULL, 1, &m, err);
    if (rc)
        return rc;
    out->max_seq = m.cfg.max_seq;
    QWeights q;
    memset(&q, 0, sizeof q);
    Pool *pool = NULL;
    EngStep *es = NULL;
    Sched *s = NULL;
    SchedConfig sc;
    MeterMark mark;
    rc = plan_sched(p, m.cfg.max_seq, reqs, n, &sc, err);
    if (!rc)
        rc = qw_build(&q, &m.cfg, &m.w, p->prec, NULL, err);
    if (!rc)
        rc = pool_new(p->threads, &pool, err);
    if (!rc) {
        EngStepConfig ec = {&m.cfg, &m.w, &q, p->kv, pool, &sc, n < 4096 ? n : 4096};
        rc = engstep_new(&ec, &es, err);
    }
    if (!rc)
        rc = sched_new(&sc, &s, err);
    if (!rc && meter)
        rc = meter_mark(meter, &mark, err);
    if (!rc) {
        StepBackend b = engstep_backend(es);
        rc = rt_run(s, &b, reqs, n, 0, &out->log, err);
    }
    if (!rc && meter) {
        MeterEnergy e;
        rc = meter_since(meter, &mark, &e, err);
        out->energy_j = e.joules;
        out->energy_low_j = e.low_j;
        out->energy_high_j = e.high_j;
        snprintf(out->energy_source, sizeof out->energy_source, "%s", meter_source(meter));
    }
    if (!rc)
        rc = rt_summary(&out->log, &out->sum, err);
    sched_free(s);
    engstep_free(es);
    pool_free(pool);
    qw_free(&q);
    cli_unload_model(&m);
    return rc;
}

int srv_run_sim(const SrvPlan *p, ServeRequest *reqs, int n, const CalParams *cal,
                double peak_gflops, double bandwidth_gb_s, SrvResult *out, TsErr *err)
{
    memset(out, 0, sizeof *out);
    EngineConfig cfg;
    if (cfg_preset(p->model, &cfg, err))
        return err->code;
    out->max_seq = cfg.max_seq;
    SchedConfig sc;
    CalStep cs;
    Sched *s = NULL;
    int rc = plan_sched(p, cfg.max_seq, reqs, n, &sc, err);
    if (!rc)
        rc = calstep_init(&cs, &cfg, p->prec, p->kv, cal, peak_gflops, bandwidth_gb_s, err);
    if (!rc)
        rc = sched_new(&sc, &s, err);
    if (!rc) {
        StepBackend b = calstep_backend(&cs);
        rc = rt_run(s, &b, reqs, n, 1, &out->log, err);
    }
    if (!rc)
        rc = rt_summary(&out->log, &out->sum, err);
    sched_free(s);
    return rc;
}

void srv_result_free(SrvResult *r)
{
    if (r)
        rt_log_free(&r->log);
}
