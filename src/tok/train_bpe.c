/*
 * train_bpe.c: byte-pair-encoding training as SentencePiece defines it.
 *
 * Every distinct word starts as its characters. Repeatedly the most frequent
 * adjacent symbol pair (counted over word frequencies) whose concatenation is
 * a valid piece (lilm__train_valid_piece) is merged everywhere; the new symbol
 * becomes piece number k with score -k. Then the required characters follow,
 * most frequent first, continuing the scores. Pair counts are updated
 * incrementally: each pair keeps the list of words it occurs in, and a merge
 * only rescans those words, adjusting the counts of the pairs around each
 * merged position. The best pair comes from a max-heap with lazy entries: a
 * count that rose is pushed again, a heap entry whose count fell is re-pushed
 * with the current count when it reaches the top. Ties go to the pair seen
 * first. A merge whose text equals an existing symbol's reuses that symbol
 * and adds no piece.
 */
#include "tok/train_impl.h"

#include <stdlib.h>
#include <string.h>

typedef struct sym {
    size_t off;      /* into the symbol pool */
    uint32_t len;    /* bytes */
    uint32_t nchars;
    int32_t script;  /* the piece's one script, or LILM__SCRIPT_ANY */
    uint8_t has_ws;  /* contains "▁" (always first) */
    uint8_t is_unk;
} sym;

typedef struct pair {
    int32_t a, b;
    int64_t count;
    int32_t *where;  /* (n_where) words it occurs in, with repeats and stale ones */
    uint32_t n_where, cap_where;
    uint8_t valid;
    uint8_t touched;
} pair;

typedef struct heap_item {
    int64_t count;
    int32_t pair;
} heap_item;

typedef struct bpe {
    const lilm_tok_train_opts *o;
    sym *syms;           /* (n_syms) */
    size_t n_syms, cap_syms;
    char *pool;          /* symbol texts */
    size_t pool_len, pool_cap;
    uint64_t *str_keys;  /* (str_cap) hash of a symbol text -> symbol (open addressing) */
    int32_t *str_vals;
    size_t str_cap;
    pair *pairs;         /* (n_pairs) */
    size_t n_pairs, cap_pairs;
    uint64_t *pkeys;     /* (pcap) (a << 32 | b) + 1, 0 = empty */
    int32_t *pvals;
    size_t pcap;
    heap_item *heap;
    size_t n_heap, cap_heap;
    int32_t *touched;    /* pairs whose count rose during one merge */
    size_t n_touched, cap_touched;
} bpe;

static lilm_status oom(void) { return lilm_errorf(LILM_ERR_OOM, "out of memory in BPE training"); }

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDULL;
    h ^= h >> 33;
    h *= 0xC4CEB9FE1A85EC53ULL;
    return h ^ (h >> 33);
}

static uint64_t text_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return mix(h) | 1; /* never 0: 0 marks an empty slot */
}

static int32_t str_find(const bpe *b, const char *s, size_t n, uint64_t h, size_t *slot)
{
    size_t j = (size_t)h & (b->str_cap - 1);
    while (b->str_keys[j]) {
        if (b->str_keys[j] == h) {
            const sym *y = &b->syms[b->str_vals[j]];
            if (y->len == n && memcmp(b->pool + y->off, s, n) == 0) return b->str_vals[j];
        }
        j = (j + 1) & (b->str_cap - 1);
    }
    *slot = j;
    return -1;
}

static lilm_status str_grow(bpe *b)
{
    size_t cap = b->str_cap ? b->str_cap * 2 : 1 << 12;
    uint64_t *k = calloc(cap, sizeof(*k));
    int32_t *v = malloc(cap * sizeof(*v));
    if (!k || !v) { free(k); free(v); return oom(); }
    for (size_t i = 0; i < b->str_cap; i++) {
        if (!b->str_keys[i]) continue;
        size_t j = (size_t)b->str_keys[i] & (cap - 1);
        while (k[j]) j = (j + 1) & (cap - 1);
        k[j] = b->str_keys[i];
        v[j] = b->str_vals[i];
    }
    free(b->str_keys);
    free(b->str_vals);
    b->str_keys = k;
    b->str_vals = v;
    b->str_cap = cap;
    return LILM_OK;
}

