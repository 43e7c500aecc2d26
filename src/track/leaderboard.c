/*
 * leaderboard.c: building, sorting and printing the leaderboard (see
 * leaderboard.h).
 *
 * Sizes are small (tens of models, a handful of datasets), so lookups are
 * linear scans and sorting is qsort with the row's rank as the final tie
 * break, which makes the order deterministic.
 */
#include "track/leaderboard.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Display names of the datasets lilm knows; others show their key as is. */
static const struct { const char *key, *label; } known_datasets[] = {
    {"babylm", "BabyLM"},
    {"simplestories", "SimpleStories"},
    {"tinystories", "TinyStories"},
};

/* File name endings of raw text inputs (data.text) rather than dataset dirs. */
static const char *const file_exts[] = {".txt", ".jsonl", ".json", ".parquet", ".gz", ".zst", ".bin", ".text"};
/* Folder names that say which split, not which dataset. */
static const char *const split_dirs[] = {"train", "test", "val", "valid", "validation", "dev", "data", "prepared", "shards"};

static int ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

/* Cuts the last path component off tmp; 0 if there was only one. */
static int drop_last(char *tmp)
{
    char *slash = strrchr(tmp, '/');
    if (!slash || slash == tmp) return 0;
    *slash = '\0';
    return 1;
}

void lilm_leaderboard_dataset_name(const char *dataset, char key[64], char label[64])
{
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s", dataset ? dataset : "");
    size_t l = strlen(tmp);
    while (l > 1 && tmp[l - 1] == '/') tmp[--l] = '\0';
    /* ".../tinystories/train/head.txt" names the dataset by its folder: drop a
     * text file's name, then split folders ("train", "data", ...) */
    for (size_t i = 0; i < sizeof file_exts / sizeof file_exts[0]; i++)
        if (ends_with(tmp, file_exts[i])) {
            drop_last(tmp);
            break;
        }
    for (int again = 1; again;) {
        again = 0;
        const char *b = strrchr(tmp, '/');
        b = b ? b + 1 : tmp;
        for (size_t i = 0; i < sizeof split_dirs / sizeof split_dirs[0]; i++)
            if (strcasecmp(b, split_dirs[i]) == 0 && drop_last(tmp)) again = 1;
    }
    const char *base = strrchr(tmp, '/');
    base = base ? base + 1 : tmp;
    if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) base = "unknown";
    snprintf(label, 64, "%s", base);
    size_t i = 0;
    for (; base[i] && i < 63; i++) key[i] = (char)tolower((unsigned char)base[i]);
    key[i] = '\0';
    for (size_t k = 0; k < sizeof known_datasets / sizeof known_datasets[0]; k++)
        if (strcmp(key, known_datasets[k].key) == 0) snprintf(label, 64, "%s", known_datasets[k].label);
}

void lilm_format_params(char *buf, size_t n, int64_t params)
{
    if (params < 0) snprintf(buf, n, "n/a");
    else if (params >= 1000000000) snprintf(buf, n, "%.2fB", (double)params / 1e9);
    else if (params >= 1000000) snprintf(buf, n, "%.1fM", (double)params / 1e6);
    else if (params >= 1000) snprintf(buf, n, "%.0fK", (double)params / 1e3);
    else snprintf(buf, n, "%lld", (long long)params);
}

void lilm_leaderboard_free(lilm_leaderboard *lb)
{
    for (size_t i = 0; i < lb->n_rows; i++) free(lb->rows[i].cells);
    free(lb->rows);
    free(lb->dataset_keys);
    free(lb->dataset_labels);
    memset(lb, 0, sizeof *lb);
}

static const char *model_of(const lilm_run *r)
{
    if (r->model[0]) return r->model;
    if (r->model_type[0]) return r->model_type;
    return r->name;
}

/* Rank order: primary BPB, then the other datasets in column order, then name. */
static int cmp_bpb(double a, double b)
{
    int na = !isfinite(a), nb = !isfinite(b);
    if (na || nb) return na - nb;   /* n/a last */
    return a < b ? -1 : a > b;
}

static int rank_cmp(const lilm_lb_row *a, const lilm_lb_row *b, const lilm_leaderboard *lb)
{
    int c = cmp_bpb(a->cells[lb->primary].bpb, b->cells[lb->primary].bpb);
    for (size_t d = 0; !c && d < lb->n_datasets; d++)
        if (d != lb->primary) c = cmp_bpb(a->cells[d].bpb, b->cells[d].bpb);
    return c ? c : strcmp(a->model, b->model);
}

