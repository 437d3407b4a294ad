/* sweep: the [sweep] section: one or two inputs stepped over a list or a range, every fleet
 * priced at each point (other inputs at their central values: distributions at their medians),
 * into `sweep_points` rows. Parses and checks the values against the key's valid range with
 * FILE:LINE errors; writes rows through the store's extra-rows hook. */
#ifndef TS_SIM_SWEEP_H
#define TS_SIM_SWEEP_H

#include <stdint.h>


#include "sim/price/metrics.h"
#include "sim/scenario/scenario.h"

#define SWP_MAX_POINTS 10000
#define SWP_MAX_SITES 64

typedef struct {
    char param[128], param2[128];
    double *xs, *ys;           /* ys NULL for a 1-D sweep */
    int nx, ny;                /* ny 1 for 1-D */
    ScnVal *sites[SWP_MAX_SITES], *sites2[SWP_MAX_SITES];
    int n_sites, n_sites2;
} SwpPlan;

typedef struct {
    int fleet;
    double x, y;               /* y unused for 1-D */
    MetricId metric;
    const char *name;          /* a serving figure's name (static); NULL: metric's */
    double value;
    int has_value;
} SwpRow;

typedef struct {
    const Scenario *s;         /* borrowed, for fleet names */
    const SwpPlan *plan;       /* borrowed */
    SwpRow *rows;
    long n_rows;
    int per_fleet;             /* rows per fleet and point: the swept metrics (and serving) */
} SwpResult;

/* Parses s->sweep into p. TS_EINPUT "FILE:LINE: ..." for a bad key path, bad values or values
 * outside the key's valid range; more than SWP_MAX_POINTS points in all is an error too. */
int swp_plan(Scenario *s, SwpPlan *p, TsErr *err);
void swp_plan_fini(SwpPlan *p);

/* Prices every fleet at every point into r (allocated; free with swp_result_fini). The swept
 * values are restored afterwards. A fleet that cannot be priced at a point gets NULL values. */
int swp_run(Scenario *s, const SwpPlan *p, SwpResult *r, TsErr *err);
void swp_result_fini(SwpResult *r);

/* Same for part of the points only (0 <= part < n_parts): point ix * ny + iy when its index
 * modulo n_parts is part; the other points' rows are there without values (has_value 0) for
 * swp_part_unpack to fill. swp_run is part 0 of 1. */
int swp_run_part(Scenario *s, const SwpPlan *p, int part, int n_parts, SwpResult *r, TsErr *err);

/* Part's values as a message between ranks: value and has_value of each of its rows, in point
 * order, swp_part_doubles(r, part, n_parts) doubles. Unpacking writes them into r's rows. */
long swp_part_doubles(const SwpResult *r, int part, int n_parts);
void swp_part_pack(const SwpResult *r, int part, int n_parts, double *buf);
void swp_part_unpack(SwpResult *r, int part, int n_parts, const double *buf);

/* Parses "FROM..TO step S" (TO included when it falls on a step within 1e-9 relative) or a
 * comma list into a new array (*out, *n). -1 with a message when malformed. */
int swp_parse_values(const char *text, double **out, int *n, char *msg, size_t msg_size);


#endif
