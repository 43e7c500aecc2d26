/*
 * bench.c: timing whole training steps and the backend's matmul peak.
 */
#include "train/bench.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/progress.h"
#include "core/rng.h"
#include "cpu/cpu.h"
#include "model/model.h"
#include "train/optimizer.h"

/* CPU seconds of all threads of this process. */
static double process_cpu_s(void)
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

static lilm_status lilm_bench_matmul_peak(lilm_backend *be, size_t n, double *gflops)
{
    void *a = NULL, *w = NULL, *out = NULL;
    size_t bytes = n * n * lilm_dtype_size(be->act_dtype);
    lilm_status st = be->ops->alloc(be, &a, bytes);
    if (st == LILM_OK) st = be->ops->alloc(be, &w, bytes);
    if (st == LILM_OK) st = be->ops->alloc(be, &out, bytes);
    double best = 0;
    for (int rep = 0; st == LILM_OK && rep < 5; rep++) {
        be->ops->sync(be);
        double t0 = lilm_progress_clock();
        int iters = 4;
        for (int i = 0; i < iters; i++) be->ops->matmul_forward(be, out, NULL, a, w, NULL, n, n, n, LILM_ACT_NONE);
        st = be->ops->sync(be);
        double dt = lilm_progress_clock() - t0;
        double g = 2.0 * (double)n * (double)n * (double)n * iters / dt / 1e9;
        if (g > best) best = g;
    }
    if (a) be->ops->free(be, a);
    if (w) be->ops->free(be, w);
    if (out) be->ops->free(be, out);
    *gflops = best;
    return st;
}

lilm_status lilm_bench_train_step(const lilm_config *cfg, lilm_backend *be, size_t B, size_t T,
                                  int warmup, int steps, lilm_bench_result *r)
{
    memset(r, 0, sizeof *r);
    r->B = B;
    r->T = T;
    r->steps = steps;
    if (steps < 1) return lilm_errorf(LILM_ERR_ARG, "bench needs at least one timed step");
    lilm_model m;
    LILM_TRY(lilm_model_init(&m, &cfg->model, be, B, T, cfg->train.seed));
    lilm_optimizer opt;
    lilm_status st = lilm_optimizer_init(&opt, &m, &cfg->train);
    if (st != LILM_OK) {
        lilm_model_free(&m);
        return st;
    }
    r->params = (int64_t)m.n_elems;
    r->model_bytes = lilm_model_bytes(&m) + lilm_optimizer_state_bytes(&opt);
    size_t N = B * T;
    int32_t *in = malloc((N + 1) * sizeof *in);
    double *times = malloc((size_t)steps * sizeof *times);
    double *cpu = malloc((size_t)steps * sizeof *cpu);
    if (!in || !times || !cpu) st = lilm_errorf(LILM_ERR_OOM, "out of memory");
    lilm_rng rng;
    lilm_rng_seed(&rng, 1234);
    /* a random token stream with some repetition so the loss can fall */
    for (size_t i = 0; in && i <= N; i++)
        in[i] = (int32_t)(4 + lilm_rng_below(&rng, (uint64_t)(cfg->model.vocab_size - 4)));
    for (int s = 0; st == LILM_OK && s < warmup + steps; s++) {
        double t0 = lilm_progress_clock(), c0 = process_cpu_s(), loss = 0;
        lilm_model_zero_grad(&m);
        st = lilm_model_forward(&m, in, in + 1, B, T, (float)(1.0 / (double)N), &loss, NULL);
        if (st == LILM_OK) st = lilm_model_backward(&m);
        if (st == LILM_OK) st = lilm_optimizer_step(&opt, &m, cfg->train.lr * 0.1, NULL);
        if (st == LILM_OK) st = be->ops->sync(be);
        double dt = lilm_progress_clock() - t0;
        if (s >= warmup) {
            times[s - warmup] = dt;
            cpu[s - warmup] = process_cpu_s() - c0;
        }
        r->final_loss = loss / (double)N;
    }
    if (st == LILM_OK) {
        qsort(times, (size_t)steps, sizeof *times, cmp_double);
        r->ms_median = 1e3 * times[(steps - 1) / 2];
        if (steps % 2 == 0) r->ms_median = 1e3 * 0.5 * (times[steps / 2 - 1] + times[steps / 2]);
        qsort(cpu, (size_t)steps, sizeof *cpu, cmp_double);
        r->cpu_ms_median = 1e3 * cpu[(steps - 1) / 2];
        r->ms_min = 1e3 * times[0];
        r->ms_max = 1e3 * times[steps - 1];
        r->tokens_per_s = (double)N / (r->ms_median / 1e3);
        r->step_gflop = lilm_model_train_flops(&cfg->model, B, T) / 1e9;
    }
    free(in);
    free(times);
    free(cpu);
    lilm_optimizer_free(&opt);
    lilm_model_free(&m);
    if (st == LILM_OK) {
        size_t n = be->peak_gemm_n ? be->peak_gemm_n : 1024;
        st = lilm_bench_matmul_peak(be, n, &r->peak_gflops);
        double achieved = r->step_gflop / (r->ms_median / 1e3);
        if (be->device == LILM_DEVICE_CPU) {
            lilm_cpu_peak pk;
            lilm_cpu_peak_get(be->threads, &pk);
            r->hw_peak_gflops = pk.gflops;
        }
        if (st == LILM_OK && r->peak_gflops > 0)
            r->mfu_gemm = achieved / r->peak_gflops;
        r->mfu = r->hw_peak_gflops > 0 ? achieved / r->hw_peak_gflops : r->mfu_gemm;
    }
    return st;
}
