/* traffic: pass two for [traffic] (docs/scenario-format.md, "Serving under load"): arrivals,
 * a trace file's path, the diurnal profile (24 weights inline, or a named row of
 * data/diurnal.csv), per-request lengths as numbers or distributions each request draws from
 * (not Monte Carlo inputs), a shared prefix, agentic sessions, the series interval and the SLO
 * percentile. It reads no trace (sim/serve does) and simulates nothing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/scenario/parse.h"
#include "sim/text/text.h"

/* A length key: a number, or a distribution each request draws from; dflt when unset. */
static int length_of(Ctx *c, const ScnVal *v, const char *key, double dflt, double lo,
                     ScnLength *out)
{
    memset(out, 0, sizeof *out);
    out->value = dflt;
    if (!v->text)
        return 0;
    if (dist_is_call(v->text)) {
        char msg[256];
        if (dist_parse(v->text, 0, &out->dist, msg, sizeof msg))
            return scn_fail_at(c, v->line, "[traffic] %s: %s", key, msg);
        out->dist.lo = lo;
        out->dist.hi = 1e9;
        snprintf(out->dist.label, sizeof out->dist.label, "[traffic] %s", key);
        out->is_dist = 1;
        out->value = dist_median(&out->dist);
        return 0;
    }
    double x;
    if (txt_parse_double(v->text, &x) || !(x >= lo) || x > 1e9)
        return scn_fail_at(c, v->line,
                           "[traffic] %s must be a number >= %g or a distribution such as "
                           "lognormal(1000, 0.5), got '%s'",
                           key, lo, v->text);
    out->value = x;
    return 0;
}

/* 24 comma-separated weights >= 0, not all 0. */
static int parse_hourly(Ctx *c, const char *text, int line, double *w)
{
    const char *p = text;
    int n = 0;
    while (*p && n < 25) {
        char *end = NULL;
        char item[64];
        size_t len = strcspn(p, ",");
        snprintf(item, sizeof item, "%.*s", (int)(len < 63 ? len : 63), p);
        double x;
        if (txt_parse_double(item, &x) || x < 0)
            return scn_fail_at(c, line, "[traffic] hourly: weight %d is not a number >= 0: '%s'",
                               n + 1, txt_trim(item));
        (void)end;
        if (n < 24)
            w[n] = x;
        n++;
        p += len;
        if (*p == ',')
            p++;
    }
    double sum = 0;
    for (int h = 0; h < 24 && h < n; h++)
        sum += w[h];
    if (n != 24 || !(sum > 0))
        return scn_fail_at(c, line,
                           "[traffic] hourly needs 24 weights >= 0, not all 0 (hours 0-23), got "
                           "%d",
                           n);
    return 0;
}

