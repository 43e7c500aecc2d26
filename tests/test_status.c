/*
 * test_status.c: the error-reporting basics every module relies on.
 *
 * Checks that status names exist for every code and that the thread-local
 * detail message is set, extended with context, and cleared.
 */
#include "test.h"

#include "core/status.h"

static void test_names(lilm_test *t)
{
    for (int s = 0; s < LILM_STATUS_COUNT; s++)
        LT_CHECK(t, strcmp(lilm_status_str((lilm_status)s), "unknown status") != 0, "status %d has no name", s);
    LT_TRUE(t, strcmp(lilm_status_str((lilm_status)999), "unknown status") == 0);
}

static void test_detail(lilm_test *t)
{
    lilm_clear_error();
    LT_TRUE(t, lilm_last_error()[0] == '\0');
    LT_EQ_INT(t, lilm_errorf(LILM_ERR_IO, "cannot open %s", "x.bin"), LILM_ERR_IO);
    LT_TRUE(t, strcmp(lilm_last_error(), "cannot open x.bin") == 0);
    lilm_error_context(LILM_ERR_IO, "loading %d: ", 7);
    LT_TRUE(t, strcmp(lilm_last_error(), "loading 7: cannot open x.bin") == 0);
}

static const lilm_test_case cases[] = {
    {"names", test_names},
    {"detail", test_detail},
};
LILM_TEST_MAIN(cases)
