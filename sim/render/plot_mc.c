/* plot_mc: what a Monte Carlo run adds: the usd_per_m_output histogram of every fleet overlaid
 * (histogram) and a tornado per fleet (tornado_F: usd_per_m_output with each uncertain input
 * at its low and high end, around the fleet's median). Reads the stored run only. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/render/plot_int.h"

int pl_histogram(PlotCtx *c, TsErr *err)
{
    if (!pl_room(c))
        return 0;
    PlotRow *rows = calloc((size_t)c->run->n_histograms + 1, sizeof *rows);
    if (!rows)
        return ts_err_set(err, TS_ENOMEM, "plot: out of memory");
    FILE *dat, *gp;
    int rc = pl_begin(c, "histogram", "Monte Carlo histogram of usd_per_m_output", &dat, &gp, err);
    if (rc) {
        free(rows);
        return rc;
    }
    fputs("# columns: bin_low bin_high count (USD/Mtok, samples)\n"
          "# one block per fleet, blocks separated by two blank lines (gnuplot index 0, 1, ...)\n",
          dat);
    fputs("set title 'Monte Carlo distribution of usd_per_m_output'\n"
          "set xlabel 'usd_per_m_output (USD/Mtok)'\n"
          "set ylabel 'samples per bin'\n"
          "set yrange [0:*]\n"
          "set style fill transparent solid 0.45 border -1\n",
          gp);
    int blocks = 0, finite = 0;
    for (int i = 0; i < c->n_fleets; i++) {
        long n = 0;
        for (int k = 0; k < c->run->n_histograms; k++) {
            const StoredHistogram *h = &c->run->histograms[k];
            if (strcmp(h->fleet, c->fleets[i]) == 0 && strcmp(h->metric, "usd_per_m_output") == 0)
                rows[n++] = (PlotRow){{h->bin_low, h->bin_high, (double)h->count}, {h->bin_low, 0},
                                      k};
        }
        pl_sort(rows, n);
        pl_dump(dat, rows, n, 3, 2, 0, "fleet", c->fleets[i], blocks > 0, &finite);
        if (n == 0)
            continue;
        pl_series(gp, "histogram", blocks == 0, blocks);
        fputs(" using (($1+$2)/2):3:($2-$1) with boxes title ", gp);
        pl_gp_str(gp, c->fleets[i]);
        blocks++;
    }
    free(rows);
    return pl_finish(c, "histogram", "Monte Carlo distribution of usd_per_m_output (USD/Mtok)",
                     blocks > 0, 0, dat, gp, err);
}

/* Horizontal bars per fleet (tornado_F): usd_per_m_output with each input at its low and high
 * end, around the fleet's median (P50, else its value). */
int pl_tornados(PlotCtx *c, TsErr *err)
{
    int rc = 0;
    for (int i = 0; i < c->n_fleets && !rc; i++) {
        double q[4];
        int n = 0;
        char name[PLOT_NAME_MAX], text[512];
        pl_metric(c, c->fleets[i], "usd_per_m_output", q);
        for (int k = 0; k < c->run->n_tornado; k++)
            n += strcmp(c->run->tornado[k].fleet, c->fleets[i]) == 0;
        if (n == 0 || !pl_room(c))
            continue;
        double median = isfinite(q[2]) ? q[2] : q[0];
        FILE *dat, *gp;
        snprintf(name, sizeof name, "tornado_%d", i + 1);
        rc = pl_begin(c, name, "sensitivity of usd_per_m_output (tornado)", &dat, &gp, err);
        if (rc)
            break;
        fputs("# fleet ", dat);
        pl_dat_str(dat, c->fleets[i]);
        fputs("\n# columns: row input low_x high_x low_value high_value median (values in "
              "USD/Mtok; row 1 at the bottom, largest swing on top)\n",
              dat);
        int r = 0;
        for (int k = 0; k < c->run->n_tornado; k++) {
            const StoredTornado *t = &c->run->tornado[k];
            if (strcmp(t->fleet, c->fleets[i]) != 0)
                continue;
            fprintf(dat, "%d ", n - r++);
            pl_dat_str(dat, t->input);
            pl_dat_num(dat, t->low_x);
            pl_dat_num(dat, t->high_x);
            pl_dat_num(dat, t->low_value);
            pl_dat_num(dat, t->high_value);
            pl_dat_num(dat, median);
            fputc('\n', dat);
        }
        snprintf(text, sizeof text, "Sensitivity of usd_per_m_output, fleet %s", c->fleets[i]);
        fputs("set title ", gp);
        pl_gp_str(gp, text);
        fprintf(gp,
                "\nset xlabel 'usd_per_m_output (USD/Mtok)'\n"
                "set ylabel 'uncertain input'\n"
                "set yrange [0.4:%d.6]\n"
                "set ytics noenhanced\n"
                "set grid xtics\n"
                "set style fill solid 0.85 border -1\n",
                n);
        if (isfinite(median))
            fprintf(gp, "set arrow 1 from %.6g, graph 0 to %.6g, graph 1 nohead dt 2 lw 2\n",
                    median, median);
        fprintf(gp,
                "lo(a, m) = a < m ? a : m\n"
                "hi(a, m) = a < m ? m : a\n"
                "plot '%s.dat' using 7:1:(lo($5, $7)):(hi($5, $7)):($1-0.35):($1+0.35):ytic(2) "
                "with boxxyerror title 'input at P10', \\\n"
                "     '' using 7:1:(lo($6, $7)):(hi($6, $7)):($1-0.35):($1+0.35) "
                "with boxxyerror title 'input at P90'\n",
                name);
        rc = pl_end(c, name, text, dat, gp, err);
    }
    return rc;
}
