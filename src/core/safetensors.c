/*
 * safetensors.c: the safetensors reader (validating, memory-mapped) and writer.
 *
 * Reading is four steps, each of which may fail with LILM_ERR_FORMAT before
 * anything later trusts its input:
 *   1. the 8-byte header length: at least 2, at most LILM_ST_MAX_HEADER, and
 *      inside the file;
 *   2. the header bytes are valid UTF-8 (no overlongs, surrogates or > U+10FFFF);
 *   3. a strict JSON parser for this one schema (an object of tensor entries
 *      {dtype, shape, data_offsets} and an optional "__metadata__" object of
 *      strings) decodes names into one string arena; unknown or repeated
 *      fields, non-integers, negative numbers and overflow are refused;
 *   4. the entries are checked against the data: byte size = numel x dtype
 *      size, offsets inside the data, and, sorted by offset, the tensors tile
 *      the data exactly; names are unique.
 * The parser never reads past `end` (every access checks the cursor first),
 * so truncated or hostile headers end in an error, not a crash; the fuzzer
 * (tests/fuzz/fuzz_safetensors.c) holds it to that.
 *   5. when __metadata__ holds LILM_ST_CHECKSUM_KEY (every file lilm writes),
 *      each tensor's bytes match the CRC-32 recorded for it, so a bit flip in
 *      the data is refused naming the tensor; files from other writers carry
 *      no checksum and skip this step.
 * The writer builds the header in memory, pads it with spaces to a multiple
 * of 8 bytes, and streams header then tensor bytes through lilm_atomic_file.
 */
#include "core/safetensors.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/fileio.h"
#include "core/grow.h"
#include "core/json.h"
#include "core/utf8.h"

static const struct {
    const char *name;
    size_t size;
} lilm_st_dtypes[LILM_ST_DTYPE_COUNT] = {
    [LILM_ST_BOOL] = {"BOOL", 1}, [LILM_ST_U8] = {"U8", 1},     [LILM_ST_I8] = {"I8", 1},
    [LILM_ST_F8_E5M2] = {"F8_E5M2", 1}, [LILM_ST_F8_E4M3] = {"F8_E4M3", 1},
    [LILM_ST_I16] = {"I16", 2},   [LILM_ST_U16] = {"U16", 2},   [LILM_ST_F16] = {"F16", 2},
    [LILM_ST_BF16] = {"BF16", 2}, [LILM_ST_I32] = {"I32", 4},   [LILM_ST_U32] = {"U32", 4},
    [LILM_ST_F32] = {"F32", 4},   [LILM_ST_F64] = {"F64", 8},   [LILM_ST_I64] = {"I64", 8},
    [LILM_ST_U64] = {"U64", 8},
};

const char *lilm_st_dtype_name(lilm_st_dtype d)
{
    return (int)d >= 0 && d < LILM_ST_DTYPE_COUNT ? lilm_st_dtypes[d].name : NULL;
}

size_t lilm_st_dtype_size(lilm_st_dtype d)
{
    return (int)d >= 0 && d < LILM_ST_DTYPE_COUNT ? lilm_st_dtypes[d].size : 0;
}

lilm_status lilm_st_dtype_parse(const char *name, lilm_st_dtype *out)
{
    for (int i = 0; i < LILM_ST_DTYPE_COUNT; i++)
        if (strcmp(name, lilm_st_dtypes[i].name) == 0) {
            *out = (lilm_st_dtype)i;
            return LILM_OK;
        }
    return lilm_errorf(LILM_ERR_FORMAT, "dtype '%s' is not a safetensors dtype (BOOL, U8, I8, F8_E5M2, F8_E4M3, "
                       "I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64)", name);
}

/* ---------------------------------------------------------------------- */
/* Reading                                                                  */

typedef struct lilm_st_meta {
    const char *key, *value; /* in the arena */
} lilm_st_meta;

struct lilm_st_file {
    lilm_mmap map;           /* when opened from a path */
    const unsigned char *base;
    size_t size;
    char label[1024];            /* the path, for messages */
    char *arena;             /* decoded strings */
    size_t arena_used;       /* arena holds header length + 1 bytes */
    lilm_st_tensor *tensors; /* in data order after validation */
    size_t n_tensors, cap_tensors;
    size_t *by_name;         /* indices into tensors, sorted by name */
    lilm_st_meta *meta;
    size_t n_meta, cap_meta;
};

/* The JSON cursor over the header. */
typedef struct lilm_st_parser {
    lilm_st_file *f;
    const unsigned char *start, *p, *end;
} lilm_st_parser;

static lilm_status perr(lilm_st_parser *ps, const char *what)
{
    return lilm_errorf(LILM_ERR_FORMAT,
                       "%s: safetensors header, byte %zu: %s\nHINT: the file is corrupt or not a safetensors file; "
                       "write it again",
                       ps->f->label, (size_t)(ps->p - ps->start) + 8, what);
}

