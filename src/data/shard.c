/*
 * shard.c: the token shard and document index files: writer and reader.
 *
 * Writer: tokens are narrowed to the shard's dtype into a staging buffer and
 * streamed to "<split>.tokens.tmp.<pid>" after a zeroed header; the index goes
 * to "<split>.docs.tmp.<pid>" the same way. commit() seeks back, writes the
 * real headers and renames (lilm_atomic_commit). The reader maps both files,
 * checks every header field, both CRC-32s, that the documents tile the token
 * stream, end in EOS and use ids below the vocab size, and (when meta.json is
 * present) that meta.json recorded this very payload.
 */
#include "data/shard.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/fileio.h"
#include "core/json.h"
#include "data/data_impl.h"
#include "data/dataset.h"

static void lilm_put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

void lilm_put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

uint32_t lilm_get_le32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static uint64_t lilm_get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

uint32_t lilm_crc32(uint32_t crc, const void *data, size_t n)
{
    const Bytef *p = data;
    while (n > 0) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = (uint32_t)crc32(crc, p, k);
        p += k;
        n -= k;
    }
    return crc;
}

static int hex_to_bytes(const char *hex, uint8_t out[32])
{
    if (!hex || strlen(hex) != 64) return 0;
    for (int i = 0; i < 32; i++) {
        unsigned v = 0;
        for (int j = 0; j < 2; j++) {
            char c = hex[2 * i + j];
            v <<= 4;
            if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
            else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
            else return 0;
        }
        out[i] = (uint8_t)v;
    }
    return 1;
}

static void bytes_to_hex(const uint8_t in[32], char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[in[i] >> 4];
        hex[2 * i + 1] = digits[in[i] & 15];
    }
    hex[64] = '\0';
}

/* ---- writer ---- */

#define STAGE_TOKENS 65536

struct lilm_shard_writer {
    lilm_atomic_file tok_f, doc_f;
    int tok_open, doc_open;
    int token_bytes;
    int32_t vocab_size, eos_id, pad_id;
    uint8_t tok_sha[32];
    int64_t n_docs, n_tokens, n_bytes;
    uint32_t tok_crc, doc_crc;
    uint8_t stage[4 * STAGE_TOKENS]; /* narrowed tokens waiting to be written */
    size_t stage_n;                  /* bytes in stage */
};

lilm_status lilm_shard_writer_open(lilm_shard_writer **out, const char *dir, const char *split,
                                   int32_t vocab_size, int32_t eos_id, int32_t pad_id,
                                   const char *tok_sha256)
{
    *out = NULL;
    if (vocab_size <= 0 || eos_id < 0 || eos_id >= vocab_size || pad_id >= vocab_size)
        return lilm_errorf(LILM_ERR_ARG, "shard writer: bad vocab %d / eos %d / pad %d", vocab_size, eos_id, pad_id);
    lilm_shard_writer *w = calloc(1, sizeof *w);
    if (!w) return lilm_errorf(LILM_ERR_OOM, "out of memory");
    if (!hex_to_bytes(tok_sha256, w->tok_sha)) {
        free(w);
        return lilm_errorf(LILM_ERR_ARG, "shard writer: tokenizer hash '%s' is not 64 hex digits", tok_sha256);
    }
    w->token_bytes = vocab_size <= 65536 ? 2 : 4;
    w->vocab_size = vocab_size;
    w->eos_id = eos_id;
    w->pad_id = pad_id;
    char path[1100];
    snprintf(path, sizeof path, "%s/%s.tokens", dir, split);
    lilm_status st = lilm_atomic_open(&w->tok_f, path);
    if (st == LILM_OK) {
        w->tok_open = 1;
        snprintf(path, sizeof path, "%s/%s.docs", dir, split);
        st = lilm_atomic_open(&w->doc_f, path);
        if (st == LILM_OK) w->doc_open = 1;
    }
    if (st == LILM_OK) {
        uint8_t zero[LILM_DATASET_TOKENS_HEADER] = {0};
        if (fwrite(zero, 1, LILM_DATASET_TOKENS_HEADER, w->tok_f.f) != LILM_DATASET_TOKENS_HEADER ||
            fwrite(zero, 1, LILM_DATASET_DOCS_HEADER, w->doc_f.f) != LILM_DATASET_DOCS_HEADER)
            st = lilm_errorf(LILM_ERR_IO, "cannot write %s: %s", w->tok_f.tmp_path, strerror(errno));
    }
    if (st) {
        lilm_shard_writer_abort(w);
        return st;
    }
    w->tok_crc = (uint32_t)crc32(0, Z_NULL, 0);
    w->doc_crc = w->tok_crc;
    *out = w;
    return LILM_OK;
}

