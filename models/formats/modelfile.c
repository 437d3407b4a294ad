/* modelfile: saves a config and its weights as a version 1 .tsm file (layout in modelfile.h)
 * and loads one by mapping it read-only. Every header field is range-checked before anything
 * is sized from it, and the data is checksummed and scanned for non-finite values before the
 * weights are attached. It does not read llama2.c checkpoints (llama2c.c does) and never
 * copies the weights: a loaded model lives in the page cache. */
#include "models/formats/modelfile.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The data is mapped and used in place, so it must already be in the host's byte order. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "modelfile maps little-endian float32 data in place; this host is not little-endian"
#endif
_Static_assert(sizeof(float) == 4, "float32 weights");
_Static_assert(WT_COUNT == MF_TENSORS, "a new tensor kind needs a new file version");
_Static_assert(MF_OFF_PADDING == MF_OFF_CHECKSUM + 8, "header layout");
_Static_assert(MF_OFF_TABLE + 8 * MF_TENSORS == MF_OFF_CHECKSUM, "header layout");
_Static_assert(MF_OFF_SHAPE + 8 * MF_SHAPE_FIELDS == MF_OFF_MAX_SEQ, "header layout");
_Static_assert(MF_HEADER_BYTES % 64 == 0, "data 64-byte aligned");

#define FNV_PRIME 0x100000001b3ull

/* What the header says beyond the config. */
typedef struct {
    uint64_t seed;
    uint64_t n_floats;
    uint64_t checksum;
    uint64_t file_bytes;
} MfInfo;

/* Where each stored shape field lives in ModelShape, and the range a file may hold. The
 * upper bounds are the engine's (config.h), so a value past them is refused before cfg_check
 * multiplies anything. */
static const struct {
    const char *name;
    size_t offset;
    long lo, hi;
} FIELDS[MF_SHAPE_FIELDS] = {
    {"layers", offsetof(ModelShape, layers), 1, CFG_MAX_LAYERS},
    {"d_model", offsetof(ModelShape, d_model), 1, CFG_MAX_DIM},
    {"heads", offsetof(ModelShape, heads), 1, CFG_MAX_DIM},
    {"kv_heads", offsetof(ModelShape, kv_heads), 1, CFG_MAX_DIM},
    {"head_dim", offsetof(ModelShape, head_dim), 1, CFG_MAX_DIM},
    {"ffn", offsetof(ModelShape, ffn), 0, 4L * CFG_MAX_DIM},
    {"experts", offsetof(ModelShape, experts), 0, CFG_MAX_EXPERTS},
    {"experts_active", offsetof(ModelShape, experts_active), 0, CFG_MAX_EXPERTS},
    {"shared_experts", offsetof(ModelShape, shared_experts), 0, CFG_MAX_EXPERTS},
    {"expert_ffn", offsetof(ModelShape, expert_ffn), 0, 4L * CFG_MAX_DIM},
    {"dense_layers", offsetof(ModelShape, dense_layers), 0, CFG_MAX_LAYERS},
    {"vocab", offsetof(ModelShape, vocab), 1, CFG_MAX_VOCAB},
};

static long *shape_field(ModelShape *s, int f)
{
    return (long *)(void *)((char *)s + FIELDS[f].offset);
}

