/*
 * components.c: the component tables and the walk over a model's tensors.
 *
 * The activation and norm rows expand from the X-macro lists in
 * components.h; the attention and FFN rows are written out below with their
 * tensors. lilm_arch_tensors() is the only code that knows the layout of a
 * layer; everything that needs names, shapes or counts calls it.
 */
#include "core/components.h"

#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/tensor_ring.h"

#define LILM__ACT_ROW(e, cfg, torch, gate, formula) {LILM_ACT_##e, cfg, torch, gate, formula},
static const lilm_act_desc act_rows[] = {LILM_ACTIVATIONS(LILM__ACT_ROW)};
#undef LILM__ACT_ROW

#define LILM__ACT_NAME(e, cfg, torch, gate, formula) cfg,
const char *const lilm_act_config_names[] = {LILM_ACTIVATIONS(LILM__ACT_NAME) NULL};
#undef LILM__ACT_NAME

#define LILM__NORM_ROW(e, cfg, meta, torch, n) {LILM_NORM_##e, cfg, meta, torch, n},
static const lilm_norm_desc norm_rows[] = {LILM_NORMS(LILM__NORM_ROW)};
#undef LILM__NORM_ROW

#define LILM__NORM_NAME(e, cfg, meta, torch, n) cfg,
const char *const lilm_norm_config_names[] = {LILM_NORMS(LILM__NORM_NAME) NULL};
#undef LILM__NORM_NAME

static const lilm_attn_desc attn_rows[] = {
    {LILM_ATTN_STANDARD, "standard", "Attention(q, kv, reproject)", 3, {
        {LILM_ROLE_Q_W, "q", LILM_DIM_Q, LILM_DIM_C, 1},
        {LILM_ROLE_KV_W, "kv", LILM_DIM_KV, LILM_DIM_C, 1},
        {LILM_ROLE_PROJ_W, "reproject", LILM_DIM_C, LILM_DIM_AV, 1},
    }},
    {LILM_ATTN_LATENT, "latent", "Attention(q, kv = Sequential(Linear(C, p), Linear(p, KV)), reproject)", 4, {
        {LILM_ROLE_Q_W, "q", LILM_DIM_Q, LILM_DIM_C, 1},
        {LILM_ROLE_LAT_W, "kv.0", LILM_DIM_P, LILM_DIM_C, 1},
        {LILM_ROLE_KV_W, "kv.1", LILM_DIM_KV, LILM_DIM_P, 1},
        {LILM_ROLE_PROJ_W, "reproject", LILM_DIM_C, LILM_DIM_AV, 1},
    }},
};

static const lilm_ffn_desc ffn_rows[] = {
    {LILM_FFN_NONE, "none", "(absent)", 0, {{0}}},
    {LILM_FFN_MLP, "mlp", "Sequential(Linear(C, gate*F), act, Dropout, Linear(F, C))", 2, {
        {LILM_ROLE_W1, "0", LILM_DIM_GF, LILM_DIM_C, 1},
        {LILM_ROLE_W2, "3", LILM_DIM_C, LILM_DIM_F, 1},
    }},
    {LILM_FFN_TENSOR_RING, "tensor_ring",
     "Sequential(TensorRingLinear(C, gate*F, R), act, Dropout, TensorRingLinear(F, C, R))", 2, {
        {LILM_ROLE_W1, "0", LILM_DIM_GF, LILM_DIM_C, 2},
        {LILM_ROLE_W2, "3", LILM_DIM_C, LILM_DIM_F, 2},
    }},
};

#define LILM__ROWS(a) (sizeof(a) / sizeof((a)[0]))

const lilm_act_desc *lilm_act_info(lilm_act a)
{
    return (unsigned)a < LILM__ROWS(act_rows) ? &act_rows[a] : NULL;
}

const lilm_norm_desc *lilm_norm_info(lilm_norm_kind k)
{
    return (unsigned)k < LILM__ROWS(norm_rows) ? &norm_rows[k] : NULL;
}

static const lilm_attn_desc *lilm_attn_info(lilm_attn_kind k)
{
    return (unsigned)k < LILM__ROWS(attn_rows) ? &attn_rows[k] : NULL;
}

static const lilm_ffn_desc *lilm_ffn_info(lilm_ffn_kind k)
{
    return (unsigned)k < LILM__ROWS(ffn_rows) ? &ffn_rows[k] : NULL;
}

int lilm_act_from_name(const char *name, lilm_act *out)
{
    for (size_t i = 0; i < LILM__ROWS(act_rows); i++)
        if (strcmp(act_rows[i].config_name, name) == 0) {
            *out = act_rows[i].kind;
            return 1;
        }
    return 0;
}

int lilm_norm_from_meta_name(const char *name, lilm_norm_kind *out)
{
    for (size_t i = 0; i < LILM__ROWS(norm_rows); i++)
        if (strcmp(norm_rows[i].meta_name, name) == 0) {
            *out = norm_rows[i].kind;
            return 1;
        }
    return 0;
}

static lilm_attn_kind lilm_model_attn_kind(const lilm_model_config *c)
{
    return c->latent_dim > 0 ? LILM_ATTN_LATENT : LILM_ATTN_STANDARD;
}

lilm_ffn_kind lilm_model_ffn_kind(const lilm_model_config *c)
{
    if (c->activation == LILM_ACT_NONE) return LILM_FFN_NONE;
    return c->ffn_tr_bond > 0 ? LILM_FFN_TENSOR_RING : LILM_FFN_MLP;
}

