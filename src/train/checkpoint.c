/*
 * checkpoint.c: saving and loading weights, optimizer state and run state.
 *
 * Write order (see checkpoint.h): NAME.optim.next, NAME.safetensors,
 * rename NAME.optim.next -> NAME.optim.safetensors. Each file is written
 * atomically by the safetensors writer. The run state travels as JSON in the
 * "lilm_state" metadata of both files so a loader can tell whether they
 * belong together.
 */
#include "train/checkpoint.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/json.h"
#include "core/safetensors.h"

static const char *norm_name(lilm_norm_kind k)
{
    return k == LILM_NORM_LAYER ? "layernorm" : k == LILM_NORM_NONE ? "none" : "rmsnorm";
}

static const char *act_name(lilm_act k)
{
    const lilm_act_desc *d = lilm_act_info(k);
    return d ? d->config_name : "gelu";
}

lilm_status lilm_model_config_to_json(const lilm_model_config *mc, char *buf, size_t cap)
{
    int n = snprintf(buf, cap,
                     "{\"vocab_size\": %lld, \"d_model\": %lld, \"n_layers\": %lld, \"n_heads\": %lld, "
                     "\"qk_dim\": %lld, \"v_dim\": %lld, \"ffn_dim\": %lld, \"context\": %lld, "
                     "\"latent_dim\": %lld, \"norm\": \"%s\", \"activation\": \"%s\", \"rope_base\": %.17g, "
                     "\"norm_eps\": %.17g, \"pad_id\": %lld}",
                     (long long)mc->vocab_size, (long long)mc->d_model, (long long)mc->n_layers,
                     (long long)mc->n_heads, (long long)mc->qk_dim, (long long)mc->v_dim, (long long)mc->ffn_dim,
                     (long long)mc->context, (long long)mc->latent_dim, norm_name(mc->norm),
                     act_name(mc->activation), mc->rope_base, mc->norm_eps, (long long)mc->pad_id);
    if (n < 0 || (size_t)n >= cap) return lilm_errorf(LILM_ERR_INTERNAL, "model config JSON too long");
    return LILM_OK;
}

lilm_status lilm_model_config_from_json(const char *json, lilm_model_config *mc)
{
    lilm_json *j = NULL;
    LILM_TRY(lilm_json_parse(&j, json, strlen(json), "lilm_model metadata"));
    memset(mc, 0, sizeof *mc);
    struct { const char *key; int64_t *dst; int required; } ints[] = {
        {"vocab_size", &mc->vocab_size, 1}, {"d_model", &mc->d_model, 1}, {"n_layers", &mc->n_layers, 1},
        {"n_heads", &mc->n_heads, 1}, {"qk_dim", &mc->qk_dim, 1}, {"v_dim", &mc->v_dim, 1},
        {"ffn_dim", &mc->ffn_dim, 1}, {"context", &mc->context, 1}, {"latent_dim", &mc->latent_dim, 0},
        {"pad_id", &mc->pad_id, 0},
    };
    lilm_status st = LILM_OK;
    mc->pad_id = 3;
    for (size_t i = 0; i < sizeof ints / sizeof ints[0] && st == LILM_OK; i++)
        if (!lilm_json_get_int(j, ints[i].key, ints[i].dst) && ints[i].required)
            st = lilm_errorf(LILM_ERR_FORMAT, "lilm_model metadata lacks \"%s\"", ints[i].key);
    mc->rope_base = 10000;
    lilm_json_get_num(j, "rope_base", &mc->rope_base);
    lilm_json_get_num(j, "norm_eps", &mc->norm_eps);
    const char *norm = lilm_json_get_str(j, "norm"), *act = lilm_json_get_str(j, "activation");
    if (st == LILM_OK) {
        if (!norm || strcmp(norm, "rmsnorm") == 0) mc->norm = LILM_NORM_RMS;
        else if (strcmp(norm, "layernorm") == 0) mc->norm = LILM_NORM_LAYER;
        else if (strcmp(norm, "none") == 0) mc->norm = LILM_NORM_NONE;
        else st = lilm_errorf(LILM_ERR_FORMAT, "lilm_model metadata: unknown norm \"%s\"", norm);
    }
    if (st == LILM_OK) {
        if (!act) mc->activation = LILM_ACT_GELU;
        else if (!lilm_act_from_name(act, &mc->activation)) st = lilm_errorf(LILM_ERR_FORMAT, "lilm_model metadata: unknown activation \"%s\"", act);
    }
    lilm_json_free(j);
    return st;
}

