/*
 * train_unigram.c: unigram language-model training as SentencePiece does it.
 *
 *   1. Seeds: every character, then the repeated substrings of the text that
 *      are suffix-tree nodes, ranked by (occurrences in the text) x length,
 *      up to seed_sentencepiece_size pieces. Computed on the distinct words
 *      (each followed by 0) with word counts as weights: a suffix array and
 *      its LCP array (cut at word ends) give the nodes by the usual interval
 *      stack, and a node's SA interval lists all its occurrences, which
 *      become lattice edges. Scores start as log frequencies.
 *   2. EM: the E step runs forward-backward over each word's lattice and adds
 *      word count x marginal to each piece's expected count; the M step drops
 *      pieces under 0.5 and sets score = digamma(count) - digamma(total) (the
 *      Bayesian EM that acts as a sparse prior). num_sub_iterations steps.
 *   3. Pruning until the vocabulary is at most 1.1 x vocab_size: a piece whose
 *      own best segmentation is not itself goes; for the others the loss of
 *      likelihood if its Viterbi uses went to its second-best segmentation is
 *      estimated, and the pieces with the largest loss are kept, shrinking
 *      the vocabulary by shrinking_factor per round.
 *   4. Final vocabulary: the required characters (a missing one gets the
 *      lowest score minus 0.0001 per rank), then the best-scoring pieces,
 *      all sorted by score.
 *
 * Lattices are built once: every occurrence of every seed piece is an edge
 * (piece id, length) filed under its start position, so the E step and the
 * Viterbi passes never search the vocabulary. Each position also has the edge
 * of its character; when that piece is gone (or the character is U+2585) the
 * edge stands for <unk> with score min_score - 10, as in SentencePiece. After
 * each pruning round dead edges are compacted away. The E step and Viterbi
 * run in parallel over words with per-thread accumulators; sums may differ in
 * the last bits between thread counts.
 */
#include "tok/train_impl.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define UNK_PENALTY 10.0
#define EDGE_LEN_BITS 8
#define NO_PIECE ((1u << (32 - EDGE_LEN_BITS)) - 1) /* edge of U+2585: always <unk> */

typedef struct ug {
    const lilm_tok_train_opts *o;
    const lilm__words *w;
    uint32_t *arr;      /* (n_arr) code points of all words, each followed by 0 */
    size_t n_arr;
    size_t *wstart;     /* (n_words) start of each word in arr */
    uint32_t *wlen;     /* (n_words) code points */
    /* pieces: the first n_chars are characters */
    size_t n_pieces;
    size_t *p_pos;      /* (n_pieces) one occurrence in arr */
    uint32_t *p_len;    /* (n_pieces) code points */
    double *score;      /* (n_pieces) log probability */
    uint8_t *alive;     /* (n_pieces) */
    size_t n_chars;
    /* edges: those starting at arr position p are edges[e_off[p] .. e_off[p + 1]) */
    size_t *e_off;      /* (n_arr + 1) */
    uint32_t *edges;    /* piece << EDGE_LEN_BITS | length */
    size_t n_edges;
} ug;

static lilm_status oom(void) { return lilm_errorf(LILM_ERR_OOM, "out of memory in unigram training"); }

static double lse(double a, double b)
{
    if (a < b) { double t = a; a = b; b = t; }
    if (b == -INFINITY) return a;
    return a + log1p(exp(b - a));
}

/* psi(x) for x > 0: recurrence up to 6, then the asymptotic series. */
static double digamma(double x)
{
    double r = 0.0;
    while (x < 6.0) {
        r -= 1.0 / x;
        x += 1.0;
    }
    double f = 1.0 / (x * x);
    return r + log(x) - 0.5 / x - f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f / 132))));
}

/* ------------------------------------------------------------ seeding */

static int cmp_suffix(const void *a, const void *b, void *ctx)
{
    const uint32_t *arr = ctx;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    for (size_t k = 0;; k++) {
        uint32_t cx = arr[x + k], cy = arr[y + k];
        if (cx != cy) return cx < cy ? -1 : 1;
        if (cx == 0) break; /* both words end here */
    }
    return x < y ? -1 : x > y;
}

typedef struct cand {
    size_t lb, rb;  /* SA interval (inclusive) */
    uint32_t len;
    int64_t score;
} cand;

static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return x->lb < y->lb ? -1 : x->lb > y->lb;
}

typedef struct ccount {
    uint32_t cp;
    int64_t n;
} ccount;

static int cmp_ccount(const void *a, const void *b)
{
    const ccount *x = a, *y = b;
    if (x->n != y->n) return x->n > y->n ? -1 : 1;
    return x->cp < y->cp ? -1 : x->cp > y->cp;
}

/* Records SA interval [lb, rb] (depth d, text count `count`) as a seed
 * candidate when it is a valid piece of 2 or more characters. */
