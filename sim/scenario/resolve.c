/* resolve: pass two for models, the workload, chips, pricing and fleets: checks every section
 * against the others, merges catalog rows with definitions and overrides, applies defaults
 * and derives what the contract derives. */
#include <math.h>
#include <string.h>

#include "sim/scenario/hfconfig.h"
#include "sim/scenario/parse.h"
#include "sim/text/text.h"

/* ---- resolution -------------------------------------------------------------------------- */

const RawSection *scn_find_section(const RawParse *rp, SecKind kind, const char *name)
{
    for (int i = 0; i < rp->n_secs; i++) {
        const RawSection *s = &rp->secs[i];
        if (s->kind != kind)
            continue;
        if (!name && !s->name)
            return s;
        if (name && s->name && txt_eq_nocase(name, s->name))
            return s;
    }
    return NULL;
}

/* Suggests among the names of a section kind and a catalog's rows. */
static const char *suggest(const RawParse *rp, SecKind kind, const CatTable *t, const char *name)
{
    const char *cands[SCN_MAX_SECTIONS + 1];
    int n = 0;
    for (int i = 0; i < rp->n_secs && n < SCN_MAX_SECTIONS; i++)
        if (rp->secs[i].kind == kind && rp->secs[i].name)
            cands[n++] = rp->secs[i].name;
    const char *a = txt_nearest(name, cands, (size_t)n);
    const char *b = t ? cat_suggest(t, name) : NULL;
    if (a && b)
        return txt_edit_distance(name, a) <= txt_edit_distance(name, b) ? a : b;
    return a ? a : b;
}

int scn_check_sections(Ctx *c)
{
    const RawParse *rp = c->rp;
    for (int i = 0; i < rp->n_secs; i++) {
        const RawSection *s = &rp->secs[i];
        for (int j = 0; j < i; j++) {
            const RawSection *o = &rp->secs[j];
            if (o->kind != s->kind)
                continue;
            int same =
                (!o->name && !s->name) || (o->name && s->name && txt_eq_nocase(o->name, s->name));
            if (same)
                return scn_fail_at(c, s->line, "duplicate [%s%s%s] (first at line %d)",
                                   SCN_SEC_NAMES[s->kind], s->name ? " " : "",
                                   s->name ? s->name : "", o->line);
        }
    }
    if (!scn_find_section(rp, SEC_SCENARIO, NULL))
        return scn_fail_at(c, rp->n_secs ? rp->secs[0].line : 1, "missing [scenario] section");
    if (!scn_find_section(rp, SEC_WORKLOAD, NULL))
        return scn_fail_at(c, scn_find_section(rp, SEC_SCENARIO, NULL)->line,
                           "missing [workload] section");
    int fleets = 0;
    for (int i = 0; i < rp->n_secs; i++)
        fleets += rp->secs[i].kind == SEC_FLEET;
    if (fleets == 0)
        return scn_fail_at(c, scn_find_section(rp, SEC_SCENARIO, NULL)->line,
                           "no [fleet NAME] section: a scenario prices at least one fleet");
    return 0;
}

int scn_resolve_scenario(Ctx *c)
{
    const RawSection *sec = scn_find_section(c->rp, SEC_SCENARIO, NULL);
    if (scn_apply_section(c, sec, SCN_SCENARIO_KEYS, SK_COUNT, c->s->sc, NULL, 0, NULL))
        return c->err->code;
    if (!scn_has(&c->s->sc[SK_NAME]))
        return scn_fail_at(c, sec->line, "[scenario] needs name = ...");
    scn_set_default(&c->s->sc[SK_SEED], 1);
    scn_set_default(&c->s->sc[SK_SAMPLES], 10000);
    scn_set_default(&c->s->sc[SK_HOURS], 24);
    return 0;
}

/* Finds or adds the model called name; *out is its index. line: where it is referenced. */
/* The shape field of each model key from MK_LAYERS to MK_VOCAB, in key order: the one map
 * between a [model]'s shape keys and ModelShape (presets, hf_config, resolution). */
#define SHAPE_KEYS (MK_VOCAB - MK_LAYERS + 1)
static void shape_fields(ModelShape *sh, long *out[SHAPE_KEYS])
{
    long *f[SHAPE_KEYS] = {&sh->layers,      &sh->d_model,        &sh->heads,
                           &sh->kv_heads,    &sh->head_dim,       &sh->ffn,
                           &sh->experts,     &sh->experts_active, &sh->shared_experts,
                           &sh->expert_ffn,  &sh->dense_layers,   &sh->kv_lora_rank,
                           &sh->q_lora_rank, &sh->rope_dim,       &sh->qk_nope_dim,
                           &sh->v_head_dim,  &sh->vocab};
    memcpy(out, f, sizeof f);
}

/* Reads the [model]'s hf_config (a Hugging Face config.json; a relative path is from the
 * scenario file's folder) and takes from it every shape key and weight_bytes that the
 * section itself does not give (the file's own keys win; catalog values are replaced). */
