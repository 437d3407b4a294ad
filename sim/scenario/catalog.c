/* catalog: loads one CSV catalog with libcsv, one physical line at a time so that every row
 * knows the line it starts on, and validates its shape. It never interprets values beyond
 * "is this a number"; sim/scenario/scenario.c maps columns to scenario keys. */
#include "sim/scenario/catalog.h"

#include <csv.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/text/text.h"

#define CAT_MAX_COLS 64
#define CAT_MAX_ROWS 100000
#define CAT_MAX_CELL 4096

typedef struct {
    CatTable *t;
    char *row[CAT_MAX_COLS];
    int n_row;
    int row_line;      /* line where the current row started */
    int cur_line;      /* line being fed to the parser */
    int row_open;      /* a row has started and not yet ended */
    int header_done;
    int failed;
    TsErr *err;
    const CatSchema *schema;
} LoadState;

static void row_reset(LoadState *st)
{
    for (int i = 0; i < st->n_row; i++)
        free(st->row[i]);
    st->n_row = 0;
}

static int blank_line(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)s[i]))
            return 0;
    return 1;
}

/* As txt_inert_len, but a quoted cell may span lines: its newlines (and CRs) are allowed. */
static size_t cell_inert_len(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        i += txt_inert_len(s + i, n - i);
        if (i < n && s[i] != '\n' && s[i] != '\r')
            return i;
        if (i < n)
            i++;
    }
    return n;
}

static void on_field(void *data, size_t len, void *ctx)
{
    LoadState *st = ctx;
    if (st->failed)
        return;
    if (st->n_row >= CAT_MAX_COLS) {
        st->failed = ts_err_set(st->err, TS_EINPUT, "%s:%d: more than %d columns", st->t->path,
                                st->cur_line, CAT_MAX_COLS);
        return;
    }
    if (len > CAT_MAX_CELL) {
        st->failed = ts_err_set(st->err, TS_EINPUT, "%s:%d: a cell longer than %d bytes",
                                st->t->path, st->cur_line, CAT_MAX_CELL);
        return;
    }
    size_t ok = cell_inert_len(data, len);
    if (ok < len) {
        st->failed = ts_err_set(st->err, TS_EINPUT,
                                "%s:%d: control character or invalid UTF-8 (byte \\x%02x) in a "
                                "cell; text must be printable UTF-8",
                                st->t->path, st->cur_line, ((const unsigned char *)data)[ok]);
        return;
    }
    char *s = malloc(len + 1);
    if (!s) {
        st->failed = ts_err_set(st->err, TS_ENOMEM, "out of memory reading %s", st->t->path);
        return;
    }
    if (len)
        memcpy(s, data, len);
    s[len] = '\0';
    st->row[st->n_row++] = s;
}

static int in_list(const char *name, const char *const *list, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(name, list[i]) == 0)
            return 1;
    return 0;
}

static int take_header(LoadState *st)
{
    CatTable *t = st->t;
    const CatSchema *sc = st->schema;
    t->n_cols = st->n_row;
    t->cols = calloc((size_t)t->n_cols, sizeof *t->cols);
    if (!t->cols)
        return ts_err_set(st->err, TS_ENOMEM, "out of memory reading %s", t->path);
    for (int i = 0; i < st->n_row; i++) {
        txt_trim(st->row[i]);
        t->cols[i] = st->row[i];
        st->row[i] = NULL;
        if (!in_list(t->cols[i], sc->columns, sc->n_columns)) {
            const char *near = txt_nearest(t->cols[i], sc->columns, (size_t)sc->n_columns);
            return ts_err_set(st->err, TS_EINPUT, "%s:%d: unknown column '%s'%s%s%s", t->path,
                              st->row_line, t->cols[i], near ? "; did you mean '" : "",
                              near ? near : "", near ? "'?" : "");
        }
        for (int j = 0; j < i; j++)
            if (strcmp(t->cols[i], t->cols[j]) == 0)
                return ts_err_set(st->err, TS_EINPUT, "%s:%d: column '%s' appears twice",
                                  t->path, st->row_line, t->cols[i]);
    }
    st->n_row = 0;
    static const char *const required[] = {"name", "source", "as_of", "confidence"};
    for (int r = 0; r < 4; r++)
        if (cat_col(t, required[r]) < 0)
            return ts_err_set(st->err, TS_EINPUT, "%s:%d: the header has no '%s' column",
                              t->path, st->row_line, required[r]);
    return 0;
}

