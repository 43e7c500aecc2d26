/*
 * cmd_data.c: `lilm data`: fetch, prepare, info, peek.
 *
 *   lilm data fetch REPO [--revision R] [--dest DIR] [--suffix .parquet] [--quiet]
 *   lilm data prepare RECIPE --tokenizer M.model|bytes --out DIR [INPUT...]
 *        [--val FILE]... [--val-rule "index%M<K"|none] [--column NAME]
 *        [--text-docs lines|blank] [--threads N] [--force] [--quiet]
 *   lilm data info DIR [--json]
 *   lilm data peek FILE [--column NAME] [--limit N] [--format text|jsonl|parquet]
 *
 * Each option is one row of a table (name, whether it takes a value, help);
 * parsing fills a small struct; numbers go through strtol with an end check.
 * Exit codes: 0 ok, 1 a run-time failure (network, disk), 2 bad usage or input.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "core/json.h"
#include "core/status.h"
#include "data/dataset.h"
#include "data/fetch.h"
#include "data/prepare.h"
#include "data/source.h"

#define MAX_LIST 256

typedef struct data_args {
    const char *positional[MAX_LIST];
    int n_positional;
    const char *val[MAX_LIST];
    int n_val;
    const char *revision, *dest, *suffix, *tokenizer, *out, *val_rule, *column, *text_docs, *threads, *format,
        *limit, *endpoint;
    int force, quiet, json, help;
} data_args;

typedef struct data_opt {
    const char *name;
    int takes_value;
    size_t offset;      /* of the const char * (value) or int (flag) in data_args */
    const char *help;
} data_opt;

#define OPT_S(n, f, h) {n, 1, offsetof(data_args, f), h}
#define OPT_F(n, f, h) {n, 0, offsetof(data_args, f), h}
static const data_opt data_opts[] = {
    OPT_S("--revision", revision, "fetch: branch, tag or commit (default main)"),
    OPT_S("--dest", dest, "fetch: download directory (default data/hf/OWNER/NAME)"),
    OPT_S("--suffix", suffix, "fetch: only files ending with this (default .parquet; \"\" = all)"),
    OPT_S("--endpoint", endpoint, "fetch: hub URL (default $HF_ENDPOINT or https://huggingface.co)"),
    OPT_S("--tokenizer", tokenizer, "prepare: SentencePiece .model file, or 'bytes'"),
    OPT_S("--out", out, "prepare: the dataset directory to write"),
    OPT_S("--val-rule", val_rule, "prepare: rows held out for validation, \"index%M<K\", or none"),
    OPT_S("--column", column, "prepare/peek: the text field (JSONL) or column (Parquet)"),
    OPT_S("--text-docs", text_docs, "prepare: text files hold one document per line (lines) or per blank-line "
                                    "separated block (blank)"),
    OPT_S("--threads", threads, "prepare: worker threads (default: all cores)"),
    OPT_S("--format", format, "prepare/peek: read every input as text, jsonl or parquet (default: by extension)"),
    OPT_S("--limit", limit, "peek: documents to print (default 5)"),
    OPT_F("--force", force, "prepare: redo the work even if the output is up to date"),
    OPT_F("--quiet", quiet, "no progress line"),
    OPT_F("--json", json, "info: print JSON"),
    OPT_F("--help", help, "this help"),
};

static void usage(FILE *f)
{
    fprintf(f, "usage:\n"
               "  lilm data fetch OWNER/NAME [--revision R] [--dest DIR]      download a Hugging Face dataset\n"
               "  lilm data prepare RECIPE --tokenizer M.model --out DIR [INPUT...] [--val FILE]...\n"
               "                                                              tokenise into a dataset directory\n"
               "  lilm data info DIR [--json]                                 documents, tokens, bytes per split\n"
               "  lilm data peek FILE [--column C] [--limit N]                show a file's first documents\n\n"
               "recipes: %s\n\noptions:\n", lilm_prepare_recipe_names());
    fprintf(f, "  %-14s %s\n", "--val FILE", "prepare: a validation file (repeatable); replaces the split rule");
    for (size_t i = 0; i < sizeof data_opts / sizeof data_opts[0]; i++)
        fprintf(f, "  %-14s %s\n", data_opts[i].name, data_opts[i].help);
    fprintf(f, "\nexamples:\n"
               "  lilm data fetch SimpleStories/SimpleStories\n"
               "  lilm data prepare simplestories --tokenizer unigram_8K.model --out data/simplestories\n"
               "  lilm data prepare babylm --tokenizer baby_unigram_12K.model --out data/babylm \\\n"
               "      ../shared/data/babylm/train --val ../shared/data/babylm/dev\n"
               "  lilm data info data/babylm\n");
}

