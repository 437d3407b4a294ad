/* cmd_measure: `measure`, `bench` and `validate`: runs of the real engine on this machine,
 * the benchmark table, and the roofline held against a measure run. Progress on stderr. */
#include <math.h>
#include <getopt.h>
#include <limits.h>
#include <unistd.h>

#include "models/measure/machine.h"
#include "sim/cli/bench.h"
#include "sim/cli/validate.h"
#include "sim/cli/calibrate.h"
#include "sim/render/report.h"
#include "sim/render/report_measure.h"
#include "sim/store/run.h"
#include "sim/cli/runner.h"
#include "sim/text/text.h"
#include "sim/cli/cli.h"
#include "sim/price/published.h"

const char CLI_USAGE_BENCH[] =
    "usage: tokensim bench [--model NAME]... [--config FILE] [--checkpoint FILE]\n"
    "                      [--threads 1|2] [--repeats N] [--precision LIST] [--out FILE]\n"
    "\n"
    "Measures this machine's ceilings (STREAM triad bandwidth, peak FMA rate, bf16 and int8\n"
    "dot-product peaks), then prefill (128-token prompt) and decode (batch 1, 4, 16) tokens/s\n"
    "of each preset and precision with achieved GFLOP/s and GB/s as shares of them, and\n"
    "writes the Markdown table to FILE (default BENCHMARKS.md). fp32 runs at 1 and N threads,\n"
    "bf16, int8 and int4 at N. Progress goes to stderr. Takes several minutes for every preset.\n"
    "\n"
    "options:\n"
    "  --model NAME   benchmark only this model (repeatable): a preset, or a [model NAME]\n"
    "                 of the --config file\n"
    "  --config FILE  a model file with [model NAME] sections\n"
    "  --checkpoint FILE  also benchmark a llama2.c checkpoint (rows named after the file)\n"
    "  --threads N    up to N threads (1 or 2; default 2)\n"
    "  --repeats N    timed repeats per measurement (default 3)\n"
    "  --precision LIST  weight precisions, comma-separated: fp32, bf16, int8, int4 (default\n"
    "                 all)\n"
    "  --commit TEXT  commit id to print in the table (default: unknown)\n"
    "  --out FILE     where to write the table (default BENCHMARKS.md)\n";

const char CLI_USAGE_MEASURE[] =
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
    "be read. Stores a measure run (tables runs, measurements, metrics, validation,\n"
    "run_inputs, run_notes) and writes DIR/measure-<id>/report.md, metrics.csv and\n"
    "results.json, rendered from the stored run. Progress goes to stderr on a terminal.\n"
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

const char CLI_USAGE_VALIDATE[] =
    "usage: tokensim validate [--db FILE] [--run ID] [--eff-compute X] [--eff-memory X]\n"
    "                         [--eff-prefill X] [--defaults]\n"
    "       tokensim validate --published [--fit] [--data DIR] [--db FILE]\n"
    "       tokensim validate --serving [--model NAME]... [--duration S] [--db FILE] [--out DIR]\n"
    "                         [serve-bench options]\n"
    "\n"
    "Predicts this machine's tokens/s for every measured preset, phase and batch of a measure\n"
    "run (default the latest) with the roofline model, from the run's own probed ceilings (FMA\n"
    "peak and triad bandwidth) and the scenario default efficiencies, prints predicted against\n"
    "measured with the error, and stores the comparison in table validation. When `tokensim\n"
    "calibrate` has stored a profile for a row's precision and threads, that row is predicted\n"
    "with the calibrated step-time model instead (the output says which); --defaults or an\n"
    "--eff-* option predicts with the efficiencies.\n"
    "\n"
    "--published predicts every published GPU measurement of data/gpu_measurements.csv (chip,\n"
    "chips, model, precision, lengths, concurrency) as a roofline fleet and prints predicted\n"
    "against measured output tokens/s per chip; --fit also fits eff_compute, eff_memory,\n"
    "step_overhead_ms and collective_us per chip family on half the rows and reports the error\n"
    "on the other half. Both go to tables published_validation and published_fits of --db.\n"
    "\n"
    "--serving serves traffic with the real engine (as serve-bench) for each model (default\n"
    "dense-15m and moe-15m-active) at 30%, 60% and 90% of its capacity (measured first with a\n"
    "burst), simulates the same requests with the stored calibration of the precision and\n"
    "threads (the same scheduler, the calibrated step model), and prints P50 and P90 TTFT and\n"
    "TPOT and throughput side by side with the median error of the simulation. The comparison\n"
    "is stored (table serving_validation, a measure run named validate-serving) with a report\n"
    "in OUT/validate-serving-<id>/ (default out/): the tables and a plot of every simulated\n"
    "figure against its measured one.\n";

