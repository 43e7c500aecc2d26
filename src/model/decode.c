/*
 * decode.c: incremental (KV-cache) decoding for sampling.
 *
 * A decoder step takes n new tokens per sequence at positions pos..pos+n-1
 * (n > 1 is a prompt prefill, n == 1 a generation step). Per layer, with
 * R = B*n rows:
 *   h     = norm1(x)                              (R, C)
 *   q     = h @ Wq^T + bq, RoPE at pos0 = pos      (R, H*Dq)
 *   kvnew = h @ Wkv^T + bkv, RoPE on k at pos      (R, H*(Dq+Dv))
 *   cache[b, pos..pos+n-1] = kvnew[b]              cache (B, Tmax, H*(Dq+Dv))
 *   att   = attention(q, cache[b, 0..pos+n-1])     (R, H*Dv), causal
 *   x    += att @ Wp^T + bp
 *   x    += W2(act(W1(norm2(x))))
 * then the final norm of each sequence's last new row and the tied
 * classifier give (B, V) logits. The math is the training forward's
 * (forward.c) restricted to the new rows, so the logits match a full forward
 * at every position up to float rounding (tests/test_decode.c checks this).
 *
 * Memory: caches and step buffers are carved from one backend allocation in
 * lilm_decoder_init; a step allocates nothing. Attention runs once per
 * sequence because the backend's KV-cache form expects each sequence's keys
 * contiguous over Tk = pos+n rows, while a cache row stride is Tmax.
 */
#include "model/model_impl.h"

#include <stdlib.h>
#include <string.h>

typedef struct dplan {
    char *base; /* NULL while counting */
    size_t used;
} dplan;

static void *dtake(dplan *p, size_t bytes)
{
    size_t at = p->used;
    p->used += (bytes + 255) & ~(size_t)255;
    return p->base ? p->base + at : NULL;
}

/* Lays the decoder's buffers out over p (counting when p->base is NULL). */
static void plan_decoder(lilm_decoder *d, const lilm_model_config *c, size_t a, dplan *p)
{
    size_t R = d->B * d->max_chunk, C = (size_t)c->d_model, H = (size_t)c->n_heads;
    size_t Q = H * (size_t)c->qk_dim, KV = H * (size_t)(c->qk_dim + c->v_dim), AV = H * (size_t)c->v_dim;
    size_t F = (size_t)c->ffn_dim, P = (size_t)c->latent_dim;
    int ffn = c->activation != LILM_ACT_NONE;
    for (int64_t l = 0; l < c->n_layers; l++) {
        void *kv = dtake(p, d->B * d->Tmax * KV * a);
        if (d->kv) d->kv[l] = kv;
    }
    d->tokens = dtake(p, R * sizeof(int32_t));
    d->x = dtake(p, R * C * a);
    d->h = dtake(p, R * C * a);
    d->rstd = dtake(p, R * sizeof(float));
    d->mean = dtake(p, R * sizeof(float));
    d->q = dtake(p, R * Q * a);
    d->lat = P ? dtake(p, R * P * a) : NULL;
    d->kvnew = dtake(p, R * KV * a);
    d->att = dtake(p, R * AV * a);
    d->tmp = dtake(p, R * C * a);
    d->pre = ffn ? dtake(p, R * lilm__ffn_up_width(c) * a) : NULL;
    d->act = ffn ? dtake(p, R * F * a) : NULL;
    lilm_trunc_params tp;
    int trunc = lilm_trunc_from_config(c, &tp);
    d->trunc_saved = trunc ? dtake(p, lilm_trunc_saved_floats(&tp, R, F) * sizeof(float)) : NULL;
    d->trunc_work = trunc && d->m ? dtake(p, d->m->be->ops->trunc_work_bytes(d->m->be, F, &tp)) : NULL;
    d->last = dtake(p, d->B * C * a);
    d->logits_dev = dtake(p, d->B * (size_t)c->vocab_size * sizeof(float));
}

size_t lilm_decoder_plan_bytes(const lilm_model_config *cfg, lilm_dtype act_dtype, size_t B, size_t Tmax,
                               size_t max_chunk)
{
    lilm_decoder d;
    memset(&d, 0, sizeof d);
    d.B = B;
    d.Tmax = Tmax;
    d.max_chunk = max_chunk;
    dplan p = {NULL, 0};
    plan_decoder(&d, cfg, lilm_dtype_size(act_dtype), &p);
    return p.used;
}

