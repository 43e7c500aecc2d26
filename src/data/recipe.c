/*
 * recipe.c: reading recipe files (recipe.h).
 *
 * The file is parsed once with libyaml to find its top-level sections. The
 * `recipe` mapping fills the struct; the `cpu` section's text is cut out
 * (indented as it stood, so a block mapping stays valid YAML on its own);
 * both are then blanked in a copy of the file (newlines kept, so line
 * numbers in config errors still match the file) and that copy is the config
 * the core loader reads, with its own checks and messages.
 */
#include "data/recipe.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/fileio.h"
#include "data/prepare.h"

static void blank(char *s, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        if (s[i] != '\n') s[i] = ' ';
}

static const char *scalar(const yaml_node_t *n) { return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL; }

static lilm_status set_str(char *dst, size_t n, const char *v, const lilm_recipe *r, const char *key, int line)
{
    if (strlen(v) >= n) return lilm_errorf(LILM_ERR_CONFIG, "%s:%d: recipe.%s is too long", r->label, line, key);
    snprintf(dst, n, "%s", v);
    return LILM_OK;
}

/* One `recipe:` key. */
static lilm_status recipe_key(lilm_recipe *r, const char *k, const char *v, int line)
{
    if (strcmp(k, "summary") == 0) return set_str(r->summary, sizeof r->summary, v, r, k, line);
    if (strcmp(k, "hub") == 0) {
        if (!strchr(v, '/') || strstr(v, ".."))
            return lilm_errorf(LILM_ERR_CONFIG, "%s:%d: recipe.hub should be OWNER/NAME, got '%s'", r->label, line, v);
        return set_str(r->hf_repo, sizeof r->hf_repo, v, r, k, line);
    }
    if (strcmp(k, "column") == 0) return set_str(r->column, sizeof r->column, v, r, k, line);
    if (strcmp(k, "text") == 0) {
        if (strcmp(v, "shipped") != 0)
            return lilm_errorf(LILM_ERR_CONFIG, "%s:%d: recipe.text: only `shipped` (the text inside lilm) is known, "
                                                "got '%s'\nHINT: local files go on the command line: --data PATH",
                               r->label, line, v);
        r->shipped_text = 1;
        return LILM_OK;
    }
    if (strcmp(k, "format") == 0) {
        static const char *const names[] = {"auto", "text", "jsonl", "parquet"};
        static const lilm_input_format fmts[] = {LILM_FMT_AUTO, LILM_FMT_TEXT, LILM_FMT_JSONL, LILM_FMT_PARQUET};
        for (size_t i = 0; i < 4; i++)
            if (strcmp(v, names[i]) == 0) {
                r->format = fmts[i];
                return LILM_OK;
            }
        return lilm_errorf(LILM_ERR_CONFIG, "%s:%d: recipe.format: expected auto, text, jsonl or parquet, got '%s'",
                           r->label, line, v);
    }
    if (strcmp(k, "validation") == 0) {
        if (strcmp(v, "file names") == 0) {
            r->split = LILM_SPLIT_FILE_NAMES;
            return LILM_OK;
        }
        int64_t m, b;
        if (lilm_val_rule_parse(v, &m, &b) != LILM_OK)
            return lilm_error_context(LILM_ERR_CONFIG, "%s:%d: recipe.validation: ", r->label, line);
        r->split = LILM_SPLIT_RULE;
        return set_str(r->val_rule, sizeof r->val_rule, v, r, k, line);
    }
    if (strcmp(k, "text_docs") == 0) {
        if (strcmp(v, "lines") == 0) r->text_docs = LILM_TEXT_LINES;
        else if (strcmp(v, "blank") == 0) r->text_docs = LILM_TEXT_BLANK;
        else return lilm_errorf(LILM_ERR_CONFIG, "%s:%d: recipe.text_docs: expected lines or blank, got '%s'", r->label, line, v);
        return LILM_OK;
    }
    if (strcmp(k, "tokenizer") == 0) {
        if (strcmp(v, "unigram") != 0 && strcmp(v, "bytes") != 0)
            return lilm_errorf(LILM_ERR_CONFIG, "%s:%d: recipe.tokenizer: expected unigram or bytes, got '%s'\nHINT: "
                                                "a tokenizer file goes on the command line: --tokenizer MODEL",
                               r->label, line, v);
        return set_str(r->tokenizer, sizeof r->tokenizer, v, r, k, line);
    }
    if (strcmp(k, "vocab_size") == 0) {
        char *end;
        errno = 0;
        long x = strtol(v, &end, 10);
        if (*v == '\0' || *end || errno || x < 260 || x > 1000000)
            return lilm_errorf(LILM_ERR_CONFIG, "%s:%d: recipe.vocab_size: expected an integer in [260, 1000000], "
                                                "got '%s'", r->label, line, v);
        r->vocab_size = (int32_t)x;
        return LILM_OK;
    }
    return lilm_errorf(LILM_ERR_CONFIG, "%s:%d: unknown key recipe.%s\nHINT: recipe keys are summary, hub, text, "
                                        "column, format, validation, text_docs, tokenizer, vocab_size (see the files in recipes/)",
                       r->label, line, k);
}

