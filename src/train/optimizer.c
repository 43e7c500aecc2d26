/*
 * optimizer.c: gradient sanitising, global-norm clipping and AdamW.
 */
#include "train/optimizer.h"

#include <math.h>
#include <stdlib.h>

lilm_status lilm_optimizer_init(lilm_optimizer *opt, lilm_model *m, const lilm_train_config *t)
{
    opt->n_tensors = (size_t)m->n_params;
    opt->tensors = calloc(opt->n_tensors, sizeof *opt->tensors);
    if (!opt->tensors) return lilm_errorf(LILM_ERR_OOM, "out of memory for the optimizer table");
    for (int i = 0; i < m->n_params; i++) {
        const lilm_param *p = &m->params[i];
        lilm_adamw_tensor *x = &opt->tensors[i];
        x->param = m->param_block + p->offset;
        x->grad = m->grad_block + p->offset;
        x->m = m->m_block + p->offset;
        x->v = m->v_block + p->offset;
        x->n = p->numel;
        x->weight_decay = p->decay ? (float)t->weight_decay : 0.0f;
    }
    opt->hp.lr = (float)t->lr;
    opt->hp.beta1 = (float)t->beta1;
    opt->hp.beta2 = (float)t->beta2;
    opt->hp.eps = (float)t->adam_eps;
    opt->hp.step = 0;
    opt->grad_clip = t->grad_clip;
    return LILM_OK;
}

void lilm_optimizer_free(lilm_optimizer *opt)
{
    free(opt->tensors);
    opt->tensors = NULL;
}

lilm_status lilm_optimizer_step(lilm_optimizer *opt, lilm_model *m, double lr, lilm_step_stats *stats)
{
    lilm_backend *be = m->be;
    double sumsq = 0;
    int64_t bad = 0;
    be->grad_sanitize(be, m->grad_block, m->n_elems, &sumsq, &bad);
    double norm = sqrt(sumsq);
    if (opt->grad_clip > 0) {
        double coef = opt->grad_clip / (norm + 1e-6);
        if (coef < 1.0) be->scale(be, m->grad_block, m->n_elems, (float)coef);
    }
    opt->hp.step++;
    opt->hp.lr = (float)lr;
    be->adamw(be, opt->tensors, opt->n_tensors, &opt->hp);
    lilm_model_sync_weights(m);
    if (stats) {
        stats->grad_norm = norm;
        stats->n_nonfinite = bad;
        stats->lr = lr;
    }
    return be->sync(be);
}
