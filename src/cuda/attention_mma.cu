/*
 * attention_mma.cu: causal softmax attention on bf16 tensor cores
 * (FlashAttention-2 style), forward and backward, for train.cuda.attention: mma.
 *
 * Same interface, layouts and semantics as attention.cu (which see): q row
 * (b,t) head h at q + (b*Tq+t)*q_stride + h*Dq, k/v rows of kv_stride (k and
 * v may be interleaved in one buffer), out (B,Tq,H,Dv) contiguous, lse
 * (B,H,Tq) natural-log, key s visible to query t iff s <= pos0 + t. The
 * backward WRITES dq, dk, dv; no atomics, so results are deterministic.
 *
 * Matrix products use the warp-wide mma.sync.aligned.m16n8k16.row.col
 * f32.bf16.bf16.f32 instruction (sm_80 and newer) behind am_mma_bf16_16816();
 * every piece of inline PTX or bit-level reinterpretation sits in the small
 * device helpers before the kernel section, which the CPU emulator
 * (tests/cuda/emu/emu.h) reimplements, so the kernel text it runs is the text
 * nvcc compiles. Fragment layouts (PTX ISA, "Matrix Fragments for
 * mma.m16n8k16"), with g = lane/4 and c = lane%4:
 *   A (16x16, row): reg0 = A[g][2c..2c+1], reg1 = A[g+8][2c..], reg2 =
 *                   A[g][2c+8..], reg3 = A[g+8][2c+8..] (low half = lower column)
 *   B (16x8, col):  reg0 = B[2c..2c+1][g], reg1 = B[2c+8..2c+9][g]
 *   C/D (16x8 f32): d0,d1 = C[g][2c..2c+1], d2,d3 = C[g+8][2c..2c+1]
 * A C fragment of two neighbouring 8-column tiles is, after rounding to bf16,
 * exactly an A fragment of 16 columns, so probabilities (forward) and P, dS
 * (backward) go from one product into the next without leaving registers.
 *
 * Tiles: a block is 4 warps; each warp owns 16 rows of the block's 64 (queries
 * in the forward and dq kernels, keys in dk/dv). The other side streams
 * through shared memory in tiles of 64 rows, staged as bf16 rows padded to
 * DP+8 elements (DP = the head dim rounded up to 32, 64, 96 or 128; columns
 * past the real head dim are zero, which leaves every dot product unchanged),
 * the padding putting the 8 rows a fragment load touches in different banks.
 * Operands are read from shared memory with 32-bit loads where two elements of
 * a fragment register are adjacent in a row (Q, K as the A operand or as B of
 * Q K^T), and as two 16-bit loads where they sit in adjacent rows (V, dO, Q, K
 * as the B operand of P V, P^T dO, dS^T Q, dS K). Register arrays are sized
 * for DP = 128 and indexed only in fully unrolled loops whose trip counts are
 * compile-time constants after inlining (one kernel per DP, made by
 * AM_KERNELS), so they live in registers: the forward holds O (DP/2 floats a
 * lane) and S of one 64-key tile (32 floats); dq holds dQ (DP/2) and S, dP of
 * a 32-key half-tile (16 + 16); dk/dv holds dK, dV (DP/2 each) and S, dP of a
 * 32-query half-tile.
 *
 * Forward, per key tile (log2 domain: S = (Q K^T) * log2(e)/sqrt(Dq), fp32):
 * mask s > pos0 + t to -inf, m' = max(m, rowmax S) (a quad of 4 lanes shares
 * a row: two xor-shuffles), P = 2^(S - m'), l = l 2^(m-m') + rowsum P, O =
 * O 2^(m-m') + P V; at the end O / l and lse = (m + log2 l) ln 2. Tiles past
 * the block's last query are never loaded, tiles (and 8-key column groups)
 * past a warp's last query are skipped by that warp, only tiles crossing the
 * diagonal are masked.
 * Backward (pos0 = 0): delta = rowsum(dO * O) from attention.cu's delta
 * kernel; P = 2^(S - lse log2 e), dP = dO V^T, dS = P (dP - delta).
 *   dk/dv: block per 64-key tile, loops over the query tiles at or after it:
 *          dV += P^T dO, dK += dS^T Q, then dK *= 1/sqrt(Dq).
 *   dq:    block per 64-query tile, loops over the key tiles up to it:
 *          dQ += dS K, then dQ *= 1/sqrt(Dq).
 * P and dS are rounded to bf16 as mma operands (as in FlashAttention-2); all
 * accumulation is fp32.
 *
 * Preconditions (lilm__cuda_attention_mma_ok): Dq, Dv <= 128 and multiples of
 * 8, q_stride and kv_stride multiples of 8, every buffer 16-byte aligned (tiles
 * are copied 16 bytes at a time). Anything else stays on attention.cu.
 */
#include "cuda/cuda_impl.h"

#include <limits.h>

