/*
 * cli_common.h: what several subcommands share: loading a config from
 * --config plus --set overrides, reporting library errors, refusing
 * non-finite weights, recording a training run in runs.db, stop signals.
 */
#ifndef LILM_CLI_COMMON_H
#define LILM_CLI_COMMON_H

#include <signal.h>

#include "cli/opts.h"
#include "core/config.h"
#include "core/status.h"
#include "train/trainer.h"

/* Defaults, then the YAML file (if path != NULL), then each "key=value" of
 * `set`, then cross-field validation. Prints the error and returns 2 on
 * failure, 0 on success. */
int lilm_cli_load_config(const char *cmd, const char *path, const lilm_opt_list *set, lilm_config *cfg);

/* Prints "lilm CMD: <status>: <detail>" (the detail carries its own HINT lines)
 * and returns the exit code for it: 2 for bad input, 1 otherwise. */
int lilm_cli_fail(const char *cmd, lilm_status st);

/* A trainer's report callback (lilm_trainer_report_fn) that records the run
 * in the runs.db at path `ctx` (a const char *); failures are warnings. */
void lilm_cli_record_run(void *ctx, const lilm_trainer_report *r);

/* Refuses a weights file holding NaN or Inf (lilm_st_check_finite): prints
 * the error naming the tensor and returns 1; 0 when every weight is finite. */
int lilm_cli_check_weights(const char *cmd, const char *path);

/* Installs SIGINT/SIGTERM handlers that set the returned flag (once; the
 * second signal kills as usual). */
volatile sig_atomic_t *lilm_cli_stop_flag(void);

#endif
