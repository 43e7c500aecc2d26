/*
 * fuzz_safetensors.c: libFuzzer target for the safetensors reader.
 *
 * Feeds arbitrary bytes to lilm_st_open_memory (over an exact-size copy, so
 * ASan catches any read past the end) and, when the bytes are accepted, walks
 * every tensor and metadata entry and touches every data byte: the reader
 * promised that every pointer and size it hands out lies inside the input.
 * An accepted file is also written back with the writer and must reopen with
 * the same tensors. Built and run by `make fuzz-smoke` against
 * tests/fuzz/corpus/fuzz_safetensors/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(const lilm_st_file *f)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/lilm-fuzz-st-%ld.safetensors", (long)getpid());
    lilm_st_writer *w;
    if (lilm_st_writer_init(&w) != LILM_OK) return;
    lilm_st_writer_allow_non_finite(w); /* any bytes must round-trip */
    int ok = 1;
    for (size_t i = 0; ok && i < lilm_st_count(f); i++) {
        const lilm_st_tensor *t = lilm_st_at(f, i);
        ok = lilm_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data) == LILM_OK;
    }
    for (size_t i = 0; ok && i < lilm_st_metadata_count(f); i++) {
        const char *k, *v;
        lilm_st_metadata_at(f, i, &k, &v);
        ok = lilm_st_writer_add_metadata(w, k, v) == LILM_OK;
    }
    if (ok && lilm_st_writer_write(w, path) == LILM_OK) {
        lilm_st_file *g;
        if (lilm_st_open(&g, path) != LILM_OK) abort(); /* what we wrote must read back */
        if (lilm_st_count(g) != lilm_st_count(f)) abort();
        for (size_t i = 0; i < lilm_st_count(f); i++) {
            const lilm_st_tensor *a = lilm_st_at(f, i), *b = lilm_st_find(g, a->name);
            if (!b || b->nbytes != a->nbytes || (a->nbytes && memcmp(a->data, b->data, a->nbytes) != 0)) abort();
        }
        lilm_st_close(g);
        unlink(path);
    }
    lilm_st_writer_free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    lilm_st_file *f = NULL;
    if (lilm_st_open_memory(&f, copy, size, "fuzz") == LILM_OK) {
        volatile unsigned sum = 0;
        for (size_t i = 0; i < lilm_st_count(f); i++) {
            const lilm_st_tensor *t = lilm_st_at(f, i);
            const uint8_t *p = t->data;
            for (size_t k = 0; k < t->nbytes; k++) sum += p[k];
            sum += (unsigned)strlen(t->name);
            if (lilm_st_find(f, t->name) == NULL) abort();
        }
        for (size_t i = 0; i < lilm_st_metadata_count(f); i++) {
            const char *k, *v;
            lilm_st_metadata_at(f, i, &k, &v);
            sum += (unsigned)(strlen(k) + strlen(v));
        }
        if (sum == 0xdeadbeefu) fputs("", stderr); /* keep the reads observable */
        roundtrip(f);
        lilm_st_close(f);
    }
    free(copy);
    return 0;
}
