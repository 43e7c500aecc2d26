/*
 * strbuf.h: a growing text buffer for the report, SVG and terminal writers.
 *
 * The report builds each page in memory and writes it with one atomic file
 * write, so it needs an append-only text buffer with printf and HTML
 * escaping. An allocation failure sets `oom` and turns later appends into
 * no-ops; lilm_strbuf_status() reports it once at the end, so writers do not
 * check every append. Invariant: when data != NULL it is NUL-terminated at len.
 */
#ifndef LILM_TRACK_STRBUF_H
#define LILM_TRACK_STRBUF_H

#include <stddef.h>

#include "core/status.h"

typedef struct lilm_strbuf {
    char *data;   /* the text so far, NUL-terminated (NULL until the first append) */
    size_t len;   /* bytes, excluding the NUL */
    size_t cap;   /* allocated bytes */
    int oom;      /* 1 after a failed allocation: the text is incomplete */
} lilm_strbuf;

void lilm_strbuf_init(lilm_strbuf *b);
void lilm_strbuf_free(lilm_strbuf *b);
void lilm_strbuf_reset(lilm_strbuf *b);          /* len = 0, keeps the memory */
void lilm_strbuf_append(lilm_strbuf *b, const char *s, size_t n);
void lilm_strbuf_puts(lilm_strbuf *b, const char *s);
void lilm_strbuf_printf(lilm_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s with &, <, >, " and ' escaped for HTML text and attribute values. */
void lilm_strbuf_html(lilm_strbuf *b, const char *s);
/* LILM_ERR_OOM if any append failed, else LILM_OK. */
lilm_status lilm_strbuf_status(const lilm_strbuf *b);

#endif
