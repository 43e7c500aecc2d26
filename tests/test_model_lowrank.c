/*
 * test_model_lowrank.c: the low-rank activations (svd_truncation,
 * qr_truncation, svd_entropic) inside the model.
 *
 * - config keys model.act_k / act_eps / act_alpha parse, and the lilm_model
 *   metadata carries them for these activations only (a GELU model's JSON
 *   is unchanged);
 * - lilm_model_init refuses bad parameters (naming the key) and a backend
 *   without the ops (as CUDA is today) with "not on the ... backend yet";
 * - the KV-cache decoder gives the full forward's logits for the maps that
 *   act on each token alone (svd_truncation by rank, qr_truncation,
 *   svd_entropic; the eps rule's batch maximum depends on the batch);
 * - the QR truncation's Omega follows lilm_model_set_step: the same step
 *   gives the same logits, another step other ones;
 * - tensor-ring FFN Linears (model.ffn_tr_bond): the parameter table holds
 *   ffn.{0,3}.cores.{j} (R, R, a_j, b_j) and biases in state_dict order, the
 *   count is the walk's, cores start N(0, std) and biases 0, decode matches
 *   the forward (also with SwiGLU and a truncation), a backend without the
 *   ops is refused.
 * The forward and backward against PyTorch are tests/test_parity.c's
 * tiny_svd_truncation, tiny_qr_truncation, tiny_svd_entropic and
 * tiny_tensor_ring.
 */
#include "test.h"

#include "core/config.h"
#include "core/rng.h"
#include "model/model.h"
#include "ops/backend.h"
#include "model/model_config_json.h"

#define CTX 12

static lilm_model_config arch(lilm_act act, int64_t k, double eps, double alpha)
{
    lilm_model_config c = {0};
    c.vocab_size = 29;
    c.d_model = 16;
    c.n_layers = 2;
    c.n_heads = 2;
    c.qk_dim = 4;
    c.v_dim = 4;
    c.ffn_dim = 40; /* 5 x 8 per token */
    c.context = CTX;
    c.norm = LILM_NORM_RMS;
    c.activation = act;
    c.rope_base = 10000;
    c.pad_id = 3;
    c.act_k = k;
    c.act_eps = eps;
    c.act_alpha = alpha;
    return c;
}

static lilm_backend *cpu(lilm_test *t)
{
    lilm_backend *be = NULL;
    LT_OK(t, lilm_cpu_backend_create(&be, 2));
    if (!be)
        abort();
    return be;
}

static void test_config_and_metadata(lilm_test *t)
{
    lilm_config cfg;
    lilm_config_defaults(&cfg);
    LT_OK(t, lilm_config_set(&cfg, "model.activation=qr_truncation"));
    LT_OK(t, lilm_config_set(&cfg, "model.act_k=3"));
    LT_OK(t, lilm_config_set(&cfg, "model.act_eps=0.25"));
    LT_STATUS(t, lilm_config_set(&cfg, "model.act_eps=1"), LILM_ERR_CONFIG);
    LT_STATUS(t, lilm_config_set(&cfg, "model.act_alpha=1"), LILM_ERR_CONFIG);
    LT_EQ_INT(t, cfg.model.activation, LILM_ACT_QR_TRUNC);
    LT_EQ_INT(t, cfg.model.act_k, 3);
    LT_NEAR(t, cfg.model.act_alpha, 2.0, 0);
    char json[1024];
    LT_OK(t, lilm_model_config_to_json(&cfg.model, json, sizeof json));
    LT_TRUE(t, strstr(json, "\"activation\": \"qr_truncation\"") && strstr(json, "\"act_k\": 3") &&
                   strstr(json, "\"act_eps\": 0.25") && json[strlen(json) - 1] == '}');
    lilm_model_config back;
    LT_OK(t, lilm_model_config_from_json(json, &back));
    LT_EQ_INT(t, back.activation, LILM_ACT_QR_TRUNC);
    LT_EQ_INT(t, back.act_k, 3);
    LT_NEAR(t, back.act_eps, 0.25, 0);
    LT_NEAR(t, back.act_alpha, 2.0, 0);
    LT_OK(t, lilm_config_set(&cfg, "model.activation=gelu"));
    LT_OK(t, lilm_model_config_to_json(&cfg.model, json, sizeof json));
    LT_TRUE(t, strstr(json, "act_k") == NULL);
}

