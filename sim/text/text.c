/* text: strict number parsing, ASCII case folding, edit distance and nearest-name suggestions.
 * Locale-independent on purpose: tokensim never calls setlocale, so strtod reads '.' decimals. */
#define _GNU_SOURCE /* fopencookie */
#include "sim/text/text.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int txt_parse_double(const char *s, double *out)
{
    if (!s)
        return -1;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s == '\0')
        return -1;
    /* strtod accepts hex floats and "nan(...)"; the contract's numbers are decimal. */
    for (const char *p = s; *p; p++)
        if (*p == 'x' || *p == 'X' || *p == '(')
            return -1;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s)
        return -1;
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end != '\0' || !isfinite(v) || errno == ERANGE)
        return -1;
    *out = v;
    return 0;
}

int txt_parse_int(const char *s, long long *out)
{
    double v;
    if (txt_parse_double(s, &v) != 0)
        return -1;
    if (v != floor(v) || fabs(v) > 9.0e15)
        return -1;
    *out = (long long)v;
    return 0;
}

int txt_eq_nocase(const char *a, const char *b)
{
    if (!a || !b)
        return 0;
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return 0;
    return *a == *b;
}

int txt_edit_distance(const char *a, const char *b)
{
    enum { MAXLEN = 64 };
    size_t la = strlen(a), lb = strlen(b);
    if (la > MAXLEN)
        la = MAXLEN;
    if (lb > MAXLEN)
        lb = MAXLEN;
    int prev[MAXLEN + 1], cur[MAXLEN + 1];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int same = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]);
            int best = prev[j - 1] + (same ? 0 : 1);
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            cur[j] = best;
        }
        memcpy(prev, cur, sizeof prev);
    }
    return prev[lb];
}

const char *txt_nearest(const char *word, const char *const *candidates, size_t n)
{
    int limit = (int)(strlen(word) / 3);
    if (limit < 2)
        limit = 2;
    const char *best = NULL;
    int best_d = limit + 1;
    for (size_t i = 0; i < n; i++) {
        if (!candidates[i])
            continue;
        int d = txt_edit_distance(word, candidates[i]);
        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    return best;
}

char *txt_dup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

char *txt_trim(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    size_t k = 0;
    while (s[k] && isspace((unsigned char)s[k]))
        k++;
    if (k)
        memmove(s, s + k, n - k + 1);
    return s;
}

int txt_valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 40)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '-' && c != '_' && c != '.')
            return 0;
    }
    return 1;
}

void txt_json_str(FILE *f, const char *text)
{
    char *inert = txt_inert_dup(text ? text : ""); /* controls, DEL, C1 as \xNN first */
    fputc('"', f);
    for (const char *s = inert ? inert : ""; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
    free(inert);
}

void txt_json_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.10g", v);
    else
        fputs("null", f);
}

/* Bytes of the inert UTF-8 sequence starting at s (n bytes left), or 0 when s[0] starts a
 * control character, DEL, a C1 control or invalid UTF-8 (overlong, surrogate, over U+10FFFF,
 * cut short). */
static size_t inert_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return (c >= 0x20 && c != 0x7f) || c == '\t' ? 1 : 0;
    size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
    if (len == 0 || c > 0xf4 || len > n)
        return 0;
    unsigned cp = c & (0x3f >> (len - 1));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    static const unsigned min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    if (cp >= 0x80 && cp <= 0x9f) /* C1 controls: 0x9b is CSI on some terminals */
        return 0;
    return len;
}

size_t txt_inert_len(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t k = inert_seq(u + i, n - i);
        if (k == 0)
            return i;
        i += k;
    }
    return n;
}

/* Calls put(ctx, piece, len) for each inert run and each \xNN escape of s. */
static void inert_walk(const char *s, int keep_newlines,
                       void (*put)(void *ctx, const char *piece, size_t len), void *ctx)
{
    size_t n = strlen(s), i = 0;
    while (i < n) {
        size_t ok = txt_inert_len(s + i, n - i);
        if (ok) {
            put(ctx, s + i, ok);
            i += ok;
            continue;
        }
        if (keep_newlines && s[i] == '\n') {
            put(ctx, "\n", 1);
        } else {
            char esc[5];
            snprintf(esc, sizeof esc, "\\x%02x", (unsigned char)s[i]);
            put(ctx, esc, 4);
        }
        i++;
    }
}

static void put_file(void *ctx, const char *piece, size_t len)
{
    fwrite(piece, 1, len, ctx);
}

void txt_inert_put(FILE *f, const char *s, int keep_newlines)
{
    if (s)
        inert_walk(s, keep_newlines, put_file, f);
}

typedef struct {
    char *buf;
    size_t cap, len;
    int full;
} InertBuf;

/* Appends piece whole or not at all (an escape is never cut); len 0 buffers count only. */
static void put_buf(void *ctx, const char *piece, size_t len)
{
    InertBuf *b = ctx;
    if (b->full)
        return;
    if (!b->buf) {
        b->len += len;
        return;
    }
    size_t room = b->cap - 1 - b->len;
    size_t k = len;
    if (k > room) {
        b->full = 1;
        /* a run of plain text may be cut at a UTF-8 boundary; an escape may not */
        k = piece[0] == '\\' && len == 4 ? 0 : room;
        while (k > 0 && k < len && ((unsigned char)piece[k] & 0xc0) == 0x80)
            k--;
    }
    memcpy(b->buf + b->len, piece, k);
    b->len += k;
}

