/*
 * test_ops.c: every CPU backend op against a naive double-precision
 * reference, and every backward against central finite differences.
 *
 * Forward checks compare all outputs with a plain double loop on random
 * inputs at several shapes (odd sizes included): |got - ref| <= atol +
 * rtol |ref| with the tolerances stated at each call (fp32 rounding of
 * sums of up to a few hundred terms: 1e-5 .. 1e-4 relative).
 *
 * Gradient checks: for an op y = f(x) the test picks fixed random weights
 * w, defines L = sum(w * y) (summed in double from the fp32 output), runs the
 * backward with dout = w, and compares the analytic dL/dx at up to
 * FD_SAMPLES random coordinates of every input with the fp32 central
 * difference (L(x+h) - L(x-h)) / 2h. Pass: |fd - an| <= 2e-2 * (|an| +
 * rms(an)) (the fp32 evaluation noise of L divided by 2h is ~1e-4 relative;
 * truncation error of the central difference with h = 1e-2 is ~1e-4). The
 * accumulate (+=) and write (=) conventions of backend.h are checked by
 * pre-filling the outputs.
 *
 * Also: attention with Dq != Dv and k, v interleaved in one kv buffer (the
 * model's layout), the KV-cache form equals rows of the full forward,
 * classifier_xent with ignore_id rows and several row chunks, AdamW against
 * a step computed by hand in double, grad_sanitize with NaN/Inf, errors
 * reported through sync(), and bit-identical results for two runs.
 */
#include "test.h"

#include "core/config.h"
#include "core/status.h"
#include "cpu/cpu.h"
#include "cpu/cpu_math.h"
#include "ops/backend.h"

#include <stdint.h>

#define FD_SAMPLES 24

/* ---- helpers ---- */

typedef struct rng {
    uint64_t s;
} rng;

static double rng_u(rng *r) /* uniform in [0, 1) */
{
    r->s = r->s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(r->s >> 11) * (1.0 / 9007199254740992.0);
}

static void fill(rng *r, float *x, size_t n, double lo, double hi)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(lo + (hi - lo) * rng_u(r));
}

static float *fnew(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p)
        abort();
    return p;
}

static double *dnew(size_t n)
{
    double *p = calloc(n ? n : 1, sizeof(double));
    if (!p)
        abort();
    return p;
}

static lilm_backend *make_backend(lilm_test *t, int threads)
{
    lilm_backend *be = NULL;
    LT_OK(t, lilm_cpu_backend_create(&be, threads));
    if (!be)
        abort();
    lilm_backend_plan plan = {
        .max_rows = 4096, .max_batch = 8, .max_seq = 300, .d_model = 128, .vocab = 1000,
        .n_heads = 4, .qk_dim = 32, .v_dim = 32, .max_width = 512,
    };
    size_t bytes = 0;
    LT_OK(t, be->ops->reserve(be, &plan, &bytes));
    LT_TRUE(t, bytes > 0);
    return be;
}

static void free_backend(lilm_test *t, lilm_backend *be)
{
    LT_OK(t, be->ops->sync(be));
    be->ops->destroy(be);
}

/* All of got within atol + rtol |ref| of ref; reports the worst element. */
static void check_close(lilm_test *t, const char *what, const float *got, const double *ref, size_t n,
                        double atol, double rtol)
{
    size_t worst = 0;
    double worst_excess = -1.0;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - ref[i]);
        double excess = err - (atol + rtol * fabs(ref[i]));
        if (!(excess <= 0.0))
            bad = 1;
        if (!(excess <= worst_excess))
            worst_excess = excess, worst = i;
    }
    LT_CHECK(t, !bad, "%s: element %zu of %zu: got %.9g want %.9g (atol %g rtol %g)", what, worst, n,
             (double)got[worst], ref[worst], atol, rtol);
}

/* A finite-difference problem: eval() recomputes the op's outputs from the
 * current inputs and returns L = sum(w * y) in double, or NaN when the inputs
 * moved across a point where the op is not differentiable (ReLU at 0). */
typedef double (*fd_eval_fn)(void *ctx);

/* Compares the analytic gradient `an` of L with respect to x (n floats) with
 * central differences at FD_SAMPLES random coordinates (or all, if fewer). */
static void fd_check(lilm_test *t, const char *what, rng *r, fd_eval_fn eval, void *ctx,
                     float *x, size_t n, const float *an, float h)
{
    double rms = 0.0;
    for (size_t i = 0; i < n; i++)
        rms += (double)an[i] * an[i];
    rms = sqrt(rms / (double)(n ? n : 1));
    int fails = 0;
    size_t skipped = 0;
    size_t samples = n < FD_SAMPLES ? n : FD_SAMPLES;
    for (size_t s = 0; s < samples; s++) {
        size_t i = n <= FD_SAMPLES ? s : (size_t)(rng_u(r) * (double)n);
        float keep = x[i];
        x[i] = keep + h;
        double lp = eval(ctx);
        x[i] = keep - h;
        double lm = eval(ctx);
        x[i] = keep;
        if (isnan(lp) || isnan(lm)) { /* the step crossed a kink (ReLU): no derivative here */
            skipped++;
            continue;
        }
        double fd = (lp - lm) / (2.0 * (double)h);
        double tol = 2e-2 * (fabs((double)an[i]) + rms) + 1e-6;
        if (fabs(fd - (double)an[i]) > tol && fails++ < 3)
            LT_CHECK(t, 0, "%s: d/dx[%zu]: analytic %.7g, finite difference %.7g (tol %.3g)", what, i,
                     (double)an[i], fd, tol);
        t->checks++;
    }
    LT_CHECK(t, skipped * 2 <= samples, "%s: %zu of %zu samples hit a kink", what, skipped, samples);
}

static double dot_wd(const float *y, const float *w, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)y[i] * (double)w[i];
    return s;
}

/* ---- embedding ---- */

typedef struct emb_ctx {
    lilm_backend *be;
    float *out, *wte, *w;
    int32_t *tok;
    size_t N, C;
} emb_ctx;

static double emb_eval(void *p)
{
    emb_ctx *c = p;
    c->be->ops->embedding_forward(c->be, c->out, c->tok, c->wte, c->N, c->C);
    return dot_wd(c->out, c->w, c->N * c->C);
}

static void test_embedding(lilm_test *t)
{
    lilm_backend *be = make_backend(t, 2);
    rng r = {1};
    size_t V = 37, C = 19, N = 53;
    float *wte = fnew(V * C), *out = fnew(N * C), *w = fnew(N * C), *dwte = fnew(V * C);
    double *ref = dnew(V * C);
    int32_t tok[53];
    for (size_t i = 0; i < N; i++)
        tok[i] = (int32_t)(rng_u(&r) * (double)V);
    tok[5] = tok[9] = tok[11] = 3; /* repeated tokens add */
    fill(&r, wte, V * C, -1, 1);
    fill(&r, w, N * C, -1, 1);
    be->ops->embedding_forward(be, out, tok, wte, N, C);
    for (size_t i = 0; i < N; i++)
        LT_CHECK(t, memcmp(out + i * C, wte + (size_t)tok[i] * C, C * sizeof(float)) == 0, "row %zu", i);
    /* backward accumulates into a pre-filled dwte */
    fill(&r, dwte, V * C, -1, 1);
    for (size_t i = 0; i < V * C; i++)
        ref[i] = dwte[i];
    for (size_t i = 0; i < N; i++)
        for (size_t c = 0; c < C; c++)
            ref[(size_t)tok[i] * C + c] += w[i * C + c];
    be->ops->embedding_backward(be, dwte, w, tok, N, C, V);
    check_close(t, "dwte", dwte, ref, V * C, 1e-5, 1e-5);
    memset(dwte, 0, V * C * sizeof(float));
    be->ops->embedding_backward(be, dwte, w, tok, N, C, V);
    emb_ctx c = {be, out, wte, w, tok, N, C};
    fd_check(t, "embedding dwte", &r, emb_eval, &c, wte, V * C, dwte, 1e-2f);
    /* an out-of-range token is reported by sync() */
    tok[7] = (int32_t)5000;
    be->ops->embedding_forward(be, out, tok, wte, N, C);
    LT_STATUS(t, be->ops->sync(be), LILM_ERR_ARG);
    LT_OK(t, be->ops->sync(be));
    free(wte), free(out), free(w), free(dwte), free(ref);
    free_backend(t, be);
}

