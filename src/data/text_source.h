/*
 * text_source.h: training batches straight from UTF-8 text files.
 *
 * For runs without a prepared dataset (`data.text`): the files are read,
 * split into documents (one per line; blank lines skipped), tokenised with the
 * run's tokenizer (the bytes tokenizer by default), joined with EOS, and the
 * last val_fraction of the token stream is held out for validation. Training
 * batches are (T+1)-token windows at random offsets (deterministic for the
 * seed); validation batches walk the held-out stream in order, either as
 * training sees it (windows of T+1 tokens, wrapping around) or as one full
 * pass in which every held-out token is a target exactly once.
 */
#ifndef LILM_DATA_TEXT_SOURCE_H
#define LILM_DATA_TEXT_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"
#include "data/dataset.h"
#include "tok/tokenizer.h"

typedef struct lilm_text_source {
    int32_t *tokens;       /* (n_tokens) the whole tokenised text */
    size_t n_tokens;
    size_t n_train;        /* tokens [0, n_train) train, [n_train, n_tokens) validation */
    int64_t val_bytes;     /* UTF-8 bytes of the validation documents */
    size_t B, T;
    lilm_rng rng;
    size_t val_pos;        /* next validation window start */
    size_t full_pos;       /* next target of the full pass over the held-out tokens */
    int32_t pad_id;        /* target of padded positions in the full pass (the loss ignores it) */
    int32_t *inputs, *targets; /* (B, T) batch buffers */
} lilm_text_source;

/* path: a file, or a directory whose regular files are all read (sorted). */
lilm_status lilm_text_source_open(lilm_text_source *s, const char *path, const lilm_tokenizer *tok,
                                  double val_fraction, size_t B, size_t T, uint64_t seed);
void lilm_text_source_close(lilm_text_source *s);
/* Random training window batch. */
lilm_status lilm_text_source_next(void *ctx, lilm_batch *batch);
/* Next validation batch in order (wraps around); *wrapped set when it restarted. */
lilm_status lilm_text_source_next_val(lilm_text_source *s, lilm_batch *batch, int *wrapped);
/* The full pass: row k predicts the tokens [full_pos + k*T, ...) from the
 * tokens one before each, so every held-out token is a target once; rows that
 * run past the end are padded with pad_id. Starts at full_pos = n_train;
 * *done = 1 (batch untouched) once the stream is covered. */
lilm_status lilm_text_source_next_full(lilm_text_source *s, lilm_batch *batch, int *done);

#endif
