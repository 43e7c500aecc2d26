/*
 * elementwise.c: activations, add/accumulate/copy and the (trivial on CPU)
 * dtype casts. Every loop is a static OpenMP split plus `omp simd`, so the
 * result of each element never depends on the thread count.
 */
#include "cpu/cpu_impl.h"
#include "cpu/cpu_math.h"

#include <string.h>

/* Below this many elements one thread does the work (a parallel region
 * costs a few microseconds). */
#define LILM_CPU_SMALL 16384

void lilm__cpu_act_forward(lilm_backend *be, void *out_, const void *in_, size_t n, lilm_act act)
{
    float *out = out_;          // (n)
    const float *in = in_;      // (n)
    int nt = n < LILM_CPU_SMALL ? 1 : lilm__cpu(be)->threads;
    if (act == LILM_ACT_GELU) {
#pragma omp parallel for simd num_threads(nt) schedule(static)
        for (size_t i = 0; i < n; i++)
            out[i] = lilm__cpu_gelu(in[i]);
    } else if (act == LILM_ACT_RELU) {
#pragma omp parallel for simd num_threads(nt) schedule(static)
        for (size_t i = 0; i < n; i++)
            out[i] = in[i] > 0.0f ? in[i] : 0.0f;
    } else if (out != in) {
        memmove(out, in, n * sizeof(float));
    }
}

void lilm__cpu_act_backward(lilm_backend *be, void *din_, const void *dout_, const void *in_,
                            size_t n, lilm_act act)
{
    float *din = din_;          // (n)
    const float *dout = dout_;  // (n)
    const float *in = in_;      // (n)
    int nt = n < LILM_CPU_SMALL ? 1 : lilm__cpu(be)->threads;
    if (act == LILM_ACT_GELU) {
#pragma omp parallel for simd num_threads(nt) schedule(static)
        for (size_t i = 0; i < n; i++)
            din[i] = dout[i] * lilm__cpu_gelu_grad(in[i]);
    } else if (act == LILM_ACT_RELU) {
#pragma omp parallel for simd num_threads(nt) schedule(static)
        for (size_t i = 0; i < n; i++)
            din[i] = in[i] > 0.0f ? dout[i] : 0.0f;
    } else if (din != dout) {
        memmove(din, dout, n * sizeof(float));
    }
}

void lilm__cpu_add(lilm_backend *be, void *out_, const void *a_, const void *b_, size_t n)
{
    float *out = out_;          // (n)
    const float *a = a_;        // (n)
    const float *b = b_;        // (n)
    int nt = n < LILM_CPU_SMALL ? 1 : lilm__cpu(be)->threads;
#pragma omp parallel for simd num_threads(nt) schedule(static)
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] + b[i];
}

void lilm__cpu_accumulate(lilm_backend *be, void *out_, const void *a_, size_t n)
{
    float *out = out_;          // (n)
    const float *a = a_;        // (n)
    int nt = n < LILM_CPU_SMALL ? 1 : lilm__cpu(be)->threads;
#pragma omp parallel for simd num_threads(nt) schedule(static)
    for (size_t i = 0; i < n; i++)
        out[i] += a[i];
}

void lilm__cpu_copy(lilm_backend *be, void *dst, const void *src, size_t n)
{
    if (dst != src)
        memmove(dst, src, n * sizeof(float));
}

void lilm__cpu_cast_to_act(lilm_backend *be, void *out, const float *in, size_t n)
{
    lilm__cpu_copy(be, out, in, n);
}

void lilm__cpu_cast_to_f32(lilm_backend *be, float *out, const void *in, size_t n)
{
    lilm__cpu_copy(be, out, in, n);
}
