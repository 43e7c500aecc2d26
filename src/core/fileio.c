/*
 * fileio.c: atomic writes, whole-file reads, memory maps, mkdir -p.
 *
 * The atomic write protocol: create "<path>.tmp.<pid>" in the same directory,
 * write everything, fflush + fsync, rename over <path>, then fsync the
 * directory so the rename itself is durable. Any failure unlinks the temp.
 * Line files (metrics.jsonl) append each line with one write(2) and cut a
 * failed, partial line off again, so the file holds whole lines only.
 * Temps left by dead writers are recognised by their pid suffix: when
 * kill(pid, 0) reports no such process, nobody can still be writing them.
 */
#include "core/fileio.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void fsync_parent_dir(const char *path)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    int fd = open(dirname(buf), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* The pid of a "<anything>.tmp.<pid>" name, or 0 when `name` is not one. */
static long temp_pid(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot || dot - name < 5 || strncmp(dot - 4, ".tmp", 4) != 0 || !dot[1]) return 0;
    char *end;
    errno = 0;
    long pid = strtol(dot + 1, &end, 10);
    if (*end || errno || pid <= 0) return 0;
    return pid;
}

/* 1 when `name` is a temp file whose writer process is gone. */
static int is_stale_temp(const char *name)
{
    long pid = temp_pid(name);
    if (pid <= 0 || pid == (long)getpid() || (pid_t)pid != pid) return 0;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Removes stale temps of `path` only ("<basename>.tmp.<pid>" beside it). */
static void remove_stale_temps_of(const char *path)
{
    char dbuf[1024], bbuf[1024];
    snprintf(dbuf, sizeof dbuf, "%s", path);
    snprintf(bbuf, sizeof bbuf, "%s", path);
    const char *dir = dirname(dbuf), *base = basename(bbuf);
    size_t bl = strlen(base);
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, base, bl) != 0 || strncmp(e->d_name + bl, ".tmp.", 5) != 0) continue;
        if (!is_stale_temp(e->d_name)) continue;
        char full[2200];
        snprintf(full, sizeof full, "%s/%s", dir, e->d_name);
        unlink(full);
    }
    closedir(d);
}

int lilm_remove_stale_temps(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_stale_temp(e->d_name)) continue;
        char full[2200];
        snprintf(full, sizeof full, "%s/%s", dir, e->d_name);
        if (unlink(full) == 0) removed++;
    }
    closedir(d);
    return removed;
}

lilm_status lilm_atomic_open(lilm_atomic_file *af, const char *path)
{
    if (strlen(path) >= sizeof af->path)
        return lilm_errorf(LILM_ERR_ARG, "path too long: %s", path);
    snprintf(af->path, sizeof af->path, "%s", path);
    snprintf(af->tmp_path, sizeof af->tmp_path, "%s.tmp.%ld", path, (long)getpid());
    remove_stale_temps_of(path);
    af->f = fopen(af->tmp_path, "wb");
    if (!af->f)
        return lilm_errorf(LILM_ERR_IO, "cannot create %s: %s\nHINT: check that the directory exists and is writable",
                           af->tmp_path, strerror(errno));
    return LILM_OK;
}

void lilm_atomic_abort(lilm_atomic_file *af)
{
    if (af->f) fclose(af->f);
    af->f = NULL;
    unlink(af->tmp_path);
}

lilm_status lilm_atomic_commit(lilm_atomic_file *af)
{
    int err = 0;
    if (fflush(af->f) != 0 || ferror(af->f)) err = errno ? errno : EIO;
    if (!err && fsync(fileno(af->f)) != 0) err = errno;
    if (fclose(af->f) != 0 && !err) err = errno ? errno : EIO;
    af->f = NULL;
    if (!err && rename(af->tmp_path, af->path) != 0) err = errno;
    if (err) {
        unlink(af->tmp_path);
        return lilm_errorf(LILM_ERR_IO, "cannot write %s: %s%s", af->path, strerror(err),
                           err == ENOSPC ? "\nHINT: the disk is full; the previous version of the file is intact" : "");
    }
    fsync_parent_dir(af->path);
    return LILM_OK;
}

