/* main: the tokensim command line. Parses subcommands and options, calls the library, prints
 * results and messages (`tokensim: ...` on stderr) and chooses the exit status: 0 success,
 * 1 runtime failure, 2 usage error or bad input. The only file that prints or exits. */
#include <errno.h>
#include <getopt.h>
#include <gsl/gsl_errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "models/engine/config.h"
#include "models/engine/forward.h"
#include "models/engine/generate.h"
#include "models/formats/llama2c.h"
#include "models/formats/modelfile.h"
#include "models/measure/machine.h"
#include "sim/cli/bench.h"
#include "sim/cli/measure.h"
#include "sim/study/montecarlo.h"
#include "sim/cli/measured.h"
#include "sim/store/store.h"
#include "sim/cli/validate.h"
#include "sim/price/evaluate.h"
#include "sim/price/metrics.h"
#include "sim/render/report.h"
#include "sim/cli/runner.h"
#include "sim/scenario/scenario.h"
#include "sim/study/par.h"
#include "sim/study/shard.h"
#include "sim/study/spread.h"
#include "sim/scenario/text.h"

#ifndef TS_VERSION
#define TS_VERSION "0.0.0"
#endif
#ifndef TS_DATADIR
#define TS_DATADIR "/usr/local/share/tokensim/data"
#endif

enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

static const char USAGE[] =
    "usage: tokensim COMMAND [OPTIONS] [ARGS]\n"
    "\n"
    "tokensim prices tokens: what a million input and output tokens cost, in dollars and\n"
    "joules, for a model on a fleet of chips at an electricity price.\n"
    "\n"
    "commands:\n"
    "  run SCENARIO.ini     price every fleet of a scenario; store the results in SQLite and\n"
    "                       write a report (report.md, metrics.csv) into a new folder\n"
    "  merge OUT.db PART...\n"
    "                       combine the parts of a Monte Carlo run (run --shard K/N) into a new\n"
    "                       database as one run\n"
    "  check SCENARIO.ini   validate scenario files; write nothing\n"
    "  models               list the engine's model presets with parameters, FLOPs and bytes\n"
    "  bench                benchmark the engine against this machine's measured ceilings\n"
    "  measure              run the engine's models here: tokens/s, FLOPs, bytes, joules\n"
    "  validate             compare the roofline's predictions with a measure run\n"
    "  runs                 list the runs in the database\n"
    "  report RUN           print a run's report (md, html, csv or json)\n"
    "  plot RUN             draw a run's plots again and rewrite its report.html\n"
    "  generate             generate text with a model (llama2.c checkpoint, model file or preset)\n"
    "  export               write a preset's seeded weights to a model file\n"
    "  help [COMMAND]       show help for tokensim or a command\n"
    "\n"
    "options:\n"
    "  -h, --help           show this help (after a command: that command's help)\n"
    "  -V, --version        print the version\n"
    "\n"
    "Exit status: 0 success, 1 runtime failure, 2 usage error or bad input.\n"
    "Scenario format: docs/scenario-format.md. Example: tokensim run scenarios/deepseek-day-margin.ini\n";

static const char USAGE_RUN[] =
    "usage: tokensim run [--db FILE] [--out DIR] [--data DIR] [--quiet] [--shard K/N]\n"
    "                    [--reproducible] SCENARIO.ini\n"
    "\n"
    "Prices every fleet of the scenario: throughput, chips, power, energy, $/M input and output\n"
    "tokens, revenue and margin. Results go to the database (table metrics, one row per fleet\n"
    "and metric) and to a report folder DIR/<scenario-stem>-<run-id>/ with report.md and\n"
    "metrics.csv. Nothing is written when the scenario does not validate.\n"
    "\n"
    "With the `make MPI=1` build, `mpirun -np N tokensim run SCENARIO.ini` spreads the Monte\n"
    "Carlo blocks and sweep points over N ranks (same results; rank 0 writes; see README).\n"
    "\n"
    "options:\n"
    "  --db FILE     SQLite database (default tokensim.db; created when missing)\n"
    "  --out DIR     folder for report folders (default out)\n"
    "  --data DIR    catalog folder (default $TOKENSIM_DATA, then ./data, then the folder\n"
    "                beside the program, then " TS_DATADIR ")\n"
    "  -q, --quiet   print only the report path\n"
    "  --shard K/N   Monte Carlo scenarios: run only shard K of N (1-based) of the sample\n"
    "                blocks and store them in --db as a part for `tokensim merge`; no report\n"
    "  --reproducible  report text without the run id and metrics.csv to 6 significant\n"
    "                figures, so that rerunning a scenario changes no text file (make reports)\n"
    "  -h, --help    show this help\n";

static const char USAGE_MERGE[] =
    "usage: tokensim merge [--out DIR] [--data DIR] [--quiet] OUT.db PART.db...\n"
    "\n"
    "Combines the parts of a Monte Carlo run, each made by `tokensim run --shard K/N\n"
    "SCENARIO.ini --db PART.db` for K = 1..N, into the new database OUT.db as one finished run:\n"
    "its metrics, histograms and tornado rows are those `tokensim run SCENARIO.ini` gives in one\n"
    "process, and its report folder goes under --out. The parts are only read. Refuses an\n"
    "existing OUT.db, and parts that are not shards 1..N (each once) of the same scenario.\n"
    "\n"
    "options:\n"
    "  --out DIR     folder for report folders (default out)\n"
    "  --data DIR    catalog folder (as for run)\n"
    "  -q, --quiet   print only the report path\n"
    "  -h, --help    show this help\n";

static const char USAGE_MODELS[] =
    "usage: tokensim models [--config FILE] [--data DIR]\n"
    "\n"
    "Lists the engine's presets: total and active parameters, FLOPs per decode token (at half\n"
    "the context length, textbook count plus element-wise ops), fp32 weight bytes read per\n"
    "decode token at batch 1, and KV-cache bytes per token of context. --config FILE adds the\n"
    "[model NAME] sections of a model file (docs/scenario-format.md, \"Model files\").\n";

static const char USAGE_BENCH[] =
    "usage: tokensim bench [--model NAME]... [--config FILE] [--threads 1|2] [--repeats N]\n"
    "                      [--precision LIST] [--out FILE]\n"
    "\n"
    "Measures this machine's ceilings (STREAM triad bandwidth, peak FMA rate, bf16 and int8\n"
    "dot-product peaks), then prefill (128-token prompt) and decode (batch 1, 4, 16) tokens/s\n"
    "of each preset and precision with achieved GFLOP/s and GB/s as shares of them, and\n"
    "writes the Markdown table to FILE (default BENCHMARKS.md). fp32 runs at 1 and N threads,\n"
    "bf16 and int8 at N. Progress goes to stderr. Takes several minutes for every preset.\n"
    "\n"
    "options:\n"
    "  --model NAME   benchmark only this model (repeatable): a preset, or a [model NAME]\n"
    "                 of the --config file\n"
    "  --config FILE  a model file with [model NAME] sections\n"
    "  --threads N    up to N threads (1 or 2; default 2)\n"
    "  --repeats N    timed repeats per measurement (default 3)\n"
    "  --precision LIST  weight precisions, comma-separated: fp32, bf16, int8 (default all)\n"
    "  --commit TEXT  commit id to print in the table (default: unknown)\n"
    "  --out FILE     where to write the table (default BENCHMARKS.md)\n";

static const char USAGE_GENERATE[] =
    "usage: tokensim generate (--checkpoint FILE | --model-file FILE | --model PRESET [--seed N])\n"
    "                         --tokenizer FILE [--prompt TEXT] [--steps N] [--temperature T]\n"
    "                         [--top-p P] [--seed N] [--threads N] [--precision P] [--kv P]\n"
    "\n"
    "Generates text as llama2.c's run does: the prompt (with BOS) is forced, then tokens are\n"
    "sampled until --steps positions (prompt included; default and maximum: the model's\n"
    "context) or a BOS. Temperature 0 is greedy decoding. Prints the text to stdout and the\n"
    "achieved tokens/s to stderr.\n"
    "\n"
    "options:\n"
    "  --checkpoint FILE  a llama2.c float32 checkpoint (.bin)\n"
    "  --model-file FILE  a tokensim model file (see tokensim export)\n"
    "  --model NAME       a preset (tokensim models lists them), or a [model NAME] of the\n"
    "                     --config model file, with seeded random weights\n"
    "  --config FILE      a model file with [model NAME] sections\n"
    "  --tokenizer FILE   llama2.c's tokenizer.bin matching the model's vocabulary (required)\n"
    "  --prompt TEXT      prompt text (default empty)\n"
    "  --steps N          positions in all (default: the model's context length)\n"
    "  --temperature T    0 = greedy (default 1.0)\n"
    "  --top-p P          nucleus sampling threshold in (0, 1] (default 0.9)\n"
    "  --seed N           seed for sampling and for preset weights (default 1)\n"
    "  --threads N        threads (default: the number of CPUs)\n"
    "  --precision P      weights in fp32 (default), bf16 or int8\n"
    "  --kv P             KV cache in fp32 (default) or bf16\n";

static const char USAGE_MEASURE[] =
    "usage: tokensim measure [--model NAME|all]... [--checkpoint FILE] [--config FILE]\n"
    "                        [--prompt N] [--gen N] [--batch LIST] [--threads N] [--repeat N]\n"
    "                        [--db FILE] [--out DIR] [--data DIR] [--json] [--meter auto|modeled]\n"
    "                        [--precision LIST] [--kv fp32|bf16] [--mtp D] [--mtp-accept LIST]\n"
    "\n"
    "Runs real forward passes of the models on this machine: for each model and decode batch, a\n"
    "warm-up, then repeats of prefilling every sequence and decoding them together. Records\n"
    "seconds (median, p10, p90), tokens/s, time to first token, time per output token, FLOPs,\n"
    "weight and KV bytes, and joules (gross, net of idle power, low/high band) with the power\n"
    "meter's source: measured:rapl, measured:perf-rapl, or modeled:cpu-linear when no meter can\n"
    "be read. Stores a measure run (tables runs, measurements, metrics) and writes\n"
    "DIR/measure-<id>/report.md and results.json. Progress goes to stderr on a terminal.\n"
    "\n"
    "options:\n"
    "  --model NAME      a preset or a [model NAME] of --config; 'all' = every preset\n"
    "                    (repeatable; default all)\n"
    "  --checkpoint FILE measure a llama2.c checkpoint too\n"
    "  --prompt N        prompt tokens per sequence (default 128)\n"
    "  --gen N           decode steps (default 32)\n"
    "  --batch LIST      decode batch sizes, e.g. 1,4,16 (default)\n"
    "  --threads N       threads (default: the number of CPUs)\n"
    "  --repeat N        timed repeats (default 3)\n"
    "  --json            print the results as JSON on stdout\n"
    "  --meter KIND      auto (default) or modeled (skip the hardware meters)\n"
    "  --precision LIST  weight precisions, e.g. fp32,bf16,int8 (default fp32); each reduced\n"
    "                    one is also compared with fp32 (logit differences, greedy agreement)\n"
    "  --kv PREC         KV-cache precision: fp32 (default) or bf16\n"
    "  --mtp D           also decode at batch 1 with D multi-token-prediction drafts per step\n"
    "                    (1 to 4), reporting the measured acceptance\n"
    "  --mtp-accept LIST with --mtp: forced acceptance rates in [0, 1], e.g. 0,0.5,0.8,1; each\n"
    "                    adds a run labelled forced (speed at that rate)\n";

