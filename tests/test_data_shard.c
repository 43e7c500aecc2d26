/*
 * test_data_shard.c: token shard + document index files (data/shard.h,
 * dataset.h): round trips for uint16 and uint32 token files, and clear
 * errors for truncated, corrupted, mismatched and missing files, plus the
 * tokenizer-hash check. Synthetic documents, written with the shard writer.
 */
#include "test.h"

#include <sys/stat.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/status.h"
#include "data/dataset.h"
#include "data/shard.h"

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* Writes n_docs documents: doc d has 1 + d % 7 tokens (d*31+i) % (vocab-4) + 4, then EOS=2. */
static lilm_status write_split(const char *dir, const char *split, int32_t vocab, int n_docs, lilm_shard_summary *sum)
{
    lilm_shard_writer *w = NULL;
    LILM_TRY(lilm_shard_writer_open(&w, dir, split, vocab, 2, 3, SHA_A));
    int32_t ids[16];
    for (int d = 0; d < n_docs; d++) {
        int n = 1 + d % 7;
        for (int i = 0; i < n; i++) ids[i] = (int32_t)(((int64_t)d * 31 + i * 977) % (vocab - 4)) + 4;
        ids[n] = 2;
        lilm_status st = lilm_shard_writer_add(w, ids, (size_t)n + 1, 10 + d);
        if (st) {
            lilm_shard_writer_abort(w);
            return st;
        }
    }
    return lilm_shard_writer_commit(w, sum);
}

static void roundtrip(lilm_test *t, int32_t vocab, int token_bytes)
{
    char dir[256];
    lilm_test_tmpdir(dir, sizeof dir);
    lilm_shard_summary sum;
    LT_OK(t, write_split(dir, "train", vocab, 100, &sum));
    LT_EQ_INT(t, sum.n_docs, 100);
    lilm_dataset *ds = NULL;
    LT_OK(t, lilm_dataset_open(&ds, dir, "train"));
    if (!ds) return;
    lilm_dataset_info info;
    lilm_dataset_get_info(ds, &info);
    LT_EQ_INT(t, info.n_docs, 100);
    LT_EQ_INT(t, info.n_tokens, sum.n_tokens);
    LT_EQ_INT(t, info.vocab_size, vocab);
    LT_EQ_INT(t, info.eos_id, 2);
    LT_EQ_INT(t, info.pad_id, 3);
    int64_t bytes = 0;
    for (int d = 0; d < 100; d++) bytes += 10 + d;
    LT_EQ_INT(t, info.n_bytes, bytes);
    LT_TRUE(t, strcmp(info.tokenizer_sha256, SHA_A) == 0);
    char path[512];
    snprintf(path, sizeof path, "%s/train.tokens", dir);
    struct stat stt;
    stat(path, &stt);
    LT_EQ_INT(t, stt.st_size, LILM_DATASET_TOKENS_HEADER + token_bytes * info.n_tokens);
    int32_t buf[16];
    int bad = 0;
    for (int d = 0; d < 100; d++) {
        size_t n = 16;
        int64_t nb = 0;
        LT_OK(t, lilm_dataset_doc(ds, d, buf, &n, &nb));
        if (n != (size_t)(2 + d % 7) || nb != 10 + d || buf[n - 1] != 2) bad++;
        for (size_t i = 0; i + 1 < n; i++)
            if (buf[i] != (int32_t)(((int64_t)d * 31 + (int64_t)i * 977) % (vocab - 4)) + 4) bad++;
    }
    LT_EQ_INT(t, bad, 0);
    size_t small = 1;
    LT_STATUS(t, lilm_dataset_doc(ds, 6, buf, &small, NULL), LILM_ERR_ARG);
    LT_OK(t, lilm_dataset_check_tokenizer(ds, SHA_A));
    LT_STATUS(t, lilm_dataset_check_tokenizer(ds, SHA_B), LILM_ERR_MISMATCH);
    LT_TRUE(t, strstr(lilm_last_error(), "HINT") != NULL);
    lilm_dataset_close(ds);
    /* no temporaries left behind */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls %s | grep -c tmp > /dev/null", dir);
    LT_TRUE(t, system(cmd) != 0);
}

static void test_roundtrip_u16(lilm_test *t) { roundtrip(t, 260, 2); }
static void test_roundtrip_u32(lilm_test *t) { roundtrip(t, 70000, 4); }

static void patch_byte(const char *path, long off, int xor_with)
{
    FILE *f = fopen(path, "r+b");
    fseek(f, off, SEEK_SET);
    int c = fgetc(f);
    fseek(f, off, SEEK_SET);
    fputc(c ^ xor_with, f);
    fclose(f);
}

