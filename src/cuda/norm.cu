/*
 * norm.cu: RMSNorm and LayerNorm forward and backward (bf16 rows, fp32 math).
 *
 * One warp owns one row of C elements (any C; lanes stride over it). Forward
 * writes out (N,C) and the fp32 statistics rstd (N) and, for LayerNorm,
 * mean (N); LayerNorm's variance is a second pass over the row (no
 * E[x^2]-E[x]^2 cancellation). RMSNorm is selected by mean == NULL (forward:
 * bias == NULL && mean == NULL, as in backend.h).
 *
 * Backward, with xhat = (x - mean) * rstd (mean = 0 for RMSNorm), g = dout * w:
 *   RMSNorm   din += rstd * (g - xhat * mean(g * xhat))
 *   LayerNorm din += rstd * (g - mean(g) - xhat * mean(g * xhat))
 *   dweight += sum over rows of dout * xhat;  dbias += sum over rows of dout.
 * din is accumulated (+=, the residual stream). Each block keeps per-column
 * partial sums of dweight/dbias in shared memory (2*C floats) over the rows
 * its warps visit, then adds them to the fp32 gradients with atomics.
 */
#include "cuda/cuda_impl.h"

#define NORM_WARPS 8

static __global__ void norm_forward_kernel(lilm__bf16 *out,      // (N, C)
                                           float *mean,          // (N) or NULL (RMSNorm)
                                           float *rstd,          // (N)
                                           const lilm__bf16 *in, // (N, C)
                                           const float *weight,  // (C)
                                           const float *bias,    // (C) or NULL
                                           size_t N, size_t C, float eps)
{
    size_t row = blockIdx.x * (size_t)NORM_WARPS + threadIdx.x / 32;
    int lane = threadIdx.x % 32;
    if (row >= N) return;
    const lilm__bf16 *x = in + row * C;   // (C)
    lilm__bf16 *y = out + row * C;        // (C)
    float mu = 0.0f, r;
    if (mean) {
        float s = 0.0f;
        for (size_t c = lane; c < C; c += 32) s += lilm__ld(x + c);
        mu = lilm__warp_sum(s) / (float)C;
        float v = 0.0f;
        for (size_t c = lane; c < C; c += 32) {
            float d = lilm__ld(x + c) - mu;
            v += d * d;
        }
        r = 1.0f / sqrtf(lilm__warp_sum(v) / (float)C + eps);
    } else {
        float ss = 0.0f;
        for (size_t c = lane; c < C; c += 32) {
            float a = lilm__ld(x + c);
            ss += a * a;
        }
        r = 1.0f / sqrtf(lilm__warp_sum(ss) / (float)C + eps);
    }
    for (size_t c = lane; c < C; c += 32) {
        float o = (lilm__ld(x + c) - mu) * r * weight[c];
        if (bias) o += bias[c];
        y[c] = lilm__bf(o);
    }
    if (lane == 0) {
        if (mean) mean[row] = mu;
        rstd[row] = r;
    }
}

