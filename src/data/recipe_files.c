/*
 * recipe_files.c: the recipe files of recipes/ compiled into lilm (recipe.h).
 *
 * Each file is included byte for byte by the assembler (.incbin, paths
 * relative to the repository root, where make runs), followed by a NUL, so
 * the files stay the one source of the recipes and `lilm run NAME` needs no
 * installed copy. The Makefile rebuilds this object when a recipe changes.
 */
#include <stddef.h>

#include "data/recipe.h"

#define LILM_RECIPE_FILE(sym, path)                                                                                  \
    __asm__(".section .rodata\n"                                                                                     \
            ".global " #sym "\n"                                                                                     \
            ".type " #sym ", @object\n" #sym ":\n"                                                                   \
            ".incbin \"" path "\"\n"                                                                                 \
            ".byte 0\n"                                                                                              \
            ".previous\n");                                                                                          \
    extern const char sym[]

LILM_RECIPE_FILE(lilm__recipe_babylm, "recipes/babylm.yaml");
LILM_RECIPE_FILE(lilm__recipe_simplestories, "recipes/simplestories.yaml");
LILM_RECIPE_FILE(lilm__recipe_tinystories, "recipes/tinystories.yaml");
LILM_RECIPE_FILE(lilm__recipe_tiny, "recipes/tiny.yaml");
LILM_RECIPE_FILE(lilm__recipe_text, "recipes/text.yaml");
LILM_RECIPE_FILE(lilm__recipe_jsonl, "recipes/jsonl.yaml");
LILM_RECIPE_FILE(lilm__recipe_parquet, "recipes/parquet.yaml");

typedef struct builtin {
    const char *name;
    const char *text;
} builtin;

static const builtin builtins[] = {
    {"babylm", lilm__recipe_babylm}, {"simplestories", lilm__recipe_simplestories},
    {"tinystories", lilm__recipe_tinystories}, {"tiny", lilm__recipe_tiny}, {"text", lilm__recipe_text},
    {"jsonl", lilm__recipe_jsonl}, {"parquet", lilm__recipe_parquet},
};

size_t lilm_recipe_builtin_count(void) { return sizeof builtins / sizeof builtins[0]; }

const char *lilm_recipe_builtin_name(size_t i) { return i < lilm_recipe_builtin_count() ? builtins[i].name : NULL; }

const char *lilm_recipe_builtin_text(size_t i) { return i < lilm_recipe_builtin_count() ? builtins[i].text : NULL; }
