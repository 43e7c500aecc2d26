/*
 * emu_kernels.c: runs the real CUDA kernels of src/cuda/attention.cu,
 * attention_small.cu, attention_mma.cu (tensor-core mma emulated by emu.h), norm.cu, classifier.cu, rope.cu, adamw.cu, matmul.cu
 * (its own kernels, not cuBLASLt), elementwise.cu and embedding.cu on the CPU emulator (emu.h) and compares them
 * with the CPU backend, on a machine without a GPU.
 *
 * run_emu.sh extracts the kernel sections of those files (everything before
 * their launchers) into build/emu/NAME_kernels.inc,
 * swapping the dynamic shared memory declaration for the emulator's buffer,
 * and builds this file against them and build/liblilm.a (for the CPU
 * backend). The launch geometry and shared-memory sizes below repeat the
 * launchers' formulas (attention_mma.cu's own size helpers are part of its
 * kernel section). Tolerances as in test_cuda_ops.c. Slow (one pthread per
 * CUDA thread), so shapes are small; `make test` runs it through
 * tests/py/test_cuda_emu.py.
 */
#include "emu.h"

/* the kernel's view of one AdamW tensor: the same fields as in cuda_impl.h */
typedef struct lilm__adamw_desc {
    float *param;
    const float *grad;
    float *m, *v;
    size_t n;
    size_t block_start;
    float weight_decay;
} lilm__adamw_desc;

#include "ops/backend.h" /* lilm_act, used by the activation helpers */

#include "impl_helpers.inc"

#include "adamw_kernels.inc"
#include "attention_kernels.inc"
#include "attention_mma_kernels.inc"
#include "attention_small_kernels.inc"
#include "classifier_kernels.inc"
#include "elementwise_kernels.inc"
#include "embedding_kernels.inc"
#include "matmul_kernels.inc"
#include "norm_kernels.inc"
#include "rope_kernels.inc"

#include "core/status.h"
#include "ops/backend.h"

static int failures;

static uint64_t rng_state = 12345;
static float rnd(float lo, float hi)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (hi - lo) * (float)((double)(rng_state >> 11) * (1.0 / 9007199254740992.0));
}

static float *fill(size_t n, float lo, float hi) /* bf16-exact random values */
{
    float *x = malloc(n * sizeof(float));
    if (!x) abort();
    for (size_t i = 0; i < n; i++) x[i] = lilm__ld(&(lilm__bf16){lilm__bf(rnd(lo, hi)).u});
    return x;
}

static lilm__bf16 *to_bf(const float *x, size_t n)
{
    lilm__bf16 *b = malloc(n * sizeof *b);
    if (!b) abort();
    for (size_t i = 0; i < n; i++) b[i] = lilm__bf(x[i]);
    return b;
}

static lilm__bf16 *bf_nan(size_t n) /* output buffer full of NaN: unwritten elements show */
{
    lilm__bf16 *b = malloc(n * sizeof *b);
    if (!b) abort();
    for (size_t i = 0; i < n; i++) b[i] = lilm__bf(NAN);
    return b;
}

static float *f_nan(size_t n)
{
    float *f = malloc(n * sizeof *f);
    if (!f) abort();
    for (size_t i = 0; i < n; i++) f[i] = NAN;
    return f;
}

static void compare(const char *what, const float *cpu, const float *gpu, size_t n, size_t stride, size_t width,
                    double arel, double rtol)
{
    /* only elements (i % stride) < width are compared (a head's columns of a strided buffer) */
    double rms = 0.0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (i % stride < width) rms += (double)cpu[i] * cpu[i], m++;
    rms = sqrt(rms / (double)(m ? m : 1));
    double atol = arel * rms + 1e-7, max_abs = 0.0;
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++) {
        if (i % stride >= width) continue;
        double err = fabs((double)gpu[i] - (double)cpu[i]);
        if (!(err <= max_abs)) max_abs = err;
        if (!(err <= atol + rtol * fabs((double)cpu[i]))) {
            if (!bad) first = i;
            bad++;
        }
    }
    printf("  %-44s n=%-7zu max|err| %-10.3g (atol %.2g rtol %.2g) %s\n", what, m, max_abs, atol, rtol,
           bad ? "FAIL" : "ok");
    if (bad) {
        printf("    %zu bad; first [%zu]: emu %.7g cpu %.7g\n", bad, first, (double)gpu[first], (double)cpu[first]);
        failures++;
    }
}

static float *from_bf(const lilm__bf16 *b, size_t n)
{
    float *x = malloc(n * sizeof(float));
    if (!x) abort();
    for (size_t i = 0; i < n; i++) x[i] = lilm__ld(b + i);
    return x;
}

/* ---- attention ---- */

typedef struct att_args {
    lilm__bf16 *out, *dq, *dk, *dv;
    float *lse, *delta;
    const lilm__bf16 *q, *k, *v, *dout, *o;
    int H, Tq, Tk, pos0, Dq, Dv;
    size_t qs, kvs, rows;
    float qscale, scale;
    int dp; /* attention_mma.cu: the padded head dim of the kernel */
} att_args;

