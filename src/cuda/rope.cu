/*
 * rope.cu: rotary position embedding on interleaved pairs, in place (bf16).
 *
 * x holds N = B*T rows of `stride` elements; head h of row (b,t) starts at
 * x + row*stride + h*D, so q in its own buffer (stride H*Dq) and k inside the
 * interleaved kv buffer (stride H*(Dq+Dv)) are both handled. One thread per
 * pair (2i, 2i+1) of one head of one row rotates it by
 *   angle = (pos0 + t) * base^(-2i/D)
 * (forward) or by -angle (backward, the transpose of the rotation). The angle
 * is computed in fp32 with sincosf (full range reduction, no fast math).
 */
#include "cuda/cuda_impl.h"

static __global__ void rope_kernel(lilm__bf16 *x, // (N rows of stride), head h at h*D
                                   size_t N, size_t T, size_t H, size_t D, size_t stride,
                                   size_t pos0, float base, float sign)
{
    size_t half = D / 2;
    size_t total = N * H * half;
    for (size_t idx = blockIdx.x * (size_t)blockDim.x + threadIdx.x; idx < total;
         idx += (size_t)gridDim.x * blockDim.x) {
        size_t i = idx % half;
        size_t h = (idx / half) % H;
        size_t row = idx / (half * H);
        size_t t = row % T;
        float inv_freq = powf(base, -(float)(2 * i) / (float)D);
        float angle = (float)(pos0 + t) * inv_freq;
        float s, c;
        sincosf(angle, &s, &c);
        s *= sign;
        lilm__bf16 *p = x + row * stride + h * D + 2 * i; // (2)
        float x0 = lilm__ld(p), x1 = lilm__ld(p + 1);
        p[0] = lilm__bf(x0 * c - x1 * s);
        p[1] = lilm__bf(x0 * s + x1 * c);
    }
}

static void rope_launch(lilm_backend *be, void *x, size_t B, size_t T, size_t H, size_t D, size_t stride,
                        size_t pos0, float base, float sign)
{
    lilm__cuda *cu = lilm__cu(be);
    if (B == 0 || T == 0 || H == 0) return;
    LILM_ASSERT(x && D >= 2 && D % 2 == 0 && stride >= H * D && base > 0.0f);
    size_t n = B * T * H * (D / 2);
    rope_kernel<<<lilm__ew_grid(cu, n), LILM__EW_THREADS, 0, cu->stream>>>(
        (lilm__bf16 *)x, B * T, T, H, D, stride, pos0, base, sign);
    lilm__cuda_rt_ok(cu, cudaGetLastError(), "rope_kernel", __FILE__, __LINE__);
}

extern "C" void lilm__cuda_rope_forward(lilm_backend *be, void *x, size_t B, size_t T, size_t H, size_t D,
                                        size_t stride, size_t pos0, float base)
{
    rope_launch(be, x, B, T, H, D, stride, pos0, base, 1.0f);
}

extern "C" void lilm__cuda_rope_backward(lilm_backend *be, void *dx, size_t B, size_t T, size_t H, size_t D,
                                         size_t stride, size_t pos0, float base)
{
    rope_launch(be, dx, B, T, H, D, stride, pos0, base, -1.0f);
}
