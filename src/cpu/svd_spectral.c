/*
 * svd_spectral.c: the SVD truncation activation and the SVD entropic
 * reduction, both spectral maps Y = U diag(f(s)) V^T of each token's d x m
 * activation matrix A = U diag(s) V^T (ops/truncation.h defines them and the
 * d x m view; d <= m).
 *
 * Forward: per token one fp32 LAPACK sgesdd (jobz 'S'; PyTorch's CPU
 * linalg.svd uses the same gesdd driver). The row-major A is passed as the
 * column-major m x d matrix A^T, whose SVD V S U^T gives, read back
 * row-major, U (d, d) and V^T (d, m) directly. Then f(s) (for the SVD
 * truncation after the batch's largest singular value is known) and
 * Y = (U diag f(s)) V^T by sgemm.
 *
 * saved, per token, in this order: U (d, d), s (d, descending), V^T (d, m).
 *
 * Backward. With G = dL/dY (d, m), H = U^T G V (d, d), h = diag(H),
 * s' = f(s) and w_j = s'_j / s_j, the gradient of L(Y(A)) is
 *     dL/dA = U [ P V^T + diag(w) U^T G (I - V V^T) ]
 *     P_jk  = a_jk H_jk + b_jk H_kj                        (j != k)
 *     a_jk  = (s'_k s_k - s'_j s_j) / (s_k^2 - s_j^2)
 *     b_jk  = (s'_k s_j - s'_j s_k) / (s_k^2 - s_j^2)
 *     P_jj  = (J^T h)_j,  J = df/ds
 * Derivation: perturb A = U S V^T; U^T dU = Ou and V^T dV = Ov are skew, so
 * U^T dA V = Ou S + dS - S Ov, whose off-diagonal pairs solve to
 * Ou_jk = (s_k X_jk + s_j X_kj) / (s_k^2 - s_j^2) and Ov_jk = (s_j X_jk +
 * s_k X_kj) / (s_k^2 - s_j^2) (X = U^T dA V), while the part of dV outside
 * span(V) is (I - V V^T) dA^T U S^{-1}. Substituting into dY = dU S' V^T +
 * U dS' V^T + U S' dV^T and taking the adjoint gives the formula above. It is
 * PyTorch's linalg.svd backward (FunctionsManual.cpp svd_backward: the
 * skew(U^H gU) / E and skew(V^H gV) / E terms, E_jk = s_k^2 - s_j^2, plus the
 * (I - V V^H) term; U is square here, so its (I - U U^H) term is zero) with
 * gU = G V S', gS = J^T h, gV = G^T U S' substituted and the quotients
 * simplified by hand:
 *   - SVD truncation, keep mask q (0/1), s' = q s, J = diag(q), w = q:
 *     both kept a = 1, b = 0; both dropped a = b = 0; one kept (p) and one
 *     dropped (r): a = s_p^2 / (s_p^2 - s_r^2), b = s_p s_r / (s_p^2 - s_r^2).
 *     The mask and the batch maximum in the eps rule are piecewise constant:
 *     no gradient flows through the threshold (as in PyTorch, where the
 *     comparison is not differentiable).
 *   - entropic, s' = c s^alpha, c = ||s|| / ||s^alpha||: a = c DD_{alpha+1} /
 *     (s_j + s_k), b = c s_j s_k DD_{alpha-1} / (s_j + s_k), DD_e the divided
 *     difference (s_k^e - s_j^e) / (s_k - s_j), evaluated as
 *     lo^(e-1) expm1(e t) / expm1(t), t = ln(hi / lo) (its limit e s^(e-1) at a
 *     tie); w = c s^(alpha-1); (J^T h)_l = alpha c s_l^(alpha-1) h_l +
 *     (sum_i h_i s'_i) (s_l / ||s||^2 - alpha s_l^(2 alpha - 1) / ||s^alpha||^2).
 * Assumptions and (near-)repeated singular values: like PyTorch we add no
 * regularisation: where the derivative exists the formula is exact, and near
 * a tie across the truncation cut (kept s_p close to dropped s_r) it is as
 * large as PyTorch's, 1 / (s_p^2 - s_r^2), because the map really is that
 * sensitive there. Where PyTorch divides 0 by 0 although the composite map is
 * smooth (ties among kept or among dropped values, any tie for the entropic
 * map) the simplified quotients above are finite (PyTorch returns NaN at an
 * exact tie); at an exact tie across the cut, where no derivative exists,
 * PyTorch returns inf and we set that pair's a, b to 0. A token whose matrix
 * is exactly zero gives zero output and zero gradient. The coefficients are
 * computed in double; the matrix products in fp32.
 */
