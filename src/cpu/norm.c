/*
 * norm.c: RMSNorm and LayerNorm, forward and backward, one row per task.
 *
 * RMSNorm (mean == NULL and bias == NULL):
 *   r = 1/sqrt(mean(x^2) + eps), y = x r w
 *   dx += r (w dy) - x r^3 / C * sum(w dy x),  dw += dy x r
 * LayerNorm:
 *   xh = (x - mu) r with r = 1/sqrt(var + eps), y = xh w + b
 *   dx += r (g - mean(g) - xh mean(g xh)) with g = w dy,  dw += dy xh, db += dy
 * Row statistics are accumulated in double. The weight and bias gradients
 * are summed by each thread over its contiguous slice of rows into its own
 * partial (scratch), then the partials are added in thread order: no atomics,
 * bit-identical for a fixed thread count.
 */
#include "cpu/cpu_impl.h"

#include <math.h>
#include <omp.h>
#include <string.h>

void lilm__cpu_norm_forward(lilm_backend *be, void *out_, float *mean, float *rstd,
                            const void *in_, const float *weight, const float *bias,
                            size_t N, size_t C, float eps)
{
    float *out = out_;              // (N, C)
    const float *in = in_;          // (N, C)
    int layer = mean != NULL || bias != NULL;
#pragma omp parallel for num_threads(lilm__cpu(be)->threads) schedule(static)
    for (size_t i = 0; i < N; i++) {
        const float *x = in + i * C;   // (C)
        float *y = out + i * C;        // (C)
        double mu = 0.0;
        if (layer) {
            double s = 0.0;
#pragma omp simd reduction(+ : s)
            for (size_t c = 0; c < C; c++)
                s += x[c];
            mu = s / (double)C;
        }
        double ss = 0.0;
#pragma omp simd reduction(+ : ss)
        for (size_t c = 0; c < C; c++) {
            double d = (double)x[c] - mu;
            ss += d * d;
        }
        float r = (float)(1.0 / sqrt(ss / (double)C + (double)eps));
        float m = (float)mu;
        if (mean)
            mean[i] = m;
        rstd[i] = r;
        if (bias) {
#pragma omp simd
            for (size_t c = 0; c < C; c++)
                y[c] = (x[c] - m) * r * weight[c] + bias[c];
        } else {
#pragma omp simd
            for (size_t c = 0; c < C; c++)
                y[c] = (x[c] - m) * r * weight[c];
        }
    }
}

void lilm__cpu_norm_backward(lilm_backend *be, void *din_, float *dweight, float *dbias,
                             const void *dout_, const void *in_, const float *weight,
                             const float *mean, const float *rstd, size_t N, size_t C)
{
    float *din = din_;              // (N, C)
    const float *dout = dout_;      // (N, C)
    const float *in = in_;          // (N, C)
    lilm_cpu_state *st = lilm__cpu(be);
    if (C > st->partial_width) {
        lilm__cpu_fail(be, LILM_ERR_ARG, "norm_backward: C = %zu exceeds the reserved width %zu",
                       C, st->partial_width);
        return;
    }
    size_t W = st->partial_width;
    int used = 1;
#pragma omp parallel num_threads(st->threads)
    {
        int tid = omp_get_thread_num(), cnt = omp_get_num_threads();
        float *pw = st->partial + (size_t)tid * 2 * W; // (C) this thread's dweight
        float *pb = pw + W;                            // (C) this thread's dbias
        memset(pw, 0, 2 * W * sizeof(float));
        size_t lo, hi;
        lilm__cpu_split(N, cnt, tid, 1, &lo, &hi);
        for (size_t i = lo; i < hi; i++) {
            const float *x = in + i * C, *dy = dout + i * C;  // (C)
            float *dx = din + i * C;                           // (C)
            float r = rstd[i], m = mean ? mean[i] : 0.0f;
            double sg = 0.0, sgx = 0.0;
#pragma omp simd reduction(+ : sg, sgx)
            for (size_t c = 0; c < C; c++) {
                float g = weight[c] * dy[c];
                float xh = (x[c] - m) * r;
                sg += g;
                sgx += g * xh;
            }
            float mg = mean ? (float)(sg / (double)C) : 0.0f;
            float mgx = (float)(sgx / (double)C);
#pragma omp simd
            for (size_t c = 0; c < C; c++) {
                float xh = (x[c] - m) * r;
                dx[c] += r * (weight[c] * dy[c] - mg - xh * mgx);
                pw[c] += dy[c] * xh;
                pb[c] += dy[c];
            }
        }
        if (tid == 0)
            used = cnt;
    }
    for (int t = 0; t < used; t++) {
        const float *pw = st->partial + (size_t)t * 2 * W, *pb = pw + W;
        for (size_t c = 0; c < C; c++)
            dweight[c] += pw[c];
        if (dbias)
            for (size_t c = 0; c < C; c++)
                dbias[c] += pb[c];
    }
}
