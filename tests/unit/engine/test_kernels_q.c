/* Unit tests of models/engine/kernels_q.c, the packed bf16, int8 and int4 matmuls, against
 * scalar references on odd sizes (1, 7, 33 and 4097 inputs; 1, 7 and 33 outputs; 1, 5, 16
 * and 23 rows): bf16 within 1e-5 of the exact products of the rounded inputs summed in double
 * (relative to the sum of |products|); int8 and int4 bit for bit against their integer
 * formulas written here from qt_get's values; every result near the float32 product. Each row
 * alone and each output range apart give the same bits as the whole call (batch shape and
 * thread split never change a result). Also: int4 round trips within half a step and its
 * closed-form byte count. The portable build (tests/e2e/portable.sh) runs the same file. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/engine/kernels.h"
#include "models/engine/quant.h"

static float frand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) & 0xFFFFFF) / 8388608.0f - 1.0f;
}

/* One matmul's operands in precision p: weights (out, in), activations (rows, in). */
typedef struct {
    Precision p;
    int rows, in, out, kp;
    float *wf, *xf;
    QMat m;
    void *owned;
    void *x;       /* the activation form, (rows, kp) */
    float *xs;     /* (rows) */
    int32_t *xsum; /* int4: (rows, kp / 32) */
} Case;

static void case_open(Case *c, Precision p, int rows, int in, int out, uint64_t seed)
{
    TsErr err;
    ts_err_clear(&err);
    memset(c, 0, sizeof *c);
    c->p = p;
    c->rows = rows, c->in = in, c->out = out;
    c->wf = malloc(sizeof(float) * (size_t)out * (size_t)in);
    c->xf = malloc(sizeof(float) * (size_t)rows * (size_t)in);
    for (int i = 0; i < out * in; i++)
        c->wf[i] = frand(&seed);
    for (int i = 0; i < rows * in; i++)
        c->xf[i] = frand(&seed);
    assert_int_equal(qt_mat_new(&c->m, p, c->wf, out, in, &c->owned, &err), 0);
    c->kp = c->m.kpad;
    assert_int_equal(c->kp, qt_kpad(p, in));
    c->x = malloc((size_t)rows * (size_t)c->kp * (size_t)prec_elt_bytes(p));
    c->xs = malloc(sizeof(float) * (size_t)rows);
    c->xsum = malloc(sizeof(int32_t) * (size_t)rows * (size_t)(c->kp / QT_Q4_BLOCK + 1));
    for (int r = 0; r < rows; r++) {
        const float *src = c->xf + (size_t)r * (size_t)in;
        size_t off = (size_t)r * (size_t)c->kp;
        if (p == PREC_BF16)
            qt_act_bf16((uint16_t *)c->x + off, src, in, c->kp);
        else if (p == PREC_INT8)
            c->xs[r] = qt_act_u8((uint8_t *)c->x + off, src, in, c->kp);
        else
            c->xs[r] = qt_act_i8((int8_t *)c->x + off,
                                 c->xsum + (size_t)r * (size_t)(c->kp / QT_Q4_BLOCK), src, in,
                                 c->kp);
    }
}

static void case_close(Case *c)
{
    free(c->wf);
    free(c->xf);
    free(c->owned);
    free(c->x);
    free(c->xs);
    free(c->xsum);
}

/* The kernel of c's precision on rows [r0, r0 + rows) and outputs [o0, o1) into y (stride ldy,
 * row 0 of y is row r0). */
static void run(const Case *c, float *y, int ldy, int r0, int rows, int o0, int o1)
{
    size_t off = (size_t)r0 * (size_t)c->kp;
    int nb = c->kp / QT_Q4_BLOCK;
    if (c->p == PREC_BF16)
        kern_matmul_bf16(y, ldy, (const uint16_t *)c->x + off, c->kp, &c->m, rows, o0, o1);
    else if (c->p == PREC_INT8)
        kern_matmul_i8(y, ldy, (const uint8_t *)c->x + off, c->xs + r0, c->kp, &c->m, rows, o0,
                       o1);
    else
        kern_matmul_q4(y, ldy, (const int8_t *)c->x + off, c->xs + r0,
                       c->xsum + (size_t)r0 * (size_t)nb, c->kp, nb, &c->m, rows, o0, o1);
}

