/*
 * components.h: the model's architecture as data, one table per component kind.
 *
 * A layer is   x = x + attention(norm1(x));   x = x + ffn(norm2(x))
 * and every part of it comes from one of four tables:
 *   norms       rms | layer | none                 (model.norm)
 *   activations none | gelu | relu | relu2 | swiglu (model.activation)
 *               | svd_truncation | qr_truncation | svd_entropic
 *               (the low-rank maps of ops/truncation.h: each token's (F) vector
 *               as a d x F/d matrix; parameters model.act_k, act_eps, act_alpha)
 *   attention   standard | latent                   (model.latent_dim > 0)
 *   ffn         none | mlp | tensor_ring            (activation none removes it;
 *                                                    model.ffn_tr_bond > 0 factorises
 *                                                    both Linears, core/tensor_ring.h)
 * Each row gives the kind's enum, its config name, the name in the lilm_model
 * metadata and tests/torch_ref/model.py, its PyTorch module, and the parameter
 * tensors it owns: a role (which pointer of lilm_layer_ptrs it fills), the
 * state_dict suffix and a symbolic shape. lilm_arch_tensors() walks the tables
 * in state_dict order; the model's parameter table (src/model/params.c), its
 * per-layer pointers and the config's parameter count are all read from that
 * one walk, so they cannot disagree.
 *
 * Adding a component: its op (ops/backend.h, a CPU and a CUDA file), one row
 * here (the X-macro list for activations and norms), its tests.
 */
#ifndef LILM_CORE_COMPONENTS_H
#define LILM_CORE_COMPONENTS_H

#include <stddef.h>
#include <stdint.h>

/* ---- the lists: enum suffix, config name, metadata/model.py name, PyTorch module ---- */

/* Activations of the feed-forward block: X(ENUM, config, torch module, gate, formula).
 * gate 2 marks a gated unit: W1 produces 2F columns [gate | up] and the block
 * keeps F = act(gate) * up. Values are fixed (0 = none) by the op interface. */
#define LILM_ACTIVATIONS(X)                                                          \
    X(NONE, "none", "Identity", 1, "x (removes the feed-forward block)")              \
    X(GELU, "gelu", "GELU", 1, "0.5 x (1 + erf(x / sqrt 2)), exact")                  \
    X(RELU, "relu", "ReLU", 1, "max(x, 0)")                                           \
    X(RELU2, "relu2", "ReLU2", 1, "max(x, 0)^2")                                      \
    X(SWIGLU, "swiglu", "SwiGLU", 2, "silu(g) * u, [g | u] = W1 x (W1 is 2F x C)")          \
    X(SVD_TRUNC, "svd_truncation", "SVDTruncation", 1, "U diag(s kept) V^T: top act_k, s >= act_eps max") \
    X(QR_TRUNC, "qr_truncation", "QRTruncation", 1, "Q Q^T A, Q = qr(A Omega), Omega (F/d, act_k)")       \
    X(SVD_ENTROPIC, "svd_entropic", "SVDEntropic", 1, "U diag(s^act_alpha, norm kept) V^T")

/* Norms: X(ENUM, config, metadata name, torch module, tensors (1 weight, 2 +bias)). */
#define LILM_NORMS(X)                                 \
    X(RMS, "rms", "rmsnorm", "RMSNorm", 1)            \
    X(LAYER, "layer", "layernorm", "LayerNorm", 2)    \
    X(NONE, "none", "none", "Identity", 0)

#define LILM__ACT_ENUM(e, cfg, torch, gate, formula) LILM_ACT_##e,
typedef enum lilm_act { LILM_ACTIVATIONS(LILM__ACT_ENUM) LILM_ACT_COUNT } lilm_act;
#undef LILM__ACT_ENUM

#define LILM__NORM_ENUM(e, cfg, meta, torch, n) LILM_NORM_##e,
typedef enum lilm_norm_kind { LILM_NORMS(LILM__NORM_ENUM) LILM_NORM_COUNT } lilm_norm_kind;
#undef LILM__NORM_ENUM

typedef enum lilm_attn_kind { LILM_ATTN_STANDARD = 0, LILM_ATTN_LATENT, LILM_ATTN_COUNT } lilm_attn_kind;
typedef enum lilm_ffn_kind { LILM_FFN_NONE = 0, LILM_FFN_MLP, LILM_FFN_TENSOR_RING, LILM_FFN_COUNT } lilm_ffn_kind;

/* ---- parameter roles ----
 * The per-layer roles are in the order of lilm_layer_ptrs' fields
 * (src/model/model.h), which is an array indexed by role. */
typedef enum lilm_role {
    LILM_ROLE_NORM1_W = 0, LILM_ROLE_NORM1_B,
    LILM_ROLE_Q_W, LILM_ROLE_Q_B,
    LILM_ROLE_LAT_W, LILM_ROLE_LAT_B,
    LILM_ROLE_KV_W, LILM_ROLE_KV_B,
    LILM_ROLE_PROJ_W, LILM_ROLE_PROJ_B,
    LILM_ROLE_NORM2_W, LILM_ROLE_NORM2_B,
    LILM_ROLE_W1, LILM_ROLE_B1,
    LILM_ROLE_W2, LILM_ROLE_B2,
    LILM_ROLE_LAYER_COUNT,                       /* roles below are outside the layers */
    LILM_ROLE_EMBEDDING = LILM_ROLE_LAYER_COUNT,
    LILM_ROLE_FINAL_NORM_W,
    LILM_ROLE_FINAL_NORM_B,
    LILM_ROLE_TR_CORE,          /* a tensor-ring core after the first: the first carries the
                                 * Linear's weight role, the rest follow it in the block */
    LILM_ROLE_COUNT
} lilm_role;

