/*
 * test_cuda_ops.c: every CUDA backend op against the CPU (fp32) backend.
 *
 * Each case builds both backends, gives them the same random inputs, runs the
 * same op on each, downloads the outputs and requires, for every element,
 *     |gpu - cpu| <= atol + rtol * |cpu|,   atol = arel * rms(cpu output)
 * Inputs that the GPU holds in bf16 (activations, weight compute copies) are
 * rounded to bf16 on the host before both sides see them, so the differences
 * measure the GPU's bf16 outputs and its fp32 accumulation order, not the
 * input rounding. Per checked tensor it prints the largest absolute error,
 * the worst relative error |gpu-cpu| / max(|cpu|, atol) and the tolerance.
 * Outputs with += semantics (param grads, norm din, matmul din with
 * accumulate) are pre-filled with random values on both sides.
 *
 * Shapes cover the model's (d=192, 6 heads of 32; d=288, 3 heads of 96;
 * FFN 4x), odd sizes, Dq != Dv, Dq = 128, the interleaved kv layout (k and v
 * of all heads in one (B*T, H*(Dq+Dv)) buffer), the KV-cache form of
 * attention (pos0 > 0) and a classifier large enough to need several row
 * chunks on the GPU. Attention runs through every kernel choice of
 * lilm_backend_options (auto: thread-per-row for heads <= 32; warp:
 * warp-per-row for any head up to 128; mma: bf16 tensor cores), plus once as
 * LILM_CUDA_ATTN says (cuda_env.h); an unknown choice must make backend
 * creation fail.
 *
 * Needs a GPU: without one the binary fails (it is run by `make test-cuda`,
 * not `make test`). LILM_CUDA_TEST_SELF=1 replaces the GPU by a second CPU
 * backend, which checks this harness itself on a machine without a GPU.
 */
#include "test.h"

#include "cuda/cuda_env.h"

#include "core/status.h"
#include "ops/backend.h"

#include <stdint.h>
#include <string.h>

/* ---- random numbers and bf16 rounding ---- */

typedef struct rng {
    uint64_t s;
} rng;

static double rng_u(rng *r) /* uniform in [0, 1) */
{
    r->s = r->s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(r->s >> 11) * (1.0 / 9007199254740992.0);
}

/* Round to the nearest bf16 (ties to even), as __float2bfloat16 does. */
static float round_bf16(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7f800000u) == 0x7f800000u) return x; /* inf / nan */
    u += 0x7fffu + ((u >> 16) & 1u);
    u &= 0xffff0000u;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* ---- a pair of backends and tensors living on both ---- */

typedef struct pair {
    lilm_test *t;
    lilm_backend *ref; /* CPU, fp32 */
    lilm_backend *dev; /* CUDA (or a second CPU with LILM_CUDA_TEST_SELF=1) */
    rng r;
} pair;

/* One tensor on both backends. act: stored in the backend's act_dtype (bf16 on
 * CUDA), else fp32 (or raw int32 when ints). host: the starting values. */
typedef struct tens {
    size_t n;
    int act;
    float *host; // (n)
    void *ref;   // (n) on ref
    void *dev;   // (n) on dev
} tens;

static int dev_bf16(const pair *p) { return p->dev->act_dtype == LILM_DTYPE_BF16; }

static void *xalloc(size_t bytes)
{
    void *q = calloc(bytes ? bytes : 1, 1);
    if (!q) abort();
    return q;
}

/* attn: the attention kernels (NULL: as LILM_CUDA_ATTN says, see cuda_env.h). */
static int pair_open_attn(pair *p, lilm_test *t, uint64_t seed, const char *attn)
{
    memset(p, 0, sizeof *p);
    p->t = t;
    p->r.s = seed;
    const char *self = getenv("LILM_CUDA_TEST_SELF");
    lilm_status s = lilm_cpu_backend_create(&p->ref, 0);
    LT_CHECK(t, s == LILM_OK, "cpu backend: %s", lilm_last_error());
    if (s != LILM_OK) return 0;
    if (self && strcmp(self, "1") == 0)
        s = lilm_cpu_backend_create(&p->dev, 0);
    else
    {
        lilm_backend_options o;
        lilm_test_cuda_options(&o, attn);
        s = lilm_cuda_backend_create_opts(&p->dev, 0, &o);
    }
    LT_CHECK(t, s == LILM_OK, "cuda backend: %s: %s (this test needs a GPU; LILM_CUDA_TEST_SELF=1 checks the "
             "harness against a second CPU backend)", lilm_status_str(s), lilm_last_error());
    if (s != LILM_OK) {
        p->ref->ops->destroy(p->ref);
        return 0;
    }
    lilm_backend_plan plan = {
        .max_rows = 4096, .max_batch = 8, .max_seq = 512, .d_model = 768, .vocab = 40000,
        .n_heads = 6, .qk_dim = 128, .v_dim = 128, .max_width = 3072,
    };
    size_t bytes = 0;
    LT_OK(t, p->ref->ops->reserve(p->ref, &plan, &bytes));
    LT_OK(t, p->dev->ops->reserve(p->dev, &plan, &bytes));
    return 1;
}

static int pair_open(pair *p, lilm_test *t, uint64_t seed) { return pair_open_attn(p, t, seed, NULL); }

static void pair_close(pair *p)
{
    LT_OK(p->t, p->ref->ops->sync(p->ref));
    LT_OK(p->t, p->dev->ops->sync(p->dev));
    p->ref->ops->destroy(p->ref);
    p->dev->ops->destroy(p->dev);
}

