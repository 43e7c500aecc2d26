/*
 * cpu_impl.h: private state and op entry points of the CPU backend.
 *
 * The CPU backend computes in fp32 (act_dtype F32): every `void *` activation
 * in backend.h is a `float *` here. Work is split with OpenMP over `threads`
 * threads (always a static schedule, so a fixed thread count gives
 * bit-identical results) and matrix products go through OpenBLAS sgemm.
 *
 * Scratch: one block owned by lilm_cpu_state, sized by reserve() from the
 * plan, cut into
 *   - attn:    per thread, 2 tiles of (LILM_CPU_ATTN_BLOCK, max_seq) floats
 *              (scores/probabilities and their gradient);
 *   - xent:    (xent_rows, vocab) floats, the logits of one row chunk;
 *   - partial: per thread, 2 * max(d_model, max_width) floats for the
 *              ordered reduction of parameter gradients (norm weights, bias);
 *   - rope:    (max_seq, qk_dim/2) pairs (cos, sin), filled by the first
 *              rope call with a given (D, base) and reused while they match.
 * Ops never allocate; an op called with shapes beyond the plan records
 * LILM_ERR_ARG, does nothing, and the next sync() reports it.
 *
 * Cross-file names use the lilm__cpu_ prefix; nothing here is public API.
 */
#ifndef LILM_CPU_IMPL_H
#define LILM_CPU_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "ops/backend.h"

/* GCC's -O2 "very cheap" vectoriser cost model leaves the `omp simd`
 * reductions of the row loops (norms, softmax sums) scalar; the dynamic
 * model vectorises them. sqrtf setting errno (never, for our inputs >= 0)
 * blocks vectorising AdamW. With -ftrapping-math (the default) GCC does not
 * if-convert a select that feeds arithmetic (the clamps of exp, the sign
 * select of GELU), so those loops stay scalar; no-trapping-math only drops
 * the promise to raise FP exception flags exactly, no value changes. Every
 * src/cpu file includes this header first, so these apply to the whole CPU
 * backend and nothing else. */
#pragma GCC optimize("vect-cost-model=dynamic", "no-math-errno", "no-trapping-math")

/* Query rows per attention tile: the (block, Tk) score tile of one thread
 * stays in L2 (64 x 512 x 4 B = 128 KiB). */
#ifndef LILM_CPU_ATTN_BLOCK
#define LILM_CPU_ATTN_BLOCK 64
#endif

/* Bytes every allocation and scratch area is aligned to (one cache line,
 * one AVX-512 vector). */
#define LILM_CPU_ALIGN 64

typedef struct lilm_cpu_state {
    int threads;                 /* OpenMP threads of every op, fixed at creation
                                  * (be->threads is an informational copy) */
    lilm_backend_plan plan;      /* the largest plan reserved so far */
    float *scratch;              /* the one scratch block (see above) */
    size_t scratch_floats;
    float *attn;                 /* (threads, 2, LILM_CPU_ATTN_BLOCK, max_seq) */
    size_t attn_tile;            /* floats in one tile = BLOCK * max_seq */
    float *xent;                 /* (xent_rows, vocab) */
    size_t xent_rows;
    float *partial;              /* (threads, 2, partial_width) */
    size_t partial_width;
    float *rope;                 /* (max_seq, qk_dim/2, 2) cos, sin of the last (D, base) */
    size_t rope_d;               /* head dim the table holds (0: none yet) */
    float rope_base;
    size_t bytes_in_use;         /* alloc()ed bytes now */
    size_t bytes_peak;           /* ... at their peak, scratch included */
    lilm_status error;           /* first error recorded by an op, reported by sync() */
    char error_msg[256];
} lilm_cpu_state;

static inline lilm_cpu_state *lilm__cpu(lilm_backend *be) { return (lilm_cpu_state *)be->impl; }

