/*
 * word_cache.c: the encoders' word cache (see word_cache.h).
 *
 * Slot layout: hash, key offset and length, value offset and length in the
 * arena; a slot with key_len 0 is empty (empty words are never cached).
 * Values are stored before their keys and keys are padded to 4 bytes, so
 * every value starts 4-byte aligned.
 */
#include "tok/word_cache.h"

#include <stdlib.h>
#include <string.h>

#define CACHE_SLOTS 65536u

typedef struct slot {
    uint64_t hash;
    uint32_t key_off, key_len;
    uint32_t val_off, val_len;
} slot;

struct lilm_word_cache {
    slot *slots;              /* (CACHE_SLOTS) */
    size_t n_used;
    unsigned char *arena;     /* values and keys */
    size_t arena_n, arena_cap;
    const void *owner;
    uint64_t fingerprint;
};

static void clear(lilm_word_cache *c)
{
    memset(c->slots, 0, CACHE_SLOTS * sizeof *c->slots);
    c->n_used = 0;
    c->arena_n = 0;
}

lilm_status lilm_word_cache_bind(lilm_word_cache **pc, const void *owner, uint64_t fingerprint)
{
    lilm_word_cache *c = *pc;
    if (!c) {
        c = calloc(1, sizeof *c);
        if (c) c->slots = calloc(CACHE_SLOTS, sizeof *c->slots);
        if (!c || !c->slots) {
            free(c);
            return lilm_errorf(LILM_ERR_OOM, "out of memory for the tokenizer's word cache");
        }
        c->owner = owner;
        c->fingerprint = fingerprint;
        *pc = c;
    }
    if (c->owner != owner || c->fingerprint != fingerprint) {
        clear(c);
        c->owner = owner;
        c->fingerprint = fingerprint;
    }
    return LILM_OK;
}

void lilm_word_cache_free(lilm_word_cache *c)
{
    if (!c) return;
    free(c->slots);
    free(c->arena);
    free(c);
}

uint64_t lilm_word_cache_hash(const char *key, size_t len)
{
    const unsigned char *p = (const unsigned char *)key;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ len, x;
    for (; len >= 8; p += 8, len -= 8) {
        memcpy(&x, p, 8);
        h = (h ^ x) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
    }
    x = 0;
    for (size_t i = 0; i < len; i++) x |= (uint64_t)p[i] << (8 * i);
    h = (h ^ x) * 0x94d049bb133111ebull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 32);
}

static inline int same_bytes(const unsigned char *a, const unsigned char *b, size_t n)
{
    uint64_t x, y;
    for (; n >= 8; a += 8, b += 8, n -= 8) {
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y) return 0;
    }
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

const void *lilm_word_cache_get(const lilm_word_cache *c, const char *key, size_t len, uint64_t hash,
                                size_t *val_len)
{
    uint32_t i = (uint32_t)hash & (CACHE_SLOTS - 1);
    for (;;) {
        const slot *e = &c->slots[i];
        if (e->key_len == 0) return NULL;
        if (e->hash == hash && e->key_len == len && same_bytes(c->arena + e->key_off, (const unsigned char *)key, len)) {
            *val_len = e->val_len;
            return c->arena + e->val_off;
        }
        i = (i + 1) & (CACHE_SLOTS - 1);
    }
}

/* Room for n more arena bytes; 0 when out of memory. */
static int arena_room(lilm_word_cache *c, size_t n)
{
    if (c->arena_n + n <= c->arena_cap) return 1;
    size_t nc = c->arena_cap ? c->arena_cap : 1 << 20;
    while (nc < c->arena_n + n) nc *= 2;
    if (nc > UINT32_MAX) return 0;
    unsigned char *a = realloc(c->arena, nc);
    if (!a) return 0;
    c->arena = a;
    c->arena_cap = nc;
    return 1;
}

void lilm_word_cache_put(lilm_word_cache *c, const char *key, size_t len, uint64_t hash, const void *val,
                         size_t val_len)
{
    if (len == 0 || len > LILM_WORD_CACHE_MAX_WORD || val_len % 4 != 0) return;
    if (c->n_used >= CACHE_SLOTS / 2) clear(c);
    size_t padded = (len + 3) & ~(size_t)3;
    if (!arena_room(c, val_len + padded)) {
        clear(c);
        if (!arena_room(c, val_len + padded)) return;
    }
    size_t val_off = c->arena_n;
    if (val_len) memcpy(c->arena + val_off, val, val_len);
    size_t key_off = val_off + val_len;
    memcpy(c->arena + key_off, key, len);
    memset(c->arena + key_off + len, 0, padded - len);
    c->arena_n = key_off + padded;
    uint32_t i = (uint32_t)hash & (CACHE_SLOTS - 1);
    while (c->slots[i].key_len != 0) i = (i + 1) & (CACHE_SLOTS - 1);
    c->slots[i] = (slot){hash, (uint32_t)key_off, (uint32_t)len, (uint32_t)val_off, (uint32_t)val_len};
    c->n_used++;
}
