/*
 * cuda_env.h: the CUDA test programs' kernel options, read from the environment.
 *
 * The library takes its kernel choices from lilm_backend_options (the config's
 * train.cuda.* keys), never from the environment; the test programs keep the
 * old switches for scripts/gpu_check.sh: LILM_CUDA_ATTN = "" | auto | small
 * (the default) | warp | mma, LILM_CUDA_EPILOGUE=0 (no fused bias).
 */
#ifndef LILM_TESTS_CUDA_ENV_H
#define LILM_TESTS_CUDA_ENV_H

#include <stdlib.h>
#include <string.h>

#include "ops/backend.h"

/* Fills *o from the environment, with `attn` (when not NULL) in place of
 * LILM_CUDA_ATTN. Returns 0 for an attention value that names no kernels
 * (then o->cuda_attention is out of range, which backend creation refuses). */
static inline int lilm_test_cuda_options(lilm_backend_options *o, const char *attn)
{
    memset(o, 0, sizeof *o);
    const char *epi = getenv("LILM_CUDA_EPILOGUE");
    o->cuda_no_epilogue = epi && strcmp(epi, "0") == 0;
    if (!attn) attn = getenv("LILM_CUDA_ATTN");
    if (!attn || !*attn || strcmp(attn, "auto") == 0 || strcmp(attn, "small") == 0) o->cuda_attention = LILM_CUDA_ATTN_AUTO;
    else if (strcmp(attn, "warp") == 0) o->cuda_attention = LILM_CUDA_ATTN_WARP;
    else if (strcmp(attn, "mma") == 0) o->cuda_attention = LILM_CUDA_ATTN_MMA;
    else {
        o->cuda_attention = (lilm_cuda_attention)99;
        return 0;
    }
    return 1;
}

#endif
