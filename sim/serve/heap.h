/* heap: the event queues of sim/serve/sim.c: an indexed min-heap over items 0..n-1 keyed by a
 * double (ties: the lower index first), and a min-heap of delayed arrivals (session turns, KV
 * transfers) ordered by arrival time, then request id, so runs are deterministic. */
#ifndef TS_SIM_SERVE_HEAP_H
#define TS_SIM_SERVE_HEAP_H

#include "sim/serve/request.h"

typedef struct {
    int *heap; /* replica indices */
    int *pos;  /* position of each replica in heap, -1 when absent */
    double *key;
    int n;
} IHeap;

/* Room for items 0..n-1, none present: 0, or -1 when memory runs out (ih_fini still frees). */
int ih_init(IHeap *h, int n);
void ih_fini(IHeap *h);

/* Puts item in the heap with key, or moves it to key when present. */
void ih_set(IHeap *h, int item, double key);

/* Removes and returns the item with the least key (the heap must not be empty). */
int ih_pop(IHeap *h);

typedef struct {
    ServeRequest req;
    int pool;
} Pending;

typedef struct {
    Pending *a;
    long n, cap;
} PHeap;

/* Adds a copy of p: 0, or -1 when memory runs out. */
int ph_push(PHeap *h, const Pending *p);

/* Removes the earliest into *out (the heap must not be empty). */
void ph_pop(PHeap *h, Pending *out);

#endif
