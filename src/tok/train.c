/*
 * train.c: lilm_tok_train(), the entry point of tokenizer training: checks the
 * options, builds the normaliser spec (the nmt_nfkc_cf charsmap, or identity),
 * loads and counts the text (train_input.c) and runs the unigram or BPE
 * trainer on the word table. Also the options' defaults, which are the
 * reference's settings.
 */
#include "tok/train_impl.h"

#include <stdlib.h>
#include <string.h>

#include "tok/charsmap_build.h"

void lilm_tok_train_opts_init(lilm_tok_train_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->format = LILM_TRAIN_TEXT;
    o->jsonl_field = "text";
    o->model_type = LILM_SP_MODEL_UNIGRAM;
    o->vocab_size = 8000;
    o->normalization = "nmt_nfkc_cf";
    o->character_coverage = 1.0; /* the reference's settings: every character, */
    o->byte_fallback = true;     /* bytes for anything unseen */
    o->unk_id = 0;
    o->bos_id = 1;
    o->eos_id = 2;
    o->pad_id = 3;
    o->max_sentence_length = 4192;
    o->max_sentencepiece_length = 16;
    o->seed_sentencepiece_size = 1000000;
    o->shrinking_factor = 0.75;
    o->num_sub_iterations = 2;
    o->threads = 2;
}

static lilm_status check_opts(const lilm_tok_train_opts *o)
{
    if (o->n_inputs == 0) return lilm_errorf(LILM_ERR_ARG, "no input files given");
    if (o->model_type != LILM_SP_MODEL_UNIGRAM && o->model_type != LILM_SP_MODEL_BPE)
        return lilm_errorf(LILM_ERR_ARG, "model type must be unigram or bpe");
    if (!o->normalization || (strcmp(o->normalization, "nmt_nfkc_cf") != 0 && strcmp(o->normalization, "identity") != 0))
        return lilm_errorf(LILM_ERR_ARG, "normalization must be nmt_nfkc_cf or identity, not '%s'",
                           o->normalization ? o->normalization : "(null)");
    if (!(o->character_coverage > 0.0 && o->character_coverage <= 1.0))
        return lilm_errorf(LILM_ERR_ARG, "character_coverage must be in (0, 1], got %g", o->character_coverage);
    if (o->unk_id < 0) return lilm_errorf(LILM_ERR_ARG, "unk_id must be set (>= 0): every model needs <unk>");
    const int32_t ids[4] = {o->unk_id, o->bos_id, o->eos_id, o->pad_id};
    const char *names[4] = {"unk_id", "bos_id", "eos_id", "pad_id"};
    for (int i = 0; i < 4; i++) {
        if (ids[i] < -1) return lilm_errorf(LILM_ERR_ARG, "%s must be -1 (none) or >= 0, got %d", names[i], ids[i]);
        if (ids[i] >= o->vocab_size)
            return lilm_errorf(LILM_ERR_ARG, "%s=%d does not fit vocab_size %d", names[i], ids[i], o->vocab_size);
        for (int j = 0; j < i; j++)
            if (ids[i] >= 0 && ids[i] == ids[j])
                return lilm_errorf(LILM_ERR_ARG, "%s and %s are both %d", names[j], names[i], ids[i]);
    }
    if (o->vocab_size <= lilm__train_n_meta(o) || o->vocab_size > 1000000)
        return lilm_errorf(LILM_ERR_ARG, "vocab_size %d impossible: it must exceed the %d special%s pieces and be at most 1000000",
                           o->vocab_size, lilm__train_n_meta(o), o->byte_fallback ? " and byte" : "");
    if (o->max_sentence_length < 1) return lilm_errorf(LILM_ERR_ARG, "max_sentence_length must be >= 1");
    if (o->input_sentence_size < 0) return lilm_errorf(LILM_ERR_ARG, "input_sentence_size must be >= 0");
    if (o->max_sentencepiece_length < 1 || o->max_sentencepiece_length > 512)
        return lilm_errorf(LILM_ERR_ARG, "max_sentencepiece_length must be in [1, 512]");
    if (o->seed_sentencepiece_size < 1000) return lilm_errorf(LILM_ERR_ARG, "seed_sentencepiece_size must be >= 1000");
    if (!(o->shrinking_factor >= 0.5 && o->shrinking_factor <= 0.95))
        return lilm_errorf(LILM_ERR_ARG, "shrinking_factor must be in [0.5, 0.95], got %g", o->shrinking_factor);
    if (o->num_sub_iterations < 1 || o->num_sub_iterations > 10)
        return lilm_errorf(LILM_ERR_ARG, "num_sub_iterations must be in [1, 10]");
    if (o->threads < 1 || o->threads > 256) return lilm_errorf(LILM_ERR_ARG, "threads must be in [1, 256]");
    if (o->format == LILM_TRAIN_JSONL && (!o->jsonl_field || !o->jsonl_field[0]))
        return lilm_errorf(LILM_ERR_ARG, "JSONL input needs a field name");
    return LILM_OK;
}

lilm_status lilm_tok_train(const lilm_tok_train_opts *o, lilm_sp_model *model)
{
    lilm_sp_model_init(model);
    lilm_status cs = check_opts(o);
    if (cs != LILM_OK) {
        lilm_sp_model_free(model); /* leaves it zeroed: freeing again is harmless */
        return cs;
    }
    lilm_sp_model scratch; /* only its normaliser spec is used */
    lilm_sp_model_init(&scratch);
    lilm_sp_normalizer_spec *ns = &scratch.normalizer_spec;
    lilm_status st = lilm_sp_str_set(&ns->name, o->normalization);
    if (st == LILM_OK && strcmp(o->normalization, "nmt_nfkc_cf") == 0) {
        uint8_t *blob = NULL;
        size_t n = 0;
        st = lilm_charsmap_build_nmt_nfkc_cf(&blob, &n);
        if (st == LILM_OK) st = lilm_sp_bytes_set(&ns->precompiled_charsmap, blob, n);
        free(blob);
    }
    lilm__words words = {0};
    if (st == LILM_OK) st = lilm__train_load(o, ns, &words);
    if (st == LILM_OK && words.n == 0)
        st = lilm_errorf(LILM_ERR_ARG, "no usable training text: every sentence was empty or longer than max_sentence_length (%d bytes)",
                         o->max_sentence_length);
    if (st == LILM_OK && (int64_t)words.n_chars + lilm__train_n_meta(o) >= o->vocab_size)
        st = lilm_errorf(LILM_ERR_ARG, "vocab_size %d is too small: the text needs %zu characters plus %d special%s pieces; "
                         "raise vocab_size or lower character_coverage",
                         o->vocab_size, words.n_chars, lilm__train_n_meta(o), o->byte_fallback ? " and byte" : "");
    if (st == LILM_OK && o->log)
        fprintf(o->log, "tok train: %lld sentences (%lld skipped), %zu distinct words, %zu characters\n",
                (long long)words.n_sentences, (long long)words.n_skipped, words.n, words.n_chars);
    if (st == LILM_OK) {
        if (o->model_type == LILM_SP_MODEL_BPE) st = lilm__train_bpe(o, &words, ns, model);
        else st = lilm__train_unigram(o, &words, ns, model);
    }
    lilm__words_free(&words);
    lilm_sp_model_free(&scratch);
    if (st != LILM_OK) lilm_sp_model_free(model);
    return st;
}
