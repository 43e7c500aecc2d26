/*
 * qr_truncation.c: the randomized-QR truncation activation. Each token's
 * d x m matrix A (ops/truncation.h) is projected on the range of A Omega:
 *     Y = A Omega (d, k),  Y = Q R (reduced QR, LAPACK sgeqrf + sorgqr),
 *     out = Q Q^T A
 * with one Omega (m, k) for all tokens of a call, drawn from p->key
 * (lilm_qr_omega). With k >= d, Q is square and out = A up to rounding.
 *
 * saved: Omega (m, k), then per token Q^T (kk, d) (kk = min(k, d)) and,
 * when k < d, R (k, k) row-major upper triangular.
 *
 * Backward, with G = dL/dout (d, m) and k < d:
 *     dL/dA = Q Q^T G + gY Omega^T
 *     gQ    = (G A^T + A G^T) Q                       (d, k)
 *     gY    = (gQ - Q B) R^{-T},  M = Q^T gQ,  B_ij = M_ij (i <= j), M_ji (i > j)
 * The first term is the projector's own gradient; gY is the QR backward for
 * a tall Y (d >= k) with dL/dR = 0: from Y = QR, Q^T dQ is skew and
 * dR R^{-1} upper triangular, so Q^T dQ = L - L^T with L the strictly lower
 * part of Q^T dY R^{-1}, and (I - Q Q^T) dQ = (I - Q Q^T) dY R^{-1}; the
 * adjoint is the formula above (PyTorch's linalg_qr_backward for m >= n with
 * gR = 0). R^{-T} is a triangular solve (strsm). It assumes Y has full column
 * rank (R invertible), as PyTorch's does; a rank-deficient A Omega (k above
 * the rank of A) gives non-finite gradients in both. With k >= d the Q path
 * vanishes (Q Q^T = I for every Y of full row rank), so dL/dA = Q Q^T G.
 * Omega gets no gradient.
 */
#include "cpu/cpu_impl.h"
#include "cpu/lowrank.h"

#include <cblas.h>
#include <lapacke.h>
#include <omp.h>
#include <string.h>

/* Workspace (floats) of sgeqrf and sorgqr for a column-major d x k Y. */
static size_t qr_lwork(size_t d, size_t k)
{
    size_t kk = k < d ? k : d;
    float q1 = 0.0f, q2 = 0.0f, dummy = 0.0f;
    lapack_int i1 = LAPACKE_sgeqrf_work(LAPACK_COL_MAJOR, (lapack_int)d, (lapack_int)k, &dummy, (lapack_int)d,
                                        &dummy, &q1, -1);
    lapack_int i2 = LAPACKE_sorgqr_work(LAPACK_COL_MAJOR, (lapack_int)d, (lapack_int)kk, (lapack_int)kk, &dummy,
                                        (lapack_int)d, &dummy, &q2, -1);
    size_t n = (i1 == 0 ? (size_t)q1 : 0), n2 = (i2 == 0 ? (size_t)q2 : 0);
    n = n > n2 ? n : n2;
    size_t lo = 64 * (k > d ? k : d);                          /* at least n * block size */
    return (n > lo ? n : lo) + 16;
}

static size_t thread_floats(size_t d, size_t m, size_t k)
{
    size_t kk = k < d ? k : d;
    size_t fwd = d * k + kk + qr_lwork(d, k) + kk * m;
    size_t bwd = 2 * kk * m + d * kk + kk * kk;
    size_t n = fwd > bwd ? fwd : bwd;
    return (n + 15) / 16 * 16;
}

size_t lilm__cpu_qr_trunc_work_floats(size_t F, size_t k)
{
    size_t d, m;
    lilm_trunc_matrix_shape(F, &d, &m);
    return thread_floats(d, m, k);
}

