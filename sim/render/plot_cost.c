/* plot_cost: bars of a run's cost parts and prices per fleet (cost_breakdown, usd_per_m), and
 * the answer bars of a [question] (answer_*, drawn from the question's own metric rows). Reads
 * the stored run only. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/render/plot_int.h"

static const char *const COST_METRICS[] = {"capital_usd_per_day", "rent_usd_per_day",
                                           "hosting_usd_per_day", "energy_usd_per_day"};

/* Stacked bars per fleet of the four cost parts, and grouped bars of USD/Mtok in and out. */
int pl_cost(PlotCtx *c, TsErr *err)
{
    double *v = malloc((size_t)(c->n_fleets > 0 ? c->n_fleets : 1) * 24 * sizeof *v);
    if (!v)
        return ts_err_set(err, TS_ENOMEM, "plot: out of memory");
    static const char *const PRICE[] = {"usd_per_m_input", "usd_per_m_output"};
    int n_cost = 0, n_price = 0, has_pct = 0, rc = 0;
    for (int i = 0; i < c->n_fleets; i++) {
        int cost = 0, price = 0;
        for (int k = 0; k < 6; k++) {
            double *q = &v[(i * 6 + k) * 4];
            pl_metric(c, c->fleets[i], k < 4 ? COST_METRICS[k] : PRICE[k - 4], q);
            cost += k < 4 && isfinite(q[0]);
            price += k >= 4 && isfinite(q[0]);
            has_pct |= k >= 4 && isfinite(q[1]) && isfinite(q[3]);
        }
        n_cost += cost > 0;
        n_price += price > 0;
    }

    FILE *dat = NULL, *gp = NULL;
    if (!rc && n_cost > 0 && pl_room(c)) {
        rc = pl_begin(c, "cost_breakdown", "cost per accounting window by fleet", &dat, &gp, err);
        if (!rc) {
            fputs("# columns: fleet capital_usd_per_day rent_usd_per_day hosting_usd_per_day "
                  "energy_usd_per_day (USD/window; ? = none)\n",
                  dat);
            for (int i = 0; i < c->n_fleets; i++) {
                pl_dat_str(dat, c->fleets[i]);
                for (int k = 0; k < 4; k++)
                    pl_dat_num(dat, v[(i * 6 + k) * 4]);
                fputc('\n', dat);
            }
            fputs("set title 'Cost per accounting window by fleet'\n"
                  "set xlabel 'fleet'\n"
                  "set ylabel 'USD per window (USD/window)'\n"
                  "set style data histograms\n"
                  "set style histogram rowstacked\n"
                  "set style fill solid 0.85 border -1\n"
                  "set boxwidth 0.6 relative\n"
                  "set yrange [0:*]\n"
                  "set xtics rotate by -20 noenhanced\n"
                  "plot 'cost_breakdown.dat' using 2:xtic(1) title 'capital', \\\n"
                  "     '' using 3 title 'rent', \\\n"
                  "     '' using 4 title 'hosting', \\\n"
                  "     '' using 5 title 'energy'\n",
                  gp);
            rc = pl_end(c, "cost_breakdown", "Cost per accounting window by fleet (USD/window)",
                          dat, gp, err);
        }
    }
    if (!rc && n_price > 0 && pl_room(c)) {
        rc = pl_begin(c, "usd_per_m", "price per million tokens by fleet", &dat, &gp, err);
        if (!rc) {
            fputs("# columns: fleet usd_per_m_input p5 p95 usd_per_m_output p5 p95 (USD/Mtok; "
                  "value is the mean of a Monte Carlo run; ? = none)\n",
                  dat);
            for (int i = 0; i < c->n_fleets; i++) {
                pl_dat_str(dat, c->fleets[i]);
                for (int k = 4; k < 6; k++) {
                    const double *q = &v[(i * 6 + k) * 4];
                    int pct = isfinite(q[1]) && isfinite(q[3]);
                    pl_dat_num(dat, q[0]);
                    pl_dat_num(dat, pct ? q[1] : q[0]);
                    pl_dat_num(dat, pct ? q[3] : q[0]);
                }
                fputc('\n', dat);
            }
            fprintf(gp,
                    "set title '%s'\n"
                    "set xlabel 'fleet'\n"
                    "set ylabel 'USD per million tokens (USD/Mtok)'\n"
                    "set style data histograms\n"
                    "set style histogram %s gap 2\n"
                    "set style fill solid 0.85 border -1\n"
                    "set yrange [0:*]\n"
                    "set xtics rotate by -20 noenhanced\n",
                    has_pct ? "Price per million tokens by fleet (mean, whiskers P5-P95)"
                            : "Price per million tokens by fleet",
                    has_pct ? "errorbars lw 1" : "clustered");
            if (has_pct)
                fputs("plot 'usd_per_m.dat' using 2:3:4:xtic(1) title 'input (usd_per_m_input)', "
                      "\\\n     '' using 5:6:7 title 'output (usd_per_m_output)'\n",
                      gp);
            else
                fputs("plot 'usd_per_m.dat' using 2:xtic(1) title 'input (usd_per_m_input)', "
                      "\\\n     '' using 5 title 'output (usd_per_m_output)'\n",
                      gp);
            rc = pl_end(c, "usd_per_m", "Price per million tokens by fleet (USD/Mtok)", dat, gp,
                          err);
        }
    }
    free(v);
    return rc;
}


