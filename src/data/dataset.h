/*
 * dataset.h: prepared token datasets and the batch loader training reads.
 *
 * `lilm data prepare` writes a dataset directory:
 *   meta.json                 sources, tokenizer sha256, split rule, counts
 *   <split>.tokens            versioned little-endian header + token ids
 *                             (uint16 when vocab <= 65536, else uint32), EOS after
 *                             every document
 *   <split>.docs              per-document token offset, token count and the
 *                             UTF-8 byte count of its original text (for BPB)
 * for each split ("train", "val"). The loader memory-maps a split and serves
 * (B, T+1) windows as int32 inputs/targets, packed or one document per row.
 *
 * Binary layouts (all integers little-endian; docs/data.md has the details):
 *   <split>.tokens: 128-byte header
 *     0 magic "LILMTOKS" | 8 u32 version (1) | 12 u32 bytes per token (2|4)
 *     16 u32 vocab size | 20 i32 eos id | 24 i32 pad id (-1: none) | 28 u32 0
 *     32 u64 tokens | 40 u64 docs | 48 u64 UTF-8 bytes | 56 u64 payload CRC-32
 *     64 u8[32] tokenizer SHA-256 | 96..119 zero | 120 u64 CRC-32 of bytes 0..119
 *   then the tokens (uint16 or uint32 each).
 *   <split>.docs: 64-byte header
 *     0 magic "LILMDOCS" | 8 u32 version (1) | 12 u32 0 | 16 u64 docs
 *     24 u64 tokens | 32 u64 UTF-8 bytes | 40 u64 payload CRC-32 | 48 u64 0
 *     56 u64 CRC-32 of bytes 0..55
 *   then per document: u64 first token offset, u64 token count (with its EOS),
 *   u64 UTF-8 byte count of its original text.
 * Invariants checked on open: documents are contiguous and cover every
 * token, each ends with EOS, every id < vocab size, counts and checksums agree,
 * and the split's checksum matches the one meta.json recorded (so a crash
 * between committing shards and meta.json is detected).
 */
#ifndef LILM_DATA_DATASET_H
#define LILM_DATA_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/status.h"

typedef struct lilm_dataset lilm_dataset; /* one memory-mapped split */

#define LILM_DATASET_VERSION 1
#define LILM_DATASET_TOKENS_MAGIC "LILMTOKS"
#define LILM_DATASET_DOCS_MAGIC "LILMDOCS"
#define LILM_DATASET_TOKENS_HEADER 128
#define LILM_DATASET_DOCS_HEADER 64

typedef struct lilm_dataset_info {
    int64_t n_docs;
    int64_t n_tokens;       /* including one EOS per document */
    int64_t n_bytes;        /* UTF-8 bytes of the documents' original text */
    int32_t vocab_size;
    int32_t eos_id, pad_id;
    char tokenizer_sha256[65];
} lilm_dataset_info;

/* Opens DIR/<split>.tokens and DIR/<split>.docs, validating headers and checksums. */
lilm_status lilm_dataset_open(lilm_dataset **out, const char *dir, const char *split);
void lilm_dataset_close(lilm_dataset *ds);
void lilm_dataset_get_info(const lilm_dataset *ds, lilm_dataset_info *info);

/* Document i: its tokens (including the trailing EOS) copied as int32 into
 * `dst` (room for at least *n tokens on entry; *n = actual count on exit). */
lilm_status lilm_dataset_doc(const lilm_dataset *ds, int64_t i, int32_t *dst, size_t *n,
                             int64_t *n_bytes);

/* Where document i lies: first token, token count (with EOS), UTF-8 bytes. */
void lilm_dataset_doc_span(const lilm_dataset *ds, int64_t i, int64_t *offset, int64_t *n_tokens,
                           int64_t *n_bytes);
/* Copies tokens [pos, pos + n) of the split (all documents back to back,
 * each followed by EOS) into dst as int32; the range must lie inside. */
void lilm_dataset_tokens(const lilm_dataset *ds, int64_t pos, size_t n, int32_t *dst);

