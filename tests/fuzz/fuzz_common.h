/*
 * fuzz_common.h: what the file-based fuzzers share: a per-process scratch
 * directory and writing one input to a file in it (readers that take a path
 * or a directory are fuzzed through real files on /tmp).
 */
#ifndef LILM_FUZZ_COMMON_H
#define LILM_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* "/tmp/lilm-fuzz-<name>-<pid>", created on first use. */
static inline const char *fuzz_dir(const char *name, char *buf, size_t n)
{
    snprintf(buf, n, "/tmp/lilm-fuzz-%s-%ld", name, (long)getpid());
    mkdir(buf, 0700);
    return buf;
}

/* Writes n bytes to dir/file; aborts if it cannot (the harness is broken then). */
static inline void fuzz_write(const char *dir, const char *file, const void *data, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) abort();
}

#endif
