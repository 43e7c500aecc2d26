/*
 * rundir.c: run dir -> lilm_run_record (see rundir.h and docs/run-dir.md).
 *
 * Field mapping from run.json is one table (json key, kind, offset in
 * lilm_run). A key that is absent or null leaves the field unknown; a key of
 * the wrong type leaves it unknown and adds a warning. Text stored in the db
 * is made valid UTF-8 first (bad bytes become U+FFFD) so the HTML report never
 * carries broken bytes. A few model facts (vocab size, depth, width) are read
 * from config.yaml (through core/yaml) for the sweep plots.
 *
 * lilm_rundir_prepare_new() guards the other direction: a new run never
 * lands on an old run's files or inside a dataset.
 */
#include "track/rundir.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/grow.h"
#include "core/json.h"
#include "core/sha256.h"
#include "core/utf8.h"
#include "core/yaml.h"
#include "track/strbuf.h"

/* Warnings beyond this many per file are counted, not listed. */
#define MAX_WARNINGS_PER_FILE 5

typedef struct reader {
    const char *dir;
    lilm_run_record *rec;
    lilm_strbuf warn;    /* "file:line: message\n" ... */
} reader;

static void warnf(reader *rd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warnf(reader *rd, const char *fmt, ...)
{
    char line[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    lilm_strbuf_puts(&rd->warn, line);
    lilm_strbuf_puts(&rd->warn, "\n");
}

/* A malloc'd copy of s[0..n) with invalid UTF-8 sequences replaced by U+FFFD
 * and NUL bytes dropped; *fixed = how many were replaced. */
static char *utf8_clean(const char *s, size_t n, size_t *fixed)
{
    lilm_strbuf b;
    lilm_strbuf_init(&b);
    *fixed = 0;
    size_t i = 0;
    while (i < n) {
        size_t bad = 0;
        if (lilm_utf8_valid(s + i, n - i, &bad)) bad = n - i;   /* s[i, i+bad) is valid */
        size_t start = i;
        for (size_t j = i; j < i + bad; j++)
            if (s[j] == '\0') {
                lilm_strbuf_append(&b, s + start, j - start);
                start = j + 1;
                (*fixed)++;
            }
        lilm_strbuf_append(&b, s + start, i + bad - start);
        i += bad;
        if (i < n) {   /* s[i] starts an invalid sequence: replace one byte */
            lilm_strbuf_puts(&b, "\xEF\xBF\xBD");
            (*fixed)++;
            i++;
        }
    }
    if (!b.data) lilm_strbuf_append(&b, "", 0);
    if (b.oom) {
        lilm_strbuf_free(&b);
        return NULL;
    }
    return b.data;
}

/* Reads dir/name. 0 when absent (no warning), 1 with *data set, -1 on error
 * (warned). */
static int read_optional(reader *rd, const char *name, char **data, size_t *n)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", rd->dir, name);
    *data = NULL;
    *n = 0;
    if (!lilm_path_exists(path)) return 0;
    lilm_status s = lilm_read_file(path, data, n);
    if (s != LILM_OK) {
        warnf(rd, "%s: cannot read: %s", name, lilm_last_error());
        return -1;
    }
    if (*n > LILM_RUNDIR_MAX_FILE) {
        warnf(rd, "%s: %zu bytes, larger than the %u bytes read from a run dir; ignored", name, *n, LILM_RUNDIR_MAX_FILE);
        free(*data);
        *data = NULL;
        return -1;
    }
    return 1;
}

/* Reads a text file as clean UTF-8 into *out (owned). */
static void read_text(reader *rd, const char *name, char **out)
{
    char *data;
    size_t n;
    if (read_optional(rd, name, &data, &n) != 1) return;
    size_t fixed = 0;
    *out = utf8_clean(data, n, &fixed);
    free(data);
    if (fixed) warnf(rd, "%s: %zu invalid UTF-8 or NUL bytes replaced", name, fixed);
}

/* ---- run.json ---- */

typedef enum field_kind { F_TEXT, F_INT, F_REAL } field_kind;
typedef struct json_field {
    const char *key;
    field_kind kind;
    size_t offset;
    size_t size;
} json_field;
#define FT(k, f) {k, F_TEXT, offsetof(lilm_run, f), sizeof(((lilm_run *)0)->f)}
#define FI(k, f) {k, F_INT, offsetof(lilm_run, f), 0}
#define FR(k, f) {k, F_REAL, offsetof(lilm_run, f), 0}

static const json_field run_fields[] = {
    FT("name", name),
    FT("model", model),
    FT("model_type", model_type),
    FT("dataset", dataset),
    FT("tokenizer", tokenizer),
    FT("device", device),
    FT("started_at", started_at),
    FT("finished_at", finished_at),
    FT("git_commit", git_commit),
    FT("lilm_version", lilm_version),
    FI("params", params),
    FI("layers", n_layers),
    FI("steps", steps),
    FI("tokens", tokens),
    FR("budget_minutes", budget_minutes),
    FR("elapsed_s", elapsed_s),
    FR("val_loss", val_loss),
    FR("val_bpb", val_bpb),
};

static void read_field(reader *rd, const lilm_json *obj, const json_field *f, lilm_run *r)
{
    const lilm_json *v = lilm_json_get(obj, f->key);
    if (!v || v->type == LILM_JSON_NULL) return;
    char *base = (char *)r + f->offset;
    switch (f->kind) {
    case F_TEXT:
        if (v->type != LILM_JSON_STRING) {
            warnf(rd, "run.json: \"%s\" should be a string, not %s; ignored", f->key, lilm_json_type_name(v->type));
            return;
        }
        if (v->len >= f->size || strlen(v->str) != v->len) {
            warnf(rd, "run.json: \"%s\" is longer than %zu bytes or holds NUL; truncated", f->key, f->size - 1);
        }
        snprintf(base, f->size, "%s", v->str);
        return;
    case F_INT:
        if (v->type != LILM_JSON_NUMBER || !(v->is_int || (v->number == floor(v->number) && fabs(v->number) < 9e15))) {
            warnf(rd, "run.json: \"%s\" should be an integer, not %s; ignored", f->key,
                  v->type == LILM_JSON_NUMBER ? "a fraction" : lilm_json_type_name(v->type));
            return;
        }
        {
            int64_t x = v->is_int ? v->integer : (int64_t)v->number;
            if (x < 0) {
                warnf(rd, "run.json: \"%s\" = %lld is negative; ignored", f->key, (long long)x);
                return;
            }
            memcpy(base, &x, sizeof x);
        }
        return;
    case F_REAL:
        if (v->type != LILM_JSON_NUMBER) {
            warnf(rd, "run.json: \"%s\" should be a number, not %s; ignored", f->key, lilm_json_type_name(v->type));
            return;
        }
        memcpy(base, &v->number, sizeof v->number);
        return;
    }
}

static lilm_status read_run_json(reader *rd)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/run.json", rd->dir);
    if (!lilm_path_exists(path))
        return lilm_errorf(LILM_ERR_NOT_FOUND, "%s has no run.json, so it is not a run dir\n"
                           "HINT: pass the directory that `lilm train --out DIR` wrote", rd->dir);
    lilm_json *root = NULL;
    lilm_status s = lilm_json_parse_file(&root, path);
    if (s != LILM_OK)
        return lilm_error_context(s, "cannot register the run in %s: ", rd->dir);
    if (root->type != LILM_JSON_OBJECT) {
        s = lilm_errorf(LILM_ERR_FORMAT, "%s: a JSON object was expected, not %s\nHINT: see docs/run-dir.md for its fields",
                        path, lilm_json_type_name(root->type));
        lilm_json_free(root);
        return s;
    }
    lilm_run *r = &rd->rec->run;
    for (size_t i = 0; i < sizeof run_fields / sizeof run_fields[0]; i++) read_field(rd, root, &run_fields[i], r);
    const char *status = lilm_json_get_str(root, "status");
    if (status && lilm_run_status_parse(status, &r->status) != LILM_OK)
        warnf(rd, "run.json: unknown status \"%s\" (running, done, failed or killed); taken as running", status);
    lilm_json_free(root);

    if (!r->name[0]) {   /* fall back to the directory's name */
        char tmp[1024];
        snprintf(tmp, sizeof tmp, "%s", rd->dir);
        size_t l = strlen(tmp);
        while (l > 1 && tmp[l - 1] == '/') tmp[--l] = '\0';
        const char *base = strrchr(tmp, '/');
        snprintf(r->name, sizeof r->name, "%s", base ? base + 1 : tmp);
        warnf(rd, "run.json: no \"name\"; using the directory name \"%s\"", r->name);
    }
    if (!r->model[0]) snprintf(r->model, sizeof r->model, "%s", r->model_type);
    return LILM_OK;
}

