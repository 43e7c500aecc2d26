/*
 * cmd_search.c: `lilm search`: a resumable TPE hyperparameter search.
 *
 *   lilm search SPACE.yaml | babylm    run (or resume) the study
 *   lilm search --status [--study NAME] the study in the terminal
 *   lilm search SPACE --objective EXPR a study of a formula, in memory (tests
 *                                       the sampler; one JSON line per trial)
 *   lilm search SPACE --log-pdf FILE   the Parzen estimator's log density of
 *                                       given observations at given points
 * The space format is in docs/search.md; `babylm` is the reference's space
 * (configs/search/babylm.yaml, built in so it works from any directory).
 * Trials run as `lilm train` children (src/cli/search_runner.c); the study
 * lives in runs.db (src/track/study_db.h), so a killed search resumes.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/search_cli.h"
#include "core/fileio.h"
#include "core/json.h"
#include "search/expr.h"
#include "search/parzen.h"
#include "search/study.h"
#include "track/study_db.h"

static const char babylm_space[] =
    "# The reference's Optuna search on BabyLM (`lilm search babylm` uses this\n"
    "# space): TPE, 100 trials minimising held-out BPB, each trial 6/30 of the\n"
    "# 30-minute run. Accumulated batch 2^4..2^8, learning rate log-uniform in\n"
    "# [1e-4, 3e-2], vocabulary 2K..12K (a tokenizer and dataset per size,\n"
    "# cached), 4..32 layers, 2..8 heads of 16..128 (step 16); d = heads x qk_dim,\n"
    "# FFN = 4d. docs/search.md describes every key.\n"
    "study:\n"
    "  name: babylm\n"
    "  trials: 100\n"
    "  seed: 42\n"
    "  sampler: tpe\n"
    "  minutes: 6\n"
    "base:\n"
    "  recipe: babylm\n"
    "params:\n"
    "  log2_accum_batch: {type: int, low: 4, high: 8}\n"
    "  train.lr: {type: float, low: 1e-4, high: 3e-2, log: true}\n"
    "  model.vocab_size: {type: int, low: 2000, high: 12000, step: 1000}\n"
    "  model.n_layers: {type: int, low: 4, high: 32}\n"
    "  model.n_heads: {type: int, low: 2, high: 8}\n"
    "  model.qk_dim: {type: int, low: 16, high: 128, step: 16}\n"
    "derived:\n"
    "  train.accum_batch: \"2 ^ log2_accum_batch\"\n"
    "  model.d_model: \"model.n_heads * model.qk_dim\"\n"
    "  model.v_dim: \"model.qk_dim\"\n"
    "  model.ffn_dim: \"4 * model.d_model\"\n"
    "vocab:\n"
    "  param: model.vocab_size\n"
    "  text: ${LILM_SHARED}/data/babylm/train/strict_2024_100M_snippets\n"
    "  format: jsonl\n"
    "  model_type: unigram\n"
    "  sentences: 200000\n"
    "  recipe: babylm\n"
    "  inputs: ${LILM_SHARED}/data/babylm/train/strict_2024_100M_snippets\n"
    "  val_rule: \"index%100<1\"\n";

typedef struct search_args {
    const char *space;
    const char *study;
    const char *db;
    const char *dir;
    int64_t trials;
    double minutes;
    const char *device;
    int64_t threads;
    int status;
    const char *objective;
    const char *log_pdf;
    int print_space;
    int quiet;
} search_args;

static const lilm_opt opts[] = {
    {"space", 0, LILM_OPT_STRING | LILM_OPT_POSITIONAL, offsetof(search_args, space), NULL, 0, 0,
     "search space YAML (docs/search.md), or babylm (the reference's space)"},
    {"study", 0, LILM_OPT_STRING, offsetof(search_args, study), NULL, 0, 0,
     "study name in runs.db (default: the space's study.name, else its file name)"},
    {"db", 0, LILM_OPT_STRING, offsetof(search_args, db), NULL, 0, 0, "runs database (default: runs/runs.db, or $LILM_RUNS_DB)"},
    {"dir", 'o', LILM_OPT_STRING, offsetof(search_args, dir), NULL, 0, 0,
     "study directory: trial run dirs, vocabulary cache (default: runs/search-STUDY)"},
    {"trials", 'n', LILM_OPT_INT, offsetof(search_args, trials), "0", 0, 100000,
     "finished trials to reach (0: the space's study.trials)"},
    {"minutes", 'm', LILM_OPT_FLOAT, offsetof(search_args, minutes), "0", 0, 1e6,
     "each trial's training budget (0: the space's study.minutes)"},
    {"device", 'd', LILM_OPT_STRING, offsetof(search_args, device), NULL, 0, 0, "auto | cpu | cuda for every trial"},
    {"threads", 't', LILM_OPT_INT, offsetof(search_args, threads), "-1", -1, 4096, "CPU threads per trial (-1: the config's)"},
    {"status", 0, LILM_OPT_BOOL, offsetof(search_args, status), "false", 0, 0,
     "print the study (trials, best so far, importances) and exit"},
    {"objective", 0, LILM_OPT_STRING, offsetof(search_args, objective), NULL, 0, 0,
     "instead of training, minimise this formula of the parameters (in memory; one JSON line per trial)"},
    {"log-pdf", 0, LILM_OPT_STRING, offsetof(search_args, log_pdf), NULL, 0, 0,
     "print the Parzen log density of {\"observations\": [[...]], \"points\": [[...]]} (JSON file) and exit"},
    {"print-space", 0, LILM_OPT_BOOL, offsetof(search_args, print_space), "false", 0, 0, "print the space's text and exit"},
    {"quiet", 'q', LILM_OPT_BOOL, offsetof(search_args, quiet), "false", 0, 0, "no progress lines"},
};

static const lilm_opt_spec spec = LILM_OPT_SPEC(
    "search", "TPE hyperparameter search over lilm train runs, resumable, stored in runs.db", opts,
    "examples:\n"
    "  lilm search babylm --trials 12 --minutes 1\n"
    "  lilm search configs/search/babylm-cpu.yaml\n"
    "  lilm search --status --study babylm\n"
    "  lilm search space.yaml --objective \"(x - 0.3)^2 + (y + 1)^2\" --trials 40\n"
    "See docs/search.md.\n");

/* The space text: the built-in babylm, or a file. */
static int load_space_text(const char *arg, char **text, size_t *n, char *name, size_t nname)
{
    if (strcmp(arg, "babylm") == 0 && !lilm_path_exists(arg)) {
        *text = strdup(babylm_space);
        *n = strlen(babylm_space);
        snprintf(name, nname, "babylm");
        return *text ? 0 : 1;
    }
    lilm_status s = lilm_read_file(arg, text, n);
    if (s != LILM_OK) {
        fprintf(stderr, "lilm search: cannot read the search space %s\nHINT: give a space YAML (docs/search.md) or babylm\n", arg);
        return 2;
    }
    const char *base = strrchr(arg, '/');
    snprintf(name, nname, "%s", base ? base + 1 : arg);
    char *dot = strrchr(name, '.');
    if (dot) *dot = '\0';
    return 0;
}

