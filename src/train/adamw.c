/*
 * adamw.c: the AdamW optimizer kind: two moments per element, a step counter,
 * one multi-tensor backend call per step.
 */
#include <stdlib.h>

#include "train/optimizer.h"

typedef struct adamw_impl {
    lilm_adamw_tensor *tensors; /* (g->n) views into the model's blocks and the group's slots */
    lilm_adamw_hparams hp;
} adamw_impl;

static const char *const adamw_slots[] = {"m.", "v."};
static const char *const adamw_counters[] = {"adamw_step"};

static lilm_status adamw_init(lilm_optim_group *g, lilm_model *m, const lilm_train_config *t)
{
    adamw_impl *a = calloc(1, sizeof *a);
    if (a) a->tensors = calloc((size_t)g->n, sizeof *a->tensors);
    if (!a || !a->tensors) {
        free(a);
        return lilm_errorf(LILM_ERR_OOM, "out of memory for the AdamW table");
    }
    for (int k = 0; k < g->n; k++) {
        const lilm_param *p = &m->params[g->params[k]];
        lilm_adamw_tensor *x = &a->tensors[k];
        x->param = m->param_block + p->offset;
        x->grad = m->grad_block + p->offset;
        x->m = g->slots[0].block + g->offsets[k];
        x->v = g->slots[1].block + g->offsets[k];
        x->n = p->numel;
        x->weight_decay = p->decay ? (float)t->weight_decay : 0.0f;
    }
    a->hp.lr = (float)t->lr;
    a->hp.beta1 = (float)t->beta1;
    a->hp.beta2 = (float)t->beta2;
    a->hp.eps = (float)t->adam_eps;
    g->impl = a;
    return LILM_OK;
}

static void adamw_step(lilm_optim_group *g, lilm_model *m, double lr)
{
    adamw_impl *a = g->impl;
    a->hp.step = ++g->counters[0].value;
    a->hp.lr = (float)lr;
    m->be->ops->adamw(m->be, a->tensors, (size_t)g->n, &a->hp);
}

static void adamw_free(lilm_optim_group *g)
{
    adamw_impl *a = g->impl;
    if (a) free(a->tensors);
    free(a);
    g->impl = NULL;
}

const lilm_optim_kind lilm_optim_adamw = {
    .name = "adamw",
    .n_slots = 2,
    .slot_prefix = adamw_slots,
    .n_counters = 1,
    .counter_name = adamw_counters,
    .init = adamw_init,
    .step = adamw_step,
    .free = adamw_free,
};
