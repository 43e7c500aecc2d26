/*
 * collective.cu: the CUDA backend's gradient all-reduce across the ranks of
 * a data-parallel run, with NCCL.
 *
 * NCCL needs one communicator per process, made from a 128-byte group id
 * that rank 0 creates (comm_id) and every rank receives before joining
 * (comm_init): lilm broadcasts it over MPI (src/dist). The all-reduce sums
 * fp32 gradients in place on the backend's stream, so it queues behind the
 * backward kernels without a host wait; the optimizer's kernels queue behind
 * it. Failures go through the backend's first-error slot like every other
 * call, and the op returns that status at once (NCCL errors are never
 * deferred to a later sync, since a rank that stops answering hangs the rest).
 */
#include <nccl.h>

#include "cuda/cuda_impl.h"

static lilm_status nccl_fail(lilm__cuda *cu, ncclResult_t r, const char *what)
{
    (void)cu;
    return lilm_errorf(r == ncclSystemError || r == ncclRemoteError ? LILM_ERR_IO : LILM_ERR_DEVICE,
                       "%s failed: %s", what, ncclGetErrorString(r));
}

extern "C" lilm_status lilm__cuda_comm_id(lilm_backend *be, void *id, size_t bytes)
{
    lilm__cuda *cu = lilm__cu(be);
    if (bytes != sizeof(ncclUniqueId))
        return lilm_errorf(LILM_ERR_ARG, "an NCCL group id is %zu bytes, not %zu", sizeof(ncclUniqueId), bytes);
    ncclUniqueId uid;
    ncclResult_t r = ncclGetUniqueId(&uid);
    if (r != ncclSuccess) return nccl_fail(cu, r, "ncclGetUniqueId");
    memcpy(id, &uid, sizeof uid);
    return LILM_OK;
}

extern "C" lilm_status lilm__cuda_comm_init(lilm_backend *be, const void *id, size_t bytes, int rank, int size)
{
    lilm__cuda *cu = lilm__cu(be);
    if (bytes != sizeof(ncclUniqueId))
        return lilm_errorf(LILM_ERR_ARG, "an NCCL group id is %zu bytes, not %zu", sizeof(ncclUniqueId), bytes);
    if (cu->comm) return lilm_errorf(LILM_ERR_ARG, "the CUDA backend already belongs to a group");
    ncclUniqueId uid;
    memcpy(&uid, id, sizeof uid);
    if (!LILM__CU_OK(cu, cudaSetDevice(cu->device))) return lilm__cuda_take_error(cu);
    ncclComm_t comm;
    ncclResult_t r = ncclCommInitRank(&comm, size, uid, rank);
    if (r != ncclSuccess) return nccl_fail(cu, r, "ncclCommInitRank");
    cu->comm = comm;
    return LILM_OK;
}

extern "C" lilm_status lilm__cuda_comm_sum_f32(lilm_backend *be, float *buf, size_t n)
{
    lilm__cuda *cu = lilm__cu(be);
    LILM_TRY(lilm__cuda_take_error(cu));
    if (!cu->comm) return lilm_errorf(LILM_ERR_ARG, "the CUDA backend has no group (comm_init first)");
    ncclResult_t r = ncclAllReduce(buf, buf, n, ncclFloat32, ncclSum, (ncclComm_t)cu->comm, cu->stream);
    if (r != ncclSuccess) return nccl_fail(cu, r, "ncclAllReduce");
    return LILM_OK;
}

extern "C" void lilm__cuda_comm_free(lilm__cuda *cu)
{
    if (cu->comm) ncclCommDestroy((ncclComm_t)cu->comm);
    cu->comm = NULL;
}
