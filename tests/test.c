/*
 * test.c: the harness behind test.h: runs the cases, counts, reports.
 *
 * Output is one line per case ("ok suite/name" or "FAIL suite/name") with the
 * failed checks above it, then "suite: N passed, N failed". tests/run.sh adds
 * the counts of every binary and prints the project's closing line.
 */
#include "test.h"

#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

void lilm_test_fail(lilm_test *t, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    t->failures++;
    if (t->failures > 20) return; /* keep the log readable */
    fprintf(stderr, "  %s:%d: [%s] ", file, line, t->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static const char *suite_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

int lilm_test_main(int argc, char **argv, const char *suite,
                   const lilm_test_case *cases, int n_cases)
{
    int passed = 0, failed = 0;
    suite = suite_name(suite);
    for (int i = 0; i < n_cases; i++) {
        if (argc > 1) {
            int wanted = 0;
            for (int a = 1; a < argc; a++)
                if (strcmp(argv[a], cases[i].name) == 0) wanted = 1;
            if (!wanted) continue;
        }
        lilm_test t = {cases[i].name, 0, 0};
        cases[i].fn(&t);
        if (t.failures == 0) {
            passed++;
            printf("ok   %s/%s (%d checks)\n", suite, cases[i].name, t.checks);
        } else {
            failed++;
            printf("FAIL %s/%s (%d of %d checks failed)\n", suite, cases[i].name, t.failures, t.checks);
        }
        fflush(stdout);
    }
    printf("%s: %d passed, %d failed\n", suite, passed, failed);
    return failed ? 1 : 0;
}

char *lilm_test_shared_path(char *buf, size_t n, const char *rel)
{
    const char *root = getenv("LILM_SHARED");
    snprintf(buf, n, "%s/%s", root && *root ? root : "../shared", rel);
    return buf;
}

char *lilm_test_tmpdir(char *buf, size_t n)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(buf, n, "%s/lilm-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(buf)) {
        perror("mkdtemp");
        abort();
    }
    return buf;
}
