/* tserr: the error struct every tokensim module fills instead of printing.
 * A function that can fail returns int (0 ok, a negative TS_E* code) and writes one message
 * into a caller's TsErr. Library code never prints or exits; only sim/cli/main.c does. */
#ifndef TS_MODELS_TSERR_H
#define TS_MODELS_TSERR_H

#include <stddef.h>

#define TS_ERR_MSG_MAX 1024

enum {
    TS_OK = 0,
    TS_EINPUT = -1,   /* bad input: scenario, catalog, model file, argument (exit 2) */
    TS_EIO = -2,      /* file system or database failure (exit 1) */
    TS_ENOMEM = -3,   /* allocation failed (exit 1) */
    TS_EINTERNAL = -4 /* a library reported something that should not happen (exit 1) */
};

typedef struct {
    int code;                  /* the TS_E* code of the first error, TS_OK when none */
    char msg[TS_ERR_MSG_MAX];  /* human-readable, no trailing newline */
} TsErr;

/* Clears err. err may be NULL. */
void ts_err_clear(TsErr *err);

/* Writes a printf-style message and code into err (when err is non-NULL) and returns code,
 * so callers can write `return ts_err_set(err, TS_EINPUT, "...")`. */
int ts_err_set(TsErr *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes the existing message with a printf-style context ("while X: ") and returns err->code. */
int ts_err_prefix(TsErr *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
