/*
 * cmd_forward.c: `lilm forward`: logits of one token sequence from a weights
 * file, for checking lilm against other implementations.
 *
 * The weights file needs the reference's state_dict names and a "lilm_model"
 * metadata entry (lilm's checkpoints have both; extra tensors such as the
 * reference's attention.mask_array buffers are ignored). The logits go to a
 * safetensors file as tensor "logits" (T, V) fp32. --save-weights writes the
 * weights lilm loaded back out, as lilm writes them.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "core/safetensors.h"
#include "model/model.h"
#include "model/checkpoint.h"

typedef struct forward_args {
    const char *weights;
    const char *tokens;
    const char *out;
    const char *save;
    const char *device;
} forward_args;

static const lilm_opt opts[] = {
    {"weights", 0, LILM_OPT_STRING | LILM_OPT_POSITIONAL | LILM_OPT_REQUIRED, offsetof(forward_args, weights), NULL,
     0, 0, "weights (.safetensors with \"lilm_model\" metadata)"},
    {"tokens", 't', LILM_OPT_STRING | LILM_OPT_REQUIRED, offsetof(forward_args, tokens), NULL, 0, 0,
     "comma-separated token ids, e.g. 5,6,7"},
    {"out", 'o', LILM_OPT_STRING | LILM_OPT_REQUIRED, offsetof(forward_args, out), NULL, 0, 0,
     "output .safetensors holding \"logits\" (T, V) fp32"},
    {"save-weights", 0, LILM_OPT_STRING, offsetof(forward_args, save), NULL, 0, 0,
     "also write the loaded weights here"},
    {"device", 'd', LILM_OPT_STRING, offsetof(forward_args, device), "cpu", 0, 0, "auto | cpu | cuda"},
};

static const lilm_opt_spec spec = LILM_OPT_SPEC("forward", "logits of a token sequence from a weights file", opts,
                                                "example:\n  lilm forward runs/x/checkpoints/final.safetensors "
                                                "--tokens 5,6,7 --out logits.safetensors\n");

static int parse_tokens(const char *s, int32_t **ids, size_t *n)
{
    size_t cap = 16;
    *ids = malloc(cap * sizeof **ids);
    *n = 0;
    while (*ids && *s) {
        char *end = NULL;
        long v = strtol(s, &end, 10);
        if (end == s || v < 0 || v > INT32_MAX) return -1;
        if (*n == cap) {
            int32_t *p = realloc(*ids, 2 * cap * sizeof *p);
            if (!p) return -1;
            *ids = p;
            cap *= 2;
        }
        (*ids)[(*n)++] = (int32_t)v;
        s = end;
        if (*s == ',') s++;
        else if (*s) return -1;
    }
    return *ids && *n > 0 ? 0 : -1;
}

int lilm_cmd_forward(int argc, char **argv)
{
    forward_args a;
    int rc = lilm_opts_parse_cli(&spec, argc, argv, &a);
    if (rc >= 0) return rc;
    int32_t *ids = NULL;
    size_t T = 0;
    if (parse_tokens(a.tokens, &ids, &T) != 0) {
        free(ids);
        fprintf(stderr, "lilm forward: --tokens must be comma-separated non-negative integers\n");
        return 2;
    }
    lilm_model_config mc;
    lilm_status st = lilm_checkpoint_read_config(a.weights, &mc, NULL);
    if (st == LILM_OK && (int64_t)T > mc.context)
        st = lilm_errorf(LILM_ERR_ARG, "%zu tokens exceed the model's context of %lld", T, (long long)mc.context);
    lilm_device_choice dev;
    if (st == LILM_OK) st = lilm_device_choice_parse(a.device, &dev);
    lilm_backend *be = NULL;
    if (st == LILM_OK) st = lilm_backend_create(&be, dev, 0);
    lilm_model m;
    int have_model = 0;
    if (st == LILM_OK) st = lilm_model_init(&m, &mc, be, 1, T, 0);
    if (st == LILM_OK) have_model = 1;
    if (st == LILM_OK) st = lilm_checkpoint_load(a.weights, &m, NULL, NULL);
    if (st == LILM_OK) st = lilm_model_forward(&m, ids, NULL, 1, T, 0.0f, NULL, NULL);
    float *logits = NULL;
    if (st == LILM_OK) {
        logits = malloc(T * (size_t)mc.vocab_size * sizeof(float));
        st = logits ? lilm_model_all_logits(&m, logits) : lilm_errorf(LILM_ERR_OOM, "out of memory");
    }
    if (st == LILM_OK) {
        lilm_st_writer *w = NULL;
        int64_t shape[2] = {(int64_t)T, mc.vocab_size};
        st = lilm_st_writer_init(&w);
        if (st == LILM_OK) st = lilm_st_writer_add(w, "logits", LILM_ST_F32, 2, shape, logits);
        if (st == LILM_OK) st = lilm_st_writer_write(w, a.out);
        lilm_st_writer_free(w);
    }
    if (st == LILM_OK && a.save) st = lilm_weights_save(a.save, &m);
    free(logits);
    free(ids);
    if (have_model) lilm_model_free(&m);
    if (be) lilm_backend_free(be);
    return st == LILM_OK ? 0 : lilm_cli_fail("forward", st);
}
