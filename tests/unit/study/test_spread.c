/* test_spread: the messages ranks exchange, without MPI. Every block packed by the shard that
 * ran it and unpacked into shard 1's run, in block order, gives the McResult of one mc_run bit
 * for bit; a block message in the wrong slot or twice is refused. A sweep priced as 3 parts and
 * unpacked gives swp_run's rows. With the one-rank shim, spr_mc_run and spr_sweep_run equal
 * mc_run and swp_run, and the test hook (fail_rank 0) fails them with nothing left behind.
 * Runs from the repository root (catalogs in data/). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/study/shard.h"
#include "sim/study/spread.h"

/* Two fleets, four distributions, 3500 samples: four blocks (the last one short); the normal
 * draw is clamped at zero sometimes, so failures count too. A 1-D sweep of 7 points. */
static const char SCENARIO[] =
    "[scenario]\nname = spread\nseed = 5\nsamples = 3500\n"
    "[workload]\nmodel = llama-3.1-8b\ninput_tokens_per_day = 1e9\n"
    "output_tokens_per_day = uniform(0.5e9, 1.5e9)\n"
    "[fleet a]\nchip = h100-sxm\ndecode_tok_s_per_chip = normal(1000, 600)\n"
    "prefill_tok_s_per_chip = 10000\nusd_per_kwh = uniform(0.05, 0.1)\n"
    "[fleet b]\nchip = h100-sxm\ncost = rent\nrent_usd_per_chip_hour = triangular(1.5, 2, 3)\n"
    "decode_tok_s_per_chip = 900\nprefill_tok_s_per_chip = 12000\nusd_per_kwh = 0.08\n"
    "[sweep]\nover = usd_per_kwh\nvalues = 0.04..0.16 step 0.02\n";

typedef struct {
    ScnCatalogs cats;
    Scenario s;
} Fixture;

