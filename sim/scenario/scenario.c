/* scenario: loads a scenario file in two passes: pass one (reader.c) collects raw sections
 * with their line numbers; pass two (values.c, resolve.c, questions.c) checks every key against
 * its section's table, merges catalog rows with definitions and overrides, and resolves each
 * fleet. This file holds the order of pass two, the distribution sites that Monte Carlo and
 * sweeps set, rederivation after a change, and freeing. It computes no costs, writes nothing. */
#include "sim/scenario/scenario.h"

#include <math.h>
#include <string.h>

#include "sim/scenario/parse.h"
#include "sim/text/text.h"

static int resolve(Ctx *c)
{
    Scenario *s = c->s;
    if (c->models_only)
        return scn_resolve_model_file(c);
    if (scn_check_sections(c) || scn_resolve_scenario(c) || scn_resolve_workload(c) ||
        scn_resolve_traffic(c))
        return c->err->code;
    /* Every [model] and [chip] section must be usable even if no fleet names it. */
    for (int i = 0; i < c->rp->n_secs; i++) {
        const RawSection *sec = &c->rp->secs[i];
        int idx;
        if (sec->kind == SEC_MODEL && scn_resolve_model(c, sec->name, sec->line, &idx))
            return c->err->code;
        if (sec->kind == SEC_CHIP || sec->kind == SEC_PRICING) {
            /* Checked here too, so that a section no fleet uses still gets its errors. */
            ScnVal tmp[(int)CK_COUNT > (int)PK_COUNT ? (int)CK_COUNT : (int)PK_COUNT];
            memset(tmp, 0, sizeof tmp);
            int chip = sec->kind == SEC_CHIP;
            int rc = scn_apply_section(c, sec, chip ? SCN_CHIP_KEYS : SCN_PRICING_KEYS,
                                       chip ? CK_COUNT : PK_COUNT, tmp, NULL, 0, NULL);
            scn_vals_free(tmp, chip ? CK_COUNT : PK_COUNT);
            if (rc)
                return rc;
        }
    }
    if (scn_has(&s->wl[WK_MODEL])) {
        int idx;
        if (scn_resolve_model(c, s->wl[WK_MODEL].text, s->wl[WK_MODEL].line, &idx))
            return c->err->code;
    }
    const RawSection *sw = scn_find_section(c->rp, SEC_SWEEP, NULL);
    if (sw) {
        s->sweep.line = sw->line;
        if (scn_apply_section(c, sw, SCN_SWEEP_KEYS, SWK_COUNT, s->sweep.v, NULL, 0, NULL))
            return c->err->code;
        if (!scn_has(&s->sweep.v[SWK_OVER]) || !scn_has(&s->sweep.v[SWK_VALUES]))
            return scn_fail_at(c, sw->line, "[sweep] needs over = KEY and values = ...");
        if (scn_has(&s->sweep.v[SWK_OVER2]) != scn_has(&s->sweep.v[SWK_VALUES2]))
            return scn_fail_at(c, sw->line, "[sweep] needs over2 and values2 together");
    }
    const RawSection *cm = scn_find_section(c->rp, SEC_COMPARE, NULL);
    if (cm) {
        s->compare.line = cm->line;
        if (scn_apply_section(c, cm, SCN_COMPARE_KEYS, CMK_COUNT, s->compare.v, NULL, 0, NULL))
            return c->err->code;
        if (!scn_has(&s->compare.v[CMK_BASELINE]))
            return scn_fail_at(c, cm->line, "[compare] needs baseline = FLEET");
    }
    int n = 0;
    for (int i = 0; i < c->rp->n_secs; i++)
        n += c->rp->secs[i].kind == SEC_FLEET;
    /* [optimize]: one candidate fleet per chip option, the template with that chip, sized */
    const RawSection *op = scn_find_section(c->rp, SEC_OPTIMIZE, NULL);
    const RawSection *tmpl = NULL;
    char chips[OPT_MAX_CHIPS][48];
    int n_chips = 0;
    if (op) {
        ScnOptimize *o = &s->optimize;
        o->line = op->line;
        if (scn_apply_section(c, op, SCN_OPTIMIZE_KEYS, OPK_COUNT, o->v, NULL, 0, NULL))
            return c->err->code;
        if (!scn_has(&o->v[OPK_FLEET]) || !scn_has(&o->v[OPK_CHIPS]))
            return scn_fail_at(c, op->line,
                               "[optimize] needs fleet = TEMPLATE and chips = A, B, ...");
        tmpl = scn_find_section(c->rp, SEC_FLEET, o->v[OPK_FLEET].text);
        if (!tmpl)
            return scn_fail_at(c, o->v[OPK_FLEET].line, "[optimize] fleet: no fleet '%s'",
                               o->v[OPK_FLEET].text);
        char list[256];
        snprintf(list, sizeof list, "%s", o->v[OPK_CHIPS].text);
        char *save = NULL;
        for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            if (n_chips == OPT_MAX_CHIPS)
                return scn_fail_at(c, o->v[OPK_CHIPS].line, "[optimize] chips: at most %d",
                                   OPT_MAX_CHIPS);
            txt_trim(tok);
            if (!txt_valid_name(tok))
                return scn_fail_at(c, o->v[OPK_CHIPS].line, "[optimize] chips: bad chip name '%s'",
                                   tok);
            snprintf(chips[n_chips++], sizeof chips[0], "%s", tok);
        }
        if (!scn_has(&o->v[OPK_OBJECTIVE]) &&
            scn_set_default_text(c, &o->v[OPK_OBJECTIVE], 0, "usd_per_m_output"))
            return c->err->code;
    }
    s->fleets = calloc((size_t)(n + n_chips), sizeof *s->fleets);
    if (!s->fleets)
        return ts_err_set(c->err, TS_ENOMEM, "out of memory");
    for (int i = 0; i < c->rp->n_secs; i++) {
        const RawSection *sec = &c->rp->secs[i];
        if (sec->kind != SEC_FLEET)
            continue;
        ScnFleet *f = &s->fleets[s->n_fleets++];
        if (scn_resolve_fleet(c, sec, f))
            return c->err->code;
    }
    for (int k = 0; k < n_chips; k++) {
        /* the template's keys with chip replaced and no fixed chip count */
        RawSection cand = *tmpl;
        RawKV kv[SCN_MAX_KEYS + 1];
        char name[64];
        snprintf(name, sizeof name, "opt-%.40s", chips[k]);
        cand.name = name;
        cand.n_kv = 0;
        cand.kv = kv;
        for (int i = 0; i < tmpl->n_kv; i++) {
            if (strcmp(tmpl->kv[i].key, "chips") == 0)
                continue;
            kv[cand.n_kv] = tmpl->kv[i];
            if (strcmp(tmpl->kv[i].key, "chip") == 0)
                kv[cand.n_kv].value = chips[k];
            cand.n_kv++;
        }
        ScnFleet *f = &s->fleets[s->n_fleets++];
        f->candidate = 1;
        if (scn_resolve_fleet(c, &cand, f))
            return ts_err_prefix(c->err, "[optimize] candidate %s: ", chips[k]);
    }
    return scn_resolve_questions(c);
}