/* The symbol with text s[0..n), created if new (*created says which). */
static lilm_status sym_get(bpe *b, const char *s, size_t n, uint32_t nchars, int32_t script, int has_ws, int is_unk,
                           int32_t *out, int *created)
{
    if ((b->n_syms + 1) * 2 > b->str_cap) LILM_TRY(str_grow(b));
    uint64_t h = text_hash(s, n);
    size_t slot = 0;
    int32_t id = str_find(b, s, n, h, &slot);
    *created = id < 0;
    if (id >= 0) {
        *out = id;
        return LILM_OK;
    }
    if (b->n_syms == b->cap_syms) {
        size_t cap = b->cap_syms ? b->cap_syms * 2 : 1024;
        sym *y = realloc(b->syms, cap * sizeof(*y));
        if (!y) return oom();
        b->syms = y;
        b->cap_syms = cap;
    }
    if (b->pool_len + n > b->pool_cap) {
        size_t cap = b->pool_cap ? b->pool_cap * 2 : 1 << 16;
        while (cap < b->pool_len + n) cap *= 2;
        char *p = realloc(b->pool, cap);
        if (!p) return oom();
        b->pool = p;
        b->pool_cap = cap;
    }
    memmove(b->pool + b->pool_len, s, n); /* s may point into the pool */
    b->syms[b->n_syms] = (sym){b->pool_len, (uint32_t)n, nchars, script, (uint8_t)has_ws, (uint8_t)is_unk};
    b->pool_len += n;
    b->str_keys[slot] = h;
    b->str_vals[slot] = (int32_t)b->n_syms;
    *out = (int32_t)b->n_syms++;
    return LILM_OK;
}

static lilm_status pairs_grow(bpe *b)
{
    size_t cap = b->pcap ? b->pcap * 2 : 1 << 16;
    uint64_t *k = calloc(cap, sizeof(*k));
    int32_t *v = malloc(cap * sizeof(*v));
    if (!k || !v) { free(k); free(v); return oom(); }
    for (size_t i = 0; i < b->pcap; i++) {
        if (!b->pkeys[i]) continue;
        size_t j = (size_t)mix(b->pkeys[i]) & (cap - 1);
        while (k[j]) j = (j + 1) & (cap - 1);
        k[j] = b->pkeys[i];
        v[j] = b->pvals[i];
    }
    free(b->pkeys);
    free(b->pvals);
    b->pkeys = k;
    b->pvals = v;
    b->pcap = cap;
    return LILM_OK;
}

/* The pair (x, y), created on first sight with its validity decided once. */
static lilm_status pair_get(bpe *b, int32_t x, int32_t y, int32_t *out)
{
    if ((b->n_pairs + 1) * 2 > b->pcap) LILM_TRY(pairs_grow(b));
    uint64_t key = ((uint64_t)(uint32_t)x << 32 | (uint32_t)y) + 1;
    size_t j = (size_t)mix(key) & (b->pcap - 1);
    while (b->pkeys[j]) {
        if (b->pkeys[j] == key) {
            *out = b->pvals[j];
            return LILM_OK;
        }
        j = (j + 1) & (b->pcap - 1);
    }
    if (b->n_pairs == b->cap_pairs) {
        size_t cap = b->cap_pairs ? b->cap_pairs * 2 : 1 << 14;
        pair *p = realloc(b->pairs, cap * sizeof(*p));
        if (!p) return oom();
        b->pairs = p;
        b->cap_pairs = cap;
    }
    const sym *l = &b->syms[x], *r = &b->syms[y];
    int valid = !l->is_unk && !r->is_unk && !r->has_ws &&
                l->nchars + r->nchars <= (uint32_t)b->o->max_sentencepiece_length &&
                (l->script == LILM__SCRIPT_ANY || r->script == LILM__SCRIPT_ANY || l->script == r->script);
    b->pairs[b->n_pairs] = (pair){x, y, 0, NULL, 0, 0, (uint8_t)valid, 0};
    b->pkeys[j] = key;
    b->pvals[j] = (int32_t)b->n_pairs;
    *out = (int32_t)b->n_pairs++;
    return LILM_OK;
}

static int heap_above(const heap_item *x, const heap_item *y)
{
    return x->count > y->count || (x->count == y->count && x->pair < y->pair);
}

static lilm_status heap_push(bpe *b, int64_t count, int32_t p)
{
    if (b->n_heap == b->cap_heap) {
        size_t cap = b->cap_heap ? b->cap_heap * 2 : 1 << 14;
        heap_item *h = realloc(b->heap, cap * sizeof(*h));
        if (!h) return oom();
        b->heap = h;
        b->cap_heap = cap;
    }
    size_t i = b->n_heap++;
    heap_item it = {count, p};
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!heap_above(&it, &b->heap[parent])) break;
        b->heap[i] = b->heap[parent];
        i = parent;
    }
    b->heap[i] = it;
    return LILM_OK;
}

static heap_item heap_pop(bpe *b)
{
    heap_item top = b->heap[0];
    heap_item last = b->heap[--b->n_heap];
    size_t i = 0, n = b->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && heap_above(&b->heap[c + 1], &b->heap[c])) c++;
        if (!heap_above(&b->heap[c], &last)) break;
        b->heap[i] = b->heap[c];
        i = c;
    }
    if (n) b->heap[i] = last;
    return top;
}

