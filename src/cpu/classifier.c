/*
 * classifier.c: tied classifier + cross-entropy, chunked over rows.
 *
 * Rows are processed in chunks of st->xent_rows (sized by reserve() so the
 * chunk's (rows, V) fp32 logits stay near 16 MiB). Per chunk, in one OpenMP
 * region:
 *   1. L = x_chunk @ wte^T          sgemm, each thread a slice of V columns
 *   2. per row: m = max, e = exp(L - m) (in place), lse = m + log(sum e) with
 *      the sum in double; loss = lse - L[target]; with a gradient wanted,
 *      G = e * (scale / sum) - scale * onehot(target), so G is dL/dlogits
 *      times dloss_scale. Rows whose target == ignore_id get loss 0 and G 0.
 *   3. dx_chunk = G @ wte           sgemm, each thread a slice of C columns
 *      dwte    += G^T @ x_chunk     sgemm, each thread a slice of V rows
 * Every output element is written by one thread in a fixed order, so results
 * are bit-identical for a fixed thread count. dwte may be NULL (dx only).
 * A target outside [0, V) that is not ignore_id is recorded as an error
 * (sync() reports it); its row counts 0.
 */
#include "cpu/cpu_impl.h"
#include "cpu/cpu_math.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>

void lilm__cpu_classifier_xent(lilm_backend *be, float *losses, void *dx_, float *dwte,
                               const void *x_, const void *wte_, const int32_t *targets,
                               size_t N, size_t C, size_t V, int32_t ignore_id, float dloss_scale)
{
    float *dx = dx_;                // (N, C) or NULL
    const float *x = x_;            // (N, C)
    const float *wte = wte_;        // (V, C)
    lilm_cpu_state *st = lilm__cpu(be);
    if (!st->xent || V > st->plan.vocab || st->xent_rows == 0) {
        lilm__cpu_fail(be, LILM_ERR_ARG, "classifier_xent: vocab %zu exceeds the reserved %zu (call reserve())",
                       V, st->plan.vocab);
        return;
    }
    size_t line = LILM_CPU_ALIGN / sizeof(float);
    size_t ldl = (V + line - 1) / line * line;
    size_t chunk = st->xent_rows;
    int64_t bad = -1;
    for (size_t c0 = 0; c0 < N; c0 += chunk) {
        size_t rows = N - c0 < chunk ? N - c0 : chunk;
        float *L = st->xent;                    // (rows, ldl) logits, then G
        const float *xc = x + c0 * C;           // (rows, C)
#pragma omp parallel num_threads(st->threads) reduction(max : bad)
        {
            int tid = omp_get_thread_num(), cnt = omp_get_num_threads();
            size_t lo, hi;
            lilm__cpu_split(V, cnt, tid, 16, &lo, &hi);
            if (hi > lo)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)(hi - lo), (int)C,
                            1.0f, xc, (int)C, wte + lo * C, (int)C, 0.0f, L + lo, (int)ldl);
#pragma omp barrier
            lilm__cpu_split(rows, cnt, tid, 1, &lo, &hi);
            for (size_t r = lo; r < hi; r++) {
                float *l = L + r * ldl;         // (V)
                int32_t tgt = targets[c0 + r];
                if (tgt == ignore_id || tgt < 0 || (size_t)tgt >= V) {
                    if (tgt != ignore_id)
                        bad = bad > (int64_t)(c0 + r) ? bad : (int64_t)(c0 + r);
                    losses[c0 + r] = 0.0f;
                    if (dx) {
#pragma omp simd
                        for (size_t j = 0; j < V; j++)
                            l[j] = 0.0f;
                    }
                    continue;
                }
                float mx = l[0];
#pragma omp simd reduction(max : mx)
                for (size_t j = 1; j < V; j++)
                    mx = l[j] > mx ? l[j] : mx;
                double sum = 0.0;
                float lt = l[tgt];
                /* e = exp(l - max) in place (kept for the gradient), then
                 * its sum in double */
#pragma omp simd
                for (size_t j = 0; j < V; j++)
                    l[j] = lilm__cpu_expf(l[j] - mx);
#pragma omp simd reduction(+ : sum)
                for (size_t j = 0; j < V; j++)
                    sum += (double)l[j];
                if (dx) {
                    float g = (float)((double)dloss_scale / sum);
#pragma omp simd
                    for (size_t j = 0; j < V; j++)
                        l[j] *= g;
                    l[tgt] -= dloss_scale;
                }
                losses[c0 + r] = (float)((double)mx + log(sum) - (double)lt);
            }
            if (dx) {
#pragma omp barrier
                lilm__cpu_split(C, cnt, tid, 16, &lo, &hi);
                if (hi > lo)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)(hi - lo), (int)V,
                                1.0f, L, (int)ldl, wte + lo, (int)C, 0.0f, dx + c0 * C + lo, (int)C);
                lilm__cpu_split(V, cnt, tid, 16, &lo, &hi);
                if (dwte && hi > lo)
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)(hi - lo), (int)C, (int)rows,
                                1.0f, L + lo, (int)ldl, xc, (int)C, 1.0f, dwte + lo * C, (int)C);
            }
        }
    }
    if (bad >= 0)
        lilm__cpu_fail(be, LILM_ERR_ARG, "classifier_xent: target %d at row %lld is outside [0, %zu)",
                       (int)targets[bad], (long long)bad, V);
}

void lilm__cpu_classifier_logits(lilm_backend *be, float *logits, const void *x_, const void *wte_,
                                 size_t N, size_t C, size_t V)
{
    const float *x = x_;            // (N, C)
    const float *wte = wte_;        // (V, C)
#pragma omp parallel num_threads(lilm__cpu(be)->threads)
    {
        size_t lo, hi;
        lilm__cpu_split(V, omp_get_num_threads(), omp_get_thread_num(), 16, &lo, &hi);
        if (hi > lo && N > 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)(hi - lo), (int)C,
                        1.0f, x, (int)C, wte + lo * C, (int)C, 0.0f, logits + lo, (int)V);
    }
}
