/* request: one serving request as traffic makes it and a scheduler takes it: arrival, prompt and
 * answer lengths, the shared prefix and session history it may find in a prefix cache, and (for
 * a request whose prefill ran elsewhere, as in a disaggregated decode pool) the KV and tokens it
 * brings. Plain data: no behaviour here. */
#ifndef TS_SIM_SERVE_REQUEST_H
#define TS_SIM_SERVE_REQUEST_H

#include <stdint.h>

/* Limits every module of sim/serve enforces (prefix cache keys pack them, see kv.c). */
#define SERVE_MAX_SEQ_TOKENS (1 << 22) /* prompt + answer of one request: 4 Mi tokens */
#define SERVE_MAX_REQUEST_ID ((1LL << 40) - 1)

typedef struct {
    int64_t id;             /* unique per run, 0 <= id <= SERVE_MAX_REQUEST_ID */
    double arrival_s;       /* when the request reaches the scheduler */
    int32_t input_tokens;   /* whole prompt (>= 1): prefix and history included */
    int32_t output_tokens;  /* answer tokens to produce (>= 1) */
    int32_t prefix_id;      /* shared prefix (system prompt), -1: none */
    int32_t prefix_tokens;  /* leading input tokens shared by every request of prefix_id */
    int64_t session;        /* agentic session, -1: none */
    int32_t turn;           /* 0-based turn within the session */
    int32_t history_tokens; /* leading input tokens equal to the session's previous context */
    /* Resumed work (0 for a fresh request): KV of the first kv_ready_tokens prompt tokens was
     * computed elsewhere and arrives with the request; generated_tokens answer tokens exist
     * already, the first of them at first_token_s. */
    int32_t kv_ready_tokens;
    int32_t generated_tokens;
    double first_token_s;
} ServeRequest;

#endif
