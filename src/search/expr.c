/*
 * expr.c: a recursive-descent evaluator for the grammar in expr.h.
 *
 * The parser evaluates as it reads (no tree): expressions are a few tokens
 * long and evaluated once per trial. The first error stops it and is
 * reported with the column where it was found.
 */
#include "search/expr.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const char *text;
    const char *p;
    const lilm_expr_env *env;
    lilm_status err;
} parser;

static double fail(parser *ps, const char *what)
{
    if (ps->err == LILM_OK)
        ps->err = lilm_errorf(LILM_ERR_ARG, "expression '%s': %s at column %d", ps->text, what,
                              (int)(ps->p - ps->text) + 1);
    return NAN;
}

static void skip(parser *ps)
{
    while (isspace((unsigned char)*ps->p)) ps->p++;
}

static int is_name_char(char c) { return isalnum((unsigned char)c) || c == '_' || c == '.'; }

static double sum(parser *ps);

static double call(parser *ps, const char *fn, size_t len)
{
    static const struct { const char *name; double (*f)(double); } fns[] = {
        {"sqrt", sqrt}, {"exp", exp}, {"log", log}, {"sin", sin}, {"cos", cos}, {"abs", fabs},
    };
    ps->p++;  /* '(' */
    double v = sum(ps);
    skip(ps);
    if (*ps->p != ')') return fail(ps, "expected ')'");
    ps->p++;
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        if (strlen(fns[i].name) == len && strncmp(fns[i].name, fn, len) == 0) return fns[i].f(v);
    return fail(ps, "unknown function");
}

static double atom(parser *ps)
{
    skip(ps);
    const char *s = ps->p;
    if (*s == '(') {
        ps->p++;
        double v = sum(ps);
        skip(ps);
        if (*ps->p != ')') return fail(ps, "expected ')'");
        ps->p++;
        return v;
    }
    if (isdigit((unsigned char)*s) || (*s == '.' && isdigit((unsigned char)s[1]))) {
        char *end = NULL;
        double v = strtod(s, &end);
        ps->p = end;
        return v;
    }
    if (is_name_char(*s)) {
        while (is_name_char(*ps->p)) ps->p++;
        size_t len = (size_t)(ps->p - s);
        skip(ps);
        if (*ps->p == '(') return call(ps, s, len);
        if (len == 2 && strncmp(s, "pi", 2) == 0) return M_PI;
        for (size_t i = 0; ps->env && i < ps->env->n; i++)
            if (strlen(ps->env->names[i]) == len && strncmp(ps->env->names[i], s, len) == 0) return ps->env->values[i];
        ps->p = s;
        return fail(ps, "unknown name");
    }
    return fail(ps, *s ? "unexpected character" : "unexpected end");
}

static double unary(parser *ps)
{
    skip(ps);
    if (*ps->p == '-') {
        ps->p++;
        return -unary(ps);
    }
    return atom(ps);
}

static double power(parser *ps)
{
    double base = unary(ps);
    skip(ps);
    if (*ps->p == '^') {
        ps->p++;
        return pow(base, power(ps));
    }
    return base;
}

static double product(parser *ps)
{
    double v = power(ps);
    for (;;) {
        skip(ps);
        char op = *ps->p;
        if (op != '*' && op != '/') return v;
        ps->p++;
        double r = power(ps);
        v = op == '*' ? v * r : v / r;
    }
}

static double sum(parser *ps)
{
    double v = product(ps);
    for (;;) {
        skip(ps);
        char op = *ps->p;
        if (op != '+' && op != '-') return v;
        ps->p++;
        double r = product(ps);
        v = op == '+' ? v + r : v - r;
    }
}

lilm_status lilm_expr_eval(const char *text, const lilm_expr_env *env, double *out)
{
    parser ps = {text, text, env, LILM_OK};
    double v = sum(&ps);
    skip(&ps);
    if (ps.err == LILM_OK && *ps.p) fail(&ps, "unexpected text");
    if (ps.err != LILM_OK) return ps.err;
    *out = v;
    return LILM_OK;
}
