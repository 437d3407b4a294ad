/* report: Markdown and CSV output of a scenario run. Text that comes from the scenario
 * (description, names) is escaped for Markdown tables; CSV text cells that a spreadsheet would
 * run as a formula are quoted with a leading apostrophe. Files appear whole or not at all
 * (temporary name, then rename). */
#include "sim/render/report.h"

#include <csv.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/scenario/text.h"

const char *report_fmt(double v, char *buf, int size)
{
    double a = fabs(v);
    if (!isfinite(v)) { /* never "nan" or "inf" on a page: not applicable */
        snprintf(buf, (size_t)size, "n/a");
    } else if (v == 0.0) {
        snprintf(buf, (size_t)size, "0");
    } else if (a >= 1e15 || a < 1e-4) {
        snprintf(buf, (size_t)size, "%.4g", v);
    } else if (a >= 1000.0) {
        char digits[32];
        snprintf(digits, sizeof digits, "%.0f", a);
        size_t n = strlen(digits), o = 0;
        char out[48];
        if (v < 0)
            out[o++] = '-';
        for (size_t i = 0; i < n; i++) {
            if (i > 0 && (n - i) % 3 == 0)
                out[o++] = ',';
            out[o++] = digits[i];
        }
        out[o] = '\0';
        snprintf(buf, (size_t)size, "%s", out);
    } else {
        snprintf(buf, (size_t)size, "%.4g", v);
    }
    return buf;
}

/* Writes s to f escaped for a Markdown table cell or paragraph. */
static void md_text(FILE *f, const char *text)
{
    char *flat = txt_dup(text ? text : ""); /* one line: a catalog note may hold newlines */
    for (char *c = flat; c && *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
    char *inert = txt_inert_dup(flat);
    free(flat);
    for (const char *s = inert; s && *s; s++) {
        switch (*s) {
        case '|': fputs("\\|", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '\\': case '`': case '*': case '[': case ']': case '#':
            fputc('\\', f);
            fputc(*s, f);
            break;
        default: fputc(*s, f);
        }
    }
    free(inert);
}

static void stem_of(const char *path, char *out, size_t size)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(out, size, "%s", base);
    char *dot = strrchr(out, '.');
    if (dot && dot != out)
        *dot = '\0';
    for (char *p = out; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.'))
            *p = '_';
    if (!out[0])
        snprintf(out, size, "scenario");
}

static int mkdir_p(const char *path, TsErr *err)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
            return ts_err_set(err, TS_EIO, "cannot create folder %s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
        return ts_err_set(err, TS_EIO, "cannot create folder %s: %s", tmp, strerror(errno));
    return 0;
}

int report_make_dir(const char *out_root, const char *scenario_path, int64_t run_id, char *dir,
                    int size, TsErr *err)
{
    if (mkdir_p(out_root, err))
        return err->code;
    char stem[256];
    stem_of(scenario_path, stem, sizeof stem);
    for (int k = 1; k < 1000; k++) {
        if (k == 1)
            snprintf(dir, (size_t)size, "%s/%s-%lld", out_root, stem, (long long)run_id);
        else
            snprintf(dir, (size_t)size, "%s/%s-%lld-%d", out_root, stem, (long long)run_id, k);
        if (mkdir(dir, 0777) == 0)
            return 0;
        if (errno != EEXIST)
            return ts_err_set(err, TS_EIO, "cannot create folder %s: %s", dir, strerror(errno));
    }
    return ts_err_set(err, TS_EIO, "cannot find a free folder name for %s-%lld in %s", stem,
                      (long long)run_id, out_root);
}

/* Opens dir/name.tmp for writing; commit_file renames it to dir/name. */
static FILE *open_tmp(const char *dir, const char *name, char *tmp, size_t size, TsErr *err)
{
    snprintf(tmp, size, "%s/.%s.tmp", dir, name);
    FILE *f = fopen(tmp, "w");
    if (!f)
        ts_err_set(err, TS_EIO, "cannot write %s: %s", tmp, strerror(errno));
    return f;
}

static int commit_file(FILE *f, const char *tmp, const char *dir, const char *name, TsErr *err)
{
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        unlink(tmp);
        return ts_err_set(err, TS_EIO, "error writing %s/%s (disk full?)", dir, name);
    }
    char final[4096];
    snprintf(final, sizeof final, "%s/%s", dir, name);
    if (rename(tmp, final) != 0) {
        int e = errno;
        unlink(tmp);
        return ts_err_set(err, TS_EIO, "cannot rename %s to %s: %s", tmp, final, strerror(e));
    }
    return 0;
}

/* ---- report.md ------------------------------------------------------------------------ */

static void md_value_row(FILE *f, const char *key, const ScnVal *v, const char *unit)
{
    char num[64], orig[300];
    if (v->origin == ORIG_NONE)
        return;
    fputs("| ", f);
    md_text(f, key);
    fputs(" | ", f);
    if (v->text)
        md_text(f, v->text);
    else
        fputs(report_fmt(v->num, num, sizeof num), f);
    fprintf(f, " | %s | ", unit ? unit : "");
    md_text(f, scn_origin(v, orig, sizeof orig));
    fputs(" |\n", f);
}

/* The unit a key's name carries, for the inputs tables. */
const char *report_key_unit(const char *key)
{
    static const struct {
        const char *suffix, *unit;
    } units[] = {
        {"_usd_per_kw_month", "USD/kW/month"}, {"_usd_per_chip_hour", "USD/chip-h"},
        {"usd_per_kwh", "USD/kWh"}, {"_usd", "USD"}, {"_tflops", "TFLOPS"}, {"_tb_s", "TB/s"},
        {"_gb_s", "GB/s"}, {"_gb", "GB"}, {"_w_per_chip", "W"}, {"_w", "W"}, {"_ms", "ms"},
        {"tok_s_per_chip", "tok/s/chip"}, {"_tokens_per_day", "tokens/window"},
        {"_per_day", "per window"}, {"_tokens_per_request", "tokens/request"},
        {"_tokens", "tokens"}, {"g_co2_per_kwh", "gCO2/kWh"}, {"hours", "h"},
        {"years", "years"}, {"_bytes", "bytes"}, {"params_", "parameters"},
    };
    size_t n = strlen(key);
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        size_t m = strlen(units[i].suffix);
        if (units[i].suffix[m - 1] == '_') {
            if (strncmp(key, units[i].suffix, m) == 0)
                return units[i].unit;
        } else if (n >= m && strcmp(key + n - m, units[i].suffix) == 0) {
            return units[i].unit;
        }
    }
    return "";
}