/* ---- run state as JSON ---- */

static lilm_status state_to_json(const lilm_run_state *s, char **out)
{
    lilm_json_writer w;
    lilm_json_writer_init(&w, 0);
    lilm_json_begin_object(&w);
    lilm_json_key(&w, "step"); lilm_json_int(&w, s->step);
    lilm_json_key(&w, "tokens"); lilm_json_int(&w, s->tokens);
    lilm_json_key(&w, "elapsed_s"); lilm_json_double(&w, s->elapsed_s);
    lilm_json_key(&w, "total_steps"); lilm_json_int(&w, s->total_steps);
    lilm_json_key(&w, "best_val_loss");
    if (isfinite(s->best_val_loss)) lilm_json_double(&w, s->best_val_loss); else lilm_json_null(&w);
    /* 64-bit RNG words as strings: JSON numbers are doubles in most readers */
    char buf[32];
    lilm_json_key(&w, "rng");
    lilm_json_begin_array(&w);
    for (int i = 0; i < 4; i++) { snprintf(buf, sizeof buf, "%llu", (unsigned long long)s->data.rng[i]); lilm_json_str(&w, buf); }
    lilm_json_end_array(&w);
    if (s->data.has_loader) {
        lilm_json_key(&w, "cursor");
        lilm_json_begin_object(&w);
        lilm_json_key(&w, "rng");
        lilm_json_begin_array(&w);
        for (int i = 0; i < 4; i++) {
            snprintf(buf, sizeof buf, "%llu", (unsigned long long)s->data.loader.rng_state[i]);
            lilm_json_str(&w, buf);
        }
        lilm_json_end_array(&w);
        lilm_json_key(&w, "epoch"); lilm_json_int(&w, s->data.loader.epoch);
        lilm_json_key(&w, "position"); lilm_json_int(&w, s->data.loader.position);
        lilm_json_key(&w, "buffered"); lilm_json_int(&w, s->data.loader.buffered);
        lilm_json_end_object(&w);
    }
    lilm_json_key(&w, "spike_head"); lilm_json_int(&w, s->spike_head);
    lilm_json_key(&w, "spike_window");
    lilm_json_begin_array(&w);
    for (int i = 0; i < s->spike_n && i < LILM_STATE_WINDOW_MAX; i++) {
        /* exact round trip of doubles: %.17g inside a string */
        snprintf(buf, sizeof buf, "%.17g", s->spike_window[i]);
        lilm_json_str(&w, buf);
    }
    lilm_json_end_array(&w);
    lilm_json_end_object(&w);
    size_t n = 0;
    return lilm_json_writer_finish(&w, out, &n);
}

static lilm_status parse_u64_array(const lilm_json *arr, uint64_t *dst, int n, const char *what)
{
    if (!arr || arr->type != LILM_JSON_ARRAY || (int)arr->n != n)
        return lilm_errorf(LILM_ERR_FORMAT, "run state: \"%s\" must be an array of %d strings", what, n);
    for (int i = 0; i < n; i++) {
        if (arr->items[i].type != LILM_JSON_STRING)
            return lilm_errorf(LILM_ERR_FORMAT, "run state: \"%s\" must hold strings", what);
        char *end = NULL;
        dst[i] = strtoull(arr->items[i].str, &end, 10);
        if (!end || *end) return lilm_errorf(LILM_ERR_FORMAT, "run state: bad number in \"%s\"", what);
    }
    return LILM_OK;
}

