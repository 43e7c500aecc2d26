/*
 * charsmap_build.c: the nmt_nfkc_cf normalisation map, built from utf8proc's
 * Unicode tables, and the darts-clone double array that stores it.
 *
 * Rules live in a `rulemap`: keys and targets are code point sequences kept
 * in one pool, found through an open-addressing hash on the key. The build
 * follows SentencePiece's definition step by step (see charsmap_build.h);
 * after each step `drop_redundant` keeps every one-code-point rule and a
 * longer rule only when the shorter rules would normalise its key
 * differently.
 *
 * The double array is laid out breadth-first from a byte trie of the sorted
 * keys. Identical subtrees (same labels, same leaf values below) are found
 * bottom-up and share one base, as darts-clone's DAWG does; every other node
 * gets a base b no other subtree uses such that b ^ label is free for every
 * child label (label 0 = the leaf holding the value). Unused units get the
 * label (pos ^ u) & 0xFF, where u is a base byte no node in that 256-unit
 * block uses, so no lookup can ever match them.
 */
#include "tok/charsmap_build.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#define MAX_UNICODE 0x10FFFF
#define SEQ_MAX 64 /* longest code point sequence a rule may have */

/* ---------------------------------------------------------------- rulemap */

typedef struct rule {
    size_t key_off, val_off;   /* offsets into pool */
    uint32_t key_len, val_len; /* in code points */
    int alive;
} rule;

typedef struct rulemap {
    uint32_t *pool; /* (pool_n) code points of every key and target */
    size_t pool_n, pool_cap;
    rule *rules; /* (n) in insertion order */
    size_t n, cap;
    int64_t *slots; /* (n_slots) rule index or -1 */
    size_t n_slots;
} rulemap;

static void rm_free(rulemap *m)
{
    free(m->pool);
    free(m->rules);
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

static uint64_t seq_hash(const uint32_t *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL ^ n;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ULL;
        h ^= h >> 29;
    }
    h ^= h >> 33; /* final avalanche: the table indexes by the low bits */
    h *= 0xFF51AFD7ED558CCDULL;
    h ^= h >> 33;
    return h;
}

static lilm_status rm_pool_add(rulemap *m, const uint32_t *s, size_t n, size_t *off)
{
    if (m->pool_n + n > m->pool_cap) {
        size_t cap = m->pool_cap ? m->pool_cap * 2 : 1 << 16;
        while (cap < m->pool_n + n) cap *= 2;
        uint32_t *p = realloc(m->pool, cap * sizeof(*p));
        if (!p) return lilm_errorf(LILM_ERR_OOM, "charsmap: out of memory");
        m->pool = p;
        m->pool_cap = cap;
    }
    if (n) memcpy(m->pool + m->pool_n, s, n * sizeof(*s));
    *off = m->pool_n;
    m->pool_n += n;
    return LILM_OK;
}

static int64_t *rm_slot(const rulemap *m, const uint32_t *key, size_t n)
{
    size_t mask = m->n_slots - 1;
    size_t i = (size_t)seq_hash(key, n) & mask;
    for (;;) {
        int64_t r = m->slots[i];
        if (r < 0) return &m->slots[i];
        const rule *ru = &m->rules[r];
        if (ru->key_len == n && memcmp(m->pool + ru->key_off, key, n * sizeof(*key)) == 0)
            return &m->slots[i];
        i = (i + 1) & mask;
    }
}

static const rule *rm_find(const rulemap *m, const uint32_t *key, size_t n)
{
    if (!m->n_slots) return NULL;
    int64_t r = *rm_slot(m, key, n);
    return (r >= 0 && m->rules[r].alive) ? &m->rules[r] : NULL;
}

static lilm_status rm_grow(rulemap *m)
{
    size_t ns = m->n_slots ? m->n_slots * 2 : 1 << 12;
    int64_t *s = malloc(ns * sizeof(*s));
    if (!s) return lilm_errorf(LILM_ERR_OOM, "charsmap: out of memory");
    for (size_t i = 0; i < ns; i++) s[i] = -1;
    free(m->slots);
    m->slots = s;
    m->n_slots = ns;
    for (size_t r = 0; r < m->n; r++) {
        int64_t *slot = rm_slot(m, m->pool + m->rules[r].key_off, m->rules[r].key_len);
        *slot = (int64_t)r;
    }
    return LILM_OK;
}

