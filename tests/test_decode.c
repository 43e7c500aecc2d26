/*
 * test_decode.c: the KV-cache decoder and the sampler.
 *
 * - For several architectures (RMSNorm+GELU, LayerNorm+ReLU+latent
 *   attention, no norm + no FFN), the decoder's logits at every position,
 *   fed one token at a time, after a multi-token prefill, and for two
 *   sequences at once, equal the full forward's logits at that position
 *   (fp32 on CPU: |diff| <= 1e-4 on logits of order 1);
 * - the cache refuses to overflow; reset starts over;
 * - the sampler: greedy is the argmax, top_k = 1 and a tiny top_p are
 *   greedy, a masked id is never drawn, temperature-1 draws follow softmax.
 */
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "eval/generate.h"
#include "model/model.h"
#include "ops/backend.h"

#define CTX 16

static lilm_model_config arch(lilm_norm_kind norm, lilm_act_kind act, int64_t latent)
{
    lilm_model_config c = {0};
    c.vocab_size = 37;
    c.d_model = 24;
    c.n_layers = 3;
    c.n_heads = 3;
    c.qk_dim = 6;
    c.v_dim = 4;
    c.ffn_dim = 40;
    c.context = CTX;
    c.latent_dim = latent;
    c.norm = norm;
    c.activation = act;
    c.rope_base = 10000;
    c.pad_id = 3;
    return c;
}

static double max_diff(const float *a, const float *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - (double)b[i]));
    return d;
}

static void check_arch(lilm_test *t, const lilm_model_config *c)
{
    lilm_backend *be = NULL;
    LT_OK(t, lilm_cpu_backend_create(&be, 2));
    if (!be) return;
    const size_t B = 2, T = CTX, V = (size_t)c->vocab_size;
    lilm_model m;
    LT_OK(t, lilm_model_init(&m, c, be, B, T, 7));
    int32_t tok[2 * CTX];
    lilm_rng rng;
    lilm_rng_seed(&rng, 11);
    for (size_t i = 0; i < B * T; i++) tok[i] = (int32_t)lilm_rng_below(&rng, V);
    float *full = malloc(B * T * V * sizeof *full), *lg = malloc(B * V * sizeof *lg);
    LT_OK(t, lilm_model_forward(&m, tok, NULL, B, T, 0, NULL, NULL));
    LT_OK(t, lilm_model_all_logits(&m, full)); /* (B*T, V) */

    /* one sequence, one token at a time */
    lilm_decoder d;
    LT_OK(t, lilm_decoder_init(&d, &m, 1, T, 4));
    double worst = 0;
    for (size_t p = 0; p < T; p++) {
        LT_OK(t, lilm_decoder_step(&d, &tok[p], 1, lg));
        worst = fmax(worst, max_diff(lg, full + p * V, V));
    }
    LT_CHECK(t, worst <= 1e-4, "one-at-a-time decode differs from the full forward by %g", worst);
    /* the cache is full now */
    LT_STATUS(t, lilm_decoder_step(&d, &tok[0], 1, lg), LILM_ERR_ARG);
    /* prefill 4, then 3 + 1s after a reset */
    lilm_decoder_reset(&d);
    LT_OK(t, lilm_decoder_step(&d, tok, 4, lg));
    worst = max_diff(lg, full + 3 * V, V);
    LT_OK(t, lilm_decoder_step(&d, tok + 4, 3, lg));
    worst = fmax(worst, max_diff(lg, full + 6 * V, V));
    for (size_t p = 7; p < T; p++) {
        LT_OK(t, lilm_decoder_step(&d, &tok[p], 1, lg));
        worst = fmax(worst, max_diff(lg, full + p * V, V));
    }
    LT_CHECK(t, worst <= 1e-4, "prefill + decode differs from the full forward by %g", worst);
    LT_STATUS(t, lilm_decoder_step(&d, tok, 5, lg), LILM_ERR_ARG); /* more than max_chunk */
    lilm_decoder_free(&d);

    /* two sequences at once: 2 then 1 at a time */
    LT_OK(t, lilm_decoder_init(&d, &m, B, T, 2));
    worst = 0;
    for (size_t p = 0; p < T;) {
        size_t n = p < 2 ? 2 : 1;
        int32_t in[4];
        for (size_t b = 0; b < B; b++)
            for (size_t k = 0; k < n; k++) in[b * n + k] = tok[b * T + p + k];
        LT_OK(t, lilm_decoder_step(&d, in, n, lg));
        p += n;
        for (size_t b = 0; b < B; b++) worst = fmax(worst, max_diff(lg + b * V, full + (b * T + p - 1) * V, V));
    }
    LT_CHECK(t, worst <= 1e-4, "batched decode differs from the full forward by %g", worst);
    LT_TRUE(t, d.bytes == lilm_decoder_plan_bytes(c, be->act_dtype, B, T, 2));
    lilm_decoder_free(&d);
    free(full);
    free(lg);
    lilm_model_free(&m);
    lilm_backend_free(be);
}

static void test_decode_rms_gelu(lilm_test *t)
{
    lilm_model_config c = arch(LILM_NORM_RMS, LILM_ACTKIND_GELU, 0);
    check_arch(t, &c);
}

