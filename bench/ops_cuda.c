/*
 * ops_cuda.c: per-op timings of the CUDA backend at the reference shapes.
 *
 * Not a test: for each op a transformer training step calls, it prints the
 * median over REPS timed batches (each ITERS calls, after warm-up, bounded by
 * be->ops->sync()), how many times one micro-batch step calls it, and its share
 * of the summed step, then the estimated micro-batch step time and tokens/s
 * (sum of op medians x calls; launch gaps and the trainer's own work are not
 * counted), and the achieved TFLOP/s of the GEMM and attention ops.
 * Shapes (B x T tokens per micro-batch):
 *   simplestories: d=288, 3 heads, qk=v=96, ffn 1152, vocab 8000, 5 layers
 *   babylm:        d=192, 6 heads, qk=v=32, ffn 768, vocab 12000, 20 layers
 * Build and run with bench/ops_cuda.sh (after `make`), or
 *   build/bench_ops_cuda [simplestories|babylm] [B] [T] [ONLY]
 * where ONLY (e.g. "attention") times just the ops whose name contains it and
 * prints no step estimate. LILM_CUDA_ATTN picks the attention kernels
 * (docs/cuda.md); the header line says which.
 */
#include "../tests/cuda/cuda_env.h" /* LILM_CUDA_ATTN, LILM_CUDA_EPILOGUE -> the backend options */
#include "core/status.h"
#include "ops/backend.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPS 7
#define ITERS 10

typedef struct shape {
    const char *name;
    size_t C, H, Dq, Dv, F, V, L;
} shape;

static const shape shapes[] = {
    {"simplestories", 288, 3, 96, 96, 1152, 8000, 5},
    {"babylm", 192, 6, 32, 32, 768, 12000, 20},
};

typedef struct bench {
    lilm_backend *be;
    const shape *s;
    size_t B, T, N;
    /* buffers: activations in act dtype, params fp32 */
    void *wcopy, *x, *x2, *xn, *q, *kv, *att, *h, *hpre, *w_qkv, *w_ffn1, *w_ffn2, *w_proj, *wte, *dbuf, *dbuf2;
    float *normw, *bias, *mean, *rstd, *lse, *losses, *dw, *dwte, *dbias, *params, *grads, *m, *v;
    int32_t *tok, *tgt;
    size_t n_params;
} bench;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void die(const char *what)
{
    fprintf(stderr, "bench_ops_cuda: %s: %s\n", what, lilm_last_error());
    exit(1);
}

/* n elements of fp32 (act == 0) or act dtype (act == 1), filled with uniform
 * values in [-a, a] (uploaded as fp32, cast on the device). */
static void *dev_buf(bench *b, size_t n, int act, float a, unsigned seed)
{
    lilm_backend *be = b->be;
    size_t esz = act && be->act_dtype == LILM_DTYPE_BF16 ? 2 : 4;
    void *p = NULL, *stage = NULL;
    if (be->ops->alloc(be, &p, n * esz) != LILM_OK) die("alloc");
    float *host = malloc(n * sizeof(float));
    if (!host) die("host malloc");
    unsigned s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        host[i] = a * (2.0f * (float)(s >> 8) / 16777216.0f - 1.0f);
    }
    if (act && esz == 2) {
        if (be->ops->alloc(be, &stage, n * sizeof(float)) != LILM_OK || be->ops->upload(be, stage, host, n * sizeof(float)))
            die("upload");
        be->ops->cast_to_act(be, p, stage, n);
        if (be->ops->sync(be) != LILM_OK) die("cast");
        be->ops->free(be, stage);
    } else if (be->ops->upload(be, p, host, n * sizeof(float)) != LILM_OK) {
        die("upload");
    }
    free(host);
    return p;
}