static lilm_status add_cand(const ug *u, const size_t *sa, size_t lb, size_t rb, uint32_t d, int64_t count,
                            uint32_t *tmp, cand **cands, size_t *n_cand, size_t *cap_cand)
{
    if (d < 2 || d > (uint32_t)u->o->max_sentencepiece_length) return LILM_OK;
    memcpy(tmp, u->arr + sa[lb], d * sizeof(*tmp));
    if (!lilm__train_valid_piece(tmp, d, u->o->max_sentencepiece_length)) return LILM_OK;
    if (*n_cand == *cap_cand) {
        size_t cap = *cap_cand ? *cap_cand * 2 : 1 << 16;
        cand *c = realloc(*cands, cap * sizeof(*c));
        if (!c) return oom();
        *cands = c;
        *cap_cand = cap;
    }
    (*cands)[(*n_cand)++] = (cand){lb, rb, d, count * (int64_t)d};
    return LILM_OK;
}

/* Builds arr, the seeds and every edge. */
static lilm_status seed(ug *u)
{
    const lilm__words *w = u->w;
    const lilm_tok_train_opts *o = u->o;
    if (o->max_sentencepiece_length > 255) /* an edge keeps the length in 8 bits */
        return lilm_errorf(LILM_ERR_ARG, "unigram training supports max_sentencepiece_length up to 255, not %d",
                           o->max_sentencepiece_length);
    size_t total = 0;
    for (size_t i = 0; i < w->n; i++) total += w->len[i] + 1;
    u->arr = malloc((total + 1) * sizeof(*u->arr));
    u->wstart = malloc((w->n ? w->n : 1) * sizeof(*u->wstart));
    u->wlen = malloc((w->n ? w->n : 1) * sizeof(*u->wlen));
    if (!u->arr || !u->wstart || !u->wlen) return oom();
    size_t n = 0;
    for (size_t i = 0; i < w->n; i++) {
        u->wstart[i] = n;
        size_t k = lilm_utf8_decode(w->pool + w->off[i], w->len[i], u->arr + n);
        if (k > 65535)
            return lilm_errorf(LILM_ERR_ARG, "a word of %zu characters is too long to train on; lower max_sentence_length", k);
        u->wlen[i] = (uint32_t)k;
        n += k;
        u->arr[n++] = 0;
    }
    u->arr[n] = 0;
    u->n_arr = n;

    /* characters, weighted by word counts (U+2585 excluded) */
    int64_t *cc = calloc(0x110000, sizeof(*cc));
    if (!cc) return oom();
    for (size_t i = 0; i < w->n; i++)
        for (uint32_t j = 0; j < u->wlen[i]; j++) {
            uint32_t c = u->arr[u->wstart[i] + j];
            if (c != LILM__UNK_CHAR) cc[c] += w->freq[i];
        }
    size_t n_chars = 0;
    for (uint32_t c = 1; c < 0x110000; c++) n_chars += cc[c] > 0;
    ccount *chars = malloc((n_chars ? n_chars : 1) * sizeof(*chars));
    int32_t *char_piece = malloc(0x110000 * sizeof(*char_piece));
    if (!chars || !char_piece) {
        free(cc); free(chars); free(char_piece);
        return oom();
    }
    n_chars = 0;
    for (uint32_t c = 1; c < 0x110000; c++)
        if (cc[c] > 0) chars[n_chars++] = (ccount){c, cc[c]};
    free(cc);
    qsort(chars, n_chars, sizeof(*chars), cmp_ccount);

    /* suffix array over non-boundary positions, and LCPs up to the boundary */
    lilm_status st = LILM_OK;
    size_t n_sa = 0;
    for (size_t p = 0; p < n; p++) n_sa += u->arr[p] != 0;
    size_t *sa = malloc((n_sa + 1) * sizeof(*sa));
    uint32_t *lcp = malloc((n_sa + 1) * sizeof(*lcp));
    cand *cands = NULL;
    size_t n_cand = 0, cap_cand = 0;
    size_t *stk_lb = malloc((n_sa + 2) * sizeof(*stk_lb));
    uint32_t *stk_d = malloc((n_sa + 2) * sizeof(*stk_d));
    uint32_t *tmp = malloc(((size_t)o->max_sentencepiece_length + 1) * sizeof(*tmp));
    int64_t *wcum = NULL;
    uint32_t *word_of = NULL;
    if (!sa || !lcp || !stk_lb || !stk_d || !tmp) { st = oom(); goto done; }
    n_sa = 0;
    for (size_t p = 0; p < n; p++)
        if (u->arr[p] != 0) sa[n_sa++] = p;
    qsort_r(sa, n_sa, sizeof(*sa), cmp_suffix, u->arr);
    lcp[0] = 0;
    for (size_t i = 1; i < n_sa; i++) {
        uint32_t k = 0;
        const uint32_t *x = u->arr + sa[i - 1], *y = u->arr + sa[i];
        while (x[k] == y[k] && x[k] != 0) k++;
        lcp[i] = k;
    }
    lcp[n_sa] = 0;
    /* SentencePiece seeds from whole sentences, where a substring's count is
     * its number of occurrences in the text. A valid piece never spans two
     * words, so that count is the sum, over the distinct words holding it, of
     * the word's count. A substring is a suffix-tree node of the text when it
     * is followed by two different characters or ends a word (the next word's
     * "▁" and the sentence end then follow it): with LCPs cut at word ends,
     * those are the intervals below, plus the word suffixes that occur once
     * among distinct words but in a word seen at least twice. */
    wcum = malloc((n_sa + 1) * sizeof(*wcum)); /* word counts summed in SA order */
    word_of = malloc((n + 1) * sizeof(*word_of));
    if (!wcum || !word_of) { st = oom(); goto done; }
    for (size_t i = 0; i < w->n; i++)
        for (size_t k = 0; k <= u->wlen[i]; k++) word_of[u->wstart[i] + k] = (uint32_t)i;
    wcum[0] = 0;
    for (size_t i = 0; i < n_sa; i++) wcum[i + 1] = wcum[i] + w->freq[word_of[sa[i]]];
    size_t top = 0;
    stk_lb[0] = 0;
    stk_d[0] = 0;
    for (size_t i = 1; i <= n_sa && st == LILM_OK; i++) {
        /* a word suffix of sa[i-1] that no other distinct word shares */
        size_t p = sa[i - 1];
        uint32_t d_end = (uint32_t)(u->wstart[word_of[p]] + u->wlen[word_of[p]] - p);
        if (d_end >= 2 && d_end <= (uint32_t)o->max_sentencepiece_length && lcp[i - 1] < d_end && lcp[i] < d_end &&
            w->freq[word_of[p]] >= 2)
            st = add_cand(u, sa, i - 1, i - 1, d_end, w->freq[word_of[p]], tmp, &cands, &n_cand, &cap_cand);
        size_t lb = i - 1;
        uint32_t li = lcp[i];
        while (li < stk_d[top] && st == LILM_OK) {
            uint32_t d = stk_d[top];
            size_t l = stk_lb[top];
            top--;
            lb = l;
            st = add_cand(u, sa, l, i - 1, d, wcum[i] - wcum[l], tmp, &cands, &n_cand, &cap_cand);
        }
        if (li > stk_d[top]) {
            top++;
            stk_lb[top] = lb;
            stk_d[top] = li;
        }
    }
    if (st != LILM_OK) goto done;
    if (n_cand) qsort(cands, n_cand, sizeof(*cands), cmp_cand);
    size_t max_seeds = (size_t)o->seed_sentencepiece_size;
    size_t n_sub = n_cand;
    if (n_chars + n_sub > max_seeds) n_sub = max_seeds > n_chars ? max_seeds - n_chars : 0;

    /* pieces: characters then substrings; scores = log(count / total) */
    u->n_chars = n_chars;
    u->n_pieces = n_chars + n_sub;
    if (u->n_pieces >= NO_PIECE) { st = lilm_errorf(LILM_ERR_ARG, "too many seed pieces; lower seed_sentencepiece_size"); goto done; }
    u->p_pos = malloc(u->n_pieces * sizeof(*u->p_pos));
    u->p_len = malloc(u->n_pieces * sizeof(*u->p_len));
    u->score = malloc(u->n_pieces * sizeof(*u->score));
    u->alive = malloc(u->n_pieces);
    if (!u->p_pos || !u->p_len || !u->score || !u->alive) { st = oom(); goto done; }
    for (uint32_t c = 0; c < 0x110000; c++) char_piece[c] = -1;
    double sum = 0;
    for (size_t i = 0; i < n_chars; i++) sum += (double)chars[i].n;
    for (size_t i = 0; i < n_sub; i++) sum += (double)cands[i].score;
    for (size_t i = 0; i < n_chars; i++) {
        char_piece[chars[i].cp] = (int32_t)i;
        u->p_len[i] = 1;
        u->score[i] = log((double)chars[i].n) - log(sum);
        u->alive[i] = 1;
    }
    for (size_t i = 0; i < n_chars; i++) u->p_pos[i] = 0;
    for (size_t p = 0; p < n; p++) /* one occurrence of each character */
        if (u->arr[p] && char_piece[u->arr[p]] >= 0 && u->p_pos[char_piece[u->arr[p]]] == 0)
            u->p_pos[char_piece[u->arr[p]]] = p;
    for (size_t i = 0; i < n_sub; i++) {
        size_t k = n_chars + i;
        u->p_pos[k] = sa[cands[i].lb];
        u->p_len[k] = cands[i].len;
        u->score[k] = log((double)cands[i].score) - log(sum);
        u->alive[k] = 1;
    }

    /* edges, filed by start position (a counting sort) */
    u->e_off = calloc(n + 2, sizeof(*u->e_off));
    if (!u->e_off) { st = oom(); goto done; }
    for (size_t p = 0; p < n; p++) u->e_off[p + 1] += u->arr[p] != 0;
    for (size_t i = 0; i < n_sub; i++)
        for (size_t q = cands[i].lb; q <= cands[i].rb; q++) u->e_off[sa[q] + 1]++;
    for (size_t p = 0; p < n; p++) u->e_off[p + 1] += u->e_off[p];
    u->n_edges = u->e_off[n];
    u->edges = malloc((u->n_edges ? u->n_edges : 1) * sizeof(*u->edges));
    size_t *fill = malloc((n + 1) * sizeof(*fill));
    if (!u->edges || !fill) { free(fill); st = oom(); goto done; }
    memcpy(fill, u->e_off, (n + 1) * sizeof(*fill));
    for (size_t p = 0; p < n; p++) {
        if (!u->arr[p]) continue;
        int32_t cp = u->arr[p] == LILM__UNK_CHAR ? -1 : char_piece[u->arr[p]];
        uint32_t id = cp < 0 ? NO_PIECE : (uint32_t)cp;
        u->edges[fill[p]++] = id << EDGE_LEN_BITS | 1u;
    }
    for (size_t i = 0; i < n_sub; i++)
        for (size_t q = cands[i].lb; q <= cands[i].rb; q++)
            u->edges[fill[sa[q]]++] = (uint32_t)(n_chars + i) << EDGE_LEN_BITS | cands[i].len;
    free(fill);
    if (o->log)
        fprintf(o->log, "tok train: unigram seeds: %zu characters + %zu substrings (of %zu), %zu lattice edges\n",
                n_chars, n_sub, n_cand, u->n_edges);
done:
    free(chars);
    free(char_piece);
    free(sa);
    free(lcp);
    free(cands);
    free(stk_lb);
    free(stk_d);
    free(tmp);
    free(wcum);
    free(word_of);
    return st;
}

