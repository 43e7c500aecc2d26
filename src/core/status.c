/*
 * status.c: status names and the thread-local error detail.
 *
 * The detail buffer is per thread so that worker threads (tokenisation,
 * prefetch) can fail independently; the thread that joins them copies the
 * worker's detail into its own with lilm_errorf("%s", ...).
 */
#include "core/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char lilm__errbuf[2048];

static const char *const lilm__status_names[LILM_STATUS_COUNT] = {
    [LILM_OK] = "ok",
    [LILM_ERR_ARG] = "bad argument",
    [LILM_ERR_CONFIG] = "config error",
    [LILM_ERR_IO] = "I/O error",
    [LILM_ERR_FORMAT] = "format error",
    [LILM_ERR_VERSION] = "unsupported version",
    [LILM_ERR_OOM] = "out of memory",
    [LILM_ERR_UNSUPPORTED] = "unsupported",
    [LILM_ERR_NETWORK] = "network error",
    [LILM_ERR_DEVICE] = "device error",
    [LILM_ERR_INTERRUPTED] = "interrupted",
    [LILM_ERR_MISMATCH] = "mismatch",
    [LILM_ERR_NOT_FOUND] = "not found",
    [LILM_ERR_INTERNAL] = "internal error",
};

const char *lilm_status_str(lilm_status s)
{
    if ((int)s < 0 || s >= LILM_STATUS_COUNT || !lilm__status_names[s])
        return "unknown status";
    return lilm__status_names[s];
}

static lilm_status verrorf(lilm_status s, const char *fmt, va_list ap)
{
    vsnprintf(lilm__errbuf, sizeof lilm__errbuf, fmt, ap);
    return s;
}

lilm_status lilm_errorf(lilm_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verrorf(s, fmt, ap);
    va_end(ap);
    return s;
}

lilm_status lilm_error_context(lilm_status s, const char *fmt, ...)
{
    char prefix[512], old[sizeof lilm__errbuf];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, lilm__errbuf, sizeof old);
    size_t np = strlen(prefix), no = strlen(old);
    if (np > sizeof lilm__errbuf - 1) np = sizeof lilm__errbuf - 1;
    if (no > sizeof lilm__errbuf - 1 - np) no = sizeof lilm__errbuf - 1 - np;
    memcpy(lilm__errbuf, prefix, np);
    memcpy(lilm__errbuf + np, old, no);
    lilm__errbuf[np + no] = '\0';
    return s;
}

const char *lilm_last_error(void) { return lilm__errbuf; }

void lilm_clear_error(void) { lilm__errbuf[0] = '\0'; }

void lilm__assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "lilm: internal assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}
