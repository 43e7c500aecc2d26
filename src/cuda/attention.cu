/*
 * attention.cu: causal softmax attention, flash-attention style (no T x T
 * matrix ever reaches global memory), forward and backward, bf16 in and out,
 * fp32 math.
 *
 * Layouts (backend.h): q row (b,t) head h at q + (b*Tq+t)*q_stride + h*Dq;
 * k/v row (b,s) head h at k/v + (b*Tk+s)*kv_stride + h*Dq (or h*Dv), so k and
 * v may live interleaved in one kv buffer; out (B,Tq,H,Dv) contiguous; lse
 * (B,H,Tq) fp32 natural-log log-sum-exp of the scaled scores. Key s is visible
 * to query t iff s <= pos0 + t (pos0 > 0 is the KV-cache form: Tk = pos0+Tq).
 *
 * Work split (SIMT, no tensor cores: simple and exact enough to trust on a
 * first run). A block of 8 warps owns a tile of 32 queries (forward, dq) or 32
 * keys (dk/dv) of one (b, h); each warp owns 4 of those rows, and the 32 lanes
 * of a warp walk the 32 rows of the other side's tile in parallel, one each.
 * Tiles of K/V (or Q/dO) are staged in shared memory as fp32; the side read
 * row-per-lane is padded to D+1 floats so lanes hit different banks. Each lane
 * keeps Dv/32 (<= 4) output dimensions of its warp's rows in registers, so
 * Dq, Dv <= 128.
 *
 * Forward (online softmax, log2 domain): q is pre-scaled by log2(e)/sqrt(Dq);
 * per key tile: m' = max(m, max_j s_j); l = l*2^(m-m') + sum_j 2^(s_j-m');
 * acc = acc*2^(m-m') + sum_j 2^(s_j-m') v_j. out = acc/l, lse = (m+log2 l)*ln 2.
 *
 * Backward (FlashAttention-2): delta_t = dout_t . out_t (attn_delta_kernel,
 * into reserve()d scratch); p = exp(S - lse); dp = dout_t . v_s;
 * dS = p (dp - delta_t). dk/dv: one block per key tile walks the query tiles
 * at or after it: dv_s = sum_t p dout_t, dk_s = scale * sum_t dS q_t.
 * dq: one block per query tile walks the key tiles up to it:
 * dq_t = scale * sum_s dS k_s. Both recompute p instead of storing it, and
 * both WRITE (=) their outputs, so no atomics and the result is deterministic.
 *
 * Heads with Dq, Dv <= 32 go to attention_small.cu (one thread per row) from
 * the launchers below, unless train.cuda.attention is warp; with train.cuda.attention mma,
 * every shape attention_mma.cu takes goes to its tensor-core kernels first.
 * delta is computed here for all paths.
 */
#include "cuda/cuda_impl.h"

#include <limits.h>

#define ATT_TILE 32                     /* rows per tile (= lanes of a warp) */
#define ATT_BQ ATT_TILE                 /* queries per tile */
#define ATT_BK ATT_TILE                 /* keys per tile (one per lane) */
#define ATT_WARPS 8
#define ATT_RPW (ATT_BQ / ATT_WARPS)    /* rows per warp */
#define ATT_DMAX 128
#define ATT_DPL (ATT_DMAX / 32)         /* head dimensions per lane */
#define ATT_LOG2E 1.4426950408889634f
#define ATT_LN2 0.69314718055994531f
#define ATT_FULL 0xffffffffu

/* Stages rows r0 .. r0+ATT_TILE-1 of one head into shared memory as fp32:
 * dst[r*ld + d] = scale * src[(r0+r)*row_stride + d] for d < D, zero for rows
 * at or past n_rows. src points at row 0 of the sequence, at the head. */
static __device__ __forceinline__ void att_load_tile(float *dst,            // (ATT_TILE, ld)
                                                     const lilm__bf16 *src, // (n_rows rows of row_stride)
                                                     int ld, size_t row_stride, int r0, int n_rows, int D,
                                                     float scale)
{
    for (int idx = threadIdx.x; idx < ATT_TILE * D; idx += blockDim.x) {
        int r = idx / D, d = idx % D, s = r0 + r;
        dst[r * ld + d] = s < n_rows ? lilm__ld(src + (size_t)s * row_stride + d) * scale : 0.0f;
    }
}