/* The answer plots of a [question] run: bars of the question's own rows (sim/study/question.c),
 * drawn only when the run has them. */
typedef struct {
    const char *name, *like;     /* plot name; metric LIKE pattern ('\' escapes) */
    const char *pre, *post;      /* stripped from a metric name to make its bar label */
    const char *title, *ylabel;
    const char *cap;             /* a metric of fleet "-" drawn as a horizontal line, or NULL */
} AnswerPlot;

static const AnswerPlot ANSWERS[] = {
    {"answer_gap", "gap\\_%\\_usd\\_per\\_m\\_output", "gap_", "_usd_per_m_output",
     "List-price gap (list) and what each step removes from it, in the order changed",
     "USD per million output tokens (USD/Mtok)", NULL},
    {"answer_tasks", "task.%.usd\\_per\\_solved", "task.", ".usd_per_solved",
     "Cost per solved task", "USD per solved task (USD)", NULL},
    {"answer_power", "x%\\_facility\\_mw", "", "_facility_mw",
     "Facility power by fleet and demand multiple, against the power cap (dashed)",
     "facility power (MW, log scale)", "power_cap_mw"},
    {"answer_distill", "distill\\_%\\_usd", "distill_", "_usd",
     "One-time distillation cost: teacher generation and student training", "USD", NULL},
};

/* SQL LIKE as SQLite applies it to a metric name: % any run, _ one character, \\ escapes the
 * next, ASCII letters without case. */
static int like(const char *p, const char *s)
{
    for (; *p; p++, s++) {
        if (*p == '%') {
            for (const char *t = s;; t++) {
                if (like(p + 1, t))
                    return 1;
                if (!*t)
                    return 0;
            }
        }
        if (!*s)
            return 0;
        if (*p == '_')
            continue;
        char want = *p == '\\' && p[1] ? *++p : *p;
        char a = (char)(want >= 'A' && want <= 'Z' ? want + 32 : want);
        char b = (char)(*s >= 'A' && *s <= 'Z' ? *s + 32 : *s);
        if (a != b)
            return 0;
    }
    return *s == '\0';
}

static int plot_answer(PlotCtx *c, const AnswerPlot *a, TsErr *err)
{
    FILE *dat = NULL, *gp = NULL;
    int n = 0, rc = 0;
    for (int i = 0; i < c->run->n_metrics && !rc; i++) {
        const StoredMetric *m = &c->run->metrics[i];
        if (!m->has_value || !like(a->like, m->metric))
            continue;
        if (n == 0 && (!pl_room(c) || (rc = pl_begin(c, a->name, a->title, &dat, &gp, err))))
            break;
        const char *fleet = m->fleet;
        const char *metric = m->metric;
        size_t lp = strlen(a->pre), lm = strlen(metric), ls = strlen(a->post);
        char label[160];
        int keep = (int)(lm > lp + ls ? lm - lp - ls : lm);
        const char *from = lm > lp + ls ? metric + lp : metric;
        if (strcmp(fleet, "-") == 0)
            snprintf(label, sizeof label, "%.*s", keep, from);
        else
            snprintf(label, sizeof label, "%s %.*s", fleet, keep, from);
        if (n == 0)
            fprintf(dat, "# columns: label value (%s)\n", a->ylabel);
        pl_dat_str(dat, label);
        pl_dat_num(dat, m->value);
        fputc('\n', dat);
        n++;
    }
    if (rc || n == 0) {
        if (dat)
            pl_drop(c, a->name, dat, gp);
        return rc;
    }
    fprintf(gp, "set title ");
    pl_gp_str(gp, a->title);
    fprintf(gp, "\nset ylabel ");
    pl_gp_str(gp, a->ylabel);
    fputs("\nset style data histograms\n"
          "set style fill solid 0.85 border -1\n"
          "set boxwidth 0.6 relative\n"
          "set xtics rotate by -30 noenhanced\n"
          "unset key\n",
          gp);
    if (a->cap) {
        double cap[4];
        pl_metric(c, "-", a->cap, cap);
        fputs("set logscale y\n", gp);
        if (isfinite(cap[0]))
            fprintf(gp, "set arrow from graph 0, first %.6g to graph 1, first %.6g nohead lw 2 "
                        "dt 2\n", cap[0], cap[0]);
    }
    fprintf(gp, "plot '%s.dat' using 2:xtic(1)\n", a->name);
    char title[256];
    snprintf(title, sizeof title, "%s (%s)", a->title, a->ylabel);
    return pl_end(c, a->name, title, dat, gp, err);
}

int pl_answers(PlotCtx *c, TsErr *err)
{
    int rc = 0;
    for (size_t i = 0; !rc && i < sizeof ANSWERS / sizeof ANSWERS[0]; i++)
        rc = plot_answer(c, &ANSWERS[i], err);
    return rc;
}
