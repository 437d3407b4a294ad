/* scenario: parses a scenario file in two passes. Pass one feeds libinih through our own line
 * reader, which counts lines and rejects what the contract forbids (long or indented lines,
 * `key: value`, bad section lines) and collects raw sections with their line numbers. Pass two
 * checks every key against its section's table, merges catalog rows with definitions and
 * overrides, and resolves each fleet. It computes no costs and writes nothing. */
#include "sim/scenario/scenario.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <ini.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sim/scenario/text.h"

#define SCN_MAX_FILE_BYTES (1024 * 1024)
#define SCN_MAX_LINE 199
#define SCN_MAX_SECTION_LINE 48
#define SCN_MAX_SECTIONS 1000
#define SCN_MAX_KEYS 200
#define BIG 1e15

/* ---- key tables ---------------------------------------------------------------------- */

typedef enum { KT_NUM, KT_INT, KT_TEXT, KT_BOOL, KT_ENUM } KeyType;

typedef struct {
    const char *name;
    KeyType type;
    double lo, hi;
    unsigned char lo_open, hi_open; /* bound excluded */
    const char *choices;            /* KT_ENUM: "a|b|c" */
} KeySpec;

#define NUM(n, lo, hi) {n, KT_NUM, lo, hi, 0, 0, NULL}
#define POS(n, hi) {n, KT_NUM, 0, hi, 1, 0, NULL}
#define INT(n, lo, hi) {n, KT_INT, lo, hi, 0, 0, NULL}
#define TEXT(n) {n, KT_TEXT, 0, 0, 0, 0, NULL}
#define SHARE(n) {n, KT_NUM, 0, 1, 0, 0, NULL}
#define SHARE_POS(n) {n, KT_NUM, 0, 1, 1, 0, NULL}

static const KeySpec CHIP_KEYS[CK_COUNT] = {
    POS("bf16_tflops", 1e9),    POS("fp8_tflops", 1e9),   NUM("hbm_gb", 0, 1e9),
    NUM("hbm_tb_s", 0, 1e9),    POS("tdp_w", 1e7),        POS("all_in_w", 1e7),
    NUM("idle_w", 0, 1e7),      NUM("price_usd", 0, 1e12), NUM("rent_usd_per_chip_hour", 0, 1e7),
    NUM("interconnect_gb_s", 0, 1e9),
};

static const KeySpec MODEL_KEYS[MK_COUNT] = {
    POS("params_total", 1e16),  POS("params_active", 1e16), INT("layers", 1, 10000),
    INT("d_model", 1, 1e6),     INT("heads", 1, 1e6),       INT("kv_heads", 1, 1e6),
    INT("head_dim", 1, 1e6),    INT("ffn", 0, 1e7),         INT("experts", 0, 1e5),
    INT("experts_active", 0, 1e5), INT("shared_experts", 0, 1e5), INT("expert_ffn", 0, 1e7),
    INT("dense_layers", 0, 10000), INT("kv_lora_rank", 0, 1e6), INT("q_lora_rank", 0, 1e6),
    INT("rope_dim", 0, 1e6),    INT("qk_nope_dim", 0, 1e6), INT("v_head_dim", 0, 1e6),
    INT("vocab", 1, 1e8),       POS("weight_bytes", 8),     POS("kv_bytes", 8),
    INT("mtp_depth", 0, 16),    SHARE("mtp_acceptance"),
    INT("max_seq", 1, 65536),   POS("rope_theta", 1e9),     {"norm_eps", KT_NUM, 0, 1, 1, 0, NULL},
    {"shared_classifier", KT_BOOL, 0, 0, 0, 0, NULL},
};

static const KeySpec WORKLOAD_KEYS[WK_COUNT] = {
    TEXT("model"),
    NUM("input_tokens_per_day", 0, 1e20),
    NUM("output_tokens_per_day", 0, 1e20),
    NUM("requests_per_day", 0, 1e18),
    NUM("input_tokens_per_request", 0, 1e9),
    NUM("output_tokens_per_request", 0, 1e9),
    SHARE("cache_hit_rate"),
    NUM("prompt_tokens", 1, 1e9),
    NUM("context_tokens", 0, 1e9),
    POS("tpot_slo_ms", 1e9),
    POS("ttft_slo_ms", 1e9),
};

static const KeySpec FLEET_KEYS[FK_COUNT] = {
    TEXT("chip"),
    TEXT("model"),
    TEXT("pricing"),
    INT("chips", 1, 1e8),
    INT("chips_per_instance", 1, 1e6),
    {"cost", KT_ENUM, 0, 0, 0, 0, "own|rent"},
    {"rent_includes_power", KT_BOOL, 0, 0, 0, 0, NULL},
    NUM("server_overhead", 0, 100),
    INT("years", 1, 100),
    NUM("interest_rate", 0, 10),
    NUM("hosting_usd_per_kw_month", 0, 1e9),
    NUM("usd_per_kwh", 0, 100),
    TEXT("electricity"),
    NUM("pue", 1, 10),
    SHARE_POS("utilization"),
    {"throughput", KT_ENUM, 0, 0, 0, 0, "declared|mfu|roofline|measured"},
    POS("decode_tok_s_per_chip", 1e12),
    POS("prefill_tok_s_per_chip", 1e12),
    SHARE_POS("mfu"),
    SHARE_POS("mfu_prefill"),
    SHARE_POS("eff_compute"),
    SHARE_POS("eff_memory"),
    SHARE_POS("eff_prefill"),
    SHARE_POS("hbm_usable"),
    POS("act_bytes", 8),
    NUM("step_overhead_ms", 0, 1e6),
    INT("max_batch", 1, 1e7),
    POS("power_w_per_chip", 1e7),
    SHARE("power_load"),
    NUM("idle_w_per_chip", 0, 1e7),
    NUM("grid_g_co2_per_kwh", 0, 1e4),
    INT("measurement", 1, 9e15),
    TEXT("measured_model"),
    INT("measured_threads", 1, 1e5),
};

static const KeySpec PRICING_KEYS[PK_COUNT] = {
    NUM("usd_per_m_input_cache_hit", 0, 1e6),
    NUM("usd_per_m_input", 0, 1e6),
    NUM("usd_per_m_output", 0, 1e6),
};

static const KeySpec SCENARIO_KEYS[SK_COUNT] = {
    TEXT("name"), TEXT("description"), INT("seed", 0, 9007199254740992.0),
    INT("samples", 1, 1e8), {"hours", KT_NUM, 0, 1e6, 1, 0, NULL},
};

static const KeySpec SWEEP_KEYS[SWK_COUNT] = {TEXT("over"), TEXT("values"), TEXT("over2"),
                                              TEXT("values2")};
static const KeySpec COMPARE_KEYS[CMK_COUNT] = {TEXT("baseline"), TEXT("breakeven"),
                                                TEXT("breakeven_range")};

static const KeySpec OPTIMIZE_KEYS[OPK_COUNT] = {
    TEXT("fleet"), TEXT("chips"), NUM("power_cap_mw", 0, 1e9), NUM("budget_usd_per_day", 0, 1e15),
    {"objective", KT_ENUM, 0, 0, 0, 0, "usd_per_m_output|usd_per_m_blended"},
};

static const KeySpec QUESTION_KEYS[QK_COUNT] = {
    {"kind", KT_ENUM, 0, 0, 0, 0, "decompose|versus|breakeven|distill|task|demand"},
    TEXT("title"), TEXT("fleets"), TEXT("factors"), POS("power_cap_kw", 1e12),
};

static const KeySpec DISTILL_KEYS[DK_COUNT] = {
    TEXT("teacher"), TEXT("student"), TEXT("teacher_fleet"), TEXT("student_fleet"),
    POS("generated_tokens", 1e16), POS("training_tokens", 1e16), TEXT("chip"),
    SHARE_POS("mfu"), NUM("usd_per_chip_hour", 0, 1e7),
};

static const KeySpec TASK_KEYS[TK_COUNT] = {
    TEXT("fleet"), SHARE_POS("p_success"), NUM("input_tokens", 0, 1e9),
    NUM("output_tokens", 0, 1e9), INT("attempts", 1, 1e6), {"target_success", KT_NUM, 0, 1, 1, 1, NULL},
    INT("max_attempts", 1, 1e6),
};

static const char *const THROUGHPUT_NAMES[] = {"declared", "mfu", "roofline", "measured"};

const char *scn_chip_key(ChipKey k) { return CHIP_KEYS[k].name; }
const char *scn_model_key(ModelKey k) { return MODEL_KEYS[k].name; }
const char *scn_workload_key(WorkloadKey k) { return WORKLOAD_KEYS[k].name; }
const char *scn_fleet_key(FleetKey k) { return FLEET_KEYS[k].name; }
const char *scn_pricing_key(PricingKey k) { return PRICING_KEYS[k].name; }
const char *scn_throughput_name(ThroughputMode m) { return THROUGHPUT_NAMES[m]; }

/* ---- pass one: raw sections ------------------------------------------------------------ */

typedef enum {
    SEC_SCENARIO, SEC_MODEL, SEC_CHIP, SEC_WORKLOAD, SEC_FLEET, SEC_PRICING, SEC_SWEEP,
    SEC_COMPARE, SEC_OPTIMIZE, SEC_QUESTION, SEC_DISTILL, SEC_TASK, SEC_COUNT
} SecKind;

static const char *const SEC_NAMES[SEC_COUNT] = {
    "scenario", "model", "chip", "workload", "fleet", "pricing", "sweep", "compare", "optimize",
    "question", "distill", "task",
};

typedef struct {
    char *key;
    char *value;
    int line;
} RawKV;

typedef struct {
    SecKind kind;
    char *name; /* NULL when the section line has no NAME */
    int line;
    RawKV *kv;
    int n_kv;
    int cap_kv;
} RawSection;

typedef struct {
    const char *path;
    const char *text;
    size_t len;
    size_t pos;
    int line;
    RawSection *secs;
    int n_secs;
    int cap_secs;
    TsErr *err;
    int failed;
} RawParse;

static void raw_free(RawParse *rp)
{
    for (int i = 0; i < rp->n_secs; i++) {
        RawSection *s = &rp->secs[i];
        for (int k = 0; k < s->n_kv; k++) {
            free(s->kv[k].key);
            free(s->kv[k].value);
        }
        free(s->kv);
        free(s->name);
    }
    free(rp->secs);
    rp->secs = NULL;
    rp->n_secs = 0;
}

static int raw_fail(RawParse *rp, int code, const char *fmt, const char *a, const char *b)
{
    char msg[TS_ERR_MSG_MAX];
    snprintf(msg, sizeof msg, fmt, a ? a : "", b ? b : "");
    ts_err_set(rp->err, code, "%s:%d: %s", rp->path, rp->line, msg);
    rp->failed = code;
    return code;
}

