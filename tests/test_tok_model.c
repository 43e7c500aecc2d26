/*
 * test_tok_model.c: the .model reader/writer and its error handling.
 *
 * Every shared SentencePiece model must read, validate and write back byte
 * for byte; a model built from scratch must read back equal; damaged files
 * (truncated anywhere, bad varints, lengths past the end, bad piece types,
 * broken charsmaps) must fail with LILM_ERR_FORMAT and never crash.
 */
#include "test.h"

#include "core/fileio.h"
#include "core/status.h"
#include "tok/normalizer.h"
#include "tok/sp_model.h"

static const char *const shared_models[] = {
    "unigram_1K", "unigram_8K", "bpe_8K", "baby_unigram_12K", "baby_bpe_12K",
};

static int read_shared(lilm_test *t, const char *name, char **data, size_t *n)
{
    char rel[256], path[1024];
    snprintf(rel, sizeof rel, "tokenizers/%s.model", name);
    lilm_test_shared_path(path, sizeof path, rel);
    lilm_status s = lilm_read_file(path, data, n);
    LT_CHECK(t, s == LILM_OK, "cannot read %s: %s", path, lilm_last_error());
    return s == LILM_OK;
}

static void test_roundtrip_shared(lilm_test *t)
{
    for (size_t i = 0; i < sizeof shared_models / sizeof shared_models[0]; i++) {
        char *data;
        size_t n;
        if (!read_shared(t, shared_models[i], &data, &n)) continue;
        lilm_sp_model m;
        LT_OK(t, lilm_sp_model_parse(&m, (const uint8_t *)data, n));
        LT_OK(t, lilm_sp_model_validate(&m));
        LT_TRUE(t, m.n_pieces >= 1000);
        LT_TRUE(t, m.trainer_spec.byte_fallback);
        LT_EQ_INT(t, m.trainer_spec.pad_id, 3);
        LT_TRUE(t, m.normalizer_spec.name && strcmp(m.normalizer_spec.name, "nmt_nfkc_cf") == 0);
        uint8_t *out;
        size_t on;
        LT_OK(t, lilm_sp_model_serialize(&m, &out, &on));
        LT_CHECK(t, on == n && memcmp(out, data, n) == 0, "%s: round trip differs (%zu vs %zu bytes)",
                 shared_models[i], on, n);
        free(out);
        lilm_sp_model_free(&m);
        free(data);
    }
}

static void build_small(lilm_test *t, lilm_sp_model *m)
{
    lilm_sp_model_init(m);
    LT_OK(t, lilm_sp_model_add_piece(m, "<unk>", 5, 0, LILM_SP_UNKNOWN));
    LT_OK(t, lilm_sp_model_add_piece(m, "<s>", 3, 0, LILM_SP_CONTROL));
    LT_OK(t, lilm_sp_model_add_piece(m, "</s>", 4, 0, LILM_SP_CONTROL));
    LT_OK(t, lilm_sp_model_add_piece(m, "\xe2\x96\x81", 3, -1.0f, LILM_SP_NORMAL));
    LT_OK(t, lilm_sp_model_add_piece(m, "a", 1, -2.0f, LILM_SP_NORMAL));
    LT_OK(t, lilm_sp_model_add_piece(m, "b", 1, -2.5f, LILM_SP_NORMAL));
    LT_OK(t, lilm_sp_model_add_piece(m, "\xe2\x96\x81" "ab", 5, -1.5f, LILM_SP_NORMAL)); /* out of order: allowed */
    m->trainer_spec.vocab_size = 7;
    LT_OK(t, lilm_sp_str_set(&m->trainer_spec.model_prefix, "small"));
    LT_OK(t, lilm_sp_str_set(&m->normalizer_spec.name, "identity"));
    m->has_trainer_spec = m->has_normalizer_spec = true;
}

