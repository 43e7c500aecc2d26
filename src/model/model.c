/*
 * model.c: model construction, the memory plan, weight sync and logits.
 *
 * lilm_model_init lays out every buffer the model needs for micro-batches up
 * to (max_B, max_T) in two passes over one plan (count, then carve), so the
 * printed plan and the real allocation can never disagree, and asks the
 * backend to size its own scratch for the same shapes.
 */
#include "model/model_impl.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

float lilm__norm_eps(const lilm_model_config *c)
{
    if (c->norm_eps > 0) return (float)c->norm_eps;
    return c->norm == LILM_NORM_LAYER ? 1e-5f : FLT_EPSILON; /* torch RMSNorm eps=None: finfo(float32).eps */
}

size_t lilm__ffn_up_width(const lilm_model_config *c)
{
    const lilm_act_desc *a = lilm_act_info(c->activation);
    return (size_t)(a ? a->gate : 1) * (size_t)c->ffn_dim;
}

/* Sets m->trunc, trunc_p (low-rank activation) and m->tr, tr1, tr2
 * (tensor-ring FFN Linears) from m->cfg. */
static void lilm__model_components(lilm_model *m)
{
    const lilm_model_config *c = &m->cfg;
    m->trunc = lilm_trunc_from_config(c, &m->trunc_p);
    m->tr = lilm_model_ffn_kind(c) == LILM_FFN_TENSOR_RING;
    if (m->tr) {
        size_t C = (size_t)c->d_model, F = (size_t)c->ffn_dim, R = (size_t)c->ffn_tr_bond;
        lilm_status s1 = lilm_tr_shape_init(&m->tr1, C, lilm__ffn_up_width(c), R);
        lilm_status s2 = lilm_tr_shape_init(&m->tr2, F, C, R);
        (void)s1, (void)s2; /* sizes >= 1 here: the model checks its shape first */
    }
}

const void *lilm__ffn_weight(lilm_model *m, const void *wc, const float *cores, int second)
{
    if (!m->tr) return wc;
    m->be->ops->tr_weight(m->be, m->tr_w, cores, second ? &m->tr2 : &m->tr1, m->tr_work);
    return m->tr_w;
}

void lilm__ffn_up(lilm_model *m, int l, void *act, void *pre, float *trunc_saved, void *trunc_work, const void *in,
                  const void *w1, const float *b1, size_t rows)
{
    lilm_backend *be = m->be;
    const lilm_model_config *c = &m->cfg;
    size_t C = (size_t)c->d_model, F = (size_t)c->ffn_dim, GF = lilm__ffn_up_width(c);
    if (GF != F) { /* gated (SwiGLU): pre is [g | u] */
        be->ops->matmul_forward(be, pre, NULL, in, w1, b1, rows, C, GF, LILM_ACT_NONE);
        be->ops->glu_forward(be, act, pre, rows, F, c->activation);
    } else if (m->trunc) { /* svd_truncation's batch maximum is over these rows */
        lilm_trunc_params tp = m->trunc_p;
        tp.key = lilm_qr_omega_key(m->seed, m->step, l);
        be->ops->matmul_forward(be, pre, NULL, in, w1, b1, rows, C, F, LILM_ACT_NONE);
        be->ops->trunc_forward(be, act, trunc_saved, pre, rows, F, &tp, trunc_work);
    } else {
        be->ops->matmul_forward(be, act, pre, in, w1, b1, rows, C, F, c->activation);
    }
}

float *lilm__ffn_dweight(lilm_model *m, float *grad)
{
    if (!m->tr) return grad;
    size_t n = (m->tr1.in * m->tr1.out > m->tr2.in * m->tr2.out ? m->tr1.in * m->tr1.out : m->tr2.in * m->tr2.out);
    m->be->ops->zero(m->be, m->tr_dw, n * sizeof(float));
    return m->tr_dw;
}

void lilm__ffn_dweight_done(lilm_model *m, float *grad, const float *cores, int second)
{
    if (m->tr) m->be->ops->tr_weight_backward(m->be, grad, m->tr_dw, cores, second ? &m->tr2 : &m->tr1, m->tr_work);
}

