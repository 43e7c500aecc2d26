/*
 * checkpoint.h: crash-safe checkpoints in safetensors.
 *
 * A checkpoint named NAME ("last", "best", "final") in DIR is two files:
 *   NAME.safetensors        the weights (fp32) under the reference's state_dict
 *                           names; __metadata__ holds "lilm_model" (the model
 *                           config as JSON, model_config_json.c), "lilm_config"
 *                           (the run's YAML) and "lilm_state" (the run state as
 *                           JSON, written by the trainer: train/run_state.h)
 *   NAME.optim.safetensors  the named training state (the optimizer's, see
 *                           train/optimizer.h): each array's tensors as
 *                           "<prefix><name>" (AdamW: "m.<name>", "v.<name>"),
 *                           each counter as metadata ("adamw_step"), and the
 *                           same "lilm_state"
 * Both files are written atomically, the state file first (as NAME.optim.next),
 * then the weights, then the state file is moved into place; a loader
 * that finds a NAME.optim.next whose step matches the weights completes the
 * move. So a kill at any moment leaves a consistent pair to resume from.
 */
#ifndef LILM_MODEL_CHECKPOINT_H
#define LILM_MODEL_CHECKPOINT_H

#include <stdint.h>

#include "core/config.h"
#include "model/model.h"

#define LILM_STATE_ARRAYS_MAX 16
#define LILM_STATE_COUNTERS_MAX 16

/* One named fp32 array over some of the model's parameters: tensor k is
 * parameter params[k], at element offsets[k] of block. */
typedef struct lilm_state_array {
    const char *prefix;        /* tensor names: prefix + parameter name ("m.") */
    float *block;              /* (numel) backend memory */
    size_t numel;
    const int *params;         /* (n) indices into the model's parameter table */
    const size_t *offsets;     /* (n) */
    int n;
} lilm_state_array;

/* One named integer (saved as metadata). */
typedef struct lilm_state_counter {
    const char *name;          /* "adamw_step" */
    int64_t *value;
} lilm_state_counter;

/* The training state a checkpoint carries besides the weights: views of
 * memory its owner (the optimizer) keeps. */
typedef struct lilm_named_state {
    lilm_state_array arrays[LILM_STATE_ARRAYS_MAX];
    int n_arrays;
    lilm_state_counter counters[LILM_STATE_COUNTERS_MAX];
    int n_counters;
} lilm_named_state;

/* Saves the weights (with the run config when cfg != NULL and the run state
 * JSON when state_json != NULL) and, when ns != NULL, the named state, as DIR/NAME*. */
lilm_status lilm_checkpoint_save(const char *dir, const char *name, const lilm_model *m, const lilm_named_state *ns,
                                 const lilm_config *cfg, const char *state_json);

/* Reads the model config (and the full config when cfg != NULL) stored in a
 * weights file, so a model can be built before its weights are loaded. */
lilm_status lilm_checkpoint_read_config(const char *weights_path, lilm_model_config *mc, lilm_config *cfg);

/* Loads weights into a model built with the same config (names and shapes
 * are checked); also the named state when ns != NULL (the state file whose
 * run state has the weights' step is then required; a counter it lacks is set
 * to that step), and a copy of the run state JSON when state_json != NULL (to
 * free). Refreshes the compute copy. */
lilm_status lilm_checkpoint_load(const char *weights_path, lilm_model *m, lilm_named_state *ns, char **state_json);

/* Writes only the weights + model config (e.g. `lilm forward --save-weights`). */
lilm_status lilm_weights_save(const char *path, const lilm_model *m);

#endif