/* ------------------------------------------------------------- EM */

static double min_score(const ug *u)
{
    double m = INFINITY;
    for (size_t i = 0; i < u->n_pieces; i++)
        if (u->alive[i] && u->score[i] < m) m = u->score[i];
    return m == INFINITY ? 0.0 : m;
}

static size_t n_alive(const ug *u)
{
    size_t k = 0;
    for (size_t i = 0; i < u->n_pieces; i++) k += u->alive[i];
    return k;
}

/* Score of an edge, or NAN when its piece is gone (multi-character edges). */
static inline double edge_score(const ug *u, uint32_t e, double unk)
{
    uint32_t id = e >> EDGE_LEN_BITS, len = e & ((1u << EDGE_LEN_BITS) - 1);
    if (id != NO_PIECE && u->alive[id]) return u->score[id];
    return len == 1 ? unk : NAN;
}

/* Forward-backward over one word in log space (long words, where products
 * of probabilities could underflow). Adds f x marginals to ex. */
static double fb_log(const ug *u, size_t base, size_t n, double f, double unk, double *alpha, double *beta, double *ex)
{
    for (size_t i = 0; i <= n; i++) alpha[i] = beta[i] = -INFINITY;
    alpha[0] = 0.0;
    for (size_t i = 0; i < n; i++) {
        double a = alpha[i];
        for (size_t k = u->e_off[base + i]; k < u->e_off[base + i + 1]; k++) {
            uint32_t e = u->edges[k];
            double s = edge_score(u, e, unk);
            if (isnan(s)) continue;
            size_t end = i + (e & ((1u << EDGE_LEN_BITS) - 1));
            alpha[end] = lse(alpha[end], a + s);
        }
    }
    beta[n] = 0.0;
    for (size_t i = n; i-- > 0;) {
        double bsum = -INFINITY;
        for (size_t k = u->e_off[base + i]; k < u->e_off[base + i + 1]; k++) {
            uint32_t e = u->edges[k];
            double s = edge_score(u, e, unk);
            if (isnan(s)) continue;
            bsum = lse(bsum, s + beta[i + (e & ((1u << EDGE_LEN_BITS) - 1))]);
        }
        beta[i] = bsum;
    }
    double z = alpha[n];
    for (size_t i = 0; i < n; i++) {
        for (size_t k = u->e_off[base + i]; k < u->e_off[base + i + 1]; k++) {
            uint32_t e = u->edges[k], id = e >> EDGE_LEN_BITS;
            if (id == NO_PIECE || !u->alive[id]) continue;
            size_t end = i + (e & ((1u << EDGE_LEN_BITS) - 1));
            ex[id] += f * exp(alpha[i] + u->score[id] + beta[end] - z);
        }
    }
    return z;
}

