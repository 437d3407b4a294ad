/* html: converts the Markdown that report.c writes into one HTML page with the run's plots.
 * The converter covers what report.c emits (headings, paragraphs, pipe tables with an alignment
 * row, `code`, **bold**, - lists, backslash escapes and the entities &lt; &gt; &amp;); anything
 * else is shown as text. No raw HTML passes through: every character is escaped on output. */
#include "sim/render/html.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char CSS[] =
    "body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222;"
    "line-height:1.4}\n"
    "table{border-collapse:collapse;margin:1em 0;font-size:90%}\n"
    "th,td{border:1px solid #ccc;padding:3px 8px}th{background:#f2f2f2}\n"
    /* a table wider than the page scrolls inside its own box, its first column kept in view */
    ".tw{max-width:100%;overflow-x:auto}.tw table{margin:0}.tw{margin:1em 0}\n"
    ".tw td:first-child,.tw th:first-child{position:sticky;left:0;background:#fff}\n"
    ".tw th:first-child{background:#f2f2f2}\n"
    ".r{text-align:right}.c{text-align:center}.l{text-align:left}\n"
    "code{background:#f4f4f4;padding:0 3px}\n"
    "figure{margin:1.5em 0}img{max-width:100%;height:auto}figcaption{color:#555}\n";

