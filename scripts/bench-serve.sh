#!/bin/sh
# The serving simulator's speed (issue 18): builds tests/bench/bench_serve.c against
# build/libtokensim.a (run `make build` first) and prints its Markdown table: one busy
# replica-day, 10^6 requests, and a quarter, half and whole replica-day (cost linear in steps).
# Pinned to one core with taskset when it exists. Usage: sh scripts/bench-serve.sh [day|requests|linear]
set -eu
cd "$(dirname "$0")/.."
[ -f build/libtokensim.a ] || { echo "bench-serve: run 'make build' first" >&2; exit 1; }
out=build/bench/bench_serve
mkdir -p build/bench
${CC:-cc} -std=c11 -D_POSIX_C_SOURCE=200809L -O2 -ffp-contract=off -I. \
    $(pkg-config --cflags gsl 2>/dev/null) tests/bench/bench_serve.c build/libtokensim.a \
    $(pkg-config --libs sqlite3 gsl inih jansson 2>/dev/null) -lcsv -lm -pthread -o "$out"
pin=""
command -v taskset >/dev/null 2>&1 && pin="taskset -c 0"
$pin "$out" "${1:-all}"
