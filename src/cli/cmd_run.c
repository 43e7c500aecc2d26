/*
 * cmd_run.c: `lilm run RECIPE`: the whole job in one command.
 *
 *   1. prepare the data when needed (src/data/prepare.h; an up-to-date
 *      dataset is left alone),
 *   2. autosize: depth, micro-batch and learning rate for the budget,
 *   3. train for the budget (final full validation inside it),
 *   4. eval.json and samples.txt (the trainer writes both at the end).
 * Recipes are in src/train/recipe.h. Options after the recipe adjust it:
 * --minutes, --set KEY=VALUE, --no-autosize, the autosize knobs.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/autosize_cli.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "core/fileio.h"
#include "data/prepare.h"
#include "track/rundir.h"
#include "train/recipe.h"
#include "ops/backend.h"
#include "train/trainer.h"

typedef struct run_args {
    const char *recipe;
    double minutes;
    lilm_opt_list set;
    const char *out;
    const char *device;
    int64_t threads;
    const char *db;
    int no_autosize;
    int quiet;
    lilm_cli_autosize_args as;
} run_args;

static const lilm_opt opts[] = {
    {"recipe", 0, LILM_OPT_STRING | LILM_OPT_POSITIONAL | LILM_OPT_REQUIRED, offsetof(run_args, recipe), NULL, 0, 0,
     "babylm | tinystories | simplestories | tiny"},
    {"minutes", 'm', LILM_OPT_FLOAT, offsetof(run_args, minutes), "0", 0, 1e6,
     "training budget in minutes (0: the recipe's: 30, tiny 0.5)"},
    {"set", 's', LILM_OPT_LIST, offsetof(run_args, set), NULL, 0, 0, "override a config key, e.g. --set model.d_model=128"},
    {"out", 'o', LILM_OPT_STRING, offsetof(run_args, out), NULL, 0, 0, "run directory (default: runs/RECIPE-<UTC time>)"},
    {"device", 'd', LILM_OPT_STRING, offsetof(run_args, device), NULL, 0, 0, "auto | cpu | cuda (default: auto)"},
    {"threads", 't', LILM_OPT_INT, offsetof(run_args, threads), "-1", -1, 4096, "CPU threads (0: all; -1: the recipe's)"},
    {"db", 0, LILM_OPT_STRING, offsetof(run_args, db), NULL, 0, 0,
     "runs database (default: runs/runs.db, or $LILM_RUNS_DB; \"none\" to skip)"},
    {"no-autosize", 0, LILM_OPT_BOOL, offsetof(run_args, no_autosize), "false", 0, 0,
     "train the recipe's config as is"},
    {"quiet", 'q', LILM_OPT_BOOL, offsetof(run_args, quiet), "false", 0, 0, "no live progress line"},
    LILM_CLI_AUTOSIZE_OPTS(run_args, as),
};

static void print_recipes(FILE *f)
{
    size_t n;
    const lilm_recipe *r = lilm_recipes(&n);
    fprintf(f, "\nrecipes:\n");
    for (size_t i = 0; i < n; i++) fprintf(f, "  %-14s %s\n", r[i].name, r[i].summary);
}

static const lilm_opt_spec spec = LILM_OPT_SPEC_EXTRA(
    "run", "prepare, autosize, train, evaluate and sample: one budgeted run end to end", opts,
    "examples:\n"
    "  lilm run babylm --minutes 30\n"
    "  lilm run tiny --minutes 0.5\n"
    "  lilm run babylm --minutes 10 --lr-fraction 0.1 --set model.context=256\n",
    print_recipes);

/* The recipe's data, prepared (or found up to date). */
static int prepare(const lilm_recipe *r, const lilm_config *cfg, int quiet)
{
    if (!r->prepare_recipe) {
        if (!lilm_path_exists(cfg->data.text)) {
            fprintf(stderr, "lilm run: %s: %s does not exist\nHINT: set LILM_SHARED to the shared data directory\n",
                    r->name, cfg->data.text);
            return 2;
        }
        return 0;
    }
    char input[LILM_PATH_MAX];
    const char *inputs[1];
    lilm_prepare_opts o;
    memset(&o, 0, sizeof o);
    o.recipe = r->prepare_recipe;
    o.tokenizer = cfg->data.tokenizer;
    o.out_dir = cfg->data.dataset;
    o.text_docs = -1;
    o.quiet = quiet;
    if (r->shared_inputs) {
        snprintf(input, sizeof input, "%s/%s", lilm_recipe_shared_root(), r->shared_inputs);
        if (lilm_path_exists(input)) {
            inputs[0] = input;
            o.inputs = inputs;
            o.n_inputs = 1;
            o.val_rule = r->val_rule;
        }
    }
    if (!lilm_path_exists(cfg->data.tokenizer)) {
        fprintf(stderr, "lilm run: %s: the tokenizer %s does not exist\nHINT: set LILM_SHARED to the shared data directory\n",
                r->name, cfg->data.tokenizer);
        return 2;
    }
    fprintf(stderr, "lilm run: preparing %s into %s\n", r->name, cfg->data.dataset);
    lilm_prepare_report rep;
    lilm_status st = lilm_data_prepare(&o, &rep);
    if (st != LILM_OK) {
        int rc = lilm_cli_fail("run", st);
        if (r->fetch_hint) fprintf(stderr, "HINT: get the data first: %s\n", r->fetch_hint);
        return rc;
    }
    if (rep.up_to_date)
        fprintf(stderr, "lilm run: %s is up to date\n", cfg->data.dataset);
    else
        fprintf(stderr, "lilm run: prepared %lld + %lld documents, %lld + %lld tokens (train + val) in %.1f s\n",
                (long long)rep.docs[0], (long long)rep.docs[1], (long long)rep.tokens[0], (long long)rep.tokens[1],
                rep.seconds);
    return 0;
}

