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
 */
#ifndef LILM_DATA_DATASET_H
#define LILM_DATA_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/status.h"

typedef struct lilm_dataset lilm_dataset; /* one memory-mapped split */

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

/* ---- the batch loader ---- */
typedef struct lilm_loader lilm_loader;

typedef struct lilm_batch {
    int32_t *inputs;   /* (B, T) */
    int32_t *targets;  /* (B, T); pad_id where nothing is to be predicted */
    size_t B, T;
    int64_t n_targets; /* targets that count (not pad) */
} lilm_batch;

/* The loader's position, saved in checkpoints and restored for exact resumes. */
typedef struct lilm_loader_cursor {
    uint64_t rng_state[4];
    int64_t epoch;
    int64_t position;  /* next block/document index in the epoch's order */
    int64_t buffered;  /* internal: shuffle-buffer fill (packed mode) */
} lilm_loader_cursor;

lilm_status lilm_loader_create(lilm_loader **out, lilm_dataset *ds, lilm_loader_mode mode,
                               size_t B, size_t T, size_t shuffle_buffer, uint64_t seed,
                               int prefetch);
void lilm_loader_free(lilm_loader *ld);
/* Fills `batch` (owned by the loader, valid until the next call). */
lilm_status lilm_loader_next(lilm_loader *ld, lilm_batch *batch);
void lilm_loader_get_cursor(const lilm_loader *ld, lilm_loader_cursor *c);
lilm_status lilm_loader_set_cursor(lilm_loader *ld, const lilm_loader_cursor *c);

#endif
