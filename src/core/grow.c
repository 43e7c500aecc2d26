/*
 * grow.c: doubling growth of one or several arrays (see grow.h).
 *
 * The protobuf writer, the normaliser, the encoders and decoder, the
 * safetensors reader and writer, the Parquet reader and the run-directory
 * reader all grow their buffers here.
 */
#include "core/grow.h"

#include <stdlib.h>

lilm_status lilm_grow_arrays(void **bufs, const size_t *elem, int n, size_t *cap, size_t need)
{
    if (need <= *cap) return LILM_OK;
    size_t nc = *cap ? *cap : 256;
    while (nc < need) nc *= 2;
    for (int i = 0; i < n; i++) {
        void *p = realloc(bufs[i], nc * elem[i]);
        if (!p) return lilm_errorf(LILM_ERR_OOM, "out of memory (%zu elements of %zu bytes)", nc, elem[i]);
        bufs[i] = p;
    }
    *cap = nc;
    return LILM_OK;
}
