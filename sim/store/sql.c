/* sql: the few helpers every store file uses: errors that name the database and sqlite3's
 * words, binding a row's parameters as a list, preparing, running constant SQL, rolling back. */
#include <math.h>
#include <string.h>

#include "sim/store/internal.h"

/* Sets err to "PATH: what: sqlite3's message" and returns TS_EIO. */
int store_fail(const Store *s, const char *what, TsErr *err)
{
    return ts_err_set(err, TS_EIO, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

void store_bind_start(StoreBind *b, sqlite3_stmt *st)
{
    b->st = st;
    b->next = 1;
    b->rc = SQLITE_OK;
}

void store_bind_text(StoreBind *b, const char *v)
{
    int i = b->next++;
    if (b->rc != SQLITE_OK)
        return;
    b->rc = v ? sqlite3_bind_text(b->st, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(b->st, i);
}

void store_bind_int64(StoreBind *b, int64_t v)
{
    int i = b->next++;
    if (b->rc != SQLITE_OK)
        return;
    b->rc = sqlite3_bind_int64(b->st, i, (sqlite3_int64)v);
}

/* NULL unless present; a NaN or infinity is never stored (it would read back as NULL or as a
 * huge number depending on the reader), so it becomes NULL too. */
void store_bind_real(StoreBind *b, double v, int present)
{
    int i = b->next++;
    if (b->rc != SQLITE_OK)
        return;
    b->rc = present && isfinite(v) ? sqlite3_bind_double(b->st, i, v) : sqlite3_bind_null(b->st, i);
}

/* Finalizes st, which may be NULL. Its return repeats the last step's error, which the caller
 * has already reported, so it is deliberately not looked at. */
void store_finalize(sqlite3_stmt *st)
{
    (void)sqlite3_finalize(st);
}

int store_prepare(Store *s, const char *sql, sqlite3_stmt **st, const char *what, TsErr *err)
{
    *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK) {
        store_finalize(*st);
        *st = NULL;
        return store_fail(s, what, err);
    }
    return 0;
}

/* Runs constant SQL without parameters, one prepared statement after another (a migration step
 * is several). Rows that a statement returns (PRAGMA) are stepped over. */
int store_exec(Store *s, const char *sql, const char *what, TsErr *err)
{
    const char *rest = sql;
    while (*rest) {
        sqlite3_stmt *st = NULL;
        const char *tail = NULL;
        if (sqlite3_prepare_v2(s->db, rest, -1, &st, &tail) != SQLITE_OK) {
            store_finalize(st);
            return store_fail(s, what, err);
        }
        rest = tail;
        if (!st)
            break; /* only whitespace or comments were left */
        int rc;
        do
            rc = sqlite3_step(st);
        while (rc == SQLITE_ROW);
        if (rc != SQLITE_DONE) {
            int code = store_fail(s, what, err);
            store_finalize(st);
            return code;
        }
        store_finalize(st);
    }
    return 0;
}

/* Rolls back the open transaction after a failure already in err, and returns code. sqlite3 may
 * have rolled back by itself (out of disk, I/O error); then there is nothing to do. */
int store_rollback(Store *s, int code, TsErr *err)
{
    if (sqlite3_get_autocommit(s->db))
        return code;
    TsErr rb;
    ts_err_clear(&rb);
    if (store_exec(s, "ROLLBACK", "ROLLBACK", &rb) != 0 && err) {
        char first[TS_ERR_MSG_MAX];
        memcpy(first, err->msg, sizeof first);
        ts_err_set(err, code, "%.500s; and then %.500s", first, rb.msg);
    }
    return code;
}