/* The same in linear space, for words short enough that no path can
 * underflow a double; prob[id] = exp(score), 0 for a removed piece, and
 * prob[n_pieces] = exp(unk) for U+2585 edges. One backward pass, then a
 * forward pass that also collects the marginals. Returns log Z. */
static double fb_linear(const ug *u, size_t base, size_t n, double f, const double *prob, double *alpha, double *beta,
                        double *ex)
{
    const uint32_t lmask = (1u << EDGE_LEN_BITS) - 1;
    const size_t np = u->n_pieces;
    beta[n] = 1.0;
    for (size_t i = n; i-- > 0;) {
        double bsum = 0.0;
        for (size_t k = u->e_off[base + i]; k < u->e_off[base + i + 1]; k++) {
            uint32_t e = u->edges[k], id = e >> EDGE_LEN_BITS;
            bsum += prob[id == NO_PIECE ? np : id] * beta[i + (e & lmask)];
        }
        beta[i] = bsum;
    }
    double z = beta[0];
    double scale = f / z;
    for (size_t i = 0; i <= n; i++) alpha[i] = 0.0;
    alpha[0] = 1.0;
    for (size_t i = 0; i < n; i++) {
        double a = alpha[i];
        for (size_t k = u->e_off[base + i]; k < u->e_off[base + i + 1]; k++) {
            uint32_t e = u->edges[k], id = e >> EDGE_LEN_BITS;
            size_t idx = id == NO_PIECE ? np : id;
            double ap = a * prob[idx];
            size_t end = i + (e & lmask);
            alpha[end] += ap;
            ex[idx] += scale * ap * beta[end];
        }
    }
    return log(z);
}

