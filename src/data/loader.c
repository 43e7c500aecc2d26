/*
 * loader.c: the training batch loader over a memory-mapped split.
 *
 * Packed mode (BabyLM in the reference): the split's tokens are already one
 * stream of documents each followed by EOS. Block k is stream[kT .. kT+T]
 * (T+1 tokens; consecutive blocks share one token), so with
 * N = (n_tokens - 1) / T blocks every token after the first is a target once
 * per epoch. Blocks pass through a shuffle buffer of S slots: fill it with
 * the first S blocks in order, then repeatedly hand out a random slot and
 * refill it with the next block; at the end drain the buffer randomly.
 * Document mode (SimpleStories): each epoch is a Fisher-Yates permutation of
 * the documents; a row is one document truncated to T+1 tokens, padded with
 * the pad id; pad targets are not counted.
 *
 * Determinism: everything an epoch does follows from the xoshiro256** state
 * at its start (the cursor's rng_state) and the epoch's successor state is a
 * pure function of it, so cursor = (state, epoch, units handed out) restores
 * the exact sequence by replaying the bookkeeping.
 *
 * Prefetch: a producer thread fills a ring of LOADER_SLOTS batches; the
 * consumer holds one slot between calls to lilm_loader_next() and the others
 * are being filled. Each slot carries the cursor after it, so get_cursor()
 * reports the consumer's position, not the producer's.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "data/data_impl.h"
#include "data/dataset.h"

#define LOADER_SLOTS 3

typedef struct loader_slot {
    int32_t *inputs;   /* (B, T) */
    int32_t *targets;  /* (B, T) */
    int64_t n_targets;
    lilm_loader_cursor after; /* the cursor once this batch is consumed */
    lilm_status status;
    char err[512];
} loader_slot;

/* The generator: everything the producer thread owns. */
typedef struct loader_gen {
    lilm_rng epoch_rng;    /* state at the start of the epoch */
    lilm_rng rng;          /* current state */
    int64_t epoch;
    int64_t position;      /* units handed out in this epoch */
    int64_t *buf;          /* packed: shuffle buffer of block indices (S) */
    int64_t buf_fill;
    int64_t feed;          /* packed: next block to feed into the buffer */
    int64_t *perm;         /* document: this epoch's order (n_units) */
} loader_gen;

struct lilm_loader {
    lilm_dataset *ds;
    lilm_loader_mode mode;
    size_t B, T;
    int64_t n_units;       /* blocks (packed) or documents */
    int64_t shuffle;       /* S (packed) */
    int32_t pad_in, pad_tgt; /* padding for inputs / targets */
    int32_t *row;          /* (T+1) scratch */
    loader_gen gen;
    loader_slot slots[LOADER_SLOTS];
    lilm_loader_cursor consumed; /* cursor after the last batch handed out */
    /* prefetch */
    int prefetch;
    int sync_ready;        /* mu and cv are initialised */
    int running;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int64_t produced, taken, released; /* batch sequence numbers */
    int stop;
};

static void gen_start_epoch(lilm_loader *ld)
{
    loader_gen *g = &ld->gen;
    g->rng = g->epoch_rng;
    g->position = 0;
    if (ld->mode == LILM_LOADER_PACKED) {
        g->buf_fill = 0;
        g->feed = 0;
    } else {
        for (int64_t i = 0; i < ld->n_units; i++) g->perm[i] = i;
        for (int64_t i = ld->n_units - 1; i > 0; i--) {
            int64_t j = (int64_t)lilm_rng_below(&g->rng, (uint64_t)i + 1);
            int64_t t = g->perm[i];
            g->perm[i] = g->perm[j];
            g->perm[j] = t;
        }
    }
}

static void gen_next_epoch(lilm_loader *ld)
{
    loader_gen *g = &ld->gen;
    /* the next epoch's state is a function of this epoch's start state alone */
    lilm_rng r = g->epoch_rng;
    uint64_t x = lilm_rng_u64(&r) ^ (uint64_t)(g->epoch + 1) * 0x9E3779B97F4A7C15ULL;
    lilm_rng_seed(&g->epoch_rng, x);
    g->epoch++;
    gen_start_epoch(ld);
}

