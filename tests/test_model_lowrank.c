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
 *   gives the same logits, another step other ones.
 * The forward and backward against PyTorch are tests/test_parity.c's
 * tiny_svd_truncation, tiny_qr_truncation and tiny_svd_entropic.
 */
#include "test.h"

#include "core/config.h"
#include "core/rng.h"
#include "model/model.h"
#include "ops/backend.h"
#include "train/checkpoint.h"

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
    bare.trunc_forward = NULL;
    bare.trunc_backward = NULL;
    bare.trunc_work_bytes = NULL;
    c = arch(LILM_ACT_SVD_ENTROPIC, 0, 0.0, 2.0);
    LT_STATUS(t, lilm_model_init(&m, &c, &bare, 2, CTX, 1), LILM_ERR_UNSUPPORTED);
    LT_TRUE(t, strstr(lilm_last_error(), "svd_entropic is not on the cpu backend yet") != NULL);
    be->destroy(be);
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
    be->destroy(be);
}

static void test_decode_matches_forward(lilm_test *t)
{
    decode_case(t, arch(LILM_ACT_SVD_TRUNC, 2, 0.0, 2.0), "svd_truncation k=2");
    decode_case(t, arch(LILM_ACT_QR_TRUNC, 2, 0.0, 2.0), "qr_truncation k=2");
    decode_case(t, arch(LILM_ACT_SVD_ENTROPIC, 0, 0.0, 3.0), "svd_entropic alpha=3");
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
    be->destroy(be);
}

static const lilm_test_case cases[] = {
    {"config_and_metadata", test_config_and_metadata},
    {"init_refusals", test_init_refusals},
    {"decode_matches_forward", test_decode_matches_forward},
    {"omega_follows_the_step", test_omega_follows_the_step},
};
LILM_TEST_MAIN(cases)
