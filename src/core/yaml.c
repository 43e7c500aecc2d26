/*
 * yaml.c: loading one YAML document with a clear error, and section.key
 * lookups in a two-level mapping (see yaml.h).
 */
#include "core/yaml.h"

#include <string.h>

lilm_status lilm_yaml_load(yaml_document_t *doc, const char *label, const char *text, size_t n)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) return lilm_errorf(LILM_ERR_OOM, "%s: cannot start the YAML parser", label);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, n);
    lilm_status s = LILM_OK;
    if (!yaml_parser_load(&parser, doc)) {
        const yaml_mark_t *m = &parser.problem_mark;
        if (parser.error == YAML_MEMORY_ERROR)
            s = lilm_errorf(LILM_ERR_OOM, "%s: out of memory parsing YAML", label);
        else
            s = lilm_errorf(LILM_ERR_FORMAT, "%s:%d: malformed YAML: %s (column %d)", label, (int)m->line + 1,
                            parser.problem ? parser.problem : "syntax error", (int)m->column + 1);
    }
    yaml_parser_delete(&parser);
    return s;
}

/* The value node of `key` in mapping node `map`, or NULL. */
static yaml_node_t *member(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE) return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        if (k && k->type == YAML_SCALAR_NODE && strcmp((const char *)k->data.scalar.value, key) == 0)
            return yaml_document_get_node(doc, p->value);
    }
    return NULL;
}

const char *lilm_yaml_scalar_at(yaml_document_t *doc, const char *section, const char *key)
{
    yaml_node_t *v = member(doc, member(doc, yaml_document_get_root_node(doc), section), key);
    return v && v->type == YAML_SCALAR_NODE ? (const char *)v->data.scalar.value : NULL;
}