static void skip_ws(lilm_st_parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

static int expect_char(lilm_st_parser *ps, char c)
{
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == (unsigned char)c) {
        ps->p++;
        return 1;
    }
    return 0;
}

/* Parses a JSON string into the arena; *out points at it (NUL-terminated).
 * The arena holds the whole header's length, and a decoded string plus its
 * NUL is never longer than its quoted form, so it cannot overflow. */
static lilm_status parse_string(lilm_st_parser *ps, const char **out)
{
    lilm_st_file *f = ps->f;
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != '"') return perr(ps, "expected a string");
    ps->p++;
    char *dst = f->arena + f->arena_used;
    size_t n = 0;
    for (;;) {
        if (ps->p >= ps->end) return perr(ps, "unterminated string");
        unsigned c = *ps->p;
        if (c == '"') {
            ps->p++;
            break;
        }
        if (c < 0x20) return perr(ps, "control character inside a string");
        if (c != '\\') {
            dst[n++] = (char)c;
            ps->p++;
            continue;
        }
        if (ps->end - ps->p < 2) return perr(ps, "unterminated escape");
        unsigned e = ps->p[1];
        if (e == 'u') {
            uint32_t cp;
            const char *why = NULL;
            size_t k = lilm_json_u_escape((const char *)ps->p + 2, (size_t)(ps->end - ps->p) - 2, &cp, &why);
            if (k == 0) return perr(ps, why);
            if (cp == 0) return perr(ps, "\\u0000 (NUL) inside a string");
            ps->p += 2 + k;
            n += lilm_utf8_encode(cp, dst + n);
            continue;
        }
        int b = lilm_json_escape_byte((int)e);
        if (b < 0) return perr(ps, "unknown escape in a string");
        dst[n++] = (char)b;
        ps->p += 2;
    }
    dst[n] = '\0';
    f->arena_used += n + 1;
    *out = dst;
    return LILM_OK;
}

/* A non-negative JSON integer (no sign, fraction or exponent; no leading 0s). */
static lilm_status parse_uint(lilm_st_parser *ps, uint64_t *out, const char *what)
{
    char msg[160];
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') {
        snprintf(msg, sizeof msg, "%s must be a non-negative integer", what);
        return perr(ps, msg);
    }
    if (*ps->p == '0' && ps->p + 1 < ps->end && ps->p[1] >= '0' && ps->p[1] <= '9') {
        snprintf(msg, sizeof msg, "%s has a leading zero", what);
        return perr(ps, msg);
    }
    uint64_t v = 0;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
        unsigned d = *ps->p - '0';
        if (v > (UINT64_MAX - d) / 10) {
            snprintf(msg, sizeof msg, "%s is too large", what);
            return perr(ps, msg);
        }
        v = v * 10 + d;
        ps->p++;
    }
    if (ps->p < ps->end && (*ps->p == '.' || *ps->p == 'e' || *ps->p == 'E')) {
        snprintf(msg, sizeof msg, "%s must be an integer", what);
        return perr(ps, msg);
    }
    *out = v;
    return LILM_OK;
}

static lilm_status parse_metadata(lilm_st_parser *ps)
{
    lilm_st_file *f = ps->f;
    if (f->meta) return perr(ps, "\"__metadata__\" appears twice");
    LILM_TRY(lilm_grow((void **)&f->meta, &f->cap_meta, 1, sizeof *f->meta)); /* non-NULL marks "seen" */
    if (!expect_char(ps, '{')) return perr(ps, "\"__metadata__\" must be an object of strings");
    if (expect_char(ps, '}')) return LILM_OK;
    for (;;) {
        const char *k, *v;
        LILM_TRY(parse_string(ps, &k));
        if (!expect_char(ps, ':')) return perr(ps, "expected ':' after a metadata key");
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != '"') return perr(ps, "metadata values must be strings");
        LILM_TRY(parse_string(ps, &v));
        for (size_t i = 0; i < f->n_meta; i++)
            if (strcmp(f->meta[i].key, k) == 0) return perr(ps, "a metadata key appears twice");
        LILM_TRY(lilm_grow((void **)&f->meta, &f->cap_meta, f->n_meta + 1, sizeof *f->meta));
        f->meta[f->n_meta].key = k;
        f->meta[f->n_meta].value = v;
        f->n_meta++;
        if (expect_char(ps, ',')) continue;
        if (expect_char(ps, '}')) return LILM_OK;
        return perr(ps, "expected ',' or '}' in \"__metadata__\"");
    }
}

/* {"dtype": "F32", "shape": [..], "data_offsets": [b, e]} into t; the byte
 * offsets are stored in t->data (as an offset) and t->nbytes until checked. */
