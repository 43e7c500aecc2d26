/*
 * step.h: one optimizer step of training: gradient accumulation over
 * micro-batches, the loss-spike guard, then the optimizer.
 *
 * A step draws accum_batch / batch_size micro-batches from a batch source.
 * Each micro-batch's loss is the mean over its counted (non-pad) targets,
 * and its gradient is scaled by 1/n_micro, so the step's gradient is the mean
 * of the micro-batch means, as in the reference. A micro-batch whose loss is
 * above spike_factor x the median of the last spike_window accepted losses is
 * skipped (its backward pass never runs).
 *
 * Data parallel (dist->size = N > 1): every rank draws the same micro-batches
 * in the same order; in round j, rank r trains micro-batch j*N + r. The
 * round's losses are gathered so that every rank runs the spike guard over
 * them in micro-batch order, exactly as one process would, and backward runs
 * on the rank that holds an accepted micro-batch. The ranks' gradients are
 * then summed (an all-reduce) and every rank takes the same optimizer step:
 * the result is the one-process step up to the order of fp32 additions.
 */
#ifndef LILM_TRAIN_STEP_H
#define LILM_TRAIN_STEP_H

#include <stdint.h>

#include "core/config.h"
#include "data/dataset.h"
#include "dist/dist.h"
#include "model/model.h"
#include "train/optimizer.h"

/* Where micro-batches come from (a dataset loader, raw text, a fixture). */
typedef struct lilm_batch_source {
    void *ctx;
    lilm_status (*next)(void *ctx, lilm_batch *batch);
} lilm_batch_source;

/* The rolling window of recent micro-batch losses behind the spike guard. */
typedef struct lilm_spike_guard {
    double *window;    /* (cap) ring buffer */
    double *sorted;    /* (cap) scratch for the median */
    int cap, n, head;
    double factor;     /* 0 = off */
} lilm_spike_guard;

lilm_status lilm_spike_guard_init(lilm_spike_guard *g, int window, double factor);
void lilm_spike_guard_free(lilm_spike_guard *g);
/* 1 if `loss` is a spike (it is then not recorded), else records it and returns 0. */
int lilm_spike_guard_check(lilm_spike_guard *g, double loss);

typedef struct lilm_step_result {
    double loss;          /* mean of the accepted micro-batch losses */
    int n_micro;          /* micro-batches drawn */
    int n_skipped;        /* rejected as spikes */
    int64_t tokens;       /* predicted tokens of the accepted micro-batches */
    int updated;          /* 0 if every micro-batch was skipped */
    lilm_step_stats stats;
} lilm_step_result;

/* One optimizer step over n_micro micro-batches; dist may be NULL (one process). */
lilm_status lilm_train_step(lilm_model *m, lilm_optimizer *opt, lilm_spike_guard *guard,
                            lilm_batch_source *src, int n_micro, double lr, const lilm_dist *dist,
                            lilm_step_result *res);


#endif
