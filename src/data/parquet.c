/*
 * parquet.c: the Parquet string-column reader of parquet.h.
 *
 * File layout: "PAR1" | column chunks (pages) | footer | u32 footer length |
 * "PAR1". The footer is a Thrift-compact FileMetaData; each page starts with
 * a Thrift-compact PageHeader. The Thrift decoder below reads only the fields
 * we need and skips the rest (any type, bounded nesting), with every read
 * checked against the end of its buffer; one error flag makes the callers'
 * checks simple. Levels and dictionary indices use the RLE/bit-packed hybrid.
 *
 * Invariants: the whole file is memory-mapped read-only; decompressed pages
 * live in per-reader scratch buffers; a column chunk must produce exactly
 * the row group's num_rows values or the file is reported corrupt.
 */
#include "data/parquet.h"

#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "core/fileio.h"
#include "core/grow.h"
#include "data/shard.h"

enum { PQ_BYTE_ARRAY = 6 };
enum { PQ_REQUIRED = 0, PQ_OPTIONAL = 1, PQ_REPEATED = 2 };
enum { PQ_UNCOMPRESSED = 0, PQ_SNAPPY = 1, PQ_GZIP = 2, PQ_LZO = 3, PQ_BROTLI = 4, PQ_LZ4 = 5, PQ_ZSTD = 6, PQ_LZ4_RAW = 7 };
enum { PQ_PLAIN = 0, PQ_PLAIN_DICTIONARY = 2, PQ_RLE = 3, PQ_RLE_DICTIONARY = 8 };
enum { PQ_DATA_PAGE = 0, PQ_INDEX_PAGE = 1, PQ_DICTIONARY_PAGE = 2, PQ_DATA_PAGE_V2 = 3 };

/* Thrift compact types */
enum { TC_STOP = 0, TC_TRUE = 1, TC_FALSE = 2, TC_BYTE = 3, TC_I16 = 4, TC_I32 = 5, TC_I64 = 6, TC_DOUBLE = 7,
       TC_BINARY = 8, TC_LIST = 9, TC_SET = 10, TC_MAP = 11, TC_STRUCT = 12 };

#define PQ_NAME_MAX 256
#define TC_MAX_DEPTH 32

typedef struct pq_column {
    char name[PQ_NAME_MAX];
    int type;        /* physical type, -1 for a group */
    int repetition;
    int leaf;        /* 1: a leaf (not a group) */
} pq_column;

typedef struct pq_chunk {
    char path0[PQ_NAME_MAX];
    int path_len;
    int type, codec;
    int64_t num_values, total_compressed;
    int64_t data_off, dict_off; /* dict_off -1 when absent */
} pq_chunk;

typedef struct pq_row_group {
    int64_t num_rows;
    pq_chunk *chunks;
    int n_chunks;
    int64_t end; /* furthest byte of its chunks */
} pq_row_group;

struct lilm_parquet {
    lilm_mmap map;
    char path[1024];
    pq_column *cols;
    int n_cols;
    pq_row_group *rgs;
    int n_rgs;
    int64_t num_rows;
    int64_t footer_start;
    /* scratch */
    uint8_t *page;      /* decompressed page */
    size_t page_cap;
    uint8_t *dict;      /* the dictionary page's decompressed bytes */
    size_t dict_cap;
    int64_t *dict_off;  /* entry i = dict[dict_off[i] .. + dict_len[i]) */
    uint32_t *dict_len;
    int64_t dict_n, dict_entries_cap;
    uint8_t *defs;      /* definition levels of one page */
    size_t defs_cap;
};

/* ---- Thrift compact protocol ---- */

typedef struct tc {
    const uint8_t *p, *end;
    int bad;
} tc;

static uint64_t tc_varint(tc *t)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (t->p >= t->end) {
            t->bad = 1;
            return 0;
        }
        uint8_t b = *t->p++;
        v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) return v;
    }
    t->bad = 1;
    return 0;
}

