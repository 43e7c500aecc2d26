/*
 * cpu_math.h: branch-free fp32 exp and exact-GELU helpers that vectorise.
 *
 * glibc's expf/erff are scalar calls, far too slow inside the softmax and
 * GELU loops, so these inline versions are written to compile to SIMD code
 * under `#pragma omp simd`:
 *   - lilm__cpu_expf: 2^n * e^r with r = x - n ln2 (Cody-Waite split), a
 *     degree-6 polynomial for e^r; max relative error about 2 ulp over
 *     [-87, 88]; inputs below -87.3 return ~1e-38 (not 0), above 88.7 clamp.
 *   - GELU is the exact erf form 0.5 x (1 + erf(x / sqrt 2)); erf comes from
 *     a Chebyshev fit of erfc (fractional error < 1.2e-7), so GELU and its
 *     derivative match the double-precision formula to a few 1e-7 relative.
 */
#ifndef LILM_CPU_MATH_H
#define LILM_CPU_MATH_H

#include <stdint.h>

static inline float lilm__cpu_expf(float x)
{
    x = x < -87.3f ? -87.3f : x;
    x = x > 88.7f ? 88.7f : x;
    /* round to nearest by adding and removing 1.5 * 2^23 (floorf does not
     * vectorise without -fno-trapping-math); |x log2 e| < 2^22 here */
#ifdef __FAST_MATH__
    float n = __builtin_floorf(x * 1.44269504088896341f + 0.5f); /* the trick below would fold away */
#else
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
#endif
    /* r = x - n ln2, with ln2 split into an exact high part and a remainder */
    float r = x - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float er = 1.0f + r + r * r * p;
    /* 2^n; the shift is unsigned so a NaN x (n converts to INT32_MIN on x86)
     * is no undefined shift: er is NaN then and so is the result */
    union { uint32_t i; float f; } scale = {.i = (uint32_t)((int32_t)n + 127) << 23};
    return er * scale.f;
}

/* erfc(z) for z >= 0, returned together with exp(-z*z) for the derivative. */
static inline float lilm__cpu_erfc_pos(float z)
{
    float t = 1.0f / (1.0f + 0.5f * z);
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    return t * lilm__cpu_expf(-z * z + p);
}

/* 0.5 (1 + erf(x / sqrt 2)): the standard normal CDF. */
static inline float lilm__cpu_phi(float x)
{
    float z = x * 0.70710678118654752f;
    float az = z < 0.0f ? -z : z;
    float half_erfc = 0.5f * lilm__cpu_erfc_pos(az);
    return z < 0.0f ? half_erfc : 1.0f - half_erfc;
}

static inline float lilm__cpu_gelu(float x) { return x * lilm__cpu_phi(x); }

/* d/dx gelu(x) = Phi(x) + x * exp(-x^2/2) / sqrt(2 pi). */
static inline float lilm__cpu_gelu_grad(float x)
{
    return lilm__cpu_phi(x) + x * 0.39894228040143268f * lilm__cpu_expf(-0.5f * x * x);
}

#endif
