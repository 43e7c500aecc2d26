/*
 * cpu_backend.c: the CPU backend's op table, memory, scratch and threads.
 *
 * Threads: all parallelism comes from OpenMP (`num_threads(threads)` on every
 * region, static schedules). OpenBLAS is set to ONE thread and every sgemm is
 * called from inside our own parallel regions on a slice of output rows, so
 * OpenBLAS's pthread pool and OpenMP's pool never compete for the cores
 * (Debian's default OpenBLAS is libopenblas0-pthread, whose workers spin for
 * a while after each call, as idle OpenMP workers do), and every output
 * element is computed by one thread in a fixed order.
 *
 * OpenBLAS core: OpenBLAS picks its kernels from the CPU at load time
 * (AVX-512 "Cooperlake" on the 2-core dev machine) unless OPENBLAS_CORETYPE
 * forces one; forcing "Haswell" (AVX2) makes sgemm about 1.9x slower on an
 * AVX-512 machine. lilm_cpu_blas_redetect (cpu.h) re-runs the detection of a
 * DYNAMIC_ARCH OpenBLAS through its exported gotoblas_dynamic_init; the
 * references are weak, so another OpenBLAS build still links.
 *
 * Memory: alloc() returns 64-byte aligned, zero-filled blocks with a 64-byte
 * header holding the size, so peak_bytes() can count what is live.
 */
#include "cpu/cpu.h"
#include "cpu/cpu_impl.h"
#include "cpu/lowrank.h"

#include <cblas.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

/* Exported by DYNAMIC_ARCH builds of OpenBLAS only. */
extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));

lilm_status lilm_cpu_blas_redetect(const char **core)
{
    if (!gotoblas_dynamic_init || !gotoblas_dynamic_quit) {
        if (core)
            *core = lilm_cpu_blas_core();
        return lilm_errorf(LILM_ERR_UNSUPPORTED,
                           "this OpenBLAS (%s) has one fixed kernel set; it cannot re-detect the CPU",
                           lilm_cpu_blas_core());
    }
    if (unsetenv("OPENBLAS_CORETYPE") != 0)
        return lilm_errorf(LILM_ERR_INTERNAL, "cannot remove OPENBLAS_CORETYPE from the environment");
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    if (core)
        *core = lilm_cpu_blas_core();
    return LILM_OK;
}

const char *lilm_cpu_blas_core(void)
{
    const char *name = openblas_get_corename();
    return name ? name : "unknown";
}

void lilm__cpu_fail(lilm_backend *be, lilm_status s, const char *fmt, ...)
{
    lilm_cpu_state *st = lilm__cpu(be);
    if (st->error != LILM_OK)
        return;
    st->error = s;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->error_msg, sizeof st->error_msg, fmt, ap);
    va_end(ap);
}

static void cpu_destroy(lilm_backend *be)
{
    lilm_cpu_state *st = lilm__cpu(be);
    free(st->scratch);
    free(st);
    free(be);
}

static size_t size_max(size_t a, size_t b) { return a > b ? a : b; }

