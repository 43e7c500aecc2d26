/*
 * test_ops_lowrank.c: the CPU low-rank ops (SVD truncation, SVD entropic
 * reduction, randomized-QR truncation, tensor-ring Linear) against double-
 * precision references, their backward passes against finite differences
 * in double, and the op-level PyTorch parity fixture.
 *
 * References: the truncations redo each token in double with LAPACK's
 * dgesdd / dgeqrf + dorgqr (the same definitions, ops/truncation.h); the
 * tensor-ring weight is every entry's trace of a product of R x R matrices,
 * written out directly. Forward checks: |fp32 - ref| <= 2e-5 x max |ref|.
 *
 * Gradient checks: L = sum(w * y) for fixed random w. The analytic fp32
 * gradient (backward with dout = w) is compared with the central difference
 * (L(x + h) - L(x - h)) / 2h of the DOUBLE reference at h = 1e-5, whose own
 * error is ~1e-10, so the check measures the backward's formula and its fp32
 * rounding only: |fd - an| <= 2e-3 (|an| + rms(an)). Inputs are fixed-seed
 * random matrices whose singular values are not near the truncation cut.
 * Also: ties (equal singular values) give finite gradients equal to the
 * finite differences, k >= d reproduces the input, the entropic map keeps the
 * Frobenius norm, results are bit-identical for 1 and 3 threads, bad
 * parameters are reported by sync(), and tests/fixtures/ops/lowrank_ops.safetensors
 * (tests/torch_ref/lowrank.py, float64 autograd) agrees within 1e-4 of each
 * tensor's largest value.
 */
#include "test.h"

#include "core/safetensors.h"
#include "core/status.h"
#include "cpu/lowrank.h"
#include "ops/backend.h"

#include <lapacke.h>
#include <stdint.h>

#define FD_H 1e-5

/* ---- helpers ---- */

typedef struct rng {
    uint64_t s;
} rng;

static double rng_u(rng *r) /* uniform in [0, 1) */
{
    r->s = r->s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(r->s >> 11) * (1.0 / 9007199254740992.0);
}

static void *xalloc(size_t bytes)
{
    void *p = aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
    if (!p)
        abort();
    memset(p, 0, (bytes + 63) / 64 * 64 + 64);
    return p;
}

static float *fnew(size_t n) { return xalloc(n * sizeof(float)); }
static double *dnew(size_t n) { return xalloc(n * sizeof(double)); }

static void fill_both(rng *r, float *x, double *xd, size_t n, double lo, double hi)
{
    for (size_t i = 0; i < n; i++) {
        x[i] = (float)(lo + (hi - lo) * rng_u(r));
        if (xd)
            xd[i] = x[i];
    }
}

static lilm_backend *backend(lilm_test *t, int threads)
{
    lilm_backend *be = NULL;
    LT_OK(t, lilm_cpu_backend_create(&be, threads));
    if (!be)
        abort();
    /* the tensor-ring Linear uses the matmul op, whose scratch is planned */
    lilm_backend_plan plan = {.max_rows = 64, .max_batch = 8, .max_seq = 8, .d_model = 128, .vocab = 16,
                              .n_heads = 1, .qk_dim = 8, .v_dim = 8, .max_width = 128};
    size_t bytes = 0;
    LT_OK(t, be->ops->reserve(be, &plan, &bytes));
    return be;
}

static double max_abs(const double *x, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        m = fabs(x[i]) > m ? fabs(x[i]) : m;
    return m;
}

/* max |got - ref| <= rel * max |ref| */
static void check_rel(lilm_test *t, const char *what, const float *got, const double *ref, size_t n, double rel)
{
    double scale = max_abs(ref, n), worst = 0.0;
    size_t wi = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - ref[i]);
        if (!(e <= worst))
            worst = e, wi = i;
    }
    LT_CHECK(t, worst <= rel * scale, "%s: element %zu of %zu: got %.9g want %.9g (err %.3g, max %.3g, rel %g)",
             what, wi, n, (double)got[wi], ref[wi], worst, scale, rel);
}

typedef double (*loss_fn)(void *ctx);   /* L = sum(w * y) of the double reference */

/* Analytic gradient an (n) of L against central differences in x (n
 * doubles), at every coordinate up to 40 and 40 random ones beyond. */
