/*
 * dist.h: the processes of one data-parallel run and the collectives between
 * them (MPI: OpenMPI or any MPI-3 library).
 *
 * A run launched by mpirun or srun has N ranks; each trains the same model on
 * its own share of every global batch, and the ranks add their gradients with
 * an all-reduce before every optimizer step. lilm_dist_init() looks at the
 * launcher's environment: under mpirun/srun (OMPI_COMM_WORLD_SIZE, PMI_SIZE,
 * PMIX_RANK, SLURM_NTASKS with a PMI) it initialises MPI; otherwise, and in a
 * build without MPI, it returns the one-process group (rank 0 of 1) and every
 * collective is a no-op. Collectives act on host memory; device buffers go
 * through the backend's collective (NCCL, bootstrapped with lilm_dist_bcast).
 *
 * Every rank must call the same collectives in the same order. A failure of
 * any MPI call is reported as LILM_ERR_IO with MPI's message; a rank that
 * dies makes the launcher stop the others.
 */
#ifndef LILM_DIST_DIST_H
#define LILM_DIST_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct lilm_dist {
    int rank;        /* this process, 0 .. size-1 */
    int size;        /* processes in the run (1: not distributed) */
    int local_rank;  /* rank among the processes on this host (picks the GPU) */
    int local_size;  /* processes on this host */
    int mpi_owned;   /* 1: lilm_dist_init() initialised MPI and finalises it */
} lilm_dist;

/* 1 when the environment says this process was started by an MPI launcher. */
int lilm_dist_launched(void);
/* 1 when this build can run distributed (linked with MPI). */
int lilm_dist_available(void);

/* Joins the run's process group (or makes the one-process group). Fails with
 * LILM_ERR_UNSUPPORTED when launched by mpirun but built without MPI. */
lilm_status lilm_dist_init(lilm_dist *d);
/* Makes the one-process group (rank 0 of 1) without looking at the environment. */
void lilm_dist_solo(lilm_dist *d);
/* Leaves the group (MPI_Finalize when this module initialised MPI). */
void lilm_dist_finalize(lilm_dist *d);

/* In-place sums over every rank; the result is the same on all ranks. */
lilm_status lilm_dist_sum_f32(const lilm_dist *d, float *buf, size_t n);
lilm_status lilm_dist_sum_f64(const lilm_dist *d, double *buf, size_t n);
lilm_status lilm_dist_sum_i64(const lilm_dist *d, int64_t *buf, size_t n);
/* In-place maximum over every rank (e.g. "any rank asked to stop"). */
lilm_status lilm_dist_max_i32(const lilm_dist *d, int32_t *buf, size_t n);
/* Copies rank 0's `bytes` bytes at buf to every other rank. */
lilm_status lilm_dist_bcast(const lilm_dist *d, void *buf, size_t bytes);
/* lilm_dist_bcast for a long wait (rank 0 autosizing a run while the others
 * wait): the waiting ranks sleep between polls instead of spinning, so they
 * leave the cores to rank 0. */
lilm_status lilm_dist_bcast_wait(const lilm_dist *d, void *buf, size_t bytes);
/* Every rank's `bytes` bytes, gathered in rank order into all (size x bytes). */
lilm_status lilm_dist_allgather(const lilm_dist *d, const void *mine, void *all, size_t bytes);
lilm_status lilm_dist_barrier(const lilm_dist *d);
/* Stops every rank at once (after an error one rank cannot recover from). */
void lilm_dist_abort(const lilm_dist *d, int code);

#endif
