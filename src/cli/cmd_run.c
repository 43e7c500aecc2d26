/*
 * cmd_run.c: `lilm run RECIPE`: the whole job in one command, from nothing.
 *
 *   1. data: the recipe's dataset fetched from the Hugging Face hub into the
 *      cache (data/cache.h), the text shipped inside lilm (tiny), or the
 *      files --data names;
 *   2. tokenizer: --tokenizer, the bytes one, or a unigram model trained on
 *      the train split with the reference's settings (nmt_nfkc_cf, byte
 *      fallback, character coverage 1.0, unk 0 / bos 1 / eos 2 / pad 3);
 *   3. prepare: tokenised shards in the cache (src/data/prepare.h);
 *   4. autosize: depth, micro-batch and learning rate for the budget;
 *   5. train for the budget (final full validation inside it); the trainer
 *      writes eval.json and samples.txt and registers the run in runs.db;
 *   6. report: the run re-read into runs.db (samples included) and the HTML
 *      report written beside the db.
 * Every step but training is cached: the same inputs and options find the
 * step's output in the cache and skip it (a fetched dataset is not listed
 * again, so a second run needs no network). The recipes are the files in
 * recipes/ (src/data/recipe.h), or a recipe file's path. Options after the
 * recipe adjust it: --minutes or --total-minutes, --data, --tokenizer,
 * --set KEY=VALUE, --no-autosize, the autosize knobs.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/autosize_cli.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "core/fileio.h"
#include "core/progress.h"
#include "data/cache.h"
#include "data/fetch.h"
#include "data/prepare.h"
#include "data/recipe.h"
#include "data/tiny_stories.h"
#include "track/rundir.h"
#include "ops/backend.h"
#include "tok/tokenizer.h"
#include "tok/trainer.h"
#include "track/report.h"
#include "track/runs.h"
#include "train/trainer.h"

#define CACHE_VERSION "1"

typedef struct run_args {
    const char *recipe;
    double minutes, total_minutes;
    lilm_opt_list set, data, val;
    const char *tokenizer;
    const char *val_rule;
    const char *out;
    const char *device;
    int64_t threads;
    const char *db;
    int no_autosize;
    int quiet;
    int list;
    lilm_cli_autosize_args as;
} run_args;

static const lilm_opt opts[] = {
    {"recipe", 0, LILM_OPT_STRING | LILM_OPT_POSITIONAL, offsetof(run_args, recipe), NULL, 0, 0,
     "babylm | simplestories | tinystories | tiny (lilm run --list)"},
    {"minutes", 'm', LILM_OPT_FLOAT, offsetof(run_args, minutes), "0", 0, 1e6,
     "training budget in minutes (0: the recipe's: 30, tiny 0.5)"},
    {"total-minutes", 0, LILM_OPT_FLOAT, offsetof(run_args, total_minutes), "0", 0, 1e6,
     "fit autosize and training together into this many minutes (sets --minutes; see the plan it prints)"},
    {"data", 0, LILM_OPT_LIST, offsetof(run_args, data), NULL, 0, 0,
     "local files or directories of txt/jsonl/parquet instead of the hub's copy"},
    {"val", 0, LILM_OPT_LIST, offsetof(run_args, val), NULL, 0, 0,
     "validation files or directories (replace the recipe's split rule)"},
    {"val-rule", 0, LILM_OPT_STRING, offsetof(run_args, val_rule), NULL, 0, 0,
     "rows held out for validation, \"index%M<K\" (default: the recipe's)"},
    {"tokenizer", 0, LILM_OPT_STRING, offsetof(run_args, tokenizer), NULL, 0, 0,
     "a SentencePiece .model to use instead of training one (or bytes)"},
    {"set", 's', LILM_OPT_LIST, offsetof(run_args, set), NULL, 0, 0, "override a config key, e.g. --set model.d_model=128"},
    {"out", 'o', LILM_OPT_STRING, offsetof(run_args, out), NULL, 0, 0, "run directory (default: runs/RECIPE-<UTC time>)"},
    {"device", 'd', LILM_OPT_STRING, offsetof(run_args, device), NULL, 0, 0, "auto | cpu | cuda (default: auto)"},
    {"threads", 't', LILM_OPT_INT, offsetof(run_args, threads), "-1", -1, 4096, "CPU threads (0: all; -1: the recipe's)"},
    {"db", 0, LILM_OPT_STRING, offsetof(run_args, db), NULL, 0, 0,
     "runs database (default: runs/runs.db, or $LILM_RUNS_DB; \"none\" to skip)"},
    {"no-autosize", 0, LILM_OPT_BOOL, offsetof(run_args, no_autosize), "false", 0, 0,
     "train the recipe's config as is"},
    {"quiet", 'q', LILM_OPT_BOOL, offsetof(run_args, quiet), "false", 0, 0, "no live progress line"},
    {"list", 0, LILM_OPT_BOOL, offsetof(run_args, list), "false", 0, 0, "list the recipes"},
    LILM_CLI_AUTOSIZE_OPTS(run_args, as),
};

static void print_recipes(FILE *f)
{
    fprintf(f, "\nrecipes (recipes/NAME.yaml, built in; or a recipe file: lilm run ./my-recipe.yaml):\n");
    for (size_t i = 0; i < lilm_recipe_builtin_count(); i++) {
        lilm_recipe r;
        if (lilm_recipe_load(&r, lilm_recipe_builtin_name(i)) != LILM_OK) {
            fprintf(f, "  %-14s (broken: %s)\n", lilm_recipe_builtin_name(i), lilm_last_error());
            continue;
        }
        if (r.config_yaml) fprintf(f, "  %-14s %s\n", r.name, r.summary);
        lilm_recipe_free(&r);
    }
}

static const lilm_opt_spec spec = LILM_OPT_SPEC_EXTRA(
    "run", "fetch, tokenizer, prepare, autosize, train, evaluate and sample: one budgeted run end to end", opts,
    "examples:\n"
    "  lilm run babylm --minutes 30\n"
    "  lilm run tiny --minutes 0.5\n"
    "  lilm run babylm --data ~/babylm/train --tokenizer baby_unigram_12K.model --minutes 10\n"
    "Datasets and tokenizers are kept in $LILM_HOME (default ~/.cache/lilm); HF_ENDPOINT and HF_TOKEN are honoured.\n",
    print_recipes);

/* What each step took, and whether it came from the cache. */
typedef struct stage_log {
    const char *name[8];
    double seconds[8];
    const char *how[8];
    int n;
} stage_log;

