/*
 * test_config.c: the option table, YAML loading, --set, validation, writing.
 *
 * Covers: defaults equal the reference recipe; the table has a row for every
 * lilm_config field; each kind of bad input (unknown key/section, wrong type,
 * out of range, bad enum, duplicate key, malformed YAML, unreadable file)
 * gives LILM_ERR_CONFIG with FILE:LINE and leaves the config untouched;
 * load(write(cfg)) == cfg for awkward values; the reference parameter counts;
 * the files in configs/ load and validate; docs/config.md matches the table.
 * With LILM_CONFIG_DOC_OUT=path the markdown key table is written there
 * (that is how docs/config.md's table is regenerated).
 * Runs from the repository root (tests/run.sh does so).
 */
#include "test.h"

#include <stddef.h>

#include <stdint.h>

#include "core/config.h"
#include "core/fileio.h"
#include "core/status.h"

/* Loads YAML text written to a temp file; returns the status. */
static lilm_status load_text(lilm_config *cfg, const char *text, char *path, size_t pathn)
{
    char dir[256];
    lilm_test_tmpdir(dir, sizeof dir);
    snprintf(path, pathn, "%s/c.yaml", dir);
    if (lilm_write_atomic(path, text, strlen(text)) != LILM_OK) return LILM_ERR_IO;
    return lilm_config_load_yaml(cfg, path);
}

static void test_defaults(lilm_test *t)
{
    lilm_config c;
    lilm_config_defaults(&c);
    LT_NEAR(t, c.train.beta1, 0.9, 0);
    LT_NEAR(t, c.train.beta2, 0.95, 0);
    LT_NEAR(t, c.train.adam_eps, 1e-8, 0);
    LT_NEAR(t, c.train.weight_decay, 0.02, 0);
    LT_NEAR(t, c.train.grad_clip, 1.0, 0);
    LT_NEAR(t, c.train.pct_start, 0.1, 0);
    LT_NEAR(t, c.train.div_factor, 6, 0);
    LT_NEAR(t, c.train.final_div_factor, 20, 0);
    LT_NEAR(t, c.train.lr, 6e-3, 0);
    LT_EQ_INT(t, c.train.accum_batch, 64);
    LT_NEAR(t, c.train.spike_factor, 10, 0);
    LT_EQ_INT(t, c.train.spike_window, 100);
    LT_EQ_INT(t, c.train.val_batches, 30);
    LT_EQ_INT(t, c.train.val_every, 400);
    LT_EQ_INT(t, c.train.seed, 42);
    LT_NEAR(t, c.model.rope_base, 10000, 0);
    LT_NEAR(t, c.budget.minutes, 30, 0);
    LT_NEAR(t, c.budget.tokens_per_param, 70, 0);
    LT_TRUE(t, strcmp(c.train.device, "auto") == 0);
    LT_EQ_INT(t, c.model.pad_id, 3);
    LT_EQ_INT(t, c.train.schedule, LILM_SCHED_ONECYCLE);
    LT_EQ_INT(t, c.model.norm, LILM_NORM_RMS);
    LT_EQ_INT(t, c.model.activation, LILM_ACTKIND_GELU);
    LT_OK(t, lilm_config_validate(&c));
    LT_EQ_INT(t, lilm_model_config_param_count(&c.model), 7296768);
}

/* Every field of lilm_config has one row: sorted by offset, rows do not
 * overlap, and any gap between them is alignment padding (smaller than the
 * next field's alignment), so a missing field would show up as a gap. */
