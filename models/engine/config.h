/* config: the shape of a model the engine runs (a ModelShape plus context length, RoPE base,
 * norm epsilon and whether the output head shares the embedding), the built-in presets, and
 * the engine's limits. It allocates nothing and runs nothing. */
#ifndef TS_MODELS_CONFIG_H
#define TS_MODELS_CONFIG_H

#include "models/engine/shape.h"
#include "models/tserr.h"

#define CFG_NAME_MAX 48

typedef struct {
    char name[CFG_NAME_MAX];
    ModelShape shape;       /* kv_lora_rank must be 0: the engine runs GQA/MHA only */
    int max_seq;            /* longest sequence (positions) the KV cache holds */
    float rope_theta;       /* RoPE base, 10000 as in llama2.c */
    float norm_eps;         /* RMSNorm epsilon, 1e-5 as in llama2.c */
    int shared_classifier;  /* the output head is the token embedding (llama2.c convention) */
} EngineConfig;

/* Engine limits: anything larger is refused before allocating. */
#define CFG_MAX_DIM 16384
#define CFG_MAX_LAYERS 256
#define CFG_MAX_VOCAB 1048576
#define CFG_MAX_SEQ 65536
#define CFG_MAX_EXPERTS 256
#define CFG_MAX_PARAMS 4e9

/* Number of built-in presets, and the name of preset i. */
int cfg_preset_count(void);
const char *cfg_preset_name(int i);

/* A one-line description of preset i (why it exists). */
const char *cfg_preset_note(int i);

/* Fills out with the preset called name (case-insensitive). TS_EINPUT naming the presets when
 * there is none. */
int cfg_preset(const char *name, EngineConfig *out, TsErr *err);

/* Checks that the engine can run c: a valid shape (shape_check), no MLA, head_dim even (RoPE
 * rotates pairs), heads a multiple of kv_heads, sizes within the CFG_MAX_* limits. */
int cfg_check(const EngineConfig *c, TsErr *err);

/* Parameters the engine stores (the head counted once when shared). */
double cfg_param_count(const EngineConfig *c);

#endif