void lilm__layer_ptrs(const lilm_model *m, int layer, void *block, size_t esize, lilm_layer_ptrs *out)
{
    memset(out, 0, sizeof *out);
    for (int i = m->layer_first[layer]; i < m->n_params && m->params[i].layer == layer; i++)
        if (m->params[i].role < LILM_ROLE_LAYER_COUNT) /* later tensor-ring cores follow their first */
            out->by_role[m->params[i].role] = (char *)block + m->params[i].offset * esize;
}

/* ---- the activation plan ---- */

typedef struct planner {
    char *base;     /* NULL while counting */
    size_t used;    /* bytes */
} planner;

static void *take(planner *pl, size_t bytes)
{
    size_t at = pl->used;
    pl->used += (bytes + 255) & ~(size_t)255; /* 256-byte alignment for vector loads */
    return pl->base ? pl->base + at : NULL;
}

static void plan_acts(lilm_model *m, planner *pl, size_t B, size_t T)
{
    const lilm_model_config *c = &m->cfg;
    size_t N = B * T, C = (size_t)c->d_model, H = (size_t)c->n_heads;
    size_t Q = H * (size_t)c->qk_dim, KV = H * (size_t)(c->qk_dim + c->v_dim), AV = H * (size_t)c->v_dim;
    size_t F = (size_t)c->ffn_dim, GF = lilm__ffn_up_width(c), P = (size_t)c->latent_dim, L = (size_t)c->n_layers;
    size_t a = m->act_size;
    int has_norm = c->norm != LILM_NORM_NONE, layer = c->norm == LILM_NORM_LAYER;
    int ffn = c->activation != LILM_ACT_NONE;
    for (size_t l = 0; l < L; l++) {
        lilm_layer_acts *A = &m->acts[l];
        if (l > 0 && m->mode == LILM_MODEL_INFERENCE) {
            /* nothing is kept for a backward pass: every layer works in the
             * first one's buffers (its output overwrites its input) */
            *A = m->acts[0];
            continue;
        }
        A->x = take(pl, N * C * a);
        A->h1 = has_norm ? take(pl, N * C * a) : A->x;
        A->mean1 = layer ? take(pl, N * sizeof(float)) : NULL;
        A->rstd1 = has_norm ? take(pl, N * sizeof(float)) : NULL;
        A->q = take(pl, N * Q * a);
        A->lat = P ? take(pl, N * P * a) : NULL;
        A->kv = take(pl, N * KV * a);
        A->att = take(pl, N * AV * a);
        A->lse = take(pl, B * H * T * sizeof(float));
        A->x2 = take(pl, N * C * a);
        A->h2 = ffn && has_norm ? take(pl, N * C * a) : A->x2;
        A->mean2 = ffn && layer ? take(pl, N * sizeof(float)) : NULL;
        A->rstd2 = ffn && has_norm ? take(pl, N * sizeof(float)) : NULL;
        A->pre = ffn ? take(pl, N * GF * a) : NULL;
        A->act = ffn ? take(pl, N * F * a) : NULL;
        A->trunc_saved = m->trunc ? take(pl, lilm_trunc_saved_floats(&m->trunc_p, N, F) * sizeof(float)) : NULL;
    }
    /* the low-rank activations' workspace (unknown without a backend: plan_bytes leaves it out) */
    int work = m->trunc && m->be && m->be->ops->trunc_work_bytes;
    m->trunc_work = work ? take(pl, m->be->ops->trunc_work_bytes(m->be, F, &m->trunc_p)) : NULL;
    if (m->tr) { /* a dense W of the larger ring and its gradient; the workspace needs the backend */
        size_t big = GF * C > F * C ? GF * C : F * C;
        m->tr_w = take(pl, big * sizeof(float));
        m->tr_dw = take(pl, big * sizeof(float));
        size_t w1 = m->be && m->be->ops->tr_work_bytes ? m->be->ops->tr_work_bytes(m->be, &m->tr1) : 0;
        size_t w2 = m->be && m->be->ops->tr_work_bytes ? m->be->ops->tr_work_bytes(m->be, &m->tr2) : 0;
        m->tr_work = take(pl, w1 > w2 ? w1 : w2);
    }
    m->xf = take(pl, N * C * a);
    m->hf = has_norm ? take(pl, N * C * a) : m->xf;
    m->meanf = layer ? take(pl, N * sizeof(float)) : NULL;
    m->rstdf = has_norm ? take(pl, N * sizeof(float)) : NULL;
    m->losses = take(pl, N * sizeof(float));
    m->tokens = take(pl, N * sizeof(int32_t));
    m->targets = take(pl, N * sizeof(int32_t));
    size_t wide = GF > KV ? GF : KV;
    if (AV > wide) wide = AV;
    if (Q > wide) wide = Q;
    int train = m->mode == LILM_MODEL_TRAIN; /* backward scratch (d_h also serves forward and logits) */
    m->d_res = train ? take(pl, N * C * a) : NULL;
    m->d_h = take(pl, N * C * a);
    m->d_cls = train ? take(pl, N * C * a) : NULL;
    m->d_wide = train ? take(pl, N * wide * a) : NULL;
    m->d_q = train ? take(pl, N * Q * a) : NULL;
    m->d_kv = train ? take(pl, N * KV * a) : NULL;
    m->d_lat = train && P ? take(pl, N * P * a) : NULL;
    m->dwte_cls = train ? take(pl, (size_t)c->vocab_size * C * sizeof(float)) : NULL;
    m->logits_dev = take(pl, B * (size_t)c->vocab_size * sizeof(float));
}