/* ---- device helpers (tests/cuda/emu/emu.h has CPU versions of these) ---- */

/* d (16x8 f32 C fragment) += A (16x16 bf16 row fragment) * B (16x8 bf16 col fragment). */
static __device__ __forceinline__ void am_mma_bf16_16816(float d[4], const uint32_t a[4], const uint32_t b[2])
{
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

/* Two adjacent bf16 (p[0] in the low half) as one 32-bit word; p 4-byte aligned. */
static __device__ __forceinline__ uint32_t am_lds32(const lilm__bf16 *p)
{
    return *(const uint32_t *)p;
}

/* Two bf16 from different places: lo in the low half, hi in the high half. */
static __device__ __forceinline__ uint32_t am_lds_pair(const lilm__bf16 *lo, const lilm__bf16 *hi)
{
    return (uint32_t)*(const unsigned short *)lo | ((uint32_t)*(const unsigned short *)hi << 16);
}

/* Two floats rounded to bf16 (nearest even), lo in the low half. */
static __device__ __forceinline__ uint32_t am_pack(float lo, float hi)
{
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *(const uint32_t *)&v;
}

/* 8 bf16 (16 bytes, both 16-byte aligned) from src to dst, or zeros. */
static __device__ __forceinline__ void am_copy16(lilm__bf16 *dst, const lilm__bf16 *src)
{
    *(uint4 *)dst = *(const uint4 *)src;
}
static __device__ __forceinline__ void am_zero16(lilm__bf16 *dst)
{
    *(uint4 *)dst = make_uint4(0u, 0u, 0u, 0u);
}

/* dst[0] = bf16(a), dst[1] = bf16(b); dst 4-byte aligned. */
static __device__ __forceinline__ void am_st2(lilm__bf16 *dst, float a, float b)
{
    *(__nv_bfloat162 *)dst = __floats2bfloat162_rn(a, b);
}

/* ---- kernels ---- */

#define AM_WARPS 4
#define AM_THREADS (AM_WARPS * 32)
#define AM_ROWS 64                      /* rows a block owns (16 per warp) */
#define AM_TILE 64                      /* rows of a streamed tile */
#define AM_PAD 8                        /* bf16 padding per shared-memory row */
#define AM_DMAX 128
#define AM_LOG2E 1.4426950408889634f
#define AM_LN2 0.69314718055994531f


/* Rows r0 .. r0+AM_TILE-1 of one head into shared memory: dst[r*(DP+AM_PAD) + d]
 * = src[(r0+r)*row_stride + d] for d < D and r0+r < n_rows, zero elsewhere
 * (d < DP). src points at row 0 of the sequence, at the head. */
static __device__ __forceinline__ void am_load_tile(lilm__bf16 *dst,       // (AM_TILE, DP+AM_PAD)
                                                    const lilm__bf16 *src, // (n_rows rows of row_stride)
                                                    size_t row_stride, int r0, int n_rows, int D, const int DP)
{
    const int ld = DP + AM_PAD, chunks = DP / 8;
    for (int idx = threadIdx.x; idx < AM_TILE * chunks; idx += AM_THREADS) {
        int r = idx / chunks, c = (idx % chunks) * 8, s = r0 + r;
        if (s < n_rows && c < D) am_copy16(dst + r * ld + c, src + (size_t)s * row_stride + c);
        else am_zero16(dst + r * ld + c);
    }
}

/* The A fragment of rows row0 .. row0+15, columns k0 .. k0+15 of a
 * shared-memory tile with row length ld. */
static __device__ __forceinline__ void am_frag_a(uint32_t a[4], const lilm__bf16 *tile, int ld, int row0, int k0)
{
    const int lane = threadIdx.x % 32, g = lane >> 2, c = (lane & 3) * 2;
    const lilm__bf16 *p = tile + (row0 + g) * ld + k0 + c;
    a[0] = am_lds32(p);
    a[1] = am_lds32(p + 8 * ld);
    a[2] = am_lds32(p + 8);
    a[3] = am_lds32(p + 8 * ld + 8);
}

/* The B fragment of X^T where X is a row-major tile: B[k][n] = X[n0+n][k0+k]
 * (rows n0 .. n0+7 of the tile, columns k0 .. k0+15). */
static __device__ __forceinline__ void am_frag_bt(uint32_t b[2], const lilm__bf16 *tile, int ld, int n0, int k0)
{
    const int lane = threadIdx.x % 32, g = lane >> 2, c = (lane & 3) * 2;
    const lilm__bf16 *p = tile + (n0 + g) * ld + k0 + c;
    b[0] = am_lds32(p);
    b[1] = am_lds32(p + 8);
}

/* The B fragment of X itself: B[k][n] = X[k0+k][n0+n] (rows k0 .. k0+15,
 * columns n0 .. n0+7). */
static __device__ __forceinline__ void am_frag_b(uint32_t b[2], const lilm__bf16 *tile, int ld, int k0, int n0)
{
    const int lane = threadIdx.x % 32, g = lane >> 2, c = (lane & 3) * 2;
    const lilm__bf16 *p = tile + (k0 + c) * ld + n0 + g;
    b[0] = am_lds_pair(p, p + ld);
    b[1] = am_lds_pair(p + 8 * ld, p + 9 * ld);
}

/* The A fragment (16 x 16, columns 16*ks ..) made of two C fragments:
 * c[2ks] (columns 0-7) and c[2ks+1] (columns 8-15), rounded to bf16. */
static __device__ __forceinline__ void am_frag_from_c(uint32_t a[4], const float c[][4], int ks)
{
    a[0] = am_pack(c[2 * ks][0], c[2 * ks][1]);
    a[1] = am_pack(c[2 * ks][2], c[2 * ks][3]);
    a[2] = am_pack(c[2 * ks + 1][0], c[2 * ks + 1][1]);
    a[3] = am_pack(c[2 * ks + 1][2], c[2 * ks + 1][3]);
}

/* ---- forward ---- */

static __device__ __forceinline__ void
am_forward_body(lilm__bf16 *out,     // (B, Tq, H, Dv)
                float *lse,          // (B, H, Tq) or NULL
                const lilm__bf16 *q, // (B*Tq rows of q_stride), head h at h*Dq
                const lilm__bf16 *k, // (B*Tk rows of kv_stride), head h at h*Dq
                const lilm__bf16 *v, // (B*Tk rows of kv_stride), head h at h*Dv
                int H, int Tq, int Tk, int pos0, int Dq, int Dv, size_t q_stride, size_t kv_stride, float qscale,
                const int DP)
{
    extern __shared__ float smem[];
    const int ld = DP + AM_PAD;
    lilm__bf16 *sQ = (lilm__bf16 *)smem;  // (AM_ROWS, ld)
    lilm__bf16 *sK = sQ + AM_ROWS * ld;   // (AM_TILE, ld)
    lilm__bf16 *sV = sK + AM_TILE * ld;   // (AM_TILE, ld)
    const int b = blockIdx.y / H, h = blockIdx.y % H;
    const int q0 = blockIdx.x * AM_ROWS;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane >> 2, c2 = (lane & 3) * 2;
    const int wrow = warp * 16;                       /* the warp's first row in the block */
    const int pos_first = pos0 + q0 + wrow;           /* position of the warp's first query */
    const int pos_g = pos_first + g;                  /* this lane's two rows: g and g+8 */

    const lilm__bf16 *qb = q + (size_t)b * Tq * q_stride + (size_t)h * Dq;  // (Tq rows of q_stride)
    const lilm__bf16 *kb = k + (size_t)b * Tk * kv_stride + (size_t)h * Dq; // (Tk rows of kv_stride)
    const lilm__bf16 *vb = v + (size_t)b * Tk * kv_stride + (size_t)h * Dv; // (Tk rows of kv_stride)
    am_load_tile(sQ, qb, q_stride, q0, Tq, Dq, DP);

    float o[AM_DMAX / 8][4];              /* O rows g, g+8: n-tile nt holds columns nt*8 + c2, +1 */
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
#pragma unroll
    for (int nt = 0; nt < DP / 8; nt++) o[nt][0] = o[nt][1] = o[nt][2] = o[nt][3] = 0.0f;

    int kv_end = pos0 + q0 + AM_ROWS; /* keys the block's last query can see */
    if (kv_end > Tk) kv_end = Tk;
    for (int k0 = 0; k0 < kv_end; k0 += AM_TILE) {
        __syncthreads(); /* the previous tile is consumed (and sQ is written) */
        am_load_tile(sK, kb, kv_stride, k0, Tk, Dq, DP);
        am_load_tile(sV, vb, kv_stride, k0, Tk, Dv, DP);
        __syncthreads();
        if (k0 > pos_first + 15) continue; /* warp-uniform: no key of the tile is visible to the warp */

        float s[AM_TILE / 8][4];
#pragma unroll
        for (int j = 0; j < AM_TILE / 8; j++) s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.0f;
#pragma unroll
        for (int kk = 0; kk < DP / 16; kk++) {
            uint32_t a[4];
            am_frag_a(a, sQ, ld, wrow, kk * 16);
#pragma unroll
            for (int j = 0; j < AM_TILE / 8; j++) {
                if (k0 + j * 8 > pos_first + 15) continue; /* warp-uniform: keys after all its queries */
                uint32_t bf[2];
                am_frag_bt(bf, sK, ld, j * 8, kk * 16);
                am_mma_bf16_16816(s[j], a, bf);
            }
        }
        /* scale to log2 units; mask keys after the query (only tiles crossing the diagonal) */
        const int masked = k0 + AM_TILE - 1 > pos_first;
        float mx[2] = {m[0], m[1]};
#pragma unroll
        for (int j = 0; j < AM_TILE / 8; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const int key = k0 + j * 8 + c2 + (e & 1), qpos = pos_g + (e >> 1) * 8;
                s[j][e] = (masked && key > qpos) ? -INFINITY : s[j][e] * qscale;
                mx[e >> 1] = fmaxf(mx[e >> 1], s[j][e]);
            }
        float corr[2], rs[2] = {0.0f, 0.0f};
#pragma unroll
        for (int r = 0; r < 2; r++) {
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
            const float base = mx[r] == -INFINITY ? 0.0f : mx[r]; /* a row with nothing visible yet */
            corr[r] = exp2f(m[r] - base);
            m[r] = mx[r];
        }
#pragma unroll
        for (int j = 0; j < AM_TILE / 8; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const float base = m[e >> 1] == -INFINITY ? 0.0f : m[e >> 1];
                s[j][e] = exp2f(s[j][e] - base);
                rs[e >> 1] += s[j][e];
            }
        l[0] = l[0] * corr[0] + rs[0]; /* this lane's share of the row sum; the quad adds up at the end */
        l[1] = l[1] * corr[1] + rs[1];
#pragma unroll
        for (int nt = 0; nt < DP / 8; nt++) {
            o[nt][0] *= corr[0], o[nt][1] *= corr[0];
            o[nt][2] *= corr[1], o[nt][3] *= corr[1];
        }
        /* O += P V, 16 keys at a time */
#pragma unroll
        for (int ks = 0; ks < AM_TILE / 16; ks++) {
            if (k0 + ks * 16 > pos_first + 15) continue; /* warp-uniform: P is 0 there */
            uint32_t a[4];
            am_frag_from_c(a, s, ks);
#pragma unroll
            for (int nt = 0; nt < DP / 8; nt++) {
                uint32_t bf[2];
                am_frag_b(bf, sV, ld, ks * 16, nt * 8);
                am_mma_bf16_16816(o[nt], a, bf);
            }
        }
    }

#pragma unroll
    for (int r = 0; r < 2; r++) {
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
    }
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int t = q0 + wrow + g + 8 * r;
        if (t >= Tq) continue;
        const float inv = 1.0f / l[r];
        lilm__bf16 *orow = out + (((size_t)b * Tq + t) * H + h) * Dv; // (Dv)
#pragma unroll
        for (int nt = 0; nt < DP / 8; nt++)
            if (nt * 8 < Dv) am_st2(orow + nt * 8 + c2, o[nt][2 * r] * inv, o[nt][2 * r + 1] * inv);
        if (lse && c2 == 0) lse[((size_t)b * H + h) * Tq + t] = (m[r] + log2f(l[r])) * AM_LN2;
    }
}

