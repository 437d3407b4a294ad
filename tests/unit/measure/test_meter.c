/* test_meter: models/measure/meter.h on fake sysfs trees written under a fresh mkdtemp folder in /tmp
 * (removed afterwards): RAPL package zones summed with their subzones, the mmio duplicate and a
 * psys zone ignored, a counter wrap, unreadable and absent zones falling through with their
 * reasons, measured idle power; the perf power PMU's sysfs description parsed and its failing
 * perf_event_open falling through; an absent NVML library falling through; the modeled
 * cpu-linear arithmetic and band; the pattern matching; and data/cpu_power.csv itself (tests
 * run from the repository root). Tests run as root, so "unreadable" is a directory or a
 * dangling link where a counter file should be, not chmod 000. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tests/unit/testutil.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "models/measure/meter.h"
#include "sim/scenario/catalog.h"

#define BIG_UJ "900000000000000" /* what a wrongly summed subzone would add, in µJ */

/* Group state: the temporary folder; each test makes its own tree below it. */
typedef struct {
    char dir[64];
    int n_trees;
} TmpDir;

static int group_setup(void **state)
{
    static TmpDir tmp;
    snprintf(tmp.dir, sizeof tmp.dir, "/tmp/tokensim-test-meter-XXXXXX");
    if (!mkdtemp(tmp.dir))
        return -1;
    tmp.n_trees = 0;
    *state = &tmp;
    return 0;
}

/* Removes path and, when it is a folder, everything below it (links are not followed). */
static int remove_tree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return -1;
    if (!S_ISDIR(sb.st_mode))
        return unlink(path);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char sub[1024];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        if (remove_tree(sub) != 0)
            rc = -1;
    }
    closedir(d);
    return rmdir(path) == 0 ? rc : -1;
}

static int group_teardown(void **state)
{
    TmpDir *tmp = *state;
    return remove_tree(tmp->dir);
}

/* A fresh, empty sysfs root for one test. */
static void new_root(void **state, char *root, size_t n)
{
    TmpDir *tmp = *state;
    snprintf(root, n, "%s/sys%d", tmp->dir, tmp->n_trees++);
    assert_int_equal(mkdir(root, 0755), 0);
}

/* mkdir -p of root/rel. */
static void make_dirs(const char *root, const char *rel)
{
    char path[2200];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
    mkdir(path, 0755);
}

/* Writes text to root/rel (parent folders made), replacing it atomically with a rename so a
 * reader never sees a half-written counter. */
static void put(const char *root, const char *rel, const char *text)
{
    char path[1024], tmp[1100], parent[1024];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    snprintf(parent, sizeof parent, "%s", rel);
    char *slash = strrchr(parent, '/');
    if (slash) {
        *slash = '\0';
        make_dirs(root, parent);
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rename(tmp, path), 0);
}

static void put_u64(const char *root, const char *rel, uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%llu\n", (unsigned long long)v);
    put(root, rel, buf);
}

#define PC "class/powercap/"

/* One zone's three files under class/powercap/ZONE. */
static void put_zone(const char *root, const char *zone, const char *name, uint64_t energy_uj,
                     uint64_t max_uj)
{
    char rel[256], text[128];
    snprintf(rel, sizeof rel, PC "%s/name", zone);
    snprintf(text, sizeof text, "%s\n", name);
    put(root, rel, text);
    snprintf(rel, sizeof rel, PC "%s/energy_uj", zone);
    put_u64(root, rel, energy_uj);
    snprintf(rel, sizeof rel, PC "%s/max_energy_range_uj", zone);
    put_u64(root, rel, max_uj);
}

#define MAX_UJ 262143328850ULL /* a real package's max_energy_range_uj */

/* Two packages, each with a subzone inside it and the same subzone as a sibling (as
 * /sys/class/powercap lists them), an mmio duplicate of package 0 and a psys zone: only the
 * two packages may count. */
