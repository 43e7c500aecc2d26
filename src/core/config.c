/*
 * config.c: the option table and everything it drives.
 *
 * One static table, lilm_cfg_table[], holds a row per lilm_config field:
 * key ("section.name"), type, field offset and size, default (as text), range,
 * enum names and help. Every other function here walks that table:
 *   - lilm_config_defaults parses each row's default text into the struct;
 *   - lilm_config_load_yaml reads a YAML file with libyaml's document loader
 *     and parses each scalar with the same parse_value() as the defaults;
 *   - lilm_config_set parses "section.key=value" (the CLI's --set);
 *   - lilm_config_write_yaml prints every row back so that
 *     load(write(cfg)) == cfg exactly (doubles as the shortest text that
 *     strtod reads back to the same bits, strings double-quoted and escaped);
 *   - lilm_config_print_help / _markdown print the table for humans.
 * Invariants: parse_value() is the only code that writes a field from text;
 * a failed load or set leaves the caller's config untouched (work happens on
 * a copy); every failure returns LILM_ERR_CONFIG with exactly one message of
 * the form "WHERE: key 'train.lr': must be a number in (0, 1], got 'abc'".
 */
#include "core/config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include <yaml.h>

#include "core/fileio.h"

/* ---------------------------------------------------------------------- */
/* The table                                                               */

static const char *const lilm_cfg_optimizer_names[] = {"adamw", "muon", NULL};
static const char *const lilm_cfg_sched_names[] = {"onecycle", "cosine", "constant", "wsd", NULL};
static const char *const lilm_cfg_budget_names[] = {"time", "steps", NULL};
static const char *const lilm_cfg_loader_names[] = {"packed", "document", NULL};
static const char *const lilm_cfg_device_names[] = {"auto", "cpu", "cuda", NULL};
/* in the order of lilm_cuda_attention (ops/backend.h) */
static const char *const lilm_cfg_cuda_attn_names[] = {"auto", "warp", "mma", NULL};

#define LILM_CFG_FIELD(sec, name) offsetof(lilm_config, sec.name), sizeof(((lilm_config *)0)->sec.name)
#define LILM_CFG_INF INFINITY

