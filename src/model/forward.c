/*
 * forward.c: the transformer's forward pass, built from backend ops.
 *
 * Per layer l, with N = B*T rows (shapes in model.h's lilm_layer_acts):
 *   h1  = norm1(x)                        (N, C)
 *   q   = h1 @ Wq^T + bq                  (N, H*Dq), then RoPE
 *   kv  = h1 @ Wkv^T + bkv                (N, H*(Dq+Dv)) = [k | v], RoPE on k
 *         (latent: lat = h1 @ W0^T + b0, kv = lat @ W1^T + b1)
 *   att = softmax(q k^T / sqrt(Dq), causal) v   (N, H*Dv)
 *   x2  = x + att @ Wp^T + bp
 *   x'  = x2 + act(norm2(x2) @ W1^T + b1) @ W2^T + b2
 *         (gated, SwiGLU: pre = norm2(x2) @ W1^T + b1 is (N, 2F) = [g | u] and
 *         act(pre) = silu(g) * u is (N, F); a low-rank activation of
 *         ops/truncation.h maps each token's pre row as a d x F/d matrix and
 *         keeps its state in trunc_saved)
 * then hf = final_norm(x_L) and the tied classifier with cross-entropy.
 * Norm weights and biases are read from the fp32 parameters; matrices from
 * the compute copy (which is the fp32 block itself on CPU).
 */
#include "model/model_impl.h"

#include <string.h>

static void norm_fwd(lilm_model *m, void *out, float *mean, float *rstd, const void *in,
                     const float *w, const float *b, size_t N)
{
    if (m->cfg.norm == LILM_NORM_NONE) return; /* out aliases in */
    m->be->ops->norm_forward(m->be, out, m->cfg.norm == LILM_NORM_LAYER ? mean : NULL, rstd, in, w,
                        m->cfg.norm == LILM_NORM_LAYER ? b : NULL, N, (size_t)m->cfg.d_model, lilm__norm_eps(&m->cfg));
}