static lilm_status parse_tensor(lilm_st_parser *ps, lilm_st_tensor *t, uint64_t *begin, uint64_t *end_off)
{
    char msg[300];
    int have_dtype = 0, have_shape = 0, have_offsets = 0;
    if (!expect_char(ps, '{')) {
        snprintf(msg, sizeof msg, "tensor '%s': expected an object {dtype, shape, data_offsets}", t->name);
        return perr(ps, msg);
    }
    if (!expect_char(ps, '}')) {
        for (;;) {
            const char *field;
            LILM_TRY(parse_string(ps, &field));
            if (!expect_char(ps, ':')) return perr(ps, "expected ':' after a field name");
            if (strcmp(field, "dtype") == 0 && !have_dtype) {
                const char *dt;
                LILM_TRY(parse_string(ps, &dt));
                if (lilm_st_dtype_parse(dt, &t->dtype) != LILM_OK) {
                    snprintf(msg, sizeof msg, "tensor '%s': %s", t->name, lilm_last_error());
                    return perr(ps, msg);
                }
                have_dtype = 1;
            } else if (strcmp(field, "shape") == 0 && !have_shape) {
                if (!expect_char(ps, '[')) return perr(ps, "\"shape\" must be a list of integers");
                t->ndim = 0;
                if (!expect_char(ps, ']')) {
                    for (;;) {
                        uint64_t d;
                        if (t->ndim >= LILM_ST_MAX_DIMS) {
                            snprintf(msg, sizeof msg, "tensor '%s' has more than %d dimensions", t->name,
                                     LILM_ST_MAX_DIMS);
                            return perr(ps, msg);
                        }
                        LILM_TRY(parse_uint(ps, &d, "a shape dimension"));
                        if (d > (uint64_t)INT64_MAX) return perr(ps, "a shape dimension is too large");
                        t->shape[t->ndim++] = (int64_t)d;
                        if (expect_char(ps, ',')) continue;
                        if (expect_char(ps, ']')) break;
                        return perr(ps, "expected ',' or ']' in \"shape\"");
                    }
                }
                have_shape = 1;
            } else if (strcmp(field, "data_offsets") == 0 && !have_offsets) {
                if (!expect_char(ps, '[')) return perr(ps, "\"data_offsets\" must be [begin, end]");
                LILM_TRY(parse_uint(ps, begin, "data_offsets[0]"));
                if (!expect_char(ps, ',')) return perr(ps, "\"data_offsets\" must be [begin, end]");
                LILM_TRY(parse_uint(ps, end_off, "data_offsets[1]"));
                if (!expect_char(ps, ']')) return perr(ps, "\"data_offsets\" must be [begin, end]");
                have_offsets = 1;
            } else {
                snprintf(msg, sizeof msg, "tensor '%s': unexpected or repeated field '%s' (a tensor has dtype, "
                         "shape and data_offsets)", t->name, field);
                return perr(ps, msg);
            }
            if (expect_char(ps, ',')) continue;
            if (expect_char(ps, '}')) break;
            return perr(ps, "expected ',' or '}' in a tensor entry");
        }
    }
    if (!have_dtype || !have_shape || !have_offsets) {
        snprintf(msg, sizeof msg, "tensor '%s' lacks %s", t->name,
                 !have_dtype ? "\"dtype\"" : !have_shape ? "\"shape\"" : "\"data_offsets\"");
        return perr(ps, msg);
    }
    return LILM_OK;
}

typedef struct lilm_st_span {
    uint64_t begin, end;
} lilm_st_span;

static lilm_status parse_header(lilm_st_file *f, const unsigned char *h, size_t n, lilm_st_span **spans)
{
    lilm_st_parser ps = {f, h, h, h + n};
    size_t cap_spans = 0;
    if (!expect_char(&ps, '{')) return perr(&ps, "the header must be a JSON object");
    if (!expect_char(&ps, '}')) {
        for (;;) {
            const char *name;
            LILM_TRY(parse_string(&ps, &name));
            if (!expect_char(&ps, ':')) return perr(&ps, "expected ':' after a tensor name");
            if (strcmp(name, "__metadata__") == 0) {
                LILM_TRY(parse_metadata(&ps));
            } else {
                LILM_TRY(lilm_grow((void **)&f->tensors, &f->cap_tensors, f->n_tensors + 1, sizeof *f->tensors));
                LILM_TRY(lilm_grow((void **)spans, &cap_spans, f->n_tensors + 1, sizeof **spans));
                lilm_st_tensor *t = &f->tensors[f->n_tensors];
                memset(t, 0, sizeof *t);
                t->name = name;
                lilm_st_span *sp = &(*spans)[f->n_tensors];
                LILM_TRY(parse_tensor(&ps, t, &sp->begin, &sp->end));
                f->n_tensors++;
            }
            if (expect_char(&ps, ',')) continue;
            if (expect_char(&ps, '}')) break;
            return perr(&ps, "expected ',' or '}' between header entries");
        }
    }
    skip_ws(&ps);
    if (ps.p != ps.end) return perr(&ps, "unexpected bytes after the header's JSON object");
    return LILM_OK;
}

