/*
 * lowrank.h: the CPU backend's low-rank ops (the reference's truncation
 * activations and the tensor-ring Linear); cross-file internals, not API.
 *
 * Definitions: ops/truncation.h and core/tensor_ring.h. All buffers are fp32
 * host memory; activations are `void *` as in ops/backend.h.
 *
 * Workspace: these ops need per-call scratch that the backend plan does not
 * size yet, so the caller passes `work`, at least *_work_bytes() bytes,
 * 64-byte aligned (be->ops->alloc gives that). The ops never allocate.
 *
 * Threads: tokens (rows) are split statically over the backend's threads and
 * each token is computed by one thread in a fixed order, so results do not
 * depend on the thread count. LAPACK (sgesdd, sgeqrf, sorgqr) and BLAS run
 * single-threaded inside those regions.
 */
#ifndef LILM_CPU_LOWRANK_H
#define LILM_CPU_LOWRANK_H

#include <stddef.h>

#include "ops/backend.h"
#include "core/tensor_ring.h"
#include "ops/truncation.h"

/* ---- truncation activations (truncation.c dispatches on p->kind) ----
 * out (N, F) = the truncation of in (N, F); saved (lilm_trunc_saved_floats)
 * is written by the forward and read by the backward; din (N, F) WRITTEN
 * with the gradient for dout (N, F). Failures (a LAPACK error, bad
 * parameters) are recorded and reported by the next sync(). */
size_t lilm__cpu_trunc_work_bytes(lilm_backend *be, size_t F, const lilm_trunc_params *p);
void lilm__cpu_trunc_forward(lilm_backend *be, void *out, float *saved, const void *in,
                             size_t N, size_t F, const lilm_trunc_params *p, void *work);
void lilm__cpu_trunc_backward(lilm_backend *be, void *din, const void *dout, const void *in,
                              const float *saved, size_t N, size_t F,
                              const lilm_trunc_params *p, void *work);

/* svd_spectral.c: SVD truncation and SVD entropic reduction */
size_t lilm__cpu_svd_spectral_work_floats(size_t F);
void lilm__cpu_svd_spectral_forward(lilm_backend *be, float *out, float *saved, const float *in,
                                    size_t N, size_t F, const lilm_trunc_params *p, float *work);
void lilm__cpu_svd_spectral_backward(lilm_backend *be, float *din, const float *dout,
                                     const float *saved, size_t N, size_t F,
                                     const lilm_trunc_params *p, float *work);

/* qr_truncation.c: randomized-QR truncation */
size_t lilm__cpu_qr_trunc_work_floats(size_t F, size_t k);
void lilm__cpu_qr_trunc_forward(lilm_backend *be, float *out, float *saved, const float *in,
                                size_t N, size_t F, const lilm_trunc_params *p, float *work);
void lilm__cpu_qr_trunc_backward(lilm_backend *be, float *din, const float *dout, const float *in,
                                 const float *saved, size_t N, size_t F,
                                 const lilm_trunc_params *p, float *work);

/* ---- tensor-ring Linear (tensor_ring.c) ----
 * weight: w (O, I) = the ring contraction of cores (s->n_params floats).
 * weight_backward: dcores += d(sum dw * w)/dcores, for dw (O, I).
 * linear_forward: w = weight(cores), then out (N, O) = act(in (N, I) w^T +
 *   bias), pre as matmul_forward. w (O, I) is caller memory and must be kept
 *   unchanged for the backward.
 * linear_backward: as matmul_backward with w from the forward; dw (O, I) is
 *   scratch (overwritten), dcores += and dbias += (may be NULL), din = (or +=
 *   with accumulate; may be NULL). */
size_t lilm__cpu_tr_work_bytes(lilm_backend *be, const lilm_tr_shape *s);
void lilm__cpu_tr_weight(lilm_backend *be, void *w, const float *cores, const lilm_tr_shape *s,
                         void *work);
void lilm__cpu_tr_weight_backward(lilm_backend *be, float *dcores, const void *dw,
                                  const float *cores, const lilm_tr_shape *s, void *work);
void lilm__cpu_tr_linear_forward(lilm_backend *be, void *out, void *pre, const void *in,
                                 float *w, const float *cores, const float *bias,
                                 size_t N, const lilm_tr_shape *s, lilm_act act, void *work);
void lilm__cpu_tr_linear_backward(lilm_backend *be, void *din, float *dcores, float *dbias,
                                  void *dout, const void *pre, const void *in, const float *w,
                                  float *dw, const float *cores, size_t N, const lilm_tr_shape *s,
                                  lilm_act act, int accumulate, void *work);

#endif