static void put_two_packages(const char *root, uint64_t e0, uint64_t e1)
{
    put_zone(root, "intel-rapl:0", "package-0", e0, MAX_UJ);
    put_zone(root, "intel-rapl:1", "package-1", e1, MAX_UJ);
    put_zone(root, "intel-rapl:0/intel-rapl:0:0", "core", 1000, 999999999999999999ULL);
    put_zone(root, "intel-rapl:0:0", "core", 1000, 999999999999999999ULL);
    put_zone(root, "intel-rapl:1:0", "dram", 1000, 999999999999999999ULL);
    put_zone(root, "intel-rapl-mmio:0", "package-0", 1000, 999999999999999999ULL);
    put_zone(root, "intel-rapl:2", "psys", 1000, 999999999999999999ULL);
}

/* Moves every counter the meter must ignore up by BIG_UJ. */
static void bump_ignored(const char *root)
{
    const char *const zones[] = {"intel-rapl:0/intel-rapl:0:0", "intel-rapl:0:0", "intel-rapl:1:0",
                                 "intel-rapl-mmio:0", "intel-rapl:2"};
    for (int i = 0; i < 5; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, PC "%s/energy_uj", zones[i]);
        put(root, rel, BIG_UJ "\n");
    }
}

/* Coefficients with round numbers: min 1, max 3 W per vCPU; band 0.5-2 to 2-5. */
static CpuPowerModel test_model(void)
{
    CpuPowerModel m;
    memset(&m, 0, sizeof m);
    snprintf(m.family, sizeof m.family, "test");
    m.min_w_per_vcpu = 1.0;
    m.max_w_per_vcpu = 3.0;
    m.low_min_w_per_vcpu = 0.5;
    m.low_max_w_per_vcpu = 2.0;
    m.high_min_w_per_vcpu = 2.0;
    m.high_max_w_per_vcpu = 5.0;
    return m;
}

static MeterOptions options(const char *root, MeterKind kind)
{
    MeterOptions o;
    memset(&o, 0, sizeof o);
    o.sysfs_root = root;
    o.kind = kind;
    o.use_nvml = 0;
    o.n_vcpu = 4;
    o.model = test_model();
    return o;
}

static void test_rapl_delta_without_and_with_wrap(void **state)
{
    (void)state;
    assert_int_equal(meter_rapl_delta_uj(100, 350, 999), 250);
    assert_int_equal(meter_rapl_delta_uj(900, 100, 999), 200); /* 99 to the top, 1 to 0, 100 */
    assert_int_equal(meter_rapl_delta_uj(999, 0, 999), 1);
    assert_int_equal(meter_rapl_delta_uj(7, 7, 999), 0);
}

static void test_rapl_sums_packages_and_ignores_subzones(void **state)
{
    char root[128];
    new_root(state, root, sizeof root);
    put_two_packages(root, 5000000, 7000000);
    MeterOptions o = options(root, METER_AUTO);
    Meter *m = NULL;
    TsErr err;
    ts_err_clear(&err);
    assert_int_equal(meter_open(&o, &m, &err), 0);
    assert_string_equal(meter_source(m), "measured:rapl");
    assert_int_equal(meter_is_modeled(m), 0);
    assert_string_equal(o.why_not, "");

    MeterMark mark;
    assert_int_equal(meter_mark(m, &mark, &err), 0);
    assert_int_equal(mark.cpu_uj[0], 5000000);
    assert_int_equal(mark.cpu_uj[1], 7000000);
    put_u64(root, PC "intel-rapl:0/energy_uj", 5000000 + 2000000);
    put_u64(root, PC "intel-rapl:1/energy_uj", 7000000 + 3500000);
    bump_ignored(root);
    MeterEnergy e;
    assert_int_equal(meter_since(m, &mark, &e, &err), 0);
    assert_close(e.joules, 5.5, 1e-12, 1e-12);
    assert_close(e.low_j, 5.5, 1e-12, 1e-12);
    assert_close(e.high_j, 5.5, 1e-12, 1e-12);
    assert_true(e.seconds >= 0.0);
    meter_close(m);
}

static void test_rapl_wraparound_on_one_zone(void **state)
{
    char root[128];
    new_root(state, root, sizeof root);
    put_two_packages(root, MAX_UJ - 300000, 1000000);
    MeterOptions o = options(root, METER_RAPL);
    Meter *m = NULL;
    TsErr err;
    assert_int_equal(meter_open(&o, &m, &err), 0);
    MeterMark mark;
    assert_int_equal(meter_mark(m, &mark, &err), 0);
    /* zone 0 runs 300000 µJ to its top, 1 µJ back to 0 and 200000 more; zone 1 adds 1 J */
    put_u64(root, PC "intel-rapl:0/energy_uj", 200000);
    put_u64(root, PC "intel-rapl:1/energy_uj", 2000000);
    MeterEnergy e;
    assert_int_equal(meter_since(m, &mark, &e, &err), 0);
    assert_close(e.joules, 0.500001 + 1.0, 1e-12, 1e-12);
    meter_close(m);
}

