/*
 * source.h: reading documents out of input files, one file at a time.
 *
 * Formats: plain text (one document per line, or documents separated by
 * blank lines), JSONL (one JSON object per line; the document is the string
 * field named by `column`) and Parquet (the string column named `column`).
 * A source hands out raw records in batches of about max_bytes: for text the
 * document itself, for JSONL the whole line (parsed later, on a worker
 * thread, by lilm_record_text), for Parquet the decoded value. Records point
 * into the source's memory and stay valid until the next call on it.
 */
#ifndef LILM_DATA_SOURCE_H
#define LILM_DATA_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "core/json.h"
#include "core/status.h"

typedef enum lilm_input_format {
    LILM_FMT_AUTO = 0,   /* by extension: .parquet, .jsonl/.json, else text */
    LILM_FMT_TEXT,
    LILM_FMT_JSONL,
    LILM_FMT_PARQUET,
} lilm_input_format;

typedef enum lilm_text_docs {
    LILM_TEXT_LINES = 0, /* every non-empty line is a document */
    LILM_TEXT_BLANK,     /* documents are separated by blank lines */
} lilm_text_docs;

typedef struct lilm_record {
    const char *data;    /* the text, or the JSON line */
    size_t len;
    int64_t where;       /* 1-based line (text, JSONL) or 0-based row (Parquet) in the file */
    uint8_t is_json;     /* data is a JSON line to extract the column from */
    uint8_t is_null;     /* a Parquet null (skipped like an empty document) */
    uint8_t is_row;      /* `where` is a Parquet row, not a line */
} lilm_record;

typedef struct lilm_source lilm_source;

lilm_input_format lilm_input_format_of(const char *path);
const char *lilm_input_format_name(lilm_input_format f);

lilm_status lilm_source_open(lilm_source **out, const char *path, lilm_input_format fmt, const char *column,
                             lilm_text_docs text_docs);
/* Fills (*recs)[0..*n) with the next records (about max_bytes of them);
 * *n = 0 at the end of the file. *recs grows with realloc; *cap is its size. */
lilm_status lilm_source_next(lilm_source *s, lilm_record **recs, size_t *cap, size_t *n, size_t max_bytes);
/* Bytes of the file consumed so far (for progress). */
int64_t lilm_source_bytes_done(const lilm_source *s);
void lilm_source_close(lilm_source *s);

/* The document text of a record. For JSON lines it parses the line (a tree
 * is returned in *tree, to free with lilm_json_free after using the text).
 * Checks UTF-8. Errors name path and line. Safe to call from many threads. */
lilm_status lilm_record_text(const lilm_record *r, const char *path, const char *column, lilm_json **tree,
                             const char **text, size_t *len);

#endif
