/* plot_measure: a measure run's decode rows, one line per model and precision (dense against
 * MoE, fp32 against bf16 and int8): tokens/s against batch (measure_tok_s), J/token against
 * batch (measure_j_per_token, labelled with the energy source, e.g. modeled:cpu-linear), and
 * tokens/s against the forced MTP acceptance rate (measure_mtp_tok_s, forced runs only). Each
 * line at the largest thread count it was measured at. Reads the stored run only. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/render/plot_int.h"

/* One line: the measurements of one model, precision, KV precision and MTP depth. */
typedef struct {
    const StoredMeasurement *key; /* the first row of the line */
    int threads;                  /* the most threads it was measured at */
    const char *source;           /* the smallest energy source name (borrowed) */
} Line;

static int same_line(const StoredMeasurement *a, const StoredMeasurement *b)
{
    return strcmp(a->model, b->model) == 0 && strcmp(a->precision, b->precision) == 0 &&
           strcmp(a->kv_precision, b->kv_precision) == 0 && a->mtp_depth == b->mtp_depth;
}

static int line_cmp(const void *pa, const void *pb)
{
    const StoredMeasurement *a = ((const Line *)pa)->key, *b = ((const Line *)pb)->key;
    int d = strcmp(a->model, b->model);
    if (!d)
        d = strcmp(a->precision, b->precision);
    if (!d)
        d = strcmp(a->kv_precision, b->kv_precision);
    return d ? d : (a->mtp_depth > b->mtp_depth) - (a->mtp_depth < b->mtp_depth);
}

/* Whether m belongs to plot which: decode rows, forced MTP rows for which 2, no MTP else. */
static int wanted(const StoredMeasurement *m, int which)
{
    if (strcmp(m->phase, "decode") != 0)
        return 0;
    return which == 2 ? m->mtp_depth > 0 && m->mtp_accept_forced >= 0 : m->mtp_depth == 0;
}

static void line_label(const StoredMeasurement *m, char *buf, size_t size)
{
    int plain = strcmp(m->precision, "fp32") == 0 && strcmp(m->kv_precision, "fp32") == 0;
    int kv = strcmp(m->kv_precision, "fp32") != 0;
    char mtp[32] = "";
    if (m->mtp_depth > 0)
        snprintf(mtp, sizeof mtp, " MTP %d", m->mtp_depth);
    snprintf(buf, size, "%s%s%s%s%s%s", m->model, plain ? "" : " ", plain ? "" : m->precision,
             !plain && kv ? " KV " : "", !plain && kv ? m->kv_precision : "", mtp);
}

/* The rows of one line: x (batch, or the forced acceptance) and the summed ratio per x. */
static long line_rows(const PlotCtx *c, const Line *ln, int which, PlotRow *rows)
{
    long n = 0;
    for (int i = 0; i < c->run->n_measurements; i++) {
        const StoredMeasurement *m = &c->run->measurements[i];
        if (!wanted(m, which) || !same_line(m, ln->key) || m->threads != ln->threads)
            continue;
        if ((which == 1 && !(m->tokens > 0)) || (which != 1 && !(m->seconds > 0)))
            continue;
        double x = which == 2 ? m->mtp_accept_forced : (double)m->batch;
        long r = 0;
        while (r < n && rows[r].key[0] != x)
            r++;
        if (r == n)
            rows[n++] = (PlotRow){{x, 0, 0}, {x, 0}, i}; /* col[1]: numerator, col[2]: denominator */
        rows[r].col[1] += which == 1 ? m->energy_j : (double)m->tokens;
        rows[r].col[2] += which == 1 ? (double)m->tokens : m->seconds;
    }
    for (long r = 0; r < n; r++)
        rows[r].col[1] = rows[r].col[1] / rows[r].col[2];
    pl_sort(rows, n);
    return n;
}

int pl_measure(PlotCtx *c, int which, TsErr *err)
{
    static const char *const NAME[] = {"measure_tok_s", "measure_j_per_token",
                                       "measure_mtp_tok_s"};
    static const char *const WHAT[] = {"decode tokens/s against batch per model",
                                       "decode J/token against batch per model",
                                       "decode tokens/s against forced MTP acceptance"};
    const char *name = NAME[which];
    int nm = c->run->n_measurements;
    Line *lines = calloc((size_t)nm + 1, sizeof *lines);
    PlotRow *rows = calloc((size_t)nm + 1, sizeof *rows);
    if (!lines || !rows) {
        free(lines);
        free(rows);
        return ts_err_set(err, TS_ENOMEM, "plot: out of memory");
    }
    int n_lines = 0;
    for (int i = 0; i < nm; i++) {
        const StoredMeasurement *m = &c->run->measurements[i];
        if (!wanted(m, which))
            continue;
        int l = 0;
        while (l < n_lines && !same_line(lines[l].key, m))
            l++;
        if (l == n_lines)
            lines[n_lines++] = (Line){m, m->threads, m->energy_source};
        if (m->threads > lines[l].threads)
            lines[l].threads = m->threads;
        if (strcmp(m->energy_source, lines[l].source) < 0)
            lines[l].source = m->energy_source;
    }
    qsort(lines, (size_t)n_lines, sizeof *lines, line_cmp);
    if (n_lines == 0 || !pl_room(c)) {
        free(lines);
        free(rows);
        return 0;
    }
    char source[64];
    pl_title_copy(source, sizeof source, lines[0].source);
    FILE *dat, *gp;
    char text[256];
    if (which == 0)
        snprintf(text, sizeof text,
                 "Decode tokens/s against batch, per model and precision (measured)");
    else if (which == 1)
        snprintf(text, sizeof text,
                 "Decode J/token against batch, per model and precision (energy: %s)", source);
    else
        snprintf(text, sizeof text,
                 "Decode tokens/s at batch 1 against the forced MTP acceptance rate (measured)");
    int rc = pl_begin(c, name, WHAT[which], &dat, &gp, err);
    if (rc) {
        free(lines);
        free(rows);
        return rc;
    }
    fprintf(dat, "# columns: %s %s\n# one block per line (gnuplot index 0, 1, ...)\n",
            which == 2 ? "forced acceptance (share)" : "batch (sequences)",
            which == 1 ? "J/token (energy_j / tokens)" : "tokens/s (tokens / seconds)");
    fputs("set title ", gp);
    pl_gp_str(gp, text);
    if (which == 2)
        fputs("\nset xlabel 'forced MTP acceptance rate'\nset xrange [0:1]\n", gp);
    else
        fputs("\nset xlabel 'batch (sequences)'\nset logscale x 2\n", gp);
    fprintf(gp, "set ylabel '%s'\n", which == 1 ? "J/token" : "tokens/s");
    int blocks = 0, finite = 0;
    for (int l = 0; l < n_lines; l++) {
        char label[256];
        line_label(lines[l].key, label, sizeof label);
        long n = line_rows(c, &lines[l], which, rows);
        pl_dump(dat, rows, n, 2, 1, 0, "line", label, blocks > 0, &finite);
        if (n == 0)
            continue;
        pl_series(gp, name, blocks == 0, blocks);
        fputs(" using 1:2 with linespoints lw 2 title ", gp);
        pl_gp_str(gp, label);
        blocks++;
    }
    free(lines);
    free(rows);
    return pl_finish(c, name, text, finite > 0, 0, dat, gp, err);
}
