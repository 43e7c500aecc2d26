/*
 * cmd_train.c: `lilm train`: one training run from a YAML config.
 *
 * Everything that can be checked before the run starts (the config, its
 * files) is checked first, so a bad invocation exits with status 2 and
 * writes nothing. A new run never lands on an existing run (unless
 * --overwrite) or in a dataset directory. SIGINT/SIGTERM stop the run cleanly
 * with a checkpoint.
 *
 * Under mpirun or srun every rank runs this command (docs/distributed.md):
 * rank 0 picks the run directory and, with --autosize, sizes the run while
 * the other ranks wait, then broadcasts both; only rank 0 prints and writes.
 * An error on any rank stops all of them (MPI_Abort), so none waits forever
 * in a collective.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

#include "cli/autosize_cli.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "core/fileio.h"
#include "dist/dist.h"
#include "track/rundir.h"
#include "train/trainer.h"

typedef struct train_args {
    const char *config;
    lilm_opt_list set;
    const char *out;
    const char *resume;
    double minutes;
    int64_t steps;
    const char *device;
    int64_t threads;
    const char *db;
    int quiet;
    int autosize;
    int no_samples;
    int overwrite;
    lilm_cli_autosize_args as;
} train_args;

static const lilm_opt opts[] = {
    {"config", 'c', LILM_OPT_STRING, offsetof(train_args, config), NULL, 0, 0,
     "experiment config (YAML; see docs/config.md); required unless --resume"},
    {"set", 's', LILM_OPT_LIST, offsetof(train_args, set), NULL, 0, 0,
     "override a config key, e.g. --set train.lr=3e-3"},
    {"out", 'o', LILM_OPT_STRING, offsetof(train_args, out), NULL, 0, 0,
     "run directory (default: runs/<config name>-<UTC time>)"},
    {"resume", 'r', LILM_OPT_STRING, offsetof(train_args, resume), NULL, 0, 0,
     "continue the run in this directory from its last checkpoint"},
    {"minutes", 'm', LILM_OPT_FLOAT, offsetof(train_args, minutes), "0", 0, 1e6,
     "training budget in minutes (0: budget.minutes of the config)"},
    {"steps", 0, LILM_OPT_INT, offsetof(train_args, steps), "0", 0, 1e12,
     "train exactly this many steps (sets budget.mode=steps; 0: from the config)"},
    {"device", 'd', LILM_OPT_STRING, offsetof(train_args, device), NULL, 0, 0,
     "auto | cpu | cuda (default: train.device of the config)"},
    {"threads", 't', LILM_OPT_INT, offsetof(train_args, threads), "-1", -1, 4096,
     "CPU threads (0: all cores; -1: train.threads of the config)"},
    {"db", 0, LILM_OPT_STRING, offsetof(train_args, db), NULL, 0, 0,
     "runs database to record the run in (default: runs/runs.db, or $LILM_RUNS_DB; \"none\" to skip)"},
    {"quiet", 'q', LILM_OPT_BOOL, offsetof(train_args, quiet), "false", 0, 0, "no live progress line"},
    {"autosize", 'a', LILM_OPT_BOOL, offsetof(train_args, autosize), "false", 0, 0,
     "first fit depth, micro-batch and learning rate to the budget (see lilm autosize)"},
    {"no-samples", 0, LILM_OPT_BOOL, offsetof(train_args, no_samples), "false", 0, 0,
     "do not write samples.txt at the end"},
    {"overwrite", 0, LILM_OPT_BOOL, offsetof(train_args, overwrite), "false", 0, 0,
     "replace the run already in --out (without it, an existing run is refused)"},
    LILM_CLI_AUTOSIZE_OPTS(train_args, as),
};

static const lilm_opt_spec spec = LILM_OPT_SPEC(
    "train", "train a model from a YAML config", opts,
    "examples:\n"
    "  lilm train --config configs/tiny.yaml\n"
    "  lilm train -c configs/babylm.yaml --set data.dataset=data/babylm --minutes 10\n"
    "  lilm train --resume runs/babylm-20261126-101500\n");

static int check_paths(const lilm_config *c)
{
    if (c->data.dataset[0] && !lilm_path_exists(c->data.dataset)) {
        fprintf(stderr, "lilm train: data.dataset: %s does not exist\nHINT: prepare it with `lilm data prepare`\n",
                c->data.dataset);
        return 2;
    }
    if (!c->data.dataset[0] && c->data.text[0] && !lilm_path_exists(c->data.text)) {
        fprintf(stderr, "lilm train: data.text: %s does not exist\n", c->data.text);
        return 2;
    }
    if (!c->data.dataset[0] && !c->data.text[0]) {
        fprintf(stderr, "lilm train: no training data: set data.dataset or data.text\n");
        return 2;
    }
    if (strcmp(c->data.tokenizer, "bytes") != 0 && !lilm_path_exists(c->data.tokenizer)) {
        fprintf(stderr, "lilm train: data.tokenizer: %s does not exist\nHINT: use \"bytes\" or a .model file\n",
                c->data.tokenizer);
        return 2;
    }
    return 0;
}

static int train_ranks(const train_args *a, lilm_config *cfg, const char *cfg_path, const lilm_dist *dist,
                       int *agreed);

int lilm_cmd_train(int argc, char **argv)
{
    train_args a;
    int rc = lilm_opts_parse_cli(&spec, argc, argv, &a);
    if (rc >= 0) return rc;
    if (!a.config && !a.resume) {
        fprintf(stderr, "lilm train: give --config FILE (or --resume RUN_DIR)\nHINT: lilm train --config configs/tiny.yaml\n");
        return 2;
    }
    lilm_config cfg;
    char resumed_cfg[LILM_PATH_MAX + 32];
    const char *cfg_path = a.config;
    if (a.resume && !a.config) {
        snprintf(resumed_cfg, sizeof resumed_cfg, "%s/config.yaml", a.resume);
        cfg_path = resumed_cfg;
    }
    if ((rc = lilm_cli_load_config("train", cfg_path, &a.set, &cfg)) != 0) return rc;
    if (a.minutes > 0) cfg.budget.minutes = a.minutes;
    if (a.steps > 0) {
        cfg.train.steps = a.steps;
        cfg.budget.mode = LILM_BUDGET_STEPS;
    }
    if (a.device) snprintf(cfg.train.device, sizeof cfg.train.device, "%s", a.device);
    if (a.threads >= 0) cfg.train.threads = a.threads;
    lilm_status st = lilm_config_validate(&cfg);
    if (st == LILM_OK && cfg.data.dataset[0] && lilm_path_exists(cfg.data.dataset))
        st = lilm_trainer_resolve_tokenizer(&cfg);
    if (st != LILM_OK) return lilm_cli_fail("train", st);
    if ((rc = check_paths(&cfg)) != 0) return rc;

    lilm_dist dist;
    if ((st = lilm_dist_init(&dist)) != LILM_OK) return lilm_cli_fail("train", st);
    int agreed = 0; /* 1: every rank knows how the run ended */
    rc = train_ranks(&a, &cfg, cfg_path, &dist, &agreed);
    if (rc != 0 && !agreed && dist.size > 1) lilm_dist_abort(&dist, rc);
    lilm_dist_finalize(&dist);
    return rc;
}

