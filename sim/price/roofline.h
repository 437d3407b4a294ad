/* roofline: the performance model of DESIGN.md ("Performance model") for a model on an
 * instance of n chips: per-token FLOPs and bytes from the shape (models/engine/shape.h), a decode step
 * at batch B bounded by compute or memory bandwidth plus communication (a latency per collective
 * plus bytes over the link: tensor-parallel all-reduces, expert-parallel all-to-alls) and a
 * fixed overhead, multi-token prediction, the batch chosen by memory capacity, the TPOT SLO and
 * max_batch, and compute-bound prefill. Pure arithmetic on plain numbers: no parsing, no I/O. */
#ifndef TS_SIM_ROOFLINE_H
#define TS_SIM_ROOFLINE_H

#include "models/engine/shape.h"

typedef struct {
    ModelShape shape;          /* a full shape (MLA allowed) */
    double weight_bytes;       /* bytes per weight (2 = bf16, 1 = fp8, 4 = fp32) */
    double kv_bytes;           /* bytes per KV-cache element */
    int mtp_depth;             /* D draft tokens per step (0: none) */
    double mtp_acceptance;     /* a: probability each draft is accepted */

    double peak_tflops;        /* per chip, at the weights' precision */
    double hbm_gb;             /* per chip, GB = 1e9 bytes */
    double hbm_tb_s;           /* per chip */
    double interconnect_gb_s;  /* per chip, one way; 0 = none */

    double eff_compute, eff_memory, eff_prefill, hbm_usable, act_bytes;
    double step_overhead_ms;
    int max_batch;             /* 0: no limit */
    int chips_per_instance;    /* 0: the fewest that hold the weights */
    int kv_paged;              /* 1: a sequence holds its in-flight KV (context_tokens plus one
                                  block of ROOF_KV_BLOCK tokens) as paged servers allocate it;
                                  0: its peak (peak_context), reserved whole */
    double collective_us;      /* latency of one collective (all-reduce, all-to-all), us */

    double context_tokens;     /* average KV length while decoding */
    double peak_context;       /* KV length a sequence reaches (sizes the cache) */
    double prompt_tokens;      /* prefill length (>= 1) */
    double tpot_slo_ms;        /* 0: none */
    double ttft_slo_ms;        /* 0: none */
    int fixed_batch;           /* > 0: evaluate this batch instead of choosing one */
} RoofInputs;

/* Tokens per KV block of a paged cache (vLLM's and SGLang's default page). */
#define ROOF_KV_BLOCK 16

typedef enum { ROOF_CAPACITY, ROOF_SLO, ROOF_MAX_BATCH, ROOF_FIXED } RoofLimit;

typedef struct {
    int chips_per_instance;
    int batch;
    int max_batch_memory;        /* the largest batch the instance's memory holds */
    RoofLimit limit;             /* what stopped the batch growing */
    int compute_bound;           /* at the chosen batch, FLOPs outlast bytes */
    const char *bound;           /* "capacity", "slo", "compute" or "bandwidth" (see .c) */
    double step_ms;              /* decode step at the chosen batch */
    double tokens_per_step;      /* per sequence: 1 + a + ... + a^D */
    double tpot_ms;              /* step_ms / tokens_per_step */
    double decode_tok_s_per_chip;
    double prefill_tok_s_per_chip;
    double ttft_ms;              /* one prompt on one instance */
    double kv_bytes_per_token;
    double weights_gb_per_instance; /* all weights (every expert), GB */
    double flops_per_output_token;  /* main-model FLOPs at context_tokens */
    double flops_per_prompt_token;
    double comm_ms;              /* communication part of the step */
    double compute_ms;           /* FLOPs over compute at the chosen batch */
    double memory_ms;            /* bytes over bandwidth at the chosen batch */
} RoofResult;

/* The expected number of distinct experts that b routed tokens touch when each picks k of E
 * uniformly: E × (1 − (1 − k/E)^b); in [k, E] for b >= 1. */
double roof_expected_experts(double experts, double k, double tokens);

/* Tokens per sequence per step with MTP depth d and acceptance a: 1 + a + ... + a^d. */
double roof_tokens_per_step(int depth, double acceptance);

/* Decode step time (ms) at batch b on an instance of `chips` chips (> 0), with the split:
 * *compute_ms, *memory_ms, *comm_ms (any may be NULL). */
double roof_step_ms(const RoofInputs *in, int chips, int b, double *compute_ms, double *memory_ms,
                    double *comm_ms);

/* Chooses chips per instance (the fewest that hold the weights and one sequence's cache, raised
 * until one prompt's prefill meets the TTFT SLO) and the batch, and fills out. Returns 0, or -1
 * when the weights and one sequence's cache do not fit the instance (out->max_batch_memory is
 * then 0), -2 when even batch 1 misses the TPOT SLO, -3 when a fixed chips_per_instance cannot
 * meet the TTFT SLO. */
int roof_solve(const RoofInputs *in, RoofResult *out);

/* KV bytes one sequence holds while decoding: its in-flight context plus one block when paged,
 * its peak context otherwise. */
double roof_kv_bytes_per_sequence(const RoofInputs *in);

/* The instance sizes a deployment search tries, from n_min to n_max (both tried): every size
 * that is n_min, a power of two or a multiple of 8, as tensor- and expert-parallel groups come.
 * Writes at most max sizes, ascending; returns how many. */
int roof_candidate_sizes(int n_min, int n_max, int *sizes, int max);

#endif
