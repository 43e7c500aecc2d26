/*
 * sp_vocab.c: building the encoder tables from a model, the encode pipeline
 * (normalise -> model -> unknown handling) and decoding, as sentencepiece's
 * SentencePieceProcessor does them.
 */
#include "tok/tok_impl.h"

#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPACE_SYMBOL "\xe2\x96\x81"
#define DEFAULT_UNK_SURFACE " \xE2\x81\x87 "

static bool matchable(int32_t type)
{
    return type == LILM_SP_NORMAL || type == LILM_SP_USER_DEFINED || type == LILM_SP_UNUSED;
}

void lilm_tok_workspace_free(lilm_tok_workspace *ws)
{
    free(ws->norm);
    free(ws->span_start);
    free(ws->span_len);
    free(ws->span_id);
    free(ws->cells);
    lilm_bpe_workspace_free(ws->bpe);
    lilm_word_cache_free(ws->words);
    memset(ws, 0, sizeof *ws);
}

lilm_status lilm_tok_workspace_grow_spans(lilm_tok_workspace *ws, size_t need)
{
    void *bufs[3] = {ws->span_start, ws->span_len, ws->span_id};
    const size_t elem[3] = {sizeof(int32_t), sizeof(int32_t), sizeof(int32_t)};
    lilm_status s = lilm_grow_arrays(bufs, elem, 3, &ws->span_cap, need);
    ws->span_start = bufs[0];
    ws->span_len = bufs[1];
    ws->span_id = bufs[2];
    return s;
}

/* Builds a trie over the pieces for which keep(type) holds (value = id),
 * leaving out the pieces sentencepiece ignores. */
static lilm_status build_trie(lilm_trie *t, const lilm_sp_model *m, bool (*keep)(int32_t))
{
    const char **keys = malloc(m->n_pieces * sizeof *keys);
    size_t *lens = malloc(m->n_pieces * sizeof *lens);
    int32_t *vals = malloc(m->n_pieces * sizeof *vals);
    lilm_status s = LILM_OK;
    if (!keys || !lens || !vals) {
        s = lilm_errorf(LILM_ERR_OOM, "out of memory building the vocabulary trie");
    } else {
        size_t k = 0;
        for (size_t i = 0; i < m->n_pieces; i++) {
            if (!keep(m->pieces[i].type) || lilm_sp_piece_skipped(m, i)) continue;
            keys[k] = m->pieces[i].piece;
            lens[k] = m->pieces[i].len;
            vals[k] = (int32_t)i;
            k++;
        }
        s = lilm_trie_build(t, keys, lens, vals, k);
    }
    free(keys);
    free(lens);
    free(vals);
    return s;
}

static bool reserved(int32_t type) { return !matchable(type); }
static bool user_defined(int32_t type) { return type == LILM_SP_USER_DEFINED; }
static bool any_type(int32_t type) { (void)type; return true; }

void lilm_sp_vocab_free(lilm_sp_vocab *v)
{
    if (!v) return;
    lilm_sp_model_free(&v->model);
    free(v->score);
    free(v->type);
    lilm_trie_free(&v->trie);
    lilm_trie_free(&v->user_defined);
    lilm_trie_free(&v->reserved);
    memset(v, 0, sizeof *v);
}

/* sentencepiece's PieceToId: (unigram) reserved pieces first, then the others; else unk_id. */
static int32_t piece_id(const lilm_sp_vocab *v, const char *s, size_t len)
{
    int32_t id = v->reserved.units ? lilm_trie_find(&v->reserved, s, len) : -1;
    if (id < 0) id = lilm_trie_find(&v->trie, s, len);
    return id >= 0 ? id : v->unk_id;
}

/* The processor's special id: PieceToId(name) when that piece has `type`, else -1. */
static int32_t special_id(const lilm_sp_vocab *v, const char *name, const char *dflt, int32_t type)
{
    if (!name || !name[0]) name = dflt;
    int32_t id = piece_id(v, name, strlen(name));
    return id >= 0 && v->type[id] == type ? id : -1;
}

/* Whether "▁" occurs in the piece's bytes past its first byte: such a piece
 * can join two words, so the encoders cannot work word by word. */