static void fwd_body(void *p)
{
    att_args *a = p;
    attn_forward_kernel(a->out, a->lse, a->q, a->k, a->v, a->H, a->Tq, a->Tk, a->pos0, a->Dq, a->Dv, a->qs, a->kvs,
                        a->qscale);
}
static void delta_body(void *p)
{
    att_args *a = p;
    attn_delta_kernel(a->delta, a->dout, a->o, a->rows, a->Tq, a->H, a->Dv);
}
static void dkdv_body(void *p)
{
    att_args *a = p;
    attn_dkdv_kernel(a->dk, a->dv, a->dout, a->q, a->k, a->v, a->lse, a->delta, a->H, a->Tq, a->Dq, a->Dv, a->qs,
                     a->kvs, a->scale);
}
static void dq_body(void *p)
{
    att_args *a = p;
    attn_dq_kernel(a->dq, a->dout, a->q, a->k, a->v, a->lse, a->delta, a->H, a->Tq, a->Dq, a->Dv, a->qs, a->kvs,
                   a->scale);
}

static void small_fwd_body(void *p)
{
    att_args *a = p;
    attn_small_forward_kernel(a->out, a->lse, a->q, a->k, a->v, a->H, a->Tq, a->Tk, a->pos0, a->Dq, a->Dv, a->qs,
                              a->kvs, a->qscale);
}
static void small_dkdv_body(void *p)
{
    att_args *a = p;
    attn_small_dkdv_kernel(a->dk, a->dv, a->dout, a->q, a->k, a->v, a->lse, a->delta, a->H, a->Tq, a->Dq, a->Dv,
                           a->qs, a->kvs, a->scale);
}
static void small_dq_body(void *p)
{
    att_args *a = p;
    attn_small_dq_kernel(a->dq, a->dout, a->q, a->k, a->v, a->lse, a->delta, a->H, a->Tq, a->Dq, a->Dv, a->qs,
                         a->kvs, a->scale);
}

/* attention_mma.cu's kernels for the padded head dim a->dp */
#define MMA_CALL(name, ...)                                                                                         \
    switch (a->dp) {                                                                                               \
    case 32: name##32(__VA_ARGS__); break;                                                                         \
    case 64: name##64(__VA_ARGS__); break;                                                                         \
    case 96: name##96(__VA_ARGS__); break;                                                                         \
    default: name##128(__VA_ARGS__); break;                                                                        \
    }
static void mma_fwd_body(void *p)
{
    att_args *a = p;
    MMA_CALL(attn_mma_forward_, a->out, a->lse, a->q, a->k, a->v, a->H, a->Tq, a->Tk, a->pos0, a->Dq, a->Dv, a->qs,
             a->kvs, a->qscale)
}
static void mma_dkdv_body(void *p)
{
    att_args *a = p;
    MMA_CALL(attn_mma_dkdv_, a->dk, a->dv, a->dout, a->q, a->k, a->v, a->lse, a->delta, a->H, a->Tq, a->Dq, a->Dv,
             a->qs, a->kvs, a->scale)
}
static void mma_dq_body(void *p)
{
    att_args *a = p;
    MMA_CALL(attn_mma_dq_, a->dq, a->dout, a->q, a->k, a->v, a->lse, a->delta, a->H, a->Tq, a->Dq, a->Dv, a->qs,
             a->kvs, a->scale)
}

enum { ATT_WARP_KERNELS, ATT_SMALL_KERNELS, ATT_MMA_KERNELS };

/* kind: which kernel family (attention.cu's warp-per-row, attention_small.cu's
 * thread-per-row for heads <= 32, attention_mma.cu's tensor-core kernels);
 * q_pad: extra elements at the end of each q row (q_stride > H*Dq); k and v
 * always share one interleaved buffer. */