static void fd_check(lilm_test *t, const char *what, rng *r, loss_fn L, void *ctx, double *x, size_t n,
                     const float *an)
{
    double rms = 0.0;
    for (size_t i = 0; i < n; i++)
        rms += (double)an[i] * an[i];
    rms = sqrt(rms / (double)n);
    size_t samples = n < 40 ? n : 40;
    int fails = 0;
    for (size_t s = 0; s < samples; s++) {
        size_t i = n <= 40 ? s : (size_t)(rng_u(r) * (double)n);
        double keep = x[i];
        x[i] = keep + FD_H;
        double lp = L(ctx);
        x[i] = keep - FD_H;
        double lm = L(ctx);
        x[i] = keep;
        double fd = (lp - lm) / (2.0 * FD_H), tol = 2e-3 * (fabs((double)an[i]) + rms) + 1e-9;
        if (fabs(fd - (double)an[i]) > tol && fails++ < 3)
            LT_CHECK(t, 0, "%s: d/dx[%zu]: analytic %.9g, finite difference %.9g (tol %.3g)", what, i,
                     (double)an[i], fd, tol);
        t->checks++;
    }
}

static double dot_d(const double *y, const double *w, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += y[i] * w[i];
    return s;
}

/* ---- double references of the truncations ---- */

/* y (N, F) = SVD truncation or entropic map of x (N, F), in double. */
static void svd_ref(double *y, const double *x, size_t N, size_t F, const lilm_trunc_params *p)
{
    size_t d, m;
    lilm_trunc_matrix_shape(F, &d, &m);
    size_t per = d * d + d + F;
    double *keep = dnew(N * per), *A = dnew(F);
    double smax = 0.0;
    for (size_t t = 0; t < N; t++) {
        double *U = keep + t * per, *s = U + d * d, *Vt = s + d;
        memcpy(A, x + t * F, F * sizeof(double));
        if (LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'S', (lapack_int)m, (lapack_int)d, A, (lapack_int)m, s, Vt,
                           (lapack_int)m, U, (lapack_int)d) != 0)
            abort();
        smax = s[0] > smax ? s[0] : smax;
    }
    for (size_t t = 0; t < N; t++) {
        double *U = keep + t * per, *s = U + d * d, *Vt = s + d, sp[256];
        if (p->kind == LILM_TRUNC_SVD) {
            for (size_t j = 0; j < d; j++)
                sp[j] = ((p->k == 0 || j < (size_t)p->k) && s[j] >= (double)p->eps * smax) ? s[j] : 0.0;
        } else {
            double n2 = 0.0, q = 0.0;
            for (size_t j = 0; j < d; j++)
                n2 += s[j] * s[j], q += pow(s[j], 2.0 * p->alpha);
            for (size_t j = 0; j < d; j++)
                sp[j] = q > 0.0 ? sqrt(n2 / q) * pow(s[j], p->alpha) : 0.0;
        }
        for (size_t i = 0; i < d; i++)
            for (size_t c = 0; c < m; c++) {
                double v = 0.0;
                for (size_t j = 0; j < d; j++)
                    v += U[i * d + j] * sp[j] * Vt[j * m + c];
                y[t * F + i * m + c] = v;
            }
    }
    free(keep), free(A);
}

/* y (N, F) = Q Q^T A per token, Y = A Omega, in double. */
static void qr_ref(double *y, const double *x, size_t N, size_t F, size_t k, const float *omega)
{
    size_t d, m;
    lilm_trunc_matrix_shape(F, &d, &m);
    size_t kk = k < d ? k : d;
    double *Y = dnew(d * k), *tau = dnew(k + d);
    for (size_t t = 0; t < N; t++) {
        const double *A = x + t * F;
        for (size_t i = 0; i < d; i++)
            for (size_t j = 0; j < k; j++) {
                double v = 0.0;
                for (size_t l = 0; l < m; l++)
                    v += A[i * m + l] * (double)omega[l * k + j];
                Y[i + j * d] = v;                               /* column-major (d, k) */
            }
        if (LAPACKE_dgeqrf(LAPACK_COL_MAJOR, (lapack_int)d, (lapack_int)k, Y, (lapack_int)d, tau) != 0 ||
            LAPACKE_dorgqr(LAPACK_COL_MAJOR, (lapack_int)d, (lapack_int)kk, (lapack_int)kk, Y, (lapack_int)d, tau) != 0)
            abort();
        for (size_t i = 0; i < d; i++)
            for (size_t c = 0; c < m; c++) {
                double v = 0.0;
                for (size_t j = 0; j < kk; j++) {
                    double qa = 0.0;                            /* (Q^T A)[j][c] */
                    for (size_t l = 0; l < d; l++)
                        qa += Y[l + j * d] * A[l * m + c];
                    v += Y[i + j * d] * qa;
                }
                y[t * F + i * m + c] = v;
            }
    }
    free(Y), free(tau);
}

/* ---- truncation cases ---- */

