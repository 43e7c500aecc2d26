/*
 * test_track_report.c: leaderboard building and sorting, SVG plots, and the
 * HTML report written from a runs.db (atomic files, escaping, a run whose
 * stored data is unreadable still gets a page and the index still renders).
 */
#include "test.h"

#include <math.h>
#include <sqlite3.h>

#include "core/fileio.h"
#include "track/leaderboard.h"
#include "track/report.h"
#include "track/runs.h"
#include "track/strbuf.h"
#include "track/svg.h"

static lilm_run mk(const char *name, const char *model, const char *dataset, int64_t params, double bpb, lilm_run_status st)
{
    lilm_run r;
    lilm_run_init(&r);
    snprintf(r.name, sizeof r.name, "%s", name);
    snprintf(r.model, sizeof r.model, "%s", model);
    snprintf(r.dataset, sizeof r.dataset, "%s", dataset);
    r.params = params;
    r.val_bpb = bpb;
    r.status = st;
    return r;
}

/* The reference's table, plus noise the leaderboard must ignore. */
static void reference_runs(lilm_run *runs, size_t *n)
{
    size_t k = 0;
    runs[k++] = mk("b1", "Baseline transformer", "datasets/babylm", 11000000, 1.34, LILM_RUN_DONE);
    runs[k++] = mk("b2", "Baseline transformer", "datasets/babylm", 11000000, 1.33, LILM_RUN_DONE);
    runs[k++] = mk("s1", "Baseline transformer", "data/simplestories/", 7300000, 0.57, LILM_RUN_DONE);
    runs[k++] = mk("l1", "Latent attention", "babylm", 10600000, 1.32, LILM_RUN_DONE);
    runs[k++] = mk("c1", "Compiled baseline", "babylm", 11000000, 1.31, LILM_RUN_DONE);
    runs[k++] = mk("x1", "Compiled baseline", "babylm", 11000000, 0.10, LILM_RUN_FAILED);   /* not finished */
    runs[k++] = mk("x2", "Latent attention", "babylm", 10600000, NAN, LILM_RUN_DONE);     /* no BPB */
    *n = k;
}

static void models(const lilm_leaderboard *lb, char *out, size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t r = 0; r < lb->n_rows && len < n; r++)
        len += (size_t)snprintf(out + len, n - len, "%s|", lb->rows[r].model);
}

