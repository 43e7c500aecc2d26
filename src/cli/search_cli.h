/*
 * search_cli.h: the parts of `lilm search` that run trials (search_runner.c)
 * and print studies (search_status.c), shared with cmd_search.c.
 *
 * A trial runs as a child process, `lilm train`, so that a trial that runs
 * out of memory, crashes or is killed takes only itself down; the search
 * records it as failed (with the exit status or signal and the last error
 * line of its log) and goes on. The child dies with the search (Linux
 * PR_SET_PDEATHSIG), so a killed search leaves no orphan training.
 */
#ifndef LILM_CLI_SEARCH_CLI_H
#define LILM_CLI_SEARCH_CLI_H

#include <signal.h>
#include <stdio.h>

#include "search/space.h"
#include "search/study.h"
#include "track/runs.h"

typedef struct lilm_search_runner {
    const lilm_space *sp;
    const char *space_label;   /* for messages */
    char dir[1024];            /* the study directory: base.yaml, vocab/, STUDY-tNNNN/ */
    char study_name[128];
    char base_config[1100];    /* the config every trial starts from */
    char exe[1024];            /* this lilm binary */
    const char *db_path;       /* runs.db the trials record themselves in */
    lilm_runs_db *db;          /* the study's storage (NULL: in memory) */
    int64_t study_id;
    double minutes;            /* per-trial budget */
    const char *device;        /* NULL: the config's */
    int64_t threads;           /* -1: the config's */
    int quiet;
    volatile sig_atomic_t *stop;
} lilm_search_runner;

/* Writes the base config (the recipe's resolved for the device, or the file's
 * path as is) and prepares the study directory. Prints and returns 2 on bad
 * input, 1 on failure, 0 when ready. */
int lilm_search_runner_init(lilm_search_runner *r, const char *device);

/* The io callbacks for lilm_study_optimize, with user = the runner. */
lilm_study_io lilm_search_runner_io(lilm_search_runner *r);

/* `lilm search --status`: the trial table, best-so-far and importances. */
void lilm_search_print_status(FILE *f, const lilm_study *st, const char *name);

/* "key=value" for every config key a trial sets (params with a dot, derived
 * keys with a dot), in order, into sets (max entries); returns the count, or
 * -1 after setting the lilm error. */
int lilm_search_trial_sets(const lilm_space *sp, const double *x, char (*sets)[320], int max);


#endif
