/* sha256: SHA-256 (FIPS 180-4) of byte strings, in one call or incrementally.
 * Used for runs.scenario_sha256; not a general crypto library (no HMAC, no constant-time claims
 * beyond what the algorithm gives). */
#ifndef TS_SIM_SHA256_H
#define TS_SIM_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA_DIGEST_BYTES 32
#define SHA_BLOCK_BYTES 64

/* Incremental state; caller-owned, no heap. Fields are private to sha256.c. */
typedef struct {
    uint32_t h[8];                  /* chaining state H0..H7 */
    uint64_t total_bytes;           /* message length so far */
    uint8_t block[SHA_BLOCK_BYTES]; /* pending input, block_len bytes of it used */
    size_t block_len;
} ShaCtx;

/* Starts a new digest in ctx. */
void sha_init(ShaCtx *ctx);

/* Appends len bytes at data (data may be NULL when len is 0). Any split of a message over
 * calls gives the same digest as one call. */
void sha_update(ShaCtx *ctx, const void *data, size_t len);

/* Finishes the digest into out (32 bytes, big-endian as FIPS 180-4 prints it). ctx must be
 * re-initialised with sha_init before reuse. */
void sha_final(ShaCtx *ctx, uint8_t out[SHA_DIGEST_BYTES]);

/* Like sha_final, but writes 64 lowercase hex digits and a NUL into out_hex. */
void sha_final_hex(ShaCtx *ctx, char out_hex[2 * SHA_DIGEST_BYTES + 1]);

/* One call: the lowercase hex SHA-256 of len bytes at data (64 digits and a NUL). */
void sha_hex(const void *data, size_t len, char out_hex[2 * SHA_DIGEST_BYTES + 1]);

#endif