static void test_leaderboard(lilm_test *t)
{
    lilm_run runs[16];
    size_t n;
    reference_runs(runs, &n);
    lilm_leaderboard lb;
    LT_OK(t, lilm_leaderboard_build(&lb, runs, n, NULL));
    LT_EQ_INT(t, lb.n_datasets, 2);
    LT_EQ_INT(t, lb.n_rows, 3);
    LT_EQ_INT(t, lilm_leaderboard_n_cols(&lb), 6);
    char buf[512], cell[64];
    lilm_leaderboard_header(&lb, 3, cell, sizeof cell);
    LT_TRUE(t, strcmp(cell, "BabyLM BPB") == 0);
    lilm_leaderboard_header(&lb, 4, cell, sizeof cell);
    LT_TRUE(t, strcmp(cell, "SimpleStories params") == 0);
    models(&lb, buf, sizeof buf);
    LT_CHECK(t, strcmp(buf, "Compiled baseline|Latent attention|Baseline transformer|") == 0, "rank order: %s", buf);
    lilm_leaderboard_cell_text(&lb, 2, 3, cell, sizeof cell);
    LT_TRUE(t, strcmp(cell, "1.330") == 0);   /* best of b1, b2 */
    lilm_leaderboard_cell_text(&lb, 2, 4, cell, sizeof cell);
    LT_TRUE(t, strcmp(cell, "7.3M") == 0);
    lilm_leaderboard_cell_text(&lb, 0, 5, cell, sizeof cell);
    LT_TRUE(t, strcmp(cell, "n/a") == 0);
    LT_EQ_INT(t, lb.rows[1].rank, 2);

    /* sorting: n/a last both ways, ties in rank order */
    size_t col = 0;
    LT_OK(t, lilm_leaderboard_find_col(&lb, "SimpleStories BPB", &col));
    LT_EQ_INT(t, col, 5);
    lilm_leaderboard_sort(&lb, col, 0);
    models(&lb, buf, sizeof buf);
    LT_CHECK(t, strcmp(buf, "Baseline transformer|Compiled baseline|Latent attention|") == 0, "%s", buf);
    lilm_leaderboard_sort(&lb, col, 1);
    models(&lb, buf, sizeof buf);
    LT_CHECK(t, strcmp(buf, "Baseline transformer|Compiled baseline|Latent attention|") == 0, "%s", buf);
    LT_OK(t, lilm_leaderboard_find_col(&lb, "babylm-bpb", &col));
    lilm_leaderboard_sort(&lb, col, 1);
    models(&lb, buf, sizeof buf);
    LT_CHECK(t, strcmp(buf, "Baseline transformer|Latent attention|Compiled baseline|") == 0, "%s", buf);
    LT_OK(t, lilm_leaderboard_find_col(&lb, "params", &col));   /* primary dataset's */
    LT_EQ_INT(t, col, 2);
    lilm_leaderboard_sort(&lb, col, 0);
    models(&lb, buf, sizeof buf);
    LT_CHECK(t, strcmp(buf, "Latent attention|Compiled baseline|Baseline transformer|") == 0, "%s", buf);
    LT_OK(t, lilm_leaderboard_find_col(&lb, "model", &col));
    lilm_leaderboard_sort(&lb, col, 1);
    models(&lb, buf, sizeof buf);
    LT_CHECK(t, strcmp(buf, "Latent attention|Compiled baseline|Baseline transformer|") == 0, "%s", buf);
    LT_STATUS(t, lilm_leaderboard_find_col(&lb, "loss", &col), LILM_ERR_ARG);
    LT_TRUE(t, strstr(lilm_last_error(), "babylm-bpb") != NULL);

    /* aligned text: every line the same width */
    lilm_leaderboard_sort(&lb, 0, 0);
    lilm_strbuf out;
    lilm_strbuf_init(&out);
    LT_OK(t, lilm_leaderboard_format(&lb, &out));
    size_t width = 0, lines = 0;
    int aligned = 1;
    for (const char *p = out.data; p && *p;) {
        const char *e = strchr(p, '\n');
        size_t w = (size_t)(e - p);
        if (lines++ == 0) width = w;
        else aligned &= w == width;
        p = e + 1;
    }
    LT_TRUE(t, aligned);
    LT_EQ_INT(t, lines, 5);
    LT_TRUE(t, out.data && strstr(out.data, "Compiled baseline") < strstr(out.data, "Latent attention"));
    lilm_strbuf_free(&out);
    lilm_leaderboard_free(&lb);

    /* one dataset */
    LT_OK(t, lilm_leaderboard_build(&lb, runs, n, "SimpleStories"));
    LT_EQ_INT(t, lb.n_datasets, 1);
    LT_EQ_INT(t, lb.n_rows, 1);
    lilm_leaderboard_free(&lb);
    LT_STATUS(t, lilm_leaderboard_build(&lb, runs, n, "wikipedia"), LILM_ERR_NOT_FOUND);
    /* nothing finished: an empty table, not an error */
    LT_OK(t, lilm_leaderboard_build(&lb, runs + 5, 2, NULL));
    LT_EQ_INT(t, lb.n_rows, 0);
    lilm_leaderboard_free(&lb);
}

