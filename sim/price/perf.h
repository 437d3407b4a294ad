/* perf: tokens per second per chip while busy, per throughput mode: `declared` and `measured`
 * (as given or bound from a measure run), `mfu` (peak × mfu / FLOPs per token, FLOPs from the
 * model's shape via models/engine/shape.h, or 2 × params_active) and `roofline` (roofline.h,
 * with the instance sizes a deployment search tries). */
#ifndef TS_SIM_PERF_H
#define TS_SIM_PERF_H

#include "sim/price/roofline.h"
#include "sim/scenario/scenario.h"

/* One instance size a roofline deployment search tried (see perf_fleet and eval_fleet). */
#define PERF_FRONTIER_MAX 64
typedef struct {
    int chips_per_instance;
    int status;               /* 0 feasible; roof_solve's -1 (does not fit), -2 (TPOT SLO), -3
                                 (TTFT SLO); PERF_NOT_DIVISOR: the fleet's chips are not a
                                 multiple of it */
    RoofResult roof;
    double usd_per_m_output;  /* priced by eval_fleet; NaN when infeasible */
    double usd_per_m_blended;
} PerfCandidate;
#define PERF_NOT_DIVISOR (-4)

typedef struct {
    double decode_tok_s_per_chip;  /* 0 when the workload has no output tokens */
    double prefill_tok_s_per_chip; /* 0 when there is nothing to prefill and none was given */
    double flops_per_output_token; /* 0 when unknown (declared mode without a model shape) */
    double flops_per_input_token;  /* per prefilled prompt token; 0 when unknown */
    double peak_tflops;            /* the peak mfu or roofline used (fp8 or bf16) */
    int roofline;                  /* roof holds the roofline solution */
    RoofResult roof;
    /* Deployment search (roofline fleets without chips_per_instance, on a chip with
     * scale_up_chips or a fleet max_chips_per_instance): every size tried, ascending. */
    int searched;
    PerfCandidate frontier[PERF_FRONTIER_MAX];
    int n_frontier;
    int chosen;                    /* index into frontier of the deployment priced */
} PerfResult;

/* FLOPs per output (decode) token and per prefilled prompt token of model m for workload w
 * (context and prompt lengths from the workload; attention and head as the contract says). */
void perf_flops_per_token(const ScnModel *m, const ScnVal *wl, double *per_output,
                          double *per_input);

/* The roofline inputs of fleet f (roofline mode). */
void perf_roof_inputs(const Scenario *s, const ScnFleet *f, RoofInputs *in);

/* Throughput of fleet f of a validated scenario s. A roofline fleet without a set
 * chips_per_instance tries every candidate instance size (roof_candidate_sizes) from the fewest
 * chips that hold the weights up to the chip's scale_up_chips (capped by the fleet's
 * max_chips_per_instance) into out->frontier, with out->roof at the fewest; eval_fleet prices
 * them and chooses. TS_EINPUT "FILE:LINE: fleet 'x': ..." when no size fits the weights or meets
 * the SLOs. */
int perf_fleet(const Scenario *s, const ScnFleet *f, PerfResult *out, TsErr *err);

#endif