static lilm_status state_from_json(const char *text, lilm_run_state *s)
{
    lilm_json *j = NULL;
    LILM_TRY(lilm_json_parse(&j, text, strlen(text), "lilm_state metadata"));
    memset(s, 0, sizeof *s);
    lilm_status st = LILM_OK;
    if (!lilm_json_get_int(j, "step", &s->step) || !lilm_json_get_int(j, "tokens", &s->tokens) ||
        !lilm_json_get_num(j, "elapsed_s", &s->elapsed_s) || !lilm_json_get_int(j, "total_steps", &s->total_steps))
        st = lilm_errorf(LILM_ERR_FORMAT, "run state lacks step/tokens/elapsed_s/total_steps");
    s->best_val_loss = INFINITY;
    lilm_json_get_num(j, "best_val_loss", &s->best_val_loss);
    if (st == LILM_OK) st = parse_u64_array(lilm_json_get(j, "rng"), s->data.rng, 4, "rng");
    const lilm_json *cur = lilm_json_get(j, "cursor");
    if (st == LILM_OK && cur) {
        s->data.has_loader = 1;
        st = parse_u64_array(lilm_json_get(cur, "rng"), s->data.loader.rng_state, 4, "cursor.rng");
        if (st == LILM_OK && (!lilm_json_get_int(cur, "epoch", &s->data.loader.epoch) ||
                              !lilm_json_get_int(cur, "position", &s->data.loader.position) ||
                              !lilm_json_get_int(cur, "buffered", &s->data.loader.buffered)))
            st = lilm_errorf(LILM_ERR_FORMAT, "run state: incomplete cursor");
    }
    int64_t head = 0;
    lilm_json_get_int(j, "spike_head", &head);
    s->spike_head = (int)head;
    const lilm_json *win = lilm_json_get(j, "spike_window");
    if (st == LILM_OK && win && win->type == LILM_JSON_ARRAY) {
        for (size_t i = 0; i < win->n && i < LILM_STATE_WINDOW_MAX; i++) {
            if (win->items[i].type != LILM_JSON_STRING) {
                st = lilm_errorf(LILM_ERR_FORMAT, "run state: bad spike window");
                break;
            }
            s->spike_window[i] = strtod(win->items[i].str, NULL);
            s->spike_n = (int)i + 1;
        }
    }
    lilm_json_free(j);
    return st;
}

/* ---- saving ---- */

static lilm_status download(const lilm_model *m, const float *dev, size_t numel, float **host)
{
    size_t bytes = numel * sizeof(float);
    *host = malloc(bytes ? bytes : 1);
    if (!*host) return lilm_errorf(LILM_ERR_OOM, "out of memory saving a checkpoint");
    lilm_status st = m->be->download(m->be, *host, dev, bytes);
    if (st == LILM_OK) st = m->be->sync(m->be);
    if (st != LILM_OK) {
        free(*host);
        *host = NULL;
    }
    return st;
}

/* Adds the tensors of `host` (laid out as `params`/`offsets`) named prefix + parameter name. */
static lilm_status add_tensors(lilm_st_writer *w, const lilm_model *m, const float *host, const char *prefix,
                               const int *params, const size_t *offsets, int n)
{
    char name[LILM_PARAM_NAME_MAX + 8];
    for (int k = 0; k < n; k++) {
        const lilm_param *p = &m->params[params ? params[k] : k];
        snprintf(name, sizeof name, "%s%s", prefix, p->name);
        LILM_TRY(lilm_st_writer_add(w, name, LILM_ST_F32, p->ndim, p->shape, host + (offsets ? offsets[k] : p->offset)));
    }
    return LILM_OK;
}

/* The optimizer's named state: each group's slots as tensors, its counters as
 * metadata. The writer keeps pointers to the tensors' data: the host copies
 * are handed back in *hosts (n_hosts of them) to free after the write. */
static lilm_status add_optimizer_state(lilm_st_writer *w, const lilm_model *m, const lilm_optimizer *opt,
                                       float ***hosts, int *n_hosts)
{
    *n_hosts = 0;
    *hosts = calloc((size_t)opt->n_groups * LILM_OPTIM_SLOTS_MAX + 1, sizeof **hosts);
    if (!*hosts) return lilm_errorf(LILM_ERR_OOM, "out of memory saving a checkpoint");
    lilm_status st = LILM_OK;
    for (int gi = 0; gi < opt->n_groups && st == LILM_OK; gi++) {
        const lilm_optim_group *g = &opt->groups[gi];
        for (int s = 0; s < g->kind->n_slots && st == LILM_OK; s++) {
            float *host = NULL;
            st = download(m, g->slots[s].block, g->numel, &host);
            if (st == LILM_OK) (*hosts)[(*n_hosts)++] = host;
            if (st == LILM_OK) st = add_tensors(w, m, host, g->slots[s].prefix, g->params, g->offsets, g->n);
        }
        for (int c = 0; c < g->kind->n_counters && st == LILM_OK; c++) {
            char buf[32];
            snprintf(buf, sizeof buf, "%lld", (long long)g->counters[c].value);
            st = lilm_st_writer_add_metadata(w, g->counters[c].name, buf);
        }
    }
    return st;
}

