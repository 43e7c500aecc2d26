/*
 * backend.c: picks and builds a compute backend.
 *
 * "auto" takes CUDA when lilm_cuda_backend_create succeeds (built with CUDA
 * and a GPU present) and falls back to the CPU otherwise; "cuda" fails when
 * CUDA is not available; "cpu" always builds the CPU backend. A build without
 * LILM_USE_CUDA gets the stub lilm_cuda_backend_create below.
 */
#include "ops/backend.h"

#include <string.h>

#ifndef LILM_USE_CUDA
lilm_status lilm_cuda_backend_create(lilm_backend **out, int device_index)
{
    (void)device_index;
    *out = NULL;
    return lilm_errorf(LILM_ERR_UNSUPPORTED, "this lilm was built without CUDA");
}
#endif

lilm_status lilm_backend_create(lilm_backend **out, lilm_device_choice choice, int threads)
{
    *out = NULL;
    switch (choice) {
    case LILM_DEVICE_CHOICE_AUTO:
        if (lilm_cuda_backend_create(out, 0) == LILM_OK)
            return LILM_OK;
        lilm_clear_error();
        return lilm_cpu_backend_create(out, threads);
    case LILM_DEVICE_CHOICE_CPU:
        return lilm_cpu_backend_create(out, threads);
    case LILM_DEVICE_CHOICE_CUDA:
        return lilm_cuda_backend_create(out, 0);
    }
    return lilm_errorf(LILM_ERR_ARG, "unknown device choice %d", (int)choice);
}

void lilm_backend_free(lilm_backend *be)
{
    if (be)
        be->destroy(be);
}

lilm_status lilm_device_choice_parse(const char *s, lilm_device_choice *out)
{
    if (strcmp(s, "auto") == 0)
        *out = LILM_DEVICE_CHOICE_AUTO;
    else if (strcmp(s, "cpu") == 0)
        *out = LILM_DEVICE_CHOICE_CPU;
    else if (strcmp(s, "cuda") == 0)
        *out = LILM_DEVICE_CHOICE_CUDA;
    else
        return lilm_errorf(LILM_ERR_ARG, "unknown device '%s'; use auto, cpu or cuda", s);
    return LILM_OK;
}