static void test_table_covers_struct(lilm_test *t)
{
    size_t n;
    const lilm_cfg_opt *opts = lilm_config_options(&n);
    LT_TRUE(t, n > 40);
    size_t order[128];
    LT_TRUE(t, n <= 128);
    for (size_t i = 0; i < n; i++) order[i] = i;
    for (size_t i = 1; i < n; i++) /* insertion sort by offset */
        for (size_t j = i; j > 0 && opts[order[j]].offset < opts[order[j - 1]].offset; j--) {
            size_t x = order[j];
            order[j] = order[j - 1];
            order[j - 1] = x;
        }
    /* Each row must start exactly where the previous one ends, rounded up to
     * its own alignment (or, at the first row of a section, to the section
     * struct's alignment, at most 8): any other gap, even one of 4 bytes
     * before an 8-byte field, is a field without a row. */
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const lilm_cfg_opt *o = &opts[order[i]];
        size_t align = o->type == LILM_CFG_STRING ? 1 : o->size;
        size_t want = (at + align - 1) / align * align, want_section = (at + 7) / 8 * 8;
        const char *dot = strchr(o->key, '.');
        const lilm_cfg_opt *prev = i ? &opts[order[i - 1]] : NULL;
        int new_section = !prev || !dot || strncmp(prev->key, o->key, (size_t)(dot - o->key) + 1) != 0;
        LT_CHECK(t, o->offset >= at, "row %s overlaps the previous row", o->key);
        LT_CHECK(t, o->offset == want || (new_section && o->offset == want_section),
                 "a field without a row lies before %s (%zu bytes from the previous row's end)", o->key,
                 o->offset - at);
        at = o->offset + o->size;
        LT_CHECK(t, o->help && o->help[0], "row %s has no help", o->key);
        /* key = section.name */
        LT_CHECK(t, strchr(o->key, '.') != NULL, "row %s has no section", o->key);
    }
    LT_CHECK(t, sizeof(lilm_config) == (at + 7) / 8 * 8, "a field without a row lies at the end (gap %zu)",
             sizeof(lilm_config) - at);
    /* 4-byte fields can hide in the padding before an 8-byte one, where the
     * offsets alone cannot tell them from padding: each must have its row */
    static const struct { size_t offset; const char *field; } narrow[] = {
        {offsetof(lilm_config, model.norm), "model.norm"},
        {offsetof(lilm_config, model.activation), "model.activation"},
        {offsetof(lilm_config, model.zero_init_proj), "model.zero_init_proj"},
        {offsetof(lilm_config, data.mode), "data.mode"},
        {offsetof(lilm_config, train.schedule), "train.schedule"},
        {offsetof(lilm_config, train.optimizer), "train.optimizer"},
        {offsetof(lilm_config, train.muon_nesterov), "train.muon_nesterov"},
        {offsetof(lilm_config, budget.mode), "budget.mode"},
    };
    for (size_t k = 0; k < sizeof narrow / sizeof narrow[0]; k++) {
        int found = 0;
        for (size_t i = 0; i < n; i++) found |= opts[i].offset == narrow[k].offset && opts[i].size == 4;
        LT_CHECK(t, found, "the 4-byte field %s has no row", narrow[k].field);
    }
}

/* Hostile YAML: deep nesting and huge files are refused before the tree is built. */
static void test_yaml_caps(lilm_test *t)
{
    lilm_config c;
    lilm_config_defaults(&c);
    char deep[4096];
    size_t k = 0;
    k += (size_t)snprintf(deep, sizeof deep, "train:\n  lr: ");
    for (int i = 0; i < 1000; i++) deep[k++] = '[';
    deep[k] = '\0';
    LT_STATUS(t, lilm_config_load_yaml_string(&c, "deep.yaml", deep, k), LILM_ERR_CONFIG);
    LT_TRUE(t, strstr(lilm_last_error(), "nested more than") != NULL);
    size_t big = (1u << 20) + 1;
    char *huge = malloc(big);
    if (!huge) return;
    memset(huge, '#', big); /* one long comment: valid YAML, but no config is that big */
    LT_STATUS(t, lilm_config_load_yaml_string(&c, "huge.yaml", huge, big), LILM_ERR_CONFIG);
    LT_TRUE(t, strstr(lilm_last_error(), "more than a config may be") != NULL);
    free(huge);
    /* ordinary nesting still loads */
    const char *ok = "model:\n  d_model: 64\ntrain:\n  lr: 0.001\n";
    LT_OK(t, lilm_config_load_yaml_string(&c, "ok.yaml", ok, strlen(ok)));
}

