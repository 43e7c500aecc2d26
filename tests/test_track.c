/*
 * test_track.c: runs.db (schema, migration, errors, concurrency) and the
 * run-dir reader.
 *
 * The concurrency case forks processes that all create the same new db and
 * register, update and finish runs at the same time; every row and metric
 * point must be there afterwards. Corrupt, newer-version and locked dbs must
 * fail with the documented status and a message that says what to do.
 */
#include "test.h"

#include <math.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/json.h"
#include "core/status.h"
#include "track/rundir.h"
#include "track/runs.h"

/* A run record with n_metrics points and two sweep points. */
static void fake_record(lilm_run_record *rec, const char *name, size_t n_metrics)
{
    memset(rec, 0, sizeof *rec);
    lilm_run_init(&rec->run);
    snprintf(rec->run.name, sizeof rec->run.name, "%s", name);
    snprintf(rec->run.model, sizeof rec->run.model, "Baseline");
    snprintf(rec->run.dataset, sizeof rec->run.dataset, "datasets/babylm");
    snprintf(rec->run.started_at, sizeof rec->run.started_at, "2026-11-26T10:00:00Z");
    rec->run.params = 11000000;
    rec->run.val_bpb = 1.33;
    rec->run.config_yaml = strdup("model:\n  vocab_size: 12000\n");
    rec->metrics = calloc(n_metrics + 1, sizeof *rec->metrics);
    rec->n_metrics = n_metrics;
    for (size_t i = 0; i < n_metrics; i++) {
        lilm_metric_point *m = &rec->metrics[i];
        m->kind = i % 5 == 4 ? LILM_METRIC_VAL : LILM_METRIC_TRAIN;
        m->step = (int64_t)i;
        m->tokens = (int64_t)i * 100;
        m->lr = m->loss = m->grad_norm = m->tokens_per_s = m->elapsed_s = m->val_loss = m->val_bpb = NAN;
        m->loss = 5.0 - 0.01 * (double)i;
    }
    rec->sweeps = calloc(2, sizeof *rec->sweeps);
    rec->n_sweeps = 2;
    rec->sweeps[0] = (lilm_sweep_point){LILM_SWEEP_LR, 6e-3, 3.1, 60, 1};
    rec->sweeps[1] = (lilm_sweep_point){LILM_SWEEP_DEPTH, 20, 75, 11e6, 1};
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static int64_t count_rows(const char *db_path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    if (sqlite3_open(db_path, &db) == SQLITE_OK && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void test_roundtrip(lilm_test *t)
{
    char dir[256], path[512];
    lilm_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/sub/runs.db", dir);   /* the parent is created */
    lilm_runs_db *db = NULL;
    LT_OK(t, lilm_runs_open(&db, path));
    if (!db) return;
    lilm_run_record rec;
    fake_record(&rec, "r1", 50);
    LT_OK(t, lilm_runs_upsert(db, &rec));
    LT_TRUE(t, rec.run.id > 0);
    /* an update keeps one row and replaces the points */
    rec.n_metrics = 20;
    rec.run.val_bpb = 1.30;
    LT_OK(t, lilm_runs_upsert(db, &rec));
    lilm_run_record_free(&rec);

    lilm_run_record got;
    LT_OK(t, lilm_runs_get(db, "r1", &got));
    LT_TRUE(t, strcmp(got.run.name, "r1") == 0);
    LT_TRUE(t, strcmp(got.run.model, "Baseline") == 0);
    LT_EQ_INT(t, got.run.params, 11000000);
    LT_NEAR(t, got.run.val_bpb, 1.30, 1e-12);
    LT_TRUE(t, isnan(got.run.val_loss));      /* unknown stays unknown */
    LT_EQ_INT(t, got.run.steps, -1);
    LT_TRUE(t, got.run.samples == NULL);
    LT_TRUE(t, got.run.config_yaml && strstr(got.run.config_yaml, "vocab_size"));
    LT_EQ_INT(t, got.n_metrics, 20);
    LT_EQ_INT(t, got.n_sweeps, 2);
    if (got.n_metrics == 20) {
        LT_EQ_INT(t, got.metrics[4].kind, LILM_METRIC_VAL);
        LT_NEAR(t, got.metrics[10].loss, 4.9, 1e-12);
        LT_TRUE(t, isnan(got.metrics[10].lr));
    }
    if (got.n_sweeps == 2) LT_NEAR(t, got.sweeps[0].x, 6e-3, 1e-15);
    lilm_run_record_free(&got);

    LT_OK(t, lilm_runs_set_status(db, "r1", LILM_RUN_DONE));
    lilm_run_list l;
    LT_OK(t, lilm_runs_list(db, &l));
    LT_EQ_INT(t, l.n, 1);
    if (l.n == 1) {
        LT_EQ_INT(t, l.runs[0].status, LILM_RUN_DONE);
        LT_TRUE(t, l.runs[0].finished_at[0] != '\0');
    }
    lilm_run_list_free(&l);

    LT_STATUS(t, lilm_runs_set_status(db, "nope", LILM_RUN_DONE), LILM_ERR_NOT_FOUND);
    LT_STATUS(t, lilm_runs_get(db, "nope", &got), LILM_ERR_NOT_FOUND);
    LT_STATUS(t, lilm_runs_delete(db, "nope"), LILM_ERR_NOT_FOUND);
    LT_OK(t, lilm_runs_delete(db, "r1"));
    LT_STATUS(t, lilm_runs_get(db, "r1", &got), LILM_ERR_NOT_FOUND);
    lilm_runs_close(db);
    LT_EQ_INT(t, count_rows(path, "SELECT count(*) FROM metrics"), 0);
    LT_EQ_INT(t, count_rows(path, "SELECT count(*) FROM sweeps"), 0);
    LT_EQ_INT(t, count_rows(path, "PRAGMA user_version"), LILM_RUNS_SCHEMA_VERSION);
    char mode[16] = "";
    {
        sqlite3 *raw = NULL;
        sqlite3_stmt *st = NULL;
        if (sqlite3_open(path, &raw) == SQLITE_OK && sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            snprintf(mode, sizeof mode, "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        sqlite3_close(raw);
    }
    LT_TRUE(t, strcmp(mode, "wal") == 0);
}

static void test_status_names(lilm_test *t)
{
    lilm_run_status s;
    for (int i = 0; i < LILM_RUN_STATUS_COUNT; i++) {
        LT_OK(t, lilm_run_status_parse(lilm_run_status_name((lilm_run_status)i), &s));
        LT_EQ_INT(t, s, i);
    }
    LT_STATUS(t, lilm_run_status_parse("finished", &s), LILM_ERR_ARG);
}

/* A version-1 db (written by an older lilm) is migrated, its rows kept. */
static void test_migration(lilm_test *t)
{
    char dir[256], path[512];
    lilm_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/old.db", dir);
    sqlite3 *raw = NULL;
    LT_TRUE(t, sqlite3_open(path, &raw) == SQLITE_OK);
    const char *v1 =
        "CREATE TABLE runs ( id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, run_dir TEXT,"
        " status TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running','done','failed','killed')),"
        " model_type TEXT, dataset TEXT, tokenizer TEXT, device TEXT, started_at TEXT, finished_at TEXT, git_commit TEXT,"
        " config_yaml TEXT, config_sha256 TEXT, params INTEGER, steps INTEGER, tokens INTEGER,"
        " budget_minutes REAL, val_loss REAL, val_bpb REAL, updated_at TEXT);"
        "INSERT INTO runs(name, status, model_type, dataset, params, val_bpb) VALUES ('old-run', 'done', 'latent', 'babylm', 10600000, 1.32);"
        "PRAGMA user_version = 1;";
    LT_TRUE(t, sqlite3_exec(raw, v1, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(raw);

    lilm_runs_db *db = NULL;
    LT_OK(t, lilm_runs_open(&db, path));
    if (!db) return;
    lilm_run_record got;
    LT_OK(t, lilm_runs_get(db, "old-run", &got));
    LT_TRUE(t, strcmp(got.run.model_type, "latent") == 0);
    LT_NEAR(t, got.run.val_bpb, 1.32, 1e-12);
    LT_EQ_INT(t, got.run.vocab_size, -1);   /* a v2 column, unknown for the old row */
    lilm_run_record_free(&got);
    lilm_run_record rec;
    fake_record(&rec, "new-run", 3);
    LT_OK(t, lilm_runs_upsert(db, &rec));
    lilm_run_record_free(&rec);
    lilm_runs_close(db);
    LT_EQ_INT(t, count_rows(path, "PRAGMA user_version"), LILM_RUNS_SCHEMA_VERSION);
    LT_EQ_INT(t, count_rows(path, "SELECT count(*) FROM runs"), 2);

    /* a db from a newer lilm is refused, not modified */
    LT_TRUE(t, sqlite3_open(path, &raw) == SQLITE_OK);
    sqlite3_exec(raw, "PRAGMA user_version = 99", NULL, NULL, NULL);
    sqlite3_close(raw);
    LT_STATUS(t, lilm_runs_open(&db, path), LILM_ERR_VERSION);
    LT_TRUE(t, strstr(lilm_last_error(), "newer") != NULL);
    LT_EQ_INT(t, count_rows(path, "PRAGMA user_version"), 99);
}

static void test_corrupt(lilm_test *t)
{
    char dir[256], path[512];
    lilm_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/runs.db", dir);
    char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (char)('a' + i % 26);
    LT_OK(t, lilm_write_atomic(path, junk, sizeof junk));
    lilm_runs_db *db = NULL;
    LT_STATUS(t, lilm_runs_open(&db, path), LILM_ERR_FORMAT);
    LT_TRUE(t, db == NULL);
    LT_TRUE(t, strstr(lilm_last_error(), "not a SQLite database") != NULL);
    LT_TRUE(t, strstr(lilm_last_error(), "HINT") != NULL);

    /* a real db with a damaged page: first a good db, then garbage in its middle */
    snprintf(path, sizeof path, "%s/damaged.db", dir);
    LT_OK(t, lilm_runs_open(&db, path));
    if (!db) return;
    for (int i = 0; i < 30; i++) {
        lilm_run_record rec;
        char name[32];
        snprintf(name, sizeof name, "run%d", i);
        fake_record(&rec, name, 200);
        LT_OK(t, lilm_runs_upsert(db, &rec));
        lilm_run_record_free(&rec);
    }
    lilm_runs_close(db);
    {   /* checkpoint the WAL into the main file, then damage it */
        sqlite3 *raw = NULL;
        sqlite3_open(path, &raw);
        sqlite3_exec(raw, "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;", NULL, NULL, NULL);
        sqlite3_close(raw);
    }
    FILE *f = fopen(path, "r+b");
    LT_TRUE(t, f != NULL);
    if (!f) return;
    fseek(f, 4096 * 3, SEEK_SET);
    for (int i = 0; i < 4096 * 4; i++) fputc(0xA5, f);
    fclose(f);
    lilm_status s = lilm_runs_open(&db, path);
    lilm_run_list l = {0};
    if (s == LILM_OK) {   /* the header page survived: the damage shows up when reading */
        s = lilm_runs_list(db, &l);
        if (s == LILM_OK) {
            for (size_t i = 0; i < l.n && s == LILM_OK; i++) {
                lilm_run_record rec;
                s = lilm_runs_get(db, l.runs[i].name, &rec);
                if (s == LILM_OK) lilm_run_record_free(&rec);
            }
        }
        lilm_run_list_free(&l);
        lilm_runs_close(db);
    }
    LT_STATUS(t, s, LILM_ERR_FORMAT);
    LT_TRUE(t, strstr(lilm_last_error(), "corrupt") != NULL);
}

/* A damaged page that listing runs never reads (a metrics b-tree page) is
 * still found when the db is opened: it is refused before any write. */
static void test_corrupt_page_found_at_open(lilm_test *t)
{
    char dir[256], path[512];
    lilm_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/runs.db", dir);
    lilm_runs_db *db = NULL;
    LT_OK(t, lilm_runs_open(&db, path));
    if (!db) return;
    for (int i = 0; i < 20; i++) {
        lilm_run_record rec;
        char name[32];
        snprintf(name, sizeof name, "run%d", i);
        fake_record(&rec, name, 300);
        LT_OK(t, lilm_runs_upsert(db, &rec));
        lilm_run_record_free(&rec);
    }
    lilm_runs_close(db);
    sqlite3 *raw = NULL;
    int page_size = 0, root = 0;
    sqlite3_open(path, &raw);
    sqlite3_exec(raw, "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;", NULL, NULL, NULL);
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(raw, "SELECT (SELECT page_size FROM pragma_page_size), rootpage FROM sqlite_master "
                            "WHERE name = 'metrics'", -1, &st, NULL);
    if (sqlite3_step(st) == SQLITE_ROW) {
        page_size = sqlite3_column_int(st, 0);
        root = sqlite3_column_int(st, 1);
    }
    sqlite3_finalize(st);
    sqlite3_close(raw);
    LT_TRUE(t, page_size > 0 && root > 1);
    if (page_size <= 0 || root <= 1) return;
    FILE *f = fopen(path, "r+b");
    LT_TRUE(t, f != NULL);
    if (!f) return;
    /* the b-tree page header's cell count and first-cell offset: garbage */
    fseek(f, (long)(root - 1) * page_size + 3, SEEK_SET);
    for (int i = 0; i < 4; i++) fputc(0xFF, f);
    fclose(f);
    LT_STATUS(t, lilm_runs_open(&db, path), LILM_ERR_FORMAT);
    LT_TRUE(t, db == NULL);
    LT_TRUE(t, strstr(lilm_last_error(), "corrupt") != NULL);
    LT_TRUE(t, strstr(lilm_last_error(), "lilm runs import") != NULL);
    if (db) lilm_runs_close(db);
}

/* run.json left "running" by a run that died on an error becomes "failed",
 * also when no temp file can be created beside it (a full disk). */
static void test_mark_failed(lilm_test *t)
{
    char dir[256], path[400], tmp[500];
    lilm_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/run.json", dir);
    const char *running = "{\"name\": \"r\", \"note\": \"status: running\", \"status\" :  \"running\", \"steps\": 3}\n";
    for (int in_place = 0; in_place < 2; in_place++) {
        LT_OK(t, lilm_write_atomic(path, running, strlen(running)));
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
        if (in_place) LT_TRUE(t, mkdir(tmp, 0755) == 0); /* the atomic rewrite cannot create its temp */
        LT_OK(t, lilm_rundir_mark_failed(dir));
        if (in_place) rmdir(tmp);
        lilm_json *j = NULL;
        LT_OK(t, lilm_json_parse_file(&j, path));
        const char *st = j ? lilm_json_get_str(j, "status") : NULL;
        LT_CHECK(t, st && strcmp(st, "failed") == 0, "in_place %d: status %s", in_place, st ? st : "(none)");
        const char *note = j ? lilm_json_get_str(j, "note") : NULL;
        LT_TRUE(t, note && strcmp(note, "status: running") == 0);
        lilm_json_free(j);
    }
    /* a finished run is left alone; no run.json is nothing to do */
    const char *done = "{\"status\": \"done\"}";
    LT_OK(t, lilm_write_atomic(path, done, strlen(done)));
    LT_OK(t, lilm_rundir_mark_failed(dir));
    char *text = NULL;
    size_t n = 0;
    LT_OK(t, lilm_read_file(path, &text, &n));
    LT_TRUE(t, text && strcmp(text, done) == 0);
    free(text);
    LT_OK(t, lilm_rundir_mark_failed("/nonexistent/run"));
}

static void test_locked(lilm_test *t)
{
    char dir[256], path[512];
    lilm_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/runs.db", dir);
    lilm_runs_db *db = NULL;
    LT_OK(t, lilm_runs_open(&db, path));
    if (!db) return;
    lilm_run_record rec;
    fake_record(&rec, "r", 5);
    LT_OK(t, lilm_runs_upsert(db, &rec));
    lilm_runs_close(db);

    /* another writer holds the lock: reads go on, a write waits, then fails clearly */
    sqlite3 *other = NULL;
    LT_TRUE(t, sqlite3_open(path, &other) == SQLITE_OK);
    LT_TRUE(t, sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
    LT_OK(t, lilm_runs_open_ex(&db, path, 200));
    if (db) {
        lilm_run_list l;
        LT_OK(t, lilm_runs_list(db, &l));
        LT_EQ_INT(t, l.n, 1);
        lilm_run_list_free(&l);
        LT_STATUS(t, lilm_runs_upsert(db, &rec), LILM_ERR_IO);
        LT_TRUE(t, strstr(lilm_last_error(), "locked by another process") != NULL);
        LT_STATUS(t, lilm_runs_set_status(db, "r", LILM_RUN_DONE), LILM_ERR_IO);
        lilm_runs_close(db);
    }
    sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);

    /* an exclusive-mode holder blocks even opening: clear message after the timeout */
    sqlite3_exec(other, "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE; UPDATE runs SET device = 'x'; COMMIT;", NULL, NULL, NULL);
    LT_STATUS(t, lilm_runs_open_ex(&db, path, 200), LILM_ERR_IO);
    LT_TRUE(t, strstr(lilm_last_error(), "locked") != NULL);
    sqlite3_close(other);
    /* and once it is gone, nothing was lost */
    LT_OK(t, lilm_runs_open_ex(&db, path, 2000));
    if (db) {
        LT_OK(t, lilm_runs_upsert(db, &rec));
        lilm_runs_close(db);
    }
    lilm_run_record_free(&rec);
}

/* N processes create the same db at once and each registers, updates and
 * finishes M runs (half through run dirs, half directly); every row must be
 * there with its final status and all its points. */
static void test_concurrent(lilm_test *t)
{
    enum { N_PROC = 8, N_RUNS = 6, N_POINTS = 40 };
    char dir[256], path[512];
    lilm_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/runs.db", dir);
    pid_t pids[N_PROC];
    for (int p = 0; p < N_PROC; p++) {
        pids[p] = fork();
        if (pids[p] == 0) {
            int bad = 0;
            lilm_runs_db *db = NULL;
            if (lilm_runs_open(&db, path) != LILM_OK) {
                fprintf(stderr, "child %d: open: %s\n", p, lilm_last_error());
                _exit(1);
            }
            for (int r = 0; r < N_RUNS; r++) {
                char name[64];
                snprintf(name, sizeof name, "p%d-r%d", p, r);
                if (r % 2) {   /* through a run dir, as the trainer does */
                    char rd[700], text[512];
                    snprintf(rd, sizeof rd, "%s/%s", dir, name);
                    lilm_mkdirs(rd);
                    snprintf(text, sizeof text, "{\"name\": \"%s\", \"status\": \"running\", \"params\": %d, \"dataset\": \"babylm\"}", name, 1000 + p);
                    write_file(rd, "run.json", text);
                    FILE *f = NULL;
                    char mp[800];
                    snprintf(mp, sizeof mp, "%s/metrics.jsonl", rd);
                    f = fopen(mp, "w");
                    for (int i = 0; f && i < N_POINTS; i++) fprintf(f, "{\"kind\": \"train\", \"step\": %d, \"loss\": %g}\n", i, 5.0 - i * 0.01);
                    if (f) fclose(f);
                    bad |= lilm_runs_sync_dir(db, rd, NULL) != LILM_OK;
                } else {
                    lilm_run_record rec;
                    fake_record(&rec, name, N_POINTS);
                    bad |= lilm_runs_upsert(db, &rec) != LILM_OK;
                    lilm_run_record_free(&rec);
                }
                bad |= lilm_runs_set_status(db, name, LILM_RUN_DONE) != LILM_OK;
                if (bad) {
                    fprintf(stderr, "child %d run %d: %s\n", p, r, lilm_last_error());
                    break;
                }
            }
            lilm_runs_close(db);
            _exit(bad);
        }
    }
    int all_ok = 1;
    for (int p = 0; p < N_PROC; p++) {
        int st = 0;
        waitpid(pids[p], &st, 0);
        all_ok &= WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    LT_TRUE(t, all_ok);
    LT_EQ_INT(t, count_rows(path, "SELECT count(*) FROM runs"), N_PROC * N_RUNS);
    LT_EQ_INT(t, count_rows(path, "SELECT count(*) FROM runs WHERE status = 'done' AND finished_at IS NOT NULL"), N_PROC * N_RUNS);
    LT_EQ_INT(t, count_rows(path, "SELECT count(*) FROM metrics"), N_PROC * N_RUNS * N_POINTS);
    LT_EQ_INT(t, count_rows(path, "SELECT count(DISTINCT run_id) FROM metrics"), N_PROC * N_RUNS);
    LT_EQ_INT(t, count_rows(path, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check = 'ok'"), 1);
}

static void test_rundir(lilm_test *t)
{
    char dir[256], rd[600];
    lilm_test_tmpdir(dir, sizeof dir);
    snprintf(rd, sizeof rd, "%s/run-a", dir);
    lilm_mkdirs(rd);
    lilm_run_record rec;

    /* no run.json: not a run dir */
    LT_STATUS(t, lilm_rundir_read(rd, &rec), LILM_ERR_NOT_FOUND);
    lilm_run_record_free(&rec);
    LT_TRUE(t, strstr(lilm_last_error(), "run.json") != NULL);
    /* malformed run.json: the error names the line */
    write_file(rd, "run.json", "{\"name\": \"a\",\n \"params\": 12,,\n}");
    LT_STATUS(t, lilm_rundir_read(rd, &rec), LILM_ERR_FORMAT);
    lilm_run_record_free(&rec);
    LT_TRUE(t, strstr(lilm_last_error(), "run.json:2:") != NULL);
    write_file(rd, "run.json", "[1, 2]");
    LT_STATUS(t, lilm_rundir_read(rd, &rec), LILM_ERR_FORMAT);
    lilm_run_record_free(&rec);

    /* a complete, well-formed dir */
    write_file(rd, "run.json",
               "{\"name\": \"a\", \"status\": \"done\", \"model_type\": \"latent\", \"params\": 10600000,"
               " \"dataset\": \"datasets/babylm\", \"val_bpb\": null, \"val_loss\": 2.5, \"steps\": 3, \"budget_minutes\": 30,"
               " \"started_at\": \"2026-11-26T10:00:00Z\", \"git_commit\": \"abc\", \"layers\": 7}");
    write_file(rd, "config.yaml", "model:\n  vocab_size: 8000\n  n_layers: 5\n  d_model: 288\ntrain:\n  lr: 6e-3\n");
    write_file(rd, "metrics.jsonl",
               "{\"kind\": \"train\", \"step\": 1, \"loss\": 9.0, \"lr\": 1e-3, \"tokens\": 100}\n"
               "\n"
               "{\"kind\": \"train\", \"step\": 2, \"loss\": 8.0}\n"
               "{\"kind\": \"val\", \"step\": 2, \"val_loss\": 8.5, \"val_bpb\": 2.1}\n"
               "{\"kind\": \"val\", \"step\": 2, \"val_loss\": 8.6, \"val_bpb\": 2.2, \"val_full\": true}\n");
    write_file(rd, "autosize_lr.jsonl", "{\"lr\": 0.006, \"val_loss\": 3.1, \"steps\": 60}\n");
    write_file(rd, "autosize_depth.jsonl", "{\"layers\": 5, \"params\": 7300000, \"tokens_per_param\": 80, \"ok\": true}\n");
    write_file(rd, "samples.txt", "### the dog \nthe dog ran.\n");
    write_file(rd, "eval.json", "{\"loss\": 2.5, \"bpb\": 0.57, \"perplexity\": 12.2, \"tokens\": 10, \"bytes\": 40}");
    LT_OK(t, lilm_rundir_read(rd, &rec));
    LT_TRUE(t, strcmp(rec.run.name, "a") == 0);
    LT_EQ_INT(t, rec.run.status, LILM_RUN_DONE);
    LT_TRUE(t, strcmp(rec.run.model, "latent") == 0);   /* no "model": the type labels it */
    LT_EQ_INT(t, rec.run.params, 10600000);
    LT_NEAR(t, rec.run.val_bpb, 0.57, 1e-12);   /* null in run.json: taken from eval.json */
    LT_NEAR(t, rec.run.val_loss, 2.5, 1e-12);
    LT_EQ_INT(t, rec.run.vocab_size, 8000);
    LT_EQ_INT(t, rec.run.n_layers, 7);   /* run.json (after autosize) wins over config.yaml */
    LT_EQ_INT(t, rec.run.d_model, 288);
    LT_EQ_INT(t, strlen(rec.run.config_sha256), 64);
    LT_EQ_INT(t, rec.n_metrics, 4);
    LT_EQ_INT(t, rec.n_sweeps, 2);
    if (rec.n_metrics == 4) {
        LT_EQ_INT(t, rec.metrics[3].kind, LILM_METRIC_VAL_FULL);
        LT_EQ_INT(t, rec.metrics[2].kind, LILM_METRIC_VAL);
        LT_NEAR(t, rec.metrics[2].val_bpb, 2.1, 1e-12);
        LT_EQ_INT(t, rec.metrics[0].tokens, 100);
    }
    if (rec.n_sweeps == 2) LT_TRUE(t, rec.sweeps[1].kind == LILM_SWEEP_DEPTH && rec.sweeps[1].ok == 1);
    LT_TRUE(t, rec.run.samples && strstr(rec.run.samples, "ran"));
    LT_TRUE(t, rec.run.warnings == NULL);
    lilm_run_record_free(&rec);

    /* malformed pieces: warnings, and everything else still read */
    write_file(rd, "run.json", "{\"status\": \"exploded\", \"params\": \"many\", \"val_bpb\": 1.5, \"steps\": 2.5}");
    write_file(rd, "metrics.jsonl", "{\"kind\": \"train\", \"step\": 1, \"loss\": 9.0}\n{oops\n42\n{\"loss\": 1}\n{\"kind\": \"train\", \"step\": 3, \"loss\": 7.0}\n{\"kind\": \"tr");
    write_file(rd, "config.yaml", "model: {vocab_size: 8000\n");
    write_file(rd, "samples.txt", "### p\nbad \xC3\x28 byte\n");
    write_file(rd, "eval.json", "{\"bpb\": }");
    LT_OK(t, lilm_rundir_read(rd, &rec));
    const char *w = rec.run.warnings ? rec.run.warnings : "";
    LT_TRUE(t, strcmp(rec.run.name, "run-a") == 0);   /* no name: the directory's */
    LT_TRUE(t, strstr(w, "no \"name\"") != NULL);
    LT_TRUE(t, strstr(w, "unknown status \"exploded\"") != NULL);
    LT_TRUE(t, strstr(w, "\"params\" should be an integer") != NULL);
    LT_TRUE(t, strstr(w, "\"steps\" should be an integer") != NULL);
    LT_TRUE(t, strstr(w, "metrics.jsonl:2:") != NULL);
    LT_TRUE(t, strstr(w, "metrics.jsonl:3: not a JSON object") != NULL);
    LT_TRUE(t, strstr(w, "metrics.jsonl:4: no \"step\"") != NULL);
    LT_TRUE(t, strstr(w, "metrics.jsonl:6:") != NULL);
    LT_TRUE(t, strstr(w, "config.yaml:") != NULL);
    LT_TRUE(t, strstr(w, "samples.txt: 1 invalid UTF-8") != NULL);
    LT_TRUE(t, strstr(w, "eval.json:1:") != NULL);
    LT_EQ_INT(t, rec.n_metrics, 2);
    LT_EQ_INT(t, rec.run.params, -1);
    LT_NEAR(t, rec.run.val_bpb, 1.5, 1e-12);
    LT_TRUE(t, rec.run.samples && strstr(rec.run.samples, "bad \xEF\xBF\xBD( byte"));
    lilm_run_record_free(&rec);

    /* sync_dir stores the warnings with the row and hands them back */
    char path[700];
    snprintf(path, sizeof path, "%s/runs.db", dir);
    lilm_runs_db *db = NULL;
    LT_OK(t, lilm_runs_open(&db, path));
    if (!db) return;
    char *warnings = NULL;
    LT_OK(t, lilm_runs_sync_dir(db, rd, &warnings));
    LT_TRUE(t, warnings && strstr(warnings, "metrics.jsonl:2:"));
    free(warnings);
    lilm_run_record got;
    LT_OK(t, lilm_runs_get(db, "run-a", &got));
    LT_TRUE(t, got.run.warnings && strstr(got.run.warnings, "exploded"));
    LT_TRUE(t, strcmp(got.run.run_dir, rd) == 0);
    lilm_run_record_free(&got);
    LT_STATUS(t, lilm_runs_sync_dir(db, dir, &warnings), LILM_ERR_NOT_FOUND);
    lilm_runs_close(db);
}

static void test_open_existing(lilm_test *t)
{
    char dir[256], path[512];
    lilm_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/none/runs.db", dir);
    lilm_runs_db *db = NULL;
    LT_STATUS(t, lilm_runs_open_existing(&db, path), LILM_ERR_NOT_FOUND);
    LT_TRUE(t, strstr(lilm_last_error(), "HINT") != NULL);
    LT_TRUE(t, !lilm_path_exists(path));
    LT_OK(t, lilm_runs_open(&db, path));   /* the writer's open creates it */
    lilm_runs_close(db);
    LT_OK(t, lilm_runs_open_existing(&db, path));
    lilm_runs_close(db);
}

static void test_default_path(lilm_test *t)
{
    unsetenv("LILM_RUNS_DB");
    LT_TRUE(t, strcmp(lilm_runs_default_path(NULL), "runs/runs.db") == 0);
    setenv("LILM_RUNS_DB", "/tmp/x.db", 1);
    LT_TRUE(t, strcmp(lilm_runs_default_path(NULL), "/tmp/x.db") == 0);
    LT_TRUE(t, strcmp(lilm_runs_default_path("flag.db"), "flag.db") == 0);
    unsetenv("LILM_RUNS_DB");
}

static const lilm_test_case cases[] = {
    {"roundtrip", test_roundtrip},
    {"status_names", test_status_names},
    {"migration", test_migration},
    {"corrupt", test_corrupt},
    {"corrupt_page_found_at_open", test_corrupt_page_found_at_open},
    {"mark_failed", test_mark_failed},
    {"locked", test_locked},
    {"concurrent", test_concurrent},
    {"rundir", test_rundir},
    {"open_existing", test_open_existing},
    {"default_path", test_default_path},
};
LILM_TEST_MAIN(cases)