static bool space_inside(const lilm_sp_piece *sp)
{
    for (size_t j = 1; j + 3 <= sp->len; j++)
        if (memcmp(sp->piece + j, SPACE_SYMBOL, 3) == 0) return true;
    return false;
}

lilm_status lilm_sp_vocab_init(lilm_sp_vocab *v, lilm_sp_model *m)
{
    memset(v, 0, sizeof *v);
    v->model = *m;
    memset(m, 0, sizeof *m);
    lilm_sp_model *mm = &v->model;
    lilm_status s = lilm_sp_model_validate(mm);
    if (s != LILM_OK) goto fail;
    v->model_type = mm->trainer_spec.model_type;
    if (v->model_type != LILM_SP_MODEL_UNIGRAM && v->model_type != LILM_SP_MODEL_BPE) {
        s = lilm_errorf(LILM_ERR_UNSUPPORTED, "model_type %d (word/char models) is not supported; lilm encodes "
                        "unigram and BPE models", (int)v->model_type);
        goto fail;
    }
    v->n = (int32_t)mm->n_pieces;
    v->score = malloc((size_t)v->n * sizeof *v->score);
    v->type = malloc((size_t)v->n);
    if (!v->score || !v->type) {
        s = lilm_errorf(LILM_ERR_OOM, "out of memory loading %d pieces", (int)v->n);
        goto fail;
    }
    v->min_score = FLT_MAX;
    v->unk_id = -1;
    v->byte_fallback = mm->trainer_spec.byte_fallback;
    for (int32_t i = 0; i < v->n; i++) {
        const lilm_sp_piece *sp = &mm->pieces[i];
        v->score[i] = sp->score;
        /* sentencepiece turns a "\0" piece into an UNUSED one under byte_fallback */
        v->type[i] = lilm_sp_piece_skipped(mm, (size_t)i) ? LILM_SP_UNUSED : (uint8_t)sp->type;
        if (v->type[i] == LILM_SP_UNKNOWN) v->unk_id = i;
        if (v->type[i] == LILM_SP_NORMAL && sp->score < v->min_score) v->min_score = sp->score;
    }
    v->unk_score = v->min_score - 10.0f;
    uint64_t fp = 1469598103934665603ull;
    for (int32_t i = 0; i < v->n; i++) {
        const lilm_sp_piece *sp = &mm->pieces[i];
        uint32_t bits;
        memcpy(&bits, &sp->score, 4);
        for (size_t j = 0; j < sp->len; j++) fp = (fp ^ (unsigned char)sp->piece[j]) * 1099511628211ull;
        fp = (fp ^ bits ^ ((uint64_t)v->type[i] << 32) ^ 0xff00000000000000ull) * 1099511628211ull;
    }
    v->fingerprint = fp;
    if (v->model_type == LILM_SP_MODEL_BPE) {
        s = build_trie(&v->trie, mm, any_type);
    } else {
        s = build_trie(&v->trie, mm, matchable);
        if (s == LILM_OK) s = build_trie(&v->reserved, mm, reserved);
    }
    if (s != LILM_OK) goto fail;
    s = build_trie(&v->user_defined, mm, user_defined);
    if (s != LILM_OK) goto fail;
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        v->byte_id[b] = piece_id(v, name, 6);
    }
    if (v->model_type == LILM_SP_MODEL_BPE) {
        v->bpe_words = true;
        for (int32_t i = 0; i < v->n && v->bpe_words; i++) {
            const lilm_sp_piece *sp = &mm->pieces[i];
            if (v->type[i] == LILM_SP_USER_DEFINED || v->type[i] == LILM_SP_UNUSED) v->bpe_words = false;
            if (v->type[i] == LILM_SP_NORMAL && space_inside(sp)) v->bpe_words = false;
        }
    }
    if (v->model_type == LILM_SP_MODEL_UNIGRAM) {
        /* every piece the lattice uses has "▁" (as bytes, anywhere) only at its start */
        v->unigram_words = true;
        for (int32_t i = 0; i < v->n && v->unigram_words; i++) {
            const lilm_sp_piece *sp = &mm->pieces[i];
            if ((v->type[i] == LILM_SP_NORMAL || v->type[i] == LILM_SP_USER_DEFINED) && space_inside(sp))
                v->unigram_words = false;
        }
    }
    const lilm_sp_trainer_spec *ts = &mm->trainer_spec;
    int32_t unk = special_id(v, ts->unk_piece, "<unk>", LILM_SP_UNKNOWN);
    if (unk >= 0) v->unk_id = unk;
    v->bos_id = special_id(v, ts->bos_piece, "<s>", LILM_SP_CONTROL);
    v->eos_id = special_id(v, ts->eos_piece, "</s>", LILM_SP_CONTROL);
    v->pad_id = special_id(v, ts->pad_piece, "<pad>", LILM_SP_CONTROL);
    s = lilm_normalizer_init(&v->norm, &mm->normalizer_spec, mm->trainer_spec.treat_whitespace_as_suffix);
    if (s != LILM_OK) goto fail;
    if (v->user_defined.n_units > 1) lilm_normalizer_set_user_defined(&v->norm, &v->user_defined);
    if (mm->has_denormalizer_spec && mm->denormalizer_spec.precompiled_charsmap.len > 0) {
        s = lilm_normalizer_init(&v->denorm, &mm->denormalizer_spec, false);
        if (s != LILM_OK) goto fail;
        v->has_denorm = true;
    }
    return LILM_OK;
