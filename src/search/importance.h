/*
 * importance.h: how much of the objective's spread each parameter explains.
 *
 * A simple variance split (the correlation ratio, eta squared): the complete
 * trials are grouped by the parameter's value (categorical: by choice;
 * numeric: into up to 4 bins of equal count by rank), and the importance is
 * the share of the objective's variance that lies between the groups' means.
 * The shares are then scaled to sum to 1. It is a quick, model-free reading,
 * not fANOVA: correlated parameters share credit, and with few trials it is
 * noisy.
 */
#ifndef LILM_SEARCH_IMPORTANCE_H
#define LILM_SEARCH_IMPORTANCE_H

#include "core/status.h"
#include "search/study.h"

/* out (st->sp->n_params): each parameter's importance, summing to 1 (all 0
 * with fewer than 3 complete trials or no variance). */
lilm_status lilm_search_importance(const lilm_study *st, double *out);

#endif
