/*
 * cmd_tok.c: `lilm tok`: apply, inspect and train SentencePiece-compatible tokenizers.
 *
 *   lilm tok encode --model M [--output-format id|piece] [--threads N] [--null] [FILES...]
 *   lilm tok decode --model M [FILES...]
 *   lilm tok normalize --model M [FILES...]
 *   lilm tok info --model M [--json]
 *   lilm tok rewrite --model M --output OUT [--rebuild]
 *   lilm tok train ...        (cmd_tok_train.c)
 *
 * encode reads lines (NUL-separated records with --null) from the files or
 * stdin and prints one line per record, like spm_encode. Input is processed in
 * chunks of whole records; each chunk is cut into blocks that the threads
 * encode into their own buffers, and the blocks are written in input order, so
 * the output never depends on the thread count.
 */
#include <errno.h>
#include <stddef.h>
#include <limits.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "tok/sp_model.h"
#include "tok/tokenizer.h"

#define CHUNK_BYTES (8u << 20)
#define BLOCK_RECORDS 64

typedef enum tok_out { OUT_ID, OUT_PIECE, OUT_TEXT, OUT_NORM } tok_out;

typedef struct tok_opts {
    const char *model;
    tok_out out;
    int threads;
    int null_sep;
    int null_out;
    int json;
    int rebuild;
    const char *output;
    const char **files;
    int n_files;
} tok_opts;

typedef struct obuf {
    char *s;
    size_t n, cap;
} obuf;

static int ob_reserve(obuf *b, size_t extra)
{
    if (b->n + extra <= b->cap) return 0;
    size_t nc = b->cap ? b->cap : 4096;
    while (nc < b->n + extra) nc *= 2;
    char *p = realloc(b->s, nc);
    if (!p) return -1;
    b->s = p;
    b->cap = nc;
    return 0;
}

static int ob_put(obuf *b, const char *s, size_t n)
{
    if (n == 0) return 0;
    if (ob_reserve(b, n)) return -1;
    memcpy(b->s + b->n, s, n);
    b->n += n;
    return 0;
}

/* The command line of one subcommand, in the parser's types. */
typedef struct tok_args {
    const char *model, *output;
    lilm_opt_args files;
    int64_t threads;
    int out_format, null_sep, null_out, json, rebuild;
} tok_args;

#define A(f) offsetof(tok_args, f)
#define MODEL_ROW                                                                                              \
    {"model", 'm', LILM_OPT_STRING | LILM_OPT_REQUIRED, A(model), NULL, 0, 0,                                  \
     "a SentencePiece .model file, or \"bytes\" for the built-in byte tokenizer "                              \
     "(e.g. ../shared/tokenizers/unigram_8K.model)"}
#define STREAM_ROWS                                                                                            \
    {"files", 0, LILM_OPT_ARGS, A(files), NULL, 0, 0, "input files (default: stdin)"},                         \
    MODEL_ROW,                                                                                                 \
    {"threads", 0, LILM_OPT_INT, A(threads), NULL, 1, 1024, "worker threads (default: all cores)"},            \
    {"null", '0', LILM_OPT_BOOL, A(null_sep), "false", 0, 0, "input records end with NUL bytes, not newlines"}, \
    {"null-output", 0, LILM_OPT_BOOL, A(null_out), "false", 0, 0, "output records end with NUL bytes"}

static const lilm_opt encode_opts[] = {
    STREAM_ROWS,
    {"output-format", 0, LILM_OPT_CHOICE, A(out_format), "id|piece", 0, 0, "print ids or pieces"},
};
static const lilm_opt stream_opts[] = {STREAM_ROWS};
static const lilm_opt info_opts[] = {
    MODEL_ROW,
    {"json", 0, LILM_OPT_BOOL, A(json), "false", 0, 0, "print JSON"},
};
static const lilm_opt rewrite_opts[] = {
    MODEL_ROW,
    {"output", 0, LILM_OPT_STRING | LILM_OPT_REQUIRED, A(output), NULL, 0, 0, "the .model file to write"},
    {"rebuild", 0, LILM_OPT_BOOL, A(rebuild), "false", 0, 0,
     "write a model built afresh from the interpreted fields (what a trainer writes)"},
};
#undef STREAM_ROWS
#undef MODEL_ROW
#undef A

