/* catalog: the CSV catalogs in data/ (chips, models, electricity, api_prices), read with
 * libcsv into tables of strings with their line numbers. It checks the header against the
 * columns a caller allows, numbers in numeric columns, and that every row has a unique name,
 * a source, a date and a confidence. It does not know what the columns mean. */
#ifndef TS_SIM_CATALOG_H
#define TS_SIM_CATALOG_H

#include "models/tserr.h"

typedef struct {
    char *path;     /* the file it was read from */
    int n_cols;
    char **cols;    /* (n_cols) header names */
    int n_rows;
    char **cells;   /* (n_rows, n_cols) cell text, "" when empty */
    int *lines;     /* (n_rows) line number where each row starts */
} CatTable;

/* What a table may hold: every column must be in `columns`; those also in `numeric` must be
 * empty or a finite number. `name`, `source`, `as_of` and `confidence` are always required. */
typedef struct {
    const char *const *columns;
    int n_columns;
    const char *const *numeric;
    int n_numeric;
} CatSchema;

/* Reads the CSV file at path into t (caller-owned, released with cat_table_fini).
 * Errors: TS_EIO when the file cannot be read, TS_EINPUT with "PATH:LINE: ..." for bad content. */
int cat_table_load(CatTable *t, const char *path, const CatSchema *schema, TsErr *err);

/* Frees what t owns; t may be NULL or zeroed. */
void cat_table_fini(CatTable *t);

/* The index of column name, or -1. */
int cat_col(const CatTable *t, const char *name);

/* The row whose `name` equals name case-insensitively, or -1. */
int cat_find_row(const CatTable *t, const char *name);

/* Cell text of row and column (borrowed, "" when empty); column by name, "" when absent. */
const char *cat_cell(const CatTable *t, int row, const char *column);

/* The name closest to name among the table's rows, for "did you mean"; NULL when none is close. */
const char *cat_suggest(const CatTable *t, const char *name);

/* Picks the first of dirs (NULL entries skipped) that holds a readable chips.csv and copies it
 * into out. TS_EINPUT when none does, naming every place tried. */
int cat_find_dir(const char *const *dirs, int n_dirs, char *out, int out_size, TsErr *err);

#endif
