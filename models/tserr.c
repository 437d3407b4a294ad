/* tserr: formatting of the shared error struct (see tserr.h). No printing, no exits. */
#include "models/tserr.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void ts_err_clear(TsErr *err)
{
    if (!err)
        return;
    err->code = TS_OK;
    err->msg[0] = '\0';
}

int ts_err_set(TsErr *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->code = code;
    return code;
}

int ts_err_prefix(TsErr *err, const char *fmt, ...)
{
    if (!err)
        return TS_EINTERNAL;
    char head[TS_ERR_MSG_MAX];
    char old[TS_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    size_t n = strlen(head);
    if (n >= sizeof err->msg)
        n = sizeof err->msg - 1;
    memcpy(err->msg, head, n);
    size_t room = sizeof err->msg - 1 - n, m = strlen(old);
    if (m > room)
        m = room;
    memcpy(err->msg + n, old, m);
    err->msg[n + m] = '\0';
    return err->code;
}