/* qsort has no user pointer in C11, so the comparators sort small records
 * that carry what they compare along with the tensor index. */
typedef struct lilm_st_order {
    uint64_t begin, end;
    size_t idx;
} lilm_st_order;

static int cmp_order(const void *a, const void *b)
{
    const lilm_st_order *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

typedef struct lilm_st_named {
    const char *name;
    size_t idx;
} lilm_st_named;

static int cmp_named(const void *a, const void *b)
{
    const lilm_st_named *x = a, *y = b;
    return strcmp(x->name, y->name);
}

static void shape_text(const lilm_st_tensor *t, char *buf, size_t n)
{
    size_t used = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < t->ndim && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
    if (used < n) snprintf(buf + used, n - used, "]");
}

/* Step 4: sizes, bounds, tiling, unique names; then tensors in data order. */
static lilm_status check_layout(lilm_st_file *f, const lilm_st_span *spans, const unsigned char *data, size_t dsize)
{
    const char *L = f->label;
    char shp[200];
    for (size_t i = 0; i < f->n_tensors; i++) {
        lilm_st_tensor *t = &f->tensors[i];
        const lilm_st_span *s = &spans[i];
        uint64_t numel = 1, esize = lilm_st_dtype_size(t->dtype);
        int overflow = 0;
        for (int d = 0; d < t->ndim; d++) {
            uint64_t dim = (uint64_t)t->shape[d];
            if (dim != 0 && numel > UINT64_MAX / dim) overflow = 1;
            else numel *= dim;
        }
        if (!overflow && numel > UINT64_MAX / esize) overflow = 1;
        shape_text(t, shp, sizeof shp);
        if (overflow || numel > (uint64_t)INT64_MAX)
            return lilm_errorf(LILM_ERR_FORMAT, "%s: tensor '%s': shape %s is too large", L, t->name, shp);
        if (s->begin > s->end)
            return lilm_errorf(LILM_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] run backwards", L,
                               t->name, (unsigned long long)s->begin, (unsigned long long)s->end);
        if (s->end > dsize)
            return lilm_errorf(LILM_ERR_FORMAT,
                               "%s: tensor '%s': data_offsets [%llu, %llu] reach past the end of the data (%zu bytes): "
                               "the file is truncated or corrupt\nHINT: write the file again",
                               L, t->name, (unsigned long long)s->begin, (unsigned long long)s->end, dsize);
        if (s->end - s->begin != numel * esize)
            return lilm_errorf(LILM_ERR_FORMAT,
                               "%s: tensor '%s': data_offsets [%llu, %llu] hold %llu bytes but %s shape %s needs %llu",
                               L, t->name, (unsigned long long)s->begin, (unsigned long long)s->end,
                               (unsigned long long)(s->end - s->begin), lilm_st_dtype_name(t->dtype), shp,
                               (unsigned long long)(numel * esize));
        t->numel = (int64_t)numel;
        t->nbytes = (size_t)(s->end - s->begin);
        t->data = t->nbytes ? data + s->begin : NULL;
    }
    lilm_st_order *ord = malloc((f->n_tensors + 1) * sizeof *ord);
    lilm_st_named *nam = malloc((f->n_tensors + 1) * sizeof *nam);
    lilm_st_tensor *sorted = malloc((f->n_tensors + 1) * sizeof *sorted);
    f->by_name = malloc((f->n_tensors + 1) * sizeof *f->by_name);
    lilm_status st = LILM_OK;
    if (!ord || !nam || !sorted || !f->by_name) {
        st = lilm_errorf(LILM_ERR_OOM, "%s: out of memory indexing %zu tensors", L, f->n_tensors);
        goto done;
    }
    for (size_t i = 0; i < f->n_tensors; i++) ord[i] = (lilm_st_order){spans[i].begin, spans[i].end, i};
    qsort(ord, f->n_tensors, sizeof *ord, cmp_order);
    uint64_t at = 0;
    for (size_t k = 0; k < f->n_tensors; k++) {
        const lilm_st_tensor *t = &f->tensors[ord[k].idx];
        if (ord[k].begin < at) {
            st = lilm_errorf(LILM_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] overlap tensor '%s'", L,
                             t->name, (unsigned long long)ord[k].begin, (unsigned long long)ord[k].end,
                             f->tensors[ord[k - 1].idx].name);
            goto done;
        }
        if (ord[k].begin > at) {
            st = lilm_errorf(LILM_ERR_FORMAT, "%s: data bytes [%llu, %llu) before tensor '%s' belong to no tensor",
                             L, (unsigned long long)at, (unsigned long long)ord[k].begin, t->name);
            goto done;
        }
        at = ord[k].end;
    }
    if (at != dsize) {
        st = lilm_errorf(LILM_ERR_FORMAT,
                         "%s: the file has %llu bytes of data after the last tensor (tensors end at %llu of %zu)", L,
                         (unsigned long long)(dsize - at), (unsigned long long)at, dsize);
        goto done;
    }
    for (size_t k = 0; k < f->n_tensors; k++) sorted[k] = f->tensors[ord[k].idx];
    if (f->n_tensors) memcpy(f->tensors, sorted, f->n_tensors * sizeof *sorted);
    for (size_t i = 0; i < f->n_tensors; i++) nam[i] = (lilm_st_named){f->tensors[i].name, i};
    qsort(nam, f->n_tensors, sizeof *nam, cmp_named);
    for (size_t k = 0; k < f->n_tensors; k++) {
        if (k > 0 && strcmp(nam[k].name, nam[k - 1].name) == 0) {
            st = lilm_errorf(LILM_ERR_FORMAT, "%s: tensor '%s' appears twice in the header", L, nam[k].name);
            goto done;
        }
        f->by_name[k] = nam[k].idx;
    }
