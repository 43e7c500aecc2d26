/*
 * ops_cpu.c: per-op timings of the CPU backend at the two reference shapes.
 *
 * Not a test: it prints, for each op a transformer training step calls, the
 * median wall and process-CPU time of REPS calls (after one warm-up call),
 * how many times one micro-batch calls it (AdamW and grad_sanitize run once
 * per 64 sequences, the reference's accumulated batch, so B/64 times), and
 * its share, then the estimated time per micro-batch and tokens/s (sum of op
 * medians x calls; the model adds little beyond the ops). The CPU-time
 * column, divided by the thread count, is the better estimate on a busy
 * machine (run with OMP_WAIT_POLICY=passive so waiting threads do not spin).
 * GFLOP/s columns: by wall time, and by CPU time / threads (the better figure
 * on a busy machine), each against the hardware's fp32 peak (cores x clock
 * x FMA units x lanes x 2, lilm_cpu_peak_get, printed in the header).
 * Shapes (batch B x T tokens per micro-batch):
 *   simplestories: d=288, 3 heads, qk=v=96, ffn 1152, vocab 8000, 5 layers
 *   babylm:        d=192, 6 heads, qk=v=32, ffn 768, vocab 12000, 20 layers
 * Build and run with bench/ops_cpu.sh (after `make`), or by hand:
 *   cc -O2 -march=native -std=c11 -D_GNU_SOURCE -fopenmp -Isrc bench/ops_cpu.c \
 *      build/liblilm.a -lopenblas -lm -o build/bench_ops_cpu
 *   build/bench_ops_cpu [simplestories|babylm] [B] [T] [threads]
 */
#include "core/status.h"
#include "cpu/cpu.h"
#include "ops/backend.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPS 7

typedef struct shape {
    const char *name;
    size_t C, H, Dq, Dv, F, V, L;
} shape;

static const shape shapes[] = {
    {"simplestories", 288, 3, 96, 96, 1152, 8000, 5},
    {"babylm", 192, 6, 32, 32, 768, 12000, 20},
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU seconds of all threads of this process (with OMP_WAIT_POLICY=passive
 * it counts work, not spinning, so it survives a busy machine). */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static float *buf(lilm_backend *be, size_t n, unsigned seed)
{
    void *p = NULL;
    if (be->ops->alloc(be, &p, n * sizeof(float)) != LILM_OK) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    float *f = p;
    unsigned s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        f[i] = ((float)(s >> 8) / 16777216.0f - 0.5f) * 0.2f;
    }
    return f;
}

/* One row of the table: the op's median over REPS runs of `body`. */
typedef struct row {
    const char *op;
    double ms;
    double cpu_ms;
    double per_step;    /* calls per micro-batch (optimizer ops: B/64) */
    double gflop;
} row;

#define TIME_OP(rows, n, name, calls, flop, body)                         \
    do {                                                                  \
        double ts_[REPS], cs_[REPS];                                      \
        body;                                                             \
        for (int r_ = 0; r_ < REPS; r_++) {                               \
            double t0_ = now_s(), c0_ = cpu_s();                          \
            body;                                                         \
            ts_[r_] = now_s() - t0_;                                      \
            cs_[r_] = cpu_s() - c0_;                                      \
        }                                                                 \
        qsort(ts_, REPS, sizeof(double), cmp_double);                     \
        qsort(cs_, REPS, sizeof(double), cmp_double);                     \
        rows[n++] = (row){name, ts_[REPS / 2] * 1e3, cs_[REPS / 2] * 1e3, calls, (flop) * 1e-9}; \
    } while (0)

