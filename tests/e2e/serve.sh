#!/bin/sh
# End-to-end: serving under load (issue 18). A small simulated day (an 8B model on H100, an
# office-hours profile) is sized at its peak hour, priced for the day, stored (metric rows of
# part serve, serving_series, latency_histograms) and rendered (a Serving section, plots
# latency_cdf_1 and serving_day_1) the same from the database; a trace with a bad line, an SLO
# no replica count meets, a simulation past the caps and Monte Carlo distributions on a
# simulated fleet are refused with exit 2 and nothing written. A [compare] break-even on the
# electricity price of a simulated fleet is found at its simulated load: the same scenario run
# again at that price gives the baseline's cost; a key that changes what it serves is left
# unknown (NULL), and the conclusion says why.
# Prints TAP lines (`ok - ...` / `not ok - ...`, diagnostics as `# ...`).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/e2e/tap.inc
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tokensim-e2e-serve.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM

scenario() { # $1 = extra [traffic] lines, $2 = extra fleet lines, $3 = extra workload lines
    cat <<INI
[scenario]
name = serve-e2e
hours = 24
seed = 3
[workload]
model = llama-3.1-8b
requests_per_day = 50000
input_tokens_per_request = 600
output_tokens_per_request = 150
ttft_slo_ms = 2000
tpot_slo_ms = 50
$3
[traffic]
diurnal = workday-chat
output_tokens = lognormal(150, 0.5)
$1
[fleet h100]
chip = h100-sxm
throughput = simulate
usd_per_kwh = 0.08
$2
INI
}

why=
scenario "" "" "" >"$TMP/s.ini"
"$TS" run --quiet --db "$TMP/a.db" --out "$TMP/out" "$TMP/s.ini" >"$TMP/o" 2>"$TMP/e" ||
    addwhy "run failed: $(cat "$TMP/e")"
q() { sqlite3 "$TMP/a.db" "$1"; }
reps=$(q "select value from metrics where part = 'serve' and metric = 'replicas'")
[ -n "$reps" ] || addwhy "no replicas row"
[ "$(q "select value from metrics where metric = 'sized_at_peak_hour'")" = "1.0" ] ||
    addwhy "not sized at the peak hour"
req=$(q "select value from metrics where metric = 'requests'")
arr=$(q "select sum(arrivals) from serving_series")
done_=$(q "select sum(completions) from serving_series")
[ "${req%.0}" = "$arr" ] && [ "$arr" = "$done_" ] ||
    addwhy "requests $req, series arrivals $arr, completions $done_: every request arrives and completes once"
chips=$(q "select value from metrics where metric = 'chips'")
cpi=$(q "select value from metrics where metric = 'chips_per_instance'")
awk -v c="$chips" -v r="$reps" -v n="$cpi" 'BEGIN { exit !(c == r * n) }' ||
    addwhy "chips $chips is not replicas $reps x chips per instance $cpi"
p90=$(q "select value from metrics where metric = 'peak_hour_ttft_at_slo_ms'")
awk -v p="$p90" 'BEGIN { exit !(p > 0 && p <= 2000) }' || addwhy "peak-hour P90 TTFT $p90 ms, SLO 2000"
[ "$(q "select count(*) from latency_histograms where latency = 'tpot'")" -gt 0 ] ||
    addwhy "no TPOT histogram"