static int parse_args(int argc, char **argv, data_args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (strcmp(s, "--val") == 0) {
            if (i + 1 >= argc || a->n_val >= MAX_LIST) {
                fprintf(stderr, "lilm data: --val needs a file\n");
                return 2;
            }
            a->val[a->n_val++] = argv[++i];
            continue;
        }
        if (strcmp(s, "-h") == 0) s = "--help";
        if (s[0] == '-' && s[1] == '-') {
            const data_opt *o = NULL;
            const char *eq = strchr(s, '=');
            size_t nlen = eq ? (size_t)(eq - s) : strlen(s);
            for (size_t k = 0; k < sizeof data_opts / sizeof data_opts[0]; k++)
                if (strlen(data_opts[k].name) == nlen && strncmp(data_opts[k].name, s, nlen) == 0) o = &data_opts[k];
            if (!o) {
                fprintf(stderr, "lilm data: unknown option '%s'\nHINT: lilm data --help lists the options\n", s);
                return 2;
            }
            if (o->takes_value) {
                const char *v = eq ? eq + 1 : NULL;
                if (!v) {
                    if (i + 1 >= argc) {
                        fprintf(stderr, "lilm data: %s needs a value\n", o->name);
                        return 2;
                    }
                    v = argv[++i];
                }
                *(const char **)((char *)a + o->offset) = v;
            } else {
                *(int *)((char *)a + o->offset) = 1;
            }
            continue;
        }
        if (a->n_positional >= MAX_LIST) {
            fprintf(stderr, "lilm data: too many arguments\n");
            return 2;
        }
        a->positional[a->n_positional++] = s;
    }
    return 0;
}

static int fail(lilm_status st, const char *what)
{
    fprintf(stderr, "lilm data %s: %s: %s\n", what, lilm_status_str(st), lilm_last_error());
    return st == LILM_ERR_NETWORK || st == LILM_ERR_IO || st == LILM_ERR_OOM || st == LILM_ERR_INTERNAL ||
                   st == LILM_ERR_INTERRUPTED
               ? 1
               : 2;
}

static int parse_count(const char *s, const char *name, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "lilm data: %s must be an integer in [%ld, %ld], got '%s'\n", name, lo, hi, s);
        return 2;
    }
    *out = v;
    return 0;
}

static lilm_input_format parse_format(const char *s, int *bad)
{
    *bad = 0;
    if (!s) return LILM_FMT_AUTO;
    if (strcmp(s, "text") == 0) return LILM_FMT_TEXT;
    if (strcmp(s, "jsonl") == 0) return LILM_FMT_JSONL;
    if (strcmp(s, "parquet") == 0) return LILM_FMT_PARQUET;
    *bad = 1;
    return LILM_FMT_AUTO;
}

static int cmd_fetch(const data_args *a)
{
    if (a->n_positional != 2) {
        fprintf(stderr, "usage: lilm data fetch OWNER/NAME [--revision R] [--dest DIR]\n");
        return 2;
    }
    lilm_fetch_opts o = {0};
    o.repo = a->positional[1];
    o.revision = a->revision;
    o.dest = a->dest;
    o.suffix = a->suffix;
    o.endpoint = a->endpoint;
    o.quiet = a->quiet;
    lilm_fetch_report r;
    lilm_status st = lilm_data_fetch(&o, &r);
    if (st == LILM_ERR_MISMATCH) { /* a bad download is a run-time failure, not bad input */
        fail(st, "fetch");
        return 1;
    }
    if (st) return fail(st, "fetch");
    printf("%s: %d files in %s (%d downloaded%s, %d already present), %.1f MB downloaded in %.1f s\n", o.repo,
           r.n_files, r.dest, r.n_downloaded, r.n_resumed ? ", resumed" : "", r.n_present,
           (double)r.bytes_downloaded / 1e6, r.seconds);
    return 0;
}