/* ---- config.yaml ---- */

/* The non-negative integer at section.key of config.yaml, or -1. */
static int64_t yaml_int(yaml_document_t *doc, const char *section, const char *key)
{
    const char *v = lilm_yaml_scalar_at(doc, section, key);
    if (!v) return -1;
    char *end = NULL;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || !end || *end || end == v || x < 0) return -1;
    return x;
}

static void read_config(reader *rd)
{
    char *data;
    size_t n;
    if (read_optional(rd, "config.yaml", &data, &n) != 1) return;
    lilm_run *r = &rd->rec->run;
    lilm_sha256_hex(data, n, r->config_sha256);
    size_t fixed = 0;
    r->config_yaml = utf8_clean(data, n, &fixed);
    if (fixed) warnf(rd, "config.yaml: %zu invalid UTF-8 or NUL bytes replaced", fixed);

    yaml_document_t doc;
    if (lilm_yaml_load(&doc, "config.yaml", data, n) != LILM_OK) {
        warnf(rd, "%s", lilm_last_error());
    } else {
        /* run.json's values win: autosize may have changed the config's */
        if (r->vocab_size < 0) r->vocab_size = yaml_int(&doc, "model", "vocab_size");
        if (r->n_layers < 0) r->n_layers = yaml_int(&doc, "model", "n_layers");
        if (r->d_model < 0) r->d_model = yaml_int(&doc, "model", "d_model");
        yaml_document_delete(&doc);
    }
    free(data);
}

