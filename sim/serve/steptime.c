/* steptime: per step, FLOPs = positions × body + sampled tokens × head + attention (each query
 * position against its keys: a decode at position p reads p + 1 keys, a chunk of c from s reads
 * c·s + c(c+1)/2), decode FLOPs at eff_compute and prefill FLOPs at eff_prefill; bytes = the
 * always-read weights + the expected distinct experts of the step's tokens + the KV each item
 * reads (its keys) and writes; time = max(compute, memory) + communication + overhead. A decode
 * at context c alone is exactly roof_step_ms at batch 1 and context c (MTP off). */
#include "sim/serve/steptime.h"

#include <math.h>
#include <string.h>

void steptime_model_from_roof(StepModel *m, const RoofInputs *in, int chips)
{
    memset(m, 0, sizeof *m);
    m->shape = in->shape;
    m->weight_bytes = in->weight_bytes;
    m->kv_bytes = in->kv_bytes;
    m->act_bytes = in->act_bytes;
    m->chips = chips;
    m->peak_tflops = in->peak_tflops;
    m->hbm_tb_s = in->hbm_tb_s;
    m->hbm_gb = in->hbm_gb;
    m->hbm_usable = in->hbm_usable;
    m->interconnect_gb_s = in->interconnect_gb_s;
    m->eff_compute = in->eff_compute;
    m->eff_memory = in->eff_memory;
    m->eff_prefill = in->eff_prefill;
    m->step_overhead_ms = in->step_overhead_ms;
    m->collective_us = in->collective_us;
}

static int share_ok(double x)
{
    return x > 0 && x <= 1;
}

int steptime_init(StepTime *t, const StepModel *m, TsErr *err)
{
    memset(t, 0, sizeof *t);
    int rc = shape_check(&m->shape, err);
    if (rc)
        return rc;
    if (m->chips < 1 || m->chips > 1000000)
        return ts_err_set(err, TS_EINPUT, "step model: chips must be 1 to 1000000");
    if (!(m->peak_tflops > 0) || !(m->hbm_tb_s > 0) || !(m->weight_bytes > 0) ||
        !(m->kv_bytes > 0) || !(m->hbm_gb > 0))
        return ts_err_set(err, TS_EINPUT,
                          "step model: peak_tflops, hbm_tb_s, hbm_gb, "
                          "weight_bytes and kv_bytes must be > 0");
    if (!share_ok(m->eff_compute) || !share_ok(m->eff_memory) || !share_ok(m->eff_prefill) ||
        !share_ok(m->hbm_usable))
        return ts_err_set(err, TS_EINPUT,
                          "step model: efficiencies and hbm_usable must be in "
                          "(0, 1]");
    if (!(m->step_overhead_ms >= 0) || !(m->interconnect_gb_s >= 0) || !(m->act_bytes >= 0))
        return ts_err_set(err, TS_EINPUT,
                          "step model: step_overhead_ms, interconnect_gb_s and "
                          "act_bytes must be >= 0");
    t->m = *m;
    const ModelShape *s = &m->shape;
    ShapeParams p;
    shape_params(s, &p);
    double d = (double)s->d_model, n = m->chips;
    t->body_flops = 2.0 * p.nonembed_active;
    t->head_flops = 2.0 * (double)s->vocab * d;
    t->attn_flops_per_key = shape_attn_flops(s, 1.0);
    double routed = (double)p.moe_layers * (double)s->experts * p.expert;
    t->dense_bytes = (p.total - p.embedding - routed) * m->weight_bytes;
    t->expert_bytes = p.expert * m->weight_bytes;
    t->moe_layers = (double)p.moe_layers;
    t->experts = (double)s->experts;
    t->experts_active = (double)s->experts_active;
    t->log_miss = s->experts > 0 ? log1p(-t->experts_active / t->experts) : 0;
    t->kv_bytes_per_token = shape_kv_bytes_per_token(s, m->kv_bytes);
    t->weights_bytes = p.total * m->weight_bytes;
    t->compute_flop_s = n * m->peak_tflops * 1e12;
    t->bandwidth_b_s = n * m->hbm_tb_s * 1e12 * m->eff_memory;
    /* the roofline's communication per step and per token of a step (see roof_step_ms) */
    if (m->chips > 1)
        t->comm_s_per_step = 2.0 * (p.moe_layers > 0 ? (double)p.moe_layers : (double)s->layers) *
                             m->collective_us * 1e-6;
    if (m->chips > 1 && m->interconnect_gb_s > 0) {
        double link = m->interconnect_gb_s * 1e9;
        if (p.moe_layers > 0)
            t->comm_s_per_token =
                t->moe_layers * 2.0 * (1.0 / n) * t->experts_active * d * m->act_bytes / link;
        else
            t->comm_s_per_token =
                (double)s->layers * 2.0 * (2.0 * (n - 1.0) / n) * d * m->act_bytes / link;
    }
    return 0;
}

double steptime_batch_s(const StepTime *t, const StepBatch *b)
{
    double nd = b->n_decode;
    double dec_flops =
        nd * (t->body_flops + t->head_flops) + t->attn_flops_per_key * b->decode_keys;
    double kv_tokens = b->decode_keys;
    double pre_flops = 0;
    for (int32_t i = 0; i < b->n_prefill; i++) {
        const StepItem *it = &b->prefill[i];
        double c = it->tokens, s0 = it->start;
        pre_flops += c * t->body_flops + t->attn_flops_per_key * (c * s0 + c * (c + 1.0) / 2.0) +
                     (it->emits ? t->head_flops : 0.0);
        kv_tokens += s0 + c;
    }
    double tokens = (double)b->tokens;
    double experts = t->experts > 0 ? t->experts * (1.0 - exp(tokens * t->log_miss)) : 0;
    double bytes = t->dense_bytes + t->moe_layers * experts * t->expert_bytes +
                   kv_tokens * t->kv_bytes_per_token;
    double compute_s = dec_flops / (t->compute_flop_s * t->m.eff_compute) +
                       pre_flops / (t->compute_flop_s * t->m.eff_prefill);
    double memory_s = bytes / t->bandwidth_b_s;
    return (compute_s > memory_s ? compute_s : memory_s) + t->comm_s_per_token * tokens +
           t->comm_s_per_step + t->m.step_overhead_ms * 1e-3;
}

static int backend_step(void *ctx, const StepBatch *b, double *seconds, TsErr *err)
{
    (void)err;
    *seconds = steptime_batch_s(ctx, b);
    return 0;
}

StepBackend steptime_backend(StepTime *t)
{
    StepBackend b = {backend_step, t};
    return b;
}

int steptime_kv_blocks(const StepTime *t, int block_tokens, int32_t *blocks, TsErr *err)
{
    double room = t->m.chips * t->m.hbm_gb * 1e9 * t->m.hbm_usable - t->weights_bytes;
    double per_block = (double)block_tokens * t->kv_bytes_per_token;
    double n = per_block > 0 ? floor(room / per_block) : 0;
    if (!(n >= 1)) {
        *blocks = 0;
        return ts_err_set(err, TS_EINPUT,
                          "the weights (%.3g GB) leave no room for KV blocks in "
                          "%d chip(s) of %.3g GB at %.0f%% usable",
                          t->weights_bytes / 1e9, t->m.chips, t->m.hbm_gb, t->m.hbm_usable * 100);
    }
    *blocks = n > KV_MAX_BLOCKS ? KV_MAX_BLOCKS : (int32_t)n;
    return 0;
}
