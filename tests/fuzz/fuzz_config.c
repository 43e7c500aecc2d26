/*
 * fuzz_config.c: libFuzzer target for the YAML config loader.
 *
 * Arbitrary bytes go to lilm_config_load_yaml_string over the defaults. It
 * must return LILM_OK or LILM_ERR_CONFIG (OOM aside) and never crash; a
 * config it accepts must survive write -> load unchanged (the round-trip
 * promise of lilm_config_write_yaml). Built and run by `make fuzz-smoke`
 * against tests/fuzz/corpus/fuzz_config/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lilm_config a, b;
    lilm_config_defaults(&a);
    lilm_status s = lilm_config_load_yaml_string(&a, "fuzz.yaml", (const char *)data, size);
    if (s != LILM_OK && s != LILM_ERR_CONFIG && s != LILM_ERR_OOM) abort();
    if (s != LILM_OK) return 0;
    (void)lilm_config_validate(&a);
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f) return 0;
    if (lilm_config_write_yaml(&a, f) != LILM_OK) abort();
    fclose(f);
    lilm_config_defaults(&b);
    if (lilm_config_load_yaml_string(&b, "rewritten.yaml", buf, n) != LILM_OK) abort();
    if (!lilm_config_equal(&a, &b)) abort();
    free(buf);
    return 0;
}
