/*
 * cmd_sample.c: `lilm sample`.
 *
 * Placeholder until its issue lands; it reports that it is not available yet.
 */
#include <stdio.h>

#include "cli/commands.h"

int lilm_cmd_sample(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "lilm sample: not available in this build yet\n");
    return 2;
}
