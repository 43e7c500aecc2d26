/*
 * sha256.h: SHA-256 (FIPS 180-4), streaming and one-shot, with hex output.
 *
 * Used for tokenizer identity (datasets record the hash of the tokenizer that
 * made them), download verification and config hashes.
 */
#ifndef LILM_CORE_SHA256_H
#define LILM_CORE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct lilm_sha256 {
    uint32_t h[8];
    uint64_t len;        /* bytes hashed so far */
    uint8_t buf[64];
    size_t fill;
} lilm_sha256;

void lilm_sha256_init(lilm_sha256 *s);
void lilm_sha256_update(lilm_sha256 *s, const void *data, size_t n);
void lilm_sha256_final(lilm_sha256 *s, uint8_t out[32]);
/* hex = 64 lowercase hex chars + NUL */
void lilm_sha256_hex(const void *data, size_t n, char hex[65]);
void lilm_sha256_to_hex(const uint8_t digest[32], char hex[65]);
lilm_status lilm_sha256_file(const char *path, char hex[65]);

#endif