int main(int argc, char **argv)
{
    const shape *sh = &shapes[0];
    if (argc > 1 && strcmp(argv[1], "babylm") == 0)
        sh = &shapes[1];
    size_t B = argc > 2 ? strtoul(argv[2], NULL, 10) : 8;
    size_t T = argc > 3 ? strtoul(argv[3], NULL, 10) : 512;
    int threads = argc > 4 ? (int)strtol(argv[4], NULL, 10) : 0;
    size_t N = B * T, C = sh->C, H = sh->H, Dq = sh->Dq, Dv = sh->Dv, F = sh->F, V = sh->V, L = sh->L;
    size_t KV = H * (Dq + Dv), QW = H * Dq, AW = H * Dv;

    lilm_backend *be = NULL;
    if (lilm_cpu_backend_create(&be, threads) != LILM_OK) {
        fprintf(stderr, "%s\n", lilm_last_error());
        return 1;
    }
    lilm_backend_plan plan = {N, B, T, C, V, H, Dq, Dv, F > KV ? F : KV};
    size_t scratch = 0;
    if (be->ops->reserve(be, &plan, &scratch) != LILM_OK) {
        fprintf(stderr, "%s\n", lilm_last_error());
        return 1;
    }
    float *x = buf(be, N * C, 1), *y = buf(be, N * C, 2), *dx = buf(be, N * C, 3);
    float *q = buf(be, N * QW, 4), *kv = buf(be, N * KV, 5), *att = buf(be, N * AW, 6);
    float *dq = buf(be, N * QW, 7), *dkv = buf(be, N * KV, 8), *datt = buf(be, N * AW, 9);
    float *h1 = buf(be, N * F, 10), *p1 = buf(be, N * F, 11), *dh1 = buf(be, N * F, 12);
    float *wq = buf(be, QW * C, 13), *wkv = buf(be, KV * C, 14), *wo = buf(be, C * AW, 15);
    float *w1 = buf(be, F * C, 16), *w2 = buf(be, C * F, 17), *wte = buf(be, V * C, 18);
    float *bq = buf(be, F > KV ? F : KV, 19), *dwq = buf(be, F * C > KV * C ? F * C : KV * C, 20);
    float *dbq = buf(be, F > KV ? F : KV, 21), *dwte = buf(be, V * C, 22);
    float *nw = buf(be, C, 23), *dnw = buf(be, C, 24), *rstd = buf(be, N, 25), *lse = buf(be, B * H * T, 26);
    float *losses = buf(be, N, 27);
    int32_t *tok = NULL;
    be->ops->alloc(be, (void **)&tok, N * sizeof(int32_t));
    for (size_t i = 0; i < N; i++)
        tok[i] = (int32_t)((i * 7919) % V);
    for (size_t i = 0; i < C; i++)
        nw[i] = 1.0f;
    size_t n_params = V * C + L * (2 * C + QW * C + QW + KV * C + KV + C * AW + C + F * C + F + C * F + C) + C;
    float *params = buf(be, n_params, 30), *grads = buf(be, n_params, 31);
    float *m = buf(be, n_params, 32), *v = buf(be, n_params, 33);

    row rows[32];
    int n = 0;
    double mm = 2.0 * (double)N;
    TIME_OP(rows, n, "embedding_forward", 1, 0, be->ops->embedding_forward(be, x, tok, wte, N, C));
    TIME_OP(rows, n, "embedding_backward", 1, 0, be->ops->embedding_backward(be, dwte, dx, tok, N, C, V));
    TIME_OP(rows, n, "norm_forward (rms)", (int)(2 * L + 1), 0, be->ops->norm_forward(be, y, NULL, rstd, x, nw, NULL, N, C, 1e-5f));
    TIME_OP(rows, n, "norm_backward (rms)", (int)(2 * L + 1), 0, be->ops->norm_backward(be, dx, dnw, NULL, y, x, nw, NULL, rstd, N, C));
    TIME_OP(rows, n, "matmul_fwd q", (int)L, mm * C * QW, be->ops->matmul_forward(be, q, NULL, y, wq, bq, N, C, QW, LILM_ACT_NONE));
    TIME_OP(rows, n, "matmul_fwd kv", (int)L, mm * C * KV, be->ops->matmul_forward(be, kv, NULL, y, wkv, bq, N, C, KV, LILM_ACT_NONE));
    TIME_OP(rows, n, "rope_forward q", (int)(2 * L), 0, be->ops->rope_forward(be, q, B, T, H, Dq, QW, 0, 10000.0f));
    TIME_OP(rows, n, "attention_forward", (int)L, 2.0 * B * H * (T * (T + 1) / 2.0) * (Dq + Dv),
            be->ops->attention_forward(be, att, lse, q, kv, kv + QW, B, T, T, 0, H, Dq, Dv, QW, KV));
    TIME_OP(rows, n, "matmul_fwd reproject", (int)L, mm * AW * C, be->ops->matmul_forward(be, x, NULL, att, wo, bq, N, AW, C, LILM_ACT_NONE));
    TIME_OP(rows, n, "add (residual)", (int)(2 * L), 0, be->ops->add(be, y, y, x, N * C));
    TIME_OP(rows, n, "matmul_fwd W1+GELU", (int)L, mm * C * F, be->ops->matmul_forward(be, h1, p1, y, w1, bq, N, C, F, LILM_ACT_GELU));
    TIME_OP(rows, n, "matmul_fwd W2", (int)L, mm * F * C, be->ops->matmul_forward(be, x, NULL, h1, w2, bq, N, F, C, LILM_ACT_NONE));
    TIME_OP(rows, n, "classifier_xent fwd+bwd", 1, 3.0 * mm * C * V,
            be->ops->classifier_xent(be, losses, dx, dwte, y, wte, tok, N, C, V, -1, 1.0f / (float)N));
    TIME_OP(rows, n, "matmul_bwd W2", (int)L, 2.0 * mm * F * C,
            be->ops->matmul_backward(be, dh1, dwq, dbq, x, NULL, h1, w2, N, F, C, LILM_ACT_NONE, 0));
    TIME_OP(rows, n, "matmul_bwd W1+GELU", (int)L, 2.0 * mm * C * F,
            be->ops->matmul_backward(be, dx, dwq, dbq, dh1, p1, y, w1, N, C, F, LILM_ACT_GELU, 0));
    TIME_OP(rows, n, "matmul_bwd reproject", (int)L, 2.0 * mm * AW * C,
            be->ops->matmul_backward(be, datt, dwq, dbq, y, NULL, att, wo, N, AW, C, LILM_ACT_NONE, 0));
    TIME_OP(rows, n, "attention_backward", (int)L, 4.0 * B * H * (T * (T + 1) / 2.0) * (Dq + Dv),
            be->ops->attention_backward(be, dq, dkv, dkv + QW, datt, q, kv, kv + QW, att, lse, B, T, H, Dq, Dv, QW, KV));
    TIME_OP(rows, n, "rope_backward q", (int)(2 * L), 0, be->ops->rope_backward(be, dq, B, T, H, Dq, QW, 0, 10000.0f));
    TIME_OP(rows, n, "matmul_bwd kv", (int)L, 2.0 * mm * C * KV,
            be->ops->matmul_backward(be, dx, dwq, dbq, dkv, NULL, y, wkv, N, C, KV, LILM_ACT_NONE, 0));
    TIME_OP(rows, n, "matmul_bwd q (accumulate)", (int)L, 2.0 * mm * C * QW,
            be->ops->matmul_backward(be, dx, dwq, dbq, dq, NULL, y, wq, N, C, QW, LILM_ACT_NONE, 1));
    TIME_OP(rows, n, "accumulate (residual grad)", (int)(2 * L), 0, be->ops->accumulate(be, dx, y, N * C));
    double sumsq;
    int64_t bad;
    double opt_share = (double)B / 64.0; /* one optimizer step per 64 sequences */
    TIME_OP(rows, n, "grad_sanitize (all params)", opt_share, 0, be->ops->grad_sanitize(be, grads, n_params, &sumsq, &bad));
    lilm_adamw_tensor ten = {params, grads, m, v, n_params, 0.02f};
    lilm_adamw_hparams hp = {6e-3f, 0.9f, 0.95f, 1e-8f, 1};
    TIME_OP(rows, n, "adamw (all params)", opt_share, 0, be->ops->adamw(be, &ten, 1, &hp));
    if (be->ops->sync(be) != LILM_OK) {
        fprintf(stderr, "backend error: %s\n", lilm_last_error());
        return 1;
    }

    double total = 0.0, total_cpu = 0.0;
    for (int i = 0; i < n; i++) {
        total += rows[i].ms * rows[i].per_step;
        total_cpu += rows[i].cpu_ms * rows[i].per_step;
    }
    lilm_cpu_peak pk;
    lilm_cpu_peak_get(be->threads, &pk);
    printf("# %s: B=%zu T=%zu (N=%zu), d=%zu H=%zu Dq=%zu Dv=%zu ffn=%zu V=%zu L=%zu, %d threads, %zu params,"
           " OpenBLAS core %s\n", sh->name, B, T, N, C, H, Dq, Dv, F, V, L, be->threads, n_params,
           openblas_get_corename());
    printf("# %s: peak %.0f GFLOP/s = %d cores x %.2f GHz (%s) x %d FMA units x %d fp32 lanes (%s) x 2\n",
           pk.model, pk.gflops, pk.cores, pk.ghz, pk.clock_source, pk.fma_units, pk.lanes, pk.isa);
    printf("| op | ms/call | cpu ms/call | calls/micro-batch | ms/micro-batch | share | GFLOP/s | of peak |"
           " GFLOP/s (cpu) | of peak (cpu) |\n"
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < n; i++) {
        double per = rows[i].ms * rows[i].per_step;
        char gf[64] = "", gc[64] = "";
        if (rows[i].gflop > 0) {
            double g = rows[i].gflop / (rows[i].ms * 1e-3);
            double c = rows[i].gflop / (rows[i].cpu_ms * 1e-3 / be->threads);
            snprintf(gf, sizeof gf, "%.0f | %.0f%%", g, 100.0 * g / pk.gflops);
            snprintf(gc, sizeof gc, "%.0f | %.0f%%", c, 100.0 * c / pk.gflops);
        } else {
            snprintf(gf, sizeof gf, " | ");
            snprintf(gc, sizeof gc, " | ");
        }
        printf("| %s | %.3f | %.3f | %.3g | %.2f | %.1f%% | %s | %s |\n", rows[i].op, rows[i].ms, rows[i].cpu_ms,
               rows[i].per_step, per, 100.0 * per / total, gf, gc);
    }
    printf("\nestimated time per micro-batch (fwd+bwd, optimizer amortised over 64 sequences): %.1f ms"
           " = %.0f tokens/s"
           " (cpu time / threads: %.1f ms)\n", total, (double)N / (total * 1e-3), total_cpu / be->threads);
    be->ops->destroy(be); /* not lilm_backend_free: it would link the CUDA constructor */
    return 0;
}
