/* config: the engine's built-in presets and its limits. The MoE presets keep everything but
 * the FFN of their dense twin (attention, embedding, layers, vocab), so that a dense/MoE pair
 * differs only in what the contract's question is about: how many FFN parameters a token
 * touches (moe-*-active: the same as dense) against how many exist (moe-*-total: the same). */
#include "models/engine/config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

typedef struct {
    const char *name;
    const char *note;
    int dim, layers, heads, ffn, vocab, seq;
    int experts, top_k, expert_ffn;
} Preset;

/* 8 experts, top-2, no shared experts, every layer MoE. Same active parameters: 2 experts of
 * ffn/2 touch as many FFN weights per token as the dense FFN. Same total parameters: 8 experts
 * of ffn/8 hold as many FFN weights as the dense FFN (plus a tiny router). */
static const Preset PRESETS[] = {
    {"dense-15m", "llama2.c stories15M shape: dim 288, 6 layers, 6 heads, hidden 768",
     288, 6, 6, 768, 32000, 256, 0, 0, 0},
    {"moe-15m-active", "dense-15m with 8 experts of 384, top-2: same active FFN parameters",
     288, 6, 6, 0, 32000, 256, 8, 2, 384},
    {"moe-15m-total", "dense-15m with 8 experts of 96, top-2: same total FFN parameters",
     288, 6, 6, 0, 32000, 256, 8, 2, 96},
    {"dense-110m", "llama2.c stories110M shape: dim 768, 12 layers, 12 heads, hidden 2048",
     768, 12, 12, 2048, 32000, 1024, 0, 0, 0},
    {"moe-110m-active", "dense-110m with 8 experts of 1024, top-2: same active FFN parameters",
     768, 12, 12, 0, 32000, 1024, 8, 2, 1024},
    {"moe-110m-total", "dense-110m with 8 experts of 256, top-2: same total FFN parameters",
     768, 12, 12, 0, 32000, 1024, 8, 2, 256},
};

#define N_PRESETS ((int)(sizeof PRESETS / sizeof PRESETS[0]))

int cfg_preset_count(void)
{
    return N_PRESETS;
}

const char *cfg_preset_name(int i)
{
    return PRESETS[i].name;
}

const char *cfg_preset_note(int i)
{
    return PRESETS[i].note;
}

int cfg_preset(const char *name, EngineConfig *out, TsErr *err)
{
    for (int i = 0; i < N_PRESETS; i++) {
        const Preset *p = &PRESETS[i];
        if (strcasecmp(name, p->name) != 0)
            continue;
        memset(out, 0, sizeof *out);
        snprintf(out->name, sizeof out->name, "%s", p->name);
        ModelShape *s = &out->shape;
        s->layers = p->layers;
        s->d_model = p->dim;
        s->heads = p->heads;
        s->kv_heads = p->heads;
        s->head_dim = p->dim / p->heads;
        s->ffn = p->ffn;
        s->experts = p->experts;
        s->experts_active = p->top_k;
        s->expert_ffn = p->expert_ffn;
        s->vocab = p->vocab;
        out->max_seq = p->seq;
        out->rope_theta = 10000.0f;
        out->norm_eps = 1e-5f;
        out->shared_classifier = 1;
        return 0;
    }
    char names[512] = "";
    for (int i = 0; i < N_PRESETS; i++) {
        size_t n = strlen(names);
        snprintf(names + n, sizeof names - n, "%s%s", i ? ", " : "", PRESETS[i].name);
    }
    return ts_err_set(err, TS_EINPUT, "unknown model preset '%s' (presets: %s)", name, names);
}

int cfg_check(const EngineConfig *c, TsErr *err)
{
    const ModelShape *s = &c->shape;
    TsErr e;
    ts_err_clear(&e);
    if (shape_check(s, &e))
        return ts_err_set(err, TS_EINPUT, "model '%s': %s", c->name, e.msg);
    if (s->kv_lora_rank > 0)
        return ts_err_set(err, TS_EINPUT, "model '%s': the engine does not run MLA attention",
                          c->name);
    if (s->d_model > CFG_MAX_DIM || s->ffn > 4 * CFG_MAX_DIM || s->expert_ffn > 4 * CFG_MAX_DIM ||
        s->heads * s->head_dim > CFG_MAX_DIM)
        return ts_err_set(err, TS_EINPUT, "model '%s': dimensions above the engine's limit %d",
                          c->name, CFG_MAX_DIM);
    if (s->layers > CFG_MAX_LAYERS || s->vocab > CFG_MAX_VOCAB || s->experts > CFG_MAX_EXPERTS)
        return ts_err_set(err, TS_EINPUT,
                          "model '%s': at most %d layers, %d vocabulary entries, %d experts",
                          c->name, CFG_MAX_LAYERS, CFG_MAX_VOCAB, CFG_MAX_EXPERTS);
    if (s->head_dim % 2 != 0)
        return ts_err_set(err, TS_EINPUT, "model '%s': head_dim %ld must be even for RoPE",
                          c->name, s->head_dim);
    if (s->heads % s->kv_heads != 0)
        return ts_err_set(err, TS_EINPUT, "model '%s': heads %ld is not a multiple of kv_heads %ld",
                          c->name, s->heads, s->kv_heads);
    if (c->max_seq < 1 || c->max_seq > CFG_MAX_SEQ)
        return ts_err_set(err, TS_EINPUT, "model '%s': max_seq must be in [1, %d], got %d",
                          c->name, CFG_MAX_SEQ, c->max_seq);
    if (!(c->rope_theta > 0) || !(c->norm_eps > 0))
        return ts_err_set(err, TS_EINPUT, "model '%s': rope_theta and norm_eps must be > 0",
                          c->name);
    if (cfg_param_count(c) > CFG_MAX_PARAMS)
        return ts_err_set(err, TS_EINPUT, "model '%s': %.3g parameters, above the limit %.0e",
                          c->name, cfg_param_count(c), CFG_MAX_PARAMS);
    return 0;
}

double cfg_param_count(const EngineConfig *c)
{
    ShapeParams p;
    shape_params(&c->shape, &p);
    return c->shared_classifier ? p.total - p.head : p.total;
}
