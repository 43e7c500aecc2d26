/*
 * recipe.h: recipes, the named jobs of `lilm run RECIPE` and the dataset
 * presets of `lilm data prepare RECIPE`: one set of YAML files, the files in recipes/.
 *
 * A recipe file is a config (model, data, train, budget sections, as
 * docs/config.md) plus two sections of its own:
 *   recipe:                       where the text comes from and how it is read
 *     summary: "..."              one line for `lilm run --list`
 *     hub: OWNER/NAME             the dataset on the Hugging Face hub (optional)
 *     text: shipped               train on the text inside lilm (optional; tiny)
 *     column: text                text column (JSONL field, Parquet column)
 *     format: auto                auto (by extension) | text | jsonl | parquet
 *     validation: "index%M<K"     rows held out, or `file names` (test*, validation*, dev*, ...)
 *     text_docs: lines            text files: lines | blank (blank-line separated)
 *     tokenizer: unigram          unigram (trained with the reference's settings) | bytes
 *     vocab_size: 12000           of the trained unigram model
 *   cpu:                          config sections applied over the others on CPU
 * A file with no model section is a data-only recipe (text, jsonl, parquet).
 * The files in recipes/ are compiled into lilm (recipe_files.c), so `lilm run
 * babylm` works from any directory; `make install` also copies them to
 * PREFIX/share/lilm/recipes, and `lilm run ./my-recipe.yaml` runs a copy
 * (its name is the file name without .yaml). No recipe names a local path:
 * `lilm run` fetches into the cache (data/cache.h) or reads what --data names.
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
    char name[64];
    char label[1024];              /* the file, for messages */
    char summary[256];
    char column[128];
    lilm_input_format format;
    lilm_recipe_split split;
    char val_rule[64];             /* with LILM_SPLIT_RULE */
    lilm_text_docs text_docs;
    char hf_repo[256];             /* "" : no hub source (the user passes --data) */
    int shipped_text;              /* trains on the text inside lilm, read as raw text (no prepare) */
    char tokenizer[16];            /* "bytes" or "unigram" */
    int32_t vocab_size;
    char *config_yaml;             /* owned: the file with `recipe` and `cpu` blanked; NULL: data only */
    char *cpu_yaml;                /* owned; NULL: none */
} lilm_recipe;

/* Parses a recipe file's text (n bytes). `name` names it; `label` stands for
 * the file in messages. On failure *r is left freed. */
lilm_status lilm_recipe_parse(lilm_recipe *r, const char *name, const char *label, const char *text, size_t n);

/* A built-in recipe by name, or, when `name` holds a '/' or ends in .yaml, the
 * recipe file at that path. LILM_ERR_NOT_FOUND names the built-in ones. */
lilm_status lilm_recipe_load(lilm_recipe *r, const char *name);

void lilm_recipe_free(lilm_recipe *r);

/* The built-in recipes: how many, and the i-th one's name and file text. */
size_t lilm_recipe_builtin_count(void);
const char *lilm_recipe_builtin_name(size_t i);
const char *lilm_recipe_builtin_text(size_t i);

/* "babylm, simplestories, ...": the built-in recipes (runnable ones only, or all) into buf. */
const char *lilm_recipe_names(int runnable_only, char *buf, size_t n);

/* Defaults, then the recipe's config (and its CPU overrides when on_cpu).
 * Data paths are left for the caller (what it fetched, prepared or was given). */
lilm_status lilm_recipe_config(const lilm_recipe *r, int on_cpu, lilm_config *cfg);

#endif