/* Inserts or overwrites key -> val. */
static lilm_status rm_set(rulemap *m, const uint32_t *key, size_t kn, const uint32_t *val, size_t vn)
{
    if ((m->n + 1) * 2 > m->n_slots) LILM_TRY(rm_grow(m));
    int64_t *slot = rm_slot(m, key, kn);
    size_t voff;
    if (*slot >= 0) {
        rule *ru = &m->rules[*slot];
        LILM_TRY(rm_pool_add(m, val, vn, &voff));
        ru->val_off = voff;
        ru->val_len = (uint32_t)vn;
        ru->alive = 1;
        return LILM_OK;
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 4096;
        rule *r = realloc(m->rules, cap * sizeof(*r));
        if (!r) return lilm_errorf(LILM_ERR_OOM, "charsmap: out of memory");
        m->rules = r;
        m->cap = cap;
    }
    size_t koff;
    LILM_TRY(rm_pool_add(m, key, kn, &koff));
    LILM_TRY(rm_pool_add(m, val, vn, &voff));
    m->rules[m->n] = (rule){koff, voff, (uint32_t)kn, (uint32_t)vn, 1};
    *slot = (int64_t)m->n;
    m->n++;
    return LILM_OK;
}

static void rm_erase(rulemap *m, const uint32_t *key, size_t n)
{
    if (!m->n_slots) return;
    int64_t r = *rm_slot(m, key, n);
    if (r >= 0) m->rules[r].alive = 0;
}

/* Normalises src[0..n) with the rules of m whose keys are at most max_len
 * long, longest match first; writes at most cap code points to out. Returns
 * the output length, or cap + 1 if it does not fit. */
static size_t rm_normalize(const rulemap *m, const uint32_t *src, size_t n, size_t max_len,
                           uint32_t *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        const rule *hit = NULL;
        size_t k = n - i < max_len ? n - i : max_len;
        for (; k > 0; k--) {
            hit = rm_find(m, src + i, k);
            if (hit) break;
        }
        if (!hit) {
            if (o >= cap) return cap + 1;
            out[o++] = src[i++];
            continue;
        }
        if (o + hit->val_len > cap) return cap + 1;
        memcpy(out + o, m->pool + hit->val_off, hit->val_len * sizeof(*out));
        o += hit->val_len;
        i += k;
    }
    return o;
}

/* Replaces *m by the map without the rules that shorter rules imply. */
static lilm_status drop_redundant(rulemap *m)
{
    rulemap out = {0};
    size_t max_len = 0;
    lilm_status st = LILM_OK;
    for (size_t r = 0; r < m->n && st == LILM_OK; r++) {
        const rule *ru = &m->rules[r];
        if (!ru->alive) continue;
        if (ru->key_len > max_len) max_len = ru->key_len;
        if (ru->key_len == 1)
            st = rm_set(&out, m->pool + ru->key_off, 1, m->pool + ru->val_off, ru->val_len);
    }
    uint32_t buf[SEQ_MAX * 4];
    for (size_t len = 2; len <= max_len && st == LILM_OK; len++) {
        for (size_t r = 0; r < m->n && st == LILM_OK; r++) {
            const rule *ru = &m->rules[r];
            if (!ru->alive || ru->key_len != len) continue;
            size_t cap = sizeof(buf) / sizeof(buf[0]);
            size_t got = rm_normalize(&out, m->pool + ru->key_off, len, len - 1, buf, cap);
            if (got != ru->val_len || memcmp(buf, m->pool + ru->val_off, got * sizeof(*buf)) != 0)
                st = rm_set(&out, m->pool + ru->key_off, len, m->pool + ru->val_off, ru->val_len);
        }
    }
    if (st != LILM_OK) {
        rm_free(&out);
        return st;
    }
    rm_free(m);
    *m = out;
    return LILM_OK;
}

/* ------------------------------------------------------- Unicode helpers */

