/* test_shard: sim/shard and the store's shard tables. --shard parsing (bounds, junk); a block's
 * blobs read back bit for bit (NaN included); a failed shard write leaves nothing; a database
 * with no or two shard runs is refused; and the core promise: shards 1..3 of a scenario merged
 * give an McResult identical, bit for bit, to one mc_run over every block, and 2 of 3 parts do
 * not merge. Runs from the repository root (catalogs in data/), databases in a mkdtemp folder. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/cli/parts.h"
#include "sim/cli/runner.h"
#include "sim/study/shard.h"
#include "sim/store/store.h"

typedef struct {
    char dir[64];
    ScnCatalogs cats;
} Tmp;

static int tmp_setup(void **state)
{
    Tmp *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    snprintf(t->dir, sizeof t->dir, "/tmp/test_shard.XXXXXX");
    TsErr err;
    if (!mkdtemp(t->dir) || scn_catalogs_load(&t->cats, "data", &err)) {
        free(t);
        return -1;
    }
    *state = t;
    return 0;
}

static int tmp_teardown(void **state)
{
    Tmp *t = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->dir);
    int rc = system(cmd);
    scn_catalogs_fini(&t->cats);
    free(t);
    return rc;
}

static void test_parse_accepts_k_of_n_within_bounds(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int k, n;
    } ok[] = {{"1/1", 1, 1}, {"2/8", 2, 8}, {"3/3", 3, 3}, {"10000/10000", 10000, 10000}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ShardSpec sp = {0, 0};
        TsErr err;
        ts_err_clear(&err);
        if (shard_parse(ok[i].text, &sp, &err))
            fail_msg("%s: %s", ok[i].text, err.msg);
        assert_int_equal(sp.k, ok[i].k);
        assert_int_equal(sp.n, ok[i].n);
    }
}

static void test_parse_refuses_zero_k_over_n_and_junk_naming_the_text(void **state)
{
    (void)state;
    static const char *const bad[] = {"0/3",  "4/3",  "1/0",   "1/10001", "3",
                                      "/3",   "1/",   "a/b",   "-1/2",    "+1/2",
                                      " 1/2", "1/2x", "1/2/3", "",        "1.5/2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ShardSpec sp = {0, 0};
        TsErr err;
        ts_err_clear(&err);
        if (shard_parse(bad[i], &sp, &err) != TS_EINPUT)
            fail_msg("'%s' was accepted as %d/%d", bad[i], sp.k, sp.n);
        char quoted[64];
        snprintf(quoted, sizeof quoted, "'%s'", bad[i]);
        if (!strstr(err.msg, quoted))
            fail_msg("message does not name '%s': %s", bad[i], err.msg);
    }
}

static int64_t begin_run(Store *s)
{
    StoreRunInfo info = {.kind = "scenario",
                         .name = "t",
                         .seed = 1,
                         .scenario_sha256 = "ab",
                         .scenario_text = "[scenario]\n",
                         .version = "test",
                         .machine = "{}"};
    int64_t id = 0;
    TsErr err;
    if (store_run_begin(s, &info, &id, &err))
        fail_msg("store_run_begin: %s", err.msg);
    return id;
}

typedef struct {
    int n;
    StoreMcBlockRow got[4];
    double sums[4][3], counts[4][3], samples[4][4];
} Collect;

static int collect(void *ctx, const StoreMcBlockRow *row, TsErr *err)
{
    (void)err;
    Collect *c = ctx;
    if (c->n == 4 || row->n_metrics != 3 || row->n_samples != 4)
        fail_msg("unexpected row: block %d fleet %d, %d metrics, %d samples", row->block,
                 row->fleet, row->n_metrics, row->n_samples);
    c->got[c->n] = *row;
    memcpy(c->sums[c->n], row->sums, sizeof c->sums[0]);
    memcpy(c->counts[c->n], row->counts, sizeof c->counts[0]);
    memcpy(c->samples[c->n], row->samples, sizeof c->samples[0]);
    c->n++;
    return 0;
}

static void test_blocks_read_back_bit_for_bit_in_block_order(void **state)
{
    Tmp *t = *state;
    char path[128];
    snprintf(path, sizeof path, "%s/part.db", t->dir);
    Store *s = NULL;
    TsErr err;
    assert_int_equal(store_open(path, &s, &err), 0);
    int64_t id = begin_run(s);
    double sums[3] = {1.0 / 3, -2.5e300, 0}, counts[3] = {1000, 999, 0};
    double samples[4] = {0.1, NAN, -0.0, 4.9e-324};
    StoreMcBlockRow rows[2] = {
        {.block = 5, .fleet = 1, sums, counts, 3, samples, 4, .failed = 7},
        {.block = 2, .fleet = 0, counts, sums, 3, samples, 4, .failed = 0},
    };
    StoreShardInfo si = {2, 3, 25000, 1000, 11, "dir/s.ini"};
    if (store_run_finish_shard(s, id, &si, rows, 2, &err))
        fail_msg("store_run_finish_shard: %s", err.msg);
    store_close(s);

    assert_int_equal(store_open_readonly(path, &s, &err), 0);
    StoreShardRun run;
    if (store_read_shard_run(s, &run, &err))
        fail_msg("store_read_shard_run: %s", err.msg);
    assert_int_equal(run.run_id, id);
    assert_int_equal(run.shard, 2);
    assert_int_equal(run.n_shards, 3);
    assert_int_equal(run.samples, 25000);
    assert_int_equal(run.block_size, 1000);
    assert_int_equal(run.clamped, 11);
    assert_string_equal(run.scenario_path, "dir/s.ini");
    assert_string_equal(run.scenario_sha256, "ab");
    Collect c = {0};
    assert_int_equal(store_each_mc_block(s, id, collect, &c, &err), 0);
    assert_int_equal(c.n, 2);
    /* (block, fleet) order: block 2 first */
    assert_int_equal(c.got[0].block, 2);
    assert_int_equal(c.got[1].block, 5);
    assert_int_equal(c.got[1].fleet, 1);
    assert_int_equal(c.got[1].failed, 7);
    assert_memory_equal(c.sums[0], counts, sizeof counts);
    assert_memory_equal(c.sums[1], sums, sizeof sums);
    assert_memory_equal(c.counts[1], counts, sizeof counts);
    assert_memory_equal(c.samples[1], samples, sizeof samples); /* NaN and -0 bits too */
    store_shard_run_free(&run);
    store_close(s);
}

