/* questions: pass two for [question], [distill] and [task NAME] (docs/scenario-format.md):
 * names resolved to fleets and tasks, kinds checked against what each needs. */
#include <string.h>

#include "sim/scenario/parse.h"
#include "sim/text/text.h"

/* ---- [question], [distill], [task NAME] (docs/scenario-format.md) ----------------------- */

/* The index of the fleet called name, or a FILE:LINE error naming the closest one. */
static int find_fleet(Ctx *c, const char *name, int line, const char *what, int *out)
{
    Scenario *s = c->s;
    const char *names[SCN_MAX_SECTIONS];
    int n = 0;
    for (int i = 0; i < s->n_fleets; i++) {
        if (txt_eq_nocase(s->fleets[i].name, name)) {
            *out = i;
            return 0;
        }
        if (n < SCN_MAX_SECTIONS)
            names[n++] = s->fleets[i].name;
    }
    const char *near = txt_nearest(name, names, (size_t)n);
    if (near)
        return scn_fail_at(c, line, "%s: no fleet '%s'; did you mean '%s'?", what, name, near);
    return scn_fail_at(c, line, "%s: no fleet '%s'", what, name);
}

/* These sections take plain numbers: their results are derived once from the stored means. */
static int refuse_distributions(Ctx *c, const ScnVal *v, int n, const KeySpec *specs,
                                const char *section)
{
    for (int i = 0; i < n; i++)
        if (v[i].dist)
            return scn_fail_at(c, v[i].line, "[%s] %s takes one number, not a distribution",
                               section, specs[i].name);
    return 0;
}

/* The first fleet that serves model m, or -1. */
static int fleet_of_model(const Scenario *s, int m)
{
    for (int i = 0; i < s->n_fleets; i++)
        if (s->fleets[i].model == m)
            return i;
    return -1;
}

static int resolve_distill(Ctx *c, const RawSection *sec)
{
    Scenario *s = c->s;
    ScnDistill *d = &s->distill;
    d->line = sec->line;
    if (scn_apply_section(c, sec, SCN_DISTILL_KEYS, DK_COUNT, d->v, NULL, 0, NULL) ||
        refuse_distributions(c, d->v, DK_COUNT, SCN_DISTILL_KEYS, "distill"))
        return c->err->code;
    static const DistillKey need[] = {DK_TEACHER, DK_STUDENT, DK_TRAINING_TOKENS, DK_CHIP, DK_MFU};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (!scn_has(&d->v[need[i]]))
            return scn_fail_at(c, sec->line,
                               "[distill] needs %s (teacher, student, training_tokens, chip, mfu)",
                               SCN_DISTILL_KEYS[need[i]].name);
    if (scn_resolve_model(c, d->v[DK_TEACHER].text, d->v[DK_TEACHER].line, &d->teacher) ||
        scn_resolve_model(c, d->v[DK_STUDENT].text, d->v[DK_STUDENT].line, &d->student))
        return c->err->code;
    if (!(s->models[d->teacher].params_active > 0) || !(s->models[d->student].params_total > 0))
        return scn_fail_at(c, sec->line,
                           "[distill] needs the teacher's active and the student's "
                           "total parameter counts");
    if (!scn_has(&d->v[DK_GENERATED_TOKENS])) {
        scn_set_default(&d->v[DK_GENERATED_TOKENS], d->v[DK_TRAINING_TOKENS].num);
        d->v[DK_GENERATED_TOKENS].origin = ORIG_DERIVED;
    }
    const DistillKey fk[2] = {DK_TEACHER_FLEET, DK_STUDENT_FLEET};
    int *out[2] = {&d->teacher_fleet, &d->student_fleet};
    int model[2] = {d->teacher, d->student};
    for (int k = 0; k < 2; k++) {
        if (scn_has(&d->v[fk[k]])) {
            if (find_fleet(c, d->v[fk[k]].text, d->v[fk[k]].line, "[distill]", out[k]))
                return c->err->code;
            if (s->fleets[*out[k]].model != model[k])
                return scn_fail_at(c, d->v[fk[k]].line, "[distill] %s '%s' serves '%s', not '%s'",
                                   SCN_DISTILL_KEYS[fk[k]].name, s->fleets[*out[k]].name,
                                   s->models[s->fleets[*out[k]].model].name,
                                   s->models[model[k]].name);
        } else if ((*out[k] = fleet_of_model(s, model[k])) < 0) {
            return scn_fail_at(c, sec->line,
                               "[distill] no fleet serves '%s': add one, or name it "
                               "with %s = FLEET",
                               s->models[model[k]].name, SCN_DISTILL_KEYS[fk[k]].name);
        }
    }
    /* the training chip resolves as a fleet's would (catalog row, [chip] section) */
    ScnFleet tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.v[FK_CHIP] = d->v[DK_CHIP];
    int rc = scn_resolve_chip(c, &tmp);
    d->chip = tmp.chip;
    if (rc)
        return rc;
    if (!(d->chip.v[CK_BF16_TFLOPS].num > 0))
        return scn_fail_at(c, d->v[DK_CHIP].line, "[distill] chip '%s' has no bf16_tflops",
                           d->chip.name);
    if (!scn_has(&d->v[DK_USD_PER_CHIP_HOUR])) {
        if (!scn_has(&d->chip.v[CK_RENT_USD_PER_CHIP_HOUR]))
            return scn_fail_at(c, sec->line,
                               "[distill] needs usd_per_chip_hour: chip '%s' has no "
                               "rent_usd_per_chip_hour",
                               d->chip.name);
        d->v[DK_USD_PER_CHIP_HOUR] = d->chip.v[CK_RENT_USD_PER_CHIP_HOUR];
    }
    return 0;
}