typedef enum op_id {
    OP_NORM_F, OP_NORM_B, OP_MM_QKV_F, OP_MM_QKV_B, OP_MM_PROJ_F, OP_MM_PROJ_B, OP_MM_FFN1_F, OP_MM_FFN1_B,
    OP_MM_FFN2_F, OP_MM_FFN2_B, OP_ROPE_F, OP_ROPE_B, OP_ATT_F, OP_ATT_B, OP_ADD, OP_EMB_F, OP_EMB_B,
    OP_XENT, OP_CAST, OP_SANITIZE, OP_ADAMW, OP_COUNT
} op_id;

static const char *const op_names[OP_COUNT] = {
    "norm_forward", "norm_backward", "matmul_fwd q+kv", "matmul_bwd q+kv", "matmul_fwd reproject",
    "matmul_bwd reproject", "matmul_fwd ffn1+gelu", "matmul_bwd ffn1+gelu", "matmul_fwd ffn2", "matmul_bwd ffn2",
    "rope_forward (q,k)", "rope_backward (q,k)", "attention_forward", "attention_backward", "add (residual)",
    "embedding_forward", "embedding_backward", "classifier_xent (+grad)", "cast_to_act (all weights)",
    "grad_sanitize (all grads)", "adamw (all params)",
};

static void run_op(bench *b, op_id op)
{
    lilm_backend *be = b->be;
    const shape *s = b->s;
    size_t N = b->N, C = s->C, H = s->H, Dq = s->Dq, Dv = s->Dv, F = s->F, V = s->V;
    size_t QKV = H * (2 * Dq + Dv);
    double sumsq;
    int64_t bad;
    switch (op) {
    case OP_NORM_F: be->ops->norm_forward(be, b->xn, NULL, b->rstd, b->x, b->normw, NULL, N, C, 1e-5f); break;
    case OP_NORM_B:
        be->ops->norm_backward(be, b->dbuf, b->dw, NULL, b->x2, b->x, b->normw, NULL, b->rstd, N, C);
        break;
    case OP_MM_QKV_F: be->ops->matmul_forward(be, b->q, NULL, b->xn, b->w_qkv, b->bias, N, C, QKV, LILM_ACT_NONE); break;
    case OP_MM_QKV_B:
        be->ops->matmul_backward(be, b->dbuf, b->dw, b->dbias, b->q, NULL, b->xn, b->w_qkv, N, C, QKV, LILM_ACT_NONE, 0);
        break;
    case OP_MM_PROJ_F:
        be->ops->matmul_forward(be, b->x2, NULL, b->att, b->w_proj, b->bias, N, H * Dv, C, LILM_ACT_NONE);
        break;
    case OP_MM_PROJ_B:
        be->ops->matmul_backward(be, b->dbuf2, b->dw, b->dbias, b->x2, NULL, b->att, b->w_proj, N, H * Dv, C,
                            LILM_ACT_NONE, 0);
        break;
    case OP_MM_FFN1_F: be->ops->matmul_forward(be, b->h, b->hpre, b->xn, b->w_ffn1, b->bias, N, C, F, LILM_ACT_GELU); break;
    case OP_MM_FFN1_B:
        be->ops->matmul_backward(be, b->dbuf, b->dw, b->dbias, b->h, b->hpre, b->xn, b->w_ffn1, N, C, F, LILM_ACT_GELU, 1);
        break;
    case OP_MM_FFN2_F: be->ops->matmul_forward(be, b->x2, NULL, b->h, b->w_ffn2, b->bias, N, F, C, LILM_ACT_NONE); break;
    case OP_MM_FFN2_B:
        be->ops->matmul_backward(be, b->hpre, b->dw, b->dbias, b->x2, NULL, b->h, b->w_ffn2, N, F, C, LILM_ACT_NONE, 0);
        break;
    case OP_ROPE_F:
        be->ops->rope_forward(be, b->q, b->B, b->T, H, Dq, QKV, 0, 10000.0f);
        be->ops->rope_forward(be, (char *)b->q + H * Dq * 2, b->B, b->T, H, Dq, QKV, 0, 10000.0f);
        break;
    case OP_ROPE_B:
        be->ops->rope_backward(be, b->q, b->B, b->T, H, Dq, QKV, 0, 10000.0f);
        be->ops->rope_backward(be, (char *)b->q + H * Dq * 2, b->B, b->T, H, Dq, QKV, 0, 10000.0f);
        break;
    case OP_ATT_F: {
        const char *k = (const char *)b->q + H * Dq * 2, *v = k + H * Dq * 2;
        be->ops->attention_forward(be, b->att, b->lse, b->q, k, v, b->B, b->T, b->T, 0, H, Dq, Dv, QKV, QKV);
        break;
    }
    case OP_ATT_B: {
        const char *k = (const char *)b->q + H * Dq * 2, *v = k + H * Dq * 2;
        char *dk = (char *)b->kv + H * Dq * 2, *dv = dk + H * Dq * 2;
        be->ops->attention_backward(be, b->kv, dk, dv, b->dbuf2 /* dout (B,T,H,Dv) */, b->q, k, v, b->att, b->lse, b->B, b->T,
                               H, Dq, Dv, QKV, QKV);
        break;
    }
    case OP_ADD: be->ops->add(be, b->x, b->x, b->x2, N * C); break;
    case OP_EMB_F: be->ops->embedding_forward(be, b->x, b->tok, b->wte, N, C); break;
    case OP_EMB_B: be->ops->embedding_backward(be, b->dwte, b->x2, b->tok, N, C, V); break;
    case OP_XENT:
        be->ops->classifier_xent(be, b->losses, b->dbuf, b->dwte, b->xn, b->wte, b->tgt, N, C, V, -1, 1.0f / (float)N);
        break;
    case OP_CAST: be->ops->cast_to_act(be, b->wcopy, b->params, b->n_params); break;
    case OP_SANITIZE: be->ops->grad_sanitize(be, b->grads, b->n_params, &sumsq, &bad); break;
    case OP_ADAMW: {
        lilm_adamw_tensor t = {b->params, b->grads, b->m, b->v, b->n_params, 0.02f};
        lilm_adamw_hparams hp = {1e-4f, 0.9f, 0.95f, 1e-8f, 1};
        be->ops->adamw(be, &t, 1, &hp);
        break;
    }
    case OP_COUNT: break;
    }
}

