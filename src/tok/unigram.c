/*
 * unigram.c: best segmentation under a unigram model, making exactly the
 * choices sentencepiece 0.2.3 makes.
 *
 * The lattice: cell i describes the best path found so far that ends at byte
 * i of the normalised text: its score, where its last piece starts and that
 * piece's id (start -1: not reached yet). Start positions are visited one
 * UTF-8 character at a time; from each, the trie yields every piece starting
 * there, shortest first, and each relaxes cell[end] when it is strictly
 * better, so on equal scores the earlier start and then the shorter piece win.
 * UNUSED pieces are skipped; where no piece covers exactly the first
 * character, an unknown piece of that one character scores min_score - 10.
 * User-defined pieces score 0.1 * (bytes - 1).
 *
 * All arithmetic is float, as in sentencepiece, including its guard against
 * float precision loss on long texts: when the path score at the current start
 * leaves [-1e5, 1e5], that score is subtracted from every reached position
 * from the start up to the furthest end seen so far, so scores restart near 0.
 * Which segmentation wins among near-equal ones depends on this rounding, so
 * it is reproduced step for step. Backtracking from the end gives the spans.
 *
 * Words. When no piece the lattice uses holds "▁" past its first byte
 * (v->unigram_words), every path passes through each character position where
 * "▁" starts, so the text splits there into words whose lattices are
 * independent except for the running score H carried from one word into the
 * next. A word's segmentation is then computed once with H = 0 and cached,
 * together with what decides whether it may be reused at another H: float
 * rounding at |H| up to 1e5 (ulp 2^-7) can only reorder candidates whose
 * scores differ by less than the rounding bound, so the cached result is used
 * only when, at every end on its path, the winner beat the best loser by more
 * than nc * (2^-7 + 2^-12) (nc = characters in the word, the most pieces a
 * path can have, each addition off by at most half an ulp in either
 * arithmetic), and when H plus every in-word start's score stays inside the
 * reset window by that margin, so no reset can happen inside the word. H is
 * then advanced by adding the path's piece scores one by one in float, which
 * is exactly the value sentencepiece's lattice holds at the word's end. Any
 * other word runs the full lattice from H. Both paths give identical ids;
 * tests compare them on whole corpora.
 */
#include "tok/tok_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SCORE_RESET_THRESHOLD 100000.0f
/* a cached word's scores stay below this in magnitude, so their ulp is <= 2^-11 */
#define WORD_SCORE_LIMIT 4096.0f

typedef struct lilm_lattice_cell {
    float score;   /* best path score ending here */
    float second;  /* best losing candidate (margin tracking only), -inf when none */
    int32_t start; /* where that path's last piece starts (absolute), -1: not reached */
    int32_t id;    /* that piece's id */
} lilm_lattice_cell;

/* A cached word: this header, then, when robust, one (length, id, score)
 * triple per span (the score as float bits, so the replay needs no lookups). */
typedef struct word_entry {
    float lo, hi;      /* min / max score at the word's inner character starts, from H = 0 */
    int32_t robust;    /* every decision on the path beat its rival by the rounding bound */
    int32_t n_chars;
} word_entry;

static lilm_status grow_cells(lilm_tok_workspace *ws, size_t need)
{
    return lilm_grow((void **)&ws->cells, &ws->cells_cap, need, sizeof *ws->cells);
}

static inline void relax(lilm_lattice_cell *c, float cand, size_t start, int32_t id, const int track)
{
    if (c->start == -1 || cand > c->score) {
        if (track && c->start != -1 && c->score > c->second) c->second = c->score;
        c->score = cand;
        c->start = (int32_t)start;
        c->id = id;
    } else if (track && cand > c->second) {
        c->second = cand;
    }
}

/* The lattice over u[from..to), starting from score here0 at `from`;
 * cell[i - from] describes position i. With `track`, also each cell's best
 * losing candidate (meaningless after a reset, which a tracked run of a
 * short word starting at 0 never reaches). */
