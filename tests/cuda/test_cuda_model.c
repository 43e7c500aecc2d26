/*
 * test_cuda_model.c: the whole model on the CUDA backend against the same
 * model on the CPU backend.
 *
 * For each model config of the parity fixtures (tests/fixtures/NAME.safetensors:
 * RMSNorm/LayerNorm/no norm, GELU/ReLU/no FFN, latent kv, the SimpleStories
 * and BabyLM layer shapes) plus one BabyLM-shaped model with the real 12K
 * vocabulary, both backends build the model from the same seed (weights are
 * made on the host and uploaded), run one training forward on the same
 * random batch (with pad targets) and the backward, and the test compares
 *   loss                  |gpu - cpu| <= 2e-2 * |cpu|
 *   logits, every grad    max|gpu - cpu| / max|cpu| <= 3e-2 (logits), 1e-1 (grads;
 *                         3e-1 for W1 under ReLU, see below)
 * The GPU runs the whole stack in bf16 (activations and weight copies). For
 * scale: the reference PyTorch model (tests/torch_ref/model.py) run entirely
 * in bf16 against fp32 at these shapes gives loss 1e-4, logits 4e-3 and worst
 * grad 1.4e-2 (q.weight of layer 0), so the bounds leave ~7x room; a wrong
 * stride, transpose, mask or sign gives errors of order 1. It prints the
 * measured errors per config and the worst tensor. Then both take one
 * optimizer step (sanitize, clip, AdamW, weight-copy refresh): the gradient
 * norms must agree to 5%, and in every tensor at least 90% of the weights
 * whose gradient is clear of bf16 noise must move alike (within half the
 * learning rate; at step 1 AdamW moves each weight by about +-lr, so a
 * skipped or misplaced tensor fails this).
 *
 * Needs a GPU (LILM_CUDA_TEST_SELF=1: a second CPU backend instead).
 */
#include "test.h"

#include "cuda/cuda_env.h"

#include "core/safetensors.h"
#include "model/model.h"
#include "model/model_config_json.h"
#include "train/optimizer.h"

#include <stdint.h>
#include <string.h>

static lilm_status dev_backend(lilm_backend **be)
{
    const char *self = getenv("LILM_CUDA_TEST_SELF");
    if (self && strcmp(self, "1") == 0) return lilm_cpu_backend_create(be, 0);
    lilm_backend_options o;
    lilm_test_cuda_options(&o, NULL); /* LILM_CUDA_ATTN, LILM_CUDA_EPILOGUE */
    return lilm_cuda_backend_create_opts(be, 0, &o);
}

/* max|a - b| / max|b| over n values */
static double scaled_err(const float *a, const float *b, size_t n)
{
    double md = 0, mb = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= md)) md = d; /* NaN propagates */
        if (fabs((double)b[i]) > mb) mb = fabs((double)b[i]);
    }
    return mb > 0 ? md / mb : md;
}

typedef struct run {
    lilm_backend *be;
    lilm_model m;
    double loss_sum;
    int64_t counted;
    float *logits; // (B*T, V) host
    float *grads;  // (n_elems) host
    float *before; // (n_elems) host weights before the optimizer step
    float *after;  // (n_elems) host weights after it
    double grad_norm;
} run;

static int run_model(lilm_test *t, run *r, lilm_backend *be, const lilm_model_config *mc, size_t B, size_t T,
                     const int32_t *in, const int32_t *tg)
{
    memset(r, 0, sizeof *r);
    r->be = be;
    lilm_status s = lilm_model_init(&r->m, mc, be, B, T, 7);
    LT_CHECK(t, s == LILM_OK, "model init on %s: %s", be->name, lilm_last_error());
    if (s != LILM_OK) return 0;
    size_t V = (size_t)mc->vocab_size, n = r->m.n_elems;
    lilm_model_zero_grad(&r->m);
    LT_OK(t, lilm_model_forward(&r->m, in, tg, B, T, 0.0f, &r->loss_sum, &r->counted));
    r->logits = malloc(B * T * V * sizeof(float));
    r->grads = malloc(n * sizeof(float));
    if (!r->logits || !r->grads) abort();
    LT_OK(t, lilm_model_all_logits(&r->m, r->logits));
    double sum = 0;
    int64_t cnt = 0;
    LT_OK(t, lilm_model_forward(&r->m, in, tg, B, T, (float)(1.0 / (double)r->counted), &sum, &cnt));
    LT_OK(t, lilm_model_backward(&r->m));
    LT_OK(t, be->ops->sync(be));
    LT_OK(t, be->ops->download(be, r->grads, r->m.grad_block, n * sizeof(float)));
    /* one optimizer step (sanitize, clip, AdamW, weight copy refresh) with the default settings */
    r->before = malloc(n * sizeof(float));
    r->after = malloc(n * sizeof(float));
    if (!r->before || !r->after) abort();
    LT_OK(t, be->ops->download(be, r->before, r->m.param_block, n * sizeof(float)));
    lilm_config cfg;
    lilm_config_defaults(&cfg);
    lilm_optimizer opt;
    LT_OK(t, lilm_optimizer_init(&opt, &r->m, &cfg.train));
    lilm_step_stats st;
    LT_OK(t, lilm_optimizer_step(&opt, &r->m, 1e-3, &st));
    r->grad_norm = st.grad_norm;
    lilm_optimizer_free(&opt);
    LT_OK(t, be->ops->sync(be));
    LT_OK(t, be->ops->download(be, r->after, r->m.param_block, n * sizeof(float)));
    return 1;
}

