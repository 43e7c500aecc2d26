/*
 * fetch.c: Hugging Face dataset download with libcurl (fetch.h).
 *
 * One CURL easy handle is reused for every request (keeps the connection).
 * Listing pages are read into memory and parsed with core/json; files
 * stream into "<name>.part" opened for append. A Range request continues a
 * partial file; if the server answers 200 instead of 206 the write callback
 * truncates the .part before the first byte, so a server without Range
 * support still yields a correct file. Verification (size, SHA-256 for LFS
 * files) happens on the complete .part; only then is it renamed over the
 * final name, so a present final file is always a verified one.
 */
#include "data/fetch.h"

#include <curl/curl.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/json.h"
#include "core/progress.h"
#include "core/sha256.h"

typedef struct remote_file {
    char path[1024];
    int64_t size;
    char sha256[65];   /* "" when the file is not in LFS (no SHA-256 given) */
} remote_file;

typedef struct fetch_ctx {
    CURL *curl;
    struct curl_slist *headers;
    const char *endpoint;
    long stall_s;        /* a transfer with no data for this long fails */
    volatile sig_atomic_t *stop;
    lilm_progress prog;
    int64_t prog_base;   /* bytes of earlier files + the resumed part of this one */
    /* memory sink */
    char *mem;
    size_t mem_len, mem_cap;
    int mem_oom;
    char next_link[2048];
    /* file sink */
    FILE *out;
    int64_t have;        /* bytes already in the .part when the request started */
    int checked_code;
    int write_err;
} fetch_ctx;

static size_t mem_write(char *p, size_t sz, size_t n, void *ud)
{
    fetch_ctx *c = ud;
    size_t k = sz * n;
    if (c->mem_len + k + 1 > c->mem_cap) {
        size_t nc = c->mem_cap ? c->mem_cap : 65536;
        while (nc < c->mem_len + k + 1) nc *= 2;
        char *nm = realloc(c->mem, nc);
        if (!nm) {
            c->mem_oom = 1;
            return 0;
        }
        c->mem = nm;
        c->mem_cap = nc;
    }
    memcpy(c->mem + c->mem_len, p, k);
    c->mem_len += k;
    c->mem[c->mem_len] = '\0';
    return k;
}

/* Remembers a Link: <url>; rel="next" header for pagination. */
static size_t header_cb(char *p, size_t sz, size_t n, void *ud)
{
    fetch_ctx *c = ud;
    size_t k = sz * n;
    if (k > 5 && strncasecmp(p, "link:", 5) == 0) {
        char line[4096];
        size_t m = k < sizeof line - 1 ? k : sizeof line - 1;
        memcpy(line, p, m);
        line[m] = '\0';
        char *rel = strstr(line, "rel=\"next\"");
        if (rel) {
            *rel = '\0';
            char *lt = strrchr(line, '<'), *gt = lt ? strchr(lt, '>') : NULL;
            if (lt && gt && (size_t)(gt - lt - 1) < sizeof c->next_link) {
                memcpy(c->next_link, lt + 1, (size_t)(gt - lt - 1));
                c->next_link[gt - lt - 1] = '\0';
            }
        }
    }
    return k;
}

static size_t file_write(char *p, size_t sz, size_t n, void *ud)
{
    fetch_ctx *c = ud;
    size_t k = sz * n;
    if (!c->checked_code) {
        long code = 0;
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &code);
        c->checked_code = 1;
        if (code == 200 && c->have > 0) { /* the server ignored the Range: start over */
            fflush(c->out);
            if (ftruncate(fileno(c->out), 0) != 0 || fseek(c->out, 0, SEEK_SET) != 0) {
                c->write_err = errno ? errno : EIO;
                return 0;
            }
            c->prog_base -= c->have;
            c->have = 0;
        } else if (code != 200 && code != 206) {
            return k; /* an error body: dropped; the status is checked after */
        }
    }
    long code = 0;
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &code);
    if (code != 200 && code != 206) return k;
    if (fwrite(p, 1, k, c->out) != k) {
        c->write_err = errno ? errno : EIO;
        return 0;
    }
    return k;
}

