/*
 * test_tok_train_cli.c: `lilm tok train`'s option table (src/cli/cmd_tok_train.c)
 * against the trainer's own defaults.
 *
 * A command line that gives only an output and an input must yield exactly
 * lilm_tok_train_opts_init()'s options, so the table's default texts (which
 * --help prints) can never drift from the library's; every option spelled
 * both ways (--vocab-size, --vocab_size) and --input FILE mixed with
 * arguments keep their meaning and order. The Makefile links tests against
 * liblilm.a only, so this file compiles the parser and the command in.
 */
#include "test.h"

#include "cli/opts.c"
#include "cli/cmd_tok_train.c"

static lilm_status parse(cli_args *c, int argc, const char **args)
{
    char *argv[32];
    argv[0] = (char *)"tok train";
    for (int i = 0; i < argc && i < 31; i++) argv[i + 1] = (char *)args[i];
    int help = 0;
    return lilm_opts_parse(&k_spec, argc + 1, argv, c, &help);
}

static void test_defaults_match_library(lilm_test *t)
{
    const char *args[] = {"--output", "x.model", "in.txt"};
    cli_args c;
    LT_OK(t, parse(&c, 3, args));
    lilm_tok_train_opts got, want;
    to_train_opts(&c, &got);
    lilm_tok_train_opts_init(&want);
    LT_EQ_INT(t, got.n_inputs, 1);
    LT_EQ_INT(t, got.format, want.format);
    LT_TRUE(t, strcmp(got.jsonl_field, want.jsonl_field) == 0);
    LT_EQ_INT(t, got.model_type, want.model_type);
    LT_EQ_INT(t, got.vocab_size, want.vocab_size);
    LT_TRUE(t, strcmp(got.normalization, want.normalization) == 0);
    LT_EQ_INT(t, got.max_line_bytes, want.max_line_bytes);
    LT_TRUE(t, got.character_coverage == want.character_coverage);
    LT_EQ_INT(t, got.byte_fallback, want.byte_fallback);
    LT_EQ_INT(t, got.unk_id, want.unk_id);
    LT_EQ_INT(t, got.bos_id, want.bos_id);
    LT_EQ_INT(t, got.eos_id, want.eos_id);
    LT_EQ_INT(t, got.pad_id, want.pad_id);
    LT_EQ_INT(t, got.max_sentence_length, want.max_sentence_length);
    LT_EQ_INT(t, got.input_sentence_size, want.input_sentence_size);
    LT_EQ_INT(t, got.max_sentencepiece_length, want.max_sentencepiece_length);
    LT_EQ_INT(t, got.seed_sentencepiece_size, want.seed_sentencepiece_size);
    LT_TRUE(t, got.shrinking_factor == want.shrinking_factor);
    LT_EQ_INT(t, got.num_sub_iterations, want.num_sub_iterations);
    LT_EQ_INT(t, got.threads, want.threads);
    LT_TRUE(t, got.seed == want.seed);
}

static void test_spellings_and_inputs(lilm_test *t)
{
    const char *args[] = {"a.txt", "--vocab_size", "300", "--input", "b.txt", "--model-type=bpe", "c.txt",
                          "--input=d.txt", "--byte-fallback=false", "--format", "jsonl", "--normalization",
                          "identity", "--output", "m.model", "--seed", "7"};
    cli_args c;
    LT_OK(t, parse(&c, 17, args));
    lilm_tok_train_opts o;
    to_train_opts(&c, &o);
    LT_EQ_INT(t, o.n_inputs, 4);
    const char *order[] = {"a.txt", "b.txt", "c.txt", "d.txt"};
    for (size_t i = 0; i < 4 && i < o.n_inputs; i++) LT_TRUE(t, strcmp(o.inputs[i], order[i]) == 0);
    LT_EQ_INT(t, o.vocab_size, 300);
    LT_EQ_INT(t, o.model_type, LILM_SP_MODEL_BPE);
    LT_EQ_INT(t, o.byte_fallback, 0);
    LT_EQ_INT(t, o.format, LILM_TRAIN_JSONL);
    LT_TRUE(t, strcmp(o.normalization, "identity") == 0);
    LT_TRUE(t, o.seed == 7);
    const char *bad[] = {"--output", "m", "in.txt", "--vocab-size", "0"};
    LT_STATUS(t, parse(&c, 5, bad), LILM_ERR_ARG);
    LT_CHECK(t, strstr(lilm_last_error(), "--vocab-size") != NULL, "got '%s'", lilm_last_error());
    const char *no_input[] = {"--output", "m"};
    LT_STATUS(t, parse(&c, 2, no_input), LILM_ERR_ARG);
}

static const lilm_test_case cases[] = {
    {"defaults_match_library", test_defaults_match_library},
    {"spellings_and_inputs", test_spellings_and_inputs},
};
LILM_TEST_MAIN(cases)
