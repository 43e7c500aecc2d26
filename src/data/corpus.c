/*
 * corpus.c: prepared datasets and raw text behind the corpus interface.
 */
#include "data/corpus.h"

#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/json.h"
#include "data/text_source.h"

struct lilm_corpus {
    lilm_loader_mode mode;
    size_t B, T;
    int full;                      /* the validation pass under way */
    /* a prepared dataset ... */
    lilm_dataset *train_ds, *val_ds;
    lilm_loader *loader;           /* NULL unless opts.train */
    lilm_eval_iter *val_iter;
    /* ... or raw text */
    int is_text;
    lilm_text_source text;
};

static lilm_status open_dataset(lilm_corpus *c, const lilm_data_config *d, const lilm_tokenizer *tok,
                                const lilm_corpus_opts *o)
{
    const char *split = o->val_split ? o->val_split : "val";
    if (o->train) {
        LILM_TRY(lilm_dataset_open(&c->train_ds, d->dataset, "train"));
        LILM_TRY(lilm_dataset_check_tokenizer(c->train_ds, lilm_tokenizer_sha256(tok)));
        lilm_status st = lilm_dataset_open(&c->val_ds, d->dataset, split);
        if (st != LILM_OK) return lilm_error_context(st, "the dataset has no validation split: ");
    } else {
        LILM_TRY(lilm_dataset_open(&c->val_ds, d->dataset, split));
        LILM_TRY(lilm_dataset_check_tokenizer(c->val_ds, lilm_tokenizer_sha256(tok)));
    }
    lilm_dataset_info info;
    lilm_dataset_get_info(c->val_ds, &info);
    if (o->max_vocab > 0 && info.vocab_size > o->max_vocab)
        return lilm_errorf(LILM_ERR_MISMATCH, "the dataset's vocabulary (%d) is larger than model.vocab_size (%lld)",
                           info.vocab_size, (long long)o->max_vocab);
    if (o->train)
        LILM_TRY(lilm_loader_create(&c->loader, c->train_ds, d->mode, o->B, o->T, (size_t)d->shuffle_buffer, o->seed, 1));
    return lilm_eval_iter_create(&c->val_iter, c->val_ds, d->mode, o->B, o->T);
}

lilm_status lilm_corpus_open(lilm_corpus **out, const lilm_data_config *d, const lilm_tokenizer *tok,
                             const lilm_corpus_opts *o)
{
    *out = NULL;
    if (!d->dataset[0] && !d->text[0])
        return lilm_errorf(LILM_ERR_CONFIG, "no training data: set data.dataset (a prepared dataset dir) or data.text");
    lilm_corpus *c = calloc(1, sizeof *c);
    if (!c) return lilm_errorf(LILM_ERR_OOM, "out of memory");
    c->mode = d->mode;
    c->B = o->B;
    c->T = o->T;
    lilm_status st;
    if (d->dataset[0]) {
        st = open_dataset(c, d, tok, o);
    } else {
        st = lilm_text_source_open(&c->text, d->text, tok, d->val_fraction, o->B, o->T, o->seed);
        c->is_text = st == LILM_OK;
        c->text.pad_id = o->pad_id;
    }
    if (st != LILM_OK) {
        lilm_corpus_close(c);
        return st;
    }
    *out = c;
    return LILM_OK;
}

void lilm_corpus_close(lilm_corpus *c)
{
    if (!c) return;
    if (c->val_iter) lilm_eval_iter_free(c->val_iter);
    if (c->loader) lilm_loader_free(c->loader);
    if (c->val_ds) lilm_dataset_close(c->val_ds);
    if (c->train_ds) lilm_dataset_close(c->train_ds);
    if (c->is_text) lilm_text_source_close(&c->text);
    free(c);
}

lilm_status lilm_corpus_next(void *ctx, lilm_batch *batch)
{
    lilm_corpus *c = ctx;
    if (c->is_text) return lilm_text_source_next(&c->text, batch);
    if (!c->loader) return lilm_errorf(LILM_ERR_ARG, "the corpus was opened for validation only");
    return lilm_loader_next(c->loader, batch);
}

void lilm_corpus_val_begin(lilm_corpus *c, int full)
{
    c->full = full;
    if (c->is_text) {
        c->text.val_pos = c->text.n_train;
        c->text.full_pos = c->text.n_train;
    } else {
        lilm_eval_iter_reset(c->val_iter);
    }
}