static void md_catalog_row(FILE *f, const char *what, const CatTable *t, int row)
{
    if (row < 0)
        return;
    const char *p = strrchr(t->path, '/');
    fprintf(f, "| %s | ", what);
    md_text(f, cat_cell(t, row, "name"));
    fprintf(f, " | %s:%d | ", p ? p + 1 : t->path, t->lines[row]);
    md_text(f, cat_cell(t, row, "source"));
    fputs(" | ", f);
    md_text(f, cat_cell(t, row, "as_of"));
    fputs(" | ", f);
    md_text(f, cat_cell(t, row, "confidence"));
    fputs(" |\n", f);
}

static const MetricId SUMMARY[] = {
    MET_CHIPS, MET_UTILIZATION_NEEDED, MET_USD_PER_M_OUTPUT, MET_USD_PER_M_INPUT,
    MET_USD_PER_DAY, MET_J_PER_OUTPUT_TOKEN, MET_FACILITY_POWER_KW, MET_GROSS_MARGIN,
};

/* The index of metric m among the Monte Carlo percentile metrics, or -1. */
static int pct_index(int m)
{
    for (int p = 0; p < MC_N_PCT; p++)
        if ((int)MC_PCT[p] == m)
            return p;
    return -1;
}

static void write_conclusion(FILE *f, const Scenario *s, const QstResult *q)
{
    if (!q || !q->text[0])
        return;
    fputs("## Conclusion\n\n", f);
    if (s->question.v[QK_TITLE].text) {
        fputs("**Question:** ", f);
        md_text(f, s->question.v[QK_TITLE].text);
        fputs("\n\n", f);
    }
    /* generated text: names are validated (letters, digits, - _ .) and set in backticks */
    fputs(q->text, f);
    fputs("\n\nThis paragraph is written by the program from the computed numbers: each number "
          "in it is a row of table metrics (and of metrics.csv below, fleet \"-\" for results "
          "of no fleet).\n\n", f);
}

