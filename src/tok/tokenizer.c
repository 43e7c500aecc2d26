/*
 * tokenizer.c: the tokenizer handle and the built-in bytes tokenizer.
 *
 * The bytes tokenizer needs no model file: ids 0..3 are unk, bos, eos and pad,
 * and byte b of the UTF-8 text is id 4 + b (vocab 260). It lets the whole
 * training loop run end to end on raw text. SentencePiece models are loaded
 * by the same lilm_tokenizer_load() (see the sp_* files).
 */
#include "tok/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

lilm_status lilm_tokenizer_load(lilm_tokenizer **out, const char *path)
{
    if (strcmp(path, "bytes") == 0) return lilm_tokenizer_bytes(out);
    return lilm_errorf(LILM_ERR_UNSUPPORTED, "%s: SentencePiece models are not supported in this build", path);
}

void lilm_tokenizer_free(lilm_tokenizer *tok) { free(tok); }

lilm_tok_kind lilm_tokenizer_kind(const lilm_tokenizer *tok) { return tok->kind; }
int32_t lilm_tokenizer_vocab_size(const lilm_tokenizer *tok) { return tok->vocab_size; }
int32_t lilm_tokenizer_unk_id(const lilm_tokenizer *tok) { return tok->unk_id; }
int32_t lilm_tokenizer_bos_id(const lilm_tokenizer *tok) { return tok->bos_id; }
int32_t lilm_tokenizer_eos_id(const lilm_tokenizer *tok) { return tok->eos_id; }
int32_t lilm_tokenizer_pad_id(const lilm_tokenizer *tok) { return tok->pad_id; }
const char *lilm_tokenizer_sha256(const lilm_tokenizer *tok) { return tok->sha256; }

static lilm_status grow(void **buf, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return LILM_OK;
    size_t ncap = *cap ? *cap : 64;
    while (ncap < need) ncap *= 2;
    void *p = realloc(*buf, ncap * elem);
    if (!p) return lilm_errorf(LILM_ERR_OOM, "out of memory (%zu elements)", ncap);
    *buf = p;
    *cap = ncap;
    return LILM_OK;
}

lilm_status lilm_tokenizer_encode(const lilm_tokenizer *tok, const char *text, size_t len,
                                  int32_t **ids, size_t *cap, size_t *n_out)
{
    LILM_TRY(grow((void **)ids, cap, len ? len : 1, sizeof **ids));
    for (size_t i = 0; i < len; i++) (*ids)[i] = LILM_BYTES_OFFSET + (unsigned char)text[i];
    *n_out = len;
    return LILM_OK;
}

lilm_status lilm_tokenizer_decode(const lilm_tokenizer *tok, const int32_t *ids, size_t n,
                                  char **out, size_t *cap, size_t *n_out)
{
    LILM_TRY(grow((void **)out, cap, n + 1, 1));
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (ids[i] >= LILM_BYTES_OFFSET && ids[i] < LILM_BYTES_VOCAB)
            (*out)[k++] = (char)(ids[i] - LILM_BYTES_OFFSET);
    (*out)[k] = '\0';
    *n_out = k;
    return LILM_OK;
}

const char *lilm_tokenizer_piece(const lilm_tokenizer *tok, int32_t id)
{
    if (id < 0 || id >= tok->vocab_size) return NULL;
    return tok->pieces[id];
}
