/*
 * cli_common.c: config loading, error reporting and the stop flag.
 *
 * The stop flag is the one piece of mutable global state in lilm: a signal
 * handler can reach nothing else. It lives in the CLI, not the library; the
 * library only reads a pointer it is given.
 */
#include "cli/cli_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/safetensors.h"
#include "track/runs.h"

static volatile sig_atomic_t lilm_cli_stop;

static void on_signal(int sig)
{
    lilm_cli_stop = 1;
    signal(sig, SIG_DFL); /* a second signal stops at once */
}

volatile sig_atomic_t *lilm_cli_stop_flag(void)
{
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    return &lilm_cli_stop;
}

int lilm_cli_fail(const char *cmd, lilm_status st)
{
    fprintf(stderr, "lilm %s: %s: %s\n", cmd, lilm_status_str(st), lilm_last_error());
    switch (st) {
    case LILM_ERR_ARG:
    case LILM_ERR_CONFIG:
    case LILM_ERR_FORMAT:
    case LILM_ERR_VERSION:
    case LILM_ERR_NOT_FOUND:
    case LILM_ERR_MISMATCH:
        return 2;
    default:
        return 1;
    }
}

int lilm_cli_load_config(const char *cmd, const char *path, const lilm_opt_list *set, lilm_config *cfg)
{
    lilm_config_defaults(cfg);
    lilm_status st = LILM_OK;
    if (path) st = lilm_config_load_yaml(cfg, path);
    for (int64_t i = 0; st == LILM_OK && set && i < set->n; i++) st = lilm_config_set(cfg, set->items[i]);
    if (st == LILM_OK) st = lilm_config_validate(cfg);
    if (st != LILM_OK) {
        fprintf(stderr, "lilm %s: %s\nHINT: `lilm %s --help` lists the options; docs/config.md every config key.\n", cmd,
                lilm_last_error(), cmd);
        return 2;
    }
    return 0;
}

void lilm_cli_record_run(void *ctx, const lilm_trainer_report *r)
{
    const char *path = ctx;
    lilm_runs_db *db = NULL;
    char *warnings = NULL;
    if (lilm_runs_open(&db, path) == LILM_OK) {
        if (lilm_runs_sync_dir(db, r->run_dir, &warnings) != LILM_OK)
            fprintf(stderr, "lilm: warning: could not record the run in %s: %s\n", path, lilm_last_error());
        lilm_runs_close(db);
    } else {
        fprintf(stderr, "lilm: warning: cannot open %s: %s\n", path, lilm_last_error());
    }
    free(warnings);
}

int lilm_cli_check_weights(const char *cmd, const char *path)
{
    lilm_st_file *f = NULL;
    lilm_status st = lilm_st_open(&f, path);
    if (st == LILM_OK) st = lilm_st_check_finite(f);
    lilm_st_close(f);
    if (st == LILM_OK) return 0;
    lilm_cli_fail(cmd, st);
    return 1;
}
