/*
 * test_data_prepare.c: `lilm data prepare` through the library (prepare.h)
 * with the bytes tokenizer, on small text/JSONL files written by the test.
 *
 * Checks: documents, tokens (byte + 4, then EOS) and UTF-8 byte counts are
 * exact and in input order; the validation rule picks the right rows; blank-
 * line documents; multi-threaded output is byte-identical to one thread; an
 * unchanged re-run does nothing and a changed input redoes the work; bad
 * input (invalid UTF-8, missing column, bad JSON, empty split) fails with a
 * clear message and leaves no dataset files behind; and the shared BabyLM /
 * TinyStories copies prepare with their recipes.
 */
#include "test.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/status.h"
#include "data/dataset.h"
#include "data/prepare.h"
#include "tok/tokenizer.h"

static void write_text(const char *path, const char *s) { LILM_ASSERT(lilm_write_atomic(path, s, strlen(s)) == LILM_OK); }

static lilm_prepare_opts opts_for(const char *recipe, const char *out, const char *const *in, size_t n)
{
    lilm_prepare_opts o;
    memset(&o, 0, sizeof o);
    o.recipe = recipe;
    o.tokenizer = "bytes";
    o.out_dir = out;
    o.inputs = in;
    o.n_inputs = n;
    o.text_docs = -1;
    o.quiet = 1;
    return o;
}

/* Document i of a split must be the bytes of want (+4 each) then EOS. */
static void expect_doc(lilm_test *t, lilm_dataset *ds, int64_t i, const char *want)
{
    int32_t buf[4096];
    size_t n = 4096;
    int64_t nb = -1;
    LT_OK(t, lilm_dataset_doc(ds, i, buf, &n, &nb));
    size_t k = strlen(want);
    LT_CHECK(t, n == k + 1 && nb == (int64_t)k, "doc %lld: %zu tokens / %lld bytes, want %zu / %zu", (long long)i, n,
             (long long)nb, k + 1, k);
    if (n != k + 1) return;
    int bad = 0;
    for (size_t j = 0; j < k; j++) bad += buf[j] != 4 + (unsigned char)want[j];
    LT_CHECK(t, bad == 0 && buf[k] == 2, "doc %lld differs from '%s'", (long long)i, want);
}

static void test_jsonl_rule_and_order(lilm_test *t)
{
    char dir[256], in[300], out[300];
    lilm_test_tmpdir(dir, sizeof dir);
    snprintf(in, sizeof in, "%s/a.jsonl", dir);
    snprintf(out, sizeof out, "%s/ds", dir);
    /* 10 rows; row 3 empty (skipped but counted by the rule); row 5 has escapes and UTF-8 */
    write_text(in, "{\"text\": \"row0\", \"id\": 0}\n"
                   "{\"text\": \"row1\"}\n"
                   "\n"
                   "{\"text\": \"row2 longer\"}\n"
                   "{\"text\": \"\"}\n"
                   "{\"text\": \"row4\"}\n"
                   "{\"text\": \"r\\u00e9\\n5 \xe2\x82\xac\", \"meta\": {\"x\": [1,2]}}\n"
                   "{\"text\": \"row6\"}\r\n"
                   "{\"text\": \"row7\"}\n"
                   "{\"text\": \"row8\"}\n"
                   "{\"text\": \"row9\"}");
    const char *ins[] = {in};
    lilm_prepare_opts o = opts_for("jsonl", out, ins, 1);
    o.val_rule = "index % 4 < 1"; /* rows 0, 4, 8 -> val */
    lilm_prepare_report r;
    LT_OK(t, lilm_data_prepare(&o, &r));
    LT_EQ_INT(t, r.skipped_empty, 1);
    LT_EQ_INT(t, r.docs[0], 6);
    LT_EQ_INT(t, r.docs[1], 3);
    lilm_dataset *tr = NULL, *va = NULL;
    LT_OK(t, lilm_dataset_open(&tr, out, "train"));
    LT_OK(t, lilm_dataset_open(&va, out, "val"));
    if (!tr || !va) return;
    expect_doc(t, tr, 0, "row1");
    expect_doc(t, tr, 1, "row2 longer");
    expect_doc(t, tr, 2, "r\xc3\xa9\n5 \xe2\x82\xac");
    expect_doc(t, tr, 3, "row6");
    expect_doc(t, tr, 5, "row9");
    expect_doc(t, va, 0, "row0");
    expect_doc(t, va, 1, "row4");
    expect_doc(t, va, 2, "row8");
    lilm_dataset_info info;
    lilm_dataset_get_info(tr, &info);
    LT_EQ_INT(t, info.n_bytes, 4 + 11 + 9 + 4 + 4 + 4);
    LT_EQ_INT(t, info.n_tokens, info.n_bytes + 6);
    lilm_dataset_close(tr);
    lilm_dataset_close(va);
}

