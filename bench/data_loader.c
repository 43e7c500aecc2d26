/*
 * data_loader.c: throughput of the batch loader (tokens of ready batches per
 * second) on a prepared dataset, on one core.
 *
 *   bench/data_loader DIR [B] [T] [seconds]
 *
 * Measures, for packed and document mode, without prefetch (the loader's own
 * work on the calling core) and with the prefetch thread (what the trainer
 * sees when it does nothing else): batches are consumed and one value of
 * each row touched so nothing is optimised away. Prints one line per case:
 * "packed prefetch=0: 123.4 M tokens/s". Built and run by bench/data.sh.
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/progress.h"
#include "core/status.h"
#include "data/dataset.h"

static int run_case(lilm_dataset *ds, lilm_loader_mode mode, int prefetch, size_t B, size_t T, double seconds)
{
    lilm_loader *ld = NULL;
    if (lilm_loader_create(&ld, ds, mode, B, T, 1024, 42, prefetch) != LILM_OK) {
        fprintf(stderr, "loader: %s\n", lilm_last_error());
        return 1;
    }
    lilm_batch b;
    long long sink = 0;
    for (int i = 0; i < 20; i++) { /* warm-up: page in the map */
        if (lilm_loader_next(ld, &b) != LILM_OK) return 1;
    }
    double t0 = lilm_progress_clock(), t;
    long long tokens = 0, batches = 0;
    do {
        for (int i = 0; i < 50; i++) {
            if (lilm_loader_next(ld, &b) != LILM_OK) {
                fprintf(stderr, "loader: %s\n", lilm_last_error());
                return 1;
            }
            for (size_t r = 0; r < B; r++) sink += b.inputs[r * T] + b.targets[r * T + T - 1];
            tokens += (long long)(B * T);
            batches++;
        }
        t = lilm_progress_clock();
    } while (t - t0 < seconds);
    printf("%s prefetch=%d B=%zu T=%zu: %.1f M tokens/s (%.0f batches/s) [%lld]\n",
           mode == LILM_LOADER_PACKED ? "packed  " : "document", prefetch, B, T, (double)tokens / (t - t0) / 1e6,
           (double)batches / (t - t0), sink & 1);
    lilm_loader_free(ld);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR [B] [T] [seconds]\n", argv[0]);
        return 2;
    }
    size_t B = argc > 2 ? strtoul(argv[2], NULL, 10) : 64;
    size_t T = argc > 3 ? strtoul(argv[3], NULL, 10) : 512;
    double secs = argc > 4 ? strtod(argv[4], NULL) : 2.0;
    lilm_dataset *ds = NULL;
    if (lilm_dataset_open(&ds, argv[1], "train") != LILM_OK) {
        fprintf(stderr, "%s\n", lilm_last_error());
        return 1;
    }
    int rc = 0;
    for (int prefetch = 0; prefetch <= 1; prefetch++) {
        rc |= run_case(ds, LILM_LOADER_PACKED, prefetch, B, T, secs);
        rc |= run_case(ds, LILM_LOADER_DOCUMENT, prefetch, B, T, secs);
    }
    /* full pass of the eval iterator */
    lilm_eval_iter *it = NULL;
    if (lilm_eval_iter_create(&it, ds, LILM_LOADER_PACKED, B, T) == LILM_OK) {
        double t0 = lilm_progress_clock();
        long long n = 0;
        int done = 0;
        lilm_batch b;
        while (lilm_eval_iter_next(it, &b, &done) == LILM_OK && !done) n += b.n_targets;
        double dt = lilm_progress_clock() - t0;
        printf("eval iterator (packed): %.1f M targets/s over %lld targets\n", (double)n / dt / 1e6, n);
        lilm_eval_iter_free(it);
    }
    lilm_dataset_close(ds);
    return rc;
}
