/*
 * cache.c: the cache directory and its stamps (cache.h).
 */
#include "data/cache.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/sha256.h"

lilm_status lilm_cache_root(char *out, size_t n)
{
    const char *home = getenv("LILM_HOME"), *xdg = getenv("XDG_CACHE_HOME"), *user = getenv("HOME");
    int k;
    if (home && *home) k = snprintf(out, n, "%s", home);
    else if (xdg && *xdg) k = snprintf(out, n, "%s/lilm", xdg);
    else if (user && *user) k = snprintf(out, n, "%s/.cache/lilm", user);
    else
        return lilm_errorf(LILM_ERR_ARG, "no cache directory: HOME is not set\nHINT: set LILM_HOME to a directory "
                                         "where lilm may keep datasets and tokenizers");
    if (k < 0 || (size_t)k >= n) return lilm_errorf(LILM_ERR_ARG, "the cache directory's path is too long");
    return LILM_OK;
}

lilm_status lilm_cache_path(char *out, size_t n, const char *sub)
{
    char root[1024];
    LILM_TRY(lilm_cache_root(root, sizeof root));
    int k = snprintf(out, n, "%s/%s", root, sub);
    if (k < 0 || (size_t)k >= n) return lilm_errorf(LILM_ERR_ARG, "cache path too long: %s/%s", root, sub);
    char dir[2048];
    snprintf(dir, sizeof dir, "%s", out);
    lilm_status st = lilm_mkdirs(dirname(dir));
    if (st) return lilm_error_context(st, "creating the cache directory (set LILM_HOME to move it): ");
    return LILM_OK;
}

void lilm_cache_hash(const char *key, char hex[13])
{
    char full[65];
    lilm_sha256_hex(key, strlen(key), full);
    memcpy(hex, full, 12);
    hex[12] = '\0';
}

int lilm_cache_stamp_ok(const char *stamp_path, const char *key)
{
    char *text = NULL;
    size_t n = 0;
    if (!lilm_path_exists(stamp_path)) return 0;
    if (lilm_read_file(stamp_path, &text, &n) != LILM_OK) {
        lilm_clear_error();
        return 0;
    }
    int ok = n == strlen(key) && memcmp(text, key, n) == 0;
    free(text);
    return ok;
}

lilm_status lilm_cache_stamp_write(const char *stamp_path, const char *key)
{
    return lilm_write_atomic(stamp_path, key, strlen(key));
}
