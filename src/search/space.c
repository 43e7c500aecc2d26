/*
 * space.c: reads a search space YAML file (format in docs/search.md) and
 * converts parameter values between their internal and external forms.
 *
 * The file is loaded as one libyaml document and walked section by section;
 * every key is known, every value checked, and an error names file:line and
 * the key. Derived expressions are checked once at load by evaluating them
 * at the low end of every range, so a typo fails before any trial runs.
 */
#include "search/space.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/config.h"
#include "core/fileio.h"
#include "search/expr.h"

static void lilm_space_init(lilm_space *sp)
{
    memset(sp, 0, sizeof *sp);
    lilm_study_settings *s = &sp->study;
    s->trials = 20;
    s->seed = 42;
    s->tpe = 1;
    s->n_startup_trials = 10;
    s->n_ei_candidates = 24;
    s->prior_weight = 1.0;
    s->consider_magic_clip = 1;
    s->consider_endpoints = 0;
    s->pruner_warmup = 1;
    s->pruner_startup = 5;
    s->halving_rate = 3.0;
    s->minutes = 1.0;
    snprintf(sp->base.vocab_format, sizeof sp->base.vocab_format, "text");
    snprintf(sp->base.vocab_model_type, sizeof sp->base.vocab_model_type, "unigram");
}

int lilm_space_find(const lilm_space *sp, const char *name)
{
    for (int i = 0; i < sp->n_params; i++)
        if (strcmp(sp->params[i].name, name) == 0) return i;
    return -1;
}

/* ---- values ---- */

double lilm_search_param_snap(const lilm_search_param *p, double x)
{
    if (p->kind == LILM_SEARCH_PARAM_CATEGORICAL) {
        double i = floor(x + 0.5);
        return i < 0 ? 0 : i >= p->n_choices ? p->n_choices - 1 : i;
    }
    if (p->step > 0) x = p->low + floor((x - p->low) / p->step + 0.5) * p->step;
    if (x < p->low) x = p->low;
    if (x > p->high) x = p->high;
    return x;
}

double lilm_search_param_external(const lilm_search_param *p, double x)
{
    if (p->kind != LILM_SEARCH_PARAM_CATEGORICAL) return x;
    int i = (int)lilm_search_param_snap(p, x);
    return p->choice_num[i];
}

void lilm_search_param_format(const lilm_search_param *p, double x, char *buf, size_t n)
{
    if (p->kind == LILM_SEARCH_PARAM_CATEGORICAL) {
        snprintf(buf, n, "%s", p->choices[(int)lilm_search_param_snap(p, x)]);
    } else if (p->kind == LILM_SEARCH_PARAM_INT) {
        snprintf(buf, n, "%lld", (long long)llround(x));
    } else {
        /* the shortest text that reads back to the same double */
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, n, "%.*g", prec, x);
            if (strtod(buf, NULL) == x) break;
        }
    }
}

lilm_status lilm_search_param_parse(const lilm_search_param *p, const char *text, double *x)
{
    if (p->kind == LILM_SEARCH_PARAM_CATEGORICAL) {
        for (int i = 0; i < p->n_choices; i++)
            if (strcmp(p->choices[i], text) == 0) {
                *x = i;
                return LILM_OK;
            }
        double v;
        if (lilm_config_parse_float(text, &v))
            for (int i = 0; i < p->n_choices; i++)
                if (p->choice_num[i] == v) {
                    *x = i;
                    return LILM_OK;
                }
        return lilm_errorf(LILM_ERR_ARG, "parameter %s: '%s' is not one of its choices", p->name, text);
    }
    double v;
    if (!lilm_config_parse_float(text, &v) || v < p->low || v > p->high)
        return lilm_errorf(LILM_ERR_ARG, "parameter %s: '%s' is not a number in [%g, %g]", p->name, text, p->low, p->high);
    *x = lilm_search_param_snap(p, v);
    return LILM_OK;
}

