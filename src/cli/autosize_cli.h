/*
 * autosize_cli.h: the autosize options shared by `lilm autosize`,
 * `lilm train --autosize` and `lilm run` (one definition of their names,
 * ranges, defaults and help; each command embeds the struct in its args).
 */
#ifndef LILM_CLI_AUTOSIZE_CLI_H
#define LILM_CLI_AUTOSIZE_CLI_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/opts.h"
#include "core/config.h"
#include "train/autosize.h"

typedef struct lilm_cli_autosize_args {
    int64_t probe_steps;
    double lr_fraction;
    int64_t lrs;
    double memory_gb;
    int64_t max_layers;
    int no_depth, no_batch;
} lilm_cli_autosize_args;

/* Option rows for a struct `type` holding a lilm_cli_autosize_args named `field`. */
#define LILM_CLI_AUTOSIZE_OPTS(type, field)                                                                           \
    {"probe-steps", 0, LILM_OPT_INT, offsetof(type, field.probe_steps), "0", 0, 1000,                                 \
     "autosize: timed steps per candidate depth (0: 10 as the reference on CUDA, 3 on CPU)"},                                                \
    {"lr-fraction", 0, LILM_OPT_FLOAT, offsetof(type, field.lr_fraction), "0.2", 0.001, 1,                            \
     "autosize: share of the budget each LR trial trains (the reference: 6 of 30 minutes)"},                          \
    {"lrs", 0, LILM_OPT_INT, offsetof(type, field.lrs), "5", 0, 50,                                                   \
     "autosize: learning rates in the sweep, log-spaced in [1.45e-3, 3e-2] (0: keep train.lr)"},                      \
    {"memory-gb", 0, LILM_OPT_FLOAT, offsetof(type, field.memory_gb), "0", 0, 1e6,                                    \
     "autosize: memory the micro-batch must fit (0: 80% of available RAM on CPU, 24 on CUDA)"},                       \
    {"max-layers", 0, LILM_OPT_INT, offsetof(type, field.max_layers), "64", 1, 4096, "autosize: deepest model tried"}, \
    {"no-depth", 0, LILM_OPT_BOOL, offsetof(type, field.no_depth), "false", 0, 0,                                     \
     "autosize: keep model.n_layers"},                                                                                \
    {"no-batch", 0, LILM_OPT_BOOL, offsetof(type, field.no_batch), "false", 0, 0, "autosize: keep train.batch_size"}

/* Runs autosize on *cfg (replaced by the chosen config), writing its tables
 * into out_dir. Prints errors; returns 0, or the exit status. */
int lilm_cli_autosize(const char *cmd, const lilm_cli_autosize_args *a, const char *out_dir, int quiet,
                      volatile sig_atomic_t *stop, lilm_config *cfg);

/* out = given, or "runs/PREFIX-<UTC yyyymmdd-hhmmss>" when given is NULL. */
void lilm_cli_run_dir(const char *given, const char *prefix, char *out, size_t n);

#endif
