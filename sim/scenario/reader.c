/* reader: pass one. Feeds libinih through our own line reader, which counts lines and refuses
 * what the contract forbids (long or indented lines, `key: value`, bad section lines, text that
 * is not inert), and collects raw sections with their line numbers. Knows no keys. */
#include <ini.h>
#include <string.h>

#include "sim/scenario/parse.h"
#include "sim/text/text.h"

const char *const SCN_SEC_NAMES[SEC_COUNT] = {
    "scenario", "model",   "chip",     "workload", "fleet",   "pricing",
    "sweep",    "compare", "optimize", "question", "distill", "task", "traffic",
};
void scn_raw_free(RawParse *rp)
{
    for (int i = 0; i < rp->n_secs; i++) {
        RawSection *s = &rp->secs[i];
        for (int k = 0; k < s->n_kv; k++) {
            free(s->kv[k].key);
            free(s->kv[k].value);
        }
        free(s->kv);
        free(s->name);
    }
    free(rp->secs);
    rp->secs = NULL;
    rp->n_secs = 0;
}

static int raw_fail(RawParse *rp, int code, const char *fmt, const char *a, const char *b)
{
    char msg[TS_ERR_MSG_MAX];
    snprintf(msg, sizeof msg, fmt, a ? a : "", b ? b : "");
    ts_err_set(rp->err, code, "%s:%d: %s", rp->path, rp->line, msg);
    rp->failed = code;
    return code;
}

/* Parses a section line `[kind]` or `[kind NAME]` (already known to start with '['). */
static int raw_section(RawParse *rp, const char *line)
{
    const char *close = strchr(line, ']');
    if (!close)
        return raw_fail(rp, TS_EINPUT, "expected ']' to close the section line", NULL, NULL);
    const char *rest = close + 1;
    while (*rest == ' ' || *rest == '\t')
        rest++;
    if (*rest && *rest != ';' && *rest != '#')
        return raw_fail(rp, TS_EINPUT, "unexpected text after ']': '%s'", rest, NULL);
    if (close - line + 1 > SCN_MAX_SECTION_LINE)
        return raw_fail(rp, TS_EINPUT, "section line longer than 48 characters", NULL, NULL);
    char inner[SCN_MAX_SECTION_LINE + 1];
    size_t n = (size_t)(close - line - 1);
    memcpy(inner, line + 1, n);
    inner[n] = '\0';
    char kind[SCN_MAX_SECTION_LINE + 1] = "", name[SCN_MAX_SECTION_LINE + 1] = "",
                                     extra[SCN_MAX_SECTION_LINE + 1] = "";
    int words = sscanf(inner, "%48s %48s %48s", kind, name, extra);
    if (words < 1)
        return raw_fail(rp, TS_EINPUT, "empty section name '[]'", NULL, NULL);
    if (words > 2)
        return raw_fail(
            rp, TS_EINPUT,
            "expected [section] or [section NAME], got '[%s]' (a NAME has no spaces)", inner,
            NULL);
    int kind_id = -1;
    for (int i = 0; i < SEC_COUNT; i++)
        if (txt_eq_nocase(kind, SCN_SEC_NAMES[i]))
            kind_id = i;
    if (kind_id < 0) {
        const char *near = txt_nearest(kind, SCN_SEC_NAMES, SEC_COUNT);
        char hint[96] = "";
        if (near)
            snprintf(hint, sizeof hint, "; did you mean [%s]?", near);
        return raw_fail(rp, TS_EINPUT, "unknown section [%s]%s", kind, hint);
    }
    if (words == 2 && !txt_valid_name(name))
        return raw_fail(rp, TS_EINPUT,
                        "bad name '%s': use letters, digits, '-', '_' and '.' (at most 40)", name,
                        NULL);
    int named =
        kind_id == SEC_MODEL || kind_id == SEC_CHIP || kind_id == SEC_FLEET || kind_id == SEC_TASK;
    int unnamed = kind_id == SEC_SCENARIO || kind_id == SEC_WORKLOAD || kind_id == SEC_SWEEP ||
                  kind_id == SEC_COMPARE || kind_id == SEC_OPTIMIZE || kind_id == SEC_QUESTION ||
                  kind_id == SEC_DISTILL;
    if (named && words < 2)
        return raw_fail(rp, TS_EINPUT, "[%s] needs a name: [%s NAME]", SCN_SEC_NAMES[kind_id],
                        SCN_SEC_NAMES[kind_id]);
    if (unnamed && words == 2)
        return raw_fail(rp, TS_EINPUT, "[%s] takes no name; write [%s]", SCN_SEC_NAMES[kind_id],
                        SCN_SEC_NAMES[kind_id]);
    if (rp->n_secs >= SCN_MAX_SECTIONS)
        return raw_fail(rp, TS_EINPUT, "more than 1000 sections", NULL, NULL);
    if (rp->n_secs == rp->cap_secs) {
        int cap = rp->cap_secs ? rp->cap_secs * 2 : 16;
        RawSection *p = realloc(rp->secs, sizeof *p * (size_t)cap);
        if (!p)
            return raw_fail(rp, TS_ENOMEM, "out of memory", NULL, NULL);
        rp->secs = p;
        rp->cap_secs = cap;
    }
    RawSection *s = &rp->secs[rp->n_secs];
    memset(s, 0, sizeof *s);
    s->kind = (SecKind)kind_id;
    s->line = rp->line;
    if (words == 2 && !(s->name = txt_dup(name)))
        return raw_fail(rp, TS_ENOMEM, "out of memory", NULL, NULL);
    rp->n_secs++;
    return 0;
}

