/*
 * corpus.h: a run's data behind one interface, whatever its form.
 *
 * A corpus is either a prepared dataset (data.dataset: token shards read by
 * the shuffling loader, see dataset.h) or raw text (data.text: tokenised in
 * memory, see text_source.h). Either way it serves:
 *   - training batches (lilm_corpus_next, a lilm_batch_source callback);
 *   - validation batches, in one of two passes: `full` visits every held-out
 *     token once as a target (exact bits per byte from the held-out text's
 *     UTF-8 bytes); otherwise the held-out data as training sees it, from its
 *     start (the first K batches make a partial validation);
 *   - a cursor (the loader's position, or the text windows' RNG) to save in
 *     a checkpoint and restore for an exact resume;
 *   - byte counts: the held-out text's bytes and bytes per token.
 * The dataset's tokenizer is looked up here too (lilm_data_resolve_tokenizer).
 */
#ifndef LILM_DATA_CORPUS_H
#define LILM_DATA_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/status.h"
#include "data/dataset.h"
#include "tok/tokenizer.h"

typedef struct lilm_corpus lilm_corpus;

typedef struct lilm_corpus_opts {
    size_t B, T;               /* batch shape */
    uint64_t seed;             /* training order */
    int32_t pad_id;            /* target of padded positions (the loss ignores it) */
    int64_t max_vocab;         /* > 0: a dataset whose vocabulary is larger is refused */
    int train;                 /* 1: serve training batches too (0: validation only) */
    const char *val_split;     /* prepared datasets: the split to validate on (NULL: "val") */
} lilm_corpus_opts;

/* Where the training data stands, for checkpoints. */
typedef struct lilm_data_cursor {
    uint64_t rng[4];           /* raw text: the window RNG (0 for datasets) */
    lilm_loader_cursor loader; /* prepared dataset: the loader's cursor */
    int has_loader;
} lilm_data_cursor;

/* Opens data.dataset (checked against `tok`) or, if that is empty, data.text
 * (tokenised with `tok`). */
lilm_status lilm_corpus_open(lilm_corpus **out, const lilm_data_config *d, const lilm_tokenizer *tok,
                             const lilm_corpus_opts *o);
void lilm_corpus_close(lilm_corpus *c);

/* The next training batch (owned by the corpus, valid until the next call);
 * `ctx` is the corpus, so this is a lilm_batch_source callback. */
lilm_status lilm_corpus_next(void *ctx, lilm_batch *batch);

/* Starts a validation pass (full: every held-out token once). */
void lilm_corpus_val_begin(lilm_corpus *c, int full);
/* The pass's next batch; *done = 1 (batch untouched) at its end. The partial
 * pass over raw text wraps around and never ends by itself. */
lilm_status lilm_corpus_val_next(lilm_corpus *c, lilm_batch *batch, int *done);
/* Batches of a full validation pass (for budgeting its time). */
int64_t lilm_corpus_val_batches(const lilm_corpus *c);
/* UTF-8 bytes of the held-out text, and per held-out token. */
int64_t lilm_corpus_val_bytes(const lilm_corpus *c);
double lilm_corpus_val_bytes_per_token(const lilm_corpus *c);

void lilm_corpus_get_cursor(const lilm_corpus *c, lilm_data_cursor *cur);
lilm_status lilm_corpus_set_cursor(lilm_corpus *c, const lilm_data_cursor *cur);

/* The tokenizer a run uses: data.tokenizer if set; else the one the dataset
 * was prepared with (its meta.json; a path no longer there is looked for
 * beside the dataset dir); else, for raw text, "bytes". */
lilm_status lilm_data_resolve_tokenizer(const lilm_data_config *d, char *out, size_t n);

#endif
