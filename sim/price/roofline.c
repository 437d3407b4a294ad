/* roofline: decode steps bounded by max(FLOPs over compute, bytes over bandwidth), plus
 * expert-parallel all-to-all and a fixed overhead; the batch grows until the instance's memory,
 * the TPOT SLO or max_batch stops it. MTP adds D draft tokens per sequence per step: the main
 * model verifies 1 + D positions and D draft modules run, and 1 + a + ... + a^D tokens come out.
 * The bound string: "capacity" or "slo" when that stopped the batch, else (max_batch or a fixed
 * batch) the step's own limit, "compute" or "bandwidth". */
#include "sim/price/roofline.h"

#include <math.h>
#include <string.h>

double roof_expected_experts(double experts, double k, double tokens)
{
    if (experts <= 0)
        return 0;
    return experts * (1.0 - pow(1.0 - k / experts, tokens));
}

double roof_tokens_per_step(int depth, double acceptance)
{
    double t = 1.0, term = 1.0;
    for (int i = 0; i < depth; i++) {
        term *= acceptance;
        t += term;
    }
    return t;
}

/* Parameter counts of the pieces the step reads. */
typedef struct {
    ShapeParams p;
    double routed_total;   /* routed expert weights, all MoE layers (counts) */
    double mtp_per_depth;  /* one MTP module's weights: an average layer plus its 2d x d
                              projection (every expert of that layer) */
    double mtp_active_per_depth; /* what one draft token computes with: the active part */
    double weights_bytes;  /* everything held in memory, MTP modules included */
    double kv_per_token;   /* bytes */
} Parts;

static void parts(const RoofInputs *in, Parts *o)
{
    const ModelShape *s = &in->shape;
    shape_params(s, &o->p);
    double d = (double)s->d_model;
    o->routed_total = (double)o->p.moe_layers * (double)s->experts * o->p.expert;
    double per_layer = (o->p.total - o->p.embedding - o->p.head) / (double)s->layers;
    o->mtp_per_depth = per_layer + 2.0 * d * d;
    o->mtp_active_per_depth = o->p.nonembed_active / (double)s->layers + 2.0 * d * d;
    o->weights_bytes = (o->p.total + in->mtp_depth * o->mtp_per_depth) * in->weight_bytes;
    o->kv_per_token = shape_kv_bytes_per_token(s, in->kv_bytes);
}

double roof_step_ms(const RoofInputs *in, int chips, int b, double *compute_ms, double *memory_ms,
                    double *comm_ms)
{
    Parts pt;
    parts(in, &pt);
    const ModelShape *s = &in->shape;
    double n = chips, D = in->mtp_depth, B = b;
    double verify = B * (1.0 + D); /* positions the main model runs per step */
    double flops = verify * shape_flops_decode(s, in->context_tokens) +
                   B * D * (2.0 * pt.mtp_active_per_depth +
                            2.0 * (double)s->vocab * (double)s->d_model);
    double dense_read = (pt.p.total - pt.p.embedding - pt.routed_total) * in->weight_bytes;
    double experts_read = (double)pt.p.moe_layers *
                          roof_expected_experts((double)s->experts, (double)s->experts_active,
                                                verify) *
                          pt.p.expert * in->weight_bytes;
    double mtp_read = D * pt.mtp_per_depth * in->weight_bytes;
    double kv_read = B * in->context_tokens * pt.kv_per_token;
    double bytes = dense_read + experts_read + mtp_read + kv_read;
    double c_ms = flops / (n * in->peak_tflops * 1e12 * in->eff_compute) * 1e3;
    double m_ms = bytes / (n * in->hbm_tb_s * 1e12 * in->eff_memory) * 1e3;
    /* Communication between the instance's chips, alpha-beta: each collective costs a fixed
     * latency (collective_us) plus its bytes over the chip's own link:
     * - MoE, expert parallel (attention data parallel): per MoE layer two all-to-alls, each chip
     *   dispatching its share of the tokens (verify / n) to k experts and gathering the results
     *   back: 2 x tokens/n x k x d_model x act_bytes;
     * - dense, tensor parallel: per layer two all-reduces (after attention and after the FFN) of
     *   tokens x d_model x act_bytes each; a ring all-reduce sends 2 (n - 1) / n of the data.
     * Added to the step (no overlap with compute assumed: an upper bound on its cost). */
    double x_ms = 0.0;
    if (chips > 1) {
        double d = (double)s->d_model;
        double link = in->interconnect_gb_s > 0 ? in->interconnect_gb_s * 1e9 : 0.0;
        double alpha_ms = in->collective_us * 1e-3;
        if (pt.p.moe_layers > 0) {
            double sent = (double)pt.p.moe_layers * 2.0 * (verify / n) *
                          (double)s->experts_active * d * in->act_bytes;
            x_ms += (double)pt.p.moe_layers * 2.0 * alpha_ms + (link > 0 ? sent / link * 1e3 : 0);
        } else {
            double layers = (double)s->layers;
            double sent = layers * 2.0 * (2.0 * (n - 1.0) / n) * verify * d * in->act_bytes;
            x_ms += layers * 2.0 * alpha_ms + (link > 0 ? sent / link * 1e3 : 0);
        }
    }
    if (compute_ms)
        *compute_ms = c_ms;
    if (memory_ms)
        *memory_ms = m_ms;
    if (comm_ms)
        *comm_ms = x_ms;
    return (c_ms > m_ms ? c_ms : m_ms) + x_ms + in->step_overhead_ms;
}

