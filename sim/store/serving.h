/* store serving: the requests of a `tokensim serve-bench` run (tables serving_requests and
 * serving_tokens, schema 7): per request its arrival, first token, finish and lengths, and
 * every answer token's time; and the rows of `validate --serving` (serving_validation, schema
 * 8): per model, arrival rate and quantity the real engine's figure beside the simulator's.
 * The runs' summaries go to table metrics as usual. */
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

/* One quantity at one arrival rate: measured on the engine, predicted by the simulator. */
typedef struct {
    const char *model;
    int64_t calibration_id;
    double capacity_req_s;  /* the engine's measured capacity (a burst) */
    double rate_req_s, load_share;
    int requests;
    const char *quantity, *unit; /* e.g. "ttft_p90_ms", "ms" */
    double measured, predicted;  /* NaN: NULL */
} StoreServingCheck;

/* Inserts the rows of run_id (a running run) in one transaction. TS_EIO. */
int store_serving_checks_put(Store *s, int64_t run_id, const StoreServingCheck *rows, int n,
                             TsErr *err);

#endif
