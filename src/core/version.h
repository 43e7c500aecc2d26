/*
 * version.h: lilm's version and the git commit it was built from.
 *
 * The commit is baked into build/version.o by the Makefile (rebuilt only when
 * HEAD moves), so run records can name the exact code that produced them.
 */
#ifndef LILM_CORE_VERSION_H
#define LILM_CORE_VERSION_H

#define LILM_VERSION "0.1.0"

const char *lilm_version(void);
const char *lilm_git_commit(void);

#endif