static lilm_status parse_doc(lilm_recipe *r, yaml_document_t *doc, const char *text, size_t n, char *cfg)
{
    yaml_node_t *root = yaml_document_get_root_node(doc);
    if (!root || root->type != YAML_MAPPING_NODE)
        return lilm_errorf(LILM_ERR_CONFIG, "%s: a recipe is a YAML mapping with a `recipe:` section", r->label);
    int has_recipe = 0, has_model = 0;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key), *v = yaml_document_get_node(doc, p->value);
        const char *key = scalar(k);
        if (!key) return lilm_errorf(LILM_ERR_CONFIG, "%s:%d: a section name must be a word", r->label, (int)k->start_mark.line + 1);
        size_t from = k->start_mark.index, to = v->end_mark.index;
        if (to > n || from > to) return lilm_errorf(LILM_ERR_CONFIG, "%s: cannot locate section %s", r->label, key);
        if (strcmp(key, "recipe") == 0) {
            has_recipe = 1;
            if (v->type != YAML_MAPPING_NODE)
                return lilm_errorf(LILM_ERR_CONFIG, "%s:%d: `recipe:` must be a mapping", r->label, (int)v->start_mark.line + 1);
            for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
                yaml_node_t *rk = yaml_document_get_node(doc, q->key), *rv = yaml_document_get_node(doc, q->value);
                const char *kk = scalar(rk), *vv = scalar(rv);
                if (!kk || !vv)
                    return lilm_errorf(LILM_ERR_CONFIG, "%s:%d: recipe keys take plain values", r->label,
                                       (int)rk->start_mark.line + 1);
                LILM_TRY(recipe_key(r, kk, vv, (int)rk->start_mark.line + 1));
            }
            blank(cfg, from, to);
        } else if (strcmp(key, "cpu") == 0) {
            size_t col = v->start_mark.column, len = v->end_mark.index - v->start_mark.index;
            r->cpu_yaml = malloc(col + len + 2);
            if (!r->cpu_yaml) return lilm_errorf(LILM_ERR_OOM, "out of memory");
            memset(r->cpu_yaml, ' ', col);
            memcpy(r->cpu_yaml + col, text + v->start_mark.index, len);
            r->cpu_yaml[col + len] = '\n';
            r->cpu_yaml[col + len + 1] = '\0';
            blank(cfg, from, to);
        } else if (strcmp(key, "model") == 0) {
            has_model = 1;
        }
    }
    if (!has_recipe)
        return lilm_errorf(LILM_ERR_CONFIG, "%s: no `recipe:` section\nHINT: start from a copy of a built-in recipe "
                                            "(recipes/babylm.yaml)", r->label);
    if (strcmp(r->tokenizer, "unigram") == 0 && r->vocab_size == 0)
        return lilm_errorf(LILM_ERR_CONFIG, "%s: recipe.tokenizer is unigram but recipe.vocab_size is missing", r->label);
    if (r->split == LILM_SPLIT_RULE && !r->val_rule[0])
        return lilm_errorf(LILM_ERR_CONFIG, "%s: recipe.validation is missing (\"index%%M<K\" or file names)", r->label);
    return has_model ? LILM_OK : LILM_ERR_NOT_FOUND; /* NOT_FOUND: data only, not an error */
}

