/*
 * study_db.c: the search tables of runs.db (study_db.h) on SQLite.
 *
 * Uses the runs db's connection (runs_impl.h), so it shares its WAL mode,
 * busy timeout and error hints. Every write is BEGIN IMMEDIATE ... COMMIT,
 * like runs.c. A trial's parameters are written as a JSON object by name,
 * so a stored study reads back the same whatever order the space lists them.
 */
#include "track/study_db.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/sha256.h"
#include "track/runs_impl.h"

static const char *const schema =
    "CREATE TABLE IF NOT EXISTS search_studies ("
    " id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, space_yaml TEXT NOT NULL, space_sha256 TEXT NOT NULL,"
    " created_at TEXT, updated_at TEXT);"
    "CREATE TABLE IF NOT EXISTS search_trials ("
    " study_id INTEGER NOT NULL REFERENCES search_studies(id) ON DELETE CASCADE,"
    " number INTEGER NOT NULL, state TEXT NOT NULL, params_json TEXT NOT NULL, value REAL,"
    " run_name TEXT, run_dir TEXT, reason TEXT, started_at TEXT, finished_at TEXT, elapsed_s REAL,"
    " PRIMARY KEY (study_id, number));"
    "CREATE TABLE IF NOT EXISTS search_reports ("
    " study_id INTEGER NOT NULL, number INTEGER NOT NULL, seq INTEGER NOT NULL, step INTEGER, value REAL,"
    " PRIMARY KEY (study_id, number, seq));";

void lilm_study_record_free(lilm_study_record *r)
{
    free(r->space_yaml);
    r->space_yaml = NULL;
}

static lilm_status exec(lilm_runs_db *db, const char *sql, const char *doing)
{
    int rc = sqlite3_exec(lilm__runs_sqlite(db), sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? LILM_OK : lilm__runs_fail(db, rc, doing);
}

static lilm_status begin(lilm_runs_db *db)
{
    LILM_TRY(exec(db, "BEGIN IMMEDIATE", "starting a write transaction"));
    lilm_status s = exec(db, schema, "creating the search tables");
    if (s != LILM_OK) sqlite3_exec(lilm__runs_sqlite(db), "ROLLBACK", NULL, NULL, NULL);
    return s;
}

static lilm_status finish(lilm_runs_db *db, lilm_status s)
{
    if (s == LILM_OK) s = exec(db, "COMMIT", "committing");
    if (s != LILM_OK) sqlite3_exec(lilm__runs_sqlite(db), "ROLLBACK", NULL, NULL, NULL);
    return s;
}

static lilm_status prepare(lilm_runs_db *db, const char *sql, sqlite3_stmt **st)
{
    int rc = sqlite3_prepare_v2(lilm__runs_sqlite(db), sql, -1, st, NULL);
    return rc == SQLITE_OK ? LILM_OK : lilm__runs_fail(db, rc, "preparing a search query");
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s && *s) sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, i);
}

static void bind_real(sqlite3_stmt *st, int i, double v)
{
    if (isfinite(v)) sqlite3_bind_double(st, i, v);
    else sqlite3_bind_null(st, i);
}

static void col_text(sqlite3_stmt *st, int i, char *dst, size_t n)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    snprintf(dst, n, "%s", s ? s : "");
}

