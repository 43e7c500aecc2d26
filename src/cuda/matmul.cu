/*
 * matmul.cu: the Linear layer on cuBLASLt (bf16 inputs, fp32 accumulation).
 *
 * Row-major (N, IC) activations and (OC, IC) weights are seen by cuBLAS as
 * column-major transposes, so
 *   forward   out^T (OC x N)  = w^T-view (op T) * in^T-view        [m=OC, n=N,  k=IC]
 *   din       din^T (IC x N)  = w-view * dpre^T-view               [m=IC, n=N,  k=OC]
 *   dw        dw^T  (IC x OC) += in^T-view * (dpre^T-view)^T       [m=IC, n=OC, k=N ]
 * dw is written straight into the fp32 gradient with beta = 1 (cuBLASLt takes
 * bf16 A/B with an fp32 C/D), so gradient accumulation costs nothing extra.
 *
 * Epilogues: the bias of the forward GEMM is fused with CUBLASLT_EPILOGUE_BIAS
 * (fp32 bias vector) when cuBLASLt offers an algorithm for it; otherwise, or
 * with train.cuda.epilogue false, a small kernel adds it. cuBLASLt's GELU/GELU_AUX
 * and DGELU epilogues compute the tanh approximation of GELU, while backend.h
 * (and the reference model) use the exact erf form, so the activation runs in
 * bias_act_kernel (forward: keeps `pre`, writes act(pre)) and dact_kernel
 * (backward: dpre = dout * act'(pre), in place). BGRADB writes (=) a bias
 * gradient in the output dtype, while ours is accumulated (+=) fp32, so
 * bias_grad_kernel sums columns into dbias with atomics.
 *
 * When cuBLASLt's heuristic finds no algorithm (odd alignments), the GEMM
 * falls back to cublasGemmEx with the same types.
 */
#include "cuda/cuda_impl.h"

#include <limits.h>
#include <string.h>

/* Largest power of two (<= 256) that divides the address: cuBLASLt's heuristic
 * assumes 256-byte alignment unless told otherwise. */
static uint32_t ptr_align(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    uint32_t al = 256;
    while (al > 1 && (a & (al - 1))) al >>= 1;
    return al;
}

/* One cuBLASLt matmul; returns 1 when done, 0 when no algorithm fits, -1 on a
 * recorded error. */
static int gemm_lt(lilm__cuda *cu, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                   const void *A, size_t lda, const void *B, size_t ldb, void *D, size_t ldd,
                   cudaDataType_t d_type, float beta, const float *bias)
{
    cublasLtMatmulDesc_t op = NULL;
    cublasLtMatrixLayout_t la = NULL, lb = NULL, ld = NULL;
    cublasLtMatmulPreference_t pref = NULL;
    cublasLtMatmulHeuristicResult_t heur;
    cublasStatus_t hs;
    lilm__gemm_key key;
    lilm__gemm_plan *plan = NULL;
    int found = 0, result = -1;
    float alpha = 1.0f;
    cublasOperation_t opa = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasOperation_t opb = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasLtEpilogue_t epi = bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
    int32_t bias_type = CUDA_R_32F;
    uint64_t ws = cu->gemm_ws_bytes;
    uint32_t al_a = ptr_align(A), al_b = ptr_align(B), al_d = ptr_align(D);

    memset(&heur, 0, sizeof heur);
    if (!LILM__BLAS_OK(cu, cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F)) ||
        !LILM__BLAS_OK(cu, cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa)) ||
        !LILM__BLAS_OK(cu, cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb)) ||
        !LILM__BLAS_OK(cu, cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi)))
        goto done;
    if (bias &&
        (!LILM__BLAS_OK(cu, cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias)) ||
         !LILM__BLAS_OK(cu, cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type,
                                                           sizeof bias_type))))
        goto done;
    if (!LILM__BLAS_OK(cu, cublasLtMatrixLayoutCreate(&la, CUDA_R_16BF, trans_a ? k : m, trans_a ? m : k, (int64_t)lda)) ||
        !LILM__BLAS_OK(cu, cublasLtMatrixLayoutCreate(&lb, CUDA_R_16BF, trans_b ? n : k, trans_b ? k : n, (int64_t)ldb)) ||
        !LILM__BLAS_OK(cu, cublasLtMatrixLayoutCreate(&ld, d_type, m, n, (int64_t)ldd)) ||
        !LILM__BLAS_OK(cu, cublasLtMatmulPreferenceCreate(&pref)) ||
        !LILM__BLAS_OK(cu, cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws)) ||
        !LILM__BLAS_OK(cu, cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al_a, sizeof al_a)) ||
        !LILM__BLAS_OK(cu, cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al_b, sizeof al_b)) ||
        !LILM__BLAS_OK(cu, cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al_d, sizeof al_d)) ||
        !LILM__BLAS_OK(cu, cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al_d, sizeof al_d)))
        goto done;
    /* the heuristic costs microseconds per call: remember its answer per shape */
    memset(&key, 0, sizeof key);
    key.trans_a = trans_a, key.trans_b = trans_b, key.d_f32 = d_type == CUDA_R_32F, key.has_bias = bias != NULL;
    key.align_a = al_a, key.align_b = al_b, key.align_d = al_d, key.align_bias = bias ? ptr_align(bias) : 0;
    key.m = m, key.n = n, key.k = k, key.lda = lda, key.ldb = ldb, key.ldd = ldd;
    for (int i = 0; i < cu->gemm_cache_n && !plan; i++)
        if (memcmp(&cu->gemm_cache[i].key, &key, sizeof key) == 0) plan = &cu->gemm_cache[i];
    if (!plan) {
        /* "no algorithm" is not an error: the caller falls back */
        hs = cublasLtMatmulAlgoGetHeuristic(cu->lt, op, la, lb, ld, ld, pref, 1, &heur, &found);
        plan = &cu->gemm_cache[cu->gemm_cache_next];
        cu->gemm_cache_next = (cu->gemm_cache_next + 1) % LILM__GEMM_CACHE;
        if (cu->gemm_cache_n < LILM__GEMM_CACHE) cu->gemm_cache_n++;
        plan->key = key;
        plan->found = hs == CUBLAS_STATUS_SUCCESS && found >= 1 && heur.state == CUBLAS_STATUS_SUCCESS;
        plan->algo = heur.algo;
    }
    if (!plan->found) {
        result = 0;
        goto done;
    }
    if (!LILM__BLAS_OK(cu, cublasLtMatmul(cu->lt, op, &alpha, A, la, B, lb, &beta, D, ld, D, ld, &plan->algo,
                                          cu->gemm_ws, cu->gemm_ws_bytes, cu->stream)))
        goto done;
    result = 1;
