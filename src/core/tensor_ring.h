/*
 * tensor_ring.h: the shape of a tensor-ring factorised Linear, shared by
 * the component table (core/components.c: the cores' names and shapes), the
 * model and every backend (src/cpu/tensor_ring.c).
 *
 * A Linear from I = in to O = out features whose (O, I) weight is never a
 * parameter itself: I and O are prime-factorised (factors ascending) and the
 * shorter list is padded with 1s at its end, so both have n factors
 * a_0..a_{n-1} (I = prod a_j) and b_0..b_{n-1} (O = prod b_j). Core j has
 * shape (R, R, a_j, b_j), R the bond dimension, and
 *     W[o][i] = sum over alpha_0..alpha_{n-1} of
 *               prod_j G_j[alpha_j][alpha_{(j+1) mod n}][i_j][o_j]
 *             = trace(G_0[:, :, i_0, o_0] G_1[:, :, i_1, o_1] ... G_{n-1}[...])
 * with i = (i_0, ..., i_{n-1}) and o = (o_0, ..., o_{n-1}) row-major multi-
 * indices (i_0 slowest). y = x W^T + bias, as nn.Linear. The cores lie one
 * after another in one fp32 block (core j at lilm_tr_shape.offset[j]); the
 * PyTorch reference names them cores.0 .. cores.{n-1} (tests/torch_ref/lowrank.py).
 *
 * Initialisation (the reference's): every core element ~ N(0, std^2) with
 * std = 1 / (sqrt(R) * (I * R)^(1 / (2n))), which gives Var W = 1 / (I R);
 * the bias is zero.
 */
#ifndef LILM_CORE_TENSOR_RING_H
#define LILM_CORE_TENSOR_RING_H

#include <stddef.h>

#include "core/status.h"

/* 2^32 has 32 prime factors, so no size_t-sized feature count on a 64-bit
 * machine needs more than 64. */
#define LILM_TR_MAX_FACTORS 64

typedef struct lilm_tr_shape {
    size_t in, out;                        /* I, O */
    size_t bond;                           /* R */
    int n;                                 /* factors per side (>= 1) */
    size_t a[LILM_TR_MAX_FACTORS];         /* input factors, ascending, then 1s */
    size_t b[LILM_TR_MAX_FACTORS];         /* output factors, ascending, then 1s */
    size_t offset[LILM_TR_MAX_FACTORS];    /* floats before core j in the block */
    size_t n_params;                       /* floats of all cores */
} lilm_tr_shape;

/* Factorises in and out; LILM_ERR_ARG when a size or the bond dim is 0. */
lilm_status lilm_tr_shape_init(lilm_tr_shape *s, size_t in, size_t out, size_t bond);

/* The reference's initial standard deviation of every core element. */
double lilm_tr_init_std(const lilm_tr_shape *s);

#endif
