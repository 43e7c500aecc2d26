/*
 * optimizer.h: the optimizer interface: parameter groups that own their state,
 * with the reference's gradient hygiene in front.
 *
 * An optimizer is a list of parameter groups. Each group is updated by one
 * optimizer kind (lilm_optim_kind: AdamW today; Muon, which updates 2-D
 * matrices with an orthogonalised momentum and leaves embeddings, norms and
 * biases to AdamW, is a second kind with its own group) and owns that kind's
 * state: `slots` fp32 arrays over the group's tensors (AdamW: the moments m
 * and v) and named integer counters (AdamW: "adamw_step"). The checkpoint
 * saves and restores exactly that named state (a slot's tensors are named
 * prefix + parameter name, "m.embedding.weight"); the memory plan counts it
 * through lilm_optimizer_plan_bytes.
 *
 * One optimizer step: NaN/Inf gradient entries are zeroed, the global L2
 * norm is taken over every parameter, gradients are scaled by
 * min(1, clip / (norm + 1e-6)) as torch.nn.utils.clip_grad_norm_ does, then
 * each group's kind updates its tensors and the weights' compute copy is
 * refreshed.
 */
#ifndef LILM_TRAIN_OPTIMIZER_H
#define LILM_TRAIN_OPTIMIZER_H

#include "core/config.h"
#include "model/checkpoint.h"
#include "model/model.h"

#define LILM_OPTIM_SLOTS_MAX 4
#define LILM_OPTIM_COUNTERS_MAX 4

typedef struct lilm_optim_group lilm_optim_group;

/* One state array of a group: numel fp32 values, tensor k of the group at offsets[k]. */
typedef struct lilm_optim_slot {
    const char *prefix;        /* checkpoint names: prefix + parameter name ("m.") */
    float *block;              /* (group numel) backend memory */
} lilm_optim_slot;

/* A named integer of a group's state (saved as checkpoint metadata). */
typedef struct lilm_optim_counter {
    const char *name;          /* "adamw_step" */
    int64_t value;
} lilm_optim_counter;

/* What an optimizer kind provides. */
typedef struct lilm_optim_kind {
    const char *name;                          /* "adamw" */
    int n_slots;                               /* state arrays per tensor element */
    const char *const *slot_prefix;            /* (n_slots) checkpoint name prefixes */
    int n_counters;
    const char *const *counter_name;           /* (n_counters) */
    /* Sets up g->impl once the group's tensors and zeroed slots exist. */
    lilm_status (*init)(lilm_optim_group *g, lilm_model *m, const lilm_train_config *t);
    /* Updates the group's tensors from the (clipped) gradients. */
    void (*step)(lilm_optim_group *g, lilm_model *m, double lr);
    void (*free)(lilm_optim_group *g);
} lilm_optim_kind;

struct lilm_optim_group {
    const lilm_optim_kind *kind;
    int *params;               /* (n) indices into the model's parameter table, table order */
    size_t *offsets;           /* (n) element offset of each tensor inside the slot blocks */
    int n;
    size_t numel;              /* elements of all the group's tensors */
    lilm_optim_slot slots[LILM_OPTIM_SLOTS_MAX];
    lilm_optim_counter counters[LILM_OPTIM_COUNTERS_MAX];
    void *impl;                /* the kind's own data */
};

typedef struct lilm_optimizer {
    lilm_backend *be;          /* not owned */
    lilm_optim_group *groups;  /* (n_groups) */
    int n_groups;
    double grad_clip;          /* 0 = no clipping */
} lilm_optimizer;

typedef struct lilm_step_stats {
    double grad_norm;           /* before clipping */
    int64_t n_nonfinite;        /* gradient entries that were NaN/Inf and zeroed */
    double lr;
} lilm_step_stats;

/* The AdamW kind (decoupled weight decay on matrices only; adamw.c). */
extern const lilm_optim_kind lilm_optim_adamw;
/* The Muon kind (the layers' 2-D weights with train.optimizer=muon; muon.c, CPU only). */
extern const lilm_optim_kind lilm_optim_muon;

/* Newton-Schulz orthogonalisation of g (rows, cols) into out (may be g):
 * X = g / |g|_F, transposed when rows > cols, then `steps` times
 * X <- a X + (b A + c A A) X with A = X X^T, (a, b, c) = (3.4445, -4.7750,
 * 2.0315). The singular values of out land near 1 (about [0.7, 1.2]).
 * scratch: 2 rows cols + 2 min(rows, cols)^2 floats. */
void lilm_muon_newton_schulz(const float *g, float *out, int64_t rows, int64_t cols, int steps, float *scratch);

/* Groups the model's parameters by kind (AdamW; with train.optimizer=muon, Muon for the layers' matrices),
 * allocates and zeroes each group's state. The model must be in training mode. */
lilm_status lilm_optimizer_init(lilm_optimizer *opt, lilm_model *m, const lilm_train_config *t);
void lilm_optimizer_free(lilm_optimizer *opt);
/* Applies one update with learning rate `lr` from the model's accumulated gradients. */
lilm_status lilm_optimizer_step(lilm_optimizer *opt, lilm_model *m, double lr, lilm_step_stats *stats);

/* Bytes of state an optimizer for a model of this config keeps (t NULL: the
 * defaults), for the memory plan. */
size_t lilm_optimizer_plan_bytes(const lilm_model_config *mc, const lilm_train_config *t);
/* Bytes of state this optimizer holds. */
size_t lilm_optimizer_state_bytes(const lilm_optimizer *opt);

/* Views of the optimizer's state (every group's slots and counters) for a
 * checkpoint (model/checkpoint.h). */
void lilm_optimizer_named_state(lilm_optimizer *opt, lilm_named_state *ns);

/* The counter `name` of any group, or NULL. */
lilm_optim_counter *lilm_optimizer_counter(lilm_optimizer *opt, const char *name);

#endif