lilm_status lilm_space_derive(const lilm_space *sp, const double *x, double *out)
{
    const char *names[LILM_SEARCH_MAX_PARAMS + LILM_SEARCH_MAX_DERIVED];
    double values[LILM_SEARCH_MAX_PARAMS + LILM_SEARCH_MAX_DERIVED];
    size_t n = 0;
    for (int i = 0; i < sp->n_params; i++) {
        names[n] = sp->params[i].name;
        values[n++] = lilm_search_param_external(&sp->params[i], x[i]);
    }
    for (int i = 0; i < sp->n_derived; i++) {
        lilm_expr_env env = {names, values, n};
        double v;
        lilm_status s = lilm_expr_eval(sp->derived[i].expr, &env, &v);
        if (s != LILM_OK) return lilm_error_context(s, "derived key %s: ", sp->derived[i].name);
        if (sp->derived[i].is_int) v = (double)llround(v);
        out[i] = v;
        names[n] = sp->derived[i].name;
        values[n++] = v;
    }
    return LILM_OK;
}

/* ---- YAML walking ---- */

typedef struct loader {
    const char *path;
    yaml_document_t *doc;
    lilm_space *sp;
} loader;

static int line_of(const yaml_node_t *n) { return (int)n->start_mark.line + 1; }

static lilm_status bad(const loader *ld, const yaml_node_t *n, const char *key, const char *what)
{
    return lilm_errorf(LILM_ERR_CONFIG, "%s:%d: %s: %s\nHINT: docs/search.md describes the search space file",
                       ld->path, line_of(n), key, what);
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static yaml_node_t *node(const loader *ld, int id) { return yaml_document_get_node(ld->doc, id); }

static lilm_status get_str(const loader *ld, const yaml_node_t *v, const char *key, char *dst, size_t n)
{
    const char *s = scalar(v);
    if (!s) return bad(ld, v, key, "must be a text value");
    if (strlen(s) >= n) return bad(ld, v, key, "too long");
    snprintf(dst, n, "%s", s);
    return LILM_OK;
}

static lilm_status get_num(const loader *ld, const yaml_node_t *v, const char *key, double lo, double hi, double *out)
{
    const char *s = scalar(v);
    double x;
    if (!s || !lilm_config_parse_float(s, &x) || x < lo || x > hi) {
        char what[128];
        snprintf(what, sizeof what, "must be a number in [%g, %g], got '%s'", lo, hi, s ? s : "(not a scalar)");
        return bad(ld, v, key, what);
    }
    *out = x;
    return LILM_OK;
}

static lilm_status get_int(const loader *ld, const yaml_node_t *v, const char *key, double lo, double hi, int64_t *out)
{
    double x;
    LILM_TRY(get_num(ld, v, key, lo, hi, &x));
    if (x != floor(x)) return bad(ld, v, key, "must be a whole number");
    *out = (int64_t)x;
    return LILM_OK;
}

static lilm_status get_bool(const loader *ld, const yaml_node_t *v, const char *key, int *out)
{
    const char *s = scalar(v);
    if (s && (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0)) *out = 1;
    else if (s && (strcmp(s, "false") == 0 || strcmp(s, "no") == 0)) *out = 0;
    else return bad(ld, v, key, "must be true or false");
    return LILM_OK;
}

static lilm_status get_list(const loader *ld, const yaml_node_t *v, const char *key, char (*dst)[1024], int max, int *n)
{
    if (scalar(v)) {
        *n = 1;
        return get_str(ld, v, key, dst[0], 1024);
    }
    if (v->type != YAML_SEQUENCE_NODE) return bad(ld, v, key, "must be a path or a list of paths");
    *n = 0;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
        if (*n == max) return bad(ld, v, key, "too many entries");
        LILM_TRY(get_str(ld, node(ld, *it), key, dst[*n], 1024));
        (*n)++;
    }
    return LILM_OK;
}

#define FOR_PAIRS(ld, map, k, v, ks)                                                                 \
    for (yaml_node_pair_t *pair_ = (map)->data.mapping.pairs.start; pair_ < (map)->data.mapping.pairs.top; pair_++) \
        for (yaml_node_t *k = node(ld, pair_->key), *v = node(ld, pair_->value); k; k = NULL)         \
            for (const char *ks = scalar(k) ? scalar(k) : ""; ks; ks = NULL)