size_t lilm_model_plan_bytes_mode(const lilm_model_config *cfg, lilm_dtype act_dtype, size_t B, size_t T,
                                  lilm_model_mode mode)
{
    lilm_model m;
    memset(&m, 0, sizeof m);
    m.cfg = *cfg;
    m.mode = mode;
    m.act_size = lilm_dtype_size(act_dtype);
    m.acts = calloc((size_t)cfg->n_layers, sizeof *m.acts);
    if (!m.acts) return 0;
    lilm__model_components(&m);
    planner pl = {NULL, 0};
    plan_acts(&m, &pl, B, T);
    free(m.acts);
    if (lilm__model_build_table(&m) != LILM_OK) return 0;
    size_t blocks = mode == LILM_MODEL_TRAIN ? 2 : 1; /* parameters (and gradients) */
    size_t pbytes = m.n_elems * sizeof(float) * blocks + (act_dtype == LILM_DTYPE_F32 ? 0 : m.n_elems * m.act_size);
    free(m.params);
    free(m.layer_first);
    return pl.used + pbytes;
}

size_t lilm_model_plan_bytes(const lilm_model_config *cfg, lilm_dtype act_dtype, size_t B, size_t T)
{
    size_t model = lilm_model_plan_bytes_mode(cfg, act_dtype, B, T, LILM_MODEL_TRAIN);
    size_t optim = LILM_MODEL_PLAN_DEFAULT_OPTIM_ARRAYS * (size_t)lilm_model_config_param_count(cfg) * sizeof(float);
    return model ? model + optim : 0;
}

lilm_status lilm_model_init(lilm_model *m, const lilm_model_config *cfg, lilm_backend *be,
                            size_t max_B, size_t max_T, uint64_t seed)
{
    return lilm_model_init_mode(m, cfg, be, max_B, max_T, seed, LILM_MODEL_TRAIN);
}

