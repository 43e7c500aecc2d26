/*
 * test_data_cache.c: the cache directory, its stamps, the shipped tiny
 * stories and the recipe table (src/data/cache.h, tiny_stories.h, recipe.h).
 *
 * Covers: $LILM_HOME wins over $XDG_CACHE_HOME over $HOME; no HOME is a
 * clear error; cache paths create their parent; a stamp matches only its
 * exact key; the tiny stories are a pure function of the seed, printable
 * ASCII with blank-line separated stories, at least the size asked for, and
 * written once (a second write leaves the file alone); every built-in recipe
 * file parses, the runnable ones load their config (CPU overrides on CPU
 * only), none names a local path, data-only recipes are refused by
 * lilm_recipe_config; a user's recipe file loads by path; errors name the
 * file and line (unknown recipe key, bad rule, a bad config key).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fileio.h"
#include "data/cache.h"
#include "data/recipe.h"
#include "data/tiny_stories.h"
#include "test.h"

static void test_root_and_stamps(lilm_test *t)
{
    char dir[256], out[1200], path[1200];
    lilm_test_tmpdir(dir, sizeof dir);
    setenv("HOME", "/home/u", 1);
    unsetenv("LILM_HOME");
    setenv("XDG_CACHE_HOME", "/xdg", 1);
    LT_OK(t, lilm_cache_root(out, sizeof out));
    LT_CHECK(t, strcmp(out, "/xdg/lilm") == 0, "%s", out);
    unsetenv("XDG_CACHE_HOME");
    LT_OK(t, lilm_cache_root(out, sizeof out));
    LT_CHECK(t, strcmp(out, "/home/u/.cache/lilm") == 0, "%s", out);
    unsetenv("HOME");
    LT_STATUS(t, lilm_cache_root(out, sizeof out), LILM_ERR_ARG);
    LT_CHECK(t, strstr(lilm_last_error(), "LILM_HOME") != NULL, "%s", lilm_last_error());
    lilm_clear_error();
    setenv("LILM_HOME", dir, 1);
    LT_OK(t, lilm_cache_path(path, sizeof path, "a/b/c.model"));
    snprintf(out, sizeof out, "%s/a/b", dir);
    struct stat st;
    LT_TRUE(t, stat(out, &st) == 0 && S_ISDIR(st.st_mode));
    snprintf(out, sizeof out, "%s/a/b/c.model.stamp", dir);
    LT_TRUE(t, !lilm_cache_stamp_ok(out, "key 1\n"));
    LT_OK(t, lilm_cache_stamp_write(out, "key 1\n"));
    LT_TRUE(t, lilm_cache_stamp_ok(out, "key 1\n"));
    LT_TRUE(t, !lilm_cache_stamp_ok(out, "key 1"));
    LT_TRUE(t, !lilm_cache_stamp_ok(out, "key 2\n"));
    char h1[13], h2[13];
    lilm_cache_hash("x", h1);
    lilm_cache_hash("y", h2);
    LT_TRUE(t, strlen(h1) == 12 && strcmp(h1, h2) != 0);
}

static void test_tiny_stories(lilm_test *t)
{
    char *a = NULL, *b = NULL, *c = NULL;
    size_t na = 0, nb = 0, nc = 0;
    LT_OK(t, lilm_tiny_stories_generate(7, 100000, &a, &na));
    LT_OK(t, lilm_tiny_stories_generate(7, 100000, &b, &nb));
    LT_OK(t, lilm_tiny_stories_generate(8, 100000, &c, &nc));
    LT_TRUE(t, na >= 100000 && na == nb && memcmp(a, b, na) == 0);
    LT_TRUE(t, nc != na || memcmp(a, c, na) != 0);
    int bad = 0;
    for (size_t i = 0; i < na; i++)
        if (!(a[i] == '\n' || (a[i] >= 32 && a[i] < 127))) bad++;
    LT_EQ_INT(t, bad, 0);
    LT_TRUE(t, strstr(a, "\n\n") != NULL && strchr(a, '{') == NULL);
    free(a);
    free(b);
    free(c);
    char dir[256], path[300];
    lilm_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/stories.txt", dir);
    LT_OK(t, lilm_tiny_stories_write(path));
    struct stat s1, s2;
    LT_TRUE(t, stat(path, &s1) == 0 && (size_t)s1.st_size >= LILM_TINY_STORIES_BYTES);
    LT_OK(t, lilm_tiny_stories_write(path));
    LT_TRUE(t, stat(path, &s2) == 0 && s1.st_ino == s2.st_ino); /* left alone, not rewritten */
}