static void bench_progress(void *ctx, const char *msg)
{
    (void)ctx;
    cli_say_error(msg);
}

int cli_cmd_bench(int argc, char **argv)
{
    static const struct option longs[] = {
        {"model", required_argument, NULL, 'm'},
        {"threads", required_argument, NULL, 't'},
        {"repeats", required_argument, NULL, 'r'},
        {"out", required_argument, NULL, 'o'},
        {"commit", required_argument, NULL, 'c'},
        {"config", required_argument, NULL, 'C'},
        {"precision", required_argument, NULL, 'P'},
        {"checkpoint", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *models[16], *config = NULL, *checkpoint = NULL;
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
                return cli_usage_error("bench", "at most 16 --model options");
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
                return cli_usage_error("bench", msg);
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
        case 'k':
            checkpoint = optarg;
            break;
        case 'P':
            if (cli_precision_list("bench", optarg, precs, &n_precs))
                return 2;
            break;
        case 'h':
            fputs(CLI_USAGE_BENCH, stdout);
            return 0;
        default:
            return cli_option_error("bench", c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error("bench", "bench takes no arguments besides options");
    TsErr err;
    ts_err_clear(&err);
    EngineConfig cfgs[16];
    for (int i = 0; i < n_models; i++)
        if (cli_engine_model(models[i], config, NULL, &cfgs[i], &err))
            return cli_fail(&err);
    if (config && n_models == 0)
        return cli_usage_error("bench", "--config needs --model NAME");
    static BenchTable table;
    BenchOptions o = {0};
    o.models = n_models ? cfgs : NULL;
    o.n_models = n_models;
    o.max_threads = threads;
    o.repeats = repeats;
    o.precisions = n_precs ? precs : NULL;
    o.n_precisions = n_precs;
    o.checkpoint = checkpoint;
    o.progress = bench_progress;
    if (bench_run(&o, &table, &err))
        return cli_fail(&err);
    char machine[1024];
    machine_fingerprint_json(machine, sizeof machine);
    if (bench_write_md(&table, out, commit, machine, &err))
        return cli_fail(&err);
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
    cli_progress_line(line, done == total);
}

/* Splits "1,4,16" into batches; -1 (usage error printed) when malformed. */
static int parse_batches(const char *text, int *out, int max)
{
    char buf[256], *items[MSR_MAX_BATCHES];
    int n = cli_list_items("measure", "--batch", text, "1,4,16", buf, sizeof buf, items,
                           max < MSR_MAX_BATCHES ? max : MSR_MAX_BATCHES);
    for (int k = 0; k < n; k++) {
        long v;
        if (cli_int_option("measure", "--batch", items[k], 1, 1024, &v))
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
    int n = cli_list_items("measure", "--mtp-accept", text, "0,0.5,1", buf, sizeof buf, items,
                           max < MSR_MAX_ACCEPTS ? max : MSR_MAX_ACCEPTS);
    for (int k = 0; k < n; k++)
        if (cli_float_option("measure", "--mtp-accept", items[k], 0.0, 1.0, &out[k]))
            return -1;
    return n;
}

/* Prints measure run run_id of db_path as JSON, read back from the database (the same object
 * as its results.json). */
static int print_measure_json(const char *db_path, int64_t run_id, TsErr *err)
{
    Store *db = NULL;
    if (store_open_readonly(db_path, &db, err))
        return err->code;
    StoredRun run;
    int rc = store_load_run(db, run_id, &run, err);
    if (!rc) {
        report_measure_json(stdout, &run);
        store_run_free(&run);
    }
    store_close(db);
    return rc;
}

int cli_cmd_measure(int argc, char **argv)
{
    static const struct option longs[] = {
        {"model", required_argument, NULL, 'm'},
        {"checkpoint", required_argument, NULL, 'c'},
        {"config", required_argument, NULL, 'C'},
        {"prompt", required_argument, NULL, 'p'},
        {"gen", required_argument, NULL, 'g'},
        {"batch", required_argument, NULL, 'b'},
        {"threads", required_argument, NULL, 't'},
        {"repeat", required_argument, NULL, 'r'},
        {"db", required_argument, NULL, 'd'},
        {"out", required_argument, NULL, 'o'},
        {"data", required_argument, NULL, 'D'},
        {"json", no_argument, NULL, 'j'},
        {"meter", required_argument, NULL, 'M'},
        {"help", no_argument, NULL, 'h'},
        {"precision", required_argument, NULL, 'P'},
        {"kv", required_argument, NULL, 'K'},
        {"mtp", required_argument, NULL, 'T'},
        {"mtp-accept", required_argument, NULL, 'A'},
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
                return cli_usage_error("measure", "too many --model options");
            names[n_names++] = optarg;
            break;
        case 'c':
            checkpoint = optarg;
            break;
        case 'C':
            config = optarg;
            break;
        case 'p':
            if (cli_int_option("measure", "--prompt", optarg, 1, CFG_MAX_SEQ, &v))
                return CLI_EXIT_USAGE;
            plan.prompt_tokens = (int)v;
            break;
        case 'g':
            if (cli_int_option("measure", "--gen", optarg, 1, CFG_MAX_SEQ, &v))
                return CLI_EXIT_USAGE;
            plan.gen_tokens = (int)v;
            break;
        case 'b':
            if ((plan.n_batches = parse_batches(optarg, plan.batches, MSR_MAX_BATCHES)) < 0)
                return CLI_EXIT_USAGE;
            break;
        case 't':
            if (cli_int_option("measure", "--threads", optarg, 1, 256, &v))
                return CLI_EXIT_USAGE;
            plan.threads = (int)v;
            break;
        case 'r':
            if (cli_int_option("measure", "--repeat", optarg, 1, 1000, &v))
                return CLI_EXIT_USAGE;
            plan.repeats = (int)v;
            break;
        case 'd':
            o.db = optarg;
            break;
        case 'o':
            o.out = optarg;
            break;
        case 'D':
            o.data = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'P':
            if (cli_precision_list("measure", optarg, plan.precs, &plan.n_precs))
                return CLI_EXIT_USAGE;
            break;
        case 'K': {
            TsErr perr;
            if (prec_parse(optarg, &plan.kv, &perr) != 0 || plan.kv == PREC_INT8)
                return cli_usage_error("measure", "--kv: expected fp32 or bf16");
            break;
        }
        case 'T':
            if (cli_int_option("measure", "--mtp", optarg, 1, MTP_MAX_DEPTH, &v))
                return CLI_EXIT_USAGE;
            plan.mtp_depth = (int)v;
            break;
        case 'A':
            if ((plan.n_accepts = accept_list(optarg, plan.mtp_accepts, MSR_MAX_ACCEPTS)) < 0)
                return CLI_EXIT_USAGE;
            break;
        case 'M':
            if (strcmp(optarg, "auto") != 0 && strcmp(optarg, "modeled") != 0)
                return cli_usage_error("measure", "--meter must be auto or modeled");
            modeled_only = strcmp(optarg, "modeled") == 0;
            break;
        case 'h':
            fputs(CLI_USAGE_MEASURE, stdout);
            return 0;
        default:
            return cli_option_error("measure", c, argv);
        }
    }
    if (plan.n_accepts > 0 && plan.mtp_depth == 0)
        return cli_usage_error("measure", "--mtp-accept needs --mtp D");
    if (optind < argc)
        return cli_usage_error("measure", "measure takes no arguments besides options");
    TsErr err;
    ts_err_clear(&err);
    /* the models: presets ('all' or by name), model-file models, a checkpoint */
    CliModel *loaded = calloc(MSR_MAX_MODELS, sizeof *loaded);
    if (!loaded)
        return cli_fail(&err);
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
                rc = cli_load_model(NULL, NULL, cfg_preset_name(k), NULL, 1, &loaded[n], &err);
                n += !rc;
            }
        } else if (n == MSR_MAX_MODELS) {
            rc = ts_err_set(&err, TS_EINPUT, "at most %d models", MSR_MAX_MODELS);
        } else {
            rc = cli_load_model(NULL, NULL, names[i], config, 1, &loaded[n], &err);
            n += !rc;
        }
    }
    if (!rc && checkpoint) {
        if (n == MSR_MAX_MODELS)
            rc = ts_err_set(&err, TS_EINPUT, "at most %d models", MSR_MAX_MODELS);
        else if (!(rc = cli_load_model(checkpoint, NULL, NULL, NULL, 1, &loaded[n], &err)))
            n++;
    }
    /* the meter, with the modeled meter's coefficients for this CPU */
    char data_dir[PATH_MAX] = "", cpu[256];
    machine_cpu_model(cpu, sizeof cpu);
    MeterOptions mo = {
        .sysfs_root = "/sys", .kind = modeled_only ? METER_MODELED : METER_AUTO, .use_nvml = 1};
    Meter *meter = NULL;
    if (!rc) {
        ScnCatalogs cats;
        if (!(rc = cli_load_catalogs(&o, &cats, &err))) {
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
                     mo.model.high_min_w_per_vcpu, mo.model.high_max_w_per_vcpu, mo.model.source);
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
            rc = print_measure_json(o.db, rr.run_id, &err);
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
                       rows[i].batch, txt_fmt((double)rows[i].tokens / rows[i].seconds, a, 32),
                       txt_fmt(rows[i].energy_j / (double)rows[i].tokens, b, 32),
                       txt_fmt(rows[i].flops / rows[i].seconds / 1e9, g, 32));
            }
            free(rows);
            printf("\nreport:   %s/report.html (and report.md, metrics.csv, results.json)\n"
                   "plots:    %d drawn of %d\ndatabase: %s (run %lld)\n",
                   rr.out_dir, rr.n_images, rr.n_plots, o.db, (long long)rr.run_id);
        }
    }
    meter_close(meter);
    for (int i = 0; i < MSR_MAX_MODELS; i++)
        cli_unload_model(&loaded[i]);
    free(loaded);
    return rc ? cli_fail(&err) : 0;
}

