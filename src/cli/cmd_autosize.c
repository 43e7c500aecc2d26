/*
 * cmd_autosize.c: `lilm autosize`: the reference's pre-training sweeps
 * (depth, micro-batch, learning rate; src/train/autosize.h) for a config and
 * budget, without the training run. The chosen config is written to
 * OUT/autosize.yaml, ready for `lilm train --config`.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/autosize_cli.h"
#include "cli/cli_common.h"
#include "cli/commands.h"

int lilm_cli_autosize(const char *cmd, const lilm_cli_autosize_args *a, const char *out_dir, int quiet,
                      volatile sig_atomic_t *stop, lilm_config *cfg)
{
    lilm_autosize_opts o;
    lilm_autosize_opts_default(&o);
    o.out_dir = out_dir;
    o.probe_steps = (int)a->probe_steps;
    o.lr_fraction = a->lr_fraction;
    o.n_lrs = (int)a->lrs;
    o.memory_bytes = a->memory_gb * 1e9;
    o.max_layers = a->max_layers;
    o.do_depth = !a->no_depth;
    o.do_batch = !a->no_batch;
    o.quiet = quiet;
    o.stop = stop;
    lilm_config chosen;
    lilm_autosize_result r;
    lilm_status st = lilm_autosize(cfg, &o, &chosen, &r);
    if (st != LILM_OK) return lilm_cli_fail(cmd, st);
    fprintf(stderr, "lilm %s: autosize chose %lld layers (%lld parameters), micro-batch %lld, lr %.4g in %.1f s\n", cmd,
            (long long)r.layers, (long long)r.params, (long long)r.batch_size, r.lr, r.seconds);
    *cfg = chosen;
    return 0;
}

void lilm_cli_run_dir(const char *given, const char *prefix, char *out, size_t n)
{
    if (given) {
        snprintf(out, n, "%s", given);
        return;
    }
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    snprintf(out, n, "runs/%s-%s", prefix, stamp);
}

typedef struct autosize_args {
    const char *config;
    lilm_opt_list set;
    const char *out;
    double minutes;
    const char *device;
    int64_t threads;
    int quiet;
    lilm_cli_autosize_args as;
} autosize_args;

static const lilm_opt opts[] = {
    {"config", 'c', LILM_OPT_STRING | LILM_OPT_REQUIRED, offsetof(autosize_args, config), NULL, 0, 0,
     "experiment config (YAML; see docs/config.md)"},
    {"set", 's', LILM_OPT_LIST, offsetof(autosize_args, set), NULL, 0, 0, "override a config key"},
    {"out", 'o', LILM_OPT_STRING, offsetof(autosize_args, out), NULL, 0, 0,
     "directory for the tables and trial runs (default: runs/autosize-<UTC time>)"},
    {"minutes", 'm', LILM_OPT_FLOAT, offsetof(autosize_args, minutes), "0", 0, 1e6,
     "the budget to fit (0: budget.minutes of the config)"},
    {"device", 'd', LILM_OPT_STRING, offsetof(autosize_args, device), NULL, 0, 0, "auto | cpu | cuda"},
    {"threads", 't', LILM_OPT_INT, offsetof(autosize_args, threads), "-1", -1, 4096, "CPU threads (0: all; -1: config)"},
    {"quiet", 'q', LILM_OPT_BOOL, offsetof(autosize_args, quiet), "false", 0, 0, "no tables"},
    LILM_CLI_AUTOSIZE_OPTS(autosize_args, as),
};

static const lilm_opt_spec spec = LILM_OPT_SPEC(
    "autosize", "fit depth, micro-batch and learning rate to a time budget (the reference's pre-training)", opts,
    "examples:\n"
    "  lilm autosize -c configs/babylm.yaml --minutes 30\n"
    "  lilm autosize -c configs/tiny.yaml --minutes 1 --probe-steps 3 --lr-fraction 0.1\n"
    "writes OUT/autosize_depth.jsonl, OUT/autosize_lr.jsonl, OUT/autosize.json and OUT/autosize.yaml\n");

int lilm_cmd_autosize(int argc, char **argv)
{
    autosize_args a;
    int rc = lilm_opts_parse_cli(&spec, argc, argv, &a);
    if (rc >= 0) return rc;
    lilm_config cfg;
    if ((rc = lilm_cli_load_config("autosize", a.config, &a.set, &cfg)) != 0) return rc;
    if (a.minutes > 0) cfg.budget.minutes = a.minutes;
    if (a.device) snprintf(cfg.train.device, sizeof cfg.train.device, "%s", a.device);
    if (a.threads >= 0) cfg.train.threads = a.threads;
    lilm_status st = lilm_config_validate(&cfg);
    if (st != LILM_OK) return lilm_cli_fail("autosize", st);
    char out[LILM_PATH_MAX];
    lilm_cli_run_dir(a.out, "autosize", out, sizeof out);
    if ((rc = lilm_cli_autosize("autosize", &a.as, out, a.quiet, lilm_cli_stop_flag(), &cfg)) != 0) return rc;
    printf("%s/autosize.yaml\n", out);
    return 0;
}