/* Replaces package 1's energy_uj by something that cannot be read as a file, then checks that
 * AUTO falls through to the modeled meter with the reason and a forced RAPL refuses. */
static void check_unreadable(const char *root, const char *reason_tail)
{
    char want[512];
    snprintf(want, sizeof want, "RAPL: %s/" PC "intel-rapl:1/energy_uj: %s", root, reason_tail);
    MeterOptions o = options(root, METER_AUTO);
    Meter *m = NULL;
    TsErr err;
    ts_err_clear(&err);
    assert_int_equal(meter_open(&o, &m, &err), 0);
    assert_string_equal(meter_source(m), "modeled:cpu-linear");
    assert_int_equal(meter_is_modeled(m), 1);
    if (!strstr(o.why_not, want))
        fail_msg("why_not '%s' lacks '%s'", o.why_not, want);
    meter_close(m);

    o = options(root, METER_RAPL);
    m = NULL;
    assert_int_equal(meter_open(&o, &m, &err), TS_EINPUT);
    assert_null(m);
    assert_string_equal(err.msg, want);
}

static void test_rapl_unreadable_directory_falls_through(void **state)
{
    char root[128], path[256];
    new_root(state, root, sizeof root);
    put_two_packages(root, 1, 2);
    snprintf(path, sizeof path, "%s/" PC "intel-rapl:1/energy_uj", root);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(mkdir(path, 0755), 0);
    check_unreadable(root, "Is a directory");
}

static void test_rapl_dangling_link_falls_through(void **state)
{
    char root[128], path[256];
    new_root(state, root, sizeof root);
    put_two_packages(root, 1, 2);
    snprintf(path, sizeof path, "%s/" PC "intel-rapl:1/energy_uj", root);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(symlink("/nonexistent/tokensim/energy_uj", path), 0);
    check_unreadable(root, "No such file or directory");
}

static void test_no_powercap_falls_through_and_forced_rapl_is_einput(void **state)
{
    char root[128], want[256];
    new_root(state, root, sizeof root);
    snprintf(want, sizeof want, "RAPL: no package zones under %s/class/powercap", root);
    MeterOptions o = options(root, METER_AUTO);
    Meter *m = NULL;
    TsErr err;
    assert_int_equal(meter_open(&o, &m, &err), 0);
    assert_string_equal(meter_source(m), "modeled:cpu-linear");
    if (!strstr(o.why_not, want) || !strstr(o.why_not, "perf power PMU: "))
        fail_msg("why_not '%s' lacks '%s' or the perf reason", o.why_not, want);
    meter_close(m);

    o = options(root, METER_RAPL);
    assert_int_equal(meter_open(&o, &m, &err), TS_EINPUT);
    assert_null(m);
    assert_string_equal(err.msg, want);
}

static void test_only_subzones_mmio_and_psys_is_no_rapl(void **state)
{
    char root[128], want[256];
    new_root(state, root, sizeof root);
    put_zone(root, "intel-rapl:0:0", "core", 1, MAX_UJ);
    put_zone(root, "intel-rapl-mmio:0", "package-0", 1, MAX_UJ);
    put_zone(root, "intel-rapl:1", "psys", 1, MAX_UJ);
    snprintf(want, sizeof want, "RAPL: no package zones under %s/class/powercap", root);
    MeterOptions o = options(root, METER_RAPL);
    Meter *m = NULL;
    TsErr err;
    assert_int_equal(meter_open(&o, &m, &err), TS_EINPUT);
    assert_string_equal(err.msg, want);
}

#define PMU "bus/event_source/devices/power/"

static void put_pmu(const char *root, const char *unit)
{
    put(root, PMU "type", "4242\n"); /* no PMU has this type, so perf_event_open must fail */
    put(root, PMU "events/energy-pkg", "event=0x02\n");
    put(root, PMU "events/energy-pkg.scale", "2.3283064365386962890625e-10\n");
    put(root, PMU "events/energy-pkg.unit", unit);
}

