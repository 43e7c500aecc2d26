/*
 * train_common.c: what the unigram and BPE trainers share: word tables,
 * SentencePiece's piece-validity rule, the count of special and byte pieces,
 * and turning learned pieces into a ModelProto. A leaf: it calls no trainer
 * (train.c is the entry point that calls them).
 *
 * Model layout written here (what spm_train writes): piece i for i in
 * [0, vocab_size) is the special piece whose id is i if any (unk is UNKNOWN,
 * bos/eos/pad are CONTROL, score 0), else the next byte piece <0xXX> (BYTE,
 * score 0) while byte_fallback has some left, else the next learned piece.
 * The trainer spec records every option; the normaliser spec carries the
 * charsmap built by charsmap_build.c (empty for identity).
 */
#include "tok/train_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


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
