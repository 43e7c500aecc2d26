/*
 * cuda_backend.cu: the CUDA backend's table, memory, stream, handles and errors.
 *
 * lilm_cuda_backend_create() opens one GPU, creates a non-blocking stream, a
 * cuBLASLt handle (plus a cuBLAS handle as the GEMM fallback) and a 32 MiB
 * GEMM workspace, and fills the op table of src/ops/backend.h with the
 * launchers of the other files in src/cuda/. Every op is queued on that one
 * stream, so ops run in call order; upload/download/sync wait for it.
 *
 * Errors: ops return void; the first failing CUDA/cuBLAS call (or a kernel
 * launch whose cudaGetLastError() is not cudaSuccess) is recorded in the impl
 * struct and returned by the next be->ops->sync() (which then clears it). When the
 * machine has no GPU (or no driver), create returns LILM_ERR_UNSUPPORTED, so
 * builds with CUDA still run on CPU.
 *
 * Kernel options (lilm_backend_options: attention kernels, bias epilogue)
 * are given at creation; the library reads no environment variables.
 *
 * Memory: alloc is cudaMalloc plus a zero fill on the stream; memory_info is
 * cudaMemGetInfo (capacity and free bytes); peak_bytes is
 * the highest device memory in use (total - free from cudaMemGetInfo) seen at
 * any alloc/reserve, so it includes the CUDA context and library workspaces.
 * Scratch (attention backward's row sums, the classifier's chunked logits) is
 * sized by reserve() from the plan and only grows.
 */
#include "cuda/cuda_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LILM__GEMM_WS_BYTES ((size_t)32 << 20)
/* Bytes the classifier may spend on one chunk of fp32 logits + bf16 grads. */
#define LILM__XENT_CHUNK_BYTES ((size_t)192 << 20)

/* ---- error recording ---- */

extern "C" void lilm__cuda_fail(lilm__cuda *cu, lilm_status s, const char *file, int line,
                                const char *fmt, ...)
{
    if (cu->err != LILM_OK) return; /* keep the first error: later ones are usually its echo */
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(cu->err_msg, sizeof cu->err_msg, "%s (%s:%d)", msg, file, line);
    cu->err = s;
}

