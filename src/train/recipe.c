/*
 * recipe.c: the recipes of `lilm run` (see recipe.h). The model sections
 * repeat configs/babylm.yaml and configs/simplestories.yaml (the reference's
 * baselines); autosize then picks depth, micro-batch and learning rate.
 * One deliberate change: BabyLM's packed blocks go through a 65536-block
 * shuffle buffer instead of the reference's 1024. The corpus is stored domain
 * by domain, so a 1024-block buffer (0.5M tokens) trains a short run on the
 * first domain only; 65536 blocks cover the whole shared corpus, i.e. a full
 * random permutation per epoch (512 KiB of indices).
 */
#include "train/recipe.h"

#include <stdlib.h>
#include <string.h>

static const char babylm_yaml[] =
    "model: {vocab_size: 12000, d_model: 192, n_layers: 20, n_heads: 6, qk_dim: 32, v_dim: 32, ffn_dim: 768,\n"
    "        context: 512, norm: rms, activation: gelu, pad_id: 3}\n"
    "data: {mode: packed, shuffle_buffer: 65536}\n"
    "train: {seed: 42, batch_size: 64, accum_batch: 64, lr: 6e-3, schedule: onecycle}\n"
    "budget: {minutes: 30, mode: time}\n";

static const char stories_yaml[] =
    "model: {vocab_size: 8000, d_model: 288, n_layers: 5, n_heads: 3, qk_dim: 96, v_dim: 96, ffn_dim: 1152,\n"
    "        context: 512, norm: rms, activation: gelu, pad_id: 3}\n"
    "data: {mode: document}\n"
    "train: {seed: 42, batch_size: 64, accum_batch: 64, lr: 6e-3, schedule: onecycle}\n"
    "budget: {minutes: 30, mode: time}\n";

static const char tiny_yaml[] =
    "model: {vocab_size: 260, d_model: 64, n_layers: 2, n_heads: 2, qk_dim: 32, v_dim: 32, ffn_dim: 256,\n"
    "        context: 128, pad_id: 3}\n"
    "data: {tokenizer: bytes, mode: packed, shuffle_buffer: 64, val_fraction: 0.02}\n"
    "train: {batch_size: 8, accum_batch: 16, lr: 3e-3, val_every: 0, val_every_seconds: 10, val_batches: 2,\n"
    "        checkpoint_every_seconds: 0}\n"
    "budget: {minutes: 0.5, mode: time}\n";

static const char cpu_yaml[] = "model: {context: 256}\ntrain: {batch_size: 16, accum_batch: 16}\n";

static const lilm_recipe recipes[] = {
    {"babylm", "the reference's BabyLM baseline (12K unigram, packed 512-token blocks)", babylm_yaml, "babylm",
     "data/babylm/train/strict_2024_100M_snippets", "index%100<1", "baby_unigram_12K.model", "data/babylm", NULL,
     cpu_yaml},
    {"tinystories", "the SimpleStories baseline model on TinyStories (8K unigram, one story per row)", stories_yaml,
     "tinystories", "data/tinystories", NULL, "unigram_8K.model", "data/tinystories", NULL, cpu_yaml},
    {"simplestories", "the reference's SimpleStories baseline (8K unigram, one story per row)", stories_yaml,
     "simplestories", NULL, NULL, "unigram_8K.model", "data/simplestories",
     "lilm data fetch SimpleStories/SimpleStories", cpu_yaml},
    {"tiny", "a 2-layer bytes model on the TinyStories sample: seconds, for smoke tests", tiny_yaml, NULL,
     "data/tinystories/train/tinystories_v1_train_head.txt", NULL, "bytes", NULL, NULL, NULL},
};

const lilm_recipe *lilm_recipes(size_t *count)
{
    *count = sizeof recipes / sizeof recipes[0];
    return recipes;
}

const lilm_recipe *lilm_recipe_find(const char *name)
{
    for (size_t i = 0; i < sizeof recipes / sizeof recipes[0]; i++)
        if (strcmp(recipes[i].name, name) == 0) return &recipes[i];
    return NULL;
}

const char *lilm_recipe_shared_root(void)
{
    const char *s = getenv("LILM_SHARED");
    return s && *s ? s : "../shared";
}

lilm_status lilm_recipe_config(const lilm_recipe *r, int on_cpu, lilm_config *cfg)
{
    lilm_config_defaults(cfg);
    LILM_TRY(lilm_config_load_yaml_string(cfg, r->name, r->yaml, strlen(r->yaml)));
    if (on_cpu && r->cpu_yaml) LILM_TRY(lilm_config_load_yaml_string(cfg, r->name, r->cpu_yaml, strlen(r->cpu_yaml)));
    const char *shared = lilm_recipe_shared_root();
    if (strcmp(r->tokenizer, "bytes") == 0)
        snprintf(cfg->data.tokenizer, sizeof cfg->data.tokenizer, "bytes");
    else
        snprintf(cfg->data.tokenizer, sizeof cfg->data.tokenizer, "%s/tokenizers/%s", shared, r->tokenizer);
    if (r->dataset_dir) {
        snprintf(cfg->data.dataset, sizeof cfg->data.dataset, "%s", r->dataset_dir);
        cfg->data.text[0] = '\0';
    } else {
        snprintf(cfg->data.text, sizeof cfg->data.text, "%s/%s", shared, r->shared_inputs);
        cfg->data.dataset[0] = '\0';
    }
    return LILM_OK;
}
