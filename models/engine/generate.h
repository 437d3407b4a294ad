/* generate: text generation with the engine, following llama2.c's run loop: the prompt is
 * encoded with BOS, forced token by token up to the last prompt position (here prefilled in one
 * step), then tokens are sampled (greedy at temperature 0, else softmax with top-p from a
 * seeded generator) until `steps` positions or a BOS. Each piece goes to a callback, so the
 * caller prints. */
#ifndef TS_MODELS_GENERATE_H
#define TS_MODELS_GENERATE_H

#include <stdint.h>

#include "models/engine/config.h"
#include "models/engine/quant.h"
#include "models/formats/tokenizer.h"
#include "models/tserr.h"
#include "models/engine/weights.h"

typedef struct {
    const char *prompt; /* may be empty */
    int steps;          /* positions in all, prompt included; 0 or > max_seq: max_seq */
    float temperature;  /* 0: greedy (argmax, the first of equal maxima) */
    float top_p;        /* nucleus sampling threshold in (0, 1]; 1: plain sampling */
    uint64_t seed;      /* for temperature > 0 */
    int threads;
    Precision prec;     /* weights: fp32 (0, the default), bf16 or int8 */
    Precision kv;       /* KV cache: fp32 (default) or bf16 */
} GenOptions;

typedef struct {
    int prompt_tokens;
    int generated;        /* tokens sampled after the prompt */
    double seconds;       /* from the first sampled token on, as llama2.c times it */
} GenStats;

/* Emits each piece (as llama2.c's safe_printf would print it: single unprintable bytes are
 * skipped). */
typedef void (*GenEmit)(void *ctx, const char *piece);

int gen_run(const EngineConfig *c, const Weights *w, const Tokenizer *tok, const GenOptions *o,
            GenEmit emit, void *emit_ctx, GenStats *stats, TsErr *err);

#endif
