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

#include "core/components.h"
#include "core/status.h"

/* Older spellings of the activation enum (core/components.h), kept for code
 * outside the model that still uses them; new code says lilm_act / LILM_ACT_*. */
typedef lilm_act lilm_act_kind;
#define LILM_ACTKIND_GELU LILM_ACT_GELU
#define LILM_ACTKIND_RELU LILM_ACT_RELU
#define LILM_ACTKIND_NONE LILM_ACT_NONE
typedef enum lilm_schedule_kind { LILM_SCHED_ONECYCLE = 0, LILM_SCHED_COSINE, LILM_SCHED_CONSTANT, LILM_SCHED_WSD } lilm_schedule_kind;
typedef enum lilm_optimizer_kind { LILM_OPT_ADAMW = 0, LILM_OPT_MUON } lilm_optimizer_kind;
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
    lilm_act activation;   /* NONE removes the feed-forward block */
    double rope_base;
    double norm_eps;       /* 0 = the PyTorch default for the norm kind */
    int64_t pad_id;        /* targets equal to it are ignored by the loss */
    /* parameters of the low-rank activations (ops/truncation.h) */
    int64_t act_k;         /* svd_truncation: singular values kept (0: no limit); qr_truncation: Omega's columns */
    double act_eps;        /* svd_truncation: drop s < act_eps x the batch's largest (0: off) */
    double act_alpha;      /* svd_entropic: the exponent (> 1) */
    int64_t ffn_tr_bond;   /* > 0: ffn.0 and ffn.3 are tensor-ring Linears of this bond dim (core/tensor_ring.h) */
    int zero_init_proj;    /* 1: attention reprojection and FFN W2 weights start at zero */
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
    double warmup_frac;      /* cosine, wsd: share of steps of linear warm-up */
    double min_lr_frac;      /* cosine, wsd: final lr as a fraction of lr */
    double decay_frac;       /* wsd: share of steps of the final linear decay */
    double beta1, beta2, adam_eps, weight_decay;
    lilm_optimizer_kind optimizer; /* muon: the layers' 2-D weights on Muon, the rest on AdamW */
    double muon_lr;          /* Muon's peak lr (follows the same schedule shape as lr) */
    double muon_momentum;
    int muon_nesterov;
    int64_t muon_ns_steps;   /* Newton-Schulz iterations */
    double muon_weight_decay;
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
    int cuda_attention;      /* lilm_cuda_attention (ops/backend.h): auto | warp | mma */
    int cuda_epilogue;       /* 1: fuse the bias into cuBLASLt's GEMM epilogue where it can */
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

/* One row of the option table. Defaults are text parsed by the same code that
 * parses YAML and --set, so a default can never disagree with its own range. */
typedef enum lilm_cfg_type {
    LILM_CFG_INT = 0, /* int64_t, range [min, max] */
    LILM_CFG_U64,     /* uint64_t, any value 0 .. 2^64-1 */
    LILM_CFG_FLOAT,   /* double, range [min, max] or open ends (flags) */
    LILM_CFG_BOOL,    /* int, 0 or 1; YAML true/false */
    LILM_CFG_STRING,  /* char[size]; with `names`: one of them */
    LILM_CFG_ENUM,    /* a C enum (int); the value is names[i] -> i */
} lilm_cfg_type;

#define LILM_CFG_MIN_OPEN 1u /* range excludes min: (min, ... */
#define LILM_CFG_MAX_OPEN 2u /* range excludes max: ..., max) */

typedef struct lilm_cfg_opt {
    const char *key;          /* "section.name", e.g. "train.lr" */
    lilm_cfg_type type;
    size_t offset;            /* offsetof(lilm_config, ...) */
    size_t size;              /* sizeof the field */
    const char *def;          /* default, as text */
    double min, max;          /* INT and FLOAT */
    unsigned flags;           /* LILM_CFG_MIN_OPEN | LILM_CFG_MAX_OPEN */
    const char *const *names; /* ENUM (and restricted STRING): NULL-terminated */
    const char *help;
} lilm_cfg_opt;

