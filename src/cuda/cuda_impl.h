/*
 * cuda_impl.h: what the CUDA backend's files share (internal, not installed).
 *
 * The CUDA backend fills the op table of src/ops/backend.h. Its state lives in
 * one `lilm__cuda` struct hung off `lilm_backend.impl`: device, stream, the
 * cuBLASLt and cuBLAS handles, the GEMM workspace, scratch sized by reserve(),
 * and the first device error seen since the last sync(). There are no mutable
 * globals. Each src/cuda/<family>.cu file holds C-style kernels and
 * `extern "C"` launchers named lilm__cuda_<op>; the table in cuda_backend.cu
 * points at them.
 *
 * Error model: ops return void (see backend.h), so every CUDA and cuBLAS call
 * goes through lilm__cuda_rt_ok()/lilm__cuda_blas_ok(), which record the first
 * failure (call text, file:line, CUDA's message) in the struct; be->ops->sync()
 * returns it as a lilm_status. Every kernel launch sits in a launcher that
 * asserts the kernel's shape preconditions (LILM_ASSERT: programmer errors)
 * and checks cudaGetLastError() right after the launch.
 *
 * Dtypes: activations and weight compute copies are bf16 (__nv_bfloat16);
 * params, grads, moments and statistics fp32; all math inside kernels is fp32.
 */
#ifndef LILM_CUDA_IMPL_H
#define LILM_CUDA_IMPL_H

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

extern "C" {
#include "core/status.h"
#include "ops/backend.h"
}

typedef __nv_bfloat16 lilm__bf16;

/* One AdamW tensor as the kernel sees it (device copy of lilm_adamw_tensor). */
typedef struct lilm__adamw_desc {
    float *param;        /* (n) */
    const float *grad;   /* (n) */
    float *m, *v;        /* (n) */
    size_t n;
    size_t block_start;  /* first kernel block that works on this tensor */
    float weight_decay;
} lilm__adamw_desc;

/* A cached cuBLASLt heuristic answer for one GEMM shape (matmul.cu). The key
 * is compared with memcmp, so it is always zeroed before it is filled. */
typedef struct lilm__gemm_key {
    int32_t trans_a, trans_b, d_f32, has_bias;
    uint32_t align_a, align_b, align_d, align_bias;
    uint64_t m, n, k, lda, ldb, ldd;
} lilm__gemm_key;

typedef struct lilm__gemm_plan {
    lilm__gemm_key key;
    int found;                   /* 0: cuBLASLt has no algorithm for it */
    cublasLtMatmulAlgo_t algo;
} lilm__gemm_plan;

#define LILM__GEMM_CACHE 128

typedef struct lilm__cuda {
    int device;
    int sm_count;
    char device_name[256];
    cudaStream_t stream;
    cublasLtHandle_t lt;
    cublasHandle_t blas;         /* fallback GEMM when cuBLASLt has no algorithm */
    void *gemm_ws;               /* cuBLASLt workspace */
    size_t gemm_ws_bytes;
    int use_bias_epilogue;       /* 1: fuse bias into the GEMM (train.cuda.epilogue false turns off) */
    int attn_small;              /* 1: thread-per-row attention for heads <= 32 (train.cuda.attention warp turns off) */
    int attn_mma;                /* 1: tensor-core attention where it applies (train.cuda.attention mma) */
    int bias_epilogue_failed;    /* set once cuBLASLt rejected the fp32-bias epilogue */
    lilm__gemm_plan gemm_cache[LILM__GEMM_CACHE]; /* heuristic answers by shape, round-robin */
    int gemm_cache_n, gemm_cache_next;

    /* first error since the last sync() */
    lilm_status err;
    char err_msg[1024];

    size_t peak_bytes;           /* device memory in use at its peak (cudaMemGetInfo) */

    /* scratch sized by reserve() */
    int reserved;
    lilm_backend_plan plan;
    float *attn_delta;           /* (B, H, T) rowsum(dout * out) for attention backward */
    size_t attn_delta_n;
    float *xent_logits;          /* (R, V) fp32 logits of one row chunk */
    lilm__bf16 *xent_dlogits;    /* (R, V) bf16 gradient of the same chunk */
    size_t xent_elems;           /* elements of each chunk buffer: R = xent_elems / V rows */
    size_t xent_vocab;           /* the largest vocab planned */
    size_t scratch_bytes;

    /* grad_sanitize reduction: [0] sum of squares (double), [1] count (as u64 bits) */
    double *red;

    /* multi-tensor AdamW descriptors: pinned staging and device copy */
    lilm__adamw_desc *adamw_host;
    lilm__adamw_desc *adamw_dev;
    size_t adamw_cap;
    cudaEvent_t adamw_copied;    /* the last staging->device copy finished */

    void *comm;                  /* ncclComm_t of a data-parallel run (collective.cu), or NULL */
} lilm__cuda;

