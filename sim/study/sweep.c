/* sweep: parses the values, resolves the key paths through scn_param_sites, and prices the
 * grid point by point (set the values, rederive, evaluate every fleet). The rows kept per fleet
 * and point are the metrics people plot against an input (SWEPT below). */
#include "sim/study/sweep.h"
#include "sim/study/serving.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/price/evaluate.h"
#include "sim/text/text.h"

static const MetricId SWEPT[] = {
    MET_USD_PER_M_OUTPUT,  MET_USD_PER_M_INPUT,     MET_USD_PER_M_BLENDED,
    MET_ENERGY_USD_PER_M_OUTPUT, MET_J_PER_OUTPUT_TOKEN, MET_USD_PER_DAY,
    MET_CHIPS,             MET_UTILIZATION_NEEDED,  MET_DECODE_TOK_S_PER_CHIP,
    MET_BATCH,             MET_FACILITY_POWER_KW,   MET_GROSS_MARGIN,
    MET_MAX_BATCH_MEMORY,  MET_ENERGY_KWH_PER_DAY,
};
#define N_SWEPT ((int)(sizeof SWEPT / sizeof SWEPT[0]))

int swp_parse_values(const char *text, double **out, int *n, char *msg, size_t msg_size)
{
    *out = NULL;
    *n = 0;
    const char *dots = strstr(text, "..");
    if (dots) {
        char a[64] = "", b[64] = "", st[64] = "";
        size_t la = (size_t)(dots - text);
        if (la >= sizeof a) {
            snprintf(msg, msg_size, "expected FROM..TO step S, got '%s'", text);
            return -1;
        }
        memcpy(a, text, la);
        const char *rest = dots + 2;
        const char *step = strstr(rest, "step");
        if (!step) {
            snprintf(msg, msg_size, "expected FROM..TO step S (the step is missing), got '%s'",
                     text);
            return -1;
        }
        snprintf(b, sizeof b, "%.*s", (int)(step - rest), rest);
        snprintf(st, sizeof st, "%s", step + 4);
        double from, to, s;
        if (txt_parse_double(a, &from) || txt_parse_double(b, &to) || txt_parse_double(st, &s)) {
            snprintf(msg, msg_size, "expected numbers in FROM..TO step S, got '%s'", text);
            return -1;
        }
        if (!(s > 0) || to < from) {
            snprintf(msg, msg_size, "FROM..TO step S needs FROM <= TO and S > 0, got '%s'", text);
            return -1;
        }
        double count = floor((to - from) / s + 1e-9) + 1;
        if (count > SWP_MAX_POINTS) {
            snprintf(msg, msg_size, "'%s' has %.0f points; at most %d", text, count,
                     SWP_MAX_POINTS);
            return -1;
        }
        *out = malloc(sizeof(double) * (size_t)count);
        if (!*out) {
            snprintf(msg, msg_size, "out of memory");
            return -1;
        }
        for (int i = 0; i < (int)count; i++)
            (*out)[i] = from + i * s;
        *n = (int)count;
        return 0;
    }
    int cap = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", text);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        double v;
        if (txt_parse_double(tok, &v)) {
            snprintf(msg, msg_size, "expected a comma list of numbers or FROM..TO step S, got "
                                    "'%s'", txt_trim(tok));
            free(*out);
            *out = NULL;
            return -1;
        }
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            double *p = realloc(*out, sizeof(double) * (size_t)cap);
            if (!p) {
                free(*out);
                *out = NULL;
                snprintf(msg, msg_size, "out of memory");
                return -1;
            }
            *out = p;
        }
        (*out)[(*n)++] = v;
    }
    if (*n == 0) {
        snprintf(msg, msg_size, "no values");
        return -1;
    }
    return 0;
}

