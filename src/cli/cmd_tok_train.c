/*
 * cmd_tok_train.c: `lilm tok train`, training a SentencePiece tokenizer.
 *
 *   lilm tok train --output tok.model [options] FILE...
 *
 * Options come from one table (name, kind, target field, range, help) that
 * drives parsing, range errors and --help. Names may be written with '-' or
 * '_' (spm_train's spelling, e.g. --vocab_size, works too), as `--name value`
 * or `--name=value`. Exit status: 0 done, 2 bad usage or input, 1 failure.
 */
#include <errno.h>
#include <float.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "core/fileio.h"
#include "tok/sp_model.h"
#include "tok/trainer.h"

typedef enum opt_kind { OPT_INT32, OPT_INT64, OPT_SIZE, OPT_DOUBLE, OPT_BOOL, OPT_STR, OPT_CHOICE } opt_kind;

typedef struct cli_args {
    lilm_tok_train_opts t;
    const char *output;
    const char *vocab_out;
    const char *model_type;
    const char *format;
    bool quiet;
} cli_args;

typedef struct opt_row {
    const char *name;
    opt_kind kind;
    size_t offset;
    double min, max;
    const char *choices; /* for OPT_CHOICE: "a|b" */
    const char *help;
} opt_row;

#define T(f) offsetof(cli_args, t.f)
#define A(f) offsetof(cli_args, f)
static const opt_row k_opts[] = {
    {"output", OPT_STR, A(output), 0, 0, NULL, "the .model file to write (required)"},
    {"vocab-out", OPT_STR, A(vocab_out), 0, 0, NULL, "also write a .vocab listing (piece<TAB>score)"},
    {"model-type", OPT_CHOICE, A(model_type), 0, 0, "unigram|bpe", "algorithm (default unigram)"},
    {"vocab-size", OPT_INT32, T(vocab_size), 1, 1000000, NULL, "pieces in the model, special and byte pieces included (default 8000)"},
    {"format", OPT_CHOICE, A(format), 0, 0, "text|jsonl|docs", "text lines, JSONL objects, or NUL-terminated documents (default text)"},
    {"field", OPT_STR, T(jsonl_field), 0, 0, NULL, "JSONL field holding the text (default text)"},
    {"max-line-bytes", OPT_SIZE, T(max_line_bytes), 0, 1e9, NULL, "cut longer lines at spaces into pieces of at most this size; 0 = off (default 0)"},
    {"normalization", OPT_CHOICE, T(normalization), 0, 0, "nmt_nfkc_cf|identity", "text normalisation (default nmt_nfkc_cf)"},
    {"character-coverage", OPT_DOUBLE, T(character_coverage), 1e-9, 1, NULL, "share of characters the alphabet covers (default 1)"},
    {"byte-fallback", OPT_BOOL, T(byte_fallback), 0, 1, NULL, "add the 256 byte pieces <0x00>..<0xFF>; --byte-fallback=false to omit (default true)"},
    {"unk-id", OPT_INT32, T(unk_id), 0, 1e6, NULL, "id of <unk> (default 0)"},
    {"bos-id", OPT_INT32, T(bos_id), -1, 1e6, NULL, "id of <s>, -1 for none (default 1)"},
    {"eos-id", OPT_INT32, T(eos_id), -1, 1e6, NULL, "id of </s>, -1 for none (default 2)"},
    {"pad-id", OPT_INT32, T(pad_id), -1, 1e6, NULL, "id of <pad>, -1 for none (default 3)"},
    {"max-sentence-length", OPT_INT32, T(max_sentence_length), 1, 1e9, NULL, "skip sentences longer than this many bytes (default 4192)"},
    {"input-sentence-size", OPT_INT64, T(input_sentence_size), 0, 1e12, NULL, "train on a random sample of this many sentences; 0 = all (default 0)"},
    {"max-sentencepiece-length", OPT_INT32, T(max_sentencepiece_length), 1, 512, NULL, "longest piece in characters (default 16)"},
    {"seed-sentencepiece-size", OPT_INT32, T(seed_sentencepiece_size), 1000, 5e6, NULL, "unigram seed pieces (default 1000000)"},
    {"shrinking-factor", OPT_DOUBLE, T(shrinking_factor), 0.5, 0.95, NULL, "unigram pruning keeps this share per round (default 0.75)"},
    {"num-sub-iterations", OPT_INT32, T(num_sub_iterations), 1, 10, NULL, "unigram EM steps per round (default 2)"},
    {"threads", OPT_INT32, T(threads), 1, 256, NULL, "worker threads (default 2)"},
    {"seed", OPT_INT64, T(seed), 0, 9.2e18, NULL, "random seed for sampling (default 0)"},
    {"quiet", OPT_BOOL, A(quiet), 0, 1, NULL, "no progress lines"},
};
#undef T
#undef A

