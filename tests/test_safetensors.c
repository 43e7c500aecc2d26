/*
 * test_safetensors.c: the safetensors writer and validating reader.
 *
 * round_trip writes every dtype, a scalar, an empty tensor and metadata with
 * awkward strings, and reads them back; the corruption cases build broken
 * files byte by byte (bad header length, bad JSON, bad UTF-8, offsets out of
 * range, overlap, gaps, trailing bytes, wrong dtype size, duplicates) and
 * check each gives LILM_ERR_FORMAT naming the problem; truncations and byte
 * flips of a valid file must give a clean error or a valid file, never a crash,
 * and every bit flip in the tensor data is caught by the recorded CRC-32s;
 * check_finite names the tensor and element holding a NaN or an infinity.
 *
 * Interop with the Python safetensors library (tests/py/test_safetensors_interop.py):
 *   LILM_ST_INTEROP_OUT=path  case `interop` writes the fixed interop file there;
 *   LILM_ST_INTEROP_IN=path   case `interop` reads that file (written by Python)
 *                             and checks every tensor and metadata value.
 *   LILM_ST_DUMP=path         case `dump` prints every tensor's name, dtype,
 *                             shape and FNV-1a hash of its bytes, and the metadata.
 * Without them the cases write their own file to a temp dir and read it back.
 */
#include "test.h"

#include <stdint.h>

#include "core/fileio.h"
#include "core/safetensors.h"
#include "core/status.h"

/* ---- the interop file: the same content is produced by the Python test ---- */

static const float interop_a[6] = {-1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f};     /* a.f32 (2, 3): i*0.5 - 1 */
static const uint16_t interop_b[4] = {0x3f80, 0x4000, 0x4040, 0x4080};       /* b.bf16 (4): 1, 2, 3, 4 */
static const int64_t interop_c[3] = {-1, 0, (int64_t)1 << 40};               /* c.i64 (3) */
static const uint16_t interop_e[2] = {0x3c00, 0xc000};                       /* e.f16 (2): 1, -2 */
static const double interop_s = 3.25;                                        /* scalar F64 () */
static const uint8_t interop_d[5] = {0, 1, 2, 3, 4};                         /* d.u8 (5) */
static const char *const interop_note = "h\xc3\xa9llo \"quoted\" back\\slash\nnew line";

static lilm_status write_interop(const char *path)
{
    lilm_st_writer *w;
    LILM_TRY(lilm_st_writer_init(&w));
    const int64_t sa[] = {2, 3}, sb[] = {4}, sc[] = {3}, se[] = {2}, sd[] = {5}, sz[] = {0, 4};
    lilm_status s = LILM_OK;
    if (s == LILM_OK) s = lilm_st_writer_add(w, "a.f32", LILM_ST_F32, 2, sa, interop_a);
    if (s == LILM_OK) s = lilm_st_writer_add(w, "b.bf16", LILM_ST_BF16, 1, sb, interop_b);
    if (s == LILM_OK) s = lilm_st_writer_add(w, "c.i64", LILM_ST_I64, 1, sc, interop_c);
    if (s == LILM_OK) s = lilm_st_writer_add(w, "e.f16", LILM_ST_F16, 1, se, interop_e);
    if (s == LILM_OK) s = lilm_st_writer_add(w, "scalar", LILM_ST_F64, 0, NULL, &interop_s);
    if (s == LILM_OK) s = lilm_st_writer_add(w, "empty", LILM_ST_F32, 2, sz, NULL);
    if (s == LILM_OK) s = lilm_st_writer_add(w, "d.u8", LILM_ST_U8, 1, sd, interop_d);
    if (s == LILM_OK) s = lilm_st_writer_add_metadata(w, "step", "123");
    if (s == LILM_OK) s = lilm_st_writer_add_metadata(w, "note", interop_note);
    if (s == LILM_OK) s = lilm_st_writer_write(w, path);
    lilm_st_writer_free(w);
    return s;
}

static void check_tensor(lilm_test *t, const lilm_st_file *f, const char *name, lilm_st_dtype dt, int ndim,
                         const int64_t *shape, const void *want, size_t nbytes)
{
    const lilm_st_tensor *x = NULL;
    LT_OK(t, lilm_st_expect(f, name, dt, ndim, shape, &x));
    if (!x) return;
    LT_EQ_INT(t, x->nbytes, nbytes);
    LT_CHECK(t, nbytes == 0 || (x->data && memcmp(x->data, want, nbytes) == 0), "tensor %s: data differs", name);
}