/* Puts host values (n floats) into a tensor's buffers on both sides. */
static void tens_set(pair *p, tens *x, const float *vals)
{
    if (vals != x->host) memcpy(x->host, vals, x->n * sizeof(float));
    LT_OK(p->t, p->ref->ops->upload(p->ref, x->ref, x->host, x->n * sizeof(float)));
    if (x->act && dev_bf16(p)) {
        void *stage = NULL;
        LT_OK(p->t, p->dev->ops->alloc(p->dev, &stage, x->n * sizeof(float)));
        LT_OK(p->t, p->dev->ops->upload(p->dev, stage, x->host, x->n * sizeof(float)));
        p->dev->ops->cast_to_act(p->dev, x->dev, stage, x->n);
        LT_OK(p->t, p->dev->ops->sync(p->dev));
        p->dev->ops->free(p->dev, stage);
    } else {
        LT_OK(p->t, p->dev->ops->upload(p->dev, x->dev, x->host, x->n * sizeof(float)));
    }
}

/* A tensor of n values uniform in [lo, hi) (bf16-exact when act); lo == hi == 0 gives zeros. */
static tens tens_new(pair *p, size_t n, int act, double lo, double hi)
{
    tens x = {n, act, xalloc(n * sizeof(float)), NULL, NULL};
    for (size_t i = 0; i < n; i++) {
        float v = (float)(lo + (hi - lo) * rng_u(&p->r));
        x.host[i] = act ? round_bf16(v) : v;
    }
    size_t dev_elem = act && dev_bf16(p) ? 2 : sizeof(float);
    LT_OK(p->t, p->ref->ops->alloc(p->ref, &x.ref, n * sizeof(float)));
    LT_OK(p->t, p->dev->ops->alloc(p->dev, &x.dev, n * dev_elem));
    if (!x.ref || !x.dev) abort();
    tens_set(p, &x, x.host);
    return x;
}

/* int32 values on both sides (x.host unused). */
static tens ints_new(pair *p, const int32_t *vals, size_t n)
{
    tens x = {n, 0, xalloc(sizeof(float)), NULL, NULL};
    LT_OK(p->t, p->ref->ops->alloc(p->ref, &x.ref, n * sizeof(int32_t)));
    LT_OK(p->t, p->dev->ops->alloc(p->dev, &x.dev, n * sizeof(int32_t)));
    if (!x.ref || !x.dev) abort();
    LT_OK(p->t, p->ref->ops->upload(p->ref, x.ref, vals, n * sizeof(int32_t)));
    LT_OK(p->t, p->dev->ops->upload(p->dev, x.dev, vals, n * sizeof(int32_t)));
    return x;
}

static void tens_free(pair *p, tens *x)
{
    p->ref->ops->free(p->ref, x->ref);
    p->dev->ops->free(p->dev, x->dev);
    free(x->host);
    memset(x, 0, sizeof *x);
}

/* Reads a tensor back as fp32 from both sides. */
static void tens_get(pair *p, const tens *x, float *ref_out, float *dev_out)
{
    LT_OK(p->t, p->ref->ops->sync(p->ref));
    LT_OK(p->t, p->dev->ops->sync(p->dev));
    LT_OK(p->t, p->ref->ops->download(p->ref, ref_out, x->ref, x->n * sizeof(float)));
    if (x->act && dev_bf16(p)) {
        void *stage = NULL;
        LT_OK(p->t, p->dev->ops->alloc(p->dev, &stage, x->n * sizeof(float)));
        p->dev->ops->cast_to_f32(p->dev, stage, x->dev, x->n);
        LT_OK(p->t, p->dev->ops->download(p->dev, dev_out, stage, x->n * sizeof(float)));
        p->dev->ops->free(p->dev, stage);
    } else {
        LT_OK(p->t, p->dev->ops->download(p->dev, dev_out, x->dev, x->n * sizeof(float)));
    }
}

/* The tolerance check; prints one line per tensor. */
static void compare_host(pair *p, const char *what, const float *c, const float *g, size_t n, double arel,
                         double rtol)
{
    double rms = 0.0;
    for (size_t i = 0; i < n; i++) rms += (double)c[i] * c[i];
    rms = sqrt(rms / (double)(n ? n : 1));
    double atol = arel * rms + 1e-7;
    double max_abs = 0.0, worst_rel = 0.0;
    size_t bad = 0, first_bad = 0;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)g[i] - (double)c[i]);
        double rel = err / fmax(fabs((double)c[i]), atol);
        if (!(err <= max_abs)) max_abs = err;
        if (!(rel <= worst_rel)) worst_rel = rel;
        if (!(err <= atol + rtol * fabs((double)c[i]))) {
            if (bad == 0) first_bad = i;
            bad++;
        }
    }
    printf("  %-40s n=%-8zu max|err| %-10.3g worst rel %-10.3g (atol %.2g, rtol %.2g) %s\n", what, n, max_abs,
           worst_rel, atol, rtol, bad ? "FAIL" : "ok");
    LT_CHECK(p->t, bad == 0, "%s: %zu of %zu elements out of tolerance; first at %zu: gpu %.7g cpu %.7g", what, bad,
             n, first_bad, (double)g[first_bad], (double)c[first_bad]);
    for (size_t i = first_bad, shown = 0; bad && i < n && shown < 3; i++)
        if (!(fabs((double)g[i] - (double)c[i]) <= atol + rtol * fabs((double)c[i]))) {
            printf("    mismatch [%zu]: gpu %.7g cpu %.7g\n", i, (double)g[i], (double)c[i]);
            shown++;
        }
}

static void compare(pair *p, const char *what, const tens *x, double arel, double rtol)
{
    float *c = xalloc(x->n * sizeof(float)), *g = xalloc(x->n * sizeof(float));
    tens_get(p, x, c, g);
    compare_host(p, what, c, g, x->n, arel, rtol);
    free(c);
    free(g);
}

/* Only the elements (i % stride) < width: the heads of a buffer whose rows are
 * wider (the rest must be untouched: both sides keep their equal fill). */