static double col_real(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

lilm_status lilm_study_db_open_study(lilm_runs_db *db, const char *name, const char *space_yaml, int64_t *id)
{
    char sha[65];
    lilm_sha256_hex(space_yaml, strlen(space_yaml), sha);
    LILM_TRY(begin(db));
    sqlite3_stmt *st = NULL;
    lilm_status s = prepare(db, "SELECT id, space_sha256 FROM search_studies WHERE name = ?", &st);
    int found = 0;
    if (s == LILM_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            found = 1;
            *id = sqlite3_column_int64(st, 0);
            const char *old = (const char *)sqlite3_column_text(st, 1);
            if (!old || strcmp(old, sha) != 0)
                s = lilm_errorf(LILM_ERR_MISMATCH,
                                "study '%s' in %s was started with a different search space\n"
                                "HINT: resume it with its own space (lilm search --status --study %s shows it), "
                                "or give this one another name (--study NAME)",
                                name, lilm_runs_path(db), name);
        } else if (rc != SQLITE_DONE) {
            s = lilm__runs_fail(db, rc, "looking up a study");
        }
    }
    sqlite3_finalize(st);
    st = NULL;
    if (s == LILM_OK && !found) {
        s = prepare(db, "INSERT INTO search_studies(name, space_yaml, space_sha256, created_at, updated_at) VALUES"
                        " (?, ?, ?, strftime('%Y-%m-%dT%H:%M:%SZ','now'), strftime('%Y-%m-%dT%H:%M:%SZ','now'))", &st);
        if (s == LILM_OK) {
            sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(st, 2, space_yaml, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(st, 3, sha, -1, SQLITE_TRANSIENT);
            int rc = sqlite3_step(st);
            if (rc != SQLITE_DONE) s = lilm__runs_fail(db, rc, "creating a study");
            else *id = sqlite3_last_insert_rowid(lilm__runs_sqlite(db));
        }
        sqlite3_finalize(st);
    }
    return finish(db, s);
}

static lilm_status params_json(const lilm_space *sp, const lilm_trial *t, char **out)
{
    lilm_json_writer w;
    lilm_json_writer_init(&w, 0);
    lilm_json_begin_object(&w);
    for (int i = 0; i < sp->n_params; i++) {
        const lilm_search_param *p = &sp->params[i];
        lilm_json_key(&w, p->name);
        if (p->kind == LILM_SEARCH_PARAM_CATEGORICAL) {
            char buf[LILM_SEARCH_NAME_MAX];
            lilm_search_param_format(p, t->x[i], buf, sizeof buf);
            lilm_json_str(&w, buf);
        } else if (p->kind == LILM_SEARCH_PARAM_INT) {
            lilm_json_int(&w, llround(t->x[i]));
        } else {
            lilm_json_double(&w, t->x[i]);
        }
    }
    lilm_json_end_object(&w);
    size_t n;
    return lilm_json_writer_finish(&w, out, &n);
}

lilm_status lilm_study_db_save_trial(lilm_runs_db *db, int64_t id, const lilm_space *sp, const lilm_trial *t)
{
    char *pj = NULL;
    LILM_TRY(params_json(sp, t, &pj));
    lilm_status s = begin(db);
    if (s != LILM_OK) {
        free(pj);
        return s;
    }
    sqlite3_stmt *st = NULL;
    s = prepare(db, "INSERT OR REPLACE INTO search_trials(study_id, number, state, params_json, value, run_name, run_dir,"
                    " reason, started_at, finished_at, elapsed_s) VALUES (?,?,?,?,?,?,?,?,?,?,?)", &st);
    if (s == LILM_OK) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, t->number);
        sqlite3_bind_text(st, 3, lilm_trial_state_name(t->state), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, pj, -1, SQLITE_TRANSIENT);
        bind_real(st, 5, t->value);
        bind_text(st, 6, t->run_name);
        bind_text(st, 7, t->run_dir);
        bind_text(st, 8, t->reason);
        bind_text(st, 9, t->started_at);
        bind_text(st, 10, t->finished_at);
        bind_real(st, 11, t->elapsed_s);
        int rc = sqlite3_step(st);
        if (rc != SQLITE_DONE) s = lilm__runs_fail(db, rc, "storing a trial");
    }
    sqlite3_finalize(st);
    free(pj);
    st = NULL;
    if (s == LILM_OK) s = prepare(db, "DELETE FROM search_reports WHERE study_id = ? AND number = ?", &st);
    if (s == LILM_OK) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, t->number);
        int rc = sqlite3_step(st);
        if (rc != SQLITE_DONE) s = lilm__runs_fail(db, rc, "storing a trial's reports");
    }
    sqlite3_finalize(st);
    st = NULL;
    if (s == LILM_OK) s = prepare(db, "INSERT INTO search_reports(study_id, number, seq, step, value) VALUES (?,?,?,?,?)", &st);
    for (size_t i = 0; s == LILM_OK && i < t->n_reports; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, t->number);
        sqlite3_bind_int64(st, 3, (int64_t)i);
        sqlite3_bind_int64(st, 4, t->reports[i].step);
        bind_real(st, 5, t->reports[i].value);
        int rc = sqlite3_step(st);
        if (rc != SQLITE_DONE) s = lilm__runs_fail(db, rc, "storing a trial's reports");
    }
    sqlite3_finalize(st);
    st = NULL;
    if (s == LILM_OK) s = prepare(db, "UPDATE search_studies SET updated_at = strftime('%Y-%m-%dT%H:%M:%SZ','now') WHERE id = ?", &st);
    if (s == LILM_OK) {
        sqlite3_bind_int64(st, 1, id);
        int rc = sqlite3_step(st);
        if (rc != SQLITE_DONE) s = lilm__runs_fail(db, rc, "storing a trial");
    }
    sqlite3_finalize(st);
    return finish(db, s);
}