static int is_unicode_char(uint32_t c)
{
    if (c >= 0xD800 && c <= 0xDFFF) return 0;
    if (c > MAX_UNICODE) return 0;
    if (c >= 0xFDD0 && c <= 0xFDEF) return 0;
    if ((c & 0xFFFE) == 0xFFFE) return 0;
    return 1;
}

/* Normalises a code point sequence with utf8proc `opts`; returns the length
 * written to out (at most cap), or -1. */
static long norm_seq(const uint32_t *in, size_t n, int opts, uint32_t *out, size_t cap)
{
    uint8_t utf8[SEQ_MAX * 4 + 1];
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        if (len + 4 > sizeof(utf8) - 1) return -1;
        len += (size_t)utf8proc_encode_char((utf8proc_int32_t)in[i], utf8 + len);
    }
    utf8proc_ssize_t got = utf8proc_decompose(utf8, (utf8proc_ssize_t)len, (utf8proc_int32_t *)out,
                                              (utf8proc_ssize_t)cap, (utf8proc_option_t)opts);
    if (got < 0 || (size_t)got > cap) return -1;
    if (opts & UTF8PROC_COMPOSE) {
        got = utf8proc_normalize_utf32((utf8proc_int32_t *)out, got, (utf8proc_option_t)opts);
        if (got < 0) return -1;
    }
    return (long)got;
}

#define OPT_NFKC (UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT)
#define OPT_NFKD (UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT)

/* Simple (one-to-one) Unicode case folding, as ICU's u_foldCase with the
 * default options: the full folding when it is one code point, else the
 * short list of "S" entries of CaseFolding.txt, else the code point. */
static uint32_t simple_fold(uint32_t c)
{
    utf8proc_int32_t buf[8];
    utf8proc_ssize_t n = utf8proc_decompose_char((utf8proc_int32_t)c, buf, 8, UTF8PROC_CASEFOLD, NULL);
    if (n == 1) return (uint32_t)buf[0];
    int has_s = c == 0x1E9E || (c >= 0x1F88 && c <= 0x1FAF && (c & 0xF) >= 8) || c == 0x1FBC ||
                c == 0x1FCC || c == 0x1FFC;
    return has_s ? (uint32_t)utf8proc_tolower((utf8proc_int32_t)c) : c;
}

typedef struct pair32 {
    uint32_t norm, orig;
} pair32;

static int cmp_pair32(const void *a, const void *b)
{
    const pair32 *x = a, *y = b;
    if (x->norm != y->norm) return x->norm < y->norm ? -1 : 1;
    return x->orig < y->orig ? -1 : x->orig > y->orig;
}

/* Step 1: NFKC of single code points, and every spelling of each
 * multi-code-point NFKD form that NFC composes. */
