/* text: small string helpers shared by the scenario parser and the catalogs: strict number
 * parsing, case-insensitive names, "did you mean" suggestions by edit distance, JSON strings
 * and numbers, and the one rule for inert text.
 *
 * Inert text (docs/text-rule.md): a byte sequence is inert when it is valid UTF-8 holding no
 * C0 control but TAB, no DEL and no C1 control (U+0080-U+009F). Scenario and catalog readers
 * refuse any other text with FILE:LINE (txt_inert_len); everything else that reaches a person
 * (an error message that quotes its input, text read back from a database, a model file's
 * name) is written through txt_inert / txt_inert_put, which spell each offending byte \xNN.
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

/* Writes s to f as a JSON string: inert first (txt_inert), then quotes and backslashes
 * escaped. */
void txt_json_str(FILE *f, const char *s);

/* Writes v to f as a JSON number to 10 significant figures, or null when not finite. */
void txt_json_num(FILE *f, double v);

/* The length of the longest inert prefix of s (its first n bytes): n when all of it is inert,
 * else the offset of the first byte that starts a control, DEL, C1 or invalid UTF-8. */
size_t txt_inert_len(const char *s, size_t n);

/* Copies s into buf (size cap, always terminated when cap > 0) with every byte that is not
 * inert written as \xNN; a cut copy ends on a whole escape. Returns buf. */
char *txt_inert(const char *s, char *buf, size_t cap);

/* Writes s to f with every byte that is not inert written as \xNN; keep_newlines leaves '\n'
 * as it is (for multi-line text the program itself wrote). */
void txt_inert_put(FILE *f, const char *s, int keep_newlines);

/* A stream that writes to raw everything put to it, inert: each byte that is not inert as
 * \xNN, newlines kept, a UTF-8 sequence cut between two writes joined again. Closing it
 * writes what is pending and flushes raw (raw itself stays open). NULL when the C library
 * cannot make one (the caller then keeps raw). The program's stdout and stderr are these. */
FILE *txt_inert_stream(FILE *raw);

/* A malloc'ed inert copy of s (as txt_inert, no limit); NULL when s is NULL or memory runs
 * out. */
char *txt_inert_dup(const char *s);

/* Formats v for people: grouped integers from 1,000 up, else 4 significant figures; "n/a"
 * when v is not finite (a person never reads "nan" or "inf"). */
const char *txt_fmt(double v, char *buf, int size);

#endif