typedef struct trunc_ctx {
    lilm_trunc_params p;
    size_t N, F;
    double *x, *y, *w;
    float *omega;
} trunc_ctx;

static double trunc_loss(void *v)
{
    trunc_ctx *c = v;
    if (c->p.kind == LILM_TRUNC_QR)
        qr_ref(c->y, c->x, c->N, c->F, (size_t)c->p.k, c->omega);
    else
        svd_ref(c->y, c->x, c->N, c->F, &c->p);
    return dot_d(c->y, c->w, c->N * c->F);
}

/* Runs forward and backward of one parameter set; returns out and din
 * (caller frees) when asked. x may be given (else random). */
static void trunc_run(lilm_backend *be, const lilm_trunc_params *p, const float *x, const float *w,
                      size_t N, size_t F, float **out_y, float **out_dx, float **out_saved)
{
    float *y = fnew(N * F), *dx = fnew(N * F), *saved = fnew(lilm_trunc_saved_floats(p, N, F));
    void *work = xalloc(lilm__cpu_trunc_work_bytes(be, F, p));
    lilm__cpu_trunc_forward(be, y, saved, x, N, F, p, work);
    lilm__cpu_trunc_backward(be, dx, w, x, saved, N, F, p, work);
    free(work);
    *out_y = y;
    *out_dx = dx;
    if (out_saved)
        *out_saved = saved;
    else
        free(saved);
}

static void trunc_case(lilm_test *t, lilm_backend *be, rng *r, const char *what, lilm_trunc_params p,
                       size_t N, size_t F, const float *x_given)
{
    float *x = fnew(N * F), *w = fnew(N * F), *y, *dx, *saved;
    double *xd = dnew(N * F), *wd = dnew(N * F), *yref = dnew(N * F);
    fill_both(r, x, xd, N * F, -1, 1);
    if (x_given)
        for (size_t i = 0; i < N * F; i++)
            x[i] = x_given[i], xd[i] = x_given[i];
    fill_both(r, w, wd, N * F, -1, 1);
    trunc_run(be, &p, x, w, N, F, &y, &dx, &saved);
    LT_OK(t, be->ops->sync(be));
    size_t d, m;
    lilm_trunc_matrix_shape(F, &d, &m);
    trunc_ctx c = {p, N, F, xd, yref, wd, p.kind == LILM_TRUNC_QR ? saved : NULL};
    trunc_loss(&c);
    char name[160];
    snprintf(name, sizeof name, "%s forward (F %zu = %zu x %zu)", what, F, d, m);
    check_rel(t, name, y, yref, N * F, 2e-5);
    snprintf(name, sizeof name, "%s gradient (F %zu)", what, F);
    fd_check(t, name, r, trunc_loss, &c, xd, N * F, dx);
    free(x), free(w), free(y), free(dx), free(saved), free(xd), free(wd), free(yref);
}

static void test_shapes(lilm_test *t)
{
    size_t F[] = {48, 1152, 768, 13, 64, 1}, D[] = {6, 32, 24, 1, 8, 1};
    for (size_t i = 0; i < sizeof F / sizeof F[0]; i++) {
        size_t d, m;
        lilm_trunc_matrix_shape(F[i], &d, &m);
        LT_EQ_INT(t, d, D[i]);
        LT_EQ_INT(t, d * m, F[i]);
    }
    lilm_tr_shape s;
    LT_OK(t, lilm_tr_shape_init(&s, 288, 1152, 4));
    LT_EQ_INT(t, s.n, 9);
    size_t a[9] = {2, 2, 2, 2, 2, 3, 3, 1, 1}, b[9] = {2, 2, 2, 2, 2, 2, 2, 3, 3};
    size_t np = 0;
    for (int j = 0; j < 9; j++) {
        LT_EQ_INT(t, s.a[j], a[j]);
        LT_EQ_INT(t, s.b[j], b[j]);
        LT_EQ_INT(t, s.offset[j], np);
        np += 16 * a[j] * b[j];
    }
    LT_EQ_INT(t, s.n_params, np);
    LT_NEAR(t, lilm_tr_init_std(&s), 1.0 / (2.0 * pow(288.0 * 4.0, 1.0 / 18.0)), 1e-15);
    LT_OK(t, lilm_tr_shape_init(&s, 1, 7, 2));
    LT_EQ_INT(t, s.n, 1);
    LT_EQ_INT(t, s.a[0], 1);
    LT_EQ_INT(t, s.b[0], 7);
    LT_STATUS(t, lilm_tr_shape_init(&s, 0, 7, 2), LILM_ERR_ARG);
    /* Omega: the documented draw, roughly standard normal */
    float om[4000];
    lilm_qr_omega(om, 100, 40, lilm_qr_omega_key(1, 2, 3));
    double mu = 0.0, var = 0.0;
    for (int i = 0; i < 4000; i++)
        mu += om[i], var += (double)om[i] * om[i];
    mu /= 4000.0;
    var = var / 4000.0 - mu * mu;
    LT_TRUE(t, fabs(mu) < 0.1 && fabs(var - 1.0) < 0.1);
    /* tests/py/test_torch_lowrank.py checks lowrank.omega_key(1, 2, 3) against the same value */
    LT_TRUE(t, lilm_qr_omega_key(1, 2, 3) == 15020427595393229491ULL);
    LT_TRUE(t, lilm_qr_omega_key(1, 2, 3) != lilm_qr_omega_key(1, 3, 3));
    LT_TRUE(t, lilm_qr_omega_key(1, 2, 3) != lilm_qr_omega_key(1, 2, 4));
}

