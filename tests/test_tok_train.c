/*
 * test_tok_train.c: the tokenizer trainers and the charsmap builder.
 *
 * Checks that the built nmt_nfkc_cf map normalises known cases the way
 * sentencepiece does (full-width forms, ligatures, combining sequences, case
 * folding, the NMT whitespace and control rules), that explicit rules compile
 * into a trie the normaliser reads back, that BPE and unigram training on a
 * small generated text give valid models of the asked size with the expected
 * first pieces, and that bad input (invalid UTF-8, impossible vocab sizes,
 * broken JSONL, missing files) fails with a clear status instead of crashing.
 * (tests/py/test_tok_train.py compares against the sentencepiece library.)
 */
#include "test.h"

#include <stdint.h>

#include "core/fileio.h"
#include "core/status.h"
#include "tok/charsmap_build.h"
#include "tok/normalizer.h"
#include "tok/sp_model.h"
#include "tok/trainer.h"

/* Normalises `in` with a spec holding `blob`; returns a malloc'd string. */
static char *normalize_with(const uint8_t *blob, size_t n, const char *in)
{
    lilm_sp_model m;
    lilm_sp_model_init(&m);
    if (lilm_sp_bytes_set(&m.normalizer_spec.precompiled_charsmap, blob, n) != LILM_OK) return NULL;
    lilm_normalizer nz;
    char *out = NULL;
    size_t cap = 0, on = 0;
    if (lilm_normalizer_init(&nz, &m.normalizer_spec, false) != LILM_OK ||
        lilm_normalizer_normalize(&nz, in, strlen(in), &out, &cap, &on, NULL, NULL) != LILM_OK) {
        free(out);
        out = NULL;
    }
    lilm_sp_model_free(&m);
    return out;
}

static void test_charsmap_nmt_nfkc_cf(lilm_test *t)
{
    uint8_t *blob = NULL;
    size_t n = 0;
    LT_OK(t, lilm_charsmap_build_nmt_nfkc_cf(&blob, &n));
    LT_CHECK(t, n > 100000 && n < 4000000, "charsmap size %zu", n);
    static const char *const cases[][2] = {
        {"Hello World", "\xe2\x96\x81hello\xe2\x96\x81world"},
        {"\xef\xbc\xa8\xef\xbd\x85\xef\xbd\x8c\xef\xbd\x8c\xef\xbd\x8f", "\xe2\x96\x81hello"}, /* full-width */
        {"\xef\xac\x81ne", "\xe2\x96\x81" "fine"},                                             /* fi ligature */
        {"cafe\xcc\x81", "\xe2\x96\x81" "caf\xc3\xa9"},                                         /* e + U+0301 */
        {"Stra\xc3\x9f" "e", "\xe2\x96\x81stra\xc3\x9f" "e"},                                   /* simple fold keeps sharp s */
        {"a\tb\r\nc", "\xe2\x96\x81" "a\xe2\x96\x81" "b\xe2\x96\x81" "c"},                     /* NMT whitespace */
        {"x\x01y\x7f", "\xe2\x96\x81xy"},                                                       /* controls removed */
        {"\xef\xbd\x9e", "\xe2\x96\x81\xef\xbd\x9e"},                                          /* FULLWIDTH TILDE kept */
        {"\xce\xa3\xce\x91", "\xe2\x96\x81\xcf\x83\xce\xb1"},                                  /* Greek folded */
        {"\xe2\x85\xa2", "\xe2\x96\x81iii"},                                                    /* Roman numeral three */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = normalize_with(blob, n, cases[i][0]);
        LT_CHECK(t, got && strcmp(got, cases[i][1]) == 0, "case %zu: '%s' -> '%s', want '%s'", i, cases[i][0],
                 got ? got : "(error)", cases[i][1]);
        free(got);
    }
    free(blob);
}

