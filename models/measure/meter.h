/* meter: how many joules a stretch of work took, and where that figure came from. Meters are
 * tried in DESIGN.md's order and the first that works is used: RAPL through powercap sysfs
 * (package zones only), the perf `power` PMU (energy-pkg), then a modeled CPU power
 * (cpu-linear); NVIDIA GPUs (NVML, loaded with dlopen) add their energy to whichever CPU meter
 * won. Every figure carries its source string ("measured:rapl", "modeled:cpu-linear",
 * "measured:rapl+measured:nvml", "modeled:cpu-linear+measured:nvml"); a sum with a modeled part
 * is modeled. It never prints; it reads files under a configurable sysfs root so tests can use
 * fake trees. */
#ifndef TS_MODELS_METER_H
#define TS_MODELS_METER_H

#include <stdint.h>

#include "models/tserr.h"

/* Coefficients of the modeled meter: W = n_vcpu × (min + u × (max − min)) per vCPU, with u =
 * process CPU time / (wall × n_vcpu). low/high give the band (the same formula with the low and
 * high coefficient pairs). Loaded by the caller from data/cpu_power.csv. */
typedef struct {
    char family[64];             /* the catalog row used, e.g. "amd-epyc" */
    double min_w_per_vcpu, max_w_per_vcpu;
    double low_min_w_per_vcpu, low_max_w_per_vcpu;   /* band: lowest */
    double high_min_w_per_vcpu, high_max_w_per_vcpu; /* band: highest */
    char source[256];            /* the row's source and date, for reports */
} CpuPowerModel;

typedef enum {
    METER_AUTO = 0,      /* the probe order */
    METER_RAPL,          /* force one (fails when unavailable) */
    METER_PERF,
    METER_MODELED,
} MeterKind;

typedef struct {
    const char *sysfs_root;      /* "/sys" unless a test says otherwise */
    MeterKind kind;              /* METER_AUTO normally */
    int use_nvml;                /* try NVML for GPUs (1 normally; tests pass 0) */
    const char *nvml_library;    /* NULL = "libnvidia-ml.so.1"; tests name a missing one */
    int n_vcpu;                  /* for the modeled meter; 0 = online CPUs */
    CpuPowerModel model;         /* for the modeled meter */
    char why_not[512];           /* out: why the measured meters were skipped, for reports */
} MeterOptions;

typedef struct Meter Meter; /* opaque */

/* A snapshot at the start of a stretch of work. */
typedef struct {
    double wall_s;               /* CLOCK_MONOTONIC */
    double cpu_s;                /* process CPU time, user + system */
    uint64_t cpu_uj[16];         /* RAPL zone counters, or the perf counters (one a package) */
    double gpu_mj;               /* NVML total energy, all GPUs */
} MeterMark;

/* Energy of a stretch: the figure and its band (equal to it for measured meters). */
typedef struct {
    double joules;
    double low_j;
    double high_j;
    double seconds;
    double cpu_seconds;
} MeterEnergy;

/* Opens the first meter that works, in the order above (or the one o->kind forces). Fills
 * o->why_not with the reasons earlier meters were skipped. TS_EINPUT when a forced meter is not
 * available or the modeled meter has no coefficients. */
int meter_open(MeterOptions *o, Meter **out, TsErr *err);

void meter_close(Meter *m);

/* "measured:rapl", "measured:perf-rapl" or "modeled:cpu-linear", with "+measured:nvml" when
 * GPUs were read. */
const char *meter_source(const Meter *m);

/* 1 when the figure is modeled (any part of it). */
int meter_is_modeled(const Meter *m);

int meter_mark(Meter *m, MeterMark *mark, TsErr *err);

/* Energy since mark (counter wrap-around handled with max_energy_range_uj). */
int meter_since(Meter *m, const MeterMark *mark, MeterEnergy *out, TsErr *err);

/* Idle power: sleeps for seconds and measures (or, modeled, takes the u = 0 power of the
 * machine, n_vcpu × min; its band likewise). Writes watts and the band. A modeled meter with
 * NVML still sleeps, to measure the GPUs' idle power, which it adds. TS_EINPUT when it must
 * sleep and seconds <= 0. */
int meter_idle_w(Meter *m, double seconds, double *w, double *low_w, double *high_w, TsErr *err);

/* The vCPU count the meter uses (o->n_vcpu, or the online CPUs when that was 0). */
int meter_n_vcpu(const Meter *m);

/* ---- pieces of the meters, public so tests can check them without hardware ---- */

enum { METER_BAND_LOW = -1, METER_BAND_CENTRAL = 0, METER_BAND_HIGH = 1 };

/* The modeled power in watts: n_vcpu × (min + u × (max − min)) with u = cpu_s / (wall_s ×
 * n_vcpu) clamped to [0, 1] (u = 0 when wall_s <= 0), using band's coefficient pair
 * (METER_BAND_*). 0 when n_vcpu <= 0. Pure. */
double meter_cpu_linear_w(const CpuPowerModel *m, int n_vcpu, double cpu_s, double wall_s,
                          int band);

/* TS_EINPUT unless every coefficient is finite and >= 0, max >= min in each pair, min > 0 or
 * max > 0, and low <= central <= high for both min and max. */
int meter_model_check(const CpuPowerModel *m, TsErr *err);

/* 1 when pattern selects the CPU model_name (a cpu_power.csv `match`): any of its
 * '|'-separated alternatives occurs in model_name, case-insensitively, with '?' standing for
 * any one character. An empty pattern matches anything. Otherwise 0. */
int meter_cpu_match(const char *model_name, const char *pattern);

/* Energy in µJ between two readings of a RAPL counter whose largest value is max_range_uj:
 * end − start, or end + (max_range_uj + 1 − start) when end < start (one wrap assumed). */
uint64_t meter_rapl_delta_uj(uint64_t start, uint64_t end, uint64_t max_range_uj);

/* The perf `power` PMU's energy-pkg event as sysfs describes it. */
typedef struct {
    uint32_t type;            /* perf_event_attr.type, from .../power/type */
    uint64_t config;          /* from events/energy-pkg ("event=0x02") */
    double joules_per_count;  /* from events/energy-pkg.scale */
    int n_cpus;               /* CPUs to open it on (one per package), from cpumask; 1 */
    int cpus[16];             /* (n_cpus); {0} when there is no cpumask file */
} MeterPerfEvent;

/* Reads <sysfs_root>/bus/event_source/devices/power/{type,cpumask,events/energy-pkg*} into ev
 * without opening anything. TS_EINPUT with "perf power PMU: PATH: reason" when a file is
 * missing, unreadable or malformed, or the unit is not Joules. */
int meter_perf_discover(const char *sysfs_root, MeterPerfEvent *ev, TsErr *err);

#endif
