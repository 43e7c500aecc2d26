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

/* Token at position pos (no range check); the file is little-endian. */
static inline int32_t lilm__ds_token(const struct lilm_dataset *ds, int64_t pos)
{
    const uint8_t *p = ds->tokens + (size_t)ds->token_bytes * (size_t)pos;
    if (ds->token_bytes == 2) return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8);
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

#endif