/* Parses a section line `[kind]` or `[kind NAME]` (already known to start with '['). */
static int raw_section(RawParse *rp, const char *line)
{
    const char *close = strchr(line, ']');
    if (!close)
        return raw_fail(rp, TS_EINPUT, "expected ']' to close the section line", NULL, NULL);
    const char *rest = close + 1;
    while (*rest == ' ' || *rest == '\t')
        rest++;
    if (*rest && *rest != ';' && *rest != '#')
        return raw_fail(rp, TS_EINPUT, "unexpected text after ']': '%s'", rest, NULL);
    if (close - line + 1 > SCN_MAX_SECTION_LINE)
        return raw_fail(rp, TS_EINPUT, "section line longer than 48 characters", NULL, NULL);
    char inner[SCN_MAX_SECTION_LINE + 1];
    size_t n = (size_t)(close - line - 1);
    memcpy(inner, line + 1, n);
    inner[n] = '\0';
    char kind[SCN_MAX_SECTION_LINE + 1] = "", name[SCN_MAX_SECTION_LINE + 1] = "",
         extra[SCN_MAX_SECTION_LINE + 1] = "";
    int words = sscanf(inner, "%48s %48s %48s", kind, name, extra);
    if (words < 1)
        return raw_fail(rp, TS_EINPUT, "empty section name '[]'", NULL, NULL);
    if (words > 2)
        return raw_fail(rp, TS_EINPUT,
                        "expected [section] or [section NAME], got '[%s]' (a NAME has no spaces)",
                        inner, NULL);
    int kind_id = -1;
    for (int i = 0; i < SEC_COUNT; i++)
        if (txt_eq_nocase(kind, SEC_NAMES[i]))
            kind_id = i;
    if (kind_id < 0) {
        const char *near = txt_nearest(kind, SEC_NAMES, SEC_COUNT);
        char hint[96] = "";
        if (near)
            snprintf(hint, sizeof hint, "; did you mean [%s]?", near);
        return raw_fail(rp, TS_EINPUT, "unknown section [%s]%s", kind, hint);
    }
    if (words == 2 && !txt_valid_name(name))
        return raw_fail(rp, TS_EINPUT,
                        "bad name '%s': use letters, digits, '-', '_' and '.' (at most 40)", name,
                        NULL);
    int named = kind_id == SEC_MODEL || kind_id == SEC_CHIP || kind_id == SEC_FLEET ||
                kind_id == SEC_TASK;
    int unnamed = kind_id == SEC_SCENARIO || kind_id == SEC_WORKLOAD || kind_id == SEC_SWEEP ||
                  kind_id == SEC_COMPARE || kind_id == SEC_OPTIMIZE || kind_id == SEC_QUESTION ||
                  kind_id == SEC_DISTILL;
    if (named && words < 2)
        return raw_fail(rp, TS_EINPUT, "[%s] needs a name: [%s NAME]", SEC_NAMES[kind_id],
                        SEC_NAMES[kind_id]);
    if (unnamed && words == 2)
        return raw_fail(rp, TS_EINPUT, "[%s] takes no name; write [%s]", SEC_NAMES[kind_id],
                        SEC_NAMES[kind_id]);
    if (rp->n_secs >= SCN_MAX_SECTIONS)
        return raw_fail(rp, TS_EINPUT, "more than 1000 sections", NULL, NULL);
    if (rp->n_secs == rp->cap_secs) {
        int cap = rp->cap_secs ? rp->cap_secs * 2 : 16;
        RawSection *p = realloc(rp->secs, sizeof *p * (size_t)cap);
        if (!p)
            return raw_fail(rp, TS_ENOMEM, "out of memory", NULL, NULL);
        rp->secs = p;
        rp->cap_secs = cap;
    }
    RawSection *s = &rp->secs[rp->n_secs];
    memset(s, 0, sizeof *s);
    s->kind = (SecKind)kind_id;
    s->line = rp->line;
    if (words == 2 && !(s->name = txt_dup(name)))
        return raw_fail(rp, TS_ENOMEM, "out of memory", NULL, NULL);
    rp->n_secs++;
    return 0;
}

/* Checks a `key = value` line before libinih sees it. */
static int raw_key_line(RawParse *rp, const char *line)
{
    const char *eq = strchr(line, '=');
    const char *colon = strchr(line, ':');
    if (!eq && colon)
        return raw_fail(rp, TS_EINPUT,
                        "expected 'key = value': only '=' separates a key from its value", NULL,
                        NULL);
    if (!eq)
        return raw_fail(rp, TS_EINPUT, "expected 'key = value' or a [section] line, got '%s'",
                        line, NULL);
    if (colon && colon < eq)
        return raw_fail(rp, TS_EINPUT,
                        "expected 'key = value': only '=' separates a key from its value", NULL,
                        NULL);
    const char *k = line;
    while (k < eq && (*k == ' ' || *k == '\t'))
        k++;
    if (k == eq)
        return raw_fail(rp, TS_EINPUT, "missing key before '='", NULL, NULL);
    return 0;
}

/* Non-zero when the physical line start (n bytes) is blank or a comment: such lines never
 * reach any output, so they may hold any bytes. */
static int raw_comment_or_blank(const char *start, size_t n)
{
    size_t i = 0;
    while (i < n && (start[i] == ' ' || start[i] == '\t'))
        i++;
    return i == n || start[i] == ';' || start[i] == '#';
}

/* libinih's fgets-style reader: hands over one physical line at a time, so libinih's line
 * count and ours agree, after checking what libinih would accept but the contract does not. */
static char *raw_reader(char *str, int num, void *stream)
{
    RawParse *rp = stream;
    if (rp->failed || rp->pos >= rp->len)
        return NULL;
    const char *start = rp->text + rp->pos;
    const char *nl = memchr(start, '\n', rp->len - rp->pos);
    size_t n = nl ? (size_t)(nl - start) : rp->len - rp->pos;
    rp->pos += n + (nl ? 1 : 0);
    rp->line++;
    if (rp->line == 1 && n >= 3 && memcmp(start, "\xEF\xBB\xBF", 3) == 0) {
        start += 3;
        n -= 3;
    }
    if (n > 0 && start[n - 1] == '\r')
        n--;
    if (!raw_comment_or_blank(start, n)) {
        size_t ok = txt_inert_len(start, n);
        if (ok < n) {
            char byte[8], col[24];
            snprintf(byte, sizeof byte, "\\x%02x", (unsigned char)start[ok]);
            snprintf(col, sizeof col, "%zu", ok + 1);
            raw_fail(rp, TS_EINPUT,
                     (unsigned char)start[ok] >= 0x80
                         ? "byte %s at column %s is not printable UTF-8 (C1 control or invalid "
                           "sequence); text must be printable UTF-8"
                         : "control character %s at column %s; text must be printable UTF-8 "
                           "(tabs allowed)",
                     byte, col);
            return NULL;
        }
    }
    if (n > SCN_MAX_LINE) {
        char len[32];
        snprintf(len, sizeof len, "%zu", n);
        raw_fail(rp, TS_EINPUT, "line is %s characters long; at most 199 are allowed", len, NULL);
        return NULL;
    }
    if ((int)n + 1 > num) { /* cannot happen with libinih's 200-byte buffer; be safe */
        raw_fail(rp, TS_EINPUT, "line too long for the INI parser", NULL, NULL);
        return NULL;
    }
    memcpy(str, start, n);
    str[n] = '\0';
    const char *p = str;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0' || *p == ';' || *p == '#')
        return str;
    if (p != str) {
        raw_fail(rp, TS_EINPUT, "lines must not be indented (an indented line would continue "
                                "the previous value)", NULL, NULL);
        return NULL;
    }
    int rc = *p == '[' ? raw_section(rp, str) : raw_key_line(rp, str);
    return rc ? NULL : str;
}

static int raw_handler(void *user, const char *section, const char *name, const char *value)
{
    (void)section; /* our reader already knows the current section */
    RawParse *rp = user;
    if (rp->failed)
        return 0;
    if (rp->n_secs == 0) {
        raw_fail(rp, TS_EINPUT, "'%s' is outside any section; start with [scenario]", name,
                 NULL);
        return 0;
    }
    RawSection *s = &rp->secs[rp->n_secs - 1];
    for (int i = 0; i < s->n_kv; i++)
        if (strcmp(s->kv[i].key, name) == 0) {
            char first[32];
            snprintf(first, sizeof first, "%d", s->kv[i].line);
            raw_fail(rp, TS_EINPUT, "key '%s' given twice in one section (first at line %s)",
                     name, first);
            return 0;
        }
    if (s->n_kv >= SCN_MAX_KEYS) {
        raw_fail(rp, TS_EINPUT, "more than 200 keys in one section", NULL, NULL);
        return 0;
    }
    if (s->n_kv == s->cap_kv) {
        int cap = s->cap_kv ? s->cap_kv * 2 : 8;
        RawKV *p = realloc(s->kv, sizeof *p * (size_t)cap);
        if (!p) {
            raw_fail(rp, TS_ENOMEM, "out of memory", NULL, NULL);
            return 0;
        }
        s->kv = p;
        s->cap_kv = cap;
    }
    RawKV *kv = &s->kv[s->n_kv];
    kv->key = txt_dup(name);
    kv->value = txt_dup(value);
    kv->line = rp->line;
    if (!kv->key || !kv->value) {
        free(kv->key);
        free(kv->value);
        raw_fail(rp, TS_ENOMEM, "out of memory", NULL, NULL);
        return 0;
    }
    s->n_kv++;
    return 1;
}

static int raw_parse(RawParse *rp)
{
    int rc = ini_parse_stream(raw_reader, rp, raw_handler, rp);
    if (rp->failed)
        return rp->failed;
    if (rc > 0) {
        rp->line = rc;
        return raw_fail(rp, TS_EINPUT, "expected 'key = value' or a [section] line", NULL, NULL);
    }
    if (rc < 0)
        return raw_fail(rp, TS_ENOMEM, "the INI parser ran out of memory", NULL, NULL);
    return 0;
}

/* ---- pass two: values ------------------------------------------------------------------ */

typedef struct {
    Scenario *s;
    RawParse *rp;
    const ScnCatalogs *cats;
    TsErr *err;
    int models_only; /* a model file, not a scenario */
    char label[96];  /* the section of the value being parsed, for distribution labels */
} Ctx;

