/*
 * parzen.c: the Parzen estimator defined in parzen.h.
 *
 * Layout: numeric kernel j of dimension i is mu[i * k + j], sigma[i * k + j];
 * categorical probabilities are cat_w[(i * k + j) * LILM_SEARCH_MAX_CHOICES + c].
 * The last kernel (j = k - 1) is the prior. Sums over kernels are done in
 * log space with the max subtracted (log-sum-exp).
 */
#include "search/parzen.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "search/truncnorm.h"

void lilm_parzen_default_weights(size_t n, double *w)
{
    if (n < 25) {
        for (size_t i = 0; i < n; i++) w[i] = 1.0;
        return;
    }
    /* linspace(1/n, 1, n - 25) then 25 ones */
    size_t m = n - 25;
    for (size_t i = 0; i < m; i++)
        w[i] = m == 1 ? 1.0 / (double)n : 1.0 / (double)n + (1.0 - 1.0 / (double)n) * (double)i / (double)(m - 1);
    for (size_t i = m; i < n; i++) w[i] = 1.0;
}

static int is_numeric(const lilm_search_param *p) { return p->kind != LILM_SEARCH_PARAM_CATEGORICAL; }

/* x in the estimator's space: log for log parameters. */
static double transform(const lilm_search_param *p, double x) { return p->log ? log(x) : x; }

typedef struct sort_item {
    double v;
    size_t i;
} sort_item;

static int cmp_item(const void *a, const void *b)
{
    const sort_item *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;   /* stable, like numpy's argsort on ties here */
}

/* sigma of each observation (n) of one numeric dimension, transformed space. */
static lilm_status neighbour_sigmas(const double *mus, size_t n, double lo, double hi, const lilm_parzen_settings *set,
                                    double *sig)
{
    if (n == 0) return LILM_OK;
    sort_item *it = malloc(n * sizeof *it);
    double *ext = malloc((n + 2) * sizeof *ext);
    double *ss = malloc(n * sizeof *ss);
    if (!it || !ext || !ss) {
        free(it);
        free(ext);
        free(ss);
        return lilm_errorf(LILM_ERR_OOM, "out of memory building a Parzen estimator");
    }
    for (size_t i = 0; i < n; i++) it[i] = (sort_item){mus[i], i};
    qsort(it, n, sizeof *it, cmp_item);
    ext[0] = lo;
    for (size_t i = 0; i < n; i++) ext[i + 1] = it[i].v;
    ext[n + 1] = hi;
    for (size_t i = 0; i < n; i++) {
        double left = ext[i + 1] - ext[i], right = ext[i + 2] - ext[i + 1];
        ss[i] = left > right ? left : right;
    }
    if (!set->consider_endpoints && n + 2 >= 4) {
        ss[0] = ext[2] - ext[1];
        ss[n - 1] = ext[n] - ext[n - 1];
    }
    double maxs = hi - lo;
    double mins = set->consider_magic_clip ? (hi - lo) / fmin(100.0, 1.0 + (double)(n + 1)) : 1e-12;
    for (size_t i = 0; i < n; i++) {
        double s = ss[i];
        s = s < mins ? mins : s > maxs ? maxs : s;
        sig[it[i].i] = s;
    }
    free(it);
    free(ext);
    free(ss);
    return LILM_OK;
}

lilm_status lilm_parzen_init(lilm_parzen *pe, const lilm_search_param *const *params, int d, const double *obs, size_t n,
                             const lilm_parzen_settings *set)
{
    memset(pe, 0, sizeof *pe);
    pe->d = d;
    pe->k = n + 1;
    size_t k = pe->k;
    for (int i = 0; i < d; i++) pe->params[i] = params[i];
    pe->log_w = malloc(k * sizeof *pe->log_w);
    pe->mu = malloc((size_t)d * k * sizeof *pe->mu);
    pe->sigma = malloc((size_t)d * k * sizeof *pe->sigma);
    pe->cat_w = malloc((size_t)d * k * LILM_SEARCH_MAX_CHOICES * sizeof *pe->cat_w);
    double *col = malloc((n ? n : 1) * sizeof *col);
    if (!pe->log_w || !pe->mu || !pe->sigma || !pe->cat_w || !col) {
        free(col);
        lilm_parzen_free(pe);
        return lilm_errorf(LILM_ERR_OOM, "out of memory building a Parzen estimator");
    }

    /* mixture weights */
    lilm_parzen_default_weights(n, pe->log_w);
    pe->log_w[n] = n ? set->prior_weight : 1.0;
    double total = 0;
    for (size_t j = 0; j < k; j++) total += pe->log_w[j];
    for (size_t j = 0; j < k; j++) pe->log_w[j] = log(pe->log_w[j] / total);

    lilm_status s = LILM_OK;
    for (int i = 0; i < d && s == LILM_OK; i++) {
        const lilm_search_param *p = params[i];
        if (is_numeric(p)) {
            double lo = p->low - p->step / 2, hi = p->high + p->step / 2;
            if (p->log) {
                lo = log(lo);
                hi = log(hi);
            }
            pe->lo[i] = lo;
            pe->hi[i] = hi;
            for (size_t j = 0; j < n; j++) col[j] = transform(p, obs[j * (size_t)d + (size_t)i]);
            double *mu = pe->mu + (size_t)i * k, *sig = pe->sigma + (size_t)i * k;
            memcpy(mu, col, n * sizeof *mu);
            s = neighbour_sigmas(col, n, lo, hi, set, sig);
            mu[n] = 0.5 * (lo + hi);
            sig[n] = hi - lo;
        } else {
            int c = p->n_choices;
            for (size_t j = 0; j < k; j++) {
                double *w = pe->cat_w + ((size_t)i * k + j) * LILM_SEARCH_MAX_CHOICES;
                if (n == 0) {
                    for (int m = 0; m < c; m++) w[m] = 1.0 / c;
                    continue;
                }
                double sum = 0;
                for (int m = 0; m < c; m++) w[m] = set->prior_weight / (double)k;
                if (j < n) w[(int)lilm_search_param_snap(p, obs[j * (size_t)d + (size_t)i])] += 1.0;
                for (int m = 0; m < c; m++) sum += w[m];
                for (int m = 0; m < c; m++) w[m] = sum > 0 ? w[m] / sum : w[m];
            }
        }
    }
    free(col);
    if (s != LILM_OK) lilm_parzen_free(pe);
    return s;
}