static int resolve_task(Ctx *c, const RawSection *sec, ScnTask *t)
{
    t->line = sec->line;
    if (!(t->name = txt_dup(sec->name)))
        return ts_err_set(c->err, TS_ENOMEM, "out of memory");
    if (scn_apply_section(c, sec, SCN_TASK_KEYS, TK_COUNT, t->v, NULL, 0, NULL) ||
        refuse_distributions(c, t->v, TK_COUNT, SCN_TASK_KEYS, "task"))
        return c->err->code;
    if (!scn_has(&t->v[TK_FLEET]) || !scn_has(&t->v[TK_P_SUCCESS]) ||
        !scn_has(&t->v[TK_OUTPUT_TOKENS]))
        return scn_fail_at(c, sec->line, "[task %s] needs fleet, p_success and output_tokens",
                           t->name);
    if (find_fleet(c, t->v[TK_FLEET].text, t->v[TK_FLEET].line, "[task]", &t->fleet))
        return c->err->code;
    if (scn_has(&t->v[TK_ATTEMPTS]) && scn_has(&t->v[TK_TARGET_SUCCESS]))
        return scn_fail_at(c, t->v[TK_ATTEMPTS].line,
                           "[task %s] takes attempts or target_success, not both", t->name);
    scn_set_default(&t->v[TK_INPUT_TOKENS], 0);
    scn_set_default(&t->v[TK_MAX_ATTEMPTS], 1000);
    if (!scn_has(&t->v[TK_TARGET_SUCCESS]))
        scn_set_default(&t->v[TK_ATTEMPTS], 1);
    return 0;
}

/* Splits a comma list into trimmed names (at most max, each under 48 characters). */
static int split_names(Ctx *c, const ScnVal *v, const char *what, char (*out)[48], int max, int *n)
{
    char list[SCN_MAX_LINE + 1];
    snprintf(list, sizeof list, "%s", v->text);
    *n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        txt_trim(tok);
        if (*n == max)
            return scn_fail_at(c, v->line, "%s: at most %d names", what, max);
        if (!txt_valid_name(tok))
            return scn_fail_at(c, v->line, "%s: bad name '%s' (a comma list of names)", what, tok);
        snprintf(out[(*n)++], 48, "%s", tok);
    }
    if (*n == 0)
        return scn_fail_at(c, v->line, "%s: expected a comma list of names", what);
    return 0;
}

