/*
 * prepare.h: `lilm data prepare`: input files -> a dataset directory.
 *
 * A recipe (data/recipe.h, the one table for `lilm run` too) fixes the
 * defaults for a known dataset: which column holds the text, how validation
 * is chosen, how text files are cut into documents:
 *   simplestories  column story; validation = files named test* (the HF test split)
 *   babylm         column text; validation = rows with index % 10000 < 100 (as the
 *                  reference), or the files given with val_inputs
 *   tinystories    column text; validation = files under a validation/ directory
 *   text|jsonl|parquet  generic: every input in that format, validation by
 *                  rule "index%100<1" unless val_inputs or val_rule say otherwise
 * With no inputs, a recipe with a hub source reads data/hf/OWNER/NAME (where
 * `lilm data fetch` puts it), else the cache's copy (data/cache.h).
 * Row indices for a rule count every record of the (non-validation) inputs in
 * order, empty ones included, as a Hugging Face dataset index would.
 *
 * Work: documents are read in batches, tokenised on all cores (OpenMP over
 * the batch, results written in input order), EOS appended, and streamed into
 * the split writers; every file is committed only when all went well, and
 * meta.json last. An unchanged re-run (same inputs' sizes and mtimes, same
 * tokenizer hash, same options) is detected from meta.json and does nothing.
 */
#ifndef LILM_DATA_PREPARE_H
#define LILM_DATA_PREPARE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct lilm_prepare_opts {
    const char *recipe;                /* see above */
    const char *tokenizer;             /* .model path, or "bytes" */
    const char *out_dir;
    const char *const *inputs;         /* files or directories (searched recursively) */
    size_t n_inputs;
    const char *const *val_inputs;     /* explicit validation files (disables the rule) */
    size_t n_val_inputs;
    const char *column;                /* NULL: the recipe's */
    const char *val_rule;              /* NULL: the recipe's; "index%M<K"; "none": no validation split */
    int text_docs;                     /* -1: recipe default; 0 lines; 1 blank-line separated */
    int threads;                       /* 0: all cores */
    int force;                         /* redo even when up to date */
    int quiet;                         /* no progress line */
    volatile sig_atomic_t *stop;       /* set (by a signal handler) to stop: LILM_ERR_INTERRUPTED,
                                          nothing written; NULL: never */
} lilm_prepare_opts;

#define LILM_PREPARE_MAX_WARNINGS 8

typedef struct lilm_prepare_report {
    int up_to_date;                    /* nothing was done */
    int64_t docs[2], tokens[2], bytes[2]; /* [0] train, [1] val */
    int64_t skipped_empty;             /* empty documents / null values left out */
    int64_t input_bytes;
    int64_t n_files;
    double seconds;
    int n_warnings;
    char warnings[LILM_PREPARE_MAX_WARNINGS][600];
} lilm_prepare_report;

lilm_status lilm_data_prepare(const lilm_prepare_opts *o, lilm_prepare_report *r);

/* "index%M<K" -> M, K (spaces allowed). */
lilm_status lilm_val_rule_parse(const char *rule, int64_t *mod, int64_t *below);

/* The train split's documents as a tokenizer trainer reads them (each
 * followed by a NUL byte; empty ones and any holding a NUL left out), from
 * the same inputs and split rule as lilm_data_prepare; written atomically to
 * out_path. o->tokenizer, out_dir, threads and force are not used; r gets
 * docs[0], bytes[0], input_bytes, n_files and seconds. */
lilm_status lilm_data_export_train_text(const lilm_prepare_opts *o, const char *out_path, lilm_prepare_report *r);

/* SHA-256 (hex) of what a preparation would read: the recipe, column, split
 * rule and every input file's path, role, size and mtime (not the tokenizer). */
lilm_status lilm_data_inputs_fingerprint(const lilm_prepare_opts *o, char hex[65]);

#endif
