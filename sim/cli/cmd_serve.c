/* cmd_serve: `tokensim serve-bench` (the real engine serving traffic in real time behind the
 * scheduler the simulator uses: per-request times into serving_requests and serving_tokens,
 * the latency percentiles, throughput and J/token as metric rows of a measure run) and
 * `validate --serving` (the simulator with the calibrated step model against such runs at
 * three arrival rates). Progress on stderr. */
#include <getopt.h>
#include <gsl/gsl_statistics_double.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/measure/machine.h"
#include "sim/cli/calibrate.h"
#include "sim/cli/cli.h"
#include "sim/cli/measure.h"
#include "sim/cli/runner.h"
#include "sim/cli/serve_run.h"
#include "sim/store/calib.h"
#include "sim/store/serving.h"

const char CLI_USAGE_SERVE_BENCH[] =
    "usage: tokensim serve-bench [--model NAME] [--rate R | --trace FILE] [--duration S]\n"
    "                            [--requests N] [--input N] [--output N] [--seed N]\n"
    "                            [--precision P] [--kv P] [--threads N] [--max-seqs N]\n"
    "                            [--max-tokens N] [--block N] [--db FILE] [--out DIR]\n"
    "                            [--meter auto|modeled]\n"
    "\n"
    "Serves traffic with the real engine on this machine, in real time: requests arrive by a\n"
    "Poisson process at --rate per second for --duration seconds (or at the times of a trace\n"
    "CSV: arrival_s,input_tokens,output_tokens with a header), join the same iteration-level\n"
    "scheduler as the simulator (chunked prefill, paged KV blocks used as the engine's blocks,\n"
    "preemption by recompute), and each step runs the engine on the scheduled sequences at\n"
    "their own positions. Records per request its arrival, first token and every token time\n"
    "(tables serving_requests, serving_tokens), and TTFT, TPOT, inter-token and end-to-end\n"
    "percentiles, throughput and J/token (with the meter's source: measured:rapl where it can\n"
    "be read, else modeled:cpu-linear) as metric rows of a measure run named serve-bench, and\n"
    "writes its report (report.md, report.html, a plot of every request's latency) into\n"
    "OUT/serve-bench-<id>/.\n"
    "\n"
    "options (defaults): --model dense-15m, --rate 2, --duration 10, --input 64, --output 32,\n"
    "  --seed 1, --precision fp32, --kv fp32, --threads 1, --max-seqs 8, --max-tokens 256,\n"
    "  --block 16, --db tokensim.db, --out out, --meter auto; --requests N caps the requests.\n";

typedef struct {
    SrvPlan plan;
    const char *db, *out;
    int modeled_only;
} ServeArgs;

static int parse_prec(const char *cmd, const char *text, Precision *p)
{
    TsErr e;
    if (prec_parse(text, p, &e) != 0)
        return cli_usage_error(cmd, e.msg);
    return 0;
}

