/*
 * fetch.h: `lilm data fetch`: download a Hugging Face dataset's files.
 *
 * Lists the repository through the hub API
 *   GET {endpoint}/api/datasets/{repo}/tree/{revision}?recursive=true
 * (a JSON array of {type, path, size, oid, lfs: {oid = sha256, size}},
 * paginated with a Link: <...>; rel="next" header), keeps the files whose
 * names end with `suffix` (".parquet" by default), and downloads each from
 *   {endpoint}/datasets/{repo}/resolve/{revision}/{path}
 * into {dest}/{path}. A download goes to {path}.part first and resumes it
 * with an HTTP Range request (after an interruption, or when the connection
 * drops: up to `retries` times); the size and, for LFS files, the SHA-256 are
 * verified before the file is renamed into place. Files already present with
 * the right size and hash are skipped. HF_ENDPOINT and HF_TOKEN (sent as
 * "Authorization: Bearer") are honoured when the options leave them unset,
 * and HF_HUB_DOWNLOAD_TIMEOUT (seconds) as the stall limit, as huggingface_hub
 * does. A listing whose next-page link repeats a page already read, an entry
 * with an unsafe path ("..", absolute, a NUL byte) or a negative size is
 * refused; a stop request ends a listing as it ends a download.
 */
#ifndef LILM_DATA_FETCH_H
#define LILM_DATA_FETCH_H

#include <signal.h>
#include <stdint.h>

#include "core/status.h"

#define LILM_FETCH_DEFAULT_DIR "data/hf"
#define LILM_FETCH_DEFAULT_STALL_S 10L

typedef struct lilm_fetch_opts {
    const char *repo;        /* "SimpleStories/SimpleStories" */
    const char *revision;    /* NULL: "main" */
    const char *dest;        /* NULL: data/hf/<repo> */
    const char *endpoint;    /* NULL: $HF_ENDPOINT or https://huggingface.co */
    const char *token;       /* NULL: $HF_TOKEN (may be unset) */
    const char *suffix;      /* NULL: ".parquet"; "" takes every file */
    int retries;             /* resumes after a dropped connection; 0: 3 */
    long stall_seconds;      /* a connection or transfer silent this long fails (two silent tries in a row
                                end the download); 0: $HF_HUB_DOWNLOAD_TIMEOUT, else 10 */
    int quiet;
    volatile sig_atomic_t *stop; /* set to stop: LILM_ERR_INTERRUPTED, .part files kept for resuming */
} lilm_fetch_opts;

typedef struct lilm_fetch_report {
    int n_files;             /* files selected */
    int n_downloaded;
    int n_present;           /* already there and verified */
    int64_t bytes_total;     /* of the selected files */
    int64_t bytes_downloaded;
    int n_resumed;           /* downloads that continued a .part file */
    double seconds;
    char dest[1024];
} lilm_fetch_report;

lilm_status lilm_data_fetch(const lilm_fetch_opts *o, lilm_fetch_report *r);

#endif
