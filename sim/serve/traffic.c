/* traffic: arrivals are a unit-rate renewal process (exponential or gamma gaps of mean 1) in
 * "operational time", mapped to clock time through the cumulative diurnal rate (time
 * rescaling), so bursts and the day's shape compose. Each first turn i draws from a Philox4x32
 * stream (Random123) keyed by the seed and positioned at (i, slot): gap, prefix, turn count, and
 * per turn its prompt, answer and think time. Traces are read with libcsv; rows must be in
 * arrival order. No printing; the generator owns its copies of the distributions. */
#include "sim/serve/traffic.h"

#include <Random123/philox.h>
#include <csv.h>
#include <errno.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a counter-based stream wrapped as a GSL generator ----------------------------------- */

typedef struct {
    philox4x32_key_t key;
    philox4x32_ctr_t ctr; /* (ordinal low, ordinal high, slot, block) */
    uint32_t buf[4];
    int left; /* outputs of buf not yet handed out */
} StreamState;

static unsigned long stream_get(void *vs)
{
    StreamState *s = vs;
    if (s->left == 0) {
        philox4x32_ctr_t r = philox4x32(s->ctr, s->key);
        for (int i = 0; i < 4; i++)
            s->buf[i] = r.v[i];
        s->ctr.v[3]++;
        s->left = 4;
    }
    return s->buf[4 - s->left--];
}

static double stream_get_double(void *vs)
{
    /* (0, 1): half a step above zero so that logs of uniforms stay finite */
    return ((double)stream_get(vs) + 0.5) / 4294967296.0;
}

static void stream_set(void *vs, unsigned long seed)
{
    StreamState *s = vs;
    memset(s, 0, sizeof *s);
    s->key.v[0] = (uint32_t)seed;
    s->key.v[1] = (uint32_t)((uint64_t)seed >> 32);
}

static const gsl_rng_type STREAM_TYPE = {
    "serve-philox4x32", 0xFFFFFFFFUL,      0, sizeof(StreamState), stream_set,
    stream_get,         stream_get_double,
};

/* Slots of one first turn's draws; turn t uses SLOT_TURN + 3t .. + 2. */
enum { SLOT_GAP = 0, SLOT_PREFIX = 1, SLOT_TURNS = 2, SLOT_TURN = 16 };

static void stream_seek(gsl_rng *r, uint64_t seed, uint64_t ordinal, uint32_t slot)
{
    StreamState *s = r->state;
    /* a fixed tweak keeps these streams apart from Monte Carlo's for the same seed */
    s->key.v[0] = (uint32_t)seed ^ 0x5e7e7a1cu;
    s->key.v[1] = (uint32_t)(seed >> 32) ^ 0x9b1d2c3fu;
    s->ctr.v[0] = (uint32_t)ordinal;
    s->ctr.v[1] = (uint32_t)(ordinal >> 32);
    s->ctr.v[2] = slot;
    s->ctr.v[3] = 0;
    s->left = 0;
}

/* ---- the generator ------------------------------------------------------------------------- */

typedef struct {
    double arrival_s;
    int32_t input, output, prefix_id, prefix_tokens;
} TraceRow;

struct TrafficGen {
    TrafficSpec spec;
    gsl_rng *rng;
    double hour_rate[24]; /* arrivals per second in each clock hour */
    /* operational-time cursor: the segment [seg_t, seg_end) of one clock hour */
    double op;                     /* cumulative unit-rate events drawn so far */
    double seg_t, seg_end, seg_op; /* seg_op: operational time at seg_t */
    int seg_hour;
    long ordinal; /* first turns made */
    double last_arrival_s;
    long made; /* requests made (ids handed out) */
    int ended;
    TraceRow *rows;
    long n_rows;
};

static int len_bad(const TrafficLen *l, double min)
{
    return !l->use_dist && !(l->value >= min && isfinite(l->value));
}