static void stage_done(stage_log *L, const char *name, double t0, const char *how)
{
    if (L->n >= 8) return;
    L->name[L->n] = name;
    L->seconds[L->n] = lilm_progress_clock() - t0;
    L->how[L->n] = how;
    L->n++;
    fprintf(stderr, "lilm run: %s: %s (%.1f s)\n", name, how, L->seconds[L->n - 1]);
}

/* Everything a run needs to know about its inputs. */
typedef struct run_data {
    const char *inputs[64];
    size_t n_inputs;
    char fetched[1100];            /* the hub copy in the cache */
    char text[1100];               /* the shipped text (tiny) */
    char tokenizer[1100];
    char dataset[1100];
} run_data;

static void no_data_hint(const lilm_recipe *r)
{
    fprintf(stderr, "HINT: two ways out: pass the data you have with --data PATH... (files or directories of "
                    "txt/jsonl/parquet%s), or run once where %s is reachable (HF_ENDPOINT may name a mirror); the "
                    "download is kept in the cache and later runs need no network\n",
            r->hf_repo[0] ? ", e.g. a copy of the dataset's Parquet files" : "",
            r->hf_repo[0] ? "the Hugging Face hub" : "a copy of the data");
}

/* 1. data */
static int stage_data(const lilm_recipe *r, const run_args *a, volatile sig_atomic_t *stop, run_data *d,
                      stage_log *L)
{
    double t0 = lilm_progress_clock();
    if (a->data.n > 0) {
        if ((size_t)a->data.n > sizeof d->inputs / sizeof d->inputs[0]) {
            fprintf(stderr, "lilm run: --data: at most %zu paths (name their directory instead)\n",
                    sizeof d->inputs / sizeof d->inputs[0]);
            return 2;
        }
        for (int64_t i = 0; i < a->data.n; i++) {
            if (!lilm_path_exists(a->data.items[i])) {
                fprintf(stderr, "lilm run: --data: %s does not exist\n", a->data.items[i]);
                return 2;
            }
            d->inputs[d->n_inputs++] = a->data.items[i];
        }
        stage_done(L, "data", t0, "given with --data");
        return 0;
    }
    lilm_status st;
    if (r->shipped_text) {
        if ((st = lilm_cache_path(d->text, sizeof d->text, "datasets/tiny/stories.txt")) != LILM_OK ||
            (st = lilm_tiny_stories_write(d->text)) != LILM_OK)
            return lilm_cli_fail("run", st);
        stage_done(L, "data", t0, "the stories shipped inside lilm");
        return 0;
    }
    if (!r->hf_repo[0]) {
        fprintf(stderr, "lilm run: %s: this recipe has no copy on the hub: pass its files with --data PATH...\n",
                r->name);
        return 2;
    }
    char sub[600], stamp[1200];
    snprintf(sub, sizeof sub, "datasets/hf/%s", r->hf_repo);
    if ((st = lilm_cache_path(d->fetched, sizeof d->fetched, sub)) != LILM_OK) return lilm_cli_fail("run", st);
    snprintf(stamp, sizeof stamp, "%s/.lilm-fetched", d->fetched);
    d->inputs[d->n_inputs++] = d->fetched;
    char key[700];
    snprintf(key, sizeof key, "lilm-fetch v" CACHE_VERSION "|%s\n", r->hf_repo);
    if (lilm_cache_stamp_ok(stamp, key)) {
        stage_done(L, "data", t0, "cached");
        return 0;
    }
    fprintf(stderr, "lilm run: fetching %s from the hub into %s\n", r->hf_repo, d->fetched);
    lilm_fetch_opts fo = {0};
    fo.repo = r->hf_repo;
    fo.dest = d->fetched;
    fo.quiet = a->quiet;
    fo.stop = stop;
    lilm_fetch_report fr;
    st = lilm_data_fetch(&fo, &fr);
    if (st == LILM_ERR_NOT_FOUND && strstr(lilm_last_error(), "has no files ending")) {
        /* stored in another format: the hub's own Parquet conversion has the same rows */
        lilm_clear_error();
        fo.revision = "refs/convert/parquet";
        st = lilm_data_fetch(&fo, &fr);
    }
    if (st == LILM_ERR_NETWORK) { /* fetch's own hint is about fetch; the run's ways out replace it */
        const char *msg = lilm_last_error(), *hint = strstr(msg, "\nHINT");
        fprintf(stderr, "lilm run: %s: %.*s\n", lilm_status_str(st), hint ? (int)(hint - msg) : (int)strlen(msg), msg);
        no_data_hint(r);
        return 1;
    }
    if (st != LILM_OK) {
        int rc = lilm_cli_fail("run", st);
        return st == LILM_ERR_INTERRUPTED ? 1 : rc;
    }
    if ((st = lilm_cache_stamp_write(stamp, key)) != LILM_OK) return lilm_cli_fail("run", st);
    stage_done(L, "data", t0, fr.n_downloaded ? "fetched" : "verified");
    return 0;
}

