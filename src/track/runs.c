/*
 * runs.c: runs.db on SQLite: open + migrate, upsert, status, list, get, delete.
 *
 * The run columns are described once, in run_cols[] (name, kind, offset in
 * lilm_run); the INSERT/UPSERT and SELECT statements and the row readers are
 * generated from that table, so a new column is one struct field, one table
 * row and one migration step.
 *
 * Schema history (PRAGMA user_version), each step applied in order inside one
 * BEGIN IMMEDIATE transaction, so a crash or a second process mid-migration
 * leaves the db at the old version or the new one:
 *   1: runs (the core facts of a run)
 *   2: runs gains model, lilm_version, vocab_size, n_layers, d_model,
 *      elapsed_s, samples, eval_json, warnings; new tables metrics and sweeps.
 *
 * Integrity: every open runs PRAGMA quick_check and refuses a damaged db
 * (LILM_ERR_FORMAT with a recovery hint) before anything is written to it.
 *
 * Concurrency invariants: WAL journal, busy_timeout on every connection, and
 * every write is a single BEGIN IMMEDIATE ... COMMIT (the write lock is taken
 * up front, so no transaction ever has to upgrade a read lock and fail).
 */
#include "track/runs.h"

#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/fileio.h"
#include "track/runs_impl.h"
#include "track/strbuf.h"

struct lilm_runs_db {
    sqlite3 *db;
    char path[1024];
    int busy_ms;
};

/* ---- status names ---- */

static const char *const status_names[LILM_RUN_STATUS_COUNT] = {
    [LILM_RUN_RUNNING] = "running",
    [LILM_RUN_DONE] = "done",
    [LILM_RUN_FAILED] = "failed",
    [LILM_RUN_KILLED] = "killed",
};

const char *lilm_run_status_name(lilm_run_status s)
{
    if ((int)s < 0 || s >= LILM_RUN_STATUS_COUNT) return "unknown";
    return status_names[s];
}

lilm_status lilm_run_status_parse(const char *s, lilm_run_status *out)
{
    for (int i = 0; i < LILM_RUN_STATUS_COUNT; i++)
        if (s && strcmp(s, status_names[i]) == 0) {
            *out = (lilm_run_status)i;
            return LILM_OK;
        }
    return lilm_errorf(LILM_ERR_ARG, "unknown run status '%s' (expected running, done, failed or killed)", s ? s : "(null)");
}

/* ---- run structs ---- */

void lilm_run_init(lilm_run *r)
{
    memset(r, 0, sizeof *r);
    r->status = LILM_RUN_RUNNING;
    r->params = r->steps = r->tokens = -1;
    r->vocab_size = r->n_layers = r->d_model = -1;
    r->budget_minutes = r->elapsed_s = r->val_loss = r->val_bpb = NAN;
}

static void lilm_run_free(lilm_run *r)
{
    free(r->config_yaml);
    free(r->samples);
    free(r->eval_json);
    free(r->warnings);
    r->config_yaml = r->samples = r->eval_json = r->warnings = NULL;
}

void lilm_run_list_free(lilm_run_list *l)
{
    for (size_t i = 0; i < l->n; i++) lilm_run_free(&l->runs[i]);
    free(l->runs);
    l->runs = NULL;
    l->n = 0;
}

void lilm_run_record_free(lilm_run_record *rec)
{
    lilm_run_free(&rec->run);
    free(rec->metrics);
    free(rec->sweeps);
    rec->metrics = NULL;
    rec->sweeps = NULL;
    rec->n_metrics = rec->n_sweeps = 0;
}

/* ---- the column table ---- */

typedef enum col_kind { COL_TEXT, COL_INT, COL_REAL, COL_OWNED, COL_STATUS } col_kind;

typedef struct run_col {
    const char *name;   /* SQL column */
    col_kind kind;
    size_t offset;      /* in lilm_run */
    size_t size;        /* COL_TEXT: the char array's size */
} run_col;

#define TEXT_COL(f) {#f, COL_TEXT, offsetof(lilm_run, f), sizeof(((lilm_run *)0)->f)}
#define INT_COL(f) {#f, COL_INT, offsetof(lilm_run, f), 0}
#define REAL_COL(f) {#f, COL_REAL, offsetof(lilm_run, f), 0}
#define OWNED_COL(f) {#f, COL_OWNED, offsetof(lilm_run, f), 0}

