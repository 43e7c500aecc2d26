/*
 * optimizer.c: parameter groups and their state, gradient sanitising and
 * global-norm clipping, one step over every group.
 */
#include "train/optimizer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/components.h"

/* The kind that updates a tensor of `ndim` dimensions in `layer` (-1: outside
 * the layers): with train.optimizer=muon the layers' 2-D weights go to Muon;
 * everything else (the tied embedding, norms, biases) stays on AdamW. */
static const lilm_optim_kind *kind_for(int ndim, int layer, const lilm_train_config *t)
{
    if (t && t->optimizer == LILM_OPT_MUON && ndim == 2 && layer >= 0) return &lilm_optim_muon;
    return &lilm_optim_adamw;
}

static const lilm_optim_kind *kind_of(const lilm_param *p, const lilm_train_config *t)
{
    return kind_for(p->ndim, p->layer, t);
}

static void free_group(lilm_optim_group *g, lilm_backend *be)
{
    if (g->kind && g->kind->free) g->kind->free(g);
    for (int s = 0; s < LILM_OPTIM_SLOTS_MAX; s++)
        if (g->slots[s].block) be->ops->free(be, g->slots[s].block);
    free(g->params);
    free(g->offsets);
    memset(g, 0, sizeof *g);
}

/* Collects the parameters of `kind` into g and allocates its zeroed state. */
static lilm_status build_group(lilm_optim_group *g, const lilm_optim_kind *kind, lilm_model *m,
                               const lilm_train_config *t)
{
    g->kind = kind;
    g->params = malloc((size_t)m->n_params * sizeof *g->params);
    g->offsets = malloc((size_t)m->n_params * sizeof *g->offsets);
    if (!g->params || !g->offsets) return lilm_errorf(LILM_ERR_OOM, "out of memory for an optimizer group");
    for (int i = 0; i < m->n_params; i++) {
        if (kind_of(&m->params[i], t) != kind) continue;
        g->params[g->n] = i;
        g->offsets[g->n] = g->numel;
        g->numel += m->params[i].numel;
        g->n++;
    }
    size_t bytes = g->numel * sizeof(float);
    for (int s = 0; s < kind->n_slots; s++) {
        void *p = NULL;
        LILM_TRY(m->be->ops->alloc(m->be, &p, bytes));
        m->be->ops->zero(m->be, p, bytes);
        g->slots[s].block = p;
        g->slots[s].prefix = kind->slot_prefix[s];
    }
    for (int c = 0; c < kind->n_counters; c++) g->counters[c].name = kind->counter_name[c];
    return kind->init(g, m, t);
}

lilm_status lilm_optimizer_init(lilm_optimizer *opt, lilm_model *m, const lilm_train_config *t)
{
    memset(opt, 0, sizeof *opt);
    if (!m->grad_block)
        return lilm_errorf(LILM_ERR_ARG, "the model was built for inference: it has no gradients to optimize");
    static const lilm_optim_kind *const kinds[] = {&lilm_optim_adamw, &lilm_optim_muon};
    const size_t n_kinds = sizeof kinds / sizeof kinds[0];
    opt->be = m->be;
    opt->grad_clip = t->grad_clip;
    opt->groups = calloc(n_kinds, sizeof *opt->groups);
    if (!opt->groups) return lilm_errorf(LILM_ERR_OOM, "out of memory for the optimizer");
    for (size_t k = 0; k < n_kinds; k++) {
        int used = 0;
        for (int i = 0; i < m->n_params && !used; i++) used = kind_of(&m->params[i], t) == kinds[k];
        if (!used) continue;
        lilm_status st = build_group(&opt->groups[opt->n_groups++], kinds[k], m, t);
        if (st != LILM_OK) {
            lilm_optimizer_free(opt);
            return st;
        }
    }
    int slots = 0, counters = 0;
    for (int i = 0; i < opt->n_groups; i++) {
        slots += opt->groups[i].kind->n_slots;
        counters += opt->groups[i].kind->n_counters;
    }
    if (slots > LILM_STATE_ARRAYS_MAX || counters > LILM_STATE_COUNTERS_MAX) {
        lilm_optimizer_free(opt);
        return lilm_errorf(LILM_ERR_INTERNAL, "the optimizer keeps more state than a checkpoint can name");
    }
    return m->be->ops->sync(m->be);
}