/* Dynamic shared memory: dweight partials (C) then dbias partials (C). */
static __global__ void norm_backward_kernel(lilm__bf16 *din,        // (N, C) +=
                                            float *dweight,         // (C) +=
                                            float *dbias,           // (C) += or NULL
                                            const lilm__bf16 *dout, // (N, C)
                                            const lilm__bf16 *in,   // (N, C)
                                            const float *weight,    // (C)
                                            const float *mean,      // (N) or NULL (RMSNorm)
                                            const float *rstd,      // (N)
                                            size_t N, size_t C)
{
    extern __shared__ float smem[];
    float *s_dw = smem;      // (C)
    float *s_db = smem + C;  // (C)
    for (size_t c = threadIdx.x; c < 2 * C; c += blockDim.x) smem[c] = 0.0f;
    __syncthreads();
    int lane = threadIdx.x % 32;
    float invC = 1.0f / (float)C;
    for (size_t row = blockIdx.x * (size_t)NORM_WARPS + threadIdx.x / 32; row < N;
         row += (size_t)gridDim.x * NORM_WARPS) {
        const lilm__bf16 *x = in + row * C;    // (C)
        const lilm__bf16 *dy = dout + row * C; // (C)
        lilm__bf16 *dx = din + row * C;        // (C)
        float mu = mean ? mean[row] : 0.0f, r = rstd[row];
        float sum_g = 0.0f, sum_gx = 0.0f;
        for (size_t c = lane; c < C; c += 32) {
            float xh = (lilm__ld(x + c) - mu) * r;
            float d = lilm__ld(dy + c);
            float g = d * weight[c];
            sum_g += g;
            sum_gx += g * xh;
            atomicAdd(s_dw + c, d * xh);
            if (dbias) atomicAdd(s_db + c, d);
        }
        sum_g = lilm__warp_sum(sum_g) * invC;
        sum_gx = lilm__warp_sum(sum_gx) * invC;
        if (!mean) sum_g = 0.0f; /* RMSNorm has no mean to subtract */
        for (size_t c = lane; c < C; c += 32) {
            float xh = (lilm__ld(x + c) - mu) * r;
            float g = lilm__ld(dy + c) * weight[c];
            float v = r * (g - sum_g - xh * sum_gx);
            dx[c] = lilm__bf(lilm__ld(dx + c) + v);
        }
    }
    __syncthreads();
    for (size_t c = threadIdx.x; c < C; c += blockDim.x) {
        atomicAdd(dweight + c, s_dw[c]);
        if (dbias) atomicAdd(dbias + c, s_db[c]);
    }
}

extern "C" void lilm__cuda_norm_forward(lilm_backend *be, void *out, float *mean, float *rstd,
                                        const void *in, const float *weight, const float *bias,
                                        size_t N, size_t C, float eps)
{
    lilm__cuda *cu = lilm__cu(be);
    if (N == 0) return;
    LILM_ASSERT(out && rstd && in && weight && C > 0);
    /* LayerNorm needs its mean for the backward pass; a bias without a mean is not a norm we know */
    LILM_ASSERT(!(bias && !mean));
    size_t blocks = (N + NORM_WARPS - 1) / NORM_WARPS;
    LILM_ASSERT(blocks <= 0x7fffffffu);
    norm_forward_kernel<<<(unsigned)blocks, NORM_WARPS * 32, 0, cu->stream>>>(
        (lilm__bf16 *)out, mean, rstd, (const lilm__bf16 *)in, weight, bias, N, C, eps);
    lilm__cuda_rt_ok(cu, cudaGetLastError(), "norm_forward_kernel", __FILE__, __LINE__);
}

extern "C" void lilm__cuda_norm_backward(lilm_backend *be, void *din, float *dweight, float *dbias,
                                         const void *dout, const void *in, const float *weight,
                                         const float *mean, const float *rstd, size_t N, size_t C)
{
    lilm__cuda *cu = lilm__cu(be);
    if (N == 0) return;
    LILM_ASSERT(din && dweight && dout && in && weight && rstd && C > 0);
    size_t smem = 2 * C * sizeof(float);
    /* 2*C floats must fit the 48 KiB default: C <= 6144 covers every model we size */
    LILM_ASSERT(smem <= 48 * 1024);
    size_t blocks = (N + NORM_WARPS - 1) / NORM_WARPS;
    size_t cap = (size_t)cu->sm_count * 4;
    if (blocks > cap) blocks = cap;
    norm_backward_kernel<<<(unsigned)blocks, NORM_WARPS * 32, smem, cu->stream>>>(
        (lilm__bf16 *)din, dweight, dbias, (const lilm__bf16 *)dout, (const lilm__bf16 *)in, weight, mean, rstd,
        N, C);
    lilm__cuda_rt_ok(cu, cudaGetLastError(), "norm_backward_kernel", __FILE__, __LINE__);
}