static int cmd_prepare(const data_args *a)
{
    if (a->n_positional < 2 || !a->out) {
        fprintf(stderr, "usage: lilm data prepare RECIPE --tokenizer M.model|bytes --out DIR [INPUT...]\n"
                        "HINT: recipes are %s\n", lilm_prepare_recipe_names());
        return 2;
    }
    lilm_prepare_opts o = {0};
    o.recipe = a->positional[1];
    o.tokenizer = a->tokenizer ? a->tokenizer : "bytes";
    if (!a->tokenizer)
        fprintf(stderr, "note: no --tokenizer given: using the built-in bytes tokenizer (vocab 260)\n");
    o.out_dir = a->out;
    o.inputs = a->positional + 2;
    o.n_inputs = (size_t)(a->n_positional - 2);
    o.val_inputs = a->val;
    o.n_val_inputs = (size_t)a->n_val;
    o.column = a->column;
    o.val_rule = a->val_rule;
    o.text_docs = -1;
    o.force = a->force;
    o.quiet = a->quiet;
    if (a->text_docs) {
        if (strcmp(a->text_docs, "lines") == 0) o.text_docs = 0;
        else if (strcmp(a->text_docs, "blank") == 0) o.text_docs = 1;
        else {
            fprintf(stderr, "lilm data prepare: --text-docs must be lines or blank, got '%s'\n", a->text_docs);
            return 2;
        }
    }
    if (a->threads) {
        long t;
        if (parse_count(a->threads, "--threads", 1, 1024, &t)) return 2;
        o.threads = (int)t;
    }
    if (a->format) {
        fprintf(stderr, "lilm data prepare: choose the format with the recipe (text, jsonl, parquet)\n");
        return 2;
    }
    lilm_prepare_report r;
    lilm_status st = lilm_data_prepare(&o, &r);
    for (int i = 0; i < r.n_warnings; i++) fprintf(stderr, "warning: %s\n", r.warnings[i]);
    if (st) return fail(st, "prepare");
    if (r.up_to_date) {
        printf("%s is up to date (inputs, tokenizer and options unchanged); nothing to do (--force redoes it)\n",
               o.out_dir);
    } else {
        printf("%s: %lld files, %.1f MB in %.1f s (%.1f MB/s)\n", o.out_dir, (long long)r.n_files,
               (double)r.input_bytes / 1e6, r.seconds, r.seconds > 0 ? (double)r.input_bytes / 1e6 / r.seconds : 0);
        if (r.skipped_empty) printf("  skipped %lld empty documents\n", (long long)r.skipped_empty);
    }
    for (int s = 0; s < 2; s++) {
        if (s == 1 && r.docs[1] == 0) continue;
        printf("  %-5s %10lld docs %12lld tokens %12lld bytes  %.3f bytes/token\n", s ? "val" : "train",
               (long long)r.docs[s], (long long)r.tokens[s], (long long)r.bytes[s],
               r.tokens[s] ? (double)r.bytes[s] / (double)r.tokens[s] : 0);
    }
    return 0;
}

