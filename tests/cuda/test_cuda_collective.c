/*
 * test_cuda_collective.c: the CUDA backend's NCCL all-reduce on one GPU.
 *
 * A group of one (rank 0 of 1) is the smallest real NCCL communicator: the
 * id is made, the backend joins, and a sum over the group of a device buffer
 * must leave it unchanged, bit for bit, on the backend's stream (read back
 * after sync). Joining twice is refused; a wrong id size is refused. Under
 * mpirun with N ranks on N GPUs (one per local rank) the same binary checks
 * the sum of rank-dependent small integers, exact in fp32.
 *
 * Needs a GPU (make test-cuda).
 */
#include "test.h"

#include "dist/dist.h"
#include "ops/backend.h"

#include <stdint.h>
#include <string.h>

static void test_group_sum(lilm_test *t)
{
    lilm_dist d;
    LT_OK(t, lilm_dist_init(&d));
    lilm_backend_options o;
    memset(&o, 0, sizeof o);
    o.cuda_device = d.local_rank;
    lilm_backend *be = NULL;
    LT_OK(t, lilm_cuda_backend_create_opts(&be, o.cuda_device, &o));
    if (!be) return;
    LT_TRUE(t, be->ops->comm_id && be->ops->comm_init && be->ops->comm_sum_f32);
    unsigned char id[128] = {0};
    LT_STATUS(t, be->ops->comm_id(be, id, 64), LILM_ERR_ARG);
    if (d.rank == 0) LT_OK(t, be->ops->comm_id(be, id, sizeof id));
    LT_OK(t, lilm_dist_bcast(&d, id, sizeof id));
    LT_OK(t, be->ops->comm_init(be, id, sizeof id, d.rank, d.size));
    LT_STATUS(t, be->ops->comm_init(be, id, sizeof id, d.rank, d.size), LILM_ERR_ARG);

    size_t n = 1 << 20;
    float *host = malloc(n * sizeof *host), *back = malloc(n * sizeof *back);
    for (size_t i = 0; i < n; i++) host[i] = (float)((i % 1000) * (d.rank + 1));
    void *dev = NULL;
    LT_OK(t, be->ops->alloc(be, &dev, n * sizeof(float)));
    LT_OK(t, be->ops->upload(be, dev, host, n * sizeof(float)));
    LT_OK(t, be->ops->comm_sum_f32(be, dev, n));
    LT_OK(t, be->ops->sync(be));
    LT_OK(t, be->ops->download(be, back, dev, n * sizeof(float)));
    double ranks = d.size * (d.size + 1) / 2.0;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += back[i] != (float)((i % 1000) * ranks);
    LT_EQ_INT(t, bad, 0);
    printf("  rank %d of %d: sum over the group of %zu floats exact\n", d.rank, d.size, n);
    be->ops->free(be, dev);
    free(host);
    free(back);
    lilm_backend_free(be);
    lilm_dist_finalize(&d);
}

static const lilm_test_case cases[] = {
    {"group_sum", test_group_sum},
};
LILM_TEST_MAIN(cases)