static void usage(FILE *f)
{
    fprintf(f, "usage: lilm tok train --output FILE.model [options] INPUT...\n\n"
               "Trains a SentencePiece unigram or BPE tokenizer that lilm and the sentencepiece\n"
               "library both load. Options (--name VALUE or --name=VALUE; '_' works for '-'):\n");
    for (size_t i = 0; i < sizeof(k_opts) / sizeof(k_opts[0]); i++) {
        const opt_row *r = &k_opts[i];
        const char *arg = r->kind == OPT_BOOL ? "" : r->kind == OPT_CHOICE ? r->choices
                        : r->kind == OPT_STR ? "STR" : r->kind == OPT_DOUBLE ? "NUM" : "INT";
        fprintf(f, "  --%-26s %-22s %s\n", r->name, arg, r->help);
    }
}

static const opt_row *find_opt(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(k_opts) / sizeof(k_opts[0]); i++) {
        const char *n = k_opts[i].name;
        if (strlen(n) != len) continue;
        size_t j = 0;
        for (; j < len; j++) {
            char c = name[j] == '_' ? '-' : name[j];
            if (c != n[j]) break;
        }
        if (j == len) return &k_opts[i];
    }
    return NULL;
}

static int set_opt(cli_args *a, const opt_row *r, const char *v)
{
    char *base = (char *)a + r->offset;
    char *end = NULL;
    errno = 0;
    switch (r->kind) {
    case OPT_STR: *(const char **)base = v; return 0;
    case OPT_CHOICE: {
        size_t vl = strlen(v);
        for (const char *c = r->choices; *c;) {
            const char *bar = strchr(c, '|');
            size_t cl = bar ? (size_t)(bar - c) : strlen(c);
            if (cl == vl && strncmp(c, v, vl) == 0) {
                *(const char **)base = v;
                return 0;
            }
            c += cl + (bar ? 1 : 0);
        }
        fprintf(stderr, "lilm tok train: --%s must be one of %s, not '%s'\n", r->name, r->choices, v);
        return -1;
    }
    case OPT_BOOL:
        if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0) *(bool *)(void *)base = true;
        else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0) *(bool *)(void *)base = false;
        else {
            fprintf(stderr, "lilm tok train: --%s takes true or false, not '%s'\n", r->name, v);
            return -1;
        }
        return 0;
    case OPT_DOUBLE: {
        double d = strtod(v, &end);
        if (errno || end == v || *end || d < r->min || d > r->max) break;
        *(double *)(void *)base = d;
        return 0;
    }
    default: {
        long long x = strtoll(v, &end, 10);
        if (errno || end == v || *end || (double)x < r->min || (double)x > r->max) break;
        if (r->kind == OPT_INT32) *(int32_t *)(void *)base = (int32_t)x;
        else if (r->kind == OPT_INT64) *(int64_t *)(void *)base = (int64_t)x;
        else *(size_t *)(void *)base = (size_t)x;
        return 0;
    }
    }
    fprintf(stderr, "lilm tok train: --%s: '%s' is not a number in [%g, %g]\n", r->name, v, r->min, r->max);
    return -1;
}