static lilm_status flush_stage(lilm_shard_writer *w)
{
    if (w->stage_n == 0) return LILM_OK;
    w->tok_crc = lilm_crc32(w->tok_crc, w->stage, w->stage_n);
    if (fwrite(w->stage, 1, w->stage_n, w->tok_f.f) != w->stage_n)
        return lilm_errorf(LILM_ERR_IO, "cannot write %s: %s\nHINT: is the disk full?", w->tok_f.tmp_path,
                           strerror(errno));
    w->stage_n = 0;
    return LILM_OK;
}

lilm_status lilm_shard_writer_add(lilm_shard_writer *w, const int32_t *ids, size_t n, int64_t n_bytes)
{
    if (n == 0 || ids[n - 1] != w->eos_id)
        return lilm_errorf(LILM_ERR_INTERNAL, "shard writer: document %lld does not end with EOS",
                           (long long)w->n_docs);
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= w->vocab_size)
            return lilm_errorf(LILM_ERR_INTERNAL, "shard writer: token id %d out of range [0, %d)", id, w->vocab_size);
        if (w->stage_n + 4 > sizeof w->stage) LILM_TRY(flush_stage(w));
        if (w->token_bytes == 2) {
            w->stage[w->stage_n] = (uint8_t)id;
            w->stage[w->stage_n + 1] = (uint8_t)(id >> 8);
        } else {
            lilm_put_le32(w->stage + w->stage_n, (uint32_t)id);
        }
        w->stage_n += (size_t)w->token_bytes;
    }
    uint8_t rec[24];
    lilm_put_le64(rec, (uint64_t)w->n_tokens);
    lilm_put_le64(rec + 8, (uint64_t)n);
    lilm_put_le64(rec + 16, (uint64_t)n_bytes);
    w->doc_crc = lilm_crc32(w->doc_crc, rec, sizeof rec);
    if (fwrite(rec, 1, sizeof rec, w->doc_f.f) != sizeof rec)
        return lilm_errorf(LILM_ERR_IO, "cannot write %s: %s", w->doc_f.tmp_path, strerror(errno));
    w->n_docs++;
    w->n_tokens += (int64_t)n;
    w->n_bytes += n_bytes;
    return LILM_OK;
}

void lilm_shard_writer_summary(const lilm_shard_writer *w, lilm_shard_summary *s)
{
    s->n_docs = w->n_docs;
    s->n_tokens = w->n_tokens;
    s->n_bytes = w->n_bytes;
    s->tokens_crc = w->tok_crc;
    s->docs_crc = w->doc_crc;
}

static void build_tokens_header(const lilm_shard_writer *w, uint8_t h[LILM_DATASET_TOKENS_HEADER])
{
    memset(h, 0, LILM_DATASET_TOKENS_HEADER);
    memcpy(h, LILM_DATASET_TOKENS_MAGIC, 8);
    lilm_put_le32(h + 8, LILM_DATASET_VERSION);
    lilm_put_le32(h + 12, (uint32_t)w->token_bytes);
    lilm_put_le32(h + 16, (uint32_t)w->vocab_size);
    lilm_put_le32(h + 20, (uint32_t)w->eos_id);
    lilm_put_le32(h + 24, (uint32_t)w->pad_id);
    lilm_put_le64(h + 32, (uint64_t)w->n_tokens);
    lilm_put_le64(h + 40, (uint64_t)w->n_docs);
    lilm_put_le64(h + 48, (uint64_t)w->n_bytes);
    lilm_put_le64(h + 56, w->tok_crc);
    memcpy(h + 64, w->tok_sha, 32);
    lilm_put_le64(h + 120, lilm_crc32(0, h, 120));
}

static void build_docs_header(const lilm_shard_writer *w, uint8_t h[LILM_DATASET_DOCS_HEADER])
{
    memset(h, 0, LILM_DATASET_DOCS_HEADER);
    memcpy(h, LILM_DATASET_DOCS_MAGIC, 8);
    lilm_put_le32(h + 8, LILM_DATASET_VERSION);
    lilm_put_le64(h + 16, (uint64_t)w->n_docs);
    lilm_put_le64(h + 24, (uint64_t)w->n_tokens);
    lilm_put_le64(h + 32, (uint64_t)w->n_bytes);
    lilm_put_le64(h + 40, w->doc_crc);
    lilm_put_le64(h + 56, lilm_crc32(0, h, 56));
}