static void check_interop(lilm_test *t, const char *path)
{
    lilm_st_file *f = NULL;
    LT_OK(t, lilm_st_open(&f, path));
    if (!f) return;
    const int64_t sa[] = {2, 3}, sb[] = {4}, sc[] = {3}, se[] = {2}, sd[] = {5}, sz[] = {0, 4};
    LT_EQ_INT(t, lilm_st_count(f), 7);
    check_tensor(t, f, "a.f32", LILM_ST_F32, 2, sa, interop_a, sizeof interop_a);
    check_tensor(t, f, "b.bf16", LILM_ST_BF16, 1, sb, interop_b, sizeof interop_b);
    check_tensor(t, f, "c.i64", LILM_ST_I64, 1, sc, interop_c, sizeof interop_c);
    check_tensor(t, f, "e.f16", LILM_ST_F16, 1, se, interop_e, sizeof interop_e);
    check_tensor(t, f, "scalar", LILM_ST_F64, 0, NULL, &interop_s, sizeof interop_s);
    check_tensor(t, f, "empty", LILM_ST_F32, 2, sz, NULL, 0);
    check_tensor(t, f, "d.u8", LILM_ST_U8, 1, sd, interop_d, sizeof interop_d);
    const char *step = lilm_st_metadata_get(f, "step"), *note = lilm_st_metadata_get(f, "note");
    LT_TRUE(t, step && strcmp(step, "123") == 0);
    LT_TRUE(t, note && strcmp(note, interop_note) == 0);
    /* lilm's own files add their checksums; Python's have none */
    LT_EQ_INT(t, lilm_st_metadata_count(f), 2 + (lilm_st_metadata_get(f, LILM_ST_CHECKSUM_KEY) != NULL));
    lilm_st_close(f);
}

static void test_interop(lilm_test *t)
{
    const char *out = getenv("LILM_ST_INTEROP_OUT"), *in = getenv("LILM_ST_INTEROP_IN");
    if (out && *out) {
        LT_OK(t, write_interop(out));
        check_interop(t, out);
    }
    if (in && *in) check_interop(t, in);
    if ((!out || !*out) && (!in || !*in)) {
        char dir[256], path[512];
        lilm_test_tmpdir(dir, sizeof dir);
        snprintf(path, sizeof path, "%s/interop.safetensors", dir);
        LT_OK(t, write_interop(path));
        check_interop(t, path);
    }
}

/* ---- round trip ---- */