lilm_status lilm_corpus_val_next(lilm_corpus *c, lilm_batch *batch, int *done)
{
    if (!c->is_text) return lilm_eval_iter_next(c->val_iter, batch, done);
    if (c->full) return lilm_text_source_next_full(&c->text, batch, done);
    int wrapped = 0;
    *done = 0;
    return lilm_text_source_next_val(&c->text, batch, &wrapped);
}

int64_t lilm_corpus_val_batches(const lilm_corpus *c)
{
    int64_t B = (int64_t)c->B, T = (int64_t)c->T, rows = 0;
    if (c->is_text) {
        rows = ((int64_t)(c->text.n_tokens - c->text.n_train) + T - 1) / T;
        return (rows + B - 1) / B;
    }
    lilm_dataset_info info;
    lilm_dataset_get_info(c->val_ds, &info);
    if (c->mode == LILM_LOADER_PACKED) {
        rows = (info.n_tokens + T - 1) / T;
    } else {
        for (int64_t i = 0; i < info.n_docs; i++) {
            int64_t off, nt, nb;
            lilm_dataset_doc_span(c->val_ds, i, &off, &nt, &nb);
            rows += (nt + T - 1) / T;
        }
    }
    return (rows + B - 1) / B;
}

int64_t lilm_corpus_val_bytes(const lilm_corpus *c)
{
    if (c->is_text) return c->text.val_bytes;
    lilm_dataset_info info;
    lilm_dataset_get_info(c->val_ds, &info);
    return info.n_bytes;
}

double lilm_corpus_val_bytes_per_token(const lilm_corpus *c)
{
    if (c->is_text) {
        size_t val_tokens = c->text.n_tokens - c->text.n_train;
        return val_tokens ? (double)c->text.val_bytes / (double)val_tokens : 1.0;
    }
    lilm_dataset_info info;
    lilm_dataset_get_info(c->val_ds, &info);
    return info.n_tokens ? (double)info.n_bytes / (double)info.n_tokens : 1.0;
}

void lilm_corpus_get_cursor(const lilm_corpus *c, lilm_data_cursor *cur)
{
    memset(cur, 0, sizeof *cur);
    if (c->is_text) {
        memcpy(cur->rng, c->text.rng.s, sizeof cur->rng);
    } else if (c->loader) {
        lilm_loader_get_cursor(c->loader, &cur->loader);
        cur->has_loader = 1;
    }
}

lilm_status lilm_corpus_set_cursor(lilm_corpus *c, const lilm_data_cursor *cur)
{
    if (c->is_text) {
        memcpy(c->text.rng.s, cur->rng, sizeof cur->rng);
        return LILM_OK;
    }
    if (cur->has_loader && c->loader) return lilm_loader_set_cursor(c->loader, &cur->loader);
    return LILM_OK;
}

/* ---- the dataset's own tokenizer ---- */

lilm_status lilm_data_resolve_tokenizer(const lilm_data_config *d, char *out, size_t n)
{
    if (d->tokenizer[0] || !d->dataset[0]) {
        snprintf(out, n, "%s", d->tokenizer[0] ? d->tokenizer : "bytes");
        return LILM_OK;
    }
    char meta[LILM_PATH_MAX + 16];
    snprintf(meta, sizeof meta, "%s/meta.json", d->dataset);
    lilm_json *j = NULL;
    LILM_TRY(lilm_json_parse_file(&j, meta));
    const lilm_json *tok = lilm_json_get(j, "tokenizer");
    const char *path = tok ? lilm_json_get_str(tok, "path") : NULL;
    lilm_status st = LILM_OK;
    if (!path || !*path) {
        st = lilm_errorf(LILM_ERR_FORMAT, "%s names no tokenizer\nHINT: set data.tokenizer", meta);
    } else if (strcmp(path, "bytes") == 0 || lilm_path_exists(path)) {
        snprintf(out, n, "%s", path);
    } else {
        /* a relative path recorded elsewhere: try it beside the dataset dir */
        const char *base = strrchr(path, '/');
        char beside[LILM_PATH_MAX * 2 + 8];
        snprintf(beside, sizeof beside, "%s/%s", d->dataset, base ? base + 1 : path);
        if (lilm_path_exists(beside))
            snprintf(out, n, "%s", beside);
        else
            st = lilm_errorf(LILM_ERR_NOT_FOUND,
                             "the dataset %s was made with tokenizer %s, which is not there any more\n"
                             "HINT: set data.tokenizer to that .model file",
                             d->dataset, path);
    }
    lilm_json_free(j);
    return st;
}
