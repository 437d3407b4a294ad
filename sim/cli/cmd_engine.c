/* cmd_engine: `models`, `generate` and `export`: the engine's presets, text generation with a
 * llama2.c checkpoint, model file or seeded preset, and writing weights to a file. */
#include <getopt.h>
#include <limits.h>

#include "sim/text/text.h"
#include "models/engine/generate.h"
#include "models/formats/llama2c.h"
#include "sim/render/report.h"
#include "sim/cli/runner.h"
#include "sim/cli/cli.h"
#include "sim/scenario/hfconfig.h"

const char CLI_USAGE_MODELS[] =
    "usage: tokensim models [--config FILE] [--data DIR] [--hf CONFIG.json]\n"
    "\n"
    "Lists the engine's presets: total and active parameters, FLOPs per decode token (at half\n"
    "the context length, textbook count plus element-wise ops), fp32 weight bytes read per\n"
    "decode token at batch 1, and KV-cache bytes per token of context. --config FILE adds the\n"
    "[model NAME] sections of a model file (docs/scenario-format.md, \"Model files\").\n"
    "--hf CONFIG.json prints the shape a Hugging Face config.json describes instead: layers,\n"
    "heads, MoE and MLA fields, total and active parameters, bytes per weight, KV bytes per\n"
    "token (a [model] takes the same file with hf_config = PATH).\n";

const char CLI_USAGE_GENERATE[] =
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

const char CLI_USAGE_EXPORT[] =
    "usage: tokensim export --model NAME [--config FILE] [--seed N] [--format tokensim|llama2c]\n"
    "                       --out FILE\n"
    "\n"
    "Writes a model's seeded random weights to FILE: a tokensim model file (versioned,\n"
    "checksummed, memory-mapped on load) or, for dense models, a llama2.c checkpoint. NAME is a\n"
    "preset, or a [model NAME] section of the --config model file.\n";

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
           txt_fmt(cfg_param_count(c), a, sizeof a), txt_fmt(active, b, sizeof b),
           txt_fmt(eng_flops_row(c, c->max_seq / 2 - 1, 1), f, sizeof f),
           txt_fmt(bytes, by, sizeof by),
           txt_fmt(shape_kv_bytes_per_token(&c->shape, 4.0), kv, sizeof kv), note);
}

/* models --hf FILE: the shape a Hugging Face config.json describes and what it costs. */
static int print_hf(const char *path)
{
    HfModel m;
    TsErr err;
    ts_err_clear(&err);
    if (hf_load_file(&m, path, &err)) {
        if (err.code == TS_EIO)
            err.code = TS_EINPUT; /* a file the user named that cannot be read */
        return cli_fail(&err);
    }
    const ModelShape *s = &m.shape;
    char a[32], b[32], c[32], d[32];
    printf("%s (model_type %s, dtype %s%s%s)\n", path, m.model_type[0] ? m.model_type : "?",
           m.dtype[0] ? m.dtype : "?", m.quant_method[0] ? ", quantization " : "",
           m.quant_method);
    printf("  layers %ld, d_model %ld, heads %ld, kv_heads %ld, head_dim %ld, vocab %ld%s\n",
           s->layers, s->d_model, s->heads, s->kv_heads, s->head_dim, s->vocab,
           m.tied_embeddings ? ", tied embeddings" : "");
    if (s->experts > 0)
        printf("  MoE: %ld experts, top %ld, %ld shared, expert FFN %ld, %ld dense layers (FFN "
               "%ld)\n",
               s->experts, s->experts_active, s->shared_experts, s->expert_ffn, s->dense_layers,
               s->ffn);
    else
        printf("  dense FFN %ld\n", s->ffn);
    if (s->kv_lora_rank > 0)
        printf("  MLA: kv_lora_rank %ld, q_lora_rank %ld, rope %ld, nope %ld, v_head_dim %ld\n",
               s->kv_lora_rank, s->q_lora_rank, s->rope_dim, s->qk_nope_dim, s->v_head_dim);
    if (m.sliding_layers > 0)
        printf("  %ld layers attend over a window of %ld tokens (priced as full attention)\n",
               m.sliding_layers, m.sliding_window_tokens);
    double kv = shape_kv_bytes_per_token(s, 2.0);
    printf("  parameters: %s total, %s active per token\n", txt_fmt(m.params_total, a, 32),
           txt_fmt(m.params_active, b, 32));
    printf("  weight bytes: %s per weight%s; KV cache: %s bytes per token at bf16\n",
           m.weight_bytes > 0 ? txt_fmt(m.weight_bytes, c, 32) : "unknown",
           m.weight_bytes > 0 ? "" : " (set weight_bytes in the [model])", txt_fmt(kv, d, 32));
    printf("  decode FLOPs per token at context 0: %s\n",
           txt_fmt(shape_flops_decode(s, 0), a, 32));
    return 0;
}

