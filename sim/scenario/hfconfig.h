/* hfconfig: reads a Hugging Face config.json (a transformers model configuration) and derives
 * the cost-deciding shape of the model it describes: a ModelShape (models/engine/shape.h) plus
 * what that struct has no field for (tied embeddings, bytes per weight, sliding-window layers).
 * It does not read weights, tokenizers or generation configs, and it prints nothing.
 *
 * JSON is parsed with jansson (Debian libjansson-dev). Of the three Debian libraries it is the
 * one whose parse errors carry a line and a column (json_error_t), which the error contract
 * below needs; it also rejects duplicate keys on request and tells integers from reals, so
 * `"hidden_size": 4096.5` is refused instead of truncated. cJSON gives only a pointer into the
 * text and json-c only a byte offset.
 *
 * Fields read (`text_config.` is prefixed when the root is a multimodal wrapper whose text
 * model sits in a `text_config` object, as Llama 4 and Gemma 3 do):
 *   num_hidden_layers -> layers            hidden_size -> d_model
 *   num_attention_heads -> heads           num_key_value_heads -> kv_heads (default heads)
 *   head_dim -> head_dim (default hidden_size / num_attention_heads, which must divide)
 *   intermediate_size_mlp, else intermediate_size -> ffn (the dense FFN)
 *   moe_intermediate_size, else intermediate_size -> expert_ffn (Mixtral, GPT-OSS, Llama 4
 *     use intermediate_size for the experts)
 *   num_local_experts | num_experts | n_routed_experts -> experts (they must agree)
 *   num_experts_per_tok | experts_per_token -> experts_active
 *   n_shared_experts -> shared_experts (default 0; 1 for model_type llama4*, whose MoE layers
 *     always add one shared expert that the config does not list)
 *   first_k_dense_replace, moe_layer_freq (DeepSeek), decoder_sparse_step, mlp_only_layers
 *     (Qwen MoE), interleave_moe_layer_step, moe_layers (Llama 4) -> dense_layers, the count
 *     of layers without experts (where they sit does not change cost)
 *   kv_lora_rank, q_lora_rank, qk_rope_head_dim, qk_nope_head_dim, v_head_dim -> MLA
 *   vocab_size -> vocab;  tie_word_embeddings -> tied_embeddings (default false)
 *   torch_dtype (or dtype), quantization_config.{quant_method, bits} -> weight_bytes
 *   sliding_window, layer_types, use_sliding_window -> sliding_window_tokens, sliding_layers
 * A JSON null counts as absent. Every other key is ignored.
 *
 * Errors (TS_EINPUT; TS_EIO when the file cannot be read, TS_ENOMEM):
 *   "FILE: line L column C: message"  malformed JSON (jansson's message), duplicate keys, a
 *                                     top level that is not an object
 *   "FILE: field X: message"          a missing field, a wrong type (a string where a count
 *                                     belongs, a real where an integer belongs), a value out
 *                                     of range, or an impossible combination (head_dim absent
 *                                     and hidden_size not a multiple of the heads, kv heads
 *                                     that do not divide the heads, top-k above the experts,
 *                                     more dense layers than layers, MLA without its dims)
 * Ownership: HfModel is a plain caller-owned struct with no pointers; nothing to free. */
#ifndef TS_SIM_SCENARIO_HFCONFIG_H
#define TS_SIM_SCENARIO_HFCONFIG_H

#include <stddef.h>

#include "models/engine/shape.h"
#include "models/tserr.h"

/* Largest config.json accepted (real ones are a few KiB; some carry long layer lists). */
#define HF_MAX_FILE_BYTES (4L * 1024 * 1024)

typedef struct {
    ModelShape shape;            /* passes shape_check */
    int tied_embeddings;         /* 1: the output head is the embedding matrix (counted once) */
    double weight_bytes;         /* bytes per weight of the checkpoint as released; 0 = unknown
                                    (an unknown dtype or quantisation: let the scenario set it) */
    double params_total;         /* shape_params total, the head not counted again when tied */
    double params_active;        /* shape_params active (embedding and head included), same rule */
    long moe_layers;             /* layers with experts (= layers - shape.dense_layers) */
    long sliding_window_tokens;  /* the window of sliding-window layers, 0 when none */
    long sliding_layers;         /* layers that attend over the window only, 0 when none */
    char model_type[48];         /* model_type as written ("llama", "deepseek_v3"), "" if absent */
    char dtype[24];              /* torch_dtype (or dtype) as written, "" when absent */
    char quant_method[24];       /* quantization_config.quant_method, "" when unquantised */
} HfModel;

/* Reads the config.json at path into m. On failure m is zeroed and err holds
 * "PATH: line L column C: ..." or "PATH: field X: ..." (TS_EINPUT), or TS_EIO / TS_ENOMEM. */
int hf_load_file(HfModel *m, const char *path, TsErr *err);

/* Same, from len bytes of text in memory (need not be NUL-terminated); path names it in
 * messages only. */
int hf_load_text(HfModel *m, const char *path, const char *text, size_t len, TsErr *err);

/* Bytes per weight of a dtype name as transformers writes it ("bfloat16" 2, "float32" 4,
 * "float8_e4m3fn" 1, ...); 0 when the name is not known. */
double hf_dtype_bytes(const char *dtype);

#endif
