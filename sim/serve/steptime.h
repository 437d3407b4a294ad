/* steptime: the modeled step-time backend: the roofline (sim/price/roofline.h) applied to one
 * step's actual mix: prefill chunks at their positions, decodes at their contexts, the weights
 * read once per step, the MoE experts the step's tokens touch, each decode's KV read, plus
 * expert- or tensor-parallel communication and a fixed overhead. It also sizes a replica's KV
 * cache from memory. MTP is not modeled here (one token per sequence per step). */
#ifndef TS_SIM_SERVE_STEPTIME_H
#define TS_SIM_SERVE_STEPTIME_H

#include "models/engine/shape.h"
#include "models/tserr.h"
#include "sim/price/roofline.h"
#include "sim/serve/sched.h"

typedef struct {
    ModelShape shape;         /* checked by steptime_init */
    double weight_bytes;      /* bytes per weight */
    double kv_bytes;          /* bytes per KV-cache element */
    double act_bytes;         /* bytes per activation element sent between chips */
    int chips;                /* chips per replica, >= 1 */
    double peak_tflops;       /* per chip */
    double hbm_tb_s;          /* per chip */
    double hbm_gb;            /* per chip, 1e9 bytes */
    double hbm_usable;        /* share of HBM for weights and KV, (0, 1] */
    double interconnect_gb_s; /* per chip, one way; 0: none */
    double eff_compute;       /* decode FLOPs efficiency, (0, 1] */
    double eff_memory;        /* bandwidth efficiency, (0, 1] */
    double eff_prefill;       /* prefill FLOPs efficiency, (0, 1] */
    double step_overhead_ms;  /* fixed cost of every step */
    double collective_us;     /* latency of one collective between the chips (roofline.h) */
} StepModel;

/* Precomputed per-step constants of a model; caller-owned, no heap. */
typedef struct {
    StepModel m;
    double body_flops;         /* per computed position, all layers, output head excluded */
    double head_flops;         /* per sampled token */
    double attn_flops_per_key; /* per query position per key */
    double dense_bytes;  /* weights read by every step: all but embedding and routed experts */
    double expert_bytes; /* one routed expert */
    double moe_layers, experts, experts_active, log_miss; /* log(1 - k/E) */
    double kv_bytes_per_token;
    double weights_bytes;  /* everything held in memory */
    double compute_flop_s; /* chips × peak */
    double bandwidth_b_s;  /* chips × bandwidth × eff_memory */
    double comm_s_per_token;
    double comm_s_per_step;    /* collectives' latency: 2 per (MoE) layer when chips > 1 */
} StepTime;

/* Fills m from a roofline's inputs for a replica of `chips` chips (MTP fields ignored). */
void steptime_model_from_roof(StepModel *m, const RoofInputs *in, int chips);

/* Checks m and precomputes t. TS_EINPUT naming the bad field. */
int steptime_init(StepTime *t, const StepModel *m, TsErr *err);

/* Seconds of one step (> 0 for a non-empty batch). */
double steptime_batch_s(const StepTime *t, const StepBatch *b);

/* The backend interface over t (borrowed: t must outlive the backend's use). */
StepBackend steptime_backend(StepTime *t);

/* KV blocks of block_tokens the replica's usable memory holds beside all its weights, capped at
 * KV_MAX_BLOCKS. TS_EINPUT when the weights leave no room for one block. */
int steptime_kv_blocks(const StepTime *t, int block_tokens, int32_t *blocks, TsErr *err);

#endif
