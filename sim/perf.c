/* perf: busy throughput per chip for declared and mfu fleets. FLOPs per token follow
 * scenario-format.md: with a shape, 2 × non-embedding active parameters + the output head +
 * attention over the context; with only params_active, 2 × params_active. */
#include "perf.h"

void perf_flops_per_token(const ScnModel *m, const ScnVal *wl, double *per_output,
                          double *per_input)
{
    if (!m->has_shape) {
        *per_output = 2.0 * m->params_active;
        *per_input = 2.0 * m->params_active;
        return;
    }
    const ScnVal *ctx = &wl[WK_CONTEXT_TOKENS];
    const ScnVal *prompt = &wl[WK_PROMPT_TOKENS];
    *per_output = shape_flops_decode(&m->shape, ctx->origin != ORIG_NONE ? ctx->num : 0.0);
    if (prompt->origin != ORIG_NONE && prompt->num >= 1.0)
        *per_input = shape_flops_prompt(&m->shape, prompt->num);
    else /* no prompt length: the matmuls only (a warning said so) */
        *per_input = 2.0 * m->params.nonembed_active;
}

void perf_fleet(const Scenario *s, const ScnFleet *f, PerfResult *out)
{
    const ScnModel *m = &s->models[f->model];
    const ScnVal *v = f->v;
    *out = (PerfResult){0};
    if (m->has_shape || m->params_active > 0)
        perf_flops_per_token(m, s->wl, &out->flops_per_output_token,
                             &out->flops_per_input_token);
    switch (f->throughput) {
    case THR_MEASURED: /* bound to a measure run's rows by sim/measured.c */
    case THR_DECLARED:
        if (v[FK_DECODE_TOK_S_PER_CHIP].origin != ORIG_NONE)
            out->decode_tok_s_per_chip = v[FK_DECODE_TOK_S_PER_CHIP].num;
        if (v[FK_PREFILL_TOK_S_PER_CHIP].origin != ORIG_NONE)
            out->prefill_tok_s_per_chip = v[FK_PREFILL_TOK_S_PER_CHIP].num;
        break;
    case THR_MFU: {
        const ScnVal *cv = f->chip.v;
        int fp8 = m->v[MK_WEIGHT_BYTES].num == 1 && cv[CK_FP8_TFLOPS].origin != ORIG_NONE;
        out->peak_tflops = fp8 ? cv[CK_FP8_TFLOPS].num : cv[CK_BF16_TFLOPS].num;
        double peak = out->peak_tflops * 1e12;
        out->decode_tok_s_per_chip = peak * v[FK_MFU].num / out->flops_per_output_token;
        out->prefill_tok_s_per_chip = peak * v[FK_MFU_PREFILL].num / out->flops_per_input_token;
        break;
    }
    case THR_ROOFLINE:
        break; /* refused by scenario.c until its release */
    }
}