/* sL = lse in log2 units and sD = delta for rows t0 .. t0+ATT_TILE-1 of one
 * (b, h); rows at or past T get +inf (so p = 0) and 0. */
static __device__ __forceinline__ void att_load_stats(float *sL, float *sD,  // (ATT_TILE)
                                                      const float *lse,     // (T) of this (b, h)
                                                      const float *delta,   // (T)
                                                      int t0, int T)
{
    for (int idx = threadIdx.x; idx < ATT_TILE; idx += blockDim.x) {
        int t = t0 + idx;
        sL[idx] = t < T ? lse[t] * ATT_LOG2E : INFINITY;
        sD[idx] = t < T ? delta[t] : 0.0f;
    }
}

/* ---- forward ---- */

static __global__ void __launch_bounds__(ATT_WARPS * 32)
attn_forward_kernel(lilm__bf16 *out,     // (B, Tq, H, Dv)
                    float *lse,          // (B, H, Tq) or NULL
                    const lilm__bf16 *q, // (B*Tq rows of q_stride), head h at h*Dq
                    const lilm__bf16 *k, // (B*Tk rows of kv_stride), head h at h*Dq
                    const lilm__bf16 *v, // (B*Tk rows of kv_stride), head h at h*Dv
                    int H, int Tq, int Tk, int pos0, int Dq, int Dv, size_t q_stride, size_t kv_stride,
                    float qscale)
{
    extern __shared__ float smem[];
    float *sQ = smem;                    // (BQ, Dq) queries, pre-scaled
    float *sK = sQ + ATT_BQ * Dq;        // (BK, Dq+1)
    float *sV = sK + ATT_BK * (Dq + 1);  // (BK, Dv)
    const int b = blockIdx.y / H, h = blockIdx.y % H;
    const int q0 = blockIdx.x * ATT_BQ;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

    const lilm__bf16 *qb = q + (size_t)b * Tq * q_stride + (size_t)h * Dq;  // (Tq rows of q_stride)
    const lilm__bf16 *kb = k + (size_t)b * Tk * kv_stride + (size_t)h * Dq; // (Tk rows of kv_stride)
    const lilm__bf16 *vb = v + (size_t)b * Tk * kv_stride + (size_t)h * Dv; // (Tk rows of kv_stride)
    att_load_tile(sQ, qb, Dq, q_stride, q0, Tq, Dq, qscale);
    float m[ATT_RPW], l[ATT_RPW], acc[ATT_RPW][ATT_DPL];
#pragma unroll
    for (int j = 0; j < ATT_RPW; j++) {
        m[j] = -INFINITY;
        l[j] = 0.0f;
#pragma unroll
        for (int i = 0; i < ATT_DPL; i++) acc[j][i] = 0.0f;
    }

    int kv_end = pos0 + q0 + ATT_BQ; /* keys the last query of the tile can see */
    if (kv_end > Tk) kv_end = Tk;
    for (int k0 = 0; k0 < kv_end; k0 += ATT_BK) {
        __syncthreads(); /* the previous tile is consumed (and sQ is written) */
        att_load_tile(sK, kb, Dq + 1, kv_stride, k0, Tk, Dq, 1.0f);
        att_load_tile(sV, vb, Dv, kv_stride, k0, Tk, Dv, 1.0f);
        __syncthreads();
#pragma unroll
        for (int j = 0; j < ATT_RPW; j++) {
            const int r = warp * ATT_RPW + j, t = q0 + r, qpos = pos0 + t;
            if (t >= Tq || k0 > qpos) continue; /* warp-uniform: whole tile invisible */
            const int s = k0 + lane;
            float sc = -INFINITY;
            if (s <= qpos && s < Tk) {
                const float *qr = sQ + r * Dq, *kr = sK + lane * (Dq + 1);
                float dot = 0.0f;
                for (int d = 0; d < Dq; d++) dot += qr[d] * kr[d];
                sc = dot;
            }
            /* key k0 <= qpos is visible, so the tile max is finite */
            float m_new = fmaxf(m[j], lilm__warp_max(sc));
            float p = exp2f(sc - m_new);
            float corr = exp2f(m[j] - m_new);
            l[j] = l[j] * corr + lilm__warp_sum(p);
#pragma unroll
            for (int i = 0; i < ATT_DPL; i++) acc[j][i] *= corr;
            for (int jj = 0; jj < ATT_BK; jj++) {
                float pj = __shfl_sync(ATT_FULL, p, jj);
                const float *vr = sV + jj * Dv;
#pragma unroll
                for (int i = 0; i < ATT_DPL; i++) {
                    int d = lane + 32 * i;
                    if (32 * i < Dv && d < Dv) acc[j][i] += pj * vr[d]; /* first test warp-uniform */
                }
            }
            m[j] = m_new;
        }
    }

#pragma unroll
    for (int j = 0; j < ATT_RPW; j++) {
        const int t = q0 + warp * ATT_RPW + j;
        if (t >= Tq) continue;
        float inv = 1.0f / l[j];
        lilm__bf16 *o = out + (((size_t)b * Tq + t) * H + h) * Dv; // (Dv)
#pragma unroll
        for (int i = 0; i < ATT_DPL; i++) {
            int d = lane + 32 * i;
            if (d < Dv) o[d] = lilm__bf(acc[j][i] * inv);
        }
        if (lse && lane == 0) lse[((size_t)b * H + h) * Tq + t] = (m[j] + log2f(l[j])) * ATT_LN2;
    }
}

