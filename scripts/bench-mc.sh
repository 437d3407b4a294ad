#!/bin/sh
# Monte Carlo benchmark (make bench): times `tokensim run` on the two-fleet shipped scenario
# scenarios/uncertain-power.ini at several sample counts (its sweep and comparison removed, so
# the time is the sampling) and appends a table to BENCHMARKS.md: samples, seconds, samples/s.
set -u
cd "$(dirname "$0")/.." || exit 1
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tokensim-bench-mc.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
out=${1:-BENCHMARKS.md}
{
    echo
    echo "## Monte Carlo (commit \`$(git rev-parse --short HEAD 2>/dev/null || echo unknown)\`, $(date -u +%Y-%m-%d))"
    echo
    echo "\`tokensim run\` on scenarios/uncertain-power.ini (two fleets, eight uncertain inputs;"
    echo "its [sweep] and [compare] removed), wall time of the whole command: parse, sampling,"
    echo "percentiles, tornado, histograms and the database write. Target: a million samples in"
    echo "under 2 s, growing linearly."
    echo
    echo "| samples | seconds | samples/s |"
    echo "|---:|---:|---:|"
} >>"$out"
for n in 100000 500000 1000000 2000000; do
    sed -e "s/^samples = .*/samples = $n/" -e '/^\[sweep\]/,$d' scenarios/uncertain-power.ini \
        >"$TMP/mc.ini"
    t0=$(date +%s.%N)
    ./tokensim run -q --db "$TMP/mc.db" --out "$TMP/out" "$TMP/mc.ini" >/dev/null || exit 1
    t1=$(date +%s.%N)
    awk -v n="$n" -v a="$t0" -v b="$t1" \
        'BEGIN { s = b - a; printf "| %d | %.2f | %.0f |\n", n, s, n / s }' >>"$out"
done
echo "tokensim: appended the Monte Carlo table to $out" >&2
