/* llama2c: reads and writes llama2.c legacy checkpoints (see llama2c.h). Loading validates the
 * header against the engine's limits and the file size against the header before it allocates,
 * then copies the tensors into one Weights block (no mmap) and refuses non-finite values.
 * The RoPE tables in the file are skipped on load (the engine computes RoPE itself) and
 * recomputed on save. It does not read tokenizer.bin (models/formats/tokenizer.c does). */
#include "models/formats/llama2c.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__)
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "llama2.c checkpoints are little-endian; this host is not");
#endif

enum { H_DIM, H_HIDDEN, H_LAYERS, H_HEADS, H_KV_HEADS, H_VOCAB, H_SEQ, H_COUNT };

static const char *const HEADER_NAMES[H_COUNT] = {
    "dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len",
};

/* The name of a checkpoint: its base name without the extension ("out/stories15M.bin" ->
 * "stories15M"), truncated to fit. */
static void name_from_path(const char *path, char name[CFG_NAME_MAX])
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    const char *dot = strrchr(base, '.');
    if (dot && dot != base)
        n = (size_t)(dot - base);
    if (n > CFG_NAME_MAX - 1)
        n = CFG_NAME_MAX - 1;
    memcpy(name, base, n);
    name[n] = '\0';
}

/* Floats of one RoPE table: (seq_len, head_size / 2). */
static size_t rope_table_floats(const EngineConfig *c)
{
    return (size_t)c->max_seq * (size_t)(c->shape.head_dim / 2);
}

/* Bytes a checkpoint of c must have. Sizes are within the CFG_MAX_* limits, so the product
 * stays far below 2^64. */
static uint64_t expected_bytes(const EngineConfig *c)
{
    uint64_t floats = (uint64_t)wt_total_floats(c) + 2 * (uint64_t)rope_table_floats(c);
    return L2C_HEADER_BYTES + 4 * floats;
}

/* Checks the header h and turns it into cfg. No allocation. */
static int header_to_config(const char *path, const int32_t h[H_COUNT], EngineConfig *cfg,
                            TsErr *err)
{
    const long limit[H_COUNT] = {
        CFG_MAX_DIM, 4L * CFG_MAX_DIM, CFG_MAX_LAYERS, CFG_MAX_DIM, CFG_MAX_DIM,
        CFG_MAX_VOCAB, CFG_MAX_SEQ,
    };
    for (int i = 0; i < H_COUNT; i++) {
        long v = h[i];
        if (i == H_VOCAB && v < 0)
            v = -v; /* the sign only says whether the classifier is shared */
        if (v < 1 || v > limit[i])
            return ts_err_set(err, TS_EINPUT, "%s: header %s = %ld, must be%s in [1, %ld]", path,
                              HEADER_NAMES[i], (long)h[i], i == H_VOCAB ? " (in magnitude)" : "",
                              limit[i]);
    }
    if (h[H_DIM] % h[H_HEADS] != 0)
        return ts_err_set(err, TS_EINPUT, "%s: dim %d is not divisible by n_heads %d", path,
                          (int)h[H_DIM], (int)h[H_HEADS]);
    if (h[H_HEADS] % h[H_KV_HEADS] != 0)
        return ts_err_set(err, TS_EINPUT, "%s: n_heads %d is not divisible by n_kv_heads %d", path,
                          (int)h[H_HEADS], (int)h[H_KV_HEADS]);
    if ((h[H_DIM] / h[H_HEADS]) % 2 != 0)
        return ts_err_set(err, TS_EINPUT, "%s: head size dim / n_heads = %d must be even (RoPE)",
                          path, (int)(h[H_DIM] / h[H_HEADS]));

    memset(cfg, 0, sizeof *cfg);
    name_from_path(path, cfg->name);
    ModelShape *s = &cfg->shape;
    s->layers = h[H_LAYERS];
    s->d_model = h[H_DIM];
    s->heads = h[H_HEADS];
    s->kv_heads = h[H_KV_HEADS];
    s->head_dim = h[H_DIM] / h[H_HEADS];
    s->ffn = h[H_HIDDEN];
    s->vocab = h[H_VOCAB] < 0 ? -(long)h[H_VOCAB] : h[H_VOCAB];
    cfg->max_seq = h[H_SEQ];
    cfg->rope_theta = 10000.0f;
    cfg->norm_eps = 1e-5f;
    cfg->shared_classifier = h[H_VOCAB] > 0;

    TsErr e;
    ts_err_clear(&e);
    if (cfg_check(cfg, &e))
        return ts_err_set(err, TS_EINPUT, "%s: %s", path, e.msg);
    return 0;
}