static void test_perf_discover_parses_fake_tree(void **state)
{
    char root[128];
    new_root(state, root, sizeof root);
    put_pmu(root, "Joules\n");
    MeterPerfEvent ev;
    TsErr err;
    assert_int_equal(meter_perf_discover(root, &ev, &err), 0);
    assert_int_equal(ev.type, 4242);
    assert_int_equal(ev.config, 2);
    assert_close(ev.joules_per_count, 2.3283064365386962890625e-10, 1e-15, 0);
    assert_int_equal(ev.n_cpus, 1); /* no cpumask: CPU 0 */
    assert_int_equal(ev.cpus[0], 0);

    put(root, PMU "cpumask", "0,64\n");
    assert_int_equal(meter_perf_discover(root, &ev, &err), 0);
    assert_int_equal(ev.n_cpus, 2);
    assert_int_equal(ev.cpus[0], 0);
    assert_int_equal(ev.cpus[1], 64);
    put(root, PMU "cpumask", "2-3\n");
    assert_int_equal(meter_perf_discover(root, &ev, &err), 0);
    assert_int_equal(ev.n_cpus, 2);
    assert_int_equal(ev.cpus[1], 3);
}

static void test_perf_discover_rejects_bad_files(void **state)
{
    char root[128], want[512];
    new_root(state, root, sizeof root);
    MeterPerfEvent ev;
    TsErr err;
    snprintf(want, sizeof want, "perf power PMU: %s/" PMU "type: No such file or directory", root);
    assert_int_equal(meter_perf_discover(root, &ev, &err), TS_EINPUT);
    assert_string_equal(err.msg, want);

    put_pmu(root, "Watts\n");
    assert_int_equal(meter_perf_discover(root, &ev, &err), TS_EINPUT);
    assert_non_null(strstr(err.msg, "unit 'Watts', expected Joules"));

    put_pmu(root, "Joules\n");
    put(root, PMU "events/energy-pkg", "umask=0x02\n");
    assert_int_equal(meter_perf_discover(root, &ev, &err), TS_EINPUT);
    assert_non_null(strstr(err.msg, "expected 'event=N'"));

    put(root, PMU "events/energy-pkg", "event=0x02\n");
    put(root, PMU "events/energy-pkg.scale", "-1\n");
    assert_int_equal(meter_perf_discover(root, &ev, &err), TS_EINPUT);
    assert_non_null(strstr(err.msg, "not a scale"));
}

static void test_perf_open_failure_falls_through(void **state)
{
    char root[128];
    new_root(state, root, sizeof root);
    put_pmu(root, "Joules\n");
    MeterOptions o = options(root, METER_AUTO);
    Meter *m = NULL;
    TsErr err;
    assert_int_equal(meter_open(&o, &m, &err), 0);
    if (strcmp(meter_source(m), "measured:perf-rapl") != 0) {
        assert_string_equal(meter_source(m), "modeled:cpu-linear");
        if (!strstr(o.why_not, "perf power PMU: perf_event_open: "))
            fail_msg("why_not '%s' lacks the perf_event_open reason", o.why_not);
        assert_null(strstr(o.why_not, "measured"));
    }
    meter_close(m);

    o = options(root, METER_PERF);
    int rc = meter_open(&o, &m, &err);
    if (rc == 0) {
        assert_string_equal(meter_source(m), "measured:perf-rapl");
        meter_close(m);
    } else {
        assert_int_equal(rc, TS_EINPUT);
        assert_null(m);
        assert_non_null(strstr(err.msg, "perf power PMU: perf_event_open: "));
    }
}

static void test_absent_nvml_falls_through(void **state)
{
    char root[128];
    new_root(state, root, sizeof root);
    MeterOptions o = options(root, METER_AUTO);
    o.use_nvml = 1;
    o.nvml_library = "libtokensim-no-such-nvml.so.1";
    Meter *m = NULL;
    TsErr err;
    assert_int_equal(meter_open(&o, &m, &err), 0);
    assert_string_equal(meter_source(m), "modeled:cpu-linear");
    assert_int_equal(meter_is_modeled(m), 1);
    if (!strstr(o.why_not, "NVML: ") || !strstr(o.why_not, "libtokensim-no-such-nvml.so.1"))
        fail_msg("why_not '%s' lacks the NVML reason", o.why_not);
    meter_close(m);
}