done:
    free(ord);
    free(nam);
    free(sorted);
    return st;
}

/* CRC-32 (zlib's, the IEEE polynomial) of n bytes, in chunks zlib's uInt holds. */
static uint32_t data_crc32(const void *data, size_t n)
{
    uLong c = crc32(0L, Z_NULL, 0);
    const unsigned char *p = data;
    while (n > 0) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)c;
}

/* Step 5: the recorded checksums ("%08x" per tensor in data order, one space
 * between) against the data. Tensors are in data order by now. */
static lilm_status check_checksums(const lilm_st_file *f)
{
    const char *L = f->label, *v = lilm_st_metadata_get(f, LILM_ST_CHECKSUM_KEY);
    if (!v) return LILM_OK;
    const char *hint = "\nHINT: the file is damaged (a disk or copy error); use another checkpoint or write it again";
    for (size_t i = 0; i < f->n_tensors; i++) {
        const lilm_st_tensor *t = &f->tensors[i];
        unsigned want = 0;
        int digits = 0;
        if (i > 0 && *v++ != ' ') digits = -1;
        while (digits >= 0 && digits < 8 && ((*v >= '0' && *v <= '9') || (*v >= 'a' && *v <= 'f'))) {
            want = want * 16u + (unsigned)(*v <= '9' ? *v - '0' : *v - 'a' + 10);
            v++;
            digits++;
        }
        if (digits != 8)
            return lilm_errorf(LILM_ERR_FORMAT, "%s: __metadata__ %s is malformed at tensor '%s' (want %zu CRC-32s, "
                               "8 hex digits each)%s", L, LILM_ST_CHECKSUM_KEY, t->name, f->n_tensors, hint);
        uint32_t got = data_crc32(t->data, t->nbytes);
        if (got != (uint32_t)want)
            return lilm_errorf(LILM_ERR_FORMAT, "%s: tensor '%s': its data has CRC-32 %08x but the file recorded "
                               "%08x when it was written%s", L, t->name, (unsigned)got, want, hint);
    }
    if (*v)
        return lilm_errorf(LILM_ERR_FORMAT, "%s: __metadata__ %s lists more checksums than the %zu tensors%s", L,
                           LILM_ST_CHECKSUM_KEY, f->n_tensors, hint);
    return LILM_OK;
}

