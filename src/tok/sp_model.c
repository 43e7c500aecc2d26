/*
 * sp_model.c: reading, writing and checking SentencePiece ModelProto files.
 *
 * Spec fields are described by one table per message (field number, kind,
 * struct offset) that drives parsing, "differs from default" and writing.
 * Writing merges the table fields with the verbatim `extra` fields in
 * field-number order, which is the order protobuf's C++ serializer uses, so a
 * file written by sentencepiece reads and writes back byte for byte.
 */
#include "tok/sp_model.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "tok/protobuf.h"

typedef enum field_kind { K_INT32, K_UINT64, K_BOOL, K_FLOAT, K_STR, K_STRS, K_BYTES } field_kind;

typedef struct spec_field {
    uint32_t number;
    field_kind kind;
    size_t off;
} spec_field;

#define TS(n, k, m) {n, k, offsetof(lilm_sp_trainer_spec, m)}
static const spec_field trainer_fields[] = {
    TS(1, K_STRS, input), TS(2, K_STR, model_prefix), TS(3, K_INT32, model_type),
    TS(4, K_INT32, vocab_size), TS(5, K_STRS, accept_language), TS(6, K_INT32, self_test_sample_size),
    TS(7, K_STR, input_format), TS(10, K_FLOAT, character_coverage), TS(11, K_UINT64, input_sentence_size),
    TS(12, K_INT32, mining_sentence_size), TS(13, K_INT32, training_sentence_size),
    TS(14, K_INT32, seed_sentencepiece_size), TS(15, K_FLOAT, shrinking_factor), TS(16, K_INT32, num_threads),
    TS(17, K_INT32, num_sub_iterations), TS(18, K_INT32, max_sentence_length),
    TS(19, K_BOOL, shuffle_input_sentence), TS(20, K_INT32, max_sentencepiece_length),
    TS(21, K_BOOL, split_by_unicode_script), TS(22, K_BOOL, split_by_whitespace),
    TS(23, K_BOOL, split_by_number), TS(24, K_BOOL, treat_whitespace_as_suffix), TS(25, K_BOOL, split_digits),
    TS(26, K_BOOL, allow_whitespace_only_pieces), TS(30, K_STRS, control_symbols),
    TS(31, K_STRS, user_defined_symbols), TS(32, K_BOOL, vocabulary_output_piece_score),
    TS(33, K_BOOL, hard_vocab_limit), TS(34, K_BOOL, use_all_vocab), TS(35, K_BOOL, byte_fallback),
    TS(36, K_STR, required_chars), TS(40, K_INT32, unk_id), TS(41, K_INT32, bos_id), TS(42, K_INT32, eos_id),
    TS(43, K_INT32, pad_id), TS(44, K_STR, unk_surface), TS(45, K_STR, unk_piece), TS(46, K_STR, bos_piece),
    TS(47, K_STR, eos_piece), TS(48, K_STR, pad_piece), TS(49, K_BOOL, train_extremely_large_corpus),
    TS(50, K_BOOL, enable_differential_privacy), TS(51, K_FLOAT, differential_privacy_noise_level),
    TS(52, K_UINT64, differential_privacy_clipping_threshold), TS(53, K_STR, pretokenization_delimiter),
    TS(54, K_STR, seed_sentencepieces_file),
};
#undef TS

#define NS(n, k, m) {n, k, offsetof(lilm_sp_normalizer_spec, m)}
static const spec_field normalizer_fields[] = {
    NS(1, K_STR, name), NS(2, K_BYTES, precompiled_charsmap), NS(3, K_BOOL, add_dummy_prefix),
    NS(4, K_BOOL, remove_extra_whitespaces), NS(5, K_BOOL, escape_whitespaces),
    NS(6, K_STR, normalization_rule_tsv),
};
#undef NS

#define N_TRAINER_FIELDS (sizeof trainer_fields / sizeof trainer_fields[0])
#define N_NORMALIZER_FIELDS (sizeof normalizer_fields / sizeof normalizer_fields[0])

/* ---- small owned values ---- */