int traffic_check(const TrafficSpec *s, TsErr *err)
{
    if (s->arrivals != TRAFFIC_TRACE) {
        if (!(s->rate_per_s >= 0 && isfinite(s->rate_per_s)))
            return ts_err_set(err, TS_EINPUT, "traffic: rate_per_s must be a number >= 0");
        if (s->arrivals == TRAFFIC_GAMMA && !(s->cv > 0 && s->cv <= 100))
            return ts_err_set(err, TS_EINPUT, "traffic: gamma arrivals need 0 < cv <= 100");
        if (!(s->duration_s > 0 && isfinite(s->duration_s)))
            return ts_err_set(err, TS_EINPUT, "traffic: duration_s must be > 0");
        if (len_bad(&s->input, 1) || len_bad(&s->output, 1))
            return ts_err_set(err, TS_EINPUT, "traffic: input and output tokens must be >= 1");
    } else if (!s->trace_path) {
        return ts_err_set(err, TS_EINPUT, "traffic: a trace needs a file");
    }
    for (int h = 0; h < 24; h++)
        if (!(s->hourly[h] >= 0 && s->hourly[h] <= 1e12))
            return ts_err_set(err, TS_EINPUT, "traffic: hourly weight %d must be in [0, 1e12]", h);
    if (!(s->start_hour >= 0 && s->start_hour < 24))
        return ts_err_set(err, TS_EINPUT, "traffic: start_hour must be in [0, 24)");
    if (s->prefix_tokens < 0 || s->prefix_tokens > SERVE_MAX_SEQ_TOKENS / 2)
        return ts_err_set(err, TS_EINPUT, "traffic: prefix_tokens must be in [0, %d]",
                          SERVE_MAX_SEQ_TOKENS / 2);
    if (!(s->prefix_share >= 0 && s->prefix_share <= 1))
        return ts_err_set(err, TS_EINPUT, "traffic: prefix_share must be in [0, 1]");
    if (len_bad(&s->turns, 0) || len_bad(&s->think_s, 0))
        return ts_err_set(err, TS_EINPUT, "traffic: turns and think_s must be >= 0");
    if (s->max_requests < 0)
        return ts_err_set(err, TS_EINPUT, "traffic: max_requests must be >= 0");
    return 0;
}

static double len_mean(const TrafficLen *l)
{
    return l->use_dist ? dist_median(&l->dist) : l->value;
}

double traffic_expected_requests(const TrafficSpec *s)
{
    double n = s->rate_per_s * s->duration_s;
    if (s->max_requests > 0 && n > (double)s->max_requests)
        n = (double)s->max_requests;
    double turns = len_mean(&s->turns);
    return n * (turns > 1 ? turns : 1);
}

/* ---- trace reading --------------------------------------------------------------------------- */

enum { COL_ARRIVAL, COL_INPUT, COL_OUTPUT, COL_PREFIX_ID, COL_PREFIX_TOKENS, N_COLS };
static const char *const COL_NAMES[N_COLS] = {"arrival_s", "input_tokens", "output_tokens",
                                              "prefix_id", "prefix_tokens"};

typedef struct {
    TrafficGen *g;
    const char *path;
    TsErr *err;
    int failed;
    int line, row_line, row_open, header_done;
    int col_of[8]; /* header position -> column (COL_*), at most 8 cells */
    int n_header;
    char cells[8][64];
    int n_cells;
    int overlong;
    long cap;
} TraceState;

static void on_cell(void *s, size_t len, void *ctx)
{
    TraceState *t = ctx;
    if (t->failed)
        return;
    if (t->n_cells < 8) {
        if (len >= sizeof t->cells[0])
            t->overlong = 1;
        size_t n = len < sizeof t->cells[0] - 1 ? len : sizeof t->cells[0] - 1;
        memcpy(t->cells[t->n_cells], s, n);
        t->cells[t->n_cells][n] = '\0';
    }
    t->n_cells++;
}

static int fail(TraceState *t, const char *what, int col)
{
    t->failed = ts_err_set(t->err, TS_EINPUT, "%s:%d: %s%s%s", t->path, t->row_line,
                           col >= 0 ? COL_NAMES[col] : "", col >= 0 ? ": " : "", what);
    return t->failed;
}

static int take_header(TraceState *t)
{
    if (t->n_cells > 5)
        return fail(t,
                    "the header has more than 5 columns (arrival_s, input_tokens, "
                    "output_tokens, prefix_id, prefix_tokens)",
                    -1);
    int seen[N_COLS] = {0};
    for (int i = 0; i < t->n_cells; i++) {
        int c = -1;
        for (int k = 0; k < N_COLS; k++)
            if (strcmp(t->cells[i], COL_NAMES[k]) == 0)
                c = k;
        if (c < 0)
            return fail(t,
                        "unknown column in the header (expected arrival_s, input_tokens, "
                        "output_tokens, prefix_id, prefix_tokens)",
                        -1);
        if (seen[c]++)
            return fail(t, "column appears twice in the header", c);
        t->col_of[i] = c;
    }
    for (int k = 0; k < COL_PREFIX_ID; k++)
        if (!seen[k])
            return fail(t, "missing from the header", k);
    if (seen[COL_PREFIX_ID] != seen[COL_PREFIX_TOKENS])
        return fail(t, "prefix_id and prefix_tokens go together", -1);
    t->n_header = t->n_cells;
    return 0;
}

