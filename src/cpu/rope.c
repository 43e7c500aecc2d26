/*
 * rope.c: rotary position embedding on interleaved pairs, in place.
 *
 * Pair i of a head, elements (2i, 2i+1), at absolute position p = pos0 + t is
 * rotated by the angle p * base^(-2i/D). The angle, its cosine and sine are
 * computed in double for each (t, i) once per call and shared by all B
 * sequences and H heads (no table in scratch, so any pos0 works). Backward
 * rotates the gradient by the opposite angle, the transpose of the forward
 * rotation.
 */
#include "cpu/cpu_impl.h"

#include <math.h>

/* Largest head dimension supported (the cos/sin of one row live on the stack). */
#define LILM_CPU_ROPE_MAX_D 1024

static void rope_apply(lilm_backend *be, float *x, size_t B, size_t T, size_t H, size_t D,
                       size_t stride, size_t pos0, float base, float sign)
{
    if (D % 2 != 0 || D > LILM_CPU_ROPE_MAX_D) {
        lilm__cpu_fail(be, LILM_ERR_ARG, "rope: head dim %zu must be even and at most %d",
                       D, LILM_CPU_ROPE_MAX_D);
        return;
    }
    size_t half = D / 2;
#pragma omp parallel for num_threads(lilm__cpu(be)->threads) schedule(static)
    for (size_t t = 0; t < T; t++) {
        float cs[LILM_CPU_ROPE_MAX_D / 2], sn[LILM_CPU_ROPE_MAX_D / 2];
        double pos = (double)(pos0 + t);
        for (size_t i = 0; i < half; i++) {
            double ang = pos * pow((double)base, -(double)(2 * i) / (double)D);
            cs[i] = (float)cos(ang);
            sn[i] = sign * (float)sin(ang);
        }
        for (size_t b = 0; b < B; b++) {
            for (size_t h = 0; h < H; h++) {
                float *xp = x + (b * T + t) * stride + h * D; // (D) one head of one row
                for (size_t i = 0; i < half; i++) {
                    float x0 = xp[2 * i], x1 = xp[2 * i + 1];
                    xp[2 * i] = x0 * cs[i] - x1 * sn[i];
                    xp[2 * i + 1] = x0 * sn[i] + x1 * cs[i];
                }
            }
        }
    }
}

void lilm__cpu_rope_forward(lilm_backend *be, void *x, size_t B, size_t T, size_t H, size_t D,
                            size_t stride, size_t pos0, float base)
{
    rope_apply(be, x, B, T, H, D, stride, pos0, base, 1.0f);
}

void lilm__cpu_rope_backward(lilm_backend *be, void *dx, size_t B, size_t T, size_t H, size_t D,
                             size_t stride, size_t pos0, float base)
{
    rope_apply(be, dx, B, T, H, D, stride, pos0, base, -1.0f);
}