/* ---- JSONL files ---- */

typedef void (*line_fn)(reader *rd, const char *file, size_t line_no, const lilm_json *obj, void *ctx);

/* Calls fn for each line of dir/name that parses as a JSON object. */
static void read_jsonl(reader *rd, const char *name, line_fn fn, void *ctx)
{
    char *data;
    size_t n;
    if (read_optional(rd, name, &data, &n) != 1) return;
    size_t line_no = 0, bad = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && data[j] != '\n') j++;
        line_no++;
        size_t len = j - i;
        int blank = 1;
        for (size_t k = i; k < j; k++)
            if (data[k] != ' ' && data[k] != '\t' && data[k] != '\r') blank = 0;
        if (!blank) {
            lilm_json *obj = NULL;
            lilm_status s = lilm_json_parse(&obj, data + i, len, "");
            if (s == LILM_OK && obj->type == LILM_JSON_OBJECT) {
                fn(rd, name, line_no, obj, ctx);
            } else if (++bad <= MAX_WARNINGS_PER_FILE) {
                /* the parser says ":1:COL (byte B): what" for this one line */
                const char *msg = lilm_last_error(), *what = strstr(msg, "): ");
                unsigned col = 0;
                if (s != LILM_OK && what && sscanf(msg, ":1:%u", &col) == 1)
                    warnf(rd, "%s:%zu:%u: %s; line skipped", name, line_no, col, what + 3);
                else if (s != LILM_OK) warnf(rd, "%s:%zu: %s; line skipped", name, line_no, msg);
                else warnf(rd, "%s:%zu: not a JSON object; line skipped", name, line_no);
            }
            lilm_json_free(obj);
        }
        i = j + 1;
    }
    if (bad > MAX_WARNINGS_PER_FILE) warnf(rd, "%s: %zu more malformed lines skipped", name, bad - MAX_WARNINGS_PER_FILE);
    free(data);
}