void lilm_optimizer_free(lilm_optimizer *opt)
{
    for (int i = 0; i < opt->n_groups; i++) free_group(&opt->groups[i], opt->be);
    free(opt->groups);
    memset(opt, 0, sizeof *opt);
}

lilm_status lilm_optimizer_step(lilm_optimizer *opt, lilm_model *m, double lr, lilm_step_stats *stats)
{
    lilm_backend *be = m->be;
    double sumsq = 0;
    int64_t bad = 0;
    be->ops->grad_sanitize(be, m->grad_block, m->n_elems, &sumsq, &bad);
    double norm = sqrt(sumsq);
    if (opt->grad_clip > 0) {
        double coef = opt->grad_clip / (norm + 1e-6);
        if (coef < 1.0) be->ops->scale(be, m->grad_block, m->n_elems, (float)coef);
    }
    for (int i = 0; i < opt->n_groups; i++) opt->groups[i].kind->step(&opt->groups[i], m, lr);
    lilm_model_sync_weights(m);
    if (stats) {
        stats->grad_norm = norm;
        stats->n_nonfinite = bad;
        stats->lr = lr;
    }
    return be->ops->sync(be);
}

typedef struct plan_walk {
    const lilm_train_config *t;
    size_t bytes;
} plan_walk;

/* Adds one tensor's state under the kind that would own it. */
static void plan_tensor(void *ctx, const lilm_tensor_info *ti)
{
    plan_walk *w = ctx;
    size_t numel = (size_t)ti->shape[0] * (size_t)(ti->ndim == 2 ? ti->shape[1] : 1);
    w->bytes += (size_t)kind_for(ti->ndim, ti->layer, w->t)->n_slots * numel * sizeof(float);
}

size_t lilm_optimizer_plan_bytes(const lilm_model_config *mc, const lilm_train_config *t)
{
    /* each tensor counted under its group's kind (see kind_for) */
    plan_walk w = {.t = t, .bytes = 0};
    lilm_arch_tensors(mc, plan_tensor, &w);
    return w.bytes;
}

size_t lilm_optimizer_state_bytes(const lilm_optimizer *opt)
{
    size_t bytes = 0;
    for (int i = 0; i < opt->n_groups; i++)
        bytes += (size_t)opt->groups[i].kind->n_slots * opt->groups[i].numel * sizeof(float);
    return bytes;
}

lilm_optim_counter *lilm_optimizer_counter(lilm_optimizer *opt, const char *name)
{
    for (int i = 0; i < opt->n_groups; i++)
        for (int c = 0; c < opt->groups[i].kind->n_counters; c++)
            if (strcmp(opt->groups[i].counters[c].name, name) == 0) return &opt->groups[i].counters[c];
    return NULL;
}

void lilm_optimizer_named_state(lilm_optimizer *opt, lilm_named_state *ns)
{
    memset(ns, 0, sizeof *ns);
    for (int i = 0; i < opt->n_groups; i++) {
        lilm_optim_group *g = &opt->groups[i];
        for (int s = 0; s < g->kind->n_slots && ns->n_arrays < LILM_STATE_ARRAYS_MAX; s++)
            ns->arrays[ns->n_arrays++] = (lilm_state_array){.prefix = g->slots[s].prefix, .block = g->slots[s].block,
                                                            .numel = g->numel, .params = g->params,
                                                            .offsets = g->offsets, .n = g->n};
        for (int c = 0; c < g->kind->n_counters && ns->n_counters < LILM_STATE_COUNTERS_MAX; c++)
            ns->counters[ns->n_counters++] = (lilm_state_counter){.name = g->counters[c].name,
                                                                  .value = &g->counters[c].value};
    }
}
