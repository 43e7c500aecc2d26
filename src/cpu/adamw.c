/*
 * adamw.c: the optimizer step and the gradient utilities, all fp32.
 *
 * AdamW follows PyTorch's single-tensor AdamW (torch.optim.AdamW, foreach and
 * fused off) operation for operation, in the same order (the results can
 * still differ in the last bit: beta1/beta2 arrive as fp32 here, and torch's
 * vector kernels may contract to FMA):
 *   p *= 1 - lr*wd
 *   m  = m + (1-b1) (g - m)                 (torch's lerp, weight < 0.5)
 *   v  = b2 v + (1-b2) g^2
 *   p += -(lr / (1-b1^t)) * m / (sqrt(v) / sqrt(1-b2^t) + eps)
 * with the bias corrections and step size computed in double (Python floats
 * in torch) and rounded to fp32 once.
 *
 * axpy (y += a x) and scale are plain vector loops.
 *
 * grad_sanitize sums squares in double; each thread sums a fixed contiguous
 * slice and the per-thread partials are added in thread order, so a fixed
 * thread count gives bit-identical sums.
 */
#include "cpu/cpu_impl.h"

#include <math.h>
#include <omp.h>
#if defined(__AVX512F__) || defined(__AVX__)
#include <immintrin.h>
#endif

/* Most threads any parallel region here uses (partials live on the stack). */
#define LILM_CPU_MAX_THREADS 256

