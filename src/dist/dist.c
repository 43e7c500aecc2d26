/*
 * dist.c: the process group of a data-parallel run over MPI, or the
 * one-process group when lilm was not started by an MPI launcher.
 *
 * MPI counts are `int`: buffers longer than INT_MAX elements go in chunks.
 * Built without LILM_USE_MPI, only the one-process group exists.
 */
#include "dist/dist.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef LILM_USE_MPI
#include <mpi.h>
#endif

int lilm_dist_launched(void)
{
    /* OpenMPI's mpirun, MPICH/Hydra and Slurm's srun (PMI/PMIx) each set one of these */
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) return 1;
    }
    return 0;
}

int lilm_dist_available(void)
{
#ifdef LILM_USE_MPI
    return 1;
#else
    return 0;
#endif
}

void lilm_dist_solo(lilm_dist *d)
{
    memset(d, 0, sizeof *d);
    d->size = d->local_size = 1;
}

#ifdef LILM_USE_MPI
static lilm_status mpi_fail(int rc, const char *what)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) len = 0;
    msg[len] = 0;
    return lilm_errorf(LILM_ERR_IO, "%s failed: %s", what, len ? msg : "unknown MPI error");
}
#define MPI_TRY(call, what) \
    do { int mpi_rc_ = (call); if (mpi_rc_ != MPI_SUCCESS) return mpi_fail(mpi_rc_, what); } while (0)
#endif

lilm_status lilm_dist_init(lilm_dist *d)
{
    lilm_dist_solo(d);
    if (!lilm_dist_launched()) return LILM_OK;
#ifdef LILM_USE_MPI
    int inited = 0;
    MPI_TRY(MPI_Initialized(&inited), "MPI_Initialized");
    if (!inited) {
        MPI_TRY(MPI_Init(NULL, NULL), "MPI_Init");
        d->mpi_owned = 1;
    }
    /* errors come back as codes, not as an abort inside MPI */
    MPI_TRY(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    MPI_TRY(MPI_Comm_rank(MPI_COMM_WORLD, &d->rank), "MPI_Comm_rank");
    MPI_TRY(MPI_Comm_size(MPI_COMM_WORLD, &d->size), "MPI_Comm_size");
    MPI_Comm local;
    MPI_TRY(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &local),
            "MPI_Comm_split_type");
    MPI_TRY(MPI_Comm_rank(local, &d->local_rank), "MPI_Comm_rank");
    MPI_TRY(MPI_Comm_size(local, &d->local_size), "MPI_Comm_size");
    MPI_Comm_free(&local);
    return LILM_OK;
#else
    return lilm_errorf(LILM_ERR_UNSUPPORTED,
                       "started by an MPI launcher, but this lilm was built without MPI; install "
                       "libopenmpi-dev and rebuild (make), or run lilm without mpirun");
#endif
}

void lilm_dist_finalize(lilm_dist *d)
{
#ifdef LILM_USE_MPI
    if (d->mpi_owned) {
        int done = 0;
        MPI_Finalized(&done);
        if (!done) MPI_Finalize();
    }
#endif
    lilm_dist_solo(d);
}

#ifdef LILM_USE_MPI
/* In-place all-reduce of n elements of `type` (esize bytes each), in chunks. */
static lilm_status allreduce(const lilm_dist *d, void *buf, size_t n, size_t esize, MPI_Datatype type, MPI_Op op)
{
    char *p = buf;
    while (n > 0) {
        int c = n > (size_t)INT_MAX ? INT_MAX : (int)n;
        MPI_TRY(MPI_Allreduce(MPI_IN_PLACE, p, c, type, op, MPI_COMM_WORLD), "MPI_Allreduce");
        p += (size_t)c * esize;
        n -= (size_t)c;
    }
    return LILM_OK;
}
#endif

/* The element kinds of the public reductions, and one reduction for all of them. */
typedef enum reduce_kind { SUM_F32, SUM_F64, SUM_I64, MAX_I32 } reduce_kind;

