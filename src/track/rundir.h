/*
 * rundir.h: reading a run directory (docs/run-dir.md) into a run record.
 *
 * run.json is required (it names the run); every other file is optional.
 * Problems that do not stop the run from being registered (a malformed
 * metrics line, a field of the wrong type, invalid UTF-8 in samples.txt, a
 * config.yaml that does not parse) are collected as warnings, one line each,
 * "file:line: what is wrong", into rec->run.warnings, so the row is still
 * written and the report shows the problem on the run's page.
 */
#ifndef LILM_TRACK_RUNDIR_H
#define LILM_TRACK_RUNDIR_H

#include "core/status.h"
#include "track/runs.h"

/* Largest text file read from a run dir (config, samples, eval, JSONL). */
#define LILM_RUNDIR_MAX_FILE (256u << 20)

/* Fills *rec (caller frees with lilm_run_record_free, also on failure).
 * LILM_ERR_NOT_FOUND: no run.json; LILM_ERR_FORMAT: run.json is not a JSON
 * object (the message names line and column). */
lilm_status lilm_rundir_read(const char *run_dir, lilm_run_record *rec);

/* Whether `dir` may become a new run's directory (`lilm train --out DIR`).
 * A missing or empty directory, or one holding none of a run's files, is
 * fine. A directory that already holds a run (run.json, metrics.jsonl or
 * checkpoints/) is refused with LILM_ERR_ARG and a hint naming --resume and
 * --overwrite, unless `overwrite` is set: then the old run's files are
 * removed first, so nothing of it mixes with the new run. A dataset directory
 * (meta.json, *.tokens) is always refused, and so is a path that is not a
 * directory. */
lilm_status lilm_rundir_prepare_new(const char *dir, int overwrite);

/* Marks DIR/run.json "failed" when it still says "running" (a run that
 * stopped on an error, such as a full disk, before it could say so itself).
 * Rewrites the file atomically; when that fails too (no space for the temp
 * file), overwrites the 9 bytes of "running" in place with "failed" and a
 * space. LILM_OK when there is nothing to do. */
lilm_status lilm_rundir_mark_failed(const char *dir);

#endif