/* Reads n floats into dst; a short read is an I/O error since the size was checked. */
static int read_floats(FILE *f, const char *path, float *dst, size_t n, TsErr *err)
{
    if (n && fread(dst, sizeof(float), n, f) != n)
        return ts_err_set(err, TS_EIO, "%s: read failed%s", path,
                          ferror(f) ? "" : " (the file changed while loading?)");
    return 0;
}

/* Refuses a tensor holding NaN or infinity, naming it and the first bad element. */
static int check_finite(const char *path, WeightTensor t, const float *p, size_t n, TsErr *err)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(p[i]))
            return ts_err_set(err, TS_EINPUT, "%s: tensor %s holds %s at element %zu", path,
                              wt_tensor_name(t), isnan(p[i]) ? "NaN" : "an infinity", i);
    return 0;
}

int l2c_load(const char *path, EngineConfig *cfg, Weights *w, TsErr *err)
{
    memset(w, 0, sizeof *w);
    int rc = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return ts_err_set(err, TS_EIO, "%s: cannot open: %s", path, strerror(errno));

    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        rc = ts_err_set(err, TS_EIO, "%s: cannot stat: %s", path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = ts_err_set(err, TS_EIO, "%s: not a regular file", path);
        goto done;
    }
    uint64_t actual = (uint64_t)st.st_size;
    if (actual < L2C_HEADER_BYTES) {
        rc = ts_err_set(err, TS_EINPUT,
                        "%s: %llu bytes, too short for a llama2.c checkpoint (%d-byte header)",
                        path, (unsigned long long)actual, L2C_HEADER_BYTES);
        goto done;
    }
    int32_t h[H_COUNT];
    if (fread(h, sizeof h, 1, f) != 1) {
        rc = ts_err_set(err, TS_EIO, "%s: cannot read the header", path);
        goto done;
    }
    if ((rc = header_to_config(path, h, cfg, err)))
        goto done;
    uint64_t want = expected_bytes(cfg);
    if (actual != want) {
        rc = ts_err_set(err, TS_EINPUT,
                        "%s: %llu bytes, but its header (dim %d, hidden_dim %d, %d layers, %d "
                        "heads, %d kv_heads, vocab %d, seq_len %d) implies %llu: %s",
                        path, (unsigned long long)actual, (int)h[H_DIM], (int)h[H_HIDDEN],
                        (int)h[H_LAYERS], (int)h[H_HEADS], (int)h[H_KV_HEADS], (int)h[H_VOCAB],
                        (int)h[H_SEQ], (unsigned long long)want,
                        actual < want ? "truncated" : "trailing bytes");
        goto done;
    }

    if ((rc = wt_alloc(w, cfg, err)))
        goto done;
    for (int t = 0; t < WT_COUNT; t++) {
        WeightTensor wt = (WeightTensor)t;
        size_t n = wt_tensor_floats(cfg, wt);
        if (wt == WT_WCLS && n) {
            off_t skip = (off_t)(2 * rope_table_floats(cfg) * sizeof(float));
            if (fseeko(f, skip, SEEK_CUR) != 0) {
                rc = ts_err_set(err, TS_EIO, "%s: seek failed: %s", path, strerror(errno));
                goto done;
            }
        }
        if ((rc = read_floats(f, path, wt_tensor(w, wt), n, err)) ||
            (rc = check_finite(path, wt, wt_tensor(w, wt), n, err)))
            goto done;
    }

done:
    fclose(f);
    if (rc)
        wt_fini(w);
    return rc;
}