static double num_or_nan(const lilm_json *o, const char *key)
{
    double v;
    return lilm_json_get_num(o, key, &v) ? v : NAN;
}

static int64_t int_or_neg(const lilm_json *o, const char *key)
{
    double v;
    if (!lilm_json_get_num(o, key, &v) || !(v >= 0) || v > 9e18) return -1;
    return (int64_t)v;
}

typedef struct grow {
    size_t cap;
} grow;

static void metric_line(reader *rd, const char *file, size_t line_no, const lilm_json *o, void *ctx)
{
    grow *g = ctx;
    lilm_run_record *rec = rd->rec;
    const char *kind = lilm_json_get_str(o, "kind");
    lilm_metric_point m;
    const lilm_json *full = lilm_json_get(o, "val_full");
    m.kind = (kind && strcmp(kind, "val") == 0) || (!kind && lilm_json_get(o, "val_loss")) ? LILM_METRIC_VAL : LILM_METRIC_TRAIN;
    if (m.kind == LILM_METRIC_VAL && full && full->type == LILM_JSON_BOOL && full->boolean) m.kind = LILM_METRIC_VAL_FULL;
    m.step = int_or_neg(o, "step");
    m.tokens = int_or_neg(o, "tokens");
    m.lr = num_or_nan(o, "lr");
    m.loss = num_or_nan(o, "loss");
    m.grad_norm = num_or_nan(o, "grad_norm");
    m.tokens_per_s = num_or_nan(o, "tokens_per_s");
    m.elapsed_s = num_or_nan(o, "elapsed_s");
    m.val_loss = num_or_nan(o, "val_loss");
    m.val_bpb = num_or_nan(o, "val_bpb");
    if (m.step < 0) {
        warnf(rd, "%s:%zu: no \"step\"; line skipped", file, line_no);
        return;
    }
    if (lilm_grow((void **)&rec->metrics, &g->cap, rec->n_metrics + 1, sizeof *rec->metrics) != LILM_OK) {
        warnf(rd, "%s: out of memory; later lines skipped", file);
        return;
    }
    rec->metrics[rec->n_metrics++] = m;
}

static void add_sweep(reader *rd, grow *g, const char *file, lilm_sweep_point sp)
{
    lilm_run_record *rec = rd->rec;
    if (lilm_grow((void **)&rec->sweeps, &g->cap, rec->n_sweeps + 1, sizeof *rec->sweeps) != LILM_OK) {
        warnf(rd, "%s: out of memory; later lines skipped", file);
        return;
    }
    rec->sweeps[rec->n_sweeps++] = sp;
}

static void lr_line(reader *rd, const char *file, size_t line_no, const lilm_json *o, void *ctx)
{
    lilm_sweep_point sp = {LILM_SWEEP_LR, num_or_nan(o, "lr"), num_or_nan(o, "val_loss"), num_or_nan(o, "steps"), 1};
    if (!isfinite(sp.x)) {
        warnf(rd, "%s:%zu: no \"lr\"; line skipped", file, line_no);
        return;
    }
    add_sweep(rd, ctx, file, sp);
}

static void depth_line(reader *rd, const char *file, size_t line_no, const lilm_json *o, void *ctx)
{
    lilm_sweep_point sp = {LILM_SWEEP_DEPTH, num_or_nan(o, "layers"), num_or_nan(o, "tokens_per_param"), num_or_nan(o, "params"), 0};
    const lilm_json *ok = lilm_json_get(o, "ok");
    sp.ok = ok && ok->type == LILM_JSON_BOOL && ok->boolean;
    if (!isfinite(sp.x)) {
        warnf(rd, "%s:%zu: no \"layers\"; line skipped", file, line_no);
        return;
    }
    add_sweep(rd, ctx, file, sp);
}

/* ---- eval.json ---- */

