/*
 * report.h: the static HTML report of every run in runs.db.
 *
 * lilm_report_write() renders, from the db alone (run dirs may be gone):
 *   OUT/index.html        the leaderboard and the table of all runs, both
 *                         sortable by clicking a column header (again to
 *                         reverse; numbers sort as numbers, n/a last), and
 *                         the sweep plots: learning rate (log x) against
 *                         validation loss and depth against tokens per
 *                         parameter from autosize, vocabulary size against
 *                         BPB across runs that differ in vocabulary
 *   OUT/runs/<slug>.html  one page per run: its facts, training and
 *                         validation loss curves, BPB, tokens/s, learning
 *                         rate, autosize probes, samples, eval and config
 *   OUT/search-<slug>.html one page per search (lilm search): best-so-far
 *                         curve, each parameter against BPB, parameter
 *                         importances, the sortable trial table
 * Pages are self-contained: CSS and JS inline, plots inline SVG, nothing
 * fetched at view time. Each file is written atomically (temp + rename), run
 * pages before index.html, so a viewer never follows a link to a missing page.
 * A run whose stored data cannot be read gets a page saying so; the rest of
 * the report still renders.
 */
#ifndef LILM_TRACK_REPORT_H
#define LILM_TRACK_REPORT_H

#include <stddef.h>

#include "core/status.h"
#include "track/runs.h"
#include "track/strbuf.h"

typedef struct lilm_report_stats {
    size_t n_runs;       /* rows in the db */
    size_t n_pages;      /* run pages written */
    size_t n_problems;   /* runs whose data could not be read, or that carry warnings */
} lilm_report_stats;

/* Writes the report into out_dir (created if needed). `problems` (may be
 * NULL) collects one line per run that could not be fully rendered. */
lilm_status lilm_report_write(lilm_runs_db *db, const char *out_dir, lilm_report_stats *stats, lilm_strbuf *problems);

/* The file name stem of a run's page: the name with every byte outside
 * [A-Za-z0-9._-] replaced by '_', plus "-" and 8 hex digits of the name's
 * SHA-256 when anything was replaced (so two names never share a page). */
void lilm_report_slug(const char *name, char *out, size_t n);

#endif