static void expect_open_fails(lilm_test *t, const char *dir, lilm_status want, const char *needle)
{
    lilm_dataset *ds = NULL;
    lilm_status st = lilm_dataset_open(&ds, dir, "train");
    LT_CHECK(t, st == want, "open returned %s, want %s (%s)", lilm_status_str(st), lilm_status_str(want),
             lilm_last_error());
    LT_TRUE(t, ds == NULL);
    if (needle) LT_CHECK(t, strstr(lilm_last_error(), needle) != NULL, "'%s' lacks '%s'", lilm_last_error(), needle);
    lilm_dataset_close(ds);
}

static void test_corruption(lilm_test *t)
{
    char dir[256], tok[512], docs[512];
    lilm_test_tmpdir(dir, sizeof dir);
    snprintf(tok, sizeof tok, "%s/train.tokens", dir);
    snprintf(docs, sizeof docs, "%s/train.docs", dir);
    struct stat st;

    LT_OK(t, write_split(dir, "train", 260, 50, NULL));
    patch_byte(tok, LILM_DATASET_TOKENS_HEADER + 10, 0x01); /* payload bit flip */
    expect_open_fails(t, dir, LILM_ERR_FORMAT, "checksum");

    LT_OK(t, write_split(dir, "train", 260, 50, NULL));
    patch_byte(tok, 33, 0x01); /* header field */
    expect_open_fails(t, dir, LILM_ERR_FORMAT, "header checksum");

    LT_OK(t, write_split(dir, "train", 260, 50, NULL));
    patch_byte(tok, 0, 0x20); /* magic */
    expect_open_fails(t, dir, LILM_ERR_FORMAT, "magic");

    LT_OK(t, write_split(dir, "train", 260, 50, NULL));
    stat(tok, &st);
    LT_TRUE(t, truncate(tok, st.st_size - 3) == 0);
    expect_open_fails(t, dir, LILM_ERR_FORMAT, "truncated");
    LT_TRUE(t, truncate(tok, 20) == 0);
    expect_open_fails(t, dir, LILM_ERR_FORMAT, "truncated");

    LT_OK(t, write_split(dir, "train", 260, 50, NULL));
    stat(docs, &st);
    LT_TRUE(t, truncate(docs, st.st_size - 24) == 0);
    expect_open_fails(t, dir, LILM_ERR_FORMAT, "truncated");

    LT_OK(t, write_split(dir, "train", 260, 50, NULL));
    patch_byte(docs, LILM_DATASET_DOCS_HEADER + 5, 0x40);
    expect_open_fails(t, dir, LILM_ERR_FORMAT, "checksum");

    /* docs from another preparation */
    LT_OK(t, write_split(dir, "train", 260, 50, NULL));
    char other[256], cmd[1200];
    lilm_test_tmpdir(other, sizeof other);
    LT_OK(t, write_split(other, "train", 260, 40, NULL));
    snprintf(cmd, sizeof cmd, "cp %s/train.docs %s/train.docs", other, dir);
    LT_TRUE(t, system(cmd) == 0);
    expect_open_fails(t, dir, LILM_ERR_FORMAT, "disagree");

    /* version from the future */
    LT_OK(t, write_split(dir, "train", 260, 50, NULL));
    {
        char *data;
        size_t n;
        LT_OK(t, lilm_read_file(tok, &data, &n));
        data[8] = 9;
        uint8_t *h = (uint8_t *)data;
        lilm_put_le64(h + 120, lilm_crc32(0, h, 120));
        LT_OK(t, lilm_write_atomic(tok, data, n));
        free(data);
    }
    expect_open_fails(t, dir, LILM_ERR_VERSION, "version 9");

    /* missing */
    lilm_test_tmpdir(dir, sizeof dir);
    expect_open_fails(t, dir, LILM_ERR_NOT_FOUND, "lilm data prepare");
}

static void test_writer_rejects(lilm_test *t)
{
    char dir[256];
    lilm_test_tmpdir(dir, sizeof dir);
    lilm_shard_writer *w = NULL;
    LT_STATUS(t, lilm_shard_writer_open(&w, dir, "train", 260, 2, 3, "nothex"), LILM_ERR_ARG);
    LT_OK(t, lilm_shard_writer_open(&w, dir, "train", 260, 2, 3, SHA_A));
    int32_t no_eos[2] = {5, 6}, big[2] = {999, 2};
    LT_STATUS(t, lilm_shard_writer_add(w, no_eos, 2, 2), LILM_ERR_INTERNAL);
    LT_STATUS(t, lilm_shard_writer_add(w, big, 2, 2), LILM_ERR_INTERNAL);
    lilm_shard_writer_abort(w);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A %s)\"", dir);
    LT_TRUE(t, system(cmd) == 0); /* abort leaves nothing */
}

static const lilm_test_case cases[] = {
    {"roundtrip_u16", test_roundtrip_u16},
    {"roundtrip_u32", test_roundtrip_u32},
    {"corruption", test_corruption},
    {"writer_rejects", test_writer_rejects},
};
LILM_TEST_MAIN(cases)