done:
    /* destroying descriptors cannot fail in a way we could act on */
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (ld) cublasLtMatrixLayoutDestroy(ld);
    if (lb) cublasLtMatrixLayoutDestroy(lb);
    if (la) cublasLtMatrixLayoutDestroy(la);
    if (op) cublasLtMatmulDescDestroy(op);
    return result;
}

extern "C" int lilm__cuda_gemm(lilm__cuda *cu, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                               const void *A, size_t lda, const void *B, size_t ldb,
                               void *D, size_t ldd, int d_f32, float beta, const float *bias)
{
    cudaDataType_t d_type = d_f32 ? CUDA_R_32F : CUDA_R_16BF;
    if (m == 0 || n == 0) return 1;
    LILM_ASSERT(k > 0 && A && B && D);
    LILM_ASSERT(lda >= (trans_a ? k : m) && ldb >= (trans_b ? n : k) && ldd >= m);
    if (cu->err != LILM_OK) return -1; /* the stream is already in a failed state */

    int fuse = bias && cu->use_bias_epilogue && !cu->bias_epilogue_failed && ptr_align(bias) >= 16;
    int r = gemm_lt(cu, trans_a, trans_b, m, n, k, A, lda, B, ldb, D, ldd, d_type, beta, fuse ? bias : NULL);
    if (r != 0) return r < 0 ? -1 : fuse;
    if (fuse) {
        cu->bias_epilogue_failed = 1; /* do not ask again */
        r = gemm_lt(cu, trans_a, trans_b, m, n, k, A, lda, B, ldb, D, ldd, d_type, beta, NULL);
        if (r != 0) return r < 0 ? -1 : 0;
    }
    /* cuBLAS fallback: same math, any alignment */
    LILM_ASSERT(m <= INT_MAX && n <= INT_MAX && k <= INT_MAX && lda <= INT_MAX && ldb <= INT_MAX && ldd <= INT_MAX);
    float alpha = 1.0f;
    if (!LILM__BLAS_OK(cu, cublasGemmEx(cu->blas, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                                        (int)m, (int)n, (int)k, &alpha, A, CUDA_R_16BF, (int)lda, B, CUDA_R_16BF,
                                        (int)ldb, &beta, D, d_type, (int)ldd, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT)))
        return -1;
    return 0;
}

/* ---- kernels ---- */

/* pre (N*OC) += bias[col] when bias != NULL (stored back rounded to bf16);
 * out = act(pre). out may equal pre (act NONE, bias only). */
static __global__ void bias_act_kernel(lilm__bf16 *out,  // (N, OC)
                                       lilm__bf16 *pre,  // (N, OC)
                                       const float *bias, // (OC) or NULL
                                       size_t n, size_t OC, int act)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float x = lilm__ld(pre + i);
        if (bias) {
            x += bias[i % OC];
            pre[i] = lilm__bf(x);
        }
        out[i] = lilm__bf(lilm__act_f(x, act));
    }
}

