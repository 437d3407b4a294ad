/* cmd_run: `run`, `check` and `merge`: a scenario from file to stored run. Loads and checks
 * on rank 0, spreads Monte Carlo blocks and sweep points over the ranks (study/spread), hands
 * the results to the runner, and prints the summary or the error. Also Ctrl-C (exit 130). */
#include <limits.h>
#include <time.h>
#include <unistd.h>

#include "sim/cli/parts.h"
#include "sim/text/text.h"
#include "sim/cli/measured.h"
#include "sim/render/report.h"
#include "sim/cli/runner.h"
#include "sim/study/spread.h"
#include "sim/cli/cli.h"
#include "sim/study/serving.h"

const char CLI_USAGE_RUN[] =
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

const char CLI_USAGE_MERGE[] =
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

const char CLI_USAGE_CHECK[] =
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

int cli_cmd_check(int argc, char **argv)
{
    Options o = {.db = "tokensim.db"};
    int first = cli_parse_options("check", CLI_USAGE_CHECK, argc, argv, &o, 0);
    if (first < 0)
        return first == -2 ? 0 : CLI_EXIT_USAGE;
    if (first >= argc)
        return cli_usage_error("check", "check needs at least one scenario file");
    TsErr err;
    ts_err_clear(&err);
    ScnCatalogs cats;
    if (cli_load_catalogs(&o, &cats, &err))
        return cli_fail(&err);
    int status = 0;
    for (int i = first; i < argc && status == 0; i++) {
        Scenario s;
        if (scn_load(&s, argv[i], &cats, &err)) {
            status = cli_fail(&err);
            break;
        }
        FleetResult r;
        if (cli_bind_measured(&s, o.db, &err))
            status = cli_fail(&err);
        /* the sweep's and the comparison's keys and values are checked too */
        SwpPlan plan;
        memset(&plan, 0, sizeof plan);
        if (!status && s.n_dists > 0 && mc_check_size(&s, (long)s.sc[SK_SAMPLES].num, &err))
            status = cli_fail(&err);
        if (!status && s.sweep.line > 0 && swp_plan(&s, &plan, &err))
            status = cli_fail(&err);
        swp_plan_fini(&plan);
        for (int k = 0; k < s.n_fleets && status == 0; k++)
            if (eval_fleet(&s, &s.fleets[k], &r, &err) ||
                (s.fleets[k].throughput == THR_SIMULATE && srv_check_fleet(&s, k, &r, &err)))
                status = cli_fail(&err);
        if (!status && s.compare.line > 0) {
            FleetResult *all = calloc((size_t)s.n_fleets, sizeof *all);
            CmpResult cmp;
            for (int k = 0; all && k < s.n_fleets; k++)
                eval_fleet(&s, &s.fleets[k], &all[k], &err);
            if (!all || cmp_run(&s, all, NULL, &cmp, &err))
                status = cli_fail(&err);
            else
                cmp_fini(&cmp);
            free(all);
        }
        if (status) {
            scn_fini(&s);
            break;
        }
        cli_print_warnings(&s);
        printf("%s: ok (%d fleet%s)\n", argv[i], s.n_fleets, s.n_fleets == 1 ? "" : "s");
        scn_fini(&s);
    }
    scn_catalogs_fini(&cats);
    return status;
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
    snprintf(line, sizeof line,
             "Monte Carlo: %ld of %ld samples (%.0f%%), %.0f samples/s, %.0f s left  ", done, total,
             100.0 * (double)done / (double)total, rate,
             rate > 0 ? (double)(total - done) / rate : 0);
    cli_progress_line(line, done == total);
}

static void print_summary(const Scenario *s, const FleetResult *res)
{
    char a[32], b[32], c[32], d[32], e[32];
    printf("%-20s %-14s %-18s %8s %12s %12s %12s %14s\n", "fleet", "chip", "model", "chips",
           "USD/M out", "USD/M in", "J/out tok", "USD/window");
    for (int i = 0; i < s->n_fleets; i++) {
        const MetricSet *m = &res[i].metrics;
        const ScnFleet *f = &s->fleets[i];
#define CELL(buf, id) (m->has[id] ? txt_fmt(m->value[id], buf, sizeof buf) : "n/a")
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
        return cli_usage_error("run", msg);
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
        return cli_fail(&err);
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
    return rc ? cli_fail(&err) : 0;
}

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
        cli_say_error(err->msg);
    const char *what = stopped ? "\ntokensim: interrupted" : "tokensim: the run failed";
    if (runner_record_interrupted(s, s->sweep.line > 0, &ro,
                                  stopped ? "interrupted (Ctrl-C) during Monte Carlo sampling; "
                                            "no results stored"
                                          : err->msg,
                                  &id, &rerr))
        fprintf(stderr, "%s; nothing was stored (%s)\n", what, rerr.msg);
    else
        fprintf(stderr, "%s; run %lld marked failed, no results stored\n", what, (long long)id);
    return stopped ? 130 : cli_exit_for(err->code);
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
                   name[i], st[i]->compute_s, st[i]->wait_s, st[i]->messages, st[i]->bytes / 1e6,
                   st[i]->gather_s);
}