static lilm_status build_nfkc(rulemap *m)
{
    lilm_status st = LILM_OK;
    rulemap decomposed = {0}; /* set of NFKD forms longer than one code point */
    size_t n_pairs = 0, cap_pairs = 1 << 20;
    pair32 *pairs = malloc(cap_pairs * sizeof(*pairs)); /* norm2orig, sorted by norm */
    if (!pairs) return lilm_errorf(LILM_ERR_OOM, "charsmap: out of memory");
    uint32_t a[SEQ_MAX], b[SEQ_MAX];
    for (uint32_t cp = 1; cp <= MAX_UNICODE && st == LILM_OK; cp++) {
        if (!is_unicode_char(cp)) continue;
        long n = norm_seq(&cp, 1, OPT_NFKC, a, SEQ_MAX);
        if (n < 0) { st = lilm_errorf(LILM_ERR_INTERNAL, "utf8proc NFKC failed on U+%04X", cp); break; }
        if (n >= 2 || (n == 1 && a[0] != cp)) st = rm_set(m, &cp, 1, a, (size_t)n);
        long d = norm_seq(&cp, 1, OPT_NFKD, b, SEQ_MAX);
        if (d < 1) { st = lilm_errorf(LILM_ERR_INTERNAL, "utf8proc NFKD failed on U+%04X", cp); break; }
        if (d == 1) {
            if (n_pairs == cap_pairs) {
                cap_pairs *= 2;
                pair32 *p = realloc(pairs, cap_pairs * sizeof(*p));
                if (!p) { st = lilm_errorf(LILM_ERR_OOM, "charsmap: out of memory"); break; }
                pairs = p;
            }
            pairs[n_pairs++] = (pair32){b[0], cp};
        } else if (st == LILM_OK) {
            st = rm_set(&decomposed, b, (size_t)d, NULL, 0);
        }
    }
    if (st == LILM_OK) qsort(pairs, n_pairs, sizeof(*pairs), cmp_pair32);

    /* For each decomposed form: the code points whose NFKD is each of its
     * code points, expanded as a cartesian product (odometer over idx). */
    for (size_t r = 0; r < decomposed.n && st == LILM_OK; r++) {
        const uint32_t *nfkd = decomposed.pool + decomposed.rules[r].key_off;
        size_t len = decomposed.rules[r].key_len;
        long c = norm_seq(nfkd, len, OPT_NFKC, a, SEQ_MAX);
        if (c < 0) { st = lilm_errorf(LILM_ERR_INTERNAL, "utf8proc NFKC failed"); break; }
        if ((size_t)c == len && memcmp(a, nfkd, len * sizeof(*a)) == 0) continue;
        size_t lo[SEQ_MAX], hi[SEQ_MAX], idx[SEQ_MAX];
        int ok = 1;
        for (size_t i = 0; i < len; i++) {
            /* binary search the range of pairs with norm == nfkd[i] */
            size_t l = 0, h = n_pairs;
            while (l < h) {
                size_t mid = (l + h) / 2;
                if (pairs[mid].norm < nfkd[i]) l = mid + 1; else h = mid;
            }
            lo[i] = l;
            while (h < n_pairs && pairs[h].norm == nfkd[i]) h++;
            hi[i] = h;
            if (lo[i] == hi[i]) ok = 0;
            idx[i] = lo[i];
        }
        if (!ok) continue;
        for (;;) {
            for (size_t i = 0; i < len; i++) b[i] = pairs[idx[i]].orig;
            if (!((size_t)c == len && memcmp(a, b, len * sizeof(*a)) == 0)) {
                st = rm_set(m, b, len, a, (size_t)c);
                if (st != LILM_OK) break;
            }
            size_t i = len;
            while (i > 0) {
                i--;
                if (++idx[i] < hi[i]) break;
                idx[i] = lo[i];
                if (i == 0) { i = len + 1; break; }
            }
            if (i == len + 1) break;
        }
    }
    free(pairs);
    rm_free(&decomposed);
    if (st == LILM_OK) st = drop_redundant(m);
    return st;
}

/* Step 2: the NMT whitespace and control-character rules. */
static lilm_status merge_nmt(rulemap *m)
{
    /* U+061C ARABIC LETTER MARK joined the list in sentencepiece 0.2 (0.1.97
     * keeps it); we follow the current library */
    static const uint32_t to_space[] = {0x0009, 0x000A, 0x000C, 0x000D, 0x061C, 0x1680, 0x200B, 0x200E,
                                        0x200F, 0x2028, 0x2029, 0x2581, 0xFEFF, 0xFFFD, 0x200C};
    const uint32_t space = 0x20;
    for (size_t i = 0; i < sizeof(to_space) / sizeof(to_space[0]); i++)
        LILM_TRY(rm_set(m, &to_space[i], 1, &space, 1));
    for (uint32_t c = 0x01; c <= 0x1F; c++) {
        if (c == 0x09 || c == 0x0A || c == 0x0C || c == 0x0D) continue;
        LILM_TRY(rm_set(m, &c, 1, NULL, 0));
    }
    static const uint32_t removed[] = {0x007F, 0x008F, 0x009F};
    for (size_t i = 0; i < 3; i++) LILM_TRY(rm_set(m, &removed[i], 1, NULL, 0));
    const uint32_t tilde = 0xFF5E;
    rm_erase(m, &tilde, 1);
    return drop_redundant(m);
}

/* Step 3: case folding of every target, and of every code point that has
 * no one-code-point rule yet. */
