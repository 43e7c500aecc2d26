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
#include "train/checkpoint.h"
#include "train/text_source.h"

void lilm_eval_finish(lilm_eval_result *r, double loss_sum, int64_t tokens, int64_t bytes)
{
    r->tokens = tokens;
    r->bytes = bytes;
    r->loss = tokens ? loss_sum / (double)tokens : 0;
    r->bpb = bytes > 0 ? loss_sum / (M_LN2 * (double)bytes) : 0;
    r->perplexity = exp(r->loss);
}

lilm_status lilm_eval_dataset(lilm_model *m, const lilm_dataset *ds, lilm_loader_mode mode, size_t B, size_t T,
                              lilm_eval_result *r)
{
    double t0 = lilm_progress_clock();
    lilm_eval_iter *it = NULL;
    LILM_TRY(lilm_eval_iter_create(&it, ds, mode, B, T));
    double sum = 0;
    int64_t counted = 0;
    lilm_status st = LILM_OK;
    for (;;) {
        lilm_batch b;
        int done = 0;
        if ((st = lilm_eval_iter_next(it, &b, &done)) != LILM_OK || done) break;
        double ls = 0;
        int64_t n = 0;
        if ((st = lilm_model_forward(m, b.inputs, b.targets, b.B, b.T, 0.0f, &ls, &n)) != LILM_OK) break;
        sum += ls;
        counted += n;
    }
    lilm_eval_iter_free(it);
    LILM_TRY(st);
    lilm_dataset_info info;
    lilm_dataset_get_info(ds, &info);
    lilm_eval_finish(r, sum, counted, info.n_bytes);
    r->seconds = lilm_progress_clock() - t0;
    return LILM_OK;
}

int64_t lilm_eval_count_batches(const lilm_dataset *ds, lilm_loader_mode mode, size_t B, size_t T)
{
    lilm_dataset_info info;
    lilm_dataset_get_info(ds, &info);
    int64_t rows = 0;
    if (mode == LILM_LOADER_PACKED) {
        rows = (info.n_tokens + (int64_t)T - 1) / (int64_t)T;
    } else {
        for (int64_t i = 0; i < info.n_docs; i++) {
            int64_t off, nt, nb;
            lilm_dataset_doc_span(ds, i, &off, &nt, &nb);
            rows += (nt + (int64_t)T - 1) / (int64_t)T;
        }
    }
    return (rows + (int64_t)B - 1) / (int64_t)B;
}