/* ---- backward ---- */

/* delta (B,H,T) = rowsum(dout * out); one warp per (b, t, h) row of out. */
static __global__ void attn_delta_kernel(float *delta,            // (B, H, T)
                                         const lilm__bf16 *dout, // (B, T, H, Dv)
                                         const lilm__bf16 *out,  // (B, T, H, Dv)
                                         size_t rows, int T, int H, int Dv)
{
    size_t row = blockIdx.x * (size_t)ATT_WARPS + threadIdx.x / 32;
    int lane = threadIdx.x % 32;
    if (row >= rows) return;
    const lilm__bf16 *dy = dout + row * Dv, *y = out + row * Dv; // (Dv)
    float s = 0.0f;
    for (int d = lane; d < Dv; d += 32) s += lilm__ld(dy + d) * lilm__ld(y + d);
    s = lilm__warp_sum(s);
    if (lane == 0) {
        size_t h = row % H, t = (row / H) % T, b = row / ((size_t)H * T);
        delta[(b * H + h) * T + t] = s;
    }
}

static __global__ void __launch_bounds__(ATT_WARPS * 32)
attn_dkdv_kernel(lilm__bf16 *dk,         // (B*T rows of kv_stride), head h at h*Dq
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
    float *sK = smem;                    // (BK, Dq) this block's keys
    float *sV = sK + ATT_BK * Dq;        // (BK, Dv)
    float *sQ = sV + ATT_BK * Dv;        // (BQ, Dq+1) query tile
    float *sO = sQ + ATT_BQ * (Dq + 1);  // (BQ, Dv+1) dout tile
    float *sL = sO + ATT_BQ * (Dv + 1);  // (BQ) lse in log2 units
    float *sD = sL + ATT_BQ;             // (BQ) delta
    const int b = blockIdx.y / H, h = blockIdx.y % H;
    const int k0 = blockIdx.x * ATT_BK;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const float qscale = scale * ATT_LOG2E;
    const size_t bh = (size_t)b * H + h;

    const lilm__bf16 *qb = q + (size_t)b * T * q_stride + (size_t)h * Dq;      // (T rows of q_stride)
    const lilm__bf16 *kb = k + (size_t)b * T * kv_stride + (size_t)h * Dq;     // (T rows of kv_stride)
    const lilm__bf16 *vb = v + (size_t)b * T * kv_stride + (size_t)h * Dv;     // (T rows of kv_stride)
    const lilm__bf16 *ob = dout + ((size_t)b * T * H + h) * Dv;                // (T rows of H*Dv)
    att_load_tile(sK, kb, Dq, kv_stride, k0, T, Dq, 1.0f);
    att_load_tile(sV, vb, Dv, kv_stride, k0, T, Dv, 1.0f);
    float dk_acc[ATT_RPW][ATT_DPL], dv_acc[ATT_RPW][ATT_DPL];
#pragma unroll
    for (int j = 0; j < ATT_RPW; j++)
#pragma unroll
        for (int i = 0; i < ATT_DPL; i++) dk_acc[j][i] = dv_acc[j][i] = 0.0f;

    /* queries before k0 cannot see any of these keys (ATT_BQ == ATT_BK) */
    for (int q0 = k0; q0 < T; q0 += ATT_BQ) {
        __syncthreads();
        att_load_tile(sQ, qb, Dq + 1, q_stride, q0, T, Dq, 1.0f);
        att_load_tile(sO, ob, Dv + 1, (size_t)H * Dv, q0, T, Dv, 1.0f);
        att_load_stats(sL, sD, lse + bh * T, delta + bh * T, q0, T);
        __syncthreads();
#pragma unroll
        for (int j = 0; j < ATT_RPW; j++) {
            const int kr = warp * ATT_RPW + j, s = k0 + kr;
            if (s >= T) continue; /* warp-uniform */
            const int t = q0 + lane;
            float p = 0.0f, ds = 0.0f;
            if (t < T && t >= s) {
                const float *qrow = sQ + lane * (Dq + 1), *krow = sK + kr * Dq;
                float dot = 0.0f;
                for (int d = 0; d < Dq; d++) dot += qrow[d] * krow[d];
                p = exp2f(dot * qscale - sL[lane]);
                const float *orow = sO + lane * (Dv + 1), *vrow = sV + kr * Dv;
                float dp = 0.0f;
                for (int d = 0; d < Dv; d++) dp += orow[d] * vrow[d];
                ds = p * (dp - sD[lane]);
            }
            for (int jj = 0; jj < ATT_BQ; jj++) {
                float pj = __shfl_sync(ATT_FULL, p, jj), dsj = __shfl_sync(ATT_FULL, ds, jj);
                const float *orow = sO + jj * (Dv + 1), *qrow = sQ + jj * (Dq + 1);
#pragma unroll
                for (int i = 0; i < ATT_DPL; i++) {
                    int d = lane + 32 * i;
                    if (32 * i < Dv && d < Dv) dv_acc[j][i] += pj * orow[d]; /* first tests warp-uniform */
                    if (32 * i < Dq && d < Dq) dk_acc[j][i] += dsj * qrow[d];
                }
            }
        }
    }

#pragma unroll
    for (int j = 0; j < ATT_RPW; j++) {
        const int s = k0 + warp * ATT_RPW + j;
        if (s >= T) continue;
        lilm__bf16 *dkr = dk + ((size_t)b * T + s) * kv_stride + (size_t)h * Dq; // (Dq)
        lilm__bf16 *dvr = dv + ((size_t)b * T + s) * kv_stride + (size_t)h * Dv; // (Dv)
#pragma unroll
        for (int i = 0; i < ATT_DPL; i++) {
            int d = lane + 32 * i;
            if (d < Dq) dkr[d] = lilm__bf(dk_acc[j][i] * scale);
            if (d < Dv) dvr[d] = lilm__bf(dv_acc[j][i]);
        }
    }
}

