/*
 * json.c: the strict JSON reader and the writer helpers of json.h.
 *
 * The reader is a recursive-descent parser over (text, len) with an explicit
 * depth limit, so hostile input can neither overflow the stack nor read past
 * the end. Each array/object collects its children in a growing array of
 * lilm_json values (children are stored inline, not as pointers); strings are
 * unescaped into fresh buffers. Errors carry line:column and byte offset,
 * computed only when an error happens.
 */
#include "core/json.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/utf8.h"

typedef struct json_parser {
    const char *s;   /* the text */
    size_t n;        /* its length */
    size_t pos;      /* next byte to read */
    const char *name;
} json_parser;

static lilm_status json_fail(const json_parser *p, size_t at, const char *what)
{
    size_t line = 1, col = 1;
    for (size_t i = 0; i < at && i < p->n; i++) {
        if (p->s[i] == '\n') {
            line++;
            col = 1;
        } else if (((unsigned char)p->s[i] & 0xC0) != 0x80) {
            col++; /* count characters, not continuation bytes */
        }
    }
    return lilm_errorf(LILM_ERR_FORMAT, "%s:%zu:%zu (byte %zu): %s",
                       p->name ? p->name : "json", line, col, at, what);
}

static void skip_ws(json_parser *p)
{
    while (p->pos < p->n) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static int hex4(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
        else return 0;
    }
    *out = v;
    return 1;
}

int lilm_json_escape_byte(int letter)
{
    switch (letter) {
    case '"': return '"';
    case '\\': return '\\';
    case '/': return '/';
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    default: return -1;
    }
}

