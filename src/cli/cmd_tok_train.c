/*
 * cmd_tok_train.c: `lilm tok train`, training a SentencePiece tokenizer.
 *
 *   lilm tok train --output tok.model [options] FILE...
 *
 * Options are one table for the shared parser (cli/opts.h), which also
 * prints --help. Names may be written with '-' or '_' (spm_train's
 * spelling, e.g. --vocab_size, works too), as `--name value` or
 * `--name=value`; input files are arguments or `--input FILE`, in the order
 * given. Exit status: 0 done, 2 bad usage or input, 1 failure.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "core/fileio.h"
#include "tok/sp_model.h"
#include "tok/trainer.h"

/* The command line, in the parser's types; copied into lilm_tok_train_opts.
 * The defaults below are lilm_tok_train_opts_init()'s: tests/test_tok_cli.c
 * checks that a command line with no options gives exactly those. */
typedef struct cli_args {
    const char *output, *vocab_out, *field;
    lilm_opt_args inputs;
    int model_type, format, normalization;
    int64_t vocab_size, max_line_bytes, unk_id, bos_id, eos_id, pad_id, max_sentence_length, input_sentence_size,
        max_sentencepiece_length, seed_sentencepiece_size, num_sub_iterations, threads, seed;
    double character_coverage, shrinking_factor;
    int byte_fallback, quiet;
} cli_args;

#define A(f) offsetof(cli_args, f)
static const lilm_opt k_opts[] = {
    {"input", 0, LILM_OPT_ARGS | LILM_OPT_AS_OPTION | LILM_OPT_REQUIRED, A(inputs), NULL, 0, 0,
     "training text files"},
    {"output", 0, LILM_OPT_STRING | LILM_OPT_REQUIRED, A(output), NULL, 0, 0, "the .model file to write"},
    {"vocab-out", 0, LILM_OPT_STRING, A(vocab_out), NULL, 0, 0, "also write a .vocab listing (piece<TAB>score)"},
    {"model-type", 0, LILM_OPT_CHOICE, A(model_type), "unigram|bpe", 0, 0, "algorithm"},
    {"vocab-size", 0, LILM_OPT_INT, A(vocab_size), "8000", 1, 1000000,
     "pieces in the model, special and byte pieces included"},
    {"format", 0, LILM_OPT_CHOICE, A(format), "text|jsonl|docs",  0, 0,
     "text lines, JSONL objects, or NUL-terminated documents"},
    {"field", 0, LILM_OPT_STRING, A(field), "text", 0, 0, "JSONL field holding the text"},
    {"max-line-bytes", 0, LILM_OPT_INT, A(max_line_bytes), "0", 0, 1e9,
     "cut longer lines at spaces into pieces of at most this size; 0 = off"},
    {"normalization", 0, LILM_OPT_CHOICE, A(normalization), "nmt_nfkc_cf|identity", 0, 0, "text normalisation"},
    {"character-coverage", 0, LILM_OPT_FLOAT, A(character_coverage), "1", 1e-9, 1,
     "share of characters the alphabet covers"},
    {"byte-fallback", 0, LILM_OPT_BOOL, A(byte_fallback), "true", 0, 0,
     "add the 256 byte pieces <0x00>..<0xFF>"},
    {"unk-id", 0, LILM_OPT_INT, A(unk_id), "0", 0, 1e6, "id of <unk>"},
    {"bos-id", 0, LILM_OPT_INT, A(bos_id), "1", -1, 1e6, "id of <s>, -1 for none"},
    {"eos-id", 0, LILM_OPT_INT, A(eos_id), "2", -1, 1e6, "id of </s>, -1 for none"},
    {"pad-id", 0, LILM_OPT_INT, A(pad_id), "3", -1, 1e6, "id of <pad>, -1 for none"},
    {"max-sentence-length", 0, LILM_OPT_INT, A(max_sentence_length), "4192", 1, 1e9,
     "skip sentences longer than this many bytes"},
    {"input-sentence-size", 0, LILM_OPT_INT, A(input_sentence_size), "0", 0, 1e12,
     "train on a random sample of this many sentences; 0 = all"},
    {"max-sentencepiece-length", 0, LILM_OPT_INT, A(max_sentencepiece_length), "16", 1, 512,
     "longest piece in characters"},
    {"seed-sentencepiece-size", 0, LILM_OPT_INT, A(seed_sentencepiece_size), "1000000", 1000, 5e6,
     "unigram seed pieces"},
    {"shrinking-factor", 0, LILM_OPT_FLOAT, A(shrinking_factor), "0.75", 0.5, 0.95,
     "unigram pruning keeps this share per round"},
    {"num-sub-iterations", 0, LILM_OPT_INT, A(num_sub_iterations), "2", 1, 10, "unigram EM steps per round"},
    {"threads", 0, LILM_OPT_INT, A(threads), "2", 1, 256, "worker threads"},
    {"seed", 0, LILM_OPT_INT, A(seed), "0", 0, 9.2e18, "random seed for sampling"},
    {"quiet", 0, LILM_OPT_BOOL, A(quiet), "false", 0, 0, "no progress lines"},
};
#undef A
static const lilm_opt_spec k_spec = LILM_OPT_SPEC(
    "tok train",
    "Trains a SentencePiece unigram or BPE tokenizer that lilm and the sentencepiece library both load.",
    k_opts,
    "Names may be written with '_' for '-' (spm_train's spelling: --vocab_size).\n"
    "example: lilm tok train --output tok.model --vocab-size 12000 corpus.txt\n"
    "See docs/tokenizer-training.md.");

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