/* Adds f to pair (x, y) occurring in word w; remembers rises for the heap. */
static lilm_status pair_add(bpe *b, int32_t x, int32_t y, int64_t f, int32_t w)
{
    int32_t pi = -1;
    LILM_TRY(pair_get(b, x, y, &pi));
    pair *p = &b->pairs[pi];
    if (!p->valid) return LILM_OK;
    p->count += f;
    if (f > 0) {
        if (p->n_where == 0 || p->where[p->n_where - 1] != w) {
            if (p->n_where == p->cap_where) {
                uint32_t cap = p->cap_where ? p->cap_where * 2 : 4;
                int32_t *nw = realloc(p->where, cap * sizeof(*nw));
                if (!nw) return oom();
                p->where = nw;
                p->cap_where = cap;
            }
            p->where[p->n_where++] = w;
        }
        if (!p->touched) {
            if (b->n_touched == b->cap_touched) {
                size_t cap = b->cap_touched ? b->cap_touched * 2 : 1024;
                int32_t *t = realloc(b->touched, cap * sizeof(*t));
                if (!t) return oom();
                b->touched = t;
                b->cap_touched = cap;
            }
            b->touched[b->n_touched++] = pi;
            p->touched = 1;
        }
    }
    return LILM_OK;
}

static lilm_status flush_touched(bpe *b)
{
    for (size_t i = 0; i < b->n_touched; i++) {
        pair *p = &b->pairs[b->touched[i]];
        p->touched = 0;
        if (p->count > 0) LILM_TRY(heap_push(b, p->count, b->touched[i]));
    }
    b->n_touched = 0;
    return LILM_OK;
}

static void bpe_free(bpe *b)
{
    for (size_t i = 0; i < b->n_pairs; i++) free(b->pairs[i].where);
    free(b->pairs);
    free(b->pkeys);
    free(b->pvals);
    free(b->syms);
    free(b->pool);
    free(b->str_keys);
    free(b->str_vals);
    free(b->heap);
    free(b->touched);
}