static void run_free(run *r)
{
    if (r->be) lilm_model_free(&r->m);
    free(r->logits);
    free(r->grads);
    free(r->before);
    free(r->after);
}

static void compare_models(lilm_test *t, const char *name, const lilm_model_config *mc, size_t B, size_t T)
{
    lilm_backend *cpu = NULL, *dev = NULL;
    LT_OK(t, lilm_cpu_backend_create(&cpu, 0));
    lilm_status s = dev_backend(&dev);
    LT_CHECK(t, s == LILM_OK, "cuda backend: %s (this test needs a GPU)", lilm_last_error());
    if (!cpu || !dev) {
        if (cpu) lilm_backend_free(cpu);
        return;
    }
    size_t N = B * T, V = (size_t)mc->vocab_size;
    int32_t *in = malloc(N * sizeof(int32_t)), *tg = malloc(N * sizeof(int32_t));
    if (!in || !tg) abort();
    uint64_t x = 88172645463325252ULL;
    for (size_t i = 0; i < N; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        in[i] = (int32_t)(x % V);
        tg[i] = i % 11 == 5 ? (int32_t)mc->pad_id : (int32_t)((x >> 20) % V);
    }
    run rc, rg;
    int ok = run_model(t, &rc, cpu, mc, B, T, in, tg) && run_model(t, &rg, dev, mc, B, T, in, tg);
    if (ok) {
        double lc = rc.loss_sum / (double)rc.counted, lg = rg.loss_sum / (double)rg.counted;
        double e_loss = fabs(lg - lc) / fabs(lc);
        double e_logits = scaled_err(rg.logits, rc.logits, N * V);
        double e_grad = 0;
        const char *worst = "-";
        for (int i = 0; i < rc.m.n_params; i++) {
            const lilm_param *p = &rc.m.params[i];
            double e = scaled_err(rg.grads + p->offset, rc.grads + p->offset, p->numel);
            /* ReLU's derivative is a step: a pre-activation near 0 whose sign differs between
             * the bf16 GPU pass and the fp32 CPU pass switches a whole row of W1's gradient on
             * or off. On the H100 this measured 0.15-0.18 for ffn.0 of the tiny ReLU model
             * (loss, logits, all other grads and 99.6% of the AdamW moves agreeing), so W1
             * under ReLU gets 0.3; everything else keeps 0.1. */
            int relu_w1 = mc->activation == LILM_ACTKIND_RELU && strstr(p->name, "ffn.0.weight");
            double bound = relu_w1 ? 3e-1 : 1e-1;
            LT_CHECK(t, e <= bound, "%s: grad of %s: scaled error %.3g > %g", name, p->name, e, bound);
            if (!(e <= e_grad)) e_grad = e, worst = p->name;
        }
        /* After one AdamW step every weight moved by about lr (m/sqrt(v) = +-1 at step 1), so the
         * two backends must agree on the move of the weights whose gradient stands clear of
         * bf16's noise: |g| >= 3% of the tensor's largest and >= 1e-4 of the model's largest
         * (the k part of the kv bias, for one, has a gradient that is zero but for rounding). */
        double gmax_all = 0;
        for (size_t j = 0; j < rc.m.n_elems; j++)
            if (fabs((double)rc.grads[j]) > gmax_all) gmax_all = fabs((double)rc.grads[j]);
        double worst_agree = 1.0;
        const char *worst_step = "-";
        for (int i = 0; i < rc.m.n_params; i++) {
            const lilm_param *p = &rc.m.params[i];
            double gmax = 0;
            for (size_t j = p->offset; j < p->offset + p->numel; j++)
                if (fabs((double)rc.grads[j]) > gmax) gmax = fabs((double)rc.grads[j]);
            double floor = fmax(3e-2 * gmax, 1e-4 * gmax_all);
            size_t agree = 0, counted = 0;
            for (size_t j = p->offset; j < p->offset + p->numel; j++) {
                if (!(fabs((double)rc.grads[j]) >= floor) || floor == 0) continue;
                double mc = (double)rc.after[j] - rc.before[j], mg = (double)rg.after[j] - rg.before[j];
                agree += fabs(mg - mc) <= 5e-4; /* half the learning rate */
                counted++;
            }
            if (counted == 0) continue;
            double frac = (double)agree / (double)counted;
            LT_CHECK(t, frac >= 0.9, "%s: AdamW step of %s: only %.1f%% of the weights moved alike", name, p->name,
                     100.0 * frac);
            if (frac < worst_agree) worst_agree = frac, worst_step = p->name;
        }
        double e_norm = fabs(rg.grad_norm - rc.grad_norm) / rc.grad_norm;
        printf("  %-28s B=%zu T=%zu: loss cpu %.6f gpu %.6f (rel %.2e), logits %.2e, grads %.2e (worst %s), "
               "grad norm %.2e, AdamW moves alike %.1f%% (worst %s)\n", name, B, T, lc, lg, e_loss, e_logits, e_grad,
               worst, e_norm, 100.0 * worst_agree, worst_step);
        LT_CHECK(t, e_norm <= 5e-2, "%s: grad norm %.6g vs cpu %.6g", name, rg.grad_norm, rc.grad_norm);
        LT_EQ_INT(t, rg.counted, rc.counted);
        LT_CHECK(t, e_loss <= 2e-2, "%s: loss %.6f vs cpu %.6f", name, lg, lc);
        LT_CHECK(t, e_logits <= 3e-2, "%s: logits scaled error %.3g", name, e_logits);
    }
    run_free(&rc);
    run_free(&rg);
    free(in);
    free(tg);
    lilm_backend_free(dev);
    lilm_backend_free(cpu);
}

