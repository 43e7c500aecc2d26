/*
 * cmd_runs.c: `lilm runs`: list, show, import, delete runs in runs.db.
 *
 *   lilm runs [list]                 one line per run
 *   lilm runs show NAME              everything stored about one run
 *   lilm runs import DIR...          (re)register run dirs (reads run.json etc.)
 *   lilm runs status NAME STATUS     set running|done|failed|killed
 *   lilm runs delete NAME...         forget runs (their dirs are left alone)
 * --db PATH picks the database (default $LILM_RUNS_DB, else runs/runs.db).
 * Exit: 0 ok, 1 runtime failure (locked db, I/O), 2 bad usage or bad input.
 *
 * The shared parser (cli/opts.h) reads --db and gathers the action word and
 * its names or run dirs as one ARGS row (`import` of a whole runs folder may
 * name hundreds); the action's own argument count is checked here.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/opts.h"
#include "track/leaderboard.h"
#include "track/runs.h"

typedef struct runs_args {
    const char *db;
    lilm_opt_args words; /* the action, then its arguments */
} runs_args;

static const lilm_opt k_opts[] = {
    {"action", 0, LILM_OPT_ARGS, offsetof(runs_args, words), NULL, 0, 0,
     "list (the default), show NAME, import DIR..., status NAME STATUS or delete NAME..."},
    {"db", 0, LILM_OPT_STRING, offsetof(runs_args, db), NULL, 0, 0,
     "the runs database (default: $LILM_RUNS_DB, else runs/runs.db)"},
};
static const lilm_opt_spec k_spec = LILM_OPT_SPEC(
    "runs", "list, show, import, set the status of, or delete runs in runs.db", k_opts,
    "actions:\n"
    "  list                 every run: name, status, model, dataset, params, steps, BPB, start time\n"
    "  show NAME            everything runs.db holds about one run\n"
    "  import DIR...        register or refresh runs from their run dirs (run.json, metrics.jsonl, ...)\n"
    "  status NAME STATUS   set a run's status: running, done, failed or killed\n"
    "  delete NAME...       remove runs from the db (their run dirs are not touched)");

static void print_list(const lilm_run_list *l)
{
    if (!l->n) {
        printf("no runs yet (train one with `lilm train`, or `lilm runs import DIR`)\n");
        return;
    }
    int wn = 4, wm = 5, wd = 7;
    for (size_t i = 0; i < l->n; i++) {
        const lilm_run *r = &l->runs[i];
        char key[64], label[64];
        lilm_leaderboard_dataset_name(r->dataset, key, label);
        if ((int)strlen(r->name) > wn) wn = (int)strlen(r->name);
        if ((int)strlen(r->model) > wm) wm = (int)strlen(r->model);
        if ((int)strlen(label) > wd) wd = (int)strlen(label);
    }
    printf("%-*s  %-7s  %-*s  %-*s  %7s  %8s  %7s  %s\n", wn, "name", "status", wm, "model", wd, "dataset", "params", "steps",
           "BPB", "started");
    for (size_t i = 0; i < l->n; i++) {
        const lilm_run *r = &l->runs[i];
        char key[64], label[64], params[32], steps[32], bpb[32];
        lilm_leaderboard_dataset_name(r->dataset, key, label);
        lilm_format_params(params, sizeof params, r->params);
        if (r->steps >= 0) snprintf(steps, sizeof steps, "%lld", (long long)r->steps);
        else snprintf(steps, sizeof steps, "n/a");
        if (isfinite(r->val_bpb)) snprintf(bpb, sizeof bpb, "%.4f", r->val_bpb);
        else snprintf(bpb, sizeof bpb, "n/a");
        printf("%-*s  %-7s  %-*s  %-*s  %7s  %8s  %7s  %s%s\n", wn, r->name, lilm_run_status_name(r->status), wm,
               r->model[0] ? r->model : "n/a", wd, r->dataset[0] ? label : "n/a", params, steps, bpb,
               r->started_at[0] ? r->started_at : "n/a", r->warnings ? "  (warnings)" : "");
    }
}

static void show_line(const char *k, const char *v) { printf("%-16s %s\n", k, v && *v ? v : "n/a"); }

static void show_num(const char *k, double v, const char *fmt)
{
    char s[64] = "";
    if (isfinite(v)) snprintf(s, sizeof s, fmt, v);
    show_line(k, s);
}

static void show_int(const char *k, int64_t v)
{
    char s[64] = "";
    if (v >= 0) snprintf(s, sizeof s, "%lld", (long long)v);
    show_line(k, s);
}

