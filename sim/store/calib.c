/* store calib: INSERTs of the calibration profiles and their residuals, and the lookup of the
 * newest profile of a precision group. */
#include "sim/store/calib.h"

#include <stdio.h>
#include <string.h>

#include "sim/store/internal.h"

static int put_one(Store *s, StoreCalibration *c, const StoreCalResidual *res, int n_res,
                   sqlite3_stmt *cal_st, sqlite3_stmt *res_st, TsErr *err)
{
    StoreBind b;
    store_bind_start(&b, cal_st);
    store_bind_int64(&b, c->run_id);
    store_bind_text(&b, c->precision);
    store_bind_text(&b, c->kv_precision);
    store_bind_int64(&b, c->threads);
    double v[] = {c->peak_gflops, c->bandwidth_gb_s,   c->eff_compute,     c->eff_prefill,
                  c->eff_memory,  c->step_overhead_ms, c->attn_ns_per_pair, c->overlap};
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++)
        store_bind_real(&b, v[k], 1);
    store_bind_int64(&b, c->n_train);
    store_bind_int64(&b, c->n_test);
    store_bind_real(&b, c->train_median_err, 1);
    store_bind_real(&b, c->test_median_err, c->n_test > 0);
    store_bind_int64(&b, c->converged ? 1 : 0);
    if (b.rc != SQLITE_OK || sqlite3_step(cal_st) != SQLITE_DONE ||
        sqlite3_reset(cal_st) != SQLITE_OK)
        return store_fail(s, "inserting a calibration", err);
    c->id = sqlite3_last_insert_rowid(s->db);
    for (int i = 0; i < n_res; i++) {
        store_bind_start(&b, res_st);
        store_bind_int64(&b, c->id);
        store_bind_text(&b, res[i].model);
        store_bind_text(&b, res[i].phase);
        store_bind_int64(&b, res[i].batch);
        store_bind_int64(&b, res[i].held_out ? 1 : 0);
        store_bind_real(&b, res[i].measured_s, 1);
        store_bind_real(&b, res[i].predicted_s, 1);
        if (b.rc != SQLITE_OK || sqlite3_step(res_st) != SQLITE_DONE ||
            sqlite3_reset(res_st) != SQLITE_OK)
            return store_fail(s, "inserting a calibration residual", err);
    }
    return 0;
}

int store_calibrations_put(Store *s, StoreCalibration *cals, int n,
                           const StoreCalResidual *const *residuals, const int *n_res,
                           TsErr *err)
{
    if (store_exec(s, "BEGIN IMMEDIATE", "starting the calibration", err))
        return TS_EIO;
    sqlite3_stmt *cal_st = NULL, *res_st = NULL;
    int code = 0;
    if (store_prepare(s,
                      "INSERT INTO calibrations (created_at, run_id, precision, kv_precision,"
                      " threads, peak_gflops, bandwidth_gb_s, eff_compute, eff_prefill,"
                      " eff_memory, step_overhead_ms, attn_ns_per_pair, overlap, n_train, n_test,"
                      " train_median_err, test_median_err, converged) VALUES (" STORE_NOW_UTC
                      ", ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      &cal_st, "preparing the calibration rows", err) ||
        store_prepare(s,
                      "INSERT INTO calibration_residuals (calibration_id, model, phase, batch,"
                      " held_out, measured_s, predicted_s) VALUES (?, ?, ?, ?, ?, ?, ?)",
                      &res_st, "preparing the calibration residual rows", err))
        code = TS_EIO;
    for (int i = 0; i < n && !code; i++)
        code = put_one(s, &cals[i], residuals[i], n_res[i], cal_st, res_st, err);
    store_finalize(cal_st);
    store_finalize(res_st);
    if (!code && store_exec(s, "COMMIT", "committing the calibration", err))
        code = TS_EIO;
    if (code)
        return store_rollback(s, code, err);
    return 0;
}

/* The profile of the query's first row into *out (strings copied into buf). */
static int read_profile(Store *s, sqlite3_stmt *st, StoreCalibration *out, char *buf,
                        int buf_size, TsErr *err)
{
    int rc = sqlite3_step(st), found = 0;
    if (rc == SQLITE_ROW) {
        found = 1;
        out->id = sqlite3_column_int64(st, 0);
        out->run_id = sqlite3_column_int64(st, 1);
        out->threads = sqlite3_column_int(st, 2);
        double *d[] = {&out->peak_gflops, &out->bandwidth_gb_s,   &out->eff_compute,
                       &out->eff_prefill, &out->eff_memory,       &out->step_overhead_ms,
                       &out->attn_ns_per_pair, &out->overlap};
        for (int k = 0; k < 8; k++)
            *d[k] = sqlite3_column_double(st, 3 + k);
        out->n_train = sqlite3_column_int(st, 11);
        out->n_test = sqlite3_column_int(st, 12);
        out->converged = sqlite3_column_int(st, 13);
        out->train_median_err = sqlite3_column_double(st, 14);
        out->test_median_err = sqlite3_column_double(st, 15);
        const char *prec = (const char *)sqlite3_column_text(st, 16);
        const char *kv = (const char *)sqlite3_column_text(st, 17);
        out->max_batch = sqlite3_column_int(st, 18);
        int len = snprintf(buf, (size_t)buf_size, "%s", prec ? prec : "");
        out->precision = buf;
        if (len + 1 < buf_size) {
            snprintf(buf + len + 1, (size_t)(buf_size - len - 1), "%s", kv ? kv : "");
            out->kv_precision = buf + len + 1;
        } else {
            out->kv_precision = "";
        }
    } else if (rc != SQLITE_DONE) {
        sqlite3_finalize(st);
        return store_fail(s, "reading the calibrations", err);
    }
    sqlite3_finalize(st);
    return found;
}

#define PROFILE_COLUMNS                                                                        \
    "SELECT id, run_id, threads, peak_gflops, bandwidth_gb_s, eff_compute, eff_prefill,"       \
    " eff_memory, step_overhead_ms, attn_ns_per_pair, overlap, n_train, n_test, converged,"   \
    " train_median_err, test_median_err, precision, kv_precision,"                             \
    " (SELECT coalesce(max(batch), 0) FROM calibration_residuals r"                            \
    "  WHERE r.calibration_id = c.id) FROM calibrations c"

int store_calibration_latest(Store *s, const char *precision, const char *kv_precision,
                             int threads, StoreCalibration *out, char *buf, int buf_size,
                             TsErr *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           PROFILE_COLUMNS " WHERE precision = ? AND kv_precision = ? AND"
                                           " threads = ? ORDER BY id DESC LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return 0; /* no table: a database from before calibrations */
    sqlite3_bind_text(st, 1, precision, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, kv_precision, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, threads);
    return read_profile(s, st, out, buf, buf_size, err);
}

int store_calibration_find(Store *s, int64_t id, int threads, StoreCalibration *out, char *buf,
                           int buf_size, TsErr *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    const char *sql = id > 0 ? PROFILE_COLUMNS " WHERE id = ?1"
                             : PROFILE_COLUMNS " WHERE threads = ?2 ORDER BY (precision = 'fp32'"
                                               " AND kv_precision = 'fp32') DESC, id DESC"
                                               " LIMIT 1";
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return 0; /* no table: a database from before calibrations */
    if (id > 0)
        sqlite3_bind_int64(st, 1, id);
    else
        sqlite3_bind_int(st, 2, threads);
    return read_profile(s, st, out, buf, buf_size, err);
}
