/*
 * prepare.c: `lilm data prepare` (prepare.h): recipes, input discovery, the
 * parallel tokenisation pipeline, meta.json and the up-to-date check.
 *
 * Pipeline, per input file: the reader hands out a batch of raw records
 * (about 4 MB per thread); an OpenMP loop extracts each record's text
 * (parsing JSON on the worker), validates UTF-8 and tokenises it into the
 * worker's own arena; then the main thread walks the batch in input order,
 * routes each document to train or val and appends it (tokens + EOS, byte
 * count) to that split's writer. Output order therefore never depends on
 * thread timing. The first error in input order wins and aborts everything:
 * writers remove their temporaries, meta.json is untouched.
 */
#include "data/prepare.h"

#include <dirent.h>
#include <errno.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/json.h"
#include "core/progress.h"
#include "core/sha256.h"
#include "data/cache.h"
#include "data/dataset.h"
#include "data/fetch.h"
#include "data/recipe.h"
#include "data/shard.h"
#include "data/source.h"
#include "tok/tokenizer.h"

#define PREPARE_META_VERSION 1
#define BATCH_BYTES_PER_THREAD (4u << 20)

lilm_status lilm_val_rule_parse(const char *rule, int64_t *mod, int64_t *below)
{
    char buf[128];
    size_t o = 0;
    for (const char *c = rule; *c && o + 1 < sizeof buf; c++)
        if (*c != ' ') buf[o++] = *c;
    buf[o] = '\0';
    const char *p = buf;
    if (strncmp(p, "index%", 6) != 0) goto bad;
    p += 6;
    char *end;
    errno = 0;
    long long m = strtoll(p, &end, 10);
    if (end == p || *end != '<' || errno) goto bad;
    p = end + 1;
    long long k = strtoll(p, &end, 10);
    if (end == p || *end != '\0' || errno) goto bad;
    if (m <= 0 || k < 0 || k > m) goto bad;
    *mod = m;
    *below = k;
    return LILM_OK;
bad:
    return lilm_errorf(LILM_ERR_ARG, "bad validation rule '%s'\nHINT: write it as index%%M<K (e.g. \"index%%10000<100\": "
                                     "rows whose index mod M is below K), or \"none\"", rule);
}

/* ---- inputs ---- */

typedef enum role { ROLE_TRAIN = 0, ROLE_VAL = 1, ROLE_RULE = 2 } role;

typedef struct input_file {
    char path[1024];
    role role;
    lilm_input_format fmt;
    int64_t size;
    int64_t mtime_ns;
    int64_t rows;       /* records read (filled while processing) */
} input_file;

typedef struct input_list {
    input_file *v;
    size_t n, cap;
} input_list;

static int accept_name(const char *name)
{
    static const char *const exts[] = {".parquet", ".jsonl", ".json", ".ndjson", ".txt", ".text",
                                       ".train", ".dev", ".test", ".valid"};
    if (name[0] == '.') return 0;
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        size_t k = strlen(exts[i]);
        if (n > k && strcmp(name + n - k, exts[i]) == 0) return 1;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static lilm_status add_file(input_list *l, const char *path, role r, lilm_input_format fmt)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return lilm_errorf(LILM_ERR_NOT_FOUND, "input %s: %s", path, strerror(errno));
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 16;
        input_file *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv) return lilm_errorf(LILM_ERR_OOM, "out of memory");
        l->v = nv;
        l->cap = nc;
    }
    input_file *f = &l->v[l->n++];
    memset(f, 0, sizeof *f);
    if (strlen(path) >= sizeof f->path) return lilm_errorf(LILM_ERR_ARG, "path too long: %s", path);
    snprintf(f->path, sizeof f->path, "%s", path);
    f->role = r;
    f->fmt = fmt == LILM_FMT_AUTO ? lilm_input_format_of(path) : fmt;
    f->size = (int64_t)st.st_size;
    f->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    return LILM_OK;
}