/* E step: expected counts into exp_out (n_pieces); returns the objective. */
static lilm_status e_step(const ug *u, double *exp_out, double *objective)
{
    const lilm__words *w = u->w;
    int nt = u->o->threads;
    double unk = min_score(u) - UNK_PENALTY;
    size_t np = u->n_pieces;
    /* words up to this length cannot underflow: each edge costs at most -unk nats */
    size_t lin_max = (size_t)(650.0 / -unk);
    size_t maxlen = 1;
    for (size_t i = 0; i < w->n; i++)
        if (u->wlen[i] + 1 > maxlen) maxlen = u->wlen[i] + 1;
    double *acc = calloc((size_t)nt * (np + 1), sizeof(*acc));
    double *objs = calloc((size_t)nt, sizeof(*objs));
    double *prob = malloc((np + 1) * sizeof(*prob));
    if (!acc || !objs || !prob) { free(acc); free(objs); free(prob); return oom(); }
    for (size_t i = 0; i < np; i++)
        prob[i] = u->alive[i] ? exp(u->score[i]) : u->p_len[i] == 1 ? exp(unk) : 0.0;
    prob[np] = exp(unk);
    int failed = 0;
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num();
        double *ex = acc + (size_t)t * (np + 1);
        double *alpha = malloc(2 * (maxlen + 1) * sizeof(*alpha));
        if (!alpha) {
#pragma omp atomic write
            failed = 1;
        }
        double *beta = alpha ? alpha + maxlen + 1 : NULL;
#pragma omp for schedule(dynamic, 256)
        for (size_t wi = 0; wi < w->n; wi++) {
            if (!alpha) continue;
            size_t base = u->wstart[wi], n = u->wlen[wi];
            double f = (double)w->freq[wi];
            double z = n <= lin_max ? fb_linear(u, base, n, f, prob, alpha, beta, ex)
                                    : fb_log(u, base, n, f, unk, alpha, beta, ex);
            objs[t] -= f * z;
        }
        free(alpha);
    }
    if (failed) { free(acc); free(objs); free(prob); return oom(); }
    memset(exp_out, 0, np * sizeof(*exp_out));
    *objective = 0;
    for (int t = 0; t < nt; t++) {
        const double *ex = acc + (size_t)t * (np + 1);
        for (size_t i = 0; i < np; i++)
            if (u->alive[i]) exp_out[i] += ex[i]; /* dead characters' slots held <unk> mass */
        *objective += objs[t];
    }
    free(acc);
    free(objs);
    free(prob);
    return LILM_OK;
}

/* M step: drop pieces expected less than half a time; digamma scores. */
static void m_step(ug *u, const double *expected)
{
    double sum = 0;
    for (size_t i = 0; i < u->n_pieces; i++) {
        if (!u->alive[i]) continue;
        if (expected[i] < 0.5) { u->alive[i] = 0; continue; }
        sum += expected[i];
    }
    double logsum = digamma(sum);
    for (size_t i = 0; i < u->n_pieces; i++)
        if (u->alive[i]) u->score[i] = digamma(expected[i]) - logsum;
}