/* The options serve-bench and validate --serving share; returns 0, or an exit status. */
static int parse_args(const char *cmd, int argc, char **argv, ServeArgs *a, const char **models,
                      int *n_models, int max_models, int *help)
{
    static const struct option longs[] = {
        {"model", required_argument, NULL, 'm'},   {"rate", required_argument, NULL, 'r'},
        {"trace", required_argument, NULL, 'T'},   {"duration", required_argument, NULL, 'D'},
        {"requests", required_argument, NULL, 'N'}, {"input", required_argument, NULL, 'i'},
        {"output", required_argument, NULL, 'o'},  {"seed", required_argument, NULL, 's'},
        {"precision", required_argument, NULL, 'P'}, {"kv", required_argument, NULL, 'K'},
        {"threads", required_argument, NULL, 't'}, {"max-seqs", required_argument, NULL, 'q'},
        {"max-tokens", required_argument, NULL, 'k'}, {"block", required_argument, NULL, 'b'},
        {"db", required_argument, NULL, 'd'},      {"meter", required_argument, NULL, 'M'},
        {"out", required_argument, NULL, 'O'},
        {"serving", no_argument, NULL, 'S'},       {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    int c;
    long v;
    double x;
    *help = 0;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        switch (c) {
        case 'm':
            if (*n_models == max_models)
                return cli_usage_error(cmd, "too many --model options");
            models[(*n_models)++] = optarg;
            break;
        case 'r':
            if (cli_float_option(cmd, "--rate", optarg, 1e-6, 1e6, &x))
                return CLI_EXIT_USAGE;
            a->plan.rate_per_s = x;
            break;
        case 'T':
            a->plan.trace = optarg;
            break;
        case 'D':
            if (cli_float_option(cmd, "--duration", optarg, 1e-3, 86400, &x))
                return CLI_EXIT_USAGE;
            a->plan.duration_s = x;
            break;
        case 'N':
            if (cli_int_option(cmd, "--requests", optarg, 1, 1000000, &v))
                return CLI_EXIT_USAGE;
            a->plan.max_requests = v;
            break;
        case 'i':
        case 'o':
            if (cli_int_option(cmd, c == 'i' ? "--input" : "--output", optarg, 1, CFG_MAX_SEQ, &v))
                return CLI_EXIT_USAGE;
            *(c == 'i' ? &a->plan.input_tokens : &a->plan.output_tokens) = (int)v;
            break;
        case 's':
            if (cli_int_option(cmd, "--seed", optarg, 0, LONG_MAX, &v))
                return CLI_EXIT_USAGE;
            a->plan.seed = (uint64_t)v;
            break;
        case 'P':
        case 'K':
            if (parse_prec(cmd, optarg, c == 'P' ? &a->plan.prec : &a->plan.kv))
                return CLI_EXIT_USAGE;
            break;
        case 't':
            if (cli_int_option(cmd, "--threads", optarg, 1, 256, &v))
                return CLI_EXIT_USAGE;
            a->plan.threads = (int)v;
            break;
        case 'q':
        case 'k':
        case 'b':
            if (cli_int_option(cmd, argv[optind - 2], optarg, 1, 65536, &v))
                return CLI_EXIT_USAGE;
            *(c == 'q' ? &a->plan.sched.max_num_seqs
              : c == 'k' ? &a->plan.sched.max_batched_tokens
                         : &a->plan.sched.block_tokens) = (int32_t)v;
            break;
        case 'd':
            a->db = optarg;
            break;
        case 'O':
            a->out = optarg;
            break;
        case 'M':
            if (strcmp(optarg, "auto") != 0 && strcmp(optarg, "modeled") != 0)
                return cli_usage_error(cmd, "--meter must be auto or modeled");
            a->modeled_only = strcmp(optarg, "modeled") == 0;
            break;
        case 'S':
            break;
        case 'h':
            *help = 1;
            return 0;
        default:
            return cli_option_error(cmd, c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error(cmd, "takes no arguments besides options");
    return 0;
}

static int open_meter(int modeled_only, Meter **meter, TsErr *err)
{
    char cpu[256];
    machine_cpu_model(cpu, sizeof cpu);
    MeterOptions mo = {.sysfs_root = "/sys",
                       .kind = modeled_only ? METER_MODELED : METER_AUTO,
                       .use_nvml = 0};
    Options o = {.db = NULL};
    ScnCatalogs cats;
    int rc = cli_load_catalogs(&o, &cats, err);
    if (!rc) {
        rc = msr_cpu_power(cats.dir, cpu, &mo.model, err);
        scn_catalogs_fini(&cats);
    }
    return rc ? rc : meter_open(&mo, meter, err);
}

/* Metric rows of a serve-bench result (fleet: the model), units in their names' sense. */
static int result_metrics(const char *fleet, const SrvResult *r, StoreMetricRow *rows)
{
    const RtSummary *s = &r->sum;
    struct {
        const char *name, *unit;
        double v;
    } m[] = {
        {"ttft_p50_ms", "ms", 1e3 * s->ttft_s.p50}, {"ttft_p90_ms", "ms", 1e3 * s->ttft_s.p90},
        {"ttft_p99_ms", "ms", 1e3 * s->ttft_s.p99}, {"tpot_p50_ms", "ms", 1e3 * s->tpot_s.p50},
        {"tpot_p90_ms", "ms", 1e3 * s->tpot_s.p90}, {"tpot_p99_ms", "ms", 1e3 * s->tpot_s.p99},
        {"itl_p50_ms", "ms", 1e3 * s->itl_s.p50},   {"itl_p90_ms", "ms", 1e3 * s->itl_s.p90},
        {"itl_p99_ms", "ms", 1e3 * s->itl_s.p99},   {"e2e_p50_s", "s", s->e2e_s.p50},
        {"e2e_p90_s", "s", s->e2e_s.p90},           {"e2e_p99_s", "s", s->e2e_s.p99},
        {"throughput_tok_s", "tok/s", s->throughput_tok_s},
        {"requests_per_s", "req/s", s->requests_per_s},
        {"energy_j", "J", r->energy_j},
        {"j_per_token", "J/token", s->output_tokens > 0 ? r->energy_j / s->output_tokens : 0},
    };
    int n = (int)(sizeof m / sizeof m[0]);
    for (int i = 0; i < n; i++)
        rows[i] = (StoreMetricRow){fleet, m[i].name, m[i].unit, m[i].v, 1, 0, 0, 0, 0, "fleet"};
    return n;
}

/* The plan as input rows of part "serve" (what the report's Setup table shows). */
static int plan_inputs(const SrvPlan *p, const char *model, StoreInputRow *rows)
{
    struct {
        const char *key, *unit;
        double v;
    } num[] = {
        {"threads", "threads", p->threads},
        {"rate_req_s", "req/s", p->trace ? NAN : p->rate_per_s},
        {"duration_s", "s", p->trace ? NAN : p->duration_s},
        {"max_requests", "requests", p->max_requests > 0 ? (double)p->max_requests : NAN},
        {"input_tokens", "tokens", p->trace ? NAN : p->input_tokens},
        {"output_tokens", "tokens", p->trace ? NAN : p->output_tokens},
        {"seed", "", (double)p->seed},
        {"max_num_seqs", "sequences", p->sched.max_num_seqs},
        {"max_batched_tokens", "tokens", p->sched.max_batched_tokens},
        {"block_tokens", "tokens", p->sched.block_tokens},
    };
    int n = 0;
    rows[n++] = (StoreInputRow){"-", "serve", "model", NAN, 0, model, "", "option"};
    rows[n++] = (StoreInputRow){"-", "serve", "precision", NAN, 0, prec_name(p->prec), "",
                                "option"};
    rows[n++] = (StoreInputRow){"-", "serve", "kv_precision", NAN, 0, prec_name(p->kv), "",
                                "option"};
    if (p->trace)
        rows[n++] = (StoreInputRow){"-", "serve", "trace", NAN, 0, p->trace, "", "option"};
    for (size_t i = 0; i < sizeof num / sizeof num[0]; i++)
        if (!isnan(num[i].v))
            rows[n++] = (StoreInputRow){"-", "serve", num[i].key, num[i].v, 1, NULL, num[i].unit,
                                        "option"};
    return n;
}

static int store_result(const ServeArgs *a, const SrvResult *r, RunnerResult *rr, TsErr *err)
{
    const SrvPlan *p = &a->plan;
    Store *db = NULL;
    if (store_open(a->db, &db, err))
        return err->code;
    char machine[2048], name[96];
    machine_fingerprint_json(machine, sizeof machine);
    snprintf(name, sizeof name, "serve-bench %s", p->model);
    StoreRunInfo info = {"measure", name, (int64_t)p->seed, NULL, NULL, TS_VERSION, machine};
    int64_t run_id = 0;
    int rc = store_run_begin(db, &info, &run_id, err);
    StoreServingRow *rows = NULL;
    if (!rc) {
        rows = calloc((size_t)r->log.n + 1, sizeof *rows);
        if (!rows)
            rc = ts_err_set(err, TS_ENOMEM, "out of memory");
    }
    for (int i = 0; !rc && i < r->log.n; i++) {
        const RtRequest *q = &r->log.req[i];
        rows[i] = (StoreServingRow){i, q->arrival_s, q->first_token_s, q->finish_s,
                                    q->input_tokens, q->output_tokens, q->preemptions,
                                    q->token_s, q->n_tokens};
    }
    if (!rc)
        rc = store_serving_put(db, run_id, rows, r->log.n, err);
    if (!rc) {
        StoreMetricRow m[16];
        StoreInputRow in[16];
        int nm = result_metrics(p->model, r, m);
        StoreFleetRow f = {p->model, "this machine", p->model, "serve-bench", NULL,
                           r->energy_source, NULL, 0, 0, -1};
        StoreResults res = {.fleets = &f, .n_fleets = 1, .metrics = m, .n_metrics = nm,
                            .inputs = in, .n_inputs = plan_inputs(p, p->model, in)};
        rc = runner_finish(db, run_id, "serve-bench", name, &res, a->out, rr, err);
    } else if (run_id > 0) {
        TsErr ignored;
        store_run_fail(db, run_id, err->msg, &ignored);
    }
    free(rows);
    store_close(db);
    return rc;
}

/* Where a stored serving run went (and why a plot was not drawn, on stderr). */
static void print_stored(const RunnerResult *rr, const char *db)
{
    if (rr->plot_note[0])
        fprintf(stderr, "tokensim: warning: %s\n", rr->plot_note);
    printf("\nreport:   %s/report.html (and report.md)\nplots:    %d drawn of %d\n"
           "database: %s (run %lld)\n",
           rr->out_dir, rr->n_images, rr->n_plots, db, (long long)rr->run_id);
}

static void print_summary(const SrvPlan *p, const SrvResult *r, int n, const RunnerResult *rr,
                          const char *db)
{
    const RtSummary *s = &r->sum;
    printf("serve-bench %s (%s, KV %s, %d threads): %d requests, %ld answer tokens in %.2f s, "
           "%ld steps\n",
           p->model, prec_name(p->prec), prec_name(p->kv), p->threads, n, s->output_tokens,
           r->log.span_s, r->log.steps);
    printf("| metric | p50 | p90 | p99 | mean |\n|---|---:|---:|---:|---:|\n");
    const RtPct *v[] = {&s->ttft_s, &s->tpot_s, &s->itl_s, &s->e2e_s};
    const char *names[] = {"TTFT ms", "TPOT ms", "ITL ms", "E2E ms"};
    for (int i = 0; i < 4; i++)
        printf("| %s | %.2f | %.2f | %.2f | %.2f |\n", names[i], 1e3 * v[i]->p50,
               1e3 * v[i]->p90, 1e3 * v[i]->p99, 1e3 * v[i]->mean);
    printf("throughput %.1f tokens/s, %.2f requests/s; energy %.1f J (%s), %.3g J/token\n",
           s->throughput_tok_s, s->requests_per_s, r->energy_j, r->energy_source,
           s->output_tokens > 0 ? r->energy_j / s->output_tokens : 0.0);
    print_stored(rr, db);
}

int cli_cmd_serve_bench(int argc, char **argv)
{
    ServeArgs a = {.db = "tokensim.db", .out = "out"};
    const char *models[1] = {"dense-15m"};
    int n_models = 0, help = 0;
    srv_plan_defaults(&a.plan, "dense-15m");
    int st = parse_args("serve-bench", argc, argv, &a, models, &n_models, 1, &help);
    if (st || help) {
        if (help)
            fputs(CLI_USAGE_SERVE_BENCH, stdout);
        return st;
    }
    a.plan.model = models[0];
    TsErr err;
    ts_err_clear(&err);
    ServeRequest *reqs = NULL;
    int n = 0;
    Meter *meter = NULL;
    SrvResult r;
    memset(&r, 0, sizeof r);
    RunnerResult rr;
    memset(&rr, 0, sizeof rr);
    int rc = srv_requests(&a.plan, &reqs, &n, &err);
    if (!rc)
        rc = open_meter(a.modeled_only, &meter, &err);
    if (!rc)
        rc = srv_run_real(&a.plan, reqs, n, meter, &r, &err);
    if (!rc)
        rc = store_result(&a, &r, &rr, &err);
    if (!rc)
        print_summary(&a.plan, &r, n, &rr, a.db);
    srv_result_free(&r);
    meter_close(meter);
    free(reqs);
    return rc ? cli_fail(&err) : 0;
}

/* ---- validate --serving ------------------------------------------------------------------ */

#define VS_RATES 3
#define VS_QUANTS 5 /* P50 and P90 TTFT, P50 and P90 TPOT, throughput */

static double rel_err(double pred, double meas)
{
    return meas > 0 ? pred / meas - 1.0 : NAN;
}

/* One model: capacity from a burst, then three rates, real against simulated. */
static int validate_model(const ServeArgs *a, const char *model, Store *db,
                          StoreServingCheck *rows, int *n_rows, double *capacity_out,
                          TsErr *err)
{
    SrvPlan p = a->plan;
    p.model = model;
    StoreCalibration cal;
    char buf[64];
    int found = store_calibration_latest(db, prec_name(p.prec), prec_name(p.kv), p.threads, &cal,
                                         buf, sizeof buf, err);
    if (found < 0)
        return found;
    if (!found)
        return ts_err_set(err, TS_EINPUT, "no calibration for %s weights, KV %s, %d threads in "
                                          "the database: run `tokensim measure` (with --threads "
                                          "%d) and `tokensim calibrate` first",
                          prec_name(p.prec), prec_name(p.kv), p.threads, p.threads);
    CalParams cp = calr_params(&cal);
    /* capacity: a burst of requests at once, served as fast as the engine can */
    SrvPlan burst = p;
    burst.rate_per_s = 1e5;
    burst.max_requests = 4 * p.sched.max_num_seqs;
    ServeRequest *reqs = NULL;
    int n = 0;
    SrvResult real, sim;
    memset(&real, 0, sizeof real);
    memset(&sim, 0, sizeof sim);
    int rc = srv_requests(&burst, &reqs, &n, err);
    if (!rc)
        rc = srv_run_real(&burst, reqs, n, NULL, &real, err);
    double capacity = real.sum.requests_per_s;
    *capacity_out = capacity;
    srv_result_free(&real);
    free(reqs);
    reqs = NULL;
    if (rc)
        return rc;
    printf("\n## %s (calibration %lld): measured capacity %.2f requests/s\n\n"
           "| rate req/s | share | requests | TTFT P50 ms real / sim | TTFT P90 ms real / sim | "
           "TPOT P50 ms real / sim | TPOT P90 ms real / sim | tokens/s real / sim |\n"
           "|---:|---:|---:|---|---|---|---|---|\n",
           model, (long long)cal.id, capacity);
    static const double share[VS_RATES] = {0.3, 0.6, 0.9};
    for (int k = 0; !rc && k < VS_RATES; k++) {
        p.rate_per_s = share[k] * capacity;
        rc = srv_requests(&p, &reqs, &n, err);
        if (!rc)
            rc = srv_run_real(&p, reqs, n, NULL, &real, err);
        if (!rc)
            rc = srv_run_sim(&p, reqs, n, &cp, cal.peak_gflops, cal.bandwidth_gb_s, &sim, err);
        if (!rc) {
            const RtSummary *m = &real.sum, *s = &sim.sum;
            double mv[VS_QUANTS] = {m->ttft_s.p50, m->ttft_s.p90, m->tpot_s.p50, m->tpot_s.p90,
                                    m->throughput_tok_s};
            double sv[VS_QUANTS] = {s->ttft_s.p50, s->ttft_s.p90, s->tpot_s.p50, s->tpot_s.p90,
                                    s->throughput_tok_s};
            printf("| %.2f | %.0f%% | %d |", p.rate_per_s, 100 * share[k], n);
            static const char *const QN[VS_QUANTS][2] = {
                {"ttft_p50_ms", "ms"}, {"ttft_p90_ms", "ms"}, {"tpot_p50_ms", "ms"},
                {"tpot_p90_ms", "ms"}, {"throughput_tok_s", "tok/s"}};
            for (int q = 0; q < VS_QUANTS; q++) {
                double scale = q < 4 ? 1e3 : 1.0;
                printf(" %.2f / %.2f (%+.0f%%) |", scale * mv[q], scale * sv[q],
                       100 * rel_err(sv[q], mv[q]));
                rows[(*n_rows)++] = (StoreServingCheck){model, cal.id, capacity, p.rate_per_s,
                                                        share[k], n, QN[q][0], QN[q][1],
                                                        scale * mv[q], scale * sv[q]};
            }
            printf("\n");
            fflush(stdout);
        }
        srv_result_free(&real);
        srv_result_free(&sim);
        free(reqs);
        reqs = NULL;
    }
    return rc;
}

/* Stores the comparison as a measure run named validate-serving with its report folder. */
static int store_validation(const ServeArgs *a, Store *db, const char *const *models,
                            int n_models, const double *capacity, const StoreServingCheck *rows,
                            int n_rows, double median, RunnerResult *rr, TsErr *err)
{
    char machine[2048];
    machine_fingerprint_json(machine, sizeof machine);
    StoreRunInfo info = {"measure", "validate-serving", (int64_t)a->plan.seed, NULL, NULL,
                         TS_VERSION, machine};
    int64_t run_id = 0;
    if (store_run_begin(db, &info, &run_id, err))
        return err->code;
    int rc = store_serving_checks_put(db, run_id, rows, n_rows, err);
    if (rc) {
        TsErr ignored;
        store_run_fail(db, run_id, err->msg, &ignored);
        return rc;
    }
    StoreMetricRow m[5];
    StoreFleetRow f[4];
    int nm = 0;
    for (int i = 0; i < n_models; i++) {
        f[i] = (StoreFleetRow){models[i], "this machine", models[i], "calibrated", NULL,
                               "none", NULL, 0, 0, -1};
        m[nm++] = (StoreMetricRow){models[i], "capacity_req_s", "req/s", capacity[i], 1,
                                   0, 0, 0, 0, "fleet"};
    }
    m[nm++] = (StoreMetricRow){"-", "median_abs_err", "share", median, 1, 0, 0, 0, 0, "fleet"};
    StoreInputRow in[16];
    int ni = plan_inputs(&a->plan, models[0], in);
    int kept = 0; /* the models are the fleets; the rates follow from each one's capacity */
    for (int i = 0; i < ni; i++)
        if (strcmp(in[i].key, "model") != 0 && strcmp(in[i].key, "rate_req_s") != 0)
            in[kept++] = in[i];
    ni = kept;
    StoreResults res = {.fleets = f, .n_fleets = n_models, .metrics = m, .n_metrics = nm,
                        .inputs = in, .n_inputs = ni};
    return runner_finish(db, run_id, "validate-serving",
                                 "validate --serving: the simulator against the engine", &res,
                                 a->out, rr, err);
}

int cli_validate_serving(int argc, char **argv)
{
    ServeArgs a = {.db = "tokensim.db", .out = "out"};
    const char *models[4];
    int n_models = 0, help = 0;
    srv_plan_defaults(&a.plan, "dense-15m");
    a.plan.duration_s = 20;
    int st = parse_args("validate", argc, argv, &a, models, &n_models, 4, &help);
    if (st || help) {
        if (help)
            fputs(CLI_USAGE_VALIDATE, stdout);
        return st;
    }
    if (n_models == 0) {
        models[n_models++] = "dense-15m";
        models[n_models++] = "moe-15m-active";
    }
    TsErr err;
    ts_err_clear(&err);
    if (access(a.db, F_OK) != 0) {
        ts_err_set(&err, TS_EINPUT, "%s does not exist; run `tokensim measure` and `tokensim "
                                    "calibrate` first", a.db);
        return cli_fail(&err);
    }
    Store *db = NULL;
    if (store_open(a.db, &db, &err))
        return cli_fail(&err);
    printf("# The simulator (calibrated step model, virtual clock) against the real engine\n\n"
           "Same requests (Poisson, %d + %d tokens, %.0f s of arrivals, seed %llu), same "
           "scheduler (%d sequences, %d tokens a step, blocks of %d); each cell is real / "
           "simulated (error of the simulation).\n",
           a.plan.input_tokens, a.plan.output_tokens, a.plan.duration_s,
           (unsigned long long)a.plan.seed, a.plan.sched.max_num_seqs,
           a.plan.sched.max_batched_tokens, a.plan.sched.block_tokens);
    double capacity[4] = {0};
    StoreServingCheck rows[4 * VS_RATES * VS_QUANTS];
    int n_rows = 0, rc = 0;
    for (int i = 0; !rc && i < n_models; i++)
        rc = validate_model(&a, models[i], db, rows, &n_rows, &capacity[i], &err);
    RunnerResult rr;
    memset(&rr, 0, sizeof rr);
    if (!rc && n_rows > 0) {
        double abs_err[4 * VS_RATES * VS_QUANTS];
        for (int i = 0; i < n_rows; i++)
            abs_err[i] = fabs(rel_err(rows[i].predicted, rows[i].measured));
        double med = gsl_stats_median(abs_err, 1, (size_t)n_rows);
        printf("\nmedian |error| of the simulation over %d figures: %.1f%%\n", n_rows, 100 * med);
        rc = store_validation(&a, db, models, n_models, capacity, rows, n_rows, med, &rr, &err);
        if (!rc)
            print_stored(&rr, a.db);
    }
    store_close(db);
    return rc ? cli_fail(&err) : 0;
}