static const char USAGE_VALIDATE[] =
    "usage: tokensim validate [--db FILE] [--run ID] [--eff-compute X] [--eff-memory X]\n"
    "                         [--eff-prefill X]\n"
    "\n"
    "Predicts this machine's tokens/s for every measured preset, phase and batch of a measure\n"
    "run (default the latest) with the roofline model, from the run's own probed ceilings (FMA\n"
    "peak and triad bandwidth) and the scenario default efficiencies, prints predicted against\n"
    "measured with the error, and stores the comparison in table validation.\n";

static const char USAGE_RUNS[] =
    "usage: tokensim runs [--db FILE] [--limit N]\n"
    "\n"
    "Lists the runs in the database (default tokensim.db), newest first: id, kind (scenario,\n"
    "sweep, measure), status (running, done, failed), start and finish time (UTC), number of\n"
    "fleets, name and report folder; a failed run's error on the line below. --limit N shows\n"
    "the newest N. Reads the database only.\n";

static const char USAGE_REPORT[] =
    "usage: tokensim report [--db FILE] [--format md|html|csv|json] RUN\n"
    "\n"
    "Prints the report of run RUN (an id from `tokensim runs`, or `latest`) on standard output:\n"
    "md (default) and html are the report.md and report.html of the run's folder; csv and json\n"
    "are read from the database: every metric row (fleet, metric, value, unit, p5, p50, p95;\n"
    "p5..p95 empty unless the run was Monte Carlo).\n";

static const char USAGE_PLOT[] =
    "usage: tokensim plot [--db FILE] RUN\n"
    "\n"
    "Writes the plots of run RUN (an id from `tokensim runs`, or `latest`) again into its\n"
    "folder (NAME.gp and NAME.dat, drawn by gnuplot as NAME.png and NAME.svg) and rewrites\n"
    "report.html. Edit a .gp file and run `gnuplot NAME.gp` in the folder to restyle one plot.\n";

static const char USAGE_EXPORT[] =
    "usage: tokensim export --model NAME [--config FILE] [--seed N] [--format tokensim|llama2c]\n"
    "                       --out FILE\n"
    "\n"
    "Writes a model's seeded random weights to FILE: a tokensim model file (versioned,\n"
    "checksummed, memory-mapped on load) or, for dense models, a llama2.c checkpoint. NAME is a\n"
    "preset, or a [model NAME] section of the --config model file.\n";

static const char USAGE_CHECK[] =
    "usage: tokensim check [--data DIR] [--db FILE] SCENARIO.ini...\n"
    "\n"
    "Validates scenario files against the format and the catalogs, and prints warnings.\n"
    "Writes nothing. Exit 0 when every file is valid, 2 at the first bad one.\n"
    "\n"
    "options:\n"
    "  --data DIR    catalog folder (as for run)\n"
    "  --db FILE     database with the measure runs that measured fleets use (read only;\n"
    "                default tokensim.db)\n"
    "  -h, --help    show this help\n";

typedef struct {
    const char *db;
    const char *out;
    const char *data;
    int quiet;
    int reproducible;  /* run --reproducible */
    const char *shard; /* run --shard K/N, as given */
} Options;

static int exit_for(int code)
{
    return code == TS_EINPUT ? EXIT_USAGE : EXIT_RUNTIME;
}

/* Prints "tokensim: msg" on one line: a message may quote its input, so newlines in it are
 * spelled \x0a like every other control character (stderr keeps only the program's own). */
static void say_error(const char *msg)
{
    char line[4 * TS_ERR_MSG_MAX];
    fprintf(stderr, "tokensim: %s\n", txt_inert(msg, line, sizeof line));
}

static int fail(const TsErr *err)
{
    say_error(err->msg);
    return exit_for(err->code);
}

static int usage_error(const char *cmd, const char *msg)
{
    say_error(msg);
    fprintf(stderr, "Try 'tokensim %s --help'.\n", cmd ? cmd : "");
    return EXIT_USAGE;
}

/* The usage error for getopt's ':' (an option without its value) or anything else it returns
 * for an unknown option; returns EXIT_USAGE. */
static int option_error(const char *cmd, int c, char **argv)
{
    char msg[200];
    if (c == ':')
        snprintf(msg, sizeof msg, "option %s needs a value", argv[optind - 1]);
    else
        snprintf(msg, sizeof msg, "unknown option '%s'", argv[optind - 1]);
    return usage_error(cmd, msg);
}

/* Parses the options of run/check; returns the index of the first argument, or -1 (usage
 * error printed) or -2 (help printed). */
static int parse_options(const char *cmd, const char *usage, int argc, char **argv, Options *o,
                         int allow_store)
{
    static const struct option longs[] = {
        {"db", required_argument, NULL, 'd'},  {"out", required_argument, NULL, 'o'},
        {"data", required_argument, NULL, 'D'}, {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},      {"shard", required_argument, NULL, 's'},
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
                usage_error(cmd, msg);
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
            option_error(cmd, c, argv);
            return -1;
        }
    }
    if (o->db && !o->db[0]) {
        usage_error(cmd, "--db needs a file name");
        return -1;
    }
    if (o->out && !o->out[0]) {
        usage_error(cmd, "--out needs a folder name");
        return -1;
    }
    return optind;
}

/* Finds and loads the catalogs: --data, $TOKENSIM_DATA, ./data, beside the program, share. */
static int load_catalogs(const Options *o, ScnCatalogs *cats, TsErr *err)
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
static int engine_model(const char *name, const char *config, const char *data, EngineConfig *out,
                        TsErr *err)
{
    if (!config)
        return cfg_preset(name, out, err);
    Options o = {.data = data};
    ScnCatalogs cats;
    if (load_catalogs(&o, &cats, err))
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
static int bind_measured(Scenario *s, const char *db_path, TsErr *err)
{
    if (!msd_needed(s))
        return 0;
    if (access(db_path, F_OK) != 0) {
        int line = 0;
        for (int i = 0; i < s->n_fleets && !line; i++)
            if (s->fleets[i].throughput == THR_MEASURED)
                line = s->fleets[i].line;
        return ts_err_set(err, TS_EINPUT,
                          "%s:%d: throughput = measured needs the database of a measure run, "
                          "and %s does not exist; run `tokensim measure` first (or give --db)",
                          s->path, line, db_path);
    }
    Store *db = NULL;
    if (store_open(db_path, &db, err))
        return err->code;
    int rc = msd_bind(s, db, err);
    store_close(db);
    return rc;
}

static void print_warnings(const Scenario *s)
{
    for (int i = 0; i < s->n_warnings; i++)
        fprintf(stderr, "tokensim: warning: %s\n", s->warnings[i]);
}

static int cmd_check(int argc, char **argv)
{
    Options o = {.db = "tokensim.db"};
    int first = parse_options("check", USAGE_CHECK, argc, argv, &o, 0);
    if (first < 0)
        return first == -2 ? 0 : EXIT_USAGE;
    if (first >= argc)
        return usage_error("check", "check needs at least one scenario file");
    TsErr err;
    ts_err_clear(&err);
    ScnCatalogs cats;
    if (load_catalogs(&o, &cats, &err))
        return fail(&err);
    int status = 0;
    for (int i = first; i < argc && status == 0; i++) {
        Scenario s;
        if (scn_load(&s, argv[i], &cats, &err)) {
            status = fail(&err);
            break;
        }
        FleetResult r;
        if (bind_measured(&s, o.db, &err))
            status = fail(&err);
        /* the sweep's and the comparison's keys and values are checked too */
        SwpPlan plan;
        memset(&plan, 0, sizeof plan);
        if (!status && s.n_dists > 0 && mc_check_size(&s, (long)s.sc[SK_SAMPLES].num, &err))
            status = fail(&err);
        if (!status && s.sweep.line > 0 && swp_plan(&s, &plan, &err))
            status = fail(&err);
        swp_plan_fini(&plan);
        for (int k = 0; k < s.n_fleets && status == 0; k++)
            if (eval_fleet(&s, &s.fleets[k], &r, &err))
                status = fail(&err);
        if (!status && s.compare.line > 0) {
            FleetResult *all = calloc((size_t)s.n_fleets, sizeof *all);
            CmpResult cmp;
            for (int k = 0; all && k < s.n_fleets; k++)
                eval_fleet(&s, &s.fleets[k], &all[k], &err);
            if (!all || cmp_run(&s, all, &cmp, &err))
                status = fail(&err);
            else
                cmp_fini(&cmp);
            free(all);
        }
        if (status) {
            scn_fini(&s);
            break;
        }
        print_warnings(&s);
        printf("%s: ok (%d fleet%s)\n", argv[i], s.n_fleets, s.n_fleets == 1 ? "" : "s");
        scn_fini(&s);
    }
    scn_catalogs_fini(&cats);
    return status;
}

static void print_model_row(const EngineConfig *c, const char *note)
{
    ShapeParams p;
    shape_params(&c->shape, &p);
    /* a shared classifier is the embedding: count that tensor once */
    double active = p.active - (c->shared_classifier ? p.head : 0.0);
    /* bytes a batch-1 decode step reads: every active weight once, the head included */
    double bytes = 4.0 * (p.nonembed_active + p.head + p.norms + (double)c->shape.d_model);
    char a[32], b[32], f[32], by[32], kv[32];
    printf("%-16s %12s %12s %14s %14s %12s  %s\n", c->name,
           report_fmt(cfg_param_count(c), a, sizeof a), report_fmt(active, b, sizeof b),
           report_fmt(eng_flops_row(c, c->max_seq / 2 - 1, 1), f, sizeof f),
           report_fmt(bytes, by, sizeof by),
           report_fmt(shape_kv_bytes_per_token(&c->shape, 4.0), kv, sizeof kv), note);
}

static int cmd_models(int argc, char **argv)
{
    static const struct option longs[] = {
        {"config", required_argument, NULL, 'c'}, {"data", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *data = NULL;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'D': data = optarg; break;
        case 'h': fputs(USAGE_MODELS, stdout); return 0;
        default:
            return option_error("models", c, argv);
        }
    }
    if (optind < argc)
        return usage_error("models", "models takes no arguments besides options");
    TsErr err;
    ts_err_clear(&err);
    /* the model file first: a bad one prints its error and nothing else */
    EngineConfig *extra = NULL;
    int n_extra = 0;
    if (config) {
        Options o = {.data = data};
        ScnCatalogs cats;
        if (load_catalogs(&o, &cats, &err))
            return fail(&err);
        Scenario s;
        int rc = scn_load_models(&s, config, &cats, &err);
        if (!rc && !(extra = calloc((size_t)s.n_models + 1, sizeof *extra)))
            rc = ts_err_set(&err, TS_ENOMEM, "out of memory");
        for (int i = 0; !rc && i < s.n_models; i++)
            rc = scn_engine_config(&s, &s.models[i], &extra[n_extra++], &err);
        if (s.path)
            scn_fini(&s);
        scn_catalogs_fini(&cats);
        if (rc) {
            free(extra);
            return fail(&err);
        }
    }
    printf("%-16s %12s %12s %14s %14s %12s  %s\n", "model", "params", "active", "FLOP/token",
           "bytes/token", "KV B/token", "what it is");
    for (int i = 0; i < cfg_preset_count(); i++) {
        EngineConfig cfg;
        if (cfg_preset(cfg_preset_name(i), &cfg, &err)) {
            free(extra);
            return fail(&err);
        }
        print_model_row(&cfg, cfg_preset_note(i));
    }
    for (int i = 0; i < n_extra; i++)
        print_model_row(&extra[i], config);
    free(extra);
    printf("\nFLOP/token at context max_seq/2; bytes/token: fp32 weights read by one decode "
           "step at batch 1.\n");
    return 0;
}

static void bench_progress(void *ctx, const char *msg)
{
    (void)ctx;
    say_error(msg);
}

/* Splits the comma-separated value of option opt into at most max items, copied into buf (size
 * bytes). Prints the usage error (naming an example list) and returns -1 when the value does
 * not fit buf, holds no item or more than max; else returns the number of items. */
static int list_items(const char *cmd, const char *opt, const char *text, const char *example,
                      char *buf, size_t size, char **items, int max)
{
    char msg[200];
    if (strlen(text) >= size) {
        snprintf(msg, sizeof msg, "%s: a list of at most %zu characters, e.g. %s", opt, size - 1,
                 example);
        return usage_error(cmd, msg), -1;
    }
    snprintf(buf, size, "%s", text);
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (n == max) {
            snprintf(msg, sizeof msg, "%s: at most %d items, e.g. %s", opt, max, example);
            return usage_error(cmd, msg), -1;
        }
        items[n++] = tok;
    }
    if (n == 0) {
        snprintf(msg, sizeof msg, "%s needs a list such as %s", opt, example);
        return usage_error(cmd, msg), -1;
    }
    return n;
}