/* Writes one character HTML-escaped. */
static void esc_c(FILE *f, char c)
{
    switch (c) {
    case '&':
        fputs("&amp;", f);
        break;
    case '<':
        fputs("&lt;", f);
        break;
    case '>':
        fputs("&gt;", f);
        break;
    case '"':
        fputs("&quot;", f);
        break;
    case '\'':
        fputs("&#39;", f);
        break;
    default:
        /* the Markdown it reads is inert already; a stray control still cannot pass */
        if (((unsigned char)c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
            fprintf(f, "\\x%02x", (unsigned char)c);
        else
            fputc(c, f);
    }
}

static void esc(FILE *f, const char *s)
{
    for (; s && *s; s++)
        esc_c(f, *s);
}

/* The Markdown entities understood; each is decoded, then escaped again on output. */
static const struct {
    const char *name;
    char c;
} ENTITIES[] = {{"&lt;", '<'},   {"&gt;", '>'},   {"&amp;", '&'},
                {"&quot;", '"'}, {"&#39;", '\''}, {"&apos;", '\''}};

/* At s[i]: a backslash escape or a known entity. Returns the characters consumed (0: neither)
 * and the character meant in *c. */
static size_t md_special(const char *s, size_t i, size_t n, char *c)
{
    if (s[i] == '\\' && i + 1 < n && strchr("\\`*_{}[]()#+-.!|<>&'\"~", s[i + 1]) &&
        s[i + 1] != '\0') {
        *c = s[i + 1];
        return 2;
    }
    if (s[i] == '&') {
        for (size_t k = 0; k < sizeof ENTITIES / sizeof ENTITIES[0]; k++) {
            size_t len = strlen(ENTITIES[k].name);
            if (i + len <= n && strncmp(s + i, ENTITIES[k].name, len) == 0) {
                *c = ENTITIES[k].c;
                return len;
            }
        }
    }
    return 0;
}

/* Finds the closing mark (length mlen) after s[from], skipping backslash escapes; n if none. */
static size_t find_close(const char *s, size_t from, size_t n, const char *mark, size_t mlen)
{
    for (size_t j = from; j + mlen <= n; j++) {
        if (s[j] == '\\' && j + 1 < n) {
            j++;
            continue;
        }
        if (strncmp(s + j, mark, mlen) == 0)
            return j;
    }
    return n;
}

/* Writes s[0..n) as inline Markdown: `code`, **bold**, escapes and entities; wbr adds a line
 * break opportunity (<wbr>) after each '_' outside code, so that a header such as
 * usd_per_m_output can wrap in a narrow column. */
static void md_inline(FILE *f, const char *s, size_t n, int wbr)
{
    for (size_t i = 0; i < n;) {
        char c;
        size_t used = md_special(s, i, n, &c);
        if (used) {
            esc_c(f, c);
            i += used;
            continue;
        }
        if (s[i] == '`') {
            size_t end = find_close(s, i + 1, n, "`", 1);
            if (end < n) {
                /* report.c escapes inside code spans too, so decode here as well */
                fputs("<code>", f);
                for (size_t j = i + 1; j < end;) {
                    used = md_special(s, j, end, &c);
                    esc_c(f, used ? c : s[j]);
                    j += used ? used : 1;
                }
                fputs("</code>", f);
                i = end + 1;
                continue;
            }
        }
        if (s[i] == '*' && i + 1 < n && s[i + 1] == '*') {
            size_t end = find_close(s, i + 2, n, "**", 2);
            if (end < n && end > i + 2) {
                fputs("<strong>", f);
                md_inline(f, s + i + 2, end - i - 2, wbr);
                fputs("</strong>", f);
                i = end + 2;
                continue;
            }
        }
        esc_c(f, s[i]);
        if (wbr && s[i] == '_')
            fputs("<wbr>", f);
        i++;
    }
}

/* ---- tables ---- */

#define HTML_MAX_CELLS 128

typedef struct {
    const char *at[HTML_MAX_CELLS];
    size_t len[HTML_MAX_CELLS];
    int n;
} Cells;

/* Splits a | row | into trimmed cells; an escaped \| stays inside its cell. */
static void split_row(const char *s, size_t n, Cells *cells)
{
    size_t i = 0;
    cells->n = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i < n && s[i] == '|')
        i++;
    while (n > i && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n > i && s[n - 1] == '|' && !(n >= 2 && s[n - 2] == '\\'))
        n--;
    while (i <= n && cells->n < HTML_MAX_CELLS) {
        size_t j = i;
        while (j < n && s[j] != '|') {
            if (s[j] == '\\' && j + 1 < n)
                j++;
            j++;
        }
        if (j > n)
            j = n;
        size_t a = i, b = j;
        while (a < b && s[a] == ' ')
            a++;
        while (b > a && s[b - 1] == ' ')
            b--;
        cells->at[cells->n] = s + a;
        cells->len[cells->n++] = b - a;
        i = j + 1;
    }
}

/* 1 when every cell is like ---, :---, ---: or :---:, with each cell's alignment class in al. */
static int align_row(const Cells *cells, const char **al)
{
    if (cells->n == 0)
        return 0;
    for (int k = 0; k < cells->n; k++) {
        const char *c = cells->at[k];
        size_t len = cells->len[k], dashes = 0;
        int left = len > 0 && c[0] == ':', right = len > 0 && c[len - 1] == ':';
        for (size_t j = (size_t)left; j + (size_t)right < len; j++) {
            if (c[j] != '-')
                return 0;
            dashes++;
        }
        if (dashes == 0)
            return 0;
        if (k < HTML_MAX_CELLS)
            al[k] = left && right ? "c" : right ? "r" : left ? "l" : NULL;
    }
    return 1;
}

static void write_row(FILE *f, const Cells *cells, const char *const *al, int n_al, int head)
{
    fputs("<tr>", f);
    for (int k = 0; k < cells->n; k++) {
        const char *cls = k < n_al ? al[k] : NULL;
        fprintf(f, "<%s", head ? "th" : "td");
        if (cls)
            fprintf(f, " class=\"%s\"", cls);
        fputc('>', f);
        md_inline(f, cells->at[k], cells->len[k], head);
        fprintf(f, "</%s>", head ? "th" : "td");
    }
    fputs("</tr>\n", f);
}

/* ---- blocks ---- */

enum { B_NONE, B_PARA, B_LIST, B_TABLE };

static void close_block(FILE *f, int *block)
{
    static const char *const END[] = {"", "</p>\n", "</ul>\n", "</tbody></table></div>\n"};
    fputs(END[*block], f);
    *block = B_NONE;
}

/* Converts the Markdown text md (NUL-terminated, modified: lines are split in place). */
static void md_to_html(FILE *f, char *md)
{
    int block = B_NONE, n_al = 0;
    const char *al[HTML_MAX_CELLS];
    Cells cells;
    char *line = md;
    while (line && *line != '\0') {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        size_t n = strlen(line);
        if (n > 0 && line[n - 1] == '\r')
            line[--n] = '\0';
        size_t lead = strspn(line, " \t");
        const char *t = line + lead;
        size_t tn = n - lead;
        size_t hashes = strspn(t, "#");
        if (tn == 0) {
            close_block(f, &block);
        } else if (hashes >= 1 && hashes <= 6 && (t[hashes] == ' ' || t[hashes] == '\0')) {
            close_block(f, &block);
            size_t a = hashes + strspn(t + hashes, " ");
            size_t b = tn;
            while (b > a && (t[b - 1] == ' ' || t[b - 1] == '#'))
                b--;
            fprintf(f, "<h%zu>", hashes);
            md_inline(f, t + a, b - a, 0);
            fprintf(f, "</h%zu>\n", hashes);
        } else if (t[0] == '|') {
            split_row(t, tn, &cells);
            if (block != B_TABLE) {
                close_block(f, &block);
                block = B_TABLE;
                Cells next_cells;
                n_al = 0;
                if (next) {
                    char *end = strchr(next, '\n');
                    size_t nn = end ? (size_t)(end - next) : strlen(next);
                    if (nn > 0 && next[nn - 1] == '\r')
                        nn--;
                    split_row(next, nn, &next_cells);
                    if (next_cells.at[0] && next[strspn(next, " \t")] == '|' &&
                        align_row(&next_cells, al)) {
                        n_al = next_cells.n;
                        fputs("<div class=\"tw\"><table>\n<thead>", f);
                        write_row(f, &cells, al, n_al, 1);
                        fputs("</thead>\n<tbody>\n", f);
                        next = end ? end + 1 : NULL;
                        line = next;
                        continue;
                    }
                }
                fputs("<div class=\"tw\"><table>\n<tbody>\n", f);
            }
            write_row(f, &cells, al, n_al, 0);
        } else if ((t[0] == '-' || t[0] == '*') && t[1] == ' ') {
            if (block != B_LIST) {
                close_block(f, &block);
                fputs("<ul>\n", f);
                block = B_LIST;
            }
            fputs("<li>", f);
            md_inline(f, t + 2, tn - 2, 0);
            fputs("</li>\n", f);
        } else {
            if (block == B_PARA) {
                fputc('\n', f);
            } else {
                close_block(f, &block);
                fputs("<p>", f);
                block = B_PARA;
            }
            md_inline(f, t, tn, 0);
        }
        line = next;
    }
    close_block(f, &block);
}

/* Reads a whole file into a NUL-terminated buffer (owned by the caller). */
static int read_all(const char *path, char **out, TsErr *err)
{
    FILE *f = fopen(path, "rb");
    size_t cap = 1 << 16, used = 0;
    char *buf = NULL;
    *out = NULL;
    if (!f)
        return ts_err_set(err, TS_EIO, "cannot read %s: %s", path, strerror(errno));
    for (;;) {
        char *grown = realloc(buf, cap + 1);
        if (!grown) {
            free(buf);
            fclose(f);
            return ts_err_set(err, TS_ENOMEM, "out of memory reading %s", path);
        }
        buf = grown;
        used += fread(buf + used, 1, cap - used, f);
        if (used < cap)
            break;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return ts_err_set(err, TS_EIO, "cannot read %s", path);
    }
    buf[used] = '\0';
    *out = buf;
    return 0;
}

static int exists_in(const char *dir, const char *name, const char *ext)
{
    char path[4096];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext);
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0;
}

