/*
 * search_runner.c: how `lilm search` runs one trial.
 *
 *   1. the trial's config keys: base.set, then each parameter and derived key
 *      whose name is a config key (section.key);
 *   2. for a vocabulary parameter, the tokenizer and dataset of that size,
 *      built once (`lilm tok train`, `lilm data prepare` as children) into
 *      DIR/vocab/N/ and reused by every later trial and resumed search;
 *   3. `lilm train --config DIR/base.yaml --set ... --minutes M --out
 *      DIR/STUDY-tNNNN --db DB` as a child process, its output in
 *      DIR/STUDY-tNNNN.log (the directory name is the run's name in runs.db,
 *      so it carries the study's); while it runs, each validation line of its
 *      metrics.jsonl is reported to the study (the pruner may stop it with
 *      SIGTERM, which makes the trainer stop cleanly);
 *   4. the objective: "bpb" of its eval.json (the full held-out validation).
 * A trial rerun after a crash gets a fresh directory (STUDY-tNNNN-r1, ...).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli_common.h"
#include "cli/search_cli.h"
#include "core/config.h"
#include "core/fileio.h"
#include "core/json.h"
#include "ops/backend.h"
#include "track/study_db.h"
#include "data/recipe.h"

#define MAX_ARGS 160

static void lilm_search_expand_path(const char *in, char *out, size_t n)
{
    static const char key[] = "${LILM_SHARED}";
    const char *shared = getenv("LILM_SHARED"); /* the directory of lilm's test and benchmark data */
    if (!shared || !*shared) shared = "../shared";
    if (strncmp(in, key, sizeof key - 1) == 0) snprintf(out, n, "%s%s", shared, in + sizeof key - 1);
    else snprintf(out, n, "%s", in);
}

int lilm_search_trial_sets(const lilm_space *sp, const double *x, char (*sets)[320], int max)
{
    double d[LILM_SEARCH_MAX_DERIVED];
    if (lilm_space_derive(sp, x, d) != LILM_OK) return -1;
    int n = 0;
    for (int i = 0; i < sp->base.n_sets && n < max; i++) snprintf(sets[n++], 320, "%s", sp->base.sets[i]);
    for (int i = 0; i < sp->n_params && n < max; i++) {
        const lilm_search_param *p = &sp->params[i];
        if (!strchr(p->name, '.')) continue;
        char v[LILM_SEARCH_NAME_MAX];
        lilm_search_param_format(p, x[i], v, sizeof v);
        snprintf(sets[n++], 320, "%s=%s", p->name, v);
    }
    for (int i = 0; i < sp->n_derived && n < max; i++) {
        if (!strchr(sp->derived[i].name, '.')) continue;
        if (sp->derived[i].is_int) snprintf(sets[n++], 320, "%s=%lld", sp->derived[i].name, (long long)llround(d[i]));
        else snprintf(sets[n++], 320, "%s=%.17g", sp->derived[i].name, d[i]);
    }
    return n;
}

/* ---- child processes ---- */

/* Runs argv (argv[0] = this lilm) with stdout and stderr to log_path.
 * Returns the child's pid, or -1. */
static pid_t spawn(const lilm_search_runner *r, char *const *argv, const char *log_path)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0) return pid;
    /* the child: die with the search, write to the log */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    setpgid(0, 0);   /* Ctrl-C in the terminal reaches the search alone; it stops the child */
    int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    execv(r->exe, argv);
    _exit(127);
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The last line of a log that looks like an error, for a failed trial's reason. */
static void last_error_line(const char *log_path, char *out, size_t n)
{
    out[0] = '\0';
    char *text = NULL;
    size_t len = 0;
    if (lilm_read_file(log_path, &text, &len) != LILM_OK) return;
    char *line = text, *best = NULL;
    while (line && *line) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        /* lilm's own error lines start with "lilm CMD:"; the HINT after them is generic */
        if (strncmp(line, "lilm ", 5) == 0 || strstr(line, "rror")) best = line;
        line = nl ? nl + 1 : NULL;
    }
    if (best) snprintf(out, n, "%s", best);
    free(text);
}

