/*
 * test_json.c: the strict JSON reader and the writer helpers (core/json.h).
 *
 * Covers every value type, escapes and surrogate pairs, strictness (trailing
 * commas, leading zeros, bad UTF-8, control characters, trailing garbage,
 * nesting limit), error positions, and writer round trips.
 */
#include "test.h"

#include <stdint.h>

#include "core/json.h"
#include "core/status.h"
#include "core/utf8.h"

static lilm_json *parse_ok(lilm_test *t, const char *s)
{
    lilm_json *v = NULL;
    LT_OK(t, lilm_json_parse(&v, s, strlen(s), "t"));
    return v;
}

static void expect_fail(lilm_test *t, const char *s, size_t len, const char *needle)
{
    lilm_json *v = NULL;
    lilm_status st = lilm_json_parse(&v, s, len, "in.json");
    LT_CHECK(t, st == LILM_ERR_FORMAT, "'%.*s' should fail to parse (got %s)", (int)len, s, lilm_status_str(st));
    LT_TRUE(t, v == NULL);
    if (needle)
        LT_CHECK(t, strstr(lilm_last_error(), needle) != NULL, "error '%s' lacks '%s'", lilm_last_error(), needle);
    lilm_json_free(v);
}

static void test_values(lilm_test *t)
{
    lilm_json *v = parse_ok(t, " {\"a\": 1, \"b\": [true, false, null, -0.5e2, \"x\"], \"c\": {}, \"d\": [],"
                               " \"big\": 9223372036854775807, \"huge\": 1e400, \"neg\": -12} ");
    if (!v) return;
    LT_EQ_INT(t, v->type, LILM_JSON_OBJECT);
    LT_EQ_INT(t, v->n, 7);
    int64_t i = 0;
    LT_TRUE(t, lilm_json_get_int(v, "a", &i) && i == 1);
    LT_TRUE(t, lilm_json_get_int(v, "big", &i) && i == INT64_MAX);
    LT_TRUE(t, lilm_json_get_int(v, "neg", &i) && i == -12);
    const lilm_json *b = lilm_json_get(v, "b");
    LT_TRUE(t, b && b->type == LILM_JSON_ARRAY && b->n == 5);
    if (b && b->n == 5) {
        LT_TRUE(t, b->items[0].type == LILM_JSON_BOOL && b->items[0].boolean == 1);
        LT_TRUE(t, b->items[1].type == LILM_JSON_BOOL && b->items[1].boolean == 0);
        LT_TRUE(t, b->items[2].type == LILM_JSON_NULL);
        LT_NEAR(t, b->items[3].number, -50.0, 0);
        LT_TRUE(t, !b->items[3].is_int);
        LT_TRUE(t, b->items[4].type == LILM_JSON_STRING && strcmp(b->items[4].str, "x") == 0);
    }
    const lilm_json *c = lilm_json_get(v, "c");
    LT_TRUE(t, c && c->type == LILM_JSON_OBJECT && c->n == 0);
    double d = 0;
    LT_TRUE(t, lilm_json_get_num(v, "huge", &d) && isinf(d));
    LT_TRUE(t, lilm_json_get(v, "zz") == NULL);
    LT_TRUE(t, lilm_json_get_str(v, "a") == NULL); /* wrong type */
    lilm_json_free(v);

    v = parse_ok(t, "\"top\"");
    LT_TRUE(t, v && v->type == LILM_JSON_STRING && v->len == 3);
    lilm_json_free(v);
    v = parse_ok(t, "0");
    LT_TRUE(t, v && v->is_int && v->integer == 0);
    lilm_json_free(v);
}

