/*
 * truncation.c: shapes, parameter checks, saved-state sizes and the Omega
 * draw of the low-rank activations (see truncation.h for the definitions).
 * Backend-independent: the CPU ops and any other backend use these.
 */
#include "ops/truncation.h"

#include <math.h>

int lilm_trunc_from_config(const lilm_model_config *c, lilm_trunc_params *p)
{
    lilm_trunc_params q = {.k = (int)c->act_k, .eps = (float)c->act_eps, .alpha = (float)c->act_alpha};
    switch (c->activation) {
    case LILM_ACT_SVD_TRUNC: q.kind = LILM_TRUNC_SVD; break;
    case LILM_ACT_QR_TRUNC: q.kind = LILM_TRUNC_QR; break;
    case LILM_ACT_SVD_ENTROPIC: q.kind = LILM_TRUNC_ENTROPIC; break;
    default: return 0;
    }
    *p = q;
    return 1;
}

void lilm_trunc_matrix_shape(size_t F, size_t *d, size_t *m)
{
    size_t best = 1;
    for (size_t q = 1; q * q <= F; q++)
        if (F % q == 0)
            best = q;
    *d = best;
    *m = F / best;
}

lilm_status lilm_trunc_params_check(const lilm_trunc_params *p, size_t F)
{
    if (F == 0)
        return lilm_errorf(LILM_ERR_ARG, "truncation activation: model.ffn_dim is 0");
    switch (p->kind) {
    case LILM_TRUNC_SVD:
        if (p->k < 0)
            return lilm_errorf(LILM_ERR_ARG, "svd_truncation: model.act_k = %d; use act_k >= 0 (0: no rank limit)", p->k);
        if (!(p->eps >= 0.0f && p->eps < 1.0f))
            return lilm_errorf(LILM_ERR_ARG, "svd_truncation: model.act_eps = %g; use 0 <= act_eps < 1", (double)p->eps);
        if (p->k == 0 && p->eps == 0.0f)
            return lilm_errorf(LILM_ERR_ARG, "svd_truncation: neither model.act_k nor model.act_eps is set\nHINT: --set model.act_k=K (keep K singular values) or model.act_eps=E");
        return LILM_OK;
    case LILM_TRUNC_ENTROPIC:
        if (!(p->alpha > 1.0f) || !isfinite(p->alpha))
            return lilm_errorf(LILM_ERR_ARG, "svd_entropic: model.act_alpha = %g; use act_alpha > 1", (double)p->alpha);
        return LILM_OK;
    case LILM_TRUNC_QR:
        if (p->k < 1)
            return lilm_errorf(LILM_ERR_ARG, "qr_truncation: model.act_k = %d; use act_k >= 1 (the columns of Omega)\nHINT: --set model.act_k=K", p->k);
        return LILM_OK;
    }
    return lilm_errorf(LILM_ERR_ARG, "truncation activation: unknown kind %d", (int)p->kind);
}

size_t lilm_trunc_saved_floats(const lilm_trunc_params *p, size_t N, size_t F)
{
    size_t d, m;
    lilm_trunc_matrix_shape(F, &d, &m);
    if (p->kind == LILM_TRUNC_QR) {
        size_t k = (size_t)p->k, kk = k < d ? k : d;
        /* Omega, then per token Q^T (kk, d) and, when k < d, R (k, k) */
        return m * k + N * (kk * d + (k < d ? k * k : 0));
    }
    /* per token U (d, d), S (d), V^T (d, m) */
    return N * (d * d + d + F);
}

static uint64_t mix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

uint64_t lilm_qr_omega_key(uint64_t seed, int64_t step, int layer)
{
    return mix64(mix64(mix64(seed) ^ (uint64_t)step) ^ (uint64_t)(int64_t)layer);
}

void lilm_qr_omega(float *omega, size_t m, size_t k, uint64_t key)
{
    const double two_pi = 6.283185307179586476925286766559;
    for (size_t e = 0; e < m * k; e++) {
        double u1 = (double)((mix64(key ^ (2 * (uint64_t)e)) >> 11) + 1) * 0x1p-53;
        double u2 = (double)(mix64(key ^ (2 * (uint64_t)e + 1)) >> 11) * 0x1p-53;
        omega[e] = (float)(sqrt(-2.0 * log(u1)) * cos(two_pi * u2));
    }
}