static void prepare_opts_for(const lilm_recipe *r, const run_args *a, const run_data *d, lilm_prepare_opts *o)
{
    memset(o, 0, sizeof *o);
    o->recipe = r->name;
    o->inputs = d->inputs;
    o->n_inputs = d->n_inputs;
    o->val_inputs = a->val.items;
    o->n_val_inputs = (size_t)a->val.n;
    o->val_rule = a->val_rule;
    o->text_docs = -1;
    o->quiet = a->quiet;
}

/* 2. tokenizer */
static int stage_tokenizer(const lilm_recipe *r, const run_args *a, volatile sig_atomic_t *stop, run_data *d,
                           stage_log *L)
{
    double t0 = lilm_progress_clock();
    if (a->tokenizer) {
        if (strcmp(a->tokenizer, "bytes") != 0 && !lilm_path_exists(a->tokenizer)) {
            fprintf(stderr, "lilm run: --tokenizer: %s does not exist\n", a->tokenizer);
            return 2;
        }
        snprintf(d->tokenizer, sizeof d->tokenizer, "%s", a->tokenizer);
        stage_done(L, "tokenizer", t0, "given with --tokenizer");
        return 0;
    }
    if (strcmp(r->tokenizer, "bytes") == 0) {
        snprintf(d->tokenizer, sizeof d->tokenizer, "bytes");
        stage_done(L, "tokenizer", t0, "built-in bytes");
        return 0;
    }
    lilm_prepare_opts po;
    prepare_opts_for(r, a, d, &po);
    po.stop = stop;
    char fp[65], key[400], hash[13], sub[300], stamp[1200], docs[1200];
    lilm_status st = lilm_data_inputs_fingerprint(&po, fp);
    if (st) return lilm_cli_fail("run", st);
    snprintf(key, sizeof key, "lilm-tokenizer v" CACHE_VERSION "|unigram|%d|nmt_nfkc_cf|coverage=1|byte_fallback|"
             "ids=0,1,2,3|inputs=%s\n", (int)r->vocab_size, fp);
    lilm_cache_hash(key, hash);
    snprintf(sub, sizeof sub, "tokenizers/%s-unigram-%d-%s.model", r->name, (int)r->vocab_size, hash);
    if ((st = lilm_cache_path(d->tokenizer, sizeof d->tokenizer, sub)) != LILM_OK) return lilm_cli_fail("run", st);
    snprintf(stamp, sizeof stamp, "%s.stamp", d->tokenizer);
    if (lilm_path_exists(d->tokenizer) && lilm_cache_stamp_ok(stamp, key)) {
        stage_done(L, "tokenizer", t0, "cached");
        return 0;
    }
    fprintf(stderr, "lilm run: training a %d-piece unigram tokenizer (the reference's settings) on the train split\n",
            (int)r->vocab_size);
    snprintf(docs, sizeof docs, "%s.docs", d->tokenizer);
    lilm_prepare_report er;
    if ((st = lilm_data_export_train_text(&po, docs, &er)) != LILM_OK) return lilm_cli_fail("run", st);
    lilm_tok_train_opts to;
    lilm_tok_train_opts_init(&to);
    const char *inputs[1] = {docs};
    to.inputs = inputs;
    to.n_inputs = 1;
    to.format = LILM_TRAIN_DOCS;
    to.model_type = LILM_SP_MODEL_UNIGRAM;
    to.vocab_size = r->vocab_size;
    to.normalization = "nmt_nfkc_cf";
    to.character_coverage = 1.0;
    to.byte_fallback = true;
    to.unk_id = 0;
    to.bos_id = 1;
    to.eos_id = 2;
    to.pad_id = 3;
    /* rows can be long (BabyLM windows of 10,000 words): cut them at spaces rather than skip them */
    to.max_line_bytes = (size_t)to.max_sentence_length;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    to.threads = a->threads > 0 ? (int)a->threads : ncpu > 0 ? (int)ncpu : 2;
    to.log = a->quiet ? NULL : stderr;
    lilm_sp_model model;
    st = lilm_tok_train(&to, &model);
    unlink(docs);
    if (st) st = lilm_error_context(st, "training the tokenizer: ");
    if (st == LILM_OK) {
        st = lilm_sp_model_write(&model, d->tokenizer);
        lilm_sp_model_free(&model);
    }
    if (st == LILM_OK) st = lilm_cache_stamp_write(stamp, key);
    if (st) return lilm_cli_fail("run", st);
    char how[160];
    snprintf(how, sizeof how, "trained on %lld documents, %.1f MB", (long long)er.docs[0], (double)er.bytes[0] / 1e6);
    stage_done(L, "tokenizer", t0, "trained");
    fprintf(stderr, "lilm run: tokenizer %s (%s)\n", d->tokenizer, how);
    return 0;
}