size_t lilm_json_u_escape(const char *s, size_t n, uint32_t *cp, const char **why)
{
    uint32_t hi, lo;
    if (n < 4 || !hex4(s, &hi)) {
        *why = "bad \\u escape (need 4 hex digits)";
        return 0;
    }
    if (hi >= 0xDC00 && hi <= 0xDFFF) {
        *why = "lone low surrogate in a \\u escape";
        return 0;
    }
    if (hi < 0xD800 || hi > 0xDBFF) {
        *cp = hi;
        return 4;
    }
    if (n < 10 || s[4] != '\\' || s[5] != 'u' || !hex4(s + 6, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
        *why = "lone high surrogate in a \\u escape (no low surrogate escape follows)";
        return 0;
    }
    *cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
    return 10;
}

/* Parses a string starting at the opening quote into a malloc'd buffer. The
 * unescaped text is never longer than the escaped one, so one allocation of
 * the raw length suffices. */
static lilm_status parse_string(json_parser *p, char **out, size_t *out_len)
{
    size_t start = ++p->pos; /* after the quote */
    size_t end = start;
    int has_escape = 0;
    /* find the closing quote first (validating bytes as we go) */
    while (1) {
        if (end >= p->n) return json_fail(p, start - 1, "unterminated string");
        unsigned char c = (unsigned char)p->s[end];
        if (c == '"') break;
        if (c == '\\') {
            has_escape = 1;
            if (end + 1 >= p->n) return json_fail(p, start - 1, "unterminated string");
            end += 2;
            continue;
        }
        if (c < 0x20) return json_fail(p, end, "control character in a string (escape it as \\uXXXX)");
        if (c < 0x80) {
            end++;
            continue;
        }
        size_t k = lilm_utf8_valid_len(p->s + end, p->n - end);
        if (k == 0) return json_fail(p, end, "invalid UTF-8 in a string");
        end += k;
    }
    char *buf = malloc(end - start + 1);
    if (!buf) return lilm_errorf(LILM_ERR_OOM, "out of memory parsing JSON");
    size_t o = 0;
    if (!has_escape) {
        memcpy(buf, p->s + start, end - start);
        o = end - start;
    } else {
        size_t i = start;
        while (i < end) {
            char c = p->s[i];
            if (c != '\\') {
                buf[o++] = c;
                i++;
                continue;
            }
            char e = p->s[i + 1];
            i += 2;
            if (e == 'u') {
                uint32_t cp;
                const char *why = NULL;
                size_t k = lilm_json_u_escape(p->s + i, end - i, &cp, &why);
                if (k == 0) {
                    free(buf);
                    return json_fail(p, i - 2, why);
                }
                i += k;
                o += lilm_utf8_encode(cp, buf + o);
                continue;
            }
            int b = lilm_json_escape_byte(e);
            if (b < 0) {
                free(buf);
                return json_fail(p, i - 2, "unknown escape in a string");
            }
            buf[o++] = (char)b;
        }
    }
    buf[o] = '\0';
    p->pos = end + 1;
    *out = buf;
    *out_len = o;
    return LILM_OK;
}

static lilm_status parse_number(json_parser *p, lilm_json *v)
{
    size_t start = p->pos, i = p->pos;
    int is_int = 1;
    if (i < p->n && p->s[i] == '-') i++;
    if (i >= p->n) return json_fail(p, start, "bad number");
    if (p->s[i] == '0') {
        i++;
        if (i < p->n && p->s[i] >= '0' && p->s[i] <= '9')
            return json_fail(p, start, "bad number (leading zeros are not allowed)");
    } else if (p->s[i] >= '1' && p->s[i] <= '9') {
        while (i < p->n && p->s[i] >= '0' && p->s[i] <= '9') i++;
    } else {
        return json_fail(p, start, "bad number");
    }
    if (i < p->n && p->s[i] == '.') {
        is_int = 0;
        i++;
        if (i >= p->n || p->s[i] < '0' || p->s[i] > '9') return json_fail(p, start, "bad number (digit expected after '.')");
        while (i < p->n && p->s[i] >= '0' && p->s[i] <= '9') i++;
    }
    if (i < p->n && (p->s[i] == 'e' || p->s[i] == 'E')) {
        is_int = 0;
        i++;
        if (i < p->n && (p->s[i] == '+' || p->s[i] == '-')) i++;
        if (i >= p->n || p->s[i] < '0' || p->s[i] > '9') return json_fail(p, start, "bad number (digit expected in exponent)");
        while (i < p->n && p->s[i] >= '0' && p->s[i] <= '9') i++;
    }
    char tmp[512];
    size_t len = i - start;
    if (len >= sizeof tmp) return json_fail(p, start, "number literal too long");
    memcpy(tmp, p->s + start, len);
    tmp[len] = '\0';
    v->type = LILM_JSON_NUMBER;
    v->number = strtod(tmp, NULL);
    if (is_int) {
        errno = 0;
        long long ll = strtoll(tmp, NULL, 10);
        if (errno == 0) {
            v->is_int = 1;
            v->integer = (int64_t)ll;
        }
    }
    p->pos = i;
    return LILM_OK;
}

static lilm_status parse_value(json_parser *p, lilm_json *v, int depth);

static lilm_status push_item(lilm_json **items, size_t *n, size_t *cap, const lilm_json *it)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        lilm_json *ni = realloc(*items, nc * sizeof *ni);
        if (!ni) return lilm_errorf(LILM_ERR_OOM, "out of memory parsing JSON");
        *items = ni;
        *cap = nc;
    }
    (*items)[(*n)++] = *it;
    return LILM_OK;
}

static void free_inner(lilm_json *v)
{
    free(v->str);
    free(v->key);
    for (size_t i = 0; i < v->n; i++) free_inner(&v->items[i]);
    free(v->items);
}

