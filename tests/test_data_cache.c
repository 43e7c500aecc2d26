/*
 * test_data_cache.c: the cache directory, its stamps, the shipped tiny
 * stories and the recipe table (src/data/cache.h, tiny_stories.h, recipe.h).
 *
 * Covers: $LILM_HOME wins over $XDG_CACHE_HOME over $HOME; no HOME is a
 * clear error; cache paths create their parent; a stamp matches only its
 * exact key; the tiny stories are a pure function of the seed, printable
 * ASCII with blank-line separated stories, at least the size asked for, and
 * written once (a second write leaves the file alone); every runnable recipe
 * loads its config, no recipe names a local path, and data-only recipes are
 * refused by lilm_recipe_config.
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
    size_t n;
    const lilm_recipe *r = lilm_recipes(&n);
    int runnable = 0;
    for (size_t i = 0; i < n; i++) {
        lilm_config cfg;
        LT_TRUE(t, lilm_recipe_find(r[i].name) == &r[i]);
        LT_CHECK(t, strstr(lilm_recipe_names(0), r[i].name) != NULL, "%s missing from the names", r[i].name);
        if (!r[i].yaml) {
            LT_STATUS(t, lilm_recipe_config(&r[i], 1, &cfg), LILM_ERR_ARG);
            lilm_clear_error();
            continue;
        }
        runnable++;
        LT_CHECK(t, strstr(lilm_recipe_names(1), r[i].name) != NULL, "%s missing from the runnable names",
                 r[i].name);
        LT_OK(t, lilm_recipe_config(&r[i], 1, &cfg));
        LT_TRUE(t, cfg.data.dataset[0] == '\0' && cfg.data.text[0] == '\0');
        if (strcmp(r[i].tokenizer, "bytes") != 0) LT_EQ_INT(t, cfg.model.vocab_size, r[i].vocab_size);
        LT_TRUE(t, r[i].hf_repo || r[i].shipped_text || strcmp(r[i].name, "tinystories") == 0);
    }
    LT_EQ_INT(t, runnable, 4);
    LT_TRUE(t, lilm_recipe_find("nonsense") == NULL);
}

static const lilm_test_case cases[] = {
    {"root_and_stamps", test_root_and_stamps},
    {"tiny_stories", test_tiny_stories},
    {"recipes", test_recipes},
};
LILM_TEST_MAIN(cases)