static int64_t tc_zigzag(tc *t)
{
    uint64_t v = tc_varint(t);
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static void tc_binary(tc *t, const uint8_t **s, size_t *n)
{
    uint64_t len = tc_varint(t);
    if (t->bad || len > (uint64_t)(t->end - t->p)) {
        t->bad = 1;
        *s = NULL;
        *n = 0;
        return;
    }
    *s = t->p;
    *n = (size_t)len;
    t->p += len;
}

/* Reads a field header. Returns 0 at STOP (or on error). */
static int tc_field(tc *t, int16_t *last, int *type, int16_t *id)
{
    if (t->p >= t->end) {
        t->bad = 1;
        return 0;
    }
    uint8_t b = *t->p++;
    *type = b & 0x0F;
    if (*type == TC_STOP) return 0;
    int delta = b >> 4;
    *id = delta ? (int16_t)(*last + delta) : (int16_t)tc_zigzag(t);
    *last = *id;
    return !t->bad;
}

static void tc_list_header(tc *t, int *elem, int64_t *n)
{
    if (t->p >= t->end) {
        t->bad = 1;
        *n = 0;
        return;
    }
    uint8_t b = *t->p++;
    *elem = b & 0x0F;
    *n = b >> 4;
    if (*n == 15) *n = (int64_t)tc_varint(t);
    if (*n < 0 || *n > (int64_t)(t->end - t->p)) { /* every element takes at least a byte */
        t->bad = 1;
        *n = 0;
    }
}

static void tc_skip(tc *t, int type, int depth);

static void tc_skip_struct(tc *t, int depth)
{
    int16_t last = 0, id;
    int type;
    while (!t->bad && tc_field(t, &last, &type, &id)) tc_skip(t, type, depth + 1);
}

static void tc_skip(tc *t, int type, int depth)
{
    if (depth > TC_MAX_DEPTH) {
        t->bad = 1;
        return;
    }
    const uint8_t *s;
    size_t n;
    int64_t cnt;
    int elem;
    switch (type) {
    case TC_TRUE:
    case TC_FALSE: break;
    case TC_BYTE:
        if (t->p >= t->end) t->bad = 1;
        else t->p++;
        break;
    case TC_I16:
    case TC_I32:
    case TC_I64: (void)tc_varint(t); break;
    case TC_DOUBLE:
        if (t->end - t->p < 8) t->bad = 1;
        else t->p += 8;
        break;
    case TC_BINARY: tc_binary(t, &s, &n); break;
    case TC_LIST:
    case TC_SET:
        tc_list_header(t, &elem, &cnt);
        for (int64_t i = 0; i < cnt && !t->bad; i++) {
            if (elem == TC_TRUE || elem == TC_FALSE) tc_skip(t, TC_BYTE, depth + 1); /* bools are bytes in lists */
            else tc_skip(t, elem, depth + 1);
        }
        break;
    case TC_MAP: {
        cnt = (int64_t)tc_varint(t);
        if (cnt == 0) break;
        if (t->p >= t->end || cnt > (int64_t)(t->end - t->p)) {
            t->bad = 1;
            break;
        }
        uint8_t kv = *t->p++;
        for (int64_t i = 0; i < cnt && !t->bad; i++) {
            tc_skip(t, kv >> 4, depth + 1);
            tc_skip(t, kv & 0x0F, depth + 1);
        }
        break;
    }
    case TC_STRUCT: tc_skip_struct(t, depth); break;
    default: t->bad = 1;
    }
}

static int tc_is_int(int type) { return type == TC_I16 || type == TC_I32 || type == TC_I64 || type == TC_BYTE; }

static int64_t tc_int(tc *t, int type)
{
    if (type == TC_BYTE) {
        if (t->p >= t->end) {
            t->bad = 1;
            return 0;
        }
        return (int8_t)*t->p++;
    }
    return tc_zigzag(t);
}

static void copy_name(char dst[PQ_NAME_MAX], const uint8_t *s, size_t n)
{
    if (n >= PQ_NAME_MAX) n = PQ_NAME_MAX - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

/* ---- footer ---- */

typedef struct pq_schema_el {
    char name[PQ_NAME_MAX];
    int type, repetition;
    int64_t num_children;
} pq_schema_el;

static void parse_schema_el(tc *t, pq_schema_el *e)
{
    int16_t last = 0, id;
    int type;
    memset(e, 0, sizeof *e);
    e->type = -1;
    while (!t->bad && tc_field(t, &last, &type, &id)) {
        if (id == 1 && tc_is_int(type)) e->type = (int)tc_int(t, type);
        else if (id == 3 && tc_is_int(type)) e->repetition = (int)tc_int(t, type);
        else if (id == 4 && type == TC_BINARY) {
            const uint8_t *s;
            size_t n;
            tc_binary(t, &s, &n);
            if (!t->bad) copy_name(e->name, s, n);
        } else if (id == 5 && tc_is_int(type)) e->num_children = tc_int(t, type);
        else tc_skip(t, type, 1);
    }
}

static void parse_col_meta(tc *t, pq_chunk *c)
{
    int16_t last = 0, id;
    int type;
    while (!t->bad && tc_field(t, &last, &type, &id)) {
        if (id == 1 && tc_is_int(type)) c->type = (int)tc_int(t, type);
        else if (id == 3 && type == TC_LIST) {
            int elem;
            int64_t n;
            tc_list_header(t, &elem, &n);
            c->path_len = (int)n;
            for (int64_t i = 0; i < n && !t->bad; i++) {
                if (elem != TC_BINARY) {
                    t->bad = 1;
                    break;
                }
                const uint8_t *s;
                size_t len;
                tc_binary(t, &s, &len);
                if (i == 0 && !t->bad) copy_name(c->path0, s, len);
            }
        } else if (id == 4 && tc_is_int(type)) c->codec = (int)tc_int(t, type);
        else if (id == 5 && tc_is_int(type)) c->num_values = tc_int(t, type);
        else if (id == 7 && tc_is_int(type)) c->total_compressed = tc_int(t, type);
        else if (id == 9 && tc_is_int(type)) c->data_off = tc_int(t, type);
        else if (id == 11 && tc_is_int(type)) c->dict_off = tc_int(t, type);
        else tc_skip(t, type, 1);
    }
}

static lilm_status parse_row_group(tc *t, pq_row_group *rg)
{
    int16_t last = 0, id;
    int type;
    while (!t->bad && tc_field(t, &last, &type, &id)) {
        if (id == 1 && type == TC_LIST) {
            int elem;
            int64_t n;
            tc_list_header(t, &elem, &n);
            if (t->bad || elem != TC_STRUCT || rg->chunks) { /* a second column list: damaged */
                t->bad = 1;
                break;
            }
            rg->chunks = calloc((size_t)n + 1, sizeof *rg->chunks);
            if (!rg->chunks) return lilm_errorf(LILM_ERR_OOM, "out of memory reading a Parquet footer");
            rg->n_chunks = (int)n;
            for (int64_t i = 0; i < n && !t->bad; i++) {
                pq_chunk *c = &rg->chunks[i];
                c->dict_off = -1;
                int16_t l2 = 0, id2;
                int ty2;
                while (!t->bad && tc_field(t, &l2, &ty2, &id2)) {
                    if (id2 == 3 && ty2 == TC_STRUCT) parse_col_meta(t, c);
                    else tc_skip(t, ty2, 2);
                }
            }
        } else if (id == 3 && tc_is_int(type)) {
            rg->num_rows = tc_int(t, type);
        } else {
            tc_skip(t, type, 1);
        }
    }
    return LILM_OK;
}

static lilm_status corrupt(const lilm_parquet *p, const char *what)
{
    return lilm_errorf(LILM_ERR_FORMAT, "%s: %s\nHINT: the Parquet file is damaged or truncated; download it again "
                                        "(`lilm data fetch` resumes and verifies checksums)", p->path, what);
}

static lilm_status parse_footer(lilm_parquet *p, const uint8_t *f, size_t n)
{
    tc t = {f, f + n, 0};
    int16_t last = 0, id;
    int type;
    pq_schema_el *els = NULL;
    int64_t n_els = 0;
    lilm_status st = LILM_OK;
    while (st == LILM_OK && !t.bad && tc_field(&t, &last, &type, &id)) {
        if (id == 2 && type == TC_LIST) {
            int elem;
            tc_list_header(&t, &elem, &n_els);
            if (t.bad || elem != TC_STRUCT) {
                t.bad = 1;
                break;
            }
            free(els);
            els = calloc((size_t)n_els + 1, sizeof *els);
            if (!els) return lilm_errorf(LILM_ERR_OOM, "out of memory reading a Parquet footer");
            for (int64_t i = 0; i < n_els && !t.bad; i++) parse_schema_el(&t, &els[i]);
        } else if (id == 3 && tc_is_int(type)) {
            p->num_rows = tc_int(&t, type);
        } else if (id == 4 && type == TC_LIST) {
            int elem;
            int64_t n_rg;
            tc_list_header(&t, &elem, &n_rg);
            if (t.bad || elem != TC_STRUCT || p->rgs) { /* a second row-group list: damaged */
                t.bad = 1;
                break;
            }
            p->rgs = calloc((size_t)n_rg + 1, sizeof *p->rgs);
            if (!p->rgs) {
                st = lilm_errorf(LILM_ERR_OOM, "out of memory reading a Parquet footer");
                break;
            }
            p->n_rgs = (int)n_rg;
            for (int64_t i = 0; i < n_rg && !t.bad && st == LILM_OK; i++) st = parse_row_group(&t, &p->rgs[i]);
        } else {
            tc_skip(&t, type, 1);
        }
    }
    if (st == LILM_OK && t.bad) st = corrupt(p, "the footer (file metadata) cannot be decoded");
    if (st == LILM_OK && (n_els < 1 || !els)) st = corrupt(p, "the footer has no schema");
    if (st == LILM_OK) {
        /* top-level columns: children of the root, skipping their descendants */
        int64_t n_top = els[0].num_children;
        if (n_top < 0 || n_top > n_els) st = corrupt(p, "bad schema (child count)");
        else {
            p->cols = calloc((size_t)n_top + 1, sizeof *p->cols);
            if (!p->cols) st = lilm_errorf(LILM_ERR_OOM, "out of memory");
        }
        int64_t i = 1;
        for (int64_t c = 0; st == LILM_OK && c < n_top; c++) {
            if (i >= n_els) {
                st = corrupt(p, "bad schema (fewer elements than children)");
                break;
            }
            pq_column *col = &p->cols[p->n_cols++];
            memcpy(col->name, els[i].name, PQ_NAME_MAX);
            col->type = els[i].type;
            col->repetition = els[i].repetition;
            col->leaf = els[i].num_children == 0;
            /* skip the subtree */
            int64_t pending = els[i].num_children;
            i++;
            while (pending > 0 && i < n_els) {
                pending += els[i].num_children - 1;
                i++;
            }
            if (pending > 0) st = corrupt(p, "bad schema (truncated subtree)");
        }
    }
    free(els);
    if (st) return st;
    /* chunk offsets are inside the data area */
    for (int r = 0; r < p->n_rgs; r++) {
        pq_row_group *rg = &p->rgs[r];
        if (rg->num_rows < 0) return corrupt(p, "negative row count");
        if (rg->num_rows == 0) continue; /* writers leave an empty group's offsets unset; nothing is read */
        for (int c = 0; c < rg->n_chunks; c++) {
            pq_chunk *ch = &rg->chunks[c];
            int64_t start = ch->dict_off > 0 && ch->dict_off < ch->data_off ? ch->dict_off : ch->data_off;
            if (start < 4 || ch->total_compressed < 0 || start > p->footer_start ||
                ch->total_compressed > p->footer_start - start)
                return corrupt(p, "a column chunk lies outside the file (truncated?)");
            if (start + ch->total_compressed > rg->end) rg->end = start + ch->total_compressed;
        }
    }
    return LILM_OK;
}

lilm_status lilm_parquet_open(lilm_parquet **out, const char *path)
{
    *out = NULL;
    lilm_parquet *p = calloc(1, sizeof *p);
    if (!p) return lilm_errorf(LILM_ERR_OOM, "out of memory");
    snprintf(p->path, sizeof p->path, "%s", path);
    lilm_status st = lilm_mmap_open(&p->map, path);
    if (st) {
        free(p);
        return st;
    }
    const uint8_t *d = p->map.data;
    size_t n = p->map.size;
    if (n < 12 || memcmp(d, "PAR1", 4) != 0 || memcmp(d + n - 4, "PAR1", 4) != 0) {
        st = lilm_errorf(LILM_ERR_FORMAT, "%s: not a Parquet file (no PAR1 magic at both ends; truncated or another "
                                          "format?)\nHINT: download it again, or pass the right --format", path);
        lilm_parquet_close(p);
        return st;
    }
    uint32_t flen = lilm_get_le32(d + n - 8);
    if ((uint64_t)flen + 12 > n) {
        st = corrupt(p, "footer length points outside the file");
        lilm_parquet_close(p);
        return st;
    }
    p->footer_start = (int64_t)(n - 8 - flen);
    st = parse_footer(p, d + p->footer_start, flen);
    if (st) {
        lilm_parquet_close(p);
        return st;
    }
    *out = p;
    return LILM_OK;
}

void lilm_parquet_close(lilm_parquet *p)
{
    if (!p) return;
    for (int r = 0; r < p->n_rgs; r++) free(p->rgs[r].chunks);
    free(p->rgs);
    free(p->cols);
    free(p->page);
    free(p->dict);
    free(p->dict_off);
    free(p->dict_len);
    free(p->defs);
    lilm_mmap_close(&p->map);
    free(p);
}

int64_t lilm_parquet_num_rows(const lilm_parquet *p) { return p->num_rows; }
int lilm_parquet_num_row_groups(const lilm_parquet *p) { return p->n_rgs; }
int64_t lilm_parquet_row_group_end(const lilm_parquet *p, int rg) { return p->rgs[rg].end; }

void lilm_parquet_column_names(const lilm_parquet *p, char *buf, size_t n)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int c = 0; c < p->n_cols && o < n; c++)
        o += (size_t)snprintf(buf + o, n - o, "%s%s", c ? ", " : "", p->cols[c].name);
}

