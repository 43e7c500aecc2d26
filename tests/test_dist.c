/*
 * test_dist.c: the process group and its collectives.
 *
 * Run on its own (tests/run.sh) it checks the one-process group: rank 0 of 1,
 * every collective a no-op or a copy. Run under `mpirun -np N` (as
 * tests/py/test_dist_cli.py does with N = 2 and 3) every rank checks the
 * results of sums, maxima, broadcasts and gathers against values it can
 * compute itself, including sums that are exact in fp32 so that any
 * difference between ranks is a bug, not rounding.
 */
#include "test.h"

#include <stdint.h>

#include "dist/dist.h"

/* One group for the whole binary: MPI can be initialised only once. */
static lilm_dist group;
static int joined;

static lilm_dist *join(lilm_test *t)
{
    if (!joined) {
        LT_OK(t, lilm_dist_init(&group));
        joined = 1;
    }
    return &group;
}

static void test_group(lilm_test *t)
{
    lilm_dist *d = join(t);
    LT_TRUE(t, d->size >= 1 && d->rank >= 0 && d->rank < d->size);
    LT_TRUE(t, d->local_size >= 1 && d->local_rank >= 0 && d->local_rank < d->local_size);
    if (!lilm_dist_launched()) {
        LT_EQ_INT(t, d->size, 1);
        LT_EQ_INT(t, d->rank, 0);
    } else {
        LT_TRUE(t, lilm_dist_available());
    }
    printf("  rank %d of %d (local %d of %d)\n", d->rank, d->size, d->local_rank, d->local_size);
}

static void test_sums(lilm_test *t)
{
    lilm_dist *d = join(t);
    enum { N = 1000 };
    float f[N];
    double g[N];
    int64_t k[3] = {d->rank, 1, (int64_t)1 << 40};
    for (int i = 0; i < N; i++) {
        f[i] = (float)(i * (d->rank + 1));  /* small integers: exact in fp32 */
        g[i] = 0.25 * i + d->rank;
    }
    LT_OK(t, lilm_dist_sum_f32(d, f, N));
    LT_OK(t, lilm_dist_sum_f64(d, g, N));
    LT_OK(t, lilm_dist_sum_i64(d, k, 3));
    double ranks = d->size * (d->size + 1) / 2.0; /* sum of rank+1 */
    int bad = 0;
    for (int i = 0; i < N; i++) {
        bad += f[i] != (float)(i * ranks);
        bad += g[i] != 0.25 * i * d->size + (ranks - d->size);
    }
    LT_EQ_INT(t, bad, 0);
    LT_EQ_INT(t, k[0], (int64_t)d->size * (d->size - 1) / 2);
    LT_EQ_INT(t, k[1], d->size);
    LT_EQ_INT(t, k[2], ((int64_t)1 << 40) * d->size);
}

static void test_max_bcast_gather(lilm_test *t)
{
    lilm_dist *d = join(t);
    int32_t stop[2] = {d->rank == d->size - 1, -d->rank};
    LT_OK(t, lilm_dist_max_i32(d, stop, 2));
    LT_EQ_INT(t, stop[0], 1);
    LT_EQ_INT(t, stop[1], 0);

    char msg[32];
    snprintf(msg, sizeof msg, "from rank %d", d->rank);
    LT_OK(t, lilm_dist_bcast(d, msg, sizeof msg));
    LT_TRUE(t, strcmp(msg, "from rank 0") == 0);

    int32_t mine[2] = {d->rank, 100 + d->rank};
    int32_t all[2 * 16];
    LT_TRUE(t, d->size <= 16);
    if (d->size > 16) return;
    LT_OK(t, lilm_dist_allgather(d, mine, all, sizeof mine));
    for (int r = 0; r < d->size; r++) {
        LT_EQ_INT(t, all[2 * r], r);
        LT_EQ_INT(t, all[2 * r + 1], 100 + r);
    }
    LT_OK(t, lilm_dist_barrier(d));
}

static void test_leave(lilm_test *t)
{
    lilm_dist *d = join(t);
    lilm_dist_finalize(d);
    LT_EQ_INT(t, d->size, 1);
    LT_EQ_INT(t, d->rank, 0);
}

static const lilm_test_case cases[] = {
    {"group", test_group},
    {"sums", test_sums},
    {"max_bcast_gather", test_max_bcast_gather},
    {"leave", test_leave},
};
LILM_TEST_MAIN(cases)