static lilm_status write_vocab(const lilm_sp_model *m, const char *path)
{
    lilm_atomic_file af;
    LILM_TRY(lilm_atomic_open(&af, path));
    for (size_t i = 0; i < m->n_pieces; i++) {
        fwrite(m->pieces[i].piece, 1, m->pieces[i].len, af.f);
        fprintf(af.f, "\t%g\n", (double)m->pieces[i].score);
    }
    return lilm_atomic_commit(&af);
}

int lilm_cmd_tok_train(int argc, char **argv)
{
    cli_args a;
    memset(&a, 0, sizeof(a));
    lilm_tok_train_opts_init(&a.t);
    a.model_type = "unigram";
    a.format = "text";
    const char **inputs = calloc((size_t)argc + 1, sizeof(*inputs));
    size_t n_inputs = 0;
    if (!inputs) return 1;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
            usage(stdout);
            free(inputs);
            return 0;
        }
        if (strncmp(s, "--", 2) != 0 || s[2] == 0) {
            inputs[n_inputs++] = s;
            continue;
        }
        const char *name = s + 2, *eq = strchr(name, '=');
        size_t nl = eq ? (size_t)(eq - name) : strlen(name);
        const opt_row *r = find_opt(name, nl);
        if (!r && nl == 5 && strncmp(name, "input", 5) == 0) { /* --input FILE, as spm_train */
            const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v) break;
            inputs[n_inputs++] = v;
            continue;
        }
        if (!r) {
            fprintf(stderr, "lilm tok train: unknown option '%s'\nHINT: run `lilm tok train --help` for the list\n", s);
            free(inputs);
            return 2;
        }
        const char *v;
        if (eq) v = eq + 1;
        else if (r->kind == OPT_BOOL) v = "true";
        else if (i + 1 < argc) v = argv[++i];
        else {
            fprintf(stderr, "lilm tok train: --%s needs a value\n", r->name);
            free(inputs);
            return 2;
        }
        if (set_opt(&a, r, v) != 0) {
            free(inputs);
            return 2;
        }
    }
    if (!a.output || n_inputs == 0) {
        fprintf(stderr, "lilm tok train: %s\n", !a.output ? "--output FILE.model is required" : "no input files given");
        usage(stderr);
        free(inputs);
        return 2;
    }
    a.t.inputs = inputs;
    a.t.n_inputs = n_inputs;
    a.t.model_type = strcmp(a.model_type, "bpe") == 0 ? LILM_SP_MODEL_BPE : LILM_SP_MODEL_UNIGRAM;
    a.t.format = strcmp(a.format, "jsonl") == 0 ? LILM_TRAIN_JSONL
               : strcmp(a.format, "docs") == 0  ? LILM_TRAIN_DOCS
                                                : LILM_TRAIN_TEXT;
    a.t.log = a.quiet ? NULL : stderr;

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    lilm_sp_model model;
    lilm_status st = lilm_tok_train(&a.t, &model);
    if (st == LILM_OK) st = lilm_sp_model_write(&model, a.output);
    if (st == LILM_OK && a.vocab_out) st = write_vocab(&model, a.vocab_out);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int rc = 0;
    if (st != LILM_OK) {
        fprintf(stderr, "lilm tok train: %s: %s\n", lilm_status_str(st), lilm_last_error());
        if (st == LILM_ERR_ARG || st == LILM_ERR_FORMAT)
            fprintf(stderr, "HINT: see `lilm tok train --help` and docs/tokenizer-training.md\n");
        rc = (st == LILM_ERR_ARG || st == LILM_ERR_FORMAT || st == LILM_ERR_IO || st == LILM_ERR_NOT_FOUND) ? 2 : 1;
    } else if (!a.quiet) {
        fprintf(stderr, "tok train: wrote %s (%zu pieces) in %.1f s\n", a.output, model.n_pieces,
                (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    }
    lilm_sp_model_free(&model); /* safe after a failed train too: it is left zeroed */
    free(inputs);
    return rc;
}