lilm_status lilm_shard_writer_commit(lilm_shard_writer *w, lilm_shard_summary *s)
{
    lilm_status st = flush_stage(w);
    uint8_t th[LILM_DATASET_TOKENS_HEADER], dh[LILM_DATASET_DOCS_HEADER];
    if (st == LILM_OK) {
        build_tokens_header(w, th);
        build_docs_header(w, dh);
        if (fseek(w->tok_f.f, 0, SEEK_SET) != 0 || fwrite(th, 1, sizeof th, w->tok_f.f) != sizeof th ||
            fseek(w->doc_f.f, 0, SEEK_SET) != 0 || fwrite(dh, 1, sizeof dh, w->doc_f.f) != sizeof dh)
            st = lilm_errorf(LILM_ERR_IO, "cannot write the headers of %s: %s", w->tok_f.path, strerror(errno));
    }
    if (st == LILM_OK) {
        st = lilm_atomic_commit(&w->tok_f);
        w->tok_open = 0;
    }
    if (st == LILM_OK) {
        st = lilm_atomic_commit(&w->doc_f);
        w->doc_open = 0;
    }
    if (st == LILM_OK && s) lilm_shard_writer_summary(w, s);
    lilm_shard_writer_abort(w);
    return st;
}

void lilm_shard_writer_abort(lilm_shard_writer *w)
{
    if (!w) return;
    if (w->tok_open) lilm_atomic_abort(&w->tok_f);
    if (w->doc_open) lilm_atomic_abort(&w->doc_f);
    free(w);
}

/* ---- reader ---- */

static lilm_status bad(const char *path, const char *what)
{
    return lilm_errorf(LILM_ERR_FORMAT, "%s: %s\nHINT: the dataset is damaged or incomplete; re-create it with "
                                        "`lilm data prepare` (it rewrites every file)", path, what);
}

/* Cross-checks the split against meta.json when the directory has one. */
static lilm_status check_meta(const char *dir, const char *split, const lilm_dataset *ds, uint32_t tok_crc)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/meta.json", dir);
    if (!lilm_path_exists(path)) return LILM_OK;
    lilm_json *meta = NULL;
    LILM_TRY(lilm_json_parse_file(&meta, path));
    const lilm_json *splits = lilm_json_get(meta, "splits");
    const lilm_json *sp = lilm_json_get(splits, split);
    int64_t crc = -1, ntok = -1;
    lilm_status st = LILM_OK;
    if (!sp) {
        st = lilm_errorf(LILM_ERR_FORMAT, "%s has no entry for split '%s'\nHINT: re-create the dataset with "
                                          "`lilm data prepare`", path, split);
    } else if (!lilm_json_get_int(sp, "tokens_crc32", &crc) || !lilm_json_get_int(sp, "tokens", &ntok) ||
               crc != (int64_t)tok_crc || ntok != ds->info.n_tokens) {
        st = lilm_errorf(LILM_ERR_FORMAT, "%s does not describe %s (another preparation was interrupted?)\n"
                                          "HINT: re-run `lilm data prepare` for this directory", path, ds->path);
    }
    lilm_json_free(meta);
    return st;
}