static void write_md(FILE *f, const Scenario *s, const FleetResult *res, const ReportMc *mc,
                     const QstResult *ans, int64_t run_id)
{
    char num[64], num2[64], num3[64], num4[64];
    fputs("# ", f);
    md_text(f, s->sc[SK_NAME].text);
    fputs("\n\n", f);
    if (s->sc[SK_DESCRIPTION].text) {
        md_text(f, s->sc[SK_DESCRIPTION].text);
        fputs("\n\n", f);
    }
    fputs("Scenario file: `", f);
    md_text(f, s->path);
    fputs("`", f);
    if (run_id > 0)
        fprintf(f, "; run %lld", (long long)run_id);
    fprintf(f, "; accounting window %s h. All money in US dollars; \"window\" is that window.\n\n",
            report_fmt(s->sc[SK_HOURS].num, num, sizeof num));
    write_conclusion(f, s, ans);

    fputs("## Summary\n\n| fleet | chip | model | throughput | cost |", f);
    for (size_t i = 0; i < sizeof SUMMARY / sizeof SUMMARY[0]; i++)
        fprintf(f, mc ? " %s (%s, mean) |" : " %s (%s) |", met_info(SUMMARY[i])->name,
                met_info(SUMMARY[i])->unit); /* a mean of whole chips says it is a mean */
    fputs("\n|---|---|---|---|---|", f);
    for (size_t i = 0; i < sizeof SUMMARY / sizeof SUMMARY[0]; i++)
        fputs("---:|", f);
    fputc('\n', f);
    for (int i = 0; i < s->n_fleets; i++) {
        const ScnFleet *fl = &s->fleets[i];
        fputs("| ", f);
        md_text(f, fl->name);
        fputs(" | ", f);
        md_text(f, fl->chip.name);
        fputs(" | ", f);
        md_text(f, s->models[fl->model].name);
        fprintf(f, " | %s | %s |", scn_throughput_name(fl->throughput), fl->rent ? "rent" : "own");
        for (size_t k = 0; k < sizeof SUMMARY / sizeof SUMMARY[0]; k++) {
            const MetricSet *m = &res[i].metrics;
            fprintf(f, " %s |", m->has[SUMMARY[k]]
                                    ? report_fmt(m->value[SUMMARY[k]], num, sizeof num)
                                    : "n/a");
        }
        fputc('\n', f);
    }
    fputs("\nEnergy figures are modeled from power figures (`energy_source` per fleet below), "
          "never measured here.\n",
          f);
    if (mc) {
        fprintf(f, "\nMonte Carlo: %ld samples (seed %.0f); values are sample means, with "
                   "P5 to P95 where shown; %ld draws were clamped into their keys' valid ranges.",
                mc->samples, s->sc[SK_SEED].num, mc->clamped);
        for (int i = 0; i < s->n_fleets; i++)
            if (mc->failed[i] > 0) {
                fputs(" Fleet ", f);
                md_text(f, s->fleets[i].name);
                fprintf(f, " could not be priced in %ld samples (left out).", mc->failed[i]);
            }
        fputs("\n\n| fleet | usd_per_m_output P5 | P50 | P95 (USD/Mtok) | j_per_output_token P5 "
              "| P95 (J/token) |\n|---|---:|---:|---:|---:|---:|\n",
              f);
        for (int i = 0; i < s->n_fleets; i++) {
            const double *q = mc->pct + (size_t)i * MC_N_PCT * 3;
            const double *j = q + (size_t)pct_index(MET_J_PER_OUTPUT_TOKEN) * 3;
            char a[32], b[32], c[32], d[32], e[32];
            fputs("| ", f);
            md_text(f, s->fleets[i].name);
            fprintf(f, " | %s | %s | %s | %s | %s |\n", report_fmt(q[0], a, 32),
                    report_fmt(q[1], b, 32), report_fmt(q[2], c, 32), report_fmt(j[0], d, 32),
                    report_fmt(j[2], e, 32));
        }
    }

    if (s->optimize.line > 0) {
        fputs("\n## Optimizer\n\nCandidates: the template fleet ", f);
        md_text(f, s->optimize.v[OPK_FLEET].text);
        fprintf(f, " with each chip, sized for the workload, ranked by %s",
                s->optimize.v[OPK_OBJECTIVE].text);
        if (s->optimize.v[OPK_POWER_CAP_MW].origin != ORIG_NONE)
            fprintf(f, "; facility power at most %s MW",
                    report_fmt(s->optimize.v[OPK_POWER_CAP_MW].num, num, sizeof num));
        if (s->optimize.v[OPK_BUDGET_USD_PER_DAY].origin != ORIG_NONE)
            fprintf(f, "; at most %s USD per window",
                    report_fmt(s->optimize.v[OPK_BUDGET_USD_PER_DAY].num, num, sizeof num));
        fputs(".\n\n| rank | candidate | chip | chips | usd_per_m_output | usd_per_m_blended | "
              "facility_power_kw | usd_per_day |\n|---:|---|---|---:|---:|---:|---:|---:|\n",
              f);
        for (int i = 0; i < s->n_fleets; i++) {
            if (!s->fleets[i].candidate)
                continue;
            const MetricSet *m = &res[i].metrics;
            char a[32], b[32], c[32], d[32], e[32];
            fprintf(f, "| %s | ", m->has[MET_OPTIMIZE_RANK]
                                      ? report_fmt(m->value[MET_OPTIMIZE_RANK], num, sizeof num)
                                      : "infeasible");
            md_text(f, s->fleets[i].name);
            fputs(" | ", f);
            md_text(f, s->fleets[i].chip.name);
#define V(id, buf) (m->has[id] ? report_fmt(m->value[id], buf, 32) : "n/a")
            fprintf(f, " | %s | %s | %s | %s | %s |\n", V(MET_CHIPS, a), V(MET_USD_PER_M_OUTPUT, b),
                    V(MET_USD_PER_M_BLENDED, c), V(MET_FACILITY_POWER_KW, d),
                    V(MET_USD_PER_DAY, e));
#undef V
        }
    }

    int warned = 0;
    for (int i = 0; i < s->n_fleets; i++)
        if (res[i].over_capacity)
            warned = 1;
    if (s->n_warnings || warned) {
        fputs("\n## Warnings\n\n", f);
        for (int i = 0; i < s->n_warnings; i++) {
            fputs("- ", f);
            md_text(f, s->warnings[i]);
            fputc('\n', f);
        }
        for (int i = 0; i < s->n_fleets; i++)
            if (res[i].over_capacity) {
                fputs("- fleet ", f);
                md_text(f, s->fleets[i].name);
                fprintf(f, " is too small: it needs utilization %s and serves only %s of the "
                           "tokens; per-token figures count served tokens only.\n",
                        report_fmt(res[i].metrics.value[MET_UTILIZATION_NEEDED], num, sizeof num),
                        report_fmt(res[i].metrics.value[MET_SERVED_SHARE], num, sizeof num));
            }
    }

    fputs("\n## Workload\n\n| key | value | unit | from |\n|---|---:|---|---|\n", f);
    for (int k = 0; k < WK_COUNT; k++)
        md_value_row(f, scn_workload_key((WorkloadKey)k), &s->wl[k],
                     report_key_unit(scn_workload_key((WorkloadKey)k)));

    for (int i = 0; i < s->n_fleets; i++) {
        const ScnFleet *fl = &s->fleets[i];
        const ScnModel *m = &s->models[fl->model];
        const MetricSet *ms = &res[i].metrics;
        fputs("\n## Fleet ", f);
        md_text(f, fl->name);
        fputs("\n\nChip ", f);
        md_text(f, fl->chip.name);
        fputs(", model ", f);
        md_text(f, m->name);
        fprintf(f, ", throughput `%s`, cost `%s`, energy source `%s`.\n\n",
                scn_throughput_name(fl->throughput), fl->rent ? "rent" : "own",
                fl->energy_source);
        if (res[i].perf.roofline) {
            const RoofResult *ro = &res[i].perf.roof;
            fprintf(f, "Roofline: %d chip%s per instance%s, batch %d (bound: %s; memory holds "
                       "%d), decode step %s ms = max(compute %s, memory %s) + communication %s "
                       "+ overhead.\n\n",
                    ro->chips_per_instance, ro->chips_per_instance == 1 ? "" : "s",
                    fl->v[FK_CHIPS_PER_INSTANCE].origin == ORIG_FILE
                        ? ""
                        : " (the fewest that hold the weights and meet the TTFT SLO)",
                    ro->batch, ro->bound, ro->max_batch_memory,
                    report_fmt(ro->step_ms, num, sizeof num),
                    report_fmt(ro->compute_ms, num2, sizeof num2),
                    report_fmt(ro->memory_ms, num3, sizeof num3),
                    report_fmt(ro->comm_ms, num4, sizeof num4));
        }
        fputs(mc ? "| metric | mean | P5 | P95 | unit |\n|---|---:|---:|---:|---|\n"
                 : "| metric | value | unit |\n|---|---:|---|\n",
              f);
        for (int k = 0; k < MET_COUNT; k++) {
            const MetricInfo *mi = met_info((MetricId)k);
            fprintf(f, "| %s | %s |", mi->name,
                    ms->has[k] ? report_fmt(ms->value[k], num, sizeof num) : "n/a");
            if (mc) {
                int p = pct_index(k);
                const double *q = p >= 0 ? mc->pct + ((size_t)i * MC_N_PCT + (size_t)p) * 3 : NULL;
                fprintf(f, " %s | %s |", q ? report_fmt(q[0], num2, sizeof num2) : "",
                        q ? report_fmt(q[2], num3, sizeof num3) : "");
            }
            fprintf(f, " %s |\n", mi->unit);
        }
        if (mc && mc->n_bars[i] > 0) {
            fputs("\nSensitivity of usd_per_m_output (tornado): each uncertain input at its P10 and "
                  "P90, the others at their medians, largest swing first.\n\n| input | P10 | P90 | "
                  "usd_per_m_output at P10 | at P90 | swing |\n|---|---:|---:|---:|---:|---:|\n",
                  f);
            for (int b = 0; b < mc->n_bars[i]; b++) {
                const McTornadoBar *t = &mc->tornado[(size_t)i * (size_t)mc->n_dists + (size_t)b];
                char a[32], c[32], d[32], e[32], g[32];
                fputs("| ", f);
                md_text(f, t->input);
                fprintf(f, " | %s | %s | %s | %s | %s |\n", report_fmt(t->low_x, a, 32),
                        report_fmt(t->high_x, c, 32), report_fmt(t->low_value, d, 32),
                        report_fmt(t->high_value, e, 32),
                        report_fmt(fabs(t->high_value - t->low_value), g, 32));
            }
        }
        fputs("\nInputs used:\n\n| key | value | unit | from |\n|---|---:|---|---|\n", f);
        for (int k = 0; k < FK_COUNT; k++) {
            if (k == FK_CHIPS_PER_INSTANCE && res[i].perf.roofline &&
                fl->v[k].origin != ORIG_FILE)
                continue; /* the roofline chose it: see the line above and the metrics */
            md_value_row(f, scn_fleet_key((FleetKey)k), &fl->v[k],
                         report_key_unit(scn_fleet_key((FleetKey)k)));
        }
        for (int k = 0; k < CK_COUNT; k++) {
            char key[64];
            snprintf(key, sizeof key, "chip.%s", scn_chip_key((ChipKey)k));
            md_value_row(f, key, &fl->chip.v[k], report_key_unit(scn_chip_key((ChipKey)k)));
        }
        for (int k = 0; k < MK_COUNT; k++) {
            char key[64];
            snprintf(key, sizeof key, "model.%s", scn_model_key((ModelKey)k));
            md_value_row(f, key, &m->v[k], report_key_unit(scn_model_key((ModelKey)k)));
        }
        if (m->has_shape)
            fprintf(f, "| model parameters from shape (total / active) | %s / ",
                    report_fmt(m->params_total, num, sizeof num));
        if (m->has_shape)
            fprintf(f, "%s | parameters | derived |\n",
                    report_fmt(m->params_active, num, sizeof num));
        if (fl->pricing >= 0) {
            const ScnPricing *p = &s->pricings[fl->pricing];
            for (int k = 0; k < PK_COUNT; k++) {
                char key[64];
                snprintf(key, sizeof key, "pricing.%s", scn_pricing_key((PricingKey)k));
                md_value_row(f, key, &p->v[k], "USD/Mtok");
            }
        }
    }

    fputs("\n## Catalog rows used\n\n| catalog | row | where | source | as of | confidence "
          "|\n|---|---|---|---|---|---|\n",
          f);
    const ScnCatalogs *c = s->cats;
    for (int i = 0; i < s->n_fleets; i++) {
        const ScnFleet *fl = &s->fleets[i];
        int dup = 0;
        for (int j = 0; j < i; j++)
            dup |= s->fleets[j].chip.cat_row == fl->chip.cat_row;
        if (!dup)
            md_catalog_row(f, "chips", &c->chips, fl->chip.cat_row);
        dup = 0;
        for (int j = 0; j < i; j++)
            dup |= s->fleets[j].elec_row == fl->elec_row;
        if (!dup)
            md_catalog_row(f, "electricity", &c->electricity, fl->elec_row);
    }
    for (int i = 0; i < s->n_models; i++)
        md_catalog_row(f, "models", &c->models, s->models[i].cat_row);
    for (int i = 0; i < s->n_pricings; i++)
        md_catalog_row(f, "api_prices", &c->api_prices, s->pricings[i].cat_row);
    fputs("\nConfidence: P primary source, S secondary report, E estimate, D derived.\n", f);
}

