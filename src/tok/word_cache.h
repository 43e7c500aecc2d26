/*
 * word_cache.h: a per-thread cache from a word's bytes to the encoder's
 * result for it (internal to src/tok).
 *
 * Both encoders split normalised text into words at "▁" when their
 * vocabulary allows it (no usable piece holds "▁" past its first byte, see
 * bpe.c and unigram.c), and natural text repeats its words, so each word is
 * segmented once per cache lifetime. The value stored for a word is an opaque
 * blob of 4-byte-aligned bytes the encoder defines (spans, and for unigram
 * the facts that say when a cached result may be reused).
 *
 * Open addressing over a fixed table of slots; keys and values live in one
 * growing arena. The table is emptied when half full, and when it is bound
 * to another vocabulary (owner pointer or fingerprint), so a workspace shared
 * by several tokenizers never mixes their words. Out of memory while storing
 * just drops the entry: the cache is an accelerator, never a source of errors
 * once created.
 *
 * Internal to src/tok: other layers use tokenizer.h, sp_model.h and trainer.h
 * (scripts/lint.sh checks this).
 */
#ifndef LILM_TOK_WORD_CACHE_H
#define LILM_TOK_WORD_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/* Longest word kept; longer ones are always encoded from scratch. */
#define LILM_WORD_CACHE_MAX_WORD 64

typedef struct lilm_word_cache lilm_word_cache;

/* Creates *c when NULL; empties it when `owner` or `fingerprint` differ from
 * the ones it was last bound to. */
lilm_status lilm_word_cache_bind(lilm_word_cache **c, const void *owner, uint64_t fingerprint);
void lilm_word_cache_free(lilm_word_cache *c);

uint64_t lilm_word_cache_hash(const char *key, size_t len);

/* The value stored for key[0..len) (hash from lilm_word_cache_hash), or NULL;
 * *val_len receives its size in bytes. Valid until the next put. */
const void *lilm_word_cache_get(const lilm_word_cache *c, const char *key, size_t len, uint64_t hash,
                                size_t *val_len);

/* Stores a value (val_len a multiple of 4) for a key not in the cache. */
void lilm_word_cache_put(lilm_word_cache *c, const char *key, size_t len, uint64_t hash, const void *val,
                         size_t val_len);

#endif