static void test_round_trip(lilm_test *t)
{
    char dir[256], path[512];
    lilm_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/rt.safetensors", dir);
    float big[3 * 5 * 7];
    for (int i = 0; i < 105; i++) big[i] = (float)i * 0.25f - 3.0f;
    uint8_t bools[3] = {1, 0, 1};
    int32_t ints[4] = {INT32_MIN, -1, 0, INT32_MAX};
    lilm_st_writer *w;
    LT_OK(t, lilm_st_writer_init(&w));
    const int64_t s3[] = {3, 5, 7}, s1[] = {4}, sb[] = {3};
    LT_OK(t, lilm_st_writer_add(w, "transformer_stack.0.attention.q.weight", LILM_ST_F32, 3, s3, big));
    LT_OK(t, lilm_st_writer_add(w, "n\"a\\m\xe2\x82\xac\te", LILM_ST_I32, 1, s1, ints));
    LT_OK(t, lilm_st_writer_add(w, "bools", LILM_ST_BOOL, 1, sb, bools));
    LT_OK(t, lilm_st_writer_add_metadata(w, "config", "model:\n  d_model: 64\n"));
    LT_OK(t, lilm_st_writer_add_metadata(w, "config", "replaced"));
    LT_OK(t, lilm_st_writer_add_metadata(w, "\x01ctrl", "\x1f"));
    /* writer refusals */
    LT_STATUS(t, lilm_st_writer_add(w, "bools", LILM_ST_U8, 1, sb, bools), LILM_ERR_ARG);
    LT_STATUS(t, lilm_st_writer_add(w, "__metadata__", LILM_ST_U8, 1, sb, bools), LILM_ERR_ARG);
    LT_STATUS(t, lilm_st_writer_add(w, "", LILM_ST_U8, 1, sb, bools), LILM_ERR_ARG);
    LT_STATUS(t, lilm_st_writer_add(w, "bad\xff", LILM_ST_U8, 1, sb, bools), LILM_ERR_ARG);
    const int64_t neg[] = {-1};
    LT_STATUS(t, lilm_st_writer_add(w, "neg", LILM_ST_U8, 1, neg, bools), LILM_ERR_ARG);
    LT_STATUS(t, lilm_st_writer_add(w, "nodata", LILM_ST_U8, 1, sb, NULL), LILM_ERR_ARG);
    LT_STATUS(t, lilm_st_writer_add(w, "dims", LILM_ST_U8, 9, s3, bools), LILM_ERR_ARG);
    LT_STATUS(t, lilm_st_writer_add(w, "dtype", (lilm_st_dtype)99, 1, sb, bools), LILM_ERR_ARG);
    LT_OK(t, lilm_st_writer_write(w, path));
    lilm_st_writer_free(w);

    /* the header length keeps the data 8-byte aligned */
    char *raw = NULL;
    size_t n = 0;
    LT_OK(t, lilm_read_file(path, &raw, &n));
    uint64_t hl = 0;
    for (int i = 7; raw && n >= 8 && i >= 0; i--) hl = (hl << 8) | (unsigned char)raw[i];
    LT_EQ_INT(t, hl % 8, 0);
    LT_EQ_INT(t, n, 8 + hl + sizeof big + sizeof ints + sizeof bools);
    free(raw);

    lilm_st_file *f = NULL;
    LT_OK(t, lilm_st_open(&f, path));
    if (!f) return;
    LT_EQ_INT(t, lilm_st_count(f), 3);
    const lilm_st_tensor *a = lilm_st_at(f, 0);
    LT_TRUE(t, a && strcmp(a->name, "transformer_stack.0.attention.q.weight") == 0 && a->numel == 105);
    LT_TRUE(t, a && ((uintptr_t)a->data % 8) == 0);
    LT_TRUE(t, lilm_st_at(f, 3) == NULL);
    check_tensor(t, f, "transformer_stack.0.attention.q.weight", LILM_ST_F32, 3, s3, big, sizeof big);
    check_tensor(t, f, "n\"a\\m\xe2\x82\xac\te", LILM_ST_I32, 1, s1, ints, sizeof ints);
    check_tensor(t, f, "bools", LILM_ST_BOOL, 1, sb, bools, sizeof bools);
    LT_TRUE(t, lilm_st_find(f, "missing") == NULL);
    const char *cfg = lilm_st_metadata_get(f, "config");
    LT_TRUE(t, cfg && strcmp(cfg, "replaced") == 0);
    const char *ctrl = lilm_st_metadata_get(f, "\x01ctrl");
    LT_TRUE(t, ctrl && strcmp(ctrl, "\x1f") == 0);
    /* expectations that fail */
    const int64_t wrong[] = {3, 7, 5};
    LT_STATUS(t, lilm_st_expect(f, "transformer_stack.0.attention.q.weight", LILM_ST_F32, 3, wrong, NULL),
              LILM_ERR_MISMATCH);
    LT_TRUE(t, strstr(lilm_last_error(), "has shape [3, 5, 7], expected [3, 7, 5]") != NULL);
    LT_STATUS(t, lilm_st_expect(f, "bools", LILM_ST_U8, 1, sb, NULL), LILM_ERR_MISMATCH);
    LT_TRUE(t, strstr(lilm_last_error(), "is BOOL, expected U8") != NULL);
    LT_STATUS(t, lilm_st_expect(f, "nope", LILM_ST_U8, 1, sb, NULL), LILM_ERR_NOT_FOUND);
    lilm_st_close(f);

    /* an empty writer gives a valid file with no tensors */
    LT_OK(t, lilm_st_writer_init(&w));
    LT_OK(t, lilm_st_writer_write(w, path));
    lilm_st_writer_free(w);
    LT_OK(t, lilm_st_open(&f, path));
    if (f) LT_EQ_INT(t, lilm_st_count(f), 0);
    lilm_st_close(f);
    LT_STATUS(t, lilm_st_open(&f, "/nonexistent/x.safetensors"), LILM_ERR_NOT_FOUND);
}

/* ---- corruption ---- */