/* The comparison: usd_per_m_output and usd_per_day relative to the baseline, break-evens. */
/* The sweep's usd_per_m_output per point and fleet (rows come point by point, fleets in order
 * within a point: sweep.c), at most REPORT_SWEEP_ROWS points; all of them are in sweep_points. */
#define REPORT_SWEEP_ROWS 200
static void write_sweep_md(FILE *f, const Scenario *s, const SwpResult *sw)
{
    const SwpPlan *p = sw->plan;
    int two = p->ys != NULL;
    long points = (long)p->nx * p->ny;
    char b[32];
    fputs("\n## Sweep\n\nusd_per_m_output (USD/Mtok) of every fleet as ", f);
    md_text(f, p->param);
    if (two) {
        fputs(" and ", f);
        md_text(f, p->param2);
    }
    fputs(two ? " vary" : " varies", f);
    fputs(", every other input at its central value", f);
    if (points > REPORT_SWEEP_ROWS)
        fprintf(f, "; the first %d of %ld points (all in table sweep_points)", REPORT_SWEEP_ROWS,
                points);
    fputs(". The plot price_curve (heatmap_F for two inputs) draws it.\n\n| ", f);
    md_text(f, p->param);
    if (two) {
        fputs(" | ", f);
        md_text(f, p->param2);
    }
    fputs(" |", f);
    for (int i = 0; i < s->n_fleets; i++) {
        fputc(' ', f);
        md_text(f, s->fleets[i].name);
        fputs(" |", f);
    }
    fputs(two ? "\n|---:|---:|" : "\n|---:|", f);
    for (int i = 0; i < s->n_fleets; i++)
        fputs("---:|", f);
    long shown = 0;
    for (long r = 0; r < sw->n_rows; r++) {
        const SwpRow *row = &sw->rows[r];
        if (row->metric != MET_USD_PER_M_OUTPUT)
            continue;
        if (row->fleet == 0) {
            if (shown++ >= REPORT_SWEEP_ROWS)
                break;
            fprintf(f, "\n| %s |", report_fmt(row->x, b, sizeof b));
            if (two)
                fprintf(f, " %s |", report_fmt(row->y, b, sizeof b));
        }
        fprintf(f, " %s |", row->has_value ? report_fmt(row->value, b, sizeof b) : "n/a");
    }
    fputc('\n', f);
}