/* validate --published: prints the rows and fits, stores them. */
static int validate_published(const char *db_path, const char *data, int fit)
{
    Options o = {.data = data};
    ScnCatalogs cats;
    TsErr err;
    ts_err_clear(&err);
    if (cli_load_catalogs(&o, &cats, &err))
        return cli_fail(&err);
    PubResult *r = calloc(1, sizeof *r);
    int rc = r ? pub_run(&cats, cats.dir, fit, r, &err) : ts_err_set(&err, TS_ENOMEM, "out of memory");
    scn_catalogs_fini(&cats);
    if (rc) {
        free(r);
        return cli_fail(&err);
    }
    char a[32], b[32], c[32];
    printf("%-40s %-9s %5s %-16s %5s %10s %10s %7s", "published measurement", "chip", "chips",
           "model", "conc", "measured", "predicted", "error");
    if (fit)
        printf(" %10s %7s %s", "fitted", "error", "(fit on / held out)");
    printf("\n");
    StorePublishedRow rows[PUB_MAX_ROWS];
    for (int i = 0; i < r->n_rows; i++) {
        const PubRow *p = &r->rows[i];
        char conc[16];
        snprintf(conc, sizeof conc, p->concurrency > 0 ? "%d" : "full", p->concurrency);
        printf("%-40.40s %-9.9s %5d %-16.16s %5s %10s", p->name, p->chip, p->chips, p->model, conc,
               txt_fmt(p->measured, a, 32));
        if (isfinite(p->predicted))
            printf(" %10s %+6.0f%%", txt_fmt(p->predicted, b, 32),
                   100.0 * (p->predicted / p->measured - 1.0));
        else
            printf(" %10s %7s", "n/a", "");
        if (fit && isfinite(p->fitted))
            printf(" %10s %+6.0f%% %s", txt_fmt(p->fitted, c, 32),
                   100.0 * (p->fitted / p->measured - 1.0), p->held_out ? "held out" : "fit on");
        if (p->why[0])
            printf("  (%s)", p->why);
        printf("\n");
        rows[i] = (StorePublishedRow){p->name, p->family, p->chip, p->model, p->why,
                                      p->chips, p->concurrency, p->held_out, p->measured,
                                      p->predicted, p->fitted};
    }
    printf("median |error| as scenarios price them (data/roofline_fit.csv, else the defaults): "
           "%.1f%%\n",
           100.0 * r->default_median_err);
    StorePublishedFit fits[PUB_MAX_FAMILIES];
    for (int i = 0; i < r->n_fits; i++) {
        const PubFit *f = &r->fits[i];
        printf("fit %s (%d rows, %d held out%s): eff_compute %.3g, eff_memory %.3g, "
               "step_overhead_ms %.3g, collective_us %.3g; median |error| %.1f%% on the fit rows, "
               "%.1f%% held out\n",
               f->family, f->n_train, f->n_test, f->converged ? "" : ", not converged",
               f->params.eff_compute, f->params.eff_memory, f->params.step_overhead_ms,
               f->params.collective_us, 100.0 * f->train_median_err, 100.0 * f->test_median_err);
        fits[i] = (StorePublishedFit){f->family,        f->params.eff_compute,
                                      f->params.eff_memory, f->params.step_overhead_ms,
                                      f->params.collective_us, f->n_train,
                                      f->n_test,         f->train_median_err,
                                      f->test_median_err};
    }
    if (fit)
        printf("held-out median |error| at the fitted efficiencies: %.1f%%\n",
               100.0 * r->test_median_err);
    Store *db = NULL;
    rc = store_open(db_path, &db, &err);
    if (!rc)
        rc = store_published(db, rows, r->n_rows, fits, r->n_fits, &err);
    store_close(db);
    if (!rc)
        printf("stored in %s (tables published_validation, published_fits)\n", db_path);
    free(r);
    return rc ? cli_fail(&err) : 0;
}