/* Fills t->x from a params_json text. */
static lilm_status parse_params(const lilm_space *sp, const char *text, int64_t number, lilm_trial *t)
{
    lilm_json *j = NULL;
    char label[64];
    snprintf(label, sizeof label, "trial %lld params", (long long)number);
    LILM_TRY(lilm_json_parse(&j, text, strlen(text), label));
    lilm_status s = LILM_OK;
    for (int i = 0; i < sp->n_params && s == LILM_OK; i++) {
        const lilm_search_param *p = &sp->params[i];
        const lilm_json *v = lilm_json_get(j, p->name);
        char buf[64];
        if (!v) {
            s = lilm_errorf(LILM_ERR_FORMAT, "%s: no value for parameter %s", label, p->name);
        } else if (v->type == LILM_JSON_STRING) {
            s = lilm_search_param_parse(p, v->str, &t->x[i]);
        } else if (v->type == LILM_JSON_NUMBER) {
            snprintf(buf, sizeof buf, "%.17g", v->number);
            s = p->kind == LILM_SEARCH_PARAM_CATEGORICAL ? lilm_search_param_parse(p, buf, &t->x[i]) : LILM_OK;
            if (p->kind != LILM_SEARCH_PARAM_CATEGORICAL) t->x[i] = v->number;
        } else {
            s = lilm_errorf(LILM_ERR_FORMAT, "%s: parameter %s is neither a number nor a text", label, p->name);
        }
    }
    lilm_json_free(j);
    return s;
}

static lilm_status load_reports(lilm_runs_db *db, int64_t id, lilm_study *st)
{
    sqlite3_stmt *q = NULL;
    LILM_TRY(prepare(db, "SELECT number, step, value FROM search_reports WHERE study_id = ? ORDER BY number, seq", &q));
    sqlite3_bind_int64(q, 1, id);
    lilm_status s = LILM_OK;
    for (;;) {
        int rc = sqlite3_step(q);
        if (rc == SQLITE_DONE) break;
        if (rc != SQLITE_ROW) {
            s = lilm__runs_fail(db, rc, "reading trial reports");
            break;
        }
        int64_t number = sqlite3_column_int64(q, 0);
        if (number < 0 || number >= (int64_t)st->n) continue;
        s = lilm_study_report(st, (size_t)number, sqlite3_column_int64(q, 1), col_real(q, 2));
        if (s != LILM_OK) break;
    }
    sqlite3_finalize(q);
    return s;
}

lilm_status lilm_study_db_load_trials(lilm_runs_db *db, int64_t id, lilm_study *st)
{
    sqlite3_stmt *q = NULL;
    LILM_TRY(exec(db, "BEGIN", "starting a read transaction"));
    lilm_status s = prepare(db, "SELECT number, state, params_json, value, run_name, run_dir, reason, started_at,"
                                " finished_at, elapsed_s FROM search_trials WHERE study_id = ? ORDER BY number", &q);
    if (s != LILM_OK && strstr(lilm_last_error(), "no such table")) {
        /* a runs.db that never held a search */
        sqlite3_exec(lilm__runs_sqlite(db), "ROLLBACK", NULL, NULL, NULL);
        return LILM_OK;
    }
    if (s == LILM_OK) sqlite3_bind_int64(q, 1, id);
    while (s == LILM_OK) {
        int rc = sqlite3_step(q);
        if (rc == SQLITE_DONE) break;
        if (rc != SQLITE_ROW) {
            s = lilm__runs_fail(db, rc, "reading trials");
            break;
        }
        lilm_trial t;
        memset(&t, 0, sizeof t);
        t.number = sqlite3_column_int64(q, 0);
        s = lilm_trial_state_parse((const char *)sqlite3_column_text(q, 1), &t.state);
        if (s == LILM_OK) s = parse_params(st->sp, (const char *)sqlite3_column_text(q, 2), t.number, &t);
        if (s != LILM_OK) break;
        t.value = col_real(q, 3);
        col_text(q, 4, t.run_name, sizeof t.run_name);
        col_text(q, 5, t.run_dir, sizeof t.run_dir);
        col_text(q, 6, t.reason, sizeof t.reason);
        col_text(q, 7, t.started_at, sizeof t.started_at);
        col_text(q, 8, t.finished_at, sizeof t.finished_at);
        t.elapsed_s = col_real(q, 9);
        s = lilm_study_add(st, &t);
    }
    sqlite3_finalize(q);
    if (s == LILM_OK) s = load_reports(db, id, st);
    sqlite3_exec(lilm__runs_sqlite(db), "ROLLBACK", NULL, NULL, NULL);
    return s;
}