static void compare_cols(pair *p, const char *what, const tens *x, size_t stride, size_t width, double arel,
                         double rtol)
{
    float *c = xalloc(x->n * sizeof(float)), *g = xalloc(x->n * sizeof(float));
    tens_get(p, x, c, g);
    size_t m = 0, untouched = 1;
    for (size_t i = 0; i < x->n; i++) {
        if (i % stride < width) c[m] = c[i], g[m] = g[i], m++;
        else untouched &= c[i] == g[i];
    }
    LT_CHECK(p->t, untouched, "%s: an element outside the heads was written", what);
    compare_host(p, what, c, g, m, arel, rtol);
    free(c);
    free(g);
}

/* bf16 outputs: one rounding (2^-8 relative) plus fp32 work in a different order. */
#define BF_ATOL 1e-2
#define BF_RTOL 1.6e-2

/* ---- cases ---- */

static void test_cast(lilm_test *t)
{
    pair p;
    if (!pair_open(&p, t, 11)) return;
    size_t n = 4099;
    tens x = tens_new(&p, n, 0, -3, 3); /* fp32, not bf16-exact */
    tens y = tens_new(&p, n, 1, 0, 0);
    p.ref->ops->cast_to_act(p.ref, y.ref, x.ref, n);
    p.dev->ops->cast_to_act(p.dev, y.dev, x.dev, n);
    compare(&p, "cast f32->act->f32", &y, 0.0, 1.0 / 256.0);
    tens_free(&p, &x);
    tens_free(&p, &y);
    pair_close(&p);
}

static void test_embedding(lilm_test *t)
{
    pair p;
    if (!pair_open(&p, t, 12)) return;
    size_t V = 500, C = 192, N = 2 * 64;
    int32_t *tok = xalloc(N * sizeof(int32_t));
    for (size_t i = 0; i < N; i++) tok[i] = (int32_t)(rng_u(&p.r) * (double)V);
    tok[3] = tok[7] = tok[40] = tok[100] = 17; /* repeats must add up */
    tens tk = ints_new(&p, tok, N);
    tens wte = tens_new(&p, V * C, 1, -1, 1);
    tens out = tens_new(&p, N * C, 1, 0, 0);
    p.ref->ops->embedding_forward(p.ref, out.ref, tk.ref, wte.ref, N, C);
    p.dev->ops->embedding_forward(p.dev, out.dev, tk.dev, wte.dev, N, C);
    compare(&p, "embedding/fwd out", &out, 0.0, 0.0);
    tens dout = tens_new(&p, N * C, 1, -1, 1);
    tens dwte = tens_new(&p, V * C, 0, -1, 1);
    p.ref->ops->embedding_backward(p.ref, dwte.ref, dout.ref, tk.ref, N, C, V);
    p.dev->ops->embedding_backward(p.dev, dwte.dev, dout.dev, tk.dev, N, C, V);
    compare(&p, "embedding/bwd dwte (+=)", &dwte, 1e-6, 1e-5);
    tens_free(&p, &tk);
    tens_free(&p, &wte);
    tens_free(&p, &out);
    tens_free(&p, &dout);
    tens_free(&p, &dwte);
    free(tok);
    pair_close(&p);
}

static void norm_case(pair *p, size_t N, size_t C, int layer)
{
    char name[96];
    const char *kind = layer ? "layernorm" : "rmsnorm";
    float eps = 1e-5f;
    tens in = tens_new(p, N * C, 1, -2, 2);
    tens w = tens_new(p, C, 0, 0.5, 1.5);
    tens bias = tens_new(p, C, 0, -0.5, 0.5);
    tens out = tens_new(p, N * C, 1, 0, 0);
    tens mean = tens_new(p, N, 0, 0, 0);
    tens rstd = tens_new(p, N, 0, 0, 0);
    float *bref = layer ? bias.ref : NULL, *bdev = layer ? bias.dev : NULL;
    float *mref = layer ? mean.ref : NULL, *mdev = layer ? mean.dev : NULL;
    p->ref->ops->norm_forward(p->ref, out.ref, mref, rstd.ref, in.ref, w.ref, bref, N, C, eps);
    p->dev->ops->norm_forward(p->dev, out.dev, mdev, rstd.dev, in.dev, w.dev, bdev, N, C, eps);
    snprintf(name, sizeof name, "%s/fwd out N=%zu C=%zu", kind, N, C);
    compare(p, name, &out, BF_ATOL, BF_RTOL);
    snprintf(name, sizeof name, "%s/fwd rstd", kind);
    compare(p, name, &rstd, 1e-5, 1e-4);
    if (layer) {
        snprintf(name, sizeof name, "%s/fwd mean", kind);
        compare(p, name, &mean, 1e-5, 1e-4);
    }
    tens dout = tens_new(p, N * C, 1, -1, 1);
    tens din = tens_new(p, N * C, 1, -1, 1);
    tens dw = tens_new(p, C, 0, -1, 1);
    tens db = tens_new(p, C, 0, -1, 1);
    float *dbref = layer ? db.ref : NULL, *dbdev = layer ? db.dev : NULL;
    p->ref->ops->norm_backward(p->ref, din.ref, dw.ref, dbref, dout.ref, in.ref, w.ref, mref, rstd.ref, N, C);
    p->dev->ops->norm_backward(p->dev, din.dev, dw.dev, dbdev, dout.dev, in.dev, w.dev, mdev, rstd.dev, N, C);
    snprintf(name, sizeof name, "%s/bwd din (+=)", kind);
    compare(p, name, &din, BF_ATOL, BF_RTOL);
    snprintf(name, sizeof name, "%s/bwd dweight (+=)", kind);
    compare(p, name, &dw, 1e-4, 1e-3);
    if (layer) {
        snprintf(name, sizeof name, "%s/bwd dbias (+=)", kind);
        compare(p, name, &db, 1e-4, 1e-3);
    }
    tens *all[] = {&in, &w, &bias, &out, &mean, &rstd, &dout, &din, &dw, &db};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tens_free(p, all[i]);
}