static int xfer_cb(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    fetch_ctx *c = ud;
    (void)dltotal;
    (void)ultotal;
    (void)ulnow;
    lilm_progress_update(&c->prog, c->prog_base + (int64_t)dlnow);
    return c->stop && *c->stop ? 1 : 0; /* non-zero aborts the transfer */
}

/* Listing requests: no progress line, but a stop request aborts them too. */
static int stop_cb(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    fetch_ctx *c = ud;
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return c->stop && *c->stop ? 1 : 0;
}

/* Percent-encodes s (keeping '/' unless encode_slash) into out. */
static void url_encode(const char *s, int encode_slash, char *out, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *s && o + 4 < n; s++) {
        unsigned char ch = (unsigned char)*s;
        int keep = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                   ch == '.' || ch == '_' || ch == '~' || (ch == '/' && !encode_slash);
        if (keep) {
            out[o++] = (char)ch;
        } else {
            out[o++] = '%';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        }
    }
    out[o] = '\0';
}

static lilm_status curl_failure(fetch_ctx *c, CURLcode rc, const char *url)
{
    long os_err = 0;
    curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &os_err);
    if (rc == CURLE_ABORTED_BY_CALLBACK && c->stop && *c->stop)
        return lilm_errorf(LILM_ERR_INTERRUPTED, "interrupted while reading %s", url);
    if (rc == CURLE_COULDNT_CONNECT && os_err == ECONNREFUSED)
        return lilm_errorf(LILM_ERR_NETWORK, "%s refused the connection: nothing is listening there\n"
                                             "HINT: check HF_ENDPOINT (or --endpoint); is the mirror running?",
                           c->endpoint);
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return lilm_errorf(LILM_ERR_NETWORK, "%s stalled: no data for %ld s (%s)\nHINT: run the command again "
                                             "later (it resumes), or allow more time with HF_HUB_DOWNLOAD_TIMEOUT",
                           url, c->stall_s, curl_easy_strerror(rc));
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        return lilm_errorf(LILM_ERR_NETWORK, "cannot reach %s (%s): there seems to be no network connection\n"
                                             "HINT: run this where the hub is reachable, set HF_ENDPOINT to a mirror, "
                                             "or copy the dataset's files by hand and pass their paths to "
                                             "`lilm data prepare`", c->endpoint, curl_easy_strerror(rc));
    default:
        return lilm_errorf(LILM_ERR_NETWORK, "download of %s failed: %s", url, curl_easy_strerror(rc));
    }
}

static lilm_status http_failure(long code, const char *url, const char *repo)
{
    if (code == 401 || code == 403)
        return lilm_errorf(LILM_ERR_NETWORK, "%s: access denied (HTTP %ld); the dataset may be gated or private\n"
                                             "HINT: accept its terms on the hub, then set HF_TOKEN to an access token",
                           url, code);
    if (code == 404)
        return lilm_errorf(LILM_ERR_NOT_FOUND, "%s: not found (HTTP 404)\nHINT: check the dataset name '%s' and "
                                               "--revision", url, repo);
    return lilm_errorf(LILM_ERR_NETWORK, "%s: the server answered HTTP %ld", url, code);
}

static void common_setup(fetch_ctx *c, const char *url)
{
    curl_easy_reset(c->curl);
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c->curl, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "lilm-data-fetch/1");
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, c->stall_s);
    curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME, c->stall_s);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    if (c->headers) curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
}

/* Pages of a listing already read: a Link that points back to one of them
 * would never end. */
typedef struct seen_urls {
    char **v;
    size_t n, cap;
} seen_urls;

static void seen_free(seen_urls *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
}