/* key, type, field, default, min, max, flags, names, help */
static const lilm_cfg_opt lilm_cfg_table[] = {
    /* model: the reference's SimpleStories baseline (7.3M parameters) */
    {"model.vocab_size", LILM_CFG_INT, LILM_CFG_FIELD(model, vocab_size), "8000", 4, 16777216, 0, NULL,
     "V: vocabulary size; must cover the tokenizer's ids (bytes tokenizer: 260)"},
    {"model.d_model", LILM_CFG_INT, LILM_CFG_FIELD(model, d_model), "288", 1, 65536, 0, NULL,
     "C: width of the residual stream"},
    {"model.n_layers", LILM_CFG_INT, LILM_CFG_FIELD(model, n_layers), "5", 1, 4096, 0, NULL,
     "L: number of transformer layers"},
    {"model.n_heads", LILM_CFG_INT, LILM_CFG_FIELD(model, n_heads), "3", 1, 1024, 0, NULL,
     "H: attention heads"},
    {"model.qk_dim", LILM_CFG_INT, LILM_CFG_FIELD(model, qk_dim), "96", 2, 4096, 0, NULL,
     "query/key width per head (even: rotary embedding rotates pairs)"},
    {"model.v_dim", LILM_CFG_INT, LILM_CFG_FIELD(model, v_dim), "96", 1, 4096, 0, NULL,
     "value width per head"},
    {"model.ffn_dim", LILM_CFG_INT, LILM_CFG_FIELD(model, ffn_dim), "1152", 1, 1048576, 0, NULL,
     "hidden width of the feed-forward block"},
    {"model.context", LILM_CFG_INT, LILM_CFG_FIELD(model, context), "512", 1, 1048576, 0, NULL,
     "T: maximum sequence length (tokens per training row)"},
    {"model.latent_dim", LILM_CFG_INT, LILM_CFG_FIELD(model, latent_dim), "0", 0, 65536, 0, NULL,
     "p of latent attention (kv = Linear(C, p) then Linear(p, H*(qk+v))); 0 = standard attention"},
    {"model.norm", LILM_CFG_ENUM, LILM_CFG_FIELD(model, norm), "rms", 0, 0, 0, lilm_norm_config_names,
     "normalisation before attention, feed-forward and logits"},
    {"model.activation", LILM_CFG_ENUM, LILM_CFG_FIELD(model, activation), "gelu", 0, 0, 0, lilm_act_config_names,
     "feed-forward activation: gelu (exact erf), relu, relu2 (relu squared), swiglu (silu(g) * u, W1 is 2F x C); none removes the feed-forward block; "
     "svd_truncation, qr_truncation, svd_entropic: low-rank maps of each token's activations (CPU only)"},
    {"model.act_k", LILM_CFG_INT, LILM_CFG_FIELD(model, act_k), "0", 0, 65536, 0, NULL,
     "svd_truncation: singular values kept per token (0 = no rank limit); qr_truncation: columns of the random "
     "test matrix (>= 1)"},
    {"model.act_eps", LILM_CFG_FLOAT, LILM_CFG_FIELD(model, act_eps), "0", 0, 1, LILM_CFG_MAX_OPEN, NULL,
     "svd_truncation: zero singular values below act_eps x the largest of the micro-batch (0 = off)"},
    {"model.act_alpha", LILM_CFG_FLOAT, LILM_CFG_FIELD(model, act_alpha), "2", 1, 1e6, LILM_CFG_MIN_OPEN, NULL,
     "svd_entropic: singular values s -> s^act_alpha, rescaled to keep each token's Frobenius norm"},
    {"model.ffn_tr_bond", LILM_CFG_INT, LILM_CFG_FIELD(model, ffn_tr_bond), "0", 0, 4096, 0, NULL,
     "bond dimension of tensor-ring feed-forward Linears (ffn.0, ffn.3 as rings of prime-factor cores; CPU only); "
     "0 = dense"},
    {"model.rope_base", LILM_CFG_FLOAT, LILM_CFG_FIELD(model, rope_base), "10000", 0, 1e12, LILM_CFG_MIN_OPEN,
     NULL, "rotary embedding base"},
    {"model.norm_eps", LILM_CFG_FLOAT, LILM_CFG_FIELD(model, norm_eps), "0", 0, 1, 0, NULL,
     "norm epsilon; 0 = PyTorch's default for the kind (RMSNorm: float32 eps, LayerNorm: 1e-5)"},
    {"model.pad_id", LILM_CFG_INT, LILM_CFG_FIELD(model, pad_id), "3", -1, 16777215, 0, NULL,
     "token id whose targets the loss ignores; -1 = none"},
    {"model.zero_init_proj", LILM_CFG_BOOL, LILM_CFG_FIELD(model, zero_init_proj), "false", 0, 0, 0, NULL,
     "start the attention reprojection and FFN W2 weights at zero (biases as usual)"},

    /* data */
    {"data.dataset", LILM_CFG_STRING, LILM_CFG_FIELD(data, dataset), "", 0, 0, 0, NULL,
     "prepared dataset directory (from `lilm data prepare`)"},
    {"data.text", LILM_CFG_STRING, LILM_CFG_FIELD(data, text), "", 0, 0, 0, NULL,
     "or: a UTF-8 text file or directory, tokenized on the fly"},
    {"data.tokenizer", LILM_CFG_STRING, LILM_CFG_FIELD(data, tokenizer), "", 0, 0, 0, NULL,
     "tokenizer .model path or \"bytes\"; empty = the dataset's own (with data.text: bytes)"},
    {"data.mode", LILM_CFG_ENUM, LILM_CFG_FIELD(data, mode), "packed", 0, 0, 0, lilm_cfg_loader_names,
     "packed: documents joined with EOS and cut into context-long blocks; document: one padded document per row"},
    {"data.shuffle_buffer", LILM_CFG_INT, LILM_CFG_FIELD(data, shuffle_buffer), "1024", 0, 16777216, 0, NULL,
     "blocks in the packed loader's shuffle buffer; 0 = no shuffling"},
    {"data.val_fraction", LILM_CFG_FLOAT, LILM_CFG_FIELD(data, val_fraction), "0.01", 0, 0.5, 0, NULL,
     "with data.text: share of documents held out for validation"},

    /* train: the reference's recipe */
    {"train.seed", LILM_CFG_U64, LILM_CFG_FIELD(train, seed), "42", 0, 0, 0, NULL,
     "seed of initialisation, data order and sampling"},
    {"train.batch_size", LILM_CFG_INT, LILM_CFG_FIELD(train, batch_size), "64", 1, 1048576, 0, NULL,
     "B: sequences per forward pass (micro-batch)"},
    {"train.accum_batch", LILM_CFG_INT, LILM_CFG_FIELD(train, accum_batch), "64", 1, 16777216, 0, NULL,
     "sequences per optimizer step (a multiple of batch_size)"},
    {"train.lr", LILM_CFG_FLOAT, LILM_CFG_FIELD(train, lr), "6e-3", 0, 1, LILM_CFG_MIN_OPEN, NULL,
     "peak learning rate"},
    {"train.schedule", LILM_CFG_ENUM, LILM_CFG_FIELD(train, schedule), "onecycle", 0, 0, 0, lilm_cfg_sched_names,
     "learning-rate schedule"},
    {"train.pct_start", LILM_CFG_FLOAT, LILM_CFG_FIELD(train, pct_start), "0.1", 0, 1,
     LILM_CFG_MIN_OPEN | LILM_CFG_MAX_OPEN, NULL, "onecycle: share of steps spent rising to the peak"},
    {"train.div_factor", LILM_CFG_FLOAT, LILM_CFG_FIELD(train, div_factor), "6", 1, 1e6, 0, NULL,
     "onecycle: initial lr = lr / div_factor"},
    {"train.final_div_factor", LILM_CFG_FLOAT, LILM_CFG_FIELD(train, final_div_factor), "20", 1, 1e9, 0, NULL,
     "onecycle: final lr = initial lr / final_div_factor"},
    {"train.warmup_frac", LILM_CFG_FLOAT, LILM_CFG_FIELD(train, warmup_frac), "0.1", 0, 1, LILM_CFG_MAX_OPEN, NULL,
     "cosine, wsd: share of steps of linear warm-up"},
    {"train.min_lr_frac", LILM_CFG_FLOAT, LILM_CFG_FIELD(train, min_lr_frac), "0.1", 0, 1, 0, NULL,
     "cosine, wsd: final lr as a fraction of lr"},
    {"train.decay_frac", LILM_CFG_FLOAT, LILM_CFG_FIELD(train, decay_frac), "0.2", 0, 1, 0, NULL,
     "wsd: share of steps of the final linear decay to min_lr_frac"},
    {"train.beta1", LILM_CFG_FLOAT, LILM_CFG_FIELD(train, beta1), "0.9", 0, 1, LILM_CFG_MAX_OPEN, NULL,
     "AdamW beta1"},
    {"train.beta2", LILM_CFG_FLOAT, LILM_CFG_FIELD(train, beta2), "0.95", 0, 1, LILM_CFG_MAX_OPEN, NULL,
     "AdamW beta2"},
    {"train.adam_eps", LILM_CFG_FLOAT, LILM_CFG_FIELD(train, adam_eps), "1e-8", 0, 1, LILM_CFG_MIN_OPEN, NULL,
     "AdamW epsilon"},
    {"train.weight_decay", LILM_CFG_FLOAT, LILM_CFG_FIELD(train, weight_decay), "0.02", 0, 10, 0, NULL,
     "AdamW decoupled weight decay, on matrices only (not biases, norms)"},
    {"train.optimizer", LILM_CFG_ENUM, LILM_CFG_FIELD(train, optimizer), "adamw", 0, 0, 0, lilm_cfg_optimizer_names,
     "adamw: every tensor on AdamW; muon: the layers' 2-D weights on Muon, embeddings, norms and biases on AdamW"},
    {"train.muon_lr", LILM_CFG_FLOAT, LILM_CFG_FIELD(train, muon_lr), "0.02", 0, 1, LILM_CFG_MIN_OPEN, NULL,
     "muon: peak learning rate of the Muon group (scheduled like train.lr)"},
    {"train.muon_momentum", LILM_CFG_FLOAT, LILM_CFG_FIELD(train, muon_momentum), "0.95", 0, 1, LILM_CFG_MAX_OPEN,
     NULL, "muon: momentum of the gradient buffer"},
    {"train.muon_nesterov", LILM_CFG_BOOL, LILM_CFG_FIELD(train, muon_nesterov), "true", 0, 0, 0, NULL,
     "muon: Nesterov momentum (orthogonalise g + momentum * buffer)"},
    {"train.muon_ns_steps", LILM_CFG_INT, LILM_CFG_FIELD(train, muon_ns_steps), "5", 1, 100, 0, NULL,
     "muon: Newton-Schulz iterations"},
    {"train.muon_weight_decay", LILM_CFG_FLOAT, LILM_CFG_FIELD(train, muon_weight_decay), "0", 0, 1, 0, NULL,
     "muon: decoupled weight decay of the Muon group"},
    {"train.grad_clip", LILM_CFG_FLOAT, LILM_CFG_FIELD(train, grad_clip), "1", 0, 1e6, 0, NULL,
     "clip the global gradient norm to this; 0 = off"},
    {"train.spike_factor", LILM_CFG_FLOAT, LILM_CFG_FIELD(train, spike_factor), "10", 0, 1e6, 0, NULL,
     "skip a micro-batch whose loss exceeds factor x the recent median; 0 = off"},
    {"train.spike_window", LILM_CFG_INT, LILM_CFG_FIELD(train, spike_window), "100", 1, 1000000, 0, NULL,
     "number of recent losses in that median"},
    {"train.steps", LILM_CFG_INT, LILM_CFG_FIELD(train, steps), "0", 0, 1e12, 0, NULL,
     "optimizer steps (budget.mode steps); 0 = derived from the time budget"},
    {"train.val_every", LILM_CFG_INT, LILM_CFG_FIELD(train, val_every), "400", 0, 1e12, 0, NULL,
     "optimizer steps between validations; 0 = only by time"},
    {"train.val_every_seconds", LILM_CFG_FLOAT, LILM_CFG_FIELD(train, val_every_seconds), "0", 0, 1e7, 0, NULL,
     "seconds between validations; 0 = only by steps"},
    {"train.val_batches", LILM_CFG_INT, LILM_CFG_FIELD(train, val_batches), "30", 1, 1000000000, 0, NULL,
     "batches per validation during training"},
    {"train.checkpoint_every_seconds", LILM_CFG_FLOAT, LILM_CFG_FIELD(train, checkpoint_every_seconds), "300", 0,
     1e7, 0, NULL, "seconds between resumable checkpoints; 0 = only at the end"},
    {"train.device", LILM_CFG_STRING, LILM_CFG_FIELD(train, device), "auto", 0, 0, 0, lilm_cfg_device_names,
     "where to train: auto picks cuda when a GPU is usable"},
    {"train.threads", LILM_CFG_INT, LILM_CFG_FIELD(train, threads), "0", 0, 4096, 0, NULL,
     "CPU threads; 0 = all cores"},
    {"train.cuda.attention", LILM_CFG_ENUM, LILM_CFG_FIELD(train, cuda_attention), "auto", 0, 0, 0,
     lilm_cfg_cuda_attn_names,
     "CUDA attention kernels: auto (thread-per-row for heads <= 32, warp-per-row above), warp, mma (tensor cores)"},
    {"train.cuda.epilogue", LILM_CFG_BOOL, LILM_CFG_FIELD(train, cuda_epilogue), "true", 0, 0, 0, NULL,
     "CUDA: fuse the Linear bias into cuBLASLt's GEMM epilogue where offered; false adds it in a kernel"},

    /* budget */
    {"budget.minutes", LILM_CFG_FLOAT, LILM_CFG_FIELD(budget, minutes), "30", 0, 1e6, LILM_CFG_MIN_OPEN, NULL,
     "wall-clock training budget in minutes"},
    {"budget.mode", LILM_CFG_ENUM, LILM_CFG_FIELD(budget, mode), "time", 0, 0, 0, lilm_cfg_budget_names,
     "time: the schedule follows elapsed time; steps: a fixed train.steps"},
    {"budget.tokens_per_param", LILM_CFG_FLOAT, LILM_CFG_FIELD(budget, tokens_per_param), "70", 0, 1e6,
     LILM_CFG_MIN_OPEN, NULL, "autosize: training tokens per parameter the depth must reach"},
};