/* Adds a file, or every accepted file under a directory (sorted, recursive). */
static lilm_status add_path(input_list *l, const char *path, role r, lilm_input_format fmt, int depth)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return lilm_errorf(LILM_ERR_NOT_FOUND, "input %s does not exist\nHINT: check the path, or fetch the dataset "
                                               "first with `lilm data fetch`", path);
    if (!S_ISDIR(st.st_mode)) return add_file(l, path, r, fmt);
    if (depth > 16) return lilm_errorf(LILM_ERR_ARG, "%s: directories nested too deep", path);
    DIR *d = opendir(path);
    if (!d) return lilm_errorf(LILM_ERR_IO, "cannot read directory %s: %s", path, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    lilm_status s = LILM_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                s = lilm_errorf(LILM_ERR_OOM, "out of memory");
                break;
            }
            names = nn;
        }
        size_t len = strlen(path) + strlen(e->d_name) + 2;
        names[n] = malloc(len);
        if (!names[n]) {
            s = lilm_errorf(LILM_ERR_OOM, "out of memory");
            break;
        }
        snprintf(names[n], len, "%s/%s", path, e->d_name);
        n++;
    }
    closedir(d);
    if (s == LILM_OK) qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n && s == LILM_OK; i++) {
        struct stat es;
        if (stat(names[i], &es) != 0) continue;
        const char *base = strrchr(names[i], '/') + 1;
        if (S_ISDIR(es.st_mode)) s = add_path(l, names[i], r, fmt, depth + 1);
        else if (S_ISREG(es.st_mode) && accept_name(base)) s = add_file(l, names[i], r, fmt);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return s;
}

/* Is this file a validation/test file by its name or a directory on its path? */
static int val_by_name(const char *path)
{
    static const char *const words[] = {"test", "validation", "valid", "val", "dev"};
    const char *p = path;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        for (size_t w = 0; w < sizeof words / sizeof words[0]; w++) {
            size_t k = strlen(words[w]);
            /* a component that is the word, or starts with word followed by - _ . */
            if (len >= k && strncmp(p, words[w], k) == 0 &&
                (len == k || p[k] == '-' || p[k] == '_' || p[k] == '.'))
                return 1;
        }
        if (!slash) break;
        p = slash + 1;
    }
    return 0;
}

/* ---- fingerprint and meta.json ---- */

static void fingerprint(const lilm_prepare_opts *o, const lilm_recipe *rc, const char *column, const char *rule,
                        int text_docs, const char *tok_sha, const input_list *in, char hex[65])
{
    lilm_sha256 s;
    char line[1400];
    lilm_sha256_init(&s);
    int k = snprintf(line, sizeof line, "lilm-dataset v%d|%d|recipe=%s|column=%s|rule=%s|docs=%d|tok=%s\n",
                     LILM_DATASET_VERSION, PREPARE_META_VERSION, rc->name, column, rule, text_docs, tok_sha);
    lilm_sha256_update(&s, line, (size_t)k);
    for (size_t i = 0; i < in->n; i++) {
        const input_file *f = &in->v[i];
        k = snprintf(line, sizeof line, "%s|%d|%d|%lld|%lld\n", f->path, (int)f->role, (int)f->fmt,
                     (long long)f->size, (long long)f->mtime_ns);
        lilm_sha256_update(&s, line, (size_t)k);
    }
    uint8_t d[32];
    lilm_sha256_final(&s, d);
    lilm_sha256_to_hex(d, hex);
    (void)o;
}

static int up_to_date(const char *dir, const char *fp, lilm_prepare_report *r)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/meta.json", dir);
    if (!lilm_path_exists(path)) return 0;
    lilm_json *meta = NULL;
    if (lilm_json_parse_file(&meta, path) != LILM_OK) {
        lilm_clear_error();
        return 0;
    }
    const char *old = lilm_json_get_str(meta, "fingerprint");
    int ok = old && strcmp(old, fp) == 0;
    const lilm_json *splits = lilm_json_get(meta, "splits");
    for (size_t i = 0; ok && splits && i < splits->n; i++) {
        lilm_dataset *ds = NULL;
        if (lilm_dataset_open(&ds, dir, splits->items[i].key) != LILM_OK) {
            lilm_clear_error();
            ok = 0;
            break;
        }
        lilm_dataset_info info;
        lilm_dataset_get_info(ds, &info);
        int s = strcmp(splits->items[i].key, "val") == 0;
        r->docs[s] = info.n_docs;
        r->tokens[s] = info.n_tokens;
        r->bytes[s] = info.n_bytes;
        lilm_dataset_close(ds);
    }
    if (!splits) ok = 0;
    lilm_json_free(meta);
    return ok;
}