static int take_row(LoadState *st)
{
    CatTable *t = st->t;
    const CatSchema *sc = st->schema;
    int line = st->row_line;
    if (st->n_row != t->n_cols)
        return ts_err_set(st->err, TS_EINPUT, "%s:%d: %d cells, expected %d as in the header",
                          t->path, line, st->n_row, t->n_cols);
    if (t->n_rows >= CAT_MAX_ROWS)
        return ts_err_set(st->err, TS_EINPUT, "%s:%d: more than %d rows", t->path, line,
                          CAT_MAX_ROWS);
    for (int i = 0; i < t->n_cols; i++) {
        txt_trim(st->row[i]);
        const char *v = st->row[i];
        double d;
        if (v[0] && in_list(t->cols[i], sc->numeric, sc->n_numeric) &&
            txt_parse_double(v, &d) != 0)
            return ts_err_set(st->err, TS_EINPUT, "%s:%d: column '%s': expected a number, got '%s'",
                              t->path, line, t->cols[i], v);
    }
    static const char *const required[] = {"name", "source", "as_of", "confidence"};
    for (int r = 0; r < 4; r++)
        if (st->row[cat_col(t, required[r])][0] == '\0')
            return ts_err_set(st->err, TS_EINPUT, "%s:%d: empty '%s'; every row needs one",
                              t->path, line, required[r]);
    const char *name = st->row[cat_col(t, "name")];
    if (!txt_valid_name(name))
        return ts_err_set(st->err, TS_EINPUT,
                          "%s:%d: bad name '%s' (letters, digits, '-', '_', '.'; at most 40)",
                          t->path, line, name);
    if (cat_find_row(t, name) >= 0)
        return ts_err_set(st->err, TS_EINPUT, "%s:%d: name '%s' appears twice", t->path, line,
                          name);
    const char *conf = st->row[cat_col(t, "confidence")];
    if (strlen(conf) != 1 || !strchr("PSED", conf[0]))
        return ts_err_set(st->err, TS_EINPUT, "%s:%d: confidence must be P, S, E or D, got '%s'",
                          t->path, line, conf);
    char **cells = realloc(t->cells, sizeof *cells * (size_t)(t->n_rows + 1) * (size_t)t->n_cols);
    int *lines = realloc(t->lines, sizeof *lines * (size_t)(t->n_rows + 1));
    if (cells)
        t->cells = cells;
    if (lines)
        t->lines = lines;
    if (!cells || !lines)
        return ts_err_set(st->err, TS_ENOMEM, "out of memory reading %s", t->path);
    for (int i = 0; i < t->n_cols; i++) {
        t->cells[t->n_rows * t->n_cols + i] = st->row[i];
        st->row[i] = NULL;
    }
    t->lines[t->n_rows] = line;
    t->n_rows++;
    st->n_row = 0;
    return 0;
}

static void on_row(int term, void *ctx)
{
    (void)term;
    LoadState *st = ctx;
    st->row_open = 0;
    if (st->failed)
        return;
    /* A blank line gives a row of one empty field: skip it. */
    if (st->n_row == 1 && st->row[0][0] == '\0') {
        row_reset(st);
        return;
    }
    int rc = st->header_done ? take_row(st) : take_header(st);
    st->header_done = 1;
    if (rc)
        st->failed = rc;
    row_reset(st);
}

