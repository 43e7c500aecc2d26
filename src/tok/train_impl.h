/*
 * train_impl.h: what the tokenizer trainers share (internal to src/tok; the
 * public interface is trainer.h).
 *
 * The dependencies go one way: train.c (lilm_tok_train) loads the text
 * (train_input.c) and calls one trainer (train_bpe.c, train_unigram.c); the
 * trainers use the leaf helpers of train_common.c (word tables, the piece
 * validity rule, assembling the model) and train_script.c (Unicode scripts).
 */
#ifndef LILM_TOK_TRAIN_IMPL_H
#define LILM_TOK_TRAIN_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "core/utf8.h"
#include "tok/sp_model.h"
#include "tok/trainer.h"

#define LILM__WS 0x2581u   /* "▁", the escaped space */
#define LILM__UNK_CHAR 0x2585u /* stands in for characters left out by character_coverage */

/* Script ids (train_script.c); ANY = no script constraint. */
#define LILM__SCRIPT_ANY (-1)
#define LILM__SCRIPT_COMMON 0
#define LILM__SCRIPT_INHERITED 1
#define LILM__SCRIPT_HAN 2
#define LILM__SCRIPT_HIRAGANA 3
#define LILM__SCRIPT_KATAKANA 4
int lilm__train_script(uint32_t cp);

/* A word table: distinct normalised words with their counts, sorted by count
 * (descending) then bytes. Words are UTF-8 in `pool`. */
typedef struct lilm__words {
    char *pool;          /* (pool_len) all word bytes */
    size_t pool_len;
    size_t *off;         /* (n) */
    uint32_t *len;       /* (n) bytes */
    int64_t *freq;       /* (n) */
    size_t n;
    uint32_t *chars;     /* (n_chars) required characters, most frequent first */
    int64_t *char_freq;  /* (n_chars) */
    size_t n_chars;
    int64_t n_sentences; /* sentences used */
    int64_t n_skipped;   /* too long or empty after normalisation */
} lilm__words;

void lilm__words_free(lilm__words *w);

/* Reads, samples, normalises and counts the input (train_input.c). */
lilm_status lilm__train_load(const lilm_tok_train_opts *o, const lilm_sp_normalizer_spec *ns,
                             lilm__words *out);

/* SentencePiece's piece-validity rule for code points cp[0..n): length, no
 * unk char, "▁" only first, one script (Hiragana/Katakana count as Han,
 * Inherited takes the previous script). */
bool lilm__train_valid_piece(const uint32_t *cp, size_t n, int32_t max_len);

/* A learned piece (UTF-8, owned by the caller's pool) and its score. */
typedef struct lilm__piece {
    const char *s;
    size_t len;
    float score;
} lilm__piece;

/* Fills `model` from learned pieces, in order, after the special and byte
 * pieces, plus the trainer and normaliser specs (train_common.c). */
lilm_status lilm__train_assemble(const lilm_tok_train_opts *o, const lilm_sp_normalizer_spec *ns,
                                 const lilm__piece *pieces, size_t n_pieces, lilm_sp_model *model);

/* Number of special + byte pieces the options reserve. */
int32_t lilm__train_n_meta(const lilm_tok_train_opts *o);

lilm_status lilm__train_bpe(const lilm_tok_train_opts *o, const lilm__words *w,
                            const lilm_sp_normalizer_spec *ns, lilm_sp_model *model);
lilm_status lilm__train_unigram(const lilm_tok_train_opts *o, const lilm__words *w,
                                const lilm_sp_normalizer_spec *ns, lilm_sp_model *model);

#endif