lilm_status lilm_model_init_mode(lilm_model *m, const lilm_model_config *cfg, lilm_backend *be,
                                 size_t max_B, size_t max_T, uint64_t seed, lilm_model_mode mode)
{
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    m->mode = mode;
    m->be = be;
    m->max_B = max_B;
    m->max_T = max_T;
    m->act_size = lilm_dtype_size(be->act_dtype);
    const lilm_model_config *c = &m->cfg;
    if (c->n_layers < 1 || c->d_model < 1 || c->n_heads < 1 || c->qk_dim < 2 || c->qk_dim % 2 || c->v_dim < 1 ||
        c->vocab_size < 4 || (c->activation != LILM_ACT_NONE && c->ffn_dim < 1) || c->latent_dim < 0)
        return lilm_errorf(LILM_ERR_ARG, "invalid model shape (layers %lld, d %lld, heads %lld, qk %lld, v %lld, vocab %lld)",
                           (long long)c->n_layers, (long long)c->d_model, (long long)c->n_heads,
                           (long long)c->qk_dim, (long long)c->v_dim, (long long)c->vocab_size);
    if (!be->ops->act_supported(be, c->activation)) {
        const lilm_act_desc *a = lilm_act_info(c->activation);
        return lilm_errorf(LILM_ERR_UNSUPPORTED,
                           "model.activation %s is not on the %s backend yet\nHINT: --device cpu, or another "
                           "model.activation", a ? a->config_name : "(unknown)", be->name);
    }
    if (max_T > (size_t)c->context)
        return lilm_errorf(LILM_ERR_ARG, "sequence length %zu exceeds the model context %lld", max_T, (long long)c->context);
    m->seed = seed;
    lilm__model_components(m);
    if (m->tr && (!be->ops->tr_weight || !be->ops->tr_weight_backward || !be->ops->tr_work_bytes))
        return lilm_errorf(LILM_ERR_UNSUPPORTED, "model.ffn_tr_bond (tensor-ring feed-forward Linears) is not on "
                           "the %s backend yet\nHINT: --device cpu, or model.ffn_tr_bond=0", be->name);
    if (m->trunc) {
        LILM_TRY(lilm_trunc_params_check(&m->trunc_p, (size_t)c->ffn_dim));
        if (!be->ops->trunc_forward || !be->ops->trunc_backward || !be->ops->trunc_work_bytes)
            return lilm_errorf(LILM_ERR_UNSUPPORTED, "model.activation %s is not on the %s backend yet\n"
                               "HINT: --device cpu", lilm_act_info(c->activation)->config_name, be->name);
    }
    lilm_status st = lilm__model_build_table(m);
    if (st != LILM_OK) goto fail;

    size_t pbytes = m->n_elems * sizeof(float);
    void *p;
    if ((st = be->ops->alloc(be, &p, pbytes)) != LILM_OK) goto fail;
    m->param_block = p;
    if (mode == LILM_MODEL_TRAIN) {
        if ((st = be->ops->alloc(be, &p, pbytes)) != LILM_OK) goto fail;
        m->grad_block = p;
    }
    if (be->act_dtype == LILM_DTYPE_F32) {
        m->wc_block = m->param_block;
        m->wc_is_alias = 1;
    } else {
        if ((st = be->ops->alloc(be, &m->wc_block, m->n_elems * m->act_size)) != LILM_OK) goto fail;
    }

    m->acts = calloc((size_t)c->n_layers, sizeof *m->acts);
    m->host_losses = malloc(max_B * max_T * sizeof(float));
    if (!m->acts || !m->host_losses) {
        st = lilm_errorf(LILM_ERR_OOM, "out of memory");
        goto fail;
    }
    planner pl = {NULL, 0};
    plan_acts(m, &pl, max_B, max_T);
    m->act_bytes = pl.used;
    if ((st = be->ops->alloc(be, &m->act_block, m->act_bytes)) != LILM_OK) goto fail;
    pl.base = m->act_block;
    pl.used = 0;
    plan_acts(m, &pl, max_B, max_T);

    size_t KV = (size_t)(c->n_heads * (c->qk_dim + c->v_dim));
    size_t wide = lilm__ffn_up_width(c) > KV ? lilm__ffn_up_width(c) : KV;
    lilm_backend_plan bp = {
        .max_rows = max_B * max_T, .max_batch = max_B, .max_seq = max_T,
        .d_model = (size_t)c->d_model, .vocab = (size_t)c->vocab_size, .n_heads = (size_t)c->n_heads,
        .qk_dim = (size_t)c->qk_dim, .v_dim = (size_t)c->v_dim, .max_width = wide,
    };
    if ((st = be->ops->reserve(be, &bp, &m->scratch_bytes)) != LILM_OK) goto fail;

    /* initial weights: built on the host, uploaded once */
    float *host = malloc(pbytes);
    if (!host) {
        st = lilm_errorf(LILM_ERR_OOM, "out of memory initialising %zu parameters", m->n_elems);
        goto fail;
    }
    lilm__model_init_weights(m, host, seed);
    st = be->ops->upload(be, m->param_block, host, pbytes);
    free(host);
    if (st != LILM_OK) goto fail;
    lilm_model_sync_weights(m);
    return be->ops->sync(be);
fail:
    lilm_model_free(m);
    return st;
}

void lilm_model_free(lilm_model *m)
{
    lilm_backend *be = m->be;
    if (be) {
        if (m->param_block) be->ops->free(be, m->param_block);
        if (m->grad_block) be->ops->free(be, m->grad_block);
        if (m->wc_block && !m->wc_is_alias) be->ops->free(be, m->wc_block);
        if (m->act_block) be->ops->free(be, m->act_block);
    }
    free(m->params);
    free(m->layer_first);
    free(m->acts);
    free(m->host_losses);
    memset(m, 0, sizeof *m);
}