/* A whole number in [lo, hi]: 0, or -1. */
static int parse_int(const char *s, long lo, long hi, int32_t *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi)
        return -1;
    *out = (int32_t)v;
    return 0;
}

static int take_row(TraceState *t)
{
    if (t->n_cells != t->n_header)
        return fail(t, "not as many cells as the header has columns", -1);
    if (t->overlong)
        return fail(t, "a cell longer than 63 characters", -1);
    TraceRow r = {.prefix_id = -1};
    for (int i = 0; i < t->n_cells; i++) {
        const char *v = t->cells[i];
        int c = t->col_of[i];
        if (c == COL_ARRIVAL) {
            char *end;
            errno = 0;
            r.arrival_s = strtod(v, &end);
            if (!*v || *end || errno || !isfinite(r.arrival_s) || r.arrival_s < 0)
                return fail(t, "expected seconds >= 0", c);
        } else if (c == COL_PREFIX_ID) {
            if (*v && parse_int(v, 0, INT32_MAX, &r.prefix_id))
                return fail(t, "expected an empty cell or a whole number >= 0", c);
        } else {
            int32_t *dst = c == COL_INPUT    ? &r.input
                           : c == COL_OUTPUT ? &r.output
                                             : &r.prefix_tokens;
            long lo = c == COL_PREFIX_TOKENS ? 0 : 1;
            if (c == COL_PREFIX_TOKENS && !*v)
                continue; /* no prefix on this row */
            if (parse_int(v, lo, SERVE_MAX_SEQ_TOKENS / 2, dst))
                return t->failed = ts_err_set(
                           t->err, TS_EINPUT, "%s:%d: %s: expected a whole number from %ld to %d",
                           t->path, t->row_line, COL_NAMES[c], lo, SERVE_MAX_SEQ_TOKENS / 2);
        }
    }
    if (r.prefix_tokens > r.input)
        return fail(t, "longer than input_tokens", COL_PREFIX_TOKENS);
    if (r.prefix_id < 0)
        r.prefix_tokens = 0;
    TrafficGen *g = t->g;
    if (g->n_rows > 0 && r.arrival_s < g->rows[g->n_rows - 1].arrival_s)
        return fail(t, "earlier than the row before (rows must be in arrival order)", COL_ARRIVAL);
    if (g->spec.duration_s > 0 && r.arrival_s >= g->spec.duration_s)
        return 0;
    if (g->n_rows >= TRAFFIC_MAX_TRACE_ROWS)
        return t->failed = ts_err_set(t->err, TS_EINPUT, "%s:%d: more than %ld rows", t->path,
                                      t->row_line, TRAFFIC_MAX_TRACE_ROWS);
    if (g->n_rows == t->cap) {
        long cap = t->cap ? 2 * t->cap : 1024;
        TraceRow *rows = realloc(g->rows, (size_t)cap * sizeof *rows);
        if (!rows)
            return t->failed = ts_err_set(t->err, TS_ENOMEM, "out of memory reading %s", t->path);
        g->rows = rows;
        t->cap = cap;
    }
    g->rows[g->n_rows++] = r;
    return 0;
}

static void on_row(int term, void *ctx)
{
    (void)term;
    TraceState *t = ctx;
    t->row_open = 0;
    if (!t->failed && !(t->n_cells == 1 && t->cells[0][0] == '\0')) {
        if (t->header_done)
            take_row(t);
        else
            take_header(t);
        t->header_done = 1;
    }
    t->n_cells = 0;
    t->overlong = 0;
}

