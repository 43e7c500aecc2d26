/*
 * elementwise.cu: casts, activations, add/accumulate/copy, and the fp32
 * gradient utilities (sanitize + sum of squares, scale, axpy) of the CUDA backend.
 *
 * Every kernel is a grid-stride loop over n elements with size_t indices, so
 * any n works with a grid capped at 32 blocks per SM. bf16 values are widened
 * to fp32, computed, and rounded to nearest on store. GELU is the exact erf
 * form (backend.h), identical to the CPU reference. SwiGLU (glu_*) reads each
 * row's [g | u] halves; silu uses expf.
 *
 * grad_sanitize returns its sums to the host, so it waits for the stream.
 */
#include "cuda/cuda_impl.h"

#include <string.h>

/* ---- kernels ---- */

static __global__ void cast_to_bf16_kernel(lilm__bf16 *out, // (n)
                                           const float *in, // (n)
                                           size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        out[i] = lilm__bf(in[i]);
}

static __global__ void cast_to_f32_kernel(float *out,           // (n)
                                          const lilm__bf16 *in, // (n)
                                          size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        out[i] = lilm__ld(in + i);
}

static __global__ void act_forward_kernel(lilm__bf16 *out,      // (n)
                                          const lilm__bf16 *in, // (n)
                                          size_t n, int act)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        out[i] = lilm__bf(lilm__act_f(lilm__ld(in + i), act));
}

static __global__ void act_backward_kernel(lilm__bf16 *din,        // (n)
                                           const lilm__bf16 *dout, // (n)
                                           const lilm__bf16 *in,   // (n)
                                           size_t n, int act)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        din[i] = lilm__bf(lilm__act_grad(lilm__ld(in + i), act) * lilm__ld(dout + i));
}

/* SwiGLU over rows of [g | u]: out (N, F) = silu(g) * u. */
static __global__ void glu_forward_kernel(lilm__bf16 *out,      // (N, F)
                                          const lilm__bf16 *in, // (N, 2F)
                                          size_t N, size_t F)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < N * F; i += (size_t)gridDim.x * blockDim.x) {
        size_t r = i / F, j = i % F;
        float g = lilm__ld(in + r * 2 * F + j), u = lilm__ld(in + r * 2 * F + F + j);
        float s = 1.0f / (1.0f + expf(-g));
        out[i] = lilm__bf(g * s * u);
    }
}

/* din (N, 2F) = [dout u s (1 + g (1 - s)) | dout g s], s = sigmoid(g); din may
 * alias in: each thread reads its (g, u) pair before writing it. */
static __global__ void glu_backward_kernel(lilm__bf16 *din,        // (N, 2F)
                                           const lilm__bf16 *dout, // (N, F)
                                           const lilm__bf16 *in,   // (N, 2F)
                                           size_t N, size_t F)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < N * F; i += (size_t)gridDim.x * blockDim.x) {
        size_t r = i / F, j = i % F;
        float g = lilm__ld(in + r * 2 * F + j), u = lilm__ld(in + r * 2 * F + F + j), d = lilm__ld(dout + i);
        float s = 1.0f / (1.0f + expf(-g));
        din[r * 2 * F + j] = lilm__bf(d * u * s * (1.0f + g * (1.0f - s)));
        din[r * 2 * F + F + j] = lilm__bf(d * g * s);
    }
}

static __global__ void add_kernel(lilm__bf16 *out,     // (n), may alias a
                                  const lilm__bf16 *a, // (n)
                                  const lilm__bf16 *b, // (n)
                                  size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        out[i] = lilm__bf(lilm__ld(a + i) + lilm__ld(b + i));
}

static __global__ void scale_kernel(float *x, // (n)
                                    size_t n, float s)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        x[i] *= s;
}

static __global__ void axpy_kernel(float *y,       // (n)
                                   const float *x, // (n)
                                   size_t n, float a)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        y[i] += a * x[i];
}

/* red[0] += sum of squares (double), red[1] (as unsigned long long) += bad count. */
static __global__ void sanitize_kernel(float *g,    // (n)
                                       size_t n,
                                       double *red) // (2) sum of squares, bad count
{
    __shared__ double s_sum[LILM__EW_THREADS / 32];
    __shared__ unsigned long long s_bad[LILM__EW_THREADS / 32];
    double sum = 0.0;
    unsigned long long bad = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float x = g[i];
        if (!isfinite(x)) {
            g[i] = 0.0f;
            bad++;
        } else {
            sum += (double)x * (double)x;
        }
    }
    for (int o = 16; o > 0; o >>= 1) {
        sum += __shfl_xor_sync(0xffffffffu, sum, o);
        bad += __shfl_xor_sync(0xffffffffu, bad, o);
    }
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (lane == 0) {
        s_sum[warp] = sum;
        s_bad[warp] = bad;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        double bsum = 0.0;
        unsigned long long bbad = 0;
        for (int w = 0; w < (int)(blockDim.x / 32); w++) {
            bsum += s_sum[w];
            bbad += s_bad[w];
        }
        atomicAdd(red, bsum);
        if (bbad) atomicAdd((unsigned long long *)(red + 1), bbad);
    }
}

