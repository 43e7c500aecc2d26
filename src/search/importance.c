/*
 * importance.c: the variance split of importance.h.
 *
 * For n complete trials with values y and one parameter's values x: sort by
 * x, cut the ranks into g = min(4, distinct values) bins of near-equal count
 * (ties never straddle a bin edge, so equal x share a bin), and return
 * sum_bins n_b (mean_b - mean)^2 / sum (y - mean)^2.
 */
#include "search/importance.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct xy {
    double x, y;
} xy;

static int cmp_x(const void *a, const void *b)
{
    double u = ((const xy *)a)->x, v = ((const xy *)b)->x;
    return u < v ? -1 : u > v;
}

static double eta2(xy *pts, size_t n, int categorical)
{
    qsort(pts, n, sizeof *pts, cmp_x);
    double mean = 0, total = 0;
    for (size_t i = 0; i < n; i++) mean += pts[i].y;
    mean /= (double)n;
    for (size_t i = 0; i < n; i++) total += (pts[i].y - mean) * (pts[i].y - mean);
    if (total <= 0) return 0;
    size_t distinct = 1;
    for (size_t i = 1; i < n; i++) distinct += pts[i].x != pts[i - 1].x;
    size_t bins = categorical ? distinct : (distinct < 4 ? distinct : 4);
    double between = 0;
    size_t start = 0;
    for (size_t b = 0; b < bins && start < n; b++) {
        size_t end = categorical ? start + 1 : (size_t)((double)n * (double)(b + 1) / (double)bins);
        if (end <= start) end = start + 1;
        if (end > n || b == bins - 1) end = n;
        while (end < n && pts[end].x == pts[end - 1].x) end++;   /* keep ties together */
        double m = 0;
        for (size_t i = start; i < end; i++) m += pts[i].y;
        m /= (double)(end - start);
        between += (double)(end - start) * (m - mean) * (m - mean);
        start = end;
    }
    return between / total;
}

lilm_status lilm_search_importance(const lilm_study *st, double *out)
{
    const lilm_space *sp = st->sp;
    for (int i = 0; i < sp->n_params; i++) out[i] = 0;
    xy *pts = malloc((st->n ? st->n : 1) * sizeof *pts);
    if (!pts) return lilm_errorf(LILM_ERR_OOM, "out of memory computing importances");
    double sum = 0;
    for (int i = 0; i < sp->n_params; i++) {
        size_t n = 0;
        for (size_t t = 0; t < st->n; t++) {
            const lilm_trial *tr = &st->trials[t];
            if (tr->state == LILM_TRIAL_COMPLETE && isfinite(tr->value)) pts[n++] = (xy){tr->x[i], tr->value};
        }
        if (n >= 3) out[i] = eta2(pts, n, sp->params[i].kind == LILM_SEARCH_PARAM_CATEGORICAL);
        sum += out[i];
    }
    free(pts);
    if (sum > 0)
        for (int i = 0; i < sp->n_params; i++) out[i] /= sum;
    return LILM_OK;
}