static void test_svd_truncation(lilm_test *t)
{
    lilm_backend *be = backend(t, 2);
    rng r = {21};
    lilm_trunc_params p = {.kind = LILM_TRUNC_SVD};
    p.k = 2, p.eps = 0.0f;
    trunc_case(t, be, &r, "svd k=2", p, 5, 48, NULL);
    p.k = 0, p.eps = 0.3f;
    trunc_case(t, be, &r, "svd eps=0.3", p, 6, 30, NULL);
    p.k = 3, p.eps = 0.2f;
    trunc_case(t, be, &r, "svd k=3 eps=0.2", p, 4, 48, NULL);
    p.k = 1, p.eps = 0.0f;
    trunc_case(t, be, &r, "svd k=1 (d = 1)", p, 3, 13, NULL);
    p.k = 4, p.eps = 0.0f;
    trunc_case(t, be, &r, "svd k=4 of 5 (square)", p, 3, 25, NULL);
    /* k >= d keeps everything: out = in and din = dout */
    p.k = 6, p.eps = 0.0f;
    float x[96], w[96], *y, *dx;
    double xd[96], wd[96];
    fill_both(&r, x, xd, 96, -1, 1);
    fill_both(&r, w, wd, 96, -1, 1);
    trunc_run(be, &p, x, w, 2, 48, &y, &dx, NULL);
    check_rel(t, "k = d: out = in", y, xd, 96, 2e-6);
    check_rel(t, "k = d: din = dout", dx, wd, 96, 2e-6);
    free(y), free(dx);
    /* repeated singular values: A = 0.7 [I | 0] (6 x 8) has six equal ones;
     * keeping all of them the map is the identity near A, so din = dout. */
    float tie[48] = {0};
    for (int i = 0; i < 6; i++)
        tie[i * 8 + i] = 0.7f;
    p.k = 0, p.eps = 0.5f;
    trunc_run(be, &p, tie, w, 1, 48, &y, &dx, NULL);
    check_rel(t, "tied singular values: din = dout", dx, wd, 48, 1e-5);
    free(y), free(dx);
    LT_OK(t, be->ops->sync(be));
    be->ops->destroy(be);
}

static void test_svd_entropic(lilm_test *t)
{
    lilm_backend *be = backend(t, 2);
    rng r = {22};
    lilm_trunc_params p = {.kind = LILM_TRUNC_ENTROPIC, .alpha = 2.0f};
    trunc_case(t, be, &r, "entropic alpha=2", p, 5, 48, NULL);
    p.alpha = 1.5f;
    trunc_case(t, be, &r, "entropic alpha=1.5", p, 4, 30, NULL);
    p.alpha = 3.0f;
    trunc_case(t, be, &r, "entropic alpha=3", p, 3, 36, NULL);
    /* every token keeps its Frobenius norm */
    float x[96], w[96], *y, *dx;
    fill_both(&r, x, NULL, 96, -1, 1);
    fill_both(&r, w, NULL, 96, -1, 1);
    trunc_run(be, &p, x, w, 2, 48, &y, &dx, NULL);
    for (int tk = 0; tk < 2; tk++) {
        double nx = 0.0, ny = 0.0;
        for (int i = 0; i < 48; i++)
            nx += (double)x[tk * 48 + i] * x[tk * 48 + i], ny += (double)y[tk * 48 + i] * y[tk * 48 + i];
        LT_NEAR(t, sqrt(ny), sqrt(nx), 1e-5 * sqrt(nx));
    }
    free(y), free(dx);
    /* exactly tied singular values (two 3 x 3 blocks of scaled rotations'
     * rows): the gradient stays finite and matches finite differences */
    float tie[48] = {0};
    for (int i = 0; i < 6; i++)
        tie[i * 8 + i] = i < 3 ? 0.9f : 0.4f;
    p.alpha = 2.0f;
    trunc_case(t, be, &r, "entropic, tied singular values", p, 1, 48, tie);
    LT_OK(t, be->ops->sync(be));
    be->ops->destroy(be);
}

