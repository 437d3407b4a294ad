/* libFuzzer target: the binary loaders of models/: tokensim model files (mf_load), llama2.c
 * checkpoints (l2c_load) and llama2.c tokenizers (tok_load, then encoding a short text). The
 * first input byte picks the loader, the rest is the file. Every input must load or give an
 * error with a message. Built and run by scripts/fuzz.sh (make fuzz). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "models/formats/llama2c.h"
#include "models/formats/modelfile.h"
#include "models/formats/tokenizer.h"
#include "models/engine/weights.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int which = data[0] % 3;
    char path[64];
    snprintf(path, sizeof path, "/tmp/tokensim-fuzz-loader-%d.bin", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (size > 1 && fwrite(data + 1, 1, size - 1, f) != size - 1)
        abort();
    fclose(f);
    TsErr err;
    err.msg[0] = '\0';
    int rc;
    if (which == 0) {
        EngineConfig c;
        Weights w;
        MfMapping map;
        rc = mf_load(path, &c, &w, &map, &err);
        if (rc == 0) {
            wt_fini(&w);
            mf_unmap(&map);
        }
    } else if (which == 1) {
        EngineConfig c;
        Weights w;
        rc = l2c_load(path, &c, &w, &err);
        if (rc == 0)
            wt_fini(&w);
    } else {
        Tokenizer t;
        rc = tok_load(&t, path, 64, &err);
        if (rc == 0) {
            int tokens[64], n = 0;
            TsErr e2;
            (void)tok_encode(&t, "hello world", 1, 1, tokens, 64, &n, &e2);
            char buf[8];
            for (int i = 0; i < n; i++)
                (void)tok_decode(&t, i ? tokens[i - 1] : 1, tokens[i], buf);
            tok_fini(&t);
        }
    }
    if (rc != 0 && !err.msg[0])
        abort();
    unlink(path);
    return 0;
}
