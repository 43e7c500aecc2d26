/*
 * test_tok_encode.c: encoding and decoding through the public tokenizer API.
 *
 * The bytes tokenizer; SentencePiece models against ids and decodes recorded
 * from the sentencepiece package (0.2.3) for texts the Python parity test
 * cannot pass through the CLI (NUL bytes) and a few others; decode(encode(x))
 * round trips; workspace reuse and many threads giving the same ids; an
 * in-memory model with user-defined pieces; and the error cases (missing or
 * damaged files, ids out of range).
 */
#include "test.h"

#include <omp.h>

#include "core/fileio.h"
#include "core/sha256.h"
#include "core/status.h"
#include "tok/sp_model.h"
#include "tok/tokenizer.h"

typedef struct golden {
    const char *model;
    const char *text;
    size_t len;
    int32_t ids[40];
    const char *decoded;
    size_t decoded_len;
    size_t n_ids;
} golden;

/* Generated with sentencepiece 0.2.3: sp.encode(text), sp.decode(ids). */
static const golden goldens[] = {
    {"unigram_8K", "\x48\x65\x6c\x6c\x6f\x20\x77\x6f\x72\x6c\x64", 11, {4576, 357}, "\x68\x65\x6c\x6c\x6f\x20\x77\x6f\x72\x6c\x64", 11, 2},
    {"unigram_8K", "\x61\x00\x62\x20\x63\x00", 6, {263, 4, 2253, 3276, 4}, "\x61\x00\x62\x20\x63\x00", 6, 5},
    {"unigram_8K", "\x00", 1, {796, 4}, "\x00", 1, 2},
    {"unigram_8K", "\x20\x20\xef\xac\x81\x20\xe2\x91\xa0\x20\xef\xbc\xa1\xef\xbc\xa2\x20\x20", 18, {3442, 305, 6290, 263, 2253}, "\x66\x69\x20\x31\x20\x61\x62", 7, 5},
    {"unigram_8K", "\x61\x62\xff\x63\xe2\x82", 6, {263, 2253, 243, 195, 193, 1825, 243, 195, 193, 243, 195, 193}, "\x61\x62\xef\xbf\xbd\x63\xef\xbf\xbd\xef\xbf\xbd", 12, 12},
    {"unigram_8K", "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd\x20\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9", 20, {796, 244, 163, 149, 145, 244, 163, 147, 193, 796, 244, 163, 149, 172, 230, 132, 145, 244, 163, 149, 173}, "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd\x20\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9", 20, 21},
    {"unigram_8K", "", 0, {0}, "", 0, 0},
    {"unigram_8K", "\x20\x20\x20", 3, {0}, "", 0, 0},
    {"unigram_8K", "\x73\x74\x72\x61\xc3\x9f\x65\x20\xc4\xb0\x73\x74\x61\x6e\x62\x75\x6c", 17, {5330, 816, 199, 163, 1697, 796, 200, 180, 1913, 2554, 2253, 4422}, "\x73\x74\x72\x61\xc3\x9f\x65\x20\xc4\xb0\x73\x74\x61\x6e\x62\x75\x6c", 17, 12},
    {"bpe_8K", "\x48\x65\x6c\x6c\x6f\x20\x77\x6f\x72\x6c\x64", 11, {6768, 588}, "\x68\x65\x6c\x6c\x6f\x20\x77\x6f\x72\x6c\x64", 11, 2},
    {"bpe_8K", "\x61\x00\x62\x20\x63\x00", 6, {262, 4, 7972, 275, 4}, "\x61\x00\x62\x20\x63\x00", 6, 5},
    {"bpe_8K", "\x00", 1, {7950, 4}, "\x00", 1, 2},
    {"bpe_8K", "\x20\x20\xef\xac\x81\x20\xe2\x91\xa0\x20\xef\xbc\xa1\xef\xbc\xa2\x20\x20", 18, {829, 7950, 7987, 437}, "\x66\x69\x20\x31\x20\x61\x62", 7, 4},
    {"bpe_8K", "\x61\x62\xff\x63\xe2\x82", 6, {437, 243, 195, 193, 7968, 243, 195, 193, 243, 195, 193}, "\x61\x62\xef\xbf\xbd\x63\xef\xbf\xbd\xef\xbf\xbd", 12, 11},
    {"bpe_8K", "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd\x20\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9", 20, {7950, 244, 163, 149, 145, 244, 163, 147, 193, 7950, 244, 163, 149, 172, 230, 132, 145, 244, 163, 149, 173}, "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd\x20\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9", 20, 21},
    {"bpe_8K", "", 0, {0}, "", 0, 0},
    {"bpe_8K", "\x20\x20\x20", 3, {0}, "", 0, 0},
    {"bpe_8K", "\x73\x74\x72\x61\xc3\x9f\x65\x20\xc4\xb0\x73\x74\x61\x6e\x62\x75\x6c", 17, {501, 7953, 199, 163, 7951, 7950, 200, 180, 325, 288, 7299}, "\x73\x74\x72\x61\xc3\x9f\x65\x20\xc4\xb0\x73\x74\x61\x6e\x62\x75\x6c", 17, 11},
};

