/*
 * pending_stub.c: stands in for the CUDA backend's constructor until
 * src/cuda/cuda_backend.cu lands; reports that CUDA is unavailable.
 */
#include "ops/backend.h"

lilm_status lilm_cuda_backend_create(lilm_backend **out, int device_index)
{
    (void)device_index;
    *out = NULL;
    return lilm_errorf(LILM_ERR_UNSUPPORTED, "this build has no CUDA backend yet");
}
