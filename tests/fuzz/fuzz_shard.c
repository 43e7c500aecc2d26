/*
 * fuzz_shard.c: libFuzzer target for the dataset reader: token shards and
 * the document index (`make fuzz-smoke`), then the batch loader and the
 * evaluation iterator over whatever it accepts.
 *
 * Input layout: byte 0 holds flags (bit 0: recompute the four CRC-32s the
 * format carries, so mutations reach the checks behind them; bit 1: documents
 * mode instead of packed), bytes 1..4 the length of the .tokens file (little
 * endian), then the .tokens bytes, then the .docs bytes. A dataset that opens
 * is read document by document and through the loader and the eval iterator
 * at a small (B, T); every id handed out must be below the vocab size or the
 * pad id. Seeds: tests/fuzz/corpus/fuzz_shard (datasets written by `lilm data
 * prepare`: bytes and 2-byte tokens, one and several documents).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "data/shard.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Makes the checksums agree with the bytes (payload CRCs first, then headers). */
static void repair(uint8_t *tok, size_t nt, uint8_t *doc, size_t nd)
{
    if (nt >= LILM_DATASET_TOKENS_HEADER) {
        put64(tok + 56, lilm_crc32(0, tok + LILM_DATASET_TOKENS_HEADER, nt - LILM_DATASET_TOKENS_HEADER));
        put64(tok + 120, lilm_crc32(0, tok, 120));
    }
    if (nd >= LILM_DATASET_DOCS_HEADER) {
        put64(doc + 40, lilm_crc32(0, doc + LILM_DATASET_DOCS_HEADER, nd - LILM_DATASET_DOCS_HEADER));
        put64(doc + 56, lilm_crc32(0, doc, 56));
    }
}

static void check_batch(const lilm_batch *b, int32_t vocab, int32_t pad)
{
    for (size_t i = 0; i < b->B * b->T; i++) {
        if ((b->inputs[i] < 0 || b->inputs[i] >= vocab) && b->inputs[i] != pad) abort();
        if ((b->targets[i] < 0 || b->targets[i] >= vocab) && b->targets[i] != pad) abort();
    }
}

static void read_dataset(lilm_dataset *ds, lilm_loader_mode mode)
{
    lilm_dataset_info info;
    lilm_dataset_get_info(ds, &info);
    int32_t buf[512];
    for (int64_t i = 0; i < info.n_docs && i < 64; i++) {
        size_t n = sizeof buf / sizeof buf[0];
        int64_t nb;
        int64_t off, cnt, bytes;
        lilm_dataset_doc_span(ds, i, &off, &cnt, &bytes);
        if (cnt <= (int64_t)n && lilm_dataset_doc(ds, i, buf, &n, &nb) == LILM_OK)
            for (size_t k = 0; k < n; k++)
                if (buf[k] < 0 || buf[k] >= info.vocab_size) abort();
    }
    lilm_loader *ld = NULL;
    if (lilm_loader_create(&ld, ds, mode, 2, 8, 4, 1, 0) == LILM_OK) {
        lilm_batch b;
        for (int k = 0; k < 4 && lilm_loader_next(ld, &b) == LILM_OK; k++) check_batch(&b, info.vocab_size, info.pad_id);
        lilm_loader_free(ld);
    }
    lilm_eval_iter *it = NULL;
    if (lilm_eval_iter_create(&it, ds, mode, 2, 8) == LILM_OK) {
        lilm_batch b;
        int done = 0;
        int64_t targets = 0;
        for (int k = 0; k < 256 && !done && lilm_eval_iter_next(it, &b, &done) == LILM_OK; k++)
            if (!done) {
                check_batch(&b, info.vocab_size, info.pad_id);
                targets += b.n_targets;
            }
        if (done && targets != info.n_tokens) abort(); /* every token a target exactly once */
        lilm_eval_iter_free(it);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5) return 0;
    uint32_t nt = (uint32_t)data[1] | (uint32_t)data[2] << 8 | (uint32_t)data[3] << 16 | (uint32_t)data[4] << 24;
    size_t rest = size - 5;
    if (nt > rest) nt = (uint32_t)rest;
    size_t nd = rest - nt;
    uint8_t *tok = malloc(nt + 1), *doc = malloc(nd + 1);
    if (!tok || !doc) abort();
    memcpy(tok, data + 5, nt);
    memcpy(doc, data + 5 + nt, nd);
    if (data[0] & 1) repair(tok, nt, doc, nd);
    char dir[256];
    fuzz_dir("shard", dir, sizeof dir);
    fuzz_write(dir, "train.tokens", tok, nt);
    fuzz_write(dir, "train.docs", doc, nd);
    free(tok);
    free(doc);
    lilm_dataset *ds = NULL;
    if (lilm_dataset_open(&ds, dir, "train") == LILM_OK) {
        read_dataset(ds, (data[0] & 2) ? LILM_LOADER_DOCUMENT : LILM_LOADER_PACKED);
        lilm_dataset_close(ds);
    }
    return 0;
}