static const lilm_opt_spec k_specs[] = {
    LILM_OPT_SPEC("tok encode", "encode each line (or NUL-separated record) into ids or pieces, like spm_encode",
                  encode_opts, NULL),
    LILM_OPT_SPEC("tok decode", "decode each line of ids back into text", stream_opts, NULL),
    LILM_OPT_SPEC("tok normalize", "print each line as sentencepiece's normaliser leaves it", stream_opts, NULL),
    LILM_OPT_SPEC("tok info", "type, vocab size, special ids, normaliser and sha256 of a model", info_opts, NULL),
    LILM_OPT_SPEC("tok rewrite", "read a .model and write it back (a byte-identical copy)", rewrite_opts, NULL),
};

static void usage(FILE *f)
{
    fprintf(f, "usage: lilm tok encode --model M [--output-format id|piece] [--threads N] [--null] [FILES...]\n"
               "       lilm tok decode --model M [FILES...]        (one line of ids per text)\n"
               "       lilm tok normalize --model M [FILES...]     (sentencepiece's normalised text)\n"
               "       lilm tok info --model M [--json]\n"
               "       lilm tok rewrite --model M --output OUT [--rebuild]   (read and write back a .model;\n"
               "                        --rebuild: through a model built afresh from the interpreted fields)\n"
               "       lilm tok train --help\n"
               "Reads stdin when no FILES are given. --null: input records end with NUL bytes instead of\n"
               "newlines; --null-output: output records do. --threads N (default: all cores).\n"
               "M is a SentencePiece .model file, or \"bytes\" for the built-in byte tokenizer.\n"
               "`lilm tok <sub> --help` lists each subcommand's options.\n");
}

/* Parses argv (argv[0] = the subcommand) into o; returns -1 to go on, else
 * the exit status (0 after --help, 2 after an error). */
static int parse_opts(int argc, char **argv, tok_opts *o, const lilm_opt_spec *spec)
{
    tok_args a;
    int rc = lilm_opts_parse_cli(spec, argc, argv, &a);
    if (rc >= 0) return rc;
    memset(o, 0, sizeof *o);
    const char *sub = argv[0];
    o->out = strcmp(sub, "decode") == 0 ? OUT_TEXT : strcmp(sub, "normalize") == 0 ? OUT_NORM
             : a.out_format == 1                   ? OUT_PIECE
                                                   : OUT_ID;
    o->model = a.model;
    o->threads = a.threads ? (int)a.threads : omp_get_max_threads();
    o->null_sep = a.null_sep;
    o->null_out = a.null_out;
    o->json = a.json;
    o->rebuild = a.rebuild;
    o->output = a.output;
    o->files = a.files.items;
    o->n_files = (int)a.files.n;
    return -1;
}

static char *fmt_int(char *p, int32_t v)
{
    char tmp[12];
    int n = 0;
    uint32_t u = v < 0 ? (uint32_t)0 - (uint32_t)v : (uint32_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) *p++ = '-';
    while (n) *p++ = tmp[--n];
    return p;
}

/* Parses "12 7 99" into ids. Returns 0, or -1 with a message in err. */
static int parse_ids(const char *s, size_t n, int32_t **ids, size_t *cap, size_t *n_ids, char *err, size_t err_n)
{
    size_t k = 0, i = 0;
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')) i++;
        if (i >= n) break;
        int neg = 0;
        if (s[i] == '-') {
            neg = 1;
            i++;
        }
        if (i >= n || s[i] < '0' || s[i] > '9') {
            snprintf(err, err_n, "expected an integer id at column %zu", i + 1);
            return -1;
        }
        int64_t v = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            v = v * 10 + (s[i] - '0');
            if (v > INT32_MAX) {
                snprintf(err, err_n, "id too large at column %zu", i + 1);
                return -1;
            }
            i++;
        }
        if (i < n && s[i] != ' ' && s[i] != '\t' && s[i] != '\r') {
            snprintf(err, err_n, "unexpected character at column %zu", i + 1);
            return -1;
        }
        if (k == *cap) {
            size_t nc = *cap ? *cap * 2 : 256;
            int32_t *p = realloc(*ids, nc * sizeof *p);
            if (!p) {
                snprintf(err, err_n, "out of memory");
                return -1;
            }
            *ids = p;
            *cap = nc;
        }
        (*ids)[k++] = (int32_t)(neg ? -v : v);
    }
    *n_ids = k;
    return 0;
}