static void describe_exit(int status, const char *what, const char *log_path, char *reason, size_t n)
{
    char detail[400];
    last_error_line(log_path, detail, sizeof detail);
    if (WIFSIGNALED(status))
        snprintf(reason, n, "%s killed by signal %d%s (%s)%s%s", what, WTERMSIG(status),
                 WTERMSIG(status) == SIGKILL ? ", perhaps out of memory" : "", log_path, detail[0] ? ": " : "", detail);
    else
        snprintf(reason, n, "%s exited with status %d (%s)%s%s", what, WEXITSTATUS(status), log_path,
                 detail[0] ? ": " : "", detail);
}

/* Runs a helper command to the end; 0 on success, else fills reason. A stop
 * request is passed on as SIGTERM. */
static int run_helper(const lilm_search_runner *r, char *const *argv, const char *log_path, const char *what,
                      char *reason, size_t n)
{
    pid_t pid = spawn(r, argv, log_path);
    if (pid < 0) {
        snprintf(reason, n, "cannot start %s: %s", what, strerror(errno));
        return 1;
    }
    int status = 0, signalled = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) break;
        if (w < 0 && errno != EINTR) break;
        if (*r->stop && !signalled) {
            kill(pid, SIGTERM);
            signalled = 1;
        }
        nap_ms(100);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    describe_exit(status, what, log_path, reason, n);
    return 1;
}

/* Adds the files of a path (itself, or a directory's regular files sorted). */
static int add_inputs(const char *path, char **argv, int argc, char (*store)[1024], int *n_store, int max_store)
{
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        if (*n_store == max_store || argc >= MAX_ARGS - 1) return argc;
        snprintf(store[*n_store], 1024, "%s", path);
        argv[argc++] = store[(*n_store)++];
        return argc;
    }
    struct dirent **list = NULL;
    int k = scandir(path, &list, NULL, alphasort);
    for (int i = 0; i < k; i++) {
        if (list[i]->d_name[0] != '.' && *n_store < max_store && argc < MAX_ARGS - 1) {
            snprintf(store[*n_store], 1024, "%s/%s", path, list[i]->d_name);
            if (stat(store[*n_store], &sb) == 0 && S_ISREG(sb.st_mode)) argv[argc++] = store[(*n_store)++];
        }
        free(list[i]);
    }
    free(list);
    return argc;
}

/* DIR/vocab/N/{tokenizer.model, data/}: built unless already there. */
static int ensure_vocab(const lilm_search_runner *r, int64_t vocab, char *tok, size_t ntok, char *data, size_t ndata,
                        char *reason, size_t nreason)
{
    const lilm_trial_base *b = &r->sp->base;
    char vdir[1200], meta[1300], log_path[1300];
    snprintf(vdir, sizeof vdir, "%s/vocab/%lld", r->dir, (long long)vocab);
    snprintf(tok, ntok, "%s/tokenizer.model", vdir);
    snprintf(data, ndata, "%s/data", vdir);
    snprintf(meta, sizeof meta, "%s/meta.json", data);
    if (lilm_path_exists(tok) && lilm_path_exists(meta)) return 0;
    if (lilm_mkdirs(vdir) != LILM_OK) {
        snprintf(reason, nreason, "cannot create %s: %s", vdir, lilm_last_error());
        return 1;
    }
    char store[96][1024];   /* argv text */
    int n_store = 0;
    char *argv[MAX_ARGS];
    char vs[32], sent[32], text[1024];
    if (!lilm_path_exists(tok)) {
        if (!r->quiet) fprintf(stderr, "lilm search: training the %lld-piece tokenizer into %s\n", (long long)vocab, vdir);
        int argc = 0;
        snprintf(vs, sizeof vs, "%lld", (long long)vocab);
        snprintf(sent, sizeof sent, "%lld", (long long)b->vocab_sentences);
        char *fixed[] = {(char *)r->exe, "tok", "train", "--output", tok, "--vocab-size", vs, "--model-type",
                         (char *)b->vocab_model_type, "--format", (char *)b->vocab_format, "--input-sentence-size", sent,
                         "--max-line-bytes", "2000", "--quiet"};
        for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) argv[argc++] = fixed[i];
        lilm_search_expand_path(b->vocab_text, text, sizeof text);
        argc = add_inputs(text, argv, argc, store, &n_store, 96);
        argv[argc] = NULL;
        snprintf(log_path, sizeof log_path, "%s/tok-train.log", vdir);
        if (run_helper(r, argv, log_path, "lilm tok train", reason, nreason)) return 1;
    }
    if (!r->quiet) fprintf(stderr, "lilm search: preparing the %lld-piece dataset into %s\n", (long long)vocab, data);
    int argc = 0;
    char *fixed[] = {(char *)r->exe, "data", "prepare", (char *)b->data_recipe, "--tokenizer", tok, "--out", data, "--quiet"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) argv[argc++] = fixed[i];
    if (b->data_val_rule[0]) {
        argv[argc++] = "--val-rule";
        argv[argc++] = (char *)b->data_val_rule;
    }
    for (int i = 0; i < b->n_data_val && n_store < 94; i++) {
        argv[argc++] = "--val";
        lilm_search_expand_path(b->data_val[i], store[n_store], 1024);
        argv[argc++] = store[n_store++];
    }
    for (int i = 0; i < b->n_data_inputs && n_store < 96; i++) {
        lilm_search_expand_path(b->data_inputs[i], store[n_store], 1024);
        argv[argc++] = store[n_store++];
    }
    argv[argc] = NULL;
    snprintf(log_path, sizeof log_path, "%s/prepare.log", vdir);
    return run_helper(r, argv, log_path, "lilm data prepare", reason, nreason);
}

