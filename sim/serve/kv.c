/* kv: block pool with reference counts, a free stack, an LRU list of unreferenced cached blocks
 * and an open-addressing hash (linear probing, backward-shift deletion) from content key to
 * block. Every operation is O(1) expected; nothing here allocates after kv_init. */
#include "sim/serve/kv.h"

#include <stdlib.h>
#include <string.h>

uint64_t kv_key(int kind, int64_t id, int32_t block)
{
    return ((uint64_t)(kind & 3) << 62) | (((uint64_t)id & ((1ULL << 40) - 1)) << 22) |
           ((uint64_t)block & ((1ULL << 22) - 1));
}

static uint32_t hash_slot(const KvPool *p, uint64_t k)
{
    k ^= k >> 31;
    k *= 0x7fb5d329728ea185ULL;
    k ^= k >> 27;
    k *= 0x81dadef4bc2dd44dULL;
    k ^= k >> 33;
    return (uint32_t)k & p->hmask;
}

int kv_init(KvPool *p, int32_t n_blocks, int prefix_cache, TsErr *err)
{
    memset(p, 0, sizeof *p);
    p->lru_head = p->lru_tail = -1;
    if (n_blocks < 1 || n_blocks > KV_MAX_BLOCKS)
        return ts_err_set(err, TS_EINPUT, "KV cache of %ld blocks: expected 1 to %d",
                          (long)n_blocks, KV_MAX_BLOCKS);
    uint32_t hcap = 16;
    while (hcap < 2u * (uint32_t)n_blocks)
        hcap *= 2;
    size_t n = (size_t)n_blocks;
    p->ref = calloc(n, sizeof *p->ref);
    p->key = calloc(n, sizeof *p->key);
    p->prev = malloc(n * sizeof *p->prev);
    p->next = malloc(n * sizeof *p->next);
    p->stack = malloc(n * sizeof *p->stack);
    if (prefix_cache) {
        p->hkeys = calloc(hcap, sizeof *p->hkeys);
        p->hvals = malloc(hcap * sizeof *p->hvals);
    }
    if (!p->ref || !p->key || !p->prev || !p->next || !p->stack ||
        (prefix_cache && (!p->hkeys || !p->hvals))) {
        kv_fini(p);
        return ts_err_set(err, TS_ENOMEM, "out of memory for a KV cache of %ld blocks",
                          (long)n_blocks);
    }
    p->n_blocks = n_blocks;
    p->prefix_cache = prefix_cache;
    p->hmask = hcap - 1;
    /* block 0 on top of the stack: allocation order is 0, 1, 2, ... */
    for (int32_t i = 0; i < n_blocks; i++)
        p->stack[i] = n_blocks - 1 - i;
    p->n_free = n_blocks;
    return 0;
}

void kv_fini(KvPool *p)
{
    if (!p)
        return;
    free(p->ref);
    free(p->key);
    free(p->prev);
    free(p->next);
    free(p->stack);
    free(p->hkeys);
    free(p->hvals);
    memset(p, 0, sizeof *p);
    p->lru_head = p->lru_tail = -1;
}

static void lru_unlink(KvPool *p, int32_t b)
{
    if (p->prev[b] >= 0)
        p->next[p->prev[b]] = p->next[b];
    else
        p->lru_head = p->next[b];
    if (p->next[b] >= 0)
        p->prev[p->next[b]] = p->prev[b];
    else
        p->lru_tail = p->prev[b];
    p->n_lru--;
}

static void lru_append(KvPool *p, int32_t b)
{
    p->prev[b] = p->lru_tail;
    p->next[b] = -1;
    if (p->lru_tail >= 0)
        p->next[p->lru_tail] = b;
    else
        p->lru_head = b;
    p->lru_tail = b;
    p->n_lru++;
}

static int32_t hash_find(const KvPool *p, uint64_t k)
{
    for (uint32_t i = hash_slot(p, k);; i = (i + 1) & p->hmask) {
        if (p->hkeys[i] == k)
            return p->hvals[i];
        if (p->hkeys[i] == 0)
            return -1;
    }
}

static void hash_put(KvPool *p, uint64_t k, int32_t b)
{
    uint32_t i = hash_slot(p, k);
    while (p->hkeys[i] != 0)
        i = (i + 1) & p->hmask;
    p->hkeys[i] = k;
    p->hvals[i] = b;
}

/* Backward-shift deletion keeps every probe chain unbroken without tombstones. */
static void hash_del(KvPool *p, uint64_t k)
{
    uint32_t i = hash_slot(p, k);
    while (p->hkeys[i] != k) {
        if (p->hkeys[i] == 0)
            return;
        i = (i + 1) & p->hmask;
    }
    for (uint32_t j = (i + 1) & p->hmask; p->hkeys[j] != 0; j = (j + 1) & p->hmask) {
        uint32_t home = hash_slot(p, p->hkeys[j]);
        /* move j into the hole at i when its home is not in (i, j] (cyclically) */
        int in_range = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            p->hkeys[i] = p->hkeys[j];
            p->hvals[i] = p->hvals[j];
            i = j;
        }
    }
    p->hkeys[i] = 0;
}

int32_t kv_alloc(KvPool *p)
{
    int32_t b;
    if (p->n_free > 0) {
        b = p->stack[--p->n_free];
    } else if (p->n_lru > 0) {
        b = p->lru_head;
        lru_unlink(p, b);
        hash_del(p, p->key[b]);
        p->key[b] = 0;
        p->evictions++;
    } else {
        return -1;
    }
    p->ref[b] = 1;
    p->n_used++;
    return b;
}

void kv_release(KvPool *p, int32_t b)
{
    if (--p->ref[b] > 0)
        return;
    p->n_used--;
    if (p->key[b] != 0)
        lru_append(p, b);
    else
        p->stack[p->n_free++] = b;
}

int32_t kv_lookup(KvPool *p, uint64_t key)
{
    if (!p->prefix_cache)
        return -1;
    int32_t b = hash_find(p, key);
    if (b < 0)
        return -1;
    if (p->ref[b]++ == 0) {
        lru_unlink(p, b);
        p->n_used++;
    }
    return b;
}

void kv_register(KvPool *p, int32_t b, uint64_t key)
{
    if (!p->prefix_cache || p->key[b] != 0 || hash_find(p, key) >= 0)
        return;
    hash_put(p, key, b);
    p->key[b] = key;
}