static inline lilm__cuda *lilm__cu(lilm_backend *be) { return (lilm__cuda *)be->impl; }

/* Error recording (cuda_backend.cu). Return 1 when the call succeeded. */
extern "C" int lilm__cuda_rt_ok(lilm__cuda *cu, cudaError_t e, const char *what,
                                const char *file, int line);
extern "C" int lilm__cuda_blas_ok(lilm__cuda *cu, cublasStatus_t s, const char *what,
                                  const char *file, int line);
extern "C" void lilm__cuda_fail(lilm__cuda *cu, lilm_status s, const char *file, int line,
                                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The first recorded error as a status (and cleared), LILM_OK if none. */
extern "C" lilm_status lilm__cuda_take_error(lilm__cuda *cu);

/* Data-parallel collectives (collective.cu, NCCL). */
extern "C" lilm_status lilm__cuda_comm_id(lilm_backend *be, void *id, size_t bytes);
extern "C" lilm_status lilm__cuda_comm_init(lilm_backend *be, const void *id, size_t bytes, int rank, int size);
extern "C" lilm_status lilm__cuda_comm_sum_f32(lilm_backend *be, float *buf, size_t n);
extern "C" void lilm__cuda_comm_free(lilm__cuda *cu);

#define LILM__CU_OK(cu, call) lilm__cuda_rt_ok((cu), (call), #call, __FILE__, __LINE__)
#define LILM__BLAS_OK(cu, call) lilm__cuda_blas_ok((cu), (call), #call, __FILE__, __LINE__)

/* Threads per block for the simple elementwise kernels, and a grid that
 * covers n elements with a grid-stride loop (at most 32 blocks per SM). */
#define LILM__EW_THREADS 256
static inline unsigned lilm__ew_grid(const lilm__cuda *cu, size_t n)
{
    size_t blocks = (n + LILM__EW_THREADS - 1) / LILM__EW_THREADS;
    size_t cap = (size_t)(cu->sm_count > 0 ? cu->sm_count : 1) * 32;
    if (blocks > cap) blocks = cap;
    if (blocks < 1) blocks = 1;
    return (unsigned)blocks;
}

/* ---- device helpers ---- */
static __device__ __forceinline__ float lilm__ld(const lilm__bf16 *p) { return __bfloat162float(*p); }
static __device__ __forceinline__ lilm__bf16 lilm__bf(float x) { return __float2bfloat16(x); }

static __device__ __forceinline__ float lilm__warp_sum(float x)
{
    for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
    return x;
}
static __device__ __forceinline__ float lilm__warp_max(float x)
{
    for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
    return x;
}

/* Exact GELU (erf form) and its derivative; ReLU; ReLU^2; identity. */
static __device__ __forceinline__ float lilm__act_f(float x, int act)
{
    if (act == LILM_ACT_GELU) return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    if (act == LILM_ACT_RELU) return x > 0.0f ? x : 0.0f;
    if (act == LILM_ACT_RELU2) return x > 0.0f ? x * x : 0.0f;
    return x;
}
static __device__ __forceinline__ float lilm__act_grad(float x, int act)
{
    if (act == LILM_ACT_GELU) {
        float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752f));
        float pdf = 0.39894228040143268f * expf(-0.5f * x * x);
        return cdf + x * pdf;
    }
    if (act == LILM_ACT_RELU) return x > 0.0f ? 1.0f : 0.0f;
    if (act == LILM_ACT_RELU2) return x > 0.0f ? 2.0f * x : 0.0f;
    return 1.0f;
}