/* ---- norms ---- */

static void norm_ref(double *y, double *mean, double *rstd, const float *x, const float *wt, const float *b,
                     size_t N, size_t C, float eps, int layer)
{
    for (size_t i = 0; i < N; i++) {
        double mu = 0.0, ss = 0.0;
        if (layer) {
            for (size_t c = 0; c < C; c++)
                mu += x[i * C + c];
            mu /= (double)C;
        }
        for (size_t c = 0; c < C; c++)
            ss += (x[i * C + c] - mu) * (x[i * C + c] - mu);
        double rs = 1.0 / sqrt(ss / (double)C + eps);
        mean[i] = mu;
        rstd[i] = rs;
        for (size_t c = 0; c < C; c++)
            y[i * C + c] = (x[i * C + c] - mu) * rs * wt[c] + (b ? b[c] : 0.0);
    }
}

typedef struct norm_ctx {
    lilm_backend *be;
    float *out, *mean, *rstd, *x, *wt, *b, *w;
    size_t N, C;
    float eps;
} norm_ctx;

static double norm_eval(void *p)
{
    norm_ctx *c = p;
    c->be->ops->norm_forward(c->be, c->out, c->mean, c->rstd, c->x, c->wt, c->b, c->N, c->C, c->eps);
    return dot_wd(c->out, c->w, c->N * c->C);
}

static void norm_case(lilm_test *t, lilm_backend *be, rng *r, size_t N, size_t C, int layer)
{
    float eps = 1e-5f;
    float *x = fnew(N * C), *out = fnew(N * C), *w = fnew(N * C), *din = fnew(N * C), *pre = fnew(N * C);
    float *wt = fnew(C), *b = layer ? fnew(C) : NULL, *dwt = fnew(C), *db = fnew(C);
    float *mean = fnew(N), *rstd = fnew(N);
    double *y = dnew(N * C), *rm = dnew(N), *rr = dnew(N);
    fill(r, x, N * C, -2, 2);
    for (size_t i = 0; i < N * C; i++)
        x[i] += 0.5f; /* a non-zero mean */
    fill(r, wt, C, 0.5, 1.5);
    if (b)
        fill(r, b, C, -0.5, 0.5);
    fill(r, w, N * C, -1, 1);
    be->ops->norm_forward(be, out, layer ? mean : NULL, rstd, x, wt, b, N, C, eps);
    norm_ref(y, rm, rr, x, wt, b, N, C, eps, layer);
    char what[64];
    snprintf(what, sizeof what, "%s fwd N=%zu C=%zu", layer ? "layernorm" : "rmsnorm", N, C);
    check_close(t, what, out, y, N * C, 1e-5, 1e-5);
    double *rd = dnew(N);
    for (size_t i = 0; i < N; i++)
        rd[i] = rr[i];
    check_close(t, "rstd", rstd, rd, N, 0, 1e-5);
    if (layer) {
        for (size_t i = 0; i < N; i++)
            rd[i] = rm[i];
        check_close(t, "mean", mean, rd, N, 1e-6, 1e-5);
    }
    /* backward: din and the parameter grads ADD to what is there */
    fill(r, pre, N * C, -1, 1);
    memcpy(din, pre, N * C * sizeof(float));
    for (size_t c = 0; c < C; c++)
        dwt[c] = 0.25f, db[c] = -0.5f;
    be->ops->norm_backward(be, din, dwt, layer ? db : NULL, w, x, wt, layer ? mean : NULL, rstd, N, C);
    for (size_t i = 0; i < N * C; i++)
        din[i] -= pre[i];
    for (size_t c = 0; c < C; c++)
        dwt[c] -= 0.25f, db[c] += 0.5f;
    norm_ctx ctx = {be, out, layer ? mean : NULL, rstd, x, wt, b, w, N, C, eps};
    snprintf(what, sizeof what, "%s din N=%zu C=%zu", layer ? "layernorm" : "rmsnorm", N, C);
    fd_check(t, what, r, norm_eval, &ctx, x, N * C, din, 1e-2f);
    fd_check(t, "norm dweight", r, norm_eval, &ctx, wt, C, dwt, 1e-2f);
    if (layer)
        fd_check(t, "norm dbias", r, norm_eval, &ctx, b, C, db, 1e-2f);
    free(x), free(out), free(w), free(din), free(pre), free(wt), free(b), free(dwt), free(db);
    free(mean), free(rstd), free(y), free(rm), free(rr), free(rd);
}

static void test_norm(lilm_test *t)
{
    lilm_backend *be = make_backend(t, 2);
    rng r = {2};
    for (int layer = 0; layer < 2; layer++) {
        norm_case(t, be, &r, 1, 5, layer);
        norm_case(t, be, &r, 7, 48, layer);
        norm_case(t, be, &r, 33, 67, layer);
        norm_case(t, be, &r, 130, 128, layer);
    }
    free_backend(t, be);
}

/* ---- matmul ---- */

static double act_ref(double x, lilm_act act)
{
    if (act == LILM_ACT_GELU)
        return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    if (act == LILM_ACT_RELU)
        return x > 0 ? x : 0;
    if (act == LILM_ACT_RELU2)
        return x > 0 ? x * x : 0;
    return x;
}

typedef struct mm_ctx {
    lilm_backend *be;
    float *out, *pre, *in, *wt, *bias, *w;
    size_t N, IC, OC;
    lilm_act act;
    unsigned char *sign0; /* (N, OC) pre > 0 at the unperturbed point (ReLU only) */
} mm_ctx;

static double mm_eval(void *p)
{
    mm_ctx *c = p;
    c->be->ops->matmul_forward(c->be, c->out, c->pre, c->in, c->wt, c->bias, c->N, c->IC, c->OC, c->act);
    if (c->sign0)
        for (size_t i = 0; i < c->N * c->OC; i++)
            if ((c->pre[i] > 0.0f) != c->sign0[i])
                return NAN;
    return dot_wd(c->out, c->w, c->N * c->OC);
}