static void test_norm(lilm_test *t)
{
    pair p;
    if (!pair_open(&p, t, 13)) return;
    size_t shapes[][2] = {{256, 192}, {200, 288}, {67, 77}, {16, 1000}};
    for (size_t s = 0; s < 4; s++)
        for (int layer = 0; layer < 2; layer++) norm_case(&p, shapes[s][0], shapes[s][1], layer);
    pair_close(&p);
}

static void matmul_case(pair *p, size_t N, size_t IC, size_t OC, lilm_act act, int with_bias, int accumulate)
{
    char name[128], tag[64];
    const char *an = lilm_act_info(act)->config_name;
    snprintf(tag, sizeof tag, "N=%zu IC=%zu OC=%zu %s%s", N, IC, OC, an, with_bias ? " bias" : "");
    double wr = 1.0 / sqrt((double)IC);
    tens in = tens_new(p, N * IC, 1, -1, 1);
    tens w = tens_new(p, OC * IC, 1, -wr, wr);
    tens bias = tens_new(p, OC, 0, -0.5, 0.5);
    tens out = tens_new(p, N * OC, 1, 0, 0);
    tens pre = tens_new(p, N * OC, 1, 0, 0);
    const float *bref = with_bias ? bias.ref : NULL, *bdev = with_bias ? bias.dev : NULL;
    p->ref->ops->matmul_forward(p->ref, out.ref, pre.ref, in.ref, w.ref, bref, N, IC, OC, act);
    p->dev->ops->matmul_forward(p->dev, out.dev, pre.dev, in.dev, w.dev, bdev, N, IC, OC, act);
    snprintf(name, sizeof name, "matmul/fwd out %s", tag);
    compare(p, name, &out, BF_ATOL, BF_RTOL);
    if (act != LILM_ACT_NONE) {
        compare(p, "matmul/fwd pre", &pre, BF_ATOL, BF_RTOL);
        /* the backward must see the same pre on both sides */
        float *c = xalloc(pre.n * sizeof(float)), *g = xalloc(pre.n * sizeof(float));
        tens_get(p, &pre, c, g);
        for (size_t i = 0; i < pre.n; i++) c[i] = round_bf16(c[i]);
        tens_set(p, &pre, c);
        free(c);
        free(g);
    }
    tens dout = tens_new(p, N * OC, 1, -1, 1);
    tens din = tens_new(p, N * IC, 1, accumulate ? -1 : 0, accumulate ? 1 : 0);
    tens dw = tens_new(p, OC * IC, 0, -1, 1);
    tens db = tens_new(p, OC, 0, -1, 1);
    float *dbref = with_bias ? db.ref : NULL, *dbdev = with_bias ? db.dev : NULL;
    p->ref->ops->matmul_backward(p->ref, din.ref, dw.ref, dbref, dout.ref, pre.ref, in.ref, w.ref, N, IC, OC, act,
                            accumulate);
    p->dev->ops->matmul_backward(p->dev, din.dev, dw.dev, dbdev, dout.dev, pre.dev, in.dev, w.dev, N, IC, OC, act,
                            accumulate);
    snprintf(name, sizeof name, "matmul/bwd din%s", accumulate ? " (+=)" : "");
    compare(p, name, &din, BF_ATOL, BF_RTOL);
    compare(p, "matmul/bwd dw (+=)", &dw, BF_ATOL, BF_RTOL);
    if (with_bias) compare(p, "matmul/bwd dbias (+=)", &db, BF_ATOL, BF_RTOL);
    if (act != LILM_ACT_NONE) compare(p, "matmul/bwd dout -> dpre", &dout, BF_ATOL, BF_RTOL);
    tens *all[] = {&in, &w, &bias, &out, &pre, &dout, &din, &dw, &db};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tens_free(p, all[i]);
}

static void test_matmul(lilm_test *t)
{
    pair p;
    if (!pair_open(&p, t, 14)) return;
    matmul_case(&p, 512, 192, 768, LILM_ACT_GELU, 1, 0);  /* BabyLM FFN up */
    matmul_case(&p, 512, 768, 192, LILM_ACT_NONE, 1, 1);  /* FFN down, din += */
    matmul_case(&p, 256, 192, 384, LILM_ACT_NONE, 1, 0);  /* kv: H*(Dq+Dv) */
    matmul_case(&p, 300, 288, 1152, LILM_ACT_GELU, 1, 1); /* SimpleStories FFN */
    matmul_case(&p, 37, 50, 33, LILM_ACT_RELU, 0, 1);     /* odd sizes, no bias */
    matmul_case(&p, 64, 64, 16, LILM_ACT_NONE, 0, 0);     /* latent projection */
    matmul_case(&p, 300, 288, 1152, LILM_ACT_RELU2, 1, 0); /* SimpleStories FFN, ReLU^2 */
    pair_close(&p);
}