/* Parses "fp32,int8" into precs (each at most once); prints the usage error and returns -1 on
 * a bad list. */
static int precision_list(const char *cmd, const char *text, Precision *precs, int *n)
{
    char buf[256], *items[PREC_COUNT];
    int m = list_items(cmd, "--precision", text, "fp32,bf16,int8", buf, sizeof buf, items,
                       PREC_COUNT);
    if (m < 0)
        return -1;
    *n = 0;
    for (int k = 0; k < m; k++) {
        TsErr err;
        Precision p;
        if (prec_parse(items[k], &p, &err) != 0) {
            usage_error(cmd, err.msg);
            return -1;
        }
        for (int i = 0; i < *n; i++)
            if (precs[i] == p) {
                usage_error(cmd, "--precision: a precision is listed twice");
                return -1;
            }
        precs[(*n)++] = p;
    }
    return 0;
}

static int cmd_bench(int argc, char **argv)
{
    static const struct option longs[] = {
        {"model", required_argument, NULL, 'm'}, {"threads", required_argument, NULL, 't'},
        {"repeats", required_argument, NULL, 'r'}, {"out", required_argument, NULL, 'o'},
        {"commit", required_argument, NULL, 'c'}, {"config", required_argument, NULL, 'C'},
        {"precision", required_argument, NULL, 'P'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *models[16], *config = NULL;
    int n_models = 0, threads = 2, repeats = 3, n_precs = 0;
    Precision precs[PREC_COUNT];
    const char *out = "BENCHMARKS.md", *commit = "unknown";
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        char msg[160];
        switch (c) {
        case 'm':
            if (n_models == 16)
                return usage_error("bench", "at most 16 --model options");
            models[n_models++] = optarg;
            break;
        case 't':
        case 'r': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || (c == 't' && v > 2) || v > 1000) {
                snprintf(msg, sizeof msg, "--%s: expected %s, got '%s'",
                         c == 't' ? "threads" : "repeats", c == 't' ? "1 or 2" : "1 to 1000",
                         optarg);
                return usage_error("bench", msg);
            }
            if (c == 't')
                threads = (int)v;
            else
                repeats = (int)v;
            break;
        }
        case 'o':
            out = optarg;
            break;
        case 'c':
            commit = optarg;
            break;
        case 'C':
            config = optarg;
            break;
        case 'P':
            if (precision_list("bench", optarg, precs, &n_precs))
                return 2;
            break;
        case 'h':
            fputs(USAGE_BENCH, stdout);
            return 0;
        default:
            return option_error("bench", c, argv);
        }
    }
    if (optind < argc)
        return usage_error("bench", "bench takes no arguments besides options");
    TsErr err;
    ts_err_clear(&err);
    EngineConfig cfgs[16];
    for (int i = 0; i < n_models; i++)
        if (engine_model(models[i], config, NULL, &cfgs[i], &err))
            return fail(&err);
    if (config && n_models == 0)
        return usage_error("bench", "--config needs --model NAME");
    static BenchTable table;
    BenchOptions o = {0};
    o.models = n_models ? cfgs : NULL;
    o.n_models = n_models;
    o.max_threads = threads;
    o.repeats = repeats;
    o.precisions = n_precs ? precs : NULL;
    o.n_precisions = n_precs;
    o.progress = bench_progress;
    if (bench_run(&o, &table, &err))
        return fail(&err);
    char machine[1024];
    machine_fingerprint_json(machine, sizeof machine);
    if (bench_write_md(&table, out, commit, machine, &err))
        return fail(&err);
    FILE *f = fopen(out, "r");
    if (f) {
        char line[1024];
        while (fgets(line, sizeof line, f))
            fputs(line, stdout);
        fclose(f);
    }
    fprintf(stderr, "tokensim: wrote %s\n", out);
    return 0;
}

/* Parses a whole decimal number in [lo, hi] for option opt; prints the usage error. */
static int int_option(const char *cmd, const char *opt, const char *text, long lo, long hi,
                      long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || *end || end == text || v < lo || v > hi) {
        char msg[200];
        snprintf(msg, sizeof msg, "%s: expected a whole number in [%ld, %ld], got '%s'", opt, lo,
                 hi, text);
        usage_error(cmd, msg);
        return -1;
    }
    *out = v;
    return 0;
}

static int float_option(const char *cmd, const char *opt, const char *text, double lo,
                        double hi, double *out)
{
    double v;
    if (txt_parse_double(text, &v) != 0 || v < lo || v > hi) {
        char msg[200];
        snprintf(msg, sizeof msg, "%s: expected a number in [%g, %g], got '%s'", opt, lo, hi,
                 text);
        usage_error(cmd, msg);
        return -1;
    }
    *out = v;
    return 0;
}

static void emit_stdout(void *ctx, const char *piece)
{
    (void)ctx;
    fputs(piece, stdout);
    fflush(stdout);
}

/* The model to run: a llama2.c checkpoint, a model file (mapped) or a seeded preset. */
typedef struct {
    EngineConfig cfg;
    Weights w;
    MfMapping map;
} LoadedModel;

static int load_model(const char *checkpoint, const char *model_file, const char *preset,
                      const char *config, uint64_t seed, LoadedModel *m, TsErr *err)
{
    memset(m, 0, sizeof *m);
    if (checkpoint)
        return l2c_load(checkpoint, &m->cfg, &m->w, err);
    if (model_file)
        return mf_load(model_file, &m->cfg, &m->w, &m->map, err);
    if (engine_model(preset, config, NULL, &m->cfg, err) || wt_alloc(&m->w, &m->cfg, err))
        return err->code;
    wt_init_seeded(&m->w, &m->cfg, seed);
    return 0;
}

static void unload_model(LoadedModel *m)
{
    wt_fini(&m->w);
    mf_unmap(&m->map);
}

static int cmd_generate(int argc, char **argv)
{
    static const struct option longs[] = {
        {"checkpoint", required_argument, NULL, 'c'}, {"model-file", required_argument, NULL, 'f'},
        {"model", required_argument, NULL, 'm'},      {"tokenizer", required_argument, NULL, 'k'},
        {"prompt", required_argument, NULL, 'p'},     {"steps", required_argument, NULL, 's'},
        {"temperature", required_argument, NULL, 't'}, {"top-p", required_argument, NULL, 'P'},
        {"seed", required_argument, NULL, 'S'},       {"threads", required_argument, NULL, 'T'},
        {"config", required_argument, NULL, 'C'},     {"help", no_argument, NULL, 'h'},
        {"precision", required_argument, NULL, 'Q'},  {"kv", required_argument, NULL, 'K'},
        {NULL, 0, NULL, 0},
    };
    const char *checkpoint = NULL, *model_file = NULL, *preset = NULL, *tokenizer = NULL;
    const char *config = NULL;
    GenOptions go = {"", 0, 1.0f, 0.9f, 1, probe_cpu_count(), PREC_FP32, PREC_FP32};
    optind = 1;
    opterr = 0;
    int c;
    long lv;
    double dv;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        switch (c) {
        case 'c': checkpoint = optarg; break;
        case 'f': model_file = optarg; break;
        case 'm': preset = optarg; break;
        case 'k': tokenizer = optarg; break;
        case 'p': go.prompt = optarg; break;
        case 's':
            if (int_option("generate", "--steps", optarg, 0, CFG_MAX_SEQ, &lv))
                return EXIT_USAGE;
            go.steps = (int)lv;
            break;
        case 't':
            if (float_option("generate", "--temperature", optarg, 0, 100, &dv))
                return EXIT_USAGE;
            go.temperature = (float)dv;
            break;
        case 'P':
            if (float_option("generate", "--top-p", optarg, 1e-6, 1, &dv))
                return EXIT_USAGE;
            go.top_p = (float)dv;
            break;
        case 'S':
            if (int_option("generate", "--seed", optarg, 0, LONG_MAX, &lv))
                return EXIT_USAGE;
            go.seed = (uint64_t)lv;
            break;
        case 'T':
            if (int_option("generate", "--threads", optarg, 1, 256, &lv))
                return EXIT_USAGE;
            go.threads = (int)lv;
            break;
        case 'C': config = optarg; break;
        case 'Q':
        case 'K': {
            TsErr perr;
            Precision p;
            if (prec_parse(optarg, &p, &perr) != 0 || (c == 'K' && p == PREC_INT8))
                return usage_error("generate", c == 'K' ? "--kv: expected fp32 or bf16"
                                                        : "--precision: expected fp32, bf16 "
                                                          "or int8");
            if (c == 'Q')
                go.prec = p;
            else
                go.kv = p;
            break;
        }
        case 'h': fputs(USAGE_GENERATE, stdout); return 0;
        default:
            return option_error("generate", c, argv);
        }
    }
    if (optind < argc)
        return usage_error("generate", "unexpected argument; put the prompt after --prompt");
    if ((checkpoint != NULL) + (model_file != NULL) + (preset != NULL) != 1)
        return usage_error("generate", "give one of --checkpoint, --model-file or --model");
    if (!tokenizer)
        return usage_error("generate", "--tokenizer FILE is required");
    TsErr err;
    ts_err_clear(&err);
    LoadedModel m;
    if (load_model(checkpoint, model_file, preset, config, go.seed, &m, &err))
        return fail(&err);
    Tokenizer tok;
    if (tok_load(&tok, tokenizer, (int)m.cfg.shape.vocab, &err)) {
        unload_model(&m);
        return fail(&err);
    }
    GenStats st;
    int rc = gen_run(&m.cfg, &m.w, &tok, &go, emit_stdout, NULL, &st, &err);
    printf("\n");
    if (!rc && st.generated > 1 && st.seconds > 0)
        fprintf(stderr, "achieved tok/s: %f\n", (st.generated - 1) / st.seconds);
    tok_fini(&tok);
    unload_model(&m);
    return rc ? fail(&err) : 0;
}

