/* question: one function per [question] kind. Each adds its derived numbers as rows first and
 * then writes the conclusion from those same doubles (or from the fleets' stored metrics), so
 * that a test can read every number of the paragraph back from table `metrics`. Names of
 * fleets, models and keys are written in backticks, never as bare words, so that the digits in
 * a name are not mistaken for numbers. Words that state a direction (cheaper, first) are chosen
 * from the same numbers. */
#include "sim/study/question.h"
#include "sim/text/text.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>


typedef struct {
    QstResult *q;
    size_t len;
    char num[8][40]; /* rotating buffers for formatted numbers */
    int next;
} Writer;

static void say(Writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(Writer *w, const char *fmt, ...)
{
    if (w->len >= sizeof w->q->text - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(w->q->text + w->len, sizeof w->q->text - w->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        w->len += (size_t)n;
    if (w->len > sizeof w->q->text - 1)
        w->len = sizeof w->q->text - 1;
}

/* The number as txt_fmt writes it (4 significant figures), absolute value: the words
 * around it carry the sign. */
static const char *N(Writer *w, double v)
{
    char *b = w->num[w->next];
    w->next = (w->next + 1) % 8;
    return txt_fmt(fabs(v), b, (int)sizeof w->num[0]);
}

/* Adds a row and returns its value (NAN when has is 0). */
static double row(QstResult *q, const char *fleet, const char *unit, double v, const char *fmt,
                  ...) __attribute__((format(printf, 5, 6)));
static double row(QstResult *q, const char *fleet, const char *unit, double v, const char *fmt,
                  ...)
{
    if (q->n_rows >= QST_MAX_ROWS)
        return v;
    QstRow *r = &q->rows[q->n_rows++];
    snprintf(r->fleet, sizeof r->fleet, "%s", fleet);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->metric, sizeof r->metric, fmt, ap);
    va_end(ap);
    r->unit = unit;
    r->has_value = isfinite(v);
    r->value = r->has_value ? v : 0.0;
    return r->has_value ? v : NAN;
}

static double met(const FleetResult *res, int f, MetricId m)
{
    return res[f].metrics.has[m] ? res[f].metrics.value[m] : NAN;
}

static const char *fname(const Scenario *s, int f)
{
    return s->fleets[f].name;
}

/* ---- decompose: one factor at a time, then margin ------------------------------------ */

static void q_decompose(Writer *w, const Scenario *s, const FleetResult *res)
{
    const ScnQuestion *qu = &s->question;
    QstResult *q = w->q;
    int a = qu->fleets[0], z = qu->fleets[qu->n_fleets - 1];
    double la = row(q, fname(s, a), "USD/Mtok",
                    s->pricings[s->fleets[a].pricing].v[PK_USD_PER_M_OUTPUT].num,
                    "list_usd_per_m_output");
    double lz = row(q, fname(s, z), "USD/Mtok",
                    s->pricings[s->fleets[z].pricing].v[PK_USD_PER_M_OUTPUT].num,
                    "list_usd_per_m_output");
    double ca = met(res, a, MET_USD_PER_M_OUTPUT), cz = met(res, z, MET_USD_PER_M_OUTPUT);
    double gap = row(q, "-", "USD/Mtok", la - lz, "gap_list_usd_per_m_output");
    double lr = row(q, "-", "ratio", la / lz, "list_ratio");
    double cr = row(q, "-", "ratio", ca / cz, "cost_ratio");
    say(w, "List prices of `%s` and `%s` differ by $%s per million output tokens ($%s against "
           "$%s, %s\u00d7 apart); their cost floors are $%s and $%s (%s\u00d7 apart). ",
        fname(s, a), fname(s, z), N(w, gap), N(w, la), N(w, lz), N(w, lr), N(w, ca), N(w, cz),
        N(w, cr));
    say(w, "Changing one factor at a time in the order ");
    for (int i = 0; i < qu->n_factors; i++)
        say(w, "%s, ", qu->factors[i]);
    say(w, "then margin:");
    int biggest = -1;
    double big = -1;
    for (int i = 1; i < qu->n_fleets; i++) {
        int p = qu->fleets[i - 1], f = qu->fleets[i];
        const char *fac = qu->factors[i - 1];
        double d = row(q, "-", "USD/Mtok",
                       met(res, p, MET_USD_PER_M_OUTPUT) - met(res, f, MET_USD_PER_M_OUTPUT),
                       "gap_%s_usd_per_m_output", fac);
        double pct = row(q, "-", "%", d / gap * 100.0, "gap_%s_pct", fac);
        if (fabs(d) > big) {
            big = fabs(d);
            biggest = i - 1;
        }
        say(w, "%s %s (`%s` to `%s`) %s the cost floor by $%s to $%s (%s%% of the gap)",
            i > 1 ? ";" : "", fac, fname(s, p), fname(s, f), d >= 0 ? "lowers" : "raises",
            N(w, d), N(w, met(res, f, MET_USD_PER_M_OUTPUT)), N(w, pct));
    }
    double ma = row(q, fname(s, a), "USD/Mtok", la - ca, "margin_usd_per_m_output");
    double mz = row(q, fname(s, z), "USD/Mtok", lz - cz, "margin_usd_per_m_output");
    double dm = row(q, "-", "USD/Mtok", ma - mz, "gap_margin_usd_per_m_output");
    double pm = row(q, "-", "%", dm / gap * 100.0, "gap_margin_pct");
    say(w, "; margin (list price %s cost: $%s for `%s`, $%s for `%s`) accounts for $%s (%s%% of "
           "the gap). ",
        ma >= 0 ? "above" : "below", N(w, ma), fname(s, a), N(w, mz), fname(s, z), N(w, dm),
        N(w, pm));
    if (fabs(dm) > big)
        say(w, "Margin, not cost, is the largest part of the gap.");
    else if (biggest >= 0)
        say(w, "Of the cost factors, %s moves the floor most.", qu->factors[biggest]);
}

/* ---- versus: ratios to the first fleet, what sets the batch, and the sweep ----------- */

static void q_memory(Writer *w, const Scenario *s, const FleetResult *res, int f)
{
    const PerfResult *p = &res[f].perf;
    if (!p->roofline)
        return;
    const ScnFleet *fl = &s->fleets[f];
    double hbm = met(res, f, MET_CHIPS_PER_INSTANCE) * fl->chip.v[CK_HBM_GB].num *
                 fl->v[FK_HBM_USABLE].num;
    double share = row(w->q, fl->name, "%", met(res, f, MET_WEIGHTS_GB_PER_INSTANCE) / hbm * 100,
                       "weights_hbm_pct");
    say(w, "`%s` decodes batches of %s sequences (set by %s; memory holds %s): its weights "
           "fill %s%% of its instance's usable memory and each token's cache takes %s bytes. ",
        fl->name, N(w, met(res, f, MET_BATCH)), p->roof.bound,
        N(w, met(res, f, MET_MAX_BATCH_MEMORY)), N(w, share),
        N(w, met(res, f, MET_KV_BYTES_PER_TOKEN)));
}

/* The value of metric m for fleet f at sweep point x (NAN when none). */
static double swept(const SwpResult *sw, int f, double x, MetricId m)
{
    for (long r = 0; r < sw->n_rows; r++) {
        const SwpRow *o = &sw->rows[r];
        if (o->fleet == f && o->x == x && o->metric == m && !o->name)
            return o->has_value ? o->value : NAN;
    }
    return NAN;
}

static void q_versus(Writer *w, const Scenario *s, const FleetResult *res, const SwpResult *sw)
{
    const ScnQuestion *qu = &s->question;
    int a = qu->fleets[0];
    double ca = met(res, a, MET_USD_PER_M_OUTPUT), ia = met(res, a, MET_USD_PER_M_INPUT);
    for (int i = 1; i < qu->n_fleets; i++) {
        int f = qu->fleets[i];
        double c = met(res, f, MET_USD_PER_M_OUTPUT), in = met(res, f, MET_USD_PER_M_INPUT);
        double r = row(w->q, fname(s, f), "ratio", c / ca, "ratio_usd_per_m_output");
        double ri = row(w->q, fname(s, f), "ratio", in / ia, "ratio_usd_per_m_input");
        if (isfinite(ri))
            say(w, "`%s` costs $%s per million output tokens and $%s per million input tokens "
                   "against $%s and $%s for `%s`: %s\u00d7 as much for output (%s) and %s\u00d7 "
                   "for input. ",
                fname(s, f), N(w, c), N(w, in), N(w, ca), N(w, ia), fname(s, a), N(w, r),
                r > 1 ? "dearer" : "cheaper", N(w, ri));
        else /* no input tokens (or no input price) on one side: output only */
            say(w, "`%s` costs $%s per million output tokens against $%s for `%s`: %s\u00d7 as "
                   "much (%s). ",
                fname(s, f), N(w, c), N(w, ca), fname(s, a), N(w, r),
                r > 1 ? "dearer" : "cheaper");
    }
    for (int i = 0; i < qu->n_fleets; i++)
        q_memory(w, s, res, qu->fleets[i]);
    if (!sw || sw->plan->ys || sw->plan->nx < 2)
        return;
    const SwpPlan *p = sw->plan;
    double x0 = row(w->q, "-", "", p->xs[0], "sweep_first_x");
    double x1 = row(w->q, "-", "", p->xs[p->nx - 1], "sweep_last_x");
    say(w, "As `%s` goes from %s to %s:", p->param, N(w, x0), N(w, x1));
    for (int i = 0; i < qu->n_fleets; i++) {
        int f = qu->fleets[i];
        const char *fn = fname(s, f);
        double u0 = row(w->q, fn, "USD/Mtok", swept(sw, f, x0, MET_USD_PER_M_OUTPUT),
                        "sweep_first_usd_per_m_output");
        double u1 = row(w->q, fn, "USD/Mtok", swept(sw, f, x1, MET_USD_PER_M_OUTPUT),
                        "sweep_last_usd_per_m_output");
        double b0 = row(w->q, fn, "sequences", swept(sw, f, x0, MET_BATCH), "sweep_first_batch");
        double b1 = row(w->q, fn, "sequences", swept(sw, f, x1, MET_BATCH), "sweep_last_batch");
        double from = NAN;
        for (int k = 0; k < p->nx && isnan(from); k++) {
            double b = swept(sw, f, p->xs[k], MET_BATCH);
            double m = swept(sw, f, p->xs[k], MET_MAX_BATCH_MEMORY);
            if (!isnan(b) && !isnan(m) && b >= m)
                from = p->xs[k];
        }
        row(w->q, fn, "", from, "capacity_bound_from_x");
        say(w, "%s `%s` goes from $%s to $%s per million output tokens with batches of %s to %s",
            i ? ";" : "", fn, N(w, u0), N(w, u1), N(w, b0), N(w, b1));
        if (isnan(from))
            say(w, ", and memory capacity never sets its batch in this range");
        else
            say(w, ", and memory capacity sets its batch from %s on", N(w, from));
    }
    say(w, ".");
}

/* ---- breakeven: a supercluster on cheap power against fewer chips on dear power -------- */

static void q_breakeven(Writer *w, Scenario *s, const FleetResult *res, const CmpResult *cmp)
{
    const ScnQuestion *qu = &s->question;
    int b = cmp->baseline;
    for (int i = 0; i < qu->n_fleets; i++) {
        int f = qu->fleets[i];
        double mw = row(w->q, fname(s, f), "MW", met(res, f, MET_FACILITY_POWER_KW) / 1000,
                        "facility_power_mw");
        double es = row(w->q, fname(s, f), "%",
                        met(res, f, MET_ENERGY_USD_PER_M_OUTPUT) /
                            met(res, f, MET_USD_PER_M_OUTPUT) * 100,
                        "energy_share_pct");
        say(w, "`%s` serves the workload with %s chips drawing %s MW at $%s per million output "
               "tokens, %s%% of it electricity at $%s/kWh. ",
            fname(s, f), N(w, met(res, f, MET_CHIPS)), N(w, mw),
            N(w, met(res, f, MET_USD_PER_M_OUTPUT)), N(w, es),
            N(w, row(w->q, fname(s, f), "USD/kWh", res[f].inputs.usd_per_kwh, "usd_per_kwh")));
    }
    double cb = met(res, b, MET_USD_PER_M_OUTPUT);
    for (int i = 0; i < qu->n_fleets; i++) {
        int f = qu->fleets[i];
        if (f == b)
            continue;
        const char *fn = fname(s, f);
        double c = met(res, f, MET_USD_PER_M_OUTPUT);
        double r = row(w->q, fn, "ratio", c / cb, "ratio_usd_per_m_output");
        double e = met(res, f, MET_ENERGY_USD_PER_M_OUTPUT);
        double at_b = row(w->q, fn, "USD/Mtok",
                          c + e * (res[b].inputs.usd_per_kwh / res[f].inputs.usd_per_kwh - 1),
                          "usd_per_m_output_at_baseline_power");
        double closed = row(w->q, fn, "%", (at_b - c) / (at_b - cb) * 100, "cheap_power_gap_pct");
        say(w, "`%s` costs %s\u00d7 what `%s` does; at `%s`'s electricity price it would cost "
               "$%s, so cheap power %s it $%s per million output tokens (%s%% of that gap). ",
            fn, N(w, r), fname(s, b), fname(s, b), N(w, at_b), at_b >= c ? "saves" : "costs",
            N(w, row(w->q, fn, "USD/Mtok", at_b - c, "cheap_power_saving_usd_per_m_output")),
            N(w, closed));
        for (int k = 0; k < cmp->n_keys; k++) {
            const char *key = strrchr(cmp->keys[k], '.');
            key = key ? key + 1 : cmp->keys[k];
            int power = strcmp(key, "usd_per_kwh") == 0, price = strcmp(key, "price_usd") == 0;
            const char *what = power ? "electricity price" : price ? "chip price" : key;
            size_t at = (size_t)k * (size_t)s->n_fleets + (size_t)f;
            double v = cmp->breakeven[at];
            ScnVal *sites[4];
            ScnKeyRange range;
            char msg[160];
            double now = row(w->q, fn, "",
                             scn_param_sites(s, cmp->keys[k], f, sites, 4, &range, msg, sizeof msg) > 0
                                 ? sites[0]->num
                                 : NAN,
                             "%s_now", key);
            /* money keys read as dollars, the power price per kWh */
            const char *pre = power || price ? "$" : "", *post = power ? "/kWh" : "";
            if (isnan(v) && isnan(cmp->lo[at]) && s->fleets[f].throughput == THR_SIMULATE) {
                say(w, "The %s at which `%s` would match is not searched: it changes what a "
                       "simulated fleet serves, so each probe would need a simulation of its "
                       "own. ",
                    what, fn);
            } else if (isnan(v)) {
                double lo = row(w->q, fn, "", cmp->lo[at], "breakeven_%s_low", key);
                double hi = row(w->q, fn, "", cmp->hi[at], "breakeven_%s_high", key);
                say(w, "No %s from %s%s to %s%s%s closes the gap (%s%s%s now)", what, pre,
                    N(w, lo), pre, N(w, hi), post, pre, N(w, now), post);
                if (power)
                    say(w, ": even with free electricity `%s` would cost $%s",
                        fn, N(w, row(w->q, fn, "USD/Mtok", c - e, "usd_per_m_output_free_power")));
                say(w, ". ");
            } else {
                say(w, "The gap closes at %s %s of %s%s%s (%s%s%s now). ", power ? "an" : "a",
                    what, pre, N(w, v), post, pre, N(w, now), post);
            }
        }
    }
}

/* ---- distill: one-time cost against serving savings ---------------------------------- */

void qst_distill_flops(double teacher_active, double generated_tokens, double student_params,
                       double training_tokens, double *teacher, double *student)
{
    *teacher = 2.0 * teacher_active * generated_tokens;
    *student = 6.0 * student_params * training_tokens;
}

static void q_distill(Writer *w, const Scenario *s, const FleetResult *res)
{
    const ScnDistill *d = &s->distill;
    QstResult *q = w->q;
    const ScnModel *tm = &s->models[d->teacher], *sm = &s->models[d->student];
    double gen = row(q, "-", "tokens", d->v[DK_GENERATED_TOKENS].num, "distill_generated_tokens");
    double train = row(q, "-", "tokens", d->v[DK_TRAINING_TOKENS].num, "distill_training_tokens");
    double ft, fs;
    qst_distill_flops(tm->params_active, gen, sm->params_total, train, &ft, &fs);
    row(q, "-", "FLOP", ft, "distill_teacher_flops");
    row(q, "-", "FLOP", fs, "distill_student_flops");
    double peak = d->chip.v[CK_BF16_TFLOPS].num * 1e12;
    double mfu = d->v[DK_MFU].num, rate = d->v[DK_USD_PER_CHIP_HOUR].num;
    double ht = ft / (peak * mfu * 3600), hs = fs / (peak * mfu * 3600);
    double h = row(q, "-", "chip-h", ht + hs, "distill_chip_hours");
    double ut = row(q, "-", "USD", ht * rate, "distill_teacher_usd");
    double us = row(q, "-", "USD", hs * rate, "distill_student_usd");
    double u = row(q, "-", "USD", ut + us, "distill_usd");
    int tf = d->teacher_fleet, sf = d->student_fleet;
    double bt = met(res, tf, MET_USD_PER_M_BLENDED), bs = met(res, sf, MET_USD_PER_M_BLENDED);
    double save = row(q, "-", "USD/Mtok", bt - bs, "distill_saving_usd_per_m_blended");
    double ratio = row(q, "-", "ratio", bt / bs, "distill_serving_ratio");
    double tokens = row(q, "-", "tokens", save > 0 ? u / save * 1e6 : NAN,
                        "distill_breakeven_tokens");
    double per_window = met(res, sf, MET_USD_PER_DAY) / bs * 1e6;
    double days = row(q, "-", "days", tokens / per_window * s->sc[SK_HOURS].num / 24,
                      "distill_breakeven_days");
    say(w, "Distilling `%s` from `%s` costs $%s once: the teacher generates %s tokens at twice "
           "its active parameters in FLOPs per token ($%s) and the student trains on %s tokens at "
           "six times its parameters per token ($%s), %s chip-hours on `%s` at %s%% MFU and $%s per "
           "chip-hour. ",
        sm->name, tm->name, N(w, u), N(w, gen), N(w, ut), N(w, train), N(w, us), N(w, h),
        d->chip.name, N(w, row(q, "-", "%", mfu * 100, "distill_mfu_pct")),
        N(w, row(q, "-", "USD/chip-h", rate, "distill_usd_per_chip_hour")));
    say(w, "Served, `%s` costs $%s per million tokens (input and output) against $%s for `%s`, "
           "%s\u00d7 as much",
        fname(s, tf), N(w, bt), N(w, bs), fname(s, sf), N(w, ratio));
    if (save > 0)
        say(w, ": the student saves $%s per million tokens and repays its distillation after %s "
               "served tokens, %s days of this workload.",
            N(w, save), N(w, tokens), N(w, days));
    else
        say(w, ": the student saves nothing per token, so its distillation never pays back.");
}

/* ---- task: cost per solved task with k attempts -------------------------------------- */

double qst_pass_at_k(double p, int k)
{
    return 1.0 - pow(1.0 - p, k);
}

int qst_attempts_for(double p, double target, int max)
{
    for (int k = 1; k <= max; k++)
        if (qst_pass_at_k(p, k) >= target)
            return k;
    return -1;
}

static void q_task(Writer *w, const Scenario *s, const FleetResult *res)
{
    QstResult *q = w->q;
    int best = -1, worst = -1;
    double vbest = INFINITY, vworst = -INFINITY;
    double solved[1024];
    for (int i = 0; i < s->n_tasks && i < 1024; i++) {
        const ScnTask *t = &s->tasks[i];
        const char *tn = t->name;
        double p = t->v[TK_P_SUCCESS].num;
        double in = t->v[TK_INPUT_TOKENS].num, out = t->v[TK_OUTPUT_TOKENS].num;
        double pin = in > 0 ? met(res, t->fleet, MET_USD_PER_M_INPUT) : 0;
        double per = row(q, "-", "USD", (in * pin + out * met(res, t->fleet, MET_USD_PER_M_OUTPUT))
                                            / 1e6, "task.%s.usd_per_attempt", tn);
        int k = t->v[TK_ATTEMPTS].origin != ORIG_NONE
                    ? (int)t->v[TK_ATTEMPTS].num
                    : qst_attempts_for(p, t->v[TK_TARGET_SUCCESS].num,
                                       (int)t->v[TK_MAX_ATTEMPTS].num);
        double pp = row(q, "-", "%", p * 100, "task.%s.p_success_pct", tn);
        say(w, "`%s` (`%s`, %s%% per attempt, $%s per attempt", tn, fname(s, t->fleet), N(w, pp),
            N(w, per));
        if (t->v[TK_TARGET_SUCCESS].origin != ORIG_NONE)
            say(w, ", target %s%%",
                N(w, row(q, "-", "%", t->v[TK_TARGET_SUCCESS].num * 100, "task.%s.target_pct",
                         tn)));
        say(w, ") ");
        double kk = row(q, "-", "attempts", k > 0 ? k : NAN, "task.%s.attempts", tn);
        double succ = row(q, "-", "%", k > 0 ? qst_pass_at_k(p, k) * 100 : NAN,
                          "task.%s.success_pct", tn);
        solved[i] = row(q, "-", "USD", k > 0 ? kk * per / (succ / 100) : NAN,
                        "task.%s.usd_per_solved", tn);
        if (k < 0) {
            say(w, "cannot reach its target within %s attempts. ",
                N(w, row(q, "-", "attempts", t->v[TK_MAX_ATTEMPTS].num, "task.%s.max_attempts",
                         tn)));
            continue;
        }
        say(w, "needs %s attempt%s, which succeed%s %s%% of the time: $%s per solved task. ",
            N(w, kk), k == 1 ? "" : "s", k == 1 ? "s" : "", N(w, succ), N(w, solved[i]));
        if (solved[i] < vbest) {
            vbest = solved[i];
            best = i;
        }
        if (solved[i] > vworst) {
            vworst = solved[i];
            worst = i;
        }
    }
    if (best >= 0 && worst != best)
        say(w, "The cheapest way to a solved task is `%s`, %s\u00d7 cheaper than `%s`.",
            s->tasks[best].name, N(w, row(q, "-", "ratio", vworst / vbest, "task_cost_ratio")),
            s->tasks[worst].name);
}

/* ---- demand: growth under a power cap ------------------------------------------------- */

static int q_demand(Writer *w, const Scenario *s, const SwpResult *sw, TsErr *err)
{
    const ScnQuestion *qu = &s->question;
    QstResult *q = w->q;
    const SwpPlan *p = sw ? sw->plan : NULL;
    if (!p || p->nx < 2 || !(p->xs[0] > 0))
        return ts_err_set(err, TS_EINPUT, "%s:%d: [question] kind = demand needs a sweep of at "
                                          "least two positive demand values",
                          s->path, qu->line);
    double cap_kw = qu->v[QK_POWER_CAP_KW].num;
    double cap = row(q, "-", "MW", cap_kw / 1000, "power_cap_mw");
    say(w, "Demand grows along `%s`, from %s; under a power cap of %s MW:", p->param,
        N(w, row(q, "-", "", p->xs[0], "demand_base")), N(w, cap));
    int first = -1;
    double first_m = INFINITY;
    for (int i = 0; i < qu->n_fleets; i++) {
        int f = qu->fleets[i];
        const char *fn = fname(s, f);
        say(w, "%s `%s`", i ? ";" : "", fn);
        for (int k = 0; k < p->nx; k++) {
            double m = p->xs[k] / p->xs[0];
            char tag[32];
            snprintf(tag, sizeof tag, "x%g", m);
            if (i == 0)
                row(q, "-", "multiple", m, "demand_multiple_%s", tag);
            double kw = swept(sw, f, p->xs[k], MET_FACILITY_POWER_KW);
            double chips = row(q, fn, "chips", swept(sw, f, p->xs[k], MET_CHIPS), "%s_chips", tag);
            double mw = row(q, fn, "MW", kw / 1000, "%s_facility_mw", tag);
            double mwh = row(q, fn, "MWh/window",
                             swept(sw, f, p->xs[k], MET_ENERGY_KWH_PER_DAY) / 1000,
                             "%s_energy_mwh_per_day", tag);
            double usd = row(q, fn, "USD/window", swept(sw, f, p->xs[k], MET_USD_PER_DAY),
                             "%s_usd_per_day", tag);
            say(w, "%s at %s\u00d7 needs %s chips, %s MW, %s MWh and $%s per day%s",
                k ? "," : "", N(w, m), N(w, chips), N(w, mw), N(w, mwh), N(w, usd),
                kw > cap_kw ? " (over the cap)" : "");
        }
        /* power per unit of demand at the largest point: whole-instance rounding matters least */
        double last = p->xs[p->nx - 1];
        double mc = row(q, fn, "multiple",
                        cap_kw / swept(sw, f, last, MET_FACILITY_POWER_KW) * last / p->xs[0],
                        "power_cap_multiple");
        say(w, ", and reaches the cap at about %s\u00d7", N(w, mc));
        if (mc < first_m) {
            first_m = mc;
            first = f;
        }
    }
    if (first >= 0)
        say(w, ". `%s` runs out of power first.", fname(s, first));
    return 0;
}

int qst_run(Scenario *s, const FleetResult *res, const SwpResult *sw, const CmpResult *cmp,
            QstResult *out, TsErr *err)
{
    out->n_rows = 0;
    out->text[0] = '\0';
    if (s->question.line <= 0)
        return 0;
    Writer w = {.q = out};
    switch (s->question.kind) {
    case QST_DECOMPOSE:
        q_decompose(&w, s, res);
        break;
    case QST_VERSUS:
        q_versus(&w, s, res, sw);
        break;
    case QST_BREAKEVEN:
        if (!cmp)
            return ts_err_set(err, TS_EINPUT, "%s:%d: [question] kind = breakeven needs "
                                              "[compare] results", s->path, s->question.line);
        q_breakeven(&w, s, res, cmp);
        break;
    case QST_DISTILL:
        q_distill(&w, s, res);
        break;
    case QST_TASK:
        q_task(&w, s, res);
        break;
    case QST_DEMAND:
        if (q_demand(&w, s, sw, err))
            return err->code;
        break;
    }
    while (w.len > 0 && out->text[w.len - 1] == ' ')
        out->text[--w.len] = '\0';
    return 0;
}
