/*
 * runs_impl.h: what other track files need of runs.c to keep their own
 * tables in runs.db (src/track/study_db.c): the open connection and the
 * mapping of a SQLite failure to a lilm status with a hint.
 *
 * Not part of the public API; the lilm__ prefix marks it internal.
 */
#ifndef LILM_TRACK_RUNS_IMPL_H
#define LILM_TRACK_RUNS_IMPL_H

#include <sqlite3.h>

#include "track/runs.h"

sqlite3 *lilm__runs_sqlite(lilm_runs_db *db);
lilm_status lilm__runs_fail(const lilm_runs_db *db, int rc, const char *doing);

#endif
