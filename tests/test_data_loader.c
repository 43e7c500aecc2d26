/*
 * test_data_loader.c: the batch loader and the eval iterator (dataset.h).
 *
 * Packed mode: each epoch hands out every block once (so every token after
 * the first is a target once), rows are true (T+1)-windows of the stream,
 * epochs reshuffle, seeds decide the order. Document mode: truncation,
 * padding and target counts. Cursor: k batches, save, m more; a fresh loader
 * restored from the cursor gives the same m batches (with and without
 * prefetch, across an epoch boundary). Eval: every token a target once.
 */
#include "test.h"

#include "core/status.h"
#include "data/dataset.h"
#include "data/shard.h"

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

/* Documents of 3..40 tokens; token values encode their stream position so
 * windows can be checked: value = 4 + pos % 64000 (EOS = 2 at doc ends). */
static lilm_dataset *make_ds(lilm_test *t, char *dir, size_t dirn, int n_docs)
{
    lilm_test_tmpdir(dir, dirn);
    lilm_shard_writer *w = NULL;
    LT_OK(t, lilm_shard_writer_open(&w, dir, "train", 65000, 2, 3, SHA_A));
    if (!w) return NULL;
    int32_t ids[64];
    int64_t pos = 0;
    for (int d = 0; d < n_docs; d++) {
        int n = 3 + (d * 7) % 38;
        for (int i = 0; i < n - 1; i++) ids[i] = 4 + (int32_t)((pos + i) % 64000);
        ids[n - 1] = 2;
        LT_OK(t, lilm_shard_writer_add(w, ids, (size_t)n, n));
        pos += n;
    }
    LT_OK(t, lilm_shard_writer_commit(w, NULL));
    lilm_dataset *ds = NULL;
    LT_OK(t, lilm_dataset_open(&ds, dir, "train"));
    return ds;
}

static void test_packed_epoch_coverage(lilm_test *t)
{
    char dir[256];
    lilm_dataset *ds = make_ds(t, dir, sizeof dir, 300);
    if (!ds) return;
    lilm_dataset_info info;
    lilm_dataset_get_info(ds, &info);
    const size_t B = 4, T = 16;
    int64_t nblocks = (info.n_tokens - 1) / (int64_t)T;
    int32_t *stream = malloc((size_t)info.n_tokens * sizeof *stream);
    lilm_dataset_tokens(ds, 0, (size_t)info.n_tokens, stream);
    lilm_loader *ld = NULL;
    LT_OK(t, lilm_loader_create(&ld, ds, LILM_LOADER_PACKED, B, T, 8, 42, 1));
    if (!ld) return;
    /* take exactly one epoch's blocks (rounded up to whole batches) */
    int64_t *seen = calloc((size_t)nblocks, sizeof *seen);
    int64_t taken = 0, bad_window = 0, unmatched = 0, in_order = 0, prev = -1;
    while (taken < nblocks) {
        lilm_batch b;
        LT_OK(t, lilm_loader_next(ld, &b));
        LT_EQ_INT(t, b.n_targets, (int64_t)(B * T));
        for (size_t r = 0; r < B && taken < nblocks; r++, taken++) {
            /* find the block by its content: the window starts at k*T */
            int64_t k = -1;
            for (int64_t c = 0; c < nblocks && k < 0; c++)
                if (memcmp(stream + c * (int64_t)T, b.inputs + r * T, T * sizeof(int32_t)) == 0 &&
                    memcmp(stream + c * (int64_t)T + 1, b.targets + r * T, T * sizeof(int32_t)) == 0)
                    k = c;
            if (k < 0) {
                unmatched++;
                continue;
            }
            if (b.inputs[r * T + 1] != b.targets[r * T]) bad_window++;
            seen[k]++;
            in_order += k == prev + 1;
            prev = k;
        }
    }
    LT_EQ_INT(t, unmatched, 0);
    LT_EQ_INT(t, bad_window, 0);
    int64_t once = 0;
    for (int64_t k = 0; k < nblocks; k++) once += seen[k] == 1;
    LT_EQ_INT(t, once, nblocks);
    LT_CHECK(t, in_order < nblocks / 2, "blocks look unshuffled (%lld of %lld in order)", (long long)in_order,
             (long long)nblocks);
    lilm_loader_cursor c;
    lilm_loader_get_cursor(ld, &c);
    LT_TRUE(t, c.epoch == 0 || c.epoch == 1);
    free(seen);
    free(stream);
    lilm_loader_free(ld);
    lilm_dataset_close(ds);
}