lilm_status lilm_dataset_open(lilm_dataset **out, const char *dir, const char *split)
{
    *out = NULL;
    lilm_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) return lilm_errorf(LILM_ERR_OOM, "out of memory");
    char dpath[1100];
    snprintf(ds->path, sizeof ds->path, "%s/%s.tokens", dir, split);
    snprintf(dpath, sizeof dpath, "%s/%s.docs", dir, split);
    lilm_status st = LILM_OK;
    if (!lilm_path_exists(ds->path)) {
        st = lilm_errorf(LILM_ERR_NOT_FOUND, "%s does not exist\nHINT: prepare the dataset first: "
                                             "`lilm data prepare RECIPE --tokenizer M.model --out %s ...`",
                         ds->path, dir);
        goto fail;
    }
    if ((st = lilm_mmap_open(&ds->tokens_map, ds->path)) != LILM_OK) goto fail;
    if ((st = lilm_mmap_open(&ds->docs_map, dpath)) != LILM_OK) goto fail;

    /* tokens header */
    const uint8_t *h = ds->tokens_map.data;
    size_t tsize = ds->tokens_map.size;
    if (tsize < LILM_DATASET_TOKENS_HEADER) { st = bad(ds->path, "file too short for its header (truncated)"); goto fail; }
    if (memcmp(h, LILM_DATASET_TOKENS_MAGIC, 8) != 0) { st = bad(ds->path, "not a lilm token shard (bad magic)"); goto fail; }
    if (lilm_get_le64(h + 120) != lilm_crc32(0, h, 120)) { st = bad(ds->path, "header checksum mismatch"); goto fail; }
    uint32_t version = lilm_get_le32(h + 8);
    if (version != LILM_DATASET_VERSION) {
        st = lilm_errorf(LILM_ERR_VERSION, "%s: format version %u, this lilm reads version %d\n"
                                           "HINT: re-create the dataset with this lilm's `lilm data prepare`",
                         ds->path, version, LILM_DATASET_VERSION);
        goto fail;
    }
    ds->token_bytes = (int)lilm_get_le32(h + 12);
    ds->info.vocab_size = (int32_t)lilm_get_le32(h + 16);
    ds->info.eos_id = (int32_t)lilm_get_le32(h + 20);
    ds->info.pad_id = (int32_t)lilm_get_le32(h + 24);
    uint64_t n_tokens = lilm_get_le64(h + 32), n_docs = lilm_get_le64(h + 40), n_bytes = lilm_get_le64(h + 48);
    uint32_t tok_crc = (uint32_t)lilm_get_le64(h + 56);
    bytes_to_hex(h + 64, ds->info.tokenizer_sha256);
    if ((ds->token_bytes != 2 && ds->token_bytes != 4) || ds->info.vocab_size <= 0 ||
        (ds->token_bytes == 2 && ds->info.vocab_size > 65536) || ds->info.eos_id < 0 ||
        ds->info.eos_id >= ds->info.vocab_size || ds->info.pad_id < -1 || ds->info.pad_id >= ds->info.vocab_size) {
        st = bad(ds->path, "inconsistent header (dtype / vocab / special ids)");
        goto fail;
    }
    if (n_tokens > (tsize - LILM_DATASET_TOKENS_HEADER) / (uint64_t)ds->token_bytes ||
        (tsize - LILM_DATASET_TOKENS_HEADER) != n_tokens * (uint64_t)ds->token_bytes) {
        st = bad(ds->path, "file size does not match the token count (truncated or appended to)");
        goto fail;
    }
    ds->tokens = h + LILM_DATASET_TOKENS_HEADER;
    if (lilm_crc32(lilm_crc32(0, NULL, 0), ds->tokens, n_tokens * (uint64_t)ds->token_bytes) != tok_crc) {
        st = bad(ds->path, "token payload checksum mismatch (the file is corrupt)");
        goto fail;
    }
    ds->info.n_tokens = (int64_t)n_tokens;
    ds->info.n_docs = (int64_t)n_docs;
    ds->info.n_bytes = (int64_t)n_bytes;

    /* docs header */
    const uint8_t *d = ds->docs_map.data;
    size_t dsize = ds->docs_map.size;
    if (dsize < LILM_DATASET_DOCS_HEADER) { st = bad(dpath, "file too short for its header (truncated)"); goto fail; }
    if (memcmp(d, LILM_DATASET_DOCS_MAGIC, 8) != 0) { st = bad(dpath, "not a lilm document index (bad magic)"); goto fail; }
    if (lilm_get_le64(d + 56) != lilm_crc32(0, d, 56)) { st = bad(dpath, "header checksum mismatch"); goto fail; }
    if (lilm_get_le32(d + 8) != LILM_DATASET_VERSION) {
        st = lilm_errorf(LILM_ERR_VERSION, "%s: unsupported format version %u\nHINT: re-create the dataset",
                         dpath, lilm_get_le32(d + 8));
        goto fail;
    }
    if (lilm_get_le64(d + 16) != n_docs || lilm_get_le64(d + 24) != n_tokens || lilm_get_le64(d + 32) != n_bytes) {
        st = bad(dpath, "counts disagree with the token shard (files from different preparations?)");
        goto fail;
    }
    if (n_docs > (dsize - LILM_DATASET_DOCS_HEADER) / 24 || dsize - LILM_DATASET_DOCS_HEADER != n_docs * 24) {
        st = bad(dpath, "file size does not match the document count (truncated?)");
        goto fail;
    }
    ds->docs = d + LILM_DATASET_DOCS_HEADER;
    if (lilm_crc32(lilm_crc32(0, NULL, 0), ds->docs, n_docs * 24) != (uint32_t)lilm_get_le64(d + 40)) {
        st = bad(dpath, "payload checksum mismatch (the file is corrupt)");
        goto fail;
    }
    /* documents tile the stream and end with EOS; ids are in range */
    uint64_t pos = 0, bytes = 0;
    for (uint64_t i = 0; i < n_docs; i++) {
        const uint8_t *r = ds->docs + 24 * i;
        uint64_t off = lilm_get_le64(r), cnt = lilm_get_le64(r + 8);
        if (off != pos || cnt == 0 || cnt > n_tokens - pos) { st = bad(dpath, "document offsets do not tile the tokens"); goto fail; }
        pos += cnt;
        bytes += lilm_get_le64(r + 16);
        if (lilm__ds_token(ds, (int64_t)pos - 1) != ds->info.eos_id) { st = bad(ds->path, "a document does not end with EOS"); goto fail; }
    }
    if (pos != n_tokens || bytes != n_bytes) { st = bad(dpath, "documents do not cover all tokens / bytes"); goto fail; }
    if (ds->token_bytes == 4 || ds->info.vocab_size < 65536) {
        for (uint64_t i = 0; i < n_tokens; i++)
            if (lilm__ds_token(ds, (int64_t)i) >= ds->info.vocab_size) {
                st = bad(ds->path, "a token id is not below the vocab size");
                goto fail;
            }
    }
    if ((st = check_meta(dir, split, ds, tok_crc)) != LILM_OK) goto fail;
    *out = ds;
    return LILM_OK;
