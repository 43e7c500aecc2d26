/*
 * checkpoint.h: crash-safe checkpoints in safetensors.
 *
 * A checkpoint named NAME ("last", "best", "final") in DIR is two files:
 *   NAME.safetensors        the weights (fp32) under the reference's state_dict
 *                           names; __metadata__ holds "lilm_model" (the model
 *                           config as JSON), "lilm_config" (the run's YAML) and
 *                           "lilm_state" (the run state as JSON: step, tokens,
 *                           elapsed time, schedule length, RNG and data cursor,
 *                           the spike guard's window, best validation loss)
 *   NAME.optim.safetensors  the optimizer's named state: each group's slots
 *                           as tensors "<prefix><name>" (AdamW: "m.<name>",
 *                           "v.<name>"), its counters as metadata
 *                           ("adamw_step"), and the same "lilm_state"
 * Both files are written atomically, optimizer first (as NAME.optim.next),
 * then the weights, then the optimizer file is moved into place; a loader
 * that finds a NAME.optim.next whose step matches the weights completes the
 * move. So a kill at any moment leaves a consistent pair to resume from.
 */
#ifndef LILM_TRAIN_CHECKPOINT_H
#define LILM_TRAIN_CHECKPOINT_H

#include <stdint.h>

#include "core/config.h"
#include "data/corpus.h"
#include "model/model.h"
#include "train/optimizer.h"
#include "train/step.h"

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

/* Saves weights (and, when opt != NULL, the optimizer) as DIR/NAME*. */
lilm_status lilm_checkpoint_save(const char *dir, const char *name, const lilm_model *m,
                                 const lilm_optimizer *opt, const lilm_config *cfg,
                                 const lilm_run_state *state);

/* Reads the model config (and the full config when cfg != NULL) stored in a
 * weights file, so a model can be built before its weights are loaded. */
lilm_status lilm_checkpoint_read_config(const char *weights_path, lilm_model_config *mc, lilm_config *cfg);

/* Loads weights into a model built with the same config (names and shapes
 * are checked); also the optimizer and run state when opt/state are given
 * (the optimizer file is then required). Refreshes the compute copy. */
lilm_status lilm_checkpoint_load(const char *weights_path, lilm_model *m, lilm_optimizer *opt,
                                 lilm_run_state *state);

/* Writes only the weights + model config (e.g. `lilm forward --save-weights`). */
lilm_status lilm_weights_save(const char *path, const lilm_model *m);

/* The model config as the JSON object stored under "lilm_model". */
lilm_status lilm_model_config_to_json(const lilm_model_config *mc, char *buf, size_t cap);
lilm_status lilm_model_config_from_json(const char *json, lilm_model_config *mc);

#endif