static void test_qr_truncation(lilm_test *t)
{
    lilm_backend *be = backend(t, 2);
    rng r = {23};
    lilm_trunc_params p = {.kind = LILM_TRUNC_QR, .k = 2, .key = 77};
    trunc_case(t, be, &r, "qr k=2", p, 5, 48, NULL);
    p.k = 4, p.key = 78;
    trunc_case(t, be, &r, "qr k=4", p, 4, 30, NULL);
    p.k = 1, p.key = 79;
    trunc_case(t, be, &r, "qr k=1", p, 3, 64, NULL);
    p.k = 9, p.key = 80;                   /* k > d: out = in */
    trunc_case(t, be, &r, "qr k=9 > d", p, 3, 48, NULL);
    /* the saved Omega is the documented draw */
    float x[48], w[48], *y, *dx, *saved, om[16];
    fill_both(&r, x, NULL, 48, -1, 1);
    fill_both(&r, w, NULL, 48, -1, 1);
    p.k = 2, p.key = 12345;
    trunc_run(be, &p, x, w, 1, 48, &y, &dx, &saved);
    lilm_qr_omega(om, 8, 2, 12345);
    LT_TRUE(t, memcmp(om, saved, sizeof om) == 0);
    free(y), free(dx), free(saved);
    LT_OK(t, be->ops->sync(be));
    be->ops->destroy(be);
}

static void test_trunc_errors_and_threads(lilm_test *t)
{
    lilm_backend *b1 = backend(t, 1), *b3 = backend(t, 3);
    rng r = {24};
    size_t N = 7, F = 48;
    float *x = fnew(N * F), *w = fnew(N * F);
    fill_both(&r, x, NULL, N * F, -1, 1);
    fill_both(&r, w, NULL, N * F, -1, 1);
    lilm_trunc_params ps[3] = {{.kind = LILM_TRUNC_SVD, .k = 2, .eps = 0.1f},
                               {.kind = LILM_TRUNC_ENTROPIC, .alpha = 2.0f},
                               {.kind = LILM_TRUNC_QR, .k = 3, .key = 5}};
    for (int i = 0; i < 3; i++) {
        float *y1, *d1, *y3, *d3;
        trunc_run(b1, &ps[i], x, w, N, F, &y1, &d1, NULL);
        trunc_run(b3, &ps[i], x, w, N, F, &y3, &d3, NULL);
        LT_CHECK(t, memcmp(y1, y3, N * F * sizeof(float)) == 0, "kind %d: forward differs for 1 and 3 threads", i);
        LT_CHECK(t, memcmp(d1, d3, N * F * sizeof(float)) == 0, "kind %d: backward differs for 1 and 3 threads", i);
        free(y1), free(d1), free(y3), free(d3);
    }
    LT_OK(t, b1->ops->sync(b1));
    lilm_trunc_params bad[4] = {{.kind = LILM_TRUNC_SVD},
                                {.kind = LILM_TRUNC_SVD, .k = 1, .eps = 1.5f},
                                {.kind = LILM_TRUNC_ENTROPIC, .alpha = 1.0f},
                                {.kind = LILM_TRUNC_QR, .k = 0}};
    for (int i = 0; i < 4; i++) {
        LT_STATUS(t, lilm_trunc_params_check(&bad[i], F), LILM_ERR_ARG);
        float y[1], s[1];
        lilm__cpu_trunc_forward(b1, y, s, x, N, F, &bad[i], NULL);
        LT_STATUS(t, b1->ops->sync(b1), LILM_ERR_ARG);
    }
    LT_OK(t, b1->ops->sync(b1));
    free(x), free(w);
    b1->ops->destroy(b1);
    b3->ops->destroy(b3);
}

/* ---- tensor ring ---- */

