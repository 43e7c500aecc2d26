/*
 * commands.h: the subcommands of the `lilm` program, one file each.
 *
 * Each returns the process exit status: 0 success, 1 failure at run time,
 * 2 bad usage or bad input (config, options, files). Only src/cli/ prints
 * library errors and decides exit codes.
 */
#ifndef LILM_CLI_COMMANDS_H
#define LILM_CLI_COMMANDS_H

int lilm_cmd_train(int argc, char **argv);       /* cmd_train.c */
int lilm_cmd_bench(int argc, char **argv);       /* cmd_bench.c */
int lilm_cmd_eval(int argc, char **argv);        /* cmd_eval.c */
int lilm_cmd_sample(int argc, char **argv);      /* cmd_sample.c */
int lilm_cmd_autosize(int argc, char **argv);    /* cmd_autosize.c */
int lilm_cmd_run(int argc, char **argv);         /* cmd_run.c */
int lilm_cmd_tok(int argc, char **argv);         /* cmd_tok.c */
int lilm_cmd_tok_train(int argc, char **argv);   /* cmd_tok_train.c: `lilm tok train` */
int lilm_cmd_data(int argc, char **argv);        /* cmd_data.c */
int lilm_cmd_runs(int argc, char **argv);        /* cmd_runs.c */
int lilm_cmd_leaderboard(int argc, char **argv); /* cmd_leaderboard.c */
int lilm_cmd_report(int argc, char **argv);      /* cmd_report.c */
int lilm_cmd_forward(int argc, char **argv);     /* cmd_forward.c */
int lilm_cmd_search(int argc, char **argv);      /* cmd_search.c */

#endif