/* "name" must stay first: the upsert's conflict target. */
static const run_col run_cols[] = {
    TEXT_COL(name),
    TEXT_COL(run_dir),
    {"status", COL_STATUS, offsetof(lilm_run, status), 0},
    TEXT_COL(model),
    TEXT_COL(model_type),
    TEXT_COL(dataset),
    TEXT_COL(tokenizer),
    TEXT_COL(device),
    TEXT_COL(started_at),
    TEXT_COL(finished_at),
    TEXT_COL(git_commit),
    TEXT_COL(lilm_version),
    TEXT_COL(config_sha256),
    INT_COL(params),
    INT_COL(steps),
    INT_COL(tokens),
    INT_COL(vocab_size),
    INT_COL(n_layers),
    INT_COL(d_model),
    REAL_COL(budget_minutes),
    REAL_COL(elapsed_s),
    REAL_COL(val_loss),
    REAL_COL(val_bpb),
    OWNED_COL(config_yaml),
    OWNED_COL(samples),
    OWNED_COL(eval_json),
    OWNED_COL(warnings),
};
#define N_RUN_COLS (sizeof run_cols / sizeof run_cols[0])

/* ---- schema ---- */

static const char *const migrations[LILM_RUNS_SCHEMA_VERSION] = {
    /* 0 -> 1 */
    "CREATE TABLE runs ("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE,"
    " run_dir TEXT,"
    " status TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running','done','failed','killed')),"
    " model_type TEXT, dataset TEXT, tokenizer TEXT, device TEXT,"
    " started_at TEXT, finished_at TEXT, git_commit TEXT,"
    " config_yaml TEXT, config_sha256 TEXT,"
    " params INTEGER, steps INTEGER, tokens INTEGER,"
    " budget_minutes REAL, val_loss REAL, val_bpb REAL,"
    " updated_at TEXT);",
    /* 1 -> 2 */
    "ALTER TABLE runs ADD COLUMN model TEXT;"
    "ALTER TABLE runs ADD COLUMN lilm_version TEXT;"
    "ALTER TABLE runs ADD COLUMN vocab_size INTEGER;"
    "ALTER TABLE runs ADD COLUMN n_layers INTEGER;"
    "ALTER TABLE runs ADD COLUMN d_model INTEGER;"
    "ALTER TABLE runs ADD COLUMN elapsed_s REAL;"
    "ALTER TABLE runs ADD COLUMN samples TEXT;"
    "ALTER TABLE runs ADD COLUMN eval_json TEXT;"
    "ALTER TABLE runs ADD COLUMN warnings TEXT;"
    "CREATE TABLE metrics ("
    " run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " seq INTEGER NOT NULL, kind INTEGER NOT NULL, step INTEGER, tokens INTEGER,"
    " lr REAL, loss REAL, grad_norm REAL, tokens_per_s REAL, elapsed_s REAL,"
    " val_loss REAL, val_bpb REAL, PRIMARY KEY (run_id, seq));"
    "CREATE TABLE sweeps ("
    " run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " seq INTEGER NOT NULL, kind INTEGER NOT NULL, x REAL, y REAL, aux REAL, ok INTEGER,"
    " PRIMARY KEY (run_id, seq));",
};

/* ---- errors ---- */

/* Turns a SQLite failure into a lilm status with a message naming the db and
 * saying what to do. */
static lilm_status db_fail(const lilm_runs_db *db, int rc, const char *doing)
{
    int code = rc & 0xff;
    const char *msg = db->db ? sqlite3_errmsg(db->db) : sqlite3_errstr(rc);
    switch (code) {
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
        return lilm_errorf(LILM_ERR_FORMAT,
                           "runs db %s is not a SQLite database or is corrupt (%s, while %s)\n"
                           "HINT: move it aside (mv %s %s.bad) and rebuild it from the run dirs: lilm runs import runs/*/",
                           db->path, msg, doing, db->path, db->path);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return lilm_errorf(LILM_ERR_IO,
                           "runs db %s is locked by another process (waited %d ms while %s)\n"
                           "HINT: wait for the other lilm process to finish, or find it with `fuser %s`",
                           db->path, db->busy_ms, doing, db->path);
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return lilm_errorf(LILM_ERR_IO,
                           "cannot open runs db %s for writing (%s, while %s)\n"
                           "HINT: check the permissions of the file and its directory, or pick another with --db PATH or LILM_RUNS_DB",
                           db->path, msg, doing);
    case SQLITE_FULL:
        return lilm_errorf(LILM_ERR_IO, "runs db %s: disk full while %s\nHINT: free some space and retry", db->path, doing);
    default:
        return lilm_errorf(LILM_ERR_IO, "runs db %s: %s (while %s)", db->path, msg, doing);
    }
}