lilm_status lilm_sp_str_set(char **dst, const char *s)
{
    char *copy = NULL;
    if (s) {
        copy = strdup(s);
        if (!copy) return lilm_errorf(LILM_ERR_OOM, "out of memory copying a string");
    }
    free(*dst);
    *dst = copy;
    return LILM_OK;
}

static lilm_status str_set_n(char **dst, const void *data, size_t n)
{
    char *copy = malloc(n + 1);
    if (!copy) return lilm_errorf(LILM_ERR_OOM, "out of memory copying a string of %zu bytes", n);
    if (n) memcpy(copy, data, n);
    copy[n] = '\0';
    free(*dst);
    *dst = copy;
    return LILM_OK;
}

static lilm_status strs_push_n(lilm_sp_strs *v, const void *data, size_t n)
{
    char **items = realloc(v->items, (v->n + 1) * sizeof *items);
    if (!items) return lilm_errorf(LILM_ERR_OOM, "out of memory growing a string list");
    v->items = items;
    v->items[v->n] = NULL;
    LILM_TRY(str_set_n(&v->items[v->n], data, n));
    v->n++;
    return LILM_OK;
}

lilm_status lilm_sp_strs_push(lilm_sp_strs *v, const char *s) { return strs_push_n(v, s, strlen(s)); }

lilm_status lilm_sp_bytes_set(lilm_sp_bytes *dst, const void *data, size_t n)
{
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy) return lilm_errorf(LILM_ERR_OOM, "out of memory copying %zu bytes", n);
    if (n) memcpy(copy, data, n);
    free(dst->data);
    dst->data = copy;
    dst->len = n;
    return LILM_OK;
}

static void strs_free(lilm_sp_strs *v)
{
    for (size_t i = 0; i < v->n; i++) free(v->items[i]);
    free(v->items);
    v->items = NULL;
    v->n = 0;
}

static lilm_status raw_push(lilm_sp_raw_fields *x, const lilm_pb_field *f)
{
    lilm_sp_raw_field *items = realloc(x->items, (x->n + 1) * sizeof *items);
    if (!items) return lilm_errorf(LILM_ERR_OOM, "out of memory keeping an unknown field");
    x->items = items;
    lilm_sp_raw_field *r = &x->items[x->n];
    r->bytes = malloc(f->raw_len);
    if (!r->bytes) return lilm_errorf(LILM_ERR_OOM, "out of memory keeping an unknown field");
    memcpy(r->bytes, f->start, f->raw_len);
    r->len = f->raw_len;
    r->number = f->number;
    x->n++;
    return LILM_OK;
}

static void raw_free(lilm_sp_raw_fields *x)
{
    for (size_t i = 0; i < x->n; i++) free(x->items[i].bytes);
    free(x->items);
    x->items = NULL;
    x->n = 0;
}

/* ---- defaults ---- */

static void trainer_spec_defaults(lilm_sp_trainer_spec *ts)
{
    memset(ts, 0, sizeof *ts);
    ts->model_type = LILM_SP_MODEL_UNIGRAM;
    ts->vocab_size = 8000;
    ts->character_coverage = 0.9995f;
    ts->seed_sentencepiece_size = 1000000;
    ts->shrinking_factor = 0.75f;
    ts->num_threads = 16;
    ts->num_sub_iterations = 2;
    ts->max_sentence_length = 4192;
    ts->shuffle_input_sentence = true;
    ts->max_sentencepiece_length = 16;
    ts->split_by_unicode_script = true;
    ts->split_by_whitespace = true;
    ts->split_by_number = true;
    ts->vocabulary_output_piece_score = true;
    ts->hard_vocab_limit = true;
    ts->unk_id = 0;
    ts->bos_id = 1;
    ts->eos_id = 2;
    ts->pad_id = -1;
}

/* String defaults are static; init copies them so every string is owned. */
static lilm_status trainer_spec_default_strings(lilm_sp_trainer_spec *ts)
{
    LILM_TRY(lilm_sp_str_set(&ts->unk_surface, " \xE2\x81\x87 "));
    LILM_TRY(lilm_sp_str_set(&ts->unk_piece, "<unk>"));
    LILM_TRY(lilm_sp_str_set(&ts->bos_piece, "<s>"));
    LILM_TRY(lilm_sp_str_set(&ts->eos_piece, "</s>"));
    LILM_TRY(lilm_sp_str_set(&ts->pad_piece, "<pad>"));
    return LILM_OK;
}

