/*
 * truncnorm.h: the standard normal's log CDF, its inverse, and the truncated
 * normal's log density, log interval mass and sampler.
 *
 * The Parzen estimator's kernels are normals truncated to a parameter's
 * range, and TPE ranks candidates by a difference of log densities, so every
 * function here works in log space and stays finite far into the tails
 * (log_ndtr(-40) is about -804, not -inf). Arguments a, b are standardised
 * bounds: (bound - mu) / sigma.
 */
#ifndef LILM_SEARCH_TRUNCNORM_H
#define LILM_SEARCH_TRUNCNORM_H

#include "core/rng.h"

/* log Phi(x), Phi the standard normal CDF. */
double lilm_tn_log_ndtr(double x);
/* Phi^-1(p) for p in (0, 1). */
double lilm_tn_ndtri(double p);
/* log (Phi(b) - Phi(a)) for a <= b; -inf when a == b. */
double lilm_tn_log_mass(double a, double b);
/* log density at x of N(mu, sigma^2) truncated to [mu + a sigma, mu + b sigma];
 * -inf outside. */
double lilm_tn_log_pdf(double x, double a, double b, double mu, double sigma);
/* One draw of that distribution (inverse CDF of one uniform). */
double lilm_tn_sample(lilm_rng *rng, double a, double b, double mu, double sigma);

#endif