static void test_param_counts(lilm_test *t)
{
    lilm_config c;
    lilm_config_defaults(&c);
    LT_OK(t, lilm_config_load_yaml(&c, "configs/simplestories.yaml"));
    LT_OK(t, lilm_config_validate(&c));
    LT_EQ_INT(t, lilm_model_config_param_count(&c.model), 7296768);

    lilm_config_defaults(&c);
    LT_OK(t, lilm_config_load_yaml(&c, "configs/babylm.yaml"));
    LT_OK(t, lilm_config_validate(&c));
    LT_EQ_INT(t, lilm_model_config_param_count(&c.model), 11193792);

    /* variants, counted by hand for a small model: V=10, C=4, H=2, qk=v=2, F=8, L=1 */
    lilm_model_config m = {.vocab_size = 10, .d_model = 4, .n_layers = 1, .n_heads = 2, .qk_dim = 2,
                           .v_dim = 2, .ffn_dim = 8, .norm = LILM_NORM_RMS, .activation = LILM_ACTKIND_GELU};
    /* emb 40; norms 8; q 4*4+4=20; kv 4*8+8=40; reproject 4*4+4=20; ffn 4*8+8+8*4+4=76; final 4 */
    LT_EQ_INT(t, lilm_model_config_param_count(&m), 40 + 8 + 20 + 40 + 20 + 76 + 4);
    m.norm = LILM_NORM_LAYER; /* norms get biases: 16 per layer, 8 final */
    LT_EQ_INT(t, lilm_model_config_param_count(&m), 40 + 16 + 20 + 40 + 20 + 76 + 8);
    m.norm = LILM_NORM_NONE;
    LT_EQ_INT(t, lilm_model_config_param_count(&m), 40 + 20 + 40 + 20 + 76);
    m.latent_dim = 3; /* kv.0 4*3+3=15, kv.1 3*8+8=32 */
    LT_EQ_INT(t, lilm_model_config_param_count(&m), 40 + 20 + 15 + 32 + 20 + 76);
    m.activation = LILM_ACTKIND_NONE;
    LT_EQ_INT(t, lilm_model_config_param_count(&m), 40 + 20 + 15 + 32 + 20);

    lilm_config_defaults(&c);
    LT_OK(t, lilm_config_load_yaml(&c, "configs/tiny.yaml"));
    LT_OK(t, lilm_config_validate(&c));
    LT_EQ_INT(t, lilm_model_config_param_count(&c.model), 116416);
}

static void test_load_ok(lilm_test *t)
{
    lilm_config c;
    char path[512];
    lilm_config_defaults(&c);
    LT_OK(t, load_text(&c,
                       "# comment\n"
                       "model:\n  d_model: 128\n  norm: layer\n"
                       "data:\n  text: 'a b.txt'\n  tokenizer: bytes\n"
                       "train:\n  lr: 1e-3\n  seed: 18446744073709551615\n  device: cpu\n"
                       "budget:\n",
                       path, sizeof path));
    LT_EQ_INT(t, c.model.d_model, 128);
    LT_EQ_INT(t, c.model.norm, LILM_NORM_LAYER);
    LT_TRUE(t, strcmp(c.data.text, "a b.txt") == 0);
    LT_TRUE(t, c.train.seed == UINT64_MAX);
    LT_NEAR(t, c.train.lr, 1e-3, 0);
    LT_TRUE(t, strcmp(c.train.device, "cpu") == 0);
    LT_EQ_INT(t, c.model.n_layers, 5); /* untouched keys keep their value */
    /* an empty file changes nothing */
    lilm_config d = c;
    LT_OK(t, load_text(&d, "", path, sizeof path));
    LT_TRUE(t, lilm_config_equal(&c, &d));
    LT_OK(t, load_text(&d, "# only a comment\n", path, sizeof path));
    LT_TRUE(t, lilm_config_equal(&c, &d));
}

/* Expects `yaml` to fail with LILM_ERR_CONFIG, a message containing
 * "FILE:LINE: " and `want`, and the config left as it was. */
static void expect_load_error(lilm_test *t, const char *yaml, int line, const char *want)
{
    lilm_config c, before;
    char path[512], prefix[600];
    lilm_config_defaults(&c);
    before = c;
    lilm_status s = load_text(&c, yaml, path, sizeof path);
    LT_CHECK(t, s == LILM_ERR_CONFIG, "%s: status %s", yaml, lilm_status_str(s));
    snprintf(prefix, sizeof prefix, "%s:%d: ", path, line);
    const char *msg = lilm_last_error();
    LT_CHECK(t, strncmp(msg, prefix, strlen(prefix)) == 0, "message '%s' does not start with '%s'", msg, prefix);
    LT_CHECK(t, strstr(msg, want) != NULL, "message '%s' lacks '%s'", msg, want);
    LT_CHECK(t, lilm_config_equal(&c, &before), "a failed load changed the config (%s)", yaml);
}