/* The next block (packed) or document (document mode) index. */
static int64_t gen_next_unit(lilm_loader *ld)
{
    loader_gen *g = &ld->gen;
    if (ld->mode == LILM_LOADER_DOCUMENT) {
        if (g->position >= ld->n_units) gen_next_epoch(ld);
        return g->perm[g->position++];
    }
    while (g->buf_fill < ld->shuffle && g->feed < ld->n_units) g->buf[g->buf_fill++] = g->feed++;
    if (g->buf_fill == 0) {
        gen_next_epoch(ld);
        while (g->buf_fill < ld->shuffle && g->feed < ld->n_units) g->buf[g->buf_fill++] = g->feed++;
    }
    int64_t i = (int64_t)lilm_rng_below(&g->rng, (uint64_t)g->buf_fill);
    int64_t out = g->buf[i];
    if (g->feed < ld->n_units) g->buf[i] = g->feed++;
    else g->buf[i] = g->buf[--g->buf_fill];
    g->position++;
    return out;
}

static void gen_cursor(const lilm_loader *ld, lilm_loader_cursor *c)
{
    memcpy(c->rng_state, ld->gen.epoch_rng.s, sizeof c->rng_state);
    c->epoch = ld->gen.epoch;
    c->position = ld->gen.position;
    c->buffered = ld->mode == LILM_LOADER_PACKED ? ld->shuffle : 0;
}

/* Fills one batch into a slot. */
static void gen_batch(lilm_loader *ld, loader_slot *s)
{
    const size_t B = ld->B, T = ld->T;
    int64_t n_targets = 0;
    for (size_t b = 0; b < B; b++) {
        int32_t *in = s->inputs + b * T;   /* (T) */
        int32_t *tg = s->targets + b * T;  /* (T) */
        int64_t u = gen_next_unit(ld);
        if (ld->mode == LILM_LOADER_PACKED) {
            lilm_dataset_tokens(ld->ds, u * (int64_t)T, T + 1, ld->row);
            memcpy(in, ld->row, T * sizeof *in);
            memcpy(tg, ld->row + 1, T * sizeof *tg);
            n_targets += (int64_t)T;
        } else {
            int64_t off, cnt;
            lilm_dataset_doc_span(ld->ds, u, &off, &cnt, NULL);
            size_t L = (size_t)cnt < T + 1 ? (size_t)cnt : T + 1;
            lilm_dataset_tokens(ld->ds, off, L, ld->row);
            for (size_t t = 0; t < T; t++) {
                if (t + 1 < L) {
                    in[t] = ld->row[t];
                    tg[t] = ld->row[t + 1];
                } else {
                    in[t] = t < L ? ld->row[t] : ld->pad_in;
                    tg[t] = ld->pad_tgt;
                }
            }
            n_targets += (int64_t)(L - 1);
        }
    }
    s->n_targets = n_targets;
    s->status = LILM_OK;
    gen_cursor(ld, &s->after);
}

static void *producer_main(void *arg)
{
    lilm_loader *ld = arg;
    pthread_mutex_lock(&ld->mu);
    while (1) {
        while (!ld->stop && ld->produced - ld->released >= LOADER_SLOTS) pthread_cond_wait(&ld->cv, &ld->mu);
        if (ld->stop) break;
        loader_slot *s = &ld->slots[ld->produced % LOADER_SLOTS];
        pthread_mutex_unlock(&ld->mu);
        gen_batch(ld, s); /* the slot is ours: the consumer released it */
        pthread_mutex_lock(&ld->mu);
        ld->produced++;
        pthread_cond_broadcast(&ld->cv);
    }
    pthread_mutex_unlock(&ld->mu);
    return NULL;
}

static lilm_status start_thread(lilm_loader *ld)
{
    ld->produced = ld->taken = ld->released = 0;
    ld->stop = 0;
    if (!ld->prefetch) return LILM_OK;
    if (pthread_create(&ld->thread, NULL, producer_main, ld) != 0)
        return lilm_errorf(LILM_ERR_INTERNAL, "cannot start the loader's prefetch thread");
    ld->running = 1;
    return LILM_OK;
}