static lilm_status cpu_reserve(lilm_backend *be, const lilm_backend_plan *plan, size_t *scratch_bytes)
{
    lilm_cpu_state *st = lilm__cpu(be);
    lilm_backend_plan p = st->plan;
    p.max_rows = size_max(p.max_rows, plan->max_rows);
    p.max_batch = size_max(p.max_batch, plan->max_batch);
    p.max_seq = size_max(p.max_seq, plan->max_seq);
    p.d_model = size_max(p.d_model, plan->d_model);
    p.vocab = size_max(p.vocab, plan->vocab);
    p.n_heads = size_max(p.n_heads, plan->n_heads);
    p.qk_dim = size_max(p.qk_dim, plan->qk_dim);
    p.v_dim = size_max(p.v_dim, plan->v_dim);
    p.max_width = size_max(p.max_width, plan->max_width);

    size_t nt = (size_t)st->threads;
    size_t line = LILM_CPU_ALIGN / sizeof(float);
    size_t seq = (p.max_seq + line - 1) / line * line;
    size_t attn_tile = LILM_CPU_ATTN_BLOCK * seq;
    /* xent chunk: enough rows for efficient sgemm, at most ~16 MiB of logits */
    size_t xent_rows = p.vocab ? (size_t)(16u << 20) / (p.vocab * sizeof(float)) : 0;
    xent_rows = xent_rows > 512 ? 512 : xent_rows < 64 ? 64 : xent_rows;
    xent_rows = (xent_rows / 16) * 16;
    size_t xent_floats = p.vocab ? xent_rows * ((p.vocab + line - 1) / line * line) : 0;
    size_t width = size_max(p.d_model, p.max_width);
    width = (width + line - 1) / line * line;
    size_t rope_floats = p.max_seq * (p.qk_dim / 2) * 2;
    size_t total = nt * 2 * attn_tile + xent_floats + nt * 2 * width + rope_floats;
    /* aligned_alloc wants a size that is a multiple of the alignment */
    size_t per_line = LILM_CPU_ALIGN / sizeof(float);
    total = (total + per_line - 1) / per_line * per_line;

    if (total > st->scratch_floats) {
        float *mem = aligned_alloc(LILM_CPU_ALIGN, total * sizeof(float));
        if (!mem)
            return lilm_errorf(LILM_ERR_OOM, "cpu backend: cannot allocate %zu MiB of scratch",
                               total * sizeof(float) >> 20);
        memset(mem, 0, total * sizeof(float));
        free(st->scratch);
        st->scratch = mem;
        st->scratch_floats = total;
    }
    st->plan = p;
    st->attn = st->scratch;
    st->attn_tile = attn_tile;
    st->xent = st->attn + nt * 2 * attn_tile;
    st->xent_rows = p.vocab ? xent_rows : 0;
    st->partial = st->xent + xent_floats;
    st->partial_width = width;
    st->rope = rope_floats ? st->partial + nt * 2 * width : NULL;
    st->rope_d = 0; /* the table is refilled on first use */
    size_t bytes = st->scratch_floats * sizeof(float);
    if (st->bytes_in_use + bytes > st->bytes_peak)
        st->bytes_peak = st->bytes_in_use + bytes;
    if (scratch_bytes)
        *scratch_bytes = bytes;
    return LILM_OK;
}

static lilm_status cpu_alloc(lilm_backend *be, void **ptr, size_t bytes)
{
    lilm_cpu_state *st = lilm__cpu(be);
    size_t total = (bytes + 2 * LILM_CPU_ALIGN - 1) / LILM_CPU_ALIGN * LILM_CPU_ALIGN;
    unsigned char *mem = aligned_alloc(LILM_CPU_ALIGN, total);
    if (!mem) {
        *ptr = NULL;
        return lilm_errorf(LILM_ERR_OOM, "cpu backend: cannot allocate %zu bytes", bytes);
    }
    memset(mem, 0, total);
    memcpy(mem, &bytes, sizeof bytes);
    st->bytes_in_use += bytes;
    size_t now = st->bytes_in_use + st->scratch_floats * sizeof(float);
    if (now > st->bytes_peak)
        st->bytes_peak = now;
    *ptr = mem + LILM_CPU_ALIGN;
    return LILM_OK;
}

static void cpu_free(lilm_backend *be, void *ptr)
{
    if (!ptr)
        return;
    unsigned char *mem = (unsigned char *)ptr - LILM_CPU_ALIGN;
    size_t bytes;
    memcpy(&bytes, mem, sizeof bytes);
    lilm__cpu(be)->bytes_in_use -= bytes;
    free(mem);
}

static lilm_status cpu_upload(lilm_backend *be, void *dst, const void *host_src, size_t bytes)
{
    memcpy(dst, host_src, bytes);
    return LILM_OK;
}

static lilm_status cpu_download(lilm_backend *be, void *host_dst, const void *src, size_t bytes)
{
    memcpy(host_dst, src, bytes);
    return LILM_OK;
}

static void cpu_zero(lilm_backend *be, void *ptr, size_t bytes) { memset(ptr, 0, bytes); }

static lilm_status cpu_sync(lilm_backend *be)
{
    lilm_cpu_state *st = lilm__cpu(be);
    if (st->error == LILM_OK)
        return LILM_OK;
    lilm_status s = st->error;
    st->error = LILM_OK;
    return lilm_errorf(s, "cpu backend: %s", st->error_msg);
}

static size_t cpu_peak_bytes(lilm_backend *be) { return lilm__cpu(be)->bytes_peak; }

/* Host RAM: the physical total, and what is available (/proc/meminfo's
 * MemAvailable, which counts reclaimable caches; else the free pages). */