static void test_text_modes_and_threads(lilm_test *t)
{
    char dir[256], in[300], out1[300], out2[300], out3[300], vin[300];
    lilm_test_tmpdir(dir, sizeof dir);
    snprintf(in, sizeof in, "%s/train.txt", dir);
    snprintf(vin, sizeof vin, "%s/held.txt", dir);
    snprintf(out1, sizeof out1, "%s/one", dir);
    snprintf(out2, sizeof out2, "%s/many", dir);
    snprintf(out3, sizeof out3, "%s/blank", dir);
    /* a few thousand lines so the batch spans many OpenMP chunks */
    FILE *f = fopen(in, "w");
    for (int i = 0; i < 3000; i++) fprintf(f, "line %d %s\n%s", i, i % 3 ? "abc" : "\xc3\xbc", i % 10 == 0 ? "\n" : "");
    fclose(f);
    write_text(vin, "held out one\n\nheld\nout two\n");
    const char *ins[] = {in};
    const char *vals[] = {vin};
    lilm_prepare_opts o = opts_for("text", out1, ins, 1);
    o.val_inputs = vals;
    o.n_val_inputs = 1;
    o.threads = 1;
    lilm_prepare_report r1, r2, r3;
    LT_OK(t, lilm_data_prepare(&o, &r1));
    LT_EQ_INT(t, r1.docs[0], 3000);
    LT_EQ_INT(t, r1.docs[1], 3);
    o.out_dir = out2;
    o.threads = 4;
    LT_OK(t, lilm_data_prepare(&o, &r2));
    const char *files[] = {"train.tokens", "train.docs", "val.tokens", "val.docs"};
    for (int i = 0; i < 4; i++) {
        char a[400], b[400];
        snprintf(a, sizeof a, "%s/%s", out1, files[i]);
        snprintf(b, sizeof b, "%s/%s", out2, files[i]);
        char *da, *db;
        size_t na, nb;
        LT_OK(t, lilm_read_file(a, &da, &na));
        LT_OK(t, lilm_read_file(b, &db, &nb));
        LT_CHECK(t, na == nb && memcmp(da, db, na) == 0, "%s differs between 1 and 4 threads", files[i]);
        free(da);
        free(db);
    }
    /* blank-line separated documents */
    o.out_dir = out3;
    o.text_docs = 1;
    LT_OK(t, lilm_data_prepare(&o, &r3));
    LT_EQ_INT(t, r3.docs[0], 301); /* [0], then ten lines per block, then [2991..2999] */
    LT_EQ_INT(t, r3.docs[1], 2);
    lilm_dataset *va = NULL;
    LT_OK(t, lilm_dataset_open(&va, out3, "val"));
    if (va) {
        expect_doc(t, va, 0, "held out one");
        expect_doc(t, va, 1, "held\nout two");
        lilm_dataset_close(va);
    }
}

