/* cli: what every command shares: the error and usage messages (`tokensim: ...` on stderr,
 * exit statuses), option parsing helpers, finding the catalogs, naming an engine model, and
 * binding measured fleets to a measure run. */
#include <getopt.h>
#include <limits.h>
#include <unistd.h>

#include "models/formats/llama2c.h"
#include "sim/cli/measured.h"
#include "sim/text/text.h"
#include "sim/cli/cli.h"

int cli_exit_for(int code)
{
    return code == TS_EINPUT ? CLI_EXIT_USAGE : CLI_EXIT_RUNTIME;
}

/* Prints "tokensim: msg" on one line: a message may quote its input, so newlines in it are
 * spelled \x0a like every other control character (stderr keeps only the program's own). */
void cli_say_error(const char *msg)
{
    char line[4 * TS_ERR_MSG_MAX];
    fprintf(stderr, "tokensim: %s\n", txt_inert(msg, line, sizeof line));
}

int cli_fail(const TsErr *err)
{
    cli_say_error(err->msg);
    return cli_exit_for(err->code);
}

int cli_usage_error(const char *cmd, const char *msg)
{
    cli_say_error(msg);
    fprintf(stderr, "Try 'tokensim %s --help'.\n", cmd ? cmd : "");
    return CLI_EXIT_USAGE;
}

/* The usage error for getopt's ':' (an option without its value) or anything else it returns
 * for an unknown option; returns CLI_EXIT_USAGE. */
int cli_option_error(const char *cmd, int c, char **argv)
{
    char msg[200];
    if (c == ':')
        snprintf(msg, sizeof msg, "option %s needs a value", argv[optind - 1]);
    else
        snprintf(msg, sizeof msg, "unknown option '%s'", argv[optind - 1]);
    return cli_usage_error(cmd, msg);
}

/* Parses the options of run/check; returns the index of the first argument, or -1 (usage
 * error printed) or -2 (help printed). */
int cli_parse_options(const char *cmd, const char *usage, int argc, char **argv, Options *o,
                      int allow_store)
{
    static const struct option longs[] = {
        {"db", required_argument, NULL, 'd'},     {"out", required_argument, NULL, 'o'},
        {"data", required_argument, NULL, 'D'},   {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},         {"shard", required_argument, NULL, 's'},
        {"reproducible", no_argument, NULL, 'R'}, {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":qh", longs, NULL)) != -1) {
        switch (c) {
        case 'o':
        case 'q':
        case 's':
        case 'R':
            if (!allow_store) {
                /* argv[optind - 1] is the value for "--shard 1/2": name the option instead */
                const char *name = c == 'o'   ? "--out"
                                   : c == 's' ? "--shard"
                                   : c == 'R' ? "--reproducible"
                                              : "--quiet";
                char msg[128];
                snprintf(msg, sizeof msg, "'%s' does not take %s", cmd, name);
                cli_usage_error(cmd, msg);
                return -1;
            }
            if (c == 'o')
                o->out = optarg;
            else if (c == 's')
                o->shard = optarg;
            else if (c == 'R')
                o->reproducible = 1;
            else
                o->quiet = 1;
            break;
        case 'd':
            o->db = optarg;
            break;
        case 'D':
            o->data = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            return -2;
        default:
            cli_option_error(cmd, c, argv);
            return -1;
        }
    }
    if (o->db && !o->db[0]) {
        cli_usage_error(cmd, "--db needs a file name");
        return -1;
    }
    if (o->out && !o->out[0]) {
        cli_usage_error(cmd, "--out needs a folder name");
        return -1;
    }
    return optind;
}

/* Finds and loads the catalogs: --data, $TOKENSIM_DATA, ./data, beside the program, share. */
int cli_load_catalogs(const Options *o, ScnCatalogs *cats, TsErr *err)
{
    char beside[PATH_MAX] = "";
    ssize_t n = readlink("/proc/self/exe", beside, sizeof beside - 6);
    if (n > 0) {
        beside[n] = '\0';
        char *slash = strrchr(beside, '/');
        if (slash)
            strcpy(slash + 1, "data");
        else
            beside[0] = '\0';
    }
    char dir[PATH_MAX];
    if (o->data) {
        const char *one[] = {o->data};
        if (cat_find_dir(one, 1, dir, sizeof dir, err))
            return err->code;
    } else {
        /* A set $TOKENSIM_DATA is an explicit choice: no silent fallback when it is wrong. */
        const char *env = getenv("TOKENSIM_DATA");
        const char *dirs[] = {"data", beside, TS_DATADIR};
        if (env && env[0] ? cat_find_dir(&env, 1, dir, sizeof dir, err)
                          : cat_find_dir(dirs, 3, dir, sizeof dir, err))
            return err->code;
    }
    return scn_catalogs_load(cats, dir, err);
}

/* The engine model called name: a [model NAME] of the model file `config` when one is given
 * (resolved against the catalogs in data_dir or the usual places), else a preset. */
int cli_engine_model(const char *name, const char *config, const char *data, EngineConfig *out,
                     TsErr *err)
{
    if (!config)
        return cfg_preset(name, out, err);
    Options o = {.data = data};
    ScnCatalogs cats;
    if (cli_load_catalogs(&o, &cats, err))
        return err->code;
    Scenario s;
    int rc = scn_load_models(&s, config, &cats, err);
    if (!rc) {
        int found = -1;
        for (int i = 0; i < s.n_models; i++)
            if (txt_eq_nocase(s.models[i].name, name))
                found = i;
        if (found < 0)
            rc = ts_err_set(err, TS_EINPUT, "%s has no [model %s]", config, name);
        else
            rc = scn_engine_config(&s, &s.models[found], out, err);
        scn_fini(&s);
    }
    scn_catalogs_fini(&cats);
    return rc;
}

