/*
 * attention_small.cu: causal attention for small heads (Dq, Dv <= 32, e.g.
 * the BabyLM baseline's 32), one CUDA thread per query (or key) row.
 *
 * Same semantics, layouts and numerics as attention.cu (which serves every
 * head size up to 128 with one warp per row); attention.cu's launchers call
 * these instead when both head dims are <= 32, unless train.cuda.attention is warp.
 * With the row in registers (32 floats of q, 32 of the accumulator), a key
 * costs a thread 64 FMAs and 16 broadcast shared-memory loads and no warp
 * shuffles, about 2.5x fewer instructions than the warp-per-row kernels at
 * D = 32.
 *
 * A block of AS_ROWS threads owns AS_ROWS consecutive rows of one (b, h) and
 * streams the other side through shared memory in tiles of AS_ROWS rows,
 * stored as fp32 rows of AS_D = 32 floats, zero-padded past the head dim (so
 * every dot product runs over 32 dims and the padding adds zeros). All threads
 * of a warp read the same shared row at once (a broadcast).
 *   forward  per key chunk of AS_CHUNK: scores s_j (log2 units), m' = max(m,
 *            s_j), rescale acc and l by 2^(m-m'), add 2^(s_j-m') v_j.
 *   dq       per visible key: p = 2^(s - lse2), dS = p (dout.v - delta),
 *            dq += dS k; then dq *= 1/sqrt(Dq).
 *   dk, dv   per visible query: dv += p dout_t, dk += dS q_t; dk *= 1/sqrt(Dq).
 * delta (rowsum(dout*out)) comes from attention.cu's attn_delta_kernel.
 */
#include "cuda/cuda_impl.h"

#include <limits.h>

#define AS_ROWS 64                      /* rows per block = threads per block = tile rows */
#define AS_D 32                         /* the largest head dim of this path */
#define AS_CHUNK 8                      /* keys per online-softmax rescale (forward) */
#define AS_LOG2E 1.4426950408889634f
#define AS_LN2 0.69314718055994531f

/* dst[r*AS_D + d] = scale * src[(r0+r)*row_stride + d] for d < D and
 * r0+r < n_rows; 0 elsewhere. */
static __device__ __forceinline__ void as_load_tile(float *dst,            // (AS_ROWS, AS_D)
                                                    const lilm__bf16 *src, // (n_rows rows of row_stride)
                                                    size_t row_stride, int r0, int n_rows, int D, float scale)
{
    for (int idx = threadIdx.x; idx < AS_ROWS * AS_D; idx += blockDim.x) {
        int r = idx / AS_D, d = idx % AS_D, s = r0 + r;
        dst[idx] = (s < n_rows && d < D) ? lilm__ld(src + (size_t)s * row_stride + d) * scale : 0.0f;
    }
}

/* One row of up to AS_D values into registers (zero past D or for a row that does not exist). */
static __device__ __forceinline__ void as_load_row(float *dst,            // (AS_D) registers
                                                   const lilm__bf16 *src, // (D) or unused when !valid
                                                   int valid, int D, float scale)
{
#pragma unroll
    for (int d = 0; d < AS_D; d++) dst[d] = (valid && d < D) ? lilm__ld(src + d) * scale : 0.0f;
}

/* a . b over AS_D values, four partial sums for instruction-level parallelism. */
static __device__ __forceinline__ float as_dot(const float *a, // (AS_D)
                                               const float *b) // (AS_D)
{
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
#pragma unroll
    for (int d = 0; d < AS_D; d += 4) {
        s0 += a[d] * b[d];
        s1 += a[d + 1] * b[d + 1];
        s2 += a[d + 2] * b[d + 2];
        s3 += a[d + 3] * b[d + 3];
    }
    return (s0 + s1) + (s2 + s3);
}

