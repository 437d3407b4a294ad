/* test_paged: the engine's rule with paged KV and ragged batches (issue 19). Sequences that
 * arrive at different steps, prefill in chunks beside other sequences' decodes (so one step
 * holds rows at many positions), and keep their KV in scattered blocks of a shared pool must
 * give bit-identical logits at every position, and the same greedy text, as each sequence run
 * alone in an unpaged engine; for dense and MoE models, fp32 and bf16 KV, fp32 and int8
 * weights. A sequence that takes a shared prefix's blocks (filled by another sequence) gets
 * the same logits as computing that prefix itself. Bad block tables are refused. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/testutil.h"

#include <string.h>

#include "models/engine/forward.h"

#define V 50
#define MAXSEQ 40
#define BT 5 /* positions per block: prompts and steps cross block edges */
#define NSEQ 3
#define GEN 6

static EngineConfig model(int experts)
{
    EngineConfig c;
    memset(&c, 0, sizeof c);
    snprintf(c.name, sizeof c.name, "paged");
    c.shape.layers = 2;
    c.shape.d_model = 64;
    c.shape.heads = 2;
    c.shape.kv_heads = 1;
    c.shape.head_dim = 32; /* whole 16-lane vectors in the value sums */
    c.shape.ffn = experts ? 0 : 96;
    c.shape.experts = experts;
    c.shape.experts_active = experts ? 2 : 0;
    c.shape.expert_ffn = experts ? 48 : 0;
    c.shape.vocab = V;
    c.max_seq = MAXSEQ;
    c.rope_theta = 10000.0f;
    c.norm_eps = 1e-5f;
    return c;
}

static const int PROMPTS[NSEQ][12] = {
    {3, 17, 5, 44, 9, 1, 28, 33, 12, 7, 0, 0},
    {30, 31, 2, 8, 19, 40, 41, 6, 11, 22, 23, 24},
    {3, 17, 5, 44, 9, 10, 13, 0, 0, 0, 0, 0}, /* shares its first block with sequence 0 */
};
static const int PLEN[NSEQ] = {10, 12, 7};
static const int ARRIVE[NSEQ] = {0, 1, 3}; /* the step each sequence joins */
static const int CHUNK[NSEQ] = {4, 5, 3};  /* prefill positions per step */

typedef struct {
    float logits[MAXSEQ][V]; /* at every computed position */
    int tokens[MAXSEQ];      /* prompt, then greedy */
} Trace;

static int argmax(const float *x)
{
    int b = 0;
    for (int i = 1; i < V; i++)
        b = x[i] > x[b] ? i : b;
    return b;
}

typedef struct {
    EngineConfig c;
    Weights w;
    QWeights q;
    Pool *pool;
} Model;

static void model_open(Model *m, int experts, Precision prec)
{
    TsErr err;
    m->c = model(experts);
    assert_int_equal(wt_alloc(&m->w, &m->c, &err), 0);
    wt_init_seeded(&m->w, &m->c, 11);
    assert_int_equal(qw_build(&m->q, &m->c, &m->w, prec, NULL, &err), 0);
    assert_int_equal(pool_new(2, &m->pool, &err), 0);
}

static void model_close(Model *m)
{
    qw_free(&m->q);
    pool_free(m->pool);
    wt_fini(&m->w);
}

/* Each sequence alone: its prompt in one prefill step, then GEN greedy decodes. */
static void run_alone(Model *m, Precision kv, Trace *tr)
{
    TsErr err;
    for (int s = 0; s < NSEQ; s++) {
        Engine *e;
        assert_int_equal(eng_new_q(&m->c, &m->w, &m->q, kv, 1, MAXSEQ, 16, m->pool, &e, &err), 0);
        Trace *t = &tr[s];
        memcpy(t->tokens, PROMPTS[s], sizeof(int) * (size_t)PLEN[s]);
        FwdRow rows[16];
        for (int i = 0; i < PLEN[s]; i++)
            rows[i] = (FwdRow){0, i, t->tokens[i], 1};
        assert_int_equal(eng_step(e, rows, PLEN[s], &t->logits[0][0], PHASE_PREFILL, &err), 0);
        for (int p = PLEN[s]; p < PLEN[s] + GEN; p++) {
            t->tokens[p] = argmax(t->logits[p - 1]);
            FwdRow r = {0, p, t->tokens[p], 1};
            assert_int_equal(eng_step(e, &r, 1, t->logits[p], PHASE_DECODE, &err), 0);
        }
        eng_free(e);
    }
}