typedef struct worker {
    lilm_tok_workspace *ws;
    int32_t *ids;
    size_t ids_cap;
    char *text;
    size_t text_cap;
} worker;

/* Processes one record into b. Returns 0, or -1 with a message in err. */
static int process_record(const lilm_tokenizer *tok, const tok_opts *o, worker *w, const char *rec, size_t len,
                          obuf *b, char *err, size_t err_n)
{
    size_t n = 0;
    lilm_status s = LILM_OK;
    if (o->out == OUT_ID || o->out == OUT_PIECE) {
        s = lilm_tokenizer_encode_ws(tok, w->ws, rec, len, &w->ids, &w->ids_cap, &n);
        if (s != LILM_OK) goto lib_err;
        if (o->out == OUT_ID) {
            if (ob_reserve(b, n * 12 + 1)) goto oom;
            char *p = b->s + b->n;
            for (size_t i = 0; i < n; i++) {
                if (i) *p++ = ' ';
                p = fmt_int(p, w->ids[i]);
            }
            *p++ = o->null_out ? '\0' : '\n';
            b->n = (size_t)(p - b->s);
        } else {
            for (size_t i = 0; i < n; i++) {
                const char *piece = lilm_tokenizer_piece(tok, w->ids[i]);
                if ((i && ob_put(b, " ", 1)) || ob_put(b, piece, strlen(piece))) goto oom;
            }
            if (ob_put(b, o->null_out ? "" : "\n", 1)) goto oom;
        }
        return 0;
    }
    if (o->out == OUT_NORM) {
        s = lilm_tokenizer_normalize(tok, rec, len, &w->text, &w->text_cap, &n);
    } else {
        size_t n_ids = 0;
        if (parse_ids(rec, len, &w->ids, &w->ids_cap, &n_ids, err, err_n)) return -1;
        s = lilm_tokenizer_decode(tok, w->ids, n_ids, &w->text, &w->text_cap, &n);
    }
    if (s != LILM_OK) goto lib_err;
    if (ob_put(b, w->text, n) || ob_put(b, o->null_out ? "" : "\n", 1)) goto oom;
    return 0;
lib_err:
    snprintf(err, err_n, "%s: %s", lilm_status_str(s), lilm_last_error());
    return -1;
oom:
    snprintf(err, err_n, "out of memory");
    return -1;
}

typedef struct rec_ref {
    size_t off, len;
} rec_ref;

/* Encodes the records of buf[0..n) in parallel and writes them in order.
 * *line_no counts records for error messages. */
static int process_chunk(const lilm_tokenizer *tok, const tok_opts *o, worker *workers, const char *buf, size_t n,
                         char sep, int final, size_t *line_no, const char *name)
{
    size_t n_rec = 0, cap_rec = 1024;
    rec_ref *recs = malloc(cap_rec * sizeof *recs);
    if (!recs) return 1;
    size_t start = 0;
    while (start < n) {
        const char *e = memchr(buf + start, sep, n - start);
        size_t end = e ? (size_t)(e - buf) : n;
        if (!e && !final) break;
        if (n_rec == cap_rec) {
            cap_rec *= 2;
            rec_ref *r = realloc(recs, cap_rec * sizeof *r);
            if (!r) {
                free(recs);
                return 1;
            }
            recs = r;
        }
        recs[n_rec++] = (rec_ref){start, end - start};
        start = end + 1;
    }
    size_t n_blocks = (n_rec + BLOCK_RECORDS - 1) / BLOCK_RECORDS;
    obuf *outs = calloc(n_blocks ? n_blocks : 1, sizeof *outs);
    int *failed_at = calloc(n_blocks ? n_blocks : 1, sizeof *failed_at);
    char (*errs)[512] = calloc(n_blocks ? n_blocks : 1, sizeof *errs);
    int rc = 0;
    if (!outs || !failed_at || !errs) {
        rc = 1;
        goto done;
    }
#pragma omp parallel for schedule(dynamic, 1) num_threads(o->threads)
    for (size_t blk = 0; blk < n_blocks; blk++) {
        worker *w = &workers[omp_get_thread_num()];
        size_t lo = blk * BLOCK_RECORDS, hi = lo + BLOCK_RECORDS < n_rec ? lo + BLOCK_RECORDS : n_rec;
        for (size_t r = lo; r < hi; r++) {
            if (process_record(tok, o, w, buf + recs[r].off, recs[r].len, &outs[blk], errs[blk], sizeof errs[blk])) {
                failed_at[blk] = (int)(r - lo) + 1;
                break;
            }
        }
    }
    for (size_t blk = 0; blk < n_blocks; blk++) {
        if (failed_at[blk]) {
            fprintf(stderr, "lilm tok: %s, record %zu: %s\n", name, *line_no + blk * BLOCK_RECORDS + (size_t)failed_at[blk],
                    errs[blk]);
            rc = 2;
            break;
        }
        if (outs[blk].n && fwrite(outs[blk].s, 1, outs[blk].n, stdout) != outs[blk].n) {
            fprintf(stderr, "lilm tok: cannot write the output: %s\n", strerror(errno));
            rc = 1;
            break;
        }
    }
    *line_no += n_rec;
done:
    for (size_t blk = 0; outs && blk < n_blocks; blk++) free(outs[blk].s);
    free(outs);
    free(failed_at);
    free(errs);
    free(recs);
    return rc;
}