/* Copies of n batches from a loader. */
static int32_t *take(lilm_test *t, lilm_loader *ld, int n, size_t B, size_t T)
{
    int32_t *out = malloc((size_t)n * 2 * B * T * sizeof *out);
    for (int i = 0; i < n; i++) {
        lilm_batch b;
        LT_OK(t, lilm_loader_next(ld, &b));
        memcpy(out + (size_t)i * 2 * B * T, b.inputs, B * T * sizeof *out);
        memcpy(out + (size_t)i * 2 * B * T + B * T, b.targets, B * T * sizeof *out);
    }
    return out;
}

static void cursor_case(lilm_test *t, lilm_loader_mode mode, int prefetch_a, int prefetch_b, int k, int m)
{
    char dir[256];
    lilm_dataset *ds = make_ds(t, dir, sizeof dir, 120);
    if (!ds) return;
    const size_t B = 3, T = 12;
    lilm_loader *a = NULL, *b = NULL;
    LT_OK(t, lilm_loader_create(&a, ds, mode, B, T, 16, 7, prefetch_a));
    if (!a) return;
    free(take(t, a, k, B, T));
    lilm_loader_cursor c;
    lilm_loader_get_cursor(a, &c);
    int32_t *want = take(t, a, m, B, T);
    LT_OK(t, lilm_loader_create(&b, ds, mode, B, T, 16, 999 /* another seed: the cursor decides */, prefetch_b));
    LT_OK(t, lilm_loader_set_cursor(b, &c));
    int32_t *got = take(t, b, m, B, T);
    LT_CHECK(t, memcmp(want, got, (size_t)m * 2 * B * T * sizeof *got) == 0,
             "mode %d: restored loader differs after %d batches", (int)mode, k);
    /* and restoring the first loader to its own cursor repeats too */
    LT_OK(t, lilm_loader_set_cursor(a, &c));
    int32_t *again = take(t, a, m, B, T);
    LT_TRUE(t, memcmp(want, again, (size_t)m * 2 * B * T * sizeof *got) == 0);
    /* a cursor from another shuffle size is refused */
    lilm_loader_cursor bad = c;
    bad.buffered = mode == LILM_LOADER_PACKED ? 3 : 1;
    LT_STATUS(t, lilm_loader_set_cursor(b, &bad), LILM_ERR_MISMATCH);
    free(want);
    free(got);
    free(again);
    lilm_loader_free(a);
    lilm_loader_free(b);
    lilm_dataset_close(ds);
}

static void test_cursor_packed(lilm_test *t)
{
    cursor_case(t, LILM_LOADER_PACKED, 1, 1, 5, 7);
    cursor_case(t, LILM_LOADER_PACKED, 0, 1, 3, 4);
    cursor_case(t, LILM_LOADER_PACKED, 1, 0, 150, 90); /* crosses epochs: ~ 2570 tokens / 12 = 214 blocks */
}

static void test_cursor_document(lilm_test *t)
{
    cursor_case(t, LILM_LOADER_DOCUMENT, 1, 1, 5, 7);
    cursor_case(t, LILM_LOADER_DOCUMENT, 0, 1, 39, 10); /* crosses the epoch at 40 batches of 3 */
}