static long shape_value(const ModelShape *s, int f)
{
    return *(const long *)(const void *)((const char *)s + FIELDS[f].offset);
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_f32(unsigned char *p, float f)
{
    uint32_t v;
    memcpy(&v, &f, sizeof v);
    put_u32(p, v);
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static float get_f32(const unsigned char *p)
{
    uint32_t v = get_u32(p);
    float f;
    memcpy(&f, &v, sizeof f);
    return f;
}

/* Two's complement reinterpretation without implementation-defined conversions. */
static int64_t get_i64(const unsigned char *p)
{
    uint64_t u = get_u64(p);
    return u <= (uint64_t)INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1;
}

static int32_t get_i32(const unsigned char *p)
{
    uint32_t u = get_u32(p);
    return u <= (uint32_t)INT32_MAX ? (int32_t)u : -(int32_t)(~u) - 1;
}

uint64_t mf_checksum(uint64_t h, const void *bytes, size_t n)
{
    const unsigned char *p = bytes;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

/* Index of the first NaN or infinity in p[0..n), n when there is none. Tests exponent bits
 * (immune to -ffast-math) in blocks, so the common all-finite case vectorises. */
static size_t first_nonfinite(const float *p, size_t n)
{
    enum { BLOCK = 4096 };
    for (size_t start = 0; start < n; start += BLOCK) {
        size_t end = n - start < BLOCK ? n : start + BLOCK;
        uint32_t bad = 0;
        for (size_t i = start; i < end; i++) {
            uint32_t b;
            memcpy(&b, p + i, sizeof b);
            bad |= (b & 0x7f800000u) == 0x7f800000u;
        }
        if (!bad)
            continue;
        for (size_t i = start; i < end; i++) {
            uint32_t b;
            memcpy(&b, p + i, sizeof b);
            if ((b & 0x7f800000u) == 0x7f800000u)
                return i;
        }
    }
    return n;
}

/* TS_EINPUT with "path: message". */
static int bad(TsErr *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int bad(TsErr *err, const char *path, const char *fmt, ...)
{
    char msg[TS_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ts_err_set(err, TS_EINPUT, "%s: %s", path, msg);
}

/* Everything a version 1 file can hold about c, checked the same way on save and on load so
 * that a saved file always loads. */
static int check_config(const char *path, const EngineConfig *c, TsErr *err)
{
    const char *nul = memchr(c->name, '\0', sizeof c->name);
    if (!nul)
        return bad(err, path, "model name is not NUL-terminated within %d bytes", CFG_NAME_MAX);
    for (const char *q = c->name; q < nul; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f)
            return bad(err, path, "model name holds control character 0x%02x",
                       (unsigned)(unsigned char)*q);
    for (int f = 0; f < MF_SHAPE_FIELDS; f++) {
        long v = shape_value(&c->shape, f);
        if (v < FIELDS[f].lo || v > FIELDS[f].hi)
            return bad(err, path, "%s = %ld is outside [%ld, %ld]", FIELDS[f].name, v, FIELDS[f].lo,
                       FIELDS[f].hi);
    }
    const ModelShape *s = &c->shape;
    if (s->kv_lora_rank || s->q_lora_rank || s->rope_dim || s->qk_nope_dim || s->v_head_dim)
        return bad(err, path, "model '%s': MLA fields must be 0 (the engine runs GQA/MHA only)",
                   c->name);
    if (!isfinite(c->rope_theta) || !isfinite(c->norm_eps))
        return bad(err, path, "rope_theta and norm_eps must be finite");
    if (c->shared_classifier != 0 && c->shared_classifier != 1)
        return bad(err, path, "shared_classifier must be 0 or 1, got %d", c->shared_classifier);
    TsErr e;
    ts_err_clear(&e);
    if (cfg_check(c, &e))
        return bad(err, path, "%s", e.msg);
    return 0;
}

/* Checks the header bytes h (have of them read) of a file of file_bytes, in the order that
 * names the first thing wrong; fills c and fi only when all of it holds. */
static int parse_header(const char *path, const unsigned char *h, size_t have, uint64_t file_bytes,
                        EngineConfig *c, MfInfo *fi, TsErr *err)
{
    if (file_bytes == 0)
        return bad(err, path, "empty file, not a tokensim model");
    if (have < 8 || memcmp(h + MF_OFF_MAGIC, MF_MAGIC, 8) != 0)
        return bad(err, path, "not a tokensim model file (bad magic)");
    if (have < MF_OFF_VERSION + 4)
        return bad(err, path, "truncated: file is %" PRIu64 " bytes, shorter than the header",
                   file_bytes);
    uint32_t version = get_u32(h + MF_OFF_VERSION);
    if (version > MF_VERSION)
        return bad(err, path,
                   "format version %" PRIu32 " was written by a newer tokensim (this one reads "
                   "version %u)",
                   version, MF_VERSION);
    if (version != MF_VERSION)
        return bad(err, path, "unsupported format version %" PRIu32, version);
    if (have < MF_HEADER_BYTES)
        return bad(err, path,
                   "truncated: file is %" PRIu64 " bytes, shorter than the %d-byte header",
                   file_bytes, MF_HEADER_BYTES);
    uint32_t header_bytes = get_u32(h + MF_OFF_HEADER_BYTES);
    if (header_bytes != MF_HEADER_BYTES)
        return bad(err, path, "header size %" PRIu32 ", version %u headers are %d bytes",
                   header_bytes, MF_VERSION, MF_HEADER_BYTES);
    for (size_t i = MF_OFF_PADDING; i < MF_HEADER_BYTES; i++)
        if (h[i] != 0)
            return bad(err, path, "nonzero byte in the header padding at offset %zu", i);

    EngineConfig cfg;
    memset(&cfg, 0, sizeof cfg);
    memcpy(cfg.name, h + MF_OFF_NAME, CFG_NAME_MAX);
    for (int f = 0; f < MF_SHAPE_FIELDS; f++) {
        int64_t v = get_i64(h + MF_OFF_SHAPE + 8 * f);
        if (v < FIELDS[f].lo || v > FIELDS[f].hi)
            return bad(err, path, "%s = %" PRId64 " is outside [%ld, %ld]", FIELDS[f].name, v,
                       FIELDS[f].lo, FIELDS[f].hi);
        *shape_field(&cfg.shape, f) = (long)v;
    }
    int32_t max_seq = get_i32(h + MF_OFF_MAX_SEQ);
    if (max_seq < 1 || max_seq > CFG_MAX_SEQ)
        return bad(err, path, "max_seq = %" PRId32 " is outside [1, %d]", max_seq, CFG_MAX_SEQ);
    cfg.max_seq = (int)max_seq;
    cfg.rope_theta = get_f32(h + MF_OFF_ROPE_THETA);
    cfg.norm_eps = get_f32(h + MF_OFF_NORM_EPS);
    int32_t shared = get_i32(h + MF_OFF_SHARED_CLASSIFIER);
    if (shared != 0 && shared != 1)
        return bad(err, path, "shared_classifier must be 0 or 1, got %" PRId32, shared);
    cfg.shared_classifier = (int)shared;
    int rc = check_config(path, &cfg, err);
    if (rc)
        return rc;

    /* The config is now known to be small enough that these products cannot overflow. */
    for (int t = 0; t < MF_TENSORS; t++) {
        uint64_t got = get_u64(h + MF_OFF_TABLE + 8 * t);
        size_t want = wt_tensor_floats(&cfg, (WeightTensor)t);
        if (got != (uint64_t)want)
            return bad(err, path, "tensor table: %s has %" PRIu64 " floats, the config needs %zu",
                       wt_tensor_name((WeightTensor)t), got, want);
    }
    uint64_t n_floats = get_u64(h + MF_OFF_N_FLOATS);
    size_t total = wt_total_floats(&cfg);
    if (n_floats != (uint64_t)total)
        return bad(err, path, "n_floats = %" PRIu64 " does not match the config's %zu", n_floats,
                   total);
    uint64_t expected = MF_HEADER_BYTES + n_floats * sizeof(float);
    if (file_bytes < expected)
        return bad(err, path,
                   "truncated: file is %" PRIu64 " bytes, expected %" PRIu64
                   " (%d-byte header + %" PRIu64 " floats)",
                   file_bytes, expected, MF_HEADER_BYTES, n_floats);
    if (file_bytes > expected)
        return bad(err, path,
                   "trailing data: file is %" PRIu64 " bytes, expected %" PRIu64 " (%" PRIu64
                   " extra)",
                   file_bytes, expected, file_bytes - expected);
    if (expected > SIZE_MAX)
        return bad(err, path, "%" PRIu64 " bytes do not fit this machine's address space",
                   expected);
    *c = cfg;
    fi->seed = get_u64(h + MF_OFF_SEED);
    fi->n_floats = n_floats;
    fi->checksum = get_u64(h + MF_OFF_CHECKSUM);
    fi->file_bytes = file_bytes;
    return 0;
}

/* Reads up to n bytes at offset 0; *got is what the file held. */
static int read_start(int fd, unsigned char *buf, size_t n, size_t *got)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, buf + done, n - done, (off_t)done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        done += (size_t)r;
    }
    *got = done;
    return 0;
}

/* Opens path and validates its header; on success *fd (when fd is non-NULL) is the open
 * descriptor for the caller to close. */
static int open_checked(const char *path, EngineConfig *c, MfInfo *fi, int *fd, TsErr *err)
{
    int f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return ts_err_set(err, TS_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(f, &st) != 0) {
        int e = errno;
        close(f);
        return ts_err_set(err, TS_EIO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(f);
        return ts_err_set(err, TS_EIO, "%s: not a regular file", path);
    }
    unsigned char h[MF_HEADER_BYTES];
    size_t got = 0;
    if (read_start(f, h, sizeof h, &got) != 0) {
        int e = errno;
        close(f);
        return ts_err_set(err, TS_EIO, "%s: cannot read: %s", path, strerror(e));
    }
    /* A file that shrank since fstat is judged by what was read. */
    uint64_t size = (uint64_t)st.st_size;
    if (got < sizeof h && got < size)
        size = got;
    int rc = parse_header(path, h, got, size, c, fi, err);
    if (rc || !fd)
        close(f);
    else
        *fd = f;
    return rc;
}

int mf_peek(const char *path, EngineConfig *c, TsErr *err)
{
    MfInfo fi;
    return open_checked(path, c, &fi, NULL, err);
}

int mf_load(const char *path, EngineConfig *c, Weights *w, MfMapping *map, TsErr *err)
{
    memset(w, 0, sizeof *w);
    memset(map, 0, sizeof *map);
    EngineConfig cfg;
    MfInfo fi;
    int fd = -1;
    int rc = open_checked(path, &cfg, &fi, &fd, err);
    if (rc)
        return rc;
    size_t bytes = (size_t)fi.file_bytes;
    void *base = mmap(NULL, bytes, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd); /* the mapping keeps the file */
    if (base == MAP_FAILED)
        return ts_err_set(err, TS_EIO, "%s: cannot map %zu bytes: %s", path, bytes, strerror(e));

    float *data = (float *)(void *)((unsigned char *)base + MF_HEADER_BYTES);
    uint64_t sum = mf_checksum(MF_FNV_OFFSET, data, (size_t)fi.n_floats * sizeof(float));
    if (sum != fi.checksum) {
        munmap(base, bytes);
        return bad(err, path,
                   "checksum mismatch: the file is corrupt (header %016" PRIx64 ", data %016" PRIx64
                   ")",
                   fi.checksum, sum);
    }
    size_t off = 0;
    for (int t = 0; t < WT_COUNT; t++) {
        size_t n = wt_tensor_floats(&cfg, (WeightTensor)t);
        size_t i = first_nonfinite(data + off, n);
        if (i < n) {
            float v = data[off + i];
            munmap(base, bytes);
            return bad(err, path, "tensor %s holds a non-finite weight (%s) at index %zu",
                       wt_tensor_name((WeightTensor)t), isnan(v) ? "nan" : "inf", i);
        }
        off += n;
    }
    wt_attach(w, &cfg, data);
    map->base = base;
    map->bytes = bytes;
    map->seed = fi.seed;
    *c = cfg;
    return 0;
}

void mf_unmap(MfMapping *map)
{
    if (!map)
        return;
    /* munmap fails only for an address range that was never mapped: a programmer error. */
    if (map->base)
        munmap(map->base, map->bytes);
    memset(map, 0, sizeof *map);
}

/* The header for c and w, checksum included (computed tensor by tensor in file order). */
static void encode_header(unsigned char *h, const EngineConfig *c, const Weights *w, uint64_t seed)
{
    memset(h, 0, MF_HEADER_BYTES);
    memcpy(h + MF_OFF_MAGIC, MF_MAGIC, 8);
    put_u32(h + MF_OFF_VERSION, MF_VERSION);
    put_u32(h + MF_OFF_HEADER_BYTES, MF_HEADER_BYTES);
    size_t name_len = strlen(c->name); /* < CFG_NAME_MAX: check_config found its NUL */
    memcpy(h + MF_OFF_NAME, c->name, name_len);
    for (int f = 0; f < MF_SHAPE_FIELDS; f++)
        put_u64(h + MF_OFF_SHAPE + 8 * f, (uint64_t)shape_value(&c->shape, f)); /* all >= 0 */
    put_u32(h + MF_OFF_MAX_SEQ, (uint32_t)c->max_seq);
    put_f32(h + MF_OFF_ROPE_THETA, c->rope_theta);
    put_f32(h + MF_OFF_NORM_EPS, c->norm_eps);
    put_u32(h + MF_OFF_SHARED_CLASSIFIER, (uint32_t)c->shared_classifier);
    put_u64(h + MF_OFF_SEED, seed);
    uint64_t sum = MF_FNV_OFFSET;
    for (int t = 0; t < WT_COUNT; t++) {
        size_t n = wt_tensor_floats(c, (WeightTensor)t);
        put_u64(h + MF_OFF_TABLE + 8 * t, n);
        if (n)
            sum = mf_checksum(sum, wt_tensor(w, (WeightTensor)t), n * sizeof(float));
    }
    put_u64(h + MF_OFF_N_FLOATS, wt_total_floats(c));
    put_u64(h + MF_OFF_CHECKSUM, sum);
}

/* Writes header and tensors to tmp, flushed to disk; TS_EIO naming tmp on any failure. */
static int write_tmp(const char *tmp, const unsigned char *h, const EngineConfig *c,
                     const Weights *w, TsErr *err)
{
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return ts_err_set(err, TS_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    int ok = fwrite(h, 1, MF_HEADER_BYTES, f) == MF_HEADER_BYTES;
    for (int t = 0; ok && t < WT_COUNT; t++) {
        size_t n = wt_tensor_floats(c, (WeightTensor)t);
        if (n)
            ok = fwrite(wt_tensor(w, (WeightTensor)t), sizeof(float), n, f) == n;
    }
    /* fsync before the rename, so a crash cannot leave the new name on unwritten blocks. */
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int e = errno;
    if (fclose(f) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (!ok)
        return ts_err_set(err, TS_EIO, "%s: write failed: %s", tmp, strerror(e));
    return 0;
}

int mf_save(const char *path, const EngineConfig *c, const Weights *w, uint64_t seed, TsErr *err)
{
    int rc = check_config(path, c, err);
    if (rc)
        return rc;
    for (int t = 0; t < WT_COUNT; t++) {
        const float *p = wt_tensor(w, (WeightTensor)t);
        size_t n = wt_tensor_floats(c, (WeightTensor)t);
        if (n && !p)
            return bad(err, path, "tensor %s is missing from the weights",
                       wt_tensor_name((WeightTensor)t));
        size_t i = first_nonfinite(p, n);
        if (i < n)
            return bad(err, path, "tensor %s holds a non-finite weight (%s) at index %zu",
                       wt_tensor_name((WeightTensor)t), isnan(p[i]) ? "nan" : "inf", i);
    }
    unsigned char h[MF_HEADER_BYTES];
    encode_header(h, c, w, seed);

    size_t len = strlen(path) + sizeof ".tmp";
    char *tmp = malloc(len);
    if (!tmp)
        return ts_err_set(err, TS_ENOMEM, "%s: out of memory", path);
    snprintf(tmp, len, "%s.tmp", path);
    rc = write_tmp(tmp, h, c, w, err);
    if (rc == 0 && rename(tmp, path) != 0)
        rc =
            ts_err_set(err, TS_EIO, "%s: cannot rename %s over it: %s", path, tmp, strerror(errno));
    if (rc)
        remove(tmp); /* best effort: it may not exist, and the first error is what matters */
    free(tmp);
    return rc;
}