static void test_charsmap_compile(lilm_test *t)
{
    const char *keys[] = {"a", "ab", "abc", "b", "\xc3\xa9", "zz"};
    const char *vals[] = {"A", "X", "", "B", "e", "Z"};
    uint8_t *blob = NULL;
    size_t n = 0;
    LT_OK(t, lilm_charsmap_compile(keys, vals, 6, &blob, &n));
    char *got = normalize_with(blob, n, "abcab b \xc3\xa9zzz a");
    /* abc -> "", ab -> X, b -> B, é -> e, zz -> Z then z, a -> A */
    LT_CHECK(t, got && strcmp(got, "\xe2\x96\x81X\xe2\x96\x81" "B\xe2\x96\x81" "eZz\xe2\x96\x81" "A") == 0, "got '%s'",
             got ? got : "(error)");
    free(got);
    free(blob);
    const char *dup[] = {"a", "a"};
    LT_STATUS(t, lilm_charsmap_compile(dup, vals, 2, &blob, &n), LILM_ERR_ARG);
    const char *empty[] = {""};
    LT_STATUS(t, lilm_charsmap_compile(empty, vals, 1, &blob, &n), LILM_ERR_ARG);
}

/* Writes a small corpus: words made of 1-3 syllables, with skewed counts. */
static void write_corpus(lilm_test *t, const char *path)
{
    FILE *f = fopen(path, "w");
    LT_TRUE(t, f != NULL);
    if (!f) return;
    const char *syl[] = {"the", "ca", "t", "sa", "on", "ma", "ha", "er", "bro", "ing", "s", "ed", "pre", "un", "lo", "ve"};
    uint64_t x = 12345;
    for (int line = 0; line < 600; line++) {
        for (int k = 0; k < 12; k++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            uint64_t r = x >> 20;
            int n_syl = 1 + (int)(r % 3);
            fputs(k ? " " : "", f);
            for (int j = 0; j < n_syl; j++) {
                size_t a = (size_t)((r >> (8 + 6 * j)) % 16);
                fputs(syl[(a * a) % 16], f); /* skewed syllable use */
            }
        }
        fprintf(f, "%s\n", line % 7 == 0 ? "." : "");
    }
    fclose(f);
}

static void train_small(lilm_test *t, int32_t type, const char *corpus, int32_t vocab, lilm_sp_model *m,
                        lilm_status want)
{
    lilm_tok_train_opts o;
    lilm_tok_train_opts_init(&o);
    const char *inputs[1] = {corpus};
    o.inputs = inputs;
    o.n_inputs = 1;
    o.model_type = type;
    o.vocab_size = vocab;
    o.character_coverage = 1.0;
    o.byte_fallback = true;
    o.seed_sentencepiece_size = 1000;
    LT_STATUS(t, lilm_tok_train(&o, m), want);
}

static void test_bpe_small(lilm_test *t)
{
    char dir[512], corpus[1024], out[1100];
    lilm_test_tmpdir(dir, sizeof(dir));
    snprintf(corpus, sizeof(corpus), "%s/corpus.txt", dir);
    write_corpus(t, corpus);
    lilm_sp_model m;
    train_small(t, LILM_SP_MODEL_BPE, corpus, 300, &m, LILM_OK);
    LT_EQ_INT(t, m.n_pieces, 300);
    LT_OK(t, lilm_sp_model_validate(&m));
    if (m.n_pieces == 300) {
        LT_CHECK(t, strcmp(m.pieces[0].piece, "<unk>") == 0 && m.pieces[0].type == LILM_SP_UNKNOWN, "id 0");
        LT_CHECK(t, strcmp(m.pieces[3].piece, "<pad>") == 0 && m.pieces[3].type == LILM_SP_CONTROL, "id 3");
        LT_CHECK(t, strcmp(m.pieces[4].piece, "<0x00>") == 0 && m.pieces[4].type == LILM_SP_BYTE, "id 4");
        LT_CHECK(t, m.pieces[260].type == LILM_SP_NORMAL && m.pieces[260].score == 0.0f, "first merge score");
        LT_CHECK(t, m.pieces[261].score == -1.0f, "second merge score %g", (double)m.pieces[261].score);
        LT_EQ_INT(t, m.trainer_spec.model_type, LILM_SP_MODEL_BPE);
        LT_TRUE(t, strcmp(m.normalizer_spec.name, "nmt_nfkc_cf") == 0);
    }
    snprintf(out, sizeof(out), "%s/bpe.model", dir);
    LT_OK(t, lilm_sp_model_write(&m, out));
    lilm_sp_model back;
    LT_OK(t, lilm_sp_model_read(&back, out));
    LT_EQ_INT(t, back.n_pieces, m.n_pieces);
    lilm_sp_model_free(&back);
    lilm_sp_model_free(&m);
    /* more pieces than the text has merges */
    train_small(t, LILM_SP_MODEL_BPE, corpus, 5000, &m, LILM_ERR_ARG);
}