static const char *const select_studies =
    "SELECT s.id, s.name, s.space_sha256, s.created_at, s.updated_at, s.space_yaml,"
    " (SELECT COUNT(*) FROM search_trials t WHERE t.study_id = s.id),"
    " (SELECT COUNT(*) FROM search_trials t WHERE t.study_id = s.id AND t.state = 'complete'),"
    " (SELECT MIN(value) FROM search_trials t WHERE t.study_id = s.id AND t.state = 'complete')"
    " FROM search_studies s";

static lilm_status read_record(sqlite3_stmt *q, lilm_study_record *r)
{
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(q, 0);
    col_text(q, 1, r->name, sizeof r->name);
    col_text(q, 2, r->space_sha256, sizeof r->space_sha256);
    col_text(q, 3, r->created_at, sizeof r->created_at);
    col_text(q, 4, r->updated_at, sizeof r->updated_at);
    const char *y = (const char *)sqlite3_column_text(q, 5);
    r->space_yaml = strdup(y ? y : "");
    r->n_trials = sqlite3_column_int64(q, 6);
    r->n_complete = sqlite3_column_int64(q, 7);
    r->best_value = col_real(q, 8);
    return r->space_yaml ? LILM_OK : lilm_errorf(LILM_ERR_OOM, "out of memory reading studies");
}

lilm_status lilm_study_db_list(lilm_runs_db *db, lilm_study_record **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    char sql[1024];
    snprintf(sql, sizeof sql, "%s ORDER BY s.id", select_studies);
    sqlite3_stmt *q = NULL;
    lilm_status s = prepare(db, sql, &q);
    if (s != LILM_OK) {
        if (strstr(lilm_last_error(), "no such table")) return LILM_OK;
        return s;
    }
    size_t cap = 0;
    while (s == LILM_OK) {
        int rc = sqlite3_step(q);
        if (rc == SQLITE_DONE) break;
        if (rc != SQLITE_ROW) {
            s = lilm__runs_fail(db, rc, "listing studies");
            break;
        }
        if (*n == cap) {
            cap = cap ? 2 * cap : 4;
            lilm_study_record *p = realloc(*out, cap * sizeof *p);
            if (!p) {
                s = lilm_errorf(LILM_ERR_OOM, "out of memory listing studies");
                break;
            }
            *out = p;
        }
        s = read_record(q, &(*out)[*n]);
        if (s == LILM_OK) (*n)++;
    }
    sqlite3_finalize(q);
    if (s != LILM_OK) {
        for (size_t i = 0; i < *n; i++) lilm_study_record_free(&(*out)[i]);
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return s;
}

lilm_status lilm_study_db_find(lilm_runs_db *db, const char *name, lilm_study_record *out)
{
    char sql[1024];
    snprintf(sql, sizeof sql, "%s WHERE s.name = ?", select_studies);
    sqlite3_stmt *q = NULL;
    lilm_status s = prepare(db, sql, &q);
    if (s != LILM_OK && !strstr(lilm_last_error(), "no such table")) return s;
    int rc = SQLITE_DONE;
    if (s == LILM_OK) {
        sqlite3_bind_text(q, 1, name, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(q);
    }
    if (rc == SQLITE_ROW) s = read_record(q, out);
    else if (rc == SQLITE_DONE)
        s = lilm_errorf(LILM_ERR_NOT_FOUND, "no study named '%s' in %s\nHINT: `lilm search --status --db %s` lists the studies",
                        name, lilm_runs_path(db), lilm_runs_path(db));
    else s = lilm__runs_fail(db, rc, "reading a study");
    sqlite3_finalize(q);
    return s;
}
