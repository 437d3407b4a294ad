/* plot_sweep: a run's curves and maps: usd_per_m_output against a swept parameter
 * (price_curve), or against the electricity price computed per fleet when nothing was swept; a
 * sweep over max_batch as cost and tokens/s against the batch reached (batch_curve); a 2-D
 * sweep as one map per fleet (heatmap_F). Reads the stored run only. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/render/plot_int.h"

/* The first swept parameter(s) of the run with usd_per_m_output points (1-D when two is 0),
 * or NULL. */
static const StoredSweepPoint *sweep_first(const PlotCtx *c, int two)
{
    for (long i = 0; i < c->run->n_sweep; i++) {
        const StoredSweepPoint *p = &c->run->sweep[i];
        if (strcmp(p->metric, "usd_per_m_output") == 0 && (p->param2 != NULL) == two)
            return p;
    }
    return NULL;
}

/* The 1-D points of fleet, param and metric as rows (x, value) keyed by x, in *rows (owned);
 * returns the count, -1 when out of memory. */
static long sweep_rows(const PlotCtx *c, const char *fleet, const char *param, const char *metric,
                       PlotRow **rows)
{
    *rows = calloc((size_t)c->run->n_sweep + 1, sizeof **rows);
    if (!*rows)
        return -1;
    long n = 0;
    for (long i = 0; i < c->run->n_sweep; i++) {
        const StoredSweepPoint *p = &c->run->sweep[i];
        if (p->param2 || strcmp(p->fleet, fleet) != 0 || strcmp(p->param, param) != 0 ||
            strcmp(p->metric, metric) != 0)
            continue;
        (*rows)[n++] = (PlotRow){{p->x, p->has_value ? p->value : NAN, 0}, {p->x, 0}, i};
    }
    pl_sort(*rows, n);
    return n;
}

/* usd_per_m_output against the swept parameter, one line per fleet (one data block each). */
int pl_price_curve(PlotCtx *c, TsErr *err)
{
    char text[512];
    const StoredSweepPoint *first = sweep_first(c, 0);
    if (!first || !pl_room(c))
        return 0;
    const char *param = first->param;
    FILE *dat, *gp;
    int rc = pl_begin(c, "price_curve", "usd_per_m_output against the swept parameter", &dat, &gp,
                      err);
    if (rc)
        return rc;
    fputs("# columns: x (the swept parameter) usd_per_m_output (USD/Mtok; ? = not priced)\n"
          "# one block per fleet, blocks separated by two blank lines (gnuplot index 0, 1, ...)\n",
          dat);
    snprintf(text, sizeof text, "usd_per_m_output against %s", param);
    fputs("set title ", gp);
    pl_gp_str(gp, text);
    char label[300];
    pl_param_label(param, label, sizeof label);
    fputs("\nset xlabel ", gp);
    pl_gp_str(gp, label);
    fputs("\nset ylabel 'usd_per_m_output (USD/Mtok)'\n", gp);
    int blocks = 0, finite = 0;
    for (int i = 0; i < c->n_fleets && !rc; i++) {
        PlotRow *rows;
        long n = sweep_rows(c, c->fleets[i], param, "usd_per_m_output", &rows);
        if (n < 0) {
            rc = ts_err_set(err, TS_ENOMEM, "plot: out of memory");
            break;
        }
        pl_dump(dat, rows, n, 2, 1, 0, "fleet", c->fleets[i], blocks > 0, &finite);
        free(rows);
        if (n == 0)
            continue; /* no block written: the next fleet takes this index */
        pl_series(gp, "price_curve", blocks == 0, blocks);
        fputs(" using 1:2 with linespoints lw 2 title ", gp);
        pl_gp_str(gp, c->fleets[i]);
        blocks++;
    }
    return pl_finish(c, "price_curve", text, finite > 0, rc, dat, gp, err);
}

/* Without a 1-D sweep: usd_per_m_output against the electricity price computed per fleet. The
 * price changes only the energy part (energy_usd_per_m_output scales with $/kWh; chips and
 * throughput stay), so each line is exact: out - energy + energy x p / p0, with the fleet's own
 * price p0 = energy_usd_per_day / energy_kwh_per_day. A rented fleet with power in the rent is
 * flat. Written as price_curve, like a swept one. */