/* Streams one input through process_chunk in chunks of whole records. */
static int process_stream(const lilm_tokenizer *tok, const tok_opts *o, worker *workers, FILE *in, const char *name)
{
    char sep = o->null_sep ? '\0' : '\n';
    size_t cap = CHUNK_BYTES, have = 0, line_no = 0;
    char *buf = malloc(cap);
    if (!buf) return 1;
    int rc = 0, eof = 0;
    while (!eof && rc == 0) {
        if (have == cap) {
            char *p = realloc(buf, cap * 2);
            if (!p) {
                rc = 1;
                break;
            }
            buf = p;
            cap *= 2;
        }
        size_t got = fread(buf + have, 1, cap - have, in);
        if (got == 0) {
            if (ferror(in)) {
                fprintf(stderr, "lilm tok: cannot read %s: %s\n", name, strerror(errno));
                rc = 1;
                break;
            }
            eof = 1;
        }
        have += got;
        /* process up to the last separator (everything at EOF) */
        size_t upto = have;
        if (!eof) {
            while (upto > 0 && buf[upto - 1] != sep) upto--;
            if (upto == 0) continue; /* one record longer than the buffer: read more */
        }
        if (upto > 0) rc = process_chunk(tok, o, workers, buf, upto, sep, eof, &line_no, name);
        memmove(buf, buf + upto, have - upto);
        have -= upto;
    }
    free(buf);
    return rc;
}

