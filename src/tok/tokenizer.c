/*
 * tokenizer.c: the tokenizer handle: the built-in bytes tokenizer and
 * SentencePiece models (sp_vocab.c does the SentencePiece work).
 *
 * The bytes tokenizer needs no model file: ids 0..3 are unk, bos, eos and pad,
 * and byte b of the UTF-8 text is id 4 + b (vocab 260). It lets the whole
 * training loop run end to end on raw text. A SentencePiece tokenizer owns
 * its lilm_sp_vocab; its hash is the SHA-256 of the .model bytes.
 */
#include "tok/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/sha256.h"
#include "tok/tok_impl.h"

#define LILM_BYTES_OFFSET 4
#define LILM_BYTES_VOCAB (256 + LILM_BYTES_OFFSET)
/* sha256("lilm-bytes-tokenizer-v1") */
#define LILM_BYTES_SHA "f9b7c4d1fc17522668a7a79ee95d538a6848e76dd2c7bac755317d2ee96b4c02"

struct lilm_tokenizer {
    lilm_tok_kind kind;
    int32_t vocab_size;
    int32_t unk_id, bos_id, eos_id, pad_id;
    char sha256[65];
    char pieces[LILM_BYTES_VOCAB][8]; /* bytes kind: printable piece names */
    lilm_sp_vocab *sp;                /* SentencePiece kinds */
};

lilm_status lilm_tokenizer_bytes(lilm_tokenizer **out)
{
    lilm_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return lilm_errorf(LILM_ERR_OOM, "out of memory creating the bytes tokenizer");
    t->kind = LILM_TOK_BYTES;
    t->vocab_size = LILM_BYTES_VOCAB;
    t->unk_id = 0; t->bos_id = 1; t->eos_id = 2; t->pad_id = 3;
    memcpy(t->sha256, LILM_BYTES_SHA, 65);
    snprintf(t->pieces[0], sizeof t->pieces[0], "%s", "<unk>");
    snprintf(t->pieces[1], sizeof t->pieces[0], "%s", "<s>");
    snprintf(t->pieces[2], sizeof t->pieces[0], "%s", "</s>");
    snprintf(t->pieces[3], sizeof t->pieces[0], "%s", "<pad>");
    for (int b = 0; b < 256; b++)
        snprintf(t->pieces[LILM_BYTES_OFFSET + b], sizeof t->pieces[0], "<0x%02X>", b);
    *out = t;
    return LILM_OK;
}

/* Takes *m, hashes `raw` (the model's bytes). */
static lilm_status from_model(lilm_tokenizer **out, lilm_sp_model *m, const void *raw, size_t raw_n)
{
    lilm_tokenizer *t = calloc(1, sizeof *t);
    lilm_sp_vocab *v = calloc(1, sizeof *v);
    if (!t || !v) {
        free(t);
        free(v);
        lilm_sp_model_free(m);
        return lilm_errorf(LILM_ERR_OOM, "out of memory loading a tokenizer");
    }
    lilm_status s = lilm_sp_vocab_init(v, m);
    if (s != LILM_OK) {
        free(t);
        free(v);
        return s;
    }
    t->kind = v->model_type == LILM_SP_MODEL_BPE ? LILM_TOK_BPE : LILM_TOK_UNIGRAM;
    t->vocab_size = v->n;
    /* as sentencepiece's processor finds them: by the trainer spec's piece names */
    t->unk_id = v->unk_id;
    t->bos_id = v->bos_id;
    t->eos_id = v->eos_id;
    t->pad_id = v->pad_id;
    lilm_sha256_hex(raw, raw_n, t->sha256);
    t->sp = v;
    *out = t;
    return LILM_OK;
}

lilm_status lilm_tokenizer_from_model(lilm_tokenizer **out, lilm_sp_model *m)
{
    uint8_t *raw;
    size_t n;
    lilm_status s = lilm_sp_model_serialize(m, &raw, &n);
    if (s != LILM_OK) {
        lilm_sp_model_free(m);
        return s;
    }
    s = from_model(out, m, raw, n);
    free(raw);
    return s;
}

lilm_status lilm_tokenizer_load(lilm_tokenizer **out, const char *path)
{
    if (strcmp(path, "bytes") == 0) return lilm_tokenizer_bytes(out);
    char *data = NULL;
    size_t n = 0;
    LILM_TRY(lilm_read_file(path, &data, &n));
    lilm_sp_model m;
    lilm_status s = lilm_sp_model_parse_file(&m, (const uint8_t *)data, n);
    if (s == LILM_OK) s = from_model(out, &m, data, n);
    free(data);
    if (s != LILM_OK)
        return lilm_error_context(s, "%s: not a usable SentencePiece model: ", path);
    return LILM_OK;
}