/* Builds "len(header) header data" in buf; returns the size. */
static size_t build(unsigned char *buf, size_t cap, const char *header, size_t data_bytes)
{
    size_t n = strlen(header);
    if (8 + n + data_bytes > cap) return 0;
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(((uint64_t)n >> (8 * i)) & 0xff);
    memcpy(buf + 8, header, n);
    for (size_t i = 0; i < data_bytes; i++) buf[8 + n + i] = (unsigned char)i;
    return 8 + n + data_bytes;
}

static void expect_bad(lilm_test *t, const char *header, size_t data_bytes, const char *want)
{
    unsigned char buf[4096];
    size_t n = build(buf, sizeof buf, header, data_bytes);
    lilm_st_file *f = NULL;
    lilm_status s = lilm_st_open_memory(&f, buf, n, "bad.safetensors");
    LT_CHECK(t, s == LILM_ERR_FORMAT, "header %s: status %s", header, lilm_status_str(s));
    LT_CHECK(t, f == NULL, "a failed open returned a handle");
    LT_CHECK(t, strstr(lilm_last_error(), "bad.safetensors") != NULL && strstr(lilm_last_error(), want) != NULL,
             "header %s: message '%s' lacks '%s'", header, lilm_last_error(), want);
    lilm_st_close(f);
}

