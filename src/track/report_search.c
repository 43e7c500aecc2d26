/*
 * report_search.c: the report's page for each search (study) in runs.db.
 *
 * OUT/search-<slug>.html holds: the study's facts and its best trial's
 * config keys; the best-so-far curve (every complete trial's BPB by trial
 * number, and the running minimum); one scatter per parameter of its value
 * against BPB (log x for log parameters, the choice's index for
 * categoricals); the importances (src/search/importance.h) as bars; and the
 * trial table, sortable like the report's other tables, each trial linked to
 * its run's page. The index gets a "Searches" section linking them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "search/importance.h"
#include "search/space.h"
#include "search/study.h"
#include "track/report.h"
#include "track/report_impl.h"
#include "track/study_db.h"
#include "track/svg.h"

static void best_so_far_plot(lilm_strbuf *b, const lilm_study *st)
{
    double *x = calloc(st->n + 1, sizeof *x), *y = calloc(st->n + 1, sizeof *y);
    double *bx = calloc(st->n + 1, sizeof *bx), *by = calloc(st->n + 1, sizeof *by);
    if (!x || !y || !bx || !by) {
        free(x);
        free(y);
        free(bx);
        free(by);
        return;
    }
    size_t n = 0;
    double best = INFINITY;
    for (size_t i = 0; i < st->n; i++) {
        const lilm_trial *t = &st->trials[i];
        if (t->state != LILM_TRIAL_COMPLETE || !isfinite(t->value)) continue;
        if (t->value < best) best = t->value;
        x[n] = bx[n] = (double)t->number;
        y[n] = t->value;
        by[n] = best;
        n++;
    }
    lilm_plot p;
    lilm_plot_init(&p, "BPB by trial, and the best so far", "trial", "validation BPB");
    lilm_plot_series s[2] = {
        {"trial", x, y, n, LILM_PLOT_POINTS, 1},
        {"best so far", bx, by, n, LILM_PLOT_LINE, 2},
    };
    lilm_svg_plot(b, &p, s, 2);
    free(x);
    free(y);
    free(bx);
    free(by);
}

static void param_plots(lilm_strbuf *b, const lilm_study *st)
{
    const lilm_space *sp = st->sp;
    double *x = calloc(st->n + 1, sizeof *x), *y = calloc(st->n + 1, sizeof *y);
    if (!x || !y) {
        free(x);
        free(y);
        return;
    }
    lilm_strbuf_puts(b, "<div class=\"plots\">\n");
    for (int p = 0; p < sp->n_params; p++) {
        const lilm_search_param *pr = &sp->params[p];
        size_t n = 0;
        for (size_t i = 0; i < st->n; i++) {
            const lilm_trial *t = &st->trials[i];
            if (t->state != LILM_TRIAL_COMPLETE || !isfinite(t->value)) continue;
            x[n] = t->x[p];
            y[n++] = t->value;
        }
        char xlabel[160];
        if (pr->kind == LILM_SEARCH_PARAM_CATEGORICAL) {
            size_t l = (size_t)snprintf(xlabel, sizeof xlabel, "%s (0 = %s", pr->name, pr->choices[0]);
            for (int c = 1; c < pr->n_choices && l < sizeof xlabel; c++)
                l += (size_t)snprintf(xlabel + l, sizeof xlabel - l, ", %d = %s", c, pr->choices[c]);
            if (l < sizeof xlabel - 1) snprintf(xlabel + l, sizeof xlabel - l, ")");
        } else {
            snprintf(xlabel, sizeof xlabel, "%s", pr->name);
        }
        lilm_plot pl;
        lilm_plot_init(&pl, pr->name, xlabel, "validation BPB");
        pl.log_x = pr->log;
        pl.width = 380;
        lilm_plot_series s = {NULL, x, y, n, LILM_PLOT_POINTS, 1};
        lilm_svg_plot(b, &pl, &s, 1);
    }
    lilm_strbuf_puts(b, "</div>\n");
    free(x);
    free(y);
}

static void importance_section(lilm_strbuf *b, const lilm_study *st)
{
    const lilm_space *sp = st->sp;
    double imp[LILM_SEARCH_MAX_PARAMS];
    lilm_strbuf_puts(b, "<section><h2>Parameter importance</h2>\n<p class=\"muted\">The share of the BPB variance that lies "
                        "between groups of trials by the parameter's value (categorical: per choice; numeric: four bins by "
                        "rank), scaled to sum to 100%: a quick, model-free reading; correlated parameters share credit.</p>\n");
    if (lilm_search_importance(st, imp) != LILM_OK) {
        lilm_strbuf_puts(b, "<p class=\"muted\">out of memory</p></section>\n");
        return;
    }
    lilm_strbuf_puts(b, "<table class=\"importance\"><tbody>\n");
    for (int p = 0; p < sp->n_params; p++) {
        lilm_strbuf_puts(b, "<tr><td>");
        lilm_strbuf_html(b, sp->params[p].name);
        lilm_strbuf_printf(b, "</td><td class=\"num\">%.1f%%</td><td><div style=\"background:#4c78a8;height:0.9em;width:%.0fpx\">"
                              "</div></td></tr>\n", 100 * imp[p], 300 * imp[p]);
    }
    lilm_strbuf_puts(b, "</tbody></table></section>\n");
}

static void trial_table(lilm_strbuf *b, const lilm_study *st, lilm_runs_db *db)
{
    const lilm_space *sp = st->sp;
    lilm_strbuf_printf(b, "<section><h2>Trials (%zu)</h2>\n<p class=\"muted\">Click a column header to sort; click again "
                          "to reverse.</p>\n<div class=\"tablewrap\"><table id=\"trials\" class=\"sortable\"><thead><tr>", st->n);
    lilm__report_th(b, "trial", 1);
    lilm__report_th(b, "state", 0);
    lilm__report_th(b, "BPB", 1);
    for (int p = 0; p < sp->n_params; p++) lilm__report_th(b, sp->params[p].name, sp->params[p].kind != LILM_SEARCH_PARAM_CATEGORICAL);
    lilm__report_th(b, "minutes", 1);
    lilm__report_th(b, "run", 0);
    lilm__report_th(b, "reason", 0);
    lilm_strbuf_puts(b, "</tr></thead><tbody>\n");
    for (size_t i = 0; i < st->n; i++) {
        const lilm_trial *t = &st->trials[i];
        char cell[96];
        lilm_strbuf_printf(b, "<tr data-i=\"%zu\">", i);
        snprintf(cell, sizeof cell, "%lld", (long long)t->number);
        lilm__report_td_num(b, (double)t->number, cell);
        lilm__report_td_text(b, lilm_trial_state_name(t->state));
        snprintf(cell, sizeof cell, "%.4f", t->value);
        lilm__report_td_num(b, t->state == LILM_TRIAL_COMPLETE ? t->value : NAN, cell);
        for (int p = 0; p < sp->n_params; p++) {
            if (sp->params[p].kind == LILM_SEARCH_PARAM_FLOAT) snprintf(cell, sizeof cell, "%.4g", t->x[p]);
            else lilm_search_param_format(&sp->params[p], t->x[p], cell, sizeof cell);
            if (sp->params[p].kind == LILM_SEARCH_PARAM_CATEGORICAL) lilm__report_td_text(b, cell);
            else lilm__report_td_num(b, t->x[p], cell);
        }
        snprintf(cell, sizeof cell, "%.2f", t->elapsed_s / 60);
        lilm__report_td_num(b, t->elapsed_s / 60, cell);
        lilm_run_record rec;
        if (t->run_name[0] && lilm_runs_get(db, t->run_name, &rec) == LILM_OK) {
            char slug[200];
            lilm_report_slug(t->run_name, slug, sizeof slug);
            lilm_strbuf_puts(b, "<td data-v=\"");
            lilm_strbuf_html(b, t->run_name);
            lilm_strbuf_printf(b, "\"><a class=\"runlink\" href=\"runs/%s.html\">", slug);
            lilm_strbuf_html(b, t->run_name);
            lilm_strbuf_puts(b, "</a></td>");
            lilm_run_record_free(&rec);
        } else {
            lilm__report_td_text(b, t->run_name);
        }
        lilm__report_td_text(b, t->reason);
        lilm_strbuf_puts(b, "</tr>\n");
    }
    lilm_strbuf_puts(b, "</tbody></table></div></section>\n");
}

static void search_page(lilm_strbuf *b, const lilm_study_record *rec, const lilm_study *st, lilm_runs_db *db)
{
    char sub[512], title[200];
    size_t complete = 0;
    for (size_t i = 0; i < st->n; i++) complete += st->trials[i].state == LILM_TRIAL_COMPLETE;
    snprintf(title, sizeof title, "search %s", rec->name);
    snprintf(sub, sizeof sub, "%zu trials (%zu complete) of %lld &middot; TPE%s, seed %llu, %.4g min per trial &middot; "
                              "<a href=\"index.html\">all runs</a>", st->n, complete, (long long)st->sp->study.trials,
             st->sp->study.tpe ? (st->sp->study.multivariate ? " (multivariate)" : "") : " off (random search)",
             (unsigned long long)st->sp->study.seed, st->sp->study.minutes);
    lilm__report_page_begin(b, title, sub);
    int64_t bi = lilm_study_best(st);
    lilm_strbuf_puts(b, "<section><h2>Best trial</h2>\n");
    if (bi >= 0) {
        const lilm_trial *t = &st->trials[bi];
        lilm_strbuf_printf(b, "<p>Trial %lld: validation BPB <b>%.4f</b>. Its config keys:</p><pre>", (long long)t->number, t->value);
        double d[LILM_SEARCH_MAX_DERIVED];
        for (int p = 0; p < st->sp->n_params; p++) {
            char v[LILM_SEARCH_NAME_MAX];
            lilm_search_param_format(&st->sp->params[p], t->x[p], v, sizeof v);
            lilm_strbuf_html(b, st->sp->params[p].name);
            lilm_strbuf_puts(b, " = ");
            lilm_strbuf_html(b, v);
            lilm_strbuf_puts(b, "\n");
        }
        if (lilm_space_derive(st->sp, t->x, d) == LILM_OK)
            for (int k = 0; k < st->sp->n_derived; k++) {
                lilm_strbuf_html(b, st->sp->derived[k].name);
                lilm_strbuf_printf(b, " = %.6g (derived)\n", d[k]);
            }
        lilm_strbuf_puts(b, "</pre>\n");
    } else {
        lilm_strbuf_puts(b, "<p class=\"muted\">No complete trial yet.</p>\n");
    }
    lilm_strbuf_puts(b, "</section>\n<section><h2>Progress</h2>\n");
    best_so_far_plot(b, st);
    lilm_strbuf_puts(b, "</section>\n<section><h2>Each parameter against BPB</h2>\n");
    param_plots(b, st);
    lilm_strbuf_puts(b, "</section>\n");
    importance_section(b, st);
    trial_table(b, st, db);
    lilm_strbuf_puts(b, "<section><h2>Search space</h2><pre>");
    lilm_strbuf_html(b, rec->space_yaml);
    lilm_strbuf_puts(b, "</pre></section>\n");
    lilm__report_page_end(b);
}

lilm_status lilm__report_search_pages(lilm_runs_db *db, const char *out_dir, lilm_strbuf *index, size_t *n_pages)
{
    *n_pages = 0;
    lilm_study_record *recs = NULL;
    size_t n = 0;
    LILM_TRY(lilm_study_db_list(db, &recs, &n));
    if (n) lilm_strbuf_puts(index, "<section id=\"searches-section\"><h2>Searches</h2>\n<ul>\n");
    lilm_strbuf page;
    lilm_strbuf_init(&page);
    lilm_space *sp = malloc(sizeof *sp);
    lilm_status s = sp ? LILM_OK : lilm_errorf(LILM_ERR_OOM, "out of memory writing the search pages");
    for (size_t i = 0; i < n && s == LILM_OK; i++) {
        lilm_study st;
        char slug[200], file[1500];
        lilm_report_slug(recs[i].name, slug, sizeof slug);
        lilm_status g = lilm_space_load_string(sp, recs[i].name, recs[i].space_yaml, strlen(recs[i].space_yaml));
        lilm_study_init(&st, sp);
        if (g == LILM_OK) g = lilm_study_db_load_trials(db, recs[i].id, &st);
        lilm_strbuf_puts(index, "<li>");
        if (g == LILM_OK) {
            lilm_strbuf_reset(&page);
            search_page(&page, &recs[i], &st, db);
            snprintf(file, sizeof file, "%s/search-%s.html", out_dir, slug);
            s = lilm_strbuf_status(&page);
            if (s == LILM_OK) s = lilm_write_atomic(file, page.data, page.len);
            if (s == LILM_OK) (*n_pages)++;
            lilm_strbuf_printf(index, "<a href=\"search-%s.html\">", slug);
            lilm_strbuf_html(index, recs[i].name);
            lilm_strbuf_printf(index, "</a>: %lld trials, %lld complete", (long long)recs[i].n_trials, (long long)recs[i].n_complete);
            if (isfinite(recs[i].best_value)) lilm_strbuf_printf(index, ", best BPB %.4f", recs[i].best_value);
        } else {
            lilm_strbuf_html(index, recs[i].name);
            lilm_strbuf_puts(index, ": cannot be read: ");
            lilm_strbuf_html(index, lilm_last_error());
        }
        lilm_strbuf_puts(index, "</li>\n");
        lilm_study_free(&st);
    }
    if (n) lilm_strbuf_puts(index, "</ul></section>\n");
    for (size_t i = 0; i < n; i++) lilm_study_record_free(&recs[i]);
    free(recs);
    free(sp);
    lilm_strbuf_free(&page);
    return s;
}