static lilm_status need_map(const loader *ld, const yaml_node_t *v, const char *key)
{
    return v->type == YAML_MAPPING_NODE ? LILM_OK : bad(ld, v, key, "must be a mapping of key: value");
}

static lilm_status load_study(loader *ld, yaml_node_t *map)
{
    lilm_study_settings *s = &ld->sp->study;
    LILM_TRY(need_map(ld, map, "study"));
    FOR_PAIRS(ld, map, k, v, key) {
        lilm_status st = LILM_OK;
        double x;
        if (strcmp(key, "name") == 0) st = get_str(ld, v, "study.name", s->name, sizeof s->name);
        else if (strcmp(key, "trials") == 0) st = get_int(ld, v, "study.trials", 1, 100000, &s->trials);
        else if (strcmp(key, "seed") == 0) {
            st = get_num(ld, v, "study.seed", 0, 9007199254740992.0, &x);
            s->seed = (uint64_t)x;
        } else if (strcmp(key, "sampler") == 0) {
            const char *t = scalar(v);
            if (t && strcmp(t, "tpe") == 0) s->tpe = 1;
            else if (t && strcmp(t, "random") == 0) s->tpe = 0;
            else st = bad(ld, v, "study.sampler", "must be tpe or random");
        } else if (strcmp(key, "n_startup_trials") == 0) st = get_int(ld, v, "study.n_startup_trials", 0, 100000, &s->n_startup_trials);
        else if (strcmp(key, "n_ei_candidates") == 0) st = get_int(ld, v, "study.n_ei_candidates", 1, 100000, &s->n_ei_candidates);
        else if (strcmp(key, "prior_weight") == 0) st = get_num(ld, v, "study.prior_weight", 0, 1e6, &s->prior_weight);
        else if (strcmp(key, "consider_magic_clip") == 0) st = get_bool(ld, v, "study.consider_magic_clip", &s->consider_magic_clip);
        else if (strcmp(key, "consider_endpoints") == 0) st = get_bool(ld, v, "study.consider_endpoints", &s->consider_endpoints);
        else if (strcmp(key, "multivariate") == 0) st = get_bool(ld, v, "study.multivariate", &s->multivariate);
        else if (strcmp(key, "pruner") == 0) {
            const char *t = scalar(v);
            if (t && strcmp(t, "none") == 0) s->pruner = LILM_PRUNER_NONE;
            else if (t && strcmp(t, "median") == 0) s->pruner = LILM_PRUNER_MEDIAN;
            else if (t && strcmp(t, "halving") == 0) s->pruner = LILM_PRUNER_HALVING;
            else st = bad(ld, v, "study.pruner", "must be none, median or halving");
        } else if (strcmp(key, "pruner_warmup") == 0) st = get_int(ld, v, "study.pruner_warmup", 0, 1e9, &s->pruner_warmup);
        else if (strcmp(key, "pruner_startup") == 0) st = get_int(ld, v, "study.pruner_startup", 0, 1e9, &s->pruner_startup);
        else if (strcmp(key, "halving_rate") == 0) st = get_num(ld, v, "study.halving_rate", 1.0001, 1000, &s->halving_rate);
        else if (strcmp(key, "minutes") == 0) st = get_num(ld, v, "study.minutes", 1e-3, 1e6, &s->minutes);
        else st = bad(ld, k, key, "unknown key in study (name, trials, seed, sampler, n_startup_trials, n_ei_candidates, "
                                  "prior_weight, consider_magic_clip, consider_endpoints, multivariate, pruner, "
                                  "pruner_warmup, pruner_startup, halving_rate, minutes)");
        if (st != LILM_OK) return st;
    }
    return LILM_OK;
}