static void test_load_errors(lilm_test *t)
{
    expect_load_error(t, "train:\n  lr: abc\n", 2, "key 'train.lr': must be a number in (0, 1], got 'abc'");
    expect_load_error(t, "train:\n  lr: 2\n", 2, "key 'train.lr': must be a number in (0, 1], got 2");
    expect_load_error(t, "train:\n  lr: 0\n", 2, "must be a number in (0, 1]");
    expect_load_error(t, "train:\n  lr: .nan\n", 2, "got '.nan'");
    expect_load_error(t, "train:\n  lr: nan\n", 2, "got 'nan'");
    expect_load_error(t, "train:\n  lr: inf\n", 2, "got 'inf'");
    expect_load_error(t, "train:\n  batch_size: 3.5\n", 2, "key 'train.batch_size': must be an integer in [1,");
    expect_load_error(t, "train:\n  batch_size: 0\n", 2, "got 0");
    expect_load_error(t, "train:\n  batch_size: 99999999999999999999\n", 2, "must be an integer");
    expect_load_error(t, "train:\n  seed: -1\n", 2, "key 'train.seed': must be an integer");
    expect_load_error(t, "model:\n  d_model: 64\n  d_model: 32\n", 3, "duplicate key 'model.d_model' (first set at line 2)");
    expect_load_error(t, "model:\n  d_model: 64\nmodel:\n  n_heads: 2\n", 3, "duplicate section 'model'");
    expect_load_error(t, "model:\n  d_modle: 64\n", 2, "unknown key 'model.d_modle' (did you mean 'model.d_model'?)");
    expect_load_error(t, "model:\n  lr: 1e-3\n", 2, "unknown key 'model.lr' (did you mean 'train.lr'?)");
    expect_load_error(t, "trian:\n  lr: 1e-3\n", 1, "unknown section 'trian'");
    expect_load_error(t, "train.lr: 1e-3\n", 1, "unknown section 'train.lr'");
    expect_load_error(t, "model:\n  norm: batch\n", 2, "key 'model.norm': must be one of rms|layer|none, got 'batch'");
    expect_load_error(t, "train:\n  device: gpu\n", 2, "must be one of auto|cpu|cuda, got 'gpu'");
    expect_load_error(t, "model:\n  d_model: [1, 2]\n", 2, "key 'model.d_model': must be an integer in [1, 65536], got a list");
    expect_load_error(t, "model: 3\n", 1, "section 'model' must be a mapping");
    expect_load_error(t, "- a\n- b\n", 1, "the top level must be a mapping");
    expect_load_error(t, "model:\n  d_model: 64\n bad: [\n", 3, "malformed YAML");
    expect_load_error(t, "model:\n\td_model: 64\n", 2, "malformed YAML");
    expect_load_error(t, "model:\n  d_model: 64\n---\nmodel:\n  d_model: 32\n", 4, "a second YAML document");
    expect_load_error(t, "data:\n  text: \"\\0x\"\n", 2, "NUL");
    char long_path[2048];
    memset(long_path, 'a', sizeof long_path);
    memcpy(long_path, "data:\n  text: ", 14);
    memcpy(long_path + sizeof long_path - 2, "\n", 2);
    expect_load_error(t, long_path, 2, "must be at most 1023 bytes long");

    /* unreadable file */
    lilm_config c;
    lilm_config_defaults(&c);
    LT_STATUS(t, lilm_config_load_yaml(&c, "/nonexistent/x.yaml"), LILM_ERR_CONFIG);
    LT_TRUE(t, strstr(lilm_last_error(), "/nonexistent/x.yaml") != NULL);
}