static int cmd_export(int argc, char **argv)
{
    static const struct option longs[] = {
        {"model", required_argument, NULL, 'm'}, {"seed", required_argument, NULL, 'S'},
        {"format", required_argument, NULL, 'F'}, {"out", required_argument, NULL, 'o'},
        {"config", required_argument, NULL, 'C'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *preset = NULL, *out = NULL, *format = "tokensim", *config = NULL;
    long seed = 1;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        switch (c) {
        case 'm': preset = optarg; break;
        case 'o': out = optarg; break;
        case 'F': format = optarg; break;
        case 'S':
            if (int_option("export", "--seed", optarg, 0, LONG_MAX, &seed))
                return EXIT_USAGE;
            break;
        case 'C': config = optarg; break;
        case 'h': fputs(USAGE_EXPORT, stdout); return 0;
        default:
            return option_error("export", c, argv);
        }
    }
    if (optind < argc || !preset || !out)
        return usage_error("export", "export needs --model PRESET and --out FILE");
    if (strcmp(format, "tokensim") != 0 && strcmp(format, "llama2c") != 0)
        return usage_error("export", "--format must be tokensim or llama2c");
    TsErr err;
    ts_err_clear(&err);
    LoadedModel m;
    if (load_model(NULL, NULL, preset, config, (uint64_t)seed, &m, &err))
        return fail(&err);
    int rc = strcmp(format, "llama2c") == 0 ? l2c_save(out, &m.cfg, &m.w, &err)
                                            : mf_save(out, &m.cfg, &m.w, (uint64_t)seed, &err);
    unload_model(&m);
    if (rc)
        return fail(&err);
    printf("%s: %s, seed %ld, %s format\n", out, m.cfg.name, seed, format);
    return 0;
}

/* A progress line: "\r" and line (the program's own text; names in it already inert) written
 * straight to fd 2, past the inert stderr, which would spell the "\r" out; last ends it. */
static void progress_line(const char *line, int last)
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

static void measure_progress(void *ctx, int done, int total, const char *what)
{
    (void)ctx;
    int width = 30, fill = total > 0 ? done * width / total : 0;
    char bar[31], name[48], line[160];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    txt_inert(what, name, sizeof name);
    snprintf(line, sizeof line, "[%s] %d/%d %-40.40s", bar, done, total, name);
    progress_line(line, done == total);
}

/* Splits "1,4,16" into batches; -1 (usage error printed) when malformed. */
static int parse_batches(const char *text, int *out, int max)
{
    char buf[256], *items[MSR_MAX_BATCHES];
    int n = list_items("measure", "--batch", text, "1,4,16", buf, sizeof buf, items,
                       max < MSR_MAX_BATCHES ? max : MSR_MAX_BATCHES);
    for (int k = 0; k < n; k++) {
        long v;
        if (int_option("measure", "--batch", items[k], 1, 1024, &v))
            return -1;
        out[k] = (int)v;
    }
    return n;
}

/* Parses "0,0.5,1" (rates in [0, 1], at most max); prints the usage error and returns -1 on a
 * bad list. */
static int accept_list(const char *text, double *out, int max)
{
    char buf[256], *items[MSR_MAX_ACCEPTS];
    int n = list_items("measure", "--mtp-accept", text, "0,0.5,1", buf, sizeof buf, items,
                       max < MSR_MAX_ACCEPTS ? max : MSR_MAX_ACCEPTS);
    for (int k = 0; k < n; k++)
        if (float_option("measure", "--mtp-accept", items[k], 0.0, 1.0, &out[k]))
            return -1;
    return n;
}

static int cmd_measure(int argc, char **argv)
{
    static const struct option longs[] = {
        {"model", required_argument, NULL, 'm'},  {"checkpoint", required_argument, NULL, 'c'},
        {"config", required_argument, NULL, 'C'}, {"prompt", required_argument, NULL, 'p'},
        {"gen", required_argument, NULL, 'g'},    {"batch", required_argument, NULL, 'b'},
        {"threads", required_argument, NULL, 't'}, {"repeat", required_argument, NULL, 'r'},
        {"db", required_argument, NULL, 'd'},     {"out", required_argument, NULL, 'o'},
        {"data", required_argument, NULL, 'D'},   {"json", no_argument, NULL, 'j'},
        {"meter", required_argument, NULL, 'M'},  {"help", no_argument, NULL, 'h'},
        {"precision", required_argument, NULL, 'P'}, {"kv", required_argument, NULL, 'K'},
        {"mtp", required_argument, NULL, 'T'},    {"mtp-accept", required_argument, NULL, 'A'},
        {NULL, 0, NULL, 0},
    };
    static MsrPlan plan;
    static MsrResult result;
    memset(&plan, 0, sizeof plan);
    const char *names[MSR_MAX_MODELS], *checkpoint = NULL, *config = NULL;
    int n_names = 0, json = 0, modeled_only = 0;
    Options o = {.db = "tokensim.db", .out = "out"};
    plan.threads = probe_cpu_count();
    optind = 1;
    opterr = 0;
    int c;
    long v;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        switch (c) {
        case 'm':
            if (n_names == MSR_MAX_MODELS)
                return usage_error("measure", "too many --model options");
            names[n_names++] = optarg;
            break;
        case 'c': checkpoint = optarg; break;
        case 'C': config = optarg; break;
        case 'p':
            if (int_option("measure", "--prompt", optarg, 1, CFG_MAX_SEQ, &v))
                return EXIT_USAGE;
            plan.prompt_tokens = (int)v;
            break;
        case 'g':
            if (int_option("measure", "--gen", optarg, 1, CFG_MAX_SEQ, &v))
                return EXIT_USAGE;
            plan.gen_tokens = (int)v;
            break;
        case 'b':
            if ((plan.n_batches = parse_batches(optarg, plan.batches, MSR_MAX_BATCHES)) < 0)
                return EXIT_USAGE;
            break;
        case 't':
            if (int_option("measure", "--threads", optarg, 1, 256, &v))
                return EXIT_USAGE;
            plan.threads = (int)v;
            break;
        case 'r':
            if (int_option("measure", "--repeat", optarg, 1, 1000, &v))
                return EXIT_USAGE;
            plan.repeats = (int)v;
            break;
        case 'd': o.db = optarg; break;
        case 'o': o.out = optarg; break;
        case 'D': o.data = optarg; break;
        case 'j': json = 1; break;
        case 'P':
            if (precision_list("measure", optarg, plan.precs, &plan.n_precs))
                return EXIT_USAGE;
            break;
        case 'K': {
            TsErr perr;
            if (prec_parse(optarg, &plan.kv, &perr) != 0 || plan.kv == PREC_INT8)
                return usage_error("measure", "--kv: expected fp32 or bf16");
            break;
        }
        case 'T':
            if (int_option("measure", "--mtp", optarg, 1, MTP_MAX_DEPTH, &v))
                return EXIT_USAGE;
            plan.mtp_depth = (int)v;
            break;
        case 'A':
            if ((plan.n_accepts = accept_list(optarg, plan.mtp_accepts, MSR_MAX_ACCEPTS)) < 0)
                return EXIT_USAGE;
            break;
        case 'M':
            if (strcmp(optarg, "auto") != 0 && strcmp(optarg, "modeled") != 0)
                return usage_error("measure", "--meter must be auto or modeled");
            modeled_only = strcmp(optarg, "modeled") == 0;
            break;
        case 'h': fputs(USAGE_MEASURE, stdout); return 0;
        default:
            return option_error("measure", c, argv);
        }
    }
    if (plan.n_accepts > 0 && plan.mtp_depth == 0)
        return usage_error("measure", "--mtp-accept needs --mtp D");
    if (optind < argc)
        return usage_error("measure", "measure takes no arguments besides options");
    TsErr err;
    ts_err_clear(&err);
    /* the models: presets ('all' or by name), model-file models, a checkpoint */
    LoadedModel *loaded = calloc(MSR_MAX_MODELS, sizeof *loaded);
    if (!loaded)
        return fail(&err);
    int n = 0, rc = 0;
    if (n_names == 0 && !checkpoint)
        names[n_names++] = "all";
    for (int i = 0; !rc && i < n_names; i++) {
        if (strcmp(names[i], "all") == 0) {
            for (int k = 0; !rc && k < cfg_preset_count(); k++) {
                if (n == MSR_MAX_MODELS) {
                    rc = ts_err_set(&err, TS_EINPUT, "at most %d models", MSR_MAX_MODELS);
                    break;
                }
                rc = load_model(NULL, NULL, cfg_preset_name(k), NULL, 1, &loaded[n], &err);
                n += !rc;
            }
        } else if (n == MSR_MAX_MODELS) {
            rc = ts_err_set(&err, TS_EINPUT, "at most %d models", MSR_MAX_MODELS);
        } else {
            rc = load_model(NULL, NULL, names[i], config, 1, &loaded[n], &err);
            n += !rc;
        }
    }
    if (!rc && checkpoint) {
        if (n == MSR_MAX_MODELS)
            rc = ts_err_set(&err, TS_EINPUT, "at most %d models", MSR_MAX_MODELS);
        else if (!(rc = load_model(checkpoint, NULL, NULL, NULL, 1, &loaded[n], &err)))
            n++;
    }
    /* the meter, with the modeled meter's coefficients for this CPU */
    char data_dir[PATH_MAX] = "", cpu[256];
    machine_cpu_model(cpu, sizeof cpu);
    MeterOptions mo = {.sysfs_root = "/sys", .kind = modeled_only ? METER_MODELED : METER_AUTO,
                       .use_nvml = 1};
    Meter *meter = NULL;
    if (!rc) {
        ScnCatalogs cats;
        if (!(rc = load_catalogs(&o, &cats, &err))) {
            snprintf(data_dir, sizeof data_dir, "%s", cats.dir);
            scn_catalogs_fini(&cats);
            rc = msr_cpu_power(data_dir, cpu, &mo.model, &err);
        }
    }
    if (!rc)
        rc = meter_open(&mo, &meter, &err);
    if (!rc) {
        for (int i = 0; i < n; i++) {
            plan.models[i] = loaded[i].cfg;
            plan.weights[i] = &loaded[i].w;
        }
        plan.n_models = n;
        plan.meter = meter;
        if (isatty(2))
            plan.progress = measure_progress;
        rc = msr_run(&plan, &result, &err);
    }
    if (!rc) {
        snprintf(result.meter_note, sizeof result.meter_note, "%s", mo.why_not);
        if (meter_is_modeled(meter))
            snprintf(result.cpu_power_row, sizeof result.cpu_power_row,
                     "row '%s' of cpu_power.csv: %.2f to %.2f W per vCPU (band %.2f-%.2f to "
                     "%.2f-%.2f); %s",
                     mo.model.family, mo.model.min_w_per_vcpu, mo.model.max_w_per_vcpu,
                     mo.model.low_min_w_per_vcpu, mo.model.low_max_w_per_vcpu,
                     mo.model.high_min_w_per_vcpu, mo.model.high_max_w_per_vcpu,
                     mo.model.source);
        char machine[1024], base[768];
        machine_fingerprint_json(base, sizeof base);
        /* the fingerprint plus this run's ceilings and meter */
        snprintf(machine, sizeof machine,
                 "%.*s,\"threads\":%d,\"bandwidth_gb_s\":%.1f,\"fp32_gflops\":%.1f,"
                 "\"kernels\":\"%s\",\"energy_source\":\"%s\"}",
                 (int)strlen(base) - 1, base, plan.threads, result.bandwidth.best,
                 result.compute.best, result.n_runs ? result.runs[0].r.kernel_path : "",
                 result.energy_source);
        RunnerOptions ro = {o.db, o.out, TS_VERSION, 0};
        RunnerResult rr;
        rc = runner_record_measure(&result, plan.models, n, machine, &ro, &rr, &err);
        if (!rc && rr.plot_note[0])
            fprintf(stderr, "tokensim: warning: %s\n", rr.plot_note);
        if (!rc && json) {
            msr_write_json(stdout, &result, rr.run_id, machine);
        } else if (!rc) {
            printf("measured %d model%s at %d thread%s; energy: %s%s\n\n", n, n == 1 ? "" : "s",
                   plan.threads, plan.threads == 1 ? "" : "s", result.energy_source,
                   result.modeled ? " (modeled, not measured)" : "");
            printf("%-18s %-8s %6s %12s %12s %12s\n", "model", "phase", "batch", "tokens/s",
                   "J/token", "GFLOP/s");
            StoreMeasurementRow *rows = calloc((size_t)(2 * result.n_runs), sizeof *rows);
            int nr = rows ? msr_rows(&result, rows) : 0;
            for (int i = 0; i < nr; i++) {
                char a[32], b[32], g[32];
                printf("%-18s %-8s %6d %12s %12s %12s\n", rows[i].model, rows[i].phase,
                       rows[i].batch, report_fmt((double)rows[i].tokens / rows[i].seconds, a, 32),
                       report_fmt(rows[i].energy_j / (double)rows[i].tokens, b, 32),
                       report_fmt(rows[i].flops / rows[i].seconds / 1e9, g, 32));
            }
            free(rows);
            printf("\nreport:   %s/report.html (and report.md, results.json)\n"
                   "plots:    %d drawn of %d\ndatabase: %s (run %lld)\n",
                   rr.out_dir, rr.n_images, rr.n_plots, o.db, (long long)rr.run_id);
        }
    }
    meter_close(meter);
    for (int i = 0; i < MSR_MAX_MODELS; i++)
        unload_model(&loaded[i]);
    free(loaded);
    return rc ? fail(&err) : 0;
}

