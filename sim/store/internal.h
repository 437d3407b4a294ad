/* internal: what the files of the store room share and no other room includes: the Store
 * struct behind the opaque handle and the SQL helpers (sql.c). Other rooms include store.h. */
#ifndef TS_SIM_STORE_INTERNAL_H
#define TS_SIM_STORE_INTERNAL_H

#include <sqlite3.h>
#include <stdint.h>

#include "sim/store/store.h"

#define STORE_BUSY_TIMEOUT_MS 5000

/* ISO 8601 UTC with a Z, e.g. 2025-01-31T12:00:00Z, computed by SQLite in the statement. */
#define STORE_NOW_UTC "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"

struct Store {
    sqlite3 *db;
    char *path; /* as given to store_open, for messages */
};

/* Binds parameters 1, 2, ... in order, remembering the first failure, so a row's binds read as
 * a list and are checked once. */
typedef struct {
    sqlite3_stmt *st; /* borrowed */
    int next;         /* the next parameter index */
    int rc;           /* SQLITE_OK or the first bind failure */
} StoreBind;

int store_fail(const Store *s, const char *what, TsErr *err);
void store_bind_start(StoreBind *b, sqlite3_stmt *st);
void store_bind_text(StoreBind *b, const char *v);
void store_bind_int64(StoreBind *b, int64_t v);
void store_bind_real(StoreBind *b, double v, int present);
void store_finalize(sqlite3_stmt *st);
int store_prepare(Store *s, const char *sql, sqlite3_stmt **st, const char *what, TsErr *err);
int store_exec(Store *s, const char *sql, const char *what, TsErr *err);
int store_rollback(Store *s, int code, TsErr *err);
int store_user_version(Store *s, int *version, TsErr *err);
const char *store_byte_order(void);

#endif
