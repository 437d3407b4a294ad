/* weights: a model's parameters as one float32 block carved into tensors, in a fixed order
 * (the llama2.c order, with MoE tensors in place of the dense FFN): deterministic seeded
 * initialisation, and the layout both the engine and the file formats use. It does not read or
 * write files (models/formats/modelfile.c, models/formats/llama2c.c do) and does not run the model. */
#ifndef TS_MODELS_WEIGHTS_H
#define TS_MODELS_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "models/engine/config.h"
#include "models/tserr.h"

/* Matrices are row-major (rows = outputs, columns = inputs), as llama2.c stores them.
 * L = layers, Ld = dense FFN layers (all layers of a dense model, the first dense_layers of an
 * MoE), Lm = MoE layers, E = experts, S = shared experts, D = d_model, Q = heads × head_dim,
 * KV = kv_heads × head_dim, F = ffn, G = expert_ffn, V = vocab. */
typedef struct {
    float *token_embedding; /* (V, D) */
    float *rms_att;         /* (L, D) */
    float *wq;              /* (L, Q, D) */
    float *wk;              /* (L, KV, D) */
    float *wv;              /* (L, KV, D) */
    float *wo;              /* (L, D, Q) */
    float *rms_ffn;         /* (L, D) */
    float *w1;              /* (Ld, F, D) gate */
    float *w2;              /* (Ld, D, F) down */
    float *w3;              /* (Ld, F, D) up */
    float *router;          /* (Lm, E, D) */
    float *ew1;             /* (Lm, E + S, G, D): routed experts first, then shared ones */
    float *ew2;             /* (Lm, E + S, D, G) */
    float *ew3;             /* (Lm, E + S, G, D) */
    float *rms_final;       /* (D) */
    float *wcls;            /* (V, D); == token_embedding when the classifier is shared */
    float *data;            /* the block all tensors point into (owned unless borrowed) */
    size_t n_floats;        /* floats in data */
    int borrowed;           /* data belongs to someone else (an mmap, a caller) */
} Weights;

/* The tensors of a config in storage order, for file formats and checksums. */
typedef enum {
    WT_TOKEN_EMBEDDING, WT_RMS_ATT, WT_WQ, WT_WK, WT_WV, WT_WO, WT_RMS_FFN, WT_W1, WT_W2,
    WT_W3, WT_ROUTER, WT_EW1, WT_EW2, WT_EW3, WT_RMS_FINAL, WT_WCLS, WT_COUNT
} WeightTensor;

/* Number of floats of tensor t for config c (0 for absent ones: the dense FFN of an all-MoE
 * model, wcls when shared). */
size_t wt_tensor_floats(const EngineConfig *c, WeightTensor t);

/* The tensor's name as the files use it ("wq", "ew1", ...). */
const char *wt_tensor_name(WeightTensor t);

/* Floats of the whole block for c. */
size_t wt_total_floats(const EngineConfig *c);

/* Allocates a block for c (64-byte aligned) and points the tensors into it. TS_ENOMEM when
 * allocation fails. Contents are undefined until init or load. */
int wt_alloc(Weights *w, const EngineConfig *c, TsErr *err);

/* Points the tensors of w into data (borrowed: wt_fini will not free it). data must hold
 * wt_total_floats(c) floats. */
void wt_attach(Weights *w, const EngineConfig *c, float *data);

/* Fills w deterministically from seed: matrices uniform with variance 1/fan_in, the embedding
 * uniform with standard deviation 0.5, norm weights 1. The same (c, seed) gives the same bits
 * on every machine and thread count. */
void wt_init_seeded(Weights *w, const EngineConfig *c, uint64_t seed);

/* Frees an owned block; w may be NULL or zeroed. */
void wt_fini(Weights *w);

/* Pointer to tensor t in w. */
float *wt_tensor(const Weights *w, WeightTensor t);

#endif
