/*
 * rope.c: rotary position embedding on interleaved pairs, in place.
 *
 * Pair i of a head, elements (2i, 2i+1), at absolute position p = pos0 + t is
 * rotated by the angle p * base^(-2i/D). The angle, its cosine and sine are
 * computed in double and rounded to fp32 once per (p, i): into a table in
 * scratch covering positions [0, max_seq) for the (D, base) last used, or,
 * for positions beyond it, per call. Both give the same bits. Backward
 * rotates the gradient by the opposite angle, the transpose of the forward
 * rotation.
 */
#include "cpu/cpu_impl.h"

#include <math.h>

/* Largest head dimension supported (the cos/sin of one row live on the stack). */
#define LILM_CPU_ROPE_MAX_D 1024

/* cs[i], sn[i] of position pos for the D/2 pairs, computed in double. */
static void rope_angles(float *cs, float *sn, double pos, size_t D, float base)
{
    for (size_t i = 0; i < D / 2; i++) {
        double ang = pos * pow((double)base, -(double)(2 * i) / (double)D);
        cs[i] = (float)cos(ang);
        sn[i] = (float)sin(ang);
    }
}

/* The (max_seq, D/2, 2) table of cos, sin for (D, base), built on first use;
 * NULL when positions up to `end` or this D do not fit the reserved table. */
static const float *rope_table(lilm_backend *be, size_t D, float base, size_t end)
{
    lilm_cpu_state *st = lilm__cpu(be);
    size_t half = D / 2, npos = st->plan.max_seq;
    if (!st->rope || half > st->plan.qk_dim / 2 || end > npos)
        return NULL;
    if (st->rope_d != D || st->rope_base != base) {
        float *tab = st->rope;
#pragma omp parallel for num_threads(st->threads) schedule(static)
        for (size_t p = 0; p < npos; p++) {
            float cs[LILM_CPU_ROPE_MAX_D / 2], sn[LILM_CPU_ROPE_MAX_D / 2];
            rope_angles(cs, sn, (double)p, D, base);
            for (size_t i = 0; i < half; i++) {
                tab[(p * half + i) * 2] = cs[i];
                tab[(p * half + i) * 2 + 1] = sn[i];
            }
        }
        st->rope_d = D;
        st->rope_base = base;
    }
    return st->rope;
}

static void rope_apply(lilm_backend *be, float *x, size_t B, size_t T, size_t H, size_t D,
                       size_t stride, size_t pos0, float base, float sign)
{
    if (D % 2 != 0 || D > LILM_CPU_ROPE_MAX_D) {
        lilm__cpu_fail(be, LILM_ERR_ARG, "rope: head dim %zu must be even and at most %d",
                       D, LILM_CPU_ROPE_MAX_D);
        return;
    }
    size_t half = D / 2;
    const float *tab = rope_table(be, D, base, pos0 + T); /* (max_seq, half, 2) or NULL */
#pragma omp parallel for num_threads(lilm__cpu(be)->threads) schedule(static)
    for (size_t t = 0; t < T; t++) {
        float cs[LILM_CPU_ROPE_MAX_D / 2], sn[LILM_CPU_ROPE_MAX_D / 2];
        if (tab) {
            for (size_t i = 0; i < half; i++) {
                cs[i] = tab[((pos0 + t) * half + i) * 2];
                sn[i] = tab[((pos0 + t) * half + i) * 2 + 1];
            }
        } else {
            rope_angles(cs, sn, (double)(pos0 + t), D, base);
        }
        for (size_t i = 0; i < half; i++)
            sn[i] *= sign;
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
