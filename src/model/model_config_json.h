/*
 * model_config_json.h: the model config <-> the "lilm_model" JSON object.
 *
 * {"vocab_size", "d_model", "n_layers", "n_heads", "qk_dim", "v_dim",
 *  "ffn_dim", "context", "latent_dim", "norm" (a norm's metadata name:
 *  "rmsnorm" | "layernorm" | "none"), "activation" (an activation's config
 *  name: "gelu" | "relu" | ...; both from core/components.h), "rope_base", "norm_eps",
 *  "pad_id"}; latent_dim and pad_id (3) may be absent, as may norm (rmsnorm),
 *  activation (gelu) and rope_base (10000).
 */
#ifndef LILM_MODEL_MODEL_CONFIG_JSON_H
#define LILM_MODEL_MODEL_CONFIG_JSON_H

#include <stddef.h>

#include "core/config.h"
#include "core/status.h"

lilm_status lilm_model_config_to_json(const lilm_model_config *mc, char *buf, size_t cap);
lilm_status lilm_model_config_from_json(const char *json, lilm_model_config *mc);

#endif