static inline void lattice(const lilm_sp_vocab *v, const unsigned char *u, size_t from, size_t to, float here0,
                           lilm_lattice_cell *cell, const int track)
{
    const size_t n = to - from;
    for (size_t i = 0; i <= n; i++) cell[i] = (lilm_lattice_cell){0.0f, -INFINITY, -1, 0};
    cell[0].score = here0;
    const lilm_trie_unit *units = v->trie.units;
    const int64_t n_units = (int64_t)v->trie.n_units;
    const float unk_score = v->unk_score;
    size_t st = 0, frontier = 0; /* relative to from */
    while (st < n) {
        float here = cell[st].score;
        if (here < -SCORE_RESET_THRESHOLD || here > SCORE_RESET_THRESHOLD) {
            const float offset = here;
            for (size_t i = st; i <= frontier; i++)
                if (i == st || cell[i].start != -1) cell[i].score -= offset;
            here = 0.0f;
        }
        size_t mblen = lilm_utf8_char_len(u[from + st]);
        if (mblen > n - st) mblen = n - st;
        int has_single = 0;
        int32_t node = 0;
        for (size_t pos = from + st; pos < to; pos++) {
            int64_t next = (int64_t)units[node].base + u[pos];
            if (next >= n_units || units[next].check != node) break;
            node = (int32_t)next;
            int32_t id = units[node].value;
            if (id < 0) continue;
            uint8_t type = v->type[id];
            if (type == LILM_SP_UNUSED) continue;
            size_t end = pos + 1 - from, length = end - st;
            if (end > frontier) frontier = end;
            float score = type == LILM_SP_USER_DEFINED ? (float)(0.1 * (double)((int)length - 1)) : v->score[id];
            relax(&cell[end], score + here, from + st, id, track);
            if (length == mblen) has_single = 1;
        }
        if (!has_single) {
            size_t end = st + mblen;
            if (end > frontier) frontier = end;
            relax(&cell[end], unk_score + here, from + st, v->unk_id, track);
        }
        st += mblen;
    }
}

/* Appends the spans of the best path through u[from..to) (cells from lattice()). */
static lilm_status backtrack(lilm_tok_workspace *ws, const lilm_lattice_cell *cell, size_t from, size_t to,
                             size_t *k)
{
    size_t m = 0;
    for (size_t end = to; end > from; end = (size_t)cell[end - from].start) {
        int32_t st = cell[end - from].start;
        if (st < (int64_t)from || (size_t)st >= end)
            return lilm_errorf(LILM_ERR_INTERNAL, "unigram lattice has no path to byte %zu", end);
        m++;
    }
    LILM_TRY(lilm_tok_workspace_spans(ws, *k + m));
    size_t i = *k + m;
    for (size_t end = to; end > from; end = (size_t)cell[end - from].start) {
        i--;
        ws->span_start[i] = cell[end - from].start;
        ws->span_len[i] = (int32_t)(end - (size_t)cell[end - from].start);
        ws->span_id[i] = cell[end - from].id;
    }
    *k += m;
    return LILM_OK;
}

/* The score a piece adds to a path (as lattice() computes it). */
static inline float piece_score(const lilm_sp_vocab *v, int32_t id, int32_t len)
{
    if (id == v->unk_id) return v->unk_score; /* unknown spans carry unk_id (-1 when there is none) */
    if (v->type[id] == LILM_SP_USER_DEFINED) return (float)(0.1 * (double)(len - 1));
    return v->score[id];
}

/* The largest error float rounding can put between H-based and 0-based
 * scores of paths of at most nc pieces (see the module comment). */
static inline double rounding_bound(int32_t nc) { return (double)nc * (1.0 / 128 + 1.0 / 4096); }

/* Segments u[from..to) from H = 0 with margins and builds its cache entry
 * into `out` (header + triples); *out_len receives its size in bytes. The
 * spans after *k are used as scratch; *k itself is unchanged. */
static lilm_status analyse_word(const lilm_sp_vocab *v, lilm_tok_workspace *ws, const unsigned char *u, size_t from,
                                size_t to, const size_t *k, int32_t *out, size_t *out_len)
{
    size_t n = to - from;
    lattice(v, u, from, to, 0.0f, ws->cells, 1);
    word_entry e = {INFINITY, -INFINITY, 1, 0};
    for (size_t st = 0; st < n;) {
        size_t mblen = lilm_utf8_char_len(u[from + st]);
        if (mblen > n - st) mblen = n - st;
        if (st > 0) {
            float x = ws->cells[st].score;
            if (x < e.lo) e.lo = x;
            if (x > e.hi) e.hi = x;
        }
        e.n_chars++;
        st += mblen;
    }
    /* the path's spans go past the caller's *k as scratch */
    size_t k0 = *k, k1 = *k;
    LILM_TRY(backtrack(ws, ws->cells, from, to, &k1));
    double bound = rounding_bound(e.n_chars);
    for (size_t i = k0; i < k1; i++) {
        const lilm_lattice_cell *c = &ws->cells[(size_t)(ws->span_start[i] + ws->span_len[i]) - from];
        if (fabsf(c->score) > WORD_SCORE_LIMIT || (isfinite(c->second) && fabsf(c->second) > WORD_SCORE_LIMIT) ||
            (double)c->score - (double)c->second <= bound)
            e.robust = 0;
    }
    if (!(e.lo >= -WORD_SCORE_LIMIT && e.hi <= WORD_SCORE_LIMIT)) e.robust = 0;
    size_t m = e.robust ? k1 - k0 : 0;
    int32_t *triples = out + sizeof e / sizeof *out;
    for (size_t i = 0; i < m; i++) {
        int32_t len = ws->span_len[k0 + i], id = ws->span_id[k0 + i];
        float score = piece_score(v, id, len);
        triples[3 * i] = len;
        triples[3 * i + 1] = id;
        memcpy(&triples[3 * i + 2], &score, sizeof score);
    }
    memcpy(out, &e, sizeof e);
    *out_len = sizeof e + m * 3 * sizeof *triples;
    return LILM_OK;
}

