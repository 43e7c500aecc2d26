/*
 * test_optimizer.c: the optimizer interface and the model's inference mode.
 *
 * - one AdamW group covers every parameter in table order; its state is two
 *   named slots ("m.", "v.") and the counter "adamw_step", which counts steps;
 *   the state bytes equal the memory plan's count (lilm_optimizer_plan_bytes,
 *   and the default the model plan adds);
 * - a checkpoint round trip restores the optimizer's named state exactly, and
 *   the optimizer file keeps the names "m.<param>", "v.<param>", "adamw_step";
 * - an inference-mode model has no gradients, holds less memory, refuses a
 *   training forward and an optimizer, and computes bit-identical losses and
 *   logits (its layers share one layer's activations).
 */
#include "test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/safetensors.h"
#include "model/model.h"
#include "ops/backend.h"
#include "train/run_state.h"
#include "train/optimizer.h"

static lilm_model_config small(void)
{
    lilm_model_config c = {.vocab_size = 41, .d_model = 16, .n_layers = 2, .n_heads = 2, .qk_dim = 8, .v_dim = 8,
                           .ffn_dim = 32, .context = 8, .norm = LILM_NORM_RMS, .activation = LILM_ACTKIND_GELU,
                           .rope_base = 10000, .pad_id = 3};
    return c;
}

static void batch(int32_t *in, int32_t *tg, size_t n, int seed)
{
    for (size_t i = 0; i < n; i++) {
        in[i] = (int32_t)((i * 7 + (size_t)seed) % 41);
        tg[i] = (int32_t)((i * 11 + 5 + (size_t)seed) % 41);
    }
}

static void train_steps(lilm_test *t, lilm_model *m, lilm_optimizer *opt, int steps)
{
    int32_t in[16], tg[16];
    for (int s = 0; s < steps; s++) {
        batch(in, tg, 16, s);
        lilm_model_zero_grad(m);
        LT_OK(t, lilm_model_forward(m, in, tg, 2, 8, 1.0f / 16, NULL, NULL));
        LT_OK(t, lilm_model_backward(m));
        LT_OK(t, lilm_optimizer_step(opt, m, 1e-2, NULL));
    }
}

static void test_named_state(lilm_test *t)
{
    lilm_backend *be = NULL;
    LT_OK(t, lilm_cpu_backend_create(&be, 1));
    if (!be) return;
    lilm_model_config c = small();
    lilm_train_config tc;
    lilm_config full;
    lilm_config_defaults(&full);
    tc = full.train;
    lilm_model m;
    LT_OK(t, lilm_model_init(&m, &c, be, 2, 8, 1));
    lilm_optimizer opt;
    LT_OK(t, lilm_optimizer_init(&opt, &m, &tc));
    LT_EQ_INT(t, opt.n_groups, 1);
    const lilm_optim_group *g = &opt.groups[0];
    LT_TRUE(t, g->kind == &lilm_optim_adamw);
    LT_EQ_INT(t, g->n, m.n_params);
    LT_EQ_INT(t, g->numel, m.n_elems);
    for (int k = 0; k < g->n; k++) LT_EQ_INT(t, g->params[k], k);
    LT_TRUE(t, strcmp(g->slots[0].prefix, "m.") == 0 && strcmp(g->slots[1].prefix, "v.") == 0);
    LT_EQ_INT(t, lilm_optimizer_state_bytes(&opt), 2 * m.n_elems * sizeof(float));
    LT_EQ_INT(t, lilm_optimizer_plan_bytes(&c, &tc), lilm_optimizer_state_bytes(&opt));
    LT_EQ_INT(t, lilm_model_plan_bytes(&c, be->act_dtype, 2, 8),
              lilm_model_plan_bytes_mode(&c, be->act_dtype, 2, 8, LILM_MODEL_TRAIN) + lilm_optimizer_plan_bytes(&c, NULL));
    LT_EQ_INT(t, lilm_model_plan_bytes_mode(&c, be->act_dtype, 2, 8, LILM_MODEL_TRAIN), lilm_model_bytes(&m) - m.scratch_bytes);
    lilm_optim_counter *step = lilm_optimizer_counter(&opt, "adamw_step");
    LT_TRUE(t, step != NULL && lilm_optimizer_counter(&opt, "nope") == NULL);
    train_steps(t, &m, &opt, 3);
    if (step) LT_EQ_INT(t, step->value, 3);

    /* checkpoint round trip of the named state */
    char dir[512];
    lilm_test_tmpdir(dir, sizeof dir);
    lilm_run_state rs;
    memset(&rs, 0, sizeof rs);
    rs.step = 3;
    rs.total_steps = 10;
    rs.best_val_loss = INFINITY;
    LT_OK(t, lilm_run_checkpoint_save(dir, "last", &m, &opt, NULL, &rs));
    char wpath[600], opath[600];
    snprintf(wpath, sizeof wpath, "%s/last.safetensors", dir);
    snprintf(opath, sizeof opath, "%s/last.optim.safetensors", dir);
    lilm_st_file *f = NULL;
    LT_OK(t, lilm_st_open(&f, opath));
    if (f) {
        const char *as = lilm_st_metadata_get(f, "adamw_step");
        LT_TRUE(t, as && strcmp(as, "3") == 0);
        for (int i = 0; i < m.n_params; i++) {
            char name[LILM_PARAM_NAME_MAX + 8];
            const lilm_st_tensor *x = NULL;
            snprintf(name, sizeof name, "m.%s", m.params[i].name);
            LT_OK(t, lilm_st_expect(f, name, LILM_ST_F32, m.params[i].ndim, m.params[i].shape, &x));
            snprintf(name, sizeof name, "v.%s", m.params[i].name);
            LT_OK(t, lilm_st_expect(f, name, LILM_ST_F32, m.params[i].ndim, m.params[i].shape, &x));
        }
        lilm_st_close(f);
    }
    lilm_model m2;
    lilm_optimizer o2;
    LT_OK(t, lilm_model_init(&m2, &c, be, 2, 8, 99));
    LT_OK(t, lilm_optimizer_init(&o2, &m2, &tc));
    LT_OK(t, lilm_run_checkpoint_load(wpath, &m2, &o2, &rs));
    LT_EQ_INT(t, o2.groups[0].counters[0].value, 3);
    for (int s = 0; s < 2; s++)
        LT_TRUE(t, memcmp(o2.groups[0].slots[s].block, opt.groups[0].slots[s].block, m.n_elems * sizeof(float)) == 0);
    /* the same next step from both */
    train_steps(t, &m, &opt, 1);
    train_steps(t, &m2, &o2, 1);
    LT_TRUE(t, memcmp(m.param_block, m2.param_block, m.n_elems * sizeof(float)) == 0);
    lilm_optimizer_free(&o2);
    lilm_model_free(&m2);
    lilm_optimizer_free(&opt);
    lilm_model_free(&m);
    lilm_backend_free(be);
}

