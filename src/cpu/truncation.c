/*
 * truncation.c: the CPU entry points of the truncation activations. They
 * check the parameters (recording LILM_ERR_ARG for the next sync()) and
 * dispatch to svd_spectral.c (SVD truncation, entropic reduction) or
 * qr_truncation.c (randomized QR). The workspace is one region per thread.
 */
#include "cpu/cpu_impl.h"
#include "cpu/lowrank.h"

#include "core/status.h"

size_t lilm__cpu_trunc_work_bytes(lilm_backend *be, size_t F, const lilm_trunc_params *p)
{
    size_t per = p->kind == LILM_TRUNC_QR ? lilm__cpu_qr_trunc_work_floats(F, (size_t)(p->k > 0 ? p->k : 1))
                                          : lilm__cpu_svd_spectral_work_floats(F);
    return (size_t)lilm__cpu(be)->threads * per * sizeof(float);
}

/* Records an argument error (and returns 0) when p does not fit width F. */
static int params_ok(lilm_backend *be, const lilm_trunc_params *p, size_t F)
{
    if (lilm_trunc_params_check(p, F) == LILM_OK)
        return 1;
    lilm__cpu_fail(be, LILM_ERR_ARG, "%s", lilm_last_error());
    return 0;
}

void lilm__cpu_trunc_forward(lilm_backend *be, void *out, float *saved, const void *in,
                             size_t N, size_t F, const lilm_trunc_params *p, void *work)
{
    if (!params_ok(be, p, F))
        return;
    if (p->kind == LILM_TRUNC_QR)
        lilm__cpu_qr_trunc_forward(be, out, saved, in, N, F, p, work);
    else
        lilm__cpu_svd_spectral_forward(be, out, saved, in, N, F, p, work);
}

void lilm__cpu_trunc_backward(lilm_backend *be, void *din, const void *dout, const void *in,
                              const float *saved, size_t N, size_t F,
                              const lilm_trunc_params *p, void *work)
{
    if (!params_ok(be, p, F))
        return;
    if (p->kind == LILM_TRUNC_QR)
        lilm__cpu_qr_trunc_backward(be, din, dout, in, saved, N, F, p, work);
    else
        lilm__cpu_svd_spectral_backward(be, din, dout, saved, N, F, p, work);
}