/* ------------------------------------------------------------- pruning */

/* Viterbi over positions [from, from + n) of arr: best path's pieces into
 * path (piece ids, NO_PIECE for unk), count returned. best2 != NULL asks for
 * the second-best path too (into path2, count in *n2; *n2 = 0 if none).
 * Scratch: sc (2 * (n + 1)), bp (2 * (n + 1)). */
typedef struct bp_entry {
    int32_t prev_pos; /* -1 at the start */
    uint8_t prev_rank;
    uint32_t edge;
} bp_entry;

static size_t viterbi(const ug *u, size_t from, size_t n, double unk, int want2, double *sc, bp_entry *bp,
                      uint32_t *path, uint32_t *path2, size_t *n2)
{
    int ranks = want2 ? 2 : 1;
    for (size_t i = 0; i <= n; i++)
        for (int r = 0; r < ranks; r++) sc[2 * i + (size_t)r] = -INFINITY;
    sc[0] = 0.0;
    bp[0] = (bp_entry){-1, 0, 0};
    for (size_t i = 0; i < n; i++) {
        for (size_t k = u->e_off[from + i]; k < u->e_off[from + i + 1]; k++) {
            uint32_t e = u->edges[k];
            size_t len = e & ((1u << EDGE_LEN_BITS) - 1);
            if (i + len > n) continue;
            double s = edge_score(u, e, unk);
            if (isnan(s)) continue;
            size_t end = i + len;
            for (int r = 0; r < ranks; r++) {
                double v = sc[2 * i + (size_t)r];
                if (v == -INFINITY) continue;
                v += s;
                bp_entry cand = {(int32_t)i, (uint8_t)r, e};
                double *b = &sc[2 * end];
                bp_entry *p = &bp[2 * end];
                if (v > b[0]) {
                    if (want2) { b[1] = b[0]; p[1] = p[0]; }
                    b[0] = v;
                    p[0] = cand;
                } else if (want2 && v > b[1]) {
                    b[1] = v;
                    p[1] = cand;
                }
            }
        }
    }
    /* trace back */
    size_t cnt = 0;
    int32_t pos = (int32_t)n;
    int rank = 0;
    while (pos > 0) {
        bp_entry b = bp[2 * (size_t)pos + (size_t)rank];
        path[cnt++] = b.edge >> EDGE_LEN_BITS;
        pos = b.prev_pos;
        rank = b.prev_rank;
    }
    if (want2) {
        *n2 = 0;
        if (sc[2 * n + 1] > -INFINITY) {
            pos = (int32_t)n;
            rank = 1;
            while (pos > 0) {
                bp_entry b = bp[2 * (size_t)pos + (size_t)rank];
                path2[(*n2)++] = b.edge >> EDGE_LEN_BITS;
                pos = b.prev_pos;
                rank = b.prev_rank;
            }
        }
    }
    return cnt;
}

typedef struct loss_item {
    uint32_t id;
    double loss;
} loss_item;

