/*
 * svg.c: the SVG plot writer (see svg.h).
 *
 * Coordinates: data (x, y) maps to the plot area [left, left+pw] x [top,
 * top+ph] with y growing upward; on a log axis the mapping is applied to
 * log10 of the value. Ticks: a linear axis gets about 6 ticks at multiples of
 * a 1/2/5 x 10^k step; a log axis gets its decades, plus 2x and 5x when it
 * spans fewer than three decades, and linear 1/2/5 steps when even that
 * gives fewer than three ticks.
 */
#include "track/svg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A colour-blind-friendly palette (Okabe-Ito, reordered). */
static const char *const palette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"};
#define N_PALETTE (sizeof palette / sizeof palette[0])

enum { MARGIN_L = 70, MARGIN_R = 20, MARGIN_T = 34, MARGIN_B = 50, LEGEND_INSIDE_MAX = 3 };

static const char *series_color(const lilm_plot_series *series, size_t s)
{
    size_t k = series[s].color > 0 ? (size_t)(series[s].color - 1) : s;
    return palette[k % N_PALETTE];
}

void lilm_plot_init(lilm_plot *p, const char *title, const char *xlabel, const char *ylabel)
{
    memset(p, 0, sizeof *p);
    p->title = title;
    p->xlabel = xlabel;
    p->ylabel = ylabel;
    p->width = 520;
    p->height = 310;
    p->hline = NAN;
}

void lilm_svg_format_tick(char *buf, size_t n, double v, double step)
{
    if (fabs(v) < step * 1e-9) {
        snprintf(buf, n, "0");
        return;
    }
    /* the unit follows the step, so one axis never mixes "500" and "1.0k" */
    const char *suffix = "";
    double scale = 1;
    if (step >= 1e8) { suffix = "G"; scale = 1e9; }
    else if (step >= 1e5) { suffix = "M"; scale = 1e6; }
    else if (step >= 1e3) { suffix = "k"; scale = 1e3; }
    double sv = v / scale, ss = step / scale;
    /* enough decimals to tell neighbouring ticks apart, the same for the whole axis */
    int dec = ss > 0 ? (int)ceil(-log10(ss) - 1e-9) : 0;
    if (dec < 0) dec = 0;
    if (dec > 8) {
        snprintf(buf, n, "%.2g%s", sv, suffix);
        return;
    }
    snprintf(buf, n, "%.*f%s", dec, sv, suffix);
}

/* ---- axes ---- */

typedef struct axis {
    int log;
    double lo, hi;      /* data range (in log10 units on a log axis) */
    double ticks[64];   /* tick values in data units */
    double steps[64];   /* the step each tick's label is formatted for */
    int n_ticks;
} axis;

static double nice_step(double range, int target)
{
    double raw = range / target;
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    double nice = f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10;
    return nice * mag;
}

/* Sets lo/hi (padded by `pad` of the span) and the ticks from a data range. */
static void axis_setup(axis *a, double lo, double hi, int log_axis, double pad)
{
    a->log = log_axis;
    a->n_ticks = 0;
    if (log_axis) {
        lo = log10(lo);
        hi = log10(hi);
    }
    if (!(hi > lo)) {   /* one value: open a window around it */
        double w = log_axis ? 0.5 : (fabs(lo) > 0 ? fabs(lo) * 0.1 : 1);
        lo -= w;
        hi += w;
    }
    double span = hi - lo;
    lo -= span * pad;
    hi += span * pad;
    if (!log_axis) {
        double step = nice_step(hi - lo, 6);
        for (double t = ceil(lo / step) * step; t <= hi + step * 1e-9 && a->n_ticks < 64; t += step) {
            a->ticks[a->n_ticks] = fabs(t) < step * 1e-9 ? 0 : t;
            a->steps[a->n_ticks++] = step;
        }
    } else {
        int d0 = (int)floor(lo), d1 = (int)ceil(hi);
        static const double mults_fine[] = {1, 2, 5};
        int fine = (hi - lo) < 3;
        int stride = d1 - d0 > 8 ? (d1 - d0 + 7) / 8 : 1;   /* at most ~8 decade labels */
        for (int d = d0; d <= d1 && a->n_ticks < 64; d++) {
            if (!fine && (d - d0) % stride) continue;
            for (int m = 0; m < (fine ? 3 : 1) && a->n_ticks < 64; m++) {
                double v = mults_fine[m] * pow(10, d);
                double lv = log10(v);
                if (lv < lo - 1e-9 || lv > hi + 1e-9) continue;
                a->ticks[a->n_ticks] = v;
                a->steps[a->n_ticks++] = pow(10, d);
            }
        }
        if (a->n_ticks < 3) {   /* a narrow range (2.5 .. 4, say): linear 1/2/5 steps, placed on the log scale */
            double vlo = pow(10, lo), vhi = pow(10, hi), step = nice_step(vhi - vlo, 5);
            a->n_ticks = 0;
            for (double t = ceil(vlo / step) * step; t <= vhi + step * 1e-9 && a->n_ticks < 64; t += step) {
                if (t <= 0) continue;
                a->ticks[a->n_ticks] = t;
                a->steps[a->n_ticks++] = step;
            }
        }
    }
    a->lo = lo;
    a->hi = hi;
}

