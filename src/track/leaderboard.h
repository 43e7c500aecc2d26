/*
 * leaderboard.h: the reference's leaderboard, computed from runs.db rows.
 *
 * Rows are models (a run's "model" label: its config name, else its
 * model_type, else its run name); columns are rank, model, then for each
 * dataset its params and BPB. A cell holds the best (lowest) validation BPB
 * among that model's finished runs ("done" with a BPB) on that dataset, and
 * the parameter count of that best run. Ranks order models by BPB on the
 * primary dataset (the one asked for, else the one with the most models),
 * ties and gaps broken by the other datasets, n/a last.
 *
 * Column numbering: 0 rank, 1 model, 2 + 2*d params of dataset d, 3 + 2*d
 * BPB of dataset d. Sorting is by any column, ascending or descending; n/a
 * sorts last in both directions; ties keep rank order.
 */
#ifndef LILM_TRACK_LEADERBOARD_H
#define LILM_TRACK_LEADERBOARD_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "track/runs.h"
#include "track/strbuf.h"

#define LILM_LB_COL_RANK 0
#define LILM_LB_COL_MODEL 1

typedef struct lilm_lb_cell {
    double bpb;                 /* NaN: n/a */
    int64_t params;             /* -1: n/a */
    char run[256];              /* the best run's name ("" if none) */
} lilm_lb_cell;

typedef struct lilm_lb_row {
    int64_t rank;               /* 1-based */
    char model[128];
    lilm_lb_cell *cells;        /* (n_datasets) */
} lilm_lb_row;

typedef struct lilm_leaderboard {
    size_t n_datasets;
    char (*dataset_keys)[64];   /* (n_datasets) lower-case name, e.g. "babylm" */
    char (*dataset_labels)[64]; /* (n_datasets) display name, e.g. "BabyLM" */
    size_t primary;             /* dataset index the rank follows */
    size_t n_rows;
    lilm_lb_row *rows;          /* (n_rows) in the current sort order */
} lilm_leaderboard;

/* Builds the table from runs. only_dataset (NULL = all) keeps one dataset,
 * matched case-insensitively against its key or label; LILM_ERR_NOT_FOUND if
 * no run has it. */
lilm_status lilm_leaderboard_build(lilm_leaderboard *lb, const lilm_run *runs, size_t n_runs, const char *only_dataset);
void lilm_leaderboard_free(lilm_leaderboard *lb);

/* The dataset key and display label of a run's dataset field: the last
 * folder name ("datasets/babylm/" -> "babylm", "BabyLM"); for a text file,
 * the folder it is in, above split folders such as train/ or data/
 * ("../shared/data/tinystories/train/head.txt" -> "tinystories"). */
void lilm_leaderboard_dataset_name(const char *dataset, char key[64], char label[64]);

size_t lilm_leaderboard_n_cols(const lilm_leaderboard *lb);
/* Column header text ("rank", "model", "BabyLM params", "BabyLM BPB"). */
void lilm_leaderboard_header(const lilm_leaderboard *lb, size_t col, char *buf, size_t n);
/* 1 when the column sorts as numbers (all but "model"). */
int lilm_leaderboard_col_numeric(size_t col);
/* Cell text ("1", "Baseline", "11.0M", "1.312", "n/a"). */
void lilm_leaderboard_cell_text(const lilm_leaderboard *lb, size_t row, size_t col, char *buf, size_t n);
/* Cell sort value; NaN for n/a (and for the model column). */
double lilm_leaderboard_cell_value(const lilm_leaderboard *lb, size_t row, size_t col);

/* Column index from a name: "rank", "model", "bpb" / "params" (primary
 * dataset), "DATASET-bpb", "DATASET params", "DATASET:bpb", a header text ...
 * case-insensitive. LILM_ERR_ARG listing the valid names otherwise. */
lilm_status lilm_leaderboard_find_col(const lilm_leaderboard *lb, const char *name, size_t *col);
void lilm_leaderboard_sort(lilm_leaderboard *lb, size_t col, int descending);

/* The table as aligned text columns, one header line, a rule, then the rows. */
lilm_status lilm_leaderboard_format(const lilm_leaderboard *lb, lilm_strbuf *out);

/* "11.0M", "850K", "1.20B"; "n/a" for a negative count. */
void lilm_format_params(char *buf, size_t n, int64_t params);

#endif