static int train_ranks(const train_args *ap, lilm_config *cfgp, const char *cfg_path, const lilm_dist *dist,
                       int *agreed)
{
    train_args a = *ap;
    lilm_config cfg = *cfgp;
    lilm_status st = LILM_OK;
    int rc = 0, root = dist->rank == 0;

    char out[LILM_PATH_MAX];
    if (a.resume) {
        snprintf(out, sizeof out, "%s", a.resume);
    } else if (a.out) {
        snprintf(out, sizeof out, "%s", a.out);
    } else {
        const char *base = strrchr(cfg_path, '/');
        base = base ? base + 1 : cfg_path;
        char name[256], stamp[32];
        snprintf(name, sizeof name, "%s", base);
        char *dot = strrchr(name, '.');
        if (dot) *dot = '\0';
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
        snprintf(out, sizeof out, "runs/%s-%s", name, stamp);
    }
    const char *db = a.db ? a.db : getenv("LILM_RUNS_DB");
    if (!db) db = "runs/runs.db";
    if (strcmp(db, "none") == 0) db = NULL;

    /* rank 0 decides the directory (its clock names it) and the autosized config */
    int32_t verdict = 0;
    if (root) {
        if (!a.resume && (st = lilm_rundir_prepare_new(out, a.overwrite)) != LILM_OK) {
            rc = lilm_cli_fail("train", st);
        } else if (a.autosize && !a.resume) {
            fprintf(stderr, "lilm train: autosize into %s%s\n", out, dist->size > 1 ? " (on rank 0)" : "");
            rc = lilm_cli_autosize("train", &a.as, out, 0, lilm_cli_stop_flag(), &cfg);
            if (rc == 0 && *lilm_cli_stop_flag()) rc = 1;
        } else if (a.autosize) {
            fprintf(stderr, "lilm train: --autosize is ignored with --resume (the run keeps its config)\n");
        }
        verdict = rc;
    }
    if (dist->size > 1) {
        if ((st = lilm_dist_bcast_wait(dist, &verdict, sizeof verdict)) != LILM_OK ||
            (st = lilm_dist_bcast(dist, out, sizeof out)) != LILM_OK ||
            (st = lilm_dist_bcast(dist, &cfg, sizeof cfg)) != LILM_OK)
            return lilm_cli_fail("train", st);
    }
    if (verdict != 0) {
        *agreed = 1;
        return root ? verdict : 1;
    }
    lilm_trainer_options o = {.out_dir = out, .resume = a.resume != NULL, .quiet = a.quiet || !root,
                              .on_report = db && root ? lilm_cli_record_run : NULL, .report_ctx = (void *)db,
                              .stop = lilm_cli_stop_flag(), .no_samples = a.no_samples, .dist = dist};
    lilm_trainer t;
    if (root) fprintf(stderr, "lilm train: run directory %s\n", out);
    st = lilm_trainer_init(&t, &cfg, &o);
    if (st != LILM_OK) {
        rc = lilm_cli_fail("train", st);
        lilm_trainer_free(&t);
        return rc;
    }
    if (root)
        fprintf(stderr, "lilm train: %lld parameters on %s (%d threads%s), %d micro-batch(es) of %lld x %lld per step\n",
                (long long)t.params, t.be->name, t.be->threads, dist->size > 1 ? " per rank" : "", t.n_micro,
                (long long)cfg.train.batch_size, (long long)cfg.model.context);
    if (root && dist->size > 1)
        fprintf(stderr, "lilm train: data parallel over %d ranks (%d on this host)\n", dist->size, dist->local_size);
    if (root && a.resume)
        fprintf(stderr, "lilm train: resuming at step %lld (%lld tokens seen)\n", (long long)t.state.step,
                (long long)t.state.tokens);
    if (!o.quiet) lilm_model_print_plan(&t.model, "optimizer state", lilm_optimizer_state_bytes(&t.opt), stderr);
    st = lilm_trainer_run(&t);
    if (st != LILM_OK) {
        rc = lilm_cli_fail("train", st);
        if (root && lilm_rundir_mark_failed(out) != LILM_OK) /* when the trainer could not (a full disk) */
            fprintf(stderr, "lilm train: warning: %s\n", lilm_last_error());
    } else {
        if (root) lilm_trainer_print_summary(&t, "train", *o.stop != 0, stderr);
        rc = *o.stop ? 1 : 0;
    }
    lilm_trainer_free(&t);
    return rc;
}