lilm_status lilm__train_bpe(const lilm_tok_train_opts *o, const lilm__words *w, const lilm_sp_normalizer_spec *ns,
                            lilm_sp_model *model)
{
    bpe b = {0};
    b.o = o;
    lilm_status st = LILM_OK;
    size_t total = 0;
    for (size_t i = 0; i < w->n; i++) total += w->len[i];
    int32_t *ws = malloc((total ? total : 1) * sizeof(*ws)); /* symbols of every word, in place */
    size_t *wstart = malloc((w->n + 1) * sizeof(*wstart));
    uint32_t *wn = malloc((w->n ? w->n : 1) * sizeof(*wn));
    int32_t *stamp = malloc((w->n ? w->n : 1) * sizeof(*stamp));
    int32_t *char_sym = malloc(0x110000 * sizeof(*char_sym));
    uint32_t *cps = malloc((total ? total : 1) * sizeof(*cps));
    lilm__piece *out = NULL;
    size_t *out_sym = NULL; /* (n_out) symbol of each learned piece */
    size_t n_out = 0;
    if (!ws || !wstart || !wn || !stamp || !char_sym || !cps) { st = oom(); goto done; }
    for (size_t i = 0; i < 0x110000; i++) char_sym[i] = -1;
    for (size_t i = 0; i < w->n; i++) stamp[i] = -1;

    /* words as character symbols */
    size_t pos = 0;
    for (size_t i = 0; i < w->n && st == LILM_OK; i++) {
        wstart[i] = pos;
        size_t n = lilm_utf8_decode(w->pool + w->off[i], w->len[i], cps);
        for (size_t j = 0; j < n && st == LILM_OK; j++) {
            uint32_t c = cps[j];
            if (char_sym[c] < 0) {
                char tmp[4];
                size_t tl = lilm_utf8_encode(c, tmp);
                int script = LILM__SCRIPT_ANY;
                if (c != LILM__WS) {
                    script = lilm__train_script(c);
                    if (script == LILM__SCRIPT_HIRAGANA || script == LILM__SCRIPT_KATAKANA || c == 0x30FC)
                        script = LILM__SCRIPT_HAN;
                    else if (script == LILM__SCRIPT_INHERITED)
                        script = LILM__SCRIPT_ANY;
                }
                int created;
                st = sym_get(&b, tmp, tl, 1, script, c == LILM__WS, c == LILM__UNK_CHAR, &char_sym[c], &created);
            }
            ws[pos++] = char_sym[c];
        }
        wn[i] = (uint32_t)n;
    }
    wstart[w->n] = pos;

    /* initial pair counts */
    for (size_t i = 0; i < w->n && st == LILM_OK; i++)
        for (uint32_t j = 0; j + 1 < wn[i] && st == LILM_OK; j++)
            st = pair_add(&b, ws[wstart[i] + j], ws[wstart[i] + j + 1], w->freq[i], (int32_t)i);
    if (st == LILM_OK) st = flush_touched(&b);
    if (st != LILM_OK) goto done;

    int32_t target = o->vocab_size - lilm__train_n_meta(o) - (int32_t)w->n_chars;
    out = malloc(((size_t)(target > 0 ? target : 0) + w->n_chars + 1) * sizeof(*out));
    if (!out) { st = oom(); goto done; }
    out_sym = malloc(((size_t)(target > 0 ? target : 0) + 1) * sizeof(*out_sym));
    if (!out_sym) { st = oom(); goto done; }
    int32_t step = 0;
    while ((int32_t)n_out < target && st == LILM_OK) {
        if (b.n_heap == 0) break;
        heap_item top = heap_pop(&b);
        pair *p = &b.pairs[top.pair];
        if (p->count != top.count) {
            if (p->count > 0 && p->count < top.count) st = heap_push(&b, p->count, top.pair);
            continue;
        }
        if (p->count <= 0) continue;
        int32_t A = p->a, B = p->b;
        const sym *sa = &b.syms[A], *sb = &b.syms[B];
        /* the merged text, built in a scratch copy (the pool may move) */
        size_t ml = (size_t)sa->len + sb->len;
        char *mt = malloc(ml);
        if (!mt) { st = oom(); break; }
        memcpy(mt, b.pool + sa->off, sa->len);
        memcpy(mt + sa->len, b.pool + sb->off, sb->len);
        int32_t script = sa->script != LILM__SCRIPT_ANY ? sa->script : sb->script;
        int32_t C;
        int created;
        st = sym_get(&b, mt, ml, sa->nchars + sb->nchars, script, sa->has_ws, 0, &C, &created);
        free(mt);
        if (st != LILM_OK) break;
        if (created) out_sym[n_out++] = (size_t)C;

        /* rewrite every word holding the pair; p may move as pairs grow */
        int32_t pi = top.pair;
        for (uint32_t k = 0; k < b.pairs[pi].n_where && st == LILM_OK; k++) {
            int32_t wi = b.pairs[pi].where[k];
            if (stamp[wi] == step) continue;
            stamp[wi] = step;
            int32_t *s = ws + wstart[wi];
            uint32_t n = wn[wi];
            int64_t f = w->freq[wi];
            for (uint32_t i = 0; i + 1 < n && st == LILM_OK; i++) {
                if (s[i] != A || s[i + 1] != B) continue;
                if (i > 0) st = pair_add(&b, s[i - 1], A, -f, wi);
                if (st == LILM_OK && i + 2 < n) st = pair_add(&b, B, s[i + 2], -f, wi);
                if (st == LILM_OK) st = pair_add(&b, A, B, -f, wi);
                s[i] = C;
                memmove(s + i + 1, s + i + 2, (n - i - 2) * sizeof(*s));
                n--;
                if (st == LILM_OK && i > 0) st = pair_add(&b, s[i - 1], C, f, wi);
                if (st == LILM_OK && i + 1 < n) st = pair_add(&b, C, s[i + 1], f, wi);
            }
            wn[wi] = n;
        }
        pair *done_pair = &b.pairs[pi];
        free(done_pair->where);
        done_pair->where = NULL;
        done_pair->n_where = done_pair->cap_where = 0;
        done_pair->count = 0;
        if (st == LILM_OK) st = flush_touched(&b);
        step++;
        if (o->log && n_out % 1000 == 0 && created)
            fprintf(o->log, "tok train: bpe %zu/%d pieces\n", n_out, target);
    }
    if (st == LILM_OK && (int32_t)n_out < target)
        st = lilm_errorf(LILM_ERR_ARG, "vocab_size %d is larger than this text allows: only %zu merges are possible, "
                         "so at most %lld pieces; lower vocab_size", o->vocab_size, n_out,
                         (long long)n_out + (long long)w->n_chars + lilm__train_n_meta(o));
    if (st == LILM_OK) {
        for (size_t i = 0; i < n_out; i++) {
            const sym *y = &b.syms[out_sym[i]];
            out[i] = (lilm__piece){b.pool + y->off, y->len, -(float)i};
        }
        size_t k = n_out;
        for (size_t i = 0; i < w->n_chars; i++) {
            const sym *y = &b.syms[char_sym[w->chars[i]]];
            out[k] = (lilm__piece){b.pool + y->off, y->len, -(float)k};
            k++;
        }
        st = lilm__train_assemble(o, ns, out, k, model);
    }
done:
    free(out_sym);
    free(out);
    free(ws);
    free(wstart);
    free(wn);
    free(stamp);
    free(char_sym);
    free(cps);
    bpe_free(&b);
    return st;
}