/* A stable insertion sort (qsort is neither stable nor takes a context;
 * tables have tens of rows). */
static void sort_rows(lilm_leaderboard *lb, int (*cmp)(const lilm_lb_row *, const lilm_lb_row *, const lilm_leaderboard *, size_t, int),
                      size_t col, int desc)
{
    for (size_t i = 1; i < lb->n_rows; i++) {
        lilm_lb_row x = lb->rows[i];
        size_t j = i;
        while (j > 0 && cmp(&lb->rows[j - 1], &x, lb, col, desc) > 0) {
            lb->rows[j] = lb->rows[j - 1];
            j--;
        }
        lb->rows[j] = x;
    }
}

static int rank_cmp_adapter(const lilm_lb_row *a, const lilm_lb_row *b, const lilm_leaderboard *lb, size_t col, int desc)
{
    (void)col;
    (void)desc;
    return rank_cmp(a, b, lb);
}

static int find_dataset(const lilm_leaderboard *lb, const char *key)
{
    for (size_t d = 0; d < lb->n_datasets; d++)
        if (strcmp(lb->dataset_keys[d], key) == 0) return (int)d;
    return -1;
}

lilm_status lilm_leaderboard_build(lilm_leaderboard *lb, const lilm_run *runs, size_t n_runs, const char *only_dataset)
{
    memset(lb, 0, sizeof *lb);
    char want[64] = "";
    if (only_dataset && *only_dataset) {
        char label[64];
        lilm_leaderboard_dataset_name(only_dataset, want, label);
    }
    /* datasets: sorted keys of finished runs */
    lb->dataset_keys = calloc(n_runs + 1, sizeof *lb->dataset_keys);
    lb->dataset_labels = calloc(n_runs + 1, sizeof *lb->dataset_labels);
    lb->rows = calloc(n_runs + 1, sizeof *lb->rows);
    if (!lb->dataset_keys || !lb->dataset_labels || !lb->rows) {
        lilm_leaderboard_free(lb);
        return lilm_errorf(LILM_ERR_OOM, "out of memory building the leaderboard");
    }
    size_t seen_with_dataset = 0;
    for (size_t i = 0; i < n_runs; i++) {
        const lilm_run *r = &runs[i];
        if (r->status != LILM_RUN_DONE || !isfinite(r->val_bpb)) continue;
        char key[64], label[64];
        lilm_leaderboard_dataset_name(r->dataset, key, label);
        if (want[0] && strcmp(key, want) != 0) continue;
        seen_with_dataset++;
        if (find_dataset(lb, key) >= 0) continue;
        size_t d = lb->n_datasets++;
        while (d > 0 && strcmp(lb->dataset_keys[d - 1], key) > 0) {   /* keep keys sorted */
            memcpy(lb->dataset_keys[d], lb->dataset_keys[d - 1], 64);
            memcpy(lb->dataset_labels[d], lb->dataset_labels[d - 1], 64);
            d--;
        }
        memcpy(lb->dataset_keys[d], key, 64);
        memcpy(lb->dataset_labels[d], label, 64);
    }
    if (want[0] && !seen_with_dataset) {
        lilm_leaderboard_free(lb);
        return lilm_errorf(LILM_ERR_NOT_FOUND, "no finished run on dataset '%s'\nHINT: `lilm runs list` shows each run's dataset and status",
                           only_dataset);
    }
    /* rows: one per model, best BPB per dataset */
    for (size_t i = 0; i < n_runs; i++) {
        const lilm_run *r = &runs[i];
        if (r->status != LILM_RUN_DONE || !isfinite(r->val_bpb)) continue;
        char key[64], label[64];
        lilm_leaderboard_dataset_name(r->dataset, key, label);
        int d = find_dataset(lb, key);
        if (d < 0) continue;
        const char *model = model_of(r);
        size_t m = 0;
        while (m < lb->n_rows && strcmp(lb->rows[m].model, model) != 0) m++;
        if (m == lb->n_rows) {
            lilm_lb_row *row = &lb->rows[lb->n_rows];
            row->cells = calloc(lb->n_datasets ? lb->n_datasets : 1, sizeof *row->cells);
            if (!row->cells) {
                lilm_leaderboard_free(lb);
                return lilm_errorf(LILM_ERR_OOM, "out of memory building the leaderboard");
            }
            lb->n_rows++;
            snprintf(row->model, sizeof row->model, "%s", model);
            for (size_t k = 0; k < lb->n_datasets; k++) {
                row->cells[k].bpb = NAN;
                row->cells[k].params = -1;
            }
        }
        lilm_lb_cell *c = &lb->rows[m].cells[d];
        if (!isfinite(c->bpb) || r->val_bpb < c->bpb) {
            c->bpb = r->val_bpb;
            c->params = r->params;
            snprintf(c->run, sizeof c->run, "%s", r->name);
        }
    }
    /* primary dataset: the one with the most models */
    size_t best = 0;
    for (size_t d = 0; d < lb->n_datasets; d++) {
        size_t cnt = 0, cnt_best = 0;
        for (size_t m = 0; m < lb->n_rows; m++) {
            cnt += isfinite(lb->rows[m].cells[d].bpb);
            cnt_best += isfinite(lb->rows[m].cells[best].bpb);
        }
        if (cnt > cnt_best) best = d;
    }
    lb->primary = best;
    if (lb->n_datasets) sort_rows(lb, rank_cmp_adapter, 0, 0);
    for (size_t m = 0; m < lb->n_rows; m++) lb->rows[m].rank = (int64_t)m + 1;
    return LILM_OK;
}

