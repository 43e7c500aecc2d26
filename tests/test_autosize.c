/*
 * test_autosize.c: the pieces of autosize that decide, without timing.
 *
 * - depth search: for thresholds 1..40 (a depth passes iff <= threshold),
 *   the search returns the threshold (clamped to [min, max]), never asks a
 *   depth twice, and asks few (doubling from 4, then bisection);
 * - a depth below which everything fails gives min_layers; an error stops it;
 * - the micro-batch: the largest divisor of accum_batch whose plan x 1.1
 *   fits, checked against lilm_model_plan_bytes at the boundary;
 * - the LR grid: 5 rates log-spaced, ends exact, constant ratio;
 * - steps mode end to end on a bytes text file: depth from the token count
 *   alone (no timing), tables and autosize.json written, lr one of the grid.
 */
#include "test.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/fileio.h"
#include "model/model.h"
#include "train/autosize.h"

typedef struct fake {
    int64_t threshold;
    int asked[4097];
    int n_asks, repeats;
    int64_t fail_at; /* return -1 when asked this depth */
} fake;

static int fake_ok(void *ctx, int64_t layers)
{
    fake *f = ctx;
    if (layers >= 0 && layers <= 4096) {
        if (f->asked[layers]) f->repeats++;
        f->asked[layers] = 1;
    }
    f->n_asks++;
    if (layers == f->fail_at) return -1;
    return layers <= f->threshold;
}

static void test_depth_search(lilm_test *t)
{
    for (int64_t th = 0; th <= 40; th++) {
        fake f;
        memset(&f, 0, sizeof f);
        f.threshold = th;
        f.fail_at = -5;
        int64_t L = lilm_autosize_search_depth(fake_ok, &f, 1, 32);
        int64_t want = th < 1 ? 1 : th > 32 ? 32 : th;
        LT_CHECK(t, L == want, "threshold %lld: got %lld, want %lld", (long long)th, (long long)L, (long long)want);
        LT_EQ_INT(t, f.repeats, 0);
        LT_CHECK(t, f.n_asks <= 8, "threshold %lld: %d probes", (long long)th, f.n_asks);
    }
    /* the reference's order: 4, 8, 16 (fails), then bisection 12, 14, 13 for threshold 13 */
    fake f;
    memset(&f, 0, sizeof f);
    f.threshold = 13;
    f.fail_at = -5;
    LT_EQ_INT(t, lilm_autosize_search_depth(fake_ok, &f, 1, 64), 13);
    LT_TRUE(t, f.asked[4] && f.asked[8] && f.asked[16] && !f.asked[32] && f.asked[12] && f.asked[14]);
    /* min_layers above 4 starts there */
    memset(&f, 0, sizeof f);
    f.threshold = 20;
    f.fail_at = -5;
    LT_EQ_INT(t, lilm_autosize_search_depth(fake_ok, &f, 6, 64), 20);
    LT_TRUE(t, !f.asked[4] && f.asked[6] && f.asked[12] && f.asked[24]);
    /* an error stops the search */
    memset(&f, 0, sizeof f);
    f.threshold = 50;
    f.fail_at = 8;
    LT_EQ_INT(t, lilm_autosize_search_depth(fake_ok, &f, 1, 64), -1);
}

static void test_pick_batch(lilm_test *t)
{
    lilm_model_config mc = {.vocab_size = 1000, .d_model = 64, .n_layers = 2, .n_heads = 2, .qk_dim = 32,
                            .v_dim = 32, .ffn_dim = 256, .context = 128, .norm = LILM_NORM_RMS,
                            .activation = LILM_ACTKIND_GELU, .rope_base = 10000, .pad_id = 3};
    size_t p8 = lilm_model_plan_bytes(&mc, LILM_DTYPE_F32, 8, 128);
    size_t p16 = lilm_model_plan_bytes(&mc, LILM_DTYPE_F32, 16, 128);
    size_t p24 = lilm_model_plan_bytes(&mc, LILM_DTYPE_F32, 24, 128);
    LT_TRUE(t, p8 < p16 && p16 < p24);
    size_t plan = 0;
    /* accum 48: divisors 48, 24, 16, 12, 8, ... */
    LT_EQ_INT(t, lilm_autosize_pick_batch(&mc, LILM_DTYPE_F32, 48, 1.1 * (double)p16 + 1, &plan), 16);
    LT_EQ_INT(t, plan, p16);
    LT_EQ_INT(t, lilm_autosize_pick_batch(&mc, LILM_DTYPE_F32, 48, 1.1 * (double)p16 - 1, NULL), 12);
    LT_EQ_INT(t, lilm_autosize_pick_batch(&mc, LILM_DTYPE_F32, 48, 1.1 * (double)p24 + 1, NULL), 24);
    LT_EQ_INT(t, lilm_autosize_pick_batch(&mc, LILM_DTYPE_F32, 48, 1e15, NULL), 48);
    LT_EQ_INT(t, lilm_autosize_pick_batch(&mc, LILM_DTYPE_F32, 48, 1000, NULL), 0);
    /* bf16 activations need less: a batch at least as large fits the same memory */
    LT_TRUE(t, lilm_autosize_pick_batch(&mc, LILM_DTYPE_BF16, 48, 1.1 * (double)p16 + 1, NULL) >= 16);
}

