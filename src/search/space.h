/*
 * space.h: a search space: the parameters a study samples, the keys derived
 * from them, and the study settings, read from YAML (docs/search.md).
 *
 * A parameter is float (optionally log-scaled and/or on a step grid), int
 * (step 1 unless given, optionally log) or categorical (a list of numbers or
 * strings). Each is held by the sampler in its internal representation: the
 * number itself for float and int, the choice's index for categorical.
 * Derived keys are arithmetic expressions over parameters and earlier derived
 * keys (src/search/expr.h), e.g. model.d_model = model.n_heads * model.qk_dim.
 * A name with a dot is a config key (section.key) passed to each trial; a
 * name without one is internal, there to be used by expressions.
 */
#ifndef LILM_SEARCH_SPACE_H
#define LILM_SEARCH_SPACE_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

#define LILM_SEARCH_MAX_PARAMS 32
#define LILM_SEARCH_MAX_CHOICES 32
#define LILM_SEARCH_MAX_DERIVED 32
#define LILM_SEARCH_MAX_SETS 64
#define LILM_SEARCH_NAME_MAX 64

typedef enum lilm_search_param_kind {
    LILM_SEARCH_PARAM_FLOAT = 0,
    LILM_SEARCH_PARAM_INT,
    LILM_SEARCH_PARAM_CATEGORICAL
} lilm_search_param_kind;

typedef struct lilm_search_param {
    char name[LILM_SEARCH_NAME_MAX];
    lilm_search_param_kind kind;
    double low, high;      /* float/int: inclusive range */
    double step;           /* 0 = continuous; int: >= 1 */
    int log;               /* sampled uniformly in log space (low > 0) */
    int n_choices;         /* categorical */
    char choices[LILM_SEARCH_MAX_CHOICES][LILM_SEARCH_NAME_MAX];  /* their text */
    double choice_num[LILM_SEARCH_MAX_CHOICES];   /* their value when numeric, else NaN */
} lilm_search_param;

typedef struct lilm_derived {
    char name[LILM_SEARCH_NAME_MAX];
    char expr[256];
    int is_int;            /* the result is rounded to an integer (default) */
} lilm_derived;

typedef enum lilm_pruner_kind {
    LILM_PRUNER_NONE = 0,
    LILM_PRUNER_MEDIAN,
    LILM_PRUNER_HALVING
} lilm_pruner_kind;

/* Study settings (the `study:` section); defaults are Optuna's TPESampler's. */
typedef struct lilm_study_settings {
    char name[128];          /* study name in runs.db ("" = from the file name) */
    int64_t trials;          /* trials to reach (finished ones count), default 20 */
    uint64_t seed;           /* default 42 */
    int tpe;                 /* 1 TPE (default), 0 random search */
    int64_t n_startup_trials;   /* random trials before TPE, default 10 */
    int64_t n_ei_candidates;    /* candidates drawn from l(x) per suggestion, default 24 */
    double prior_weight;     /* default 1.0 */
    int consider_magic_clip; /* default 1 */
    int consider_endpoints;  /* default 0 */
    int multivariate;        /* default 0: one estimator per parameter */
    lilm_pruner_kind pruner; /* default none */
    int64_t pruner_warmup;   /* median: reports a trial needs before it can be pruned, default 1 */
    int64_t pruner_startup;  /* median: finished trials before pruning starts, default 5 */
    double halving_rate;     /* successive halving: keep the best 1/rate at each rung, default 3 */
    double minutes;          /* each trial's training budget, default 1 */
} lilm_study_settings;

/* The base every trial starts from, and the vocabulary cache (the `base:`
 * and `vocab:` sections). Paths are kept as written. */
typedef struct lilm_trial_base {
    char recipe[64];         /* a `lilm run` recipe name, or "" */
    char config[1024];       /* or a config file */
    int n_sets;
    char sets[LILM_SEARCH_MAX_SETS][256];   /* "section.key=value", applied first */
    char vocab_key[LILM_SEARCH_NAME_MAX];   /* parameter that is a vocabulary size ("" = none) */
    char vocab_text[1024];   /* tokenizer training text (a file) */
    char vocab_format[16];   /* text | jsonl */
    char vocab_model_type[16];              /* unigram | bpe */
    int64_t vocab_sentences; /* --input-sentence-size (0 = all) */
    char data_recipe[64];    /* lilm data prepare recipe */
    int n_data_inputs;
    char data_inputs[8][1024];
    int n_data_val;
    char data_val[8][1024];
    char data_val_rule[64];  /* --val-rule ("" = the recipe's) */
} lilm_trial_base;

typedef struct lilm_space {
    int n_params;
    lilm_search_param params[LILM_SEARCH_MAX_PARAMS];
    int n_derived;
    lilm_derived derived[LILM_SEARCH_MAX_DERIVED];
    lilm_study_settings study;
    lilm_trial_base base;
} lilm_space;

/* Parses a space file; every error names the file and line. `label` names
 * text in messages. */
lilm_status lilm_space_load_string(lilm_space *sp, const char *label, const char *text, size_t n);

/* Index of the parameter called name, or -1. */
int lilm_space_find(const lilm_space *sp, const char *name);

/* The external value of internal value x: for categorical the choice's
 * number (NaN if it is text). */
double lilm_search_param_external(const lilm_search_param *p, double x);
/* Writes x as text: "%.17g"-shortest for floats, an integer for ints, the
 * choice for categoricals. */
void lilm_search_param_format(const lilm_search_param *p, double x, char *buf, size_t n);
/* The internal value for text (a choice, or a number in range on the grid);
 * LILM_ERR_ARG otherwise. */
lilm_status lilm_search_param_parse(const lilm_search_param *p, const char *text, double *x);
/* Snaps a number to the parameter's grid and range (ints round, steps snap). */
double lilm_search_param_snap(const lilm_search_param *p, double x);

/* Evaluates the derived keys for one assignment of the parameters (internal
 * values, (n_params)); writes their values to out (n_derived). */
lilm_status lilm_space_derive(const lilm_space *sp, const double *x, double *out);

#endif
