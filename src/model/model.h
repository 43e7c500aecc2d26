/*
 * model.h: the reference transformer, its parameters and its memory plan.
 *
 * The model is the reference's baseline (see SEED_REFERENCE.md): a tied token
 * embedding, L identical pre-norm layers
 *     x = x + reproject(attention(norm1(x)))
 *     x = x + W2(act(W1(norm2(x))))
 * a final norm, and logits = norm(x) @ E^T. Attention uses q = Linear(C, H*Dq)
 * and kv = Linear(C, H*(Dq+Dv)) (or, latent, Linear(C,p) then Linear(p, ...)),
 * split as [k block | v block]; RoPE on q and k; causal softmax.
 *
 * Memory is planned once in lilm_model_init: one block each for parameters
 * and gradients (fp32), the weight compute copy (the backend's act dtype;
 * aliases the parameters on CPU), and all activations for the largest
 * micro-batch (B, T). Nothing is allocated by forward or backward. The
 * optimizer's state (AdamW's moments) belongs to the optimizer
 * (train/optimizer.h), not to the model. A model built in inference mode
 * (eval, sampling) has no gradients and no backward scratch, and all its
 * layers share one layer's activation buffers: it can only run forward
 * passes without gradients and decode.
 * The parameter table lists tensors in the reference's state_dict order with
 * the reference's names, so checkpoints load into PyTorch directly.
 */
#ifndef LILM_MODEL_MODEL_H
#define LILM_MODEL_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/config.h"
#include "core/status.h"
#include "core/tensor_ring.h"
#include "ops/backend.h"

#define LILM_PARAM_NAME_MAX 96

/* One parameter tensor. Offsets are in elements from the start of the block. */
typedef struct lilm_param {
    char name[LILM_PARAM_NAME_MAX]; /* state_dict key, e.g. "transformer_stack.3.attention.q.weight" */
    int ndim;                        /* 1, 2, or 4 (a tensor-ring core, core/tensor_ring.h) */
    int64_t shape[4];                /* (out, in) for Linear weights; (n) for vectors; (R, R, a_j, b_j) */
    size_t numel;
    size_t offset;
    int decay;                       /* 1: weight decay applies (matrices) */
    int layer;                       /* -1 outside the layers (embedding, final norm) */
    lilm_role role;                  /* which pointer it is (core/components.h) */
} lilm_param;

/* Pointers of one layer's parameters into a block (params, grads or the compute copy).
 * Pointers are `void *` for the compute copy and `float *` otherwise; absent ones NULL.
 * The named fields and by_role[] are the same storage: fields in lilm_role order. */
typedef union lilm_layer_ptrs {
    struct {
        void *norm1_w, *norm1_b;  /* (C) */
        void *q_w, *q_b;          /* (H*Dq, C), (H*Dq) */
        void *lat_w, *lat_b;      /* latent only: (p, C), (p) */
        void *kv_w, *kv_b;        /* (H*(Dq+Dv), C or p), (H*(Dq+Dv)) */
        void *proj_w, *proj_b;    /* (C, H*Dv), (C) */
        void *norm2_w, *norm2_b;  /* (C) */
        void *w1, *b1;            /* (gate*F, C), (gate*F) */
        void *w2, *b2;            /* (C, F), (C) */
    };
    void *by_role[LILM_ROLE_LAYER_COUNT];
} lilm_layer_ptrs;
_Static_assert(sizeof(lilm_layer_ptrs) == LILM_ROLE_LAYER_COUNT * sizeof(void *) &&
                   offsetof(lilm_layer_ptrs, q_w) == LILM_ROLE_Q_W * sizeof(void *) &&
                   offsetof(lilm_layer_ptrs, norm2_w) == LILM_ROLE_NORM2_W * sizeof(void *) &&
                   offsetof(lilm_layer_ptrs, b2) == LILM_ROLE_B2 * sizeof(void *),
               "lilm_layer_ptrs has one field per layer role, in role order");

/* Activations of one layer kept for the backward pass (backend memory, act dtype
 * unless noted). N = B*T rows. */
typedef struct lilm_layer_acts {
    void *x;        /* (N, C) residual stream entering the layer */
    void *h1;       /* (N, C) norm1(x) (aliases x with norm none) */
    float *mean1, *rstd1; /* (N) fp32 */
    void *q;        /* (N, H*Dq) rotated queries */
    void *lat;      /* (N, p) latent projection (latent attention only) */
    void *kv;       /* (N, H*(Dq+Dv)) [rotated keys | values] */
    void *att;      /* (N, H*Dv) attention output */
    float *lse;     /* (B, H, T) fp32 */
    void *x2;       /* (N, C) residual after attention */
    void *h2;       /* (N, C) norm2(x2) */
    float *mean2, *rstd2; /* (N) fp32 */
    void *pre;      /* (N, gate*F) W1 pre-activation ([g | u] for a gated activation) */
    void *act;      /* (N, F) act(pre) */
    float *trunc_saved; /* low-rank activations only: their state for the backward
                         * (lilm_trunc_saved_floats(N, F), fp32) */
} lilm_layer_acts;

