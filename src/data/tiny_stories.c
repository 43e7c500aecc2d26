/*
 * tiny_stories.c: the generator of the shipped tiny text (tiny_stories.h).
 *
 * A story picks a hero (name + kind), a friend, a place, a thing and a
 * feeling, then strings together an opening, a problem, a talk between the
 * two, what they did and an ending, each from a few sentence patterns.
 * Patterns hold slots written as {h} hero, {k} hero's kind, {f} friend,
 * {p} place, {t} thing, {e} feeling, {s} he/she, {o} him/her, {x} his/her,
 * {S} He/She. Everything is driven by one lilm_rng, so the output is a pure
 * function of (seed, bytes).
 */
#include "data/tiny_stories.h"

#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/rng.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

typedef struct hero {
    const char *name;
    int she;
} hero;

static const hero heroes[] = {
    {"Mia", 1}, {"Tom", 0}, {"Lena", 1}, {"Ben", 0}, {"Sara", 1}, {"Max", 0}, {"Ada", 1}, {"Leo", 0},
    {"Nora", 1}, {"Sam", 0}, {"Ivy", 1}, {"Finn", 0}, {"Rosa", 1}, {"Otto", 0}, {"Zoe", 1}, {"Jack", 0},
};
static const char *const kinds[] = {"girl", "boy", "rabbit", "fox", "duck", "bear", "cat", "mouse", "frog", "owl"};
static const char *const friends[] = {"a kind old turtle", "a tiny bird", "a shy dog", "a big brown horse",
                                      "a clever crow", "a sleepy bee", "a happy pig", "a quiet deer",
                                      "a brave ant", "a funny goat"};
static const char *const places[] = {"the park", "the forest", "a small farm", "the beach", "the garden",
                                     "a busy town", "the hill", "the river", "a big red barn", "the school"};
static const char *const things[] = {"a blue ball", "a shiny key", "a red kite", "a little boat", "a warm hat",
                                     "an old map", "a yellow flower", "a wooden box", "a bright star",
                                     "a soft blanket", "a silver bell", "a green apple"};
static const char *const feelings[] = {"happy", "sad", "scared", "curious", "tired", "proud", "lonely",
                                       "excited", "worried", "brave"};

static const char *const openings[] = {
    "Once upon a time, there was a little {k} named {h}. {S} lived near {p}.",
    "One sunny day, a {k} called {h} went to {p}.",
    "{h} was a small {k} who loved to play at {p} every day.",
    "In {p} there lived a {k} named {h}. {S} had {t} that {s} loved very much.",
    "It was a cold morning, and {h} the {k} woke up early.",
};
static const char *const problems[] = {
    "One day, {s} lost {t} and felt very {e}.",
    "Then {h} saw {t} high up in a tall tree. {S} could not reach it.",
    "But the wind was strong, and it blew {t} far away.",
    "{h} wanted to find {t}, but {s} did not know where to look.",
    "Suddenly, it began to rain, and {h} felt {e}.",
};
static const char *const talks[] = {
    "{h} met {f}. \"Can you help me?\" {s} asked. \"Yes, I can help you,\" said the friend.",
    "\"Why are you {e}?\" asked {f}. \"I lost {t},\" said {h}. \"Let us look together.\"",
    "{f} came by and said, \"Do not be {e}. We will find a way.\" {h} smiled.",
    "\"I am {e},\" said {h}. {f} gave {o} a hug and said, \"I am here for you.\"",
};
static const char *const deeds[] = {
    "They walked all around {p} and looked under every rock.",
    "They worked together and made a long stick to reach it.",
    "They asked everyone they met, and at last a little girl pointed to the river.",
    "{h} climbed and climbed, and {f} held the ladder.",
    "They followed the tracks in the mud until the sun went down.",
};
static const char *const endings[] = {
    "At last, {h} found {t}. {S} was so happy and thanked {x} new friend.",
    "In the end, {h} learned that it is good to ask for help.",
    "From that day on, {h} and {f} were best friends.",
    "{h} went home with {t} and told {x} mom the whole story. Then {s} went to sleep with a smile.",
    "They laughed and played at {p} until it was time to go home.",
};

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void put(sbuf *b, const char *s, size_t k)
{
    if (b->oom) return;
    if (b->n + k + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->n + k + 1) nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, k);
    b->n += k;
    b->p[b->n] = '\0';
}