static void test_build_write_read(lilm_test *t)
{
    lilm_sp_model m, r;
    build_small(t, &m);
    LT_OK(t, lilm_sp_model_validate(&m));
    char dir[512], path[1024];
    lilm_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/small.model", dir);
    LT_OK(t, lilm_sp_model_write(&m, path));
    LT_OK(t, lilm_sp_model_read(&r, path));
    LT_EQ_INT(t, r.n_pieces, m.n_pieces);
    for (size_t i = 0; i < r.n_pieces && i < m.n_pieces; i++) {
        LT_TRUE(t, r.pieces[i].len == m.pieces[i].len && memcmp(r.pieces[i].piece, m.pieces[i].piece, r.pieces[i].len) == 0);
        LT_TRUE(t, r.pieces[i].score == m.pieces[i].score && r.pieces[i].type == m.pieces[i].type);
    }
    LT_EQ_INT(t, r.trainer_spec.vocab_size, 7);
    LT_TRUE(t, strcmp(r.trainer_spec.model_prefix, "small") == 0);
    LT_TRUE(t, strcmp(r.normalizer_spec.name, "identity") == 0);
    LT_TRUE(t, r.normalizer_spec.add_dummy_prefix);
    lilm_sp_model_free(&r);
    /* defaults are not written unless marked */
    uint8_t *a, *b;
    size_t na, nb;
    LT_OK(t, lilm_sp_model_serialize(&m, &a, &na));
    lilm_sp_trainer_spec_mark_all(&m.trainer_spec);
    LT_OK(t, lilm_sp_model_serialize(&m, &b, &nb));
    LT_TRUE(t, nb > na);
    LT_OK(t, lilm_sp_model_parse(&r, b, nb));
    LT_EQ_INT(t, r.trainer_spec.pad_id, -1);
    LT_EQ_INT(t, r.trainer_spec.max_sentence_length, 4192);
    LT_TRUE(t, strcmp(r.trainer_spec.unk_surface, " \xE2\x81\x87 ") == 0);
    uint8_t *c;
    size_t nc;
    LT_OK(t, lilm_sp_model_serialize(&r, &c, &nc));
    LT_TRUE(t, nc == nb && memcmp(b, c, nb) == 0);
    free(a);
    free(b);
    free(c);
    lilm_sp_model_free(&r);
    lilm_sp_model_free(&m);
}

/* Every truncation of a real model is refused as a file (LILM_ERR_FORMAT),
 * also a prefix that ends on a field boundary; each cut is parsed from a
 * buffer of exactly its length, so ASan sees any read past the cut. The
 * whole file still loads. */
static void test_truncated(lilm_test *t)
{
    char *data;
    size_t n;
    if (!read_shared(t, "unigram_1K", &data, &n)) return;
    int bad = 0, accepted = 0, cuts = 0;
    for (size_t cut = 0; cut < n; cut += (cut < 4096 ? 1 : 61)) {
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, data, cut);
        lilm_sp_model m;
        lilm_status s = lilm_sp_model_parse_file(&m, copy, cut);
        if (s == LILM_OK) {
            accepted++;
            lilm_sp_model_free(&m);
        } else if (s != LILM_ERR_FORMAT) {
            bad++;
        }
        free(copy);
        cuts++;
    }
    /* the cuts at each piece boundary, where the protobuf itself is whole */
    lilm_sp_model whole;
    LT_OK(t, lilm_sp_model_parse_file(&whole, (const uint8_t *)data, n));
    size_t at = 0;
    for (size_t i = 0; i < whole.n_pieces && at < n; i++) {
        at += 1; /* tag of field 1 */
        uint64_t len = 0;
        for (int sh = 0; at < n; sh += 7) {
            uint8_t b = (uint8_t)data[at++];
            len |= (uint64_t)(b & 0x7f) << sh;
            if (!(b & 0x80)) break;
        }
        at += len;
        lilm_sp_model m;
        if (lilm_sp_model_parse_file(&m, (const uint8_t *)data, at) == LILM_OK) {
            accepted++;
            lilm_sp_model_free(&m);
        }
        cuts++;
    }
    lilm_sp_model_free(&whole);
    LT_TRUE(t, cuts > 4000);
    LT_EQ_INT(t, bad, 0);
    LT_EQ_INT(t, accepted, 0);
    free(data);
}

/* Non-finite scores (NaN, +Inf, -Inf) written over scores of real models are
 * refused as files; any finite score loads (SentencePiece accepts those). */