/* Symbolic tensor dimensions, resolved against a model config. */
typedef enum lilm_dim {
    LILM_DIM_ONE = 0, /* the second dim of a vector */
    LILM_DIM_C,       /* d_model */
    LILM_DIM_V,       /* vocab_size */
    LILM_DIM_Q,       /* H * Dq */
    LILM_DIM_KV,      /* H * (Dq + Dv) */
    LILM_DIM_AV,      /* H * Dv */
    LILM_DIM_P,       /* latent_dim */
    LILM_DIM_F,       /* ffn_dim */
    LILM_DIM_GF,      /* gate * ffn_dim: W1's output width */
} lilm_dim;

/* One tensor a component owns. A Linear row stands for its .weight (rows, cols)
 * and .bias (rows); a norm row for one vector. */
typedef struct lilm_tensor_spec {
    lilm_role role;     /* of the weight; the bias is role + 1 */
    const char *suffix; /* "q" -> "<module>.q.weight" and ".bias"; norm: "weight" */
    lilm_dim rows, cols;
    int linear;         /* 1: weight + bias pair; 2: tensor-ring Linear (cores.0 .. cores.{n-1}
                         * of core/tensor_ring.h, bond model.ffn_tr_bond, then bias) */
} lilm_tensor_spec;

#define LILM_COMPONENT_TENSORS_MAX 4

typedef struct lilm_act_desc {
    lilm_act kind;
    const char *config_name;  /* model.activation, and the lilm_model metadata */
    const char *torch_name;   /* module in tests/torch_ref/model.py */
    int gate;                 /* 1 pointwise; 2 gated (W1 is gate*F x C) */
    const char *formula;
} lilm_act_desc;

typedef struct lilm_norm_desc {
    lilm_norm_kind kind;
    const char *config_name;  /* model.norm */
    const char *meta_name;    /* lilm_model metadata and model.py */
    const char *torch_name;
    int n_tensors;            /* 0, 1 (weight) or 2 (weight, bias) */
} lilm_norm_desc;

typedef struct lilm_attn_desc {
    lilm_attn_kind kind;
    const char *name;
    const char *torch_name;
    int n_tensors;
    lilm_tensor_spec tensors[LILM_COMPONENT_TENSORS_MAX]; /* under "<layer>.attention" */
} lilm_attn_desc;

typedef struct lilm_ffn_desc {
    lilm_ffn_kind kind;
    const char *name;
    const char *torch_name;
    int n_tensors;
    lilm_tensor_spec tensors[LILM_COMPONENT_TENSORS_MAX]; /* under "<layer>.ffn" */
} lilm_ffn_desc;

/* Rows by enum (NULL when out of range). */
const lilm_act_desc *lilm_act_info(lilm_act a);
const lilm_norm_desc *lilm_norm_info(lilm_norm_kind k);

/* NULL-terminated config names in enum order (the config's ENUM option lists). */
extern const char *const lilm_act_config_names[];
extern const char *const lilm_norm_config_names[];

/* Name lookups; return 1 and set *out when found, 0 otherwise. The metadata
 * names are what lilm_model JSON (checkpoints, fixtures) and model.py use. */
int lilm_act_from_name(const char *name, lilm_act *out);
int lilm_norm_from_meta_name(const char *name, lilm_norm_kind *out);

/* ---- the walk over one model's tensors ---- */

struct lilm_model_config;

/* One parameter tensor of a concrete model, in state_dict order. */
typedef struct lilm_tensor_info {
    const char *name;   /* full state_dict key (valid during the callback) */
    int layer;          /* -1 for the embedding and the final norm */
    lilm_role role;
    int ndim;           /* 1, 2, or 4 (a tensor-ring core) */
    int64_t shape[4];   /* (out, in) for Linear weights; (n, 1) for vectors; (R, R, a_j, b_j) for a core */
    int decay;          /* 1: weight decay applies (matrices) */
} lilm_tensor_info;

typedef void (*lilm_tensor_fn)(void *ctx, const lilm_tensor_info *t);

/* The FFN kind a config selects. */
lilm_ffn_kind lilm_model_ffn_kind(const struct lilm_model_config *c);

/* Calls fn for every parameter tensor of the model described by c, in the
 * reference's state_dict order:
 *   embedding.weight
 *   per layer i: attention_norm, feedforward_norm (with an FFN), attention.*, ffn.*
 *   final_norm
 * (the norm tensors' suffixes from the norm table, the rest from the attention
 * and FFN tables). Returns the total element count. */
int64_t lilm_arch_tensors(const struct lilm_model_config *c, lilm_tensor_fn fn, void *ctx);

#endif