#define LILM_CFG_COUNT (sizeof lilm_cfg_table / sizeof lilm_cfg_table[0])

static const char *const lilm_cfg_sections[] = {"model", "data", "train", "budget"};
#define LILM_CFG_NSECTIONS (sizeof lilm_cfg_sections / sizeof lilm_cfg_sections[0])

const lilm_cfg_opt *lilm_config_options(size_t *count)
{
    if (count) *count = LILM_CFG_COUNT;
    return lilm_cfg_table;
}

/* ---------------------------------------------------------------------- */
/* Parsing one value                                                       */

static const char *type_name(const lilm_cfg_opt *o)
{
    switch (o->type) {
    case LILM_CFG_INT: return "int";
    case LILM_CFG_U64: return "uint64";
    case LILM_CFG_FLOAT: return "float";
    case LILM_CFG_BOOL: return "bool";
    case LILM_CFG_STRING: return o->names ? "choice" : "string";
    case LILM_CFG_ENUM: return "choice";
    }
    return "?";
}

/* "[1, 64]", "(0, 1]", "rms|layer|none", "" for free strings. */
static void range_text(const lilm_cfg_opt *o, char *buf, size_t n)
{
    buf[0] = '\0';
    if (o->type == LILM_CFG_INT || o->type == LILM_CFG_FLOAT) {
        snprintf(buf, n, "%c%.15g, %.15g%c", (o->flags & LILM_CFG_MIN_OPEN) ? '(' : '[', o->min, o->max,
                 (o->flags & LILM_CFG_MAX_OPEN) ? ')' : ']');
    } else if (o->type == LILM_CFG_U64) {
        snprintf(buf, n, "[0, 18446744073709551615]");
    } else if (o->type == LILM_CFG_BOOL) {
        snprintf(buf, n, "true|false");
    } else if (o->names) {
        size_t used = 0;
        for (size_t i = 0; o->names[i] && used < n; i++) {
            int w = snprintf(buf + used, n - used, "%s%s", i ? "|" : "", o->names[i]);
            if (w < 0) break;
            used += (size_t)w;
        }
    }
}