static lilm_status write_meta(const char *dir, const lilm_recipe *rc, const char *column, const char *rule,
                              int text_docs, const lilm_prepare_opts *o, const lilm_tokenizer *tok,
                              const input_list *in, const lilm_shard_summary sum[2], int has_val, const char *fp,
                              const lilm_prepare_report *r)
{
    lilm_json_writer w;
    lilm_json_writer_init(&w, 1);
    lilm_json_begin_object(&w);
    lilm_json_key(&w, "format");
    lilm_json_str(&w, "lilm-dataset");
    lilm_json_key(&w, "version");
    lilm_json_int(&w, LILM_DATASET_VERSION);
    lilm_json_key(&w, "recipe");
    lilm_json_str(&w, rc->name);
    char when[64];
    time_t now = time(NULL);
    struct tm tmv;
    gmtime_r(&now, &tmv);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    lilm_json_key(&w, "created");
    lilm_json_str(&w, when);
    lilm_json_key(&w, "tokenizer");
    lilm_json_begin_object(&w);
    lilm_json_key(&w, "path");
    lilm_json_str(&w, o->tokenizer);
    lilm_json_key(&w, "sha256");
    lilm_json_str(&w, lilm_tokenizer_sha256(tok));
    lilm_json_key(&w, "vocab_size");
    lilm_json_int(&w, lilm_tokenizer_vocab_size(tok));
    lilm_json_key(&w, "eos_id");
    lilm_json_int(&w, lilm_tokenizer_eos_id(tok));
    lilm_json_key(&w, "pad_id");
    lilm_json_int(&w, lilm_tokenizer_pad_id(tok));
    lilm_json_end_object(&w);
    lilm_json_key(&w, "column");
    lilm_json_str(&w, column);
    lilm_json_key(&w, "text_docs");
    lilm_json_str(&w, text_docs == LILM_TEXT_BLANK ? "blank-line separated" : "one per line");
    lilm_json_key(&w, "split_rule");
    lilm_json_str(&w, rule);
    lilm_json_key(&w, "skipped_empty");
    lilm_json_int(&w, r->skipped_empty);
    lilm_json_key(&w, "sources");
    lilm_json_begin_array(&w);
    for (size_t i = 0; i < in->n; i++) {
        const input_file *f = &in->v[i];
        lilm_json_begin_object(&w);
        lilm_json_key(&w, "path");
        lilm_json_str(&w, f->path);
        lilm_json_key(&w, "format");
        lilm_json_str(&w, lilm_input_format_name(f->fmt));
        lilm_json_key(&w, "role");
        lilm_json_str(&w, f->role == ROLE_VAL ? "val" : f->role == ROLE_RULE ? "train+rule" : "train");
        lilm_json_key(&w, "size");
        lilm_json_int(&w, f->size);
        lilm_json_key(&w, "mtime_ns");
        lilm_json_int(&w, f->mtime_ns);
        lilm_json_key(&w, "records");
        lilm_json_int(&w, f->rows);
        lilm_json_end_object(&w);
    }
    lilm_json_end_array(&w);
    lilm_json_key(&w, "splits");
    lilm_json_begin_object(&w);
    for (int s = 0; s < 1 + has_val; s++) {
        lilm_json_key(&w, s ? "val" : "train");
        lilm_json_begin_object(&w);
        lilm_json_key(&w, "docs");
        lilm_json_int(&w, sum[s].n_docs);
        lilm_json_key(&w, "tokens");
        lilm_json_int(&w, sum[s].n_tokens);
        lilm_json_key(&w, "bytes");
        lilm_json_int(&w, sum[s].n_bytes);
        lilm_json_key(&w, "bytes_per_token");
        lilm_json_double(&w, sum[s].n_tokens ? (double)sum[s].n_bytes / (double)sum[s].n_tokens : 0);
        lilm_json_key(&w, "tokens_crc32");
        lilm_json_int(&w, sum[s].tokens_crc);
        lilm_json_key(&w, "docs_crc32");
        lilm_json_int(&w, sum[s].docs_crc);
        lilm_json_end_object(&w);
    }
    lilm_json_end_object(&w);
    lilm_json_key(&w, "fingerprint");
    lilm_json_str(&w, fp);
    lilm_json_end_object(&w);
    char *text;
    size_t n;
    LILM_TRY(lilm_json_writer_finish(&w, &text, &n));
    char path[1100];
    snprintf(path, sizeof path, "%s/meta.json", dir);
    lilm_status st = lilm_write_atomic(path, text, n);
    free(text);
    return st;
}