/* ---- backward ---- */

/* S (log2 units) and dP of one warp's 16 rows against 32 columns of the other
 * side: s[j], dp[j] are the C fragments of columns 8j .. 8j+7.
 *   s  = (X[row0..] . Y[col0..]) * qscale  over DP dims   (X, Y: the Q/K tiles)
 *   dp = dX[row0..] . dY[col0..]           over DP dims   (the dO/V tiles) */
static __device__ __forceinline__ void am_s_dp(float s[4][4], float dp[4][4], const lilm__bf16 *x,
                                               const lilm__bf16 *y, const lilm__bf16 *dx, const lilm__bf16 *dy,
                                               int ld, int row0, int col0, float qscale, const int DP)
{
#pragma unroll
    for (int j = 0; j < 4; j++)
#pragma unroll
        for (int e = 0; e < 4; e++) s[j][e] = dp[j][e] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < DP / 16; kk++) {
        uint32_t a[4], ad[4];
        am_frag_a(a, x, ld, row0, kk * 16);
        am_frag_a(ad, dx, ld, row0, kk * 16);
#pragma unroll
        for (int j = 0; j < 4; j++) {
            uint32_t bf[2];
            am_frag_bt(bf, y, ld, col0 + j * 8, kk * 16);
            am_mma_bf16_16816(s[j], a, bf);
            am_frag_bt(bf, dy, ld, col0 + j * 8, kk * 16);
            am_mma_bf16_16816(dp[j], ad, bf);
        }
    }
