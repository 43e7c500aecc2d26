/*
 * utf8.c: whole-string UTF-8 validation (eight ASCII bytes at a time, then
 * character by character), encoding one code point, and decoding validated
 * text into code points. The per-character rules are in utf8.h.
 */
#include "core/utf8.h"

#include <string.h>

int lilm_utf8_valid(const char *s, size_t n, size_t *bad_at)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        /* fast path: 8 ASCII bytes at a time */
        if (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, u + i, 8);
            if ((w & 0x8080808080808080ULL) == 0) {
                i += 8;
                continue;
            }
        }
        size_t k = lilm_utf8_valid_len(s + i, n - i);
        if (k == 0) {
            if (bad_at) *bad_at = i;
            return 0;
        }
        i += k;
    }
    return 1;
}

size_t lilm_utf8_encode(uint32_t cp, char *out)
{
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t lilm_utf8_decode(const char *s, size_t len, uint32_t *out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        unsigned c = p[i];
        uint32_t cp;
        size_t k;
        if (c < 0x80) {
            cp = c;
            k = 1;
        } else if (c < 0xE0) {
            cp = c & 0x1F;
            k = 2;
        } else if (c < 0xF0) {
            cp = c & 0x0F;
            k = 3;
        } else {
            cp = c & 0x07;
            k = 4;
        }
        if (i + k > len) k = len - i; /* cannot happen on validated text */
        for (size_t j = 1; j < k; j++) cp = (cp << 6) | (p[i + j] & 0x3F);
        out[n++] = cp;
        i += k;
    }
    return n;
}