static void attention_case_ex(lilm_backend *be, size_t B, size_t Tq, size_t pos0, size_t H, size_t Dq, size_t Dv,
                              int kind, size_t q_pad)
{
    static const char *const kinds[] = {"", " (small heads)", " (mma)"};
    int small = kind == ATT_SMALL_KERNELS, mma = kind == ATT_MMA_KERNELS;
    size_t Tk = pos0 + Tq, qs = H * Dq + q_pad, kvs = H * (Dq + Dv);
    printf("attention%s B=%zu Tq=%zu pos0=%zu H=%zu Dq=%zu Dv=%zu q_stride=%zu\n", kinds[kind], B, Tq, pos0, H, Dq,
           Dv, qs);
    int dp = am_padded_dim(Dq, Dv);
    float *q = fill(B * Tq * qs, -2, 2), *kv = fill(B * Tk * kvs, -2, 2);
    float *out_c = f_nan(B * Tq * H * Dv), *lse_c = f_nan(B * H * Tq);
    be->ops->attention_forward(be, out_c, lse_c, q, kv, kv + H * Dq, B, Tq, Tk, pos0, H, Dq, Dv, qs, kvs);
    if (be->ops->sync(be) != LILM_OK) printf("cpu: %s\n", lilm_last_error());

    lilm__bf16 *qb = to_bf(q, B * Tq * qs), *kvb = to_bf(kv, B * Tk * kvs), *out = bf_nan(B * Tq * H * Dv);
    float *lse = f_nan(B * H * Tq);
    att_args a = {.out = out, .lse = lse, .q = qb, .k = kvb, .v = kvb + H * Dq, .H = (int)H, .Tq = (int)Tq,
                  .Tk = (int)Tk, .pos0 = (int)pos0, .Dq = (int)Dq, .Dv = (int)Dv, .qs = qs, .kvs = kvs,
                  .qscale = ATT_LOG2E / sqrtf((float)Dq), .scale = 1.0f / sqrtf((float)Dq), .dp = dp};
    size_t smem = (ATT_BQ * Dq + ATT_BK * (Dq + 1) + ATT_BK * Dv) * sizeof(float);
    if (mma)
        emu_launch((unsigned)((Tq + AM_ROWS - 1) / AM_ROWS), (unsigned)(B * H), AM_THREADS, am_smem_forward(dp),
                   mma_fwd_body, &a);
    else if (small)
        emu_launch((unsigned)((Tq + AS_ROWS - 1) / AS_ROWS), (unsigned)(B * H), AS_ROWS,
                   2 * AS_ROWS * AS_D * sizeof(float), small_fwd_body, &a);
    else
        emu_launch((unsigned)((Tq + ATT_BQ - 1) / ATT_BQ), (unsigned)(B * H), ATT_WARPS * 32, smem, fwd_body, &a);
    float *out_g = from_bf(out, B * Tq * H * Dv);
    compare("fwd out", out_c, out_g, B * Tq * H * Dv, 1, 1, 1e-2, 1.6e-2);
    compare("fwd lse", lse_c, lse, B * H * Tq, 1, 1, 1e-4, 1e-3);

    if (pos0 == 0) {
        size_t T = Tq;
        float *dout = fill(B * T * H * Dv, -1, 1);
        float *dq_c = f_nan(B * T * qs), *dkv_c = f_nan(B * T * kvs);
        be->ops->attention_backward(be, dq_c, dkv_c, dkv_c + H * Dq, dout, q, kv, kv + H * Dq, out_c, lse_c, B, T, H, Dq,
                               Dv, qs, kvs);
        if (be->ops->sync(be) != LILM_OK) printf("cpu: %s\n", lilm_last_error());
        lilm__bf16 *doutb = to_bf(dout, B * T * H * Dv), *dq = bf_nan(B * T * qs), *dkv = bf_nan(B * T * kvs);
        float *delta = f_nan(B * H * T);
        a.dout = doutb;
        a.o = out;
        a.delta = delta;
        a.dq = dq;
        a.dk = dkv;
        a.dv = dkv + H * Dq;
        a.rows = B * T * H;
        emu_launch((unsigned)((a.rows + ATT_WARPS - 1) / ATT_WARPS), 1, ATT_WARPS * 32, 0, delta_body, &a);
        size_t smem_kv =
            (ATT_BK * Dq + ATT_BK * Dv + ATT_BQ * (Dq + 1) + ATT_BQ * (Dv + 1) + 2 * ATT_BQ) * sizeof(float);
        size_t smem_q =
            (ATT_BQ * Dq + ATT_BQ * Dv + ATT_BK * (Dq + 1) + ATT_BK * (Dv + 1) + 2 * ATT_BQ) * sizeof(float);
        if (mma) {
            unsigned gx = (unsigned)((T + AM_ROWS - 1) / AM_ROWS);
            emu_launch(gx, (unsigned)(B * H), AM_THREADS, am_smem_dkdv(dp), mma_dkdv_body, &a);
            emu_launch(gx, (unsigned)(B * H), AM_THREADS, am_smem_dq(dp), mma_dq_body, &a);
        } else if (small) {
            unsigned gx = (unsigned)((T + AS_ROWS - 1) / AS_ROWS);
            emu_launch(gx, (unsigned)(B * H), AS_ROWS, (2 * AS_ROWS * AS_D + 2 * AS_ROWS) * sizeof(float),
                       small_dkdv_body, &a);
            emu_launch(gx, (unsigned)(B * H), AS_ROWS, 2 * AS_ROWS * AS_D * sizeof(float), small_dq_body, &a);
        } else {
            emu_launch((unsigned)((T + ATT_BK - 1) / ATT_BK), (unsigned)(B * H), ATT_WARPS * 32, smem_kv, dkdv_body,
                       &a);
            emu_launch((unsigned)((T + ATT_BK - 1) / ATT_BK), (unsigned)(B * H), ATT_WARPS * 32, smem_q, dq_body, &a);
        }
        float *dq_g = from_bf(dq, B * T * qs), *dkv_g = from_bf(dkv, B * T * kvs);
        compare("bwd dq", dq_c, dq_g, B * T * qs, qs, H * Dq, 2e-2, 3.2e-2);
        compare("bwd dk,dv (interleaved)", dkv_c, dkv_g, B * T * kvs, 1, 1, 2e-2, 3.2e-2);
        free(dout), free(dq_c), free(dkv_c), free(doutb), free(dq), free(dkv), free(delta), free(dq_g), free(dkv_g);
    }
    free(q), free(kv), free(out_c), free(lse_c), free(qb), free(kvb), free(out), free(lse), free(out_g);
}

