/*
 * cmd_autosize.c: `lilm autosize`.
 *
 * Placeholder until its issue lands; it reports that it is not available yet.
 */
#include <stdio.h>

#include "cli/commands.h"

int lilm_cmd_autosize(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "lilm autosize: not available in this build yet\n");
    return 2;
}