static void test_format(lilm_test *t)
{
    char b[32];
    lilm_format_params(b, sizeof b, 11193792);
    LT_TRUE(t, strcmp(b, "11.2M") == 0);
    lilm_format_params(b, sizeof b, 850000);
    LT_TRUE(t, strcmp(b, "850K") == 0);
    lilm_format_params(b, sizeof b, -1);
    LT_TRUE(t, strcmp(b, "n/a") == 0);
    lilm_svg_format_tick(b, sizeof b, 12000, 2000);
    LT_TRUE(t, strcmp(b, "12k") == 0);
    lilm_svg_format_tick(b, sizeof b, 0.0015, 0.0005);
    LT_TRUE(t, strcmp(b, "0.0015") == 0);
    lilm_svg_format_tick(b, sizeof b, 3e6, 1e6);
    LT_TRUE(t, strcmp(b, "3M") == 0);
    lilm_svg_format_tick(b, sizeof b, 2.5e6, 5e5);
    LT_TRUE(t, strcmp(b, "2.5M") == 0);
    lilm_svg_format_tick(b, sizeof b, 1500, 500);
    LT_TRUE(t, strcmp(b, "1500") == 0);
    lilm_svg_format_tick(b, sizeof b, 1e-17, 0.5);
    LT_TRUE(t, strcmp(b, "0") == 0);
    char key[64], label[64];
    lilm_leaderboard_dataset_name("/data/SimpleStories/", key, label);
    LT_TRUE(t, strcmp(key, "simplestories") == 0 && strcmp(label, "SimpleStories") == 0);
    lilm_leaderboard_dataset_name("", key, label);
    LT_TRUE(t, strcmp(key, "unknown") == 0);
    lilm_leaderboard_dataset_name("../shared/data/tinystories/train/tinystories_v1_train_head.txt", key, label);
    LT_CHECK(t, strcmp(key, "tinystories") == 0 && strcmp(label, "TinyStories") == 0, "%s", key);
    lilm_leaderboard_dataset_name("babylm/train.jsonl", key, label);
    LT_TRUE(t, strcmp(key, "babylm") == 0);
    lilm_leaderboard_dataset_name("corpus.txt", key, label);
    LT_TRUE(t, strcmp(key, "corpus.txt") == 0);   /* nothing above it: the file's name */
    lilm_leaderboard_dataset_name("data/train", key, label);
    LT_TRUE(t, strcmp(key, "data") == 0);
    lilm_strbuf s;
    lilm_strbuf_init(&s);
    lilm_strbuf_html(&s, "<a href=\"x\">'&'</a>");
    LT_TRUE(t, strcmp(s.data, "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;") == 0);
    lilm_strbuf_free(&s);
    lilm_report_slug("run-1.a_b", b, sizeof b);
    LT_TRUE(t, strcmp(b, "run-1.a_b") == 0);
    lilm_report_slug("../etc/passwd", b, sizeof b);
    LT_CHECK(t, strncmp(b, "_._etc_passwd-", 14) == 0 && strlen(b) == 22 && !strchr(b, '/') && b[0] != '.', "slug %s", b);
    char b2[32];
    lilm_report_slug("a b", b, sizeof b);
    lilm_report_slug("a_b", b2, sizeof b2);
    LT_TRUE(t, strcmp(b, b2) != 0);   /* never the same page */
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; p && (p = strstr(p, needle)); p++) n++;
    return n;
}

