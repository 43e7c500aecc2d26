/*
 * svg.h: line and scatter plots as inline SVG, for the static report.
 *
 * The report must open offline with nothing fetched, so plots are drawn here
 * in C as plain SVG text: a frame, "nice" ticks (1/2/5 x 10^k, or decades on
 * a log axis) with labels, axis titles, a plot title, a legend and one
 * polyline or set of markers per series. Points with a NaN coordinate (or a
 * non-positive one on a log axis) are skipped and break the line. Series
 * longer than LILM_SVG_MAX_POINTS are averaged into that many buckets so a
 * 30-minute run's thousands of steps stay a small file.
 */
#ifndef LILM_TRACK_SVG_H
#define LILM_TRACK_SVG_H

#include <stddef.h>

#include "core/status.h"
#include "track/strbuf.h"

#define LILM_SVG_MAX_POINTS 1000

typedef enum lilm_plot_style {
    LILM_PLOT_LINE = 0,        /* a polyline */
    LILM_PLOT_POINTS,          /* markers only */
    LILM_PLOT_LINE_POINTS,     /* both */
} lilm_plot_style;

typedef struct lilm_plot_series {
    const char *label;         /* legend text (NULL: no legend entry) */
    const double *x;           /* (n) */
    const double *y;           /* (n) */
    size_t n;
    lilm_plot_style style;
    int color;                 /* 1-based palette entry; 0 = by the series' position */
} lilm_plot_series;

typedef struct lilm_plot {
    const char *title;
    const char *xlabel, *ylabel;
    int log_x, log_y;          /* 1: base-10 log axis */
    int width, height;         /* pixels; 0 = 520 x 310 */
    double hline;              /* a dashed horizontal reference line at this y; NaN = none */
    const char *hline_label;
} lilm_plot;

/* A plot with defaults (520x310, linear axes, no reference line). */
void lilm_plot_init(lilm_plot *p, const char *title, const char *xlabel, const char *ylabel);

/* Appends one <svg> element to out. With no drawable point it draws the frame
 * and a "no data" note, so a page always has the same layout. */
lilm_status lilm_svg_plot(lilm_strbuf *out, const lilm_plot *p, const lilm_plot_series *series, size_t n_series);

/* Formats a tick value compactly; unit and decimals follow the axis step:
 * (4000, 2000) -> "4k", (1500, 500) -> "1500", (2.5e6, 5e5) -> "2.5M", (0.0015, 0.0005) -> "0.0015". */
void lilm_svg_format_tick(char *buf, size_t n, double v, double step);

#endif