sqlite3 *lilm__runs_sqlite(lilm_runs_db *db) { return db->db; }

lilm_status lilm__runs_fail(const lilm_runs_db *db, int rc, const char *doing) { return db_fail(db, rc, doing); }

static lilm_status exec(lilm_runs_db *db, const char *sql, const char *doing)
{
    int rc = sqlite3_exec(db->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? LILM_OK : db_fail(db, rc, doing);
}

static lilm_status begin(lilm_runs_db *db) { return exec(db, "BEGIN IMMEDIATE", "starting a write transaction"); }

static void rollback(lilm_runs_db *db) { sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL); }

static lilm_status commit(lilm_runs_db *db)
{
    lilm_status s = exec(db, "COMMIT", "committing");
    if (s != LILM_OK) rollback(db);
    return s;
}

static lilm_status prepare(lilm_runs_db *db, const char *sql, sqlite3_stmt **st)
{
    int rc = sqlite3_prepare_v2(db->db, sql, -1, st, NULL);
    return rc == SQLITE_OK ? LILM_OK : db_fail(db, rc, "preparing a query");
}

/* ---- open / migrate ---- */

static lilm_status read_user_version(lilm_runs_db *db, int *version)
{
    sqlite3_stmt *st = NULL;
    LILM_TRY(prepare(db, "PRAGMA user_version", &st));
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        return db_fail(db, rc, "reading the schema version");
    }
    *version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return LILM_OK;
}

static lilm_status migrate(lilm_runs_db *db)
{
    int version = 0;
    LILM_TRY(read_user_version(db, &version));
    if (version == LILM_RUNS_SCHEMA_VERSION) return LILM_OK;
    LILM_TRY(begin(db));
    lilm_status s = read_user_version(db, &version);   /* again, now that we hold the write lock */
    if (s == LILM_OK && version > LILM_RUNS_SCHEMA_VERSION)
        s = lilm_errorf(LILM_ERR_VERSION,
                        "runs db %s has schema version %d, newer than this lilm understands (%d)\n"
                        "HINT: use a newer lilm, or point --db / LILM_RUNS_DB at another file",
                        db->path, version, LILM_RUNS_SCHEMA_VERSION);
    else if (s == LILM_OK && version < 0)
        s = lilm_errorf(LILM_ERR_FORMAT, "runs db %s has a negative schema version %d\nHINT: it was not written by lilm; move it aside",
                        db->path, version);
    for (int v = version; s == LILM_OK && v < LILM_RUNS_SCHEMA_VERSION; v++)
        s = exec(db, migrations[v], "migrating the schema");
    if (s == LILM_OK) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", LILM_RUNS_SCHEMA_VERSION);
        s = exec(db, sql, "setting the schema version");
    }
    if (s != LILM_OK) {
        rollback(db);
        return s;
    }
    return commit(db);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Sets WAL mode (a no-op once the file is in WAL mode). Switching needs an
 * exclusive lock, and SQLite answers SQLITE_BUSY at once, without calling
 * the busy handler, when other processes have the new file open (they may be
 * switching it too). So this step retries by itself, with short sleeps, until
 * busy_ms has passed. */
static lilm_status set_wal(lilm_runs_db *db)
{
    double start = now_ms();
    for (unsigned attempt = 0;; attempt++) {
        sqlite3_stmt *st = NULL;
        LILM_TRY(prepare(db, "PRAGMA journal_mode=WAL", &st));
        int rc = sqlite3_step(st);
        const char *mode = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
        int is_wal = mode && strcmp(mode, "wal") == 0;
        sqlite3_finalize(st);
        if (rc == SQLITE_ROW && is_wal) return LILM_OK;
        if (rc == SQLITE_ROW)
            return lilm_errorf(LILM_ERR_IO, "runs db %s: cannot use WAL mode (is it on a network file system?)\n"
                               "HINT: keep runs.db on a local disk (--db PATH or LILM_RUNS_DB)", db->path);
        int code = rc & 0xff;
        if ((code != SQLITE_BUSY && code != SQLITE_LOCKED) || now_ms() - start >= db->busy_ms)
            return db_fail(db, rc, "switching to WAL mode");
        /* 2..20 ms, varied per process and attempt so that racing openers spread out */
        struct timespec nap = {0, (long)(2 + (attempt * 7 + (unsigned)getpid()) % 19) * 1000000L};
        nanosleep(&nap, NULL);
    }
}