static lilm_status open_bytes(lilm_st_file *f)
{
    const char *L = f->label;
    const unsigned char *b = f->base;
    if (f->size < 8)
        return lilm_errorf(LILM_ERR_FORMAT,
                           "%s: %zu bytes is too short for a safetensors file (it starts with an 8-byte header length)"
                           "\nHINT: the file is truncated; write it again",
                           L, f->size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | b[i];
    if (n > f->size - 8)
        return lilm_errorf(LILM_ERR_FORMAT,
                           "%s: header length %llu reaches past the end of the file (%zu bytes): truncated, or not a "
                           "safetensors file\nHINT: write the file again",
                           L, (unsigned long long)n, f->size);
    if (n > LILM_ST_MAX_HEADER)
        return lilm_errorf(LILM_ERR_FORMAT, "%s: header length %llu is above the %u-byte limit", L,
                           (unsigned long long)n, LILM_ST_MAX_HEADER);
    if (n < 2 || b[8] != '{')
        return lilm_errorf(LILM_ERR_FORMAT, "%s: not a safetensors file (the header is not a JSON object)", L);
    const unsigned char *h = b + 8;
    size_t bad;
    if (!lilm_utf8_valid((const char *)h, (size_t)n, &bad))
        return lilm_errorf(LILM_ERR_FORMAT, "%s: safetensors header, byte %zu: invalid UTF-8", L, bad + 8);
    f->arena = malloc((size_t)n + 1);
    if (!f->arena) return lilm_errorf(LILM_ERR_OOM, "%s: out of memory for a %llu-byte header", L, (unsigned long long)n);
    lilm_st_span *spans = NULL;
    lilm_status s = parse_header(f, h, (size_t)n, &spans);
    if (s == LILM_OK) s = check_layout(f, spans, h + n, f->size - 8 - (size_t)n);
    if (s == LILM_OK) s = check_checksums(f);
    free(spans);
    return s;
}

lilm_status lilm_st_open_memory(lilm_st_file **out, const void *data, size_t size, const char *label)
{
    *out = NULL;
    lilm_st_file *f = calloc(1, sizeof *f);
    if (!f) return lilm_errorf(LILM_ERR_OOM, "out of memory opening %s", label);
    snprintf(f->label, sizeof f->label, "%s", label);
    f->base = data;
    f->size = size;
    lilm_status s = open_bytes(f);
    if (s != LILM_OK) {
        lilm_st_close(f);
        return s;
    }
    *out = f;
    return LILM_OK;
}

lilm_status lilm_st_open(lilm_st_file **out, const char *path)
{
    *out = NULL;
    lilm_mmap m;
    LILM_TRY(lilm_mmap_open(&m, path));
    lilm_st_file *f;
    lilm_status s = lilm_st_open_memory(&f, m.data, m.size, path);
    if (s != LILM_OK) {
        lilm_mmap_close(&m);
        return s;
    }
    f->map = m;
    *out = f;
    return LILM_OK;
}

void lilm_st_close(lilm_st_file *f)
{
    if (!f) return;
    if (f->map.data) lilm_mmap_close(&f->map);
    free(f->arena);
    free(f->tensors);
    free(f->by_name);
    free(f->meta);
    free(f);
}

size_t lilm_st_count(const lilm_st_file *f)
{
    return f->n_tensors;
}

const lilm_st_tensor *lilm_st_at(const lilm_st_file *f, size_t i)
{
    return i < f->n_tensors ? &f->tensors[i] : NULL;
}

const lilm_st_tensor *lilm_st_find(const lilm_st_file *f, const char *name)
{
    size_t lo = 0, hi = f->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const lilm_st_tensor *t = &f->tensors[f->by_name[mid]];
        int c = strcmp(name, t->name);
        if (c == 0) return t;
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}

lilm_status lilm_st_expect(const lilm_st_file *f, const char *name, lilm_st_dtype dtype, int ndim,
                           const int64_t *shape, const lilm_st_tensor **out)
{
    const lilm_st_tensor *t = lilm_st_find(f, name);
    if (out) *out = NULL;
    if (!t) return lilm_errorf(LILM_ERR_NOT_FOUND, "%s: no tensor '%s'", f->label, name);
    if (t->dtype != dtype)
        return lilm_errorf(LILM_ERR_MISMATCH, "%s: tensor '%s' is %s, expected %s", f->label, name,
                           lilm_st_dtype_name(t->dtype), lilm_st_dtype_name(dtype));
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!same) {
        char got[200], want[200];
        lilm_st_tensor w = {.ndim = ndim > LILM_ST_MAX_DIMS ? LILM_ST_MAX_DIMS : ndim};
        for (int i = 0; i < w.ndim; i++) w.shape[i] = shape[i];
        shape_text(t, got, sizeof got);
        shape_text(&w, want, sizeof want);
        return lilm_errorf(LILM_ERR_MISMATCH, "%s: tensor '%s' has shape %s, expected %s", f->label, name, got, want);
    }
    if (out) *out = t;
    return LILM_OK;
}

const char *lilm_st_metadata_get(const lilm_st_file *f, const char *key)
{
    for (size_t i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta[i].key, key) == 0) return f->meta[i].value;
    return NULL;
}

size_t lilm_st_metadata_count(const lilm_st_file *f)
{
    return f->n_meta;
}

void lilm_st_metadata_at(const lilm_st_file *f, size_t i, const char **key, const char **value)
{
    *key = i < f->n_meta ? f->meta[i].key : NULL;
    *value = i < f->n_meta ? f->meta[i].value : NULL;
}

/* Index of the first element whose exponent bits are all ones (NaN or Inf)
 * in n elements of `size` bytes, or -1. `mask` selects the exponent. */
static int64_t first_non_finite(const unsigned char *p, int64_t n, size_t size, uint64_t mask)
{
    for (int64_t i = 0; i < n; i++) {
        uint64_t v = 0;
        memcpy(&v, p + (size_t)i * size, size); /* little-endian host */
        if ((v & mask) == mask) return i;
    }
    return -1;
}

/* The first NaN/Inf element of a tensor's bytes, or -1 (integer dtypes: -1). */
static int64_t tensor_non_finite(lilm_st_dtype dtype, const void *data, size_t nbytes)
{
    uint64_t mask;
    switch (dtype) {
    case LILM_ST_F16: mask = 0x7c00u; break;
    case LILM_ST_BF16: mask = 0x7f80u; break;
    case LILM_ST_F32: mask = 0x7f800000u; break;
    case LILM_ST_F64: mask = 0x7ff0000000000000ull; break;
    default: return -1;
    }
    size_t size = lilm_st_dtype_size(dtype);
    return nbytes ? first_non_finite(data, (int64_t)(nbytes / size), size, mask) : -1;
}