/* ---- launchers ---- */

/* The activations this backend has: lilm__act_f/lilm__act_grad (cuda_impl.h)
 * for the pointwise ones. */
extern "C" int lilm__cuda_act_supported(lilm_backend *be, lilm_act act)
{
    switch (act) {
    case LILM_ACT_NONE:
    case LILM_ACT_GELU:
    case LILM_ACT_RELU:
    case LILM_ACT_RELU2:
    case LILM_ACT_SWIGLU:
        return 1;
    default:
        return 0;
    }
}

extern "C" int lilm__cuda_act_pointwise(lilm_act act)
{
    const lilm_act_desc *d = lilm_act_info(act);
    return d && d->gate == 1 && lilm__cuda_act_supported(NULL, act);
}

extern "C" void lilm__cuda_cast_to_act(lilm_backend *be, void *out, const float *in, size_t n)
{
    lilm__cuda *cu = lilm__cu(be);
    if (n == 0) return;
    LILM_ASSERT(out && in);
    cast_to_bf16_kernel<<<lilm__ew_grid(cu, n), LILM__EW_THREADS, 0, cu->stream>>>((lilm__bf16 *)out, in, n);
    lilm__cuda_rt_ok(cu, cudaGetLastError(), "cast_to_bf16_kernel", __FILE__, __LINE__);
}

extern "C" void lilm__cuda_cast_to_f32(lilm_backend *be, float *out, const void *in, size_t n)
{
    lilm__cuda *cu = lilm__cu(be);
    if (n == 0) return;
    LILM_ASSERT(out && in);
    cast_to_f32_kernel<<<lilm__ew_grid(cu, n), LILM__EW_THREADS, 0, cu->stream>>>(out, (const lilm__bf16 *)in, n);
    lilm__cuda_rt_ok(cu, cudaGetLastError(), "cast_to_f32_kernel", __FILE__, __LINE__);
}

extern "C" void lilm__cuda_act_forward(lilm_backend *be, void *out, const void *in, size_t n, lilm_act act)
{
    lilm__cuda *cu = lilm__cu(be);
    if (n == 0) return;
    LILM_ASSERT(out && in);
    LILM_ASSERT(lilm__cuda_act_pointwise(act));
    act_forward_kernel<<<lilm__ew_grid(cu, n), LILM__EW_THREADS, 0, cu->stream>>>(
        (lilm__bf16 *)out, (const lilm__bf16 *)in, n, (int)act);
    lilm__cuda_rt_ok(cu, cudaGetLastError(), "act_forward_kernel", __FILE__, __LINE__);
}

extern "C" void lilm__cuda_act_backward(lilm_backend *be, void *din, const void *dout, const void *in,
                                        size_t n, lilm_act act)
{
    lilm__cuda *cu = lilm__cu(be);
    if (n == 0) return;
    LILM_ASSERT(din && dout && in);
    LILM_ASSERT(lilm__cuda_act_pointwise(act));
    act_backward_kernel<<<lilm__ew_grid(cu, n), LILM__EW_THREADS, 0, cu->stream>>>(
        (lilm__bf16 *)din, (const lilm__bf16 *)dout, (const lilm__bf16 *)in, n, (int)act);
    lilm__cuda_rt_ok(cu, cudaGetLastError(), "act_backward_kernel", __FILE__, __LINE__);
}

static int glu_ok(lilm_act act)
{
    const lilm_act_desc *d = lilm_act_info(act);
    return d && d->gate == 2 && lilm__cuda_act_supported(NULL, act);
}

extern "C" void lilm__cuda_glu_forward(lilm_backend *be, void *out, const void *in, size_t N, size_t F, lilm_act act)
{
    lilm__cuda *cu = lilm__cu(be);
    if (N == 0 || F == 0) return;
    LILM_ASSERT(out && in && glu_ok(act));
    glu_forward_kernel<<<lilm__ew_grid(cu, N * F), LILM__EW_THREADS, 0, cu->stream>>>(
        (lilm__bf16 *)out, (const lilm__bf16 *)in, N, F);
    lilm__cuda_rt_ok(cu, cudaGetLastError(), "glu_forward_kernel", __FILE__, __LINE__);
}