extern "C" int lilm__cuda_rt_ok(lilm__cuda *cu, cudaError_t e, const char *what,
                                const char *file, int line)
{
    if (e == cudaSuccess) return 1;
    lilm__cuda_fail(cu, e == cudaErrorMemoryAllocation ? LILM_ERR_OOM : LILM_ERR_DEVICE, file, line,
                    "CUDA error in %s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
    return 0;
}

extern "C" int lilm__cuda_blas_ok(lilm__cuda *cu, cublasStatus_t s, const char *what,
                                  const char *file, int line)
{
    if (s == CUBLAS_STATUS_SUCCESS) return 1;
    lilm__cuda_fail(cu, s == CUBLAS_STATUS_ALLOC_FAILED ? LILM_ERR_OOM : LILM_ERR_DEVICE, file, line,
                    "cuBLAS error in %s: %s", what, cublasGetStatusString(s));
    return 0;
}

/* Turns a recorded error into the return value of a status-returning entry. */
extern "C" lilm_status lilm__cuda_take_error(lilm__cuda *cu)
{
    if (cu->err == LILM_OK) return LILM_OK;
    lilm_status s = cu->err;
    cu->err = LILM_OK;
    return lilm_errorf(s, "%s", cu->err_msg);
}

static void cuda_note_usage(lilm__cuda *cu)
{
    size_t free_b = 0, total_b = 0;
    if (cudaMemGetInfo(&free_b, &total_b) == cudaSuccess && total_b - free_b > cu->peak_bytes)
        cu->peak_bytes = total_b - free_b;
}

/* ---- lifetime and memory ---- */

static void cuda_free_scratch(lilm__cuda *cu)
{
    if (cu->attn_delta) LILM__CU_OK(cu, cudaFree(cu->attn_delta));
    if (cu->xent_logits) LILM__CU_OK(cu, cudaFree(cu->xent_logits));
    if (cu->xent_dlogits) LILM__CU_OK(cu, cudaFree(cu->xent_dlogits));
    cu->attn_delta = NULL;
    cu->xent_logits = NULL;
    cu->xent_dlogits = NULL;
    cu->attn_delta_n = cu->xent_elems = cu->xent_vocab = 0;
}

static void cuda_destroy(lilm_backend *be)
{
    if (!be) return;
    lilm__cuda *cu = lilm__cu(be);
    if (cu) {
        /* teardown: failures here have no caller left to report to, so they are not checked */
        if (cu->stream) cudaStreamSynchronize(cu->stream);
        cuda_free_scratch(cu);
        lilm__cuda_adamw_release(cu);
        lilm__cuda_comm_free(cu);
        if (cu->adamw_copied) cudaEventDestroy(cu->adamw_copied);
        if (cu->red) cudaFree(cu->red);
        if (cu->gemm_ws) cudaFree(cu->gemm_ws);
        if (cu->blas) cublasDestroy(cu->blas);
        if (cu->lt) cublasLtDestroy(cu->lt);
        if (cu->stream) cudaStreamDestroy(cu->stream);
        free(cu);
    }
    free(be);
}

static lilm_status cuda_reserve(lilm_backend *be, const lilm_backend_plan *plan, size_t *scratch_bytes)
{
    lilm__cuda *cu = lilm__cu(be);
    if (!plan) return lilm_errorf(LILM_ERR_ARG, "cuda reserve: no plan");
    LILM_TRY(lilm__cuda_take_error(cu));

    /* attention backward: one fp32 per (b, h, t) */
    size_t rows = plan->max_rows;
    if (plan->max_batch * plan->max_seq > rows) rows = plan->max_batch * plan->max_seq;
    size_t delta_n = rows * plan->n_heads;
    /* classifier: R rows of fp32 logits + bf16 grads within the chunk budget */
    size_t xent_rows = 0;
    if (plan->vocab > 0 && plan->max_rows > 0) {
        xent_rows = LILM__XENT_CHUNK_BYTES / (plan->vocab * (sizeof(float) + sizeof(lilm__bf16)));
        if (xent_rows > 64) xent_rows -= xent_rows % 64;
        if (xent_rows < 1) xent_rows = 1;
        if (xent_rows > plan->max_rows) xent_rows = plan->max_rows;
    }

    if (delta_n > cu->attn_delta_n) {
        if (cu->attn_delta) LILM__CU_OK(cu, cudaFree(cu->attn_delta));
        cu->attn_delta = NULL;
        cu->attn_delta_n = 0;
        if (!LILM__CU_OK(cu, cudaMalloc((void **)&cu->attn_delta, delta_n * sizeof(float))))
            return lilm__cuda_take_error(cu);
        cu->attn_delta_n = delta_n;
    }
    size_t elems = xent_rows * plan->vocab;
    if (xent_rows > 0 && (plan->vocab > cu->xent_vocab || elems > cu->xent_elems)) {
        size_t e = elems > cu->xent_elems ? elems : cu->xent_elems;
        size_t v = plan->vocab > cu->xent_vocab ? plan->vocab : cu->xent_vocab;
        if (cu->xent_logits) LILM__CU_OK(cu, cudaFree(cu->xent_logits));
        if (cu->xent_dlogits) LILM__CU_OK(cu, cudaFree(cu->xent_dlogits));
        cu->xent_logits = NULL;
        cu->xent_dlogits = NULL;
        cu->xent_elems = cu->xent_vocab = 0;
        if (!LILM__CU_OK(cu, cudaMalloc((void **)&cu->xent_logits, e * sizeof(float))) ||
            !LILM__CU_OK(cu, cudaMalloc((void **)&cu->xent_dlogits, e * sizeof(lilm__bf16))))
            return lilm__cuda_take_error(cu);
        cu->xent_elems = e;
        cu->xent_vocab = v;
    }
    cu->plan = *plan;
    cu->reserved = 1;
    cu->scratch_bytes = cu->gemm_ws_bytes + cu->attn_delta_n * sizeof(float) +
                        cu->xent_elems * (sizeof(float) + sizeof(lilm__bf16));
    cuda_note_usage(cu);
    if (scratch_bytes) *scratch_bytes = cu->scratch_bytes;
    return LILM_OK;
}

static lilm_status cuda_alloc(lilm_backend *be, void **ptr, size_t bytes)
{
    lilm__cuda *cu = lilm__cu(be);
    *ptr = NULL;
    if (bytes == 0) return LILM_OK;
    cudaError_t e = cudaMalloc(ptr, bytes);
    if (e != cudaSuccess) {
        (void)cudaGetLastError(); /* clear the non-sticky allocation error */
        size_t free_b = 0, total_b = 0;
        cudaMemGetInfo(&free_b, &total_b);
        *ptr = NULL;
        return lilm_errorf(e == cudaErrorMemoryAllocation ? LILM_ERR_OOM : LILM_ERR_DEVICE,
                           "cudaMalloc of %zu bytes failed: %s (%zu of %zu bytes free on %s)",
                           bytes, cudaGetErrorString(e), free_b, total_b, cu->device_name);
    }
    if (!LILM__CU_OK(cu, cudaMemsetAsync(*ptr, 0, bytes, cu->stream))) {
        cudaFree(*ptr);
        *ptr = NULL;
        return lilm__cuda_take_error(cu);
    }
    cuda_note_usage(cu);
    return LILM_OK;
}

static void cuda_free(lilm_backend *be, void *ptr)
{
    if (ptr) LILM__CU_OK(lilm__cu(be), cudaFree(ptr));
}

static lilm_status cuda_upload(lilm_backend *be, void *dst, const void *host_src, size_t bytes)
{
    lilm__cuda *cu = lilm__cu(be);
    if (bytes == 0) return LILM_OK;
    if (LILM__CU_OK(cu, cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, cu->stream)))
        LILM__CU_OK(cu, cudaStreamSynchronize(cu->stream));
    return lilm__cuda_take_error(cu);
}

