/* cli: what the commands of the program share (sim/cli is the only room that prints or exits).
 * Messages go to stderr as `tokensim: ...`; exit statuses are 0 success, 1 runtime failure,
 * 2 usage error or bad input. Each command group lives in its own file (cmd_run.c: run, check,
 * merge; cmd_measure.c: measure, bench, validate; cmd_runs.c: runs, report, plot;
 * cmd_engine.c: models, generate, export); main.c only dispatches. */
#ifndef TS_SIM_CLI_CLI_H
#define TS_SIM_CLI_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "models/engine/config.h"
#include "models/engine/quant.h"
#include "models/engine/weights.h"
#include "models/formats/modelfile.h"
#include "models/tserr.h"
#include "sim/scenario/scenario.h"
#include "sim/study/par.h"

#ifndef TS_VERSION
#define TS_VERSION "0.0.0"
#endif
#ifndef TS_DATADIR
#define TS_DATADIR "/usr/local/share/tokensim/data"
#endif

enum { CLI_EXIT_RUNTIME = 1, CLI_EXIT_USAGE = 2 };

/* The options run, check and merge share. */
typedef struct {
    const char *db;
    const char *out;
    const char *data;
    int quiet;
    int reproducible;  /* run --reproducible */
    const char *shard; /* run --shard K/N, as given */
} Options;

/* The ranks of this process (par.h) and, for run, whether rank 0 has released the others. */
typedef struct {
    ParCtx par;
    int released;  /* rank 0 has sent the scenario, or said that there is none */
    int fail_rank; /* TOKENSIM_TEST_FAIL_RANK (a test hook: that rank fails), -1 when unset */
} Ranks;

/* Messages and exit statuses: exit_for maps a TsErr code to 1 or 2; say_error prints one inert
 * line; fail prints err and returns its status; usage_error adds "Try 'tokensim CMD --help'";
 * option_error names getopt's bad option. */
int cli_exit_for(int code);
void cli_say_error(const char *msg);
int cli_fail(const TsErr *err);
int cli_usage_error(const char *cmd, const char *msg);
int cli_option_error(const char *cmd, int c, char **argv);
/* Parses the options of run/check/merge; the index of the first argument, -1 (usage error
 * printed) or -2 (help printed). */
int cli_parse_options(const char *cmd, const char *usage, int argc, char **argv, Options *o,
                      int allow_store);
/* Catalogs from --data, $TOKENSIM_DATA, ./data, beside the program, then the install folder. */
int cli_load_catalogs(const Options *o, ScnCatalogs *cats, TsErr *err);
/* A [model NAME] of the model file config, else the preset name. */
int cli_engine_model(const char *name, const char *config, const char *data, EngineConfig *out,
                     TsErr *err);
/* Binds the measured fleets of s to the measure runs of db_path (which must exist). */
int cli_bind_measured(Scenario *s, const char *db_path, TsErr *err);
void cli_print_warnings(const Scenario *s);
/* Option values: a comma list split into items, precisions, whole and decimal numbers in a
 * range; each prints its usage error and returns -1 (list) or non-zero. */
int cli_list_items(const char *cmd, const char *opt, const char *text, const char *example,
                   char *buf, size_t size, char **items, int max);
int cli_precision_list(const char *cmd, const char *text, Precision *precs, int *n);
int cli_int_option(const char *cmd, const char *opt, const char *text, long lo, long hi, long *out);
int cli_float_option(const char *cmd, const char *opt, const char *text, double lo, double hi,
                     double *out);
/* A progress line written straight to fd 2 ("\\r" kept), ended when last. */
void cli_progress_line(const char *line, int last);

/* A model to run: a llama2.c checkpoint, a model file (mapped) or a seeded preset. */
typedef struct {
    EngineConfig cfg;
    Weights w;
    MfMapping map;
} CliModel;

/* Loads one of: a llama2.c checkpoint, a model file (mapped), or preset/[model] with seeded
 * weights; cli_unload_model frees it. */
int cli_load_model(const char *checkpoint, const char *model_file, const char *preset,
                   const char *config, uint64_t seed, CliModel *m, TsErr *err);
void cli_unload_model(CliModel *m);

/* The commands: each takes argv from its own name on and returns the exit status. */
int cli_cmd_check(int argc, char **argv);
int cli_cmd_merge(int argc, char **argv);
int cli_cmd_run(Ranks *rk, int argc, char **argv);
extern const char CLI_USAGE_RUN[];
extern const char CLI_USAGE_MERGE[];
extern const char CLI_USAGE_CHECK[];
int cli_cmd_models(int argc, char **argv);
int cli_cmd_generate(int argc, char **argv);
int cli_cmd_export(int argc, char **argv);
extern const char CLI_USAGE_MODELS[];
extern const char CLI_USAGE_GENERATE[];
extern const char CLI_USAGE_EXPORT[];
int cli_cmd_bench(int argc, char **argv);
int cli_cmd_measure(int argc, char **argv);
int cli_cmd_validate(int argc, char **argv);
extern const char CLI_USAGE_BENCH[];
extern const char CLI_USAGE_MEASURE[];
extern const char CLI_USAGE_VALIDATE[];
int cli_cmd_calibrate(int argc, char **argv); /* cmd_calibrate.c */
extern const char CLI_USAGE_CALIBRATE[];
int cli_cmd_serve_bench(int argc, char **argv); /* cmd_serve.c */
int cli_validate_serving(int argc, char **argv);
extern const char CLI_USAGE_SERVE_BENCH[];
int cli_cmd_runs(int argc, char **argv);
int cli_cmd_report(int argc, char **argv);
int cli_cmd_plot(int argc, char **argv);
extern const char CLI_USAGE_RUNS[];
extern const char CLI_USAGE_REPORT[];
extern const char CLI_USAGE_PLOT[];

#endif
