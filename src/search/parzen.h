/*
 * parzen.h: the Parzen estimator of TPE: a mixture of one product kernel per
 * observation plus one prior kernel, over some of a space's parameters.
 *
 * Its definition is Optuna's (_ParzenEstimator, Optuna 5.1, with the
 * TPESampler defaults):
 *   weights   w_i = default_weights(n) (1 for the newest 25 observations, a
 *             ramp from 1/n up to 1 for older ones), then prior_weight for
 *             the prior, all normalised to sum 1; with no observations the
 *             prior alone, weight 1;
 *   numeric   in the transformed space (log for log parameters; bounds
 *             widened by step/2 on a grid): kernel i is a normal at x_i with
 *             sigma_i = the larger gap to its sorted neighbours (the bounds
 *             stand at both ends; without consider_endpoints the first and
 *             last use their inner gap), clipped to [range / min(100, n + 2),
 *             range] by the magic clip; the prior is N(mid, range); every
 *             kernel is truncated to the range. A grid parameter's density is
 *             the kernel's mass over [x - step/2, x + step/2].
 *   categorical kernel i puts prior_weight / (n + 1) on every choice plus 1 on
 *             x_i, normalised; the prior is uniform.
 * Densities are not Jacobian-corrected for the log transform (l and g share
 * the factor, so their ratio is unaffected; this is also Optuna's).
 */
#ifndef LILM_SEARCH_PARZEN_H
#define LILM_SEARCH_PARZEN_H

#include <stddef.h>

#include "core/rng.h"
#include "core/status.h"
#include "search/space.h"

typedef struct lilm_parzen_settings {
    double prior_weight;
    int consider_magic_clip;
    int consider_endpoints;
} lilm_parzen_settings;

typedef struct lilm_parzen {
    int d;                      /* dimensions (parameters) */
    const lilm_search_param *params[LILM_SEARCH_MAX_PARAMS];
    size_t k;                   /* kernels: observations + 1 prior */
    double *log_w;              /* (k) log mixture weights */
    double *mu, *sigma;         /* (d, k) numeric: centres and widths, transformed space */
    double *cat_w;              /* (d, k, LILM_SEARCH_MAX_CHOICES) categorical kernel probabilities */
    double lo[LILM_SEARCH_MAX_PARAMS], hi[LILM_SEARCH_MAX_PARAMS];  /* transformed, widened bounds */
} lilm_parzen;

/* Optuna's default_weights(n) into w (n). */
void lilm_parzen_default_weights(size_t n, double *w);

/* Builds the estimator over params[0..d) from n observations obs (n, d) in
 * internal representation (categorical: the choice index). */
lilm_status lilm_parzen_init(lilm_parzen *pe, const lilm_search_param *const *params, int d, const double *obs, size_t n,
                             const lilm_parzen_settings *set);
void lilm_parzen_free(lilm_parzen *pe);

/* log density at x (d), internal representation. */
double lilm_parzen_log_pdf(const lilm_parzen *pe, const double *x);
/* One draw into x (d): a kernel by weight, then each dimension from it,
 * snapped to the grid; internal representation. */
void lilm_parzen_sample(const lilm_parzen *pe, lilm_rng *rng, double *x);

#endif