/* What a model is built for: training (gradients and backward scratch) or
 * inference only (forward passes without gradients, decoding). */
typedef enum lilm_model_mode {
    LILM_MODEL_TRAIN = 0,
    LILM_MODEL_INFERENCE,
} lilm_model_mode;

typedef struct lilm_model {
    lilm_model_config cfg;
    lilm_model_mode mode;
    lilm_backend *be;          /* not owned */
    size_t max_B, max_T;

    lilm_param *params;        /* table, state_dict order */
    int n_params;
    size_t n_elems;            /* total parameter count */
    size_t act_size;           /* bytes per activation element */

    float *param_block;        /* (n_elems) fp32 master weights */
    float *grad_block;         /* (n_elems); NULL in inference mode */
    void *wc_block;            /* (n_elems) compute copy (== param_block on CPU) */
    int wc_is_alias;

    int emb_index;             /* index of embedding.weight in params */
    int final_norm_w, final_norm_b; /* indices (-1 if absent) */
    int *layer_first;          /* (L) index of each layer's first tensor */

    /* activation memory */
    void *act_block;
    size_t act_bytes;
    lilm_layer_acts *acts;     /* (L) */
    void *xf;                  /* (N, C) residual after the last layer */
    void *hf;                  /* (N, C) final norm output */
    float *meanf, *rstdf;      /* (N) */
    float *losses;             /* (N) per-token loss, backend memory */
    int32_t *tokens, *targets; /* (N) backend memory */
    /* backward scratch (act dtype) */
    void *d_res;               /* (N, C) gradient of the residual stream */
    void *d_h;                 /* (N, C) gradient of a norm output */
    void *d_wide;              /* (N, max(gate*F, H*Dv, H*Dq, H*(Dq+Dv))) */
    void *d_q;                 /* (N, H*Dq) */
    void *d_kv;                /* (N, H*(Dq+Dv)) */
    void *d_lat;               /* (N, p) */
    void *d_cls;               /* (N, C) classifier gradient w.r.t. the final norm output */
    float *dwte_cls;           /* (V, C) fp32 classifier gradient w.r.t. the embedding */
    float *logits_dev;         /* (max_B, V) fp32 logits of a few rows */
    float *host_losses;        /* (N) host copy */
    int pending_backward;      /* a training forward awaits its backward */
    size_t scratch_bytes;      /* backend scratch */

    size_t cur_B, cur_T;       /* shape of the last forward */

    /* low-rank activations (ops/truncation.h) */
    int trunc;                 /* 1: cfg.activation is one of them */
    lilm_trunc_params trunc_p; /* their parameters (key set per layer and step) */
    void *trunc_work;          /* be->ops->trunc_work_bytes, one for all layers */
    uint64_t seed;             /* the init seed; with step and layer, the QR truncation's Omega key */
    int64_t step;              /* optimizer step of the next forwards (lilm_model_set_step) */

    /* tensor-ring FFN Linears (core/tensor_ring.h; cfg.ffn_tr_bond > 0) */
    int tr;                    /* 1: ffn.0 and ffn.3 are rings of cores */
    lilm_tr_shape tr1, tr2;    /* ffn.0: C -> gate*F; ffn.3: F -> C */
    float *tr_w, *tr_dw;       /* (max(gate*F*C, F*C)) a dense W built from cores, its gradient */
    void *tr_work;             /* be->ops->tr_work_bytes of the larger ring */
} lilm_model;

/* Builds the parameter table and plans all memory for micro-batches up to
 * (max_B, max_T). Weights are initialised as PyTorch's defaults from `seed`.
 * lilm_model_init builds for training; lilm_model_init_mode chooses. */
lilm_status lilm_model_init(lilm_model *m, const lilm_model_config *cfg, lilm_backend *be,
                            size_t max_B, size_t max_T, uint64_t seed);
lilm_status lilm_model_init_mode(lilm_model *m, const lilm_model_config *cfg, lilm_backend *be,
                                 size_t max_B, size_t max_T, uint64_t seed, lilm_model_mode mode);
void lilm_model_free(lilm_model *m);

/* Prints the memory plan (parameters, grads, activations, scratch; then
 * `extra_bytes` of optimizer state under `extra_name` when extra_bytes > 0). */
void lilm_model_print_plan(const lilm_model *m, const char *extra_name, size_t extra_bytes, FILE *f);
/* Bytes the model holds on its backend (all its blocks; not the optimizer's). */
size_t lilm_model_bytes(const lilm_model *m);
/* Bytes a model of this config would hold in `mode` for micro-batch (B, T), without building it. */
size_t lilm_model_plan_bytes_mode(const lilm_model_config *cfg, lilm_dtype act_dtype, size_t B, size_t T,
                                  lilm_model_mode mode);
/* Fp32 arrays the size of the parameters that the default optimizer keeps
 * (AdamW: the moments m and v; lilm_optimizer_plan_bytes is the general count). */
#define LILM_MODEL_PLAN_DEFAULT_OPTIM_ARRAYS 2
/* Bytes training a model of this config needs for micro-batch (B, T): the
 * training-mode model plus the default optimizer's state. */
