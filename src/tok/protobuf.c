/*
 * protobuf.c: protobuf wire-format reading and writing (see protobuf.h).
 *
 * Only what the SentencePiece ModelProto needs: varints, 32/64-bit fixed
 * values and length-delimited payloads. No schema lives here; sp_model.c
 * maps field numbers to meanings.
 */
#include "tok/protobuf.h"

#include "core/grow.h"

#include <stdlib.h>
#include <string.h>

void lilm_pb_reader_init(lilm_pb_reader *r, const uint8_t *data, size_t n)
{
    r->begin = data;
    r->p = data;
    r->end = data + n;
}

static lilm_status read_varint(lilm_pb_reader *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (r->p >= r->end)
            return lilm_errorf(LILM_ERR_FORMAT, "truncated varint at byte %zu", (size_t)(r->p - r->begin));
        uint8_t c = *r->p++;
        if (shift == 63 && (c & 0x7e))
            return lilm_errorf(LILM_ERR_FORMAT, "varint overflows 64 bits at byte %zu", (size_t)(r->p - r->begin - 1));
        x |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *v = x;
            return LILM_OK;
        }
    }
    return lilm_errorf(LILM_ERR_FORMAT, "varint longer than 10 bytes at byte %zu", (size_t)(r->p - r->begin));
}

lilm_status lilm_pb_next(lilm_pb_reader *r, lilm_pb_field *f)
{
    memset(f, 0, sizeof *f);
    f->start = r->p;
    size_t at = (size_t)(r->p - r->begin);
    uint64_t tag;
    LILM_TRY(read_varint(r, &tag));
    if ((tag >> 3) == 0 || (tag >> 3) > 0x1fffffff)
        return lilm_errorf(LILM_ERR_FORMAT, "invalid field number %llu at byte %zu", (unsigned long long)(tag >> 3), at);
    f->number = (uint32_t)(tag >> 3);
    f->wire = (int)(tag & 7);
    switch (f->wire) {
    case LILM_PB_VARINT:
        LILM_TRY(read_varint(r, &f->u));
        break;
    case LILM_PB_FIXED64:
    case LILM_PB_FIXED32: {
        size_t w = f->wire == LILM_PB_FIXED64 ? 8 : 4;
        if ((size_t)(r->end - r->p) < w)
            return lilm_errorf(LILM_ERR_FORMAT, "truncated fixed-size field %u at byte %zu", f->number, at);
        uint64_t x = 0;
        for (size_t i = 0; i < w; i++) x |= (uint64_t)r->p[i] << (8 * i);
        f->u = x;
        r->p += w;
        break;
    }
    case LILM_PB_LEN: {
        uint64_t n;
        LILM_TRY(read_varint(r, &n));
        if (n > (uint64_t)(r->end - r->p))
            return lilm_errorf(LILM_ERR_FORMAT, "field %u at byte %zu claims %llu bytes but only %zu remain",
                               f->number, at, (unsigned long long)n, (size_t)(r->end - r->p));
        f->data = r->p;
        f->len = (size_t)n;
        r->p += n;
        break;
    }
    default:
        return lilm_errorf(LILM_ERR_FORMAT, "unsupported wire type %d (field %u) at byte %zu", f->wire, f->number, at);
    }
    f->raw_len = (size_t)(r->p - f->start);
    return LILM_OK;
}

void lilm_pb_put_raw(lilm_pb_buf *b, const void *data, size_t n)
{
    if (b->oom || n == 0) return;
    if (lilm_grow((void **)&b->data, &b->cap, b->len + n, 1) != LILM_OK) {
        b->oom = 1;
        return;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
}

static void put_varint(lilm_pb_buf *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    lilm_pb_put_raw(b, tmp, n);
}

static void put_tag(lilm_pb_buf *b, uint32_t number, int wire)
{
    put_varint(b, ((uint64_t)number << 3) | (uint64_t)wire);
}

void lilm_pb_put_int32(lilm_pb_buf *b, uint32_t number, int32_t v)
{
    put_tag(b, number, LILM_PB_VARINT);
    put_varint(b, (uint64_t)(int64_t)v);
}

void lilm_pb_put_uint64(lilm_pb_buf *b, uint32_t number, uint64_t v)
{
    put_tag(b, number, LILM_PB_VARINT);
    put_varint(b, v);
}

void lilm_pb_put_float(lilm_pb_buf *b, uint32_t number, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    uint8_t le[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
    put_tag(b, number, LILM_PB_FIXED32);
    lilm_pb_put_raw(b, le, 4);
}

void lilm_pb_put_bytes(lilm_pb_buf *b, uint32_t number, const void *data, size_t n)
{
    put_tag(b, number, LILM_PB_LEN);
    put_varint(b, n);
    lilm_pb_put_raw(b, data, n);
}

void lilm_pb_buf_free(lilm_pb_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}