int main(int argc, char **argv)
{
    const char *name = argc > 1 ? argv[1] : "babylm";
    bench b;
    memset(&b, 0, sizeof b);
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        if (strcmp(shapes[i].name, name) == 0) b.s = &shapes[i];
    if (!b.s) {
        fprintf(stderr, "usage: bench_ops_cuda [simplestories|babylm] [B] [T] [ONLY]\n");
        return 2;
    }
    b.B = argc > 2 ? strtoul(argv[2], NULL, 10) : 16;
    b.T = argc > 3 ? strtoul(argv[3], NULL, 10) : 512;
    b.N = b.B * b.T;
    const char *only = argc > 4 ? argv[4] : NULL; /* time only the ops whose name contains this */
    lilm_backend_options opts;
    if (!lilm_test_cuda_options(&opts, NULL)) die("LILM_CUDA_ATTN: use auto, warp or mma");
    if (lilm_cuda_backend_create_opts(&b.be, 0, &opts) != LILM_OK) die("cuda backend");
    const shape *s = b.s;
    size_t N = b.N, C = s->C, H = s->H, Dq = s->Dq, Dv = s->Dv, F = s->F, V = s->V;
    size_t QKV = H * (2 * Dq + Dv);
    lilm_backend_plan plan = {N, b.B, b.T, C, V, H, Dq, Dv, F > QKV ? F : QKV};
    size_t scratch = 0;
    if (b.be->ops->reserve(b.be, &plan, &scratch) != LILM_OK) die("reserve");
    /* parameters of the whole model, for the optimizer ops */
    size_t per_layer = C * H * Dq + H * Dq + C * H * (Dq + Dv) + H * (Dq + Dv) + H * Dv * C + C + 2 * C * F + F + C + 2 * C;
    b.n_params = s->L * per_layer + V * C + C;
    size_t wmax = F > QKV ? F : QKV;
    b.x = dev_buf(&b, N * C, 1, 1, 1);
    b.x2 = dev_buf(&b, N * C, 1, 1, 2);
    b.xn = dev_buf(&b, N * C, 1, 1, 3);
    b.q = dev_buf(&b, N * QKV, 1, 1, 4);
    b.kv = dev_buf(&b, N * QKV, 1, 0, 5);
    b.att = dev_buf(&b, N * H * Dv, 1, 1, 6);
    b.h = dev_buf(&b, N * wmax, 1, 1, 7);
    b.hpre = dev_buf(&b, N * wmax, 1, 1, 8);
    b.dbuf = dev_buf(&b, N * wmax, 1, 0, 9);
    b.dbuf2 = dev_buf(&b, N * wmax, 1, 0, 10);
    b.w_qkv = dev_buf(&b, QKV * C, 1, 0.05f, 11);
    b.w_proj = dev_buf(&b, C * H * Dv, 1, 0.05f, 12);
    b.w_ffn1 = dev_buf(&b, F * C, 1, 0.05f, 13);
    b.w_ffn2 = dev_buf(&b, C * F, 1, 0.05f, 14);
    b.wte = dev_buf(&b, V * C, 1, 0.05f, 15);
    b.normw = dev_buf(&b, C, 0, 1, 16);
    b.bias = dev_buf(&b, wmax, 0, 0.1f, 17);
    b.mean = dev_buf(&b, N, 0, 0, 18);
    b.rstd = dev_buf(&b, N, 0, 1, 19);
    b.lse = dev_buf(&b, N * H, 0, 0, 20);
    b.losses = dev_buf(&b, N, 0, 0, 21);
    b.dw = dev_buf(&b, wmax * (C > F ? C : F), 0, 0, 22);
    b.dwte = dev_buf(&b, V * C, 0, 0, 23);
    b.dbias = dev_buf(&b, wmax, 0, 0, 24);
    b.params = dev_buf(&b, b.n_params, 0, 0.05f, 25);
    b.grads = dev_buf(&b, b.n_params, 0, 0.01f, 26);
    b.m = dev_buf(&b, b.n_params, 0, 0, 27);
    b.v = dev_buf(&b, b.n_params, 0, 0, 28);
    b.wcopy = dev_buf(&b, b.n_params, 1, 0, 29);
    int32_t *tok = malloc(N * sizeof(int32_t));
    if (!tok) die("host malloc");
    for (size_t i = 0; i < N; i++) tok[i] = (int32_t)((i * 2654435761u) % V);
    if (b.be->ops->alloc(b.be, (void **)&b.tok, N * 4) || b.be->ops->alloc(b.be, (void **)&b.tgt, N * 4) ||
        b.be->ops->upload(b.be, b.tok, tok, N * 4) || b.be->ops->upload(b.be, b.tgt, tok, N * 4))
        die("tokens");
    free(tok);
    /* the attention forward must have run once for a meaningful lse */
    run_op(&b, OP_ATT_F);
    if (b.be->ops->sync(b.be) != LILM_OK) die("attention warm-up");

    size_t L = s->L;
    double calls[OP_COUNT] = {
        [OP_NORM_F] = 2.0 * L + 1, [OP_NORM_B] = 2.0 * L + 1, [OP_MM_QKV_F] = L, [OP_MM_QKV_B] = L,
        [OP_MM_PROJ_F] = L, [OP_MM_PROJ_B] = L, [OP_MM_FFN1_F] = L, [OP_MM_FFN1_B] = L, [OP_MM_FFN2_F] = L,
        [OP_MM_FFN2_B] = L, [OP_ROPE_F] = L, [OP_ROPE_B] = L, [OP_ATT_F] = L, [OP_ATT_B] = L, [OP_ADD] = 4.0 * L,
        [OP_EMB_F] = 1, [OP_EMB_B] = 1, [OP_XENT] = 1, [OP_CAST] = 1, [OP_SANITIZE] = 1, [OP_ADAMW] = 1,
    };
    double flops[OP_COUNT] = {0};
    flops[OP_MM_QKV_F] = 2.0 * N * C * QKV;
    flops[OP_MM_QKV_B] = 2 * flops[OP_MM_QKV_F];
    flops[OP_MM_PROJ_F] = 2.0 * N * H * Dv * C;
    flops[OP_MM_PROJ_B] = 2 * flops[OP_MM_PROJ_F];
    flops[OP_MM_FFN1_F] = flops[OP_MM_FFN2_F] = 2.0 * N * C * F;
    flops[OP_MM_FFN1_B] = flops[OP_MM_FFN2_B] = 4.0 * N * C * F;
    flops[OP_ATT_F] = 2.0 * b.B * H * (double)b.T * b.T / 2 * (Dq + Dv);          /* causal half */
    flops[OP_ATT_B] = 2.0 * b.B * H * (double)b.T * b.T / 2 * (2 * Dq + 2 * Dv) + flops[OP_ATT_F];
    flops[OP_XENT] = 6.0 * N * C * V;

    const char *attn_env = getenv("LILM_CUDA_ATTN");
    printf("CUDA backend, %s shape: B=%zu T=%zu d=%zu H=%zu Dq=%zu Dv=%zu ffn=%zu V=%zu L=%zu, %zu params; "
           "scratch %.1f MiB; LILM_CUDA_ATTN=%s\n", s->name, b.B, b.T, C, H, Dq, Dv, F, V, L, b.n_params,
           scratch / 1048576.0, attn_env && *attn_env ? attn_env : "(default)");
    printf("%-28s %6s %10s %9s %7s\n", "op", "calls", "ms/call", "TFLOP/s", "share");
    double med[OP_COUNT], total = 0.0;
    for (int op = 0; op < OP_COUNT; op++) {
        double t[REPS];
        med[op] = 0.0;
        if (only && !strstr(op_names[op], only)) continue;
        for (int w = 0; w < 2; w++) run_op(&b, (op_id)op);
        if (b.be->ops->sync(b.be) != LILM_OK) die(op_names[op]);
        for (int r = 0; r < REPS; r++) {
            double t0 = now_s();
            for (int i = 0; i < ITERS; i++) run_op(&b, (op_id)op);
            if (b.be->ops->sync(b.be) != LILM_OK) die(op_names[op]);
            t[r] = (now_s() - t0) / ITERS;
        }
        qsort(t, REPS, sizeof t[0], cmp_double);
        med[op] = t[REPS / 2];
        total += med[op] * calls[op];
    }
    for (int op = 0; op < OP_COUNT; op++) {
        if (only && !strstr(op_names[op], only)) continue;
        double tf = flops[op] > 0 ? flops[op] / med[op] / 1e12 : 0.0;
        printf("%-28s %6.0f %10.4f %9.2f %6.1f%%\n", op_names[op], calls[op], 1e3 * med[op], tf,
               100.0 * med[op] * calls[op] / total);
    }
    if (only) printf("(only the ops matching \"%s\": the share is of their sum)\n", only);
    else printf("estimated micro-batch step: %.2f ms = %.0f tokens/s (peak device memory %.1f MiB)\n", 1e3 * total,
           (double)N / total, b.be->ops->peak_bytes(b.be) / 1048576.0);
    lilm_backend_free(b.be);
    return 0;
}