static int load_text(Scenario *s, const char *path, const char *text, size_t len,
                     const ScnCatalogs *cats, int models_only, TsErr *err);

/* Adds every value of vals that holds a distribution to s->sites. */
static int add_sites(Scenario *s, ScnVal *vals, int n, int *cap, TsErr *err)
{
    for (int i = 0; i < n; i++) {
        if (!vals[i].dist)
            continue;
        if (s->n_sites == *cap) {
            *cap = *cap ? 2 * *cap : 32;
            ScnVal **p = realloc(s->sites, sizeof *p * (size_t)*cap);
            if (!p)
                return ts_err_set(err, TS_ENOMEM, "out of memory");
            s->sites = p;
        }
        s->sites[s->n_sites++] = &vals[i];
    }
    return 0;
}

/* Every value holding a distribution, copies included (a copy of a chip's value into its
 * fleet's power keeps the distribution, so one draw reaches both). */
static int collect_sites(Scenario *s, TsErr *err)
{
    int cap = 0;
    if (s->n_dists == 0)
        return 0;
    if (add_sites(s, s->sc, SK_COUNT, &cap, err) || add_sites(s, s->wl, WK_COUNT, &cap, err))
        return err->code;
    for (int i = 0; i < s->n_models; i++)
        if (add_sites(s, s->models[i].v, MK_COUNT, &cap, err))
            return err->code;
    for (int i = 0; i < s->n_pricings; i++)
        if (add_sites(s, s->pricings[i].v, PK_COUNT, &cap, err))
            return err->code;
    for (int i = 0; i < s->n_fleets; i++) {
        ScnFleet *f = &s->fleets[i];
        if (add_sites(s, f->v, FK_COUNT, &cap, err) ||
            add_sites(s, f->chip_over, CK_COUNT, &cap, err) ||
            add_sites(s, f->chip.v, CK_COUNT, &cap, err))
            return err->code;
    }
    return 0;
}