static int in_range(const lilm_cfg_opt *o, double v)
{
    if (o->flags & LILM_CFG_MIN_OPEN ? !(v > o->min) : !(v >= o->min)) return 0;
    if (o->flags & LILM_CFG_MAX_OPEN ? !(v < o->max) : !(v <= o->max)) return 0;
    return 1;
}

static int leading_space(const char *text)
{
    return text[0] == ' ' || text[0] == '\t' || text[0] == '\n' || text[0] == '\r';
}

int lilm_config_parse_int(const char *text, int64_t *out)
{
    char *end = NULL;
    if (leading_space(text)) return 0;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (end == text || errno == ERANGE) return 0;
    if (*end == '.' || *end == 'e' || *end == 'E') {
        /* "1e6" or "64.0": accepted when the number is a whole one (and exact in a double) */
        double d = strtod(text, &end);
        if (*end != '\0' || !isfinite(d) || d != floor(d) || fabs(d) > 9007199254740992.0) return 0;
        v = (long long)d;
    }
    if (*end != '\0') return 0;
    *out = (int64_t)v;
    return 1;
}

int lilm_config_parse_float(const char *text, double *out)
{
    char *end = NULL;
    if (leading_space(text)) return 0;
    errno = 0;
    double v = strtod(text, &end);
    /* ERANGE on underflow (1e-400) gives a tiny number, which is fine; on overflow it gives inf */
    if (end == text || *end != '\0' || !isfinite(v)) return 0;
    *out = v;
    return 1;
}

/* Parses `text` into the field of `o` in `cfg`. On failure writes the reason
 * ("must be a number in (0, 1], got 'abc'") to why and returns 0. */
static int parse_value(const lilm_cfg_opt *o, const char *text, lilm_config *cfg, char *why, size_t whyn)
{
    char range[256];
    char *field = (char *)cfg + o->offset;
    char *end = NULL;
    range_text(o, range, sizeof range);
    int has_space = leading_space(text);
    switch (o->type) {
    case LILM_CFG_INT: {
        int64_t x;
        if (!lilm_config_parse_int(text, &x)) {
            snprintf(why, whyn, "must be an integer in %s, got '%s'", range, text);
            return 0;
        }
        if (!in_range(o, (double)x)) {
            snprintf(why, whyn, "must be an integer in %s, got %lld", range, (long long)x);
            return 0;
        }
        memcpy(field, &x, sizeof x);
        return 1;
    }
    case LILM_CFG_U64: {
        errno = 0;
        unsigned long long v = 0;
        if (!has_space && text[0] != '-' && text[0] != '+') v = strtoull(text, &end, 10);
        if (has_space || text[0] == '-' || text[0] == '+' || end == text || *end != '\0' || errno == ERANGE) {
            snprintf(why, whyn, "must be an integer in %s, got '%s'", range, text);
            return 0;
        }
        uint64_t x = (uint64_t)v;
        memcpy(field, &x, sizeof x);
        return 1;
    }
    case LILM_CFG_FLOAT: {
        double v;
        if (!lilm_config_parse_float(text, &v)) {
            snprintf(why, whyn, "must be a number in %s, got '%s'", range, text);
            return 0;
        }
        if (!in_range(o, v)) {
            snprintf(why, whyn, "must be a number in %s, got %s", range, text);
            return 0;
        }
        memcpy(field, &v, sizeof v);
        return 1;
    }
    case LILM_CFG_BOOL: {
        int v;
        if (strcmp(text, "true") == 0) v = 1;
        else if (strcmp(text, "false") == 0) v = 0;
        else {
            snprintf(why, whyn, "must be true or false, got '%s'", text);
            return 0;
        }
        memcpy(field, &v, sizeof v);
        return 1;
    }
    case LILM_CFG_ENUM: {
        for (int i = 0; o->names[i]; i++)
            if (strcmp(text, o->names[i]) == 0) {
                memcpy(field, &i, sizeof i);
                return 1;
            }
        snprintf(why, whyn, "must be one of %s, got '%s'", range, text);
        return 0;
    }
    case LILM_CFG_STRING: {
        if (o->names) {
            int ok = 0;
            for (int i = 0; o->names[i]; i++) ok |= strcmp(text, o->names[i]) == 0;
            if (!ok) {
                snprintf(why, whyn, "must be one of %s, got '%s'", range, text);
                return 0;
            }
        }
        size_t len = strlen(text);
        const utf8proc_uint8_t *u = (const utf8proc_uint8_t *)text;
        for (size_t i = 0; i < len;) {
            utf8proc_int32_t cp;
            utf8proc_ssize_t k = utf8proc_iterate(u + i, (utf8proc_ssize_t)(len - i), &cp);
            if (k <= 0) {
                snprintf(why, whyn, "must be valid UTF-8 (bad byte 0x%02x at offset %zu)", u[i], i);
                return 0;
            }
            i += (size_t)k;
        }
        if (len >= o->size) {
            snprintf(why, whyn, "must be at most %zu bytes long, got %zu bytes", o->size - 1, len);
            return 0;
        }
        memcpy(field, text, len + 1);
        return 1;
    }
    }
    snprintf(why, whyn, "has an unknown type");
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Keys                                                                     */

static const lilm_cfg_opt *find_opt(const char *key)
{
    for (size_t i = 0; i < LILM_CFG_COUNT; i++)
        if (strcmp(lilm_cfg_table[i].key, key) == 0) return &lilm_cfg_table[i];
    return NULL;
}

const lilm_cfg_opt *lilm_config_find(const char *key)
{
    return find_opt(key);
}

/* Edit distance, capped: enough to suggest "train.lr" for "train.lrr". */
size_t lilm_config_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 99;
    size_t prev[64], cur[64];
    for (size_t j = 0; j <= lb; j++) prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof prev[0]);
    }
    return prev[lb];
}