/* 3. prepare */
static int stage_prepare(const lilm_recipe *r, const run_args *a, volatile sig_atomic_t *stop, run_data *d,
                         stage_log *L)
{
    double t0 = lilm_progress_clock();
    lilm_prepare_opts po;
    prepare_opts_for(r, a, d, &po);
    po.stop = stop;
    po.tokenizer = d->tokenizer;
    char fp[65], key[1400], hash[13], sub[300];
    lilm_status st = lilm_data_inputs_fingerprint(&po, fp);
    if (st) return lilm_cli_fail("run", st);
    snprintf(key, sizeof key, "lilm-prepared v" CACHE_VERSION "|%s|%s\n", fp, d->tokenizer);
    lilm_cache_hash(key, hash);
    snprintf(sub, sizeof sub, "prepared/%s-%s", r->name, hash);
    if ((st = lilm_cache_path(d->dataset, sizeof d->dataset, sub)) != LILM_OK) return lilm_cli_fail("run", st);
    po.out_dir = d->dataset;
    lilm_prepare_report rep;
    st = lilm_data_prepare(&po, &rep);
    for (int i = 0; i < rep.n_warnings; i++) fprintf(stderr, "warning: %s\n", rep.warnings[i]);
    if (st != LILM_OK) return lilm_cli_fail("run", st);
    if (rep.up_to_date) {
        stage_done(L, "prepare", t0, "cached");
    } else {
        stage_done(L, "prepare", t0, "prepared");
        fprintf(stderr, "lilm run: %lld + %lld documents, %lld + %lld tokens (train + val) in %s\n",
                (long long)rep.docs[0], (long long)rep.docs[1], (long long)rep.tokens[0], (long long)rep.tokens[1],
                d->dataset);
    }
    return 0;
}