/* Checks a `key = value` line before libinih sees it. */
static int raw_key_line(RawParse *rp, const char *line)
{
    const char *eq = strchr(line, '=');
    const char *colon = strchr(line, ':');
    if (!eq && colon)
        return raw_fail(rp, TS_EINPUT,
                        "expected 'key = value': only '=' separates a key from its value", NULL,
                        NULL);
    if (!eq)
        return raw_fail(rp, TS_EINPUT, "expected 'key = value' or a [section] line, got '%s'", line,
                        NULL);
    if (colon && colon < eq)
        return raw_fail(rp, TS_EINPUT,
                        "expected 'key = value': only '=' separates a key from its value", NULL,
                        NULL);
    const char *k = line;
    while (k < eq && (*k == ' ' || *k == '\t'))
        k++;
    if (k == eq)
        return raw_fail(rp, TS_EINPUT, "missing key before '='", NULL, NULL);
    return 0;
}

/* Non-zero when the physical line start (n bytes) is blank or a comment: such lines never
 * reach any output, so they may hold any bytes. */
static int raw_comment_or_blank(const char *start, size_t n)
{
    size_t i = 0;
    while (i < n && (start[i] == ' ' || start[i] == '\t'))
        i++;
    return i == n || start[i] == ';' || start[i] == '#';
}

/* libinih's fgets-style reader: hands over one physical line at a time, so libinih's line
 * count and ours agree, after checking what libinih would accept but the contract does not. */
