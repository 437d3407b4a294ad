/* par: MPI_COMM_WORLD behind a small interface, or the one-rank shim when built without
 * TS_MPI. Agreement on failure is an MPI_Allreduce(MIN) of the failing ranks' numbers followed
 * by a broadcast of the first one's TsErr, so every rank leaves a phase with the same status.
 * Payloads are doubles and bytes between ranks of the same build on the same kind of machine:
 * no conversion. */
#include "sim/study/par.h"

#include <limits.h>
#include <string.h>

#ifdef TS_MPI
#include <mpi.h>
#endif

int par_have_mpi(void)
{
#ifdef TS_MPI
    return 1;
#else
    return 0;
#endif
}

int par_init(ParCtx *p, int *argc, char ***argv, TsErr *err)
{
    memset(p, 0, sizeof *p);
    p->size = 1;
#ifdef TS_MPI
    if (MPI_Init(argc, argv) != MPI_SUCCESS)
        return ts_err_set(err, TS_EINTERNAL, "MPI_Init failed");
    p->mpi = 1;
    if (MPI_Comm_rank(MPI_COMM_WORLD, &p->rank) != MPI_SUCCESS ||
        MPI_Comm_size(MPI_COMM_WORLD, &p->size) != MPI_SUCCESS)
        return ts_err_set(err, TS_EINTERNAL, "MPI_Comm_rank or MPI_Comm_size failed");
#else
    (void)argc;
    (void)argv;
    (void)err;
#endif
    return 0;
}

void par_fini(ParCtx *p)
{
    if (!p)
        return;
#ifdef TS_MPI
    if (p->mpi)
        MPI_Finalize();
#endif
    memset(p, 0, sizeof *p);
}

void par_abort(const ParCtx *p, int code)
{
#ifdef TS_MPI
    if (p->mpi)
        MPI_Abort(MPI_COMM_WORLD, code);
#else
    (void)p;
    (void)code;
#endif
}

int par_agree(const ParCtx *p, int rc, TsErr *err)
{
    if (p->size == 1)
        return rc;
#ifdef TS_MPI
    int mine = rc ? p->rank : p->size, first = p->size;
    if (MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD) != MPI_SUCCESS)
        return ts_err_set(err, TS_EIO, "MPI_Allreduce failed");
    if (first == p->size)
        return 0;
    TsErr sent;
    if (p->rank == first) {
        sent = *err;
        if (sent.code == TS_OK)
            sent.code = TS_EINTERNAL;
    }
    if (MPI_Bcast(&sent, (int)sizeof sent, MPI_BYTE, first, MPI_COMM_WORLD) != MPI_SUCCESS)
        return ts_err_set(err, TS_EIO, "MPI_Bcast failed");
    sent.msg[sizeof sent.msg - 1] = '\0';
    *err = sent;
    return ts_err_prefix(err, "rank %d of %d: ", first, p->size);
#else
    return ts_err_set(err, TS_EINTERNAL, "%d ranks in a build without MPI", p->size);
#endif
}

int par_bcast_bytes(const ParCtx *p, void *buf, size_t n, TsErr *err)
{
    if (p->size == 1)
        return 0;
#ifdef TS_MPI
    if (n > INT_MAX)
        return ts_err_set(err, TS_EINPUT, "%zu bytes are too many for one broadcast", n);
    if (MPI_Bcast(buf, (int)n, MPI_BYTE, 0, MPI_COMM_WORLD) != MPI_SUCCESS)
        return ts_err_set(err, TS_EIO, "MPI_Bcast failed");
    return 0;
#else
    (void)buf;
    (void)n;
    return ts_err_set(err, TS_EINTERNAL, "%d ranks in a build without MPI", p->size);
#endif
}

int par_sum_long(const ParCtx *p, long *v, TsErr *err)
{
    if (p->size == 1)
        return 0;
#ifdef TS_MPI
    long in = *v;
    if (MPI_Allreduce(&in, v, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
        return ts_err_set(err, TS_EIO, "MPI_Allreduce failed");
    return 0;
#else
    (void)v;
    return ts_err_set(err, TS_EINTERNAL, "%d ranks in a build without MPI", p->size);
#endif
}

int par_send_doubles(const ParCtx *p, int dest, const double *buf, size_t n, TsErr *err)
{
#ifdef TS_MPI
    if (n > INT_MAX)
        return ts_err_set(err, TS_EINPUT, "%zu doubles are too many for one message", n);
    if (MPI_Send(buf, (int)n, MPI_DOUBLE, dest, 0, MPI_COMM_WORLD) != MPI_SUCCESS)
        return ts_err_set(err, TS_EIO, "rank %d: MPI_Send to rank %d failed", p->rank, dest);
    return 0;
#else
    (void)buf;
    (void)n;
    return ts_err_set(err, TS_EINTERNAL, "rank %d cannot send to rank %d without MPI", p->rank,
                      dest);
#endif
}

int par_recv_doubles(const ParCtx *p, int src, double *buf, size_t n, TsErr *err)
{
#ifdef TS_MPI
    if (n > INT_MAX)
        return ts_err_set(err, TS_EINPUT, "%zu doubles are too many for one message", n);
    MPI_Status st;
    int got = 0;
    if (MPI_Recv(buf, (int)n, MPI_DOUBLE, src, 0, MPI_COMM_WORLD, &st) != MPI_SUCCESS ||
        MPI_Get_count(&st, MPI_DOUBLE, &got) != MPI_SUCCESS)
        return ts_err_set(err, TS_EIO, "rank %d: MPI_Recv from rank %d failed", p->rank, src);
    if ((size_t)got != n)
        return ts_err_set(err, TS_EIO, "rank %d: rank %d sent %d doubles, expected %zu", p->rank,
                          src, got, n);
    return 0;
#else
    (void)buf;
    (void)n;
    return ts_err_set(err, TS_EINTERNAL, "rank %d cannot receive from rank %d without MPI",
                      p->rank, src);
#endif
}