static void test_up_to_date(lilm_test *t)
{
    char dir[256], in[300], out[300], meta[400];
    lilm_test_tmpdir(dir, sizeof dir);
    snprintf(in, sizeof in, "%s/a.txt", dir);
    snprintf(out, sizeof out, "%s/ds", dir);
    snprintf(meta, sizeof meta, "%s/meta.json", out);
    write_text(in, "a\nb\nc\nd\n");
    const char *ins[] = {in};
    lilm_prepare_opts o = opts_for("text", out, ins, 1);
    o.val_rule = "index%2<1";
    lilm_prepare_report r;
    LT_OK(t, lilm_data_prepare(&o, &r));
    LT_TRUE(t, !r.up_to_date);
    struct stat s1, s2;
    stat(meta, &s1);
    LT_OK(t, lilm_data_prepare(&o, &r));
    LT_TRUE(t, r.up_to_date);
    LT_EQ_INT(t, r.docs[0], 2);
    /* a killed earlier prepare's temp files go, even when nothing is redone */
    pid_t c = fork();
    if (c == 0) _exit(0);
    int ws;
    waitpid(c, &ws, 0);
    char stale[500];
    snprintf(stale, sizeof stale, "%s/train.tokens.tmp.%ld", out, (long)c);
    write_text(stale, "partial");
    LT_OK(t, lilm_data_prepare(&o, &r));
    LT_TRUE(t, r.up_to_date);
    LT_TRUE(t, !lilm_path_exists(stale));
    stat(meta, &s2);
    LT_TRUE(t, s1.st_mtim.tv_nsec == s2.st_mtim.tv_nsec && s1.st_mtim.tv_sec == s2.st_mtim.tv_sec);
    o.force = 1;
    LT_OK(t, lilm_data_prepare(&o, &r));
    LT_TRUE(t, !r.up_to_date);
    o.force = 0;
    o.val_rule = "index%4<1"; /* other options: redo */
    LT_OK(t, lilm_data_prepare(&o, &r));
    LT_TRUE(t, !r.up_to_date);
    LT_EQ_INT(t, r.docs[0], 3);
    write_text(in, "a\nb\nc\nd\ne\n"); /* changed input: redo */
    LT_OK(t, lilm_data_prepare(&o, &r));
    LT_TRUE(t, !r.up_to_date);
    LT_EQ_INT(t, r.docs[0], 3);
    LT_EQ_INT(t, r.docs[1], 2);
    /* dropping the validation split removes the old one */
    o.val_rule = "none";
    LT_OK(t, lilm_data_prepare(&o, &r));
    lilm_dataset *gone = NULL;
    LT_STATUS(t, lilm_dataset_open(&gone, out, "val"), LILM_ERR_NOT_FOUND);
    o.val_rule = "index%4<1";
    LT_OK(t, lilm_data_prepare(&o, &r));
    LT_EQ_INT(t, r.docs[1], 2);
    /* a damaged shard is not "up to date" */
    char tok[400];
    snprintf(tok, sizeof tok, "%s/train.tokens", out);
    LT_TRUE(t, truncate(tok, 130) == 0);
    LT_OK(t, lilm_data_prepare(&o, &r));
    LT_TRUE(t, !r.up_to_date);
    lilm_dataset *ds = NULL;
    LT_OK(t, lilm_dataset_open(&ds, out, "train"));
    lilm_dataset_close(ds);
}

/* Runs a preparation that must fail with `want` and leave `out` without dataset files. */
static void expect_fail(lilm_test *t, lilm_prepare_opts *o, lilm_status want, const char *needle)
{
    lilm_prepare_report r;
    lilm_status st = lilm_data_prepare(o, &r);
    LT_CHECK(t, st == want, "got %s, want %s: %s", lilm_status_str(st), lilm_status_str(want), lilm_last_error());
    if (needle) LT_CHECK(t, strstr(lilm_last_error(), needle) != NULL, "'%s' lacks '%s'", lilm_last_error(), needle);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A %s 2>/dev/null)\"", o->out_dir);
    LT_CHECK(t, system(cmd) == 0, "%s is not empty after a failure", o->out_dir);
}

