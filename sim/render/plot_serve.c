/* plot_serve: a simulated fleet's day (throughput = simulate): the latency distributions as
 * cumulative curves from the stored log-binned histograms (latency_cdf_F: TTFT, TPOT and
 * end-to-end) and the day interval by interval (serving_day_F: queue, KV occupancy and busy
 * share, and the cost per hour on a second axis). Reads the stored run only. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/render/plot_int.h"

int pl_latency_cdfs(PlotCtx *c, TsErr *err)
{
    static const char *const L[] = {"ttft", "tpot", "e2e"};
    int rc = 0;
    for (int i = 0; i < c->n_fleets && !rc; i++) {
        int any = 0;
        for (int k = 0; k < c->run->n_latencies; k++)
            any |= strcmp(c->run->latencies[k].fleet, c->fleets[i]) == 0;
        if (!any || !pl_room(c))
            continue;
        char name[PLOT_NAME_MAX], text[512];
        snprintf(name, sizeof name, "latency_cdf_%d", i + 1);
        FILE *dat, *gp;
        rc = pl_begin(c, name, "latency distributions of a simulated day", &dat, &gp, err);
        if (rc)
            break;
        fputs("# columns: latency (ms, a bin's upper edge) share of requests at or below it\n"
              "# one block per latency (gnuplot index 0 ttft, 1 tpot, 2 e2e)\n",
              dat);
        int blocks = 0;
        for (int l = 0; l < 3; l++) {
            double total = 0, run = 0;
            for (int k = 0; k < c->run->n_latencies; k++) {
                const StoredLatency *x = &c->run->latencies[k];
                if (strcmp(x->fleet, c->fleets[i]) == 0 && strcmp(x->latency, L[l]) == 0)
                    total += x->count;
            }
            fprintf(dat, "%s# latency %s\n", blocks ? "\n\n" : "", L[l]);
            for (int k = 0; total > 0 && k < c->run->n_latencies; k++) {
                const StoredLatency *x = &c->run->latencies[k];
                if (strcmp(x->fleet, c->fleets[i]) != 0 || strcmp(x->latency, L[l]) != 0)
                    continue;
                run += x->count;
                fprintf(dat, "%.6g %.6g\n", x->bin_high_s * 1e3, run / total);
            }
            blocks++;
        }
        snprintf(text, sizeof text, "Latency distributions over the day, fleet %s",
                 c->fleets[i]);
        fputs("set title ", gp);
        pl_gp_str(gp, text);
        fprintf(gp, "\nset xlabel 'latency (ms, log scale)'\nset logscale x\n"
                    "set ylabel 'share of requests at or below'\nset yrange [0:1]\n"
                    "plot '%s.dat' index 0 using 1:2 with steps lw 2 title 'TTFT', \\\n"
                    "     '' index 1 using 1:2 with steps lw 2 title 'TPOT', \\\n"
                    "     '' index 2 using 1:2 with steps lw 2 title 'end to end'\n",
                name);
        rc = pl_end(c, name, text, dat, gp, err);
    }
    return rc;
}

int pl_serving_days(PlotCtx *c, TsErr *err)
{
    int rc = 0;
    for (int i = 0; i < c->n_fleets && !rc; i++) {
        int n = 0;
        for (int k = 0; k < c->run->n_series; k++)
            n += strcmp(c->run->series[k].fleet, c->fleets[i]) == 0;
        if (n < 2 || !pl_room(c))
            continue;
        char name[PLOT_NAME_MAX], text[512];
        snprintf(name, sizeof name, "serving_day_%d", i + 1);
        FILE *dat, *gp;
        rc = pl_begin(c, name, "a simulated day interval by interval", &dat, &gp, err);
        if (rc)
            break;
        fputs("# columns: hour (start of the interval) queue (waiting requests, mean) "
              "kv_occupancy (share) busy_share (share) usd_per_hour (USD/h) arrivals\n",
              dat);
        for (int k = 0; k < c->run->n_series; k++) {
            const StoredSeries *x = &c->run->series[k];
            if (strcmp(x->fleet, c->fleets[i]) != 0)
                continue;
            fprintf(dat, "%.6g", x->start_s / 3600.0);
            pl_dat_num(dat, x->queue);
            pl_dat_num(dat, x->kv_occupancy);
            pl_dat_num(dat, x->busy_share);
            pl_dat_num(dat, x->usd_per_hour);
            pl_dat_num(dat, x->arrivals);
            fputc('\n', dat);
        }
        snprintf(text, sizeof text, "The day of fleet %s: load, queue and cost per hour",
                 c->fleets[i]);
        fputs("set title ", gp);
        pl_gp_str(gp, text);
        fprintf(gp, "\nset xlabel 'hour of the window'\nset ylabel 'share (busy, KV) or "
                    "requests (queue)'\nset yrange [0:*]\nset y2label 'USD per hour'\n"
                    "set y2tics\nset ytics nomirror\nset y2range [0:*]\n"
                    "plot '%s.dat' using 1:4 with steps lw 2 title 'busy share', \\\n"
                    "     '' using 1:3 with steps lw 2 title 'KV occupancy', \\\n"
                    "     '' using 1:2 with steps lw 2 title 'queue (requests)', \\\n"
                    "     '' using 1:5 axes x1y2 with steps lw 2 dt 2 title 'USD per hour'\n",
                name);
        rc = pl_end(c, name, text, dat, gp, err);
    }
    return rc;
}

int pl_served_requests(PlotCtx *c, TsErr *err)
{
    const StoredRun *r = c->run;
    if (r->n_served < 1 || !pl_room(c))
        return 0;
    const char *name = "served_requests";
    FILE *dat, *gp;
    int rc = pl_begin(c, name, "the requests the real engine served (serve-bench)", &dat, &gp,
                      err);
    if (rc)
        return rc;
    fputs("# columns: arrival (s from the start) ttft (ms) end_to_end (ms); ? where never "
          "answered\n",
          dat);
    for (int i = 0; i < r->n_served; i++) {
        const StoredServedRequest *q = &r->served[i];
        fprintf(dat, "%.6g", q->arrival_s);
        pl_dat_num(dat, 1e3 * (q->first_token_s - q->arrival_s));
        pl_dat_num(dat, 1e3 * (q->finish_s - q->arrival_s));
        fputc('\n', dat);
    }
    char text[512];
    snprintf(text, sizeof text, "Measured latency of every request, by arrival (%s)",
             r->n_fleets > 0 ? r->fleets[0].fleet : "serve-bench");
    fputs("set title ", gp);
    pl_gp_str(gp, text);
    fprintf(gp, "\nset xlabel 'arrival (s from the start)'\nset ylabel 'latency (ms, log "
                "scale)'\nset logscale y\nset key inside top left\n"
                "plot '%s.dat' using 1:3 with points pt 7 ps 0.5 title 'end to end', \\\n"
                "     '' using 1:2 with points pt 7 ps 0.5 title 'time to first token'\n",
            name);
    return pl_end(c, name, text, dat, gp, err);
}

int pl_serving_validation(PlotCtx *c, TsErr *err)
{
    const StoredRun *r = c->run;
    if (r->n_checks < 1 || !pl_room(c))
        return 0;
    static const char *const Q[][2] = {{"ttft_p50_ms", "TTFT P50 (ms)"},
                                       {"ttft_p90_ms", "TTFT P90 (ms)"},
                                       {"tpot_p50_ms", "TPOT P50 (ms)"},
                                       {"tpot_p90_ms", "TPOT P90 (ms)"},
                                       {"throughput_tok_s", "throughput (tok/s)"}};
    const char *name = "serving_validation";
    FILE *dat, *gp;
    int rc = pl_begin(c, name, "the simulator against the real engine (validate --serving)",
                      &dat, &gp, err);
    if (rc)
        return rc;
    fputs("# columns: measured simulated (the quantity's unit); one block per quantity\n", dat);
    int blocks = 0, first = 1;
    double lo = INFINITY, hi = 0;
    char series[2048] = "";
    size_t used = 0;
    for (int q = 0; q < 5; q++) {
        int n = 0;
        for (int i = 0; i < r->n_checks; i++) {
            const StoredServingCheck *x = &r->checks[i];
            if (strcmp(x->quantity, Q[q][0]) != 0 || !(x->measured > 0) || !(x->predicted > 0))
                continue;
            if (n++ == 0)
                fprintf(dat, "%s# %s\n", blocks ? "\n\n" : "", Q[q][0]);
            fprintf(dat, "%.6g %.6g\n", x->measured, x->predicted);
            lo = fmin(lo, fmin(x->measured, x->predicted));
            hi = fmax(hi, fmax(x->measured, x->predicted));
        }
        if (n == 0)
            continue;
        int w = snprintf(series + used, sizeof series - used,
                         "%s'%s.dat' index %d using 1:2 with points pt 7 ps 1.2 title '%s'",
                         first ? "" : ", \\\n     ", name, blocks, Q[q][1]);
        if (w > 0 && (size_t)w < sizeof series - used)
            used += (size_t)w;
        first = 0;
        blocks++;
    }
    if (blocks == 0) {
        pl_drop(c, name, dat, gp);
        return 0;
    }
    const char *text = "Simulated against measured, every model, rate and quantity (on the "
                       "line: exact)";
    fputs("set title ", gp);
    pl_gp_str(gp, text);
    fprintf(gp, "\nset xlabel 'measured on the engine (log scale)'\nset ylabel 'simulated "
                "(log scale)'\nset logscale xy\nset key inside top left\nset xrange [%.6g:%.6g]\n"
                "set yrange [%.6g:%.6g]\nplot %s, \\\n     x with lines dt 2 lc 'gray' "
                "title 'simulated = measured'\n",
            lo / 1.5, hi * 1.5, lo / 1.5, hi * 1.5, series);
    return pl_end(c, name, text, dat, gp, err);
}
