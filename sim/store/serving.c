/* store serving: INSERTs of a serve-bench run's requests and token times, and of validate
 * --serving's comparisons, one transaction each. */
#include "sim/store/serving.h"

#include "sim/store/internal.h"

int store_serving_put(Store *s, int64_t run_id, const StoreServingRow *rows, int n, TsErr *err)
{
    if (store_exec(s, "BEGIN IMMEDIATE", "starting the serving rows", err))
        return TS_EIO;
    sqlite3_stmt *rq = NULL, *tk = NULL;
    int code = 0;
    if (store_prepare(s,
                      "INSERT INTO serving_requests (run_id, request, arrival_s, first_token_s,"
                      " finish_s, input_tokens, output_tokens, preemptions)"
                      " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                      &rq, "preparing the serving requests", err) ||
        store_prepare(s,
                      "INSERT INTO serving_tokens (run_id, request, k, time_s) VALUES (?, ?, ?, ?)",
                      &tk, "preparing the serving tokens", err))
        code = TS_EIO;
    for (int i = 0; i < n && !code; i++) {
        const StoreServingRow *r = &rows[i];
        StoreBind b;
        store_bind_start(&b, rq);
        store_bind_int64(&b, run_id);
        store_bind_int64(&b, r->request);
        store_bind_real(&b, r->arrival_s, 1);
        store_bind_real(&b, r->first_token_s, r->first_token_s == r->first_token_s);
        store_bind_real(&b, r->finish_s, r->finish_s == r->finish_s);
        store_bind_int64(&b, r->input_tokens);
        store_bind_int64(&b, r->output_tokens);
        store_bind_int64(&b, r->preemptions);
        if (b.rc != SQLITE_OK || sqlite3_step(rq) != SQLITE_DONE || sqlite3_reset(rq) != SQLITE_OK)
            code = store_fail(s, "inserting a serving request", err);
        for (int k = 0; k < r->n_tokens && !code; k++) {
            store_bind_start(&b, tk);
            store_bind_int64(&b, run_id);
            store_bind_int64(&b, r->request);
            store_bind_int64(&b, k);
            store_bind_real(&b, r->token_s[k], 1);
            if (b.rc != SQLITE_OK || sqlite3_step(tk) != SQLITE_DONE ||
                sqlite3_reset(tk) != SQLITE_OK)
                code = store_fail(s, "inserting a serving token time", err);
        }
    }
    store_finalize(rq);
    store_finalize(tk);
    if (!code && store_exec(s, "COMMIT", "committing the serving rows", err))
        code = TS_EIO;
    if (code)
        return store_rollback(s, code, err);
    return 0;
}

int store_serving_checks_put(Store *s, int64_t run_id, const StoreServingCheck *rows, int n,
                             TsErr *err)
{
    if (store_exec(s, "BEGIN IMMEDIATE", "starting the serving validation rows", err))
        return TS_EIO;
    sqlite3_stmt *st = NULL;
    int code = 0;
    if (store_prepare(s,
                      "INSERT INTO serving_validation (run_id, model, calibration_id,"
                      " capacity_req_s, rate_req_s, load_share, requests, quantity, unit,"
                      " measured, predicted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      &st, "preparing the serving validation rows", err))
        code = TS_EIO;
    for (int i = 0; i < n && !code; i++) {
        const StoreServingCheck *r = &rows[i];
        StoreBind b;
        store_bind_start(&b, st);
        store_bind_int64(&b, run_id);
        store_bind_text(&b, r->model);
        store_bind_int64(&b, r->calibration_id);
        store_bind_real(&b, r->capacity_req_s, 1);
        store_bind_real(&b, r->rate_req_s, 1);
        store_bind_real(&b, r->load_share, 1);
        store_bind_int64(&b, r->requests);
        store_bind_text(&b, r->quantity);
        store_bind_text(&b, r->unit);
        store_bind_real(&b, r->measured, r->measured == r->measured);
        store_bind_real(&b, r->predicted, r->predicted == r->predicted);
        if (b.rc != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE || sqlite3_reset(st) != SQLITE_OK)
            code = store_fail(s, "inserting a serving validation row", err);
    }
    store_finalize(st);
    if (!code && store_exec(s, "COMMIT", "committing the serving validation rows", err))
        code = TS_EIO;
    if (code)
        return store_rollback(s, code, err);
    return 0;
}
