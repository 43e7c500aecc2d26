/*
 * trainer.c: the budgeted training loop, validation, metrics and run files.
 *
 * Time accounting: state.elapsed_s is the run's training wall time summed
 * over sessions (a resumed run continues its budget). In `time` mode the
 * schedule position is elapsed/budget of a long virtual schedule, so the lr
 * reaches its final value exactly when the budget ends, whatever the step
 * rate; periodic validation counts against the budget. In `steps` mode the
 * schedule runs over train.steps and everything is deterministic.
 */
#include "train/trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/json.h"
#include "core/progress.h"
#include "core/version.h"
#include "eval/evaluate.h"
#include "eval/generate.h"

#define LILM_TIME_MODE_STEPS 1000000 /* virtual schedule length in time mode */

static void iso_now(char *buf, size_t n)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static double elapsed(const lilm_trainer *t) { return t->elapsed_base + (lilm_progress_clock() - t->t0); }

/* ---- data parallel ---- */

/* Rank 0 of a data-parallel run (or the only process) writes every file. */
static int is_root(const lilm_trainer *t) { return !t->opts.dist || t->opts.dist->rank == 0; }

/* Makes the first n_root values rank 0's on every rank (clocks and timings:
 * every decision that depends on them is then the same everywhere), and the
 * remaining n_any values the sum over the ranks (flags any rank may raise). */
static lilm_status agree(const lilm_trainer *t, double *v, int n_root, int n_any)
{
    const lilm_dist *d = t->opts.dist;
    if (!d || d->size == 1) return LILM_OK;
    if (d->rank != 0)
        for (int i = 0; i < n_root; i++) v[i] = 0;
    return lilm_dist_sum_f64(d, v, (size_t)(n_root + n_any));
}

/* On a GPU backend, the ranks' devices form one NCCL group: rank 0 makes its
 * id, MPI carries it to the others, and every rank joins. */
static lilm_status join_device_group(lilm_trainer *t)
{
    const lilm_dist *d = t->opts.dist;
    if (!d || d->size == 1 || t->be->device == LILM_DEVICE_CPU) return LILM_OK;
    if (!t->be->ops->comm_id || !t->be->ops->comm_init)
        return lilm_errorf(LILM_ERR_UNSUPPORTED, "the %s backend cannot train data-parallel; use --device cpu",
                           t->be->name);
    unsigned char id[128] = {0}; /* NCCL's group id: 128 bytes */
    if (d->rank == 0) LILM_TRY(t->be->ops->comm_id(t->be, id, sizeof id));
    LILM_TRY(lilm_dist_bcast(d, id, sizeof id));
    return t->be->ops->comm_init(t->be, id, sizeof id, d->rank, d->size);
}

/* A 64-bit FNV-1a hash of the fp32 weights, compared over the ranks at the end
 * of a data-parallel run: their optimizer steps must have stayed identical. */
static lilm_status check_ranks_agree(lilm_trainer *t)
{
    const lilm_dist *d = t->opts.dist;
    if (!d || d->size == 1) return LILM_OK;
    size_t n = t->model.n_elems;
    float *w = malloc(n * sizeof *w);
    int64_t *all = malloc((size_t)d->size * sizeof *all);
    lilm_status st = w && all ? t->be->ops->download(t->be, w, t->model.param_block, n * sizeof *w)
                              : lilm_errorf(LILM_ERR_OOM, "out of memory for the weights' hash");
    uint64_t h = 1469598103934665603ull;
    const unsigned char *p = (const unsigned char *)w;
    for (size_t i = 0; st == LILM_OK && i < n * sizeof *w; i++) h = (h ^ p[i]) * 1099511628211ull;
    int64_t mine = (int64_t)h;
    if (st == LILM_OK) st = lilm_dist_allgather(d, &mine, all, sizeof mine);
    int same = 1;
    for (int r = 1; st == LILM_OK && r < d->size; r++) same &= all[r] == all[0];
    free(w);
    free(all);
    LILM_TRY(st);
    if (!same) return lilm_errorf(LILM_ERR_INTERNAL, "the ranks' weights differ after training (a bug: please report)");
    if (is_root(t)) fprintf(stderr, "lilm: weights identical on %d ranks\n", d->size);
    return LILM_OK;
}