/* W (O, I) in double: every entry's trace, written out. */
static void tr_ref_weight(double *W, const double *cores, const lilm_tr_shape *s)
{
    size_t R = s->bond;
    double M[64], T[64];
    for (size_t o = 0; o < s->out; o++)
        for (size_t i = 0; i < s->in; i++) {
            size_t ij[LILM_TR_MAX_FACTORS], oj[LILM_TR_MAX_FACTORS], ri = i, ro = o;
            for (int j = s->n - 1; j >= 0; j--) {
                ij[j] = ri % s->a[j], ri /= s->a[j];
                oj[j] = ro % s->b[j], ro /= s->b[j];
            }
            for (size_t a = 0; a < R * R; a++)
                M[a] = (a / R == a % R);
            for (int j = 0; j < s->n; j++) {
                const double *G = cores + s->offset[j];
                for (size_t a = 0; a < R; a++)
                    for (size_t c = 0; c < R; c++) {
                        double v = 0.0;
                        for (size_t b = 0; b < R; b++)
                            v += M[a * R + b] * G[((b * R + c) * s->a[j] + ij[j]) * s->b[j] + oj[j]];
                        T[a * R + c] = v;
                    }
                memcpy(M, T, R * R * sizeof(double));
            }
            double tr = 0.0;
            for (size_t a = 0; a < R; a++)
                tr += M[a * R + a];
            W[o * s->in + i] = tr;
        }
}

typedef struct tr_ctx {
    const lilm_tr_shape *s;
    size_t N;
    double *x, *cores, *bias, *W, *y, *w;  /* y = gelu(x W^T + bias) */
} tr_ctx;

static double gelu_d(double v) { return 0.5 * v * (1.0 + erf(v / sqrt(2.0))); }

static double tr_loss(void *v)
{
    tr_ctx *c = v;
    const lilm_tr_shape *s = c->s;
    tr_ref_weight(c->W, c->cores, s);
    for (size_t n = 0; n < c->N; n++)
        for (size_t o = 0; o < s->out; o++) {
            double acc = c->bias[o];
            for (size_t i = 0; i < s->in; i++)
                acc += c->x[n * s->in + i] * c->W[o * s->in + i];
            c->y[n * s->out + o] = gelu_d(acc);
        }
    return dot_d(c->y, c->w, c->N * s->out);
}

static void tr_case(lilm_test *t, lilm_backend *be, rng *r, size_t In, size_t Out, size_t R, size_t N)
{
    lilm_tr_shape s;
    LT_OK(t, lilm_tr_shape_init(&s, In, Out, R));
    size_t P = s.n_params;
    float *x = fnew(N * In), *cores = fnew(P), *bias = fnew(Out), *w = fnew(N * Out), *W = fnew(Out * In);
    float *dW = fnew(Out * In), *out = fnew(N * Out), *pre = fnew(N * Out), *dx = fnew(N * In);
    float *dcores = fnew(P), *dbias = fnew(Out);
    double *xd = dnew(N * In), *cd = dnew(P), *bd = dnew(Out), *wd = dnew(N * Out), *Wd = dnew(Out * In), *yd = dnew(N * Out);
    double std = 2.0 * lilm_tr_init_std(&s);   /* outputs of order 1 */
    fill_both(r, x, xd, N * In, -1, 1);
    fill_both(r, cores, cd, P, -std, std);
    fill_both(r, bias, bd, Out, -0.2, 0.2);
    fill_both(r, w, wd, N * Out, -1, 1);
    void *work = xalloc(lilm__cpu_tr_work_bytes(be, &s));
    lilm__cpu_tr_linear_forward(be, out, pre, x, W, cores, bias, N, &s, LILM_ACT_GELU, work);
    /* gradients accumulate into pre-filled dcores and dbias */
    for (size_t i = 0; i < P; i++)
        dcores[i] = 0.25f;
    for (size_t i = 0; i < Out; i++)
        dbias[i] = -0.5f;
    float *dout = fnew(N * Out);
    memcpy(dout, w, N * Out * sizeof(float));
    lilm__cpu_tr_linear_backward(be, dx, dcores, dbias, dout, pre, x, W, dW, cores, N, &s, LILM_ACT_GELU, 0, work);
    LT_OK(t, be->ops->sync(be));
    for (size_t i = 0; i < P; i++)
        dcores[i] -= 0.25f;
    for (size_t i = 0; i < Out; i++)
        dbias[i] += 0.5f;
    tr_ctx c = {&s, N, xd, cd, bd, Wd, yd, wd};
    tr_loss(&c);
    char name[160];
    snprintf(name, sizeof name, "tensor ring %zu -> %zu (n %d, R %zu) weight", In, Out, s.n, R);
    check_rel(t, name, W, Wd, Out * In, 2e-5);
    snprintf(name, sizeof name, "tensor ring %zu -> %zu forward", In, Out);
    check_rel(t, name, out, yd, N * Out, 2e-5);
    snprintf(name, sizeof name, "tensor ring %zu -> %zu d/dinput", In, Out);
    fd_check(t, name, r, tr_loss, &c, xd, N * In, dx);
    snprintf(name, sizeof name, "tensor ring %zu -> %zu d/dcores", In, Out);
    fd_check(t, name, r, tr_loss, &c, cd, P, dcores);
    for (int j = 0; j < s.n; j++) {                    /* every core gets checked */
        snprintf(name, sizeof name, "tensor ring %zu -> %zu d/dcore %d", In, Out, j);
        size_t len = s.bond * s.bond * s.a[j] * s.b[j];
        fd_check(t, name, r, tr_loss, &c, cd + s.offset[j], len < 8 ? len : 8, dcores + s.offset[j]);
    }
    snprintf(name, sizeof name, "tensor ring %zu -> %zu d/dbias", In, Out);
    fd_check(t, name, r, tr_loss, &c, bd, Out, dbias);
    free(work), free(x), free(cores), free(bias), free(w), free(W), free(dW), free(out), free(pre), free(dx);
    free(dcores), free(dbias), free(dout), free(xd), free(cd), free(bd), free(wd), free(Wd), free(yd);
}

