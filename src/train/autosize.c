/*
 * autosize.c: depth, micro-batch and learning-rate sweeps (see autosize.h).
 *
 * Depth probes build a fresh backend and model per depth, so the backend's
 * peak-memory counter belongs to that probe alone, and train on synthetic
 * batches of random tokens: step time does not depend on token values, and
 * the probe then needs no data on disk. LR trials are real (lite) training
 * runs through lilm_trainer on the run's data.
 */
#include "train/autosize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/progress.h"
#include "core/fileio.h"
#include "core/rng.h"
#include "model/model.h"
#include "train/optimizer.h"
#include "train/step.h"
#include "train/trainer.h"

#define MAX_DEPTH_CACHE 64

void lilm_autosize_opts_default(lilm_autosize_opts *o)
{
    memset(o, 0, sizeof *o);
    o->probe_steps = 10;
    o->warmup_steps = 1;
    o->min_layers = 1;
    o->max_layers = 64;
    o->lr_fraction = 0.2;
    o->n_lrs = 5;
    o->lr_min = 1.45e-3;
    o->lr_max = 3e-2;
    o->do_depth = 1;
    o->do_batch = 1;
}

double lilm_autosize_lr(int i, int n, double lo, double hi)
{
    if (n <= 1) return sqrt(lo * hi);
    return exp(log(lo) + (log(hi) - log(lo)) * (double)i / (double)(n - 1));
}

static size_t lilm_train_plan_bytes(const lilm_model_config *mc, const lilm_train_config *t, lilm_dtype act_dtype, size_t B,
                             size_t T)
{
    size_t model = lilm_model_plan_bytes_mode(mc, act_dtype, B, T, LILM_MODEL_TRAIN);
    return model ? model + lilm_optimizer_plan_bytes(mc, t) : 0;
}

int64_t lilm_autosize_pick_batch(const lilm_model_config *mc, lilm_dtype act_dtype, int64_t accum, double memory,
                                 size_t *plan_bytes)
{
    for (int64_t b = accum; b >= 1; b--) {
        if (accum % b) continue;
        size_t need = lilm_train_plan_bytes(mc, NULL, act_dtype, (size_t)b, (size_t)mc->context);
        if (need > 0 && 1.1 * (double)need <= memory) {
            if (plan_bytes) *plan_bytes = need;
            return b;
        }
    }
    return 0;
}

static double lilm_autosize_memory_limit(const lilm_backend *be)
{
    size_t total = 0, avail = 0;
    be->ops->memory_info(be, &total, &avail); /* host RAM on CPU, the GPU's memory on CUDA */
    return avail > 0 ? 0.8 * (double)avail : 4e9;
}

/* ---- the depth search ---- */

typedef struct cached_ok {
    int64_t layers[MAX_DEPTH_CACHE];
    int result[MAX_DEPTH_CACHE];
    int n;
    int (*ok)(void *ctx, int64_t layers);
    void *ctx;
} cached_ok;

static int ask(cached_ok *c, int64_t layers)
{
    for (int i = 0; i < c->n; i++)
        if (c->layers[i] == layers) return c->result[i];
    int r = c->ok(c->ctx, layers);
    if (c->n < MAX_DEPTH_CACHE) {
        c->layers[c->n] = layers;
        c->result[c->n] = r;
        c->n++;
    }
    return r;
}

int64_t lilm_autosize_search_depth(int (*ok)(void *ctx, int64_t layers), void *ctx, int64_t min_layers,
                                   int64_t max_layers)
{
    cached_ok c = {.n = 0, .ok = ok, .ctx = ctx};
    if (min_layers < 1) min_layers = 1;
    if (max_layers < min_layers) max_layers = min_layers;
    int64_t start = 4 < min_layers ? min_layers : 4 > max_layers ? max_layers : 4;
    int64_t lo, hi; /* lo passes (or is min_layers - 1), hi fails (or is max_layers + 1) */
    int r = ask(&c, start);
    if (r < 0) return -1;
    if (r) {
        lo = start;
        for (;;) {
            int64_t next = lo * 2;
            if (next > max_layers) {
                hi = max_layers + 1;
                if (lo < max_layers) {
                    r = ask(&c, max_layers);
                    if (r < 0) return -1;
                    if (r) return max_layers;
                    hi = max_layers;
                }
                break;
            }
            r = ask(&c, next);
            if (r < 0) return -1;
            if (!r) {
                hi = next;
                break;
            }
            lo = next;
        }
    } else {
        lo = min_layers - 1;
        hi = start;
    }
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        r = ask(&c, mid);
        if (r < 0) return -1;
        if (r) lo = mid;
        else hi = mid;
    }
    return lo >= min_layers ? lo : min_layers;
}