/* ---- --objective: a formula instead of training ---- */

typedef struct formula_ctx {
    const char *expr;
} formula_ctx;

static lilm_status run_formula(void *user, const lilm_study *st, lilm_trial *t, lilm_trial_monitor *mon,
                               lilm_trial_result *res)
{
    formula_ctx *fc = user;
    const lilm_space *sp = st->sp;
    const char *names[LILM_SEARCH_MAX_PARAMS + LILM_SEARCH_MAX_DERIVED];
    double values[LILM_SEARCH_MAX_PARAMS + LILM_SEARCH_MAX_DERIVED], d[LILM_SEARCH_MAX_DERIVED];
    LILM_TRY(lilm_space_derive(sp, t->x, d));
    size_t n = 0;
    for (int i = 0; i < sp->n_params; i++) {
        names[n] = sp->params[i].name;
        values[n++] = lilm_search_param_external(&sp->params[i], t->x[i]);
    }
    for (int i = 0; i < sp->n_derived; i++) {
        names[n] = sp->derived[i].name;
        values[n++] = d[i];
    }
    lilm_expr_env env = {names, values, n};
    double v;
    LILM_TRY(lilm_expr_eval(fc->expr, &env, &v));
    res->state = LILM_TRIAL_COMPLETE;
    res->value = v;
    (void)mon;
    return LILM_OK;
}

static void print_formula_trial(void *user, const lilm_study *st, const lilm_trial *t)
{
    (void)user;
    const lilm_space *sp = st->sp;
    printf("{\"number\": %lld, \"value\": %.17g, \"params\": {", (long long)t->number, t->value);
    for (int i = 0; i < sp->n_params; i++) {
        char buf[LILM_SEARCH_NAME_MAX];
        lilm_search_param_format(&sp->params[i], t->x[i], buf, sizeof buf);
        printf("%s\"%s\": ", i ? ", " : "", sp->params[i].name);
        if (sp->params[i].kind == LILM_SEARCH_PARAM_CATEGORICAL) printf("\"%s\"", buf);
        else printf("%s", buf);
    }
    printf("}}\n");
}

