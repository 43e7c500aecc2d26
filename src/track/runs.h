/*
 * runs.h: the runs database (runs.db, SQLite): every training run lilm made.
 *
 * One row per run, keyed by its unique name, holding what the leaderboard and
 * the report need: the run dir, the resolved config YAML and its SHA-256, the
 * model, parameters, dataset, tokenizer, device, budget, steps, tokens,
 * validation loss and BPB, timestamps, lilm's git commit and a status. Two
 * child tables keep the metrics.jsonl points and the autosize sweep points, so
 * the report renders even after a run dir was moved or deleted.
 *
 * The API the trainer calls (small and stable):
 *   lilm_runs_open / lilm_runs_close      a db by path (created if missing)
 *   lilm_runs_sync_dir                    insert or update a run from its run dir
 *   lilm_runs_set_status                  mark a run running/done/failed/killed
 *   lilm_runs_list / lilm_runs_get        query
 *   lilm_runs_delete                      forget a run (its dir is left alone)
 *
 * Concurrency: the db runs in WAL mode with a busy timeout and every write is
 * one BEGIN IMMEDIATE transaction, so any number of processes can start and
 * finish runs at the same moment without losing a row; readers never block
 * writers. Schema: versioned with PRAGMA user_version; opening an older db
 * migrates it forward in one transaction, a newer one is refused.
 *
 * Unknown values: integers are -1, doubles NaN, strings "" (or NULL for the
 * owned text fields).
 */
#ifndef LILM_TRACK_RUNS_H
#define LILM_TRACK_RUNS_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/* The schema version this build writes (PRAGMA user_version). */
#define LILM_RUNS_SCHEMA_VERSION 2
/* How long a write waits for another process's transaction, by default. */
#define LILM_RUNS_BUSY_MS 15000

typedef struct lilm_runs_db lilm_runs_db;

typedef enum lilm_run_status {
    LILM_RUN_RUNNING = 0,
    LILM_RUN_DONE,
    LILM_RUN_FAILED,
    LILM_RUN_KILLED,
    LILM_RUN_STATUS_COUNT
} lilm_run_status;

/* "running", "done", "failed", "killed". */
const char *lilm_run_status_name(lilm_run_status s);
/* Parses a status name; LILM_ERR_ARG on anything else. */
lilm_status lilm_run_status_parse(const char *s, lilm_run_status *out);

typedef struct lilm_run {
    int64_t id;                 /* row id in runs.db (0 before insertion) */
    char name[256];             /* unique run name */
    char run_dir[1024];         /* where its files are ("" if unknown) */
    lilm_run_status status;
    char model[128];            /* leaderboard label: run.json "model" (config name), else model_type */
    char model_type[64];        /* e.g. "baseline", "latent" */
    char dataset[256];
    char tokenizer[256];
    char device[64];
    char started_at[40];        /* ISO-8601 UTC */
    char finished_at[40];
    char git_commit[64];
    char lilm_version[32];
    char config_sha256[65];     /* of config_yaml */
    int64_t params, steps, tokens;
    int64_t vocab_size, n_layers, d_model;  /* from config.yaml */
    double budget_minutes, elapsed_s, val_loss, val_bpb;
    char *config_yaml;          /* owned, NULL if none */
    char *samples;              /* samples.txt, owned, NULL if none */
    char *eval_json;            /* eval.json text, owned, NULL if none */
    char *warnings;             /* problems met reading the run dir, one per line; owned */
} lilm_run;

/* A run with every field unknown. */
void lilm_run_init(lilm_run *r);

typedef struct lilm_run_list {
    lilm_run *runs;
    size_t n;
} lilm_run_list;
void lilm_run_list_free(lilm_run_list *l);

/* One line of metrics.jsonl. kind: 0 train step, 1 validation on sampled
 * batches, 2 validation over the whole validation set ("val_full": true,
 * the final evaluation). Unknown fields NaN / -1. */
