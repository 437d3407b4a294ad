/* test_modelfile: models/modelfile against real files in a fresh mkdtemp folder per test.
 * Checks seeded initialisation is reproducible, that tiny dense and MoE models (shared and
 * unshared classifier) round-trip bit for bit, that the bytes follow the documented layout
 * (checksum recomputed here independently), that saves are atomic, and that a corpus of bad
 * files made from a good one is refused with the right code and a message naming the fault. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "models/formats/modelfile.h"

typedef TestTmp Tmp;

static int tmp_setup(void **state)
{
    return test_tmp_setup(state, "test_modelfile", "model.tsm");
}

static int tmp_teardown(void **state)
{
    return test_tmp_teardown(state);
}

static EngineConfig tiny_dense(int shared)
{
    return test_tiny_dense("tiny-dense", shared);
}

/* tiny_dense with 4 experts (top 2) of width 8 plus 1 shared one; layer 0 stays dense. */
static EngineConfig tiny_moe(int shared_classifier)
{
    EngineConfig c = tiny_dense(shared_classifier);
    snprintf(c.name, sizeof c.name, "tiny-moe");
    c.shape.experts = 4;
    c.shape.experts_active = 2;
    c.shape.shared_experts = 1;
    c.shape.expert_ffn = 8;
    c.shape.dense_layers = 1;
    return c;
}

