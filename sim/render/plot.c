/* plot: gnuplot figures of a run, drawn from the run as stored (a StoredRun: the plots read
 * nothing else). This file holds what every family shares (text for scripts and data files,
 * writing files under temporary names, data blocks) and runs gnuplot on each script
 * (fork/execvp, never a shell; 20 s limit; output kept for the note). Stored text reaches a
 * script only inside single quotes with ' doubled and made inert (txt_inert: control
 * characters as \xNN); in data files it is double-quoted, inert. It computes nothing. A
 * missing gnuplot is not an error. */
#include "sim/render/plot.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sim/render/plot_int.h"
#include "sim/render/report.h"
#include "sim/text/text.h"

/* ---- text for scripts and data files ---- */

/* An axis label for a swept parameter: "usd_per_kwh (USD/kWh)", or the name alone when its
 * key carries no unit ("fleet cn.usd_per_kwh" takes the unit of its key after the dot). */
void pl_param_label(const char *param, char *buf, int size)
{
    const char *dot = strrchr(param, '.');
    const char *unit = report_key_unit(dot ? dot + 1 : param);
    if (unit[0])
        snprintf(buf, (size_t)size, "%s (%s)", param, unit);
    else
        snprintf(buf, (size_t)size, "%s", param);
}

/* Writes s as a gnuplot single-quoted string: ' doubled (gnuplot's rule), control characters
 * as \xNN (txt_inert). Backquotes, @ macros and backslashes have no effect inside single
 * quotes. */
void pl_gp_str(FILE *f, const char *text)
{
    char s[PLOT_TEXT_MAX + 1];
    txt_inert(text, s, sizeof s);
    fputc('\'', f);
    for (int i = 0; s[i]; i++) {
        if (s[i] == '\'')
            fputs("''", f);
        else
            fputc(s[i], f);
    }
    fputc('\'', f);
}

/* Writes s as a double-quoted data-file column: " becomes ', control characters \xNN. */
void pl_dat_str(FILE *f, const char *text)
{
    char s[PLOT_TEXT_MAX + 1];
    txt_inert(text, s, sizeof s);
    fputc('"', f);
    for (int i = 0; s[i]; i++)
        fputc(s[i] == '"' ? '\'' : s[i], f);
    fputc('"', f);
}

/* A number for a data file: %.6g, or ? (the scripts' missing-value mark) when not finite. */
void pl_dat_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, " %.6g", v);
    else
        fputs(" ?", f);
}

/* Copies s into a PlotItem title, inert (control characters as \xNN). */
void pl_title_copy(char *dst, size_t size, const char *s)
{
    txt_inert(s, dst, size);
}

/* ---- files ---- */

/* NAME.ext is written as .NAME.ext.tmp and renamed by close_file, so that a full disk or a
 * kill never leaves a half-written script or data file under its real name. */
static int tmp_path(PlotCtx *c, const char *name, const char *ext, char *path, size_t size)
{
    return snprintf(path, size, "%s/.%s.%s.tmp", c->dir, name, ext) >= (int)size ? -1 : 0;
}