static void test_determinism_and_reshuffle(lilm_test *t)
{
    char dir[256];
    lilm_dataset *ds = make_ds(t, dir, sizeof dir, 120);
    if (!ds) return;
    const size_t B = 2, T = 8;
    lilm_loader *a = NULL, *b = NULL, *c = NULL, *d = NULL;
    LT_OK(t, lilm_loader_create(&a, ds, LILM_LOADER_PACKED, B, T, 32, 1, 1));
    LT_OK(t, lilm_loader_create(&b, ds, LILM_LOADER_PACKED, B, T, 32, 1, 0));
    LT_OK(t, lilm_loader_create(&c, ds, LILM_LOADER_PACKED, B, T, 32, 2, 0));
    LT_OK(t, lilm_loader_create(&d, ds, LILM_LOADER_DOCUMENT, B, T, 0, 1, 0));
    if (!a || !b || !c || !d) return;
    lilm_dataset_info info;
    lilm_dataset_get_info(ds, &info);
    int per_epoch = (int)(((info.n_tokens - 1) / (int64_t)T) / (int64_t)B); /* whole batches in an epoch */
    int32_t *xa = take(t, a, 2 * per_epoch, B, T), *xb = take(t, b, 2 * per_epoch, B, T);
    int32_t *xc = take(t, c, per_epoch, B, T);
    size_t sz = 2 * B * T * sizeof(int32_t);
    LT_TRUE(t, memcmp(xa, xb, (size_t)(2 * per_epoch) * sz) == 0); /* prefetch changes nothing */
    LT_TRUE(t, memcmp(xa, xc, (size_t)per_epoch * sz) != 0);       /* seed matters */
    LT_TRUE(t, memcmp(xa, xa + (size_t)per_epoch * sz / sizeof(int32_t), (size_t)(per_epoch / 2) * sz) != 0); /* epoch 2 differs */
    /* document epochs reshuffle */
    int per_doc_epoch = (int)(info.n_docs / (int64_t)B);
    int32_t *xd = take(t, d, 2 * per_doc_epoch, B, T);
    LT_TRUE(t, memcmp(xd, xd + (size_t)per_doc_epoch * sz / sizeof(int32_t), (size_t)(per_doc_epoch / 2) * sz) != 0);
    free(xa);
    free(xb);
    free(xc);
    free(xd);
    lilm_loader_free(a);
    lilm_loader_free(b);
    lilm_loader_free(c);
    lilm_loader_free(d);
    lilm_dataset_close(ds);
}

static void test_document_mode(lilm_test *t)
{
    char dir[256];
    lilm_dataset *ds = make_ds(t, dir, sizeof dir, 60);
    if (!ds) return;
    lilm_dataset_info info;
    lilm_dataset_get_info(ds, &info);
    const size_t B = 4, T = 20;
    lilm_loader *ld = NULL;
    LT_OK(t, lilm_loader_create(&ld, ds, LILM_LOADER_DOCUMENT, B, T, 0, 3, 1));
    if (!ld) return;
    int64_t total_targets = 0, want_targets = 0, bad = 0;
    for (int64_t i = 0; i < info.n_docs; i++) {
        int64_t cnt;
        lilm_dataset_doc_span(ds, i, NULL, &cnt, NULL);
        want_targets += (cnt < (int64_t)T + 1 ? cnt : (int64_t)T + 1) - 1;
    }
    for (int64_t i = 0; i < info.n_docs / (int64_t)B; i++) {
        lilm_batch b;
        LT_OK(t, lilm_loader_next(ld, &b));
        int64_t counted = 0;
        for (size_t r = 0; r < B; r++) {
            for (size_t j = 0; j < T; j++) {
                int32_t tg = b.targets[r * T + j];
                if (tg != 3) counted++;
                /* after the first pad target, all are pad and inputs pad after the EOS position */
                if (j > 0 && b.targets[r * T + j - 1] == 3 && tg != 3) bad++;
                if (j + 1 < T && tg != 3 && b.inputs[r * T + j + 1] != tg) bad++;
            }
        }
        LT_EQ_INT(t, counted, b.n_targets);
        total_targets += b.n_targets;
    }
    LT_EQ_INT(t, bad, 0);
    LT_EQ_INT(t, total_targets, want_targets); /* 60 docs / 4 = exactly one epoch */
    lilm_loader_free(ld);
    lilm_dataset_close(ds);
}