static void lilm_trainer_probe_report(const lilm_trainer *t, lilm_probe_report *p)
{
    memset(p, 0, sizeof *p);
    p->budget_s = t->cfg.budget.minutes * 60.0;
    if (t->probe_step_s <= 0 || t->state.step <= 0) return;
    /* the reference's method: steps = budget / (step time measured by a probe) */
    p->valid = 1;
    p->probe_step_s = t->probe_step_s;
    p->est_steps = (int64_t)floor(p->budget_s / t->probe_step_s);
    double real_step_s = t->state.elapsed_s / (double)t->state.step;
    p->est_wall_s = (double)p->est_steps * real_step_s;
    p->miss_s = p->est_wall_s - p->budget_s;
}

/* ---- data ---- */

static lilm_status setup_data(lilm_trainer *t)
{
    const lilm_config *c = &t->cfg;
    lilm_corpus_opts co = {.B = (size_t)c->train.batch_size, .T = (size_t)c->model.context, .seed = c->train.seed,
                           .pad_id = (int32_t)c->model.pad_id, .max_vocab = c->model.vocab_size, .train = 1};
    LILM_TRY(lilm_corpus_open(&t->data, &c->data, t->tok, &co));
    t->src.ctx = t->data;
    t->src.next = lilm_corpus_next;
    return LILM_OK;
}

/* ---- run files ---- */

/* started_at of an existing run.json (a resumed run keeps it), else now. */
static void started_at(const char *path, char *started, size_t n)
{
    started[0] = '\0';
    lilm_json *old = NULL;
    if (lilm_json_parse_file(&old, path) == LILM_OK) {
        const char *s = lilm_json_get_str(old, "started_at");
        if (s) snprintf(started, n, "%s", s);
    }
    lilm_json_free(old);
    if (!started[0]) iso_now(started, n);
}

static lilm_status write_run_json(lilm_trainer *t, const char *status, const lilm_eval_result *val)
{
    if (!is_root(t)) return LILM_OK;
    char path[LILM_PATH_MAX + 32], started[32], finished[32];
    snprintf(path, sizeof path, "%s/run.json", t->dir);
    started_at(path, started, sizeof started);
    iso_now(finished, sizeof finished);
    const char *name = strrchr(t->dir, '/');
    name = name ? name + 1 : t->dir;
    lilm_json_writer w;
    lilm_json_writer_init(&w, 1);
    lilm_json_begin_object(&w);
    lilm_json_key(&w, "name"); lilm_json_str(&w, name);
    lilm_json_key(&w, "status"); lilm_json_str(&w, status);
    lilm_json_key(&w, "started_at"); lilm_json_str(&w, started);
    lilm_json_key(&w, "finished_at");
    if (strcmp(status, "running") == 0) lilm_json_null(&w); else lilm_json_str(&w, finished);
    lilm_json_key(&w, "device"); lilm_json_str(&w, t->be->name);
    lilm_json_key(&w, "params"); lilm_json_int(&w, t->params);
    lilm_json_key(&w, "dataset"); lilm_json_str(&w, t->cfg.data.dataset[0] ? t->cfg.data.dataset : t->cfg.data.text);
    lilm_json_key(&w, "tokenizer"); lilm_json_str(&w, t->cfg.data.tokenizer);
    lilm_json_key(&w, "tokenizer_sha256"); lilm_json_str(&w, lilm_tokenizer_sha256(t->tok));
    lilm_json_key(&w, "git_commit"); lilm_json_str(&w, lilm_git_commit());
    lilm_json_key(&w, "lilm_version"); lilm_json_str(&w, lilm_version());
    lilm_json_key(&w, "model_type"); lilm_json_str(&w, t->cfg.model.latent_dim > 0 ? "latent attention" : "baseline transformer");
    lilm_json_key(&w, "layers"); lilm_json_int(&w, t->cfg.model.n_layers);
    lilm_json_key(&w, "steps"); lilm_json_int(&w, t->state.step);
    lilm_json_key(&w, "tokens"); lilm_json_int(&w, t->state.tokens);
    lilm_json_key(&w, "val_loss");
    if (val) lilm_json_double(&w, val->loss); else lilm_json_null(&w);
    lilm_json_key(&w, "val_bpb");
    if (val) lilm_json_double(&w, val->bpb); else lilm_json_null(&w);
    lilm_json_key(&w, "budget_minutes"); lilm_json_double(&w, t->cfg.budget.minutes);
    lilm_json_key(&w, "budget_mode"); lilm_json_str(&w, t->cfg.budget.mode == LILM_BUDGET_TIME ? "time" : "steps");
    lilm_json_key(&w, "elapsed_s"); lilm_json_double(&w, t->state.elapsed_s);
    lilm_probe_report pr;
    lilm_trainer_probe_report(t, &pr);
    if (pr.valid) {
        lilm_json_key(&w, "probe_step_s"); lilm_json_double(&w, pr.probe_step_s);
        lilm_json_key(&w, "probe_estimated_steps"); lilm_json_double(&w, (double)pr.est_steps);
        lilm_json_key(&w, "probe_estimated_wall_s"); lilm_json_double(&w, pr.est_wall_s);
        lilm_json_key(&w, "probe_miss_s"); lilm_json_double(&w, pr.miss_s);
    }
    if (strcmp(status, "running") != 0) {
        lilm_json_key(&w, "reserve_s"); lilm_json_double(&w, t->reserve_s);
        lilm_json_key(&w, "final_val_s"); lilm_json_double(&w, t->final_val_s);
    }
    lilm_json_end_object(&w);
    char *text = NULL;
    size_t n = 0;
    lilm_status st = lilm_json_writer_finish(&w, &text, &n);
    if (st == LILM_OK) st = lilm_write_atomic(path, text, n);
    free(text);
    if (st == LILM_OK && t->opts.on_report) {
        lilm_trainer_report r = {.run_dir = t->dir, .status = status, .step = t->state.step,
                                 .tokens = t->state.tokens, .elapsed_s = t->state.elapsed_s, .val = val};
        t->opts.on_report(t->opts.report_ctx, &r);
    }
    return st;
}

