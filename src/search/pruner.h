/*
 * pruner.h: stopping unpromising trials early, from the validation losses
 * they report while they train (each report is a step: the k-th validation).
 *
 *   median   (Optuna's MedianPruner) after pruner_startup complete trials and
 *            pruner_warmup reports of its own, a trial stops when its best
 *            value so far is worse than the median of the complete trials'
 *            values at the same step;
 *   halving  (Optuna's SuccessiveHalvingPruner, min_resource 1) at rungs
 *            1, r, r^2, ... (r = halving_rate), a trial goes on only if its
 *            value is among the best 1/r of every trial's value at that rung
 *            (the best one alone while fewer than r trials got there).
 * A report of NaN (the loss diverged) always prunes.
 */
#ifndef LILM_SEARCH_PRUNER_H
#define LILM_SEARCH_PRUNER_H

#include <stddef.h>

#include "search/study.h"

/* 1 if trial idx of st should stop after its last report. */
int lilm_pruner_should_prune(const lilm_study *st, size_t idx);

#endif
