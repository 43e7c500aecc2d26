/*
 * opts.h: the table-driven option parser every subcommand uses.
 *
 * A subcommand describes its options in one static table and its results in
 * one struct; the table drives parsing, range checks, error messages and the
 * `lilm <cmd> --help` text, so an option is documented the moment it exists:
 *
 *   struct train_args { const char *config; double minutes; int device; int quiet; lilm_opt_list set; };
 *   static const lilm_opt opts[] = {
 *       {"config", 0, LILM_OPT_STRING | LILM_OPT_POSITIONAL | LILM_OPT_REQUIRED,
 *        offsetof(struct train_args, config), NULL, 0, 0, "experiment config (YAML)"},
 *       {"minutes", 'm', LILM_OPT_FLOAT, offsetof(struct train_args, minutes), "30", 0, 1e6,
 *        "training budget in minutes"},
 *       {"device", 'd', LILM_OPT_CHOICE, offsetof(struct train_args, device), "auto|cpu|cuda", 0, 0,
 *        "where to run"},
 *       {"quiet", 'q', LILM_OPT_BOOL, offsetof(struct train_args, quiet), "false", 0, 0, "print less"},
 *       {"set", 0, LILM_OPT_LIST, offsetof(struct train_args, set), NULL, 0, 0,
 *        "override a config key: --set train.lr=3e-3"},
 *   };
 *   static const lilm_opt_spec spec = LILM_OPT_SPEC("train", "train a model from a YAML config", opts, NULL);
 *   struct train_args a;
 *   int rc = lilm_opts_parse_cli(&spec, argc, argv, &a);
 *   if (rc >= 0) return rc;      // help printed (0) or error printed (2)
 *
 * A row has exactly these eight fields (so a plain positional initializer is
 * complete under -Wextra). Field types behind `offset`: INT int64_t, FLOAT
 * double, BOOL int (0/1), STRING const char * (into argv or the default
 * literal; NULL default = NULL), CHOICE int: the index of the value in `def`,
 * which lists the allowed values "a|b|c" with the default first; LIST
 * lilm_opt_list (repeatable, at most LILM_OPT_LIST_MAX values); ARGS
 * lilm_opt_args: every remaining argument, any number of them (file lists,
 * run dirs); it is positional by nature and at most one row may have it. The
 * type may be OR-ed with LILM_OPT_POSITIONAL (an argument filled in table
 * order; a LIST positional takes all that remain, up to LILM_OPT_LIST_MAX),
 * LILM_OPT_REQUIRED, and for an ARGS row LILM_OPT_AS_OPTION (`--name VALUE`
 * adds VALUE to the same list, in command-line order: `--input FILE` as
 * spm_train spells it). Accepted forms: --name value, --name=value,
 * -n value, -nvalue, bool flags --name / --no-name / --name=true|false,
 * bundled short bools (-qv), and `--` ending the options; '_' may stand for
 * '-' in a long name (--vocab_size, spm_train's spelling). A number range is
 * [min, max]; min == max == 0 means unbounded. Repeating a non-LIST option
 * keeps the last value.
 *
 * Nothing is allocated: strings and list values point into argv. An ARGS
 * row's values are gathered at the front of argv (argv[1..n]) as parsing goes,
 * so argv's order changes; its strings do not.
 */
#ifndef LILM_CLI_OPTS_H
#define LILM_CLI_OPTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/status.h"

typedef enum lilm_opt_type {
    LILM_OPT_INT = 0, /* int64_t */
    LILM_OPT_FLOAT,   /* double */
    LILM_OPT_BOOL,    /* int */
    LILM_OPT_STRING,  /* const char * */
    LILM_OPT_CHOICE,  /* int: index into the '|'-separated `def` */
    LILM_OPT_LIST,    /* lilm_opt_list: repeatable */
    LILM_OPT_ARGS,    /* lilm_opt_args: every remaining argument, unbounded */
} lilm_opt_type;

#define LILM_OPT_TYPE_MASK 0xffu
#define LILM_OPT_POSITIONAL 0x100u /* an argument, not an --option; filled in table order */
#define LILM_OPT_REQUIRED 0x200u   /* must be given (positionals and options alike) */
#define LILM_OPT_AS_OPTION 0x400u  /* ARGS only: --name VALUE adds to the list too */

#define LILM_OPT_LIST_MAX 64
typedef struct lilm_opt_list {
    const char *items[LILM_OPT_LIST_MAX]; /* in command-line order, into argv */
    int64_t n;
} lilm_opt_list;

typedef struct lilm_opt_args {
    const char **items; /* n values in command-line order (argv's front slots) */
    int64_t n;
} lilm_opt_args;

typedef struct lilm_opt {
    const char *name;     /* long name without "--"; for a positional, its name in help */
    char short_name;      /* 'm' for -m; 0 = none */
    unsigned type;        /* lilm_opt_type, | LILM_OPT_POSITIONAL, | LILM_OPT_REQUIRED */
    size_t offset;        /* offsetof(args struct, field) */
    const char *def;      /* default as text, parsed like a command-line value; NULL = zero/NULL;
                             CHOICE: the allowed values, default first */
    double min, max;      /* INT/FLOAT range; both 0 = unbounded */
    const char *help;
} lilm_opt;

typedef struct lilm_opt_spec {
    const char *command;  /* "train": help says "usage: lilm train ..." */
    const char *summary;  /* one line under the usage */
    const lilm_opt *opts;
    size_t n_opts;
    const char *epilog;   /* printed after the options (examples), or NULL */
    void (*help_extra)(FILE *f); /* prints more help at the end (e.g. the config keys), or NULL */
} lilm_opt_spec;

#define LILM_OPT_SPEC(cmd, summary, table, epilog) \
    {(cmd), (summary), (table), sizeof(table) / sizeof((table)[0]), (epilog), NULL}
/* The same with a function that appends to the help, e.g. one that calls
 * lilm_config_print_help(f, NULL) for commands that take --set. */
#define LILM_OPT_SPEC_EXTRA(cmd, summary, table, epilog, extra) \
    {(cmd), (summary), (table), sizeof(table) / sizeof((table)[0]), (epilog), (extra)}

/* Fills `out` with the defaults, then parses argv[1..argc-1] (argv[0] is the
 * subcommand's name). `-h`/`--help` sets *help_requested to 1 and stops.
 * Errors: LILM_ERR_ARG with one message naming the option and the fix. */
lilm_status lilm_opts_parse(const lilm_opt_spec *spec, int argc, char **argv, void *out, int *help_requested);

/* The `lilm <cmd> --help` text: usage, summary, every argument and option with
 * its type, range, choices and default, then the epilog. */
void lilm_opts_print_help(const lilm_opt_spec *spec, FILE *f);

/* Parse for a subcommand's main: returns -1 to go on, 0 after printing help
 * to stdout, 2 after printing the error and a HINT to stderr. */
int lilm_opts_parse_cli(const lilm_opt_spec *spec, int argc, char **argv, void *out);

#endif