int lilm_cmd_run(int argc, char **argv)
{
    run_args a;
    int rc = lilm_opts_parse_cli(&spec, argc, argv, &a);
    if (rc >= 0) return rc;
    const lilm_recipe *r = lilm_recipe_find(a.recipe);
    if (!r) {
        fprintf(stderr, "lilm run: no recipe '%s'\n", a.recipe);
        print_recipes(stderr);
        return 2;
    }
    /* the device decides the recipe's CPU overrides: resolve "auto" now */
    int on_cpu = 1;
    {
        lilm_device_choice dc;
        lilm_backend *be = NULL;
        if (lilm_device_choice_parse(a.device ? a.device : "auto", &dc) != LILM_OK) {
            fprintf(stderr, "lilm run: --device: expected auto, cpu or cuda, got '%s'\n", a.device);
            return 2;
        }
        if (dc != LILM_DEVICE_CHOICE_CPU && lilm_backend_create(&be, dc, 1) == LILM_OK) {
            on_cpu = be->device == LILM_DEVICE_CPU;
            lilm_backend_free(be);
        }
    }
    lilm_config cfg;
    lilm_status st = lilm_recipe_config(r, on_cpu, &cfg);
    for (int64_t i = 0; st == LILM_OK && i < a.set.n; i++) st = lilm_config_set(&cfg, a.set.items[i]);
    if (st != LILM_OK) return lilm_cli_fail("run", st);
    if (a.minutes > 0) cfg.budget.minutes = a.minutes;
    if (a.device) snprintf(cfg.train.device, sizeof cfg.train.device, "%s", a.device);
    if (a.threads >= 0) cfg.train.threads = a.threads;
    if ((st = lilm_config_validate(&cfg)) != LILM_OK) return lilm_cli_fail("run", st);

    char out[LILM_PATH_MAX];
    lilm_cli_run_dir(a.out, r->name, out, sizeof out);
    const char *db = a.db ? a.db : getenv("LILM_RUNS_DB");
    if (!db) db = "runs/runs.db";
    if (strcmp(db, "none") == 0) db = NULL;
    volatile sig_atomic_t *stop = lilm_cli_stop_flag();
    if ((st = lilm_rundir_prepare_new(out, 0)) != LILM_OK) return lilm_cli_fail("run", st);

    if ((rc = prepare(r, &cfg, a.quiet)) != 0) return rc;
    if (*stop) return 1;
    fprintf(stderr, "lilm run: %s, %.4g minute budget, run directory %s\n", r->name, cfg.budget.minutes, out);
    if (!a.no_autosize) {
        if ((rc = lilm_cli_autosize("run", &a.as, out, 0, stop, &cfg)) != 0) return rc;
        if (*stop) return 1;
    }
    lilm_trainer_options o = {.out_dir = out, .quiet = a.quiet,
                              .on_report = db ? lilm_cli_record_run : NULL, .report_ctx = (void *)db, .stop = stop};
    lilm_trainer t;
    st = lilm_trainer_init(&t, &cfg, &o);
    if (st != LILM_OK) {
        rc = lilm_cli_fail("run", st);
        lilm_trainer_free(&t);
        return rc;
    }
    fprintf(stderr, "lilm run: training %lld parameters (%lld layers) on %s (%d threads), %d micro-batch(es) of %lld x %lld per step, lr %.4g\n",
            (long long)t.params, (long long)cfg.model.n_layers, t.be->name, t.be->threads, t.n_micro,
            (long long)cfg.train.batch_size, (long long)cfg.model.context, cfg.train.lr);
    st = lilm_trainer_run(&t);
    if (st != LILM_OK) {
        rc = lilm_cli_fail("run", st);
    } else {
        lilm_trainer_print_summary(&t, "run", *stop != 0, stderr);
        if (!*stop) fprintf(stderr, "lilm run: %s/eval.json, %s/samples.txt\n", out, out);
        rc = *stop ? 1 : 0;
    }
    lilm_trainer_free(&t);
    return rc;
}
