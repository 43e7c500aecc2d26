/*
 * cpu_math.h: branch-free fp32 exp and exact-GELU helpers that vectorise.
 *
 * glibc's expf/erff are scalar calls, far too slow inside the softmax and
 * GELU loops, so these inline versions are written to compile to SIMD code
 * under `#pragma omp simd`:
 *   - lilm__cpu_expf: 2^n * e^r with r = x - n ln2 (Cody-Waite split), a
 *     degree-6 polynomial for e^r; max relative error about 2 ulp over
 *     [-87, 88]; inputs below -87.3 return ~1e-38 (not 0), above 88.7 clamp.
 *   - GELU is the exact erf form 0.5 x (1 + erf(x / sqrt 2)), from one
 *     erfc formula (exp(-x^2/2) times a polynomial in 1 / (1 + |x|/(2 sqrt 2)))
 *     and one select; the derivative shares its exp. tests/test_cpu_math.c
 *     measures both against erf() in double over every 997th float in
 *     [-12, 12] and bounds the error (5 ulp; see that test).
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

/* exp(-x*x/2), with x*x carried in two fp32 parts (one FMA, or Dekker's
 * split without FMA: both give the exact low part, so every ISA gives the
 * same bits) so the rounding of the square does not
 * cost ~x^2/2 ulp in the tails; ~2 ulp as lilm__cpu_expf. Beyond |x| = 13.2
 * the true value is below 1.2e-38 and 0 is returned. */
static inline float lilm__cpu_gauss(float x)
{
    float h = x * x;
#ifdef __FMA__
    float l = __builtin_fmaf(x, x, -h); /* x*x = h + l exactly: the same l as below */
#else
    float c = x * 4097.0f;              /* 2^12 + 1 splits x into 12 + 12 bits */
    float xh = c - (c - x), xl = x - xh;
    float l = ((xh * xh - h) + 2.0f * xh * xl) + xl * xl;   /* x*x = h + l exactly */
#endif
    float e = lilm__cpu_expf(-0.5f * h);
    e = e - e * (0.5f * l);
    return h > 174.6f ? 0.0f : e;       /* exp(-87.3) is lilm__cpu_expf's floor (and
                                           this select drops the NaN of huge |x|) */
}

/* Phi(x) = 0.5 (1 + erf(x / sqrt 2)), the standard normal CDF, given
 * g = lilm__cpu_gauss(x). With z = |x| / sqrt 2 and t = 1 / (1 + z / 2),
 * 0.5 erfc(z) = g * t * P(t - 1/4), P a degree-10 polynomial fitted to
 * 0.5 erfcx(z) / t for z in [0, 10] (max relative error 3.4e-9 in double;
 * about 1e-7 after fp32 evaluation). Over [-12, 12], gelu is within 5 ulp
 * of erf() in double (tests/test_cpu_math.c; the former formula, which
 * rounded x^2 and 1 + z/2, was 194 ulp off in the tail). The tail 0.5 erfc(z) is returned for
 * x < 0 and 1 - it for x >= 0: one formula, one select, no branches, so
 * `omp simd` loops vectorise at any vector width. */
static inline float lilm__cpu_phi_g(float x, float g)
{
    float ax = x < 0.0f ? -x : x;
    ax = ax > 64.0f ? 64.0f : ax;       /* keeps the correction below finite */
    /* t = 1 / (1 + u), u = z / 2, with the rounding of 1 + u compensated
     * (the erfc formula turns t's relative error into ~2x as much in erfc) */
    float u = 0.353553390593273762f * ax;
    float d = 1.0f + u;
    float du = d - 1.0f;
    float de = (1.0f - (d - du)) + (u - du);    /* 1 + u = d + de exactly (2Sum) */
    float t0 = 1.0f / d;
    float t = t0 - t0 * t0 * de;
    float v = t - 0.25f;
    float p = 1.768790931e-02f;
    p = p * v - 5.013438687e-02f;
    p = p * v + 2.513193153e-02f;
    p = p * v + 5.597891286e-02f;
    p = p * v - 4.164772108e-02f;
    p = p * v - 6.447403878e-02f;
    p = p * v + 1.390702440e-03f;
    p = p * v + 1.166748330e-01f;
    p = p * v + 2.027367055e-01f;
    p = p * v + 2.216501087e-01f;
    p = p * v + 1.855531335e-01f;
    float tail = g * t * p;
    return x < 0.0f ? tail : 1.0f - tail;
}

static inline float lilm__cpu_phi(float x) { return lilm__cpu_phi_g(x, lilm__cpu_gauss(x)); }

/* Exact (erf) GELU: x Phi(x). */
static inline float lilm__cpu_gelu(float x) { return x * lilm__cpu_phi(x); }

/* d/dx gelu(x) = Phi(x) + x exp(-x^2/2) / sqrt(2 pi): one exp for both terms. */
static inline float lilm__cpu_gelu_grad(float x)
{
    float g = lilm__cpu_gauss(x);
    return lilm__cpu_phi_g(x, g) + x * 0.398942280401432678f * g;
}

#endif