/* 1 when url was seen before; else remembers it (0), or -1 out of memory. */
static int seen_check(seen_urls *s, const char *url)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], url) == 0) return 1;
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 16;
        char **nv = realloc(s->v, nc * sizeof *nv);
        if (!nv) return -1;
        s->v = nv;
        s->cap = nc;
    }
    s->v[s->n] = strdup(url);
    if (!s->v[s->n]) return -1;
    s->n++;
    return 0;
}

/* One listed file entry -> f. Returns 0 to skip the entry, 1 to keep it, or
 * an error for an entry that cannot be trusted (unsafe or cut path, bad size). */
static lilm_status parse_entry(const lilm_json *e, const char *suffix, const char *url, remote_file *f, int *keep)
{
    *keep = 0;
    const char *type = lilm_json_get_str(e, "type");
    const lilm_json *pj = lilm_json_get(e, "path");
    if (!pj || pj->type != LILM_JSON_STRING || (type && strcmp(type, "file") != 0)) return LILM_OK;
    const char *path = pj->str;
    if (strlen(path) != pj->len)
        return lilm_errorf(LILM_ERR_FORMAT, "%s: a listed file path holds a NUL byte ('%s...'); refusing it", url,
                           path);
    size_t pl = pj->len, sl = strlen(suffix);
    if (pl < sl || strcmp(path + pl - sl, suffix) != 0) return LILM_OK;
    if (strstr(path, "..") || path[0] == '/')
        return lilm_errorf(LILM_ERR_FORMAT, "%s: refusing the unsafe file path '%s'", url, path);
    if (pl >= sizeof f->path) return lilm_errorf(LILM_ERR_FORMAT, "%s: a listed file path is too long", url);
    const lilm_json *lfs = lilm_json_get(e, "lfs");
    const char *oid = lilm_json_get_str(lfs, "oid");
    int64_t size = -1;
    int has_size = lilm_json_get_int(lfs, "size", &size) || lilm_json_get_int(e, "size", &size);
    if (has_size && size < 0)
        return lilm_errorf(LILM_ERR_FORMAT, "%s: '%s' is listed with a negative size (%lld)", url, path,
                           (long long)size);
    memset(f, 0, sizeof *f);
    memcpy(f->path, path, pl + 1);
    f->size = has_size ? size : -1;
    if (oid && strlen(oid) == 64) snprintf(f->sha256, sizeof f->sha256, "%s", oid);
    *keep = 1;
    return LILM_OK;
}