static __global__ void __launch_bounds__(ATT_WARPS * 32)
attn_dq_kernel(lilm__bf16 *dq,         // (B*T rows of q_stride), head h at h*Dq
               const lilm__bf16 *dout, // (B, T, H, Dv)
               const lilm__bf16 *q,    // (B*T rows of q_stride)
               const lilm__bf16 *k,    // (B*T rows of kv_stride)
               const lilm__bf16 *v,    // (B*T rows of kv_stride)
               const float *lse,       // (B, H, T)
               const float *delta,     // (B, H, T)
               int H, int T, int Dq, int Dv, size_t q_stride, size_t kv_stride, float scale)
{
    extern __shared__ float smem[];
    float *sQ = smem;                    // (BQ, Dq) this block's queries
    float *sO = sQ + ATT_BQ * Dq;        // (BQ, Dv) their dout
    float *sK = sO + ATT_BQ * Dv;        // (BK, Dq+1) key tile
    float *sV = sK + ATT_BK * (Dq + 1);  // (BK, Dv+1)
    float *sL = sV + ATT_BK * (Dv + 1);  // (BQ) lse in log2 units
    float *sD = sL + ATT_BQ;             // (BQ) delta
    const int b = blockIdx.y / H, h = blockIdx.y % H;
    const int q0 = blockIdx.x * ATT_BQ;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const float qscale = scale * ATT_LOG2E;
    const size_t bh = (size_t)b * H + h;

    const lilm__bf16 *qb = q + (size_t)b * T * q_stride + (size_t)h * Dq;      // (T rows of q_stride)
    const lilm__bf16 *kb = k + (size_t)b * T * kv_stride + (size_t)h * Dq;     // (T rows of kv_stride)
    const lilm__bf16 *vb = v + (size_t)b * T * kv_stride + (size_t)h * Dv;     // (T rows of kv_stride)
    const lilm__bf16 *ob = dout + ((size_t)b * T * H + h) * Dv;                // (T rows of H*Dv)
    att_load_tile(sQ, qb, Dq, q_stride, q0, T, Dq, 1.0f);
    att_load_tile(sO, ob, Dv, (size_t)H * Dv, q0, T, Dv, 1.0f);
    att_load_stats(sL, sD, lse + bh * T, delta + bh * T, q0, T);
    float dq_acc[ATT_RPW][ATT_DPL];
#pragma unroll
    for (int j = 0; j < ATT_RPW; j++)
#pragma unroll
        for (int i = 0; i < ATT_DPL; i++) dq_acc[j][i] = 0.0f;

    int kv_end = q0 + ATT_BQ;
    if (kv_end > T) kv_end = T;
    for (int k0 = 0; k0 < kv_end; k0 += ATT_BK) {
        __syncthreads();
        att_load_tile(sK, kb, Dq + 1, kv_stride, k0, T, Dq, 1.0f);
        att_load_tile(sV, vb, Dv + 1, kv_stride, k0, T, Dv, 1.0f);
        __syncthreads();
#pragma unroll
        for (int j = 0; j < ATT_RPW; j++) {
            const int r = warp * ATT_RPW + j, t = q0 + r;
            if (t >= T || k0 > t) continue; /* warp-uniform */
            const int s = k0 + lane;
            float ds = 0.0f;
            if (s <= t) {
                const float *qrow = sQ + r * Dq, *krow = sK + lane * (Dq + 1);
                float dot = 0.0f;
                for (int d = 0; d < Dq; d++) dot += qrow[d] * krow[d];
                float p = exp2f(dot * qscale - sL[r]);
                const float *orow = sO + r * Dv, *vrow = sV + lane * (Dv + 1);
                float dp = 0.0f;
                for (int d = 0; d < Dv; d++) dp += orow[d] * vrow[d];
                ds = p * (dp - sD[r]);
            }
            for (int jj = 0; jj < ATT_BK; jj++) {
                float dsj = __shfl_sync(ATT_FULL, ds, jj);
                const float *krow = sK + jj * (Dq + 1);
#pragma unroll
                for (int i = 0; i < ATT_DPL; i++) {
                    int d = lane + 32 * i;
                    if (32 * i < Dq && d < Dq) dq_acc[j][i] += dsj * krow[d]; /* first test warp-uniform */
                }
            }
        }
    }

#pragma unroll
    for (int j = 0; j < ATT_RPW; j++) {
        const int t = q0 + warp * ATT_RPW + j;
        if (t >= T) continue;
        lilm__bf16 *dqr = dq + ((size_t)b * T + t) * q_stride + (size_t)h * Dq; // (Dq)
#pragma unroll
        for (int i = 0; i < ATT_DPL; i++) {
            int d = lane + 32 * i;
            if (d < Dq) dqr[d] = lilm__bf(dq_acc[j][i] * scale);
        }
    }
}