static lilm_status merge_casefold(rulemap *m)
{
    for (size_t r = 0; r < m->n; r++) {
        rule *ru = &m->rules[r];
        for (uint32_t i = 0; i < ru->val_len; i++)
            m->pool[ru->val_off + i] = simple_fold(m->pool[ru->val_off + i]);
    }
    for (uint32_t cp = 1; cp <= MAX_UNICODE; cp++) {
        if (!is_unicode_char(cp)) continue;
        uint32_t t = simple_fold(cp);
        /* an erased rule (FULLWIDTH TILDE) is not "found": same as a std::map erase */
        if (t == cp || rm_find(m, &cp, 1)) continue;
        LILM_TRY(rm_set(m, &cp, 1, &t, 1));
    }
    return drop_redundant(m);
}

/* ------------------------------------------------------------ compile */

typedef struct kv {
    const char *key;
    uint32_t value;
} kv;

static int cmp_kv(const void *a, const void *b)
{
    const kv *x = a, *y = b;
    return strcmp(x->key, y->key); /* strcmp compares as unsigned char */
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The growing double array. */
typedef struct darray {
    uint32_t *units;     /* (n) */
    uint8_t *used;       /* (n) slot taken */
    uint8_t *base_used;  /* (n) some node has this base */
    size_t n;
    size_t first_free;   /* no free slot is searched below this */
} darray;

static lilm_status da_reserve(darray *d, size_t n)
{
    if (n <= d->n) return LILM_OK;
    size_t cap = d->n ? d->n : 1024;
    while (cap < n) cap *= 2;
    uint32_t *u = realloc(d->units, cap * sizeof(*u));
    if (u) d->units = u;
    uint8_t *a = realloc(d->used, cap);
    if (a) d->used = a;
    uint8_t *b = realloc(d->base_used, cap);
    if (b) d->base_used = b;
    if (!u || !a || !b) return lilm_errorf(LILM_ERR_OOM, "charsmap: out of memory");
    memset(d->units + d->n, 0, (cap - d->n) * sizeof(*u));
    memset(d->used + d->n, 0, cap - d->n);
    memset(d->base_used + d->n, 0, cap - d->n);
    d->n = cap;
    return LILM_OK;
}

/* The key trie before layout. Children of a node are a sibling list in
 * increasing label order. Identical subtrees (same leaf value, same labels,
 * identical children) get the same `id` and share one base in the array,
 * which keeps maps with many parallel rules (Hangul) small. */
typedef struct tnode {
    int32_t child, sibling; /* -1 = none */
    int32_t id;             /* subtree class */
    uint32_t value;
    uint8_t label, has_leaf;
} tnode;

typedef struct trie {
    tnode *nodes; /* (n) node 0 is the root */
    size_t n, cap;
} trie;

static lilm_status trie_add(trie *t, uint8_t label, int32_t *out)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 4096;
        tnode *nn = realloc(t->nodes, cap * sizeof(*nn));
        if (!nn) return lilm_errorf(LILM_ERR_OOM, "charsmap: out of memory");
        t->nodes = nn;
        t->cap = cap;
    }
    t->nodes[t->n] = (tnode){-1, -1, -1, 0, label, 0};
    *out = (int32_t)t->n++;
    return LILM_OK;
}

/* Builds the trie of sorted, distinct keys. */
static lilm_status trie_build(trie *t, const kv *keys, size_t n_keys)
{
    int32_t root;
    LILM_TRY(trie_add(t, 0, &root));
    int32_t path[1024]; /* node at each depth of the previous key */
    path[0] = root;
    const char *prev = "";
    for (size_t i = 0; i < n_keys; i++) {
        const char *k = keys[i].key;
        size_t len = strlen(k);
        if (len >= 1023) return lilm_errorf(LILM_ERR_ARG, "charsmap: key too long");
        size_t common = 0;
        while (prev[common] && prev[common] == k[common]) common++;
        for (size_t j = common; j < len; j++) {
            int32_t nd;
            LILM_TRY(trie_add(t, (uint8_t)k[j], &nd));
            tnode *parent = &t->nodes[path[j]];
            if (parent->child < 0) {
                parent->child = nd;
            } else { /* append after the last child (labels come in order) */
                int32_t c = parent->child;
                while (t->nodes[c].sibling >= 0) c = t->nodes[c].sibling;
                t->nodes[c].sibling = nd;
            }
            path[j + 1] = nd;
        }
        t->nodes[path[len]].has_leaf = 1;
        t->nodes[path[len]].value = keys[i].value;
        prev = k;
    }
    return LILM_OK;
}