static void test_set(lilm_test *t)
{
    lilm_config c, before;
    lilm_config_defaults(&c);
    LT_OK(t, lilm_config_set(&c, "train.lr=3e-3"));
    LT_NEAR(t, c.train.lr, 3e-3, 0);
    LT_OK(t, lilm_config_set(&c, "model.norm=none"));
    LT_EQ_INT(t, c.model.norm, LILM_NORM_NONE);
    LT_OK(t, lilm_config_set(&c, "train.steps=1e6")); /* a whole number written as a float */
    LT_EQ_INT(t, c.train.steps, 1000000);
    LT_OK(t, lilm_config_set(&c, "train.batch_size=32.0"));
    LT_EQ_INT(t, c.train.batch_size, 32);
    LT_STATUS(t, lilm_config_set(&c, "train.steps=1.5e0"), LILM_ERR_CONFIG);
    LT_STATUS(t, lilm_config_set(&c, "train.steps=1e300"), LILM_ERR_CONFIG);
    LT_OK(t, lilm_config_set(&c, "data.text=a=b.txt")); /* only the first '=' splits */
    LT_TRUE(t, strcmp(c.data.text, "a=b.txt") == 0);
    LT_OK(t, lilm_config_set(&c, "data.text="));
    LT_TRUE(t, c.data.text[0] == '\0');
    before = c;
    LT_STATUS(t, lilm_config_set(&c, "train.lr=abc"), LILM_ERR_CONFIG);
    LT_TRUE(t, strcmp(lilm_last_error(), "--set train.lr=abc: key 'train.lr': must be a number in (0, 1], got 'abc'") == 0);
    LT_STATUS(t, lilm_config_set(&c, "train.lr= 1e-3"), LILM_ERR_CONFIG);
    LT_STATUS(t, lilm_config_set(&c, "train.lr=1e-3x"), LILM_ERR_CONFIG);
    LT_STATUS(t, lilm_config_set(&c, "train.lr"), LILM_ERR_CONFIG);
    LT_TRUE(t, strstr(lilm_last_error(), "expected section.key=value") != NULL);
    LT_STATUS(t, lilm_config_set(&c, "=3"), LILM_ERR_CONFIG);
    LT_STATUS(t, lilm_config_set(&c, "train.lrr=3"), LILM_ERR_CONFIG);
    LT_TRUE(t, strstr(lilm_last_error(), "did you mean 'train.lr'") != NULL);
    LT_STATUS(t, lilm_config_set(&c, "model.n_layers=0"), LILM_ERR_CONFIG);
    LT_STATUS(t, lilm_config_set(&c, "model.n_layers=-3"), LILM_ERR_CONFIG);
    LT_STATUS(t, lilm_config_set(&c, "train.schedule=linear"), LILM_ERR_CONFIG);
    LT_STATUS(t, lilm_config_set(&c, "data.text=bad\xff"), LILM_ERR_CONFIG);
    LT_TRUE(t, strstr(lilm_last_error(), "must be valid UTF-8 (bad byte 0xff at offset 3)") != NULL);
    LT_TRUE(t, lilm_config_equal(&c, &before));
}

static void expect_invalid(lilm_test *t, const char *set1, const char *set2, const char *want)
{
    lilm_config c;
    lilm_config_defaults(&c);
    LT_OK(t, lilm_config_set(&c, set1));
    if (set2) LT_OK(t, lilm_config_set(&c, set2));
    LT_STATUS(t, lilm_config_validate(&c), LILM_ERR_CONFIG);
    LT_CHECK(t, strstr(lilm_last_error(), want) != NULL, "'%s' lacks '%s'", lilm_last_error(), want);
}

/* The CUDA kernel options are config keys: validated, written, read back. */
static void test_cuda_keys(lilm_test *t)
{
    lilm_config c, d;
    lilm_config_defaults(&c);
    LT_EQ_INT(t, c.train.cuda_attention, 0); /* auto */
    LT_EQ_INT(t, c.train.cuda_epilogue, 1);
    LT_OK(t, lilm_config_set(&c, "train.cuda.attention=warp"));
    LT_EQ_INT(t, c.train.cuda_attention, 1);
    LT_OK(t, lilm_config_set(&c, "train.cuda.attention=mma"));
    LT_EQ_INT(t, c.train.cuda_attention, 2);
    LT_OK(t, lilm_config_set(&c, "train.cuda.epilogue=false"));
    LT_EQ_INT(t, c.train.cuda_epilogue, 0);
    LT_STATUS(t, lilm_config_set(&c, "train.cuda.attention=tensor"), LILM_ERR_CONFIG);
    LT_TRUE(t, strstr(lilm_last_error(), "auto, warp, mma") || strstr(lilm_last_error(), "auto|warp|mma"));
    const char *y = "train:\n  cuda.attention: mma\n  cuda.epilogue: false\n";
    lilm_config_defaults(&d);
    LT_OK(t, lilm_config_load_yaml_string(&d, "cuda.yaml", y, strlen(y)));
    LT_TRUE(t, lilm_config_equal(&c, &d));
}