static void test_corrupt(lilm_test *t)
{
    const char *T1 = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    /* the valid baseline */
    unsigned char buf[512];
    size_t n = build(buf, sizeof buf, T1, 8);
    lilm_st_file *f = NULL;
    LT_OK(t, lilm_st_open_memory(&f, buf, n, "ok"));
    lilm_st_close(f);

    /* header length */
    LT_STATUS(t, lilm_st_open_memory(&f, buf, 5, "short.safetensors"), LILM_ERR_FORMAT);
    LT_TRUE(t, strstr(lilm_last_error(), "too short") != NULL);
    buf[0] = 0xff;
    buf[3] = 0x01;
    LT_STATUS(t, lilm_st_open_memory(&f, buf, n, "len.safetensors"), LILM_ERR_FORMAT);
    LT_TRUE(t, strstr(lilm_last_error(), "reaches past the end of the file") != NULL);
    memset(buf, 0xff, 8);
    LT_STATUS(t, lilm_st_open_memory(&f, buf, n, "len.safetensors"), LILM_ERR_FORMAT);
    expect_bad(t, "", 0, "not a safetensors file");
    expect_bad(t, "[1]", 0, "not a safetensors file");
    expect_bad(t, "{", 0, "not a safetensors file");
    expect_bad(t, "{\"a", 0, "unterminated string");
    expect_bad(t, "{ ", 0, "expected a string");

    /* bad JSON */
    expect_bad(t, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", 8, "expected ',' or '}'");
    expect_bad(t, "{\"a\" {\"dtype\":\"F32\"}}", 0, "expected ':'");
    expect_bad(t, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}} x", 8, "unexpected bytes after");
    expect_bad(t, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],}}", 8, "expected a string");
    expect_bad(t, "{\"a\":{\"dtype\":F32,\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "expected a string");
    expect_bad(t, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8, "must be an integer");
    expect_bad(t, "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "non-negative integer");
    expect_bad(t, "{\"a\":{\"dtype\":\"F32\",\"shape\":[02],\"data_offsets\":[0,8]}}", 8, "leading zero");
    expect_bad(t, "{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,8]}}", 8,
               "too large");
    expect_bad(t, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, "[begin, end]");
    expect_bad(t, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,9]}}", 8, "[begin, end]");
    expect_bad(t, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 0, "tensor 'a' lacks \"data_offsets\"");
    expect_bad(t, "{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "tensor 'a' lacks \"dtype\"");
    expect_bad(t, "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
               "repeated field 'dtype'");
    expect_bad(t, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", 8,
               "unexpected or repeated field 'x'");
    expect_bad(t, "{\"a\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
               "tensor 'a': dtype 'F33' is not a safetensors dtype");
    expect_bad(t, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
               "more than 8 dimensions");
    expect_bad(t, "{\"a\\q\":{}}", 0, "unknown escape");
    expect_bad(t, "{\"a\\u00\":{}}", 0, "bad \\u escape");
    expect_bad(t, "{\"a\\ud800\":{}}", 0, "lone high surrogate");
    expect_bad(t, "{\"a\\udc00\":{}}", 0, "lone low surrogate");
    expect_bad(t, "{\"a\\u0000\":{}}", 0, "NUL");
    expect_bad(t, "{\"a\tb\":{}}", 0, "control character");
    expect_bad(t, "{\"a\xff\":{}}", 0, "byte 11: invalid UTF-8");
    expect_bad(t, "{\"a\xc0\x80\":{}}", 0, "invalid UTF-8");         /* overlong NUL */
    expect_bad(t, "{\"a\xed\xa0\x80\":{}}", 0, "invalid UTF-8");     /* encoded surrogate */
    expect_bad(t, "{\"a\xf4\x90\x80\x80\":{}}", 0, "invalid UTF-8"); /* above U+10FFFF */
    expect_bad(t, "{\"__metadata__\":{\"k\":1}}", 0, "metadata values must be strings");
    expect_bad(t, "{\"__metadata__\":[]}", 0, "must be an object of strings");
    expect_bad(t, "{\"__metadata__\":{},\"__metadata__\":{}}", 0, "appears twice");
    expect_bad(t, "{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", 0, "metadata key appears twice");

    /* layout */
    expect_bad(t, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4,
               "tensor 'a': data_offsets [0, 8] reach past the end of the data (4 bytes)");
    expect_bad(t, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,6]}}", 6,
               "tensor 'a': data_offsets [0, 6] hold 6 bytes but F32 shape [2] needs 8");
    expect_bad(t, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "run backwards");
    expect_bad(t,
               "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
               12, "tensor 'b': data_offsets [4, 12] overlap tensor 'a'");
    expect_bad(t,
               "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}",
               20, "data bytes [8, 12) before tensor 'b' belong to no tensor");
    expect_bad(t, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 10,
               "2 bytes of data after the last tensor");
    expect_bad(t,
               "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
               16, "tensor 'a' appears twice");
    expect_bad(t, "{\"a\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8,
               "is too large");
    expect_bad(t,
               "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
               8, "overlap");
    /* valid oddities: empty tensors at the same offset, whitespace, escapes, file order != data order */
    n = build(buf, sizeof buf,
              " {\"b\" : {\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[4,5]},\n"
              "\"e\\u00e9\\ud83d\\ude00\":{\"data_offsets\":[4,4],\"shape\":[0],\"dtype\":\"F32\"},"
              "\"a\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[0,4]}}   ",
              5);
    /* a leading space is not '{': the Python library refuses it too */
    LT_STATUS(t, lilm_st_open_memory(&f, buf, n, "x"), LILM_ERR_FORMAT);
    n = build(buf, sizeof buf,
              "{\"b\" : {\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[4,5]},\n"
              "\"e\\u00e9\\ud83d\\ude00\":{\"data_offsets\":[4,4],\"shape\":[0],\"dtype\":\"F32\"},"
              "\"a\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[0,4]}}   ",
              5);
    LT_OK(t, lilm_st_open_memory(&f, buf, n, "x"));
    if (f) {
        LT_TRUE(t, strcmp(lilm_st_at(f, 0)->name, "a") == 0 && lilm_st_at(f, 0)->ndim == 0);
        LT_TRUE(t, lilm_st_find(f, "e\xc3\xa9\xf0\x9f\x98\x80") != NULL);
        LT_TRUE(t, lilm_st_find(f, "b") && lilm_st_find(f, "b")->nbytes == 1);
    }
    lilm_st_close(f);
}

/* Every truncation and every single-byte change of a valid file opens
 * cleanly or fails with LILM_ERR_FORMAT; ASan runs make "never a crash" hard. */