static void normalizer_spec_defaults(lilm_sp_normalizer_spec *ns)
{
    memset(ns, 0, sizeof *ns);
    ns->add_dummy_prefix = true;
    ns->remove_extra_whitespaces = true;
    ns->escape_whitespaces = true;
}

void lilm_sp_model_init(lilm_sp_model *m)
{
    memset(m, 0, sizeof *m);
    trainer_spec_defaults(&m->trainer_spec);
    normalizer_spec_defaults(&m->normalizer_spec);
    normalizer_spec_defaults(&m->denormalizer_spec);
    /* Out of memory here leaves the string NULL, which reads as "". */
    (void)trainer_spec_default_strings(&m->trainer_spec);
}

static void spec_free(void *spec, const spec_field *fields, size_t n_fields, lilm_sp_raw_fields *extra)
{
    for (size_t i = 0; i < n_fields; i++) {
        void *p = (char *)spec + fields[i].off;
        if (fields[i].kind == K_STR) {
            free(*(char **)p);
            *(char **)p = NULL;
        } else if (fields[i].kind == K_STRS) {
            strs_free(p);
        } else if (fields[i].kind == K_BYTES) {
            lilm_sp_bytes *b = p;
            free(b->data);
            b->data = NULL;
            b->len = 0;
        }
    }
    raw_free(extra);
}

void lilm_sp_model_free(lilm_sp_model *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->n_pieces; i++) {
        free(m->pieces[i].piece);
        raw_free(&m->pieces[i].extra);
    }
    free(m->pieces);
    spec_free(&m->trainer_spec, trainer_fields, N_TRAINER_FIELDS, &m->trainer_spec.extra);
    spec_free(&m->normalizer_spec, normalizer_fields, N_NORMALIZER_FIELDS, &m->normalizer_spec.extra);
    spec_free(&m->denormalizer_spec, normalizer_fields, N_NORMALIZER_FIELDS, &m->denormalizer_spec.extra);
    raw_free(&m->extra);
    memset(m, 0, sizeof *m);
}

void lilm_sp_trainer_spec_mark_all(lilm_sp_trainer_spec *ts)
{
    for (size_t i = 0; i < N_TRAINER_FIELDS; i++)
        if (trainer_fields[i].kind != K_STRS) ts->has |= LILM_SP_HAS(trainer_fields[i].number);
}

void lilm_sp_normalizer_spec_mark_all(lilm_sp_normalizer_spec *ns)
{
    for (uint32_t f = 1; f <= 5; f++) ns->has |= LILM_SP_HAS(f);
}

/* ---- parsing ---- */

static int wire_of(field_kind k)
{
    switch (k) {
    case K_INT32: case K_UINT64: case K_BOOL: return LILM_PB_VARINT;
    case K_FLOAT: return LILM_PB_FIXED32;
    default: return LILM_PB_LEN;
    }
}

/* Stores a field into the spec if it is a known field with the expected wire
 * type, else keeps it verbatim in `extra`. */
static lilm_status spec_take(void *spec, uint64_t *has, const spec_field *fields, size_t n_fields,
                             lilm_sp_raw_fields *extra, const lilm_pb_field *f)
{
    const spec_field *sf = NULL;
    for (size_t i = 0; i < n_fields; i++)
        if (fields[i].number == f->number) sf = &fields[i];
    if (!sf || wire_of(sf->kind) != f->wire ||
        (sf->kind == K_STR && memchr(f->data, 0, f->len)) ||
        (sf->kind == K_STRS && memchr(f->data, 0, f->len)))
        return raw_push(extra, f);
    void *p = (char *)spec + sf->off;
    switch (sf->kind) {
    case K_INT32: *(int32_t *)p = (int32_t)(uint32_t)f->u; break;
    case K_UINT64: *(uint64_t *)p = f->u; break;
    case K_BOOL: *(bool *)p = f->u != 0; break;
    case K_FLOAT: {
        uint32_t u = (uint32_t)f->u;
        memcpy(p, &u, 4);
        break;
    }
    case K_STR: LILM_TRY(str_set_n(p, f->data, f->len)); break;
    case K_STRS: LILM_TRY(strs_push_n(p, f->data, f->len)); break;
    case K_BYTES: LILM_TRY(lilm_sp_bytes_set(p, f->data, f->len)); break;
    }
    *has |= LILM_SP_HAS(f->number);
    return LILM_OK;
}

