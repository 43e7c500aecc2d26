/*
 * bench_safetensors.c: write and read speed of a BabyLM-sized checkpoint.
 *
 * Builds the reference BabyLM baseline's state dict (20 layers, d=192, vocab
 * 12000: 11,193,792 F32 parameters, 44.8 MB, 242 tensors with the reference's
 * names), then times, N times each: lilm_st_writer_write (atomic, with fsync)
 * and lilm_st_open + checking every tensor by name + summing every float
 * (so the pages are really read). Prints the median of each in ms and MB/s.
 * Build and run from the repository root (after `make`):
 *   cc -O2 -std=c11 -D_GNU_SOURCE -Isrc bench/bench_safetensors.c build/liblilm.a -lm -o build/bench_safetensors
 *   build/bench_safetensors /tmp/bench.safetensors 7
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/safetensors.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#define MAXT 400
typedef struct bench_tensor {
    char name[96];
    int ndim;
    int64_t shape[2];
} bench_tensor;

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "/tmp/bench.safetensors";
    int reps = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 7;
    if (reps < 1 || reps > 100) reps = 7;
    const int64_t L = 20, C = 192, V = 12000, H = 6, QK = 32, VD = 32, F = 768;
    bench_tensor *ts = calloc(MAXT, sizeof *ts);
    int n = 0;
#define ADD(nm, nd, a, b) do { snprintf(ts[n].name, sizeof ts[n].name, "%s", nm); ts[n].ndim = nd; \
        ts[n].shape[0] = a; ts[n].shape[1] = b; n++; } while (0)
    char nm[96];
    ADD("embedding.weight", 2, V, C);
    for (int64_t i = 0; i < L; i++) {
        const char *parts[] = {"attention_norm.weight", "feedforward_norm.weight"};
        for (int p = 0; p < 2; p++) { snprintf(nm, sizeof nm, "transformer_stack.%lld.%s", (long long)i, parts[p]); ADD(nm, 1, C, 0); }
        snprintf(nm, sizeof nm, "transformer_stack.%lld.attention.q.weight", (long long)i); ADD(nm, 2, H * QK, C);
        snprintf(nm, sizeof nm, "transformer_stack.%lld.attention.q.bias", (long long)i); ADD(nm, 1, H * QK, 0);
        snprintf(nm, sizeof nm, "transformer_stack.%lld.attention.kv.weight", (long long)i); ADD(nm, 2, H * (QK + VD), C);
        snprintf(nm, sizeof nm, "transformer_stack.%lld.attention.kv.bias", (long long)i); ADD(nm, 1, H * (QK + VD), 0);
        snprintf(nm, sizeof nm, "transformer_stack.%lld.attention.reproject.weight", (long long)i); ADD(nm, 2, C, H * VD);
        snprintf(nm, sizeof nm, "transformer_stack.%lld.attention.reproject.bias", (long long)i); ADD(nm, 1, C, 0);
        snprintf(nm, sizeof nm, "transformer_stack.%lld.ffn.0.weight", (long long)i); ADD(nm, 2, F, C);
        snprintf(nm, sizeof nm, "transformer_stack.%lld.ffn.0.bias", (long long)i); ADD(nm, 1, F, 0);
        snprintf(nm, sizeof nm, "transformer_stack.%lld.ffn.3.weight", (long long)i); ADD(nm, 2, C, F);
        snprintf(nm, sizeof nm, "transformer_stack.%lld.ffn.3.bias", (long long)i); ADD(nm, 1, C, 0);
    }
    ADD("final_norm.weight", 1, C, 0);
    size_t total = 0;
    for (int i = 0; i < n; i++) total += (size_t)(ts[i].shape[0] * (ts[i].ndim == 2 ? ts[i].shape[1] : 1));
    float *params = malloc(total * sizeof *params); /* (P,) all parameters, one block */
    for (size_t i = 0; i < total; i++) params[i] = (float)(i % 1000) * 1e-3f;
    double wt[100], rt[100];
    for (int r = 0; r < reps; r++) {
        double t0 = now_ms();
        lilm_st_writer *w;
        if (lilm_st_writer_init(&w) != LILM_OK) return 1;
        size_t off = 0;
        for (int i = 0; i < n; i++) {
            lilm_st_writer_add(w, ts[i].name, LILM_ST_F32, ts[i].ndim, ts[i].shape, params + off);
            off += (size_t)(ts[i].shape[0] * (ts[i].ndim == 2 ? ts[i].shape[1] : 1));
        }
        lilm_st_writer_add_metadata(w, "step", "1200");
        if (lilm_st_writer_write(w, path) != LILM_OK) { fprintf(stderr, "%s\n", lilm_last_error()); return 1; }
        lilm_st_writer_free(w);
        wt[r] = now_ms() - t0;

        t0 = now_ms();
        lilm_st_file *f;
        if (lilm_st_open(&f, path) != LILM_OK) { fprintf(stderr, "%s\n", lilm_last_error()); return 1; }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            const lilm_st_tensor *t;
            if (lilm_st_expect(f, ts[i].name, LILM_ST_F32, ts[i].ndim, ts[i].shape, &t) != LILM_OK) return 1;
            const float *p = t->data;
            for (int64_t k = 0; k < t->numel; k++) sum += p[k];
        }
        lilm_st_close(f);
        rt[r] = now_ms() - t0;
        if (sum < 0) return 1;
    }
    qsort(wt, (size_t)reps, sizeof wt[0], cmp_double);
    qsort(rt, (size_t)reps, sizeof rt[0], cmp_double);
    double mb = (double)total * 4 / 1e6;
    printf("tensors %d, params %zu, %.1f MB\n", n, total, mb);
    printf("write (atomic, fsync): median %.1f ms (%.0f MB/s)\n", wt[reps / 2], mb / (wt[reps / 2] / 1e3));
    printf("open+validate+read all: median %.1f ms (%.0f MB/s)\n", rt[reps / 2], mb / (rt[reps / 2] / 1e3));
    free(params);
    free(ts);
    return 0;
}
