/* modelfile: tokensim's own model file (.tsm), version 1: a fixed little-endian header that
 * states the config, the seed and the size of every tensor, then the float32 weights in the
 * wt_* order of weights.h, 64-byte aligned, so a load is an mmap plus validation.
 *
 * Layout (byte offsets; integers and floats little-endian):
 *     0  magic "TSMODEL\0"                     8 bytes
 *     8  version (1)                           uint32
 *    12  header_bytes (384 in version 1)       uint32: offset of the data
 *    16  name, NUL-padded                      48 bytes (CFG_NAME_MAX)
 *    64  shape                                 12 x int64, in MfShapeField order below
 *   160  max_seq                               int32
 *   164  rope_theta                            float32
 *   168  norm_eps                              float32
 *   172  shared_classifier (0 or 1)            int32
 *   176  seed (0 when not seeded)              uint64
 *   184  n_floats                              uint64: floats in the data
 *   192  tensor table                          WT_COUNT (16) x uint64: floats of each tensor,
 *                                              equal to wt_tensor_floats (0 for absent ones)
 *   320  checksum                              uint64: FNV-1a 64 of the data bytes
 *   328  zero padding up to header_bytes
 *   384  data                                  n_floats x float32, tensors in wt_* order
 * The file is exactly header_bytes + 4 x n_floats bytes. MLA shape fields are not stored: the
 * engine runs GQA/MHA only, so they are 0 in every saved and loaded config. Only the data is
 * checksummed; the header is validated field by field instead. */
#ifndef TS_MODELS_MODELFILE_H
#define TS_MODELS_MODELFILE_H

#include <stddef.h>
#include <stdint.h>

#include "models/engine/config.h"
#include "models/tserr.h"
#include "models/engine/weights.h"

#define MF_MAGIC "TSMODEL" /* plus its NUL: 8 bytes */
#define MF_VERSION 1u
#define MF_TENSORS 16 /* entries in the tensor table (WT_COUNT when version 1 was defined) */

/* Byte offsets of the version 1 header (see the layout above). */
enum {
    MF_OFF_MAGIC = 0,
    MF_OFF_VERSION = 8,
    MF_OFF_HEADER_BYTES = 12,
    MF_OFF_NAME = 16,
    MF_OFF_SHAPE = 64,
    MF_OFF_MAX_SEQ = 160,
    MF_OFF_ROPE_THETA = 164,
    MF_OFF_NORM_EPS = 168,
    MF_OFF_SHARED_CLASSIFIER = 172,
    MF_OFF_SEED = 176,
    MF_OFF_N_FLOATS = 184,
    MF_OFF_TABLE = 192,
    MF_OFF_CHECKSUM = 320,
    MF_OFF_PADDING = 328,
    MF_HEADER_BYTES = 384
};

/* The int64 shape fields at MF_OFF_SHAPE + 8 x field, in this order. */
typedef enum {
    MF_LAYERS,
    MF_D_MODEL,
    MF_HEADS,
    MF_KV_HEADS,
    MF_HEAD_DIM,
    MF_FFN,
    MF_EXPERTS,
    MF_EXPERTS_ACTIVE,
    MF_SHARED_EXPERTS,
    MF_EXPERT_FFN,
    MF_DENSE_LAYERS,
    MF_VOCAB,
    MF_SHAPE_FIELDS
} MfShapeField;

/* A loaded file's read-only mapping. Weights attached to it are borrowed from it and valid
 * until mf_unmap; writing through them faults (PROT_READ). */
typedef struct {
    void *base;    /* start of the mapping, NULL when nothing is mapped */
    size_t bytes;  /* length of the mapping */
    uint64_t seed; /* the seed stored in the file (0 when the weights were not seeded) */
} MfMapping;

/* FNV-1a 64 of bytes, continuing from h (start with MF_FNV_OFFSET): the file's checksum. */
#define MF_FNV_OFFSET 0xcbf29ce484222325ull
uint64_t mf_checksum(uint64_t h, const void *bytes, size_t n);

/* Writes c and w to path (seed 0 when w was not seeded), through path.tmp renamed over path,
 * so path holds either its old contents or the whole new file. TS_EINPUT when c fails
 * cfg_check, has MLA fields or w holds a non-finite weight (naming the tensor); TS_EIO naming
 * the file on any write failure (path.tmp is removed). */
int mf_save(const char *path, const EngineConfig *c, const Weights *w, uint64_t seed, TsErr *err);

/* Maps path read-only, validates the whole header, the file size, the data checksum and that
 * every weight is finite, then fills c and attaches w to the mapping (borrowed: wt_fini does
 * not free it; call mf_unmap after the last use of w). TS_EIO when the file cannot be opened,
 * read or mapped; TS_EINPUT "PATH: message" for bad content. On error w and map are zeroed. */
int mf_load(const char *path, EngineConfig *c, Weights *w, MfMapping *map, TsErr *err);

/* Reads and validates only the header of path (and that the file size matches it) and fills
 * c: for listing models without reading their weights. Errors as mf_load. */
int mf_peek(const char *path, EngineConfig *c, TsErr *err);

/* Releases a mapping filled by mf_load and zeroes it; map may be NULL or zeroed. */
void mf_unmap(MfMapping *map);

#endif
