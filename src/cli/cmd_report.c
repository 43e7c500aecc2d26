/*
 * cmd_report.c: `lilm report`: the static HTML report of runs.db.
 *
 * Writes OUT/index.html (leaderboard, all runs, sweep plots) and one page per
 * run under OUT/runs/, self-contained (inline CSS, JS and SVG). Runs that
 * cannot be fully read are listed on stderr and still get a page; the exit
 * status is 0 then, since the report was written.
 */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "track/report.h"
#include "track/runs.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: lilm report [-o DIR] [--db PATH]\n\n"
               "  -o, --out DIR   where to write the site (default: report); open DIR/index.html\n"
               "  --db PATH       the runs database (default: $LILM_RUNS_DB, else runs/runs.db)\n");
}

static int fail(const char *what, lilm_status s)
{
    fprintf(stderr, "lilm report: %s: %s\n", what, lilm_last_error());
    return s == LILM_ERR_ARG || s == LILM_ERR_FORMAT || s == LILM_ERR_NOT_FOUND || s == LILM_ERR_VERSION ? 2 : 1;
}

int lilm_cmd_report(int argc, char **argv)
{
    const char *db_flag = NULL, *out = "report";
    for (int i = 1; i < argc; i++) {
        const char **want = NULL;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--db") == 0) want = &db_flag;
        else if (strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--out") == 0) want = &out;
        else {
            fprintf(stderr, "lilm report: unknown argument '%s'\nHINT: lilm report --help\n", argv[i]);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "lilm report: %s needs a value\nHINT: lilm report --help\n", argv[i]);
            return 2;
        }
        *want = argv[++i];
    }
    const char *path = lilm_runs_default_path(db_flag);
    lilm_runs_db *db = NULL;
    lilm_status s = lilm_runs_open(&db, path);
    if (s != LILM_OK) return fail("opening the runs db", s);
    lilm_report_stats st;
    lilm_strbuf problems;
    lilm_strbuf_init(&problems);
    s = lilm_report_write(db, out, &st, &problems);
    lilm_runs_close(db);
    if (problems.len) fprintf(stderr, "lilm report: some runs have problems (their pages say more):\n%s", problems.data);
    lilm_strbuf_free(&problems);
    if (s != LILM_OK) return fail("writing the report", s);
    printf("wrote %s/index.html (%zu runs, %zu run pages)\n", out, st.n_runs, st.n_pages);
    return 0;
}