static void test_elementwise(lilm_test *t)
{
    pair p;
    if (!pair_open(&p, t, 15)) return;
    size_t n = 10007;
    lilm_act acts[] = {LILM_ACT_NONE, LILM_ACT_GELU, LILM_ACT_RELU, LILM_ACT_RELU2};
    const char *names[] = {"none", "gelu", "relu", "relu2"};
    tens a = tens_new(&p, n, 1, -4, 4);
    tens b = tens_new(&p, n, 1, -1, 1);
    tens out = tens_new(&p, n, 1, 0, 0);
    char name[64];
    for (int i = 0; i < 4; i++) {
        p.ref->ops->act_forward(p.ref, out.ref, a.ref, n, acts[i]);
        p.dev->ops->act_forward(p.dev, out.dev, a.dev, n, acts[i]);
        snprintf(name, sizeof name, "act/fwd %s", names[i]);
        compare(&p, name, &out, BF_ATOL, BF_RTOL);
        p.ref->ops->act_backward(p.ref, out.ref, b.ref, a.ref, n, acts[i]);
        p.dev->ops->act_backward(p.dev, out.dev, b.dev, a.dev, n, acts[i]);
        snprintf(name, sizeof name, "act/bwd %s", names[i]);
        compare(&p, name, &out, BF_ATOL, BF_RTOL);
    }
    p.ref->ops->add(p.ref, out.ref, a.ref, b.ref, n);
    p.dev->ops->add(p.dev, out.dev, a.dev, b.dev, n);
    compare(&p, "add", &out, BF_ATOL, BF_RTOL);
    p.ref->ops->accumulate(p.ref, out.ref, a.ref, n);
    p.dev->ops->accumulate(p.dev, out.dev, a.dev, n);
    compare(&p, "accumulate (+=)", &out, BF_ATOL, BF_RTOL);
    p.ref->ops->copy(p.ref, out.ref, b.ref, n);
    p.dev->ops->copy(p.dev, out.dev, b.dev, n);
    compare(&p, "copy", &out, 0.0, 0.0);
    tens g = tens_new(&p, n, 0, -2, 2);
    p.ref->ops->scale(p.ref, g.ref, n, 0.37f);
    p.dev->ops->scale(p.dev, g.dev, n, 0.37f);
    compare(&p, "scale", &g, 0.0, 1e-6);
    tens gx = tens_new(&p, n, 0, -1, 1);
    p.ref->ops->axpy(p.ref, g.ref, gx.ref, n, -0.75f);
    p.dev->ops->axpy(p.dev, g.dev, gx.dev, n, -0.75f);
    compare(&p, "axpy (+=)", &g, 1e-7, 1e-6);
    tens_free(&p, &gx);
    /* SwiGLU over (N, 2F) rows [g | u]: forward, then backward in place */
    size_t gN = 37, gF = 135;
    tens gin = tens_new(&p, gN * 2 * gF, 1, -4, 4);
    tens gout = tens_new(&p, gN * gF, 1, 0, 0);
    tens gd = tens_new(&p, gN * gF, 1, -1, 1);
    p.ref->ops->glu_forward(p.ref, gout.ref, gin.ref, gN, gF, LILM_ACT_SWIGLU);
    p.dev->ops->glu_forward(p.dev, gout.dev, gin.dev, gN, gF, LILM_ACT_SWIGLU);
    compare(&p, "glu/fwd swiglu", &gout, BF_ATOL, BF_RTOL);
    p.ref->ops->glu_backward(p.ref, gin.ref, gd.ref, gin.ref, gN, gF, LILM_ACT_SWIGLU);
    p.dev->ops->glu_backward(p.dev, gin.dev, gd.dev, gin.dev, gN, gF, LILM_ACT_SWIGLU);
    compare(&p, "glu/bwd swiglu (din == in)", &gin, BF_ATOL, BF_RTOL);
    tens_free(&p, &gin);
    tens_free(&p, &gout);
    tens_free(&p, &gd);
    tens_free(&p, &a);
    tens_free(&p, &b);
    tens_free(&p, &out);
    tens_free(&p, &g);
    pair_close(&p);
}

static void rope_case(pair *p, size_t B, size_t T, size_t H, size_t D, size_t stride, size_t pos0)
{
    char name[128];
    tens x = tens_new(p, B * T * stride, 1, -2, 2);
    p->ref->ops->rope_forward(p->ref, x.ref, B, T, H, D, stride, pos0, 10000.0f);
    p->dev->ops->rope_forward(p->dev, x.dev, B, T, H, D, stride, pos0, 10000.0f);
    snprintf(name, sizeof name, "rope/fwd B=%zu T=%zu H=%zu D=%zu stride=%zu pos0=%zu", B, T, H, D, stride, pos0);
    compare(p, name, &x, BF_ATOL, BF_RTOL);
    tens_set(p, &x, x.host); /* fresh gradient */
    p->ref->ops->rope_backward(p->ref, x.ref, B, T, H, D, stride, pos0, 10000.0f);
    p->dev->ops->rope_backward(p->dev, x.dev, B, T, H, D, stride, pos0, 10000.0f);
    compare(p, "rope/bwd", &x, BF_ATOL, BF_RTOL);
    tens_free(p, &x);
}

static void test_rope(lilm_test *t)
{
    pair p;
    if (!pair_open(&p, t, 16)) return;
    rope_case(&p, 2, 64, 6, 32, 6 * 32, 0);        /* q buffer */
    rope_case(&p, 2, 64, 6, 32, 6 * (32 + 32), 0); /* k inside the interleaved kv buffer */
    rope_case(&p, 1, 512, 3, 96, 3 * 96, 0);       /* long positions */
    rope_case(&p, 2, 5, 2, 128, 2 * (128 + 64), 300);
    pair_close(&p);
}