static void test_score_flips(lilm_test *t)
{
    static const char *const names[] = {"unigram_1K", "bpe_8K"};
    static const uint32_t bad[] = {0x7fc00000u, 0x7f800000u, 0xff800000u, 0x7f800001u};
    for (size_t k = 0; k < 2; k++) {
        char *data;
        size_t n;
        if (!read_shared(t, names[k], &data, &n)) continue;
        lilm_sp_model m;
        LT_OK(t, lilm_sp_model_parse_file(&m, (const uint8_t *)data, n));
        uint8_t *copy = malloc(n);
        int tried = 0, loaded = 0, finite_refused = 0;
        size_t at = 0;
        /* walk the piece fields; inside each, field 2 (fixed32) is the score */
        for (size_t i = 0; i < m.n_pieces; i++) {
            uint64_t len = 0;
            size_t p = at + 1;
            for (int sh = 0; p < n; sh += 7) {
                uint8_t b = (uint8_t)data[p++];
                len |= (uint64_t)(b & 0x7f) << sh;
                if (!(b & 0x80)) break;
            }
            size_t end = p + len;
            at = end;
            if (m.pieces[i].type != LILM_SP_NORMAL || i % 7 != 0) continue; /* a sample keeps it quick */
            size_t q = p + 1 + 1 + m.pieces[i].len; /* tag 0x0a, 1-byte length, the piece */
            if (q >= end || (uint8_t)data[q] != 0x15) continue; /* tag of field 2, fixed32 */
            for (size_t v = 0; v <= sizeof bad / sizeof bad[0]; v++) {
                memcpy(copy, data, n);
                if (v < sizeof bad / sizeof bad[0]) {
                    for (int j = 0; j < 4; j++) copy[q + 1 + j] = (uint8_t)(bad[v] >> (8 * j));
                } else {
                    copy[q + 4] ^= 0x80; /* the sign: still finite, still loads */
                }
                lilm_sp_model d;
                lilm_status s = lilm_sp_model_parse_file(&d, copy, n);
                if (s == LILM_OK) lilm_sp_model_free(&d);
                if (v < sizeof bad / sizeof bad[0]) {
                    tried++;
                    loaded += s == LILM_OK;
                } else {
                    finite_refused += s != LILM_OK;
                }
            }
        }
        LT_CHECK(t, tried > 100, "%s: only %d scores tried", names[k], tried);
        LT_CHECK(t, loaded == 0, "%s: %d of %d non-finite scores loaded", names[k], loaded, tried);
        LT_CHECK(t, finite_refused == 0, "%s: %d finite scores refused", names[k], finite_refused);
        free(copy);
        lilm_sp_model_free(&m);
        free(data);
    }
}