static int open_file(PlotCtx *c, const char *name, const char *ext, FILE **f, TsErr *err)
{
    char path[4096];
    if (tmp_path(c, name, ext, path, sizeof path))
        return ts_err_set(err, TS_EIO, "plot: folder name too long: %s", c->dir);
    *f = fopen(path, "w");
    if (!*f)
        return ts_err_set(err, TS_EIO, "plot: cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* Closes f and renames its temporary file to NAME.ext; on any failure the temporary file is
 * removed. */
static int close_file(PlotCtx *c, const char *name, const char *ext, FILE *f, TsErr *err)
{
    char tmp[4096], path[4096];
    tmp_path(c, name, ext, tmp, sizeof tmp);
    snprintf(path, sizeof path, "%s/%s.%s", c->dir, name, ext);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return ts_err_set(err, TS_EIO, "plot: cannot write %s: %s", path, strerror(e));
    }
    return 0;
}

/* Opens NAME.dat and NAME.gp and writes their headers; what is a fixed description. */
int pl_begin(PlotCtx *c, const char *name, const char *what, FILE **dat, FILE **gp, TsErr *err)
{
    int rc = open_file(c, name, "dat", dat, err);
    if (rc)
        return rc;
    rc = open_file(c, name, "gp", gp, err);
    if (rc) {
        char path[4096];
        fclose(*dat);
        if (!tmp_path(c, name, "dat", path, sizeof path))
            unlink(path);
        return rc;
    }
    fprintf(*dat, "# tokensim: %s\n", what);
    fprintf(*gp,
            "# tokensim: %s.\n"
            "# Edit and rerun with: gnuplot %s.gp (in this folder); it writes %s.png and %s.svg.\n"
            "reset\n"
            "set encoding utf8\n"
            "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
            "    set terminal pngcairo size 960,600 noenhanced font 'Sans,10'\n"
            "} else {\n"
            "    set terminal png size 960,600 noenhanced\n"
            "}\n"
            "set output '%s.png'\n"
            "set datafile missing '?'\n"
            "set key below noenhanced\n"
            "set grid ytics\n",
            what, name, name, name, name);
    return 0;
}

/* Writes the SVG half of a script, closes both files and records the plot. */
int pl_end(PlotCtx *c, const char *name, const char *title, FILE *dat, FILE *gp, TsErr *err)
{
    fprintf(gp,
            "set terminal svg size 960,600 noenhanced font 'Sans,10' background '#ffffff'\n"
            "set output '%s.svg'\n"
            "replot\n"
            "unset output\n",
            name);
    int rc = close_file(c, name, "dat", dat, err);
    int rc2 = close_file(c, name, "gp", gp, rc ? NULL : err);
    if (rc || rc2)
        return rc ? rc : rc2;
    PlotItem *it = &c->out->items[c->out->n++];
    snprintf(it->name, sizeof it->name, "%s", name);
    pl_title_copy(it->title, sizeof it->title, title);
    it->image = 0;
    return 0;
}

int pl_room(PlotCtx *c)
{
    if (c->out->n < PLOT_MAX)
        return 1;
    c->out->left_out++;
    return 0;
}

/* Discards a plot whose data turned out empty (files removed, not recorded). */
void pl_drop(PlotCtx *c, const char *name, FILE *dat, FILE *gp)
{
    char path[4096];
    fclose(dat);
    fclose(gp);
    if (!tmp_path(c, name, "dat", path, sizeof path))
        unlink(path);
    if (!tmp_path(c, name, "gp", path, sizeof path))
        unlink(path);
}

/* Ends a plot of data blocks: dropped (its temporary files removed) when rc is set or keep is
 * 0, else its plot command ends and it goes to pl_end. Returns rc or pl_end's status. */
int pl_finish(PlotCtx *c, const char *name, const char *title, int keep, int rc, FILE *dat,
                       FILE *gp, TsErr *err)
{
    if (rc || !keep) {
        pl_drop(c, name, dat, gp);
        return rc;
    }
    fputc('\n', gp);
    return pl_end(c, name, title, dat, gp, err);
}

/* Starts one series of a plot command over NAME.dat: "plot 'NAME.dat' index B" for the first,
 * ", \\" and "'' index B" on a new line after it; the caller adds "using ...". */
void pl_series(FILE *gp, const char *name, int first, int block)
{
    if (first)
        fprintf(gp, "plot '%s.dat' index %d", name, block);
    else
        fprintf(gp, ", \\\n     '' index %d", block);
}

/* ---- data ---- */

void pl_metric(const PlotCtx *c, const char *fleet, const char *metric, double v[4])
{
    v[0] = v[1] = v[2] = v[3] = NAN;
    const StoredMetric *m = store_run_metric(c->run, fleet, metric);
    if (!m)
        return;
    if (m->has_value)
        v[0] = m->value;
    if (m->has_pct) {
        v[1] = m->p5;
        v[2] = m->p50;
        v[3] = m->p95;
    }
}

static int row_cmp(const void *a, const void *b)
{
    const PlotRow *x = a, *y = b;
    for (int k = 0; k < 2; k++)
        if (x->key[k] != y->key[k])
            return x->key[k] < y->key[k] ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

void pl_sort(PlotRow *rows, long n)
{
    if (n > 1)
        qsort(rows, (size_t)n, sizeof *rows, row_cmp);
}

void pl_dump(FILE *dat, const PlotRow *rows, long n, int ncol, int vcol, int scans,
             const char *what, const char *name, int sep, int *finite)
{
    for (long r = 0; r < n; r++) {
        if (r == 0) {
            fprintf(dat, "%s# %s ", sep ? "\n\n" : "", what);
            pl_dat_str(dat, name);
            fputc('\n', dat);
        } else if (scans && rows[r].col[0] != rows[r - 1].col[0]) {
            fputc('\n', dat);
        }
        for (int i = 0; i < ncol; i++)
            pl_dat_num(dat, rows[r].col[i]);
        fputc('\n', dat);
        *finite += isfinite(rows[r].col[vcol]);
    }
}

/* ---- running gnuplot ---- */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t); /* for the time limit only, never for results */
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

enum { GP_OK = 0, GP_MISSING = 1, GP_FAILED = 2, GP_TIMEOUT = 3, GP_NOSPAWN = 4 };

/* Runs `gnuplot NAME.gp` in dir (no shell) with stdin from /dev/null and stdout/stderr into
 * msg (the start of it). Kills the child's process group after PLOT_TIMEOUT_S. */
static int gp_exec(const char *dir, const char *name, char *msg, size_t size)
{
    char script[PLOT_NAME_MAX + 8];
    int fds[2];
    snprintf(script, sizeof script, "%s.gp", name);
    msg[0] = '\0';
    if (pipe(fds) != 0)
        return GP_NOSPAWN;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return GP_NOSPAWN;
    }
    if (pid == 0) {
        /* the child: only calls that are safe between fork and exec */
        static const char nogp[] = "execvp gnuplot failed\n";
        setpgid(0, 0);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        if (chdir(dir) != 0)
            _exit(126);
        char *argv[] = {"gnuplot", script, NULL};
        execvp("gnuplot", argv);
        if (write(2, nogp, sizeof nogp - 1) < 0)
            _exit(127);
        _exit(127);
    }
    close(fds[1]);
    int fd = fds[0], status = 0, done = 0;
    size_t used = 0;
    double deadline = now_s() + PLOT_TIMEOUT_S;
    while (!done) {
        double left = deadline - now_s();
        if (left <= 0) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            if (fd >= 0)
                close(fd);
            return GP_TIMEOUT;
        }
        if (fd >= 0) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            int wait_ms = left > 0.1 ? 100 : (int)(left * 1000) + 1;
            if (poll(&p, 1, wait_ms) > 0) {
                char buf[512];
                ssize_t got = read(fd, buf, sizeof buf);
                if (got <= 0) {
                    close(fd);
                    fd = -1;
                } else if (used + 1 < size) {
                    size_t take = (size_t)got < size - 1 - used ? (size_t)got : size - 1 - used;
                    memcpy(msg + used, buf, take);
                    used += take;
                    msg[used] = '\0';
                }
            }
        } else {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR))
            done = 1;
    }
    if (fd >= 0)
        close(fd);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && strstr(msg, "execvp gnuplot failed"))
        return GP_MISSING;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? GP_OK : GP_FAILED;
}

