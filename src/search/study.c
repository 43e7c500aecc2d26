/*
 * study.c: the trial list, ask/report/tell, and the optimisation loop.
 *
 * Ownership: the study owns its trials and their report arrays; the io
 * callbacks borrow them. Every change of a trial's state is saved before the
 * loop goes on, so storage always holds what happened up to the last
 * finished step (a crash loses at most the trial in flight, which is run
 * again on resume).
 */
#include "search/study.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/rng.h"
#include "search/pruner.h"
#include "search/tpe.h"

static const char *const state_names[LILM_TRIAL_STATE_COUNT] = {"running", "complete", "pruned", "failed"};

const char *lilm_trial_state_name(lilm_trial_state s)
{
    return (int)s >= 0 && s < LILM_TRIAL_STATE_COUNT ? state_names[s] : "unknown";
}

lilm_status lilm_trial_state_parse(const char *s, lilm_trial_state *out)
{
    for (int i = 0; i < LILM_TRIAL_STATE_COUNT; i++)
        if (s && strcmp(s, state_names[i]) == 0) {
            *out = (lilm_trial_state)i;
            return LILM_OK;
        }
    return lilm_errorf(LILM_ERR_FORMAT, "unknown trial state '%s' (running, complete, pruned or failed)", s ? s : "(null)");
}

void lilm_study_init(lilm_study *st, const lilm_space *sp)
{
    memset(st, 0, sizeof *st);
    st->sp = sp;
}

void lilm_study_free(lilm_study *st)
{
    for (size_t i = 0; i < st->n; i++) free(st->trials[i].reports);
    free(st->trials);
    st->trials = NULL;
    st->n = st->cap = 0;
}

static lilm_status grow(lilm_study *st)
{
    if (st->n < st->cap) return LILM_OK;
    size_t cap = st->cap ? 2 * st->cap : 16;
    lilm_trial *p = realloc(st->trials, cap * sizeof *p);
    if (!p) return lilm_errorf(LILM_ERR_OOM, "out of memory adding a trial");
    st->trials = p;
    st->cap = cap;
    return LILM_OK;
}

lilm_status lilm_study_add(lilm_study *st, const lilm_trial *t)
{
    if (t->number != (int64_t)st->n)
        return lilm_errorf(LILM_ERR_FORMAT, "trial %lld where trial %zu was expected (the stored study has a gap)",
                           (long long)t->number, st->n);
    LILM_TRY(grow(st));
    lilm_trial *d = &st->trials[st->n];
    *d = *t;
    d->reports = NULL;
    d->n_reports = d->cap_reports = 0;
    if (t->n_reports) {
        d->reports = malloc(t->n_reports * sizeof *d->reports);
        if (!d->reports) return lilm_errorf(LILM_ERR_OOM, "out of memory adding a trial");
        memcpy(d->reports, t->reports, t->n_reports * sizeof *d->reports);
        d->n_reports = d->cap_reports = t->n_reports;
    }
    st->n++;
    return LILM_OK;
}

/* The sampler's view of the finished trials before trial `number`. */
static lilm_status finished_obs(const lilm_study *st, int64_t number, lilm_tpe_obs **out, size_t *n)
{
    lilm_tpe_obs *obs = malloc((st->n ? st->n : 1) * sizeof *obs);
    if (!obs) return lilm_errorf(LILM_ERR_OOM, "out of memory in the sampler");
    size_t k = 0;
    for (size_t i = 0; i < st->n && st->trials[i].number < number; i++) {
        const lilm_trial *t = &st->trials[i];
        if (t->state != LILM_TRIAL_COMPLETE && t->state != LILM_TRIAL_PRUNED) continue;
        lilm_tpe_obs *o = &obs[k++];
        o->x = t->x;
        o->pruned = t->state == LILM_TRIAL_PRUNED;
        o->value = t->value;
        o->step = t->n_reports ? t->reports[t->n_reports - 1].step : -1;
        if (o->pruned) o->value = t->n_reports ? t->reports[t->n_reports - 1].value : NAN;
    }
    *out = obs;
    *n = k;
    return LILM_OK;
}

static void now_iso(char *buf, size_t n)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

lilm_status lilm_study_ask(lilm_study *st, size_t *idx)
{
    LILM_TRY(grow(st));
    int64_t number = (int64_t)st->n;
    lilm_tpe_obs *obs = NULL;
    size_t n = 0;
    LILM_TRY(finished_obs(st, number, &obs, &n));
    lilm_trial *t = &st->trials[st->n];
    memset(t, 0, sizeof *t);
    t->number = number;
    t->state = LILM_TRIAL_RUNNING;
    t->value = NAN;
    t->elapsed_s = NAN;
    lilm_rng rng;
    lilm_rng_seed(&rng, st->sp->study.seed * 0x9E3779B97F4A7C15ull + (uint64_t)number * 0xBF58476D1CE4E5B9ull + 1);
    lilm_status s = lilm_tpe_suggest(st->sp, obs, n, &rng, t->x);
    free(obs);
    if (s != LILM_OK) return s;
    *idx = st->n++;
    return LILM_OK;
}