static void attention_case(lilm_backend *be, size_t B, size_t Tq, size_t pos0, size_t H, size_t Dq, size_t Dv,
                           int small)
{
    attention_case_ex(be, B, Tq, pos0, H, Dq, Dv, small ? ATT_SMALL_KERNELS : ATT_WARP_KERNELS, 0);
}

/* ---- norm ---- */

typedef struct norm_args {
    lilm__bf16 *out, *din;
    float *mean, *rstd, *dw, *db;
    const lilm__bf16 *in, *dout;
    const float *w, *b;
    size_t N, C;
} norm_args;

static void norm_fwd_body(void *p)
{
    norm_args *a = p;
    norm_forward_kernel(a->out, a->mean, a->rstd, a->in, a->w, a->b, a->N, a->C, 1e-5f);
}
static void norm_bwd_body(void *p)
{
    norm_args *a = p;
    norm_backward_kernel(a->din, a->dw, a->db, a->dout, a->in, a->w, a->mean, a->rstd, a->N, a->C);
}

static void norm_case(lilm_backend *be, size_t N, size_t C, int layer, unsigned grid_bwd)
{
    printf("%s N=%zu C=%zu (backward grid %u)\n", layer ? "layernorm" : "rmsnorm", N, C, grid_bwd);
    float *in = fill(N * C, -2, 2), *w = fill(C, 0.5f, 1.5f), *b = fill(C, -0.5f, 0.5f);
    float *out_c = f_nan(N * C), *mean_c = f_nan(N), *rstd_c = f_nan(N);
    be->ops->norm_forward(be, out_c, layer ? mean_c : NULL, rstd_c, in, w, layer ? b : NULL, N, C, 1e-5f);
    lilm__bf16 *inb = to_bf(in, N * C), *out = bf_nan(N * C);
    float *mean = f_nan(N), *rstd = f_nan(N);
    norm_args a = {.out = out, .mean = layer ? mean : NULL, .rstd = rstd, .in = inb, .w = w, .b = layer ? b : NULL,
                   .N = N, .C = C};
    emu_launch((unsigned)((N + NORM_WARPS - 1) / NORM_WARPS), 1, NORM_WARPS * 32, 0, norm_fwd_body, &a);
    float *out_g = from_bf(out, N * C);
    compare("fwd out", out_c, out_g, N * C, 1, 1, 1e-2, 1.6e-2);
    compare("fwd rstd", rstd_c, rstd, N, 1, 1, 1e-5, 1e-4);
    if (layer) compare("fwd mean", mean_c, mean, N, 1, 1, 1e-5, 1e-4);

    float *dout = fill(N * C, -1, 1), *din_c = fill(N * C, -1, 1), *dw_c = fill(C, -1, 1), *db_c = fill(C, -1, 1);
    lilm__bf16 *doutb = to_bf(dout, N * C), *din = to_bf(din_c, N * C);
    float *dw = malloc(C * sizeof(float)), *db = malloc(C * sizeof(float));
    memcpy(dw, dw_c, C * sizeof(float));
    memcpy(db, db_c, C * sizeof(float));
    be->ops->norm_backward(be, din_c, dw_c, layer ? db_c : NULL, dout, in, w, layer ? mean_c : NULL, rstd_c, N, C);
    a.din = din;
    a.dout = doutb;
    a.dw = dw;
    a.db = layer ? db : NULL;
    emu_launch(grid_bwd, 1, NORM_WARPS * 32, 2 * C * sizeof(float), norm_bwd_body, &a);
    float *din_g = from_bf(din, N * C);
    compare("bwd din (+=)", din_c, din_g, N * C, 1, 1, 1e-2, 1.6e-2);
    compare("bwd dweight (+=)", dw_c, dw, C, 1, 1, 1e-4, 1e-3);
    if (layer) compare("bwd dbias (+=)", db_c, db, C, 1, 1, 1e-4, 1e-3);
    free(in), free(w), free(b), free(out_c), free(mean_c), free(rstd_c), free(inb), free(out), free(mean), free(rstd);
    free(out_g), free(dout), free(din_c), free(dw_c), free(db_c), free(doutb), free(din), free(dw), free(db), free(din_g);
}

/* ---- classifier: the xent kernel on logits computed here in fp32 ---- */

typedef struct xent_args {
    float *losses;
    lilm__bf16 *dlogits;
    const float *logits;
    const int32_t *targets;
    size_t V;
    float scale;
} xent_args;

static void xent_body(void *p)
{
    xent_args *a = p;
    xent_kernel(a->losses, a->dlogits, a->logits, a->targets, a->V, -100, a->scale);
}

