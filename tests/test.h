/*
 * test.h: the tiny test harness every C test file uses.
 *
 * A test file defines `static void test_x(lilm_test *t)` functions, lists them
 * in one table, and ends with LILM_TEST_MAIN(table). The binary runs every
 * case (or only those named on its command line), prints "ok"/"FAIL" per case
 * and a closing "N passed, N failed" line, and exits non-zero on any failure.
 * Tests find ../shared through lilm_test_shared_path(), which honours
 * LILM_SHARED (default: ../shared beside the repository root).
 */
#ifndef LILM_TEST_H
#define LILM_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct lilm_test {
    const char *name;
    int failures;   /* checks failed in the current case */
    int checks;     /* checks run in the current case */
} lilm_test;

typedef struct lilm_test_case {
    const char *name;
    void (*fn)(lilm_test *t);
} lilm_test_case;

void lilm_test_fail(lilm_test *t, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int lilm_test_main(int argc, char **argv, const char *suite,
                   const lilm_test_case *cases, int n_cases);

/* Path under the shared data directory, e.g. lilm_test_shared_path(buf, n, "data/tinystories").
 * Returns buf. */
char *lilm_test_shared_path(char *buf, size_t n, const char *rel);
/* A fresh empty temporary directory for this test (under $TMPDIR); returns buf. */
char *lilm_test_tmpdir(char *buf, size_t n);

#define LT_CHECK(t, cond, ...) \
    do { (t)->checks++; if (!(cond)) lilm_test_fail((t), __FILE__, __LINE__, __VA_ARGS__); } while (0)
#define LT_TRUE(t, cond) LT_CHECK(t, cond, "expected %s", #cond)
#define LT_EQ_INT(t, a, b) \
    do { long long lt_a = (long long)(a), lt_b = (long long)(b); \
         LT_CHECK(t, lt_a == lt_b, "%s == %s: %lld != %lld", #a, #b, lt_a, lt_b); } while (0)
#define LT_NEAR(t, a, b, tol) \
    do { double lt_a = (double)(a), lt_b = (double)(b); \
         LT_CHECK(t, fabs(lt_a - lt_b) <= (tol), "%s ~ %s: %.9g vs %.9g (tol %g)", #a, #b, lt_a, lt_b, (double)(tol)); } while (0)
#define LT_OK(t, expr) \
    do { lilm_status lt_s = (expr); \
         LT_CHECK(t, lt_s == LILM_OK, "%s failed: %s: %s", #expr, lilm_status_str(lt_s), lilm_last_error()); } while (0)
#define LT_STATUS(t, expr, want) \
    do { lilm_status lt_s = (expr); \
         LT_CHECK(t, lt_s == (want), "%s returned %s (want %s): %s", #expr, lilm_status_str(lt_s), lilm_status_str(want), lilm_last_error()); } while (0)

#define LILM_TEST_MAIN(cases) \
    int main(int argc, char **argv) { \
        return lilm_test_main(argc, argv, __FILE__, cases, (int)(sizeof(cases) / sizeof(cases[0]))); \
    }

#endif
