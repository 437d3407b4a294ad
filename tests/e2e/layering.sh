#!/bin/sh
# End-to-end: the house rules (docs/architecture.md) hold on the tree, and the checker catches
# what it is for: a planted include that points up (render -> study, models -> sim) and library
# code that prints or exits, each in a copy of the tree, each named with FILE:LINE.
# Prints TAP lines (`ok - ...` / `not ok - ...`, diagnostics as `# ...`).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/tap.inc
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tokensim-e2e-layering.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM

why=
sh scripts/layering.sh >"$TMP/out" 2>&1 || addwhy "$(head -c 600 "$TMP/out")"
report "every include follows an allowed arrow and only sim/cli prints or exits"

# A copy of the sources only (the checker reads models/ and sim/).
copy() {
    rm -rf "$TMP/tree"
    mkdir -p "$TMP/tree"
    cp -r models sim scripts "$TMP/tree/"
}

why=
copy
printf '#include "sim/study/question.h"\n' >>"$TMP/tree/sim/render/html.c"
sh "$TMP/tree/scripts/layering.sh" "$TMP/tree" >"$TMP/out" 2>&1 && addwhy "render -> study was not caught"
grep -q '^sim/render/html.c:[0-9]*: sim/render may not include sim/study/question.h' "$TMP/out" ||
    addwhy "no FILE:LINE line for render -> study: $(head -c 300 "$TMP/out")"
report "an include from render up to study is caught with FILE:LINE"

why=
copy
printf '#include "sim/price/cost.h"\n' >>"$TMP/tree/models/engine/pool.c"
sh "$TMP/tree/scripts/layering.sh" "$TMP/tree" >"$TMP/out" 2>&1 && addwhy "models -> sim was not caught"
grep -q '^models/engine/pool.c:[0-9]*: models/engine may not include sim/price/cost.h' "$TMP/out" ||
    addwhy "no FILE:LINE line for models -> sim: $(head -c 300 "$TMP/out")"
report "an include from models/ into sim/ is caught"

why=
copy
printf 'static void shout(void) { printf("hello\\n"); exit(3); }\n' >>"$TMP/tree/sim/price/cost.c"
printf 'static void warn(void) { fprintf(stderr, "x\\n"); }\n' >>"$TMP/tree/sim/store/sql.c"
sh "$TMP/tree/scripts/layering.sh" "$TMP/tree" >"$TMP/out" 2>&1 && addwhy "printing was not caught"
grep -q '^sim/price/cost.c:[0-9]*: library code' "$TMP/out" || addwhy "printf/exit in price not named"
grep -q '^sim/store/sql.c:[0-9]*: library code' "$TMP/out" || addwhy "fprintf(stderr) in store not named"
report "library code that prints or exits is caught"

why=
copy
printf 'static void ok(void) { printf("fine: the program prints\\n"); }\n' >>"$TMP/tree/sim/cli/cli.c"
sh "$TMP/tree/scripts/layering.sh" "$TMP/tree" >"$TMP/out" 2>&1 || addwhy "sim/cli printing was refused: $(head -c 300 "$TMP/out")"
report "sim/cli may print"

[ "$failed" -eq 0 ]