static __global__ void __launch_bounds__(AS_ROWS)
attn_small_forward_kernel(lilm__bf16 *out,     // (B, Tq, H, Dv)
                          float *lse,          // (B, H, Tq) or NULL
                          const lilm__bf16 *q, // (B*Tq rows of q_stride), head h at h*Dq
                          const lilm__bf16 *k, // (B*Tk rows of kv_stride), head h at h*Dq
                          const lilm__bf16 *v, // (B*Tk rows of kv_stride), head h at h*Dv
                          int H, int Tq, int Tk, int pos0, int Dq, int Dv, size_t q_stride, size_t kv_stride,
                          float qscale)
{
    extern __shared__ float smem[];
    float *sK = smem;                 // (AS_ROWS, AS_D)
    float *sV = sK + AS_ROWS * AS_D;  // (AS_ROWS, AS_D)
    const int b = blockIdx.y / H, h = blockIdx.y % H;
    const int q0 = blockIdx.x * AS_ROWS, t = q0 + threadIdx.x, qpos = pos0 + t;
    const int valid = t < Tq;
    const lilm__bf16 *kb = k + (size_t)b * Tk * kv_stride + (size_t)h * Dq; // (Tk rows of kv_stride)
    const lilm__bf16 *vb = v + (size_t)b * Tk * kv_stride + (size_t)h * Dv; // (Tk rows of kv_stride)
    float qr[AS_D], acc[AS_D];
    as_load_row(qr, q + ((size_t)b * Tq + t) * q_stride + (size_t)h * Dq, valid, Dq, qscale);
#pragma unroll
    for (int d = 0; d < AS_D; d++) acc[d] = 0.0f;
    float m = -INFINITY, l = 0.0f;

    int kv_end = pos0 + q0 + AS_ROWS; /* keys the block's last query can see */
    if (kv_end > Tk) kv_end = Tk;
    for (int k0 = 0; k0 < kv_end; k0 += AS_ROWS) {
        __syncthreads();
        as_load_tile(sK, kb, kv_stride, k0, Tk, Dq, 1.0f);
        as_load_tile(sV, vb, kv_stride, k0, Tk, Dv, 1.0f);
        __syncthreads();
        int n = valid ? qpos - k0 + 1 : 0; /* keys of this tile the row sees: k0 .. qpos */
        if (n > AS_ROWS) n = AS_ROWS;
        for (int c = 0; c < n; c += AS_CHUNK) {
            float sc[AS_CHUNK], cmax = -INFINITY;
#pragma unroll
            for (int j = 0; j < AS_CHUNK; j++) {
                sc[j] = c + j < n ? as_dot(qr, sK + (c + j) * AS_D) : -INFINITY;
                cmax = fmaxf(cmax, sc[j]);
            }
            float m_new = fmaxf(m, cmax); /* finite: key c is visible */
            float corr = exp2f(m - m_new);
            l *= corr;
#pragma unroll
            for (int d = 0; d < AS_D; d++) acc[d] *= corr;
#pragma unroll
            for (int j = 0; j < AS_CHUNK; j++) {
                if (c + j >= n) break;
                float p = exp2f(sc[j] - m_new);
                const float *vr = sV + (c + j) * AS_D;
                l += p;
#pragma unroll
                for (int d = 0; d < AS_D; d++) acc[d] += p * vr[d];
            }
            m = m_new;
        }
    }
    if (!valid) return;
    float inv = 1.0f / l;
    lilm__bf16 *o = out + (((size_t)b * Tq + t) * H + h) * Dv; // (Dv)
#pragma unroll
    for (int d = 0; d < AS_D; d++)
        if (d < Dv) o[d] = lilm__bf(acc[d] * inv);
    if (lse) lse[((size_t)b * H + h) * Tq + t] = (m + log2f(l)) * AS_LN2;
}

static __global__ void __launch_bounds__(AS_ROWS)
attn_small_dq_kernel(lilm__bf16 *dq,         // (B*T rows of q_stride), head h at h*Dq
                     const lilm__bf16 *dout, // (B, T, H, Dv)
                     const lilm__bf16 *q,    // (B*T rows of q_stride)
                     const lilm__bf16 *k,    // (B*T rows of kv_stride)
                     const lilm__bf16 *v,    // (B*T rows of kv_stride)
                     const float *lse,       // (B, H, T)
                     const float *delta,     // (B, H, T)
                     int H, int T, int Dq, int Dv, size_t q_stride, size_t kv_stride, float scale)
{
    extern __shared__ float smem[];
    float *sK = smem;                 // (AS_ROWS, AS_D)
    float *sV = sK + AS_ROWS * AS_D;  // (AS_ROWS, AS_D)
    const int b = blockIdx.y / H, h = blockIdx.y % H;
    const int q0 = blockIdx.x * AS_ROWS, t = q0 + threadIdx.x;
    const int valid = t < T;
    const size_t bh = (size_t)b * H + h;
    const lilm__bf16 *kb = k + (size_t)b * T * kv_stride + (size_t)h * Dq; // (T rows of kv_stride)
    const lilm__bf16 *vb = v + (size_t)b * T * kv_stride + (size_t)h * Dv; // (T rows of kv_stride)
    float qr[AS_D], orow[AS_D], dqa[AS_D];
    as_load_row(qr, q + ((size_t)b * T + t) * q_stride + (size_t)h * Dq, valid, Dq, scale * AS_LOG2E);
    as_load_row(orow, dout + (((size_t)b * T + t) * H + h) * Dv, valid, Dv, 1.0f);
#pragma unroll
    for (int d = 0; d < AS_D; d++) dqa[d] = 0.0f;
    const float lse2 = valid ? lse[bh * T + t] * AS_LOG2E : 0.0f;
    const float dl = valid ? delta[bh * T + t] : 0.0f;

    int kv_end = q0 + AS_ROWS;
    if (kv_end > T) kv_end = T;
    for (int k0 = 0; k0 < kv_end; k0 += AS_ROWS) {
        __syncthreads();
        as_load_tile(sK, kb, kv_stride, k0, T, Dq, 1.0f);
        as_load_tile(sV, vb, kv_stride, k0, T, Dv, 1.0f);
        __syncthreads();
        int n = valid ? t - k0 + 1 : 0;
        if (n > AS_ROWS) n = AS_ROWS;
        for (int j = 0; j < n; j++) {
            const float *kr = sK + j * AS_D;
            float p = exp2f(as_dot(qr, kr) - lse2);
            float ds = p * (as_dot(orow, sV + j * AS_D) - dl);
#pragma unroll
            for (int d = 0; d < AS_D; d++) dqa[d] += ds * kr[d];
        }
    }
    if (!valid) return;
    lilm__bf16 *dqr = dq + ((size_t)b * T + t) * q_stride + (size_t)h * Dq; // (Dq)
#pragma unroll
    for (int d = 0; d < AS_D; d++)
        if (d < Dq) dqr[d] = lilm__bf(dqa[d] * scale);
}