void scn_apply_draws(Scenario *s, const double *draws)
{
    for (int i = 0; i < s->n_sites; i++)
        s->sites[i]->num = draws[s->sites[i]->dist - 1];
}

void scn_apply_medians(Scenario *s)
{
    for (int i = 0; i < s->n_sites; i++)
        s->sites[i]->num = dist_median(&s->dists[s->sites[i]->dist - 1]);
}

static void range_of(const KeySpec *k, ScnKeyRange *r)
{
    *r = (ScnKeyRange){k->name, k->lo, k->hi, k->lo_open, k->hi_open, k->type == KT_INT};
}

int scn_in_range(const ScnKeyRange *r, double x)
{
    if (!isfinite(x) || x < r->lo || x > r->hi || (r->lo_open && x == r->lo) ||
        (r->hi_open && x == r->hi))
        return 0;
    return !r->integer || x == floor(x);
}

static int numeric(const KeySpec *k)
{
    return k->type == KT_NUM || k->type == KT_INT;
}

int scn_param_sites(Scenario *s, const char *path, int only_fleet, ScnVal **sites, int max,
                    ScnKeyRange *range, char *msg, size_t msg_size)
{
    char buf[128], *key;
    snprintf(buf, sizeof buf, "%s", path);
    txt_trim(buf);
    int n = 0;
    char *dot = strrchr(buf, '.');
    key = dot ? dot + 1 : buf;
    if (dot)
        *dot = '\0';
    char *space = dot ? strchr(buf, ' ') : NULL;
    const char *name = space ? space + 1 : NULL;
    if (space)
        *space = '\0';
    const char *section = dot ? buf : NULL;
    int fk = scn_key_index(SCN_FLEET_KEYS, FK_COUNT, key),
        ck = scn_key_index(SCN_CHIP_KEYS, CK_COUNT, key);
    int wk = scn_key_index(SCN_WORKLOAD_KEYS, WK_COUNT, key),
        mk = scn_key_index(SCN_MODEL_KEYS, MK_COUNT, key);
    if (!section || txt_eq_nocase(section, "fleet")) {
        if (fk >= 0 && !numeric(&SCN_FLEET_KEYS[fk]))
            fk = -1;
        if (fk < 0 && ck < 0 && (section || wk < 0 || !numeric(&SCN_WORKLOAD_KEYS[wk]))) {
            snprintf(msg, msg_size, "'%s' is not a numeric fleet or chip key", key);
            return -1;
        }
        if (fk < 0 && ck < 0) /* unqualified workload key */
            goto workload;
        int found = 0;
        for (int i = 0; i < s->n_fleets; i++) {
            ScnFleet *f = &s->fleets[i];
            if ((only_fleet >= 0 && i != only_fleet) || (name && !txt_eq_nocase(name, f->name)))
                continue;
            found = 1;
            if (n < max)
                sites[n++] = fk >= 0 ? &f->v[fk] : &f->chip.v[ck];
        }
        if (!found) {
            snprintf(msg, msg_size, "no fleet '%s'", name ? name : "");
            return -1;
        }
        range_of(fk >= 0 ? &SCN_FLEET_KEYS[fk] : &SCN_CHIP_KEYS[ck], range);
        return n;
    }
    if (txt_eq_nocase(section, "workload")) {
    workload:
        if (wk < 0 || !numeric(&SCN_WORKLOAD_KEYS[wk])) {
            snprintf(msg, msg_size, "'%s' is not a numeric workload key", key);
            return -1;
        }
        range_of(&SCN_WORKLOAD_KEYS[wk], range);
        sites[n++] = &s->wl[wk];
        return n;
    }
    if (txt_eq_nocase(section, "model")) {
        if (mk < 0 || !numeric(&SCN_MODEL_KEYS[mk])) {
            snprintf(msg, msg_size, "'%s' is not a numeric model key", key);
            return -1;
        }
        for (int i = 0; i < s->n_models; i++) {
            if (name && !txt_eq_nocase(name, s->models[i].name))
                continue;
            if (only_fleet >= 0 && s->fleets[only_fleet].model != i)
                continue;
            if (n < max)
                sites[n++] = &s->models[i].v[mk];
        }
        if (n == 0) {
            snprintf(msg, msg_size, "no model '%s' in this scenario%s", name ? name : "",
                     only_fleet >= 0 ? " for that fleet" : "");
            return -1;
        }
        range_of(&SCN_MODEL_KEYS[mk], range);
        return n;
    }
    snprintf(msg, msg_size,
             "expected KEY, fleet NAME.KEY, model NAME.KEY or workload.KEY, got "
             "'%s'",
             path);
    return -1;
}