int pl_price_lines(PlotCtx *c, TsErr *err)
{
    if (sweep_first(c, 0) || c->n_fleets == 0 || !pl_room(c))
        return 0;
    static const char *const M[] = {"usd_per_m_output", "energy_usd_per_m_output",
                                    "energy_usd_per_day", "energy_kwh_per_day"};
    double *v = calloc((size_t)c->n_fleets * 4, sizeof *v), q[4];
    if (!v)
        return ts_err_set(err, TS_ENOMEM, "plot: out of memory");
    double pmax = 0.30; /* USD/kWh: past every catalog price */
    for (int i = 0; i < c->n_fleets; i++)
        for (int k = 0; k < 4; k++) {
            pl_metric(c, c->fleets[i], M[k], q);
            v[i * 4 + k] = q[0];
            if (k == 3 && v[i * 4 + 3] > 0 && isfinite(v[i * 4 + 2]) &&
                2 * v[i * 4 + 2] / v[i * 4 + 3] > pmax)
                pmax = 2 * v[i * 4 + 2] / v[i * 4 + 3];
        }
    FILE *dat = NULL, *gp = NULL;
    const char *title = "usd_per_m_output against the electricity price (computed per fleet)";
    int rc = pl_begin(c, "price_curve", title, &dat, &gp, err);
    if (rc) {
        free(v);
        return rc;
    }
    fputs("# columns: usd_per_kwh (USD/kWh) usd_per_m_output (USD/Mtok)\n"
          "# computed: only the energy part of usd_per_m_output scales with the price\n"
          "# one block per fleet (gnuplot index 0, 1, ...)\n",
          dat);
    fprintf(gp,
            "set title '%s'\nset xlabel 'usd_per_kwh (USD/kWh)'\n"
            "set ylabel 'usd_per_m_output (USD/Mtok)'\nset xrange [0:*]\n",
            title);
    int blocks = 0;
    for (int i = 0; i < c->n_fleets; i++) {
        double out = v[i * 4], e = v[i * 4 + 1], p0 = v[i * 4 + 2] / v[i * 4 + 3];
        if (!isfinite(out))
            continue;
        int flat = !(isfinite(e) && isfinite(p0) && p0 > 0);
        fputs(blocks ? "\n\n# fleet " : "# fleet ", dat);
        pl_dat_str(dat, c->fleets[i]);
        fputc('\n', dat);
        for (int k = 0; k <= 12; k++) {
            double p = pmax * k / 12;
            fprintf(dat, "%.6g", p);
            pl_dat_num(dat, flat ? out : out - e + e * p / p0);
            fputc('\n', dat);
        }
        char text[300];
        snprintf(text, sizeof text, "%s%s", c->fleets[i], flat ? " (power in the rent)" : "");
        pl_series(gp, "price_curve", blocks == 0, blocks);
        fputs(" using 1:2 with lines lw 2 title ", gp);
        pl_gp_str(gp, text);
        blocks++;
    }
    free(v);
    return pl_finish(c, "price_curve", title, blocks > 0, 0, dat, gp, err);
}

/* The value of the 1-D point of fleet, param, metric at x (the first stored), NaN when NULL;
 * 0 when there is none. */
static int point_at(const PlotCtx *c, const char *fleet, const char *param, const char *metric,
                    double x, double *value)
{
    for (long i = 0; i < c->run->n_sweep; i++) {
        const StoredSweepPoint *p = &c->run->sweep[i];
        if (!p->param2 && p->x == x && strcmp(p->fleet, fleet) == 0 &&
            strcmp(p->param, param) == 0 && strcmp(p->metric, metric) == 0) {
            *value = p->has_value ? p->value : NAN;
            return 1;
        }
    }
    return 0;
}

/* A 1-D sweep over max_batch (on every fleet or one): usd_per_m_output (left axis, log) and
 * decode tokens/s per chip (right axis) against the decode batch the fleet reached. */
