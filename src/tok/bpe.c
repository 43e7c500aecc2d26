/*
 * bpe.c: sentencepiece's BPE encoding: repeatedly merge the adjacent pair
 * whose concatenation is the highest-scoring piece.
 *
 * The text starts as one symbol per UTF-8 character (a user-defined piece is
 * one frozen symbol that never merges). Candidate pairs sit in a binary heap
 * ordered by piece score, ties to the leftmost pair; a popped pair whose
 * symbols changed since it was pushed is stale and dropped (its two lengths
 * no longer add up to the pushed length, or one side was absorbed). Each
 * symbol remembers the trie node of its text, so testing a pair walks only
 * the right symbol's bytes. As in sentencepiece 0.2.3, the vocabulary trie
 * holds every piece, but a pair only merges into a NORMAL, USER_DEFINED or
 * UNUSED piece. Each final symbol becomes its piece's id (unknown: unk_id,
 * also for a symbol whose text is a CONTROL/UNKNOWN/BYTE piece); an UNUSED
 * piece is split back into the two symbols it was last merged from,
 * recursively, at most 100 levels deep.
 *
 * Heap order is sentencepiece's: scores compared through their IEEE bit
 * patterns (so -0.0 sorts below +0.0), ties to the smaller left index.
 */
#include "tok/tok_impl.h"

#include <stdlib.h>
#include <string.h>

typedef struct bpe_pair {
    uint32_t key;   /* order-preserving image of the score's bits */
    int32_t left, right;
    int32_t size;   /* bytes of the merged piece when pushed */
    int32_t node;   /* trie node of the merged piece */
} bpe_pair;

typedef struct bpe_rev {
    int32_t id;            /* an UNUSED piece */
    int32_t left_len;      /* split point: the left symbol's length */
} bpe_rev;

typedef struct bpe_ws {
    int32_t *start, *len, *prev, *next, *node; /* (cap) per symbol */
    uint8_t *frozen;                           /* (cap) */
    size_t cap;
    bpe_pair *heap;
    size_t heap_n, heap_cap;
    bpe_rev *rev;          /* last split recorded per UNUSED piece */
    size_t rev_n, rev_cap;
    int32_t *stack;        /* resegmentation work: (start, len, depth) triples */
    size_t stack_cap;
} bpe_ws;

void lilm_bpe_workspace_free(void *p)
{
    bpe_ws *w = p;
    if (!w) return;
    free(w->start);
    free(w->len);
    free(w->prev);
    free(w->next);
    free(w->node);
    free(w->frozen);
    free(w->heap);
    free(w->rev);
    free(w->stack);
    free(w);
}

static lilm_status grow_symbols(bpe_ws *w, size_t need)
{
    if (need <= w->cap) return LILM_OK;
    size_t nc = w->cap ? w->cap : 1024;
    while (nc < need) nc *= 2;
    int32_t **arrs[] = {&w->start, &w->len, &w->prev, &w->next, &w->node};
    for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++) {
        int32_t *p = realloc(*arrs[i], nc * sizeof *p);
        if (!p) return lilm_errorf(LILM_ERR_OOM, "out of memory for %zu BPE symbols", nc);
        *arrs[i] = p;
    }
    uint8_t *f = realloc(w->frozen, nc);
    if (!f) return lilm_errorf(LILM_ERR_OOM, "out of memory for %zu BPE symbols", nc);
    w->frozen = f;
    w->cap = nc;
    return LILM_OK;
}

/* Maps float bits to an unsigned key with the same order as sentencepiece's
 * integer comparison of scores. */
static inline uint32_t score_key(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return (u & 0x80000000u) ? ~u : (u ^ 0x80000000u);
}

static inline int pair_before(const bpe_pair *a, const bpe_pair *b)
{
    return a->key > b->key || (a->key == b->key && a->left < b->left);
}

static inline bool mergeable(const lilm_sp_vocab *v, int32_t id)
{
    if (id < 0 || id == v->unk_id) return false;
    uint8_t t = v->type[id];
    return t == LILM_SP_NORMAL || t == LILM_SP_USER_DEFINED || t == LILM_SP_UNUSED;
}

