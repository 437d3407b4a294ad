/* tokenizer: loading, encoding and decoding of llama2.c's tokenizer.bin (see tokenizer.h).
 * Loading checks every length against the file size before allocating, and all pieces share
 * one block. Encoding follows llama2.c's encode step by step, but looks pairs up without
 * building their concatenation and never writes past the caller's array. It does not sample
 * or run a model, and it does not print the non-printable bytes llama2.c's safe_printf skips. */
#include "models/formats/tokenizer.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "models/engine/config.h"

/* llama2.c's starting best score: a pair scoring at or below it never merges. */
#define TOK_NO_SCORE (-1e10f)

static int mismatch(TsErr *err, const char *path, int vocab_size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* TS_EINPUT "PATH: tokenizer does not match the model (N tokens expected): detail". */
static int mismatch(TsErr *err, const char *path, int vocab_size, const char *fmt, ...)
{
    char detail[TS_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return ts_err_set(err, TS_EINPUT, "%s: tokenizer does not match the model (%d tokens "
                      "expected): %s", path, vocab_size, detail);
}

/* Orders pieces by their bytes as strcmp does, then by id, so duplicate pieces resolve to the
 * lowest id (llama2.c's qsort leaves that order unspecified). */
static int piece_cmp(const void *a, const void *b)
{
    const TokPiece *x = a, *y = b;
    int c = strcmp(x->str, y->str);
    if (c)
        return c;
    return (x->id > y->id) - (x->id < y->id);
}

void tok_fini(Tokenizer *t)
{
    if (!t)
        return;
    free(t->vocab);
    free(t->scores);
    free(t->sorted);
    free(t->strings);
    memset(t, 0, sizeof *t);
}

/* Reads all n bytes or reports how the file fell short. */
static int read_exact(FILE *f, void *dst, size_t n)
{
    return n == 0 || fread(dst, 1, n, f) == n ? 0 : -1;
}

/* Reads the tokens of an opened file of size bytes into t, whose arrays are sized for
 * vocab_size pieces and strings_bytes of piece bytes and NULs. */
static int read_pieces(Tokenizer *t, FILE *f, const char *path, uint64_t size,
                       size_t strings_bytes, TsErr *err)
{
    int v = t->vocab_size;
    uint64_t consumed = 4;
    size_t off = 0;
    for (int i = 0; i < v; i++) {
        unsigned char rec[8];
        if (read_exact(f, rec, sizeof rec))
            return ferror(f) ? ts_err_set(err, TS_EIO, "%s: read failed", path)
                             : mismatch(err, path, v, "the file ends early (token %d)", i);
        int32_t len;
        memcpy(&t->scores[i], rec, 4);
        memcpy(&len, rec + 4, 4);
        consumed += 8;
        if (len < 0)
            return mismatch(err, path, v, "token %d has a negative length %d", i, (int)len);
        if (len > TOK_MAX_PIECE_BYTES)
            return mismatch(err, path, v, "token %d is %d bytes long, over the limit of %d", i,
                            (int)len, TOK_MAX_PIECE_BYTES);
        if (len > t->max_token_length)
            return mismatch(err, path, v, "token %d is %d bytes long, above max_token_length %d",
                            i, (int)len, t->max_token_length);
        /* this piece and the remaining records must still fit in the file; that also keeps
         * off + len + 1 within strings_bytes */
        if (consumed + (uint64_t)len + 8 * (uint64_t)(v - 1 - i) > size)
            return mismatch(err, path, v, "the file ends early (token %d)", i);
        char *dst = t->strings + off;
        if (read_exact(f, dst, (size_t)len))
            return ts_err_set(err, TS_EIO, "%s: read failed%s", path,
                              ferror(f) ? "" : " (the file changed while loading?)");
        dst[len] = '\0';
        t->vocab[i] = dst;
        off += (size_t)len + 1;
        consumed += (uint64_t)len;
    }
    if (consumed != size || off > strings_bytes)
        return mismatch(err, path, v, "%llu trailing bytes after the last token",
                        (unsigned long long)(size - consumed));
    return 0;
}

int tok_load(Tokenizer *t, const char *path, int vocab_size, TsErr *err)
{
    memset(t, 0, sizeof *t);
    if (vocab_size < 1 || vocab_size > CFG_MAX_VOCAB)
        return ts_err_set(err, TS_EINPUT, "%s: vocabulary size %d must be in [1, %d]", path,
                          vocab_size, CFG_MAX_VOCAB);
    FILE *f = fopen(path, "rb");
    if (!f)
        return ts_err_set(err, TS_EIO, "%s: cannot open: %s", path, strerror(errno));
    int rc = 0;
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        rc = ts_err_set(err, TS_EIO, "%s: cannot stat: %s", path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = ts_err_set(err, TS_EIO, "%s: not a regular file", path);
        goto done;
    }
    uint64_t size = (uint64_t)st.st_size;
    int32_t max_len;
    if (size < 4 || read_exact(f, &max_len, 4)) {
        rc = mismatch(err, path, vocab_size, "%llu bytes, no room for the header",
                      (unsigned long long)size);
        goto done;
    }
    if (max_len < 0) {
        rc = mismatch(err, path, vocab_size, "negative max_token_length %d", (int)max_len);
        goto done;
    }
    /* Bound the file by what vocab_size records can hold before sizing anything by it. */
    uint64_t cap = max_len < TOK_MAX_PIECE_BYTES ? (uint64_t)max_len : TOK_MAX_PIECE_BYTES;
    uint64_t least = 4 + 8 * (uint64_t)vocab_size, most = least + cap * (uint64_t)vocab_size;
    if (size < least) {
        rc = mismatch(err, path, vocab_size, "%llu bytes, fewer than %llu for the token records",
                      (unsigned long long)size, (unsigned long long)least);
        goto done;
    }
    if (size > most) {
        rc = mismatch(err, path, vocab_size, "%llu bytes, more than %llu tokens of at most %llu "
                      "bytes take (%llu)", (unsigned long long)size,
                      (unsigned long long)vocab_size, (unsigned long long)cap,
                      (unsigned long long)most);
        goto done;
    }
    size_t strings_bytes = (size_t)(size - least) + (size_t)vocab_size;
    t->vocab_size = vocab_size;
    t->max_token_length = max_len;
    t->vocab = calloc((size_t)vocab_size, sizeof *t->vocab);
    t->scores = calloc((size_t)vocab_size, sizeof *t->scores);
    t->sorted = calloc((size_t)vocab_size, sizeof *t->sorted);
    t->strings = malloc(strings_bytes);
    if (!t->vocab || !t->scores || !t->sorted || !t->strings) {
        rc = ts_err_set(err, TS_ENOMEM, "%s: cannot allocate the vocabulary", path);
        goto done;
    }
    if ((rc = read_pieces(t, f, path, size, strings_bytes, err)))
        goto done;
    for (int i = 0; i < vocab_size; i++)
        t->sorted[i] = (TokPiece){t->vocab[i], i};
    qsort(t->sorted, (size_t)vocab_size, sizeof *t->sorted, piece_cmp);

done:
    fclose(f);
    if (rc)
        tok_fini(t);
    return rc;
}

/* Compares the concatenation a b with s, as strcmp(a b, s) would. */
static int concat_cmp(const char *a, const char *b, const char *s)
{
    const unsigned char *q = (const unsigned char *)s;
    const char *parts[2] = {a, b};
    for (int k = 0; k < 2; k++)
        for (const unsigned char *p = (const unsigned char *)parts[k]; *p; p++, q++)
            if (*p != *q)
                return *p < *q ? -1 : 1;
    return *q ? -1 : 0;
}

/* Id of the piece equal to a b (lowest id among duplicates), or -1. */
static int lookup(const Tokenizer *t, const char *a, const char *b)
{
    int lo = 0, hi = t->vocab_size;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (concat_cmp(a, b, t->sorted[mid].str) > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < t->vocab_size && concat_cmp(a, b, t->sorted[lo].str) == 0)
        return t->sorted[lo].id;
    return -1;
}

/* Appends id to tokens, refusing to overflow. */
static int push(int *tokens, int max_tokens, int *n, int id, TsErr *err)
{
    if (*n >= max_tokens)
        return ts_err_set(err, TS_EINPUT, "the text needs more than %d tokens", max_tokens);
    tokens[(*n)++] = id;
    return 0;
}

/* The initial tokens of text: one per UTF-8 code point (at most 4 bytes, stray continuation
 * bytes on their own), or its bytes as byte tokens when the vocabulary lacks it. */
static int split_code_points(const Tokenizer *t, const char *text, int *tokens, int max_tokens,
                             int *n, TsErr *err)
{
    char cp[5];
    size_t len = 0;
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        if ((*c & 0xC0) != 0x80)
            len = 0;
        cp[len++] = (char)*c;
        cp[len] = '\0';
        if ((c[1] & 0xC0) == 0x80 && len < 4)
            continue;
        int id = lookup(t, cp, ""), rc;
        if (id >= 0) {
            if ((rc = push(tokens, max_tokens, n, id, err)))
                return rc;
        } else {
            for (size_t i = 0; i < len; i++) {
                int b = (unsigned char)cp[i] + TOK_BYTE0;
                if (b >= t->vocab_size)
                    return ts_err_set(err, TS_EINPUT, "cannot encode byte 0x%02X: the "
                                      "vocabulary of %d tokens has no byte tokens",
                                      (unsigned char)cp[i], t->vocab_size);
                if ((rc = push(tokens, max_tokens, n, b, err)))
                    return rc;
            }
        }
        len = 0;
    }
    return 0;
}

/* Repeatedly merges the adjacent pair whose concatenation is the best-scoring piece; the
 * strict > keeps the leftmost pair on ties, as llama2.c does. */
static void merge_pairs(const Tokenizer *t, int *tokens, int *n)
{
    for (;;) {
        float best = TOK_NO_SCORE;
        int best_id = -1, best_i = -1;
        for (int i = 0; i + 1 < *n; i++) {
            int id = lookup(t, t->vocab[tokens[i]], t->vocab[tokens[i + 1]]);
            if (id >= 0 && t->scores[id] > best) {
                best = t->scores[id];
                best_id = id;
                best_i = i;
            }
        }
        if (best_i < 0)
            return;
        tokens[best_i] = best_id;
        memmove(tokens + best_i + 1, tokens + best_i + 2,
                (size_t)(*n - best_i - 2) * sizeof *tokens);
        (*n)--;
    }
}

int tok_encode(const Tokenizer *t, const char *text, int bos, int eos, int *tokens,
               int max_tokens, int *n_tokens, TsErr *err)
{
    *n_tokens = 0;
    if (!text)
        return ts_err_set(err, TS_EINPUT, "cannot encode NULL text");
    if ((bos || eos) && t->vocab_size <= TOK_EOS)
        return ts_err_set(err, TS_EINPUT, "the vocabulary of %d tokens has no BOS/EOS",
                          t->vocab_size);
    int n = 0, rc;
    if (bos && (rc = push(tokens, max_tokens, &n, TOK_BOS, err)))
        return rc;
    if (text[0] != '\0') {
        int space = lookup(t, " ", "");
        if (space < 0)
            return ts_err_set(err, TS_EINPUT, "the vocabulary has no \" \" piece for the dummy "
                              "prefix");
        if ((rc = push(tokens, max_tokens, &n, space, err)))
            return rc;
    }
    if ((rc = split_code_points(t, text, tokens, max_tokens, &n, err)))
        return rc;
    merge_pairs(t, tokens, &n);
    if (eos && (rc = push(tokens, max_tokens, &n, TOK_EOS, err)))
        return rc;
    *n_tokens = n;
    return 0;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

const char *tok_decode(const Tokenizer *t, int prev_token, int token, char buf[8])
{
    if (!t || token < 0 || token >= t->vocab_size)
        return NULL;
    const char *piece = t->vocab[token];
    if (prev_token == TOK_BOS && piece[0] == ' ')
        piece++;
    /* llama2.c's sscanf(piece, "<0x%02hhX>") accepts "<0x" and one or two hex digits */
    if (strncmp(piece, "<0x", 3) == 0 && hex_digit(piece[3]) >= 0) {
        int byte = hex_digit(piece[3]);
        if (hex_digit(piece[4]) >= 0)
            byte = byte * 16 + hex_digit(piece[4]);
        buf[0] = (char)byte;
        buf[1] = '\0';
        return buf;
    }
    return piece;
}

int tok_save(const char *path, const char *const *pieces, const float *scores, int n,
             TsErr *err)
{
    if (n < 1 || !pieces || !scores)
        return ts_err_set(err, TS_EINPUT, "%s: nothing to save (%d pieces)", path, n);
    size_t longest = 0;
    for (int i = 0; i < n; i++) {
        if (!pieces[i])
            return ts_err_set(err, TS_EINPUT, "%s: piece %d is NULL", path, i);
        size_t len = strlen(pieces[i]);
        if (len > INT32_MAX)
            return ts_err_set(err, TS_EINPUT, "%s: piece %d is too long", path, i);
        if (len > longest)
            longest = len;
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        return ts_err_set(err, TS_EIO, "%s: cannot create: %s", path, strerror(errno));
    int32_t max_len = (int32_t)longest;
    int bad = fwrite(&max_len, 4, 1, f) != 1;
    for (int i = 0; i < n && !bad; i++) {
        int32_t len = (int32_t)strlen(pieces[i]);
        bad = fwrite(&scores[i], 4, 1, f) != 1 || fwrite(&len, 4, 1, f) != 1 ||
              (len && fwrite(pieces[i], (size_t)len, 1, f) != 1);
    }
    int saved_errno = errno;
    if (fclose(f) != 0 && !bad) {
        bad = 1;
        saved_errno = errno;
    }
    if (bad) {
        remove(path);
        return ts_err_set(err, TS_EIO, "%s: write failed: %s", path, strerror(saved_errno));
    }
    return 0;
}