static void test_svg(lilm_test *t)
{
    double x[3000], y[3000], y2[3000];
    for (int i = 0; i < 3000; i++) {
        x[i] = i;
        y[i] = 5 * exp(-i / 500.0) + 2;
        y2[i] = i % 100 == 0 ? 2.5 : NAN;
    }
    lilm_plot_series s[2] = {{"train <loss>", x, y, 3000, LILM_PLOT_LINE, 0}, {"val", x, y2, 3000, LILM_PLOT_LINE_POINTS, 0}};
    lilm_plot p;
    lilm_plot_init(&p, "Loss & more", "step", "loss");
    lilm_strbuf out;
    lilm_strbuf_init(&out);
    LT_OK(t, lilm_svg_plot(&out, &p, s, 2));
    const char *svg = out.data ? out.data : "";
    LT_TRUE(t, strncmp(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 38) == 0);
    LT_EQ_INT(t, count(svg, "<svg"), 1);
    LT_EQ_INT(t, count(svg, "</svg>"), 1);
    LT_EQ_INT(t, count(svg, "class=\"line\""), 2);
    LT_EQ_INT(t, count(svg, "<circle"), 30 + 1);   /* 30 val points + the legend marker */
    LT_TRUE(t, strstr(svg, "train &lt;loss&gt;") != NULL);
    LT_TRUE(t, strstr(svg, "Loss &amp; more") != NULL);
    LT_TRUE(t, count(svg, " L") <= LILM_SVG_MAX_POINTS + 40);   /* long series are thinned */
    LT_TRUE(t, count(svg, "<g class=\"xticks\"") == 1 && count(svg, ">2000<") == 1 && count(svg, ">2500<") == 1);
    LT_TRUE(t, strstr(svg, "nan") == NULL && strstr(svg, "inf") == NULL);

    /* log x: decade ticks; non-positive x dropped */
    double lx[5] = {1.45e-3, 3e-3, 6.6e-3, 1.45e-2, 0}, ly[5] = {3.2, 3.05, 3.0, 3.06, 9};
    lilm_plot_series ls = {"lr", lx, ly, 5, LILM_PLOT_POINTS, 0};
    lilm_plot_init(&p, "lr", "lr", "loss");
    p.log_x = 1;
    lilm_strbuf_reset(&out);
    LT_OK(t, lilm_svg_plot(&out, &p, &ls, 1));
    svg = out.data;
    LT_TRUE(t, strstr(svg, ">0.002<") && strstr(svg, ">0.005<") && strstr(svg, ">0.01<"));
    LT_EQ_INT(t, count(svg, "<circle"), 4 + 1);
    /* no data: a frame that says so */
    lilm_plot_series empty = {"x", lx, ly, 0, LILM_PLOT_LINE, 0};
    lilm_strbuf_reset(&out);
    LT_OK(t, lilm_svg_plot(&out, &p, &empty, 1));
    LT_TRUE(t, strstr(out.data, "no data") != NULL);
    /* one point: a window around it, no division by zero */
    double one = 5;
    lilm_plot_series single = {"one", &one, &one, 1, LILM_PLOT_POINTS, 0};
    lilm_plot_init(&p, "one", "x", "y");
    lilm_strbuf_reset(&out);
    LT_OK(t, lilm_svg_plot(&out, &p, &single, 1));
    LT_TRUE(t, strstr(out.data, "nan") == NULL && count(out.data, "<circle") == 2);
    lilm_strbuf_free(&out);
}

static void fill(lilm_run_record *rec, const char *name, const char *model, double bpb)
{
    memset(rec, 0, sizeof *rec);
    lilm_run_init(&rec->run);
    snprintf(rec->run.name, sizeof rec->run.name, "%s", name);
    snprintf(rec->run.model, sizeof rec->run.model, "%s", model);
    snprintf(rec->run.dataset, sizeof rec->run.dataset, "babylm");
    rec->run.status = LILM_RUN_DONE;
    rec->run.val_bpb = bpb;
    rec->run.params = 1000000;
    rec->run.samples = strdup("### the dog \n<script>alert(1)</script>\n");
    rec->n_metrics = 50;
    rec->metrics = calloc(50, sizeof *rec->metrics);
    for (int i = 0; i < 50; i++) {
        lilm_metric_point *m = &rec->metrics[i];
        m->kind = i % 10 == 9;
        m->step = i;
        m->tokens = -1;
        m->lr = 1e-3;
        m->loss = 5 - i * 0.05;
        m->tokens_per_s = 1000;
        m->grad_norm = m->elapsed_s = NAN;
        m->val_loss = m->kind ? m->loss + 0.1 : NAN;
        m->val_bpb = m->kind ? 1.5 : NAN;
    }
}

static int file_has(const char *path, const char *needle)
{
    char *data = NULL;
    size_t n;
    if (lilm_read_file(path, &data, &n) != LILM_OK) return 0;
    int has = strstr(data, needle) != NULL;
    free(data);
    return has;
}