static void write_compare_md(FILE *f, const Scenario *s, const FleetResult *res,
                             const CmpResult *cmp)
{
    const MetricSet *base = &res[cmp->baseline].metrics;
    fputs("\n## Comparison\n\nBaseline: ", f);
    md_text(f, s->fleets[cmp->baseline].name);
    fputs(" (central values).\n\n| fleet | usd_per_m_output / baseline | usd_per_day / baseline |",
          f);
    for (int k = 0; k < cmp->n_keys; k++) {
        fputs(" ", f);
        md_text(f, cmp->metric[k]);
        fputs(" |", f);
    }
    fputs("\n|---|---:|---:|", f);
    for (int k = 0; k < cmp->n_keys; k++)
        fputs("---:|", f);
    fputc('\n', f);
    for (int i = 0; i < s->n_fleets; i++) {
        if (i == cmp->baseline)
            continue;
        const MetricSet *m = &res[i].metrics;
        char a[32], b[32];
        fputs("| ", f);
        md_text(f, s->fleets[i].name);
        MetricId ids[2] = {MET_USD_PER_M_OUTPUT, MET_USD_PER_DAY};
        char *bufs[2] = {a, b};
        for (int j = 0; j < 2; j++)
            fprintf(f, " | %s",
                    m->has[ids[j]] && base->has[ids[j]] && base->value[ids[j]] != 0
                        ? report_fmt(m->value[ids[j]] / base->value[ids[j]], bufs[j], 32)
                        : "n/a");
        fputs(" |", f);
        for (int k = 0; k < cmp->n_keys; k++) {
            double v = cmp->breakeven[(size_t)k * (size_t)s->n_fleets + (size_t)i];
            char c[32];
            fprintf(f, " %s |", isnan(v) ? "none in range" : report_fmt(v, c, 32));
        }
        fputc('\n', f);
    }
}

