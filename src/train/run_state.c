/*
 * run_state.c: the run state as JSON, and training checkpoints (a model
 * checkpoint carrying the optimizer's named state and the run state).
 */
#include "train/run_state.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

static lilm_status lilm_run_state_to_json(const lilm_run_state *s, char **out)
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

static lilm_status lilm_run_state_from_json(const char *text, lilm_run_state *s)
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

/* ---- training checkpoints ---- */

lilm_status lilm_run_checkpoint_save(const char *dir, const char *name, const lilm_model *m, lilm_optimizer *opt,
                                     const lilm_config *cfg, const lilm_run_state *state)
{
    char *sjson = NULL;
    LILM_TRY(lilm_run_state_to_json(state, &sjson));
    lilm_named_state ns;
    if (opt) lilm_optimizer_named_state(opt, &ns);
    lilm_status st = lilm_checkpoint_save(dir, name, m, opt ? &ns : NULL, cfg, sjson);
    free(sjson);
    return st;
}

lilm_status lilm_run_checkpoint_load(const char *weights_path, lilm_model *m, lilm_optimizer *opt,
                                     lilm_run_state *state)
{
    lilm_named_state ns;
    if (opt) lilm_optimizer_named_state(opt, &ns);
    char *sjson = NULL;
    LILM_TRY(lilm_checkpoint_load(weights_path, m, opt ? &ns : NULL, &sjson));
    lilm_run_state ws;
    lilm_status st = lilm_run_state_from_json(sjson, &ws);
    free(sjson);
    if (st != LILM_OK) return lilm_error_context(st, "%s: ", weights_path);
    if (state) *state = ws;
    return LILM_OK;
}