void lilm__cpu_grad_sanitize(lilm_backend *be, float *g, size_t n, double *sumsq, int64_t *n_bad)
{
    double part_sum[LILM_CPU_MAX_THREADS];
    int64_t part_bad[LILM_CPU_MAX_THREADS];
    int nt = lilm__cpu(be)->threads < LILM_CPU_MAX_THREADS ? lilm__cpu(be)->threads : LILM_CPU_MAX_THREADS;
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
#pragma omp simd reduction(+ : s, bad)
        for (size_t i = lo; i < hi; i++) {
            float x = g[i];
            union { float f; uint32_t u; } bits = {.f = x};
            int ok = (bits.u & 0x7f800000u) != 0x7f800000u; /* isfinite, branch-free */
            x = ok ? x : 0.0f;
            g[i] = x;
            bad += !ok;
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
    int nt = n < 16384 ? 1 : lilm__cpu(be)->threads;
#pragma omp parallel for simd num_threads(nt) schedule(static)
    for (size_t i = 0; i < n; i++)
        x[i] *= s;
}

void lilm__cpu_axpy(lilm_backend *be, float *y, const float *x, size_t n, float a)
{
    int nt = n < 16384 ? 1 : lilm__cpu(be)->threads;
#pragma omp parallel for simd num_threads(nt) schedule(static)
    for (size_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

/* The per-step constants of one tensor's update. */
typedef struct adamw_consts {
    float decay, b1w, b2, one_minus_b2, step_size, bc2_sqrt, eps;
} adamw_consts;

/* Updates elements [lo, hi). GCC will not vectorise sqrtf unless errno
 * handling is off (-fno-math-errno on the command line; the optimize pragma
 * of cpu_impl.h does not reach it), so the AVX-512 and AVX bodies are written
 * with intrinsics; they perform the same IEEE operations in the same order as
 * the scalar loop (no FMA contraction in ISO C mode), so all give equal bits. */
static void adamw_range(float *p, const float *g, float *m, float *v, size_t lo, size_t hi,
                        const adamw_consts *k)
{
    size_t i = lo;
#ifdef __AVX512F__
    const __m512 decay = _mm512_set1_ps(k->decay), b1w = _mm512_set1_ps(k->b1w);
    const __m512 b2 = _mm512_set1_ps(k->b2), omb2 = _mm512_set1_ps(k->one_minus_b2);
    const __m512 nstep = _mm512_set1_ps(-k->step_size), bc2s = _mm512_set1_ps(k->bc2_sqrt);
    const __m512 eps = _mm512_set1_ps(k->eps);
    for (; i + 16 <= hi; i += 16) {
        __m512 pi = _mm512_mul_ps(_mm512_loadu_ps(p + i), decay);
        __m512 gi = _mm512_loadu_ps(g + i), mi = _mm512_loadu_ps(m + i), vi = _mm512_loadu_ps(v + i);
        mi = _mm512_add_ps(mi, _mm512_mul_ps(b1w, _mm512_sub_ps(gi, mi)));
        vi = _mm512_add_ps(_mm512_mul_ps(vi, b2), _mm512_mul_ps(_mm512_mul_ps(omb2, gi), gi));
        __m512 denom = _mm512_add_ps(_mm512_div_ps(_mm512_sqrt_ps(vi), bc2s), eps);
        pi = _mm512_add_ps(pi, _mm512_mul_ps(nstep, _mm512_div_ps(mi, denom)));
        _mm512_storeu_ps(p + i, pi);
        _mm512_storeu_ps(m + i, mi);
        _mm512_storeu_ps(v + i, vi);
    }
#elif defined(__AVX__)
    const __m256 decay = _mm256_set1_ps(k->decay), b1w = _mm256_set1_ps(k->b1w);
    const __m256 b2 = _mm256_set1_ps(k->b2), omb2 = _mm256_set1_ps(k->one_minus_b2);
    const __m256 nstep = _mm256_set1_ps(-k->step_size), bc2s = _mm256_set1_ps(k->bc2_sqrt);
    const __m256 eps = _mm256_set1_ps(k->eps);
    for (; i + 8 <= hi; i += 8) {
        __m256 pi = _mm256_mul_ps(_mm256_loadu_ps(p + i), decay);
        __m256 gi = _mm256_loadu_ps(g + i), mi = _mm256_loadu_ps(m + i), vi = _mm256_loadu_ps(v + i);
        mi = _mm256_add_ps(mi, _mm256_mul_ps(b1w, _mm256_sub_ps(gi, mi)));
        vi = _mm256_add_ps(_mm256_mul_ps(vi, b2), _mm256_mul_ps(_mm256_mul_ps(omb2, gi), gi));
        __m256 denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vi), bc2s), eps);
        pi = _mm256_add_ps(pi, _mm256_mul_ps(nstep, _mm256_div_ps(mi, denom)));
        _mm256_storeu_ps(p + i, pi);
        _mm256_storeu_ps(m + i, mi);
        _mm256_storeu_ps(v + i, vi);
    }
#endif
    for (; i < hi; i++) {
        float pi = p[i] * k->decay;
        float gi = g[i];
        float mi = m[i] + k->b1w * (gi - m[i]);
        float vi = v[i] * k->b2 + k->one_minus_b2 * gi * gi;
        float denom = sqrtf(vi) / k->bc2_sqrt + k->eps;
        p[i] = pi + (-k->step_size) * (mi / denom);
        m[i] = mi;
        v[i] = vi;
    }
}

void lilm__cpu_adamw(lilm_backend *be, const lilm_adamw_tensor *tensors, size_t n_tensors,
                     const lilm_adamw_hparams *hp)
{
    double t = (double)hp->step;
    double bc1 = 1.0 - pow((double)hp->beta1, t);
    double bc2 = 1.0 - pow((double)hp->beta2, t);
    adamw_consts k = {
        .b1w = (float)(1.0 - (double)hp->beta1), /* torch's lerp weight */
        .b2 = hp->beta2,
        .one_minus_b2 = (float)(1.0 - (double)hp->beta2),
        .step_size = (float)((double)hp->lr / bc1),
        .bc2_sqrt = (float)sqrt(bc2),
        .eps = hp->eps,
    };
    for (size_t ti = 0; ti < n_tensors; ti++) {
        const lilm_adamw_tensor *tt = &tensors[ti];
        k.decay = (float)(1.0 - (double)hp->lr * (double)tt->weight_decay);
        size_t n = tt->n;
        int nt = n < 16384 ? 1 : lilm__cpu(be)->threads;
#pragma omp parallel num_threads(nt)
        {
            size_t lo, hi;
            lilm__cpu_split(n, omp_get_num_threads(), omp_get_thread_num(), 16, &lo, &hi);
            adamw_range(tt->param, tt->grad, tt->m, tt->v, lo, hi, &k);
        }
    }
}