static lilm_status parse_container(json_parser *p, lilm_json *v, int depth, int is_object)
{
    if (depth >= LILM_JSON_MAX_DEPTH) return json_fail(p, p->pos, "nesting too deep");
    char close = is_object ? '}' : ']';
    v->type = is_object ? LILM_JSON_OBJECT : LILM_JSON_ARRAY;
    size_t cap = 0;
    p->pos++; /* the opening bracket */
    skip_ws(p);
    if (p->pos < p->n && p->s[p->pos] == close) {
        p->pos++;
        return LILM_OK;
    }
    while (1) {
        lilm_json it;
        memset(&it, 0, sizeof it);
        lilm_status st;
        skip_ws(p);
        if (is_object) {
            if (p->pos >= p->n || p->s[p->pos] != '"')
                return json_fail(p, p->pos, p->pos < p->n && p->s[p->pos] == '}'
                                                ? "trailing comma before '}'" : "expected a string key");
            st = parse_string(p, &it.key, &it.key_len);
            if (st) return st;
            skip_ws(p);
            if (p->pos >= p->n || p->s[p->pos] != ':') {
                free(it.key);
                return json_fail(p, p->pos, "expected ':' after an object key");
            }
            p->pos++;
            skip_ws(p);
        } else if (p->pos < p->n && p->s[p->pos] == ']') {
            return json_fail(p, p->pos, "trailing comma before ']'");
        }
        st = parse_value(p, &it, depth + 1);
        if (st == LILM_OK) st = push_item(&v->items, &v->n, &cap, &it);
        if (st) {
            free_inner(&it);
            return st;
        }
        skip_ws(p);
        if (p->pos >= p->n) return json_fail(p, p->pos, is_object ? "unterminated object" : "unterminated array");
        char c = p->s[p->pos];
        if (c == ',') {
            p->pos++;
            continue;
        }
        if (c == close) {
            p->pos++;
            return LILM_OK;
        }
        return json_fail(p, p->pos, is_object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int match_word(json_parser *p, const char *w)
{
    size_t k = strlen(w);
    if (p->n - p->pos < k || memcmp(p->s + p->pos, w, k) != 0) return 0;
    p->pos += k;
    return 1;
}

static lilm_status parse_value(json_parser *p, lilm_json *v, int depth)
{
    skip_ws(p);
    if (p->pos >= p->n) return json_fail(p, p->pos, "unexpected end of input (a value was expected)");
    char c = p->s[p->pos];
    switch (c) {
    case '{': return parse_container(p, v, depth, 1);
    case '[': return parse_container(p, v, depth, 0);
    case '"':
        v->type = LILM_JSON_STRING;
        return parse_string(p, &v->str, &v->len);
    case 't':
        if (!match_word(p, "true")) break;
        v->type = LILM_JSON_BOOL;
        v->boolean = 1;
        return LILM_OK;
    case 'f':
        if (!match_word(p, "false")) break;
        v->type = LILM_JSON_BOOL;
        v->boolean = 0;
        return LILM_OK;
    case 'n':
        if (!match_word(p, "null")) break;
        v->type = LILM_JSON_NULL;
        return LILM_OK;
    default:
        if (c == '-' || (c >= '0' && c <= '9')) return parse_number(p, v);
        break;
    }
    return json_fail(p, p->pos, "unexpected character (a value was expected)");
}

lilm_status lilm_json_parse(lilm_json **out, const char *text, size_t len, const char *name)
{
    json_parser p = {text, len, 0, name};
    *out = NULL;
    lilm_json *root = calloc(1, sizeof *root);
    if (!root) return lilm_errorf(LILM_ERR_OOM, "out of memory parsing JSON");
    /* a UTF-8 byte order mark is not JSON; say so clearly */
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        free(root);
        return json_fail(&p, 0, "byte order mark at the start (save the file as UTF-8 without BOM)");
    }
    lilm_status st = parse_value(&p, root, 0);
    if (st == LILM_OK) {
        skip_ws(&p);
        if (p.pos != p.n) st = json_fail(&p, p.pos, "unexpected data after the JSON value");
    }
    if (st) {
        lilm_json_free(root);
        return st;
    }
    *out = root;
    return LILM_OK;
}

lilm_status lilm_json_parse_file(lilm_json **out, const char *path)
{
    char *data;
    size_t n;
    *out = NULL;
    LILM_TRY(lilm_read_file(path, &data, &n));
    lilm_status st = lilm_json_parse(out, data, n, path);
    free(data);
    return st;
}

void lilm_json_free(lilm_json *v)
{
    if (!v) return;
    free_inner(v);
    free(v);
}

const lilm_json *lilm_json_get(const lilm_json *v, const char *key)
{
    if (!v || v->type != LILM_JSON_OBJECT) return NULL;
    size_t k = strlen(key);
    for (size_t i = v->n; i-- > 0;)
        if (v->items[i].key_len == k && memcmp(v->items[i].key, key, k) == 0) return &v->items[i];
    return NULL;
}

const char *lilm_json_get_str(const lilm_json *v, const char *key)
{
    const lilm_json *m = lilm_json_get(v, key);
    return m && m->type == LILM_JSON_STRING ? m->str : NULL;
}

int lilm_json_get_int(const lilm_json *v, const char *key, int64_t *out)
{
    const lilm_json *m = lilm_json_get(v, key);
    if (!m || m->type != LILM_JSON_NUMBER || !m->is_int) return 0;
    *out = m->integer;
    return 1;
}

int lilm_json_get_num(const lilm_json *v, const char *key, double *out)
{
    const lilm_json *m = lilm_json_get(v, key);
    if (!m || m->type != LILM_JSON_NUMBER) return 0;
    *out = m->number;
    return 1;
}

const char *lilm_json_type_name(lilm_json_type t)
{
    static const char *const names[] = {"null", "boolean", "number", "string", "array", "object"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

/* ---- writing ---- */

/* Escapes s[0..n) with quotes into dst (room for 6n+2 bytes); returns bytes written. */
static size_t escape_into(char *dst, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    dst[o++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': dst[o++] = '\\'; dst[o++] = '"'; break;
        case '\\': dst[o++] = '\\'; dst[o++] = '\\'; break;
        case '\n': dst[o++] = '\\'; dst[o++] = 'n'; break;
        case '\r': dst[o++] = '\\'; dst[o++] = 'r'; break;
        case '\t': dst[o++] = '\\'; dst[o++] = 't'; break;
        case '\b': dst[o++] = '\\'; dst[o++] = 'b'; break;
        case '\f': dst[o++] = '\\'; dst[o++] = 'f'; break;
        default:
            if (c < 0x20 || c == 0x7F) {
                dst[o++] = '\\'; dst[o++] = 'u'; dst[o++] = '0'; dst[o++] = '0';
                dst[o++] = hex[c >> 4]; dst[o++] = hex[c & 15];
            } else {
                dst[o++] = (char)c;
            }
        }
    }
    dst[o++] = '"';
    return o;
}

void lilm_json_write_escaped(FILE *f, const char *s, size_t n)
{
    char chunk[6 * 256 + 2];
    /* escape in pieces so no allocation is needed; quotes only around the whole */
    fputc('"', f);
    for (size_t i = 0; i < n; i += 256) {
        size_t k = n - i < 256 ? n - i : 256;
        size_t o = escape_into(chunk, s + i, k);
        fwrite(chunk + 1, 1, o - 2, f);
    }
    fputc('"', f);
}

static int wr_reserve(lilm_json_writer *w, size_t extra)
{
    if (w->oom) return 0;
    if (w->len + extra + 1 <= w->cap) return 1;
    size_t nc = w->cap ? w->cap : 256;
    while (nc < w->len + extra + 1) nc *= 2;
    char *nd = realloc(w->data, nc);
    if (!nd) {
        w->oom = 1;
        return 0;
    }
    w->data = nd;
    w->cap = nc;
    return 1;
}

static void wr_raw(lilm_json_writer *w, const char *s, size_t n)
{
    if (!wr_reserve(w, n)) return;
    memcpy(w->data + w->len, s, n);
    w->len += n;
    w->data[w->len] = '\0';
}

static void wr_newline(lilm_json_writer *w)
{
    if (!w->pretty) return;
    wr_raw(w, "\n", 1);
    for (int i = 0; i < w->depth; i++) wr_raw(w, "  ", 2);
}

/* Before any value or key: the comma and indentation it needs. */
static void wr_before(lilm_json_writer *w)
{
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (w->depth > 0) {
        if (w->has_items[w->depth - 1]) wr_raw(w, ",", 1);
        w->has_items[w->depth - 1] = 1;
        wr_newline(w);
    }
}

void lilm_json_writer_init(lilm_json_writer *w, int pretty)
{
    memset(w, 0, sizeof *w);
    w->pretty = pretty;
}

static void writer_free(lilm_json_writer *w)
{
    free(w->data);
    memset(w, 0, sizeof *w);
}

static void wr_open(lilm_json_writer *w, char c)
{
    wr_before(w);
    wr_raw(w, &c, 1);
    if (w->depth >= LILM_JSON_MAX_DEPTH) {
        w->oom = 2; /* too deep: reported as an internal error */
        return;
    }
    w->has_items[w->depth++] = 0;
}

static void wr_close(lilm_json_writer *w, char c)
{
    if (w->depth <= 0) {
        w->oom = 2;
        return;
    }
    int had = w->has_items[--w->depth];
    if (had) wr_newline(w);
    wr_raw(w, &c, 1);
}

void lilm_json_begin_object(lilm_json_writer *w) { wr_open(w, '{'); }
void lilm_json_end_object(lilm_json_writer *w) { wr_close(w, '}'); }
void lilm_json_begin_array(lilm_json_writer *w) { wr_open(w, '['); }
void lilm_json_end_array(lilm_json_writer *w) { wr_close(w, ']'); }

static void wr_escaped(lilm_json_writer *w, const char *s, size_t n)
{
    if (!wr_reserve(w, 6 * n + 2)) return;
    w->len += escape_into(w->data + w->len, s, n);
    w->data[w->len] = '\0';
}

void lilm_json_key(lilm_json_writer *w, const char *key)
{
    wr_before(w);
    wr_escaped(w, key, strlen(key));
    wr_raw(w, w->pretty ? ": " : ":", w->pretty ? 2 : 1);
    w->after_key = 1;
}

void lilm_json_strn(lilm_json_writer *w, const char *s, size_t n)
{
    wr_before(w);
    wr_escaped(w, s, n);
}

void lilm_json_str(lilm_json_writer *w, const char *s)
{
    if (!s) {
        lilm_json_null(w);
        return;
    }
    lilm_json_strn(w, s, strlen(s));
}

void lilm_json_int(lilm_json_writer *w, int64_t v)
{
    char b[32];
    int k = snprintf(b, sizeof b, "%lld", (long long)v);
    wr_before(w);
    wr_raw(w, b, (size_t)k);
}

void lilm_json_double(lilm_json_writer *w, double v)
{
    if (!isfinite(v)) {
        lilm_json_null(w);
        return;
    }
    char b[40];
    int k = snprintf(b, sizeof b, "%.17g", v);
    /* make sure it reads back as a number with a fraction or exponent only when needed */
    wr_before(w);
    wr_raw(w, b, (size_t)k);
}

void lilm_json_bool(lilm_json_writer *w, int v)
{
    wr_before(w);
    wr_raw(w, v ? "true" : "false", v ? 4 : 5);
}

void lilm_json_null(lilm_json_writer *w)
{
    wr_before(w);
    wr_raw(w, "null", 4);
}

lilm_status lilm_json_writer_finish(lilm_json_writer *w, char **out, size_t *n)
{
    lilm_status st = LILM_OK;
    if (w->oom == 1) st = lilm_errorf(LILM_ERR_OOM, "out of memory writing JSON");
    else if (w->oom == 2 || w->depth != 0 || w->after_key)
        st = lilm_errorf(LILM_ERR_INTERNAL, "JSON writer misused: unbalanced objects/arrays or a key without a value");
    if (st == LILM_OK && w->pretty) wr_raw(w, "\n", 1);
    if (st == LILM_OK && (w->oom || !w->data)) {
        if (!w->data && !w->oom) st = lilm_errorf(LILM_ERR_INTERNAL, "JSON writer: nothing was written");
        else st = lilm_errorf(LILM_ERR_OOM, "out of memory writing JSON");
    }
    if (st) {
        writer_free(w);
        return st;
    }
    *out = w->data;
    if (n) *n = w->len;
    w->data = NULL;
    writer_free(w);
    return LILM_OK;
}
