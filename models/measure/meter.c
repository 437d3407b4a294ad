/* meter: joules for a stretch of work, from the first meter that works: RAPL package zones in
 * powercap sysfs, the perf `power` PMU (energy-pkg), or the modeled cpu-linear power; NVIDIA
 * GPUs read through NVML (dlopen'd, so no link dependency) add their energy. Every figure
 * keeps its source string, and any modeled part makes the whole figure modeled. It reads
 * files under a caller's sysfs root (fake trees in tests) and never prints. It does not read
 * MSRs, load cpu_power.csv (the caller does) or correct for more than one counter wrap. */
#include "models/measure/meter.h"

#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define METER_MAX_ZONES 16 /* = the length of MeterMark.cpu_uj */
#define METER_MAX_GPUS 64
#define METER_PATH_MAX 1024

typedef struct NvmlDeviceOpaque *NvmlDevice; /* nvmlDevice_t */

/* The few NVML entry points used, declared here so no NVIDIA header is needed; each returns
 * nvmlReturn_t, 0 on success. */
typedef struct {
    void *lib; /* dlopen handle */
    int (*init)(void);
    int (*shutdown)(void);
    int (*count)(unsigned int *n);
    int (*handle)(unsigned int i, NvmlDevice *dev);
    int (*energy_mj)(NvmlDevice dev, unsigned long long *mj);
    unsigned int n_gpus;
    NvmlDevice gpus[METER_MAX_GPUS];
} MeterNvml;

struct Meter {
    MeterKind kind; /* METER_RAPL, METER_PERF or METER_MODELED: the CPU meter that won */
    char source[64];
    int n_vcpu;
    CpuPowerModel model;
    int n_zones;                                       /* RAPL */
    char zone_energy[METER_MAX_ZONES][METER_PATH_MAX]; /* (n_zones) energy_uj paths */
    uint64_t zone_max_uj[METER_MAX_ZONES];             /* (n_zones) max_energy_range_uj */
    int n_fds;                                         /* perf */
    int fds[METER_MAX_ZONES];                          /* (n_fds) one per package */
    double joules_per_count;
    int has_nvml;
    MeterNvml nvml;
};

/* ---- small file readers; each reports errno so reasons can name the cause ---- */

/* Reads the whole (small) file at path into buf, NUL-terminated, trailing whitespace cut.
 * Returns 0 or an errno value. A directory fails with EISDIR, a dangling link with ENOENT. */