void lilm_parzen_free(lilm_parzen *pe)
{
    free(pe->log_w);
    free(pe->mu);
    free(pe->sigma);
    free(pe->cat_w);
    pe->log_w = pe->mu = pe->sigma = pe->cat_w = NULL;
}

/* log density of kernel j in dimension i at internal value x. */
static double kernel_log_pdf(const lilm_parzen *pe, int i, size_t j, double x)
{
    const lilm_search_param *p = pe->params[i];
    size_t k = pe->k;
    if (!is_numeric(p)) {
        double w = pe->cat_w[((size_t)i * k + j) * LILM_SEARCH_MAX_CHOICES + (int)lilm_search_param_snap(p, x)];
        return log(w);
    }
    double mu = pe->mu[(size_t)i * k + j], sig = pe->sigma[(size_t)i * k + j];
    double a = (pe->lo[i] - mu) / sig, b = (pe->hi[i] - mu) / sig;
    if (p->step > 0) {
        double left = x - p->step / 2, right = x + p->step / 2;
        if (p->log) {
            left = log(left);
            right = log(right);
        }
        return lilm_tn_log_mass((left - mu) / sig, (right - mu) / sig) - lilm_tn_log_mass(a, b);
    }
    return lilm_tn_log_pdf(transform(p, x), a, b, mu, sig);
}

double lilm_parzen_log_pdf(const lilm_parzen *pe, const double *x)
{
    double best = -INFINITY;
    double *terms = malloc(pe->k * sizeof *terms);
    if (!terms) return NAN;
    for (size_t j = 0; j < pe->k; j++) {
        double t = pe->log_w[j];
        for (int i = 0; i < pe->d; i++) t += kernel_log_pdf(pe, i, j, x[i]);
        terms[j] = t;
        if (t > best) best = t;
    }
    if (best == -INFINITY) {
        free(terms);
        return -INFINITY;
    }
    double sum = 0;
    for (size_t j = 0; j < pe->k; j++) sum += exp(terms[j] - best);
    free(terms);
    return best + log(sum);
}

void lilm_parzen_sample(const lilm_parzen *pe, lilm_rng *rng, double *x)
{
    /* the kernel */
    double u = lilm_rng_uniform(rng), acc = 0;
    size_t j = pe->k - 1;
    for (size_t m = 0; m < pe->k; m++) {
        acc += exp(pe->log_w[m]);
        if (u < acc) {
            j = m;
            break;
        }
    }
    size_t k = pe->k;
    for (int i = 0; i < pe->d; i++) {
        const lilm_search_param *p = pe->params[i];
        if (!is_numeric(p)) {
            const double *w = pe->cat_w + ((size_t)i * k + j) * LILM_SEARCH_MAX_CHOICES;
            double v = lilm_rng_uniform(rng), c = 0;
            int pick = p->n_choices - 1;
            for (int m = 0; m < p->n_choices; m++) {
                c += w[m];
                if (v < c) {
                    pick = m;
                    break;
                }
            }
            x[i] = pick;
            continue;
        }
        double mu = pe->mu[(size_t)i * k + j], sig = pe->sigma[(size_t)i * k + j];
        double z = lilm_tn_sample(rng, (pe->lo[i] - mu) / sig, (pe->hi[i] - mu) / sig, mu, sig);
        if (p->log) z = exp(z);
        x[i] = p->step > 0 ? lilm_search_param_snap(p, z) : fmin(fmax(z, p->low), p->high);
    }
}