/* ---- the tokenisation pipeline ---- */

typedef struct worker {
    int32_t *ids;          /* this batch's tokens, documents back to back */
    size_t n, cap;
    int32_t *scratch;      /* encoder output */
    size_t scap;
    lilm_tok_workspace *tws; /* the encoder's buffers and word cache, reused across records */
    lilm_status st;        /* first failure on this worker */
    size_t err_rec;        /* its record index */
    char err[1200];
} worker;

typedef struct rec_out {
    int64_t off;           /* into its worker's ids */
    int64_t n;             /* tokens incl. EOS; 0 = empty document, skipped */
    int64_t bytes;
    int worker;
} rec_out;

static void warn(lilm_prepare_report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(lilm_prepare_report *r, const char *fmt, ...)
{
    if (r->n_warnings >= LILM_PREPARE_MAX_WARNINGS) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->warnings[r->n_warnings++], sizeof r->warnings[0], fmt, ap);
    va_end(ap);
}

/* Tokenises records[0..n) on all workers into outs (input order preserved). */
static lilm_status tokenize_batch(const lilm_tokenizer *tok, const input_file *f, const char *column,
                                  const lilm_record *recs, size_t n, rec_out *outs, worker *ws, int nt)
{
    int32_t eos = lilm_tokenizer_eos_id(tok);
    for (int w = 0; w < nt; w++) {
        ws[w].n = 0;
        ws[w].st = LILM_OK;
    }
#pragma omp parallel num_threads(nt)
    {
        worker *w = &ws[omp_get_thread_num()];
#pragma omp for schedule(dynamic, 4)
        for (size_t i = 0; i < n; i++) {
            rec_out *o = &outs[i];
            o->n = 0;
            o->bytes = 0;
            o->worker = omp_get_thread_num();
            if (w->st != LILM_OK || recs[i].is_null) continue;
            lilm_json *tree = NULL;
            const char *text;
            size_t len;
            lilm_status st = lilm_record_text(&recs[i], f->path, column, &tree, &text, &len);
            size_t got = 0;
            if (st == LILM_OK && len > 0)
                st = lilm_tokenizer_encode_ws(tok, w->tws, text, len, &w->scratch, &w->scap, &got);
            if (st == LILM_OK && len > 0) {
                if (w->n + got + 1 > w->cap) {
                    size_t nc = w->cap ? w->cap : 1 << 16;
                    while (nc < w->n + got + 1) nc *= 2;
                    int32_t *ni = realloc(w->ids, nc * sizeof *ni);
                    if (!ni) st = lilm_errorf(LILM_ERR_OOM, "out of memory tokenising %s", f->path);
                    else {
                        w->ids = ni;
                        w->cap = nc;
                    }
                }
                if (st == LILM_OK) {
                    memcpy(w->ids + w->n, w->scratch, got * sizeof *w->ids);
                    w->ids[w->n + got] = eos;
                    o->off = (int64_t)w->n;
                    o->n = (int64_t)got + 1;
                    o->bytes = (int64_t)len;
                    w->n += got + 1;
                }
            }
            lilm_json_free(tree);
            if (st != LILM_OK) {
                w->st = st;
                w->err_rec = i;
                snprintf(w->err, sizeof w->err, "%s", lilm_last_error());
            }
        }
    }
    /* the first failure in input order */
    int bad = -1;
    for (int w = 0; w < nt; w++)
        if (ws[w].st != LILM_OK && (bad < 0 || ws[w].err_rec < ws[bad].err_rec)) bad = w;
    if (bad >= 0) return lilm_errorf(ws[bad].st, "%s", ws[bad].err);
    return LILM_OK;
}

