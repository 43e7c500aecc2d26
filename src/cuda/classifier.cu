/*
 * classifier.cu: the tied classifier fused with cross-entropy, chunked over
 * rows so the (N, V) logits never exist at once.
 *
 * For each chunk of R rows (R from reserve(): fp32 logits + bf16 grads of one
 * chunk fit in ~192 MiB):
 *   1. logits (R,V) fp32 = x_chunk (R,C) @ wte (V,C)^T     cuBLASLt, bf16 in
 *   2. xent_kernel, one block per row: online max/sum-exp over the row,
 *      loss = lse - logit[target] (0 for ignore_id, NaN for an id outside
 *      [0, V) so a bad target cannot hide), and when training
 *      dlogits = dloss_scale * (softmax - onehot) as bf16 (zero for ignored rows)
 *   3. dx_chunk (R,C) = dlogits @ wte                       (WRITTEN)
 *      dwte (V,C) fp32 += dlogits^T @ x_chunk                (beta = 1)
 * The losses themselves are not scaled. Logits and softmax stay fp32; only
 * the gradient fed to the two GEMMs is rounded to bf16.
 */
#include "cuda/cuda_impl.h"

#define XENT_THREADS 512

/* Merge the running (max, sum of exp(x - max)) pair (m2, s2) into (*m, *s). */
static __device__ __forceinline__ void lse_merge(float *m, float *s, float m2, float s2)
{
    float M = fmaxf(*m, m2);
    if (M == -INFINITY) return; /* both empty */
    float a = *m == -INFINITY ? 0.0f : *s * expf(*m - M);
    float b = m2 == -INFINITY ? 0.0f : s2 * expf(m2 - M);
    *m = M;
    *s = a + b;
}

static __global__ void __launch_bounds__(XENT_THREADS)
xent_kernel(float *losses,          // (rows)
            lilm__bf16 *dlogits,    // (rows, V) or NULL
            const float *logits,    // (rows, V)
            const int32_t *targets, // (rows)
            size_t V, int32_t ignore_id, float scale)
{
    __shared__ float s_m[XENT_THREADS / 32], s_s[XENT_THREADS / 32];
    __shared__ float s_lse;
    const size_t row = blockIdx.x;
    const float *z = logits + row * V; // (V)
    const int32_t tgt = targets[row];
    const int ignored = tgt == ignore_id;
    const int bad = !ignored && (tgt < 0 || (size_t)tgt >= V);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

    float m = -INFINITY, s = 0.0f;
    for (size_t j = threadIdx.x; j < V; j += blockDim.x) lse_merge(&m, &s, z[j], 1.0f);
    for (int o = 16; o > 0; o >>= 1) {
        float m2 = __shfl_xor_sync(0xffffffffu, m, o), s2 = __shfl_xor_sync(0xffffffffu, s, o);
        lse_merge(&m, &s, m2, s2);
    }
    if (lane == 0) {
        s_m[warp] = m;
        s_s[warp] = s;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        float M = -INFINITY, S = 0.0f;
        for (int w = 0; w < (int)(blockDim.x / 32); w++) lse_merge(&M, &S, s_m[w], s_s[w]);
        float lse = M + logf(S);
        s_lse = lse;
        losses[row] = ignored ? 0.0f : bad ? NAN : lse - z[tgt];
    }
    if (!dlogits) return;
    __syncthreads();
    const float lse = s_lse;
    lilm__bf16 *g = dlogits + row * V; // (V)
    for (size_t j = threadIdx.x; j < V; j += blockDim.x) {
        float d = 0.0f;
        if (!ignored && !bad) d = (expf(z[j] - lse) - (j == (size_t)tgt ? 1.0f : 0.0f)) * scale;
        g[j] = lilm__bf(d);
    }
}

extern "C" void lilm__cuda_classifier_xent(lilm_backend *be, float *losses, void *dx, float *dwte,
                                           const void *x, const void *wte, const int32_t *targets,
                                           size_t N, size_t C, size_t V, int32_t ignore_id, float dloss_scale)
{
    lilm__cuda *cu = lilm__cu(be);
    if (N == 0) return;
    LILM_ASSERT(losses && x && wte && targets && C > 0 && V > 0);
    LILM_ASSERT(!dx || dwte);
    if (!cu->reserved || V > cu->xent_vocab) {
        lilm__cuda_fail(cu, LILM_ERR_INTERNAL, __FILE__, __LINE__,
                        "classifier_xent with vocab %zu: reserve() planned vocab %zu; call be->ops->reserve() "
                        "with the model's plan first", V, cu->xent_vocab);
        return;
    }
    /* the chunk buffers hold xent_elems >= xent_vocab >= V elements */
    size_t R = cu->xent_elems / V;
    const lilm__bf16 *xb = (const lilm__bf16 *)x; // (N, C)
    for (size_t r0 = 0; r0 < N; r0 += R) {
        size_t rows = N - r0 < R ? N - r0 : R;
        const lilm__bf16 *xc = xb + r0 * C; // (rows, C)
        if (lilm__cuda_gemm(cu, 1, 0, V, rows, C, wte, C, xc, C, cu->xent_logits, V, 1, 0.0f, NULL) < 0) return;
        LILM_ASSERT(rows <= 0x7fffffffu);
        xent_kernel<<<(unsigned)rows, XENT_THREADS, 0, cu->stream>>>(
            losses + r0, dx ? cu->xent_dlogits : NULL, cu->xent_logits, targets + r0, V, ignore_id, dloss_scale);
        if (!lilm__cuda_rt_ok(cu, cudaGetLastError(), "xent_kernel", __FILE__, __LINE__)) return;
        if (!dx) continue;
        lilm__bf16 *dxc = (lilm__bf16 *)dx + r0 * C; // (rows, C)
        if (lilm__cuda_gemm(cu, 0, 0, C, rows, V, wte, C, cu->xent_dlogits, V, dxc, C, 0, 0.0f, NULL) < 0 ||
            lilm__cuda_gemm(cu, 0, 1, C, V, rows, xc, C, cu->xent_dlogits, V, dwte, C, 1, 1.0f, NULL) < 0)
            return;
    }
}

extern "C" void lilm__cuda_classifier_logits(lilm_backend *be, float *logits, const void *x, const void *wte,
                                             size_t N, size_t C, size_t V)
{
    lilm__cuda *cu = lilm__cu(be);
    if (N == 0) return;
    LILM_ASSERT(logits && x && wte && C > 0 && V > 0);
    lilm__cuda_gemm(cu, 1, 0, V, N, C, wte, C, x, C, logits, V, 1, 0.0f, NULL);
}