static lilm_status parse_spec(const uint8_t *begin, const lilm_pb_field *outer, void *spec, uint64_t *has,
                              const spec_field *fields, size_t n_fields, lilm_sp_raw_fields *extra)
{
    lilm_pb_reader r = {begin, outer->data, outer->data + outer->len};
    while (r.p < r.end) {
        lilm_pb_field f;
        LILM_TRY(lilm_pb_next(&r, &f));
        LILM_TRY(spec_take(spec, has, fields, n_fields, extra, &f));
    }
    return LILM_OK;
}

static lilm_status grow_pieces(lilm_sp_model *m)
{
    if (m->n_pieces < m->cap_pieces) return LILM_OK;
    size_t cap = m->cap_pieces ? 2 * m->cap_pieces : 256;
    lilm_sp_piece *p = realloc(m->pieces, cap * sizeof *p);
    if (!p) return lilm_errorf(LILM_ERR_OOM, "out of memory for %zu pieces", cap);
    m->pieces = p;
    m->cap_pieces = cap;
    return LILM_OK;
}

static lilm_status parse_piece(lilm_sp_model *m, const uint8_t *begin, const lilm_pb_field *outer)
{
    LILM_TRY(grow_pieces(m));
    lilm_sp_piece *sp = &m->pieces[m->n_pieces++];
    memset(sp, 0, sizeof *sp);
    sp->type = LILM_SP_NORMAL;
    lilm_pb_reader r = {begin, outer->data, outer->data + outer->len};
    while (r.p < r.end) {
        lilm_pb_field f;
        LILM_TRY(lilm_pb_next(&r, &f));
        if (f.number == 1 && f.wire == LILM_PB_LEN) {
            LILM_TRY(str_set_n(&sp->piece, f.data, f.len));
            sp->len = f.len;
        } else if (f.number == 2 && f.wire == LILM_PB_FIXED32) {
            uint32_t u = (uint32_t)f.u;
            memcpy(&sp->score, &u, 4);
            sp->has_score = true;
        } else if (f.number == 3 && f.wire == LILM_PB_VARINT) {
            sp->type = (int32_t)(uint32_t)f.u;
            sp->has_type = true;
        } else {
            LILM_TRY(raw_push(&sp->extra, &f));
        }
    }
    return LILM_OK;
}

static lilm_status parse_model(lilm_sp_model *m, const uint8_t *data, size_t n)
{
    lilm_pb_reader r;
    lilm_pb_reader_init(&r, data, n);
    while (r.p < r.end) {
        lilm_pb_field f;
        LILM_TRY(lilm_pb_next(&r, &f));
        if (f.number == 1 && f.wire == LILM_PB_LEN) {
            LILM_TRY(parse_piece(m, data, &f));
        } else if (f.number == 2 && f.wire == LILM_PB_LEN) {
            m->has_trainer_spec = true;
            LILM_TRY(parse_spec(data, &f, &m->trainer_spec, &m->trainer_spec.has, trainer_fields,
                                N_TRAINER_FIELDS, &m->trainer_spec.extra));
        } else if ((f.number == 3 || f.number == 5) && f.wire == LILM_PB_LEN) {
            lilm_sp_normalizer_spec *ns = f.number == 3 ? &m->normalizer_spec : &m->denormalizer_spec;
            if (f.number == 3) m->has_normalizer_spec = true;
            else m->has_denormalizer_spec = true;
            LILM_TRY(parse_spec(data, &f, ns, &ns->has, normalizer_fields, N_NORMALIZER_FIELDS, &ns->extra));
        } else {
            LILM_TRY(raw_push(&m->extra, &f));
        }
    }
    return LILM_OK;
}