/* ---- depth probes ---- */

typedef struct synth_src {
    lilm_rng rng;
    int32_t *inputs, *targets; /* (B, T) */
    size_t B, T;
    int64_t V;
} synth_src;

static lilm_status synth_next(void *ctx, lilm_batch *b)
{
    synth_src *s = ctx;
    for (size_t i = 0; i < s->B * s->T; i++) {
        s->inputs[i] = (int32_t)(4 + lilm_rng_below(&s->rng, (uint64_t)(s->V - 4)));
        s->targets[i] = (int32_t)(4 + lilm_rng_below(&s->rng, (uint64_t)(s->V - 4)));
    }
    b->inputs = s->inputs;
    b->targets = s->targets;
    b->B = s->B;
    b->T = s->T;
    b->n_targets = (int64_t)(s->B * s->T);
    return LILM_OK;
}

typedef struct probe {
    int64_t layers, batch, params;
    double step_s, tokens, tpp;
    size_t plan, peak;
    int ok;
} probe;

typedef struct depth_ctx {
    const lilm_config *cfg;
    const lilm_autosize_opts *o;
    lilm_device_choice dev;
    double memory;
    double budget_s;
    int probe_steps;
    probe probes[MAX_DEPTH_CACHE];
    int n;
    char *jsonl;               /* autosize_depth.jsonl so far */
    size_t jsonl_len;
    lilm_status err;
    FILE *log;
} depth_ctx;

static lilm_status append(char **buf, size_t *len, const char *line)
{
    size_t n = strlen(line);
    char *nb = realloc(*buf, *len + n + 1);
    if (!nb) return lilm_errorf(LILM_ERR_OOM, "out of memory");
    memcpy(nb + *len, line, n + 1);
    *buf = nb;
    *len += n;
    return LILM_OK;
}