static int read_trace(TrafficGen *g, const char *path, TsErr *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return ts_err_set(err, TS_EIO, "cannot read trace %s: %s", path, strerror(errno));
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
        fclose(f);
        return ts_err_set(err, TS_ENOMEM, "cannot start the CSV parser");
    }
    TraceState t = {.g = g, .path = path, .err = err};
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while (!t.failed && (n = getline(&line, &cap, f)) >= 0) {
        t.line++;
        if (memchr(line, '\0', (size_t)n)) {
            t.row_line = t.line;
            fail(&t, "a NUL byte: not a text CSV file", -1);
            break;
        }
        if (!t.row_open && strspn(line, " \t\r\n") < (size_t)n) {
            t.row_line = t.line;
            t.row_open = 1;
        }
        if (csv_parse(&p, line, (size_t)n, on_cell, on_row, &t) != (size_t)n && !t.failed)
            t.failed =
                ts_err_set(err, TS_EINPUT, "%s:%d: %s", path, t.line, csv_strerror(csv_error(&p)));
    }
    int read_error = ferror(f);
    free(line);
    fclose(f);
    if (!t.failed && read_error)
        t.failed = ts_err_set(err, TS_EIO, "error reading %s", path);
    if (!t.failed && csv_fini(&p, on_cell, on_row, &t) != 0 && !t.failed)
        t.failed = ts_err_set(err, TS_EINPUT, "%s:%d: %s (an unclosed quote?)", path, t.row_line,
                              csv_strerror(csv_error(&p)));
    csv_free(&p);
    if (!t.failed && !t.header_done)
        t.failed = ts_err_set(err, TS_EINPUT,
                              "%s:1: empty trace: expected a header line "
                              "(arrival_s,input_tokens,output_tokens)",
                              path);
    return t.failed;
}

/* ---- generation ------------------------------------------------------------------------------ */

int traffic_new(const TrafficSpec *spec, TrafficGen **out, TsErr *err)
{
    *out = NULL;
    int rc = traffic_check(spec, err);
    if (rc)
        return rc;
    TrafficGen *g = calloc(1, sizeof *g);
    if (!g)
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    g->spec = *spec;
    g->spec.trace_path = NULL;
    g->rng = gsl_rng_alloc(&STREAM_TYPE);
    if (!g->rng) {
        free(g);
        return ts_err_set(err, TS_ENOMEM, "out of memory");
    }
    if (spec->arrivals == TRAFFIC_TRACE) {
        rc = read_trace(g, spec->trace_path, err);
        if (rc) {
            traffic_free(g);
            return rc;
        }
    }
    double sum = 0;
    for (int h = 0; h < 24; h++)
        sum += spec->hourly[h];
    for (int h = 0; h < 24; h++)
        g->hour_rate[h] = spec->rate_per_s * (sum > 0 ? spec->hourly[h] * 24.0 / sum : 1.0);
    g->seg_hour = (int)spec->start_hour;
    g->seg_end = (floor(spec->start_hour) + 1.0 - spec->start_hour) * 3600.0;
    if (sum <= 0 && spec->rate_per_s > 0)
        g->seg_end = HUGE_VAL; /* flat: one segment forever */
    *out = g;
    return 0;
}

void traffic_free(TrafficGen *g)
{
    if (!g)
        return;
    gsl_rng_free(g->rng);
    free(g->rows);
    free(g);
}

double traffic_horizon_s(const TrafficGen *g)
{
    return g->ended ? g->spec.duration_s : g->last_arrival_s;
}

long traffic_made(const TrafficGen *g)
{
    return g->made;
}

static int32_t draw_len(TrafficGen *g, TrafficLen *l, long ordinal, uint32_t slot, double min)
{
    double v = l->value;
    if (l->use_dist) {
        stream_seek(g->rng, g->spec.seed, (uint64_t)ordinal, slot);
        v = dist_draw(&l->dist, g->rng);
    }
    v = nearbyint(v);
    if (!(v >= min))
        v = min;
    return v > SERVE_MAX_SEQ_TOKENS / 2 ? SERVE_MAX_SEQ_TOKENS / 2 : (int32_t)v;
}

/* Clock time at which the cumulative rate reaches operational time g->op. Called only with a
 * positive rate, so some hour of the day has a positive rate and the walk ends within a day. */
static double clock_of_op(TrafficGen *g)
{
    for (;;) {
        double r = g->hour_rate[g->seg_hour];
        double span_op = r * (g->seg_end - g->seg_t);
        if (r > 0 && g->op <= g->seg_op + span_op)
            return g->seg_t + (g->op - g->seg_op) / r;
        g->seg_op += span_op;
        g->seg_t = g->seg_end;
        g->seg_end += 3600.0;
        g->seg_hour = (g->seg_hour + 1) % 24;
    }
}

