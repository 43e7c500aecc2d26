/*
 * truncation.h: the low-rank "activations" of the reference, shared by every
 * backend: their parameters, the matrix shape they give a token, the sizes of
 * the state their forward keeps for the backward, and the random test matrix
 * of the randomized-QR truncation.
 *
 * Each token's activation vector of length F is viewed as a row-major d x m
 * matrix A (A[i][j] = x[i*m + j], PyTorch's x.view(d, m)), d = the largest
 * divisor of F that is <= sqrt(F), m = F / d (so d <= m). Then
 *   - SVD truncation (keys k, eps): A = U S V^T (thin, fp32); singular value j
 *     is kept when (k == 0 or j < k) and (eps == 0 or s_j >= eps * smax),
 *     smax = the largest singular value of the whole batch (all N tokens);
 *     out = U diag(s * keep) V^T.
 *   - SVD entropic reduction (key alpha > 1): s_j -> c s_j^alpha with
 *     c = ||s||_2 / ||s^alpha||_2, so every token keeps its Frobenius norm.
 *   - randomized-QR truncation (key k): Y = A Omega (Omega (m, k), one matrix
 *     for all tokens of a call), Y = Q R (reduced QR), out = Q Q^T A.
 * The ops themselves are src/cpu/svd_spectral.c and src/cpu/qr_truncation.c.
 *
 * Omega is a counter-based draw, reproducible anywhere from a 64-bit key:
 * element e = l*k + j of the row-major (m, k) matrix is
 *     u1 = (top 53 bits of mix(key ^ 2e) + 1) * 2^-53        in (0, 1]
 *     u2 =  top 53 bits of mix(key ^ (2e + 1)) * 2^-53       in [0, 1)
 *     Omega[l][j] = float32(sqrt(-2 ln u1) * cos(2 pi u2))   (in double)
 * where mix is splitmix64's finaliser (z += 0x9E3779B97F4A7C15, then the two
 * xor-shift-multiply rounds and a final xor-shift; the same function as the
 * parity fixtures' generated weights). lilm_qr_omega_key gives the key of a
 * layer at a training step, so every step draws a fresh Omega and a resumed
 * run draws the same ones (tests/torch_ref/lowrank.py has the same draw).
 */
#ifndef LILM_OPS_TRUNCATION_H
#define LILM_OPS_TRUNCATION_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/status.h"

typedef enum lilm_trunc_kind {
    LILM_TRUNC_SVD = 0,       /* keep the top k and/or those >= eps * batch max */
    LILM_TRUNC_ENTROPIC = 1,  /* s -> s^alpha, Frobenius norm kept */
    LILM_TRUNC_QR = 2,        /* randomized range finder with k columns */
} lilm_trunc_kind;

typedef struct lilm_trunc_params {
    lilm_trunc_kind kind;
    int k;          /* SVD: singular values kept (0: no rank limit); QR: columns of Omega (>= 1) */
    float eps;      /* SVD: relative threshold against the batch's largest (0: none) */
    float alpha;    /* entropic: the exponent (> 1) */
    uint64_t key;   /* QR: the key Omega is drawn from (lilm_qr_omega_key) */
} lilm_trunc_params;

/* 1 when c->activation is one of these maps (svd_truncation, qr_truncation,
 * svd_entropic of core/components.h); then *p gets its kind and c's act_k,
 * act_eps, act_alpha (key 0). */
int lilm_trunc_from_config(const lilm_model_config *c, lilm_trunc_params *p);

/* The d x m view of a length-F vector: d = largest divisor of F <= sqrt(F). */
void lilm_trunc_matrix_shape(size_t F, size_t *d, size_t *m);

/* LILM_ERR_ARG (with a message naming the model.act_* key) unless the parameters are
 * valid for activations of width F: SVD needs k >= 0, eps in [0, 1) and one of
 * them set; entropic alpha > 1; QR k >= 1. */
lilm_status lilm_trunc_params_check(const lilm_trunc_params *p, size_t F);

/* Floats of the state the forward writes for the backward pass, for N tokens
 * of width F (see src/cpu/svd_spectral.c and qr_truncation.c for the layout).
 * The forward always needs it, even at inference: the SVD truncation's batch
 * maximum needs every token's singular values before any token is rebuilt. */
size_t lilm_trunc_saved_floats(const lilm_trunc_params *p, size_t N, size_t F);

/* The key of the QR truncation's Omega for one layer at one optimizer step. */
uint64_t lilm_qr_omega_key(uint64_t seed, int64_t step, int layer);

/* omega (m, k) row-major, drawn from key as described above. */
void lilm_qr_omega(float *omega, size_t m, size_t k, uint64_t key);

#endif