/* merge OUT.db PART.db...: the scenario is read back from the parts, its fleets priced at the
 * medians, the Monte Carlo result rebuilt from the parts' blocks, [sweep] and [compare] rerun,
 * and all of it recorded by runner_record, as `run` does in one process. */
/* The end of a scenario run, whole or merged: [sweep] and [compare] at the central values,
 * the runner (database and report), then what it prints. mc may be NULL; headline names the
 * run ("3 shards merged, " or ""). Returns 0 or the error's code (not printed). */
static void free_serving(ServeFleet *srv, int n)
{
    for (int i = 0; srv && i < n; i++)
        srv_fleet_fini(&srv[i]);
    free(srv);
}

static int finish_run(Scenario *s, FleetResult *res, const ServeFleet *srv, const McResult *mc,
                      const SwpResult *sweep, const Options *o, const char *db_path,
                      const char *headline, TsErr *err)
{
    CmpResult cmp;
    int have_cmp = 0, rc = 0;
    if (s->compare.line > 0 && !(rc = cmp_run(s, res, srv, &cmp, err)))
        have_cmp = 1;
    RunnerOptions ro = {db_path, o->out, TS_VERSION, o->reproducible};
    RunnerResult rr;
    if (!rc)
        rc = runner_record(s, res, srv, mc, sweep, have_cmp ? &cmp : NULL, &ro, &rr, err);
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

int cli_cmd_merge(int argc, char **argv)
{
    Options o = {.out = "out"};
    int first = cli_parse_options("merge", CLI_USAGE_MERGE, argc, argv, &o, 1);
    if (first < 0)
        return first == -2 ? 0 : CLI_EXIT_USAGE;
    if (o.db || o.shard)
        return cli_usage_error("merge", "merge takes OUT.db as its first argument, and no --db or "
                                        "--shard");
    if (argc - first < 2)
        return cli_usage_error("merge", "merge needs OUT.db and at least one PART.db");
    const char *out_db = argv[first];
    TsErr err;
    ts_err_clear(&err);
    if (access(out_db, F_OK) == 0) {
        ts_err_set(&err, TS_EINPUT, "%s exists; merge writes a new database", out_db);
        return cli_fail(&err);
    }
    ScnCatalogs cats;
    if (cli_load_catalogs(&o, &cats, &err))
        return cli_fail(&err);
    PartsMerge m;
    Scenario s;
    McResult mc;
    FleetResult *res = NULL;
    int have_s = 0;
    memset(&mc, 0, sizeof mc);
    int rc = parts_merge_open(&m, (const char *const *)argv + first + 1, argc - first - 1,
                              TS_VERSION, &err);
    if (!rc) {
        const StoreShardRun *p = &m.runs[0];
        rc = scn_load_text(&s, p->scenario_path, p->scenario_text, strlen(p->scenario_text), &cats,
                           &err);
        have_s = !rc;
    }
    if (!rc && msd_needed(&s)) /* the measure run the shards used: the first part's */
        rc = msd_bind(&s, m.dbs[0], &err);
    if (!rc) {
        cli_print_warnings(&s);
        res = calloc((size_t)s.n_fleets, sizeof *res);
        if (!res)
            rc = ts_err_set(&err, TS_ENOMEM, "out of memory");
    }
    for (int i = 0; !rc && i < s.n_fleets; i++)
        rc = eval_fleet(&s, &s.fleets[i], &res[i], &err);
    if (!rc)
        rc = parts_merge_blocks(&m, &s, &mc, &err);
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
        rc = finish_run(&s, res, NULL, &mc, ph.have_sweep ? &ph.sweep : NULL, &o, out_db, headline,
                        &err);
    }
    phases_fini(&ph);
    mc_fini(&mc);
    free(res);
    if (have_s)
        scn_fini(&s);
    parts_merge_fini(&m);
    scn_catalogs_fini(&cats);
    return rc ? cli_fail(&err) : 0;
}

/* run on rank 0 (the only rank without mpirun): everything a run does, with the other ranks
 * (if any) released once the scenario is checked and joining the Monte Carlo and sweep phases.
 * Returns the exit status (messages printed). */
