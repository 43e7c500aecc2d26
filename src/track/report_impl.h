/*
 * report_impl.h: the pieces of report.c that the search pages
 * (report_search.c) share, so every page has the same frame, cells and
 * sortable tables.
 *
 * Not part of the public API; the lilm__ prefix marks it internal.
 */
#ifndef LILM_TRACK_REPORT_IMPL_H
#define LILM_TRACK_REPORT_IMPL_H

#include "track/runs.h"
#include "track/strbuf.h"

/* <html>..<main> with the report's CSS, and </main> with the sort script. */
void lilm__report_page_begin(lilm_strbuf *b, const char *title, const char *subtitle_html);
void lilm__report_page_end(lilm_strbuf *b);
/* A sortable header cell; a text cell; a numeric cell sorting on v shown as `shown`. */
void lilm__report_th(lilm_strbuf *b, const char *label, int numeric);
void lilm__report_td_text(lilm_strbuf *b, const char *s);
void lilm__report_td_num(lilm_strbuf *b, double v, const char *shown);

/* Writes OUT/search-<slug>.html for every study in the db; appends the
 * index's "Searches" section (a link per study) to index. Returns the number
 * of pages in *n_pages. */
lilm_status lilm__report_search_pages(lilm_runs_db *db, const char *out_dir, lilm_strbuf *index, size_t *n_pages);

#endif