/* " (did you mean 'train.lr'?)" or "" when nothing is close. */
static void suggest_key(const char *key, char *buf, size_t n)
{
    const char *dot = strchr(key, '.');
    const char *name = dot ? dot + 1 : key;
    size_t best = 99;
    const char *best_key = NULL;
    for (size_t i = 0; i < LILM_CFG_COUNT; i++) {
        const char *k = lilm_cfg_table[i].key;
        size_t d1 = lilm_config_edit_distance(key, k);
        size_t d2 = lilm_config_edit_distance(name, strchr(k, '.') + 1);
        size_t d = d1 < d2 ? d1 : d2;
        if (d < best) {
            best = d;
            best_key = k;
        }
    }
    if (best_key && best <= 2 + strlen(name) / 4)
        snprintf(buf, n, " (did you mean '%s'?)", best_key);
    else
        buf[0] = '\0';
}

/* ---------------------------------------------------------------------- */
/* Defaults, set                                                           */

void lilm_config_defaults(lilm_config *cfg)
{
    char why[512];
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < LILM_CFG_COUNT; i++) {
        int ok = parse_value(&lilm_cfg_table[i], lilm_cfg_table[i].def, cfg, why, sizeof why);
        LILM_ASSERT(ok && "a default in lilm_cfg_table is out of its own range");
    }
}

lilm_status lilm_config_set(lilm_config *cfg, const char *assignment)
{
    const char *eq = strchr(assignment, '=');
    if (!eq)
        return lilm_errorf(LILM_ERR_CONFIG,
                           "--set %s: expected section.key=value, e.g. --set train.lr=3e-3\n"
                           "HINT: `lilm train --help` lists every key",
                           assignment);
    char key[128];
    size_t klen = (size_t)(eq - assignment);
    if (klen == 0 || klen >= sizeof key)
        return lilm_errorf(LILM_ERR_CONFIG, "--set %s: expected section.key=value, e.g. --set train.lr=3e-3",
                           assignment);
    memcpy(key, assignment, klen);
    key[klen] = '\0';
    const lilm_cfg_opt *o = find_opt(key);
    if (!o) {
        char hint[160];
        suggest_key(key, hint, sizeof hint);
        return lilm_errorf(LILM_ERR_CONFIG, "--set %s: unknown key '%s'%s\nHINT: `lilm train --help` lists every key",
                           assignment, key, hint);
    }
    char why[512];
    lilm_config tmp = *cfg;
    if (!parse_value(o, eq + 1, &tmp, why, sizeof why))
        return lilm_errorf(LILM_ERR_CONFIG, "--set %s: key '%s': %s", assignment, key, why);
    *cfg = tmp;
    return LILM_OK;
}

/* ---------------------------------------------------------------------- */
/* YAML loading                                                            */

typedef struct lilm_cfg_loader {
    const char *path;
    yaml_document_t *doc;
    lilm_config *cfg;
    int key_line[LILM_CFG_COUNT];          /* line each key was set at; 0 = not yet */
    int section_line[LILM_CFG_NSECTIONS];  /* line each section began at */
} lilm_cfg_loader;

static int node_line(const yaml_node_t *n)
{
    return (int)n->start_mark.line + 1;
}

static const char *node_kind(const yaml_node_t *n)
{
    return n->type == YAML_MAPPING_NODE ? "a mapping" : n->type == YAML_SEQUENCE_NODE ? "a list" : "a scalar";
}

static lilm_status load_key(lilm_cfg_loader *ld, const char *section, yaml_node_t *kn, yaml_node_t *vn)
{
    char key[160];
    const char *name = (const char *)kn->data.scalar.value;
    snprintf(key, sizeof key, "%s.%s", section, name);
    const lilm_cfg_opt *o = find_opt(key);
    if (!o) {
        char hint[160];
        suggest_key(key, hint, sizeof hint);
        return lilm_errorf(LILM_ERR_CONFIG, "%s:%d: unknown key '%s'%s\nHINT: `lilm train --help` lists every key",
                           ld->path, node_line(kn), key, hint);
    }
    size_t idx = (size_t)(o - lilm_cfg_table);
    if (ld->key_line[idx])
        return lilm_errorf(LILM_ERR_CONFIG, "%s:%d: duplicate key '%s' (first set at line %d)", ld->path,
                           node_line(kn), key, ld->key_line[idx]);
    ld->key_line[idx] = node_line(kn);
    char why[512];
    if (vn->type != YAML_SCALAR_NODE) {
        /* parse a placeholder to get the "must be ..." text, then name the node kind */
        parse_value(o, "\x01", ld->cfg, why, sizeof why);
        char *got = strstr(why, ", got");
        if (got) *got = '\0';
        if (o->type == LILM_CFG_STRING && !o->names) snprintf(why, sizeof why, "must be a string");
        return lilm_errorf(LILM_ERR_CONFIG, "%s:%d: key '%s': %s, got %s", ld->path, node_line(vn), key, why,
                           node_kind(vn));
    }
    const char *text = (const char *)vn->data.scalar.value;
    /* a plain empty, ~ or null value is YAML's null: an empty string */
    if (o->type == LILM_CFG_STRING && vn->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
        (strcmp(text, "~") == 0 || strcmp(text, "null") == 0))
        text = "";
    if (strlen(text) != vn->data.scalar.length)
        return lilm_errorf(LILM_ERR_CONFIG, "%s:%d: key '%s': value contains a NUL character", ld->path,
                           node_line(vn), key);
    if (!parse_value(o, text, ld->cfg, why, sizeof why))
        return lilm_errorf(LILM_ERR_CONFIG, "%s:%d: key '%s': %s", ld->path, node_line(vn), key, why);
    return LILM_OK;
}

