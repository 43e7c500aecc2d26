/*
 * optimizer.h: AdamW over the model's parameter table, with the reference's
 * gradient hygiene.
 *
 * One optimizer step: NaN/Inf gradient entries are zeroed, the global L2
 * norm is taken, gradients are scaled by min(1, clip / (norm + 1e-6)) as
 * torch.nn.utils.clip_grad_norm_ does, then one decoupled-weight-decay Adam
 * update runs over every tensor (weight decay on matrices only) and the
 * weights' compute copy is refreshed.
 */
#ifndef LILM_TRAIN_OPTIMIZER_H
#define LILM_TRAIN_OPTIMIZER_H

#include "core/config.h"
#include "model/model.h"

typedef struct lilm_optimizer {
    lilm_adamw_tensor *tensors; /* (n_params) views into the model's blocks */
    size_t n_tensors;
    lilm_adamw_hparams hp;      /* hp.step = optimizer steps taken so far */
    double grad_clip;           /* 0 = no clipping */
} lilm_optimizer;

typedef struct lilm_step_stats {
    double grad_norm;           /* before clipping */
    int64_t n_nonfinite;        /* gradient entries that were NaN/Inf and zeroed */
    double lr;
} lilm_step_stats;

lilm_status lilm_optimizer_init(lilm_optimizer *opt, lilm_model *m, const lilm_train_config *t);
void lilm_optimizer_free(lilm_optimizer *opt);
/* Applies one update with learning rate `lr` from the model's accumulated gradients. */
lilm_status lilm_optimizer_step(lilm_optimizer *opt, lilm_model *m, double lr, lilm_step_stats *stats);

#endif