lilm_status lilm_decoder_init(lilm_decoder *d, lilm_model *m, size_t B, size_t Tmax, size_t max_chunk)
{
    memset(d, 0, sizeof *d);
    const lilm_model_config *c = &m->cfg;
    if (B == 0 || Tmax == 0 || max_chunk == 0 || max_chunk > Tmax)
        return lilm_errorf(LILM_ERR_ARG, "decoder shape %zu x %zu (chunk %zu) is invalid", B, Tmax, max_chunk);
    if (Tmax > (size_t)c->context)
        return lilm_errorf(LILM_ERR_ARG, "decoder length %zu exceeds the model context %lld\nHINT: generate fewer tokens",
                           Tmax, (long long)c->context);
    d->m = m;
    d->B = B;
    d->Tmax = Tmax;
    d->max_chunk = max_chunk;
    d->kv = calloc((size_t)c->n_layers, sizeof *d->kv);
    if (!d->kv) return lilm_errorf(LILM_ERR_OOM, "out of memory");
    dplan p = {NULL, 0};
    plan_decoder(d, c, m->act_size, &p);
    d->bytes = p.used;
    lilm_backend *be = m->be;
    lilm_status st = be->ops->alloc(be, &d->block, d->bytes);
    if (st != LILM_OK) {
        free(d->kv);
        d->kv = NULL;
        return st;
    }
    p.base = d->block;
    p.used = 0;
    plan_decoder(d, c, m->act_size, &p);
    size_t H = (size_t)c->n_heads, KV = H * (size_t)(c->qk_dim + c->v_dim), wide = lilm__ffn_up_width(c);
    if (KV > wide) wide = KV;
    lilm_backend_plan bp = {.max_rows = B * max_chunk, .max_batch = B, .max_seq = Tmax, .d_model = (size_t)c->d_model,
                            .vocab = (size_t)c->vocab_size, .n_heads = H, .qk_dim = (size_t)c->qk_dim,
                            .v_dim = (size_t)c->v_dim, .max_width = wide};
    size_t scratch = 0;
    st = be->ops->reserve(be, &bp, &scratch);
    if (st != LILM_OK) lilm_decoder_free(d);
    return st;
}

void lilm_decoder_free(lilm_decoder *d)
{
    if (d->block) d->m->be->ops->free(d->m->be, d->block);
    free(d->kv);
    memset(d, 0, sizeof *d);
}

void lilm_decoder_reset(lilm_decoder *d) { d->pos = 0; }

static void dnorm(lilm_decoder *d, void *out, const void *in, const float *w, const float *b, size_t R)
{
    const lilm_model_config *c = &d->m->cfg;
    lilm_backend *be = d->m->be;
    if (c->norm == LILM_NORM_NONE) {
        be->ops->copy(be, out, in, R * (size_t)c->d_model);
        return;
    }
    int layer = c->norm == LILM_NORM_LAYER;
    be->ops->norm_forward(be, out, layer ? d->mean : NULL, d->rstd, in, w, layer ? b : NULL, R, (size_t)c->d_model,
                     lilm__norm_eps(c));
}