int cli_cmd_models(int argc, char **argv)
{
    static const struct option longs[] = {
        {"config", required_argument, NULL, 'c'},
        {"data", required_argument, NULL, 'D'},
        {"hf", required_argument, NULL, 'H'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *data = NULL, *hf = NULL;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'D':
            data = optarg;
            break;
        case 'H':
            hf = optarg;
            break;
        case 'h':
            fputs(CLI_USAGE_MODELS, stdout);
            return 0;
        default:
            return cli_option_error("models", c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error("models", "models takes no arguments besides options");
    TsErr err;
    ts_err_clear(&err);
    if (hf)
        return print_hf(hf);
    /* the model file first: a bad one prints its error and nothing else */
    EngineConfig *extra = NULL;
    int n_extra = 0;
    if (config) {
        Options o = {.data = data};
        ScnCatalogs cats;
        if (cli_load_catalogs(&o, &cats, &err))
            return cli_fail(&err);
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
            return cli_fail(&err);
        }
    }
    printf("%-16s %12s %12s %14s %14s %12s  %s\n", "model", "params", "active", "FLOP/token",
           "bytes/token", "KV B/token", "what it is");
    for (int i = 0; i < cfg_preset_count(); i++) {
        EngineConfig cfg;
        if (cfg_preset(cfg_preset_name(i), &cfg, &err)) {
            free(extra);
            return cli_fail(&err);
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

static void emit_stdout(void *ctx, const char *piece)
{
    (void)ctx;
    fputs(piece, stdout);
    fflush(stdout);
}

int cli_cmd_generate(int argc, char **argv)
{
    static const struct option longs[] = {
        {"checkpoint", required_argument, NULL, 'c'},
        {"model-file", required_argument, NULL, 'f'},
        {"model", required_argument, NULL, 'm'},
        {"tokenizer", required_argument, NULL, 'k'},
        {"prompt", required_argument, NULL, 'p'},
        {"steps", required_argument, NULL, 's'},
        {"temperature", required_argument, NULL, 't'},
        {"top-p", required_argument, NULL, 'P'},
        {"seed", required_argument, NULL, 'S'},
        {"threads", required_argument, NULL, 'T'},
        {"config", required_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {"precision", required_argument, NULL, 'Q'},
        {"kv", required_argument, NULL, 'K'},
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
        case 'c':
            checkpoint = optarg;
            break;
        case 'f':
            model_file = optarg;
            break;
        case 'm':
            preset = optarg;
            break;
        case 'k':
            tokenizer = optarg;
            break;
        case 'p':
            go.prompt = optarg;
            break;
        case 's':
            if (cli_int_option("generate", "--steps", optarg, 0, CFG_MAX_SEQ, &lv))
                return CLI_EXIT_USAGE;
            go.steps = (int)lv;
            break;
        case 't':
            if (cli_float_option("generate", "--temperature", optarg, 0, 100, &dv))
                return CLI_EXIT_USAGE;
            go.temperature = (float)dv;
            break;
        case 'P':
            if (cli_float_option("generate", "--top-p", optarg, 1e-6, 1, &dv))
                return CLI_EXIT_USAGE;
            go.top_p = (float)dv;
            break;
        case 'S':
            if (cli_int_option("generate", "--seed", optarg, 0, LONG_MAX, &lv))
                return CLI_EXIT_USAGE;
            go.seed = (uint64_t)lv;
            break;
        case 'T':
            if (cli_int_option("generate", "--threads", optarg, 1, 256, &lv))
                return CLI_EXIT_USAGE;
            go.threads = (int)lv;
            break;
        case 'C':
            config = optarg;
            break;
        case 'Q':
        case 'K': {
            TsErr perr;
            Precision p;
            if (prec_parse(optarg, &p, &perr) != 0 || (c == 'K' && p == PREC_INT8))
                return cli_usage_error("generate", c == 'K' ? "--kv: expected fp32 or bf16"
                                                            : "--precision: expected fp32, bf16 "
                                                              "or int8");
            if (c == 'Q')
                go.prec = p;
            else
                go.kv = p;
            break;
        }
        case 'h':
            fputs(CLI_USAGE_GENERATE, stdout);
            return 0;
        default:
            return cli_option_error("generate", c, argv);
        }
    }
    if (optind < argc)
        return cli_usage_error("generate", "unexpected argument; put the prompt after --prompt");
    if ((checkpoint != NULL) + (model_file != NULL) + (preset != NULL) != 1)
        return cli_usage_error("generate", "give one of --checkpoint, --model-file or --model");
    if (!tokenizer)
        return cli_usage_error("generate", "--tokenizer FILE is required");
    TsErr err;
    ts_err_clear(&err);
    CliModel m;
    if (cli_load_model(checkpoint, model_file, preset, config, go.seed, &m, &err))
        return cli_fail(&err);
    Tokenizer tok;
    if (tok_load(&tok, tokenizer, (int)m.cfg.shape.vocab, &err)) {
        cli_unload_model(&m);
        return cli_fail(&err);
    }
    GenStats st;
    int rc = gen_run(&m.cfg, &m.w, &tok, &go, emit_stdout, NULL, &st, &err);
    printf("\n");
    if (!rc && st.generated > 1 && st.seconds > 0)
        fprintf(stderr, "achieved tok/s: %f\n", (st.generated - 1) / st.seconds);
    tok_fini(&tok);
    cli_unload_model(&m);
    return rc ? cli_fail(&err) : 0;
}

int cli_cmd_export(int argc, char **argv)
{
    static const struct option longs[] = {
        {"model", required_argument, NULL, 'm'},
        {"seed", required_argument, NULL, 'S'},
        {"format", required_argument, NULL, 'F'},
        {"out", required_argument, NULL, 'o'},
        {"config", required_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *preset = NULL, *out = NULL, *format = "tokensim", *config = NULL;
    long seed = 1;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        switch (c) {
        case 'm':
            preset = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'F':
            format = optarg;
            break;
        case 'S':
            if (cli_int_option("export", "--seed", optarg, 0, LONG_MAX, &seed))
                return CLI_EXIT_USAGE;
            break;
        case 'C':
            config = optarg;
            break;
        case 'h':
            fputs(CLI_USAGE_EXPORT, stdout);
            return 0;
        default:
            return cli_option_error("export", c, argv);
        }
    }
    if (optind < argc || !preset || !out)
        return cli_usage_error("export", "export needs --model PRESET and --out FILE");
    if (strcmp(format, "tokensim") != 0 && strcmp(format, "llama2c") != 0)
        return cli_usage_error("export", "--format must be tokensim or llama2c");
    TsErr err;
    ts_err_clear(&err);
    CliModel m;
    if (cli_load_model(NULL, NULL, preset, config, (uint64_t)seed, &m, &err))
        return cli_fail(&err);
    int rc = strcmp(format, "llama2c") == 0 ? l2c_save(out, &m.cfg, &m.w, &err)
                                            : mf_save(out, &m.cfg, &m.w, (uint64_t)seed, &err);
    cli_unload_model(&m);
    if (rc)
        return cli_fail(&err);
    printf("%s: %s, seed %ld, %s format\n", out, m.cfg.name, seed, format);
    return 0;
}