static void xent_case(lilm_backend *be, size_t N, size_t C, size_t V)
{
    printf("classifier xent N=%zu C=%zu V=%zu\n", N, C, V);
    float *x = fill(N * C, -1, 1), *wte = fill(V * C, -0.3f, 0.3f);
    int32_t *tg = malloc(N * sizeof(int32_t));
    size_t counted = 0;
    for (size_t i = 0; i < N; i++) {
        tg[i] = i % 5 == 2 ? -100 : (int32_t)(rnd(0, 1) * (float)V) % (int32_t)V;
        counted += tg[i] != -100;
    }
    float scale = 1.0f / (float)counted;
    float *losses_c = f_nan(N), *dx_c = f_nan(N * C), *dwte_c = calloc(V * C, sizeof(float));
    be->ops->classifier_xent(be, losses_c, dx_c, dwte_c, x, wte, tg, N, C, V, -100, scale);
    if (be->ops->sync(be) != LILM_OK) printf("cpu: %s\n", lilm_last_error());
    /* logits in double, like the GEMM (fp32 accumulation of bf16-exact inputs) */
    float *logits = malloc(N * V * sizeof(float)), *losses = f_nan(N);
    for (size_t i = 0; i < N; i++)
        for (size_t v = 0; v < V; v++) {
            double s = 0;
            for (size_t c = 0; c < C; c++) s += (double)x[i * C + c] * wte[v * C + c];
            logits[i * V + v] = (float)s;
        }
    lilm__bf16 *dlog = bf_nan(N * V);
    xent_args a = {losses, dlog, logits, tg, V, scale};
    emu_launch((unsigned)N, 1, XENT_THREADS, 0, xent_body, &a);
    compare("losses", losses_c, losses, N, 1, 1, 1e-3, 1e-3);
    /* dx = dlogits @ wte from the emulated bf16 gradient */
    float *dx = malloc(N * C * sizeof(float));
    for (size_t i = 0; i < N; i++)
        for (size_t c = 0; c < C; c++) {
            double s = 0;
            for (size_t v = 0; v < V; v++) s += (double)lilm__ld(dlog + i * V + v) * wte[v * C + c];
            dx[i * C + c] = (float)s;
        }
    compare("dx (from the kernel's dlogits)", dx_c, dx, N * C, 1, 1, 1e-2, 1.6e-2);
    free(x), free(wte), free(tg), free(losses_c), free(dx_c), free(dwte_c), free(logits), free(losses), free(dlog);
    free(dx);
}

/* ---- rope ---- */

typedef struct rope_args {
    lilm__bf16 *x;
    size_t N, T, H, D, stride, pos0;
    float sign;
} rope_args;

static void rope_body(void *p)
{
    rope_args *a = p;
    rope_kernel(a->x, a->N, a->T, a->H, a->D, a->stride, a->pos0, 10000.0f, a->sign);
}

static void rope_case(lilm_backend *be, size_t B, size_t T, size_t H, size_t D, size_t stride, size_t pos0)
{
    printf("rope B=%zu T=%zu H=%zu D=%zu stride=%zu pos0=%zu\n", B, T, H, D, stride, pos0);
    size_t n = B * T * stride;
    for (int dir = 0; dir < 2; dir++) {
        float *x = fill(n, -2, 2);
        lilm__bf16 *xb = to_bf(x, n);
        if (dir == 0) be->ops->rope_forward(be, x, B, T, H, D, stride, pos0, 10000.0f);
        else be->ops->rope_backward(be, x, B, T, H, D, stride, pos0, 10000.0f);
        rope_args a = {xb, B * T, T, H, D, stride, pos0, dir == 0 ? 1.0f : -1.0f};
        emu_launch(3, 1, 64, 0, rope_body, &a); /* a small grid: the grid-stride loop must cover all */
        float *xg = from_bf(xb, n);
        compare(dir == 0 ? "rope fwd (whole buffer)" : "rope bwd (whole buffer)", x, xg, n, 1, 1, 1e-2, 1.6e-2);
        free(x), free(xb), free(xg);
    }
}

/* ---- adamw ---- */

typedef struct adamw_args {
    const lilm__adamw_desc *d;
    int n;
    float bc1, bc2;
} adamw_args;

static void adamw_body(void *p)
{
    adamw_args *a = p;
    adamw_kernel(a->d, a->n, 6e-3f, 0.9f, 0.95f, 1e-8f, a->bc1, a->bc2);
}

