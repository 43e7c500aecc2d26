/*
 * tokenizer.h: the tokenizer interface the rest of lilm uses.
 *
 * Two kinds sit behind one opaque handle:
 *   - SentencePiece models (.model files, unigram or BPE), read and written in
 *     SentencePiece's own ModelProto format so models move both ways between
 *     lilm and the sentencepiece library, with identical ids;
 *   - the built-in "bytes" tokenizer: ids 0..3 are unk/bos/eos/pad and byte b
 *     is id 4+b (vocab 260), for runs with no trained tokenizer.
 * A handle is immutable after loading and safe to use from many threads
 * (each thread with its own lilm_tok_workspace when it uses the _ws form).
 */
#ifndef LILM_TOK_TOKENIZER_H
#define LILM_TOK_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "tok/sp_model.h"

typedef struct lilm_tokenizer lilm_tokenizer;
/* Per-thread scratch buffers for encoding (see lilm_tokenizer_encode_ws). */
typedef struct lilm_tok_workspace lilm_tok_workspace;

typedef enum lilm_tok_kind {
    LILM_TOK_BYTES = 0,
    LILM_TOK_UNIGRAM = 1,
    LILM_TOK_BPE = 2,
} lilm_tok_kind;

/* Loads a .model file, or the bytes tokenizer when path is "bytes". */
lilm_status lilm_tokenizer_load(lilm_tokenizer **out, const char *path);
lilm_status lilm_tokenizer_bytes(lilm_tokenizer **out);
/* A tokenizer from an in-memory model (e.g. one just trained). Takes ownership
 * of *m's contents (m is left empty, also on failure); the hash is that of
 * lilm_sp_model_serialize(m), i.e. of the file lilm_sp_model_write would write. */
lilm_status lilm_tokenizer_from_model(lilm_tokenizer **out, lilm_sp_model *m);
void lilm_tokenizer_free(lilm_tokenizer *tok);

/* The model behind a SentencePiece tokenizer (NULL for "bytes"). */
const lilm_sp_model *lilm_tokenizer_model(const lilm_tokenizer *tok);

/* Special ids. For SentencePiece models they are found as sentencepiece does,
 * by the trainer spec's piece names ("<unk>", "<s>", "</s>", "<pad>" by
 * default): -1 when that piece is missing or not UNKNOWN (unk) / CONTROL. */
lilm_tok_kind lilm_tokenizer_kind(const lilm_tokenizer *tok);
int32_t lilm_tokenizer_vocab_size(const lilm_tokenizer *tok);
int32_t lilm_tokenizer_unk_id(const lilm_tokenizer *tok);
int32_t lilm_tokenizer_bos_id(const lilm_tokenizer *tok);
int32_t lilm_tokenizer_eos_id(const lilm_tokenizer *tok);
int32_t lilm_tokenizer_pad_id(const lilm_tokenizer *tok); /* -1 if none */
/* SHA-256 of the model file's bytes as 64 hex chars (for "bytes": of the
 * string "lilm-bytes-tokenizer-v1"); used to match datasets to runs. */
const char *lilm_tokenizer_sha256(const lilm_tokenizer *tok);

/* Encodes `len` bytes of UTF-8 text (no BOS/EOS added). Invalid UTF-8 is
 * handled as sentencepiece does. *ids is grown with realloc as needed;
 * *cap holds its capacity in elements; *n_out receives the count. */
lilm_status lilm_tokenizer_encode(const lilm_tokenizer *tok, const char *text, size_t len,
                                  int32_t **ids, size_t *cap, size_t *n_out);

/* The same, reusing a per-thread workspace (no allocation once warm): the way
 * to encode many texts. One workspace per thread; free with
 * lilm_tok_workspace_destroy(). */
lilm_status lilm_tok_workspace_create(lilm_tok_workspace **ws);
void lilm_tok_workspace_destroy(lilm_tok_workspace *ws);
lilm_status lilm_tokenizer_encode_ws(const lilm_tokenizer *tok, lilm_tok_workspace *ws, const char *text,
                                     size_t len, int32_t **ids, size_t *cap, size_t *n_out);

/* sentencepiece's normalisation of a text (for "bytes": a copy). *out grows as
 * needed and is NUL-terminated; *n_out excludes the NUL. */
lilm_status lilm_tokenizer_normalize(const lilm_tokenizer *tok, const char *text, size_t len, char **out,
                                     size_t *cap, size_t *n_out);

/* Decodes ids into UTF-8 exactly as sentencepiece's decode does (control ids
 * produce nothing, <unk> produces " \u2047 ", byte pieces are reassembled,
 * the leading "▁" is dropped). Ids outside the vocabulary are LILM_ERR_ARG.
 * *out grows as needed and is NUL-terminated; *n_out excludes the NUL. */
lilm_status lilm_tokenizer_decode(const lilm_tokenizer *tok, const int32_t *ids, size_t n,
                                  char **out, size_t *cap, size_t *n_out);

/* The piece text of an id (NULL if out of range). */
const char *lilm_tokenizer_piece(const lilm_tokenizer *tok, int32_t id);

#endif
