/*
 * train_common.c: what the unigram and BPE trainers share: option checks,
 * the top-level lilm_tok_train(), SentencePiece's piece-validity rule, UTF-8
 * helpers, and turning learned pieces into a ModelProto.
 *
 * Model layout written here (what spm_train writes): piece i for i in
 * [0, vocab_size) is the special piece whose id is i if any (unk is UNKNOWN,
 * bos/eos/pad are CONTROL, score 0), else the next byte piece <0xXX> (BYTE,
 * score 0) while byte_fallback has some left, else the next learned piece.
 * The trainer spec records every option; the normaliser spec carries the
 * charsmap built by charsmap_build.c (empty for identity).
 */
#include "tok/trainer.h"

#include <math.h>
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

void lilm__words_free(lilm__words *w)
{
    free(w->pool);
    free(w->off);
    free(w->len);
    free(w->freq);
    free(w->chars);
    free(w->char_freq);
    memset(w, 0, sizeof(*w));
}

bool lilm__train_valid_piece(const uint32_t *cp, size_t n, int32_t max_len)
{
    if (n == 0 || n > (size_t)max_len) return false;
    int prev = LILM__SCRIPT_ANY;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = cp[i];
        if (c == LILM__UNK_CHAR || c == 0 || c == '\t' || c == ' ') return false;
        if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return false;
        if (c == LILM__WS) {
            if (i > 0) return false; /* whitespace only as a prefix */
            continue;
        }
        int s = lilm__train_script(c);
        if (s == LILM__SCRIPT_HIRAGANA || s == LILM__SCRIPT_KATAKANA || c == 0x30FC) s = LILM__SCRIPT_HAN;
        else if (s == LILM__SCRIPT_INHERITED) s = prev;
        if (s != LILM__SCRIPT_ANY && prev != LILM__SCRIPT_ANY && prev != s) return false;
        prev = s;
    }
    return true;
}

int32_t lilm__train_n_meta(const lilm_tok_train_opts *o)
{
    int32_t n = 0;
    const int32_t ids[4] = {o->unk_id, o->bos_id, o->eos_id, o->pad_id};
    for (int i = 0; i < 4; i++) n += ids[i] >= 0;
    return n + (o->byte_fallback ? 256 : 0);
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

lilm_status lilm__train_assemble(const lilm_tok_train_opts *o, const lilm_sp_normalizer_spec *ns,
                                 const lilm__piece *pieces, size_t n_pieces, lilm_sp_model *model)
{
    const int32_t ids[4] = {o->unk_id, o->bos_id, o->eos_id, o->pad_id};
    const char *names[4] = {"<unk>", "<s>", "</s>", "<pad>"};
    size_t next_piece = 0;
    int next_byte = o->byte_fallback ? 0 : 256;
    for (int32_t id = 0; id < o->vocab_size; id++) {
        int special = -1;
        for (int k = 0; k < 4; k++)
            if (ids[k] == id) special = k;
        if (special >= 0) {
            LILM_TRY(lilm_sp_model_add_piece(model, names[special], strlen(names[special]), 0.0f,
                                             special == 0 ? LILM_SP_UNKNOWN : LILM_SP_CONTROL));
        } else if (next_byte < 256) {
            char name[8];
            snprintf(name, sizeof(name), "<0x%02X>", next_byte++);
            LILM_TRY(lilm_sp_model_add_piece(model, name, strlen(name), 0.0f, LILM_SP_BYTE));
        } else if (next_piece < n_pieces) {
            const lilm__piece *p = &pieces[next_piece++];
            LILM_TRY(lilm_sp_model_add_piece(model, p->s, p->len, p->score, LILM_SP_NORMAL));
        } else {
            break; /* fewer pieces than asked for: the vocabulary is what the text allows */
        }
    }
    lilm_sp_trainer_spec *ts = &model->trainer_spec;
    ts->model_type = o->model_type;
    ts->vocab_size = (int32_t)model->n_pieces;
    ts->character_coverage = (float)o->character_coverage;
    ts->input_sentence_size = (uint64_t)o->input_sentence_size;
    ts->seed_sentencepiece_size = o->seed_sentencepiece_size;
    ts->shrinking_factor = (float)o->shrinking_factor;
    ts->num_threads = o->threads;
    ts->num_sub_iterations = o->num_sub_iterations;
    ts->max_sentence_length = o->max_sentence_length;
    ts->max_sentencepiece_length = o->max_sentencepiece_length;
    ts->byte_fallback = o->byte_fallback;
    ts->unk_id = o->unk_id;
    ts->bos_id = o->bos_id;
    ts->eos_id = o->eos_id;
    ts->pad_id = o->pad_id;
    for (size_t i = 0; i < o->n_inputs; i++) LILM_TRY(lilm_sp_strs_push(&ts->input, o->inputs[i]));
    LILM_TRY(lilm_sp_str_set(&ts->input_format, o->format == LILM_TRAIN_JSONL ? "jsonl"
                                                 : o->format == LILM_TRAIN_DOCS ? "docs" : "text"));
    lilm_sp_trainer_spec_mark_all(ts);
    model->has_trainer_spec = true;

    lilm_sp_normalizer_spec *dst = &model->normalizer_spec;
    LILM_TRY(lilm_sp_str_set(&dst->name, ns->name));
    LILM_TRY(lilm_sp_bytes_set(&dst->precompiled_charsmap, ns->precompiled_charsmap.data, ns->precompiled_charsmap.len));
    dst->add_dummy_prefix = ns->add_dummy_prefix;
    dst->remove_extra_whitespaces = ns->remove_extra_whitespaces;
    dst->escape_whitespaces = ns->escape_whitespaces;
    lilm_sp_normalizer_spec_mark_all(dst);
    model->has_normalizer_spec = true;
    return lilm_sp_model_validate(model);
}