static void adamw_case(lilm_backend *be)
{
    printf("adamw, 3 tensors, 2 steps\n");
    size_t sizes[3] = {5000, 1, 2049};
    float wd[3] = {0.02f, 0.0f, 0.1f};
    float *pc[3], *mc[3], *vc[3], *pg[3], *mg[3], *vg[3], *g[3];
    lilm_adamw_tensor tc[3];
    lilm__adamw_desc d[3];
    size_t blocks = 0;
    for (int i = 0; i < 3; i++) {
        size_t n = sizes[i];
        pc[i] = fill(n, -1, 1), g[i] = fill(n, -0.1f, 0.1f);
        mc[i] = calloc(n, sizeof(float)), vc[i] = calloc(n, sizeof(float));
        pg[i] = malloc(n * sizeof(float)), mg[i] = calloc(n, sizeof(float)), vg[i] = calloc(n, sizeof(float));
        memcpy(pg[i], pc[i], n * sizeof(float));
        tc[i] = (lilm_adamw_tensor){pc[i], g[i], mc[i], vc[i], n, wd[i]};
        d[i] = (lilm__adamw_desc){pg[i], g[i], mg[i], vg[i], n, blocks, wd[i]};
        blocks += (n + ADAMW_CHUNK - 1) / ADAMW_CHUNK;
    }
    for (int step = 1; step <= 2; step++) {
        lilm_adamw_hparams hp = {6e-3f, 0.9f, 0.95f, 1e-8f, step};
        be->ops->adamw(be, tc, 3, &hp);
        adamw_args a = {d, 3, (float)(1.0 - pow(0.9, step)), (float)(1.0 - pow(0.95, step))};
        emu_launch((unsigned)blocks, 1, ADAMW_THREADS, 0, adamw_body, &a);
    }
    for (int i = 0; i < 3; i++) {
        compare("adamw param", pc[i], pg[i], sizes[i], 1, 1, 1e-6, 1e-5);
        compare("adamw m", mc[i], mg[i], sizes[i], 1, 1, 1e-6, 1e-5);
        compare("adamw v", vc[i], vg[i], sizes[i], 1, 1, 1e-6, 1e-5);
        free(pc[i]), free(mc[i]), free(vc[i]), free(pg[i]), free(mg[i]), free(vg[i]), free(g[i]);
    }
}

/* ---- matmul's own kernels, elementwise, embedding ---- */

typedef struct ew_args {
    lilm__bf16 *a, *b, *c;
    float *f, *g, *h;
    double *red;
    const int32_t *tok;
    size_t n, N, C, V;
    int act;
} ew_args;

static void bias_act_body(void *p)
{
    ew_args *a = p;
    bias_act_kernel(a->a, a->b, a->f, a->n, a->C, a->act);
}
static void dact_body(void *p)
{
    ew_args *a = p;
    dact_kernel(a->a, a->b, a->n, a->act);
}
static void bias_grad_body(void *p)
{
    ew_args *a = p;
    bias_grad_kernel(a->f, a->a, a->N, a->C);
}
static void sanitize_body(void *p)
{
    ew_args *a = p;
    sanitize_kernel(a->f, a->n, a->red);
}
static void emb_bwd_body(void *p)
{
    ew_args *a = p;
    embedding_backward_kernel(a->f, a->a, a->tok, a->N, a->C, a->V);
}
static void axpy_body(void *p)
{
    ew_args *a = p;
    axpy_kernel(a->f, a->g, a->n, -0.5f);
}

static void glu_fwd_body(void *p)
{
    ew_args *a = p;
    glu_forward_kernel(a->a, a->b, a->N, a->C);
}
static void glu_bwd_body(void *p)
{
    ew_args *a = p;
    glu_backward_kernel(a->a, a->c, a->b, a->N, a->C);
}

/* SwiGLU forward and in-place backward against the CPU backend. */
static void glu_case(lilm_backend *be)
{
    size_t N = 9, F = 70, n2 = N * 2 * F, n1 = N * F;
    float *in = fill(n2, -4, 4), *d = fill(n1, -1, 1), *want = malloc(n2 * sizeof(float));
    lilm__bf16 *inb = to_bf(in, n2), *outb = bf_nan(n1), *db = to_bf(d, n1);
    be->ops->glu_forward(be, want, in, N, F, LILM_ACT_SWIGLU);
    ew_args a = {.a = outb, .b = inb, .N = N, .C = F};
    emu_launch(3, 1, 64, 0, glu_fwd_body, &a);
    float *got = from_bf(outb, n1);
    compare("glu_forward swiglu", want, got, n1, 1, 1, 1e-2, 1.6e-2);
    free(got);
    be->ops->glu_backward(be, want, d, in, N, F, LILM_ACT_SWIGLU);
    a = (ew_args){.a = inb, .b = inb, .c = db, .N = N, .C = F};
    emu_launch(2, 1, 96, 0, glu_bwd_body, &a);
    got = from_bf(inb, n2);
    compare("glu_backward swiglu (din == in)", want, got, n2, 1, 1, 1e-2, 1.6e-2);
    free(got), free(in), free(d), free(want), free(inb), free(outb), free(db);
}

static double gelu_ref(double x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }
static double gelu_grad_ref(double x) { return 0.5 * (1.0 + erf(x / sqrt(2.0))) + x * exp(-0.5 * x * x) / sqrt(2.0 * M_PI); }

