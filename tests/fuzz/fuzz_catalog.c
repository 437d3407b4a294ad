/* libFuzzer target: the CSV catalog loader (libcsv, header and required columns, numeric cells,
 * line numbers in messages). The input is written to a temporary file and loaded with a schema
 * like data/chips.csv's. Built and run by scripts/fuzz.sh (make fuzz). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "sim/scenario/catalog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const cols[] = {"name", "source", "as_of", "confidence", "notes",
                                       "bf16_tflops", "hbm_gb", "price_usd"};
    static const char *const nums[] = {"bf16_tflops", "hbm_gb", "price_usd"};
    static const CatSchema schema = {cols, 8, nums, 3};
    char path[64];
    snprintf(path, sizeof path, "/tmp/tokensim-fuzz-catalog-%d.csv", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
    CatTable t;
    TsErr err;
    if (cat_table_load(&t, path, &schema, &err) == 0) {
        for (int r = 0; r < t.n_rows; r++)
            (void)cat_find_row(&t, t.cells[(size_t)r * (size_t)t.n_cols]);
        cat_table_fini(&t);
    } else if (!err.msg[0]) {
        abort();
    }
    unlink(path);
    return 0;
}