/* What a preparation reads: the input files with their roles, and the split. */
typedef struct plan {
    lilm_recipe rc;             /* owned: lilm_recipe_free */
    input_list in;
    const char *column;
    int text_docs;
    const char *rule;       /* the rule, or "files" / "file names" / "none" */
    int use_rule;
    int64_t rule_mod, rule_below;
    int n_val_files;
    int has_val;
} plan;

/* The default inputs of a recipe with a hub source: what `lilm data fetch`
 * put in data/hf/OWNER/NAME, else the cache's copy (lilm run). */
static int default_input(const lilm_recipe *rc, char *path, size_t n)
{
    if (!rc->hf_repo[0]) return 0;
    snprintf(path, n, "%s/%s", LILM_FETCH_DEFAULT_DIR, rc->hf_repo);
    if (lilm_path_exists(path)) return 1;
    char sub[600];
    snprintf(sub, sizeof sub, "datasets/hf/%s", rc->hf_repo);
    if (lilm_cache_path(path, n, sub) == LILM_OK && lilm_path_exists(path)) return 1;
    lilm_clear_error();
    return 0;
}

/* Resolves the recipe, the inputs (files found under directories) and the
 * validation split; fills r->input_bytes and r->n_files. */
static lilm_status make_plan(const lilm_prepare_opts *o, plan *p, lilm_prepare_report *r)
{
    memset(p, 0, sizeof *p);
    lilm_status st = lilm_recipe_load(&p->rc, o->recipe);
    if (st == LILM_ERR_NOT_FOUND) st = lilm_error_context(LILM_ERR_ARG, "unknown recipe: ");
    if (st) return st;
    const lilm_recipe *rc = &p->rc;
    p->column = o->column ? o->column : rc->column;
    p->text_docs = o->text_docs >= 0 ? o->text_docs : (int)rc->text_docs;
    const char *const *inputs = o->inputs;
    size_t n_inputs = o->n_inputs;
    const char *defaults[1];
    char def_path[1100];
    if (n_inputs == 0) {
        if (!default_input(rc, def_path, sizeof def_path)) {
            st = lilm_errorf(LILM_ERR_ARG, "no input files for recipe '%s'\nHINT: pass input files or directories%s%s",
                             rc->name, rc->hf_repo[0] ? ", or fetch them first: lilm data fetch " : "", rc->hf_repo);
            lilm_recipe_free(&p->rc);
            return st;
        }
        defaults[0] = def_path;
        inputs = defaults;
        n_inputs = 1;
    }
    int explicit_val = o->n_val_inputs > 0;
    const char *rule = o->val_rule;
    if (rule && strcmp(rule, "none") == 0) p->use_rule = 0;
    else if (rule) p->use_rule = 1;
    else if (explicit_val) rule = "files";
    else if (rc->split == LILM_SPLIT_RULE) {
        p->use_rule = 1;
        rule = rc->val_rule;
    } else {
        rule = "file names";
    }
    p->rule = rule;
    p->rule_mod = 1;
    if (p->use_rule && (st = lilm_val_rule_parse(rule, &p->rule_mod, &p->rule_below)) != LILM_OK) {
        lilm_recipe_free(&p->rc);
        return st;
    }
    input_list *in = &p->in;
    for (size_t i = 0; i < n_inputs && st == LILM_OK; i++) {
        size_t before = in->n;
        st = add_path(in, inputs[i], ROLE_TRAIN, rc->format, 0);
        if (st == LILM_OK && in->n == before)
            st = lilm_errorf(LILM_ERR_NOT_FOUND, "%s holds no input files (.parquet, .jsonl, .txt, ...)", inputs[i]);
        for (size_t k = before; k < in->n && st == LILM_OK; k++) {
            if (p->use_rule) in->v[k].role = ROLE_RULE;
            else if (!explicit_val && strcmp(rule, "file names") == 0) {
                /* judge only the part below the input root (or a file's own name) */
                const char *rel = in->v[k].path + strlen(inputs[i]);
                if (*rel == '\0') rel = strrchr(in->v[k].path, '/') ? strrchr(in->v[k].path, '/') + 1 : in->v[k].path;
                if (val_by_name(rel)) in->v[k].role = ROLE_VAL;
            }
        }
    }
    for (size_t i = 0; i < o->n_val_inputs && st == LILM_OK; i++)
        st = add_path(in, o->val_inputs[i], ROLE_VAL, rc->format, 0);
    for (size_t i = 0; i < in->n; i++) {
        p->n_val_files += in->v[i].role == ROLE_VAL;
        r->input_bytes += in->v[i].size;
    }
    r->n_files = (int64_t)in->n;
    p->has_val = p->use_rule || p->n_val_files > 0;
    if (st == LILM_OK && !p->has_val && !(o->val_rule && strcmp(o->val_rule, "none") == 0))
        st = lilm_errorf(LILM_ERR_ARG, "recipe '%s' found no validation files among the inputs (it looks for names "
                                       "like test*, validation*, dev*)\nHINT: name them with --val FILE, or use "
                                       "--val-rule \"index%%100<1\" to hold out rows", rc->name);
    if (st) {
        free(in->v);
        in->v = NULL;
        lilm_recipe_free(&p->rc);
    }
    return st;
}

