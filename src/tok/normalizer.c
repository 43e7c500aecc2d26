/*
 * normalizer.c: sentencepiece-compatible normalisation (see normalizer.h).
 *
 * The charsmap is walked in place (no copy): darts-clone units are read as
 * little-endian uint32 with every index checked against the blob, and a rule
 * whose output offset falls outside the outputs area is ignored, so corrupt
 * blobs degrade to "no rule" instead of reading out of bounds. Valid blobs
 * give exactly sentencepiece's results.
 *
 * Most text is ASCII, so the rule at an ASCII byte is resolved once for all
 * when the normaliser is built: for each byte, where it leads (no rule, or a
 * one-byte rule) and which next bytes could extend a longer rule or a
 * user-defined piece. normalize() takes that answer directly unless the next
 * byte is one of those; prefix() is the full search.
 */
#include "tok/normalizer.h"

#include "core/grow.h"

#include <stdlib.h>
#include <string.h>

#define SPACE_SYMBOL "\xe2\x96\x81"

static inline uint32_t unit_at(const lilm_normalizer *nz, size_t i)
{
    const uint8_t *p = nz->units + 4 * i;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline size_t unit_offset(uint32_t u) { return (size_t)(u >> 10) << ((u & 0x200u) >> 6); }
static inline uint32_t unit_label(uint32_t u) { return u & 0x800000ffu; }
static inline int unit_has_leaf(uint32_t u) { return (u >> 8) & 1; }

/* The structural checks sentencepiece applies before using a charsmap trie:
 * the root is a plain node with children in range, every inner node's
 * children lie inside the array, a leaf flag points at a value unit, and every
 * value is an offset inside the outputs area. */
static int charsmap_valid(const lilm_normalizer *nz)
{
    size_t n = nz->n_units;
    if (n == 0) return 0;
    uint32_t root = unit_at(nz, 0);
    if (unit_label(root) != 0 || unit_has_leaf(root) || unit_offset(root) == 0 || (unit_offset(root) | 0xFF) >= n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        uint32_t u = unit_at(nz, i);
        if (unit_label(u) <= 0xFF) {
            if (((i ^ unit_offset(u)) | 0xFF) >= n) return 0;
            if (unit_has_leaf(u) && unit_label(unit_at(nz, i ^ unit_offset(u))) <= 0xFF) return 0;
        } else if ((u & 0x7fffffffu) >= nz->outputs_len && nz->outputs_len <= 0x7fffffffu) {
            return 0;
        }
    }
    return 1;
}

/* Fills the ASCII fast-path tables from the charsmap and user-defined pieces. */
static void build_ascii(lilm_normalizer *nz)
{
    for (int b = 0; b < 128; b++) {
        nz->ascii_out[b] = NULL;
        nz->ascii_out_len[b] = 1;
        nz->ascii_slow[b] = 0;
        nz->ascii_plain[b] = 0;
        memset(nz->ascii_cont[b], 0, sizeof nz->ascii_cont[b]);
        if (nz->user_defined && lilm_trie_next(nz->user_defined, 0, (unsigned char)b) >= 0) {
            nz->ascii_slow[b] = 1;
            continue;
        }
        if (b != ' ' && b != 0) nz->ascii_plain[b] = (uint8_t)b;
        if (nz->n_units == 0) continue;
        size_t pos = unit_offset(unit_at(nz, 0)) ^ (size_t)b;
        if (pos >= nz->n_units || unit_label(unit_at(nz, pos)) != (uint32_t)b) continue;
        uint32_t u = unit_at(nz, pos);
        size_t node = pos ^ unit_offset(u);
        if (node >= nz->n_units) continue; /* charsmap_match stops here too: no rule */
        if (unit_has_leaf(u)) {
            size_t value = unit_at(nz, node) & 0x7fffffffu;
            if (value < nz->outputs_len) {
                size_t n = strnlen(nz->outputs + value, nz->outputs_len - value);
                if (n > 255) { /* too long for the table: always search */
                    nz->ascii_slow[b] = 1;
                    continue;
                }
                nz->ascii_out[b] = nz->outputs + value;
                nz->ascii_out_len[b] = (uint8_t)n;
                unsigned char o0 = n == 1 ? (unsigned char)nz->outputs[value] : 0;
                nz->ascii_plain[b] = o0 != ' ' ? o0 : 0;
            }
        }
        for (int c = 0; c < 256; c++) {
            size_t p2 = node ^ (size_t)c;
            if (p2 < nz->n_units && unit_label(unit_at(nz, p2)) == (uint32_t)c)
                nz->ascii_cont[b][c >> 5] |= 1u << (c & 31);
        }
    }
}

void lilm_normalizer_set_user_defined(lilm_normalizer *nz, const lilm_trie *user_defined)
{
    nz->user_defined = user_defined;
    build_ascii(nz);
}

lilm_status lilm_normalizer_init(lilm_normalizer *nz, const lilm_sp_normalizer_spec *spec,
                                 bool treat_whitespace_as_suffix)
{
    memset(nz, 0, sizeof *nz);
    nz->add_dummy_prefix = spec->add_dummy_prefix;
    nz->remove_extra_whitespaces = spec->remove_extra_whitespaces;
    nz->escape_whitespaces = spec->escape_whitespaces;
    nz->treat_whitespace_as_suffix = treat_whitespace_as_suffix;
    const uint8_t *blob = spec->precompiled_charsmap.data;
    size_t n = spec->precompiled_charsmap.len;
    build_ascii(nz);
    if (n == 0) return LILM_OK;
    if (n <= 4)
        return lilm_errorf(LILM_ERR_FORMAT, "precompiled_charsmap is %zu bytes, too short for its header", n);
    uint32_t trie_size = (uint32_t)blob[0] | (uint32_t)blob[1] << 8 | (uint32_t)blob[2] << 16 | (uint32_t)blob[3] << 24;
    if ((size_t)trie_size >= n - 4)
        return lilm_errorf(LILM_ERR_FORMAT, "precompiled_charsmap: trie size %u does not fit in the %zu-byte blob",
                           trie_size, n);
    if (trie_size < 1024 || (trie_size & 0x3FF) != 0)
        return lilm_errorf(LILM_ERR_FORMAT, "precompiled_charsmap: trie size %u is not a positive multiple of 1024",
                           trie_size);
    nz->units = blob + 4;
    nz->n_units = trie_size / 4;
    nz->outputs = (const char *)blob + 4 + trie_size;
    nz->outputs_len = n - 4 - trie_size;
    if (!charsmap_valid(nz)) {
        nz->units = NULL;
        nz->n_units = 0;
        return lilm_errorf(LILM_ERR_FORMAT, "precompiled_charsmap: the trie is corrupt (a node points outside it)");
    }
    build_ascii(nz);
    return LILM_OK;
}

/* Longest charsmap rule at the start of s among the first 32 keys found (as
 * sentencepiece caps it): its input length (0 if none) and output offset. */
static size_t charsmap_match(const lilm_normalizer *nz, const char *s, size_t len, size_t *value)
{
    if (nz->n_units == 0) return 0;
    size_t best = 0, found = 0;
    size_t pos = unit_offset(unit_at(nz, 0));
    for (size_t i = 0; i < len && found < 32; i++) {
        unsigned char c = (unsigned char)s[i];
        pos ^= c;
        if (pos >= nz->n_units) break;
        uint32_t u = unit_at(nz, pos);
        if (unit_label(u) != c) break;
        pos ^= unit_offset(u);
        if (pos >= nz->n_units) break;
        if (unit_has_leaf(u)) {
            found++;
            best = i + 1;
            *value = unit_at(nz, pos) & 0x7fffffffu;
        }
    }
    return best;
}

/* The longest rule at the start of `in` (len > 0): returns the number of input
 * bytes consumed (>= 1) and points *out and *out_len at the replacement. */
static size_t longest_rule(const lilm_normalizer *nz, const char *in, size_t len, const char **out,
                           size_t *out_len)
{
    if (nz->user_defined) {
        size_t m = lilm_trie_longest_prefix(nz->user_defined, in, len);
        if (m > 0) {
            *out = in;
            *out_len = m;
            return m;
        }
    }
    size_t value = 0;
    size_t m = charsmap_match(nz, in, len, &value);
    if (m > 0 && value < nz->outputs_len) {
        const char *o = nz->outputs + value;
        *out = o;
        *out_len = strnlen(o, nz->outputs_len - value);
        return m;
    }
    size_t cl = lilm_utf8_valid_len(in, len);
    if (cl == 0) {
        *out = "\xEF\xBF\xBD";
        *out_len = 3;
        return 1;
    }
    *out = in;
    *out_len = cl;
    return cl;
}

/* Whether in[0] is an ASCII byte the tables resolve on its own (len > 0). */
static inline int ascii_alone(const lilm_normalizer *nz, const char *in, size_t len)
{
    unsigned char b = (unsigned char)in[0], c = len > 1 ? (unsigned char)in[1] : 0;
    return b < 0x80 && !nz->ascii_slow[b] && (len == 1 || !((nz->ascii_cont[b][c >> 5] >> (c & 31)) & 1u));
}

/* prefix() with the ASCII fast path in front. */
static inline size_t prefix_fast(const lilm_normalizer *nz, const char *in, size_t len, const char **out,
                                 size_t *out_len)
{
    if (!ascii_alone(nz, in, len)) return longest_rule(nz, in, len, out, out_len);
    unsigned char b = (unsigned char)in[0];
    *out = nz->ascii_out[b] ? nz->ascii_out[b] : in;
    *out_len = nz->ascii_out_len[b];
    return 1;
}

typedef struct outbuf {
    char *s;
    size_t n, cap;
    size_t *map; /* may be NULL */
    size_t map_cap;
    int oom;
} outbuf;

static void reserve(outbuf *o, size_t extra, int with_map)
{
    if (o->oom) return;
    size_t need = o->n + extra + 1;
    if (lilm_grow((void **)&o->s, &o->cap, need, 1) != LILM_OK ||
        (with_map && lilm_grow((void **)&o->map, &o->map_cap, need, sizeof *o->map) != LILM_OK))
        o->oom = 1;
}

static inline void put(outbuf *o, const char *s, size_t n, size_t orig, int with_map)
{
    reserve(o, n, with_map);
    if (o->oom) return;
    memcpy(o->s + o->n, s, n);
    if (with_map)
        for (size_t i = 0; i < n; i++) o->map[o->n + i] = orig;
    o->n += n;
}

lilm_status lilm_normalizer_normalize(const lilm_normalizer *nz, const char *in, size_t len, char **out,
                                      size_t *cap, size_t *n_out, size_t **norm_to_orig, size_t *map_cap)
{
    int with_map = norm_to_orig != NULL;
    outbuf o = {*out, 0, *cap, with_map ? *norm_to_orig : NULL, with_map ? *map_cap : 0, 0};
    size_t consumed = 0;
    const char *rep;
    size_t rep_len;
    if (nz->remove_extra_whitespaces) {
        while (len > 0) {
            size_t m = prefix_fast(nz, in, len, &rep, &rep_len);
            if (!(rep_len == 1 && rep[0] == ' ')) break;
            in += m;
            len -= m;
            consumed += m;
        }
    }
    if (len == 0) goto done;
    reserve(&o, len * 3 + 8, with_map);
    const char *ws = nz->escape_whitespaces ? SPACE_SYMBOL : " ";
    size_t ws_len = nz->escape_whitespaces ? 3 : 1;
    if (!nz->treat_whitespace_as_suffix && nz->add_dummy_prefix) put(&o, ws, ws_len, consumed, with_map);
    bool prev_space = nz->remove_extra_whitespaces;
    while (len > 0) {
        /* the common case: an ASCII byte that becomes one byte other than a space */
        unsigned char b = (unsigned char)in[0];
        if (b < 0x80 && nz->ascii_plain[b] && ascii_alone(nz, in, len) && o.n + 2 <= o.cap && !with_map) {
            o.s[o.n++] = (char)nz->ascii_plain[b];
            consumed++;
            in++;
            len--;
            prev_space = false;
            continue;
        }
        size_t m = prefix_fast(nz, in, len, &rep, &rep_len);
        while (prev_space && rep_len > 0 && rep[0] == ' ') {
            rep++;
            rep_len--;
        }
        if (rep_len > 0) {
            if (o.n + rep_len * 3 + 1 > o.cap || with_map) reserve(&o, rep_len * 3, with_map);
            if (o.oom) break;
            for (size_t i = 0; i < rep_len; i++) {
                if (rep[i] == ' ' && nz->escape_whitespaces) {
                    put(&o, SPACE_SYMBOL, 3, consumed, with_map);
                } else {
                    o.s[o.n] = rep[i];
                    if (with_map) o.map[o.n] = consumed;
                    o.n++;
                }
            }
            prev_space = rep[rep_len - 1] == ' ';
        }
        consumed += m;
        in += m;
        len -= m;
        if (!nz->remove_extra_whitespaces) prev_space = false;
    }
    if (nz->remove_extra_whitespaces && !o.oom) {
        while (o.n >= ws_len && memcmp(o.s + o.n - ws_len, ws, ws_len) == 0) {
            o.n -= ws_len;
            if (with_map) consumed = o.map[o.n];
        }
    }
    if (nz->treat_whitespace_as_suffix && nz->add_dummy_prefix) put(&o, ws, ws_len, consumed, with_map);
done:
    reserve(&o, 1, with_map);
    if (!o.oom) {
        o.s[o.n] = '\0';
        if (with_map) o.map[o.n] = consumed;
    }
    *out = o.s;
    *cap = o.cap;
    if (with_map) {
        *norm_to_orig = o.map;
        *map_cap = o.map_cap;
    }
    if (o.oom) return lilm_errorf(LILM_ERR_OOM, "out of memory normalising %zu bytes", len);
    *n_out = o.n;
    return LILM_OK;
}