static void test_lr_grid(lilm_test *t)
{
    double lo = 1.45e-3, hi = 3e-2;
    LT_NEAR(t, lilm_autosize_lr(0, 5, lo, hi), lo, 1e-15);
    LT_NEAR(t, lilm_autosize_lr(4, 5, lo, hi), hi, 1e-15);
    double r = lilm_autosize_lr(1, 5, lo, hi) / lo;
    for (int i = 1; i < 5; i++)
        LT_NEAR(t, lilm_autosize_lr(i, 5, lo, hi) / lilm_autosize_lr(i - 1, 5, lo, hi), r, 1e-9);
    LT_NEAR(t, r, pow(hi / lo, 0.25), 1e-9);
}

static void test_steps_mode_end_to_end(lilm_test *t)
{
    char dir[512], text[600], out[700];
    lilm_test_tmpdir(dir, sizeof dir);
    snprintf(text, sizeof text, "%s/corpus.txt", dir);
    FILE *f = fopen(text, "w");
    LT_TRUE(t, f != NULL);
    if (!f) return;
    for (int i = 0; i < 400; i++) fprintf(f, "the cat sat on the mat number %d and looked at the dog.\n", i);
    fclose(f);
    lilm_config c;
    lilm_config_defaults(&c);
    const char *sets[] = {"model.vocab_size=260", "model.d_model=16", "model.n_heads=2", "model.qk_dim=8",
                          "model.v_dim=8", "model.ffn_dim=32", "model.context=16", "data.tokenizer=bytes",
                          "train.batch_size=4", "train.accum_batch=8", "budget.mode=steps", "train.steps=20",
                          "train.val_batches=2", "train.val_every=0", "train.checkpoint_every_seconds=0",
                          "train.threads=1", "budget.tokens_per_param=0.2"};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) LT_OK(t, lilm_config_set(&c, sets[i]));
    snprintf(c.data.text, sizeof c.data.text, "%s", text);
    LT_OK(t, lilm_config_validate(&c));
    snprintf(out, sizeof out, "%s/as", dir);
    lilm_autosize_opts o;
    lilm_autosize_opts_default(&o);
    o.out_dir = out;
    o.n_lrs = 3;
    o.lr_fraction = 0.25;
    o.quiet = 1;
    o.max_layers = 16;
    lilm_config chosen;
    lilm_autosize_result r;
    LT_OK(t, lilm_autosize(&c, &o, &chosen, &r));
    /* tokens = 20 steps x 8 x 16 = 2560; the deepest L with params(L) <= 2560 / 0.2 */
    int64_t want = 0;
    for (int64_t L = 1; L <= 16; L++) {
        lilm_model_config mc = c.model;
        mc.n_layers = L;
        if (2560.0 / (double)lilm_model_config_param_count(&mc) >= 0.2) want = L;
    }
    LT_TRUE(t, want >= 1);
    LT_EQ_INT(t, chosen.model.n_layers, want);
    LT_EQ_INT(t, r.layers, want);
    LT_EQ_INT(t, chosen.train.batch_size, 8); /* plenty of memory: the whole accum batch */
    int in_grid = 0;
    for (int i = 0; i < 3; i++) in_grid |= fabs(chosen.train.lr - lilm_autosize_lr(i, 3, o.lr_min, o.lr_max)) < 1e-12;
    LT_TRUE(t, in_grid);
    LT_TRUE(t, isfinite(r.best_val_loss));
    const char *files[] = {"autosize.json", "autosize_depth.jsonl", "autosize_lr.jsonl", "autosize.yaml"};
    for (int i = 0; i < 4; i++) {
        char p[800];
        snprintf(p, sizeof p, "%s/%s", out, files[i]);
        LT_CHECK(t, lilm_path_exists(p), "%s missing", p);
    }
    /* the LR table has one line per rate */
    char p[800];
    snprintf(p, sizeof p, "%s/autosize_lr.jsonl", out);
    char *buf = NULL;
    size_t n = 0;
    LT_OK(t, lilm_read_file(p, &buf, &n));
    int lines = 0;
    for (size_t i = 0; i < n; i++) lines += buf[i] == '\n';
    LT_EQ_INT(t, lines, 3);
    free(buf);
    /* a fraction out of range is refused */
    o.lr_fraction = 0;
    LT_STATUS(t, lilm_autosize(&c, &o, &chosen, &r), LILM_ERR_ARG);
}

static const lilm_test_case cases[] = {
    {"depth_search", test_depth_search},
    {"pick_batch", test_pick_batch},
    {"lr_grid", test_lr_grid},
    {"steps_mode_end_to_end", test_steps_mode_end_to_end},
};

LILM_TEST_MAIN(cases)