static int apply_hf_config(Ctx *c, ScnModel *m)
{
    const ScnVal *hv = &m->v[MK_HF_CONFIG];
    char path[4096];
    const char *slash = strrchr(c->s->path, '/');
    if (hv->text[0] == '/' || !slash)
        snprintf(path, sizeof path, "%s", hv->text);
    else
        snprintf(path, sizeof path, "%.*s/%s", (int)(slash - c->s->path), c->s->path, hv->text);
    HfModel hf;
    TsErr e;
    ts_err_clear(&e);
    if (hf_load_file(&hf, path, &e))
        return ts_err_set(c->err, e.code == TS_ENOMEM ? TS_ENOMEM : TS_EINPUT,
                          "%s:%d: model '%s': hf_config: %s", c->s->path, hv->line, m->name, e.msg);
    long *vals[SHAPE_KEYS];
    shape_fields(&hf.shape, vals);
    for (int k = MK_LAYERS; k <= MK_VOCAB; k++) {
        ScnVal *v = &m->v[k];
        if (v->origin == ORIG_FILE)
            continue;
        long x = *vals[k - MK_LAYERS];
        *v = x > 0 ? (ScnVal){.origin = ORIG_HF, .line = hv->line, .num = (double)x} : (ScnVal){0};
    }
    if (hf.weight_bytes > 0 && m->v[MK_WEIGHT_BYTES].origin != ORIG_FILE)
        m->v[MK_WEIGHT_BYTES] =
            (ScnVal){.origin = ORIG_HF, .line = hv->line, .num = hf.weight_bytes};
    /* published totals from a catalog row describe the catalog's model, not this config */
    for (int k = MK_PARAMS_TOTAL; k <= MK_PARAMS_ACTIVE; k++)
        if (m->v[k].origin == ORIG_CATALOG)
            m->v[k] = (ScnVal){0};
    return 0;
}

int scn_resolve_model(Ctx *c, const char *name, int line, int *out)
{
    Scenario *s = c->s;
    for (int i = 0; i < s->n_models; i++)
        if (txt_eq_nocase(s->models[i].name, name)) {
            *out = i;
            return 0;
        }
    const RawSection *sec = scn_find_section(c->rp, SEC_MODEL, name);
    int row = cat_find_row(&c->cats->models, name);
    EngineConfig preset;
    TsErr ignored;
    int is_preset = !sec && row < 0 && cfg_preset(name, &preset, &ignored) == 0;
    if (!sec && row < 0 && !is_preset) {
        const char *near = suggest(c->rp, SEC_MODEL, &c->cats->models, name);
        if (near)
            return scn_fail_at(c, line, "unknown model '%s'; did you mean '%s'?", name, near);
        return scn_fail_at(c, line,
                           "unknown model '%s': define it in a [model %s] section or add it "
                           "to models.csv",
                           name, name);
    }
    ScnModel *m = realloc(s->models, sizeof *m * (size_t)(s->n_models + 1));
    if (!m)
        return ts_err_set(c->err, TS_ENOMEM, "out of memory");
    s->models = m;
    m = &s->models[s->n_models];
    memset(m, 0, sizeof *m);
    m->cat_row = row;
    m->line = sec ? sec->line : 0;
    m->name = txt_dup(is_preset  ? preset.name
                      : row >= 0 ? cat_cell(&c->cats->models, row, "name")
                                 : sec->name);
    s->n_models++;
    if (!m->name)
        return ts_err_set(c->err, TS_ENOMEM, "out of memory");
    if (is_preset) {
        /* the engine runs presets in fp32: 4 bytes per weight and per KV element */
        long *vals[SHAPE_KEYS]; /* a preset has no MLA: those keys read 0 */
        shape_fields(&preset.shape, vals);
        for (int k = MK_LAYERS; k <= MK_VOCAB; k++) {
            m->v[k].origin = ORIG_PRESET;
            m->v[k].num = (double)*vals[k - MK_LAYERS];
        }
        m->v[MK_WEIGHT_BYTES] = (ScnVal){.origin = ORIG_PRESET, .num = 4};
        m->v[MK_KV_BYTES] = (ScnVal){.origin = ORIG_PRESET, .num = 4};
        m->v[MK_MAX_SEQ] = (ScnVal){.origin = ORIG_PRESET, .num = preset.max_seq};
    }
    if (row >= 0 && scn_apply_catalog(c, &c->cats->models, row, SCN_MODEL_KEYS, MK_COUNT, m->v))
        return c->err->code;
    if (sec && scn_apply_section(c, sec, SCN_MODEL_KEYS, MK_COUNT, m->v, NULL, 0, NULL))
        return c->err->code;
    if (m->v[MK_HF_CONFIG].text && apply_hf_config(c, m))
        return c->err->code;
    scn_set_default(&m->v[MK_WEIGHT_BYTES], 2);
    scn_set_default(&m->v[MK_KV_BYTES], 2);
    scn_set_default(&m->v[MK_MTP_DEPTH], 0);

    /* Where to point errors about this model: its section, else its catalog row. */
    char where[600];
    if (sec)
        snprintf(where, sizeof where, "%s:%d", s->path, sec->line);
    else if (row >= 0)
        snprintf(where, sizeof where, "%s:%d", c->cats->models.path, c->cats->models.lines[row]);
    else
        snprintf(where, sizeof where, "%s:%d", s->path, line);

    static const ModelKey core[] = {MK_LAYERS, MK_D_MODEL, MK_HEADS, MK_VOCAB};
    int n_core = 0;
    for (int i = 0; i < 4; i++)
        n_core += scn_has(&m->v[core[i]]);
    if (n_core > 0 && n_core < 4) {
        for (int i = 0; i < 4; i++)
            if (!scn_has(&m->v[core[i]]))
                return ts_err_set(c->err, TS_EINPUT,
                                  "%s: model '%s': incomplete shape, missing %s (give layers, "
                                  "d_model, heads, vocab and ffn or experts; or only "
                                  "params_active)",
                                  where, m->name, SCN_MODEL_KEYS[core[i]].name);
    }
    if (n_core == 4) {
        ModelShape *sh = &m->shape;
        long *dst[SHAPE_KEYS];
        shape_fields(sh, dst);
        for (int k = MK_LAYERS; k <= MK_VOCAB; k++)
            *dst[k - MK_LAYERS] = scn_has(&m->v[k]) ? (long)m->v[k].num : 0;
        if (sh->kv_lora_rank == 0) {
            if (!scn_has(&m->v[MK_HEAD_DIM])) {
                if (sh->d_model % sh->heads != 0)
                    return ts_err_set(c->err, TS_EINPUT,
                                      "%s: model '%s': d_model %ld is not a multiple of heads "
                                      "%ld; give head_dim",
                                      where, m->name, sh->d_model, sh->heads);
                sh->head_dim = sh->d_model / sh->heads;
                m->v[MK_HEAD_DIM].origin = ORIG_DERIVED;
                m->v[MK_HEAD_DIM].num = (double)sh->head_dim;
            }
            if (!scn_has(&m->v[MK_KV_HEADS])) {
                sh->kv_heads = sh->heads;
                m->v[MK_KV_HEADS].origin = ORIG_DERIVED;
                m->v[MK_KV_HEADS].num = (double)sh->heads;
            }
        }
        TsErr e;
        ts_err_clear(&e);
        if (shape_check(sh, &e))
            return ts_err_set(c->err, TS_EINPUT, "%s: model '%s': %s", where, m->name, e.msg);
        shape_params(sh, &m->params);
        m->has_shape = 1;
        m->params_total = m->params.total;
        m->params_active = m->params.active;
        static const ModelKey counts[] = {MK_PARAMS_TOTAL, MK_PARAMS_ACTIVE};
        double computed[] = {m->params.total, m->params.active};
        for (int i = 0; i < 2; i++) {
            const ScnVal *v = &m->v[counts[i]];
            if (!scn_has(v))
                continue;
            double off = fabs(v->num - computed[i]) / computed[i];
            if (off > 0.02) {
                const char *file = v->origin == ORIG_FILE ? s->path : v->cat->path;
                if (scn_warn_at(c, file, v->line,
                                "model '%s': %s %.4g is %.1f%% away from %.4g computed from the "
                                "shape; the shape wins",
                                m->name, SCN_MODEL_KEYS[counts[i]].name, v->num, off * 100.0,
                                computed[i]))
                    return c->err->code;
            }
        }
    } else {
        m->params_active = scn_has(&m->v[MK_PARAMS_ACTIVE]) ? m->v[MK_PARAMS_ACTIVE].num : 0;
        m->params_total =
            scn_has(&m->v[MK_PARAMS_TOTAL]) ? m->v[MK_PARAMS_TOTAL].num : m->params_active;
    }
    *out = s->n_models - 1;
    return 0;
}

