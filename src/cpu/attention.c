/*
 * attention.c: causal softmax attention, forward (training and KV-cache form)
 * and backward, without storing the (T x T) probabilities.
 *
 * Work is one task per (sequence b, head h), statically split over the
 * OpenMP threads; each task walks its queries in blocks of
 * LILM_CPU_ATTN_BLOCK rows. For a block of queries [q0, q0+rows) the visible
 * keys are [0, pos0+q0+rows), so one (rows x kend) score tile in the
 * thread's scratch covers it and the strictly-future part of the causal
 * triangle is mostly skipped (9/16 of the full square is computed at T = 512;
 * blocks of 32 and 128 rows measured slower than 64).
 *
 * Forward, per block:  S = Q K^T / sqrt(Dq) (sgemm), masked row softmax with
 * lse = max + log(sum exp) kept per query (B, H, Tq), O = P V (sgemm).
 * Backward recomputes P = exp(S - lse) and, with D_i = dO_i . O_i,
 *   dV += P^T dO,  dP = dO V^T,  dS = P (dP - D) / sqrt(Dq),
 *   dQ  = dS K,    dK += dS^T Q        (all sgemm)
 * Each head's dk/dv rows are zeroed first (they are WRITTEN), then only the
 * task that owns the head adds into them, in block order: deterministic.
 * Scratch per thread: two (BLOCK, max_seq) tiles (S/P and dP/dS).
 */
#include "cpu/cpu_impl.h"
#include "cpu/cpu_math.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

/* The leading dimension of this backend's score tiles, or 0 (error
 * recorded) when Tk keys do not fit the scratch reserve() planned. */
static size_t attn_tile_ld(lilm_backend *be, const char *op, size_t Tk)
{
    lilm_cpu_state *st = lilm__cpu(be);
    size_t ld = st->attn_tile / LILM_CPU_ATTN_BLOCK;
    if (!st->attn || Tk > ld) {
        lilm__cpu_fail(be, LILM_ERR_ARG, "%s: %zu keys exceed the reserved max_seq %zu (call reserve())",
                       op, Tk, ld);
        return 0;
    }
    return ld;
}

/* S (rows, kend), leading dimension ld = Q_block (rows, Dq) K[0:kend]^T / sqrt(Dq). */
static void attn_scores(float *S, size_t ld, const float *qb, size_t q_stride, const float *kb,
                        size_t kv_stride, size_t rows, size_t kend, size_t Dq)
{
    float scale = (float)(1.0 / sqrt((double)Dq));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)kend, (int)Dq,
                scale, qb, (int)q_stride, kb, (int)kv_stride, 0.0f, S, (int)ld);
}

void lilm__cpu_attention_forward(lilm_backend *be, void *out_, float *lse,
                                 const void *q_, const void *k_, const void *v_,
                                 size_t B, size_t Tq, size_t Tk, size_t pos0, size_t H,
                                 size_t Dq, size_t Dv, size_t q_stride, size_t kv_stride)
{
    float *out = out_;          // (B, Tq, H, Dv)
    const float *q = q_;        // (B, Tq, q_stride), head h at h*Dq
    const float *k = k_;        // (B, Tk, kv_stride), head h at h*Dq
    const float *v = v_;        // (B, Tk, kv_stride), head h at h*Dv
    lilm_cpu_state *st = lilm__cpu(be);
    if (Tk != pos0 + Tq) {
        lilm__cpu_fail(be, LILM_ERR_ARG, "attention_forward: Tk (%zu) must equal pos0 (%zu) + Tq (%zu)",
                       Tk, pos0, Tq);
        return;
    }
    size_t ld = attn_tile_ld(be, "attention_forward", Tk);
    if (!ld)
        return;
    size_t ldo = H * Dv;                                 /* row stride of out */
#pragma omp parallel for num_threads(st->threads) schedule(static)
    for (size_t task = 0; task < B * H; task++) {
        size_t b = task / H, h = task % H;
        float *S = st->attn + (size_t)omp_get_thread_num() * 2 * st->attn_tile; // (BLOCK, ld)
        const float *kb = k + b * Tk * kv_stride + h * Dq;   // (Tk, Dq) rows kv_stride apart
        const float *vb = v + b * Tk * kv_stride + h * Dv;   // (Tk, Dv)
        for (size_t q0 = 0; q0 < Tq; q0 += LILM_CPU_ATTN_BLOCK) {
            size_t rows = Tq - q0 < LILM_CPU_ATTN_BLOCK ? Tq - q0 : LILM_CPU_ATTN_BLOCK;
            size_t kend = pos0 + q0 + rows;
            const float *qb = q + (b * Tq + q0) * q_stride + h * Dq; // (rows, Dq)
            attn_scores(S, ld, qb, q_stride, kb, kv_stride, rows, kend, Dq);
            for (size_t r = 0; r < rows; r++) {
                float *s = S + r * ld;                 // (kend) scores of one query
                size_t vis = pos0 + q0 + r + 1;        // keys [0, vis) are visible
                float mx = s[0];
#pragma omp simd reduction(max : mx)
                for (size_t j = 1; j < vis; j++)
                    mx = s[j] > mx ? s[j] : mx;
                float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
                for (size_t j = 0; j < vis; j++) {
                    float e = lilm__cpu_expf(s[j] - mx);
                    s[j] = e;
                    sum += e;
                }
                float inv = 1.0f / sum;
#pragma omp simd
                for (size_t j = 0; j < vis; j++)
                    s[j] *= inv;
                memset(s + vis, 0, (kend - vis) * sizeof(float));
                if (lse)
                    lse[(b * H + h) * Tq + q0 + r] = mx + logf(sum);
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)Dv, (int)kend,
                        1.0f, S, (int)ld, vb, (int)kv_stride, 0.0f,
                        out + ((b * Tq + q0) * H + h) * Dv, (int)ldo);
        }
    }
}