lilm_status lilm_st_check_finite(const lilm_st_file *f)
{
    for (size_t i = 0; i < f->n_tensors; i++) {
        const lilm_st_tensor *t = &f->tensors[i];
        int64_t at = tensor_non_finite(t->dtype, t->data, t->nbytes);
        if (at >= 0)
            return lilm_errorf(LILM_ERR_FORMAT, "%s: tensor '%s': element %lld is NaN or infinite: these weights "
                               "diverged\nHINT: use an earlier checkpoint, or train again with a lower learning rate",
                               f->label, t->name, (long long)at);
    }
    return LILM_OK;
}

/* ---------------------------------------------------------------------- */
/* Writing                                                                  */

typedef struct lilm_st_wtensor {
    char *name;
    lilm_st_dtype dtype;
    int ndim;
    int64_t shape[LILM_ST_MAX_DIMS];
    const void *data;
    size_t nbytes;
} lilm_st_wtensor;

struct lilm_st_writer {
    lilm_st_wtensor *tensors;
    size_t n_tensors, cap_tensors;
    char **meta; /* key, value, key, value, ... */
    size_t n_meta, cap_meta;
    int allow_non_finite;
};

void lilm_st_writer_allow_non_finite(lilm_st_writer *w) { w->allow_non_finite = 1; }

lilm_status lilm_st_writer_init(lilm_st_writer **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? LILM_OK : lilm_errorf(LILM_ERR_OOM, "out of memory for a safetensors writer");
}

void lilm_st_writer_free(lilm_st_writer *w)
{
    if (!w) return;
    for (size_t i = 0; i < w->n_tensors; i++) free(w->tensors[i].name);
    for (size_t i = 0; i < 2 * w->n_meta; i++) free(w->meta[i]);
    free(w->tensors);
    free(w->meta);
    free(w);
}

static int valid_utf8_string(const char *s)
{
    size_t n = strlen(s);
    return lilm_utf8_valid(s, n, NULL);
}

lilm_status lilm_st_writer_add(lilm_st_writer *w, const char *name, lilm_st_dtype dtype, int ndim,
                               const int64_t *shape, const void *data)
{
    if (!name[0] || strcmp(name, "__metadata__") == 0 || !valid_utf8_string(name))
        return lilm_errorf(LILM_ERR_ARG, "safetensors: bad tensor name '%s' (must be non-empty UTF-8, not "
                           "__metadata__)", name);
    if (!lilm_st_dtype_name(dtype)) return lilm_errorf(LILM_ERR_ARG, "safetensors: tensor '%s': bad dtype %d", name, (int)dtype);
    if (ndim < 0 || ndim > LILM_ST_MAX_DIMS)
        return lilm_errorf(LILM_ERR_ARG, "safetensors: tensor '%s': %d dimensions (0..%d allowed)", name, ndim,
                           LILM_ST_MAX_DIMS);
    for (size_t i = 0; i < w->n_tensors; i++)
        if (strcmp(w->tensors[i].name, name) == 0)
            return lilm_errorf(LILM_ERR_ARG, "safetensors: tensor '%s' added twice", name);
    uint64_t bytes = lilm_st_dtype_size(dtype);
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return lilm_errorf(LILM_ERR_ARG, "safetensors: tensor '%s': negative dimension", name);
        if (shape[i] != 0 && bytes > (uint64_t)(SIZE_MAX / 2) / (uint64_t)shape[i])
            return lilm_errorf(LILM_ERR_ARG, "safetensors: tensor '%s' is too large", name);
        bytes *= (uint64_t)shape[i];
    }
    if (bytes && !data) return lilm_errorf(LILM_ERR_ARG, "safetensors: tensor '%s' has no data", name);
    LILM_TRY(lilm_grow((void **)&w->tensors, &w->cap_tensors, w->n_tensors + 1, sizeof *w->tensors));
    lilm_st_wtensor *t = &w->tensors[w->n_tensors];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    if (!t->name) return lilm_errorf(LILM_ERR_OOM, "out of memory");
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->data = data;
    t->nbytes = (size_t)bytes;
    w->n_tensors++;
    return LILM_OK;
}

lilm_status lilm_st_writer_add_metadata(lilm_st_writer *w, const char *key, const char *value)
{
    if (!valid_utf8_string(key) || !valid_utf8_string(value))
        return lilm_errorf(LILM_ERR_ARG, "safetensors: metadata '%s' is not valid UTF-8", key);
    char *v = strdup(value);
    if (!v) return lilm_errorf(LILM_ERR_OOM, "out of memory");
    for (size_t i = 0; i < w->n_meta; i++)
        if (strcmp(w->meta[2 * i], key) == 0) {
            free(w->meta[2 * i + 1]);
            w->meta[2 * i + 1] = v;
            return LILM_OK;
        }
    char *k = strdup(key);
    lilm_status s = k ? lilm_grow((void **)&w->meta, &w->cap_meta, 2 * (w->n_meta + 1), sizeof *w->meta)
                      : lilm_errorf(LILM_ERR_OOM, "out of memory");
    if (s != LILM_OK) {
        free(k);
        free(v);
        return s;
    }
    w->meta[2 * w->n_meta] = k;
    w->meta[2 * w->n_meta + 1] = v;
    w->n_meta++;
    return LILM_OK;
}