static void test_init_refusals(lilm_test *t)
{
    lilm_backend *be = cpu(t);
    lilm_model m;
    lilm_model_config c = arch(LILM_ACT_SVD_TRUNC, 0, 0.0, 2.0);
    LT_STATUS(t, lilm_model_init(&m, &c, be, 2, CTX, 1), LILM_ERR_ARG);
    LT_TRUE(t, strstr(lilm_last_error(), "model.act_k") != NULL);
    c = arch(LILM_ACT_QR_TRUNC, 0, 0.0, 2.0);
    LT_STATUS(t, lilm_model_init(&m, &c, be, 2, CTX, 1), LILM_ERR_ARG);
    c = arch(LILM_ACT_SVD_ENTROPIC, 0, 0.0, 0.5);
    LT_STATUS(t, lilm_model_init(&m, &c, be, 2, CTX, 1), LILM_ERR_ARG);
    /* a backend that lacks the ops (the CUDA backend today) */
    lilm_backend bare = *be;
    lilm_backend_ops bare_ops = *be->ops;
    bare_ops.trunc_forward = NULL;
    bare_ops.trunc_backward = NULL;
    bare_ops.trunc_work_bytes = NULL;
    bare.ops = &bare_ops;
    c = arch(LILM_ACT_SVD_ENTROPIC, 0, 0.0, 2.0);
    LT_STATUS(t, lilm_model_init(&m, &c, &bare, 2, CTX, 1), LILM_ERR_UNSUPPORTED);
    LT_TRUE(t, strstr(lilm_last_error(), "svd_entropic is not on the cpu backend yet") != NULL);
    be->ops->destroy(be);
}

/* Logits of one sequence decoded a token at a time vs the full forward. */
static void decode_case(lilm_test *t, lilm_model_config c, const char *what)
{
    lilm_backend *be = cpu(t);
    lilm_model m;
    LT_OK(t, lilm_model_init(&m, &c, be, 1, CTX, 7));
    int32_t tok[CTX];
    lilm_rng rng;
    lilm_rng_seed(&rng, 5);
    for (int i = 0; i < CTX; i++)
        tok[i] = (int32_t)lilm_rng_below(&rng, (uint64_t)c.vocab_size);
    size_t V = (size_t)c.vocab_size;
    float *full = malloc(CTX * V * sizeof *full), *lg = malloc(V * sizeof *lg);
    LT_OK(t, lilm_model_forward(&m, tok, NULL, 1, CTX, 0, NULL, NULL));
    LT_OK(t, lilm_model_all_logits(&m, full));
    lilm_decoder d;
    LT_OK(t, lilm_decoder_init(&d, &m, 1, CTX, 4));
    double worst = 0, scale = 0;
    for (int p = 0; p < CTX; p++) {
        LT_OK(t, lilm_decoder_step(&d, &tok[p], 1, lg));
        for (size_t v = 0; v < V; v++) {
            worst = fmax(worst, fabs((double)lg[v] - full[p * V + v]));
            scale = fmax(scale, fabs((double)full[p * V + v]));
        }
    }
    LT_CHECK(t, worst <= 1e-5 * scale + 1e-6, "%s: decode differs from the full forward by %g (max %g)", what, worst,
             scale);
    lilm_decoder_free(&d);
    free(full), free(lg);
    lilm_model_free(&m);
    be->ops->destroy(be);
}

static void test_decode_matches_forward(lilm_test *t)
{
    decode_case(t, arch(LILM_ACT_SVD_TRUNC, 2, 0.0, 2.0), "svd_truncation k=2");
    decode_case(t, arch(LILM_ACT_QR_TRUNC, 2, 0.0, 2.0), "qr_truncation k=2");
    decode_case(t, arch(LILM_ACT_SVD_ENTROPIC, 0, 0.0, 3.0), "svd_entropic alpha=3");
    lilm_model_config c = arch(LILM_ACT_GELU, 0, 0.0, 2.0);
    c.ffn_tr_bond = 3;
    decode_case(t, c, "tensor ring, gelu");
    c.activation = LILM_ACT_SWIGLU;
    decode_case(t, c, "tensor ring, swiglu");
    c = arch(LILM_ACT_QR_TRUNC, 3, 0.0, 2.0);
    c.ffn_tr_bond = 2;
    decode_case(t, c, "tensor ring, qr_truncation");
}