static lilm_status load_section(lilm_cfg_loader *ld, yaml_node_t *kn, yaml_node_t *vn)
{
    const char *section = (const char *)kn->data.scalar.value;
    size_t si = 0;
    while (si < LILM_CFG_NSECTIONS && strcmp(lilm_cfg_sections[si], section) != 0) si++;
    if (si == LILM_CFG_NSECTIONS) {
        const char *dot = strchr(section, '.');
        char hint[200] = "";
        if (dot) snprintf(hint, sizeof hint, "\nHINT: write keys nested under their section:\n  %.*s:\n    %s: ...",
                          (int)(dot - section), section, dot + 1);
        return lilm_errorf(LILM_ERR_CONFIG, "%s:%d: unknown section '%s' (sections are model, data, train, budget)%s",
                           ld->path, node_line(kn), section, hint);
    }
    if (ld->section_line[si])
        return lilm_errorf(LILM_ERR_CONFIG, "%s:%d: duplicate section '%s' (first at line %d)", ld->path,
                           node_line(kn), section, ld->section_line[si]);
    ld->section_line[si] = node_line(kn);
    if (vn->type == YAML_SCALAR_NODE && vn->data.scalar.length == 0) return LILM_OK; /* "train:" alone */
    if (vn->type != YAML_MAPPING_NODE)
        return lilm_errorf(LILM_ERR_CONFIG, "%s:%d: section '%s' must be a mapping of key: value, got %s",
                           ld->path, node_line(vn), section, node_kind(vn));
    for (yaml_node_pair_t *p = vn->data.mapping.pairs.start; p < vn->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(ld->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(ld->doc, p->value);
        if (!k || !v) return lilm_errorf(LILM_ERR_INTERNAL, "%s: libyaml returned a dangling node", ld->path);
        if (k->type != YAML_SCALAR_NODE)
            return lilm_errorf(LILM_ERR_CONFIG, "%s:%d: keys in section '%s' must be plain names, got %s", ld->path,
                               node_line(k), section, node_kind(k));
        LILM_TRY(load_key(ld, section, k, v));
    }
    return LILM_OK;
}

static lilm_status load_document(lilm_cfg_loader *ld)
{
    yaml_node_t *root = yaml_document_get_root_node(ld->doc);
    if (!root) return LILM_OK; /* an empty file changes nothing */
    if (root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0) return LILM_OK;
    if (root->type != YAML_MAPPING_NODE)
        return lilm_errorf(LILM_ERR_CONFIG,
                           "%s:%d: the top level must be a mapping of sections (model, data, train, budget), got %s",
                           ld->path, node_line(root), node_kind(root));
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(ld->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(ld->doc, p->value);
        if (!k || !v) return lilm_errorf(LILM_ERR_INTERNAL, "%s: libyaml returned a dangling node", ld->path);
        if (k->type != YAML_SCALAR_NODE)
            return lilm_errorf(LILM_ERR_CONFIG, "%s:%d: section names must be plain names, got %s", ld->path,
                               node_line(k), node_kind(k));
        LILM_TRY(load_section(ld, k, v));
    }
    return LILM_OK;
}

static lilm_status yaml_parse_error(const char *path, const yaml_parser_t *p)
{
    const yaml_mark_t *m = &p->problem_mark;
    if (p->error == YAML_MEMORY_ERROR) return lilm_errorf(LILM_ERR_OOM, "%s: out of memory parsing YAML", path);
    return lilm_errorf(LILM_ERR_CONFIG, "%s:%d: malformed YAML: %s%s%s (column %d)", path, (int)m->line + 1,
                       p->problem ? p->problem : "syntax error", p->context ? " " : "", p->context ? p->context : "",
                       (int)m->column + 1);
}

/* Largest config text and deepest nesting read: a config is a few KB two
 * levels deep, and the caps keep a hostile file from costing memory or stack. */
#define LILM_CFG_MAX_BYTES (1u << 20)
#define LILM_CFG_MAX_DEPTH 32

/* Refuses nesting deeper than LILM_CFG_MAX_DEPTH with one pass over the
 * parser's events, before the document tree is built. */
static lilm_status check_depth(const char *path, const char *data, size_t n)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) return lilm_errorf(LILM_ERR_OOM, "%s: cannot start the YAML parser", path);
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, n);
    lilm_status s = LILM_OK;
    int depth = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            s = yaml_parse_error(path, &parser);
            break;
        }
        yaml_event_type_t type = ev.type;
        int line = (int)ev.start_mark.line + 1;
        yaml_event_delete(&ev);
        if (type == YAML_SEQUENCE_START_EVENT || type == YAML_MAPPING_START_EVENT) depth++;
        if (type == YAML_SEQUENCE_END_EVENT || type == YAML_MAPPING_END_EVENT) depth--;
        if (depth > LILM_CFG_MAX_DEPTH) {
            s = lilm_errorf(LILM_ERR_CONFIG, "%s:%d: nested more than %d levels deep; a config is a mapping of "
                            "sections", path, line, LILM_CFG_MAX_DEPTH);
            break;
        }
        if (type == YAML_STREAM_END_EVENT) break;
    }
    yaml_parser_delete(&parser);
    return s;
}

static lilm_status load_text(lilm_config *cfg, const char *path, const char *data, size_t n)
{
    if (n > LILM_CFG_MAX_BYTES)
        return lilm_errorf(LILM_ERR_CONFIG, "%s: %zu bytes is more than a config may be (%u)\nHINT: is this the right "
                           "file?", path, n, LILM_CFG_MAX_BYTES);
    LILM_TRY(check_depth(path, data, n));
    lilm_cfg_loader ld;
    memset(&ld, 0, sizeof ld);
    lilm_config tmp = *cfg;
    ld.path = path;
    ld.cfg = &tmp;
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) return lilm_errorf(LILM_ERR_OOM, "%s: cannot start the YAML parser", path);
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, n);
    if (!yaml_parser_load(&parser, &doc)) {
        lilm_status s = yaml_parse_error(path, &parser);
        yaml_parser_delete(&parser);
        return s;
    }
    ld.doc = &doc;
    lilm_status s = load_document(&ld);
    yaml_document_delete(&doc);
    if (s == LILM_OK) {
        /* a second document ("---") would be silently ignored: refuse it */
        yaml_document_t more;
        if (!yaml_parser_load(&parser, &more)) {
            s = yaml_parse_error(path, &parser);
        } else {
            yaml_node_t *r = yaml_document_get_root_node(&more);
            if (r)
                s = lilm_errorf(LILM_ERR_CONFIG, "%s:%d: a second YAML document; a config is one document", path,
                                node_line(r));
            yaml_document_delete(&more);
        }
    }
    yaml_parser_delete(&parser);
    if (s == LILM_OK) *cfg = tmp;
    return s;
}

