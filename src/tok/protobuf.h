/*
 * protobuf.h: the few pieces of the protobuf wire format that .model files need.
 *
 * A message is a sequence of fields; each starts with a varint tag
 * (field_number << 3 | wire_type) followed by the value: a varint (type 0),
 * 8 little-endian bytes (type 1), a varint length and that many bytes
 * (type 2: strings, bytes, sub-messages) or 4 little-endian bytes (type 5).
 * Groups (types 3 and 4) are obsolete and rejected.
 *
 * The reader never reads past `end`: every length and varint is checked, and a
 * failure is LILM_ERR_FORMAT with the byte offset. The writer appends to a
 * growable buffer with a sticky out-of-memory flag, checked once at the end.
 *
 * Internal to src/tok: other layers use tokenizer.h, sp_model.h and trainer.h
 * (scripts/lint.sh checks this).
 */
#ifndef LILM_TOK_PROTOBUF_H
#define LILM_TOK_PROTOBUF_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

enum {
    LILM_PB_VARINT = 0,
    LILM_PB_FIXED64 = 1,
    LILM_PB_LEN = 2,
    LILM_PB_FIXED32 = 5,
};

typedef struct lilm_pb_reader {
    const uint8_t *begin; /* start of the whole buffer (for offsets in errors) */
    const uint8_t *p;     /* next byte to read */
    const uint8_t *end;   /* one past the last byte of this message */
} lilm_pb_reader;

/* One field as read: `start`..`p` after the read spans its complete encoding
 * (tag included), so unknown fields can be copied back out unchanged. */
typedef struct lilm_pb_field {
    uint32_t number;
    int wire;
    uint64_t u;             /* VARINT, FIXED32 and FIXED64 values */
    const uint8_t *data;    /* LEN: the payload */
    size_t len;             /* LEN: payload length */
    const uint8_t *start;   /* first byte of the tag */
    size_t raw_len;         /* whole encoding, tag included */
} lilm_pb_field;

void lilm_pb_reader_init(lilm_pb_reader *r, const uint8_t *data, size_t n);
/* Reads the next field. Returns LILM_OK, or LILM_ERR_FORMAT on truncation,
 * a varint longer than 10 bytes, field number 0 or a group wire type. */
lilm_status lilm_pb_next(lilm_pb_reader *r, lilm_pb_field *f);

typedef struct lilm_pb_buf {
    uint8_t *data;
    size_t len, cap;
    int oom; /* set once an allocation failed; later appends are dropped */
} lilm_pb_buf;

void lilm_pb_put_raw(lilm_pb_buf *b, const void *data, size_t n);
/* int32 fields are sign-extended to 64 bits, as protobuf does (-1 takes 10 bytes). */
void lilm_pb_put_int32(lilm_pb_buf *b, uint32_t number, int32_t v);
void lilm_pb_put_uint64(lilm_pb_buf *b, uint32_t number, uint64_t v);
void lilm_pb_put_float(lilm_pb_buf *b, uint32_t number, float v);
void lilm_pb_put_bytes(lilm_pb_buf *b, uint32_t number, const void *data, size_t n);
void lilm_pb_buf_free(lilm_pb_buf *b);

#endif
