/*
 * elementwise.c: activations, add/accumulate/copy and the (trivial on CPU)
 * dtype casts. lilm__cpu_act_supported lists the activations this backend
 * has; those past GELU and ReLU live in lilm__cpu_act_rows/_grad_rows, which
 * matmul.c's epilogue calls too. Every loop is a static OpenMP split plus `omp simd`, so the
 * result of each element never depends on the thread count.
 */
#include "cpu/cpu_impl.h"
#include "cpu/cpu_math.h"

#include <omp.h>
#include <string.h>

/* Below this many elements one thread does the work (a parallel region
 * costs a few microseconds). */
#define LILM_CPU_SMALL 16384

int lilm__cpu_act_supported(lilm_backend *be, lilm_act act)
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

/* ReLU^2: max(x, 0)^2, derivative 2 max(x, 0). */
void lilm__cpu_act_rows(float *out, const float *in, size_t n, lilm_act act)
{
    if (act == LILM_ACT_RELU2) {
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            out[i] = in[i] > 0.0f ? in[i] * in[i] : 0.0f;
    }
}

void lilm__cpu_act_grad_rows(float *d, const float *in, size_t n, lilm_act act)
{
    if (act == LILM_ACT_RELU2) {
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            d[i] = in[i] > 0.0f ? 2.0f * in[i] * d[i] : 0.0f;
    }
}

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
    } else if (act != LILM_ACT_NONE) {
#pragma omp parallel num_threads(nt)
        {
            size_t lo, hi;
            lilm__cpu_split(n, omp_get_num_threads(), omp_get_thread_num(), 16, &lo, &hi);
            lilm__cpu_act_rows(out + lo, in + lo, hi - lo, act);
        }
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
    } else if (act != LILM_ACT_NONE) {
#pragma omp parallel num_threads(nt)
        {
            size_t lo, hi;
            lilm__cpu_split(n, omp_get_num_threads(), omp_get_thread_num(), 16, &lo, &hi);
            if (din != dout) memmove(din + lo, dout + lo, (hi - lo) * sizeof(float));
            lilm__cpu_act_grad_rows(din + lo, in + lo, hi - lo, act);
        }
    } else if (din != dout) {
        memmove(din, dout, n * sizeof(float));
    }
}

/* ---- gated activations (SwiGLU) ---- */

static inline float sigmoid(float x) { return 1.0f / (1.0f + lilm__cpu_expf(-x)); }

void lilm__cpu_glu_forward(lilm_backend *be, void *out_, const void *in_, size_t N, size_t F, lilm_act act)
{
    float *out = out_;          // (N, F)
    const float *in = in_;      // (N, 2F): [g | u] per row
    if (act != LILM_ACT_SWIGLU) {
        lilm__cpu_fail(be, LILM_ERR_ARG, "glu_forward: activation %d is not gated", (int)act);
        return;
    }
    int nt = N * F < LILM_CPU_SMALL ? 1 : lilm__cpu(be)->threads;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (size_t r = 0; r < N; r++) {
        const float *g = in + r * 2 * F, *u = g + F;
        float *o = out + r * F;
#pragma omp simd
        for (size_t j = 0; j < F; j++)
            o[j] = g[j] * sigmoid(g[j]) * u[j];
    }
}

/* d silu(g) / dg = s (1 + g (1 - s)) with s = sigmoid(g). */
void lilm__cpu_glu_backward(lilm_backend *be, void *din_, const void *dout_, const void *in_,
                            size_t N, size_t F, lilm_act act)
{
    float *din = din_;          // (N, 2F), may alias in
    const float *dout = dout_;  // (N, F)
    const float *in = in_;      // (N, 2F)
    if (act != LILM_ACT_SWIGLU) {
        lilm__cpu_fail(be, LILM_ERR_ARG, "glu_backward: activation %d is not gated", (int)act);
        return;
    }
    int nt = N * F < LILM_CPU_SMALL ? 1 : lilm__cpu(be)->threads;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (size_t r = 0; r < N; r++) {
        const float *g = in + r * 2 * F, *u = g + F, *d = dout + r * F;
        float *dg = din + r * 2 * F, *du = dg + F;
#pragma omp simd
        for (size_t j = 0; j < F; j++) {
            float gj = g[j], uj = u[j], s = sigmoid(gj);
            du[j] = d[j] * gj * s;
            dg[j] = d[j] * uj * s * (1.0f + gj * (1.0f - s));
        }
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