static void matmul_case(lilm_test *t, lilm_backend *be, rng *r, size_t N, size_t IC, size_t OC,
                        lilm_act act, int with_bias, int accumulate)
{
    float *in = fnew(N * IC), *wt = fnew(OC * IC), *bias = with_bias ? fnew(OC) : NULL;
    float *out = fnew(N * OC), *pre = act ? fnew(N * OC) : NULL, *w = fnew(N * OC), *dout = fnew(N * OC);
    float *din = fnew(N * IC), *din0 = fnew(N * IC), *dw = fnew(OC * IC), *db = fnew(OC);
    double *ref = dnew(N * OC), *refpre = dnew(N * OC);
    double bound = 1.0 / sqrt((double)IC);
    fill(r, in, N * IC, -1.5, 1.5);
    fill(r, wt, OC * IC, -bound * 2, bound * 2);
    if (bias)
        fill(r, bias, OC, -0.5, 0.5);
    fill(r, w, N * OC, -1, 1);
    for (size_t i = 0; i < N; i++)
        for (size_t o = 0; o < OC; o++) {
            double s = bias ? bias[o] : 0.0;
            for (size_t c = 0; c < IC; c++)
                s += (double)in[i * IC + c] * wt[o * IC + c];
            refpre[i * OC + o] = s;
            ref[i * OC + o] = act_ref(s, act);
        }
    be->ops->matmul_forward(be, out, pre, in, wt, bias, N, IC, OC, act);
    char what[96];
    snprintf(what, sizeof what, "matmul fwd N=%zu IC=%zu OC=%zu act=%d bias=%d", N, IC, OC, (int)act, with_bias);
    check_close(t, what, out, ref, N * OC, 1e-5, 1e-4);
    if (pre)
        check_close(t, "matmul pre", pre, refpre, N * OC, 1e-5, 1e-4);
    /* backward: dw/db accumulate; din = or += */
    memcpy(dout, w, N * OC * sizeof(float));
    fill(r, din0, N * IC, -1, 1);
    memcpy(din, din0, N * IC * sizeof(float));
    for (size_t i = 0; i < OC * IC; i++)
        dw[i] = 1.0f;
    for (size_t o = 0; o < OC; o++)
        db[o] = 2.0f;
    be->ops->matmul_backward(be, din, dw, bias ? db : NULL, dout, pre, in, wt, N, IC, OC, act, accumulate);
    for (size_t i = 0; i < OC * IC; i++)
        dw[i] -= 1.0f;
    for (size_t o = 0; o < OC; o++)
        db[o] -= 2.0f;
    if (accumulate)
        for (size_t i = 0; i < N * IC; i++)
            din[i] -= din0[i];
    unsigned char *sign0 = NULL;
    if (act == LILM_ACT_RELU) {
        sign0 = malloc(N * OC);
        for (size_t i = 0; i < N * OC; i++)
            sign0[i] = refpre[i] > 0.0;
    }
    mm_ctx ctx = {be, out, pre, in, wt, bias, w, N, IC, OC, act, sign0};
    float h = act == LILM_ACT_RELU ? 2e-3f : 1e-2f;
    snprintf(what, sizeof what, "matmul din act=%d acc=%d", (int)act, accumulate);
    fd_check(t, what, r, mm_eval, &ctx, in, N * IC, din, h);
    snprintf(what, sizeof what, "matmul dw N=%zu IC=%zu OC=%zu act=%d", N, IC, OC, (int)act);
    fd_check(t, what, r, mm_eval, &ctx, wt, OC * IC, dw, h);
    if (bias)
        fd_check(t, "matmul dbias", r, mm_eval, &ctx, bias, OC, db, h);
    /* din == NULL is allowed and leaves the rest unchanged */
    float *dw2 = fnew(OC * IC);
    memcpy(dout, w, N * OC * sizeof(float));
    be->ops->matmul_forward(be, out, pre, in, wt, bias, N, IC, OC, act);
    be->ops->matmul_backward(be, NULL, dw2, NULL, dout, pre, in, wt, N, IC, OC, act, 0);
    int same = 1;
    for (size_t i = 0; i < OC * IC; i++)
        same &= fabsf(dw2[i] - dw[i]) <= 1e-4f * (1.0f + fabsf(dw[i]));
    LT_CHECK(t, same, "matmul dw with din == NULL differs");
    free(dw2), free(sign0);
    free(in), free(wt), free(bias), free(out), free(pre), free(w), free(dout), free(din), free(din0);
    free(dw), free(db), free(ref), free(refpre);
}

static void test_matmul(lilm_test *t)
{
    lilm_backend *be = make_backend(t, 2);
    rng r = {3};
    matmul_case(t, be, &r, 1, 1, 1, LILM_ACT_NONE, 0, 0);
    matmul_case(t, be, &r, 5, 3, 7, LILM_ACT_NONE, 1, 0);
    matmul_case(t, be, &r, 37, 29, 41, LILM_ACT_GELU, 1, 0);
    matmul_case(t, be, &r, 37, 29, 41, LILM_ACT_RELU, 1, 1);
    matmul_case(t, be, &r, 64, 48, 96, LILM_ACT_GELU, 0, 1);
    matmul_case(t, be, &r, 131, 40, 23, LILM_ACT_NONE, 1, 1);
    matmul_case(t, be, &r, 37, 29, 41, LILM_ACT_RELU2, 1, 0);
    free_backend(t, be);
}

/* ---- elementwise ---- */

typedef struct act_ctx {
    lilm_backend *be;
    float *out, *in, *w;
    size_t n;
    lilm_act act;
} act_ctx;

static double act_eval(void *p)
{
    act_ctx *c = p;
    c->be->ops->act_forward(c->be, c->out, c->in, c->n, c->act);
    return dot_wd(c->out, c->w, c->n);
}

static void test_elementwise(lilm_test *t)
{
    lilm_backend *be = make_backend(t, 2);
    rng r = {4};
    size_t n = 40000; /* above the parallel threshold */
    float *in = fnew(n), *out = fnew(n), *w = fnew(n), *din = fnew(n), *a = fnew(n), *b = fnew(n);
    double *ref = dnew(n);
    fill(&r, in, n, -6, 6);
    fill(&r, w, n, -1, 1);
    for (int act = 0; act < 3; act++) {
        be->ops->act_forward(be, out, in, n, (lilm_act)act);
        for (size_t i = 0; i < n; i++)
            ref[i] = act_ref(in[i], (lilm_act)act);
        check_close(t, act == 1 ? "gelu" : act == 2 ? "relu" : "identity", out, ref, n, 1e-6, 1e-6);
        be->ops->act_backward(be, din, w, in, n, (lilm_act)act);
        act_ctx c = {be, out, in, w, n, (lilm_act)act};
        fd_check(t, "act backward", &r, act_eval, &c, in, n, din, act == 2 ? 1e-3f : 1e-2f);
    }
    /* the GELU derivative against its closed form in double */
    be->ops->act_backward(be, din, w, in, n, LILM_ACT_GELU);
    for (size_t i = 0; i < n; i++) {
        double x = in[i];
        ref[i] = w[i] * (0.5 * (1 + erf(x / sqrt(2.0))) + x * exp(-0.5 * x * x) / sqrt(2 * M_PI));
    }
    check_close(t, "gelu grad", din, ref, n, 1e-6, 1e-6);
    fill(&r, a, n, -1, 1);
    fill(&r, b, n, -1, 1);
    be->ops->add(be, out, a, b, n);
    for (size_t i = 0; i < n; i++)
        ref[i] = (double)(a[i] + b[i]);
    check_close(t, "add", out, ref, n, 0, 0);
    be->ops->add(be, a, a, b, n); /* out aliases a */
    check_close(t, "add aliased", a, ref, n, 0, 0);
    for (size_t i = 0; i < n; i++)
        ref[i] = (double)(a[i] + b[i]);
    be->ops->accumulate(be, a, b, n);
    check_close(t, "accumulate", a, ref, n, 0, 0);
    be->ops->copy(be, out, b, n);
    LT_TRUE(t, memcmp(out, b, n * sizeof(float)) == 0);
    be->ops->cast_to_act(be, out, a, n);
    LT_TRUE(t, memcmp(out, a, n * sizeof(float)) == 0);
    be->ops->cast_to_f32(be, out, b, n);
    LT_TRUE(t, memcmp(out, b, n * sizeof(float)) == 0);
    for (size_t i = 0; i < n; i++)
        ref[i] = (double)(b[i] * 0.375f);
    be->ops->scale(be, b, n, 0.375f);
    check_close(t, "scale", b, ref, n, 0, 0);
    for (size_t i = 0; i < n; i++)
        ref[i] = (double)(out[i] + -1.5f * a[i]);
    be->ops->axpy(be, out, a, n, -1.5f);
    check_close(t, "axpy", out, ref, n, 0, 0);
    free(in), free(out), free(w), free(din), free(a), free(b), free(ref);
    free_backend(t, be);
}

