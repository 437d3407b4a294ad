/* tokenizer: llama2.c's byte-pair tokenizer (tokenizer.bin): load, encode text to token ids
 * and decode ids back to text exactly as llama2.c's encode and decode do. The file is an
 * int32 max_token_length, then per token a float32 score, an int32 byte length and the bytes
 * (no NUL). Ids 0, 1, 2 are <unk>, BOS and EOS; ids 3..258 are the raw bytes 0x00..0xFF. */
#ifndef TS_MODELS_TOKENIZER_H
#define TS_MODELS_TOKENIZER_H

#include "models/tserr.h"

#define TOK_BOS 1
#define TOK_EOS 2
/* Id of the first raw-byte token <0x00>: byte b is token b + TOK_BYTE0. */
#define TOK_BYTE0 3
/* Longest piece accepted from a file, in bytes. */
#define TOK_MAX_PIECE_BYTES 4096

/* A piece and its id, for the sorted lookup table. */
typedef struct {
    const char *str; /* borrowed from Tokenizer.strings */
    int id;
} TokPiece;

/* A loaded vocabulary. Caller-owned struct: tok_load fills it, tok_fini frees what it holds.
 * Read-only after loading, so one Tokenizer may serve several threads. */
typedef struct {
    const char **vocab;   /* (vocab_size) NUL-terminated pieces, pointing into strings */
    float *scores;        /* (vocab_size) merge priority: the highest-scoring pair merges first */
    TokPiece *sorted;     /* (vocab_size) pieces sorted by bytes, then id, for binary search */
    char *strings;        /* the block every piece lives in */
    int vocab_size;
    int max_token_length; /* as the file declares it, bytes */
} Tokenizer;

/* Loads tokenizer.bin at path for a model of vocab_size tokens. TS_EIO when the file cannot be
 * read; TS_EINPUT "PATH: tokenizer does not match the model (N tokens expected): ..." when it
 * ends early, has trailing bytes, or holds a negative or over-long length. On error t is
 * zeroed. */
int tok_load(Tokenizer *t, const char *path, int vocab_size, TsErr *err);

/* Frees what t holds and zeroes it; t may be NULL or zeroed. */
void tok_fini(Tokenizer *t);

/* Encodes the UTF-8 text as llama2.c does: BOS when bos, a dummy-prefix " " token when text is
 * non-empty, one token per code point (its bytes as byte tokens when the vocabulary lacks it),
 * then greedy merges of the highest-scoring adjacent pair (the leftmost on ties), EOS when eos.
 * Writes the ids into tokens and their count into *n_tokens. max_tokens must hold the tokens
 * before merging; strlen(text) + 3 always does. TS_EINPUT (and *n_tokens 0) when they do not
 * fit or the vocabulary lacks a needed token (" ", a byte token, BOS/EOS). */
int tok_encode(const Tokenizer *t, const char *text, int bos, int eos, int *tokens,
               int max_tokens, int *n_tokens, TsErr *err);

/* The text of token after prev_token, as llama2.c's decode: the leading space is stripped
 * after BOS, and a raw-byte piece "<0xHH>" decodes to that one byte, written into buf.
 * Returns a string borrowed from t or buf, or NULL when token is not a valid id. */
const char *tok_decode(const Tokenizer *t, int prev_token, int token, char buf[8]);

/* Writes n pieces and their scores to path as a tokenizer.bin (max_token_length = the longest
 * piece). TS_EINPUT for n < 1 or a NULL piece, TS_EIO when writing fails (the file removed). */
int tok_save(const char *path, const char *const *pieces, const float *scores, int n,
             TsErr *err);

#endif