/* With the real library name: on a machine without NVIDIA's driver it falls through like the
 * test above; with one, the GPUs' energy is added and the figure stays modeled. */
static void test_default_nvml_adds_or_falls_through(void **state)
{
    char root[128];
    new_root(state, root, sizeof root);
    MeterOptions o = options(root, METER_AUTO);
    o.use_nvml = 1;
    Meter *m = NULL;
    TsErr err;
    assert_int_equal(meter_open(&o, &m, &err), 0);
    assert_int_equal(meter_is_modeled(m), 1);
    MeterMark mark;
    MeterEnergy e;
    assert_int_equal(meter_mark(m, &mark, &err), 0);
    struct timespec ts = {0, 200000000};
    nanosleep(&ts, NULL);
    assert_int_equal(meter_since(m, &mark, &e, &err), 0);
    double cpu_j =
        meter_cpu_linear_w(&o.model, 4, e.cpu_seconds, e.seconds, METER_BAND_CENTRAL) * e.seconds;
    if (strcmp(meter_source(m), "modeled:cpu-linear+measured:nvml") == 0) {
        assert_true(e.joules >= cpu_j); /* GPUs only add */
        print_message("# NVML present: %.3f J over %.3f s, %.3f J of it GPUs\n", e.joules,
                      e.seconds, e.joules - cpu_j);
    } else {
        assert_string_equal(meter_source(m), "modeled:cpu-linear");
        assert_non_null(strstr(o.why_not, "NVML: "));
        assert_close(e.joules, cpu_j, 1e-12, 1e-12);
    }
    meter_close(m);
}

static void test_cpu_linear_arithmetic(void **state)
{
    (void)state;
    CpuPowerModel m = test_model();
    /* u = 2 / (1 × 4) = 0.5: 4 × (1 + 0.5 × 2) = 8 W */
    assert_close(meter_cpu_linear_w(&m, 4, 2.0, 1.0, METER_BAND_CENTRAL), 8.0, 1e-15, 0);
    /* twice the vCPUs at the same u: twice the watts */
    assert_close(meter_cpu_linear_w(&m, 8, 4.0, 1.0, METER_BAND_CENTRAL), 16.0, 1e-15, 0);
    /* u clamped to 1 and to 0 */
    assert_close(meter_cpu_linear_w(&m, 4, 100.0, 1.0, METER_BAND_CENTRAL), 12.0, 1e-15, 0);
    assert_close(meter_cpu_linear_w(&m, 4, -3.0, 1.0, METER_BAND_CENTRAL), 4.0, 1e-15, 0);
    assert_close(meter_cpu_linear_w(&m, 4, 1.0, 0.0, METER_BAND_CENTRAL), 4.0, 1e-15, 0);
    /* band: 4 × (0.5 + 0.5 × 1.5) = 5 and 4 × (2 + 0.5 × 3) = 14 */
    assert_close(meter_cpu_linear_w(&m, 4, 2.0, 1.0, METER_BAND_LOW), 5.0, 1e-15, 0);
    assert_close(meter_cpu_linear_w(&m, 4, 2.0, 1.0, METER_BAND_HIGH), 14.0, 1e-15, 0);
    assert_close(meter_cpu_linear_w(&m, 0, 2.0, 1.0, METER_BAND_CENTRAL), 0.0, 0, 0);
    for (int k = 0; k <= 10; k++) {
        double cpu = 0.5 * k;
        double lo = meter_cpu_linear_w(&m, 4, cpu, 1.0, METER_BAND_LOW);
        double c = meter_cpu_linear_w(&m, 4, cpu, 1.0, METER_BAND_CENTRAL);
        double hi = meter_cpu_linear_w(&m, 4, cpu, 1.0, METER_BAND_HIGH);
        if (!(lo <= c && c <= hi))
            fail_msg("cpu %g s: band %.17g <= %.17g <= %.17g broken", cpu, lo, c, hi);
    }
}

static void burn_cpu(double seconds)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    volatile double x = 0.0;
    do {
        for (int i = 0; i < 100000; i++)
            x += 1e-9 * i;
        clock_gettime(CLOCK_MONOTONIC, &b);
    } while ((double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec) < seconds);
}