lilm_status lilm_data_prepare(const lilm_prepare_opts *o, lilm_prepare_report *r)
{
    memset(r, 0, sizeof *r);
    double t0 = lilm_progress_clock();
    if (!o->out_dir || !*o->out_dir) return lilm_errorf(LILM_ERR_ARG, "no output directory\nHINT: pass --out DIR");
    plan pl;
    LILM_TRY(make_plan(o, &pl, r));
    const lilm_recipe *rc = &pl.rc;
    input_list in = pl.in;
    const char *column = pl.column, *rule = pl.rule;
    int text_docs = pl.text_docs, use_rule = pl.use_rule, has_val = pl.has_val, n_val_files = pl.n_val_files;
    int64_t rule_mod = pl.rule_mod, rule_below = pl.rule_below;
    lilm_status st = LILM_OK;

    /* tokenizer, output dir, up-to-date check */
    lilm_tokenizer *tok = NULL;
    st = lilm_tokenizer_load(&tok, o->tokenizer ? o->tokenizer : "bytes");
    if (st) {
        free(in.v);
        lilm_recipe_free(&pl.rc);
        return lilm_error_context(st, "loading the tokenizer: ");
    }
    char fp[65];
    fingerprint(o, rc, column, rule, text_docs, lilm_tokenizer_sha256(tok), &in, fp);
    st = lilm_mkdirs(o->out_dir);
    if (st == LILM_OK) lilm_remove_stale_temps(o->out_dir); /* left by a killed prepare */
    if (st == LILM_OK && !o->force && up_to_date(o->out_dir, fp, r)) {
        r->up_to_date = 1;
        r->seconds = lilm_progress_clock() - t0;
        lilm_tokenizer_free(tok);
        free(in.v);
        lilm_recipe_free(&pl.rc);
        return LILM_OK;
    }

    int nt = o->threads > 0 ? o->threads : omp_get_max_threads();
    if (nt < 1) nt = 1;
    lilm_shard_writer *wr[2] = {NULL, NULL};
    worker *ws = calloc((size_t)nt, sizeof *ws);
    lilm_record *recs = NULL;
    size_t rcap = 0;
    rec_out *outs = NULL;
    size_t ocap = 0;
    lilm_source *src = NULL;
    if (!ws) st = lilm_errorf(LILM_ERR_OOM, "out of memory");
    for (int w = 0; w < nt && st == LILM_OK; w++) st = lilm_tok_workspace_create(&ws[w].tws);
    for (int s = 0; s < 1 + has_val && st == LILM_OK; s++)
        st = lilm_shard_writer_open(&wr[s], o->out_dir, s ? "val" : "train", lilm_tokenizer_vocab_size(tok),
                                    lilm_tokenizer_eos_id(tok), lilm_tokenizer_pad_id(tok), lilm_tokenizer_sha256(tok));
    lilm_progress prog;
    lilm_progress_init(&prog, "prepare", "B", r->input_bytes);
    if (o->quiet) prog.quiet = 1;
    int64_t done_bytes = 0, rule_index = 0, rule_rows = 0;
    for (size_t fi = 0; fi < in.n && st == LILM_OK; fi++) {
        input_file *f = &in.v[fi];
        st = lilm_source_open(&src, f->path, f->fmt, column, (lilm_text_docs)text_docs);
        while (st == LILM_OK) {
            size_t n = 0;
            st = lilm_source_next(src, &recs, &rcap, &n, (size_t)nt * BATCH_BYTES_PER_THREAD);
            if (st || n == 0) break;
            if (n > ocap) {
                rec_out *no = realloc(outs, n * sizeof *no);
                if (!no) {
                    st = lilm_errorf(LILM_ERR_OOM, "out of memory");
                    break;
                }
                outs = no;
                ocap = n;
            }
            if (o->stop && *o->stop) {
                st = lilm_errorf(LILM_ERR_INTERRUPTED, "interrupted while reading %s; nothing was written", f->path);
                break;
            }
            st = tokenize_batch(tok, f, column, recs, n, outs, ws, nt);
            for (size_t i = 0; i < n && st == LILM_OK; i++) {
                int split = f->role == ROLE_VAL;
                if (f->role == ROLE_RULE) {
                    split = rule_index % rule_mod < rule_below;
                    rule_index++;
                    rule_rows++;
                }
                if (outs[i].n == 0) {
                    r->skipped_empty++;
                    continue;
                }
                st = lilm_shard_writer_add(wr[split], ws[outs[i].worker].ids + outs[i].off, (size_t)outs[i].n,
                                           outs[i].bytes);
            }
            f->rows += (int64_t)n;
            lilm_progress_update(&prog, done_bytes + lilm_source_bytes_done(src));
        }
        if (st == LILM_OK && f->rows == 0) warn(r, "%s contains no documents", f->path);
        done_bytes += f->size;
        lilm_source_close(src);
        src = NULL;
    }
    lilm_progress_update(&prog, done_bytes);
    if (st == LILM_OK) lilm_progress_finish(&prog);
    else if (!prog.quiet && prog.drawn) fputc('\n', stderr);

    lilm_shard_summary sum[2];
    memset(sum, 0, sizeof sum);
    for (int s = 0; s < 1 + has_val && st == LILM_OK; s++) lilm_shard_writer_summary(wr[s], &sum[s]);
    if (st == LILM_OK && sum[0].n_docs == 0)
        st = lilm_errorf(LILM_ERR_FORMAT, "the train split is empty (no non-empty documents%s)\nHINT: check the "
                                          "inputs and --column", use_rule ? " outside the validation rule" : "");
    if (st == LILM_OK && has_val && sum[1].n_docs == 0)
        st = lilm_errorf(LILM_ERR_FORMAT, "the validation split is empty (rule %s over %lld rows)\nHINT: pass "
                                          "validation files with --val FILE, or a rule that selects rows, e.g. "
                                          "--val-rule \"index%%100<1\"", rule, (long long)rule_rows);
    if (st == LILM_OK && use_rule && n_val_files == 0) {
        /* The rule samples rows; with few or very unequal rows (the shared BabyLM copy: 816 windows of 10,000
         * words next to 18,000 one-line utterances) it can hold out far more or less text than K/M. */
        double want = (double)rule_below / (double)rule_mod;
        double got_docs = rule_rows ? (double)sum[1].n_docs / (double)rule_rows : 0;
        int64_t all_bytes = sum[0].n_bytes + sum[1].n_bytes;
        double got_bytes = all_bytes ? (double)sum[1].n_bytes / (double)all_bytes : 0;
        if (rule_rows < rule_mod || got_bytes > 2 * want || got_bytes < 0.5 * want)
            warn(r, "rule %s over %lld rows holds out %lld documents (%.1f%%) with %.1f%% of the text, instead of "
                    "about %.1f%%; the rows are too few or too unequal in length for this rule. Pass validation "
                    "files with --val (e.g. the BabyLM dev files) or choose another --val-rule",
                 rule, (long long)rule_rows, (long long)sum[1].n_docs, 100 * got_docs, 100 * got_bytes, 100 * want);
    }
    if (st == LILM_OK) {
        for (int s = 0; s < 1 + has_val && st == LILM_OK; s++) {
            st = lilm_shard_writer_commit(wr[s], &sum[s]);
            wr[s] = NULL;
        }
    }
    for (int s = 0; s < 2; s++) {
        r->docs[s] = sum[s].n_docs;
        r->tokens[s] = sum[s].n_tokens;
        r->bytes[s] = sum[s].n_bytes;
    }
    if (st == LILM_OK) st = write_meta(o->out_dir, rc, column, rule, text_docs, o, tok, &in, sum, has_val, fp, r);
    if (st == LILM_OK && !has_val) { /* a validation split from an earlier preparation is not this one's */
        char stale[1100];
        snprintf(stale, sizeof stale, "%s/val.tokens", o->out_dir);
        unlink(stale);
        snprintf(stale, sizeof stale, "%s/val.docs", o->out_dir);
        unlink(stale);
    }
    lilm_shard_writer_abort(wr[0]);
    lilm_shard_writer_abort(wr[1]);
    lilm_source_close(src);
    for (int w = 0; ws && w < nt; w++) {
        free(ws[w].ids);
        free(ws[w].scratch);
        lilm_tok_workspace_destroy(ws[w].tws);
    }
    free(ws);
    free(recs);
    free(outs);
    free(in.v);
    lilm_recipe_free(&pl.rc);
    lilm_tokenizer_free(tok);
    r->seconds = lilm_progress_clock() - t0;
    return st;
}

