/*
 * truncnorm.c: normal log CDF, inverse CDF and the truncated normal.
 *
 * log Phi: erfc for moderate x, log1p of the upper tail for x > 5, and the
 * asymptotic series  log Phi(x) = -x^2/2 - log(-x) - log(2 pi)/2 + log(1 - 1/x^2
 * + 3/x^4 - 15/x^6 + 105/x^8)  below -20, where erfc underflows.
 * The interval mass takes the side of zero the interval lies on, so it never
 * subtracts two numbers close to 1:
 *   b <= 0:  log(Phi(b) - Phi(a)) = lb + log(1 - exp(la - lb))
 *   a >= 0:  the mirror image, mass(-b, -a)
 *   a < 0 < b: log(1 - Phi(a) - Phi(-b))
 * Phi^-1 is Acklam's rational approximation polished by one Halley step.
 */
#include "search/truncnorm.h"

#include <math.h>

#define LN_SQRT_2PI 0.91893853320467274178

double lilm_tn_log_ndtr(double x)
{
    if (x > 5.0) return log1p(-0.5 * erfc(x / M_SQRT2));
    if (x > -20.0) return log(0.5 * erfc(-x / M_SQRT2));
    double x2 = x * x, r = 1.0 / x2;
    double series = 1.0 - r * (1.0 - r * (3.0 - r * (15.0 - r * 105.0)));
    return -0.5 * x2 - log(-x) - LN_SQRT_2PI + log(series);
}

/* log(exp(la) - exp(lb)) for la >= lb. */
static double log_diff(double la, double lb)
{
    if (lb == -INFINITY) return la;
    return la + log(-expm1(lb - la));
}

double lilm_tn_log_mass(double a, double b)
{
    if (!(a < b)) return -INFINITY;
    if (b <= 0.0) return log_diff(lilm_tn_log_ndtr(b), lilm_tn_log_ndtr(a));
    if (a >= 0.0) return log_diff(lilm_tn_log_ndtr(-a), lilm_tn_log_ndtr(-b));
    return log1p(-0.5 * erfc(-a / M_SQRT2) - 0.5 * erfc(b / M_SQRT2));
}

double lilm_tn_log_pdf(double x, double a, double b, double mu, double sigma)
{
    double z = (x - mu) / sigma;
    if (z < a || z > b) return -INFINITY;
    return -0.5 * z * z - LN_SQRT_2PI - log(sigma) - lilm_tn_log_mass(a, b);
}

double lilm_tn_ndtri(double p)
{
    static const double ca[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                                1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
    static const double cb[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                                6.680131188771972e+01, -1.328068155288572e+01};
    static const double cc[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                                -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
    static const double cd[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                                3.754408661907416e+00};
    if (p <= 0.0) return -INFINITY;
    if (p >= 1.0) return INFINITY;
    double x;
    if (p < 0.02425 || p > 1.0 - 0.02425) {
        double q = sqrt(-2.0 * log(p < 0.5 ? p : 1.0 - p));
        x = (((((cc[0] * q + cc[1]) * q + cc[2]) * q + cc[3]) * q + cc[4]) * q + cc[5]) /
            ((((cd[0] * q + cd[1]) * q + cd[2]) * q + cd[3]) * q + 1.0);
        if (p > 0.5) x = -x;
    } else {
        double q = p - 0.5, r = q * q;
        x = (((((ca[0] * r + ca[1]) * r + ca[2]) * r + ca[3]) * r + ca[4]) * r + ca[5]) * q /
            (((((cb[0] * r + cb[1]) * r + cb[2]) * r + cb[3]) * r + cb[4]) * r + 1.0);
    }
    /* one Halley step on Phi(x) - p */
    double e = 0.5 * erfc(-x / M_SQRT2) - p;
    double u = e * sqrt(2.0 * M_PI) * exp(0.5 * x * x);
    return x - u / (1.0 + 0.5 * x * u);
}

double lilm_tn_sample(lilm_rng *rng, double a, double b, double mu, double sigma)
{
    double u = lilm_rng_uniform(rng);
    /* mirror so that the interval's bulk is on the left: Phi(a) is then
     * small and p = Phi(a) + u mass loses no digits */
    int flip = a > -b;
    if (flip) {
        double t = a;
        a = -b;
        b = -t;
    }
    double pa = 0.5 * erfc(-a / M_SQRT2), pb = 0.5 * erfc(-b / M_SQRT2);
    double z = lilm_tn_ndtri(pa + u * (pb - pa));
    if (z < a) z = a;
    if (z > b) z = b;
    if (flip) z = -z;
    return mu + sigma * z;
}