/* PRAGMA quick_check: damaged pages (b-tree structure, page and cell
 * bounds, free lists) are found at open, before anything is written on top of
 * them. It reads every page, which for a runs.db (kilobytes to a few MB) is
 * milliseconds. */
static lilm_status check_integrity(lilm_runs_db *db)
{
    sqlite3_stmt *st = NULL;
    LILM_TRY(prepare(db, "PRAGMA quick_check(3)", &st));
    lilm_status s = LILM_OK;
    char problems[600] = "";
    size_t used = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *row = (const char *)sqlite3_column_text(st, 0);
        if (row && strcmp(row, "ok") == 0) break;
        if (used < sizeof problems - 1)
            used += (size_t)snprintf(problems + used, sizeof problems - used, "%s%s", used ? "; " : "", row ? row : "?");
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) s = db_fail(db, rc, "checking its integrity (PRAGMA quick_check)");
    else if (problems[0])
        s = lilm_errorf(LILM_ERR_FORMAT,
                        "runs db %s is corrupt: PRAGMA quick_check reports: %s\n"
                        "HINT: move it aside (mv %s %s.bad) and rebuild it from the run dirs: lilm runs import runs/*/ "
                        "(sqlite3 %s.bad .recover may save rows whose run dirs are gone)",
                        db->path, problems, db->path, db->path, db->path);
    sqlite3_finalize(st);
    return s;
}