lilm_status lilm_config_load_yaml(lilm_config *cfg, const char *path)
{
    char *data = NULL;
    size_t n = 0;
    lilm_status s = lilm_read_file(path, &data, &n);
    if (s != LILM_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", lilm_last_error());
        return lilm_errorf(LILM_ERR_CONFIG, "%s: cannot read the config: %s", path, msg);
    }
    s = load_text(cfg, path, data, n);
    free(data);
    return s;
}

lilm_status lilm_config_load_yaml_string(lilm_config *cfg, const char *label, const char *text, size_t n)
{
    return load_text(cfg, label, text, n);
}

lilm_status lilm_config_from_cli(lilm_config *cfg, const char *path, const char *const *sets, size_t n_sets)
{
    lilm_config_defaults(cfg);
    if (path) LILM_TRY(lilm_config_load_yaml(cfg, path));
    for (size_t i = 0; i < n_sets; i++) LILM_TRY(lilm_config_set(cfg, sets[i]));
    return lilm_config_validate(cfg);
}

/* ---------------------------------------------------------------------- */
/* Cross-field rules                                                       */

lilm_status lilm_config_validate(const lilm_config *cfg)
{
    const lilm_model_config *m = &cfg->model;
    const lilm_train_config *t = &cfg->train;
    if (m->qk_dim % 2 != 0)
        return lilm_errorf(LILM_ERR_CONFIG, "config: model.qk_dim = %lld must be even (rotary embedding rotates pairs)",
                           (long long)m->qk_dim);
    if (m->pad_id >= m->vocab_size)
        return lilm_errorf(LILM_ERR_CONFIG, "config: model.pad_id = %lld must be below model.vocab_size = %lld",
                           (long long)m->pad_id, (long long)m->vocab_size);
    if (m->latent_dim > 0 && m->latent_dim >= m->d_model)
        return lilm_errorf(LILM_ERR_CONFIG,
                           "config: model.latent_dim = %lld must be below model.d_model = %lld "
                           "(a wider latent saves nothing)\nHINT: set model.latent_dim=0 for standard attention",
                           (long long)m->latent_dim, (long long)m->d_model);
    if (strcmp(cfg->data.tokenizer, "bytes") == 0 && m->vocab_size < 260)
        return lilm_errorf(LILM_ERR_CONFIG,
                           "config: model.vocab_size = %lld is too small for the bytes tokenizer (260 ids)\n"
                           "HINT: --set model.vocab_size=260",
                           (long long)m->vocab_size);
    if (t->accum_batch % t->batch_size != 0)
        return lilm_errorf(LILM_ERR_CONFIG,
                           "config: train.accum_batch = %lld must be a multiple of train.batch_size = %lld",
                           (long long)t->accum_batch, (long long)t->batch_size);
    if (t->spike_factor != 0 && t->spike_factor <= 1)
        return lilm_errorf(LILM_ERR_CONFIG, "config: train.spike_factor = %g must be 0 (off) or above 1",
                           t->spike_factor);
    if (t->schedule == LILM_SCHED_WSD && t->warmup_frac + t->decay_frac > 1)
        return lilm_errorf(LILM_ERR_CONFIG,
                           "config: train.warmup_frac + train.decay_frac = %g exceeds 1 (the wsd schedule's warm-up "
                           "and decay overlap)\nHINT: lower one of them",
                           t->warmup_frac + t->decay_frac);
    if (cfg->budget.mode == LILM_BUDGET_STEPS && t->steps == 0)
        return lilm_errorf(LILM_ERR_CONFIG, "config: budget.mode is steps but train.steps is 0\n"
                           "HINT: --set train.steps=N, or budget.mode=time");
    if (cfg->data.dataset[0] && cfg->data.text[0])
        return lilm_errorf(LILM_ERR_CONFIG, "config: set data.dataset or data.text, not both");
    return LILM_OK;
}

/* ---------------------------------------------------------------------- */
/* Writing                                                                  */

/* The shortest %.Ng that strtod reads back to exactly v. */
static void format_double(double v, char *buf, size_t n)
{
    if (v == floor(v) && fabs(v) < 1e15) { /* whole numbers as integers: 10000, not 1e+04 */
        snprintf(buf, n, "%.0f", v);
        if (strtod(buf, NULL) == v) return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

/* Field value as text: what parse_value() reads back to the same bits. */
static void value_text(const lilm_cfg_opt *o, const lilm_config *cfg, char *buf, size_t n)
{
    const char *field = (const char *)cfg + o->offset;
    switch (o->type) {
    case LILM_CFG_INT: {
        int64_t v;
        memcpy(&v, field, sizeof v);
        snprintf(buf, n, "%lld", (long long)v);
        return;
    }
    case LILM_CFG_U64: {
        uint64_t v;
        memcpy(&v, field, sizeof v);
        snprintf(buf, n, "%llu", (unsigned long long)v);
        return;
    }
    case LILM_CFG_FLOAT: {
        double v;
        memcpy(&v, field, sizeof v);
        format_double(v, buf, n);
        return;
    }
    case LILM_CFG_BOOL: {
        int v;
        memcpy(&v, field, sizeof v);
        snprintf(buf, n, "%s", v ? "true" : "false");
        return;
    }
    case LILM_CFG_ENUM: {
        int v, count = 0;
        memcpy(&v, field, sizeof v);
        while (o->names[count]) count++;
        snprintf(buf, n, "%s", v >= 0 && v < count ? o->names[v] : "?");
        return;
    }
    case LILM_CFG_STRING:
        snprintf(buf, n, "%.*s", (int)o->size, field);
        return;
    }
    buf[0] = '\0';
}

void lilm_config_format_value(const lilm_config *cfg, const lilm_cfg_opt *opt, char *buf, size_t n)
{
    value_text(opt, cfg, buf, n);
}

/* A YAML double-quoted scalar: printable UTF-8 as is, everything YAML would
 * not read back byte for byte escaped: ", \, C0 and C1 controls, DEL, the
 * characters YAML folds as line breaks (U+0085, U+2028, U+2029), the BOM and
 * the non-characters U+FFFE/U+FFFF. Strings are valid UTF-8 (parse_value). */
static void write_quoted(FILE *f, const char *s)
{
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    utf8proc_ssize_t left = (utf8proc_ssize_t)strlen(s);
    fputc('"', f);
    while (left > 0) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(p, left, &cp);
        if (k <= 0) { /* not reachable for validated strings; keep the byte visible */
            fprintf(f, "\\x%02x", *p);
            p++;
            left--;
            continue;
        }
        if (cp == '"' || cp == '\\') fprintf(f, "\\%c", (char)cp);
        else if (cp == '\n') fputs("\\n", f);
        else if (cp == '\t') fputs("\\t", f);
        else if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 || cp == 0xfeff ||
                 cp == 0xfffe || cp == 0xffff)
            fprintf(f, "\\u%04x", (unsigned)cp);
        else fwrite(p, 1, (size_t)k, f);
        p += k;
        left -= k;
    }
    fputc('"', f);
}

