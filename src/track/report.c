/*
 * report.c: the static HTML report (see report.h).
 *
 * Every page is built in a lilm_strbuf and written with lilm_write_atomic().
 * All text from the db goes through lilm_strbuf_html(); attribute values too.
 * Sortable tables carry, per cell, the value to sort on in data-v ("" = n/a)
 * and per row its initial position in data-i, so the inline script sorts
 * numerically where th data-type="num", keeps n/a last in both directions and
 * breaks ties by the initial order.
 */
#include "track/report.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/json.h"
#include "core/sha256.h"
#include "track/leaderboard.h"
#include "track/report_impl.h"
#include "track/svg.h"

/* The tokens-per-parameter target of the reference's depth search. */
#define TOKENS_PER_PARAM_TARGET 70.0
/* Index sweep plots carry a legend beside them: narrower, so two fit a row. */
#define SWEEP_PLOT_WIDTH 380

static const char page_css[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d1d1f;background:#f6f7f9}"
    "header{background:#1f2937;color:#fff;padding:14px 28px}header h1{margin:0;font-size:22px}"
    "header p{margin:4px 0 0;color:#cbd5e1;font-size:13px}header a{color:#93c5fd}"
    "main{padding:18px 28px;max-width:1400px}"
    "section{background:#fff;border:1px solid #e3e6ea;border-radius:8px;padding:14px 18px;margin:0 0 18px}"
    "h2{font-size:17px;margin:0 0 10px}h3{font-size:15px;margin:14px 0 6px}"
    "table{border-collapse:collapse;font-size:13.5px}"
    ".tablewrap{overflow-x:auto}"
    "th,td{padding:5px 10px;border-bottom:1px solid #eceef1;text-align:left;white-space:nowrap}"
    "td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}"
    "table.sortable th{cursor:pointer;user-select:none;background:#f1f3f6}"
    "table.sortable th:hover{background:#e4e8ee}"
    "th[aria-sort=ascending]::after{content:' \\25B2';font-size:10px}"
    "th[aria-sort=descending]::after{content:' \\25BC';font-size:10px}"
    "tbody tr:hover{background:#f5f8ff}td.na{color:#9aa0a6}"
    "a{color:#1a56db;text-decoration:none}a:hover{text-decoration:underline}"
    ".st-done{color:#137333}.st-failed{color:#c5221f}.st-killed{color:#b06000}.st-running{color:#1a56db}"
    ".plots{display:flex;flex-wrap:wrap;gap:14px}.plots svg{border:1px solid #e3e6ea;border-radius:6px;max-width:100%;height:auto}"
    "pre{background:#f6f8fa;border:1px solid #e3e6ea;border-radius:6px;padding:10px;overflow:auto;font-size:12.5px;max-height:480px}"
    ".warn{background:#fff8e1;border-color:#f3d37a}.warn pre{background:#fffdf5}"
    ".facts td:first-child{color:#5f6368}"
    ".facts-grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:0 22px;font-size:13.5px}"
    ".facts-grid div{display:flex;justify-content:space-between;gap:10px;padding:5px 2px;border-bottom:1px solid #eceef1}"
    ".facts-grid .k{color:#5f6368;white-space:nowrap}.facts-grid .v{text-align:right;word-break:break-all}"
    ".wide{grid-column:1/-1}.sample{margin:0 0 10px}.sample b{color:#5f6368;font-weight:600}"
    ".muted{color:#5f6368;font-size:13px}";

static const char sort_js[] =
    "(function(){\n"
    "function sortBy(t,i,th){\n"
    "  var dir=th.getAttribute('aria-sort')==='ascending'?-1:1;\n"
    "  var hs=t.tHead.rows[0].cells;\n"
    "  for(var k=0;k<hs.length;k++)hs[k].removeAttribute('aria-sort');\n"
    "  th.setAttribute('aria-sort',dir>0?'ascending':'descending');\n"
    "  var num=th.getAttribute('data-type')==='num';\n"
    "  var body=t.tBodies[0],rows=Array.prototype.slice.call(body.rows);\n"
    "  rows.sort(function(a,b){\n"
    "    var va=a.cells[i].getAttribute('data-v'),vb=b.cells[i].getAttribute('data-v');\n"
    "    var ia=+a.getAttribute('data-i'),ib=+b.getAttribute('data-i'),c;\n"
    "    if(va===null)va=a.cells[i].textContent;if(vb===null)vb=b.cells[i].textContent;\n"
    "    if(num){\n"
    "      var na=va==='',nb=vb==='';\n"
    "      if(na||nb)return(na-nb)||(ia-ib);\n"
    "      c=(parseFloat(va)-parseFloat(vb))*dir;\n"
    "    }else c=va.localeCompare(vb)*dir;\n"
    "    return c||(ia-ib);\n"
    "  });\n"
    "  for(var r=0;r<rows.length;r++)body.appendChild(rows[r]);\n"
    "}\n"
    "var ts=document.querySelectorAll('table.sortable');\n"
    "for(var n=0;n<ts.length;n++)(function(t){\n"
    "  var hs=t.tHead.rows[0].cells;\n"
    "  for(var i=0;i<hs.length;i++)(function(i){\n"
    "    hs[i].addEventListener('click',function(){sortBy(t,i,hs[i]);});\n"
    "  })(i);\n"
    "})(ts[n]);\n"
    "})();\n";

void lilm_report_slug(const char *name, char *out, size_t n)
{
    size_t j = 0;
    int changed = 0;
    for (size_t i = 0; name[i] && j + 1 < n && j < 120; i++) {
        char c = name[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                 (c == '.' && i > 0);
        out[j++] = ok ? c : '_';
        changed |= !ok;
    }
    if (strlen(name) > 120) changed = 1;
    out[j] = '\0';
    if (changed || j == 0) {
        char hex[65];
        lilm_sha256_hex(name, strlen(name), hex);
        size_t l = strlen(out);
        snprintf(out + l, n - l, "-%.8s", hex);
    }
}

/* ---- page frame ---- */

static void page_begin(lilm_strbuf *b, const char *title, const char *subtitle_html)
{
    lilm_strbuf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
    lilm_strbuf_html(b, title);
    lilm_strbuf_printf(b, "</title>\n<style>%s</style>\n</head><body>\n<header><h1>", page_css);
    lilm_strbuf_html(b, title);
    lilm_strbuf_printf(b, "</h1><p>%s</p></header>\n<main>\n", subtitle_html);
}

static void page_end(lilm_strbuf *b)
{
    lilm_strbuf_printf(b, "</main>\n<script>\n%s</script>\n</body></html>\n", sort_js);
}

static void now_utc(char *buf, size_t n)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%d %H:%M UTC", &tm);
}

/* ---- cells ---- */

static void td_text(lilm_strbuf *b, const char *s)
{
    if (!s || !*s) {
        lilm_strbuf_puts(b, "<td class=\"na\" data-v=\"\">n/a</td>");
        return;
    }
    lilm_strbuf_puts(b, "<td data-v=\"");
    lilm_strbuf_html(b, s);
    lilm_strbuf_puts(b, "\">");
    lilm_strbuf_html(b, s);
    lilm_strbuf_puts(b, "</td>");
}

/* A numeric cell: sort value v (NaN = n/a) shown as `shown`. */
static void td_num(lilm_strbuf *b, double v, const char *shown)
{
    if (!isfinite(v)) lilm_strbuf_puts(b, "<td class=\"num na\" data-v=\"\">n/a</td>");
    else lilm_strbuf_printf(b, "<td class=\"num\" data-v=\"%.17g\">%s</td>", v, shown);
}

static void td_int(lilm_strbuf *b, int64_t v)
{
    char s[32];
    snprintf(s, sizeof s, "%lld", (long long)v);
    td_num(b, v >= 0 ? (double)v : NAN, s);
}

static void td_real(lilm_strbuf *b, double v, const char *fmt)
{
    char s[48];
    snprintf(s, sizeof s, fmt, v);
    td_num(b, v, s);
}

static void td_params(lilm_strbuf *b, int64_t p)
{
    char s[32];
    lilm_format_params(s, sizeof s, p);
    td_num(b, p >= 0 ? (double)p : NAN, s);
}

static void td_count(lilm_strbuf *b, int64_t v)
{   /* tokens: 1.2M style */
    char s[32];
    lilm_format_params(s, sizeof s, v);
    td_num(b, v >= 0 ? (double)v : NAN, s);
}

static void th(lilm_strbuf *b, const char *label, int numeric)
{
    lilm_strbuf_printf(b, "<th%s>", numeric ? " class=\"num\" data-type=\"num\"" : "");
    lilm_strbuf_html(b, label);
    lilm_strbuf_puts(b, "</th>");
}

static void run_link(lilm_strbuf *b, const char *name, const char *prefix)
{
    char slug[200];
    lilm_report_slug(name, slug, sizeof slug);
    lilm_strbuf_printf(b, "<a class=\"runlink\" href=\"%sruns/%s.html\">", prefix, slug);
    lilm_strbuf_html(b, name);
    lilm_strbuf_puts(b, "</a>");
}

/* ---- shared with the search pages (report_impl.h) ---- */

void lilm__report_page_begin(lilm_strbuf *b, const char *title, const char *subtitle_html)
{
    page_begin(b, title, subtitle_html);
}

void lilm__report_page_end(lilm_strbuf *b) { page_end(b); }
void lilm__report_th(lilm_strbuf *b, const char *label, int numeric) { th(b, label, numeric); }
void lilm__report_td_text(lilm_strbuf *b, const char *s) { td_text(b, s); }
void lilm__report_td_num(lilm_strbuf *b, double v, const char *shown) { td_num(b, v, shown); }

/* ---- index sections ---- */

static void leaderboard_section(lilm_strbuf *b, const lilm_run_list *runs)
{
    lilm_leaderboard lb;
    lilm_strbuf_puts(b, "<section id=\"leaderboard-section\"><h2>Leaderboard</h2>\n");
    if (lilm_leaderboard_build(&lb, runs->runs, runs->n, NULL) != LILM_OK || lb.n_rows == 0) {
        lilm_strbuf_puts(b, "<p class=\"muted\">No finished run with a validation BPB yet.</p></section>\n");
        if (lb.rows) lilm_leaderboard_free(&lb);
        return;
    }
    lilm_strbuf_puts(b, "<p class=\"muted\">Best validation bits per byte per model and dataset (lower is better). "
                        "Click a column header to sort; click again to reverse.</p>\n");
    lilm_strbuf_puts(b, "<div class=\"tablewrap\"><table id=\"leaderboard\" class=\"sortable\"><thead><tr>");
    size_t nc = lilm_leaderboard_n_cols(&lb);
    char cell[200];
    for (size_t c = 0; c < nc; c++) {
        lilm_leaderboard_header(&lb, c, cell, sizeof cell);
        th(b, cell, lilm_leaderboard_col_numeric(c));
    }
    lilm_strbuf_puts(b, "</tr></thead><tbody>\n");
    for (size_t r = 0; r < lb.n_rows; r++) {
        lilm_strbuf_printf(b, "<tr data-i=\"%zu\">", r);
        for (size_t c = 0; c < nc; c++) {
            if (c == LILM_LB_COL_MODEL) {
                /* link the model to its best run on the primary dataset (or any) */
                const lilm_lb_row *row = &lb.rows[r];
                const char *best = row->cells[lb.primary].run;
                for (size_t d = 0; !best[0] && d < lb.n_datasets; d++) best = row->cells[d].run;
                lilm_strbuf_puts(b, "<td data-v=\"");
                lilm_strbuf_html(b, row->model);
                lilm_strbuf_puts(b, "\">");
                if (best[0]) {
                    char slug[200];
                    lilm_report_slug(best, slug, sizeof slug);
                    lilm_strbuf_printf(b, "<a class=\"runlink\" href=\"runs/%s.html\">", slug);
                    lilm_strbuf_html(b, row->model);
                    lilm_strbuf_puts(b, "</a>");
                } else {
                    lilm_strbuf_html(b, row->model);
                }
                lilm_strbuf_puts(b, "</td>");
                continue;
            }
            lilm_leaderboard_cell_text(&lb, r, c, cell, sizeof cell);
            td_num(b, lilm_leaderboard_cell_value(&lb, r, c), cell);
        }
        lilm_strbuf_puts(b, "</tr>\n");
    }
    lilm_strbuf_puts(b, "</tbody></table></div></section>\n");
    lilm_leaderboard_free(&lb);
}

static void runs_section(lilm_strbuf *b, const lilm_run_list *runs)
{
    lilm_strbuf_printf(b, "<section id=\"runs-section\"><h2>All runs (%zu)</h2>\n", runs->n);
    if (!runs->n) {
        lilm_strbuf_puts(b, "<p class=\"muted\">runs.db has no runs yet. Train one (<code>lilm train</code>) "
                            "or import run dirs (<code>lilm runs import runs/*/</code>).</p></section>\n");
        return;
    }
    /* the columns, in the order the cells below are written; 1 = numeric */
    static const struct { const char *label; int numeric; } cols[] = {
        {"run", 0}, {"status", 0}, {"model", 0}, {"dataset", 0}, {"params", 1}, {"vocab", 1}, {"steps", 1},
        {"tokens", 1}, {"val loss", 1}, {"BPB", 1}, {"minutes", 1}, {"device", 0}, {"started", 0},
    };
    lilm_strbuf_puts(b, "<div class=\"tablewrap\"><table id=\"runs\" class=\"sortable\"><thead><tr>");
    for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) th(b, cols[c].label, cols[c].numeric);
    lilm_strbuf_puts(b, "</tr></thead><tbody>\n");
    for (size_t i = 0; i < runs->n; i++) {
        const lilm_run *r = &runs->runs[i];
        char key[64], label[64];
        lilm_leaderboard_dataset_name(r->dataset, key, label);
        lilm_strbuf_printf(b, "<tr data-i=\"%zu\"><td data-v=\"", i);
        lilm_strbuf_html(b, r->name);
        lilm_strbuf_puts(b, "\">");
        run_link(b, r->name, "");
        if (r->warnings) lilm_strbuf_puts(b, " <span title=\"this run has warnings\">&#9888;</span>");
        lilm_strbuf_printf(b, "</td><td class=\"st-%s\" data-v=\"%s\">%s</td>", lilm_run_status_name(r->status),
                           lilm_run_status_name(r->status), lilm_run_status_name(r->status));
        td_text(b, r->model[0] ? r->model : r->model_type);
        td_text(b, r->dataset[0] ? label : "");
        td_params(b, r->params);
        td_int(b, r->vocab_size);
        td_int(b, r->steps);
        td_count(b, r->tokens);
        td_real(b, r->val_loss, "%.4f");
        td_real(b, r->val_bpb, "%.4f");
        td_real(b, isfinite(r->elapsed_s) ? r->elapsed_s / 60 : r->budget_minutes, "%.1f");
        td_text(b, r->device);
        td_text(b, r->started_at);
        lilm_strbuf_puts(b, "</tr>\n");
    }
    lilm_strbuf_puts(b, "</tbody></table></div></section>\n");
}

