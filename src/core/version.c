/*
 * version.c: version strings. LILM_GIT_COMMIT comes from the Makefile.
 */
#include "core/version.h"

#ifndef LILM_GIT_COMMIT
#define LILM_GIT_COMMIT "unknown"
#endif

const char *lilm_version(void) { return LILM_VERSION; }
const char *lilm_git_commit(void) { return LILM_GIT_COMMIT; }