static int cmd_info(const data_args *a)
{
    if (a->n_positional != 2) {
        fprintf(stderr, "usage: lilm data info DIR [--json]\n");
        return 2;
    }
    const char *dir = a->positional[1];
    static const char *const splits[] = {"train", "val"};
    lilm_dataset_info info[2];
    int have[2] = {0, 0};
    for (int s = 0; s < 2; s++) {
        lilm_dataset *ds = NULL;
        lilm_status st = lilm_dataset_open(&ds, dir, splits[s]);
        if (st == LILM_ERR_NOT_FOUND && s == 1) continue;
        if (st) return fail(st, "info");
        lilm_dataset_get_info(ds, &info[s]);
        have[s] = 1;
        lilm_dataset_close(ds);
    }
    if (a->json) {
        lilm_json_writer w;
        lilm_json_writer_init(&w, 1);
        lilm_json_begin_object(&w);
        lilm_json_key(&w, "dir");
        lilm_json_str(&w, dir);
        lilm_json_key(&w, "vocab_size");
        lilm_json_int(&w, info[0].vocab_size);
        lilm_json_key(&w, "eos_id");
        lilm_json_int(&w, info[0].eos_id);
        lilm_json_key(&w, "pad_id");
        lilm_json_int(&w, info[0].pad_id);
        lilm_json_key(&w, "tokenizer_sha256");
        lilm_json_str(&w, info[0].tokenizer_sha256);
        lilm_json_key(&w, "splits");
        lilm_json_begin_object(&w);
        for (int s = 0; s < 2; s++) {
            if (!have[s]) continue;
            lilm_json_key(&w, splits[s]);
            lilm_json_begin_object(&w);
            lilm_json_key(&w, "docs");
            lilm_json_int(&w, info[s].n_docs);
            lilm_json_key(&w, "tokens");
            lilm_json_int(&w, info[s].n_tokens);
            lilm_json_key(&w, "bytes");
            lilm_json_int(&w, info[s].n_bytes);
            lilm_json_key(&w, "bytes_per_token");
            lilm_json_double(&w, info[s].n_tokens ? (double)info[s].n_bytes / (double)info[s].n_tokens : 0);
            lilm_json_end_object(&w);
        }
        lilm_json_end_object(&w);
        lilm_json_end_object(&w);
        char *text;
        size_t n;
        lilm_status st = lilm_json_writer_finish(&w, &text, &n);
        if (st) return fail(st, "info");
        fwrite(text, 1, n, stdout);
        free(text);
        return 0;
    }
    printf("%s: vocab %d, eos %d, pad %d, tokenizer %.16s...\n", dir, info[0].vocab_size, info[0].eos_id,
           info[0].pad_id, info[0].tokenizer_sha256);
    printf("  %-5s %10s %12s %12s %12s\n", "split", "docs", "tokens", "bytes", "bytes/token");
    for (int s = 0; s < 2; s++) {
        if (!have[s]) continue;
        printf("  %-5s %10lld %12lld %12lld %12.3f\n", splits[s], (long long)info[s].n_docs,
               (long long)info[s].n_tokens, (long long)info[s].n_bytes,
               info[s].n_tokens ? (double)info[s].n_bytes / (double)info[s].n_tokens : 0);
    }
    return 0;
}

/* Prints the first documents of a file as JSON strings, one per line. */
static int cmd_peek(const data_args *a)
{
    if (a->n_positional != 2) {
        fprintf(stderr, "usage: lilm data peek FILE [--column C] [--limit N] [--format text|jsonl|parquet]\n");
        return 2;
    }
    long limit = 5;
    if (a->limit && parse_count(a->limit, "--limit", -1, 1L << 40, &limit)) return 2;
    int bad;
    lilm_input_format fmt = parse_format(a->format, &bad);
    if (bad) {
        fprintf(stderr, "lilm data peek: --format must be text, jsonl or parquet\n");
        return 2;
    }
    int text_docs = a->text_docs && strcmp(a->text_docs, "blank") == 0;
    const char *path = a->positional[1];
    lilm_source *src = NULL;
    lilm_status st = lilm_source_open(&src, path, fmt, a->column ? a->column : "text", (lilm_text_docs)text_docs);
    if (st) return fail(st, "peek");
    lilm_record *recs = NULL;
    size_t cap = 0, n = 0;
    long shown = 0;
    while (st == LILM_OK && (limit < 0 || shown < limit)) {
        st = lilm_source_next(src, &recs, &cap, &n, 1 << 20);
        if (st || n == 0) break;
        for (size_t i = 0; i < n && (limit < 0 || shown < limit) && st == LILM_OK; i++) {
            if (recs[i].is_null) {
                printf("null\n");
                shown++;
                continue;
            }
            lilm_json *tree = NULL;
            const char *text;
            size_t len;
            st = lilm_record_text(&recs[i], path, a->column ? a->column : "text", &tree, &text, &len);
            if (st == LILM_OK) {
                lilm_json_write_escaped(stdout, text, len);
                fputc('\n', stdout);
                shown++;
            }
            lilm_json_free(tree);
        }
    }
    free(recs);
    lilm_source_close(src);
    if (st) return fail(st, "peek");
    return 0;
}

int lilm_cmd_data(int argc, char **argv)
{
    data_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc;
    if (a.help || a.n_positional == 0) {
        usage(a.help ? stdout : stderr);
        return a.help ? 0 : 2;
    }
    const char *sub = a.positional[0];
    if (strcmp(sub, "fetch") == 0) return cmd_fetch(&a);
    if (strcmp(sub, "prepare") == 0) return cmd_prepare(&a);
    if (strcmp(sub, "info") == 0) return cmd_info(&a);
    if (strcmp(sub, "peek") == 0) return cmd_peek(&a);
    fprintf(stderr, "lilm data: unknown subcommand '%s'\nHINT: fetch, prepare, info or peek (lilm data --help)\n", sub);
    return 2;
}