fail:
    lilm_sp_vocab_free(v);
    return s;
}

lilm_status lilm_sp_vocab_encode(const lilm_sp_vocab *v, const char *text, size_t len, lilm_tok_workspace *ws,
                                 int32_t **ids, size_t *cap, size_t *n_out)
{
    size_t nn = 0;
    *n_out = 0;
    if (len == 0) return LILM_OK;
    LILM_TRY(lilm_normalizer_normalize(&v->norm, text, len, &ws->norm, &ws->norm_cap, &nn, NULL, NULL));
    if (nn == 0) return LILM_OK;
    if (nn > INT32_MAX - 8)
        return lilm_errorf(LILM_ERR_ARG, "text too long to encode in one piece (%zu bytes normalised)", nn);
    size_t n_spans = 0;
    if (v->model_type == LILM_SP_MODEL_BPE)
        LILM_TRY(lilm_bpe_encode(v, ws->norm, nn, ws, &n_spans));
    else
        LILM_TRY(lilm_unigram_encode(v, ws->norm, nn, ws, &n_spans));
    /* at most one id per normalised byte */
    LILM_TRY(lilm_grow((void **)ids, cap, nn + 1, sizeof **ids));
    int32_t *out = *ids;
    size_t k = 0;
    bool prev_unk = false;
    for (size_t i = 0; i < n_spans; i++) {
        int32_t id = ws->span_id[i];
        if (id >= 0 && v->type[id] == LILM_SP_CONTROL) {
            out[k++] = id;
            prev_unk = false;
            continue;
        }
        bool unk = id < 0 || v->type[id] == LILM_SP_UNKNOWN;
        if (unk && v->byte_fallback) {
            const unsigned char *p = (const unsigned char *)ws->norm + ws->span_start[i];
            for (int32_t j = 0; j < ws->span_len[i]; j++) out[k++] = v->byte_id[p[j]];
        } else if (!(unk && prev_unk)) {
            out[k++] = id;
        }
        prev_unk = unk;
    }
    *n_out = k;
    return LILM_OK;
}

typedef struct strbuf {
    char *s;
    size_t n, cap;
    int oom;
} strbuf;

