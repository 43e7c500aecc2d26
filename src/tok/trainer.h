/*
 * trainer.h: training SentencePiece tokenizers (unigram and BPE), `lilm tok train`.
 *
 * lilm_tok_train() reads the training text, normalises it the way the model
 * will (nmt_nfkc_cf or identity), splits it into whitespace-prefixed words and
 * counts them, then runs SentencePiece's unigram or BPE algorithm on the word
 * table and fills a ModelProto (sp_model.h) that both lilm's encoder and the
 * sentencepiece library load. Ids: the special pieces sit at the ids given
 * (defaults unk=0 bos=1 eos=2 pad=3), then the 256 byte pieces <0x00>..<0xFF>
 * when byte_fallback is set, then the learned pieces.
 *
 * Input formats: plain text (one sentence per line), JSONL (one object per line,
 * the text in `jsonl_field`), prepared documents (NUL-terminated records, as
 * `lilm tok encode --null` reads); newlines inside a JSONL text or a document
 * split sentences. Lines longer
 * than max_line_bytes (when > 0) are first cut at the last space before the
 * limit; sentences longer than max_sentence_length bytes are then skipped, as
 * spm_train does. Invalid UTF-8 is an error naming the file and line.
 *
 * Threads: the normalising/counting pass and the unigram E step and Viterbi
 * passes run on `threads` OpenMP threads. Word counts and BPE do not depend
 * on the thread count; unigram sums may differ in their last bits.
 */
#ifndef LILM_TOK_TRAINER_H
#define LILM_TOK_TRAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/status.h"
#include "tok/sp_model.h"

typedef enum lilm_train_format {
    LILM_TRAIN_TEXT = 0,  /* one sentence per line */
    LILM_TRAIN_JSONL = 1, /* one JSON object per line, text in jsonl_field */
    LILM_TRAIN_DOCS = 2,  /* prepared documents: each ends with a NUL byte */
} lilm_train_format;

typedef struct lilm_tok_train_opts {
    const char *const *inputs;      /* (n_inputs) paths */
    size_t n_inputs;
    lilm_train_format format;
    const char *jsonl_field;        /* default "text" */
    size_t max_line_bytes;          /* cut longer lines at spaces; 0 = never */
    int32_t model_type;             /* LILM_SP_MODEL_UNIGRAM or LILM_SP_MODEL_BPE */
    int32_t vocab_size;             /* default 8000 */
    const char *normalization;      /* "nmt_nfkc_cf" (default) or "identity" */
    double character_coverage;      /* (0, 1], default 1 (spm_train's is 0.9995) */
    bool byte_fallback;             /* default true (spm_train's is false) */
    int32_t unk_id, bos_id, eos_id, pad_id; /* -1 = none (unk is required); defaults 0 1 2 3 */
    int32_t max_sentence_length;    /* bytes, default 4192 */
    int64_t input_sentence_size;    /* sample this many sentences; 0 = all */
    int32_t max_sentencepiece_length; /* code points, default 16 */
    int32_t seed_sentencepiece_size;  /* unigram seeds, default 1000000 */
    double shrinking_factor;        /* unigram pruning, default 0.75 */
    int32_t num_sub_iterations;     /* unigram EM steps per pruning, default 2 */
    int threads;                    /* default 2 */
    uint64_t seed;                  /* sampling seed, default 0 */
    FILE *log;                      /* progress lines, or NULL for silence */
} lilm_tok_train_opts;

/* Sets every option to its default (inputs empty). */
void lilm_tok_train_opts_init(lilm_tok_train_opts *o);

/* Trains a model; *model is initialised here and owned by the caller
 * (lilm_sp_model_free). On failure it is left freed and zeroed. Bad options
 * or input: LILM_ERR_ARG / LILM_ERR_FORMAT with a message saying what to
 * change; unreadable files LILM_ERR_IO. */
lilm_status lilm_tok_train(const lilm_tok_train_opts *o, lilm_sp_model *model);

#endif
