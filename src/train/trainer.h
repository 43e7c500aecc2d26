/*
 * trainer.h: a whole training run inside a wall-clock or step budget.
 *
 * lilm_trainer_init sets a run up from a config: the backend, the tokenizer,
 * the data (a prepared dataset dir, or raw text with the bytes tokenizer),
 * the model with its memory plan, AdamW, the schedule and the spike guard;
 * with `resume` it restores everything from DIR/checkpoints/last.
 * lilm_trainer_run then trains until the budget ends (`time`: the schedule
 * follows elapsed time, so it completes exactly at the end; `steps`: a fixed,
 * deterministic step count), validating every N steps or seconds, writing
 * metrics.jsonl, checkpointing (last, best, final) and keeping run.json's
 * status current. A stop request (SIGINT/SIGTERM in the CLI) ends the run
 * cleanly with a checkpoint.
 */
#ifndef LILM_TRAIN_TRAINER_H
#define LILM_TRAIN_TRAINER_H

#include <signal.h>
#include <stdio.h>

#include "core/config.h"
#include "core/fileio.h"
#include "data/corpus.h"
#include "eval/evaluate.h"
#include "model/model.h"
#include "ops/backend.h"
#include "tok/tokenizer.h"
#include "train/run_state.h"
#include "train/optimizer.h"
#include "train/schedule.h"
#include "train/step.h"

/* What a run reports to whoever runs it, each time its status is written
 * (run.json: "running" at the start; "done", "killed" or "failed" at the end).
 * The CLI records the run in runs.db from it. */
typedef struct lilm_trainer_report {
    const char *run_dir;
    const char *status;
    int64_t step, tokens;
    double elapsed_s;
    const lilm_eval_result *val; /* the latest validation (NULL: none yet) */
} lilm_trainer_report;

typedef void (*lilm_trainer_report_fn)(void *ctx, const lilm_trainer_report *r);

typedef struct lilm_trainer_options {
    const char *out_dir;       /* run directory */
    int resume;                /* continue from out_dir/checkpoints/last */
    int quiet;                 /* no progress line */
    lilm_trainer_report_fn on_report; /* progress reports (NULL: none) */
    void *report_ctx;          /* passed to on_report */
    volatile sig_atomic_t *stop; /* set to non-zero to stop gracefully (may be NULL) */
    int64_t stop_after_steps;  /* testing aid: behave as if stopped after this step (0 = never) */
    /* Share of the schedule this run covers (0 or 1: all). Autosize's LR sweep
     * trains for a fraction of the budget with the full-length schedule: it
     * sets budget (or train.steps) to that fraction and this to the same. */
    double schedule_fraction;
    int lite;                  /* sweeps: no checkpoints, samples or eval.json; final validation on val_batches */
    int no_samples;            /* do not write samples.txt at the end */
    const lilm_dist *dist;     /* the ranks of a data-parallel run (NULL: one process) */
} lilm_trainer_options;

typedef struct lilm_trainer {
    lilm_config cfg;
    lilm_trainer_options opts;
    char dir[LILM_PATH_MAX];
    lilm_backend *be;
    lilm_tokenizer *tok;
    lilm_model model;
    int model_ready;
    lilm_optimizer opt;
    lilm_spike_guard guard;
    lilm_schedule sched;
    int n_micro;

    lilm_corpus *data;         /* a prepared dataset or raw text */
    lilm_batch_source src;     /* training batches from `data` */

    lilm_run_state state;
    double probe_step_s;       /* step time measured over the first steps (the reference's probe) */
    double t0;                 /* monotonic start of this session */
    double elapsed_base;       /* training time of earlier sessions (resumes) */
    double last_val_t, last_ckpt_t;
    lilm_line_file metrics;    /* metrics.jsonl: whole lines only; a failed write stops the run */
    int metrics_open;
    int64_t params;

    /* time budgeting: the final validation and checkpoints fit inside the budget */
    int64_t full_val_batches;  /* micro-batches of the final full validation */
    double val_batch_s;        /* measured seconds per validation micro-batch (0: unknown) */
    double save_s;             /* measured seconds of one checkpoint save (0: unknown) */
    double reserve_s;          /* training stopped this long before the budget */
    double final_val_s;        /* time the final validation took */
    lilm_eval_result final_val; /* the final validation (full unless lite) */
    int have_final_val;
} lilm_trainer;

/* The reference's timing-probe estimate against what really happened. */
typedef struct lilm_probe_report {
    int valid;                 /* 0: the run was too short for the probe */
    double probe_step_s;       /* step time over the probe's steps */
    int64_t est_steps;         /* floor(budget / probe_step_s): the steps it would have planned */
    double est_wall_s;         /* est_steps x the run's real mean step time (validation included) */
    double budget_s;
    double miss_s;             /* est_wall_s - budget_s: > 0 overrun, < 0 ended early */
} lilm_probe_report;

/* The closing lines of a run, "lilm CMD: ...": steps, tokens, wall time
 * against the budget, the final validation, and the probe's miss. */
void lilm_trainer_print_summary(const lilm_trainer *t, const char *cmd, int stopped, FILE *f);

/* An empty data.tokenizer means the dataset's own (recorded in its meta.json),
 * or the bytes tokenizer for raw text; this fills it in (lilm_data_resolve_tokenizer). */
lilm_status lilm_trainer_resolve_tokenizer(lilm_config *c);

lilm_status lilm_trainer_init(lilm_trainer *t, const lilm_config *cfg, const lilm_trainer_options *o);
lilm_status lilm_trainer_run(lilm_trainer *t);
/* Validation: `full` visits the whole validation split; else the first val_batches batches. */
lilm_status lilm_trainer_validate(lilm_trainer *t, int full, lilm_eval_result *r);
void lilm_trainer_free(lilm_trainer *t);

#endif