/* dpre (n) = dout * act'(pre), in place over dout. */
static __global__ void dact_kernel(lilm__bf16 *dout,      // (n)
                                   const lilm__bf16 *pre, // (n)
                                   size_t n, int act)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        dout[i] = lilm__bf(lilm__ld(dout + i) * lilm__act_grad(lilm__ld(pre + i), act));
}

/* dbias (OC) += column sums of dpre (N, OC). Block (32, 8): x = column,
 * y strides over rows; grid.y splits the rows, partial sums meet in atomics. */
#define BG_ROWS 8
static __global__ void bias_grad_kernel(float *dbias,           // (OC)
                                        const lilm__bf16 *dpre, // (N, OC)
                                        size_t N, size_t OC)
{
    __shared__ float part[BG_ROWS][33];
    size_t col = blockIdx.x * (size_t)32 + threadIdx.x;
    float sum = 0.0f;
    if (col < OC)
        for (size_t r = blockIdx.y * (size_t)BG_ROWS + threadIdx.y; r < N; r += (size_t)gridDim.y * BG_ROWS)
            sum += lilm__ld(dpre + r * OC + col);
    part[threadIdx.y][threadIdx.x] = sum;
    __syncthreads();
    if (threadIdx.y == 0 && col < OC) {
        float t = 0.0f;
        for (int y = 0; y < BG_ROWS; y++) t += part[y][threadIdx.x];
        atomicAdd(dbias + col, t);
    }
}

/* ---- launchers ---- */

extern "C" void lilm__cuda_matmul_forward(lilm_backend *be, void *out, void *pre, const void *in,
                                          const void *w, const float *bias,
                                          size_t N, size_t IC, size_t OC, lilm_act act)
{
    lilm__cuda *cu = lilm__cu(be);
    if (N == 0) return;
    LILM_ASSERT(out && in && w && IC > 0 && OC > 0);
    LILM_ASSERT(lilm__cuda_act_pointwise(act));
    LILM_ASSERT(act == LILM_ACT_NONE || pre);
    void *D = act == LILM_ACT_NONE ? out : pre; // (N, OC)
    int fused = lilm__cuda_gemm(cu, 1, 0, OC, N, IC, w, IC, in, IC, D, OC, 0, 0.0f, bias);
    if (fused < 0) return;
    const float *b = (bias && !fused) ? bias : NULL;
    if (act == LILM_ACT_NONE && !b) return;
    size_t n = N * OC;
    bias_act_kernel<<<lilm__ew_grid(cu, n), LILM__EW_THREADS, 0, cu->stream>>>(
        (lilm__bf16 *)out, (lilm__bf16 *)D, b, n, OC, (int)act);
    lilm__cuda_rt_ok(cu, cudaGetLastError(), "bias_act_kernel", __FILE__, __LINE__);
}

extern "C" void lilm__cuda_matmul_backward(lilm_backend *be, void *din, float *dw, float *dbias,
                                           void *dout, const void *pre, const void *in, const void *w,
                                           size_t N, size_t IC, size_t OC, lilm_act act, int accumulate)
{
    lilm__cuda *cu = lilm__cu(be);
    if (N == 0) return;
    LILM_ASSERT(dw && dout && in && w && IC > 0 && OC > 0);
    LILM_ASSERT(lilm__cuda_act_pointwise(act));
    LILM_ASSERT(act == LILM_ACT_NONE || pre);
    size_t n = N * OC;
    if (act != LILM_ACT_NONE) {
        dact_kernel<<<lilm__ew_grid(cu, n), LILM__EW_THREADS, 0, cu->stream>>>(
            (lilm__bf16 *)dout, (const lilm__bf16 *)pre, n, (int)act);
        if (!lilm__cuda_rt_ok(cu, cudaGetLastError(), "dact_kernel", __FILE__, __LINE__)) return;
    }
    if (dbias) {
        size_t gy = (N + BG_ROWS - 1) / BG_ROWS;
        if (gy > 64) gy = 64;
        dim3 grid((unsigned)((OC + 31) / 32), (unsigned)gy), block(32, BG_ROWS);
        LILM_ASSERT((OC + 31) / 32 <= 0x7fffffffu);
        bias_grad_kernel<<<grid, block, 0, cu->stream>>>(dbias, (const lilm__bf16 *)dout, N, OC);
        if (!lilm__cuda_rt_ok(cu, cudaGetLastError(), "bias_grad_kernel", __FILE__, __LINE__)) return;
    }
    if (din && lilm__cuda_gemm(cu, 0, 0, IC, N, OC, w, IC, dout, OC, din, IC, 0, accumulate ? 1.0f : 0.0f, NULL) < 0)
        return;
    lilm__cuda_gemm(cu, 0, 1, IC, OC, N, in, IC, dout, OC, dw, IC, 1, 1.0f, NULL);
}
