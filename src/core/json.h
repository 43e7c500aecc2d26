/*
 * json.h: a small strict JSON reader (RFC 8259) and writer helpers.
 *
 * Reader: lilm_json_parse() turns a whole text into a tree of lilm_json
 * values. It is strict: UTF-8 is validated (overlong forms, surrogates and
 * code points above U+10FFFF are rejected), \u escapes must pair surrogates
 * correctly, no trailing commas, no comments, no NaN/Infinity, nesting at most
 * LILM_JSON_MAX_DEPTH, and nothing but whitespace after the value. An error
 * names the input, the line, the column and the byte offset, e.g.
 *   "meta.json:3:14 (byte 52): expected ':' after an object key".
 * Strings come back unescaped and NUL-terminated, with their byte length (a
 * string may contain "\u0000"). Numbers keep their double value and, when the
 * literal is an integer that fits, an exact int64.
 *
 * Writer: lilm_json_writer builds a JSON text in a growing buffer with commas
 * and (optionally) indentation handled for you; lilm_json_write_escaped()
 * writes one escaped string to a FILE (for hand-written JSONL lines).
 * Doubles are written with 17 significant digits (round-trip exact); NaN and
 * infinities, which JSON cannot express, are written as null.
 *
 * Thread safety: parsing and writing touch only the objects passed in.
 */
#ifndef LILM_CORE_JSON_H
#define LILM_CORE_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/status.h"

#define LILM_JSON_MAX_DEPTH 256

typedef enum lilm_json_type {
    LILM_JSON_NULL = 0,
    LILM_JSON_BOOL,
    LILM_JSON_NUMBER,
    LILM_JSON_STRING,
    LILM_JSON_ARRAY,
    LILM_JSON_OBJECT,
} lilm_json_type;

typedef struct lilm_json lilm_json;
struct lilm_json {
    lilm_json_type type;
    int boolean;          /* BOOL: 0 or 1 */
    double number;        /* NUMBER */
    int is_int;           /* NUMBER: 1 when the literal is an integer that fits int64 */
    int64_t integer;      /* NUMBER with is_int */
    char *str;            /* STRING: unescaped, NUL-terminated */
    size_t len;           /* STRING: bytes (excluding the NUL) */
    char *key;            /* a member of an OBJECT: its key (unescaped, NUL-terminated) */
    size_t key_len;
    lilm_json *items;     /* ARRAY elements / OBJECT members, in input order */
    size_t n;             /* how many */
};

/* Parses `len` bytes of `text`. `name` (may be NULL) names the input in error
 * messages. On success *out owns the whole tree; free it with lilm_json_free. */
lilm_status lilm_json_parse(lilm_json **out, const char *text, size_t len, const char *name);
/* Reads and parses a whole file. */
lilm_status lilm_json_parse_file(lilm_json **out, const char *path);
void lilm_json_free(lilm_json *v);

/* Member `key` of an object (the last one if repeated); NULL when v is not an
 * object or has no such member. */
const lilm_json *lilm_json_get(const lilm_json *v, const char *key);
/* Typed lookups: NULL / 0 when the member is missing or of another type. */
const char *lilm_json_get_str(const lilm_json *v, const char *key);
int lilm_json_get_int(const lilm_json *v, const char *key, int64_t *out);   /* 1 if found */
int lilm_json_get_num(const lilm_json *v, const char *key, double *out);    /* 1 if found */
const char *lilm_json_type_name(lilm_json_type t);

/* String escapes, shared with the safetensors header reader. The byte a
 * one-letter escape (\" \\ \/ \b \f \n \r \t) stands for, or -1 for any
 * other letter. */
int lilm_json_escape_byte(int letter);
/* The \uXXXX escape whose four hex digits start at s (n bytes there), with the
 * low-surrogate escape that must follow a high one: returns the bytes read
 * (4, or 10 for a pair) and the code point in *cp, or 0 with *why saying what
 * is wrong (bad hex, a lone low or high surrogate). */
size_t lilm_json_u_escape(const char *s, size_t n, uint32_t *cp, const char **why);

/* ---- writing ---- */

/* Writes s[0..n) as a quoted JSON string (escaping ", \, control chars). */
void lilm_json_write_escaped(FILE *f, const char *s, size_t n);

typedef struct lilm_json_writer {
    char *data;           /* the text so far (NUL-terminated when not NULL) */
    size_t len, cap;
    int pretty;           /* 1: two-space indentation, one member per line */
    int depth;
    int oom;              /* set when an allocation failed; finish() reports it */
    int after_key;        /* the next value follows a key (no comma, no newline) */
    uint8_t has_items[LILM_JSON_MAX_DEPTH]; /* per open level: something was written */
} lilm_json_writer;

void lilm_json_writer_init(lilm_json_writer *w, int pretty);
void lilm_json_begin_object(lilm_json_writer *w);
void lilm_json_end_object(lilm_json_writer *w);
void lilm_json_begin_array(lilm_json_writer *w);
void lilm_json_end_array(lilm_json_writer *w);
void lilm_json_key(lilm_json_writer *w, const char *key);
void lilm_json_str(lilm_json_writer *w, const char *s);
/* A string of n bytes (it may hold NULs, written as \u0000). */
void lilm_json_strn(lilm_json_writer *w, const char *s, size_t n);
void lilm_json_int(lilm_json_writer *w, int64_t v);
void lilm_json_double(lilm_json_writer *w, double v);
void lilm_json_bool(lilm_json_writer *w, int v);
void lilm_json_null(lilm_json_writer *w);
/* Takes the finished text (ends with a newline when pretty): *out is malloc'd
 * and owned by the caller; the writer is reset. Fails with LILM_ERR_OOM if
 * any append failed, or LILM_ERR_INTERNAL if objects/arrays are left open. */
lilm_status lilm_json_writer_finish(lilm_json_writer *w, char **out, size_t *n);

#endif