static void test_modeled_meter_uses_the_formula(void **state)
{
    char root[128];
    new_root(state, root, sizeof root);
    put_two_packages(root, 1, 2); /* RAPL would work, but MODELED is forced */
    MeterOptions o = options(root, METER_MODELED);
    Meter *m = NULL;
    TsErr err;
    assert_int_equal(meter_open(&o, &m, &err), 0);
    assert_string_equal(meter_source(m), "modeled:cpu-linear");
    assert_int_equal(meter_is_modeled(m), 1);
    assert_int_equal(meter_n_vcpu(m), 4);
    MeterMark mark;
    MeterEnergy e;
    assert_int_equal(meter_mark(m, &mark, &err), 0);
    burn_cpu(0.1);
    assert_int_equal(meter_since(m, &mark, &e, &err), 0);
    assert_true(e.seconds >= 0.1);
    assert_true(e.cpu_seconds > 0.0);
    double s = e.seconds, c = e.cpu_seconds;
    assert_close(e.joules, meter_cpu_linear_w(&o.model, 4, c, s, METER_BAND_CENTRAL) * s, 1e-15, 0);
    assert_close(e.low_j, meter_cpu_linear_w(&o.model, 4, c, s, METER_BAND_LOW) * s, 1e-15, 0);
    assert_close(e.high_j, meter_cpu_linear_w(&o.model, 4, c, s, METER_BAND_HIGH) * s, 1e-15, 0);
    /* one busy thread of four: u near 0.25, so more than idle (4 W) and less than full (12 W) */
    assert_true(e.joules > 4.0 * s && e.joules < 12.0 * s);
    assert_true(e.low_j < e.joules && e.joules < e.high_j);
    meter_close(m);
}

static void test_modeled_idle_is_n_times_min_without_sleeping(void **state)
{
    char root[128];
    new_root(state, root, sizeof root);
    MeterOptions o = options(root, METER_AUTO);
    o.n_vcpu = 6;
    Meter *m = NULL;
    TsErr err;
    assert_int_equal(meter_open(&o, &m, &err), 0);
    struct timespec a, b;
    double w, lo, hi;
    clock_gettime(CLOCK_MONOTONIC, &a);
    assert_int_equal(meter_idle_w(m, 30.0, &w, &lo, &hi, &err), 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    assert_true((double)(b.tv_sec - a.tv_sec) < 1.0);
    assert_close(w, 6.0 * 1.0, 1e-15, 0);
    assert_close(lo, 6.0 * 0.5, 1e-15, 0);
    assert_close(hi, 6.0 * 2.0, 1e-15, 0);
    meter_close(m);
}

typedef struct {
    const char *root;
} Writer;

/* After 100 ms, adds 1 J to package 0 (the meter marked at about 0 ms). */
static void *late_writer(void *arg)
{
    const Writer *wr = arg;
    struct timespec ts = {0, 100000000};
    nanosleep(&ts, NULL);
    put_u64(wr->root, PC "intel-rapl:0/energy_uj", 1000 + 1000000);
    return NULL;
}

static void test_measured_idle_divides_energy_by_time(void **state)
{
    char root[128];
    new_root(state, root, sizeof root);
    put_two_packages(root, 1000, 2000);
    MeterOptions o = options(root, METER_AUTO);
    Meter *m = NULL;
    TsErr err;
    assert_int_equal(meter_open(&o, &m, &err), 0);
    assert_string_equal(meter_source(m), "measured:rapl");
    Writer wr = {root};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, late_writer, &wr), 0);
    double w, lo, hi;
    int rc = meter_idle_w(m, 0.4, &w, &lo, &hi, &err);
    pthread_join(t, NULL);
    assert_int_equal(rc, 0);
    /* 1 J over at least 0.4 s (and, on a loaded machine, less than 1 s) */
    if (!(w > 1.0 && w <= 1.0 / 0.4 + 1e-9))
        fail_msg("idle %.17g W, want in (1, 2.5]", w);
    assert_close(lo, w, 0, 0);
    assert_close(hi, w, 0, 0);
    assert_int_equal(meter_idle_w(m, 0.0, &w, &lo, &hi, &err), TS_EINPUT);
    meter_close(m);
}

