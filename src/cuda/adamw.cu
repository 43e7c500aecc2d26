/*
 * adamw.cu: multi-tensor AdamW (PyTorch semantics) in one kernel launch.
 *
 * The host writes one descriptor per tensor (pointers, n, weight decay, and
 * the index of the first block that works on it) into a pinned staging array,
 * copies it to the device on the stream, and launches one grid whose blocks
 * each update ADAMW_CHUNK consecutive elements of one tensor; a block finds
 * its tensor by binary search over block_start. Before the staging array is
 * rewritten, the host waits on the event recorded after the previous copy, so
 * an in-flight copy never sees half-written descriptors.
 *
 * Per element, with bc1 = 1 - b1^t and bc2 = 1 - b2^t (computed in double):
 *   p -= lr*wd*p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 *   p -= lr * (m/bc1) / (sqrt(v/bc2) + eps)
 */
#include "cuda/cuda_impl.h"

#include <math.h>

#define ADAMW_THREADS 256
#define ADAMW_PER_THREAD 8
#define ADAMW_CHUNK (ADAMW_THREADS * ADAMW_PER_THREAD)

static __global__ void __launch_bounds__(ADAMW_THREADS)
adamw_kernel(const lilm__adamw_desc *descs, // (n_desc) by ascending block_start
             int n_desc, float lr, float b1, float b2, float eps, float bc1, float bc2)
{
    /* the last descriptor whose block_start <= blockIdx.x */
    int lo = 0, hi = n_desc - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (descs[mid].block_start <= blockIdx.x) lo = mid;
        else hi = mid - 1;
    }
    const lilm__adamw_desc d = descs[lo];
    size_t base = (blockIdx.x - d.block_start) * (size_t)ADAMW_CHUNK;
    for (int k = 0; k < ADAMW_PER_THREAD; k++) {
        size_t i = base + (size_t)k * ADAMW_THREADS + threadIdx.x;
        if (i >= d.n) break;
        float g = d.grad[i];
        float p = d.param[i];
        p -= lr * d.weight_decay * p;
        float m = b1 * d.m[i] + (1.0f - b1) * g;
        float v = b2 * d.v[i] + (1.0f - b2) * g * g;
        p -= lr * (m / bc1) / (sqrtf(v / bc2) + eps);
        d.m[i] = m;
        d.v[i] = v;
        d.param[i] = p;
    }
}

extern "C" void lilm__cuda_adamw_release(lilm__cuda *cu)
{
    /* called from destroy after a stream sync; failures here have nowhere to go */
    if (cu->adamw_host) cudaFreeHost(cu->adamw_host);
    if (cu->adamw_dev) cudaFree(cu->adamw_dev);
    cu->adamw_host = NULL;
    cu->adamw_dev = NULL;
    cu->adamw_cap = 0;
}

extern "C" void lilm__cuda_adamw(lilm_backend *be, const lilm_adamw_tensor *tensors, size_t n_tensors,
                                 const lilm_adamw_hparams *hp)
{
    lilm__cuda *cu = lilm__cu(be);
    if (n_tensors == 0) return;
    LILM_ASSERT(tensors && hp && hp->step >= 1);
    LILM_ASSERT(n_tensors <= 0x7fffffff);
    /* the previous copy out of the staging array must be done before we touch it */
    if (!LILM__CU_OK(cu, cudaEventSynchronize(cu->adamw_copied))) return;
    if (n_tensors > cu->adamw_cap) {
        size_t cap = n_tensors < 64 ? 64 : n_tensors;
        if (cu->adamw_host) LILM__CU_OK(cu, cudaFreeHost(cu->adamw_host));
        if (cu->adamw_dev) LILM__CU_OK(cu, cudaFree(cu->adamw_dev));
        cu->adamw_host = NULL;
        cu->adamw_dev = NULL;
        cu->adamw_cap = 0;
        if (!LILM__CU_OK(cu, cudaMallocHost((void **)&cu->adamw_host, cap * sizeof(lilm__adamw_desc))) ||
            !LILM__CU_OK(cu, cudaMalloc((void **)&cu->adamw_dev, cap * sizeof(lilm__adamw_desc))))
            return;
        cu->adamw_cap = cap;
    }
    size_t blocks = 0;
    int n_desc = 0;
    for (size_t t = 0; t < n_tensors; t++) {
        const lilm_adamw_tensor *src = &tensors[t];
        if (src->n == 0) continue;
        LILM_ASSERT(src->param && src->grad && src->m && src->v);
        lilm__adamw_desc *d = &cu->adamw_host[n_desc++];
        d->param = src->param;
        d->grad = src->grad;
        d->m = src->m;
        d->v = src->v;
        d->n = src->n;
        d->weight_decay = src->weight_decay;
        d->block_start = blocks;
        blocks += (src->n + ADAMW_CHUNK - 1) / ADAMW_CHUNK;
    }
    if (n_desc == 0) return;
    LILM_ASSERT(blocks <= 0x7fffffffu);
    double bc1 = 1.0 - pow((double)hp->beta1, (double)hp->step);
    double bc2 = 1.0 - pow((double)hp->beta2, (double)hp->step);
    if (!LILM__CU_OK(cu, cudaMemcpyAsync(cu->adamw_dev, cu->adamw_host, (size_t)n_desc * sizeof(lilm__adamw_desc),
                                         cudaMemcpyHostToDevice, cu->stream)) ||
        !LILM__CU_OK(cu, cudaEventRecord(cu->adamw_copied, cu->stream)))
        return;
    adamw_kernel<<<(unsigned)blocks, ADAMW_THREADS, 0, cu->stream>>>(
        cu->adamw_dev, n_desc, hp->lr, hp->beta1, hp->beta2, hp->eps, (float)bc1, (float)bc2);
    lilm__cuda_rt_ok(cu, cudaGetLastError(), "adamw_kernel", __FILE__, __LINE__);
}
