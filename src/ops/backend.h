/*
 * backend.h: the op interface every compute backend implements.
 *
 * The model (src/model/) builds the transformer's forward and backward pass
 * out of the ops below and calls them only through a backend's op table
 * (`be->ops->op(be, ...)`), so the trainer never sees which device it runs
 * on. The table (`lilm_backend_ops`, one static const table per backend
 * kind) is separate from the instance (`lilm_backend`: the table, what the
 * backend is, and its private state). src/cpu/ fills its table with fp32
 * OpenMP code (the reference); src/cuda/ with bf16 kernels.
 *
 * Memory and dtypes
 *   - Every pointer passed to an op lives in the backend's memory (host for CPU,
 *     device for CUDA), allocated through be->ops->alloc before step 0.
 *   - Parameters, parameter gradients and optimizer moments are always fp32
 *     (`float *`).
 *   - Activations, activation gradients and the "compute copy" of weights are
 *     `void *` in the backend's act_dtype: fp32 on CPU, bf16 on CUDA. On CPU the
 *     compute copy of the weights is the fp32 parameter block itself.
 *   - Small per-row statistics (norm rstd/mean, attention log-sum-exp, per-token
 *     losses) are fp32. Token ids and targets are int32.
 *   - Bias and norm weight/bias vectors are passed as fp32 parameters (never the
 *     compute copy), so backends read them in full precision.
 *
 * Conventions
 *   - Signatures: outputs first, then inputs, then dimensions.
 *     N = B*T rows; C = d_model; V = vocab; H = heads; Dq = qk_dim; Dv = v_dim.
 *   - Parameter gradients are ACCUMULATED (+=), so gradient accumulation over
 *     micro-batches needs no extra buffers; the trainer zeroes them per step.
 *   - Activation gradients are WRITTEN (=), except where marked "+=": the norm
 *     backward adds into the residual-stream gradient, and matmul_backward adds
 *     into din when `accumulate` is set (two Linears reading the same input).
 *   - Ops never allocate. Scratch needed by a backend is sized once by
 *     be->ops->reserve() from the largest shapes the model will use.
 *   - Ops return void; device errors are recorded in the backend and surface at
 *     the next be->ops->sync(), which returns a lilm_status.
 */
#ifndef LILM_OPS_BACKEND_H
#define LILM_OPS_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "core/components.h" /* lilm_act: the activations (one table for the model and the backends) */
#include "core/status.h"
#include "core/tensor_ring.h"  /* lilm_tr_shape: tensor-ring Linears */
#include "ops/truncation.h"    /* lilm_trunc_params: the low-rank activations' parameters */

typedef enum lilm_device {
    LILM_DEVICE_CPU = 0,
    LILM_DEVICE_CUDA = 1,
} lilm_device;

typedef enum lilm_dtype {
    LILM_DTYPE_F32 = 0,
    LILM_DTYPE_BF16 = 1,
} lilm_dtype;

/* Bytes per element of a dtype. */
static inline size_t lilm_dtype_size(lilm_dtype d) { return d == LILM_DTYPE_BF16 ? 2 : 4; }

/* Kernel choices a backend takes at creation (train.cuda.* in the config;
 * lilm_backend_options_from_config). Zero-filled = the defaults. A backend
 * ignores the options that are not its own. */
typedef enum lilm_cuda_attention {
    LILM_CUDA_ATTN_AUTO = 0, /* thread-per-row kernels for heads <= 32, warp-per-row above */
    LILM_CUDA_ATTN_WARP,     /* warp-per-row for every head size */
    LILM_CUDA_ATTN_MMA,      /* bf16 tensor cores where they apply, auto elsewhere */
} lilm_cuda_attention;

typedef struct lilm_backend_options {
    lilm_cuda_attention cuda_attention;
    int cuda_no_epilogue;    /* 1: never fuse the bias into cuBLASLt's GEMM epilogue */
    int cuda_device;         /* the GPU to use (a data-parallel rank takes its rank on the host) */
} lilm_backend_options;

/* Activations are lilm_act (core/components.h: NONE = 0, GELU exact
 * 0.5 x (1 + erf(x / sqrt 2)), RELU, RELU2 = max(x, 0)^2, SWIGLU). Pointwise
 * ones run alone or fused as a matmul epilogue; gated ones (SwiGLU) halve the
 * width and run alone (glu_forward). */