static void stop_thread(lilm_loader *ld)
{
    if (!ld->running) return;
    pthread_mutex_lock(&ld->mu);
    ld->stop = 1;
    pthread_cond_broadcast(&ld->cv);
    pthread_mutex_unlock(&ld->mu);
    pthread_join(ld->thread, NULL);
    ld->running = 0;
}

lilm_status lilm_loader_create(lilm_loader **out, lilm_dataset *ds, lilm_loader_mode mode, size_t B, size_t T,
                               size_t shuffle_buffer, uint64_t seed, int prefetch)
{
    *out = NULL;
    if (B == 0 || T == 0) return lilm_errorf(LILM_ERR_ARG, "loader: batch size and context must be positive");
    if (mode != LILM_LOADER_PACKED && mode != LILM_LOADER_DOCUMENT)
        return lilm_errorf(LILM_ERR_ARG, "loader: unknown mode %d", (int)mode);
    lilm_dataset_info info;
    lilm_dataset_get_info(ds, &info);
    int64_t n_units;
    if (mode == LILM_LOADER_PACKED) {
        n_units = info.n_tokens > 0 ? (info.n_tokens - 1) / (int64_t)T : 0;
        if (n_units == 0)
            return lilm_errorf(LILM_ERR_ARG, "loader: the split has %lld tokens, fewer than one block of T+1 = %zu\n"
                                             "HINT: use a shorter context or more data", (long long)info.n_tokens, T + 1);
        if (shuffle_buffer == 0) shuffle_buffer = 1;
    } else {
        n_units = info.n_docs;
        if (n_units == 0) return lilm_errorf(LILM_ERR_ARG, "loader: the split has no documents");
    }
    lilm_loader *ld = calloc(1, sizeof *ld);
    if (!ld) return lilm_errorf(LILM_ERR_OOM, "out of memory");
    ld->ds = ds;
    ld->mode = mode;
    ld->B = B;
    ld->T = T;
    ld->n_units = n_units;
    ld->shuffle = mode == LILM_LOADER_PACKED ? (int64_t)shuffle_buffer : 0;
    if (ld->shuffle > n_units) ld->shuffle = n_units;
    ld->pad_in = info.pad_id >= 0 ? info.pad_id : info.eos_id;
    ld->pad_tgt = info.pad_id;
    ld->prefetch = prefetch ? 1 : 0;
    ld->row = malloc((T + 1) * sizeof *ld->row);
    int ok = ld->row != NULL;
    if (mode == LILM_LOADER_PACKED) ok = ok && (ld->gen.buf = malloc((size_t)ld->shuffle * sizeof(int64_t)));
    else ok = ok && (ld->gen.perm = malloc((size_t)n_units * sizeof(int64_t)));
    for (int i = 0; i < LOADER_SLOTS && ok; i++) {
        ld->slots[i].inputs = malloc(B * T * sizeof(int32_t));
        ld->slots[i].targets = malloc(B * T * sizeof(int32_t));
        ok = ld->slots[i].inputs && ld->slots[i].targets;
    }
    if (!ok) {
        lilm_loader_free(ld);
        return lilm_errorf(LILM_ERR_OOM, "out of memory creating the loader (B=%zu, T=%zu)", B, T);
    }
    pthread_mutex_init(&ld->mu, NULL);
    pthread_cond_init(&ld->cv, NULL);
    ld->sync_ready = 1;
    lilm_rng_seed(&ld->gen.epoch_rng, seed);
    ld->gen.epoch = 0;
    gen_start_epoch(ld);
    gen_cursor(ld, &ld->consumed);
    lilm_status st = start_thread(ld);
    if (st) {
        lilm_loader_free(ld);
        return st;
    }
    *out = ld;
    return LILM_OK;
}

void lilm_loader_free(lilm_loader *ld)
{
    if (!ld) return;
    stop_thread(ld);
    if (ld->sync_ready) {
        pthread_mutex_destroy(&ld->mu);
        pthread_cond_destroy(&ld->cv);
    }
    for (int i = 0; i < LOADER_SLOTS; i++) {
        free(ld->slots[i].inputs);
        free(ld->slots[i].targets);
    }
    free(ld->gen.buf);
    free(ld->gen.perm);
    free(ld->row);
    free(ld);
}