static int run_lead(Ranks *rk, int argc, char **argv)
{
    Options o = {.db = "tokensim.db", .out = "out"};
    int first = cli_parse_options("run", CLI_USAGE_RUN, argc, argv, &o, 1);
    if (first < 0)
        return first == -2 ? 0 : CLI_EXIT_USAGE;
    if (first >= argc)
        return cli_usage_error("run", "run needs a scenario file");
    if (argc - first > 1)
        return cli_usage_error("run", "run takes one scenario file");
    const char *path = argv[first];
    ShardSpec spec = {1, 1};
    TsErr shard_err;
    if (o.shard && shard_parse(o.shard, &spec, &shard_err))
        return cli_usage_error("run", shard_err.msg);
    if (o.shard && rk->par.size > 1)
        return cli_usage_error("run",
                               "--shard runs one part in one process; under mpirun the ranks "
                               "split the blocks themselves: drop --shard");

    TsErr err;
    ts_err_clear(&err);
    ScnCatalogs cats;
    if (cli_load_catalogs(&o, &cats, &err))
        return cli_fail(&err);
    Scenario s;
    if (scn_load(&s, path, &cats, &err)) {
        scn_catalogs_fini(&cats);
        return cli_fail(&err);
    }
    if (cli_bind_measured(&s, o.db, &err)) {
        scn_fini(&s);
        scn_catalogs_fini(&cats);
        return cli_fail(&err);
    }
    cli_print_warnings(&s);
    FleetResult *res = calloc((size_t)s.n_fleets, sizeof *res);
    ServeFleet *srv = calloc((size_t)s.n_fleets, sizeof *srv);
    if (!res || !srv) {
        free(res);
        free(srv);
        scn_fini(&s);
        scn_catalogs_fini(&cats);
        fprintf(stderr, "tokensim: out of memory\n");
        return CLI_EXIT_RUNTIME;
    }
    for (int i = 0; i < s.n_fleets; i++) {
        /* a simulated fleet runs its day here, before anything is stored */
        if (srv_eval_fleet(&s, i, &res[i], &srv[i], &err)) {
            free_serving(srv, s.n_fleets);
            free(res);
            scn_fini(&s);
            scn_catalogs_fini(&cats);
            return cli_fail(&err);
        }
        if (res[i].over_capacity) {
            char u[32], sh[32];
            fprintf(stderr,
                    "tokensim: warning: %s:%d: fleet '%s' is too small: it needs utilization %s "
                    "and serves only %s of the tokens\n",
                    s.path, s.fleets[i].line, s.fleets[i].name,
                    txt_fmt(res[i].metrics.value[MET_UTILIZATION_NEEDED], u, sizeof u),
                    txt_fmt(res[i].metrics.value[MET_SERVED_SHARE], sh, sizeof sh));
        }
    }
    if (o.shard) { /* a part of a Monte Carlo run: its blocks only */
        int shard_status = run_shard(&s, &o, spec);
        free_serving(srv, s.n_fleets);
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
        free_serving(srv, s.n_fleets);
        free(res);
        scn_fini(&s);
        scn_catalogs_fini(&cats);
        return cli_fail(&err);
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
    else if (finish_run(&s, res, srv, ph.have_mc ? &ph.mc : NULL,
                        ph.have_sweep ? &ph.sweep : NULL, &o, o.db, "", &err))
        status = cli_fail(&err);
    else if (!o.quiet && rk->par.mpi)
        print_spread(&rk->par, &ph);
    phases_fini(&ph);
    free_serving(srv, s.n_fleets);
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
        return CLI_EXIT_RUNTIME;
    if (!head[0])
        return (int)head[1];
    char *text = malloc((size_t)head[2] + 1);
    if (!text) { /* the broadcast below cannot be left out: end the job */
        fprintf(stderr, "tokensim: rank %d: out of memory\n", rk->par.rank);
        par_abort(&rk->par, CLI_EXIT_RUNTIME);
        return CLI_EXIT_RUNTIME;
    }
    int rc = par_bcast_bytes(&rk->par, text, (size_t)head[2], &err);
    /* rank 0 parsed the same arguments: no usage error can come from here */
    Options o = {.db = "tokensim.db", .out = "out"};
    int first = cli_parse_options("run", CLI_USAGE_RUN, argc, argv, &o, 1);
    ScnCatalogs cats;
    Scenario s;
    Phases ph;
    memset(&ph, 0, sizeof ph);
    int have_cats = 0, have_s = 0;
    if (!rc && !(rc = cli_load_catalogs(&o, &cats, &err)))
        have_cats = 1;
    if (!rc && !(rc = scn_load_text(&s, argv[first], text, (size_t)head[2], &cats, &err)))
        have_s = 1;
    if (!rc)
        rc = cli_bind_measured(&s, o.db, &err);
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
    return rc ? cli_exit_for(rc) : 0;
}

int cli_cmd_run(Ranks *rk, int argc, char **argv)
{
    if (rk->par.rank != 0)
        return run_worker(rk, argc, argv);
    int status = run_lead(rk, argc, argv);
    TsErr err;
    if (!rk->released) /* stopped before the scenario was sent: the other ranks stop too */
        release_ranks(rk, status, NULL, &err);
    return status;
}