/* All together in a paged engine: ragged steps, chunked prefill, scattered blocks; with share,
 * sequence 2 takes sequence 0's first block instead of computing its first BT positions. */
static void run_paged(Model *m, Precision kv, int share, Trace *tr)
{
    TsErr err;
    Engine *e;
    EngPaging pg = {40, BT};
    assert_int_equal(
        eng_new_paged(&m->c, &m->w, &m->q, kv, &pg, NSEQ, MAXSEQ, 32, m->pool, &e, &err), 0);
    int32_t table[NSEQ][MAXSEQ / BT];
    int nblk[NSEQ] = {0}, pos[NSEQ] = {0}, next_free = 0;
    for (int s = 0; s < NSEQ; s++)
        memcpy(tr[s].tokens, PROMPTS[s], sizeof(int) * (size_t)PLEN[s]);
    for (int step = 0; step < 40; step++) {
        FwdRow rows[32];
        int n = 0, owner[32];
        for (int s = 0; s < NSEQ; s++) {
            if (step < ARRIVE[s] || pos[s] >= PLEN[s] + GEN)
                continue;
            if (share && s == 2 && pos[s] == 0) {
                table[2][0] = table[0][0]; /* sequence 0 has filled it by now */
                nblk[2] = 1;
                pos[2] = BT;
                memcpy(tr[2].logits[0], tr[0].logits[0], sizeof(float) * V * BT);
            }
            int todo = pos[s] < PLEN[s] ? CHUNK[s] : 1;
            if (pos[s] < PLEN[s] && pos[s] + todo > PLEN[s])
                todo = PLEN[s] - pos[s];
            while (nblk[s] * BT < pos[s] + todo) /* scattered: 7 apart, mod 40 */
                table[s][nblk[s]++] = (int32_t)((next_free++ * 7 + 3) % 40);
            assert_int_equal(eng_set_blocks(e, s, table[s], nblk[s], pos[s], &err), 0);
            for (int i = 0; i < todo; i++) {
                owner[n] = s;
                rows[n++] = (FwdRow){s, pos[s] + i, tr[s].tokens[pos[s] + i], 1};
            }
        }
        if (n == 0)
            break;
        float lg[32][V];
        assert_int_equal(eng_step(e, rows, n, &lg[0][0], PHASE_DECODE, &err), 0);
        for (int i = 0; i < n; i++) {
            int s = owner[i], p = rows[i].pos;
            memcpy(tr[s].logits[p], lg[i], sizeof(float) * V);
            pos[s] = p + 1;
            if (p + 1 >= PLEN[s] && p + 1 < PLEN[s] + GEN)
                tr[s].tokens[p + 1] = argmax(lg[i]);
        }
    }
    for (int s = 0; s < NSEQ; s++)
        assert_int_equal(pos[s], PLEN[s] + GEN);
    eng_free(e);
}

static void check_identical(int experts, Precision prec, Precision kv, int share)
{
    Model m;
    model_open(&m, experts, prec);
    static Trace alone[NSEQ], paged[NSEQ];
    memset(alone, 0, sizeof alone);
    memset(paged, 0, sizeof paged);
    run_alone(&m, kv, alone);
    run_paged(&m, kv, share, paged);
    for (int s = 0; s < NSEQ; s++) {
        int n = PLEN[s] + GEN;
        for (int p = 0; p < n; p++) {
            if (memcmp(alone[s].logits[p], paged[s].logits[p], sizeof(float) * V) != 0) {
                print_error("experts %d %s KV %s share %d: sequence %d position %d: logits "
                            "differ (%.9g against %.9g at 0)\n",
                            experts, prec_name(prec), prec_name(kv), share, s, p,
                            alone[s].logits[p][0], paged[s].logits[p][0]);
                fail();
            }
        }
        assert_memory_equal(alone[s].tokens, paged[s].tokens, sizeof(int) * (size_t)n);
    }
    model_close(&m);
}