int pl_batch_curve(PlotCtx *c, TsErr *err)
{
    const StoredSweepPoint *first = sweep_first(c, 0);
    if (!first)
        return 0;
    const char *param = first->param;
    size_t len = strlen(param);
    if (!(strcmp(param, "max_batch") == 0 ||
          (len > 10 && strcmp(param + len - 10, ".max_batch") == 0)) ||
        !pl_room(c))
        return 0;
    FILE *dat, *gp;
    const char *title = "usd_per_m_output and decode tokens/s per chip against the batch";
    int rc = pl_begin(c, "batch_curve", title, &dat, &gp, err);
    if (rc)
        return rc;
    fputs("# columns: batch (sequences, as reached under max_batch) usd_per_m_output (USD/Mtok)"
          " decode_tok_s_per_chip (tok/s/chip)\n# one block per fleet (gnuplot index 0, 1, ...)\n",
          dat);
    fprintf(gp,
            "set title '%s'\n"
            "set xlabel 'decode batch (sequences)'\nset logscale x 2\n"
            "set ylabel 'usd_per_m_output (USD/Mtok)'\nset logscale y\n"
            "set y2label 'decode_tok_s_per_chip (tok/s/chip)'\nset y2tics\nset ytics nomirror\n",
            title);
    int blocks = 0, finite = 0;
    for (int i = 0; i < c->n_fleets && !rc; i++) {
        PlotRow *rows;
        long n = sweep_rows(c, c->fleets[i], param, "batch", &rows);
        if (n < 0) {
            rc = ts_err_set(err, TS_ENOMEM, "plot: out of memory");
            break;
        }
        long kept = 0;
        for (long r = 0; r < n; r++) {
            double x = rows[r].key[0], usd, tok;
            if (!point_at(c, c->fleets[i], param, "usd_per_m_output", x, &usd) ||
                !point_at(c, c->fleets[i], param, "decode_tok_s_per_chip", x, &tok))
                continue; /* a batch with no price or throughput at that point */
            rows[kept] = rows[r];
            rows[kept].col[0] = rows[r].col[1]; /* the batch reached at this max_batch */
            rows[kept].col[1] = usd;
            rows[kept].col[2] = tok;
            kept++;
        }
        pl_dump(dat, rows, kept, 3, 1, 0, "fleet", c->fleets[i], blocks > 0, &finite);
        free(rows);
        if (kept == 0)
            continue;
        for (int axis = 0; axis < 2; axis++) {
            char text[300];
            snprintf(text, sizeof text, "%s %s", c->fleets[i], axis ? "tok/s/chip" : "USD/Mtok");
            pl_series(gp, "batch_curve", !blocks && !axis, blocks);
            fprintf(gp, " using 1:%d axes x1y%d with linespoints lw 2 dt %d title ", axis + 2,
                    axis + 1, axis + 1);
            pl_gp_str(gp, text);
        }
        blocks++;
    }
    return pl_finish(c, "batch_curve", title, finite > 0, rc, dat, gp, err);
}

/* usd_per_m_output over a 2-D sweep: one map per fleet (heatmap_F, F from 1). */
int pl_heatmaps(PlotCtx *c, TsErr *err)
{
    char text[768], name[PLOT_NAME_MAX];
    const StoredSweepPoint *first = sweep_first(c, 1);
    if (!first)
        return 0;
    const char *p1 = first->param, *p2 = first->param2;
    PlotRow *rows = calloc((size_t)c->run->n_sweep + 1, sizeof *rows);
    if (!rows)
        return ts_err_set(err, TS_ENOMEM, "plot: out of memory");
    int rc = 0;
    for (int i = 0; i < c->n_fleets && !rc; i++) {
        if (!pl_room(c))
            continue;
        long n = 0;
        for (long k = 0; k < c->run->n_sweep; k++) {
            const StoredSweepPoint *p = &c->run->sweep[k];
            if (!p->param2 || strcmp(p->fleet, c->fleets[i]) != 0 || strcmp(p->param, p1) != 0 ||
                strcmp(p->param2, p2) != 0 || strcmp(p->metric, "usd_per_m_output") != 0)
                continue;
            rows[n++] = (PlotRow){{p->x, p->y, p->has_value ? p->value : NAN}, {p->x, p->y}, k};
        }
        pl_sort(rows, n);
        FILE *dat, *gp;
        snprintf(name, sizeof name, "heatmap_%d", i + 1);
        if ((rc = pl_begin(c, name, "usd_per_m_output over a 2-D sweep", &dat, &gp, err)) != 0)
            break;
        fputs("# columns: x y usd_per_m_output (USD/Mtok; ? = not priced); a blank line "
              "between scans of x\n",
              dat);
        int finite = 0;
        pl_dump(dat, rows, n, 3, 2, 1, "fleet", c->fleets[i], 0, &finite);
        if (finite == 0) {
            pl_drop(c, name, dat, gp);
            continue;
        }
        snprintf(text, sizeof text, "usd_per_m_output of fleet %s over %s and %s", c->fleets[i],
                 p1, p2);
        fputs("set title ", gp);
        pl_gp_str(gp, text);
        char label[300];
        pl_param_label(p1, label, sizeof label);
        fputs("\nset xlabel ", gp);
        pl_gp_str(gp, label);
        pl_param_label(p2, label, sizeof label);
        fputs("\nset ylabel ", gp);
        pl_gp_str(gp, label);
        fprintf(gp,
                "\nset cblabel 'usd_per_m_output (USD/Mtok)'\n"
                "set view map\n"
                "set pm3d at b corners2color mean\n"
                "set palette defined (0 '#440154', 0.5 '#21908d', 1 '#fde725')\n"
                "unset key\n"
                "set grid front\n"
                "splot '%s.dat' using 1:2:3 with pm3d notitle",
                name);
        if (n <= 64) /* small grids: each point's value written on the map */
            fputs(", \\\n      '' using 1:2:3:(sprintf('%.3g', $3)) with labels tc 'white' "
                  "notitle",
                  gp);
        fputc('\n', gp);
        rc = pl_end(c, name, text, dat, gp, err);
    }
    free(rows);
    return rc;
}