int scn_rederive(Scenario *s, TsErr *err)
{
    ScnVal *w = s->wl;
    if (w[WK_REQUESTS_PER_DAY].origin != ORIG_NONE) {
        if (w[WK_PROMPT_TOKENS].origin == ORIG_DERIVED)
            w[WK_PROMPT_TOKENS].num = w[WK_INPUT_TOKENS_PER_REQUEST].num;
        if (w[WK_CONTEXT_TOKENS].origin == ORIG_DERIVED)
            w[WK_CONTEXT_TOKENS].num =
                (w[WK_PROMPT_TOKENS].origin != ORIG_NONE ? w[WK_PROMPT_TOKENS].num : 0) +
                w[WK_OUTPUT_TOKENS_PER_REQUEST].num / 2.0;
    } else if (w[WK_CONTEXT_TOKENS].origin == ORIG_DERIVED) {
        w[WK_CONTEXT_TOKENS].num = w[WK_PROMPT_TOKENS].num;
    }
    for (int i = 0; i < s->n_models; i++) {
        ScnModel *m = &s->models[i];
        if (!m->has_shape)
            continue;
        ModelShape *sh = &m->shape;
        long *dst[] = {&sh->layers,         &sh->d_model,    &sh->heads,        &sh->kv_heads,
                       &sh->head_dim,       &sh->ffn,        &sh->experts,      &sh->experts_active,
                       &sh->shared_experts, &sh->expert_ffn, &sh->dense_layers, &sh->kv_lora_rank,
                       &sh->q_lora_rank,    &sh->rope_dim,   &sh->qk_nope_dim,  &sh->v_head_dim,
                       &sh->vocab};
        for (int k = MK_LAYERS; k <= MK_VOCAB; k++)
            *dst[k - MK_LAYERS] = m->v[k].origin != ORIG_NONE ? (long)m->v[k].num : 0;
        if (m->v[MK_HEAD_DIM].origin == ORIG_DERIVED && sh->heads > 0)
            sh->head_dim = sh->d_model / sh->heads;
        if (m->v[MK_KV_HEADS].origin == ORIG_DERIVED)
            sh->kv_heads = sh->heads;
        TsErr e;
        ts_err_clear(&e);
        if (shape_check(sh, &e))
            return ts_err_set(err, TS_EINPUT, "%s: model '%s': %s", s->path, m->name, e.msg);
        shape_params(sh, &m->params);
        m->params_total = m->params.total;
        m->params_active = m->params.active;
    }
    for (int i = 0; i < s->n_fleets; i++) {
        ScnFleet *f = &s->fleets[i];
        ScnVal *v = f->v, *cv = f->chip.v;
        if (f->energy_source && strcmp(f->energy_source, "catalog:all_in_w") == 0)
            v[FK_POWER_W_PER_CHIP].num = cv[CK_ALL_IN_W].num;
        else if (f->energy_source && strcmp(f->energy_source, "catalog:tdp_w") == 0)
            v[FK_POWER_W_PER_CHIP].num = cv[CK_TDP_W].num;
        if (f->idle_from_chip)
            v[FK_IDLE_W_PER_CHIP].num = cv[CK_IDLE_W].num;
        else if (v[FK_IDLE_W_PER_CHIP].origin == ORIG_DERIVED)
            v[FK_IDLE_W_PER_CHIP].num = 0.3 * v[FK_POWER_W_PER_CHIP].num;
        if (f->mfu_prefill_from_mfu)
            v[FK_MFU_PREFILL].num = v[FK_MFU].num;
    }
    return 0;
}