static void test_strings(lilm_test *t)
{
    lilm_json *v = parse_ok(t, "{\"s\": \"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\u20AC\\ud83d\\ude00\\u0000z\", "
                               "\"u\": \"h\xC3\xA9llo \xF0\x9F\x98\x80\"}");
    if (!v) return;
    const lilm_json *s = lilm_json_get(v, "s");
    const char want[] = "a\"b\\c/d\b\f\n\r\t\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\0z";
    LT_TRUE(t, s && s->len == sizeof want - 1);
    if (s && s->len == sizeof want - 1) LT_TRUE(t, memcmp(s->str, want, s->len) == 0);
    LT_TRUE(t, strcmp(lilm_json_get_str(v, "u"), "h\xC3\xA9llo \xF0\x9F\x98\x80") == 0);
    lilm_json_free(v);
    /* duplicate keys: the last one wins */
    v = parse_ok(t, "{\"k\":1,\"k\":2}");
    int64_t i = 0;
    LT_TRUE(t, v && lilm_json_get_int(v, "k", &i) && i == 2);
    lilm_json_free(v);
}

static void test_strict(lilm_test *t)
{
    expect_fail(t, "", 0, "end of input");
    expect_fail(t, "[1,]", 4, "trailing comma");
    expect_fail(t, "{\"a\":1,}", 8, "trailing comma");
    expect_fail(t, "{\"a\" 1}", 7, "expected ':'");
    expect_fail(t, "{a:1}", 5, "string key");
    expect_fail(t, "01", 2, "leading zeros");
    expect_fail(t, "1.", 2, "digit expected");
    expect_fail(t, "1e", 2, "exponent");
    expect_fail(t, "-", 1, "bad number");
    expect_fail(t, "NaN", 3, "unexpected character");
    expect_fail(t, "tru", 3, "unexpected character");
    expect_fail(t, "[1] x", 5, "after the JSON value");
    expect_fail(t, "\"abc", 4, "unterminated string");
    expect_fail(t, "\"a\tb\"", 5, "control character");
    expect_fail(t, "\"\\x\"", 4, "unknown escape");
    expect_fail(t, "\"\\u12\"", 6, "bad \\u escape");
    expect_fail(t, "\"\\ud800\"", 8, "high surrogate");
    expect_fail(t, "\"\\udc00\"", 8, "lone low surrogate");
    expect_fail(t, "[1 2]", 5, "expected ',' or ']'");
    expect_fail(t, "[1", 2, "unterminated array");
    expect_fail(t, "{\"a\":1", 6, "unterminated object");
    expect_fail(t, "// c\n1", 6, "unexpected character");
    expect_fail(t, "\xEF\xBB\xBF{}", 5, "byte order mark");
    /* invalid UTF-8: lone continuation, overlong, surrogate, > U+10FFFF, truncated */
    expect_fail(t, "\"\x80\"", 3, "invalid UTF-8");
    expect_fail(t, "\"\xC0\xAF\"", 4, "invalid UTF-8");
    expect_fail(t, "\"\xE0\x80\xAF\"", 5, "invalid UTF-8");
    expect_fail(t, "\"\xED\xA0\x80\"", 5, "invalid UTF-8");
    expect_fail(t, "\"\xF4\x90\x80\x80\"", 6, "invalid UTF-8");
    expect_fail(t, "\"\xE2\x82\"", 4, "invalid UTF-8");
    /* an embedded NUL outside a string is garbage, and length is honoured */
    expect_fail(t, "1\0", 2, "after the JSON value");
    /* nesting limit */
    char deep[LILM_JSON_MAX_DEPTH + 10];
    memset(deep, '[', sizeof deep);
    expect_fail(t, deep, sizeof deep, "nesting too deep");
}

static void test_error_position(lilm_test *t)
{
    const char *s = "{\n  \"a\": 1,\n  \"b\" 2\n}";
    lilm_json *v = NULL;
    LT_STATUS(t, lilm_json_parse(&v, s, strlen(s), "meta.json"), LILM_ERR_FORMAT);
    LT_CHECK(t, strstr(lilm_last_error(), "meta.json:3:7 (byte 18)") != NULL, "got '%s'", lilm_last_error());
}

