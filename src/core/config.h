/*
 * config.h: one experiment's whole configuration.
 *
 * A run is described by one YAML file with four sections (model, data, train,
 * budget) mapping onto the structs below. src/core/config.c holds the single
 * option table (key, type, range, default, help, field offset) that drives
 * YAML loading, `--set key=value` overrides, validation with file:line
 * messages, `lilm <cmd> --help` and the config.yaml written into a run dir.
 * Adding an option is one struct field plus one table row.
 */
#ifndef LILM_CORE_CONFIG_H
#define LILM_CORE_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/status.h"

typedef enum lilm_norm_kind { LILM_NORM_RMS = 0, LILM_NORM_LAYER, LILM_NORM_NONE } lilm_norm_kind;
typedef enum lilm_act_kind { LILM_ACTKIND_GELU = 0, LILM_ACTKIND_RELU, LILM_ACTKIND_NONE } lilm_act_kind;
typedef enum lilm_schedule_kind { LILM_SCHED_ONECYCLE = 0, LILM_SCHED_COSINE, LILM_SCHED_CONSTANT } lilm_schedule_kind;
typedef enum lilm_budget_mode { LILM_BUDGET_TIME = 0, LILM_BUDGET_STEPS } lilm_budget_mode;
typedef enum lilm_loader_mode { LILM_LOADER_PACKED = 0, LILM_LOADER_DOCUMENT } lilm_loader_mode;

#define LILM_PATH_MAX 1024

typedef struct lilm_model_config {
    int64_t vocab_size;    /* V; with the bytes tokenizer: 260 */
    int64_t d_model;       /* C */
    int64_t n_layers;      /* L */
    int64_t n_heads;       /* H */
    int64_t qk_dim;        /* Dq, per head, even */
    int64_t v_dim;         /* Dv, per head */
    int64_t ffn_dim;       /* hidden width of the feed-forward block */
    int64_t context;       /* T max */
    int64_t latent_dim;    /* p of latent attention; 0 = standard attention */
    lilm_norm_kind norm;
    lilm_act_kind activation; /* NONE removes the feed-forward block */
    double rope_base;
    double norm_eps;       /* 0 = the PyTorch default for the norm kind */
    int64_t pad_id;        /* targets equal to it are ignored by the loss */
} lilm_model_config;

typedef struct lilm_data_config {
    char dataset[LILM_PATH_MAX];   /* prepared dataset dir (lilm data prepare) */
    char text[LILM_PATH_MAX];      /* or: a UTF-8 text file/dir read with the bytes tokenizer */
    char tokenizer[LILM_PATH_MAX]; /* .model path, or "bytes" */
    lilm_loader_mode mode;         /* packed blocks or one document per row */
    int64_t shuffle_buffer;        /* blocks in the packed loader's shuffle buffer */
    double val_fraction;           /* for `text`: share of documents held out */
} lilm_data_config;

typedef struct lilm_train_config {
    uint64_t seed;
    int64_t batch_size;      /* micro-batch (sequences per forward pass) */
    int64_t accum_batch;     /* sequences per optimizer step */
    double lr;               /* peak learning rate */
    lilm_schedule_kind schedule;
    double pct_start;        /* one-cycle: share of steps rising */
    double div_factor;       /* one-cycle: initial lr = lr / div_factor */
    double final_div_factor; /* one-cycle: final lr = initial / final_div_factor */
    double warmup_frac;      /* cosine: share of steps of linear warm-up */
    double min_lr_frac;      /* cosine: final lr as a fraction of lr */
    double beta1, beta2, adam_eps, weight_decay;
    double grad_clip;        /* global-norm clip; 0 = off */
    double spike_factor;     /* skip a micro-batch whose loss > factor x median; 0 = off */
    int64_t spike_window;    /* losses in that median */
    int64_t steps;           /* optimizer steps (steps mode) */
    int64_t val_every;       /* steps between validations; 0 = time based only */
    double val_every_seconds;
    int64_t val_batches;
    double checkpoint_every_seconds;
    char device[16];         /* auto | cpu | cuda */
    int64_t threads;         /* 0 = all cores */
} lilm_train_config;

typedef struct lilm_budget_config {
    double minutes;          /* wall-clock training budget */
    lilm_budget_mode mode;   /* time: schedule follows elapsed time; steps: fixed count */
    double tokens_per_param; /* autosize target */
} lilm_budget_config;

typedef struct lilm_config {
    lilm_model_config model;
    lilm_data_config data;
    lilm_train_config train;
    lilm_budget_config budget;
} lilm_config;

/* Fills every field with its default from the option table. */
void lilm_config_defaults(lilm_config *cfg);

/* Loads a YAML file over the current values. Unknown keys, wrong types, values
 * out of range: LILM_ERR_CONFIG with "FILE:LINE: key: what is wrong". */
lilm_status lilm_config_load_yaml(lilm_config *cfg, const char *path);

/* Applies "section.key=value" (e.g. "train.lr=3e-3"). */
lilm_status lilm_config_set(lilm_config *cfg, const char *assignment);

/* Cross-field checks (e.g. qk_dim even, accum_batch % batch_size == 0). */
lilm_status lilm_config_validate(const lilm_config *cfg);

/* Writes the whole config as YAML (every key, so a run dir is self-describing). */
lilm_status lilm_config_write_yaml(const lilm_config *cfg, FILE *f);

/* Prints the option table: key, type, range, default and help, one per line. */
void lilm_config_print_help(FILE *f, const char *section_or_null);

/* Parameter count of the model described (the reference's count: tied embedding once). */
int64_t lilm_model_config_param_count(const lilm_model_config *m);

#endif