static int cmp_loss(const void *a, const void *b)
{
    const loss_item *x = a, *y = b;
    if (x->loss != y->loss) return x->loss > y->loss ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static lilm_status prune(ug *u, size_t desired)
{
    const lilm__words *w = u->w;
    int nt = u->o->threads;
    double unk = min_score(u) - UNK_PENALTY;
    size_t np = u->n_pieces, L = (size_t)u->o->max_sentencepiece_length;
    size_t maxlen = L;
    for (size_t i = 0; i < w->n; i++)
        if (u->wlen[i] > maxlen) maxlen = u->wlen[i];
    uint8_t *keep = malloc(np);               /* always_keep */
    uint32_t *alt = malloc(np * L * sizeof(*alt)); /* second-best segmentation of each piece */
    uint8_t *n_alt = calloc(np, 1);
    int64_t *freq = calloc((size_t)nt * np, sizeof(*freq));
    loss_item *cands = malloc(np * sizeof(*cands));
    if (!keep || !alt || !n_alt || !freq || !cands) {
        free(keep); free(alt); free(n_alt); free(freq); free(cands);
        return oom();
    }
    int failed = 0;
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num();
        double *sc = malloc(2 * (maxlen + 1) * sizeof(*sc));
        bp_entry *bp = malloc(2 * (maxlen + 1) * sizeof(*bp));
        uint32_t *p1 = malloc((maxlen + 1) * sizeof(*p1)), *p2 = malloc((maxlen + 1) * sizeof(*p2));
        if (!sc || !bp || !p1 || !p2) {
#pragma omp atomic write
            failed = 1;
        }
        /* (a) each piece alone: is it its own best segmentation, and what is the runner-up? */
#pragma omp for schedule(dynamic, 1024)
        for (size_t i = 0; i < np; i++) {
            if (!u->alive[i] || !sc || !bp || !p1 || !p2) continue;
            size_t n2 = 0;
            size_t n1 = viterbi(u, u->p_pos[i], u->p_len[i], unk, 1, sc, bp, p1, p2, &n2);
            if (n2 == 0) {
                keep[i] = 1;
            } else if (n1 >= 2) {
                keep[i] = 0;
            } else {
                keep[i] = 1;
                n_alt[i] = (uint8_t)n2;
                memcpy(alt + i * L, p2, n2 * sizeof(*p2));
            }
        }
        /* (b) Viterbi counts over the corpus */
        int64_t *fr = freq + (size_t)t * np;
#pragma omp for schedule(dynamic, 256)
        for (size_t wi = 0; wi < w->n; wi++) {
            if (!sc || !bp || !p1 || !p2) continue;
            size_t n1 = viterbi(u, u->wstart[wi], u->wlen[wi], unk, 0, sc, bp, p1, NULL, NULL);
            for (size_t k = 0; k < n1; k++)
                if (p1[k] != NO_PIECE) fr[p1[k]] += w->freq[wi];
        }
        free(sc);
        free(bp);
        free(p1);
        free(p2);
    }
    if (failed) {
        free(keep); free(alt); free(n_alt); free(freq); free(cands);
        return oom();
    }
    for (int t = 1; t < nt; t++)
        for (size_t i = 0; i < np; i++) freq[i] += freq[(size_t)t * np + i];
    double vsum = 0, sum = 0;
    for (size_t i = 0; i < w->n; i++) vsum += (double)w->freq[i];
    for (size_t i = 0; i < np; i++) sum += (double)freq[i];
    double logsum = log(sum);

    /* (c) keep pieces without alternatives, rank the rest by loss */
    size_t n_new = 0, n_cand = 0;
    uint8_t *next = calloc(np, 1);
    if (!next) {
        free(keep); free(alt); free(n_alt); free(freq); free(cands);
        return oom();
    }
    for (size_t i = 0; i < np; i++) {
        if (!u->alive[i]) continue;
        if (freq[i] == 0 || !keep[i]) continue;
        if (n_alt[i] == 0) {
            next[i] = 1;
            n_new++;
            continue;
        }
        double fi = (double)freq[i];
        double F = fi / vsum;
        double logprob_sp = log(fi) - logsum;
        double logsum_alt = log(sum + fi * (double)(n_alt[i] - 1));
        double logprob_alt = 0;
        for (size_t k = 0; k < n_alt[i]; k++) {
            uint32_t a = alt[i * L + k];
            double fa = a == NO_PIECE ? 0.0 : (double)freq[a];
            logprob_alt += log(fa + fi) - logsum_alt;
        }
        cands[n_cand++] = (loss_item){(uint32_t)i, F * (logprob_sp - logprob_alt)};
    }
    qsort(cands, n_cand, sizeof(*cands), cmp_loss);
    size_t cur = n_alive(u);
    size_t pruned = (size_t)(u->o->shrinking_factor * (double)cur);
    if (pruned < desired) pruned = desired;
    for (size_t k = 0; k < n_cand && n_new < pruned; k++) {
        next[cands[k].id] = 1;
        n_new++;
    }
    memcpy(u->alive, next, np);
    free(next);
    free(keep);
    free(alt);
    free(n_alt);
    free(freq);
    free(cands);

    /* compact: drop edges of dead multi-character pieces (character edges stay: they become <unk>) */
    size_t o = 0;
    for (size_t p = 0; p < u->n_arr; p++) {
        size_t b = u->e_off[p], e = u->e_off[p + 1];
        u->e_off[p] = o;
        for (size_t k = b; k < e; k++) {
            uint32_t x = u->edges[k], id = x >> EDGE_LEN_BITS;
            if ((x & ((1u << EDGE_LEN_BITS) - 1)) == 1 || u->alive[id]) u->edges[o++] = x;
        }
    }
    u->e_off[u->n_arr] = o;
    u->n_edges = o;
    return LILM_OK;
}

/* ------------------------------------------------------------- final */

typedef struct final_piece {
    uint32_t id;
    double score;
} final_piece;

