/*
 * tpe.h: the tree-structured Parzen estimator sampler (and random search).
 *
 * As Optuna's TPESampler, minimising, with the settings of the space's
 * study section (defaults: n_startup_trials 10, n_ei_candidates 24,
 * gamma(n) = min(ceil(0.1 n), 25), prior_weight 1, magic clip on, endpoints
 * off, univariate):
 *   1. while fewer than n_startup_trials trials are finished (complete or
 *      pruned), sample uniformly (log-uniformly for log parameters, uniformly
 *      over a grid's points, uniformly over choices);
 *   2. otherwise split the finished trials: the gamma(n) best complete ones
 *      are "below" (topped up with the pruned ones that got furthest, then
 *      lowest); the rest "above"; both in trial order;
 *   3. build l(x) from below and g(x) from above (src/search/parzen.h), draw
 *      n_ei_candidates from l and keep the one with the largest
 *      log l(x) - log g(x) (the first on ties).
 * Univariate: step 3 is done for each parameter on its own; multivariate:
 * once over all parameters jointly. Failed and running trials are ignored.
 */
#ifndef LILM_SEARCH_TPE_H
#define LILM_SEARCH_TPE_H

#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"
#include "core/status.h"
#include "search/space.h"

/* A finished trial as the sampler sees it. */
typedef struct lilm_tpe_obs {
    const double *x;     /* (n_params) internal values */
    double value;        /* complete: the objective; pruned: its last reported value (NaN sorts last) */
    int pruned;          /* 0 complete, 1 pruned */
    int64_t step;        /* pruned: the step of that last report (-1: none) */
} lilm_tpe_obs;

/* gamma(n) = min(ceil(0.1 n), 25). */
int64_t lilm_tpe_gamma(int64_t n);

/* Splits obs into below/above index lists (each in input order); returns the
 * count below. below and above hold n entries. */
size_t lilm_tpe_split(const lilm_tpe_obs *obs, size_t n, size_t n_below, size_t *below, size_t *above);

/* Writes the next trial's parameters (internal values, (sp->n_params)) to x. */
lilm_status lilm_tpe_suggest(const lilm_space *sp, const lilm_tpe_obs *obs, size_t n, lilm_rng *rng, double *x);

/* One uniform draw of parameter p (the startup sampler). */
double lilm_tpe_random(const lilm_search_param *p, lilm_rng *rng);

#endif