static int nonempty(const char *dir, const char *name, const char *ext)
{
    char path[4096];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext);
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0;
}

static void unlink_image(const char *dir, const char *name, const char *ext)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext);
    unlink(path); /* usually absent: the folder is new */
}

/* Runs gnuplot on every script written; marks images and writes the note. */
static void render_all(PlotCtx *c)
{
    PlotResult *o = c->out;
    for (int i = 0; i < o->n; i++) {
        PlotItem *it = &o->items[i];
        char msg[512];
        unlink_image(c->dir, it->name, "png");
        unlink_image(c->dir, it->name, "svg");
        int r = gp_exec(c->dir, it->name, msg, sizeof msg);
        if (r == GP_OK && nonempty(c->dir, it->name, "png") && nonempty(c->dir, it->name, "svg")) {
            it->image = 1;
            o->n_images++;
            continue;
        }
        if (o->note[0])
            continue; /* the first failure says enough */
        size_t w = 0; /* one line: control characters and runs of spaces as one space */
        for (size_t k = 0; msg[k]; k++) {
            char ch = (unsigned char)msg[k] < 0x20 ? ' ' : msg[k];
            if (ch != ' ' || (w > 0 && msg[w - 1] != ' '))
                msg[w++] = ch;
        }
        msg[w] = '\0';
        switch (r) {
        case GP_MISSING:
            snprintf(o->note, sizeof o->note,
                     "gnuplot not found (Debian: apt-get install gnuplot-nox); wrote the .gp and "
                     ".dat files without images");
            return; /* the other scripts cannot run either */
        case GP_TIMEOUT:
            snprintf(o->note, sizeof o->note, "gnuplot %s.gp took over %.0f s and was stopped",
                     it->name, PLOT_TIMEOUT_S);
            break;
        case GP_NOSPAWN:
            snprintf(o->note, sizeof o->note, "could not start gnuplot for %s.gp: %s", it->name,
                     strerror(errno));
            break;
        default:
            snprintf(o->note, sizeof o->note, "gnuplot %s.gp failed: %.400s", it->name,
                     msg[0] ? msg : "no image written");
        }
    }
}