size_t lilm_leaderboard_n_cols(const lilm_leaderboard *lb) { return 2 + 2 * lb->n_datasets; }

int lilm_leaderboard_col_numeric(size_t col) { return col != LILM_LB_COL_MODEL; }

void lilm_leaderboard_header(const lilm_leaderboard *lb, size_t col, char *buf, size_t n)
{
    if (col == LILM_LB_COL_RANK) snprintf(buf, n, "rank");
    else if (col == LILM_LB_COL_MODEL) snprintf(buf, n, "model");
    else if (col < lilm_leaderboard_n_cols(lb))
        snprintf(buf, n, "%s %s", lb->dataset_labels[(col - 2) / 2], (col - 2) % 2 ? "BPB" : "params");
    else snprintf(buf, n, "?");
}

double lilm_leaderboard_cell_value(const lilm_leaderboard *lb, size_t row, size_t col)
{
    const lilm_lb_row *r = &lb->rows[row];
    if (col == LILM_LB_COL_RANK) return (double)r->rank;
    if (col == LILM_LB_COL_MODEL || col >= lilm_leaderboard_n_cols(lb)) return NAN;
    const lilm_lb_cell *c = &r->cells[(col - 2) / 2];
    if ((col - 2) % 2) return c->bpb;
    return c->params >= 0 ? (double)c->params : NAN;
}

void lilm_leaderboard_cell_text(const lilm_leaderboard *lb, size_t row, size_t col, char *buf, size_t n)
{
    const lilm_lb_row *r = &lb->rows[row];
    if (col == LILM_LB_COL_MODEL) {
        snprintf(buf, n, "%s", r->model);
        return;
    }
    double v = lilm_leaderboard_cell_value(lb, row, col);
    if (!isfinite(v)) snprintf(buf, n, "n/a");
    else if (col == LILM_LB_COL_RANK) snprintf(buf, n, "%lld", (long long)r->rank);
    else if ((col - 2) % 2) snprintf(buf, n, "%.3f", v);
    else lilm_format_params(buf, n, (int64_t)v);
}

/* Lower-case, with ' ', '_' and ':' folded to '-'. */
static void normalize(const char *s, char *out, size_t n)
{
    size_t i = 0;
    for (; s[i] && i + 1 < n; i++) {
        char c = (char)tolower((unsigned char)s[i]);
        out[i] = (c == ' ' || c == '_' || c == ':') ? '-' : c;
    }
    out[i] = '\0';
}

