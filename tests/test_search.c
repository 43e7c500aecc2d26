/*
 * test_search.c: the search library: expressions, space files, the truncated
 * normal, the Parzen estimator, TPE's split and suggestions, the study loop
 * (resume, failures), the pruners, importances and the runs.db tables.
 *
 * The Parzen densities are also checked against Optuna's, and the sampler
 * against Optuna's on test functions, in tests/py/test_search_optuna.py.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "search/expr.h"
#include "search/importance.h"
#include "search/parzen.h"
#include "search/pruner.h"
#include "search/space.h"
#include "search/study.h"
#include "search/tpe.h"
#include "search/truncnorm.h"
#include "test.h"
#include "track/runs.h"
#include "track/study_db.h"

static const char space_text[] =
    "study: {trials: 12, seed: 7, n_startup_trials: 4}\n"
    "params:\n"
    "  x: {type: float, low: -2, high: 2}\n"
    "  lr: {type: float, low: 1e-4, high: 1e-1, log: true}\n"
    "  model.n_heads: {type: int, low: 2, high: 8}\n"
    "  model.qk_dim: {type: int, low: 16, high: 128, step: 16}\n"
    "  act: {type: categorical, choices: [gelu, relu, none]}\n"
    "derived:\n"
    "  model.d_model: \"model.n_heads * model.qk_dim\"\n"
    "  model.ffn_dim: \"4 * model.d_model\"\n";

static void load(lilm_test *t, lilm_space *sp, const char *text)
{
    LT_OK(t, lilm_space_load_string(sp, "space.yaml", text, strlen(text)));
}

static void test_expr(lilm_test *t)
{
    const char *names[] = {"a", "model.b"};
    const double vals[] = {3, 4};
    lilm_expr_env env = {names, vals, 2};
    double v = 0;
    LT_OK(t, lilm_expr_eval("a * model.b + 2 ^ 3 ^ 2 / 64 - -1", &env, &v));
    LT_NEAR(t, v, 12 + 8 + 1, 1e-12);   /* 2^(3^2) = 512, / 64 = 8 */
    LT_OK(t, lilm_expr_eval("sqrt(model.b) * (a - 1) + cos(pi)", &env, &v));
    LT_NEAR(t, v, 3, 1e-12);
    LT_STATUS(t, lilm_expr_eval("a * c", &env, &v), LILM_ERR_ARG);
    LT_TRUE(t, strstr(lilm_last_error(), "unknown name at column 5") != NULL);
    LT_STATUS(t, lilm_expr_eval("(a + 1", &env, &v), LILM_ERR_ARG);
    LT_STATUS(t, lilm_expr_eval("a b", &env, &v), LILM_ERR_ARG);
}

static void test_space_load(lilm_test *t)
{
    lilm_space sp;
    load(t, &sp, space_text);
    LT_EQ_INT(t, sp.n_params, 5);
    LT_EQ_INT(t, sp.study.trials, 12);
    LT_EQ_INT(t, sp.study.n_startup_trials, 4);
    LT_EQ_INT(t, sp.study.n_ei_candidates, 24);   /* Optuna's default */
    LT_NEAR(t, sp.study.prior_weight, 1.0, 0);
    LT_EQ_INT(t, sp.params[2].kind, LILM_SEARCH_PARAM_INT);
    LT_NEAR(t, sp.params[2].step, 1, 0);
    LT_EQ_INT(t, sp.params[4].n_choices, 3);
    double x[] = {0.5, 1e-3, 6, 32, 1}, d[2];
    LT_OK(t, lilm_space_derive(&sp, x, d));
    LT_NEAR(t, d[0], 192, 0);
    LT_NEAR(t, d[1], 768, 0);
    char buf[64];
    lilm_search_param_format(&sp.params[4], 1, buf, sizeof buf);
    LT_TRUE(t, strcmp(buf, "relu") == 0);
    lilm_search_param_format(&sp.params[1], 1e-3, buf, sizeof buf);
    LT_TRUE(t, strcmp(buf, "0.001") == 0);
    double v;
    LT_OK(t, lilm_search_param_parse(&sp.params[4], "none", &v));
    LT_NEAR(t, v, 2, 0);
    LT_OK(t, lilm_search_param_parse(&sp.params[3], "40", &v));   /* snapped to the grid */
    LT_NEAR(t, v, 48, 0);
    LT_STATUS(t, lilm_search_param_parse(&sp.params[3], "200", &v), LILM_ERR_ARG);
    LT_NEAR(t, lilm_search_param_snap(&sp.params[2], 7.4), 7, 0);
}