int plot_run(const StoredRun *run, const char *dir, PlotResult *out, TsErr *err)
{
    memset(out, 0, sizeof *out);
    PlotCtx c = {.run = run, .dir = dir, .out = out};
    /* the run's fleets in their order: table fleets, else the fleets of its metrics */
    int cap = run->n_fleets > 0 ? run->n_fleets : run->n_metrics;
    c.fleets = calloc((size_t)cap + 1, sizeof *c.fleets);
    if (!c.fleets)
        return ts_err_set(err, TS_ENOMEM, "plot: out of memory");
    for (int i = 0; i < run->n_fleets; i++)
        c.fleets[c.n_fleets++] = run->fleets[i].fleet;
    for (int i = 0; run->n_fleets == 0 && i < run->n_metrics; i++) {
        const char *f = run->metrics[i].fleet;
        int seen = strcmp(f, "-") == 0;
        for (int j = 0; j < c.n_fleets && !seen; j++)
            seen = strcmp(c.fleets[j], f) == 0;
        if (!seen)
            c.fleets[c.n_fleets++] = f;
    }
    int rc = pl_cost(&c, err);
    if (!rc)
        rc = pl_answers(&c, err);
    if (!rc)
        rc = pl_price_curve(&c, err);
    if (!rc)
        rc = pl_price_lines(&c, err);
    if (!rc)
        rc = pl_batch_curve(&c, err);
    if (!rc)
        rc = pl_heatmaps(&c, err);
    if (!rc)
        rc = pl_deployments(&c, err);
    if (!rc)
        rc = pl_latency_cdfs(&c, err);
    if (!rc)
        rc = pl_load_curve(&c, err);
    if (!rc)
        rc = pl_serving_days(&c, err);
    if (!rc)
        rc = pl_served_requests(&c, err);
    if (!rc)
        rc = pl_serving_validation(&c, err);
    if (!rc)
        rc = pl_histogram(&c, err);
    if (!rc)
        rc = pl_tornados(&c, err);
    for (int which = 0; which < 3 && !rc; which++)
        rc = pl_measure(&c, which, err);
    if (!rc)
        render_all(&c);
    free(c.fleets);
    if (!rc && out->left_out > 0 && !out->note[0])
        snprintf(out->note, sizeof out->note, "%d plots left out (at most %d per run)",
                 out->left_out, PLOT_MAX);
    return rc;
}