/* ---- watching a training child ---- */

typedef struct watch {
    size_t lines_seen;     /* validation lines already reported */
    int64_t reports;
} watch;

/* Reports the validation lines of metrics.jsonl not yet seen; returns 1
 * when the pruner says stop, -1 on a storage failure, else 0. */
static int poll_metrics(const char *run_dir, watch *w, lilm_trial_monitor *mon)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/metrics.jsonl", run_dir);
    char *text = NULL;
    size_t n = 0;
    if (!lilm_path_exists(path) || lilm_read_file(path, &text, &n) != LILM_OK) return 0;
    size_t seen = 0;
    int verdict = 0;
    char *line = text;
    while (verdict == 0 && line < text + n) {
        char *nl = memchr(line, '\n', (size_t)(text + n - line));
        if (!nl) break;   /* a line still being written */
        if (strstr(line, "\"kind\": \"val\"") || strstr(line, "\"kind\":\"val\"")) {
            if (seen++ >= w->lines_seen) {
                lilm_json *j = NULL;
                double v;
                int is_full = strstr(line, "\"val_full\": true") != NULL;
                if (!is_full && lilm_json_parse(&j, line, (size_t)(nl - line), path) == LILM_OK &&
                    lilm_json_get_num(j, "val_loss", &v)) {
                    w->reports++;
                    verdict = lilm_trial_monitor_report(mon, w->reports, v);
                }
                lilm_json_free(j);
                w->lines_seen = seen;
            }
        }
        line = nl + 1;
    }
    free(text);
    return verdict;
}

static double read_bpb(const char *run_dir)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/eval.json", run_dir);
    lilm_json *j = NULL;
    double v = NAN;
    if (lilm_json_parse_file(&j, path) == LILM_OK && !lilm_json_get_num(j, "bpb", &v)) v = NAN;
    lilm_json_free(j);
    return v;
}

