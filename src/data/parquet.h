/*
 * parquet.h: a reader for string columns of Apache Parquet files.
 *
 * Enough of Parquet to read text datasets as Hugging Face publishes them:
 * the footer and page headers in the Thrift compact protocol (our own
 * decoder), flat top-level BYTE_ARRAY columns (REQUIRED or OPTIONAL),
 * PLAIN and dictionary (PLAIN_DICTIONARY / RLE_DICTIONARY) encodings, data
 * pages v1 and v2, and UNCOMPRESSED, SNAPPY, GZIP and ZSTD pages, over any
 * number of row groups. Other codecs, nested columns and other encodings are
 * refused with a clear error. Every offset and length read from the file is
 * bounds-checked; page CRCs are verified when the writer stored them.
 *
 * Use: open, find the column by name (the error lists the columns there
 * are), then read the column of each row group as strings.
 */
#ifndef LILM_DATA_PARQUET_H
#define LILM_DATA_PARQUET_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct lilm_parquet lilm_parquet;

/* The values of one column chunk: row i is data[offsets[i] .. offsets[i+1])
 * unless is_null[i]. Buffers are reused across calls. */
typedef struct lilm_parquet_strings {
    char *data;
    size_t data_len, data_cap;
    int64_t *offsets;     /* n + 1 */
    uint8_t *is_null;     /* n */
    int64_t n;
    size_t rows_cap;
} lilm_parquet_strings;

lilm_status lilm_parquet_open(lilm_parquet **out, const char *path);
void lilm_parquet_close(lilm_parquet *p);
int64_t lilm_parquet_num_rows(const lilm_parquet *p);
int lilm_parquet_num_row_groups(const lilm_parquet *p);
/* File offset where row group rg's data ends (for progress reporting). */
int64_t lilm_parquet_row_group_end(const lilm_parquet *p, int rg);
/* Finds a top-level string column; LILM_ERR_NOT_FOUND lists the columns. */
lilm_status lilm_parquet_find_column(const lilm_parquet *p, const char *name, int *col);
/* Names of all top-level columns, comma separated, into buf. */
void lilm_parquet_column_names(const lilm_parquet *p, char *buf, size_t n);
lilm_status lilm_parquet_read_strings(lilm_parquet *p, int rg, int col, lilm_parquet_strings *out);
void lilm_parquet_strings_free(lilm_parquet_strings *s);

#endif
