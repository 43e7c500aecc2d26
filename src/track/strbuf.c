/*
 * strbuf.c: the growing text buffer (see strbuf.h).
 *
 * Capacity doubles, so n appends cost O(total bytes). After an allocation
 * failure the buffer keeps what it had and ignores further appends.
 */
#include "track/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lilm_strbuf_init(lilm_strbuf *b) { memset(b, 0, sizeof *b); }

void lilm_strbuf_free(lilm_strbuf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void lilm_strbuf_reset(lilm_strbuf *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

/* Makes room for `extra` more bytes plus the NUL; 0 on failure. */
static int reserve(lilm_strbuf *b, size_t extra)
{
    if (b->oom) return 0;
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->oom = 1;
        return 0;
    }
    b->data = p;
    b->cap = cap;
    return 1;
}

void lilm_strbuf_append(lilm_strbuf *b, const char *s, size_t n)
{
    if (!reserve(b, n)) return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void lilm_strbuf_puts(lilm_strbuf *b, const char *s) { lilm_strbuf_append(b, s, strlen(s)); }

void lilm_strbuf_printf(lilm_strbuf *b, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        lilm_strbuf_append(b, small, (size_t)n);
        return;
    }
    if (!reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void lilm_strbuf_html(lilm_strbuf *b, const char *s)
{
    if (!s) return;
    const char *run = s;   /* start of the pending unescaped stretch */
    for (const char *p = s; *p; p++) {
        const char *rep = NULL;
        switch (*p) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default: break;
        }
        if (rep) {
            lilm_strbuf_append(b, run, (size_t)(p - run));
            lilm_strbuf_puts(b, rep);
            run = p + 1;
        }
    }
    lilm_strbuf_puts(b, run);
}

lilm_status lilm_strbuf_status(const lilm_strbuf *b)
{
    if (b->oom) return lilm_errorf(LILM_ERR_OOM, "out of memory while building a page (%zu bytes so far)", b->len);
    return LILM_OK;
}