static void read_run_name(const char *run_dir, char *out, size_t n)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/run.json", run_dir);
    lilm_json *j = NULL;
    const char *name = NULL;
    if (lilm_json_parse_file(&j, path) == LILM_OK) name = lilm_json_get_str(j, "name");
    if (name) snprintf(out, n, "%s", name);
    else {
        const char *slash = strrchr(run_dir, '/');
        snprintf(out, n, "%s", slash ? slash + 1 : run_dir);
    }
    lilm_json_free(j);
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static lilm_status run_trial(void *user, const lilm_study *st, lilm_trial *t, lilm_trial_monitor *mon,
                             lilm_trial_result *res)
{
    lilm_search_runner *r = user;
    const lilm_space *sp = r->sp;
    char sets[LILM_SEARCH_MAX_SETS + LILM_SEARCH_MAX_PARAMS + LILM_SEARCH_MAX_DERIVED + 4][320];
    int n_sets = lilm_search_trial_sets(sp, t->x, sets, LILM_SEARCH_MAX_SETS + LILM_SEARCH_MAX_PARAMS + LILM_SEARCH_MAX_DERIVED);
    if (n_sets < 0) {
        res->state = LILM_TRIAL_FAILED;
        snprintf(res->reason, sizeof res->reason, "%s", lilm_last_error());
        return LILM_OK;
    }
    double t0 = mono_s();

    /* the vocabulary's tokenizer and dataset */
    if (sp->base.vocab_key[0]) {
        int vi = lilm_space_find(sp, sp->base.vocab_key);
        char tok[1300], data[1300];
        if (ensure_vocab(r, llround(lilm_search_param_external(&sp->params[vi], t->x[vi])), tok, sizeof tok, data, sizeof data, res->reason, sizeof res->reason)) {
            if (*r->stop) return lilm_errorf(LILM_ERR_INTERRUPTED, "stopped while preparing a vocabulary");
            res->state = LILM_TRIAL_FAILED;
            return LILM_OK;
        }
        snprintf(sets[n_sets++], 320, "data.dataset=%s", data);
        snprintf(sets[n_sets++], 320, "data.tokenizer=%s", tok);
    }

    /* a fresh run dir */
    snprintf(t->run_dir, sizeof t->run_dir, "%s/%s-t%04lld", r->dir, r->study_name, (long long)t->number);
    for (int k = 1; lilm_path_exists(t->run_dir) && k < 1000; k++)
        snprintf(t->run_dir, sizeof t->run_dir, "%s/%s-t%04lld-r%d", r->dir, r->study_name, (long long)t->number, k);
    char log_path[1100], minutes[32], threads[32];
    snprintf(log_path, sizeof log_path, "%s.log", t->run_dir);
    snprintf(minutes, sizeof minutes, "%.17g", r->minutes);
    snprintf(threads, sizeof threads, "%lld", (long long)r->threads);
    read_run_name(t->run_dir, t->run_name, sizeof t->run_name);

    char *argv[MAX_ARGS];
    int argc = 0;
    char *fixed[] = {r->exe, "train", "--config", r->base_config, "--minutes", minutes, "--out", t->run_dir,
                     "--db", (char *)r->db_path, "--quiet", "--no-samples"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) argv[argc++] = fixed[i];
    if (r->device) {
        argv[argc++] = "--device";
        argv[argc++] = (char *)r->device;
    }
    if (r->threads >= 0) {
        argv[argc++] = "--threads";
        argv[argc++] = threads;
    }
    for (int i = 0; i < n_sets && argc < MAX_ARGS - 2; i++) {
        argv[argc++] = "--set";
        argv[argc++] = sets[i];
    }
    argv[argc] = NULL;
    /* the trial's run dir is known now: store it before training starts */
    if (lilm_trial_monitor_save(mon) != LILM_OK) return lilm_error_context(LILM_ERR_IO, "storing trial %lld: ", (long long)t->number);

    pid_t pid = spawn(r, argv, log_path);
    if (pid < 0) return lilm_errorf(LILM_ERR_IO, "cannot start lilm train: %s", strerror(errno));
    watch w = {0, 0};
    int status = 0, pruned = 0, stopped = 0, save_failed = 0;
    for (;;) {
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid) break;
        if (got < 0 && errno != EINTR) break;
        if (!pruned && !stopped) {
            int v = poll_metrics(t->run_dir, &w, mon);
            if (v == 1) {
                pruned = 1;
                kill(pid, SIGTERM);
            } else if (v < 0) {
                save_failed = 1;
                stopped = 1;
                kill(pid, SIGTERM);
            }
        }
        if (*r->stop && !stopped) {
            stopped = 1;
            kill(pid, SIGTERM);
        }
        nap_ms(250);
    }
    t->elapsed_s = mono_s() - t0;
    read_run_name(t->run_dir, t->run_name, sizeof t->run_name);
    if (save_failed) return lilm_errorf(LILM_ERR_IO, "storing trial %lld's reports failed", (long long)t->number);
    if (stopped || *r->stop) return lilm_errorf(LILM_ERR_INTERRUPTED, "stopped during trial %lld", (long long)t->number);
    if (pruned) {
        res->state = LILM_TRIAL_PRUNED;
        snprintf(res->reason, sizeof res->reason, "pruned after %lld validations", (long long)w.reports);
        return LILM_OK;
    }
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        res->state = LILM_TRIAL_FAILED;
        describe_exit(status, "lilm train", log_path, res->reason, sizeof res->reason);
        return LILM_OK;
    }
    poll_metrics(t->run_dir, &w, mon);
    res->value = read_bpb(t->run_dir);
    res->state = isfinite(res->value) ? LILM_TRIAL_COMPLETE : LILM_TRIAL_FAILED;
    if (!isfinite(res->value)) snprintf(res->reason, sizeof res->reason, "no finite bpb in %s/eval.json", t->run_dir);
    (void)st;
    return LILM_OK;
}

