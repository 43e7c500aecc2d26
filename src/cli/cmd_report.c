/*
 * cmd_report.c: `lilm report`: the static HTML report of runs.db.
 *
 * Writes OUT/index.html (leaderboard, all runs, sweep plots) and one page per
 * run under OUT/runs/, self-contained (inline CSS, JS and SVG). Runs that
 * cannot be fully read are listed on stderr and still get a page; the exit
 * status is 0 then, since the report was written. --sync first re-reads every
 * run dir that still exists (so a run in progress shows its latest curves).
 */
#include <stddef.h>
#include <stdio.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/opts.h"
#include "core/fileio.h"
#include "track/report.h"
#include "track/runs.h"

struct report_args {
    const char *out;
    int sync;
    const char *db;
};

static const lilm_opt opts[] = {
    {"out", 'o', LILM_OPT_STRING, offsetof(struct report_args, out), "report", 0, 0,
     "where to write the site; open OUT/index.html"},
    {"sync", 0, LILM_OPT_BOOL, offsetof(struct report_args, sync), "false", 0, 0,
     "first re-read every run dir that still exists (latest metrics of live runs)"},
    {"db", 0, LILM_OPT_STRING, offsetof(struct report_args, db), NULL, 0, 0,
     "runs database (default: $LILM_RUNS_DB, else runs/runs.db)"},
};
static const lilm_opt_spec spec = LILM_OPT_SPEC(
    "report", "write the static HTML report of all runs (leaderboard, curves, sweeps)", opts,
    "examples:\n"
    "  lilm report -o report && xdg-open report/index.html\n"
    "  lilm report --sync --db runs/runs.db -o /srv/www/lilm\n");

/* Re-reads the run dir of every run that still has one; problems are
 * reported and skipped (the stored row stays as it was). */
static void sync_all(lilm_runs_db *db)
{
    lilm_run_list runs;
    if (lilm_runs_list(db, &runs) != LILM_OK) return;   /* the report itself will say why */
    for (size_t i = 0; i < runs.n; i++) {
        char rj[1100];
        snprintf(rj, sizeof rj, "%s/run.json", runs.runs[i].run_dir);
        if (!runs.runs[i].run_dir[0] || !lilm_path_exists(rj)) continue;
        if (lilm_runs_sync_dir(db, runs.runs[i].run_dir, NULL) != LILM_OK)
            fprintf(stderr, "lilm report: --sync: kept the stored %s: %s\n", runs.runs[i].name, lilm_last_error());
    }
    lilm_run_list_free(&runs);
}

int lilm_cmd_report(int argc, char **argv)
{
    struct report_args a;
    int rc = lilm_opts_parse_cli(&spec, argc, argv, &a);
    if (rc >= 0) return rc;
    lilm_runs_db *db = NULL;
    lilm_status s = lilm_runs_open_existing(&db, lilm_runs_default_path(a.db));
    if (s != LILM_OK) return lilm_cli_fail("report", s);
    if (a.sync) sync_all(db);
    lilm_report_stats st;
    lilm_strbuf problems;
    lilm_strbuf_init(&problems);
    s = lilm_report_write(db, a.out, &st, &problems);
    lilm_runs_close(db);
    if (problems.len) fprintf(stderr, "lilm report: some runs have problems (their pages say more):\n%s", problems.data);
    lilm_strbuf_free(&problems);
    if (s != LILM_OK) return lilm_cli_fail("report", s);
    printf("wrote %s/index.html (%zu runs, %zu run pages)\n", a.out, st.n_runs, st.n_pages);
    return 0;
}