static void test_utf8_valid(lilm_test *t)
{
    size_t bad = 99;
    LT_TRUE(t, lilm_utf8_valid("plain ascii text that is long enough", 36, &bad));
    LT_TRUE(t, lilm_utf8_valid("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", 9, &bad));
    LT_TRUE(t, !lilm_utf8_valid("abcdefghij\xFFz", 12, &bad) && bad == 10);
    LT_TRUE(t, !lilm_utf8_valid("abc\xE2\x82", 5, &bad) && bad == 3);
    LT_TRUE(t, lilm_utf8_valid("", 0, &bad));
}

static void test_writer(lilm_test *t)
{
    for (int pretty = 0; pretty <= 1; pretty++) {
        lilm_json_writer w;
        lilm_json_writer_init(&w, pretty);
        lilm_json_begin_object(&w);
        lilm_json_key(&w, "name");
        lilm_json_str(&w, "q\"uo\\te\n\x01 \xC3\xA9");
        lilm_json_key(&w, "n");
        lilm_json_int(&w, -42);
        lilm_json_key(&w, "x");
        lilm_json_double(&w, 0.1);
        lilm_json_key(&w, "nan");
        lilm_json_double(&w, NAN);
        lilm_json_key(&w, "list");
        lilm_json_begin_array(&w);
        lilm_json_bool(&w, 1);
        lilm_json_null(&w);
        lilm_json_begin_object(&w);
        lilm_json_end_object(&w);
        lilm_json_begin_array(&w);
        lilm_json_end_array(&w);
        lilm_json_end_array(&w);
        lilm_json_end_object(&w);
        char *text = NULL;
        size_t n = 0;
        LT_OK(t, lilm_json_writer_finish(&w, &text, &n));
        if (!text) continue;
        if (!pretty)
            LT_CHECK(t, strcmp(text, "{\"name\":\"q\\\"uo\\\\te\\n\\u0001 \xC3\xA9\",\"n\":-42,\"x\":0.10000000000000001,"
                                     "\"nan\":null,\"list\":[true,null,{},[]]}") == 0, "got %s", text);
        lilm_json *v = NULL;
        LT_OK(t, lilm_json_parse(&v, text, n, "written"));
        if (v) {
            LT_TRUE(t, strcmp(lilm_json_get_str(v, "name"), "q\"uo\\te\n\x01 \xC3\xA9") == 0);
            double d = 0;
            LT_TRUE(t, lilm_json_get_num(v, "x", &d) && d == 0.1);
            const lilm_json *l = lilm_json_get(v, "list");
            LT_TRUE(t, l && l->n == 4);
        }
        lilm_json_free(v);
        free(text);
    }
    /* misuse is reported, not silently written */
    lilm_json_writer w;
    lilm_json_writer_init(&w, 0);
    lilm_json_begin_object(&w);
    char *text = NULL;
    LT_STATUS(t, lilm_json_writer_finish(&w, &text, NULL), LILM_ERR_INTERNAL);
    LT_TRUE(t, text == NULL);
}

static void test_write_escaped_file(lilm_test *t)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    char big[700];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (i % 100 == 0) ? '"' : 'a';
    lilm_json_write_escaped(f, big, sizeof big);
    fclose(f);
    lilm_json *v = NULL;
    LT_OK(t, lilm_json_parse(&v, buf, n, "mem"));
    LT_TRUE(t, v && v->type == LILM_JSON_STRING && v->len == sizeof big && memcmp(v->str, big, sizeof big) == 0);
    lilm_json_free(v);
    free(buf);
}

static const lilm_test_case cases[] = {
    {"values", test_values},
    {"strings", test_strings},
    {"strict", test_strict},
    {"error_position", test_error_position},
    {"utf8_valid", test_utf8_valid},
    {"writer", test_writer},
    {"write_escaped_file", test_write_escaped_file},
};
LILM_TEST_MAIN(cases)