void lilm__cpu_attention_backward(lilm_backend *be, void *dq_, void *dk_, void *dv_,
                                  const void *dout_, const void *q_, const void *k_, const void *v_,
                                  const void *out_, const float *lse,
                                  size_t B, size_t T, size_t H, size_t Dq, size_t Dv,
                                  size_t q_stride, size_t kv_stride)
{
    float *dq = dq_;                // (B, T, q_stride) like q
    float *dk = dk_;                // (B, T, kv_stride) like k
    float *dv = dv_;                // (B, T, kv_stride) like v
    const float *dout = dout_;      // (B, T, H, Dv)
    const float *q = q_, *k = k_, *v = v_;
    const float *out = out_;        // (B, T, H, Dv)
    lilm_cpu_state *st = lilm__cpu(be);
    size_t ld = attn_tile_ld(be, "attention_backward", T);
    if (!ld)
        return;
    float scale = (float)(1.0 / sqrt((double)Dq));
    size_t ldo = H * Dv;                                 /* row stride of out, dout */
#pragma omp parallel for num_threads(st->threads) schedule(static)
    for (size_t task = 0; task < B * H; task++) {
        size_t b = task / H, h = task % H;
        float *P = st->attn + (size_t)omp_get_thread_num() * 2 * st->attn_tile; // (BLOCK, ld)
        float *dP = P + st->attn_tile;                                           // (BLOCK, ld)
        const float *kb = k + b * T * kv_stride + h * Dq;   // (T, Dq)
        const float *vb = v + b * T * kv_stride + h * Dv;   // (T, Dv)
        float *dkb = dk + b * T * kv_stride + h * Dq;       // (T, Dq)
        float *dvb = dv + b * T * kv_stride + h * Dv;       // (T, Dv)
        for (size_t s = 0; s < T; s++) {
            memset(dkb + s * kv_stride, 0, Dq * sizeof(float));
            memset(dvb + s * kv_stride, 0, Dv * sizeof(float));
        }
        for (size_t q0 = 0; q0 < T; q0 += LILM_CPU_ATTN_BLOCK) {
            size_t rows = T - q0 < LILM_CPU_ATTN_BLOCK ? T - q0 : LILM_CPU_ATTN_BLOCK;
            size_t kend = q0 + rows;
            const float *qb = q + (b * T + q0) * q_stride + h * Dq;   // (rows, Dq)
            float *dqb = dq + (b * T + q0) * q_stride + h * Dq;       // (rows, Dq)
            const float *dob = dout + ((b * T + q0) * H + h) * Dv;    // (rows, Dv)
            const float *ob = out + ((b * T + q0) * H + h) * Dv;      // (rows, Dv)
            const float *lb = lse + (b * H + h) * T + q0;             // (rows)
            /* P = exp(Q K^T * scale - lse), 0 above the diagonal */
            attn_scores(P, ld, qb, q_stride, kb, kv_stride, rows, kend, Dq);
            for (size_t r = 0; r < rows; r++) {
                float *p = P + r * ld;
                size_t vis = q0 + r + 1;
                float l = lb[r];
#pragma omp simd
                for (size_t j = 0; j < vis; j++)
                    p[j] = lilm__cpu_expf(p[j] - l);
                memset(p + vis, 0, (kend - vis) * sizeof(float));
            }
            /* dV += P^T dO; dP = dO V^T */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)kend, (int)Dv, (int)rows,
                        1.0f, P, (int)ld, dob, (int)ldo, 1.0f, dvb, (int)kv_stride);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)kend, (int)Dv,
                        1.0f, dob, (int)ldo, vb, (int)kv_stride, 0.0f, dP, (int)ld);
            /* dS = P (dP - D) * scale, D = rowsum(dO * O) */
            for (size_t r = 0; r < rows; r++) {
                const float *o = ob + r * ldo, *dor = dob + r * ldo;
                float d = 0.0f;
#pragma omp simd reduction(+ : d)
                for (size_t c = 0; c < Dv; c++)
                    d += o[c] * dor[c];
                float *p = P + r * ld, *ds = dP + r * ld;
#pragma omp simd
                for (size_t j = 0; j < kend; j++)
                    ds[j] = p[j] * (ds[j] - d) * scale;
            }
            /* dQ = dS K; dK += dS^T Q */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)Dq, (int)kend,
                        1.0f, dP, (int)ld, kb, (int)kv_stride, 0.0f, dqb, (int)q_stride);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)kend, (int)Dq, (int)rows,
                        1.0f, dP, (int)ld, qb, (int)q_stride, 1.0f, dkb, (int)kv_stride);
        }
    }
}