/* Assigns subtree classes bottom-up. Nodes are created parent-first, so a
 * reverse scan sees every child before its parent. */
static lilm_status trie_classify(trie *t)
{
    size_t n_slots = 1;
    while (n_slots < 2 * t->n) n_slots *= 2;
    int32_t *slots = malloc(n_slots * sizeof(*slots));
    if (!slots) return lilm_errorf(LILM_ERR_OOM, "charsmap: out of memory");
    for (size_t i = 0; i < n_slots; i++) slots[i] = -1;
    int32_t next_id = 0;
    for (size_t i = t->n; i-- > 0;) {
        tnode *nd = &t->nodes[i];
        uint64_t h = 1469598103934665603ULL ^ ((uint64_t)nd->has_leaf << 40) ^ nd->value;
        for (int32_t c = nd->child; c >= 0; c = t->nodes[c].sibling) {
            h = (h ^ t->nodes[c].label) * 1099511628211ULL;
            h = (h ^ (uint64_t)t->nodes[c].id) * 1099511628211ULL;
            h ^= h >> 31;
        }
        size_t s = (size_t)h & (n_slots - 1);
        for (;; s = (s + 1) & (n_slots - 1)) {
            int32_t o = slots[s];
            if (o < 0) {
                slots[s] = (int32_t)i;
                nd->id = next_id++;
                break;
            }
            const tnode *on = &t->nodes[o];
            if (on->has_leaf != nd->has_leaf || on->value != nd->value) continue;
            int32_t a = nd->child, b = on->child;
            while (a >= 0 && b >= 0 && t->nodes[a].label == t->nodes[b].label &&
                   t->nodes[a].id == t->nodes[b].id) {
                a = t->nodes[a].sibling;
                b = t->nodes[b].sibling;
            }
            if (a < 0 && b < 0) {
                nd->id = on->id;
                break;
            }
        }
    }
    free(slots);
    return LILM_OK;
}

/* Lays out node `ni` sitting at array position `pos`: picks (or reuses) the
 * base of its subtree class and places its children; new children are
 * pushed on `queue` as (node, position) pairs. */
static lilm_status da_place(darray *d, const trie *t, int32_t ni, size_t pos, size_t *class_base,
                            size_t **queue, size_t *qn, size_t *qcap)
{
    const tnode *nd = &t->nodes[ni];
    size_t b = class_base[nd->id];
    int fresh = b == 0;
    if (fresh) {
        uint8_t labels[256];
        size_t nl = 0;
        for (int32_t c = nd->child; c >= 0; c = t->nodes[c].sibling) labels[nl++] = t->nodes[c].label;
        uint8_t first = nd->has_leaf ? 0 : labels[0];
        /* holes far behind the end are given up on, which keeps this linear */
        if (d->n > 64 * 256 && d->first_free + 64 * 256 < d->n) d->first_free = d->n - 64 * 256;
        for (size_t q = d->first_free;; q++) {
            if ((q | 255) + 1 > d->n) LILM_TRY(da_reserve(d, (q | 255) + 1));
            if (d->used[q]) continue;
            b = q ^ first;
            if (b == 0 || d->base_used[b]) continue;
            int ok = !(nd->has_leaf && d->used[b]);
            for (size_t k = 0; k < nl && ok; k++)
                if (d->used[b ^ labels[k]]) ok = 0;
            if (ok) break;
        }
        class_base[nd->id] = b;
        d->base_used[b] = 1;
    }
    size_t off = pos ^ b;
    if (off >= (1u << 21)) {
        if ((off & 255) != 0 || off >= (1u << 29))
            return lilm_errorf(LILM_ERR_INTERNAL, "charsmap: double array too large");
        d->units[pos] |= (uint32_t)((off >> 8) << 10) | (1u << 9);
    } else {
        d->units[pos] |= (uint32_t)(off << 10);
    }
    if (nd->has_leaf) d->units[pos] |= 1u << 8;
    if (!fresh) return LILM_OK;
    if (nd->has_leaf) {
        d->used[b] = 1;
        d->units[b] = (1u << 31) | nd->value;
    }
    for (int32_t c = nd->child; c >= 0; c = t->nodes[c].sibling) {
        size_t p = b ^ t->nodes[c].label;
        d->used[p] = 1;
        d->units[p] = t->nodes[c].label;
        if (*qn + 2 > *qcap) {
            size_t cap = *qcap ? *qcap * 2 : 1024;
            size_t *nq = realloc(*queue, cap * sizeof(*nq));
            if (!nq) return lilm_errorf(LILM_ERR_OOM, "charsmap: out of memory");
            *queue = nq;
            *qcap = cap;
        }
        (*queue)[(*qn)++] = (size_t)c;
        (*queue)[(*qn)++] = p;
    }
    while (d->first_free < d->n && d->used[d->first_free]) d->first_free++;
    return LILM_OK;
}

