/*
 * pruner.c: the median and successive-halving rules of pruner.h.
 *
 * Both look values up by step: a trial's value at step s is its report with
 * that step (trials report every validation, so steps line up). Trials that
 * never reached s do not take part at s.
 */
#include "search/pruner.h"

#include <math.h>
#include <stdlib.h>

static int value_at(const lilm_trial *t, int64_t step, double *out)
{
    for (size_t i = 0; i < t->n_reports; i++)
        if (t->reports[i].step == step) {
            *out = t->reports[i].value;
            return 1;
        }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int median_prune(const lilm_study *st, const lilm_trial *t, int64_t step)
{
    const lilm_study_settings *s = &st->sp->study;
    if ((int64_t)t->n_reports < s->pruner_warmup) return 0;
    double *vals = malloc((st->n ? st->n : 1) * sizeof *vals);
    if (!vals) return 0;
    size_t n = 0, complete = 0;
    for (size_t i = 0; i < st->n; i++) {
        const lilm_trial *o = &st->trials[i];
        if (o == t || o->state != LILM_TRIAL_COMPLETE) continue;
        complete++;
        double v;
        if (value_at(o, step, &v) && !isnan(v)) vals[n++] = v;
    }
    int prune = 0;
    if ((int64_t)complete >= s->pruner_startup && n > 0) {
        qsort(vals, n, sizeof *vals, cmp_double);
        double median = n % 2 ? vals[n / 2] : 0.5 * (vals[n / 2 - 1] + vals[n / 2]);
        double best = INFINITY;
        for (size_t i = 0; i < t->n_reports; i++)
            if (t->reports[i].value < best) best = t->reports[i].value;
        prune = best > median;
    }
    free(vals);
    return prune;
}

static int halving_prune(const lilm_study *st, const lilm_trial *t, int64_t step, double value)
{
    double rate = st->sp->study.halving_rate;
    /* is step a rung (1, r, r^2, ... rounded)? */
    int rung = 0;
    for (double r = 1; r <= (double)step + 0.5; r *= rate)
        if ((int64_t)llround(r) == step) rung = 1;
    if (!rung) return 0;
    double *vals = malloc((st->n ? st->n : 1) * sizeof *vals);
    if (!vals) return 0;
    size_t n = 0;
    for (size_t i = 0; i < st->n; i++) {
        double v;
        if (value_at(&st->trials[i], step, &v)) vals[n++] = isnan(v) ? INFINITY : v;
    }
    qsort(vals, n, sizeof *vals, cmp_double);
    int64_t keep = (int64_t)floor((double)n / rate) - 1;
    if (keep < 0) keep = 0;
    int prune = n > 0 && value > vals[keep];
    free(vals);
    return prune;
}

int lilm_pruner_should_prune(const lilm_study *st, size_t idx)
{
    const lilm_trial *t = &st->trials[idx];
    if (t->n_reports == 0) return 0;
    const lilm_trial_report *last = &t->reports[t->n_reports - 1];
    switch (st->sp->study.pruner) {
    case LILM_PRUNER_NONE: return 0;
    case LILM_PRUNER_MEDIAN: return isnan(last->value) || median_prune(st, t, last->step);
    case LILM_PRUNER_HALVING: return isnan(last->value) || halving_prune(st, t, last->step, last->value);
    }
    return 0;
}