static int heap_push(bpe_ws *w, bpe_pair p)
{
    if (w->heap_n == w->heap_cap) {
        size_t nc = w->heap_cap ? 2 * w->heap_cap : 1024;
        bpe_pair *h = realloc(w->heap, nc * sizeof *h);
        if (!h) return -1;
        w->heap = h;
        w->heap_cap = nc;
    }
    size_t i = w->heap_n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!pair_before(&p, &w->heap[parent])) break;
        w->heap[i] = w->heap[parent];
        i = parent;
    }
    w->heap[i] = p;
    return 0;
}

static bpe_pair heap_pop(bpe_ws *w)
{
    bpe_pair top = w->heap[0];
    bpe_pair last = w->heap[--w->heap_n];
    size_t n = w->heap_n, i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && pair_before(&w->heap[c + 1], &w->heap[c])) c++;
        if (!pair_before(&w->heap[c], &last)) break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n > 0) w->heap[i] = last;
    return top;
}

static int rev_set(bpe_ws *w, int32_t id, int32_t left_len)
{
    for (size_t i = 0; i < w->rev_n; i++)
        if (w->rev[i].id == id) {
            w->rev[i].left_len = left_len;
            return 0;
        }
    if (w->rev_n == w->rev_cap) {
        size_t nc = w->rev_cap ? 2 * w->rev_cap : 16;
        bpe_rev *r = realloc(w->rev, nc * sizeof *r);
        if (!r) return -1;
        w->rev = r;
        w->rev_cap = nc;
    }
    w->rev[w->rev_n++] = (bpe_rev){id, left_len};
    return 0;
}

/* Pushes the pair (left, right) if their concatenation is a piece. */
static int maybe_add(const lilm_sp_vocab *v, bpe_ws *w, const unsigned char *s, int32_t left, int32_t right)
{
    if (left < 0 || right < 0 || w->frozen[left] || w->frozen[right]) return 0;
    int32_t node = w->node[left];
    if (node < 0) return 0;
    const lilm_trie_unit *units = v->trie.units;
    const int64_t n_units = (int64_t)v->trie.n_units;
    const unsigned char *p = s + w->start[right];
    for (int32_t i = 0; i < w->len[right]; i++) {
        int64_t nx = (int64_t)units[node].base + p[i];
        if (nx >= n_units || units[nx].check != node) return 0;
        node = (int32_t)nx;
    }
    int32_t id = units[node].value;
    if (!mergeable(v, id)) return 0;
    bpe_pair pr = {score_key(v->score[id]), left, right, w->len[left] + w->len[right], node};
    if (heap_push(w, pr) != 0) return -1;
    if (v->type[id] == LILM_SP_UNUSED && rev_set(w, id, w->len[left]) != 0) return -1;
    return 0;
}

static int32_t rev_get(const bpe_ws *w, int32_t id)
{
    for (size_t i = 0; i < w->rev_n; i++)
        if (w->rev[i].id == id) return w->rev[i].left_len;
    return -1;
}

static lilm_status emit(lilm_tok_workspace *ws, size_t *k, int32_t start, int32_t len, int32_t id)
{
    LILM_TRY(lilm_tok_workspace_spans(ws, *k + 1));
    ws->span_start[*k] = start;
    ws->span_len[*k] = len;
    ws->span_id[*k] = id;
    (*k)++;
    return LILM_OK;
}

/* Appends the spans of symbol text s[start..start+len), splitting UNUSED
 * pieces as sentencepiece's resegmentation does (depth-first, left first). */