/* ---- rope ---- */

typedef struct rope_ctx {
    lilm_backend *be;
    float *x, *y, *w;
    size_t B, T, H, D, stride, pos0, n;
} rope_ctx;

static double rope_eval(void *p)
{
    rope_ctx *c = p;
    memcpy(c->y, c->x, c->n * sizeof(float));
    c->be->ops->rope_forward(c->be, c->y, c->B, c->T, c->H, c->D, c->stride, c->pos0, 10000.0f);
    return dot_wd(c->y, c->w, c->n);
}

static void rope_case(lilm_test *t, lilm_backend *be, rng *r, size_t B, size_t T, size_t H, size_t D,
                      size_t stride, size_t pos0)
{
    size_t n = B * T * stride;
    float *x = fnew(n), *y = fnew(n), *w = fnew(n), *g = fnew(n);
    double *ref = dnew(n);
    fill(r, x, n, -1, 1);
    fill(r, w, n, -1, 1);
    for (size_t i = 0; i < n; i++)
        ref[i] = x[i]; /* elements outside the heads stay as they are */
    for (size_t b = 0; b < B; b++)
        for (size_t tt = 0; tt < T; tt++)
            for (size_t h = 0; h < H; h++)
                for (size_t i = 0; i < D / 2; i++) {
                    size_t o = (b * T + tt) * stride + h * D + 2 * i;
                    double ang = (double)(pos0 + tt) * pow(10000.0, -(double)(2 * i) / (double)D);
                    ref[o] = x[o] * cos(ang) - x[o + 1] * sin(ang);
                    ref[o + 1] = x[o] * sin(ang) + x[o + 1] * cos(ang);
                }
    memcpy(y, x, n * sizeof(float));
    be->ops->rope_forward(be, y, B, T, H, D, stride, pos0, 10000.0f);
    char what[80];
    snprintf(what, sizeof what, "rope fwd B=%zu T=%zu H=%zu D=%zu pos0=%zu", B, T, H, D, pos0);
    check_close(t, what, y, ref, n, 2e-6, 1e-5);
    /* backward of forward is the identity (rotation is orthogonal) */
    be->ops->rope_backward(be, y, B, T, H, D, stride, pos0, 10000.0f);
    for (size_t i = 0; i < n; i++)
        ref[i] = x[i];
    check_close(t, "rope bwd(fwd(x)) == x", y, ref, n, 2e-6, 1e-5);
    memcpy(g, w, n * sizeof(float));
    be->ops->rope_backward(be, g, B, T, H, D, stride, pos0, 10000.0f);
    rope_ctx c = {be, x, y, w, B, T, H, D, stride, pos0, n};
    fd_check(t, "rope dx", r, rope_eval, &c, x, n, g, 1e-2f);
    free(x), free(y), free(w), free(g), free(ref);
}

static void test_rope(lilm_test *t)
{
    lilm_backend *be = make_backend(t, 2);
    rng r = {5};
    rope_case(t, be, &r, 1, 1, 1, 2, 2, 0);
    rope_case(t, be, &r, 2, 9, 3, 8, 24, 0);
    rope_case(t, be, &r, 3, 17, 2, 6, 20, 5);  /* stride > H*D: q-like rows inside a wider buffer */
    rope_case(t, be, &r, 1, 4, 4, 32, 128, 290);
    rope_case(t, be, &r, 2, 3, 2, 16, 32, 400); /* beyond max_seq: no table */
    rope_case(t, be, &r, 2, 9, 3, 8, 24, 0);    /* back to a D seen before */
    free_backend(t, be);
}

/* ---- attention ---- */

/* Naive causal attention in double over the model's layout. */
static void attn_ref(double *out, double *lse, const float *q, const float *k, const float *v, size_t B,
                     size_t Tq, size_t Tk, size_t pos0, size_t H, size_t Dq, size_t Dv, size_t qs, size_t kvs)
{
    double *s = dnew(Tk);
    double scale = 1.0 / sqrt((double)Dq);
    for (size_t b = 0; b < B; b++)
        for (size_t h = 0; h < H; h++)
            for (size_t tq = 0; tq < Tq; tq++) {
                size_t vis = pos0 + tq + 1;
                double mx = -1e300, sum = 0.0;
                for (size_t j = 0; j < vis; j++) {
                    double d = 0.0;
                    for (size_t c = 0; c < Dq; c++)
                        d += (double)q[(b * Tq + tq) * qs + h * Dq + c] * k[(b * Tk + j) * kvs + h * Dq + c];
                    s[j] = d * scale;
                    mx = s[j] > mx ? s[j] : mx;
                }
                for (size_t j = 0; j < vis; j++)
                    sum += exp(s[j] - mx);
                if (lse)
                    lse[(b * H + h) * Tq + tq] = mx + log(sum);
                for (size_t c = 0; c < Dv; c++) {
                    double o = 0.0;
                    for (size_t j = 0; j < vis; j++)
                        o += exp(s[j] - mx) / sum * v[(b * Tk + j) * kvs + h * Dv + c];
                    out[((b * Tq + tq) * H + h) * Dv + c] = o;
                }
            }
    free(s);
}

typedef struct attn_ctx {
    lilm_backend *be;
    float *out, *lse, *q, *kv, *w;
    size_t B, T, H, Dq, Dv, qs, kvs;
} attn_ctx;

static double attn_eval(void *p)
{
    attn_ctx *c = p;
    c->be->ops->attention_forward(c->be, c->out, c->lse, c->q, c->kv, c->kv + c->H * c->Dq, c->B, c->T, c->T, 0,
                             c->H, c->Dq, c->Dv, c->qs, c->kvs);
    return dot_wd(c->out, c->w, c->B * c->T * c->H * c->Dv);
}