int scn_load_text(Scenario *s, const char *path, const char *text, size_t len,
                  const ScnCatalogs *cats, TsErr *err)
{
    return load_text(s, path, text, len, cats, 0, err);
}

static int load_text(Scenario *s, const char *path, const char *text, size_t len,
                     const ScnCatalogs *cats, int models_only, TsErr *err)
{
    memset(s, 0, sizeof *s);
    s->cats = cats;
    if (!(s->path = txt_dup(path)))
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    if (len > SCN_MAX_FILE_BYTES) {
        scn_fini(s);
        return ts_err_set(err, TS_EINPUT,
                          "%s:1: file is larger than %d bytes, the most a scenario may have", path,
                          SCN_MAX_FILE_BYTES);
    }
    int line = 1;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\0') {
            scn_fini(s);
            return ts_err_set(err, TS_EINPUT,
                              "%s:%d: a NUL byte: this is a binary file, not a scenario", path,
                              line);
        }
        line += text[i] == '\n';
    }
    s->text = malloc(len + 1);
    if (!s->text) {
        scn_fini(s);
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    }
    memcpy(s->text, text, len);
    s->text[len] = '\0';
    s->text_len = len;

    RawParse rp = {.path = path, .text = s->text, .len = len, .err = err};
    int rc = scn_raw_parse(&rp);
    if (!rc && rp.n_secs == 0)
        rc = ts_err_set(err, TS_EINPUT, "%s:1: empty %s: expected a [%s] section", path,
                        models_only ? "model file" : "scenario",
                        models_only ? "model NAME" : "scenario");
    if (!rc) {
        Ctx c = {.s = s, .rp = &rp, .cats = cats, .err = err, .models_only = models_only};
        rc = resolve(&c);
    }
    scn_raw_free(&rp);
    if (!rc)
        rc = collect_sites(s, err);
    for (int i = 0; !rc && s->n_dists > 0 && i < s->n_fleets; i++)
        if (s->fleets[i].throughput == THR_SIMULATE)
            rc = ts_err_set(err, TS_EINPUT,
                            "%s:%d: fleet '%s': throughput = simulate serves one day of traffic; "
                            "it takes no Monte Carlo distributions (per-request lengths go in "
                            "[traffic]), or use throughput = roofline",
                            s->path, s->fleets[i].line, s->fleets[i].name);
    if (rc)
        scn_fini(s);
    return rc;
}

static int load_file(Scenario *s, const char *path, const ScnCatalogs *cats, int models_only,
                     TsErr *err);

int scn_load(Scenario *s, const char *path, const ScnCatalogs *cats, TsErr *err)
{
    return load_file(s, path, cats, 0, err);
}

int scn_load_models(Scenario *s, const char *path, const ScnCatalogs *cats, TsErr *err)
{
    return load_file(s, path, cats, 1, err);
}