/* Sweep points gathered from every run for the index plots. */
typedef struct sweep_set {
    char name[256];
    lilm_sweep_point *pts;   /* (n) */
    size_t n;
} sweep_set;

/* Plots autosize probes of one kind, one series per run that has them. */
static void sweep_plot(lilm_strbuf *b, const sweep_set *sets, size_t n_sets, int kind, const lilm_plot *p, lilm_plot_style style)
{
    lilm_plot_series *series = calloc(n_sets + 1, sizeof *series);
    double *xs = NULL, *ys = NULL;
    size_t total = 0;
    for (size_t i = 0; i < n_sets; i++) total += sets[i].n;
    xs = calloc(total + 1, sizeof *xs);
    ys = calloc(total + 1, sizeof *ys);
    if (!series || !xs || !ys) {
        lilm_strbuf_puts(b, "<p class=\"muted\">out of memory drawing a sweep plot</p>");
        free(series);
        free(xs);
        free(ys);
        return;
    }
    size_t ns = 0, off = 0;
    for (size_t i = 0; i < n_sets; i++) {
        size_t start = off;
        for (size_t k = 0; k < sets[i].n; k++)
            if (sets[i].pts[k].kind == kind) {
                xs[off] = sets[i].pts[k].x;
                ys[off] = sets[i].pts[k].y;
                off++;
            }
        if (off == start) continue;
        /* sort the run's points by x so the line reads left to right */
        for (size_t a = start + 1; a < off; a++)
            for (size_t c = a; c > start && xs[c - 1] > xs[c]; c--) {
                double tx = xs[c], ty = ys[c];
                xs[c] = xs[c - 1];
                ys[c] = ys[c - 1];
                xs[c - 1] = tx;
                ys[c - 1] = ty;
            }
        series[ns].label = sets[i].name;
        series[ns].x = xs + start;
        series[ns].y = ys + start;
        series[ns].n = off - start;
        series[ns].style = style;
        ns++;
    }
    if (ns) lilm_svg_plot(b, p, series, ns);
    free(series);
    free(xs);
    free(ys);
}