static int meter_read_text(const char *path, char *buf, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    size_t len = 0;
    int e = 0;
    while (len + 1 < n) {
        ssize_t r = read(fd, buf + len, n - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            e = errno;
            break;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    buf[len] = '\0';
    while (len > 0 && isspace((unsigned char)buf[len - 1]))
        buf[--len] = '\0';
    return e;
}

/* Parses a whole decimal (or 0x hex when base is 0) unsigned number. 0 ok, -1 not a number. */
static int meter_parse_u64(const char *s, int base, uint64_t *out)
{
    if (!isdigit((unsigned char)*s))
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, base);
    if (errno || end == s || *end != '\0')
        return -1;
    *out = (uint64_t)v;
    return 0;
}

/* Appends "; " and reason to the why buffer (truncating, never overflowing). */
static void meter_why_add(char *why, size_t n, const char *reason)
{
    size_t len = strlen(why);
    const char *parts[2] = {len ? "; " : "", reason};
    for (int p = 0; p < 2; p++)
        for (const char *c = parts[p]; *c && len + 1 < n; c++)
            why[len++] = *c;
    why[len] = '\0';
}

/* printf into a path buffer. 0, or -1 when it did not fit. */
static int meter_path(char *buf, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int meter_path(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    return len < 0 || (size_t)len >= n ? -1 : 0;
}

/* Reads path as an unsigned counter. 0 ok; else code with "RAPL: PATH: reason" in err. */
static int meter_read_u64(const char *path, uint64_t *out, int code, TsErr *err)
{
    char buf[64];
    int e = meter_read_text(path, buf, sizeof buf);
    if (e)
        return ts_err_set(err, code, "RAPL: %s: %s", path, strerror(e));
    if (meter_parse_u64(buf, 10, out))
        return ts_err_set(err, code, "RAPL: %s: not a counter: '%s'", path, buf);
    return 0;
}

static double meter_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double meter_cpu_time_s(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0.0;
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

/* ---- the modeled meter's arithmetic ---- */

double meter_cpu_linear_w(const CpuPowerModel *m, int n_vcpu, double cpu_s, double wall_s, int band)
{
    if (n_vcpu <= 0)
        return 0.0;
    double lo = m->min_w_per_vcpu, hi = m->max_w_per_vcpu;
    if (band == METER_BAND_LOW) {
        lo = m->low_min_w_per_vcpu;
        hi = m->low_max_w_per_vcpu;
    } else if (band == METER_BAND_HIGH) {
        lo = m->high_min_w_per_vcpu;
        hi = m->high_max_w_per_vcpu;
    }
    double u = 0.0;
    if (wall_s > 0.0)
        u = cpu_s / (wall_s * (double)n_vcpu);
    if (!(u > 0.0)) /* also catches NaN */
        u = 0.0;
    if (u > 1.0)
        u = 1.0;
    return (double)n_vcpu * (lo + u * (hi - lo));
}

int meter_model_check(const CpuPowerModel *m, TsErr *err)
{
    const double v[6] = {m->low_min_w_per_vcpu, m->min_w_per_vcpu, m->high_min_w_per_vcpu,
                         m->low_max_w_per_vcpu, m->max_w_per_vcpu, m->high_max_w_per_vcpu};
    const char *row = m->family[0] ? m->family : "(unnamed)";
    for (int i = 0; i < 6; i++)
        if (!isfinite(v[i]) || v[i] < 0.0)
            return ts_err_set(err, TS_EINPUT,
                              "modeled meter: row '%s': coefficients must be finite and >= 0", row);
    if (v[1] == 0.0 && v[4] == 0.0)
        return ts_err_set(err, TS_EINPUT,
                          "modeled meter: no coefficients (load a cpu_power.csv row)");
    if (v[3] < v[0] || v[4] < v[1] || v[5] < v[2])
        return ts_err_set(err, TS_EINPUT, "modeled meter: row '%s': a max below its min", row);
    if (v[0] > v[1] || v[1] > v[2] || v[3] > v[4] || v[4] > v[5])
        return ts_err_set(err, TS_EINPUT,
                          "modeled meter: row '%s': the band must hold the figure (low <= "
                          "central <= high for min and for max)",
                          row);
    return 0;
}

/* 1 when pat (n chars, '?' = any one) occurs in s, case-insensitively. */
static int meter_find_alt(const char *s, const char *pat, size_t n)
{
    if (n == 0)
        return 1;
    for (; *s; s++) {
        size_t i = 0;
        while (i < n && s[i] &&
               (pat[i] == '?' || tolower((unsigned char)s[i]) == tolower((unsigned char)pat[i])))
            i++;
        if (i == n)
            return 1;
    }
    return 0;
}

int meter_cpu_match(const char *model_name, const char *pattern)
{
    if (!pattern || !pattern[0])
        return 1;
    if (!model_name)
        return 0;
    const char *p = pattern;
    for (;;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n > 0 && meter_find_alt(model_name, p, n))
            return 1;
        if (!bar)
            return 0;
        p = bar + 1;
    }
}

/* ---- RAPL through powercap sysfs ---- */

uint64_t meter_rapl_delta_uj(uint64_t start, uint64_t end, uint64_t max_range_uj)
{
    /* The kernel's counter runs 0..max_energy_range_uj and then starts again at 0, so one
     * wrap adds the range plus the step back to 0. (Its raw step is one RAPL energy unit,
     * 15-61 µJ, not 1 µJ; the difference is far below a millijoule.) */
    if (end >= start)
        return end - start;
    return end + (max_range_uj + 1 - start);
}

/* 1 when name is "intel-rapl:N" with N all digits: a package zone. Subzones are
 * "intel-rapl:N:M"; "intel-rapl-mmio:N" duplicates package N on some Intel parts. */
static int meter_is_package_zone(const char *name, long *index)
{
    static const char prefix[] = "intel-rapl:";
    size_t np = sizeof prefix - 1;
    if (strncmp(name, prefix, np) != 0 || !name[np])
        return 0;
    for (const char *q = name + np; *q; q++)
        if (!isdigit((unsigned char)*q))
            return 0;
    *index = strtol(name + np, NULL, 10);
    return 1;
}

static int meter_cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* Finds the package zones under root and checks each can be read. 0, or TS_EINPUT with the
 * reason ("RAPL: ...") in err. */
static int meter_rapl_open(Meter *m, const char *root, TsErr *err)
{
    char dir[METER_PATH_MAX];
    if (meter_path(dir, sizeof dir, "%s/class/powercap", root))
        return ts_err_set(err, TS_EINPUT, "RAPL: sysfs root too long");
    long idx[METER_MAX_ZONES];
    int n = 0, too_many = 0;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        long k;
        while ((e = readdir(d)) != NULL) {
            if (!meter_is_package_zone(e->d_name, &k))
                continue;
            if (n == METER_MAX_ZONES)
                too_many = 1;
            else
                idx[n++] = k;
        }
        closedir(d);
    }
    if (too_many)
        return ts_err_set(err, TS_EINPUT, "RAPL: more than %d package zones under %s",
                          METER_MAX_ZONES, dir);
    qsort(idx, (size_t)n, sizeof idx[0], meter_cmp_long);

    m->n_zones = 0;
    for (int i = 0; i < n; i++) {
        char path[METER_PATH_MAX], name[128];
        if (meter_path(path, sizeof path, "%s/intel-rapl:%ld/name", dir, idx[i]))
            return ts_err_set(err, TS_EINPUT, "RAPL: sysfs root too long");
        int e = meter_read_text(path, name, sizeof name);
        if (e)
            return ts_err_set(err, TS_EINPUT, "RAPL: %s: %s", path, strerror(e));
        /* client parts can have a "psys" platform zone at the same level; it overlaps */
        if (strncmp(name, "package", 7) != 0)
            continue;
        int z = m->n_zones;
        uint64_t v;
        if (meter_path(path, sizeof path, "%s/intel-rapl:%ld/max_energy_range_uj", dir, idx[i]))
            return ts_err_set(err, TS_EINPUT, "RAPL: sysfs root too long");
        int rc = meter_read_u64(path, &m->zone_max_uj[z], TS_EINPUT, err);
        if (rc)
            return rc;
        if (meter_path(m->zone_energy[z], sizeof m->zone_energy[z], "%s/intel-rapl:%ld/energy_uj",
                       dir, idx[i]))
            return ts_err_set(err, TS_EINPUT, "RAPL: sysfs root too long");
        if ((rc = meter_read_u64(m->zone_energy[z], &v, TS_EINPUT, err)) != 0)
            return rc;
        m->n_zones++;
    }
    if (m->n_zones == 0)
        return ts_err_set(err, TS_EINPUT, "RAPL: no package zones under %s", dir);
    return 0;
}

/* ---- the perf power PMU ---- */

/* Parses a cpumask list such as "0", "0,64" or "0-1" (ranges are rare here but allowed). */
static int meter_parse_cpus(const char *s, int *cpus, int max, int *n)
{
    *n = 0;
    while (*s) {
        char *end;
        long a = strtol(s, &end, 10), b;
        if (end == s || a < 0)
            return -1;
        b = a;
        s = end;
        if (*s == '-') {
            b = strtol(s + 1, &end, 10);
            if (end == s + 1 || b < a)
                return -1;
            s = end;
        }
        for (long c = a; c <= b; c++) {
            if (*n == max)
                return -1;
            cpus[(*n)++] = (int)c;
        }
        if (*s == ',')
            s++;
        else if (*s)
            return -1;
    }
    return *n > 0 ? 0 : -1;
}

int meter_perf_discover(const char *sysfs_root, MeterPerfEvent *ev, TsErr *err)
{
    const char *root = sysfs_root ? sysfs_root : "/sys";
    char dir[METER_PATH_MAX], path[METER_PATH_MAX + 32], buf[256];
    const char *pfx = "perf power PMU";
    uint64_t v;
    int e;
    memset(ev, 0, sizeof *ev);
    if (meter_path(dir, sizeof dir, "%s/bus/event_source/devices/power", root))
        return ts_err_set(err, TS_EINPUT, "%s: sysfs root too long", pfx);

    /* path has room for dir plus the longest name below, so these cannot truncate */
    meter_path(path, sizeof path, "%s/type", dir);
    if ((e = meter_read_text(path, buf, sizeof buf)) != 0)
        return ts_err_set(err, TS_EINPUT, "%s: %s: %s", pfx, path, strerror(e));
    if (meter_parse_u64(buf, 10, &v) || v > UINT32_MAX)
        return ts_err_set(err, TS_EINPUT, "%s: %s: not a PMU type: '%s'", pfx, path, buf);
    ev->type = (uint32_t)v;

    meter_path(path, sizeof path, "%s/events/energy-pkg", dir);
    if ((e = meter_read_text(path, buf, sizeof buf)) != 0)
        return ts_err_set(err, TS_EINPUT, "%s: %s: %s", pfx, path, strerror(e));
    /* the power PMU's format is event=config:0-7, so the event number is the config */
    if (strncmp(buf, "event=", 6) != 0 || meter_parse_u64(buf + 6, 0, &ev->config))
        return ts_err_set(err, TS_EINPUT, "%s: %s: expected 'event=N', got '%s'", pfx, path, buf);

    meter_path(path, sizeof path, "%s/events/energy-pkg.scale", dir);
    if ((e = meter_read_text(path, buf, sizeof buf)) != 0)
        return ts_err_set(err, TS_EINPUT, "%s: %s: %s", pfx, path, strerror(e));
    char *end;
    ev->joules_per_count = strtod(buf, &end);
    if (end == buf || *end != '\0' || !isfinite(ev->joules_per_count) ||
        ev->joules_per_count <= 0.0)
        return ts_err_set(err, TS_EINPUT, "%s: %s: not a scale: '%s'", pfx, path, buf);

    meter_path(path, sizeof path, "%s/events/energy-pkg.unit", dir);
    if ((e = meter_read_text(path, buf, sizeof buf)) != 0)
        return ts_err_set(err, TS_EINPUT, "%s: %s: %s", pfx, path, strerror(e));
    if (strcmp(buf, "Joules") != 0)
        return ts_err_set(err, TS_EINPUT, "%s: %s: unit '%s', expected Joules", pfx, path, buf);

    meter_path(path, sizeof path, "%s/cpumask", dir);
    e = meter_read_text(path, buf, sizeof buf);
    if (e == ENOENT) {
        ev->n_cpus = 1;
        ev->cpus[0] = 0;
    } else if (e) {
        return ts_err_set(err, TS_EINPUT, "%s: %s: %s", pfx, path, strerror(e));
    } else if (meter_parse_cpus(buf, ev->cpus, (int)(sizeof ev->cpus / sizeof ev->cpus[0]),
                                &ev->n_cpus)) {
        return ts_err_set(err, TS_EINPUT, "%s: %s: not a CPU list: '%s'", pfx, path, buf);
    }
    return 0;
}

static int meter_perf_read(int fd, uint64_t *count)
{
    ssize_t r;
    do
        r = read(fd, count, sizeof *count);
    while (r < 0 && errno == EINTR);
    return r == (ssize_t)sizeof *count ? 0 : (r < 0 ? errno : EIO);
}

/* Opens energy-pkg on one CPU of each package. 0, or TS_EINPUT with the reason in err. */
static int meter_perf_open(Meter *m, const char *root, TsErr *err)
{
    MeterPerfEvent ev;
    int rc = meter_perf_discover(root, &ev, err);
    if (rc)
        return rc;
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.type = ev.type;
    attr.size = sizeof attr;
    attr.config = ev.config;
    m->n_fds = 0;
    for (int i = 0; i < ev.n_cpus; i++) {
        long fd = syscall(SYS_perf_event_open, &attr, -1, ev.cpus[i], -1, PERF_FLAG_FD_CLOEXEC);
        if (fd < 0)
            return ts_err_set(err, TS_EINPUT, "perf power PMU: perf_event_open: %s",
                              strerror(errno));
        m->fds[m->n_fds++] = (int)fd;
        uint64_t c;
        int e = meter_perf_read((int)fd, &c);
        if (e)
            return ts_err_set(err, TS_EINPUT, "perf power PMU: read: %s", strerror(e));
    }
    m->joules_per_count = ev.joules_per_count;
    return 0;
}

/* ---- NVML ---- */

static void meter_nvml_close(MeterNvml *g)
{
    if (!g->lib)
        return;
    if (g->shutdown)
        g->shutdown();
    dlclose(g->lib);
    memset(g, 0, sizeof *g);
}

/* Looks up name in lib into *fn. ISO C has no cast from void * to a function pointer, so the
 * pointer's bytes are copied (what POSIX guarantees works for dlsym). */
static int meter_sym(void *lib, const char *name, void *fn, size_t fn_size)
{
    void *p = dlsym(lib, name);
    if (!p)
        return -1;
    memcpy(fn, &p, fn_size < sizeof p ? fn_size : sizeof p);
    return 0;
}

/* Loads NVML and finds GPUs whose total-energy counter can be read. 0, or -1 with the reason
 * in why (the library is unloaded again). */
static int meter_nvml_open(MeterNvml *g, const char *library, char *why, size_t why_n)
{
    memset(g, 0, sizeof *g);
    const char *lib = library ? library : "libnvidia-ml.so.1";
    g->lib = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!g->lib) {
        const char *e = dlerror();
        snprintf(why, why_n, "NVML: %s", e ? e : lib);
        return -1;
    }
    static const char *const names[] = {"nvmlInit_v2", "nvmlShutdown", "nvmlDeviceGetCount_v2",
                                        "nvmlDeviceGetHandleByIndex_v2",
                                        "nvmlDeviceGetTotalEnergyConsumption"};
    int bad = meter_sym(g->lib, names[0], &g->init, sizeof g->init);
    if (bad) {
        snprintf(why, why_n, "NVML: %s: no %s", lib, names[0]);
        dlclose(g->lib);
        memset(g, 0, sizeof *g);
        return -1;
    }
    const char *missing = NULL;
    if (meter_sym(g->lib, names[1], &g->shutdown, sizeof g->shutdown))
        missing = names[1];
    else if (meter_sym(g->lib, names[2], &g->count, sizeof g->count))
        missing = names[2];
    else if (meter_sym(g->lib, names[3], &g->handle, sizeof g->handle))
        missing = names[3];
    else if (meter_sym(g->lib, names[4], &g->energy_mj, sizeof g->energy_mj))
        missing = names[4];
    if (missing) {
        snprintf(why, why_n, "NVML: %s: no %s", lib, missing);
        dlclose(g->lib);
        memset(g, 0, sizeof *g);
        return -1;
    }
    int rc = g->init();
    if (rc != 0) {
        snprintf(why, why_n, "NVML: nvmlInit_v2 returned %d", rc);
        g->shutdown = NULL; /* nothing to shut down */
        meter_nvml_close(g);
        return -1;
    }
    unsigned int n = 0;
    if ((rc = g->count(&n)) != 0 || n == 0) {
        if (rc)
            snprintf(why, why_n, "NVML: nvmlDeviceGetCount_v2 returned %d", rc);
        else
            snprintf(why, why_n, "NVML: no GPUs");
        meter_nvml_close(g);
        return -1;
    }
    if (n > METER_MAX_GPUS) {
        snprintf(why, why_n, "NVML: %u GPUs, more than %d", n, METER_MAX_GPUS);
        meter_nvml_close(g);
        return -1;
    }
    for (unsigned int i = 0; i < n; i++) {
        unsigned long long mj;
        if ((rc = g->handle(i, &g->gpus[i])) != 0) {
            snprintf(why, why_n, "NVML: GPU %u: nvmlDeviceGetHandleByIndex_v2 returned %d", i, rc);
            meter_nvml_close(g);
            return -1;
        }
        /* pre-Volta GPUs have no energy counter; a partial sum would be silently low */
        if ((rc = g->energy_mj(g->gpus[i], &mj)) != 0) {
            snprintf(why, why_n, "NVML: GPU %u: nvmlDeviceGetTotalEnergyConsumption returned %d", i,
                     rc);
            meter_nvml_close(g);
            return -1;
        }
    }
    g->n_gpus = n;
    return 0;
}

