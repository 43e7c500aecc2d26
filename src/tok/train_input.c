/*
 * train_input.c: from training files to a table of counted words.
 *
 * Steps, as spm_train takes them:
 *   1. read every input (text lines, the string field of each JSONL object,
 *      or NUL-terminated documents; newlines inside the last two split them
 *      into lines); check UTF-8 (an error names the file and line, or the
 *      document for NUL-separated input); cut lines longer than max_line_bytes at the last space
 *      before the limit; skip sentences longer than max_sentence_length bytes;
 *   2. keep a uniform random sample of input_sentence_size sentences when set
 *      (core/rng's splitmix64 from `seed`; the kept sentences stay in input order);
 *   3. normalise each sentence with the model's normaliser, split it before
 *      every "▁" into words, count the words (one hash table per thread,
 *      merged afterwards, so the result is independent of the thread count);
 *   4. count characters over the words and keep the most frequent ones until
 *      character_coverage of all characters is reached; the others become
 *      U+2585 (unknown) in the words.
 * Sentences live in one byte arena with (offset, length) spans.
 */
#include "tok/train_impl.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/json.h"
#include "core/rng.h"
#include "tok/normalizer.h"

/* ------------------------------------------------------------ sentences */

typedef struct sentences {
    char *buf;      /* (len) bytes of every sentence */
    size_t len, cap;
    size_t *off;    /* (n) */
    uint32_t *slen; /* (n) */
    size_t n, ncap;
    int64_t skipped;
} sentences;

static void sentences_free(sentences *s)
{
    free(s->buf);
    free(s->off);
    free(s->slen);
    memset(s, 0, sizeof(*s));
}

static lilm_status sentences_push(sentences *s, const char *p, size_t n)
{
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap : 1 << 20;
        while (cap < s->len + n) cap *= 2;
        char *b = realloc(s->buf, cap);
        if (!b) return lilm_errorf(LILM_ERR_OOM, "out of memory reading the training text");
        s->buf = b;
        s->cap = cap;
    }
    if (s->n == s->ncap) {
        size_t cap = s->ncap ? s->ncap * 2 : 1 << 14;
        size_t *o = realloc(s->off, cap * sizeof(*o));
        if (o) s->off = o;
        uint32_t *l = realloc(s->slen, cap * sizeof(*l));
        if (l) s->slen = l;
        if (!o || !l) return lilm_errorf(LILM_ERR_OOM, "out of memory reading the training text");
        s->ncap = cap;
    }
    memcpy(s->buf + s->len, p, n);
    s->off[s->n] = s->len;
    s->slen[s->n] = (uint32_t)n;
    s->n++;
    s->len += n;
    return LILM_OK;
}

/* Adds one line: cut into pieces of at most max_line_bytes (at the last
 * space, else at a character boundary), each kept if not too long. */
static lilm_status add_line(sentences *s, const lilm_tok_train_opts *o, const char *p, size_t n)
{
    while (n > 0) {
        size_t take = n;
        if (o->max_line_bytes > 0 && n > o->max_line_bytes) {
            take = o->max_line_bytes;
            size_t sp = take;
            while (sp > 0 && p[sp] != ' ') sp--;
            if (sp > 0) take = sp;
            else while (take > 0 && ((unsigned char)p[take] & 0xC0) == 0x80) take--;
            if (take == 0) take = o->max_line_bytes;
        }
        if (take > 0 && take <= (size_t)o->max_sentence_length) LILM_TRY(sentences_push(s, p, take));
        else s->skipped++;
        p += take;
        n -= take;
        while (n > 0 && *p == ' ' && o->max_line_bytes > 0) { p++; n--; } /* the cut's space */
    }
    return LILM_OK;
}

static lilm_status check_utf8(const char *path, size_t line, const char *p, size_t n)
{
    size_t bad;
    if (!lilm_utf8_valid(p, n, &bad))
        return lilm_errorf(LILM_ERR_FORMAT, "%s:%zu: invalid UTF-8 at byte %zu of the line; convert the file to UTF-8 "
                           "(e.g. iconv -f latin1 -t utf-8) or drop the line", path, line, bad + 1);
    return LILM_OK;
}

