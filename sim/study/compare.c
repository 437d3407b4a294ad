/* compare: ratios to the baseline, and break-evens. The search scans the range in 64 steps for
 * the first sign change of (fleet's usd_per_m_output − baseline's), then refines it with GSL's
 * Brent solver; points where the fleet cannot be priced are skipped. The varied value is
 * restored afterwards. A simulated fleet is repriced at its simulated load (the simulation
 * does not depend on prices). */
#include "sim/study/compare.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_roots.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/text/text.h"

#define CMP_SCAN 64
#define CMP_MAX_SITES 16

typedef struct {
    Scenario *s;
    const ServeFleet *serve; /* the fleet's simulation, or NULL: priced by eval_fleet */
    int fleet;
    ScnVal **sites;
    int n_sites;
    double target;
} Goal;

/* usd_per_m_output of g->fleet with its key at x, minus the baseline's; NAN when unpriced. */
static double gap(double x, void *ctx)
{
    Goal *g = ctx;
    for (int i = 0; i < g->n_sites; i++)
        g->sites[i]->num = x;
    TsErr e;
    FleetResult fr;
    int rc = scn_rederive(g->s, &e);
    if (!rc)
        rc = g->serve ? srv_reprice(g->s, g->fleet, g->serve, &fr, &e)
                      : eval_fleet(g->s, &g->s->fleets[g->fleet], &fr, &e);
    if (rc || !fr.metrics.has[MET_USD_PER_M_OUTPUT])
        return NAN;
    return fr.metrics.value[MET_USD_PER_M_OUTPUT] - g->target;
}

static double solve(Goal *g, double lo, double hi)
{
    double prev_x = NAN, prev_y = NAN;
    for (int i = 0; i <= CMP_SCAN; i++) {
        double x = lo + (hi - lo) * i / CMP_SCAN, y = gap(x, g);
        if (isnan(y))
            continue;
        if (y == 0)
            return x;
        if (!isnan(prev_y) && (prev_y < 0) != (y < 0)) {
            gsl_function F = {gap, g};
            gsl_root_fsolver *sol = gsl_root_fsolver_alloc(gsl_root_fsolver_brent);
            if (!sol)
                return NAN;
            double root = NAN;
            if (gsl_root_fsolver_set(sol, &F, prev_x, x) == GSL_SUCCESS) {
                for (int it = 0; it < 200; it++) {
                    if (gsl_root_fsolver_iterate(sol) != GSL_SUCCESS)
                        break;
                    root = gsl_root_fsolver_root(sol);
                    double a = gsl_root_fsolver_x_lower(sol), b = gsl_root_fsolver_x_upper(sol);
                    if (gsl_root_test_interval(a, b, 1e-15, 1e-12) == GSL_SUCCESS)
                        break;
                }
            }
            gsl_root_fsolver_free(sol);
            return root;
        }
        prev_x = x;
        prev_y = y;
    }
    return NAN;
}