/* The share of a --total-minutes budget kept for autosize's depth probes. */
#define PROBE_SHARE 0.05

/* The LR sweep's cost in training budgets: each trial trains lr_fraction of it. */
static double sweep_budgets(const run_args *a)
{
    return a->no_autosize ? 0 : (double)a->as.lrs * a->as.lr_fraction;
}

/* Prints what the run will spend its time on, before it starts. */
static void print_plan(const run_args *a, const lilm_config *cfg, int autosize_cached)
{
    double train = cfg->budget.minutes, sweep = autosize_cached ? 0 : sweep_budgets(a) * train;
    fprintf(stderr, "lilm run: plan: ");
    if (a->no_autosize) fprintf(stderr, "no autosize; ");
    else if (autosize_cached) fprintf(stderr, "autosize cached (0 min); ");
    else
        fprintf(stderr, "autosize: depth probes (%s), LR sweep %lld x %.2f min = %.2f min; ",
                a->total_minutes > 0 ? "budgeted with the rest" : "seconds to minutes", (long long)a->as.lrs,
                a->as.lr_fraction * train, sweep);
    fprintf(stderr, "training %.2f min with its final validation inside; total about %.2f min%s\n", train,
            train + sweep, a->no_autosize || autosize_cached ? "" : " + the probes");
}

/* Copies src to dst (small files: autosize's tables). */
static lilm_status copy_file(const char *src, const char *dst)
{
    char *buf = NULL;
    size_t n = 0;
    LILM_TRY(lilm_read_file(src, &buf, &n));
    lilm_status st = lilm_write_atomic(dst, buf, n);
    free(buf);
    return st;
}

static const char *const autosize_files[] = {"autosize.json", "autosize_depth.jsonl", "autosize_lr.jsonl"};