static __global__ void __launch_bounds__(AS_ROWS)
attn_small_dkdv_kernel(lilm__bf16 *dk,         // (B*T rows of kv_stride), head h at h*Dq
                       lilm__bf16 *dv,         // (B*T rows of kv_stride), head h at h*Dv
                       const lilm__bf16 *dout, // (B, T, H, Dv)
                       const lilm__bf16 *q,    // (B*T rows of q_stride)
                       const lilm__bf16 *k,    // (B*T rows of kv_stride)
                       const lilm__bf16 *v,    // (B*T rows of kv_stride)
                       const float *lse,       // (B, H, T)
                       const float *delta,     // (B, H, T)
                       int H, int T, int Dq, int Dv, size_t q_stride, size_t kv_stride, float scale)
{
    extern __shared__ float smem[];
    float *sQ = smem;                 // (AS_ROWS, AS_D) queries
    float *sO = sQ + AS_ROWS * AS_D;  // (AS_ROWS, AS_D) their dout
    float *sL = sO + AS_ROWS * AS_D;  // (AS_ROWS) lse in log2 units
    float *sD = sL + AS_ROWS;         // (AS_ROWS) delta
    const int b = blockIdx.y / H, h = blockIdx.y % H;
    const int k0 = blockIdx.x * AS_ROWS, s = k0 + threadIdx.x;
    const int valid = s < T;
    const size_t bh = (size_t)b * H + h;
    const float qscale = scale * AS_LOG2E;
    const lilm__bf16 *qb = q + (size_t)b * T * q_stride + (size_t)h * Dq; // (T rows of q_stride)
    const lilm__bf16 *ob = dout + ((size_t)b * T * H + h) * Dv;           // (T rows of H*Dv)
    float kr[AS_D], vr[AS_D], dka[AS_D], dva[AS_D];
    as_load_row(kr, k + ((size_t)b * T + s) * kv_stride + (size_t)h * Dq, valid, Dq, qscale);
    as_load_row(vr, v + ((size_t)b * T + s) * kv_stride + (size_t)h * Dv, valid, Dv, 1.0f);
#pragma unroll
    for (int d = 0; d < AS_D; d++) dka[d] = dva[d] = 0.0f;

    /* queries before k0 see none of these keys */
    for (int q0 = k0; q0 < T; q0 += AS_ROWS) {
        __syncthreads();
        as_load_tile(sQ, qb, q_stride, q0, T, Dq, 1.0f);
        as_load_tile(sO, ob, (size_t)H * Dv, q0, T, Dv, 1.0f);
        for (int i = threadIdx.x; i < AS_ROWS; i += blockDim.x) {
            int t = q0 + i;
            sL[i] = t < T ? lse[bh * T + t] * AS_LOG2E : INFINITY;
            sD[i] = t < T ? delta[bh * T + t] : 0.0f;
        }
        __syncthreads();
        if (!valid) continue;
        int i0 = s - q0; /* queries t >= s see key s */
        if (i0 < 0) i0 = 0;
        int i_end = T - q0;
        if (i_end > AS_ROWS) i_end = AS_ROWS;
        for (int i = i0; i < i_end; i++) {
            const float *qi = sQ + i * AS_D, *oi = sO + i * AS_D;
            float p = exp2f(as_dot(kr, qi) - sL[i]);
            float ds = p * (as_dot(vr, oi) - sD[i]);
#pragma unroll
            for (int d = 0; d < AS_D; d++) {
                dva[d] += p * oi[d];
                dka[d] += ds * qi[d];
            }
        }
    }
    if (!valid) return;
    lilm__bf16 *dkr = dk + ((size_t)b * T + s) * kv_stride + (size_t)h * Dq; // (Dq)
    lilm__bf16 *dvr = dv + ((size_t)b * T + s) * kv_stride + (size_t)h * Dv; // (Dv)
#pragma unroll
    for (int d = 0; d < AS_D; d++) {
        if (d < Dq) dkr[d] = lilm__bf(dka[d] * scale);
        if (d < Dv) dvr[d] = lilm__bf(dva[d]);
    }
}