#include "cpu/cpu_impl.h"
#include "cpu/lowrank.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <omp.h>
#include <string.h>

/* Optimal sgesdd workspace (floats) for the column-major m x d problem. */
static size_t gesdd_lwork(size_t d, size_t m)
{
    float q = 0.0f, dummy = 0.0f;
    lapack_int idummy = 0;
    lapack_int info = LAPACKE_sgesdd_work(LAPACK_COL_MAJOR, 'S', (lapack_int)m, (lapack_int)d, &dummy,
                                          (lapack_int)m, &dummy, &dummy, (lapack_int)m, &dummy,
                                          (lapack_int)d, &q, -1, &idummy);
    size_t n = info == 0 ? (size_t)q : 0;
    size_t lo = 4 * d * d + 7 * d + 3 * d * (m > 4 * d ? m : 4 * d); /* the documented minimum */
    return (n > lo ? n : lo) + 16;
}

/* Floats of one thread's region: A copy, sgesdd work + iwork, backward temps. */
static size_t thread_floats(size_t d, size_t m)
{
    size_t F = d * m;
    size_t fwd = F + gesdd_lwork(d, m) + 8 * d;   /* lapack_int is 32-bit, as a float */
    size_t bwd = 4 * d + 3 * d * d + 2 * F + 2 * d;  /* 2d doubles first, then floats */
    size_t n = fwd > bwd ? fwd : bwd;
    return (n + 15) / 16 * 16;                    /* keep each region 64-byte aligned */
}

size_t lilm__cpu_svd_spectral_work_floats(size_t F)
{
    size_t d, m;
    lilm_trunc_matrix_shape(F, &d, &m);
    return thread_floats(d, m);
}

/* Whether the SVD truncation keeps singular value j (thresh = eps * batch max). */
static int svd_keeps(const lilm_trunc_params *p, size_t j, float s, float thresh)
{
    return (p->k == 0 || j < (size_t)p->k) && s >= thresh;
}

/* s' = f(s) (d) for one token. */
static void spectral_map(float *sp, const float *s, size_t d, const lilm_trunc_params *p, float thresh)
{
    if (p->kind == LILM_TRUNC_SVD) {
        for (size_t j = 0; j < d; j++)
            sp[j] = svd_keeps(p, j, s[j], thresh) ? s[j] : 0.0f;
        return;
    }
    double n2 = 0.0, q = 0.0, a = p->alpha;
    for (size_t j = 0; j < d; j++) {
        n2 += (double)s[j] * s[j];
        q += pow(s[j], 2.0 * a);
    }
    double c = q > 0.0 ? sqrt(n2 / q) : 0.0;
    for (size_t j = 0; j < d; j++)
        sp[j] = (float)(c * pow(s[j], a));
}

/* The batch's largest singular value times eps (0 when eps is unset). */
static float batch_threshold(const float *saved, size_t N, size_t d, size_t per, const lilm_trunc_params *p)
{
    if (p->kind != LILM_TRUNC_SVD || p->eps == 0.0f)
        return 0.0f;
    float smax = 0.0f;
    for (size_t t = 0; t < N; t++) {
        float s0 = saved[t * per + d * d];        /* s is descending: s_0 is the token's largest */
        smax = s0 > smax ? s0 : smax;
    }
    return p->eps * smax;
}