/* LILM_ERR_MISMATCH (with a HINT) unless the dataset was prepared with the
 * tokenizer whose SHA-256 hex is `sha256` (see lilm_tokenizer_sha256). */
lilm_status lilm_dataset_check_tokenizer(const lilm_dataset *ds, const char *sha256);

/* ---- the batch loader ---- */
typedef struct lilm_loader lilm_loader;

typedef struct lilm_batch {
    int32_t *inputs;   /* (B, T) */
    int32_t *targets;  /* (B, T); pad_id where nothing is to be predicted */
    size_t B, T;
    int64_t n_targets; /* targets that count (not pad) */
} lilm_batch;

/* The loader's position, saved in checkpoints and restored for exact resumes.
 * The order of an epoch is a pure function of the RNG state at its start, so
 * the cursor holds that state and how far into the epoch the consumer got;
 * restoring replays the shuffle bookkeeping (cheap: no token is touched). */
typedef struct lilm_loader_cursor {
    uint64_t rng_state[4]; /* xoshiro256** state at the start of the epoch */
    int64_t epoch;
    int64_t position;  /* blocks (packed) / documents handed out in this epoch */
    int64_t buffered;  /* the shuffle-buffer size it was made with (checked on restore) */
} lilm_loader_cursor;

/* A loader of (B, T) batches over `ds` (which must outlive it). PACKED:
 * (T+1)-token windows overlapping by one, through a shuffle buffer of
 * `shuffle_buffer` blocks (the reference uses 1024); DOCUMENT: one document
 * per row, truncated to T+1 and padded (shuffle_buffer is ignored). `seed`
 * fixes the order; prefetch = 1 fills batches ahead on a thread. */
lilm_status lilm_loader_create(lilm_loader **out, lilm_dataset *ds, lilm_loader_mode mode,
                               size_t B, size_t T, size_t shuffle_buffer, uint64_t seed,
                               int prefetch);
void lilm_loader_free(lilm_loader *ld);
/* Fills `batch` (owned by the loader, valid until the next call). */
lilm_status lilm_loader_next(lilm_loader *ld, lilm_batch *batch);
void lilm_loader_get_cursor(const lilm_loader *ld, lilm_loader_cursor *c);
lilm_status lilm_loader_set_cursor(lilm_loader *ld, const lilm_loader_cursor *c);

/* ---- evaluation: every token once ----
 * Visits the split in order, each token at most once as a target.
 * predict_first = 1 (the default; full-validation BPB): an EOS stands in front of the
 *   stream (PACKED) or of each document (DOCUMENT), so every token, EOS
 *   included, is a target exactly once: the n_targets of all batches add up
 *   to info.n_tokens, and BPB = sum of losses / (ln 2 * info.n_bytes).
 * predict_first = 0 (as training sees the data): nothing is put in front, so
 *   the first token of the stream (PACKED) or of each document (DOCUMENT) is
 *   never a target: n_tokens - 1 or n_tokens - n_docs targets.
 *   PACKED: the split as one stream, cut into rows of T+1 tokens overlapping
 *     by one (context crosses document boundaries, as in packed training).
 *   DOCUMENT: each document on its own rows; a document longer than T
 *     continues on the next row. Context never crosses documents.
 * The last batch may be partly padding (pad targets do not count). */
typedef struct lilm_eval_iter lilm_eval_iter;
lilm_status lilm_eval_iter_create(lilm_eval_iter **out, const lilm_dataset *ds, lilm_loader_mode mode,
                                  size_t B, size_t T);
/* Switches predict_first (see above) and restarts the iteration. */
void lilm_eval_iter_predict_first(lilm_eval_iter *it, int on);
/* Fills the next batch and returns LILM_OK; *done = 1 (batch untouched)
 * once everything was visited. */
lilm_status lilm_eval_iter_next(lilm_eval_iter *it, lilm_batch *batch, int *done);
void lilm_eval_iter_reset(lilm_eval_iter *it);
void lilm_eval_iter_free(lilm_eval_iter *it);

#endif