/* q (B*Tq rows of H*Dq + q_pad); k and v interleaved in kv (B*Tk, H*(Dq+Dv)). */
static void attention_case(pair *p, size_t B, size_t T, size_t H, size_t Dq, size_t Dv, size_t q_pad)
{
    char name[128], tag[80];
    snprintf(tag, sizeof tag, "B=%zu T=%zu H=%zu Dq=%zu Dv=%zu q_stride=%zu", B, T, H, Dq, Dv, H * Dq + q_pad);
    size_t qs = H * Dq + q_pad, kvs = H * (Dq + Dv);
    tens q = tens_new(p, B * T * qs, 1, -2, 2);
    tens kv = tens_new(p, B * T * kvs, 1, -2, 2);
    tens out = tens_new(p, B * T * H * Dv, 1, 0, 0);
    tens lse = tens_new(p, B * H * T, 0, 0, 0);
    /* v starts H*Dq elements into each kv row; offsets count elements of each side's dtype */
    size_t er = sizeof(float), ed = dev_bf16(p) ? 2 : sizeof(float);
    const char *kref = kv.ref, *kdev = kv.dev;
    p->ref->ops->attention_forward(p->ref, out.ref, lse.ref, q.ref, kref, kref + H * Dq * er, B, T, T, 0, H, Dq, Dv, qs,
                              kvs);
    p->dev->ops->attention_forward(p->dev, out.dev, lse.dev, q.dev, kdev, kdev + H * Dq * ed, B, T, T, 0, H, Dq, Dv, qs,
                              kvs);
    snprintf(name, sizeof name, "attention/fwd out %s", tag);
    compare(p, name, &out, BF_ATOL, BF_RTOL);
    compare(p, "attention/fwd lse", &lse, 1e-4, 1e-3);

    tens dout = tens_new(p, B * T * H * Dv, 1, -1, 1);
    tens dq = tens_new(p, B * T * qs, 1, 5, 5);    /* WRITTEN: garbage must vanish */
    tens dkv = tens_new(p, B * T * kvs, 1, 5, 5);
    char *dkref = dkv.ref, *dkdev = dkv.dev;
    p->ref->ops->attention_backward(p->ref, dq.ref, dkref, dkref + H * Dq * er, dout.ref, q.ref, kref, kref + H * Dq * er,
                               out.ref, lse.ref, B, T, H, Dq, Dv, qs, kvs);
    p->dev->ops->attention_backward(p->dev, dq.dev, dkdev, dkdev + H * Dq * ed, dout.dev, q.dev, kdev,
                               kdev + H * Dq * ed, out.dev, lse.dev, B, T, H, Dq, Dv, qs, kvs);
    compare_cols(p, "attention/bwd dq", &dq, qs, H * Dq, 2 * BF_ATOL, 2 * BF_RTOL);
    compare(p, "attention/bwd dk,dv (interleaved)", &dkv, 2 * BF_ATOL, 2 * BF_RTOL);
    /* deterministic (no atomics): the same backward again, over fresh garbage, gives the same bits */
    size_t most = dq.n > dkv.n ? dq.n : dkv.n;
    float *ref_tmp = xalloc(most * sizeof(float)), *first_dq = xalloc(dq.n * sizeof(float));
    float *first_dkv = xalloc(dkv.n * sizeof(float)), *again = xalloc(most * sizeof(float));
    tens_get(p, &dq, ref_tmp, first_dq);
    tens_get(p, &dkv, ref_tmp, first_dkv);
    tens_set(p, &dq, dq.host);
    tens_set(p, &dkv, dkv.host);
    p->dev->ops->attention_backward(p->dev, dq.dev, dkdev, dkdev + H * Dq * ed, dout.dev, q.dev, kdev,
                               kdev + H * Dq * ed, out.dev, lse.dev, B, T, H, Dq, Dv, qs, kvs);
    tens_get(p, &dq, ref_tmp, again);
    int same = memcmp(again, first_dq, dq.n * sizeof(float)) == 0;
    tens_get(p, &dkv, ref_tmp, again);
    same &= memcmp(again, first_dkv, dkv.n * sizeof(float)) == 0;
    LT_CHECK(p->t, same, "attention backward %s: a second run gave different bits", tag);
    free(ref_tmp), free(first_dq), free(first_dkv), free(again);
    tens *all[] = {&q, &kv, &out, &lse, &dout, &dq, &dkv};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tens_free(p, all[i]);
}

/* The KV-cache form: Tq new queries at positions pos0.. against Tk = pos0+Tq keys. */
static void attention_cache_case(pair *p, size_t B, size_t pos0, size_t Tq, size_t H, size_t Dq, size_t Dv)
{
    char name[128];
    size_t Tk = pos0 + Tq, qs = H * Dq, kvs = H * (Dq + Dv);
    tens q = tens_new(p, B * Tq * qs, 1, -2, 2);
    tens kv = tens_new(p, B * Tk * kvs, 1, -2, 2);
    tens out = tens_new(p, B * Tq * H * Dv, 1, 0, 0);
    tens lse = tens_new(p, B * H * Tq, 0, 0, 0);
    size_t er = sizeof(float), ed = dev_bf16(p) ? 2 : sizeof(float);
    const char *kref = kv.ref, *kdev = kv.dev;
    p->ref->ops->attention_forward(p->ref, out.ref, lse.ref, q.ref, kref, kref + H * Dq * er, B, Tq, Tk, pos0, H, Dq, Dv,
                              qs, kvs);
    p->dev->ops->attention_forward(p->dev, out.dev, lse.dev, q.dev, kdev, kdev + H * Dq * ed, B, Tq, Tk, pos0, H, Dq, Dv,
                              qs, kvs);
    snprintf(name, sizeof name, "attention/fwd kv-cache B=%zu pos0=%zu Tq=%zu H=%zu", B, pos0, Tq, H);
    compare(p, name, &out, BF_ATOL, BF_RTOL);
    compare(p, "attention/fwd kv-cache lse", &lse, 1e-4, 1e-3);
    /* lse may be NULL when not training */
    p->ref->ops->attention_forward(p->ref, out.ref, NULL, q.ref, kref, kref + H * Dq * er, B, Tq, Tk, pos0, H, Dq, Dv,
                              qs, kvs);
    p->dev->ops->attention_forward(p->dev, out.dev, NULL, q.dev, kdev, kdev + H * Dq * ed, B, Tq, Tk, pos0, H, Dq, Dv,
                              qs, kvs);
    compare(p, "attention/fwd kv-cache, lse NULL", &out, BF_ATOL, BF_RTOL);
    tens *all[] = {&q, &kv, &out, &lse};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tens_free(p, all[i]);
}

/* Every attention shape of this file, on a backend pair opened with the
 * attention kernels `kind` (NULL: as LILM_CUDA_ATTN says). */