/* Lists the repository's files (all pages). */
static lilm_status list_files(fetch_ctx *c, const lilm_fetch_opts *o, const char *rev, const char *suffix,
                              remote_file **files, int *n_files)
{
    char enc_rev[512], url[4096];
    url_encode(rev, 1, enc_rev, sizeof enc_rev);
    snprintf(url, sizeof url, "%s/api/datasets/%s/tree/%s?recursive=true", c->endpoint, o->repo, enc_rev);
    int cap = 0;
    *files = NULL;
    *n_files = 0;
    seen_urls seen = {0};
    lilm_status st = LILM_OK;
    for (int page = 0; st == LILM_OK; page++) {
        int again = seen_check(&seen, url);
        if (again < 0) st = lilm_errorf(LILM_ERR_OOM, "out of memory");
        else if (again) st = lilm_errorf(LILM_ERR_FORMAT, "the hub's file list links back to a page it already "
                                                          "sent (%s)\nHINT: the server at %s is not a working "
                                                          "hub; check HF_ENDPOINT", url, c->endpoint);
        else if (page >= 10000) st = lilm_errorf(LILM_ERR_NETWORK, "the hub's file list did not end after 10000 pages");
        else if (c->stop && *c->stop) st = lilm_errorf(LILM_ERR_INTERRUPTED, "interrupted while listing the files");
        if (st) break;
        common_setup(c, url);
        c->mem_len = 0;
        c->next_link[0] = '\0';
        curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, mem_write);
        curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
        curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, header_cb);
        curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, c);
        curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, stop_cb);
        curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, c);
        CURLcode rc = curl_easy_perform(c->curl);
        long code = 0;
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &code);
        if (c->mem_oom) st = lilm_errorf(LILM_ERR_OOM, "out of memory reading the file list");
        else if (rc != CURLE_OK) st = curl_failure(c, rc, url);
        else if (code != 200) st = http_failure(code, url, o->repo);
        if (st) break;
        lilm_json *arr = NULL;
        if ((st = lilm_json_parse(&arr, c->mem ? c->mem : "", c->mem_len, url)) != LILM_OK) break;
        if (arr->type != LILM_JSON_ARRAY)
            st = lilm_errorf(LILM_ERR_FORMAT, "%s: expected a JSON array of files from the hub API", url);
        for (size_t i = 0; i < arr->n && st == LILM_OK; i++) {
            remote_file f;
            int keep = 0;
            if ((st = parse_entry(&arr->items[i], suffix, url, &f, &keep)) != LILM_OK || !keep) continue;
            if (*n_files == cap) {
                cap = cap ? cap * 2 : 16;
                remote_file *nf = realloc(*files, (size_t)cap * sizeof *nf);
                if (!nf) {
                    st = lilm_errorf(LILM_ERR_OOM, "out of memory");
                    break;
                }
                *files = nf;
            }
            (*files)[(*n_files)++] = f;
        }
        lilm_json_free(arr);
        if (st || !c->next_link[0]) break;
        snprintf(url, sizeof url, "%s", c->next_link);
    }
    seen_free(&seen);
    return st;
}

static int64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

static lilm_status verify(const remote_file *f, const char *path, int *ok)
{
    *ok = 0;
    if (f->size >= 0 && file_size(path) != f->size) return LILM_OK;
    if (f->sha256[0]) {
        char hex[65];
        LILM_TRY(lilm_sha256_file(path, hex));
        if (strcmp(hex, f->sha256) != 0) return LILM_OK;
    }
    *ok = 1;
    return LILM_OK;
}