static void write_plots(FILE *f, const char *dir, const PlotResult *plots)
{
    if (!plots || plots->n == 0)
        return;
    fputs("<h2>Plots</h2>\n", f);
    if (plots->note[0]) {
        fputs("<p>Note: ", f);
        esc(f, plots->note);
        fputs(".</p>\n", f);
    }
    for (int i = 0; i < plots->n; i++) {
        const PlotItem *it = &plots->items[i];
        const char *ext = exists_in(dir, it->name, "svg")   ? "svg"
                          : exists_in(dir, it->name, "png") ? "png"
                                                            : NULL;
        if (!ext) {
            fputs("<p>", f);
            esc(f, it->title);
            fputs(": no image; draw it with <code>gnuplot ", f);
            esc(f, it->name);
            fputs(".gp</code> in this folder.</p>\n", f);
            continue;
        }
        fputs("<figure><img src=\"", f);
        esc(f, it->name);
        fprintf(f, ".%s\" alt=\"", ext);
        esc(f, it->title);
        fputs("\"><figcaption>", f);
        esc(f, it->title);
        fputs(" (<code>", f);
        esc(f, it->name);
        fputs(".gp</code>, <code>", f);
        esc(f, it->name);
        fputs(".dat</code>)</figcaption></figure>\n", f);
    }
}

int html_write_report(const char *dir, const char *md_path, const PlotResult *plots,
                      const char *title, TsErr *err)
{
    char tmp[4096], final[4096];
    char *md = NULL;
    if (md_path) {
        int rc = read_all(md_path, &md, err);
        if (rc)
            return rc;
    }
    if (snprintf(tmp, sizeof tmp, "%s/.report.html.tmp", dir) >= (int)sizeof tmp ||
        snprintf(final, sizeof final, "%s/report.html", dir) >= (int)sizeof final) {
        free(md);
        return ts_err_set(err, TS_EIO, "folder name too long: %s", dir);
    }
    FILE *f = fopen(tmp, "w");
    if (!f) {
        free(md);
        return ts_err_set(err, TS_EIO, "cannot write %s: %s", tmp, strerror(errno));
    }
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>", f);
    esc(f, title ? title : "tokensim report");
    fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n", CSS);
    if (md)
        md_to_html(f, md);
    write_plots(f, dir, plots);
    fputs("</body>\n</html>\n", f);
    free(md);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        int e = errno;
        unlink(tmp);
        return ts_err_set(err, TS_EIO, "cannot write %s: %s", tmp, strerror(e));
    }
    if (rename(tmp, final) != 0) {
        int e = errno;
        unlink(tmp);
        return ts_err_set(err, TS_EIO, "cannot rename %s to %s: %s", tmp, final, strerror(e));
    }
    return 0;
}