static void print_record(const lilm_run_record *rec)
{
    const lilm_run *r = &rec->run;
    show_line("name", r->name);
    show_line("status", lilm_run_status_name(r->status));
    show_line("run dir", r->run_dir);
    show_line("model", r->model);
    show_line("model type", r->model_type);
    show_int("params", r->params);
    show_int("layers", r->n_layers);
    show_int("d_model", r->d_model);
    show_int("vocab size", r->vocab_size);
    show_line("dataset", r->dataset);
    show_line("tokenizer", r->tokenizer);
    show_line("device", r->device);
    show_num("budget minutes", r->budget_minutes, "%.1f");
    show_num("elapsed s", r->elapsed_s, "%.1f");
    show_int("steps", r->steps);
    show_int("tokens", r->tokens);
    show_num("val loss", r->val_loss, "%.4f");
    show_num("val BPB", r->val_bpb, "%.4f");
    show_line("started", r->started_at);
    show_line("finished", r->finished_at);
    show_line("git commit", r->git_commit);
    show_line("lilm version", r->lilm_version);
    show_line("config sha256", r->config_sha256);
    size_t nt = 0, nv = 0, nf = 0, nlr = 0, nd = 0;
    for (size_t i = 0; i < rec->n_metrics; i++) {
        int k = rec->metrics[i].kind;
        k == LILM_METRIC_VAL ? nv++ : k == LILM_METRIC_VAL_FULL ? nf++ : nt++;
    }
    for (size_t i = 0; i < rec->n_sweeps; i++) rec->sweeps[i].kind == LILM_SWEEP_LR ? nlr++ : nd++;
    printf("%-16s %zu train, %zu validation, %zu full validation\n", "metric points", nt, nv, nf);
    printf("%-16s %zu learning rates, %zu depths\n", "autosize probes", nlr, nd);
    printf("%-16s %s\n", "samples", r->samples ? "yes" : "no");
    printf("%-16s %s\n", "eval", r->eval_json ? "yes" : "no");
    if (r->warnings) printf("\nwarnings from the run dir:\n%s", r->warnings);
}

int lilm_cmd_runs(int argc, char **argv)
{
    runs_args a;
    int rc = lilm_opts_parse_cli(&k_spec, argc, argv, &a);
    if (rc >= 0) return rc;
    const char *db_flag = a.db;
    const char **args = a.words.items;
    int nargs = (int)a.words.n;
    const char *verb = nargs ? args[0] : "list";
    int need_min = 0, need_max = 0;
    if (strcmp(verb, "list") == 0) need_min = need_max = 0;
    else if (strcmp(verb, "show") == 0) need_min = need_max = 1;
    else if (strcmp(verb, "status") == 0) need_min = need_max = 2;
    else if (strcmp(verb, "import") == 0 || strcmp(verb, "delete") == 0) need_min = 1, need_max = 1 << 30;
    else {
        fprintf(stderr, "lilm runs: unknown action '%s'\nHINT: actions: list, show, import, status, delete (lilm runs --help)\n", verb);
        return 2;
    }
    int nrest = nargs ? nargs - 1 : 0;
    if (nrest < need_min || nrest > need_max) {
        fprintf(stderr, "lilm runs %s: wrong number of arguments\n", verb);
        lilm_opts_print_help(&k_spec, stderr);
        return 2;
    }
    const char **rest = args + 1;
    lilm_run_status new_status = LILM_RUN_RUNNING;
    if (strcmp(verb, "status") == 0) {
        lilm_status s = lilm_run_status_parse(rest[1], &new_status);
        if (s != LILM_OK) return lilm_cli_fail("runs", s);
    }

    const char *path = lilm_runs_default_path(db_flag);
    lilm_runs_db *db = NULL;
    /* only import creates the db; the other actions need one that exists */
    lilm_status s = strcmp(verb, "import") == 0 ? lilm_runs_open(&db, path) : lilm_runs_open_existing(&db, path);
    if (s != LILM_OK) return lilm_cli_fail("runs", s);
    rc = 0;
    if (strcmp(verb, "list") == 0) {
        lilm_run_list l;
        s = lilm_runs_list(db, &l);
        if (s == LILM_OK) {
            print_list(&l);
            lilm_run_list_free(&l);
        } else rc = lilm_cli_fail("runs", s);
    } else if (strcmp(verb, "show") == 0) {
        lilm_run_record rec;
        s = lilm_runs_get(db, rest[0], &rec);
        if (s == LILM_OK) {
            print_record(&rec);
            lilm_run_record_free(&rec);
        } else rc = lilm_cli_fail("runs", s);
    } else if (strcmp(verb, "status") == 0) {
        s = lilm_runs_set_status(db, rest[0], new_status);
        if (s == LILM_OK) printf("%s: %s\n", rest[0], lilm_run_status_name(new_status));
        else rc = lilm_cli_fail("runs", s);
    } else if (strcmp(verb, "delete") == 0) {
        for (int i = 0; i < nrest; i++) {
            s = lilm_runs_delete(db, rest[i]);
            if (s == LILM_OK) printf("deleted %s\n", rest[i]);
            else {
                int r = lilm_cli_fail("runs", s);
                if (r > rc) rc = r;
            }
        }
    } else {   /* import: every dir, even after a failure; the exit status reports the worst */
        size_t ok = 0;
        for (int i = 0; i < nrest; i++) {
            char *warnings = NULL;
            s = lilm_runs_sync_dir(db, rest[i], &warnings);
            if (s == LILM_OK) {
                ok++;
                printf("imported %s\n", rest[i]);
                if (warnings) fprintf(stderr, "lilm runs import: warnings for %s:\n%s", rest[i], warnings);
                free(warnings);
            } else {
                fprintf(stderr, "lilm runs import: skipped %s: %s\n", rest[i], lilm_last_error());
                int r = s == LILM_ERR_IO || s == LILM_ERR_OOM ? 1 : 2;
                if (r > rc) rc = r;
            }
        }
        printf("%zu of %d run dirs imported into %s\n", ok, nrest, path);
    }
    lilm_runs_close(db);
    return rc;
}