size_t lilm_model_plan_bytes(const lilm_model_config *cfg, lilm_dtype act_dtype, size_t B, size_t T);

/* Looks a parameter up by state_dict name; NULL if absent. */
const lilm_param *lilm_model_find_param(const lilm_model *m, const char *name);

/* Refreshes the compute copy of the weights from the fp32 master (after an
 * update or a load). A no-op on CPU. */
void lilm_model_sync_weights(lilm_model *m);

/* Forward pass over host tokens (B, T) and targets (B, T) (targets may be NULL:
 * no loss). Returns the sum of per-token losses over counted targets in
 * *loss_sum and their number in *n_counted (either may be NULL).
 * With grad_scale > 0 (training) the fused classifier also computes its
 * gradients, for the loss sum scaled by grad_scale (1/counted tokens gives
 * the mean), so that lilm_model_backward() can follow without recomputing the
 * logits. The classifier's weight gradient is held aside until backward, so a
 * micro-batch whose loss is rejected (a spike) can be dropped by simply not
 * calling backward. */
lilm_status lilm_model_forward(lilm_model *m, const int32_t *inputs, const int32_t *targets,
                               size_t B, size_t T, float grad_scale, double *loss_sum,
                               int64_t *n_counted);

/* Backward pass of the last training forward; gradients are ACCUMULATED into
 * grad_block. Training mode only (as is a forward with grad_scale > 0). */
lilm_status lilm_model_backward(lilm_model *m);

void lilm_model_zero_grad(lilm_model *m);

/* The optimizer step the next forwards belong to (0 after init). The QR
 * truncation activation draws its random matrix from (seed, step, layer)
 * (lilm_qr_omega_key), so each step gets a fresh one, every micro-batch and
 * the backward of a step the same, and a resumed run the same as an
 * uninterrupted one. */
void lilm_model_set_step(lilm_model *m, int64_t step);

/* Logits of every position of the last forward, (B*T, V) fp32 host (for checks). */
lilm_status lilm_model_all_logits(lilm_model *m, float *logits);

/* Model FLOPs of one training step on B*T tokens (6*N*params + attention). */
double lilm_model_train_flops(const lilm_model_config *cfg, size_t B, size_t T);

/* ---- KV-cache decoding (decode.c) ----
 * Sampling feeds a few tokens at a time: each step runs the new rows
 * through every layer, appends their rotated keys and values to per-layer
 * caches and attends over everything cached so far (the backend's
 * attention_forward with pos0 = tokens already cached). Memory is planned
 * once in lilm_decoder_init for B sequences of up to Tmax tokens, fed in
 * chunks of up to max_chunk tokens. The model's weights are read, never
 * written; its training activations are not touched. */
typedef struct lilm_decoder {
    lilm_model *m;             /* not owned */
    size_t B, Tmax, max_chunk;
    size_t pos;                /* tokens cached per sequence */
    void **kv;                 /* (L) each (B, Tmax, H*(Dq+Dv)) [rotated k | v] */
    void *block;               /* one backend allocation holding the buffers below */
    size_t bytes;
    int32_t *tokens;           /* (B*max_chunk) backend memory */
    void *x;                   /* (B*max_chunk, C) residual stream */
    void *h;                   /* (B*max_chunk, C) norm output */
    float *rstd, *mean;        /* (B*max_chunk) */
    void *q;                   /* (B*max_chunk, H*Dq) */
    void *lat;                 /* (B*max_chunk, p) latent only */
    void *kvnew;               /* (B*max_chunk, H*(Dq+Dv)) */
    void *att;                 /* (B*max_chunk, H*Dv) */
    void *tmp;                 /* (B*max_chunk, C) */
    void *pre, *act;           /* (B*max_chunk, gate*F), (B*max_chunk, F) */
    void *last;                /* (B, C) final-norm rows of each sequence's last position */
    float *logits_dev;         /* (B, V) */
    float *trunc_saved;        /* low-rank activations: lilm_trunc_saved_floats(B*max_chunk, F) */
    void *trunc_work;          /* and their workspace */
} lilm_decoder;

lilm_status lilm_decoder_init(lilm_decoder *d, lilm_model *m, size_t B, size_t Tmax, size_t max_chunk);
void lilm_decoder_free(lilm_decoder *d);
/* Forgets the cache (a new prompt). */
void lilm_decoder_reset(lilm_decoder *d);
/* Bytes a decoder of this shape allocates (caches and step buffers). */
size_t lilm_decoder_plan_bytes(const lilm_model_config *cfg, lilm_dtype act_dtype, size_t B, size_t Tmax,
                               size_t max_chunk);
/* Feeds tokens (B, n) (host, row-major; 1 <= n <= max_chunk) at positions
 * pos .. pos+n-1 and writes the logits of each sequence's last new position
 * into logits (B, V) host fp32 (may be NULL). Fails when the cache would
 * exceed Tmax. */
lilm_status lilm_decoder_step(lilm_decoder *d, const int32_t *tokens, size_t n, float *logits);

#endif
