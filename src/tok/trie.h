/*
 * trie.h: a byte-wise double-array trie mapping strings to int32 values.
 *
 * Used for the vocabulary of the unigram and BPE encoders (piece -> id) and
 * for matching user-defined pieces. One transition is one array access:
 * from node s, byte c leads to t = units[s].base + c when units[t].check == s.
 * units[t].value is the value of the key ending at t, or -1. The root is
 * node 0. Built once from a key list; immutable and thread-safe afterwards.
 *
 * Internal to src/tok: other layers use tokenizer.h, sp_model.h and trainer.h
 * (scripts/lint.sh checks this).
 */
#ifndef LILM_TOK_TRIE_H
#define LILM_TOK_TRIE_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct lilm_trie_unit {
    int32_t base;   /* children of this node live at base + byte */
    int32_t check;  /* parent node index; -1 for a free slot */
    int32_t value;  /* value of the key ending here, or -1 */
} lilm_trie_unit;

typedef struct lilm_trie {
    lilm_trie_unit *units; /* (n_units) */
    size_t n_units;
} lilm_trie;

/* Builds from n keys (bytes, lens[i] long, empty keys ignored) with values
 * (>= 0). When a key repeats, the first one's value is kept. */
lilm_status lilm_trie_build(lilm_trie *t, const char *const *keys, const size_t *lens, const int32_t *values,
                            size_t n);
void lilm_trie_free(lilm_trie *t);

/* Follows byte c from node s: the next node, or -1 when there is none. */
static inline int32_t lilm_trie_next(const lilm_trie *t, int32_t s, unsigned char c)
{
    int64_t x = (int64_t)t->units[s].base + c;
    if (x < 0 || (size_t)x >= t->n_units || t->units[x].check != s) return -1;
    return (int32_t)x;
}

/* Value of the key that is exactly s[0..len), or -1. */
int32_t lilm_trie_find(const lilm_trie *t, const char *s, size_t len);

/* Length of the longest key that is a prefix of s[0..len), or 0. */
size_t lilm_trie_longest_prefix(const lilm_trie *t, const char *s, size_t len);

#endif