static void test_truncate_and_flip(lilm_test *t)
{
    char dir[256], path[512];
    lilm_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/v.safetensors", dir);
    LT_OK(t, write_interop(path));
    char *raw = NULL;
    size_t n = 0;
    LT_OK(t, lilm_read_file(path, &raw, &n));
    if (!raw) return;
    int bad_status = 0, opened = 0;
    for (size_t len = 0; len < n; len++) {
        unsigned char *copy = malloc(len ? len : 1); /* exact size, so ASan sees any overread */
        memcpy(copy, raw, len);
        lilm_st_file *f = NULL;
        lilm_status s = lilm_st_open_memory(&f, copy, len, "trunc");
        if (s != LILM_ERR_FORMAT) bad_status++;
        lilm_st_close(f);
        free(copy);
    }
    LT_EQ_INT(t, bad_status, 0);
    /* the truncated file on disk */
    snprintf(path, sizeof path, "%s/t.safetensors", dir);
    LT_OK(t, lilm_write_atomic(path, raw, n - 3));
    lilm_st_file *f = NULL;
    LT_STATUS(t, lilm_st_open(&f, path), LILM_ERR_FORMAT);
    LT_TRUE(t, strstr(lilm_last_error(), "truncated") != NULL);
    /* flips over the header */
    unsigned char *copy = malloc(n);
    for (size_t i = 0; i < n && i < 8 + 600; i++) {
        for (int v = 0; v < 3; v++) {
            memcpy(copy, raw, n);
            copy[i] = (unsigned char)(v == 0 ? raw[i] ^ 0x01 : v == 1 ? 0xff : '"');
            lilm_status s = lilm_st_open_memory(&f, copy, n, "flip");
            if (s == LILM_OK) opened++;
            else if (s != LILM_ERR_FORMAT) bad_status++;
            lilm_st_close(f);
        }
    }
    LT_EQ_INT(t, bad_status, 0);
    LT_TRUE(t, opened > 0); /* flips inside a name or the metadata still open */
    /* any single bit flip inside the tensor data is refused by the checksum */
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = (hl << 8) | (unsigned char)raw[i];
    int data_opened = 0, named = 0, flips = 0;
    for (size_t i = 8 + (size_t)hl; i < n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, raw, n);
            copy[i] = (unsigned char)(raw[i] ^ (1 << bit));
            lilm_status s = lilm_st_open_memory(&f, copy, n, "flip");
            flips++;
            if (s == LILM_OK) data_opened++;
            else named += s == LILM_ERR_FORMAT && strstr(lilm_last_error(), "CRC-32") != NULL;
            lilm_st_close(f);
        }
    }
    LT_TRUE(t, flips > 0);
    LT_EQ_INT(t, data_opened, 0);
    LT_EQ_INT(t, named, flips);
    /* a damaged checksum list is refused too */
    memcpy(copy, raw, n);
    char *key = memmem(copy, 8 + hl, LILM_ST_CHECKSUM_KEY "\":\"", strlen(LILM_ST_CHECKSUM_KEY) + 3);
    LT_TRUE(t, key != NULL);
    if (key) {
        key[strlen(LILM_ST_CHECKSUM_KEY) + 3] = 'g';
        LT_STATUS(t, lilm_st_open_memory(&f, copy, n, "badsum"), LILM_ERR_FORMAT);
        LT_TRUE(t, strstr(lilm_last_error(), "malformed") != NULL);
    }
    free(copy);
    free(raw);
}