static void test_modeled_needs_sound_coefficients(void **state)
{
    char root[128];
    new_root(state, root, sizeof root);
    MeterOptions o = options(root, METER_AUTO);
    memset(&o.model, 0, sizeof o.model);
    Meter *m = NULL;
    TsErr err;
    assert_int_equal(meter_open(&o, &m, &err), TS_EINPUT);
    assert_null(m);
    assert_non_null(strstr(err.msg, "no coefficients"));

    o = options(root, METER_MODELED);
    o.model.low_min_w_per_vcpu = 1.5; /* above the central min */
    assert_int_equal(meter_open(&o, &m, &err), TS_EINPUT);
    assert_non_null(strstr(err.msg, "band"));

    o = options(root, METER_MODELED);
    o.model.max_w_per_vcpu = 0.9; /* below its min */
    o.model.low_max_w_per_vcpu = 0.9;
    assert_int_equal(meter_open(&o, &m, &err), TS_EINPUT);
    assert_non_null(strstr(err.msg, "max below its min"));

    o = options(root, METER_MODELED);
    o.n_vcpu = 0; /* online CPUs */
    assert_int_equal(meter_open(&o, &m, &err), 0);
    assert_int_equal(meter_n_vcpu(m), (int)sysconf(_SC_NPROCESSORS_ONLN));
    meter_close(m);
    meter_close(NULL);
}

static void test_cpu_match_patterns(void **state)
{
    (void)state;
    assert_int_equal(meter_cpu_match("AMD EPYC 7R13 Processor", "amd epyc 7??3"), 1);
    assert_int_equal(meter_cpu_match("AMD EPYC 7R13 Processor", "amd epyc 7??2"), 0);
    assert_int_equal(meter_cpu_match("AMD EPYC", "amd epyc 7??3"), 0);
    assert_int_equal(meter_cpu_match("AMD EPYC", "AMD EPYC"), 1);
    assert_int_equal(meter_cpu_match("AMD EPYC-Rome Processor", "amd epyc 7??2|epyc-rome"), 1);
    assert_int_equal(meter_cpu_match("Intel(R) Xeon(R) Gold 6148 CPU", "platinum 81|gold 61"), 1);
    assert_int_equal(meter_cpu_match("anything", ""), 1);
    assert_int_equal(meter_cpu_match("", ""), 1);
    assert_int_equal(meter_cpu_match("", "x"), 0);
    assert_int_equal(meter_cpu_match("abc", "|"), 0); /* empty alternatives match nothing */
}

/* The first row of data/cpu_power.csv that fits model_name, or -1. */
static int pick_row(const CatTable *t, const char *model_name)
{
    for (int r = 0; r < t->n_rows; r++)
        if (meter_cpu_match(model_name, cat_cell(t, r, "match")))
            return r;
    return -1;
}