int scn_resolve_traffic(Ctx *c)
{
    Scenario *s = c->s;
    ScnTraffic *t = &s->traffic;
    const RawSection *sec = scn_find_section(c->rp, SEC_TRAFFIC, NULL);
    for (int h = 0; h < 24; h++)
        t->hourly[h] = 1.0;
    if (!sec)
        return 0;
    t->line = sec->line;
    if (scn_apply_section(c, sec, SCN_TRAFFIC_KEYS, TRK_COUNT, t->v, NULL, 0, NULL))
        return c->err->code;
    const ScnVal *v = t->v;
    if (scn_set_default_text(c, &t->v[TRK_ARRIVALS], 0, "poisson"))
        return c->err->code;
    t->arrivals = (int)v[TRK_ARRIVALS].num;
    if (t->arrivals == 1 && !scn_has(&v[TRK_CV]))
        return scn_fail_at(c, v[TRK_ARRIVALS].line, "[traffic] arrivals = gamma needs cv (the "
                                                    "coefficient of variation of the gaps)");
    if ((t->arrivals == 2) != scn_has(&v[TRK_TRACE]))
        return scn_fail_at(c, scn_has(&v[TRK_TRACE]) ? v[TRK_TRACE].line : v[TRK_ARRIVALS].line,
                           "[traffic] trace = FILE.csv goes with arrivals = trace");
    if (t->arrivals == 2) {
        const char *slash = strrchr(s->path, '/');
        char path[4096];
        if (v[TRK_TRACE].text[0] == '/' || !slash)
            snprintf(path, sizeof path, "%s", v[TRK_TRACE].text);
        else
            snprintf(path, sizeof path, "%.*s/%s", (int)(slash - s->path), s->path,
                     v[TRK_TRACE].text);
        if (!(t->trace_path = txt_dup(path)))
            return ts_err_set(c->err, TS_ENOMEM, "out of memory");
    }
    if (scn_has(&v[TRK_HOURLY]) && scn_has(&v[TRK_DIURNAL]))
        return scn_fail_at(c, v[TRK_DIURNAL].line, "[traffic] takes hourly or diurnal, not both");
    if (scn_has(&v[TRK_HOURLY]) && parse_hourly(c, v[TRK_HOURLY].text, v[TRK_HOURLY].line,
                                                t->hourly))
        return c->err->code;
    if (scn_has(&v[TRK_DIURNAL])) {
        const CatTable *d = &c->cats->diurnal;
        int row = cat_find_row(d, v[TRK_DIURNAL].text);
        if (row < 0) {
            const char *near = cat_suggest(d, v[TRK_DIURNAL].text);
            return scn_fail_at(c, v[TRK_DIURNAL].line, "[traffic] diurnal '%s' is not in %s%s%s%s",
                               v[TRK_DIURNAL].text, d->path ? d->path : "data/diurnal.csv",
                               near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
        }
        for (int h = 0; h < 24; h++) {
            char col[8];
            snprintf(col, sizeof col, "h%02d", h);
            if (txt_parse_double(cat_cell(d, row, col), &t->hourly[h]))
                t->hourly[h] = 0;
        }
    }
    t->peak_hour = 0;
    for (int h = 1; h < 24; h++)
        if (t->hourly[h] > t->hourly[t->peak_hour])
            t->peak_hour = h;
    scn_set_default(&t->v[TRK_START_HOUR], 0);
    scn_set_default(&t->v[TRK_PREFIX_TOKENS], 0);
    scn_set_default(&t->v[TRK_PREFIX_SHARE], 0);
    scn_set_default(&t->v[TRK_SLO_PERCENTILE], 0.9);
    scn_set_default(&t->v[TRK_INTERVAL_S], s->sc[SK_HOURS].num * 3600.0 / 24.0);
    if (v[TRK_PREFIX_SHARE].num > 0 && !(v[TRK_PREFIX_TOKENS].num > 0))
        return scn_fail_at(c, v[TRK_PREFIX_SHARE].line,
                           "[traffic] prefix_share needs prefix_tokens (the shared prefix)");
    const ScnVal *w = s->wl;
    double in_dflt = scn_has(&w[WK_INPUT_TOKENS_PER_REQUEST]) ? w[WK_INPUT_TOKENS_PER_REQUEST].num
                                                             : 1.0;
    double out_dflt = scn_has(&w[WK_OUTPUT_TOKENS_PER_REQUEST])
                          ? w[WK_OUTPUT_TOKENS_PER_REQUEST].num
                          : 1.0;
    if (length_of(c, &v[TRK_INPUT_TOKENS], "input_tokens", in_dflt, 1, &t->input) ||
        length_of(c, &v[TRK_OUTPUT_TOKENS], "output_tokens", out_dflt, 1, &t->output) ||
        length_of(c, &v[TRK_TURNS], "turns", 1, 1, &t->turns) ||
        length_of(c, &v[TRK_THINK_S], "think_s", 0, 0, &t->think_s))
        return c->err->code;
    if (t->arrivals != 2 && !scn_has(&w[WK_REQUESTS_PER_DAY]))
        return scn_fail_at(c, sec->line,
                           "[traffic] needs the workload's requests_per_day (the arrival rate)");
    return 0;
}
