/* memory: aligned_alloc plus madvise(MADV_HUGEPAGE) for large blocks. The advice may be
 * refused (transparent huge pages off); that only costs speed. */
#include "models/engine/memory.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

void *mem_alloc(size_t bytes)
{
    size_t align = bytes >= MEM_HUGE_BYTES ? MEM_HUGE_BYTES : 64;
    if (bytes == 0)
        bytes = 1;
    if (bytes > SIZE_MAX - align)
        return NULL;
    size_t size = (bytes + align - 1) / align * align; /* C11: a multiple of the alignment */
    void *p = aligned_alloc(align, size);
#ifdef MADV_HUGEPAGE
    if (p && align == MEM_HUGE_BYTES)
        (void)madvise(p, size, MADV_HUGEPAGE);
#endif
    return p;
}

void *mem_zalloc(size_t bytes)
{
    void *p = mem_alloc(bytes);
    if (p)
        memset(p, 0, bytes ? bytes : 1);
    return p;
}