static lilm_tokenizer *load_shared(lilm_test *t, const char *name)
{
    char rel[256], path[1024];
    snprintf(rel, sizeof rel, "tokenizers/%s.model", name);
    lilm_test_shared_path(path, sizeof path, rel);
    lilm_tokenizer *tok = NULL;
    LT_OK(t, lilm_tokenizer_load(&tok, path));
    return tok;
}

static void test_bytes(lilm_test *t)
{
    lilm_tokenizer *tok;
    LT_OK(t, lilm_tokenizer_load(&tok, "bytes"));
    LT_EQ_INT(t, lilm_tokenizer_kind(tok), LILM_TOK_BYTES);
    LT_EQ_INT(t, lilm_tokenizer_vocab_size(tok), 260);
    LT_EQ_INT(t, lilm_tokenizer_eos_id(tok), 2);
    LT_TRUE(t, strcmp(lilm_tokenizer_piece(tok, 4 + 'A'), "<0x41>") == 0);
    LT_TRUE(t, lilm_tokenizer_piece(tok, 260) == NULL && lilm_tokenizer_model(tok) == NULL);
    const char text[] = "h\xc3\xa9\x00llo\xff";
    int32_t *ids = NULL;
    size_t cap = 0, n = 0;
    LT_OK(t, lilm_tokenizer_encode(tok, text, sizeof text - 1, &ids, &cap, &n));
    LT_EQ_INT(t, n, sizeof text - 1);
    LT_EQ_INT(t, ids[1], 4 + 0xc3);
    char *out = NULL;
    size_t ocap = 0, on = 0;
    LT_OK(t, lilm_tokenizer_decode(tok, ids, n, &out, &ocap, &on));
    LT_TRUE(t, on == sizeof text - 1 && memcmp(out, text, on) == 0);
    free(ids);
    free(out);
    lilm_tokenizer_free(tok);
}

static void test_goldens(lilm_test *t)
{
    for (size_t g = 0; g < sizeof goldens / sizeof goldens[0]; g++) {
        const golden *gd = &goldens[g];
        lilm_tokenizer *tok = load_shared(t, gd->model);
        if (!tok) continue;
        int32_t *ids = NULL;
        size_t cap = 0, n = 0;
        LT_OK(t, lilm_tokenizer_encode(tok, gd->text, gd->len, &ids, &cap, &n));
        int same = n == gd->n_ids;
        for (size_t i = 0; same && i < n; i++) same = ids[i] == gd->ids[i];
        LT_CHECK(t, same, "%s: golden %zu: %zu ids, want %zu", gd->model, g, n, gd->n_ids);
        char *out = NULL;
        size_t ocap = 0, on = 0;
        LT_OK(t, lilm_tokenizer_decode(tok, gd->ids, gd->n_ids, &out, &ocap, &on));
        LT_CHECK(t, on == gd->decoded_len && memcmp(out, gd->decoded, on) == 0, "%s: golden %zu decodes differently",
                 gd->model, g);
        free(ids);
        free(out);
        lilm_tokenizer_free(tok);
    }
}

/* The bytes of a file under ../shared (NULL after a failed check). */
static char *read_shared(lilm_test *t, const char *rel, size_t *n)
{
    char path[1024];
    lilm_test_shared_path(path, sizeof path, rel);
    char *data = NULL;
    LT_OK(t, lilm_read_file(path, &data, n));
    return data;
}