static void test_unigram_small(lilm_test *t)
{
    char dir[512], corpus[1024];
    lilm_test_tmpdir(dir, sizeof(dir));
    snprintf(corpus, sizeof(corpus), "%s/corpus.txt", dir);
    write_corpus(t, corpus);
    lilm_sp_model m;
    train_small(t, LILM_SP_MODEL_UNIGRAM, corpus, 290, &m, LILM_OK);
    LT_EQ_INT(t, m.n_pieces, 290);
    LT_OK(t, lilm_sp_model_validate(&m));
    int found_the = 0;
    for (size_t i = 260; i < m.n_pieces; i++) {
        if (strcmp(m.pieces[i].piece, "\xe2\x96\x81the") == 0) found_the = 1;
        LT_CHECK(t, m.pieces[i].score <= 0.0f, "piece %zu score %g", i, (double)m.pieces[i].score);
        if (i > 260) LT_CHECK(t, m.pieces[i].score <= m.pieces[i - 1].score, "scores not sorted at %zu", i);
    }
    LT_TRUE(t, found_the);
    lilm_sp_model_free(&m);
}

static void test_bad_input(lilm_test *t)
{
    char dir[512], path[1024];
    lilm_test_tmpdir(dir, sizeof(dir));
    lilm_sp_model m;
    /* invalid UTF-8 names the line */
    snprintf(path, sizeof(path), "%s/bad.txt", dir);
    const char *bad = "good line\nbad \xff\xfe line\n";
    LT_OK(t, lilm_write_atomic(path, bad, strlen(bad)));
    train_small(t, LILM_SP_MODEL_BPE, path, 300, &m, LILM_ERR_FORMAT);
    LT_CHECK(t, strstr(lilm_last_error(), "bad.txt:2") != NULL, "message: %s", lilm_last_error());
    /* vocab smaller than the characters + specials */
    snprintf(path, sizeof(path), "%s/chars.txt", dir);
    write_corpus(t, path);
    train_small(t, LILM_SP_MODEL_UNIGRAM, path, 270, &m, LILM_ERR_ARG);
    train_small(t, LILM_SP_MODEL_BPE, path, 100, &m, LILM_ERR_ARG);
    train_small(t, LILM_SP_MODEL_BPE, path, 0, &m, LILM_ERR_ARG);
    /* missing file */
    snprintf(path, sizeof(path), "%s/missing.txt", dir);
    lilm_status s;
    lilm_tok_train_opts o;
    lilm_tok_train_opts_init(&o);
    const char *in[1] = {path};
    o.inputs = in;
    o.n_inputs = 1;
    s = lilm_tok_train(&o, &m);
    LT_CHECK(t, s == LILM_ERR_IO || s == LILM_ERR_NOT_FOUND, "missing file gave %s", lilm_status_str(s));
    /* JSONL: a good file trains, a broken line is named */
    snprintf(path, sizeof(path), "%s/docs.jsonl", dir);
    FILE *f = fopen(path, "w");
    LT_TRUE(t, f != NULL);
    if (!f) return;
    for (int i = 0; i < 200; i++)
        fprintf(f, "{\"id\": %d, \"meta\": {\"a\": [1, \"x}\"]}, \"text\": \"the cat\\nsat on the mat \\u00e9t\\u00e9 %d\"}\n", i, i % 10);
    fclose(f);
    o.format = LILM_TRAIN_JSONL;
    o.model_type = LILM_SP_MODEL_BPE;
    o.vocab_size = 300;
    o.byte_fallback = true;
    LT_OK(t, lilm_tok_train(&o, &m));
    LT_EQ_INT(t, m.n_pieces, 300);
    lilm_sp_model_free(&m);
    f = fopen(path, "a");
    if (f) {
        fprintf(f, "{\"text\": \"unterminated}\n");
        fclose(f);
    }
    LT_STATUS(t, lilm_tok_train(&o, &m), LILM_ERR_FORMAT);
    LT_CHECK(t, strstr(lilm_last_error(), "docs.jsonl:201") != NULL, "message: %s", lilm_last_error());
    o.jsonl_field = "body";
    o.format = LILM_TRAIN_JSONL;
    LT_STATUS(t, lilm_tok_train(&o, &m), LILM_ERR_FORMAT);
    /* prepared documents: NUL-terminated, newlines split sentences */
    snprintf(path, sizeof(path), "%s/docs.nul", dir);
    f = fopen(path, "wb");
    LT_TRUE(t, f != NULL);
    if (!f) return;
    for (int i = 0; i < 300; i++) {
        fprintf(f, "the cat sat on the mat %d\nthen the hat\nother brother %d", i % 13, i % 7);
        fputc(0, f);
    }
    fputs("bad \xff", f);
    fputc(0, f);
    fclose(f);
    o.format = LILM_TRAIN_DOCS;
    LT_STATUS(t, lilm_tok_train(&o, &m), LILM_ERR_FORMAT);
    LT_CHECK(t, strstr(lilm_last_error(), "document 301") != NULL, "message: %s", lilm_last_error());
    f = fopen(path, "wb"); /* the same without the bad document */
    for (int i = 0; f && i < 300; i++) {
        fprintf(f, "the cat sat on the mat %d\nthen the hat\nother brother %d", i % 13, i % 7);
        fputc(0, f);
    }
    if (f) fclose(f);
    LT_OK(t, lilm_tok_train(&o, &m));
    LT_EQ_INT(t, m.n_pieces, 300);
    lilm_sp_model_free(&m);
}

