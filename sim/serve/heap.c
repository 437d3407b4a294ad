/* heap: two binary min-heaps for the simulator's event loop: an indexed one over small integers
 * (replicas) whose keys change in place, and one of delayed arrivals ordered by time, then id.
 * Both O(log n) per operation; no time model, no printing. */
#include "sim/serve/heap.h"

#include <stdlib.h>
#include <string.h>

int ih_init(IHeap *h, int n)
{
    memset(h, 0, sizeof *h);
    h->heap = malloc((size_t)n * sizeof *h->heap);
    h->pos = malloc((size_t)n * sizeof *h->pos);
    h->key = malloc((size_t)n * sizeof *h->key);
    if (!h->heap || !h->pos || !h->key)
        return -1;
    for (int i = 0; i < n; i++)
        h->pos[i] = -1;
    return 0;
}

void ih_fini(IHeap *h)
{
    free(h->heap);
    free(h->pos);
    free(h->key);
}

static int ih_less(const IHeap *h, int a, int b)
{
    return h->key[a] < h->key[b] || (h->key[a] == h->key[b] && a < b);
}

static void ih_swap(IHeap *h, int i, int j)
{
    int a = h->heap[i], b = h->heap[j];
    h->heap[i] = b;
    h->heap[j] = a;
    h->pos[b] = i;
    h->pos[a] = j;
}

static void ih_fix(IHeap *h, int i)
{
    while (i > 0 && ih_less(h, h->heap[i], h->heap[(i - 1) / 2])) {
        ih_swap(h, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && ih_less(h, h->heap[l], h->heap[m]))
            m = l;
        if (r < h->n && ih_less(h, h->heap[r], h->heap[m]))
            m = r;
        if (m == i)
            return;
        ih_swap(h, i, m);
        i = m;
    }
}

void ih_set(IHeap *h, int item, double key)
{
    h->key[item] = key;
    if (h->pos[item] < 0) {
        h->heap[h->n] = item;
        h->pos[item] = h->n++;
    }
    ih_fix(h, h->pos[item]);
}

int ih_pop(IHeap *h)
{
    int top = h->heap[0];
    ih_swap(h, 0, h->n - 1);
    h->n--;
    h->pos[top] = -1;
    if (h->n > 0)
        ih_fix(h, 0);
    return top;
}

static int ph_less(const Pending *x, const Pending *y)
{
    return x->req.arrival_s < y->req.arrival_s ||
           (x->req.arrival_s == y->req.arrival_s && x->req.id < y->req.id);
}

int ph_push(PHeap *h, const Pending *p)
{
    if (h->n == h->cap) {
        long cap = h->cap ? 2 * h->cap : 256;
        Pending *a = realloc(h->a, (size_t)cap * sizeof *a);
        if (!a)
            return -1;
        h->a = a;
        h->cap = cap;
    }
    long i = h->n++;
    h->a[i] = *p;
    while (i > 0 && ph_less(&h->a[i], &h->a[(i - 1) / 2])) {
        Pending t = h->a[i];
        h->a[i] = h->a[(i - 1) / 2];
        h->a[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
    return 0;
}

void ph_pop(PHeap *h, Pending *out)
{
    *out = h->a[0];
    h->a[0] = h->a[--h->n];
    long i = 0;
    for (;;) {
        long l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && ph_less(&h->a[l], &h->a[m]))
            m = l;
        if (r < h->n && ph_less(&h->a[r], &h->a[m]))
            m = r;
        if (m == i)
            break;
        Pending t = h->a[i];
        h->a[i] = h->a[m];
        h->a[m] = t;
        i = m;
    }
}