typedef struct lilm_metric_point {
    int kind;
    int64_t step, tokens;
    double lr, loss, grad_norm, tokens_per_s, elapsed_s, val_loss, val_bpb;
} lilm_metric_point;
#define LILM_METRIC_TRAIN 0
#define LILM_METRIC_VAL 1
#define LILM_METRIC_VAL_FULL 2

/* One autosize probe. kind LILM_SWEEP_LR: x = lr, y = val_loss, aux = steps.
 * kind LILM_SWEEP_DEPTH: x = layers, y = tokens_per_param, aux = params. */
typedef struct lilm_sweep_point {
    int kind;
    double x, y, aux;
    int ok;                     /* depth: reached the tokens-per-parameter target */
} lilm_sweep_point;
#define LILM_SWEEP_LR 0
#define LILM_SWEEP_DEPTH 1

/* A run with its series, as read from a run dir or from the db. */
typedef struct lilm_run_record {
    lilm_run run;
    lilm_metric_point *metrics;  /* (n_metrics) in file order */
    size_t n_metrics;
    lilm_sweep_point *sweeps;    /* (n_sweeps) */
    size_t n_sweeps;
} lilm_run_record;
void lilm_run_record_free(lilm_run_record *rec);

/* Opens (creating if needed) the db at `path` and brings its schema to
 * LILM_RUNS_SCHEMA_VERSION. The parent directory is created too.
 * LILM_ERR_FORMAT: not a SQLite file or corrupt; LILM_ERR_VERSION: written by
 * a newer lilm; LILM_ERR_IO: cannot open, or locked longer than busy_ms.
 * lilm_runs_open waits LILM_RUNS_BUSY_MS, or $LILM_RUNS_BUSY_MS if set. */
lilm_status lilm_runs_open(lilm_runs_db **out, const char *path);
lilm_status lilm_runs_open_ex(lilm_runs_db **out, const char *path, int busy_ms);
/* The same for readers (leaderboard, report, runs list): a missing file is
 * LILM_ERR_NOT_FOUND with a hint, instead of a new empty db. */
lilm_status lilm_runs_open_existing(lilm_runs_db **out, const char *path);
void lilm_runs_close(lilm_runs_db *db);
const char *lilm_runs_path(const lilm_runs_db *db);

/* Inserts or replaces (by name) a run row and, when rec has them, its metric
 * and sweep points, in one transaction. Sets rec->run.id. */
lilm_status lilm_runs_upsert(lilm_runs_db *db, lilm_run_record *rec);

/* Reads run_dir (see docs/run-dir.md) and upserts it. Missing optional files
 * are fine; malformed lines are skipped and noted in the row's warnings (also
 * returned in *warnings when not NULL: malloc'd, caller frees, NULL if none).
 * A missing or malformed run.json fails: the run cannot be named. */
lilm_status lilm_runs_sync_dir(lilm_runs_db *db, const char *run_dir, char **warnings);

/* Sets a run's status; finished_at is set to now for done/failed/killed.
 * LILM_ERR_NOT_FOUND when no run has that name. */
lilm_status lilm_runs_set_status(lilm_runs_db *db, const char *name, lilm_run_status status);

/* Every run, oldest first (by started_at, then id). */
lilm_status lilm_runs_list(lilm_runs_db *db, lilm_run_list *out);
/* One run by name with its metric and sweep points. LILM_ERR_NOT_FOUND if absent. */
lilm_status lilm_runs_get(lilm_runs_db *db, const char *name, lilm_run_record *out);
/* Deletes a run and its points. LILM_ERR_NOT_FOUND if absent. */
lilm_status lilm_runs_delete(lilm_runs_db *db, const char *name);

/* The db path to use: `flag` if not NULL, else $LILM_RUNS_DB, else "runs/runs.db". */
const char *lilm_runs_default_path(const char *flag);

#endif
