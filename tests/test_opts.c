/*
 * test_opts.c: the subcommand option parser (src/cli/opts.c).
 *
 * Every accepted form (--name value, --name=value, -n value, -nvalue, bool
 * flags and --no-, bundled short bools, repeatable options, positionals,
 * `--`), defaults, the help text, and each error (unknown option, missing
 * value, bad number, out of range, bad choice, missing required argument,
 * extra argument) with its message; an ARGS row (any number of arguments,
 * gathered in argv's front slots, also fed by its --name), and '_' for '-'.
 * The Makefile links tests against liblilm.a only, and src/cli/ is not in
 * it, so this one file compiles the parser in directly.
 */
#include "test.h"

#include <stddef.h>

#include "cli/opts.c"

typedef struct my_args {
    const char *config;
    lilm_opt_list extra;
    double minutes;
    int64_t steps;
    int quiet, verbose;
    int device;
    const char *out;
    lilm_opt_list set;
} my_args;

static const lilm_opt my_opts[] = {
    {"config", 0, LILM_OPT_STRING | LILM_OPT_POSITIONAL | LILM_OPT_REQUIRED, offsetof(my_args, config), NULL, 0, 0,
     "experiment config (YAML)"},
    {"extra", 0, LILM_OPT_LIST | LILM_OPT_POSITIONAL, offsetof(my_args, extra), NULL, 0, 0, "more inputs"},
    {"minutes", 'm', LILM_OPT_FLOAT, offsetof(my_args, minutes), "30", 0, 1e6, "training budget in minutes"},
    {"steps", 's', LILM_OPT_INT, offsetof(my_args, steps), "0", 0, 1000000, "optimizer steps"},
    {"quiet", 'q', LILM_OPT_BOOL, offsetof(my_args, quiet), "false", 0, 0, "print less"},
    {"verbose", 'v', LILM_OPT_BOOL, offsetof(my_args, verbose), "true", 0, 0, "print progress"},
    {"device", 'd', LILM_OPT_CHOICE, offsetof(my_args, device), "auto|cpu|cuda", 0, 0, "where to run"},
    {"out", 'o', LILM_OPT_STRING, offsetof(my_args, out), "runs", 0, 0, "output directory"},
    {"set", 0, LILM_OPT_LIST, offsetof(my_args, set), NULL, 0, 0, "override a config key (train.lr=3e-3)"},
};
static void extra_help(FILE *f)
{
    fprintf(f, "config keys: (the table would follow)\n");
}
static const lilm_opt_spec my_spec = LILM_OPT_SPEC_EXTRA("train", "train a model from a YAML config", my_opts,
                                                         "example: lilm train configs/tiny.yaml -m 1", extra_help);

/* Parses a NULL-terminated argument list (argv[0] = "train"). */
static lilm_status parse(my_args *a, int *help, const char *const *args)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)"train";
    for (int i = 0; args[i] && argc < 32; i++) argv[argc++] = (char *)args[i];
    return lilm_opts_parse(&my_spec, argc, argv, a, help);
}

static void test_defaults(lilm_test *t)
{
    my_args a;
    int help = 7;
    const char *args[] = {"c.yaml", NULL};
    LT_OK(t, parse(&a, &help, args));
    LT_EQ_INT(t, help, 0);
    LT_TRUE(t, strcmp(a.config, "c.yaml") == 0);
    LT_NEAR(t, a.minutes, 30, 0);
    LT_EQ_INT(t, a.steps, 0);
    LT_EQ_INT(t, a.quiet, 0);
    LT_EQ_INT(t, a.verbose, 1);
    LT_EQ_INT(t, a.device, 0);
    LT_TRUE(t, strcmp(a.out, "runs") == 0);
    LT_EQ_INT(t, a.set.n, 0);
    LT_EQ_INT(t, a.extra.n, 0);
}