static int cmd_validate(int argc, char **argv)
{
    static const struct option longs[] = {
        {"db", required_argument, NULL, 'd'},          {"run", required_argument, NULL, 'r'},
        {"eff-compute", required_argument, NULL, 'c'}, {"eff-memory", required_argument, NULL, 'm'},
        {"eff-prefill", required_argument, NULL, 'p'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_path = "tokensim.db";
    long run = 0;
    ValOptions vo = {0.5, 0.7, 0.5};
    optind = 1;
    opterr = 0;
    int c;
    double v;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        switch (c) {
        case 'd': db_path = optarg; break;
        case 'r':
            if (int_option("validate", "--run", optarg, 1, LONG_MAX, &run))
                return EXIT_USAGE;
            break;
        case 'c':
        case 'm':
        case 'p':
            if (float_option("validate", argv[optind - 2], optarg, 1e-6, 1, &v))
                return EXIT_USAGE;
            *(c == 'c' ? &vo.eff_compute : c == 'm' ? &vo.eff_memory : &vo.eff_prefill) = v;
            break;
        case 'h': fputs(USAGE_VALIDATE, stdout); return 0;
        default:
            return option_error("validate", c, argv);
        }
    }
    if (optind < argc)
        return usage_error("validate", "validate takes no arguments besides options");
    TsErr err;
    ts_err_clear(&err);
    if (access(db_path, F_OK) != 0) {
        ts_err_set(&err, TS_EINPUT, "%s does not exist; run `tokensim measure` first", db_path);
        return fail(&err);
    }
    Store *db = NULL;
    if (store_open(db_path, &db, &err))
        return fail(&err);
    StoreMeasurements ms;
    int64_t run_id = 0;
    double peak, bw;
    int rc = store_read_measurements(db, run, &run_id, &ms, &peak, &bw, &err);
    ValRow *rows = NULL;
    StoreValidationRow *vrows = NULL;
    int n = 0;
    if (!rc) {
        rows = calloc((size_t)ms.n + 1, sizeof *rows);
        vrows = calloc((size_t)ms.n + 1, sizeof *vrows);
        if (!rows || !vrows)
            rc = ts_err_set(&err, TS_ENOMEM, "out of memory");
    }
    if (!rc) {
        n = val_predict(ms.rows, ms.n, peak, bw, &vo, rows);
        val_store_rows(rows, n, vrows);
        rc = store_replace_validation(db, run_id, vrows, n, &err);
    }
    if (!rc) {
        printf("measure run %lld: %d configurations of engine presets; ceilings %.1f GFLOP/s, "
               "%.1f GB/s\n",
               (long long)run_id, n, peak, bw);
        val_write_md(stdout, rows, n, &vo);
    }
    free(rows);
    free(vrows);
    store_measurements_free(&ms);
    store_close(db);
    return rc ? fail(&err) : 0;
}

/* Prints s inert (a stored name cannot drive the terminal), padded to width. */
static void print_plain(const char *s, int width)
{
    char *inert = txt_inert_dup(s);
    fputs(inert ? inert : "?", stdout);
    for (int n = inert ? (int)strlen(inert) : 1; n < width; n++)
        putchar(' ');
    free(inert);
}

static int print_run_row(void *ctx, const StoreRunRow *r, TsErr *err)
{
    (void)err;
    int *count = ctx;
    if ((*count)++ == 0)
        printf("%6s  %-8s  %-7s  %-20s  %-20s  %6s  %-24s  %s\n", "id", "kind", "status",
               "started (UTC)", "finished (UTC)", "fleets", "name", "report folder");
    printf("%6lld  %-8s  %-7s  %-20s  %-20s  %6d  ", (long long)r->id, r->kind, r->status,
           r->started_at, r->finished_at[0] ? r->finished_at : "-", r->n_fleets);
    print_plain(r->name, 24);
    fputs("  ", stdout);
    print_plain(r->out_dir[0] ? r->out_dir : "-", 0);
    putchar('\n');
    if (r->error[0]) {
        fputs("        error: ", stdout);
        print_plain(r->error, 0);
        putchar('\n');
    }
    return 0;
}

static int cmd_runs(int argc, char **argv)
{
    static const struct option longs[] = {
        {"db", required_argument, NULL, 'd'},
        {"limit", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_path = "tokensim.db";
    long limit = 0;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        switch (c) {
        case 'd': db_path = optarg; break;
        case 'n':
            if (int_option("runs", "--limit", optarg, 1, INT_MAX, &limit))
                return EXIT_USAGE;
            break;
        case 'h': fputs(USAGE_RUNS, stdout); return 0;
        default:
            return option_error("runs", c, argv);
        }
    }
    if (optind < argc)
        return usage_error("runs", "runs takes no arguments besides options");
    TsErr err;
    ts_err_clear(&err);
    Store *db = NULL;
    if (store_open_readonly(db_path, &db, &err))
        return fail(&err);
    int count = 0;
    int rc = store_each_run(db, (int)limit, print_run_row, &count, &err);
    store_close(db);
    if (rc)
        return fail(&err);
    if (count == 0)
        printf("%s holds no runs yet\n", db_path);
    return 0;
}

/* The run that `RUN` names (an id or `latest`), with copies of what report and plot need. */
typedef struct {
    int64_t want; /* 0: the newest */
    int found;
    int64_t id;
    char kind[16], status[16], name[256], out_dir[4096];
} RunPick;

static int pick_run_row(void *ctx, const StoreRunRow *r, TsErr *err)
{
    (void)err;
    RunPick *p = ctx;
    if (p->found || (p->want && r->id != p->want))
        return 0;
    p->found = 1;
    p->id = r->id;
    snprintf(p->kind, sizeof p->kind, "%s", r->kind);
    snprintf(p->status, sizeof p->status, "%s", r->status);
    snprintf(p->name, sizeof p->name, "%s", r->name);
    snprintf(p->out_dir, sizeof p->out_dir, "%s", r->out_dir);
    return 0;
}

/* Opens db_path read-only and finds run `text`; exit status on failure (message printed). */
static int open_run(const char *cmd, const char *db_path, const char *text, Store **db,
                    RunPick *p)
{
    memset(p, 0, sizeof *p);
    long id = 0;
    if (strcmp(text, "latest") != 0 && int_option(cmd, "RUN", text, 1, LONG_MAX, &id))
        return EXIT_USAGE;
    p->want = id;
    TsErr err;
    ts_err_clear(&err);
    if (store_open_readonly(db_path, db, &err))
        return fail(&err);
    if (store_each_run(*db, 0, pick_run_row, p, &err)) {
        store_close(*db);
        return fail(&err);
    }
    if (!p->found) {
        store_close(*db);
        if (id)
            ts_err_set(&err, TS_EINPUT, "%s has no run %ld (see `tokensim runs --db %s`)",
                       db_path, id, db_path);
        else
            ts_err_set(&err, TS_EINPUT, "%s holds no runs yet", db_path);
        return fail(&err);
    }
    if (strcmp(p->status, "done") != 0) {
        store_close(*db);
        ts_err_set(&err, TS_EINPUT, "run %lld is %s, not done: it has no results to show",
                   (long long)p->id, p->status);
        return fail(&err);
    }
    return 0;
}

static int print_metric_csv(void *ctx, const StoreMetricRow *m, TsErr *err)
{
    (void)err;
    FILE *f = ctx;
    report_csv_text(f, m->fleet);
    fputc(',', f);
    report_csv_text(f, m->metric);
    fputc(',', f);
    if (m->has_value)
        fprintf(f, "%.10g", m->value);
    fputc(',', f);
    report_csv_text(f, m->unit);
    if (m->has_pct)
        fprintf(f, ",%.10g,%.10g,%.10g\n", m->p5, m->p50, m->p95);
    else
        fputs(",,,\n", f);
    return 0;
}

static int print_metric_json(void *ctx, const StoreMetricRow *m, TsErr *err)
{
    (void)err;
    int *n = ctx;
    fputs((*n)++ ? ",\n    {\"fleet\": " : "\n    {\"fleet\": ", stdout);
    txt_json_str(stdout, m->fleet);
    fputs(", \"metric\": ", stdout);
    txt_json_str(stdout, m->metric);
    fputs(", \"value\": ", stdout);
    txt_json_num(stdout, m->has_value ? m->value : NAN);
    fputs(", \"unit\": ", stdout);
    txt_json_str(stdout, m->unit);
    fputs(", \"p5\": ", stdout);
    txt_json_num(stdout, m->has_pct ? m->p5 : NAN);
    fputs(", \"p50\": ", stdout);
    txt_json_num(stdout, m->has_pct ? m->p50 : NAN);
    fputs(", \"p95\": ", stdout);
    txt_json_num(stdout, m->has_pct ? m->p95 : NAN);
    fputc('}', stdout);
    return 0;
}

/* Copies the file at path to standard output; 0 or -1 (errno set) when it cannot be read. */
static int cat_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, n, stdout);
    int bad = ferror(f);
    fclose(f);
    return bad ? -1 : 0;
}