static lilm_status reduce(const lilm_dist *d, void *buf, size_t n, reduce_kind kind)
{
    if (d->size == 1) return LILM_OK;
#ifdef LILM_USE_MPI
    switch (kind) {
    case SUM_F32: return allreduce(d, buf, n, sizeof(float), MPI_FLOAT, MPI_SUM);
    case SUM_F64: return allreduce(d, buf, n, sizeof(double), MPI_DOUBLE, MPI_SUM);
    case SUM_I64: return allreduce(d, buf, n, sizeof(int64_t), MPI_INT64_T, MPI_SUM);
    case MAX_I32: return allreduce(d, buf, n, sizeof(int32_t), MPI_INT32_T, MPI_MAX);
    }
#else
    (void)buf, (void)n, (void)kind;
#endif
    return lilm_errorf(LILM_ERR_INTERNAL, "a collective over %d ranks in a build without MPI", d->size);
}

lilm_status lilm_dist_sum_f32(const lilm_dist *d, float *buf, size_t n) { return reduce(d, buf, n, SUM_F32); }
lilm_status lilm_dist_sum_f64(const lilm_dist *d, double *buf, size_t n) { return reduce(d, buf, n, SUM_F64); }
lilm_status lilm_dist_sum_i64(const lilm_dist *d, int64_t *buf, size_t n) { return reduce(d, buf, n, SUM_I64); }
lilm_status lilm_dist_max_i32(const lilm_dist *d, int32_t *buf, size_t n) { return reduce(d, buf, n, MAX_I32); }

lilm_status lilm_dist_bcast(const lilm_dist *d, void *buf, size_t bytes)
{
    if (d->size == 1) return LILM_OK;
#ifdef LILM_USE_MPI
    char *p = buf;
    while (bytes > 0) {
        int c = bytes > (size_t)INT_MAX ? INT_MAX : (int)bytes;
        MPI_TRY(MPI_Bcast(p, c, MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast");
        p += c;
        bytes -= (size_t)c;
    }
    return LILM_OK;
#else
    return LILM_ERR_INTERNAL;
#endif
}

lilm_status lilm_dist_bcast_wait(const lilm_dist *d, void *buf, size_t bytes)
{
    if (d->size == 1) return LILM_OK;
#ifdef LILM_USE_MPI
    if (bytes > (size_t)INT_MAX) return lilm_dist_bcast(d, buf, bytes);
    MPI_Request req;
    MPI_TRY(MPI_Ibcast(buf, (int)bytes, MPI_BYTE, 0, MPI_COMM_WORLD, &req), "MPI_Ibcast");
    for (;;) {
        int done = 0;
        MPI_TRY(MPI_Test(&req, &done, MPI_STATUS_IGNORE), "MPI_Test");
        if (done) return LILM_OK;
        struct timespec nap = {0, 2000000}; /* 2 ms */
        nanosleep(&nap, NULL);
    }
#else
    return LILM_ERR_INTERNAL;
#endif
}

lilm_status lilm_dist_allgather(const lilm_dist *d, const void *mine, void *all, size_t bytes)
{
    if (d->size == 1) {
        if (bytes) memmove(all, mine, bytes);
        return LILM_OK;
    }
#ifdef LILM_USE_MPI
    if (bytes > (size_t)INT_MAX)
        return lilm_errorf(LILM_ERR_ARG, "all-gather of %zu bytes per rank: at most %d", bytes, INT_MAX);
    MPI_TRY(MPI_Allgather(mine, (int)bytes, MPI_BYTE, all, (int)bytes, MPI_BYTE, MPI_COMM_WORLD), "MPI_Allgather");
    return LILM_OK;
#else
    return LILM_ERR_INTERNAL;
#endif
}

lilm_status lilm_dist_barrier(const lilm_dist *d)
{
    if (d->size == 1) return LILM_OK;
#ifdef LILM_USE_MPI
    MPI_TRY(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
    return LILM_OK;
#else
    return LILM_ERR_INTERNAL;
#endif
}

void lilm_dist_abort(const lilm_dist *d, int code)
{
#ifdef LILM_USE_MPI
    if (d->size > 1) MPI_Abort(MPI_COMM_WORLD, code);
#endif
    (void)d;
    (void)code;
}