static void fill_turn(TrafficGen *g, long ordinal, int turn, ServeRequest *r)
{
    uint32_t slot = SLOT_TURN + 3u * (uint32_t)turn;
    int32_t fresh = draw_len(g, &g->spec.input, ordinal, slot, 1);
    r->output_tokens = draw_len(g, &g->spec.output, ordinal, slot + 1, 1);
    int64_t in = (int64_t)r->history_tokens + fresh;
    if (in + r->output_tokens > SERVE_MAX_SEQ_TOKENS)
        in = SERVE_MAX_SEQ_TOKENS - r->output_tokens;
    r->input_tokens = (int32_t)in;
}

int traffic_next(TrafficGen *g, ServeRequest *out)
{
    const TrafficSpec *s = &g->spec;
    if (g->ended || (s->max_requests > 0 && g->ordinal >= s->max_requests))
        return 0;
    memset(out, 0, sizeof *out);
    out->prefix_id = -1;
    out->session = -1;
    out->first_token_s = -1;
    long i = g->ordinal;
    if (s->arrivals == TRAFFIC_TRACE) {
        if (i >= g->n_rows)
            return 0;
        const TraceRow *row = &g->rows[i];
        out->arrival_s = row->arrival_s;
        out->input_tokens = row->input;
        out->output_tokens = row->output;
        out->prefix_id = row->prefix_id;
        out->prefix_tokens = row->prefix_tokens;
    } else {
        stream_seek(g->rng, s->seed, (uint64_t)i, SLOT_GAP);
        double gap = s->arrivals == TRAFFIC_GAMMA
                         ? gsl_ran_gamma(g->rng, 1.0 / (s->cv * s->cv), s->cv * s->cv)
                         : gsl_ran_exponential(g->rng, 1.0);
        g->op += gap;
        double t = s->rate_per_s > 0 ? clock_of_op(g) : HUGE_VAL;
        if (!(t < s->duration_s)) {
            g->ended = 1;
            return 0;
        }
        out->arrival_s = t;
        int prefixed = 0;
        if (s->prefix_tokens > 0 && s->prefix_share > 0) {
            stream_seek(g->rng, s->seed, (uint64_t)i, SLOT_PREFIX);
            prefixed = gsl_rng_uniform(g->rng) < s->prefix_share;
        }
        out->prefix_id = prefixed ? 0 : -1;
        out->prefix_tokens = prefixed ? s->prefix_tokens : 0;
        out->history_tokens = out->prefix_tokens;
        fill_turn(g, i, 0, out);
        out->history_tokens = 0;
        int32_t turns = draw_len(g, &g->spec.turns, i, SLOT_TURNS, 0);
        if (turns > 1)
            out->session = i;
    }
    out->id = g->made++;
    g->ordinal++;
    g->last_arrival_s = out->arrival_s;
    return 1;
}

int traffic_follow(TrafficGen *g, const ServeRequest *prev, double finish_s, ServeRequest *out)
{
    if (prev->session < 0)
        return 0;
    long ordinal = (long)prev->session;
    int32_t turns = draw_len(g, &g->spec.turns, ordinal, SLOT_TURNS, 0);
    int turn = prev->turn + 1;
    if (turn >= turns)
        return 0;
    int64_t history = (int64_t)prev->input_tokens + prev->output_tokens;
    if (history + 2 > SERVE_MAX_SEQ_TOKENS)
        return 0;
    memset(out, 0, sizeof *out);
    out->prefix_id = prev->prefix_id;
    out->prefix_tokens = prev->prefix_tokens;
    out->session = prev->session;
    out->turn = turn;
    out->history_tokens = (int32_t)history;
    out->first_token_s = -1;
    fill_turn(g, ordinal, turn, out);
    if (out->input_tokens <= out->history_tokens)
        return 0; /* the context no longer fits one sequence: the session ends */
    TrafficLen *th = &g->spec.think_s;
    double think = th->value;
    if (th->use_dist) {
        stream_seek(g->rng, g->spec.seed, (uint64_t)ordinal, SLOT_TURN + 3u * (uint32_t)turn + 2);
        think = dist_draw(&th->dist, g->rng);
    }
    out->arrival_s = finish_s + (think > 0 ? think : 0);
    out->id = g->made++;
    return 1;
}