int scn_resolve_workload(Ctx *c)
{
    Scenario *s = c->s;
    const RawSection *sec = scn_find_section(c->rp, SEC_WORKLOAD, NULL);
    s->workload_line = sec->line;
    if (scn_apply_section(c, sec, SCN_WORKLOAD_KEYS, WK_COUNT, s->wl, NULL, 0, NULL))
        return c->err->code;
    ScnVal *w = s->wl;
    int by_req = scn_has(&w[WK_REQUESTS_PER_DAY]);
    int per_req =
        scn_has(&w[WK_INPUT_TOKENS_PER_REQUEST]) || scn_has(&w[WK_OUTPUT_TOKENS_PER_REQUEST]);
    int per_day = scn_has(&w[WK_INPUT_TOKENS_PER_DAY]) || scn_has(&w[WK_OUTPUT_TOKENS_PER_DAY]);
    if (by_req && per_day)
        return scn_fail_at(c, w[WK_REQUESTS_PER_DAY].line,
                           "give tokens per day or requests_per_day with tokens per request, not "
                           "both");
    if (per_req && !by_req)
        return scn_fail_at(c, sec->line,
                           "tokens per request need requests_per_day (or give "
                           "input_tokens_per_day and output_tokens_per_day)");
    if (by_req && !per_req)
        return scn_fail_at(c, w[WK_REQUESTS_PER_DAY].line,
                           "requests_per_day needs input_tokens_per_request and/or "
                           "output_tokens_per_request");
    scn_set_default(&w[WK_CACHE_HIT_RATE], 0);
    double in_t, out_t;
    if (by_req) {
        scn_set_default(&w[WK_INPUT_TOKENS_PER_REQUEST], 0);
        scn_set_default(&w[WK_OUTPUT_TOKENS_PER_REQUEST], 0);
        in_t = w[WK_REQUESTS_PER_DAY].num * w[WK_INPUT_TOKENS_PER_REQUEST].num;
        out_t = w[WK_REQUESTS_PER_DAY].num * w[WK_OUTPUT_TOKENS_PER_REQUEST].num;
        if (!scn_has(&w[WK_PROMPT_TOKENS]) && w[WK_INPUT_TOKENS_PER_REQUEST].num >= 1) {
            w[WK_PROMPT_TOKENS].origin = ORIG_DERIVED;
            w[WK_PROMPT_TOKENS].num = w[WK_INPUT_TOKENS_PER_REQUEST].num;
        }
        if (!scn_has(&w[WK_CONTEXT_TOKENS])) {
            w[WK_CONTEXT_TOKENS].origin = ORIG_DERIVED;
            w[WK_CONTEXT_TOKENS].num =
                (scn_has(&w[WK_PROMPT_TOKENS]) ? w[WK_PROMPT_TOKENS].num : 0) +
                w[WK_OUTPUT_TOKENS_PER_REQUEST].num / 2.0;
        }
    } else {
        scn_set_default(&w[WK_INPUT_TOKENS_PER_DAY], 0);
        scn_set_default(&w[WK_OUTPUT_TOKENS_PER_DAY], 0);
        in_t = w[WK_INPUT_TOKENS_PER_DAY].num;
        out_t = w[WK_OUTPUT_TOKENS_PER_DAY].num;
        if (!scn_has(&w[WK_CONTEXT_TOKENS]) && scn_has(&w[WK_PROMPT_TOKENS])) {
            w[WK_CONTEXT_TOKENS].origin = ORIG_DERIVED;
            w[WK_CONTEXT_TOKENS].num = w[WK_PROMPT_TOKENS].num;
        }
    }
    if (!(in_t * (1.0 - w[WK_CACHE_HIT_RATE].num) > 0.0 || out_t > 0.0))
        return scn_fail_at(c, sec->line,
                           "the workload has no tokens to compute: give output tokens, or input "
                           "tokens that are not all cache hits");
    return 0;
}