/* Keeps only metrics lines up to `step` (a resumed run rewrites what followed its checkpoint). */
static lilm_status open_metrics(lilm_trainer *t, int64_t keep_upto)
{
    if (!is_root(t)) return LILM_OK;
    char path[LILM_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/metrics.jsonl", t->dir);
    if (t->opts.resume && lilm_path_exists(path)) {
        char *text = NULL;
        size_t n = 0;
        LILM_TRY(lilm_read_file(path, &text, &n));
        lilm_atomic_file af;
        lilm_status st = lilm_atomic_open(&af, path);
        for (size_t i = 0; st == LILM_OK && i < n;) {
            size_t j = i;
            while (j < n && text[j] != '\n') j++;
            lilm_json *line = NULL;
            int64_t step = 0;
            if (lilm_json_parse(&line, text + i, j - i, "metrics.jsonl") == LILM_OK &&
                lilm_json_get_int(line, "step", &step) && step <= keep_upto)
                fwrite(text + i, 1, j - i + (j < n), af.f);
            lilm_json_free(line);
            i = j + 1;
        }
        free(text);
        if (st == LILM_OK) st = lilm_atomic_commit(&af);
        LILM_TRY(st);
    }
    LILM_TRY(lilm_line_file_open(&t->metrics, path));
    t->metrics_open = 1;
    return LILM_OK;
}

/* One number of a metrics line: printf's `fmt`, or null for NaN/Inf (JSON has no NaN). */
static const char *metric_num(char *buf, size_t n, const char *fmt, double v)
{
    if (!isfinite(v)) return "null";
    snprintf(buf, n, fmt, v);
    return buf;
}

/* Appends one line to metrics.jsonl; a failed write (a full disk) is an error
 * that stops the run, never a lost or half-written line. */
static lilm_status metric_line(lilm_trainer *t, const char *kind, double lr, double loss, double gnorm, double tps,
                               const lilm_eval_result *val)
{
    if (!t->metrics_open) return LILM_OK;
    char line[512], a[4][64];
    int k = snprintf(line, sizeof line, "{\"kind\": \"%s\", \"step\": %lld, \"tokens\": %lld, \"elapsed_s\": %.3f",
                     kind, (long long)t->state.step, (long long)t->state.tokens, elapsed(t));
    if (!val) {
        k += snprintf(line + k, sizeof line - (size_t)k, ", \"lr\": %s, \"loss\": %s, \"grad_norm\": %s, \"tokens_per_s\": %s",
                      metric_num(a[0], 64, "%.6g", lr), metric_num(a[1], 64, "%.6f", loss),
                      metric_num(a[2], 64, "%.6g", gnorm), metric_num(a[3], 64, "%.1f", tps));
    } else {
        k += snprintf(line + k, sizeof line - (size_t)k, ", \"val_loss\": %s, \"val_bpb\": %s, \"val_full\": %s",
                      metric_num(a[0], 64, "%.6f", val->loss), metric_num(a[1], 64, "%.6f", val->bpb),
                      val->full ? "true" : "false");
    }
    k += snprintf(line + k, sizeof line - (size_t)k, "}\n");
    return lilm_line_file_append(&t->metrics, line, (size_t)k);
}

/* ---- the dataset's own tokenizer ---- */

lilm_status lilm_trainer_resolve_tokenizer(lilm_config *c)
{
    char path[LILM_PATH_MAX];
    LILM_TRY(lilm_data_resolve_tokenizer(&c->data, path, sizeof path));
    snprintf(c->data.tokenizer, sizeof c->data.tokenizer, "%s", path);
    return LILM_OK;
}

/* ---- init ---- */

lilm_status lilm_trainer_init(lilm_trainer *t, const lilm_config *cfg, const lilm_trainer_options *o)
{
    memset(t, 0, sizeof *t);
    t->cfg = *cfg;
    t->opts = *o;
    t->state.best_val_loss = INFINITY;
    lilm_config *c = &t->cfg;
    LILM_TRY(lilm_config_validate(c));
    snprintf(t->dir, sizeof t->dir, "%s", o->out_dir);
    char ck[LILM_PATH_MAX + 32];
    snprintf(ck, sizeof ck, "%s/checkpoints", t->dir);
    if (o->resume) {
        char last[LILM_PATH_MAX + 64];
        snprintf(last, sizeof last, "%s/last.safetensors", ck);
        if (!lilm_path_exists(last))
            return lilm_errorf(LILM_ERR_NOT_FOUND, "%s has no checkpoint to resume from (%s)\nHINT: start a new run with --out", t->dir, last);
    }
    if (is_root(t)) LILM_TRY(lilm_mkdirs(ck));

    lilm_device_choice dev;
    lilm_backend_options bo;
    LILM_TRY(lilm_device_choice_parse(c->train.device, &dev));
    lilm_backend_options_from_config(&c->train, &bo);
    if (o->dist) bo.cuda_device = o->dist->local_rank; /* one GPU per rank on each host */
    LILM_TRY(lilm_backend_create_opts(&t->be, dev, (int)c->train.threads, &bo));
    LILM_TRY(join_device_group(t));
    LILM_TRY(lilm_tokenizer_load(&t->tok, c->data.tokenizer));
    if (lilm_tokenizer_vocab_size(t->tok) > c->model.vocab_size)
        return lilm_errorf(LILM_ERR_CONFIG, "model.vocab_size %lld is smaller than the tokenizer's vocabulary (%d)\nHINT: --set model.vocab_size=%d",
                           (long long)c->model.vocab_size, lilm_tokenizer_vocab_size(t->tok), lilm_tokenizer_vocab_size(t->tok));
    LILM_TRY(setup_data(t));

    t->n_micro = (int)(c->train.accum_batch / c->train.batch_size);
    if (o->dist && o->dist->size > 1) {
        if (t->n_micro < o->dist->size)
            return lilm_errorf(LILM_ERR_CONFIG,
                               "a step has %d micro-batches (train.accum_batch %lld / train.batch_size %lld), fewer than "
                               "the %d ranks: some would have nothing to do\nHINT: raise train.accum_batch to at least %lld, "
                               "or run fewer ranks",
                               t->n_micro, (long long)c->train.accum_batch, (long long)c->train.batch_size, o->dist->size,
                               (long long)c->train.batch_size * o->dist->size);
    }
    LILM_TRY(lilm_model_init(&t->model, &c->model, t->be, (size_t)c->train.batch_size, (size_t)c->model.context,
                             c->train.seed));
    t->model_ready = 1;
    t->params = (int64_t)t->model.n_elems;
    LILM_TRY(lilm_optimizer_init(&t->opt, &t->model, &c->train));
    LILM_TRY(lilm_spike_guard_init(&t->guard, (int)c->train.spike_window, c->train.spike_factor));
    double frac = o->schedule_fraction > 0 && o->schedule_fraction < 1 ? o->schedule_fraction : 1.0;
    t->opts.schedule_fraction = frac;
    t->state.total_steps = c->budget.mode == LILM_BUDGET_STEPS ? (int64_t)ceil((double)c->train.steps / frac)
                                                               : LILM_TIME_MODE_STEPS;
    t->full_val_batches = lilm_corpus_val_batches(t->data);
    lilm_schedule_from_config(&t->sched, &c->train, t->state.total_steps);

    if (o->resume) {
        char last[LILM_PATH_MAX + 64];
        snprintf(last, sizeof last, "%s/last.safetensors", ck);
        LILM_TRY(lilm_run_checkpoint_load(last, &t->model, &t->opt, &t->state));
        t->guard.n = t->state.spike_n < t->guard.cap ? t->state.spike_n : t->guard.cap;
        t->guard.head = t->state.spike_head % t->guard.cap;
        memcpy(t->guard.window, t->state.spike_window, (size_t)t->guard.n * sizeof(double));
        LILM_TRY(lilm_corpus_set_cursor(t->data, &t->state.data));
    }
    char cfgpath[LILM_PATH_MAX + 32];
    snprintf(cfgpath, sizeof cfgpath, "%s/config.yaml", t->dir);
    if (is_root(t)) LILM_TRY(lilm_config_save(c, cfgpath));
    LILM_TRY(open_metrics(t, t->state.step));
    return write_run_json(t, "running", NULL);
}

void lilm_trainer_free(lilm_trainer *t)
{
    if (t->metrics_open) lilm_line_file_close(&t->metrics);
    lilm_spike_guard_free(&t->guard);
    lilm_optimizer_free(&t->opt);
    if (t->model_ready) lilm_model_free(&t->model);
    lilm_corpus_close(t->data);
    if (t->tok) lilm_tokenizer_free(t->tok);
    if (t->be) lilm_backend_free(t->be);
    memset(t, 0, sizeof *t);
}

/* ---- validation ---- */

/* Validation on at most max_batches batches (all of them when full); a
 * partial one also measures the time per batch for the end reserve. */
static lilm_status validate_upto(lilm_trainer *t, int full, int64_t max_batches, lilm_eval_result *r)
{
    LILM_TRY(lilm_eval_corpus(&t->model, t->data, full, max_batches, t->opts.dist, r));
    /* the end reserve comes from rank 0's timing on every rank */
    double v[1] = {r->seconds};
    LILM_TRY(agree(t, v, 1, 0));
    r->seconds = v[0];
    if (!full && r->batches > 0) t->val_batch_s = r->seconds / (double)r->batches;
    return LILM_OK;
}

lilm_status lilm_trainer_validate(lilm_trainer *t, int full, lilm_eval_result *r)
{
    return validate_upto(t, full, t->cfg.train.val_batches, r);
}

/* ---- checkpoints ---- */

static lilm_status save(lilm_trainer *t, const char *name)
{
    if (t->opts.lite || !is_root(t)) return LILM_OK;
    double ts0 = lilm_progress_clock();
    lilm_run_state *s = &t->state;
    s->elapsed_s = elapsed(t);
    s->spike_n = t->guard.n;
    s->spike_head = t->guard.head;
    int n = t->guard.n < LILM_STATE_WINDOW_MAX ? t->guard.n : LILM_STATE_WINDOW_MAX;
    memcpy(s->spike_window, t->guard.window, (size_t)n * sizeof(double));
    lilm_corpus_get_cursor(t->data, &s->data);
    char dir[LILM_PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s/checkpoints", t->dir);
    lilm_status st = lilm_run_checkpoint_save(dir, name, &t->model, &t->opt, &t->cfg, s);
    t->save_s = fmax(t->save_s, lilm_progress_clock() - ts0);
    return st;
}

/* Seconds to keep free at the end of a time budget for the final validation
 * and the last checkpoints, from measured (or, before any measurement,
 * step-derived) timings, with 20% headroom. */
static double end_reserve(const lilm_trainer *t, double last_step_s)
{
    double vb = t->val_batch_s;
    if (vb <= 0 && last_step_s > 0) vb = last_step_s / (double)t->n_micro / 3.0; /* a forward is ~1/3 of a step */
    int64_t batches = t->opts.lite ? t->cfg.train.val_batches : t->full_val_batches;
    if (batches < 0) batches = 0;
    double r = 1.2 * (double)batches * vb + (t->opts.lite ? 0.0 : 2.0 * t->save_s);
    return r;
}

/* samples.txt: greedy continuations of the reference's prompts. */
static lilm_status write_samples(lilm_trainer *t, double *seconds, int64_t *n_tokens)
{
    char path[LILM_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/samples.txt", t->dir);
    lilm_sample_opts so;
    lilm_sample_opts_default(&so);
    lilm_atomic_file af;
    LILM_TRY(lilm_atomic_open(&af, path));
    double t0 = lilm_progress_clock();
    *n_tokens = 0;
    lilm_status st = LILM_OK;
    for (size_t i = 0; i < lilm_reference_prompt_count && st == LILM_OK; i++) {
        lilm_generation g;
        st = lilm_generate(&t->model, t->tok, lilm_reference_prompts[i], &so, &g);
        if (st != LILM_OK) break;
        fprintf(af.f, "### %s\n%s\n\n", lilm_reference_prompts[i], g.text);
        *n_tokens += (int64_t)g.n_new;
        lilm_generation_free(&g);
    }
    *seconds = lilm_progress_clock() - t0;
    if (st == LILM_OK) return lilm_atomic_commit(&af);
    lilm_atomic_abort(&af);
    return st;
}

/* eval.json at the end of a run: the full validation plus the budget's accounting. */
static lilm_status write_eval_json(lilm_trainer *t, const lilm_eval_result *v)
{
    lilm_eval_result e;
    memset(&e, 0, sizeof e);
    e.params = t->params;
    e.seconds = t->final_val_s;
    snprintf(e.checkpoint, sizeof e.checkpoint, "%s/checkpoints/final.safetensors", t->dir);
    snprintf(e.data, sizeof e.data, "%s", t->cfg.data.dataset[0] ? t->cfg.data.dataset : t->cfg.data.text);
    lilm_eval_finish(&e, v->loss * (double)v->tokens, v->tokens, v->bytes);
    lilm_probe_report pr;
    lilm_trainer_probe_report(t, &pr);
    char extra[1024];
    int n = snprintf(extra, sizeof extra, "\"steps\": %lld,\n  \"train_tokens\": %lld,\n  \"budget_s\": %.3f,\n  \"elapsed_s\": %.3f",
                     (long long)t->state.step, (long long)t->state.tokens, pr.budget_s, t->state.elapsed_s);
    if (pr.valid && n > 0 && (size_t)n < sizeof extra)
        snprintf(extra + n, sizeof extra - (size_t)n,
                 ",\n  \"probe_step_s\": %.6f,\n  \"probe_estimated_steps\": %lld,\n  \"probe_estimated_wall_s\": %.3f,\n  \"probe_miss_s\": %.3f",
                 pr.probe_step_s, (long long)pr.est_steps, pr.est_wall_s, pr.miss_s);
    char path[LILM_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/eval.json", t->dir);
    return lilm_eval_write_json(path, &e, extra);
}

/* ---- the loop ---- */

static int stop_requested(const lilm_trainer *t)
{
    if (t->opts.stop && *t->opts.stop) return 1;
    return t->opts.stop_after_steps > 0 && t->state.step >= t->opts.stop_after_steps;
}

/* The training loop's state across steps. */
typedef struct run_loop {
    double budget_s;
    int steps_mode;
    int64_t start_step;        /* the step this session started from */
    double probe_t0;           /* start of the timing probe */
    double last_step_s, tps;   /* the last step's time and throughput */
    lilm_eval_result val;      /* the latest validation */
    int have_val;
    int diverged;              /* a non-finite loss: the weights are not to be kept */
} run_loop;

enum { PROBE_SKIP = 2, PROBE_LEN = 10 }; /* warm-up steps, then the timing probe */

/* Where training stops in a time budget: the end less the reserve for the
 * final validation and checkpoints (at most half the budget). */
static double train_end_s(lilm_trainer *t, const run_loop *L)
{
    if (!L->steps_mode) {
        t->reserve_s = end_reserve(t, L->last_step_s);
        if (t->reserve_s > 0.5 * L->budget_s) t->reserve_s = 0.5 * L->budget_s;
    }
    return L->budget_s - t->reserve_s;
}

/* The learning rate at this point of the schedule: by step, or by elapsed time. */
static double schedule_lr(const lilm_trainer *t, const run_loop *L, double el, double train_end)
{
    double last = (double)(t->state.total_steps - 1);
    double pos = L->steps_mode ? (double)t->state.step : el / train_end * t->opts.schedule_fraction * last;
    if (pos > last) pos = last;
    return lilm_schedule_lr(&t->sched, pos);
}

/* One optimizer step, its metrics line and the timing probe. */
static lilm_status train_one_step(lilm_trainer *t, run_loop *L, double lr, lilm_step_result *res)
{
    double ts = lilm_progress_clock();
    lilm_model_set_step(&t->model, t->state.step); /* qr_truncation draws its Omega per step */
    LILM_TRY(lilm_train_step(&t->model, &t->opt, &t->guard, &t->src, t->n_micro, lr, t->opts.dist, res));
    double dt = lilm_progress_clock() - ts;
    L->last_step_s = dt;
    t->state.step++;
    t->state.tokens += res->tokens;
    L->tps = dt > 0 ? (double)res->tokens / dt : 0;
    int64_t done = t->state.step - L->start_step;
    if (done == PROBE_SKIP) L->probe_t0 = lilm_progress_clock();
    if (done == PROBE_SKIP + PROBE_LEN && t->probe_step_s == 0)
        t->probe_step_s = (lilm_progress_clock() - L->probe_t0) / PROBE_LEN;
    LILM_TRY(metric_line(t, "train", lr, res->loss, res->stats.grad_norm, L->tps, NULL));
    if (res->n_skipped && is_root(t))
        fprintf(stderr, "\nlilm: step %lld: skipped %d micro-batch(es) with a loss spike\n", (long long)t->state.step,
                res->n_skipped);
    if (!isfinite(res->loss)) {
        L->diverged = 1;
        return lilm_errorf(LILM_ERR_INTERNAL, "the loss is not finite at step %lld; the last checkpoint is the one "
                           "before it\nHINT: lower train.lr", (long long)t->state.step);
    }
    return LILM_OK;
}

/* What is due after a step: a validation (and the best checkpoint), the periodic checkpoint. */
static lilm_status after_step(lilm_trainer *t, run_loop *L, double lr)
{
    const lilm_train_config *tc = &t->cfg.train;
    double now_rel = lilm_progress_clock() - t->t0;
    LILM_TRY(agree(t, &now_rel, 1, 0)); /* data parallel: rank 0's clock decides */
    /* in time mode, validate once right after the timing probe, so that the
     * time reserved for the final validation comes from a measurement, and
     * again every eighth of the budget without a validation (the machine's
     * speed may change: a shared CPU) */
    int calibrate = !L->steps_mode &&
                    ((t->val_batch_s == 0 && t->state.step - L->start_step == PROBE_SKIP + PROBE_LEN) ||
                     (t->val_batch_s > 0 && now_rel - t->last_val_t >= L->budget_s / 8));
    int val_due_regular = (tc->val_every > 0 && t->state.step % tc->val_every == 0) ||
                          (tc->val_every_seconds > 0 && now_rel - t->last_val_t >= tc->val_every_seconds);
    if (calibrate || val_due_regular) {
        /* the calibration needs a timing, not a score: a few batches do */
        LILM_TRY(validate_upto(t, 0, calibrate && !val_due_regular ? 2 : tc->val_batches, &L->val));
        L->have_val = 1;
        t->last_val_t = lilm_progress_clock() - t->t0;
        LILM_TRY(metric_line(t, "val", lr, 0, 0, 0, &L->val));
        if (L->val.loss < t->state.best_val_loss) {
            t->state.best_val_loss = L->val.loss;
            LILM_TRY(save(t, "best"));
        }
    }
    if (tc->checkpoint_every_seconds > 0 && now_rel - t->last_ckpt_t >= tc->checkpoint_every_seconds) {
        t->last_ckpt_t = now_rel;
        LILM_TRY(save(t, "last"));
    }
    return LILM_OK;
}

static void show_progress(const lilm_trainer *t, const run_loop *L, lilm_progress *prog, double loss, double lr)
{
    char valtxt[32] = "", lefttxt[32] = "";
    if (L->have_val) snprintf(valtxt, sizeof valtxt, "  val %.4f", L->val.loss);
    if (!L->steps_mode) snprintf(lefttxt, sizeof lefttxt, "  %.0fs left", fmax(0.0, L->budget_s - elapsed(t)));
    if (!is_root(t)) return;
    lilm_progress_update(prog, t->state.step);
    lilm_progress_status(prog, "loss %.4f%s  lr %.2e  %.0f tok/s%s", loss, valtxt, lr, L->tps, lefttxt);
}

/* A run that ended within its budget: the final validation, checkpoints,
 * eval.json, run.json and samples.txt. */
static lilm_status finish_run(lilm_trainer *t, run_loop *L)
{
    double tf0 = lilm_progress_clock();
    LILM_TRY(lilm_trainer_validate(t, !t->opts.lite, &L->val));
    t->final_val_s = lilm_progress_clock() - tf0;
    L->have_val = 1;
    t->final_val = L->val;
    t->have_final_val = 1;
    LILM_TRY(metric_line(t, "val", 0, 0, 0, 0, &L->val));
    LILM_TRY(save(t, "last"));
    LILM_TRY(save(t, "final"));
    LILM_TRY(check_ranks_agree(t));
    t->state.elapsed_s = elapsed(t);
    if (!t->opts.lite) LILM_TRY(write_eval_json(t, &L->val));
    LILM_TRY(write_run_json(t, "done", &L->val));
    if (t->opts.lite || t->opts.no_samples || !is_root(t)) return LILM_OK;
    double ss = 0;
    int64_t nt = 0;
    if (write_samples(t, &ss, &nt) != LILM_OK)
        fprintf(stderr, "lilm: warning: samples.txt not written: %s\n", lilm_last_error());
    else if (!t->opts.quiet)
        fprintf(stderr, "lilm: samples.txt: %lld tokens in %.2f s (%.0f tokens/s, KV cache)\n", (long long)nt, ss,
                ss > 0 ? (double)nt / ss : 0.0);
    return LILM_OK;
}

/* A run that failed: the last checkpoint and a "failed" run.json, keeping the first error. */
static lilm_status fail_run(lilm_trainer *t, const run_loop *L, lilm_status st)
{
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", lilm_last_error());
    if (!L->diverged) save(t, "last");
    write_run_json(t, "failed", L->have_val ? &L->val : NULL);
    return lilm_errorf(st, "%s", msg);
}

lilm_status lilm_trainer_run(lilm_trainer *t)
{
    const lilm_config *c = &t->cfg;
    run_loop L;
    memset(&L, 0, sizeof L);
    L.budget_s = c->budget.minutes * 60.0;
    L.steps_mode = c->budget.mode == LILM_BUDGET_STEPS;
    L.start_step = t->state.step;
    lilm_progress prog;
    lilm_progress_init(&prog, "train", "steps", L.steps_mode ? c->train.steps : 0);
    prog.quiet = prog.quiet || t->opts.quiet;
    t->t0 = lilm_progress_clock();
    t->elapsed_base = t->state.elapsed_s;
    t->last_val_t = t->last_ckpt_t = 0;
    lilm_status st = LILM_OK;
    const char *final_status = "done";
    for (;;) {
        double el = elapsed(t);
        double train_end = train_end_s(t, &L);
        /* data parallel: rank 0's clock and reserve, and a stop asked of any rank */
        double sync[3] = {el, train_end, stop_requested(t)};
        if ((st = agree(t, sync, 2, 1)) != LILM_OK) break;
        el = sync[0];
        train_end = sync[1];
        if (L.steps_mode ? t->state.step >= c->train.steps : el >= train_end) break;
        if (sync[2] > 0) {
            final_status = "killed";
            break;
        }
        double lr = schedule_lr(t, &L, el, train_end);
        lilm_step_result res;
        if ((st = train_one_step(t, &L, lr, &res)) != LILM_OK) break;
        if ((st = after_step(t, &L, lr)) != LILM_OK) break;
        show_progress(t, &L, &prog, res.loss, lr);
    }
    lilm_progress_finish(&prog);
    t->state.elapsed_s = elapsed(t);
    if (st != LILM_OK) return fail_run(t, &L, st);
    if (strcmp(final_status, "done") == 0) return finish_run(t, &L);
    LILM_TRY(save(t, "last"));
    return write_run_json(t, final_status, L.have_val ? &L.val : NULL);
}

void lilm_trainer_print_summary(const lilm_trainer *t, const char *cmd, int stopped, FILE *f)
{
    fprintf(f, "lilm %s: %s after %lld steps, %lld tokens, %.1f s", cmd,
            stopped ? "stopped (checkpoint saved)" : "done", (long long)t->state.step, (long long)t->state.tokens,
            t->state.elapsed_s);
    if (t->cfg.budget.mode == LILM_BUDGET_TIME) fprintf(f, " of a %.1f s budget", t->cfg.budget.minutes * 60.0);
    fputc('\n', f);
    if (t->have_final_val)
        fprintf(f, "lilm %s: %s validation: loss %.4f, %.4f bits per byte over %lld tokens, %lld bytes (%.1f s)\n",
                cmd, t->final_val.full ? "full" : "partial", t->final_val.loss, t->final_val.bpb,
                (long long)t->final_val.tokens, (long long)t->final_val.bytes, t->final_val_s);
    lilm_probe_report p;
    lilm_trainer_probe_report(t, &p);
    if (p.valid && t->cfg.budget.mode == LILM_BUDGET_TIME)
        fprintf(f, "lilm %s: the reference's timing probe (%.3f s/step) would have planned %lld steps: "
                        "%.1f s, %+.1f s (%+.1f%%) off the budget\n",
                cmd, p.probe_step_s, (long long)p.est_steps, p.est_wall_s, p.miss_s,
                p.budget_s > 0 ? 100.0 * p.miss_s / p.budget_s : 0.0);
}
