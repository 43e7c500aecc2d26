/*
 * evaluate.h: validation: loss, BPB, perplexity over a corpus's held-out data.
 *
 * One function, lilm_eval_corpus, does both kinds of validation:
 *   - full: every held-out token once (lilm_corpus_val_begin(c, 1)), and
 *     BPB = total cross-entropy in nats / (ln 2 x UTF-8 bytes of the held-out
 *     text): the exact definition, not the reference's mean-loss approximation;
 *       prepared datasets: each token (EOS included) of the split is a target
 *       once; bytes come from the split's header;
 *       raw text (data.text): the held-out tail of the token stream, in rows of
 *       T targets whose context is the T tokens before them (the first row's
 *       context is the last training token); bytes = the held-out documents'
 *       UTF-8 bytes;
 *   - partial (the trainer's periodic validation): the first max_batches
 *     batches of the held-out data as training sees it; BPB = mean loss /
 *     (ln 2 x the held-out text's mean bytes per token).
 * lilm_eval_run does the whole job for `lilm eval`: it reads a run directory
 * (or a checkpoint file), builds the model from the checkpoint's own config,
 * in inference mode, loads the weights and evaluates on the run's data or on
 * another prepared dataset (which must use the same tokenizer).
 */
#ifndef LILM_EVAL_EVALUATE_H
#define LILM_EVAL_EVALUATE_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/status.h"
#include "data/corpus.h"
#include "dist/dist.h"
#include "model/model.h"
#include "ops/backend.h"
#include "tok/tokenizer.h"

typedef struct lilm_eval_result {
    double loss;        /* mean nats per counted token */
    double bpb;         /* bits per UTF-8 byte */
    double perplexity;  /* exp(loss), per token */
    int64_t tokens, bytes; /* bytes: 0 for a partial validation */
    int full;           /* 1: every held-out token; 0: the first batches */
    int64_t batches;    /* forward passes it took */
    double seconds;
    int64_t params;
    char checkpoint[LILM_PATH_MAX]; /* the weights file evaluated (lilm_eval_run) */
    char data[LILM_PATH_MAX];       /* the dataset dir or text file */
} lilm_eval_result;

/* Sets loss/bpb/perplexity from a loss sum over `tokens` targets and `bytes`. */
void lilm_eval_finish(lilm_eval_result *r, double loss_sum, int64_t tokens, int64_t bytes);

/* Validation of `m` on the held-out data of `c` (see above): full, or the
 * first max_batches batches. Fills loss, bpb, perplexity, tokens, bytes,
 * full, batches and seconds. */
/* dist (NULL: one process) splits the batches over the ranks of a data-parallel
 * run (batch b on rank b mod N) and adds up their sums: every rank gets the result. */
lilm_status lilm_eval_corpus(lilm_model *m, lilm_corpus *c, int full, int64_t max_batches, const lilm_dist *dist,
                             lilm_eval_result *r);

typedef struct lilm_eval_opts {
    const char *target;     /* a run directory, or a .safetensors checkpoint written by lilm */
    const char *checkpoint; /* in a run dir: "final" (default), "best" or "last" */
    const char *data;       /* another prepared dataset dir (NULL: the run's own data) */
    const char *split;      /* split of `data` to evaluate (NULL: "val") */
    const char *device;     /* NULL: the run's train.device */
    int threads;            /* < 0: the run's train.threads */
    size_t batch;           /* 0: the run's train.batch_size */
} lilm_eval_opts;

/* A trained model ready to use: config, backend, tokenizer, weights. */
typedef struct lilm_loaded_model {
    lilm_config cfg;           /* the run's config as stored in the checkpoint */
    lilm_backend *be;
    lilm_tokenizer *tok;
    lilm_model model;
    int have_model;
    char checkpoint[LILM_PATH_MAX + 64];
} lilm_loaded_model;

/* Loads a run dir's checkpoint (`checkpoint` NULL: final, else best, else
 * last) or a checkpoint file, planned for micro-batches up to (B, T) (0: the
 * run's batch size / the model's context). `data` (NULL: the run's) replaces
 * data.dataset before the tokenizer is resolved, so a checkpoint without a
 * run config (e.g. from bench/torch_train.py) takes the dataset's tokenizer.
 * device NULL / threads < 0: the run's. */
lilm_status lilm_eval_load(const char *target, const char *checkpoint, const char *data, const char *device,
                           int threads, size_t B, size_t T, lilm_loaded_model *out);
void lilm_eval_unload(lilm_loaded_model *lm);

/* Builds the model from the checkpoint, loads it, evaluates. A run dir
 * without the requested checkpoint falls back final -> best -> last when
 * opts->checkpoint is NULL, and fails with a hint otherwise. */
lilm_status lilm_eval_run(const lilm_eval_opts *o, lilm_eval_result *r);

/* Writes eval.json: {"loss", "bpb", "perplexity", "tokens", "bytes", "params",
 * "seconds", "checkpoint", "data"} plus `extra_json` members (a string of
 * `"key": value, ...` without braces; may be NULL), atomically. */
lilm_status lilm_eval_write_json(const char *path, const lilm_eval_result *r, const char *extra_json);

#endif