/* 4. autosize, cached by the config it starts from, its options and the device */
static int stage_autosize(const lilm_recipe *r, const run_args *a, const char *out, volatile sig_atomic_t *stop,
                          const char *device_name, lilm_config *cfg, stage_log *L)
{
    double t0 = lilm_progress_clock();
    if (a->no_autosize) {
        print_plan(a, cfg, 0);
        stage_done(L, "autosize", t0, "skipped (--no-autosize)");
        return 0;
    }
    char *yaml = NULL;
    size_t yn = 0;
    FILE *mf = open_memstream(&yaml, &yn);
    lilm_status st = mf ? lilm_config_write_yaml(cfg, mf) : lilm_errorf(LILM_ERR_OOM, "out of memory");
    if (mf) fclose(mf);
    if (st) {
        free(yaml);
        return lilm_cli_fail("run", st);
    }
    char head[600], hash[13], sub[300], dir[1100], path[1200], stamp[1200];
    snprintf(head, sizeof head, "lilm-autosize v" CACHE_VERSION "|%s|%lld %.17g %lld %.17g %lld %d %d|%s\n",
             r->name, (long long)a->as.probe_steps, a->as.lr_fraction, (long long)a->as.lrs, a->as.memory_gb,
             (long long)a->as.max_layers, a->as.no_depth, a->as.no_batch, device_name);
    size_t kn = strlen(head) + yn + 1;
    char *key = malloc(kn);
    if (!key) {
        free(yaml);
        return lilm_cli_fail("run", lilm_errorf(LILM_ERR_OOM, "out of memory"));
    }
    snprintf(key, kn, "%s%s", head, yaml ? yaml : "");
    free(yaml);
    lilm_cache_hash(key, hash);
    snprintf(sub, sizeof sub, "autosize/%s-%s/config.yaml", r->name, hash);
    st = lilm_cache_path(path, sizeof path, sub);
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    snprintf(stamp, sizeof stamp, "%s/stamp", dir);
    lilm_config c2;
    lilm_config_defaults(&c2);
    if (st == LILM_OK && lilm_cache_stamp_ok(stamp, key) && lilm_config_load_yaml(&c2, path) == LILM_OK) {
        if ((st = lilm_mkdirs(out)) != LILM_OK) goto done;
        for (size_t i = 0; st == LILM_OK && i < sizeof autosize_files / sizeof autosize_files[0]; i++) {
            char from[1300], to[1300];
            snprintf(from, sizeof from, "%s/%s", dir, autosize_files[i]);
            snprintf(to, sizeof to, "%s/%s", out, autosize_files[i]);
            if (lilm_path_exists(from)) st = copy_file(from, to);
        }
        if (st == LILM_OK) {
            *cfg = c2;
            free(key);
            print_plan(a, cfg, 1);
            stage_done(L, "autosize", t0, "cached");
            fprintf(stderr, "lilm run: autosize (cached): %lld layers, micro-batch %lld, lr %.4g\n",
                    (long long)cfg->model.n_layers, (long long)cfg->train.batch_size, cfg->train.lr);
            return 0;
        }
        goto done;
    }
    lilm_clear_error(); /* a cached config that does not load is measured again */
    if (st == LILM_OK) {
        print_plan(a, cfg, 0);
        int rc = lilm_cli_autosize("run", &a->as, out, 0, stop, cfg);
        if (rc != 0 || *stop) {
            free(key);
            return rc ? rc : 1;
        }
        st = lilm_config_save(cfg, path);
        for (size_t i = 0; st == LILM_OK && i < sizeof autosize_files / sizeof autosize_files[0]; i++) {
            char from[1300], to[1300];
            snprintf(from, sizeof from, "%s/%s", out, autosize_files[i]);
            snprintf(to, sizeof to, "%s/%s", dir, autosize_files[i]);
            if (lilm_path_exists(from)) st = copy_file(from, to);
        }
        if (st == LILM_OK) st = lilm_cache_stamp_write(stamp, key);
        if (st == LILM_OK) stage_done(L, "autosize", t0, "measured");
    }
done:
    free(key);
    return st ? lilm_cli_fail("run", st) : 0;
}

/* Prints the first `k` samples of samples.txt (prompt + continuation). */
static void print_samples(const char *out, int k)
{
    char path[1200], *text = NULL;
    size_t n = 0;
    snprintf(path, sizeof path, "%s/samples.txt", out);
    if (lilm_read_file(path, &text, &n) != LILM_OK) {
        lilm_clear_error();
        return;
    }
    const char *p = strstr(text, "### ");
    for (int i = 0; p && i < k; i++) {
        const char *next = strstr(p + 4, "\n### ");
        size_t len = next ? (size_t)(next - p) : strlen(p);
        if (len > 400) len = 400;
        fprintf(stderr, "%.*s%s\n", (int)len, p, len == 400 ? "..." : "");
        p = next ? next + 1 : NULL;
    }
    free(text);
}

