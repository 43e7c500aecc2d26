/*
 * yaml.h: small shared helpers over libyaml for readers that want a few
 * values from a YAML file without the config table's rules: load one
 * document with an error that names the file, line and column, and look up
 * the scalar at section.key of a two-level mapping (config.yaml's shape).
 *
 * The config table itself (core/config.c) validates every key; this is for
 * readers that must tolerate configs of other versions (the run directory).
 */
#ifndef LILM_CORE_YAML_H
#define LILM_CORE_YAML_H

#include <stddef.h>
#include <yaml.h>

#include "core/status.h"

/* Parses the first YAML document of text[0..n) into *doc (free it with
 * yaml_document_delete). Errors: LILM_ERR_FORMAT "label:LINE: malformed
 * YAML: PROBLEM (column C)", LILM_ERR_OOM. */
lilm_status lilm_yaml_load(yaml_document_t *doc, const char *label, const char *text, size_t n);

/* The scalar value at section.key when the root is a mapping whose `section`
 * is a mapping holding the scalar `key`; NULL otherwise. */
const char *lilm_yaml_scalar_at(yaml_document_t *doc, const char *section, const char *key);

#endif