static void attention_all(lilm_test *t, const char *kind, uint64_t seed)
{
    pair p;
    if (!pair_open_attn(&p, t, seed, kind)) return;
    const char *env = getenv("LILM_CUDA_ATTN");
    printf("attention kernels: %s\n", kind ? kind : env && *env ? env : "(LILM_CUDA_ATTN unset: the default)");
    attention_case(&p, 2, 128, 6, 32, 32, 0);  /* BabyLM heads */
    attention_case(&p, 1, 100, 3, 96, 96, 0);  /* SimpleStories heads, T not a tile multiple */
    attention_case(&p, 1, 300, 3, 96, 96, 32); /* several 64-row tiles, q inside a wider buffer */
    attention_case(&p, 2, 45, 2, 128, 64, 0);  /* Dq at the limit, Dq != Dv */
    attention_case(&p, 1, 33, 1, 16, 128, 0);  /* Dv at the limit */
    attention_case(&p, 1, 70, 2, 64, 64, 8);   /* head dim 64, strided q */
    attention_case(&p, 1, 7, 2, 8, 8, 0);      /* less than one tile */
    attention_case(&p, 1, 50, 2, 12, 20, 0);   /* head dims not multiples of 8 (mma falls back) */
    attention_cache_case(&p, 2, 50, 7, 3, 32, 32);
    attention_cache_case(&p, 1, 100, 1, 2, 96, 96); /* one new token */
    attention_cache_case(&p, 1, 0, 40, 2, 64, 32);  /* an empty cache */
    attention_cache_case(&p, 2, 62, 5, 1, 128, 128); /* the cache ends inside a tile */
    pair_close(&p);
}

static void test_attention(lilm_test *t) { attention_all(t, NULL, 17); }

/* Each kernel choice of train.cuda.attention, whatever the environment says:
 * "small" (the default: thread-per-row for heads <= 32, warp-per-row above),
 * "warp" (warp-per-row for all), "mma" (tensor cores wherever they apply). */
static void test_attention_small_path(lilm_test *t) { attention_all(t, "small", 19); }
static void test_attention_warp_path(lilm_test *t) { attention_all(t, "warp", 21); }
static void test_attention_mma_path(lilm_test *t) { attention_all(t, "mma", 23); }

static void xent_case(pair *p, size_t N, size_t C, size_t V, int training)
{
    char name[128];
    const int32_t ignore = -100;
    int32_t *tg = xalloc(N * sizeof(int32_t));
    size_t counted = 0;
    for (size_t i = 0; i < N; i++) {
        tg[i] = i % 7 == 3 ? ignore : (int32_t)(rng_u(&p->r) * (double)V);
        counted += tg[i] != ignore;
    }
    tens tgt = ints_new(p, tg, N);
    tens x = tens_new(p, N * C, 1, -1, 1);
    tens wte = tens_new(p, V * C, 1, -0.3, 0.3);
    tens losses = tens_new(p, N, 0, 0, 0);
    tens dx = tens_new(p, N * C, 1, 7, 7); /* WRITTEN */
    tens dwte = tens_new(p, V * C, 0, -1e-3, 1e-3);
    float scale = 1.0f / (float)counted;
    p->ref->ops->classifier_xent(p->ref, losses.ref, training ? dx.ref : NULL, dwte.ref, x.ref, wte.ref, tgt.ref, N, C,
                            V, ignore, scale);
    p->dev->ops->classifier_xent(p->dev, losses.dev, training ? dx.dev : NULL, dwte.dev, x.dev, wte.dev, tgt.dev, N, C,
                            V, ignore, scale);
    snprintf(name, sizeof name, "classifier_xent losses N=%zu C=%zu V=%zu%s", N, C, V, training ? "" : " (eval)");
    compare(p, name, &losses, 1e-3, 1e-3);
    if (training) {
        compare(p, "classifier_xent dx", &dx, BF_ATOL, BF_RTOL);
        compare(p, "classifier_xent dwte (+=)", &dwte, BF_ATOL, BF_RTOL);
    }
    tens *all[] = {&tgt, &x, &wte, &losses, &dx, &dwte};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) tens_free(p, all[i]);
    free(tg);
}

static void test_classifier(lilm_test *t)
{
    pair p;
    if (!pair_open(&p, t, 18)) return;
    xent_case(&p, 300, 192, 1000, 1);
    xent_case(&p, 300, 192, 1000, 0);
    xent_case(&p, 1100, 64, 40000, 1); /* several row chunks on the GPU */
    /* classifier_logits */
    size_t N = 5, C = 288, V = 8000;
    tens x = tens_new(&p, N * C, 1, -1, 1);
    tens wte = tens_new(&p, V * C, 1, -0.3, 0.3);
    tens logits = tens_new(&p, N * V, 0, 0, 0);
    p.ref->ops->classifier_logits(p.ref, logits.ref, x.ref, wte.ref, N, C, V);
    p.dev->ops->classifier_logits(p.dev, logits.dev, x.dev, wte.dev, N, C, V);
    compare(&p, "classifier_logits N=5 C=288 V=8000", &logits, 1e-4, 1e-3);
    tens_free(&p, &x);
    tens_free(&p, &wte);
    tens_free(&p, &logits);
    pair_close(&p);
}

static void test_grad_sanitize(lilm_test *t)
{
    pair p;
    if (!pair_open(&p, t, 19)) return;
    size_t n = 100003;
    tens g = tens_new(&p, n, 0, -1, 1);
    float *vals = xalloc(n * sizeof(float));
    memcpy(vals, g.host, n * sizeof(float));
    vals[5] = NAN;
    vals[777] = INFINITY;
    vals[n - 1] = -INFINITY;
    tens_set(&p, &g, vals);
    double s_ref = 0, s_dev = 0;
    int64_t b_ref = 0, b_dev = 0;
    p.ref->ops->grad_sanitize(p.ref, g.ref, n, &s_ref, &b_ref);
    p.dev->ops->grad_sanitize(p.dev, g.dev, n, &s_dev, &b_dev);
    printf("  grad_sanitize: sumsq cpu %.10g gpu %.10g; bad cpu %lld gpu %lld\n", s_ref, s_dev, (long long)b_ref,
           (long long)b_dev);
    LT_EQ_INT(t, b_ref, 3);
    LT_EQ_INT(t, b_dev, 3);
    LT_NEAR(t, s_dev, s_ref, 1e-6 * s_ref);
    compare(&p, "grad_sanitize g", &g, 0.0, 0.0);
    free(vals);
    tens_free(&p, &g);
    pair_close(&p);
}