/* One JSONL line: its string field o->jsonl_field, split into sentences at
 * its own newlines. The line is parsed by core/json, so what is valid JSONL
 * here is what the data readers accept. */
static lilm_status add_jsonl_line(sentences *s, const lilm_tok_train_opts *o, const char *path, size_t line,
                                  const char *p, size_t n)
{
    char name[1100];
    snprintf(name, sizeof name, "%s:%zu", path, line);
    lilm_json *v = NULL;
    LILM_TRY(lilm_json_parse(&v, p, n, name)); /* the message names path:line */
    lilm_status st = LILM_OK;
    const lilm_json *f = lilm_json_get(v, o->jsonl_field);
    if (v->type != LILM_JSON_OBJECT)
        st = lilm_errorf(LILM_ERR_FORMAT, "%s: not a JSON object; JSONL needs one object per line", name);
    else if (!f || f->type != LILM_JSON_STRING)
        st = lilm_errorf(LILM_ERR_FORMAT, "%s: no string field \"%s\"; pick the field with --field", name,
                         o->jsonl_field);
    for (size_t a = 0; st == LILM_OK && a < f->len;) { /* the text's own lines */
        const char *q = memchr(f->str + a, '\n', f->len - a);
        size_t l = q ? (size_t)(q - (f->str + a)) : f->len - a;
        st = add_line(s, o, f->str + a, l);
        a += l + 1;
    }
    lilm_json_free(v);
    return st;
}

static lilm_status read_input(sentences *s, const lilm_tok_train_opts *o, const char *path)
{
    char *data = NULL;
    size_t n = 0;
    LILM_TRY(lilm_read_file(path, &data, &n));
    lilm_status st = LILM_OK;
    size_t line = 0;
    if (o->format == LILM_TRAIN_DOCS) {
        size_t doc = 0;
        for (size_t i = 0; i < n && st == LILM_OK;) {
            const char *e = memchr(data + i, 0, n - i);
            size_t len = e ? (size_t)(e - (data + i)) : n - i;
            const char *p = data + i;
            i += len + 1;
            doc++;
            for (size_t k = 0; k < len && st == LILM_OK;) {
                size_t k2 = k;
                while (k2 < len && p[k2] != '\n') k2++;
                st = check_utf8(path, doc, p + k, k2 - k);
                if (st != LILM_OK) {
                    st = lilm_errorf(LILM_ERR_FORMAT, "%s: document %zu: invalid UTF-8; convert the text to UTF-8", path, doc);
                    break;
                }
                st = add_line(s, o, p + k, k2 - k);
                k = k2 + 1;
            }
        }
        free(data);
        return st;
    }
    for (size_t i = 0; i < n && st == LILM_OK;) {
        const char *e = memchr(data + i, '\n', n - i);
        size_t len = e ? (size_t)(e - (data + i)) : n - i;
        const char *p = data + i;
        i += len + 1;
        line++;
        if (o->format == LILM_TRAIN_TEXT) {
            st = check_utf8(path, line, p, len);
            if (st == LILM_OK) st = add_line(s, o, p, len);
            continue;
        }
        size_t k = 0;
        while (k < len && (p[k] == ' ' || p[k] == '\t' || p[k] == '\r')) k++;
        if (k == len) continue; /* blank line */
        st = add_jsonl_line(s, o, path, line, p, len);
    }
    free(data);
    return st;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* ------------------------------------------------------------- word maps */

typedef struct wentry {
    uint64_t hash;
    size_t off;   /* into the map's pool */
    uint32_t len;
    int64_t count;
} wentry;

typedef struct wmap {
    wentry *e;    /* (cap) len == UINT32_MAX marks empty */
    size_t cap, n;
    char *pool;
    size_t pool_len, pool_cap;
} wmap;

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, s + i, 8);
        h = (h ^ v) * 0xBF58476D1CE4E5B9ULL;
        h ^= h >> 31;
    }
    uint64_t v = 0;
    memcpy(&v, s + i, n - i);
    h ^= v;
    h ^= h >> 33; /* full avalanche: the table indexes by the low bits */
    h *= 0xFF51AFD7ED558CCDULL;
    h ^= h >> 33;
    h *= 0xC4CEB9FE1A85EC53ULL;
    return h ^ (h >> 33);
}