lilm_status lilm_runs_open_ex(lilm_runs_db **out, const char *path, int busy_ms)
{
    *out = NULL;
    if (!path || !*path) return lilm_errorf(LILM_ERR_ARG, "empty runs db path");
    lilm_runs_db *db = calloc(1, sizeof *db);
    if (!db) return lilm_errorf(LILM_ERR_OOM, "out of memory opening %s", path);
    if (strlen(path) >= sizeof db->path) {
        free(db);
        return lilm_errorf(LILM_ERR_ARG, "runs db path too long: %s", path);
    }
    snprintf(db->path, sizeof db->path, "%s", path);
    db->busy_ms = busy_ms;

    /* the parent directory, so `runs/runs.db` works in a fresh checkout */
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    lilm_status s = LILM_OK;
    if (slash && slash != dir) {
        *slash = '\0';
        s = lilm_mkdirs(dir);
    }
    if (s == LILM_OK) {
        int rc = sqlite3_open_v2(path, &db->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
        if (rc != SQLITE_OK) s = db_fail(db, rc, "opening");
    }
    if (s == LILM_OK) {
        sqlite3_busy_timeout(db->db, busy_ms);
        sqlite3_extended_result_codes(db->db, 1);
        s = set_wal(db);
    }
    if (s == LILM_OK) s = exec(db, "PRAGMA foreign_keys = ON", "enabling foreign keys");
    if (s == LILM_OK) s = check_integrity(db);
    if (s == LILM_OK) s = migrate(db);
    if (s != LILM_OK) {
        lilm_runs_close(db);
        return s;
    }
    *out = db;
    return LILM_OK;
}

lilm_status lilm_runs_open(lilm_runs_db **out, const char *path)
{
    int busy_ms = LILM_RUNS_BUSY_MS;
    const char *env = getenv("LILM_RUNS_BUSY_MS");
    if (env && *env) {
        char *end = NULL;
        errno = 0;
        long v = strtol(env, &end, 10);
        if (errno || *end || v < 0 || v > 3600000)
            return lilm_errorf(LILM_ERR_ARG, "LILM_RUNS_BUSY_MS='%s' is not a number of milliseconds in [0, 3600000]", env);
        busy_ms = (int)v;
    }
    return lilm_runs_open_ex(out, path, busy_ms);
}

lilm_status lilm_runs_open_existing(lilm_runs_db **out, const char *path)
{
    *out = NULL;
    if (path && *path && !lilm_path_exists(path))
        return lilm_errorf(LILM_ERR_NOT_FOUND,
                           "no runs database at %s\n"
                           "HINT: train a run (lilm train), import run dirs (lilm runs import runs/*/), "
                           "or point --db / LILM_RUNS_DB at an existing runs.db", path);
    return lilm_runs_open(out, path);
}

void lilm_runs_close(lilm_runs_db *db)
{
    if (!db) return;
    if (db->db) sqlite3_close(db->db);
    free(db);
}

const char *lilm_runs_path(const lilm_runs_db *db) { return db->path; }

const char *lilm_runs_default_path(const char *flag)
{
    if (flag && *flag) return flag;
    const char *env = getenv("LILM_RUNS_DB");
    if (env && *env) return env;
    return "runs/runs.db";
}

/* ---- binding and reading through the column table ---- */

static int bind_col(sqlite3_stmt *st, int idx, const lilm_run *r, const run_col *c)
{
    const char *base = (const char *)r + c->offset;
    switch (c->kind) {
    case COL_TEXT:
        return base[0] ? sqlite3_bind_text(st, idx, base, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, idx);
    case COL_OWNED: {
        const char *s = *(char *const *)(const void *)base;
        return s ? sqlite3_bind_text(st, idx, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, idx);
    }
    case COL_INT: {
        int64_t v;
        memcpy(&v, base, sizeof v);
        return v >= 0 ? sqlite3_bind_int64(st, idx, v) : sqlite3_bind_null(st, idx);
    }
    case COL_REAL: {
        double v;
        memcpy(&v, base, sizeof v);
        return isfinite(v) ? sqlite3_bind_double(st, idx, v) : sqlite3_bind_null(st, idx);
    }
    case COL_STATUS:
        return sqlite3_bind_text(st, idx, lilm_run_status_name(r->status), -1, SQLITE_STATIC);
    }
    return SQLITE_MISUSE;
}

/* Fills one column of r from result column idx. 0 on allocation failure. */
static int read_col(sqlite3_stmt *st, int idx, lilm_run *r, const run_col *c)
{
    char *base = (char *)r + c->offset;
    int null = sqlite3_column_type(st, idx) == SQLITE_NULL;
    switch (c->kind) {
    case COL_TEXT: {
        const char *s = null ? "" : (const char *)sqlite3_column_text(st, idx);
        snprintf(base, c->size, "%s", s ? s : "");
        return 1;
    }
    case COL_OWNED: {
        char *copy = NULL;
        if (!null) {
            const char *s = (const char *)sqlite3_column_text(st, idx);
            copy = strdup(s ? s : "");
            if (!copy) return 0;
        }
        memcpy(base, &copy, sizeof copy);
        return 1;
    }
    case COL_INT: {
        int64_t v = null ? -1 : sqlite3_column_int64(st, idx);
        memcpy(base, &v, sizeof v);
        return 1;
    }
    case COL_REAL: {
        double v = null ? NAN : sqlite3_column_double(st, idx);
        memcpy(base, &v, sizeof v);
        return 1;
    }
    case COL_STATUS: {
        const char *s = (const char *)sqlite3_column_text(st, idx);
        lilm_run_status rs = LILM_RUN_RUNNING;
        if (s && lilm_run_status_parse(s, &rs) != LILM_OK) rs = LILM_RUN_FAILED;
        r->status = rs;
        return 1;
    }
    }
    return 1;
}

/* "id, name, run_dir, ..." for SELECT. */
static void select_list(lilm_strbuf *sql)
{
    lilm_strbuf_puts(sql, "SELECT id");
    for (size_t i = 0; i < N_RUN_COLS; i++) lilm_strbuf_printf(sql, ", %s", run_cols[i].name);
    lilm_strbuf_puts(sql, " FROM runs");
}

static lilm_status read_row(sqlite3_stmt *st, lilm_run *r)
{
    lilm_run_init(r);
    r->id = sqlite3_column_int64(st, 0);
    for (size_t i = 0; i < N_RUN_COLS; i++)
        if (!read_col(st, (int)i + 1, r, &run_cols[i])) {
            lilm_run_free(r);
            return lilm_errorf(LILM_ERR_OOM, "out of memory reading run rows");
        }
    return LILM_OK;
}

/* ---- upsert ---- */

static lilm_status insert_points(lilm_runs_db *db, const lilm_run_record *rec)
{
    sqlite3_stmt *st = NULL;
    lilm_status s = LILM_OK;
    int rc;
    LILM_TRY(prepare(db, "INSERT INTO metrics(run_id, seq, kind, step, tokens, lr, loss, grad_norm, tokens_per_s,"
                         " elapsed_s, val_loss, val_bpb) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", &st));
    for (size_t i = 0; s == LILM_OK && i < rec->n_metrics; i++) {
        const lilm_metric_point *m = &rec->metrics[i];
        const double reals[] = {m->lr, m->loss, m->grad_norm, m->tokens_per_s, m->elapsed_s, m->val_loss, m->val_bpb};
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, rec->run.id);
        sqlite3_bind_int64(st, 2, (int64_t)i);
        sqlite3_bind_int(st, 3, m->kind);
        if (m->step >= 0) sqlite3_bind_int64(st, 4, m->step); else sqlite3_bind_null(st, 4);
        if (m->tokens >= 0) sqlite3_bind_int64(st, 5, m->tokens); else sqlite3_bind_null(st, 5);
        for (int k = 0; k < 7; k++)
            if (isfinite(reals[k])) sqlite3_bind_double(st, 6 + k, reals[k]); else sqlite3_bind_null(st, 6 + k);
        rc = sqlite3_step(st);
        if (rc != SQLITE_DONE) s = db_fail(db, rc, "storing metrics");
    }
    sqlite3_finalize(st);
    if (s != LILM_OK) return s;
    LILM_TRY(prepare(db, "INSERT INTO sweeps(run_id, seq, kind, x, y, aux, ok) VALUES (?,?,?,?,?,?,?)", &st));
    for (size_t i = 0; s == LILM_OK && i < rec->n_sweeps; i++) {
        const lilm_sweep_point *p = &rec->sweeps[i];
        const double reals[] = {p->x, p->y, p->aux};
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, rec->run.id);
        sqlite3_bind_int64(st, 2, (int64_t)i);
        sqlite3_bind_int(st, 3, p->kind);
        for (int k = 0; k < 3; k++)
            if (isfinite(reals[k])) sqlite3_bind_double(st, 4 + k, reals[k]); else sqlite3_bind_null(st, 4 + k);
        sqlite3_bind_int(st, 7, p->ok);
        rc = sqlite3_step(st);
        if (rc != SQLITE_DONE) s = db_fail(db, rc, "storing sweep points");
    }
    sqlite3_finalize(st);
    return s;
}