fail:
    lilm_dataset_close(ds);
    return st;
}

void lilm_dataset_close(lilm_dataset *ds)
{
    if (!ds) return;
    lilm_mmap_close(&ds->tokens_map);
    lilm_mmap_close(&ds->docs_map);
    free(ds);
}

void lilm_dataset_get_info(const lilm_dataset *ds, lilm_dataset_info *info) { *info = ds->info; }

void lilm_dataset_doc_span(const lilm_dataset *ds, int64_t i, int64_t *offset, int64_t *n_tokens, int64_t *n_bytes)
{
    const uint8_t *r = ds->docs + 24 * (size_t)i;
    if (offset) *offset = (int64_t)lilm_get_le64(r);
    if (n_tokens) *n_tokens = (int64_t)lilm_get_le64(r + 8);
    if (n_bytes) *n_bytes = (int64_t)lilm_get_le64(r + 16);
}

void lilm_dataset_tokens(const lilm_dataset *ds, int64_t pos, size_t n, int32_t *dst)
{
    if (ds->token_bytes == 2) {
        const uint8_t *p = ds->tokens + 2 * (size_t)pos;
        for (size_t i = 0; i < n; i++) dst[i] = (int32_t)((uint32_t)p[2 * i] | ((uint32_t)p[2 * i + 1] << 8));
    } else {
        const uint8_t *p = ds->tokens + 4 * (size_t)pos;
        for (size_t i = 0; i < n; i++) dst[i] = (int32_t)lilm_get_le32(p + 4 * i);
    }
}

lilm_status lilm_dataset_doc(const lilm_dataset *ds, int64_t i, int32_t *dst, size_t *n, int64_t *n_bytes)
{
    if (i < 0 || i >= ds->info.n_docs)
        return lilm_errorf(LILM_ERR_ARG, "document %lld out of range (the split has %lld)", (long long)i,
                           (long long)ds->info.n_docs);
    int64_t off, cnt, nb;
    lilm_dataset_doc_span(ds, i, &off, &cnt, &nb);
    if ((size_t)cnt > *n) {
        *n = (size_t)cnt;
        return lilm_errorf(LILM_ERR_ARG, "document %lld has %lld tokens; the buffer holds fewer", (long long)i,
                           (long long)cnt);
    }
    lilm_dataset_tokens(ds, off, (size_t)cnt, dst);
    *n = (size_t)cnt;
    if (n_bytes) *n_bytes = nb;
    return LILM_OK;
}

lilm_status lilm_dataset_check_tokenizer(const lilm_dataset *ds, const char *sha256)
{
    if (sha256 && strcmp(ds->info.tokenizer_sha256, sha256) == 0) return LILM_OK;
    return lilm_errorf(LILM_ERR_MISMATCH,
                       "%s was prepared with tokenizer %.12s..., but this run uses %.12s...\n"
                       "HINT: use the tokenizer the dataset was made with, or re-run `lilm data prepare` "
                       "with --tokenizer set to this run's model",
                       ds->path, ds->info.tokenizer_sha256, sha256 ? sha256 : "(none)");
}