static char *raw_reader(char *str, int num, void *stream)
{
    RawParse *rp = stream;
    if (rp->failed || rp->pos >= rp->len)
        return NULL;
    const char *start = rp->text + rp->pos;
    const char *nl = memchr(start, '\n', rp->len - rp->pos);
    size_t n = nl ? (size_t)(nl - start) : rp->len - rp->pos;
    rp->pos += n + (nl ? 1 : 0);
    rp->line++;
    if (rp->line == 1 && n >= 3 && memcmp(start, "\xEF\xBB\xBF", 3) == 0) {
        start += 3;
        n -= 3;
    }
    if (n > 0 && start[n - 1] == '\r')
        n--;
    if (!raw_comment_or_blank(start, n)) {
        size_t ok = txt_inert_len(start, n);
        if (ok < n) {
            char byte[8], col[24];
            snprintf(byte, sizeof byte, "\\x%02x", (unsigned char)start[ok]);
            snprintf(col, sizeof col, "%zu", ok + 1);
            raw_fail(rp, TS_EINPUT,
                     (unsigned char)start[ok] >= 0x80
                         ? "byte %s at column %s is not printable UTF-8 (C1 control or invalid "
                           "sequence); text must be printable UTF-8"
                         : "control character %s at column %s; text must be printable UTF-8 "
                           "(tabs allowed)",
                     byte, col);
            return NULL;
        }
    }
    if (n > SCN_MAX_LINE) {
        char len[32];
        snprintf(len, sizeof len, "%zu", n);
        raw_fail(rp, TS_EINPUT, "line is %s characters long; at most 199 are allowed", len, NULL);
        return NULL;
    }
    if ((int)n + 1 > num) { /* cannot happen with libinih's 200-byte buffer; be safe */
        raw_fail(rp, TS_EINPUT, "line too long for the INI parser", NULL, NULL);
        return NULL;
    }
    memcpy(str, start, n);
    str[n] = '\0';
    const char *p = str;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0' || *p == ';' || *p == '#')
        return str;
    if (p != str) {
        raw_fail(rp, TS_EINPUT,
                 "lines must not be indented (an indented line would continue "
                 "the previous value)",
                 NULL, NULL);
        return NULL;
    }
    int rc = *p == '[' ? raw_section(rp, str) : raw_key_line(rp, str);
    return rc ? NULL : str;
}

static int raw_handler(void *user, const char *section, const char *name, const char *value)
{
    (void)section; /* our reader already knows the current section */
    RawParse *rp = user;
    if (rp->failed)
        return 0;
    if (rp->n_secs == 0) {
        raw_fail(rp, TS_EINPUT, "'%s' is outside any section; start with [scenario]", name, NULL);
        return 0;
    }
    RawSection *s = &rp->secs[rp->n_secs - 1];
    for (int i = 0; i < s->n_kv; i++)
        if (strcmp(s->kv[i].key, name) == 0) {
            char first[32];
            snprintf(first, sizeof first, "%d", s->kv[i].line);
            raw_fail(rp, TS_EINPUT, "key '%s' given twice in one section (first at line %s)", name,
                     first);
            return 0;
        }
    if (s->n_kv >= SCN_MAX_KEYS) {
        raw_fail(rp, TS_EINPUT, "more than 200 keys in one section", NULL, NULL);
        return 0;
    }
    if (s->n_kv == s->cap_kv) {
        int cap = s->cap_kv ? s->cap_kv * 2 : 8;
        RawKV *p = realloc(s->kv, sizeof *p * (size_t)cap);
        if (!p) {
            raw_fail(rp, TS_ENOMEM, "out of memory", NULL, NULL);
            return 0;
        }
        s->kv = p;
        s->cap_kv = cap;
    }
    RawKV *kv = &s->kv[s->n_kv];
    kv->key = txt_dup(name);
    kv->value = txt_dup(value);
    kv->line = rp->line;
    if (!kv->key || !kv->value) {
        free(kv->key);
        free(kv->value);
        raw_fail(rp, TS_ENOMEM, "out of memory", NULL, NULL);
        return 0;
    }
    s->n_kv++;
    return 1;
}

int scn_raw_parse(RawParse *rp)
{
    int rc = ini_parse_stream(raw_reader, rp, raw_handler, rp);
    if (rp->failed)
        return rp->failed;
    if (rc > 0) {
        rp->line = rc;
        return raw_fail(rp, TS_EINPUT, "expected 'key = value' or a [section] line", NULL, NULL);
    }
    if (rc < 0)
        return raw_fail(rp, TS_ENOMEM, "the INI parser ran out of memory", NULL, NULL);
    return 0;
}