static void test_recipes(lilm_test *t)
{
    int runnable = 0;
    char names[512];
    for (size_t i = 0; i < lilm_recipe_builtin_count(); i++) {
        lilm_recipe r;
        lilm_config cfg;
        const char *name = lilm_recipe_builtin_name(i);
        LT_OK(t, lilm_recipe_load(&r, name));
        LT_CHECK(t, r.summary[0] != '\0', "%s has no summary", name);
        LT_CHECK(t, strstr(lilm_recipe_names(0, names, sizeof names), name) != NULL, "%s missing", name);
        LT_CHECK(t, !strstr(lilm_recipe_builtin_text(i), "shared"), "%s names a local path", name);
        if (!r.config_yaml) {
            LT_STATUS(t, lilm_recipe_config(&r, 1, &cfg), LILM_ERR_ARG);
            lilm_clear_error();
            lilm_recipe_free(&r);
            continue;
        }
        runnable++;
        LT_CHECK(t, strstr(lilm_recipe_names(1, names, sizeof names), name) != NULL, "%s not runnable", name);
        LT_OK(t, lilm_recipe_config(&r, 1, &cfg));
        LT_TRUE(t, cfg.data.dataset[0] == '\0' && cfg.data.text[0] == '\0');
        if (strcmp(r.tokenizer, "bytes") != 0) LT_EQ_INT(t, cfg.model.vocab_size, r.vocab_size);
        LT_TRUE(t, r.hf_repo[0] || r.shipped_text || strcmp(name, "tinystories") == 0);
        lilm_recipe_free(&r);
    }
    LT_EQ_INT(t, runnable, 4);
    lilm_recipe r;
    LT_OK(t, lilm_recipe_load(&r, "babylm"));
    LT_TRUE(t, strcmp(r.hf_repo, "BabyLM-community/BabyLM-2026-Strict") == 0 && strcmp(r.val_rule, "index%10000<100") == 0);
    LT_TRUE(t, r.split == LILM_SPLIT_RULE && r.vocab_size == 12000 && strcmp(r.column, "text") == 0);
    lilm_config cpu, gpu;
    LT_OK(t, lilm_recipe_config(&r, 1, &cpu));
    LT_OK(t, lilm_recipe_config(&r, 0, &gpu));
    LT_EQ_INT(t, cpu.model.context, 256);
    LT_EQ_INT(t, gpu.model.context, 512);
    LT_EQ_INT(t, cpu.train.batch_size, 16);
    lilm_recipe_free(&r);
    LT_OK(t, lilm_recipe_load(&r, "simplestories"));
    LT_TRUE(t, r.split == LILM_SPLIT_FILE_NAMES && strcmp(r.column, "story") == 0 && r.vocab_size == 8000);
    lilm_recipe_free(&r);
    LT_STATUS(t, lilm_recipe_load(&r, "nonsense"), LILM_ERR_NOT_FOUND);
    LT_CHECK(t, strstr(lilm_last_error(), "babylm") != NULL, "%s", lilm_last_error());
    lilm_clear_error();

    /* a user's recipe file: its name from the file, cpu block kept, errors with the file and line */
    char dir[256], path[300];
    lilm_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/mine.yaml", dir);
    const char *mine = "# my recipe\nrecipe:\n  summary: mine\n  hub: me/data\n  validation: \"index%10<1\"\n"
                       "  tokenizer: unigram\n  vocab_size: 500\nmodel: {vocab_size: 500, d_model: 64, n_layers: 2,\n"
                       "        n_heads: 2, qk_dim: 32, v_dim: 32, ffn_dim: 128, context: 64}\ncpu:\n"
                       "  model: {context: 32}\n  train: {batch_size: 4, accum_batch: 4}\nbudget: {minutes: 1}\n";
    LT_OK(t, lilm_write_atomic(path, mine, strlen(mine)));
    LT_OK(t, lilm_recipe_load(&r, path));
    LT_TRUE(t, strcmp(r.name, "mine") == 0 && strcmp(r.hf_repo, "me/data") == 0);
    LT_OK(t, lilm_recipe_config(&r, 1, &cpu));
    LT_EQ_INT(t, cpu.model.context, 32);
    LT_EQ_INT(t, cpu.train.batch_size, 4);
    LT_NEAR(t, cpu.budget.minutes, 1.0, 1e-12);
    lilm_recipe_free(&r);
    const char *bad_key = "recipe:\n  summary: x\n  colum: text\n";
    LT_STATUS(t, lilm_recipe_parse(&r, "b", "b.yaml", bad_key, strlen(bad_key)), LILM_ERR_CONFIG);
    LT_CHECK(t, strstr(lilm_last_error(), "b.yaml:3: unknown key recipe.colum") != NULL, "%s", lilm_last_error());
    lilm_clear_error();
    const char *bad_rule = "recipe:\n  validation: \"half\"\n";
    LT_STATUS(t, lilm_recipe_parse(&r, "b", "b.yaml", bad_rule, strlen(bad_rule)), LILM_ERR_CONFIG);
    lilm_clear_error();
    const char *bad_cfg = "recipe:\n  summary: x\n  validation: \"index%10<1\"\nmodel: {d_mode: 3}\n";
    LT_OK(t, lilm_recipe_parse(&r, "b", "b.yaml", bad_cfg, strlen(bad_cfg)));
    LT_STATUS(t, lilm_recipe_config(&r, 1, &cpu), LILM_ERR_CONFIG);
    LT_CHECK(t, strstr(lilm_last_error(), "b.yaml:4") != NULL, "%s", lilm_last_error());
    lilm_clear_error();
    lilm_recipe_free(&r);
    LT_STATUS(t, lilm_recipe_parse(&r, "b", "b.yaml", "model: {}\n", 10), LILM_ERR_CONFIG);
    lilm_clear_error();
}

static const lilm_test_case cases[] = {
    {"root_and_stamps", test_root_and_stamps},
    {"tiny_stories", test_tiny_stories},
    {"recipes", test_recipes},
};
LILM_TEST_MAIN(cases)