int cat_table_load(CatTable *t, const char *path, const CatSchema *schema, TsErr *err)
{
    memset(t, 0, sizeof *t);
    t->path = txt_dup(path);
    if (!t->path)
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    FILE *f = fopen(path, "rb");
    if (!f)
        return ts_err_set(err, TS_EIO, "cannot read catalog %s", path);
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
        fclose(f);
        return ts_err_set(err, TS_ENOMEM, "cannot start the CSV parser");
    }
    LoadState st = {.t = t, .err = err, .schema = schema};
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while (!st.failed && (n = getline(&line, &cap, f)) >= 0) {
        st.cur_line++;
        if (memchr(line, '\0', (size_t)n)) {
            st.failed = ts_err_set(err, TS_EINPUT, "%s:%d: a NUL byte: not a text CSV file",
                                   path, st.cur_line);
            break;
        }
        /* A row starts on the first non-blank line after the previous row ended; rows may span
         * lines inside quoted cells. */
        if (!st.row_open && !blank_line(line, (size_t)n)) {
            st.row_line = st.cur_line;
            st.row_open = 1;
        }
        if (csv_parse(&p, line, (size_t)n, on_field, on_row, &st) != (size_t)n && !st.failed)
            st.failed = ts_err_set(err, TS_EINPUT, "%s:%d: %s", path, st.cur_line,
                                   csv_strerror(csv_error(&p)));
    }
    int read_error = ferror(f);
    free(line);
    fclose(f);
    if (!st.failed && read_error)
        st.failed = ts_err_set(err, TS_EIO, "error reading %s", path);
    if (!st.failed && csv_fini(&p, on_field, on_row, &st) != 0 && !st.failed)
        st.failed = ts_err_set(err, TS_EINPUT, "%s:%d: %s (an unclosed quote in the row that "
                               "starts here?)", path, st.row_line, csv_strerror(csv_error(&p)));
    csv_free(&p);
    row_reset(&st);
    if (!st.failed && !st.header_done)
        st.failed = ts_err_set(err, TS_EINPUT, "%s:1: empty catalog: expected a header line",
                               path);
    if (st.failed) {
        cat_table_fini(t);
        return st.failed;
    }
    return 0;
}

void cat_table_fini(CatTable *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->n_cols; i++)
        free(t->cols ? t->cols[i] : NULL);
    if (t->cells)
        for (int i = 0; i < t->n_rows * t->n_cols; i++)
            free(t->cells[i]);
    free(t->cols);
    free(t->cells);
    free(t->lines);
    free(t->path);
    memset(t, 0, sizeof *t);
}

int cat_col(const CatTable *t, const char *name)
{
    for (int i = 0; i < t->n_cols; i++)
        if (t->cols[i] && strcmp(t->cols[i], name) == 0)
            return i;
    return -1;
}

int cat_find_row(const CatTable *t, const char *name)
{
    int c = cat_col(t, "name");
    if (c < 0)
        return -1;
    for (int r = 0; r < t->n_rows; r++)
        if (txt_eq_nocase(t->cells[r * t->n_cols + c], name))
            return r;
    return -1;
}

const char *cat_cell(const CatTable *t, int row, const char *column)
{
    int c = cat_col(t, column);
    if (c < 0 || row < 0 || row >= t->n_rows)
        return "";
    return t->cells[row * t->n_cols + c];
}

const char *cat_suggest(const CatTable *t, const char *name)
{
    int c = cat_col(t, "name");
    if (c < 0 || t->n_rows == 0)
        return NULL;
    const char *best = NULL;
    int best_d = 1 << 30;
    for (int r = 0; r < t->n_rows; r++) {
        const char *cand = t->cells[r * t->n_cols + c];
        const char *one[1] = {cand};
        if (txt_nearest(name, one, 1)) {
            int d = txt_edit_distance(name, cand);
            if (d < best_d) {
                best_d = d;
                best = cand;
            }
        }
    }
    return best;
}

int cat_find_dir(const char *const *dirs, int n_dirs, char *out, int out_size, TsErr *err)
{
    char tried[512] = "";
    for (int i = 0; i < n_dirs; i++) {
        if (!dirs[i] || !dirs[i][0])
            continue;
        char probe[4096];
        snprintf(probe, sizeof probe, "%s/chips.csv", dirs[i]);
        if (access(probe, R_OK) == 0) {
            snprintf(out, (size_t)out_size, "%s", dirs[i]);
            return 0;
        }
        size_t used = strlen(tried);
        snprintf(tried + used, sizeof tried - used, "%s%s", used ? ", " : "", dirs[i]);
    }
    return ts_err_set(err, TS_EINPUT,
                      "no catalog folder with chips.csv found (tried: %s); use --data DIR",
                      tried[0] ? tried : "nothing");
}