size_t lilm_model_bytes(const lilm_model *m)
{
    size_t pbytes = m->n_elems * sizeof(float);
    return (m->grad_block ? 2 : 1) * pbytes + (m->wc_is_alias ? 0 : m->n_elems * m->act_size) + m->act_bytes +
           m->scratch_bytes;
}

static double mib(size_t b) { return (double)b / (1024.0 * 1024.0); }

void lilm_model_print_plan(const lilm_model *m, const char *extra_name, size_t extra_bytes, FILE *f)
{
    size_t pbytes = m->n_elems * sizeof(float);
    fprintf(f, "memory plan (%s, micro-batch %zu x %zu):\n", m->be->name, m->max_B, m->max_T);
    fprintf(f, "  parameters   %10zu  %8.1f MiB  fp32\n", m->n_elems, mib(pbytes));
    if (m->grad_block) fprintf(f, "  gradients                %8.1f MiB  fp32\n", mib(pbytes));
    if (extra_bytes) fprintf(f, "  %-24s %8.1f MiB  fp32\n", extra_name, mib(extra_bytes));
    if (!m->wc_is_alias) fprintf(f, "  weight copy              %8.1f MiB  bf16\n", mib(m->n_elems * m->act_size));
    fprintf(f, "  activations              %8.1f MiB\n", mib(m->act_bytes));
    fprintf(f, "  backend scratch          %8.1f MiB\n", mib(m->scratch_bytes));
    fprintf(f, "  total                    %8.1f MiB\n", mib(lilm_model_bytes(m) + extra_bytes));
}

void lilm_model_sync_weights(lilm_model *m)
{
    if (!m->wc_is_alias) m->be->ops->cast_to_act(m->be, m->wc_block, m->param_block, m->n_elems);
}

void lilm_model_set_step(lilm_model *m, int64_t step) { m->step = step; }

void lilm_model_zero_grad(lilm_model *m)
{
    if (m->grad_block) m->be->ops->zero(m->be, m->grad_block, m->n_elems * sizeof(float));
}

static lilm_status logits_rows(lilm_model *m, float *out, size_t first_row, size_t rows, size_t row_step)
{
    lilm_backend *be = m->be;
    size_t C = (size_t)m->cfg.d_model, V = (size_t)m->cfg.vocab_size;
    const void *wte = (char *)m->wc_block + m->params[m->emb_index].offset * m->act_size;
    for (size_t r = 0; r < rows;) {
        size_t chunk = rows - r < m->max_B ? rows - r : m->max_B;
        if (row_step == 1) {
            be->ops->classifier_logits(be, m->logits_dev, lilm__act_at(m, m->hf, (first_row + r) * C), wte, chunk, C, V);
        } else {
            /* gather the rows into d_h (free outside backward), then one classifier call */
            for (size_t k = 0; k < chunk; k++)
                be->ops->copy(be, lilm__act_at(m, m->d_h, k * C), lilm__act_at(m, m->hf, (first_row + (r + k) * row_step) * C), C);
            be->ops->classifier_logits(be, m->logits_dev, m->d_h, wte, chunk, C, V);
        }
        LILM_TRY(be->ops->download(be, out + r * V, m->logits_dev, chunk * V * sizeof(float)));
        r += chunk;
    }
    return be->ops->sync(be);
}

lilm_status lilm_model_all_logits(lilm_model *m, float *logits)
{
    if (!m->cur_T) return lilm_errorf(LILM_ERR_ARG, "no forward pass to take logits from");
    return logits_rows(m, logits, 0, m->cur_B * m->cur_T, 1);
}

double lilm_model_train_flops(const lilm_model_config *c, size_t B, size_t T)
{
    /* 6 FLOPs per parameter per token for the matmuls (the tied classifier
     * counts through the embedding), plus attention: QK^T and AV, forward
     * (2 each) and backward (4 each), counted over the full T x T square as
     * is customary: 6 * T * H * (Dq + Dv) per token and layer. */
    lilm_model tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.cfg = *c;
    if (lilm__model_build_table(&tmp) != LILM_OK) return 0;
    double params = (double)tmp.n_elems;
    free(tmp.params);
    free(tmp.layer_first);
    double tokens = (double)B * (double)T;
    double attn = 6.0 * (double)T * (double)(c->n_heads * (c->qk_dim + c->v_dim)) * (double)c->n_layers;
    return 6.0 * params * tokens + attn * tokens;
}
