/*
 * cpu_peak.c: the CPU's theoretical fp32 peak, for MFU figures.
 *
 * peak = cores x clock x FMA units per core x fp32 lanes per FMA x 2 flops.
 *   - lanes: 16 with AVX-512F, 8 with AVX2+FMA, 4 otherwise (SSE mul+add),
 *     from /proc/cpuinfo's flags, and no wider than the OpenBLAS kernel set
 *     in use (a Haswell / Zen / Sandybridge kernel set runs 256-bit code on
 *     an AVX-512 CPU, e.g. under OPENBLAS_CORETYPE=Haswell);
 *   - FMA units: 2 per core (every AVX2 core since Haswell and Zen 2, and
 *     the AVX-512 server cores; parts with a single 512-bit unit overstate
 *     by 2x here);
 *   - clock: cpufreq's cpuinfo_max_freq when the kernel exposes it, else the
 *     "cpu MHz" of /proc/cpuinfo (a VM's nominal clock), else bogomips / 2;
 *   - cores: the threads the backend runs, capped at the online CPUs.
 * All-core turbo, AVX-512 down-clocking and SMT make the real ceiling differ
 * by some tens of percent; the parts are returned so callers can print how
 * the number was formed.
 */
#include "cpu/cpu.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1 when the space-separated flag list holds `flag` as a whole word. */
static int has_flag(const char *flags, const char *flag)
{
    size_t n = strlen(flag);
    for (const char *p = flags; (p = strstr(p, flag)) != NULL; p += n)
        if ((p == flags || p[-1] == ' ' || p[-1] == '\t') && (p[n] == ' ' || p[n] == '\n' || p[n] == '\0'))
            return 1;
    return 0;
}

/* Copies the value of the first "key<spaces>: value" line into out. */
static int cpuinfo_value(const char *text, const char *key, char *out, size_t cap)
{
    size_t n = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, n) != 0 || (p[n] != ' ' && p[n] != '\t' && p[n] != ':'))
            continue;
        const char *c = strchr(p, ':');
        const char *e = strchr(p, '\n');
        if (!c || (e && c > e))
            continue;
        c++;
        while (*c == ' ' || *c == '\t')
            c++;
        size_t len = e ? (size_t)(e - c) : strlen(c);
        if (len >= cap)
            len = cap - 1;
        memcpy(out, c, len);
        out[len] = '\0';
        return 1;
    }
    return 0;
}

/* The number at the start of s, 0 when there is none. */
static double leading_number(const char *s)
{
    char *end = NULL;
    double d = strtod(s, &end);
    return end != s && d > 0 ? d : 0.0;
}

/* The first 64 KiB of /proc/cpuinfo (the first CPU's block is enough). */
static char *read_cpuinfo(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return NULL;
    char *buf = malloc(65536);
    size_t n = buf ? fread(buf, 1, 65535, f) : 0;
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

void lilm_cpu_peak_get(int threads, lilm_cpu_peak *pk)
{
    memset(pk, 0, sizeof *pk);
    snprintf(pk->model, sizeof pk->model, "unknown CPU");
    pk->fma_units = 2;
    pk->lanes = 4;
    int online = omp_get_num_procs();
    pk->cores = threads > 0 && threads < online ? threads : online;
    char *info = read_cpuinfo();
    char v[4096];
    if (info && cpuinfo_value(info, "model name", v, sizeof v))
        snprintf(pk->model, sizeof pk->model, "%s", v);
    if (info && cpuinfo_value(info, "flags", v, sizeof v)) {
        if (has_flag(v, "avx512f"))
            pk->lanes = 16;
        else if (has_flag(v, "avx2") && has_flag(v, "fma"))
            pk->lanes = 8;
    }
    const char *core = lilm_cpu_blas_core();
    if (pk->lanes > 8 && core &&
        (strstr(core, "Haswell") || strstr(core, "Zen") || strstr(core, "Sandy") || strstr(core, "Excavator")))
        pk->lanes = 8;
    snprintf(pk->isa, sizeof pk->isa, "%s", pk->lanes == 16 ? "AVX-512" : pk->lanes == 8 ? "AVX2+FMA" : "SSE");
    FILE *f = fopen("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", "r");
    long khz = 0;
    if (f) {
        char line[64];
        khz = fgets(line, sizeof line, f) ? (long)leading_number(line) : 0;
        fclose(f);
    }
    if (khz > 0) {
        pk->ghz = (double)khz / 1e6;
        snprintf(pk->clock_source, sizeof pk->clock_source, "cpufreq max");
    } else if (info && cpuinfo_value(info, "cpu MHz", v, sizeof v) && leading_number(v) > 0) {
        pk->ghz = leading_number(v) / 1e3;
        snprintf(pk->clock_source, sizeof pk->clock_source, "cpu MHz");
    } else if (info && cpuinfo_value(info, "bogomips", v, sizeof v) && leading_number(v) > 0) {
        pk->ghz = leading_number(v) / 2e3;
        snprintf(pk->clock_source, sizeof pk->clock_source, "bogomips/2");
    }
    free(info);
    pk->gflops = (double)pk->cores * pk->ghz * pk->fma_units * pk->lanes * 2.0;
}
