/*
 * trie.c: building and querying the double-array trie (see trie.h).
 *
 * Build: sort the keys, then place nodes breadth first. Each work item is a
 * node plus the range of sorted keys below it; the distinct next bytes of the
 * range are its children, placed at the lowest base where all their slots are
 * free. Candidate bases are tried only where the first child's slot is free,
 * found through a "next free slot" forest with path compression, so building
 * stays near linear in the number of nodes.
 */
#include "tok/trie.h"

#include <stdlib.h>
#include <string.h>

typedef struct key_ref {
    const char *s;
    size_t len;
    int32_t value;
    size_t order;
} key_ref;

static int cmp_key(const void *a, const void *b)
{
    const key_ref *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    if (c) return c;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

typedef struct work {
    int32_t node;
    size_t lo, hi, depth;
} work;

/* next_free[i]: a slot index >= i that may be free (i itself when free). */
static lilm_status ensure(lilm_trie *t, size_t need, size_t *cap, size_t **next_free)
{
    if (need <= *cap) return LILM_OK;
    size_t nc = *cap ? *cap : 1024;
    while (nc < need) nc *= 2;
    if (nc > (size_t)INT32_MAX) return lilm_errorf(LILM_ERR_OOM, "trie too large");
    lilm_trie_unit *u = realloc(t->units, nc * sizeof *u);
    if (!u) return lilm_errorf(LILM_ERR_OOM, "out of memory building a trie of %zu units", nc);
    t->units = u;
    size_t *nf = realloc(*next_free, (nc + 1) * sizeof *nf);
    if (!nf) return lilm_errorf(LILM_ERR_OOM, "out of memory building a trie of %zu units", nc);
    *next_free = nf;
    for (size_t i = *cap; i < nc; i++) {
        u[i] = (lilm_trie_unit){0, -1, -1};
        nf[i] = i;
    }
    nf[nc] = nc;
    *cap = nc;
    return LILM_OK;
}

/* The first free slot >= i (i <= cap; cap itself counts as free). */
static size_t find_free(size_t *nf, size_t i)
{
    size_t r = i;
    while (nf[r] != r) r = nf[r];
    while (nf[i] != r) {
        size_t nx = nf[i];
        nf[i] = r;
        i = nx;
    }
    return r;
}

static lilm_status build(lilm_trie *t, key_ref *k, size_t n)
{
    size_t cap = 0, *nf = NULL;
    lilm_status s0 = ensure(t, 256 + 1, &cap, &nf);
    if (s0 != LILM_OK) {
        free(nf);
        return s0;
    }
    t->units[0].check = 0; /* root: taken */
    nf[0] = 1;
    t->n_units = 1;
    size_t qcap = n + 16;
    work *q = malloc(qcap * sizeof *q);
    if (!q) {
        free(nf);
        return lilm_errorf(LILM_ERR_OOM, "out of memory building a trie");
    }
    size_t qh = 0, qt = 0;
    q[qt++] = (work){0, 0, n, 0};
    lilm_status s = LILM_OK;
    unsigned char labels[256];
    size_t starts[257];
    while (qh < qt && s == LILM_OK) {
        work w = q[qh++];
        size_t i = w.lo;
        /* keys ending exactly here: the first (lowest order) gives the value */
        if (i < w.hi && k[i].len == w.depth) {
            t->units[w.node].value = k[i].value;
            while (i < w.hi && k[i].len == w.depth) i++;
        }
        int nl = 0;
        while (i < w.hi) {
            unsigned char c = (unsigned char)k[i].s[w.depth];
            labels[nl] = c;
            starts[nl++] = i;
            while (i < w.hi && (unsigned char)k[i].s[w.depth] == c) i++;
        }
        starts[nl] = w.hi;
        if (nl == 0) continue;
        /* lowest base >= 1 with every child slot free: try the free slots for
         * the first label in increasing order */
        int64_t base;
        size_t p = find_free(nf, (size_t)labels[0] + 1);
        for (;;) {
            base = (int64_t)p - labels[0];
            s = ensure(t, (size_t)base + 256 + 1, &cap, &nf);
            if (s != LILM_OK) break;
            int ok = 1;
            for (int j = 1; j < nl && ok; j++)
                if (t->units[base + labels[j]].check >= 0) ok = 0;
            if (ok) break;
            p = find_free(nf, p + 1);
        }
        if (s != LILM_OK) break;
        t->units[w.node].base = (int32_t)base;
        for (int j = 0; j < nl; j++) {
            size_t child = (size_t)base + labels[j];
            t->units[child].check = w.node;
            nf[child] = child + 1;
            if (child + 1 > t->n_units) t->n_units = child + 1;
            if (qt == qcap) { /* one item per trie node: can exceed the key count */
                work *nq = realloc(q, 2 * qcap * sizeof *q);
                if (!nq) {
                    s = lilm_errorf(LILM_ERR_OOM, "out of memory building a trie");
                    break;
                }
                q = nq;
                qcap *= 2;
            }
            q[qt++] = (work){(int32_t)child, starts[j], starts[j + 1], w.depth + 1};
        }
    }
    free(q);
    free(nf);
    return s;
}

lilm_status lilm_trie_build(lilm_trie *t, const char *const *keys, const size_t *lens, const int32_t *values,
                            size_t n)
{
    memset(t, 0, sizeof *t);
    key_ref *k = malloc((n ? n : 1) * sizeof *k);
    if (!k) return lilm_errorf(LILM_ERR_OOM, "out of memory building a trie of %zu keys", n);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (lens[i] > 0) k[m++] = (key_ref){keys[i], lens[i], values[i], i};
    qsort(k, m, sizeof *k, cmp_key);
    lilm_status s = build(t, k, m);
    free(k);
    if (s != LILM_OK) lilm_trie_free(t);
    return s;
}

void lilm_trie_free(lilm_trie *t)
{
    free(t->units);
    t->units = NULL;
    t->n_units = 0;
}

int32_t lilm_trie_find(const lilm_trie *t, const char *s, size_t len)
{
    if (!t->units) return -1;
    int32_t node = 0;
    for (size_t i = 0; i < len; i++) {
        node = lilm_trie_next(t, node, (unsigned char)s[i]);
        if (node < 0) return -1;
    }
    return t->units[node].value;
}

size_t lilm_trie_longest_prefix(const lilm_trie *t, const char *s, size_t len)
{
    if (!t->units) return 0;
    int32_t node = 0;
    size_t best = 0;
    for (size_t i = 0; i < len; i++) {
        node = lilm_trie_next(t, node, (unsigned char)s[i]);
        if (node < 0) break;
        if (t->units[node].value >= 0) best = i + 1;
    }
    return best;
}