char *txt_inert(const char *s, char *buf, size_t cap)
{
    if (cap == 0)
        return buf;
    InertBuf b = {buf, cap, 0, 0};
    if (s)
        inert_walk(s, 0, put_buf, &b);
    buf[b.len] = '\0';
    return buf;
}

char *txt_inert_dup(const char *s)
{
    if (!s)
        return NULL;
    InertBuf count = {NULL, 0, 0, 0};
    inert_walk(s, 0, put_buf, &count);
    char *p = malloc(count.len + 1);
    if (p)
        txt_inert(s, p, count.len + 1);
    return p;
}

/* ---- the inert stream ---- */

typedef struct {
    FILE *raw;
    unsigned char pending[4]; /* the start of a UTF-8 sequence the last write cut */
    size_t n_pending;
} InertCookie;

/* Non-zero when s (n bytes) is the valid start of a longer UTF-8 sequence than n. */
static int utf8_cut(const unsigned char *s, size_t n)
{
    size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
    if (len == 0 || s[0] > 0xf4 || n >= len)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return 1;
}

/* Writes p (n bytes) to raw, inert; keeps a cut sequence at the end in k->pending unless
 * final. Returns -1 when raw fails. */
static int inert_emit(InertCookie *k, const unsigned char *p, size_t n, int final)
{
    size_t i = 0;
    while (i < n) {
        size_t run = txt_inert_len((const char *)p + i, n - i);
        if (run) {
            if (fwrite(p + i, 1, run, k->raw) != run)
                return -1;
            i += run;
            continue;
        }
        if (!final && utf8_cut(p + i, n - i)) {
            memcpy(k->pending, p + i, n - i);
            k->n_pending = n - i;
            return 0;
        }
        if (p[i] == '\n')
            fputc('\n', k->raw);
        else
            fprintf(k->raw, "\\x%02x", p[i]);
        i++;
    }
    return ferror(k->raw) ? -1 : 0;
}

static ssize_t inert_write(void *cookie, const char *buf, size_t size)
{
    InertCookie *k = cookie;
    const unsigned char *p = (const unsigned char *)buf;
    if (k->n_pending) {
        /* finish the cut sequence first: at most 3 more bytes decide it */
        unsigned char joint[8];
        size_t take = size < 4 ? size : 4, n = k->n_pending;
        memcpy(joint, k->pending, n);
        memcpy(joint + n, p, take);
        k->n_pending = 0;
        size_t seq = inert_seq(joint, n + take);
        if (seq > n) {
            if (fwrite(joint, 1, seq, k->raw) != seq)
                return -1;
            p += seq - n;
            size -= seq - n;
        } else if (utf8_cut(joint, n + take)) {
            memcpy(k->pending, joint, n + take);
            k->n_pending = n + take;
            return (ssize_t)take;
        } else if (inert_emit(k, joint, n, 1)) { /* not a sequence after all: escape it */
            return -1;
        }
        size_t done = (size_t)(p - (const unsigned char *)buf);
        if (inert_emit(k, p, size, 0))
            return -1;
        return (ssize_t)(done + size);
    }
    if (inert_emit(k, p, size, 0))
        return -1;
    return (ssize_t)size;
}

static int inert_close(void *cookie)
{
    InertCookie *k = cookie;
    int rc = k->n_pending ? inert_emit(k, k->pending, k->n_pending, 1) : 0;
    if (fflush(k->raw))
        rc = -1;
    free(k);
    return rc ? EOF : 0;
}

FILE *txt_inert_stream(FILE *raw)
{
    InertCookie *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->raw = raw;
    cookie_io_functions_t io = {.read = NULL, .write = inert_write, .seek = NULL,
                                .close = inert_close};
    FILE *f = fopencookie(k, "w", io);
    if (!f)
        free(k);
    return f;
}

const char *txt_fmt(double v, char *buf, int size)
{
    double a = fabs(v);
    if (!isfinite(v)) { /* never "nan" or "inf" on a page: not applicable */
        snprintf(buf, (size_t)size, "n/a");
    } else if (v == 0.0) {
        snprintf(buf, (size_t)size, "0");
    } else if (a >= 1e15 || a < 1e-4) {
        snprintf(buf, (size_t)size, "%.4g", v);
    } else if (a >= 1000.0) {
        char digits[32];
        snprintf(digits, sizeof digits, "%.0f", a);
        size_t n = strlen(digits), o = 0;
        char out[48];
        if (v < 0)
            out[o++] = '-';
        for (size_t i = 0; i < n; i++) {
            if (i > 0 && (n - i) % 3 == 0)
                out[o++] = ',';
            out[o++] = digits[i];
        }
        out[o] = '\0';
        snprintf(buf, (size_t)size, "%s", out);
    } else {
        snprintf(buf, (size_t)size, "%.4g", v);
    }
    return buf;
}