/* Data value -> fraction of the axis in [0, 1]. */
static double axis_frac(const axis *a, double v)
{
    double u = a->log ? log10(v) : v;
    return (u - a->lo) / (a->hi - a->lo);
}

static int usable(double v, int log_axis) { return isfinite(v) && (!log_axis || v > 0); }

/* ---- the plot ---- */

/* Number of usable points of every series inside the pixel rectangle. */
static size_t points_in(const lilm_plot *p, const lilm_plot_series *series, size_t n_series, const axis *ax, const axis *ay,
                        double pw, double ph, double x0, double y0, double w, double h)
{
    size_t count = 0;
    for (size_t s = 0; s < n_series; s++) {
        size_t stride = series[s].n > LILM_SVG_MAX_POINTS ? series[s].n / LILM_SVG_MAX_POINTS : 1;
        for (size_t i = 0; i < series[s].n; i += stride) {
            double x = series[s].x[i], y = series[s].y[i];
            if (!usable(x, p->log_x) || !usable(y, p->log_y)) continue;
            double px = MARGIN_L + axis_frac(ax, x) * pw, py = MARGIN_T + (1 - axis_frac(ay, y)) * ph;
            count += px >= x0 && px <= x0 + w && py >= y0 && py <= y0 + h;
        }
    }
    return count;
}