/* The model config stored in a parity fixture's metadata. */
static int fixture_config(lilm_test *t, const char *name, lilm_model_config *mc)
{
    char path[512];
    snprintf(path, sizeof path, "tests/fixtures/%s.safetensors", name);
    lilm_st_file *f = NULL;
    lilm_status s = lilm_st_open(&f, path);
    LT_CHECK(t, s == LILM_OK, "cannot open %s: %s", path, lilm_last_error());
    if (s != LILM_OK) return 0;
    s = lilm_model_config_from_json(lilm_st_metadata_get(f, "lilm_model"), mc);
    LT_CHECK(t, s == LILM_OK, "%s: model config: %s", path, lilm_last_error());
    lilm_st_close(f);
    return s == LILM_OK;
}

static void fixture_case(lilm_test *t, const char *name, size_t B)
{
    lilm_model_config mc;
    if (fixture_config(t, name, &mc)) compare_models(t, name, &mc, B, (size_t)mc.context);
}

static void test_tiny_latent(lilm_test *t) { fixture_case(t, "tiny_latent", 3); }
static void test_tiny_layernorm_relu(lilm_test *t) { fixture_case(t, "tiny_layernorm_relu", 3); }
static void test_tiny_nonorm_noffn(lilm_test *t) { fixture_case(t, "tiny_nonorm_noffn", 3); }
static void test_tiny_relu2(lilm_test *t) { fixture_case(t, "tiny_relu2", 3); }
static void test_tiny_swiglu(lilm_test *t) { fixture_case(t, "tiny_swiglu", 3); }
static void test_simplestories_shape(lilm_test *t) { fixture_case(t, "simplestories_shape", 4); }
static void test_babylm_shape(lilm_test *t) { fixture_case(t, "babylm_shape", 4); }

static void test_babylm_vocab(lilm_test *t)
{
    lilm_model_config mc;
    if (!fixture_config(t, "babylm_shape", &mc)) return;
    mc.vocab_size = 12000;
    mc.context = 256;
    compare_models(t, "babylm, vocab 12000", &mc, 2, 256);
}

static const lilm_test_case cases[] = {
    {"tiny_latent", test_tiny_latent},
    {"tiny_layernorm_relu", test_tiny_layernorm_relu},
    {"tiny_nonorm_noffn", test_tiny_nonorm_noffn},
    {"tiny_relu2", test_tiny_relu2},
    {"tiny_swiglu", test_tiny_swiglu},
    {"simplestories_shape", test_simplestories_shape},
    {"babylm_shape", test_babylm_shape},
    {"babylm_vocab", test_babylm_vocab},
};

LILM_TEST_MAIN(cases)
