/*
 * status.h: how every lilm library call reports failure.
 *
 * Library functions return an enum lilm_status. LILM_OK is zero; every other
 * value names a kind of failure. The human-readable detail (which file, which
 * line, what to do about it) is kept in a thread-local buffer set by
 * lilm_errorf() and read back with lilm_last_error(). Only src/cli/ may print
 * it and exit. LILM_ASSERT is for programmer errors alone: it reports
 * file:line and aborts.
 */
#ifndef LILM_STATUS_H
#define LILM_STATUS_H

#include <stdarg.h>

typedef enum lilm_status {
    LILM_OK = 0,
    LILM_ERR_ARG,         /* a bad argument or option value */
    LILM_ERR_CONFIG,      /* a config file or key is wrong */
    LILM_ERR_IO,          /* open/read/write/rename/fsync failed */
    LILM_ERR_FORMAT,      /* a file's contents are malformed or corrupt */
    LILM_ERR_VERSION,     /* a file is from an unsupported version */
    LILM_ERR_OOM,         /* out of memory (host, device or arena) */
    LILM_ERR_UNSUPPORTED, /* a feature not built in or not possible here */
    LILM_ERR_NETWORK,     /* a download failed */
    LILM_ERR_DEVICE,      /* a CUDA/cuBLAS call failed */
    LILM_ERR_INTERRUPTED, /* stopped by SIGINT/SIGTERM */
    LILM_ERR_MISMATCH,    /* two things that must agree do not (e.g. tokenizer hash) */
    LILM_ERR_NOT_FOUND,   /* a file, key or run does not exist */
    LILM_ERR_INTERNAL,    /* a bug: please report */
    LILM_STATUS_COUNT
} lilm_status;

/* Short name of a status, e.g. "format error". Never NULL. */
const char *lilm_status_str(lilm_status s);

/* Records a detail message for this thread and returns `s`, so callers can
 * write `return lilm_errorf(LILM_ERR_IO, "cannot open %s: %s", p, strerror(errno));` */
lilm_status lilm_errorf(lilm_status s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prepends context to the current detail ("reading x.model: " + old). */
lilm_status lilm_error_context(lilm_status s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The detail of the last failure on this thread ("" if none). */
const char *lilm_last_error(void);
void lilm_clear_error(void);

void lilm__assert_fail(const char *expr, const char *file, int line)
    __attribute__((noreturn));
#define LILM_ASSERT(x) \
    do { if (!(x)) lilm__assert_fail(#x, __FILE__, __LINE__); } while (0)

/* Propagate a non-OK status. */
#define LILM_TRY(expr) \
    do { lilm_status lilm__s = (expr); if (lilm__s != LILM_OK) return lilm__s; } while (0)

#endif