static lilm_status write_weights(const char *path, const lilm_model *m, const lilm_config *cfg, const char *state_json)
{
    float *host = NULL;
    LILM_TRY(download(m, m->param_block, m->n_elems, &host));
    lilm_st_writer *w = NULL;
    char mjson[1024];
    lilm_status st = lilm_st_writer_init(&w);
    if (st == LILM_OK) st = add_tensors(w, m, host, "", NULL, NULL, m->n_params);
    if (st == LILM_OK) st = lilm_model_config_to_json(&m->cfg, mjson, sizeof mjson);
    if (st == LILM_OK) st = lilm_st_writer_add_metadata(w, "lilm_model", mjson);
    if (st == LILM_OK) st = lilm_st_writer_add_metadata(w, "format", "pt");
    if (st == LILM_OK && cfg) {
        char *yaml = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&yaml, &n);
        if (!f) st = lilm_errorf(LILM_ERR_OOM, "out of memory");
        else {
            st = lilm_config_write_yaml(cfg, f);
            fclose(f);
        }
        if (st == LILM_OK) st = lilm_st_writer_add_metadata(w, "lilm_config", yaml);
        free(yaml);
    }
    if (st == LILM_OK && state_json) st = lilm_st_writer_add_metadata(w, "lilm_state", state_json);
    if (st == LILM_OK) st = lilm_st_writer_write(w, path);
    lilm_st_writer_free(w);
    free(host);
    return st;
}

lilm_status lilm_weights_save(const char *path, const lilm_model *m) { return write_weights(path, m, NULL, NULL); }

lilm_status lilm_checkpoint_save(const char *dir, const char *name, const lilm_model *m,
                                 const lilm_optimizer *opt, const lilm_config *cfg,
                                 const lilm_run_state *state)
{
    char wpath[LILM_PATH_MAX + 64], opath[LILM_PATH_MAX + 64], next[LILM_PATH_MAX + 64];
    snprintf(wpath, sizeof wpath, "%s/%s.safetensors", dir, name);
    snprintf(opath, sizeof opath, "%s/%s.optim.safetensors", dir, name);
    snprintf(next, sizeof next, "%s/%s.optim.next", dir, name);
    char *sjson = NULL;
    LILM_TRY(state_to_json(state, &sjson));
    lilm_status st = LILM_OK;
    int next_written = 0;
    if (opt) {
        lilm_st_writer *w = NULL;
        float **hosts = NULL;
        int n_hosts = 0;
        st = lilm_st_writer_init(&w);
        if (st == LILM_OK) st = add_optimizer_state(w, m, opt, &hosts, &n_hosts);
        if (st == LILM_OK) st = lilm_st_writer_add_metadata(w, "lilm_state", sjson);
        if (st == LILM_OK) st = lilm_st_writer_write(w, next);
        next_written = st == LILM_OK;
        lilm_st_writer_free(w);
        for (int i = 0; i < n_hosts; i++) free(hosts[i]);
        free(hosts);
    }
    if (st == LILM_OK) st = write_weights(wpath, m, cfg, sjson);
    if (st == LILM_OK && opt && rename(next, opath) != 0)
        st = lilm_errorf(LILM_ERR_IO, "cannot move %s into place", next);
    else if (st != LILM_OK && next_written)
        unlink(next); /* it belongs to weights that were not written: it can never match, only fill the disk */
    free(sjson);
    if (st != LILM_OK) lilm_error_context(st, "saving checkpoint %s/%s: ", dir, name);
    return st;
}

/* ---- loading ---- */

lilm_status lilm_checkpoint_read_config(const char *weights_path, lilm_model_config *mc, lilm_config *cfg)
{
    lilm_st_file *f = NULL;
    LILM_TRY(lilm_st_open(&f, weights_path));
    const char *mj = lilm_st_metadata_get(f, "lilm_model");
    lilm_status st = LILM_OK;
    if (!mj)
        st = lilm_errorf(LILM_ERR_FORMAT, "%s has no \"lilm_model\" metadata\nHINT: it was not written by lilm; pass the model config explicitly",
                         weights_path);
    if (st == LILM_OK) st = lilm_model_config_from_json(mj, mc);
    if (st == LILM_OK && cfg) {
        lilm_config_defaults(cfg);
        const char *yaml = lilm_st_metadata_get(f, "lilm_config");
        if (yaml) st = lilm_config_load_yaml_string(cfg, weights_path, yaml, strlen(yaml));
        cfg->model = *mc;
    }
    lilm_st_close(f);
    return st;
}

