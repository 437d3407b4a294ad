/* par: the ranks of a run. Built with TS_MPI (make MPI=1) these calls wrap Open MPI on
 * MPI_COMM_WORLD; in a plain build a shim makes the process rank 0 of 1, every collective call
 * is trivial, and point-to-point calls (never reached with one rank) fail. Only the few
 * operations spread.c and main.c need. Prints nothing, never exits (MPI's own fatal error
 * handler stays in place: a broken link ends the job from inside MPI). */
#ifndef TS_SIM_PAR_H
#define TS_SIM_PAR_H

#include <stddef.h>

#include "models/tserr.h"

typedef struct {
    int rank, size; /* 0 <= rank < size */
    int mpi;        /* 1 when MPI was initialised (par_fini finalises it) */
} ParCtx;

/* Initialises MPI (TS_MPI builds; argc and argv may be rewritten by MPI_Init) or the shim
 * (rank 0 of 1). TS_EINTERNAL when MPI cannot start. */
int par_init(ParCtx *p, int *argc, char ***argv, TsErr *err);

/* Finalises MPI when par_init started it. Accepts NULL. */
void par_fini(ParCtx *p);

/* Asks MPI to end every rank of the job with status code (MPI_Abort, which does not return);
 * does nothing in a plain build. For a rank that cannot take part in a collective call it must
 * make (the caller returns after it). */
void par_abort(const ParCtx *p, int code);

/* 1 when this build has MPI (make MPI=1). */
int par_have_mpi(void);

/* Collective: every rank passes its status rc (0 or a TS_E* code) and err. Returns 0 when all
 * are 0; otherwise every rank gets the lowest failing rank's code and message in err (prefixed
 * "rank K of N: " when N > 1) and returns that code. */
int par_agree(const ParCtx *p, int rc, TsErr *err);

/* Collective: rank 0's n bytes at buf go to every rank's buf (which holds n bytes). */
int par_bcast_bytes(const ParCtx *p, void *buf, size_t n, TsErr *err);

/* Collective: *v becomes the sum of every rank's *v (exact: integers). */
int par_sum_long(const ParCtx *p, long *v, TsErr *err);

/* Sends n doubles to rank dest / receives exactly n doubles from rank src, in order (messages
 * between two ranks never overtake each other). TS_EIO when the count differs. */
int par_send_doubles(const ParCtx *p, int dest, const double *buf, size_t n, TsErr *err);
int par_recv_doubles(const ParCtx *p, int src, double *buf, size_t n, TsErr *err);

#endif