/* Resolves one axis: its key path and values, checked against the key's range. */
static int axis(Scenario *s, SweepKey over, SweepKey values, char *param, size_t param_size,
                ScnVal **sites, int *n_sites, double **xs, int *nx, TsErr *err)
{
    const ScnVal *ov = &s->sweep.v[over], *vv = &s->sweep.v[values];
    char msg[300];
    ScnKeyRange range;
    snprintf(param, param_size, "%s", ov->text);
    int n = scn_param_sites(s, ov->text, -1, sites, SWP_MAX_SITES, &range, msg, sizeof msg);
    if (n < 0)
        return ts_err_set(err, TS_EINPUT, "%s:%d: over = %s: %s", s->path, ov->line, ov->text,
                          msg);
    *n_sites = n;
    if (swp_parse_values(vv->text, xs, nx, msg, sizeof msg))
        return ts_err_set(err, TS_EINPUT, "%s:%d: values: %s", s->path, vv->line, msg);
    for (int i = 0; i < *nx; i++)
        if (!scn_in_range(&range, (*xs)[i]))
            return ts_err_set(err, TS_EINPUT, "%s:%d: values: %g is not a valid %s", s->path,
                              vv->line, (*xs)[i], range.key);
    return 0;
}

int swp_plan(Scenario *s, SwpPlan *p, TsErr *err)
{
    memset(p, 0, sizeof *p);
    p->ny = 1;
    if (axis(s, SWK_OVER, SWK_VALUES, p->param, sizeof p->param, p->sites, &p->n_sites, &p->xs,
             &p->nx, err))
        return err->code;
    if (s->sweep.v[SWK_OVER2].origin != ORIG_NONE &&
        axis(s, SWK_OVER2, SWK_VALUES2, p->param2, sizeof p->param2, p->sites2, &p->n_sites2,
             &p->ys, &p->ny, err))
        return err->code;
    if ((long)p->nx * p->ny > SWP_MAX_POINTS)
        return ts_err_set(err, TS_EINPUT, "%s:%d: the sweep has %ld points; at most %d", s->path,
                          s->sweep.line, (long)p->nx * p->ny, SWP_MAX_POINTS);
    return 0;
}

void swp_plan_fini(SwpPlan *p)
{
    free(p->xs);
    free(p->ys);
    memset(p, 0, sizeof *p);
}

static void set_all(ScnVal **sites, int n, double v)
{
    for (int i = 0; i < n; i++) {
        sites[i]->num = v;
        if (sites[i]->origin == ORIG_NONE)
            sites[i]->origin = ORIG_DERIVED; /* given for this point; restored after */
    }
}

int swp_run(Scenario *s, const SwpPlan *p, SwpResult *r, TsErr *err)
{
    return swp_run_part(s, p, 0, 1, r, err);
}

/* With a simulated fleet, every fleet also gets these serving figures at each point (NULL
 * for fleets that are not simulated): what a load curve (throughput and P90 latencies against
 * the offered load) draws. */
static const char *const SERVED[] = {"output_tok_s", "ttft_p90_ms", "tpot_p90_ms", "replicas"};
#define N_SERVED ((int)(sizeof SERVED / sizeof SERVED[0]))

static int has_simulated(const Scenario *s)
{
    for (int f = 0; f < s->n_fleets; f++)
        if (s->fleets[f].throughput == THR_SIMULATE)
            return 1;
    return 0;
}

static int rows_per_fleet(const Scenario *s)
{
    return N_SWEPT + (has_simulated(s) ? N_SERVED : 0);
}

/* The rows of one point: every fleet's SWEPT metrics (and SERVED figures). */
static long point_rows(const SwpResult *r)
{
    return (long)r->s->n_fleets * r->per_fleet;
}

/* A simulated fleet's serving figure k at one point. */
static double served_value(const ServeFleet *sf, int k)
{
    const ServeSummary *d = &sf->day.sum;
    switch (k) {
    case 0:
        return d->output_tok_s;
    case 1:
        return d->ttft_s.p90 * 1e3;
    case 2:
        return d->tpot_s.p90 * 1e3;
    default:
        return (double)sf->replicas;
    }
}