/* "FILE:LINE: " + message; returns TS_EINPUT. */
static int fail_at(Ctx *c, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail_at(Ctx *c, int line, const char *fmt, ...)
{
    char msg[TS_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ts_err_set(c->err, TS_EINPUT, "%s:%d: %s", c->s->path, line, msg);
}

static int warn_at(Ctx *c, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int warn_at(Ctx *c, const char *file, int line, const char *fmt, ...)
{
    char msg[TS_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char full[TS_ERR_MSG_MAX + 300];
    snprintf(full, sizeof full, "%s:%d: %s", file, line, msg);
    char **w = realloc(c->s->warnings, sizeof *w * (size_t)(c->s->n_warnings + 1));
    if (!w)
        return ts_err_set(c->err, TS_ENOMEM, "out of memory");
    c->s->warnings = w;
    if (!(w[c->s->n_warnings] = txt_dup(full)))
        return ts_err_set(c->err, TS_ENOMEM, "out of memory");
    c->s->n_warnings++;
    return 0;
}

static void describe_range(const KeySpec *k, char *buf, size_t size)
{
    int int_key = k->type == KT_INT;
    if (k->hi >= 1e6 && !int_key) {
        snprintf(buf, size, "%s %g", k->lo_open ? ">" : ">=", k->lo);
        return;
    }
    snprintf(buf, size, "in %c%.15g, %.15g%c", k->lo_open ? '(' : '[', k->lo, k->hi,
             k->hi_open ? ')' : ']');
}

static int is_distribution(const char *v)
{
    static const char *const dists[] = {"uniform", "normal", "lognormal", "triangular", "choice"};
    size_t n = 0;
    while (isalpha((unsigned char)v[n]))
        n++;
    const char *p = v + n;
    while (*p == ' ')
        p++;
    if (n == 0 || *p != '(')
        return 0;
    for (unsigned i = 0; i < sizeof dists / sizeof dists[0]; i++)
        if (strlen(dists[i]) == n && strncasecmp(v, dists[i], n) == 0)
            return 1;
    return 0;
}

/* Parses one value for key k. where = "FILE:LINE" of the value. Returns 0, or fills err. */
static int parse_value(Ctx *c, const KeySpec *k, const char *value, const char *where,
                       ScnVal *out)
{
    char range[96];
    switch (k->type) {
    case KT_TEXT:
        if (value[0] == '\0')
            return ts_err_set(c->err, TS_EINPUT, "%s: %s is empty", where, k->name);
        free(out->text);
        if (!(out->text = txt_dup(value)))
            return ts_err_set(c->err, TS_ENOMEM, "out of memory");
        return 0;
    case KT_BOOL: {
        static const char *const yes[] = {"true", "yes", "on", "1"};
        static const char *const no[] = {"false", "no", "off", "0"};
        for (int i = 0; i < 4; i++) {
            if (txt_eq_nocase(value, yes[i]) || txt_eq_nocase(value, no[i])) {
                out->num = txt_eq_nocase(value, yes[i]);
                free(out->text);
                if (!(out->text = txt_dup(out->num ? "true" : "false")))
                    return ts_err_set(c->err, TS_ENOMEM, "out of memory");
                return 0;
            }
        }
        return ts_err_set(c->err, TS_EINPUT, "%s: %s must be true or false, got '%s'", where,
                          k->name, value);
    }
    case KT_ENUM: {
        char buf[128];
        snprintf(buf, sizeof buf, "%s", k->choices);
        int idx = 0;
        for (char *tok = strtok(buf, "|"); tok; tok = strtok(NULL, "|"), idx++)
            if (txt_eq_nocase(value, tok)) {
                out->num = idx;
                free(out->text);
                if (!(out->text = txt_dup(tok)))
                    return ts_err_set(c->err, TS_ENOMEM, "out of memory");
                return 0;
            }
        char shown[128];
        snprintf(shown, sizeof shown, "%s", k->choices);
        for (char *p = shown; *p; p++)
            if (*p == '|')
                *p = ',';
        return ts_err_set(c->err, TS_EINPUT, "%s: %s must be one of %s, got '%s'", where,
                          k->name, shown, value);
    }
    case KT_NUM:
    case KT_INT: {
        if (is_distribution(value)) {
            if (k == &SCENARIO_KEYS[SK_SEED] || k == &SCENARIO_KEYS[SK_SAMPLES])
                return ts_err_set(c->err, TS_EINPUT, "%s: %s takes one number, not a "
                                                     "distribution", where, k->name);
            Dist d;
            char msg[300];
            if (dist_parse(value, k->type == KT_INT, &d, msg, sizeof msg))
                return ts_err_set(c->err, TS_EINPUT, "%s: %s: %s", where, k->name, msg);
            d.lo = k->lo;
            d.hi = k->hi;
            d.lo_open = k->lo_open;
            d.hi_open = k->hi_open;
            snprintf(d.label, sizeof d.label, "%.60s %.30s", c->label, k->name);
            double median = dist_median(&d);
            int clamped;
            if (dist_clamp(&d, median, &clamped), clamped) {
                describe_range(k, range, sizeof range);
                return ts_err_set(c->err, TS_EINPUT,
                                  "%s: %s: the median %g of '%s' is outside the valid range (%s)",
                                  where, k->name, median, value, range);
            }
            Dist *grown = realloc(c->s->dists, sizeof *grown * (size_t)(c->s->n_dists + 1));
            if (!grown)
                return ts_err_set(c->err, TS_ENOMEM, "out of memory");
            c->s->dists = grown;
            c->s->dists[c->s->n_dists++] = d;
            out->num = median;
            out->dist = c->s->n_dists;
            return 0;
        }
        double v;
        if (txt_parse_double(value, &v) != 0)
            return ts_err_set(c->err, TS_EINPUT, "%s: %s: expected a number, got '%s'", where,
                              k->name, value);
        if (k->type == KT_INT && v != floor(v))
            return ts_err_set(c->err, TS_EINPUT, "%s: %s: expected a whole number, got '%s'",
                              where, k->name, value);
        int bad = v < k->lo || v > k->hi || (k->lo_open && v == k->lo) ||
                  (k->hi_open && v == k->hi);
        if (bad) {
            describe_range(k, range, sizeof range);
            return ts_err_set(c->err, TS_EINPUT, "%s: %s must be %s, got %s", where, k->name,
                              range, value);
        }
        out->num = v;
        return 0;
    }
    }
    return ts_err_set(c->err, TS_EINTERNAL, "unknown key type");
}

static int key_index(const KeySpec *specs, int n, const char *key)
{
    for (int i = 0; i < n; i++)
        if (strcmp(specs[i].name, key) == 0)
            return i;
    return -1;
}

/* Applies a raw section's keys to vals (specs), or to extra_vals (extra specs) for keys that
 * are not in specs. Unknown keys fail with a suggestion. */
static int apply_section(Ctx *c, const RawSection *sec, const KeySpec *specs, int n,
                         ScnVal *vals, const KeySpec *extra, int n_extra, ScnVal *extra_vals)
{
    for (int i = 0; i < sec->n_kv; i++) {
        const RawKV *kv = &sec->kv[i];
        const KeySpec *spec;
        ScnVal *dst;
        int idx = key_index(specs, n, kv->key);
        if (idx >= 0) {
            spec = &specs[idx];
            dst = &vals[idx];
        } else if (extra && (idx = key_index(extra, n_extra, kv->key)) >= 0) {
            spec = &extra[idx];
            dst = &extra_vals[idx];
        } else {
            const char *names[FK_COUNT + CK_COUNT + 8];
            int m = 0;
            for (int j = 0; j < n; j++)
                names[m++] = specs[j].name;
            for (int j = 0; j < n_extra; j++)
                names[m++] = extra[j].name;
            const char *near = txt_nearest(kv->key, names, (size_t)m);
            char title[80];
            snprintf(title, sizeof title, "%s%s%s", SEC_NAMES[sec->kind], sec->name ? " " : "",
                     sec->name ? sec->name : "");
            if (near)
                return fail_at(c, kv->line, "unknown key '%s' in [%s]; did you mean '%s'?",
                               kv->key, title, near);
            return fail_at(c, kv->line, "unknown key '%s' in [%s]", kv->key, title);
        }
        char where[600];
        snprintf(where, sizeof where, "%s:%d", c->s->path, kv->line);
        snprintf(c->label, sizeof c->label, "[%s%s%.48s]", SEC_NAMES[sec->kind],
                 sec->name ? " " : "", sec->name ? sec->name : "");
        dst->dist = 0;
        if (parse_value(c, spec, kv->value, where, dst))
            return c->err->code;
        dst->origin = ORIG_FILE;
        dst->line = kv->line;
        dst->cat = NULL;
    }
    return 0;
}

/* Fills vals from row `row` of a catalog table, for the keys of specs present as columns. */
static int apply_catalog(Ctx *c, const CatTable *t, int row, const KeySpec *specs, int n,
                         ScnVal *vals)
{
    for (int i = 0; i < n; i++) {
        const char *cell = cat_cell(t, row, specs[i].name);
        if (!cell[0])
            continue;
        char where[600];
        snprintf(where, sizeof where, "%s:%d", t->path, t->lines[row]);
        if (parse_value(c, &specs[i], cell, where, &vals[i]))
            return c->err->code;
        vals[i].origin = ORIG_CATALOG;
        vals[i].line = t->lines[row];
        vals[i].cat = t;
        vals[i].cat_row = row;
    }
    return 0;
}

static void set_default(ScnVal *v, double num)
{
    if (v->origin != ORIG_NONE)
        return;
    v->origin = ORIG_DEFAULT;
    v->num = num;
}

/* A default for a text-valued key (an enum or bool): its number and its canonical text. */
static int set_default_text(Ctx *c, ScnVal *v, double num, const char *text)
{
    if (v->origin != ORIG_NONE)
        return 0;
    set_default(v, num);
    if (!(v->text = txt_dup(text)))
        return ts_err_set(c->err, TS_ENOMEM, "out of memory");
    return 0;
}

static int has(const ScnVal *v)
{
    return v->origin != ORIG_NONE;
}

static void vals_free(ScnVal *vals, int n)
{
    for (int i = 0; i < n; i++) {
        free(vals[i].text);
        vals[i].text = NULL;
    }
}

/* Copies b's values over a's where b has them (text is duplicated). */
static int vals_overlay(Ctx *c, ScnVal *a, const ScnVal *b, int n)
{
    for (int i = 0; i < n; i++) {
        if (!has(&b[i]))
            continue;
        free(a[i].text);
        a[i] = b[i];
        a[i].text = NULL;
        if (b[i].text && !(a[i].text = txt_dup(b[i].text)))
            return ts_err_set(c->err, TS_ENOMEM, "out of memory");
    }
    return 0;
}

const char *scn_origin(const ScnVal *v, char *buf, int size)
{
    switch (v->origin) {
    case ORIG_FILE:
        snprintf(buf, (size_t)size, "line %d", v->line);
        break;
    case ORIG_CATALOG: {
        const char *p = v->cat ? strrchr(v->cat->path, '/') : NULL;
        snprintf(buf, (size_t)size, "%s:%d", p ? p + 1 : (v->cat ? v->cat->path : "catalog"),
                 v->line);
        break;
    }
    case ORIG_DEFAULT:
        snprintf(buf, (size_t)size, "default");
        break;
    case ORIG_DERIVED:
        snprintf(buf, (size_t)size, "derived");
        break;
    case ORIG_PRESET:
        snprintf(buf, (size_t)size, "engine preset");
        break;
    case ORIG_MEASURED:
        snprintf(buf, (size_t)size, "measure run %d", v->line);
        break;
    default:
        snprintf(buf, (size_t)size, "-");
    }
    return buf;
}

/* ---- catalogs ---------------------------------------------------------------------------- */

static const char *const CAT_TEXT_COLS[] = {"name", "source", "as_of", "confidence", "notes"};

static int load_one(CatTable *t, const char *dir, const char *file, const KeySpec *specs, int n,
                    const char *const *more, int n_more, TsErr *err)
{
    const char *cols[64];
    const char *nums[64];
    int nc = 0, nn = 0;
    for (int i = 0; i < 5; i++)
        cols[nc++] = CAT_TEXT_COLS[i];
    for (int i = 0; i < n_more; i++)
        cols[nc++] = more[i];
    for (int i = 0; i < n; i++) {
        cols[nc++] = specs[i].name;
        if (specs[i].type == KT_NUM || specs[i].type == KT_INT)
            nums[nn++] = specs[i].name;
    }
    CatSchema sc = {cols, nc, nums, nn};
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    return cat_table_load(t, path, &sc, err);
}

int scn_catalogs_load(ScnCatalogs *c, const char *dir, TsErr *err)
{
    memset(c, 0, sizeof *c);
    static const char *const region[] = {"region"};
    static const char *const provider[] = {"provider"};
    static const KeySpec elec[] = {NUM("usd_per_kwh", 0, 100)};
    int rc;
    if ((rc = load_one(&c->chips, dir, "chips.csv", CHIP_KEYS, CK_COUNT, NULL, 0, err)) ||
        (rc = load_one(&c->models, dir, "models.csv", MODEL_KEYS, MK_COUNT, NULL, 0, err)) ||
        (rc = load_one(&c->electricity, dir, "electricity.csv", elec, 1, region, 1, err)) ||
        (rc = load_one(&c->api_prices, dir, "api_prices.csv", PRICING_KEYS, PK_COUNT, provider,
                       1, err))) {
        scn_catalogs_fini(c);
        return rc;
    }
    if (!(c->dir = txt_dup(dir))) {
        scn_catalogs_fini(c);
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    }
    return 0;
}

void scn_catalogs_fini(ScnCatalogs *c)
{
    if (!c)
        return;
    cat_table_fini(&c->chips);
    cat_table_fini(&c->models);
    cat_table_fini(&c->electricity);
    cat_table_fini(&c->api_prices);
    free(c->dir);
    c->dir = NULL;
}

/* ---- resolution -------------------------------------------------------------------------- */

static const RawSection *find_section(const RawParse *rp, SecKind kind, const char *name)
{
    for (int i = 0; i < rp->n_secs; i++) {
        const RawSection *s = &rp->secs[i];
        if (s->kind != kind)
            continue;
        if (!name && !s->name)
            return s;
        if (name && s->name && txt_eq_nocase(name, s->name))
            return s;
    }
    return NULL;
}

/* Suggests among the names of a section kind and a catalog's rows. */
static const char *suggest(const RawParse *rp, SecKind kind, const CatTable *t, const char *name)
{
    const char *cands[SCN_MAX_SECTIONS + 1];
    int n = 0;
    for (int i = 0; i < rp->n_secs && n < SCN_MAX_SECTIONS; i++)
        if (rp->secs[i].kind == kind && rp->secs[i].name)
            cands[n++] = rp->secs[i].name;
    const char *a = txt_nearest(name, cands, (size_t)n);
    const char *b = t ? cat_suggest(t, name) : NULL;
    if (a && b)
        return txt_edit_distance(name, a) <= txt_edit_distance(name, b) ? a : b;
    return a ? a : b;
}

static int check_sections(Ctx *c)
{
    const RawParse *rp = c->rp;
    for (int i = 0; i < rp->n_secs; i++) {
        const RawSection *s = &rp->secs[i];
        for (int j = 0; j < i; j++) {
            const RawSection *o = &rp->secs[j];
            if (o->kind != s->kind)
                continue;
            int same = (!o->name && !s->name) ||
                       (o->name && s->name && txt_eq_nocase(o->name, s->name));
            if (same)
                return fail_at(c, s->line, "duplicate [%s%s%s] (first at line %d)",
                               SEC_NAMES[s->kind], s->name ? " " : "", s->name ? s->name : "",
                               o->line);
        }
    }
    if (!find_section(rp, SEC_SCENARIO, NULL))
        return fail_at(c, rp->n_secs ? rp->secs[0].line : 1, "missing [scenario] section");
    if (!find_section(rp, SEC_WORKLOAD, NULL))
        return fail_at(c, find_section(rp, SEC_SCENARIO, NULL)->line,
                       "missing [workload] section");
    int fleets = 0;
    for (int i = 0; i < rp->n_secs; i++)
        fleets += rp->secs[i].kind == SEC_FLEET;
    if (fleets == 0)
        return fail_at(c, find_section(rp, SEC_SCENARIO, NULL)->line,
                       "no [fleet NAME] section: a scenario prices at least one fleet");
    return 0;
}

static int resolve_scenario(Ctx *c)
{
    const RawSection *sec = find_section(c->rp, SEC_SCENARIO, NULL);
    if (apply_section(c, sec, SCENARIO_KEYS, SK_COUNT, c->s->sc, NULL, 0, NULL))
        return c->err->code;
    if (!has(&c->s->sc[SK_NAME]))
        return fail_at(c, sec->line, "[scenario] needs name = ...");
    set_default(&c->s->sc[SK_SEED], 1);
    set_default(&c->s->sc[SK_SAMPLES], 10000);
    set_default(&c->s->sc[SK_HOURS], 24);
    return 0;
}

/* Finds or adds the model called name; *out is its index. line: where it is referenced. */
static int resolve_model(Ctx *c, const char *name, int line, int *out)
{
    Scenario *s = c->s;
    for (int i = 0; i < s->n_models; i++)
        if (txt_eq_nocase(s->models[i].name, name)) {
            *out = i;
            return 0;
        }
    const RawSection *sec = find_section(c->rp, SEC_MODEL, name);
    int row = cat_find_row(&c->cats->models, name);
    EngineConfig preset;
    TsErr ignored;
    int is_preset = !sec && row < 0 && cfg_preset(name, &preset, &ignored) == 0;
    if (!sec && row < 0 && !is_preset) {
        const char *near = suggest(c->rp, SEC_MODEL, &c->cats->models, name);
        if (near)
            return fail_at(c, line, "unknown model '%s'; did you mean '%s'?", name, near);
        return fail_at(c, line, "unknown model '%s': define it in a [model %s] section or add it "
                                "to models.csv", name, name);
    }
    ScnModel *m = realloc(s->models, sizeof *m * (size_t)(s->n_models + 1));
    if (!m)
        return ts_err_set(c->err, TS_ENOMEM, "out of memory");
    s->models = m;
    m = &s->models[s->n_models];
    memset(m, 0, sizeof *m);
    m->cat_row = row;
    m->line = sec ? sec->line : 0;
    m->name = txt_dup(is_preset ? preset.name
                                : row >= 0 ? cat_cell(&c->cats->models, row, "name") : sec->name);
    s->n_models++;
    if (!m->name)
        return ts_err_set(c->err, TS_ENOMEM, "out of memory");
    if (is_preset) {
        /* the engine runs presets in fp32: 4 bytes per weight and per KV element */
        const ModelShape *sh = &preset.shape;
        long vals[] = {sh->layers, sh->d_model, sh->heads, sh->kv_heads, sh->head_dim, sh->ffn,
                       sh->experts, sh->experts_active, sh->shared_experts, sh->expert_ffn,
                       sh->dense_layers, 0, 0, 0, 0, 0, sh->vocab};
        for (int k = MK_LAYERS; k <= MK_VOCAB; k++) {
            m->v[k].origin = ORIG_PRESET;
            m->v[k].num = (double)vals[k - MK_LAYERS];
        }
        m->v[MK_WEIGHT_BYTES] = (ScnVal){.origin = ORIG_PRESET, .num = 4};
        m->v[MK_KV_BYTES] = (ScnVal){.origin = ORIG_PRESET, .num = 4};
        m->v[MK_MAX_SEQ] = (ScnVal){.origin = ORIG_PRESET, .num = preset.max_seq};
    }
    if (row >= 0 && apply_catalog(c, &c->cats->models, row, MODEL_KEYS, MK_COUNT, m->v))
        return c->err->code;
    if (sec && apply_section(c, sec, MODEL_KEYS, MK_COUNT, m->v, NULL, 0, NULL))
        return c->err->code;
    set_default(&m->v[MK_WEIGHT_BYTES], 2);
    set_default(&m->v[MK_KV_BYTES], 2);
    set_default(&m->v[MK_MTP_DEPTH], 0);

    /* Where to point errors about this model: its section, else its catalog row. */
    char where[600];
    if (sec)
        snprintf(where, sizeof where, "%s:%d", s->path, sec->line);
    else if (row >= 0)
        snprintf(where, sizeof where, "%s:%d", c->cats->models.path,
                 c->cats->models.lines[row]);
    else
        snprintf(where, sizeof where, "%s:%d", s->path, line);

    static const ModelKey core[] = {MK_LAYERS, MK_D_MODEL, MK_HEADS, MK_VOCAB};
    int n_core = 0;
    for (int i = 0; i < 4; i++)
        n_core += has(&m->v[core[i]]);
    if (n_core > 0 && n_core < 4) {
        for (int i = 0; i < 4; i++)
            if (!has(&m->v[core[i]]))
                return ts_err_set(c->err, TS_EINPUT,
                                  "%s: model '%s': incomplete shape, missing %s (give layers, "
                                  "d_model, heads, vocab and ffn or experts; or only "
                                  "params_active)",
                                  where, m->name, MODEL_KEYS[core[i]].name);
    }
    if (n_core == 4) {
        ModelShape *sh = &m->shape;
        long *dst[] = {&sh->layers, &sh->d_model, &sh->heads, &sh->kv_heads, &sh->head_dim,
                       &sh->ffn, &sh->experts, &sh->experts_active, &sh->shared_experts,
                       &sh->expert_ffn, &sh->dense_layers, &sh->kv_lora_rank, &sh->q_lora_rank,
                       &sh->rope_dim, &sh->qk_nope_dim, &sh->v_head_dim, &sh->vocab};
        for (int k = MK_LAYERS; k <= MK_VOCAB; k++)
            *dst[k - MK_LAYERS] = has(&m->v[k]) ? (long)m->v[k].num : 0;
        if (sh->kv_lora_rank == 0) {
            if (!has(&m->v[MK_HEAD_DIM])) {
                if (sh->d_model % sh->heads != 0)
                    return ts_err_set(c->err, TS_EINPUT,
                                      "%s: model '%s': d_model %ld is not a multiple of heads "
                                      "%ld; give head_dim",
                                      where, m->name, sh->d_model, sh->heads);
                sh->head_dim = sh->d_model / sh->heads;
                m->v[MK_HEAD_DIM].origin = ORIG_DERIVED;
                m->v[MK_HEAD_DIM].num = (double)sh->head_dim;
            }
            if (!has(&m->v[MK_KV_HEADS])) {
                sh->kv_heads = sh->heads;
                m->v[MK_KV_HEADS].origin = ORIG_DERIVED;
                m->v[MK_KV_HEADS].num = (double)sh->heads;
            }
        }
        TsErr e;
        ts_err_clear(&e);
        if (shape_check(sh, &e))
            return ts_err_set(c->err, TS_EINPUT, "%s: model '%s': %s", where, m->name, e.msg);
        shape_params(sh, &m->params);
        m->has_shape = 1;
        m->params_total = m->params.total;
        m->params_active = m->params.active;
        static const ModelKey counts[] = {MK_PARAMS_TOTAL, MK_PARAMS_ACTIVE};
        double computed[] = {m->params.total, m->params.active};
        for (int i = 0; i < 2; i++) {
            const ScnVal *v = &m->v[counts[i]];
            if (!has(v))
                continue;
            double off = fabs(v->num - computed[i]) / computed[i];
            if (off > 0.02) {
                const char *file = v->origin == ORIG_FILE ? s->path : v->cat->path;
                if (warn_at(c, file, v->line,
                            "model '%s': %s %.4g is %.1f%% away from %.4g computed from the "
                            "shape; the shape wins",
                            m->name, MODEL_KEYS[counts[i]].name, v->num, off * 100.0,
                            computed[i]))
                    return c->err->code;
            }
        }
    } else {
        m->params_active = has(&m->v[MK_PARAMS_ACTIVE]) ? m->v[MK_PARAMS_ACTIVE].num : 0;
        m->params_total = has(&m->v[MK_PARAMS_TOTAL]) ? m->v[MK_PARAMS_TOTAL].num
                                                      : m->params_active;
    }
    *out = s->n_models - 1;
    return 0;
}

static int resolve_workload(Ctx *c)
{
    Scenario *s = c->s;
    const RawSection *sec = find_section(c->rp, SEC_WORKLOAD, NULL);
    s->workload_line = sec->line;
    if (apply_section(c, sec, WORKLOAD_KEYS, WK_COUNT, s->wl, NULL, 0, NULL))
        return c->err->code;
    ScnVal *w = s->wl;
    int by_req = has(&w[WK_REQUESTS_PER_DAY]);
    int per_req = has(&w[WK_INPUT_TOKENS_PER_REQUEST]) || has(&w[WK_OUTPUT_TOKENS_PER_REQUEST]);
    int per_day = has(&w[WK_INPUT_TOKENS_PER_DAY]) || has(&w[WK_OUTPUT_TOKENS_PER_DAY]);
    if (by_req && per_day)
        return fail_at(c, w[WK_REQUESTS_PER_DAY].line,
                       "give tokens per day or requests_per_day with tokens per request, not "
                       "both");
    if (per_req && !by_req)
        return fail_at(c, sec->line,
                       "tokens per request need requests_per_day (or give "
                       "input_tokens_per_day and output_tokens_per_day)");
    if (by_req && !per_req)
        return fail_at(c, w[WK_REQUESTS_PER_DAY].line,
                       "requests_per_day needs input_tokens_per_request and/or "
                       "output_tokens_per_request");
    set_default(&w[WK_CACHE_HIT_RATE], 0);
    double in_t, out_t;
    if (by_req) {
        set_default(&w[WK_INPUT_TOKENS_PER_REQUEST], 0);
        set_default(&w[WK_OUTPUT_TOKENS_PER_REQUEST], 0);
        in_t = w[WK_REQUESTS_PER_DAY].num * w[WK_INPUT_TOKENS_PER_REQUEST].num;
        out_t = w[WK_REQUESTS_PER_DAY].num * w[WK_OUTPUT_TOKENS_PER_REQUEST].num;
        if (!has(&w[WK_PROMPT_TOKENS]) && w[WK_INPUT_TOKENS_PER_REQUEST].num >= 1) {
            w[WK_PROMPT_TOKENS].origin = ORIG_DERIVED;
            w[WK_PROMPT_TOKENS].num = w[WK_INPUT_TOKENS_PER_REQUEST].num;
        }
        if (!has(&w[WK_CONTEXT_TOKENS])) {
            w[WK_CONTEXT_TOKENS].origin = ORIG_DERIVED;
            w[WK_CONTEXT_TOKENS].num = (has(&w[WK_PROMPT_TOKENS]) ? w[WK_PROMPT_TOKENS].num : 0) +
                                       w[WK_OUTPUT_TOKENS_PER_REQUEST].num / 2.0;
        }
    } else {
        set_default(&w[WK_INPUT_TOKENS_PER_DAY], 0);
        set_default(&w[WK_OUTPUT_TOKENS_PER_DAY], 0);
        in_t = w[WK_INPUT_TOKENS_PER_DAY].num;
        out_t = w[WK_OUTPUT_TOKENS_PER_DAY].num;
        if (!has(&w[WK_CONTEXT_TOKENS]) && has(&w[WK_PROMPT_TOKENS])) {
            w[WK_CONTEXT_TOKENS].origin = ORIG_DERIVED;
            w[WK_CONTEXT_TOKENS].num = w[WK_PROMPT_TOKENS].num;
        }
    }
    if (!(in_t * (1.0 - w[WK_CACHE_HIT_RATE].num) > 0.0 || out_t > 0.0))
        return fail_at(c, sec->line,
                       "the workload has no tokens to compute: give output tokens, or input "
                       "tokens that are not all cache hits");
    return 0;
}

/* Per-window token totals of the workload. */
static void workload_tokens(const Scenario *s, double *in_t, double *out_t)
{
    const ScnVal *w = s->wl;
    if (has(&w[WK_REQUESTS_PER_DAY])) {
        *in_t = w[WK_REQUESTS_PER_DAY].num * w[WK_INPUT_TOKENS_PER_REQUEST].num;
        *out_t = w[WK_REQUESTS_PER_DAY].num * w[WK_OUTPUT_TOKENS_PER_REQUEST].num;
    } else {
        *in_t = w[WK_INPUT_TOKENS_PER_DAY].num;
        *out_t = w[WK_OUTPUT_TOKENS_PER_DAY].num;
    }
}

static int resolve_chip(Ctx *c, ScnFleet *f)
{
    const ScnVal *cv = &f->v[FK_CHIP];
    const char *name = cv->text;
    const RawSection *sec = find_section(c->rp, SEC_CHIP, name);
    int row = cat_find_row(&c->cats->chips, name);
    f->this_machine = txt_eq_nocase(name, "this-machine");
    if (!sec && row < 0 && !f->this_machine) {
        const char *near = suggest(c->rp, SEC_CHIP, &c->cats->chips, name);
        if (near)
            return fail_at(c, cv->line, "unknown chip '%s'; did you mean '%s'?", name, near);
        return fail_at(c, cv->line,
                       "unknown chip '%s': define it in a [chip %s] section or add it to "
                       "chips.csv",
                       name, name);
    }
    ScnChip *ch = &f->chip;
    ch->cat_row = row;
    ch->line = sec ? sec->line : 0;
    ch->name = txt_dup(row >= 0 ? cat_cell(&c->cats->chips, row, "name")
                       : sec   ? sec->name
                               : "this-machine");
    if (!ch->name)
        return ts_err_set(c->err, TS_ENOMEM, "out of memory");
    if (row >= 0 && apply_catalog(c, &c->cats->chips, row, CHIP_KEYS, CK_COUNT, ch->v))
        return c->err->code;
    if (sec && apply_section(c, sec, CHIP_KEYS, CK_COUNT, ch->v, NULL, 0, NULL))
        return c->err->code;
    return vals_overlay(c, ch->v, f->chip_over, CK_COUNT);
}

static int resolve_pricing(Ctx *c, ScnFleet *f)
{
    Scenario *s = c->s;
    const ScnVal *pv = &f->v[FK_PRICING];
    const RawSection *sec;
    int row = -1;
    const char *name;
    if (has(pv)) {
        name = pv->text;
        sec = find_section(c->rp, SEC_PRICING, name);
        if (!sec && (row = cat_find_row(&c->cats->api_prices, name)) < 0) {
            const char *near = suggest(c->rp, SEC_PRICING, &c->cats->api_prices, name);
            if (near)
                return fail_at(c, pv->line, "unknown pricing '%s'; did you mean '%s'?", name,
                               near);
            return fail_at(c, pv->line,
                           "unknown pricing '%s': define a [pricing %s] section or use an "
                           "api_prices.csv row",
                           name, name);
        }
        if (row >= 0)
            name = cat_cell(&c->cats->api_prices, row, "name");
    } else {
        sec = find_section(c->rp, SEC_PRICING, NULL);
        if (!sec) {
            f->pricing = -1;
            return 0;
        }
        name = "";
    }
    for (int i = 0; i < s->n_pricings; i++)
        if (txt_eq_nocase(s->pricings[i].name, name)) {
            f->pricing = i;
            return 0;
        }
    ScnPricing *p = realloc(s->pricings, sizeof *p * (size_t)(s->n_pricings + 1));
    if (!p)
        return ts_err_set(c->err, TS_ENOMEM, "out of memory");
    s->pricings = p;
    p = &s->pricings[s->n_pricings++];
    memset(p, 0, sizeof *p);
    p->cat_row = row;
    p->line = sec ? sec->line : 0;
    if (!(p->name = txt_dup(name)))
        return ts_err_set(c->err, TS_ENOMEM, "out of memory");
    if (row >= 0 && apply_catalog(c, &c->cats->api_prices, row, PRICING_KEYS, PK_COUNT, p->v))
        return c->err->code;
    if (sec && apply_section(c, sec, PRICING_KEYS, PK_COUNT, p->v, NULL, 0, NULL))
        return c->err->code;
    int at = sec ? sec->line : pv->line;
    if (!has(&p->v[PK_USD_PER_M_INPUT]) || !has(&p->v[PK_USD_PER_M_OUTPUT]))
        return fail_at(c, at, "pricing '%s' needs usd_per_m_input and usd_per_m_output",
                       name[0] ? name : "(unnamed)");
    f->pricing = s->n_pricings - 1;
    return 0;
}

static int resolve_fleet(Ctx *c, const RawSection *sec, ScnFleet *f)
{
    Scenario *s = c->s;
    f->line = sec->line;
    f->pricing = -1;
    f->elec_row = -1;
    if (!(f->name = txt_dup(sec->name)))
        return ts_err_set(c->err, TS_ENOMEM, "out of memory");
    if (apply_section(c, sec, FLEET_KEYS, FK_COUNT, f->v, CHIP_KEYS, CK_COUNT, f->chip_over))
        return c->err->code;
    ScnVal *v = f->v;
    const char *fn = f->name;

    if (!has(&v[FK_CHIP]))
        return fail_at(c, sec->line, "fleet '%s' needs chip = NAME", fn);
    if (resolve_chip(c, f))
        return c->err->code;
    const char *model_name = has(&v[FK_MODEL]) ? v[FK_MODEL].text : s->wl[WK_MODEL].text;
    int model_line = has(&v[FK_MODEL]) ? v[FK_MODEL].line : s->wl[WK_MODEL].line;
    if (!model_name)
        return fail_at(c, s->workload_line,
                       "no model for fleet '%s': set model = NAME in [workload] or the fleet",
                       fn);
    if (resolve_model(c, model_name, model_line, &f->model))
        return c->err->code;
    if (resolve_pricing(c, f))
        return c->err->code;

    set_default(&v[FK_CHIPS_PER_INSTANCE], 1);
    if (set_default_text(c, &v[FK_COST], 0, "own") ||
        set_default_text(c, &v[FK_RENT_INCLUDES_POWER], 1, "true"))
        return c->err->code;
    set_default(&v[FK_SERVER_OVERHEAD], 0);
    set_default(&v[FK_YEARS], 4);
    set_default(&v[FK_INTEREST_RATE], 0.08);
    set_default(&v[FK_HOSTING_USD_PER_KW_MONTH], 0);
    set_default(&v[FK_PUE], 1);
    set_default(&v[FK_UTILIZATION], 1);
    f->rent = v[FK_COST].num == 1;

    if (has(&v[FK_CHIPS]) && fmod(v[FK_CHIPS].num, v[FK_CHIPS_PER_INSTANCE].num) != 0)
        return fail_at(c, v[FK_CHIPS].line,
                       "fleet '%s': chips = %.0f is not a multiple of chips_per_instance = %.0f",
                       fn, v[FK_CHIPS].num, v[FK_CHIPS_PER_INSTANCE].num);

    /* Electricity. */
    if (has(&v[FK_USD_PER_KWH]) && has(&v[FK_ELECTRICITY]))
        return fail_at(c, v[FK_ELECTRICITY].line,
                       "fleet '%s': give usd_per_kwh or electricity, not both", fn);
    if (has(&v[FK_ELECTRICITY])) {
        const CatTable *et = &c->cats->electricity;
        int row = cat_find_row(et, v[FK_ELECTRICITY].text);
        if (row < 0) {
            const char *near = cat_suggest(et, v[FK_ELECTRICITY].text);
            if (near)
                return fail_at(c, v[FK_ELECTRICITY].line,
                               "unknown electricity '%s'; did you mean '%s'?",
                               v[FK_ELECTRICITY].text, near);
            return fail_at(c, v[FK_ELECTRICITY].line,
                           "unknown electricity '%s' (see electricity.csv)",
                           v[FK_ELECTRICITY].text);
        }
        static const KeySpec elec = NUM("usd_per_kwh", 0, 100);
        if (apply_catalog(c, et, row, &elec, 1, &v[FK_USD_PER_KWH]))
            return c->err->code;
        f->elec_row = row;
    }
    int power_in_rent = f->rent && v[FK_RENT_INCLUDES_POWER].num != 0;
    if (!has(&v[FK_USD_PER_KWH]) && !power_in_rent)
        return fail_at(c, sec->line,
                       "fleet '%s' needs an electricity price: usd_per_kwh = N or electricity = "
                       "NAME%s",
                       fn, f->rent ? " (it rents with rent_includes_power = false)" : "");

    /* Cost mode. */
    ScnVal *cv = f->chip.v;
    if (f->rent && !has(&cv[CK_RENT_USD_PER_CHIP_HOUR]))
        return fail_at(c, has(&v[FK_COST]) ? v[FK_COST].line : sec->line,
                       "fleet '%s': cost = rent needs rent_usd_per_chip_hour (chip '%s' has "
                       "none)",
                       fn, f->chip.name);
    if (!f->rent && !has(&cv[CK_PRICE_USD]))
        return fail_at(c, sec->line,
                       "fleet '%s': cost = own needs price_usd per chip (chip '%s' has none); "
                       "set price_usd or use cost = rent",
                       fn, f->chip.name);

    /* Throughput mode and what it needs. */
    int declared = has(&v[FK_DECODE_TOK_S_PER_CHIP]) || has(&v[FK_PREFILL_TOK_S_PER_CHIP]);
    if (has(&v[FK_THROUGHPUT]))
        f->throughput = (ThroughputMode)(int)v[FK_THROUGHPUT].num;
    else
        f->throughput = declared ? THR_DECLARED : has(&v[FK_MFU]) ? THR_MFU : THR_ROOFLINE;
    int tline = has(&v[FK_THROUGHPUT]) ? v[FK_THROUGHPUT].line : sec->line;
    if (f->this_machine && f->throughput != THR_MEASURED)
        return fail_at(c, tline,
                       "fleet '%s': chip = this-machine needs throughput = measured (its figures "
                       "come from a measure run)",
                       fn);

    /* Power (measured fleets get theirs from the measure run, unless declared). */
    if (f->throughput == THR_MEASURED) {
        if (has(&v[FK_POWER_W_PER_CHIP]))
            f->energy_source = "declared";
    } else {
        /* Power: declared, else the chip's all-in share, else its board power. */
        if (has(&v[FK_POWER_W_PER_CHIP])) {
            f->energy_source = "declared";
        } else if (has(&cv[CK_ALL_IN_W])) {
            f->energy_source = "catalog:all_in_w";
            v[FK_POWER_W_PER_CHIP] = cv[CK_ALL_IN_W];
            v[FK_POWER_W_PER_CHIP].text = NULL;
        } else if (has(&cv[CK_TDP_W])) {
            f->energy_source = "catalog:tdp_w";
            v[FK_POWER_W_PER_CHIP] = cv[CK_TDP_W];
            v[FK_POWER_W_PER_CHIP].text = NULL;
        } else {
            return fail_at(c, sec->line,
                           "fleet '%s': chip '%s' has no all_in_w or tdp_w; set power_w_per_chip",
                           fn, f->chip.name);
        }
        set_default(&v[FK_POWER_LOAD], 1);
        if (!has(&v[FK_IDLE_W_PER_CHIP])) {
            if (has(&cv[CK_IDLE_W])) {
                v[FK_IDLE_W_PER_CHIP] = cv[CK_IDLE_W];
                v[FK_IDLE_W_PER_CHIP].text = NULL;
                f->idle_from_chip = 1;
            } else {
                v[FK_IDLE_W_PER_CHIP].origin = ORIG_DERIVED;
                v[FK_IDLE_W_PER_CHIP].num = 0.3 * v[FK_POWER_W_PER_CHIP].num;
            }
        }
    }
    double in_t, out_t;
    workload_tokens(s, &in_t, &out_t);
    int need_prefill = in_t * (1.0 - s->wl[WK_CACHE_HIT_RATE].num) > 0.0;
    int need_decode = out_t > 0.0;
    const ScnModel *m = &s->models[f->model];
    switch (f->throughput) {
    case THR_DECLARED:
        if (need_decode && !has(&v[FK_DECODE_TOK_S_PER_CHIP]))
            return fail_at(c, tline,
                           "fleet '%s': throughput = declared needs decode_tok_s_per_chip (the "
                           "workload has output tokens)",
                           fn);
        if (need_prefill && !has(&v[FK_PREFILL_TOK_S_PER_CHIP]))
            return fail_at(c, tline,
                           "fleet '%s': throughput = declared needs prefill_tok_s_per_chip (the "
                           "workload has input tokens to prefill)",
                           fn);
        break;
    case THR_MFU:
        if (!has(&v[FK_MFU]))
            return fail_at(c, tline, "fleet '%s': throughput = mfu needs mfu = SHARE", fn);
        if (!has(&v[FK_MFU_PREFILL])) {
            v[FK_MFU_PREFILL] = v[FK_MFU]; /* the same value, distribution included */
            v[FK_MFU_PREFILL].origin = ORIG_DEFAULT;
            v[FK_MFU_PREFILL].text = NULL;
            f->mfu_prefill_from_mfu = 1;
        }
        if (!m->has_shape && m->params_active <= 0)
            return fail_at(c, model_line,
                           "model '%s' has neither a shape nor params_active; mfu throughput "
                           "needs one",
                           m->name);
        if (!has(&cv[CK_BF16_TFLOPS]) &&
            !(m->v[MK_WEIGHT_BYTES].num == 1 && has(&cv[CK_FP8_TFLOPS])))
            return fail_at(c, tline, "fleet '%s': chip '%s' has no bf16_tflops; mfu needs it",
                           fn, f->chip.name);
        if (m->has_shape && need_prefill && !has(&s->wl[WK_PROMPT_TOKENS]))
            if (warn_at(c, s->path, s->workload_line,
                        "no prompt_tokens: prefill FLOPs leave out the output head and "
                        "attention"))
                return c->err->code;
        if (m->has_shape && need_decode && !has(&s->wl[WK_CONTEXT_TOKENS]))
            if (warn_at(c, s->path, s->workload_line,
                        "no context_tokens: decode FLOPs leave out attention over the context"))
                return c->err->code;
        break;
    case THR_ROOFLINE: {
        if (!m->has_shape)
            return fail_at(c, tline,
                           "fleet '%s': throughput = roofline needs model '%s' with a full shape "
                           "(layers, d_model, heads, vocab, ffn or experts); or give "
                           "decode_tok_s_per_chip (declared) or mfu",
                           fn, m->name);
        int fp8 = m->v[MK_WEIGHT_BYTES].num == 1 && has(&cv[CK_FP8_TFLOPS]);
        static const ChipKey needed[] = {CK_HBM_GB, CK_HBM_TB_S};
        if (!fp8 && !has(&cv[CK_BF16_TFLOPS]))
            return fail_at(c, tline, "fleet '%s': chip '%s' has no bf16_tflops; roofline needs it",
                           fn, f->chip.name);
        for (int k = 0; k < 2; k++)
            if (!has(&cv[needed[k]]) || cv[needed[k]].num <= 0)
                return fail_at(c, tline, "fleet '%s': chip '%s' has no %s; roofline needs it",
                               fn, f->chip.name, CHIP_KEYS[needed[k]].name);
        if (need_decode && !has(&s->wl[WK_CONTEXT_TOKENS]))
            return fail_at(c, s->workload_line,
                           "throughput = roofline (fleet '%s') needs context_tokens (the average "
                           "KV length while decoding) or requests with tokens per request",
                           fn);
        if (need_prefill && !has(&s->wl[WK_PROMPT_TOKENS]))
            return fail_at(c, s->workload_line,
                           "throughput = roofline (fleet '%s') needs prompt_tokens to price "
                           "prefill, or requests with tokens per request",
                           fn);
        if (m->v[MK_MTP_DEPTH].num > 0 && !has(&m->v[MK_MTP_ACCEPTANCE]))
            return fail_at(c, m->line > 0 ? m->line : tline,
                           "model '%s': mtp_depth > 0 needs mtp_acceptance (the share of drafts "
                           "accepted)",
                           m->name);
        set_default(&v[FK_EFF_COMPUTE], 0.5);
        set_default(&v[FK_EFF_MEMORY], 0.7);
        set_default(&v[FK_EFF_PREFILL], 0.5);
        set_default(&v[FK_HBM_USABLE], 0.9);
        set_default(&v[FK_ACT_BYTES], 2);
        set_default(&v[FK_STEP_OVERHEAD_MS], 0);
        break;
    }
    case THR_MEASURED:
        if (has(&v[FK_DECODE_TOK_S_PER_CHIP]) || has(&v[FK_PREFILL_TOK_S_PER_CHIP]))
            return fail_at(c, tline,
                           "fleet '%s': throughput = measured takes its tokens/s from a measure "
                           "run; remove decode_tok_s_per_chip and prefill_tok_s_per_chip",
                           fn);
        break; /* bound to the database by msd_bind */
    }

    /* Keys that this fleet's modes ignore: say so rather than drop them silently. */
    if (f->rent && has(&v[FK_SERVER_OVERHEAD]) && v[FK_SERVER_OVERHEAD].origin == ORIG_FILE)
        if (warn_at(c, s->path, v[FK_SERVER_OVERHEAD].line,
                    "fleet '%s': server_overhead is ignored with cost = rent", fn))
            return c->err->code;
    if (!f->rent && f->chip_over[CK_RENT_USD_PER_CHIP_HOUR].origin == ORIG_FILE)
        if (warn_at(c, s->path, f->chip_over[CK_RENT_USD_PER_CHIP_HOUR].line,
                    "fleet '%s': rent_usd_per_chip_hour is ignored with cost = own", fn))
            return c->err->code;
    return 0;
}

static int resolve_model_file(Ctx *c)
{
    const RawParse *rp = c->rp;
    for (int i = 0; i < rp->n_secs; i++) {
        const RawSection *sec = &rp->secs[i];
        if (sec->kind != SEC_MODEL)
            return fail_at(c, sec->line, "a model file holds only [model NAME] sections, not [%s]",
                           SEC_NAMES[sec->kind]);
        for (int j = 0; j < i; j++)
            if (txt_eq_nocase(rp->secs[j].name, sec->name))
                return fail_at(c, sec->line, "duplicate [model %s] (first at line %d)", sec->name,
                               rp->secs[j].line);
        int idx;
        if (resolve_model(c, sec->name, sec->line, &idx))
            return c->err->code;
    }
    return 0;
}

/* ---- [question], [distill], [task NAME] (docs/scenario-format.md) ----------------------- */

/* The index of the fleet called name, or a FILE:LINE error naming the closest one. */
static int find_fleet(Ctx *c, const char *name, int line, const char *what, int *out)
{
    Scenario *s = c->s;
    const char *names[SCN_MAX_SECTIONS];
    int n = 0;
    for (int i = 0; i < s->n_fleets; i++) {
        if (txt_eq_nocase(s->fleets[i].name, name)) {
            *out = i;
            return 0;
        }
        if (n < SCN_MAX_SECTIONS)
            names[n++] = s->fleets[i].name;
    }
    const char *near = txt_nearest(name, names, (size_t)n);
    if (near)
        return fail_at(c, line, "%s: no fleet '%s'; did you mean '%s'?", what, name, near);
    return fail_at(c, line, "%s: no fleet '%s'", what, name);
}

/* These sections take plain numbers: their results are derived once from the stored means. */
static int refuse_distributions(Ctx *c, const ScnVal *v, int n, const KeySpec *specs,
                                const char *section)
{
    for (int i = 0; i < n; i++)
        if (v[i].dist)
            return fail_at(c, v[i].line, "[%s] %s takes one number, not a distribution", section,
                           specs[i].name);
    return 0;
}

/* The first fleet that serves model m, or -1. */
static int fleet_of_model(const Scenario *s, int m)
{
    for (int i = 0; i < s->n_fleets; i++)
        if (s->fleets[i].model == m)
            return i;
    return -1;
}

static int resolve_distill(Ctx *c, const RawSection *sec)
{
    Scenario *s = c->s;
    ScnDistill *d = &s->distill;
    d->line = sec->line;
    if (apply_section(c, sec, DISTILL_KEYS, DK_COUNT, d->v, NULL, 0, NULL) ||
        refuse_distributions(c, d->v, DK_COUNT, DISTILL_KEYS, "distill"))
        return c->err->code;
    static const DistillKey need[] = {DK_TEACHER, DK_STUDENT, DK_TRAINING_TOKENS, DK_CHIP,
                                      DK_MFU};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (!has(&d->v[need[i]]))
            return fail_at(c, sec->line,
                           "[distill] needs %s (teacher, student, training_tokens, chip, mfu)",
                           DISTILL_KEYS[need[i]].name);
    if (resolve_model(c, d->v[DK_TEACHER].text, d->v[DK_TEACHER].line, &d->teacher) ||
        resolve_model(c, d->v[DK_STUDENT].text, d->v[DK_STUDENT].line, &d->student))
        return c->err->code;
    if (!(s->models[d->teacher].params_active > 0) || !(s->models[d->student].params_total > 0))
        return fail_at(c, sec->line, "[distill] needs the teacher's active and the student's "
                                     "total parameter counts");
    if (!has(&d->v[DK_GENERATED_TOKENS])) {
        set_default(&d->v[DK_GENERATED_TOKENS], d->v[DK_TRAINING_TOKENS].num);
        d->v[DK_GENERATED_TOKENS].origin = ORIG_DERIVED;
    }
    const DistillKey fk[2] = {DK_TEACHER_FLEET, DK_STUDENT_FLEET};
    int *out[2] = {&d->teacher_fleet, &d->student_fleet};
    int model[2] = {d->teacher, d->student};
    for (int k = 0; k < 2; k++) {
        if (has(&d->v[fk[k]])) {
            if (find_fleet(c, d->v[fk[k]].text, d->v[fk[k]].line, "[distill]", out[k]))
                return c->err->code;
            if (s->fleets[*out[k]].model != model[k])
                return fail_at(c, d->v[fk[k]].line, "[distill] %s '%s' serves '%s', not '%s'",
                               DISTILL_KEYS[fk[k]].name, s->fleets[*out[k]].name,
                               s->models[s->fleets[*out[k]].model].name,
                               s->models[model[k]].name);
        } else if ((*out[k] = fleet_of_model(s, model[k])) < 0) {
            return fail_at(c, sec->line, "[distill] no fleet serves '%s': add one, or name it "
                                         "with %s = FLEET",
                           s->models[model[k]].name, DISTILL_KEYS[fk[k]].name);
        }
    }
    /* the training chip resolves as a fleet's would (catalog row, [chip] section) */
    ScnFleet tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.v[FK_CHIP] = d->v[DK_CHIP];
    int rc = resolve_chip(c, &tmp);
    d->chip = tmp.chip;
    if (rc)
        return rc;
    if (!(d->chip.v[CK_BF16_TFLOPS].num > 0))
        return fail_at(c, d->v[DK_CHIP].line, "[distill] chip '%s' has no bf16_tflops",
                       d->chip.name);
    if (!has(&d->v[DK_USD_PER_CHIP_HOUR])) {
        if (!has(&d->chip.v[CK_RENT_USD_PER_CHIP_HOUR]))
            return fail_at(c, sec->line, "[distill] needs usd_per_chip_hour: chip '%s' has no "
                                         "rent_usd_per_chip_hour",
                           d->chip.name);
        d->v[DK_USD_PER_CHIP_HOUR] = d->chip.v[CK_RENT_USD_PER_CHIP_HOUR];
    }
    return 0;
}

static int resolve_task(Ctx *c, const RawSection *sec, ScnTask *t)
{
    t->line = sec->line;
    if (!(t->name = txt_dup(sec->name)))
        return ts_err_set(c->err, TS_ENOMEM, "out of memory");
    if (apply_section(c, sec, TASK_KEYS, TK_COUNT, t->v, NULL, 0, NULL) ||
        refuse_distributions(c, t->v, TK_COUNT, TASK_KEYS, "task"))
        return c->err->code;
    if (!has(&t->v[TK_FLEET]) || !has(&t->v[TK_P_SUCCESS]) || !has(&t->v[TK_OUTPUT_TOKENS]))
        return fail_at(c, sec->line, "[task %s] needs fleet, p_success and output_tokens",
                       t->name);
    if (find_fleet(c, t->v[TK_FLEET].text, t->v[TK_FLEET].line, "[task]", &t->fleet))
        return c->err->code;
    if (has(&t->v[TK_ATTEMPTS]) && has(&t->v[TK_TARGET_SUCCESS]))
        return fail_at(c, t->v[TK_ATTEMPTS].line,
                       "[task %s] takes attempts or target_success, not both", t->name);
    set_default(&t->v[TK_INPUT_TOKENS], 0);
    set_default(&t->v[TK_MAX_ATTEMPTS], 1000);
    if (!has(&t->v[TK_TARGET_SUCCESS]))
        set_default(&t->v[TK_ATTEMPTS], 1);
    return 0;
}

/* Splits a comma list into trimmed names (at most max, each under 48 characters). */
static int split_names(Ctx *c, const ScnVal *v, const char *what, char (*out)[48], int max,
                       int *n)
{
    char list[SCN_MAX_LINE + 1];
    snprintf(list, sizeof list, "%s", v->text);
    *n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        txt_trim(tok);
        if (*n == max)
            return fail_at(c, v->line, "%s: at most %d names", what, max);
        if (!txt_valid_name(tok))
            return fail_at(c, v->line, "%s: bad name '%s' (a comma list of names)", what, tok);
        snprintf(out[(*n)++], 48, "%s", tok);
    }
    if (*n == 0)
        return fail_at(c, v->line, "%s: expected a comma list of names", what);
    return 0;
}

static int resolve_question(Ctx *c, const RawSection *sec)
{
    Scenario *s = c->s;
    ScnQuestion *q = &s->question;
    q->line = sec->line;
    if (apply_section(c, sec, QUESTION_KEYS, QK_COUNT, q->v, NULL, 0, NULL))
        return c->err->code;
    if (!has(&q->v[QK_KIND]))
        return fail_at(c, sec->line, "[question] needs kind = decompose, versus, breakeven, "
                                     "distill, task or demand");
    q->kind = (QuestionKind)q->v[QK_KIND].num;
    int needs_fleets = q->kind != QST_DISTILL && q->kind != QST_TASK;
    if (has(&q->v[QK_FLEETS])) {
        char names[SCN_QST_MAX_FLEETS][48];
        if (split_names(c, &q->v[QK_FLEETS], "[question] fleets", names, SCN_QST_MAX_FLEETS,
                        &q->n_fleets))
            return c->err->code;
        for (int i = 0; i < q->n_fleets; i++) {
            if (find_fleet(c, names[i], q->v[QK_FLEETS].line, "[question] fleets",
                           &q->fleets[i]))
                return c->err->code;
            for (int j = 0; j < i; j++)
                if (q->fleets[j] == q->fleets[i])
                    return fail_at(c, q->v[QK_FLEETS].line, "[question] fleets: '%s' is listed "
                                                            "twice", names[i]);
        }
    } else if (needs_fleets) {
        return fail_at(c, sec->line, "[question] kind = %s needs fleets = A, B, ...",
                       q->v[QK_KIND].text);
    }
    int min_fleets = q->kind == QST_DEMAND ? 1 : 2;
    if (needs_fleets && q->n_fleets < min_fleets)
        return fail_at(c, q->v[QK_FLEETS].line, "[question] kind = %s needs at least %d fleets",
                       q->v[QK_KIND].text, min_fleets);
    switch (q->kind) {
    case QST_DECOMPOSE:
        if (!has(&q->v[QK_FACTORS]))
            return fail_at(c, sec->line, "[question] kind = decompose needs factors = ... (what "
                                         "each step from one fleet to the next changes)");
        if (split_names(c, &q->v[QK_FACTORS], "[question] factors", q->factors,
                        SCN_QST_MAX_FLEETS, &q->n_factors))
            return c->err->code;
        if (q->n_factors != q->n_fleets - 1)
            return fail_at(c, q->v[QK_FACTORS].line,
                           "[question] factors: expected %d factor(s), one per step between the %d "
                           "fleets; got %d",
                           q->n_fleets - 1, q->n_fleets, q->n_factors);
        for (int i = 0; i < 2; i++) {
            const ScnFleet *f = &s->fleets[q->fleets[i ? q->n_fleets - 1 : 0]];
            if (f->pricing < 0 || !has(&s->pricings[f->pricing].v[PK_USD_PER_M_OUTPUT]))
                return fail_at(c, q->v[QK_FLEETS].line,
                               "[question] decompose: fleet '%s' needs a list price (pricing "
                               "with usd_per_m_output) for the margin step",
                               f->name);
        }
        break;
    case QST_BREAKEVEN:
        if (s->compare.line <= 0)
            return fail_at(c, sec->line, "[question] kind = breakeven needs a [compare] section");
        break;
    case QST_DISTILL:
        if (s->distill.line <= 0)
            return fail_at(c, sec->line, "[question] kind = distill needs a [distill] section");
        break;
    case QST_TASK:
        if (s->n_tasks == 0)
            return fail_at(c, sec->line, "[question] kind = task needs [task NAME] sections");
        break;
    case QST_DEMAND:
        if (s->sweep.line <= 0 || has(&s->sweep.v[SWK_OVER2]))
            return fail_at(c, sec->line, "[question] kind = demand needs a one-input [sweep] "
                                         "over the demand (e.g. workload.requests_per_day)");
        if (!has(&q->v[QK_POWER_CAP_KW]))
            return fail_at(c, sec->line, "[question] kind = demand needs power_cap_kw");
        break;
    case QST_VERSUS:
        break;
    }
    return 0;
}

static int resolve_questions(Ctx *c)
{
    Scenario *s = c->s;
    int n_tasks = 0;
    for (int i = 0; i < c->rp->n_secs; i++)
        n_tasks += c->rp->secs[i].kind == SEC_TASK;
    if (n_tasks && !(s->tasks = calloc((size_t)n_tasks, sizeof *s->tasks)))
        return ts_err_set(c->err, TS_ENOMEM, "out of memory");
    for (int i = 0; i < c->rp->n_secs; i++) {
        const RawSection *sec = &c->rp->secs[i];
        int rc = 0;
        if (sec->kind == SEC_DISTILL)
            rc = resolve_distill(c, sec);
        else if (sec->kind == SEC_TASK)
            rc = resolve_task(c, sec, &s->tasks[s->n_tasks++]);
        if (rc)
            return rc;
    }
    const RawSection *q = find_section(c->rp, SEC_QUESTION, NULL);
    return q ? resolve_question(c, q) : 0;
}

static int resolve(Ctx *c)
{
    Scenario *s = c->s;
    if (c->models_only)
        return resolve_model_file(c);
    if (check_sections(c) || resolve_scenario(c) || resolve_workload(c))
        return c->err->code;
    /* Every [model] and [chip] section must be usable even if no fleet names it. */
    for (int i = 0; i < c->rp->n_secs; i++) {
        const RawSection *sec = &c->rp->secs[i];
        int idx;
        if (sec->kind == SEC_MODEL && resolve_model(c, sec->name, sec->line, &idx))
            return c->err->code;
        if (sec->kind == SEC_CHIP || sec->kind == SEC_PRICING) {
            /* Checked here too, so that a section no fleet uses still gets its errors. */
            ScnVal tmp[(int)CK_COUNT > (int)PK_COUNT ? (int)CK_COUNT : (int)PK_COUNT];
            memset(tmp, 0, sizeof tmp);
            int chip = sec->kind == SEC_CHIP;
            int rc = apply_section(c, sec, chip ? CHIP_KEYS : PRICING_KEYS,
                                   chip ? CK_COUNT : PK_COUNT, tmp, NULL, 0, NULL);
            vals_free(tmp, chip ? CK_COUNT : PK_COUNT);
            if (rc)
                return rc;
        }
    }
    if (has(&s->wl[WK_MODEL])) {
        int idx;
        if (resolve_model(c, s->wl[WK_MODEL].text, s->wl[WK_MODEL].line, &idx))
            return c->err->code;
    }
    const RawSection *sw = find_section(c->rp, SEC_SWEEP, NULL);
    if (sw) {
        s->sweep.line = sw->line;
        if (apply_section(c, sw, SWEEP_KEYS, SWK_COUNT, s->sweep.v, NULL, 0, NULL))
            return c->err->code;
        if (!has(&s->sweep.v[SWK_OVER]) || !has(&s->sweep.v[SWK_VALUES]))
            return fail_at(c, sw->line, "[sweep] needs over = KEY and values = ...");
        if (has(&s->sweep.v[SWK_OVER2]) != has(&s->sweep.v[SWK_VALUES2]))
            return fail_at(c, sw->line, "[sweep] needs over2 and values2 together");
    }
    const RawSection *cm = find_section(c->rp, SEC_COMPARE, NULL);
    if (cm) {
        s->compare.line = cm->line;
        if (apply_section(c, cm, COMPARE_KEYS, CMK_COUNT, s->compare.v, NULL, 0, NULL))
            return c->err->code;
        if (!has(&s->compare.v[CMK_BASELINE]))
            return fail_at(c, cm->line, "[compare] needs baseline = FLEET");
    }
    int n = 0;
    for (int i = 0; i < c->rp->n_secs; i++)
        n += c->rp->secs[i].kind == SEC_FLEET;
    /* [optimize]: one candidate fleet per chip option, the template with that chip, sized */
    const RawSection *op = find_section(c->rp, SEC_OPTIMIZE, NULL);
    const RawSection *tmpl = NULL;
    char chips[OPT_MAX_CHIPS][48];
    int n_chips = 0;
    if (op) {
        ScnOptimize *o = &s->optimize;
        o->line = op->line;
        if (apply_section(c, op, OPTIMIZE_KEYS, OPK_COUNT, o->v, NULL, 0, NULL))
            return c->err->code;
        if (!has(&o->v[OPK_FLEET]) || !has(&o->v[OPK_CHIPS]))
            return fail_at(c, op->line, "[optimize] needs fleet = TEMPLATE and chips = A, B, ...");
        tmpl = find_section(c->rp, SEC_FLEET, o->v[OPK_FLEET].text);
        if (!tmpl)
            return fail_at(c, o->v[OPK_FLEET].line, "[optimize] fleet: no fleet '%s'",
                           o->v[OPK_FLEET].text);
        char list[256];
        snprintf(list, sizeof list, "%s", o->v[OPK_CHIPS].text);
        char *save = NULL;
        for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            if (n_chips == OPT_MAX_CHIPS)
                return fail_at(c, o->v[OPK_CHIPS].line, "[optimize] chips: at most %d",
                               OPT_MAX_CHIPS);
            txt_trim(tok);
            if (!txt_valid_name(tok))
                return fail_at(c, o->v[OPK_CHIPS].line, "[optimize] chips: bad chip name '%s'",
                               tok);
            snprintf(chips[n_chips++], sizeof chips[0], "%s", tok);
        }
        if (!has(&o->v[OPK_OBJECTIVE]) &&
            set_default_text(c, &o->v[OPK_OBJECTIVE], 0, "usd_per_m_output"))
            return c->err->code;
    }
    s->fleets = calloc((size_t)(n + n_chips), sizeof *s->fleets);
    if (!s->fleets)
        return ts_err_set(c->err, TS_ENOMEM, "out of memory");
    for (int i = 0; i < c->rp->n_secs; i++) {
        const RawSection *sec = &c->rp->secs[i];
        if (sec->kind != SEC_FLEET)
            continue;
        ScnFleet *f = &s->fleets[s->n_fleets++];
        if (resolve_fleet(c, sec, f))
            return c->err->code;
    }
    for (int k = 0; k < n_chips; k++) {
        /* the template's keys with chip replaced and no fixed chip count */
        RawSection cand = *tmpl;
        RawKV kv[SCN_MAX_KEYS + 1];
        char name[64];
        snprintf(name, sizeof name, "opt-%.40s", chips[k]);
        cand.name = name;
        cand.n_kv = 0;
        cand.kv = kv;
        for (int i = 0; i < tmpl->n_kv; i++) {
            if (strcmp(tmpl->kv[i].key, "chips") == 0)
                continue;
            kv[cand.n_kv] = tmpl->kv[i];
            if (strcmp(tmpl->kv[i].key, "chip") == 0)
                kv[cand.n_kv].value = chips[k];
            cand.n_kv++;
        }
        ScnFleet *f = &s->fleets[s->n_fleets++];
        f->candidate = 1;
        if (resolve_fleet(c, &cand, f))
            return ts_err_prefix(c->err, "[optimize] candidate %s: ", chips[k]);
    }
    return resolve_questions(c);
}

static int load_text(Scenario *s, const char *path, const char *text, size_t len,
                     const ScnCatalogs *cats, int models_only, TsErr *err);

/* Adds every value of vals that holds a distribution to s->sites. */
static int add_sites(Scenario *s, ScnVal *vals, int n, int *cap, TsErr *err)
{
    for (int i = 0; i < n; i++) {
        if (!vals[i].dist)
            continue;
        if (s->n_sites == *cap) {
            *cap = *cap ? 2 * *cap : 32;
            ScnVal **p = realloc(s->sites, sizeof *p * (size_t)*cap);
            if (!p)
                return ts_err_set(err, TS_ENOMEM, "out of memory");
            s->sites = p;
        }
        s->sites[s->n_sites++] = &vals[i];
    }
    return 0;
}

/* Every value holding a distribution, copies included (a copy of a chip's value into its
 * fleet's power keeps the distribution, so one draw reaches both). */
static int collect_sites(Scenario *s, TsErr *err)
{
    int cap = 0;
    if (s->n_dists == 0)
        return 0;
    if (add_sites(s, s->sc, SK_COUNT, &cap, err) || add_sites(s, s->wl, WK_COUNT, &cap, err))
        return err->code;
    for (int i = 0; i < s->n_models; i++)
        if (add_sites(s, s->models[i].v, MK_COUNT, &cap, err))
            return err->code;
    for (int i = 0; i < s->n_pricings; i++)
        if (add_sites(s, s->pricings[i].v, PK_COUNT, &cap, err))
            return err->code;
    for (int i = 0; i < s->n_fleets; i++) {
        ScnFleet *f = &s->fleets[i];
        if (add_sites(s, f->v, FK_COUNT, &cap, err) ||
            add_sites(s, f->chip_over, CK_COUNT, &cap, err) ||
            add_sites(s, f->chip.v, CK_COUNT, &cap, err))
            return err->code;
    }
    return 0;
}

void scn_apply_draws(Scenario *s, const double *draws)
{
    for (int i = 0; i < s->n_sites; i++)
        s->sites[i]->num = draws[s->sites[i]->dist - 1];
}

void scn_apply_medians(Scenario *s)
{
    for (int i = 0; i < s->n_sites; i++)
        s->sites[i]->num = dist_median(&s->dists[s->sites[i]->dist - 1]);
}

static void range_of(const KeySpec *k, ScnKeyRange *r)
{
    *r = (ScnKeyRange){k->name, k->lo, k->hi, k->lo_open, k->hi_open, k->type == KT_INT};
}

int scn_in_range(const ScnKeyRange *r, double x)
{
    if (!isfinite(x) || x < r->lo || x > r->hi || (r->lo_open && x == r->lo) ||
        (r->hi_open && x == r->hi))
        return 0;
    return !r->integer || x == floor(x);
}

static int numeric(const KeySpec *k)
{
    return k->type == KT_NUM || k->type == KT_INT;
}

int scn_param_sites(Scenario *s, const char *path, int only_fleet, ScnVal **sites, int max,
                    ScnKeyRange *range, char *msg, size_t msg_size)
{
    char buf[128], *key;
    snprintf(buf, sizeof buf, "%s", path);
    txt_trim(buf);
    int n = 0;
    char *dot = strrchr(buf, '.');
    key = dot ? dot + 1 : buf;
    if (dot)
        *dot = '\0';
    char *space = dot ? strchr(buf, ' ') : NULL;
    const char *name = space ? space + 1 : NULL;
    if (space)
        *space = '\0';
    const char *section = dot ? buf : NULL;
    int fk = key_index(FLEET_KEYS, FK_COUNT, key), ck = key_index(CHIP_KEYS, CK_COUNT, key);
    int wk = key_index(WORKLOAD_KEYS, WK_COUNT, key), mk = key_index(MODEL_KEYS, MK_COUNT, key);
    if (!section || txt_eq_nocase(section, "fleet")) {
        if (fk >= 0 && !numeric(&FLEET_KEYS[fk]))
            fk = -1;
        if (fk < 0 && ck < 0 && (section || wk < 0 || !numeric(&WORKLOAD_KEYS[wk]))) {
            snprintf(msg, msg_size, "'%s' is not a numeric fleet or chip key", key);
            return -1;
        }
        if (fk < 0 && ck < 0) /* unqualified workload key */
            goto workload;
        int found = 0;
        for (int i = 0; i < s->n_fleets; i++) {
            ScnFleet *f = &s->fleets[i];
            if ((only_fleet >= 0 && i != only_fleet) || (name && !txt_eq_nocase(name, f->name)))
                continue;
            found = 1;
            if (n < max)
                sites[n++] = fk >= 0 ? &f->v[fk] : &f->chip.v[ck];
        }
        if (!found) {
            snprintf(msg, msg_size, "no fleet '%s'", name ? name : "");
            return -1;
        }
        range_of(fk >= 0 ? &FLEET_KEYS[fk] : &CHIP_KEYS[ck], range);
        return n;
    }
    if (txt_eq_nocase(section, "workload")) {
    workload:
        if (wk < 0 || !numeric(&WORKLOAD_KEYS[wk])) {
            snprintf(msg, msg_size, "'%s' is not a numeric workload key", key);
            return -1;
        }
        range_of(&WORKLOAD_KEYS[wk], range);
        sites[n++] = &s->wl[wk];
        return n;
    }
    if (txt_eq_nocase(section, "model")) {
        if (mk < 0 || !numeric(&MODEL_KEYS[mk])) {
            snprintf(msg, msg_size, "'%s' is not a numeric model key", key);
            return -1;
        }
        for (int i = 0; i < s->n_models; i++) {
            if (name && !txt_eq_nocase(name, s->models[i].name))
                continue;
            if (only_fleet >= 0 && s->fleets[only_fleet].model != i)
                continue;
            if (n < max)
                sites[n++] = &s->models[i].v[mk];
        }
        if (n == 0) {
            snprintf(msg, msg_size, "no model '%s' in this scenario%s", name ? name : "",
                     only_fleet >= 0 ? " for that fleet" : "");
            return -1;
        }
        range_of(&MODEL_KEYS[mk], range);
        return n;
    }
    snprintf(msg, msg_size, "expected KEY, fleet NAME.KEY, model NAME.KEY or workload.KEY, got "
                            "'%s'", path);
    return -1;
}

int scn_rederive(Scenario *s, TsErr *err)
{
    ScnVal *w = s->wl;
    if (w[WK_REQUESTS_PER_DAY].origin != ORIG_NONE) {
        if (w[WK_PROMPT_TOKENS].origin == ORIG_DERIVED)
            w[WK_PROMPT_TOKENS].num = w[WK_INPUT_TOKENS_PER_REQUEST].num;
        if (w[WK_CONTEXT_TOKENS].origin == ORIG_DERIVED)
            w[WK_CONTEXT_TOKENS].num =
                (w[WK_PROMPT_TOKENS].origin != ORIG_NONE ? w[WK_PROMPT_TOKENS].num : 0) +
                w[WK_OUTPUT_TOKENS_PER_REQUEST].num / 2.0;
    } else if (w[WK_CONTEXT_TOKENS].origin == ORIG_DERIVED) {
        w[WK_CONTEXT_TOKENS].num = w[WK_PROMPT_TOKENS].num;
    }
    for (int i = 0; i < s->n_models; i++) {
        ScnModel *m = &s->models[i];
        if (!m->has_shape)
            continue;
        ModelShape *sh = &m->shape;
        long *dst[] = {&sh->layers, &sh->d_model, &sh->heads, &sh->kv_heads, &sh->head_dim,
                       &sh->ffn, &sh->experts, &sh->experts_active, &sh->shared_experts,
                       &sh->expert_ffn, &sh->dense_layers, &sh->kv_lora_rank, &sh->q_lora_rank,
                       &sh->rope_dim, &sh->qk_nope_dim, &sh->v_head_dim, &sh->vocab};
        for (int k = MK_LAYERS; k <= MK_VOCAB; k++)
            *dst[k - MK_LAYERS] = m->v[k].origin != ORIG_NONE ? (long)m->v[k].num : 0;
        if (m->v[MK_HEAD_DIM].origin == ORIG_DERIVED && sh->heads > 0)
            sh->head_dim = sh->d_model / sh->heads;
        if (m->v[MK_KV_HEADS].origin == ORIG_DERIVED)
            sh->kv_heads = sh->heads;
        TsErr e;
        ts_err_clear(&e);
        if (shape_check(sh, &e))
            return ts_err_set(err, TS_EINPUT, "%s: model '%s': %s", s->path, m->name, e.msg);
        shape_params(sh, &m->params);
        m->params_total = m->params.total;
        m->params_active = m->params.active;
    }
    for (int i = 0; i < s->n_fleets; i++) {
        ScnFleet *f = &s->fleets[i];
        ScnVal *v = f->v, *cv = f->chip.v;
        if (f->energy_source && strcmp(f->energy_source, "catalog:all_in_w") == 0)
            v[FK_POWER_W_PER_CHIP].num = cv[CK_ALL_IN_W].num;
        else if (f->energy_source && strcmp(f->energy_source, "catalog:tdp_w") == 0)
            v[FK_POWER_W_PER_CHIP].num = cv[CK_TDP_W].num;
        if (f->idle_from_chip)
            v[FK_IDLE_W_PER_CHIP].num = cv[CK_IDLE_W].num;
        else if (v[FK_IDLE_W_PER_CHIP].origin == ORIG_DERIVED)
            v[FK_IDLE_W_PER_CHIP].num = 0.3 * v[FK_POWER_W_PER_CHIP].num;
        if (f->mfu_prefill_from_mfu)
            v[FK_MFU_PREFILL].num = v[FK_MFU].num;
    }
    return 0;
}

int scn_load_text(Scenario *s, const char *path, const char *text, size_t len,
                  const ScnCatalogs *cats, TsErr *err)
{
    return load_text(s, path, text, len, cats, 0, err);
}

static int load_text(Scenario *s, const char *path, const char *text, size_t len,
                     const ScnCatalogs *cats, int models_only, TsErr *err)
{
    memset(s, 0, sizeof *s);
    s->cats = cats;
    if (!(s->path = txt_dup(path)))
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    if (len > SCN_MAX_FILE_BYTES) {
        scn_fini(s);
        return ts_err_set(err, TS_EINPUT,
                          "%s:1: file is larger than %d bytes, the most a scenario may have", path,
                          SCN_MAX_FILE_BYTES);
    }
    int line = 1;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\0') {
            scn_fini(s);
            return ts_err_set(err, TS_EINPUT,
                              "%s:%d: a NUL byte: this is a binary file, not a scenario", path,
                              line);
        }
        line += text[i] == '\n';
    }
    s->text = malloc(len + 1);
    if (!s->text) {
        scn_fini(s);
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    }
    memcpy(s->text, text, len);
    s->text[len] = '\0';
    s->text_len = len;

    RawParse rp = {.path = path, .text = s->text, .len = len, .err = err};
    int rc = raw_parse(&rp);
    if (!rc && rp.n_secs == 0)
        rc = ts_err_set(err, TS_EINPUT, "%s:1: empty %s: expected a [%s] section", path,
                        models_only ? "model file" : "scenario", models_only ? "model NAME" : "scenario");
    if (!rc) {
        Ctx c = {.s = s, .rp = &rp, .cats = cats, .err = err, .models_only = models_only};
        rc = resolve(&c);
    }
    raw_free(&rp);
    if (!rc)
        rc = collect_sites(s, err);
    if (rc)
        scn_fini(s);
    return rc;
}