static int objective_mode(lilm_space *sp, const char *expr)
{
    lilm_study st;
    lilm_study_init(&st, sp);
    formula_ctx fc = {expr};
    lilm_study_io io = {&fc, NULL, run_formula, print_formula_trial};
    lilm_status s = lilm_study_optimize(&st, &io, NULL);
    lilm_study_free(&st);
    return s == LILM_OK ? 0 : lilm_cli_fail("search", s);
}

/* ---- --log-pdf ---- */

static lilm_status read_rows(const lilm_json *arr, const char *key, const lilm_space *sp, double **out, size_t *n)
{
    if (!arr || arr->type != LILM_JSON_ARRAY) return lilm_errorf(LILM_ERR_FORMAT, "--log-pdf: \"%s\" must be an array of rows", key);
    *n = arr->n;
    *out = malloc((arr->n ? arr->n : 1) * (size_t)sp->n_params * sizeof **out);
    if (!*out) return lilm_errorf(LILM_ERR_OOM, "out of memory");
    for (size_t r = 0; r < arr->n; r++) {
        const lilm_json *row = &arr->items[r];
        if (row->type != LILM_JSON_ARRAY || row->n != (size_t)sp->n_params)
            return lilm_errorf(LILM_ERR_FORMAT, "--log-pdf: %s row %zu must hold %d numbers (one per parameter)", key, r, sp->n_params);
        for (int i = 0; i < sp->n_params; i++) {
            if (row->items[i].type != LILM_JSON_NUMBER)
                return lilm_errorf(LILM_ERR_FORMAT, "--log-pdf: %s row %zu: values must be numbers (categorical: the index)", key, r);
            (*out)[r * (size_t)sp->n_params + (size_t)i] = row->items[i].number;
        }
    }
    return LILM_OK;
}

static int log_pdf_mode(const lilm_space *sp, const char *path)
{
    lilm_json *j = NULL;
    double *obs = NULL, *pts = NULL;
    size_t n_obs = 0, n_pts = 0;
    lilm_status s = lilm_json_parse_file(&j, path);
    if (s == LILM_OK) s = read_rows(lilm_json_get(j, "observations"), "observations", sp, &obs, &n_obs);
    if (s == LILM_OK) s = read_rows(lilm_json_get(j, "points"), "points", sp, &pts, &n_pts);
    lilm_parzen pe;
    const lilm_search_param *params[LILM_SEARCH_MAX_PARAMS];
    for (int i = 0; i < sp->n_params; i++) params[i] = &sp->params[i];
    lilm_parzen_settings ps = {sp->study.prior_weight, sp->study.consider_magic_clip, sp->study.consider_endpoints};
    if (s == LILM_OK) s = lilm_parzen_init(&pe, params, sp->n_params, obs, n_obs, &ps);
    if (s == LILM_OK) {
        printf("[");
        for (size_t r = 0; r < n_pts; r++) printf("%s%.17g", r ? ", " : "", lilm_parzen_log_pdf(&pe, pts + r * (size_t)sp->n_params));
        printf("]\n");
        lilm_parzen_free(&pe);
    }
    free(obs);
    free(pts);
    lilm_json_free(j);
    return s == LILM_OK ? 0 : lilm_cli_fail("search", s);
}

/* ---- --status ---- */

static int status_mode(lilm_runs_db *db, const char *name)
{
    lilm_study_record rec;
    if (!name) {
        lilm_study_record *all = NULL;
        size_t n = 0;
        lilm_status s = lilm_study_db_list(db, &all, &n);
        if (s != LILM_OK) return lilm_cli_fail("search", s);
        if (n != 1) {
            if (n) printf("%zu studies in %s (pick one with --study NAME):\n", n, lilm_runs_path(db));
            else printf("no studies in %s\n", lilm_runs_path(db));
            for (size_t i = 0; i < n; i++) {
                printf("  %-24s %4lld trials, %4lld complete, best %.4f, updated %s\n", all[i].name, (long long)all[i].n_trials,
                       (long long)all[i].n_complete, all[i].best_value, all[i].updated_at);
                lilm_study_record_free(&all[i]);
            }
            free(all);
            return 0;
        }
        rec = all[0];
        free(all);
    } else {
        lilm_status s = lilm_study_db_find(db, name, &rec);
        if (s != LILM_OK) return lilm_cli_fail("search", s);
    }
    lilm_space sp;
    lilm_study st;
    lilm_status s = lilm_space_load_string(&sp, rec.name, rec.space_yaml, strlen(rec.space_yaml));
    lilm_study_init(&st, &sp);
    if (s == LILM_OK) s = lilm_study_db_load_trials(db, rec.id, &st);
    if (s == LILM_OK) lilm_search_print_status(stdout, &st, rec.name);
    lilm_study_free(&st);
    lilm_study_record_free(&rec);
    return s == LILM_OK ? 0 : lilm_cli_fail("search", s);
}

