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
 * ffn tensors are absent with activation "none". Initialisation follows
 * PyTorch's defaults: Linear weight and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
 * embedding N(0, 1), norm weight 1 and bias 0.
 */
#include "model/model_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

typedef enum { INIT_ONES, INIT_ZEROS, INIT_NORMAL, INIT_UNIFORM_FANIN } init_kind;

typedef struct table_builder {
    lilm_param *p;   /* NULL in the counting pass */
    int n;
    size_t offset;
} table_builder;

static void add(table_builder *tb, const char *name, int ndim, int64_t d0, int64_t d1, int decay)
{
    if (tb->p) {
        lilm_param *p = &tb->p[tb->n];
        snprintf(p->name, sizeof p->name, "%s", name);
        p->ndim = ndim;
        p->shape[0] = d0;
        p->shape[1] = ndim == 2 ? d1 : 1;
        p->numel = (size_t)d0 * (size_t)(ndim == 2 ? d1 : 1);
        p->offset = tb->offset;
        p->decay = decay;
    }
    tb->offset += (size_t)d0 * (size_t)(ndim == 2 ? d1 : 1);
    tb->n++;
}

static void add_linear(table_builder *tb, const char *prefix, int64_t out, int64_t in)
{
    char name[LILM_PARAM_NAME_MAX];
    snprintf(name, sizeof name, "%s.weight", prefix);
    add(tb, name, 2, out, in, 1);
    snprintf(name, sizeof name, "%s.bias", prefix);
    add(tb, name, 1, out, 0, 0);
}

static void add_norm(table_builder *tb, const lilm_model_config *c, const char *prefix)
{
    char name[LILM_PARAM_NAME_MAX];
    if (c->norm == LILM_NORM_NONE) return;
    snprintf(name, sizeof name, "%s.weight", prefix);
    add(tb, name, 1, c->d_model, 0, 0);
    if (c->norm == LILM_NORM_LAYER) {
        snprintf(name, sizeof name, "%s.bias", prefix);
        add(tb, name, 1, c->d_model, 0, 0);
    }
}

static void build(table_builder *tb, const lilm_model_config *c, int *layer_first)
{
    char pre[LILM_PARAM_NAME_MAX];
    int64_t C = c->d_model, KV = c->n_heads * (c->qk_dim + c->v_dim);
    add(tb, "embedding.weight", 2, c->vocab_size, C, 1);
    for (int64_t l = 0; l < c->n_layers; l++) {
        if (layer_first) layer_first[l] = tb->n;
        snprintf(pre, sizeof pre, "transformer_stack.%lld.attention_norm", (long long)l);
        add_norm(tb, c, pre);
        snprintf(pre, sizeof pre, "transformer_stack.%lld.feedforward_norm", (long long)l);
        if (c->activation != LILM_ACTKIND_NONE) add_norm(tb, c, pre);
        snprintf(pre, sizeof pre, "transformer_stack.%lld.attention.q", (long long)l);
        add_linear(tb, pre, c->n_heads * c->qk_dim, C);
        if (c->latent_dim > 0) {
            snprintf(pre, sizeof pre, "transformer_stack.%lld.attention.kv.0", (long long)l);
            add_linear(tb, pre, c->latent_dim, C);
            snprintf(pre, sizeof pre, "transformer_stack.%lld.attention.kv.1", (long long)l);
            add_linear(tb, pre, KV, c->latent_dim);
        } else {
            snprintf(pre, sizeof pre, "transformer_stack.%lld.attention.kv", (long long)l);
            add_linear(tb, pre, KV, C);
        }
        snprintf(pre, sizeof pre, "transformer_stack.%lld.attention.reproject", (long long)l);
        add_linear(tb, pre, C, c->n_heads * c->v_dim);
        if (c->activation != LILM_ACTKIND_NONE) {
            snprintf(pre, sizeof pre, "transformer_stack.%lld.ffn.0", (long long)l);
            add_linear(tb, pre, c->ffn_dim, C);
            snprintf(pre, sizeof pre, "transformer_stack.%lld.ffn.3", (long long)l);
            add_linear(tb, pre, C, c->ffn_dim);
        }
    }
    add_norm(tb, c, "final_norm");
}

lilm_status lilm__model_build_table(lilm_model *m)
{
    table_builder tb = {NULL, 0, 0};
    build(&tb, &m->cfg, NULL);
    m->params = calloc((size_t)tb.n, sizeof *m->params);
    m->layer_first = calloc((size_t)(m->cfg.n_layers > 0 ? m->cfg.n_layers : 1), sizeof *m->layer_first);
    if (!m->params || !m->layer_first) return lilm_errorf(LILM_ERR_OOM, "out of memory building the parameter table");
    m->n_params = tb.n;
    m->n_elems = tb.offset;
    table_builder fill = {m->params, 0, 0};
    build(&fill, &m->cfg, m->layer_first);
    m->emb_index = 0;
    m->final_norm_w = m->final_norm_b = -1;
    for (int i = 0; i < m->n_params; i++) {
        if (strcmp(m->params[i].name, "final_norm.weight") == 0) m->final_norm_w = i;
        if (strcmp(m->params[i].name, "final_norm.bias") == 0) m->final_norm_b = i;
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

/* The fan-in of the Linear a bias belongs to is the next-to-it weight's in-features. */
void lilm__model_init_weights(const lilm_model *m, float *host, uint64_t seed)
{
    lilm_rng rng;
    lilm_rng_seed(&rng, seed);
    for (int i = 0; i < m->n_params; i++) {
        const lilm_param *p = &m->params[i];
        float *w = host + p->offset;
        int is_norm = strstr(p->name, "norm") != NULL;
        if (i == m->emb_index) {
            for (size_t k = 0; k < p->numel; k++) w[k] = (float)lilm_rng_normal(&rng);
        } else if (is_norm) {
            float v = ends_with(p->name, ".weight") ? 1.0f : 0.0f;
            for (size_t k = 0; k < p->numel; k++) w[k] = v;
        } else {
            /* Linear weight (out, in): bound 1/sqrt(in); its bias follows it in the table */
            int64_t fan_in = p->ndim == 2 ? p->shape[1] : m->params[i - 1].shape[1];
            double bound = 1.0 / sqrt((double)fan_in);
            for (size_t k = 0; k < p->numel; k++) w[k] = (float)((2.0 * lilm_rng_uniform(&rng) - 1.0) * bound);
        }
    }
}