static void read_eval(reader *rd)
{
    read_text(rd, "eval.json", &rd->rec->run.eval_json);
    lilm_run *r = &rd->rec->run;
    if (!r->eval_json) return;
    lilm_json *root = NULL;
    if (lilm_json_parse(&root, r->eval_json, strlen(r->eval_json), "eval.json") != LILM_OK) {
        warnf(rd, "%s; not used", lilm_last_error());
        return;
    }
    if (root->type != LILM_JSON_OBJECT) {
        warnf(rd, "eval.json: a JSON object was expected; not used");
    } else {
        /* the final evaluation fills what run.json left unknown */
        double v;
        if (!isfinite(r->val_bpb) && lilm_json_get_num(root, "bpb", &v)) r->val_bpb = v;
        if (!isfinite(r->val_loss) && lilm_json_get_num(root, "loss", &v)) r->val_loss = v;
    }
    lilm_json_free(root);
}

lilm_status lilm_rundir_read(const char *run_dir, lilm_run_record *rec)
{
    memset(rec, 0, sizeof *rec);
    lilm_run_init(&rec->run);
    reader rd = {run_dir, rec, {0}};
    lilm_strbuf_init(&rd.warn);
    if (strlen(run_dir) >= sizeof rec->run.run_dir)
        return lilm_errorf(LILM_ERR_ARG, "run dir path too long: %s", run_dir);
    snprintf(rec->run.run_dir, sizeof rec->run.run_dir, "%s", run_dir);
    lilm_status s = read_run_json(&rd);
    if (s != LILM_OK) {
        lilm_strbuf_free(&rd.warn);
        return s;
    }
    read_config(&rd);
    grow gm = {0}, gs = {0};
    read_jsonl(&rd, "metrics.jsonl", metric_line, &gm);
    read_jsonl(&rd, "autosize_lr.jsonl", lr_line, &gs);
    read_jsonl(&rd, "autosize_depth.jsonl", depth_line, &gs);
    read_text(&rd, "samples.txt", &rec->run.samples);
    read_eval(&rd);
    s = lilm_strbuf_status(&rd.warn);
    if (s == LILM_OK && rd.warn.len) rec->run.warnings = rd.warn.data;
    else lilm_strbuf_free(&rd.warn);
    return s;
}

lilm_status lilm_runs_sync_dir(lilm_runs_db *db, const char *run_dir, char **warnings)
{
    if (warnings) *warnings = NULL;
    lilm_run_record rec;
    lilm_status s = lilm_rundir_read(run_dir, &rec);
    if (s == LILM_OK) s = lilm_runs_upsert(db, &rec);
    if (s == LILM_OK && warnings && rec.run.warnings) {
        *warnings = rec.run.warnings;
        rec.run.warnings = NULL;
    }
    lilm_run_record_free(&rec);
    return s;
}

/* Files a run writes at the top of its directory (docs/run-dir.md). */
static const char *const run_files[] = {
    "run.json", "metrics.jsonl", "config.yaml", "samples.txt", "eval.json", "autosize.json",
    "autosize.yaml", "autosize_depth.jsonl", "autosize_lr.jsonl",
};

static int has_file(const char *dir, const char *name)
{
    char p[4096 + 64];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return lilm_path_exists(p);
}

/* 1 when a name in `dir` ends with `suffix`. */
static int has_suffix_file(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    size_t sl = strlen(suffix);
    int found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        found = n > sl && strcmp(e->d_name + n - sl, suffix) == 0;
    }
    closedir(d);
    return found;
}

