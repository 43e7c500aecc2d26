/*
 * evaluate.c: full validation of a model, a run or a checkpoint.
 * See evaluate.h for what is counted and how BPB is defined.
 */
#include "eval/evaluate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/progress.h"
#include "core/fileio.h"
#include "core/json.h"
#include "ops/backend.h"
#include "model/checkpoint.h"

void lilm_eval_finish(lilm_eval_result *r, double loss_sum, int64_t tokens, int64_t bytes)
{
    r->tokens = tokens;
    r->bytes = bytes;
    r->loss = tokens ? loss_sum / (double)tokens : 0;
    r->bpb = bytes > 0 ? loss_sum / (M_LN2 * (double)bytes) : 0;
    r->perplexity = exp(r->loss);
}

lilm_status lilm_eval_corpus(lilm_model *m, lilm_corpus *c, int full, int64_t max_batches, const lilm_dist *dist,
                             lilm_eval_result *r)
{
    int ranks = dist ? dist->size : 1, rank = dist ? dist->rank : 0;
    memset(r, 0, sizeof *r);
    double t0 = lilm_progress_clock();
    lilm_corpus_val_begin(c, full);
    double sum = 0;
    int64_t counted = 0;
    for (int64_t b = 0; full || b < max_batches; b++) {
        lilm_batch batch;
        int done = 0;
        LILM_TRY(lilm_corpus_val_next(c, &batch, &done));
        if (done) break;
        r->batches++;
        if (b % ranks != rank) continue; /* data parallel: batch b is rank b mod N's */
        double ls = 0;
        int64_t n = 0;
        LILM_TRY(lilm_model_forward(m, batch.inputs, batch.targets, batch.B, batch.T, 0.0f, &ls, &n));
        sum += ls;
        counted += n;
    }
    if (ranks > 1) {
        LILM_TRY(lilm_dist_sum_f64(dist, &sum, 1));
        LILM_TRY(lilm_dist_sum_i64(dist, &counted, 1));
    }
    if (full) {
        lilm_eval_finish(r, sum, counted, lilm_corpus_val_bytes(c));
    } else {
        lilm_eval_finish(r, sum, counted, 0);
        r->bpb = r->loss / (M_LN2 * lilm_corpus_val_bytes_per_token(c));
    }
    r->full = full;
    r->seconds = lilm_progress_clock() - t0;
    return LILM_OK;
}

/* ---- a run or a checkpoint ---- */

static lilm_status find_checkpoint(const char *target, const char *checkpoint, char *path, size_t n)
{
    if (!lilm_path_exists(target))
        return lilm_errorf(LILM_ERR_NOT_FOUND, "%s does not exist\nHINT: give a run directory (runs/NAME) or a .safetensors checkpoint",
                           target);
    size_t len = strlen(target);
    if (len > 12 && strcmp(target + len - 12, ".safetensors") == 0) {
        snprintf(path, n, "%s", target);
        return LILM_OK;
    }
    static const char *const order[] = {"final", "best", "last"};
    for (int i = 0; i < 3; i++) {
        const char *name = checkpoint ? checkpoint : order[i];
        snprintf(path, n, "%s/checkpoints/%s.safetensors", target, name);
        if (lilm_path_exists(path)) return LILM_OK;
        if (checkpoint) break;
    }
    return lilm_errorf(LILM_ERR_NOT_FOUND, "%s has no %s checkpoint\nHINT: the run may not have finished; try --checkpoint last",
                       target, checkpoint ? checkpoint : "final, best or last");
}

void lilm_eval_unload(lilm_loaded_model *lm)
{
    if (lm->have_model) lilm_model_free(&lm->model);
    if (lm->tok) lilm_tokenizer_free(lm->tok);
    if (lm->be) lilm_backend_free(lm->be);
    memset(lm, 0, sizeof *lm);
}

