/*
 * main.c: the `lilm` program's entry point: dispatches to a subcommand.
 *
 * Every stage of the pipeline is a subcommand that reads the previous stage's
 * files (see docs/ and `lilm <cmd> --help`). The table below is the one list
 * of subcommands; `lilm --help` prints it.
 *
 * OpenMP threads wait passively by default: an idle worker spinning for its
 * next parallel region takes a core from every other process, and on a
 * shared or laptop CPU a second busy program then makes lilm many times
 * slower (sample: 60 tokens/s instead of 6,600). libgomp reads
 * OMP_WAIT_POLICY when it loads, before main, so when neither it nor
 * GOMP_SPINCOUNT is set, main sets it and executes the program again (same
 * pid, same arguments). OMP_WAIT_POLICY=active restores spinning.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "core/version.h"

typedef struct lilm_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} lilm_command;

static const lilm_command lilm_commands[] = {
    {"run", lilm_cmd_run, "prepare, autosize, train, evaluate and sample in one go (e.g. `lilm run babylm`)"},
    {"tok", lilm_cmd_tok, "train, inspect and apply SentencePiece-compatible tokenizers"},
    {"data", lilm_cmd_data, "fetch datasets and prepare them into token shards"},
    {"autosize", lilm_cmd_autosize, "size depth, batch and learning rate to a time budget"},
    {"train", lilm_cmd_train, "train a model from a YAML config"},
    {"eval", lilm_cmd_eval, "loss, bits per byte and perplexity of a run on validation data"},
    {"sample", lilm_cmd_sample, "generate text from a trained run"},
    {"search", lilm_cmd_search, "a resumable TPE hyperparameter search over training runs"},
    {"bench", lilm_cmd_bench, "measure training-step throughput (tokens/s, MFU)"},
    {"runs", lilm_cmd_runs, "list, show and delete runs in runs.db"},
    {"leaderboard", lilm_cmd_leaderboard, "the leaderboard of runs, in the terminal"},
    {"report", lilm_cmd_report, "write the static HTML report of all runs"},
    {"forward", lilm_cmd_forward, "logits of a token sequence from a weights file (for checks)"},
};

static void usage(FILE *f)
{
    fprintf(f, "lilm: train little language models in a fixed time budget, on CPU or GPU.\n\n"
               "usage: lilm <command> [options]      (lilm <command> --help for its options)\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof lilm_commands / sizeof lilm_commands[0]; i++)
        fprintf(f, "  %-12s %s\n", lilm_commands[i].name, lilm_commands[i].summary);
    fprintf(f, "\nThe main job, end to end: lilm run babylm --minutes 30\n");
}

static void wait_passively(char **argv)
{
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
    execv("/proc/self/exe", argv); /* returns only on failure: go on spinning */
}

int main(int argc, char **argv)
{
    wait_passively(argv);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("lilm %s (commit %s)\n", lilm_version(), lilm_git_commit());
        return 0;
    }
    for (size_t i = 0; i < sizeof lilm_commands / sizeof lilm_commands[0]; i++)
        if (strcmp(argv[1], lilm_commands[i].name) == 0)
            return lilm_commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "lilm: unknown command '%s'\nHINT: run `lilm --help` for the list of commands.\n", argv[1]);
    return 2;
}
