/*
 * fuzz_tok_model.c: libFuzzer target for the .model reader and everything a
 * model file controls (`make fuzz-smoke`).
 *
 * Each input is taken as a .model file: parse it; a model that parses must
 * serialize and re-parse to the same bytes; a model that also validates is
 * loaded as a tokenizer (charsmap checks included) and must encode and decode
 * a few awkward texts without crashing. Any failure must be a clean status:
 * the sanitizers catch everything else. Seeds: tests/fuzz/corpus/fuzz_tok_model
 * (tiny unigram and BPE models with user-defined, unused and byte pieces and a
 * small compiled charsmap).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tok/sp_model.h"
#include "tok/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const texts[] = {
    "Hello  World \xef\xac\x81 \xe2\x91\xa0 \xef\xbc\xa1",
    "ab\xff\xc3 <X> \xe2\x96\x81\xe2\x96\x81 zz\t\n",
    "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9 a\xcc\x81",
    "",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lilm_sp_model m;
    if (lilm_sp_model_parse(&m, data, size) != LILM_OK) return 0;
    uint8_t *out;
    size_t n;
    if (lilm_sp_model_serialize(&m, &out, &n) == LILM_OK) {
        lilm_sp_model again;
        if (lilm_sp_model_parse(&again, out, n) != LILM_OK) abort();
        uint8_t *out2;
        size_t n2;
        if (lilm_sp_model_serialize(&again, &out2, &n2) == LILM_OK) {
            if (n2 != n || memcmp(out, out2, n) != 0) abort(); /* writing is a fixed point */
            free(out2);
        }
        lilm_sp_model_free(&again);
        free(out);
    }
    lilm_tokenizer *tok;
    if (lilm_tokenizer_from_model(&tok, &m) != LILM_OK) return 0;
    int32_t *ids = NULL;
    size_t cap = 0, k = 0;
    char *txt = NULL;
    size_t tcap = 0, tn = 0;
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        if (lilm_tokenizer_encode(tok, texts[i], strlen(texts[i]), &ids, &cap, &k) != LILM_OK) continue;
        for (size_t j = 0; j < k; j++)
            if (ids[j] < 0 || ids[j] >= lilm_tokenizer_vocab_size(tok)) abort();
        lilm_tokenizer_decode(tok, ids, k, &txt, &tcap, &tn);
    }
    /* every single id decodes */
    for (int32_t id = 0; id < lilm_tokenizer_vocab_size(tok) && id < 512; id++)
        lilm_tokenizer_decode(tok, &id, 1, &txt, &tcap, &tn);
    free(ids);
    free(txt);
    lilm_tokenizer_free(tok);
    return 0;
}