void lilm__cpu_svd_spectral_forward(lilm_backend *be, float *out, float *saved, const float *in,
                                    size_t N, size_t F, const lilm_trunc_params *p, float *work)
{
    // out (N, F); saved (N, d*d + d + F); in (N, F)
    size_t d, m;
    lilm_trunc_matrix_shape(F, &d, &m);
    size_t per = d * d + d + F, tf = thread_floats(d, m), lwork = gesdd_lwork(d, m);
    int nt = lilm__cpu(be)->threads;
    int bad = 0;
#pragma omp parallel num_threads(nt) reduction(| : bad)
    {
        float *A = work + (size_t)omp_get_thread_num() * tf;   // (F) copy, destroyed by sgesdd
        float *lw = A + F;                                      // (lwork)
        lapack_int *iw = (lapack_int *)(lw + lwork);            // (8 d)
#pragma omp for schedule(static)
        for (size_t t = 0; t < N; t++) {
            float *U = saved + t * per, *s = U + d * d, *Vt = s + d;
            memcpy(A, in + t * F, F * sizeof(float));
            lapack_int info = LAPACKE_sgesdd_work(LAPACK_COL_MAJOR, 'S', (lapack_int)m, (lapack_int)d, A,
                                                  (lapack_int)m, s, Vt, (lapack_int)m, U, (lapack_int)d,
                                                  lw, (lapack_int)lwork, iw);
            if (info != 0)
                bad = 1;
        }
    }
    if (bad) {
        lilm__cpu_fail(be, LILM_ERR_INTERNAL, "svd activation: LAPACK sgesdd failed on a %zu x %zu token matrix "
                       "(non-finite activations or no convergence)", d, m);
        return;
    }
    float thresh = batch_threshold(saved, N, d, per, p);
#pragma omp parallel num_threads(nt)
    {
        float *US = work + (size_t)omp_get_thread_num() * tf;   // (d, d) U diag(s')
        float *sp = US + d * d;                                 // (d)
#pragma omp for schedule(static)
        for (size_t t = 0; t < N; t++) {
            const float *U = saved + t * per, *s = U + d * d, *Vt = s + d;
            spectral_map(sp, s, d, p, thresh);
            for (size_t i = 0; i < d; i++)
                for (size_t j = 0; j < d; j++)
                    US[i * d + j] = U[i * d + j] * sp[j];
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)d, (int)m, (int)d, 1.0f, US, (int)d,
                        Vt, (int)m, 0.0f, out + t * F, (int)m);
        }
    }
}

/* (y^e - x^e) / (y - x) for x, y >= 0 (px = x^e, py = y^e), and its limit
 * e x^(e-1) at a tie. Apart by more than 1%, the plain quotient loses at most
 * two of double's digits; closer, the expm1 form keeps them all. */
static double divdiff_pow(double x, double y, double px, double py, double e)
{
    double lo = x < y ? x : y, hi = x < y ? y : x;
    if (hi <= 0.0)
        return 0.0;
    if (hi - lo > 1e-2 * hi)
        return (py - px) / (y - x);
    if (lo <= 0.0)
        return pow(hi, e - 1.0);
    double t = log(hi / lo);
    if (t == 0.0)
        return e * pow(lo, e - 1.0);
    return pow(lo, e - 1.0) * expm1(e * t) / expm1(t);
}

/* P (d, d) from H (d, d) for one token, and w (d) = s'/s; see the module
 * comment. pw: (2 d) doubles of scratch. */