/* ---- the walk ---- */

typedef struct walker {
    const lilm_model_config *c;
    lilm_tensor_fn fn;
    void *ctx;
    int64_t total;
} walker;

static int64_t dim_value(const lilm_model_config *c, lilm_dim d)
{
    const lilm_act_desc *a = lilm_act_info(c->activation);
    switch (d) {
    case LILM_DIM_ONE: return 1;
    case LILM_DIM_C: return c->d_model;
    case LILM_DIM_V: return c->vocab_size;
    case LILM_DIM_Q: return c->n_heads * c->qk_dim;
    case LILM_DIM_KV: return c->n_heads * (c->qk_dim + c->v_dim);
    case LILM_DIM_AV: return c->n_heads * c->v_dim;
    case LILM_DIM_P: return c->latent_dim;
    case LILM_DIM_F: return c->ffn_dim;
    case LILM_DIM_GF: return (a ? a->gate : 1) * c->ffn_dim;
    }
    return 0;
}

static void emit(walker *w, const char *name, int layer, lilm_role role, int64_t d0, int64_t d1, int matrix)
{
    lilm_tensor_info t = {name, layer, role, matrix ? 2 : 1, {d0, matrix ? d1 : 1, 1, 1}, matrix};
    w->total += d0 * (matrix ? d1 : 1);
    if (w->fn) w->fn(w->ctx, &t);
}

/* The cores of a tensor-ring Linear cols -> rows under `prefix` ("...ffn.0"). */
static void emit_ring(walker *w, const char *prefix, int layer, lilm_role role, int64_t rows, int64_t cols)
{
    lilm_tr_shape s;
    if (lilm_tr_shape_init(&s, (size_t)cols, (size_t)rows, (size_t)w->c->ffn_tr_bond) != LILM_OK) return;
    char name[128];
    for (int j = 0; j < s.n; j++) {
        snprintf(name, sizeof name, "%s.cores.%d", prefix, j);
        int64_t R = (int64_t)s.bond;
        lilm_tensor_info t = {name, layer, j == 0 ? role : LILM_ROLE_TR_CORE, 4,
                              {R, R, (int64_t)s.a[j], (int64_t)s.b[j]}, 1};
        w->total += R * R * (int64_t)(s.a[j] * s.b[j]);
        if (w->fn) w->fn(w->ctx, &t);
    }
}

/* A norm's vectors under `prefix`; base is the role of its weight. */
static void walk_norm(walker *w, const char *prefix, int layer, lilm_role base)
{
    static const char *const suffix[2] = {"weight", "bias"};
    const lilm_norm_desc *n = lilm_norm_info(w->c->norm);
    char name[128];
    for (int i = 0; n && i < n->n_tensors; i++) {
        snprintf(name, sizeof name, "%s.%s", prefix, suffix[i]);
        emit(w, name, layer, (lilm_role)(base + i), w->c->d_model, 1, 0);
    }
}

static void walk_specs(walker *w, const char *prefix, int layer, const lilm_tensor_spec *s, int n)
{
    char name[128];
    for (int i = 0; i < n; i++) {
        int64_t rows = dim_value(w->c, s[i].rows), cols = dim_value(w->c, s[i].cols);
        if (s[i].linear == 2) {
            snprintf(name, sizeof name, "%s.%s", prefix, s[i].suffix);
            emit_ring(w, name, layer, s[i].role, rows, cols);
        } else {
            snprintf(name, sizeof name, "%s.%s.weight", prefix, s[i].suffix);
            emit(w, name, layer, s[i].role, rows, cols, 1);
        }
        if (s[i].linear) {
            snprintf(name, sizeof name, "%s.%s.bias", prefix, s[i].suffix);
            emit(w, name, layer, (lilm_role)(s[i].role + 1), rows, 1, 0);
        }
    }
}

int64_t lilm_arch_tensors(const lilm_model_config *c, lilm_tensor_fn fn, void *ctx)
{
    walker w = {c, fn, ctx, 0};
    const lilm_attn_desc *attn = lilm_attn_info(lilm_model_attn_kind(c));
    const lilm_ffn_desc *ffn = lilm_ffn_info(lilm_model_ffn_kind(c));
    char prefix[96];
    emit(&w, "embedding.weight", -1, LILM_ROLE_EMBEDDING, c->vocab_size, c->d_model, 1);
    for (int64_t l = 0; l < c->n_layers; l++) {
        int layer = (int)l;
        snprintf(prefix, sizeof prefix, "transformer_stack.%d.attention_norm", layer);
        walk_norm(&w, prefix, layer, LILM_ROLE_NORM1_W);
        if (ffn->n_tensors) {
            snprintf(prefix, sizeof prefix, "transformer_stack.%d.feedforward_norm", layer);
            walk_norm(&w, prefix, layer, LILM_ROLE_NORM2_W);
        }
        snprintf(prefix, sizeof prefix, "transformer_stack.%d.attention", layer);
        walk_specs(&w, prefix, layer, attn->tensors, attn->n_tensors);
        snprintf(prefix, sizeof prefix, "transformer_stack.%d.ffn", layer);
        walk_specs(&w, prefix, layer, ffn->tensors, ffn->n_tensors);
    }
    walk_norm(&w, "final_norm", -1, LILM_ROLE_FINAL_NORM_W);
    return w.total;
}
