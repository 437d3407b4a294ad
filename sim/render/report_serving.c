/* report_serving: the two serving reports (see report_serving.h). The serve-bench run stores
 * its plan as inputs of part "serve", its summary as metric rows of its one fleet (the model)
 * and its requests; the validate --serving run stores its plan the same way, a row per model,
 * rate and quantity, and the median |error| as metric `median_abs_err` of fleet "-". */
#include "sim/render/report_serving.h"

#include <math.h>
#include <string.h>

#include "sim/render/report.h"
#include "sim/text/text.h"

int report_serving_run(const StoredRun *r)
{
    return r->n_served > 0 || r->n_checks > 0;
}

static const char *num(double v, char *buf)
{
    return txt_fmt(v, buf, 32);
}

/* The plan (inputs of part "serve") as a table. */
static void write_setup(FILE *f, const StoredRun *r)
{
    int any = 0;
    for (int i = 0; i < r->n_inputs; i++) {
        const StoredInput *in = &r->inputs[i];
        if (strcmp(in->part, "serve") != 0)
            continue;
        if (!any)
            fputs("| setting | value | unit | from |\n|---|---:|---|---|\n", f);
        any = 1;
        report_md_input_row(f, in);
    }
    if (any)
        fputc('\n', f);
}

static void write_bench(FILE *f, const StoredRun *r)
{
    const char *fleet = r->n_fleets > 0 ? r->fleets[0].fleet : "";
    char a[32], b[32], c[32];
    fputs("# serve-bench: ", f);
    report_md_text(f, fleet);
    fputs(" on this machine\n\n", f);
    fprintf(f,
            "Run %lld (%s). The real engine served these requests in real time behind the "
            "scheduler the simulator uses; every figure below is measured on this machine, "
            "the energy with meter `",
            (long long)r->id, r->started_at ? r->started_at : "");
    report_md_text(f, r->n_fleets > 0 ? r->fleets[0].energy_source : "");
    fputs("` (modeled: when it says so, the joules are a model of the CPU's power, not a "
          "meter's reading).\n\n## Setup\n\n",
          f);
    write_setup(f, r);
    fputs("## Latency\n\n| latency | P50 | P90 | P99 | unit |\n|---|---:|---:|---:|---|\n", f);
    static const char *const L[][2] = {{"ttft", "ms"}, {"tpot", "ms"}, {"itl", "ms"}, {"e2e", "s"}};
    static const char *const NAME[] = {"time to first token", "time per output token",
                                       "inter-token latency", "end to end"};
    for (int k = 0; k < 4; k++) {
        char n50[48], n90[48], n99[48];
        snprintf(n50, sizeof n50, "%s_p50_%s", L[k][0], L[k][1]);
        snprintf(n90, sizeof n90, "%s_p90_%s", L[k][0], L[k][1]);
        snprintf(n99, sizeof n99, "%s_p99_%s", L[k][0], L[k][1]);
        fprintf(f, "| %s | %s | %s | %s | %s |\n", NAME[k],
                num(store_run_metric_num(r, fleet, n50), a),
                num(store_run_metric_num(r, fleet, n90), b),
                num(store_run_metric_num(r, fleet, n99), c), L[k][1]);
    }
    long answered = 0, preempted = 0, in_tok = 0, out_tok = 0;
    double first = INFINITY, last = 0;
    for (int i = 0; i < r->n_served; i++) {
        const StoredServedRequest *q = &r->served[i];
        answered += isfinite(q->finish_s);
        preempted += q->preemptions > 0;
        in_tok += q->input_tokens;
        out_tok += q->output_tokens;
        first = q->arrival_s < first ? q->arrival_s : first;
        if (isfinite(q->finish_s) && q->finish_s > last)
            last = q->finish_s;
    }
    fprintf(f,
            "\n## Throughput and energy\n\n| metric | value | unit |\n|---|---:|---|\n"
            "| answer tokens per second | %s | tok/s |\n| requests per second | %s | req/s |\n",
            num(store_run_metric_num(r, fleet, "throughput_tok_s"), a),
            num(store_run_metric_num(r, fleet, "requests_per_s"), b));
    fprintf(f, "| energy | %s | J |\n| energy per answer token | %s | J/token |\n\n",
            num(store_run_metric_num(r, fleet, "energy_j"), a),
            num(store_run_metric_num(r, fleet, "j_per_token"), b));
    fprintf(f,
            "## Requests\n\n%d requests arrived (the first at %s s), %ld were answered by %s s; "
            "%ld were preempted (their KV blocks taken back and recomputed) at least once. "
            "They asked %ld prompt tokens and got %ld answer tokens. Every request's arrival, "
            "first token and finish are in table `serving_requests`, every answer token's time "
            "in `serving_tokens`.\n",
            r->n_served, num(r->n_served ? first : NAN, a), answered, num(last, b), preempted,
            in_tok, out_tok);
}