/* NaN or Inf in any floating-point tensor is named; integers are not looked at. */
static void test_check_finite(lilm_test *t)
{
    char dir[256], path[512];
    lilm_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/w.safetensors", dir);
    float w[4] = {1.0f, -2.0f, 0.0f, 3.0f};
    uint16_t h[2] = {0x3c00, 0x0000};
    int32_t ints[2] = {0x7f800000, -1}; /* the bits of +Inf, but an integer */
    const int64_t s4[] = {4}, s2[] = {2};
    struct { int which; uint32_t bits; const char *name; } cases[] = {
        {-1, 0, NULL}, {0, 0x7fc00000u, "w"}, {0, 0xff800000u, "w"}, {1, 0x7c00u, "h"}, {1, 0xfe00u, "h"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        float wc[4];
        uint16_t hc[2];
        memcpy(wc, w, sizeof w);
        memcpy(hc, h, sizeof h);
        if (cases[c].which == 0) memcpy(&wc[2], &cases[c].bits, 4);
        if (cases[c].which == 1) hc[1] = (uint16_t)cases[c].bits;
        lilm_st_writer *wr = NULL;
        LT_OK(t, lilm_st_writer_init(&wr));
        if (!wr) return;
        LT_OK(t, lilm_st_writer_add(wr, "w", LILM_ST_F32, 1, s4, wc));
        LT_OK(t, lilm_st_writer_add(wr, "h", LILM_ST_F16, 1, s2, hc));
        LT_OK(t, lilm_st_writer_add(wr, "i", LILM_ST_I32, 1, s2, ints));
        if (cases[c].name) { /* the writer refuses non-finite data unless allowed */
            LT_STATUS(t, lilm_st_writer_write(wr, path), LILM_ERR_FORMAT);
            LT_TRUE(t, strstr(lilm_last_error(), "not written") != NULL);
            lilm_st_writer_allow_non_finite(wr);
        }
        LT_OK(t, lilm_st_writer_write(wr, path));
        lilm_st_writer_free(wr);
        lilm_st_file *f = NULL;
        LT_OK(t, lilm_st_open(&f, path));
        if (!f) return;
        if (!cases[c].name) {
            LT_OK(t, lilm_st_check_finite(f));
        } else {
            char want[64];
            snprintf(want, sizeof want, "tensor '%s': element %d", cases[c].name, cases[c].which == 0 ? 2 : 1);
            LT_STATUS(t, lilm_st_check_finite(f), LILM_ERR_FORMAT);
            LT_CHECK(t, strstr(lilm_last_error(), want) != NULL, "case %zu: %s", c, lilm_last_error());
        }
        lilm_st_close(f);
    }
}

static void test_dtypes(lilm_test *t)
{
    for (int i = 0; i < LILM_ST_DTYPE_COUNT; i++) {
        lilm_st_dtype d;
        LT_OK(t, lilm_st_dtype_parse(lilm_st_dtype_name((lilm_st_dtype)i), &d));
        LT_EQ_INT(t, d, i);
        LT_TRUE(t, lilm_st_dtype_size(d) >= 1 && lilm_st_dtype_size(d) <= 8);
    }
    LT_EQ_INT(t, lilm_st_dtype_size(LILM_ST_BF16), 2);
    LT_EQ_INT(t, lilm_st_dtype_size(LILM_ST_I64), 8);
    LT_TRUE(t, lilm_st_dtype_name(LILM_ST_DTYPE_COUNT) == NULL);
    lilm_st_dtype d;
    LT_STATUS(t, lilm_st_dtype_parse("f32", &d), LILM_ERR_FORMAT);
}

/* FNV-1a 64 of a tensor's bytes: the Python test computes the same. */
static uint64_t fnv1a(const void *data, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ ((const unsigned char *)data)[i]) * 1099511628211ULL;
    return h;
}

/* With LILM_ST_DUMP=path: prints "tensor NAME DTYPE [SHAPE] FNV" per tensor
 * and "meta KEY=VALUE" per metadata entry, for the Python test to compare.
 * Without it: dumps the interop file and checks what it printed. */
static void test_dump(lilm_test *t)
{
    char dir[256], path[512];
    const char *in = getenv("LILM_ST_DUMP");
    if (in && *in) {
        snprintf(path, sizeof path, "%s", in);
    } else {
        lilm_test_tmpdir(dir, sizeof dir);
        snprintf(path, sizeof path, "%s/d.safetensors", dir);
        LT_OK(t, write_interop(path));
    }
    lilm_st_file *f = NULL;
    LT_OK(t, lilm_st_open(&f, path));
    if (!f) return;
    char line[1024];
    int saw_a = 0;
    for (size_t i = 0; i < lilm_st_count(f); i++) {
        const lilm_st_tensor *x = lilm_st_at(f, i);
        int used = snprintf(line, sizeof line, "tensor %s %s [", x->name, lilm_st_dtype_name(x->dtype));
        for (int d = 0; d < x->ndim && used < (int)sizeof line; d++)
            used += snprintf(line + used, sizeof line - (size_t)used, "%s%lld", d ? "," : "", (long long)x->shape[d]);
        if (used < (int)sizeof line)
            snprintf(line + used, sizeof line - (size_t)used, "] %016llx", (unsigned long long)fnv1a(x->data, x->nbytes));
        printf("%s\n", line);
        if (strcmp(x->name, "a.f32") == 0)
            saw_a = strcmp(line, "tensor a.f32 F32 [2,3] ") > 0 && x->nbytes == 24;
    }
    for (size_t i = 0; i < lilm_st_metadata_count(f); i++) {
        const char *k, *v;
        lilm_st_metadata_at(f, i, &k, &v);
        printf("meta %s=%s\n", k, v);
    }
    if (!in || !*in) LT_TRUE(t, saw_a);
    lilm_st_close(f);
}

static const lilm_test_case cases[] = {
    {"dump", test_dump},
    {"dtypes", test_dtypes},
    {"round_trip", test_round_trip},
    {"corrupt", test_corrupt},
    {"truncate_and_flip", test_truncate_and_flip},
    {"interop", test_interop},
    {"check_finite", test_check_finite},
};
LILM_TEST_MAIN(cases)
