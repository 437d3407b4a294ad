#!/bin/sh
# `make bench`: the calibrated step-time model (issue 19). A measure run of a dense and a MoE
# preset at two sizes, fp32 and int8, batches 1 to 16 (one thread: the machine is shared), then
# `tokensim calibrate`; appends each profile with its residuals to FILE (BENCHMARKS.md) and the
# held-out median |error| over every profile against the target of 10%. Then the closed loop
# under load: `validate --serving` (dense-15m and moe-15m-active at 30/60/90% of capacity, the
# real engine against the simulator with the calibration) against the target of 15%.
# Usage: scripts/bench-calibrate.sh FILE
set -eu
cd "$(dirname "$0")/.."
out=${1:-BENCHMARKS.md}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tokensim-bench-cal.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
./tokensim measure --model dense-15m --model moe-15m-active --model dense-110m \
    --model moe-110m-total --precision fp32,int8 --batch 1,2,4,8,16 --threads 1 --repeat 5 \
    --meter modeled --db "$tmp/c.db" --out "$tmp/out" >/dev/null 2>"$tmp/err"
./tokensim calibrate --db "$tmp/c.db" >"$tmp/cal.md"
held=$(sqlite3 "$tmp/c.db" "select abs(measured_s / predicted_s - 1) from calibration_residuals
                             where held_out = 1 order by 1" |
    awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
                              printf "%.1f", 100 * m }')
verdict=$(awk -v h="$held" 'BEGIN { print (h <= 10 ? "met" : "NOT met") }')
{
    echo
    echo "## The step-time model calibrated to this machine (tokensim calibrate)"
    echo
    echo "A measure run (dense-15m, moe-15m-active, dense-110m, moe-110m-total; fp32 and int8;"
    echo "batches 1, 2, 4, 8, 16; 1 thread; median of 5 repeats), then \`tokensim calibrate\`: one"
    echo "profile per precision fitted on batches 1, 4, 16 of each model and phase, batches 2 and 8"
    echo "held out. Target: held-out median |error| <= 10% over every held-out configuration:"
    echo "**${held}%, ${verdict}**."
    sed 's/^#/##/' "$tmp/cal.md" | sed -n '/^## /,$p' | sed '1d' | grep -v 'calibration [0-9]*:'
} >>"$out"
./tokensim validate --serving --db "$tmp/c.db" --duration 20 --out "$tmp/out" |
    grep -v '^\(report\|plots\|database\): ' >"$tmp/serving.md"
loop=$(sed -n 's/^median |error| of the simulation over [0-9]* figures: \([0-9.]*\)%$/\1/p' \
    "$tmp/serving.md")
verdict=$(awk -v h="$loop" 'BEGIN { print (h <= 15 ? "met" : "NOT met") }')
{
    echo
    echo "## The closed loop under load (tokensim validate --serving)"
    echo
    echo "The real engine serves Poisson traffic (64 + 32 tokens, 20 s of arrivals, 1 thread) at 30%,"
    echo "60% and 90% of the capacity a burst measured; the simulator runs the same requests through"
    echo "the same scheduler with the calibration above. Target: median |error| <= 15% over P50/P90"
    echo "TTFT and TPOT and throughput: **${loop}%, ${verdict}**."
    sed -n '/^## /,$p' "$tmp/serving.md" | sed 's/^## /### /'
    echo
    echo "Reading it: below capacity the throughput is set by the arrivals, so its errors are near 0"
    echo "by construction and flatter the median; the latency figures alone are the harder test."
    echo "At 90% a small error in the step time is a large one in the queue, so TTFT there misses"
    echo "most. The calibration's worst rows are int8 decodes of the 15M models at batch 1 and 2:"
    echo "their 15 MB of weights stay in the L3 cache, faster than the one bandwidth the fit has."
} >>"$out"
echo "bench-calibrate: held-out median |error| ${held}%, serving loop ${loop}% (appended to $out)"