/* The documented checksum, written here again rather than calling mf_checksum. */
static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void put_le(unsigned char *p, uint64_t v, int width)
{
    for (int i = 0; i < width; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Reads the whole of path into a malloc'd buffer. */
static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long len = ftell(f);
    assert_true(len >= 0);
    rewind(f);
    unsigned char *buf = malloc((size_t)len + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return buf;
}

static void spit(const char *path, const unsigned char *buf, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static int exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static void assert_config_equal(const EngineConfig *got, const EngineConfig *want)
{
    assert_string_equal(got->name, want->name);
    assert_memory_equal(&got->shape, &want->shape, sizeof got->shape);
    assert_int_equal(got->max_seq, want->max_seq);
    assert_memory_equal(&got->rope_theta, &want->rope_theta, sizeof(float));
    assert_memory_equal(&got->norm_eps, &want->norm_eps, sizeof(float));
    assert_int_equal(got->shared_classifier, want->shared_classifier);
}

/* Saves c initialised from seed, then peeks and loads it back and compares everything. */
static void round_trip(const Tmp *t, const EngineConfig *c, uint64_t seed)
{
    TsErr err;
    ts_err_clear(&err);
    Weights w;
    assert_int_equal(wt_alloc(&w, c, &err), 0);
    wt_init_seeded(&w, c, seed);
    int rc = mf_save(t->path, c, &w, seed, &err);
    if (rc)
        print_error("mf_save: %s\n", err.msg);
    assert_int_equal(rc, 0);

    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.tmp", t->path);
    assert_false(exists(tmp));
    size_t n;
    unsigned char *bytes = slurp(t->path, &n);
    assert_int_equal(n, MF_HEADER_BYTES + 4 * wt_total_floats(c));
    free(bytes);

    EngineConfig peeked;
    assert_int_equal(mf_peek(t->path, &peeked, &err), 0);
    assert_config_equal(&peeked, c);

    EngineConfig got;
    Weights lw;
    MfMapping map;
    rc = mf_load(t->path, &got, &lw, &map, &err);
    if (rc)
        print_error("mf_load: %s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_config_equal(&got, c);
    assert_int_equal(map.seed, seed);
    assert_int_equal(lw.borrowed, 1);
    assert_int_equal(lw.n_floats, w.n_floats);
    assert_int_equal((uintptr_t)lw.data % 64, 0);
    assert_memory_equal(lw.data, w.data, w.n_floats * sizeof(float));
    for (int k = 0; k < WT_COUNT; k++) {
        size_t nf = wt_tensor_floats(c, (WeightTensor)k);
        if (nf)
            assert_memory_equal(wt_tensor(&lw, (WeightTensor)k), wt_tensor(&w, (WeightTensor)k),
                                nf * sizeof(float));
    }
    if (c->shared_classifier)
        assert_ptr_equal(lw.wcls, lw.token_embedding);
    else
        assert_ptr_not_equal(lw.wcls, lw.token_embedding);
    if (c->shape.experts) {
        assert_non_null(lw.router);
        assert_non_null(lw.ew2);
    } else {
        assert_null(lw.router);
    }

    wt_fini(&lw); /* borrowed: must not free the mapping */
    mf_unmap(&map);
    assert_null(map.base);
    assert_int_equal(map.bytes, 0);
    wt_fini(&w);
}

static void test_seeded_init_same_seed_is_bit_identical_other_seed_differs(void **state)
{
    (void)state;
    const EngineConfig cs[2] = {tiny_dense(0), tiny_moe(0)};
    for (int i = 0; i < 2; i++) {
        const EngineConfig *c = &cs[i];
        TsErr err;
        Weights a, b, o;
        assert_int_equal(wt_alloc(&a, c, &err), 0);
        assert_int_equal(wt_alloc(&b, c, &err), 0);
        assert_int_equal(wt_alloc(&o, c, &err), 0);
        wt_init_seeded(&a, c, 1234);
        wt_init_seeded(&b, c, 1234);
        wt_init_seeded(&o, c, 1235);
        assert_memory_equal(a.data, b.data, a.n_floats * sizeof(float));
        /* Norm weights are 1 under every seed; all other weights should differ. */
        size_t same = 0;
        for (size_t k = 0; k < a.n_floats; k++)
            same += memcmp(&a.data[k], &o.data[k], sizeof(float)) == 0;
        size_t norms = wt_tensor_floats(c, WT_RMS_ATT) + wt_tensor_floats(c, WT_RMS_FFN) +
                       wt_tensor_floats(c, WT_RMS_FINAL);
        assert_true(same < norms + a.n_floats / 100);
        assert_true(same >= norms);
        wt_fini(&a);
        wt_fini(&b);
        wt_fini(&o);
    }
}

static void test_round_trip_dense_unshared_classifier_is_bit_identical(void **state)
{
    EngineConfig c = tiny_dense(0);
    round_trip(*state, &c, 42);
}

static void test_round_trip_dense_shared_classifier_is_bit_identical(void **state)
{
    EngineConfig c = tiny_dense(1);
    round_trip(*state, &c, 7);
}

static void test_round_trip_moe_unshared_classifier_is_bit_identical(void **state)
{
    EngineConfig c = tiny_moe(0);
    round_trip(*state, &c, 42);
}

static void test_round_trip_moe_shared_classifier_is_bit_identical(void **state)
{
    EngineConfig c = tiny_moe(1);
    round_trip(*state, &c, 0xfedcba9876543210ull);
}

/* Byte offsets of the documented layout, and the checksum recomputed from the data bytes. */
static void test_saved_bytes_follow_documented_layout_and_checksum(void **state)
{
    Tmp *t = *state;
    EngineConfig c = tiny_moe(0);
    TsErr err;
    Weights w;
    assert_int_equal(wt_alloc(&w, &c, &err), 0);
    wt_init_seeded(&w, &c, 99);
    assert_int_equal(mf_save(t->path, &c, &w, 99, &err), 0);
    size_t n;
    unsigned char *b = slurp(t->path, &n);

    assert_memory_equal(b, "TSMODEL\0", 8);
    assert_int_equal(b[8], 1);
    assert_int_equal(b[9] | b[10] | b[11], 0);
    assert_int_equal(b[12] | b[13] << 8, 384);
    assert_string_equal((const char *)b + 16, "tiny-moe");
    const long shape[12] = {2, 16, 4, 2, 4, 32, 4, 2, 1, 8, 1, 40};
    for (int f = 0; f < 12; f++)
        assert_int_equal(le64(b + 64 + 8 * f), shape[f]);
    assert_int_equal(le64(b + 160) & 0xffffffffu, 32);
    float theta;
    memcpy(&theta, b + 164, 4);
    assert_true(theta == 10000.0f);
    assert_int_equal(le64(b + 172) & 0xffffffffu, 0);
    assert_int_equal(le64(b + 176), 99);
    /* embedding 640 + rms_att 32 + wq 512 + wk 256 + wv 256 + wo 512 + rms_ffn 32 + 1 dense
     * layer of 3 x 512 + router 64 + 1 MoE layer of 5 experts x 128 x 3 + rms_final 16 +
     * wcls 640 */
    uint64_t n_floats = le64(b + 184);
    assert_int_equal(n_floats, 640 + 32 + 512 + 256 + 256 + 512 + 32 + 1536 + 64 + 1920 + 16 + 640);
    assert_int_equal(le64(b + 192 + 8 * WT_WQ), 512);
    assert_int_equal(le64(b + 192 + 8 * WT_W1), 512);
    assert_int_equal(le64(b + 192 + 8 * WT_EW2), 640);
    assert_int_equal(le64(b + 192 + 8 * WT_WCLS), 640);
    assert_int_equal(le64(b + 320), fnv1a(b + 384, n - 384));
    for (size_t i = 328; i < 384; i++)
        assert_int_equal(b[i], 0);
    assert_int_equal(n, 384 + 4 * n_floats);
    assert_memory_equal(b + 384, w.data, 4 * n_floats);
    free(b);
    wt_fini(&w);
}

static void test_save_replaces_existing_file_and_leaves_no_tmp(void **state)
{
    Tmp *t = *state;
    EngineConfig c = tiny_dense(0);
    TsErr err;
    Weights w;
    assert_int_equal(wt_alloc(&w, &c, &err), 0);
    wt_init_seeded(&w, &c, 1);
    assert_int_equal(mf_save(t->path, &c, &w, 1, &err), 0);
    wt_init_seeded(&w, &c, 2);
    assert_int_equal(mf_save(t->path, &c, &w, 2, &err), 0);
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.tmp", t->path);
    assert_false(exists(tmp));

    EngineConfig got;
    Weights lw;
    MfMapping map;
    assert_int_equal(mf_load(t->path, &got, &lw, &map, &err), 0);
    assert_int_equal(map.seed, 2);
    assert_memory_equal(lw.data, w.data, w.n_floats * sizeof(float));
    mf_unmap(&map);
    wt_fini(&w);
}

static void test_save_into_missing_folder_is_eio_and_creates_nothing(void **state)
{
    Tmp *t = *state;
    EngineConfig c = tiny_dense(0);
    TsErr err;
    Weights w;
    assert_int_equal(wt_alloc(&w, &c, &err), 0);
    wt_init_seeded(&w, &c, 1);
    char path[160];
    snprintf(path, sizeof path, "%s/no/such/dir/m.tsm", t->dir);
    ts_err_clear(&err);
    assert_int_equal(mf_save(path, &c, &w, 1, &err), TS_EIO);
    assert_int_equal(err.code, TS_EIO);
    assert_non_null(strstr(err.msg, "no/such/dir/m.tsm.tmp"));
    assert_false(exists(path));
    wt_fini(&w);
}

static void test_save_refuses_nan_weight_naming_tensor_and_writes_nothing(void **state)
{
    Tmp *t = *state;
    EngineConfig c = tiny_moe(0);
    TsErr err;
    Weights w;
    assert_int_equal(wt_alloc(&w, &c, &err), 0);
    wt_init_seeded(&w, &c, 1);
    w.ew3[17] = NAN;
    ts_err_clear(&err);
    assert_int_equal(mf_save(t->path, &c, &w, 1, &err), TS_EINPUT);
    assert_non_null(strstr(err.msg, "tensor ew3 holds a non-finite weight (nan) at index 17"));
    assert_false(exists(t->path));
    wt_fini(&w);
}

static void test_save_refuses_mla_fields_and_invalid_config(void **state)
{
    Tmp *t = *state;
    EngineConfig c = tiny_dense(0);
    TsErr err;
    Weights w;
    assert_int_equal(wt_alloc(&w, &c, &err), 0);
    wt_init_seeded(&w, &c, 1);

    EngineConfig mla = c;
    mla.shape.q_lora_rank = 8;
    ts_err_clear(&err);
    assert_int_equal(mf_save(t->path, &mla, &w, 1, &err), TS_EINPUT);
    assert_non_null(strstr(err.msg, "MLA fields must be 0"));

    EngineConfig odd = c;
    odd.shape.kv_heads = 3;
    ts_err_clear(&err);
    assert_int_equal(mf_save(t->path, &odd, &w, 1, &err), TS_EINPUT);
    assert_non_null(strstr(err.msg, "not a multiple of kv_heads"));
    assert_false(exists(t->path));
    wt_fini(&w);
}

/* A bad file made from the good tiny dense one (unshared classifier: 5968 floats, 24256
 * bytes). keep: bytes kept (ALL, ALL_BUT_ONE, HALF_DATA or a count); then `append` zero
 * bytes; then a patch of `width` bytes at `off` (from the start of `tensor`'s data when
 * tensor is set): width 1 XORs val in, 4 and 8 store val little-endian. */
enum { ALL = -1, ALL_BUT_ONE = -2, HALF_DATA = -3 };

typedef struct {
    const char *what;
    long keep;
    int append;
    const char *tensor;
    size_t off;
    int width;
    uint64_t val;
    int fix_checksum; /* recompute the data checksum after the patch */
    int peek_ok;      /* the fault is in the data, which mf_peek does not read */
    const char *fragment;
    int names_sizes; /* the message states the actual and the expected file size */
} BadCase;

static const BadCase BAD[] = {
    {"empty file", .keep = 0, .fragment = "empty file"},
    {"cut inside the magic", .keep = 5, .fragment = "not a tokensim model file (bad magic)"},
    {"cut inside the header", .keep = 100,
     .fragment = "truncated: file is 100 bytes, shorter than the 384-byte header"},
    {"cut after the header", .keep = 384, .fragment = "truncated", .names_sizes = 1},
    {"cut inside the data", .keep = HALF_DATA, .fragment = "truncated", .names_sizes = 1},
    {"one byte short", .keep = ALL_BUT_ONE, .fragment = "truncated", .names_sizes = 1},
    {"one trailing byte", .keep = ALL, .append = 1, .fragment = "trailing data", .names_sizes = 1},
    {"wrong magic", .keep = ALL, .off = 0, .width = 1, .val = 0x20,
     .fragment = "not a tokensim model file (bad magic)"},
    {"version 2", .keep = ALL, .off = 8, .width = 4, .val = 2,
     .fragment = "format version 2 was written by a newer tokensim"},
    {"version 0", .keep = ALL, .off = 8, .width = 4, .val = 0,
     .fragment = "unsupported format version 0"},
    {"header size 512", .keep = ALL, .off = 12, .width = 4, .val = 512,
     .fragment = "header size 512"},
    {"nonzero header padding", .keep = ALL, .off = 330, .width = 1, .val = 1,
     .fragment = "header padding at offset 330"},
    {"escape character in the name", .keep = ALL, .off = 16, .width = 1, .val = 't' ^ 0x1b,
     .fragment = "control character 0x1b"},
    {"d_model 1<<40", .keep = ALL, .off = 64 + 8 * MF_D_MODEL, .width = 8, .val = 1ull << 40,
     .fragment = "d_model = 1099511627776 is outside [1, 16384]"},
    {"layers 1<<40", .keep = ALL, .off = 64 + 8 * MF_LAYERS, .width = 8, .val = 1ull << 40,
     .fragment = "layers = 1099511627776 is outside [1, 256]"},
    {"vocab -1", .keep = ALL, .off = 64 + 8 * MF_VOCAB, .width = 8, .val = UINT64_MAX,
     .fragment = "vocab = -1 is outside"},
    {"kv_heads 3 with 4 heads", .keep = ALL, .off = 64 + 8 * MF_KV_HEADS, .width = 8, .val = 3,
     .fragment = "heads 4 is not a multiple of kv_heads 3"},
    {"max_seq 0", .keep = ALL, .off = 160, .width = 4, .val = 0,
     .fragment = "max_seq = 0 is outside [1, 65536]"},
    {"rope_theta NaN", .keep = ALL, .off = 164, .width = 4, .val = 0x7fc00000,
     .fragment = "rope_theta and norm_eps must be finite"},
    {"shared_classifier 2", .keep = ALL, .off = 172, .width = 4, .val = 2,
     .fragment = "shared_classifier must be 0 or 1, got 2"},
    {"shared_classifier flipped to 1", .keep = ALL, .off = 172, .width = 4, .val = 1,
     .fragment = "tensor table: wcls has 640 floats, the config needs 0"},
    {"tensor table wq off by one", .keep = ALL, .off = 192 + 8 * WT_WQ, .width = 8, .val = 513,
     .fragment = "tensor table: wq has 513 floats, the config needs 512"},
    {"n_floats off by one", .keep = ALL, .off = 184, .width = 8, .val = 5969,
     .fragment = "n_floats = 5969 does not match the config's 5968"},
    {"flipped data byte", .keep = ALL, .tensor = "wv", .off = 5, .width = 1, .val = 0x10,
     .peek_ok = 1, .fragment = "checksum mismatch: the file is corrupt"},
    {"flipped checksum byte", .keep = ALL, .off = 320, .width = 1, .val = 0x01, .peek_ok = 1,
     .fragment = "checksum mismatch: the file is corrupt"},
    {"NaN weight with a correct checksum", .keep = ALL, .tensor = "wk", .off = 4 * 3, .width = 4,
     .val = 0x7fc00000, .fix_checksum = 1, .peek_ok = 1,
     .fragment = "tensor wk holds a non-finite weight (nan) at index 3"},
    {"-inf weight with a correct checksum", .keep = ALL, .tensor = "rms_final", .off = 0,
     .width = 4, .val = 0xff800000, .fix_checksum = 1, .peek_ok = 1,
     .fragment = "tensor rms_final holds a non-finite weight (inf) at index 0"},
};

/* File offset of tensor name's data in a file of config c. */
static size_t tensor_offset(const EngineConfig *c, const char *name)
{
    size_t off = MF_HEADER_BYTES;
    for (int k = 0; k < WT_COUNT; k++) {
        if (strcmp(wt_tensor_name((WeightTensor)k), name) == 0)
            return off;
        off += 4 * wt_tensor_floats(c, (WeightTensor)k);
    }
    fail_msg("no tensor %s", name);
    return 0;
}

/* Fails naming the case unless rc, err and the zeroed outputs show a refusal with fragment. */
static void expect_refused(const BadCase *bc, const char *fn, const char *path, int rc,
                           const TsErr *err, const char *sizes)
{
    if (rc != TS_EINPUT || err->code != TS_EINPUT || !strstr(err->msg, bc->fragment) ||
        strncmp(err->msg, path, strlen(path)) != 0 || (sizes && !strstr(err->msg, sizes)))
        fail_msg("%s, %s: rc %d, code %d, message '%s'; want TS_EINPUT and '%s'%s%s", bc->what, fn,
                 rc, err->code, err->msg, bc->fragment, sizes ? " and " : "", sizes ? sizes : "");
}

static void test_bad_file_corpus_is_refused_with_code_and_message(void **state)
{
    Tmp *t = *state;
    EngineConfig c = tiny_dense(0);
    TsErr err;
    Weights w;
    assert_int_equal(wt_alloc(&w, &c, &err), 0);
    wt_init_seeded(&w, &c, 5);
    assert_int_equal(mf_save(t->path, &c, &w, 5, &err), 0);
    wt_fini(&w);
    size_t n;
    unsigned char *good = slurp(t->path, &n);
    assert_int_equal(n, 24256);
    unsigned char *buf = malloc(n + 16);
    assert_non_null(buf);
    char bad_path[160];
    snprintf(bad_path, sizeof bad_path, "%s/bad.tsm", t->dir);

    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        const BadCase *bc = &BAD[i];
        size_t len = bc->keep == ALL           ? n
                     : bc->keep == ALL_BUT_ONE ? n - 1
                     : bc->keep == HALF_DATA   ? MF_HEADER_BYTES + (n - MF_HEADER_BYTES) / 2 + 2
                                               : (size_t)bc->keep;
        memcpy(buf, good, len);
        memset(buf + len, 0, (size_t)bc->append);
        len += (size_t)bc->append;
        size_t at = (bc->tensor ? tensor_offset(&c, bc->tensor) : 0) + bc->off;
        if (bc->width == 1)
            buf[at] ^= (unsigned char)bc->val;
        else if (bc->width)
            put_le(buf + at, bc->val, bc->width);
        if (bc->fix_checksum)
            put_le(buf + MF_OFF_CHECKSUM, fnv1a(buf + MF_HEADER_BYTES, len - MF_HEADER_BYTES), 8);
        spit(bad_path, buf, len);

        char sizes[96];
        snprintf(sizes, sizeof sizes, "file is %zu bytes, expected %zu", len, n);
        EngineConfig got;
        Weights lw;
        MfMapping map;
        ts_err_clear(&err);
        int rc = mf_load(bad_path, &got, &lw, &map, &err);
        expect_refused(bc, "mf_load", bad_path, rc, &err, bc->names_sizes ? sizes : NULL);
        assert_null(map.base);
        assert_null(lw.data);
        mf_unmap(&map);

        ts_err_clear(&err);
        rc = mf_peek(bad_path, &got, &err);
        if (bc->peek_ok) {
            if (rc != 0)
                fail_msg("%s, mf_peek: refused a file with a good header: %s", bc->what, err.msg);
        } else {
            expect_refused(bc, "mf_peek", bad_path, rc, &err, bc->names_sizes ? sizes : NULL);
        }
    }
    free(buf);
    free(good);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* With every dimension at 1<<40 a loader that sized anything from the header would need
 * zettabytes; the refusal must come from the range check, at once. */
static void test_absurd_dims_are_refused_fast_before_any_allocation(void **state)
{
    Tmp *t = *state;
    unsigned char h[MF_HEADER_BYTES];
    memset(h, 0, sizeof h);
    memcpy(h, "TSMODEL\0", 8);
    put_le(h + MF_OFF_VERSION, 1, 4);
    put_le(h + MF_OFF_HEADER_BYTES, MF_HEADER_BYTES, 4);
    memcpy(h + MF_OFF_NAME, "huge", 4);
    for (int f = 0; f < MF_SHAPE_FIELDS; f++)
        put_le(h + MF_OFF_SHAPE + 8 * f, 1ull << 40, 8);
    put_le(h + MF_OFF_N_FLOATS, UINT64_MAX / 4, 8);
    spit(t->path, h, sizeof h);

    TsErr err;
    EngineConfig c;
    Weights w;
    MfMapping map;
    ts_err_clear(&err);
    double t0 = now_s();
    int rc = mf_load(t->path, &c, &w, &map, &err);
    double dt = now_s() - t0;
    assert_int_equal(rc, TS_EINPUT);
    assert_non_null(strstr(err.msg, "layers = 1099511627776 is outside [1, 256]"));
    assert_true(dt < 0.5);
    assert_null(map.base);
}

static void test_missing_file_is_eio_naming_the_path(void **state)
{
    Tmp *t = *state;
    TsErr err;
    EngineConfig c;
    Weights w;
    MfMapping map;
    ts_err_clear(&err);
    assert_int_equal(mf_load(t->path, &c, &w, &map, &err), TS_EIO);
    assert_int_equal(err.code, TS_EIO);
    assert_non_null(strstr(err.msg, t->path));
    assert_non_null(strstr(err.msg, "cannot open"));
    assert_null(map.base);

    ts_err_clear(&err);
    assert_int_equal(mf_peek(t->path, &c, &err), TS_EIO);
    assert_non_null(strstr(err.msg, t->path));
}

static void test_directory_is_eio_not_a_regular_file(void **state)
{
    Tmp *t = *state;
    TsErr err;
    EngineConfig c;
    Weights w;
    MfMapping map;
    ts_err_clear(&err);
    assert_int_equal(mf_load(t->dir, &c, &w, &map, &err), TS_EIO);
    assert_non_null(strstr(err.msg, "not a regular file"));
}

static void test_unmap_accepts_null_and_zeroed_mapping(void **state)
{
    (void)state;
    MfMapping map;
    memset(&map, 0, sizeof map);
    mf_unmap(NULL);
    mf_unmap(&map);
    assert_null(map.base);
}

static void test_checksum_is_fnv1a_64_and_streams(void **state)
{
    (void)state;
    /* FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c (the published test vector). */
    assert_int_equal(mf_checksum(MF_FNV_OFFSET, "a", 1), 0xaf63dc4c8601ec8cull);
    assert_int_equal(mf_checksum(MF_FNV_OFFSET, "", 0), MF_FNV_OFFSET);
    uint64_t whole = mf_checksum(MF_FNV_OFFSET, "foobar", 6);
    assert_int_equal(whole, 0x85944171f73967e8ull);
    assert_int_equal(mf_checksum(mf_checksum(MF_FNV_OFFSET, "foo", 3), "bar", 3), whole);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tmp_setup, tmp_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_seeded_init_same_seed_is_bit_identical_other_seed_differs),
        T(test_round_trip_dense_unshared_classifier_is_bit_identical),
        T(test_round_trip_dense_shared_classifier_is_bit_identical),
        T(test_round_trip_moe_unshared_classifier_is_bit_identical),
        T(test_round_trip_moe_shared_classifier_is_bit_identical),
        T(test_saved_bytes_follow_documented_layout_and_checksum),
        T(test_save_replaces_existing_file_and_leaves_no_tmp),
        T(test_save_into_missing_folder_is_eio_and_creates_nothing),
        T(test_save_refuses_nan_weight_naming_tensor_and_writes_nothing),
        T(test_save_refuses_mla_fields_and_invalid_config),
        T(test_bad_file_corpus_is_refused_with_code_and_message),
        T(test_absurd_dims_are_refused_fast_before_any_allocation),
        T(test_missing_file_is_eio_naming_the_path),
        T(test_directory_is_eio_not_a_regular_file),
        T(test_unmap_accepts_null_and_zeroed_mapping),
        T(test_checksum_is_fnv1a_64_and_streams),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
