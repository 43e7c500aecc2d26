/*
 * matmul.c: the Linear layer, out = act(in @ w^T + bias), and its backward.
 *
 * Every product is an OpenBLAS sgemm, called single-threaded by each OpenMP
 * thread on its own slice of OUTPUT rows (see cpu_backend.c), so no two
 * threads ever write the same element and nothing is reduced across threads:
 *   forward  out/pre (N,OC):  rows of N split;   bias pre-filled, beta = 1
 *                             (with an activation: beta = 0, and the bias
 *                             is added in the activation's pass)
 *   din (N,IC) = dpre @ w:    rows of N split;   beta = accumulate
 *   dw (OC,IC) += dpre^T in:  rows of OC split;  beta = 1
 *   dbias (OC) += sum_i dpre: columns of OC split, rows summed in order
 * The activation epilogue runs on each thread's rows right after its sgemm,
 * while they are still in cache.
 */
#include "cpu/cpu_impl.h"
#include "cpu/cpu_math.h"

#include <cblas.h>
#include <omp.h>
#include <string.h>

/* Output rows are split in multiples of this (a cache line of floats). */
#define LILM_CPU_ROW_ALIGN 16

/* The activation epilogue over `rows` rows of OC: pre += bias (when there
 * is one; the sgemm ran with beta = 0), out = act(pre), in one pass. */
static void act_rows(float *out, float *pre, const float *bias, size_t rows, size_t OC, lilm_act act)
{
    for (size_t r = 0; r < rows; r++) {
        float *p = pre + r * OC;
        float *o = out + r * OC;
        if (bias) {
#pragma omp simd
            for (size_t c = 0; c < OC; c++)
                p[c] += bias[c];
        }
        if (act == LILM_ACT_GELU) {
#pragma omp simd
            for (size_t c = 0; c < OC; c++)
                o[c] = lilm__cpu_gelu(p[c]);
        } else if (act == LILM_ACT_RELU) {
#pragma omp simd
            for (size_t c = 0; c < OC; c++)
                o[c] = p[c] > 0.0f ? p[c] : 0.0f;
        } else {
            lilm__cpu_act_rows(o, p, OC, act); /* the other activations (elementwise.c) */
        }
    }
}

void lilm__cpu_matmul_forward(lilm_backend *be, void *out_, void *pre_, const void *in_,
                              const void *w_, const float *bias,
                              size_t N, size_t IC, size_t OC, lilm_act act)
{
    float *out = out_;          // (N, OC)
    float *pre = pre_;          // (N, OC) or NULL when act == NONE
    const float *in = in_;      // (N, IC)
    const float *w = w_;        // (OC, IC)
    float *dst = act == LILM_ACT_NONE ? out : pre;
    if (!dst) {
        lilm__cpu_fail(be, LILM_ERR_ARG, "matmul_forward: an activation needs a `pre` buffer");
        return;
    }
#pragma omp parallel num_threads(lilm__cpu(be)->threads)
    {
        size_t lo, hi;
        lilm__cpu_split(N, omp_get_num_threads(), omp_get_thread_num(), LILM_CPU_ROW_ALIGN, &lo, &hi);
        if (hi > lo) {
            /* without an activation the bias is pre-filled (beta = 1); with
             * one it is added in the activation's pass over the rows */
            float beta = 0.0f;
            if (bias && act == LILM_ACT_NONE) {
                for (size_t i = lo; i < hi; i++)
                    memcpy(dst + i * OC, bias, OC * sizeof(float));
                beta = 1.0f;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(hi - lo), (int)OC, (int)IC,
                        1.0f, in + lo * IC, (int)IC, w, (int)IC, beta, dst + lo * OC, (int)OC);
            if (act != LILM_ACT_NONE)
                act_rows(out + lo * OC, pre + lo * OC, bias, hi - lo, OC, act);
        }
    }
}

void lilm__cpu_matmul_backward(lilm_backend *be, void *din_, float *dw, float *dbias,
                               void *dout_, const void *pre_, const void *in_, const void *w_,
                               size_t N, size_t IC, size_t OC, lilm_act act, int accumulate)
{
    float *din = din_;          // (N, IC) or NULL
    float *dpre = dout_;        // (N, OC): dout, becomes dpre in place
    const float *pre = pre_;    // (N, OC) when act != NONE
    const float *in = in_;      // (N, IC)
    const float *w = w_;        // (OC, IC)
    lilm_cpu_state *st = lilm__cpu(be);
    if (dbias && OC > 2 * st->partial_width) {
        lilm__cpu_fail(be, LILM_ERR_ARG, "matmul_backward: OC = %zu exceeds the reserved width %zu",
                       OC, st->partial_width);
        return;
    }
#pragma omp parallel num_threads(st->threads)
    {
        int tid = omp_get_thread_num(), cnt = omp_get_num_threads();
        size_t lo, hi;
        /* dpre = dout * act'(pre), and din, over this thread's rows of N */
        lilm__cpu_split(N, cnt, tid, LILM_CPU_ROW_ALIGN, &lo, &hi);
        if (hi > lo && act == LILM_ACT_GELU) {
            float *d = dpre + lo * OC;
            const float *p = pre + lo * OC;
            size_t n = (hi - lo) * OC;
#pragma omp simd
            for (size_t i = 0; i < n; i++)
                d[i] *= lilm__cpu_gelu_grad(p[i]);
        } else if (hi > lo && act == LILM_ACT_RELU) {
            float *d = dpre + lo * OC;
            const float *p = pre + lo * OC;
            size_t n = (hi - lo) * OC;
#pragma omp simd
            for (size_t i = 0; i < n; i++)
                d[i] = p[i] > 0.0f ? d[i] : 0.0f;
        } else if (hi > lo && act != LILM_ACT_NONE) {
            lilm__cpu_act_grad_rows(dpre + lo * OC, pre + lo * OC, (hi - lo) * OC, act);
        }
        if (din && hi > lo)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(hi - lo), (int)IC, (int)OC,
                        1.0f, dpre + lo * OC, (int)OC, w, (int)IC, accumulate ? 1.0f : 0.0f,
                        din + lo * IC, (int)IC);
#pragma omp barrier
        /* dw and dbias over this thread's rows of OC (all of dpre is ready) */
        lilm__cpu_split(OC, cnt, tid, LILM_CPU_ROW_ALIGN, &lo, &hi);
        if (hi > lo) {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)(hi - lo), (int)IC, (int)N,
                        1.0f, dpre + lo, (int)OC, in, (int)IC, 1.0f, dw + lo * IC, (int)IC);
            if (dbias) {
                float *acc = st->partial + lo;  // (hi - lo) column sums of this slice
                memset(acc, 0, (hi - lo) * sizeof(float));
                for (size_t i = 0; i < N; i++) {
                    const float *row = dpre + i * OC;
#pragma omp simd
                    for (size_t c = lo; c < hi; c++)
                        acc[c - lo] += row[c];
                }
                for (size_t c = lo; c < hi; c++)
                    dbias[c] += acc[c - lo];
            }
        }
    }
}
