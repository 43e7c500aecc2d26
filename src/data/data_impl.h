/*
 * data_impl.h: internals shared by the files of src/data (not a public API).
 *
 * The opened split (struct lilm_dataset) is read by the loader and the eval
 * iterator directly: token ids sit in a read-only memory map, 2 or 4 bytes
 * each, and the document index is a separate map of 3 x u64 per document.
 */
#ifndef LILM_DATA_IMPL_H
#define LILM_DATA_IMPL_H

#include <stdint.h>
#include <string.h>

#include "core/fileio.h"
#include "data/dataset.h"

struct lilm_dataset {
    lilm_mmap tokens_map;     /* <split>.tokens */
    lilm_mmap docs_map;       /* <split>.docs */
    const uint8_t *tokens;    /* payload: n_tokens ids of token_bytes each */
    const uint8_t *docs;      /* payload: n_docs x (offset, count, bytes) u64 */
    int token_bytes;          /* 2 or 4 */
    lilm_dataset_info info;
    char path[1100];          /* <dir>/<split>.tokens, for messages */
};

/* Token at position pos (no range check). */
static inline int32_t lilm__ds_token(const struct lilm_dataset *ds, int64_t pos)
{
    if (ds->token_bytes == 2) {
        uint16_t v;
        memcpy(&v, ds->tokens + 2 * (size_t)pos, 2);
        return (int32_t)v;
    }
    uint32_t v;
    memcpy(&v, ds->tokens + 4 * (size_t)pos, 4);
    return (int32_t)v;
}

/* xoshiro256**: the loader's RNG (state is 4 x u64, never all zero). */
static inline uint64_t lilm__rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
static inline uint64_t lilm__rng_next(uint64_t s[4])
{
    uint64_t r = lilm__rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = lilm__rotl(s[3], 45);
    return r;
}
/* Uniform integer in [0, n), n > 0 (Lemire's multiply-shift, unbiased enough
 * for shuffling: bias < n / 2^64). */
static inline uint64_t lilm__rng_below(uint64_t s[4], uint64_t n)
{
    return (uint64_t)(((unsigned __int128)lilm__rng_next(s) * n) >> 64);
}

#endif
