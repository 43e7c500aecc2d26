/*
 * test_cpu_math.c: the CPU backend's vectorisable exp and exact-GELU math
 * (src/cpu/cpu_math.h) against erfc()/exp() in double.
 *
 * Every 997th float in [-12, 12] (about 2.2M values, both signs, tiny ones
 * included) is checked, and the largest errors are printed:
 *   - gelu(x) = x Phi(x): in ulps of the double result rounded to fp32;
 *   - gelu'(x) = Phi(x) + x pdf(x): in ulps of Phi(x) + |x| pdf(x) (the sum
 *     crosses zero near x = -0.75, where a relative bound means nothing);
 *   - exp over [-87, 88]: in ulps.
 * The loops run under `omp simd` as in the backend, and one scalar pass
 * checks that vector and scalar code give the same bits.
 */
#include "cpu/cpu_impl.h"   /* first: the CPU backend's optimisation pragmas */
#include "cpu/cpu_math.h"

#include <float.h>
#include <stdint.h>

#include "test.h"

#define STRIDE 997
#define CHUNK 4096

/* ulp of the fp32 number nearest to r (r != 0, normal range) */
static double ulp_of(double r)
{
    int e;
    frexp(fabs(r), &e);
    double u = ldexp(1.0, e - 24);
    return u < ldexp(1.0, -149) ? ldexp(1.0, -149) : u;
}

static float from_bits(uint32_t b)
{
    union { uint32_t u; float f; } v = {.u = b};
    return v.f;
}

/* Fills xs with the next n values of the sweep; returns how many. */
static size_t next_chunk(uint32_t *bits, uint32_t top, float *xs)
{
    size_t n = 0;
    for (; n < CHUNK && *bits <= top; *bits += STRIDE) {
        xs[n++] = from_bits(*bits);
        xs[n++] = -from_bits(*bits);
    }
    return n;
}

__attribute__((noinline, optimize("no-tree-vectorize")))
static void scalar_gelu(float *out, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = lilm__cpu_gelu(x[i]);
}

__attribute__((noinline, optimize("no-tree-vectorize")))
static void scalar_gelu_grad(float *out, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = lilm__cpu_gelu_grad(x[i]);
}

static void test_gelu_vs_erf(lilm_test *t)
{
    static float xs[CHUNK + 2], g[CHUNK + 2], d[CHUNK + 2], sg[CHUNK + 2], sd[CHUNK + 2];
    uint32_t bits = 0, top = 0x41400000u; /* 12.0f */
    double worst_g = 0, worst_d = 0, at_g = 0, at_d = 0;
    size_t n, total = 0, mismatch = 0;
    while ((n = next_chunk(&bits, top, xs)) > 0) {
#pragma omp simd
        for (size_t i = 0; i < n; i++) {
            g[i] = lilm__cpu_gelu(xs[i]);
            d[i] = lilm__cpu_gelu_grad(xs[i]);
        }
        scalar_gelu(sg, xs, n);
        scalar_gelu_grad(sd, xs, n);
        for (size_t i = 0; i < n; i++) {
            double x = xs[i];
            double phi = 0.5 * erfc(-x / sqrt(2.0));
            double pdf = exp(-0.5 * x * x) / sqrt(2.0 * M_PI);
            double rg = x * phi, rd = phi + x * pdf;
            if (rg != 0.0) {
                double e = fabs((double)g[i] - rg) / ulp_of(rg);
                if (e > worst_g) { worst_g = e; at_g = x; }
            } else if (g[i] != 0.0f) {
                worst_g = 1e9; at_g = x;
            }
            double e = fabs((double)d[i] - rd) / ulp_of(phi + fabs(x) * pdf);
            if (e > worst_d) { worst_d = e; at_d = x; }
            mismatch += memcmp(&g[i], &sg[i], 4) != 0 || memcmp(&d[i], &sd[i], 4) != 0;
        }
        total += n;
    }
    printf("  gelu:  %zu values in [-12, 12], max error %.2f ulp (at x = %.9g)\n", total, worst_g, at_g);
    printf("  gelu': max error %.2f ulp of Phi + |x| pdf (at x = %.9g)\n", worst_d, at_d);
    LT_CHECK(t, worst_g <= 6.0, "gelu error %.2f ulp at %.9g exceeds 6", worst_g, at_g);
    LT_CHECK(t, worst_d <= 5.0, "gelu' error %.2f ulp at %.9g exceeds 5", worst_d, at_d);
    LT_CHECK(t, mismatch == 0, "%zu values differ between the vector and scalar code", mismatch);
}

static void test_gelu_specials(lilm_test *t)
{
    LT_TRUE(t, lilm__cpu_gelu(0.0f) == 0.0f);
    LT_TRUE(t, lilm__cpu_gelu(1e30f) == 1e30f);
    LT_TRUE(t, lilm__cpu_gelu(-1e30f) == 0.0f);
    LT_TRUE(t, lilm__cpu_gelu(INFINITY) == INFINITY);
    LT_TRUE(t, isnan(lilm__cpu_gelu(NAN)));
    LT_TRUE(t, lilm__cpu_gelu_grad(0.0f) == 0.5f);
    LT_TRUE(t, lilm__cpu_gelu_grad(40.0f) == 1.0f);
    LT_TRUE(t, lilm__cpu_gelu_grad(-40.0f) == 0.0f);
    LT_TRUE(t, isnan(lilm__cpu_gelu_grad(NAN)));
}

static void test_exp_vs_libm(lilm_test *t)
{
    static float xs[CHUNK + 2], e[CHUNK + 2];
    double worst = 0, at = 0;
    for (uint32_t bits = 0; bits <= 0x42b00000u; ) { /* 88.0f */
        size_t n = next_chunk(&bits, 0x42b00000u, xs);
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            e[i] = lilm__cpu_expf(xs[i]);
        for (size_t i = 0; i < n; i++) {
            if (xs[i] < -87.0f) continue;
            double r = exp((double)xs[i]);
            double err = fabs((double)e[i] - r) / ulp_of(r);
            if (err > worst) { worst = err; at = xs[i]; }
        }
    }
    printf("  exp:   max error %.2f ulp in [-87, 88] (at x = %.9g)\n", worst, at);
    LT_CHECK(t, worst <= 3.0, "exp error %.2f ulp at %.9g exceeds 3", worst, at);
}

static const lilm_test_case cases[] = {
    {"gelu_vs_erf", test_gelu_vs_erf},
    {"gelu_specials", test_gelu_specials},
    {"exp_vs_libm", test_exp_vs_libm},
};

LILM_TEST_MAIN(cases)