static int cmp_final(const void *a, const void *b)
{
    const final_piece *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static void ug_free(ug *u)
{
    free(u->arr);
    free(u->wstart);
    free(u->wlen);
    free(u->p_pos);
    free(u->p_len);
    free(u->score);
    free(u->alive);
    free(u->e_off);
    free(u->edges);
}

lilm_status lilm__train_unigram(const lilm_tok_train_opts *o, const lilm__words *w, const lilm_sp_normalizer_spec *ns,
                                lilm_sp_model *model)
{
    ug u = {0};
    u.o = o;
    u.w = w;
    lilm_status st = seed(&u);
    double *expected = NULL;
    final_piece *fin = NULL;
    lilm__piece *out = NULL;
    char *text = NULL;
    if (st != LILM_OK) goto done;
    expected = malloc(u.n_pieces * sizeof(*expected));
    if (!expected) { st = oom(); goto done; }
    size_t desired = (size_t)((double)o->vocab_size * 1.1);
    for (int round = 0;; round++) {
        for (int it = 0; it < o->num_sub_iterations && st == LILM_OK; it++) {
            double obj = 0;
            st = e_step(&u, expected, &obj);
            if (st == LILM_OK) m_step(&u, expected);
            if (st == LILM_OK && o->log)
                fprintf(o->log, "tok train: unigram round %d em %d: %zu pieces, objective %.4f\n", round, it,
                        n_alive(&u), obj / (double)(w->n_sentences ? w->n_sentences : 1));
        }
        if (st != LILM_OK || n_alive(&u) <= desired) break;
        st = prune(&u, desired);
        if (st != LILM_OK) break;
    }
    if (st != LILM_OK) goto done;

    /* final vocabulary: required characters first, then the best pieces */
    int32_t room = o->vocab_size - lilm__train_n_meta(o);
    fin = malloc((u.n_pieces + w->n_chars + 1) * sizeof(*fin));
    uint8_t *taken = calloc(u.n_pieces + 1, 1);
    int32_t *char_id = malloc(0x110000 * sizeof(*char_id));
    if (!fin || !taken || !char_id) { free(taken); free(char_id); st = oom(); goto done; }
    for (uint32_t c = 0; c < 0x110000; c++) char_id[c] = -1;
    for (size_t i = 0; i < u.n_chars; i++) char_id[u.arr[u.p_pos[i]]] = (int32_t)i;
    double ms = min_score(&u), penalty = 0;
    size_t nf = 0;
    for (size_t i = 0; i < w->n_chars; i++) {
        int32_t id = char_id[w->chars[i]];
        if (id >= 0 && u.alive[id]) {
            fin[nf++] = (final_piece){(uint32_t)id, u.score[id]};
        } else {
            fin[nf++] = (final_piece){id >= 0 ? (uint32_t)id : UINT32_MAX - (uint32_t)i, ms - penalty};
            penalty += 0.0001;
        }
        if (id >= 0) taken[id] = 1;
    }
    free(char_id);
    final_piece *rest = malloc((u.n_pieces + 1) * sizeof(*rest));
    size_t nr = 0;
    if (!rest) { free(taken); st = oom(); goto done; }
    for (size_t i = 0; i < u.n_pieces; i++)
        if (u.alive[i] && !taken[i]) rest[nr++] = (final_piece){(uint32_t)i, u.score[i]};
    free(taken);
    qsort(rest, nr, sizeof(*rest), cmp_final);
    for (size_t i = 0; i < nr && nf < (size_t)room; i++) fin[nf++] = rest[i];
    free(rest);
    if (nf < (size_t)room) {
        st = lilm_errorf(LILM_ERR_ARG, "vocab_size %d is larger than this text allows: unigram training kept only %zu pieces, "
                         "so at most %lld in all; lower vocab_size", o->vocab_size, nf,
                         (long long)nf + lilm__train_n_meta(o));
        goto done;
    }
    qsort(fin, nf, sizeof(*fin), cmp_final);

    /* UTF-8 texts of the pieces */
    size_t bytes = 0;
    for (size_t i = 0; i < nf; i++) bytes += 4 * (fin[i].id >= u.n_pieces ? 1 : u.p_len[fin[i].id]);
    text = malloc(bytes + 1);
    out = malloc(nf * sizeof(*out));
    if (!text || !out) { st = oom(); goto done; }
    size_t tl = 0;
    for (size_t i = 0; i < nf; i++) {
        size_t start = tl;
        if (fin[i].id >= u.n_pieces) { /* a required character no seed held (U+2585 never is one) */
            tl += lilm_utf8_encode(w->chars[UINT32_MAX - fin[i].id], text + tl);
        } else {
            for (uint32_t k = 0; k < u.p_len[fin[i].id]; k++)
                tl += lilm_utf8_encode(u.arr[u.p_pos[fin[i].id] + k], text + tl);
        }
        out[i] = (lilm__piece){text + start, tl - start, (float)fin[i].score};
    }
    st = lilm__train_assemble(o, ns, out, nf, model);
done:
    free(expected);
    free(fin);
    free(out);
    free(text);
    ug_free(&u);
    return st;
}
