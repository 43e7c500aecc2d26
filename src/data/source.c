/*
 * source.c: text, JSONL and Parquet document sources (source.h).
 *
 * Text and JSONL files are memory-mapped and cut into records by scanning
 * for newlines (memchr), so a record is a pointer into the map: nothing is
 * copied. Parquet files are decoded one row group per call. Line numbers are
 * counted as we scan so that errors found later can name file:line.
 */
#include "data/source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/utf8.h"
#include "data/parquet.h"

struct lilm_source {
    char path[1024];
    lilm_input_format fmt;
    lilm_text_docs text_docs;
    lilm_mmap map;            /* text / JSONL */
    size_t pos;               /* next byte to scan */
    int64_t line;             /* line number of the byte at pos (1-based) */
    lilm_parquet *pq;         /* Parquet */
    int pq_col, pq_rg;
    int64_t pq_row;           /* first row of the next row group */
    lilm_parquet_strings strs;
    int64_t size;
};

static int ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && strcmp(s + n - k, suf) == 0;
}

lilm_input_format lilm_input_format_of(const char *path)
{
    if (ends_with(path, ".parquet")) return LILM_FMT_PARQUET;
    if (ends_with(path, ".jsonl") || ends_with(path, ".json") || ends_with(path, ".ndjson")) return LILM_FMT_JSONL;
    return LILM_FMT_TEXT;
}

const char *lilm_input_format_name(lilm_input_format f)
{
    switch (f) {
    case LILM_FMT_TEXT: return "text";
    case LILM_FMT_JSONL: return "jsonl";
    case LILM_FMT_PARQUET: return "parquet";
    default: return "auto";
    }
}

lilm_status lilm_source_open(lilm_source **out, const char *path, lilm_input_format fmt, const char *column,
                             lilm_text_docs text_docs)
{
    *out = NULL;
    lilm_source *s = calloc(1, sizeof *s);
    if (!s) return lilm_errorf(LILM_ERR_OOM, "out of memory");
    snprintf(s->path, sizeof s->path, "%s", path);
    s->fmt = fmt == LILM_FMT_AUTO ? lilm_input_format_of(path) : fmt;
    s->text_docs = text_docs;
    s->line = 1;
    lilm_status st;
    if (s->fmt == LILM_FMT_PARQUET) {
        st = lilm_parquet_open(&s->pq, path);
        if (st == LILM_OK) st = lilm_parquet_find_column(s->pq, column, &s->pq_col);
        if (st == LILM_OK) {
            FILE *f = fopen(path, "rb");
            if (f) {
                fseek(f, 0, SEEK_END);
                s->size = ftell(f);
                fclose(f);
            }
        }
    } else {
        st = lilm_mmap_open(&s->map, path);
        s->size = (int64_t)s->map.size;
    }
    if (st) {
        lilm_source_close(s);
        return st;
    }
    *out = s;
    return LILM_OK;
}

void lilm_source_close(lilm_source *s)
{
    if (!s) return;
    lilm_parquet_close(s->pq);
    lilm_parquet_strings_free(&s->strs);
    lilm_mmap_close(&s->map);
    free(s);
}

int64_t lilm_source_bytes_done(const lilm_source *s)
{
    if (s->fmt == LILM_FMT_PARQUET)
        return s->pq_rg > 0 ? lilm_parquet_row_group_end(s->pq, s->pq_rg - 1) : 0;
    return (int64_t)s->pos;
}

static int push(lilm_record **recs, size_t *cap, size_t *n, const lilm_record *r)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 1024;
        lilm_record *nr = realloc(*recs, nc * sizeof *nr);
        if (!nr) return 0;
        *recs = nr;
        *cap = nc;
    }
    (*recs)[(*n)++] = *r;
    return 1;
}

/* Is s[0..n) only spaces, tabs and CRs? */
static int blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0;
    return 1;
}