/* Reads the tensors prefix + parameter name into a host block laid out as params/offsets, then uploads it. */
static lilm_status upload_tensors(const lilm_st_file *f, lilm_model *m, float *dev, size_t numel, const char *prefix,
                                  const int *params, const size_t *offsets, int n, const char *path)
{
    float *host = malloc(numel ? numel * sizeof(float) : 1);
    if (!host) return lilm_errorf(LILM_ERR_OOM, "out of memory loading %s", path);
    char name[LILM_PARAM_NAME_MAX + 8];
    lilm_status st = LILM_OK;
    for (int k = 0; k < n && st == LILM_OK; k++) {
        const lilm_param *p = &m->params[params ? params[k] : k];
        snprintf(name, sizeof name, "%s%s", prefix, p->name);
        const lilm_st_tensor *t = NULL;
        st = lilm_st_expect(f, name, LILM_ST_F32, p->ndim, p->shape, &t);
        if (st != LILM_OK) lilm_error_context(st, "%s: ", path);
        else memcpy(host + (offsets ? offsets[k] : p->offset), t->data, p->numel * sizeof(float));
    }
    if (st == LILM_OK) st = m->be->upload(m->be, dev, host, numel * sizeof(float));
    if (st == LILM_OK) st = m->be->sync(m->be);
    free(host);
    return st;
}

/* Restores the optimizer's named state; a counter missing from the file is the run's step. */
static lilm_status load_optimizer_state(const lilm_st_file *f, lilm_model *m, lilm_optimizer *opt, int64_t step,
                                        const char *path)
{
    for (int gi = 0; gi < opt->n_groups; gi++) {
        lilm_optim_group *g = &opt->groups[gi];
        for (int s = 0; s < g->kind->n_slots; s++)
            LILM_TRY(upload_tensors(f, m, g->slots[s].block, g->numel, g->slots[s].prefix, g->params, g->offsets,
                                    g->n, path));
        for (int c = 0; c < g->kind->n_counters; c++) {
            const char *v = lilm_st_metadata_get(f, g->counters[c].name);
            g->counters[c].value = v ? strtoll(v, NULL, 10) : step;
        }
    }
    return LILM_OK;
}

lilm_status lilm_checkpoint_load(const char *weights_path, lilm_model *m, lilm_optimizer *opt,
                                 lilm_run_state *state)
{
    lilm_st_file *wf = NULL, *of = NULL;
    LILM_TRY(lilm_st_open(&wf, weights_path));
    lilm_status st = upload_tensors(wf, m, m->param_block, m->n_elems, "", NULL, NULL, m->n_params, weights_path);
    lilm_run_state ws;
    const char *sj = lilm_st_metadata_get(wf, "lilm_state");
    if (st == LILM_OK && (state || opt)) {
        if (!sj) st = lilm_errorf(LILM_ERR_FORMAT, "%s has no run state: it cannot be resumed from", weights_path);
        else st = state_from_json(sj, &ws);
    }
    if (st == LILM_OK && opt) {
        /* the optimizer file: NAME.optim.next if it matches (a save interrupted
         * before its last rename), else NAME.optim.safetensors */
        char base[LILM_PATH_MAX + 64], opath[LILM_PATH_MAX + 80], next[LILM_PATH_MAX + 80];
        snprintf(base, sizeof base, "%s", weights_path);
        char *dot = strstr(base, ".safetensors");
        if (dot) *dot = '\0';
        snprintf(opath, sizeof opath, "%s.optim.safetensors", base);
        snprintf(next, sizeof next, "%s.optim.next", base);
        const char *chosen = NULL;
        for (int pass = 0; pass < 2 && st == LILM_OK && !chosen; pass++) {
            const char *cand = pass == 0 ? next : opath;
            if (!lilm_path_exists(cand)) continue;
            lilm_st_file *f = NULL;
            if (lilm_st_open(&f, cand) != LILM_OK) continue;
            lilm_run_state os;
            const char *oj = lilm_st_metadata_get(f, "lilm_state");
            if (oj && state_from_json(oj, &os) == LILM_OK && os.step == ws.step) {
                of = f;
                chosen = cand;
            } else {
                lilm_st_close(f);
            }
        }
        if (st == LILM_OK && !chosen)
            st = lilm_errorf(LILM_ERR_MISMATCH, "no optimizer state matching step %lld of %s\nHINT: the run cannot be resumed exactly; start a new run from its weights",
                             (long long)ws.step, weights_path);
        if (st == LILM_OK) st = load_optimizer_state(of, m, opt, ws.step, chosen);
        if (st == LILM_OK && chosen == next && rename(next, opath) != 0)
            st = lilm_errorf(LILM_ERR_IO, "cannot move %s into place", next);
    }
    if (st == LILM_OK && state) *state = ws;
    if (of) lilm_st_close(of);
    lilm_st_close(wf);
    if (st == LILM_OK) lilm_model_sync_weights(m);
    return st;
}