static void test_round_trip_threads(lilm_test *t)
{
    static const char *const names[] = {"unigram_1K", "baby_bpe_12K"};
    size_t n;
    char *data = read_shared(t, "data/babylm/dev/strict_small_2024/switchboard.dev", &n);
    if (!data) return;
    /* lines */
    size_t n_lines = 0;
    char **lines = malloc(20000 * sizeof *lines);
    size_t *lens = malloc(20000 * sizeof *lens);
    for (char *p = data; p < data + n && n_lines < 20000;) {
        char *e = memchr(p, '\n', (size_t)(data + n - p));
        if (!e) e = data + n;
        lines[n_lines] = p;
        lens[n_lines++] = (size_t)(e - p);
        p = e + 1;
    }
    for (size_t m = 0; m < 2; m++) {
        lilm_tokenizer *tok = load_shared(t, names[m]);
        if (!tok) continue;
        /* sequential, one workspace */
        lilm_tok_workspace *ws;
        LT_OK(t, lilm_tok_workspace_create(&ws));
        uint64_t seq_hash = 0, par_hash = 0;
        int32_t *ids = NULL;
        size_t cap = 0, k = 0;
        int round_trip_bad = 0;
        char *out = NULL;
        size_t ocap = 0, on = 0;
        for (size_t i = 0; i < n_lines; i++) {
            LT_OK(t, lilm_tokenizer_encode_ws(tok, ws, lines[i], lens[i], &ids, &cap, &k));
            for (size_t j = 0; j < k; j++) seq_hash = seq_hash * 1000003u + (uint64_t)ids[j] + i;
            /* switchboard is plain ASCII: decoding gives the text back with single spaces */
            LT_OK(t, lilm_tokenizer_decode(tok, ids, k, &out, &ocap, &on));
            if (i < 2000 && on > lens[i]) round_trip_bad++;
        }
        LT_EQ_INT(t, round_trip_bad, 0);
        free(out);
        lilm_tok_workspace_destroy(ws);
        /* in parallel, one workspace per thread */
        uint64_t *per = calloc(n_lines, sizeof *per);
#pragma omp parallel num_threads(4)
        {
            lilm_tok_workspace *tws = NULL;
            int32_t *tids = NULL;
            size_t tcap = 0, tk = 0;
            lilm_tok_workspace_create(&tws);
#pragma omp for schedule(dynamic, 16)
            for (size_t i = 0; i < n_lines; i++) {
                uint64_t h = 0;
                if (lilm_tokenizer_encode_ws(tok, tws, lines[i], lens[i], &tids, &tcap, &tk) == LILM_OK)
                    for (size_t j = 0; j < tk; j++) h = h * 1000003u + (uint64_t)tids[j] + i;
                per[i] = h;
            }
            free(tids);
            lilm_tok_workspace_destroy(tws);
        }
        /* combine in order the same way as the sequential hash */
        int32_t *ids2 = NULL;
        size_t cap2 = 0, k2 = 0;
        uint64_t check = 0;
        for (size_t i = 0; i < n_lines; i++) {
            LT_OK(t, lilm_tokenizer_encode(tok, lines[i], lens[i], &ids2, &cap2, &k2));
            uint64_t h = 0;
            for (size_t j = 0; j < k2; j++) {
                check = check * 1000003u + (uint64_t)ids2[j] + i;
                h = h * 1000003u + (uint64_t)ids2[j] + i;
            }
            par_hash += h == per[i];
        }
        LT_EQ_INT(t, par_hash, n_lines);
        LT_TRUE(t, check == seq_hash);
        free(ids2);
        free(per);
        free(ids);
        lilm_tokenizer_free(tok);
    }
    free(lines);
    free(lens);
    free(data);
}