static void eval_case(lilm_test *t, lilm_dataset *ds, lilm_loader_mode mode, size_t B, size_t T, int first)
{
    lilm_dataset_info info;
    lilm_dataset_get_info(ds, &info);
    lilm_eval_iter *it = NULL;
    LT_OK(t, lilm_eval_iter_create(&it, ds, mode, B, T));
    if (!it) return;
    if (!first) lilm_eval_iter_predict_first(it, 0);
    int32_t *stream = malloc((size_t)info.n_tokens * sizeof *stream);
    lilm_dataset_tokens(ds, 0, (size_t)info.n_tokens, stream);
    for (int pass = 0; pass < 2; pass++) {
        int64_t targets = 0, counted = 0, mismatch = 0, nbatches = 0;
        int64_t next = 0; /* the next stream token we expect as a target, in order */
        int64_t doc_i = 0, doc_end = 0; /* without predict_first: skip each document's (or the stream's) first token */
        int done = 0;
        while (1) {
            lilm_batch b;
            LT_OK(t, lilm_eval_iter_next(it, &b, &done));
            if (done) break;
            nbatches++;
            targets += b.n_targets;
            for (size_t i = 0; i < B * T; i++) {
                if (b.targets[i] == 3) continue;
                if (!first && (mode == LILM_LOADER_PACKED ? next == 0 : next == doc_end)) {
                    /* this stream position is a first token: not a target here */
                    if (mode == LILM_LOADER_DOCUMENT) {
                        int64_t cnt;
                        lilm_dataset_doc_span(ds, doc_i++, NULL, &cnt, NULL);
                        doc_end += cnt;
                    }
                    next++;
                }
                if (first && mode == LILM_LOADER_DOCUMENT && next == doc_end) {
                    int64_t cnt;
                    lilm_dataset_doc_span(ds, doc_i++, NULL, &cnt, NULL);
                    doc_end += cnt;
                }
                counted++;
                if (next >= info.n_tokens || b.targets[i] != stream[next]) mismatch++;
                next++;
            }
        }
        int64_t want = first ? info.n_tokens : mode == LILM_LOADER_PACKED ? info.n_tokens - 1 : info.n_tokens - info.n_docs;
        LT_EQ_INT(t, targets, want);
        LT_EQ_INT(t, counted, want);
        LT_EQ_INT(t, mismatch, 0);
        LT_TRUE(t, nbatches > 0);
        lilm_eval_iter_reset(it);
    }
    free(stream);
    lilm_eval_iter_free(it);
}

static void test_eval_every_token_once(lilm_test *t)
{
    char dir[256];
    lilm_dataset *ds = make_ds(t, dir, sizeof dir, 77);
    if (!ds) return;
    for (int first = 0; first <= 1; first++) {
        eval_case(t, ds, LILM_LOADER_PACKED, 3, 16, first);
        eval_case(t, ds, LILM_LOADER_PACKED, 1, 7, first);
        eval_case(t, ds, LILM_LOADER_DOCUMENT, 4, 10, first); /* docs up to 40 tokens span rows */
        eval_case(t, ds, LILM_LOADER_DOCUMENT, 2, 64, first);
    }
    lilm_dataset_close(ds);
}

static void test_bad_args(lilm_test *t)
{
    char dir[256];
    lilm_dataset *ds = make_ds(t, dir, sizeof dir, 3);
    if (!ds) return;
    lilm_loader *ld = NULL;
    LT_STATUS(t, lilm_loader_create(&ld, ds, LILM_LOADER_PACKED, 2, 4096, 8, 1, 0), LILM_ERR_ARG);
    LT_TRUE(t, strstr(lilm_last_error(), "fewer than one block") != NULL);
    LT_STATUS(t, lilm_loader_create(&ld, ds, LILM_LOADER_PACKED, 0, 4, 8, 1, 0), LILM_ERR_ARG);
    LT_TRUE(t, ld == NULL);
    lilm_dataset_close(ds);
}

static const lilm_test_case cases[] = {
    {"packed_epoch_coverage", test_packed_epoch_coverage},
    {"cursor_packed", test_cursor_packed},
    {"cursor_document", test_cursor_document},
    {"determinism_and_reshuffle", test_determinism_and_reshuffle},
    {"document_mode", test_document_mode},
    {"eval_every_token_once", test_eval_every_token_once},
    {"bad_args", test_bad_args},
};
LILM_TEST_MAIN(cases)