extern "C" void lilm__cuda_glu_backward(lilm_backend *be, void *din, const void *dout, const void *in,
                                        size_t N, size_t F, lilm_act act)
{
    lilm__cuda *cu = lilm__cu(be);
    if (N == 0 || F == 0) return;
    LILM_ASSERT(din && dout && in && glu_ok(act));
    glu_backward_kernel<<<lilm__ew_grid(cu, N * F), LILM__EW_THREADS, 0, cu->stream>>>(
        (lilm__bf16 *)din, (const lilm__bf16 *)dout, (const lilm__bf16 *)in, N, F);
    lilm__cuda_rt_ok(cu, cudaGetLastError(), "glu_backward_kernel", __FILE__, __LINE__);
}

extern "C" void lilm__cuda_add(lilm_backend *be, void *out, const void *a, const void *b, size_t n)
{
    lilm__cuda *cu = lilm__cu(be);
    if (n == 0) return;
    LILM_ASSERT(out && a && b);
    add_kernel<<<lilm__ew_grid(cu, n), LILM__EW_THREADS, 0, cu->stream>>>(
        (lilm__bf16 *)out, (const lilm__bf16 *)a, (const lilm__bf16 *)b, n);
    lilm__cuda_rt_ok(cu, cudaGetLastError(), "add_kernel", __FILE__, __LINE__);
}

extern "C" void lilm__cuda_accumulate(lilm_backend *be, void *out, const void *a, size_t n)
{
    lilm__cuda *cu = lilm__cu(be);
    if (n == 0) return;
    LILM_ASSERT(out && a);
    add_kernel<<<lilm__ew_grid(cu, n), LILM__EW_THREADS, 0, cu->stream>>>(
        (lilm__bf16 *)out, (const lilm__bf16 *)out, (const lilm__bf16 *)a, n);
    lilm__cuda_rt_ok(cu, cudaGetLastError(), "add_kernel (accumulate)", __FILE__, __LINE__);
}

extern "C" void lilm__cuda_copy(lilm_backend *be, void *dst, const void *src, size_t n)
{
    lilm__cuda *cu = lilm__cu(be);
    if (n == 0 || dst == src) return;
    LILM_ASSERT(dst && src);
    LILM__CU_OK(cu, cudaMemcpyAsync(dst, src, n * sizeof(lilm__bf16), cudaMemcpyDeviceToDevice, cu->stream));
}

extern "C" void lilm__cuda_scale(lilm_backend *be, float *x, size_t n, float s)
{
    lilm__cuda *cu = lilm__cu(be);
    if (n == 0) return;
    LILM_ASSERT(x);
    scale_kernel<<<lilm__ew_grid(cu, n), LILM__EW_THREADS, 0, cu->stream>>>(x, n, s);
    lilm__cuda_rt_ok(cu, cudaGetLastError(), "scale_kernel", __FILE__, __LINE__);
}

extern "C" void lilm__cuda_axpy(lilm_backend *be, float *y, const float *x, size_t n, float a)
{
    lilm__cuda *cu = lilm__cu(be);
    if (n == 0) return;
    LILM_ASSERT(y && x);
    axpy_kernel<<<lilm__ew_grid(cu, n), LILM__EW_THREADS, 0, cu->stream>>>(y, x, n, a);
    lilm__cuda_rt_ok(cu, cudaGetLastError(), "axpy_kernel", __FILE__, __LINE__);
}

extern "C" void lilm__cuda_grad_sanitize(lilm_backend *be, float *g, size_t n, double *sumsq, int64_t *n_bad)
{
    lilm__cuda *cu = lilm__cu(be);
    double host[2] = {0.0, 0.0};
    *sumsq = 0.0;
    *n_bad = 0;
    if (n == 0) return;
    LILM_ASSERT(g);
    if (!LILM__CU_OK(cu, cudaMemsetAsync(cu->red, 0, 2 * sizeof(double), cu->stream))) return;
    sanitize_kernel<<<lilm__ew_grid(cu, n), LILM__EW_THREADS, 0, cu->stream>>>(g, n, cu->red);
    if (!lilm__cuda_rt_ok(cu, cudaGetLastError(), "sanitize_kernel", __FILE__, __LINE__)) return;
    if (!LILM__CU_OK(cu, cudaMemcpyAsync(host, cu->red, sizeof host, cudaMemcpyDeviceToHost, cu->stream)) ||
        !LILM__CU_OK(cu, cudaStreamSynchronize(cu->stream)))
        return;
    unsigned long long bad;
    memcpy(&bad, &host[1], sizeof bad);
    *sumsq = host[0];
    *n_bad = (int64_t)bad;
}