/* ---- the search ---- */

static int search_mode(const search_args *a, lilm_space *sp, const char *text, const char *name, lilm_runs_db *db)
{
    lilm_search_runner r;
    memset(&r, 0, sizeof r);
    r.sp = sp;
    r.space_label = a->space;
    snprintf(r.study_name, sizeof r.study_name, "%s", name);
    r.db_path = lilm_runs_path(db);
    r.db = db;
    r.minutes = sp->study.minutes;
    r.device = a->device;
    r.threads = a->threads;
    r.quiet = a->quiet;
    r.stop = lilm_cli_stop_flag();
    if (a->dir) snprintf(r.dir, sizeof r.dir, "%s", a->dir);
    else snprintf(r.dir, sizeof r.dir, "runs/search-%s", name);
    int rc = lilm_search_runner_init(&r, a->device);
    if (rc) return rc;
    lilm_status s = lilm_study_db_open_study(db, name, text, &r.study_id);
    lilm_study st;
    lilm_study_init(&st, sp);
    if (s == LILM_OK) s = lilm_study_db_load_trials(db, r.study_id, &st);
    if (s != LILM_OK) {
        lilm_study_free(&st);
        return lilm_cli_fail("search", s);
    }
    if (!a->quiet)
        fprintf(stderr, "lilm search: study %s in %s, %zu of %lld trials finished, %.4g min each, trials in %s\n", name,
                lilm_runs_path(db), lilm_study_finished(&st), (long long)sp->study.trials, r.minutes, r.dir);
    lilm_study_io io = lilm_search_runner_io(&r);
    s = lilm_study_optimize(&st, &io, r.stop);
    if (!a->quiet) lilm_search_print_status(stderr, &st, name);
    lilm_study_free(&st);
    if (s == LILM_ERR_INTERRUPTED) {
        fprintf(stderr, "lilm search: stopped; run the same command again to resume\n");
        return 1;
    }
    return s == LILM_OK ? 0 : lilm_cli_fail("search", s);
}

int lilm_cmd_search(int argc, char **argv)
{
    search_args a;
    int rc = lilm_opts_parse_cli(&spec, argc, argv, &a);
    if (rc >= 0) return rc;
    if (a.status && !a.space) {
        lilm_runs_db *db = NULL;
        lilm_status s = lilm_runs_open_existing(&db, lilm_runs_default_path(a.db));
        if (s != LILM_OK) return lilm_cli_fail("search", s);
        rc = status_mode(db, a.study);
        lilm_runs_close(db);
        return rc;
    }
    if (!a.space) {
        fprintf(stderr, "lilm search: give a search space (a YAML file, or babylm)\nHINT: lilm search babylm --trials 12 --minutes 1\n");
        return 2;
    }
    char *text = NULL, name[128];
    size_t n = 0;
    if ((rc = load_space_text(a.space, &text, &n, name, sizeof name)) != 0) return rc;
    if (a.print_space) {
        fwrite(text, 1, n, stdout);
        free(text);
        return 0;
    }
    lilm_space *sp = malloc(sizeof *sp);
    lilm_status s = sp ? lilm_space_load_string(sp, a.space, text, n) : LILM_ERR_OOM;
    if (s != LILM_OK) {
        free(text);
        free(sp);
        return lilm_cli_fail("search", s);
    }
    if (a.trials > 0) sp->study.trials = a.trials;
    if (a.minutes > 0) sp->study.minutes = a.minutes;
    if (a.study) snprintf(name, sizeof name, "%s", a.study);
    else if (sp->study.name[0]) snprintf(name, sizeof name, "%s", sp->study.name);
    if (a.objective) rc = objective_mode(sp, a.objective);
    else if (a.log_pdf) rc = log_pdf_mode(sp, a.log_pdf);
    else {
        lilm_runs_db *db = NULL;
        s = a.status ? lilm_runs_open_existing(&db, lilm_runs_default_path(a.db)) : lilm_runs_open(&db, lilm_runs_default_path(a.db));
        if (s != LILM_OK) rc = lilm_cli_fail("search", s);
        else rc = a.status ? status_mode(db, name) : search_mode(&a, sp, text, name, db);
        lilm_runs_close(db);
    }
    free(text);
    free(sp);
    return rc;
}
