/*
 * study.h: a study: the trials of one search over one space, and the loop
 * that asks the sampler for a trial, runs it, and records the outcome.
 *
 * The study knows nothing of training or of runs.db: running a trial and
 * saving a trial are callbacks (lilm_study_io) that the caller supplies
 * (`lilm search` runs `lilm train` as a child process and saves to runs.db,
 * src/track/study.h; the tests run formulas and keep trials in memory).
 *
 * Trial i's parameters come from a random stream seeded by (study seed, i),
 * so a search resumed after a crash asks for exactly the trials an
 * uninterrupted one would have. A trial found running when a study is
 * loaded was interrupted: it is run again with the same parameters. A
 * finished trial (complete, pruned, failed) is never run again.
 */
#ifndef LILM_SEARCH_STUDY_H
#define LILM_SEARCH_STUDY_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "search/space.h"

typedef enum lilm_trial_state {
    LILM_TRIAL_RUNNING = 0,
    LILM_TRIAL_COMPLETE,
    LILM_TRIAL_PRUNED,
    LILM_TRIAL_FAILED,
    LILM_TRIAL_STATE_COUNT
} lilm_trial_state;

/* "running", "complete", "pruned", "failed". */
const char *lilm_trial_state_name(lilm_trial_state s);
lilm_status lilm_trial_state_parse(const char *s, lilm_trial_state *out);

/* An intermediate value a running trial reported (validation loss). */
typedef struct lilm_trial_report {
    int64_t step;
    double value;
} lilm_trial_report;

typedef struct lilm_trial {
    int64_t number;             /* 0, 1, ... in the order asked */
    lilm_trial_state state;
    double x[LILM_SEARCH_MAX_PARAMS];   /* internal values, (n_params) */
    double value;               /* complete: the objective (BPB); pruned: the last report; else NaN */
    lilm_trial_report *reports; /* (n_reports), owned */
    size_t n_reports, cap_reports;
    char run_name[256];         /* the trial's run in runs.db ("" before it starts) */
    char run_dir[1024];
    char reason[512];           /* failed / pruned: why */
    char started_at[40], finished_at[40];   /* ISO-8601 UTC */
    double elapsed_s;
} lilm_trial;

typedef struct lilm_study {
    const lilm_space *sp;       /* borrowed */
    lilm_trial *trials;         /* (n) by number */
    size_t n, cap;
} lilm_study;

void lilm_study_init(lilm_study *st, const lilm_space *sp);
void lilm_study_free(lilm_study *st);

/* Appends a copy of t (a trial loaded from storage; numbers must be 0..n-1
 * in order). */
lilm_status lilm_study_add(lilm_study *st, const lilm_trial *t);
/* Appends a new running trial with the sampler's parameters; *idx is its index. */
lilm_status lilm_study_ask(lilm_study *st, size_t *idx);
/* Records a report for trial idx. */
lilm_status lilm_study_report(lilm_study *st, size_t idx, int64_t step, double value);

/* Finished trials (complete + pruned + failed), and complete ones. */
size_t lilm_study_finished(const lilm_study *st);
/* Index of the complete trial with the lowest value, or -1. */
int64_t lilm_study_best(const lilm_study *st);

/* ---- the loop ---- */

typedef struct lilm_trial_monitor lilm_trial_monitor;

/* What a trial's run came to. */
typedef struct lilm_trial_result {
    lilm_trial_state state;     /* complete, pruned or failed */
    double value;
    char reason[512];
} lilm_trial_result;

typedef struct lilm_study_io {
    void *user;
    /* Stores trial t (insert or update). NULL: nothing stored. */
    lilm_status (*save)(void *user, const lilm_study *st, const lilm_trial *t);
    /* Runs trial t. Calls lilm_trial_monitor_report() for each intermediate
     * value and stops the trial early when it returns 1 (pruned). Fills res.
     * A failure of the trial itself is res->state = FAILED, status LILM_OK;
     * a non-OK status stops the search (interrupted, storage failed) and
     * leaves the trial running, to be run again on resume. */
    lilm_status (*run)(void *user, const lilm_study *st, lilm_trial *t, lilm_trial_monitor *mon, lilm_trial_result *res);
    /* Called after each finished trial (progress output). NULL: nothing. */
    void (*after)(void *user, const lilm_study *st, const lilm_trial *t);
} lilm_study_io;

/* Records (step, value) for the trial being run and saves it; returns 1 when
 * the pruner says stop, 0 to go on, -1 when saving failed. */
int lilm_trial_monitor_report(lilm_trial_monitor *mon, int64_t step, double value);

/* Saves the trial being run as it is now (e.g. once its run dir is known). */
lilm_status lilm_trial_monitor_save(lilm_trial_monitor *mon);

/* Runs interrupted trials again, then new ones until sp->study.trials are
 * finished or *stop is set. */
lilm_status lilm_study_optimize(lilm_study *st, const lilm_study_io *io, volatile sig_atomic_t *stop);

#endif