static void test_bad_input(lilm_test *t)
{
    char dir[256], in[300], out[300];
    lilm_test_tmpdir(dir, sizeof dir);
    snprintf(out, sizeof out, "%s/ds", dir);
    const char *ins[] = {in};
    lilm_prepare_opts o;

    snprintf(in, sizeof in, "%s/bad.txt", dir);
    write_text(in, "fine\nalso fine\nbroken \xff here\n");
    o = opts_for("text", out, ins, 1);
    expect_fail(t, &o, LILM_ERR_FORMAT, "bad.txt:3: invalid UTF-8");

    snprintf(in, sizeof in, "%s/bad.jsonl", dir);
    write_text(in, "{\"text\": \"ok\"}\n{\"story\": \"no text\"}\n");
    o = opts_for("jsonl", out, ins, 1);
    expect_fail(t, &o, LILM_ERR_NOT_FOUND, "bad.jsonl:2: no field 'text' (its fields: story)");

    write_text(in, "{\"text\": \"ok\"}\n{\"text\": \"unterminated}\n");
    expect_fail(t, &o, LILM_ERR_FORMAT, "unterminated string");

    write_text(in, "{\"text\": 5}\n");
    expect_fail(t, &o, LILM_ERR_FORMAT, "is a number, not a string");

    snprintf(in, sizeof in, "%s/few.txt", dir);
    write_text(in, "a\nb\nc\n");
    o = opts_for("text", out, ins, 1); /* default rule index%100<1 puts row 0 in val: fine */
    o.val_rule = "index%100<0";
    expect_fail(t, &o, LILM_ERR_FORMAT, "validation split is empty");

    o.val_rule = "every 10th";
    expect_fail(t, &o, LILM_ERR_ARG, "index%M<K");

    o = opts_for("nonsense", out, ins, 1);
    expect_fail(t, &o, LILM_ERR_ARG, "unknown recipe");

    snprintf(in, sizeof in, "%s/missing.txt", dir);
    o = opts_for("text", out, ins, 1);
    expect_fail(t, &o, LILM_ERR_NOT_FOUND, "does not exist");

    snprintf(in, sizeof in, "%s/empty.txt", dir);
    write_text(in, "\n\n  \n");
    o = opts_for("text", out, ins, 1);
    o.val_rule = "none";
    expect_fail(t, &o, LILM_ERR_FORMAT, "train split is empty");

    /* simplestories with no test* file and no --val */
    snprintf(in, sizeof in, "%s/train-0.jsonl", dir);
    write_text(in, "{\"story\": \"x\"}\n");
    o = opts_for("simplestories", out, ins, 1);
    expect_fail(t, &o, LILM_ERR_ARG, "no validation files");
}

