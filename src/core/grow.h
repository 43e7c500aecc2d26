/*
 * grow.h: growable arrays, one implementation of realloc-and-double for the
 * whole library.
 *
 * Capacities double from 256 elements (or from the current capacity), and a
 * failed realloc leaves the old buffer and capacity untouched and returns
 * LILM_ERR_OOM, so a caller can always free what it had.
 */
#ifndef LILM_CORE_GROW_H
#define LILM_CORE_GROW_H

#include <stddef.h>

#include "core/status.h"

/* Grows n arrays sharing one capacity *cap to hold `need` elements (elem[i]
 * bytes each). On failure the arrays already grown are kept in bufs and *cap
 * is unchanged. */
lilm_status lilm_grow_arrays(void **bufs, const size_t *elem, int n, size_t *cap, size_t need);

/* Grows *buf (capacity *cap elements of `elem` bytes) to hold `need`; inline
 * because the encoders call it per word and it rarely has work to do. */
static inline lilm_status lilm_grow(void **buf, size_t *cap, size_t need, size_t elem)
{
    return need <= *cap ? LILM_OK : lilm_grow_arrays(buf, &elem, 1, cap, need);
}

#endif
