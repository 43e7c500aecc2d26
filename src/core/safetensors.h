/*
 * safetensors.h: read and write the safetensors weight format.
 *
 * The format (the one safetensors.torch / safetensors.numpy read and write):
 *   bytes 0..7      N, the header length, unsigned 64-bit little-endian
 *   bytes 8..8+N    a JSON object, UTF-8:
 *                     {"__metadata__": {"key": "value", ...},          (optional, strings only)
 *                      "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
 *                   padded with spaces so that 8+N is a multiple of 8
 *   bytes 8+N..     the data: every tensor's bytes, row-major, little-endian,
 *                   at [begin, end) relative to the start of the data; the
 *                   tensors tile the data exactly (no gap, no overlap, nothing after)
 *
 * Reading memory-maps the file and validates all of it before handing out a
 * pointer: the header length is sane and inside the file, the header is
 * well-formed UTF-8 JSON of exactly that schema, every dtype is known, every
 * shape's byte size equals its offsets, the offsets tile the data exactly,
 * names are unique. Any violation is LILM_ERR_FORMAT with a message naming
 * the file and the tensor; nothing is trusted before it is checked, so a
 * corrupt file can never crash the reader. Tensor data pointers point into
 * the map: they live until lilm_st_close and are aligned to the dtype size
 * whenever every tensor before them has a byte size that is a multiple of it
 * (always so for all-F32 files and for files from the Python library).
 *
 * Integrity: every file lilm writes records the CRC-32 (zlib's) of each
 * tensor's bytes in __metadata__ under LILM_ST_CHECKSUM_KEY, as 8 lowercase
 * hex digits per tensor in data order, separated by one space. Reading checks
 * them when the key is present, so damaged data is refused; the key is plain
 * metadata to every other reader, and files without it (from PyTorch) load
 * as before. lilm_st_check_finite() refuses weights holding NaN or Inf, and
 * the writer refuses to write them (unless told otherwise).
 *
 * Writing collects tensors (pointers, not copies: the data must stay alive
 * until lilm_st_writer_write) and metadata, then writes the file atomically
 * (temp file, fsync, rename: src/core/fileio.h) with the tensors in the order
 * they were added. Only little-endian hosts are supported.
 */
#ifndef LILM_CORE_SAFETENSORS_H
#define LILM_CORE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef enum lilm_st_dtype {
    LILM_ST_BOOL = 0,
    LILM_ST_U8,
    LILM_ST_I8,
    LILM_ST_F8_E5M2,
    LILM_ST_F8_E4M3,
    LILM_ST_I16,
    LILM_ST_U16,
    LILM_ST_F16,
    LILM_ST_BF16,
    LILM_ST_I32,
    LILM_ST_U32,
    LILM_ST_F32,
    LILM_ST_F64,
    LILM_ST_I64,
    LILM_ST_U64,
    LILM_ST_DTYPE_COUNT
} lilm_st_dtype;

#define LILM_ST_MAX_DIMS 8
#define LILM_ST_CHECKSUM_KEY "lilm_crc32"
#define LILM_ST_MAX_HEADER (100u * 1000u * 1000u) /* the Python library's limit too */

/* "F32", "BF16", ...; NULL for an invalid value. */
const char *lilm_st_dtype_name(lilm_st_dtype d);
/* Bytes per element; 0 for an invalid value. */
size_t lilm_st_dtype_size(lilm_st_dtype d);
/* Name -> dtype; LILM_ERR_FORMAT for an unknown name. */
lilm_status lilm_st_dtype_parse(const char *name, lilm_st_dtype *out);

/* ---- reading ---- */

typedef struct lilm_st_tensor {
    const char *name;
    lilm_st_dtype dtype;
    int ndim;                        /* 0 for a scalar */
    int64_t shape[LILM_ST_MAX_DIMS];
    int64_t numel;                   /* product of shape (1 for a scalar) */
    const void *data;                /* into the map; NULL when nbytes == 0 */
    size_t nbytes;
} lilm_st_tensor;

typedef struct lilm_st_file lilm_st_file;

/* Opens and validates a file. */
lilm_status lilm_st_open(lilm_st_file **out, const char *path);
/* The same over bytes in memory (they must outlive the handle); `label`
 * stands for the file name in messages. Used by the fuzzer and tests. */
lilm_status lilm_st_open_memory(lilm_st_file **out, const void *data, size_t size, const char *label);
void lilm_st_close(lilm_st_file *f);

/* Tensors in data order (for files lilm wrote: the order they were added). */
size_t lilm_st_count(const lilm_st_file *f);
const lilm_st_tensor *lilm_st_at(const lilm_st_file *f, size_t i);
/* By name; NULL when absent. */
const lilm_st_tensor *lilm_st_find(const lilm_st_file *f, const char *name);
/* Finds `name` and checks its dtype and shape; LILM_ERR_NOT_FOUND or
 * LILM_ERR_MISMATCH with a message saying what was expected and found. */
lilm_status lilm_st_expect(const lilm_st_file *f, const char *name, lilm_st_dtype dtype, int ndim,
                           const int64_t *shape, const lilm_st_tensor **out);

/* __metadata__: the value for `key`, or NULL. */
const char *lilm_st_metadata_get(const lilm_st_file *f, const char *key);
size_t lilm_st_metadata_count(const lilm_st_file *f);
/* The i-th key/value pair, in file order. */
void lilm_st_metadata_at(const lilm_st_file *f, size_t i, const char **key, const char **value);

/* LILM_ERR_FORMAT naming the tensor and the element when a floating-point
 * tensor (F16, BF16, F32, F64) holds a NaN or an infinity; integer tensors
 * are not looked at. */
lilm_status lilm_st_check_finite(const lilm_st_file *f);

/* ---- writing ---- */

typedef struct lilm_st_writer lilm_st_writer;

lilm_status lilm_st_writer_init(lilm_st_writer **out);
void lilm_st_writer_free(lilm_st_writer *w);
/* Adds a tensor of `ndim` dims (0..LILM_ST_MAX_DIMS) whose bytes start at
 * `data` (may be NULL when the shape has no elements). Names must be valid
 * UTF-8, non-empty, unique and not "__metadata__" (LILM_ERR_ARG). The name is
 * copied; the data is not. */
lilm_status lilm_st_writer_add(lilm_st_writer *w, const char *name, lilm_st_dtype dtype, int ndim,
                               const int64_t *shape, const void *data);
/* Adds (or replaces) a __metadata__ entry; both strings are copied. */
lilm_status lilm_st_writer_add_metadata(lilm_st_writer *w, const char *key, const char *value);
/* Writes the file atomically. A NaN or infinity in any F16, BF16, F32 or
 * F64 tensor is refused (LILM_ERR_FORMAT naming the tensor; nothing is
 * written, so the previous version of the file stays), unless
 * lilm_st_writer_allow_non_finite() was called: diverged weights never
 * replace a good checkpoint. */
lilm_status lilm_st_writer_write(const lilm_st_writer *w, const char *path);
/* Lets this writer store non-finite values (test fixtures, dumps). */
void lilm_st_writer_allow_non_finite(lilm_st_writer *w);

#endif
