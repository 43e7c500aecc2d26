/*
 * study_db.h: searches (studies and their trials) stored in runs.db.
 *
 * Three tables beside the runs table, created on first use (CREATE TABLE IF
 * NOT EXISTS, so an older runs.db gains them and older lilm builds ignore
 * them):
 *   search_studies  (id, name UNIQUE, space_yaml, space_sha256, created_at, updated_at)
 *   search_trials   (study_id, number, state, params_json, value, run_name, run_dir,
 *                    reason, started_at, finished_at, elapsed_s)
 *   search_reports  (study_id, number, seq, step, value): intermediate values
 * A study keeps the text of its space file, so it can be resumed, shown and
 * plotted without the file; resuming with a changed space is refused.
 * params_json maps each parameter name to its value (a number, or the
 * choice's text for categorical parameters). Each save is one transaction.
 */
#ifndef LILM_TRACK_STUDY_DB_H
#define LILM_TRACK_STUDY_DB_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "search/space.h"
#include "search/study.h"
#include "track/runs.h"

typedef struct lilm_study_record {
    int64_t id;
    char name[128];
    char space_sha256[65];
    char created_at[40], updated_at[40];
    char *space_yaml;          /* owned */
    int64_t n_trials, n_complete;
    double best_value;         /* NaN if none complete */
} lilm_study_record;

void lilm_study_record_free(lilm_study_record *r);

/* Finds the study called name, or creates it with this space text. An
 * existing study with a different space is LILM_ERR_MISMATCH. */
lilm_status lilm_study_db_open_study(lilm_runs_db *db, const char *name, const char *space_yaml, int64_t *id);
/* Inserts or replaces trial t of study id, with its reports. */
lilm_status lilm_study_db_save_trial(lilm_runs_db *db, int64_t id, const lilm_space *sp, const lilm_trial *t);
/* Appends the stored trials of study id, by number, to st (st->sp maps the values). */
lilm_status lilm_study_db_load_trials(lilm_runs_db *db, int64_t id, lilm_study *st);
/* Every study, oldest first; *out malloc'd (free each record, then the array). */
lilm_status lilm_study_db_list(lilm_runs_db *db, lilm_study_record **out, size_t *n);
/* The study called name; LILM_ERR_NOT_FOUND with a hint if absent. */
lilm_status lilm_study_db_find(lilm_runs_db *db, const char *name, lilm_study_record *out);

#endif