static void attention_case(lilm_test *t, lilm_backend *be, rng *r, size_t B, size_t T, size_t H, size_t Dq,
                           size_t Dv, size_t q_extra)
{
    size_t qs = H * Dq + q_extra, kvs = H * (Dq + Dv);
    size_t nq = B * T * qs, nkv = B * T * kvs, no = B * T * H * Dv;
    float *q = fnew(nq), *kv = fnew(nkv), *out = fnew(no), *lse = fnew(B * H * T), *w = fnew(no);
    float *dq = fnew(nq), *dkv = fnew(nkv), *dout = fnew(no);
    double *ref = dnew(no), *rlse = dnew(B * H * T);
    fill(r, q, nq, -1.5, 1.5);
    fill(r, kv, nkv, -1.5, 1.5);
    fill(r, w, no, -1, 1);
    const float *k = kv, *v = kv + H * Dq;
    be->ops->attention_forward(be, out, lse, q, k, v, B, T, T, 0, H, Dq, Dv, qs, kvs);
    attn_ref(ref, rlse, q, k, v, B, T, T, 0, H, Dq, Dv, qs, kvs);
    char what[96];
    snprintf(what, sizeof what, "attention fwd B=%zu T=%zu H=%zu Dq=%zu Dv=%zu", B, T, H, Dq, Dv);
    check_close(t, what, out, ref, no, 2e-5, 1e-4);
    check_close(t, "attention lse", lse, rlse, B * H * T, 2e-5, 1e-5);

    /* KV-cache form: queries pos0..T-1 against all T keys equal the full rows */
    size_t pos0s[2] = {1, T / 2 + 1};
    for (int pi = 0; pi < 2; pi++) {
        size_t pos0 = pos0s[pi];
        if (pos0 >= T)
            continue;
        size_t Tq = T - pos0;
        float *qt = fnew(B * Tq * qs), *ot = fnew(B * Tq * H * Dv), *lt = fnew(B * H * Tq);
        for (size_t b = 0; b < B; b++)
            memcpy(qt + b * Tq * qs, q + (b * T + pos0) * qs, Tq * qs * sizeof(float));
        be->ops->attention_forward(be, ot, lt, qt, k, v, B, Tq, T, pos0, H, Dq, Dv, qs, kvs);
        double *want = dnew(B * Tq * H * Dv);
        for (size_t b = 0; b < B; b++)
            for (size_t i = 0; i < Tq * H * Dv; i++)
                want[b * Tq * H * Dv + i] = out[(b * T + pos0) * H * Dv + i];
        check_close(t, "attention kv-cache rows == full rows", ot, want, B * Tq * H * Dv, 1e-6, 1e-5);
        free(qt), free(ot), free(lt), free(want);
    }

    /* backward: dq, dk, dv are WRITTEN (pre-filled with garbage) */
    fill(r, dq, nq, 100, 200);
    fill(r, dkv, nkv, 100, 200);
    memcpy(dout, w, no * sizeof(float));
    be->ops->attention_forward(be, out, lse, q, k, v, B, T, T, 0, H, Dq, Dv, qs, kvs);
    be->ops->attention_backward(be, dq, dkv, dkv + H * Dq, dout, q, k, v, out, lse, B, T, H, Dq, Dv, qs, kvs);
    /* the q padding columns are not part of attention: their gradient is
     * untouched garbage; zero it so the FD check there compares 0 with 0 */
    for (size_t i = 0; i < B * T; i++)
        for (size_t c = H * Dq; c < qs; c++)
            dq[i * qs + c] = 0.0f;
    attn_ctx c = {be, out, lse, q, kv, w, B, T, H, Dq, Dv, qs, kvs};
    snprintf(what, sizeof what, "attention dq T=%zu Dq=%zu Dv=%zu", T, Dq, Dv);
    fd_check(t, what, r, attn_eval, &c, q, nq, dq, 1e-2f);
    snprintf(what, sizeof what, "attention dk,dv T=%zu Dq=%zu Dv=%zu", T, Dq, Dv);
    fd_check(t, what, r, attn_eval, &c, kv, nkv, dkv, 1e-2f);
    free(q), free(kv), free(out), free(lse), free(w), free(dq), free(dkv), free(dout), free(ref), free(rlse);
}

static void test_attention(lilm_test *t)
{
    lilm_backend *be = make_backend(t, 2);
    rng r = {6};
    attention_case(t, be, &r, 1, 1, 1, 4, 4, 0);
    attention_case(t, be, &r, 2, 5, 3, 8, 6, 0);
    attention_case(t, be, &r, 2, 70, 2, 16, 8, 0);   /* two query blocks, Dq != Dv */
    attention_case(t, be, &r, 1, 131, 3, 12, 20, 4); /* three blocks, a ragged one, padded q rows */
    attention_case(t, be, &r, 3, 64, 4, 32, 32, 0);
    free_backend(t, be);
}

/* ---- classifier ---- */

typedef struct xent_ctx {
    lilm_backend *be;
    float *losses, *x, *wte;
    int32_t *tgt;
    size_t N, C, V;
} xent_ctx;

static double xent_eval(void *p)
{
    xent_ctx *c = p;
    c->be->ops->classifier_xent(c->be, c->losses, NULL, NULL, c->x, c->wte, c->tgt, c->N, c->C, c->V, -1, 1.0f);
    double s = 0.0;
    for (size_t i = 0; i < c->N; i++)
        s += c->losses[i];
    return s;
}

static void xent_case(lilm_test *t, lilm_backend *be, rng *r, size_t N, size_t C, size_t V)
{
    float *x = fnew(N * C), *wte = fnew(V * C), *losses = fnew(N), *dx = fnew(N * C), *dwte = fnew(V * C);
    float *logits = fnew(N * V);
    int32_t *tgt = calloc(N, sizeof(int32_t));
    double *ref = dnew(N), *rlog = dnew(N * V), *g = dnew(N * C);
    fill(r, x, N * C, -1, 1);
    fill(r, wte, V * C, -1, 1);
    size_t counted = 0;
    for (size_t i = 0; i < N; i++) {
        tgt[i] = rng_u(r) < 0.2 ? -1 : (int32_t)(rng_u(r) * (double)V);
        counted += tgt[i] != -1;
    }
    tgt[0] = -1;
    tgt[N - 1] = (int32_t)(V - 1);
    counted = 0;
    for (size_t i = 0; i < N; i++)
        counted += tgt[i] != -1;
    for (size_t i = 0; i < N; i++) {
        double mx = -1e300, sum = 0.0;
        for (size_t j = 0; j < V; j++) {
            double d = 0.0;
            for (size_t c = 0; c < C; c++)
                d += (double)x[i * C + c] * wte[j * C + c];
            rlog[i * V + j] = d;
            mx = d > mx ? d : mx;
        }
        for (size_t j = 0; j < V; j++)
            sum += exp(rlog[i * V + j] - mx);
        ref[i] = tgt[i] == -1 ? 0.0 : mx + log(sum) - rlog[i * V + (size_t)tgt[i]];
    }
    be->ops->classifier_logits(be, logits, x, wte, N, C, V);
    char what[80];
    snprintf(what, sizeof what, "classifier_logits N=%zu C=%zu V=%zu", N, C, V);
    check_close(t, what, logits, rlog, N * V, 1e-5, 1e-5);
    fill(r, dx, N * C, 100, 200); /* dx is WRITTEN */
    for (size_t i = 0; i < V * C; i++)
        dwte[i] = 0.5f;           /* dwte ADDS */
    float scale = 1.0f / (float)counted;
    be->ops->classifier_xent(be, losses, dx, dwte, x, wte, tgt, N, C, V, -1, scale);
    snprintf(what, sizeof what, "classifier_xent losses N=%zu C=%zu V=%zu", N, C, V);
    check_close(t, what, losses, ref, N, 1e-5, 1e-5);
    for (size_t i = 0; i < N; i++)
        if (tgt[i] == -1) {
            int zero = losses[i] == 0.0f;
            for (size_t c = 0; c < C; c++)
                zero &= dx[i * C + c] == 0.0f;
            LT_CHECK(t, zero, "ignored row %zu has a loss or a gradient", i);
        }
    /* the same losses without a gradient */
    float *l2 = fnew(N);
    be->ops->classifier_xent(be, l2, NULL, NULL, x, wte, tgt, N, C, V, -1, 1.0f);
    check_close(t, "classifier_xent losses, no grad", l2, ref, N, 1e-5, 1e-5);
    /* unscale the gradients to compare with d(sum of losses) */
    for (size_t i = 0; i < N * C; i++)
        dx[i] /= scale;
    for (size_t i = 0; i < V * C; i++)
        dwte[i] = (dwte[i] - 0.5f) / scale;
    xent_ctx c = {be, l2, x, wte, tgt, N, C, V};
    fd_check(t, "classifier_xent dx", r, xent_eval, &c, x, N * C, dx, 1e-2f);
    fd_check(t, "classifier_xent dwte", r, xent_eval, &c, wte, V * C, dwte, 1e-2f);
    free(x), free(wte), free(losses), free(dx), free(dwte), free(logits), free(tgt), free(ref), free(rlog);
    free(g), free(l2);
}