lilm_status lilm_charsmap_compile(const char *const *keys, const char *const *values,
                                  size_t n_rules, uint8_t **blob, size_t *n)
{
    *blob = NULL;
    *n = 0;
    if (n_rules == 0) return lilm_errorf(LILM_ERR_ARG, "charsmap: no rules");
    lilm_status st = LILM_OK;
    kv *kvs = calloc(n_rules, sizeof(*kvs));
    const char **targets = calloc(n_rules, sizeof(*targets));
    size_t *target_off = calloc(n_rules, sizeof(*target_off));
    size_t *queue = NULL; /* (node, position) pairs */
    size_t *class_base = NULL; /* per subtree class; 0 = not placed yet */
    trie tr = {0};
    size_t qn = 0, qcap = 0;
    darray d = {0};
    char *strs = NULL;
    if (!kvs || !targets || !target_off) { st = lilm_errorf(LILM_ERR_OOM, "charsmap: out of memory"); goto done; }

    /* targets: deduplicated, sorted, NUL-terminated one after another */
    for (size_t i = 0; i < n_rules; i++) {
        if (!keys[i][0]) { st = lilm_errorf(LILM_ERR_ARG, "charsmap: empty key in rule %zu", i); goto done; }
        targets[i] = values[i];
    }
    qsort(targets, n_rules, sizeof(*targets), cmp_str);
    size_t n_t = 0, strs_len = 0;
    for (size_t i = 0; i < n_rules; i++) {
        if (n_t && strcmp(targets[n_t - 1], targets[i]) == 0) continue;
        targets[n_t++] = targets[i];
        strs_len += strlen(targets[i]) + 1;
    }
    strs = malloc(strs_len ? strs_len : 1);
    if (!strs) { st = lilm_errorf(LILM_ERR_OOM, "charsmap: out of memory"); goto done; }
    for (size_t i = 0, o = 0; i < n_t; i++) {
        size_t l = strlen(targets[i]) + 1;
        memcpy(strs + o, targets[i], l);
        target_off[i] = o;
        o += l;
    }
    for (size_t i = 0; i < n_rules; i++) {
        const char *const *hit = bsearch(&values[i], targets, n_t, sizeof(*targets), cmp_str);
        kvs[i] = (kv){keys[i], (uint32_t)target_off[hit - targets]};
    }
    qsort(kvs, n_rules, sizeof(*kvs), cmp_kv);
    for (size_t i = 1; i < n_rules; i++)
        if (strcmp(kvs[i - 1].key, kvs[i].key) == 0) {
            st = lilm_errorf(LILM_ERR_ARG, "charsmap: duplicate key");
            goto done;
        }

    /* lay out the trie breadth-first; the root sits at 0 */
    st = trie_build(&tr, kvs, n_rules);
    if (st == LILM_OK) st = trie_classify(&tr);
    if (st == LILM_OK) st = da_reserve(&d, 1024);
    if (st != LILM_OK) goto done;
    class_base = calloc(tr.n, sizeof(*class_base));
    if (!class_base) { st = lilm_errorf(LILM_ERR_OOM, "charsmap: out of memory"); goto done; }
    d.used[0] = 1;
    d.first_free = 1;
    st = da_place(&d, &tr, 0, 0, class_base, &queue, &qn, &qcap);
    for (size_t qi = 0; qi < qn && st == LILM_OK; qi += 2)
        st = da_place(&d, &tr, (int32_t)queue[qi], queue[qi + 1], class_base, &queue, &qn, &qcap);
    if (st != LILM_OK) goto done;

    /* trim, then give free units labels nothing can match */
    size_t units = d.n;
    while (units > 1 && !d.used[units - 1]) units--;
    units = (units + 255) & ~(size_t)255;
    for (size_t blk = 0; blk < units; blk += 256) {
        uint8_t taken[256] = {0};
        for (size_t i = 0; i < 256; i++)
            if (d.base_used[blk + i]) taken[i] = 1;
        int u = 0;
        while (u < 256 && taken[u]) u++;
        for (size_t i = 0; i < 256; i++)
            if (!d.used[blk + i]) d.units[blk + i] = (uint32_t)((i ^ (size_t)u) & 255);
    }

    size_t trie_bytes = units * 4;
    *n = 4 + trie_bytes + strs_len;
    *blob = malloc(*n);
    if (!*blob) { st = lilm_errorf(LILM_ERR_OOM, "charsmap: out of memory"); goto done; }
    uint8_t *p = *blob;
    for (int k = 0; k < 4; k++) p[k] = (uint8_t)(trie_bytes >> (8 * k));
    for (size_t i = 0; i < units; i++)
        for (int k = 0; k < 4; k++) p[4 + 4 * i + k] = (uint8_t)(d.units[i] >> (8 * k));
    memcpy(p + 4 + trie_bytes, strs, strs_len);

done:
    free(kvs);
    free(targets);
    free(target_off);
    free(queue);
    free(class_base);
    free(tr.nodes);
    free(strs);
    free(d.units);
    free(d.used);
    free(d.base_used);
    return st;
}

