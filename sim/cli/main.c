/* main: the tokensim program's entry. Makes the terminal streams inert, sets up the ranks
 * (one without MPI), and dispatches a subcommand to its command file (cli.h lists them). It
 * does no work of its own beyond help and version. */
#include <limits.h>
#include <unistd.h>


#include "sim/cli/cli.h"
#include "sim/text/text.h"

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
    "  calibrate            fit the step-time model to a measure run's measurements\n"
    "  serve-bench          serve traffic with the real engine in real time: TTFT, TPOT, J/token\n"
    "  runs                 list the runs in the database\n"
    "  report RUN           print a run's report (md, html, csv or json)\n"
    "  plot RUN             draw a run's plots again and rewrite its report.html\n"
    "  generate             generate text with a model (llama2.c checkpoint, model file or "
    "preset)\n"
    "  export               write a preset's seeded weights to a model file\n"
    "  help [COMMAND]       show help for tokensim or a command\n"
    "\n"
    "options:\n"
    "  -h, --help           show this help (after a command: that command's help)\n"
    "  -V, --version        print the version\n"
    "\n"
    "Exit status: 0 success, 1 runtime failure, 2 usage error or bad input.\n"
    "Scenario format: docs/scenario-format.md. Example: tokensim run "
    "scenarios/deepseek-day-margin.ini\n";

/* One row per command: name, entry (NULL for run, which takes the ranks) and its help. */
typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *usage;
} Command;

static const Command COMMANDS[] = {
    {"run", NULL, CLI_USAGE_RUN},
    {"check", cli_cmd_check, CLI_USAGE_CHECK},
    {"merge", cli_cmd_merge, CLI_USAGE_MERGE},
    {"models", cli_cmd_models, CLI_USAGE_MODELS},
    {"bench", cli_cmd_bench, CLI_USAGE_BENCH},
    {"generate", cli_cmd_generate, CLI_USAGE_GENERATE},
    {"measure", cli_cmd_measure, CLI_USAGE_MEASURE},
    {"validate", cli_cmd_validate, CLI_USAGE_VALIDATE},
    {"calibrate", cli_cmd_calibrate, CLI_USAGE_CALIBRATE},
    {"serve-bench", cli_cmd_serve_bench, CLI_USAGE_SERVE_BENCH},
    {"export", cli_cmd_export, CLI_USAGE_EXPORT},
    {"runs", cli_cmd_runs, CLI_USAGE_RUNS},
    {"report", cli_cmd_report, CLI_USAGE_REPORT},
    {"plot", cli_cmd_plot, CLI_USAGE_PLOT},
};

static const Command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        if (strcmp(COMMANDS[i].name, name) == 0)
            return &COMMANDS[i];
    return NULL;
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
        cli_say_error(err.msg);
        terminal_restore(&term);
        return CLI_EXIT_RUNTIME;
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
            fprintf(stderr,
                    "tokensim: under mpirun only `tokensim run` spreads over the ranks; "
                    "run %s%s in one process\n",
                    argc < 2 ? "tokensim" : "tokensim ", argc < 2 ? "" : argv[1]);
        return CLI_EXIT_USAGE;
    }
    if (argc < 2) {
        fputs(USAGE, stderr);
        return CLI_EXIT_USAGE;
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
        const Command *c = find_command(argc > 2 ? argv[2] : "");
        fputs(c ? c->usage : USAGE, stdout);
        return 0;
    }
    const Command *c = find_command(cmd);
    if (c)
        return c->fn ? c->fn(argc - 1, argv + 1) : cli_cmd_run(rk, argc - 1, argv + 1);
    char msg[160];
    snprintf(msg, sizeof msg, "unknown command '%s'", cmd);
    cli_say_error(msg);
    fputs(USAGE, stderr);
    return CLI_EXIT_USAGE;
}
