/*
 * recipe.c: the recipe table (recipe.h). The model sections repeat
 * configs/babylm.yaml and configs/simplestories.yaml (the reference's
 * baselines); autosize then picks depth, micro-batch and learning rate.
 * One deliberate change: BabyLM's packed blocks go through a 65536-block
 * shuffle buffer instead of the reference's 1024. The corpus is stored domain
 * by domain, so a 1024-block buffer (0.5M tokens) trains a short run on the
 * first domain only; 65536 blocks cover the whole corpus of a short run, i.e.
 * a full random permutation per epoch (512 KiB of indices).
 */
#include "data/recipe.h"

#include <stdio.h>
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
    {"babylm", "the reference's BabyLM baseline (12K unigram, packed 512-token blocks)", "text", LILM_FMT_AUTO,
     LILM_SPLIT_RULE, "index%10000<100", LILM_TEXT_LINES, "BabyLM-community/BabyLM-2026-Strict", 0, "unigram",
     12000, babylm_yaml, cpu_yaml},
    {"simplestories", "the reference's SimpleStories baseline (8K unigram, one story per row)", "story",
     LILM_FMT_AUTO, LILM_SPLIT_FILE_NAMES, NULL, LILM_TEXT_LINES, "SimpleStories/SimpleStories", 0, "unigram", 8000,
     stories_yaml, cpu_yaml},
    {"tinystories", "the SimpleStories baseline model on TinyStories text (8K unigram; needs --data)", "text",
     LILM_FMT_AUTO, LILM_SPLIT_FILE_NAMES, NULL, LILM_TEXT_LINES, NULL, 0, "unigram", 8000, stories_yaml, cpu_yaml},
    {"tiny", "a 2-layer bytes model on the stories shipped inside lilm: seconds, no network", "text", LILM_FMT_TEXT,
     LILM_SPLIT_RULE, "index%100<1", LILM_TEXT_BLANK, NULL, 1, "bytes", 260, tiny_yaml, NULL},
    {"text", "data only: text files, one document per line", "text", LILM_FMT_TEXT, LILM_SPLIT_RULE, "index%100<1",
     LILM_TEXT_LINES, NULL, 0, "bytes", 0, NULL, NULL},
    {"jsonl", "data only: JSONL files, the text in field `text`", "text", LILM_FMT_JSONL, LILM_SPLIT_RULE,
     "index%100<1", LILM_TEXT_LINES, NULL, 0, "bytes", 0, NULL, NULL},
    {"parquet", "data only: Parquet files, the text in column `text`", "text", LILM_FMT_PARQUET, LILM_SPLIT_RULE,
     "index%100<1", LILM_TEXT_LINES, NULL, 0, "bytes", 0, NULL, NULL},
};

const lilm_recipe *lilm_recipes(size_t *count)
{
    *count = sizeof recipes / sizeof recipes[0];
    return recipes;
}

const lilm_recipe *lilm_recipe_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof recipes / sizeof recipes[0]; i++)
        if (strcmp(recipes[i].name, name) == 0) return &recipes[i];
    return NULL;
}

const char *lilm_recipe_names(int runnable_only)
{
    return runnable_only ? "babylm, simplestories, tinystories, tiny"
                         : "babylm, simplestories, tinystories, tiny, text, jsonl, parquet";
}

lilm_status lilm_recipe_config(const lilm_recipe *r, int on_cpu, lilm_config *cfg)
{
    lilm_config_defaults(cfg);
    if (!r->yaml)
        return lilm_errorf(LILM_ERR_ARG, "recipe '%s' describes data only; `lilm run` trains %s", r->name,
                           lilm_recipe_names(1));
    LILM_TRY(lilm_config_load_yaml_string(cfg, r->name, r->yaml, strlen(r->yaml)));
    if (on_cpu && r->cpu_yaml) LILM_TRY(lilm_config_load_yaml_string(cfg, r->name, r->cpu_yaml, strlen(r->cpu_yaml)));
    if (strcmp(r->tokenizer, "bytes") == 0) snprintf(cfg->data.tokenizer, sizeof cfg->data.tokenizer, "bytes");
    cfg->data.text[0] = '\0';
    cfg->data.dataset[0] = '\0';
    return LILM_OK;
}