#pragma unroll
    for (int j = 0; j < 4; j++)
#pragma unroll
        for (int e = 0; e < 4; e++) s[j][e] *= qscale;
}

/* acc (DP/8 C fragments) += A (16 x 32, from the C fragments c[0..3]) times
 * rows r0 .. r0+31 of a shared tile. */
static __device__ __forceinline__ void am_acc_pv(float acc[][4], const float c[4][4], const lilm__bf16 *tile, int ld,
                                                 int r0, const int DP)
{
#pragma unroll
    for (int ks = 0; ks < 2; ks++) {
        uint32_t a[4];
        am_frag_from_c(a, c, ks);
#pragma unroll
        for (int nt = 0; nt < DP / 8; nt++) {
            uint32_t bf[2];
            am_frag_b(bf, tile, ld, r0 + ks * 16, nt * 8);
            am_mma_bf16_16816(acc[nt], a, bf);
        }
    }
}

static __device__ __forceinline__ void
am_dq_body(lilm__bf16 *dq,         // (B*T rows of q_stride), head h at h*Dq
           const lilm__bf16 *dout, // (B, T, H, Dv)
           const lilm__bf16 *q,    // (B*T rows of q_stride)
           const lilm__bf16 *k,    // (B*T rows of kv_stride)
           const lilm__bf16 *v,    // (B*T rows of kv_stride)
           const float *lse,       // (B, H, T)
           const float *delta,     // (B, H, T)
           int H, int T, int Dq, int Dv, size_t q_stride, size_t kv_stride, float scale, const int DP)
{
    extern __shared__ float smem[];
    const int ld = DP + AM_PAD;
    lilm__bf16 *sQ = (lilm__bf16 *)smem;  // (AM_ROWS, ld) this block's queries
    lilm__bf16 *sO = sQ + AM_ROWS * ld;   // (AM_ROWS, ld) their dout
    lilm__bf16 *sK = sO + AM_ROWS * ld;   // (AM_TILE, ld)
    lilm__bf16 *sV = sK + AM_TILE * ld;   // (AM_TILE, ld)
    const int b = blockIdx.y / H, h = blockIdx.y % H;
    const int q0 = blockIdx.x * AM_ROWS;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane >> 2, c2 = (lane & 3) * 2;
    const int wrow = warp * 16, t_first = q0 + wrow;
    const float qscale = scale * AM_LOG2E;
    const size_t bh = (size_t)b * H + h;

    const lilm__bf16 *qb = q + (size_t)b * T * q_stride + (size_t)h * Dq;  // (T rows of q_stride)
    const lilm__bf16 *kb = k + (size_t)b * T * kv_stride + (size_t)h * Dq; // (T rows of kv_stride)
    const lilm__bf16 *vb = v + (size_t)b * T * kv_stride + (size_t)h * Dv; // (T rows of kv_stride)
    const lilm__bf16 *ob = dout + ((size_t)b * T * H + h) * Dv;            // (T rows of H*Dv)
    am_load_tile(sQ, qb, q_stride, q0, T, Dq, DP);
    am_load_tile(sO, ob, (size_t)H * Dv, q0, T, Dv, DP);
    float L[2], Dl[2]; /* lse (log2 units) and delta of rows g, g+8; a missing row gets p = 0 */
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int t = t_first + g + 8 * r;
        L[r] = t < T ? lse[bh * T + t] * AM_LOG2E : INFINITY;
        Dl[r] = t < T ? delta[bh * T + t] : 0.0f;
    }
    float acc[AM_DMAX / 8][4];
