/* rng: the Philox4x32 counter is (sample low, sample high, input, block); each call of the
 * block function yields four 32-bit outputs, handed out in order before the block advances. */
#include "sim/study/rng.h"

#include <Random123/philox.h>
#include <string.h>

typedef struct {
    philox4x32_key_t key;
    philox4x32_ctr_t ctr;
    uint32_t out[4];
    int used; /* outputs of `out` already handed out (4: refill) */
} PhiloxState;

static unsigned long philox_get(void *vstate)
{
    PhiloxState *s = vstate;
    if (s->used == 4) {
        philox4x32_ctr_t r = philox4x32(s->ctr, s->key);
        memcpy(s->out, r.v, sizeof s->out);
        s->ctr.v[3]++;
        s->used = 0;
    }
    return s->out[s->used++];
}

static double philox_get_double(void *vstate)
{
    return (double)philox_get(vstate) / 4294967296.0;
}

static void philox_set(void *vstate, unsigned long seed)
{
    PhiloxState *s = vstate;
    memset(s, 0, sizeof *s);
    s->key.v[0] = (uint32_t)seed;
    s->key.v[1] = (uint32_t)((uint64_t)seed >> 32);
    s->used = 4;
}

static const gsl_rng_type PHILOX_TYPE = {
    "philox4x32-10", 0xFFFFFFFFUL, 0, sizeof(PhiloxState), philox_set, philox_get,
    philox_get_double,
};

gsl_rng *rng_new(uint64_t seed, const char *scenario_name)
{
    gsl_rng *r = gsl_rng_alloc(&PHILOX_TYPE);
    if (!r)
        return NULL;
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a of the name: one stream per scenario */
    for (const unsigned char *p = (const unsigned char *)scenario_name; *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    PhiloxState *s = r->state;
    s->key.v[0] = (uint32_t)seed ^ (uint32_t)h;
    s->key.v[1] = (uint32_t)(seed >> 32) ^ (uint32_t)(h >> 32);
    s->used = 4;
    return r;
}

void rng_seek(gsl_rng *r, uint64_t sample, uint32_t input)
{
    PhiloxState *s = r->state;
    s->ctr.v[0] = (uint32_t)sample;
    s->ctr.v[1] = (uint32_t)(sample >> 32);
    s->ctr.v[2] = input;
    s->ctr.v[3] = 0;
    s->used = 4;
}