lilm_status lilm_sp_model_parse(lilm_sp_model *m, const uint8_t *data, size_t n)
{
    lilm_sp_model_init(m);
    lilm_status s = parse_model(m, data, n);
    if (s != LILM_OK) lilm_sp_model_free(m);
    return s;
}

/* What a .model file must hold beyond well-formed protobuf, so that a cut
 * file does not load as a smaller tokenizer: every trained file (SentencePiece's
 * or lilm's) has both specs after the pieces, and a file cut at a field
 * boundary lacks them. Scores must be finite; their values and order are not
 * checked, because SentencePiece loads any finite scores (ties and near-ties
 * out of order included). */
static lilm_status check_complete(const lilm_sp_model *m)
{
    if (!m->has_trainer_spec || !m->has_normalizer_spec)
        return lilm_errorf(LILM_ERR_FORMAT, "the file ends after %zu pieces without its %s: it is truncated",
                           m->n_pieces, m->has_trainer_spec ? "normalizer_spec" : "trainer_spec");
    for (size_t i = 0; i < m->n_pieces; i++) {
        float sc = m->pieces[i].score;
        if (sc != sc || sc > 3.4e38f || sc < -3.4e38f)
            return lilm_errorf(LILM_ERR_FORMAT, "piece %zu has a %s score: the file is damaged", i,
                               sc != sc ? "NaN" : "infinite");
    }
    return LILM_OK;
}

lilm_status lilm_sp_model_parse_file(lilm_sp_model *m, const uint8_t *data, size_t n)
{
    lilm_status s = lilm_sp_model_parse(m, data, n);
    if (s == LILM_OK && (s = check_complete(m)) != LILM_OK) lilm_sp_model_free(m);
    return s;
}

lilm_status lilm_sp_model_read(lilm_sp_model *m, const char *path)
{
    char *data = NULL;
    size_t n = 0;
    lilm_status s = lilm_read_file(path, &data, &n);
    if (s != LILM_OK) {
        lilm_sp_model_init(m);
        return s;
    }
    s = lilm_sp_model_parse_file(m, (const uint8_t *)data, n);
    free(data);
    if (s != LILM_OK)
        return lilm_error_context(s, "%s is not a valid SentencePiece .model file: ", path);
    return LILM_OK;
}

/* ---- writing ---- */

static bool field_differs(const void *a, const void *b, const spec_field *sf)
{
    const void *pa = (const char *)a + sf->off, *pb = (const char *)b + sf->off;
    switch (sf->kind) {
    case K_INT32: return *(const int32_t *)pa != *(const int32_t *)pb;
    case K_UINT64: return *(const uint64_t *)pa != *(const uint64_t *)pb;
    case K_BOOL: return *(const bool *)pa != *(const bool *)pb;
    case K_FLOAT: return memcmp(pa, pb, 4) != 0;
    case K_STR: {
        const char *sa = *(char *const *)pa, *sb = *(char *const *)pb;
        return strcmp(sa ? sa : "", sb ? sb : "") != 0;
    }
    case K_STRS: return ((const lilm_sp_strs *)pa)->n != 0;
    case K_BYTES: return ((const lilm_sp_bytes *)pa)->len != 0;
    }
    return true;
}

static void put_field(lilm_pb_buf *b, const void *spec, const spec_field *sf)
{
    const void *p = (const char *)spec + sf->off;
    switch (sf->kind) {
    case K_INT32: lilm_pb_put_int32(b, sf->number, *(const int32_t *)p); break;
    case K_UINT64: lilm_pb_put_uint64(b, sf->number, *(const uint64_t *)p); break;
    case K_BOOL: lilm_pb_put_uint64(b, sf->number, *(const bool *)p ? 1 : 0); break;
    case K_FLOAT: lilm_pb_put_float(b, sf->number, *(const float *)p); break;
    case K_STR: {
        const char *s = *(char *const *)p;
        lilm_pb_put_bytes(b, sf->number, s ? s : "", s ? strlen(s) : 0);
        break;
    }
    case K_STRS: {
        const lilm_sp_strs *v = p;
        for (size_t i = 0; i < v->n; i++) lilm_pb_put_bytes(b, sf->number, v->items[i], strlen(v->items[i]));
        break;
    }
    case K_BYTES: {
        const lilm_sp_bytes *v = p;
        lilm_pb_put_bytes(b, sf->number, v->data ? (const void *)v->data : "", v->len);
        break;
    }
    }
}

