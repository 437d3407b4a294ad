#!/bin/sh
# End-to-end: this machine's calibrated step model in scenarios (issue 19): after a short
# measure run and `tokensim calibrate`, a `throughput = measured` fleet with
# `step_model = calibrated` is priced at the calibration's steady state (tokens/s from
# "calibration N", decode tokens/s = batch / step time, a preset that was never measured
# works), and a `throughput = simulate` fleet on chip = this-machine serves its [traffic] with
# the calibrated steps (serving metric rows, the report names the calibration). Bad bindings
# are FILE:LINE errors with exit 2 and no run stored: no profile at the thread count, an
# unknown calibration id, a model that is not an engine preset, a TPOT SLO even batch 1 misses.
# Prints TAP lines (`ok - ...` / `not ok - ...`, diagnostics as `# ...`).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/tap.inc
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tokensim-e2e-calibrated.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM
q() { sqlite3 "$DB" "$1" 2>&1; }
DB=$TMP/m.db

why=
"$TS" measure --model dense-15m --model moe-15m-total --prompt 8 --gen 2 --batch 1,2,3,4 \
    --repeat 1 --threads 1 --meter modeled --db "$DB" --out "$TMP/out" >/dev/null 2>"$TMP/e" ||
    addwhy "measure: exit $?: $(head -c 300 "$TMP/e")"
"$TS" calibrate --db "$DB" >/dev/null 2>"$TMP/e" || addwhy "calibrate: exit $?: $(cat "$TMP/e")"
report "a short measure run and its calibration"

# scenario FILE [EXTRA-FLEET-LINES]: a measured + calibrated fleet and a simulated one
scenario() {
    cat >"$1" <<EOT
[scenario]
name = here
hours = 1
seed = 3

[workload]
model = dense-15m
requests_per_day = 20000
input_tokens_per_request = 48
output_tokens_per_request = 16
ttft_slo_ms = 2000
tpot_slo_ms = ${TPOT:-100}

[traffic]
input_tokens = 48
output_tokens = 16

[fleet here-measured]
chip = this-machine
throughput = measured
step_model = calibrated
model = ${MODEL:-moe-15m-active}
price_usd = 1500
usd_per_kwh = 0.08
${2:-}

[fleet here-sim]
chip = this-machine
throughput = simulate
price_usd = 1500
usd_per_kwh = 0.08
max_num_seqs = 8
EOT
}

why=
scenario "$TMP/s.ini"
"$TS" run "$TMP/s.ini" --db "$DB" --out "$TMP/r" >"$TMP/o" 2>"$TMP/e" ||
    addwhy "run: exit $?: $(head -c 400 "$TMP/e")"
run=$(q "select max(id) from runs where kind = 'scenario' and status = 'done'")
[ -n "$run" ] || addwhy "no finished run"
v=$(q "select origin from run_inputs where run_id = $run and fleet = 'here-measured'
       and key = 'decode_tok_s_per_chip'")
[ "$v" = "calibration 1" ] || addwhy "decode tokens/s from '$v', expected 'calibration 1'"
# decode tokens/s per chip = batch / step time of the calibrated steady state
v=$(q "select abs(d.value / (1000.0 * b.value / t.value) - 1) < 1e-9 from metrics d, metrics b,
       metrics t where d.run_id = $run and b.run_id = $run and t.run_id = $run
       and d.fleet = 'here-measured' and b.fleet = d.fleet and t.fleet = d.fleet
       and d.metric = 'decode_tok_s_per_chip' and b.metric = 'batch' and t.metric = 'tpot_ms'
       and d.part = 'fleet' and b.part = 'fleet' and t.part = 'fleet'")
[ "$v" = 1 ] || addwhy "decode tokens/s is not batch / step: '$v'"
v=$(q "select count(*) from metrics where run_id = $run and fleet = 'here-sim'
       and part = 'serve' and metric = 'ttft_p90_ms' and value > 0")
[ "$v" = 1 ] || addwhy "no simulated TTFT P90 row for here-sim: '$v'"
md=$(ls "$TMP"/r/*/report.md 2>/dev/null | head -1)
grep -q "^Calibrated step model: calibration 1 (" "$md" 2>/dev/null ||
    addwhy "report lacks the calibration line"
# the replicas depend on this machine's speed (a sanitizer build is slower): one chip each
grep -Eq "Serving under load \(simulated, \`\[traffic\]\`\): [0-9]+ replicas? of 1 chip," "$md" \
    2>/dev/null || addwhy "report: $(grep -m1 'Serving under load' "$md")"
report "calibrated fleets: measured at the steady state, simulated with calibrated steps"

# bad bindings: FILE:LINE, exit 2, no new run
bad() {
    want=$1
    shift
    n0=$(q "select count(*) from runs")
    "$TS" run "$TMP/b.ini" --db "$DB" --out "$TMP/r" >/dev/null 2>"$TMP/e"
    rc=$?
    [ "$rc" -eq 2 ] || addwhy "$want: exit $rc"
    grep -q "$want" "$TMP/e" || addwhy "stderr: $(cat "$TMP/e")"
    [ "$(q "select count(*) from runs")" = "$n0" ] || addwhy "$want: a run was stored"
}
why=
scenario "$TMP/b.ini" "measured_threads = 2"
bad "b.ini:18: fleet 'here-measured': step_model = calibrated needs a calibration at 2 threads"
scenario "$TMP/b.ini" "calibration = 99"
bad "b.ini:25: fleet 'here-measured': there is no calibration 99 in the database"
MODEL=llama-3.1-8b scenario "$TMP/b.ini"
bad "b.ini:18: fleet 'here-measured': step_model = calibrated times the engine's own steps: model 'llama-3.1-8b' must be an engine preset"
TPOT=0.01 scenario "$TMP/b.ini"
bad "b.ini:18: fleet 'here-measured': calibration 1: even batch 1 misses tpot_slo_ms = 0.01"
report "bad calibrated bindings are FILE:LINE errors (exit 2, nothing stored)"

exit $((failed > 0))