static void test_classifier(lilm_test *t)
{
    lilm_backend *be = make_backend(t, 2);
    rng r = {7};
    xent_case(t, be, &r, 1, 3, 2);
    xent_case(t, be, &r, 9, 17, 31);
    xent_case(t, be, &r, 600, 24, 1000); /* 600 rows: two row chunks */
    /* a target outside the vocabulary is reported */
    float x[4] = {0}, wte[8] = {0}, loss[1];
    int32_t tgt[1] = {7};
    be->ops->classifier_xent(be, loss, NULL, NULL, x, wte, tgt, 1, 4, 2, -1, 1.0f);
    LT_STATUS(t, be->ops->sync(be), LILM_ERR_ARG);
    free_backend(t, be);
}

/* ---- optimizer and gradient utilities ---- */

static void test_grad_sanitize(lilm_test *t)
{
    lilm_backend *be = make_backend(t, 2);
    rng r = {8};
    size_t n = 200003;
    float *g = fnew(n);
    fill(&r, g, n, -1, 1);
    g[0] = NAN;
    g[17] = INFINITY;
    g[n - 1] = -INFINITY;
    g[100000] = -NAN;
    double want = 0.0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(g[i]))
            want += (double)g[i] * g[i];
    double sumsq = -1.0;
    int64_t bad = -1;
    be->ops->grad_sanitize(be, g, n, &sumsq, &bad);
    LT_EQ_INT(t, bad, 4);
    LT_NEAR(t, sumsq, want, 1e-9 * want);
    LT_TRUE(t, g[0] == 0.0f && g[17] == 0.0f && g[n - 1] == 0.0f && g[100000] == 0.0f);
    be->ops->grad_sanitize(be, g, 5, &sumsq, &bad); /* small: single-threaded path */
    LT_EQ_INT(t, bad, 0);
    free(g);
    free_backend(t, be);
}

static void test_adamw(lilm_test *t)
{
    lilm_backend *be = make_backend(t, 2);
    rng r = {9};
    size_t n[2] = {20011, 7};
    float wd[2] = {0.02f, 0.0f};
    float *p[2], *g[2], *m[2], *v[2];
    double *rp[2], *rm[2], *rv[2];
    lilm_adamw_tensor ts[2];
    for (int i = 0; i < 2; i++) {
        p[i] = fnew(n[i]), g[i] = fnew(n[i]), m[i] = fnew(n[i]), v[i] = fnew(n[i]);
        rp[i] = dnew(n[i]), rm[i] = dnew(n[i]), rv[i] = dnew(n[i]);
        fill(&r, p[i], n[i], -1, 1);
        for (size_t j = 0; j < n[i]; j++)
            rp[i][j] = p[i][j];
        ts[i] = (lilm_adamw_tensor){p[i], g[i], m[i], v[i], n[i], wd[i]};
    }
    lilm_adamw_hparams hp = {.lr = 6e-3f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .step = 0};
    for (int step = 1; step <= 3; step++) {
        hp.step = step;
        for (int i = 0; i < 2; i++) {
            fill(&r, g[i], n[i], -0.1, 0.1);
            g[i][0] = 0.0f; /* a zero gradient: p moves by decay and momentum only */
            double lr = hp.lr, b1 = hp.beta1, b2 = hp.beta2, eps = hp.eps;
            for (size_t j = 0; j < n[i]; j++) {
                double gj = g[i][j];
                rp[i][j] *= 1.0 - lr * (double)wd[i];
                rm[i][j] = b1 * rm[i][j] + (1 - b1) * gj;
                rv[i][j] = b2 * rv[i][j] + (1 - b2) * gj * gj;
                double mh = rm[i][j] / (1 - pow(b1, step)), vh = rv[i][j] / (1 - pow(b2, step));
                rp[i][j] -= lr * mh / (sqrt(vh) + eps);
            }
        }
        be->ops->adamw(be, ts, 2, &hp);
        for (int i = 0; i < 2; i++) {
            char what[48];
            snprintf(what, sizeof what, "adamw step %d tensor %d", step, i);
            check_close(t, what, p[i], rp[i], n[i], 1e-6, 1e-5);
            check_close(t, "adamw m", m[i], rm[i], n[i], 1e-9, 1e-5);
            check_close(t, "adamw v", v[i], rv[i], n[i], 1e-12, 1e-5);
        }
    }
    /* one hand-computed element: step 1, g = 0.5, p = 1, wd = 0.1, lr = 0.1:
     * p = 0.99; m = 0.05, v = 0.0125 (b2 0.95); mh = 0.5, vh = 0.25;
     * p = 0.99 - 0.1 * 0.5 / (0.5 + 1e-8) = 0.89 (to 1e-7) */
    float p1 = 1.0f, g1 = 0.5f, m1 = 0.0f, v1 = 0.0f;
    lilm_adamw_tensor one = {&p1, &g1, &m1, &v1, 1, 0.1f};
    lilm_adamw_hparams h1 = {.lr = 0.1f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .step = 1};
    be->ops->adamw(be, &one, 1, &h1);
    LT_NEAR(t, p1, 0.89, 1e-6);
    LT_NEAR(t, m1, 0.05, 3e-8); /* 1 - 0.9f is 0.100000024 in fp32 */
    LT_NEAR(t, v1, 0.0125, 1e-8);
    /* the vector body and the scalar tail give the same bits: one tensor of
     * 37 elements against 37 tensors of one element */
    float a[4][37], b[4][37];
    for (int j = 0; j < 4; j++)
        fill(&r, a[j], 37, j == 3 ? 0.0 : -1.0, 1.0);
    memcpy(b, a, sizeof a);
    lilm_adamw_tensor whole = {a[0], a[1], a[2], a[3], 37, 0.02f}, single[37];
    for (int j = 0; j < 37; j++)
        single[j] = (lilm_adamw_tensor){&b[0][j], &b[1][j], &b[2][j], &b[3][j], 1, 0.02f};
    hp.step = 4;
    be->ops->adamw(be, &whole, 1, &hp);
    be->ops->adamw(be, single, 37, &hp);
    LT_TRUE(t, memcmp(a, b, sizeof a) == 0);
    for (int i = 0; i < 2; i++)
        free(p[i]), free(g[i]), free(m[i]), free(v[i]), free(rp[i]), free(rm[i]), free(rv[i]);
    free_backend(t, be);
}