static lilm_status delete_points(lilm_runs_db *db, int64_t id)
{
    static const char *const sqls[] = {"DELETE FROM metrics WHERE run_id = ?", "DELETE FROM sweeps WHERE run_id = ?"};
    for (size_t i = 0; i < 2; i++) {
        sqlite3_stmt *st = NULL;
        LILM_TRY(prepare(db, sqls[i], &st));
        sqlite3_bind_int64(st, 1, id);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) return db_fail(db, rc, "deleting old points");
    }
    return LILM_OK;
}

lilm_status lilm_runs_upsert(lilm_runs_db *db, lilm_run_record *rec)
{
    if (!rec->run.name[0]) return lilm_errorf(LILM_ERR_ARG, "a run needs a name");
    lilm_strbuf sql;
    lilm_strbuf_init(&sql);
    lilm_strbuf_puts(&sql, "INSERT INTO runs(");
    for (size_t i = 0; i < N_RUN_COLS; i++) lilm_strbuf_printf(&sql, "%s, ", run_cols[i].name);
    lilm_strbuf_puts(&sql, "updated_at) VALUES (");
    for (size_t i = 0; i < N_RUN_COLS; i++) lilm_strbuf_puts(&sql, "?, ");
    lilm_strbuf_puts(&sql, "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')) ON CONFLICT(name) DO UPDATE SET ");
    for (size_t i = 1; i < N_RUN_COLS; i++) lilm_strbuf_printf(&sql, "%s = excluded.%s, ", run_cols[i].name, run_cols[i].name);
    lilm_strbuf_puts(&sql, "updated_at = excluded.updated_at RETURNING id");
    lilm_status s = lilm_strbuf_status(&sql);
    if (s != LILM_OK) {
        lilm_strbuf_free(&sql);
        return s;
    }

    sqlite3_stmt *st = NULL;
    s = begin(db);
    if (s == LILM_OK) s = prepare(db, sql.data, &st);
    lilm_strbuf_free(&sql);
    for (size_t i = 0; s == LILM_OK && i < N_RUN_COLS; i++)
        if (bind_col(st, (int)i + 1, &rec->run, &run_cols[i]) != SQLITE_OK) s = db_fail(db, SQLITE_NOMEM, "binding a run");
    if (s == LILM_OK) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) rec->run.id = sqlite3_column_int64(st, 0);
        else s = db_fail(db, rc, "storing a run");
    }
    sqlite3_finalize(st);
    if (s == LILM_OK) s = delete_points(db, rec->run.id);
    if (s == LILM_OK) s = insert_points(db, rec);
    if (s == LILM_OK) return commit(db);
    rollback(db);
    return lilm_error_context(s, "registering run %s: ", rec->run.name);
}

