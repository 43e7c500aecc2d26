/*
 * tiny_stories.h: the small training text that ships inside lilm.
 *
 * `lilm run tiny` needs no network and no files: it trains on short stories
 * made here from word lists and sentence patterns (a fixed seed, so every
 * machine gets the same bytes). Each story is a few paragraphs about one
 * character, a place, a thing, a friend and a feeling, with dialogue; stories
 * are separated by a blank line. The text is ASCII and our own: it is not
 * taken from any dataset.
 */
#ifndef LILM_DATA_TINY_STORIES_H
#define LILM_DATA_TINY_STORIES_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

#define LILM_TINY_STORIES_BYTES (1u << 20) /* what `lilm run tiny` trains on */
#define LILM_TINY_STORIES_SEED 2024u

/* Stories until at least `bytes`: *buf (malloc'd, NUL-terminated; the
 * caller frees it) and *len. */
lilm_status lilm_tiny_stories_generate(uint64_t seed, size_t bytes, char **buf, size_t *len);

/* Writes the standard text (LILM_TINY_STORIES_BYTES, LILM_TINY_STORIES_SEED)
 * to path, atomically, unless a file of exactly that content is there. */
lilm_status lilm_tiny_stories_write(const char *path);

#endif