lilm_status lilm_config_write_yaml(const lilm_config *cfg, FILE *f)
{
    char val[LILM_PATH_MAX + 64];
    fprintf(f, "# lilm experiment config: every key, so this file alone reproduces the run.\n"
               "# `lilm train --help` (or docs/config.md) describes each key.\n");
    for (size_t s = 0; s < LILM_CFG_NSECTIONS; s++) {
        fprintf(f, "%s%s:\n", s ? "\n" : "", lilm_cfg_sections[s]);
        size_t slen = strlen(lilm_cfg_sections[s]);
        for (size_t i = 0; i < LILM_CFG_COUNT; i++) {
            const lilm_cfg_opt *o = &lilm_cfg_table[i];
            if (strncmp(o->key, lilm_cfg_sections[s], slen) != 0 || o->key[slen] != '.') continue;
            value_text(o, cfg, val, sizeof val);
            int w = fprintf(f, "  %s: ", o->key + slen + 1);
            if (o->type == LILM_CFG_STRING) {
                write_quoted(f, val);
                w += (int)strlen(val) + 2;
            } else {
                w += fprintf(f, "%s", val);
            }
            fprintf(f, "%*s# %s\n", w < 40 ? 40 - w : 1, "", o->help);
        }
    }
    if (ferror(f)) return lilm_errorf(LILM_ERR_IO, "cannot write the config: %s", strerror(errno));
    return LILM_OK;
}

lilm_status lilm_config_save(const lilm_config *cfg, const char *path)
{
    lilm_atomic_file af;
    LILM_TRY(lilm_atomic_open(&af, path));
    lilm_status s = lilm_config_write_yaml(cfg, af.f);
    if (s != LILM_OK) {
        lilm_atomic_abort(&af);
        return lilm_error_context(s, "%s: ", path);
    }
    return lilm_atomic_commit(&af);
}

int lilm_config_equal(const lilm_config *a, const lilm_config *b)
{
    for (size_t i = 0; i < LILM_CFG_COUNT; i++) {
        const lilm_cfg_opt *o = &lilm_cfg_table[i];
        const char *fa = (const char *)a + o->offset, *fb = (const char *)b + o->offset;
        if (o->type == LILM_CFG_STRING) {
            if (strncmp(fa, fb, o->size) != 0) return 0;
        } else if (memcmp(fa, fb, o->size) != 0) {
            return 0;
        }
    }
    return 1;
}

/* ---------------------------------------------------------------------- */
/* Help                                                                     */

static int in_section(const lilm_cfg_opt *o, const char *section)
{
    size_t n = strlen(section);
    return strncmp(o->key, section, n) == 0 && o->key[n] == '.';
}

void lilm_config_print_help(FILE *f, const char *section_or_null)
{
    char range[256], def[300];
    fprintf(f, "config keys (YAML sections model/data/train/budget; override with --set key=value):\n");
    for (size_t i = 0; i < LILM_CFG_COUNT; i++) {
        const lilm_cfg_opt *o = &lilm_cfg_table[i];
        if (section_or_null && !in_section(o, section_or_null)) continue;
        range_text(o, range, sizeof range);
        if (o->type == LILM_CFG_STRING && !o->names) snprintf(def, sizeof def, "\"%s\"", o->def);
        else snprintf(def, sizeof def, "%s", o->def);
        fprintf(f, "  %-32s %-7s %-26s default %-9s %s\n", o->key, type_name(o), range, def, o->help);
    }
}

void lilm_config_print_markdown(FILE *f)
{
    char range[256];
    for (size_t s = 0; s < LILM_CFG_NSECTIONS; s++) {
        fprintf(f, "### %s\n\n| key | type | range | default | meaning |\n|---|---|---|---|---|\n",
                lilm_cfg_sections[s]);
        for (size_t i = 0; i < LILM_CFG_COUNT; i++) {
            const lilm_cfg_opt *o = &lilm_cfg_table[i];
            if (!in_section(o, lilm_cfg_sections[s])) continue;
            range_text(o, range, sizeof range);
            fprintf(f, "| `%s` | %s | ", o->key, type_name(o));
            if (!range[0]) fputs("any", f);
            for (const char *p = range; *p; p++) { /* a bare | would end the table cell */
                if (*p == '|') fputs(" \\| ", f);
                else fputc(*p, f);
            }
            fprintf(f, " | `%s` | %s |\n", o->def[0] ? o->def : "\"\"", o->help);
        }
        fputc('\n', f);
    }
}

/* ---------------------------------------------------------------------- */
/* Parameter count                                                          */

int64_t lilm_model_config_param_count(const lilm_model_config *m)
{
    return lilm_arch_tensors(m, NULL, NULL);
}
