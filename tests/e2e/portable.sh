#!/bin/sh
# End-to-end: the engine's portable kernels (what runs on a CPU without AVX-512, AVX512-BF16 or
# VNNI). Builds the kernel, quantisation, forward and MTP unit tests with AVX-512 switched off
# into build/portable and runs them: the portable paths must meet the same tolerances and
# bit-identity rules as the vector paths this machine uses.
# Prints TAP lines (`ok - ...` / `not ok - ...`, diagnostics as `# ...`).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/tap.inc
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tokensim-e2e-portable.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM

B=build/portable
why=
make -s BUILD=$B CFLAGS=-mno-avx512f $B/tests/test_quant $B/tests/test_kernels_q $B/tests/test_forward $B/tests/test_mtp \
    >"$TMP/make" 2>&1 || addwhy "build failed: $(tail -c 400 "$TMP/make")"
report "the unit tests build with AVX-512 switched off"

for t in test_quant test_kernels_q test_forward test_mtp; do
    why=
    CMOCKA_MESSAGE_OUTPUT=TAP "$B/tests/$t" >"$TMP/$t" 2>&1 || addwhy "$(grep '^not ok' "$TMP/$t")"
    grep -q '^ok ' "$TMP/$t" || addwhy "no test ran: $(head -c 300 "$TMP/$t")"
    report "$t passes on the portable kernels"
done

why=
grep -q "kernel paths: portable portable portable" "$TMP/test_quant" ||
    addwhy "the build did not use the portable paths: $(grep 'kernel paths' "$TMP/test_quant")"
report "the portable build names its kernels portable"

[ "$failed" -eq 0 ]