static lilm_status resegment(const lilm_sp_vocab *v, bpe_ws *w, lilm_tok_workspace *ws, const char *s, int32_t start,
                             int32_t len, size_t *k)
{
    size_t sp = 0;
    if (w->stack_cap < 96) {
        int32_t *st = realloc(w->stack, 96 * sizeof *st);
        if (!st) return lilm_errorf(LILM_ERR_OOM, "out of memory in BPE");
        w->stack = st;
        w->stack_cap = 96;
    }
    /* work items: (start, len, depth) */
    w->stack[sp++] = start;
    w->stack[sp++] = len;
    w->stack[sp++] = 0;
    while (sp > 0) {
        int32_t depth = w->stack[--sp], l = w->stack[--sp], st = w->stack[--sp];
        int32_t id = lilm_trie_find(&v->trie, s + st, (size_t)l);
        if (id < 0) id = v->unk_id;
        if (depth > 100) {
            LILM_TRY(emit(ws, k, st, l, id));
            continue;
        }
        if (!mergeable(v, id)) {
            LILM_TRY(emit(ws, k, st, l, v->unk_id));
            continue;
        }
        if (v->type[id] != LILM_SP_UNUSED) {
            LILM_TRY(emit(ws, k, st, l, id));
            continue;
        }
        int32_t split = rev_get(w, id);
        if (split <= 0 || split >= l) {
            LILM_TRY(emit(ws, k, st, l, v->unk_id));
            continue;
        }
        if (sp + 6 > w->stack_cap) {
            size_t nc = 2 * w->stack_cap;
            int32_t *stk = realloc(w->stack, nc * sizeof *stk);
            if (!stk) return lilm_errorf(LILM_ERR_OOM, "out of memory in BPE");
            w->stack = stk;
            w->stack_cap = nc;
        }
        /* right half below left half so the left is emitted first */
        w->stack[sp++] = st + split;
        w->stack[sp++] = l - split;
        w->stack[sp++] = depth + 1;
        w->stack[sp++] = st;
        w->stack[sp++] = split;
        w->stack[sp++] = depth + 1;
    }
    return LILM_OK;
}

/* Runs BPE on s[from, to) and appends its spans (absolute offsets) at *k. */
static lilm_status bpe_range(const lilm_sp_vocab *v, bpe_ws *w, lilm_tok_workspace *ws, const char *s, size_t from,
                             size_t to, size_t *k)
{
    const unsigned char *u = (const unsigned char *)s;
    w->heap_n = 0;
    w->rev_n = 0;
    /* split into characters (user-defined pieces whole and frozen) */
    LILM_TRY(grow_symbols(w, to - from));
    int32_t count = 0;
    const bool has_ud = v->user_defined.n_units > 1;
    for (size_t pos = from; pos < to;) {
        size_t m = has_ud ? lilm_trie_longest_prefix(&v->user_defined, s + pos, to - pos) : 0;
        w->frozen[count] = m > 0;
        if (m == 0) {
            m = lilm_utf8_char_len(u[pos]);
            if (m > to - pos) m = to - pos;
        }
        int32_t node = 0;
        for (size_t i = 0; i < m && node >= 0; i++) node = lilm_trie_next(&v->trie, node, u[pos + i]);
        w->start[count] = (int32_t)pos;
        w->len[count] = (int32_t)m;
        w->prev[count] = count - 1;
        w->next[count] = pos + m < to ? count + 1 : -1;
        w->node[count] = node;
        count++;
        pos += m;
    }
    for (int32_t i = 1; i < count; i++)
        if (maybe_add(v, w, u, i - 1, i) != 0) return lilm_errorf(LILM_ERR_OOM, "out of memory in BPE");
    while (w->heap_n > 0) {
        bpe_pair top = heap_pop(w);
        int32_t l = top.left, r = top.right;
        if (w->len[l] == 0 || w->len[r] == 0 || w->len[l] + w->len[r] != top.size) continue;
        w->len[l] += w->len[r];
        w->node[l] = top.node;
        w->next[l] = w->next[r];
        if (w->next[r] >= 0) w->prev[w->next[r]] = l;
        w->len[r] = 0;
        if (maybe_add(v, w, u, w->prev[l], l) != 0 || maybe_add(v, w, u, l, w->next[l]) != 0)
            return lilm_errorf(LILM_ERR_OOM, "out of memory in BPE");
    }
    for (int32_t i = count > 0 ? 0 : -1; i >= 0; i = w->next[i]) {
        int32_t node = w->node[i];
        int32_t id = node >= 0 ? v->trie.units[node].value : -1;
        if (mergeable(v, id) && v->type[id] != LILM_SP_UNUSED) {
            /* the common case: a normal or user-defined piece */
            LILM_TRY(emit(ws, k, w->start[i], w->len[i], id));
        } else {
            LILM_TRY(resegment(v, w, ws, s, w->start[i], w->len[i], k));
        }
    }
    return LILM_OK;
}