#pragma unroll
    for (int nt = 0; nt < DP / 8; nt++) acc[nt][0] = acc[nt][1] = acc[nt][2] = acc[nt][3] = 0.0f;

    int kv_end = q0 + AM_ROWS;
    if (kv_end > T) kv_end = T;
    for (int k0 = 0; k0 < kv_end; k0 += AM_TILE) {
        __syncthreads();
        am_load_tile(sK, kb, kv_stride, k0, T, Dq, DP);
        am_load_tile(sV, vb, kv_stride, k0, T, Dv, DP);
        __syncthreads();
#pragma unroll
        for (int half = 0; half < AM_TILE / 32; half++) {
            const int kc = k0 + half * 32;
            if (kc > t_first + 15) break; /* warp-uniform: these keys come after all the warp's queries */
            float s[4][4], dp[4][4];
            am_s_dp(s, dp, sQ, sK, sO, sV, ld, wrow, half * 32, qscale, DP);
            const int masked = kc + 31 > t_first;
#pragma unroll
            for (int j = 0; j < 4; j++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const int key = kc + j * 8 + c2 + (e & 1), t = t_first + g + (e >> 1) * 8;
                    const float p = (masked && key > t) ? 0.0f : exp2f(s[j][e] - L[e >> 1]);
                    s[j][e] = p * (dp[j][e] - Dl[e >> 1]); /* dS */
                }
            am_acc_pv(acc, s, sK, ld, half * 32, DP);
        }
    }

#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int t = t_first + g + 8 * r;
        if (t >= T) continue;
        lilm__bf16 *dqr = dq + ((size_t)b * T + t) * q_stride + (size_t)h * Dq; // (Dq)
#pragma unroll
        for (int nt = 0; nt < DP / 8; nt++)
            if (nt * 8 < Dq) am_st2(dqr + nt * 8 + c2, acc[nt][2 * r] * scale, acc[nt][2 * r + 1] * scale);
    }
}

