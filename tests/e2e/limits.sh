#!/bin/sh
# End-to-end: inputs past tokensim's limits get a clear FILE:LINE error and exit 2 before any
# large allocation or long run: a scenario file over 1 MiB, more than 1,000 sections, samples
# above the range or past the 1.6 GB sample memory cap, a sweep of more than 10,000 points, and
# engine model dimensions above the engine's limits. The inputs are generated here (too big to
# keep in tests/bad/). Prints TAP lines.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/tap.inc
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tokensim-e2e-limits.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM
BASE=scenarios/deepseek-day-margin.ini
MC=scenarios/uncertain-power.ini

# expect NAME PATTERN CMD...: exit 2, stderr matching PATTERN, nothing written to the database.
expect() {
    name=$1 pattern=$2
    shift 2
    why=
    "$@" >"$TMP/o" 2>"$TMP/e"
    rc=$?
    [ "$rc" -eq 2 ] || addwhy "exit $rc, want 2"
    grep -q -- "$pattern" "$TMP/e" || addwhy "stderr lacks '$pattern': $(head -c 300 "$TMP/e")"
    [ ! -e "$TMP/x.db" ] || addwhy "a database was written"
    rm -f "$TMP/x.db"*
    report "$name"
}

{ cat "$BASE"; i=0; while [ $i -lt 9000 ]; do
    echo "; padding line $i .............................................................................................................................."
    i=$((i + 1)); done; } >"$TMP/big.ini"
expect "a scenario file over 1 MiB" "big.ini:1: file is larger than 1048576 bytes" \
    "$TS" run --db "$TMP/x.db" --out "$TMP/out" "$TMP/big.ini"

{ cat "$BASE"; i=0; while [ $i -lt 1100 ]; do printf '[chip c%d]\nbf16_tflops = 1\n' $i; i=$((i + 1)); done; } >"$TMP/sections.ini"
expect "more than 1,000 sections" "sections.ini:[0-9]*: more than 1000 sections" \
    "$TS" run --db "$TMP/x.db" --out "$TMP/out" "$TMP/sections.ini"

sed 's/^samples = .*/samples = 1000000000/' "$MC" >"$TMP/samples.ini"
expect "samples above the range" "samples.ini:[0-9]*: samples must be in \[1, 100000000\]" \
    "$TS" run --db "$TMP/x.db" --out "$TMP/out" "$TMP/samples.ini"

sed 's/^samples = .*/samples = 100000000/' "$MC" >"$TMP/memory.ini"
expect "samples past the 1.6 GB sample memory cap" "memory.ini:[0-9]*: samples = 100000000 with 2 fleets would keep" \
    "$TS" run --db "$TMP/x.db" --out "$TMP/out" "$TMP/memory.ini"

{ cat "$BASE"; printf '[sweep]\nover = usd_per_kwh\nvalues = 0.0001..2 step 0.0001\n'; } >"$TMP/sweep.ini"
expect "a sweep of more than 10,000 points" "sweep.ini:[0-9]*: values: .* has 20000 points; at most 10000" \
    "$TS" run --db "$TMP/x.db" --out "$TMP/out" "$TMP/sweep.ini"

printf '[model huge]\nlayers = 1000\nd_model = 100000\nheads = 8\nkv_heads = 2\nffn = 688\nvocab = 32000\nmax_seq = 512\n' >"$TMP/model.ini"
expect "engine model dimensions above the limits" "model.ini:1: model 'huge': dimensions above the engine's limit" \
    "$TS" export --model huge --config "$TMP/model.ini" --out "$TMP/huge.tsm"

[ "$failed" -eq 0 ]