/* Vocabulary size against BPB: finished runs grouped by dataset and model;
 * a group becomes a series when its runs differ in vocabulary size. */
static void vocab_plot(lilm_strbuf *b, const lilm_run_list *runs)
{
    size_t n = runs->n;
    int *used = calloc(n + 1, sizeof *used);
    lilm_plot_series *series = calloc(n + 1, sizeof *series);
    double *xs = calloc(n + 1, sizeof *xs), *ys = calloc(n + 1, sizeof *ys);
    char (*labels)[200] = calloc(n + 1, sizeof *labels);
    if (!used || !series || !xs || !ys || !labels) goto done;
    size_t ns = 0, off = 0;
    for (size_t i = 0; i < n; i++) {
        const lilm_run *a = &runs->runs[i];
        if (used[i] || a->status != LILM_RUN_DONE || !isfinite(a->val_bpb) || a->vocab_size <= 0) continue;
        char ka[64], la[64];
        lilm_leaderboard_dataset_name(a->dataset, ka, la);
        const char *ma = a->model[0] ? a->model : a->model_type;
        size_t start = off;
        int64_t first_vocab = a->vocab_size, differs = 0;
        for (size_t j = i; j < n; j++) {
            const lilm_run *r = &runs->runs[j];
            if (used[j] || r->status != LILM_RUN_DONE || !isfinite(r->val_bpb) || r->vocab_size <= 0) continue;
            char kr[64], lr[64];
            lilm_leaderboard_dataset_name(r->dataset, kr, lr);
            const char *mr = r->model[0] ? r->model : r->model_type;
            if (strcmp(ka, kr) != 0 || strcmp(ma, mr) != 0) continue;
            used[j] = 1;
            differs |= r->vocab_size != first_vocab;
            /* insert sorted by vocab */
            size_t k = off++;
            while (k > start && xs[k - 1] > (double)r->vocab_size) {
                xs[k] = xs[k - 1];
                ys[k] = ys[k - 1];
                k--;
            }
            xs[k] = (double)r->vocab_size;
            ys[k] = r->val_bpb;
        }
        if (!differs) {
            off = start;
            continue;
        }
        snprintf(labels[ns], sizeof labels[ns], "%s, %s", la, ma[0] ? ma : "runs");
        series[ns] = (lilm_plot_series){labels[ns], xs + start, ys + start, off - start, LILM_PLOT_LINE_POINTS, 0};
        ns++;
    }
    if (ns) {
        lilm_plot p;
        lilm_plot_init(&p, "Tokenizer vocabulary vs BPB", "vocabulary size (log)", "validation BPB");
        p.log_x = 1;
        lilm_strbuf_puts(b, "<h3>Vocabulary size</h3><div class=\"plots\" id=\"plot-vocab\">");
        lilm_svg_plot(b, &p, series, ns);
        lilm_strbuf_puts(b, "</div>\n");
    }
done:
    free(used);
    free(series);
    free(xs);
    free(ys);
    free(labels);
}

