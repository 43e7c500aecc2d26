/*
 * normalizer.h: SentencePiece text normalisation (NormalizerSpec applied to text).
 *
 * normalize(text) = for each position, the longest rule of the precompiled
 * charsmap that matches there is replaced by its output (else one UTF-8
 * character is copied; a malformed byte becomes U+FFFD), then whitespace is
 * handled as the spec says: leading, trailing and repeated spaces dropped
 * (remove_extra_whitespaces), " " replaced by U+2581 "▁" (escape_whitespaces),
 * and one "▁" added in front (add_dummy_prefix; at the end instead when the
 * trainer spec's treat_whitespace_as_suffix is set). User-defined pieces, when
 * given, are matched first and copied unnormalised. The output is exactly what
 * sentencepiece's Normalizer::Normalize produces.
 *
 * precompiled_charsmap layout (all little-endian):
 *   uint32 T                      size in bytes of the trie (a multiple of 4)
 *   uint32 units[T / 4]           darts-clone double array: the keys are the
 *                                 rule inputs (UTF-8), the value of a key is an
 *                                 offset into `outputs`
 *   char outputs[]                the rule outputs, each NUL-terminated
 * A darts-clone unit u: has_leaf = (u >> 8) & 1; value = u & 0x7fffffff;
 * label = u & 0x800000ff; offset = (u >> 10) << ((u & 0x200) >> 6).
 * Walking byte c from node n: n' = n ^ offset(units[n]) ^ c, valid when
 * label(units[n']) == c; a key ends at n' when has_leaf(units[n']) and its
 * value is value(units[n' ^ offset(units[n'])]). Every index is bounds-checked
 * here, so a damaged blob can never make lilm read outside it.
 *
 * Internal to src/tok: other layers use tokenizer.h, sp_model.h and trainer.h
 * (scripts/lint.sh checks this).
 */
#ifndef LILM_TOK_NORMALIZER_H
#define LILM_TOK_NORMALIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "core/utf8.h"
#include "tok/sp_model.h"
#include "tok/trie.h"

typedef struct lilm_normalizer {
    const uint8_t *units;        /* (n_units * 4) the double array, borrowed from the spec */
    size_t n_units;
    const char *outputs;         /* (outputs_len) borrowed */
    size_t outputs_len;
    bool add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces;
    bool treat_whitespace_as_suffix;
    const lilm_trie *user_defined; /* optional, borrowed: pieces copied unnormalised */
    /* ASCII fast path, derived from the above: unless ascii_slow[b], byte
     * b < 0x80 followed by a byte c (or by nothing) with bit c of
     * ascii_cont[b] clear normalises on its own, to ascii_out[b]
     * (ascii_out_len[b] bytes; NULL: to itself). ascii_plain[b]: that
     * output when it is one byte other than a space and NUL, else 0. */
    const char *ascii_out[128];
    uint8_t ascii_out_len[128];
    uint8_t ascii_slow[128];
    uint8_t ascii_plain[128];
    uint32_t ascii_cont[128][8];
} lilm_normalizer;

/* Prepares a normaliser from a spec. The spec's charsmap bytes are borrowed and
 * must outlive the normaliser. A broken charsmap header is LILM_ERR_FORMAT. */
lilm_status lilm_normalizer_init(lilm_normalizer *nz, const lilm_sp_normalizer_spec *spec,
                                 bool treat_whitespace_as_suffix);

/* Sets the user-defined pieces (borrowed; NULL for none), which are matched
 * before the charsmap and copied unnormalised. */
void lilm_normalizer_set_user_defined(lilm_normalizer *nz, const lilm_trie *user_defined);


/* Normalises `len` bytes. *out grows with realloc (capacity *cap); the result is
 * NUL-terminated, *n_out excludes the NUL. If norm_to_orig is not NULL it
 * receives, for each output byte and one past the end, the input offset it came
 * from (sentencepiece's alignment; grown like *out, capacity *map_cap). */
lilm_status lilm_normalizer_normalize(const lilm_normalizer *nz, const char *in, size_t len, char **out,
                                      size_t *cap, size_t *n_out, size_t **norm_to_orig, size_t *map_cap);


#endif
