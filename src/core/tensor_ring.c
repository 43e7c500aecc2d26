/*
 * tensor_ring.c: prime factorisation and core layout of a tensor-ring
 * Linear (definitions in tensor_ring.h).
 */
#include "core/tensor_ring.h"

#include <math.h>
#include <string.h>

/* Prime factors of x ascending into f; returns how many. */
static int factorise(size_t x, size_t *f)
{
    int n = 0;
    for (size_t p = 2; p * p <= x; p++)
        while (x % p == 0) {
            f[n++] = p;
            x /= p;
        }
    if (x > 1)
        f[n++] = x;
    return n;
}

lilm_status lilm_tr_shape_init(lilm_tr_shape *s, size_t in, size_t out, size_t bond)
{
    memset(s, 0, sizeof *s);
    if (in == 0 || out == 0 || bond == 0)
        return lilm_errorf(LILM_ERR_ARG, "tensor-ring Linear %zu -> %zu with bond dim %zu: every size must be >= 1",
                           in, out, bond);
    int na = factorise(in, s->a), nb = factorise(out, s->b);
    s->n = na > nb ? na : nb;
    if (s->n == 0)
        s->n = 1;
    for (int j = na; j < s->n; j++)
        s->a[j] = 1;
    for (int j = nb; j < s->n; j++)
        s->b[j] = 1;
    s->in = in;
    s->out = out;
    s->bond = bond;
    for (int j = 0; j < s->n; j++) {
        s->offset[j] = s->n_params;
        s->n_params += bond * bond * s->a[j] * s->b[j];
    }
    return LILM_OK;
}

double lilm_tr_init_std(const lilm_tr_shape *s)
{
    double R = (double)s->bond;
    return 1.0 / (sqrt(R) * pow((double)s->in * R, 1.0 / (2.0 * s->n)));
}