static int cmd_report(int argc, char **argv)
{
    static const struct option longs[] = {
        {"db", required_argument, NULL, 'd'},
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_path = "tokensim.db", *format = "md";
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        switch (c) {
        case 'd': db_path = optarg; break;
        case 'f': format = optarg; break;
        case 'h': fputs(USAGE_REPORT, stdout); return 0;
        default:
            return option_error("report", c, argv);
        }
    }
    int is_md = strcmp(format, "md") == 0, is_html = strcmp(format, "html") == 0;
    int is_csv = strcmp(format, "csv") == 0, is_json = strcmp(format, "json") == 0;
    if (!is_md && !is_html && !is_csv && !is_json) {
        char msg[160];
        snprintf(msg, sizeof msg, "--format: expected md, html, csv or json, got '%.60s'", format);
        return usage_error("report", msg);
    }
    if (argc - optind != 1)
        return usage_error("report", "report takes one RUN (an id from `tokensim runs`, or latest)");
    Store *db = NULL;
    RunPick p;
    int rc = open_run("report", db_path, argv[optind], &db, &p);
    if (rc)
        return rc;
    TsErr err;
    ts_err_clear(&err);
    if (is_csv) {
        fputs("fleet,metric,value,unit,p5,p50,p95\n", stdout);
        rc = store_each_metric(db, p.id, print_metric_csv, stdout, &err);
    } else if (is_json) {
        int n = 0;
        printf("{\"run\": {\"id\": %lld, \"kind\": ", (long long)p.id);
        txt_json_str(stdout, p.kind);
        fputs(", \"name\": ", stdout);
        txt_json_str(stdout, p.name);
        fputs("},\n  \"metrics\": [", stdout);
        rc = store_each_metric(db, p.id, print_metric_json, &n, &err);
        if (!rc)
            fputs(n ? "\n  ]}\n" : "]}\n", stdout);
    } else {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", p.out_dir, is_md ? "report.md" : "report.html");
        if (!p.out_dir[0] || cat_file(path))
            rc = ts_err_set(&err, TS_EIO,
                            "%s: cannot read it (%s); the run's folder may have been moved or "
                            "removed: `tokensim report --format csv %lld` reads the database",
                            p.out_dir[0] ? path : "(no report folder)",
                            p.out_dir[0] ? strerror(errno) : "a part of a sharded run",
                            (long long)p.id);
    }
    store_close(db);
    if (!rc && fflush(stdout))
        rc = ts_err_set(&err, TS_EIO, "writing to standard output: %s", strerror(errno));
    return rc ? fail(&err) : 0;
}