lilm_status lilm_source_next(lilm_source *s, lilm_record **recs, size_t *cap, size_t *n, size_t max_bytes)
{
    *n = 0;
    if (s->fmt == LILM_FMT_PARQUET) {
        if (s->pq_rg >= lilm_parquet_num_row_groups(s->pq)) return LILM_OK;
        LILM_TRY(lilm_parquet_read_strings(s->pq, s->pq_rg, s->pq_col, &s->strs));
        for (int64_t i = 0; i < s->strs.n; i++) {
            lilm_record r = {s->strs.data + s->strs.offsets[i], (size_t)(s->strs.offsets[i + 1] - s->strs.offsets[i]),
                             s->pq_row + i, 0, s->strs.is_null[i], 1};
            if (!push(recs, cap, n, &r)) return lilm_errorf(LILM_ERR_OOM, "out of memory");
        }
        s->pq_row += s->strs.n;
        s->pq_rg++;
        if (*n == 0) return lilm_source_next(s, recs, cap, n, max_bytes); /* an empty row group */
        return LILM_OK;
    }
    const char *d = s->map.data;
    size_t size = s->map.size, taken = 0;
    while (s->pos < size && taken < max_bytes) {
        const char *nl = memchr(d + s->pos, '\n', size - s->pos);
        size_t end = nl ? (size_t)(nl - d) : size;
        size_t len = end - s->pos;
        if (len > 0 && d[s->pos + len - 1] == '\r') len--;
        if (s->fmt == LILM_FMT_JSONL || s->text_docs == LILM_TEXT_LINES) {
            if (!blank(d + s->pos, len)) {
                lilm_record r = {d + s->pos, len, s->line, (uint8_t)(s->fmt == LILM_FMT_JSONL), 0, 0};
                if (!push(recs, cap, n, &r)) return lilm_errorf(LILM_ERR_OOM, "out of memory");
                taken += len + 1;
            }
            s->pos = nl ? end + 1 : size;
            s->line++;
            continue;
        }
        /* blank-line separated: skip blank lines, then take lines up to the next blank one */
        if (blank(d + s->pos, len)) {
            s->pos = nl ? end + 1 : size;
            s->line++;
            continue;
        }
        size_t start = s->pos, doc_end = s->pos + len;
        int64_t first_line = s->line;
        s->pos = nl ? end + 1 : size;
        s->line++;
        while (s->pos < size) {
            const char *nl2 = memchr(d + s->pos, '\n', size - s->pos);
            size_t end2 = nl2 ? (size_t)(nl2 - d) : size;
            size_t len2 = end2 - s->pos;
            if (len2 > 0 && d[s->pos + len2 - 1] == '\r') len2--;
            if (blank(d + s->pos, len2)) break;
            doc_end = s->pos + len2;
            s->pos = nl2 ? end2 + 1 : size;
            s->line++;
        }
        lilm_record r = {d + start, doc_end - start, first_line, 0, 0, 0};
        if (!push(recs, cap, n, &r)) return lilm_errorf(LILM_ERR_OOM, "out of memory");
        taken += doc_end - start + 1;
    }
    return LILM_OK;
}

lilm_status lilm_record_text(const lilm_record *r, const char *path, const char *column, lilm_json **tree,
                             const char **text, size_t *len)
{
    *tree = NULL;
    if (!r->is_json) {
        size_t bad;
        if (!r->is_null && !lilm_utf8_valid(r->data, r->len, &bad))
            return lilm_errorf(LILM_ERR_FORMAT, "%s:%s%lld: invalid UTF-8 at byte %zu of the document\n"
                                                "HINT: convert the file to UTF-8 (e.g. iconv -f latin1 -t utf-8)",
                               path, r->is_row ? "row " : "", (long long)r->where, bad);
        *text = r->data;
        *len = r->len;
        return LILM_OK;
    }
    char name[1100];
    snprintf(name, sizeof name, "%s:%lld", path, (long long)r->where);
    lilm_json *v = NULL;
    lilm_status st = lilm_json_parse(&v, r->data, r->len, name);
    if (st) return st; /* the message names path:line already */
    if (v->type != LILM_JSON_OBJECT) {
        lilm_json_free(v);
        return lilm_errorf(LILM_ERR_FORMAT, "%s: a JSONL line must be a JSON object", name);
    }
    const lilm_json *f = lilm_json_get(v, column);
    if (!f) {
        char keys[512];
        size_t o = 0;
        keys[0] = '\0';
        for (size_t i = 0; i < v->n && o < sizeof keys; i++)
            o += (size_t)snprintf(keys + o, sizeof keys - o, "%s%s", i ? ", " : "", v->items[i].key);
        st = lilm_errorf(LILM_ERR_NOT_FOUND, "%s: no field '%s' (its fields: %s)\nHINT: pick the text field with "
                                             "--column", name, column, keys);
        lilm_json_free(v);
        return st;
    }
    if (f->type == LILM_JSON_NULL) {
        *text = "";
        *len = 0;
        *tree = v;
        return LILM_OK;
    }
    if (f->type != LILM_JSON_STRING) {
        st = lilm_errorf(LILM_ERR_FORMAT, "%s: field '%s' is a %s, not a string\nHINT: pick the text field with "
                                          "--column", name, column, lilm_json_type_name(f->type));
        lilm_json_free(v);
        return st;
    }
    *text = f->str;
    *len = f->len;
    *tree = v;
    return LILM_OK;
}
