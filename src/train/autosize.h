/*
 * autosize.h: the reference's "pre-training": fit a run to its budget.
 *
 *   (a) depth: for a candidate depth L, time probe_steps optimizer steps (after
 *       warmup_steps) on synthetic batches and extrapolate the tokens trained
 *       in the budget: tokens = budget_s / step_s x accum_batch x context.
 *       L passes when tokens / params >= budget.tokens_per_param. L doubles
 *       from 4 while it passes; a binary search between the last pass and the
 *       first failure then finds the deepest passing depth (if 4 fails, the
 *       search runs below it; if even min_layers fails, min_layers is used).
 *       In `steps` budget mode the tokens are known (steps x accum x context),
 *       so no timing is needed.
 *   (b) batch: the largest divisor of train.accum_batch whose memory plan
 *       (lilm_model_plan_bytes, plus 10% for backend scratch) fits the memory
 *       limit: no trial and error. The plan is checked against the backend's
 *       measured peak after the probe at the chosen depth.
 *   (c) learning rate: n_lrs rates log-spaced in [lr_min, lr_max], each trained
 *       for lr_fraction of the budget (time, or steps in steps mode) with the
 *       schedule of the full budget, cut short; the lowest validation loss
 *       (on val_batches) wins.
 * Each sweep's table is printed and written to OUT/autosize_depth.jsonl and
 * OUT/autosize_lr.jsonl, the choice to OUT/autosize.json (docs/run-dir.md).
 */
#ifndef LILM_TRAIN_AUTOSIZE_H
#define LILM_TRAIN_AUTOSIZE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/config.h"
#include "core/status.h"
#include "ops/backend.h"

typedef struct lilm_autosize_opts {
    const char *out_dir;       /* tables and sweep runs go here (NULL: nowhere) */
    int probe_steps;           /* timed steps per depth (reference: 10; <= 0: 10 on CUDA, 3 on CPU) */
    int warmup_steps;          /* untimed steps first */
    int64_t min_layers, max_layers;
    double lr_fraction;        /* share of the budget each LR trial trains (reference: 0.2) */
    int n_lrs;                 /* 0: no LR sweep */
    double lr_min, lr_max;
    double memory_bytes;       /* memory limit (0: available RAM on CPU; 24 GB, an RTX 4090, on CUDA) */
    int do_depth, do_batch;    /* which parts to run (the LR sweep runs when n_lrs > 0) */
    int quiet;
    FILE *log;                 /* tables and progress (NULL: stderr) */
    volatile sig_atomic_t *stop;
} lilm_autosize_opts;

void lilm_autosize_opts_default(lilm_autosize_opts *o);

typedef struct lilm_autosize_result {
    int64_t layers, batch_size;
    double lr;
    int64_t params;
    double step_s;             /* probe step time at the chosen depth and batch (0: not timed) */
    double tokens_in_budget, tokens_per_param;
    size_t plan_bytes;         /* memory plan at the chosen depth and batch */
    size_t peak_bytes;         /* backend peak measured while probing it (0: unknown) */
    double memory_limit;
    double best_val_loss;      /* of the LR sweep (NAN without one) */
    double seconds;            /* autosize's own wall time */
    int n_depth_probes;
    int probe_steps;           /* timed steps per depth probe used */
} lilm_autosize_result;

/* Runs the sweeps for `in` and writes the chosen config to *out (a copy of
 * `in` with model.n_layers, train.batch_size and train.lr set). */
lilm_status lilm_autosize(const lilm_config *in, const lilm_autosize_opts *o, lilm_config *out,
                          lilm_autosize_result *r);

/* ---- pieces, exposed for tests ---- */

/* The depth search over a predicate: ok(ctx, L) returns 1 (passes), 0
 * (fails) or -1 (error: the search stops and returns -1). Probes are cached,
 * so no depth is asked twice. Returns the chosen depth. */
int64_t lilm_autosize_search_depth(int (*ok)(void *ctx, int64_t layers), void *ctx, int64_t min_layers,
                                   int64_t max_layers);


/* Largest divisor of accum that fits `memory` bytes (plan x 1.1, the plan of
 * lilm_train_plan_bytes with the default optimizer); 0 if none. */
int64_t lilm_autosize_pick_batch(const lilm_model_config *mc, lilm_dtype act_dtype, int64_t accum, double memory,
                                 size_t *plan_bytes);

/* The i-th of n learning rates log-spaced over [lo, hi]. */
double lilm_autosize_lr(int i, int n, double lo, double hi);


#endif