lilm_status lilm_model_forward(lilm_model *m, const int32_t *inputs, const int32_t *targets,
                               size_t B, size_t T, float grad_scale, double *loss_sum,
                               int64_t *n_counted)
{
    lilm_backend *be = m->be;
    const lilm_model_config *c = &m->cfg;
    if (B > m->max_B || T > m->max_T || B == 0 || T == 0)
        return lilm_errorf(LILM_ERR_ARG, "batch %zu x %zu exceeds the planned %zu x %zu", B, T, m->max_B, m->max_T);
    if (grad_scale > 0 && !targets) return lilm_errorf(LILM_ERR_ARG, "a training forward needs targets");
    if (grad_scale > 0 && m->mode != LILM_MODEL_TRAIN)
        return lilm_errorf(LILM_ERR_ARG, "a training forward needs a model built for training (this one is inference-only)");
    size_t N = B * T, C = (size_t)c->d_model, H = (size_t)c->n_heads, Dq = (size_t)c->qk_dim, Dv = (size_t)c->v_dim;
    size_t Q = H * Dq, KV = H * (Dq + Dv), AV = H * Dv, F = (size_t)c->ffn_dim, P = (size_t)c->latent_dim;
    float base = (float)c->rope_base;
    int ffn = c->activation != LILM_ACT_NONE;
    int64_t V = c->vocab_size;
    for (size_t i = 0; i < N; i++)
        if (inputs[i] < 0 || inputs[i] >= V)
            return lilm_errorf(LILM_ERR_ARG, "token id %d at position %zu is outside the vocabulary (%lld)",
                               inputs[i], i, (long long)V);
    m->cur_B = B;
    m->cur_T = T;
    m->pending_backward = 0;
    LILM_TRY(be->ops->upload(be, m->tokens, inputs, N * sizeof(int32_t)));
    if (targets) LILM_TRY(be->ops->upload(be, m->targets, targets, N * sizeof(int32_t)));

    const lilm_param *emb = &m->params[m->emb_index];
    void *wte = (char *)m->wc_block + emb->offset * m->act_size;
    be->ops->embedding_forward(be, m->acts[0].x, m->tokens, wte, N, C);

    for (int l = 0; l < c->n_layers; l++) {
        lilm_layer_acts *A = &m->acts[l];
        lilm_layer_ptrs W, PF;
        lilm__layer_ptrs(m, l, m->wc_block, m->act_size, &W);
        lilm__layer_ptrs(m, l, m->param_block, sizeof(float), &PF);
        void *x_next = l + 1 < c->n_layers ? m->acts[l + 1].x : m->xf;

        norm_fwd(m, A->h1, A->mean1, A->rstd1, A->x, PF.norm1_w, PF.norm1_b, N);
        be->ops->matmul_forward(be, A->q, NULL, A->h1, W.q_w, PF.q_b, N, C, Q, LILM_ACT_NONE);
        if (P) {
            be->ops->matmul_forward(be, A->lat, NULL, A->h1, W.lat_w, PF.lat_b, N, C, P, LILM_ACT_NONE);
            be->ops->matmul_forward(be, A->kv, NULL, A->lat, W.kv_w, PF.kv_b, N, P, KV, LILM_ACT_NONE);
        } else {
            be->ops->matmul_forward(be, A->kv, NULL, A->h1, W.kv_w, PF.kv_b, N, C, KV, LILM_ACT_NONE);
        }
        be->ops->rope_forward(be, A->q, B, T, H, Dq, Q, 0, base);
        be->ops->rope_forward(be, A->kv, B, T, H, Dq, KV, 0, base);
        be->ops->attention_forward(be, A->att, A->lse, A->q, A->kv, lilm__act_at(m, A->kv, Q), B, T, T, 0, H, Dq, Dv, Q, KV);
        /* d_h is free during the forward pass: use it for the reprojection and FFN outputs */
        be->ops->matmul_forward(be, m->d_h, NULL, A->att, W.proj_w, PF.proj_b, N, AV, C, LILM_ACT_NONE);
        if (ffn) {
            be->ops->add(be, A->x2, A->x, m->d_h, N * C);
            norm_fwd(m, A->h2, A->mean2, A->rstd2, A->x2, PF.norm2_w, PF.norm2_b, N);
            const void *w1 = lilm__ffn_weight(m, W.w1, PF.w1, 0); /* dense, or built from ring cores */
            lilm__ffn_up(m, l, A->act, A->pre, A->trunc_saved, m->trunc_work, A->h2, w1, PF.b1, N);
            const void *w2 = lilm__ffn_weight(m, W.w2, PF.w2, 1);
            be->ops->matmul_forward(be, m->d_h, NULL, A->act, w2, PF.b2, N, F, C, LILM_ACT_NONE);
            be->ops->add(be, x_next, A->x2, m->d_h, N * C);
        } else {
            be->ops->add(be, A->x2, A->x, m->d_h, N * C);
            be->ops->copy(be, x_next, A->x2, N * C);
        }
    }
    const float *fw = m->final_norm_w >= 0 ? m->param_block + m->params[m->final_norm_w].offset : NULL;
    const float *fb = m->final_norm_b >= 0 ? m->param_block + m->params[m->final_norm_b].offset : NULL;
    norm_fwd(m, m->hf, m->meanf, m->rstdf, m->xf, fw, fb, N);

    if (!targets) {
        if (loss_sum) *loss_sum = 0;
        if (n_counted) *n_counted = 0;
        return be->ops->sync(be);
    }
    int32_t pad = (int32_t)c->pad_id;
    if (grad_scale > 0) {
        be->ops->zero(be, m->dwte_cls, (size_t)V * C * sizeof(float));
        be->ops->classifier_xent(be, m->losses, m->d_cls, m->dwte_cls, m->hf, wte, m->targets, N, C, (size_t)V, pad, grad_scale);
        m->pending_backward = 1;
    } else {
        be->ops->classifier_xent(be, m->losses, NULL, NULL, m->hf, wte, m->targets, N, C, (size_t)V, pad, 0.0f);
    }
    LILM_TRY(be->ops->download(be, m->host_losses, m->losses, N * sizeof(float)));
    LILM_TRY(be->ops->sync(be));
    double sum = 0;
    int64_t count = 0;
    for (size_t i = 0; i < N; i++) {
        if (targets[i] == pad) continue;
        sum += m->host_losses[i];
        count++;
    }
    if (loss_sum) *loss_sum = sum;
    if (n_counted) *n_counted = count;
    return LILM_OK;
}