/* The option table (every lilm_config field has exactly one row). */
const lilm_cfg_opt *lilm_config_options(size_t *count);

/* The row for "section.key", or NULL. */
const lilm_cfg_opt *lilm_config_find(const char *key);

/* The field's value as text, exactly as write_yaml writes it (strings
 * unquoted): what parsing it back with lilm_config_set gives bit for bit.
 * For run summaries and the runs database. */
void lilm_config_format_value(const lilm_config *cfg, const lilm_cfg_opt *opt, char *buf, size_t n);

/* Strict number parsing shared by the config and the CLI option parser: the
 * whole text must be the number (no surrounding space, no trailing junk, no
 * overflow, no nan/inf). An integer may be written as a whole float ("1e6",
 * "64.0"). Return 1 on success, 0 otherwise. */
int lilm_config_parse_int(const char *text, int64_t *out);
int lilm_config_parse_float(const char *text, double *out);

/* Levenshtein distance between two short strings (99 past 63 bytes); used to
 * suggest "did you mean" names for unknown keys and options. */
size_t lilm_config_edit_distance(const char *a, const char *b);

/* Fills every field with its default from the option table. */
void lilm_config_defaults(lilm_config *cfg);

/* Loads a YAML file over the current values (keys it does not name keep their
 * value). Unknown keys or sections, wrong types, values out of range, bad
 * enum names, duplicate keys, malformed YAML or an unreadable file:
 * LILM_ERR_CONFIG with one message "FILE:LINE: key 'train.lr': must be a
 * number in (0, 1], got 'abc'", and *cfg unchanged. */
lilm_status lilm_config_load_yaml(lilm_config *cfg, const char *path);

/* The same from a string in memory; `label` stands for the file name in messages. */
lilm_status lilm_config_load_yaml_string(lilm_config *cfg, const char *label, const char *text, size_t n);

/* Applies "section.key=value" (e.g. "train.lr=3e-3") with the same checks;
 * messages start with "--set ASSIGNMENT: ". *cfg is unchanged on failure. */
lilm_status lilm_config_set(lilm_config *cfg, const char *assignment);

/* What a subcommand does with `CONFIG --set k=v ...`: defaults, then the
 * file (when path is not NULL), then each assignment in order, then
 * lilm_config_validate. */
lilm_status lilm_config_from_cli(lilm_config *cfg, const char *path, const char *const *sets, size_t n_sets);

/* Cross-field checks (qk_dim even, accum_batch a multiple of batch_size,
 * 0 <= latent_dim < d_model, pad_id < vocab_size, vocab >= 260 with the bytes
 * tokenizer, steps > 0 in steps mode, not both data.dataset and data.text). */
lilm_status lilm_config_validate(const lilm_config *cfg);

/* Writes the whole config as YAML (every key, so a run dir is self-describing). */
lilm_status lilm_config_write_yaml(const lilm_config *cfg, FILE *f);

/* Writes the YAML to `path` atomically (temp file, fsync, rename). */
lilm_status lilm_config_save(const lilm_config *cfg, const char *path);

/* Prints the option table: key, type, range, default and help, one per line. */
void lilm_config_print_help(FILE *f, const char *section_or_null);

/* The same table as Markdown (one table per section), for docs/config.md. */
void lilm_config_print_markdown(FILE *f);

/* Equality of every field in the table (doubles compared bit for bit). */
int lilm_config_equal(const lilm_config *a, const lilm_config *b);

/* Parameter count of the model described (the reference's count: tied
 * embedding once; q, kv (or kv.0 + kv.1), reproject, W1, W2 with biases; two
 * norms per layer (weight; + bias for LayerNorm; none for norm none) and the
 * final norm; activation none drops W1, W2 and feedforward_norm). The sum
 * over lilm_arch_tensors() (core/components.h), the walk the model's
 * parameter table is built from. */
int64_t lilm_model_config_param_count(const lilm_model_config *m);

#endif
