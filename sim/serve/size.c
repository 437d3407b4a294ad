/* size: replica sizing over the simulator (sim/serve/sim.h): a check that one request alone can
 * meet the SLOs at all (through the step-time backend), then doubling and bisection on the
 * replica count, each trial a full serve_run. Assumes latency does not rise with replicas. */
#include "sim/serve/sim.h"

#include <math.h>
#include <string.h>

/* One request alone: its prefill in one step and a decode right after it. TS_EINPUT when that
 * already misses an SLO (no replica count can help). */
static int alone_check(const ServeConfig *c, const TrafficSpec *t, TsErr *err)
{
    if (t->arrivals == TRAFFIC_TRACE)
        return 0;
    double in =
        t->input.use_dist ? dist_quantile(&t->input.dist, c->slo_percentile) : t->input.value;
    int32_t prompt = (int32_t)fmax(1, nearbyint(in)) + (t->prefix_share > 0 ? t->prefix_tokens : 0);
    StepItem pre = {.tokens = prompt, .emits = 1}, dec = {.start = prompt, .tokens = 1, .emits = 1};
    StepBatch pb = {.prefill = &pre, .n_prefill = 1, .prefill_tokens = prompt, .tokens = prompt};
    StepBatch db = {.decode = &dec, .n_decode = 1, .decode_keys = prompt + 1.0, .tokens = 1};
    const StepBackend *pbe =
        c->prefill_replicas > 0 && c->prefill_backend.step_s ? &c->prefill_backend : &c->backend;
    double ttft = 0, tpot = 0;
    int rc = pbe->step_s(pbe->ctx, &pb, &ttft, err);
    if (!rc)
        rc = c->backend.step_s(c->backend.ctx, &db, &tpot, err);
    if (rc)
        return rc;
    if (c->ttft_slo_s > 0 && ttft > c->ttft_slo_s)
        return ts_err_set(err, TS_EINPUT,
                          "no replica count meets the TTFT SLO of %g ms: a "
                          "%ld-token prompt alone takes %.4g ms to prefill",
                          c->ttft_slo_s * 1e3, (long)prompt, ttft * 1e3);
    if (c->tpot_slo_s > 0 && tpot > c->tpot_slo_s)
        return ts_err_set(err, TS_EINPUT,
                          "no replica count meets the TPOT SLO of %g ms: one "
                          "sequence alone takes %.4g ms per token",
                          c->tpot_slo_s * 1e3, tpot * 1e3);
    return 0;
}

/* Runs at r replicas; *meets says whether the SLOs hold. */
static int try_replicas(const ServeConfig *c, const TrafficSpec *t, int r, ServeResult *res,
                        int *meets, TsErr *err)
{
    ServeConfig k = *c;
    k.replicas = r;
    int rc = serve_run(&k, t, res, err);
    *meets = !rc && res->sum.meets_slo;
    return rc;
}

int serve_size(const ServeConfig *c, const TrafficSpec *t, int max_replicas, ServeResult *out,
               int *replicas, TsErr *err)
{
    memset(out, 0, sizeof *out);
    *replicas = 0;
    if (max_replicas < 1 || max_replicas > SERVE_MAX_REPLICAS)
        return ts_err_set(err, TS_EINPUT, "max_replicas must be 1 to %d", SERVE_MAX_REPLICAS);
    ServeConfig k = *c;
    k.replicas = max_replicas;
    int rc = serve_check(&k, t, err);
    if (!rc)
        rc = alone_check(c, t, err);
    if (rc)
        return rc;
    /* doubling finds a count that meets the SLOs, bisection the fewest below it */
    int lo = 0, hi = 0, meets = 0;
    ServeResult best = {0}, cur;
    for (int r = 1;; r = r * 2 > max_replicas ? max_replicas : r * 2) {
        rc = try_replicas(c, t, r, &cur, &meets, err);
        if (rc) {
            serve_result_fini(&cur);
            return rc;
        }
        if (meets) {
            hi = r;
            best = cur;
            break;
        }
        lo = r;
        if (r == max_replicas) {
            ts_err_set(err, TS_EINPUT,
                       "no replica count up to %d meets the SLOs (TTFT %g ms, "
                       "TPOT %g ms at P%g): %d replicas reach TTFT %.4g ms, TPOT %.4g ms",
                       max_replicas, c->ttft_slo_s * 1e3, c->tpot_slo_s * 1e3,
                       c->slo_percentile * 100, r, cur.sum.ttft_s.at_slo * 1e3,
                       cur.sum.tpot_s.at_slo * 1e3);
            serve_result_fini(&cur);
            return TS_EINPUT;
        }
        serve_result_fini(&cur);
    }
    while (hi - lo > 1) {
        int mid = lo + (hi - lo) / 2;
        rc = try_replicas(c, t, mid, &cur, &meets, err);
        if (rc) {
            serve_result_fini(&cur);
            serve_result_fini(&best);
            return rc;
        }
        if (meets) {
            serve_result_fini(&best);
            best = cur;
            hi = mid;
        } else {
            serve_result_fini(&cur);
            lo = mid;
        }
    }
    *out = best;
    *replicas = hi;
    return 0;
}
