/*
 * checkpoint.c: saving and loading weights and the named training state.
 *
 * Write order (see checkpoint.h): NAME.optim.next, NAME.safetensors,
 * rename NAME.optim.next -> NAME.optim.safetensors. Each file is written
 * atomically by the safetensors writer. The run state travels as JSON in the
 * "lilm_state" metadata of both files so a loader can tell whether they
 * belong together (their "step" agrees).
 */
#include "model/checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/json.h"
#include "core/safetensors.h"
#include "model/model_config_json.h"

/* ---- saving ---- */

static lilm_status download(const lilm_model *m, const float *dev, size_t numel, float **host)
{
    size_t bytes = numel * sizeof(float);
    *host = malloc(bytes ? bytes : 1);
    if (!*host) return lilm_errorf(LILM_ERR_OOM, "out of memory saving a checkpoint");
    lilm_status st = m->be->ops->download(m->be, *host, dev, bytes);
    if (st == LILM_OK) st = m->be->ops->sync(m->be);
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

/* The named state: its arrays as tensors, its counters as metadata. The
 * writer keeps pointers to the tensors' data: the host copies are handed back
 * in hosts[0..n_arrays) to free after the write. */
static lilm_status add_named_state(lilm_st_writer *w, const lilm_model *m, const lilm_named_state *ns, float **hosts)
{
    lilm_status st = LILM_OK;
    for (int a = 0; a < ns->n_arrays && st == LILM_OK; a++) {
        const lilm_state_array *x = &ns->arrays[a];
        st = download(m, x->block, x->numel, &hosts[a]);
        if (st == LILM_OK) st = add_tensors(w, m, hosts[a], x->prefix, x->params, x->offsets, x->n);
    }
    for (int c = 0; c < ns->n_counters && st == LILM_OK; c++) {
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", (long long)*ns->counters[c].value);
        st = lilm_st_writer_add_metadata(w, ns->counters[c].name, buf);
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

lilm_status lilm_checkpoint_save(const char *dir, const char *name, const lilm_model *m, const lilm_named_state *ns,
                                 const lilm_config *cfg, const char *state_json)
{
    char wpath[LILM_PATH_MAX + 64], opath[LILM_PATH_MAX + 64], next[LILM_PATH_MAX + 64];
    snprintf(wpath, sizeof wpath, "%s/%s.safetensors", dir, name);
    snprintf(opath, sizeof opath, "%s/%s.optim.safetensors", dir, name);
    snprintf(next, sizeof next, "%s/%s.optim.next", dir, name);
    lilm_status st = LILM_OK;
    int next_written = 0;
    if (ns) {
        lilm_st_writer *w = NULL;
        float *hosts[LILM_STATE_ARRAYS_MAX] = {0};
        st = lilm_st_writer_init(&w);
        if (st == LILM_OK) st = add_named_state(w, m, ns, hosts);
        if (st == LILM_OK && state_json) st = lilm_st_writer_add_metadata(w, "lilm_state", state_json);
        if (st == LILM_OK) st = lilm_st_writer_write(w, next);
        next_written = st == LILM_OK;
        lilm_st_writer_free(w);
        for (int i = 0; i < LILM_STATE_ARRAYS_MAX; i++) free(hosts[i]);
    }
    if (st == LILM_OK) st = write_weights(wpath, m, cfg, state_json);
    if (st == LILM_OK && ns && rename(next, opath) != 0)
        st = lilm_errorf(LILM_ERR_IO, "cannot move %s into place", next);
    else if (st != LILM_OK && next_written)
        unlink(next); /* it belongs to weights that were not written: it can never match, only fill the disk */
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
    if (st == LILM_OK) st = m->be->ops->upload(m->be, dev, host, numel * sizeof(float));
    if (st == LILM_OK) st = m->be->ops->sync(m->be);
    free(host);
    return st;
}

/* Restores the named state; a counter missing from the file is the run's step. */
static lilm_status load_named_state(const lilm_st_file *f, lilm_model *m, lilm_named_state *ns, int64_t step,
                                    const char *path)
{
    for (int a = 0; a < ns->n_arrays; a++) {
        lilm_state_array *x = &ns->arrays[a];
        LILM_TRY(upload_tensors(f, m, x->block, x->numel, x->prefix, x->params, x->offsets, x->n, path));
    }
    for (int c = 0; c < ns->n_counters; c++) {
        const char *v = lilm_st_metadata_get(f, ns->counters[c].name);
        *ns->counters[c].value = v ? strtoll(v, NULL, 10) : step;
    }
    return LILM_OK;
}

/* The "step" of a "lilm_state" JSON text (-1 if it has none). */
static int64_t state_step(const char *json)
{
    lilm_json *j = NULL;
    int64_t step = -1;
    if (json && lilm_json_parse(&j, json, strlen(json), "lilm_state metadata") == LILM_OK &&
        !lilm_json_get_int(j, "step", &step))
        step = -1;
    lilm_json_free(j);
    return step;
}

lilm_status lilm_checkpoint_load(const char *weights_path, lilm_model *m, lilm_named_state *ns, char **state_json)
{
    if (state_json) *state_json = NULL;
    lilm_st_file *wf = NULL, *of = NULL;
    LILM_TRY(lilm_st_open(&wf, weights_path));
    lilm_status st = upload_tensors(wf, m, m->param_block, m->n_elems, "", NULL, NULL, m->n_params, weights_path);
    const char *sj = lilm_st_metadata_get(wf, "lilm_state");
    int64_t step = state_step(sj);
    if (st == LILM_OK && (ns || state_json) && step < 0)
        st = lilm_errorf(LILM_ERR_FORMAT, "%s has no run state: it cannot be resumed from", weights_path);
    if (st == LILM_OK && ns) {
        /* the state file: NAME.optim.next if it matches (a save interrupted
         * before its last rename), else NAME.optim.safetensors */
        char base[LILM_PATH_MAX + 64], opath[LILM_PATH_MAX + 80], next[LILM_PATH_MAX + 80];
        snprintf(base, sizeof base, "%s", weights_path);
        char *dot = strstr(base, ".safetensors");
        if (dot) *dot = '\0';
        snprintf(opath, sizeof opath, "%s.optim.safetensors", base);
        snprintf(next, sizeof next, "%s.optim.next", base);
        const char *chosen = NULL;
        for (int pass = 0; pass < 2 && !chosen; pass++) {
            const char *cand = pass == 0 ? next : opath;
            if (!lilm_path_exists(cand)) continue;
            lilm_st_file *f = NULL;
            if (lilm_st_open(&f, cand) != LILM_OK) continue;
            if (state_step(lilm_st_metadata_get(f, "lilm_state")) == step) {
                of = f;
                chosen = cand;
            } else {
                lilm_st_close(f);
            }
        }
        if (!chosen)
            st = lilm_errorf(LILM_ERR_MISMATCH, "no optimizer state matching step %lld of %s\nHINT: the run cannot be resumed exactly; start a new run from its weights",
                             (long long)step, weights_path);
        if (st == LILM_OK) st = load_named_state(of, m, ns, step, chosen);
        if (st == LILM_OK && chosen == next && rename(next, opath) != 0)
            st = lilm_errorf(LILM_ERR_IO, "cannot move %s into place", next);
    }
    if (st == LILM_OK && state_json) {
        *state_json = strdup(sj);
        if (!*state_json) st = lilm_errorf(LILM_ERR_OOM, "out of memory");
    }
    if (of) lilm_st_close(of);
    lilm_st_close(wf);
    if (st == LILM_OK) lilm_model_sync_weights(m);
    return st;
}