static int load_file(Scenario *s, const char *path, const ScnCatalogs *cats, int models_only,
                     TsErr *err)
{
    memset(s, 0, sizeof *s);
    FILE *f = fopen(path, "rb");
    if (!f)
        return ts_err_set(err, TS_EIO, "cannot open %s: %s", path, strerror(errno));
    char *buf = malloc(SCN_MAX_FILE_BYTES + 1);
    if (!buf) {
        fclose(f);
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    }
    size_t n = fread(buf, 1, SCN_MAX_FILE_BYTES + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return ts_err_set(err, TS_EIO, "cannot read %s (is it a folder?)", path);
    }
    int rc = load_text(s, path, buf, n, cats, models_only, err);
    free(buf);
    return rc;
}

int scn_engine_config(const Scenario *s, const ScnModel *m, EngineConfig *out, TsErr *err)
{
    char where[600];
    if (m->line > 0)
        snprintf(where, sizeof where, "%s:%d", s->path, m->line);
    else
        snprintf(where, sizeof where, "%s:%d", s->cats->models.path,
                 s->cats->models.lines[m->cat_row]);
    if (!m->has_shape)
        return ts_err_set(err, TS_EINPUT,
                          "%s: model '%s' needs a full shape to run (layers, "
                          "d_model, heads, vocab and ffn or experts)",
                          where, m->name);
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", m->name);
    out->shape = m->shape;
    const ScnVal *v = m->v;
    out->max_seq = v[MK_MAX_SEQ].origin != ORIG_NONE ? (int)v[MK_MAX_SEQ].num : 1024;
    out->rope_theta = v[MK_ROPE_THETA].origin != ORIG_NONE ? (float)v[MK_ROPE_THETA].num : 1e4f;
    out->norm_eps = v[MK_NORM_EPS].origin != ORIG_NONE ? (float)v[MK_NORM_EPS].num : 1e-5f;
    out->shared_classifier =
        v[MK_SHARED_CLASSIFIER].origin != ORIG_NONE ? v[MK_SHARED_CLASSIFIER].num != 0 : 1;
    TsErr e;
    ts_err_clear(&e);
    if (cfg_check(out, &e))
        return ts_err_set(err, TS_EINPUT, "%s: %s", where, e.msg);
    return 0;
}

void scn_fini(Scenario *s)
{
    if (!s)
        return;
    free(s->path);
    free(s->text);
    scn_vals_free(s->sc, SK_COUNT);
    scn_vals_free(s->wl, WK_COUNT);
    for (int i = 0; i < s->n_models; i++) {
        free(s->models[i].name);
        scn_vals_free(s->models[i].v, MK_COUNT);
    }
    free(s->models);
    for (int i = 0; i < s->n_fleets; i++) {
        ScnFleet *f = &s->fleets[i];
        free(f->name);
        scn_vals_free(f->v, FK_COUNT);
        scn_vals_free(f->chip_over, CK_COUNT);
        free(f->chip.name);
        scn_vals_free(f->chip.v, CK_COUNT);
    }
    free(s->fleets);
    for (int i = 0; i < s->n_pricings; i++) {
        free(s->pricings[i].name);
        scn_vals_free(s->pricings[i].v, PK_COUNT);
    }
    free(s->pricings);
    for (int i = 0; i < s->n_warnings; i++)
        free(s->warnings[i]);
    free(s->warnings);
    free(s->dists);
    free(s->sites);
    scn_vals_free(s->sweep.v, SWK_COUNT);
    scn_vals_free(s->compare.v, CMK_COUNT);
    scn_vals_free(s->optimize.v, OPK_COUNT);
    scn_vals_free(s->question.v, QK_COUNT);
    scn_vals_free(s->distill.v, DK_COUNT);
    free(s->distill.chip.name);
    scn_vals_free(s->distill.chip.v, CK_COUNT);
    for (int i = 0; i < s->n_tasks; i++) {
        free(s->tasks[i].name);
        scn_vals_free(s->tasks[i].v, TK_COUNT);
    }
    free(s->tasks);
    scn_vals_free(s->traffic.v, TRK_COUNT);
    free(s->traffic.trace_path);
    memset(s, 0, sizeof *s);
}