static lilm_status cuda_download(lilm_backend *be, void *host_dst, const void *src, size_t bytes)
{
    lilm__cuda *cu = lilm__cu(be);
    if (bytes == 0) return LILM_OK;
    if (LILM__CU_OK(cu, cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, cu->stream)))
        LILM__CU_OK(cu, cudaStreamSynchronize(cu->stream));
    return lilm__cuda_take_error(cu);
}

static void cuda_zero(lilm_backend *be, void *ptr, size_t bytes)
{
    lilm__cuda *cu = lilm__cu(be);
    if (bytes) LILM__CU_OK(cu, cudaMemsetAsync(ptr, 0, bytes, cu->stream));
}

static lilm_status cuda_sync(lilm_backend *be)
{
    lilm__cuda *cu = lilm__cu(be);
    LILM__CU_OK(cu, cudaStreamSynchronize(cu->stream));
    return lilm__cuda_take_error(cu);
}

static size_t cuda_peak_bytes(lilm_backend *be)
{
    lilm__cuda *cu = lilm__cu(be);
    cuda_note_usage(cu);
    return cu->peak_bytes;
}

/* ---- construction ---- */

static void cuda_memory_info(const lilm_backend *be, size_t *total, size_t *available)
{
    size_t free_b = 0, total_b = 0;
    (void)be;
    if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) {
        (void)cudaGetLastError();
        free_b = total_b = 0;
    }
    *total = total_b;
    *available = free_b;
}

static lilm_status cuda_init_impl(lilm__cuda *cu, int device_index, const lilm_backend_options *opts)
{
    cudaDeviceProp prop;
    cu->device = device_index;
    if (!LILM__CU_OK(cu, cudaSetDevice(device_index)) ||
        !LILM__CU_OK(cu, cudaGetDeviceProperties(&prop, device_index)))
        return lilm__cuda_take_error(cu);
    snprintf(cu->device_name, sizeof cu->device_name, "%s", prop.name);
    cu->sm_count = prop.multiProcessorCount;
    if (prop.major < 8) {
        return lilm_errorf(LILM_ERR_UNSUPPORTED,
                           "GPU %d (%s) has compute capability %d.%d; lilm's CUDA backend needs bf16 "
                           "tensor cores (8.0 or newer, e.g. A100, RTX 30xx/40xx, H100)",
                           device_index, prop.name, prop.major, prop.minor);
    }
    if (!LILM__CU_OK(cu, cudaStreamCreateWithFlags(&cu->stream, cudaStreamNonBlocking)) ||
        !LILM__BLAS_OK(cu, cublasLtCreate(&cu->lt)) ||
        !LILM__BLAS_OK(cu, cublasCreate(&cu->blas)) ||
        !LILM__BLAS_OK(cu, cublasSetStream(cu->blas, cu->stream)) ||
        !LILM__CU_OK(cu, cudaMalloc(&cu->gemm_ws, LILM__GEMM_WS_BYTES)) ||
        !LILM__BLAS_OK(cu, cublasSetWorkspace(cu->blas, cu->gemm_ws, LILM__GEMM_WS_BYTES)) ||
        !LILM__CU_OK(cu, cudaMalloc((void **)&cu->red, 2 * sizeof(double))) ||
        !LILM__CU_OK(cu, cudaEventCreateWithFlags(&cu->adamw_copied, cudaEventDisableTiming)))
        return lilm__cuda_take_error(cu);
    cu->gemm_ws_bytes = LILM__GEMM_WS_BYTES;
    /* kernel options (train.cuda.* in the config): the default attention kernels
     * are thread-per-row for heads <= 32 and warp-per-row for the rest; "warp"
     * takes warp-per-row for all; "mma" tensor cores wherever they apply */
    lilm_backend_options defaults;
    memset(&defaults, 0, sizeof defaults);
    if (!opts) opts = &defaults;
    if ((unsigned)opts->cuda_attention > LILM_CUDA_ATTN_MMA)
        return lilm_errorf(LILM_ERR_ARG, "CUDA attention kernel choice %d is not one of auto, warp, mma",
                           (int)opts->cuda_attention);
    cu->use_bias_epilogue = !opts->cuda_no_epilogue;
    cu->attn_small = opts->cuda_attention != LILM_CUDA_ATTN_WARP;
    cu->attn_mma = opts->cuda_attention == LILM_CUDA_ATTN_MMA;
    cuda_note_usage(cu);
    return LILM_OK;
}