d=$(ls -d "$TMP"/out/*/)
grep -q "^Serving under load (simulated" "$d/report.md" || addwhy "no Serving section"
grep -q "^| ttft |" "$d/report.md" || addwhy "no latency table"
grep -q "ttft_p90_ms" "$d/metrics.csv" || addwhy "metrics.csv lacks the serve rows"
[ -s "$d/latency_cdf_1.dat" ] && [ -s "$d/serving_day_1.dat" ] || addwhy "serving plots missing"
"$TS" report --db "$TMP/a.db" latest >"$TMP/r" 2>&1 || addwhy "report failed"
cmp -s "$TMP/r" "$d/report.md" || addwhy "report N is not the report.md the run wrote"
report "a simulated day: sized at the peak hour, priced for the day, stored and rendered"

why=
printf 'arrival_s,input_tokens,output_tokens\n0.5,100,20\n1.0,abc,20\n' >"$TMP/trace.csv"
scenario "arrivals = trace
trace = trace.csv" "replicas = 1" "" >"$TMP/t.ini"
sed -i 's/^diurnal = workday-chat$//' "$TMP/t.ini"
"$TS" run --quiet --db "$TMP/t.db" --out "$TMP/outt" "$TMP/t.ini" >"$TMP/o" 2>"$TMP/e"; rc=$?
[ "$rc" -eq 2 ] || addwhy "bad trace: exit $rc, want 2"
grep -q "trace.csv:3:" "$TMP/e" || addwhy "no FILE:LINE for the trace: $(cat "$TMP/e")"
[ -e "$TMP/t.db" ] && addwhy "a database was written"
report "a trace with a bad row is refused with FILE:LINE, nothing written"

why=
scenario "" "max_replicas = 1" "" | sed 's/^requests_per_day = 50000$/requests_per_day = 2000000/; s/^tpot_slo_ms = 50$/tpot_slo_ms = 10/' >"$TMP/slo.ini"
"$TS" run --quiet --db "$TMP/slo.db" --out "$TMP/outs" "$TMP/slo.ini" >"$TMP/o" 2>"$TMP/e"; rc=$?
[ "$rc" -eq 2 ] || addwhy "impossible SLO: exit $rc, want 2: $(cat "$TMP/e")"
grep -q "fleet 'h100': at the peak hour" "$TMP/e" || addwhy "message: $(cat "$TMP/e")"
[ -e "$TMP/slo.db" ] && addwhy "a database was written"
report "an SLO no replica count meets says so, exit 2, nothing written"

why=
scenario "" "replicas = 4000" "" >"$TMP/cap.ini"
"$TS" check "$TMP/cap.ini" >"$TMP/o" 2>"$TMP/e"; rc=$?
[ "$rc" -eq 2 ] || addwhy "past the caps: check exit $rc, want 2"
grep -q "replica-days\|replica-seconds" "$TMP/e" || addwhy "message: $(cat "$TMP/e")"
scenario "" "usd_per_kwh = uniform(0.05, 0.1)" "" | sed '/^usd_per_kwh = 0.08$/d' >"$TMP/mc.ini"
"$TS" check "$TMP/mc.ini" >"$TMP/o" 2>"$TMP/e"; rc=$?
[ "$rc" -eq 2 ] || addwhy "Monte Carlo on a simulated fleet: exit $rc, want 2"
grep -q "takes no Monte Carlo distributions" "$TMP/e" || addwhy "message: $(cat "$TMP/e")"
report "the caps and Monte Carlo on a simulated fleet are refused at check time"

why=
cat >"$TMP/be.ini" <<'INI'
[scenario]
name = be
hours = 24
seed = 7

[workload]
model = llama-3.1-8b
requests_per_day = 2e4
input_tokens_per_request = 500
output_tokens_per_request = 200
ttft_slo_ms = 2000
tpot_slo_ms = 50

[traffic]
diurnal = workday-chat

[fleet a]
chip = h100-sxm
throughput = simulate
usd_per_kwh = 0.05

[fleet b]
chip = h20
throughput = simulate
usd_per_kwh = 0.08

[compare]
baseline = a
breakeven = usd_per_kwh, fleet.eff_memory
breakeven_range = 0.001..5

[question]
kind = breakeven
fleets = a, b
INI
BE=$TMP/be.db
"$TS" run "$TMP/be.ini" --db "$BE" --out "$TMP/be" >/dev/null 2>"$TMP/e" ||
    addwhy "run: exit $?: $(head -c 300 "$TMP/e")"
v=$(sqlite3 "$BE" "select value from metrics where fleet = 'b' and metric = 'breakeven_usd_per_kwh'")
[ -n "$v" ] || addwhy "no break-even electricity price for the simulated fleet"
[ "$(sqlite3 "$BE" "select count(*) from metrics where fleet = 'b' and
      metric = 'breakeven_eff_memory' and value is null")" = 1 ] ||
    addwhy "eff_memory changes the simulation: its break-even should be NULL"
grep -q "The eff_memory at which \`b\` would match is not searched" "$TMP"/be/*/report.md ||
    addwhy "the conclusion does not say why eff_memory was not searched"
sed -e "s/^usd_per_kwh = 0.08/usd_per_kwh = $v/" -e '/^\[compare\]/,$d' "$TMP/be.ini" >"$TMP/be2.ini"
"$TS" run "$TMP/be2.ini" --db "$BE" --out "$TMP/be" >/dev/null 2>"$TMP/e" ||
    addwhy "rerun at the break-even: exit $?: $(head -c 300 "$TMP/e")"
ca=$(sqlite3 "$BE" "select value from metrics where run_id = 2 and fleet = 'a' and
      metric = 'usd_per_m_output' and part = 'fleet'")
cb=$(sqlite3 "$BE" "select value from metrics where run_id = 2 and fleet = 'b' and
      metric = 'usd_per_m_output' and part = 'fleet'")
awk -v a="$ca" -v b="$cb" 'BEGIN { d = b / a - 1; exit !(a > 0 && d < 1e-6 && d > -1e-6) }' ||
    addwhy "at the break-even price b costs $cb, a $ca"
report "break-evens of a simulated fleet are found at its simulated load"

[ "$failed" -eq 0 ]
