/* hfconfig: Hugging Face config.json -> ModelShape (see hfconfig.h for the fields and the error
 * contract). jansson parses; every field is fetched through one typed getter that names the
 * field in its error, then the shape's combinations are checked before shape_check. It reads
 * one file into memory and nothing else; it never prints. */
#include "sim/scenario/hfconfig.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/text/text.h"

#define HF_MAX_COUNT 100000000LL /* above any real layer count, width or vocabulary */

/* The objects fields come from: the text model (root or root.text_config) and the root, for
 * the keys wrappers keep at the top (torch_dtype, quantization_config). */
typedef struct {
    const char *path;
    const json_t *obj;    /* borrowed: where the model's fields are */
    const json_t *root;   /* borrowed */
    const char *prefix;   /* "" or "text_config." for messages */
    TsErr *err;
} HfCtx;

static int field_err(const HfCtx *c, const char *field, const char *fmt, const char *detail)
{
    char msg[256];
    snprintf(msg, sizeof msg, fmt, detail ? detail : "");
    return ts_err_set(c->err, TS_EINPUT, "%s: field %s%s: %s", c->path, c->prefix, field, msg);
}

/* The value of key in the text object, or NULL when absent or JSON null. */
static const json_t *get(const HfCtx *c, const char *key)
{
    const json_t *v = json_object_get(c->obj, key);
    return (v && !json_is_null(v)) ? v : NULL;
}

/* Reads an integer field into *out. Absent: *found = 0 and *out untouched. Present: an integer
 * in [lo, HF_MAX_COUNT], else a field error. */
static int get_count(const HfCtx *c, const char *key, long long lo, long *out, int *found)
{
    const json_t *v = get(c, key);
    *found = 0;
    if (!v)
        return 0;
    if (!json_is_integer(v))
        return field_err(c, key, "expected an integer, got %s",
                         json_is_real(v) ? "a number with a fraction or exponent"
                         : json_is_string(v) ? "a string"
                         : json_is_boolean(v) ? "a boolean"
                                              : "an array or object");
    long long n = json_integer_value(v);
    if (n < lo || n > HF_MAX_COUNT) {
        char d[64];
        snprintf(d, sizeof d, "%lld", n);
        return field_err(c, key, lo > 0 ? "must be a positive count, got %s"
                                        : "must be zero or a positive count, got %s", d);
    }
    *out = (long)n;
    *found = 1;
    return 0;
}

/* As get_count, but the field must be there. */
static int need_count(const HfCtx *c, const char *key, long *out)
{
    int found;
    int rc = get_count(c, key, 1, out, &found);
    if (rc)
        return rc;
    if (!found)
        return field_err(c, key, "missing%s; every decoder config has it", "");
    return 0;
}

/* Copies a string field (absent or null: "") after checking it is printable text. */
static int get_string(const HfCtx *c, const json_t *obj, const char *key, char *out, size_t cap)
{
    const json_t *v = json_object_get(obj, key);
    out[0] = '\0';
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return field_err(c, key, "expected a string%s", "");
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (txt_inert_len(s, n) < n || strlen(s) != n)
        return field_err(c, key, "control character or invalid UTF-8 in the value%s", "");
    if (n >= cap)
        return field_err(c, key, "longer than expected%s", "");
    memcpy(out, s, n + 1);
    return 0;
}

double hf_dtype_bytes(const char *dtype)
{
    static const struct {
        const char *name;
        double bytes;
    } table[] = {
        {"float32", 4}, {"float", 4},    {"fp32", 4},     {"bfloat16", 2}, {"float16", 2},
        {"half", 2},    {"bf16", 2},     {"fp16", 2},     {"float8_e4m3fn", 1},
        {"float8_e5m2", 1}, {"float8_e4m3fnuz", 1}, {"float8_e5m2fnuz", 1}, {"int8", 1},
    };
    if (!dtype)
        return 0;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(dtype, table[i].name) == 0)
            return table[i].bytes;
    return 0;
}

/* Experts: the three spellings must agree when several are given. */
static int read_experts(const HfCtx *c, long *experts)
{
    static const char *const keys[] = {"num_local_experts", "num_experts", "n_routed_experts"};
    const char *first = NULL;
    *experts = 0;
    for (int i = 0; i < 3; i++) {
        long v;
        int found;
        int rc = get_count(c, keys[i], 0, &v, &found);
        if (rc)
            return rc;
        if (!found)
            continue;
        if (first && v != *experts) {
            char d[160];
            snprintf(d, sizeof d, "%ld disagrees with %s = %ld", v, first, *experts);
            return field_err(c, keys[i], "%s", d);
        }
        first = keys[i];
        *experts = v;
    }
    return 0;
}

