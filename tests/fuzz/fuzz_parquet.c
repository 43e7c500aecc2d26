/*
 * fuzz_parquet.c: libFuzzer target for the Parquet reader (`make fuzz-smoke`):
 * the footer (Thrift compact protocol), the schema, row groups, page headers,
 * dictionary and data pages, RLE/bit-packed levels and the codecs (snappy,
 * gzip, zstd, uncompressed).
 *
 * Each input is written to a file and opened; every string column that can
 * be found is read in every row group, and every value checked to lie inside
 * the returned buffer. The same file is also read through the data source
 * (lilm_source, column "text"), as `lilm data prepare` does. Failures must be
 * clean statuses. Seeds: tests/fuzz/corpus/fuzz_parquet (small files written
 * by pyarrow with each codec, dictionary and plain encodings, nulls, two row
 * groups, an empty file).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/parquet.h"
#include "data/source.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const columns[] = {"text", "story", "id", "a"};

static void read_all(const char *path)
{
    lilm_parquet *p = NULL;
    if (lilm_parquet_open(&p, path) != LILM_OK) return;
    (void)lilm_parquet_num_rows(p);
    char names[512];
    lilm_parquet_column_names(p, names, sizeof names);
    lilm_parquet_strings s;
    memset(&s, 0, sizeof s);
    for (size_t c = 0; c < sizeof columns / sizeof columns[0]; c++) {
        int col;
        if (lilm_parquet_find_column(p, columns[c], &col) != LILM_OK) continue;
        for (int rg = 0; rg < lilm_parquet_num_row_groups(p); rg++) {
            (void)lilm_parquet_row_group_end(p, rg);
            if (lilm_parquet_read_strings(p, rg, col, &s) != LILM_OK) continue;
            for (int64_t i = 0; i < s.n; i++) {
                if (s.offsets[i] < 0 || s.offsets[i] > s.offsets[i + 1] || (size_t)s.offsets[i + 1] > s.data_len)
                    abort(); /* a value outside the buffer */
                if (s.offsets[i + 1] > s.offsets[i]) (void)s.data[s.offsets[i + 1] - 1];
            }
        }
    }
    lilm_parquet_strings_free(&s);
    lilm_parquet_close(p);
}

static void read_source(const char *path)
{
    lilm_source *src = NULL;
    if (lilm_source_open(&src, path, LILM_FMT_PARQUET, "text", LILM_TEXT_LINES) != LILM_OK) return;
    lilm_record *recs = NULL;
    size_t cap = 0, n = 0;
    while (lilm_source_next(src, &recs, &cap, &n, 1 << 16) == LILM_OK && n > 0) {
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char dir[256], path[512];
    fuzz_dir("parquet", dir, sizeof dir);
    fuzz_write(dir, "in.parquet", data, size);
    snprintf(path, sizeof path, "%s/in.parquet", dir);
    read_all(path);
    read_source(path);
    return 0;
}