static void test_ragged_paged_dense_fp32_equals_single_sequences(void **state)
{
    (void)state;
    check_identical(0, PREC_FP32, PREC_FP32, 0);
}

static void test_ragged_paged_moe_fp32_equals_single_sequences(void **state)
{
    (void)state;
    check_identical(4, PREC_FP32, PREC_FP32, 0);
}

static void test_ragged_paged_bf16_kv_and_int8_weights_equal_single_sequences(void **state)
{
    (void)state;
    check_identical(0, PREC_FP32, PREC_BF16, 0);
    check_identical(4, PREC_INT8, PREC_BF16, 0);
    check_identical(0, PREC_INT8, PREC_FP32, 0);
}

static void test_shared_prefix_blocks_give_the_same_logits_as_computing_them(void **state)
{
    (void)state;
    check_identical(0, PREC_FP32, PREC_FP32, 1);
    check_identical(4, PREC_FP32, PREC_BF16, 1);
}

static void test_bad_block_tables_are_refused(void **state)
{
    (void)state;
    Model m;
    model_open(&m, 0, PREC_FP32);
    TsErr err;
    Engine *e;
    int32_t blocks[2] = {0, 1};
    assert_int_equal(eng_new_q(&m.c, &m.w, &m.q, PREC_FP32, 1, MAXSEQ, 4, m.pool, &e, &err), 0);
    assert_int_equal(eng_set_blocks(e, 0, blocks, 1, 0, &err), TS_EINPUT); /* not paged */
    eng_free(e);
    EngPaging pg = {4, BT};
    assert_int_equal(eng_new_paged(&m.c, &m.w, &m.q, PREC_FP32, &pg, 2, MAXSEQ, 8, m.pool, &e,
                                   &err), 0);
    FwdRow r = {0, 0, 1, 1};
    float lg[V];
    assert_int_equal(eng_step(e, &r, 1, lg, PHASE_DECODE, &err), TS_EINPUT); /* no block */
    blocks[1] = 4;
    assert_int_equal(eng_set_blocks(e, 0, blocks, 2, 0, &err), TS_EINPUT); /* out of pool */
    assert_int_equal(eng_set_blocks(e, 0, blocks, 1, BT + 1, &err), TS_EINPUT); /* len */
    assert_int_equal(eng_set_blocks(e, 0, blocks, 1, 0, &err), 0);
    FwdRow rows[BT + 1];
    for (int i = 0; i <= BT; i++)
        rows[i] = (FwdRow){0, i, i + 1, 0};
    assert_int_equal(eng_step(e, rows, BT + 1, NULL, PHASE_PREFILL, &err), TS_EINPUT);
    assert_int_equal(eng_step(e, rows, BT, NULL, PHASE_PREFILL, &err), 0);
    eng_free(e);
    EngPaging bad = {0, BT};
    assert_int_equal(eng_new_paged(&m.c, &m.w, &m.q, PREC_FP32, &bad, 2, MAXSEQ, 8, m.pool, &e,
                                   &err), TS_EINPUT);
    model_close(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ragged_paged_dense_fp32_equals_single_sequences),
        cmocka_unit_test(test_ragged_paged_moe_fp32_equals_single_sequences),
        cmocka_unit_test(test_ragged_paged_bf16_kv_and_int8_weights_equal_single_sequences),
        cmocka_unit_test(test_shared_prefix_blocks_give_the_same_logits_as_computing_them),
        cmocka_unit_test(test_bad_block_tables_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
