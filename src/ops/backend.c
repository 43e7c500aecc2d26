/*
 * backend.c: picks and builds a compute backend.
 *
 * "auto" takes CUDA when lilm_cuda_backend_create succeeds (built with CUDA
 * and a GPU present) and falls back to the CPU otherwise; "cuda" fails when
 * CUDA is not available; "cpu" always builds the CPU backend. A build without
 * LILM_USE_CUDA gets the stub lilm_cuda_backend_create below. Kernel
 * options come from the caller (lilm_backend_create_for reads them from a
 * run's train section), never from the environment.
 */
#include "ops/backend.h"

#include <string.h>

#include "core/config.h"

#ifndef LILM_USE_CUDA
lilm_status lilm_cuda_backend_create_opts(lilm_backend **out, int device_index, const lilm_backend_options *opts)
{
    (void)device_index;
    (void)opts;
    *out = NULL;
    return lilm_errorf(LILM_ERR_UNSUPPORTED, "this lilm was built without CUDA");
}

lilm_status lilm_cuda_backend_create(lilm_backend **out, int device_index)
{
    return lilm_cuda_backend_create_opts(out, device_index, NULL);
}
#endif

lilm_status lilm_backend_create_opts(lilm_backend **out, lilm_device_choice choice, int threads,
                                     const lilm_backend_options *opts)
{
    *out = NULL;
    switch (choice) {
    case LILM_DEVICE_CHOICE_AUTO:
        if (lilm_cuda_backend_create_opts(out, opts ? opts->cuda_device : 0, opts) == LILM_OK)
            return LILM_OK;
        lilm_clear_error();
        return lilm_cpu_backend_create(out, threads);
    case LILM_DEVICE_CHOICE_CPU:
        return lilm_cpu_backend_create(out, threads);
    case LILM_DEVICE_CHOICE_CUDA:
        return lilm_cuda_backend_create_opts(out, opts ? opts->cuda_device : 0, opts);
    }
    return lilm_errorf(LILM_ERR_ARG, "unknown device choice %d", (int)choice);
}

lilm_status lilm_backend_create(lilm_backend **out, lilm_device_choice choice, int threads)
{
    return lilm_backend_create_opts(out, choice, threads, NULL);
}

void lilm_backend_options_from_config(const lilm_train_config *tc, lilm_backend_options *out)
{
    memset(out, 0, sizeof *out);
    out->cuda_attention = (lilm_cuda_attention)tc->cuda_attention;
    out->cuda_no_epilogue = !tc->cuda_epilogue;
}

lilm_status lilm_backend_create_for(lilm_backend **out, const lilm_train_config *tc)
{
    lilm_device_choice dc;
    lilm_backend_options opts;
    *out = NULL;
    LILM_TRY(lilm_device_choice_parse(tc->device, &dc));
    lilm_backend_options_from_config(tc, &opts);
    return lilm_backend_create_opts(out, dc, (int)tc->threads, &opts);
}

void lilm_backend_free(lilm_backend *be)
{
    if (be)
        be->ops->destroy(be);
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
