/*
 * schedule.h: learning-rate schedules.
 *
 * One-cycle follows PyTorch's OneCycleLR (anneal_strategy='cos',
 * three_phase=False) exactly: the lr starts at max_lr/div_factor, rises by a
 * cosine to max_lr at step pct_start*total - 1, then falls by a cosine to
 * max_lr/div_factor/final_div_factor at step total - 1. Cosine is linear
 * warm-up then cosine decay to min_lr_frac*max_lr. Warm-up/stable/decay
 * (wsd, trapezoidal) is the same linear warm-up over warmup_frac of the
 * steps, max_lr until the last decay_frac of the steps, then a linear decay
 * reaching min_lr_frac*max_lr at the last step. The position may be
 * fractional: in `time` budget mode it is elapsed/budget * (total - 1).
 */
#ifndef LILM_TRAIN_SCHEDULE_H
#define LILM_TRAIN_SCHEDULE_H

#include <stdint.h>

#include "core/config.h"

typedef struct lilm_schedule {
    lilm_schedule_kind kind;
    double max_lr;
    int64_t total_steps;
    double pct_start, div_factor, final_div_factor; /* one-cycle */
    double warmup_frac, min_lr_frac;                /* cosine, wsd */
    double decay_frac;                              /* wsd */
} lilm_schedule;

void lilm_schedule_from_config(lilm_schedule *s, const lilm_train_config *t, int64_t total_steps);
/* lr at (possibly fractional) step position `pos` in [0, total_steps - 1]. */
double lilm_schedule_lr(const lilm_schedule *s, double pos);

#endif