/* Removes the old run's files: run_files, eval-NAME.json, checkpoints/NAME.safetensors. */
static lilm_status remove_run_files(const char *dir)
{
    char p[4096 + 300];
    for (size_t i = 0; i < sizeof run_files / sizeof run_files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, run_files[i]);
        if (unlink(p) != 0 && errno != ENOENT)
            return lilm_errorf(LILM_ERR_IO, "cannot remove %s: %s", p, strerror(errno));
    }
    const char *sub[2] = {"", "/checkpoints"};
    for (int k = 0; k < 2; k++) {
        snprintf(p, sizeof p, "%s%s", dir, sub[k]);
        DIR *d = opendir(p);
        if (!d) continue;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            size_t n = strlen(e->d_name);
            int ours = k ? n > 12 && strcmp(e->d_name + n - 12, ".safetensors") == 0
                         : strncmp(e->d_name, "eval-", 5) == 0 && n > 5 && strcmp(e->d_name + n - 5, ".json") == 0;
            if (!ours) continue;
            char f[4096 + 600];
            snprintf(f, sizeof f, "%s/%s", p, e->d_name);
            if (unlink(f) != 0 && errno != ENOENT) {
                int err = errno;
                closedir(d);
                return lilm_errorf(LILM_ERR_IO, "cannot remove %s: %s", f, strerror(err));
            }
        }
        closedir(d);
    }
    return LILM_OK;
}

lilm_status lilm_rundir_prepare_new(const char *dir, int overwrite)
{
    struct stat sb;
    if (stat(dir, &sb) != 0) return LILM_OK; /* the trainer creates it */
    if (!S_ISDIR(sb.st_mode))
        return lilm_errorf(LILM_ERR_ARG, "%s exists and is not a directory\nHINT: give --out a new directory", dir);
    if (has_file(dir, "meta.json") || has_suffix_file(dir, ".tokens"))
        return lilm_errorf(LILM_ERR_ARG, "%s is a dataset directory (it has meta.json or token shards), not a run "
                           "directory\nHINT: give --out a new directory; the dataset goes in data.dataset", dir);
    int is_run = has_file(dir, "run.json") || has_file(dir, "metrics.jsonl") || has_file(dir, "checkpoints");
    if (!is_run) return LILM_OK;
    if (!overwrite)
        return lilm_errorf(LILM_ERR_ARG, "%s already holds a run\nHINT: `lilm train --resume %s` continues it; "
                           "--overwrite replaces it; or give --out a new directory", dir, dir);
    return remove_run_files(dir);
}

/* Offset of the "running" string that is the value of the top-level
 * "status" key in run.json's text, or -1. */
static long running_at(const char *text, size_t n)
{
    lilm_json *j = NULL;
    if (lilm_json_parse(&j, text, n, "run.json") != LILM_OK) return -1;
    const char *st = lilm_json_get_str(j, "status");
    int running = st && strcmp(st, "running") == 0;
    lilm_json_free(j);
    if (!running) return -1;
    for (const char *p = strstr(text, "\"status\""); p; p = strstr(p + 1, "\"status\"")) {
        const char *q = p + 8;
        while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r') q++;
        if (*q++ != ':') continue;
        while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r') q++;
        if (strncmp(q, "\"running\"", 9) == 0) return (long)(q - text);
    }
    return -1;
}

lilm_status lilm_rundir_mark_failed(const char *dir)
{
    char path[4096 + 16];
    snprintf(path, sizeof path, "%s/run.json", dir);
    char *text = NULL;
    size_t n = 0;
    lilm_status st = lilm_read_file(path, &text, &n);
    if (st == LILM_ERR_NOT_FOUND) return LILM_OK;
    if (st != LILM_OK) return st;
    long at = running_at(text, n);
    if (at < 0) {
        free(text);
        return LILM_OK;
    }
    memcpy(text + at, "\"failed\" ", 9); /* same length: whitespace is free in JSON */
    st = lilm_write_atomic(path, text, n);
    if (st != LILM_OK) { /* no room for a temp file: patch the bytes where they are */
        FILE *f = fopen(path, "r+b");
        int ok = f && fseek(f, at, SEEK_SET) == 0 && fwrite(text + at, 1, 9, f) == 9;
        if (f && fflush(f) != 0) ok = 0;
        if (f && ok) fsync(fileno(f));
        if (f) fclose(f);
        st = ok ? LILM_OK : lilm_errorf(LILM_ERR_IO, "cannot mark %s failed: %s", path, lilm_last_error());
    }
    free(text);
    return st;
}