static int meter_nvml_read_mj(const MeterNvml *g, double *mj, TsErr *err)
{
    double sum = 0.0;
    for (unsigned int i = 0; i < g->n_gpus; i++) {
        unsigned long long v;
        int rc = g->energy_mj(g->gpus[i], &v);
        if (rc != 0)
            return ts_err_set(err, TS_EIO,
                              "NVML: GPU %u: nvmlDeviceGetTotalEnergyConsumption returned %d", i,
                              rc);
        sum += (double)v;
    }
    *mj = sum;
    return 0;
}

/* ---- the meter ---- */

static void meter_reset_cpu(Meter *m)
{
    for (int i = 0; i < m->n_fds; i++)
        close(m->fds[i]);
    m->n_fds = 0;
    m->n_zones = 0;
}

int meter_open(MeterOptions *o, Meter **out, TsErr *err)
{
    *out = NULL;
    o->why_not[0] = '\0';
    if (o->n_vcpu < 0)
        return ts_err_set(err, TS_EINPUT, "meter: n_vcpu %d < 0", o->n_vcpu);
    if (o->kind != METER_AUTO && o->kind != METER_RAPL && o->kind != METER_PERF &&
        o->kind != METER_MODELED)
        return ts_err_set(err, TS_EINPUT, "meter: unknown kind %d", (int)o->kind);
    Meter *m = calloc(1, sizeof *m);
    if (!m)
        return ts_err_set(err, TS_ENOMEM, "meter: out of memory");
    const char *root = o->sysfs_root ? o->sysfs_root : "/sys";
    m->n_vcpu = o->n_vcpu;
    if (m->n_vcpu == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        m->n_vcpu = n > 0 ? (int)n : 1;
    }
    m->model = o->model;

    /* the hardware meters in order of preference; each failure says why in why_not */
    static const struct {
        MeterKind kind;
        int (*open)(Meter *, const char *, TsErr *);
    } HW[] = {{METER_RAPL, meter_rapl_open}, {METER_PERF, meter_perf_open}};
    int found = 0;
    for (size_t i = 0; i < sizeof HW / sizeof HW[0] && !found; i++) {
        if (o->kind != METER_AUTO && o->kind != HW[i].kind)
            continue;
        TsErr why;
        ts_err_clear(&why);
        if (HW[i].open(m, root, &why) == 0) {
            m->kind = HW[i].kind;
            found = 1;
            continue;
        }
        meter_reset_cpu(m);
        meter_why_add(o->why_not, sizeof o->why_not, why.msg);
        if (o->kind == HW[i].kind) {
            free(m);
            return ts_err_set(err, TS_EINPUT, "%s", why.msg);
        }
    }
    if (!found) {
        int rc = meter_model_check(&m->model, err);
        if (rc) {
            free(m);
            return rc;
        }
        if (o->kind == METER_MODELED)
            meter_why_add(o->why_not, sizeof o->why_not,
                          "measured meters not tried (modeled "
                          "forced)");
        m->kind = METER_MODELED;
    }

    if (o->use_nvml) {
        char reason[512];
        if (meter_nvml_open(&m->nvml, o->nvml_library, reason, sizeof reason) == 0)
            m->has_nvml = 1;
        else
            meter_why_add(o->why_not, sizeof o->why_not, reason);
    }
    snprintf(m->source, sizeof m->source, "%s%s",
             m->kind == METER_RAPL   ? "measured:rapl"
             : m->kind == METER_PERF ? "measured:perf-rapl"
                                     : "modeled:cpu-linear",
             m->has_nvml ? "+measured:nvml" : "");
    *out = m;
    return 0;
}

