/*
 * generate.h: text generation from a trained model with the KV-cache decoder.
 *
 * The prompt is encoded as is (no BOS/EOS in front, as the reference does;
 * an empty prompt starts from EOS, the document separator). It is fed in one
 * prefill step, then one token per step. The next token is chosen from the
 * last logits, with the pad id masked out:
 *   temperature <= 0: greedy (argmax; ties go to the lowest id);
 *   else softmax(logits / temperature), restricted to the top_k most likely
 *   (top_k > 0), then to the smallest set whose probability reaches top_p
 *   (0 < top_p < 1), renormalised, drawn with the seeded RNG.
 * Generation stops at EOS (not included), after max_tokens, or when the
 * model's context is full. A prompt longer than half the context keeps only
 * its last context/2 tokens (the text then starts there).
 */
#ifndef LILM_EVAL_GENERATE_H
#define LILM_EVAL_GENERATE_H

#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"
#include "core/status.h"
#include "model/model.h"
#include "tok/tokenizer.h"

typedef struct lilm_sample_opts {
    double temperature; /* <= 0: greedy */
    int64_t top_k;      /* 0: no limit */
    double top_p;       /* >= 1: no limit */
    int64_t max_tokens; /* new tokens at most */
    uint64_t seed;
} lilm_sample_opts;

/* Greedy, 100 new tokens (the reference's post-training samples). */
void lilm_sample_opts_default(lilm_sample_opts *o);

/* Chooses the next token from logits (V) (modified in place: masked and
 * scaled). `order` is (V) scratch. `masked` is an id to exclude (-1: none). */
int32_t lilm_sample_pick(float *logits, int32_t *order, size_t V, int32_t masked, const lilm_sample_opts *o,
                         lilm_rng *rng);

typedef struct lilm_generation {
    int32_t *ids;        /* (n_prompt + n_new) prompt then generated ids */
    size_t n_prompt, n_new;
    char *text;          /* decoded prompt + continuation, NUL-terminated */
    size_t text_len;
    int stopped_at_eos;
    double prefill_s;    /* time of the prompt step */
    double decode_s;     /* time of the one-token steps */
} lilm_generation;

/* Generates a continuation of `prompt`. The model is only read. */
lilm_status lilm_generate(lilm_model *m, const lilm_tokenizer *tok, const char *prompt, const lilm_sample_opts *o,
                          lilm_generation *g);
void lilm_generation_free(lilm_generation *g);

/* The reference's 11 post-training prompts ("the dog ", ...). */
extern const char *const lilm_reference_prompts[];
extern const size_t lilm_reference_prompt_count;

#endif
