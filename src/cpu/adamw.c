/*
 * adamw.c: the optimizer step and the gradient utilities, all fp32.
 *
 * AdamW follows PyTorch's single-tensor AdamW (torch.optim.AdamW, foreach and
 * fused off) operation for operation, so both produce the same bits:
 *   p *= 1 - lr*wd
 *   m  = m + (1-b1) (g - m)                 (torch's lerp, weight < 0.5)
 *   v  = b2 v + (1-b2) g^2
 *   p += -(lr / (1-b1^t)) * m / (sqrt(v) / sqrt(1-b2^t) + eps)
 * with the bias corrections and step size computed in double (Python floats
 * in torch) and rounded to fp32 once.
 *
 * grad_sanitize sums squares in double; each thread sums a fixed contiguous
 * slice and the per-thread partials are added in thread order, so a fixed
 * thread count gives bit-identical sums.
 */
#include "cpu/cpu_impl.h"

#include <math.h>
#include <omp.h>

/* Most threads any parallel region here uses (partials live on the stack). */
#define LILM_CPU_MAX_THREADS 256

void lilm__cpu_grad_sanitize(lilm_backend *be, float *g, size_t n, double *sumsq, int64_t *n_bad)
{
    double part_sum[LILM_CPU_MAX_THREADS];
    int64_t part_bad[LILM_CPU_MAX_THREADS];
    int nt = be->threads < LILM_CPU_MAX_THREADS ? be->threads : LILM_CPU_MAX_THREADS;
    if (n < 65536)
        nt = 1;
    int used = 1;
#pragma omp parallel num_threads(nt)
    {
        int tid = omp_get_thread_num(), cnt = omp_get_num_threads();
        size_t lo, hi;
        lilm__cpu_split(n, cnt, tid, 16, &lo, &hi);
        double s = 0.0;
        int64_t bad = 0;
        for (size_t i = lo; i < hi; i++) {
            float x = g[i];
            if (!isfinite(x)) {
                g[i] = 0.0f;
                bad++;
                continue;
            }
            s += (double)x * (double)x;
        }
        part_sum[tid] = s;
        part_bad[tid] = bad;
        if (tid == 0)
            used = cnt;
    }
    double s = 0.0;
    int64_t bad = 0;
    for (int i = 0; i < used; i++) {
        s += part_sum[i];
        bad += part_bad[i];
    }
    *sumsq = s;
    *n_bad = bad;
}

void lilm__cpu_scale(lilm_backend *be, float *x, size_t n, float s)
{
    int nt = n < 16384 ? 1 : be->threads;
#pragma omp parallel for simd num_threads(nt) schedule(static)
    for (size_t i = 0; i < n; i++)
        x[i] *= s;
}

void lilm__cpu_axpy(lilm_backend *be, float *y, const float *x, size_t n, float a)
{
    int nt = n < 16384 ? 1 : be->threads;
#pragma omp parallel for simd num_threads(nt) schedule(static)
    for (size_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

void lilm__cpu_adamw(lilm_backend *be, const lilm_adamw_tensor *tensors, size_t n_tensors,
                     const lilm_adamw_hparams *hp)
{
    double t = (double)hp->step;
    double bc1 = 1.0 - pow((double)hp->beta1, t);
    double bc2 = 1.0 - pow((double)hp->beta2, t);
    float step_size = (float)((double)hp->lr / bc1);
    float bc2_sqrt = (float)sqrt(bc2);
    float b1w = (float)(1.0 - (double)hp->beta1); /* lerp weight */
    float b2 = hp->beta2, one_minus_b2 = (float)(1.0 - (double)hp->beta2);
    float eps = hp->eps;
    for (size_t ti = 0; ti < n_tensors; ti++) {
        const lilm_adamw_tensor *tt = &tensors[ti];
        float *p = tt->param;          // (n)
        const float *g = tt->grad;     // (n)
        float *m = tt->m, *v = tt->v;  // (n)
        float decay = (float)(1.0 - (double)hp->lr * (double)tt->weight_decay);
        size_t n = tt->n;
        int nt = n < 16384 ? 1 : be->threads;
#pragma omp parallel for simd num_threads(nt) schedule(static)
        for (size_t i = 0; i < n; i++) {
            float pi = p[i] * decay;
            float gi = g[i];
            float mi = m[i] + b1w * (gi - m[i]);
            float vi = v[i] * b2 + one_minus_b2 * gi * gi;
            float denom = sqrtf(vi) / bc2_sqrt + eps;
            p[i] = pi + (-step_size) * (mi / denom);
            m[i] = mi;
            v[i] = vi;
        }
    }
}
