/* text: small string helpers shared by the scenario parser and the catalogs: strict number
 * parsing, case-insensitive names, "did you mean" suggestions by edit distance, and JSON
 * strings and numbers.
 * No allocation except where a function says it returns an owned string. */
#ifndef TS_SIM_TEXT_H
#define TS_SIM_TEXT_H

#include <stddef.h>
#include <stdio.h>

/* Parses s as a whole decimal C strtod number (leading/trailing blanks allowed, nothing else).
 * Returns 0 and sets *out when s is a finite number strtod reads without a range error; -1 for
 * an empty string, trailing characters, hex, NaN, infinity, overflow or underflow (1e-310). */
int txt_parse_double(const char *s, double *out);

/* Parses s as a whole number that is an integer (e.g. "8", "8e0") of magnitude at most 9e15
 * (exact in a double); -1 otherwise. */
int txt_parse_int(const char *s, long long *out);

/* Case-insensitive (ASCII) equality of two strings. */
int txt_eq_nocase(const char *a, const char *b);

/* Levenshtein distance between a and b, ASCII case-insensitive; strings over 64 bytes are
 * compared by their first 64 bytes. */
int txt_edit_distance(const char *a, const char *b);

/* The candidate closest to word by edit distance, or NULL when none is within
 * max(2, strlen(word) / 3) edits. candidates has n entries (NULL entries are skipped). */
const char *txt_nearest(const char *word, const char *const *candidates, size_t n);

/* A malloc'ed copy of s (NULL when s is NULL or memory runs out). */
char *txt_dup(const char *s);

/* Trims leading and trailing ASCII blanks in place; returns s. */
char *txt_trim(char *s);

/* Non-zero when s is a valid name: 1-40 chars of letters, digits, '-', '_', '.'. */
int txt_valid_name(const char *s);

/* Writes s to f as a JSON string (quotes, backslashes and control characters escaped). */
void txt_json_str(FILE *f, const char *s);

/* Writes v to f as a JSON number to 10 significant figures, or null when not finite. */
void txt_json_num(FILE *f, double v);

#endif
