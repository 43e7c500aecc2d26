/*
 * text_source.c: tokenise text files in memory and serve packed windows.
 */
#include "data/text_source.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fileio.h"

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

typedef struct token_buf {
    int32_t *ids;
    size_t n, cap;
} token_buf;

static lilm_status push(token_buf *tb, const int32_t *ids, size_t n)
{
    if (tb->n + n > tb->cap) {
        size_t cap = tb->cap ? tb->cap : 1 << 16;
        while (cap < tb->n + n) cap *= 2;
        int32_t *p = realloc(tb->ids, cap * sizeof *p);
        if (!p) return lilm_errorf(LILM_ERR_OOM, "out of memory tokenising text");
        tb->ids = p;
        tb->cap = cap;
    }
    memcpy(tb->ids + tb->n, ids, n * sizeof *ids);
    tb->n += n;
    return LILM_OK;
}

/* Tokenises one file, one document per non-empty line, EOS after each.
 * doc_bytes receives the UTF-8 bytes of each document, in order. */
static lilm_status tokenise_file(const char *path, const lilm_tokenizer *tok, token_buf *tb,
                                 int64_t **doc_bytes, size_t *n_docs, size_t *docs_cap, size_t **doc_end)
{
    char *text = NULL;
    size_t len = 0;
    LILM_TRY(lilm_read_file(path, &text, &len));
    int32_t *ids = NULL;
    size_t cap = 0, n = 0;
    int32_t eos = lilm_tokenizer_eos_id(tok);
    lilm_tok_workspace *ws = NULL;
    lilm_status st = lilm_tok_workspace_create(&ws);
    for (size_t i = 0; i < len && st == LILM_OK;) {
        size_t j = i;
        while (j < len && text[j] != '\n') j++;
        if (j > i) {
            st = lilm_tokenizer_encode_ws(tok, ws, text + i, j - i, &ids, &cap, &n);
            if (st == LILM_OK) st = push(tb, ids, n);
            if (st == LILM_OK) st = push(tb, &eos, 1);
            if (st == LILM_OK) {
                if (*n_docs == *docs_cap) {
                    size_t nc = *docs_cap ? *docs_cap * 2 : 1024;
                    int64_t *nb = realloc(*doc_bytes, nc * sizeof *nb);
                    size_t *ne = nb ? realloc(*doc_end, nc * sizeof *ne) : NULL;
                    if (nb) *doc_bytes = nb;
                    if (ne) *doc_end = ne;
                    if (!nb || !ne) st = lilm_errorf(LILM_ERR_OOM, "out of memory");
                    else *docs_cap = nc;
                }
                if (st == LILM_OK) {
                    (*doc_bytes)[*n_docs] = (int64_t)(j - i);
                    (*doc_end)[*n_docs] = tb->n;
                    (*n_docs)++;
                }
            }
        }
        i = j + 1;
    }
    lilm_tok_workspace_destroy(ws);
    free(ids);
    free(text);
    if (st != LILM_OK) lilm_error_context(st, "%s: ", path);
    return st;
}