/* ---- status, delete ---- */

lilm_status lilm_runs_set_status(lilm_runs_db *db, const char *name, lilm_run_status status)
{
    if ((int)status < 0 || status >= LILM_RUN_STATUS_COUNT) return lilm_errorf(LILM_ERR_ARG, "bad run status %d", (int)status);
    sqlite3_stmt *st = NULL;
    LILM_TRY(begin(db));
    lilm_status s = prepare(db,
        "UPDATE runs SET status = ?1,"
        " finished_at = CASE WHEN ?1 = 'running' THEN NULL"
        "   ELSE COALESCE(finished_at, strftime('%Y-%m-%dT%H:%M:%SZ', 'now')) END,"
        " updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE name = ?2", &st);
    if (s == LILM_OK) {
        sqlite3_bind_text(st, 1, lilm_run_status_name(status), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(st);
        if (rc != SQLITE_DONE) s = db_fail(db, rc, "setting a run's status");
        else if (sqlite3_changes(db->db) == 0)
            s = lilm_errorf(LILM_ERR_NOT_FOUND, "no run named '%s' in %s\nHINT: `lilm runs list --db %s` lists them",
                            name, db->path, db->path);
    }
    sqlite3_finalize(st);
    if (s == LILM_OK) return commit(db);
    rollback(db);
    return s;
}

lilm_status lilm_runs_delete(lilm_runs_db *db, const char *name)
{
    sqlite3_stmt *st = NULL;
    LILM_TRY(begin(db));
    int64_t id = -1;
    lilm_status s = prepare(db, "SELECT id FROM runs WHERE name = ?", &st);
    if (s == LILM_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) id = sqlite3_column_int64(st, 0);
        else if (rc == SQLITE_DONE)
            s = lilm_errorf(LILM_ERR_NOT_FOUND, "no run named '%s' in %s\nHINT: `lilm runs list --db %s` lists them",
                            name, db->path, db->path);
        else s = db_fail(db, rc, "looking up a run");
    }
    sqlite3_finalize(st);
    st = NULL;
    if (s == LILM_OK) s = delete_points(db, id);
    if (s == LILM_OK) s = prepare(db, "DELETE FROM runs WHERE id = ?", &st);
    if (s == LILM_OK) {
        sqlite3_bind_int64(st, 1, id);
        int rc = sqlite3_step(st);
        if (rc != SQLITE_DONE) s = db_fail(db, rc, "deleting a run");
    }
    sqlite3_finalize(st);
    if (s == LILM_OK) return commit(db);
    rollback(db);
    return s;
}

/* ---- queries ---- */

lilm_status lilm_runs_list(lilm_runs_db *db, lilm_run_list *out)
{
    out->runs = NULL;
    out->n = 0;
    lilm_strbuf sql;
    lilm_strbuf_init(&sql);
    select_list(&sql);
    lilm_strbuf_puts(&sql, " ORDER BY started_at IS NULL, started_at, id");
    lilm_status s = lilm_strbuf_status(&sql);
    sqlite3_stmt *st = NULL;
    if (s == LILM_OK) s = prepare(db, sql.data, &st);
    lilm_strbuf_free(&sql);
    size_t cap = 0;
    while (s == LILM_OK) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) break;
        if (rc != SQLITE_ROW) {
            s = db_fail(db, rc, "listing runs");
            break;
        }
        if (out->n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            lilm_run *p = realloc(out->runs, ncap * sizeof *p);
            if (!p) {
                s = lilm_errorf(LILM_ERR_OOM, "out of memory listing runs");
                break;
            }
            out->runs = p;
            cap = ncap;
        }
        s = read_row(st, &out->runs[out->n]);
        if (s == LILM_OK) out->n++;
    }
    sqlite3_finalize(st);
    if (s != LILM_OK) lilm_run_list_free(out);
    return s;
}