static lilm_status download(fetch_ctx *c, const lilm_fetch_opts *o, const char *rev, const remote_file *f,
                            const char *final, int retries, lilm_fetch_report *r)
{
    char part[1100], url[4096], enc_path[2048], enc_rev[512], dir[1100];
    snprintf(part, sizeof part, "%s.part", final);
    snprintf(dir, sizeof dir, "%s", final);
    LILM_TRY(lilm_mkdirs(dirname(dir)));
    url_encode(f->path, 0, enc_path, sizeof enc_path);
    url_encode(rev, 1, enc_rev, sizeof enc_rev);
    snprintf(url, sizeof url, "%s/datasets/%s/resolve/%s/%s", c->endpoint, o->repo, enc_rev, enc_path);
    int64_t base = c->prog_base;
    int resumed_once = 0, idle_tries = 0;
    for (int attempt = 0;; attempt++) {
        int64_t have = file_size(part);
        if (have < 0) have = 0;
        if (f->size >= 0 && have > f->size) { /* longer than the real file: junk */
            unlink(part);
            have = 0;
        }
        if (f->size >= 0 && have == f->size) break;
        if (have > 0 && !resumed_once) {
            r->n_resumed++;
            resumed_once = 1;
        }
        c->out = fopen(part, "ab");
        if (!c->out) return lilm_errorf(LILM_ERR_IO, "cannot write %s: %s", part, strerror(errno));
        c->have = have;
        c->checked_code = 0;
        c->write_err = 0;
        c->prog_base = base + have;
        common_setup(c, url);
        char range[64];
        if (have > 0) {
            snprintf(range, sizeof range, "%lld-", (long long)have);
            curl_easy_setopt(c->curl, CURLOPT_RANGE, range);
        }
        curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, file_write);
        curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
        curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, xfer_cb);
        curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, c);
        CURLcode rc = curl_easy_perform(c->curl);
        long code = 0;
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &code);
        if (rc == CURLE_ABORTED_BY_CALLBACK && c->stop && *c->stop) {
            fclose(c->out);
            c->out = NULL;
            return lilm_errorf(LILM_ERR_INTERRUPTED, "interrupted; %s is kept and a re-run resumes it", part);
        }
        curl_off_t got = 0;
        curl_easy_getinfo(c->curl, CURLINFO_SIZE_DOWNLOAD_T, &got);
        int close_err = fclose(c->out) != 0;
        c->out = NULL;
        if (c->write_err || close_err)
            return lilm_errorf(LILM_ERR_IO, "cannot write %s: %s\nHINT: is the disk full?", part,
                               strerror(c->write_err ? c->write_err : EIO));
        if (code == 200 || code == 206) r->bytes_downloaded += (int64_t)got;
        if (code == 416 && have > 0) { /* the range starts at/after the end: start over */
            unlink(part);
            if (attempt >= retries) return http_failure(code, url, o->repo);
            continue;
        }
        if (rc == CURLE_OK && code != 200 && code != 206) return http_failure(code, url, o->repo);
        if (rc != CURLE_OK) {
            int transient = rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING ||
                            rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_SEND_ERROR || rc == CURLE_HTTP2_STREAM;
            /* a try that brought nothing may be retried once; a second in a row means the server is stuck */
            idle_tries = got > 0 ? 0 : idle_tries + 1;
            if (!transient || attempt >= retries || idle_tries >= 2) {
                lilm_status st = curl_failure(c, rc, url);
                return lilm_error_context(st, "%s is kept and a re-run resumes it; ", part);
            }
            continue; /* resume from what arrived */
        }
        if (f->size < 0) break; /* size unknown: one complete response is the file */
        if (file_size(part) == f->size) break;
        if (attempt >= retries)
            return lilm_errorf(LILM_ERR_NETWORK, "%s: got %lld of %lld bytes after %d tries\nHINT: run the command "
                                                 "again; it resumes", url, (long long)file_size(part),
                               (long long)f->size, attempt + 1);
    }
    int ok = 0;
    LILM_TRY(verify(f, part, &ok));
    if (!ok) {
        int64_t sz = file_size(part);
        unlink(part);
        if (f->size >= 0 && sz != f->size)
            return lilm_errorf(LILM_ERR_MISMATCH, "%s: downloaded %lld bytes, the hub lists %lld; the partial file "
                                                  "was removed\nHINT: run the command again", f->path, (long long)sz,
                               (long long)f->size);
        return lilm_errorf(LILM_ERR_MISMATCH, "%s: SHA-256 of the download does not match the hub's (%.16s...); the "
                                              "file was removed\nHINT: run the command again; if it persists the "
                                              "mirror serves a different file", f->path, f->sha256);
    }
    /* make the data durable, then move it into place */
    FILE *fp = fopen(part, "rb");
    if (fp) {
        fsync(fileno(fp));
        fclose(fp);
    }
    if (rename(part, final) != 0) return lilm_errorf(LILM_ERR_IO, "cannot rename %s: %s", part, strerror(errno));
    c->prog_base = base + (f->size >= 0 ? f->size : 0);
    r->n_downloaded++;
    return LILM_OK;
}