/* Checks that cfg fits the llama2.c format. */
static int check_saveable(const char *path, const EngineConfig *cfg, const Weights *w,
                          TsErr *err)
{
    TsErr e;
    ts_err_clear(&e);
    if (cfg_check(cfg, &e))
        return ts_err_set(err, TS_EINPUT, "%s: %s", path, e.msg);
    const ModelShape *s = &cfg->shape;
    if (s->experts > 0)
        return ts_err_set(err, TS_EINPUT, "%s: the llama2.c format holds dense models only", path);
    if (s->heads * s->head_dim != s->d_model)
        return ts_err_set(err, TS_EINPUT,
                          "%s: the llama2.c format needs heads x head_dim = d_model, got %ld x "
                          "%ld != %ld",
                          path, s->heads, s->head_dim, s->d_model);
    if (cfg->rope_theta != 10000.0f || cfg->norm_eps != 1e-5f)
        return ts_err_set(err, TS_EINPUT,
                          "%s: the llama2.c format fixes rope_theta 10000 and norm_eps 1e-5, got "
                          "%g and %g",
                          path, (double)cfg->rope_theta, (double)cfg->norm_eps);
    if (!w->data || w->n_floats != wt_total_floats(cfg))
        return ts_err_set(err, TS_EINPUT, "%s: the weights (%zu floats) do not match the config "
                          "(%zu floats)", path, w->n_floats, wt_total_floats(cfg));
    return 0;
}

/* Writes both RoPE tables as llama2.c's export computes them: for position pos and pair i,
 * freq = 1 / 10000^(2i / head_size), real = cos(pos freq), imag = sin(pos freq). */
static int write_rope_tables(FILE *f, const EngineConfig *cfg)
{
    long hs = cfg->shape.head_dim;
    for (int imag = 0; imag < 2; imag++)
        for (long pos = 0; pos < cfg->max_seq; pos++)
            for (long i = 0; i < hs / 2; i++) {
                double freq = 1.0 / pow(10000.0, (double)(2 * i) / (double)hs);
                double a = (double)pos * freq;
                float v = (float)(imag ? sin(a) : cos(a));
                if (fwrite(&v, sizeof v, 1, f) != 1)
                    return -1;
            }
    return 0;
}

int l2c_save(const char *path, const EngineConfig *cfg, const Weights *w, TsErr *err)
{
    int rc = check_saveable(path, cfg, w, err);
    if (rc)
        return rc;
    const ModelShape *s = &cfg->shape;
    int32_t h[H_COUNT] = {
        (int32_t)s->d_model, (int32_t)s->ffn,      (int32_t)s->layers,
        (int32_t)s->heads,   (int32_t)s->kv_heads,
        (int32_t)(cfg->shared_classifier ? s->vocab : -s->vocab), (int32_t)cfg->max_seq,
    };
    FILE *f = fopen(path, "wb");
    if (!f)
        return ts_err_set(err, TS_EIO, "%s: cannot create: %s", path, strerror(errno));
    int bad = fwrite(h, sizeof h, 1, f) != 1;
    for (int t = 0; t < WT_COUNT && !bad; t++) {
        WeightTensor wt = (WeightTensor)t;
        size_t n = wt_tensor_floats(cfg, wt);
        if (wt == WT_WCLS && write_rope_tables(f, cfg))
            bad = 1;
        else if (n && fwrite(wt_tensor(w, wt), sizeof(float), n, f) != n)
            bad = 1;
    }
    int saved_errno = errno;
    if (fclose(f) != 0 && !bad) {
        bad = 1;
        saved_errno = errno;
    }
    if (bad) {
        remove(path);
        return ts_err_set(err, TS_EIO, "%s: write failed: %s", path, strerror(saved_errno));
    }
    return 0;
}
