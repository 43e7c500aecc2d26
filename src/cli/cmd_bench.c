/*
 * cmd_bench.c: `lilm bench`: training-step throughput of a config.
 *
 * Prints tokens/s, ms per step and MFU for a whole training step (forward,
 * backward, clip, AdamW) after warm-up, median of the timed steps, for each
 * requested batch shape; --json prints one machine-readable line per shape.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cpu/cpu.h"
#include "train/bench.h"

typedef struct bench_args {
    const char *config;
    lilm_opt_list set;
    lilm_opt_list shape;
    int64_t steps, warmup;
    const char *device;
    int64_t threads;
    int json;
} bench_args;

static const lilm_opt opts[] = {
    {"config", 'c', LILM_OPT_STRING | LILM_OPT_REQUIRED, offsetof(bench_args, config), NULL, 0, 0,
     "experiment config (YAML) whose model is timed"},
    {"set", 's', LILM_OPT_LIST, offsetof(bench_args, set), NULL, 0, 0, "override a config key"},
    {"shape", 'b', LILM_OPT_LIST, offsetof(bench_args, shape), NULL, 0, 0,
     "micro-batch as BxT, e.g. 8x512 (default: train.batch_size x model.context)"},
    {"steps", 'n', LILM_OPT_INT, offsetof(bench_args, steps), "10", 1, 100000, "timed steps (the median is reported)"},
    {"warmup", 'w', LILM_OPT_INT, offsetof(bench_args, warmup), "2", 0, 100000, "untimed steps first"},
    {"device", 'd', LILM_OPT_STRING, offsetof(bench_args, device), NULL, 0, 0, "auto | cpu | cuda (default: the config's)"},
    {"threads", 't', LILM_OPT_INT, offsetof(bench_args, threads), "-1", -1, 4096,
     "CPU threads (0: all cores; -1: the config's)"},
    {"json", 'j', LILM_OPT_BOOL, offsetof(bench_args, json), "false", 0, 0, "one JSON line per shape"},
};

static const lilm_opt_spec spec = LILM_OPT_SPEC(
    "bench", "measure training-step throughput (tokens/s, ms/step, MFU)", opts,
    "examples:\n"
    "  lilm bench -c configs/simplestories.yaml -b 8x512 -b 16x256\n"
    "  lilm bench -c configs/babylm.yaml --json\n");

int lilm_cmd_bench(int argc, char **argv)
{
    bench_args a;
    int rc = lilm_opts_parse_cli(&spec, argc, argv, &a);
    if (rc >= 0) return rc;
    lilm_config cfg;
    if ((rc = lilm_cli_load_config("bench", a.config, &a.set, &cfg)) != 0) return rc;
    if (a.device) snprintf(cfg.train.device, sizeof cfg.train.device, "%s", a.device);
    if (a.threads >= 0) cfg.train.threads = a.threads;
    size_t shapes[LILM_OPT_LIST_MAX][2];
    int n_shapes = 0;
    for (int64_t i = 0; i < a.shape.n; i++) {
        unsigned long b = 0, t = 0;
        char extra;
        if (sscanf(a.shape.items[i], "%lux%lu%c", &b, &t, &extra) != 2 || b == 0 || t == 0) {
            fprintf(stderr, "lilm bench: --shape '%s' is not BxT (e.g. 8x512)\n", a.shape.items[i]);
            return 2;
        }
        shapes[n_shapes][0] = b;
        shapes[n_shapes][1] = t;
        n_shapes++;
    }
    if (n_shapes == 0) {
        shapes[0][0] = (size_t)cfg.train.batch_size;
        shapes[0][1] = (size_t)cfg.model.context;
        n_shapes = 1;
    }
    lilm_backend *be = NULL;
    lilm_status st = lilm_backend_create_for(&be, &cfg.train);
    if (st != LILM_OK) return lilm_cli_fail("bench", st);
    lilm_cpu_peak pk = {0};
    if (be->device == LILM_DEVICE_CPU) lilm_cpu_peak_get(be->threads, &pk);
    if (!a.json && be->device == LILM_DEVICE_CPU)
        printf("%s; BLAS kernel %s; peak %.0f GFLOP/s = %d cores x %.2f GHz (%s) x %d FMA x %d lanes (%s) x 2\n",
               pk.model, lilm_cpu_blas_core(), pk.gflops, pk.cores, pk.ghz, pk.clock_source, pk.fma_units, pk.lanes,
               pk.isa);
    if (!a.json)
        printf("%-10s %12s %10s %10s %8s %10s %10s %12s\n", "shape", "tokens/s", "ms/step", "min-max", "MFU",
               "GEMM-MFU", "params", "memory MiB");
    for (int i = 0; i < n_shapes && st == LILM_OK; i++) {
        lilm_config c = cfg;
        if ((int64_t)shapes[i][1] > c.model.context) c.model.context = (int64_t)shapes[i][1];
        lilm_bench_result r;
        st = lilm_bench_train_step(&c, be, shapes[i][0], shapes[i][1], (int)a.warmup, (int)a.steps, &r);
        if (st != LILM_OK) break;
        if (a.json) {
            printf("{\"device\": \"%s\", \"threads\": %d, \"B\": %zu, \"T\": %zu, \"params\": %lld, \"steps\": %d, "
                   "\"tokens_per_s\": %.1f, \"ms_per_step\": %.3f, \"cpu_ms_per_step\": %.3f, \"ms_min\": %.3f, \"ms_max\": %.3f, "
                   "\"step_gflop\": %.3f, \"peak_gflops\": %.1f, \"hw_peak_gflops\": %.1f, \"mfu\": %.4f, "
                   "\"mfu_gemm\": %.4f, \"memory_bytes\": %zu, \"final_loss\": %.4f, \"blas\": \"%s\", "
                   "\"cpu\": \"%s\"}\n",
                   be->name, be->threads, r.B, r.T, (long long)r.params, r.steps, r.tokens_per_s, r.ms_median,
                   r.cpu_ms_median, r.ms_min, r.ms_max, r.step_gflop, r.peak_gflops, r.hw_peak_gflops, r.mfu, r.mfu_gemm,
                   r.model_bytes, r.final_loss, be->device == LILM_DEVICE_CPU ? lilm_cpu_blas_core() : "",
                   pk.model);
        } else {
            char shape[32], range[32];
            snprintf(shape, sizeof shape, "%zux%zu", r.B, r.T);
            snprintf(range, sizeof range, "%.0f-%.0f", r.ms_min, r.ms_max);
            printf("%-10s %12.0f %10.1f %10s %7.1f%% %9.1f%% %10lld %12.1f\n", shape, r.tokens_per_s, r.ms_median,
                   range, 100 * r.mfu, 100 * r.mfu_gemm, (long long)r.params,
                   (double)r.model_bytes / (1024.0 * 1024.0));
        }
        fflush(stdout);
    }
    if (st == LILM_OK && !a.json)
        printf("(%s, %d threads; median of %lld steps after %lld warm-up; MFU against the %s, GEMM-MFU against "
               "a measured 1024^3 matmul peak)\n",
               be->name, be->threads, (long long)a.steps, (long long)a.warmup,
               pk.gflops > 0 ? "hardware peak above" : "measured matmul peak");
    lilm_backend_free(be);
    return st == LILM_OK ? 0 : lilm_cli_fail("bench", st);
}
