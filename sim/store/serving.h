/* store serving: the requests of a `tokensim serve-bench` run (tables serving_requests and
 * serving_tokens, schema 6): per request its arrival, first token, finish and lengths, and
 * every answer token's time. The run's summary goes to table metrics as usual. */
#ifndef TS_SIM_STORE_SERVING_H
#define TS_SIM_STORE_SERVING_H

#include <stdint.h>

#include "sim/store/store.h"

typedef struct {
    int64_t request;
    double arrival_s, first_token_s, finish_s; /* seconds from the start of the run */
    int input_tokens, output_tokens, preemptions;
    const double *token_s;                     /* (n_tokens) borrowed */
    int n_tokens;
} StoreServingRow;

/* Inserts the rows of run_id (a running run) in one transaction. TS_EIO. */
int store_serving_put(Store *s, int64_t run_id, const StoreServingRow *rows, int n, TsErr *err);

#endif