lilm_status lilm_decoder_step(lilm_decoder *d, const int32_t *tokens, size_t n, float *logits)
{
    lilm_model *m = d->m;
    lilm_backend *be = m->be;
    const lilm_model_config *c = &m->cfg;
    if (n == 0 || n > d->max_chunk)
        return lilm_errorf(LILM_ERR_ARG, "decoder step of %zu tokens (at most %zu)", n, d->max_chunk);
    if (d->pos + n > d->Tmax)
        return lilm_errorf(LILM_ERR_ARG, "the decoder cache holds %zu tokens; %zu more do not fit", d->Tmax, n);
    size_t B = d->B, R = B * n, C = (size_t)c->d_model, H = (size_t)c->n_heads, Dq = (size_t)c->qk_dim;
    size_t Dv = (size_t)c->v_dim, Q = H * Dq, KV = H * (Dq + Dv), AV = H * Dv, F = (size_t)c->ffn_dim;
    size_t P = (size_t)c->latent_dim, V = (size_t)c->vocab_size, a = m->act_size, pos = d->pos;
    float base = (float)c->rope_base;
    int ffn = c->activation != LILM_ACT_NONE;
    for (size_t i = 0; i < R; i++)
        if (tokens[i] < 0 || (int64_t)tokens[i] >= c->vocab_size)
            return lilm_errorf(LILM_ERR_ARG, "token id %d is outside the vocabulary (%lld)", tokens[i],
                               (long long)c->vocab_size);
    LILM_TRY(be->ops->upload(be, d->tokens, tokens, R * sizeof(int32_t)));
    const void *wte = (char *)m->wc_block + m->params[m->emb_index].offset * a;
    be->ops->embedding_forward(be, d->x, d->tokens, wte, R, C);

    for (int l = 0; l < (int)c->n_layers; l++) {
        lilm_layer_ptrs W, PF;
        lilm__layer_ptrs(m, l, m->wc_block, a, &W);
        lilm__layer_ptrs(m, l, m->param_block, sizeof(float), &PF);
        dnorm(d, d->h, d->x, PF.norm1_w, PF.norm1_b, R);
        be->ops->matmul_forward(be, d->q, NULL, d->h, W.q_w, PF.q_b, R, C, Q, LILM_ACT_NONE);
        if (P) {
            be->ops->matmul_forward(be, d->lat, NULL, d->h, W.lat_w, PF.lat_b, R, C, P, LILM_ACT_NONE);
            be->ops->matmul_forward(be, d->kvnew, NULL, d->lat, W.kv_w, PF.kv_b, R, P, KV, LILM_ACT_NONE);
        } else {
            be->ops->matmul_forward(be, d->kvnew, NULL, d->h, W.kv_w, PF.kv_b, R, C, KV, LILM_ACT_NONE);
        }
        be->ops->rope_forward(be, d->q, B, n, H, Dq, Q, pos, base);
        be->ops->rope_forward(be, d->kvnew, B, n, H, Dq, KV, pos, base);
        for (size_t b = 0; b < B; b++) {
            void *cache_b = (char *)d->kv[l] + b * d->Tmax * KV * a; // (Tmax, KV)
            be->ops->copy(be, (char *)cache_b + pos * KV * a, (char *)d->kvnew + b * n * KV * a, n * KV);
            be->ops->attention_forward(be, (char *)d->att + b * n * AV * a, NULL, (char *)d->q + b * n * Q * a, cache_b,
                                  (char *)cache_b + Q * a, 1, n, pos + n, pos, H, Dq, Dv, Q, KV);
        }
        be->ops->matmul_forward(be, d->tmp, NULL, d->att, W.proj_w, PF.proj_b, R, AV, C, LILM_ACT_NONE);
        be->ops->add(be, d->x, d->x, d->tmp, R * C);
        if (ffn) {
            dnorm(d, d->h, d->x, PF.norm2_w, PF.norm2_b, R);
            const void *w1 = lilm__ffn_weight(m, W.w1, PF.w1, 0); /* ring cores: m's scratch W */
            lilm__ffn_up(m, (int)l, d->act, d->pre, d->trunc_saved, d->trunc_work, d->h, w1, PF.b1, R);
            const void *w2 = lilm__ffn_weight(m, W.w2, PF.w2, 1);
            be->ops->matmul_forward(be, d->tmp, NULL, d->act, w2, PF.b2, R, F, C, LILM_ACT_NONE);
            be->ops->add(be, d->x, d->x, d->tmp, R * C);
        }
    }
    d->pos += n;
    if (logits) {
        /* gather each sequence's last row, then the final norm and the classifier on B rows */
        for (size_t b = 0; b < B; b++)
            be->ops->copy(be, (char *)d->tmp + b * C * a, (char *)d->x + (b * n + n - 1) * C * a, C);
        const float *fw = m->final_norm_w >= 0 ? m->param_block + m->params[m->final_norm_w].offset : NULL;
        const float *fb = m->final_norm_b >= 0 ? m->param_block + m->params[m->final_norm_b].offset : NULL;
        dnorm(d, d->last, d->tmp, fw, fb, B);
        be->ops->classifier_logits(be, d->logits_dev, d->last, wte, B, C, V);
        LILM_TRY(be->ops->download(be, logits, d->logits_dev, B * V * sizeof(float)));
    }
    return be->ops->sync(be);
}