lilm_status lilm_text_source_open(lilm_text_source *s, const char *path, const lilm_tokenizer *tok,
                                  double val_fraction, size_t B, size_t T, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    token_buf tb = {0};
    int64_t *doc_bytes = NULL;
    size_t *doc_end = NULL, n_docs = 0, docs_cap = 0;
    lilm_status st = LILM_OK;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return lilm_errorf(LILM_ERR_NOT_FOUND, "training text %s does not exist\nHINT: set data.text to a UTF-8 file or directory", path);
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        if (!d) return lilm_errorf(LILM_ERR_IO, "cannot read directory %s", path);
        char **names = NULL;
        size_t nn = 0, nc = 0;
        struct dirent *e;
        while ((e = readdir(d)) && st == LILM_OK) {
            if (e->d_name[0] == '.') continue;
            char full[2048];
            snprintf(full, sizeof full, "%s/%s", path, e->d_name);
            struct stat fs;
            if (stat(full, &fs) != 0 || !S_ISREG(fs.st_mode)) continue;
            if (nn == nc) {
                nc = nc ? nc * 2 : 16;
                char **p = realloc(names, nc * sizeof *p);
                if (!p) { st = lilm_errorf(LILM_ERR_OOM, "out of memory"); break; }
                names = p;
            }
            names[nn] = strdup(full);
            if (!names[nn]) { st = lilm_errorf(LILM_ERR_OOM, "out of memory"); break; }
            nn++;
        }
        closedir(d);
        if (names) qsort(names, nn, sizeof *names, cmp_str);
        for (size_t i = 0; i < nn; i++) {
            if (st == LILM_OK) st = tokenise_file(names[i], tok, &tb, &doc_bytes, &n_docs, &docs_cap, &doc_end);
            free(names[i]);
        }
        free(names);
    } else {
        st = tokenise_file(path, tok, &tb, &doc_bytes, &n_docs, &docs_cap, &doc_end);
    }
    if (st == LILM_OK && tb.n < 2 * (T + 1))
        st = lilm_errorf(LILM_ERR_ARG, "%s holds only %zu tokens; need at least %zu for sequences of %zu",
                         path, tb.n, 2 * (T + 1), T);
    if (st != LILM_OK) {
        free(tb.ids);
        free(doc_bytes);
        free(doc_end);
        return st;
    }
    /* hold out whole documents from the end: the last val_fraction of tokens */
    size_t want_val = (size_t)((double)tb.n * val_fraction);
    if (want_val < T + 1) want_val = T + 1;
    size_t split_doc = n_docs;
    while (split_doc > 1 && tb.n - doc_end[split_doc - 2] <= want_val) split_doc--;
    s->n_train = split_doc > 0 && split_doc < n_docs ? doc_end[split_doc - 1] : tb.n - want_val;
    if (tb.n - s->n_train < T + 1) s->n_train = tb.n - (T + 1);
    for (size_t d = split_doc; d < n_docs; d++) s->val_bytes += doc_bytes[d];
    free(doc_bytes);
    free(doc_end);
    s->tokens = tb.ids;
    s->n_tokens = tb.n;
    s->B = B;
    s->T = T;
    lilm_rng_seed(&s->rng, seed ^ 0x7465787473726321ULL);
    s->inputs = malloc(B * T * sizeof(int32_t));
    s->targets = malloc(B * T * sizeof(int32_t));
    if (!s->inputs || !s->targets) {
        lilm_text_source_close(s);
        return lilm_errorf(LILM_ERR_OOM, "out of memory");
    }
    if (s->n_train < T + 1) {
        lilm_text_source_close(s);
        return lilm_errorf(LILM_ERR_ARG, "%s: not enough training text for sequences of %zu tokens", path, T);
    }
    return LILM_OK;
}

void lilm_text_source_close(lilm_text_source *s)
{
    free(s->tokens);
    free(s->inputs);
    free(s->targets);
    memset(s, 0, sizeof *s);
}

/* Row `row` of the batch buffers: the window tokens[start .. start + T]. */
static void fill(lilm_text_source *s, size_t row, size_t start)
{
    memcpy(s->inputs + row * s->T, s->tokens + start, s->T * sizeof(int32_t));
    memcpy(s->targets + row * s->T, s->tokens + start + 1, s->T * sizeof(int32_t));
}

/* Hands the first `rows` rows of the batch buffers out as `batch`. */
static lilm_status hand_out(lilm_text_source *s, size_t rows, lilm_batch *batch)
{
    batch->inputs = s->inputs;
    batch->targets = s->targets;
    batch->B = rows;
    batch->T = s->T;
    batch->n_targets = (int64_t)(rows * s->T);
    return LILM_OK;
}

lilm_status lilm_text_source_next(void *ctx, lilm_batch *batch)
{
    lilm_text_source *s = ctx;
    size_t span = s->n_train - s->T; /* starts in [0, n_train - T - 1] */
    for (size_t r = 0; r < s->B; r++) fill(s, r, (size_t)lilm_rng_below(&s->rng, span));
    return hand_out(s, s->B, batch);
}

lilm_status lilm_text_source_next_val(lilm_text_source *s, lilm_batch *batch, int *wrapped)
{
    *wrapped = 0;
    for (size_t r = 0; r < s->B; r++) {
        if (s->val_pos < s->n_train || s->val_pos + s->T + 1 > s->n_tokens) {
            if (s->val_pos >= s->n_train) *wrapped = 1;
            s->val_pos = s->n_train;
        }
        fill(s, r, s->val_pos);
        s->val_pos += s->T;
    }
    return hand_out(s, s->B, batch);
}

lilm_status lilm_text_source_next_full(lilm_text_source *s, lilm_batch *batch, int *done)
{
    size_t n = s->n_tokens, T = s->T, rows = 0;
    *done = s->full_pos >= n;
    if (*done) return LILM_OK;
    for (; rows < s->B && s->full_pos < n; rows++, s->full_pos += T) {
        for (size_t j = 0; j < T; j++) {
            size_t target = s->full_pos + j;
            int have = target < n;
            s->targets[rows * T + j] = have ? s->tokens[target] : s->pad_id;
            s->inputs[rows * T + j] = have && target > 0 ? s->tokens[target - 1] : s->pad_id;
            /* the very first token of the stream has no context: it is not counted */
            if (have && target == 0) s->targets[rows * T + j] = s->pad_id;
        }
    }
    return hand_out(s, rows, batch);
}