void meter_close(Meter *m)
{
    if (!m)
        return;
    meter_reset_cpu(m);
    if (m->has_nvml)
        meter_nvml_close(&m->nvml);
    free(m);
}

const char *meter_source(const Meter *m)
{
    return m->source;
}

int meter_is_modeled(const Meter *m)
{
    return m->kind == METER_MODELED;
}

int meter_n_vcpu(const Meter *m)
{
    return m->n_vcpu;
}

int meter_mark(Meter *m, MeterMark *mark, TsErr *err)
{
    memset(mark, 0, sizeof *mark);
    mark->wall_s = meter_now_s();
    mark->cpu_s = meter_cpu_time_s();
    for (int i = 0; i < m->n_zones; i++) {
        int rc = meter_read_u64(m->zone_energy[i], &mark->cpu_uj[i], TS_EIO, err);
        if (rc)
            return rc;
    }
    for (int i = 0; i < m->n_fds; i++) {
        int e = meter_perf_read(m->fds[i], &mark->cpu_uj[i]);
        if (e)
            return ts_err_set(err, TS_EIO, "perf power PMU: read: %s", strerror(e));
    }
    if (m->has_nvml)
        return meter_nvml_read_mj(&m->nvml, &mark->gpu_mj, err);
    return 0;
}