lilm_status lilm_eval_stream(lilm_model *m, const int32_t *tokens, size_t n, size_t start, int64_t bytes,
                             int32_t pad_id, size_t B, size_t T, lilm_eval_result *r)
{
    double t0 = lilm_progress_clock();
    int32_t *in = malloc(B * T * sizeof *in), *tg = malloc(B * T * sizeof *tg);
    if (!in || !tg) {
        free(in);
        free(tg);
        return lilm_errorf(LILM_ERR_OOM, "out of memory");
    }
    double sum = 0;
    int64_t counted = 0;
    lilm_status st = LILM_OK;
    /* row k predicts tokens [start + k*T, start + (k+1)*T) from the tokens one before each */
    size_t pos = start;
    while (pos < n && st == LILM_OK) {
        size_t rows = 0;
        for (; rows < B && pos < n; rows++, pos += T) {
            for (size_t j = 0; j < T; j++) {
                size_t target = pos + j;
                int have = target < n;
                tg[rows * T + j] = have ? tokens[target] : pad_id;
                in[rows * T + j] = have && target > 0 ? tokens[target - 1] : pad_id;
                /* the very first token of the stream has no context: it is not counted */
                if (have && target == 0) tg[rows * T + j] = pad_id;
            }
        }
        double ls = 0;
        int64_t c = 0;
        st = lilm_model_forward(m, in, tg, rows, T, 0.0f, &ls, &c);
        sum += ls;
        counted += c;
    }
    free(in);
    free(tg);
    LILM_TRY(st);
    lilm_eval_finish(r, sum, counted, bytes);
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

/* The tokenizer a dataset was prepared with (its meta.json), for configs that leave it empty. */
static lilm_status dataset_tokenizer(const char *dir, char *out, size_t n)
{
    char path[LILM_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/meta.json", dir);
    lilm_json *j = NULL;
    LILM_TRY(lilm_json_parse_file(&j, path));
    const lilm_json *tk = lilm_json_get(j, "tokenizer");
    const char *p = tk ? lilm_json_get_str(tk, "path") : NULL;
    lilm_status st = LILM_OK;
    if (!p || !*p) st = lilm_errorf(LILM_ERR_FORMAT, "%s names no tokenizer path\nHINT: set data.tokenizer", path);
    else snprintf(out, n, "%s", p);
    lilm_json_free(j);
    return st;
}

static lilm_status resolve_tokenizer(const lilm_config *cfg, char *tokpath, size_t n)
{
    snprintf(tokpath, n, "%s", cfg->data.tokenizer);
    if (tokpath[0]) return LILM_OK;
    if (cfg->data.dataset[0]) return dataset_tokenizer(cfg->data.dataset, tokpath, n);
    snprintf(tokpath, n, "bytes");
    return LILM_OK;
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
    LILM_TRY(resolve_tokenizer(&lm->cfg, tokpath, sizeof tokpath));
    lilm_device_choice dev;
    LILM_TRY(lilm_device_choice_parse(device ? device : lm->cfg.train.device, &dev));
    if (!B) B = (size_t)lm->cfg.train.batch_size;
    if (!T) T = (size_t)mc.context;
    lilm_backend_options bo;
    lilm_backend_options_from_config(&lm->cfg.train, &bo);
    lilm_status st = lilm_backend_create_opts(&lm->be, dev, threads >= 0 ? threads : (int)lm->cfg.train.threads, &bo);
    if (st == LILM_OK) st = lilm_tokenizer_load(&lm->tok, tokpath);
    if (st == LILM_OK) {
        st = lilm_model_init(&lm->model, &mc, lm->be, B, T, lm->cfg.train.seed);
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
    snprintf(r->checkpoint, sizeof r->checkpoint, "%s", lm.checkpoint);
    size_t B = lm.model.max_B, T = lm.model.max_T;
    lilm_dataset *ds = NULL;
    lilm_text_source text;
    int have_text = 0;
    lilm_status st = LILM_OK;
    if (!cfg->data.dataset[0] && !cfg->data.text[0]) {
        st = lilm_errorf(LILM_ERR_CONFIG, "%s does not say what data it was trained on\nHINT: pass --data DIR (a prepared dataset)",
                         lm.checkpoint);
    } else if (cfg->data.dataset[0]) {
        snprintf(r->data, sizeof r->data, "%s", cfg->data.dataset);
        st = lilm_dataset_open(&ds, cfg->data.dataset, o->split ? o->split : "val");
        if (st == LILM_OK) st = lilm_dataset_check_tokenizer(ds, lilm_tokenizer_sha256(lm.tok));
    } else {
        snprintf(r->data, sizeof r->data, "%s", cfg->data.text);
        st = lilm_text_source_open(&text, cfg->data.text, lm.tok, cfg->data.val_fraction, B, T, cfg->train.seed);
        have_text = st == LILM_OK;
    }
    if (st == LILM_OK) {
        r->params = (int64_t)lm.model.n_elems;
        if (ds) st = lilm_eval_dataset(&lm.model, ds, cfg->data.mode, B, T, r);
        else st = lilm_eval_stream(&lm.model, text.tokens, text.n_tokens, text.n_train, text.val_bytes,
                                   (int32_t)lm.model.cfg.pad_id, B, T, r);
    }
    if (have_text) lilm_text_source_close(&text);
    if (ds) lilm_dataset_close(ds);
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