static void test_failed_shard_write_leaves_no_rows_and_run_running(void **state)
{
    Tmp *t = *state;
    char path[128];
    snprintf(path, sizeof path, "%s/part.db", t->dir);
    Store *s = NULL;
    TsErr err;
    assert_int_equal(store_open(path, &s, &err), 0);
    int64_t id = begin_run(s);
    double v[3] = {1, 2, 3};
    StoreMcBlockRow rows[2] = {{0, 0, v, v, 3, v, 3, 0}, {0, 0, v, v, 3, v, 3, 0}}; /* twice */
    StoreShardInfo si = {1, 1, 1000, 1000, 0, "s.ini"};
    assert_int_equal(store_run_finish_shard(s, id, &si, rows, 2, &err), TS_EIO);
    sqlite3 *db = store_db(s);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT (SELECT count(*) FROM mc_blocks) + (SELECT count(*)"
                                        " FROM mc_shards), (SELECT status FROM runs)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 0);
    assert_string_equal((const char *)sqlite3_column_text(st, 1), "running");
    sqlite3_finalize(st);
    store_close(s);
}

static void test_read_refuses_no_shard_run_and_two_shard_runs(void **state)
{
    Tmp *t = *state;
    char path[128];
    snprintf(path, sizeof path, "%s/part.db", t->dir);
    Store *s = NULL, *ro = NULL;
    TsErr err;
    assert_int_equal(store_open(path, &s, &err), 0);
    begin_run(s); /* running, not a finished shard */
    assert_int_equal(store_open_readonly(path, &ro, &err), 0);
    StoreShardRun run;
    assert_int_equal(store_read_shard_run(ro, &run, &err), TS_EINPUT);
    assert_non_null(strstr(err.msg, "holds no finished shard run"));
    StoreShardInfo si = {1, 2, 2000, 1000, 0, "s.ini"};
    for (int i = 0; i < 2; i++)
        assert_int_equal(store_run_finish_shard(s, begin_run(s), &si, NULL, 0, &err), 0);
    assert_int_equal(store_read_shard_run(ro, &run, &err), TS_EINPUT);
    assert_non_null(strstr(err.msg, "holds 2 finished shard runs"));
    store_close(ro);
    store_close(s);
    snprintf(path, sizeof path, "%s/missing.db", t->dir);
    assert_int_equal(store_open_readonly(path, &ro, &err), TS_EINPUT);
    assert_null(ro);
    assert_int_equal(access(path, F_OK), -1); /* not created */
}

/* Two fleets, four distributions, 2500 samples: three blocks, the last one short; the normal
 * draw is clamped at zero sometimes, so failures and clamps are counted too. */
static const char SCENARIO[] =
    "[scenario]\nname = shards\nseed = 3\nsamples = 2500\n"
    "[workload]\nmodel = llama-3.1-8b\ninput_tokens_per_day = 1e9\n"
    "output_tokens_per_day = uniform(0.5e9, 1.5e9)\n"
    "[fleet a]\nchip = h100-sxm\ndecode_tok_s_per_chip = normal(1000, 600)\n"
    "prefill_tok_s_per_chip = 10000\nusd_per_kwh = uniform(0.05, 0.1)\n"
    "[fleet b]\nchip = h100-sxm\ncost = rent\nrent_usd_per_chip_hour = triangular(1.5, 2, 3)\n"
    "decode_tok_s_per_chip = 900\nprefill_tok_s_per_chip = 12000\nusd_per_kwh = 0.08\n";

/* Memory equality of n doubles (NaN bit patterns included), printing the first difference. */
static void assert_same_doubles(const double *got, const double *want, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(&got[i], &want[i], sizeof got[i]) != 0)
            fail_msg("%s[%zu]: got %.17g, want %.17g", what, i, got[i], want[i]);
}

