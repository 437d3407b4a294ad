/* llama2c: llama2.c's legacy float32 checkpoint format (.bin), so that a model trained with
 * llama2.c (stories15M, stories110M) loads as a dense EngineConfig plus Weights.
 * The file is a header of 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
 * vocab_size, seq_len; vocab_size < 0 means an unshared classifier), then float32 tensors in
 * the Weights order, with two unused RoPE tables (seq_len, head_size / 2) each between
 * rms_final and wcls. Native byte order (little-endian), as llama2.c writes it. */
#ifndef TS_MODELS_LLAMA2C_H
#define TS_MODELS_LLAMA2C_H

#include "models/engine/config.h"
#include "models/tserr.h"
#include "models/engine/weights.h"

/* Bytes of the header: 7 int32. */
#define L2C_HEADER_BYTES 28

/* Loads the checkpoint at path: fills cfg (named after the file without directory and
 * extension; rope_theta 10000, norm_eps 1e-5) and allocates w (free with wt_fini). The header
 * and the file size are checked before anything is allocated, and NaN or infinite weights are
 * refused. TS_EIO when the file cannot be opened or read, TS_EINPUT "PATH: message" for a bad
 * file, TS_ENOMEM; on error w is zeroed. */
int l2c_load(const char *path, EngineConfig *cfg, Weights *w, TsErr *err);

/* Writes cfg and w (w laid out for cfg) to path as llama2.c would, the RoPE tables included.
 * Only dense models with heads × head_dim == d_model, rope_theta 10000 and norm_eps 1e-5 fit
 * the format: TS_EINPUT otherwise. TS_EIO when writing fails (the partial file is removed). */
int l2c_save(const char *path, const EngineConfig *cfg, const Weights *w, TsErr *err);

#endif