static __device__ __forceinline__ void
am_dkdv_body(lilm__bf16 *dk,         // (B*T rows of kv_stride), head h at h*Dq
             lilm__bf16 *dv,         // (B*T rows of kv_stride), head h at h*Dv
             const lilm__bf16 *dout, // (B, T, H, Dv)
             const lilm__bf16 *q,    // (B*T rows of q_stride)
             const lilm__bf16 *k,    // (B*T rows of kv_stride)
             const lilm__bf16 *v,    // (B*T rows of kv_stride)
             const float *lse,       // (B, H, T)
             const float *delta,     // (B, H, T)
             int H, int T, int Dq, int Dv, size_t q_stride, size_t kv_stride, float scale, const int DP)
{
    extern __shared__ float smem[];
    const int ld = DP + AM_PAD;
    lilm__bf16 *sK = (lilm__bf16 *)smem;  // (AM_ROWS, ld) this block's keys
    lilm__bf16 *sV = sK + AM_ROWS * ld;   // (AM_ROWS, ld) their values
    lilm__bf16 *sQ = sV + AM_ROWS * ld;   // (AM_TILE, ld) query tile
    lilm__bf16 *sO = sQ + AM_TILE * ld;   // (AM_TILE, ld) its dout
    float *sL = (float *)(sO + AM_TILE * ld); // (AM_TILE) lse in log2 units, +inf past T
    float *sD = sL + AM_TILE;                 // (AM_TILE) delta
    const int b = blockIdx.y / H, h = blockIdx.y % H;
    const int k0 = blockIdx.x * AM_ROWS;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane >> 2, c2 = (lane & 3) * 2;
    const int wrow = warp * 16, s_first = k0 + wrow;
    const float qscale = scale * AM_LOG2E;
    const size_t bh = (size_t)b * H + h;

    const lilm__bf16 *qb = q + (size_t)b * T * q_stride + (size_t)h * Dq;  // (T rows of q_stride)
    const lilm__bf16 *kb = k + (size_t)b * T * kv_stride + (size_t)h * Dq; // (T rows of kv_stride)
    const lilm__bf16 *vb = v + (size_t)b * T * kv_stride + (size_t)h * Dv; // (T rows of kv_stride)
    const lilm__bf16 *ob = dout + ((size_t)b * T * H + h) * Dv;            // (T rows of H*Dv)
    am_load_tile(sK, kb, kv_stride, k0, T, Dq, DP);
    am_load_tile(sV, vb, kv_stride, k0, T, Dv, DP);
    float dka[AM_DMAX / 8][4], dva[AM_DMAX / 8][4];
#pragma unroll
    for (int nt = 0; nt < DP / 8; nt++)
#pragma unroll
        for (int e = 0; e < 4; e++) dka[nt][e] = dva[nt][e] = 0.0f;

    /* queries before k0 see none of these keys (AM_TILE == AM_ROWS keeps q0 tile-aligned) */
    for (int q0 = k0; q0 < T; q0 += AM_TILE) {
        __syncthreads();
        am_load_tile(sQ, qb, q_stride, q0, T, Dq, DP);
        am_load_tile(sO, ob, (size_t)H * Dv, q0, T, Dv, DP);
        for (int i = threadIdx.x; i < AM_TILE; i += AM_THREADS) {
            const int t = q0 + i;
            sL[i] = t < T ? lse[bh * T + t] * AM_LOG2E : INFINITY;
            sD[i] = t < T ? delta[bh * T + t] : 0.0f;
        }
        __syncthreads();
#pragma unroll
        for (int half = 0; half < AM_TILE / 32; half++) {
            const int qc = q0 + half * 32;
            if (qc + 31 < s_first || qc >= T) continue; /* warp-uniform: no query here sees the warp's keys */
            float s[4][4], dp[4][4]; /* S^T, dP^T: rows = keys g, g+8; columns = queries */
            am_s_dp(s, dp, sK, sQ, sV, sO, ld, wrow, half * 32, qscale, DP);
            const int masked = qc < s_first + 15;
            float ds[4][4];
#pragma unroll
            for (int j = 0; j < 4; j++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const int i = half * 32 + j * 8 + c2 + (e & 1), key = s_first + g + (e >> 1) * 8;
                    const float p = (masked && q0 + i < key) ? 0.0f : exp2f(s[j][e] - sL[i]);
                    s[j][e] = p;
                    ds[j][e] = p * (dp[j][e] - sD[i]);
                }
            am_acc_pv(dva, s, sO, ld, half * 32, DP);
            am_acc_pv(dka, ds, sQ, ld, half * 32, DP);
        }
    }

#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int s = s_first + g + 8 * r;
        if (s >= T) continue;
        lilm__bf16 *dkr = dk + ((size_t)b * T + s) * kv_stride + (size_t)h * Dq; // (Dq)
        lilm__bf16 *dvr = dv + ((size_t)b * T + s) * kv_stride + (size_t)h * Dv; // (Dv)
#pragma unroll
        for (int nt = 0; nt < DP / 8; nt++) {
            if (nt * 8 < Dq) am_st2(dkr + nt * 8 + c2, dka[nt][2 * r] * scale, dka[nt][2 * r + 1] * scale);
            if (nt * 8 < Dv) am_st2(dvr + nt * 8 + c2, dva[nt][2 * r], dva[nt][2 * r + 1]);
        }
    }
}