/* The parsed command line as the trainer's options (log left to the caller). */
static void to_train_opts(const cli_args *c, lilm_tok_train_opts *t)
{
    static const char *const norms[] = {"nmt_nfkc_cf", "identity"};
    static const lilm_train_format formats[] = {LILM_TRAIN_TEXT, LILM_TRAIN_JSONL, LILM_TRAIN_DOCS};
    lilm_tok_train_opts_init(t);
    t->inputs = c->inputs.items;
    t->n_inputs = (size_t)c->inputs.n;
    t->model_type = c->model_type == 1 ? LILM_SP_MODEL_BPE : LILM_SP_MODEL_UNIGRAM;
    t->format = formats[c->format];
    t->jsonl_field = c->field;
    t->normalization = norms[c->normalization];
    t->vocab_size = (int32_t)c->vocab_size;
    t->max_line_bytes = (size_t)c->max_line_bytes;
    t->character_coverage = c->character_coverage;
    t->byte_fallback = c->byte_fallback != 0;
    t->unk_id = (int32_t)c->unk_id;
    t->bos_id = (int32_t)c->bos_id;
    t->eos_id = (int32_t)c->eos_id;
    t->pad_id = (int32_t)c->pad_id;
    t->max_sentence_length = (int32_t)c->max_sentence_length;
    t->input_sentence_size = c->input_sentence_size;
    t->max_sentencepiece_length = (int32_t)c->max_sentencepiece_length;
    t->seed_sentencepiece_size = (int32_t)c->seed_sentencepiece_size;
    t->shrinking_factor = c->shrinking_factor;
    t->num_sub_iterations = (int32_t)c->num_sub_iterations;
    t->threads = (int32_t)c->threads;
    t->seed = (uint64_t)c->seed;
}

int lilm_cmd_tok_train(int argc, char **argv)
{
    cli_args c;
    int rc = lilm_opts_parse_cli(&k_spec, argc, argv, &c);
    if (rc >= 0) return rc;
    struct {
        lilm_tok_train_opts t;
        const char *output, *vocab_out;
        bool quiet;
    } a;
    to_train_opts(&c, &a.t);
    a.output = c.output;
    a.vocab_out = c.vocab_out;
    a.quiet = c.quiet;
    a.t.log = a.quiet ? NULL : stderr;

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    lilm_sp_model model;
    lilm_status st = lilm_tok_train(&a.t, &model);
    if (st == LILM_OK) st = lilm_sp_model_write(&model, a.output);
    if (st == LILM_OK && a.vocab_out) st = write_vocab(&model, a.vocab_out);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    rc = 0;
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
    return rc;
}
