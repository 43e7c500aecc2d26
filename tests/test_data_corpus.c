/*
 * test_data_corpus.c: the corpus interface over raw text, and where a run's
 * tokenizer comes from.
 *
 * - the full validation pass makes every held-out token a target exactly
 *   once, in lilm_corpus_val_batches batches; the partial pass starts at the
 *   held-out data's start each time and never ends by itself;
 * - a cursor saved after some training batches and restored into a fresh
 *   corpus gives the same next batches;
 * - lilm_data_resolve_tokenizer: an explicit tokenizer, "bytes" for raw text,
 *   the dataset's meta.json, a moved tokenizer found beside the dataset, and
 *   a clear error naming the dataset when it is gone.
 */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/corpus.h"
#include "tok/tokenizer.h"

static void write_text(const char *path, int lines)
{
    FILE *f = fopen(path, "w");
    if (!f) return;
    for (int i = 0; i < lines; i++) fprintf(f, "line %d: the quick brown fox jumps over the lazy dog.\n", i);
    fclose(f);
}

static lilm_status open_text(lilm_corpus **c, const char *path, const lilm_tokenizer *tok)
{
    lilm_data_config d;
    memset(&d, 0, sizeof d);
    snprintf(d.text, sizeof d.text, "%s", path);
    d.val_fraction = 0.1;
    lilm_corpus_opts o = {.B = 3, .T = 16, .seed = 7, .pad_id = 3, .train = 1};
    return lilm_corpus_open(c, &d, tok, &o);
}

static void test_text_passes(lilm_test *t)
{
    char dir[512], path[600];
    lilm_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/a.txt", dir);
    write_text(path, 200);
    lilm_tokenizer *tok = NULL;
    LT_OK(t, lilm_tokenizer_bytes(&tok));
    lilm_corpus *c = NULL;
    LT_OK(t, open_text(&c, path, tok));
    if (!c) {
        lilm_tokenizer_free(tok);
        return;
    }
    /* full pass: count targets that are not pad */
    lilm_corpus_val_begin(c, 1);
    int64_t targets = 0, batches = 0;
    for (;;) {
        lilm_batch b;
        int done = 0;
        LT_OK(t, lilm_corpus_val_next(c, &b, &done));
        if (done) break;
        for (size_t k = 0; k < b.B * b.T; k++) targets += b.targets[k] != 3;
        batches++;
    }
    LT_EQ_INT(t, batches, lilm_corpus_val_batches(c));
    double bpt = lilm_corpus_val_bytes_per_token(c);
    LT_TRUE(t, bpt > 0.9 && bpt < 1.1); /* bytes tokenizer: about one byte per token (plus EOS) */
    LT_TRUE(t, targets > 0 && lilm_corpus_val_bytes(c) > 0);
    LT_NEAR(t, (double)targets, (double)lilm_corpus_val_bytes(c) / bpt, 0.5);
    /* partial pass: the same first batch each time, and it keeps going */
    int32_t first[48];
    for (int pass = 0; pass < 2; pass++) {
        lilm_corpus_val_begin(c, 0);
        lilm_batch b;
        int done = 1;
        LT_OK(t, lilm_corpus_val_next(c, &b, &done));
        LT_EQ_INT(t, done, 0);
        if (pass == 0) memcpy(first, b.inputs, sizeof first);
        else LT_TRUE(t, memcmp(first, b.inputs, sizeof first) == 0);
        for (int64_t k = 0; k < 4 * batches && !done; k++) LT_OK(t, lilm_corpus_val_next(c, &b, &done));
        LT_EQ_INT(t, done, 0);
    }
    /* cursor round trip */
    lilm_batch b;
    for (int k = 0; k < 5; k++) LT_OK(t, lilm_corpus_next(c, &b));
    lilm_data_cursor cur;
    lilm_corpus_get_cursor(c, &cur);
    LT_OK(t, lilm_corpus_next(c, &b));
    memcpy(first, b.inputs, sizeof first);
    lilm_corpus *c2 = NULL;
    LT_OK(t, open_text(&c2, path, tok));
    if (c2) {
        LT_OK(t, lilm_corpus_set_cursor(c2, &cur));
        LT_OK(t, lilm_corpus_next(c2, &b));
        LT_TRUE(t, memcmp(first, b.inputs, sizeof first) == 0);
        lilm_corpus_close(c2);
    }
    lilm_corpus_close(c);
    lilm_tokenizer_free(tok);
}

static void write_meta(const char *dir, const char *tokpath)
{
    char path[700];
    snprintf(path, sizeof path, "%s/meta.json", dir);
    FILE *f = fopen(path, "w");
    if (!f) return;
    fprintf(f, "{\"tokenizer\": {\"path\": \"%s\"}}\n", tokpath);
    fclose(f);
}

static void test_resolve_tokenizer(lilm_test *t)
{
    lilm_data_config d;
    memset(&d, 0, sizeof d);
    char out[LILM_PATH_MAX];
    snprintf(d.tokenizer, sizeof d.tokenizer, "x.model");
    LT_OK(t, lilm_data_resolve_tokenizer(&d, out, sizeof out));
    LT_TRUE(t, strcmp(out, "x.model") == 0);
    d.tokenizer[0] = '\0';
    snprintf(d.text, sizeof d.text, "a.txt");
    LT_OK(t, lilm_data_resolve_tokenizer(&d, out, sizeof out));
    LT_TRUE(t, strcmp(out, "bytes") == 0);

    char dir[512], tokfile[600];
    lilm_test_tmpdir(dir, sizeof dir);
    snprintf(d.dataset, sizeof d.dataset, "%s", dir);
    snprintf(tokfile, sizeof tokfile, "%s/own.model", dir);
    FILE *f = fopen(tokfile, "w");
    if (f) fclose(f);
    write_meta(dir, tokfile);
    LT_OK(t, lilm_data_resolve_tokenizer(&d, out, sizeof out));
    LT_TRUE(t, strcmp(out, tokfile) == 0);
    write_meta(dir, "/elsewhere/gone/own.model");
    LT_OK(t, lilm_data_resolve_tokenizer(&d, out, sizeof out));
    LT_TRUE(t, strcmp(out, tokfile) == 0);
    write_meta(dir, "/elsewhere/gone/other.model");
    LT_STATUS(t, lilm_data_resolve_tokenizer(&d, out, sizeof out), LILM_ERR_NOT_FOUND);
    LT_TRUE(t, strstr(lilm_last_error(), dir) != NULL);
}

static const lilm_test_case cases[] = {
    {"text_passes", test_text_passes},
    {"resolve_tokenizer", test_resolve_tokenizer},
};

LILM_TEST_MAIN(cases)