/* One forward, dq and dk/dv kernel per padded head dim DP. */
#define AM_KERNELS(DP)                                                                                              \
    static __global__ void __launch_bounds__(AM_THREADS)                                                           \
    attn_mma_forward_##DP(lilm__bf16 *out, float *lse, const lilm__bf16 *q, const lilm__bf16 *k,                  \
                          const lilm__bf16 *v, int H, int Tq, int Tk, int pos0, int Dq, int Dv, size_t q_stride, \
                          size_t kv_stride, float qscale)                                                          \
    {                                                                                                               \
        am_forward_body(out, lse, q, k, v, H, Tq, Tk, pos0, Dq, Dv, q_stride, kv_stride, qscale, DP);              \
    }                                                                                                               \
    static __global__ void __launch_bounds__(AM_THREADS)                                                           \
    attn_mma_dq_##DP(lilm__bf16 *dq, const lilm__bf16 *dout, const lilm__bf16 *q, const lilm__bf16 *k,            \
                     const lilm__bf16 *v, const float *lse, const float *delta, int H, int T, int Dq, int Dv,     \
                     size_t q_stride, size_t kv_stride, float scale)                                                \
    {                                                                                                               \
        am_dq_body(dq, dout, q, k, v, lse, delta, H, T, Dq, Dv, q_stride, kv_stride, scale, DP);                   \
    }                                                                                                               \
    static __global__ void __launch_bounds__(AM_THREADS)                                                           \
    attn_mma_dkdv_##DP(lilm__bf16 *dk, lilm__bf16 *dv, const lilm__bf16 *dout, const lilm__bf16 *q,               \
                       const lilm__bf16 *k, const lilm__bf16 *v, const float *lse, const float *delta, int H,     \
                       int T, int Dq, int Dv, size_t q_stride, size_t kv_stride, float scale)                     \
    {                                                                                                               \
        am_dkdv_body(dk, dv, dout, q, k, v, lse, delta, H, T, Dq, Dv, q_stride, kv_stride, scale, DP);             \
    }
AM_KERNELS(32)
AM_KERNELS(64)
AM_KERNELS(96)
AM_KERNELS(128)

/* Padded head dim for Dq, Dv (both <= AM_DMAX): 32, 64, 96 or 128. */
static __host__ __device__ __forceinline__ int am_padded_dim(size_t Dq, size_t Dv)
{
    size_t d = Dq > Dv ? Dq : Dv;
    return (int)((d + 31) / 32 * 32);
}

/* Dynamic shared memory of each kernel, in bytes. */
static __host__ __device__ __forceinline__ size_t am_smem_forward(int DP)
{
    return (size_t)(AM_ROWS + 2 * AM_TILE) * (DP + AM_PAD) * 2;
}
static __host__ __device__ __forceinline__ size_t am_smem_dq(int DP)
{
    return (size_t)(2 * AM_ROWS + 2 * AM_TILE) * (DP + AM_PAD) * 2;
}
static __host__ __device__ __forceinline__ size_t am_smem_dkdv(int DP)
{
    return (size_t)(2 * AM_ROWS + 2 * AM_TILE) * (DP + AM_PAD) * 2 + 2 * AM_TILE * sizeof(float);
}

/* ---- launchers ---- */

typedef void (*am_forward_fn)(lilm__bf16 *, float *, const lilm__bf16 *, const lilm__bf16 *, const lilm__bf16 *, int,
                              int, int, int, int, int, size_t, size_t, float);
typedef void (*am_dq_fn)(lilm__bf16 *, const lilm__bf16 *, const lilm__bf16 *, const lilm__bf16 *,
                         const lilm__bf16 *, const float *, const float *, int, int, int, int, size_t, size_t, float);
typedef void (*am_dkdv_fn)(lilm__bf16 *, lilm__bf16 *, const lilm__bf16 *, const lilm__bf16 *, const lilm__bf16 *,
                           const lilm__bf16 *, const float *, const float *, int, int, int, int, size_t, size_t,
                           float);

/* Lets a kernel use more than the default 48 KiB of dynamic shared memory. */
static int am_smem_ok(lilm__cuda *cu, const void *kernel, size_t bytes, const char *name)
{
    if (bytes <= 48 * 1024) return 1;
    return lilm__cuda_rt_ok(cu, cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes),
                            name, __FILE__, __LINE__);
}