int cli_cmd_validate(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--serving") == 0)
            return cli_validate_serving(argc, argv); /* cmd_serve.c */
    static const struct option longs[] = {
        {"db", required_argument, NULL, 'd'},
        {"run", required_argument, NULL, 'r'},
        {"eff-compute", required_argument, NULL, 'c'},
        {"eff-memory", required_argument, NULL, 'm'},
        {"eff-prefill", required_argument, NULL, 'p'},
        {"published", no_argument, NULL, 'P'},
        {"fit", no_argument, NULL, 'F'},
        {"data", required_argument, NULL, 'D'},
        {"defaults", no_argument, NULL, 'E'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_path = "tokensim.db", *data = NULL;
    int published = 0, fit = 0, defaults = 0;
    long run = 0;
    ValOptions vo = {0.5, 0.7, 0.5};
    optind = 1;
    opterr = 0;
    int c;
    double v;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        switch (c) {
        case 'd':
            db_path = optarg;
            break;
        case 'r':
            if (cli_int_option("validate", "--run", optarg, 1, LONG_MAX, &run))
                return CLI_EXIT_USAGE;
            break;
        case 'c':
        case 'm':
        case 'p':
            if (cli_float_option("validate", argv[optind - 2], optarg, 1e-6, 1, &v))
                return CLI_EXIT_USAGE;
            *(c == 'c' ? &vo.eff_compute : c == 'm' ? &vo.eff_memory : &vo.eff_prefill) = v;
            defaults = 1; /* efficiencies given: predict with them, not a calibration */
            break;
        case 'P':
            published = 1;
            break;
        case 'F':
            fit = 1;
            break;
        case 'D':
            data = optarg;
            break;
        case 'E':
            defaults = 1;
            break;
        case 'h':
            fputs(CLI_USAGE_VALIDATE, stdout);
            return 0;
        default:
            return cli_option_error("validate", c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error("validate", "validate takes no arguments besides options");
    if ((fit || data) && !published)
        return cli_usage_error("validate", "--fit and --data go with --published");
    if (published)
        return validate_published(db_path, data, fit);
    TsErr err;
    ts_err_clear(&err);
    if (access(db_path, F_OK) != 0) {
        ts_err_set(&err, TS_EINPUT, "%s does not exist; run `tokensim measure` first", db_path);
        return cli_fail(&err);
    }
    Store *db = NULL;
    if (store_open(db_path, &db, &err))
        return cli_fail(&err);
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
    char basis_buf[1024];
    const char *basis = NULL;
    if (!rc && !defaults) {
        /* a stored calibration of the rows' precision groups, else the defaults */
        n = calr_predict(db, ms.rows, ms.n, rows, basis_buf, sizeof basis_buf, &err);
        rc = n < 0 ? n : 0;
        if (n > 0)
            basis = basis_buf;
    }
    if (!rc) {
        if (!basis)
            n = val_predict(ms.rows, ms.n, peak, bw, &vo, rows);
        val_store_rows(rows, n, vrows);
        rc = store_replace_validation(db, run_id, vrows, n, &err);
    }
    if (!rc) {
        printf("measure run %lld: %d configurations of engine presets; ceilings %.1f GFLOP/s, "
               "%.1f GB/s\n",
               (long long)run_id, n, peak, bw);
        val_write_md_basis(stdout, rows, n, &vo, basis);
    }
    free(rows);
    free(vrows);
    store_measurements_free(&ms);
    store_close(db);
    return rc ? cli_fail(&err) : 0;
}
