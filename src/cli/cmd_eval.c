/*
 * cmd_eval.c: `lilm eval`: full validation of a run or a checkpoint.
 *
 * Every held-out token once (src/eval/evaluate.h): loss, bits per byte,
 * perplexity, tokens and bytes. A run directory's own data gives RUN/eval.json
 * (keeping the budget numbers the run wrote there); the best or last
 * checkpoint RUN/eval-best.json / eval-last.json; another dataset (--data)
 * RUN/eval-<dataset name>.json; --out picks the file.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "core/fileio.h"
#include "core/json.h"
#include "eval/evaluate.h"

typedef struct eval_args {
    const char *target;
    int json;
    const char *data;
    int checkpoint;
    const char *split;
    const char *out;
    const char *device;
    int64_t threads;
    int64_t batch;
} eval_args;

static const char *const checkpoints[] = {"auto", "final", "best", "last"};

static const lilm_opt opts[] = {
    {"run", 0, LILM_OPT_STRING | LILM_OPT_POSITIONAL | LILM_OPT_REQUIRED, offsetof(eval_args, target), NULL, 0, 0,
     "a run directory, or a .safetensors checkpoint written by lilm (or bench/torch_train.py --save)"},
    {"json", 0, LILM_OPT_BOOL, offsetof(eval_args, json), "false", 0, 0, "print the result as JSON on stdout"},
    {"data", 0, LILM_OPT_STRING, offsetof(eval_args, data), NULL, 0, 0,
     "evaluate on this prepared dataset instead of the run's own (same tokenizer)"},
    {"checkpoint", 0, LILM_OPT_CHOICE, offsetof(eval_args, checkpoint), "auto|final|best|last", 0, 0,
     "which checkpoint of a run (auto: final, else best, else last)"},
    {"split", 0, LILM_OPT_STRING, offsetof(eval_args, split), "val", 0, 0, "split of the dataset to evaluate"},
    {"out", 'o', LILM_OPT_STRING, offsetof(eval_args, out), NULL, 0, 0,
     "write the JSON here (default: RUN/eval.json, RUN/eval-NAME.json with --data, none for a file)"},
    {"device", 'd', LILM_OPT_STRING, offsetof(eval_args, device), NULL, 0, 0, "auto | cpu | cuda (default: the run's)"},
    {"threads", 't', LILM_OPT_INT, offsetof(eval_args, threads), "-1", -1, 4096, "CPU threads (0: all; -1: the run's)"},
    {"batch", 'b', LILM_OPT_INT, offsetof(eval_args, batch), "0", 0, 65536, "sequences per forward pass (0: the run's)"},
};

static const lilm_opt_spec spec = LILM_OPT_SPEC(
    "eval", "full validation of a run or checkpoint: loss, bits per byte, perplexity", opts,
    "examples:\n"
    "  lilm eval runs/babylm-20261126-101500\n"
    "  lilm eval runs/babylm-20261126-101500 --checkpoint best --json\n"
    "  lilm eval weights.safetensors --data data/babylm\n");

/* The budget accounting of run.json, carried into eval.json. */
static void run_extra(const char *dir, char *buf, size_t n)
{
    buf[0] = '\0';
    char path[LILM_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/run.json", dir);
    lilm_json *j = NULL;
    if (lilm_json_parse_file(&j, path) != LILM_OK) return;
    static const char *const keys[] = {"steps", "budget_minutes", "elapsed_s", "probe_step_s", "probe_estimated_steps",
                                       "probe_estimated_wall_s", "probe_miss_s"};
    size_t at = 0;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        double v;
        if (!lilm_json_get_num(j, keys[i], &v)) continue;
        int w = snprintf(buf + at, n - at, "%s\"%s\": %.17g", at ? ",\n  " : "", keys[i], v);
        if (w < 0 || (size_t)w >= n - at) break;
        at += (size_t)w;
    }
    lilm_json_free(j);
}

static int is_dir(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int lilm_cmd_eval(int argc, char **argv)
{
    eval_args a;
    int rc = lilm_opts_parse_cli(&spec, argc, argv, &a);
    if (rc >= 0) return rc;
    lilm_eval_opts o = {.target = a.target, .checkpoint = a.checkpoint ? checkpoints[a.checkpoint] : NULL,
                        .data = a.data, .split = a.split, .device = a.device, .threads = (int)a.threads,
                        .batch = (size_t)a.batch};
    lilm_eval_result r;
    lilm_status st = lilm_eval_run(&o, &r);
    if (st != LILM_OK) return lilm_cli_fail("eval", st);
    if ((rc = lilm_cli_check_weights("eval", r.checkpoint)) != 0) return rc; /* no score for diverged weights */
    int dir = is_dir(a.target);
    char out[LILM_PATH_MAX + 64] = "";
    if (a.out) {
        snprintf(out, sizeof out, "%s", a.out);
    } else if (dir && !a.data && a.checkpoint >= 2) {
        snprintf(out, sizeof out, "%s/eval-%s.json", a.target, checkpoints[a.checkpoint]);
    } else if (dir && !a.data) {
        snprintf(out, sizeof out, "%s/eval.json", a.target);
    } else if (dir) {
        const char *base = strrchr(a.data, '/');
        base = base && base[1] ? base + 1 : a.data;
        snprintf(out, sizeof out, "%s/eval-%s.json", a.target, base);
    }
    char extra[1024] = "";
    if (dir && !a.data) run_extra(a.target, extra, sizeof extra);
    if (out[0]) {
        st = lilm_eval_write_json(out, &r, extra);
        if (st != LILM_OK) return lilm_cli_fail("eval", st);
    }
    if (a.json) {
        printf("{\"loss\": %.17g, \"bpb\": %.17g, \"perplexity\": %.17g, \"tokens\": %lld, \"bytes\": %lld, "
               "\"params\": %lld, \"seconds\": %.3f, \"checkpoint\": ",
               r.loss, r.bpb, r.perplexity, (long long)r.tokens, (long long)r.bytes, (long long)r.params, r.seconds);
        lilm_json_write_escaped(stdout, r.checkpoint, strlen(r.checkpoint));
        printf(", \"data\": ");
        lilm_json_write_escaped(stdout, r.data, strlen(r.data));
        printf("}\n");
    } else {
        printf("checkpoint  %s\ndata        %s\nparameters  %lld\nloss        %.4f\nbpb         %.4f\n"
               "perplexity  %.2f\ntokens      %lld\nbytes       %lld\nseconds     %.1f\n",
               r.checkpoint, r.data, (long long)r.params, r.loss, r.bpb, r.perplexity, (long long)r.tokens,
               (long long)r.bytes, r.seconds);
        if (out[0]) printf("written     %s\n", out);
    }
    return 0;
}
