/*
 * fileio.h: safe file primitives shared by every reader and writer.
 *
 * lilm_write_atomic() never leaves a half-written file behind: it writes a
 * temporary file beside the target, fsyncs it, renames it over the target and
 * fsyncs the directory. A crash or a full disk at any point leaves either the
 * old file or the new one. lilm_read_file() and lilm_mmap_file() give clear
 * errors naming the path.
 *
 * A writer killed mid-write (SIGKILL, power loss) leaves its temp file
 * "<path>.tmp.<pid>" behind. lilm_atomic_open() removes such files of the same
 * target whose process no longer exists, and lilm_remove_stale_temps() sweeps
 * a whole directory; a temp file of a live process is never touched.
 */
#ifndef LILM_CORE_FILEIO_H
#define LILM_CORE_FILEIO_H

#include <stddef.h>
#include <stdio.h>

#include "core/status.h"

/* Writes `n` bytes to `path` atomically. */
lilm_status lilm_write_atomic(const char *path, const void *data, size_t n);

/* Streaming form: open a temp file beside `path`, write to f, then commit
 * (fsync + rename) or abort (unlink the temp). */
typedef struct lilm_atomic_file {
    FILE *f;
    char tmp_path[1100];
    char path[1024];
} lilm_atomic_file;
lilm_status lilm_atomic_open(lilm_atomic_file *af, const char *path);
lilm_status lilm_atomic_commit(lilm_atomic_file *af);
void lilm_atomic_abort(lilm_atomic_file *af);

/* Removes every "*.tmp.<pid>" file directly in `dir` whose process <pid> is
 * no longer running; returns how many were removed (0 when `dir` is absent). */
int lilm_remove_stale_temps(const char *dir);

/* An append-only line file (metrics.jsonl) that never loses a line silently:
 * each line goes out in one write(2); when it fails (a full disk, say) the
 * file is cut back to its last complete line and the call returns
 * LILM_ERR_IO naming the file, so the caller can stop instead of going on
 * with metrics missing or cut mid-line. */
typedef struct lilm_line_file {
    int fd;
    long long size; /* bytes of complete lines */
    char path[1024];
} lilm_line_file;
lilm_status lilm_line_file_open(lilm_line_file *lf, const char *path);
/* Appends `n` bytes (one or more whole lines, ending in '\n'). */
lilm_status lilm_line_file_append(lilm_line_file *lf, const char *line, size_t n);
/* fsyncs and closes; LILM_ERR_IO if the data did not reach the disk. */
lilm_status lilm_line_file_close(lilm_line_file *lf);

/* Reads a whole file into a malloc'd buffer (NUL-terminated; *n excludes it). */
lilm_status lilm_read_file(const char *path, char **data, size_t *n);

/* Read-only memory map of a whole file. An empty file maps to (NULL, 0). */
typedef struct lilm_mmap {
    void *data;
    size_t size;
} lilm_mmap;
lilm_status lilm_mmap_open(lilm_mmap *m, const char *path);
void lilm_mmap_close(lilm_mmap *m);

/* mkdir -p */
lilm_status lilm_mkdirs(const char *path);
/* 1 if path exists */
int lilm_path_exists(const char *path);

#endif