/* ---- determinism: a small forward/backward twice, bit for bit ---- */

typedef struct det_out {
    float *x[8];
    size_t n[8];
} det_out;

static void det_run(lilm_backend *be, det_out *o)
{
    rng r = {10};
    size_t B = 2, T = 130, H = 2, Dq = 16, Dv = 24, C = 64, V = 1000, N = B * T;
    size_t kvs = H * (Dq + Dv);
    float *x = fnew(N * C), *wkv = fnew(kvs * C), *kv = fnew(N * kvs), *q = fnew(N * H * Dq);
    float *att = fnew(N * H * Dv), *lse = fnew(B * H * T), *dq = fnew(N * H * Dq), *dkv = fnew(N * kvs);
    float *dw = fnew(kvs * C), *db = fnew(kvs), *dx = fnew(N * C), *nw = fnew(C), *dnw = fnew(C);
    float *rstd = fnew(N), *y = fnew(N * C), *wte = fnew(V * C), *dwte = fnew(V * C), *losses = fnew(N);
    int32_t *tgt = calloc(N, sizeof(int32_t));
    fill(&r, x, N * C, -1, 1);
    fill(&r, wkv, kvs * C, -0.2, 0.2);
    fill(&r, q, N * H * Dq, -1, 1);
    fill(&r, wte, V * C, -1, 1);
    fill(&r, nw, C, 0.5, 1.5);
    for (size_t i = 0; i < N; i++)
        tgt[i] = (int32_t)(rng_u(&r) * (double)V);
    be->ops->norm_forward(be, y, NULL, rstd, x, nw, NULL, N, C, 1e-5f);
    be->ops->matmul_forward(be, kv, NULL, y, wkv, db, N, C, kvs, LILM_ACT_NONE);
    be->ops->attention_forward(be, att, lse, q, kv, kv + H * Dq, B, T, T, 0, H, Dq, Dv, H * Dq, kvs);
    be->ops->classifier_xent(be, losses, dx, dwte, y, wte, tgt, N, C, V, -1, 1.0f / (float)N);
    be->ops->attention_backward(be, dq, dkv, dkv + H * Dq, att, q, kv, kv + H * Dq, att, lse, B, T, H, Dq, Dv,
                           H * Dq, kvs);
    be->ops->matmul_backward(be, dx, dw, db, dkv, NULL, y, wkv, N, C, kvs, LILM_ACT_NONE, 1);
    be->ops->norm_backward(be, x, dnw, NULL, dx, y, nw, NULL, rstd, N, C);
    float *keep[8] = {losses, dx, dwte, dq, dkv, dw, dnw, x};
    size_t kn[8] = {N, N * C, V * C, N * H * Dq, N * kvs, kvs * C, C, N * C};
    for (int i = 0; i < 8; i++)
        o->x[i] = keep[i], o->n[i] = kn[i];
    free(wkv), free(kv), free(q), free(att), free(lse), free(db), free(nw), free(rstd), free(y), free(wte);
    free(tgt);
}

static void test_determinism(lilm_test *t)
{
    lilm_backend *be = make_backend(t, 2);
    det_out a, b;
    det_run(be, &a);
    det_run(be, &b);
    for (int i = 0; i < 8; i++) {
        LT_CHECK(t, memcmp(a.x[i], b.x[i], a.n[i] * sizeof(float)) == 0, "output %d differs between runs", i);
        free(a.x[i]), free(b.x[i]);
    }
    free_backend(t, be);
}

/* ---- the backend object ---- */

static void test_backend_object(lilm_test *t)
{
    lilm_backend *be = make_backend(t, 3);
    LT_TRUE(t, strcmp(be->name, "cpu") == 0);
    LT_EQ_INT(t, be->device, LILM_DEVICE_CPU);
    LT_EQ_INT(t, be->act_dtype, LILM_DTYPE_F32);
    LT_EQ_INT(t, be->threads, 3);
    void *p = NULL;
    LT_OK(t, be->ops->alloc(be, &p, 1000));
    LT_TRUE(t, p != NULL && ((uintptr_t)p % 64) == 0);
    int zero = 1;
    for (size_t i = 0; i < 1000; i++)
        zero &= ((unsigned char *)p)[i] == 0;
    LT_TRUE(t, zero);
    char src[16] = "hello", dst[16] = {0};
    LT_OK(t, be->ops->upload(be, p, src, 16));
    LT_OK(t, be->ops->download(be, dst, p, 16));
    LT_TRUE(t, strcmp(dst, "hello") == 0);
    be->ops->zero(be, p, 16);
    LT_TRUE(t, ((char *)p)[0] == 0);
    LT_TRUE(t, be->ops->peak_bytes(be) >= 1000);
    be->ops->free(be, p);
    /* shapes beyond the plan are refused through sync(), not by crashing */
    float dummy[4] = {0};
    be->ops->attention_forward(be, dummy, NULL, dummy, dummy, dummy, 1, 1000, 1000, 0, 1, 1, 1, 1, 2);
    LT_STATUS(t, be->ops->sync(be), LILM_ERR_ARG);
    free_backend(t, be);
#ifndef LILM_USE_CUDA
    /* backend.c links lilm_cuda_backend_create from src/cuda/ in CUDA builds */
    lilm_device_choice ch;
    LT_OK(t, lilm_device_choice_parse("cpu", &ch));
    LT_EQ_INT(t, ch, LILM_DEVICE_CHOICE_CPU);
    LT_OK(t, lilm_device_choice_parse("auto", &ch));
    LT_EQ_INT(t, ch, LILM_DEVICE_CHOICE_AUTO);
    LT_STATUS(t, lilm_device_choice_parse("tpu", &ch), LILM_ERR_ARG);
    lilm_backend *b2 = NULL;
    LT_STATUS(t, lilm_backend_create(&b2, LILM_DEVICE_CHOICE_CUDA, 1), LILM_ERR_UNSUPPORTED);
    LT_OK(t, lilm_backend_create(&b2, LILM_DEVICE_CHOICE_AUTO, 1));
    LT_TRUE(t, b2 && b2->device == LILM_DEVICE_CPU);
    lilm_backend_free(b2);
#endif
}

/* Re-detecting OpenBLAS's kernels keeps the results right (runs last: it
 * changes the process's kernel set). */
static void test_blas_redetect(lilm_test *t)
{
    const char *before = lilm_cpu_blas_core(), *after = NULL;
    LT_TRUE(t, before && before[0]);
    lilm_status s = lilm_cpu_blas_redetect(&after);
    LT_CHECK(t, s == LILM_OK || s == LILM_ERR_UNSUPPORTED, "redetect: %s", lilm_last_error());
    LT_TRUE(t, after && after[0]);
    LT_TRUE(t, getenv("OPENBLAS_CORETYPE") == NULL || s != LILM_OK);
    lilm_backend *be = make_backend(t, 2);
    rng r = {11};
    matmul_case(t, be, &r, 70, 33, 65, LILM_ACT_GELU, 1, 1);
    attention_case(t, be, &r, 2, 70, 2, 16, 8, 0);
    free_backend(t, be);
}