extern "C" int lilm__cuda_attention_small_ok(const lilm__cuda *cu, size_t Dq, size_t Dv)
{
    return cu->attn_small && Dq <= AS_D && Dv <= AS_D;
}

extern "C" void lilm__cuda_attention_small_forward(lilm__cuda *cu, void *out, float *lse, const void *q,
                                                   const void *k, const void *v, size_t B, size_t Tq, size_t Tk,
                                                   size_t pos0, size_t H, size_t Dq, size_t Dv, size_t q_stride,
                                                   size_t kv_stride)
{
    LILM_ASSERT(Dq >= 1 && Dq <= AS_D && Dv >= 1 && Dv <= AS_D && Tk == pos0 + Tq && Tk <= INT_MAX);
    LILM_ASSERT(B * H <= 65535);
    size_t smem = 2 * AS_ROWS * AS_D * sizeof(float);
    dim3 grid((unsigned)((Tq + AS_ROWS - 1) / AS_ROWS), (unsigned)(B * H));
    float qscale = AS_LOG2E / sqrtf((float)Dq);
    attn_small_forward_kernel<<<grid, AS_ROWS, smem, cu->stream>>>(
        (lilm__bf16 *)out, lse, (const lilm__bf16 *)q, (const lilm__bf16 *)k, (const lilm__bf16 *)v, (int)H,
        (int)Tq, (int)Tk, (int)pos0, (int)Dq, (int)Dv, q_stride, kv_stride, qscale);
    lilm__cuda_rt_ok(cu, cudaGetLastError(), "attn_small_forward_kernel", __FILE__, __LINE__);
}

extern "C" void lilm__cuda_attention_small_backward(lilm__cuda *cu, void *dq, void *dk, void *dv, const void *dout,
                                                    const void *q, const void *k, const void *v, const float *lse,
                                                    const float *delta, size_t B, size_t T, size_t H, size_t Dq,
                                                    size_t Dv, size_t q_stride, size_t kv_stride)
{
    LILM_ASSERT(Dq >= 1 && Dq <= AS_D && Dv >= 1 && Dv <= AS_D && T <= INT_MAX);
    LILM_ASSERT(B * H <= 65535);
    float scale = 1.0f / sqrtf((float)Dq);
    dim3 grid((unsigned)((T + AS_ROWS - 1) / AS_ROWS), (unsigned)(B * H));
    size_t smem_kv = (2 * AS_ROWS * AS_D + 2 * AS_ROWS) * sizeof(float);
    attn_small_dkdv_kernel<<<grid, AS_ROWS, smem_kv, cu->stream>>>(
        (lilm__bf16 *)dk, (lilm__bf16 *)dv, (const lilm__bf16 *)dout, (const lilm__bf16 *)q, (const lilm__bf16 *)k,
        (const lilm__bf16 *)v, lse, delta, (int)H, (int)T, (int)Dq, (int)Dv, q_stride, kv_stride, scale);
    if (!lilm__cuda_rt_ok(cu, cudaGetLastError(), "attn_small_dkdv_kernel", __FILE__, __LINE__)) return;
    size_t smem_q = 2 * AS_ROWS * AS_D * sizeof(float);
    attn_small_dq_kernel<<<grid, AS_ROWS, smem_q, cu->stream>>>(
        (lilm__bf16 *)dq, (const lilm__bf16 *)dout, (const lilm__bf16 *)q, (const lilm__bf16 *)k,
        (const lilm__bf16 *)v, lse, delta, (int)H, (int)T, (int)Dq, (int)Dv, q_stride, kv_stride, scale);
    lilm__cuda_rt_ok(cu, cudaGetLastError(), "attn_small_dq_kernel", __FILE__, __LINE__);
}
