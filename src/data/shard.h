/*
 * shard.h: writing one split of a dataset directory (<split>.tokens and
 * <split>.docs, layouts in dataset.h).
 *
 * Documents are appended in order; tokens stream to a temporary file beside
 * the target, the document index to another, and commit() writes both
 * headers (counts, CRC-32s) and renames both files into place. Until commit
 * nothing visible changes; abort() (or any failure) removes the temporaries.
 * Also: the little-endian and checksum helpers the readers share.
 */
#ifndef LILM_DATA_SHARD_H
#define LILM_DATA_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct lilm_shard_writer lilm_shard_writer;

typedef struct lilm_shard_summary {
    int64_t n_docs, n_tokens, n_bytes;
    uint32_t tokens_crc, docs_crc; /* payload CRC-32s, as in the headers */
} lilm_shard_summary;

/* tok_sha256: 64 hex chars of the tokenizer's SHA-256. */
lilm_status lilm_shard_writer_open(lilm_shard_writer **out, const char *dir, const char *split,
                                   int32_t vocab_size, int32_t eos_id, int32_t pad_id,
                                   const char *tok_sha256);
/* Appends one document: `ids` must already end with EOS; n_bytes is the UTF-8
 * byte count of its original text. */
lilm_status lilm_shard_writer_add(lilm_shard_writer *w, const int32_t *ids, size_t n, int64_t n_bytes);
void lilm_shard_writer_summary(const lilm_shard_writer *w, lilm_shard_summary *s);
/* Writes the headers and moves both files into place; frees w. */
lilm_status lilm_shard_writer_commit(lilm_shard_writer *w, lilm_shard_summary *s);
/* Removes the temporaries; frees w (NULL is fine). */
void lilm_shard_writer_abort(lilm_shard_writer *w);

/* CRC-32 (zlib's polynomial) over any length, continuing from `crc`. */
uint32_t lilm_crc32(uint32_t crc, const void *data, size_t n);

/* Little-endian field access for headers. */
void lilm_put_le64(uint8_t *p, uint64_t v);
uint32_t lilm_get_le32(const uint8_t *p);

#endif