static void small_kernels_case(lilm_backend *be)
{
    printf("matmul epilogue kernels, elementwise, embedding\n");
    size_t N = 37, OC = 70, n = N * OC;
    float *pre = fill(n, -3, 3), *bias = fill(OC, -1, 1);
    /* bias_act with GELU: pre += bias (bf16), out = gelu(pre) */
    lilm__bf16 *preb = to_bf(pre, n), *out = bf_nan(n);
    ew_args a = {.a = out, .b = preb, .f = bias, .n = n, .C = OC, .act = LILM_ACT_GELU};
    emu_launch(3, 1, 64, 0, bias_act_body, &a);
    float *want = malloc(n * sizeof(float)), *want_pre = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        double x = (double)pre[i] + bias[i % OC];
        want_pre[i] = (float)x;
        want[i] = (float)gelu_ref(x);
    }
    float *got = from_bf(out, n), *got_pre = from_bf(preb, n);
    compare("bias_act gelu: out", want, got, n, 1, 1, 1e-2, 1.6e-2);
    compare("bias_act gelu: pre (+= bias)", want_pre, got_pre, n, 1, 1, 1e-2, 1.6e-2);
    free(got), free(got_pre);
    /* dact (GELU), in place over dout */
    float *dout = fill(n, -1, 1);
    lilm__bf16 *doutb = to_bf(dout, n);
    a = (ew_args){.a = doutb, .b = preb, .n = n, .act = LILM_ACT_GELU};
    emu_launch(2, 1, 96, 0, dact_body, &a);
    for (size_t i = 0; i < n; i++) want[i] = (float)(dout[i] * gelu_grad_ref(lilm__ld(preb + i)));
    got = from_bf(doutb, n);
    compare("dact gelu", want, got, n, 1, 1, 1e-2, 1.6e-2);
    free(got);
    /* the same two kernels with ReLU^2: out = max(pre, 0)^2, dpre = 2 max(pre, 0) dout */
    lilm__bf16 *preb2 = to_bf(pre, n), *out2 = bf_nan(n), *dout2 = to_bf(dout, n);
    a = (ew_args){.a = out2, .b = preb2, .f = bias, .n = n, .C = OC, .act = LILM_ACT_RELU2};
    emu_launch(3, 1, 64, 0, bias_act_body, &a);
    for (size_t i = 0; i < n; i++) {
        double x = lilm__ld(preb2 + i);
        want[i] = (float)(x > 0 ? x * x : 0.0);
    }
    got = from_bf(out2, n);
    compare("bias_act relu2: out", want, got, n, 1, 1, 1e-2, 1.6e-2);
    free(got);
    a = (ew_args){.a = dout2, .b = preb2, .n = n, .act = LILM_ACT_RELU2};
    emu_launch(2, 1, 96, 0, dact_body, &a);
    for (size_t i = 0; i < n; i++) {
        double x = lilm__ld(preb2 + i);
        want[i] = (float)(x > 0 ? 2.0 * x * dout[i] : 0.0);
    }
    got = from_bf(dout2, n);
    compare("dact relu2", want, got, n, 1, 1, 1e-2, 1.6e-2);
    free(got), free(preb2), free(out2), free(dout2);
    /* bias_grad: dbias += column sums, (32, 8) blocks, 2 row slices */
    float *dbias = fill(OC, -1, 1);
    for (size_t c = 0; c < OC; c++) {
        double s = dbias[c];
        for (size_t r = 0; r < N; r++) s += lilm__ld(doutb + r * OC + c);
        want[c] = (float)s;
    }
    a = (ew_args){.a = doutb, .f = dbias, .N = N, .C = OC};
    emu_launch2((unsigned)((OC + 31) / 32), 2, 32, 8, 0, bias_grad_body, &a);
    compare("bias_grad (+=)", want, dbias, OC, 1, 1, 1e-5, 1e-5);
    /* sanitize: NaN/Inf zeroed and counted, sum of squares */
    size_t m = 3001;
    float *g = fill(m, -1, 1), *g0 = malloc(m * sizeof(float));
    g[7] = NAN, g[100] = INFINITY, g[m - 1] = -INFINITY;
    memcpy(g0, g, m * sizeof(float));
    double red[2] = {0, 0}, ss = 0;
    a = (ew_args){.f = g, .n = m, .red = red};
    emu_launch(2, 1, LILM__EW_THREADS, 0, sanitize_body, &a);
    for (size_t i = 0; i < m; i++) ss += isfinite(g0[i]) ? (double)g0[i] * g0[i] : 0.0;
    unsigned long long bad;
    memcpy(&bad, &red[1], sizeof bad);
    int zeroed = g[7] == 0.0f && g[100] == 0.0f && g[m - 1] == 0.0f && g[8] == g0[8];
    printf("  %-44s sumsq %.9g want %.9g, bad %llu want 3 %s\n", "grad_sanitize", red[0], ss, bad,
           fabs(red[0] - ss) <= 1e-9 * ss && bad == 3 && zeroed ? "ok" : "FAIL");
    if (!(fabs(red[0] - ss) <= 1e-9 * ss && bad == 3 && zeroed)) failures++;
    /* axpy */
    float *y = fill(m, -1, 1), *x = fill(m, -1, 1);
    float *ywant = malloc(m * sizeof(float));
    for (size_t i = 0; i < m; i++) ywant[i] = y[i] + -0.5f * x[i];
    a = (ew_args){.f = y, .g = x, .n = m};
    emu_launch(1, 1, 128, 0, axpy_body, &a);
    compare("axpy", ywant, y, m, 1, 1, 0, 1e-6);
    /* embedding backward against the CPU backend (repeated tokens) */
    size_t V = 50, C = 40, NT = 64;
    int32_t tok[64];
    for (size_t i = 0; i < NT; i++) tok[i] = (int32_t)((i * 7) % 13);
    float *de = fill(NT * C, -1, 1), *dw_c = fill(V * C, -1, 1), *dw_g = malloc(V * C * sizeof(float));
    memcpy(dw_g, dw_c, V * C * sizeof(float));
    be->ops->embedding_backward(be, dw_c, de, tok, NT, C, V);
    lilm__bf16 *deb = to_bf(de, NT * C);
    a = (ew_args){.a = deb, .f = dw_g, .tok = tok, .N = NT, .C = C, .V = V};
    emu_launch(4, 1, 64, 0, emb_bwd_body, &a);
    compare("embedding backward (+=)", dw_c, dw_g, V * C, 1, 1, 1e-6, 1e-5);
    free(pre), free(bias), free(preb), free(out), free(want), free(want_pre), free(dout), free(doutb), free(dbias);
    free(g), free(g0), free(y), free(x), free(ywant), free(de), free(dw_c), free(dw_g), free(deb);
}

