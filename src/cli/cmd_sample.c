/*
 * cmd_sample.c: `lilm sample`: continue a prompt with a trained model.
 *
 * Greedy by default; --temperature > 0 samples, optionally restricted by
 * --top-k / --top-p, reproducibly for a --seed. Decoding uses the KV cache
 * (model/decode.c): the prompt in one step, then one token per step. The
 * text goes to stdout, the speed to stderr.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "eval/evaluate.h"
#include "eval/generate.h"

typedef struct sample_args {
    const char *target;
    lilm_opt_list prompts;
    double temperature;
    int64_t top_k;
    double top_p;
    int64_t max_tokens;
    int64_t seed;
    int checkpoint;
    int reference;
    const char *device;
    int64_t threads;
} sample_args;

static const char *const checkpoints[] = {"auto", "final", "best", "last"};

static const lilm_opt opts[] = {
    {"run", 0, LILM_OPT_STRING | LILM_OPT_POSITIONAL | LILM_OPT_REQUIRED, offsetof(sample_args, target), NULL, 0, 0,
     "a run directory or a .safetensors checkpoint written by lilm"},
    {"prompt", 'p', LILM_OPT_LIST, offsetof(sample_args, prompts), NULL, 0, 0, "text to continue"},
    {"temperature", 'T', LILM_OPT_FLOAT, offsetof(sample_args, temperature), "0", 0, 100,
     "0: greedy; > 0: sample from softmax(logits / T)"},
    {"top-k", 'k', LILM_OPT_INT, offsetof(sample_args, top_k), "0", 0, 1e9, "sample among the K most likely (0: all)"},
    {"top-p", 0, LILM_OPT_FLOAT, offsetof(sample_args, top_p), "1", 0, 1,
     "sample among the most likely tokens whose probability adds up to P (1: all)"},
    {"max-tokens", 'n', LILM_OPT_INT, offsetof(sample_args, max_tokens), "100", 1, 1e9,
     "new tokens at most (generation also stops at EOS and at the model's context)"},
    {"seed", 0, LILM_OPT_INT, offsetof(sample_args, seed), "42", 0, 0, "random seed for sampling"},
    {"checkpoint", 0, LILM_OPT_CHOICE, offsetof(sample_args, checkpoint), "auto|final|best|last", 0, 0,
     "which checkpoint of a run (auto: final, else best, else last)"},
    {"reference-prompts", 0, LILM_OPT_BOOL, offsetof(sample_args, reference), "false", 0, 0,
     "continue the reference's 11 prompts (as samples.txt)"},
    {"device", 'd', LILM_OPT_STRING, offsetof(sample_args, device), NULL, 0, 0, "auto | cpu | cuda (default: the run's)"},
    {"threads", 't', LILM_OPT_INT, offsetof(sample_args, threads), "-1", -1, 4096, "CPU threads (0: all; -1: the run's)"},
};

static const lilm_opt_spec spec = LILM_OPT_SPEC(
    "sample", "continue a prompt with a trained model (greedy by default, KV cache)", opts,
    "examples:\n"
    "  lilm sample runs/babylm-20261126-101500 --prompt \"the dog \"\n"
    "  lilm sample runs/tiny --prompt \"Once upon a time\" --temperature 0.8 --top-k 50 --top-p 0.95 --seed 1\n");

int lilm_cmd_sample(int argc, char **argv)
{
    sample_args a;
    int rc = lilm_opts_parse_cli(&spec, argc, argv, &a);
    if (rc >= 0) return rc;
    if (a.prompts.n == 0 && !a.reference) {
        fprintf(stderr, "lilm sample: give --prompt TEXT (or --reference-prompts)\nHINT: lilm sample RUN --prompt \"the dog \"\n");
        return 2;
    }
    lilm_loaded_model lm;
    lilm_status st = lilm_eval_load(a.target, a.checkpoint ? checkpoints[a.checkpoint] : NULL, NULL, a.device,
                                    (int)a.threads, 1, 1, &lm);
    if (st != LILM_OK) return lilm_cli_fail("sample", st);
    if ((rc = lilm_cli_check_weights("sample", lm.checkpoint)) != 0) {
        lilm_eval_unload(&lm);
        return rc;
    }
    lilm_sample_opts so;
    lilm_sample_opts_default(&so);
    so.temperature = a.temperature;
    so.top_k = a.top_k;
    so.top_p = a.top_p;
    so.max_tokens = a.max_tokens;
    so.seed = (uint64_t)a.seed;
    size_t n = a.reference ? lilm_reference_prompt_count : (size_t)a.prompts.n;
    int64_t total_new = 0;
    double total_decode = 0, total_prefill = 0;
    int64_t total_steps = 0;
    rc = 0;
    for (size_t i = 0; i < n; i++) {
        const char *prompt = a.reference ? lilm_reference_prompts[i] : a.prompts.items[i];
        lilm_generation g;
        st = lilm_generate(&lm.model, lm.tok, prompt, &so, &g);
        if (st != LILM_OK) {
            rc = lilm_cli_fail("sample", st);
            break;
        }
        if (n > 1) printf("### %s\n", prompt);
        printf("%s\n", g.text);
        if (n > 1) printf("\n");
        fflush(stdout);
        total_new += (int64_t)g.n_new;
        total_prefill += g.prefill_s;
        total_decode += g.decode_s;
        total_steps += g.n_new > 0 ? (int64_t)g.n_new - 1 : 0;
        lilm_generation_free(&g);
    }
    if (rc == 0)
        fprintf(stderr, "lilm sample: %lld new tokens in %.3f s: %.1f tokens/s overall, %.1f tokens/s per decode step "
                        "(KV cache, %s, %lld parameters)\n",
                (long long)total_new, total_prefill + total_decode,
                total_prefill + total_decode > 0 ? (double)total_new / (total_prefill + total_decode) : 0.0,
                total_decode > 0 ? (double)total_steps / total_decode : 0.0, lm.be->name, (long long)lm.model.n_elems);
    lilm_eval_unload(&lm);
    return rc;
}