/* Per-window token totals of the workload. */
static void workload_tokens(const Scenario *s, double *in_t, double *out_t)
{
    const ScnVal *w = s->wl;
    if (scn_has(&w[WK_REQUESTS_PER_DAY])) {
        *in_t = w[WK_REQUESTS_PER_DAY].num * w[WK_INPUT_TOKENS_PER_REQUEST].num;
        *out_t = w[WK_REQUESTS_PER_DAY].num * w[WK_OUTPUT_TOKENS_PER_REQUEST].num;
    } else {
        *in_t = w[WK_INPUT_TOKENS_PER_DAY].num;
        *out_t = w[WK_OUTPUT_TOKENS_PER_DAY].num;
    }
}

int scn_resolve_chip(Ctx *c, ScnFleet *f)
{
    const ScnVal *cv = &f->v[FK_CHIP];
    const char *name = cv->text;
    const RawSection *sec = scn_find_section(c->rp, SEC_CHIP, name);
    int row = cat_find_row(&c->cats->chips, name);
    f->this_machine = txt_eq_nocase(name, "this-machine");
    if (!sec && row < 0 && !f->this_machine) {
        const char *near = suggest(c->rp, SEC_CHIP, &c->cats->chips, name);
        if (near)
            return scn_fail_at(c, cv->line, "unknown chip '%s'; did you mean '%s'?", name, near);
        return scn_fail_at(c, cv->line,
                           "unknown chip '%s': define it in a [chip %s] section or add it to "
                           "chips.csv",
                           name, name);
    }
    ScnChip *ch = &f->chip;
    ch->cat_row = row;
    ch->line = sec ? sec->line : 0;
    ch->name = txt_dup(row >= 0 ? cat_cell(&c->cats->chips, row, "name")
                       : sec    ? sec->name
                                : "this-machine");
    if (!ch->name)
        return ts_err_set(c->err, TS_ENOMEM, "out of memory");
    if (row >= 0 && scn_apply_catalog(c, &c->cats->chips, row, SCN_CHIP_KEYS, CK_COUNT, ch->v))
        return c->err->code;
    if (sec && scn_apply_section(c, sec, SCN_CHIP_KEYS, CK_COUNT, ch->v, NULL, 0, NULL))
        return c->err->code;
    return scn_vals_overlay(c, ch->v, f->chip_over, CK_COUNT);
}