static void test_decode_layer_relu_latent(lilm_test *t)
{
    lilm_model_config c = arch(LILM_NORM_LAYER, LILM_ACTKIND_RELU, 8);
    check_arch(t, &c);
}

static void test_decode_no_norm_no_ffn(lilm_test *t)
{
    lilm_model_config c = arch(LILM_NORM_NONE, LILM_ACTKIND_NONE, 0);
    check_arch(t, &c);
}

static void test_decode_rms_relu2(lilm_test *t)
{
    lilm_model_config c = arch(LILM_NORM_RMS, LILM_ACT_RELU2, 0);
    check_arch(t, &c);
}

static void test_decode_layer_swiglu_latent(lilm_test *t)
{
    lilm_model_config c = arch(LILM_NORM_LAYER, LILM_ACT_SWIGLU, 8);
    check_arch(t, &c);
}

static void test_decoder_bad_shapes(lilm_test *t)
{
    lilm_backend *be = NULL;
    LT_OK(t, lilm_cpu_backend_create(&be, 1));
    if (!be) return;
    lilm_model_config c = arch(LILM_NORM_RMS, LILM_ACTKIND_GELU, 0);
    lilm_model m;
    LT_OK(t, lilm_model_init(&m, &c, be, 1, 4, 1));
    lilm_decoder d;
    LT_STATUS(t, lilm_decoder_init(&d, &m, 1, CTX + 1, 1), LILM_ERR_ARG);
    LT_STATUS(t, lilm_decoder_init(&d, &m, 1, 4, 5), LILM_ERR_ARG);
    LT_OK(t, lilm_decoder_init(&d, &m, 1, 4, 1));
    int32_t bad = 999;
    LT_STATUS(t, lilm_decoder_step(&d, &bad, 1, NULL), LILM_ERR_ARG);
    lilm_decoder_free(&d);
    lilm_model_free(&m);
    lilm_backend_free(be);
}

static void test_sampler(lilm_test *t)
{
    enum { V = 6 };
    const float base[V] = {0.5f, 2.0f, -1.0f, 1.0f, 2.5f, 0.0f};
    float lg[V];
    int32_t order[V];
    lilm_rng rng;
    lilm_rng_seed(&rng, 3);
    lilm_sample_opts o;
    lilm_sample_opts_default(&o);
    memcpy(lg, base, sizeof lg);
    LT_EQ_INT(t, lilm_sample_pick(lg, order, V, -1, &o, &rng), 4);
    memcpy(lg, base, sizeof lg);
    LT_EQ_INT(t, lilm_sample_pick(lg, order, V, 4, &o, &rng), 1); /* masked: the next best */
    o.temperature = 1.0;
    o.top_k = 1;
    for (int i = 0; i < 20; i++) {
        memcpy(lg, base, sizeof lg);
        LT_EQ_INT(t, lilm_sample_pick(lg, order, V, -1, &o, &rng), 4);
    }
    o.top_k = 0;
    o.top_p = 0.01;
    for (int i = 0; i < 20; i++) {
        memcpy(lg, base, sizeof lg);
        LT_EQ_INT(t, lilm_sample_pick(lg, order, V, -1, &o, &rng), 4);
    }
    /* top_k = 2: only ids 4 and 1 */
    o.top_p = 1.0;
    o.top_k = 2;
    int seen[V] = {0};
    for (int i = 0; i < 400; i++) {
        memcpy(lg, base, sizeof lg);
        seen[lilm_sample_pick(lg, order, V, -1, &o, &rng)]++;
    }
    LT_TRUE(t, seen[4] > 0 && seen[1] > 0 && seen[4] + seen[1] == 400);
    /* temperature 1, no limits: frequencies follow softmax, the masked id never appears */
    o.top_k = 0;
    int counts[V] = {0};
    const int draws = 20000;
    for (int i = 0; i < draws; i++) {
        memcpy(lg, base, sizeof lg);
        counts[lilm_sample_pick(lg, order, V, 2, &o, &rng)]++;
    }
    LT_EQ_INT(t, counts[2], 0);
    double z = 0;
    for (int i = 0; i < V; i++)
        if (i != 2) z += exp(base[i]);
    for (int i = 0; i < V; i++) {
        if (i == 2) continue;
        double p = exp(base[i]) / z, f = (double)counts[i] / draws;
        LT_CHECK(t, fabs(f - p) < 4 * sqrt(p * (1 - p) / draws) + 1e-3, "id %d: frequency %.4f, softmax %.4f", i, f, p);
    }
}

static const lilm_test_case cases[] = {
    {"decode_rms_gelu", test_decode_rms_gelu},
    {"decode_layer_relu_latent", test_decode_layer_relu_latent},
    {"decode_no_norm_no_ffn", test_decode_no_norm_no_ffn},
    {"decode_rms_relu2", test_decode_rms_relu2},
    {"decode_layer_swiglu_latent", test_decode_layer_swiglu_latent},
    {"decoder_bad_shapes", test_decoder_bad_shapes},
    {"sampler", test_sampler},
};

LILM_TEST_MAIN(cases)