/* Is layer i (0-based) listed in the integer array arr? */
static int listed(const json_t *arr, long i)
{
    size_t k;
    const json_t *v;
    json_array_foreach(arr, k, v)
        if (json_is_integer(v) && json_integer_value(v) == i)
            return 1;
    return 0;
}

static int check_layer_list(const HfCtx *c, const char *key, long layers, const json_t **out)
{
    const json_t *arr = get(c, key);
    *out = NULL;
    if (!arr)
        return 0;
    if (!json_is_array(arr))
        return field_err(c, key, "expected an array of layer indices%s", "");
    size_t k;
    const json_t *v;
    json_array_foreach(arr, k, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) >= layers) {
            char d[64];
            snprintf(d, sizeof d, "%ld", layers);
            return field_err(c, key, "every entry must be a layer index in [0, %s)", d);
        }
    }
    *out = arr;
    return 0;
}

/* Counts the layers with experts under the rules of every model family whose fields appear
 * (hfconfig.h lists them); sets *moe_layers. */
static int count_moe_layers(const HfCtx *c, long layers, long experts, long *moe_layers)
{
    long k_dense = 0, freq = 1, step = 1, v;
    int found;
    const char *step_key = "decoder_sparse_step";
    int rc = get_count(c, "first_k_dense_replace", 0, &k_dense, &found);
    if (!rc)
        rc = get_count(c, "moe_layer_freq", 1, &freq, &found);
    if (!rc)
        rc = get_count(c, "decoder_sparse_step", 1, &step, &found);
    if (!rc) {
        rc = get_count(c, "interleave_moe_layer_step", 1, &v, &found);
        if (!rc && found) {
            step = v;
            step_key = "interleave_moe_layer_step";
        }
    }
    if (rc)
        return rc;
    char d[64];
    snprintf(d, sizeof d, "%ld", layers);
    if (k_dense > layers)
        return field_err(c, "first_k_dense_replace", "more leading dense layers than "
                         "num_hidden_layers = %s", d);
    if (step > layers)
        return field_err(c, step_key, "a step above num_hidden_layers = %s leaves no MoE layer",
                         d);
    const json_t *dense_list, *moe_list;
    rc = check_layer_list(c, "mlp_only_layers", layers, &dense_list);
    if (!rc)
        rc = check_layer_list(c, "moe_layers", layers, &moe_list);
    if (rc)
        return rc;
    long n = 0;
    for (long i = 0; experts > 0 && i < layers; i++) {
        int moe;
        if (moe_list)
            moe = listed(moe_list, i);
        else
            moe = i >= k_dense && i % freq == 0 && (i + 1) % step == 0;
        if (dense_list && listed(dense_list, i))
            moe = 0;
        n += moe;
    }
    if (experts > 0 && n == 0)
        return field_err(c, moe_list ? "moe_layers" : dense_list ? "mlp_only_layers" : step_key,
                         "an MoE config whose layer rules leave no layer with experts%s", "");
    *moe_layers = n;
    return 0;
}

static int read_attention(const HfCtx *c, ModelShape *s)
{
    long v;
    int found, rc;
    if ((rc = need_count(c, "num_attention_heads", &s->heads)))
        return rc;
    if ((rc = get_count(c, "kv_lora_rank", 0, &v, &found)))
        return rc;
    if (found && v > 0) { /* MLA */
        s->kv_lora_rank = v;
        s->kv_heads = s->heads;
        if ((rc = get_count(c, "q_lora_rank", 0, &v, &found)))
            return rc;
        s->q_lora_rank = found ? v : 0;
        if ((rc = need_count(c, "qk_rope_head_dim", &s->rope_dim)) ||
            (rc = need_count(c, "qk_nope_head_dim", &s->qk_nope_dim)) ||
            (rc = need_count(c, "v_head_dim", &s->v_head_dim)))
            return rc;
        return 0;
    }
    s->kv_heads = s->heads;
    if ((rc = get_count(c, "num_key_value_heads", 1, &v, &found)))
        return rc;
    if (found) {
        char d[64];
        snprintf(d, sizeof d, "%ld", s->heads);
        if (v > s->heads || s->heads % v != 0)
            return field_err(c, "num_key_value_heads", "must divide num_attention_heads = %s",
                             d);
        s->kv_heads = v;
    }
    if ((rc = get_count(c, "head_dim", 1, &v, &found)))
        return rc;
    if (found) {
        s->head_dim = v;
    } else {
        if (s->d_model % s->heads != 0) {
            char d[96];
            snprintf(d, sizeof d, "hidden_size = %ld is not a multiple of num_attention_heads = "
                     "%ld", s->d_model, s->heads);
            return field_err(c, "head_dim", "absent, and %s", d);
        }
        s->head_dim = s->d_model / s->heads;
    }
    return 0;
}

