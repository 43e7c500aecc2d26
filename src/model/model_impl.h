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


/* The FFN Linear's weight to multiply with: the compute copy wc, or for a
 * tensor-ring Linear (second: ffn.3, else ffn.0) the dense W built from its
 * fp32 cores into m->tr_w (valid until the next call). */
const void *lilm__ffn_weight(lilm_model *m, const void *wc, const float *cores, int second);
/* The FFN's first Linear and its activation over `rows` rows of layer l:
 * act (rows, F) = act(in (rows, C) @ w1^T + b1), keeping pre (rows, F, or
 * 2F gated) and, for a truncation activation, its saved state and workspace.
 * The same in training (forward.c) and decoding (decode.c). */
void lilm__ffn_up(lilm_model *m, int l, void *act, void *pre, float *trunc_saved, void *trunc_work, const void *in,
                  const void *w1, const float *b1, size_t rows);
/* Where a matmul backward should put that Linear's weight gradient (grad
 * itself, or the zeroed m->tr_dw), and the fold of tr_dw onto the cores'
 * gradient (+=) after it. */
float *lilm__ffn_dweight(lilm_model *m, float *grad);
void lilm__ffn_dweight_done(lilm_model *m, float *grad, const float *cores, int second);

/* Effective norm epsilon (config value, or PyTorch's default for the kind). */
float lilm__norm_eps(const lilm_model_config *c);

#endif
