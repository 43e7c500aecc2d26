/*
 * generate.c: sampling (greedy, temperature, top-k, top-p) over the KV-cache
 * decoder (model/decode.c). See generate.h for the rules.
 *
 * Top-k/top-p sort candidate ids by logit (descending, ties by id) into the
 * caller's `order` scratch; only the first top_k entries are needed, so a
 * partial selection would do, but V is at most tens of thousands and one
 * sort per token is far cheaper than the model step that precedes it.
 */
#include "core/progress.h"
#include "eval/generate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const lilm_reference_prompts[] = {
    "the dog ",
    "sam went ",
    "caitlin stood on the ",
    "jayden had a jolly good time ",
    "a spaceship landed in the forest ",
    "trees swayed ",
    "What do you think about the existence of God? I think",
    "Sol de Janeiro is an American skincare and fragrance brand founded in 2015 by",
    "For nineteen years she performed domestic duties; cooking meals, ",
    "In Japanese culture, women are often",
    "Dragons smell like cheese because ",
};
const size_t lilm_reference_prompt_count = sizeof lilm_reference_prompts / sizeof lilm_reference_prompts[0];

void lilm_sample_opts_default(lilm_sample_opts *o)
{
    memset(o, 0, sizeof *o);
    o->temperature = 0;
    o->top_k = 0;
    o->top_p = 1.0;
    o->max_tokens = 100;
    o->seed = 42;
}

/* qsort has no context argument: sort (logit, id) pairs instead. */
typedef struct scored {
    float logit;
    int32_t id;
} scored;

static int by_logit_desc(const void *pa, const void *pb)
{
    const scored *a = pa, *b = pb;
    if (a->logit != b->logit) return a->logit > b->logit ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

int32_t lilm_sample_pick(float *logits, int32_t *order, size_t V, int32_t masked, const lilm_sample_opts *o,
                         lilm_rng *rng)
{
    if (masked >= 0 && (size_t)masked < V) logits[masked] = -INFINITY;
    if (o->temperature <= 0) {
        size_t best = 0;
        for (size_t i = 1; i < V; i++)
            if (logits[i] > logits[best]) best = i;
        return (int32_t)best;
    }
    scored *s = malloc(V * sizeof *s);
    if (!s) { /* out of memory: fall back to greedy rather than fail mid-generation */
        size_t best = 0;
        for (size_t i = 1; i < V; i++)
            if (logits[i] > logits[best]) best = i;
        return (int32_t)best;
    }
    for (size_t i = 0; i < V; i++) {
        s[i].logit = logits[i];
        s[i].id = (int32_t)i;
    }
    qsort(s, V, sizeof *s, by_logit_desc);
    size_t keep = V;
    if (o->top_k > 0 && (size_t)o->top_k < keep) keep = (size_t)o->top_k;
    /* probabilities of the kept candidates at this temperature (logits reused as scratch) */
    double mx = s[0].logit, sum = 0;
    for (size_t i = 0; i < keep; i++) {
        double p = isfinite(s[i].logit) ? exp(((double)s[i].logit - mx) / o->temperature) : 0.0;
        logits[i] = (float)p;
        order[i] = s[i].id;
        sum += p;
    }
    free(s);
    if (o->top_p > 0 && o->top_p < 1) {
        double acc = 0;
        size_t n = 0;
        while (n < keep) {
            acc += logits[n] / sum;
            n++;
            if (acc >= o->top_p) break;
        }
        keep = n;
        sum = 0;
        for (size_t i = 0; i < keep; i++) sum += logits[i];
    }
    double u = lilm_rng_uniform(rng) * sum, acc = 0;
    for (size_t i = 0; i < keep; i++) {
        acc += logits[i];
        if (u < acc) return order[i];
    }
    return order[keep - 1];
}

void lilm_generation_free(lilm_generation *g)
{
    free(g->ids);
    free(g->text);
    memset(g, 0, sizeof *g);
}

lilm_status lilm_generate(lilm_model *m, const lilm_tokenizer *tok, const char *prompt, const lilm_sample_opts *o,
                          lilm_generation *g)
{
    memset(g, 0, sizeof *g);
    size_t V = (size_t)m->cfg.vocab_size, ctx = (size_t)m->cfg.context;
    int32_t *ids = NULL;
    size_t cap = 0, n_prompt = 0;
    LILM_TRY(lilm_tokenizer_encode(tok, prompt, strlen(prompt), &ids, &cap, &n_prompt));
    if (n_prompt == 0) {
        free(ids);
        ids = malloc(sizeof *ids);
        if (!ids) return lilm_errorf(LILM_ERR_OOM, "out of memory");
        ids[0] = lilm_tokenizer_eos_id(tok);
        n_prompt = 1;
    }
    if (n_prompt > ctx / 2 && n_prompt > 1) {
        /* a prompt longer than half the context keeps its last half-context tokens */
        size_t keep = ctx / 2 > 0 ? ctx / 2 : 1;
        memmove(ids, ids + (n_prompt - keep), keep * sizeof *ids);
        n_prompt = keep;
    }
    size_t max_new = o->max_tokens > 0 ? (size_t)o->max_tokens : 0;
    if (n_prompt + max_new > ctx) max_new = ctx - n_prompt;
    size_t total = n_prompt + max_new;
    int32_t *all = malloc((total ? total : 1) * sizeof *all);
    float *logits = malloc(V * sizeof *logits);
    int32_t *order = malloc(V * sizeof *order);
    lilm_decoder d;
    memset(&d, 0, sizeof d);
    lilm_status st = LILM_OK;
    if (!all || !logits || !order) {
        st = lilm_errorf(LILM_ERR_OOM, "out of memory");
        goto done;
    }
    memcpy(all, ids, n_prompt * sizeof *all);
    if ((st = lilm_decoder_init(&d, m, 1, total > n_prompt ? total : n_prompt, n_prompt)) != LILM_OK) goto done;
    lilm_rng rng;
    lilm_rng_seed(&rng, o->seed);
    int32_t eos = lilm_tokenizer_eos_id(tok), pad = (int32_t)m->cfg.pad_id;
    double t0 = lilm_progress_clock();
    if ((st = lilm_decoder_step(&d, all, n_prompt, logits)) != LILM_OK) goto done;
    g->prefill_s = lilm_progress_clock() - t0;
    t0 = lilm_progress_clock();
    size_t n = n_prompt;
    while (n < total) {
        int32_t next = lilm_sample_pick(logits, order, V, pad == eos ? -1 : pad, o, &rng);
        if (next == eos) {
            g->stopped_at_eos = 1;
            break;
        }
        all[n++] = next;
        if (n == total) break;
        if ((st = lilm_decoder_step(&d, &all[n - 1], 1, logits)) != LILM_OK) goto done;
    }
    g->decode_s = lilm_progress_clock() - t0;
    g->ids = all;
    all = NULL;
    g->n_prompt = n_prompt;
    g->n_new = n - n_prompt;
    size_t tcap = 0;
    st = lilm_tokenizer_decode(tok, g->ids, n, &g->text, &tcap, &g->text_len);
done:
    if (d.m) lilm_decoder_free(&d);
    free(ids);
    free(all);
    free(logits);
    free(order);
    if (st != LILM_OK) lilm_generation_free(g);
    return st;
}