static void test_in_memory_model(lilm_test *t)
{
    lilm_sp_model m;
    lilm_sp_model_init(&m);
    const char *pieces[] = {"<unk>", "<s>", "</s>", "\xe2\x96\x81", "a", "b", "c", "\xe2\x96\x81" "a", "ab", "<X>"};
    float scores[] = {0, 0, 0, -1, -2, -2, -3, -1.5f, -1.0f, 0};
    lilm_sp_piece_type types[] = {LILM_SP_UNKNOWN, LILM_SP_CONTROL, LILM_SP_CONTROL, LILM_SP_NORMAL, LILM_SP_NORMAL,
                                  LILM_SP_NORMAL, LILM_SP_NORMAL, LILM_SP_NORMAL, LILM_SP_NORMAL, LILM_SP_USER_DEFINED};
    for (int i = 0; i < 10; i++) LT_OK(t, lilm_sp_model_add_piece(&m, pieces[i], strlen(pieces[i]), scores[i], types[i]));
    lilm_tokenizer *tok;
    LT_OK(t, lilm_tokenizer_from_model(&tok, &m));
    LT_EQ_INT(t, m.n_pieces, 0);
    LT_EQ_INT(t, lilm_tokenizer_kind(tok), LILM_TOK_UNIGRAM);
    LT_EQ_INT(t, lilm_tokenizer_bos_id(tok), 1);
    LT_EQ_INT(t, lilm_tokenizer_pad_id(tok), -1);
    int32_t *ids = NULL;
    size_t cap = 0, n = 0;
    /* no charsmap: identity normalisation; "<X>" is user-defined and kept whole;
     * "zz" is unknown (no byte fallback): one merged <unk> */
    LT_OK(t, lilm_tokenizer_encode(tok, "ab<X>c zz", 9, &ids, &cap, &n));
    int32_t want[] = {3, 8, 9, 6, 3, 0}; /* from sentencepiece on the same model */
    LT_EQ_INT(t, n, 6);
    for (size_t i = 0; i < n && i < 6; i++) LT_EQ_INT(t, ids[i], want[i]);
    char *out = NULL;
    size_t ocap = 0, on = 0;
    LT_OK(t, lilm_tokenizer_decode(tok, ids, n, &out, &ocap, &on));
    LT_TRUE(t, strcmp(out, "ab<X>c  \xe2\x81\x87 ") == 0);
    int32_t bad = 10;
    LT_STATUS(t, lilm_tokenizer_decode(tok, &bad, 1, &out, &ocap, &on), LILM_ERR_ARG);
    bad = -1;
    LT_STATUS(t, lilm_tokenizer_decode(tok, &bad, 1, &out, &ocap, &on), LILM_ERR_ARG);
    LT_OK(t, lilm_tokenizer_encode(tok, "", 0, &ids, &cap, &n));
    LT_EQ_INT(t, n, 0);
    LT_OK(t, lilm_tokenizer_encode(tok, "   ", 3, &ids, &cap, &n));
    LT_EQ_INT(t, n, 0);
    free(ids);
    free(out);
    lilm_tokenizer_free(tok);
}

static void test_load_errors(lilm_test *t)
{
    lilm_tokenizer *tok = NULL;
    LT_STATUS(t, lilm_tokenizer_load(&tok, "/nonexistent/x.model"), LILM_ERR_NOT_FOUND);
    char dir[512], path[1024];
    lilm_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/bad.model", dir);
    LT_OK(t, lilm_write_atomic(path, "\x0a\x05\x0a\x03<u", 7));
    LT_STATUS(t, lilm_tokenizer_load(&tok, path), LILM_ERR_FORMAT);
    LT_TRUE(t, strstr(lilm_last_error(), "bad.model") != NULL);
    LT_OK(t, lilm_write_atomic(path, "", 0));
    LT_STATUS(t, lilm_tokenizer_load(&tok, path), LILM_ERR_FORMAT);
    /* a valid model with a damaged charsmap */
    char shared[1024];
    lilm_test_shared_path(shared, sizeof shared, "tokenizers/unigram_1K.model");
    lilm_sp_model m;
    LT_OK(t, lilm_sp_model_read(&m, shared));
    if (m.normalizer_spec.precompiled_charsmap.len > 8) {
        m.normalizer_spec.precompiled_charsmap.data[1] ^= 0x7f; /* the trie size */
        LT_STATUS(t, lilm_tokenizer_from_model(&tok, &m), LILM_ERR_FORMAT);
    }
    lilm_sp_model_free(&m);
    /* sha256 of a loaded model is the file's */
    LT_OK(t, lilm_tokenizer_load(&tok, shared));
    char hex[65];
    LT_OK(t, lilm_sha256_file(shared, hex));
    LT_TRUE(t, strcmp(hex, lilm_tokenizer_sha256(tok)) == 0);
    lilm_tokenizer_free(tok);
}