/* Records the first op error (called outside parallel regions only). */
void lilm__cpu_fail(lilm_backend *be, lilm_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Part i of `parts` of the range [0, n): [*lo, *hi), cut at multiples of
 * `align` so that threads never share a cache line of output. */
static inline void lilm__cpu_split(size_t n, int parts, int i, size_t align, size_t *lo, size_t *hi)
{
    size_t units = (n + align - 1) / align;
    size_t a = units * (size_t)i / (size_t)parts, b = units * (size_t)(i + 1) / (size_t)parts;
    *lo = a * align < n ? a * align : n;
    *hi = b * align < n ? b * align : n;
}

/* embedding.c */
void lilm__cpu_embedding_forward(lilm_backend *be, void *out, const int32_t *tokens,
                                 const void *wte, size_t N, size_t C);
void lilm__cpu_embedding_backward(lilm_backend *be, float *dwte, const void *dout,
                                  const int32_t *tokens, size_t N, size_t C, size_t V);
/* norm.c */
void lilm__cpu_norm_forward(lilm_backend *be, void *out, float *mean, float *rstd,
                            const void *in, const float *weight, const float *bias,
                            size_t N, size_t C, float eps);
void lilm__cpu_norm_backward(lilm_backend *be, void *din, float *dweight, float *dbias,
                             const void *dout, const void *in, const float *weight,
                             const float *mean, const float *rstd, size_t N, size_t C);
/* matmul.c */
void lilm__cpu_matmul_forward(lilm_backend *be, void *out, void *pre, const void *in,
                              const void *w, const float *bias,
                              size_t N, size_t IC, size_t OC, lilm_act act);
void lilm__cpu_matmul_backward(lilm_backend *be, void *din, float *dw, float *dbias,
                               void *dout, const void *pre, const void *in, const void *w,
                               size_t N, size_t IC, size_t OC, lilm_act act, int accumulate);
/* elementwise.c */
void lilm__cpu_act_forward(lilm_backend *be, void *out, const void *in, size_t n, lilm_act act);
void lilm__cpu_act_backward(lilm_backend *be, void *din, const void *dout, const void *in,
                            size_t n, lilm_act act);
int lilm__cpu_act_supported(lilm_backend *be, lilm_act act);
/* One thread's rows of the pointwise activations past GELU and ReLU (matmul's
 * epilogue): out (n) = act(in); d (n) *= act'(in). */
void lilm__cpu_act_rows(float *out, const float *in, size_t n, lilm_act act);
void lilm__cpu_act_grad_rows(float *d, const float *in, size_t n, lilm_act act);
void lilm__cpu_glu_forward(lilm_backend *be, void *out, const void *in, size_t N, size_t F, lilm_act act);
void lilm__cpu_glu_backward(lilm_backend *be, void *din, const void *dout, const void *in,
                            size_t N, size_t F, lilm_act act);
void lilm__cpu_add(lilm_backend *be, void *out, const void *a, const void *b, size_t n);
void lilm__cpu_accumulate(lilm_backend *be, void *out, const void *a, size_t n);
void lilm__cpu_copy(lilm_backend *be, void *dst, const void *src, size_t n);
void lilm__cpu_cast_to_act(lilm_backend *be, void *out, const float *in, size_t n);
void lilm__cpu_cast_to_f32(lilm_backend *be, float *out, const void *in, size_t n);
/* rope.c */
void lilm__cpu_rope_forward(lilm_backend *be, void *x, size_t B, size_t T, size_t H, size_t D,
                            size_t stride, size_t pos0, float base);
void lilm__cpu_rope_backward(lilm_backend *be, void *dx, size_t B, size_t T, size_t H, size_t D,
                             size_t stride, size_t pos0, float base);
/* attention.c */
void lilm__cpu_attention_forward(lilm_backend *be, void *out, float *lse,
                                 const void *q, const void *k, const void *v,
                                 size_t B, size_t Tq, size_t Tk, size_t pos0, size_t H,
                                 size_t Dq, size_t Dv, size_t q_stride, size_t kv_stride);
void lilm__cpu_attention_backward(lilm_backend *be, void *dq, void *dk, void *dv,
                                  const void *dout, const void *q, const void *k, const void *v,
                                  const void *out, const float *lse,
                                  size_t B, size_t T, size_t H, size_t Dq, size_t Dv,
                                  size_t q_stride, size_t kv_stride);
/* classifier.c */
void lilm__cpu_classifier_xent(lilm_backend *be, float *losses, void *dx, float *dwte,
                               const void *x, const void *wte, const int32_t *targets,
                               size_t N, size_t C, size_t V, int32_t ignore_id, float dloss_scale);
void lilm__cpu_classifier_logits(lilm_backend *be, float *logits, const void *x, const void *wte,
                                 size_t N, size_t C, size_t V);
/* adamw.c */
void lilm__cpu_grad_sanitize(lilm_backend *be, float *g, size_t n, double *sumsq, int64_t *n_bad);
void lilm__cpu_scale(lilm_backend *be, float *x, size_t n, float s);
void lilm__cpu_axpy(lilm_backend *be, float *y, const float *x, size_t n, float a);
void lilm__cpu_adamw(lilm_backend *be, const lilm_adamw_tensor *tensors, size_t n_tensors,
                     const lilm_adamw_hparams *hp);

#endif
