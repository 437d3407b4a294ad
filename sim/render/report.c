/* report: Markdown and CSV output of a scenario run, rendered from the run as stored (a
 * StoredRun: nothing else is read, so a run renders the same whenever it is rendered). Text
 * that comes from the scenario (description, names) is escaped for Markdown tables; CSV text
 * cells that a spreadsheet would run as a formula are quoted with a leading apostrophe. Files
 * appear whole or not at all (temporary name, then rename). It computes nothing. */
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

#include "sim/render/report_measure.h"
#include "sim/render/report_serving.h"
#include "sim/text/text.h"

void report_md_text(FILE *f, const char *text)
{
    char *flat = txt_dup(text ? text : ""); /* one line: a catalog note may hold newlines */
    for (char *c = flat; c && *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
    char *inert = txt_inert_dup(flat);
    free(flat);
    for (const char *s = inert; s && *s; s++) {
        switch (*s) {
        case '|':
            fputs("\\|", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '\\':
        case '`':
        case '*':
        case '[':
        case ']':
        case '#':
            fputc('\\', f);
            fputc(*s, f);
            break;
        default:
            fputc(*s, f);
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

/* The unit a key's name carries, for the inputs tables. */
const char *report_key_unit(const char *key)
{
    static const struct {
        const char *suffix, *unit;
    } units[] = {
        {"_usd_per_kw_month", "USD/kW/month"},
        {"_usd_per_chip_hour", "USD/chip-h"},
        {"usd_per_kwh", "USD/kWh"},
        {"_usd", "USD"},
        {"_tflops", "TFLOPS"},
        {"_tb_s", "TB/s"},
        {"_gb_s", "GB/s"},
        {"_gb", "GB"},
        {"_w_per_chip", "W"},
        {"_w", "W"},
        {"_ms", "ms"},
        {"tok_s_per_chip", "tok/s/chip"},
        {"_tokens_per_day", "tokens/window"},
        {"_per_day", "per window"},
        {"_tokens_per_request", "tokens/request"},
        {"_tokens", "tokens"},
        {"g_co2_per_kwh", "gCO2/kWh"},
        {"hours", "h"},
        {"years", "years"},
        {"_bytes", "bytes"},
        {"params_", "parameters"},
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

/* The stored value of a fleet's metric formatted, or "n/a" when absent or NULL. */
static const char *metric_cell(const StoredRun *r, const char *fleet, const char *metric, char *buf,
                               int size)
{
    return txt_fmt(store_run_metric_num(r, fleet, metric), buf, size);
}

void report_md_input_row(FILE *f, const StoredInput *in)
{
    char num[64];
    fputs("| ", f);
    report_md_text(f, in->key);
    fputs(" | ", f);
    if (in->text)
        report_md_text(f, in->text);
    else
        fputs(txt_fmt(in->value, num, sizeof num), f);
    fprintf(f, " | %s | ", in->unit);
    report_md_text(f, in->origin);
    fputs(" |\n", f);
}

/* Every input row of fleet (or "-") and part, in the order stored. */
static void md_input_rows(FILE *f, const StoredRun *r, const char *fleet, const char *part)
{
    for (int i = 0; i < r->n_inputs; i++)
        if (strcmp(r->inputs[i].fleet, fleet) == 0 && strcmp(r->inputs[i].part, part) == 0)
            report_md_input_row(f, &r->inputs[i]);
}

static void md_source_row(FILE *f, const StoredSource *src)
{
    fprintf(f, "| %s | ", src->catalog);
    report_md_text(f, src->row);
    fprintf(f, " | %s | ", src->place);
    report_md_text(f, src->source);
    fputs(" | ", f);
    report_md_text(f, src->as_of);
    fputs(" | ", f);
    report_md_text(f, src->confidence);
    fputs(" |\n", f);
}

static const char *const SUMMARY[] = {
    "chips",       "utilization_needed", "usd_per_m_output",  "usd_per_m_input",
    "usd_per_day", "j_per_output_token", "facility_power_kw", "gross_margin",
};

/* Whether metric is one of the run's Monte Carlo percentile metrics. */
static int is_pct_metric(const StoredRun *r, const char *metric)
{
    for (int i = 0; i < r->n_inputs; i++) {
        const StoredInput *in = &r->inputs[i];
        if (strcmp(in->part, "montecarlo") == 0 && strcmp(in->key, "percentile_metric") == 0 &&
            in->text && strcmp(in->text, metric) == 0)
            return 1;
    }
    return 0;
}

static void write_conclusion(FILE *f, const StoredRun *r)
{
    const StoredNote *c = store_run_note(r, "conclusion", "-");
    if (!c || !c->text[0])
        return;
    fputs("## Conclusion\n\n", f);
    const StoredNote *q = store_run_note(r, "question", "-");
    if (q) {
        fputs("**Question:** ", f);
        report_md_text(f, q->text);
        fputs("\n\n", f);
    }
    /* generated text: names are validated (letters, digits, - _ .) and set in backticks */
    fputs(c->text, f);
    fputs("\n\nThis paragraph is written by the program from the computed numbers: each number "
          "in it is a row of table metrics (and of metrics.csv below, fleet \"-\" for results "
          "of no fleet).\n\n",
          f);
}

static void write_summary(FILE *f, const StoredRun *r, int mc)
{
    const size_t n_sum = sizeof SUMMARY / sizeof SUMMARY[0];
    fputs("## Summary\n\n| fleet | chip | model | throughput | cost |", f);
    for (size_t i = 0; i < n_sum; i++) {
        const StoredMetric *m =
            r->n_fleets > 0 ? store_run_metric(r, r->fleets[0].fleet, SUMMARY[i]) : NULL;
        /* a mean of whole chips says it is a mean */
        fprintf(f, mc ? " %s (%s, mean) |" : " %s (%s) |", SUMMARY[i], m ? m->unit : "");
    }
    fputs("\n|---|---|---|---|---|", f);
    for (size_t i = 0; i < n_sum; i++)
        fputs("---:|", f);
    fputc('\n', f);
    for (int i = 0; i < r->n_fleets; i++) {
        const StoredFleet *fl = &r->fleets[i];
        char num[64];
        fputs("| ", f);
        report_md_text(f, fl->fleet);
        fputs(" | ", f);
        report_md_text(f, fl->chip);
        fputs(" | ", f);
        report_md_text(f, fl->model);
        fprintf(f, " | %s | %s |", fl->throughput_mode, fl->cost_mode);
        for (size_t k = 0; k < n_sum; k++)
            fprintf(f, " %s |", metric_cell(r, fl->fleet, SUMMARY[k], num, sizeof num));
        fputc('\n', f);
    }
    fputs("\nEnergy figures are modeled from power figures (`energy_source` per fleet below), "
          "never measured here.\n",
          f);
}

static void write_mc(FILE *f, const StoredRun *r)
{
    char a[32], b[32], c[32], d[32], e[32];
    fprintf(f,
            "\nMonte Carlo: %.0f samples (seed %lld); values are sample means, with "
            "P5 to P95 where shown; %.0f draws were clamped into their keys' valid ranges.",
            store_run_input_num(r, "-", "montecarlo", "samples"), (long long)r->seed,
            store_run_input_num(r, "-", "montecarlo", "clamped"));
    for (int i = 0; i < r->n_fleets; i++)
        if (r->fleets[i].failed_samples > 0) {
            fputs(" Fleet ", f);
            report_md_text(f, r->fleets[i].fleet);
            fprintf(f, " could not be priced in %lld samples (left out).",
                    (long long)r->fleets[i].failed_samples);
        }
    fputs("\n\n| fleet | usd_per_m_output P5 | P50 | P95 (USD/Mtok) | j_per_output_token P5 "
          "| P95 (J/token) |\n|---|---:|---:|---:|---:|---:|\n",
          f);
    for (int i = 0; i < r->n_fleets; i++) {
        const StoredMetric *q = store_run_metric(r, r->fleets[i].fleet, "usd_per_m_output");
        const StoredMetric *j = store_run_metric(r, r->fleets[i].fleet, "j_per_output_token");
        int hq = q && q->has_pct, hj = j && j->has_pct;
        fputs("| ", f);
        report_md_text(f, r->fleets[i].fleet);
        fprintf(f, " | %s | %s | %s | %s | %s |\n", hq ? txt_fmt(q->p5, a, 32) : "n/a",
                hq ? txt_fmt(q->p50, b, 32) : "n/a", hq ? txt_fmt(q->p95, c, 32) : "n/a",
                hj ? txt_fmt(j->p5, d, 32) : "n/a", hj ? txt_fmt(j->p95, e, 32) : "n/a");
    }
}

static void write_optimizer(FILE *f, const StoredRun *r)
{
    char num[64];
    const StoredInput *fleet = store_run_input(r, "-", "optimize", "fleet");
    const StoredInput *objective = store_run_input(r, "-", "optimize", "objective");
    fputs("\n## Optimizer\n\nCandidates: the template fleet ", f);
    report_md_text(f, fleet && fleet->text ? fleet->text : "");
    fprintf(f, " with each chip, sized for the workload, ranked by %s",
            objective && objective->text ? objective->text : "");
    double cap = store_run_input_num(r, "-", "optimize", "power_cap_mw");
    double budget = store_run_input_num(r, "-", "optimize", "budget_usd_per_day");
    if (!isnan(cap))
        fprintf(f, "; facility power at most %s MW", txt_fmt(cap, num, sizeof num));
    if (!isnan(budget))
        fprintf(f, "; at most %s USD per window", txt_fmt(budget, num, sizeof num));
    fputs(".\n\n| rank | candidate | chip | chips | usd_per_m_output | usd_per_m_blended | "
          "facility_power_kw | usd_per_day |\n|---:|---|---|---:|---:|---:|---:|---:|\n",
          f);
    for (int i = 0; i < r->n_fleets; i++) {
        const StoredFleet *fl = &r->fleets[i];
        if (!fl->candidate)
            continue;
        char a[32], b[32], c[32], d[32], e[32];
        const StoredMetric *rank = store_run_metric(r, fl->fleet, "optimize_rank");
        fprintf(f, "| %s | ",
                rank && rank->has_value ? txt_fmt(rank->value, num, sizeof num) : "infeasible");
        report_md_text(f, fl->fleet);
        fputs(" | ", f);
        report_md_text(f, fl->chip);
        fprintf(f, " | %s | %s | %s | %s | %s |\n", metric_cell(r, fl->fleet, "chips", a, 32),
                metric_cell(r, fl->fleet, "usd_per_m_output", b, 32),
                metric_cell(r, fl->fleet, "usd_per_m_blended", c, 32),
                metric_cell(r, fl->fleet, "facility_power_kw", d, 32),
                metric_cell(r, fl->fleet, "usd_per_day", e, 32));
    }
}

static void write_warnings(FILE *f, const StoredRun *r)
{
    int any = 0;
    for (int i = 0; i < r->n_notes; i++)
        any |= strcmp(r->notes[i].kind, "warning") == 0;
    for (int i = 0; i < r->n_fleets; i++)
        any |= r->fleets[i].over_capacity;
    if (!any)
        return;
    char num[64], num2[64];
    fputs("\n## Warnings\n\n", f);
    for (int i = 0; i < r->n_notes; i++)
        if (strcmp(r->notes[i].kind, "warning") == 0) {
            fputs("- ", f);
            report_md_text(f, r->notes[i].text);
            fputc('\n', f);
        }
    for (int i = 0; i < r->n_fleets; i++)
        if (r->fleets[i].over_capacity) {
            fputs("- fleet ", f);
            report_md_text(f, r->fleets[i].fleet);
            fprintf(f,
                    " is too small: it needs utilization %s and serves only %s of the "
                    "tokens; per-token figures count served tokens only.\n",
                    metric_cell(r, r->fleets[i].fleet, "utilization_needed", num, sizeof num),
                    metric_cell(r, r->fleets[i].fleet, "served_share", num2, sizeof num2));
        }
}

/* The deployment search of a roofline fleet: why the chosen size won, then the frontier. */
static void write_deployments(FILE *f, const StoredRun *r, const char *fleet)
{
    const StoredDeployment *win = NULL, *fewest = NULL, *largest = NULL;
    int tried = 0, feasible = 0;
    for (int i = 0; i < r->n_deployments; i++) {
        const StoredDeployment *d = &r->deployments[i];
        if (strcmp(d->fleet, fleet) != 0)
            continue;
        tried++;
        if (!d->feasible)
            continue;
        feasible++;
        if (!fewest)
            fewest = d;
        largest = d;
        if (d->chosen)
            win = d;
    }
    char a[32], b[32], c[32], e[32];
    fprintf(f, "Deployment search: %d instance size%s tried, %d meeting the SLOs.", tried,
            tried == 1 ? "" : "s", feasible);
    if (win) {
        fprintf(f, " %d chips per instance won: the lowest usd_per_m_blended, %s USD/Mtok.",
                win->chips_per_instance, txt_fmt(win->usd_per_m_blended, a, 32));
        if (fewest && fewest != win)
            fprintf(f,
                    " The fewest that hold the weights, %d, reach batch %d (bound: %s) and %s "
                    "tok/s per chip (%s USD/Mtok blended).",
                    fewest->chips_per_instance, fewest->batch, fewest->bound ? fewest->bound : "",
                    txt_fmt(fewest->decode_tok_s_per_chip, b, 32),
                    txt_fmt(fewest->usd_per_m_blended, c, 32));
        if (largest && largest != win)
            fprintf(f, " The largest, %d, reach %s tok/s per chip (%s USD/Mtok blended).",
                    largest->chips_per_instance, txt_fmt(largest->decode_tok_s_per_chip, b, 32),
                    txt_fmt(largest->usd_per_m_blended, e, 32));
    }
    fputs("\n\n| chips per instance | batch | bound | tpot_ms | ttft_ms | decode_tok_s_per_chip | "
          "usd_per_m_output | usd_per_m_blended |\n|---:|---:|---|---:|---:|---:|---:|---:|\n",
          f);
    for (int i = 0; i < r->n_deployments; i++) {
        const StoredDeployment *d = &r->deployments[i];
        if (strcmp(d->fleet, fleet) != 0)
            continue;
        if (!d->feasible) {
            fprintf(f, "| %d | - | %s | | | | | |\n", d->chips_per_instance,
                    d->why ? d->why : "infeasible");
            continue;
        }
        char t1[32], t2[32], t3[32], t4[32], t5[32];
        fprintf(f,
                d->chosen ? "| **%d** | %d | %s | %s | %s | %s | %s | **%s** |\n"
                          : "| %d | %d | %s | %s | %s | %s | %s | %s |\n",
                d->chips_per_instance, d->batch, d->bound ? d->bound : "",
                txt_fmt(d->tpot_ms, t1, 32), txt_fmt(d->ttft_ms, t2, 32),
                txt_fmt(d->decode_tok_s_per_chip, t3, 32), txt_fmt(d->usd_per_m_output, t4, 32),
                txt_fmt(d->usd_per_m_blended, t5, 32));
    }
    fputc('\n', f);
}

/* A simulated fleet's day (metric rows of part "serve"): sizing, latencies and load. */
static void write_serving(FILE *f, const StoredRun *r, const char *fleet)
{
    const StoredMetric *rep = store_run_metric(r, fleet, "replicas");
    if (!rep || strcmp(rep->part, "serve") != 0)
        return;
    char a[32], b[32], c[32], d[32];
    int sized = store_run_metric_num(r, fleet, "sized_at_peak_hour") > 0;
    fprintf(f, "Serving under load (simulated, `[traffic]`): %s replica%s of %s chip%s",
            txt_fmt(store_run_metric_num(r, fleet, "replicas"), a, 32),
            store_run_metric_num(r, fleet, "replicas") == 1 ? "" : "s",
            txt_fmt(store_run_metric_num(r, fleet, "chips_per_instance"), b, 32),
            store_run_metric_num(r, fleet, "chips_per_instance") == 1 ? "" : "s");
    if (store_run_metric_num(r, fleet, "prefill_replicas") > 0)
        fprintf(f, " plus %s prefill replicas",
                txt_fmt(store_run_metric_num(r, fleet, "prefill_replicas"), c, 32));
    if (sized)
        fprintf(f,
                ", the fewest whose TTFT and TPOT meet the SLOs over the peak hour (there: "
                "TTFT %s ms, TPOT %s ms at the SLO percentile, busy %s)",
                txt_fmt(store_run_metric_num(r, fleet, "peak_hour_ttft_at_slo_ms"), a, 32),
                txt_fmt(store_run_metric_num(r, fleet, "peak_hour_tpot_at_slo_ms"), b, 32),
                txt_fmt(store_run_metric_num(r, fleet, "peak_hour_busy_share"), c, 32));
    else
        fputs(" (set by `replicas`)", f);
    fprintf(f,
            ". Over the window: %s requests, busy share %s, mean batch %s, SLO attainment %s; "
            "the chips are paid for all day.\n\n",
            txt_fmt(store_run_metric_num(r, fleet, "requests"), a, 32),
            txt_fmt(store_run_metric_num(r, fleet, "busy_share"), b, 32),
            txt_fmt(store_run_metric_num(r, fleet, "mean_batch"), c, 32),
            txt_fmt(store_run_metric_num(r, fleet, "slo_attainment"), d, 32));
    fputs("| latency | P50 | P90 | P99 | unit |\n|---|---:|---:|---:|---|\n", f);
    static const char *const L[] = {"ttft", "tpot", "itl", "e2e"};
    for (int k = 0; k < 4; k++) {
        char n50[32], n90[32], n99[32];
        snprintf(n50, sizeof n50, "%s_p50_ms", L[k]);
        snprintf(n90, sizeof n90, "%s_p90_ms", L[k]);
        snprintf(n99, sizeof n99, "%s_p99_ms", L[k]);
        fprintf(f, "| %s | %s | %s | %s | ms |\n", L[k],
                txt_fmt(store_run_metric_num(r, fleet, n50), a, 32),
                txt_fmt(store_run_metric_num(r, fleet, n90), b, 32),
                txt_fmt(store_run_metric_num(r, fleet, n99), c, 32));
    }
    fputc('\n', f);
}

/* A this-machine fleet timed by a calibration profile (step_model = calibrated): which one, and
 * the steady state it gives. Nothing when the fleet has none. */
static void write_calibrated(FILE *f, const StoredRun *r, const char *fleet)
{
    const StoredInput *id = store_run_input(r, fleet, "calibration", "id");
    if (!id)
        return;
    const StoredInput *prec = store_run_input(r, fleet, "calibration", "precision");
    const StoredInput *kv = store_run_input(r, fleet, "calibration", "kv_precision");
    char a[32], b[32], c[32];
    int threads = (int)store_run_input_num(r, fleet, "calibration", "threads");
    fprintf(f,
            "Calibrated step model: calibration %.0f (`tokensim calibrate` on measure run %.0f: "
            "%s weights, KV %s, %d thread%s; held-out median |error| %s%%), the engine's "
            "closed forms for this preset timed by it: decode batch %.0f (the fastest of 1 to "
            "%.0f within the TPOT SLO), a step %s ms; one prompt prefilled in %s ms. Predicted, "
            "not measured.\n\n",
            store_run_input_num(r, fleet, "calibration", "id"),
            store_run_input_num(r, fleet, "calibration", "run_id"),
            prec && prec->text ? prec->text : "?", kv && kv->text ? kv->text : "?", threads,
            threads == 1 ? "" : "s",
            txt_fmt(100 * store_run_input_num(r, fleet, "calibration", "test_median_err"), a, 32),
            store_run_input_num(r, fleet, "calibration", "batch"),
            store_run_input_num(r, fleet, "calibration", "max_batch"),
            txt_fmt(store_run_input_num(r, fleet, "calibration", "tpot_ms"), b, 32),
            txt_fmt(store_run_input_num(r, fleet, "calibration", "ttft_ms"), c, 32));
}

static void write_fleet(FILE *f, const StoredRun *r, const StoredFleet *fl, int mc)
{
    char num[64], num2[64], num3[64], num4[64];
    fputs("\n## Fleet ", f);
    report_md_text(f, fl->fleet);
    fputs("\n\nChip ", f);
    report_md_text(f, fl->chip);
    fputs(", model ", f);
    report_md_text(f, fl->model);
    fprintf(f, ", throughput `%s`, cost `%s`, energy source `%s`.\n\n", fl->throughput_mode,
            fl->cost_mode, fl->energy_source);
    int searched = 0;
    for (int i = 0; i < r->n_deployments; i++)
        searched |= strcmp(r->deployments[i].fleet, fl->fleet) == 0;
    if (fl->bound) {
        int cpi = (int)store_run_input_num(r, fl->fleet, "roofline", "chips_per_instance");
        fprintf(
            f,
            "Roofline: %d chip%s per instance%s, batch %d (bound: %s; memory holds "
            "%d), decode step %s ms = max(compute %s, memory %s) + communication %s "
            "+ overhead.\n\n",
            cpi, cpi == 1 ? "" : "s",
            store_run_input(r, fl->fleet, "fleet", "chips_per_instance") ? ""
            : searched ? " (chosen by the deployment search below)"
                       : " (the fewest that hold the weights and meet the TTFT SLO)",
            (int)store_run_input_num(r, fl->fleet, "roofline", "batch"), fl->bound,
            (int)store_run_input_num(r, fl->fleet, "roofline", "max_batch_memory"),
            txt_fmt(store_run_input_num(r, fl->fleet, "roofline", "step_ms"), num, sizeof num),
            txt_fmt(store_run_input_num(r, fl->fleet, "roofline", "compute_ms"), num2, sizeof num2),
            txt_fmt(store_run_input_num(r, fl->fleet, "roofline", "memory_ms"), num3, sizeof num3),
            txt_fmt(store_run_input_num(r, fl->fleet, "roofline", "comm_ms"), num4, sizeof num4));
    }
    if (searched)
        write_deployments(f, r, fl->fleet);
    write_calibrated(f, r, fl->fleet);
    write_serving(f, r, fl->fleet);
    fputs(mc ? "| metric | mean | P5 | P95 | unit |\n|---|---:|---:|---:|---|\n"
             : "| metric | value | unit |\n|---|---:|---|\n",
          f);
    for (int k = 0; k < r->n_metrics; k++) {
        const StoredMetric *m = &r->metrics[k];
        if (strcmp(m->fleet, fl->fleet) != 0 || strcmp(m->part, "fleet") != 0)
            continue;
        fprintf(f, "| %s | %s |", m->metric,
                m->has_value ? txt_fmt(m->value, num, sizeof num) : "n/a");
        if (mc) {
            int pct = is_pct_metric(r, m->metric);
            fprintf(f, " %s | %s |",
                    pct ? (m->has_pct ? txt_fmt(m->p5, num2, sizeof num2) : "n/a") : "",
                    pct ? (m->has_pct ? txt_fmt(m->p95, num3, sizeof num3) : "n/a") : "");
        }
        fprintf(f, " %s |\n", m->unit);
    }
    int bars = 0;
    for (int b = 0; b < r->n_tornado; b++)
        bars += strcmp(r->tornado[b].fleet, fl->fleet) == 0;
    if (mc && bars > 0) {
        fputs("\nSensitivity of usd_per_m_output (tornado): each uncertain input at its P10 and "
              "P90, the others at their medians, largest swing first.\n\n| input | P10 | P90 | "
              "usd_per_m_output at P10 | at P90 | swing |\n|---|---:|---:|---:|---:|---:|\n",
              f);
        for (int b = 0; b < r->n_tornado; b++) {
            const StoredTornado *t = &r->tornado[b];
            if (strcmp(t->fleet, fl->fleet) != 0)
                continue;
            char a[32], c[32], d[32], e[32], g[32];
            fputs("| ", f);
            report_md_text(f, t->input);
            fprintf(f, " | %s | %s | %s | %s | %s |\n", txt_fmt(t->low_x, a, 32),
                    txt_fmt(t->high_x, c, 32), txt_fmt(t->low_value, d, 32),
                    txt_fmt(t->high_value, e, 32),
                    txt_fmt(fabs(t->high_value - t->low_value), g, 32));
        }
    }
    fputs("\nInputs used:\n\n| key | value | unit | from |\n|---|---:|---|---|\n", f);
    md_input_rows(f, r, fl->fleet, "fleet");
    md_input_rows(f, r, fl->fleet, "chip");
    md_input_rows(f, r, fl->fleet, "model");
    double total = store_run_input_num(r, fl->fleet, "shape", "params_total");
    if (!isnan(total)) {
        fprintf(f, "| model parameters from shape (total / active) | %s / ",
                txt_fmt(total, num, sizeof num));
        fprintf(
            f, "%s | parameters | derived |\n",
            txt_fmt(store_run_input_num(r, fl->fleet, "shape", "params_active"), num, sizeof num));
    }
    md_input_rows(f, r, fl->fleet, "pricing");
}

static void write_md(FILE *f, const StoredRun *r, int show_run_id)
{
    char num[64];
    int mc = store_run_input(r, "-", "montecarlo", "samples") != NULL;
    fputs("# ", f);
    report_md_text(f, r->name);
    fputs("\n\n", f);
    const StoredNote *desc = store_run_note(r, "description", "-");
    if (desc) {
        report_md_text(f, desc->text);
        fputs("\n\n", f);
    }
    const StoredNote *path = store_run_note(r, "path", "-");
    fputs("Scenario file: `", f);
    report_md_text(f, path ? path->text : "");
    fputs("`", f);
    if (show_run_id)
        fprintf(f, "; run %lld", (long long)r->id);
    fprintf(f, "; accounting window %s h. All money in US dollars; \"window\" is that window.\n\n",
            txt_fmt(store_run_input_num(r, "-", "scenario", "hours"), num, sizeof num));
    write_conclusion(f, r);
    write_summary(f, r, mc);
    if (mc)
        write_mc(f, r);
    if (store_run_input(r, "-", "optimize", "fleet"))
        write_optimizer(f, r);
    write_warnings(f, r);
    fputs("\n## Workload\n\n| key | value | unit | from |\n|---|---:|---|---|\n", f);
    md_input_rows(f, r, "-", "workload");
    for (int i = 0; i < r->n_fleets; i++)
        write_fleet(f, r, &r->fleets[i], mc);
    fputs("\n## Catalog rows used\n\n| catalog | row | where | source | as of | confidence "
          "|\n|---|---|---|---|---|---|\n",
          f);
    for (int i = 0; i < r->n_sources; i++)
        md_source_row(f, &r->sources[i]);
    fputs("\nConfidence: P primary source, S secondary report, E estimate, D derived.\n", f);
}

/* The sweep's usd_per_m_output per point and fleet (rows come point by point, fleets in order
 * within a point), at most REPORT_SWEEP_ROWS points; all of them are in sweep_points. */
#define REPORT_SWEEP_ROWS 200
static void write_sweep_md(FILE *f, const StoredRun *r)
{
    if (r->n_sweep == 0 || r->n_fleets == 0)
        return;
    const StoredSweepPoint *first = &r->sweep[0];
    int two = first->param2 != NULL;
    long points = (long)store_run_input_num(r, "-", "sweep", "points");
    char b[32];
    fputs("\n## Sweep\n\nusd_per_m_output (USD/Mtok) of every fleet as ", f);
    report_md_text(f, first->param);
    if (two) {
        fputs(" and ", f);
        report_md_text(f, first->param2);
    }
    fputs(two ? " vary" : " varies", f);
    fputs(", every other input at its central value", f);
    if (points > REPORT_SWEEP_ROWS)
        fprintf(f, "; the first %d of %ld points (all in table sweep_points)", REPORT_SWEEP_ROWS,
                points);
    fputs(". The plot price_curve (heatmap_F for two inputs) draws it.\n\n| ", f);
    report_md_text(f, first->param);
    if (two) {
        fputs(" | ", f);
        report_md_text(f, first->param2);
    }
    fputs(" |", f);
    for (int i = 0; i < r->n_fleets; i++) {
        fputc(' ', f);
        report_md_text(f, r->fleets[i].fleet);
        fputs(" |", f);
    }
    fputs(two ? "\n|---:|---:|" : "\n|---:|", f);
    for (int i = 0; i < r->n_fleets; i++)
        fputs("---:|", f);
    long shown = 0;
    for (long k = 0; k < r->n_sweep; k++) {
        const StoredSweepPoint *p = &r->sweep[k];
        if (strcmp(p->metric, "usd_per_m_output") != 0)
            continue;
        if (strcmp(p->fleet, r->fleets[0].fleet) == 0) {
            if (shown++ >= REPORT_SWEEP_ROWS)
                break;
            fprintf(f, "\n| %s |", txt_fmt(p->x, b, sizeof b));
            if (two)
                fprintf(f, " %s |", txt_fmt(p->y, b, sizeof b));
        }
        fprintf(f, " %s |", p->has_value ? txt_fmt(p->value, b, sizeof b) : "n/a");
    }
    fputc('\n', f);
}

/* The ratio of fleet's metric to the baseline's, or NULL. */
static const StoredComparison *ratio_of(const StoredRun *r, const char *fleet, const char *metric)
{
    for (int i = 0; i < r->n_comparisons; i++)
        if (strcmp(r->comparisons[i].fleet, fleet) == 0 &&
            strcmp(r->comparisons[i].metric, metric) == 0)
            return &r->comparisons[i];
    return NULL;
}

static void write_compare_md(FILE *f, const StoredRun *r)
{
    const StoredInput *base = store_run_input(r, "-", "compare", "baseline");
    if (!base || !base->text)
        return;
    fputs("\n## Comparison\n\nBaseline: ", f);
    report_md_text(f, base->text);
    fputs(" (central values).\n\n| fleet | usd_per_m_output / baseline | usd_per_day / baseline |",
          f);
    for (int i = 0; i < r->n_inputs; i++)
        if (strcmp(r->inputs[i].part, "compare") == 0 &&
            strcmp(r->inputs[i].key, "breakeven") == 0) {
            fputs(" ", f);
            report_md_text(f, r->inputs[i].text);
            fputs(" |", f);
        }
    fputs("\n|---|---:|---:|", f);
    for (int i = 0; i < r->n_inputs; i++)
        if (strcmp(r->inputs[i].part, "compare") == 0 && strcmp(r->inputs[i].key, "breakeven") == 0)
            fputs("---:|", f);
    fputc('\n', f);
    for (int i = 0; i < r->n_fleets; i++) {
        const char *name = r->fleets[i].fleet;
        if (strcmp(name, base->text) == 0)
            continue;
        char a[32], b[32];
        fputs("| ", f);
        report_md_text(f, name);
        const char *ids[2] = {"usd_per_m_output", "usd_per_day"};
        char *bufs[2] = {a, b};
        for (int j = 0; j < 2; j++) {
            const StoredComparison *c = ratio_of(r, name, ids[j]);
            fprintf(f, " | %s", c && c->has_ratio ? txt_fmt(c->ratio, bufs[j], 32) : "n/a");
        }
        fputs(" |", f);
        for (int k = 0; k < r->n_inputs; k++) {
            const StoredInput *in = &r->inputs[k];
            if (strcmp(in->part, "compare") != 0 || strcmp(in->key, "breakeven") != 0)
                continue;
            const StoredMetric *m = store_run_metric(r, name, in->text);
            char c[32];
            fprintf(f, " %s |", m && m->has_value ? txt_fmt(m->value, c, 32) : "none in range");
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

/* The rows of one part, in the order stored. */
static void write_csv_part(FILE *f, const StoredRun *r, const char *part, int digits)
{
    for (int i = 0; i < r->n_metrics; i++) {
        const StoredMetric *m = &r->metrics[i];
        if (strcmp(m->part, part) != 0)
            continue;
        report_csv_text(f, m->fleet);
        fputc(',', f);
        report_csv_text(f, m->metric);
        fputc(',', f);
        if (m->has_value)
            fprintf(f, "%.*g", digits, m->value);
        fputc(',', f);
        report_csv_text(f, m->unit);
        fputc('\n', f);
    }
}

void report_csv(FILE *f, const StoredRun *r, int digits)
{
    fputs("fleet,metric,value,unit\n", f);
    write_csv_part(f, r, "fleet", digits);
    write_csv_part(f, r, "serve", digits);
    write_csv_part(f, r, "compare", digits);
    write_csv_part(f, r, "question", digits);
    write_csv_part(f, r, "machine", digits);
    write_csv_part(f, r, "measure", digits);
}

void report_md(FILE *f, const StoredRun *r, int show_run_id)
{
    if (report_serving_run(r)) {
        report_serving_md(f, r);
        return;
    }
    if (report_measure_run(r)) {
        report_measure_md(f, r);
        return;
    }
    write_md(f, r, show_run_id);
    write_sweep_md(f, r);
    write_compare_md(f, r);
}

/* How the run renders (part "render" of its inputs): with its id, CSV to 10 figures. */
static int render_setting(const StoredRun *r, const char *key, int dflt)
{
    double v = store_run_input_num(r, "-", "render", key);
    return isnan(v) ? dflt : (int)v;
}

void report_md_stored(FILE *f, const StoredRun *r)
{
    report_md(f, r, render_setting(r, "show_run_id", 1));
}

int report_write_run(const char *dir, const StoredRun *r, TsErr *err)
{
    int show_run_id = render_setting(r, "show_run_id", 1);
    int csv_digits = render_setting(r, "csv_digits", 10);
    char tmp[4096];
    FILE *f = open_tmp(dir, "report.md", tmp, sizeof tmp, err);
    if (!f)
        return err->code;
    report_md(f, r, show_run_id);
    if (commit_file(f, tmp, dir, "report.md", err))
        return err->code;
    f = open_tmp(dir, "metrics.csv", tmp, sizeof tmp, err);
    if (!f)
        return err->code;
    report_csv(f, r, csv_digits);
    if (commit_file(f, tmp, dir, "metrics.csv", err))
        return err->code;
    if (!report_measure_run(r))
        return 0;
    f = open_tmp(dir, "results.json", tmp, sizeof tmp, err);
    if (!f)
        return err->code;
    report_measure_json(f, r);
    return commit_file(f, tmp, dir, "results.json", err);
}