static void test_forms(lilm_test *t)
{
    my_args a;
    int help;
    const char *args[] = {"--minutes", "1.5", "--steps=20", "-q", "--no-verbose", "-dcuda", "c.yaml",
                          "x1", "--set", "train.lr=3e-3", "--set=model.n_layers=4", "-o", "out dir", "x2",
                          "--", "--x3", "-", NULL};
    LT_OK(t, parse(&a, &help, args));
    LT_NEAR(t, a.minutes, 1.5, 0);
    LT_EQ_INT(t, a.steps, 20);
    LT_EQ_INT(t, a.quiet, 1);
    LT_EQ_INT(t, a.verbose, 0);
    LT_EQ_INT(t, a.device, 2);
    LT_TRUE(t, strcmp(a.out, "out dir") == 0);
    LT_TRUE(t, strcmp(a.config, "c.yaml") == 0);
    LT_EQ_INT(t, a.set.n, 2);
    LT_TRUE(t, a.set.n == 2 && strcmp(a.set.items[0], "train.lr=3e-3") == 0 &&
                   strcmp(a.set.items[1], "model.n_layers=4") == 0);
    LT_EQ_INT(t, a.extra.n, 4);
    LT_TRUE(t, a.extra.n == 4 && strcmp(a.extra.items[0], "x1") == 0 && strcmp(a.extra.items[2], "--x3") == 0 &&
                   strcmp(a.extra.items[3], "-") == 0);

    const char *args2[] = {"-m", "2", "-s=5", "-qd", "cpu", "--verbose=false", "--quiet=false", "c", "-m", "3", NULL};
    LT_OK(t, parse(&a, &help, args2));
    LT_NEAR(t, a.minutes, 3, 0); /* the last one wins */
    LT_EQ_INT(t, a.steps, 5);
    LT_EQ_INT(t, a.device, 1);
    LT_EQ_INT(t, a.quiet, 0);
    LT_EQ_INT(t, a.verbose, 0);
    const char *args5[] = {"c", "--steps", "2e3", NULL};
    LT_OK(t, parse(&a, &help, args5));
    LT_EQ_INT(t, a.steps, 2000);
    const char *args3[] = {"-qv", "-m-0", "c", NULL}; /* bundled bools; "-0" is a value */
    LT_OK(t, parse(&a, &help, args3));
    LT_EQ_INT(t, a.quiet, 1);
    LT_EQ_INT(t, a.verbose, 1);
    const char *args4[] = {"c", "--help", "--bogus", NULL};
    LT_OK(t, parse(&a, &help, args4));
    LT_EQ_INT(t, help, 1);
}

static void expect_error(lilm_test *t, const char *const *args, const char *want)
{
    my_args a;
    int help;
    lilm_status s = parse(&a, &help, args);
    LT_CHECK(t, s == LILM_ERR_ARG, "'%s...': status %s", args[0], lilm_status_str(s));
    LT_CHECK(t, strstr(lilm_last_error(), want) != NULL, "message '%s' lacks '%s'", lilm_last_error(), want);
}

static void test_errors(lilm_test *t)
{
    expect_error(t, (const char *const[]){"c", "--minuets", "3", NULL}, "unknown option '--minuets' (did you mean '--minutes'?)");
    expect_error(t, (const char *const[]){"c", "--zzz", NULL}, "unknown option '--zzz'");
    expect_error(t, (const char *const[]){"c", "-x", NULL}, "unknown option '-x'");
    expect_error(t, (const char *const[]){"c", "-qx", NULL}, "unknown option '-x' in '-qx'");
    expect_error(t, (const char *const[]){"c", "--minutes", NULL}, "option '--minutes' needs a value");
    expect_error(t, (const char *const[]){"c", "-m", NULL}, "option '-m/--minutes' needs a value");
    expect_error(t, (const char *const[]){"c", "--minutes", "abc", NULL}, "--minutes: must be a number in [0, 1000000], got 'abc'");
    expect_error(t, (const char *const[]){"c", "--minutes=1e7", NULL}, "--minutes: must be a number in [0, 1000000], got 1e7");
    expect_error(t, (const char *const[]){"c", "--minutes=-1", NULL}, "got -1");
    expect_error(t, (const char *const[]){"c", "--minutes=nan", NULL}, "got 'nan'");
    expect_error(t, (const char *const[]){"c", "--minutes=", NULL}, "got ''");
    expect_error(t, (const char *const[]){"c", "--steps", "2.5", NULL}, "--steps: must be an integer in [0, 1000000], got '2.5'");
    expect_error(t, (const char *const[]){"c", "--steps", "2000000", NULL}, "got 2000000");
    expect_error(t, (const char *const[]){"c", "--steps", "99999999999999999999", NULL}, "must be an integer");
    expect_error(t, (const char *const[]){"c", "--device", "gpu", NULL}, "--device: must be one of auto|cpu|cuda, got 'gpu'");
    expect_error(t, (const char *const[]){"c", "--quiet=maybe", NULL}, "--quiet: must be true or false, got 'maybe'");
    expect_error(t, (const char *const[]){"c", "--no-quiet=1", NULL}, "option '--no-quiet' takes no value");
    expect_error(t, (const char *const[]){"-q", NULL}, "missing CONFIG (experiment config (YAML))");
    static const char *many[80];
    many[0] = "c";
    for (int i = 1; i < 67; i++) many[i] = "--set=a.b=1";
    many[67] = NULL;
    my_args a;
    int help;
    char *argv[80];
    argv[0] = (char *)"train";
    for (int i = 0; i < 67; i++) argv[i + 1] = (char *)many[i];
    LT_STATUS(t, lilm_opts_parse(&my_spec, 68, argv, &a, &help), LILM_ERR_ARG);
    LT_TRUE(t, strstr(lilm_last_error(), "given more than 64 times") != NULL);

    /* a table without a list positional refuses extra arguments */
    static const lilm_opt one[] = {
        {"run", 0, LILM_OPT_STRING | LILM_OPT_POSITIONAL, 0, NULL, 0, 0, "run dir"},
    };
    static const lilm_opt_spec one_spec = LILM_OPT_SPEC("eval", "evaluate", one, NULL);
    const char *run = NULL;
    char *argv2[] = {(char *)"eval", (char *)"a", (char *)"b"};
    LT_STATUS(t, lilm_opts_parse(&one_spec, 3, argv2, &run, &help), LILM_ERR_ARG);
    LT_TRUE(t, strcmp(lilm_last_error(), "unexpected argument 'b'") == 0);
    LT_OK(t, lilm_opts_parse(&one_spec, 2, argv2, &run, &help));
    LT_TRUE(t, run && strcmp(run, "a") == 0);
    LT_OK(t, lilm_opts_parse(&one_spec, 1, argv2, &run, &help)); /* optional: stays NULL */
    LT_TRUE(t, run == NULL);
}

