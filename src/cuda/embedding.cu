/*
 * embedding.cu: token embedding lookup and its gradient scatter.
 *
 * forward:  out (N,C) bf16 = wte[tokens[i], :] (wte is the bf16 compute copy).
 * backward: dwte (V,C) fp32 += dout rows scattered by token, with fp32
 *           atomicAdd (tokens repeat within a batch), so the order of the
 *           additions, and the last bits of dwte, vary from run to run.
 * Token ids outside [0, V) are skipped by the backward kernel; the forward
 * has no V (backend.h) and trusts the data loader, which validates ids.
 */
#include "cuda/cuda_impl.h"

static __global__ void embedding_forward_kernel(lilm__bf16 *out,       // (N, C)
                                                const int32_t *tokens, // (N)
                                                const lilm__bf16 *wte, // (V, C)
                                                size_t N, size_t C)
{
    size_t n = N * C;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        size_t row = i / C, c = i % C;
        out[i] = wte[(size_t)tokens[row] * C + c];
    }
}

static __global__ void embedding_backward_kernel(float *dwte,            // (V, C)
                                                 const lilm__bf16 *dout, // (N, C)
                                                 const int32_t *tokens,  // (N)
                                                 size_t N, size_t C, size_t V)
{
    size_t n = N * C;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        size_t row = i / C, c = i % C;
        int32_t tok = tokens[row];
        if (tok < 0 || (size_t)tok >= V) continue;
        atomicAdd(dwte + (size_t)tok * C + c, lilm__ld(dout + i));
    }
}

extern "C" void lilm__cuda_embedding_forward(lilm_backend *be, void *out, const int32_t *tokens,
                                             const void *wte, size_t N, size_t C)
{
    lilm__cuda *cu = lilm__cu(be);
    if (N == 0) return;
    LILM_ASSERT(out && tokens && wte && C > 0);
    size_t n = N * C;
    embedding_forward_kernel<<<lilm__ew_grid(cu, n), LILM__EW_THREADS, 0, cu->stream>>>(
        (lilm__bf16 *)out, tokens, (const lilm__bf16 *)wte, N, C);
    lilm__cuda_rt_ok(cu, cudaGetLastError(), "embedding_forward_kernel", __FILE__, __LINE__);
}

extern "C" void lilm__cuda_embedding_backward(lilm_backend *be, float *dwte, const void *dout,
                                              const int32_t *tokens, size_t N, size_t C, size_t V)
{
    lilm__cuda *cu = lilm__cu(be);
    if (N == 0) return;
    LILM_ASSERT(dwte && dout && tokens && C > 0 && V > 0);
    size_t n = N * C;
    embedding_backward_kernel<<<lilm__ew_grid(cu, n), LILM__EW_THREADS, 0, cu->stream>>>(
        dwte, (const lilm__bf16 *)dout, tokens, N, C, V);
    lilm__cuda_rt_ok(cu, cudaGetLastError(), "embedding_backward_kernel", __FILE__, __LINE__);
}
