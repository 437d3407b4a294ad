/* testutil: helpers shared by the cmocka unit tests. Include after <cmocka.h>.
 * Doubles are compared with a relative and an absolute tolerance, and a failure prints both
 * values with %.17g and the caller's file and line. */
#ifndef TS_TESTS_TESTUTIL_H
#define TS_TESTS_TESTUTIL_H

#include <math.h>

static inline void assert_close_at(double got, double want, double rel, double abs_tol,
                                   const char *what, const char *file, int line)
{
    double diff = fabs(got - want);
    if (!(diff <= abs_tol || diff <= rel * fabs(want))) {
        print_error("%s:%d: %s: got %.17g, want %.17g (rel %g, abs %g)\n", file, line, what, got,
                    want, rel, abs_tol);
        _fail(file, line); /* report the caller's line, not this one */
    }
}

/* Passes when |got - want| <= abs_tol or <= rel x |want|. */
#define assert_close(got, want, rel, abs_tol) \
    assert_close_at((got), (want), (rel), (abs_tol), #got, __FILE__, __LINE__)

#endif
