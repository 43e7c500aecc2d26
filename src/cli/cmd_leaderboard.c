/*
 * cmd_leaderboard.c: `lilm leaderboard`: the reference's leaderboard table in
 * the terminal, from runs.db.
 *
 * Rows are models (config name / model type), columns rank, model, then
 * params and BPB per dataset; each cell is the model's best finished run on
 * that dataset. --sort picks any column (--reverse flips it; n/a stays last).
 */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "track/leaderboard.h"
#include "track/runs.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: lilm leaderboard [--dataset D] [--sort COLUMN] [--reverse] [--db PATH]\n\n"
               "  --dataset D     only this dataset (e.g. babylm, simplestories)\n"
               "  --sort COLUMN   rank (default), model, bpb, params, or DATASET-bpb / DATASET-params\n"
               "                  (e.g. babylm-bpb; a header such as \"BabyLM BPB\" works too)\n"
               "  --reverse       descending order (n/a stays last)\n"
               "  --db PATH       the runs database (default: $LILM_RUNS_DB, else runs/runs.db)\n");
}

static int fail(const char *what, lilm_status s)
{
    fprintf(stderr, "lilm leaderboard: %s: %s\n", what, lilm_last_error());
    return s == LILM_ERR_ARG || s == LILM_ERR_FORMAT || s == LILM_ERR_NOT_FOUND || s == LILM_ERR_VERSION ? 2 : 1;
}

int lilm_cmd_leaderboard(int argc, char **argv)
{
    const char *db_flag = NULL, *dataset = NULL, *sort = NULL;
    int reverse = 0;
    for (int i = 1; i < argc; i++) {
        const char **want = NULL;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--reverse") == 0 || strcmp(argv[i], "-r") == 0) {
            reverse = 1;
            continue;
        } else if (strcmp(argv[i], "--db") == 0) want = &db_flag;
        else if (strcmp(argv[i], "--dataset") == 0) want = &dataset;
        else if (strcmp(argv[i], "--sort") == 0) want = &sort;
        else {
            fprintf(stderr, "lilm leaderboard: unknown argument '%s'\nHINT: lilm leaderboard --help\n", argv[i]);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "lilm leaderboard: %s needs a value\nHINT: lilm leaderboard --help\n", argv[i]);
            return 2;
        }
        *want = argv[++i];
    }
    lilm_runs_db *db = NULL;
    lilm_status s = lilm_runs_open(&db, lilm_runs_default_path(db_flag));
    if (s != LILM_OK) return fail("opening the runs db", s);
    lilm_run_list runs;
    s = lilm_runs_list(db, &runs);
    lilm_runs_close(db);
    if (s != LILM_OK) return fail("reading runs", s);
    lilm_leaderboard lb;
    s = lilm_leaderboard_build(&lb, runs.runs, runs.n, dataset);
    lilm_run_list_free(&runs);
    if (s != LILM_OK) return fail("building the leaderboard", s);
    int rc = 0;
    if (lb.n_rows == 0) {
        printf("no finished runs with a validation BPB yet\n");
    } else {
        size_t col = LILM_LB_COL_RANK;
        if (sort) s = lilm_leaderboard_find_col(&lb, sort, &col);
        if (s == LILM_OK) {
            lilm_leaderboard_sort(&lb, col, reverse);
            lilm_strbuf out;
            lilm_strbuf_init(&out);
            s = lilm_leaderboard_format(&lb, &out);
            if (s == LILM_OK) fputs(out.data, stdout);
            lilm_strbuf_free(&out);
        }
        if (s != LILM_OK) rc = fail("--sort", s);
    }
    lilm_leaderboard_free(&lb);
    return rc;
}