lilm_status lilm_loader_next(lilm_loader *ld, lilm_batch *batch)
{
    loader_slot *s;
    if (!ld->prefetch) {
        s = &ld->slots[0];
        gen_batch(ld, s);
    } else {
        pthread_mutex_lock(&ld->mu);
        ld->released = ld->taken; /* the slot handed out last time is free again */
        pthread_cond_broadcast(&ld->cv);
        while (ld->produced <= ld->taken) pthread_cond_wait(&ld->cv, &ld->mu);
        s = &ld->slots[ld->taken % LOADER_SLOTS];
        ld->taken++;
        pthread_mutex_unlock(&ld->mu);
    }
    if (s->status != LILM_OK) return lilm_errorf(s->status, "%s", s->err);
    batch->inputs = s->inputs;
    batch->targets = s->targets;
    batch->B = ld->B;
    batch->T = ld->T;
    batch->n_targets = s->n_targets;
    ld->consumed = s->after;
    return LILM_OK;
}

void lilm_loader_get_cursor(const lilm_loader *ld, lilm_loader_cursor *c) { *c = ld->consumed; }

lilm_status lilm_loader_set_cursor(lilm_loader *ld, const lilm_loader_cursor *c)
{
    int64_t want_buf = ld->mode == LILM_LOADER_PACKED ? ld->shuffle : 0;
    if (c->buffered != want_buf)
        return lilm_errorf(LILM_ERR_MISMATCH, "loader cursor was saved with a shuffle buffer of %lld blocks, this "
                                              "loader uses %lld\nHINT: resume with the same data settings "
                                              "(shuffle buffer, context, dataset) as the saved run",
                           (long long)c->buffered, (long long)want_buf);
    if (c->position < 0 || c->position > ld->n_units || c->epoch < 0 ||
        (c->rng_state[0] | c->rng_state[1] | c->rng_state[2] | c->rng_state[3]) == 0)
        return lilm_errorf(LILM_ERR_ARG, "loader cursor is invalid (position %lld of %lld units, epoch %lld)\n"
                                         "HINT: resume with the same dataset and context as the saved run",
                           (long long)c->position, (long long)ld->n_units, (long long)c->epoch);
    stop_thread(ld);
    memcpy(ld->gen.epoch_rng.s, c->rng_state, sizeof ld->gen.epoch_rng.s);
    ld->gen.epoch = c->epoch;
    gen_start_epoch(ld);
    if (ld->mode == LILM_LOADER_DOCUMENT) {
        ld->gen.position = c->position;
    } else {
        for (int64_t i = 0; i < c->position; i++) (void)gen_next_unit(ld);
    }
    gen_cursor(ld, &ld->consumed);
    return start_thread(ld);
}

/* ---- evaluation iterator ---- */

struct lilm_eval_iter {
    const lilm_dataset *ds;
    lilm_loader_mode mode;
    size_t B, T;
    int32_t pad_in, pad_tgt, eos;
    int lead;         /* 1: an EOS stands before the stream / each document */
    int64_t pos;      /* packed: index in the virtual stream of the next row's first input */
    int64_t doc;      /* document: current document */
    int64_t doc_pos;  /* document: the same, within the current document */
    int32_t *inputs, *targets; /* (B, T) */
    int32_t *row;     /* (T+1) */
};

