/*
 * cmd_data.c: `lilm data`: fetch, prepare, info, peek.
 *
 *   lilm data fetch REPO [--revision R] [--dest DIR] [--suffix .parquet] [--quiet]
 *   lilm data prepare RECIPE [INPUT...] --tokenizer M.model|bytes --out DIR
 *        [--val FILE]... [--val-rule "index%M<K"|none] [--column NAME]
 *        [--text-docs lines|blank] [--threads N] [--force] [--quiet]
 *   lilm data info DIR [--json]
 *   lilm data peek FILE [--column NAME] [--limit N] [--format auto|text|jsonl|parquet]
 *
 * Each subcommand is one option table for the shared parser (cli/opts.h),
 * which also prints `lilm data <sub> --help`. Exit codes: 0 ok, 1 a run-time
 * failure (network, disk, a bad download), 2 bad usage or bad input.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/opts.h"
#include "core/fileio.h"
#include "core/json.h"
#include "core/status.h"
#include "data/dataset.h"
#include "data/fetch.h"
#include "data/prepare.h"
#include "data/source.h"

typedef struct fetch_args {
    const char *repo, *revision, *dest, *suffix, *endpoint;
    int64_t timeout;
    int quiet;
} fetch_args;

static const lilm_opt fetch_opts[] = {
    {"repo", 0, LILM_OPT_STRING | LILM_OPT_POSITIONAL | LILM_OPT_REQUIRED, offsetof(fetch_args, repo), NULL, 0, 0,
     "the dataset, OWNER/NAME (e.g. SimpleStories/SimpleStories)"},
    {"revision", 'r', LILM_OPT_STRING, offsetof(fetch_args, revision), "main", 0, 0, "branch, tag or commit"},
    {"dest", 'o', LILM_OPT_STRING, offsetof(fetch_args, dest), NULL, 0, 0,
     "download directory (default data/hf/OWNER/NAME)"},
    {"suffix", 0, LILM_OPT_STRING, offsetof(fetch_args, suffix), ".parquet", 0, 0,
     "only files whose names end with this (\"\" = every file)"},
    {"endpoint", 0, LILM_OPT_STRING, offsetof(fetch_args, endpoint), NULL, 0, 0,
     "hub URL (default $HF_ENDPOINT, else https://huggingface.co); $HF_TOKEN is sent as a bearer token"},
    {"timeout", 0, LILM_OPT_INT, offsetof(fetch_args, timeout), "0", 0, 86400,
     "seconds without data before a try fails (0: $HF_HUB_DOWNLOAD_TIMEOUT, else 10)"},
    {"quiet", 'q', LILM_OPT_BOOL, offsetof(fetch_args, quiet), "false", 0, 0, "no progress line"},
};
static const lilm_opt_spec fetch_spec = LILM_OPT_SPEC(
    "data fetch", "download a Hugging Face dataset's files (resumable, SHA-256 verified)", fetch_opts,
    "example: lilm data fetch SimpleStories/SimpleStories\n");

typedef struct prepare_args {
    const char *recipe, *tokenizer, *out, *val_rule, *column;
    lilm_opt_args inputs;
    lilm_opt_list val;
    int text_docs;
    int64_t threads;
    int force, quiet;
} prepare_args;

static const lilm_opt prepare_opts[] = {
    {"recipe", 0, LILM_OPT_STRING | LILM_OPT_POSITIONAL | LILM_OPT_REQUIRED, offsetof(prepare_args, recipe), NULL, 0,
     0, "babylm, simplestories, tinystories, tiny, text, jsonl, parquet (recipes/), or a recipe file"},
    {"inputs", 0, LILM_OPT_ARGS, offsetof(prepare_args, inputs), NULL, 0, 0,
     "input files or directories (default for simplestories/babylm: what `lilm data fetch` downloaded)"},
    {"tokenizer", 't', LILM_OPT_STRING, offsetof(prepare_args, tokenizer), "bytes", 0, 0,
     "SentencePiece .model file, or bytes (the built-in byte tokenizer)"},
    {"out", 'o', LILM_OPT_STRING | LILM_OPT_REQUIRED, offsetof(prepare_args, out), NULL, 0, 0,
     "the dataset directory to write"},
    {"val", 0, LILM_OPT_LIST, offsetof(prepare_args, val), NULL, 0, 0,
     "a validation file or directory; replaces the split rule"},
    {"val-rule", 0, LILM_OPT_STRING, offsetof(prepare_args, val_rule), NULL, 0, 0,
     "rows held out for validation: \"index%M<K\", or none (default: the recipe's)"},
    {"column", 'c', LILM_OPT_STRING, offsetof(prepare_args, column), NULL, 0, 0,
     "the text field (JSONL) or column (Parquet) (default: the recipe's)"},
    {"text-docs", 0, LILM_OPT_CHOICE, offsetof(prepare_args, text_docs), "lines|blank", 0, 0,
     "text files: one document per line, or documents separated by blank lines"},
    {"threads", 'j', LILM_OPT_INT, offsetof(prepare_args, threads), "0", 0, 4096,
     "tokenizer threads (0 = all cores)"},
    {"force", 'f', LILM_OPT_BOOL, offsetof(prepare_args, force), "false", 0, 0,
     "redo the work even when the output is up to date"},
    {"quiet", 'q', LILM_OPT_BOOL, offsetof(prepare_args, quiet), "false", 0, 0, "no progress line"},
};
static const lilm_opt_spec prepare_spec = LILM_OPT_SPEC(
    "data prepare", "tokenise text, JSONL or Parquet into a dataset directory (token shards + meta.json)",
    prepare_opts,
    "examples:\n"
    "  lilm data prepare simplestories --tokenizer unigram_8K.model --out data/simplestories\n"
    "  lilm data prepare babylm --tokenizer baby_unigram_12K.model --out data/babylm \\\n"
    "      ~/babylm/train --val ~/babylm/dev\n"
    "See docs/data.md for the recipes and the files written.\n");

typedef struct info_args {
    const char *dir;
    int json;
} info_args;

static const lilm_opt info_opts[] = {
    {"dir", 0, LILM_OPT_STRING | LILM_OPT_POSITIONAL | LILM_OPT_REQUIRED, offsetof(info_args, dir), NULL, 0, 0,
     "a dataset directory written by lilm data prepare"},
    {"json", 0, LILM_OPT_BOOL, offsetof(info_args, json), "false", 0, 0, "print JSON"},
};
static const lilm_opt_spec info_spec = LILM_OPT_SPEC(
    "data info", "documents, tokens, bytes and bytes per token of each split (checks every file)", info_opts, NULL);

typedef struct peek_args {
    const char *file, *column;
    int64_t limit;
    int format, text_docs;
} peek_args;

static const lilm_opt peek_opts[] = {
    {"file", 0, LILM_OPT_STRING | LILM_OPT_POSITIONAL | LILM_OPT_REQUIRED, offsetof(peek_args, file), NULL, 0, 0,
     "a text, JSONL or Parquet file"},
    {"column", 'c', LILM_OPT_STRING, offsetof(peek_args, column), "text", 0, 0, "the text field or column"},
    {"limit", 'n', LILM_OPT_INT, offsetof(peek_args, limit), "5", -1, 1e15, "documents to print (-1 = all)"},
    {"format", 0, LILM_OPT_CHOICE, offsetof(peek_args, format), "auto|text|jsonl|parquet", 0, 0,
     "how to read the file (auto: by extension)"},
    {"text-docs", 0, LILM_OPT_CHOICE, offsetof(peek_args, text_docs), "lines|blank", 0, 0,
     "text files: one document per line, or blank-line separated"},
};
static const lilm_opt_spec peek_spec = LILM_OPT_SPEC(
    "data peek", "print a file's first documents as JSON strings, one per line (null for a Parquet null)",
    peek_opts, NULL);

static void usage(FILE *f)
{
    fprintf(f, "usage:\n"
               "  lilm data fetch OWNER/NAME [--revision R] [--dest DIR]     download a Hugging Face dataset\n"
               "  lilm data prepare RECIPE [INPUT...] --tokenizer M.model --out DIR [--val FILE]...\n"
               "                                                             tokenise into a dataset directory\n"
               "  lilm data info DIR [--json]                                docs, tokens, bytes per split\n"
               "  lilm data peek FILE [--column C] [--limit N]               show a file's first documents\n\n"
               "`lilm data <sub> --help` lists each subcommand's options; docs/data.md explains them.\n");
}

static int cmd_fetch(int argc, char **argv)
{
    fetch_args a;
    int rc = lilm_opts_parse_cli(&fetch_spec, argc, argv, &a);
    if (rc >= 0) return rc;
    lilm_fetch_opts o = {0};
    o.repo = a.repo;
    o.revision = a.revision;
    o.dest = a.dest;
    o.suffix = a.suffix;
    o.endpoint = a.endpoint;
    o.stall_seconds = (long)a.timeout;
    o.quiet = a.quiet;
    o.stop = lilm_cli_stop_flag();
    lilm_fetch_report r;
    lilm_status st = lilm_data_fetch(&o, &r);
    if (st == LILM_ERR_MISMATCH) { /* a bad download is a run-time failure, not bad input */
        lilm_cli_fail("data fetch", st);
        return 1;
    }
    if (st) return lilm_cli_fail("data fetch", st);
    printf("%s: %d files in %s (%d downloaded%s, %d already present), %.1f MB downloaded in %.1f s\n", o.repo,
           r.n_files, r.dest, r.n_downloaded, r.n_resumed ? ", resumed" : "", r.n_present,
           (double)r.bytes_downloaded / 1e6, r.seconds);
    return 0;
}