/* One workspace shared by two tokenizers: the word cache must not leak one
 * model's ids into the other's. */
static void workspace_two_models(lilm_test *t, const char *name_a, const char *name_b)
{
    lilm_tokenizer *a = load_shared(t, name_a), *b = load_shared(t, name_b);
    if (!a || !b) {
        lilm_tokenizer_free(a);
        lilm_tokenizer_free(b);
        return;
    }
    lilm_tok_workspace *ws;
    LT_OK(t, lilm_tok_workspace_create(&ws));
    const char *text = "the little dog saw the other little dog and the cat";
    int32_t *ids = NULL, *fresh = NULL;
    size_t cap = 0, fcap = 0, n = 0, fn = 0;
    int bad = 0;
    for (int round = 0; round < 6; round++) {
        lilm_tokenizer *tok = round % 2 ? b : a;
        LT_OK(t, lilm_tokenizer_encode_ws(tok, ws, text, strlen(text), &ids, &cap, &n));
        LT_OK(t, lilm_tokenizer_encode(tok, text, strlen(text), &fresh, &fcap, &fn));
        if (n != fn || memcmp(ids, fresh, n * sizeof *ids) != 0) bad++;
    }
    LT_EQ_INT(t, bad, 0);
    free(ids);
    free(fresh);
    lilm_tok_workspace_destroy(ws);
    lilm_tokenizer_free(a);
    lilm_tokenizer_free(b);
}

static void test_workspace_two_models(lilm_test *t)
{
    workspace_two_models(t, "bpe_8K", "baby_bpe_12K");
    workspace_two_models(t, "unigram_8K", "baby_unigram_12K");
}

/* The word cache (a workspace reused across documents) against the whole-text
 * lattice (one-shot encode) on long BabyLM documents, whose path scores cross
 * the +-1e5 rescaling point many times, for both unigram models. */
static void test_word_cache_matches_lattice(lilm_test *t)
{
    static const char *const names[] = {"baby_unigram_12K", "unigram_8K"};
    size_t n;
    char *data = read_shared(t, "data/babylm/train/strict_2024_100M_snippets/gutenberg.jsonl", &n);
    if (!data) return;
    for (size_t m = 0; m < 2; m++) {
        lilm_tokenizer *tok = load_shared(t, names[m]);
        if (!tok) continue;
        lilm_tok_workspace *ws;
        LT_OK(t, lilm_tok_workspace_create(&ws));
        int32_t *ids = NULL, *fresh = NULL;
        size_t cap = 0, fcap = 0, k = 0, fk = 0, docs = 0, differ = 0, tokens = 0;
        for (char *p = data; p < data + n && docs < 40;) {
            char *e = memchr(p, '\n', (size_t)(data + n - p));
            if (!e) e = data + n;
            LT_OK(t, lilm_tokenizer_encode_ws(tok, ws, p, (size_t)(e - p), &ids, &cap, &k));
            LT_OK(t, lilm_tokenizer_encode(tok, p, (size_t)(e - p), &fresh, &fcap, &fk));
            differ += k != fk || memcmp(ids, fresh, k * sizeof *ids) != 0;
            tokens += k;
            docs++;
            p = e + 1;
        }
        LT_CHECK(t, docs == 40 && tokens > 200000, "%s: only %zu documents, %zu tokens", names[m], docs, tokens);
        LT_CHECK(t, differ == 0, "%s: %zu of %zu documents differ", names[m], differ, docs);
        free(ids);
        free(fresh);
        lilm_tok_workspace_destroy(ws);
        lilm_tokenizer_free(tok);
    }
    free(data);
}

static const lilm_test_case cases[] = {
    {"workspace_two_models", test_workspace_two_models},
    {"word_cache_matches_lattice", test_word_cache_matches_lattice},
    {"bytes", test_bytes},
    {"goldens", test_goldens},
    {"round_trip_threads", test_round_trip_threads},
    {"in_memory_model", test_in_memory_model},
    {"load_errors", test_load_errors},
};
LILM_TEST_MAIN(cases)