/* Binds measured fleets to the database at db_path (which must exist: checking writes
 * nothing, so it never creates one). */
int cli_bind_measured(Scenario *s, const char *db_path, TsErr *err)
{
    if (!msd_needed(s))
        return 0;
    if (access(db_path, F_OK) != 0) {
        int line = 0, measured = 0;
        for (int i = 0; i < s->n_fleets && !line; i++)
            if (s->fleets[i].throughput == THR_MEASURED || s->fleets[i].this_machine) {
                line = s->fleets[i].line;
                measured = s->fleets[i].throughput == THR_MEASURED;
            }
        return ts_err_set(err, TS_EINPUT,
                          "%s:%d: %s the database of a measure run, and %s does not exist; run "
                          "`tokensim measure` first (or give --db)",
                          s->path, line,
                          measured ? "throughput = measured needs" : "chip = this-machine needs",
                          db_path);
    }
    Store *db = NULL;
    if (store_open(db_path, &db, err))
        return err->code;
    int rc = msd_bind(s, db, err);
    store_close(db);
    return rc;
}

void cli_print_warnings(const Scenario *s)
{
    for (int i = 0; i < s->n_warnings; i++)
        fprintf(stderr, "tokensim: warning: %s\n", s->warnings[i]);
}

/* Splits the comma-separated value of option opt into at most max items, copied into buf (size
 * bytes). Prints the usage error (naming an example list) and returns -1 when the value does
 * not fit buf, holds no item or more than max; else returns the number of items. */
int cli_list_items(const char *cmd, const char *opt, const char *text, const char *example,
                   char *buf, size_t size, char **items, int max)
{
    char msg[200];
    if (strlen(text) >= size) {
        snprintf(msg, sizeof msg, "%s: a list of at most %zu characters, e.g. %s", opt, size - 1,
                 example);
        return cli_usage_error(cmd, msg), -1;
    }
    snprintf(buf, size, "%s", text);
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (n == max) {
            snprintf(msg, sizeof msg, "%s: at most %d items, e.g. %s", opt, max, example);
            return cli_usage_error(cmd, msg), -1;
        }
        items[n++] = tok;
    }
    if (n == 0) {
        snprintf(msg, sizeof msg, "%s needs a list such as %s", opt, example);
        return cli_usage_error(cmd, msg), -1;
    }
    return n;
}

/* Parses "fp32,int8" into precs (each at most once); prints the usage error and returns -1 on
 * a bad list. */
int cli_precision_list(const char *cmd, const char *text, Precision *precs, int *n)
{
    char buf[256], *items[PREC_COUNT];
    int m = cli_list_items(cmd, "--precision", text, "fp32,bf16,int8", buf, sizeof buf, items,
                           PREC_COUNT);
    if (m < 0)
        return -1;
    *n = 0;
    for (int k = 0; k < m; k++) {
        TsErr err;
        Precision p;
        if (prec_parse(items[k], &p, &err) != 0) {
            cli_usage_error(cmd, err.msg);
            return -1;
        }
        for (int i = 0; i < *n; i++)
            if (precs[i] == p) {
                cli_usage_error(cmd, "--precision: a precision is listed twice");
                return -1;
            }
        precs[(*n)++] = p;
    }
    return 0;
}

/* Parses a whole decimal number in [lo, hi] for option opt; prints the usage error. */
int cli_int_option(const char *cmd, const char *opt, const char *text, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || *end || end == text || v < lo || v > hi) {
        char msg[200];
        snprintf(msg, sizeof msg, "%s: expected a whole number in [%ld, %ld], got '%s'", opt, lo,
                 hi, text);
        cli_usage_error(cmd, msg);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_float_option(const char *cmd, const char *opt, const char *text, double lo, double hi,
                     double *out)
{
    double v;
    if (txt_parse_double(text, &v) != 0 || v < lo || v > hi) {
        char msg[200];
        snprintf(msg, sizeof msg, "%s: expected a number in [%g, %g], got '%s'", opt, lo, hi, text);
        cli_usage_error(cmd, msg);
        return -1;
    }
    *out = v;
    return 0;
}

/* A progress line: "\r" and line (the program's own text; names in it already inert) written
 * straight to fd 2, past the inert stderr, which would spell the "\r" out; last ends it. */
void cli_progress_line(const char *line, int last)
{
    fflush(stderr);
    char buf[320];
    int n = snprintf(buf, sizeof buf, "\r%s%s", line, last ? "\n" : "");
    if (n > (int)sizeof buf - 1)
        n = (int)sizeof buf - 1;
    for (int off = 0; n > off;) {
        ssize_t w = write(STDERR_FILENO, buf + off, (size_t)(n - off));
        if (w <= 0)
            break;
        off += (int)w;
    }
}

int cli_load_model(const char *checkpoint, const char *model_file, const char *preset,
                   const char *config, uint64_t seed, CliModel *m, TsErr *err)
{
    memset(m, 0, sizeof *m);
    if (checkpoint)
        return l2c_load(checkpoint, &m->cfg, &m->w, err);
    if (model_file)
        return mf_load(model_file, &m->cfg, &m->w, &m->map, err);
    if (cli_engine_model(preset, config, NULL, &m->cfg, err) || wt_alloc(&m->w, &m->cfg, err))
        return err->code;
    wt_init_seeded(&m->w, &m->cfg, seed);
    return 0;
}

void cli_unload_model(CliModel *m)
{
    wt_fini(&m->w);
    mf_unmap(&m->map);
}