lilm_status lilm_write_atomic(const char *path, const void *data, size_t n)
{
    lilm_atomic_file af;
    LILM_TRY(lilm_atomic_open(&af, path));
    if (n && fwrite(data, 1, n, af.f) != n) {
        int e = errno;
        lilm_atomic_abort(&af);
        return lilm_errorf(LILM_ERR_IO, "cannot write %s: %s", path, strerror(e));
    }
    return lilm_atomic_commit(&af);
}

static lilm_status line_file_error(const lilm_line_file *lf, int err)
{
    return lilm_errorf(LILM_ERR_IO, "cannot append to %s: %s%s", lf->path, strerror(err),
                       err == ENOSPC ? "\nHINT: the disk is full; the file keeps every complete line written so far"
                                     : "");
}

lilm_status lilm_line_file_open(lilm_line_file *lf, const char *path)
{
    lf->fd = -1;
    lf->size = 0;
    if (strlen(path) >= sizeof lf->path) return lilm_errorf(LILM_ERR_ARG, "path too long: %s", path);
    snprintf(lf->path, sizeof lf->path, "%s", path);
    lf->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (lf->fd < 0) return lilm_errorf(LILM_ERR_IO, "cannot open %s for writing: %s", path, strerror(errno));
    struct stat st;
    if (fstat(lf->fd, &st) != 0) {
        int e = errno;
        close(lf->fd);
        lf->fd = -1;
        return lilm_errorf(LILM_ERR_IO, "cannot stat %s: %s", path, strerror(e));
    }
    lf->size = (long long)st.st_size;
    return LILM_OK;
}

lilm_status lilm_line_file_append(lilm_line_file *lf, const char *line, size_t n)
{
    if (lf->fd < 0) return lilm_errorf(LILM_ERR_ARG, "%s is not open", lf->path);
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(lf->fd, line + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = w < 0 ? errno : ENOSPC;
            if (ftruncate(lf->fd, (off_t)lf->size) != 0) { /* keep the complete lines only */ }
            return line_file_error(lf, e);
        }
        done += (size_t)w;
    }
    lf->size += (long long)n;
    return LILM_OK;
}

lilm_status lilm_line_file_close(lilm_line_file *lf)
{
    if (lf->fd < 0) return LILM_OK;
    int err = fsync(lf->fd) != 0 && errno != EINVAL ? errno : 0;
    if (close(lf->fd) != 0 && !err) err = errno;
    lf->fd = -1;
    return err ? line_file_error(lf, err) : LILM_OK;
}

lilm_status lilm_read_file(const char *path, char **data, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return lilm_errorf(errno == ENOENT ? LILM_ERR_NOT_FOUND : LILM_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    if (!buf) { fclose(f); return lilm_errorf(LILM_ERR_OOM, "out of memory reading %s", path); }
    for (;;) {
        if (len + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) { free(buf); fclose(f); return lilm_errorf(LILM_ERR_OOM, "out of memory reading %s", path); }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - 1 - len, f);
        len += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(buf); return lilm_errorf(LILM_ERR_IO, "error reading %s", path); }
    buf[len] = '\0';
    *data = buf;
    *n = len;
    return LILM_OK;
}

lilm_status lilm_mmap_open(lilm_mmap *m, const char *path)
{
    m->data = NULL;
    m->size = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return lilm_errorf(errno == ENOENT ? LILM_ERR_NOT_FOUND : LILM_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) { close(fd); return lilm_errorf(LILM_ERR_IO, "cannot stat %s: %s", path, strerror(errno)); }
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) { close(fd); return lilm_errorf(LILM_ERR_IO, "cannot map %s: %s", path, strerror(errno)); }
        m->data = p;
        m->size = (size_t)st.st_size;
    }
    close(fd);
    return LILM_OK;
}

void lilm_mmap_close(lilm_mmap *m)
{
    if (m->data) munmap(m->data, m->size);
    m->data = NULL;
    m->size = 0;
}

lilm_status lilm_mkdirs(const char *path)
{
    char buf[1024];
    if (strlen(path) >= sizeof buf) return lilm_errorf(LILM_ERR_ARG, "path too long: %s", path);
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return lilm_errorf(LILM_ERR_IO, "cannot create directory %s: %s", buf, strerror(errno));
            *p = c;
            if (c == '\0') break;
        }
    }
    return LILM_OK;
}

int lilm_path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}
