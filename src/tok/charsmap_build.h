/*
 * charsmap_build.h: builds SentencePiece normalisation maps (the
 * `precompiled_charsmap` field of a .model) from Unicode data.
 *
 * A charsmap is a set of rules "code point sequence -> code point sequence"
 * applied by longest match from left to right. The nmt_nfkc_cf map is made
 * the way SentencePiece defines it, but from utf8proc's Unicode tables:
 *   1. NFKC of every single code point, plus every sequence whose NFKD form
 *      composes under NFC (all spellings of it that decompose to it);
 *   2. the NMT rules: tabs, newlines and some invisible, bidi-mark or
 *      separator code points become a space (U+061C too, as sentencepiece
 *      0.2 does), ASCII/C1 control characters are removed, FULLWIDTH TILDE
 *      is left alone;
 *   3. simple Unicode case folding of every target and of every other code
 *      point;
 * and after each step rules that shorter rules already imply are dropped.
 *
 * Blob layout (little-endian), as SentencePiece reads it:
 *   uint32 trie_bytes;
 *   uint32 trie[trie_bytes / 4];   darts-clone double array, key = UTF-8 of
 *                                  the source, value = byte offset of the
 *                                  target in `targets`
 *   char targets[];                NUL-terminated UTF-8 target strings
 * Double-array unit (32 bits): bits 0-7 label, bit 8 "has leaf", bit 9
 * offset scale (offset << 8), bits 10-31 offset; a leaf unit has bit 31 set
 * and the value in bits 0-30. A child of the node at p with base b = p ^
 * offset sits at b ^ byte; the leaf of a key ending at p sits at b.
 *
 * Internal to src/tok: other layers use tokenizer.h, sp_model.h and trainer.h
 * (scripts/lint.sh checks this).
 */
#ifndef LILM_TOK_CHARSMAP_BUILD_H
#define LILM_TOK_CHARSMAP_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/* Builds the nmt_nfkc_cf charsmap blob; *blob is malloc'd. Takes about a
 * second (it visits every code point). */
lilm_status lilm_charsmap_build_nmt_nfkc_cf(uint8_t **blob, size_t *n);

/* Compiles explicit rules into a blob. Rule i maps the UTF-8 string keys[i]
 * (non-empty) to values[i] (may be empty). Keys must be distinct. */
lilm_status lilm_charsmap_compile(const char *const *keys, const char *const *values,
                                  size_t n_rules, uint8_t **blob, size_t *n);

#endif