int meter_since(Meter *m, const MeterMark *mark, MeterEnergy *out, TsErr *err)
{
    MeterMark now;
    memset(out, 0, sizeof *out);
    int rc = meter_mark(m, &now, err);
    if (rc)
        return rc;
    out->seconds = now.wall_s - mark->wall_s;
    out->cpu_seconds = now.cpu_s - mark->cpu_s;
    if (m->kind == METER_RAPL) {
        uint64_t uj = 0;
        for (int i = 0; i < m->n_zones; i++) {
            if (mark->cpu_uj[i] > m->zone_max_uj[i] || now.cpu_uj[i] > m->zone_max_uj[i])
                return ts_err_set(err, TS_EIO, "RAPL: %s: counter above max_energy_range_uj",
                                  m->zone_energy[i]);
            uj += meter_rapl_delta_uj(mark->cpu_uj[i], now.cpu_uj[i], m->zone_max_uj[i]);
        }
        out->joules = out->low_j = out->high_j = 1e-6 * (double)uj;
    } else if (m->kind == METER_PERF) {
        double j = 0.0;
        for (int i = 0; i < m->n_fds; i++) /* 64-bit counts: unsigned difference suffices */
            j += (double)(now.cpu_uj[i] - mark->cpu_uj[i]) * m->joules_per_count;
        out->joules = out->low_j = out->high_j = j;
    } else {
        double s = out->seconds, c = out->cpu_seconds;
        out->joules = meter_cpu_linear_w(&m->model, m->n_vcpu, c, s, METER_BAND_CENTRAL) * s;
        out->low_j = meter_cpu_linear_w(&m->model, m->n_vcpu, c, s, METER_BAND_LOW) * s;
        out->high_j = meter_cpu_linear_w(&m->model, m->n_vcpu, c, s, METER_BAND_HIGH) * s;
    }
    if (m->has_nvml) {
        double gpu_j = 1e-3 * (now.gpu_mj - mark->gpu_mj);
        out->joules += gpu_j;
        out->low_j += gpu_j;
        out->high_j += gpu_j;
    }
    return 0;
}

