/*
 * bench.h: throughput of a whole training step, measured the same way on
 * every backend.
 *
 * A step is what the trainer does per optimizer update with one micro-batch
 * of B x T: forward with the fused classifier, backward, NaN-zeroing and
 * global-norm clipping, AdamW, weight-copy refresh. The first `warmup` steps
 * are not timed; the result is the median of the timed steps. Tokens/s counts
 * predicted tokens (B*T per step). MFU divides the model's FLOPs (6 x params
 * x tokens + attention) by the hardware's peak: on CPU cores x clock x FMA
 * units x fp32 lanes x 2 (lilm_cpu_peak_get in cpu/cpu.h). The matmul rate
 * measured on the same backend in the same process is reported beside it
 * (mfu_gemm); on backends without a hardware figure (CUDA) mfu is that one.
 */
#ifndef LILM_TRAIN_BENCH_H
#define LILM_TRAIN_BENCH_H

#include <stddef.h>

#include "core/config.h"
#include "ops/backend.h"

typedef struct lilm_bench_result {
    size_t B, T;
    int steps;
    int64_t params;
    double ms_median, ms_min, ms_max;
    double tokens_per_s;      /* B*T / median step time */
    double cpu_ms_median;     /* process CPU time per step, median (all threads) */
    double step_gflop;        /* model FLOPs per step / 1e9 */
    double peak_gflops;       /* measured matmul peak of the backend */
    double hw_peak_gflops;    /* the hardware's theoretical peak, 0 when unknown */
    double mfu;               /* achieved / hw_peak (achieved / peak_gflops when unknown) */
    double mfu_gemm;          /* achieved / peak_gflops */
    double final_loss;        /* sanity: the loss after the timed steps */
    size_t model_bytes;       /* memory plan total */
} lilm_bench_result;

lilm_status lilm_bench_train_step(const lilm_config *cfg, lilm_backend *be, size_t B, size_t T,
                                  int warmup, int steps, lilm_bench_result *r);


#endif