lilm_status lilm_eval_iter_create(lilm_eval_iter **out, const lilm_dataset *ds, lilm_loader_mode mode, size_t B,
                                  size_t T)
{
    *out = NULL;
    if (B == 0 || T == 0) return lilm_errorf(LILM_ERR_ARG, "eval: batch size and context must be positive");
    lilm_eval_iter *it = calloc(1, sizeof *it);
    if (!it) return lilm_errorf(LILM_ERR_OOM, "out of memory");
    lilm_dataset_info info;
    lilm_dataset_get_info(ds, &info);
    it->ds = ds;
    it->mode = mode;
    it->B = B;
    it->T = T;
    it->eos = info.eos_id;
    it->lead = 1;
    it->pad_in = info.pad_id >= 0 ? info.pad_id : info.eos_id;
    it->pad_tgt = info.pad_id;
    it->inputs = malloc(B * T * sizeof(int32_t));
    it->targets = malloc(B * T * sizeof(int32_t));
    it->row = malloc((T + 1) * sizeof(int32_t));
    if (!it->inputs || !it->targets || !it->row) {
        lilm_eval_iter_free(it);
        return lilm_errorf(LILM_ERR_OOM, "out of memory");
    }
    *out = it;
    return LILM_OK;
}

void lilm_eval_iter_predict_first(lilm_eval_iter *it, int on)
{
    it->lead = on ? 1 : 0;
    lilm_eval_iter_reset(it);
}

void lilm_eval_iter_reset(lilm_eval_iter *it)
{
    it->pos = 0;
    it->doc = 0;
    it->doc_pos = 0;
}

void lilm_eval_iter_free(lilm_eval_iter *it)
{
    if (!it) return;
    free(it->inputs);
    free(it->targets);
    free(it->row);
    free(it);
}

/* Fills row r from the virtual sequence v = [EOS if lead], tokens[base .. base+n):
 * inputs v[first .. first+L-1], targets v[first+1 .. first+L], where
 * L = min(T, targets left). Returns L. */
static size_t eval_fill_row(lilm_eval_iter *it, size_t r, int64_t base, int64_t n, int64_t first)
{
    const size_t T = it->T;
    int32_t *in = it->inputs + r * T;  /* (T) */
    int32_t *tg = it->targets + r * T; /* (T) */
    int64_t left = n + it->lead - 1 - first; /* targets remaining */
    size_t L = left < (int64_t)T ? (size_t)left : T;
    if (it->lead && first == 0) {
        it->row[0] = it->eos;
        lilm_dataset_tokens(it->ds, base, L, it->row + 1);
    } else {
        lilm_dataset_tokens(it->ds, base + first - it->lead, L + 1, it->row);
    }
    for (size_t t = 0; t < T; t++) {
        if (t < L) {
            in[t] = it->row[t];
            tg[t] = it->row[t + 1];
        } else {
            in[t] = it->pad_in;
            tg[t] = it->pad_tgt;
        }
    }
    return L;
}

lilm_status lilm_eval_iter_next(lilm_eval_iter *it, lilm_batch *batch, int *done)
{
    lilm_dataset_info info;
    lilm_dataset_get_info(it->ds, &info);
    *done = 0;
    int64_t n_targets = 0;
    size_t rows = 0;
    for (size_t r = 0; r < it->B; r++) {
        size_t L = 0;
        if (it->mode == LILM_LOADER_PACKED) {
            if (it->pos < info.n_tokens + it->lead - 1) {
                L = eval_fill_row(it, r, 0, info.n_tokens, it->pos);
                it->pos += (int64_t)L;
            }
        } else {
            while (it->doc < info.n_docs) {
                int64_t off, cnt;
                lilm_dataset_doc_span(it->ds, it->doc, &off, &cnt, NULL);
                if (it->doc_pos < cnt + it->lead - 1) {
                    L = eval_fill_row(it, r, off, cnt, it->doc_pos);
                    it->doc_pos += (int64_t)L;
                    if (it->doc_pos >= cnt + it->lead - 1) {
                        it->doc++;
                        it->doc_pos = 0;
                    }
                    break;
                }
                it->doc++;
                it->doc_pos = 0;
            }
        }
        if (L == 0) {
            for (size_t t = 0; t < it->T; t++) {
                it->inputs[r * it->T + t] = it->pad_in;
                it->targets[r * it->T + t] = it->pad_tgt;
            }
        } else {
            rows++;
        }
        n_targets += (int64_t)L;
    }
    if (rows == 0) {
        *done = 1;
        return LILM_OK;
    }
    batch->inputs = it->inputs;
    batch->targets = it->targets;
    batch->B = it->B;
    batch->T = it->T;
    batch->n_targets = n_targets;
    return LILM_OK;
}