/* The largest shapes a backend must be ready for (scratch sizing). */
typedef struct lilm_backend_plan {
    size_t max_rows;    /* N = B*T of the largest micro-batch */
    size_t max_batch;   /* B */
    size_t max_seq;     /* T */
    size_t d_model;     /* C */
    size_t vocab;       /* V */
    size_t n_heads;     /* H */
    size_t qk_dim;      /* Dq */
    size_t v_dim;       /* Dv */
    size_t max_width;   /* the widest Linear output (ffn, kv, ...) */
} lilm_backend_plan;

/* One tensor for the multi-tensor AdamW. */
typedef struct lilm_adamw_tensor {
    float *param;       /* (n) fp32 master weights, updated in place */
    const float *grad;  /* (n) */
    float *m, *v;       /* (n) first and second moments */
    size_t n;
    float weight_decay; /* 0 for biases and norm weights */
} lilm_adamw_tensor;

typedef struct lilm_adamw_hparams {
    float lr, beta1, beta2, eps;
    int64_t step;       /* 1-based step count for bias correction */
} lilm_adamw_hparams;

typedef struct lilm_backend lilm_backend;

/* The operations of a backend: one static const table per backend kind,
 * shared by all its instances. Every op takes the instance first. */
typedef struct lilm_backend_ops {
    /* ---- lifetime and memory ---- */
    void (*destroy)(lilm_backend *be);
    /* Size the backend's own scratch for shapes up to `plan`; may be called
     * again with a larger plan. Reports the bytes it holds in *scratch_bytes. */
    lilm_status (*reserve)(lilm_backend *be, const lilm_backend_plan *plan, size_t *scratch_bytes);
    lilm_status (*alloc)(lilm_backend *be, void **ptr, size_t bytes); /* zero-filled */
    void (*free)(lilm_backend *be, void *ptr);
    lilm_status (*upload)(lilm_backend *be, void *dst, const void *host_src, size_t bytes);
    lilm_status (*download)(lilm_backend *be, void *host_dst, const void *src, size_t bytes);
    void (*zero)(lilm_backend *be, void *ptr, size_t bytes);
    lilm_status (*sync)(lilm_backend *be);   /* wait for queued work; report device errors */
    /* Bytes of device memory in use at its peak so far (0 if unknown). */
    size_t (*peak_bytes)(lilm_backend *be);
    /* The memory this backend allocates from: its capacity and what is free now,
     * in bytes (host RAM on CPU, the GPU's memory on CUDA; 0 when unknown). */
    void (*memory_info)(const lilm_backend *be, size_t *total, size_t *available);

    /* ---- data parallel (NULL where the backend has none: the CPU backend's
     * gradients are host memory, which src/dist sums over MPI) ---- */
    /* A new group id of `bytes` bytes (rank 0 makes it; MPI carries it to the others). */
    lilm_status (*comm_id)(lilm_backend *be, void *id, size_t bytes);
    /* Joins the group `id` as `rank` of `size` (every rank calls it together). */
    lilm_status (*comm_init)(lilm_backend *be, const void *id, size_t bytes, int rank, int size);
    /* buf (n) fp32 device memory <- its sum over the group, in place, queued on the backend's stream. */
    lilm_status (*comm_sum_f32)(lilm_backend *be, float *buf, size_t n);

    /* ---- dtype conversion (weights to their compute copy) ---- */
    /* out (n) act_dtype <- in (n) fp32. On CPU (f32) out may equal in: no-op. */
    void (*cast_to_act)(lilm_backend *be, void *out, const float *in, size_t n);
    /* out (n) fp32 <- in (n) act_dtype (for reading activations back). */
    void (*cast_to_f32)(lilm_backend *be, float *out, const void *in, size_t n);

    /* ---- token embedding ---- */
    /* out (N,C) = wte[tokens[i], :] */
    void (*embedding_forward)(lilm_backend *be, void *out, const int32_t *tokens,
                              const void *wte, size_t N, size_t C);
    /* dwte (V,C) += scatter of dout (N,C) by tokens */
    void (*embedding_backward)(lilm_backend *be, float *dwte, const void *dout,
                               const int32_t *tokens, size_t N, size_t C, size_t V);

    /* ---- normalisation (RMSNorm when bias==NULL && mean==NULL; LayerNorm otherwise) ---- */
    /* RMSNorm: out = in / sqrt(mean(in^2) + eps) * weight.
     * LayerNorm: out = (in - mean) / sqrt(var + eps) * weight + bias.
     * out (N,C); mean (N) fp32 or NULL for RMSNorm; rstd (N) fp32; in (N,C);
     * weight (C) fp32; bias (C) fp32 or NULL. */
    void (*norm_forward)(lilm_backend *be, void *out, float *mean, float *rstd,
                         const void *in, const float *weight, const float *bias,
                         size_t N, size_t C, float eps);
    /* din (N,C) +=; dweight (C) +=; dbias (C) += (if non-NULL). */
    void (*norm_backward)(lilm_backend *be, void *din, float *dweight, float *dbias,
                          const void *dout, const void *in, const float *weight,
                          const float *mean, const float *rstd, size_t N, size_t C);

    /* ---- Linear layer with optional fused activation ---- */
    /* pre (N,OC) = in (N,IC) @ w(OC,IC)^T + bias (OC, fp32, may be NULL);
     * out (N,OC) = act(pre). With act == NONE, `pre` is unused (may be NULL) and
     * the result goes to out. With an activation, `pre` keeps the
     * pre-activation for the backward pass. w is the compute copy. */
    void (*matmul_forward)(lilm_backend *be, void *out, void *pre, const void *in,
                           const void *w, const float *bias,
                           size_t N, size_t IC, size_t OC, lilm_act act);
    /* With act != NONE, dout is the gradient of act(pre) and is overwritten
     * with the gradient of pre. din (N,IC) = (or += when accumulate) dpre @ w;
     * dw (OC,IC) += dpre^T @ in; dbias (OC) += column sums of dpre (if non-NULL).
     * din may be NULL (no input gradient wanted). */
    void (*matmul_backward)(lilm_backend *be, void *din, float *dw, float *dbias,
                            void *dout, const void *pre, const void *in, const void *w,
                            size_t N, size_t IC, size_t OC, lilm_act act, int accumulate);

    /* ---- elementwise ---- */
    /* 1 when this backend computes `act`: pointwise ones (lilm_act_info(act)->gate
     * == 1) in act_forward/act_backward and matmul's epilogue, gated ones in
     * glu_forward/glu_backward, the low-rank ones (lilm_trunc_from_config) in
     * trunc_forward/trunc_backward. The model asks before it plans anything. */
    int (*act_supported)(lilm_backend *be, lilm_act act);
    /* Pointwise activations: */
    /* out (n) = act(in). */
    void (*act_forward)(lilm_backend *be, void *out, const void *in, size_t n, lilm_act act);
    /* din (n) = act'(in) * dout. */
    void (*act_backward)(lilm_backend *be, void *din, const void *dout, const void *in,
                         size_t n, lilm_act act);
    /* Gated activations (gate == 2; SwiGLU: act(g) = silu(g) = g sigmoid(g)):
     * in (N, 2F) holds [g | u] per row (the first F columns are the gate);
     * out (N, F) = act(g) * u. */
    void (*glu_forward)(lilm_backend *be, void *out, const void *in, size_t N, size_t F, lilm_act act);
    /* din (N, 2F) = [dout * u * act'(g) | dout * act(g)] (WRITTEN); dout (N, F).
     * din may alias in (each element pair is read before it is written). */
    void (*glu_backward)(lilm_backend *be, void *din, const void *dout, const void *in,
                         size_t N, size_t F, lilm_act act);
    /* Low-rank activations (lilm_trunc_from_config: svd_truncation,
     * qr_truncation, svd_entropic; ops/truncation.h), in place of act(pre) on
     * W1's (N, F) output. NULL where act_supported says 0 for them.
     * forward: out (N, F) = map(in (N, F)); saved (lilm_trunc_saved_floats)
     * is written for the backward and needed even at inference.
     * backward: din (N, F) = (WRITTEN, must not alias in); in is the forward's
     * input. work: trunc_work_bytes(F, p) bytes of backend memory, 64-byte
     * aligned, shared by every call. */
    size_t (*trunc_work_bytes)(lilm_backend *be, size_t F, const lilm_trunc_params *p);
    void (*trunc_forward)(lilm_backend *be, void *out, float *saved, const void *in,
                          size_t N, size_t F, const lilm_trunc_params *p, void *work);
    void (*trunc_backward)(lilm_backend *be, void *din, const void *dout, const void *in,
                           const float *saved, size_t N, size_t F, const lilm_trunc_params *p, void *work);
    /* Tensor-ring Linears (core/tensor_ring.h): the model builds the dense
     * weight, multiplies with matmul_forward/backward, and folds the weight
     * gradient back onto the cores. NULL where absent (then the model refuses
     * model.ffn_tr_bond). w (O, I) = the ring of cores (s->n_params fp32);
     * dcores += the gradient for dw (O, I). work: tr_work_bytes(s) bytes. */
    size_t (*tr_work_bytes)(lilm_backend *be, const lilm_tr_shape *s);
    void (*tr_weight)(lilm_backend *be, void *w, const float *cores, const lilm_tr_shape *s, void *work);
    void (*tr_weight_backward)(lilm_backend *be, float *dcores, const void *dw, const float *cores,
                               const lilm_tr_shape *s, void *work);
    /* out (n) = a + b (out may alias a). */
    void (*add)(lilm_backend *be, void *out, const void *a, const void *b, size_t n);
    /* out (n) += a */
    void (*accumulate)(lilm_backend *be, void *out, const void *a, size_t n);
    /* dst (n) = src */
    void (*copy)(lilm_backend *be, void *dst, const void *src, size_t n);

    /* ---- rotary position embedding (interleaved pairs), in place ----
     * x holds N = B*T rows of `stride` elements; head h of row (b,t) starts at
     * x + row*stride + h*D. Pair i of a head, (2i, 2i+1), is rotated by angle
     * (pos0 + t) * base^(-2i/D). backward applies the inverse rotation to the
     * gradient in place. */
    void (*rope_forward)(lilm_backend *be, void *x, size_t B, size_t T, size_t H, size_t D,
                         size_t stride, size_t pos0, float base);
    void (*rope_backward)(lilm_backend *be, void *dx, size_t B, size_t T, size_t H, size_t D,
                          size_t stride, size_t pos0, float base);

    /* ---- causal softmax attention ----
     * Queries: Tq rows per sequence at positions pos0..pos0+Tq-1; keys/values:
     * Tk = pos0+Tq rows per sequence (a KV cache holds the first pos0).
     * q  row (b,t) head h at q + (b*Tq+t)*q_stride + h*Dq
     * k  row (b,s) head h at k + (b*Tk+s)*kv_stride + h*Dq
     * v  row (b,s) head h at v + (b*Tk+s)*kv_stride + h*Dv
     * out (B,Tq,H,Dv) contiguous; lse (B,H,Tq) fp32 log-sum-exp of the scaled
     * scores (kept for the backward pass; may be NULL when not training).
     * Scores are scaled by 1/sqrt(Dq); key s is visible to query t iff s <= pos0+t. */
    void (*attention_forward)(lilm_backend *be, void *out, float *lse,
                              const void *q, const void *k, const void *v,
                              size_t B, size_t Tq, size_t Tk, size_t pos0, size_t H,
                              size_t Dq, size_t Dv, size_t q_stride, size_t kv_stride);
    /* Training only (pos0 = 0, Tq = Tk = T). dq, dk, dv are WRITTEN with the same
     * strides as q, k, v (dk and dv may live interleaved in one kv buffer). */
    void (*attention_backward)(lilm_backend *be, void *dq, void *dk, void *dv,
                               const void *dout, const void *q, const void *k, const void *v,
                               const void *out, const float *lse,
                               size_t B, size_t T, size_t H, size_t Dq, size_t Dv,
                               size_t q_stride, size_t kv_stride);

    /* ---- tied classifier + cross-entropy, without materialising all logits ----
     * logits = x (N,C) @ wte (V,C)^T. losses (N) fp32 = -log softmax(logits)[target],
     * 0 where target == ignore_id. When dx != NULL, also dx (N,C) = dloss_scale *
     * dL/dx (WRITTEN) and dwte (V,C) += dloss_scale * dL/dwte, where L = sum of
     * losses; pass dloss_scale = 1/(number of counted tokens) for a mean. */
    void (*classifier_xent)(lilm_backend *be, float *losses, void *dx, float *dwte,
                            const void *x, const void *wte, const int32_t *targets,
                            size_t N, size_t C, size_t V, int32_t ignore_id, float dloss_scale);
    /* logits (N,V) fp32 = x @ wte^T (sampling and evaluation of a few rows). */
    void (*classifier_logits)(lilm_backend *be, float *logits, const void *x, const void *wte,
                              size_t N, size_t C, size_t V);

    /* ---- optimizer and gradient utilities (fp32) ---- */
    /* Replace NaN/Inf in g (n) by 0; return the sum of squares of the result in
     * *sumsq (host pointer). Counts the replaced entries into *n_bad (host). */
    void (*grad_sanitize)(lilm_backend *be, float *g, size_t n, double *sumsq, int64_t *n_bad);
    /* x (n) *= s */
    void (*scale)(lilm_backend *be, float *x, size_t n, float s);
    /* y (n) += a * x, fp32 (e.g. folding the classifier's weight gradient into the grads) */
    void (*axpy)(lilm_backend *be, float *y, const float *x, size_t n, float a);
    /* Decoupled-weight-decay Adam over many tensors at once (PyTorch AdamW):
     * p -= lr*wd*p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
     * p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps). */
    void (*adamw)(lilm_backend *be, const lilm_adamw_tensor *tensors, size_t n_tensors,
                  const lilm_adamw_hparams *hp);
} lilm_backend_ops;

