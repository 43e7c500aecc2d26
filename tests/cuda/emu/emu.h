/*
 * emu.h: a CPU emulator for the C-style CUDA kernels of src/cuda/, used to
 * run the real kernel code on a machine without a GPU.
 *
 * Each CUDA thread of a block is one pthread; blocks run one after another.
 * __syncthreads() is a barrier over the block, __shfl_sync/__shfl_xor_sync
 * exchange through a per-warp buffer between two barriers over the warp, so
 * warp-synchronous code behaves as on the GPU. Function-scope `static` arrays
 * stand in for __shared__ ones (one block at a time makes them per block);
 * dynamic shared memory is a NaN-filled buffer, so reading a word that no
 * thread wrote shows up as NaN in the results. bf16 is a 16-bit struct with
 * round-to-nearest-even conversion, like __float2bfloat16.
 *
 * Only what the emulated kernels use is here (1-D and 2-D blocks, shuffles
 * and atomicAdd of float, double and unsigned long long), plus the device
 * helpers of attention_mma.cu that hide inline PTX or reinterpret bits: the
 * warp-wide bf16 mma.sync m16n8k16 is a warp collective (every lane publishes
 * its A and B registers, barrier, every lane computes its own four outputs
 * from the PTX ISA fragment layouts, barrier). It is a test tool: it holds the emulated launch's state in
 * file-level variables, which library code must never do.
 */
#ifndef LILM_CUDA_EMU_H
#define LILM_CUDA_EMU_H

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(n)
#define __shared__ static

typedef struct emu_dim3 {
    unsigned x, y, z;
} emu_dim3;

typedef struct lilm__bf16 {
    uint16_t u;
} lilm__bf16;

static inline float lilm__ld(const lilm__bf16 *p)
{
    uint32_t u = (uint32_t)p->u << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline lilm__bf16 lilm__bf(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    lilm__bf16 r;
    if ((u & 0x7f800000u) == 0x7f800000u) {
        r.u = (uint16_t)(u >> 16 | ((u & 0xffffu) ? 0x40u : 0u)); /* keep NaN a NaN */
        return r;
    }
    u += 0x7fffu + ((u >> 16) & 1u);
    r.u = (uint16_t)(u >> 16);
    return r;
}

/* ---- the state of the block being emulated ---- */
typedef struct emu_warp {
    pthread_barrier_t bar;
    uint64_t buf[32]; /* one shuffled value per lane, any type up to 8 bytes */
    uint32_t mma_a[32][4], mma_b[32][2]; /* each lane's operand registers of one mma */
} emu_warp;

static _Thread_local emu_dim3 threadIdx, blockIdx;
static emu_dim3 blockDim, gridDim;
static void *emu_dyn_smem;
static emu_warp emu_warps[32];
static pthread_barrier_t emu_block_bar;
static pthread_mutex_t emu_atomic_mu = PTHREAD_MUTEX_INITIALIZER;

static inline void __syncthreads(void) { pthread_barrier_wait(&emu_block_bar); }

/* Linear thread index in the block, and the lane/warp it falls in. */
static inline unsigned emu_tid(void) { return threadIdx.y * blockDim.x + threadIdx.x; }

/* Every lane publishes 8 bytes, then reads lane src's. */
static inline uint64_t emu_exchange(uint64_t v, int src)
{
    emu_warp *w = &emu_warps[emu_tid() / 32];
    w->buf[emu_tid() % 32] = v;
    pthread_barrier_wait(&w->bar);
    uint64_t r = w->buf[src & 31];
    pthread_barrier_wait(&w->bar);
    return r;
}
static inline float emu_shfl_f(float v, int src)
{
    uint64_t u = 0;
    memcpy(&u, &v, sizeof v);
    u = emu_exchange(u, src);
    memcpy(&v, &u, sizeof v);
    return v;
}
static inline double emu_shfl_d(double v, int src)
{
    uint64_t u;
    memcpy(&u, &v, sizeof v);
    u = emu_exchange(u, src);
    memcpy(&v, &u, sizeof v);
    return v;
}
static inline unsigned long long emu_shfl_u(unsigned long long v, int src) { return emu_exchange(v, src); }
#define emu_shfl(v, src) _Generic((v), float: emu_shfl_f, double: emu_shfl_d, unsigned long long: emu_shfl_u)(v, src)
#define __shfl_sync(mask, v, src) emu_shfl((v), (src))
#define __shfl_xor_sync(mask, v, o) emu_shfl((v), (int)(emu_tid() % 32) ^ (o))

static inline float emu_atomic_f(float *p, float v)
{
    pthread_mutex_lock(&emu_atomic_mu);
    float old = *p;
    *p = old + v;
    pthread_mutex_unlock(&emu_atomic_mu);
    return old;
}
static inline double emu_atomic_d(double *p, double v)
{
    pthread_mutex_lock(&emu_atomic_mu);
    double old = *p;
    *p = old + v;
    pthread_mutex_unlock(&emu_atomic_mu);
    return old;
}
static inline unsigned long long emu_atomic_u(unsigned long long *p, unsigned long long v)
{
    pthread_mutex_lock(&emu_atomic_mu);
    unsigned long long old = *p;
    *p = old + v;
    pthread_mutex_unlock(&emu_atomic_mu);
    return old;
}
#define atomicAdd(p, v) _Generic((p), float *: emu_atomic_f, double *: emu_atomic_d, \
                                 unsigned long long *: emu_atomic_u)((p), (v))