int main(void)
{
    lilm_backend *be = NULL;
    if (lilm_cpu_backend_create(&be, 0) != LILM_OK) {
        fprintf(stderr, "cpu backend: %s\n", lilm_last_error());
        return 1;
    }
    lilm_backend_plan plan = {.max_rows = 4096, .max_batch = 8, .max_seq = 512, .d_model = 512, .vocab = 4096,
                              .n_heads = 6, .qk_dim = 128, .v_dim = 128, .max_width = 2048};
    size_t bytes;
    if (be->ops->reserve(be, &plan, &bytes) != LILM_OK) return 1;
    attention_case(be, 1, 70, 0, 2, 32, 32, 0);
    attention_case(be, 1, 33, 0, 1, 128, 64, 0);
    attention_case(be, 1, 40, 0, 1, 16, 128, 0);
    attention_case(be, 2, 5, 0, 1, 8, 8, 0);
    attention_case(be, 1, 7, 50, 2, 32, 32, 0);
    attention_case(be, 1, 1, 45, 1, 96, 96, 0);
    attention_case(be, 1, 150, 0, 2, 32, 32, 1); /* three row tiles, the last partial */
    attention_case(be, 2, 20, 0, 1, 8, 12, 1);
    attention_case(be, 1, 7, 70, 2, 32, 32, 1);  /* KV cache across a tile boundary */
    attention_case(be, 1, 1, 45, 1, 32, 16, 1);
    /* tensor-core kernels: every padded head dim, T past a 64-row tile, B*H > 1,
     * the KV-cache form across a tile boundary, strided q, Dq != Dv */
    attention_case_ex(be, 1, 70, 0, 2, 32, 32, ATT_MMA_KERNELS, 0);
    attention_case_ex(be, 2, 40, 0, 1, 64, 64, ATT_MMA_KERNELS, 8);
    attention_case_ex(be, 1, 70, 0, 1, 96, 96, ATT_MMA_KERNELS, 0);
    attention_case_ex(be, 1, 130, 0, 1, 64, 64, ATT_MMA_KERNELS, 0); /* three tiles each way */
    attention_case_ex(be, 1, 33, 0, 1, 128, 128, ATT_MMA_KERNELS, 0);
    attention_case_ex(be, 1, 20, 0, 1, 128, 64, ATT_MMA_KERNELS, 0);
    attention_case_ex(be, 1, 24, 0, 2, 16, 24, ATT_MMA_KERNELS, 16);
    attention_case_ex(be, 1, 7, 70, 2, 32, 32, ATT_MMA_KERNELS, 0);
    attention_case_ex(be, 1, 1, 45, 1, 96, 96, ATT_MMA_KERNELS, 0);
    attention_case_ex(be, 2, 3, 62, 1, 64, 32, ATT_MMA_KERNELS, 8);
    attention_case_ex(be, 1, 65, 63, 1, 64, 64, ATT_MMA_KERNELS, 0);  /* cache and queries both cross tiles */
    attention_case_ex(be, 2, 17, 0, 3, 48, 56, ATT_MMA_KERNELS, 24); /* padded dims, B*H = 6 */
    norm_case(be, 50, 77, 0, 3);
    norm_case(be, 50, 77, 1, 3);
    norm_case(be, 19, 192, 1, 1);
    xent_case(be, 12, 32, 700);
    rope_case(be, 2, 9, 3, 32, 3 * (32 + 48), 0);
    rope_case(be, 1, 4, 2, 96, 2 * 96, 300);
    adamw_case(be);
    small_kernels_case(be);
    glu_case(be);
    be->ops->destroy(be);
    printf("emu_kernels: %d failure(s)\n", failures);
    return failures != 0;
}
