/* perf: busy throughput per chip for declared and mfu fleets. FLOPs per token follow
 * scenario-format.md: with a shape, 2 × non-embedding active parameters + the output head +
 * attention over the context; with only params_active, 2 × params_active. */
#include "sim/price/perf.h"

#include <math.h>
#include <string.h>

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

static int given(const ScnVal *v)
{
    return v->origin != ORIG_NONE;
}

/* The peak a model runs at on a chip: fp8 for one-byte weights when the chip has it. */
static double peak_for(const ScnModel *m, const ScnVal *cv)
{
    int fp8 = m->v[MK_WEIGHT_BYTES].num == 1 && given(&cv[CK_FP8_TFLOPS]);
    return fp8 ? cv[CK_FP8_TFLOPS].num : cv[CK_BF16_TFLOPS].num;
}

void perf_roof_inputs(const Scenario *s, const ScnFleet *f, RoofInputs *in)
{
    const ScnModel *m = &s->models[f->model];
    const ScnVal *v = f->v, *cv = f->chip.v, *w = s->wl;
    memset(in, 0, sizeof *in);
    in->shape = m->shape;
    in->weight_bytes = m->v[MK_WEIGHT_BYTES].num;
    in->kv_bytes = m->v[MK_KV_BYTES].num;
    in->mtp_depth = (int)m->v[MK_MTP_DEPTH].num;
    in->mtp_acceptance = given(&m->v[MK_MTP_ACCEPTANCE]) ? m->v[MK_MTP_ACCEPTANCE].num : 0;
    in->peak_tflops = peak_for(m, cv);
    in->hbm_gb = cv[CK_HBM_GB].num;
    in->hbm_tb_s = cv[CK_HBM_TB_S].num;
    in->interconnect_gb_s = given(&cv[CK_INTERCONNECT_GB_S]) ? cv[CK_INTERCONNECT_GB_S].num : 0;
    in->eff_compute = v[FK_EFF_COMPUTE].num;
    in->eff_memory = v[FK_EFF_MEMORY].num;
    in->eff_prefill = v[FK_EFF_PREFILL].num;
    in->hbm_usable = v[FK_HBM_USABLE].num;
    in->act_bytes = v[FK_ACT_BYTES].num;
    in->step_overhead_ms = v[FK_STEP_OVERHEAD_MS].num;
    in->max_batch = given(&v[FK_MAX_BATCH]) ? (int)v[FK_MAX_BATCH].num : 0;
    in->chips_per_instance =
        v[FK_CHIPS_PER_INSTANCE].origin == ORIG_FILE ? (int)v[FK_CHIPS_PER_INSTANCE].num : 0;
    in->kv_paged = !(v[FK_KV_ALLOCATION].text && strcmp(v[FK_KV_ALLOCATION].text, "peak") == 0);
    in->collective_us = given(&v[FK_COLLECTIVE_US]) ? v[FK_COLLECTIVE_US].num : 0.0;
    in->context_tokens = w[WK_CONTEXT_TOKENS].num;
    if (given(&w[WK_REQUESTS_PER_DAY]))
        in->peak_context = (given(&w[WK_PROMPT_TOKENS]) ? w[WK_PROMPT_TOKENS].num : 0) +
                           w[WK_OUTPUT_TOKENS_PER_REQUEST].num;
    else
        in->peak_context = 2.0 * w[WK_CONTEXT_TOKENS].num;
    in->prompt_tokens = given(&w[WK_PROMPT_TOKENS]) ? w[WK_PROMPT_TOKENS].num
                                                     : (in->context_tokens > 1 ? in->context_tokens
                                                                               : 1);
    in->tpot_slo_ms = given(&w[WK_TPOT_SLO_MS]) ? w[WK_TPOT_SLO_MS].num : 0;
    in->ttft_slo_ms = given(&w[WK_TTFT_SLO_MS]) ? w[WK_TTFT_SLO_MS].num : 0;
}

/* The largest instance the search may try: the chip's scale-up domain, capped by the fleet's
 * max_chips_per_instance (alone when the chip has none); 0 when neither is known. */
static int search_max(const ScnFleet *f)
{
    const ScnVal *su = &f->chip.v[CK_SCALE_UP_CHIPS], *cap = &f->v[FK_MAX_CHIPS_PER_INSTANCE];
    int n = given(su) ? (int)su->num : 0;
    if (given(cap) && (n == 0 || cap->num < n))
        n = (int)cap->num;
    return n;
}

/* Solves every candidate size from n_min to n_max into out->frontier; out->roof takes the
 * first feasible one. Returns 1 when some size is feasible. */
