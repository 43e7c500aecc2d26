/*
 * cpu.h: CPU-backend functions beyond the op table of ops/backend.h.
 *
 * OpenBLAS picks its kernel set (AVX2 "Haswell", AVX-512 "SkylakeX" /
 * "Cooperlake", ...) from the CPU when it is loaded, unless the environment
 * variable OPENBLAS_CORETYPE forces one. Some machine images set
 * OPENBLAS_CORETYPE=Haswell; on an AVX-512 CPU that makes every sgemm about
 * 1.9x slower. lilm_cpu_blas_redetect lets a program that wants the fastest
 * kernels ignore that setting.
 */
#ifndef LILM_CPU_H
#define LILM_CPU_H

#include "core/status.h"

/* Re-selects OpenBLAS's kernels from the CPU itself, ignoring (and removing
 * from this process's environment) OPENBLAS_CORETYPE. Call it once, before
 * any BLAS work, from a single thread. *core gets the kernel set's name
 * (e.g. "Cooperlake"). LILM_ERR_UNSUPPORTED when the linked OpenBLAS is not
 * a DYNAMIC_ARCH build (its kernels are fixed at build time). */
lilm_status lilm_cpu_blas_redetect(const char **core);

/* The name of the OpenBLAS kernel set in use. */
const char *lilm_cpu_blas_core(void);

/* The CPU's theoretical fp32 peak and how it was formed (cpu_peak.c):
 * gflops = cores x ghz x fma_units x lanes x 2. */
typedef struct lilm_cpu_peak {
    char model[128];        /* /proc/cpuinfo "model name" */
    char isa[16];           /* "AVX-512", "AVX2+FMA" or "SSE": the width counted */
    char clock_source[16];  /* where ghz came from */
    int cores, fma_units, lanes;
    double ghz, gflops;
} lilm_cpu_peak;

/* Fills *pk for `threads` cores (<= 0: all online CPUs). Never fails: what
 * cannot be read stays at a conservative default (4 lanes, 0 GHz). */
void lilm_cpu_peak_get(int threads, lilm_cpu_peak *pk);

#endif