/* Emits the verbatim fields numbered below `limit`, in field-number order
 * (stable), advancing *next over an index sorted by number. */
static void put_raw_below(lilm_pb_buf *b, const lilm_sp_raw_fields *x, const size_t *order, size_t *next,
                          uint64_t limit)
{
    while (*next < x->n && x->items[order[*next]].number < limit) {
        const lilm_sp_raw_field *r = &x->items[order[*next]];
        lilm_pb_put_raw(b, r->bytes, r->len);
        (*next)++;
    }
}

static size_t *raw_order(const lilm_sp_raw_fields *x, int *oom)
{
    size_t *order = malloc((x->n ? x->n : 1) * sizeof *order);
    if (!order) {
        *oom = 1;
        return NULL;
    }
    /* insertion sort: stable, and these lists hold a handful of items */
    for (size_t i = 0; i < x->n; i++) {
        size_t j = i;
        while (j > 0 && x->items[order[j - 1]].number > x->items[i].number) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    return order;
}

static void put_spec(lilm_pb_buf *b, const void *spec, uint64_t has, const void *defaults, const spec_field *fields,
                     size_t n_fields, const lilm_sp_raw_fields *extra)
{
    size_t *order = raw_order(extra, &b->oom);
    if (!order) return;
    size_t next = 0;
    for (size_t i = 0; i < n_fields; i++) {
        put_raw_below(b, extra, order, &next, fields[i].number);
        if ((has & LILM_SP_HAS(fields[i].number)) || field_differs(spec, defaults, &fields[i]))
            put_field(b, spec, &fields[i]);
    }
    put_raw_below(b, extra, order, &next, UINT64_MAX);
    free(order);
}

static void put_sub(lilm_pb_buf *b, uint32_t number, const lilm_pb_buf *sub)
{
    if (sub->oom) b->oom = 1;
    lilm_pb_put_bytes(b, number, sub->data, sub->len);
}

static void put_piece(lilm_pb_buf *b, lilm_pb_buf *tmp, const lilm_sp_piece *sp)
{
    tmp->len = 0;
    size_t *order = raw_order(&sp->extra, &b->oom);
    if (!order) return;
    size_t next = 0;
    put_raw_below(tmp, &sp->extra, order, &next, 1);
    if (sp->piece) lilm_pb_put_bytes(tmp, 1, sp->piece, sp->len);
    put_raw_below(tmp, &sp->extra, order, &next, 2);
    if (sp->has_score || sp->score != 0.0f) lilm_pb_put_float(tmp, 2, sp->score);
    put_raw_below(tmp, &sp->extra, order, &next, 3);
    if (sp->has_type || sp->type != LILM_SP_NORMAL) lilm_pb_put_int32(tmp, 3, sp->type);
    put_raw_below(tmp, &sp->extra, order, &next, UINT64_MAX);
    free(order);
    put_sub(b, 1, tmp);
}

lilm_status lilm_sp_model_serialize(const lilm_sp_model *m, uint8_t **out, size_t *n)
{
    lilm_pb_buf b = {0}, tmp = {0};
    lilm_sp_trainer_spec ts_def;
    lilm_sp_normalizer_spec ns_def;
    trainer_spec_defaults(&ts_def);
    normalizer_spec_defaults(&ns_def);
    lilm_status s = trainer_spec_default_strings(&ts_def);

    size_t *order = raw_order(&m->extra, &b.oom);
    size_t next = 0;
    if (order) {
        for (size_t i = 0; i < m->n_pieces; i++) {
            put_raw_below(&b, &m->extra, order, &next, 1);
            put_piece(&b, &tmp, &m->pieces[i]);
        }
        put_raw_below(&b, &m->extra, order, &next, 2);
        if (m->has_trainer_spec || m->trainer_spec.has) {
            tmp.len = 0;
            put_spec(&tmp, &m->trainer_spec, m->trainer_spec.has, &ts_def, trainer_fields, N_TRAINER_FIELDS,
                     &m->trainer_spec.extra);
            put_sub(&b, 2, &tmp);
        }
        put_raw_below(&b, &m->extra, order, &next, 3);
        if (m->has_normalizer_spec || m->normalizer_spec.has) {
            tmp.len = 0;
            put_spec(&tmp, &m->normalizer_spec, m->normalizer_spec.has, &ns_def, normalizer_fields,
                     N_NORMALIZER_FIELDS, &m->normalizer_spec.extra);
            put_sub(&b, 3, &tmp);
        }
        put_raw_below(&b, &m->extra, order, &next, 5);
        if (m->has_denormalizer_spec || m->denormalizer_spec.has) {
            tmp.len = 0;
            put_spec(&tmp, &m->denormalizer_spec, m->denormalizer_spec.has, &ns_def, normalizer_fields,
                     N_NORMALIZER_FIELDS, &m->denormalizer_spec.extra);
            put_sub(&b, 5, &tmp);
        }
        put_raw_below(&b, &m->extra, order, &next, UINT64_MAX);
        free(order);
    }
    spec_free(&ts_def, trainer_fields, N_TRAINER_FIELDS, &ts_def.extra);
    lilm_pb_buf_free(&tmp);
    if (s != LILM_OK || b.oom) {
        lilm_pb_buf_free(&b);
        return lilm_errorf(LILM_ERR_OOM, "out of memory serializing a SentencePiece model");
    }
    *out = b.data ? b.data : malloc(1);
    *n = b.len;
    if (!*out) return lilm_errorf(LILM_ERR_OOM, "out of memory serializing a SentencePiece model");
    return LILM_OK;
}

lilm_status lilm_sp_model_write(const lilm_sp_model *m, const char *path)
{
    uint8_t *data;
    size_t n;
    LILM_TRY(lilm_sp_model_serialize(m, &data, &n));
    lilm_status s = lilm_write_atomic(path, data, n);
    free(data);
    return s;
}

lilm_status lilm_sp_model_add_piece(lilm_sp_model *m, const char *piece, size_t len, float score,
                                    lilm_sp_piece_type type)
{
    LILM_TRY(grow_pieces(m));
    lilm_sp_piece *sp = &m->pieces[m->n_pieces];
    memset(sp, 0, sizeof *sp);
    LILM_TRY(str_set_n(&sp->piece, piece, len));
    sp->len = len;
    sp->score = score;
    sp->type = type;
    sp->has_score = true;
    sp->has_type = type != LILM_SP_NORMAL;
    m->n_pieces++;
    return LILM_OK;
}

/* ---- validation ---- */

/* Byte value of a "<0xXX>" piece (upper-case hex, as sentencepiece names them), or -1. */
int lilm_sp_piece_byte(const char *s, size_t len)
{
    if (len != 6 || s[0] != '<' || s[1] != '0' || s[2] != 'x' || s[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

static bool is_normal_class(int32_t type)
{
    return type == LILM_SP_NORMAL || type == LILM_SP_USER_DEFINED || type == LILM_SP_UNUSED;
}

bool lilm_sp_piece_skipped(const lilm_sp_model *m, size_t i)
{
    const lilm_sp_piece *sp = &m->pieces[i];
    return sp->len == 1 && sp->piece[0] == '\0' && (sp->type == LILM_SP_UNUSED || m->trainer_spec.byte_fallback);
}

typedef struct piece_key {
    const lilm_sp_piece *p;
    size_t id;
    int cls; /* 0 or 1: pieces may repeat across classes (unigram only) */
} piece_key;

static int cmp_piece_key(const void *a, const void *b)
{
    const piece_key *x = a, *y = b;
    if (x->cls != y->cls) return x->cls - y->cls;
    size_t n = x->p->len < y->p->len ? x->p->len : y->p->len;
    int c = memcmp(x->p->piece, y->p->piece, n);
    if (c) return c;
    if (x->p->len != y->p->len) return x->p->len < y->p->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

lilm_status lilm_sp_model_validate(const lilm_sp_model *m)
{
    const lilm_sp_trainer_spec *ts = &m->trainer_spec;
    if (m->n_pieces == 0) return lilm_errorf(LILM_ERR_FORMAT, "the model has no pieces");
    if (m->n_pieces > INT32_MAX / 2) return lilm_errorf(LILM_ERR_FORMAT, "the model has too many pieces");
    if (ts->model_type < LILM_SP_MODEL_UNIGRAM || ts->model_type > LILM_SP_MODEL_CHAR)
        return lilm_errorf(LILM_ERR_FORMAT, "unknown model_type %d", (int)ts->model_type);
    const bool unigram = ts->model_type == LILM_SP_MODEL_UNIGRAM;
    bool bytes_seen[256] = {false};
    int64_t unk = -1;
    for (size_t i = 0; i < m->n_pieces; i++) {
        const lilm_sp_piece *sp = &m->pieces[i];
        if (sp->type < LILM_SP_NORMAL || sp->type > LILM_SP_BYTE)
            return lilm_errorf(LILM_ERR_FORMAT, "piece %zu has invalid type %d (valid: 1..6)", i, (int)sp->type);
        if (sp->len >= 8000) return lilm_errorf(LILM_ERR_FORMAT, "piece %zu is too long (%zu bytes)", i, sp->len);
        if (!sp->piece || sp->len == 0) return lilm_errorf(LILM_ERR_FORMAT, "piece %zu is empty", i);
        if (lilm_sp_piece_skipped(m, i)) continue;
        if (memchr(sp->piece, 0, sp->len)) return lilm_errorf(LILM_ERR_FORMAT, "piece %zu contains a NUL byte", i);
        if (unigram && (sp->score != sp->score || sp->score > 3.4e38f || sp->score < -3.4e38f))
            return lilm_errorf(LILM_ERR_FORMAT, "piece %zu has a NaN or infinite score", i);
        if (sp->type == LILM_SP_UNKNOWN) {
            if (unk >= 0) return lilm_errorf(LILM_ERR_FORMAT, "pieces %lld and %zu are both UNKNOWN", (long long)unk, i);
            unk = (int64_t)i;
        }
        if (sp->type == LILM_SP_BYTE) {
            if (!ts->byte_fallback)
                return lilm_errorf(LILM_ERR_FORMAT, "byte piece %zu is present but byte_fallback is false", i);
            int b = lilm_sp_piece_byte(sp->piece, sp->len);
            if (b < 0) return lilm_errorf(LILM_ERR_FORMAT, "byte piece %zu is not of the form <0xXX>", i);
            bytes_seen[b] = true;
        }
    }
    if (unk < 0 && !ts->byte_fallback)
        return lilm_errorf(LILM_ERR_FORMAT, "the model has no UNKNOWN (<unk>) piece");
    if (ts->byte_fallback)
        for (int b = 0; b < 256; b++)
            if (!bytes_seen[b])
                return lilm_errorf(LILM_ERR_FORMAT, "byte_fallback is set but the byte piece <0x%02X> is missing", b);
    piece_key *keys = malloc(m->n_pieces * sizeof *keys);
    if (!keys) return lilm_errorf(LILM_ERR_OOM, "out of memory validating %zu pieces", m->n_pieces);
    size_t k = 0;
    for (size_t i = 0; i < m->n_pieces; i++)
        if (!lilm_sp_piece_skipped(m, i))
            keys[k++] = (piece_key){&m->pieces[i], i, unigram ? is_normal_class(m->pieces[i].type) : 0};
    qsort(keys, k, sizeof *keys, cmp_piece_key);
    lilm_status s = LILM_OK;
    for (size_t i = 1; i < k && s == LILM_OK; i++) {
        const lilm_sp_piece *a = keys[i - 1].p, *b = keys[i].p;
        if (keys[i - 1].cls == keys[i].cls && a->len == b->len && memcmp(a->piece, b->piece, a->len) == 0)
            s = lilm_errorf(LILM_ERR_FORMAT, "piece \"%s\" is defined twice (ids %zu and %zu)", a->piece, keys[i - 1].id,
                            keys[i].id);
    }
    free(keys);
    return s;
}