/* ---- launchers ---- */

/* Lets a kernel use more than the default 48 KiB of dynamic shared memory. */
static int attn_smem_ok(lilm__cuda *cu, const void *kernel, size_t bytes, const char *name)
{
    if (bytes <= 48 * 1024) return 1;
    return lilm__cuda_rt_ok(cu, cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes),
                            name, __FILE__, __LINE__);
}

extern "C" void lilm__cuda_attention_forward(lilm_backend *be, void *out, float *lse,
                                             const void *q, const void *k, const void *v,
                                             size_t B, size_t Tq, size_t Tk, size_t pos0, size_t H,
                                             size_t Dq, size_t Dv, size_t q_stride, size_t kv_stride)
{
    lilm__cuda *cu = lilm__cu(be);
    if (B == 0 || Tq == 0 || H == 0) return;
    LILM_ASSERT(out && q && k && v);
    LILM_ASSERT(Dq >= 1 && Dq <= ATT_DMAX && Dv >= 1 && Dv <= ATT_DMAX);
    LILM_ASSERT(Tk == pos0 + Tq && Tk <= INT_MAX);
    LILM_ASSERT(q_stride >= H * Dq && kv_stride >= H * Dq && kv_stride >= H * Dv);
    LILM_ASSERT(B * H <= 65535);
    if (lilm__cuda_attention_mma_ok(cu, Dq, Dv, q_stride, kv_stride,
                                    (uintptr_t)out | (uintptr_t)q | (uintptr_t)k | (uintptr_t)v)) {
        lilm__cuda_attention_mma_forward(cu, out, lse, q, k, v, B, Tq, Tk, pos0, H, Dq, Dv, q_stride, kv_stride);
        return;
    }
    if (lilm__cuda_attention_small_ok(cu, Dq, Dv)) {
        lilm__cuda_attention_small_forward(cu, out, lse, q, k, v, B, Tq, Tk, pos0, H, Dq, Dv, q_stride, kv_stride);
        return;
    }
    size_t smem = (ATT_BQ * Dq + ATT_BK * (Dq + 1) + ATT_BK * Dv) * sizeof(float);
    if (!attn_smem_ok(cu, (const void *)attn_forward_kernel, smem, "attn_forward_kernel smem")) return;
    dim3 grid((unsigned)((Tq + ATT_BQ - 1) / ATT_BQ), (unsigned)(B * H));
    float qscale = ATT_LOG2E / sqrtf((float)Dq);
    attn_forward_kernel<<<grid, ATT_WARPS * 32, smem, cu->stream>>>(
        (lilm__bf16 *)out, lse, (const lilm__bf16 *)q, (const lilm__bf16 *)k, (const lilm__bf16 *)v, (int)H,
        (int)Tq, (int)Tk, (int)pos0, (int)Dq, (int)Dv, q_stride, kv_stride, qscale);
    lilm__cuda_rt_ok(cu, cudaGetLastError(), "attn_forward_kernel", __FILE__, __LINE__);
}