int swp_run_part(Scenario *s, const SwpPlan *p, int part, int n_parts, SwpResult *r, TsErr *err)
{
    memset(r, 0, sizeof *r);
    r->s = s;
    r->plan = p;
    r->per_fleet = rows_per_fleet(s);
    long cap = (long)p->nx * p->ny * s->n_fleets * r->per_fleet;
    int served = r->per_fleet > N_SWEPT;
    r->rows = malloc(sizeof *r->rows * (size_t)(cap > 0 ? cap : 1));
    ScnVal saved[SWP_MAX_SITES], saved2[SWP_MAX_SITES];
    if (!r->rows)
        return ts_err_set(err, TS_ENOMEM, "out of memory for the sweep");
    for (int i = 0; i < p->n_sites; i++)
        saved[i] = *p->sites[i];
    for (int i = 0; i < p->n_sites2; i++)
        saved2[i] = *p->sites2[i];
    FleetResult fr;
    for (int ix = 0; ix < p->nx; ix++)
        for (int iy = 0; iy < p->ny; iy++) {
            /* another part's point: its rows in place, without values, to be filled in */
            int mine = (ix * p->ny + iy) % n_parts == part;
            if (mine) {
                set_all((ScnVal **)p->sites, p->n_sites, p->xs[ix]);
                if (p->ys)
                    set_all((ScnVal **)p->sites2, p->n_sites2, p->ys[iy]);
            }
            TsErr e;
            int ok = mine && scn_rederive(s, &e) == 0;
            for (int f = 0; f < s->n_fleets; f++) {
                ServeFleet sf;
                memset(&sf, 0, sizeof sf);
                int priced = ok && srv_eval_fleet(s, f, &fr, &sf, &e) == 0;
                for (int m = 0; m < N_SWEPT; m++)
                    r->rows[r->n_rows++] = (SwpRow){
                        f, p->xs[ix], p->ys ? p->ys[iy] : 0, SWEPT[m], NULL,
                        priced ? fr.metrics.value[SWEPT[m]] : 0,
                        priced && fr.metrics.has[SWEPT[m]]};
                for (int k = 0; served && k < N_SERVED; k++) {
                    double v = priced && sf.simulated ? served_value(&sf, k) : 0;
                    r->rows[r->n_rows++] = (SwpRow){f, p->xs[ix], p->ys ? p->ys[iy] : 0,
                                                    MET_USD_PER_M_OUTPUT, SERVED[k], v,
                                                    priced && sf.simulated && isfinite(v)};
                }
                srv_fleet_fini(&sf);
            }
        }
    for (int i = 0; i < p->n_sites; i++)
        *p->sites[i] = saved[i];
    for (int i = 0; i < p->n_sites2; i++)
        *p->sites2[i] = saved2[i];
    TsErr ignored;
    scn_rederive(s, &ignored);
    return 0;
}

long swp_part_doubles(const SwpResult *r, int part, int n_parts)
{
    long n_points = r->plan->nx * r->plan->ny;
    long mine = n_points / n_parts + (part < n_points % n_parts);
    return 2 * mine * point_rows(r);
}

/* The index in r->rows of the j-th row of part's points (points in order). */
static long part_row(const SwpResult *r, int part, int n_parts, long j)
{
    long per = point_rows(r);
    return (part + j / per * n_parts) * per + j % per;
}

void swp_part_pack(const SwpResult *r, int part, int n_parts, double *buf)
{
    long n = swp_part_doubles(r, part, n_parts) / 2;
    for (long j = 0; j < n; j++) {
        const SwpRow *row = &r->rows[part_row(r, part, n_parts, j)];
        buf[2 * j] = row->value;
        buf[2 * j + 1] = row->has_value;
    }
}

void swp_part_unpack(SwpResult *r, int part, int n_parts, const double *buf)
{
    long n = swp_part_doubles(r, part, n_parts) / 2;
    for (long j = 0; j < n; j++) {
        SwpRow *row = &r->rows[part_row(r, part, n_parts, j)];
        row->value = buf[2 * j];
        row->has_value = buf[2 * j + 1] != 0;
    }
}

void swp_result_fini(SwpResult *r)
{
    free(r->rows);
    memset(r, 0, sizeof *r);
}