/* The scalar reference of element (r, o), and in *mag the sum of |products| (bf16 tolerance). */
static float reference(const Case *c, int r, int o, double *mag)
{
    size_t off = (size_t)r * (size_t)c->kp;
    *mag = 0;
    if (c->p == PREC_BF16) {
        const uint16_t *x = (const uint16_t *)c->x + off;
        double s = 0;
        for (int k = 0; k < c->in; k++) {
            double pr = (double)qt_f32(x[k]) * qt_get(&c->m, o, k);
            s += pr;
            *mag += fabs(pr);
        }
        return (float)s;
    }
    if (c->p == PREC_INT8) {
        const uint8_t *x = (const uint8_t *)c->x + off;
        int64_t acc = 0;
        for (int k = 0; k < c->in; k++)
            acc += (int64_t)(x[k] - 128) * lrintf(qt_get(&c->m, o, k) / c->m.scale[o]);
        return (float)acc * (c->xs[r] * c->m.scale[o]);
    }
    const int8_t *x = (const int8_t *)c->x + off;
    int nb = c->kp / QT_Q4_BLOCK, p = o / QT_PANEL, n = o % QT_PANEL;
    float acc = 0.0f;
    for (int b = 0; b < nb; b++) {
        size_t at = ((size_t)p * (size_t)nb + (size_t)b) * QT_PANEL + (size_t)n;
        float d = qt_f32(c->m.q4_scale[at]);
        int32_t isum = 0;
        for (int k = b * QT_Q4_BLOCK; k < (b + 1) * QT_Q4_BLOCK && k < c->in; k++)
            isum += (d != 0.0f ? (int32_t)lrintf(qt_get(&c->m, o, k) / d) : 0) * x[k];
        acc = fmaf((float)isum, d, acc);
    }
    return acc * c->xs[r];
}

static void check_precision(Precision p)
{
    static const int INS[] = {1, 7, 33, 4097}, OUTS[] = {1, 7, 33}, ROWS[] = {1, 5, 16, 23};
    uint64_t seed = 11 + (uint64_t)p;
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 3; b++)
            for (int d = 0; d < 4; d++) {
                int in = INS[a], out = OUTS[b], rows = ROWS[d];
                Case c;
                case_open(&c, p, rows, in, out, seed++);
                float *y = malloc(sizeof(float) * (size_t)rows * (size_t)out);
                float *y2 = malloc(sizeof(float) * (size_t)rows * (size_t)out);
                run(&c, y, out, 0, rows, 0, out);
                for (int r = 0; r < rows; r++)
                    for (int o = 0; o < out; o++) {
                        double mag, f32 = 0, absf = 0;
                        float want = reference(&c, r, o, &mag), got = y[r * out + o];
                        if (p == PREC_BF16) {
                            assert_close(got, want, 0, 1e-5 * mag + 1e-30);
                        } else if (memcmp(&got, &want, sizeof got) != 0) {
                            print_error("%s %dx%d->%d at (%d, %d): got %.9g want %.9g\n",
                                        prec_name(p), rows, in, out, r, o, got, want);
                            fail();
                        }
                        for (int k = 0; k < in; k++) {
                            double pr = (double)c.xf[r * in + k] * c.wf[o * in + k];
                            f32 += pr;
                            absf += fabs(pr);
                        }
                        /* near the float32 product: int4's steps are 1/8 of a block's range */
                        double tol = p == PREC_BF16 ? 0.01 : p == PREC_INT8 ? 0.02 : 0.2;
                        assert_close(got, f32, 0, tol * sqrt((double)in) + 1e-3 * absf + 1e-6);
                    }
                /* each row alone, and the outputs split at a panel, give the same bits */
                for (int r = 0; r < rows; r++) {
                    run(&c, y2 + r * out, out, r, 1, 0, out);
                    assert_memory_equal(y2 + r * out, y + r * out, sizeof(float) * (size_t)out);
                }
                if (out > QT_PANEL) {
                    memset(y2, 0, sizeof(float) * (size_t)rows * (size_t)out);
                    run(&c, y2, out, 0, rows, 0, QT_PANEL);
                    run(&c, y2, out, 0, rows, QT_PANEL, out);
                    assert_memory_equal(y2, y, sizeof(float) * (size_t)rows * (size_t)out);
                }
                free(y);
                free(y2);
                case_close(&c);
            }
}

