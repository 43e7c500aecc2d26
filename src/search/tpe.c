/*
 * tpe.c: TPE's split, its candidate search and the startup sampler (tpe.h).
 *
 * The split sorts complete trials by value (stable: earlier trials first on
 * ties) and pruned ones by (furthest step first, then value), as Optuna's
 * _split_trials does for one objective. Each suggestion builds two Parzen
 * estimators per group of parameters (all of them when multivariate, one
 * each when not) and frees them before returning.
 */
#include "search/tpe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "search/parzen.h"

int64_t lilm_tpe_gamma(int64_t n)
{
    int64_t g = (int64_t)ceil(0.1 * (double)n);
    return g < 25 ? g : 25;
}

typedef struct rank_item {
    const lilm_tpe_obs *o;
    size_t i;
} rank_item;

static double key_value(double v) { return isnan(v) ? INFINITY : v; }

static int cmp_complete(const void *a, const void *b)
{
    const rank_item *x = a, *y = b;
    double vx = key_value(x->o->value), vy = key_value(y->o->value);
    if (vx != vy) return vx < vy ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static int cmp_pruned(const void *a, const void *b)
{
    const rank_item *x = a, *y = b;
    if (x->o->step != y->o->step) return x->o->step > y->o->step ? -1 : 1;
    return cmp_complete(a, b);
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

size_t lilm_tpe_split(const lilm_tpe_obs *obs, size_t n, size_t n_below, size_t *below, size_t *above)
{
    rank_item *done = malloc((n ? n : 1) * sizeof *done), *pruned = malloc((n ? n : 1) * sizeof *pruned);
    size_t nd = 0, np = 0, nb = 0, na = 0;
    if (!done || !pruned) {
        free(done);
        free(pruned);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (obs[i].pruned) pruned[np++] = (rank_item){&obs[i], i};
        else done[nd++] = (rank_item){&obs[i], i};
    }
    qsort(done, nd, sizeof *done, cmp_complete);
    qsort(pruned, np, sizeof *pruned, cmp_pruned);
    for (size_t i = 0; i < nd; i++) {
        if (nb < n_below) below[nb++] = done[i].i;
        else above[na++] = done[i].i;
    }
    for (size_t i = 0; i < np; i++) {
        if (nb < n_below) below[nb++] = pruned[i].i;
        else above[na++] = pruned[i].i;
    }
    qsort(below, nb, sizeof *below, cmp_size);
    qsort(above, na, sizeof *above, cmp_size);
    free(done);
    free(pruned);
    return nb;
}

double lilm_tpe_random(const lilm_search_param *p, lilm_rng *rng)
{
    if (p->kind == LILM_SEARCH_PARAM_CATEGORICAL) return (double)lilm_rng_below(rng, (uint64_t)p->n_choices);
    if (p->log) {
        double lo = p->step > 0 ? p->low - 0.5 * p->step : p->low;
        double hi = p->step > 0 ? p->high + 0.5 * p->step : p->high;
        double v = exp(log(lo) + lilm_rng_uniform(rng) * (log(hi) - log(lo)));
        return lilm_search_param_snap(p, v);
    }
    if (p->step > 0) {
        uint64_t points = (uint64_t)llround((p->high - p->low) / p->step) + 1;
        return p->low + (double)lilm_rng_below(rng, points) * p->step;
    }
    return p->low + lilm_rng_uniform(rng) * (p->high - p->low);
}

/* Samples the dims listed in idx (d of them) into x by one l/g comparison. */
static lilm_status suggest_group(const lilm_space *sp, const int *idx, int d, const lilm_tpe_obs *obs,
                                 const size_t *below, size_t nb, const size_t *above, size_t na, lilm_rng *rng, double *x)
{
    const lilm_study_settings *st = &sp->study;
    lilm_parzen_settings ps = {st->prior_weight, st->consider_magic_clip, st->consider_endpoints};
    const lilm_search_param *params[LILM_SEARCH_MAX_PARAMS];
    for (int i = 0; i < d; i++) params[i] = &sp->params[idx[i]];
    size_t nmax = nb > na ? nb : na;
    double *o = malloc((nmax ? nmax : 1) * (size_t)d * sizeof *o);
    if (!o) return lilm_errorf(LILM_ERR_OOM, "out of memory in the TPE sampler");
    lilm_parzen l, g;
    for (size_t r = 0; r < nb; r++)
        for (int i = 0; i < d; i++) o[r * (size_t)d + (size_t)i] = obs[below[r]].x[idx[i]];
    lilm_status s = lilm_parzen_init(&l, params, d, o, nb, &ps);
    if (s != LILM_OK) {
        free(o);
        return s;
    }
    for (size_t r = 0; r < na; r++)
        for (int i = 0; i < d; i++) o[r * (size_t)d + (size_t)i] = obs[above[r]].x[idx[i]];
    s = lilm_parzen_init(&g, params, d, o, na, &ps);
    free(o);
    if (s != LILM_OK) {
        lilm_parzen_free(&l);
        return s;
    }
    double cand[LILM_SEARCH_MAX_PARAMS], best_x[LILM_SEARCH_MAX_PARAMS], best = -INFINITY;
    for (int64_t c = 0; c < st->n_ei_candidates; c++) {
        lilm_parzen_sample(&l, rng, cand);
        double score = lilm_parzen_log_pdf(&l, cand) - lilm_parzen_log_pdf(&g, cand);
        if (c == 0 || score > best) {
            best = score;
            memcpy(best_x, cand, (size_t)d * sizeof *cand);
        }
    }
    for (int i = 0; i < d; i++) x[idx[i]] = best_x[i];
    lilm_parzen_free(&l);
    lilm_parzen_free(&g);
    return LILM_OK;
}

lilm_status lilm_tpe_suggest(const lilm_space *sp, const lilm_tpe_obs *obs, size_t n, lilm_rng *rng, double *x)
{
    const lilm_study_settings *st = &sp->study;
    if (!st->tpe || (int64_t)n < st->n_startup_trials) {
        for (int i = 0; i < sp->n_params; i++) x[i] = lilm_tpe_random(&sp->params[i], rng);
        return LILM_OK;
    }
    size_t *below = malloc((n ? n : 1) * sizeof *below), *above = malloc((n ? n : 1) * sizeof *above);
    if (!below || !above) {
        free(below);
        free(above);
        return lilm_errorf(LILM_ERR_OOM, "out of memory in the TPE sampler");
    }
    size_t nb = lilm_tpe_split(obs, n, (size_t)lilm_tpe_gamma((int64_t)n), below, above);
    size_t na = n - nb;
    lilm_status s = LILM_OK;
    int idx[LILM_SEARCH_MAX_PARAMS];
    if (st->multivariate) {
        for (int i = 0; i < sp->n_params; i++) idx[i] = i;
        s = suggest_group(sp, idx, sp->n_params, obs, below, nb, above, na, rng, x);
    } else {
        for (int i = 0; i < sp->n_params && s == LILM_OK; i++) {
            idx[0] = i;
            s = suggest_group(sp, idx, 1, obs, below, nb, above, na, rng, x);
        }
    }
    free(below);
    free(above);
    return s;
}