/* Damaged JSONL and text (cut anywhere, bytes flipped) must fail cleanly or
 * train, never crash (run under `make asan` too). */
static void test_damaged_input(lilm_test *t)
{
    char dir[512], path[1024];
    lilm_test_tmpdir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/fuzz.jsonl", dir);
    const char *good = "{\"id\": 1, \"x\": [1, {\"y\": \"}\"}], \"text\": \"caf\\u00e9 \\ud83d\\ude00 the cat\\nsat\"}\n";
    size_t glen = strlen(good);
    uint64_t x = 99;
    for (int it = 0; it < 60; it++) {
        char buf[256];
        memcpy(buf, good, glen);
        size_t len = glen;
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        if (it % 2) len = (size_t)(x >> 40) % glen; /* cut */
        for (int k = 0; k < it % 4; k++) {           /* flip bytes */
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            buf[(x >> 33) % (len ? len : 1)] ^= (char)(1 + ((x >> 20) & 0x7f));
        }
        LT_OK(t, lilm_write_atomic(path, buf, len));
        for (int fmt = 0; fmt < 3; fmt++) {
            lilm_tok_train_opts o;
            lilm_tok_train_opts_init(&o);
            const char *in[1] = {path};
            o.inputs = in;
            o.n_inputs = 1;
            o.format = (lilm_train_format)fmt;
            o.normalization = "identity";
            o.model_type = it % 3 == 0 ? LILM_SP_MODEL_UNIGRAM : LILM_SP_MODEL_BPE;
            o.vocab_size = 40;
            o.byte_fallback = false;
            lilm_sp_model m;
            lilm_status s = lilm_tok_train(&o, &m);
            LT_CHECK(t, s == LILM_OK || s == LILM_ERR_FORMAT || s == LILM_ERR_ARG, "iteration %d format %d: %s: %s",
                     it, fmt, lilm_status_str(s), lilm_last_error());
            lilm_sp_model_free(&m);
        }
    }
}

static const lilm_test_case cases[] = {
    {"charsmap_nmt_nfkc_cf", test_charsmap_nmt_nfkc_cf},
    {"charsmap_compile", test_charsmap_compile},
    {"bpe_small", test_bpe_small},
    {"unigram_small", test_unigram_small},
    {"bad_input", test_bad_input},
    {"damaged_input", test_damaged_input},
};

LILM_TEST_MAIN(cases)