static void test_cpu_power_csv_rows(void **state)
{
    (void)state;
    static const char *const cols[] = {"name",
                                       "match",
                                       "min_w_per_vcpu",
                                       "max_w_per_vcpu",
                                       "low_min_w_per_vcpu",
                                       "low_max_w_per_vcpu",
                                       "high_min_w_per_vcpu",
                                       "high_max_w_per_vcpu",
                                       "source",
                                       "as_of",
                                       "confidence",
                                       "notes"};
    static const char *const nums[] = {"min_w_per_vcpu",      "max_w_per_vcpu",
                                       "low_min_w_per_vcpu",  "low_max_w_per_vcpu",
                                       "high_min_w_per_vcpu", "high_max_w_per_vcpu"};
    CatSchema sc = {cols, 12, nums, 6};
    CatTable t;
    TsErr err;
    if (cat_table_load(&t, "data/cpu_power.csv", &sc, &err))
        fail_msg("%s", err.msg);
    assert_true(t.n_rows >= 5);
    assert_string_equal(cat_cell(&t, t.n_rows - 1, "name"), "average");
    assert_string_equal(cat_cell(&t, t.n_rows - 1, "match"), "");
    assert_close(atof(cat_cell(&t, t.n_rows - 1, "min_w_per_vcpu")), 0.74, 0, 1e-12);
    assert_close(atof(cat_cell(&t, t.n_rows - 1, "max_w_per_vcpu")), 3.5, 0, 1e-12);
    for (int r = 0; r < t.n_rows; r++) {
        CpuPowerModel m;
        memset(&m, 0, sizeof m);
        snprintf(m.family, sizeof m.family, "%s", cat_cell(&t, r, "name"));
        double *dst[] = {&m.min_w_per_vcpu,     &m.max_w_per_vcpu,      &m.low_min_w_per_vcpu,
                         &m.low_max_w_per_vcpu, &m.high_min_w_per_vcpu, &m.high_max_w_per_vcpu};
        for (int i = 0; i < 6; i++)
            *dst[i] = atof(cat_cell(&t, r, nums[i]));
        if (meter_model_check(&m, &err))
            fail_msg("%s", err.msg);
    }
    static const struct {
        const char *cpu, *row;
    } cases[] = {
        {"AMD EPYC", "amd-epyc"},
        {"AMD EPYC 7R13 Processor", "amd-epyc-3rd-gen"},
        {"AMD EPYC 7B12", "amd-epyc-2nd-gen"},
        {"AMD EPYC 7571", "amd-epyc-1st-gen"},
        {"AMD EPYC 9R14 96-Core Processor", "amd-epyc"},
        {"Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz", "intel-cascade-lake"},
        {"Intel(R) Xeon(R) Platinum 8175M CPU @ 2.50GHz", "intel-skylake"},
        {"Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz", "intel-broadwell"},
        {"Intel(R) Xeon(R) CPU E5-2676 v3 @ 2.40GHz", "intel-haswell"},
        {"Intel(R) Xeon(R) CPU E5-2670 0 @ 2.60GHz", "intel-sandy-bridge"},
        {"Intel Xeon Processor (Cascadelake)", "intel-cascade-lake"},
        {"Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", "average"},
        {"", "average"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int r = pick_row(&t, cases[i].cpu);
        const char *got = r < 0 ? "(none)" : cat_cell(&t, r, "name");
        if (strcmp(got, cases[i].row) != 0)
            fail_msg("'%s' picked row '%s', want '%s'", cases[i].cpu, got, cases[i].row);
    }
    /* amd-epyc's central figures are the mean of the three generations' */
    int g[3] = {cat_find_row(&t, "amd-epyc-1st-gen"), cat_find_row(&t, "amd-epyc-2nd-gen"),
                cat_find_row(&t, "amd-epyc-3rd-gen")};
    int a = cat_find_row(&t, "amd-epyc");
    assert_true(g[0] >= 0 && g[1] >= 0 && g[2] >= 0 && a >= 0);
    for (int k = 0; k < 2; k++) {
        double mean = 0.0;
        for (int i = 0; i < 3; i++)
            mean += atof(cat_cell(&t, g[i], nums[k])) / 3.0;
        assert_close(atof(cat_cell(&t, a, nums[k])), mean, 0, 0.005);
    }
    cat_table_fini(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rapl_delta_without_and_with_wrap),
        cmocka_unit_test(test_rapl_sums_packages_and_ignores_subzones),
        cmocka_unit_test(test_rapl_wraparound_on_one_zone),
        cmocka_unit_test(test_rapl_unreadable_directory_falls_through),
        cmocka_unit_test(test_rapl_dangling_link_falls_through),
        cmocka_unit_test(test_no_powercap_falls_through_and_forced_rapl_is_einput),
        cmocka_unit_test(test_only_subzones_mmio_and_psys_is_no_rapl),
        cmocka_unit_test(test_perf_discover_parses_fake_tree),
        cmocka_unit_test(test_perf_discover_rejects_bad_files),
        cmocka_unit_test(test_perf_open_failure_falls_through),
        cmocka_unit_test(test_absent_nvml_falls_through),
        cmocka_unit_test(test_default_nvml_adds_or_falls_through),
        cmocka_unit_test(test_cpu_linear_arithmetic),
        cmocka_unit_test(test_modeled_meter_uses_the_formula),
        cmocka_unit_test(test_modeled_idle_is_n_times_min_without_sleeping),
        cmocka_unit_test(test_measured_idle_divides_energy_by_time),
        cmocka_unit_test(test_modeled_needs_sound_coefficients),
        cmocka_unit_test(test_cpu_match_patterns),
        cmocka_unit_test(test_cpu_power_csv_rows),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