/* ----------------------------------------------------------- nmt_nfkc_cf */

static lilm_status seq_to_utf8(const uint32_t *s, size_t n, char **out)
{
    char *p = malloc(4 * n + 1);
    if (!p) return lilm_errorf(LILM_ERR_OOM, "charsmap: out of memory");
    size_t len = 0;
    for (size_t i = 0; i < n; i++) len += (size_t)utf8proc_encode_char((utf8proc_int32_t)s[i], (uint8_t *)p + len);
    p[len] = 0;
    *out = p;
    return LILM_OK;
}

lilm_status lilm_charsmap_build_nmt_nfkc_cf(uint8_t **blob, size_t *n)
{
    *blob = NULL;
    *n = 0;
    rulemap m = {0};
    lilm_status st = build_nfkc(&m);
    if (st == LILM_OK) st = merge_nmt(&m);
    if (st == LILM_OK) st = merge_casefold(&m);
    if (st != LILM_OK) {
        rm_free(&m);
        return st;
    }
    size_t n_alive = 0;
    for (size_t r = 0; r < m.n; r++) n_alive += m.rules[r].alive != 0;
    char **keys = calloc(n_alive ? n_alive : 1, sizeof(*keys));
    char **vals = calloc(n_alive ? n_alive : 1, sizeof(*vals));
    size_t k = 0;
    if (!keys || !vals) st = lilm_errorf(LILM_ERR_OOM, "charsmap: out of memory");
    for (size_t r = 0; r < m.n && st == LILM_OK; r++) {
        const rule *ru = &m.rules[r];
        if (!ru->alive) continue;
        st = seq_to_utf8(m.pool + ru->key_off, ru->key_len, &keys[k]);
        if (st == LILM_OK) st = seq_to_utf8(m.pool + ru->val_off, ru->val_len, &vals[k]);
        k++;
    }
    if (st == LILM_OK)
        st = lilm_charsmap_compile((const char *const *)keys, (const char *const *)vals, k, blob, n);
    for (size_t i = 0; i < k; i++) {
        free(keys ? keys[i] : NULL);
        free(vals ? vals[i] : NULL);
    }
    free(keys);
    free(vals);
    rm_free(&m);
    return st;
}
