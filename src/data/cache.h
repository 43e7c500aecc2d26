/*
 * cache.h: lilm's cache directory, where `lilm run` keeps what it made.
 *
 * The root is $LILM_HOME, else $XDG_CACHE_HOME/lilm, else ~/.cache/lilm (as
 * the Hugging Face tools use $HF_HOME or ~/.cache/huggingface). Under it:
 *   datasets/hf/OWNER/NAME/     files fetched from the hub (lilm data fetch)
 *   datasets/tiny/stories.txt   the shipped tiny text, written out
 *   tokenizers/NAME-HASH.model  tokenizers trained by `lilm run`
 *   prepared/NAME-HASH/         prepared datasets (lilm data prepare)
 *   autosize/NAME-HASH.yaml     configs chosen by autosize
 * HASH is 12 hex digits of the SHA-256 of everything the step depends on, so
 * a step with the same inputs and options finds its output and skips.
 * A step's output is complete when its stamp file (stamp.json beside it, or
 * PATH.stamp) holds the same key; a step killed midway leaves no stamp.
 */
#ifndef LILM_DATA_CACHE_H
#define LILM_DATA_CACHE_H

#include <stddef.h>

#include "core/status.h"

/* The cache root (not created). LILM_ERR_ARG when no variable names one. */
lilm_status lilm_cache_root(char *out, size_t n);

/* out = ROOT/sub (sub is a relative path); creates the parent directory. */
lilm_status lilm_cache_path(char *out, size_t n, const char *sub);

/* 12 hex digits (+ NUL) of the SHA-256 of key: the HASH of a cache name. */
void lilm_cache_hash(const char *key, char hex[13]);

/* 1 when the stamp file at stamp_path holds exactly key. */
int lilm_cache_stamp_ok(const char *stamp_path, const char *key);

/* Writes key to the stamp file (atomically). */
lilm_status lilm_cache_stamp_write(const char *stamp_path, const char *key);

#endif