lilm_status lilm_data_export_train_text(const lilm_prepare_opts *o, const char *out_path, lilm_prepare_report *r)
{
    memset(r, 0, sizeof *r);
    double t0 = lilm_progress_clock();
    plan pl;
    LILM_TRY(make_plan(o, &pl, r));
    lilm_atomic_file af;
    memset(&af, 0, sizeof af);
    lilm_status st = lilm_atomic_open(&af, out_path);
    lilm_source *src = NULL;
    lilm_record *recs = NULL;
    size_t rcap = 0;
    int64_t rule_index = 0;
    for (size_t fi = 0; fi < pl.in.n && st == LILM_OK; fi++) {
        const input_file *f = &pl.in.v[fi];
        if (f->role == ROLE_VAL) continue;
        st = lilm_source_open(&src, f->path, f->fmt, pl.column, (lilm_text_docs)pl.text_docs);
        while (st == LILM_OK) {
            size_t n = 0;
            st = lilm_source_next(src, &recs, &rcap, &n, BATCH_BYTES_PER_THREAD);
            if (st || n == 0) break;
            if (o->stop && *o->stop) {
                st = lilm_errorf(LILM_ERR_INTERRUPTED, "interrupted while reading %s", f->path);
                break;
            }
            for (size_t i = 0; i < n && st == LILM_OK; i++) {
                int val = f->role == ROLE_RULE && rule_index++ % pl.rule_mod < pl.rule_below;
                if (val || recs[i].is_null) continue;
                lilm_json *tree = NULL;
                const char *text;
                size_t len;
                st = lilm_record_text(&recs[i], f->path, pl.column, &tree, &text, &len);
                /* a NUL would end the record early: such documents are left out */
                if (st == LILM_OK && len > 0 && !memchr(text, '\0', len)) {
                    if (fwrite(text, 1, len, af.f) != len || fputc('\0', af.f) == EOF)
                        st = lilm_errorf(LILM_ERR_IO, "cannot write %s: %s", out_path, strerror(errno));
                    r->docs[0]++;
                    r->bytes[0] += (int64_t)len;
                }
                lilm_json_free(tree);
            }
        }
        lilm_source_close(src);
        src = NULL;
    }
    free(recs);
    free(pl.in.v);
    lilm_recipe_free(&pl.rc);
    if (st == LILM_OK) st = lilm_atomic_commit(&af);
    else lilm_atomic_abort(&af);
    r->seconds = lilm_progress_clock() - t0;
    return st;
}

lilm_status lilm_data_inputs_fingerprint(const lilm_prepare_opts *o, char hex[65])
{
    lilm_prepare_report r;
    memset(&r, 0, sizeof r);
    plan pl;
    LILM_TRY(make_plan(o, &pl, &r));
    fingerprint(o, &pl.rc, pl.column, pl.rule, pl.text_docs, "", &pl.in, hex);
    free(pl.in.v);
    lilm_recipe_free(&pl.rc);
    return LILM_OK;
}
