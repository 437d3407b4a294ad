/* sha256: SHA-256 as specified in FIPS 180-4 section 6.2, written for tokensim.
 * Processes 64-byte blocks with the 64-word message schedule; pads with 0x80, zeros and the
 * 64-bit big-endian bit length. Portable C (no intrinsics, no endianness assumptions).
 * It hashes bytes only; reading files and comparing digests are the callers' business. */
#include "sim/store/sha256.h"

#include <string.h>

/* FIPS 180-4 4.2.2: first 32 bits of the fractional parts of the cube roots of the first
 * 64 primes. */
static const uint32_t SHA_K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* FIPS 180-4 5.3.3: first 32 bits of the fractional parts of the square roots of the first
 * 8 primes. */
static const uint32_t SHA_H0[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

static uint32_t sha_rotr(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32u - n));
}

static uint32_t sha_load_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static void sha_store_be32(uint8_t *p, uint32_t x)
{
    p[0] = (uint8_t)(x >> 24);
    p[1] = (uint8_t)(x >> 16);
    p[2] = (uint8_t)(x >> 8);
    p[3] = (uint8_t)x;
}

/* One application of the compression function (FIPS 180-4 6.2.2) to a 64-byte block. */
static void sha_compress(uint32_t h[8], const uint8_t block[SHA_BLOCK_BYTES])
{
    uint32_t w[64]; /* message schedule W0..W63 */
    for (int t = 0; t < 16; t++)
        w[t] = sha_load_be32(block + 4 * t);
    for (int t = 16; t < 64; t++) {
        uint32_t s0 = sha_rotr(w[t - 15], 7) ^ sha_rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
        uint32_t s1 = sha_rotr(w[t - 2], 17) ^ sha_rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }

    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    uint32_t e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int t = 0; t < 64; t++) {
        uint32_t big_s1 = sha_rotr(e, 6) ^ sha_rotr(e, 11) ^ sha_rotr(e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = hh + big_s1 + ch + SHA_K[t] + w[t];
        uint32_t big_s0 = sha_rotr(a, 2) ^ sha_rotr(a, 13) ^ sha_rotr(a, 22);
        uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t2 = big_s0 + maj;
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
}

void sha_init(ShaCtx *ctx)
{
    memcpy(ctx->h, SHA_H0, sizeof ctx->h);
    ctx->total_bytes = 0;
    ctx->block_len = 0;
}

void sha_update(ShaCtx *ctx, const void *data, size_t len)
{
    const uint8_t *p = data;
    if (len == 0)
        return; /* data may be NULL then, and memcpy must not see a NULL pointer */
    ctx->total_bytes += len;

    /* Top up a partial block first; whole blocks then go straight from the caller's buffer. */
    if (ctx->block_len > 0) {
        size_t take = SHA_BLOCK_BYTES - ctx->block_len;
        if (take > len)
            take = len;
        memcpy(ctx->block + ctx->block_len, p, take);
        ctx->block_len += take;
        p += take;
        len -= take;
        if (ctx->block_len < SHA_BLOCK_BYTES)
            return;
        sha_compress(ctx->h, ctx->block);
        ctx->block_len = 0;
    }
    while (len >= SHA_BLOCK_BYTES) {
        sha_compress(ctx->h, p);
        p += SHA_BLOCK_BYTES;
        len -= SHA_BLOCK_BYTES;
    }
    if (len > 0) {
        memcpy(ctx->block, p, len);
        ctx->block_len = len;
    }
}

void sha_final(ShaCtx *ctx, uint8_t out[SHA_DIGEST_BYTES])
{
    uint64_t bit_len = ctx->total_bytes * 8u; /* FIPS 180-4 5.1.1: length in bits mod 2^64 */

    ctx->block[ctx->block_len++] = 0x80;
    /* The 8-byte length must fit after the 0x80; otherwise it goes into one more block. */
    if (ctx->block_len > SHA_BLOCK_BYTES - 8) {
        memset(ctx->block + ctx->block_len, 0, SHA_BLOCK_BYTES - ctx->block_len);
        sha_compress(ctx->h, ctx->block);
        ctx->block_len = 0;
    }
    memset(ctx->block + ctx->block_len, 0, SHA_BLOCK_BYTES - 8 - ctx->block_len);
    for (int i = 0; i < 8; i++)
        ctx->block[SHA_BLOCK_BYTES - 1 - i] = (uint8_t)(bit_len >> (8 * i));
    sha_compress(ctx->h, ctx->block);
    ctx->block_len = 0;

    for (int i = 0; i < 8; i++)
        sha_store_be32(out + 4 * i, ctx->h[i]);
}

void sha_final_hex(ShaCtx *ctx, char out_hex[2 * SHA_DIGEST_BYTES + 1])
{
    static const char digits[] = "0123456789abcdef";
    uint8_t digest[SHA_DIGEST_BYTES];
    sha_final(ctx, digest);
    for (int i = 0; i < SHA_DIGEST_BYTES; i++) {
        out_hex[2 * i] = digits[digest[i] >> 4];
        out_hex[2 * i + 1] = digits[digest[i] & 0x0f];
    }
    out_hex[2 * SHA_DIGEST_BYTES] = '\0';
}

void sha_hex(const void *data, size_t len, char out_hex[2 * SHA_DIGEST_BYTES + 1])
{
    ShaCtx ctx;
    sha_init(&ctx);
    sha_update(&ctx, data, len);
    sha_final_hex(&ctx, out_hex);
}