static int read_ffn(const HfCtx *c, ModelShape *s, const char *model_type)
{
    long inter = 0, mlp = 0, moe_inter = 0, v;
    int has_inter, has_mlp, has_moe, found, rc;
    if ((rc = get_count(c, "intermediate_size", 1, &inter, &has_inter)) ||
        (rc = get_count(c, "intermediate_size_mlp", 1, &mlp, &has_mlp)) ||
        (rc = get_count(c, "moe_intermediate_size", 1, &moe_inter, &has_moe)) ||
        (rc = read_experts(c, &s->experts)))
        return rc;
    s->ffn = has_mlp ? mlp : inter;
    if (s->experts == 0) {
        if (!has_inter && !has_mlp)
            return field_err(c, "intermediate_size", "missing; a dense config needs it%s", "");
        return 0;
    }
    s->expert_ffn = has_moe ? moe_inter : inter;
    if (!has_moe && !has_inter)
        return field_err(c, "moe_intermediate_size", "missing, and no intermediate_size to "
                         "take the expert width from%s", "");
    if ((rc = get_count(c, "num_experts_per_tok", 1, &v, &found)))
        return rc;
    if (!found && (rc = get_count(c, "experts_per_token", 1, &v, &found)))
        return rc;
    if (!found)
        return field_err(c, "num_experts_per_tok", "missing; an MoE config needs its top-k%s",
                         "");
    if (v > s->experts) {
        char d[64];
        snprintf(d, sizeof d, "%ld", s->experts);
        return field_err(c, "num_experts_per_tok", "more than the %s routed experts", d);
    }
    s->experts_active = v;
    if ((rc = get_count(c, "n_shared_experts", 0, &v, &found)))
        return rc;
    s->shared_experts = found ? v : (strncmp(model_type, "llama4", 6) == 0 ? 1 : 0);
    long moe_layers = 0;
    if ((rc = count_moe_layers(c, s->layers, s->experts, &moe_layers)))
        return rc;
    s->dense_layers = s->layers - moe_layers;
    if (s->dense_layers > 0 && !has_inter && !has_mlp)
        return field_err(c, "intermediate_size", "missing; the dense layers of this MoE "
                         "config need it%s", "");
    return 0;
}

/* Sliding-window layers: layer_types when given, else every layer when a window is set and
 * use_sliding_window is not false. */
static int read_sliding(const HfCtx *c, HfModel *m)
{
    long w;
    int found, rc;
    if ((rc = get_count(c, "sliding_window", 1, &w, &found)) || !found)
        return rc;
    const json_t *use = get(c, "use_sliding_window");
    if (use && json_is_false(use))
        return 0;
    const json_t *types = get(c, "layer_types");
    long n = m->shape.layers;
    if (types) {
        if (!json_is_array(types))
            return field_err(c, "layer_types", "expected an array of strings%s", "");
        n = 0;
        size_t k;
        const json_t *v;
        json_array_foreach(types, k, v) {
            if (!json_is_string(v))
                return field_err(c, "layer_types", "expected an array of strings%s", "");
            n += strcmp(json_string_value(v), "sliding_attention") == 0;
        }
    }
    m->sliding_window_tokens = n > 0 ? w : 0;
    m->sliding_layers = n;
    return 0;
}

/* weight_bytes from torch_dtype and quantization_config (rules in hfconfig.h's header). */
static int read_precision(const HfCtx *c, HfModel *m, const ShapeParams *p)
{
    HfCtx root = *c;
    root.obj = c->root;
    root.prefix = "";
    int rc = get_string(c, c->obj, "torch_dtype", m->dtype, sizeof m->dtype);
    if (!rc && !m->dtype[0])
        rc = get_string(c, c->obj, "dtype", m->dtype, sizeof m->dtype);
    if (!rc && !m->dtype[0] && c->obj != c->root)
        rc = get_string(&root, c->root, "torch_dtype", m->dtype, sizeof m->dtype);
    if (rc)
        return rc;
    double base = hf_dtype_bytes(m->dtype[0] ? m->dtype : "bfloat16");
    m->weight_bytes = base;
    const json_t *q = json_object_get(c->root, "quantization_config");
    if (!q || json_is_null(q))
        q = get(c, "quantization_config");
    if (!q)
        return 0;
    if (!json_is_object(q))
        return field_err(&root, "quantization_config", "expected an object%s", "");
    HfCtx qc = root;
    qc.prefix = "quantization_config.";
    qc.obj = q;
    if ((rc = get_string(&qc, q, "quant_method", m->quant_method, sizeof m->quant_method)))
        return rc;
    long bits;
    int found;
    if ((rc = get_count(&qc, "bits", 1, &bits, &found)))
        return rc;
    if (strcmp(m->quant_method, "fp8") == 0) {
        m->weight_bytes = 1.0;
    } else if (strcmp(m->quant_method, "mxfp4") == 0) {
        /* MXFP4 quantises the routed experts only: 4-bit values plus one 8-bit scale per 32. */
        double experts = (double)m->moe_layers * (double)m->shape.experts * p->expert;
        m->weight_bytes = (experts * (4.25 / 8.0) + (p->total - experts) * base) / p->total;
    } else if (found && bits <= 16) {
        m->weight_bytes = (double)bits / 8.0;
    } else {
        m->weight_bytes = 0; /* a quantisation this reader does not know */
    }
    return 0;
}