static void test_tensor_ring_table(lilm_test *t)
{
    lilm_backend *be = cpu(t);
    lilm_model_config c = arch(LILM_ACT_GELU, 0, 0.0, 2.0);
    int64_t dense = lilm_model_config_param_count(&c);
    c.ffn_tr_bond = 3;
    lilm_tr_shape s1, s2;
    LT_OK(t, lilm_tr_shape_init(&s1, 16, 40, 3));   /* ffn.0: C 16 = 2^4 -> F 40 = 2^3 5 */
    LT_OK(t, lilm_tr_shape_init(&s2, 40, 16, 3));
    int64_t want = dense - 2 * (int64_t)c.n_layers * 16 * 40 + (int64_t)c.n_layers * (int64_t)(s1.n_params + s2.n_params);
    LT_EQ_INT(t, lilm_model_config_param_count(&c), want);
    lilm_model m;
    LT_OK(t, lilm_model_init(&m, &c, be, 1, CTX, 9));
    const lilm_param *p0 = lilm_model_find_param(&m, "transformer_stack.1.ffn.0.cores.0");
    const lilm_param *p3 = lilm_model_find_param(&m, "transformer_stack.1.ffn.3.cores.3");
    const lilm_param *b0 = lilm_model_find_param(&m, "transformer_stack.1.ffn.0.bias");
    LT_TRUE(t, p0 && p3 && b0 && !lilm_model_find_param(&m, "transformer_stack.1.ffn.0.weight"));
    if (p0 && p3 && b0) {
        LT_EQ_INT(t, p0->ndim, 4);
        LT_TRUE(t, p0->shape[0] == 3 && p0->shape[1] == 3 && p0->shape[2] == 2 && p0->shape[3] == 2);
        LT_TRUE(t, p3->shape[2] == (int64_t)s2.a[3] && p3->shape[3] == (int64_t)s2.b[3]);
        LT_TRUE(t, p0->decay && !b0->decay);
        /* cores of one Linear lie one after another, the bias right after */
        LT_EQ_INT(t, b0->offset, p0->offset + s1.n_params);
        double sum2 = 0.0;
        for (size_t k = 0; k < s1.n_params; k++)
            sum2 += (double)m.param_block[p0->offset + k] * m.param_block[p0->offset + k];
        double sd = sqrt(sum2 / (double)s1.n_params), want_sd = lilm_tr_init_std(&s1);
        LT_CHECK(t, fabs(sd / want_sd - 1.0) < 0.15, "core init std %g, want %g", sd, want_sd);
        for (int64_t k = 0; k < 40; k++)
            LT_TRUE(t, m.param_block[b0->offset + (size_t)k] == 0.0f);
    }
    char json[1024];
    LT_OK(t, lilm_model_config_to_json(&c, json, sizeof json));
    LT_TRUE(t, strstr(json, "\"ffn_tr_bond\": 3}") != NULL);
    lilm_model_config back;
    LT_OK(t, lilm_model_config_from_json(json, &back));
    LT_EQ_INT(t, back.ffn_tr_bond, 3);
    lilm_model_free(&m);
    lilm_backend bare = *be;
    lilm_backend_ops bare_ops = *be->ops;
    bare_ops.tr_weight = NULL;
    bare.ops = &bare_ops;
    LT_STATUS(t, lilm_model_init(&m, &c, &bare, 1, CTX, 9), LILM_ERR_UNSUPPORTED);
    LT_TRUE(t, strstr(lilm_last_error(), "model.ffn_tr_bond") != NULL);
    be->ops->destroy(be);
}

static void test_omega_follows_the_step(lilm_test *t)
{
    lilm_backend *be = cpu(t);
    lilm_model m;
    lilm_model_config c = arch(LILM_ACT_QR_TRUNC, 2, 0.0, 2.0);
    LT_OK(t, lilm_model_init(&m, &c, be, 1, CTX, 3));
    int32_t tok[CTX];
    for (int i = 0; i < CTX; i++)
        tok[i] = (int32_t)((i * 7 + 4) % c.vocab_size);
    size_t n = CTX * (size_t)c.vocab_size;
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *s = malloc(n * sizeof *s);
    lilm_model_set_step(&m, 5);
    LT_OK(t, lilm_model_forward(&m, tok, NULL, 1, CTX, 0, NULL, NULL));
    LT_OK(t, lilm_model_all_logits(&m, a));
    lilm_model_set_step(&m, 6);
    LT_OK(t, lilm_model_forward(&m, tok, NULL, 1, CTX, 0, NULL, NULL));
    LT_OK(t, lilm_model_all_logits(&m, b));
    lilm_model_set_step(&m, 5);
    LT_OK(t, lilm_model_forward(&m, tok, NULL, 1, CTX, 0, NULL, NULL));
    LT_OK(t, lilm_model_all_logits(&m, s));
    LT_TRUE(t, memcmp(a, s, n * sizeof *a) == 0);
    LT_TRUE(t, memcmp(a, b, n * sizeof *a) != 0);
    free(a), free(b), free(s);
    lilm_model_free(&m);
    be->ops->destroy(be);
}

static const lilm_test_case cases[] = {
    {"config_and_metadata", test_config_and_metadata},
    {"init_refusals", test_init_refusals},
    {"decode_matches_forward", test_decode_matches_forward},
    {"omega_follows_the_step", test_omega_follows_the_step},
    {"tensor_ring_table", test_tensor_ring_table},
};
LILM_TEST_MAIN(cases)
