/* perf: tokens per second per chip while busy, for the throughput modes that exist so far:
 * `declared` (as given) and `mfu` (peak × mfu / FLOPs per token, FLOPs from the model's shape
 * via models/engine/shape.h, or 2 × params_active). Roofline and measured modes come later. */
#ifndef TS_SIM_PERF_H
#define TS_SIM_PERF_H

#include "sim/price/roofline.h"
#include "sim/scenario/scenario.h"

typedef struct {
    double decode_tok_s_per_chip;  /* 0 when the workload has no output tokens */
    double prefill_tok_s_per_chip; /* 0 when there is nothing to prefill and none was given */
    double flops_per_output_token; /* 0 when unknown (declared mode without a model shape) */
    double flops_per_input_token;  /* per prefilled prompt token; 0 when unknown */
    double peak_tflops;            /* the peak mfu or roofline used (fp8 or bf16) */
    int roofline;                  /* roof holds the roofline solution */
    RoofResult roof;
} PerfResult;

/* FLOPs per output (decode) token and per prefilled prompt token of model m for workload w
 * (context and prompt lengths from the workload; attention and head as the contract says). */
void perf_flops_per_token(const ScnModel *m, const ScnVal *wl, double *per_output,
                          double *per_input);

/* The roofline inputs of fleet f (roofline mode). */
void perf_roof_inputs(const Scenario *s, const ScnFleet *f, RoofInputs *in);

/* Throughput of fleet f of a validated scenario s. TS_EINPUT "FILE:LINE: fleet 'x': ..." when
 * the roofline finds that the weights do not fit or the TPOT SLO cannot be met. */
int perf_fleet(const Scenario *s, const ScnFleet *f, PerfResult *out, TsErr *err);

#endif