static lilm_status load_base(loader *ld, yaml_node_t *map)
{
    lilm_trial_base *b = &ld->sp->base;
    LILM_TRY(need_map(ld, map, "base"));
    FOR_PAIRS(ld, map, k, v, key) {
        lilm_status st = LILM_OK;
        if (strcmp(key, "recipe") == 0) st = get_str(ld, v, "base.recipe", b->recipe, sizeof b->recipe);
        else if (strcmp(key, "config") == 0) st = get_str(ld, v, "base.config", b->config, sizeof b->config);
        else if (strcmp(key, "set") == 0) {
            if (v->type != YAML_MAPPING_NODE) return bad(ld, v, "base.set", "must be a mapping of config key: value");
            FOR_PAIRS(ld, v, k2, v2, key2) {
                const char *val = scalar(v2);
                if (!val) return bad(ld, v2, key2, "must be a value");
                if (b->n_sets == LILM_SEARCH_MAX_SETS) return bad(ld, v2, key2, "too many keys in base.set");
                snprintf(b->sets[b->n_sets++], sizeof b->sets[0], "%s=%s", key2, val);
            }
        } else st = bad(ld, k, key, "unknown key in base (recipe, config, set)");
        if (st != LILM_OK) return st;
    }
    if (b->recipe[0] && b->config[0]) return bad(ld, map, "base", "give recipe or config, not both");
    return LILM_OK;
}

static lilm_status load_vocab(loader *ld, yaml_node_t *map)
{
    lilm_trial_base *b = &ld->sp->base;
    LILM_TRY(need_map(ld, map, "vocab"));
    FOR_PAIRS(ld, map, k, v, key) {
        lilm_status st = LILM_OK;
        if (strcmp(key, "param") == 0) st = get_str(ld, v, "vocab.param", b->vocab_key, sizeof b->vocab_key);
        else if (strcmp(key, "text") == 0) st = get_str(ld, v, "vocab.text", b->vocab_text, sizeof b->vocab_text);
        else if (strcmp(key, "format") == 0) st = get_str(ld, v, "vocab.format", b->vocab_format, sizeof b->vocab_format);
        else if (strcmp(key, "model_type") == 0) st = get_str(ld, v, "vocab.model_type", b->vocab_model_type, sizeof b->vocab_model_type);
        else if (strcmp(key, "sentences") == 0) st = get_int(ld, v, "vocab.sentences", 0, 1e12, &b->vocab_sentences);
        else if (strcmp(key, "recipe") == 0) st = get_str(ld, v, "vocab.recipe", b->data_recipe, sizeof b->data_recipe);
        else if (strcmp(key, "inputs") == 0) st = get_list(ld, v, "vocab.inputs", b->data_inputs, 8, &b->n_data_inputs);
        else if (strcmp(key, "val") == 0) st = get_list(ld, v, "vocab.val", b->data_val, 8, &b->n_data_val);
        else if (strcmp(key, "val_rule") == 0) st = get_str(ld, v, "vocab.val_rule", b->data_val_rule, sizeof b->data_val_rule);
        else st = bad(ld, k, key, "unknown key in vocab (param, text, format, model_type, sentences, recipe, inputs, val, val_rule)");
        if (st != LILM_OK) return st;
    }
    if (!b->vocab_key[0] || !b->vocab_text[0] || !b->data_recipe[0])
        return bad(ld, map, "vocab", "needs param, text and recipe");
    return LILM_OK;
}