static void sweeps_section(lilm_strbuf *b, const lilm_run_list *runs, const sweep_set *sets, size_t n_sets)
{
    int has_lr = 0, has_depth = 0, has_vocab = 0;
    for (size_t i = 0; i < n_sets; i++)
        for (size_t k = 0; k < sets[i].n; k++) {
            has_lr |= sets[i].pts[k].kind == LILM_SWEEP_LR;
            has_depth |= sets[i].pts[k].kind == LILM_SWEEP_DEPTH;
        }
    for (size_t i = 0; i < runs->n; i++)
        for (size_t j = i + 1; j < runs->n; j++)
            has_vocab |= runs->runs[i].vocab_size > 0 && runs->runs[j].vocab_size > 0 &&
                         runs->runs[i].vocab_size != runs->runs[j].vocab_size;
    lilm_strbuf_puts(b, "<section id=\"sweeps-section\"><h2>Sweeps</h2>\n");
    if (!has_lr && !has_depth && !has_vocab) {
        lilm_strbuf_puts(b, "<p class=\"muted\">No autosize probes and no runs that differ in vocabulary size yet.</p></section>\n");
        return;
    }
    if (has_lr || has_depth) {
        lilm_strbuf_puts(b, "<h3>Autosize</h3><div class=\"plots\" id=\"plot-autosize\">");
        if (has_lr) {
            lilm_plot p;
            lilm_plot_init(&p, "Learning-rate sweep", "peak learning rate (log)", "validation loss");
            p.log_x = 1;
            p.width = SWEEP_PLOT_WIDTH;
            sweep_plot(b, sets, n_sets, LILM_SWEEP_LR, &p, LILM_PLOT_LINE_POINTS);
        }
        if (has_depth) {
            lilm_plot p;
            lilm_plot_init(&p, "Depth sweep", "layers", "tokens per parameter (log)");
            p.log_y = 1;
            p.width = SWEEP_PLOT_WIDTH;
            p.hline = TOKENS_PER_PARAM_TARGET;
            p.hline_label = "target 70";
            sweep_plot(b, sets, n_sets, LILM_SWEEP_DEPTH, &p, LILM_PLOT_LINE_POINTS);
        }
        lilm_strbuf_puts(b, "</div>\n");
    }
    vocab_plot(b, runs);
    lilm_strbuf_puts(b, "</section>\n");
}