typedef struct cast {
    const hero *h;
    const char *kind, *friend_, *place, *thing, *feeling;
} cast;

/* Writes pattern with its slots filled. */
static void fill(sbuf *b, const char *pat, const cast *c)
{
    for (const char *q = pat; *q; q++) {
        if (q[0] != '{' || !q[1] || q[2] != '}') {
            put(b, q, 1);
            continue;
        }
        const char *v = "";
        switch (q[1]) {
        case 'h': v = c->h->name; break;
        case 'k': v = c->kind; break;
        case 'f': v = c->friend_; break;
        case 'p': v = c->place; break;
        case 't': v = c->thing; break;
        case 'e': v = c->feeling; break;
        case 's': v = c->h->she ? "she" : "he"; break;
        case 'S': v = c->h->she ? "She" : "He"; break;
        case 'o': v = c->h->she ? "her" : "him"; break;
        case 'x': v = c->h->she ? "her" : "his"; break;
        default: break;
        }
        put(b, v, strlen(v));
        q += 2;
    }
}

#define PICK(rng, arr) (arr[lilm_rng_below(rng, N_OF(arr))])

static void story(sbuf *b, lilm_rng *rng)
{
    cast c;
    c.h = &heroes[lilm_rng_below(rng, N_OF(heroes))];
    c.kind = PICK(rng, kinds);
    if (strcmp(c.kind, "girl") == 0 && !c.h->she) c.kind = "boy";
    if (strcmp(c.kind, "boy") == 0 && c.h->she) c.kind = "girl";
    c.friend_ = PICK(rng, friends);
    c.place = PICK(rng, places);
    c.thing = PICK(rng, things);
    c.feeling = PICK(rng, feelings);
    fill(b, PICK(rng, openings), &c);
    put(b, " ", 1);
    fill(b, PICK(rng, problems), &c);
    put(b, "\n\n", 2);
    fill(b, PICK(rng, talks), &c);
    put(b, " ", 1);
    fill(b, PICK(rng, deeds), &c);
    if (lilm_rng_below(rng, 2)) {
        put(b, " ", 1);
        fill(b, PICK(rng, deeds), &c);
    }
    put(b, "\n\n", 2);
    fill(b, PICK(rng, endings), &c);
    put(b, "\n\n", 2);
}

lilm_status lilm_tiny_stories_generate(uint64_t seed, size_t bytes, char **buf, size_t *len)
{
    sbuf b = {NULL, 0, 0, 0};
    lilm_rng rng;
    lilm_rng_seed(&rng, seed);
    while (b.n < bytes && !b.oom) story(&b, &rng);
    if (b.oom) {
        free(b.p);
        *buf = NULL;
        *len = 0;
        return lilm_errorf(LILM_ERR_OOM, "out of memory generating the tiny stories");
    }
    *buf = b.p;
    *len = b.n;
    return LILM_OK;
}

lilm_status lilm_tiny_stories_write(const char *path)
{
    char *text = NULL;
    size_t n = 0;
    LILM_TRY(lilm_tiny_stories_generate(LILM_TINY_STORIES_SEED, LILM_TINY_STORIES_BYTES, &text, &n));
    char *old = NULL;
    size_t old_n = 0;
    int same = 0;
    if (lilm_path_exists(path) && lilm_read_file(path, &old, &old_n) == LILM_OK)
        same = old_n == n && memcmp(old, text, n) == 0;
    lilm_clear_error();
    free(old);
    lilm_status st = same ? LILM_OK : lilm_write_atomic(path, text, n);
    free(text);
    return st;
}
