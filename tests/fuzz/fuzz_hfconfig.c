/* libFuzzer target: the Hugging Face config.json reader (jansson parse, typed field getters,
 * layer rules, shape checks). The input is the JSON text itself, read from memory; every input
 * must load into a shape that passes shape_check or fail with a message. Built and run by
 * scripts/fuzz.sh (make fuzz); seeds are tests/data/hf/ and tests/fuzz/seeds/hfconfig/. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "sim/scenario/hfconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    HfModel m;
    TsErr err;
    err.msg[0] = '\0';
    if (hf_load_text(&m, "fuzz.json", (const char *)data, size, &err) == 0) {
        TsErr check;
        if (shape_check(&m.shape, &check) != 0 || !(m.params_total > 0))
            abort();
        (void)shape_kv_bytes_per_token(&m.shape, 2.0);
    } else if (!err.msg[0] || err.code != TS_EINPUT) {
        abort();
    }
    return 0;
}
