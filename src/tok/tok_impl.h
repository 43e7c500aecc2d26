/*
 * tok_impl.h: the tokenizer's internals (internal to src/tok; the public
 * interfaces are tokenizer.h, sp_model.h and trainer.h): a loaded
 * SentencePiece model ready for encoding (lilm_sp_vocab, sp_vocab.c).
 *
 * Built once from a validated lilm_sp_model: the normaliser, a trie of the
 * pieces sentencepiece matches in text (NORMAL, USER_DEFINED and UNUSED; not
 * CONTROL, UNKNOWN or BYTE), per-id score and type, the byte-fallback ids and
 * the unigram constants. Immutable afterwards, so many threads can encode
 * with it at once, each with its own lilm_tok_workspace.
 *
 * The model encoders (unigram.c, bpe.c) turn a normalised string into spans
 * (start, length, id) that tile it (id -1 = unknown when the model has no
 * UNKNOWN piece); lilm_sp_vocab_encode() then applies sentencepiece's
 * post-processing: an unknown span becomes its bytes as <0xXX> ids under
 * byte_fallback, else consecutive unknown spans merge into one.
 */
#ifndef LILM_TOK_TOK_IMPL_H
#define LILM_TOK_TOK_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "core/grow.h"
#include "tok/normalizer.h"
#include "tok/sp_model.h"
#include "tok/trie.h"
#include "tok/word_cache.h"

typedef struct lilm_sp_vocab {
    lilm_sp_model model;           /* owned */
    int32_t model_type;            /* lilm_sp_model_type */
    int32_t n;                     /* pieces */
    float *score;                  /* (n) */
    uint8_t *type;                 /* (n) lilm_sp_piece_type */
    lilm_trie trie;                /* unigram: NORMAL/USER_DEFINED/UNUSED pieces -> id; BPE: all pieces */
    lilm_trie user_defined;        /* USER_DEFINED pieces (n_units <= 1 when none) */
    lilm_trie reserved;            /* unigram: CONTROL, UNKNOWN and BYTE pieces -> id (BPE: empty) */
    lilm_normalizer norm;
    lilm_normalizer denorm;
    bool has_denorm;
    bool byte_fallback;
    bool bpe_words;                /* BPE may work word by word (see bpe.c) */
    bool unigram_words;            /* unigram may work word by word (see unigram.c) */
    uint64_t fingerprint;          /* hash of the pieces, scores and types: whose words a cache holds */
    int32_t unk_id;                /* the UNKNOWN piece, or -1 (allowed with byte_fallback) */
    int32_t bos_id, eos_id, pad_id; /* ids of the trainer spec's bos/eos/pad pieces if CONTROL, else -1 */
    int32_t byte_id[256];          /* id of <0xXX>, or unk_id */
    float min_score;               /* over NORMAL pieces, as sentencepiece computes it */
    float unk_score;               /* min_score - 10 */
} lilm_sp_vocab;

/* Reusable buffers for one thread's encode calls. Zero-initialise; free with
 * lilm_tok_workspace_free(). */
typedef struct lilm_tok_workspace {
    char *norm;                    /* normalised text */
    size_t norm_cap;
    int32_t *span_start, *span_len, *span_id;  /* (span_cap) model output */
    size_t span_cap;
    struct lilm_lattice_cell *cells; /* (cells_cap) unigram.c's lattice */
    size_t cells_cap;
    void *bpe;                     /* bpe.c's own buffers */
    lilm_word_cache *words;        /* segmented words of the last vocabulary used (NULL until needed) */
    bool one_shot;                 /* a single encode: a word cache would cost more than it saves */
} lilm_tok_workspace;

void lilm_tok_workspace_free(lilm_tok_workspace *ws);

/* Takes ownership of *m (validated here) and builds the encoder tables. */
lilm_status lilm_sp_vocab_init(lilm_sp_vocab *v, lilm_sp_model *m);
void lilm_sp_vocab_free(lilm_sp_vocab *v);

/* Grows the span arrays to hold at least `need` spans. */
lilm_status lilm_tok_workspace_grow_spans(lilm_tok_workspace *ws, size_t need);
static inline lilm_status lilm_tok_workspace_spans(lilm_tok_workspace *ws, size_t need)
{
    return need <= ws->span_cap ? LILM_OK : lilm_tok_workspace_grow_spans(ws, need);
}

/* Model encoders: spans over the normalised text s[0..n) into ws->span_*. */
lilm_status lilm_unigram_encode(const lilm_sp_vocab *v, const char *s, size_t n, lilm_tok_workspace *ws,
                                size_t *n_spans);
lilm_status lilm_bpe_encode(const lilm_sp_vocab *v, const char *s, size_t n, lilm_tok_workspace *ws,
                            size_t *n_spans);
void lilm_bpe_workspace_free(void *bpe);

/* Full pipeline: normalise, run the model, post-process; appends to *ids. */
lilm_status lilm_sp_vocab_encode(const lilm_sp_vocab *v, const char *text, size_t len, lilm_tok_workspace *ws,
                                 int32_t **ids, size_t *cap, size_t *n_out);

/* sentencepiece's Decode of ids (out-of-range ids are LILM_ERR_ARG). */
lilm_status lilm_sp_vocab_decode(const lilm_sp_vocab *v, const int32_t *ids, size_t n, char **out, size_t *cap,
                                 size_t *n_out);

#endif
