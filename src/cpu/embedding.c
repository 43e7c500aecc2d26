/*
 * embedding.c: token embedding lookup and its gradient scatter.
 *
 * The backward pass is deterministic without atomics: each thread owns a
 * slice of the C columns of dwte and walks all N tokens in order, so two
 * equal tokens always add into a row in the same order. Token ids outside
 * [0, V) are recorded as an error (reported by sync()); forward writes a zero
 * row for them and backward skips them.
 */
#include "cpu/cpu_impl.h"

#include <omp.h>
#include <string.h>

void lilm__cpu_embedding_forward(lilm_backend *be, void *out_, const int32_t *tokens,
                                 const void *wte_, size_t N, size_t C)
{
    float *out = out_;              // (N, C)
    const float *wte = wte_;        // (V, C)
    size_t V = lilm__cpu(be)->plan.vocab;
    int64_t bad = -1;
#pragma omp parallel for num_threads(lilm__cpu(be)->threads) schedule(static) reduction(max : bad)
    for (size_t i = 0; i < N; i++) {
        int32_t tok = tokens[i];
        if (tok < 0 || (V && (size_t)tok >= V)) {
            memset(out + i * C, 0, C * sizeof(float));
            bad = bad > (int64_t)i ? bad : (int64_t)i;
            continue;
        }
        memcpy(out + i * C, wte + (size_t)tok * C, C * sizeof(float));
    }
    if (bad >= 0)
        lilm__cpu_fail(be, LILM_ERR_ARG, "embedding: token id %d at row %lld is outside the vocabulary",
                       (int)tokens[bad], (long long)bad);
}

void lilm__cpu_embedding_backward(lilm_backend *be, float *dwte, const void *dout_,
                                  const int32_t *tokens, size_t N, size_t C, size_t V)
{
    const float *dout = dout_;      // (N, C)
    int nt = lilm__cpu(be)->threads;
#pragma omp parallel num_threads(nt)
    {
        size_t lo, hi;
        lilm__cpu_split(C, omp_get_num_threads(), omp_get_thread_num(), 16, &lo, &hi);
        for (size_t i = 0; i < N; i++) {
            int32_t tok = tokens[i];
            if (tok < 0 || (size_t)tok >= V)
                continue;
            float *dst = dwte + (size_t)tok * C;
            const float *src = dout + i * C;
#pragma omp simd
            for (size_t c = lo; c < hi; c++)
                dst[c] += src[c];
        }
    }
}