double roof_kv_bytes_per_sequence(const RoofInputs *in)
{
    double tokens = in->kv_paged ? in->context_tokens + ROOF_KV_BLOCK : in->peak_context;
    return tokens * shape_kv_bytes_per_token(&in->shape, in->kv_bytes);
}

int roof_candidate_sizes(int n_min, int n_max, int *sizes, int max)
{
    int n = 0;
    if (n_min < 1)
        n_min = 1;
    if (n_max < n_min)
        n_max = n_min;
    for (int c = n_min; c <= n_max && n < max; c++) {
        int pow2 = (c & (c - 1)) == 0;
        if (c == n_min || c == n_max || pow2 || c % 8 == 0)
            sizes[n++] = c;
    }
    return n;
}

static double tpot_at(const RoofInputs *in, int chips, int b, double tps)
{
    return roof_step_ms(in, chips, b, NULL, NULL, NULL) / tps;
}

int roof_solve(const RoofInputs *in, RoofResult *out)
{
    memset(out, 0, sizeof *out);
    Parts pt;
    parts(in, &pt);
    double usable = in->hbm_usable * in->hbm_gb * 1e9;
    double kv_seq = roof_kv_bytes_per_sequence(in);
    int n = in->chips_per_instance;
    if (n <= 0) {
        double need = ceil((pt.weights_bytes + kv_seq) / usable);
        n = need < 1 ? 1 : (need > 1e6 ? 1000000 : (int)need);
    }
    /* prefill must meet the TTFT SLO: more chips per instance when the count is ours */
    double flops_prompt = shape_flops_prompt(&in->shape, in->prompt_tokens);
    double one_chip_ttft = in->prompt_tokens * flops_prompt /
                           (in->peak_tflops * 1e12 * in->eff_prefill) * 1e3;
    if (in->ttft_slo_ms > 0 && one_chip_ttft / n > in->ttft_slo_ms) {
        if (in->chips_per_instance > 0) {
            out->chips_per_instance = n;
            out->ttft_ms = one_chip_ttft / n;
            return -3;
        }
        double need = ceil(one_chip_ttft / in->ttft_slo_ms);
        n = need > 1e6 ? 1000000 : (int)need;
    }
    out->chips_per_instance = n;
    out->kv_bytes_per_token = pt.kv_per_token;
    out->weights_gb_per_instance = pt.weights_bytes / 1e9;
    out->tokens_per_step = roof_tokens_per_step(in->mtp_depth, in->mtp_acceptance);
    out->flops_per_output_token = shape_flops_decode(&in->shape, in->context_tokens);
    out->flops_per_prompt_token = shape_flops_prompt(&in->shape, in->prompt_tokens);
    double peak = in->peak_tflops * 1e12;
    out->prefill_tok_s_per_chip = peak * in->eff_prefill / out->flops_per_prompt_token;
    out->ttft_ms = in->prompt_tokens * out->flops_per_prompt_token / (n * peak * in->eff_prefill) *
                   1e3;

    double room = (double)n * usable - pt.weights_bytes;
    double bmem = kv_seq > 0 ? floor(room / kv_seq) : 1e9;
    out->max_batch_memory = room <= 0 || bmem < 1 ? 0 : (bmem > 1e9 ? 1000000000 : (int)bmem);
    if (out->max_batch_memory < 1)
        return -1;

    double tps = out->tokens_per_step;
    int b;
    if (in->fixed_batch > 0) {
        b = in->fixed_batch;
        out->limit = ROOF_FIXED;
    } else {
        int cap = out->max_batch_memory;
        out->limit = ROOF_CAPACITY;
        if (in->max_batch > 0 && in->max_batch < cap) {
            cap = in->max_batch;
            out->limit = ROOF_MAX_BATCH;
        }
        b = cap;
        if (in->tpot_slo_ms > 0 && tpot_at(in, n, cap, tps) > in->tpot_slo_ms) {
            if (tpot_at(in, n, 1, tps) > in->tpot_slo_ms)
                return -2;
            /* the step time never falls as the batch grows: bisect for the last batch in SLO */
            int lo = 1, hi = cap;
            while (hi - lo > 1) {
                int mid = lo + (hi - lo) / 2;
                if (tpot_at(in, n, mid, tps) <= in->tpot_slo_ms)
                    lo = mid;
                else
                    hi = mid;
            }
            b = lo;
            out->limit = ROOF_SLO;
        }
    }
    double c_ms, m_ms, x_ms;
    out->batch = b;
    out->step_ms = roof_step_ms(in, n, b, &c_ms, &m_ms, &x_ms);
    out->comm_ms = x_ms;
    out->compute_ms = c_ms;
    out->memory_ms = m_ms;
    out->compute_bound = c_ms >= m_ms;
    out->tpot_ms = out->step_ms / tps;
    out->decode_tok_s_per_chip = (double)b * tps / (out->step_ms / 1e3) / n;
    out->bound = out->limit == ROOF_CAPACITY ? "capacity"
                 : out->limit == ROOF_SLO    ? "slo"
                 : out->compute_bound        ? "compute"
                                             : "bandwidth";
    return 0;
}
