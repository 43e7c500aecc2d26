/*
 * schedule.c: one-cycle (PyTorch OneCycleLR semantics), cosine,
 * warm-up/stable/decay, constant.
 */
#include "train/schedule.h"

#include <math.h>

void lilm_schedule_from_config(lilm_schedule *s, const lilm_train_config *t, int64_t total_steps)
{
    s->kind = t->schedule;
    s->max_lr = t->lr;
    s->total_steps = total_steps;
    s->pct_start = t->pct_start;
    s->div_factor = t->div_factor;
    s->final_div_factor = t->final_div_factor;
    s->warmup_frac = t->warmup_frac;
    s->min_lr_frac = t->min_lr_frac;
    s->decay_frac = t->decay_frac;
}

static double cos_anneal(double start, double end, double pct)
{
    return end + (start - end) / 2.0 * (cos(M_PI * pct) + 1.0);
}

double lilm_schedule_lr(const lilm_schedule *s, double pos)
{
    double last = (double)(s->total_steps > 1 ? s->total_steps - 1 : 1);
    if (pos < 0) pos = 0;
    if (pos > last) pos = last;
    switch (s->kind) {
    case LILM_SCHED_ONECYCLE: {
        double initial = s->max_lr / s->div_factor;
        double min_lr = initial / s->final_div_factor;
        double end1 = s->pct_start * (double)s->total_steps - 1.0;
        if (pos <= end1) {
            double pct = end1 > 0 ? pos / end1 : 1.0;
            return cos_anneal(initial, s->max_lr, pct);
        }
        double span = last - end1;
        return cos_anneal(s->max_lr, min_lr, span > 0 ? (pos - end1) / span : 1.0);
    }
    case LILM_SCHED_COSINE: {
        double warm = s->warmup_frac * last;
        double min_lr = s->max_lr * s->min_lr_frac;
        if (pos < warm) return s->max_lr * (pos + 1.0) / (warm + 1.0);
        double span = last - warm;
        return cos_anneal(s->max_lr, min_lr, span > 0 ? (pos - warm) / span : 1.0);
    }
    case LILM_SCHED_WSD: {
        double warm = s->warmup_frac * last;
        double decay_start = (1.0 - s->decay_frac) * last;
        if (pos < warm) return s->max_lr * (pos + 1.0) / (warm + 1.0);
        if (pos <= decay_start || decay_start >= last) return s->max_lr;
        double pct = (pos - decay_start) / (last - decay_start);
        return s->max_lr * (1.0 - (1.0 - s->min_lr_frac) * pct);
    }
    case LILM_SCHED_CONSTANT:
    default:
        return s->max_lr;
    }
}