static void sb_put(strbuf *b, const char *s, size_t n)
{
    if (b->oom || n == 0) return;
    if (lilm_grow((void **)&b->s, &b->cap, b->n + n + 1, 1) != LILM_OK) {
        b->oom = 1;
        return;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
}

/* Appends the queued bytes as UTF-8, each malformed byte as U+FFFD. Unless
 * `all`, stops where fewer than 4 bytes remain (a character could continue in
 * bytes not queued yet) and returns how many bytes it consumed. */
static size_t flush_bytes(const unsigned char *q, size_t n, strbuf *b, bool all)
{
    size_t i = 0;
    while (i < n && (all || i + 4 <= n)) {
        size_t cl = lilm_utf8_valid_len((const char *)q + i, n - i);
        if (cl == 0) {
            sb_put(b, "\xEF\xBF\xBD", 3);
            i++;
        } else {
            sb_put(b, (const char *)q + i, cl);
            i += cl;
        }
    }
    return i;
}

lilm_status lilm_sp_vocab_decode(const lilm_sp_vocab *v, const int32_t *ids, size_t n, char **out, size_t *cap,
                                 size_t *n_out)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= v->n)
            return lilm_errorf(LILM_ERR_ARG, "invalid id %d at position %zu (vocabulary size %d)", (int)ids[i], i,
                               (int)v->n);
    const lilm_sp_model *m = &v->model;
    const lilm_sp_normalizer_spec *ns = &m->normalizer_spec;
    const char *unk_surface = (m->trainer_spec.has & LILM_SP_HAS(44)) && m->trainer_spec.unk_surface
                                  ? m->trainer_spec.unk_surface
                                  : DEFAULT_UNK_SURFACE;
    const bool strip_bos_ws = ns->add_dummy_prefix || ns->remove_extra_whitespaces;
    strbuf b = {*out, 0, *cap, 0};
    unsigned char queue[64];
    size_t nq = 0;
    bool is_bos_ws = true;
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        const lilm_sp_piece *sp = &m->pieces[id];
        if (v->type[id] == LILM_SP_BYTE) {
            /* flush in whole chunks; a character never spans more than 4 bytes */
            if (nq == sizeof queue) {
                size_t used = flush_bytes(queue, nq, &b, false);
                memmove(queue, queue + used, nq - used);
                nq -= used;
            }
            queue[nq++] = (unsigned char)lilm_sp_piece_byte(sp->piece, sp->len);
            continue;
        }
        flush_bytes(queue, nq, &b, true);
        nq = 0;
        if (b.n > 0) is_bos_ws = false;
        if (v->type[id] == LILM_SP_CONTROL) continue;
        const char *p = sp->piece;
        size_t len = sp->len;
        bool has_bos_ws = false;
        if (is_bos_ws && strip_bos_ws && len >= 3 && memcmp(p, SPACE_SYMBOL, 3) == 0) {
            p += 3;
            len -= 3;
            has_bos_ws = !ns->remove_extra_whitespaces;
        }
        if (v->type[id] == LILM_SP_UNKNOWN) {
            sb_put(&b, unk_surface, strlen(unk_surface));
        } else {
            size_t j = 0;
            while (j < len) {
                if (len - j >= 3 && memcmp(p + j, SPACE_SYMBOL, 3) == 0) {
                    sb_put(&b, " ", 1);
                    j += 3;
                } else {
                    size_t r = j + 1;
                    while (r < len && !(len - r >= 3 && memcmp(p + r, SPACE_SYMBOL, 3) == 0)) r++;
                    sb_put(&b, p + j, r - j);
                    j = r;
                }
            }
        }
        if (has_bos_ws || b.n > 0) is_bos_ws = false;
    }
    flush_bytes(queue, nq, &b, true);
    if (!b.oom && lilm_grow((void **)&b.s, &b.cap, b.n + 1, 1) != LILM_OK) b.oom = 1; /* room for the NUL */
    if (b.oom) {
        *out = b.s;
        *cap = b.cap;
        return lilm_errorf(LILM_ERR_OOM, "out of memory decoding %zu ids", n);
    }
    b.s[b.n] = '\0';
    if (v->has_denorm) {
        char *d = NULL;
        size_t dcap = 0, dn = 0;
        lilm_status s = lilm_normalizer_normalize(&v->denorm, b.s, b.n, &d, &dcap, &dn, NULL, NULL);
        if (s != LILM_OK) {
            *out = b.s;
            *cap = b.cap;
            free(d);
            return s;
        }
        free(b.s);
        b.s = d;
        b.cap = dcap;
        b.n = dn;
    }
    *out = b.s;
    *cap = b.cap;
    *n_out = b.n;
    return LILM_OK;
}