static void test_tensor_ring(lilm_test *t)
{
    lilm_backend *be = backend(t, 2);
    rng r = {25};
    tr_case(t, be, &r, 12, 10, 3, 5);    /* a (2,2,3), b (2,5,1) */
    tr_case(t, be, &r, 6, 8, 2, 4);      /* a (2,3,1), b (2,2,2) */
    tr_case(t, be, &r, 7, 1, 2, 3);      /* n = 1: W = trace of one core */
    tr_case(t, be, &r, 16, 9, 4, 3);     /* a (2,2,2,2), b (3,3,1,1) */
    be->ops->destroy(be);
}

static void test_tensor_ring_threads(lilm_test *t)
{
    lilm_backend *b1 = backend(t, 1), *b3 = backend(t, 3);
    lilm_tr_shape s;
    LT_OK(t, lilm_tr_shape_init(&s, 96, 64, 4));
    rng r = {26};
    float *cores = fnew(s.n_params), *W1 = fnew(96 * 64), *W3 = fnew(96 * 64), *dw = fnew(96 * 64);
    float *g1 = fnew(s.n_params), *g3 = fnew(s.n_params);
    fill_both(&r, cores, NULL, s.n_params, -0.5, 0.5);
    fill_both(&r, dw, NULL, 96 * 64, -1, 1);
    void *work = xalloc(lilm__cpu_tr_work_bytes(b1, &s));
    lilm__cpu_tr_weight(b1, W1, cores, &s, work);
    lilm__cpu_tr_weight_backward(b1, g1, dw, cores, &s, work);
    lilm__cpu_tr_weight(b3, W3, cores, &s, work);
    lilm__cpu_tr_weight_backward(b3, g3, dw, cores, &s, work);
    LT_TRUE(t, memcmp(W1, W3, 96 * 64 * sizeof(float)) == 0);
    LT_TRUE(t, memcmp(g1, g3, s.n_params * sizeof(float)) == 0);
    free(work), free(cores), free(W1), free(W3), free(dw), free(g1), free(g3);
    b1->ops->destroy(b1);
    b3->ops->destroy(b3);
}

/* ---- the PyTorch parity fixture ---- */

static const float *fx_tensor(lilm_test *t, lilm_st_file *f, const char *name, size_t n)
{
    const lilm_st_tensor *x = lilm_st_find(f, name);
    LT_CHECK(t, x != NULL, "fixture lacks %s", name);
    if (!x)
        return NULL;
    LT_CHECK(t, x->dtype == LILM_ST_F32 && x->nbytes == n * sizeof(float), "%s: want %zu F32 values", name, n);
    return x->dtype == LILM_ST_F32 && x->nbytes == n * sizeof(float) ? x->data : NULL;
}

static void fx_compare(lilm_test *t, const char *what, const float *got, const float *want, size_t n)
{
    double *ref = dnew(n);
    for (size_t i = 0; i < n; i++)
        ref[i] = want[i];
    check_rel(t, what, got, ref, n, 1e-4);
    free(ref);
}