static void test_shared_recipes(lilm_test *t)
{
    char babylm[512], dev[512], tiny[512], dir[256], out[300];
    lilm_test_shared_path(babylm, sizeof babylm, "data/babylm/train/strict_2024_100M_snippets/switchboard.jsonl");
    lilm_test_shared_path(dev, sizeof dev, "data/babylm/dev");
    lilm_test_shared_path(tiny, sizeof tiny, "data/tinystories");
    LT_CHECK(t, lilm_path_exists(babylm) && lilm_path_exists(tiny), "shared data missing under %s (set LILM_SHARED)",
             babylm);
    lilm_test_tmpdir(dir, sizeof dir);
    snprintf(out, sizeof out, "%s/babylm", dir);
    const char *ins[] = {babylm};
    const char *vals[] = {dev};
    lilm_prepare_opts o = opts_for("babylm", out, ins, 1);
    o.val_inputs = vals;
    o.n_val_inputs = 1;
    lilm_prepare_report r;
    LT_OK(t, lilm_data_prepare(&o, &r));
    LT_EQ_INT(t, r.docs[0], 40);          /* switchboard windows */
    LT_EQ_INT(t, r.docs[1], 18000);       /* switchboard.dev lines */
    LT_EQ_INT(t, r.bytes[0], 1960249);    /* SOURCES.md: UTF-8 text bytes */
    LT_EQ_INT(t, r.bytes[1] + r.docs[1], 724013); /* the dev file's bytes minus its newlines */
    /* the reference's rule on 40 rows: rows 0..39 all < 100 -> everything is validation */
    o.val_inputs = NULL;
    o.n_val_inputs = 0;
    snprintf(out, sizeof out, "%s/babylm-rule", dir);
    o.out_dir = out;
    LT_STATUS(t, lilm_data_prepare(&o, &r), LILM_ERR_FORMAT); /* train would be empty */
    LT_TRUE(t, strstr(lilm_last_error(), "train split is empty") != NULL);
    o.val_rule = "index%10<1";
    LT_OK(t, lilm_data_prepare(&o, &r));
    LT_EQ_INT(t, r.docs[1], 4);
    LT_EQ_INT(t, r.n_warnings, 0);
    o.val_rule = "index%100<10"; /* fewer rows than the modulus: warned */
    LT_OK(t, lilm_data_prepare(&o, &r));
    LT_EQ_INT(t, r.docs[1], 10);
    LT_TRUE(t, r.n_warnings == 1 && strstr(r.warnings[0], "--val") != NULL);

    snprintf(out, sizeof out, "%s/tiny", dir);
    const char *tin[] = {tiny};
    o = opts_for("tinystories", out, tin, 1);
    LT_OK(t, lilm_data_prepare(&o, &r));
    LT_TRUE(t, r.docs[0] > 5000 && r.docs[1] > 1000);
    LT_EQ_INT(t, r.n_files, 3);
}

/* A dataset made with a SentencePiece model carries its hash; a run with
 * another tokenizer is refused by lilm_dataset_check_tokenizer. */
static void test_tokenizer_hash(lilm_test *t)
{
    char model[512], dir[256], in[300], out[300];
    lilm_test_shared_path(model, sizeof model, "tokenizers/unigram_1K.model");
    lilm_test_tmpdir(dir, sizeof dir);
    snprintf(in, sizeof in, "%s/a.txt", dir);
    snprintf(out, sizeof out, "%s/ds", dir);
    write_text(in, "Once upon a time there was a dog.\nThe dog was happy.\nThe end.\n");
    const char *ins[] = {in};
    lilm_prepare_opts o = opts_for("text", out, ins, 1);
    o.tokenizer = model;
    o.val_rule = "index%3<1";
    lilm_prepare_report r;
    LT_OK(t, lilm_data_prepare(&o, &r));
    lilm_tokenizer *sp = NULL, *bytes = NULL;
    LT_OK(t, lilm_tokenizer_load(&sp, model));
    LT_OK(t, lilm_tokenizer_bytes(&bytes));
    lilm_dataset *ds = NULL;
    LT_OK(t, lilm_dataset_open(&ds, out, "train"));
    if (ds && sp && bytes) {
        LT_OK(t, lilm_dataset_check_tokenizer(ds, lilm_tokenizer_sha256(sp)));
        LT_STATUS(t, lilm_dataset_check_tokenizer(ds, lilm_tokenizer_sha256(bytes)), LILM_ERR_MISMATCH);
        LT_TRUE(t, strstr(lilm_last_error(), "lilm data prepare") != NULL);
        lilm_dataset_info info;
        lilm_dataset_get_info(ds, &info);
        LT_EQ_INT(t, info.vocab_size, lilm_tokenizer_vocab_size(sp));
        LT_TRUE(t, info.n_tokens < info.n_bytes); /* real subwords, not bytes */
    }
    lilm_dataset_close(ds);
    lilm_tokenizer_free(sp);
    lilm_tokenizer_free(bytes);
}

static const lilm_test_case cases[] = {
    {"tokenizer_hash", test_tokenizer_hash},
    {"jsonl_rule_and_order", test_jsonl_rule_and_order},
    {"text_modes_and_threads", test_text_modes_and_threads},
    {"up_to_date", test_up_to_date},
    {"bad_input", test_bad_input},
    {"shared_recipes", test_shared_recipes},
};
LILM_TEST_MAIN(cases)
