/*
 * test_trainer.c: the budgeted trainer as a library, without the CLI.
 *
 * - a short steps-mode run on raw text reports its progress through the
 *   on_report callback: "running" at the start, "done" at the end with the
 *   final validation and the step count;
 * - its final full validation equals lilm_eval_corpus on the same corpus
 *   (one validation function), and a partial validation is flagged partial;
 * - the checkpoints it writes resume into a trainer whose optimizer counter
 *   equals the steps taken.
 */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/trainer.h"

typedef struct reports {
    char status[4][16];
    int n;
    int64_t last_step;
    int last_had_val;
} reports;

static void on_report(void *ctx, const lilm_trainer_report *r)
{
    reports *rp = ctx;
    if (rp->n < 4) snprintf(rp->status[rp->n], sizeof rp->status[rp->n], "%s", r->status);
    rp->n++;
    rp->last_step = r->step;
    rp->last_had_val = r->val != NULL;
}

static void tiny_config(lilm_test *t, lilm_config *c, const char *text)
{
    lilm_config_defaults(c);
    const char *sets[] = {"model.vocab_size=260", "model.d_model=16", "model.n_layers=1", "model.n_heads=2",
                          "model.qk_dim=8", "model.v_dim=8", "model.ffn_dim=32", "model.context=16",
                          "data.tokenizer=bytes", "train.batch_size=4", "train.accum_batch=8", "budget.mode=steps",
                          "train.steps=6", "train.val_batches=2", "train.val_every=3",
                          "train.checkpoint_every_seconds=0", "train.threads=1"};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) LT_OK(t, lilm_config_set(c, sets[i]));
    snprintf(c->data.text, sizeof c->data.text, "%s", text);
    LT_OK(t, lilm_config_validate(c));
}

static void test_run_reports_and_validates(lilm_test *t)
{
    char dir[512], text[600], out[700];
    lilm_test_tmpdir(dir, sizeof dir);
    snprintf(text, sizeof text, "%s/corpus.txt", dir);
    FILE *f = fopen(text, "w");
    LT_TRUE(t, f != NULL);
    if (!f) return;
    for (int i = 0; i < 300; i++) fprintf(f, "a small story number %d about a cat and a dog.\n", i);
    fclose(f);
    lilm_config c;
    tiny_config(t, &c, text);
    snprintf(out, sizeof out, "%s/run", dir);
    reports rp;
    memset(&rp, 0, sizeof rp);
    lilm_trainer_options o = {.out_dir = out, .quiet = 1, .no_samples = 1, .on_report = on_report, .report_ctx = &rp};
    lilm_trainer tr;
    LT_OK(t, lilm_trainer_init(&tr, &c, &o));
    LT_EQ_INT(t, rp.n, 1);
    LT_TRUE(t, strcmp(rp.status[0], "running") == 0);
    LT_OK(t, lilm_trainer_run(&tr));
    LT_EQ_INT(t, rp.n, 2);
    LT_TRUE(t, strcmp(rp.status[1], "done") == 0);
    LT_EQ_INT(t, rp.last_step, 6);
    LT_TRUE(t, rp.last_had_val);
    LT_TRUE(t, tr.have_final_val && tr.final_val.full);
    lilm_eval_result e, p;
    LT_OK(t, lilm_eval_corpus(&tr.model, tr.data, 1, 0, NULL, &e));
    LT_TRUE(t, e.loss == tr.final_val.loss && e.bpb == tr.final_val.bpb && e.tokens == tr.final_val.tokens);
    LT_TRUE(t, e.bytes > 0 && e.batches == lilm_corpus_val_batches(tr.data));
    LT_OK(t, lilm_trainer_validate(&tr, 0, &p));
    LT_TRUE(t, !p.full && p.bytes == 0 && p.batches == 2 && p.bpb > 0);
    lilm_optim_counter *steps = lilm_optimizer_counter(&tr.opt, "adamw_step");
    LT_TRUE(t, steps && steps->value == 6);
    lilm_trainer_free(&tr);

    /* resume: the optimizer's counter comes back from the checkpoint */
    lilm_trainer_options r = {.out_dir = out, .resume = 1, .quiet = 1, .no_samples = 1};
    LT_OK(t, lilm_trainer_init(&tr, &c, &r));
    steps = lilm_optimizer_counter(&tr.opt, "adamw_step");
    LT_TRUE(t, steps && steps->value == 6);
    LT_EQ_INT(t, tr.state.step, 6);
    lilm_trainer_free(&tr);
}

static const lilm_test_case cases[] = {
    {"run_reports_and_validates", test_run_reports_and_validates},
};

LILM_TEST_MAIN(cases)