static int cmd_prepare(int argc, char **argv)
{
    prepare_args a;
    int rc = lilm_opts_parse_cli(&prepare_spec, argc, argv, &a);
    if (rc >= 0) return rc;
    lilm_prepare_opts o = {0};
    o.recipe = a.recipe;
    o.tokenizer = a.tokenizer;
    o.out_dir = a.out;
    o.inputs = a.inputs.items;
    o.n_inputs = (size_t)a.inputs.n;
    o.val_inputs = a.val.items;
    o.n_val_inputs = (size_t)a.val.n;
    o.column = a.column;
    o.val_rule = a.val_rule;
    o.text_docs = a.text_docs;
    o.threads = (int)a.threads;
    o.force = a.force;
    o.quiet = a.quiet;
    o.stop = lilm_cli_stop_flag();
    if (strcmp(a.tokenizer, "bytes") == 0 && !a.quiet)
        fprintf(stderr, "note: using the built-in bytes tokenizer (vocab 260); pass --tokenizer M.model for a "
                        "SentencePiece model\n");
    lilm_prepare_report r;
    lilm_status st = lilm_data_prepare(&o, &r);
    for (int i = 0; i < r.n_warnings; i++) fprintf(stderr, "warning: %s\n", r.warnings[i]);
    if (st) return lilm_cli_fail("data prepare", st);
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

static int cmd_info(int argc, char **argv)
{
    info_args a;
    int rc = lilm_opts_parse_cli(&info_spec, argc, argv, &a);
    if (rc >= 0) return rc;
    static const char *const splits[] = {"train", "val"};
    lilm_dataset_info info[2];
    int have[2] = {0, 0};
    for (int s = 0; s < 2; s++) {
        lilm_dataset *ds = NULL;
        lilm_status st = lilm_dataset_open(&ds, a.dir, splits[s]);
        if (st == LILM_ERR_NOT_FOUND && s == 1) /* what lilm train would refuse, info refuses too */
            st = lilm_error_context(st, "%s has no complete validation split, which lilm train needs: ", a.dir);
        if (st) return lilm_cli_fail("data info", st);
        lilm_dataset_get_info(ds, &info[s]);
        have[s] = 1;
        lilm_dataset_close(ds);
    }
    char meta[4200];
    snprintf(meta, sizeof meta, "%s/meta.json", a.dir);
    if (!lilm_path_exists(meta))
        return lilm_cli_fail("data info", lilm_errorf(LILM_ERR_NOT_FOUND, "%s does not exist, and lilm train needs it "
                                                      "(it names the tokenizer)\nHINT: prepare the dataset again with "
                                                      "`lilm data prepare`", meta));
    if (a.json) {
        lilm_json_writer w;
        lilm_json_writer_init(&w, 1);
        lilm_json_begin_object(&w);
        lilm_json_key(&w, "dir");
        lilm_json_str(&w, a.dir);
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
        if (st) return lilm_cli_fail("data info", st);
        fwrite(text, 1, n, stdout);
        free(text);
        return 0;
    }
    printf("%s: vocab %d, eos %d, pad %d, tokenizer %.16s...\n", a.dir, info[0].vocab_size, info[0].eos_id,
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
static int cmd_peek(int argc, char **argv)
{
    peek_args a;
    int rc = lilm_opts_parse_cli(&peek_spec, argc, argv, &a);
    if (rc >= 0) return rc;
    static const lilm_input_format formats[] = {LILM_FMT_AUTO, LILM_FMT_TEXT, LILM_FMT_JSONL, LILM_FMT_PARQUET};
    lilm_source *src = NULL;
    lilm_status st = lilm_source_open(&src, a.file, formats[a.format], a.column, (lilm_text_docs)a.text_docs);
    if (st) return lilm_cli_fail("data peek", st);
    lilm_record *recs = NULL;
    size_t cap = 0, n = 0;
    int64_t shown = 0;
    while (st == LILM_OK && (a.limit < 0 || shown < a.limit)) {
        st = lilm_source_next(src, &recs, &cap, &n, 1 << 20);
        if (st || n == 0) break;
        for (size_t i = 0; i < n && (a.limit < 0 || shown < a.limit) && st == LILM_OK; i++) {
            if (recs[i].is_null) {
                printf("null\n");
                shown++;
                continue;
            }
            lilm_json *tree = NULL;
            const char *text;
            size_t len;
            st = lilm_record_text(&recs[i], a.file, a.column, &tree, &text, &len);
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
    if (st) return lilm_cli_fail("data peek", st);
    return 0;
}

int lilm_cmd_data(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
        usage(stdout);
        return 0;
    }
    /* each subcommand parses argv[1..]: argv[0] is its own name */
    if (strcmp(sub, "fetch") == 0) return cmd_fetch(argc - 1, argv + 1);
    if (strcmp(sub, "prepare") == 0) return cmd_prepare(argc - 1, argv + 1);
    if (strcmp(sub, "info") == 0) return cmd_info(argc - 1, argv + 1);
    if (strcmp(sub, "peek") == 0) return cmd_peek(argc - 1, argv + 1);
    fprintf(stderr, "lilm data: unknown subcommand '%s'\nHINT: fetch, prepare, info or peek (lilm data --help)\n", sub);
    return 2;
}