int cmp_run(Scenario *s, const FleetResult *res, const ServeFleet *serve, CmpResult *out,
            TsErr *err)
{
    memset(out, 0, sizeof *out);
    out->s = s;
    out->res = res;
    const ScnVal *bv = &s->compare.v[CMK_BASELINE];
    out->baseline = -1;
    for (int i = 0; i < s->n_fleets; i++)
        if (txt_eq_nocase(s->fleets[i].name, bv->text))
            out->baseline = i;
    if (out->baseline < 0)
        return ts_err_set(err, TS_EINPUT, "%s:%d: baseline: no fleet '%s'", s->path, bv->line,
                          bv->text);
    const ScnVal *kv = &s->compare.v[CMK_BREAKEVEN], *rv = &s->compare.v[CMK_BREAKEVEN_RANGE];
    double rlo = NAN, rhi = NAN;
    if (rv->origin != ORIG_NONE) {
        char buf[128];
        snprintf(buf, sizeof buf, "%s", rv->text);
        char *dots = strstr(buf, "..");
        if (!dots || (*dots = '\0', txt_parse_double(buf, &rlo)) ||
            txt_parse_double(dots + 2, &rhi) || !(rlo < rhi))
            return ts_err_set(err, TS_EINPUT, "%s:%d: breakeven_range: expected LOW..HIGH with "
                                              "LOW < HIGH, got '%s'", s->path, rv->line, rv->text);
    }
    if (kv->origin == ORIG_NONE)
        return 0;
    char list[512];
    snprintf(list, sizeof list, "%s", kv->text);
    char *save = NULL;
    for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (out->n_keys == CMP_MAX_KEYS)
            return ts_err_set(err, TS_EINPUT, "%s:%d: breakeven: at most %d keys", s->path,
                              kv->line, CMP_MAX_KEYS);
        txt_trim(tok);
        snprintf(out->keys[out->n_keys], sizeof out->keys[0], "%s", tok);
        const char *last = strrchr(tok, '.');
        snprintf(out->metric[out->n_keys], sizeof out->metric[0], "breakeven_%s",
                 last ? last + 1 : tok);
        out->n_keys++;
    }
    size_t cells = (size_t)out->n_keys * (size_t)s->n_fleets;
    out->breakeven = malloc(sizeof(double) * (cells + 1));
    out->lo = malloc(sizeof(double) * (cells + 1));
    out->hi = malloc(sizeof(double) * (cells + 1));
    if (!out->breakeven || !out->lo || !out->hi)
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    double target = res[out->baseline].metrics.has[MET_USD_PER_M_OUTPUT]
                        ? res[out->baseline].metrics.value[MET_USD_PER_M_OUTPUT]
                        : NAN;
    for (int k = 0; k < out->n_keys; k++)
        for (int f = 0; f < s->n_fleets; f++) {
            size_t cell = (size_t)k * (size_t)s->n_fleets + (size_t)f;
            out->breakeven[cell] = out->lo[cell] = out->hi[cell] = NAN;
            ScnVal *sites[CMP_MAX_SITES];
            ScnKeyRange range;
            char msg[300];
            int n = scn_param_sites(s, out->keys[k], f, sites, CMP_MAX_SITES, &range, msg,
                                    sizeof msg);
            if (n < 0)
                return ts_err_set(err, TS_EINPUT, "%s:%d: breakeven = %s: %s", s->path,
                                  kv->line, out->keys[k], msg);
            if (f == out->baseline || isnan(target) || n == 0)
                continue;
            const ServeFleet *sf = serve && serve[f].simulated ? &serve[f] : NULL;
            if (s->fleets[f].throughput == THR_SIMULATE &&
                (!sf || !srv_price_only_key(out->keys[k])))
                continue; /* what it serves would change: unknown without simulating again */
            ScnVal saved[CMP_MAX_SITES];
            for (int i = 0; i < n; i++)
                saved[i] = *sites[i];
            double now = sites[0]->num;
            double lo = isnan(rlo) ? 0 : rlo, hi = isnan(rhi) ? (now > 0 ? 10 * now : 1) : rhi;
            /* keep the search inside the key's valid values */
            if (lo < range.lo || (range.lo_open && lo == range.lo))
                lo = range.lo_open ? nextafter(range.lo, HUGE_VAL) : range.lo;
            if (hi > range.hi)
                hi = range.hi;
            out->lo[cell] = lo;
            out->hi[cell] = hi;
            for (int i = 0; i < n; i++)
                if (sites[i]->origin == ORIG_NONE)
                    sites[i]->origin = ORIG_DERIVED;
            Goal g = {s, sf, f, sites, n, target};
            if (lo < hi)
                out->breakeven[cell] = solve(&g, lo, hi);
            for (int i = 0; i < n; i++)
                *sites[i] = saved[i];
            TsErr ignored;
            scn_rederive(s, &ignored);
        }
    return 0;
}

void cmp_fini(CmpResult *r)
{
    free(r->breakeven);
    free(r->lo);
    free(r->hi);
    memset(r, 0, sizeof *r);
}