/* ---- run page ---- */

/* One "key: value" cell of the summary grid; `wide` spans the whole row. */
static void fact_cell(lilm_strbuf *b, const char *k, const char *v, int wide)
{
    lilm_strbuf_printf(b, "<div%s><span class=\"k\">%s</span><span class=\"v\">", wide ? " class=\"wide\"" : "", k);
    if (v && *v) lilm_strbuf_html(b, v);
    else lilm_strbuf_puts(b, "<span class=\"na\">n/a</span>");
    lilm_strbuf_puts(b, "</span></div>\n");
}

static void fact_text(lilm_strbuf *b, const char *k, const char *v) { fact_cell(b, k, v, 0); }

static void fact_num(lilm_strbuf *b, const char *k, double v, const char *fmt)
{
    char s[64] = "";
    if (isfinite(v)) snprintf(s, sizeof s, fmt, v);
    fact_text(b, k, s);
}

static void fact_int(lilm_strbuf *b, const char *k, int64_t v)
{
    char s[64] = "";
    if (v >= 0) snprintf(s, sizeof s, "%lld", (long long)v);
    fact_text(b, k, s);
}

static void facts_table(lilm_strbuf *b, const lilm_run *r)
{
    char params[32];
    lilm_strbuf_puts(b, "<section><h2>Summary</h2><div class=\"facts-grid\" id=\"facts\">\n");
    lilm_strbuf_printf(b, "<div><span class=\"k\">status</span><span class=\"v st-%s\">%s</span></div>\n",
                       lilm_run_status_name(r->status), lilm_run_status_name(r->status));
    fact_num(b, "validation BPB", r->val_bpb, "%.4f");
    fact_num(b, "validation loss", r->val_loss, "%.4f");
    fact_text(b, "model", r->model);
    fact_text(b, "model type", r->model_type);
    if (r->params >= 0) {
        char s[64];
        lilm_format_params(params, sizeof params, r->params);
        snprintf(s, sizeof s, "%s (%lld)", params, (long long)r->params);
        fact_text(b, "parameters", s);
    } else fact_text(b, "parameters", "");
    fact_int(b, "layers", r->n_layers);
    fact_int(b, "width (d_model)", r->d_model);
    fact_int(b, "vocabulary", r->vocab_size);
    fact_text(b, "dataset", r->dataset);
    fact_text(b, "tokenizer", r->tokenizer);
    fact_text(b, "device", r->device);
    fact_num(b, "budget (minutes)", r->budget_minutes, "%.1f");
    fact_num(b, "elapsed (minutes)", r->elapsed_s / 60, "%.1f");
    fact_int(b, "steps", r->steps);
    fact_int(b, "tokens", r->tokens);
    fact_text(b, "started", r->started_at);
    fact_text(b, "finished", r->finished_at);
    fact_text(b, "lilm commit", r->git_commit);
    fact_text(b, "lilm version", r->lilm_version);
    fact_cell(b, "config sha256", r->config_sha256, 1);
    fact_cell(b, "run dir", r->run_dir, 1);
    lilm_strbuf_puts(b, "</div></section>\n");
}

