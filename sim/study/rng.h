/* rng: a counter-based random stream (Random123's Philox4x32-10, from Debian's
 * librandom123-dev) wrapped as a GSL generator, so GSL's variates can draw from it. A stream is
 * keyed by (seed, scenario) and positioned by (sample, input): the draws of one sample's input
 * depend on nothing else, so one process or many shards give the same numbers. */
#ifndef TS_SIM_RNG_H
#define TS_SIM_RNG_H

#include <gsl/gsl_rng.h>
#include <stdint.h>

/* A generator keyed by seed and the scenario's name (hashed). Free with gsl_rng_free. NULL when
 * memory runs out. */
gsl_rng *rng_new(uint64_t seed, const char *scenario_name);

/* Positions the stream at the start of (sample, input)'s draws. */
void rng_seek(gsl_rng *r, uint64_t sample, uint32_t input);

#endif