/* The same warp reductions as cuda_impl.h. */
static inline float lilm__warp_sum(float x)
{
    for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
    return x;
}
static inline float lilm__warp_max(float x)
{
    for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
    return x;
}

/* ---- attention_mma.cu's device helpers ---- */

static inline float emu_bf_half(uint32_t w, int hi) /* the bf16 in the low (hi = 0) or high half, as float */
{
    uint32_t u = hi ? (w & 0xffff0000u) : (w << 16);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* d += A B for the warp's 16x16 A, 16x8 B (bf16) and 16x8 fp32 d, in the PTX
 * ISA fragment layouts (g = lane/4, c = lane%4):
 *   A: reg0 = A[g][2c, 2c+1], reg1 = A[g+8][2c..], reg2 = A[g][2c+8..], reg3 = A[g+8][2c+8..]
 *   B: reg0 = B[2c, 2c+1][g], reg1 = B[2c+8, 2c+9][g]
 *   d: d0, d1 = D[g][2c, 2c+1], d2, d3 = D[g+8][2c, 2c+1]
 * (the lower index in the low 16 bits). Products of bf16 are exact in fp32;
 * the sum runs over k in order, in fp32. */
static inline void am_mma_bf16_16816(float d[4], const uint32_t a[4], const uint32_t b[2])
{
    emu_warp *w = &emu_warps[emu_tid() / 32];
    unsigned lane = emu_tid() % 32;
    memcpy(w->mma_a[lane], a, sizeof w->mma_a[lane]);
    memcpy(w->mma_b[lane], b, sizeof w->mma_b[lane]);
    pthread_barrier_wait(&w->bar);
    int g = (int)lane / 4, c = (int)lane % 4;
    for (int e = 0; e < 4; e++) {
        int row = g + 8 * (e >> 1), col = 2 * c + (e & 1);
        float acc = d[e];
        for (int k = 0; k < 16; k++) {
            /* A[row][k]: lane (row%8)*4 + (k%8)/2, register (row >= 8) + 2 (k >= 8), half k%2 */
            float av = emu_bf_half(w->mma_a[(row % 8) * 4 + (k % 8) / 2][(row >= 8) + 2 * (k >= 8)], k % 2);
            /* B[k][col]: lane col*4 + (k%8)/2, register (k >= 8), half k%2 */
            float bv = emu_bf_half(w->mma_b[col * 4 + (k % 8) / 2][k >= 8], k % 2);
            acc += av * bv;
        }
        d[e] = acc;
    }
    pthread_barrier_wait(&w->bar);
}

static inline uint32_t am_lds32(const lilm__bf16 *p) { return (uint32_t)p[0].u | (uint32_t)p[1].u << 16; }
static inline uint32_t am_lds_pair(const lilm__bf16 *lo, const lilm__bf16 *hi)
{
    return (uint32_t)lo->u | (uint32_t)hi->u << 16;
}
static inline uint32_t am_pack(float lo, float hi) { return (uint32_t)lilm__bf(lo).u | (uint32_t)lilm__bf(hi).u << 16; }
static inline void am_copy16(lilm__bf16 *dst, const lilm__bf16 *src) { memcpy(dst, src, 8 * sizeof *dst); }
static inline void am_zero16(lilm__bf16 *dst) { memset(dst, 0, 8 * sizeof *dst); }
static inline void am_st2(lilm__bf16 *dst, float a, float b)
{
    dst[0] = lilm__bf(a);
    dst[1] = lilm__bf(b);
}

/* ---- launching ---- */
typedef struct emu_thread_arg {
    emu_dim3 tid;
    emu_dim3 block;
    void (*body)(void *);
    void *args;
} emu_thread_arg;

static void *emu_thread_main(void *p)
{
    emu_thread_arg *a = p;
    threadIdx = a->tid;
    blockIdx = a->block;
    a->body(a->args);
    return NULL;
}

/* Runs body(args) as a (gx, gy) grid of (tx, ty) blocks with smem_bytes of
 * NaN-filled dynamic shared memory per block. */
static void emu_launch2(unsigned gx, unsigned gy, unsigned tx, unsigned ty, size_t smem_bytes, void (*body)(void *),
                        void *args)
{
    unsigned threads = tx * ty;
    if (threads % 32 != 0 || threads > 1024) abort();
    pthread_t th[1024];
    emu_thread_arg ta[1024];
    gridDim = (emu_dim3){gx, gy, 1};
    blockDim = (emu_dim3){tx, ty, 1};
    float *smem = malloc(smem_bytes ? smem_bytes : 4);
    pthread_attr_t attr;
    if (!smem || pthread_attr_init(&attr) != 0 || pthread_attr_setstacksize(&attr, 1 << 20) != 0) abort();
    for (unsigned by = 0; by < gy; by++)
        for (unsigned bx = 0; bx < gx; bx++) {
            for (size_t i = 0; i < smem_bytes / sizeof(float); i++) smem[i] = NAN;
            emu_dyn_smem = smem;
            pthread_barrier_init(&emu_block_bar, NULL, threads);
            for (unsigned w = 0; w < threads / 32; w++) pthread_barrier_init(&emu_warps[w].bar, NULL, 32);
            for (unsigned t = 0; t < threads; t++) {
                ta[t] = (emu_thread_arg){{t % tx, t / tx, 0}, {bx, by, 0}, body, args};
                if (pthread_create(&th[t], &attr, emu_thread_main, &ta[t]) != 0) {
                    perror("pthread_create");
                    abort();
                }
            }
            for (unsigned t = 0; t < threads; t++) pthread_join(th[t], NULL);
            for (unsigned w = 0; w < threads / 32; w++) pthread_barrier_destroy(&emu_warps[w].bar);
            pthread_barrier_destroy(&emu_block_bar);
        }
    pthread_attr_destroy(&attr);
    free(smem);
}

/* 1-D blocks of `threads` threads. */
static void emu_launch(unsigned gx, unsigned gy, unsigned threads, size_t smem_bytes, void (*body)(void *),
                       void *args)
{
    emu_launch2(gx, gy, threads, 1, smem_bytes, body, args);
}

#endif