static int run_stream_cmd(const tok_opts *o)
{
    lilm_tokenizer *tok;
    lilm_status s = lilm_tokenizer_load(&tok, o->model);
    if (s != LILM_OK) {
        fprintf(stderr, "lilm tok: %s\nHINT: --model takes a SentencePiece .model file (or \"bytes\").\n",
                lilm_last_error());
        return 2;
    }
    worker *workers = calloc((size_t)o->threads, sizeof *workers);
    int rc = workers ? 0 : 1;
    for (int i = 0; workers && i < o->threads && rc == 0; i++)
        if (lilm_tok_workspace_create(&workers[i].ws) != LILM_OK) rc = 1;
    if (rc == 0) {
        if (o->n_files == 0) {
            rc = process_stream(tok, o, workers, stdin, "<stdin>");
        } else {
            for (int f = 0; f < o->n_files && rc == 0; f++) {
                FILE *in = fopen(o->files[f], "rb");
                if (!in) {
                    fprintf(stderr, "lilm tok: cannot open %s: %s\n", o->files[f], strerror(errno));
                    rc = 2;
                    break;
                }
                rc = process_stream(tok, o, workers, in, o->files[f]);
                fclose(in);
            }
        }
    } else {
        fprintf(stderr, "lilm tok: out of memory\n");
    }
    if (fflush(stdout) != 0 && rc == 0) {
        fprintf(stderr, "lilm tok: cannot write the output: %s\n", strerror(errno));
        rc = 1;
    }
    for (int i = 0; workers && i < o->threads; i++) {
        lilm_tok_workspace_destroy(workers[i].ws);
        free(workers[i].ids);
        free(workers[i].text);
    }
    free(workers);
    lilm_tokenizer_free(tok);
    return rc;
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

static const char *kind_name(lilm_tok_kind k)
{
    return k == LILM_TOK_UNIGRAM ? "unigram" : k == LILM_TOK_BPE ? "bpe" : "bytes";
}

static int run_info(const tok_opts *o)
{
    lilm_tokenizer *tok;
    if (lilm_tokenizer_load(&tok, o->model) != LILM_OK) {
        fprintf(stderr, "lilm tok info: %s\n", lilm_last_error());
        return 2;
    }
    const lilm_sp_model *m = lilm_tokenizer_model(tok);
    size_t counts[7] = {0};
    for (size_t i = 0; m && i < m->n_pieces; i++)
        if (m->pieces[i].type >= 1 && m->pieces[i].type <= 6) counts[m->pieces[i].type]++;
    const char *norm = m && m->normalizer_spec.name ? m->normalizer_spec.name : "";
    int byte_fallback = m ? m->trainer_spec.byte_fallback : 1;
    if (o->json) {
        printf("{\"model\": ");
        json_str(stdout, o->model);
        printf(", \"type\": \"%s\", \"vocab_size\": %d, \"unk_id\": %d, \"bos_id\": %d, \"eos_id\": %d, "
               "\"pad_id\": %d, \"byte_fallback\": %s, \"normalizer\": ",
               kind_name(lilm_tokenizer_kind(tok)), (int)lilm_tokenizer_vocab_size(tok), (int)lilm_tokenizer_unk_id(tok),
               (int)lilm_tokenizer_bos_id(tok), (int)lilm_tokenizer_eos_id(tok), (int)lilm_tokenizer_pad_id(tok),
               byte_fallback ? "true" : "false");
        json_str(stdout, norm);
        if (m)
            printf(", \"add_dummy_prefix\": %s, \"remove_extra_whitespaces\": %s, \"escape_whitespaces\": %s, "
                   "\"charsmap_bytes\": %zu, \"pieces\": {\"normal\": %zu, \"unknown\": %zu, \"control\": %zu, "
                   "\"user_defined\": %zu, \"unused\": %zu, \"byte\": %zu}",
                   m->normalizer_spec.add_dummy_prefix ? "true" : "false",
                   m->normalizer_spec.remove_extra_whitespaces ? "true" : "false",
                   m->normalizer_spec.escape_whitespaces ? "true" : "false", m->normalizer_spec.precompiled_charsmap.len,
                   counts[1], counts[2], counts[3], counts[4], counts[5], counts[6]);
        printf(", \"sha256\": \"%s\"}\n", lilm_tokenizer_sha256(tok));
    } else {
        printf("model:        %s\ntype:         %s\nvocab size:   %d\n", o->model, kind_name(lilm_tokenizer_kind(tok)),
               (int)lilm_tokenizer_vocab_size(tok));
        printf("special ids:  unk=%d bos=%d eos=%d pad=%d\nbyte fallback: %s\n", (int)lilm_tokenizer_unk_id(tok),
               (int)lilm_tokenizer_bos_id(tok), (int)lilm_tokenizer_eos_id(tok), (int)lilm_tokenizer_pad_id(tok),
               byte_fallback ? "yes" : "no");
        if (m) {
            printf("normalizer:   %s (charsmap %zu bytes; add_dummy_prefix=%d remove_extra_whitespaces=%d "
                   "escape_whitespaces=%d)\n",
                   norm[0] ? norm : "(none)", m->normalizer_spec.precompiled_charsmap.len,
                   m->normalizer_spec.add_dummy_prefix, m->normalizer_spec.remove_extra_whitespaces,
                   m->normalizer_spec.escape_whitespaces);
            printf("pieces:       %zu normal, %zu unknown, %zu control, %zu user-defined, %zu unused, %zu byte\n",
                   counts[1], counts[2], counts[3], counts[4], counts[5], counts[6]);
        }
        printf("sha256:       %s\n", lilm_tokenizer_sha256(tok));
    }
    lilm_tokenizer_free(tok);
    return 0;
}

/* A fresh model holding only what lilm interprets, built through the same
 * calls a trainer makes: the test that lilm's writer makes loadable models. */
static lilm_status rebuild_model(const lilm_sp_model *src, lilm_sp_model *m)
{
    lilm_sp_model_init(m);
    for (size_t i = 0; i < src->n_pieces; i++)
        LILM_TRY(lilm_sp_model_add_piece(m, src->pieces[i].piece, src->pieces[i].len, src->pieces[i].score,
                                         (lilm_sp_piece_type)src->pieces[i].type));
    const lilm_sp_trainer_spec *a = &src->trainer_spec;
    lilm_sp_trainer_spec *b = &m->trainer_spec;
    b->model_type = a->model_type;
    b->vocab_size = a->vocab_size;
    b->byte_fallback = a->byte_fallback;
    b->treat_whitespace_as_suffix = a->treat_whitespace_as_suffix;
    b->unk_id = a->unk_id;
    b->bos_id = a->bos_id;
    b->eos_id = a->eos_id;
    b->pad_id = a->pad_id;
    LILM_TRY(lilm_sp_str_set(&b->model_prefix, a->model_prefix));
    LILM_TRY(lilm_sp_str_set(&b->unk_piece, a->unk_piece));
    LILM_TRY(lilm_sp_str_set(&b->bos_piece, a->bos_piece));
    LILM_TRY(lilm_sp_str_set(&b->eos_piece, a->eos_piece));
    LILM_TRY(lilm_sp_str_set(&b->pad_piece, a->pad_piece));
    if (a->has & LILM_SP_HAS(44)) {
        LILM_TRY(lilm_sp_str_set(&b->unk_surface, a->unk_surface));
        b->has |= LILM_SP_HAS(44);
    }
    const lilm_sp_normalizer_spec *x = &src->normalizer_spec;
    lilm_sp_normalizer_spec *y = &m->normalizer_spec;
    LILM_TRY(lilm_sp_str_set(&y->name, x->name));
    LILM_TRY(lilm_sp_bytes_set(&y->precompiled_charsmap, x->precompiled_charsmap.data, x->precompiled_charsmap.len));
    y->add_dummy_prefix = x->add_dummy_prefix;
    y->remove_extra_whitespaces = x->remove_extra_whitespaces;
    y->escape_whitespaces = x->escape_whitespaces;
    m->has_trainer_spec = m->has_normalizer_spec = true;
    return LILM_OK;
}

static int run_rewrite(const tok_opts *o)
{
    lilm_sp_model m, fresh;
    if (lilm_sp_model_read(&m, o->model) != LILM_OK || lilm_sp_model_validate(&m) != LILM_OK) {
        fprintf(stderr, "lilm tok rewrite: %s\n", lilm_last_error());
        lilm_sp_model_free(&m);
        return 2;
    }
    lilm_status s = LILM_OK;
    const lilm_sp_model *out = &m;
    if (o->rebuild) {
        s = rebuild_model(&m, &fresh);
        out = &fresh;
    }
    if (s == LILM_OK) s = lilm_sp_model_write(out, o->output);
    if (o->rebuild) lilm_sp_model_free(&fresh);
    lilm_sp_model_free(&m);
    if (s != LILM_OK) {
        fprintf(stderr, "lilm tok rewrite: %s\n", lilm_last_error());
        return 1;
    }
    return 0;
}

int lilm_cmd_tok(int argc, char **argv)
{
    static const char *const subs[] = {"encode", "decode", "normalize", "info", "rewrite"};
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "train") == 0) return lilm_cmd_tok_train(argc - 1, argv + 1);
    size_t k = 0;
    while (k < sizeof subs / sizeof subs[0] && strcmp(sub, subs[k]) != 0) k++;
    if (k == sizeof subs / sizeof subs[0]) {
        fprintf(stderr, "lilm tok: unknown subcommand '%s'\nHINT: one of encode, decode, normalize, info, rewrite, "
                        "train.\n", sub);
        return 2;
    }
    tok_opts o;
    int rc = parse_opts(argc - 1, argv + 1, &o, &k_specs[k]);
    if (rc >= 0) return rc;
    return strcmp(sub, "info") == 0 ? run_info(&o) : strcmp(sub, "rewrite") == 0 ? run_rewrite(&o) : run_stream_cmd(&o);
}
