/*
 * muon.c: the Muon optimizer kind, for the 2-D weight matrices of the layers.
 *
 * Per matrix W (rows r, cols c) with gradient G and momentum buffer B:
 *   B <- momentum * B + G
 *   U <- G + momentum * B  (Nesterov)   or   U <- B
 *   O <- NS(U)             Newton-Schulz orthogonalisation (lilm_muon_newton_schulz)
 *   W <- W * (1 - lr * weight_decay) - lr * sqrt(max(1, r / c)) * O
 * The scale sqrt(max(1, r/c)) is the one of the original Muon write-up: it
 * keeps the update's RMS independent of how tall the matrix is. The lr passed
 * by the schedule is the main (AdamW) lr; Muon's is that times muon_lr / lr,
 * so both groups follow the same schedule shape. State: the buffer B (slot
 * "muon_m.") and the counter "muon_step". CPU only: the products run on
 * OpenBLAS; on CUDA the optimizer refuses at init.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/optimizer.h"

typedef struct muon_impl {
    float *scratch;            /* the update (numel) then Newton-Schulz's work space, for the largest matrix */
    double lr_ratio;           /* muon_lr / lr */
    float momentum, weight_decay;
    int nesterov, ns_steps;
} muon_impl;

static const char *const muon_slots[] = {"muon_m."};
static const char *const muon_counters[] = {"muon_step"};

/* Floats of work space Newton-Schulz needs for a rows x cols matrix. */
static size_t scratch_floats(int64_t rows, int64_t cols)
{
    size_t s = (size_t)(rows < cols ? rows : cols);
    size_t n = (size_t)rows * (size_t)cols;
    return 2 * n + 2 * s * s;
}

void lilm_muon_newton_schulz(const float *g, float *out, int64_t rows, int64_t cols, int steps, float *scratch)
{
    const float a = 3.4445f, b = -4.7750f, c = 2.0315f;
    /* work on X (s x l) with s <= l: the transpose when rows > cols */
    int tall = rows > cols;
    int s = (int)(tall ? cols : rows), l = (int)(tall ? rows : cols);
    size_t n = (size_t)rows * (size_t)cols;
    float *x = scratch, *y = scratch + n;            /* (s, l) each */
    float *A = y + n, *B = A + (size_t)s * s;        /* (s, s) each */
    double ss = 0;
    for (size_t k = 0; k < n; k++) ss += (double)g[k] * g[k];
    float inv = (float)(1.0 / (sqrt(ss) + 1e-7));
    if (tall) {
        for (int i = 0; i < (int)rows; i++)
            for (int j = 0; j < (int)cols; j++) x[(size_t)j * l + i] = g[(size_t)i * cols + j] * inv;
    } else {
        for (size_t k = 0; k < n; k++) x[k] = g[k] * inv;
    }
    for (int it = 0; it < steps; it++) {
        /* A = X X^T; B = b A + c A A; Y = a X + B X */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s, s, l, 1.0f, x, l, x, l, 0.0f, A, s);
        memcpy(B, A, (size_t)s * s * sizeof *B);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s, s, s, c, A, s, A, s, b, B, s);
        memcpy(y, x, n * sizeof *y);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s, l, s, 1.0f, B, s, x, l, a, y, l);
        float *t = x;
        x = y;
        y = t;
    }
    if (tall) {
        for (int i = 0; i < (int)rows; i++)
            for (int j = 0; j < (int)cols; j++) out[(size_t)i * cols + j] = x[(size_t)j * l + i];
    } else {
        memcpy(out, x, n * sizeof *out);
    }
}

static lilm_status muon_init(lilm_optim_group *g, lilm_model *m, const lilm_train_config *t)
{
    if (m->be->device != LILM_DEVICE_CPU)
        return lilm_errorf(LILM_ERR_UNSUPPORTED, "train.optimizer=muon is not on %s yet (CPU only)\n"
                           "HINT: --set train.optimizer=adamw, or train on --device cpu", m->be->name);
    size_t most = 0;
    for (int k = 0; k < g->n; k++) {
        const lilm_param *p = &m->params[g->params[k]];
        size_t need = scratch_floats(p->shape[0], p->shape[1]) + p->numel;
        if (need > most) most = need;
    }
    muon_impl *u = calloc(1, sizeof *u);
    if (u) u->scratch = malloc(most * sizeof *u->scratch);
    if (!u || !u->scratch) {
        free(u);
        return lilm_errorf(LILM_ERR_OOM, "out of memory for Muon's work space");
    }
    u->lr_ratio = t->muon_lr / t->lr;
    u->momentum = (float)t->muon_momentum;
    u->weight_decay = (float)t->muon_weight_decay;
    u->nesterov = t->muon_nesterov;
    u->ns_steps = (int)t->muon_ns_steps;
    g->impl = u;
    return LILM_OK;
}

static void muon_step(lilm_optim_group *g, lilm_model *m, double lr)
{
    muon_impl *u = g->impl;
    g->counters[0].value++;
    float mlr = (float)(lr * u->lr_ratio);
    for (int k = 0; k < g->n; k++) {
        const lilm_param *p = &m->params[g->params[k]];
        float *w = m->param_block + p->offset, *gr = m->grad_block + p->offset;
        float *buf = g->slots[0].block + g->offsets[k];
        float *upd = u->scratch, *ns = u->scratch + p->numel;
        for (size_t i = 0; i < p->numel; i++) {
            buf[i] = u->momentum * buf[i] + gr[i];
            upd[i] = u->nesterov ? gr[i] + u->momentum * buf[i] : buf[i];
        }
        lilm_muon_newton_schulz(upd, upd, p->shape[0], p->shape[1], u->ns_steps, ns);
        double ratio = (double)p->shape[0] / (double)p->shape[1];
        float scale = mlr * (float)sqrt(ratio > 1 ? ratio : 1.0);
        float keep = 1.0f - mlr * u->weight_decay;
        for (size_t i = 0; i < p->numel; i++) w[i] = w[i] * keep - scale * upd[i];
    }
}

static void muon_free(lilm_optim_group *g)
{
    muon_impl *u = g->impl;
    if (u) free(u->scratch);
    free(u);
    g->impl = NULL;
}

const lilm_optim_kind lilm_optim_muon = {
    .name = "muon",
    .n_slots = 1,
    .slot_prefix = muon_slots,
    .n_counters = 1,
    .counter_name = muon_counters,
    .init = muon_init,
    .step = muon_step,
    .free = muon_free,
};