static void test_torch_parity(lilm_test *t)
{
    lilm_st_file *f = NULL;
    LT_OK(t, lilm_st_open(&f, "tests/fixtures/ops/lowrank_ops.safetensors"));
    if (!f)
        return;
    lilm_backend *be = backend(t, 2);
    const size_t N = 6, F = 48;
    const float *x = fx_tensor(t, f, "trunc.input", N * F), *g = fx_tensor(t, f, "trunc.dout", N * F);
    struct { const char *name; lilm_trunc_params p; } cases[] = {
        {"svd_k2", {.kind = LILM_TRUNC_SVD, .k = 2}},
        {"svd_eps", {.kind = LILM_TRUNC_SVD, .eps = 0.35f}},
        {"svd_k3_eps", {.kind = LILM_TRUNC_SVD, .k = 3, .eps = 0.2f}},
        {"entropic", {.kind = LILM_TRUNC_ENTROPIC, .alpha = 2.0f}},
        {"qr_k3", {.kind = LILM_TRUNC_QR, .k = 3, .key = 2024}},
    };
    for (size_t c = 0; x && g && c < sizeof cases / sizeof cases[0]; c++) {
        char ny[64], nd[64];
        snprintf(ny, sizeof ny, "%s.out", cases[c].name);
        snprintf(nd, sizeof nd, "%s.din", cases[c].name);
        const float *wy = fx_tensor(t, f, ny, N * F), *wd = fx_tensor(t, f, nd, N * F);
        if (!wy || !wd)
            continue;
        float *y, *dx;
        trunc_run(be, &cases[c].p, x, g, N, F, &y, &dx, NULL);
        fx_compare(t, ny, y, wy, N * F);
        fx_compare(t, nd, dx, wd, N * F);
        free(y), free(dx);
    }
    /* the Python draw of Omega is the C one */
    const float *wom = fx_tensor(t, f, "qr_k3.omega", 8 * 3);
    float om[24];
    lilm_qr_omega(om, 8, 3, 2024);
    if (wom)
        LT_CHECK(t, memcmp(om, wom, sizeof om) == 0, "qr_k3.omega: the Python draw differs from lilm_qr_omega");
    /* tensor ring 12 -> 10, bond 3, GELU */
    lilm_tr_shape s;
    LT_OK(t, lilm_tr_shape_init(&s, 12, 10, 3));
    const size_t TN = 5;
    const float *tx = fx_tensor(t, f, "tr.input", TN * 12), *tg = fx_tensor(t, f, "tr.dout", TN * 10);
    const float *tb = fx_tensor(t, f, "tr.bias", 10), *ty = fx_tensor(t, f, "tr.out", TN * 10);
    const float *tdx = fx_tensor(t, f, "tr.din", TN * 12), *tdb = fx_tensor(t, f, "tr.dbias", 10);
    float *cores = fnew(s.n_params), *dcores_want = fnew(s.n_params);
    int ok = tx && tg && tb && ty && tdx && tdb;
    for (int j = 0; ok && j < s.n; j++) {
        char nc[64];
        size_t len = s.bond * s.bond * s.a[j] * s.b[j];
        snprintf(nc, sizeof nc, "tr.cores.%d", j);
        const float *cj = fx_tensor(t, f, nc, len);
        snprintf(nc, sizeof nc, "tr.dcores.%d", j);
        const float *dj = fx_tensor(t, f, nc, len);
        ok = cj && dj;
        if (ok) {
            memcpy(cores + s.offset[j], cj, len * sizeof(float));
            memcpy(dcores_want + s.offset[j], dj, len * sizeof(float));
        }
    }
    if (ok) {
        float *W = fnew(120), *dW = fnew(120), *out = fnew(TN * 10), *pre = fnew(TN * 10), *dout = fnew(TN * 10);
        float *dx = fnew(TN * 12), *dcores = fnew(s.n_params), *dbias = fnew(10);
        void *work = xalloc(lilm__cpu_tr_work_bytes(be, &s));
        memcpy(dout, tg, TN * 10 * sizeof(float));
        lilm__cpu_tr_linear_forward(be, out, pre, tx, W, cores, tb, TN, &s, LILM_ACT_GELU, work);
        lilm__cpu_tr_linear_backward(be, dx, dcores, dbias, dout, pre, tx, W, dW, cores, TN, &s, LILM_ACT_GELU,
                                     0, work);
        fx_compare(t, "tr.out", out, ty, TN * 10);
        fx_compare(t, "tr.din", dx, tdx, TN * 12);
        fx_compare(t, "tr.dbias", dbias, tdb, 10);
        fx_compare(t, "tr.dcores", dcores, dcores_want, s.n_params);
        free(W), free(dW), free(out), free(pre), free(dout), free(dx), free(dcores), free(dbias), free(work);
    }
    free(cores), free(dcores_want);
    LT_OK(t, be->ops->sync(be));
    be->ops->destroy(be);
    lilm_st_close(f);
}

static const lilm_test_case cases[] = {
    {"shapes", test_shapes},
    {"svd_truncation", test_svd_truncation},
    {"svd_entropic", test_svd_entropic},
    {"qr_truncation", test_qr_truncation},
    {"trunc_errors_and_threads", test_trunc_errors_and_threads},
    {"tensor_ring", test_tensor_ring},
    {"tensor_ring_threads", test_tensor_ring_threads},
    {"torch_parity", test_torch_parity},
};
LILM_TEST_MAIN(cases)