/* ---- storage and progress callbacks ---- */

static lilm_status save_trial(void *user, const lilm_study *st, const lilm_trial *t)
{
    lilm_search_runner *r = user;
    (void)st;
    return r->db ? lilm_study_db_save_trial(r->db, r->study_id, r->sp, t) : LILM_OK;
}

static void after_trial(void *user, const lilm_study *st, const lilm_trial *t)
{
    lilm_search_runner *r = user;
    if (r->quiet) return;
    int64_t best = lilm_study_best(st);
    fprintf(stderr, "lilm search: trial %lld %s", (long long)t->number, lilm_trial_state_name(t->state));
    if (isfinite(t->value)) fprintf(stderr, " %.4f", t->value);
    if (t->reason[0]) fprintf(stderr, " (%s)", t->reason);
    if (best >= 0) fprintf(stderr, "; best %.4f (trial %lld)", st->trials[best].value, (long long)st->trials[best].number);
    fprintf(stderr, "; %zu of %lld finished\n", lilm_study_finished(st), (long long)r->sp->study.trials);
}

lilm_study_io lilm_search_runner_io(lilm_search_runner *r)
{
    lilm_study_io io = {r, save_trial, run_trial, after_trial};
    return io;
}

int lilm_search_runner_init(lilm_search_runner *r, const char *device)
{
    ssize_t n = readlink("/proc/self/exe", r->exe, sizeof r->exe - 1);
    if (n <= 0) {
        fprintf(stderr, "lilm search: cannot find this program's path (/proc/self/exe): %s\n", strerror(errno));
        return 1;
    }
    r->exe[n] = '\0';
    lilm_status s = lilm_mkdirs(r->dir);
    if (s != LILM_OK) return lilm_cli_fail("search", s);
    const lilm_trial_base *b = &r->sp->base;
    if (b->config[0]) {
        lilm_search_expand_path(b->config, r->base_config, sizeof r->base_config);
        if (!lilm_path_exists(r->base_config)) {
            fprintf(stderr, "lilm search: %s: base.config %s does not exist\n", r->space_label, r->base_config);
            return 2;
        }
        return 0;
    }
    const char *name = b->recipe[0] ? b->recipe : "tiny";
    lilm_recipe rec;
    if (lilm_recipe_load(&rec, name) != LILM_OK) {
        fprintf(stderr, "lilm search: %s: base.recipe: %s\n", r->space_label, lilm_last_error());
        return 2;
    }
    /* the recipe's CPU overrides apply when the trials will run on the CPU */
    int on_cpu = 1;
    lilm_device_choice dc;
    if (lilm_device_choice_parse(device ? device : "auto", &dc) != LILM_OK) {
        fprintf(stderr, "lilm search: --device: expected auto, cpu or cuda, got '%s'\n", device);
        return 2;
    }
    lilm_backend *be = NULL;
    if (dc != LILM_DEVICE_CHOICE_CPU && lilm_backend_create(&be, dc, 1) == LILM_OK) {
        on_cpu = be->device == LILM_DEVICE_CPU;
        lilm_backend_free(be);
    }
    lilm_config cfg;
    s = lilm_recipe_config(&rec, on_cpu, &cfg);
    lilm_recipe_free(&rec);
    snprintf(r->base_config, sizeof r->base_config, "%s/base.yaml", r->dir);
    if (s == LILM_OK) s = lilm_config_save(&cfg, r->base_config);
    if (s != LILM_OK) return lilm_cli_fail("search", s);
    if (!b->vocab_key[0] && cfg.data.dataset[0] && !lilm_path_exists(cfg.data.dataset)) {
        fprintf(stderr, "lilm search: the %s recipe's dataset %s is not prepared\nHINT: prepare it once with `lilm run %s --minutes 0.1`,"
                        " or search the vocabulary (a vocab: section)\n", name, cfg.data.dataset, name);
        return 2;
    }
    return 0;
}