static int resolve_question(Ctx *c, const RawSection *sec)
{
    Scenario *s = c->s;
    ScnQuestion *q = &s->question;
    q->line = sec->line;
    if (scn_apply_section(c, sec, SCN_QUESTION_KEYS, QK_COUNT, q->v, NULL, 0, NULL))
        return c->err->code;
    if (!scn_has(&q->v[QK_KIND]))
        return scn_fail_at(c, sec->line,
                           "[question] needs kind = decompose, versus, breakeven, "
                           "distill, task or demand");
    q->kind = (QuestionKind)q->v[QK_KIND].num;
    int needs_fleets = q->kind != QST_DISTILL && q->kind != QST_TASK;
    if (scn_has(&q->v[QK_FLEETS])) {
        char names[SCN_QST_MAX_FLEETS][48];
        if (split_names(c, &q->v[QK_FLEETS], "[question] fleets", names, SCN_QST_MAX_FLEETS,
                        &q->n_fleets))
            return c->err->code;
        for (int i = 0; i < q->n_fleets; i++) {
            if (find_fleet(c, names[i], q->v[QK_FLEETS].line, "[question] fleets", &q->fleets[i]))
                return c->err->code;
            for (int j = 0; j < i; j++)
                if (q->fleets[j] == q->fleets[i])
                    return scn_fail_at(c, q->v[QK_FLEETS].line,
                                       "[question] fleets: '%s' is listed "
                                       "twice",
                                       names[i]);
        }
    } else if (needs_fleets) {
        return scn_fail_at(c, sec->line, "[question] kind = %s needs fleets = A, B, ...",
                           q->v[QK_KIND].text);
    }
    int min_fleets = q->kind == QST_DEMAND ? 1 : 2;
    if (needs_fleets && q->n_fleets < min_fleets)
        return scn_fail_at(c, q->v[QK_FLEETS].line, "[question] kind = %s needs at least %d fleets",
                           q->v[QK_KIND].text, min_fleets);
    switch (q->kind) {
    case QST_DECOMPOSE:
        if (!scn_has(&q->v[QK_FACTORS]))
            return scn_fail_at(c, sec->line,
                               "[question] kind = decompose needs factors = ... (what "
                               "each step from one fleet to the next changes)");
        if (split_names(c, &q->v[QK_FACTORS], "[question] factors", q->factors, SCN_QST_MAX_FLEETS,
                        &q->n_factors))
            return c->err->code;
        if (q->n_factors != q->n_fleets - 1)
            return scn_fail_at(
                c, q->v[QK_FACTORS].line,
                "[question] factors: expected %d factor(s), one per step between the %d "
                "fleets; got %d",
                q->n_fleets - 1, q->n_fleets, q->n_factors);
        for (int i = 0; i < 2; i++) {
            const ScnFleet *f = &s->fleets[q->fleets[i ? q->n_fleets - 1 : 0]];
            if (f->pricing < 0 || !scn_has(&s->pricings[f->pricing].v[PK_USD_PER_M_OUTPUT]))
                return scn_fail_at(c, q->v[QK_FLEETS].line,
                                   "[question] decompose: fleet '%s' needs a list price (pricing "
                                   "with usd_per_m_output) for the margin step",
                                   f->name);
        }
        break;
    case QST_BREAKEVEN:
        if (s->compare.line <= 0)
            return scn_fail_at(c, sec->line,
                               "[question] kind = breakeven needs a [compare] section");
        break;
    case QST_DISTILL:
        if (s->distill.line <= 0)
            return scn_fail_at(c, sec->line, "[question] kind = distill needs a [distill] section");
        break;
    case QST_TASK:
        if (s->n_tasks == 0)
            return scn_fail_at(c, sec->line, "[question] kind = task needs [task NAME] sections");
        break;
    case QST_DEMAND:
        if (s->sweep.line <= 0 || scn_has(&s->sweep.v[SWK_OVER2]))
            return scn_fail_at(c, sec->line,
                               "[question] kind = demand needs a one-input [sweep] "
                               "over the demand (e.g. workload.requests_per_day)");
        if (!scn_has(&q->v[QK_POWER_CAP_KW]))
            return scn_fail_at(c, sec->line, "[question] kind = demand needs power_cap_kw");
        break;
    case QST_VERSUS:
        break;
    }
    return 0;
}

int scn_resolve_questions(Ctx *c)
{
    Scenario *s = c->s;
    int n_tasks = 0;
    for (int i = 0; i < c->rp->n_secs; i++)
        n_tasks += c->rp->secs[i].kind == SEC_TASK;
    if (n_tasks && !(s->tasks = calloc((size_t)n_tasks, sizeof *s->tasks)))
        return ts_err_set(c->err, TS_ENOMEM, "out of memory");
    for (int i = 0; i < c->rp->n_secs; i++) {
        const RawSection *sec = &c->rp->secs[i];
        int rc = 0;
        if (sec->kind == SEC_DISTILL)
            rc = resolve_distill(c, sec);
        else if (sec->kind == SEC_TASK)
            rc = resolve_task(c, sec, &s->tasks[s->n_tasks++]);
        if (rc)
            return rc;
    }
    const RawSection *q = scn_find_section(c->rp, SEC_QUESTION, NULL);
    return q ? resolve_question(c, q) : 0;
}
