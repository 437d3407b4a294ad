/* calstep: per item, FLOPs are eng_flops_row summed over its positions (a chunk that does not
 * emit has no head), decode items at eff_compute and prefill chunks at eff_prefill; bytes are
 * eng_weight_bytes_step for the step's rows (MoE: E(1 - (1 - k/E)^T) distinct experts per
 * layer) plus each row's KV read (its position + 1 keys) and write; pairs are keys x layers x
 * KV heads. */
#include "sim/serve/calstep.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/engine/forward.h"
#include "models/engine/shape.h"

int calstep_init(CalStep *c, const EngineConfig *cfg, Precision prec, Precision kv,
                 const CalParams *p, double peak_gflops, double bandwidth_gb_s, TsErr *err)
{
    memset(c, 0, sizeof *c);
    if (cfg_check(cfg, err))
        return err->code;
    if (!(peak_gflops > 0) || !(bandwidth_gb_s > 0) || !(p->eff_compute > 0) ||
        !(p->eff_prefill > 0) || !(p->eff_memory > 0))
        return ts_err_set(err, TS_EINPUT, "calibrated step model: ceilings and efficiencies "
                                          "must be > 0");
    c->cfg = *cfg;
    c->prec = prec;
    c->kv = kv;
    c->params = *p;
    c->peak_gflops = peak_gflops;
    c->bandwidth_gb_s = bandwidth_gb_s;
    const ModelShape *s = &cfg->shape;
    c->kv_bytes_per_token = shape_kv_bytes_per_token(s, prec_elt_bytes(kv));
    c->pairs_per_key = (double)s->layers * (double)s->kv_heads;
    c->moe_layers = s->experts > 0 ? (double)(s->layers - s->dense_layers) : 0;
    return 0;
}

int calstep_init_profile(CalStep *c, const ScnCalibration *p, TsErr *err)
{
    EngineConfig cfg;
    Precision prec, kv;
    if (cfg_preset(p->model, &cfg, err) || prec_parse(p->precision, &prec, err) ||
        prec_parse(p->kv_precision, &kv, err))
        return err->code;
    CalParams cp = {.eff_compute = p->eff_compute, .eff_prefill = p->eff_prefill,
                    .eff_memory = p->eff_memory, .step_overhead_ms = p->step_overhead_ms,
                    .attn_ns_per_pair = p->attn_ns_per_pair, .overlap = p->overlap};
    return calstep_init(c, &cfg, prec, kv, &cp, p->peak_gflops, p->bandwidth_gb_s, err);
}

/* FLOPs of positions [start, start + n), the head only at the last when emits. */
static double item_flops(const EngineConfig *cfg, int32_t start, int32_t n, int emits)
{
    double f = 0;
    for (int32_t i = 0; i < n; i++)
        f += eng_flops_row(cfg, start + i, emits && i == n - 1);
    return f;
}

double calstep_batch_s(const CalStep *c, const StepBatch *b)
{
    double dec = 0, pre = 0, keys = 0;
    int logit_rows = 0;
    for (int32_t k = 0; k < b->n_decode; k++) {
        const StepItem *it = &b->decode[k];
        dec += item_flops(&c->cfg, it->start, it->tokens, it->emits);
        logit_rows += it->emits;
        keys += (double)it->tokens * it->start + it->tokens * (it->tokens + 1.0) / 2.0;
    }
    for (int32_t k = 0; k < b->n_prefill; k++) {
        const StepItem *it = &b->prefill[k];
        pre += item_flops(&c->cfg, it->start, it->tokens, it->emits);
        logit_rows += it->emits;
        keys += (double)it->tokens * it->start + it->tokens * (it->tokens + 1.0) / 2.0;
    }
    double rows = (double)b->tokens;
    const ModelShape *s = &c->cfg.shape;
    double distinct = 0;
    if (s->experts > 0)
        distinct = c->moe_layers * (double)s->experts *
                   (1.0 - pow(1.0 - (double)s->experts_active / (double)s->experts, rows));
    double bytes = eng_weight_bytes_step(&c->cfg, c->prec, (int)rows, logit_rows, distinct) +
                   (keys + rows) * c->kv_bytes_per_token;
    return cal_parts_s(&c->params, c->peak_gflops, c->bandwidth_gb_s, dec, pre, bytes,
                       keys * c->pairs_per_key);
}

int calstep_steady(const CalStep *c, int32_t prompt_tokens, int32_t context, int max_batch,
                   double tpot_slo_ms, double ttft_slo_ms, CalSteady *out, TsErr *err)
{
    memset(out, 0, sizeof *out);
    if (prompt_tokens < 1 || context < 0 || max_batch < 1 || max_batch > 1 << 20)
        return ts_err_set(err, TS_EINPUT,
                          "calibrated step model: prompt %d, context %d and batches up to %d are "
                          "out of range",
                          prompt_tokens, context, max_batch);
    StepItem *items = calloc((size_t)max_batch, sizeof *items);
    if (!items)
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    for (int k = 0; k < max_batch; k++)
        items[k] = (StepItem){.id = k, .slot = k, .start = context, .tokens = 1, .emits = 1};
    double step1_ms = 0;
    for (int b = 1; b <= max_batch; b++) {
        StepBatch sb = {.decode = items, .n_decode = b, .decode_keys = (double)b * (context + 1),
                        .tokens = b};
        double ms = 1e3 * calstep_batch_s(c, &sb);
        if (b == 1)
            step1_ms = ms;
        if (tpot_slo_ms > 0 && ms > tpot_slo_ms)
            continue;
        if (b / ms * 1e3 > out->decode_tok_s) {
            out->decode_tok_s = b / ms * 1e3;
            out->tpot_ms = ms;
            out->batch = b;
        }
    }
    free(items);
    if (out->batch == 0)
        return ts_err_set(err, TS_EINPUT,
                          "even batch 1 misses tpot_slo_ms = %g (the calibrated step takes %.4g ms)",
                          tpot_slo_ms, step1_ms);
    StepItem prompt = {.start = 0, .tokens = prompt_tokens, .emits = 1};
    StepBatch pb = {.prefill = &prompt, .n_prefill = 1, .prefill_tokens = prompt_tokens,
                    .tokens = prompt_tokens};
    out->ttft_ms = 1e3 * calstep_batch_s(c, &pb);
    out->prefill_tok_s = prompt_tokens / out->ttft_ms * 1e3;
    if (ttft_slo_ms > 0 && out->ttft_ms > ttft_slo_ms)
        return ts_err_set(err, TS_EINPUT,
                          "one prompt of %d tokens takes %.4g ms to prefill by the calibrated "
                          "step model, over ttft_slo_ms = %g",
                          prompt_tokens, out->ttft_ms, ttft_slo_ms);
    return 0;
}

static int calstep_step(void *ctx, const StepBatch *b, double *seconds, TsErr *err)
{
    (void)err;
    *seconds = calstep_batch_s(ctx, b);
    return 0;
}

StepBackend calstep_backend(CalStep *c)
{
    StepBackend b = {calstep_step, c};
    return b;
}