/* One backend instance: what it is (the description the rest of lilm reads:
 * device, dtypes, threads, sizes), its op table, and its private state. */
struct lilm_backend {
    const lilm_backend_ops *ops; /* the backend kind's op table */
    const char *name;          /* "cpu", "cuda" */
    lilm_device device;
    lilm_dtype act_dtype;      /* dtype of activations and the weight compute copy */
    int threads;               /* CPU threads used (informational on CUDA) */
    size_t peak_gemm_n;        /* square GEMM size that reaches the device's peak rate (lilm bench) */
    void *impl;                /* backend-private state (thread pool, handles, scratch) */
};

/* Backend construction (src/ops/backend.c chooses; each backend has its own). */
typedef enum lilm_device_choice {
    LILM_DEVICE_CHOICE_AUTO = 0, /* CUDA when a GPU is present, else CPU */
    LILM_DEVICE_CHOICE_CPU,
    LILM_DEVICE_CHOICE_CUDA,
} lilm_device_choice;

/* threads <= 0 means all cores. On success *out must be freed with lilm_backend_free.
 * opts may be NULL (the defaults). */
lilm_status lilm_backend_create(lilm_backend **out, lilm_device_choice choice, int threads);
lilm_status lilm_backend_create_opts(lilm_backend **out, lilm_device_choice choice, int threads,
                                     const lilm_backend_options *opts);
/* The backend a run's train section asks for: train.device, train.threads and
 * the train.cuda.* kernel options. */
struct lilm_train_config;
lilm_status lilm_backend_create_for(lilm_backend **out, const struct lilm_train_config *tc);
void lilm_backend_options_from_config(const struct lilm_train_config *tc, lilm_backend_options *out);
void lilm_backend_free(lilm_backend *be);
/* Parses "auto" | "cpu" | "cuda". */
lilm_status lilm_device_choice_parse(const char *s, lilm_device_choice *out);

/* Each backend's constructor. lilm_cuda_backend_create returns
 * LILM_ERR_UNSUPPORTED when lilm was built without CUDA or no GPU is present. */
lilm_status lilm_cpu_backend_create(lilm_backend **out, int threads);
lilm_status lilm_cuda_backend_create(lilm_backend **out, int device_index);
lilm_status lilm_cuda_backend_create_opts(lilm_backend **out, int device_index, const lilm_backend_options *opts);

#endif