extern "C" int lilm__cuda_attention_mma_ok(const lilm__cuda *cu, size_t Dq, size_t Dv, size_t q_stride,
                                           size_t kv_stride, uintptr_t addr_bits)
{
    return cu->attn_mma && Dq >= 8 && Dq <= AM_DMAX && Dv >= 8 && Dv <= AM_DMAX && Dq % 8 == 0 && Dv % 8 == 0 &&
           q_stride % 8 == 0 && kv_stride % 8 == 0 && addr_bits % 16 == 0;
}

extern "C" void lilm__cuda_attention_mma_forward(lilm__cuda *cu, void *out, float *lse, const void *q, const void *k,
                                                 const void *v, size_t B, size_t Tq, size_t Tk, size_t pos0, size_t H,
                                                 size_t Dq, size_t Dv, size_t q_stride, size_t kv_stride)
{
    LILM_ASSERT(Dq <= AM_DMAX && Dv <= AM_DMAX && Tk == pos0 + Tq && Tk <= INT_MAX && B * H <= 65535);
    const int DP = am_padded_dim(Dq, Dv);
    am_forward_fn fn = DP == 32 ? attn_mma_forward_32 : DP == 64 ? attn_mma_forward_64
                     : DP == 96 ? attn_mma_forward_96 : attn_mma_forward_128;
    size_t smem = am_smem_forward(DP);
    if (!am_smem_ok(cu, (const void *)fn, smem, "attn_mma_forward smem")) return;
    dim3 grid((unsigned)((Tq + AM_ROWS - 1) / AM_ROWS), (unsigned)(B * H));
    float qscale = AM_LOG2E / sqrtf((float)Dq);
    fn<<<grid, AM_THREADS, smem, cu->stream>>>((lilm__bf16 *)out, lse, (const lilm__bf16 *)q, (const lilm__bf16 *)k,
                                               (const lilm__bf16 *)v, (int)H, (int)Tq, (int)Tk, (int)pos0, (int)Dq,
                                               (int)Dv, q_stride, kv_stride, qscale);
    lilm__cuda_rt_ok(cu, cudaGetLastError(), "attn_mma_forward", __FILE__, __LINE__);
}

extern "C" void lilm__cuda_attention_mma_backward(lilm__cuda *cu, void *dq, void *dk, void *dv, const void *dout,
                                                  const void *q, const void *k, const void *v, const float *lse,
                                                  const float *delta, size_t B, size_t T, size_t H, size_t Dq,
                                                  size_t Dv, size_t q_stride, size_t kv_stride)
{
    LILM_ASSERT(Dq <= AM_DMAX && Dv <= AM_DMAX && T <= INT_MAX && B * H <= 65535);
    const int DP = am_padded_dim(Dq, Dv);
    am_dkdv_fn fkv = DP == 32 ? attn_mma_dkdv_32 : DP == 64 ? attn_mma_dkdv_64
                   : DP == 96 ? attn_mma_dkdv_96 : attn_mma_dkdv_128;
    am_dq_fn fq = DP == 32 ? attn_mma_dq_32 : DP == 64 ? attn_mma_dq_64 : DP == 96 ? attn_mma_dq_96 : attn_mma_dq_128;
    float scale = 1.0f / sqrtf((float)Dq);
    dim3 grid((unsigned)((T + AM_ROWS - 1) / AM_ROWS), (unsigned)(B * H));

    size_t smem_kv = am_smem_dkdv(DP);
    if (!am_smem_ok(cu, (const void *)fkv, smem_kv, "attn_mma_dkdv smem")) return;
    fkv<<<grid, AM_THREADS, smem_kv, cu->stream>>>((lilm__bf16 *)dk, (lilm__bf16 *)dv, (const lilm__bf16 *)dout,
                                                   (const lilm__bf16 *)q, (const lilm__bf16 *)k,
                                                   (const lilm__bf16 *)v, lse, delta, (int)H, (int)T, (int)Dq,
                                                   (int)Dv, q_stride, kv_stride, scale);
    if (!lilm__cuda_rt_ok(cu, cudaGetLastError(), "attn_mma_dkdv", __FILE__, __LINE__)) return;

    size_t smem_q = am_smem_dq(DP);
    if (!am_smem_ok(cu, (const void *)fq, smem_q, "attn_mma_dq smem")) return;
    fq<<<grid, AM_THREADS, smem_q, cu->stream>>>((lilm__bf16 *)dq, (const lilm__bf16 *)dout, (const lilm__bf16 *)q,
                                                 (const lilm__bf16 *)k, (const lilm__bf16 *)v, lse, delta, (int)H,
                                                 (int)T, (int)Dq, (int)Dv, q_stride, kv_stride, scale);
    lilm__cuda_rt_ok(cu, cudaGetLastError(), "attn_mma_dq", __FILE__, __LINE__);
}
