/*
 * test_model.c: the whole model on the CPU backend.
 *
 * - parameter table: the reference's names, order and counts (7,296,768 for
 *   the SimpleStories config at 5 layers, 11,193,792 for BabyLM at 20);
 * - a central finite-difference check of the mean loss w.r.t. sampled entries
 *   of EVERY parameter tensor, for several architectures (RMSNorm+GELU,
 *   LayerNorm+ReLU+latent attention, no norm + no FFN, RMSNorm+ReLU^2,
 *   RMSNorm+SwiGLU). fp32 throughout, so the
 *   tolerance is |fd - analytic| <= 2e-2 * max(|fd|, |analytic|) + 2e-4 with
 *   h = 1e-2 on a loss of order 1;
 * - the spike guard and the training step lower the loss on a fixed batch;
 * - determinism: two identical runs give bit-identical weights.
 */
#include "test.h"

#include "core/config.h"
#include "core/rng.h"
#include "model/model_impl.h"
#include "ops/backend.h"
#include "train/optimizer.h"
#include "train/schedule.h"
#include "train/step.h"

static lilm_model_config tiny(lilm_norm_kind norm, lilm_act_kind act, int64_t latent)
{
    lilm_model_config c = {0};
    c.vocab_size = 23;
    c.d_model = 16;
    c.n_layers = 2;
    c.n_heads = 2;
    c.qk_dim = 4;
    c.v_dim = 6;
    c.ffn_dim = 24;
    c.context = 8;
    c.latent_dim = latent;
    c.norm = norm;
    c.activation = act;
    c.rope_base = 10000;
    c.norm_eps = 0;
    c.pad_id = 3;
    return c;
}

static int64_t count_params(const lilm_model_config *c)
{
    lilm_model m;
    memset(&m, 0, sizeof m);
    m.cfg = *c;
    if (lilm__model_build_table(&m) != LILM_OK) return -1;
    int64_t n = (int64_t)m.n_elems;
    free(m.params);
    free(m.layer_first);
    return n;
}