static int search(const RoofInputs *in, int n_min, int n_max, PerfResult *out)
{
    int sizes[PERF_FRONTIER_MAX];
    int n = roof_candidate_sizes(n_min, n_max, sizes, PERF_FRONTIER_MAX);
    int first = -1;
    for (int i = 0; i < n; i++) {
        RoofInputs one = *in;
        one.chips_per_instance = sizes[i];
        PerfCandidate *c = &out->frontier[i];
        c->chips_per_instance = sizes[i];
        c->status = roof_solve(&one, &c->roof);
        c->usd_per_m_output = c->usd_per_m_blended = NAN;
        if (c->status == 0 && first < 0)
            first = i;
    }
    out->n_frontier = n;
    out->searched = 1;
    out->chosen = first;
    if (first >= 0)
        out->roof = out->frontier[first].roof;
    return first >= 0;
}

int perf_fleet(const Scenario *s, const ScnFleet *f, PerfResult *out, TsErr *err)
{
    const ScnModel *m = &s->models[f->model];
    const ScnVal *v = f->v;
    *out = (PerfResult){0};
    if (m->has_shape || m->params_active > 0)
        perf_flops_per_token(m, s->wl, &out->flops_per_output_token,
                             &out->flops_per_input_token);
    ThroughputMode mode = f->throughput;
    if (mode == THR_SIMULATE && f->calibrated)
        mode = THR_MEASURED; /* the calibrated steady state, bound like a measured fleet's */
    switch (mode) {
    case THR_MEASURED: /* bound to a measure run's rows or its calibration (sim/cli/measured.c) */
    case THR_DECLARED:
        if (v[FK_DECODE_TOK_S_PER_CHIP].origin != ORIG_NONE)
            out->decode_tok_s_per_chip = v[FK_DECODE_TOK_S_PER_CHIP].num;
        if (v[FK_PREFILL_TOK_S_PER_CHIP].origin != ORIG_NONE)
            out->prefill_tok_s_per_chip = v[FK_PREFILL_TOK_S_PER_CHIP].num;
        break;
    case THR_MFU: {
        out->peak_tflops = peak_for(m, f->chip.v);
        double peak = out->peak_tflops * 1e12;
        out->decode_tok_s_per_chip = peak * v[FK_MFU].num / out->flops_per_output_token;
        out->prefill_tok_s_per_chip = peak * v[FK_MFU_PREFILL].num / out->flops_per_input_token;
        break;
    }
    case THR_SIMULATE: /* the roofline's instance and steady state; sim/study/serving runs it */
    case THR_ROOFLINE: {
        RoofInputs in;
        perf_roof_inputs(s, f, &in);
        out->peak_tflops = in.peak_tflops;
        int rc = roof_solve(&in, &out->roof);
        int n_max = in.chips_per_instance > 0 ? 0 : search_max(f);
        if (n_max > out->roof.chips_per_instance && search(&in, out->roof.chips_per_instance,
                                                           n_max, out))
            rc = 0; /* some size is feasible: eval_fleet prices and chooses */
        if (rc == -1)
            return ts_err_set(err, TS_EINPUT,
                              "%s:%d: fleet '%s': %.4g GB of weights and one sequence's KV cache "
                              "do not fit %d chip%s of %.4g GB at hbm_usable %.3g",
                              s->path, f->line, f->name, out->roof.weights_gb_per_instance,
                              out->roof.chips_per_instance,
                              out->roof.chips_per_instance == 1 ? "" : "s", in.hbm_gb,
                              in.hbm_usable);
        if (rc == -2)
            return ts_err_set(err, TS_EINPUT,
                              "%s:%d: fleet '%s': even batch 1 misses tpot_slo_ms = %g (a step "
                              "takes %.4g ms)",
                              s->path, f->line, f->name, in.tpot_slo_ms,
                              roof_step_ms(&in, out->roof.chips_per_instance, 1, NULL, NULL,
                                           NULL) /
                                  roof_tokens_per_step(in.mtp_depth, in.mtp_acceptance));
        if (rc == -3)
            return ts_err_set(err, TS_EINPUT,
                              "%s:%d: fleet '%s': one prompt of %g tokens takes %.4g ms to prefill "
                              "on %d chips, over ttft_slo_ms = %g; use more chips per instance",
                              s->path, f->line, f->name, in.prompt_tokens, out->roof.ttft_ms,
                              in.chips_per_instance, in.ttft_slo_ms);
        out->roofline = 1;
        out->decode_tok_s_per_chip = out->roof.decode_tok_s_per_chip;
        out->prefill_tok_s_per_chip = out->roof.prefill_tok_s_per_chip;
        out->flops_per_output_token = out->roof.flops_per_output_token;
        out->flops_per_input_token = out->roof.flops_per_prompt_token;
        break;
    }
    }
    return 0;
}