static void wmap_free(wmap *m)
{
    free(m->e);
    free(m->pool);
    memset(m, 0, sizeof(*m));
}

static int wmap_rehash(wmap *m, size_t cap)
{
    wentry *e = malloc(cap * sizeof(*e));
    if (!e) return 0;
    for (size_t i = 0; i < cap; i++) e[i].len = UINT32_MAX;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->e[i].len == UINT32_MAX) continue;
        size_t j = (size_t)m->e[i].hash & (cap - 1);
        while (e[j].len != UINT32_MAX) j = (j + 1) & (cap - 1);
        e[j] = m->e[i];
    }
    free(m->e);
    m->e = e;
    m->cap = cap;
    return 1;
}

/* Adds `count` to word s[0..n); returns 0 when out of memory. */
static int wmap_add(wmap *m, const char *s, size_t n, uint64_t h, int64_t count)
{
    if ((m->n + 1) * 2 > m->cap && !wmap_rehash(m, m->cap ? m->cap * 2 : 1 << 14)) return 0;
    size_t j = (size_t)h & (m->cap - 1);
    while (m->e[j].len != UINT32_MAX) {
        wentry *x = &m->e[j];
        if (x->hash == h && x->len == n && memcmp(m->pool + x->off, s, n) == 0) {
            x->count += count;
            return 1;
        }
        j = (j + 1) & (m->cap - 1);
    }
    if (m->pool_len + n > m->pool_cap) {
        size_t cap = m->pool_cap ? m->pool_cap * 2 : 1 << 16;
        while (cap < m->pool_len + n) cap *= 2;
        char *p = realloc(m->pool, cap);
        if (!p) return 0;
        m->pool = p;
        m->pool_cap = cap;
    }
    memcpy(m->pool + m->pool_len, s, n);
    m->e[j] = (wentry){h, m->pool_len, (uint32_t)n, count};
    m->pool_len += n;
    m->n++;
    return 1;
}

/* Splits normalised text before each "▁" and counts the words. */
static int count_words(wmap *m, const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i + 3 <= n; i++) {
        if ((unsigned char)s[i] == 0xE2 && (unsigned char)s[i + 1] == 0x96 && (unsigned char)s[i + 2] == 0x81 && i > start) {
            if (!wmap_add(m, s + start, i - start, hash_bytes(s + start, i - start), 1)) return 0;
            start = i;
        }
    }
    if (n > start && !wmap_add(m, s + start, n - start, hash_bytes(s + start, n - start), 1)) return 0;
    return 1;
}

typedef struct sort_entry {
    const char *s;
    uint32_t len;
    int64_t count;
} sort_entry;

static int cmp_word(const void *a, const void *b)
{
    const sort_entry *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    size_t m = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, m);
    if (c) return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

/* Turns a map into the sorted word table of `out` (words, not characters). */
static lilm_status map_to_words(const wmap *m, lilm__words *out)
{
    sort_entry *es = malloc((m->n ? m->n : 1) * sizeof(*es));
    out->pool = malloc(m->pool_len ? m->pool_len : 1);
    out->off = malloc((m->n ? m->n : 1) * sizeof(*out->off));
    out->len = malloc((m->n ? m->n : 1) * sizeof(*out->len));
    out->freq = malloc((m->n ? m->n : 1) * sizeof(*out->freq));
    if (!es || !out->pool || !out->off || !out->len || !out->freq) {
        free(es);
        return lilm_errorf(LILM_ERR_OOM, "out of memory building the word table");
    }
    size_t k = 0;
    for (size_t i = 0; i < m->cap; i++)
        if (m->e[i].len != UINT32_MAX) es[k++] = (sort_entry){m->pool + m->e[i].off, m->e[i].len, m->e[i].count};
    qsort(es, k, sizeof(*es), cmp_word);
    size_t o = 0;
    for (size_t i = 0; i < k; i++) {
        memcpy(out->pool + o, es[i].s, es[i].len);
        out->off[i] = o;
        out->len[i] = es[i].len;
        out->freq[i] = es[i].count;
        o += es[i].len;
    }
    out->pool_len = o;
    out->n = k;
    free(es);
    return LILM_OK;
}