lilm_status lilm_svg_plot(lilm_strbuf *out, const lilm_plot *p, const lilm_plot_series *series, size_t n_series)
{
    int W = p->width > 0 ? p->width : 520, H = p->height > 0 ? p->height : 310;
    /* legend size; more than LEGEND_INSIDE_MAX entries go outside, on the right */
    size_t n_legend = 0, longest = 0;
    for (size_t s = 0; s < n_series; s++)
        if (series[s].label) {
            n_legend++;
            size_t l = strlen(series[s].label);
            if (l > longest) longest = l;
        }
    double lw = 34 + 6.6 * (double)(longest > 40 ? 40 : longest), lh = 8 + 16 * (double)n_legend;
    int legend_outside = n_legend > LEGEND_INSIDE_MAX;
    double pw = W - MARGIN_L - MARGIN_R, ph = H - MARGIN_T - MARGIN_B;
    if (legend_outside) {
        W += (int)lw + 4;
        if (MARGIN_T + lh + 4 > H) H = (int)(MARGIN_T + lh + 4);   /* room for every entry */
    }

    /* data ranges over every usable point */
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    int any_points_style = 0;
    size_t n_usable = 0;
    for (size_t s = 0; s < n_series; s++) {
        if (series[s].style != LILM_PLOT_LINE) any_points_style = 1;
        for (size_t i = 0; i < series[s].n; i++) {
            double x = series[s].x[i], y = series[s].y[i];
            if (!usable(x, p->log_x) || !usable(y, p->log_y)) continue;
            n_usable++;
            if (x < xlo) xlo = x;
            if (x > xhi) xhi = x;
            if (y < ylo) ylo = y;
            if (y > yhi) yhi = y;
        }
    }
    if (isfinite(p->hline) && n_usable) {
        if (p->hline < ylo) ylo = p->hline;
        if (p->hline > yhi) yhi = p->hline;
    }

    lilm_strbuf_printf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"",
                       W, H, W, H);
    lilm_strbuf_html(out, p->title ? p->title : "plot");
    lilm_strbuf_puts(out, "\" font-family=\"system-ui, sans-serif\" font-size=\"12\">\n");
    lilm_strbuf_printf(out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", W, H);
    if (p->title) {
        lilm_strbuf_printf(out, "<text class=\"title\" x=\"%.1f\" y=\"20\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"600\">", MARGIN_L + pw / 2);
        lilm_strbuf_html(out, p->title);
        lilm_strbuf_puts(out, "</text>\n");
    }
    lilm_strbuf_printf(out, "<rect class=\"frame\" x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#888\"/>\n",
                       MARGIN_L, MARGIN_T, pw, ph);
    if (p->xlabel) {
        lilm_strbuf_printf(out, "<text class=\"xlabel\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", MARGIN_L + pw / 2, H - 10);
        lilm_strbuf_html(out, p->xlabel);
        lilm_strbuf_puts(out, "</text>\n");
    }
    if (p->ylabel) {
        lilm_strbuf_printf(out, "<text class=\"ylabel\" transform=\"translate(16 %.1f) rotate(-90)\" text-anchor=\"middle\">", MARGIN_T + ph / 2);
        lilm_strbuf_html(out, p->ylabel);
        lilm_strbuf_puts(out, "</text>\n");
    }
    if (n_usable == 0) {
        lilm_strbuf_printf(out, "<text class=\"nodata\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#888\">no data</text>\n</svg>\n",
                           MARGIN_L + pw / 2, MARGIN_T + ph / 2);
        return lilm_strbuf_status(out);
    }

    axis ax, ay;
    axis_setup(&ax, xlo, xhi, p->log_x, any_points_style ? 0.05 : 0.0);
    axis_setup(&ay, ylo, yhi, p->log_y, 0.05);

    /* grid lines and tick labels */
    char label[32];
    lilm_strbuf_puts(out, "<g class=\"xticks\" text-anchor=\"middle\">\n");
    for (int i = 0; i < ax.n_ticks; i++) {
        double px = MARGIN_L + axis_frac(&ax, ax.ticks[i]) * pw;
        lilm_svg_format_tick(label, sizeof label, ax.ticks[i], ax.steps[i]);
        lilm_strbuf_printf(out, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#e5e5e5\"/>"
                                "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#888\"/>"
                                "<text x=\"%.1f\" y=\"%.0f\">%s</text>\n",
                           px, MARGIN_T, px, MARGIN_T + ph, px, MARGIN_T + ph, px, MARGIN_T + ph + 5, px, MARGIN_T + ph + 18, label);
    }
    lilm_strbuf_puts(out, "</g>\n<g class=\"yticks\" text-anchor=\"end\">\n");
    for (int i = 0; i < ay.n_ticks; i++) {
        double py = MARGIN_T + (1 - axis_frac(&ay, ay.ticks[i])) * ph;
        lilm_svg_format_tick(label, sizeof label, ay.ticks[i], ay.steps[i]);
        lilm_strbuf_printf(out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>"
                                "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#888\"/>"
                                "<text x=\"%d\" y=\"%.1f\">%s</text>\n",
                           MARGIN_L, py, MARGIN_L + pw, py, MARGIN_L - 5, py, MARGIN_L, py, MARGIN_L - 8, py + 4, label);
    }
    lilm_strbuf_puts(out, "</g>\n");

    if (isfinite(p->hline) && usable(p->hline, p->log_y)) {
        double py = MARGIN_T + (1 - axis_frac(&ay, p->hline)) * ph;
        lilm_strbuf_printf(out, "<line class=\"hline\" x1=\"%d\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#999\" stroke-dasharray=\"5 4\"/>\n",
                           MARGIN_L, py, MARGIN_L + pw, py);
        if (p->hline_label) {
            lilm_strbuf_printf(out, "<text x=\"%d\" y=\"%.1f\" fill=\"#777\">", MARGIN_L + 6, py - 4);
            lilm_strbuf_html(out, p->hline_label);
            lilm_strbuf_puts(out, "</text>\n");
        }
    }

    /* the series (every usable point lies inside the axes' ranges) */
    for (size_t s = 0; s < n_series; s++) {
        const lilm_plot_series *se = &series[s];
        const char *color = series_color(series, s);
        size_t n = se->n;
        size_t bucket = n > LILM_SVG_MAX_POINTS ? (n + LILM_SVG_MAX_POINTS - 1) / LILM_SVG_MAX_POINTS : 1;
        lilm_strbuf_printf(out, "<g class=\"series\" data-series=\"%zu\">\n", s);
        if (se->style != LILM_PLOT_POINTS) {
            lilm_strbuf_printf(out, "<path class=\"line\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\" stroke-linejoin=\"round\" d=\"", color);
            int pen_down = 0;
            for (size_t i = 0; i < n; i += bucket) {
                /* average the bucket's usable points */
                double sx = 0, sy = 0;
                size_t k = 0;
                for (size_t j = i; j < i + bucket && j < n; j++) {
                    if (!usable(se->x[j], p->log_x) || !usable(se->y[j], p->log_y)) continue;
                    sx += p->log_x ? log10(se->x[j]) : se->x[j];
                    sy += p->log_y ? log10(se->y[j]) : se->y[j];
                    k++;
                }
                if (k == 0) {
                    pen_down = 0;
                    continue;
                }
                double mx = sx / k, my = sy / k;
                if (p->log_x) mx = pow(10, mx);
                if (p->log_y) my = pow(10, my);
                double px = MARGIN_L + axis_frac(&ax, mx) * pw, py = MARGIN_T + (1 - axis_frac(&ay, my)) * ph;
                lilm_strbuf_printf(out, "%s%.1f %.1f ", pen_down ? "L" : "M", px, py);
                pen_down = 1;
            }
            lilm_strbuf_puts(out, "\"/>\n");
        }
        if (se->style != LILM_PLOT_LINE) {
            for (size_t i = 0; i < n; i++) {
                double x = se->x[i], y = se->y[i];
                if (!usable(x, p->log_x) || !usable(y, p->log_y)) continue;
                double px = MARGIN_L + axis_frac(&ax, x) * pw, py = MARGIN_T + (1 - axis_frac(&ay, y)) * ph;
                lilm_strbuf_printf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"><title>%.4g, %.4g</title></circle>\n",
                                   px, py, color, x, y);
            }
        }
        lilm_strbuf_puts(out, "</g>\n");
    }

    /* legend: outside on the right, or inside in the corner covering the fewest points */
    if (n_legend) {
        double lx = MARGIN_L + pw + 6, ly = MARGIN_T;
        if (!legend_outside) {
            const double cx[4] = {MARGIN_L + pw - lw - 8, MARGIN_L + 8, MARGIN_L + pw - lw - 8, MARGIN_L + 8};
            const double cy[4] = {MARGIN_T + 8, MARGIN_T + 8, MARGIN_T + ph - lh - 8, MARGIN_T + ph - lh - 8};
            size_t best = 0, best_n = (size_t)-1;
            for (size_t k = 0; k < 4; k++) {   /* top right, top left, bottom right, bottom left */
                size_t c = points_in(p, series, n_series, &ax, &ay, pw, ph, cx[k] - 4, cy[k] - 4, lw + 8, lh + 8);
                if (c < best_n) {
                    best_n = c;
                    best = k;
                }
            }
            lx = cx[best];
            ly = cy[best];
        }
        lilm_strbuf_printf(out, "<g class=\"legend\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#fff\" fill-opacity=\"0.85\" stroke=\"#ccc\"/>\n",
                           lx, ly, lw, lh);
        size_t row = 0;
        for (size_t s = 0; s < n_series; s++) {
            if (!series[s].label) continue;
            double yy = ly + 14 + 16 * (double)row++;
            const char *color = series_color(series, s);
            if (series[s].style != LILM_PLOT_POINTS)
                lilm_strbuf_printf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"/>",
                                   lx + 6, yy - 4, lx + 24, yy - 4, color);
            if (series[s].style != LILM_PLOT_LINE)
                lilm_strbuf_printf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>", lx + 15, yy - 4, color);
            lilm_strbuf_printf(out, "<text x=\"%.1f\" y=\"%.1f\">", lx + 30, yy);
            lilm_strbuf_html(out, series[s].label);
            lilm_strbuf_puts(out, "</text>\n");
        }
        lilm_strbuf_puts(out, "</g>\n");
    }
    lilm_strbuf_puts(out, "</svg>\n");
    return lilm_strbuf_status(out);
}
