/*
 * progress.c: the progress line of progress.h.
 *
 * The rate is the average since the start (done / elapsed), which is steady
 * enough for the jobs we run and needs no history; the ETA is the remaining
 * amount over that rate. Terminal redraws are rate-limited to 10 per second
 * so a tight loop calling update() costs almost nothing.
 */
#include "core/progress.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LILM_PROGRESS_TTY_INTERVAL 0.1

double lilm_progress_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void lilm_progress_init(lilm_progress *p, const char *label, const char *unit, int64_t total)
{
    memset(p, 0, sizeof *p);
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    snprintf(p->unit, sizeof p->unit, "%s", unit ? unit : "");
    p->total = total > 0 ? total : 0;
    p->out = stderr;
    p->tty = isatty(fileno(stderr));
    p->log_interval = 10.0;
    const char *env = getenv("LILM_PROGRESS");
    if (env && strcmp(env, "0") == 0) p->quiet = 1;
    if (env && strcmp(env, "plain") == 0) p->tty = 0;
    p->t_start = lilm_progress_clock();
    p->t_last = p->t_start;
}

static void fmt_duration(double s, char *buf, size_t n)
{
    if (!(s >= 0) || s > 1e8) {
        snprintf(buf, n, "?");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

static void fmt_amount(const lilm_progress *p, double v, char *buf, size_t n)
{
    if (strcmp(p->unit, "B") == 0) snprintf(buf, n, "%.1f", v / 1e6);
    else snprintf(buf, n, "%.0f", v);
}

char *lilm_progress_format(const lilm_progress *p, double now, char *buf, size_t n)
{
    int bytes = strcmp(p->unit, "B") == 0;
    const char *u = bytes ? "MB" : p->unit;
    double rate = now > 0 ? (double)p->done / now : 0;
    char a[32], b[32], eta[32], el[32];
    fmt_amount(p, (double)p->done, a, sizeof a);
    size_t o = 0;
    o += (size_t)snprintf(buf + o, n - o, "%s", p->label);
    if (p->total > 0 && o < n) {
        double f = (double)p->done / (double)p->total;
        if (f > 1) f = 1;
        if (f < 0) f = 0;
        char bar[21];
        int k = (int)(f * 20);
        for (int i = 0; i < 20; i++) bar[i] = i < k ? '#' : '.';
        bar[20] = '\0';
        fmt_amount(p, (double)p->total, b, sizeof b);
        o += (size_t)snprintf(buf + o, n - o, " [%s] %5.1f%%  %s/%s %s", bar, 100 * f, a, b, u);
    } else if (o < n) {
        o += (size_t)snprintf(buf + o, n - o, "  %s %s", a, u);
    }
    if (o < n) {
        if (bytes) o += (size_t)snprintf(buf + o, n - o, "  %.1f MB/s", rate / 1e6);
        else o += (size_t)snprintf(buf + o, n - o, "  %.1f %s/s", rate, u);
    }
    if (o < n) {
        if (p->finished || p->total <= 0 || p->done >= p->total) {
            fmt_duration(now, el, sizeof el);
            o += (size_t)snprintf(buf + o, n - o, "  %s %s", p->finished ? "took" : "elapsed", el);
        } else {
            fmt_duration(rate > 0 ? (double)(p->total - p->done) / rate : -1, eta, sizeof eta);
            o += (size_t)snprintf(buf + o, n - o, "  ETA %s", eta);
        }
    }
    if (p->status[0] && o < n) snprintf(buf + o, n - o, "  %s", p->status);
    return buf;
}

static void draw(lilm_progress *p, double now)
{
    char line[512];
    lilm_progress_format(p, now - p->t_start, line, sizeof line);
    if (p->tty) {
        fprintf(p->out, "\r%s\x1b[K", line);
        p->drawn = 1;
    } else {
        fprintf(p->out, "%s\n", line);
    }
    fflush(p->out);
    p->t_last = now;
}

static void maybe_draw(lilm_progress *p)
{
    if (p->quiet || p->finished) return;
    double now = lilm_progress_clock();
    double every = p->tty ? LILM_PROGRESS_TTY_INTERVAL : p->log_interval;
    if (now - p->t_last >= every) draw(p, now);
}

void lilm_progress_update(lilm_progress *p, int64_t done)
{
    p->done = done;
    maybe_draw(p);
}

void lilm_progress_add(lilm_progress *p, int64_t delta)
{
    p->done += delta;
    maybe_draw(p);
}

void lilm_progress_status(lilm_progress *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->status, sizeof p->status, fmt, ap);
    va_end(ap);
}

void lilm_progress_finish(lilm_progress *p)
{
    if (p->finished) return;
    p->finished = 1;
    if (p->quiet) return;
    draw(p, lilm_progress_clock());
    if (p->tty) fputc('\n', p->out);
    fflush(p->out);
}