static lilm_status read_points(lilm_runs_db *db, lilm_run_record *rec)
{
    sqlite3_stmt *st = NULL;
    lilm_status s = LILM_OK;
    size_t cap = 0;
    LILM_TRY(prepare(db, "SELECT kind, step, tokens, lr, loss, grad_norm, tokens_per_s, elapsed_s, val_loss, val_bpb"
                         " FROM metrics WHERE run_id = ? ORDER BY seq", &st));
    sqlite3_bind_int64(st, 1, rec->run.id);
    for (;;) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) break;
        if (rc != SQLITE_ROW) {
            s = db_fail(db, rc, "reading metrics");
            break;
        }
        if (rec->n_metrics == cap) {
            size_t ncap = cap ? cap * 2 : 256;
            lilm_metric_point *p = realloc(rec->metrics, ncap * sizeof *p);
            if (!p) {
                s = lilm_errorf(LILM_ERR_OOM, "out of memory reading metrics");
                break;
            }
            rec->metrics = p;
            cap = ncap;
        }
        lilm_metric_point *m = &rec->metrics[rec->n_metrics++];
        double *reals[] = {&m->lr, &m->loss, &m->grad_norm, &m->tokens_per_s, &m->elapsed_s, &m->val_loss, &m->val_bpb};
        m->kind = sqlite3_column_int(st, 0);
        m->step = sqlite3_column_type(st, 1) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 1);
        m->tokens = sqlite3_column_type(st, 2) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 2);
        for (int k = 0; k < 7; k++)
            *reals[k] = sqlite3_column_type(st, 3 + k) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 3 + k);
    }
    sqlite3_finalize(st);
    if (s != LILM_OK) return s;
    cap = 0;
    LILM_TRY(prepare(db, "SELECT kind, x, y, aux, ok FROM sweeps WHERE run_id = ? ORDER BY seq", &st));
    sqlite3_bind_int64(st, 1, rec->run.id);
    for (;;) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) break;
        if (rc != SQLITE_ROW) {
            s = db_fail(db, rc, "reading sweep points");
            break;
        }
        if (rec->n_sweeps == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            lilm_sweep_point *p = realloc(rec->sweeps, ncap * sizeof *p);
            if (!p) {
                s = lilm_errorf(LILM_ERR_OOM, "out of memory reading sweep points");
                break;
            }
            rec->sweeps = p;
            cap = ncap;
        }
        lilm_sweep_point *p = &rec->sweeps[rec->n_sweeps++];
        double *reals[] = {&p->x, &p->y, &p->aux};
        p->kind = sqlite3_column_int(st, 0);
        for (int k = 0; k < 3; k++)
            *reals[k] = sqlite3_column_type(st, 1 + k) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 1 + k);
        p->ok = sqlite3_column_int(st, 4);
    }
    sqlite3_finalize(st);
    return s;
}

lilm_status lilm_runs_get(lilm_runs_db *db, const char *name, lilm_run_record *out)
{
    memset(out, 0, sizeof *out);
    lilm_run_init(&out->run);
    lilm_strbuf sql;
    lilm_strbuf_init(&sql);
    select_list(&sql);
    lilm_strbuf_puts(&sql, " WHERE name = ?");
    lilm_status s = lilm_strbuf_status(&sql);
    sqlite3_stmt *st = NULL;
    /* one read transaction: the row and its points come from one snapshot */
    if (s == LILM_OK) s = exec(db, "BEGIN", "starting a read transaction");
    if (s != LILM_OK) {
        lilm_strbuf_free(&sql);
        return s;
    }
    s = prepare(db, sql.data, &st);
    lilm_strbuf_free(&sql);
    if (s == LILM_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) s = read_row(st, &out->run);
        else if (rc == SQLITE_DONE)
            s = lilm_errorf(LILM_ERR_NOT_FOUND, "no run named '%s' in %s\nHINT: `lilm runs list --db %s` lists them",
                            name, db->path, db->path);
        else s = db_fail(db, rc, "reading a run");
    }
    sqlite3_finalize(st);
    if (s == LILM_OK) s = read_points(db, out);
    rollback(db);   /* ends the read transaction; nothing was written */
    if (s != LILM_OK) lilm_run_record_free(out);
    return s;
}