static void test_validate(lilm_test *t)
{
    expect_invalid(t, "model.qk_dim=33", NULL, "model.qk_dim = 33 must be even");
    expect_invalid(t, "train.batch_size=48", NULL, "must be a multiple of train.batch_size");
    expect_invalid(t, "model.latent_dim=288", NULL, "model.latent_dim = 288 must be below model.d_model");
    expect_invalid(t, "model.vocab_size=4", "model.pad_id=4", "model.pad_id = 4 must be below");
    expect_invalid(t, "data.tokenizer=bytes", "model.vocab_size=256", "too small for the bytes tokenizer");
    expect_invalid(t, "budget.mode=steps", NULL, "train.steps is 0");
    expect_invalid(t, "data.text=a", "data.dataset=b", "not both");
    expect_invalid(t, "train.spike_factor=0.5", NULL, "spike_factor");
    expect_invalid(t, "train.schedule=wsd", "train.decay_frac=0.95", "warm-up and decay overlap");
    lilm_config c;
    lilm_config_defaults(&c);
    LT_OK(t, lilm_config_set(&c, "train.batch_size=16"));
    LT_OK(t, lilm_config_validate(&c));
    LT_OK(t, lilm_config_set(&c, "model.latent_dim=64"));
    LT_OK(t, lilm_config_validate(&c));
    LT_OK(t, lilm_config_set(&c, "model.vocab_size=4"));
    LT_OK(t, lilm_config_set(&c, "model.pad_id=-1"));
    LT_OK(t, lilm_config_validate(&c));
}

/* write -> load gives back exactly the same config, for awkward values. */
static void test_round_trip(lilm_test *t)
{
    char dir[256], path[512];
    lilm_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/run/config.yaml", dir);
    const char *sets[][8] = {
        {"train.lr=0.1", "train.adam_eps=1e-300", "train.seed=18446744073709551615", "model.rope_base=10000.000000001",
         "data.text=quote \" back\\slash \t tab: # hash", "model.pad_id=-1", "train.beta2=0.99999999999999989", NULL},
        {"data.dataset=üñí©ødé/路径", "data.tokenizer=- dash", "train.device=cuda", "model.norm=layer",
         "model.activation=none", "train.schedule=cosine", "budget.mode=steps", NULL},
        {"data.text=nel\xc2\x85 ls\xe2\x80\xa8 ps\xe2\x80\xa9 c1\xc2\x80 bom\xef\xbb\xbf nonchar\xef\xbf\xbe",
         "data.tokenizer=\x01\x7f\r\n emoji \xf0\x9f\x98\x80", "data.dataset='single' #x", NULL},
        {"data.text=", "data.tokenizer=null", "data.dataset=~", "train.weight_decay=0", "budget.minutes=1e-9",
         "data.val_fraction=0.3333333333333333", "train.lr=1", NULL},
    };
    for (size_t k = 0; k < sizeof sets / sizeof sets[0]; k++) {
        lilm_config a, b;
        lilm_config_defaults(&a);
        for (int i = 0; sets[k][i]; i++) LT_OK(t, lilm_config_set(&a, sets[k][i]));
        char sub[600];
        snprintf(sub, sizeof sub, "%s/run", dir);
        LT_OK(t, lilm_mkdirs(sub));
        LT_OK(t, lilm_config_save(&a, path));
        /* load over a config that differs everywhere it can */
        lilm_config_defaults(&b);
        LT_OK(t, lilm_config_set(&b, "train.lr=0.5"));
        LT_OK(t, lilm_config_set(&b, "data.text=zzz"));
        LT_OK(t, lilm_config_load_yaml(&b, path));
        LT_CHECK(t, lilm_config_equal(&a, &b), "set %zu does not round-trip", k);
        LT_CHECK(t, memcmp(&a.train.lr, &b.train.lr, sizeof(double)) == 0, "lr bits differ");
    }
}