typedef struct char_count {
    uint32_t cp;
    int64_t count;
} char_count;

static int cmp_char(const void *a, const void *b)
{
    const char_count *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return x->cp < y->cp ? -1 : x->cp > y->cp;
}

/* Step 4: required characters, and U+2585 for the others. */
static lilm_status pick_chars(const lilm_tok_train_opts *o, lilm__words *w)
{
    size_t max_len = 1;
    for (size_t i = 0; i < w->n; i++)
        if (w->len[i] > max_len) max_len = w->len[i];
    int64_t *counts = calloc(0x110000, sizeof(*counts));
    uint32_t *cps = malloc(max_len * sizeof(*cps)); /* code points <= bytes */
    if (!counts || !cps) {
        free(counts);
        free(cps);
        return lilm_errorf(LILM_ERR_OOM, "out of memory counting characters");
    }
    int64_t all = 0;
    for (size_t i = 0; i < w->n; i++) {
        size_t n = lilm_utf8_decode(w->pool + w->off[i], w->len[i], cps);
        for (size_t j = 0; j < n; j++) {
            if (cps[j] == 0 || cps[j] == ' ' || cps[j] > 0x10FFFF) continue;
            counts[cps[j]] += w->freq[i];
            all += w->freq[i];
        }
    }
    size_t distinct = 0;
    for (uint32_t c = 0; c < 0x110000; c++) distinct += counts[c] > 0;
    char_count *cc = malloc((distinct ? distinct : 1) * sizeof(*cc));
    lilm_status st = LILM_OK;
    if (!cc) st = lilm_errorf(LILM_ERR_OOM, "out of memory counting characters");
    size_t k = 0;
    for (uint32_t c = 0; c < 0x110000 && cc; c++)
        if (counts[c] > 0) cc[k++] = (char_count){c, counts[c]};
    if (st == LILM_OK) {
        qsort(cc, k, sizeof(*cc), cmp_char);
        w->chars = malloc((k ? k : 1) * sizeof(*w->chars));
        w->char_freq = malloc((k ? k : 1) * sizeof(*w->char_freq));
        if (!w->chars || !w->char_freq) st = lilm_errorf(LILM_ERR_OOM, "out of memory counting characters");
    }
    int64_t acc = 0;
    for (size_t i = 0; i < k && st == LILM_OK; i++) {
        if ((double)acc / (double)all >= o->character_coverage) break;
        if (cc[i].cp == LILM__UNK_CHAR) continue;
        acc += cc[i].count;
        w->chars[w->n_chars] = cc[i].cp;
        w->char_freq[w->n_chars] = cc[i].count;
        w->n_chars++;
    }
    /* characters left out: rewrite the words and merge the ones that collide */
    int dropped = st == LILM_OK && w->n_chars < k;
    if (dropped) {
        uint8_t *keep = calloc(0x110000, 1);
        wmap m = {0};
        char *buf = malloc(max_len * 4);
        if (!keep || !buf) st = lilm_errorf(LILM_ERR_OOM, "out of memory");
        for (size_t i = 0; i < w->n_chars && keep; i++) keep[w->chars[i]] = 1;
        for (size_t i = 0; i < w->n && st == LILM_OK; i++) {
            size_t n = lilm_utf8_decode(w->pool + w->off[i], w->len[i], cps), bl = 0;
            for (size_t j = 0; j < n; j++) bl += lilm_utf8_encode(keep[cps[j]] ? cps[j] : LILM__UNK_CHAR, buf + bl);
            if (!wmap_add(&m, buf, bl, hash_bytes(buf, bl), w->freq[i])) st = lilm_errorf(LILM_ERR_OOM, "out of memory");
        }
        if (st == LILM_OK) {
            lilm__words nw = {0};
            st = map_to_words(&m, &nw);
            if (st == LILM_OK) {
                free(w->pool); free(w->off); free(w->len); free(w->freq);
                w->pool = nw.pool; w->off = nw.off; w->len = nw.len; w->freq = nw.freq;
                w->pool_len = nw.pool_len; w->n = nw.n;
            } else {
                lilm__words_free(&nw);
            }
        }
        free(keep);
        free(buf);
        wmap_free(&m);
    }
    free(cc);
    free(counts);
    free(cps);
    return st;
}

