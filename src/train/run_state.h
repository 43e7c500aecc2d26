/*
 * run_state.h: what an exact resume needs besides tensors, and the training
 * checkpoint that carries it.
 *
 * The run state travels as JSON in the "lilm_state" metadata of both files
 * of a checkpoint (model/checkpoint.h): step, tokens, elapsed time, schedule
 * length, best validation loss, the data's cursor ("rng": the raw-text RNG,
 * "cursor": the dataset loader's) and the spike guard's window. 64-bit
 * integers and doubles travel as strings so they round-trip exactly.
 */
#ifndef LILM_TRAIN_RUN_STATE_H
#define LILM_TRAIN_RUN_STATE_H

#include <stdint.h>

#include "core/config.h"
#include "data/corpus.h"
#include "model/checkpoint.h"
#include "model/model.h"
#include "train/optimizer.h"

#define LILM_STATE_WINDOW_MAX 1024

/* Everything besides tensors that an exact resume needs. */
typedef struct lilm_run_state {
    int64_t step;             /* optimizer steps done */
    int64_t tokens;           /* predicted tokens trained on */
    double elapsed_s;         /* training wall time so far (all sessions) */
    int64_t total_steps;      /* schedule length */
    double best_val_loss;     /* +inf if none yet */
    lilm_data_cursor data;    /* where the training data stands (data/corpus.h) */
    int spike_n, spike_head;  /* the spike guard's window */
    double spike_window[LILM_STATE_WINDOW_MAX];
} lilm_run_state;


/* Saves weights, the run config, the run state and (opt != NULL) the
 * optimizer's named state as DIR/NAME* (model/checkpoint.h). */
lilm_status lilm_run_checkpoint_save(const char *dir, const char *name, const lilm_model *m, lilm_optimizer *opt,
                                     const lilm_config *cfg, const lilm_run_state *state);
/* Loads weights, the run state (state may be NULL) and, when opt != NULL, the
 * optimizer's state of the same step. */
lilm_status lilm_run_checkpoint_load(const char *weights_path, lilm_model *m, lilm_optimizer *opt,
                                     lilm_run_state *state);

#endif