lilm_status lilm_eval_load(const char *target, const char *checkpoint, const char *data, const char *device,
                           int threads, size_t B, size_t T, lilm_loaded_model *lm)
{
    memset(lm, 0, sizeof *lm);
    LILM_TRY(find_checkpoint(target, checkpoint, lm->checkpoint, sizeof lm->checkpoint));
    lilm_model_config mc;
    LILM_TRY(lilm_checkpoint_read_config(lm->checkpoint, &mc, &lm->cfg));
    if (data) {
        snprintf(lm->cfg.data.dataset, sizeof lm->cfg.data.dataset, "%s", data);
        lm->cfg.data.text[0] = '\0';
    }
    char tokpath[LILM_PATH_MAX];
    LILM_TRY(lilm_data_resolve_tokenizer(&lm->cfg.data, tokpath, sizeof tokpath));
    lilm_device_choice dev;
    LILM_TRY(lilm_device_choice_parse(device ? device : lm->cfg.train.device, &dev));
    if (!B) B = (size_t)lm->cfg.train.batch_size;
    if (!T) T = (size_t)mc.context;
    lilm_backend_options bo;
    lilm_backend_options_from_config(&lm->cfg.train, &bo);
    lilm_status st = lilm_backend_create_opts(&lm->be, dev, threads >= 0 ? threads : (int)lm->cfg.train.threads, &bo);
    if (st == LILM_OK) st = lilm_tokenizer_load(&lm->tok, tokpath);
    if (st == LILM_OK) {
        st = lilm_model_init_mode(&lm->model, &mc, lm->be, B, T, lm->cfg.train.seed, LILM_MODEL_INFERENCE);
        lm->have_model = st == LILM_OK;
    }
    if (st == LILM_OK) st = lilm_checkpoint_load(lm->checkpoint, &lm->model, NULL, NULL);
    if (st != LILM_OK) lilm_eval_unload(lm);
    return st;
}

lilm_status lilm_eval_run(const lilm_eval_opts *o, lilm_eval_result *r)
{
    memset(r, 0, sizeof *r);
    lilm_loaded_model lm;
    LILM_TRY(lilm_eval_load(o->target, o->checkpoint, o->data, o->device, o->threads, o->batch, 0, &lm));
    lilm_config *cfg = &lm.cfg;
    lilm_corpus *corpus = NULL;
    lilm_status st = LILM_OK;
    if (!cfg->data.dataset[0] && !cfg->data.text[0]) {
        st = lilm_errorf(LILM_ERR_CONFIG, "%s does not say what data it was trained on\nHINT: pass --data DIR (a prepared dataset)",
                         lm.checkpoint);
    } else {
        lilm_corpus_opts co = {.B = lm.model.max_B, .T = lm.model.max_T, .seed = cfg->train.seed,
                               .pad_id = (int32_t)lm.model.cfg.pad_id, .val_split = o->split};
        st = lilm_corpus_open(&corpus, &cfg->data, lm.tok, &co);
    }
    if (st == LILM_OK) st = lilm_eval_corpus(&lm.model, corpus, 1, 0, NULL, r);
    r->params = (int64_t)lm.model.n_elems;
    snprintf(r->checkpoint, sizeof r->checkpoint, "%s", lm.checkpoint);
    snprintf(r->data, sizeof r->data, "%s", cfg->data.dataset[0] ? cfg->data.dataset : cfg->data.text);
    lilm_corpus_close(corpus);
    lilm_eval_unload(&lm);
    return st;
}

lilm_status lilm_eval_write_json(const char *path, const lilm_eval_result *r, const char *extra_json)
{
    lilm_json_writer w;
    lilm_json_writer_init(&w, 1);
    lilm_json_begin_object(&w);
    lilm_json_key(&w, "loss"); lilm_json_double(&w, r->loss);
    lilm_json_key(&w, "bpb"); lilm_json_double(&w, r->bpb);
    lilm_json_key(&w, "perplexity"); lilm_json_double(&w, r->perplexity);
    lilm_json_key(&w, "tokens"); lilm_json_int(&w, r->tokens);
    lilm_json_key(&w, "bytes"); lilm_json_int(&w, r->bytes);
    lilm_json_key(&w, "params"); lilm_json_int(&w, r->params);
    lilm_json_key(&w, "seconds"); lilm_json_double(&w, r->seconds);
    lilm_json_key(&w, "checkpoint"); lilm_json_str(&w, r->checkpoint);
    lilm_json_key(&w, "data"); lilm_json_str(&w, r->data);
    lilm_json_end_object(&w);
    char *text = NULL;
    size_t n = 0;
    LILM_TRY(lilm_json_writer_finish(&w, &text, &n));
    if (extra_json && *extra_json) {
        /* splice the extra members in before the closing brace */
        size_t e = strlen(extra_json);
        char *t2 = malloc(n + e + 8);
        if (!t2) {
            free(text);
            return lilm_errorf(LILM_ERR_OOM, "out of memory");
        }
        size_t close = n;
        while (close > 0 && text[close - 1] != '}') close--;
        size_t k = close - 1;
        while (k > 0 && (text[k - 1] == '\n' || text[k - 1] == ' ')) k--;
        memcpy(t2, text, k);
        size_t at = k;
        memcpy(t2 + at, ",\n  ", 4);
        at += 4;
        memcpy(t2 + at, extra_json, e);
        at += e;
        memcpy(t2 + at, "\n}\n", 3);
        at += 3;
        free(text);
        text = t2;
        n = at;
    }
    lilm_status st = lilm_write_atomic(path, text, n);
    free(text);
    return st;
}