static lilm_status load_param(loader *ld, const char *name, yaml_node_t *map)
{
    lilm_space *sp = ld->sp;
    if (sp->n_params == LILM_SEARCH_MAX_PARAMS) return bad(ld, map, name, "too many parameters");
    if (strlen(name) >= LILM_SEARCH_NAME_MAX) return bad(ld, map, name, "name too long");
    if (lilm_space_find(sp, name) >= 0) return bad(ld, map, name, "duplicate parameter");
    LILM_TRY(need_map(ld, map, name));
    lilm_search_param *p = &sp->params[sp->n_params];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    int have_type = 0, have_low = 0, have_high = 0;
    yaml_node_t *choices = NULL;
    FOR_PAIRS(ld, map, k, v, key) {
        lilm_status st = LILM_OK;
        if (strcmp(key, "type") == 0) {
            const char *t = scalar(v);
            have_type = 1;
            if (t && strcmp(t, "float") == 0) p->kind = LILM_SEARCH_PARAM_FLOAT;
            else if (t && strcmp(t, "int") == 0) p->kind = LILM_SEARCH_PARAM_INT;
            else if (t && strcmp(t, "categorical") == 0) p->kind = LILM_SEARCH_PARAM_CATEGORICAL;
            else st = bad(ld, v, name, "type must be float, int or categorical");
        } else if (strcmp(key, "low") == 0) {
            have_low = 1;
            st = get_num(ld, v, name, -1e300, 1e300, &p->low);
        } else if (strcmp(key, "high") == 0) {
            have_high = 1;
            st = get_num(ld, v, name, -1e300, 1e300, &p->high);
        } else if (strcmp(key, "step") == 0) st = get_num(ld, v, name, 0, 1e300, &p->step);
        else if (strcmp(key, "log") == 0) st = get_bool(ld, v, name, &p->log);
        else if (strcmp(key, "choices") == 0) choices = v;
        else st = bad(ld, k, name, "unknown key (type, low, high, step, log, choices)");
        if (st != LILM_OK) return st;
    }
    if (!have_type) return bad(ld, map, name, "needs a type (float, int or categorical)");
    if (p->kind == LILM_SEARCH_PARAM_CATEGORICAL) {
        if (!choices || choices->type != YAML_SEQUENCE_NODE) return bad(ld, map, name, "categorical needs choices: [a, b, ...]");
        for (yaml_node_item_t *it = choices->data.sequence.items.start; it < choices->data.sequence.items.top; it++) {
            if (p->n_choices == LILM_SEARCH_MAX_CHOICES) return bad(ld, choices, name, "too many choices");
            const char *c = scalar(node(ld, *it));
            if (!c || !*c || strlen(c) >= LILM_SEARCH_NAME_MAX) return bad(ld, choices, name, "each choice must be a short value");
            snprintf(p->choices[p->n_choices], LILM_SEARCH_NAME_MAX, "%s", c);
            double x;
            p->choice_num[p->n_choices] = lilm_config_parse_float(c, &x) ? x : NAN;
            p->n_choices++;
        }
        if (p->n_choices < 1) return bad(ld, choices, name, "needs at least one choice");
    } else {
        if (!have_low || !have_high || !(p->low <= p->high)) return bad(ld, map, name, "needs low <= high");
        if (p->log && p->low <= 0) return bad(ld, map, name, "log needs low > 0");
        if (p->kind == LILM_SEARCH_PARAM_INT) {
            if (p->low != floor(p->low) || p->high != floor(p->high)) return bad(ld, map, name, "int bounds must be whole numbers");
            if (p->step == 0) p->step = 1;
            if (p->step != floor(p->step)) return bad(ld, map, name, "int step must be a whole number");
        }
        if (p->log && p->step > 0 && p->step != 1) return bad(ld, map, name, "log and a step other than 1 do not mix");
        if (p->step > 0) {
            /* the grid must end at high, as Optuna requires */
            double k = (p->high - p->low) / p->step;
            if (fabs(k - floor(k + 0.5)) > 1e-9) return bad(ld, map, name, "high - low must be a multiple of step");
        }
    }
    sp->n_params++;
    return LILM_OK;
}

static lilm_status load_derived(loader *ld, yaml_node_t *map)
{
    lilm_space *sp = ld->sp;
    LILM_TRY(need_map(ld, map, "derived"));
    FOR_PAIRS(ld, map, k, v, key) {
        if (sp->n_derived == LILM_SEARCH_MAX_DERIVED) return bad(ld, v, key, "too many derived keys");
        if (strlen(key) >= LILM_SEARCH_NAME_MAX) return bad(ld, k, key, "name too long");
        lilm_derived *d = &sp->derived[sp->n_derived];
        snprintf(d->name, sizeof d->name, "%s", key);
        d->is_int = 1;
        if (v->type == YAML_MAPPING_NODE) {
            d->expr[0] = '\0';
            FOR_PAIRS(ld, v, k2, v2, key2) {
                lilm_status st = LILM_OK;
                if (strcmp(key2, "expr") == 0) st = get_str(ld, v2, key, d->expr, sizeof d->expr);
                else if (strcmp(key2, "int") == 0) st = get_bool(ld, v2, key, &d->is_int);
                else st = bad(ld, k2, key, "unknown key (expr, int)");
                if (st != LILM_OK) return st;
            }
        } else {
            LILM_TRY(get_str(ld, v, key, d->expr, sizeof d->expr));
        }
        if (!d->expr[0]) return bad(ld, v, key, "needs an expression");
        sp->n_derived++;
    }
    return LILM_OK;
}