/* One curve box against step, <div id=ID><svg/></div>. Unless `always`, it
 * is left out when no series has a finite value (a metric never logged). */
static void step_plot(lilm_strbuf *b, const char *id, const char *title, const char *ylabel,
                      const lilm_plot_series *series, size_t n_series, int always, int log_y)
{
    int any = always;
    for (size_t s = 0; s < n_series && !any; s++)
        for (size_t i = 0; i < series[s].n && !any; i++) any = isfinite(series[s].y[i]);
    if (!any) return;
    lilm_plot p;
    lilm_plot_init(&p, title, "step", ylabel);
    p.log_y = log_y;
    lilm_strbuf_printf(b, "<div id=\"%s\">", id);
    lilm_svg_plot(b, &p, series, n_series);
    lilm_strbuf_puts(b, "</div>\n");
}

/* x/y columns pulled out of the metric points. */
static void metric_plots(lilm_strbuf *b, const lilm_run_record *rec)
{
    size_t n = rec->n_metrics;
    lilm_strbuf_puts(b, "<section><h2>Training</h2>\n");
    if (!n) {
        lilm_strbuf_puts(b, "<p class=\"muted\">No metrics recorded (metrics.jsonl missing or empty).</p></section>\n");
        return;
    }
    double *buf = calloc(11 * n, sizeof *buf);
    if (!buf) {
        lilm_strbuf_puts(b, "<p class=\"muted\">out of memory drawing the curves</p></section>\n");
        return;
    }
    double *tx = buf, *tl = buf + n, *vx = buf + 2 * n, *vl = buf + 3 * n, *vb = buf + 4 * n;
    double *tps = buf + 5 * n, *lr = buf + 6 * n, *gn = buf + 7 * n;
    double *fx = buf + 8 * n, *fl = buf + 9 * n, *fb = buf + 10 * n;   /* full validations */
    size_t nt = 0, nv = 0, nf = 0;
    for (size_t i = 0; i < n; i++) {
        const lilm_metric_point *m = &rec->metrics[i];
        if (m->kind == LILM_METRIC_VAL_FULL) {
            fx[nf] = (double)m->step;
            fl[nf] = m->val_loss;
            fb[nf] = m->val_bpb;
            nf++;
        } else if (m->kind == LILM_METRIC_VAL) {
            vx[nv] = (double)m->step;
            vl[nv] = m->val_loss;
            vb[nv] = m->val_bpb;
            nv++;
        } else {
            tx[nt] = (double)m->step;
            tl[nt] = m->loss;
            tps[nt] = m->tokens_per_s;
            lr[nt] = m->lr;
            gn[nt] = m->grad_norm;
            nt++;
        }
    }
    /* sampled validations as a line, full ones (the final evaluation) as their own points */
    lilm_plot_series loss[3] = {{"train loss", tx, tl, nt, LILM_PLOT_LINE, 0},
                                {"validation loss", vx, vl, nv, LILM_PLOT_LINE_POINTS, 0},
                                {"full validation", fx, fl, nf, LILM_PLOT_POINTS, 0}};
    lilm_plot_series bpb[2] = {{"validation BPB", vx, vb, nv, LILM_PLOT_LINE_POINTS, 2},
                               {"full validation", fx, fb, nf, LILM_PLOT_POINTS, 3}};   /* the loss plot's colours */
    lilm_plot_series tps_s = {"tokens/s", tx, tps, nt, LILM_PLOT_LINE, 0};
    lilm_plot_series lr_s = {"learning rate", tx, lr, nt, LILM_PLOT_LINE, 0};
    lilm_plot_series gn_s = {"gradient norm", tx, gn, nt, LILM_PLOT_LINE, 0};
    lilm_strbuf_puts(b, "<div class=\"plots\">\n");
    /* log y for the loss: the first steps of a fresh model sit far above the rest */
    step_plot(b, "plot-loss", "Loss", "cross-entropy (nats/token, log)", loss, nf ? 3 : 2, 1, 1);
    step_plot(b, "plot-bpb", "Validation bits per byte", "BPB", bpb, nf ? 2 : 1, 0, 0);
    step_plot(b, "plot-tps", "Throughput", "tokens per second", &tps_s, 1, 0, 0);
    step_plot(b, "plot-lr", "Learning rate", "lr", &lr_s, 1, 0, 0);
    step_plot(b, "plot-gradnorm", "Gradient norm (before clipping)", "global L2 norm", &gn_s, 1, 0, 0);
    lilm_strbuf_puts(b, "</div></section>\n");
    free(buf);
}