void lilm__cpu_qr_trunc_forward(lilm_backend *be, float *out, float *saved, const float *in,
                                size_t N, size_t F, const lilm_trunc_params *p, float *work)
{
    // out (N, F); saved (see above); in (N, F)
    size_t d, m, k = (size_t)p->k;
    lilm_trunc_matrix_shape(F, &d, &m);
    size_t kk = k < d ? k : d, per = kk * d + (k < d ? k * k : 0);
    size_t tf = thread_floats(d, m, k), lwork = qr_lwork(d, k);
    float *omega = saved;                                      // (m, k)
    float *tok = saved + m * k;                                // (N, per)
    lilm_qr_omega(omega, m, k, p->key);
    int id = (int)d, im = (int)m, ik = (int)k, ikk = (int)kk;
    int bad = 0;
#pragma omp parallel num_threads(lilm__cpu(be)->threads) reduction(| : bad)
    {
        float *Y = work + (size_t)omp_get_thread_num() * tf;  // (d, k) column-major
        float *tau = Y + d * k;                                // (kk)
        float *lw = tau + kk;                                  // (lwork)
        float *T = lw + lwork;                                 // (kk, m) Q^T A
#pragma omp for schedule(static)
        for (size_t t = 0; t < N; t++) {
            const float *A = in + t * F;                       // (d, m)
            float *Qt = tok + t * per, *R = Qt + kk * d;       // (kk, d), (k, k)
            /* column-major Y = A Omega: A is the column-major m x d A^T, Omega the k x m Omega^T */
            cblas_sgemm(CblasColMajor, CblasTrans, CblasTrans, id, ik, im, 1.0f, A, im, omega, ik, 0.0f, Y, id);
            lapack_int info = LAPACKE_sgeqrf_work(LAPACK_COL_MAJOR, id, ik, Y, id, tau, lw, (lapack_int)lwork);
            if (k < d)
                for (size_t i = 0; i < k; i++)
                    for (size_t j = 0; j < k; j++)
                        R[i * k + j] = i <= j ? Y[i + j * d] : 0.0f;
            if (info == 0)
                info = LAPACKE_sorgqr_work(LAPACK_COL_MAJOR, id, ikk, ikk, Y, id, tau, lw, (lapack_int)lwork);
            if (info != 0)
                bad = 1;
            memcpy(Qt, Y, kk * d * sizeof(float));              /* column-major Q (d, kk) = row-major Q^T */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ikk, im, id, 1.0f, Qt, id, A, im, 0.0f, T, im);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, id, im, ikk, 1.0f, Qt, id, T, im, 0.0f,
                        out + t * F, im);
        }
    }
    if (bad)
        lilm__cpu_fail(be, LILM_ERR_INTERNAL, "qr truncation: LAPACK sgeqrf/sorgqr failed on a %zu x %zu matrix", d, k);
}

void lilm__cpu_qr_trunc_backward(lilm_backend *be, float *din, const float *dout, const float *in,
                                 const float *saved, size_t N, size_t F,
                                 const lilm_trunc_params *p, float *work)
{
    // din (N, F) =; dout (N, F); in (N, F) the forward's input; saved from the forward
    size_t d, m, k = (size_t)p->k;
    lilm_trunc_matrix_shape(F, &d, &m);
    size_t kk = k < d ? k : d, per = kk * d + (k < d ? k * k : 0), tf = thread_floats(d, m, k);
    const float *omega = saved, *tok = saved + m * k;
    int id = (int)d, im = (int)m, ik = (int)k, ikk = (int)kk;
#pragma omp parallel num_threads(lilm__cpu(be)->threads)
    {
        float *Tg = work + (size_t)omp_get_thread_num() * tf;  // (kk, m) Q^T G
        float *Tq = Tg + kk * m;                               // (kk, m) Q^T A
        float *gQ = Tq + kk * m;                               // (d, kk)
        float *M = gQ + d * kk;                                // (kk, kk)
#pragma omp for schedule(static)
        for (size_t t = 0; t < N; t++) {
            const float *A = in + t * F, *G = dout + t * F;    // (d, m)
            const float *Qt = tok + t * per, *R = Qt + kk * d; // (kk, d), (k, k)
            float *gA = din + t * F;                           // (d, m)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ikk, im, id, 1.0f, Qt, id, G, im, 0.0f, Tg, im);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, id, im, ikk, 1.0f, Qt, id, Tg, im, 0.0f, gA, im);
            if (k >= d)
                continue;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ik, im, id, 1.0f, Qt, id, A, im, 0.0f, Tq, im);
            /* gQ = G (Q^T A)^T + A (Q^T G)^T */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, id, ik, im, 1.0f, G, im, Tq, im, 0.0f, gQ, ik);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, id, ik, im, 1.0f, A, im, Tg, im, 1.0f, gQ, ik);
            /* M = Q^T gQ, mirrored from its upper triangle into B */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ik, ik, id, 1.0f, Qt, id, gQ, ik, 0.0f, M, ik);
            for (size_t i = 1; i < k; i++)
                for (size_t j = 0; j < i; j++)
                    M[i * k + j] = M[j * k + i];
            /* gY = (gQ - Q B) R^{-T}, into gQ */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, id, ik, ik, -1.0f, Qt, id, M, ik, 1.0f, gQ, ik);
            cblas_strsm(CblasRowMajor, CblasRight, CblasUpper, CblasTrans, CblasNonUnit, id, ik, 1.0f, R, ik, gQ, ik);
            /* dL/dA += gY Omega^T */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, id, im, ik, 1.0f, gQ, ik, omega, ik, 1.0f, gA, im);
        }
    }
}