/* ---- metrics.csv ----------------------------------------------------------------------- */

void report_csv_text(FILE *f, const char *text)
{
    char *s = txt_inert_dup(text ? text : "");
    if (!s)
        return;
    /* a leading = + - @ would start a spreadsheet formula: a quote makes it text */
    if (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@') {
        size_t n = strlen(s);
        char *q = malloc(n + 2);
        if (q) {
            q[0] = '\'';
            memcpy(q + 1, s, n + 1);
            csv_fwrite(f, q, n + 1);
        }
        free(q);
    } else {
        csv_fwrite(f, s, strlen(s));
    }
    free(s);
}

static void write_csv(FILE *f, const Scenario *s, const FleetResult *res, const CmpResult *cmp,
                      const QstResult *ans, int digits)
{
    fputs("fleet,metric,value,unit\n", f);
    for (int i = 0; i < s->n_fleets; i++)
        for (int k = 0; k < MET_COUNT; k++) {
            const MetricInfo *mi = met_info((MetricId)k);
            report_csv_text(f, s->fleets[i].name);
            fputc(',', f);
            report_csv_text(f, mi->name);
            fputc(',', f);
            if (res[i].metrics.has[k])
                fprintf(f, "%.*g", digits, res[i].metrics.value[k]);
            fputc(',', f);
            report_csv_text(f, mi->unit);
            fputc('\n', f);
        }
    for (int i = 0; cmp && i < s->n_fleets; i++)
        for (int k = 0; k < cmp->n_keys; k++) {
            double v = cmp->breakeven[(size_t)k * (size_t)s->n_fleets + (size_t)i];
            const char *key = strrchr(cmp->keys[k], '.');
            report_csv_text(f, s->fleets[i].name);
            fputc(',', f);
            report_csv_text(f, cmp->metric[k]);
            fputc(',', f);
            if (!isnan(v))
                fprintf(f, "%.*g", digits, v);
            fputc(',', f);
            report_csv_text(f, report_key_unit(key ? key + 1 : cmp->keys[k]));
            fputc('\n', f);
        }
    for (int i = 0; ans && i < ans->n_rows; i++) {
        const QstRow *r = &ans->rows[i];
        report_csv_text(f, r->fleet);
        fputc(',', f);
        report_csv_text(f, r->metric);
        fputc(',', f);
        if (r->has_value)
            fprintf(f, "%.*g", digits, r->value);
        fputc(',', f);
        report_csv_text(f, r->unit);
        fputc('\n', f);
    }
}

int report_write_scenario(const char *dir, const Scenario *s, const FleetResult *results,
                          const ReportMc *mc, const CmpResult *cmp, const SwpResult *sweep,
                          const QstResult *ans, int64_t run_id, int csv_digits, TsErr *err)
{
    char tmp[4096];
    FILE *f = open_tmp(dir, "report.md", tmp, sizeof tmp, err);
    if (!f)
        return err->code;
    write_md(f, s, results, mc, ans, run_id);
    if (sweep)
        write_sweep_md(f, s, sweep);
    if (cmp)
        write_compare_md(f, s, results, cmp);
    if (commit_file(f, tmp, dir, "report.md", err))
        return err->code;
    f = open_tmp(dir, "metrics.csv", tmp, sizeof tmp, err);
    if (!f)
        return err->code;
    write_csv(f, s, results, cmp, ans, csv_digits);
    return commit_file(f, tmp, dir, "metrics.csv", err);
}
