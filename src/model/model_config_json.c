/*
 * model_config_json.c: the model config as the JSON object stored under
 * "lilm_model" in every weights file lilm writes (and in the fixtures).
 */
#include "model/model_config_json.h"

#include <stdio.h>
#include <string.h>

#include "core/components.h"
#include "core/json.h"

/* Names come from the component tables (core/components.h): the norm's
 * metadata name, the activation's config name. */
static const char *norm_name(lilm_norm_kind k)
{
    const lilm_norm_desc *d = lilm_norm_info(k);
    return d ? d->meta_name : "rmsnorm";
}

static const char *act_name(lilm_act k)
{
    const lilm_act_desc *d = lilm_act_info(k);
    return d ? d->config_name : "gelu";
}

lilm_status lilm_model_config_to_json(const lilm_model_config *mc, char *buf, size_t cap)
{
    int n = snprintf(buf, cap,
                     "{\"vocab_size\": %lld, \"d_model\": %lld, \"n_layers\": %lld, \"n_heads\": %lld, "
                     "\"qk_dim\": %lld, \"v_dim\": %lld, \"ffn_dim\": %lld, \"context\": %lld, "
                     "\"latent_dim\": %lld, \"norm\": \"%s\", \"activation\": \"%s\", \"rope_base\": %.17g, "
                     "\"norm_eps\": %.17g, \"pad_id\": %lld}",
                     (long long)mc->vocab_size, (long long)mc->d_model, (long long)mc->n_layers,
                     (long long)mc->n_heads, (long long)mc->qk_dim, (long long)mc->v_dim, (long long)mc->ffn_dim,
                     (long long)mc->context, (long long)mc->latent_dim, norm_name(mc->norm),
                     act_name(mc->activation), mc->rope_base, mc->norm_eps, (long long)mc->pad_id);
    if (n < 0 || (size_t)n >= cap) return lilm_errorf(LILM_ERR_INTERNAL, "model config JSON too long");
    return LILM_OK;
}

lilm_status lilm_model_config_from_json(const char *json, lilm_model_config *mc)
{
    lilm_json *j = NULL;
    LILM_TRY(lilm_json_parse(&j, json, strlen(json), "lilm_model metadata"));
    memset(mc, 0, sizeof *mc);
    struct { const char *key; int64_t *dst; int required; } ints[] = {
        {"vocab_size", &mc->vocab_size, 1}, {"d_model", &mc->d_model, 1}, {"n_layers", &mc->n_layers, 1},
        {"n_heads", &mc->n_heads, 1}, {"qk_dim", &mc->qk_dim, 1}, {"v_dim", &mc->v_dim, 1},
        {"ffn_dim", &mc->ffn_dim, 1}, {"context", &mc->context, 1}, {"latent_dim", &mc->latent_dim, 0},
        {"pad_id", &mc->pad_id, 0},
    };
    lilm_status st = LILM_OK;
    mc->pad_id = 3;
    for (size_t i = 0; i < sizeof ints / sizeof ints[0] && st == LILM_OK; i++)
        if (!lilm_json_get_int(j, ints[i].key, ints[i].dst) && ints[i].required)
            st = lilm_errorf(LILM_ERR_FORMAT, "lilm_model metadata lacks \"%s\"", ints[i].key);
    mc->rope_base = 10000;
    lilm_json_get_num(j, "rope_base", &mc->rope_base);
    lilm_json_get_num(j, "norm_eps", &mc->norm_eps);
    const char *norm = lilm_json_get_str(j, "norm"), *act = lilm_json_get_str(j, "activation");
    if (st == LILM_OK) {
        if (!norm) mc->norm = LILM_NORM_RMS;
        else if (!lilm_norm_from_meta_name(norm, &mc->norm))
            st = lilm_errorf(LILM_ERR_FORMAT, "lilm_model metadata: unknown norm \"%s\"", norm);
    }
    if (st == LILM_OK) {
        if (!act) mc->activation = LILM_ACT_GELU;
        else if (!lilm_act_from_name(act, &mc->activation))
            st = lilm_errorf(LILM_ERR_FORMAT, "lilm_model metadata: unknown activation \"%s\"", act);
    }
    lilm_json_free(j);
    return st;
}