static int cmd_plot(int argc, char **argv)
{
    static const struct option longs[] = {
        {"db", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_path = "tokensim.db";
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        switch (c) {
        case 'd': db_path = optarg; break;
        case 'h': fputs(USAGE_PLOT, stdout); return 0;
        default:
            return option_error("plot", c, argv);
        }
    }
    if (argc - optind != 1)
        return usage_error("plot", "plot takes one RUN (an id from `tokensim runs`, or latest)");
    Store *db = NULL;
    RunPick p;
    int rc = open_run("plot", db_path, argv[optind], &db, &p);
    if (rc)
        return rc;
    TsErr err;
    ts_err_clear(&err);
    RunnerResult rr;
    memset(&rr, 0, sizeof rr);
    snprintf(rr.out_dir, sizeof rr.out_dir, "%s", p.out_dir);
    if (!p.out_dir[0])
        rc = ts_err_set(&err, TS_EINPUT, "run %lld has no report folder (a part of a sharded run)",
                        (long long)p.id);
    if (!rc)
        rc = runner_render(db, p.id, p.name, &rr, &err);
    store_close(db);
    if (!rc) {
        if (rr.plot_note[0])
            fprintf(stderr, "tokensim: warning: %s\n", rr.plot_note);
        printf("run %lld: %d plots written, %d drawn\nreport: %s/report.html\n",
               (long long)p.id, rr.n_plots, rr.n_images, p.out_dir);
    }
    return rc ? fail(&err) : 0;
}

/* Set by SIGINT during a Monte Carlo run; the sampling loop checks it between blocks. The one
 * piece of mutable global state: a signal handler can reach nothing else. */
static volatile sig_atomic_t g_interrupted = 0;

static void on_interrupt(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

static double wall_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Progress of a Monte Carlo run, printed by rank 0 only. */
typedef struct {
    double started; /* wall_now() at the start */
    long all;       /* samples of the whole run; 0 when this process runs them all */
} McProgress;

/* ctx: an McProgress. Under mpirun, rank 0's own share stands for every rank's (they run
 * equal shares of blocks at the same pace), scaled to the whole run. */
static void mc_progress(void *ctx, long done, long total)
{
    const McProgress *pg = ctx;
    if (pg->all > 0 && total > 0 && total != pg->all) {
        done = done == total ? pg->all : (long)((double)done * (double)pg->all / (double)total);
        total = pg->all;
    }
    double elapsed = wall_now() - pg->started;
    double rate = elapsed > 0 ? (double)done / elapsed : 0;
    char line[160];
    snprintf(line, sizeof line, "Monte Carlo: %ld of %ld samples (%.0f%%), %.0f samples/s, %.0f s left  ",
             done, total, 100.0 * (double)done / (double)total, rate,
             rate > 0 ? (double)(total - done) / rate : 0);
    progress_line(line, done == total);
}

static void print_summary(const Scenario *s, const FleetResult *res)
{
    char a[32], b[32], c[32], d[32], e[32];
    printf("%-20s %-14s %-18s %8s %12s %12s %12s %14s\n", "fleet", "chip", "model", "chips",
           "USD/M out", "USD/M in", "J/out tok", "USD/window");
    for (int i = 0; i < s->n_fleets; i++) {
        const MetricSet *m = &res[i].metrics;
        const ScnFleet *f = &s->fleets[i];
#define CELL(buf, id) (m->has[id] ? report_fmt(m->value[id], buf, sizeof buf) : "n/a")
        printf("%-20s %-14s %-18s %8s %12s %12s %12s %14s\n", f->name, f->chip.name,
               s->models[f->model].name, CELL(a, MET_CHIPS), CELL(b, MET_USD_PER_M_OUTPUT),
               CELL(c, MET_USD_PER_M_INPUT), CELL(d, MET_J_PER_OUTPUT_TOKEN),
               CELL(e, MET_USD_PER_DAY));
#undef CELL
    }
}

/* run --shard K/N: this shard's Monte Carlo blocks of s into o->db, a part for merge. Returns
 * the exit status (messages printed). */
static int run_shard(Scenario *s, const Options *o, ShardSpec spec)
{
    if (s->n_dists == 0) {
        char msg[PATH_MAX + 160];
        snprintf(msg, sizeof msg,
                 "--shard splits the Monte Carlo samples of a scenario with distributions, and "
                 "%s has none: run it without --shard",
                 s->path);
        return usage_error("run", msg);
    }
    TsErr err;
    ts_err_clear(&err);
    ShardRun r;
    McProgress pg = {wall_now(), 0};
    McOptions mo = {0, 0, 1, isatty(2) ? mc_progress : NULL, &pg, &g_interrupted};
    signal(SIGINT, on_interrupt);
    int rc = shard_run_init(&r, s, spec, &err);
    if (!rc)
        rc = shard_run(s, &mo, &r, &err);
    signal(SIGINT, SIG_DFL);
    if (rc) {
        shard_run_fini(&r);
        if (g_interrupted) {
            fprintf(stderr, "\ntokensim: interrupted; nothing was stored\n");
            return 130;
        }
        return fail(&err);
    }
    RunnerOptions ro = {o->db, o->out, TS_VERSION, 0};
    RunnerResult rr;
    rc = runner_record_shard(s, &r, &ro, &rr, &err);
    if (!rc) {
        int blocks = 0;
        long samples = 0;
        for (int b = 0; b < r.mc.n_blocks; b++)
            if (r.mc.have_block[b]) {
                blocks++;
                samples += (b + 1 < r.mc.n_blocks ? MC_BLOCK : r.mc.n_samples - (long)b * MC_BLOCK);
            }
        if (o->quiet)
            printf("%s\n", o->db);
        else
            printf("scenario %s: shard %d/%d, %d of %d blocks (%ld of %ld samples)\n"
                   "database: %s (run %lld); combine the parts with `tokensim merge OUT.db "
                   "PART.db...`\n",
                   s->sc[SK_NAME].text, spec.k, spec.n, blocks, r.mc.n_blocks, samples,
                   r.mc.n_samples, o->db, (long long)rr.run_id);
    }
    shard_run_fini(&r);
    return rc ? fail(&err) : 0;
}

/* The ranks of this process (par.h) and, for run, whether rank 0 has released the others. */
typedef struct {
    ParCtx par;
    int released;  /* rank 0 has sent the scenario, or said that there is none */
    int fail_rank; /* TOKENSIM_TEST_FAIL_RANK (a test hook: that rank fails), -1 when unset */
} Ranks;

/* What the phases every rank takes part in leave on rank 0. */
typedef struct {
    McResult mc;
    SwpPlan plan; /* made by the caller before the phases */
    SwpResult sweep;
    int have_mc, have_sweep;
    SprStats mc_stats, sweep_stats;
} Phases;

static void phases_fini(Phases *ph)
{
    mc_fini(&ph->mc);
    swp_result_fini(&ph->sweep);
    swp_plan_fini(&ph->plan);
}

/* The phases of a run over the ranks, collective: Monte Carlo (when sample and s has
 * distributions), then [sweep] at the central values (ph->plan). Results on rank 0 only. */
static int run_phases(const SprOptions *so, Scenario *s, int sample, const McOptions *mo,
                      Phases *ph, TsErr *err)
{
    int rc = 0;
    if (sample && s->n_dists > 0) {
        rc = spr_mc_run(so, s, mo, &ph->mc, &ph->mc_stats, err);
        ph->have_mc = !rc && so->par->rank == 0;
    }
    if (!rc && s->sweep.line > 0) {
        rc = spr_sweep_run(so, s, &ph->plan, &ph->sweep, &ph->sweep_stats, err);
        ph->have_sweep = !rc && so->par->rank == 0;
    }
    return rc;
}

/* Rank 0 to the others, once: go (s's text follows) or stop (s NULL; they exit with status).
 * Broadcast head: {go, status, text length}. */
static int release_ranks(Ranks *rk, int status, const Scenario *s, TsErr *err)
{
    rk->released = 1;
    if (rk->par.size == 1)
        return 0;
    int64_t head[3] = {s != NULL, status, s ? (int64_t)s->text_len : 0};
    if (par_bcast_bytes(&rk->par, head, sizeof head, err))
        return err->code;
    return s ? par_bcast_bytes(&rk->par, s->text, s->text_len, err) : 0;
}

/* A run whose phases failed (a rank failed, or Ctrl-C): a `failed` runs row with the message
 * and no results, and what happened on stderr. Returns the exit status (130 after Ctrl-C). */
static int record_failed(const Scenario *s, const Options *o, const TsErr *err)
{
    int stopped = g_interrupted != 0;
    RunnerOptions ro = {o->db, o->out, TS_VERSION, 0};
    int64_t id = 0;
    TsErr rerr;
    ts_err_clear(&rerr);
    if (!stopped)
        say_error(err->msg);
    const char *what = stopped ? "\ntokensim: interrupted" : "tokensim: the run failed";
    if (runner_record_interrupted(s, s->sweep.line > 0, &ro,
                                  stopped ? "interrupted (Ctrl-C) during Monte Carlo sampling; "
                                            "no results stored"
                                          : err->msg,
                                  &id, &rerr))
        fprintf(stderr, "%s; nothing was stored (%s)\n", what, rerr.msg);
    else
        fprintf(stderr, "%s; run %lld marked failed, no results stored\n", what, (long long)id);
    return stopped ? 130 : exit_for(err->code);
}

/* MPI builds, after the summary: what the ranks did and what rank 0 received. */
static void print_spread(const ParCtx *par, const Phases *ph)
{
    printf("ranks:    %d (Open MPI)\n", par->size);
    const SprStats *st[2] = {ph->have_mc ? &ph->mc_stats : NULL,
                             ph->have_sweep ? &ph->sweep_stats : NULL};
    const char *name[2] = {"Monte Carlo", "sweep"};
    for (int i = 0; i < 2; i++)
        if (st[i])
            printf("  %s: rank 0's own items %.3f s, waiting for the others %.3f s, receiving "
                   "%ld messages (%.3f MB) %.3f s\n",
                   name[i], st[i]->compute_s, st[i]->wait_s, st[i]->messages,
                   st[i]->bytes / 1e6, st[i]->gather_s);
}

/* merge OUT.db PART.db...: the scenario is read back from the parts, its fleets priced at the
 * medians, the Monte Carlo result rebuilt from the parts' blocks, [sweep] and [compare] rerun,
 * and all of it recorded by runner_record, as `run` does in one process. */
/* The end of a scenario run, whole or merged: [sweep] and [compare] at the central values,
 * the runner (database and report), then what it prints. mc may be NULL; headline names the
 * run ("3 shards merged, " or ""). Returns 0 or the error's code (not printed). */
static int finish_run(Scenario *s, FleetResult *res, const McResult *mc, const SwpResult *sweep,
                      const Options *o, const char *db_path, const char *headline, TsErr *err)
{
    CmpResult cmp;
    int have_cmp = 0, rc = 0;
    if (s->compare.line > 0 && !(rc = cmp_run(s, res, &cmp, err)))
        have_cmp = 1;
    RunnerOptions ro = {db_path, o->out, TS_VERSION, o->reproducible};
    RunnerResult rr;
    if (!rc)
        rc = runner_record(s, res, mc, sweep, have_cmp ? &cmp : NULL, &ro, &rr, err);
    if (!rc && rr.plot_note[0])
        fprintf(stderr, "tokensim: warning: %s\n", rr.plot_note);
    if (!rc && o->quiet) {
        printf("%s/report.md\n", rr.out_dir);
    } else if (!rc) {
        printf("scenario %s: %s%d fleet%s, window %g h\n\n", s->sc[SK_NAME].text, headline,
               s->n_fleets, s->n_fleets == 1 ? "" : "s", s->sc[SK_HOURS].num);
        print_summary(s, res);
        if (mc)
            printf("\nMonte Carlo: %ld samples. The table shows the central values (every input "
                   "at its median);\nthe report and the database hold sample means with P5 to "
                   "P95.\n",
                   mc->n_samples);
        if (rr.conclusion[0])
            printf("\nConclusion (computed; every number is a metric row):\n%s\n", rr.conclusion);
        printf("\nreport:   %s/report.html (and report.md)\nplots:    %d drawn of %d "
               "(gnuplot scripts and data beside them)\nmetrics:  %s/metrics.csv\n"
               "database: %s (run %lld)\n",
               rr.out_dir, rr.n_images, rr.n_plots, rr.out_dir, db_path, (long long)rr.run_id);
    }
    if (have_cmp)
        cmp_fini(&cmp);
    return rc;
}

static int cmd_merge(int argc, char **argv)
{
    Options o = {.out = "out"};
    int first = parse_options("merge", USAGE_MERGE, argc, argv, &o, 1);
    if (first < 0)
        return first == -2 ? 0 : EXIT_USAGE;
    if (o.db || o.shard)
        return usage_error("merge", "merge takes OUT.db as its first argument, and no --db or "
                                    "--shard");
    if (argc - first < 2)
        return usage_error("merge", "merge needs OUT.db and at least one PART.db");
    const char *out_db = argv[first];
    TsErr err;
    ts_err_clear(&err);
    if (access(out_db, F_OK) == 0) {
        ts_err_set(&err, TS_EINPUT, "%s exists; merge writes a new database", out_db);
        return fail(&err);
    }
    ScnCatalogs cats;
    if (load_catalogs(&o, &cats, &err))
        return fail(&err);
    ShardMerge m;
    Scenario s;
    McResult mc;
    FleetResult *res = NULL;
    int have_s = 0;
    memset(&mc, 0, sizeof mc);
    int rc = shard_merge_open(&m, (const char *const *)argv + first + 1, argc - first - 1,
                              TS_VERSION, &err);
    if (!rc) {
        const StoreShardRun *p = &m.runs[0];
        rc = scn_load_text(&s, p->scenario_path, p->scenario_text, strlen(p->scenario_text),
                           &cats, &err);
        have_s = !rc;
    }
    if (!rc && msd_needed(&s)) /* the measure run the shards used: the first part's */
        rc = msd_bind(&s, m.dbs[0], &err);
    if (!rc) {
        print_warnings(&s);
        res = calloc((size_t)s.n_fleets, sizeof *res);
        if (!res)
            rc = ts_err_set(&err, TS_ENOMEM, "out of memory");
    }
    for (int i = 0; !rc && i < s.n_fleets; i++)
        rc = eval_fleet(&s, &s.fleets[i], &res[i], &err);
    if (!rc)
        rc = shard_merge_blocks(&m, &s, &mc, &err);
    Phases ph; /* the sweep, in this one process */
    memset(&ph, 0, sizeof ph);
    ParCtx one = {0, 1, 0};
    SprOptions so = {&one, -1};
    if (!rc && s.sweep.line > 0)
        rc = swp_plan(&s, &ph.plan, &err);
    if (!rc)
        rc = run_phases(&so, &s, 0, NULL, &ph, &err);
    if (!rc) {
        char headline[64];
        snprintf(headline, sizeof headline, "%d shards merged, ", m.n_parts);
        rc = finish_run(&s, res, &mc, ph.have_sweep ? &ph.sweep : NULL, &o, out_db, headline,
                        &err);
    }
    phases_fini(&ph);
    mc_fini(&mc);
    free(res);
    if (have_s)
        scn_fini(&s);
    shard_merge_fini(&m);
    scn_catalogs_fini(&cats);
    return rc ? fail(&err) : 0;
}

/* run on rank 0 (the only rank without mpirun): everything a run does, with the other ranks
 * (if any) released once the scenario is checked and joining the Monte Carlo and sweep phases.
 * Returns the exit status (messages printed). */
static int run_lead(Ranks *rk, int argc, char **argv)
{
    Options o = {.db = "tokensim.db", .out = "out"};
    int first = parse_options("run", USAGE_RUN, argc, argv, &o, 1);
    if (first < 0)
        return first == -2 ? 0 : EXIT_USAGE;
    if (first >= argc)
        return usage_error("run", "run needs a scenario file");
    if (argc - first > 1)
        return usage_error("run", "run takes one scenario file");
    const char *path = argv[first];
    ShardSpec spec = {1, 1};
    TsErr shard_err;
    if (o.shard && shard_parse(o.shard, &spec, &shard_err))
        return usage_error("run", shard_err.msg);
    if (o.shard && rk->par.size > 1)
        return usage_error("run", "--shard runs one part in one process; under mpirun the ranks "
                                  "split the blocks themselves: drop --shard");

    TsErr err;
    ts_err_clear(&err);
    ScnCatalogs cats;
    if (load_catalogs(&o, &cats, &err))
        return fail(&err);
    Scenario s;
    if (scn_load(&s, path, &cats, &err)) {
        scn_catalogs_fini(&cats);
        return fail(&err);
    }
    if (bind_measured(&s, o.db, &err)) {
        scn_fini(&s);
        scn_catalogs_fini(&cats);
        return fail(&err);
    }
    print_warnings(&s);
    FleetResult *res = calloc((size_t)s.n_fleets, sizeof *res);
    if (!res) {
        scn_fini(&s);
        scn_catalogs_fini(&cats);
        fprintf(stderr, "tokensim: out of memory\n");
        return EXIT_RUNTIME;
    }
    for (int i = 0; i < s.n_fleets; i++) {
        if (eval_fleet(&s, &s.fleets[i], &res[i], &err)) {
            free(res);
            scn_fini(&s);
            scn_catalogs_fini(&cats);
            return fail(&err);
        }
        if (res[i].over_capacity) {
            char u[32], sh[32];
            fprintf(stderr,
                    "tokensim: warning: %s:%d: fleet '%s' is too small: it needs utilization %s "
                    "and serves only %s of the tokens\n",
                    s.path, s.fleets[i].line, s.fleets[i].name,
                    report_fmt(res[i].metrics.value[MET_UTILIZATION_NEEDED], u, sizeof u),
                    report_fmt(res[i].metrics.value[MET_SERVED_SHARE], sh, sizeof sh));
        }
    }
    if (o.shard) { /* a part of a Monte Carlo run: its blocks only */
        int shard_status = run_shard(&s, &o, spec);
        free(res);
        scn_fini(&s);
        scn_catalogs_fini(&cats);
        return shard_status;
    }
    /* inputs checked before any other rank starts: exit 2 and nothing stored */
    Phases ph;
    memset(&ph, 0, sizeof ph);
    long samples = (long)s.sc[SK_SAMPLES].num;
    if ((s.n_dists > 0 && mc_check_size(&s, samples, &err)) ||
        (s.sweep.line > 0 && swp_plan(&s, &ph.plan, &err))) {
        phases_fini(&ph);
        free(res);
        scn_fini(&s);
        scn_catalogs_fini(&cats);
        return fail(&err);
    }
    int rc = release_ranks(rk, 0, &s, &err);
    rc = par_agree(&rk->par, rc, &err); /* every rank loaded it */
    McProgress pg = {wall_now(), samples};
    McOptions mo = {samples, 0, 1, isatty(2) ? mc_progress : NULL, &pg, &g_interrupted};
    SprOptions so = {&rk->par, rk->fail_rank};
    signal(SIGINT, on_interrupt);
    if (!rc)
        rc = run_phases(&so, &s, 1, &mo, &ph, &err);
    signal(SIGINT, SIG_DFL);
    int status = 0;
    if (rc)
        status = record_failed(&s, &o, &err);
    else if (finish_run(&s, res, ph.have_mc ? &ph.mc : NULL, ph.have_sweep ? &ph.sweep : NULL, &o,
                        o.db, "", &err))
        status = fail(&err);
    else if (!o.quiet && rk->par.mpi)
        print_spread(&rk->par, &ph);
    phases_fini(&ph);
    free(res);
    scn_fini(&s);
    scn_catalogs_fini(&cats);
    return status;
}

/* run on ranks 1..N-1 under mpirun: waits for rank 0's scenario, loads it with this rank's
 * catalogs and joins the phases. Prints nothing: rank 0 reports every rank's failure. Returns
 * the exit status. */
static int run_worker(Ranks *rk, int argc, char **argv)
{
    TsErr err;
    ts_err_clear(&err);
    int64_t head[3] = {0, 0, 0}; /* see release_ranks */
    if (par_bcast_bytes(&rk->par, head, sizeof head, &err))
        return EXIT_RUNTIME;
    if (!head[0])
        return (int)head[1];
    char *text = malloc((size_t)head[2] + 1);
    if (!text) { /* the broadcast below cannot be left out: end the job */
        fprintf(stderr, "tokensim: rank %d: out of memory\n", rk->par.rank);
        par_abort(&rk->par, EXIT_RUNTIME);
        return EXIT_RUNTIME;
    }
    int rc = par_bcast_bytes(&rk->par, text, (size_t)head[2], &err);
    /* rank 0 parsed the same arguments: no usage error can come from here */
    Options o = {.db = "tokensim.db", .out = "out"};
    int first = parse_options("run", USAGE_RUN, argc, argv, &o, 1);
    ScnCatalogs cats;
    Scenario s;
    Phases ph;
    memset(&ph, 0, sizeof ph);
    int have_cats = 0, have_s = 0;
    if (!rc && !(rc = load_catalogs(&o, &cats, &err)))
        have_cats = 1;
    if (!rc && !(rc = scn_load_text(&s, argv[first], text, (size_t)head[2], &cats, &err)))
        have_s = 1;
    if (!rc)
        rc = bind_measured(&s, o.db, &err);
    if (!rc && s.sweep.line > 0)
        rc = swp_plan(&s, &ph.plan, &err);
    free(text);
    rc = par_agree(&rk->par, rc, &err);
    McOptions mo = {0, 0, 1, NULL, NULL, NULL};
    SprOptions so = {&rk->par, rk->fail_rank};
    if (!rc)
        rc = run_phases(&so, &s, 1, &mo, &ph, &err);
    phases_fini(&ph);
    if (have_s)
        scn_fini(&s);
    if (have_cats)
        scn_catalogs_fini(&cats);
    return rc ? exit_for(rc) : 0;
}

static int cmd_run(Ranks *rk, int argc, char **argv)
{
    if (rk->par.rank != 0)
        return run_worker(rk, argc, argv);
    int status = run_lead(rk, argc, argv);
    TsErr err;
    if (!rk->released) /* stopped before the scenario was sent: the other ranks stop too */
        release_ranks(rk, status, NULL, &err);
    return status;
}

static int dispatch(Ranks *rk, int argc, char **argv);

/* Makes stdout and stderr inert streams over the real ones (txt_inert_stream): whatever a
 * command prints, a control character in it reaches the terminal as \xNN. The real streams
 * go unbuffered beneath (the inert ones buffer: stdout as before, stderr by line). */
typedef struct {
    FILE *raw_out, *raw_err; /* the real streams, restored by terminal_restore */
    int on;
} Terminal;

static void inert_terminal(Terminal *t)
{
    t->raw_out = stdout;
    t->raw_err = stderr;
    t->on = 0;
    FILE *out = txt_inert_stream(stdout), *errs = txt_inert_stream(stderr);
    if (!out || !errs) {
        if (out)
            fclose(out);
        if (errs)
            fclose(errs);
        return;
    }
    int tty = isatty(STDOUT_FILENO);
    setvbuf(stdout, NULL, _IONBF, 0);
    setvbuf(stderr, NULL, _IONBF, 0);
    setvbuf(out, NULL, tty ? _IOLBF : _IOFBF, 0);
    setvbuf(errs, NULL, _IOLBF, 0);
    stdout = out;
    stderr = errs;
    t->on = 1;
}

/* Flushes and closes the inert streams (their cookies are freed) and puts the real ones
 * back; every path out of main ends here. */
static void terminal_restore(Terminal *t)
{
    if (!t->on)
        return;
    FILE *out = stdout, *errs = stderr;
    fclose(out);
    stdout = t->raw_out;
    fclose(errs);
    stderr = t->raw_err;
    t->on = 0;
}

int main(int argc, char **argv)
{
    Terminal term;
    inert_terminal(&term);
    gsl_set_error_handler_off();
    Ranks rk = {.fail_rank = -1};
    TsErr err;
    ts_err_clear(&err);
    if (par_init(&rk.par, &argc, &argv, &err)) {
        say_error(err.msg);
        terminal_restore(&term);
        return EXIT_RUNTIME;
    }
    const char *fail_rank = getenv("TOKENSIM_TEST_FAIL_RANK");
    char *end = NULL;
    long k = fail_rank && fail_rank[0] ? strtol(fail_rank, &end, 10) : -1;
    rk.fail_rank = end && *end == '\0' && k >= 0 && k < INT_MAX ? (int)k : -1;
    int status = dispatch(&rk, argc, argv);
    par_fini(&rk.par);
    terminal_restore(&term);
    return status;
}

/* The subcommand; under mpirun with more than one rank only `run`. */
static int dispatch(Ranks *rk, int argc, char **argv)
{
    if (rk->par.size > 1 && (argc < 2 || strcmp(argv[1], "run") != 0)) {
        if (rk->par.rank == 0)
            fprintf(stderr, "tokensim: under mpirun only `tokensim run` spreads over the ranks; "
                            "run %s%s in one process\n",
                    argc < 2 ? "tokensim" : "tokensim ", argc < 2 ? "" : argv[1]);
        return EXIT_USAGE;
    }
    if (argc < 2) {
        fputs(USAGE, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
        printf("tokensim %s\n", TS_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0) {
        const char *topic = argc > 2 ? argv[2] : "";
        fputs(strcmp(topic, "run") == 0      ? USAGE_RUN
              : strcmp(topic, "check") == 0  ? USAGE_CHECK
              : strcmp(topic, "models") == 0 ? USAGE_MODELS
              : strcmp(topic, "bench") == 0  ? USAGE_BENCH
              : strcmp(topic, "generate") == 0 ? USAGE_GENERATE
              : strcmp(topic, "measure") == 0 ? USAGE_MEASURE
              : strcmp(topic, "validate") == 0 ? USAGE_VALIDATE
              : strcmp(topic, "export") == 0 ? USAGE_EXPORT
              : strcmp(topic, "merge") == 0  ? USAGE_MERGE
              : strcmp(topic, "runs") == 0   ? USAGE_RUNS
              : strcmp(topic, "report") == 0 ? USAGE_REPORT
              : strcmp(topic, "plot") == 0   ? USAGE_PLOT
                                             : USAGE,
              stdout);
        return 0;
    }
    if (strcmp(cmd, "run") == 0)
        return cmd_run(rk, argc - 1, argv + 1);
    if (strcmp(cmd, "check") == 0)
        return cmd_check(argc - 1, argv + 1);
    if (strcmp(cmd, "merge") == 0)
        return cmd_merge(argc - 1, argv + 1);
    if (strcmp(cmd, "models") == 0)
        return cmd_models(argc - 1, argv + 1);
    if (strcmp(cmd, "bench") == 0)
        return cmd_bench(argc - 1, argv + 1);
    if (strcmp(cmd, "generate") == 0)
        return cmd_generate(argc - 1, argv + 1);
    if (strcmp(cmd, "measure") == 0)
        return cmd_measure(argc - 1, argv + 1);
    if (strcmp(cmd, "report") == 0)
        return cmd_report(argc - 1, argv + 1);
    if (strcmp(cmd, "plot") == 0)
        return cmd_plot(argc - 1, argv + 1);
    if (strcmp(cmd, "runs") == 0)
        return cmd_runs(argc - 1, argv + 1);
    if (strcmp(cmd, "validate") == 0)
        return cmd_validate(argc - 1, argv + 1);
    if (strcmp(cmd, "export") == 0)
        return cmd_export(argc - 1, argv + 1);
    char msg[160];
    snprintf(msg, sizeof msg, "unknown command '%s'", cmd);
    say_error(msg);
    fputs(USAGE, stderr);
    return EXIT_USAGE;
}
