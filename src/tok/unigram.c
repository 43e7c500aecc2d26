/*
 * unigram.c: best segmentation under a unigram model, making exactly the
 * choices sentencepiece 0.2.3 makes.
 *
 * best_*[i] describe the best path found so far that ends at byte i of the
 * normalised text: its score, where its last piece starts and that piece's
 * id (start -1: not reached yet). Start positions are visited one UTF-8
 * character at a time; from each, the trie yields every piece starting there,
 * shortest first, and each relaxes best_*[end] when it is strictly better, so
 * on equal scores the earlier start and then the shorter piece win. UNUSED
 * pieces are skipped; where no piece covers exactly the first character, an
 * unknown piece of that one character scores min_score - 10. User-defined
 * pieces score 0.1 * (bytes - 1).
 *
 * All arithmetic is float, as in sentencepiece, including its guard against
 * float precision loss on long texts: when the path score at the current start
 * leaves [-1e5, 1e5], that score is subtracted from every reached position
 * from the start up to the furthest end seen so far, so scores restart near 0.
 * Which segmentation wins among near-equal ones depends on this rounding, so
 * it is reproduced step for step. Backtracking from the end gives the spans.
 */
#include "tok/sp_vocab.h"

#include <stdlib.h>

#define SCORE_RESET_THRESHOLD 100000.0f

static lilm_status grow_best(lilm_tok_workspace *ws, size_t need)
{
    if (need <= ws->best_cap) return LILM_OK;
    void *bufs[3] = {ws->best_score, ws->best_start, ws->best_id};
    const size_t elem[3] = {sizeof(float), sizeof(int32_t), sizeof(int32_t)};
    lilm_status s = lilm_tok_grow_arrays(bufs, elem, 3, &ws->best_cap, need);
    ws->best_score = bufs[0];
    ws->best_start = bufs[1];
    ws->best_id = bufs[2];
    return s;
}

lilm_status lilm_unigram_encode(const lilm_sp_vocab *v, const char *s, size_t n, lilm_tok_workspace *ws,
                                size_t *n_spans)
{
    LILM_TRY(grow_best(ws, n + 1));
    float *best_score = ws->best_score;   /* (n + 1) */
    int32_t *best_start = ws->best_start; /* (n + 1) */
    int32_t *best_id = ws->best_id;       /* (n + 1) */
    for (size_t i = 0; i <= n; i++) {
        best_start[i] = -1;
        best_score[i] = 0.0f;
    }
    const lilm_trie_unit *units = v->trie.units;
    const int64_t n_units = (int64_t)v->trie.n_units;
    const unsigned char *u = (const unsigned char *)s;
    const float unk_score = v->unk_score;
    size_t start = 0, frontier = 0;
    while (start < n) {
        float here = best_score[start];
        if (here < -SCORE_RESET_THRESHOLD || here > SCORE_RESET_THRESHOLD) {
            const float offset = here;
            for (size_t i = start; i <= frontier; i++)
                if (i == start || best_start[i] != -1) best_score[i] -= offset;
            here = 0.0f;
        }
        size_t mblen = lilm_utf8_char_len(u[start]);
        if (mblen > n - start) mblen = n - start;
        int has_single = 0;
        int32_t node = 0;
        for (size_t pos = start; pos < n; pos++) {
            int64_t next = (int64_t)units[node].base + u[pos];
            if (next >= n_units || units[next].check != node) break;
            node = (int32_t)next;
            int32_t id = units[node].value;
            if (id < 0) continue;
            uint8_t type = v->type[id];
            if (type == LILM_SP_UNUSED) continue;
            size_t end = pos + 1, length = end - start;
            if (end > frontier) frontier = end;
            float score = type == LILM_SP_USER_DEFINED ? (float)(0.1 * (double)((int)length - 1)) : v->score[id];
            float cand = score + here;
            if (best_start[end] == -1 || cand > best_score[end]) {
                best_score[end] = cand;
                best_start[end] = (int32_t)start;
                best_id[end] = id;
            }
            if (length == mblen) has_single = 1;
        }
        if (!has_single) {
            size_t end = start + mblen;
            if (end > frontier) frontier = end;
            float cand = unk_score + here;
            if (best_start[end] == -1 || cand > best_score[end]) {
                best_score[end] = cand;
                best_start[end] = (int32_t)start;
                best_id[end] = v->unk_id;
            }
        }
        start += mblen;
    }
    /* backtrack: count, then fill from the back */
    size_t k = 0;
    for (int64_t end = (int64_t)n; end > 0; end = best_start[end]) {
        if (best_start[end] < 0 || best_start[end] >= end)
            return lilm_errorf(LILM_ERR_INTERNAL, "unigram lattice has no path to byte %lld", (long long)end);
        k++;
    }
    LILM_TRY(lilm_tok_workspace_spans(ws, k));
    size_t i = k;
    for (int64_t end = (int64_t)n; end > 0; end = best_start[end]) {
        i--;
        ws->span_start[i] = best_start[end];
        ws->span_len[i] = (int32_t)(end - best_start[end]);
        ws->span_id[i] = best_id[end];
    }
    *n_spans = k;
    return LILM_OK;
}