static int resolve_pricing(Ctx *c, ScnFleet *f)
{
    Scenario *s = c->s;
    const ScnVal *pv = &f->v[FK_PRICING];
    const RawSection *sec;
    int row = -1;
    const char *name;
    if (scn_has(pv)) {
        name = pv->text;
        sec = scn_find_section(c->rp, SEC_PRICING, name);
        if (!sec && (row = cat_find_row(&c->cats->api_prices, name)) < 0) {
            const char *near = suggest(c->rp, SEC_PRICING, &c->cats->api_prices, name);
            if (near)
                return scn_fail_at(c, pv->line, "unknown pricing '%s'; did you mean '%s'?", name,
                                   near);
            return scn_fail_at(c, pv->line,
                               "unknown pricing '%s': define a [pricing %s] section or use an "
                               "api_prices.csv row",
                               name, name);
        }
        if (row >= 0)
            name = cat_cell(&c->cats->api_prices, row, "name");
    } else {
        sec = scn_find_section(c->rp, SEC_PRICING, NULL);
        if (!sec) {
            f->pricing = -1;
            return 0;
        }
        name = "";
    }
    for (int i = 0; i < s->n_pricings; i++)
        if (txt_eq_nocase(s->pricings[i].name, name)) {
            f->pricing = i;
            return 0;
        }
    ScnPricing *p = realloc(s->pricings, sizeof *p * (size_t)(s->n_pricings + 1));
    if (!p)
        return ts_err_set(c->err, TS_ENOMEM, "out of memory");
    s->pricings = p;
    p = &s->pricings[s->n_pricings++];
    memset(p, 0, sizeof *p);
    p->cat_row = row;
    p->line = sec ? sec->line : 0;
    if (!(p->name = txt_dup(name)))
        return ts_err_set(c->err, TS_ENOMEM, "out of memory");
    if (row >= 0 &&
        scn_apply_catalog(c, &c->cats->api_prices, row, SCN_PRICING_KEYS, PK_COUNT, p->v))
        return c->err->code;
    if (sec && scn_apply_section(c, sec, SCN_PRICING_KEYS, PK_COUNT, p->v, NULL, 0, NULL))
        return c->err->code;
    int at = sec ? sec->line : pv->line;
    if (!scn_has(&p->v[PK_USD_PER_M_INPUT]) || !scn_has(&p->v[PK_USD_PER_M_OUTPUT]))
        return scn_fail_at(c, at, "pricing '%s' needs usd_per_m_input and usd_per_m_output",
                           name[0] ? name : "(unnamed)");
    f->pricing = s->n_pricings - 1;
    return 0;
}