/* ---- words ----
 * When no mergeable piece has "▁" anywhere but at its start and there are no
 * user-defined or unused pieces (v->bpe_words), no merge can join a symbol
 * with a following one that starts with "▁", so the text splits into words
 * ("▁" + what follows up to the next "▁") that BPE handles independently,
 * and each word's result goes through the workspace's word cache: a value
 * is the word's spans as (length, id) pairs. */

static lilm_status encode_word(const lilm_sp_vocab *v, bpe_ws *w, lilm_tok_workspace *ws, const char *s, size_t from,
                               size_t to, size_t *k)
{
    size_t len = to - from;
    if (len > LILM_WORD_CACHE_MAX_WORD) return bpe_range(v, w, ws, s, from, to, k);
    uint64_t h = lilm_word_cache_hash(s + from, len);
    size_t val_len;
    const int32_t *sp = lilm_word_cache_get(ws->words, s + from, len, h, &val_len); /* (n, 2): len, id */
    if (sp) {
        size_t n = val_len / (2 * sizeof *sp);
        LILM_TRY(lilm_tok_workspace_spans(ws, *k + n));
        int32_t at = (int32_t)from;
        for (size_t i = 0; i < n; i++) {
            ws->span_start[*k] = at;
            ws->span_len[*k] = sp[2 * i];
            ws->span_id[*k] = sp[2 * i + 1];
            at += sp[2 * i];
            (*k)++;
        }
        return LILM_OK;
    }
    size_t k0 = *k;
    LILM_TRY(bpe_range(v, w, ws, s, from, to, k));
    int32_t pairs[2 * LILM_WORD_CACHE_MAX_WORD]; /* at most one span per byte */
    size_t n = *k - k0;
    for (size_t i = 0; i < n; i++) {
        pairs[2 * i] = ws->span_len[k0 + i];
        pairs[2 * i + 1] = ws->span_id[k0 + i];
    }
    lilm_word_cache_put(ws->words, s + from, len, h, pairs, n * 2 * sizeof pairs[0]);
    return LILM_OK;
}

lilm_status lilm_bpe_encode(const lilm_sp_vocab *v, const char *s, size_t n, lilm_tok_workspace *ws,
                            size_t *n_spans)
{
    if (!ws->bpe) {
        ws->bpe = calloc(1, sizeof(bpe_ws));
        if (!ws->bpe) return lilm_errorf(LILM_ERR_OOM, "out of memory in BPE");
    }
    bpe_ws *w = ws->bpe;
    size_t k = 0;
    if (!v->bpe_words || ws->one_shot) {
        LILM_TRY(bpe_range(v, w, ws, s, 0, n, &k));
        *n_spans = k;
        return LILM_OK;
    }
    LILM_TRY(lilm_word_cache_bind(&ws->words, v, v->fingerprint));
    size_t from = 0;
    for (size_t i = 1; i + 3 <= n; i++) {
        if ((unsigned char)s[i] == 0xE2 && (unsigned char)s[i + 1] == 0x96 && (unsigned char)s[i + 2] == 0x81) {
            LILM_TRY(encode_word(v, w, ws, s, from, i, &k));
            from = i;
            i += 2;
        }
    }
    if (from < n) LILM_TRY(encode_word(v, w, ws, s, from, n, &k));
    *n_spans = k;
    return LILM_OK;
}