static lilm_status load_root(loader *ld)
{
    yaml_node_t *root = yaml_document_get_root_node(ld->doc);
    if (!root || root->type != YAML_MAPPING_NODE)
        return lilm_errorf(LILM_ERR_CONFIG, "%s: a search space is a mapping with sections study, base, params, derived, vocab\n"
                           "HINT: see configs/search/babylm.yaml", ld->path);
    yaml_node_t *params = NULL;
    FOR_PAIRS(ld, root, k, v, key) {
        lilm_status st = LILM_OK;
        if (strcmp(key, "study") == 0) st = load_study(ld, v);
        else if (strcmp(key, "base") == 0) st = load_base(ld, v);
        else if (strcmp(key, "vocab") == 0) st = load_vocab(ld, v);
        else if (strcmp(key, "derived") == 0) st = load_derived(ld, v);
        else if (strcmp(key, "params") == 0) params = v;
        else st = bad(ld, k, key, "unknown section (study, base, params, derived, vocab)");
        if (st != LILM_OK) return st;
    }
    if (!params) return lilm_errorf(LILM_ERR_CONFIG, "%s: no params section: nothing to search\nHINT: see configs/search/babylm.yaml", ld->path);
    LILM_TRY(need_map(ld, params, "params"));
    FOR_PAIRS(ld, params, k, v, key) LILM_TRY(load_param(ld, key, v));
    if (ld->sp->n_params == 0) return bad(ld, params, "params", "is empty");
    if (ld->sp->base.vocab_key[0]) {
        int vi = lilm_space_find(ld->sp, ld->sp->base.vocab_key);
        if (vi < 0) return lilm_errorf(LILM_ERR_CONFIG, "%s: vocab.param '%s' is not a parameter", ld->path, ld->sp->base.vocab_key);
        const lilm_search_param *p = &ld->sp->params[vi];
        for (int c = 0; p->kind == LILM_SEARCH_PARAM_CATEGORICAL && c < p->n_choices; c++)
            if (isnan(p->choice_num[c]))
                return lilm_errorf(LILM_ERR_CONFIG, "%s: vocab.param '%s': choice '%s' is not a number", ld->path, p->name, p->choices[c]);
        if (p->kind == LILM_SEARCH_PARAM_FLOAT) return lilm_errorf(LILM_ERR_CONFIG, "%s: vocab.param '%s' must be an int or numeric choices", ld->path, p->name);
    }
    /* derived keys evaluate? (checked at the low end of every range) */
    double x[LILM_SEARCH_MAX_PARAMS], d[LILM_SEARCH_MAX_DERIVED];
    for (int i = 0; i < ld->sp->n_params; i++) x[i] = ld->sp->params[i].kind == LILM_SEARCH_PARAM_CATEGORICAL ? 0 : ld->sp->params[i].low;
    lilm_status s = lilm_space_derive(ld->sp, x, d);
    if (s != LILM_OK) return lilm_error_context(s, "%s: ", ld->path);
    return LILM_OK;
}

lilm_status lilm_space_load_string(lilm_space *sp, const char *label, const char *text, size_t n)
{
    lilm_space_init(sp);
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) return lilm_errorf(LILM_ERR_OOM, "%s: cannot start the YAML parser", label);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, n);
    if (!yaml_parser_load(&parser, &doc)) {
        lilm_status s = lilm_errorf(LILM_ERR_CONFIG, "%s:%d: malformed YAML: %s", label, (int)parser.problem_mark.line + 1,
                                    parser.problem ? parser.problem : "parse error");
        yaml_parser_delete(&parser);
        return s;
    }
    loader ld = {label, &doc, sp};
    lilm_status s = load_root(&ld);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (s != LILM_OK) lilm_space_init(sp);
    return s;
}