static lilm_status write_out(const lilm_autosize_opts *o, const char *name, const char *text, size_t n)
{
    if (!o->out_dir) return LILM_OK;
    char path[LILM_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", o->out_dir, name);
    return lilm_write_atomic(path, text ? text : "", n);
}

/* Times one depth (or, in steps mode, counts its tokens). */
static lilm_status run_probe(depth_ctx *d, int64_t layers, probe *p)
{
    const lilm_config *c = d->cfg;
    memset(p, 0, sizeof *p);
    p->layers = layers;
    lilm_model_config mc = c->model;
    mc.n_layers = layers;
    p->params = lilm_model_config_param_count(&mc);
    lilm_backend *be = NULL;
    LILM_TRY(lilm_backend_create_for(&be, &c->train));
    p->batch = d->o->do_batch ? lilm_autosize_pick_batch(&mc, be->act_dtype, c->train.accum_batch, d->memory, &p->plan)
                              : c->train.batch_size;
    if (!d->o->do_batch)
        p->plan = lilm_train_plan_bytes(&mc, &c->train, be->act_dtype, (size_t)p->batch, (size_t)mc.context);
    double tokens_per_step = (double)c->train.accum_batch * (double)mc.context;
    lilm_status st = LILM_OK;
    if (p->batch == 0) {
        p->ok = 0; /* not even a micro-batch of 1 fits: too deep */
    } else if (c->budget.mode == LILM_BUDGET_STEPS) {
        p->tokens = tokens_per_step * (double)c->train.steps;
    } else {
        lilm_model m;
        lilm_optimizer opt;
        lilm_spike_guard guard;
        int have_m = 0, have_opt = 0, have_guard = 0;
        synth_src src = {.B = (size_t)p->batch, .T = (size_t)mc.context, .V = mc.vocab_size};
        lilm_rng_seed(&src.rng, c->train.seed);
        src.inputs = malloc(src.B * src.T * sizeof(int32_t));
        src.targets = malloc(src.B * src.T * sizeof(int32_t));
        if (!src.inputs || !src.targets) st = lilm_errorf(LILM_ERR_OOM, "out of memory");
        if (st == LILM_OK) st = lilm_model_init(&m, &mc, be, src.B, src.T, c->train.seed);
        have_m = st == LILM_OK;
        if (st == LILM_OK) st = lilm_optimizer_init(&opt, &m, &c->train);
        have_opt = have_m && st == LILM_OK;
        if (st == LILM_OK) st = lilm_spike_guard_init(&guard, (int)c->train.spike_window, 0.0);
        have_guard = have_opt && st == LILM_OK;
        lilm_batch_source bs = {.ctx = &src, .next = synth_next};
        int n_micro = (int)(c->train.accum_batch / p->batch);
        double t0 = 0;
        for (int i = 0; st == LILM_OK && i < d->o->warmup_steps + d->probe_steps; i++) {
            if (i == d->o->warmup_steps) t0 = lilm_progress_clock();
            if (d->o->stop && *d->o->stop) {
                st = lilm_errorf(LILM_ERR_INTERRUPTED, "autosize stopped");
                break;
            }
            lilm_step_result res;
            /* a tiny lr: random tokens must not blow the weights up */
            st = lilm_train_step(&m, &opt, &guard, &bs, n_micro, 1e-6, NULL, &res);
        }
        if (st == LILM_OK) {
            p->step_s = (lilm_progress_clock() - t0) / (double)d->probe_steps;
            p->tokens = p->step_s > 0 ? d->budget_s / p->step_s * tokens_per_step : 0;
        }
        p->peak = be->ops->peak_bytes ? be->ops->peak_bytes(be) : 0;
        if (have_guard) lilm_spike_guard_free(&guard);
        if (have_opt) lilm_optimizer_free(&opt);
        if (have_m) lilm_model_free(&m);
        free(src.inputs);
        free(src.targets);
    }
    lilm_backend_free(be);
    LILM_TRY(st);
    p->tpp = p->params > 0 ? p->tokens / (double)p->params : 0;
    if (p->batch > 0) p->ok = p->tpp >= c->budget.tokens_per_param;
    return LILM_OK;
}

static int depth_ok(void *ctx, int64_t layers)
{
    depth_ctx *d = ctx;
    probe p;
    lilm_status st = run_probe(d, layers, &p);
    if (st != LILM_OK) {
        d->err = st;
        return -1;
    }
    if (d->n < MAX_DEPTH_CACHE) d->probes[d->n++] = p;
    char line[512];
    snprintf(line, sizeof line,
             "{\"layers\": %lld, \"params\": %lld, \"batch_size\": %lld, \"step_s\": %.6f, \"tokens_in_budget\": %.0f, "
             "\"tokens_per_param\": %.3f, \"plan_bytes\": %zu, \"peak_bytes\": %zu, \"ok\": %s}\n",
             (long long)p.layers, (long long)p.params, (long long)p.batch, p.step_s, p.tokens, p.tpp, p.plan, p.peak,
             p.ok ? "true" : "false");
    if ((st = append(&d->jsonl, &d->jsonl_len, line)) == LILM_OK)
        st = write_out(d->o, "autosize_depth.jsonl", d->jsonl, d->jsonl_len);
    if (st != LILM_OK) {
        d->err = st;
        return -1;
    }
    if (!d->o->quiet)
        fprintf(d->log, "  %6lld %11lld %6lld %9.3f %14.3g %9.2f %9.1f  %s\n", (long long)p.layers, (long long)p.params,
                (long long)p.batch, p.step_s, p.tokens, p.tpp, (double)p.plan / 1048576.0, p.ok ? "yes" : "no");
    return p.ok;
}

/* ---- the LR sweep ---- */

static lilm_status lr_trial(const lilm_config *cfg, const lilm_autosize_opts *o, int i, double lr, double *val_loss,
                            int64_t *steps)
{
    lilm_config c = *cfg;
    c.train.lr = lr;
    double frac = o->lr_fraction;
    if (c.budget.mode == LILM_BUDGET_STEPS) {
        int64_t s = (int64_t)llround(frac * (double)c.train.steps);
        c.train.steps = s < 1 ? 1 : s;
    } else {
        c.budget.minutes = frac * c.budget.minutes;
    }
    c.train.checkpoint_every_seconds = 0;
    char dir[LILM_PATH_MAX + 64];
    snprintf(dir, sizeof dir, "%s/autosize/lr-%d", o->out_dir, i);
    lilm_trainer_options to = {.out_dir = dir, .quiet = 1, .stop = o->stop, .schedule_fraction = frac, .lite = 1,
                               .no_samples = 1};
    lilm_trainer t;
    lilm_status st = lilm_trainer_init(&t, &c, &to);
    if (st == LILM_OK) st = lilm_trainer_run(&t);
    if (st == LILM_OK) {
        double best = t.state.best_val_loss;
        if (t.have_final_val && t.final_val.loss < best) best = t.final_val.loss;
        *val_loss = best;
        *steps = t.state.step;
    }
    lilm_trainer_free(&t);
    return st;
}

/* ---- the whole job ---- */

static lilm_status write_choice(const lilm_autosize_opts *o, const lilm_autosize_result *r, const lilm_config *c)
{
    char text[1536], best[32];
    if (isfinite(r->best_val_loss)) snprintf(best, sizeof best, "%.6f", r->best_val_loss);
    else snprintf(best, sizeof best, "null");
    int n = snprintf(text, sizeof text,
                     "{\n  \"layers\": %lld,\n  \"batch_size\": %lld,\n  \"lr\": %.6g,\n  \"params\": %lld,\n"
                     "  \"accum_batch\": %lld,\n  \"tokens_per_param_target\": %.6g,\n  \"tokens_per_param\": %.4f,\n"
                     "  \"tokens_in_budget\": %.0f,\n  \"step_s\": %.6f,\n  \"budget_minutes\": %.6g,\n"
                     "  \"budget_mode\": \"%s\",\n  \"plan_bytes\": %zu,\n  \"peak_bytes\": %zu,\n"
                     "  \"memory_limit_bytes\": %.0f,\n  \"best_val_loss\": %s,\n  \"lr_fraction\": %.6g,\n"
                     "  \"probe_steps\": %d,\n  \"depth_probes\": %d,\n  \"seconds\": %.3f\n}\n",
                     (long long)r->layers, (long long)r->batch_size, r->lr, (long long)r->params,
                     (long long)c->train.accum_batch, c->budget.tokens_per_param, r->tokens_per_param,
                     r->tokens_in_budget, r->step_s, c->budget.minutes,
                     c->budget.mode == LILM_BUDGET_STEPS ? "steps" : "time", r->plan_bytes, r->peak_bytes,
                     r->memory_limit, best, o->lr_fraction, r->probe_steps, r->n_depth_probes, r->seconds);
    if (n < 0 || (size_t)n >= sizeof text) return lilm_errorf(LILM_ERR_INTERNAL, "autosize.json too long");
    return write_out(o, "autosize.json", text, (size_t)n);
}

lilm_status lilm_autosize(const lilm_config *in, const lilm_autosize_opts *o, lilm_config *out,
                          lilm_autosize_result *r)
{
    double t0 = lilm_progress_clock();
    memset(r, 0, sizeof *r);
    r->best_val_loss = NAN;
    *out = *in;
    FILE *log = o->log ? o->log : stderr;
    if (o->n_lrs > 0 && !o->out_dir)
        return lilm_errorf(LILM_ERR_ARG, "the learning-rate sweep needs a directory for its trial runs");
    if (o->lr_fraction <= 0 || o->lr_fraction > 1)
        return lilm_errorf(LILM_ERR_ARG, "lr_fraction must be in (0, 1], got %g", o->lr_fraction);
    if (o->out_dir) LILM_TRY(lilm_mkdirs(o->out_dir));
    depth_ctx d;
    memset(&d, 0, sizeof d);
    d.cfg = in;
    d.o = o;
    d.log = log;
    d.budget_s = in->budget.minutes * 60.0;
    LILM_TRY(lilm_device_choice_parse(in->train.device, &d.dev));
    {
        lilm_backend *be = NULL;
        LILM_TRY(lilm_backend_create(&be, d.dev, (int)in->train.threads));
        d.memory = o->memory_bytes > 0 ? o->memory_bytes : lilm_autosize_memory_limit(be);
        d.probe_steps = o->probe_steps > 0 ? o->probe_steps : be->device == LILM_DEVICE_CUDA ? 10 : 3;
        lilm_backend_free(be);
    }
    r->memory_limit = d.memory;
    r->probe_steps = d.probe_steps;

    /* (a) + (b): depth, with the largest fitting micro-batch at each depth */
    if (o->do_depth) {
        if (!o->quiet) {
            fprintf(log, "autosize: depth sweep: target %.4g tokens/parameter in %.4g min (%s mode), memory limit %.1f GiB\n",
                    in->budget.tokens_per_param, in->budget.minutes,
                    in->budget.mode == LILM_BUDGET_STEPS ? "steps" : "time", d.memory / 1073741824.0);
            fprintf(log, "  %6s %11s %6s %9s %14s %9s %9s  %s\n", "layers", "params", "batch", "step_s", "tokens",
                    "tok/param", "plan_MiB", "ok");
        }
        int64_t L = lilm_autosize_search_depth(depth_ok, &d, o->min_layers, o->max_layers);
        if (L < 0) {
            free(d.jsonl);
            return d.err != LILM_OK ? d.err : lilm_errorf(LILM_ERR_INTERNAL, "depth search failed");
        }
        out->model.n_layers = L;
        r->n_depth_probes = d.n;
        for (int i = 0; i < d.n; i++) {
            if (d.probes[i].layers != L) continue;
            r->step_s = d.probes[i].step_s;
            r->tokens_in_budget = d.probes[i].tokens;
            r->tokens_per_param = d.probes[i].tpp;
            r->peak_bytes = d.probes[i].peak;
            if (o->do_batch && d.probes[i].batch > 0) out->train.batch_size = d.probes[i].batch;
            if (!d.probes[i].ok && !o->quiet)
                fprintf(log, "autosize: even %lld layer(s) miss the target; using %lld\n", (long long)L, (long long)L);
        }
        free(d.jsonl);
    }
    if (o->do_batch && !o->do_depth) {
        lilm_backend *be = NULL;
        LILM_TRY(lilm_backend_create(&be, d.dev, (int)in->train.threads));
        int64_t b = lilm_autosize_pick_batch(&out->model, be->act_dtype, in->train.accum_batch, d.memory, NULL);
        lilm_backend_free(be);
        if (b == 0)
            return lilm_errorf(LILM_ERR_OOM, "not even a micro-batch of 1 fits in %.1f GiB\nHINT: use a smaller model or --memory-gb",
                               d.memory / 1073741824.0);
        out->train.batch_size = b;
    }
    {
        lilm_backend *be = NULL;
        LILM_TRY(lilm_backend_create(&be, d.dev, (int)in->train.threads));
        r->plan_bytes = lilm_train_plan_bytes(&out->model, &out->train, be->act_dtype, (size_t)out->train.batch_size,
                                              (size_t)out->model.context);
        lilm_backend_free(be);
    }
    r->layers = out->model.n_layers;
    r->batch_size = out->train.batch_size;
    r->params = lilm_model_config_param_count(&out->model);
    if (!o->quiet) {
        fprintf(log, "autosize: %lld layers (%lld parameters), micro-batch %lld of %lld: memory plan %.1f MiB",
                (long long)r->layers, (long long)r->params, (long long)r->batch_size,
                (long long)out->train.accum_batch, (double)r->plan_bytes / 1048576.0);
        if (r->peak_bytes)
            fprintf(log, ", measured peak %.1f MiB (%.2fx the plan; the rest is backend scratch)",
                    (double)r->peak_bytes / 1048576.0, (double)r->peak_bytes / (double)r->plan_bytes);
        fputc('\n', log);
    }

    /* (c) the learning rate */
    r->lr = out->train.lr;
    if (o->n_lrs > 0) {
        char *jsonl = NULL;
        size_t jl = 0;
        if (!o->quiet) {
            fprintf(log, "autosize: LR sweep: %d rates in [%.3g, %.3g], each for %.0f%% of the budget with the full schedule\n",
                    o->n_lrs, o->lr_min, o->lr_max, 100.0 * o->lr_fraction);
            fprintf(log, "  %10s %8s %10s\n", "lr", "steps", "val_loss");
        }
        double best = INFINITY, best_lr = r->lr;
        lilm_status st = LILM_OK;
        for (int i = 0; i < o->n_lrs && st == LILM_OK; i++) {
            double lr = lilm_autosize_lr(i, o->n_lrs, o->lr_min, o->lr_max), vl = INFINITY;
            int64_t steps = 0;
            st = lr_trial(out, o, i, lr, &vl, &steps);
            if (st != LILM_OK) break;
            if (o->stop && *o->stop) {
                st = lilm_errorf(LILM_ERR_INTERRUPTED, "autosize stopped");
                break;
            }
            char line[256];
            if (isfinite(vl))
                snprintf(line, sizeof line, "{\"lr\": %.6g, \"val_loss\": %.6f, \"steps\": %lld}\n", lr, vl, (long long)steps);
            else
                snprintf(line, sizeof line, "{\"lr\": %.6g, \"val_loss\": null, \"steps\": %lld}\n", lr, (long long)steps);
            if ((st = append(&jsonl, &jl, line)) == LILM_OK) st = write_out(o, "autosize_lr.jsonl", jsonl, jl);
            if (!o->quiet) fprintf(log, "  %10.4g %8lld %10.4f\n", lr, (long long)steps, vl);
            if (vl < best) {
                best = vl;
                best_lr = lr;
            }
        }
        free(jsonl);
        LILM_TRY(st);
        r->lr = best_lr;
        r->best_val_loss = best;
        out->train.lr = best_lr;
        if (!o->quiet) fprintf(log, "autosize: learning rate %.4g (validation loss %.4f)\n", best_lr, best);
    }
    r->seconds = lilm_progress_clock() - t0;
    if (o->out_dir) {
        LILM_TRY(write_choice(o, r, in));
        char path[LILM_PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/autosize.yaml", o->out_dir);
        LILM_TRY(lilm_config_save(out, path));
    }
    return LILM_OK;
}
