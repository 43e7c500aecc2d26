/*
 * cmd_leaderboard.c: `lilm leaderboard`: the reference's leaderboard table in
 * the terminal, from runs.db.
 *
 * Rows are models (config name / model type), columns rank, model, then
 * params and BPB per dataset; each cell is the model's best finished run on
 * that dataset. --sort picks any column (--reverse flips it; n/a stays last).
 */
#include <stddef.h>
#include <stdio.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/opts.h"
#include "track/leaderboard.h"
#include "track/runs.h"

struct leaderboard_args {
    const char *dataset;
    const char *sort;
    int reverse;
    const char *db;
};

static const lilm_opt opts[] = {
    {"dataset", 0, LILM_OPT_STRING, offsetof(struct leaderboard_args, dataset), NULL, 0, 0,
     "only this dataset (e.g. babylm, simplestories)"},
    {"sort", 's', LILM_OPT_STRING, offsetof(struct leaderboard_args, sort), "rank", 0, 0,
     "column: rank, model, bpb, params (primary dataset), DATASET-bpb, DATASET-params (e.g. babylm-bpb)"},
    {"reverse", 'r', LILM_OPT_BOOL, offsetof(struct leaderboard_args, reverse), "false", 0, 0,
     "descending order (n/a stays last)"},
    {"db", 0, LILM_OPT_STRING, offsetof(struct leaderboard_args, db), NULL, 0, 0,
     "runs database (default: $LILM_RUNS_DB, else runs/runs.db)"},
};
static const lilm_opt_spec spec = LILM_OPT_SPEC(
    "leaderboard", "the leaderboard of runs, in the terminal: best BPB per model and dataset", opts,
    "examples:\n"
    "  lilm leaderboard\n"
    "  lilm leaderboard --sort simplestories-bpb\n"
    "  lilm leaderboard --dataset babylm --sort params --reverse\n");

int lilm_cmd_leaderboard(int argc, char **argv)
{
    struct leaderboard_args a;
    int rc = lilm_opts_parse_cli(&spec, argc, argv, &a);
    if (rc >= 0) return rc;
    lilm_runs_db *db = NULL;
    lilm_status s = lilm_runs_open_existing(&db, lilm_runs_default_path(a.db));
    if (s != LILM_OK) return lilm_cli_fail("leaderboard", s);
    lilm_run_list runs;
    s = lilm_runs_list(db, &runs);
    lilm_runs_close(db);
    if (s != LILM_OK) return lilm_cli_fail("leaderboard", s);
    lilm_leaderboard lb;
    s = lilm_leaderboard_build(&lb, runs.runs, runs.n, a.dataset);
    lilm_run_list_free(&runs);
    if (s != LILM_OK) return lilm_cli_fail("leaderboard", s);
    rc = 0;
    if (lb.n_rows == 0) {
        printf("no finished runs with a validation BPB yet\n");
    } else {
        size_t col = LILM_LB_COL_RANK;
        s = lilm_leaderboard_find_col(&lb, a.sort, &col);
        if (s == LILM_OK) {
            lilm_leaderboard_sort(&lb, col, a.reverse);
            lilm_strbuf out;
            lilm_strbuf_init(&out);
            s = lilm_leaderboard_format(&lb, &out);
            if (s == LILM_OK) fputs(out.data, stdout);
            lilm_strbuf_free(&out);
        }
        if (s != LILM_OK) rc = lilm_cli_fail("leaderboard", s);
    }
    lilm_leaderboard_free(&lb);
    return rc;
}
