/*
 * grow.c: doubling growth of one or several arrays (see grow.h).
 *
 * Kept apart so the protobuf writer, the normaliser, the encoders and the
 * decoder share one implementation of the realloc-and-double pattern.
 */
#include "tok/grow.h"

#include <stdlib.h>

lilm_status lilm_tok_grow_arrays(void **bufs, const size_t *elem, int n, size_t *cap, size_t need)
{
    if (need <= *cap) return LILM_OK;
    size_t nc = *cap ? *cap : 256;
    while (nc < need) nc *= 2;
    for (int i = 0; i < n; i++) {
        void *p = realloc(bufs[i], nc * elem[i]);
        if (!p) return lilm_errorf(LILM_ERR_OOM, "out of memory (%zu elements)", nc);
        bufs[i] = p;
    }
    *cap = nc;
    return LILM_OK;
}