static void test_space_errors(lilm_test *t)
{
    static const struct { const char *text, *want; } cases[] = {
        {"params:\n  x: {type: float, low: 2, high: 1}\n", "space.yaml:2: x: needs low <= high"},
        {"params:\n  x: {type: float, low: 0, high: 1, log: true}\n", "log needs low > 0"},
        {"params:\n  x: {type: int, low: 16, high: 120, step: 16}\n", "multiple of step"},
        {"params:\n  x: {type: float, low: 0, high: 1, sted: 2}\n", "unknown key"},
        {"study: {trails: 3}\nparams:\n  x: {type: float, low: 0, high: 1}\n", "space.yaml:1: trails: unknown key in study"},
        {"params:\n  x: {type: float, low: 0, high: 1}\nderived:\n  y: \"x * z\"\n", "derived key y"},
        {"params:\n  x: {type: categorical}\n", "needs choices"},
        {"study: {trials: 3}\n", "no params section"},
        {"params: [\n", "malformed YAML"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lilm_space sp;
        lilm_status s = lilm_space_load_string(&sp, "space.yaml", cases[i].text, strlen(cases[i].text));
        LT_CHECK(t, s == LILM_ERR_CONFIG || s == LILM_ERR_ARG, "case %zu: status %d", i, (int)s);
        LT_CHECK(t, strstr(lilm_last_error(), cases[i].want) != NULL, "case %zu: '%s' lacks '%s'", i, lilm_last_error(),
                 cases[i].want);
    }
}

static void test_truncnorm(lilm_test *t)
{
    LT_NEAR(t, lilm_tn_log_ndtr(0), log(0.5), 1e-15);
    LT_NEAR(t, exp(lilm_tn_log_ndtr(-1)), 0.15865525393145705, 1e-15);
    /* the asymptotic branch, against 40-digit values (mpmath) */
    LT_NEAR(t, lilm_tn_log_ndtr(-30), -454.32124395634319711, 1e-10);
    LT_NEAR(t, lilm_tn_log_ndtr(-20.0001), -203.91916035139179578, 1e-10);
    LT_NEAR(t, lilm_tn_log_ndtr(-19.9), log(0.5 * erfc(19.9 / sqrt(2))), 1e-10);
    LT_NEAR(t, lilm_tn_log_ndtr(8), -6.22096057427178e-16, 1e-25);
    LT_NEAR(t, lilm_tn_log_mass(-1, 1), log(0.6826894921370859), 1e-14);
    LT_NEAR(t, lilm_tn_log_mass(2, 3), lilm_tn_log_mass(-3, -2), 1e-14);
    LT_NEAR(t, lilm_tn_log_mass(40, 41), -804.6084420137538 + log1p(-exp(-40.5)), 1e-6);
    for (double p = 1e-12; p < 1; p *= 7.3) LT_NEAR(t, 0.5 * erfc(-lilm_tn_ndtri(p) / sqrt(2)) / p, 1, 1e-12);
    /* samples stay inside and have the truncated mean: N(0,1) on [0, 5] has mean 0.7978 */
    lilm_rng rng;
    lilm_rng_seed(&rng, 1);
    double sum = 0;
    int inside = 1;
    for (int i = 0; i < 20000; i++) {
        double z = lilm_tn_sample(&rng, 0, 5, 0, 1);
        inside &= z >= 0 && z <= 5;
        sum += z;
    }
    LT_TRUE(t, inside);
    LT_NEAR(t, sum / 20000, 0.79788, 0.02);
    /* a narrow window far in a tail */
    double z = lilm_tn_sample(&rng, 6, 6.5, 0, 1);
    LT_TRUE(t, z >= 6 && z <= 6.5);
}

static void test_parzen(lilm_test *t)
{
    double w[40];
    lilm_parzen_default_weights(30, w);
    LT_NEAR(t, w[0], 1.0 / 30, 1e-15);
    LT_NEAR(t, w[4], 1.0, 1e-15);
    LT_NEAR(t, w[29], 1.0, 0);
    lilm_parzen_default_weights(26, w);
    LT_NEAR(t, w[0], 1.0 / 26, 1e-15);
    lilm_space sp;
    load(t, &sp, space_text);
    lilm_parzen_settings ps = {1.0, 1, 0};
    /* continuous: the density integrates to 1 over the range */
    const lilm_search_param *px[] = {&sp.params[0]};
    double obs[] = {-1.5, 0.2, 0.25, 1.9};
    lilm_parzen pe;
    LT_OK(t, lilm_parzen_init(&pe, px, 1, obs, 4, &ps));
    double total = 0, h = 4.0 / 20000;
    for (int i = 0; i < 20000; i++) {
        double x = -2 + (i + 0.5) * h;
        total += exp(lilm_parzen_log_pdf(&pe, &x)) * h;
    }
    LT_NEAR(t, total, 1, 1e-6);
    lilm_parzen_free(&pe);
    /* a grid: masses sum to 1 over the grid's points */
    const lilm_search_param *pq[] = {&sp.params[3]};
    double obsq[] = {32, 32, 128};
    LT_OK(t, lilm_parzen_init(&pe, pq, 1, obsq, 3, &ps));
    total = 0;
    for (double q = 16; q <= 128; q += 16) total += exp(lilm_parzen_log_pdf(&pe, &q));
    LT_NEAR(t, total, 1, 1e-12);
    lilm_rng rng;
    lilm_rng_seed(&rng, 3);
    int on_grid = 1;
    for (int i = 0; i < 200; i++) {
        double q;
        lilm_parzen_sample(&pe, &rng, &q);
        on_grid &= q >= 16 && q <= 128 && fmod(q, 16) == 0;
    }
    LT_TRUE(t, on_grid);
    lilm_parzen_free(&pe);
    /* categorical: 3 kernels of 1 + 1/4 spread, the prior uniform */
    const lilm_search_param *pc[] = {&sp.params[4]};
    double obsc[] = {0, 0, 2};
    LT_OK(t, lilm_parzen_init(&pe, pc, 1, obsc, 3, &ps));
    double c0 = 0, c1 = 1;
    /* kernel rows: (1.25, .25, .25)/1.75 twice, (.25, .25, 1.25)/1.75, prior (1/3 each); weights 1/4 */
    LT_NEAR(t, exp(lilm_parzen_log_pdf(&pe, &c0)), 0.25 * (2 * 1.25 / 1.75 + 0.25 / 1.75 + 1.0 / 3), 1e-12);
    LT_NEAR(t, exp(lilm_parzen_log_pdf(&pe, &c1)), 0.25 * (3 * 0.25 / 1.75 + 1.0 / 3), 1e-12);
    lilm_parzen_free(&pe);
}

static void test_tpe_split(lilm_test *t)
{
    LT_EQ_INT(t, lilm_tpe_gamma(1), 1);
    LT_EQ_INT(t, lilm_tpe_gamma(10), 1);
    LT_EQ_INT(t, lilm_tpe_gamma(11), 2);
    LT_EQ_INT(t, lilm_tpe_gamma(1000), 25);
    double x = 0;
    lilm_tpe_obs obs[] = {
        {&x, 3.0, 0, -1}, {&x, 1.0, 0, -1}, {&x, 2.0, 1, 5}, {&x, 0.5, 1, 9}, {&x, 2.0, 0, -1},
    };
    size_t below[5], above[5];
    size_t nb = lilm_tpe_split(obs, 5, 2, below, above);
    LT_EQ_INT(t, nb, 2);
    LT_EQ_INT(t, below[0], 1);   /* value 1.0 */
    LT_EQ_INT(t, below[1], 4);   /* value 2.0 */
    nb = lilm_tpe_split(obs, 5, 4, below, above);
    LT_EQ_INT(t, nb, 4);          /* three complete, then the pruned one that got furthest (step 9) */
    LT_EQ_INT(t, below[2], 3);    /* in trial order: 0 1 3 4 */
    LT_EQ_INT(t, above[0], 2);
}

/* ---- the study loop on a formula ---- */

typedef struct formula {
    int calls;
    int fail_every;   /* trial numbers divisible by this fail (0: none) */
    int64_t stop_after;   /* set *stop after this many runs (-1: never) */
    volatile sig_atomic_t *stop;
} formula;

static lilm_status run_quadratic(void *user, const lilm_study *st, lilm_trial *tr, lilm_trial_monitor *mon,
                                 lilm_trial_result *res)
{
    formula *f = user;
    f->calls++;
    if (f->stop && f->stop_after >= 0 && f->calls > f->stop_after) {
        *f->stop = 1;
        return LILM_ERR_INTERRUPTED;
    }
    if (f->fail_every && tr->number % f->fail_every == 0) {
        res->state = LILM_TRIAL_FAILED;
        snprintf(res->reason, sizeof res->reason, "out of memory (pretend)");
        return LILM_OK;
    }
    double x = tr->x[0], lr = log10(tr->x[1]);
    res->state = LILM_TRIAL_COMPLETE;
    res->value = (x - 0.7) * (x - 0.7) + (lr + 2.5) * (lr + 2.5) + 0.1 * tr->x[4];
    (void)st;
    (void)mon;
    return LILM_OK;
}

static void test_study_resume_asks_the_same(lilm_test *t)
{
    lilm_space sp;
    load(t, &sp, space_text);
    formula f = {0, 0, -1, NULL};
    lilm_study_io io = {&f, NULL, run_quadratic, NULL};
    lilm_study full;
    lilm_study_init(&full, &sp);
    LT_OK(t, lilm_study_optimize(&full, &io, NULL));
    LT_EQ_INT(t, full.n, 12);
    LT_EQ_INT(t, f.calls, 12);
    /* stop after 7 trials, keep the first 6 finished and the 7th running, resume */
    volatile sig_atomic_t stop = 0;
    formula g = {0, 0, 7, &stop};
    lilm_study_io io2 = {&g, NULL, run_quadratic, NULL};
    lilm_study part;
    lilm_study_init(&part, &sp);
    LT_STATUS(t, lilm_study_optimize(&part, &io2, &stop), LILM_ERR_INTERRUPTED);
    LT_EQ_INT(t, lilm_study_finished(&part), 7);
    LT_EQ_INT(t, part.trials[7].state, LILM_TRIAL_RUNNING);
    lilm_study again;
    lilm_study_init(&again, &sp);
    for (size_t i = 0; i < part.n; i++) LT_OK(t, lilm_study_add(&again, &part.trials[i]));
    stop = 0;
    g.stop_after = -1;
    g.calls = 0;
    LT_OK(t, lilm_study_optimize(&again, &io2, &stop));
    LT_EQ_INT(t, g.calls, 5);   /* the interrupted one again, then 4 new: none of the 7 finished */
    LT_EQ_INT(t, again.n, 12);
    int same = 1;
    for (size_t i = 0; i < 12; i++)
        for (int p = 0; p < sp.n_params; p++) same &= again.trials[i].x[p] == full.trials[i].x[p];
    LT_TRUE(t, same);
    LT_NEAR(t, again.trials[11].value, full.trials[11].value, 0);
    lilm_study_free(&full);
    lilm_study_free(&part);
    lilm_study_free(&again);
}

static void test_study_failures_go_on(lilm_test *t)
{
    lilm_space sp;
    load(t, &sp, space_text);
    formula f = {0, 3, -1, NULL};
    lilm_study_io io = {&f, NULL, run_quadratic, NULL};
    lilm_study st;
    lilm_study_init(&st, &sp);
    LT_OK(t, lilm_study_optimize(&st, &io, NULL));
    LT_EQ_INT(t, st.n, 12);
    LT_EQ_INT(t, st.trials[3].state, LILM_TRIAL_FAILED);
    LT_TRUE(t, strstr(st.trials[3].reason, "out of memory") != NULL);
    LT_TRUE(t, isnan(st.trials[3].value));
    LT_EQ_INT(t, st.trials[4].state, LILM_TRIAL_COMPLETE);
    int64_t best = lilm_study_best(&st);
    LT_TRUE(t, best >= 0 && st.trials[best].state == LILM_TRIAL_COMPLETE);
    lilm_study_free(&st);
}

static void test_tpe_beats_random_and_multivariate_runs(lilm_test *t)
{
    lilm_space sp;
    load(t, &sp, space_text);
    double med[3];
    for (int mode = 0; mode < 3; mode++) {   /* random, univariate TPE, multivariate TPE */
        double best[9];
        for (int s = 0; s < 9; s++) {
            lilm_space v = sp;
            v.study.seed = (uint64_t)s;
            v.study.trials = 30;
            v.study.tpe = mode > 0;
            v.study.multivariate = mode == 2;
            formula f = {0, 0, -1, NULL};
            lilm_study_io io = {&f, NULL, run_quadratic, NULL};
            lilm_study st;
            lilm_study_init(&st, &v);
            LT_OK(t, lilm_study_optimize(&st, &io, NULL));
            best[s] = st.trials[lilm_study_best(&st)].value;
            lilm_study_free(&st);
        }
        for (int i = 0; i < 9; i++)   /* the median of 9 */
            for (int j = i + 1; j < 9; j++)
                if (best[j] < best[i]) {
                    double tmp = best[i];
                    best[i] = best[j];
                    best[j] = tmp;
                }
        med[mode] = best[4];
    }
    LT_CHECK(t, med[1] < med[0], "univariate TPE median %g vs random %g", med[1], med[0]);
    LT_CHECK(t, med[2] < med[0], "multivariate TPE median %g vs random %g", med[2], med[0]);
}

/* ---- pruners ---- */

static void add_trial(lilm_test *t, lilm_study *st, lilm_trial_state state, const double *reports, int n)
{
    lilm_trial tr;
    memset(&tr, 0, sizeof tr);
    tr.number = (int64_t)st->n;
    tr.state = state;
    tr.value = n ? reports[n - 1] : NAN;
    LT_OK(t, lilm_study_add(st, &tr));
    for (int i = 0; i < n; i++) LT_OK(t, lilm_study_report(st, st->n - 1, i + 1, reports[i]));
}

static void test_pruner_median(lilm_test *t)
{
    lilm_space sp;
    load(t, &sp, space_text);
    sp.study.pruner = LILM_PRUNER_MEDIAN;
    sp.study.pruner_startup = 3;
    lilm_study st;
    lilm_study_init(&st, &sp);
    const double a[] = {5, 4, 3}, b[] = {6, 5, 4}, c[] = {7, 6, 5};
    add_trial(t, &st, LILM_TRIAL_COMPLETE, a, 3);
    add_trial(t, &st, LILM_TRIAL_COMPLETE, b, 3);
    const double bad[] = {6.5};
    add_trial(t, &st, LILM_TRIAL_RUNNING, bad, 1);
    LT_TRUE(t, !lilm_pruner_should_prune(&st, 2));   /* 2 complete trials: still in startup */
    st.trials[2].state = LILM_TRIAL_COMPLETE;
    add_trial(t, &st, LILM_TRIAL_COMPLETE, c, 3);
    const double good[] = {5.5}, worse[] = {6.2}, nan[] = {NAN};
    add_trial(t, &st, LILM_TRIAL_RUNNING, good, 1);
    add_trial(t, &st, LILM_TRIAL_RUNNING, worse, 1);
    add_trial(t, &st, LILM_TRIAL_RUNNING, nan, 1);
    /* step 1 values of complete trials: 5, 6, 6.5, 7: median 6.25 */
    LT_TRUE(t, !lilm_pruner_should_prune(&st, 4));
    LT_TRUE(t, !lilm_pruner_should_prune(&st, 5));
    LT_TRUE(t, lilm_pruner_should_prune(&st, 6));
    LT_OK(t, lilm_study_report(&st, 5, 2, 5.9));   /* step 2: 4, 5, 6: median 5 */
    LT_TRUE(t, lilm_pruner_should_prune(&st, 5));
    sp.study.pruner = LILM_PRUNER_NONE;
    LT_TRUE(t, !lilm_pruner_should_prune(&st, 5));
    lilm_study_free(&st);
}

static void test_pruner_halving(lilm_test *t)
{
    lilm_space sp;
    load(t, &sp, space_text);
    sp.study.pruner = LILM_PRUNER_HALVING;
    sp.study.halving_rate = 3;
    lilm_study st;
    lilm_study_init(&st, &sp);
    const double r1[] = {1.0}, r2[] = {2.0}, r3[] = {3.0}, r4[] = {0.5, 9, 9};
    add_trial(t, &st, LILM_TRIAL_COMPLETE, r2, 1);
    add_trial(t, &st, LILM_TRIAL_RUNNING, r3, 1);
    /* two trials at rung 1: keep the best one only */
    LT_TRUE(t, lilm_pruner_should_prune(&st, 1));
    add_trial(t, &st, LILM_TRIAL_RUNNING, r1, 1);
    LT_TRUE(t, !lilm_pruner_should_prune(&st, 2));
    /* step 2 is no rung (1, 3, 9): never pruned there */
    add_trial(t, &st, LILM_TRIAL_RUNNING, r4, 2);
    LT_TRUE(t, !lilm_pruner_should_prune(&st, 3));
    LT_OK(t, lilm_study_report(&st, 3, 3, 9));   /* alone at rung 3: the best */
    LT_TRUE(t, !lilm_pruner_should_prune(&st, 3));
    lilm_study_free(&st);
}

static void test_importance(lilm_test *t)
{
    lilm_space sp;
    load(t, &sp, space_text);
    lilm_study st;
    lilm_study_init(&st, &sp);
    lilm_rng rng;
    lilm_rng_seed(&rng, 5);
    for (int i = 0; i < 40; i++) {
        lilm_trial tr;
        memset(&tr, 0, sizeof tr);
        tr.number = i;
        tr.state = LILM_TRIAL_COMPLETE;
        for (int p = 0; p < sp.n_params; p++) tr.x[p] = lilm_tpe_random(&sp.params[p], &rng);
        tr.value = 10 * tr.x[0] * tr.x[0] + 0.01 * lilm_rng_uniform(&rng);   /* x alone matters */
        LT_OK(t, lilm_study_add(&st, &tr));
    }
    double imp[LILM_SEARCH_MAX_PARAMS];
    LT_OK(t, lilm_search_importance(&st, imp));
    double sum = 0;
    for (int p = 0; p < sp.n_params; p++) sum += imp[p];
    LT_NEAR(t, sum, 1, 1e-12);
    for (int p = 1; p < sp.n_params; p++) LT_CHECK(t, imp[0] > 2 * imp[p], "x %g vs param %d %g", imp[0], p, imp[p]);
    lilm_study_free(&st);
}

/* ---- runs.db ---- */

static void test_study_db_round_trip(lilm_test *t)
{
    char dir[512], path[600];
    lilm_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/runs.db", dir);
    lilm_space sp;
    load(t, &sp, space_text);
    lilm_runs_db *db = NULL;
    LT_OK(t, lilm_runs_open(&db, path));
    int64_t id = 0, id2 = 0;
    LT_OK(t, lilm_study_db_open_study(db, "s1", space_text, &id));
    LT_OK(t, lilm_study_db_open_study(db, "s1", space_text, &id2));
    LT_EQ_INT(t, id, id2);
    LT_STATUS(t, lilm_study_db_open_study(db, "s1", "params: {}\n", &id2), LILM_ERR_MISMATCH);
    formula f = {0, 4, -1, NULL};
    lilm_study st;
    lilm_study_init(&st, &sp);
    for (int i = 0; i < 6; i++) {
        size_t idx;
        LT_OK(t, lilm_study_ask(&st, &idx));
        lilm_trial_result res = {LILM_TRIAL_FAILED, NAN, ""};
        LT_OK(t, run_quadratic(&f, &st, &st.trials[idx], NULL, &res));
        st.trials[idx].state = res.state;
        st.trials[idx].value = res.value;
        snprintf(st.trials[idx].reason, sizeof st.trials[idx].reason, "%s", res.reason);
        snprintf(st.trials[idx].run_dir, sizeof st.trials[idx].run_dir, "runs/s1-t%04d", i);
        LT_OK(t, lilm_study_report(&st, idx, 1, 2.5 + i));
        LT_OK(t, lilm_study_db_save_trial(db, id, &sp, &st.trials[idx]));
    }
    lilm_study back;
    lilm_study_init(&back, &sp);
    LT_OK(t, lilm_study_db_load_trials(db, id, &back));
    LT_EQ_INT(t, back.n, 6);
    int same = 1;
    for (size_t i = 0; i < 6; i++) {
        const lilm_trial *a = &st.trials[i], *b = &back.trials[i];
        for (int p = 0; p < sp.n_params; p++) same &= a->x[p] == b->x[p];
        same &= a->state == b->state && strcmp(a->run_dir, b->run_dir) == 0 && strcmp(a->reason, b->reason) == 0;
        same &= (isnan(a->value) && isnan(b->value)) || a->value == b->value;
        same &= b->n_reports == 1 && b->reports[0].value == 2.5 + (double)i;
    }
    LT_TRUE(t, same);
    LT_EQ_INT(t, back.trials[4].state, LILM_TRIAL_FAILED);
    lilm_study_record *all = NULL;
    size_t n = 0;
    LT_OK(t, lilm_study_db_list(db, &all, &n));
    LT_EQ_INT(t, n, 1);
    if (n == 1) {
        LT_EQ_INT(t, all[0].n_trials, 6);
        LT_EQ_INT(t, all[0].n_complete, 4);
        LT_TRUE(t, strcmp(all[0].space_yaml, space_text) == 0);
        lilm_study_record_free(&all[0]);
    }
    free(all);
    lilm_study_record rec;
    LT_STATUS(t, lilm_study_db_find(db, "nope", &rec), LILM_ERR_NOT_FOUND);
    lilm_study_free(&st);
    lilm_study_free(&back);
    lilm_runs_close(db);
}

static const lilm_test_case cases[] = {
    {"expr", test_expr},
    {"space_load", test_space_load},
    {"space_errors", test_space_errors},
    {"truncnorm", test_truncnorm},
    {"parzen", test_parzen},
    {"tpe_split", test_tpe_split},
    {"study_resume_asks_the_same", test_study_resume_asks_the_same},
    {"study_failures_go_on", test_study_failures_go_on},
    {"tpe_beats_random_and_multivariate_runs", test_tpe_beats_random_and_multivariate_runs},
    {"pruner_median", test_pruner_median},
    {"pruner_halving", test_pruner_halving},
    {"importance", test_importance},
    {"study_db_round_trip", test_study_db_round_trip},
};

LILM_TEST_MAIN(cases)