/* Sleeps seconds, resuming after signals. */
static void meter_sleep(double seconds)
{
    struct timespec req, rem;
    req.tv_sec = (time_t)seconds;
    req.tv_nsec = (long)((seconds - (double)req.tv_sec) * 1e9);
    if (req.tv_nsec >= 1000000000L)
        req.tv_nsec = 999999999L;
    while (nanosleep(&req, &rem) != 0 && errno == EINTR)
        req = rem;
}

int meter_idle_w(Meter *m, double seconds, double *w, double *low_w, double *high_w, TsErr *err)
{
    *w = *low_w = *high_w = 0.0;
    if (m->kind == METER_MODELED) {
        /* u = 0: nothing to measure for the CPU */
        *w = meter_cpu_linear_w(&m->model, m->n_vcpu, 0.0, 0.0, METER_BAND_CENTRAL);
        *low_w = meter_cpu_linear_w(&m->model, m->n_vcpu, 0.0, 0.0, METER_BAND_LOW);
        *high_w = meter_cpu_linear_w(&m->model, m->n_vcpu, 0.0, 0.0, METER_BAND_HIGH);
        if (!m->has_nvml)
            return 0;
    }
    if (!(seconds > 0.0) || !isfinite(seconds))
        return ts_err_set(err, TS_EINPUT, "meter: idle seconds must be > 0, got %g", seconds);
    MeterMark a;
    int rc = meter_mark(m, &a, err);
    if (rc)
        return rc;
    meter_sleep(seconds);
    if (m->kind == METER_MODELED) {
        /* the CPU part stays the u = 0 model; the GPUs' part is what NVML saw */
        MeterMark b;
        if ((rc = meter_mark(m, &b, err)) != 0)
            return rc;
        if (!(b.wall_s > a.wall_s))
            return ts_err_set(err, TS_EINTERNAL, "meter: the monotonic clock did not advance");
        double gpu_w = 1e-3 * (b.gpu_mj - a.gpu_mj) / (b.wall_s - a.wall_s);
        *w += gpu_w;
        *low_w += gpu_w;
        *high_w += gpu_w;
        return 0;
    }
    MeterEnergy e;
    if ((rc = meter_since(m, &a, &e, err)) != 0)
        return rc;
    if (!(e.seconds > 0.0))
        return ts_err_set(err, TS_EINTERNAL, "meter: the monotonic clock did not advance");
    *w = *low_w = *high_w = e.joules / e.seconds;
    return 0;
}