static void check_inference(lilm_test *t, lilm_model_config c)
{
    lilm_backend *be = NULL;
    LT_OK(t, lilm_cpu_backend_create(&be, 1));
    if (!be) return;
    lilm_model tr, inf;
    LT_OK(t, lilm_model_init(&tr, &c, be, 2, 8, 5));
    LT_OK(t, lilm_model_init_mode(&inf, &c, be, 2, 8, 5, LILM_MODEL_INFERENCE));
    LT_TRUE(t, inf.grad_block == NULL && tr.grad_block != NULL);
    LT_TRUE(t, lilm_model_bytes(&inf) + tr.n_elems * sizeof(float) < lilm_model_bytes(&tr));
    LT_EQ_INT(t, lilm_model_plan_bytes_mode(&c, be->act_dtype, 2, 8, LILM_MODEL_INFERENCE),
              lilm_model_bytes(&inf) - inf.scratch_bytes);
    int32_t in[16], tg[16];
    batch(in, tg, 16, 0);
    double la = 0, lb = 0;
    LT_OK(t, lilm_model_forward(&tr, in, tg, 2, 8, 0.0f, &la, NULL));
    LT_OK(t, lilm_model_forward(&inf, in, tg, 2, 8, 0.0f, &lb, NULL));
    LT_TRUE(t, la == lb);
    float *ga = malloc(16 * 41 * sizeof(float)), *gb = malloc(16 * 41 * sizeof(float));
    if (ga && gb) {
        LT_OK(t, lilm_model_all_logits(&tr, ga));
        LT_OK(t, lilm_model_all_logits(&inf, gb));
        LT_TRUE(t, memcmp(ga, gb, 16 * 41 * sizeof(float)) == 0);
    }
    free(ga);
    free(gb);
    LT_STATUS(t, lilm_model_forward(&inf, in, tg, 2, 8, 1.0f, NULL, NULL), LILM_ERR_ARG);
    LT_STATUS(t, lilm_model_backward(&inf), LILM_ERR_ARG);
    lilm_model_zero_grad(&inf); /* a no-op */
    lilm_config full;
    lilm_config_defaults(&full);
    lilm_optimizer opt;
    LT_STATUS(t, lilm_optimizer_init(&opt, &inf, &full.train), LILM_ERR_ARG);
    lilm_model_free(&inf);
    lilm_model_free(&tr);
    lilm_backend_free(be);
}

static void test_inference_mode(lilm_test *t)
{
    lilm_model_config c = small();
    check_inference(t, c);
    c.n_layers = 3;
    c.norm = LILM_NORM_LAYER;
    c.activation = LILM_ACT_RELU;
    c.latent_dim = 6;
    check_inference(t, c);
    c.norm = LILM_NORM_NONE;
    c.activation = LILM_ACT_NONE;
    c.latent_dim = 0;
    check_inference(t, c);
}