static void test_report(lilm_test *t)
{
    char dir[256], db_path[512], out[512], page[700];
    lilm_test_tmpdir(dir, sizeof dir);
    snprintf(db_path, sizeof db_path, "%s/runs.db", dir);
    snprintf(out, sizeof out, "%s/site", dir);
    lilm_runs_db *db = NULL;
    LT_OK(t, lilm_runs_open(&db, db_path));
    if (!db) return;
    lilm_run_record rec;
    fill(&rec, "good", "Model A", 1.4);
    LT_OK(t, lilm_runs_upsert(db, &rec));
    lilm_run_record_free(&rec);
    fill(&rec, "we/ird <name>", "Model B", 1.2);
    LT_OK(t, lilm_runs_upsert(db, &rec));
    lilm_run_record_free(&rec);
    fill(&rec, "unreadable", "Model C", 1.3);
    LT_OK(t, lilm_runs_upsert(db, &rec));
    lilm_run_record_free(&rec);
    lilm_runs_close(db);
    LT_OK(t, lilm_runs_open(&db, db_path));
    if (!db) return;
    lilm_report_stats st;
    lilm_strbuf problems;
    lilm_strbuf_init(&problems);
    LT_OK(t, lilm_report_write(db, out, &st, &problems));
    LT_EQ_INT(t, st.n_runs, 3);
    LT_EQ_INT(t, st.n_pages, 3);
    snprintf(page, sizeof page, "%s/index.html", out);
    LT_TRUE(t, file_has(page, "id=\"leaderboard\""));
    LT_TRUE(t, file_has(page, "we/ird &lt;name&gt;"));
    LT_TRUE(t, !file_has(page, "<name>"));
    LT_TRUE(t, file_has(page, "<script>"));   /* our sort script, inline */
    LT_TRUE(t, !file_has(page, "src=\""));    /* nothing external */
    char slug[128];
    lilm_report_slug("we/ird <name>", slug, sizeof slug);
    snprintf(page, sizeof page, "%s/runs/%s.html", out, slug);
    LT_TRUE(t, file_has(page, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    LT_TRUE(t, !file_has(page, "<script>alert"));
    LT_TRUE(t, file_has(page, "id=\"plot-loss\""));
    snprintf(page, sizeof page, "%s/runs/good.html", out);
    LT_TRUE(t, file_has(page, "class=\"line\""));
    LT_EQ_INT(t, st.n_problems, 0);
    lilm_runs_close(db);

    /* the runs' points cannot be read (a table is missing): every run still
     * gets a page that says what failed, and the index is written */
    sqlite3 *raw = NULL;
    sqlite3_open(db_path, &raw);
    sqlite3_exec(raw, "DROP TABLE sweeps", NULL, NULL, NULL);
    sqlite3_close(raw);
    LT_OK(t, lilm_runs_open(&db, db_path));
    if (!db) return;
    snprintf(out, sizeof out, "%s/site2", dir);
    LT_OK(t, lilm_report_write(db, out, &st, &problems));
    LT_EQ_INT(t, st.n_pages, 3);
    LT_EQ_INT(t, st.n_problems, 3);
    LT_TRUE(t, problems.data && strstr(problems.data, "run unreadable:") && strstr(problems.data, "sweeps"));
    snprintf(page, sizeof page, "%s/runs/unreadable.html", out);
    LT_TRUE(t, file_has(page, "could not be read from runs.db"));
    LT_TRUE(t, file_has(page, "Model C"));
    snprintf(page, sizeof page, "%s/index.html", out);
    LT_TRUE(t, file_has(page, "Model A") && file_has(page, "id=\"leaderboard\""));
    lilm_strbuf_free(&problems);

    /* an empty db still gives a complete index */
    lilm_runs_close(db);
    snprintf(db_path, sizeof db_path, "%s/empty.db", dir);
    snprintf(out, sizeof out, "%s/empty-site", dir);
    LT_OK(t, lilm_runs_open(&db, db_path));
    if (!db) return;
    LT_OK(t, lilm_report_write(db, out, &st, NULL));
    snprintf(page, sizeof page, "%s/index.html", out);
    LT_TRUE(t, file_has(page, "No finished run"));
    LT_TRUE(t, file_has(page, "</html>"));
    /* an unwritable output dir fails cleanly */
    LT_STATUS(t, lilm_report_write(db, "/proc/no-such-dir/site", &st, NULL), LILM_ERR_IO);
    lilm_runs_close(db);
}

static const lilm_test_case cases[] = {
    {"leaderboard", test_leaderboard},
    {"format", test_format},
    {"svg", test_svg},
    {"report", test_report},
};
LILM_TEST_MAIN(cases)
