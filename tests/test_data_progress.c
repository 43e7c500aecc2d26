/*
 * test_data_progress.c: the progress line (core/progress.h): layout with a
 * known total and rate, unknown totals, counts, and plain (non-TTY) output.
 */
#include "test.h"

#include "core/progress.h"

static void test_format_bytes(lilm_test *t)
{
    lilm_progress p;
    lilm_progress_init(&p, "tokenize", "B", 100000000);
    p.done = 50000000;
    char buf[256];
    lilm_progress_format(&p, 10.0, buf, sizeof buf);
    LT_CHECK(t, strstr(buf, "tokenize [##########..........]  50.0%  50.0/100.0 MB  5.0 MB/s  ETA 0:10") == buf,
             "got '%s'", buf);
    lilm_progress_status(&p, "docs %d", 7);
    lilm_progress_format(&p, 10.0, buf, sizeof buf);
    LT_CHECK(t, strstr(buf, "ETA 0:10  docs 7") != NULL, "got '%s'", buf);
    p.done = 100000000;
    p.finished = 1;
    lilm_progress_format(&p, 3725.0, buf, sizeof buf);
    LT_CHECK(t, strstr(buf, "100.0%") && strstr(buf, "took 1:02:05"), "got '%s'", buf);
}

static void test_format_unknown_total(lilm_test *t)
{
    lilm_progress p;
    lilm_progress_init(&p, "steps", "steps", 0);
    p.done = 30;
    char buf[256];
    lilm_progress_format(&p, 3.0, buf, sizeof buf);
    LT_CHECK(t, strcmp(buf, "steps  30 steps  10.0 steps/s  elapsed 0:03") == 0, "got '%s'", buf);
}

static void test_plain_output(lilm_test *t)
{
    char *mem = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&mem, &n);
    lilm_progress p;
    lilm_progress_init(&p, "copy", "B", 1000);
    p.out = f;
    p.tty = 0;
    p.quiet = 0;
    p.log_interval = 0; /* every update draws */
    lilm_progress_update(&p, 500);
    lilm_progress_add(&p, 500);
    lilm_progress_finish(&p);
    lilm_progress_finish(&p); /* idempotent */
    fclose(f);
    int lines = 0;
    for (size_t i = 0; i < n; i++) lines += mem[i] == '\n';
    LT_EQ_INT(t, lines, 3);
    LT_TRUE(t, strchr(mem, '\r') == NULL && strchr(mem, '\x1b') == NULL);
    LT_TRUE(t, strstr(mem, "took") != NULL);
    free(mem);
}

static const lilm_test_case cases[] = {
    {"format_bytes", test_format_bytes},
    {"format_unknown_total", test_format_unknown_total},
    {"plain_output", test_plain_output},
};
LILM_TEST_MAIN(cases)