/* A roofline fleet's deployment search (deployment_F, F from 1): usd_per_m_blended (left
 * axis) and decode tokens/s per chip (right axis) against the chips per instance tried; the
 * chosen size marked. */
int pl_deployments(PlotCtx *c, TsErr *err)
{
    int rc = 0;
    for (int i = 0; i < c->n_fleets && !rc; i++) {
        int n = 0;
        const StoredDeployment *win = NULL;
        for (int k = 0; k < c->run->n_deployments; k++) {
            const StoredDeployment *d = &c->run->deployments[k];
            if (strcmp(d->fleet, c->fleets[i]) != 0 || !d->feasible)
                continue;
            n++;
            if (d->chosen)
                win = d;
        }
        if (n < 2 || !pl_room(c))
            continue; /* one size is no search worth a plot */
        char name[PLOT_NAME_MAX], text[512];
        snprintf(name, sizeof name, "deployment_%d", i + 1);
        FILE *dat, *gp;
        rc = pl_begin(c, name, "the deployment search: cost and throughput per instance size",
                      &dat, &gp, err);
        if (rc)
            break;
        fputs("# fleet ", dat);
        pl_dat_str(dat, c->fleets[i]);
        fputs("\n# columns: chips_per_instance usd_per_m_blended (USD/Mtok) "
              "decode_tok_s_per_chip (tok/s/chip) batch (sequences); feasible sizes only\n",
              dat);
        for (int k = 0; k < c->run->n_deployments; k++) {
            const StoredDeployment *d = &c->run->deployments[k];
            if (strcmp(d->fleet, c->fleets[i]) != 0 || !d->feasible)
                continue;
            fprintf(dat, "%d", d->chips_per_instance);
            pl_dat_num(dat, d->usd_per_m_blended);
            pl_dat_num(dat, d->decode_tok_s_per_chip);
            fprintf(dat, " %d\n", d->batch);
        }
        snprintf(text, sizeof text, "Deployment search, fleet %s: cost and throughput per "
                 "instance size", c->fleets[i]);
        fputs("set title ", gp);
        pl_gp_str(gp, text);
        fputs("\nset xlabel 'chips per instance'\nset logscale x 2\n"
              "set ylabel 'usd_per_m_blended (USD/Mtok)'\nset logscale y\n"
              "set y2label 'decode_tok_s_per_chip (tok/s/chip)'\nset y2tics\nset ytics nomirror\n",
              gp);
        if (win)
            fprintf(gp, "set arrow 1 from %d, graph 0 to %d, graph 1 nohead dt 2 lw 2\n"
                        "set label 1 'chosen' at %d, graph 0.95 offset 0.5, 0\n",
                    win->chips_per_instance, win->chips_per_instance, win->chips_per_instance);
        fprintf(gp, "plot '%s.dat' using 1:2 axes x1y1 with linespoints lw 2 title "
                    "'usd_per_m_blended (USD/Mtok)', \\\n"
                    "     '' using 1:3 axes x1y2 with linespoints lw 2 dt 2 title "
                    "'decode_tok_s_per_chip (tok/s/chip)'\n",
                name);
        rc = pl_end(c, name, text, dat, gp, err);
    }
    return rc;
}