static void test_help_and_docs(lilm_test *t)
{
    char dir[256], path[512];
    lilm_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/help.txt", dir);
    FILE *f = fopen(path, "w");
    LT_TRUE(t, f != NULL);
    if (!f) return;
    lilm_config_print_help(f, NULL);
    fclose(f);
    char *help = NULL, *doc = NULL, *md = NULL;
    size_t n;
    LT_OK(t, lilm_read_file(path, &help, &n));
    size_t count;
    const lilm_cfg_opt *opts = lilm_config_options(&count);
    for (size_t i = 0; help && i < count; i++)
        LT_CHECK(t, strstr(help, opts[i].key) != NULL, "help lacks %s", opts[i].key);
    LT_TRUE(t, help && strstr(help, "(0, 1]") && strstr(help, "rms|layer|none"));
    free(help);

    /* docs/config.md carries the generated table verbatim */
    const char *out = getenv("LILM_CONFIG_DOC_OUT");
    snprintf(path, sizeof path, "%s", out && *out ? out : "");
    if (!path[0]) snprintf(path, sizeof path, "%s/table.md", dir);
    f = fopen(path, "w");
    LT_TRUE(t, f != NULL);
    if (!f) return;
    lilm_config_print_markdown(f);
    fclose(f);
    LT_OK(t, lilm_read_file(path, &md, &n));
    LT_OK(t, lilm_read_file("docs/config.md", &doc, &n));
    LT_CHECK(t, md && doc && strstr(doc, md) != NULL,
             "docs/config.md is out of date: regenerate its key table with "
             "LILM_CONFIG_DOC_OUT=/tmp/t.md build/tests/test_config help_and_docs");
    free(md);
    free(doc);
}

/* format_value -> --set gives back every field; from_cli applies file, sets, checks. */
static void test_format_and_cli(lilm_test *t)
{
    lilm_config a, b;
    lilm_config_defaults(&a);
    LT_OK(t, lilm_config_load_yaml(&a, "configs/tiny.yaml"));
    LT_OK(t, lilm_config_set(&a, "train.adam_eps=1.2345678901234567e-7"));
    lilm_config_defaults(&b);
    size_t n;
    const lilm_cfg_opt *opts = lilm_config_options(&n);
    for (size_t i = 0; i < n; i++) {
        char val[1200], assign[1400];
        lilm_config_format_value(&a, &opts[i], val, sizeof val);
        snprintf(assign, sizeof assign, "%s=%s", opts[i].key, val);
        LT_OK(t, lilm_config_set(&b, assign));
        LT_TRUE(t, lilm_config_find(opts[i].key) == &opts[i]);
    }
    LT_TRUE(t, lilm_config_equal(&a, &b));
    LT_TRUE(t, lilm_config_find("train.nope") == NULL);

    const char *sets[] = {"train.lr=1e-3", "model.n_layers=3"};
    LT_OK(t, lilm_config_from_cli(&a, "configs/babylm.yaml", sets, 2));
    LT_NEAR(t, a.train.lr, 1e-3, 0);
    LT_EQ_INT(t, a.model.n_layers, 3);
    LT_EQ_INT(t, a.model.d_model, 192);
    LT_OK(t, lilm_config_from_cli(&a, NULL, NULL, 0));
    LT_EQ_INT(t, a.model.d_model, 288);
    const char *bad[] = {"train.batch_size=48"};
    LT_STATUS(t, lilm_config_from_cli(&a, NULL, bad, 1), LILM_ERR_CONFIG);
    const char *bad2[] = {"train.lr=x"};
    LT_STATUS(t, lilm_config_from_cli(&a, "configs/tiny.yaml", bad2, 1), LILM_ERR_CONFIG);
    LT_TRUE(t, strstr(lilm_last_error(), "--set train.lr=x") != NULL);
}

static const lilm_test_case cases[] = {
    {"format_and_cli", test_format_and_cli},
    {"defaults", test_defaults},
    {"table_covers_struct", test_table_covers_struct},
    {"yaml_caps", test_yaml_caps},
    {"param_counts", test_param_counts},
    {"cuda_keys", test_cuda_keys},
    {"load_ok", test_load_ok},
    {"load_errors", test_load_errors},
    {"set", test_set},
    {"validate", test_validate},
    {"round_trip", test_round_trip},
    {"help_and_docs", test_help_and_docs},
};
LILM_TEST_MAIN(cases)