/* 6. the run re-read into runs.db (samples.txt came after it registered) and the report */
static void write_report(const char *db_path, const char *out)
{
    lilm_runs_db *db = NULL;
    if (lilm_runs_open(&db, db_path) != LILM_OK) {
        fprintf(stderr, "lilm run: cannot open %s for the report: %s\n", db_path, lilm_last_error());
        return;
    }
    char *warnings = NULL;
    lilm_status st = lilm_runs_sync_dir(db, out, &warnings);
    free(warnings);
    char dir[1100];
    snprintf(dir, sizeof dir, "%s", db_path);
    char *slash = strrchr(dir, '/');
    if (slash) snprintf(slash + 1, sizeof dir - (size_t)(slash + 1 - dir), "report");
    else snprintf(dir, sizeof dir, "report");
    lilm_report_stats stats;
    if (st == LILM_OK) st = lilm_report_write(db, dir, &stats, NULL);
    if (st == LILM_OK) fprintf(stderr, "lilm run: report: %s/index.html (runs.db: %s)\n", dir, db_path);
    else fprintf(stderr, "lilm run: the report was not written: %s\n", lilm_last_error());
    lilm_runs_close(db);
}

static int run_recipe(const run_args *args, const lilm_recipe *r);

int lilm_cmd_run(int argc, char **argv)
{
    run_args a;
    int rc = lilm_opts_parse_cli(&spec, argc, argv, &a);
    if (rc >= 0) return rc;
    if (a.list) {
        print_recipes(stdout);
        return 0;
    }
    if (!a.recipe) {
        fprintf(stderr, "lilm run: which recipe?\n");
        print_recipes(stderr);
        return 2;
    }
    lilm_recipe r;
    lilm_status st = lilm_recipe_load(&r, a.recipe);
    if (st == LILM_OK && !r.config_yaml) {
        fprintf(stderr, "lilm run: no recipe '%s' to train: it describes data only (lilm data prepare %s)\n", a.recipe,
                a.recipe);
        print_recipes(stderr);
        lilm_recipe_free(&r);
        return 2;
    }
    if (st == LILM_ERR_NOT_FOUND && !strchr(a.recipe, '/')) {
        fprintf(stderr, "lilm run: no recipe '%s'\n", a.recipe);
        print_recipes(stderr);
        return 2;
    }
    if (st) return lilm_cli_fail("run", st);
    rc = run_recipe(&a, &r);
    lilm_recipe_free(&r);
    return rc;
}

