/* libFuzzer target: the scenario parser (sections, keys, catalog references, distribution
 * expressions such as normal(1, 0.2) or choice(...)), then pricing every fleet it accepts. Any
 * input must give 0 or an error with a message: never a crash, a leak or undefined behaviour.
 * Built and run by scripts/fuzz.sh (make fuzz); catalogs come from ./data. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "sim/price/evaluate.h"
#include "sim/scenario/scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ScnCatalogs cats;
    static int loaded = 0;
    TsErr err;
    if (!loaded) {
        if (scn_catalogs_load(&cats, "data", &err)) {
            fprintf(stderr, "fuzz_scenario: %s (run from the repository root)\n", err.msg);
            abort();
        }
        loaded = 1;
    }
    Scenario s;
    if (scn_load_text(&s, "fuzz.ini", (const char *)data, size, &cats, &err) == 0) {
        for (int i = 0; i < s.n_fleets; i++) {
            FleetResult r;
            (void)eval_fleet(&s, &s.fleets[i], &r, &err);
        }
        scn_fini(&s);
    } else if (!err.msg[0]) {
        abort(); /* an error must say what was wrong */
    }
    return 0;
}