/* A 1-D sweep with simulated fleets (load_curve): output tokens/s (left axis) and P90 TTFT
 * and TPOT (right axis, log) of every simulated fleet against the swept input, usually the
 * offered load (workload.requests_per_day): where latency turns up is the knee. */
int pl_load_curve(PlotCtx *c, TsErr *err)
{
    const StoredSweepPoint *first = sweep_first(c, 0);
    if (!first)
        return 0;
    int any = 0;
    for (long k = 0; k < c->run->n_sweep && !any; k++)
        any = strcmp(c->run->sweep[k].metric, "ttft_p90_ms") == 0 && c->run->sweep[k].has_value;
    if (!any || !pl_room(c))
        return 0;
    const char *param = first->param;
    FILE *dat, *gp;
    const char *title = "throughput and P90 latency against the swept load";
    int rc = pl_begin(c, "load_curve", title, &dat, &gp, err);
    if (rc)
        return rc;
    fputs("# columns: x (the swept input) output_tok_s (tok/s) ttft_p90_ms (ms) tpot_p90_ms (ms)\n"
          "# one block per simulated fleet (gnuplot index 0, 1, ...)\n",
          dat);
    char label[300];
    pl_param_label(param, label, sizeof label);
    fputs("set title ", gp);
    pl_gp_str(gp, title);
    fputs("\nset xlabel ", gp);
    pl_gp_str(gp, label);
    fputs("\nset logscale x\nset ylabel 'output tokens/s'\nset y2label 'P90 latency (ms)'\n"
          "set logscale y2\nset y2tics\nset ytics nomirror\n",
          gp);
    int blocks = 0, finite = 0;
    static const char *const M[] = {"output_tok_s", "ttft_p90_ms", "tpot_p90_ms"};
    for (int i = 0; i < c->n_fleets && !rc; i++) {
        PlotRow *rows[3];
        long n[3];
        for (int m = 0; m < 3; m++)
            n[m] = sweep_rows(c, c->fleets[i], param, M[m], &rows[m]);
        if (n[0] < 0 || n[1] < 0 || n[2] < 0)
            rc = ts_err_set(err, TS_ENOMEM, "plot: out of memory");
        long kept = 0; /* points where the fleet was simulated (the others are NULL) */
        for (long r = 0; !rc && r < n[0] && r < n[1] && r < n[2]; r++)
            kept += isfinite(rows[1][r].col[1]);
        if (!rc && kept > 0) {
            /* columns x, output_tok_s, ttft, tpot (the three lists share the points' order) */
            fprintf(dat, "%s# fleet ", blocks ? "\n\n" : "");
            pl_dat_str(dat, c->fleets[i]);
            fputc('\n', dat);
            for (long r = 0; r < n[0] && r < n[1] && r < n[2]; r++) {
                if (!isfinite(rows[1][r].col[1]))
                    continue;
                fprintf(dat, "%.6g", rows[0][r].col[0]);
                pl_dat_num(dat, rows[0][r].col[1]);
                pl_dat_num(dat, rows[1][r].col[1]);
                pl_dat_num(dat, rows[2][r].col[1]);
                fputc('\n', dat);
                finite++;
            }
            char text[300];
            snprintf(text, sizeof text, "%s output tok/s", c->fleets[i]);
            pl_series(gp, "load_curve", blocks == 0, blocks);
            fputs(" using 1:2 axes x1y1 with linespoints lw 2 title ", gp);
            pl_gp_str(gp, text);
            snprintf(text, sizeof text, "%s P90 TTFT", c->fleets[i]);
            fprintf(gp, ", \\\n     '' index %d using 1:3 axes x1y2 with linespoints dt 2 title ",
                    blocks);
            pl_gp_str(gp, text);
            snprintf(text, sizeof text, "%s P90 TPOT", c->fleets[i]);
            fprintf(gp, ", \\\n     '' index %d using 1:4 axes x1y2 with linespoints dt 3 title ",
                    blocks);
            pl_gp_str(gp, text);
            blocks++;
        }
        for (int m = 0; m < 3; m++)
            free(n[m] >= 0 ? rows[m] : NULL);
    }
    return pl_finish(c, "load_curve", title, finite > 0, rc, dat, gp, err);
}
