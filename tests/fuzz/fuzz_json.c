/*
 * fuzz_json.c: libFuzzer target for the JSON and JSONL readers (`make fuzz-smoke`).
 *
 * Each input is taken three ways:
 *   - as one JSON text (lilm_json_parse): a tree it accepts is written back
 *     with lilm_json_writer and must parse to the same tree;
 *   - as a JSONL file read by the data source (lilm_source, column "text"),
 *     every record's text extracted;
 *   - as the metrics.jsonl of a run directory read by lilm_rundir_read.
 * Every failure must be a clean status; the sanitizers catch the rest.
 * Seeds: tests/fuzz/corpus/fuzz_json (run.json, metrics lines, a hub file
 * listing, escapes, deep nesting, numbers at the edges).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "data/source.h"
#include "fuzz_common.h"
#include "track/rundir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void write_tree(lilm_json_writer *w, const lilm_json *v)
{
    switch (v->type) {
    case LILM_JSON_NULL: lilm_json_null(w); break;
    case LILM_JSON_BOOL: lilm_json_bool(w, v->boolean); break;
    case LILM_JSON_NUMBER:
        if (v->is_int) lilm_json_int(w, v->integer);
        else lilm_json_double(w, v->number);
        break;
    case LILM_JSON_STRING: lilm_json_strn(w, v->str, v->len); break;
    case LILM_JSON_ARRAY:
        lilm_json_begin_array(w);
        for (size_t i = 0; i < v->n; i++) write_tree(w, &v->items[i]);
        lilm_json_end_array(w);
        break;
    case LILM_JSON_OBJECT:
        lilm_json_begin_object(w);
        for (size_t i = 0; i < v->n; i++) {
            lilm_json_key(w, v->items[i].key);
            write_tree(w, &v->items[i]);
        }
        lilm_json_end_object(w);
        break;
    }
}

static int same_tree(const lilm_json *a, const lilm_json *b)
{
    if (a->type != b->type || a->n != b->n) return 0;
    if (a->type == LILM_JSON_BOOL && a->boolean != b->boolean) return 0;
    if (a->type == LILM_JSON_NUMBER) { /* 5.0 is written as 5 and reads back as an integer */
        if (a->is_int && b->is_int ? a->integer != b->integer : a->number != b->number) return 0;
    }
    if (a->type == LILM_JSON_STRING && (a->len != b->len || memcmp(a->str, b->str, a->len) != 0)) return 0;
    for (size_t i = 0; i < a->n; i++) {
        if (a->type == LILM_JSON_OBJECT && strcmp(a->items[i].key, b->items[i].key) != 0) return 0;
        if (!same_tree(&a->items[i], &b->items[i])) return 0;
    }
    return 1;
}

/* Keys with a NUL or non-finite numbers cannot be written back as they were. */
static int writable(const lilm_json *v)
{
    if (v->type == LILM_JSON_NUMBER && !v->is_int && !isfinite(v->number)) return 0;
    for (size_t i = 0; i < v->n; i++) {
        if (v->type == LILM_JSON_OBJECT && strlen(v->items[i].key) != v->items[i].key_len) return 0;
        if (!writable(&v->items[i])) return 0;
    }
    return 1;
}

static void as_json(const uint8_t *data, size_t size)
{
    lilm_json *j = NULL;
    if (lilm_json_parse(&j, (const char *)data, size, "fuzz.json") != LILM_OK) return;
    if (writable(j)) {
        lilm_json_writer w;
        lilm_json_writer_init(&w, (int)(size & 1));
        write_tree(&w, j);
        char *text = NULL;
        size_t n = 0;
        if (lilm_json_writer_finish(&w, &text, &n) == LILM_OK) {
            lilm_json *k = NULL;
            if (lilm_json_parse(&k, text, n, "rewritten.json") != LILM_OK) abort(); /* what we write must read */
            if (!same_tree(j, k)) abort();
            lilm_json_free(k);
            free(text);
        }
    }
    lilm_json_free(j);
}

static void as_jsonl(const char *dir, const uint8_t *data, size_t size)
{
    fuzz_write(dir, "in.jsonl", data, size);
    char path[512];
    snprintf(path, sizeof path, "%s/in.jsonl", dir);
    lilm_source *src = NULL;
    if (lilm_source_open(&src, path, LILM_FMT_JSONL, "text", LILM_TEXT_LINES) != LILM_OK) return;
    lilm_record *recs = NULL;
    size_t cap = 0, n = 0;
    while (lilm_source_next(src, &recs, &cap, &n, 4096) == LILM_OK && n > 0) {
        for (size_t i = 0; i < n; i++) {
            lilm_json *tree = NULL;
            const char *text;
            size_t len;
            if (lilm_record_text(&recs[i], path, "text", &tree, &text, &len) == LILM_OK && len) (void)text[len - 1];
            lilm_json_free(tree);
        }
    }
    free(recs);
    lilm_source_close(src);
}

static void as_metrics(const char *dir, const uint8_t *data, size_t size)
{
    static const char run_json[] = "{\"name\": \"fuzz\", \"status\": \"running\", \"steps\": 3}";
    fuzz_write(dir, "run.json", run_json, sizeof run_json - 1);
    fuzz_write(dir, "metrics.jsonl", data, size);
    lilm_run_record rec;
    (void)lilm_rundir_read(dir, &rec);
    lilm_run_record_free(&rec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char dir[256];
    fuzz_dir("json", dir, sizeof dir);
    as_json(data, size);
    as_jsonl(dir, data, size);
    as_metrics(dir, data, size);
    return 0;
}