/* A growable byte buffer for the header. */
typedef struct lilm_st_buf {
    char *p;
    size_t n, cap;
    int oom;
} lilm_st_buf;

static void buf_put(lilm_st_buf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 1024;
        while (ncap < b->n + n + 1) ncap *= 2;
        char *p = realloc(b->p, ncap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = ncap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void buf_str(lilm_st_buf *b, const char *s)
{
    buf_put(b, s, strlen(s));
}

/* A JSON string literal: ", \ and control characters escaped; UTF-8 as is. */
static void buf_json_string(lilm_st_buf *b, const char *s)
{
    buf_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            buf_put(b, esc, 2);
        } else if (*p < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", *p);
            buf_put(b, esc, 6);
        } else {
            buf_put(b, (const char *)p, 1);
        }
    }
    buf_put(b, "\"", 1);
}

lilm_status lilm_st_writer_write(const lilm_st_writer *w, const char *path)
{
    for (size_t i = 0; i < w->n_tensors && !w->allow_non_finite; i++) {
        const lilm_st_wtensor *t = &w->tensors[i];
        int64_t at = tensor_non_finite(t->dtype, t->data, t->nbytes);
        if (at >= 0)
            return lilm_errorf(LILM_ERR_FORMAT, "%s: not written: tensor '%s': element %lld is NaN or infinite (the "
                               "previous version of the file, if any, is intact)\nHINT: the training diverged; lower "
                               "the learning rate or resume from the last good checkpoint", path, t->name,
                               (long long)at);
    }
    lilm_st_buf b = {0};
    char num[96];
    buf_str(&b, "{\"__metadata__\":{");
    int first = 1;
    for (size_t i = 0; i < w->n_meta; i++) {
        if (strcmp(w->meta[2 * i], LILM_ST_CHECKSUM_KEY) == 0) continue; /* recomputed below */
        if (!first) buf_str(&b, ",");
        first = 0;
        buf_json_string(&b, w->meta[2 * i]);
        buf_str(&b, ":");
        buf_json_string(&b, w->meta[2 * i + 1]);
    }
    if (!first) buf_str(&b, ",");
    buf_json_string(&b, LILM_ST_CHECKSUM_KEY);
    buf_str(&b, ":\"");
    for (size_t i = 0; i < w->n_tensors; i++) {
        snprintf(num, sizeof num, "%s%08x", i ? " " : "",
                 (unsigned)data_crc32(w->tensors[i].data, w->tensors[i].nbytes));
        buf_str(&b, num);
    }
    buf_str(&b, "\"}");
    uint64_t at = 0;
    for (size_t i = 0; i < w->n_tensors; i++) {
        const lilm_st_wtensor *t = &w->tensors[i];
        buf_str(&b, ",");
        buf_json_string(&b, t->name);
        buf_str(&b, ":{\"dtype\":\"");
        buf_str(&b, lilm_st_dtype_name(t->dtype));
        buf_str(&b, "\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            snprintf(num, sizeof num, "%s%lld", d ? "," : "", (long long)t->shape[d]);
            buf_str(&b, num);
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)at,
                 (unsigned long long)(at + t->nbytes));
        buf_str(&b, num);
        at += t->nbytes;
    }
    buf_str(&b, "}");
    while (!b.oom && b.n % 8 != 0) buf_put(&b, " ", 1); /* 8 + N stays a multiple of 8 */
    if (b.oom) {
        free(b.p);
        return lilm_errorf(LILM_ERR_OOM, "%s: out of memory building the safetensors header", path);
    }
    unsigned char len[8];
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)(((uint64_t)b.n >> (8 * i)) & 0xff);
    lilm_atomic_file af;
    lilm_status s = lilm_atomic_open(&af, path);
    if (s != LILM_OK) {
        free(b.p);
        return s;
    }
    int ok = fwrite(len, 1, 8, af.f) == 8 && fwrite(b.p, 1, b.n, af.f) == b.n;
    free(b.p);
    for (size_t i = 0; ok && i < w->n_tensors; i++)
        if (w->tensors[i].nbytes) ok = fwrite(w->tensors[i].data, 1, w->tensors[i].nbytes, af.f) == w->tensors[i].nbytes;
    if (!ok) {
        int err = errno;
        lilm_atomic_abort(&af);
        return lilm_errorf(LILM_ERR_IO, "cannot write %s: %s", path, strerror(err));
    }
    return lilm_atomic_commit(&af);
}
