/* values: one value against its KeySpec (numbers, ranges, enums, distributions), sections
 * and catalog rows applied to value arrays with their origin, and loading the catalogs. */
#include <ctype.h>
#include <stdarg.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "sim/scenario/parse.h"
#include "sim/text/text.h"

/* "FILE:LINE: " + message; returns TS_EINPUT. */
int scn_fail_at(Ctx *c, int line, const char *fmt, ...)
{
    char msg[TS_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ts_err_set(c->err, TS_EINPUT, "%s:%d: %s", c->s->path, line, msg);
}

int scn_warn_at(Ctx *c, const char *file, int line, const char *fmt, ...)
{
    char msg[TS_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char full[TS_ERR_MSG_MAX + 300];
    snprintf(full, sizeof full, "%s:%d: %s", file, line, msg);
    char **w = realloc(c->s->warnings, sizeof *w * (size_t)(c->s->n_warnings + 1));
    if (!w)
        return ts_err_set(c->err, TS_ENOMEM, "out of memory");
    c->s->warnings = w;
    if (!(w[c->s->n_warnings] = txt_dup(full)))
        return ts_err_set(c->err, TS_ENOMEM, "out of memory");
    c->s->n_warnings++;
    return 0;
}

static void describe_range(const KeySpec *k, char *buf, size_t size)
{
    int int_key = k->type == KT_INT;
    if (k->hi >= 1e6 && !int_key) {
        snprintf(buf, size, "%s %g", k->lo_open ? ">" : ">=", k->lo);
        return;
    }
    snprintf(buf, size, "in %c%.15g, %.15g%c", k->lo_open ? '(' : '[', k->lo, k->hi,
             k->hi_open ? ')' : ']');
}

static int is_distribution(const char *v)
{
    static const char *const dists[] = {"uniform", "normal", "lognormal", "triangular", "choice"};
    size_t n = 0;
    while (isalpha((unsigned char)v[n]))
        n++;
    const char *p = v + n;
    while (*p == ' ')
        p++;
    if (n == 0 || *p != '(')
        return 0;
    for (unsigned i = 0; i < sizeof dists / sizeof dists[0]; i++)
        if (strlen(dists[i]) == n && strncasecmp(v, dists[i], n) == 0)
            return 1;
    return 0;
}

/* Parses one value for key k. where = "FILE:LINE" of the value. Returns 0, or fills err. */
static int parse_value(Ctx *c, const KeySpec *k, const char *value, const char *where, ScnVal *out)
{
    char range[96];
    switch (k->type) {
    case KT_TEXT:
        if (value[0] == '\0')
            return ts_err_set(c->err, TS_EINPUT, "%s: %s is empty", where, k->name);
        free(out->text);
        if (!(out->text = txt_dup(value)))
            return ts_err_set(c->err, TS_ENOMEM, "out of memory");
        return 0;
    case KT_BOOL: {
        static const char *const yes[] = {"true", "yes", "on", "1"};
        static const char *const no[] = {"false", "no", "off", "0"};
        for (int i = 0; i < 4; i++) {
            if (txt_eq_nocase(value, yes[i]) || txt_eq_nocase(value, no[i])) {
                out->num = txt_eq_nocase(value, yes[i]);
                free(out->text);
                if (!(out->text = txt_dup(out->num ? "true" : "false")))
                    return ts_err_set(c->err, TS_ENOMEM, "out of memory");
                return 0;
            }
        }
        return ts_err_set(c->err, TS_EINPUT, "%s: %s must be true or false, got '%s'", where,
                          k->name, value);
    }
    case KT_ENUM: {
        char buf[128];
        snprintf(buf, sizeof buf, "%s", k->choices);
        int idx = 0;
        for (char *tok = strtok(buf, "|"); tok; tok = strtok(NULL, "|"), idx++)
            if (txt_eq_nocase(value, tok)) {
                out->num = idx;
                free(out->text);
                if (!(out->text = txt_dup(tok)))
                    return ts_err_set(c->err, TS_ENOMEM, "out of memory");
                return 0;
            }
        char shown[128];
        snprintf(shown, sizeof shown, "%s", k->choices);
        for (char *p = shown; *p; p++)
            if (*p == '|')
                *p = ',';
        return ts_err_set(c->err, TS_EINPUT, "%s: %s must be one of %s, got '%s'", where, k->name,
                          shown, value);
    }
    case KT_NUM:
    case KT_INT: {
        if (is_distribution(value)) {
            if (k == &SCN_SCENARIO_KEYS[SK_SEED] || k == &SCN_SCENARIO_KEYS[SK_SAMPLES])
                return ts_err_set(c->err, TS_EINPUT,
                                  "%s: %s takes one number, not a "
                                  "distribution",
                                  where, k->name);
            Dist d;
            char msg[300];
            if (dist_parse(value, k->type == KT_INT, &d, msg, sizeof msg))
                return ts_err_set(c->err, TS_EINPUT, "%s: %s: %s", where, k->name, msg);
            d.lo = k->lo;
            d.hi = k->hi;
            d.lo_open = k->lo_open;
            d.hi_open = k->hi_open;
            snprintf(d.label, sizeof d.label, "%.60s %.30s", c->label, k->name);
            double median = dist_median(&d);
            int clamped;
            if (dist_clamp(&d, median, &clamped), clamped) {
                describe_range(k, range, sizeof range);
                return ts_err_set(c->err, TS_EINPUT,
                                  "%s: %s: the median %g of '%s' is outside the valid range (%s)",
                                  where, k->name, median, value, range);
            }
            Dist *grown = realloc(c->s->dists, sizeof *grown * (size_t)(c->s->n_dists + 1));
            if (!grown)
                return ts_err_set(c->err, TS_ENOMEM, "out of memory");
            c->s->dists = grown;
            c->s->dists[c->s->n_dists++] = d;
            out->num = median;
            out->dist = c->s->n_dists;
            return 0;
        }
        double v;
        if (txt_parse_double(value, &v) != 0)
            return ts_err_set(c->err, TS_EINPUT, "%s: %s: expected a number, got '%s'", where,
                              k->name, value);
        if (k->type == KT_INT && v != floor(v))
            return ts_err_set(c->err, TS_EINPUT, "%s: %s: expected a whole number, got '%s'", where,
                              k->name, value);
        int bad =
            v < k->lo || v > k->hi || (k->lo_open && v == k->lo) || (k->hi_open && v == k->hi);
        if (bad) {
            describe_range(k, range, sizeof range);
            return ts_err_set(c->err, TS_EINPUT, "%s: %s must be %s, got %s", where, k->name, range,
                              value);
        }
        out->num = v;
        return 0;
    }
    }
    return ts_err_set(c->err, TS_EINTERNAL, "unknown key type");
}

int scn_key_index(const KeySpec *specs, int n, const char *key)
{
    for (int i = 0; i < n; i++)
        if (strcmp(specs[i].name, key) == 0)
            return i;
    return -1;
}

/* Applies a raw section's keys to vals (specs), or to extra_vals (extra specs) for keys that
 * are not in specs. Unknown keys fail with a suggestion. */
int scn_apply_section(Ctx *c, const RawSection *sec, const KeySpec *specs, int n, ScnVal *vals,
                      const KeySpec *extra, int n_extra, ScnVal *extra_vals)
{
    for (int i = 0; i < sec->n_kv; i++) {
        const RawKV *kv = &sec->kv[i];
        const KeySpec *spec;
        ScnVal *dst;
        int idx = scn_key_index(specs, n, kv->key);
        if (idx >= 0) {
            spec = &specs[idx];
            dst = &vals[idx];
        } else if (extra && (idx = scn_key_index(extra, n_extra, kv->key)) >= 0) {
            spec = &extra[idx];
            dst = &extra_vals[idx];
        } else {
            const char *names[FK_COUNT + CK_COUNT + 8];
            int m = 0;
            for (int j = 0; j < n; j++)
                names[m++] = specs[j].name;
            for (int j = 0; j < n_extra; j++)
                names[m++] = extra[j].name;
            const char *near = txt_nearest(kv->key, names, (size_t)m);
            char title[80];
            snprintf(title, sizeof title, "%s%s%s", SCN_SEC_NAMES[sec->kind], sec->name ? " " : "",
                     sec->name ? sec->name : "");
            if (near)
                return scn_fail_at(c, kv->line, "unknown key '%s' in [%s]; did you mean '%s'?",
                                   kv->key, title, near);
            return scn_fail_at(c, kv->line, "unknown key '%s' in [%s]", kv->key, title);
        }
        char where[600];
        snprintf(where, sizeof where, "%s:%d", c->s->path, kv->line);
        snprintf(c->label, sizeof c->label, "[%s%s%.48s]", SCN_SEC_NAMES[sec->kind],
                 sec->name ? " " : "", sec->name ? sec->name : "");
        dst->dist = 0;
        if (parse_value(c, spec, kv->value, where, dst))
            return c->err->code;
        dst->origin = ORIG_FILE;
        dst->line = kv->line;
        dst->cat = NULL;
    }
    return 0;
}

/* Fills vals from row `row` of a catalog table, for the keys of specs present as columns. */
int scn_apply_catalog(Ctx *c, const CatTable *t, int row, const KeySpec *specs, int n, ScnVal *vals)
{
    for (int i = 0; i < n; i++) {
        const char *cell = cat_cell(t, row, specs[i].name);
        if (!cell[0])
            continue;
        char where[600];
        snprintf(where, sizeof where, "%s:%d", t->path, t->lines[row]);
        if (parse_value(c, &specs[i], cell, where, &vals[i]))
            return c->err->code;
        vals[i].origin = ORIG_CATALOG;
        vals[i].line = t->lines[row];
        vals[i].cat = t;
        vals[i].cat_row = row;
    }
    return 0;
}

void scn_set_default(ScnVal *v, double num)
{
    if (v->origin != ORIG_NONE)
        return;
    v->origin = ORIG_DEFAULT;
    v->num = num;
}

/* A default for a text-valued key (an enum or bool): its number and its canonical text. */
int scn_set_default_text(Ctx *c, ScnVal *v, double num, const char *text)
{
    if (v->origin != ORIG_NONE)
        return 0;
    scn_set_default(v, num);
    if (!(v->text = txt_dup(text)))
        return ts_err_set(c->err, TS_ENOMEM, "out of memory");
    return 0;
}

int scn_has(const ScnVal *v)
{
    return v->origin != ORIG_NONE;
}

void scn_vals_free(ScnVal *vals, int n)
{
    for (int i = 0; i < n; i++) {
        free(vals[i].text);
        vals[i].text = NULL;
    }
}

/* Copies b's values over a's where b has them (text is duplicated). */
int scn_vals_overlay(Ctx *c, ScnVal *a, const ScnVal *b, int n)
{
    for (int i = 0; i < n; i++) {
        if (!scn_has(&b[i]))
            continue;
        free(a[i].text);
        a[i] = b[i];
        a[i].text = NULL;
        if (b[i].text && !(a[i].text = txt_dup(b[i].text)))
            return ts_err_set(c->err, TS_ENOMEM, "out of memory");
    }
    return 0;
}

const char *scn_origin(const ScnVal *v, char *buf, int size)
{
    switch (v->origin) {
    case ORIG_FILE:
        snprintf(buf, (size_t)size, "line %d", v->line);
        break;
    case ORIG_CATALOG: {
        const char *p = v->cat ? strrchr(v->cat->path, '/') : NULL;
        snprintf(buf, (size_t)size, "%s:%d", p ? p + 1 : (v->cat ? v->cat->path : "catalog"),
                 v->line);
        break;
    }
    case ORIG_DEFAULT:
        snprintf(buf, (size_t)size, "default");
        break;
    case ORIG_DERIVED:
        snprintf(buf, (size_t)size, "derived");
        break;
    case ORIG_PRESET:
        snprintf(buf, (size_t)size, "engine preset");
        break;
    case ORIG_HF:
        snprintf(buf, (size_t)size, "hf_config, line %d", v->line);
        break;
    case ORIG_MEASURED:
        snprintf(buf, (size_t)size, "measure run %d", v->line);
        break;
    case ORIG_CALIBRATED:
        snprintf(buf, (size_t)size, "calibration %d", v->line);
        break;
    default:
        snprintf(buf, (size_t)size, "-");
    }
    return buf;
}

/* ---- catalogs ---------------------------------------------------------------------------- */

static const char *const CAT_TEXT_COLS[] = {"name", "source", "as_of", "confidence", "notes"};

static int load_one(CatTable *t, const char *dir, const char *file, const KeySpec *specs, int n,
                    const char *const *more, int n_more, TsErr *err)
{
    const char *cols[64];
    const char *nums[64];
    int nc = 0, nn = 0;
    for (int i = 0; i < 5; i++)
        cols[nc++] = CAT_TEXT_COLS[i];
    for (int i = 0; i < n_more; i++)
        cols[nc++] = more[i];
    for (int i = 0; i < n; i++) {
        cols[nc++] = specs[i].name;
        if (specs[i].type == KT_NUM || specs[i].type == KT_INT)
            nums[nn++] = specs[i].name;
    }
    CatSchema sc = {cols, nc, nums, nn};
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    return cat_table_load(t, path, &sc, err);
}

int scn_catalogs_load(ScnCatalogs *c, const char *dir, TsErr *err)
{
    memset(c, 0, sizeof *c);
    static const char *const region[] = {"region"};
    static const char *const provider[] = {"provider"};
    static const KeySpec elec[] = {NUM("usd_per_kwh", 0, 100)};
    int rc;
    if ((rc = load_one(&c->chips, dir, "chips.csv", SCN_CHIP_KEYS, CK_COUNT, NULL, 0, err)) ||
        (rc = load_one(&c->models, dir, "models.csv", SCN_MODEL_KEYS, MK_COUNT, NULL, 0, err)) ||
        (rc = load_one(&c->electricity, dir, "electricity.csv", elec, 1, region, 1, err)) ||
        (rc = load_one(&c->api_prices, dir, "api_prices.csv", SCN_PRICING_KEYS, PK_COUNT, provider,
                       1, err))) {
        scn_catalogs_fini(c);
        return rc;
    }
    /* optional: roofline defaults fitted on published measurements (validate --published) */
    static const KeySpec fit[] = {SHARE_POS("eff_compute"), SHARE_POS("eff_memory"),
                                  NUM("step_overhead_ms", 0, 1e6), NUM("collective_us", 0, 1e6)};
    static const char *const family[] = {"family"};
    char fit_path[4096];
    snprintf(fit_path, sizeof fit_path, "%s/roofline_fit.csv", dir);
    if (access(fit_path, F_OK) == 0 &&
        (rc = load_one(&c->roofline_fit, dir, "roofline_fit.csv", fit, 4, family, 1, err))) {
        scn_catalogs_fini(c);
        return rc;
    }
    /* optional: named 24-hour traffic profiles for [traffic] diurnal = NAME */
    static const KeySpec hours[24] = {
        NUM("h00", 0, 1e9), NUM("h01", 0, 1e9), NUM("h02", 0, 1e9), NUM("h03", 0, 1e9),
        NUM("h04", 0, 1e9), NUM("h05", 0, 1e9), NUM("h06", 0, 1e9), NUM("h07", 0, 1e9),
        NUM("h08", 0, 1e9), NUM("h09", 0, 1e9), NUM("h10", 0, 1e9), NUM("h11", 0, 1e9),
        NUM("h12", 0, 1e9), NUM("h13", 0, 1e9), NUM("h14", 0, 1e9), NUM("h15", 0, 1e9),
        NUM("h16", 0, 1e9), NUM("h17", 0, 1e9), NUM("h18", 0, 1e9), NUM("h19", 0, 1e9),
        NUM("h20", 0, 1e9), NUM("h21", 0, 1e9), NUM("h22", 0, 1e9), NUM("h23", 0, 1e9)};
    snprintf(fit_path, sizeof fit_path, "%s/diurnal.csv", dir);
    if (access(fit_path, F_OK) == 0 &&
        (rc = load_one(&c->diurnal, dir, "diurnal.csv", hours, 24, NULL, 0, err))) {
        scn_catalogs_fini(c);
        return rc;
    }
    if (!(c->dir = txt_dup(dir))) {
        scn_catalogs_fini(c);
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    }
    return 0;
}

void scn_catalogs_fini(ScnCatalogs *c)
{
    if (!c)
        return;
    cat_table_fini(&c->chips);
    cat_table_fini(&c->models);
    cat_table_fini(&c->electricity);
    cat_table_fini(&c->api_prices);
    cat_table_fini(&c->roofline_fit);
    cat_table_fini(&c->diurnal);
    free(c->dir);
    c->dir = NULL;
}