static void run_sweeps(lilm_strbuf *b, const lilm_run_record *rec)
{
    if (!rec->n_sweeps) return;
    sweep_set set = {"", rec->sweeps, rec->n_sweeps};
    snprintf(set.name, sizeof set.name, "%s", rec->run.name);
    int has_lr = 0, has_depth = 0;
    for (size_t k = 0; k < rec->n_sweeps; k++) {
        has_lr |= rec->sweeps[k].kind == LILM_SWEEP_LR;
        has_depth |= rec->sweeps[k].kind == LILM_SWEEP_DEPTH;
    }
    lilm_strbuf_puts(b, "<section><h2>Autosize</h2><div class=\"plots\">\n");
    lilm_plot p;
    if (has_depth) {
        lilm_plot_init(&p, "Depth probes", "layers", "tokens per parameter (log)");
        p.log_y = 1;
        p.hline = TOKENS_PER_PARAM_TARGET;
        p.hline_label = "target 70";
        sweep_plot(b, &set, 1, LILM_SWEEP_DEPTH, &p, LILM_PLOT_LINE_POINTS);
    }
    if (has_lr) {
        lilm_plot_init(&p, "Learning-rate probes", "peak learning rate (log)", "validation loss");
        p.log_x = 1;
        sweep_plot(b, &set, 1, LILM_SWEEP_LR, &p, LILM_PLOT_LINE_POINTS);
    }
    lilm_strbuf_puts(b, "</div></section>\n");
}

/* samples.txt: "### PROMPT" lines, each followed by its continuation. */
static void samples_section(lilm_strbuf *b, const char *samples)
{
    lilm_strbuf_puts(b, "<section id=\"samples\"><h2>Samples</h2>\n");
    if (!samples || !*samples) {
        lilm_strbuf_puts(b, "<p class=\"muted\">No samples (samples.txt missing or empty).</p></section>\n");
        return;
    }
    const char *p = samples;
    int open = 0;
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char *line = strndup(p, len);
        if (!line) break;
        if (strncmp(line, "### ", 4) == 0) {
            if (open) lilm_strbuf_puts(b, "</div>\n");
            lilm_strbuf_puts(b, "<div class=\"sample\"><b>");
            lilm_strbuf_html(b, line + 4);
            lilm_strbuf_puts(b, "</b>");
            open = 1;
        } else {
            if (!open) {
                lilm_strbuf_puts(b, "<div class=\"sample\">");
                open = 1;
            }
            lilm_strbuf_html(b, line);
            lilm_strbuf_puts(b, "<br>");
        }
        free(line);
        p += len + (e ? 1 : 0);
    }
    if (open) lilm_strbuf_puts(b, "</div>\n");
    lilm_strbuf_puts(b, "</section>\n");
}

static void eval_section(lilm_strbuf *b, const char *eval_json)
{
    if (!eval_json) return;
    lilm_strbuf_puts(b, "<section id=\"eval\"><h2>Evaluation</h2>\n");
    lilm_json *root = NULL;
    if (lilm_json_parse(&root, eval_json, strlen(eval_json), "eval.json") == LILM_OK && root->type == LILM_JSON_OBJECT) {
        lilm_strbuf_puts(b, "<table class=\"facts\">\n");
        for (size_t i = 0; i < root->n; i++) {
            const lilm_json *v = &root->items[i];
            lilm_strbuf_puts(b, "<tr><td>");
            lilm_strbuf_html(b, v->key);
            lilm_strbuf_puts(b, "</td><td>");
            if (v->type == LILM_JSON_NUMBER && v->is_int) lilm_strbuf_printf(b, "%lld", (long long)v->integer);
            else if (v->type == LILM_JSON_NUMBER) lilm_strbuf_printf(b, "%.6g", v->number);
            else if (v->type == LILM_JSON_STRING) lilm_strbuf_html(b, v->str);
            else lilm_strbuf_puts(b, lilm_json_type_name(v->type));
            lilm_strbuf_puts(b, "</td></tr>\n");
        }
        lilm_strbuf_puts(b, "</table>");
    } else {
        lilm_strbuf_puts(b, "<pre>");
        lilm_strbuf_html(b, eval_json);
        lilm_strbuf_puts(b, "</pre>");
    }
    lilm_json_free(root);
    lilm_strbuf_puts(b, "</section>\n");
}

static void warnings_section(lilm_strbuf *b, const char *title, const char *text)
{
    lilm_strbuf_puts(b, "<section class=\"warn\" id=\"warnings\"><h2>");
    lilm_strbuf_html(b, title);
    lilm_strbuf_puts(b, "</h2><pre>");
    lilm_strbuf_html(b, text);
    lilm_strbuf_puts(b, "</pre></section>\n");
}

static void run_page(lilm_strbuf *b, const lilm_run_record *rec, const char *error)
{
    const lilm_run *r = &rec->run;
    char title[300], sub[200];
    snprintf(title, sizeof title, "run %s", r->name);
    snprintf(sub, sizeof sub, "<a href=\"../index.html\">&larr; all runs</a> &middot; %s", lilm_run_status_name(r->status));
    page_begin(b, title, sub);
    if (error) warnings_section(b, "This run could not be read from runs.db", error);
    facts_table(b, r);
    if (r->warnings) warnings_section(b, "Problems found reading the run dir", r->warnings);
    if (!error) {
        metric_plots(b, rec);
        run_sweeps(b, rec);
    }
    samples_section(b, r->samples);
    eval_section(b, r->eval_json);
    lilm_strbuf_puts(b, "<section id=\"config\"><h2>Config</h2>");
    if (r->config_yaml) {
        lilm_strbuf_puts(b, "<pre>");
        lilm_strbuf_html(b, r->config_yaml);
        lilm_strbuf_puts(b, "</pre>");
    } else {
        lilm_strbuf_puts(b, "<p class=\"muted\">No config.yaml recorded.</p>");
    }
    lilm_strbuf_puts(b, "</section>\n");
    page_end(b);
}