/* ---- GEMM (matmul.cu) ----
 * Column-major D (m x n, ldd) = op(A) op(B) + beta * D, with A and B bf16,
 * fp32 accumulation, D bf16 (d_f32 == 0) or fp32 (d_f32 == 1). op(A) is
 * (m x k): A is stored (k x m, lda) when trans_a, else (m x k, lda); likewise
 * op(B) is (k x n). When bias (m, fp32) is non-NULL it is added to every
 * column if the cuBLASLt epilogue takes it: returns 1 when the bias was fused,
 * 0 when the caller must add it, -1 on a recorded error. */
extern "C" int lilm__cuda_gemm(lilm__cuda *cu, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                               const void *A, size_t lda, const void *B, size_t ldb,
                               void *D, size_t ldd, int d_f32, float beta, const float *bias);

/* ---- launchers: one per op of the table, same arguments as backend.h ---- */
extern "C" {
void lilm__cuda_cast_to_act(lilm_backend *be, void *out, const float *in, size_t n);
void lilm__cuda_cast_to_f32(lilm_backend *be, float *out, const void *in, size_t n);
int lilm__cuda_act_supported(lilm_backend *be, lilm_act act);
int lilm__cuda_act_pointwise(lilm_act act); /* supported and not gated: what the fused kernels take */
void lilm__cuda_act_forward(lilm_backend *be, void *out, const void *in, size_t n, lilm_act act);
void lilm__cuda_act_backward(lilm_backend *be, void *din, const void *dout, const void *in,
                             size_t n, lilm_act act);
void lilm__cuda_glu_forward(lilm_backend *be, void *out, const void *in, size_t N, size_t F, lilm_act act);
void lilm__cuda_glu_backward(lilm_backend *be, void *din, const void *dout, const void *in,
                             size_t N, size_t F, lilm_act act);
void lilm__cuda_add(lilm_backend *be, void *out, const void *a, const void *b, size_t n);
void lilm__cuda_accumulate(lilm_backend *be, void *out, const void *a, size_t n);
void lilm__cuda_copy(lilm_backend *be, void *dst, const void *src, size_t n);
void lilm__cuda_grad_sanitize(lilm_backend *be, float *g, size_t n, double *sumsq, int64_t *n_bad);
void lilm__cuda_scale(lilm_backend *be, float *x, size_t n, float s);
void lilm__cuda_axpy(lilm_backend *be, float *y, const float *x, size_t n, float a);

void lilm__cuda_embedding_forward(lilm_backend *be, void *out, const int32_t *tokens,
                                  const void *wte, size_t N, size_t C);
void lilm__cuda_embedding_backward(lilm_backend *be, float *dwte, const void *dout,
                                   const int32_t *tokens, size_t N, size_t C, size_t V);

void lilm__cuda_norm_forward(lilm_backend *be, void *out, float *mean, float *rstd,
                             const void *in, const float *weight, const float *bias,
                             size_t N, size_t C, float eps);
void lilm__cuda_norm_backward(lilm_backend *be, void *din, float *dweight, float *dbias,
                              const void *dout, const void *in, const float *weight,
                              const float *mean, const float *rstd, size_t N, size_t C);

void lilm__cuda_matmul_forward(lilm_backend *be, void *out, void *pre, const void *in,
                               const void *w, const float *bias,
                               size_t N, size_t IC, size_t OC, lilm_act act);
void lilm__cuda_matmul_backward(lilm_backend *be, void *din, float *dw, float *dbias,
                                void *dout, const void *pre, const void *in, const void *w,
                                size_t N, size_t IC, size_t OC, lilm_act act, int accumulate);

void lilm__cuda_rope_forward(lilm_backend *be, void *x, size_t B, size_t T, size_t H, size_t D,
                             size_t stride, size_t pos0, float base);
void lilm__cuda_rope_backward(lilm_backend *be, void *dx, size_t B, size_t T, size_t H, size_t D,
                              size_t stride, size_t pos0, float base);

void lilm__cuda_attention_forward(lilm_backend *be, void *out, float *lse,
                                  const void *q, const void *k, const void *v,
                                  size_t B, size_t Tq, size_t Tk, size_t pos0, size_t H,
                                  size_t Dq, size_t Dv, size_t q_stride, size_t kv_stride);
void lilm__cuda_attention_backward(lilm_backend *be, void *dq, void *dk, void *dv,
                                   const void *dout, const void *q, const void *k, const void *v,
                                   const void *out, const float *lse,
                                   size_t B, size_t T, size_t H, size_t Dq, size_t Dv,
                                   size_t q_stride, size_t kv_stride);

void lilm__cuda_classifier_xent(lilm_backend *be, float *losses, void *dx, float *dwte,
                                const void *x, const void *wte, const int32_t *targets,
                                size_t N, size_t C, size_t V, int32_t ignore_id, float dloss_scale);
void lilm__cuda_classifier_logits(lilm_backend *be, float *logits, const void *x, const void *wte,
                                  size_t N, size_t C, size_t V);

void lilm__cuda_adamw(lilm_backend *be, const lilm_adamw_tensor *tensors, size_t n_tensors,
                      const lilm_adamw_hparams *hp);
/* Attention for small heads (attention_small.cu), called by attention.cu's
 * launchers after they validated the arguments. */
int lilm__cuda_attention_small_ok(const lilm__cuda *cu, size_t Dq, size_t Dv);
void lilm__cuda_attention_small_forward(lilm__cuda *cu, void *out, float *lse, const void *q, const void *k,
                                        const void *v, size_t B, size_t Tq, size_t Tk, size_t pos0, size_t H,
                                        size_t Dq, size_t Dv, size_t q_stride, size_t kv_stride);
void lilm__cuda_attention_small_backward(lilm__cuda *cu, void *dq, void *dk, void *dv, const void *dout,
                                         const void *q, const void *k, const void *v, const float *lse,
                                         const float *delta, size_t B, size_t T, size_t H, size_t Dq, size_t Dv,
                                         size_t q_stride, size_t kv_stride);
/* Tensor-core attention (attention_mma.cu), called by attention.cu's launchers
 * after they validated the arguments, when lilm__cuda_attention_mma_ok() says
 * it applies (train.cuda.attention mma; head dims multiples of 8 up to 128, strides
 * multiples of 8, addr_bits = the OR of every buffer address 16-byte aligned). */
int lilm__cuda_attention_mma_ok(const lilm__cuda *cu, size_t Dq, size_t Dv, size_t q_stride, size_t kv_stride,
                                uintptr_t addr_bits);
void lilm__cuda_attention_mma_forward(lilm__cuda *cu, void *out, float *lse, const void *q, const void *k,
                                      const void *v, size_t B, size_t Tq, size_t Tk, size_t pos0, size_t H,
                                      size_t Dq, size_t Dv, size_t q_stride, size_t kv_stride);
void lilm__cuda_attention_mma_backward(lilm__cuda *cu, void *dq, void *dk, void *dv, const void *dout,
                                       const void *q, const void *k, const void *v, const float *lse,
                                       const float *delta, size_t B, size_t T, size_t H, size_t Dq, size_t Dv,
                                       size_t q_stride, size_t kv_stride);
/* Frees the AdamW descriptor buffers (called by destroy). */
void lilm__cuda_adamw_release(lilm__cuda *cu);
}

#endif