static void test_help(lilm_test *t)
{
    char dir[256], path[512];
    lilm_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/help.txt", dir);
    FILE *f = fopen(path, "w+");
    LT_TRUE(t, f != NULL);
    if (!f) return;
    lilm_opts_print_help(&my_spec, f);
    rewind(f);
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    const char *want[] = {
        "usage: lilm train [options] CONFIG [EXTRA...]",
        "train a model from a YAML config",
        "-m, --minutes FLOAT",
        "training budget in minutes (number in [0, 1000000], default 30)",
        "optimizer steps (integer in [0, 1000000], default 0)",
        "--no-quiet turns it off, default false",
        "(one of auto|cpu|cuda, default auto)",
        "(default runs)",
        "--set STR",
        "(repeatable)",
        "-h, --help",
        "example: lilm train configs/tiny.yaml -m 1",
        "config keys: (the table would follow)",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        LT_CHECK(t, strstr(buf, want[i]) != NULL, "help lacks '%s':\n%s", want[i], buf);
}

typedef struct files_args {
    const char *output;
    int64_t vocab_size;
    lilm_opt_args inputs;
    int quiet;
} files_args;

static const lilm_opt files_opts[] = {
    {"output", 'o', LILM_OPT_STRING | LILM_OPT_REQUIRED, offsetof(files_args, output), NULL, 0, 0, "model file"},
    {"vocab-size", 0, LILM_OPT_INT, offsetof(files_args, vocab_size), "8000", 1, 1000000, "pieces"},
    {"input", 0, LILM_OPT_ARGS | LILM_OPT_AS_OPTION | LILM_OPT_REQUIRED, offsetof(files_args, inputs), NULL, 0, 0,
     "input files"},
    {"quiet", 'q', LILM_OPT_BOOL, offsetof(files_args, quiet), "false", 0, 0, "print less"},
};
static const lilm_opt_spec files_spec = LILM_OPT_SPEC("tok train", "train a tokenizer", files_opts, NULL);

static void test_args_rows(lilm_test *t)
{
    /* more arguments than a LIST holds, interleaved with options, in order */
    enum { N = 3 * LILM_OPT_LIST_MAX };
    static char names[N][16];
    char *argv[2 * N + 8];
    int argc = 0;
    argv[argc++] = (char *)"tok train";
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "f%d.txt", i);
        if (i == 5) argv[argc++] = (char *)"--vocab_size=300"; /* spm_train's spelling */
        if (i == 7) argv[argc++] = (char *)"-q";
        if (i % 3 == 1) argv[argc++] = (char *)"--input"; /* --input FILE joins the same list */
        argv[argc++] = names[i];
        if (i == 9) argv[argc++] = (char *)"--output=x.model";
    }
    files_args a;
    int help = 0;
    LT_OK(t, lilm_opts_parse(&files_spec, argc, argv, &a, &help));
    LT_EQ_INT(t, a.inputs.n, N);
    int in_order = 1;
    for (int i = 0; i < N && a.inputs.items; i++) in_order &= strcmp(a.inputs.items[i], names[i]) == 0;
    LT_TRUE(t, in_order);
    LT_EQ_INT(t, a.vocab_size, 300);
    LT_TRUE(t, a.quiet == 1 && a.output && strcmp(a.output, "x.model") == 0);
    /* the list is required; --input alone needs its value */
    char *none[] = {(char *)"tok train", (char *)"--output", (char *)"m"};
    LT_STATUS(t, lilm_opts_parse(&files_spec, 3, none, &a, &help), LILM_ERR_ARG);
    LT_CHECK(t, strstr(lilm_last_error(), "missing INPUT") != NULL, "got '%s'", lilm_last_error());
    char *dangling[] = {(char *)"tok train", (char *)"-o", (char *)"m", (char *)"--input"};
    LT_STATUS(t, lilm_opts_parse(&files_spec, 4, dangling, &a, &help), LILM_ERR_ARG);
    LT_CHECK(t, strstr(lilm_last_error(), "'--input' needs a value") != NULL, "got '%s'", lilm_last_error());
    /* the help names the row once, as an argument */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return;
    lilm_opts_print_help(&files_spec, f);
    fclose(f);
    LT_CHECK(t, strstr(buf, "INPUT...") && strstr(buf, "--input VALUE adds one too"), "help:\n%s", buf);
    free(buf);
}

static const lilm_test_case cases[] = {
    {"defaults", test_defaults},
    {"forms", test_forms},
    {"errors", test_errors},
    {"help", test_help},
    {"args_rows", test_args_rows},
};
LILM_TEST_MAIN(cases)