/* ---- the whole report ---- */

/* 1 when `file` is the page of one of the runs. */
static int is_current_page(const lilm_run_list *runs, const char *file)
{
    char slug[200], want[220];
    for (size_t i = 0; i < runs->n; i++) {
        lilm_report_slug(runs->runs[i].name, slug, sizeof slug);
        snprintf(want, sizeof want, "%s.html", slug);
        if (strcmp(file, want) == 0) return 1;
    }
    return 0;
}

/* Deletes OUT/runs/<x>.html pages of runs no longer in the db (deleted with
 * `lilm runs delete`), so the site matches the db. Only *.html files. */
static void remove_stale_pages(const char *runs_dir, const lilm_run_list *runs)
{
    DIR *d = opendir(runs_dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".html") != 0 || is_current_page(runs, e->d_name)) continue;
        char path[1500];
        snprintf(path, sizeof path, "%s/%s", runs_dir, e->d_name);
        unlink(path);
    }
    closedir(d);
}

static lilm_status write_page(const char *dir, const char *file, lilm_strbuf *b)
{
    LILM_TRY(lilm_strbuf_status(b));
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    return lilm_write_atomic(path, b->data, b->len);
}

lilm_status lilm_report_write(lilm_runs_db *db, const char *out_dir, lilm_report_stats *stats, lilm_strbuf *problems)
{
    lilm_report_stats st = {0};
    char runs_dir[1200];
    snprintf(runs_dir, sizeof runs_dir, "%s/runs", out_dir);
    LILM_TRY(lilm_mkdirs(runs_dir));
    lilm_run_list runs;
    LILM_TRY(lilm_runs_list(db, &runs));
    st.n_runs = runs.n;

    sweep_set *sets = calloc(runs.n + 1, sizeof *sets);
    if (!sets) {
        lilm_run_list_free(&runs);
        return lilm_errorf(LILM_ERR_OOM, "out of memory writing the report");
    }
    size_t n_sets = 0;
    lilm_strbuf page;
    lilm_strbuf_init(&page);
    lilm_status s = LILM_OK;
    for (size_t i = 0; i < runs.n && s == LILM_OK; i++) {
        const lilm_run *r = &runs.runs[i];
        lilm_run_record rec;
        lilm_status g = lilm_runs_get(db, r->name, &rec);
        char error[2048] = "";
        if (g != LILM_OK) {
            /* render what the list gave us, and say what failed */
            snprintf(error, sizeof error, "%s: %s", lilm_status_str(g), lilm_last_error());
            memset(&rec, 0, sizeof rec);
            rec.run = *r;   /* shallow: owned strings stay with `runs` */
        }
        if (g != LILM_OK || r->warnings) {
            st.n_problems++;
            if (problems)
                lilm_strbuf_printf(problems, "run %s: %s\n", r->name,
                                   g != LILM_OK ? error : "has warnings from its run dir (shown on its page)");
        }
        lilm_strbuf_reset(&page);
        run_page(&page, &rec, g != LILM_OK ? error : NULL);
        char slug[200], file[220];
        lilm_report_slug(r->name, slug, sizeof slug);
        snprintf(file, sizeof file, "%s.html", slug);
        s = write_page(runs_dir, file, &page);
        if (s == LILM_OK) st.n_pages++;
        if (g == LILM_OK) {
            if (rec.n_sweeps) {   /* keep the sweep points for the index */
                snprintf(sets[n_sets].name, sizeof sets[n_sets].name, "%s", r->name);
                sets[n_sets].pts = rec.sweeps;
                sets[n_sets].n = rec.n_sweeps;
                rec.sweeps = NULL;
                rec.n_sweeps = 0;
                n_sets++;
            }
            lilm_run_record_free(&rec);
        }
    }
    if (s == LILM_OK) {
        char when[64], sub[1600];
        now_utc(when, sizeof when);
        lilm_strbuf esc;
        lilm_strbuf_init(&esc);
        lilm_strbuf_html(&esc, lilm_runs_path(db));
        snprintf(sub, sizeof sub, "%zu runs from %s &middot; generated %s", runs.n, esc.data ? esc.data : "", when);
        lilm_strbuf_free(&esc);
        lilm_strbuf_reset(&page);
        page_begin(&page, "lilm runs", sub);
        leaderboard_section(&page, &runs);
        runs_section(&page, &runs);
        sweeps_section(&page, &runs, sets, n_sets);
        size_t n_search = 0;   /* search pages are not run pages: not counted in st */
        s = lilm__report_search_pages(db, out_dir, &page, &n_search);
        page_end(&page);
        if (s == LILM_OK) s = write_page(out_dir, "index.html", &page);
    }
    if (s == LILM_OK) remove_stale_pages(runs_dir, &runs);
    lilm_strbuf_free(&page);
    for (size_t i = 0; i < n_sets; i++) free(sets[i].pts);
    free(sets);
    lilm_run_list_free(&runs);
    if (stats) *stats = st;
    return s;
}
