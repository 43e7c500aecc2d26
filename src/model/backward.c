/*
 * backward.c: the transformer's backward pass, the forward in reverse.
 *
 * d_res carries the gradient of the residual stream down the layers. Norm
 * backward ops ADD into it (the residual's own path), matmul backward ops
 * write their input gradients, and every parameter gradient accumulates into
 * grad_block. The classifier's gradients were computed by the training
 * forward (d_cls, dwte_cls) and are folded in first.
 */
#include "model/model_impl.h"

/* d_res += norm'(dout); with norm "none" the norm is the identity. */
static void norm_bwd(lilm_model *m, float *dw, float *db, const void *dout, const void *in,
                     const float *w, const float *mean, const float *rstd, size_t N)
{
    size_t C = (size_t)m->cfg.d_model;
    if (m->cfg.norm == LILM_NORM_NONE) {
        m->be->ops->accumulate(m->be, m->d_res, dout, N * C);
        return;
    }
    m->be->ops->norm_backward(m->be, m->d_res, dw, m->cfg.norm == LILM_NORM_LAYER ? db : NULL, dout, in, w,
                         m->cfg.norm == LILM_NORM_LAYER ? mean : NULL, rstd, N, C);
}

lilm_status lilm_model_backward(lilm_model *m)
{
    lilm_backend *be = m->be;
    const lilm_model_config *c = &m->cfg;
    if (!m->pending_backward) return lilm_errorf(LILM_ERR_ARG, "backward without a training forward");
    m->pending_backward = 0;
    size_t B = m->cur_B, T = m->cur_T, N = B * T;
    size_t C = (size_t)c->d_model, H = (size_t)c->n_heads, Dq = (size_t)c->qk_dim, Dv = (size_t)c->v_dim;
    size_t Q = H * Dq, KV = H * (Dq + Dv), AV = H * Dv, F = (size_t)c->ffn_dim, P = (size_t)c->latent_dim;
    size_t V = (size_t)c->vocab_size;
    float base = (float)c->rope_base;
    int ffn = c->activation != LILM_ACT_NONE, gated = lilm__ffn_up_width(c) != (size_t)c->ffn_dim;

    float *gemb = m->grad_block + m->params[m->emb_index].offset;
    be->ops->axpy(be, gemb, m->dwte_cls, V * C, 1.0f);

    /* final norm: d_res = final_norm'(d_cls) */
    be->ops->zero(be, m->d_res, N * C * m->act_size);
    {
        const float *fw = m->final_norm_w >= 0 ? m->param_block + m->params[m->final_norm_w].offset : NULL;
        float *dfw = m->final_norm_w >= 0 ? m->grad_block + m->params[m->final_norm_w].offset : NULL;
        float *dfb = m->final_norm_b >= 0 ? m->grad_block + m->params[m->final_norm_b].offset : NULL;
        norm_bwd(m, dfw, dfb, m->d_cls, m->xf, fw, m->meanf, m->rstdf, N);
    }

    for (int l = (int)c->n_layers - 1; l >= 0; l--) {
        lilm_layer_acts *A = &m->acts[l];
        lilm_layer_ptrs W, PF, G;
        lilm__layer_ptrs(m, l, m->wc_block, m->act_size, &W);
        lilm__layer_ptrs(m, l, m->param_block, sizeof(float), &PF);
        lilm__layer_ptrs(m, l, m->grad_block, sizeof(float), &G);

        if (ffn) {
            /* d_res is the gradient w.r.t. x' = x2 + ffn(x2) */
            const void *w2 = lilm__ffn_weight(m, W.w2, PF.w2, 1); /* dense, or built from ring cores */
            be->ops->matmul_backward(be, m->d_wide, lilm__ffn_dweight(m, G.w2), G.b2, m->d_res, NULL, A->act, w2, N, F, C,
                                LILM_ACT_NONE, 0);
            lilm__ffn_dweight_done(m, G.w2, PF.w2, 1);
            const void *w1 = lilm__ffn_weight(m, W.w1, PF.w1, 0);
            float *gw1 = lilm__ffn_dweight(m, G.w1);
            if (gated) { /* dpre (N, 2F) overwrites pre, which nothing reads after this */
                be->ops->glu_backward(be, A->pre, m->d_wide, A->pre, N, F, c->activation);
                be->ops->matmul_backward(be, m->d_h, gw1, G.b1, A->pre, NULL, A->h2, w1, N, C, 2 * F, LILM_ACT_NONE, 0);
            } else if (m->trunc) { /* dpre (N, F) into act, which W2's backward has read */
                be->ops->trunc_backward(be, A->act, m->d_wide, A->pre, A->trunc_saved, N, F, &m->trunc_p, m->trunc_work);
                be->ops->matmul_backward(be, m->d_h, gw1, G.b1, A->act, NULL, A->h2, w1, N, C, F, LILM_ACT_NONE, 0);
            } else {
                be->ops->matmul_backward(be, m->d_h, gw1, G.b1, m->d_wide, A->pre, A->h2, w1, N, C, F, c->activation, 0);
            }
            lilm__ffn_dweight_done(m, G.w1, PF.w1, 0);
            norm_bwd(m, G.norm2_w, G.norm2_b, m->d_h, A->x2, PF.norm2_w, A->mean2, A->rstd2, N);
        }
        /* d_res is now the gradient w.r.t. x2 = x + reproject(att) */
        be->ops->matmul_backward(be, m->d_wide, G.proj_w, G.proj_b, m->d_res, NULL, A->att, W.proj_w, N, AV, C, LILM_ACT_NONE, 0);
        be->ops->attention_backward(be, m->d_q, m->d_kv, lilm__act_at(m, m->d_kv, Q), m->d_wide, A->q, A->kv,
                               lilm__act_at(m, A->kv, Q), A->att, A->lse, B, T, H, Dq, Dv, Q, KV);
        be->ops->rope_backward(be, m->d_q, B, T, H, Dq, Q, 0, base);
        be->ops->rope_backward(be, m->d_kv, B, T, H, Dq, KV, 0, base);
        be->ops->matmul_backward(be, m->d_h, G.q_w, G.q_b, m->d_q, NULL, A->h1, W.q_w, N, C, Q, LILM_ACT_NONE, 0);
        if (P) {
            be->ops->matmul_backward(be, m->d_lat, G.kv_w, G.kv_b, m->d_kv, NULL, A->lat, W.kv_w, N, P, KV, LILM_ACT_NONE, 0);
            be->ops->matmul_backward(be, m->d_h, G.lat_w, G.lat_b, m->d_lat, NULL, A->h1, W.lat_w, N, C, P, LILM_ACT_NONE, 1);
        } else {
            be->ops->matmul_backward(be, m->d_h, G.kv_w, G.kv_b, m->d_kv, NULL, A->h1, W.kv_w, N, C, KV, LILM_ACT_NONE, 1);
        }
        norm_bwd(m, G.norm1_w, G.norm1_b, m->d_h, A->x, PF.norm1_w, A->mean1, A->rstd1, N);
    }
    be->ops->embedding_backward(be, gemb, m->d_res, m->tokens, N, C, V);
    return be->ops->sync(be);
}