lilm_status lilm_parquet_find_column(const lilm_parquet *p, const char *name, int *col)
{
    for (int c = 0; c < p->n_cols; c++) {
        if (strcmp(p->cols[c].name, name) != 0) continue;
        if (!p->cols[c].leaf || p->cols[c].type != PQ_BYTE_ARRAY)
            return lilm_errorf(LILM_ERR_ARG, "%s: column '%s' is not a string column\n"
                                                     "HINT: choose a text column with --column", p->path, name);
        if (p->cols[c].repetition == PQ_REPEATED)
            return lilm_errorf(LILM_ERR_UNSUPPORTED, "%s: column '%s' is a repeated (list) column; only plain "
                                                     "string columns are supported", p->path, name);
        *col = c;
        return LILM_OK;
    }
    char names[2048];
    lilm_parquet_column_names(p, names, sizeof names);
    return lilm_errorf(LILM_ERR_NOT_FOUND, "%s has no column '%s' (its columns: %s)\nHINT: pick one with --column",
                       p->path, name, names);
}

/* ---- pages ---- */

static lilm_status decompress(lilm_parquet *p, int codec, const uint8_t *src, size_t n, uint8_t *dst, size_t dn)
{
    switch (codec) {
    case PQ_UNCOMPRESSED:
        if (n != dn) return corrupt(p, "uncompressed page size disagrees with its header");
        memcpy(dst, src, n);
        return LILM_OK;
    case PQ_SNAPPY: {
        size_t len;
        if (snappy_uncompressed_length((const char *)src, n, &len) != SNAPPY_OK || len != dn)
            return corrupt(p, "bad SNAPPY page (size mismatch)");
        if (snappy_uncompress((const char *)src, n, (char *)dst, &len) != SNAPPY_OK || len != dn)
            return corrupt(p, "bad SNAPPY page data");
        return LILM_OK;
    }
    case PQ_GZIP: {
        z_stream z;
        memset(&z, 0, sizeof z);
        if (inflateInit2(&z, 15 + 32) != Z_OK) return lilm_errorf(LILM_ERR_OOM, "zlib: cannot start inflate");
        z.next_in = (Bytef *)src;
        z.avail_in = (uInt)n;
        z.next_out = dst;
        z.avail_out = (uInt)dn;
        int r = inflate(&z, Z_FINISH);
        size_t got = z.total_out;
        inflateEnd(&z);
        if (r != Z_STREAM_END || got != dn) return corrupt(p, "bad GZIP page data");
        return LILM_OK;
    }
    case PQ_ZSTD: {
        size_t r = ZSTD_decompress(dst, dn, src, n);
        if (ZSTD_isError(r) || r != dn) return corrupt(p, "bad ZSTD page data");
        return LILM_OK;
    }
    default: {
        static const char *const names[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO", "BROTLI", "LZ4", "ZSTD", "LZ4_RAW"};
        return lilm_errorf(LILM_ERR_UNSUPPORTED, "%s: compression codec %s is not supported (lilm reads "
                                                 "UNCOMPRESSED, SNAPPY, GZIP and ZSTD)\nHINT: rewrite the file, e.g. "
                                                 "pyarrow.parquet.write_table(t, path, compression='zstd')",
                           p->path, codec >= 0 && codec < 8 ? names[codec] : "unknown");
    }
    }
}

/* RLE / bit-packed hybrid decoder. */
typedef struct rle_dec {
    const uint8_t *p, *end;
    int bw;
    int64_t rle_left;     /* values left in the current RLE run */
    uint32_t rle_val;
    int64_t bp_left;      /* values left in the current bit-packed run */
    const uint8_t *bp;    /* start of the bit-packed run */
    int64_t bp_i;         /* index of the next value in it */
    int bad;
} rle_dec;

static uint32_t rle_next(rle_dec *d)
{
    while (d->rle_left == 0 && d->bp_left == 0) {
        if (d->p >= d->end) {
            d->bad = 1;
            return 0;
        }
        tc t = {d->p, d->end, 0};
        uint64_t h = tc_varint(&t);
        d->p = t.p;
        if (t.bad || h >> 1 > ((uint64_t)1 << 40)) {
            d->bad = 1;
            return 0;
        }
        if (h & 1) {
            /* bit-packed: h>>1 groups of 8 values, bw bits each; a writer may
             * stop short after the last value, so use only the bytes present */
            uint64_t groups = h >> 1, bytes = groups * (uint64_t)d->bw, nvals = groups * 8;
            uint64_t avail = (uint64_t)(d->end - d->p);
            if (bytes > avail) {
                bytes = avail;
                nvals = bytes * 8 / (uint64_t)d->bw;
            }
            d->bp = d->p;
            d->bp_i = 0;
            d->bp_left = (int64_t)nvals;
            d->p += bytes;
        } else {
            int nb = (d->bw + 7) / 8;
            if (nb > d->end - d->p) {
                d->bad = 1;
                return 0;
            }
            uint32_t v = 0;
            for (int i = 0; i < nb; i++) v |= (uint32_t)d->p[i] << (8 * i);
            d->p += nb;
            d->rle_val = v;
            d->rle_left = (int64_t)(h >> 1);
        }
    }
    if (d->rle_left > 0) {
        d->rle_left--;
        return d->rle_val;
    }
    /* bit-packed: value i occupies bits [i*bw, (i+1)*bw), least significant first */
    uint64_t bit = (uint64_t)d->bp_i * (uint64_t)d->bw;
    uint64_t v = 0;
    for (int got = 0; got < d->bw;) {
        uint64_t byte = (bit + (uint64_t)got) >> 3;
        int off = (int)((bit + (uint64_t)got) & 7);
        int take = 8 - off < d->bw - got ? 8 - off : d->bw - got;
        v |= (uint64_t)((d->bp[byte] >> off) & ((1u << take) - 1)) << got;
        got += take;
    }
    d->bp_i++;
    d->bp_left--;
    return (uint32_t)v;
}

typedef struct page_hdr {
    int type;
    int64_t uncompressed, compressed;
    int has_crc;
    uint32_t crc;
    int64_t num_values;
    int encoding;
    int def_encoding;
    int64_t num_nulls, num_rows;
    int64_t def_len, rep_len;
    int is_compressed;
} page_hdr;

static void parse_sub_header(tc *t, page_hdr *h, int which)
{
    int16_t last = 0, id;
    int type;
    while (!t->bad && tc_field(t, &last, &type, &id)) {
        if (!tc_is_int(type) && !(which == 3 && id == 7 && (type == TC_TRUE || type == TC_FALSE))) {
            tc_skip(t, type, 2);
            continue;
        }
        if (which == 3 && id == 7) {
            h->is_compressed = type == TC_TRUE;
            continue;
        }
        int64_t v = tc_int(t, type);
        if (which == 0) { /* DataPageHeader */
            if (id == 1) h->num_values = v;
            else if (id == 2) h->encoding = (int)v;
            else if (id == 3) h->def_encoding = (int)v;
        } else if (which == 2) { /* DictionaryPageHeader */
            if (id == 1) h->num_values = v;
            else if (id == 2) h->encoding = (int)v;
        } else { /* DataPageHeaderV2 */
            if (id == 1) h->num_values = v;
            else if (id == 2) h->num_nulls = v;
            else if (id == 3) h->num_rows = v;
            else if (id == 4) h->encoding = (int)v;
            else if (id == 5) h->def_len = v;
            else if (id == 6) h->rep_len = v;
        }
    }
}

static void parse_page_header(tc *t, page_hdr *h)
{
    int16_t last = 0, id;
    int type;
    memset(h, 0, sizeof *h);
    h->type = -1;
    h->is_compressed = 1;
    h->def_encoding = PQ_RLE;
    while (!t->bad && tc_field(t, &last, &type, &id)) {
        if (id == 1 && tc_is_int(type)) h->type = (int)tc_int(t, type);
        else if (id == 2 && tc_is_int(type)) h->uncompressed = tc_int(t, type);
        else if (id == 3 && tc_is_int(type)) h->compressed = tc_int(t, type);
        else if (id == 4 && tc_is_int(type)) {
            h->crc = (uint32_t)tc_int(t, type);
            h->has_crc = 1;
        } else if (id == 5 && type == TC_STRUCT) parse_sub_header(t, h, 0);
        else if (id == 7 && type == TC_STRUCT) parse_sub_header(t, h, 2);
        else if (id == 8 && type == TC_STRUCT) parse_sub_header(t, h, 3);
        else tc_skip(t, type, 1);
    }
}

static lilm_status out_reserve(lilm_parquet *p, lilm_parquet_strings *o, int64_t rows, size_t bytes)
{
    LILM_TRY(lilm_grow((void **)&o->data, &o->data_cap, o->data_len + bytes + 1, 1));
    size_t need = (size_t)(o->n + rows + 1);
    if (need > o->rows_cap) {
        size_t cap = o->rows_cap, cap2 = o->rows_cap;
        if (lilm_grow((void **)&o->offsets, &cap, need, sizeof *o->offsets) != LILM_OK ||
            lilm_grow((void **)&o->is_null, &cap2, need, 1) != LILM_OK)
            return lilm_errorf(LILM_ERR_OOM, "out of memory reading %s", p->path);
        o->rows_cap = cap < cap2 ? cap : cap2;
    }
    return LILM_OK;
}

static void out_push(lilm_parquet_strings *o, const uint8_t *s, size_t n, int is_null)
{
    if (!is_null) {
        memcpy(o->data + o->data_len, s, n);
        o->data_len += n;
    }
    o->is_null[o->n] = (uint8_t)is_null;
    o->n++;
    o->offsets[o->n] = (int64_t)o->data_len;
}

/* Decodes `nv` values (n_present of them non-null per defs) of one data page. */
static lilm_status decode_values(lilm_parquet *p, lilm_parquet_strings *o, const uint8_t *v, size_t vn, int encoding,
                                 int64_t nv, const uint8_t *defs)
{
    int64_t present = 0;
    for (int64_t i = 0; i < nv; i++) present += defs ? defs[i] : 1;
    if (encoding == PQ_PLAIN) {
        LILM_TRY(out_reserve(p, o, nv, vn));
        size_t pos = 0;
        for (int64_t i = 0; i < nv; i++) {
            if (defs && !defs[i]) {
                out_push(o, NULL, 0, 1);
                continue;
            }
            if (vn - pos < 4) return corrupt(p, "PLAIN string values run past the page");
            uint32_t len = lilm_get_le32(v + pos);
            pos += 4;
            if (len > vn - pos) return corrupt(p, "a PLAIN string runs past the page");
            out_push(o, v + pos, len, 0);
            pos += len;
        }
        return LILM_OK;
    }
    if (encoding == PQ_PLAIN_DICTIONARY || encoding == PQ_RLE_DICTIONARY) {
        if (!p->dict) return corrupt(p, "dictionary-encoded page without a dictionary page");
        if (vn < 1 || v[0] > 32) return corrupt(p, "bad dictionary index bit width");
        rle_dec d = {v + 1, v + vn, v[0], 0, 0, 0, NULL, 0, 0};
        /* size the output: sum of the entries used */
        int64_t start_rows = o->n;
        (void)start_rows;
        for (int64_t i = 0; i < nv; i++) {
            if (defs && !defs[i]) {
                LILM_TRY(out_reserve(p, o, 1, 0));
                out_push(o, NULL, 0, 1);
                continue;
            }
            uint32_t k = rle_next(&d);
            if (d.bad) return corrupt(p, "dictionary indices run past the page");
            if ((int64_t)k >= p->dict_n) return corrupt(p, "dictionary index out of range");
            LILM_TRY(out_reserve(p, o, 1, p->dict_len[k]));
            out_push(o, p->dict + p->dict_off[k], p->dict_len[k], 0);
        }
        return LILM_OK;
    }
    return lilm_errorf(LILM_ERR_UNSUPPORTED, "%s: string values in encoding %d are not supported (lilm reads PLAIN "
                                             "and dictionary encodings)\nHINT: rewrite the file with pyarrow defaults",
                       p->path, encoding);
}

static lilm_status read_dictionary(lilm_parquet *p, const uint8_t *d, size_t n, int64_t count)
{
    LILM_TRY(lilm_grow((void **)&p->dict, &p->dict_cap, n + 1, 1));
    memcpy(p->dict, d, n);
    size_t cap = (size_t)p->dict_entries_cap, cap2 = cap;
    if (count < 0 || count > (int64_t)n / 4 + 1) return corrupt(p, "bad dictionary size");
    if (lilm_grow((void **)&p->dict_off, &cap, (size_t)count + 1, sizeof *p->dict_off) != LILM_OK ||
        lilm_grow((void **)&p->dict_len, &cap2, (size_t)count + 1, sizeof *p->dict_len) != LILM_OK)
        return lilm_errorf(LILM_ERR_OOM, "out of memory");
    p->dict_entries_cap = (int64_t)(cap < cap2 ? cap : cap2);
    size_t pos = 0;
    for (int64_t i = 0; i < count; i++) {
        if (n - pos < 4) return corrupt(p, "dictionary page runs short");
        uint32_t len = lilm_get_le32(p->dict + pos);
        pos += 4;
        if (len > n - pos) return corrupt(p, "a dictionary entry runs past its page");
        p->dict_off[i] = (int64_t)pos;
        p->dict_len[i] = len;
        pos += len;
    }
    p->dict_n = count;
    return LILM_OK;
}

/* Decodes `count` definition levels (bit width 1) into p->defs. */
static lilm_status read_defs(lilm_parquet *p, const uint8_t *d, size_t n, int64_t count)
{
    LILM_TRY(lilm_grow((void **)&p->defs, &p->defs_cap, (size_t)count + 1, 1));
    rle_dec r = {d, d + n, 1, 0, 0, 0, NULL, 0, 0};
    for (int64_t i = 0; i < count; i++) {
        uint32_t v = rle_next(&r);
        if (r.bad || v > 1) return corrupt(p, "bad definition levels");
        p->defs[i] = (uint8_t)v;
    }
    return LILM_OK;
}

lilm_status lilm_parquet_read_strings(lilm_parquet *p, int rg_i, int col, lilm_parquet_strings *o)
{
    if (rg_i < 0 || rg_i >= p->n_rgs || col < 0 || col >= p->n_cols)
        return lilm_errorf(LILM_ERR_ARG, "parquet: row group %d / column %d out of range", rg_i, col);
    pq_row_group *rg = &p->rgs[rg_i];
    const pq_column *c = &p->cols[col];
    pq_chunk *ch = NULL;
    for (int i = 0; i < rg->n_chunks; i++)
        if (rg->chunks[i].path_len == 1 && strcmp(rg->chunks[i].path0, c->name) == 0) ch = &rg->chunks[i];
    if (!ch) return corrupt(p, "a row group lacks the column's chunk");
    if (ch->type != PQ_BYTE_ARRAY) return corrupt(p, "column chunk type disagrees with the schema");
    int optional = c->repetition == PQ_OPTIONAL;
    o->n = 0;
    o->data_len = 0;
    LILM_TRY(out_reserve(p, o, rg->num_rows, 0));
    o->offsets[0] = 0;
    if (rg->num_rows == 0) return LILM_OK; /* a valid empty group (a zero-row file has one) */
    p->dict_n = 0;
    int have_dict = 0;
    const uint8_t *base = p->map.data;
    int64_t pos = ch->dict_off > 0 && ch->dict_off < ch->data_off ? ch->dict_off : ch->data_off;
    int64_t end = pos + ch->total_compressed;
    int64_t values = 0;
    while (values < ch->num_values) {
        if (pos >= end) return corrupt(p, "a column chunk ends before all its values");
        tc t = {base + pos, base + end, 0};
        page_hdr h;
        parse_page_header(&t, &h);
        if (t.bad) return corrupt(p, "a page header cannot be decoded");
        int64_t body = (int64_t)(t.p - base);
        if (h.compressed < 0 || h.uncompressed < 0 || h.compressed > end - body || h.uncompressed > (1LL << 31))
            return corrupt(p, "a page's size runs past its column chunk");
        const uint8_t *pay = base + body;
        if (h.has_crc && lilm_crc32(0, pay, (size_t)h.compressed) != h.crc)
            return corrupt(p, "page checksum mismatch (the file is corrupt)");
        pos = body + h.compressed;
        if (h.type == PQ_DICTIONARY_PAGE) {
            LILM_TRY(lilm_grow((void **)&p->page, &p->page_cap, (size_t)h.uncompressed + 1, 1));
            LILM_TRY(decompress(p, ch->codec, pay, (size_t)h.compressed, p->page, (size_t)h.uncompressed));
            LILM_TRY(read_dictionary(p, p->page, (size_t)h.uncompressed, h.num_values));
            have_dict = 1;
            continue;
        }
        if (h.type != PQ_DATA_PAGE && h.type != PQ_DATA_PAGE_V2) continue; /* index pages etc. */
        if (h.num_values < 0 || h.num_values > ch->num_values - values)
            return corrupt(p, "page value counts exceed the column chunk's");
        const uint8_t *vals;
        size_t vn;
        const uint8_t *defs = NULL;
        if (h.type == PQ_DATA_PAGE) {
            LILM_TRY(lilm_grow((void **)&p->page, &p->page_cap, (size_t)h.uncompressed + 1, 1));
            LILM_TRY(decompress(p, ch->codec, pay, (size_t)h.compressed, p->page, (size_t)h.uncompressed));
            vals = p->page;
            vn = (size_t)h.uncompressed;
            if (optional) {
                if (h.def_encoding != PQ_RLE)
                    return lilm_errorf(LILM_ERR_UNSUPPORTED, "%s: definition levels in encoding %d are not supported",
                                       p->path, h.def_encoding);
                if (vn < 4) return corrupt(p, "page too short for its definition levels");
                uint32_t dl = lilm_get_le32(vals);
                if (dl > vn - 4) return corrupt(p, "definition levels run past the page");
                LILM_TRY(read_defs(p, vals + 4, dl, h.num_values));
                defs = p->defs;
                vals += 4 + dl;
                vn -= 4 + dl;
            }
        } else {
            if (h.rep_len != 0) return lilm_errorf(LILM_ERR_UNSUPPORTED, "%s: repeated columns are not supported", p->path);
            if (h.def_len < 0 || h.def_len > h.compressed || h.def_len > h.uncompressed)
                return corrupt(p, "bad level lengths in a v2 data page");
            if (optional) {
                LILM_TRY(read_defs(p, pay, (size_t)h.def_len, h.num_values));
                defs = p->defs;
            }
            const uint8_t *vsrc = pay + h.def_len;
            size_t vsrc_n = (size_t)(h.compressed - h.def_len);
            vn = (size_t)(h.uncompressed - h.def_len);
            if (h.is_compressed && ch->codec != PQ_UNCOMPRESSED) {
                LILM_TRY(lilm_grow((void **)&p->page, &p->page_cap, vn + 1, 1));
                LILM_TRY(decompress(p, ch->codec, vsrc, vsrc_n, p->page, vn));
                vals = p->page;
            } else {
                if (vsrc_n != vn) return corrupt(p, "v2 page sizes disagree");
                vals = vsrc;
            }
        }
        if ((h.encoding == PQ_PLAIN_DICTIONARY || h.encoding == PQ_RLE_DICTIONARY) && !have_dict)
            return corrupt(p, "dictionary-encoded page without a dictionary page");
        LILM_TRY(decode_values(p, o, vals, vn, h.encoding, h.num_values, defs));
        values += h.num_values;
    }
    if (o->n != rg->num_rows)
        return corrupt(p, "a column chunk's value count differs from its row group's row count");
    return LILM_OK;
}

void lilm_parquet_strings_free(lilm_parquet_strings *s)
{
    free(s->data);
    free(s->offsets);
    free(s->is_null);
    memset(s, 0, sizeof *s);
}