static void test_three_shards_merge_into_the_single_run_bit_for_bit(void **state)
{
    Tmp *t = *state;
    TsErr err;
    Scenario s;
    if (scn_load_text(&s, "shards.ini", SCENARIO, strlen(SCENARIO), &t->cats, &err))
        fail_msg("scenario: %s", err.msg);
    McResult whole;
    McOptions all = {2500, 0, 1, NULL, NULL, NULL};
    assert_int_equal(mc_init(&whole, &s, 2500, &err), 0);
    assert_int_equal(mc_run(&s, &all, &whole, &err), 0);
    assert_int_equal(whole.n_blocks, 3);
    assert_true(whole.clamped > 0 && whole.failed[0] > 0); /* the test covers both sums */

    char paths[3][128];
    const char *parts[3];
    for (int k = 1; k <= 3; k++) {
        ShardRun r;
        assert_int_equal(shard_run_init(&r, &s, (ShardSpec){k, 3}, &err), 0);
        McOptions o = {0, 0, 1, NULL, NULL, NULL};
        assert_int_equal(shard_run(&s, &o, &r, &err), 0);
        for (int b = 0; b < 3; b++)
            assert_int_equal(r.mc.have_block[b], b == k - 1);
        snprintf(paths[k - 1], sizeof paths[k - 1], "%s/p%d.db", t->dir, k);
        parts[k - 1] = paths[k - 1];
        RunnerOptions ro = {paths[k - 1], t->dir, "test", 0};
        RunnerResult rr;
        if (runner_record_shard(&s, &r, &ro, &rr, &err))
            fail_msg("runner_record_shard: %s", err.msg);
        shard_run_fini(&r);
    }

    PartsMerge m;
    McResult merged;
    if (parts_merge_open(&m, parts, 3, "test", &err))
        fail_msg("parts_merge_open: %s", err.msg);
    if (parts_merge_blocks(&m, &s, &merged, &err))
        fail_msg("parts_merge_blocks: %s", err.msg);
    size_t cells = (size_t)3 * 2 * MET_COUNT;
    assert_same_doubles(merged.block_sum, whole.block_sum, cells, "block_sum");
    assert_same_doubles(merged.block_count, whole.block_count, cells, "block_count");
    assert_same_doubles(merged.samples, whole.samples, (size_t)2 * MC_N_PCT * 2500, "samples");
    assert_memory_equal(merged.failed, whole.failed, 2 * sizeof(long));
    assert_memory_equal(merged.have_block, whole.have_block, 3);
    assert_int_equal(merged.clamped, whole.clamped);
    mc_fini(&merged);
    parts_merge_fini(&m);

    /* 2 of 3 parts, and a build of another version, are refused */
    assert_int_equal(parts_merge_open(&m, parts, 2, "test", &err), TS_EINPUT);
    assert_non_null(strstr(err.msg, "shard 3/3 is missing"));
    parts_merge_fini(&m);
    assert_int_equal(parts_merge_open(&m, parts, 3, "other", &err), TS_EINPUT);
    assert_non_null(strstr(err.msg, "tokensim test"));
    parts_merge_fini(&m);
    mc_fini(&whole);
    scn_fini(&s);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tmp_setup, tmp_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_parse_accepts_k_of_n_within_bounds),
        T(test_parse_refuses_zero_k_over_n_and_junk_naming_the_text),
        T(test_blocks_read_back_bit_for_bit_in_block_order),
        T(test_failed_shard_write_leaves_no_rows_and_run_running),
        T(test_read_refuses_no_shard_run_and_two_shard_runs),
        T(test_three_shards_merge_into_the_single_run_bit_for_bit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