static void spectral_adjoint(float *P, float *w, double *pw, const float *H, const float *s, const float *sp,
                             size_t d, const lilm_trunc_params *p, float thresh)
{
    if (p->kind == LILM_TRUNC_SVD) {
        for (size_t j = 0; j < d; j++)
            w[j] = svd_keeps(p, j, s[j], thresh) ? 1.0f : 0.0f;
        for (size_t j = 0; j < d; j++)
            for (size_t k = 0; k < d; k++) {
                double a = 0.0, b = 0.0;
                if (j == k) {
                    a = w[j];
                } else if (w[j] != w[k]) {              /* one kept (p), one dropped (r) */
                    double sk = w[j] != 0.0f ? s[j] : s[k], sr = w[j] != 0.0f ? s[k] : s[j];
                    double den = sk * sk - sr * sr;
                    if (den != 0.0) {
                        a = sk * sk / den;
                        b = sk * sr / den;
                    }
                } else {
                    a = w[j];                           /* both kept: 1; both dropped: 0 */
                }
                P[j * d + k] = (float)(a * H[j * d + k] + (j == k ? 0.0 : b * H[k * d + j]));
            }
        return;
    }
    double al = p->alpha, n2 = 0.0, q = 0.0, hs = 0.0;
    for (size_t j = 0; j < d; j++) {
        n2 += (double)s[j] * s[j];
        q += pow(s[j], 2.0 * al);
        hs += (double)H[j * d + j] * sp[j];
    }
    double c = q > 0.0 ? sqrt(n2 / q) : 0.0;
    double *up = pw, *dn = pw + d;                  /* s^(alpha+1), s^(alpha-1) */
    for (size_t j = 0; j < d; j++) {
        dn[j] = pow(s[j], al - 1.0);
        up[j] = dn[j] * s[j] * s[j];
        w[j] = (float)(c * dn[j]);
        P[j * d + j] = (float)(n2 > 0.0 ? al * c * dn[j] * H[j * d + j] + hs * (s[j] / n2 - al * dn[j] * dn[j] * s[j] / q)
                                        : 0.0);
    }
    for (size_t j = 0; j < d; j++)                  /* a_jk, b_jk are symmetric: one pair at a time */
        for (size_t k = j + 1; k < d; k++) {
            double sj = s[j], sk = s[k], sum = sj + sk;
            double a = sum > 0.0 ? c * divdiff_pow(sj, sk, up[j], up[k], al + 1.0) / sum : 0.0;
            double b = sum > 0.0 ? c * sj * sk * divdiff_pow(sj, sk, dn[j], dn[k], al - 1.0) / sum : 0.0;
            P[j * d + k] = (float)(a * H[j * d + k] + b * H[k * d + j]);
            P[k * d + j] = (float)(a * H[k * d + j] + b * H[j * d + k]);
        }
}

void lilm__cpu_svd_spectral_backward(lilm_backend *be, float *din, const float *dout,
                                     const float *saved, size_t N, size_t F,
                                     const lilm_trunc_params *p, float *work)
{
    // din (N, F) =; dout (N, F); saved (N, d*d + d + F) from the forward
    size_t d, m;
    lilm_trunc_matrix_shape(F, &d, &m);
    size_t per = d * d + d + F, tf = thread_floats(d, m);
    int nt = lilm__cpu(be)->threads;
    float thresh = batch_threshold(saved, N, d, per, p);
#pragma omp parallel num_threads(nt)
    {
        double *pw = (double *)(work + (size_t)omp_get_thread_num() * tf); // (2 d) entropic powers
        float *T1 = (float *)(pw + 2 * d);                     // (d, d) G V
        float *H = T1 + d * d;                                 // (d, d) U^T G V
        float *P = H + d * d;                                  // (d, d)
        float *R1 = P + d * d;                                 // (d, m) G (I - V V^T)
        float *X = R1 + F;                                     // (d, m)
        float *sp = X + F;                                     // (d) f(s)
        float *w = sp + d;                                     // (d) s'/s
#pragma omp for schedule(static)
        for (size_t t = 0; t < N; t++) {
            const float *U = saved + t * per, *s = U + d * d, *Vt = s + d;
            const float *G = dout + t * F;
            int id = (int)d, im = (int)m;
            spectral_map(sp, s, d, p, thresh);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, id, id, im, 1.0f, G, im, Vt, im, 0.0f, T1, id);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, id, id, id, 1.0f, U, id, T1, id, 0.0f, H, id);
            memcpy(R1, G, F * sizeof(float));
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, id, im, id, -1.0f, T1, id, Vt, im, 1.0f, R1, im);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, id, im, id, 1.0f, U, id, R1, im, 0.0f, X, im);
            spectral_adjoint(P, w, pw, H, s, sp, d, p, thresh);
            for (size_t i = 0; i < d; i++)
                for (size_t c = 0; c < m; c++)
                    X[i * m + c] *= w[i];
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, id, im, id, 1.0f, P, id, Vt, im, 1.0f, X, im);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, id, im, id, 1.0f, U, id, X, im, 0.0f,
                        din + t * F, im);
        }
    }
}