static int run_recipe(const run_args *args, const lilm_recipe *r)
{
    run_args a = *args;
    int rc;
    /* the device decides the recipe's CPU overrides: resolve "auto" now */
    int on_cpu = 1;
    char device_name[64] = "cpu";
    {
        lilm_device_choice dc;
        lilm_backend *be = NULL;
        if (lilm_device_choice_parse(a.device ? a.device : "auto", &dc) != LILM_OK) {
            fprintf(stderr, "lilm run: --device: expected auto, cpu or cuda, got '%s'\n", a.device);
            return 2;
        }
        if (dc != LILM_DEVICE_CHOICE_CPU && lilm_backend_create(&be, dc, 1) == LILM_OK) {
            on_cpu = be->device == LILM_DEVICE_CPU;
            snprintf(device_name, sizeof device_name, "%s", be->name);
            lilm_backend_free(be);
        }
        lilm_clear_error();
    }
    lilm_config cfg;
    lilm_status st = lilm_recipe_config(r, on_cpu, &cfg);
    if (st != LILM_OK) return lilm_cli_fail("run", st);

    char out[LILM_PATH_MAX];
    lilm_cli_run_dir(a.out, r->name, out, sizeof out);
    const char *db = lilm_runs_default_path(a.db);
    if (strcmp(db, "none") == 0) db = NULL;
    volatile sig_atomic_t *stop = lilm_cli_stop_flag();
    double t_start = lilm_progress_clock();
    stage_log L = {0};
    run_data d;
    memset(&d, 0, sizeof d);

    if ((rc = stage_data(r, &a, stop, &d, &L)) != 0) return rc;
    if (*stop) return 1;
    if ((rc = stage_tokenizer(r, &a, stop, &d, &L)) != 0) return rc;
    if (*stop) return 1;
    snprintf(cfg.data.tokenizer, sizeof cfg.data.tokenizer, "%s", d.tokenizer);
    if (r->shipped_text && a.data.n == 0) {
        snprintf(cfg.data.text, sizeof cfg.data.text, "%s", d.text);
    } else {
        if ((rc = stage_prepare(r, &a, stop, &d, &L)) != 0) return rc;
        snprintf(cfg.data.dataset, sizeof cfg.data.dataset, "%s", d.dataset);
    }
    if (*stop) return 1;
    if (strcmp(d.tokenizer, "bytes") != 0) { /* the model's vocabulary is the tokenizer's */
        lilm_tokenizer *tok = NULL;
        if ((st = lilm_tokenizer_load(&tok, d.tokenizer)) != LILM_OK) return lilm_cli_fail("run", st);
        cfg.model.vocab_size = lilm_tokenizer_vocab_size(tok);
        lilm_tokenizer_free(tok);
    }
    for (int64_t i = 0; st == LILM_OK && i < a.set.n; i++) st = lilm_config_set(&cfg, a.set.items[i]);
    if (st != LILM_OK) return lilm_cli_fail("run", st);
    if (a.minutes > 0) cfg.budget.minutes = a.minutes;
    if (a.total_minutes > 0) {
        if (a.minutes > 0) {
            fprintf(stderr, "lilm run: give --minutes (training) or --total-minutes (everything), not both\n");
            return 2;
        }
        double keep = a.no_autosize ? 1.0 : 1.0 - PROBE_SHARE;
        cfg.budget.minutes = a.total_minutes * keep / (1.0 + sweep_budgets(&a));
    }
    if (a.device) snprintf(cfg.train.device, sizeof cfg.train.device, "%s", a.device);
    if (a.threads >= 0) cfg.train.threads = a.threads;
    if ((st = lilm_config_validate(&cfg)) != LILM_OK) return lilm_cli_fail("run", st);

    if ((st = lilm_rundir_prepare_new(out, 0)) != LILM_OK) return lilm_cli_fail("run", st);
    fprintf(stderr, "lilm run: %s, %.4g minute budget, run directory %s\n", r->name, cfg.budget.minutes, out);
    if ((rc = stage_autosize(r, &a, out, stop, device_name, &cfg, &L)) != 0) return rc;
    if (*stop) return 1;
    double t_train = lilm_progress_clock();
    lilm_trainer_options o = {.out_dir = out, .quiet = a.quiet,
                              .on_report = db ? lilm_cli_record_run : NULL, .report_ctx = (void *)db, .stop = stop};
    lilm_trainer t;
    st = lilm_trainer_init(&t, &cfg, &o);
    if (st != LILM_OK) {
        rc = lilm_cli_fail("run", st);
        lilm_trainer_free(&t);
        return rc;
    }
    fprintf(stderr, "lilm run: training %lld parameters (%lld layers) on %s (%d threads), %d micro-batch(es) of %lld x %lld per step, lr %.4g\n",
            (long long)t.params, (long long)cfg.model.n_layers, t.be->name, t.be->threads, t.n_micro,
            (long long)cfg.train.batch_size, (long long)cfg.model.context, cfg.train.lr);
    st = lilm_trainer_run(&t);
    if (st != LILM_OK) {
        rc = lilm_cli_fail("run", st);
    } else {
        lilm_trainer_print_summary(&t, "run", *stop != 0, stderr);
        rc = *stop ? 1 : 0;
    }
    lilm_trainer_free(&t);
    if (rc != 0) return rc;
    stage_done(&L, "train", t_train, "trained, evaluated, sampled");
    print_samples(out, 2);
    fprintf(stderr, "lilm run: %s/eval.json, %s/samples.txt\n", out, out);
    if (db) write_report(db, out);
    fprintf(stderr, "lilm run: stages:");
    for (int i = 0; i < L.n; i++) fprintf(stderr, " %s %.1f s (%s)%s", L.name[i], L.seconds[i], L.how[i],
                                          i + 1 < L.n ? "," : "");
    fprintf(stderr, "; total %.1f s", lilm_progress_clock() - t_start);
    if (a.total_minutes > 0) fprintf(stderr, " of --total-minutes %.4g (%.1f s)", a.total_minutes, a.total_minutes * 60);
    fputc('\n', stderr);
    return 0;
}
