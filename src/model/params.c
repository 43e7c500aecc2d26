/*
 * params.c: the model's parameter table: names, shapes, order, initialisation.
 *
 * Tensors are listed in the order of the reference's PyTorch state_dict:
 *   embedding.weight                                   (V, C)
 *   transformer_stack.{i}.attention_norm.weight[,bias] (C)
 *   transformer_stack.{i}.feedforward_norm.weight[,bias] (C)
 *   transformer_stack.{i}.attention.q.{weight,bias}     (H*Dq, C)
 *   transformer_stack.{i}.attention.kv.{weight,bias}    (H*(Dq+Dv), C)
 *     latent: attention.kv.0.* (p, C) and attention.kv.1.* (H*(Dq+Dv), p)
 *   transformer_stack.{i}.attention.reproject.{weight,bias} (C, H*Dv)
 *   transformer_stack.{i}.ffn.0.{weight,bias}           (F, C)
 *   transformer_stack.{i}.ffn.3.{weight,bias}           (C, F)
 *   final_norm.weight[,bias]                            (C)
 * Norm weights are absent with norm "none"; biases only with LayerNorm; the
 * ffn tensors are absent with activation "none"; with a gated activation
 * (swiglu) ffn.0 is (2F, C). The list itself comes from lilm_arch_tensors()
 * (core/components.h); each entry records its layer and role, which
 * lilm__layer_ptrs reads. Initialisation follows
 * PyTorch's defaults: Linear weight and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
 * embedding N(0, 1), norm weight 1 and bias 0.
 */
#include "model/model_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

typedef struct table_builder {
    lilm_param *p;     /* NULL in the counting pass */
    int *layer_first;  /* (L) or NULL */
    int n;
    size_t offset;
} table_builder;

/* Records one tensor of the walk (core/components.h) with its role. */
static void record(void *ctx, const lilm_tensor_info *t)
{
    table_builder *tb = ctx;
    size_t numel = 1;
    for (int d = 0; d < (t->ndim > 1 ? t->ndim : 2); d++) numel *= (size_t)t->shape[d];
    if (tb->p) {
        lilm_param *p = &tb->p[tb->n];
        snprintf(p->name, sizeof p->name, "%s", t->name);
        p->ndim = t->ndim;
        for (int d = 0; d < 4; d++) p->shape[d] = t->shape[d];
        p->numel = numel;
        p->offset = tb->offset;
        p->decay = t->decay;
        p->layer = t->layer;
        p->role = t->role;
        if (tb->layer_first && t->layer >= 0 && (tb->n == 0 || tb->p[tb->n - 1].layer != t->layer))
            tb->layer_first[t->layer] = tb->n;
    }
    tb->offset += numel;
    tb->n++;
}

lilm_status lilm__model_build_table(lilm_model *m)
{
    table_builder tb = {NULL, NULL, 0, 0};
    lilm_arch_tensors(&m->cfg, record, &tb);
    m->params = calloc((size_t)tb.n, sizeof *m->params);
    m->layer_first = calloc((size_t)(m->cfg.n_layers > 0 ? m->cfg.n_layers : 1), sizeof *m->layer_first);
    if (!m->params || !m->layer_first) return lilm_errorf(LILM_ERR_OOM, "out of memory building the parameter table");
    m->n_params = tb.n;
    m->n_elems = tb.offset;
    table_builder fill = {m->params, m->layer_first, 0, 0};
    lilm_arch_tensors(&m->cfg, record, &fill);
    m->emb_index = m->final_norm_w = m->final_norm_b = -1;
    for (int i = 0; i < m->n_params; i++) {
        if (m->params[i].role == LILM_ROLE_EMBEDDING) m->emb_index = i;
        if (m->params[i].role == LILM_ROLE_FINAL_NORM_W) m->final_norm_w = i;
        if (m->params[i].role == LILM_ROLE_FINAL_NORM_B) m->final_norm_b = i;
    }
    return LILM_OK;
}

const lilm_param *lilm_model_find_param(const lilm_model *m, const char *name)
{
    for (int i = 0; i < m->n_params; i++)
        if (strcmp(m->params[i].name, name) == 0) return &m->params[i];
    return NULL;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The fan-in of the Linear a bias belongs to is the next-to-it weight's in-features.
 * Tensor-ring Linears (cores, ndim 4) follow the reference: every core element
 * N(0, std^2), std = lilm_tr_init_std of the Linear, and a zero bias.
 * model.zero_init_proj zeroes the attention reprojection and FFN W2 weights. */
void lilm__model_init_weights(const lilm_model *m, float *host, uint64_t seed)
{
    lilm_rng rng;
    lilm_rng_seed(&rng, seed);
    double ring_std = 0.0;
    for (int i = 0; i < m->n_params; i++) {
        const lilm_param *p = &m->params[i];
        float *w = host + p->offset;
        int is_norm = strstr(p->name, "norm") != NULL;
        if (p->ndim == 4) {
            if (p->role != LILM_ROLE_TR_CORE) { /* the first core: the std of its Linear */
                const lilm_tr_shape *s = p->role == LILM_ROLE_W1 ? &m->tr1 : &m->tr2;
                ring_std = lilm_tr_init_std(s);
            }
            for (size_t k = 0; k < p->numel; k++) w[k] = (float)(lilm_rng_normal(&rng) * ring_std);
        } else if (i > 0 && m->params[i - 1].ndim == 4) {
            memset(w, 0, p->numel * sizeof(float));    /* a tensor-ring Linear's bias */
        } else if (i == m->emb_index) {
            for (size_t k = 0; k < p->numel; k++) w[k] = (float)lilm_rng_normal(&rng);
        } else if (is_norm) {
            float v = ends_with(p->name, ".weight") ? 1.0f : 0.0f;
            for (size_t k = 0; k < p->numel; k++) w[k] = v;
        } else {
            /* Linear weight (out, in): bound 1/sqrt(in); its bias follows it in the table */
            int64_t fan_in = p->ndim == 2 ? p->shape[1] : m->params[i - 1].shape[1];
            double bound = 1.0 / sqrt((double)fan_in);
            for (size_t k = 0; k < p->numel; k++) w[k] = (float)((2.0 * lilm_rng_uniform(&rng) - 1.0) * bound);
            /* drawn all the same, so every other tensor starts as it would without the option */
            if (m->cfg.zero_init_proj && (p->role == LILM_ROLE_PROJ_W || p->role == LILM_ROLE_W2))
                memset(w, 0, p->numel * sizeof *w);
        }
    }
}
