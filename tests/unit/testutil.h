/* testutil: helpers shared by the cmocka unit tests. Include after <cmocka.h>.
 * Doubles are compared with a relative and an absolute tolerance, and a failure prints both
 * values with %.17g and the caller's file and line. */
#ifndef TS_TESTS_TESTUTIL_H
#define TS_TESTS_TESTUTIL_H

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/engine/config.h"

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

/* A temporary folder for one test (dir) and a file name in it (path, not created). */
typedef struct {
    char dir[64];
    char path[128];
} TestTmp;

/* cmocka setup: a new TestTmp in *state, its folder /tmp/PREFIX.XXXXXX, path = dir/FILE. */
static inline int test_tmp_setup(void **state, const char *prefix, const char *file)
{
    TestTmp *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    snprintf(t->dir, sizeof t->dir, "/tmp/%s.XXXXXX", prefix);
    if (!mkdtemp(t->dir)) {
        free(t);
        return -1;
    }
    snprintf(t->path, sizeof t->path, "%s/%s", t->dir, file);
    *state = t;
    return 0;
}

/* cmocka teardown: removes every file the test left in the folder, the folder, the struct. */
static inline int test_tmp_teardown(void **state)
{
    TestTmp *t = *state;
    DIR *d = opendir(t->dir);
    if (d) {
        struct dirent *e;
        char p[512];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(p, sizeof p, "%s/%s", t->dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    int rc = rmdir(t->dir);
    free(t);
    return rc;
}

/* A tiny dense engine config: dim 16, 2 layers, 4 heads of 4, 2 KV heads, FFN 32, vocab 40,
 * max_seq 32. */
static inline EngineConfig test_tiny_dense(const char *name, int shared_classifier)
{
    EngineConfig c;
    memset(&c, 0, sizeof c);
    snprintf(c.name, sizeof c.name, "%s", name);
    c.shape.layers = 2;
    c.shape.d_model = 16;
    c.shape.heads = 4;
    c.shape.kv_heads = 2;
    c.shape.head_dim = 4;
    c.shape.ffn = 32;
    c.shape.vocab = 40;
    c.max_seq = 32;
    c.rope_theta = 10000.0f;
    c.norm_eps = 1e-5f;
    c.shared_classifier = shared_classifier;
    return c;
}

/* A 2-layer config with 4 heads and 2 KV heads of head_dim: dense with an FFN of ffn when
 * experts is 0, else all-MoE with top-2 of experts (plus shared) of expert_ffn. */
static inline EngineConfig test_small_config(int d_model, int head_dim, int ffn, int experts,
                                             int shared, int expert_ffn, int vocab, int max_seq)
{
    EngineConfig c;
    memset(&c, 0, sizeof c);
    snprintf(c.name, sizeof c.name, "small");
    c.shape.layers = 2;
    c.shape.d_model = d_model;
    c.shape.heads = 4;
    c.shape.kv_heads = 2;
    c.shape.head_dim = head_dim;
    c.shape.ffn = experts ? 0 : ffn;
    c.shape.experts = experts;
    c.shape.experts_active = experts ? 2 : 0;
    c.shape.shared_experts = experts ? shared : 0;
    c.shape.expert_ffn = experts ? expert_ffn : 0;
    c.shape.vocab = vocab;
    c.max_seq = max_seq;
    c.rope_theta = 10000.0f;
    c.norm_eps = 1e-5f;
    return c;
}

#endif