extern "C" void lilm__cuda_attention_backward(lilm_backend *be, void *dq, void *dk, void *dv,
                                              const void *dout, const void *q, const void *k, const void *v,
                                              const void *out, const float *lse,
                                              size_t B, size_t T, size_t H, size_t Dq, size_t Dv,
                                              size_t q_stride, size_t kv_stride)
{
    lilm__cuda *cu = lilm__cu(be);
    if (B == 0 || T == 0 || H == 0) return;
    LILM_ASSERT(dq && dk && dv && dout && q && k && v && out && lse);
    LILM_ASSERT(Dq >= 1 && Dq <= ATT_DMAX && Dv >= 1 && Dv <= ATT_DMAX && T <= INT_MAX);
    LILM_ASSERT(q_stride >= H * Dq && kv_stride >= H * Dq && kv_stride >= H * Dv);
    LILM_ASSERT(B * H <= 65535);
    if (B * H * T > cu->attn_delta_n) {
        lilm__cuda_fail(cu, LILM_ERR_INTERNAL, __FILE__, __LINE__,
                        "attention_backward needs %zu floats of scratch but reserve() planned %zu: "
                        "call be->ops->reserve() with the model's largest B, T and H first",
                        B * H * T, cu->attn_delta_n);
        return;
    }
    float scale = 1.0f / sqrtf((float)Dq);
    float *delta = cu->attn_delta; // (B, H, T)

    size_t rows = B * T * H;
    attn_delta_kernel<<<(unsigned)((rows + ATT_WARPS - 1) / ATT_WARPS), ATT_WARPS * 32, 0, cu->stream>>>(
        delta, (const lilm__bf16 *)dout, (const lilm__bf16 *)out, rows, (int)T, (int)H, (int)Dv);
    if (!lilm__cuda_rt_ok(cu, cudaGetLastError(), "attn_delta_kernel", __FILE__, __LINE__)) return;
    if (lilm__cuda_attention_mma_ok(cu, Dq, Dv, q_stride, kv_stride,
                                    (uintptr_t)dq | (uintptr_t)dk | (uintptr_t)dv | (uintptr_t)dout |
                                        (uintptr_t)q | (uintptr_t)k | (uintptr_t)v)) {
        lilm__cuda_attention_mma_backward(cu, dq, dk, dv, dout, q, k, v, lse, delta, B, T, H, Dq, Dv, q_stride,
                                          kv_stride);
        return;
    }
    if (lilm__cuda_attention_small_ok(cu, Dq, Dv)) {
        lilm__cuda_attention_small_backward(cu, dq, dk, dv, dout, q, k, v, lse, delta, B, T, H, Dq, Dv, q_stride,
                                            kv_stride);
        return;
    }

    dim3 grid((unsigned)((T + ATT_BK - 1) / ATT_BK), (unsigned)(B * H));
    size_t smem_kv = (ATT_BK * Dq + ATT_BK * Dv + ATT_BQ * (Dq + 1) + ATT_BQ * (Dv + 1) + 2 * ATT_BQ) * sizeof(float);
    if (!attn_smem_ok(cu, (const void *)attn_dkdv_kernel, smem_kv, "attn_dkdv_kernel smem")) return;
    attn_dkdv_kernel<<<grid, ATT_WARPS * 32, smem_kv, cu->stream>>>(
        (lilm__bf16 *)dk, (lilm__bf16 *)dv, (const lilm__bf16 *)dout, (const lilm__bf16 *)q, (const lilm__bf16 *)k,
        (const lilm__bf16 *)v, lse, delta, (int)H, (int)T, (int)Dq, (int)Dv, q_stride, kv_stride, scale);
    if (!lilm__cuda_rt_ok(cu, cudaGetLastError(), "attn_dkdv_kernel", __FILE__, __LINE__)) return;

    size_t smem_q = (ATT_BQ * Dq + ATT_BQ * Dv + ATT_BK * (Dq + 1) + ATT_BK * (Dv + 1) + 2 * ATT_BQ) * sizeof(float);
    if (!attn_smem_ok(cu, (const void *)attn_dq_kernel, smem_q, "attn_dq_kernel smem")) return;
    attn_dq_kernel<<<grid, ATT_WARPS * 32, smem_q, cu->stream>>>(
        (lilm__bf16 *)dq, (const lilm__bf16 *)dout, (const lilm__bf16 *)q, (const lilm__bf16 *)k,
        (const lilm__bf16 *)v, lse, delta, (int)H, (int)T, (int)Dq, (int)Dv, q_stride, kv_stride, scale);
    lilm__cuda_rt_ok(cu, cudaGetLastError(), "attn_dq_kernel", __FILE__, __LINE__);
}