static void test_bf16_packed_matmul_matches_the_rounded_inputs_on_odd_sizes(void **state)
{
    (void)state;
    check_precision(PREC_BF16);
}

static void test_int8_packed_matmul_is_the_exact_integer_formula_on_odd_sizes(void **state)
{
    (void)state;
    check_precision(PREC_INT8);
}

static void test_int4_packed_matmul_is_the_exact_block_formula_on_odd_sizes(void **state)
{
    (void)state;
    check_precision(PREC_INT4);
}

static void test_int4_round_trips_within_half_a_step_and_counts_its_bytes(void **state)
{
    (void)state;
    TsErr err;
    ts_err_clear(&err);
    uint64_t seed = 5;
    int rows = 19, cols = 70;
    float *w = malloc(sizeof(float) * (size_t)rows * (size_t)cols);
    for (int i = 0; i < rows * cols; i++)
        w[i] = frand(&seed) * (i % 7 == 0 ? 3.0f : 1.0f);
    QMat m;
    void *owned;
    assert_int_equal(qt_mat_new(&m, PREC_INT4, w, rows, cols, &owned, &err), 0);
    assert_int_equal(m.kpad, 96);
    int nb = m.kpad / QT_Q4_BLOCK;
    for (int r = 0; r < rows; r++)
        for (int k = 0; k < cols; k++) {
            int b = k / QT_Q4_BLOCK, p = r / QT_PANEL, n = r % QT_PANEL;
            double d = fabs(qt_f32(m.q4_scale[((size_t)p * (size_t)nb + (size_t)b) * QT_PANEL +
                                              (size_t)n]));
            /* within half a step (the bf16 scale can move it by under 1% of a step), except
             * where Q4_0's range -8..7 clamps: a value of the extreme's opposite sign and
             * nearly its size ends at 7 steps */
            double x = w[r * cols + k], tol = d * 0.5 * 1.01 + 1e-7;
            if (fabs(x) > 7.5 * d)
                tol = fabs(x) - 7.0 * d + 1e-6;
            assert_close(qt_get(&m, r, k), x, 0, tol);
        }
    assert_true(qt_get(&m, 0, cols) == 0.0f && qt_get(&m, rows, 0) == 0.0f);
    assert_close(qt_matrix_bytes(PREC_INT4, 10, 64), 10 * 2 * 18, 0, 0);
    assert_close(qt_matrix_bytes(PREC_INT4, 10, 33), 10 * 2 * 18, 0, 0);
    assert_close(prec_weight_bytes(PREC_INT4), 0.5625, 0, 0);
    free(owned);
    free(w);
}

static void test_activation_forms_pad_with_zero_values(void **state)
{
    (void)state;
    float x[7] = {0.5f, -1.0f, 0.25f, 0.0f, 1.0f, -0.75f, 0.1f};
    uint8_t u[8];
    int8_t q[32];
    int32_t sum;
    uint16_t h[8];
    qt_act_bf16(h, x, 7, 8);
    assert_int_equal(h[7], 0);
    assert_true(qt_act_u8(u, x, 7, 8) > 0.0f);
    assert_int_equal(u[7], 128);
    float s = qt_act_i8(q, &sum, x, 7, 32);
    int32_t want = 0;
    for (int i = 0; i < 32; i++) {
        want += q[i];
        if (i >= 7)
            assert_int_equal(q[i], 0);
    }
    assert_int_equal(sum, want);
    assert_int_equal(q[1], -127);
    assert_close(s, 1.0 / 127, 1e-6, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bf16_packed_matmul_matches_the_rounded_inputs_on_odd_sizes),
        cmocka_unit_test(test_int8_packed_matmul_is_the_exact_integer_formula_on_odd_sizes),
        cmocka_unit_test(test_int4_packed_matmul_is_the_exact_block_formula_on_odd_sizes),
        cmocka_unit_test(test_int4_round_trips_within_half_a_step_and_counts_its_bytes),
        cmocka_unit_test(test_activation_forms_pad_with_zero_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
