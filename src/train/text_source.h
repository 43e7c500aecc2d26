/*
 * text_source.h: training batches straight from UTF-8 text files.
 *
 * For runs without a prepared dataset (`data.text`): the files are read,
 * split into documents (one per line; blank lines skipped), tokenised with the
 * run's tokenizer (the bytes tokenizer by default), joined with EOS, and the
 * last val_fraction of the token stream is held out for validation. Training
 * batches are (T+1)-token windows at random offsets (deterministic for the
 * seed); validation batches walk the held-out stream in order.
 */
#ifndef LILM_TRAIN_TEXT_SOURCE_H
#define LILM_TRAIN_TEXT_SOURCE_H

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

#endif