/* The quantities validate --serving compares, in table order. */
static const char *const Q[] = {"ttft_p50_ms", "ttft_p90_ms", "tpot_p50_ms", "tpot_p90_ms",
                                "throughput_tok_s"};
#define NQ ((int)(sizeof Q / sizeof Q[0]))

static const StoredServingCheck *find_check(const StoredRun *r, const char *model, double rate,
                                            const char *quantity)
{
    for (int i = 0; i < r->n_checks; i++) {
        const StoredServingCheck *c = &r->checks[i];
        if (strcmp(c->model, model) == 0 && c->rate_req_s == rate &&
            strcmp(c->quantity, quantity) == 0)
            return c;
    }
    return NULL;
}

static void write_validation(FILE *f, const StoredRun *r)
{
    char a[32], b[32];
    fprintf(f,
            "# validate --serving: the simulator against the real engine\n\nRun %lld (%s). "
            "For each model the real engine first serves a burst (its capacity in requests per "
            "second), then the same Poisson requests at about 30%%, 60%% and 90%% of that "
            "capacity; the simulator serves the very same requests behind the very same "
            "scheduler on a virtual clock, timing each step with the calibration named. Each "
            "cell is measured / simulated (error of the simulation). Measured figures are the "
            "engine's on this machine; simulated ones are predictions.\n\n## Setup\n\n",
            (long long)r->id, r->started_at ? r->started_at : "");
    write_setup(f, r);
    for (int i = 0; i < r->n_checks; i++) {
        const StoredServingCheck *c = &r->checks[i];
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = strcmp(r->checks[j].model, c->model) == 0;
        if (seen)
            continue;
        fputs("## ", f);
        report_md_text(f, c->model);
        fprintf(f,
                " (calibration %lld): capacity %s requests/s\n\n| rate req/s | load | "
                "requests |",
                (long long)c->calibration_id, num(c->capacity_req_s, a));
        for (int q = 0; q < NQ; q++)
            fprintf(f, " %s measured / simulated |", Q[q]);
        fputs("\n|---:|---:|---:|", f);
        for (int q = 0; q < NQ; q++)
            fputs("---|", f);
        fputc('\n', f);
        for (int k = i; k < r->n_checks; k++) {
            const StoredServingCheck *row = &r->checks[k];
            if (strcmp(row->model, c->model) != 0 || strcmp(row->quantity, Q[0]) != 0)
                continue;
            fprintf(f, "| %s | %.0f%% | %d |", num(row->rate_req_s, a), 100 * row->load_share,
                    row->requests);
            for (int q = 0; q < NQ; q++) {
                const StoredServingCheck *x = find_check(r, c->model, row->rate_req_s, Q[q]);
                if (!x) {
                    fputs(" n/a |", f);
                    continue;
                }
                fprintf(f, " %s / %s", num(x->measured, a), num(x->predicted, b));
                if (x->measured > 0 && isfinite(x->predicted))
                    fprintf(f, " (%+.0f%%)", 100 * (x->predicted / x->measured - 1));
                fputs(" |", f);
            }
            fputc('\n', f);
        }
        fputc('\n', f);
    }
    double med = store_run_metric_num(r, "-", "median_abs_err");
    fprintf(f,
            "Median |error| of the simulation over the %d figures: %s%%. The plot "
            "`serving_validation` puts every simulated figure against its measured one.\n",
            r->n_checks, num(100 * med, a));
}

void report_serving_md(FILE *f, const StoredRun *r)
{
    if (r->n_checks > 0)
        write_validation(f, r);
    else
        write_bench(f, r);
}
