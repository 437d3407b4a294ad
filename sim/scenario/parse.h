/* parse: what the scenario room's files share and nobody else includes: the key-table type,
 * raw sections of pass one, the pass-two context, and the helpers that cross files. Not a
 * public header: other rooms include sim/scenario/scenario.h. */
#ifndef TS_SIM_SCENARIO_PARSE_H
#define TS_SIM_SCENARIO_PARSE_H

#include <stddef.h>

#include "sim/scenario/scenario.h"

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

#define NUM(n, lo, hi)                                                                             \
    {                                                                                              \
        n, KT_NUM, lo, hi, 0, 0, NULL                                                              \
    }
#define POS(n, hi)                                                                                 \
    {                                                                                              \
        n, KT_NUM, 0, hi, 1, 0, NULL                                                               \
    }
#define INT(n, lo, hi)                                                                             \
    {                                                                                              \
        n, KT_INT, lo, hi, 0, 0, NULL                                                              \
    }
#define TEXT(n)                                                                                    \
    {                                                                                              \
        n, KT_TEXT, 0, 0, 0, 0, NULL                                                               \
    }
#define SHARE(n)                                                                                   \
    {                                                                                              \
        n, KT_NUM, 0, 1, 0, 0, NULL                                                                \
    }
#define SHARE_POS(n)                                                                               \
    {                                                                                              \
        n, KT_NUM, 0, 1, 1, 0, NULL                                                                \
    }

/* ---- pass one: raw sections ------------------------------------------------------------ */

typedef enum {
    SEC_SCENARIO,
    SEC_MODEL,
    SEC_CHIP,
    SEC_WORKLOAD,
    SEC_FLEET,
    SEC_PRICING,
    SEC_SWEEP,
    SEC_COMPARE,
    SEC_OPTIMIZE,
    SEC_QUESTION,
    SEC_DISTILL,
    SEC_TASK,
    SEC_TRAFFIC,
    SEC_COUNT
} SecKind;
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
/* ---- pass two: values ------------------------------------------------------------------ */

typedef struct {
    Scenario *s;
    RawParse *rp;
    const ScnCatalogs *cats;
    TsErr *err;
    int models_only; /* a model file, not a scenario */
    char label[96];  /* the section of the value being parsed, for distribution labels */
} Ctx;

extern const KeySpec SCN_CHIP_KEYS[CK_COUNT];
extern const KeySpec SCN_MODEL_KEYS[MK_COUNT];
extern const KeySpec SCN_WORKLOAD_KEYS[WK_COUNT];
extern const KeySpec SCN_FLEET_KEYS[FK_COUNT];
extern const KeySpec SCN_PRICING_KEYS[PK_COUNT];
extern const KeySpec SCN_SCENARIO_KEYS[SK_COUNT];
extern const KeySpec SCN_SWEEP_KEYS[SWK_COUNT];
extern const KeySpec SCN_COMPARE_KEYS[CMK_COUNT];
extern const KeySpec SCN_OPTIMIZE_KEYS[OPK_COUNT];
extern const KeySpec SCN_QUESTION_KEYS[QK_COUNT];
extern const KeySpec SCN_DISTILL_KEYS[DK_COUNT];
extern const KeySpec SCN_TASK_KEYS[TK_COUNT];
extern const KeySpec SCN_TRAFFIC_KEYS[TRK_COUNT];
int scn_resolve_traffic(Ctx *c);
void scn_raw_free(RawParse *rp);
int scn_raw_parse(RawParse *rp);
extern const char *const SCN_SEC_NAMES[SEC_COUNT];
int scn_fail_at(Ctx *c, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int scn_warn_at(Ctx *c, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int scn_key_index(const KeySpec *specs, int n, const char *key);
int scn_apply_section(Ctx *c, const RawSection *sec, const KeySpec *specs, int n, ScnVal *vals,
                      const KeySpec *extra, int n_extra, ScnVal *extra_vals);
int scn_apply_catalog(Ctx *c, const CatTable *t, int row, const KeySpec *specs, int n,
                      ScnVal *vals);
void scn_set_default(ScnVal *v, double num);
int scn_set_default_text(Ctx *c, ScnVal *v, double num, const char *text);
int scn_has(const ScnVal *v);
void scn_vals_free(ScnVal *vals, int n);
int scn_vals_overlay(Ctx *c, ScnVal *a, const ScnVal *b, int n);
const RawSection *scn_find_section(const RawParse *rp, SecKind kind, const char *name);
int scn_check_sections(Ctx *c);
int scn_resolve_scenario(Ctx *c);
int scn_resolve_model(Ctx *c, const char *name, int line, int *out);
int scn_resolve_workload(Ctx *c);
int scn_resolve_chip(Ctx *c, ScnFleet *f);
int scn_resolve_fleet(Ctx *c, const RawSection *sec, ScnFleet *f);
int scn_resolve_model_file(Ctx *c);
int scn_resolve_questions(Ctx *c);

#endif
