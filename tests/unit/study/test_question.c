/* Unit tests of sim/study/question.c's closed forms: pass@k, the fewest attempts that reach a target,
 * and distillation FLOPs (2 x teacher active params per generated token, 6 x student params per
 * training token). Expected values are worked by hand: 1 - 0.445^3 = 0.911878875;
 * 2 x 37e9 x 3.2e9 = 2.368e20; 6 x 14.8e9 x 6.4e9 = 5.6832e20. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/testutil.h"

#include "sim/study/question.h"

static void test_pass_at_k_of_three_attempts(void **state)
{
    (void)state;
    assert_close(qst_pass_at_k(0.555, 3), 0.911878875, 1e-12, 1e-15);
    assert_close(qst_pass_at_k(0.798, 1), 0.798, 1e-12, 1e-15);
}

static void test_attempts_for_target_is_the_fewest(void **state)
{
    (void)state;
    /* 0.555: pass@2 = 0.802 < 0.9 <= pass@3 = 0.912 */
    assert_int_equal(qst_attempts_for(0.555, 0.9, 100), 3);
    /* 0.798: pass@1 = 0.798 < 0.9 <= pass@2 = 0.959 */
    assert_int_equal(qst_attempts_for(0.798, 0.9, 100), 2);
    assert_int_equal(qst_attempts_for(0.95, 0.9, 100), 1);
}

static void test_attempts_for_unreachable_target_is_minus_one(void **state)
{
    (void)state;
    /* 0.01 per attempt: pass@10 = 0.0956, far from 0.99 */
    assert_int_equal(qst_attempts_for(0.01, 0.99, 10), -1);
}

static void test_distill_flops_use_2_and_6(void **state)
{
    (void)state;
    double t, s;
    qst_distill_flops(37e9, 3.2e9, 14.8e9, 6.4e9, &t, &s);
    assert_close(t, 2.368e20, 1e-12, 0);
    assert_close(s, 5.6832e20, 1e-12, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pass_at_k_of_three_attempts),
        cmocka_unit_test(test_attempts_for_target_is_the_fewest),
        cmocka_unit_test(test_attempts_for_unreachable_target_is_minus_one),
        cmocka_unit_test(test_distill_flops_use_2_and_6),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