lilm_status lilm_leaderboard_find_col(const lilm_leaderboard *lb, const char *name, size_t *col)
{
    char want[160], have[160], hdr[160];
    normalize(name, want, sizeof want);
    size_t nc = lilm_leaderboard_n_cols(lb);
    if (lb->n_datasets && (strcmp(want, "bpb") == 0 || strcmp(want, "params") == 0)) {
        *col = 2 + 2 * lb->primary + (want[0] == 'b');
        return LILM_OK;
    }
    for (size_t c = 0; c < nc; c++) {
        lilm_leaderboard_header(lb, c, hdr, sizeof hdr);
        normalize(hdr, have, sizeof have);
        int match = strcmp(want, have) == 0;
        if (!match && c >= 2) {   /* also the dataset's key: "tinystories-bpb" */
            snprintf(hdr, sizeof hdr, "%s-%s", lb->dataset_keys[(c - 2) / 2], (c - 2) % 2 ? "bpb" : "params");
            match = strcmp(want, hdr) == 0;
        }
        if (match) {
            *col = c;
            return LILM_OK;
        }
    }
    lilm_strbuf names;
    lilm_strbuf_init(&names);
    for (size_t c = 0; c < nc; c++) {
        lilm_leaderboard_header(lb, c, hdr, sizeof hdr);
        normalize(hdr, have, sizeof have);
        lilm_strbuf_printf(&names, "%s%s", c ? ", " : "", have);
    }
    lilm_status s = lilm_errorf(LILM_ERR_ARG, "unknown leaderboard column '%s'\nHINT: columns: %s (or bpb, params)", name,
                                names.data ? names.data : "rank, model");
    lilm_strbuf_free(&names);
    return s;
}

static int col_cmp(const lilm_lb_row *a, const lilm_lb_row *b, const lilm_leaderboard *lb, size_t col, int desc)
{
    int c;
    if (col == LILM_LB_COL_MODEL) {
        c = strcmp(a->model, b->model);
        if (desc) c = -c;
    } else {
        double va, vb;
        if (col == LILM_LB_COL_RANK) {
            va = (double)a->rank;
            vb = (double)b->rank;
        } else {
            const lilm_lb_cell *ca = &a->cells[(col - 2) / 2], *cb = &b->cells[(col - 2) / 2];
            int is_bpb = (col - 2) % 2;
            va = is_bpb ? ca->bpb : (ca->params >= 0 ? (double)ca->params : NAN);
            vb = is_bpb ? cb->bpb : (cb->params >= 0 ? (double)cb->params : NAN);
        }
        int na = !isfinite(va), nb = !isfinite(vb);
        if (na || nb) c = na - nb;   /* n/a last, whatever the direction */
        else {
            c = va < vb ? -1 : va > vb;
            if (desc) c = -c;
        }
    }
    if (c) return c;
    return a->rank < b->rank ? -1 : a->rank > b->rank;
}

void lilm_leaderboard_sort(lilm_leaderboard *lb, size_t col, int descending)
{
    if (col >= lilm_leaderboard_n_cols(lb)) return;
    sort_rows(lb, col_cmp, col, descending);
}

lilm_status lilm_leaderboard_format(const lilm_leaderboard *lb, lilm_strbuf *out)
{
    size_t nc = lilm_leaderboard_n_cols(lb);
    size_t width[2 + 2 * 64] = {0};
    if (nc > sizeof width / sizeof width[0]) nc = sizeof width / sizeof width[0];
    char cell[160];
    for (size_t c = 0; c < nc; c++) {
        lilm_leaderboard_header(lb, c, cell, sizeof cell);
        width[c] = strlen(cell);
        for (size_t r = 0; r < lb->n_rows; r++) {
            lilm_leaderboard_cell_text(lb, r, c, cell, sizeof cell);
            if (strlen(cell) > width[c]) width[c] = strlen(cell);
        }
    }
    size_t total = 0;
    for (size_t c = 0; c < nc; c++) {
        lilm_leaderboard_header(lb, c, cell, sizeof cell);
        lilm_strbuf_printf(out, c == LILM_LB_COL_MODEL ? "%-*s" : "%*s", (int)width[c], cell);
        lilm_strbuf_puts(out, c + 1 < nc ? "  " : "\n");
        total += width[c] + (c + 1 < nc ? 2 : 0);
    }
    for (size_t i = 0; i < total; i++) lilm_strbuf_puts(out, "-");
    lilm_strbuf_puts(out, "\n");
    for (size_t r = 0; r < lb->n_rows; r++)
        for (size_t c = 0; c < nc; c++) {
            lilm_leaderboard_cell_text(lb, r, c, cell, sizeof cell);
            lilm_strbuf_printf(out, c == LILM_LB_COL_MODEL ? "%-*s" : "%*s", (int)width[c], cell);
            lilm_strbuf_puts(out, c + 1 < nc ? "  " : "\n");
        }
    return lilm_strbuf_status(out);
}
