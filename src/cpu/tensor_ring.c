/*
 * tensor_ring.c: the tensor-ring factorised Linear on the CPU (definitions
 * and core layout in core/tensor_ring.h).
 *
 * The (O, I) weight is materialised from the cores once per call and the
 * Linear itself is the ordinary matmul op (fused bias and activation
 * included): building W costs about R^2 I O flops, far less than the
 * N I O of the product for any batch of more than R^2 tokens, and it keeps
 * one GEMM path for every Linear. The backward is the matmul backward into a
 * dense dW, then dW is contracted back onto the cores.
 *
 * Both directions use the environment of core j, the ring product of all the
 * other cores taken in ring order after j:
 *     E_j[a][b][r] = (G_{j+1} G_{j+2} ... G_{n-1} G_0 ... G_{j-1})[a][b]
 * (R, R, rest_I * rest_O), its multi-index r row-major over the cores in
 * that order (inputs, then outputs). A chain is built by merging one core at
 * a time: C'[a][c][(I, i)][(O, o)] = sum_b C[a][b][I][O] G[b][c][i][o].
 * Then, since W = trace(M_0 ... M_{n-1}) and d trace / d M_j = (E_j)^T,
 *     W[(i_0, r_I)][(o_0, r_O)] = sum_{a,b} G_0[a][b][i_0][o_0] E_0[b][a][r]
 *     dG_j[a][b][i_j][o_j]    += sum_r dW[...(i_j, o_j, r)...] E_j[b][a][r]
 * each one sgemm against the (R^2, rest) matrix E_j. Work: two chain buffers
 * of R^2 * max_j(I O / (a_j b_j)) floats, dW reordered (I O), and the
 * (max a_j b_j, R^2) core matrix.
 */
#include "cpu/cpu_impl.h"
#include "cpu/lowrank.h"

#include <cblas.h>
#include <string.h>

typedef struct tr_work {
    float *e1, *e2;      /* (R, R, rest) chain buffers */
    float *dmat;         /* (I O) a core's (a_j b_j, rest) view of W or dW */
    float *cmat;         /* (max a_j b_j, R^2) */
} tr_work;

static size_t max_core(const lilm_tr_shape *s)
{
    size_t mx = 1;
    for (int j = 0; j < s->n; j++)
        mx = s->a[j] * s->b[j] > mx ? s->a[j] * s->b[j] : mx;
    return mx;
}

static size_t max_rest(const lilm_tr_shape *s)
{
    size_t mn = s->a[0] * s->b[0];
    for (int j = 1; j < s->n; j++)
        mn = s->a[j] * s->b[j] < mn ? s->a[j] * s->b[j] : mn;
    return s->in * s->out / mn;
}

static size_t round16(size_t n) { return (n + 15) / 16 * 16; }

size_t lilm__cpu_tr_work_bytes(lilm_backend *be, const lilm_tr_shape *s)
{
    size_t R2 = s->bond * s->bond;
    return (2 * round16(R2 * max_rest(s)) + round16(s->in * s->out) + round16(max_core(s) * R2)) * sizeof(float);
}

static tr_work tr_split(const lilm_tr_shape *s, void *work)
{
    size_t R2 = s->bond * s->bond;
    tr_work w;
    w.e1 = work;
    w.e2 = w.e1 + round16(R2 * max_rest(s));
    w.dmat = w.e2 + round16(R2 * max_rest(s));
    w.cmat = w.dmat + round16(s->in * s->out);
    return w;
}

/* E_j into one of the chain buffers (returned); *ri, *ro get rest_I, rest_O. */
static float *environment(lilm_backend *be, const float *cores, const lilm_tr_shape *s, int j, tr_work *w,
                          size_t *ri, size_t *ro)
{
    size_t R = s->bond;
    float *cur = w->e1, *nxt = w->e2;
    size_t I1 = 1, O1 = 1;
    memset(cur, 0, R * R * sizeof(float));
    for (size_t a = 0; a < R; a++)
        cur[a * R + a] = 1.0f;                                  /* the empty chain: identity */
    for (int step = 1; step < s->n; step++) {
        int l = (j + step) % s->n;
        size_t a_l = s->a[l], b_l = s->b[l], I2 = I1 * a_l, O2 = O1 * b_l;
        const float *G = cores + s->offset[l];                  // (R, R, a_l, b_l)
        int nt = R * R * I2 * O2 < 65536 ? 1 : lilm__cpu(be)->threads;
#pragma omp parallel for collapse(2) num_threads(nt) schedule(static)
        for (size_t a = 0; a < R; a++)
            for (size_t c = 0; c < R; c++) {
                float *dst = nxt + (a * R + c) * I2 * O2;       // (I2, O2)
                memset(dst, 0, I2 * O2 * sizeof(float));
                for (size_t b = 0; b < R; b++) {
                    const float *src = cur + (a * R + b) * I1 * O1;  // (I1, O1)
                    const float *g = G + (b * R + c) * a_l * b_l;    // (a_l, b_l)
                    for (size_t i1 = 0; i1 < I1; i1++)
                        for (size_t i = 0; i < a_l; i++)
                            for (size_t o1 = 0; o1 < O1; o1++) {
                                float x = src[i1 * O1 + o1];
                                float *row = dst + (i1 * a_l + i) * O2 + o1 * b_l;
                                const float *grow = g + i * b_l;
                                for (size_t o = 0; o < b_l; o++)
                                    row[o] += x * grow[o];
                            }
                }
            }
        float *tmp = cur;
        cur = nxt;
        nxt = tmp;
        I1 = I2;
        O1 = O2;
    }
    *ri = I1;
    *ro = O1;
    return cur;
}