static void test_adamw(lilm_test *t)
{
    pair p;
    if (!pair_open(&p, t, 20)) return;
    size_t sizes[] = {1000, 70001, 1, 4096};
    float wds[] = {0.02f, 0.0f, 0.02f, 0.1f};
    enum { NT = 4 };
    tens prm[NT], grd[NT], m[NT], v[NT];
    lilm_adamw_tensor tr[NT], td[NT];
    for (int i = 0; i < NT; i++) {
        prm[i] = tens_new(&p, sizes[i], 0, -1, 1);
        grd[i] = tens_new(&p, sizes[i], 0, -0.1, 0.1);
        m[i] = tens_new(&p, sizes[i], 0, 0, 0);
        v[i] = tens_new(&p, sizes[i], 0, 0, 0);
        tr[i] = (lilm_adamw_tensor){prm[i].ref, grd[i].ref, m[i].ref, v[i].ref, sizes[i], wds[i]};
        td[i] = (lilm_adamw_tensor){prm[i].dev, grd[i].dev, m[i].dev, v[i].dev, sizes[i], wds[i]};
    }
    for (int step = 1; step <= 3; step++) {
        lilm_adamw_hparams hp = {6e-3f, 0.9f, 0.95f, 1e-8f, step};
        for (int i = 0; i < NT; i++) {
            float *gv = xalloc(sizes[i] * sizeof(float));
            for (size_t j = 0; j < sizes[i]; j++) gv[j] = (float)(0.2 * rng_u(&p.r) - 0.1);
            tens_set(&p, &grd[i], gv);
            free(gv);
        }
        p.ref->ops->adamw(p.ref, tr, NT, &hp);
        p.dev->ops->adamw(p.dev, td, NT, &hp);
    }
    for (int i = 0; i < NT; i++) {
        char name[64];
        snprintf(name, sizeof name, "adamw param[%d] n=%zu", i, sizes[i]);
        compare(&p, name, &prm[i], 1e-6, 1e-5);
        compare(&p, "adamw m", &m[i], 1e-6, 1e-5);
        compare(&p, "adamw v", &v[i], 1e-6, 1e-5);
    }
    for (int i = 0; i < NT; i++) {
        tens_free(&p, &prm[i]);
        tens_free(&p, &grd[i]);
        tens_free(&p, &m[i]);
        tens_free(&p, &v[i]);
    }
    pair_close(&p);
}

static void test_backend_object(lilm_test *t)
{
    const char *self = getenv("LILM_CUDA_TEST_SELF");
    if (self && strcmp(self, "1") == 0) {
        LT_TRUE(t, 1);
        return;
    }
    lilm_backend *be = NULL;
    LT_OK(t, lilm_cuda_backend_create(&be, 0));
    if (!be) return;
    LT_TRUE(t, strcmp(be->name, "cuda") == 0);
    LT_TRUE(t, be->device == LILM_DEVICE_CUDA && be->act_dtype == LILM_DTYPE_BF16);
    void *buf = NULL;
    LT_OK(t, be->ops->alloc(be, &buf, 1 << 20));
    unsigned char host[64];
    memset(host, 0xab, sizeof host);
    LT_OK(t, be->ops->download(be, host, buf, sizeof host));
    int zero = 1;
    for (size_t i = 0; i < sizeof host; i++) zero &= host[i] == 0;
    LT_TRUE(t, zero); /* alloc zero-fills */
    LT_TRUE(t, be->ops->peak_bytes(be) >= (1 << 20));
    /* an op that needs reserve()d scratch records an error that the next sync returns */
    float *losses = (float *)buf;
    int32_t *tg = (int32_t *)((char *)buf + 4096);
    void *x = (char *)buf + 8192, *wte = (char *)buf + 16384;
    be->ops->classifier_xent(be, losses, NULL, NULL, x, wte, tg, 4, 8, 16, -100, 1.0f);
    LT_STATUS(t, be->ops->sync(be), LILM_ERR_INTERNAL);
    LT_OK(t, be->ops->sync(be)); /* reported once */
    be->ops->free(be, buf);
    LT_OK(t, be->ops->sync(be));
    lilm_backend_free(be);
    lilm_backend *none = NULL;
    LT_STATUS(t, lilm_cuda_backend_create(&none, 4096), LILM_ERR_ARG);
    LT_TRUE(t, none == NULL);
    /* an unknown attention kernel choice is an error, not a silent default */
    lilm_backend_options o;
    LT_TRUE(t, lilm_test_cuda_options(&o, "tensor") == 0);
    LT_STATUS(t, lilm_cuda_backend_create_opts(&none, 0, &o), LILM_ERR_ARG);
    LT_TRUE(t, none == NULL);
    /* the backend describes its memory */
    LT_OK(t, lilm_cuda_backend_create(&be, 0));
    if (be) {
        size_t total = 0, avail = 0;
        be->ops->memory_info(be, &total, &avail);
        LT_TRUE(t, total > ((size_t)1 << 30) && avail > 0 && avail <= total);
        printf("  cuda memory: %.1f GiB total, %.1f GiB available\n", total / 1073741824.0, avail / 1073741824.0);
        lilm_backend_free(be);
    }
}

static const lilm_test_case cases[] = {
    {"backend_object", test_backend_object},
    {"cast", test_cast},
    {"embedding", test_embedding},
    {"norm", test_norm},
    {"matmul", test_matmul},
    {"elementwise", test_elementwise},
    {"rope", test_rope},
    {"attention", test_attention},
    {"attention_small_path", test_attention_small_path},
    {"attention_warp_path", test_attention_warp_path},
    {"attention_mma_path", test_attention_mma_path},
    {"classifier", test_classifier},
    {"grad_sanitize", test_grad_sanitize},
    {"adamw", test_adamw},
};

LILM_TEST_MAIN(cases)
