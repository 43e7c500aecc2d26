/*
 * recipe.h: the one table of recipes, for `lilm run RECIPE` and
 * `lilm data prepare RECIPE`.
 *
 * A recipe says where a dataset's text comes from and how it is read and
 * split (column, format, the validation rule or the validation files), which
 * tokenizer it uses (the built-in bytes one, or a unigram model of a given
 * size trained with the reference's settings when the user gives none), and,
 * for the recipes `lilm run` can train, the model and budget as embedded YAML
 * (so `lilm run` works from any directory).
 *   babylm         the reference's BabyLM baseline: BabyLM-community/BabyLM-2026-Strict,
 *                  column text, validation = rows with index % 10000 < 100; 12K unigram;
 *                  d=192, 6 heads, packed 512-token blocks
 *   simplestories  the reference's SimpleStories baseline: SimpleStories/SimpleStories,
 *                  column story, validation = its test split (files named test*); 8K unigram;
 *                  d=288, 3 heads, one story per row
 *   tinystories    the SimpleStories model on TinyStories text (no hub source: --data;
 *                  validation = files under validation/)
 *   tiny           a 2-layer bytes model on the text shipped inside lilm
 *                  (data/tiny_stories.h): seconds, no network, no files
 *   text|jsonl|parquet  data only (lilm data prepare): every input in that format,
 *                  validation = rows with index % 100 < 1
 * No recipe names a local path: `lilm run` fetches into the cache
 * (data/cache.h) or reads what --data names. The reference's recipes were
 * made for a GPU: on CPU, babylm/tinystories/simplestories train on 256-token
 * blocks with 16 sequences per step (4x fewer tokens per step at 1/2 the
 * attention length), so that a CPU budget holds enough optimizer steps for
 * the one-cycle schedule to mean something. --set overrides either.
 */
#ifndef LILM_DATA_RECIPE_H
#define LILM_DATA_RECIPE_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/status.h"
#include "data/source.h"

typedef enum lilm_recipe_split {
    LILM_SPLIT_RULE = 0,     /* rows by `val_rule` */
    LILM_SPLIT_FILE_NAMES,   /* files named test*, validation*, dev*, ... (or under such a directory) */
} lilm_recipe_split;

typedef struct lilm_recipe {
    const char *name;
    const char *summary;
    /* data */
    const char *column;            /* text column (JSONL, Parquet) */
    lilm_input_format format;      /* AUTO: by extension */
    lilm_recipe_split split;
    const char *val_rule;          /* with LILM_SPLIT_RULE */
    lilm_text_docs text_docs;
    const char *hf_repo;           /* the dataset on the hub (NULL: none; the user passes --data) */
    int shipped_text;              /* 1: trains on the text inside lilm, read as raw text (no prepare) */
    /* tokenizer */
    const char *tokenizer;         /* "bytes", or "unigram": trained with the reference's settings */
    int32_t vocab_size;            /* of the trained unigram model */
    /* model and budget; NULL: a data-only recipe */
    const char *yaml;
    const char *cpu_yaml;          /* applied over `yaml` when the run is on CPU (NULL: none) */
} lilm_recipe;

/* The recipe called `name`, or NULL. */
const lilm_recipe *lilm_recipe_find(const char *name);
/* All recipes, runnable ones first. */
const lilm_recipe *lilm_recipes(size_t *count);
/* "simplestories, babylm, ...": every recipe, or only those `lilm run` trains. */
const char *lilm_recipe_names(int runnable_only);

/* Defaults, then the recipe's YAML (and its CPU overrides when on_cpu).
 * Data paths are left for the caller (what it fetched, prepared or was given). */
lilm_status lilm_recipe_config(const lilm_recipe *r, int on_cpu, lilm_config *cfg);

#endif