static const lilm_backend_ops cuda_ops = {
    .destroy = cuda_destroy,
    .reserve = cuda_reserve,
    .alloc = cuda_alloc,
    .free = cuda_free,
    .upload = cuda_upload,
    .download = cuda_download,
    .zero = cuda_zero,
    .sync = cuda_sync,
    .peak_bytes = cuda_peak_bytes,
    .memory_info = cuda_memory_info,
    .comm_id = lilm__cuda_comm_id,
    .comm_init = lilm__cuda_comm_init,
    .comm_sum_f32 = lilm__cuda_comm_sum_f32,
    .cast_to_act = lilm__cuda_cast_to_act,
    .cast_to_f32 = lilm__cuda_cast_to_f32,
    .embedding_forward = lilm__cuda_embedding_forward,
    .embedding_backward = lilm__cuda_embedding_backward,
    .norm_forward = lilm__cuda_norm_forward,
    .norm_backward = lilm__cuda_norm_backward,
    .matmul_forward = lilm__cuda_matmul_forward,
    .matmul_backward = lilm__cuda_matmul_backward,
    .act_supported = lilm__cuda_act_supported,
    .act_forward = lilm__cuda_act_forward,
    .act_backward = lilm__cuda_act_backward,
    .glu_forward = lilm__cuda_glu_forward,
    .glu_backward = lilm__cuda_glu_backward,
    .add = lilm__cuda_add,
    .accumulate = lilm__cuda_accumulate,
    .copy = lilm__cuda_copy,
    .rope_forward = lilm__cuda_rope_forward,
    .rope_backward = lilm__cuda_rope_backward,
    .attention_forward = lilm__cuda_attention_forward,
    .attention_backward = lilm__cuda_attention_backward,
    .classifier_xent = lilm__cuda_classifier_xent,
    .classifier_logits = lilm__cuda_classifier_logits,
    .grad_sanitize = lilm__cuda_grad_sanitize,
    .scale = lilm__cuda_scale,
    .axpy = lilm__cuda_axpy,
    .adamw = lilm__cuda_adamw,
};

extern "C" lilm_status lilm_cuda_backend_create(lilm_backend **out, int device_index)
{
    return lilm_cuda_backend_create_opts(out, device_index, NULL);
}

extern "C" lilm_status lilm_cuda_backend_create_opts(lilm_backend **out, int device_index,
                                                     const lilm_backend_options *opts)
{
    *out = NULL;
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        (void)cudaGetLastError();
        return lilm_errorf(LILM_ERR_UNSUPPORTED, "no CUDA GPU available (%s); use --device cpu",
                           e != cudaSuccess ? cudaGetErrorString(e) : "cudaGetDeviceCount found 0 devices");
    }
    if (device_index < 0 || device_index >= n)
        return lilm_errorf(LILM_ERR_ARG, "CUDA device %d does not exist (this machine has %d)", device_index, n);

    lilm_backend *be = (lilm_backend *)calloc(1, sizeof *be);
    lilm__cuda *cu = (lilm__cuda *)calloc(1, sizeof *cu);
    if (!be || !cu) {
        free(be);
        free(cu);
        return lilm_errorf(LILM_ERR_OOM, "out of host memory creating the CUDA backend");
    }
    be->impl = cu;
    lilm_status s = cuda_init_impl(cu, device_index, opts);
    if (s != LILM_OK) {
        cuda_destroy(be);
        return s;
    }

    be->ops = &cuda_ops;

    be->name = "cuda";
    be->device = LILM_DEVICE_CUDA;
    be->act_dtype = LILM_DTYPE_BF16;
    be->threads = 1;
    be->peak_gemm_n = 4096;
    *out = be;
    return LILM_OK;
}