/* LAPACK's symmetric eigensolver (OpenBLAS carries it). */
extern void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
                   double *work, const int *lwork, int *info);

/* Newton-Schulz maps random matrices of either orientation to singular values
 * inside the quintic's band (about [0.7, 1.2]): the eigenvalues of O O^T (or
 * O^T O, the smaller side) are the squared singular values. */
static void test_newton_schulz_band(lilm_test *t)
{
    static const int shapes[][2] = {{8, 32}, {32, 8}, {16, 16}, {20, 50}, {50, 20}, {64, 192}, {192, 64}};
    uint64_t state = 12345;
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        int r = shapes[k][0], c = shapes[k][1], s = r < c ? r : c;
        size_t n = (size_t)r * (size_t)c;
        float *g = malloc(n * sizeof *g), *o = malloc(n * sizeof *o);
        float *scratch = malloc((2 * n + 2 * (size_t)s * s) * sizeof *scratch);
        double *gram = calloc((size_t)s * s, sizeof *gram), *w = calloc((size_t)s, sizeof *w);
        double work[4096];
        for (size_t i = 0; i < n; i++) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            g[i] = (float)((double)(state >> 11) / 9007199254740992.0 - 0.5);
        }
        lilm_muon_newton_schulz(g, o, r, c, 5, scratch);
        for (int i = 0; i < s; i++)
            for (int j = 0; j < s; j++) {
                double acc = 0;
                if (r <= c)
                    for (int q = 0; q < c; q++) acc += (double)o[(size_t)i * c + q] * o[(size_t)j * c + q];
                else
                    for (int q = 0; q < r; q++) acc += (double)o[(size_t)q * c + i] * o[(size_t)q * c + j];
                gram[(size_t)i * s + j] = acc;
            }
        int lwork = 4096, info = 0;
        dsyev_("N", "U", &s, gram, &s, w, work, &lwork, &info);
        LT_EQ_INT(t, info, 0);
        double lo = sqrt(w[0] > 0 ? w[0] : 0), hi = sqrt(w[s - 1]);
        LT_CHECK(t, lo > 0.6 && hi < 1.25, "%dx%d: singular values in [%g, %g]", r, c, lo, hi);
        /* the same in place */
        lilm_muon_newton_schulz(g, g, r, c, 5, scratch);
        LT_CHECK(t, memcmp(g, o, n * sizeof *g) == 0, "%dx%d: in-place differs", r, c);
        free(g);
        free(o);
        free(scratch);
        free(gram);
        free(w);
    }
}

/* With train.optimizer=muon the layers' matrices form a Muon group (slot
 * "muon_m.", counter "muon_step"); the state bytes equal the plan's count. */
static void test_muon_groups(lilm_test *t)
{
    lilm_backend *be = NULL;
    LT_OK(t, lilm_cpu_backend_create(&be, 1));
    if (!be) return;
    lilm_model m;
    lilm_model_config c = small();
    LT_OK(t, lilm_model_init(&m, &c, be, 2, 8, 1));
    lilm_config cfg;
    lilm_config_defaults(&cfg);
    cfg.train.optimizer = LILM_OPT_MUON;
    lilm_optimizer opt;
    LT_OK(t, lilm_optimizer_init(&opt, &m, &cfg.train));
    LT_EQ_INT(t, opt.n_groups, 2);
    size_t muon_numel = 0;
    for (int i = 0; i < m.n_params; i++)
        if (m.params[i].ndim == 2 && m.params[i].layer >= 0) muon_numel += m.params[i].numel;
    LT_TRUE(t, opt.groups[1].kind == &lilm_optim_muon);
    LT_EQ_INT(t, (long long)opt.groups[1].numel, (long long)muon_numel);
    LT_TRUE(t, strcmp(opt.groups[1].slots[0].prefix, "muon_m.") == 0);
    LT_TRUE(t, lilm_optimizer_counter(&opt, "muon_step") != NULL);
    LT_EQ_INT(t, (long long)lilm_optimizer_state_bytes(&opt), (long long)lilm_optimizer_plan_bytes(&c, &cfg.train));
    LT_TRUE(t, lilm_optimizer_plan_bytes(&c, &cfg.train) < lilm_optimizer_plan_bytes(&c, NULL));
    train_steps(t, &m, &opt, 3);
    LT_EQ_INT(t, lilm_optimizer_counter(&opt, "muon_step")->value, 3);
    lilm_optimizer_free(&opt);
    lilm_model_free(&m);
    be->ops->destroy(be);
}

static const lilm_test_case cases[] = {
    {"newton_schulz_band", test_newton_schulz_band},
    {"muon_groups", test_muon_groups},
    {"named_state", test_named_state},
    {"inference_mode", test_inference_mode},
};

LILM_TEST_MAIN(cases)
