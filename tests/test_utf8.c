/*
 * test_utf8.c: the one UTF-8 module (core/utf8.h): which sequences are valid
 * (shortest form, no surrogates, at most U+10FFFF, nothing cut short), the
 * length a lead byte announces, and encode/decode round trips at every
 * length boundary.
 */
#include "test.h"

#include <stdint.h>

#include "core/utf8.h"

static void test_valid_len(lilm_test *t)
{
    static const struct {
        const char *s;
        size_t n, want;
    } cases[] = {
        {"a", 1, 1},
        {"\xC3\xA9", 2, 2},                 /* U+00E9 */
        {"\xC3", 1, 0},                     /* cut short */
        {"\xC0\x80", 2, 0},                 /* overlong NUL */
        {"\xC1\xBF", 2, 0},                 /* overlong */
        {"\x80", 1, 0},                     /* stray continuation */
        {"\xE2\x82\xAC", 3, 3},             /* U+20AC */
        {"\xE0\x9F\xBF", 3, 0},             /* overlong 3-byte */
        {"\xED\xA0\x80", 3, 0},             /* U+D800, a surrogate */
        {"\xEE\x80\x80", 3, 3},             /* U+E000 */
        {"\xE2\x82", 2, 0},                 /* cut short */
        {"\xE2\x28\xA1", 3, 0},             /* bad continuation */
        {"\xF0\x9F\x98\x80", 4, 4},         /* U+1F600 */
        {"\xF0\x8F\xBF\xBF", 4, 0},         /* overlong 4-byte */
        {"\xF4\x8F\xBF\xBF", 4, 4},         /* U+10FFFF */
        {"\xF4\x90\x80\x80", 4, 0},         /* above U+10FFFF */
        {"\xF5\x80\x80\x80", 4, 0},         /* lead above F4 */
        {"", 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t got = lilm_utf8_valid_len(cases[i].s, cases[i].n);
        LT_CHECK(t, got == cases[i].want, "case %zu: length %zu, want %zu", i, got, cases[i].want);
        size_t bad = 99;
        int ok = lilm_utf8_valid(cases[i].s, cases[i].n, &bad);
        LT_CHECK(t, ok == (cases[i].want == cases[i].n), "case %zu: lilm_utf8_valid says %d", i, ok);
        if (!ok) LT_EQ_INT(t, bad, 0);
    }
}

static void test_char_len(lilm_test *t)
{
    LT_EQ_INT(t, lilm_utf8_char_len('a'), 1);
    LT_EQ_INT(t, lilm_utf8_char_len(0x80), 1); /* stray continuation: one byte */
    LT_EQ_INT(t, lilm_utf8_char_len(0xC3), 2);
    LT_EQ_INT(t, lilm_utf8_char_len(0xE2), 3);
    LT_EQ_INT(t, lilm_utf8_char_len(0xF0), 4);
}

static void test_round_trip(lilm_test *t)
{
    static const uint32_t cps[] = {0x00, 0x41, 0x7F, 0x80, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFFFF, 0x10000, 0x10FFFF};
    static const size_t lens[] = {1, 1, 1, 2, 2, 3, 3, 3, 3, 4, 4};
    size_t n = sizeof cps / sizeof cps[0];
    char text[64];
    size_t tl = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = lilm_utf8_encode(cps[i], text + tl);
        LT_CHECK(t, k == lens[i], "U+%04X: %zu bytes, want %zu", (unsigned)cps[i], k, lens[i]);
        if (cps[i] != 0) LT_EQ_INT(t, lilm_utf8_valid_len(text + tl, k), k);
        tl += k;
    }
    uint32_t back[64];
    LT_EQ_INT(t, lilm_utf8_decode(text, tl, back), n);
    for (size_t i = 0; i < n; i++) LT_CHECK(t, back[i] == cps[i], "code point %zu: U+%04X", i, (unsigned)back[i]);
}

static const lilm_test_case cases[] = {
    {"valid_len", test_valid_len},
    {"char_len", test_char_len},
    {"round_trip", test_round_trip},
};
LILM_TEST_MAIN(cases)
