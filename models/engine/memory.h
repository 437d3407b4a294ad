/* memory: aligned allocation for large engine buffers. Blocks of 2 MiB or more are 2 MiB
 * aligned and advised onto transparent huge pages: streaming hundreds of MB through 4 KiB pages
 * costs a TLB miss every 4 KiB and a page fault per page on first touch. Free with free(). */
#ifndef TS_MODELS_MEMORY_H
#define TS_MODELS_MEMORY_H

#include <stddef.h>

#define MEM_HUGE_BYTES ((size_t)2 << 20)

/* bytes rounded up to the alignment (64 bytes, or 2 MiB for large blocks); NULL when that
 * overflows or memory runs out. The contents are undefined. */
void *mem_alloc(size_t bytes);

/* mem_alloc, then zero-filled. */
void *mem_zalloc(size_t bytes);

#endif