static int fill(HfModel *m, HfCtx *c)
{
    ModelShape *s = &m->shape;
    int rc = get_string(c, c->obj, "model_type", m->model_type, sizeof m->model_type);
    if (!rc && !m->model_type[0] && c->obj != c->root)
        rc = get_string(c, c->root, "model_type", m->model_type, sizeof m->model_type);
    if (rc || (rc = need_count(c, "num_hidden_layers", &s->layers)) ||
        (rc = need_count(c, "hidden_size", &s->d_model)) ||
        (rc = need_count(c, "vocab_size", &s->vocab)) || (rc = read_attention(c, s)) ||
        (rc = read_ffn(c, s, m->model_type)) || (rc = read_sliding(c, m)))
        return rc;
    const json_t *tie = get(c, "tie_word_embeddings");
    if (tie && !json_is_boolean(tie))
        return field_err(c, "tie_word_embeddings", "expected true or false%s", "");
    m->tied_embeddings = tie && json_is_true(tie);
    TsErr shape_err;
    if (shape_check(s, &shape_err) != 0)
        return ts_err_set(c->err, TS_EINPUT, "%s: field %sshape: %s", c->path, c->prefix,
                          shape_err.msg);
    ShapeParams p;
    shape_params(s, &p);
    m->moe_layers = p.moe_layers;
    m->params_total = p.total - (m->tied_embeddings ? p.head : 0.0);
    m->params_active = p.active - (m->tied_embeddings ? p.head : 0.0);
    return read_precision(c, m, &p);
}

int hf_load_text(HfModel *m, const char *path, const char *text, size_t len, TsErr *err)
{
    memset(m, 0, sizeof *m);
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return ts_err_set(err, TS_EINPUT, "%s: line %d column %d: %s", path, jerr.line,
                          jerr.column, jerr.text);
    int rc;
    if (!json_is_object(root)) {
        rc = ts_err_set(err, TS_EINPUT, "%s: line 1 column 1: the top level must be an object "
                        "(a config.json)", path);
        json_decref(root);
        return rc;
    }
    HfCtx c = {.path = path, .obj = root, .root = root, .prefix = "", .err = err};
    const json_t *tc = json_object_get(root, "text_config");
    if (tc && json_is_object(tc) && !json_object_get(root, "num_hidden_layers")) {
        c.obj = tc;
        c.prefix = "text_config.";
    }
    rc = fill(m, &c);
    json_decref(root);
    if (rc)
        memset(m, 0, sizeof *m);
    return rc;
}

int hf_load_file(HfModel *m, const char *path, TsErr *err)
{
    memset(m, 0, sizeof *m);
    FILE *f = fopen(path, "rb");
    if (!f)
        return ts_err_set(err, TS_EIO, "cannot read %s", path);
    char *buf = malloc((size_t)HF_MAX_FILE_BYTES + 1);
    if (!buf) {
        fclose(f);
        return ts_err_set(err, TS_ENOMEM, "out of memory reading %s", path);
    }
    size_t n = fread(buf, 1, (size_t)HF_MAX_FILE_BYTES + 1, f);
    int rc;
    if (ferror(f))
        rc = ts_err_set(err, TS_EIO, "error reading %s", path);
    else if (n > (size_t)HF_MAX_FILE_BYTES)
        rc = ts_err_set(err, TS_EINPUT, "%s: larger than %ld bytes; not a config.json", path,
                        HF_MAX_FILE_BYTES);
    else
        rc = hf_load_text(m, path, buf, n, err);
    free(buf);
    fclose(f);
    return rc;
}