static int load_file(Scenario *s, const char *path, const ScnCatalogs *cats, int models_only,
                     TsErr *err);

int scn_load(Scenario *s, const char *path, const ScnCatalogs *cats, TsErr *err)
{
    return load_file(s, path, cats, 0, err);
}

int scn_load_models(Scenario *s, const char *path, const ScnCatalogs *cats, TsErr *err)
{
    return load_file(s, path, cats, 1, err);
}

static int load_file(Scenario *s, const char *path, const ScnCatalogs *cats, int models_only,
                     TsErr *err)
{
    memset(s, 0, sizeof *s);
    FILE *f = fopen(path, "rb");
    if (!f)
        return ts_err_set(err, TS_EIO, "cannot open %s: %s", path, strerror(errno));
    char *buf = malloc(SCN_MAX_FILE_BYTES + 1);
    if (!buf) {
        fclose(f);
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    }
    size_t n = fread(buf, 1, SCN_MAX_FILE_BYTES + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return ts_err_set(err, TS_EIO, "cannot read %s (is it a folder?)", path);
    }
    int rc = load_text(s, path, buf, n, cats, models_only, err);
    free(buf);
    return rc;
}

int scn_engine_config(const Scenario *s, const ScnModel *m, EngineConfig *out, TsErr *err)
{
    char where[600];
    if (m->line > 0)
        snprintf(where, sizeof where, "%s:%d", s->path, m->line);
    else
        snprintf(where, sizeof where, "%s:%d", s->cats->models.path,
                 s->cats->models.lines[m->cat_row]);
    if (!m->has_shape)
        return ts_err_set(err, TS_EINPUT, "%s: model '%s' needs a full shape to run (layers, "
                          "d_model, heads, vocab and ffn or experts)", where, m->name);
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", m->name);
    out->shape = m->shape;
    const ScnVal *v = m->v;
    out->max_seq = v[MK_MAX_SEQ].origin != ORIG_NONE ? (int)v[MK_MAX_SEQ].num : 1024;
    out->rope_theta = v[MK_ROPE_THETA].origin != ORIG_NONE ? (float)v[MK_ROPE_THETA].num : 1e4f;
    out->norm_eps = v[MK_NORM_EPS].origin != ORIG_NONE ? (float)v[MK_NORM_EPS].num : 1e-5f;
    out->shared_classifier =
        v[MK_SHARED_CLASSIFIER].origin != ORIG_NONE ? v[MK_SHARED_CLASSIFIER].num != 0 : 1;
    TsErr e;
    ts_err_clear(&e);
    if (cfg_check(out, &e))
        return ts_err_set(err, TS_EINPUT, "%s: %s", where, e.msg);
    return 0;
}

