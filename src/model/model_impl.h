/*
 * model_impl.h: internals shared by the model's files (params.c, model.c,
 * forward.c, backward.c). Not part of the public API.
 */
#ifndef LILM_MODEL_IMPL_H
#define LILM_MODEL_IMPL_H

#include "model/model.h"

/* Builds m->params, m->n_params, m->n_elems and m->layer_first from m->cfg. */
lilm_status lilm__model_build_table(lilm_model *m);
/* Fills a host fp32 block of m->n_elems with PyTorch-default initial weights. */
void lilm__model_init_weights(const lilm_model *m, float *host, uint64_t seed);

/* Byte offset arithmetic on activation pointers (act dtype elements). */
static inline void *lilm__act_at(const lilm_model *m, void *base, size_t elems)
{
    return (char *)base + elems * m->act_size;
}

/* A layer's parameter pointers inside `block` with element size `esize`
 * (the fp32 master/grad blocks or the compute copy). */
void lilm__layer_ptrs(const lilm_model *m, int layer, void *block, size_t esize, lilm_layer_ptrs *out);

/* Width of W1's output: gate * ffn_dim (2F for a gated activation such as
 * SwiGLU, whose [g | u] halves the activation folds into F). */
size_t lilm__ffn_up_width(const lilm_model_config *c);

/* Effective norm epsilon (config value, or PyTorch's default for the kind). */
float lilm__norm_eps(const lilm_model_config *c);

#endif
