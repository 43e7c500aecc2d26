/*
 * expr.h: arithmetic expressions over named values, for derived search keys
 * ("model.n_heads * model.qk_dim", "2 ^ log2_batch") and synthetic
 * objectives (the sampler's test functions).
 *
 * Grammar: sum = product (('+'|'-') product)*; product = power (('*'|'/')
 * power)*; power = unary ('^' power)?; unary = '-' unary | atom; atom =
 * number | name | name '(' sum ')' | '(' sum ')'. Names are letters, digits,
 * '_' and '.'; the functions are sqrt exp log sin cos abs, the constant pi.
 */
#ifndef LILM_SEARCH_EXPR_H
#define LILM_SEARCH_EXPR_H

#include <stddef.h>

#include "core/status.h"

/* The variables an expression may use: names[i] has value values[i]. */
typedef struct lilm_expr_env {
    const char *const *names;
    const double *values;
    size_t n;
} lilm_expr_env;

/* Evaluates text; LILM_ERR_ARG with the position on a syntax error or an
 * unknown name. */
lilm_status lilm_expr_eval(const char *text, const lilm_expr_env *env, double *out);

#endif
