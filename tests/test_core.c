/*
 * test_core.c: core utilities: SHA-256 vectors, atomic writes, file reads,
 * the removal of temp files that killed writers left behind, line files.
 */
#include "test.h"

#include <sys/wait.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/sha256.h"
#include "core/status.h"

static void test_sha256_vectors(lilm_test *t)
{
    char hex[65];
    lilm_sha256_hex("", 0, hex);
    LT_TRUE(t, strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
    lilm_sha256_hex("abc", 3, hex);
    LT_TRUE(t, strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    lilm_sha256_hex(m, strlen(m), hex);
    LT_TRUE(t, strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1") == 0);
    /* streaming in odd pieces equals one shot */
    char big[1000];
    for (int i = 0; i < 1000; i++) big[i] = (char)(i * 7);
    lilm_sha256 s;
    uint8_t d[32];
    char hex2[65];
    lilm_sha256_init(&s);
    for (int i = 0; i < 1000; i += 37) lilm_sha256_update(&s, big + i, i + 37 <= 1000 ? 37 : (size_t)(1000 - i));
    lilm_sha256_final(&s, d);
    lilm_sha256_to_hex(d, hex2);
    lilm_sha256_hex(big, 1000, hex);
    LT_TRUE(t, strcmp(hex, hex2) == 0);
}

static void test_atomic_write(lilm_test *t)
{
    char dir[256], path[512], sub[512];
    lilm_test_tmpdir(dir, sizeof dir);
    snprintf(sub, sizeof sub, "%s/a/b/c", dir);
    LT_OK(t, lilm_mkdirs(sub));
    LT_TRUE(t, lilm_path_exists(sub));
    snprintf(path, sizeof path, "%s/f.txt", sub);
    LT_OK(t, lilm_write_atomic(path, "hello", 5));
    LT_OK(t, lilm_write_atomic(path, "world!", 6));
    char *data = NULL;
    size_t n = 0;
    LT_OK(t, lilm_read_file(path, &data, &n));
    LT_EQ_INT(t, n, 6);
    LT_TRUE(t, data && strcmp(data, "world!") == 0);
    free(data);
    /* an aborted streaming write leaves the old file */
    lilm_atomic_file af;
    LT_OK(t, lilm_atomic_open(&af, path));
    fputs("garbage", af.f);
    lilm_atomic_abort(&af);
    LT_OK(t, lilm_read_file(path, &data, &n));
    LT_TRUE(t, data && strcmp(data, "world!") == 0);
    free(data);
    /* unwritable directory: a clear error */
    LT_STATUS(t, lilm_write_atomic("/proc/nonexistent-dir/x", "a", 1), LILM_ERR_IO);
    LT_STATUS(t, lilm_read_file("/nonexistent/file", &data, &n), LILM_ERR_NOT_FOUND);
}

/* A pid that has just exited (its process is reaped, so kill() says ESRCH). */
static long dead_pid(void)
{
    pid_t c = fork();
    if (c == 0) _exit(0);
    int ws;
    waitpid(c, &ws, 0);
    return (long)c;
}

static void touch(const char *dir, const char *name)
{
    char p[700];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (f) { fputs("partial", f); fclose(f); }
}

static int exists_in(const char *dir, const char *name)
{
    char p[700];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return lilm_path_exists(p);
}

/* A writer killed mid-write leaves "<path>.tmp.<pid>"; the next write of the
 * same path, and a sweep of the directory, remove it; live writers' temps stay. */
static void test_stale_temps(lilm_test *t)
{
    char dir[256], path[400], dead[64], dead2[64], mine[64], live[64];
    lilm_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/train.tokens", dir);
    long d = dead_pid();
    snprintf(dead, sizeof dead, "train.tokens.tmp.%ld", d);
    snprintf(dead2, sizeof dead2, "val.docs.tmp.%ld", d);
    snprintf(mine, sizeof mine, "val.docs.tmp.%ld", (long)getpid());
    snprintf(live, sizeof live, "val.tokens.tmp.%ld", (long)getppid());
    touch(dir, dead);
    touch(dir, dead2);
    touch(dir, mine);
    touch(dir, live);
    touch(dir, "notes.tmp.x1");
    LT_OK(t, lilm_write_atomic(path, "abc", 3));
    LT_TRUE(t, !exists_in(dir, dead));
    LT_TRUE(t, exists_in(dir, dead2)); /* another target: left to the sweep */
    LT_EQ_INT(t, lilm_remove_stale_temps(dir), 1);
    LT_TRUE(t, !exists_in(dir, dead2));
    LT_TRUE(t, exists_in(dir, mine));
    LT_TRUE(t, exists_in(dir, live));
    LT_TRUE(t, exists_in(dir, "notes.tmp.x1"));
    LT_TRUE(t, exists_in(dir, "train.tokens"));
    LT_EQ_INT(t, lilm_remove_stale_temps("/nonexistent/dir"), 0);
}

/* Line files: whole lines appended; a full disk is an error naming the file. */
static void test_line_file(lilm_test *t)
{
    char dir[256], path[400];
    lilm_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    LT_OK(t, lilm_write_atomic(path, "{\"step\": 1}\n", 12));
    lilm_line_file lf;
    LT_OK(t, lilm_line_file_open(&lf, path));
    LT_EQ_INT(t, lf.size, 12);
    LT_OK(t, lilm_line_file_append(&lf, "{\"step\": 2}\n", 12));
    LT_OK(t, lilm_line_file_close(&lf));
    char *data = NULL;
    size_t n = 0;
    LT_OK(t, lilm_read_file(path, &data, &n));
    LT_TRUE(t, data && n == 24 && strcmp(data, "{\"step\": 1}\n{\"step\": 2}\n") == 0);
    free(data);
    /* /dev/full: every write fails with ENOSPC, as on a full disk */
    LT_OK(t, lilm_line_file_open(&lf, "/dev/full"));
    LT_STATUS(t, lilm_line_file_append(&lf, "{\"step\": 3}\n", 12), LILM_ERR_IO);
    LT_TRUE(t, strstr(lilm_last_error(), "/dev/full") != NULL && strstr(lilm_last_error(), "disk is full") != NULL);
    lilm_line_file_close(&lf);
    LT_STATUS(t, lilm_line_file_open(&lf, "/nonexistent/dir/m.jsonl"), LILM_ERR_IO);
}

static const lilm_test_case cases[] = {
    {"sha256_vectors", test_sha256_vectors},
    {"atomic_write", test_atomic_write},
    {"stale_temps", test_stale_temps},
    {"line_file", test_line_file},
};
LILM_TEST_MAIN(cases)