lilm_status lilm_data_fetch(const lilm_fetch_opts *o, lilm_fetch_report *r)
{
    memset(r, 0, sizeof *r);
    double t0 = lilm_progress_clock();
    if (!o->repo || !strchr(o->repo, '/') || strstr(o->repo, ".."))
        return lilm_errorf(LILM_ERR_ARG, "dataset name '%s' should look like OWNER/NAME\nHINT: e.g. "
                                         "lilm data fetch SimpleStories/SimpleStories", o->repo ? o->repo : "");
    const char *rev = o->revision ? o->revision : "main";
    const char *suffix = o->suffix ? o->suffix : ".parquet";
    const char *env_ep = getenv("HF_ENDPOINT"), *env_tok = getenv("HF_TOKEN");
    const char *endpoint = o->endpoint ? o->endpoint : env_ep && *env_ep ? env_ep : "https://huggingface.co";
    const char *token = o->token ? o->token : env_tok && *env_tok ? env_tok : NULL;
    char ep[1024];
    snprintf(ep, sizeof ep, "%s", endpoint);
    while (strlen(ep) > 0 && ep[strlen(ep) - 1] == '/') ep[strlen(ep) - 1] = '\0';
    if (o->dest) snprintf(r->dest, sizeof r->dest, "%s", o->dest);
    else snprintf(r->dest, sizeof r->dest, "%s/%s", LILM_FETCH_DEFAULT_DIR, o->repo);

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return lilm_errorf(LILM_ERR_NETWORK, "libcurl failed to initialise");
    fetch_ctx c;
    memset(&c, 0, sizeof c);
    c.endpoint = ep;
    c.stop = o->stop;
    c.stall_s = o->stall_seconds > 0 ? o->stall_seconds : 0;
    if (c.stall_s == 0) {
        const char *env_to = getenv("HF_HUB_DOWNLOAD_TIMEOUT");
        c.stall_s = env_to && atol(env_to) > 0 ? atol(env_to) : LILM_FETCH_DEFAULT_STALL_S;
    }
    c.curl = curl_easy_init();
    lilm_status st = LILM_OK;
    if (!c.curl) st = lilm_errorf(LILM_ERR_NETWORK, "libcurl failed to create a handle");
    if (st == LILM_OK && token) {
        char auth[2048];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        c.headers = curl_slist_append(NULL, auth);
    }
    remote_file *files = NULL;
    int n = 0;
    if (st == LILM_OK) st = list_files(&c, o, rev, suffix, &files, &n);
    if (st == LILM_OK && n == 0)
        st = lilm_errorf(LILM_ERR_NOT_FOUND, "%s@%s has no files ending in '%s'\nHINT: pick another --revision "
                                             "(e.g. refs/convert/parquet) or --suffix", o->repo, rev, suffix);
    r->n_files = n;
    for (int i = 0; i < n; i++) r->bytes_total += files[i].size > 0 ? files[i].size : 0;
    if (st == LILM_OK) {
        lilm_progress_init(&c.prog, "fetch", "B", r->bytes_total);
        if (o->quiet) c.prog.quiet = 1;
    }
    int retries = o->retries > 0 ? o->retries : 3;
    for (int i = 0; i < n && st == LILM_OK; i++) {
        char final[2100];
        snprintf(final, sizeof final, "%s/%s", r->dest, files[i].path);
        int ok = 0;
        if (file_size(final) >= 0) {
            st = verify(&files[i], final, &ok);
            if (st) break;
        }
        if (ok) {
            r->n_present++;
            c.prog_base += files[i].size > 0 ? files[i].size : 0;
            lilm_progress_update(&c.prog, c.prog_base);
            continue;
        }
        unlink(final); /* present but wrong: fetch it again */
        lilm_progress_status(&c.prog, "%d/%d %s", i + 1, n, files[i].path);
        st = download(&c, o, rev, &files[i], final, retries, r);
    }
    if (st == LILM_OK && n > 0) {
        lilm_progress_status(&c.prog, "%d files", n);
        lilm_progress_update(&c.prog, r->bytes_total);
        lilm_progress_finish(&c.prog);
    } else if (n > 0 && c.prog.drawn) {
        fputc('\n', stderr);
    }
    free(files);
    free(c.mem);
    curl_slist_free_all(c.headers);
    if (c.curl) curl_easy_cleanup(c.curl);
    curl_global_cleanup();
    r->seconds = lilm_progress_clock() - t0;
    return st;
}