lilm_status lilm__train_load(const lilm_tok_train_opts *o, const lilm_sp_normalizer_spec *ns, lilm__words *out)
{
    memset(out, 0, sizeof(*out));
    sentences s = {0};
    lilm_status st = LILM_OK;
    for (size_t i = 0; i < o->n_inputs && st == LILM_OK; i++) st = read_input(&s, o, o->inputs[i]);
    if (st != LILM_OK) {
        sentences_free(&s);
        return st;
    }

    /* step 2: sample */
    size_t *pick = NULL, n_pick = s.n;
    if (o->input_sentence_size > 0 && (size_t)o->input_sentence_size < s.n) {
        pick = malloc(s.n * sizeof(*pick));
        if (!pick) {
            sentences_free(&s);
            return lilm_errorf(LILM_ERR_OOM, "out of memory sampling sentences");
        }
        for (size_t i = 0; i < s.n; i++) pick[i] = i;
        uint64_t rng = o->seed;
        n_pick = (size_t)o->input_sentence_size;
        for (size_t i = 0; i < n_pick; i++) {
            size_t j = i + (size_t)(lilm_splitmix64(&rng) % (s.n - i));
            size_t t = pick[i];
            pick[i] = pick[j];
            pick[j] = t;
        }
        qsort(pick, n_pick, sizeof(*pick), cmp_size);
    }

    /* step 3: normalise and count, one map per thread */
    lilm_normalizer nz;
    st = lilm_normalizer_init(&nz, ns, false);
    int nt = o->threads;
    wmap *maps = calloc((size_t)nt, sizeof(*maps));
    int64_t *empty = calloc((size_t)nt, sizeof(*empty));
    int failed = 0;
    if (!maps || !empty) st = lilm_errorf(LILM_ERR_OOM, "out of memory");
    if (st == LILM_OK) {
#pragma omp parallel num_threads(nt)
        {
            int t = omp_get_thread_num();
            char *buf = NULL;
            size_t cap = 0, n_out = 0;
#pragma omp for schedule(dynamic, 4096)
            for (size_t i = 0; i < n_pick; i++) {
                if (failed) continue;
                size_t si = pick ? pick[i] : i;
                if (lilm_normalizer_normalize(&nz, s.buf + s.off[si], s.slen[si], &buf, &cap, &n_out, NULL, NULL) != LILM_OK) {
#pragma omp atomic write
                    failed = 1;
                    continue;
                }
                if (n_out == 0) {
                    empty[t]++;
                    continue;
                }
                if (!count_words(&maps[t], buf, n_out)) {
#pragma omp atomic write
                    failed = 1;
                }
            }
            free(buf);
        }
        if (failed) st = lilm_errorf(LILM_ERR_OOM, "normalising the training text failed (out of memory)");
    }
    int64_t n_empty = 0;
    for (int t = 0; t < nt && empty; t++) n_empty += empty[t];
    for (int t = 1; t < nt && st == LILM_OK; t++) {
        const wmap *m = &maps[t];
        for (size_t i = 0; i < m->cap && st == LILM_OK; i++)
            if (m->e[i].len != UINT32_MAX &&
                !wmap_add(&maps[0], m->pool + m->e[i].off, m->e[i].len, m->e[i].hash, m->e[i].count))
                st = lilm_errorf(LILM_ERR_OOM, "out of memory merging word counts");
    }
    if (st == LILM_OK) st = map_to_words(&maps[0], out);
    out->n_sentences = (int64_t)n_pick - n_empty;
    out->n_skipped = s.skipped + n_empty;
    for (int t = 0; t < nt && maps; t++) wmap_free(&maps[t]);
    free(maps);
    free(empty);
    free(pick);
    sentences_free(&s);
    if (st == LILM_OK) st = pick_chars(o, out);
    if (st != LILM_OK) lilm__words_free(out);
    return st;
}
