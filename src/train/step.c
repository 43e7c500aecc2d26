/*
 * step.c: gradient accumulation, the spike guard, one optimizer update.
 */
#include "train/step.h"

#include <stdlib.h>
#include <string.h>

lilm_status lilm_spike_guard_init(lilm_spike_guard *g, int window, double factor)
{
    memset(g, 0, sizeof *g);
    g->factor = factor;
    g->cap = window > 0 ? window : 1;
    g->window = calloc((size_t)g->cap, sizeof *g->window);
    g->sorted = calloc((size_t)g->cap, sizeof *g->sorted);
    if (!g->window || !g->sorted) {
        lilm_spike_guard_free(g);
        return lilm_errorf(LILM_ERR_OOM, "out of memory for the spike guard");
    }
    return LILM_OK;
}

void lilm_spike_guard_free(lilm_spike_guard *g)
{
    free(g->window);
    free(g->sorted);
    g->window = g->sorted = NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int lilm_spike_guard_check(lilm_spike_guard *g, double loss)
{
    if (g->factor > 0 && g->n > 0) {
        memcpy(g->sorted, g->window, (size_t)g->n * sizeof *g->sorted);
        qsort(g->sorted, (size_t)g->n, sizeof *g->sorted, cmp_double);
        /* torch.median returns the lower of the two middle values */
        double median = g->sorted[(g->n - 1) / 2];
        if (loss > g->factor * median) return 1;
    }
    g->window[g->head] = loss;
    g->head = (g->head + 1) % g->cap;
    if (g->n < g->cap) g->n++;
    return 0;
}

static lilm_status lilm_dist_sum_grads(const lilm_dist *dist, lilm_model *m)
{
    if (dist->size == 1) return LILM_OK;
    if (m->be->device == LILM_DEVICE_CPU) return lilm_dist_sum_f32(dist, m->grad_block, m->n_elems);
    if (!m->be->ops->comm_sum_f32)
        return lilm_errorf(LILM_ERR_UNSUPPORTED, "the %s backend cannot sum gradients across ranks", m->be->name);
    return m->be->ops->comm_sum_f32(m->be, m->grad_block, m->n_elems); /* device memory: NCCL */
}

lilm_status lilm_train_step(lilm_model *m, lilm_optimizer *opt, lilm_spike_guard *guard,
                            lilm_batch_source *src, int n_micro, double lr, const lilm_dist *dist,
                            lilm_step_result *res)
{
    memset(res, 0, sizeof *res);
    lilm_model_zero_grad(m);
    lilm_dist solo;
    if (!dist) {
        lilm_dist_solo(&solo);
        dist = &solo;
    }
    int ranks = dist->size, rank = dist->rank;
    double *round = malloc(2 * (size_t)ranks * sizeof *round); /* (ranks, 2): loss, counted tokens */
    if (!round) return lilm_errorf(LILM_ERR_OOM, "out of memory for a step of %d ranks", ranks);
    lilm_status st = LILM_OK;
    double loss_total = 0;
    int accepted = 0;
    for (int first = 0; st == LILM_OK && first < n_micro; first += ranks) {
        int in_round = n_micro - first < ranks ? n_micro - first : ranks;
        /* every rank draws the round's micro-batches in order; each runs the forward of its own */
        double mine[2] = {0, 0};
        for (int j = 0; st == LILM_OK && j < in_round; j++) {
            lilm_batch b;
            st = src->next(src->ctx, &b);
            if (st != LILM_OK || j != rank) continue;
            int64_t counted = 0;
            int32_t pad = (int32_t)m->cfg.pad_id;
            for (size_t k = 0; k < b.B * b.T; k++) counted += b.targets[k] != pad;
            if (counted == 0) continue;
            double sum = 0;
            float scale = (float)(1.0 / ((double)counted * (double)n_micro));
            st = lilm_model_forward(m, b.inputs, b.targets, b.B, b.T, scale, &sum, NULL);
            mine[0] = sum / (double)counted;
            mine[1] = (double)counted;
        }
        if (st == LILM_OK) st = lilm_dist_allgather(dist, mine, round, sizeof mine);
        /* the spike guard judges the round in micro-batch order, identically on every rank */
        for (int j = 0; st == LILM_OK && j < in_round; j++) {
            double loss = round[2 * j], counted = round[2 * j + 1];
            res->n_micro++;
            if (counted == 0) continue;
            if (guard && lilm_spike_guard_check(guard, loss)) {
                res->n_skipped++;
                continue;
            }
            if (j == rank) st = lilm_model_backward(m);
            loss_total += loss;
            accepted++;
            res->tokens += (int64_t)counted;
        }
    }
    free(round);
    LILM_TRY(st);
    res->loss = accepted ? loss_total / accepted : 0.0;
    if (!accepted) return LILM_OK;
    LILM_TRY(lilm_dist_sum_grads(dist, m));
    LILM_TRY(lilm_optimizer_step(opt, m, lr, &res->stats));
    res->updated = 1;
    return LILM_OK;
}
