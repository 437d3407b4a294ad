/* kv: a paged KV cache's block accounting for one replica: a pool of fixed-size blocks with
 * reference counts, and an optional prefix cache that keeps freed full blocks under a content key
 * and evicts the least recently freed first (LRU), as vLLM's automatic prefix caching does. It
 * holds no KV data and knows nothing of sequences or time: the scheduler decides what to ask. */
#ifndef TS_SIM_SERVE_KV_H
#define TS_SIM_SERVE_KV_H

#include <stdint.h>

#include "models/tserr.h"

#define KV_MAX_BLOCKS (1 << 28)

/* Content keys name what a full block holds: the block'th block of a shared prefix or of a
 * session's context. Key 0 is "no content key". */
enum { KV_KEY_PREFIX = 1, KV_KEY_SESSION = 2 };

typedef struct {
    int32_t n_blocks;
    int32_t n_used;       /* blocks with a reference */
    int32_t n_free;       /* unreferenced blocks without a key (the free stack) */
    int32_t n_lru;        /* unreferenced blocks with a key (evictable, reusable on a hit) */
    int prefix_cache;     /* 0: kv_register does nothing, lookups always miss */
    int32_t *ref;         /* (n_blocks) reference counts */
    uint64_t *key;        /* (n_blocks) content key, 0 = none */
    int32_t *prev, *next; /* (n_blocks) LRU links, -1 at the ends */
    int32_t *stack;       /* (n_blocks) free blocks, n_free of them */
    int32_t lru_head, lru_tail;
    uint64_t *hkeys; /* (hcap) open-addressing table: key -> block, 0 = empty slot */
    int32_t *hvals;  /* (hcap) */
    uint32_t hmask;  /* hcap - 1 */
    long evictions;  /* cached blocks reused for other content */
} KvPool;

/* The key of block `block` (0-based) of content `id` of a kind (KV_KEY_*): kinds, ids up to
 * 2^40 - 1 and blocks up to 2^22 - 1 pack into 64 bits without collision. */
uint64_t kv_key(int kind, int64_t id, int32_t block);

/* Caller-owned pool of n_blocks (1 .. KV_MAX_BLOCKS), all free. TS_EINPUT for a bad count,
 * TS_ENOMEM. kv_fini frees (p may hold zeros). */
int kv_init(KvPool *p, int32_t n_blocks, int prefix_cache, TsErr *err);
void kv_fini(KvPool *p);

/* Blocks an allocation can take now: free ones plus evictable cached ones. */
static inline int32_t kv_available(const KvPool *p)
{
    return p->n_free + p->n_lru;
}

/* A block with one reference: a free one first, else the least recently freed cached one
 * (its key forgotten). -1 when none is available. */
int32_t kv_alloc(KvPool *p);

/* Drops one reference of block b; at zero a keyed block becomes the most recent evictable one,
 * an unkeyed block goes back to the free stack. */
void kv_release(KvPool *p, int32_t b);

/* The cached block holding `key`, with one more reference (taken off the LRU list when it had
 * none), or -1 when no block holds it (always -1 without a prefix cache). */
int32_t kv_lookup(KvPool *p, uint64_t key);

/* Records that referenced block b, now full, holds `key`, so later lookups find it. Does nothing
 * without a prefix cache, when b has a key already, or when another block holds the key. */
void kv_register(KvPool *p, int32_t b, uint64_t key);

#endif