int scn_resolve_fleet(Ctx *c, const RawSection *sec, ScnFleet *f)
{
    Scenario *s = c->s;
    f->line = sec->line;
    f->pricing = -1;
    f->elec_row = -1;
    if (!(f->name = txt_dup(sec->name)))
        return ts_err_set(c->err, TS_ENOMEM, "out of memory");
    if (scn_apply_section(c, sec, SCN_FLEET_KEYS, FK_COUNT, f->v, SCN_CHIP_KEYS, CK_COUNT,
                          f->chip_over))
        return c->err->code;
    ScnVal *v = f->v;
    const char *fn = f->name;

    if (!scn_has(&v[FK_CHIP]))
        return scn_fail_at(c, sec->line, "fleet '%s' needs chip = NAME", fn);
    if (scn_resolve_chip(c, f))
        return c->err->code;
    const char *model_name = scn_has(&v[FK_MODEL]) ? v[FK_MODEL].text : s->wl[WK_MODEL].text;
    int model_line = scn_has(&v[FK_MODEL]) ? v[FK_MODEL].line : s->wl[WK_MODEL].line;
    if (!model_name)
        return scn_fail_at(c, s->workload_line,
                           "no model for fleet '%s': set model = NAME in [workload] or the fleet",
                           fn);
    if (scn_resolve_model(c, model_name, model_line, &f->model))
        return c->err->code;
    if (resolve_pricing(c, f))
        return c->err->code;

    scn_set_default(&v[FK_CHIPS_PER_INSTANCE], 1);
    if (scn_set_default_text(c, &v[FK_COST], 0, "own") ||
        scn_set_default_text(c, &v[FK_RENT_INCLUDES_POWER], 1, "true"))
        return c->err->code;
    scn_set_default(&v[FK_SERVER_OVERHEAD], 0);
    scn_set_default(&v[FK_YEARS], 4);
    scn_set_default(&v[FK_INTEREST_RATE], 0.08);
    scn_set_default(&v[FK_HOSTING_USD_PER_KW_MONTH], 0);
    scn_set_default(&v[FK_PUE], 1);
    scn_set_default(&v[FK_UTILIZATION], 1);
    f->rent = v[FK_COST].num == 1;

    if (scn_has(&v[FK_CHIPS]) && fmod(v[FK_CHIPS].num, v[FK_CHIPS_PER_INSTANCE].num) != 0)
        return scn_fail_at(
            c, v[FK_CHIPS].line,
            "fleet '%s': chips = %.0f is not a multiple of chips_per_instance = %.0f", fn,
            v[FK_CHIPS].num, v[FK_CHIPS_PER_INSTANCE].num);

    /* Electricity. */
    if (scn_has(&v[FK_USD_PER_KWH]) && scn_has(&v[FK_ELECTRICITY]))
        return scn_fail_at(c, v[FK_ELECTRICITY].line,
                           "fleet '%s': give usd_per_kwh or electricity, not both", fn);
    if (scn_has(&v[FK_ELECTRICITY])) {
        const CatTable *et = &c->cats->electricity;
        int row = cat_find_row(et, v[FK_ELECTRICITY].text);
        if (row < 0) {
            const char *near = cat_suggest(et, v[FK_ELECTRICITY].text);
            if (near)
                return scn_fail_at(c, v[FK_ELECTRICITY].line,
                                   "unknown electricity '%s'; did you mean '%s'?",
                                   v[FK_ELECTRICITY].text, near);
            return scn_fail_at(c, v[FK_ELECTRICITY].line,
                               "unknown electricity '%s' (see electricity.csv)",
                               v[FK_ELECTRICITY].text);
        }
        static const KeySpec elec = NUM("usd_per_kwh", 0, 100);
        if (scn_apply_catalog(c, et, row, &elec, 1, &v[FK_USD_PER_KWH]))
            return c->err->code;
        f->elec_row = row;
    }
    int power_in_rent = f->rent && v[FK_RENT_INCLUDES_POWER].num != 0;
    if (!scn_has(&v[FK_USD_PER_KWH]) && !power_in_rent)
        return scn_fail_at(
            c, sec->line,
            "fleet '%s' needs an electricity price: usd_per_kwh = N or electricity = "
            "NAME%s",
            fn, f->rent ? " (it rents with rent_includes_power = false)" : "");

    /* Cost mode. */
    ScnVal *cv = f->chip.v;
    if (f->rent && !scn_has(&cv[CK_RENT_USD_PER_CHIP_HOUR]))
        return scn_fail_at(c, scn_has(&v[FK_COST]) ? v[FK_COST].line : sec->line,
                           "fleet '%s': cost = rent needs rent_usd_per_chip_hour (chip '%s' has "
                           "none)",
                           fn, f->chip.name);
    if (!f->rent && !scn_has(&cv[CK_PRICE_USD]))
        return scn_fail_at(c, sec->line,
                           "fleet '%s': cost = own needs price_usd per chip (chip '%s' has none); "
                           "set price_usd or use cost = rent",
                           fn, f->chip.name);

    /* Throughput mode and what it needs. */
    int declared = scn_has(&v[FK_DECODE_TOK_S_PER_CHIP]) || scn_has(&v[FK_PREFILL_TOK_S_PER_CHIP]);
    if (scn_has(&v[FK_THROUGHPUT]))
        f->throughput = (ThroughputMode)(int)v[FK_THROUGHPUT].num;
    else
        f->throughput = declared ? THR_DECLARED : scn_has(&v[FK_MFU]) ? THR_MFU : THR_ROOFLINE;
    int tline = scn_has(&v[FK_THROUGHPUT]) ? v[FK_THROUGHPUT].line : sec->line;
    if (f->this_machine && f->throughput != THR_MEASURED && f->throughput != THR_SIMULATE)
        return scn_fail_at(
            c, tline,
            "fleet '%s': chip = this-machine needs throughput = measured or simulate (its "
            "figures come from a measure run and its calibration)",
            fn);
    /* step_model: calibrated times this machine's engine (a `tokensim calibrate` profile) */
    f->calibrated = scn_has(&v[FK_STEP_MODEL]) ? (int)v[FK_STEP_MODEL].num == 1
                                               : f->this_machine && f->throughput == THR_SIMULATE;
    if (f->calibrated && !f->this_machine)
        return scn_fail_at(c, v[FK_STEP_MODEL].line,
                           "fleet '%s': step_model = calibrated times this machine's engine "
                           "(tokensim calibrate): it needs chip = this-machine",
                           fn);
    if (f->this_machine && f->throughput == THR_SIMULATE && !f->calibrated)
        return scn_fail_at(c, v[FK_STEP_MODEL].line > 0 ? v[FK_STEP_MODEL].line : tline,
                           "fleet '%s': a simulated this-machine fleet needs step_model = "
                           "calibrated (the roofline knows no this-machine chip)",
                           fn);
    if (scn_has(&v[FK_CALIBRATION]) && !f->calibrated)
        return scn_fail_at(c, v[FK_CALIBRATION].line,
                           "fleet '%s': calibration = N needs step_model = calibrated", fn);
    if (f->calibrated && scn_set_default_text(c, &v[FK_STEP_MODEL], 1, "calibrated"))
        return c->err->code;

    /* Power (measured and this-machine fleets get theirs from the measure run, unless
     * declared). */
    if (f->throughput == THR_MEASURED || f->this_machine) {
        if (scn_has(&v[FK_POWER_W_PER_CHIP]))
            f->energy_source = "declared";
    } else {
        /* Power: declared, else the chip's all-in share, else its board power. */
        if (scn_has(&v[FK_POWER_W_PER_CHIP])) {
            f->energy_source = "declared";
        } else if (scn_has(&cv[CK_ALL_IN_W])) {
            f->energy_source = "catalog:all_in_w";
            v[FK_POWER_W_PER_CHIP] = cv[CK_ALL_IN_W];
            v[FK_POWER_W_PER_CHIP].text = NULL;
        } else if (scn_has(&cv[CK_TDP_W])) {
            f->energy_source = "catalog:tdp_w";
            v[FK_POWER_W_PER_CHIP] = cv[CK_TDP_W];
            v[FK_POWER_W_PER_CHIP].text = NULL;
        } else {
            return scn_fail_at(
                c, sec->line,
                "fleet '%s': chip '%s' has no all_in_w or tdp_w; set power_w_per_chip", fn,
                f->chip.name);
        }
        scn_set_default(&v[FK_POWER_LOAD], 1);
        if (!scn_has(&v[FK_IDLE_W_PER_CHIP])) {
            if (scn_has(&cv[CK_IDLE_W])) {
                v[FK_IDLE_W_PER_CHIP] = cv[CK_IDLE_W];
                v[FK_IDLE_W_PER_CHIP].text = NULL;
                f->idle_from_chip = 1;
            } else {
                v[FK_IDLE_W_PER_CHIP].origin = ORIG_DERIVED;
                v[FK_IDLE_W_PER_CHIP].num = 0.3 * v[FK_POWER_W_PER_CHIP].num;
            }
        }
    }
    double in_t, out_t;
    workload_tokens(s, &in_t, &out_t);
    int need_prefill = in_t * (1.0 - s->wl[WK_CACHE_HIT_RATE].num) > 0.0;
    int need_decode = out_t > 0.0;
    const ScnModel *m = &s->models[f->model];
    switch (f->throughput) {
    case THR_DECLARED:
        if (need_decode && !scn_has(&v[FK_DECODE_TOK_S_PER_CHIP]))
            return scn_fail_at(c, tline,
                               "fleet '%s': throughput = declared needs decode_tok_s_per_chip (the "
                               "workload has output tokens)",
                               fn);
        if (need_prefill && !scn_has(&v[FK_PREFILL_TOK_S_PER_CHIP]))
            return scn_fail_at(
                c, tline,
                "fleet '%s': throughput = declared needs prefill_tok_s_per_chip (the "
                "workload has input tokens to prefill)",
                fn);
        break;
    case THR_MFU:
        if (!scn_has(&v[FK_MFU]))
            return scn_fail_at(c, tline, "fleet '%s': throughput = mfu needs mfu = SHARE", fn);
        if (!scn_has(&v[FK_MFU_PREFILL])) {
            v[FK_MFU_PREFILL] = v[FK_MFU]; /* the same value, distribution included */
            v[FK_MFU_PREFILL].origin = ORIG_DEFAULT;
            v[FK_MFU_PREFILL].text = NULL;
            f->mfu_prefill_from_mfu = 1;
        }
        if (!m->has_shape && m->params_active <= 0)
            return scn_fail_at(c, model_line,
                               "model '%s' has neither a shape nor params_active; mfu throughput "
                               "needs one",
                               m->name);
        if (!scn_has(&cv[CK_BF16_TFLOPS]) &&
            !(m->v[MK_WEIGHT_BYTES].num == 1 && scn_has(&cv[CK_FP8_TFLOPS])))
            return scn_fail_at(c, tline, "fleet '%s': chip '%s' has no bf16_tflops; mfu needs it",
                               fn, f->chip.name);
        if (m->has_shape && need_prefill && !scn_has(&s->wl[WK_PROMPT_TOKENS]))
            if (scn_warn_at(c, s->path, s->workload_line,
                            "no prompt_tokens: prefill FLOPs leave out the output head and "
                            "attention"))
                return c->err->code;
        if (m->has_shape && need_decode && !scn_has(&s->wl[WK_CONTEXT_TOKENS]))
            if (scn_warn_at(c, s->path, s->workload_line,
                            "no context_tokens: decode FLOPs leave out attention over the context"))
                return c->err->code;
        break;
    case THR_SIMULATE:
        if (s->traffic.line <= 0)
            return scn_fail_at(c, tline,
                               "fleet '%s': throughput = simulate needs a [traffic] section (the "
                               "requests it serves)",
                               fn);
        scn_set_default(&v[FK_MAX_NUM_SEQS], 256);
        scn_set_default(&v[FK_MAX_BATCHED_TOKENS], 8192);
        scn_set_default(&v[FK_PREFIX_CACHE], 1);
        scn_set_default(&v[FK_CHUNKED_PREFILL], 1);
        scn_set_default(&v[FK_MAX_REPLICAS], 256);
        scn_set_default(&v[FK_PREFILL_REPLICAS], 0);
        if (scn_set_default_text(c, &v[FK_ROUTE], 1, "least_outstanding"))
            return c->err->code;
        if (!scn_has(&v[FK_KV_TRANSFER_GB_S]) && scn_has(&cv[CK_INTERCONNECT_GB_S]))
            v[FK_KV_TRANSFER_GB_S] =
                (ScnVal){.origin = ORIG_DERIVED, .num = cv[CK_INTERCONNECT_GB_S].num};
        if (!scn_has(&v[FK_REPLICAS]) &&
            !(scn_has(&s->wl[WK_TTFT_SLO_MS]) && scn_has(&s->wl[WK_TPOT_SLO_MS])))
            return scn_fail_at(
                c, tline,
                "fleet '%s': throughput = simulate sizes replicas to the "
                "workload's ttft_slo_ms and tpot_slo_ms at the peak hour: give both, "
                "or replicas = N",
                fn);
        if (scn_has(&v[FK_CHIPS]))
            return scn_fail_at(c, v[FK_CHIPS].line,
                               "fleet '%s': throughput = simulate counts chips as replicas x "
                               "chips_per_instance: give replicas instead of chips",
                               fn);
        if (v[FK_PREFILL_REPLICAS].num > 0 && !scn_has(&v[FK_KV_TRANSFER_GB_S]))
            return scn_fail_at(c, tline,
                               "fleet '%s': prefill_replicas needs kv_transfer_gb_s (the chip has "
                               "no interconnect_gb_s)",
                               fn);
        if (f->calibrated)
            break; /* this machine's calibrated steps, bound by msd_bind */
        /* a simulated fleet's instance and step times are the roofline's */
        __attribute__((fallthrough));
    case THR_ROOFLINE: {
        if (!m->has_shape)
            return scn_fail_at(
                c, tline,
                "fleet '%s': throughput = roofline needs model '%s' with a full shape "
                "(layers, d_model, heads, vocab, ffn or experts); or give "
                "decode_tok_s_per_chip (declared) or mfu",
                fn, m->name);
        int fp8 = m->v[MK_WEIGHT_BYTES].num == 1 && scn_has(&cv[CK_FP8_TFLOPS]);
        static const ChipKey needed[] = {CK_HBM_GB, CK_HBM_TB_S};
        if (!fp8 && !scn_has(&cv[CK_BF16_TFLOPS]))
            return scn_fail_at(c, tline,
                               "fleet '%s': chip '%s' has no bf16_tflops; roofline needs it", fn,
                               f->chip.name);
        for (int k = 0; k < 2; k++)
            if (!scn_has(&cv[needed[k]]) || cv[needed[k]].num <= 0)
                return scn_fail_at(c, tline, "fleet '%s': chip '%s' has no %s; roofline needs it",
                                   fn, f->chip.name, SCN_CHIP_KEYS[needed[k]].name);
        if (need_decode && !scn_has(&s->wl[WK_CONTEXT_TOKENS]))
            return scn_fail_at(
                c, s->workload_line,
                "throughput = roofline (fleet '%s') needs context_tokens (the average "
                "KV length while decoding) or requests with tokens per request",
                fn);
        if (need_prefill && !scn_has(&s->wl[WK_PROMPT_TOKENS]))
            return scn_fail_at(c, s->workload_line,
                               "throughput = roofline (fleet '%s') needs prompt_tokens to price "
                               "prefill, or requests with tokens per request",
                               fn);
        if (m->v[MK_MTP_DEPTH].num > 0 && !scn_has(&m->v[MK_MTP_ACCEPTANCE]))
            return scn_fail_at(
                c, m->line > 0 ? m->line : tline,
                "model '%s': mtp_depth > 0 needs mtp_acceptance (the share of drafts "
                "accepted)",
                m->name);
        /* the chip's fitted efficiencies (data/roofline_fit.csv) come before the defaults */
        int fit = cat_find_row(&c->cats->roofline_fit, f->chip.name);
        static const FleetKey fitted[] = {FK_EFF_COMPUTE, FK_EFF_MEMORY, FK_STEP_OVERHEAD_MS,
                                          FK_COLLECTIVE_US};
        for (int k = 0; fit >= 0 && k < 4; k++) {
            const CatTable *t = &c->cats->roofline_fit;
            double x = 0;
            if (scn_has(&v[fitted[k]]) ||
                txt_parse_double(cat_cell(t, fit, SCN_FLEET_KEYS[fitted[k]].name), &x))
                continue;
            v[fitted[k]] = (ScnVal){
                .origin = ORIG_CATALOG, .line = t->lines[fit], .cat = t, .cat_row = fit, .num = x};
        }
        scn_set_default(&v[FK_EFF_COMPUTE], 0.5);
        scn_set_default(&v[FK_EFF_MEMORY], 0.7);
        scn_set_default(&v[FK_EFF_PREFILL], 0.5);
        scn_set_default(&v[FK_HBM_USABLE], 0.9);
        scn_set_default(&v[FK_ACT_BYTES], 2);
        scn_set_default(&v[FK_STEP_OVERHEAD_MS], 0);
        scn_set_default(&v[FK_COLLECTIVE_US], SCN_DEFAULT_COLLECTIVE_US);
        if (scn_set_default_text(c, &v[FK_KV_ALLOCATION], 0, "paged"))
            return c->err->code;
        break;
    }
    case THR_MEASURED:
        if (scn_has(&v[FK_DECODE_TOK_S_PER_CHIP]) || scn_has(&v[FK_PREFILL_TOK_S_PER_CHIP]))
            return scn_fail_at(
                c, tline,
                "fleet '%s': throughput = measured takes its tokens/s from a measure "
                "run; remove decode_tok_s_per_chip and prefill_tok_s_per_chip",
                fn);
        break; /* bound to the database by msd_bind */
    }

    /* Keys that this fleet's modes ignore: say so rather than drop them silently. */
    if (f->rent && scn_has(&v[FK_SERVER_OVERHEAD]) && v[FK_SERVER_OVERHEAD].origin == ORIG_FILE)
        if (scn_warn_at(c, s->path, v[FK_SERVER_OVERHEAD].line,
                        "fleet '%s': server_overhead is ignored with cost = rent", fn))
            return c->err->code;
    if (!f->rent && f->chip_over[CK_RENT_USD_PER_CHIP_HOUR].origin == ORIG_FILE)
        if (scn_warn_at(c, s->path, f->chip_over[CK_RENT_USD_PER_CHIP_HOUR].line,
                        "fleet '%s': rent_usd_per_chip_hour is ignored with cost = own", fn))
            return c->err->code;
    return 0;
}

int scn_resolve_model_file(Ctx *c)
{
    const RawParse *rp = c->rp;
    for (int i = 0; i < rp->n_secs; i++) {
        const RawSection *sec = &rp->secs[i];
        if (sec->kind != SEC_MODEL)
            return scn_fail_at(c, sec->line,
                               "a model file holds only [model NAME] sections, not [%s]",
                               SCN_SEC_NAMES[sec->kind]);
        for (int j = 0; j < i; j++)
            if (txt_eq_nocase(rp->secs[j].name, sec->name))
                return scn_fail_at(c, sec->line, "duplicate [model %s] (first at line %d)",
                                   sec->name, rp->secs[j].line);
        int idx;
        if (scn_resolve_model(c, sec->name, sec->line, &idx))
            return c->err->code;
    }
    return 0;
}