static void test_bad_wire(lilm_test *t)
{
    lilm_sp_model m;
    /* varint of 11 bytes */
    const uint8_t longvar[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    LT_STATUS(t, lilm_sp_model_parse(&m, longvar, sizeof longvar), LILM_ERR_FORMAT);
    /* length past the end */
    const uint8_t pastend[] = {0x0a, 0x10, 0x0a, 0x01, 'a'};
    LT_STATUS(t, lilm_sp_model_parse(&m, pastend, sizeof pastend), LILM_ERR_FORMAT);
    /* group wire type */
    const uint8_t group[] = {0x0b, 0x0c};
    LT_STATUS(t, lilm_sp_model_parse(&m, group, sizeof group), LILM_ERR_FORMAT);
    /* field number 0 */
    const uint8_t zero[] = {0x00, 0x01};
    LT_STATUS(t, lilm_sp_model_parse(&m, zero, sizeof zero), LILM_ERR_FORMAT);
    /* truncated fixed32 */
    const uint8_t fixed[] = {0x0a, 0x03, 0x15, 0x00, 0x00};
    LT_STATUS(t, lilm_sp_model_parse(&m, fixed, sizeof fixed), LILM_ERR_FORMAT);
    /* empty file parses, but is not a valid model */
    LT_OK(t, lilm_sp_model_parse(&m, (const uint8_t *)"", 0));
    LT_STATUS(t, lilm_sp_model_validate(&m), LILM_ERR_FORMAT);
    lilm_sp_model_free(&m);
}

static void test_bad_models(lilm_test *t)
{
    lilm_sp_model m;
    build_small(t, &m);
    m.pieces[4].type = 9;
    LT_STATUS(t, lilm_sp_model_validate(&m), LILM_ERR_FORMAT);
    m.pieces[4].type = LILM_SP_UNKNOWN;
    LT_STATUS(t, lilm_sp_model_validate(&m), LILM_ERR_FORMAT);
    m.pieces[4].type = LILM_SP_BYTE;
    LT_STATUS(t, lilm_sp_model_validate(&m), LILM_ERR_FORMAT);
    m.pieces[4].type = LILM_SP_NORMAL;
    LT_OK(t, lilm_sp_model_add_piece(&m, "a", 1, -3.0f, LILM_SP_NORMAL));
    LT_STATUS(t, lilm_sp_model_validate(&m), LILM_ERR_FORMAT);
    m.pieces[m.n_pieces - 1].type = LILM_SP_CONTROL; /* same text, other class: allowed */
    LT_OK(t, lilm_sp_model_validate(&m));
    m.trainer_spec.byte_fallback = true; /* without the 256 byte pieces */
    LT_STATUS(t, lilm_sp_model_validate(&m), LILM_ERR_FORMAT);
    lilm_sp_model_free(&m);
}

static void test_bad_charsmap(lilm_test *t)
{
    lilm_sp_normalizer_spec ns;
    lilm_sp_model m;
    lilm_sp_model_init(&m);
    ns = m.normalizer_spec;
    lilm_normalizer nz;
    uint8_t tiny[3] = {1, 0, 0};
    ns.precompiled_charsmap = (lilm_sp_bytes){tiny, sizeof tiny};
    LT_STATUS(t, lilm_normalizer_init(&nz, &ns, false), LILM_ERR_FORMAT);
    uint8_t big[8] = {0xff, 0xff, 0, 0, 1, 2, 3, 4};
    ns.precompiled_charsmap = (lilm_sp_bytes){big, sizeof big};
    LT_STATUS(t, lilm_normalizer_init(&nz, &ns, false), LILM_ERR_FORMAT);
    /* a trie of garbage units: rejected by the structural check */
    uint8_t junk[4 + 1024 + 8];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)(i * 37 + 11);
    junk[0] = 0; junk[1] = 4; junk[2] = junk[3] = 0;
    ns.precompiled_charsmap = (lilm_sp_bytes){junk, sizeof junk};
    LT_STATUS(t, lilm_normalizer_init(&nz, &ns, false), LILM_ERR_FORMAT);
    /* a real charsmap with bytes flipped: a format error or a working
     * normaliser, never a crash or an out-of-bounds read */
    char *data;
    size_t n;
    if (read_shared(t, "unigram_1K", &data, &n)) {
        lilm_sp_model real;
        LT_OK(t, lilm_sp_model_parse(&real, (const uint8_t *)data, n));
        lilm_sp_bytes *cm = &real.normalizer_spec.precompiled_charsmap;
        LT_TRUE(t, cm->len > 4096);
        uint8_t *copy = malloc(cm->len);
        char *out = NULL;
        size_t cap = 0, on = 0;
        int ok = 0, bad = 0;
        uint32_t rng = 12345;
        for (int round = 0; round < 300 && copy; round++) {
            memcpy(copy, cm->data, cm->len);
            for (int f = 0; f < 1 + round % 4; f++) {
                rng = rng * 1103515245u + 12345u;
                copy[4 + (rng >> 8) % (cm->len - 4)] ^= (uint8_t)(1u << (rng % 8));
            }
            ns = real.normalizer_spec;
            ns.precompiled_charsmap = (lilm_sp_bytes){copy, cm->len};
            lilm_status s = lilm_normalizer_init(&nz, &ns, false);
            if (s == LILM_OK) {
                ok++;
                const char *txt = "Hello W\xc3\xb6rld \xef\xac\x81 \xe2\x91\xa0 \xef\xbc\xa1 \xff\x80 x";
                LT_OK(t, lilm_normalizer_normalize(&nz, txt, strlen(txt), &out, &cap, &on, NULL, NULL));
            } else {
                bad++;
                LT_EQ_INT(t, s, LILM_ERR_FORMAT);
            }
        }
        LT_TRUE(t, ok > 0 && bad > 0);
        free(out);
        free(copy);
        lilm_sp_model_free(&real);
        free(data);
    }
    lilm_sp_model_free(&m);
}

static const lilm_test_case cases[] = {
    {"roundtrip_shared", test_roundtrip_shared},
    {"build_write_read", test_build_write_read},
    {"truncated", test_truncated},
    {"score_flips", test_score_flips},
    {"bad_wire", test_bad_wire},
    {"bad_models", test_bad_models},
    {"bad_charsmap", test_bad_charsmap},
};
LILM_TEST_MAIN(cases)