/* ReLU^2 = max(x, 0)^2 alone: forward against double, backward against its
 * closed form 2 max(x, 0) dout and finite differences (it is C1: no kink
 * skipping needed). */
static void test_act_relu2(lilm_test *t)
{
    lilm_backend *be = make_backend(t, 2);
    rng r = {14};
    size_t n = 40000; /* above the parallel threshold */
    float *in = fnew(n), *out = fnew(n), *w = fnew(n), *din = fnew(n);
    double *ref = dnew(n);
    fill(&r, in, n, -3, 3);
    fill(&r, w, n, -1, 1);
    LT_TRUE(t, be->ops->act_supported(be, LILM_ACT_RELU2));
    be->ops->act_forward(be, out, in, n, LILM_ACT_RELU2);
    for (size_t i = 0; i < n; i++)
        ref[i] = act_ref(in[i], LILM_ACT_RELU2);
    check_close(t, "relu2", out, ref, n, 1e-6, 1e-6);
    be->ops->act_backward(be, din, w, in, n, LILM_ACT_RELU2);
    for (size_t i = 0; i < n; i++)
        ref[i] = in[i] > 0 ? 2.0 * in[i] * w[i] : 0.0;
    check_close(t, "relu2 grad", din, ref, n, 1e-6, 1e-6);
    act_ctx c = {be, out, in, w, n, LILM_ACT_RELU2};
    fd_check(t, "relu2 backward", &r, act_eval, &c, in, n, din, 1e-3f);
    free(in), free(out), free(w), free(din), free(ref);
    free_backend(t, be);
}

/* Non-finite inputs to the vector exp: NaN stays NaN (so a diverged model's
 * loss shows as NaN) and nothing undefined happens on the way (make asan). */
static void test_expf_nonfinite(lilm_test *t)
{
    volatile float nan = NAN, inf = INFINITY;
    LT_TRUE(t, isnan(lilm__cpu_expf(nan)));
    LT_TRUE(t, isnan(lilm__cpu_expf(-nan)));
    LT_TRUE(t, lilm__cpu_expf(inf) > 1e38f); /* clamped: huge or +Inf, never NaN */
    LT_TRUE(t, lilm__cpu_expf(-inf) >= 0.0f && lilm__cpu_expf(-inf) < 1e-37f);
    LT_NEAR(t, lilm__cpu_expf(1.0f), 2.718281828, 1e-6);
}

/* SwiGLU: out (N, F) = silu(g) * u over rows [g | u] of in (N, 2F); its
 * backward against finite differences, and in place (din == in). */
typedef struct glu_ctx {
    lilm_backend *be;
    float *out, *in, *w;
    size_t N, F;
} glu_ctx;

static double glu_eval(void *p)
{
    glu_ctx *c = p;
    c->be->ops->glu_forward(c->be, c->out, c->in, c->N, c->F, LILM_ACT_SWIGLU);
    return dot_wd(c->out, c->w, c->N * c->F);
}

static void test_act_swiglu(lilm_test *t)
{
    lilm_backend *be = make_backend(t, 2);
    rng r = {15};
    size_t N = 67, F = 301; /* N * F above the parallel threshold */
    float *in = fnew(N * 2 * F), *out = fnew(N * F), *w = fnew(N * F), *din = fnew(N * 2 * F);
    double *ref = dnew(N * F);
    fill(&r, in, N * 2 * F, -6, 6);
    fill(&r, w, N * F, -1, 1);
    LT_TRUE(t, be->ops->act_supported(be, LILM_ACT_SWIGLU));
    LT_EQ_INT(t, lilm_act_info(LILM_ACT_SWIGLU)->gate, 2);
    be->ops->glu_forward(be, out, in, N, F, LILM_ACT_SWIGLU);
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < F; j++) {
            double g = in[i * 2 * F + j], u = in[i * 2 * F + F + j];
            ref[i * F + j] = g / (1.0 + exp(-g)) * u;
        }
    check_close(t, "swiglu", out, ref, N * F, 1e-6, 1e-6);
    be->ops->glu_backward(be, din, w, in, N, F, LILM_ACT_SWIGLU);
    glu_ctx c = {be, out, in, w, N, F};
    fd_check(t, "swiglu backward", &r, glu_eval, &c, in, N * 2 * F, din, 1e-2f);
    float *same = fnew(N * 2 * F);
    memcpy(same, in, N * 2 * F * sizeof(float));
    be->ops->glu_backward(be, same, w, same, N, F, LILM_ACT_SWIGLU); /* din aliases in */
    LT_TRUE(t, memcmp(same, din, N * 2 * F * sizeof(float)) == 0);
    free(in), free(out), free(w), free(din), free(ref), free(same);
    free_backend(t, be);
}

/* The backend describes itself: memory, GEMM size for the peak, activations,
 * dtype sizes, and a device the config names with kernel options. */
static void test_backend_describes_itself(lilm_test *t)
{
    lilm_backend *be = make_backend(t, 1);
    size_t total = 0, avail = 0;
    be->ops->memory_info(be, &total, &avail);
    LT_TRUE(t, total > ((size_t)64 << 20) && avail > 0 && avail <= total);
    LT_TRUE(t, be->peak_gemm_n >= 256);
    for (int a = 0; a < LILM_ACT_COUNT; a++)
        LT_TRUE(t, be->ops->act_supported(be, (lilm_act)a));
    LT_TRUE(t, !be->ops->act_supported(be, LILM_ACT_COUNT));
    LT_EQ_INT(t, lilm_dtype_size(LILM_DTYPE_F32), 4);
    LT_EQ_INT(t, lilm_dtype_size(LILM_DTYPE_BF16), 2);
    free_backend(t, be);
    lilm_config c;
    lilm_config_defaults(&c);
    LT_OK(t, lilm_config_set(&c, "train.device=cpu"));
    LT_OK(t, lilm_config_set(&c, "train.threads=2"));
    LT_OK(t, lilm_config_set(&c, "train.cuda.attention=mma"));
    LT_OK(t, lilm_config_set(&c, "train.cuda.epilogue=false"));
    lilm_backend_options o;
    lilm_backend_options_from_config(&c.train, &o);
    LT_EQ_INT(t, o.cuda_attention, LILM_CUDA_ATTN_MMA);
    LT_EQ_INT(t, o.cuda_no_epilogue, 1);
    lilm_backend *b2 = NULL;
    LT_OK(t, lilm_backend_create_for(&b2, &c.train)); /* CUDA options do not bother the CPU */
    LT_TRUE(t, b2 && b2->device == LILM_DEVICE_CPU && b2->threads == 2);
    lilm_backend_free(b2);
}

static const lilm_test_case cases[] = {
    {"expf_nonfinite", test_expf_nonfinite},
    {"embedding", test_embedding},
    {"norm", test_norm},
    {"matmul", test_matmul},
    {"elementwise", test_elementwise},
    {"act_relu2", test_act_relu2},
    {"act_swiglu", test_act_swiglu},
    {"rope", test_rope},
    {"attention", test_attention},
    {"classifier", test_classifier},
    {"grad_sanitize", test_grad_sanitize},
    {"adamw", test_adamw},
    {"determinism", test_determinism},
    {"backend_object", test_backend_object},
    {"backend_describes_itself", test_backend_describes_itself},
    {"blas_redetect", test_blas_redetect},
};
LILM_TEST_MAIN(cases)
