/*
 * progress.h: a progress line for long jobs (prepare, fetch, training).
 *
 * On a terminal it redraws one line in place (at most 10 times a second):
 *   tokenize [##########..........]  48.1%  212.4/441.9 MB  35.2 MB/s  ETA 0:06  <status>
 * When the stream is not a terminal (a log file, CI) it prints a plain line
 * every `log_interval` seconds (default 10) instead, so logs stay readable.
 * The total may be unknown (0): then it shows done, rate and elapsed time.
 * Byte units are shown as MB and MB/s; other units as counts per second with
 * the unit name ("steps", "docs", ...). A status text set by the caller (for
 * example "loss 3.214 lr 6e-3") ends the line.
 *
 * A lilm_progress is used from one thread; workers report to the thread that
 * owns it. lilm_progress_format() renders a line for a given time, with no
 * I/O, so the layout can be tested.
 */
#ifndef LILM_CORE_PROGRESS_H
#define LILM_CORE_PROGRESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct lilm_progress {
    char label[48];
    char unit[16];        /* "B" for bytes (shown as MB), else a unit name */
    char status[160];     /* caller text shown at the end of the line */
    int64_t total;        /* 0 = unknown */
    int64_t done;
    double t_start;       /* monotonic seconds */
    double t_last;        /* last time a line was drawn */
    double log_interval;  /* seconds between plain lines (not a TTY) */
    FILE *out;            /* stderr unless changed after init */
    int tty;              /* 1: redraw in place */
    int quiet;            /* 1: print nothing */
    int drawn;            /* something is on the current TTY line */
    int finished;
} lilm_progress;

/* Starts a progress display on stderr. unit: "B" for bytes or a name such as
 * "docs"; total may be 0 (unknown). LILM_PROGRESS=0 in the environment makes
 * it quiet; LILM_PROGRESS=plain forces plain lines even on a terminal. */
void lilm_progress_init(lilm_progress *p, const char *label, const char *unit, int64_t total);
/* Sets the absolute amount done / adds to it; redraws when it is time. */
void lilm_progress_update(lilm_progress *p, int64_t done);
void lilm_progress_add(lilm_progress *p, int64_t delta);
/* Sets the status text (printf format) shown at the end of the line. */
void lilm_progress_status(lilm_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Draws the final line (with the elapsed time) and ends it with a newline. */
void lilm_progress_finish(lilm_progress *p);

/* Renders the line as it would look at time `now` (seconds since start) into
 * buf (no terminal control codes). Returns buf. */
char *lilm_progress_format(const lilm_progress *p, double now, char *buf, size_t n);

/* Monotonic clock in seconds. */
double lilm_progress_clock(void);

#endif