static void cpu_memory_info(const lilm_backend *be, size_t *total, size_t *available)
{
    long pages = sysconf(_SC_PHYS_PAGES), avpages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    *total = pages > 0 && page > 0 ? (size_t)pages * (size_t)page : 0;
    *available = avpages > 0 && page > 0 ? (size_t)avpages * (size_t)page : 0;
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        unsigned long long kb = 0;
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
            *available = (size_t)kb * 1024;
            break;
        }
    }
    fclose(f);
}

/* Denormal (subnormal) floats: Intel cores take a microcode assist of
 * ~100+ cycles for each FMA that reads or produces one, and training makes
 * them (softmax tails, tiny gradients, AdamW's v): a SimpleStories 1x128
 * step cost 2.5x the CPU time on the AVX-512 Xeon dev VM without flushing.
 * Values below 1.2e-38 never matter to fp32 training, so every thread of the
 * backend (the OpenMP pool and the creating thread, which OpenBLAS runs on
 * too) flushes them to zero: MXCSR's FTZ and DAZ bits. */
static void flush_denormals(int threads)
{
#if defined(__SSE2__)
#pragma omp parallel num_threads(threads)
    _mm_setcsr(_mm_getcsr() | 0x8040u); /* FTZ (bit 15) | DAZ (bit 6) */
    _mm_setcsr(_mm_getcsr() | 0x8040u);
#else
    (void)threads;
#endif
}

static const lilm_backend_ops cpu_ops = {
    .destroy = cpu_destroy,
    .reserve = cpu_reserve,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_upload,
    .download = cpu_download,
    .zero = cpu_zero,
    .sync = cpu_sync,
    .peak_bytes = cpu_peak_bytes,
    .memory_info = cpu_memory_info,
    .cast_to_act = lilm__cpu_cast_to_act,
    .cast_to_f32 = lilm__cpu_cast_to_f32,
    .embedding_forward = lilm__cpu_embedding_forward,
    .embedding_backward = lilm__cpu_embedding_backward,
    .norm_forward = lilm__cpu_norm_forward,
    .norm_backward = lilm__cpu_norm_backward,
    .matmul_forward = lilm__cpu_matmul_forward,
    .matmul_backward = lilm__cpu_matmul_backward,
    .act_supported = lilm__cpu_act_supported,
    .act_forward = lilm__cpu_act_forward,
    .act_backward = lilm__cpu_act_backward,
    .glu_forward = lilm__cpu_glu_forward,
    .glu_backward = lilm__cpu_glu_backward,
    .trunc_work_bytes = lilm__cpu_trunc_work_bytes,
    .trunc_forward = lilm__cpu_trunc_forward,
    .trunc_backward = lilm__cpu_trunc_backward,
    .tr_work_bytes = lilm__cpu_tr_work_bytes,
    .tr_weight = lilm__cpu_tr_weight,
    .tr_weight_backward = lilm__cpu_tr_weight_backward,
    .add = lilm__cpu_add,
    .accumulate = lilm__cpu_accumulate,
    .copy = lilm__cpu_copy,
    .rope_forward = lilm__cpu_rope_forward,
    .rope_backward = lilm__cpu_rope_backward,
    .attention_forward = lilm__cpu_attention_forward,
    .attention_backward = lilm__cpu_attention_backward,
    .classifier_xent = lilm__cpu_classifier_xent,
    .classifier_logits = lilm__cpu_classifier_logits,
    .grad_sanitize = lilm__cpu_grad_sanitize,
    .scale = lilm__cpu_scale,
    .axpy = lilm__cpu_axpy,
    .adamw = lilm__cpu_adamw,
};

lilm_status lilm_cpu_backend_create(lilm_backend **out, int threads)
{
    *out = NULL;
    if (threads <= 0)
        threads = omp_get_num_procs();
    if (threads < 1)
        threads = 1;
    lilm_backend *be = calloc(1, sizeof *be);
    lilm_cpu_state *st = calloc(1, sizeof *st);
    if (!be || !st) {
        free(be);
        free(st);
        return lilm_errorf(LILM_ERR_OOM, "cpu backend: out of memory");
    }
    openblas_set_num_threads(1);
    flush_denormals(threads);
    st->threads = threads;
    st->error = LILM_OK;

    be->ops = &cpu_ops;

    be->name = "cpu";
    be->device = LILM_DEVICE_CPU;
    be->act_dtype = LILM_DTYPE_F32;
    be->threads = threads;
    be->peak_gemm_n = 1024;
    be->impl = st;
    *out = be;
    return LILM_OK;
}