lilm_status lilm_recipe_parse(lilm_recipe *r, const char *name, const char *label, const char *text, size_t n)
{
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->label, sizeof r->label, "%s", label);
    snprintf(r->column, sizeof r->column, "text");
    snprintf(r->tokenizer, sizeof r->tokenizer, "bytes");
    r->split = LILM_SPLIT_RULE;
    char *cfg = malloc(n + 1);
    if (!cfg) return lilm_errorf(LILM_ERR_OOM, "out of memory");
    memcpy(cfg, text, n);
    cfg[n] = '\0';
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        free(cfg);
        return lilm_errorf(LILM_ERR_OOM, "%s: cannot start the YAML parser", label);
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, n);
    lilm_status st;
    if (!yaml_parser_load(&parser, &doc)) {
        st = lilm_errorf(LILM_ERR_CONFIG, "%s:%d: %s", label, (int)parser.problem_mark.line + 1,
                         parser.problem ? parser.problem : "not valid YAML");
        yaml_parser_delete(&parser);
        free(cfg);
        return st;
    }
    st = parse_doc(r, &doc, text, n, cfg);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (st == LILM_ERR_NOT_FOUND) { /* data only */
        free(cfg);
        return LILM_OK;
    }
    if (st) {
        free(cfg);
        lilm_recipe_free(r);
        return st;
    }
    r->config_yaml = cfg;
    return LILM_OK;
}

void lilm_recipe_free(lilm_recipe *r)
{
    free(r->config_yaml);
    free(r->cpu_yaml);
    r->config_yaml = r->cpu_yaml = NULL;
}

lilm_status lilm_recipe_load(lilm_recipe *r, const char *name)
{
    memset(r, 0, sizeof *r);
    if (!name || !*name) return lilm_errorf(LILM_ERR_ARG, "no recipe named");
    size_t len = strlen(name);
    if (strchr(name, '/') || (len > 5 && strcmp(name + len - 5, ".yaml") == 0)) {
        char *text = NULL;
        size_t n = 0;
        lilm_status st = lilm_read_file(name, &text, &n);
        if (st) return lilm_error_context(st, "recipe file: ");
        const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
        char stem[64];
        snprintf(stem, sizeof stem, "%.*s", (int)(strlen(base) > 5 && strcmp(base + strlen(base) - 5, ".yaml") == 0
                                                      ? strlen(base) - 5 : strlen(base)), base);
        st = lilm_recipe_parse(r, stem, name, text, n);
        free(text);
        return st;
    }
    for (size_t i = 0; i < lilm_recipe_builtin_count(); i++)
        if (strcmp(lilm_recipe_builtin_name(i), name) == 0) {
            char label[128];
            snprintf(label, sizeof label, "recipes/%s.yaml", name);
            const char *text = lilm_recipe_builtin_text(i);
            return lilm_recipe_parse(r, name, label, text, strlen(text));
        }
    char names[512];
    return lilm_errorf(LILM_ERR_NOT_FOUND, "no recipe '%s'\nHINT: recipes are %s, or a recipe file ./NAME.yaml",
                       name, lilm_recipe_names(0, names, sizeof names));
}

const char *lilm_recipe_names(int runnable_only, char *buf, size_t n)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < lilm_recipe_builtin_count(); i++) {
        const char *text = lilm_recipe_builtin_text(i);
        /* a runnable recipe has a model section at the start of a line */
        int runnable = strncmp(text, "model:", 6) == 0 || strstr(text, "\nmodel:") != NULL;
        if (runnable_only && !runnable) continue;
        int k = snprintf(buf + o, n - o, "%s%s", o ? ", " : "", lilm_recipe_builtin_name(i));
        if (k < 0 || (size_t)k >= n - o) break;
        o += (size_t)k;
    }
    return buf;
}

lilm_status lilm_recipe_config(const lilm_recipe *r, int on_cpu, lilm_config *cfg)
{
    lilm_config_defaults(cfg);
    if (!r->config_yaml) {
        char names[512];
        return lilm_errorf(LILM_ERR_ARG, "recipe '%s' describes data only; `lilm run` trains %s", r->name,
                           lilm_recipe_names(1, names, sizeof names));
    }
    LILM_TRY(lilm_config_load_yaml_string(cfg, r->label, r->config_yaml, strlen(r->config_yaml)));
    if (on_cpu && r->cpu_yaml) {
        char label[1100];
        snprintf(label, sizeof label, "%s (cpu:)", r->label);
        LILM_TRY(lilm_config_load_yaml_string(cfg, label, r->cpu_yaml, strlen(r->cpu_yaml)));
    }
    if (strcmp(r->tokenizer, "bytes") == 0) snprintf(cfg->data.tokenizer, sizeof cfg->data.tokenizer, "bytes");
    cfg->data.text[0] = '\0';
    cfg->data.dataset[0] = '\0';
    return LILM_OK;
}