/* Encodes the word u[from..to) starting from path score *H; advances *H. */
static lilm_status encode_word(const lilm_sp_vocab *v, lilm_tok_workspace *ws, const unsigned char *u, size_t from,
                               size_t to, float *H, size_t *k)
{
    float here = *H;
    if (here < -SCORE_RESET_THRESHOLD || here > SCORE_RESET_THRESHOLD) here = 0.0f; /* the reset at `from` */
    size_t len = to - from;
    if (len <= LILM_WORD_CACHE_MAX_WORD) {
        const char *key = (const char *)u + from;
        uint64_t h = lilm_word_cache_hash(key, len);
        size_t val_len;
        const int32_t *val = lilm_word_cache_get(ws->words, key, len, h, &val_len);
        int32_t fresh[sizeof(word_entry) / sizeof(int32_t) + 3 * LILM_WORD_CACHE_MAX_WORD];
        if (!val) {
            LILM_TRY(analyse_word(v, ws, u, from, to, k, fresh, &val_len));
            lilm_word_cache_put(ws->words, key, len, h, fresh, val_len);
            val = fresh;
        }
        word_entry e;
        memcpy(&e, val, sizeof e);
        double bound = rounding_bound(e.n_chars);
        if (e.robust && (double)here + e.lo - bound >= -SCORE_RESET_THRESHOLD &&
            (double)here + e.hi + bound <= SCORE_RESET_THRESHOLD) {
            const int32_t *triples = val + sizeof e / sizeof *val;
            size_t m = (val_len - sizeof e) / (3 * sizeof *triples);
            LILM_TRY(lilm_tok_workspace_spans(ws, *k + m));
            int32_t at = (int32_t)from;
            for (size_t i = 0; i < m; i++) {
                int32_t l = triples[3 * i];
                float score;
                memcpy(&score, &triples[3 * i + 2], sizeof score);
                ws->span_start[*k + i] = at;
                ws->span_len[*k + i] = l;
                ws->span_id[*k + i] = triples[3 * i + 1];
                here = score + here;
                at += l;
            }
            *k += m;
            *H = here;
            return LILM_OK;
        }
    }
    lattice(v, u, from, to, here, ws->cells, 0);
    LILM_TRY(backtrack(ws, ws->cells, from, to, k));
    *H = ws->cells[len].score;
    return LILM_OK;
}

/* The next character position after `from` where "▁" starts, or n. */
static size_t word_end(const unsigned char *u, size_t from, size_t n)
{
    size_t i = from + lilm_utf8_char_len(u[from]);
    while (i < n) {
        if (u[i] == 0xE2 && i + 2 < n && u[i + 1] == 0x96 && u[i + 2] == 0x81) return i;
        i += lilm_utf8_char_len(u[i]);
    }
    return n;
}

lilm_status lilm_unigram_encode(const lilm_sp_vocab *v, const char *s, size_t n, lilm_tok_workspace *ws,
                                size_t *n_spans)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t k = 0;
    if (!v->unigram_words || ws->one_shot) {
        LILM_TRY(grow_cells(ws, n + 1));
        lattice(v, u, 0, n, 0.0f, ws->cells, 0);
        LILM_TRY(backtrack(ws, ws->cells, 0, n, &k));
        *n_spans = k;
        return LILM_OK;
    }
    LILM_TRY(lilm_word_cache_bind(&ws->words, v, v->fingerprint));
    float H = 0.0f;
    size_t from = 0;
    while (from < n) {
        size_t to = word_end(u, from, n);
        LILM_TRY(grow_cells(ws, to - from + 1));
        LILM_TRY(encode_word(v, ws, u, from, to, &H, &k));
        from = to;
    }
    *n_spans = k;
    return LILM_OK;
}