void scn_fini(Scenario *s)
{
    if (!s)
        return;
    free(s->path);
    free(s->text);
    vals_free(s->sc, SK_COUNT);
    vals_free(s->wl, WK_COUNT);
    for (int i = 0; i < s->n_models; i++) {
        free(s->models[i].name);
        vals_free(s->models[i].v, MK_COUNT);
    }
    free(s->models);
    for (int i = 0; i < s->n_fleets; i++) {
        ScnFleet *f = &s->fleets[i];
        free(f->name);
        vals_free(f->v, FK_COUNT);
        vals_free(f->chip_over, CK_COUNT);
        free(f->chip.name);
        vals_free(f->chip.v, CK_COUNT);
    }
    free(s->fleets);
    for (int i = 0; i < s->n_pricings; i++) {
        free(s->pricings[i].name);
        vals_free(s->pricings[i].v, PK_COUNT);
    }
    free(s->pricings);
    for (int i = 0; i < s->n_warnings; i++)
        free(s->warnings[i]);
    free(s->warnings);
    free(s->dists);
    free(s->sites);
    vals_free(s->sweep.v, SWK_COUNT);
    vals_free(s->compare.v, CMK_COUNT);
    vals_free(s->optimize.v, OPK_COUNT);
    vals_free(s->question.v, QK_COUNT);
    vals_free(s->distill.v, DK_COUNT);
    free(s->distill.chip.name);
    vals_free(s->distill.chip.v, CK_COUNT);
    for (int i = 0; i < s->n_tasks; i++) {
        free(s->tasks[i].name);
        vals_free(s->tasks[i].v, TK_COUNT);
    }
    free(s->tasks);
    memset(s, 0, sizeof *s);
}
