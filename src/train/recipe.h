/*
 * recipe.h: the named end-to-end jobs of `lilm run RECIPE`.
 *
 * A recipe is a base config (embedded YAML, so `lilm run` works from any
 * directory) plus where its data comes from and how it is prepared:
 *   babylm         the reference's BabyLM baseline (d=192, 6 heads, 12K unigram);
 *                  data: $LILM_SHARED/data/babylm/train/strict_2024_100M_snippets
 *                  (or a fetched HF copy in data/hf/...), prepared into data/babylm
 *                  with $LILM_SHARED/tokenizers/baby_unigram_12K.model
 *   tinystories    the SimpleStories baseline model on TinyStories
 *                  ($LILM_SHARED/data/tinystories, unigram_8K, one story per row)
 *   simplestories  the reference's SimpleStories baseline; needs
 *                  `lilm data fetch SimpleStories/SimpleStories` first
 *   tiny           a 2-layer bytes model on raw text: seconds, for smoke tests
 * $LILM_SHARED defaults to ../shared. The reference's recipes were made for a
 * GPU: on CPU, babylm/tinystories/simplestories train on 256-token blocks with
 * 16 sequences per step (4x fewer tokens per step at 1/2 the attention
 * length), so that a CPU budget holds enough optimizer steps for the
 * one-cycle schedule to mean something. --set overrides either.
 */
#ifndef LILM_TRAIN_RECIPE_H
#define LILM_TRAIN_RECIPE_H

#include <stddef.h>

#include "core/config.h"
#include "core/status.h"

typedef struct lilm_recipe {
    const char *name;
    const char *summary;
    const char *yaml;           /* base config */
    const char *prepare_recipe; /* lilm_data_prepare recipe; NULL: raw text, nothing to prepare */
    const char *shared_inputs;  /* input path under $LILM_SHARED (NULL: the prepare recipe's own search) */
    const char *val_rule;       /* with shared_inputs: the validation rule (NULL: the recipe's) */
    const char *tokenizer;      /* under $LILM_SHARED/tokenizers, or "bytes" */
    const char *dataset_dir;    /* where the prepared dataset goes */
    const char *fetch_hint;     /* how to get the data when it is missing (NULL: always present) */
    const char *cpu_yaml;       /* applied over `yaml` when the run is on CPU (NULL: none) */
} lilm_recipe;

/* The recipe called `name`, or NULL. */
const lilm_recipe *lilm_recipe_find(const char *name);
/* All recipes, for help text. */
const lilm_recipe *lilm_recipes(size_t *count);

/* The shared data root ($LILM_SHARED or ../shared). */
const char *lilm_recipe_shared_root(void);

/* Defaults, then the recipe's YAML (and its CPU overrides when on_cpu), with
 * data.dataset / data.tokenizer resolved to real paths. */
lilm_status lilm_recipe_config(const lilm_recipe *r, int on_cpu, lilm_config *cfg);

#endif