lilm_status lilm_study_report(lilm_study *st, size_t idx, int64_t step, double value)
{
    lilm_trial *t = &st->trials[idx];
    if (t->n_reports == t->cap_reports) {
        size_t cap = t->cap_reports ? 2 * t->cap_reports : 8;
        lilm_trial_report *p = realloc(t->reports, cap * sizeof *p);
        if (!p) return lilm_errorf(LILM_ERR_OOM, "out of memory recording a report");
        t->reports = p;
        t->cap_reports = cap;
    }
    t->reports[t->n_reports++] = (lilm_trial_report){step, value};
    return LILM_OK;
}

static int lilm_study_should_prune(const lilm_study *st, size_t idx) { return lilm_pruner_should_prune(st, idx); }

size_t lilm_study_finished(const lilm_study *st)
{
    size_t k = 0;
    for (size_t i = 0; i < st->n; i++) k += st->trials[i].state != LILM_TRIAL_RUNNING;
    return k;
}

int64_t lilm_study_best(const lilm_study *st)
{
    int64_t best = -1;
    for (size_t i = 0; i < st->n; i++) {
        const lilm_trial *t = &st->trials[i];
        if (t->state == LILM_TRIAL_COMPLETE && isfinite(t->value) && (best < 0 || t->value < st->trials[best].value))
            best = (int64_t)i;
    }
    return best;
}

/* ---- the loop ---- */

struct lilm_trial_monitor {
    lilm_study *st;
    size_t idx;
    const lilm_study_io *io;
};

int lilm_trial_monitor_report(lilm_trial_monitor *mon, int64_t step, double value)
{
    if (lilm_study_report(mon->st, mon->idx, step, value) != LILM_OK) return -1;
    if (mon->io->save && mon->io->save(mon->io->user, mon->st, &mon->st->trials[mon->idx]) != LILM_OK) return -1;
    return lilm_study_should_prune(mon->st, mon->idx);
}

lilm_status lilm_trial_monitor_save(lilm_trial_monitor *mon)
{
    return mon->io->save ? mon->io->save(mon->io->user, mon->st, &mon->st->trials[mon->idx]) : LILM_OK;
}

static lilm_status run_one(lilm_study *st, size_t idx, const lilm_study_io *io)
{
    lilm_trial *t = &st->trials[idx];
    t->n_reports = 0;
    t->state = LILM_TRIAL_RUNNING;
    t->value = NAN;
    t->reason[0] = '\0';
    t->finished_at[0] = '\0';
    now_iso(t->started_at, sizeof t->started_at);
    if (io->save) LILM_TRY(io->save(io->user, st, t));
    lilm_trial_monitor mon = {st, idx, io};
    lilm_trial_result res = {LILM_TRIAL_FAILED, NAN, ""};
    LILM_TRY(io->run(io->user, st, t, &mon, &res));
    t = &st->trials[idx];
    t->state = res.state == LILM_TRIAL_RUNNING ? LILM_TRIAL_FAILED : res.state;
    t->value = res.value;
    if (t->state == LILM_TRIAL_COMPLETE && !isfinite(t->value)) {
        t->state = LILM_TRIAL_FAILED;
        snprintf(t->reason, sizeof t->reason, "the objective is not a finite number");
    } else {
        snprintf(t->reason, sizeof t->reason, "%s", res.reason);
    }
    if (t->state == LILM_TRIAL_PRUNED && t->n_reports) t->value = t->reports[t->n_reports - 1].value;
    now_iso(t->finished_at, sizeof t->finished_at);
    if (io->save) LILM_TRY(io->save(io->user, st, t));
    if (io->after) io->after(io->user, st, t);
    return LILM_OK;
}

lilm_status lilm_study_optimize(lilm_study *st, const lilm_study_io *io, volatile sig_atomic_t *stop)
{
    for (size_t i = 0; i < st->n && !(stop && *stop); i++)
        if (st->trials[i].state == LILM_TRIAL_RUNNING) LILM_TRY(run_one(st, i, io));
    while (!(stop && *stop) && (int64_t)lilm_study_finished(st) < st->sp->study.trials) {
        size_t idx;
        LILM_TRY(lilm_study_ask(st, &idx));
        LILM_TRY(run_one(st, idx, io));
    }
    return stop && *stop ? LILM_ERR_INTERRUPTED : LILM_OK;
}