void lilm_tokenizer_free(lilm_tokenizer *tok)
{
    if (!tok) return;
    if (tok->sp) {
        lilm_sp_vocab_free(tok->sp);
        free(tok->sp);
    }
    free(tok);
}

lilm_tok_kind lilm_tokenizer_kind(const lilm_tokenizer *tok) { return tok->kind; }
int32_t lilm_tokenizer_vocab_size(const lilm_tokenizer *tok) { return tok->vocab_size; }
int32_t lilm_tokenizer_unk_id(const lilm_tokenizer *tok) { return tok->unk_id; }
int32_t lilm_tokenizer_bos_id(const lilm_tokenizer *tok) { return tok->bos_id; }
int32_t lilm_tokenizer_eos_id(const lilm_tokenizer *tok) { return tok->eos_id; }
int32_t lilm_tokenizer_pad_id(const lilm_tokenizer *tok) { return tok->pad_id; }
const char *lilm_tokenizer_sha256(const lilm_tokenizer *tok) { return tok->sha256; }
const lilm_sp_model *lilm_tokenizer_model(const lilm_tokenizer *tok) { return tok->sp ? &tok->sp->model : NULL; }

lilm_status lilm_tok_workspace_create(lilm_tok_workspace **ws)
{
    *ws = calloc(1, sizeof **ws);
    if (!*ws) return lilm_errorf(LILM_ERR_OOM, "out of memory creating a tokenizer workspace");
    return LILM_OK;
}

void lilm_tok_workspace_destroy(lilm_tok_workspace *ws)
{
    if (!ws) return;
    lilm_tok_workspace_free(ws);
    free(ws);
}

lilm_status lilm_tokenizer_encode_ws(const lilm_tokenizer *tok, lilm_tok_workspace *ws, const char *text,
                                     size_t len, int32_t **ids, size_t *cap, size_t *n_out)
{
    if (tok->sp) return lilm_sp_vocab_encode(tok->sp, text, len, ws, ids, cap, n_out);
    LILM_TRY(lilm_grow((void **)ids, cap, len ? len : 1, sizeof **ids));
    for (size_t i = 0; i < len; i++) (*ids)[i] = LILM_BYTES_OFFSET + (unsigned char)text[i];
    *n_out = len;
    return LILM_OK;
}

lilm_status lilm_tokenizer_encode(const lilm_tokenizer *tok, const char *text, size_t len,
                                  int32_t **ids, size_t *cap, size_t *n_out)
{
    lilm_tok_workspace ws = {0};
    ws.one_shot = true;
    lilm_status s = lilm_tokenizer_encode_ws(tok, &ws, text, len, ids, cap, n_out);
    lilm_tok_workspace_free(&ws);
    return s;
}

lilm_status lilm_tokenizer_normalize(const lilm_tokenizer *tok, const char *text, size_t len, char **out,
                                     size_t *cap, size_t *n_out)
{
    if (tok->sp) return lilm_normalizer_normalize(&tok->sp->norm, text, len, out, cap, n_out, NULL, NULL);
    LILM_TRY(lilm_grow((void **)out, cap, len + 1, 1));
    if (len) memcpy(*out, text, len);
    (*out)[len] = '\0';
    *n_out = len;
    return LILM_OK;
}

lilm_status lilm_tokenizer_decode(const lilm_tokenizer *tok, const int32_t *ids, size_t n,
                                  char **out, size_t *cap, size_t *n_out)
{
    if (tok->sp) return lilm_sp_vocab_decode(tok->sp, ids, n, out, cap, n_out);
    LILM_TRY(lilm_grow((void **)out, cap, n + 1, 1));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= LILM_BYTES_VOCAB)
            return lilm_errorf(LILM_ERR_ARG, "invalid id %d at position %zu (vocabulary size %d)", (int)ids[i], i,
                               LILM_BYTES_VOCAB);
        if (ids[i] >= LILM_BYTES_OFFSET) (*out)[k++] = (char)(ids[i] - LILM_BYTES_OFFSET); /* below: special ids */
    }
    (*out)[k] = '\0';
    *n_out = k;
    return LILM_OK;
}

const char *lilm_tokenizer_piece(const lilm_tokenizer *tok, int32_t id)
{
    if (id < 0 || id >= tok->vocab_size) return NULL;
    if (tok->sp) return tok->sp->model.pieces[id].piece;
    return tok->pieces[id];
}