static int setup(void **state)
{
    Fixture *f = calloc(1, sizeof *f);
    TsErr err;
    if (!f || scn_catalogs_load(&f->cats, "data", &err))
        return -1;
    if (scn_load_text(&f->s, "spread.ini", SCENARIO, strlen(SCENARIO), &f->cats, &err)) {
        fprintf(stderr, "scenario: %s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;
    scn_fini(&f->s);
    scn_catalogs_fini(&f->cats);
    free(f);
    return 0;
}

/* Memory equality of n doubles (NaN bit patterns included), printing the first difference. */
static void assert_same_doubles(const double *got, const double *want, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(&got[i], &want[i], sizeof got[i]) != 0)
            fail_msg("%s[%zu]: got %.17g, want %.17g", what, i, got[i], want[i]);
}

static void assert_same_mc(const McResult *got, const McResult *want)
{
    size_t cells = (size_t)want->n_blocks * (size_t)want->n_fleets * MET_COUNT;
    assert_int_equal(got->n_blocks, want->n_blocks);
    assert_same_doubles(got->block_sum, want->block_sum, cells, "block_sum");
    assert_same_doubles(got->block_count, want->block_count, cells, "block_count");
    assert_same_doubles(got->samples, want->samples,
                        (size_t)want->n_fleets * MC_N_PCT * (size_t)want->n_samples, "samples");
    assert_memory_equal(got->failed, want->failed, (size_t)want->n_fleets * sizeof(long));
    assert_memory_equal(got->have_block, want->have_block, (size_t)want->n_blocks);
}

static void whole_run(Scenario *s, McResult *whole)
{
    TsErr err;
    McOptions all = {3500, 0, 1, NULL, NULL, NULL};
    assert_int_equal(mc_init(whole, s, 3500, &err), 0);
    assert_int_equal(mc_run(s, &all, whole, &err), 0);
    assert_int_equal(whole->n_blocks, 4);
    assert_true(whole->failed[0] > 0); /* the failures travel in the messages too */
}

static void test_blocks_packed_by_their_shards_rebuild_the_whole_run(void **state)
{
    Fixture *f = *state;
    TsErr err;
    McResult whole;
    whole_run(&f->s, &whole);
    ShardRun r[3];
    McOptions o = {0, 0, 1, NULL, NULL, NULL};
    for (int k = 0; k < 3; k++) {
        assert_int_equal(shard_run_init(&r[k], &f->s, (ShardSpec){k + 1, 3}, &err), 0);
        assert_int_equal(shard_run(&f->s, &o, &r[k], &err), 0);
    }
    double *buf = malloc(sizeof(double) * shard_block_doubles(&whole, 0));
    assert_non_null(buf);
    assert_true(shard_block_doubles(&whole, 3) < shard_block_doubles(&whole, 0)); /* short */
    for (int b = 0; b < 4; b++) {
        if (b % 3 == 0)
            continue;
        shard_pack_block(&r[b % 3], b, buf);
        if (shard_unpack_block(&r[0], b, buf, &err))
            fail_msg("block %d: %s", b, err.msg);
    }
    assert_same_mc(&r[0].mc, &whole);
    /* block 1's message again, and into slot 2 */
    shard_pack_block(&r[1], 1, buf);
    assert_int_equal(shard_unpack_block(&r[0], 1, buf, &err), TS_EINTERNAL);
    assert_non_null(strstr(err.msg, "already here"));
    assert_int_equal(shard_unpack_block(&r[1], 2, buf, &err), TS_EINTERNAL);
    free(buf);
    for (int k = 0; k < 3; k++)
        shard_run_fini(&r[k]);
    mc_fini(&whole);
}

static void assert_same_rows(const SwpResult *got, const SwpResult *want)
{
    assert_int_equal(got->n_rows, want->n_rows);
    for (long i = 0; i < want->n_rows; i++) {
        const SwpRow *a = &got->rows[i], *b = &want->rows[i];
        if (a->fleet != b->fleet || a->metric != b->metric || a->has_value != b->has_value ||
            memcmp(&a->x, &b->x, sizeof a->x) != 0 ||
            memcmp(&a->value, &b->value, sizeof a->value) != 0)
            fail_msg("row %ld: fleet %d metric %d x %.17g value %.17g (%d), want fleet %d "
                     "metric %d x %.17g value %.17g (%d)",
                     i, a->fleet, (int)a->metric, a->x, a->value, a->has_value, b->fleet,
                     (int)b->metric, b->x, b->value, b->has_value);
    }
}

static void test_sweep_parts_unpacked_equal_the_whole_sweep(void **state)
{
    Fixture *f = *state;
    TsErr err;
    SwpPlan p;
    assert_int_equal(swp_plan(&f->s, &p, &err), 0);
    assert_int_equal(p.nx, 7);
    SwpResult whole, part[3];
    assert_int_equal(swp_run(&f->s, &p, &whole, &err), 0);
    for (int k = 0; k < 3; k++)
        assert_int_equal(swp_run_part(&f->s, &p, k, 3, &part[k], &err), 0);
    /* 7 points over 3 parts: 3, 2, 2 */
    long per_point = 2 * whole.n_rows / 7;
    assert_int_equal(swp_part_doubles(&part[0], 0, 3), 3 * per_point);
    assert_int_equal(swp_part_doubles(&part[0], 2, 3), 2 * per_point);
    double *buf = malloc(sizeof(double) * (size_t)swp_part_doubles(&part[0], 0, 3));
    assert_non_null(buf);
    for (int k = 1; k < 3; k++) {
        swp_part_pack(&part[k], k, 3, buf);
        swp_part_unpack(&part[0], k, 3, buf);
    }
    assert_same_rows(&part[0], &whole);
    free(buf);
    for (int k = 0; k < 3; k++)
        swp_result_fini(&part[k]);
    swp_result_fini(&whole);
    swp_plan_fini(&p);
}

static void test_one_rank_equals_the_serial_run_and_its_failure_hook_fails(void **state)
{
    Fixture *f = *state;
    TsErr err;
    ts_err_clear(&err);
    ParCtx par;
    int argc = 1;
    char *args[] = {"test", NULL}, **argv = args;
    assert_int_equal(par_init(&par, &argc, &argv, &err), 0);
    assert_int_equal(par.rank, 0);
    assert_int_equal(par.size, 1);
    McResult whole, got;
    whole_run(&f->s, &whole);
    SprOptions so = {&par, -1};
    SprStats st;
    McOptions o = {3500, 0, 1, NULL, NULL, NULL};
    assert_int_equal(spr_mc_run(&so, &f->s, &o, &got, &st, &err), 0);
    assert_same_mc(&got, &whole);
    assert_int_equal(got.clamped, whole.clamped);
    assert_int_equal(st.messages, 0);
    mc_fini(&got);

    SwpPlan p;
    SwpResult sw, sg;
    assert_int_equal(swp_plan(&f->s, &p, &err), 0);
    assert_int_equal(swp_run(&f->s, &p, &sw, &err), 0);
    assert_int_equal(spr_sweep_run(&so, &f->s, &p, &sg, &st, &err), 0);
    assert_same_rows(&sg, &sw);
    swp_result_fini(&sg);

    so.fail_rank = 0;
    assert_int_equal(spr_mc_run(&so, &f->s, &o, &got, &st, &err), TS_EIO);
    assert_non_null(strstr(err.msg, "TOKENSIM_TEST_FAIL_RANK=0"));
    assert_null(got.samples); /* no partial result */
    assert_int_equal(spr_sweep_run(&so, &f->s, &p, &sg, &st, &err), TS_EIO);
    swp_result_fini(&sg);
    swp_result_fini(&sw);
    swp_plan_fini(&p);
    mc_fini(&whole);
    par_fini(&par);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_blocks_packed_by_their_shards_rebuild_the_whole_run),
        T(test_sweep_parts_unpacked_equal_the_whole_sweep),
        T(test_one_rank_equals_the_serial_run_and_its_failure_hook_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
