/*
 * utf8.h: UTF-8, one definition for the whole program: validation (shortest
 * form only, no UTF-16 surrogates, nothing above U+10FFFF), the length a lead
 * byte announces, and encoding and decoding of code points.
 *
 * Every reader that checks text (JSON, safetensors headers, the data readers,
 * the run directory) and the tokenizer (which must see characters exactly as
 * sentencepiece does) use these, so a byte sequence is valid in all of them or
 * in none.
 */
#ifndef LILM_CORE_UTF8_H
#define LILM_CORE_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* The length a lead byte announces: 1 for ASCII and for stray continuation
 * bytes, else 2, 3 or 4. Not validated (sentencepiece's OneCharLen). */
static inline size_t lilm_utf8_char_len(unsigned char c)
{
    return c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

/* The length (1 to 4) of the well-formed character at s[0..n), or 0 when it
 * is malformed, cut short, or n is 0. Inline: the normaliser calls it on every
 * character it does not map. */
static inline size_t lilm_utf8_valid_len(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    if (n == 0) return 0;
    unsigned char c = u[0];
    if (c < 0x80) return 1;
    if (c < 0xC2) return 0; /* a continuation byte, or an overlong 2-byte lead */
    if (c < 0xE0) return n >= 2 && (u[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c < 0xF0) {
        if (n < 3 || (u[1] & 0xC0) != 0x80 || (u[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && u[1] < 0xA0) return 0;  /* overlong */
        if (c == 0xED && u[1] >= 0xA0) return 0; /* UTF-16 surrogate */
        return 3;
    }
    if (c < 0xF5) {
        if (n < 4 || (u[1] & 0xC0) != 0x80 || (u[2] & 0xC0) != 0x80 || (u[3] & 0xC0) != 0x80) return 0;
        if (c == 0xF0 && u[1] < 0x90) return 0;  /* overlong */
        if (c == 0xF4 && u[1] >= 0x90) return 0; /* above U+10FFFF */
        return 4;
    }
    return 0;
}

/* 1 when s[0..n) is valid UTF-8; otherwise 0 and *bad_at (if not NULL) = the
 * offset of the first byte of the offending sequence. */
int lilm_utf8_valid(const char *s, size_t n, size_t *bad_at);

/* Writes code point cp (at most U+10FFFF, the caller's check) as 1 to 4 bytes
 * at out; returns how many. */
size_t lilm_utf8_encode(uint32_t cp, char *out);

/* Decodes s[0..len), text already validated, into out (room for len code
 * points); returns how many. A sequence cut short by the end takes the bytes
 * that are there. */
size_t lilm_utf8_decode(const char *s, size_t len, uint32_t *out);

#endif
