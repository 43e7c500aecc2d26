/*
 * cmd_bench.c: `lilm bench`.
 *
 * Placeholder until its issue lands; it reports that it is not available yet.
 */
#include <stdio.h>

#include "cli/commands.h"

int lilm_cmd_bench(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "lilm bench: not available in this build yet\n");
    return 2;
}