/* Offsets of core j's index in the flat input (or output) index: the index
 * i = lo * (f_j * hi_n) + i_j * hi_n + hi, with lo over cores < j and hi over
 * cores > j; in the chain order of E_j the rest index is hi * lo_n + lo. */
typedef struct tr_split_dims {
    size_t lo_n, hi_n;
} tr_split_dims;

static tr_split_dims split_dims(const size_t *f, int n, int j)
{
    tr_split_dims d = {1, 1};
    for (int l = 0; l < j; l++)
        d.lo_n *= f[l];
    for (int l = j + 1; l < n; l++)
        d.hi_n *= f[l];
    return d;
}

/* Moves between W (O, I) and core j's view D[(i_j, o_j)][(rest_I, rest_O)]
 * (to_view: W -> D, else D -> W). */
static void core_view(float *D, float *W, const lilm_tr_shape *s, int j, int to_view)
{
    size_t aj = s->a[j], bj = s->b[j];
    tr_split_dims di = split_dims(s->a, s->n, j), dout = split_dims(s->b, s->n, j);
    size_t ri = s->in / aj, ro = s->out / bj;
    for (size_t ilo = 0; ilo < di.lo_n; ilo++)
        for (size_t ij = 0; ij < aj; ij++)
            for (size_t ihi = 0; ihi < di.hi_n; ihi++) {
                size_t i = (ilo * aj + ij) * di.hi_n + ihi, rI = ihi * di.lo_n + ilo;
                for (size_t olo = 0; olo < dout.lo_n; olo++)
                    for (size_t oj = 0; oj < bj; oj++)
                        for (size_t ohi = 0; ohi < dout.hi_n; ohi++) {
                            size_t o = (olo * bj + oj) * dout.hi_n + ohi, rO = ohi * dout.lo_n + olo;
                            float *dv = D + (ij * bj + oj) * ri * ro + rI * ro + rO;
                            float *wv = W + o * s->in + i;
                            if (to_view)
                                *dv = *wv;
                            else
                                *wv = *dv;
                        }
            }
}

void lilm__cpu_tr_weight(lilm_backend *be, void *w, const float *cores, const lilm_tr_shape *s, void *work)
{
    // w (O, I) =; cores (n_params)
    tr_work tw = tr_split(s, work);
    size_t R = s->bond, ri, ro, a0 = s->a[0], b0 = s->b[0];
    const float *E = environment(be, cores, s, 0, &tw, &ri, &ro);   // (R^2, ri * ro)
    const float *G = cores;                                         // (R, R, a0, b0)
    /* cmat[(i0, o0)][b R + a] = G_0[a][b][i0][o0], so the product pairs it with E_0[b][a] */
    for (size_t a = 0; a < R; a++)
        for (size_t b = 0; b < R; b++)
            for (size_t c = 0; c < a0 * b0; c++)
                tw.cmat[c * R * R + b * R + a] = G[(a * R + b) * a0 * b0 + c];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(a0 * b0), (int)(ri * ro), (int)(R * R), 1.0f,
                tw.cmat, (int)(R * R), E, (int)(ri * ro), 0.0f, tw.dmat, (int)(ri * ro));
    core_view(tw.dmat, w, s, 0, 0);
}

void lilm__cpu_tr_weight_backward(lilm_backend *be, float *dcores, const void *dw, const float *cores,
                                  const lilm_tr_shape *s, void *work)
{
    // dcores (n_params) +=; dw (O, I)
    tr_work tw = tr_split(s, work);
    size_t R = s->bond;
    for (int j = 0; j < s->n; j++) {
        size_t ri, ro, aj = s->a[j], bj = s->b[j];
        const float *E = environment(be, cores, s, j, &tw, &ri, &ro);   // (R^2, ri * ro)
        core_view(tw.dmat, (float *)dw, s, j, 1);                       // (aj * bj, ri * ro)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(aj * bj), (int)(R * R), (int)(ri * ro), 1.0f,
                    tw.dmat, (int)(ri * ro), E, (int)(ri * ro), 0.0f, tw.cmat, (int)(R * R));
        float *dG = dcores + s->offset[j];                               // (R, R, aj, bj)
        for (size_t a = 0; a < R; a++)
            for (size_t b = 0; b < R; b++)
                for (size_t c = 0; c < aj * bj; c++)
                    dG[(a * R + b) * aj * bj + c] += tw.cmat[c * R * R + b * R + a];
    }
}

void lilm__cpu_tr_linear_forward(lilm_backend *be, void *out, void *pre, const void *in,
                                 float *w, const float *cores, const float *bias,
                                 size_t N, const lilm_tr_shape *s, lilm_act act, void *work)
{
    // out (N, O); pre (N, O) or NULL; in (N, I); w (O, I) =
    lilm__cpu_tr_weight(be, w, cores, s, work);
    lilm__cpu_matmul_forward(be, out, pre, in, w, bias, N, s->in, s->out, act);
}

void lilm__cpu_tr_linear_backward(lilm_backend *be, void *din, float *dcores, float *dbias,
                                  void *dout, const void *pre, const void *in, const float *w,
                                  float *dw, const float *cores, size_t N, const lilm_tr_shape *s,
                                  lilm_act act, int accumulate, void *work)
{
    // din (N, I); dcores (n_params) +=; dbias (O) +=; dout (N, O); dw (O, I) scratch
    memset(dw, 0, s->in * s->out * sizeof(float));
    lilm__cpu_matmul_backward(be, din, dw, dbias, dout, pre, in, w, N, s->in, s->out, act, accumulate);
    lilm__cpu_tr_weight_backward(be, dcores, dw, cores, s, work);
}