static void test_param_counts(lilm_test *t)
{
    lilm_model_config ss = {.vocab_size = 8000, .d_model = 288, .n_layers = 5, .n_heads = 3, .qk_dim = 96,
                            .v_dim = 96, .ffn_dim = 1152, .context = 512, .norm = LILM_NORM_RMS,
                            .activation = LILM_ACTKIND_GELU, .rope_base = 10000, .pad_id = 3};
    lilm_model_config baby = {.vocab_size = 12000, .d_model = 192, .n_layers = 20, .n_heads = 6, .qk_dim = 32,
                              .v_dim = 32, .ffn_dim = 768, .context = 512, .norm = LILM_NORM_RMS,
                              .activation = LILM_ACTKIND_GELU, .rope_base = 10000, .pad_id = 3};
    LT_EQ_INT(t, count_params(&ss), 7296768);
    /* the config module's closed-form count agrees with the table for every variant */
    for (int norm = 0; norm < 3; norm++)
        for (int act = 0; act < 3; act++)
            for (int lat = 0; lat < 2; lat++) {
                lilm_model_config c = tiny((lilm_norm_kind)norm, (lilm_act_kind)act, lat ? 5 : 0);
                LT_EQ_INT(t, count_params(&c), lilm_model_config_param_count(&c));
            }
    LT_EQ_INT(t, count_params(&baby), 11193792);

    lilm_model m;
    memset(&m, 0, sizeof m);
    m.cfg = tiny(LILM_NORM_LAYER, LILM_ACTKIND_RELU, 5);
    LT_OK(t, lilm__model_build_table(&m));
    const char *want[] = {
        "embedding.weight",
        "transformer_stack.0.attention_norm.weight", "transformer_stack.0.attention_norm.bias",
        "transformer_stack.0.feedforward_norm.weight", "transformer_stack.0.feedforward_norm.bias",
        "transformer_stack.0.attention.q.weight", "transformer_stack.0.attention.q.bias",
        "transformer_stack.0.attention.kv.0.weight", "transformer_stack.0.attention.kv.0.bias",
        "transformer_stack.0.attention.kv.1.weight", "transformer_stack.0.attention.kv.1.bias",
        "transformer_stack.0.attention.reproject.weight", "transformer_stack.0.attention.reproject.bias",
        "transformer_stack.0.ffn.0.weight", "transformer_stack.0.ffn.0.bias",
        "transformer_stack.0.ffn.3.weight", "transformer_stack.0.ffn.3.bias",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        LT_CHECK(t, strcmp(m.params[i].name, want[i]) == 0, "param %zu is %s, want %s", i, m.params[i].name, want[i]);
    LT_TRUE(t, strcmp(m.params[m.n_params - 1].name, "final_norm.bias") == 0);
    LT_EQ_INT(t, m.params[9].shape[0], 2 * (4 + 6));
    LT_EQ_INT(t, m.params[9].shape[1], 5);
    free(m.params);
    free(m.layer_first);
}

static void make_batch(int32_t *in, int32_t *tg, size_t N, int64_t V, uint64_t seed)
{
    lilm_rng r;
    lilm_rng_seed(&r, seed);
    for (size_t i = 0; i < N; i++) {
        in[i] = (int32_t)lilm_rng_below(&r, (uint64_t)V);
        tg[i] = (int32_t)lilm_rng_below(&r, (uint64_t)V);
    }
    tg[1] = 3; /* pad targets are ignored */
    tg[N - 2] = 3;
}

static double mean_loss(lilm_model *m, const int32_t *in, const int32_t *tg, size_t B, size_t T)
{
    double sum = 0;
    int64_t n = 0;
    if (lilm_model_forward(m, in, tg, B, T, 0.0f, &sum, &n) != LILM_OK) return NAN;
    return sum / (double)n;
}

/* h: the finite-difference step (1e-2; smaller where the loss's second
 * derivative jumps, as with ReLU^2, whose O(h) error would show). */
static void gradcheck_h(lilm_test *t, lilm_model_config c, double h)
{
    lilm_backend *be = NULL;
    LT_OK(t, lilm_cpu_backend_create(&be, 2));
    if (!be) return;
    lilm_model m;
    const size_t B = 2, T = 5, N = B * T;
    LT_OK(t, lilm_model_init(&m, &c, be, B, T, 7));
    int32_t in[10], tg[10];
    make_batch(in, tg, N, c.vocab_size, 11);
    double sum = 0;
    int64_t cnt = 0;
    lilm_model_zero_grad(&m);
    LT_OK(t, lilm_model_forward(&m, in, tg, B, T, 0.0f, &sum, &cnt));
    LT_OK(t, lilm_model_forward(&m, in, tg, B, T, (float)(1.0 / (double)cnt), &sum, &cnt));
    LT_OK(t, lilm_model_backward(&m));
    float *grad = malloc(m.n_elems * sizeof(float));
    memcpy(grad, m.grad_block, m.n_elems * sizeof(float));
    int worst_i = -1;
    double worst = 0;
    lilm_rng r;
    lilm_rng_seed(&r, 99);
    for (int i = 0; i < m.n_params; i++) {
        const lilm_param *p = &m.params[i];
        for (int s = 0; s < 4; s++) {
            size_t k = p->offset + (size_t)lilm_rng_below(&r, p->numel);
            float orig = m.param_block[k];
            m.param_block[k] = orig + (float)h;
            double lp = mean_loss(&m, in, tg, B, T);
            m.param_block[k] = orig - (float)h;
            double lm = mean_loss(&m, in, tg, B, T);
            m.param_block[k] = orig;
            double fd = (lp - lm) / (2 * h), an = grad[k];
            double err = fabs(fd - an), tol = 2e-2 * fmax(fabs(fd), fabs(an)) + 2e-4;
            LT_CHECK(t, err <= tol, "%s[%zu]: finite difference %.6g vs backward %.6g", p->name, k - p->offset, fd, an);
            if (err / tol > worst) {
                worst = err / tol;
                worst_i = i;
            }
        }
    }
    printf("  gradcheck: %d tensors, worst error/tolerance %.3f (%s)\n", m.n_params, worst,
           worst_i >= 0 ? m.params[worst_i].name : "-");
    free(grad);
    lilm_model_free(&m);
    lilm_backend_free(be);
}

static void gradcheck(lilm_test *t, lilm_model_config c) { gradcheck_h(t, c, 1e-2); }

static void test_grad_rms_gelu(lilm_test *t) { gradcheck(t, tiny(LILM_NORM_RMS, LILM_ACTKIND_GELU, 0)); }
static void test_grad_layer_relu_latent(lilm_test *t) { gradcheck(t, tiny(LILM_NORM_LAYER, LILM_ACTKIND_RELU, 5)); }
static void test_grad_nonorm_noffn(lilm_test *t) { gradcheck(t, tiny(LILM_NORM_NONE, LILM_ACTKIND_NONE, 0)); }

static void test_grad_rms_relu2(lilm_test *t) { gradcheck_h(t, tiny(LILM_NORM_RMS, LILM_ACT_RELU2, 0), 5e-3); }

static void test_grad_rms_swiglu(lilm_test *t) { gradcheck(t, tiny(LILM_NORM_RMS, LILM_ACT_SWIGLU, 0)); }

/* SwiGLU's W1 is (2F, C) under the same name; the count follows the walk. */
static void test_param_counts_swiglu(lilm_test *t)
{
    lilm_model m;
    memset(&m, 0, sizeof m);
    m.cfg = tiny(LILM_NORM_RMS, LILM_ACT_SWIGLU, 0);
    LT_OK(t, lilm__model_build_table(&m));
    const lilm_param *w1 = lilm_model_find_param(&m, "transformer_stack.0.ffn.0.weight");
    const lilm_param *b1 = lilm_model_find_param(&m, "transformer_stack.0.ffn.0.bias");
    const lilm_param *w2 = lilm_model_find_param(&m, "transformer_stack.0.ffn.3.weight");
    LT_TRUE(t, w1 && b1 && w2);
    if (w1 && b1 && w2) {
        LT_EQ_INT(t, w1->shape[0], 48);
        LT_EQ_INT(t, w1->shape[1], 16);
        LT_EQ_INT(t, b1->numel, 48);
        LT_EQ_INT(t, w2->shape[1], 24);
        LT_EQ_INT(t, w1->role, LILM_ROLE_W1);
    }
    lilm_model_config g = m.cfg;
    g.activation = LILM_ACT_GELU;
    /* two layers, each W1 and b1 F * (C + 1) = 24 * 17 larger */
    LT_EQ_INT(t, (int64_t)m.n_elems, lilm_model_config_param_count(&g) + 2 * 24 * 17);
    LT_EQ_INT(t, (int64_t)m.n_elems, lilm_model_config_param_count(&m.cfg));
    free(m.params);
    free(m.layer_first);
}

typedef struct fixed_source {
    int32_t in[16], tg[16];
    size_t B, T;
} fixed_source;

static lilm_status fixed_next(void *ctx, lilm_batch *b)
{
    fixed_source *s = ctx;
    b->inputs = s->in;
    b->targets = s->tg;
    b->B = s->B;
    b->T = s->T;
    b->n_targets = (int64_t)(s->B * s->T);
    return LILM_OK;
}

static void train_few(lilm_model *m, int steps, double *first, double *last)
{
    lilm_train_config tc = {.lr = 1e-2, .beta1 = 0.9, .beta2 = 0.95, .adam_eps = 1e-8, .weight_decay = 0.02,
                            .grad_clip = 1.0};
    lilm_optimizer opt;
    lilm_optimizer_init(&opt, m, &tc);
    fixed_source src = {.B = 2, .T = 8};
    make_batch(src.in, src.tg, 16, m->cfg.vocab_size, 5);
    lilm_batch_source bs = {&src, fixed_next};
    for (int s = 0; s < steps; s++) {
        lilm_step_result res;
        lilm_train_step(m, &opt, NULL, &bs, 2, 1e-2, NULL, &res);
        if (s == 0) *first = res.loss;
        *last = res.loss;
    }
    lilm_optimizer_free(&opt);
}

static void test_training_lowers_loss_and_is_deterministic(lilm_test *t)
{
    lilm_backend *be = NULL;
    LT_OK(t, lilm_cpu_backend_create(&be, 2));
    if (!be) return;
    lilm_model_config c = tiny(LILM_NORM_RMS, LILM_ACTKIND_GELU, 0);
    lilm_model a, b;
    LT_OK(t, lilm_model_init(&a, &c, be, 2, 8, 1));
    LT_OK(t, lilm_model_init(&b, &c, be, 2, 8, 1));
    double f1, l1, f2, l2;
    train_few(&a, 30, &f1, &l1);
    train_few(&b, 30, &f2, &l2);
    LT_CHECK(t, l1 < 0.5 * f1, "loss %.4f -> %.4f did not halve on a fixed batch", f1, l1);
    LT_TRUE(t, memcmp(a.param_block, b.param_block, a.n_elems * sizeof(float)) == 0);
    lilm_model_free(&a);
    lilm_model_free(&b);
    lilm_backend_free(be);
}

static void test_spike_guard(lilm_test *t)
{
    lilm_spike_guard g;
    LT_OK(t, lilm_spike_guard_init(&g, 4, 10.0));
    LT_EQ_INT(t, lilm_spike_guard_check(&g, 2.0), 0);
    LT_EQ_INT(t, lilm_spike_guard_check(&g, 3.0), 0);
    LT_EQ_INT(t, lilm_spike_guard_check(&g, 25.0), 1); /* > 10 x median(2, 3) = 20 */
    LT_EQ_INT(t, lilm_spike_guard_check(&g, 19.0), 0);
    LT_EQ_INT(t, g.n, 3);
    lilm_spike_guard_free(&g);
}

static void test_onecycle_matches_torch(lilm_test *t)
{
    /* torch.optim.lr_scheduler.OneCycleLR(max_lr=1e-2, total_steps=100, pct_start=0.1,
     * div_factor=6, final_div_factor=20, cycle_momentum=False).get_last_lr() at steps: */
    static const struct { int step; double lr; } want[] = {
        {0, 0.001666666666666667}, {1, 0.0019179474133920477}, {5, 0.006556867406945543}, {9, 0.01},
        {10, 0.009996979517303018}, {50, 0.0057317332922603255}, {99, 8.333333333333334e-05},
    };
    lilm_train_config tc = {.schedule = LILM_SCHED_ONECYCLE, .lr = 1e-2, .pct_start = 0.1, .div_factor = 6,
                            .final_div_factor = 20};
    lilm_schedule s;
    lilm_schedule_from_config(&s, &tc, 100);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        LT_NEAR(t, lilm_schedule_lr(&s, want[i].step), want[i].lr, 1e-15);
}

/* model.zero_init_proj zeroes exactly the reprojection and W2 weights; every other tensor is unchanged. */
static void test_zero_init_proj(lilm_test *t)
{
    lilm_model a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.cfg = tiny(LILM_NORM_RMS, LILM_ACTKIND_GELU, 0);
    b.cfg = a.cfg;
    b.cfg.zero_init_proj = 1;
    LT_OK(t, lilm__model_build_table(&a));
    LT_OK(t, lilm__model_build_table(&b));
    float *wa = calloc(a.n_elems, sizeof *wa), *wb = calloc(b.n_elems, sizeof *wb);
    LT_TRUE(t, wa && wb && a.n_elems == b.n_elems);
    lilm__model_init_weights(&a, wa, 7);
    lilm__model_init_weights(&b, wb, 7);
    int zeroed = 0;
    for (int i = 0; i < a.n_params; i++) {
        const lilm_param *p = &a.params[i];
        int proj = p->role == LILM_ROLE_PROJ_W || p->role == LILM_ROLE_W2;
        double na = 0, nb = 0, diff = 0;
        for (size_t k = 0; k < p->numel; k++) {
            na += fabs(wa[p->offset + k]);
            nb += fabs(wb[p->offset + k]);
            diff += fabs(wa[p->offset + k] - wb[p->offset + k]);
        }
        if (proj) {
            zeroed++;
            LT_CHECK(t, na > 0 && nb == 0, "%s: default sum |w| %g, zero-init %g", p->name, na, nb);
        } else {
            LT_CHECK(t, diff == 0, "%s changed under zero_init_proj", p->name);
        }
    }
    LT_EQ_INT(t, zeroed, 2 * a.cfg.n_layers);
    free(wa);
    free(wb);
    free(a.params);
    free(a.layer_first);
    free(b.params);
    free(b.layer_first);
}

static void test_wsd_closed_form(lilm_test *t)
{
    /* 101 steps (positions 0..100), warm-up over 10, stable to 80, linear decay to 0.1 x lr at 100 */
    static const struct { double pos, lr; } want[] = {
        {0, 1e-2 / 11}, {5, 6e-2 / 11}, {10, 1e-2}, {50, 1e-2}, {80, 1e-2},
        {85.5, 1e-2 * (1 - 0.9 * 5.5 / 20)}, {90, 1e-2 * (1 - 0.9 * 0.5)}, {100, 1e-3}, {150, 1e-3},
    };
    lilm_train_config tc = {.schedule = LILM_SCHED_WSD, .lr = 1e-2, .warmup_frac = 0.1, .decay_frac = 0.2,
                            .min_lr_frac = 0.1};
    lilm_schedule s;
    lilm_schedule_from_config(&s, &tc, 101);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        LT_NEAR(t, lilm_schedule_lr(&s, want[i].pos), want[i].lr, 1e-15);
    /* no decay share: the peak holds to the end */
    tc.decay_frac = 0;
    lilm_schedule_from_config(&s, &tc, 101);
    LT_NEAR(t, lilm_schedule_lr(&s, 100), 1e-2, 1e-15);
}

static const lilm_test_case cases[] = {
    {"param_counts", test_param_counts},
    {"grad_rms_gelu", test_grad_rms_gelu},
    {"grad_layer_relu_latent", test_grad_layer_relu_latent},
    {"grad_nonorm_noffn", test_grad_nonorm_noffn},
    {"grad_rms_relu2", test_grad_rms_relu2},
    {"grad_rms_swiglu", test_grad_rms_swiglu},
    {"param_counts_swiglu", test_param_counts_swiglu},
    {"training_lowers_loss_and_is_deterministic", test_training_lowers_loss_and_is_deterministic},
    {"spike_guard", test_spike_guard},
    {"onecycle_matches_torch", test_onecycle_matches_torch},
    {"wsd_closed_form", test_wsd_closed_form},
    {"zero_init_proj", test_zero_init_proj},
};
LILM_TEST_MAIN(cases)
